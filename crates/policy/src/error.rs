/// Why policy data or a tag could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid policy data: {0}")]
    Data(String),
    #[error("unknown architecture {0:?} (known: x86_64, i686, aarch64, armv7l, ppc64, ppc64le, s390x, riscv64, loongarch64)")]
    UnknownArch(String),
    #[error("invalid platform tag {0:?}")]
    Tag(String),
}
