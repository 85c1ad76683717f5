//! A small Debian mirror written on disk for offline tests (`file://` URL): Release, a
//! Packages index and `.deb` files built here (ar + control.tar.gz + data.tar.{gz,xz,zst}),
//! with knobs to damage each of them.

#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// One member of a fake package's data tarball.
#[derive(Clone, Debug)]
pub enum Member {
    Dir(&'static str),
    File(&'static str, Vec<u8>, u32),
    Symlink(&'static str, String),
    HardLink(&'static str, &'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gz,
    Xz,
    Zst,
}

/// A fake binary package.
#[derive(Clone, Debug)]
pub struct FakePackage {
    pub name: &'static str,
    pub version: &'static str,
    pub arch: &'static str,
    pub depends: &'static str,
    pub provides: &'static str,
    pub members: Vec<Member>,
    pub compression: Compression,
    /// Damage: cut the .deb to this many bytes (the index then lists the cut file's checksum
    /// unless `index_lists_original` is set).
    pub truncate_to: Option<usize>,
    pub index_lists_original: bool,
    /// Damage: the index lists a wrong SHA256.
    pub wrong_sha256: bool,
}

impl FakePackage {
    pub fn new(name: &'static str, depends: &'static str, members: Vec<Member>) -> FakePackage {
        FakePackage {
            name,
            version: "1.0-1",
            arch: "amd64",
            depends,
            provides: "",
            members,
            compression: Compression::Gz,
            truncate_to: None,
            index_lists_original: false,
            wrong_sha256: false,
        }
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A minimal x86-64 ELF executable header with a PT_INTERP naming `interp`.
pub fn fake_elf_x86_64(interp: &str) -> Vec<u8> {
    let mut interp_bytes = interp.as_bytes().to_vec();
    interp_bytes.push(0);
    let mut e = Vec::new();
    e.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    e.extend_from_slice(&[0; 8]);
    e.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&0u64.to_le_bytes()); // entry
    e.extend_from_slice(&64u64.to_le_bytes()); // phoff
    e.extend_from_slice(&0u64.to_le_bytes()); // shoff
    e.extend_from_slice(&0u32.to_le_bytes()); // flags
    e.extend_from_slice(&64u16.to_le_bytes());
    e.extend_from_slice(&56u16.to_le_bytes());
    e.extend_from_slice(&1u16.to_le_bytes()); // phnum
    e.extend_from_slice(&64u16.to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    let off = 64u64 + 56;
    e.extend_from_slice(&3u32.to_le_bytes()); // PT_INTERP
    e.extend_from_slice(&4u32.to_le_bytes());
    e.extend_from_slice(&off.to_le_bytes());
    e.extend_from_slice(&off.to_le_bytes());
    e.extend_from_slice(&off.to_le_bytes());
    e.extend_from_slice(&(interp_bytes.len() as u64).to_le_bytes());
    e.extend_from_slice(&(interp_bytes.len() as u64).to_le_bytes());
    e.extend_from_slice(&1u64.to_le_bytes());
    e.extend_from_slice(&interp_bytes);
    e
}

/// The usual pair: python3 (an x86-64 "executable") needing libc6 (which has the loader).
pub fn python_and_libc() -> Vec<FakePackage> {
    let python = FakePackage::new(
        "python3",
        "libc6 (>= 2.30), awk-virtual",
        vec![
            Member::Dir("./"),
            Member::Dir("./usr/"),
            Member::Dir("./usr/bin/"),
            Member::File(
                "./usr/bin/python3.11",
                fake_elf_x86_64("/lib64/ld-linux-x86-64.so.2"),
                0o755,
            ),
            Member::Symlink("./usr/bin/python3", "python3.11".into()),
            Member::HardLink("./usr/bin/python3.11-hard", "./usr/bin/python3.11"),
        ],
    );
    let mut libc = FakePackage::new(
        "libc6",
        "",
        vec![
            Member::Dir("./"),
            Member::Dir("./lib/"),
            Member::Dir("./lib/x86_64-linux-gnu/"),
            Member::File(
                "./lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                b"loader".to_vec(),
                0o755,
            ),
            Member::File("./lib/x86_64-linux-gnu/libc.so.6", b"libc".to_vec(), 0o644),
            Member::Dir("./lib64/"),
            Member::Symlink(
                "./lib64/ld-linux-x86-64.so.2",
                "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2".into(),
            ),
            Member::Dir("./etc/ld.so.conf.d/"),
            Member::File(
                "./etc/ld.so.conf.d/x86_64-linux-gnu.conf",
                b"# multiarch\n/usr/local/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n".to_vec(),
                0o644,
            ),
        ],
    );
    libc.version = "2.36-9+deb12u4";
    libc.compression = Compression::Xz;
    let mut awk = FakePackage::new(
        "mawk",
        "libc6",
        vec![
            Member::Dir("./usr/bin/"),
            Member::File("./usr/bin/mawk", b"awk".to_vec(), 0o755),
        ],
    );
    awk.provides = "awk-virtual";
    awk.compression = Compression::Zst;
    vec![python, libc, awk]
}

fn tar_header(path: &str, kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    // Raw name bytes: tar's set_path refuses `..`, which the damage tests need.
    let name = &mut h.as_old_mut().name;
    name.fill(0);
    name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h
}

fn data_tar(members: &[Member]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        match m {
            Member::Dir(p) => {
                let mut h = tar_header(p, tar::EntryType::Directory, 0, 0o755);
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
            Member::File(p, data, mode) => {
                let mut h = tar_header(p, tar::EntryType::Regular, data.len() as u64, *mode);
                h.set_cksum();
                b.append(&h, &data[..]).unwrap();
            }
            Member::Symlink(p, target) => {
                let mut h = tar_header(p, tar::EntryType::Symlink, 0, 0o777);
                h.set_link_name(target).unwrap();
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
            Member::HardLink(p, target) => {
                let mut h = tar_header(p, tar::EntryType::Link, 0, 0o755);
                h.set_link_name(target).unwrap();
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        let header = format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            name,
            1_700_000_000,
            0,
            0,
            "100644",
            data.len()
        );
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Build the .deb bytes of a package.
pub fn build_deb(p: &FakePackage) -> Vec<u8> {
    let control = format!(
        "Package: {}\nVersion: {}\nArchitecture: {}\nDescription: test\n",
        p.name, p.version, p.arch
    );
    let control_tar = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar_header(
            "./control",
            tar::EntryType::Regular,
            control.len() as u64,
            0o644,
        );
        h.set_cksum();
        b.append(&h, control.as_bytes()).unwrap();
        gzip(&b.into_inner().unwrap())
    };
    let data = data_tar(&p.members);
    let (data_name, data) = match p.compression {
        Compression::Gz => ("data.tar.gz", gzip(&data)),
        Compression::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(&data).unwrap();
            ("data.tar.xz", e.finish().unwrap())
        }
        Compression::Zst => (
            "data.tar.zst",
            zstd::stream::encode_all(&data[..], 3).unwrap(),
        ),
    };
    ar(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", &control_tar),
        (data_name, &data),
    ])
}

/// Write a mirror with these packages for suite `bookworm`, architecture amd64. Returns its
/// `file://` URL.
pub fn write_mirror(dir: &Path, packages: &[FakePackage]) -> String {
    write_mirror_with(dir, packages, false)
}

/// Like [`write_mirror`]; `bad_index_sum` makes the Release file list a wrong SHA256 for the
/// Packages index.
pub fn write_mirror_with(dir: &Path, packages: &[FakePackage], bad_index_sum: bool) -> String {
    let mut index = String::new();
    for p in packages {
        let full = build_deb(p);
        let served = match p.truncate_to {
            Some(n) => full[..n.min(full.len())].to_vec(),
            None => full.clone(),
        };
        let listed = if p.index_lists_original {
            &full
        } else {
            &served
        };
        let rel = format!("pool/main/{}_{}_{}.deb", p.name, p.version, p.arch);
        let path = dir.join(&rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &served).unwrap();
        let sha = if p.wrong_sha256 {
            sha256_hex(b"something else")
        } else {
            sha256_hex(listed)
        };
        index.push_str(&format!(
            "Package: {}\nVersion: {}\nArchitecture: {}\nMulti-Arch: same\n",
            p.name, p.version, p.arch
        ));
        if !p.depends.is_empty() {
            index.push_str(&format!("Depends: {}\n", p.depends));
        }
        if !p.provides.is_empty() {
            index.push_str(&format!("Provides: {}\n", p.provides));
        }
        index.push_str(&format!(
            "Filename: {rel}\nSize: {}\nSHA256: {sha}\nDescription: fake\n long\n\n",
            listed.len()
        ));
    }
    let gz = gzip(index.as_bytes());
    let suite_dir = dir.join("dists/bookworm");
    let index_path = suite_dir.join("main/binary-amd64/Packages.gz");
    fs::create_dir_all(index_path.parent().unwrap()).unwrap();
    fs::write(&index_path, &gz).unwrap();
    let sum = if bad_index_sum {
        sha256_hex(b"not it")
    } else {
        sha256_hex(&gz)
    };
    let release = format!(
        "Origin: Test\nSuite: stable\nCodename: bookworm\nArchitectures: amd64 arm64\nComponents: main\nSHA256:\n {sum} {} main/binary-amd64/Packages.gz\n",
        gz.len()
    );
    // Only a plain Release file: the InRelease → Release fallback is exercised too.
    fs::write(suite_dir.join("Release"), release).unwrap();
    format!("file://{}", dir.display())
}

/// Every entry below `dir` (relative paths), for "nothing left behind" checks.
pub fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}
