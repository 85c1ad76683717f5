//! Write wheels reproducibly: sorted members (`.dist-info` last, RECORD at the very end), fixed
//! timestamps (`SOURCE_DATE_EPOCH`), fixed permissions, RECORD regenerated. Members taken from
//! another wheel unchanged are copied raw (no inflate/deflate); new content is deflated in
//! parallel. The file appears atomically: written beside the target, then renamed.

use std::io::{BufWriter, Write};
use std::path::Path;

use flate2::write::DeflateEncoder;
use flate2::Compression;
use rayon::prelude::*;

use crate::record::{hash_digest, Record, RecordEntry};
use crate::{Error, Wheel};

/// Where a member's content comes from.
pub enum Source<'a> {
    /// A member of an open wheel, copied as stored (its RECORD row is reused).
    Raw { wheel: &'a Wheel, member: String },
    /// New content.
    Bytes(Vec<u8>),
}

/// One member of the wheel to write.
pub struct OutMember<'a> {
    pub name: String,
    pub source: Source<'a>,
    /// Executable (mode 0755) or not (0644).
    pub executable: bool,
}

/// How to write.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    /// Seconds since the epoch stamped on every member (clamped to 1980..2107).
    pub epoch: u64,
    /// Deflate level 0–9 for new content.
    pub level: u32,
}

impl WriteOptions {
    /// `SOURCE_DATE_EPOCH` when set, else 1980-01-01 (the zip epoch), level 6.
    pub fn from_env() -> WriteOptions {
        let epoch = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(315_532_800);
        WriteOptions { epoch, level: 6 }
    }
}

/// Order of members in the archive: everything else by name, then `.dist-info` files by name,
/// RECORD last.
fn sort_key<'a>(name: &'a str, dist_info: &str) -> (u8, &'a str) {
    let in_dist_info = name.starts_with(dist_info) && name[dist_info.len()..].starts_with('/');
    match (in_dist_info, name.ends_with("/RECORD")) {
        (true, true) => (2, name),
        (true, false) => (1, name),
        _ => (0, name),
    }
}

/// MS-DOS time and date of `epoch` (UTC).
fn dos_time(epoch: u64) -> (u16, u16) {
    let epoch = epoch.clamp(315_532_800, 4_354_819_198);
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Civil from days (Howard Hinnant's algorithm, public domain facts).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let time = (((secs / 3600) << 11) | ((secs % 3600 / 60) << 5) | ((secs % 60) / 2)) as u16;
    let date = ((((year - 1980) as u64) << 9) | ((month as u64) << 5) | day as u64) as u16;
    (time, date)
}

struct Prepared<'a> {
    name: String,
    mode: u32,
    /// New content, deflated; or the wheel and member to copy raw.
    content: Result<Vec<u8>, (&'a Wheel, String)>,
    crc32: u32,
    size: u64,
    compressed_size: u64,
    record: RecordEntry,
}

/// Input bytes per independently deflated block of a large member.
const BLOCK: usize = 1 << 20;
/// The deflate window: each block is primed with this much of the data before it.
const WINDOW: usize = 32 << 10;

/// Raw deflate of `data`. Members larger than two blocks are cut into fixed 1 MiB blocks
/// deflated in parallel (pigz's scheme): each block is primed with the 32 KiB before it as
/// its dictionary, so matches may reach back across the cut, and ends with a sync flush (an
/// empty stored block, byte-aligned) except the last, which ends the stream; the blocks
/// concatenated are one valid deflate stream. The cut points depend only on the size, so the
/// output is the same on every machine whatever the number of threads.
fn deflate(data: &[u8], level: Compression) -> std::io::Result<Vec<u8>> {
    if data.len() <= 2 * BLOCK {
        let mut enc = DeflateEncoder::new(Vec::with_capacity(data.len() / 2 + 64), level);
        enc.write_all(data)?;
        return enc.finish();
    }
    let starts: Vec<usize> = (0..data.len()).step_by(BLOCK).collect();
    let last = starts.len() - 1;
    let parts: Vec<Vec<u8>> = starts
        .par_iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = (start + BLOCK).min(data.len());
            let mut c = flate2::Compress::new(level, false);
            if start > 0 {
                c.set_dictionary(&data[start.saturating_sub(WINDOW)..start])
                    .map_err(std::io::Error::other)?;
            }
            let flush = if i == last {
                flate2::FlushCompress::Finish
            } else {
                flate2::FlushCompress::Sync
            };
            let mut out = Vec::with_capacity((end - start) / 2 + 64);
            let mut input = &data[start..end];
            loop {
                if out.capacity() - out.len() < 64 << 10 {
                    out.reserve(256 << 10);
                }
                let before = c.total_in();
                let status = c
                    .compress_vec(input, &mut out, flush)
                    .map_err(std::io::Error::other)?;
                input = &input[(c.total_in() - before) as usize..];
                // Done when all input is in and the flush has fully come out: the call left
                // output room unused.
                let drained = out.len() < out.capacity();
                match status {
                    flate2::Status::StreamEnd => break,
                    _ if input.is_empty() && i != last && drained => break,
                    _ => {}
                }
            }
            Ok(out)
        })
        .collect::<std::io::Result<_>>()?;
    Ok(parts.concat())
}

