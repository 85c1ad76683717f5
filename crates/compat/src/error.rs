use std::path::PathBuf;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a readable ELF file: {msg}")]
    Elf { path: PathBuf, msg: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{path}: {msg}")]
    Unrecognized { path: PathBuf, msg: String },
    #[error("bad date {0:?}: expected YYYY-MM-DD")]
    Date(String),
    #[error("distribution table line {line}: {msg}")]
    Table { line: usize, msg: String },
    #[error("{0}")]
    Input(String),
}
