//! The installer side of portable Linux wheels.
//!
//! - [`tags`]: the platform tags an installer accepts on a system, in `packaging`'s order;
//!   [`detect`]: the system's C library, its version and architecture, read from its files
//!   (host or sysroot) without running anything.
//! - [`distro`]: an embedded, sourced table of Linux distributions: C library, architectures,
//!   release and end-of-life dates.
//! - [`coverage`]: which distributions a set of wheels reaches, and which fall back to
//!   building from source.
//! - [`policies`]: what a policy allows, how two differ, and which distributions lose binary
//!   wheels when a project moves its baseline.
//! - [`svg`]: a timeline picture of distributions' lifetimes against the libc versions tags
//!   need.

pub mod coverage;
mod date;
pub mod detect;
pub mod distro;
mod error;
pub mod policies;
pub mod svg;
pub mod tags;

pub use date::Date;
pub use error::Error;