fn prepare<'a>(m: OutMember<'a>, level: Compression, dest: &Path) -> Result<Prepared<'a>, Error> {
    let io = |source| Error::Io {
        path: dest.to_path_buf(),
        source,
    };
    let mode = if m.executable { 0o100755 } else { 0o100644 };
    match m.source {
        Source::Bytes(data) => {
            let mut crc = crc32fast::Hasher::new();
            crc.update(&data);
            let deflated = deflate(&data, level).map_err(io)?;
            Ok(Prepared {
                record: RecordEntry {
                    path: m.name.clone(),
                    hash: Some(("sha256".into(), hash_digest(&data))),
                    size: Some(data.len() as u64),
                },
                name: m.name,
                mode,
                crc32: crc.finalize(),
                size: data.len() as u64,
                compressed_size: deflated.len() as u64,
                content: Ok(deflated),
            })
        }
        Source::Raw { wheel, member } => {
            let src = wheel.member(&member).ok_or_else(|| Error::Metadata {
                path: wheel.path().to_path_buf(),
                reason: format!("no member {member:?} to copy"),
            })?;
            let hash = wheel
                .record_entry(&member)
                .and_then(|r| r.hash.clone())
                .ok_or_else(|| Error::RecordMismatch {
                    path: wheel.path().to_path_buf(),
                    member: member.clone(),
                    reason: "no RECORD hash to carry over".into(),
                })?;
            Ok(Prepared {
                record: RecordEntry {
                    path: m.name.clone(),
                    hash: Some(hash),
                    size: Some(src.size),
                },
                name: m.name,
                mode,
                crc32: 0, // filled in from the copy
                size: src.size,
                compressed_size: src.compressed_size,
                content: Err((wheel, member)),
            })
        }
    }
}

