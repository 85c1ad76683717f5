//! Audit wheels against the manylinux/musllinux policies: resolve each ELF member's libraries
//! inside a target root, decide the most compatible platform tag as the reference tool does, and
//! explain why every more compatible tag is missed.

mod abi3;
mod analyze;
mod lddtree;
mod report;
mod root;

pub use analyze::{audit_wheel, host_target, AuditOptions};
pub use lddtree::{compatible, DepTree, Loaded, Location, Resolver};
pub use report::{
    Abi3Report, ElfSummary, FileSymbols, Limits, Reason, Upgrade, WheelReport, WhyNot,
};
pub use root::Root;

/// Why an audit could not be done.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Wheel(#[from] manywheel_wheel::Error),
    #[error("{wheel}: member {member}: {source}")]
    Elf {
        wheel: String,
        member: String,
        source: manywheel_elf::Error,
    },
    #[error(transparent)]
    Policy(#[from] manywheel_policy::Error),
    #[error("{wheel}: shared libraries in purelib ({}); a wheel with compiled code must be platlib", files.join(", "))]
    Purelib { wheel: String, files: Vec<String> },
    #[error("{wheel}: {file} is an ELF file of an architecture no policy knows")]
    UnknownArch { wheel: String, file: String },
    #[error("{wheel}: the file name says {arch} but no ELF file of that architecture is inside")]
    NoElfForArch { wheel: String, arch: String },
    #[error("{path}: {reason}")]
    Input { path: String, reason: String },
}
