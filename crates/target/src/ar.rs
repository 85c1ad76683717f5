//! A streaming reader of Unix `ar` archives (the common format: `!<arch>\n` magic, 60-byte
//! member headers, data padded to an even offset), enough for `.deb` files. GNU `/` name
//! terminators are accepted; BSD `#1/` long names and symbol tables are accepted too.

use std::io::{self, Read};

use crate::Error;

const MAGIC: &[u8; 8] = b"!<arch>\n";
const HEADER_LEN: usize = 60;

/// Reads members one after another from any `Read`.
pub struct ArReader<R: Read> {
    inner: R,
    /// Bytes of the current member not yet consumed, plus its padding byte.
    remaining: u64,
    pad: bool,
    started: bool,
    what: String,
}

/// Header of one member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub size: u64,
}

impl<R: Read> ArReader<R> {
    /// `what` names the archive in error messages.
    pub fn new(inner: R, what: impl Into<String>) -> Self {
        ArReader {
            inner,
            remaining: 0,
            pad: false,
            started: false,
            what: what.into(),
        }
    }

    fn truncated(&self, context: &str) -> Error {
        Error::Archive(format!("{}: truncated ar archive ({context})", self.what))
    }

    /// Advance to the next member; `None` at the end of the archive. The member's data is then
    /// read through [`ArReader::data`] (unread data is skipped by the next call).
    pub fn next_member(&mut self) -> Result<Option<Member>, Error> {
        if !self.started {
            let mut magic = [0u8; 8];
            read_full(&mut self.inner, &mut magic).map_err(|e| self.io(e))?;
            if &magic != MAGIC {
                return Err(Error::Archive(format!(
                    "{}: not an ar archive (bad magic)",
                    self.what
                )));
            }
            self.started = true;
        }
        let skip = self.remaining + u64::from(self.pad);
        if skip > 0 {
            let copied = io::copy(&mut (&mut self.inner).take(skip), &mut io::sink())
                .map_err(|e| self.io(e))?;
            // A missing final padding byte is tolerated (some writers omit it at the end).
            if copied < self.remaining {
                return Err(self.truncated("member data"));
            }
        }
        self.remaining = 0;
        self.pad = false;
        let mut header = [0u8; HEADER_LEN];
        let n = read_up_to(&mut self.inner, &mut header).map_err(|e| self.io(e))?;
        if n == 0 {
            return Ok(None);
        }
        if n == 1 && header[0] == b'\n' {
            // Stray padding at the very end.
            return Ok(None);
        }
        if n < HEADER_LEN {
            return Err(self.truncated("member header"));
        }
        if &header[58..60] != b"`\n" {
            return Err(Error::Archive(format!(
                "{}: corrupt ar member header",
                self.what
            )));
        }
        let field = |r: std::ops::Range<usize>| {
            String::from_utf8_lossy(&header[r])
                .trim_end_matches(' ')
                .to_string()
        };
        let size: u64 = field(48..58)
            .trim()
            .parse()
            .map_err(|_| Error::Archive(format!("{}: bad member size in ar header", self.what)))?;
        let mut name = field(0..16);
        self.remaining = size;
        self.pad = size % 2 == 1;
        if let Some(len) = name.strip_prefix("#1/") {
            // BSD: the name is stored at the start of the data.
            let len: u64 = len
                .trim()
                .parse()
                .map_err(|_| Error::Archive(format!("{}: bad BSD ar long name", self.what)))?;
            if len > size || len > 4096 {
                return Err(Error::Archive(format!(
                    "{}: bad BSD ar long name",
                    self.what
                )));
            }
            let mut buf = vec![0u8; len as usize];
            read_full(&mut self.inner, &mut buf).map_err(|e| self.io(e))?;
            self.remaining -= len;
            name = String::from_utf8_lossy(&buf)
                .trim_end_matches('\0')
                .to_string();
        } else if name != "/" && name != "//" {
            if let Some(stripped) = name.strip_suffix('/') {
                name = stripped.to_string();
            }
        }
        Ok(Some(Member {
            name,
            size: self.remaining,
        }))
    }

    /// A reader of the current member's data. Reading past the member's end yields EOF; the
    /// archive ending early is an `UnexpectedEof` error.
    pub fn data(&mut self) -> MemberData<'_, R> {
        MemberData { ar: self }
    }

    fn io(&self, e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            self.truncated("unexpected end")
        } else {
            Error::Io(format!("{}: {e}", self.what))
        }
    }
}

/// Reader for one member's bytes.
pub struct MemberData<'a, R: Read> {
    ar: &'a mut ArReader<R>,
}

impl<R: Read> Read for MemberData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ar.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.ar.remaining).unwrap_or(usize::MAX));
        let n = self.ar.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated ar member (the archive ends early)",
            ));
        }
        self.ar.remaining -= n as u64;
        Ok(n)
    }
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<()> {
    if read_up_to(r, buf)? < buf.len() {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Build an ar archive (GNU style names) for tests.
    pub(crate) fn build(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for (name, data) in members {
            let header = format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                name,
                0,
                0,
                0,
                "100644",
                data.len()
            );
            assert_eq!(header.len(), HEADER_LEN);
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let mut ar = ArReader::new(bytes, "test.a");
        let mut out = Vec::new();
        while let Some(m) = ar.next_member()? {
            let mut data = Vec::new();
            ar.data()
                .read_to_end(&mut data)
                .map_err(|e| Error::Archive(e.to_string()))?;
            out.push((m.name, data));
        }
        Ok(out)
    }

    #[test]
    fn reads_members_with_padding() {
        let bytes = build(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar.xz/", b"odd"),
            ("data.tar.xz", b"0123456789"),
        ]);
        let got = read_all(&bytes).unwrap();
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["debian-binary", "control.tar.xz", "data.tar.xz"]);
        assert_eq!(got[1].1, b"odd");
        assert_eq!(got[2].1, b"0123456789");
    }

    #[test]
    fn skips_unread_members() {
        let bytes = build(&[("a", b"xyz"), ("b", b"12")]);
        let mut ar = ArReader::new(&bytes[..], "t");
        assert_eq!(ar.next_member().unwrap().unwrap().name, "a");
        let m = ar.next_member().unwrap().unwrap();
        assert_eq!((m.name.as_str(), m.size), ("b", 2));
        assert!(ar.next_member().unwrap().is_none());
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        let bytes = build(&[("a", b"0123456789"), ("b", b"xx")]);
        for cut in [3, 30, 70, bytes.len() - 1] {
            let err = read_all(&bytes[..cut]);
            assert!(err.is_err(), "cut at {cut} accepted");
        }
        assert!(read_all(b"PK\x03\x04 not ar").is_err());
        let mut bad = bytes.clone();
        bad[8 + 58] = b'X';
        assert!(read_all(&bad).unwrap_err().to_string().contains("corrupt"));
    }
}
