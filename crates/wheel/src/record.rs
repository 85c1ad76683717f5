/// One row of RECORD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntry {
    pub path: String,
    /// `(algorithm, urlsafe-base64-nopad digest)`, `None` for RECORD itself and signatures.
    pub hash: Option<(String, String)>,
    pub size: Option<u64>,
}

/// A parsed RECORD file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub entries: Vec<RecordEntry>,
}
