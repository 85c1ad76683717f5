//! A read-only zip reader over positioned reads, plus the wheel-level checks done at open.
//!
//! Only the central directory (and the small `WHEEL`/`RECORD` files) is kept in memory; member
//! data is read with `pread` on demand, so a [`Wheel`] can be shared between threads and each
//! read costs memory only for the member being read.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crc32fast::Hasher as Crc;
use flate2::{Decompress, FlushDecompress, Status};

use crate::filename::{normalize_name, normalize_version};
use crate::record::RecordHasher;
use crate::{Error, Record, RecordEntry, WheelFilename, WheelMetadata};

/// Members larger than this (uncompressed) are refused by [`Wheel::read_member`].
pub const MAX_MEMBER_SIZE: u64 = 4 << 30;

const SIG_LOCAL: u32 = 0x0403_4b50;
const SIG_CENTRAL: u32 = 0x0201_4b50;
const SIG_EOCD: u32 = 0x0605_4b50;
const SIG_ZIP64_EOCD: u32 = 0x0606_4b50;
const SIG_ZIP64_LOCATOR: u32 = 0x0706_4b50;
const EOCD_LEN: usize = 22;
const LOCAL_HEADER_LEN: u64 = 30;
const CENTRAL_HEADER_LEN: usize = 46;
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATE: u16 = 8;
/// Compressed bytes read per `pread` while inflating a whole member.
const INPUT_CHUNK: usize = 256 * 1024;
/// Inflated bytes handed on at a time.
const OUTPUT_CHUNK: usize = 256 * 1024;
/// Stored bytes read (and hashed) per `pread`.
const STORED_CHUNK: usize = 1024 * 1024;
/// DEFLATE cannot expand by more than about 1032:1.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// One member of the archive, from the central directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub size: u64,
    pub compressed_size: u64,
    /// Unix mode bits from the external attributes, if recorded.
    pub unix_mode: Option<u32>,
}

impl Member {
    /// Whether this is a directory entry (name ends in `/`).
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }
}

/// Where a member's data is and how it is encoded (private: parallel to `members`).
#[derive(Debug, Clone)]
struct Entry {
    method: u16,
    flags: u16,
    crc32: u32,
    header_offset: u64,
}

/// How a member is stored, as [`Wheel::copy_raw`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawMember {
    /// Zip compression method (0 stored, 8 deflate).
    pub method: u16,
    pub crc32: u32,
    pub size: u64,
    pub compressed_size: u64,
}

/// An open wheel. Construction validates the archive (see `open`).
///
/// `Wheel` is `Send + Sync`: member reads use positioned reads on a shared file handle and keep
/// no state between calls, so [`Wheel::read_member`] may be called from many threads at once.
#[derive(Debug)]
pub struct Wheel {
    path: PathBuf,
    file: File,
    filename: WheelFilename,
    members: Vec<Member>,
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    /// Offset of the central directory: member data must end at or before it.
    data_end: u64,
    dist_info: String,
    metadata: WheelMetadata,
    record: Record,
    record_index: HashMap<String, usize>,
}

/// What `extract` should do with the bytes it inflates.
struct Sinks<'a> {
    hasher: Option<&'a mut RecordHasher>,
    crc: Option<&'a mut Crc>,
}

impl Sinks<'_> {
    fn feed(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(h) = self.hasher.as_deref_mut() {
            h.update(bytes);
        }
        if let Some(c) = self.crc.as_deref_mut() {
            c.update(bytes);
        }
    }
}