/// A zip writer that counts bytes.
struct Counting<W: Write> {
    inner: W,
    pos: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

const ZIP64_LIMIT: u64 = 0xFFFF_FFFF;

/// The zip64 extra field for the values that overflow 32 bits (in the order the format wants).
fn zip64_extra(size: u64, compressed: u64, offset: Option<u64>) -> Vec<u8> {
    let mut fields = Vec::new();
    if size >= ZIP64_LIMIT {
        fields.extend_from_slice(&size.to_le_bytes());
    }
    if compressed >= ZIP64_LIMIT {
        fields.extend_from_slice(&compressed.to_le_bytes());
    }
    if let Some(o) = offset.filter(|o| *o >= ZIP64_LIMIT) {
        fields.extend_from_slice(&o.to_le_bytes());
    }
    if fields.is_empty() {
        return fields;
    }
    let mut extra = vec![0x01, 0x00];
    extra.extend_from_slice(&(fields.len() as u16).to_le_bytes());
    extra.extend_from_slice(&fields);
    extra
}

fn clamp32(v: u64) -> u32 {
    v.min(ZIP64_LIMIT) as u32
}

/// Write a wheel to `dest` with `members` (RECORD is generated: do not pass one) and the
/// `.dist-info` directory `dist_info`. Nothing is left at `dest` on failure.
pub fn write_wheel(
    dest: &Path,
    members: Vec<OutMember<'_>>,
    dist_info: &str,
    opts: WriteOptions,
) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: dest.to_path_buf(),
        source,
    };
    let record_name = format!("{dist_info}/RECORD");
    let mut seen = std::collections::HashSet::new();
    for m in &members {
        if !seen.insert(m.name.clone()) || m.name == record_name {
            return Err(Error::DuplicateMember {
                path: dest.to_path_buf(),
                member: m.name.clone(),
            });
        }
    }
    let level = Compression::new(opts.level.min(9));
    let mut prepared: Vec<Prepared<'_>> = members
        .into_par_iter()
        .map(|m| prepare(m, level, dest))
        .collect::<Result<_, _>>()?;
    prepared.sort_by(|a, b| sort_key(&a.name, dist_info).cmp(&sort_key(&b.name, dist_info)));

    // RECORD itself, last.
    let mut record = Record {
        entries: prepared.iter().map(|p| p.record.clone()).collect(),
    };
    record.entries.push(RecordEntry {
        path: record_name.clone(),
        hash: None,
        size: None,
    });
    let record_member = prepare(
        OutMember {
            name: record_name,
            source: Source::Bytes(record.to_string().into_bytes()),
            executable: false,
        },
        level,
        dest,
    )?;
    prepared.push(record_member);

    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".manywheel-")
        .suffix(".whl.part")
        .tempfile_in(dir)
        .map_err(io)?;
    let (time, date) = dos_time(opts.epoch);
    let mut out = Counting {
        inner: BufWriter::with_capacity(1 << 20, tmp.as_file()),
        pos: 0,
    };
    let mut central = Vec::new();
    let mut count = 0u64;
    for p in &mut prepared {
        let offset = out.pos;
        let needs64 = p.size >= ZIP64_LIMIT || p.compressed_size >= ZIP64_LIMIT;
        let method: u16;
        // The CRC of a raw copy is only known from its source: learn it first.
        if let Err((wheel, member)) = &p.content {
            let info = wheel.raw_info(member)?;
            p.crc32 = info.crc32;
            method = info.method;
        } else {
            method = 8;
        }
        let extra = if needs64 {
            let mut e = vec![0x01, 0x00, 16, 0];
            e.extend_from_slice(&p.size.to_le_bytes());
            e.extend_from_slice(&p.compressed_size.to_le_bytes());
            e
        } else {
            Vec::new()
        };
        let version: u16 = if needs64 { 45 } else { 20 };
        let name = p.name.as_bytes();
        let mut h = Vec::with_capacity(30 + name.len() + extra.len());
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&version.to_le_bytes());
        h.extend_from_slice(&0x0800u16.to_le_bytes()); // UTF-8 names
        h.extend_from_slice(&method.to_le_bytes());
        h.extend_from_slice(&time.to_le_bytes());
        h.extend_from_slice(&date.to_le_bytes());
        h.extend_from_slice(&p.crc32.to_le_bytes());
        let (cs, us) = if needs64 {
            (ZIP64_LIMIT as u32, ZIP64_LIMIT as u32)
        } else {
            (p.compressed_size as u32, p.size as u32)
        };
        h.extend_from_slice(&cs.to_le_bytes());
        h.extend_from_slice(&us.to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        h.extend_from_slice(name);
        h.extend_from_slice(&extra);
        out.write_all(&h).map_err(io)?;
        match &p.content {
            Ok(data) => out.write_all(data).map_err(io)?,
            Err((wheel, member)) => {
                wheel.copy_raw(member, &mut out)?;
            }
        }
        let cextra = zip64_extra(p.size, p.compressed_size, Some(offset));
        let mut c = Vec::with_capacity(46 + name.len() + cextra.len());
        c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        c.extend_from_slice(&(0x0300u16 | version).to_le_bytes()); // made by Unix
        c.extend_from_slice(&version.to_le_bytes());
        c.extend_from_slice(&0x0800u16.to_le_bytes());
        c.extend_from_slice(&method.to_le_bytes());
        c.extend_from_slice(&time.to_le_bytes());
        c.extend_from_slice(&date.to_le_bytes());
        c.extend_from_slice(&p.crc32.to_le_bytes());
        c.extend_from_slice(&clamp32(p.compressed_size).to_le_bytes());
        c.extend_from_slice(&clamp32(p.size).to_le_bytes());
        c.extend_from_slice(&(name.len() as u16).to_le_bytes());
        c.extend_from_slice(&(cextra.len() as u16).to_le_bytes());
        c.extend_from_slice(&0u16.to_le_bytes()); // comment
        c.extend_from_slice(&0u16.to_le_bytes()); // disk
        c.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        c.extend_from_slice(&(p.mode << 16).to_le_bytes());
        c.extend_from_slice(&clamp32(offset).to_le_bytes());
        c.extend_from_slice(name);
        c.extend_from_slice(&cextra);
        central.extend_from_slice(&c);
        count += 1;
    }
    let cd_offset = out.pos;
    out.write_all(&central).map_err(io)?;
    let cd_size = central.len() as u64;
    if count >= 0xFFFF || cd_offset >= ZIP64_LIMIT || cd_size >= ZIP64_LIMIT {
        let eocd64_offset = out.pos;
        let mut z = Vec::new();
        z.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
        z.extend_from_slice(&44u64.to_le_bytes());
        z.extend_from_slice(&(0x0300u16 | 45).to_le_bytes());
        z.extend_from_slice(&45u16.to_le_bytes());
        z.extend_from_slice(&0u32.to_le_bytes());
        z.extend_from_slice(&0u32.to_le_bytes());
        z.extend_from_slice(&count.to_le_bytes());
        z.extend_from_slice(&count.to_le_bytes());
        z.extend_from_slice(&cd_size.to_le_bytes());
        z.extend_from_slice(&cd_offset.to_le_bytes());
        z.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
        z.extend_from_slice(&0u32.to_le_bytes());
        z.extend_from_slice(&eocd64_offset.to_le_bytes());
        z.extend_from_slice(&1u32.to_le_bytes());
        out.write_all(&z).map_err(io)?;
    }
    let mut e = Vec::new();
    e.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    e.extend_from_slice(&(count.min(0xFFFF) as u16).to_le_bytes());
    e.extend_from_slice(&(count.min(0xFFFF) as u16).to_le_bytes());
    e.extend_from_slice(&clamp32(cd_size).to_le_bytes());
    e.extend_from_slice(&clamp32(cd_offset).to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    out.write_all(&e).map_err(io)?;
    out.flush().map_err(io)?;
    drop(out);
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(dest).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_dates() {
        // 1980-01-01 00:00:00
        assert_eq!(dos_time(315_532_800), (0, (1 << 5) | 1));
        // 2023-11-14 22:13:20 UTC (1700000000)
        let (t, d) = dos_time(1_700_000_000);
        assert_eq!((d >> 9) + 1980, 2023);
        assert_eq!((d >> 5) & 0xF, 11);
        assert_eq!(d & 0x1F, 14);
        assert_eq!(t >> 11, 22);
        assert_eq!((t >> 5) & 0x3F, 13);
        assert_eq!((t & 0x1F) * 2, 20);
    }

    #[test]
    fn dist_info_last_record_at_the_end() {
        let mut names = vec![
            "x-1.dist-info/RECORD",
            "x-1.dist-info/WHEEL",
            "z/a.py",
            "a.py",
        ];
        names.sort_by_key(|n| sort_key(n, "x-1.dist-info"));
        assert_eq!(
            names,
            [
                "a.py",
                "z/a.py",
                "x-1.dist-info/WHEEL",
                "x-1.dist-info/RECORD"
            ]
        );
    }
}

