//! Platform policies (PEP 513, 571, 599, 600, 656): embedded policy data, the per-architecture
//! facts, and the platform-tag algebra.

mod arch;
mod error;
mod policy;
mod tag;

pub use arch::Arch;
pub use error::Error;
pub use policy::{Libc, Policy, PolicySet};
pub use tag::PlatformTag;