impl Wheel {
    /// Opens and validates a wheel without extracting it.
    ///
    /// Checks, in order: the file name parses as a wheel name; the file is a zip archive
    /// (end record, zip64 records, central directory all consistent); member names are safe
    /// (not absolute, no `..` components with `/` or `\` separators, no NUL) and unique;
    /// member data ranges do not overlap; exactly one `.dist-info` directory matches the
    /// name and version; its `RECORD` and `WHEEL` exist and parse, `WHEEL` matches its RECORD
    /// row and has a supported `Wheel-Version`; every RECORD row names a member
    /// ([`Wheel::verify_record_listing`]).
    pub fn open(path: &Path) -> Result<Wheel, Error> {
        let base = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let filename = WheelFilename::parse(&base)?;
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let (members, entries, data_end) = read_central_directory(path, &file)?;

        let mut index = HashMap::with_capacity(members.len());
        for (i, m) in members.iter().enumerate() {
            if let Err(reason) = check_member_name(&m.name) {
                return Err(Error::UnsafeMember {
                    path: path.to_path_buf(),
                    member: m.name.clone(),
                    reason,
                });
            }
            if index.insert(m.name.clone(), i).is_some() {
                return Err(Error::DuplicateMember {
                    path: path.to_path_buf(),
                    member: m.name.clone(),
                });
            }
        }
        check_overlaps(path, &members, &entries, data_end)?;

        let dist_info = find_dist_info(path, &filename, &members)?;
        let mut wheel = Wheel {
            path: path.to_path_buf(),
            file,
            filename,
            members,
            entries,
            index,
            data_end,
            dist_info,
            metadata: WheelMetadata::default(),
            record: Record::default(),
            record_index: HashMap::new(),
        };

        let meta_err = |reason: String| Error::Metadata {
            path: path.to_path_buf(),
            reason,
        };
        let record_name = format!("{}/RECORD", wheel.dist_info);
        if !wheel.index.contains_key(&record_name) {
            return Err(meta_err(format!("missing {record_name}")));
        }
        let wheel_name = format!("{}/WHEEL", wheel.dist_info);
        if !wheel.index.contains_key(&wheel_name) {
            return Err(meta_err(format!("missing {wheel_name}")));
        }

        let record_bytes = wheel.read_member(&record_name)?;
        let record_text = String::from_utf8(record_bytes)
            .map_err(|_| meta_err(format!("{record_name} is not valid UTF-8")))?;
        wheel.record =
            Record::parse(&record_text).map_err(|r| meta_err(format!("{record_name}: {r}")))?;
        let mut record_index = HashMap::with_capacity(wheel.record.entries.len());
        for (i, e) in wheel.record.entries.iter().enumerate() {
            if record_index.insert(e.path.clone(), i).is_some() {
                return Err(Error::RecordMismatch {
                    path: path.to_path_buf(),
                    member: e.path.clone(),
                    reason: "listed more than once in RECORD".to_string(),
                });
            }
        }
        wheel.record_index = record_index;

        let wheel_bytes = wheel.read_member(&wheel_name)?;
        let wheel_text = String::from_utf8(wheel_bytes)
            .map_err(|_| meta_err(format!("{wheel_name} is not valid UTF-8")))?;
        wheel.metadata = WheelMetadata::parse(&wheel_text)
            .map_err(|r| meta_err(format!("{wheel_name}: {r}")))?;
        match (
            &wheel.metadata.wheel_version,
            wheel.metadata.wheel_version_tuple(),
        ) {
            (None, _) => return Err(meta_err(format!("{wheel_name} has no Wheel-Version"))),
            (Some(v), None) => {
                return Err(meta_err(format!(
                    "{wheel_name}: invalid Wheel-Version {v:?}"
                )))
            }
            (Some(v), Some((major, _))) if major != 1 => {
                return Err(meta_err(format!(
                    "{wheel_name}: unsupported Wheel-Version {v} (only 1.x is supported)"
                )))
            }
            _ => {}
        }

        wheel.verify_record_listing()?;
        Ok(wheel)
    }

    /// Checks that every RECORD row names a member of the archive.
    pub fn verify_record_listing(&self) -> Result<(), Error> {
        for e in &self.record.entries {
            if !self.index.contains_key(&e.path) {
                return Err(Error::RecordMismatch {
                    path: self.path.clone(),
                    member: e.path.clone(),
                    reason: "listed in RECORD but not in the archive".to_string(),
                });
            }
        }
        Ok(())
    }

    /// The parsed file name.
    pub fn filename(&self) -> &WheelFilename {
        &self.filename
    }