#[cfg(test)]
mod deflate_tests {
    use super::*;
    use std::io::Read;

    fn inflate(z: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(z)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// Text-like data with long-range repeats, and incompressible noise (xorshift).
    fn sample(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if (i / 4096) % 3 == 0 {
                    (x & 0xff) as u8
                } else {
                    b"the quick brown fox jumps over the lazy dog "[i % 44]
                }
            })
            .collect()
    }

    #[test]
    fn block_parallel_deflate_is_one_valid_stream_and_deterministic() {
        for len in [
            0,
            1,
            2 * BLOCK,
            2 * BLOCK + 1,
            3 * BLOCK,
            5 * BLOCK + 12_345,
        ] {
            let data = sample(len, len as u64 + 7);
            for level in [0, 1, 6, 9] {
                let z = deflate(&data, Compression::new(level)).unwrap();
                assert_eq!(inflate(&z), data, "len {len} level {level}");
                assert_eq!(z, deflate(&data, Compression::new(level)).unwrap());
            }
        }
    }

    #[test]
    fn blocks_keep_the_ratio_of_one_stream() {
        // Priming each block with the window before it: within 1 % of a single stream.
        let data = sample(6 * BLOCK, 99);
        let parallel = deflate(&data, Compression::new(6)).unwrap().len();
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::new(6));
        enc.write_all(&data).unwrap();
        let single = enc.finish().unwrap().len();
        assert!(
            (parallel as f64) < single as f64 * 1.01,
            "{parallel} vs {single}"
        );
    }
}
