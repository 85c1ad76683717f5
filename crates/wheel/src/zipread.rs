/// One member of the archive, from the central directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub size: u64,
    pub compressed_size: u64,
    /// Unix mode bits from the external attributes, if recorded.
    pub unix_mode: Option<u32>,
}

/// An open wheel. Construction validates the archive (see `open`).
pub struct Wheel {}
