/// Why an ELF file could not be read.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("not an ELF file")]
    NotElf,
    #[error("truncated ELF file: {0}")]
    Truncated(&'static str),
    #[error("malformed ELF file: {0}")]
    Malformed(String),
}