    /// The path the wheel was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All members in central-directory order (directories included, see [`Member::is_dir`]).
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The member named `name`, if any.
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.index.get(name).map(|&i| &self.members[i])
    }

    /// The `.dist-info` directory name, without a trailing slash.
    pub fn dist_info(&self) -> &str {
        &self.dist_info
    }

    /// The parsed `WHEEL` file.
    pub fn metadata(&self) -> &WheelMetadata {
        &self.metadata
    }

    /// The parsed `RECORD` file.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// The RECORD row for `name` (hash lookup).
    pub fn record_entry(&self, name: &str) -> Option<&RecordEntry> {
        self.record_index
            .get(name)
            .map(|&i| &self.record.entries[i])
    }

    /// Whether `name` is exempt from having a hashed RECORD row (RECORD and its signatures).
    pub fn is_record_exempt(&self, name: &str) -> bool {
        name.strip_prefix(self.dist_info.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|f| matches!(f, "RECORD" | "RECORD.jws" | "RECORD.p7s"))
    }

    /// Reads and inflates a whole member, verifying its CRC-32 against the central directory
    /// and its size and digest against RECORD (while inflating: no second pass). Members with
    /// no RECORD row, or a row without a hash, are a [`Error::RecordMismatch`], except RECORD
    /// itself and its signatures. A directory entry reads as empty.
    pub fn read_member(&self, name: &str) -> Result<Vec<u8>, Error> {
        let size = self.member(name).map_or(0, |m| m.size);
        let mut data = self.alloc(
            name,
            usize::try_from(size)
                .unwrap_or(0)
                .min(MAX_MEMBER_SIZE as usize),
        )?;
        self.stream_member(name, &mut |chunk| {
            data.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(data)
    }

    /// Inflates a whole member in order, handing each chunk to `emit` as it is produced (no
    /// buffer of the member's size), and verifies it as [`Wheel::read_member`] does: CRC-32
    /// against the central directory, size and digest against RECORD. The verdict comes after
    /// the last chunk, so a caller must drop what it kept when this returns an error. An error
    /// returned by `emit` stops the read and is passed on.
    pub fn stream_member(
        &self,
        name: &str,
        emit: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let idx = self.lookup(name)?;
        let member = &self.members[idx];
        if member.is_dir() {
            return Ok(());
        }
        let mismatch = |reason: String| Error::RecordMismatch {
            path: self.path.clone(),
            member: name.to_string(),
            reason,
        };
        let mut expected: Option<(&str, &str)> = None;
        let mut hasher = None;
        if !self.is_record_exempt(name) {
            let row = self
                .record_entry(name)
                .ok_or_else(|| mismatch("not listed in RECORD".to_string()))?;
            let (algo, digest) = row
                .hash
                .as_ref()
                .ok_or_else(|| mismatch("RECORD row has no hash".to_string()))?;
            if let Some(size) = row.size {
                if size != member.size {
                    return Err(mismatch(format!(
                        "RECORD says {size} bytes, the archive has {} bytes",
                        member.size
                    )));
                }
            }
            hasher = Some(RecordHasher::new(algo).ok_or_else(|| {
                mismatch(format!("unsupported hash algorithm {algo:?} in RECORD"))
            })?);
            expected = Some((algo, digest));
        }
        let mut crc = Crc::new();
        self.stream(
            idx,
            None,
            Sinks {
                hasher: hasher.as_mut(),
                crc: Some(&mut crc),
            },
            emit,
        )?;
        let want_crc = self.entries[idx].crc32;
        let got_crc = crc.finalize();
        if got_crc != want_crc {
            return Err(self.corrupt(format!(
                "member {name:?}: CRC-32 is {got_crc:08x}, the central directory says {want_crc:08x}"
            )));
        }
        if let (Some(h), Some((algo, digest))) = (hasher, expected) {
            let actual = h.finish();
            if actual != digest.trim_end_matches('=') {
                return Err(mismatch(format!(
                    "{algo} digest is {actual}, RECORD says {digest}"
                )));
            }
        }
        Ok(())
    }

    /// How a member is stored (method, CRC-32, sizes), from the central directory.
    pub fn raw_info(&self, name: &str) -> Result<RawMember, Error> {
        let idx = self.lookup(name)?;
        let (m, e) = (&self.members[idx], &self.entries[idx]);
        Ok(RawMember {
            method: e.method,
            crc32: e.crc32,
            size: m.size,
            compressed_size: m.compressed_size,
        })
    }

    /// Copy a member's stored (compressed) bytes unchanged to `out`, without inflating them;
    /// returns what a new archive needs to describe it. The CRC-32 is the central directory's.
    pub fn copy_raw(&self, name: &str, out: &mut dyn std::io::Write) -> Result<RawMember, Error> {
        let idx = self.lookup(name)?;
        let m = &self.members[idx];
        let e = &self.entries[idx];
        if e.flags & 1 != 0 {
            return Err(self.corrupt(format!("member {name:?} is encrypted")));
        }
        let start = self.data_start(idx)?;
        let mut buf = vec![0u8; STORED_CHUNK.min(m.compressed_size as usize).max(1)];
        let mut done = 0u64;
        while done < m.compressed_size {
            let n = (buf.len() as u64).min(m.compressed_size - done) as usize;
            self.pread(&mut buf[..n], start + done)?;
            out.write_all(&buf[..n]).map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
            done += n as u64;
        }
        Ok(RawMember {
            method: e.method,
            crc32: e.crc32,
            size: m.size,
            compressed_size: m.compressed_size,
        })
    }

    /// Inflates only the first `n` bytes of a member (fewer if it is shorter). No CRC or
    /// RECORD check: meant for cheap sniffing, e.g. of ELF magic.
    pub fn read_prefix(&self, name: &str, n: usize) -> Result<Vec<u8>, Error> {
        let idx = self.lookup(name)?;
        if self.members[idx].is_dir() {
            return Ok(Vec::new());
        }
        self.extract(
            idx,
            Some(n),
            Sinks {
                hasher: None,
                crc: None,
            },
        )
    }

    fn lookup(&self, name: &str) -> Result<usize, Error> {
        self.index
            .get(name)
            .copied()
            .ok_or_else(|| Error::Metadata {
                path: self.path.clone(),
                reason: format!("no member {name:?} in the archive"),
            })
    }

    fn corrupt(&self, reason: String) -> Error {
        Error::CorruptZip {
            path: self.path.clone(),
            reason,
        }
    }

    fn pread(&self, buf: &mut [u8], offset: u64) -> Result<(), Error> {
        pread(&self.path, &self.file, buf, offset)
    }

    /// Validates the local header of member `idx` and returns where its data starts.
    fn data_start(&self, idx: usize) -> Result<u64, Error> {
        let m = &self.members[idx];
        let e = &self.entries[idx];
        let name = &m.name;
        let mut hdr = [0u8; LOCAL_HEADER_LEN as usize];
        self.pread(&mut hdr, e.header_offset)?;
        let mut c = Cur::new(&hdr);
        if c.u32() != Some(SIG_LOCAL) {
            return Err(self.corrupt(format!(
                "member {name:?}: no local file header at offset {}",
                e.header_offset
            )));
        }
        let name_len = u64::from(u16::from_le_bytes([hdr[26], hdr[27]]));
        let extra_len = u64::from(u16::from_le_bytes([hdr[28], hdr[29]]));
        let mut local_name = vec![0u8; name_len as usize];
        self.pread(&mut local_name, e.header_offset + LOCAL_HEADER_LEN)?;
        if local_name != name.as_bytes() {
            return Err(self.corrupt(format!(
                "member {name:?}: local header names it {:?}",
                String::from_utf8_lossy(&local_name)
            )));
        }
        let start = e.header_offset + LOCAL_HEADER_LEN + name_len + extra_len;
        if !matches!(start.checked_add(m.compressed_size), Some(end) if end <= self.data_end) {
            return Err(self.corrupt(format!(
                "member {name:?}: data runs past the start of the central directory"
            )));
        }
        Ok(start)
    }

    /// Reads member `idx`: all of it (`prefix == None`, exactly its declared size) or at most
    /// `prefix` bytes, feeding every produced byte to `sinks` once, as it is produced.
    fn extract(
        &self,
        idx: usize,
        prefix: Option<usize>,
        sinks: Sinks<'_>,
    ) -> Result<Vec<u8>, Error> {
        let m = &self.members[idx];
        let declared = usize::try_from(m.size).unwrap_or(usize::MAX);
        let want = prefix.map_or(declared, |n| n.min(declared));
        let mut out = self.alloc(&m.name, want)?;
        self.stream(idx, prefix, sinks, &mut |chunk| {
            out.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(out)
    }

    /// Inflates member `idx` in order, in chunks: all of it (`prefix == None`, checked to be
    /// exactly its declared size) or at most `prefix` bytes. Every produced byte goes to
    /// `sinks` and then to `emit`, once.
    fn stream(
        &self,
        idx: usize,
        prefix: Option<usize>,
        mut sinks: Sinks<'_>,
        emit: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let m = &self.members[idx];
        let e = &self.entries[idx];
        let name = &m.name;
        if e.flags & 1 != 0 {
            return Err(self.corrupt(format!("member {name:?} is encrypted")));
        }
        if e.method != METHOD_STORED && e.method != METHOD_DEFLATE {
            return Err(self.corrupt(format!(
                "member {name:?} uses unsupported compression method {} ({}); \
                 only stored and deflate are supported",
                e.method,
                method_name(e.method)
            )));
        }
        if prefix.is_none() && m.size > MAX_MEMBER_SIZE {
            return Err(self.corrupt(format!(
                "member {name:?} is {} bytes, more than the {MAX_MEMBER_SIZE}-byte limit",
                m.size
            )));
        }
        let declared = usize::try_from(m.size).map_err(|_| {
            self.corrupt(format!("member {name:?} is too large ({} bytes)", m.size))
        })?;
        let start = self.data_start(idx)?;
        let want = prefix.map_or(declared, |n| n.min(declared));
        let mut emit = |bytes: &[u8], sinks: &mut Sinks<'_>| -> Result<(), Error> {
            sinks.feed(bytes);
            emit(bytes)
        };

        if e.method == METHOD_STORED {
            if m.compressed_size != m.size {
                return Err(self.corrupt(format!(
                    "stored member {name:?} has compressed size {} but size {}",
                    m.compressed_size, m.size
                )));
            }
            let mut buf = vec![0u8; STORED_CHUNK.min(want)];
            let mut pos = 0usize;
            while pos < want {
                let n = STORED_CHUNK.min(want - pos);
                self.pread(&mut buf[..n], start + pos as u64)?;
                emit(&buf[..n], &mut sinks)?;
                pos += n;
            }
            return Ok(());
        }

        if m.size > m.compressed_size.saturating_mul(MAX_DEFLATE_RATIO) + 1024 {
            return Err(self.corrupt(format!(
                "member {name:?} claims {} bytes from {} compressed bytes, \
                 beyond what deflate can produce",
                m.size, m.compressed_size
            )));
        }
        if want == 0 && prefix.is_some() {
            return Ok(());
        }
        // Output goes through a bounded chunk buffer (the inflater keeps its own window); one
        // spare byte beyond the declared size lets an overlong stream be noticed.
        let out_cap = OUTPUT_CHUNK.min(want + 1);
        let mut out: Vec<u8> = Vec::with_capacity(out_cap);
        let mut produced = 0usize;
        let mut inflater = Decompress::new(false);
        let chunk_max = if prefix.is_some() {
            16 * 1024
        } else {
            INPUT_CHUNK
        };
        let mut chunk_len = if prefix.is_some() { 1024 } else { INPUT_CHUNK };
        let mut input: Vec<u8> = Vec::new();
        let mut in_pos = 0usize;
        let mut read_off = 0u64; // compressed bytes read so far
        loop {
            if in_pos == input.len() && read_off < m.compressed_size {
                let n = (chunk_len as u64).min(m.compressed_size - read_off) as usize;
                input.resize(n, 0);
                self.pread(&mut input, start + read_off)?;
                read_off += n as u64;
                in_pos = 0;
                chunk_len = (chunk_len * 4).min(chunk_max);
            }
            let before_in = inflater.total_in();
            let before_out = out.len();
            let status = inflater
                .decompress_vec(&input[in_pos..], &mut out, FlushDecompress::None)
                .map_err(|err| {
                    self.corrupt(format!("member {name:?}: invalid deflate data: {err}"))
                })?;
            let consumed = (inflater.total_in() - before_in) as usize;
            in_pos += consumed;
            let made = out.len() - before_out;
            produced += made;
            if produced > declared {
                return Err(self.corrupt(format!(
                    "member {name:?} inflates to more than its declared {declared} bytes"
                )));
            }
            let done = status == Status::StreamEnd || (prefix.is_some() && produced >= want);
            if done || out.len() == out.capacity() {
                let keep = if prefix.is_some() {
                    out.len() - produced.saturating_sub(want)
                } else {
                    out.len()
                };
                emit(&out[..keep], &mut sinks)?;
                out.clear();
            }
            if done {
                break;
            }
            if consumed == 0 && made == 0 {
                if in_pos == input.len() && read_off >= m.compressed_size {
                    return Err(self.corrupt(format!(
                        "member {name:?}: deflate stream is truncated ({} compressed bytes \
                         give {produced} of {declared} bytes)",
                        m.compressed_size,
                    )));
                }
                if in_pos < input.len() {
                    return Err(
                        self.corrupt(format!("member {name:?}: deflate stream makes no progress"))
                    );
                }
            }
        }
        if prefix.is_none() && produced != declared {
            return Err(self.corrupt(format!(
                "member {name:?} inflates to {produced} bytes, the central directory says {declared}"
            )));
        }
        Ok(())
    }

    fn alloc(&self, name: &str, cap: usize) -> Result<Vec<u8>, Error> {
        let mut v = Vec::new();
        v.try_reserve_exact(cap)
            .map_err(|_| self.corrupt(format!("member {name:?}: cannot allocate {cap} bytes")))?;
        Ok(v)
    }
}

fn method_name(method: u16) -> &'static str {
    match method {
        1 => "shrink",
        6 => "implode",
        9 => "deflate64",
        12 => "bzip2",
        14 => "LZMA",
        93 => "zstandard",
        95 => "xz",
        99 => "AES",
        _ => "unknown",
    }
}

fn pread(path: &Path, file: &File, buf: &mut [u8], offset: u64) -> Result<(), Error> {
    file.read_exact_at(buf, offset).map_err(|source| {
        if source.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::CorruptZip {
                path: path.to_path_buf(),
                reason: format!(
                    "unexpected end of file reading {} bytes at offset {offset}",
                    buf.len()
                ),
            }
        } else {
            Error::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// A little-endian cursor over a byte slice; every read is `None` past the end.
struct Cur<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Cur { buf, pos: 0 }
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.bytes(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    }
    fn u64(&mut self) -> Option<u64> {
        self.bytes(8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    }
}

/// The parts of the end-of-central-directory records we use.
struct EndRecord {
    entries: u64,
    cd_size: u64,
    cd_offset: u64,
    /// Where the central directory must end (the zip64 end record, or the end record).
    cd_limit: u64,
    zip64: bool,
}

fn read_end_record(path: &Path, file: &File, len: u64) -> Result<EndRecord, Error> {
    let not_zip = |reason: String| Error::NotZip {
        path: path.to_path_buf(),
        reason,
    };
    let corrupt = |reason: String| Error::CorruptZip {
        path: path.to_path_buf(),
        reason,
    };
    if len < EOCD_LEN as u64 {
        return Err(not_zip(format!(
            "file is {len} bytes, too short for a zip end record"
        )));
    }
    let tail_len = len.min((EOCD_LEN + u16::MAX as usize) as u64) as usize;
    let tail_start = len - tail_len as u64;
    let mut tail = vec![0u8; tail_len];
    pread(path, file, &mut tail, tail_start)?;
    // The last end-record signature whose comment fits in the file.
    let found = (0..=tail_len - EOCD_LEN).rev().find(|&i| {
        tail[i..i + 4] == SIG_EOCD.to_le_bytes() && {
            let comment = u16::from_le_bytes([tail[i + 20], tail[i + 21]]) as usize;
            i + EOCD_LEN + comment <= tail_len
        }
    });
    let Some(i) = found else {
        return Err(not_zip(
            "no end-of-central-directory record found (the file is truncated or is not a zip)"
                .to_string(),
        ));
    };
    let eocd_pos = tail_start + i as u64;
    let mut c = Cur::new(&tail[i + 4..]);
    let (disk, cd_disk, n_disk, n_total, cd_size, cd_offset) = (
        c.u16().unwrap(),
        c.u16().unwrap(),
        c.u16().unwrap(),
        c.u16().unwrap(),
        c.u32().unwrap(),
        c.u32().unwrap(),
    );

    // Zip64 locator just before the end record?
    if eocd_pos >= 20 {
        let mut loc = [0u8; 20];
        pread(path, file, &mut loc, eocd_pos - 20)?;
        let mut c = Cur::new(&loc);
        if c.u32() == Some(SIG_ZIP64_LOCATOR) {
            let (z_disk, z_off, z_disks) = (c.u32().unwrap(), c.u64().unwrap(), c.u32().unwrap());
            if z_disk != 0 || z_disks > 1 {
                return Err(corrupt(
                    "multi-disk zip archives are not supported".to_string(),
                ));
            }
            if !matches!(z_off.checked_add(56), Some(e) if e <= eocd_pos - 20) {
                return Err(corrupt(format!(
                    "zip64 end record offset {z_off} is out of range"
                )));
            }
            let mut rec = [0u8; 56];
            pread(path, file, &mut rec, z_off)?;
            let mut c = Cur::new(&rec);
            if c.u32() != Some(SIG_ZIP64_EOCD) {
                return Err(corrupt(format!("no zip64 end record at offset {z_off}")));
            }
            let _size = c.u64();
            let _made_by = c.u16();
            let _needed = c.u16();
            let (disk, cd_disk) = (c.u32().unwrap(), c.u32().unwrap());
            let (n_disk, n_total) = (c.u64().unwrap(), c.u64().unwrap());
            let (cd_size, cd_offset) = (c.u64().unwrap(), c.u64().unwrap());
            if disk != 0 || cd_disk != 0 || n_disk != n_total {
                return Err(corrupt(
                    "multi-disk zip archives are not supported".to_string(),
                ));
            }
            return Ok(EndRecord {
                entries: n_total,
                cd_size,
                cd_offset,
                cd_limit: z_off,
                zip64: true,
            });
        }
    }
    if disk != 0 || cd_disk != 0 || n_disk != n_total {
        return Err(corrupt(
            "multi-disk zip archives are not supported".to_string(),
        ));
    }
    Ok(EndRecord {
        entries: u64::from(n_total),
        cd_size: u64::from(cd_size),
        cd_offset: u64::from(cd_offset),
        cd_limit: eocd_pos,
        zip64: false,
    })
}

/// Reads and parses the central directory: members, their locations, and the offset where
/// member data must end.
fn read_central_directory(
    path: &Path,
    file: &File,
) -> Result<(Vec<Member>, Vec<Entry>, u64), Error> {
    let corrupt = |reason: String| Error::CorruptZip {
        path: path.to_path_buf(),
        reason,
    };
    let len = file
        .metadata()
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    let end = read_end_record(path, file, len)?;
    if !matches!(end.cd_offset.checked_add(end.cd_size), Some(e) if e <= end.cd_limit) {
        return Err(corrupt(format!(
            "central directory (offset {}, {} bytes) runs past the end record at offset {} \
             (truncated or not a zip file)",
            end.cd_offset, end.cd_size, end.cd_limit
        )));
    }
    // Each central header is at least 46 bytes: bound the entry count before allocating.
    if end.entries > end.cd_size / CENTRAL_HEADER_LEN as u64 {
        return Err(corrupt(format!(
            "end record claims {} entries in a {}-byte central directory",
            end.entries, end.cd_size
        )));
    }
    let mut cd = vec![0u8; end.cd_size as usize];
    pread(path, file, &mut cd, end.cd_offset)?;

    let mut members = Vec::with_capacity(end.entries as usize);
    let mut entries = Vec::with_capacity(end.entries as usize);
    let mut c = Cur::new(&cd);
    while c.pos < cd.len() {
        let n = members.len();
        let short = || corrupt(format!("central directory entry {n} is truncated"));
        if c.u32() != Some(SIG_CENTRAL) {
            return Err(corrupt(format!(
                "bad signature for central directory entry {n} at offset {}",
                end.cd_offset + c.pos as u64 - 4
            )));
        }
        let made_by = c.u16().ok_or_else(short)?;
        let _needed = c.u16().ok_or_else(short)?;
        let flags = c.u16().ok_or_else(short)?;
        let method = c.u16().ok_or_else(short)?;
        let _time = c.u16().ok_or_else(short)?;
        let _date = c.u16().ok_or_else(short)?;
        let crc32 = c.u32().ok_or_else(short)?;
        let mut compressed_size = u64::from(c.u32().ok_or_else(short)?);
        let mut size = u64::from(c.u32().ok_or_else(short)?);
        let name_len = c.u16().ok_or_else(short)? as usize;
        let extra_len = c.u16().ok_or_else(short)? as usize;
        let comment_len = c.u16().ok_or_else(short)? as usize;
        let _disk = c.u16().ok_or_else(short)?;
        let _internal = c.u16().ok_or_else(short)?;
        let external = c.u32().ok_or_else(short)?;
        let mut header_offset = u64::from(c.u32().ok_or_else(short)?);
        let name_bytes = c.bytes(name_len).ok_or_else(short)?;
        let extra = c.bytes(extra_len).ok_or_else(short)?;
        c.bytes(comment_len).ok_or_else(short)?;

        let name = std::str::from_utf8(name_bytes)
            .map_err(|_| {
                corrupt(format!(
                    "member name {:?} is not valid UTF-8",
                    String::from_utf8_lossy(name_bytes)
                ))
            })?
            .to_string();

        // Zip64 extended information: values present only for saturated fields, in order.
        let need_size = size == 0xFFFF_FFFF;
        let need_csize = compressed_size == 0xFFFF_FFFF;
        let need_offset = header_offset == 0xFFFF_FFFF;
        if need_size || need_csize || need_offset {
            let mut x = Cur::new(extra);
            let mut zip64 = None;
            while let (Some(id), Some(l)) = (x.u16(), x.u16()) {
                let Some(data) = x.bytes(l as usize) else {
                    break;
                };
                if id == 0x0001 {
                    zip64 = Some(data);
                    break;
                }
            }
            let bad = || {
                corrupt(format!(
                    "member {name:?}: missing or short zip64 extra field"
                ))
            };
            let mut z = Cur::new(zip64.ok_or_else(bad)?);
            if need_size {
                size = z.u64().ok_or_else(bad)?;
            }
            if need_csize {
                compressed_size = z.u64().ok_or_else(bad)?;
            }
            if need_offset {
                header_offset = z.u64().ok_or_else(bad)?;
            }
        }

        let unix_mode = (made_by >> 8 == 3 && external >> 16 != 0).then_some(external >> 16);
        members.push(Member {
            name,
            size,
            compressed_size,
            unix_mode,
        });
        entries.push(Entry {
            method,
            flags,
            crc32,
            header_offset,
        });
    }
    let count_ok = if end.zip64 {
        members.len() as u64 == end.entries
    } else {
        // Writers without zip64 may wrap the 16-bit count.
        members.len() as u64 % 0x1_0000 == end.entries
    };
    if !count_ok {
        return Err(corrupt(format!(
            "central directory holds {} entries, the end record says {}",
            members.len(),
            end.entries
        )));
    }
    Ok((members, entries, end.cd_offset))
}

/// Member data ranges must not overlap each other or the central directory.
fn check_overlaps(
    path: &Path,
    members: &[Member],
    entries: &[Entry],
    data_end: u64,
) -> Result<(), Error> {
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by_key(|&i| entries[i].header_offset);
    for (k, &i) in order.iter().enumerate() {
        // A lower bound of where the member ends (the local extra field length is unknown).
        let min_end = entries[i]
            .header_offset
            .checked_add(LOCAL_HEADER_LEN + members[i].name.len() as u64)
            .and_then(|v| v.checked_add(members[i].compressed_size));
        let (limit, what) = match order.get(k + 1) {
            Some(&j) => (
                entries[j].header_offset,
                format!("member {:?}", members[j].name),
            ),
            None => (data_end, "the central directory".to_string()),
        };
        if !matches!(min_end, Some(e) if e <= limit) {
            return Err(Error::CorruptZip {
                path: path.to_path_buf(),
                reason: format!("member {:?} overlaps {what}", members[i].name),
            });
        }
    }
    Ok(())
}

/// Why a member name is unsafe to extract, if it is.
fn check_member_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".to_string());
    }
    if name.contains('\0') {
        return Err("contains a NUL byte".to_string());
    }
    if name.starts_with(['/', '\\']) {
        return Err("absolute path".to_string());
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Err("absolute Windows path (drive letter)".to_string());
    }
    if name.split(['/', '\\']).any(|part| part == "..") {
        return Err("contains a \"..\" component".to_string());
    }
    Ok(())
}

/// Finds the one top-level `.dist-info` directory whose name and version match the file name.
fn find_dist_info(
    path: &Path,
    filename: &WheelFilename,
    members: &[Member],
) -> Result<String, Error> {
    let dirs: BTreeSet<&str> = members
        .iter()
        .filter_map(|m| m.name.split_once('/').map(|(top, _)| top))
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    let want_name = filename.normalized_name();
    let want_version = normalize_version(&filename.version);
    let matches: Vec<&str> = dirs
        .iter()
        .copied()
        .filter(|dir| {
            let stem = &dir[..dir.len() - ".dist-info".len()];
            stem.match_indices('-').any(|(i, _)| {
                normalize_name(&stem[..i]) == want_name
                    && normalize_version(&stem[i + 1..]) == want_version
            })
        })
        .collect();
    let expected = format!("{}-{}.dist-info", filename.name, filename.version);
    match matches.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(Error::Metadata {
            path: path.to_path_buf(),
            reason: if dirs.is_empty() {
                format!("no .dist-info directory (expected {expected})")
            } else {
                format!(
                    "no .dist-info directory matches {expected} (found {})",
                    dirs.iter().copied().collect::<Vec<_>>().join(", ")
                )
            },
        }),
        many => Err(Error::Metadata {
            path: path.to_path_buf(),
            reason: format!("more than one .dist-info directory: {}", many.join(", ")),
        }),
    }
}
