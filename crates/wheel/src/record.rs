use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::Digest as _;

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

/// The RECORD digest of `bytes`: SHA-256, urlsafe base64 without padding (the part after
/// `sha256=`).
pub fn hash_digest(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(bytes))
}

impl Record {
    /// Parses RECORD as CSV (`path,hash,size`, RFC 4180 quoting: fields may be quoted, quotes
    /// inside doubled; `\n` or `\r\n` line ends). Blank lines are skipped. Every row must have
    /// exactly three fields; the hash is empty or `algorithm=digest`; the size is empty or a
    /// decimal integer. On error the reason (with line number) is returned.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut entries = Vec::new();
        for (line_no, fields) in csv_rows(text)? {
            if fields.len() == 1 && fields[0].is_empty() {
                continue;
            }
            let [path, hash, size]: [String; 3] = fields.try_into().map_err(|f: Vec<String>| {
                format!("line {line_no}: expected 3 fields, found {}", f.len())
            })?;
            if path.is_empty() {
                return Err(format!("line {line_no}: empty path"));
            }
            let hash = if hash.is_empty() {
                None
            } else {
                let (algo, digest) = hash.split_once('=').ok_or_else(|| {
                    format!("line {line_no}: hash {hash:?} is not of the form algorithm=digest")
                })?;
                if algo.is_empty() || digest.is_empty() {
                    return Err(format!(
                        "line {line_no}: hash {hash:?} is not of the form algorithm=digest"
                    ));
                }
                Some((algo.to_string(), digest.to_string()))
            };
            let size = if size.is_empty() {
                None
            } else {
                Some(
                    size.parse::<u64>()
                        .map_err(|_| format!("line {line_no}: invalid size {size:?}"))?,
                )
            };
            entries.push(RecordEntry { path, hash, size });
        }
        Ok(Record { entries })
    }

    /// The row for `path`, if any (first match; linear search).
    pub fn get(&self, path: &str) -> Option<&RecordEntry> {
        self.entries.iter().find(|e| e.path == path)
    }
}

/// Writes RECORD as CSV with `\n` line ends, quoting fields that need it.
impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            write_csv_field(f, &e.path)?;
            f.write_str(",")?;
            if let Some((algo, digest)) = &e.hash {
                write_csv_field(f, &format!("{algo}={digest}"))?;
            }
            f.write_str(",")?;
            if let Some(size) = e.size {
                write!(f, "{size}")?;
            }
            f.write_str("\n")?;
        }
        Ok(())
    }
}

fn write_csv_field(f: &mut fmt::Formatter<'_>, field: &str) -> fmt::Result {
    if field.contains([',', '"', '\n', '\r']) || field.starts_with('\u{feff}') {
        write!(f, "\"{}\"", field.replace('"', "\"\""))
    } else {
        f.write_str(field)
    }
}

/// Splits CSV text into rows of fields, each with the 1-based line number it starts on.
fn csv_rows(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut rows = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut row_line = 1;
    let mut chars = text.chars().peekable();
    // Whether the current field started with a quote and the closing quote was seen.
    let mut quoted_done = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if field.is_empty() && !quoted_done => {
                // Quoted field: read to the closing quote.
                loop {
                    match chars.next() {
                        None => return Err(format!("line {row_line}: unterminated quoted field")),
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(ch) => {
                            if ch == '\n' {
                                line += 1;
                            }
                            field.push(ch);
                        }
                    }
                }
                quoted_done = true;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                quoted_done = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                rows.push((row_line, std::mem::take(&mut fields)));
                quoted_done = false;
                line += 1;
                row_line = line;
            }
            _ if quoted_done => {
                return Err(format!(
                    "line {line}: unexpected {c:?} after the closing quote of a field"
                ))
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !fields.is_empty() || quoted_done {
        fields.push(field);
        rows.push((row_line, fields));
    }
    Ok(rows)
}

/// A streaming hasher for the algorithms RECORD may use.
pub(crate) enum RecordHasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl RecordHasher {
    /// `None` for algorithms the wheel spec does not allow (md5, sha1) or unknown ones.
    pub(crate) fn new(algorithm: &str) -> Option<Self> {
        match algorithm {
            "sha256" => Some(Self::Sha256(sha2::Sha256::new())),
            "sha384" => Some(Self::Sha384(sha2::Sha384::new())),
            "sha512" => Some(Self::Sha512(sha2::Sha512::new())),
            _ => None,
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    /// The urlsafe-base64-nopad digest.
    pub(crate) fn finish(self) -> String {
        match self {
            Self::Sha256(h) => URL_SAFE_NO_PAD.encode(h.finalize()),
            Self::Sha384(h) => URL_SAFE_NO_PAD.encode(h.finalize()),
            Self::Sha512(h) => URL_SAFE_NO_PAD.encode(h.finalize()),
        }
    }
}
