//! Test helpers: a small zip writer (stored/deflate, optional zip64 everywhere, tampering
//! hooks), a builder for a minimal valid wheel, and a bridge to Python's `zipfile`.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::write::DeflateEncoder;
use flate2::Compression;
use manywheel_wheel::hash_digest;

pub const NAME: &str = "demo_pkg";
pub const VERSION: &str = "1.0";
pub const DIST: &str = "demo_pkg-1.0.dist-info";
pub const FILE_NAME: &str =
    "demo_pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Stored,
    Deflate,
    /// Any other method number; the data is written as is.
    Other(u16),
}

#[derive(Clone, Debug)]
pub struct ZipEntry {
    pub name: String,
    pub data: Vec<u8>,
    pub method: Method,
    pub mode: Option<u32>,
    /// Write this CRC instead of the real one.
    pub crc_override: Option<u32>,
    /// Write this uncompressed size instead of the real one.
    pub size_override: Option<u64>,
}

impl ZipEntry {
    pub fn new(name: &str, data: &[u8], method: Method) -> Self {
        ZipEntry {
            name: name.to_string(),
            data: data.to_vec(),
            method,
            mode: Some(0o100644),
            crc_override: None,
            size_override: None,
        }
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = crc32fast::Hasher::new();
    c.update(data);
    c.finalize()
}

/// Builds a zip archive in memory. With `zip64`, every central entry carries a zip64 extra
/// field with saturated 32-bit fields, and zip64 end records are written.
pub fn build_zip(entries: &[ZipEntry], zip64: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u64;
        let compressed = match e.method {
            Method::Deflate => {
                let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
                enc.write_all(&e.data).unwrap();
                enc.finish().unwrap()
            }
            _ => e.data.clone(),
        };
        let method = match e.method {
            Method::Stored => 0u16,
            Method::Deflate => 8,
            Method::Other(m) => m,
        };
        let crc = e.crc_override.unwrap_or_else(|| crc32(&e.data));
        let size = e.size_override.unwrap_or(e.data.len() as u64);
        let csize = compressed.len() as u64;
        let needed: u16 = if zip64 { 45 } else { 20 };
        let name = e.name.as_bytes();

        // Local header.
        let mut local_extra = Vec::new();
        if zip64 {
            local_extra.extend_from_slice(&1u16.to_le_bytes());
            local_extra.extend_from_slice(&16u16.to_le_bytes());
            local_extra.extend_from_slice(&size.to_le_bytes());
            local_extra.extend_from_slice(&csize.to_le_bytes());
        }
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&needed.to_le_bytes());
        out.extend_from_slice(&0x0800u16.to_le_bytes());
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0x21u16.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        let (c32, s32) = if zip64 {
            (u32::MAX, u32::MAX)
        } else {
            (csize as u32, size as u32)
        };
        out.extend_from_slice(&c32.to_le_bytes());
        out.extend_from_slice(&s32.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(local_extra.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&local_extra);
        out.extend_from_slice(&compressed);

        // Central header.
        let mut extra = Vec::new();
        if zip64 {
            extra.extend_from_slice(&1u16.to_le_bytes());
            extra.extend_from_slice(&24u16.to_le_bytes());
            extra.extend_from_slice(&size.to_le_bytes());
            extra.extend_from_slice(&csize.to_le_bytes());
            extra.extend_from_slice(&offset.to_le_bytes());
        }
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&(0x0300u16 | needed).to_le_bytes());
        central.extend_from_slice(&needed.to_le_bytes());
        central.extend_from_slice(&0x0800u16.to_le_bytes());
        central.extend_from_slice(&method.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0x21u16.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&c32.to_le_bytes());
        central.extend_from_slice(&s32.to_le_bytes());
        let off32 = if zip64 { u32::MAX } else { offset as u32 };
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&(e.mode.unwrap_or(0) << 16).to_le_bytes());
        central.extend_from_slice(&off32.to_le_bytes());
        central.extend_from_slice(name);
        central.extend_from_slice(&extra);
    }
    let cd_offset = out.len() as u64;
    let cd_size = central.len() as u64;
    out.extend_from_slice(&central);
    let n = entries.len() as u64;
    if zip64 {
        let z64_offset = out.len() as u64;
        out.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
        out.extend_from_slice(&44u64.to_le_bytes());
        out.extend_from_slice(&0x032Du16.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&cd_size.to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&z64_offset.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    let (n16, size32, off32) = if zip64 {
        (u16::MAX, u32::MAX, u32::MAX)
    } else {
        (n as u16, cd_size as u32, cd_offset as u32)
    };
    out.extend_from_slice(&n16.to_le_bytes());
    out.extend_from_slice(&n16.to_le_bytes());
    out.extend_from_slice(&size32.to_le_bytes());
    out.extend_from_slice(&off32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

pub fn wheel_text() -> Vec<u8> {
    b"Wheel-Version: 1.0\nGenerator: manywheel-tests (0.1)\nRoot-Is-Purelib: false\n\
Tag: cp311-cp311-manylinux_2_17_x86_64\nTag: cp311-cp311-manylinux2014_x86_64\n\n"
        .to_vec()
}

/// Pseudo-random bytes (xorshift), deterministic.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The payload of the standard test wheel (everything except RECORD).
pub fn payload() -> Vec<(String, Vec<u8>)> {
    let mut so = b"\x7fELF\x02\x01\x01\0".to_vec();
    so.extend(noise(5000, 7));
    vec![
        (
            "demo_pkg/__init__.py".into(),
            b"from ._ext import *\n".to_vec(),
        ),
        ("demo_pkg/_ext.cpython-311-x86_64-linux-gnu.so".into(), so),
        (
            "demo_pkg/a,b \"quoted\".txt".into(),
            b"comma and quotes\n".to_vec(),
        ),
        ("demo_pkg/empty.txt".into(), Vec::new()),
        (
            format!("{DIST}/METADATA"),
            b"Metadata-Version: 2.1\nName: demo_pkg\nVersion: 1.0\n".to_vec(),
        ),
        (format!("{DIST}/WHEEL"), wheel_text()),
    ]
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A correct RECORD for `files`, plus the RECORD row itself.
pub fn record_for(files: &[(String, Vec<u8>)]) -> String {
    let mut out = String::new();
    for (name, data) in files {
        out.push_str(&format!(
            "{},sha256={},{}\r\n",
            csv_field(name),
            hash_digest(data),
            data.len()
        ));
    }
    out.push_str(&format!("{DIST}/RECORD,,\r\n"));
    out
}

/// Entries of the standard valid wheel, all with `method`.
pub fn standard_entries(method: Method) -> Vec<ZipEntry> {
    let files = payload();
    let record = record_for(&files);
    let mut entries: Vec<ZipEntry> = files
        .iter()
        .map(|(n, d)| ZipEntry::new(n, d, method))
        .collect();
    entries.push(ZipEntry::new(
        &format!("{DIST}/RECORD"),
        record.as_bytes(),
        method,
    ));
    entries
}

/// Replaces (or adds) the RECORD entry.
pub fn set_record(entries: &mut Vec<ZipEntry>, record: &str) {
    let name = format!("{DIST}/RECORD");
    entries.retain(|e| e.name != name);
    entries.push(ZipEntry::new(&name, record.as_bytes(), Method::Deflate));
}

pub fn write_file(dir: &Path, file_name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(file_name);
    std::fs::write(&p, bytes).unwrap();
    p
}

pub fn write_wheel(dir: &Path, entries: &[ZipEntry], zip64: bool) -> PathBuf {
    write_file(dir, FILE_NAME, &build_zip(entries, zip64))
}

pub fn python3() -> Option<&'static str> {
    Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "python3")
}

/// Writes a zip with Python's `zipfile`. `files` are (name, data, deflate?) triples.
/// `force_zip64` passes `force_zip64=True` for each member and lowers `ZIP64_LIMIT` so that
/// the central directory and end records use zip64 too. Returns false if python3 is missing.
pub fn python_zip(path: &Path, files: &[(String, Vec<u8>, bool)], force_zip64: bool) -> bool {
    let Some(py) = python3() else {
        eprintln!("python3 not found: skipping the Python-zipfile part of this test");
        return false;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut spec = String::new();
    for (i, (name, data, deflate)) in files.iter().enumerate() {
        let f = dir.path().join(format!("m{i}"));
        std::fs::write(&f, data).unwrap();
        spec.push_str(&format!(
            "{}\t{}\t{}\n",
            f.display(),
            u8::from(*deflate),
            name
        ));
    }
    let spec_path = dir.path().join("spec.tsv");
    std::fs::write(&spec_path, spec).unwrap();
    let script = r#"
import sys, zipfile
out, spec, force = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
if force:
    zipfile.ZIP64_LIMIT = 1
    zipfile.ZIP_FILECOUNT_LIMIT = 1
with zipfile.ZipFile(out, "w") as z:
    for line in open(spec, encoding="utf-8").read().splitlines():
        src, deflate, name = line.split("\t", 2)
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED if deflate == "1" else zipfile.ZIP_STORED
        info.external_attr = 0o100644 << 16
        data = open(src, "rb").read()
        with z.open(info, "w", force_zip64=force) as w:
            w.write(data)
"#;
    let status = Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(path)
        .arg(&spec_path)
        .arg(if force_zip64 { "1" } else { "0" })
        .status()
        .unwrap();
    assert!(status.success(), "python zipfile failed");
    true
}
