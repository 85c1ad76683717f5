use std::path::PathBuf;

/// Why a wheel could not be read. Every variant names the offending file or member.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid wheel file name {name:?}: {reason}")]
    Filename { name: String, reason: String },
    #[error("{path}: not a zip archive: {reason}")]
    NotZip { path: PathBuf, reason: String },
    #[error("{path}: corrupt zip archive: {reason}")]
    CorruptZip { path: PathBuf, reason: String },
    #[error("{path}: unsafe member name {member:?}: {reason}")]
    UnsafeMember {
        path: PathBuf,
        member: String,
        reason: String,
    },
    #[error("{path}: duplicate member {member:?}")]
    DuplicateMember { path: PathBuf, member: String },
    #[error("{path}: {reason}")]
    Metadata { path: PathBuf, reason: String },
    #[error("{path}: RECORD mismatch for {member:?}: {reason}")]
    RecordMismatch {
        path: PathBuf,
        member: String,
        reason: String,
    },
}
