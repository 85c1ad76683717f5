//! Synthetic wheels: valid ones round-trip, every kind of damage is reported as its own error.

mod common;

use common::*;
use manywheel_wheel::{hash_digest, Error, Wheel};

fn open_entries(entries: &[ZipEntry], zip64: bool) -> (tempfile::TempDir, Result<Wheel, Error>) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_wheel(dir.path(), entries, zip64);
    let w = Wheel::open(&path);
    (dir, w)
}

fn open_bytes(file_name: &str, bytes: &[u8]) -> (tempfile::TempDir, Result<Wheel, Error>) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), file_name, bytes);
    let w = Wheel::open(&path);
    (dir, w)
}

/// Opens, then checks every member against the payload it was built from.
fn assert_valid(w: &Wheel, entries: &[ZipEntry]) {
    assert_eq!(w.filename().to_string(), FILE_NAME);
    assert_eq!(w.dist_info(), DIST);
    assert_eq!(w.members().len(), entries.len());
    assert_eq!(
        w.metadata().tags,
        vec![
            "cp311-cp311-manylinux_2_17_x86_64",
            "cp311-cp311-manylinux2014_x86_64"
        ]
    );
    assert_eq!(w.metadata().wheel_version.as_deref(), Some("1.0"));
    assert_eq!(w.metadata().root_is_purelib, Some(false));
    assert_eq!(w.record().entries.len(), entries.len());
    for e in entries {
        let m = w.member(&e.name).expect("member listed");
        assert_eq!(m.size, e.data.len() as u64, "{}", e.name);
        assert_eq!(m.unix_mode, Some(0o100644));
        let data = w.read_member(&e.name).unwrap();
        assert_eq!(data, e.data, "{}", e.name);
    }
}

#[test]
fn wheel_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Wheel>();
}

#[test]
fn valid_wheel_round_trip_deflate() {
    let entries = standard_entries(Method::Deflate);
    let (_d, w) = open_entries(&entries, false);
    let w = w.unwrap();
    assert_valid(&w, &entries);
    let so = "demo_pkg/_ext.cpython-311-x86_64-linux-gnu.so";
    let m = w.member(so).unwrap();
    assert!(m.compressed_size > 0 && m.compressed_size != m.size);
    assert_eq!(w.read_prefix(so, 4).unwrap(), b"\x7fELF");
    assert!(w.member("nope").is_none());
    assert!(matches!(w.read_member("nope"), Err(Error::Metadata { .. })));
    assert_eq!(
        w.record_entry(so).unwrap().hash.as_ref().unwrap().1,
        hash_digest(&w.read_member(so).unwrap())
    );
    w.verify_record_listing().unwrap();
}

#[test]
fn valid_wheel_round_trip_stored() {
    let entries = standard_entries(Method::Stored);
    let (_d, w) = open_entries(&entries, false);
    let w = w.unwrap();
    assert_valid(&w, &entries);
    for m in w.members() {
        assert_eq!(m.compressed_size, m.size, "{}", m.name);
    }
}

#[test]
fn mixed_methods_and_large_members() {
    // Big enough to need several input chunks and several stored reads.
    let mut big_text = Vec::new();
    while big_text.len() < 3_000_000 {
        big_text.extend_from_slice(b"def f(x):\n    return x * 2  # repetitive, compresses well\n");
    }
    let big_noise = noise(2_500_000, 99);
    let mut files = payload();
    files.push(("demo_pkg/big.py".into(), big_text));
    files.push(("demo_pkg/big.bin".into(), big_noise));
    let record = record_for(&files);
    let mut entries: Vec<ZipEntry> = files
        .iter()
        .enumerate()
        .map(|(i, (n, d))| {
            let m = if i % 2 == 0 {
                Method::Stored
            } else {
                Method::Deflate
            };
            ZipEntry::new(n, d, m)
        })
        .collect();
    entries.push(ZipEntry::new(
        &format!("{DIST}/RECORD"),
        record.as_bytes(),
        Method::Stored,
    ));
    let (_d, w) = open_entries(&entries, false);
    let w = w.unwrap();
    assert_valid(&w, &entries);
    assert_eq!(w.read_prefix("demo_pkg/big.py", 9).unwrap(), b"def f(x):");
    assert_eq!(
        w.read_prefix("demo_pkg/big.bin", 1000).unwrap(),
        noise(1000, 99)
    );
}

#[test]
fn python_zipfile_wheel() {
    for deflate in [true, false] {
        let files: Vec<(String, Vec<u8>, bool)> = {
            let p = payload();
            let record = record_for(&p);
            let mut v: Vec<_> = p.into_iter().map(|(n, d)| (n, d, deflate)).collect();
            v.push((format!("{DIST}/RECORD"), record.into_bytes(), deflate));
            v
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        if !python_zip(&path, &files, false) {
            return;
        }
        let w = Wheel::open(&path).unwrap();
        for (name, data, _) in &files {
            assert_eq!(&w.read_member(name).unwrap(), data, "{name}");
        }
        let so = "demo_pkg/_ext.cpython-311-x86_64-linux-gnu.so";
        assert_eq!(w.read_prefix(so, 4).unwrap(), b"\x7fELF");
    }
}

#[test]
fn zip64_own_writer() {
    for method in [Method::Stored, Method::Deflate] {
        let entries = standard_entries(method);
        let (_d, w) = open_entries(&entries, true);
        assert_valid(&w.unwrap(), &entries);
    }
}

#[test]
fn zip64_python_force_zip64() {
    let p = payload();
    let record = record_for(&p);
    let mut files: Vec<_> = p.into_iter().map(|(n, d)| (n, d, true)).collect();
    files.push((format!("{DIST}/RECORD"), record.into_bytes(), false));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    if !python_zip(&path, &files, true) {
        return;
    }
    // Make sure Python really wrote zip64 end records.
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.windows(4).any(|w| w == 0x0606_4b50u32.to_le_bytes()));
    let w = Wheel::open(&path).unwrap();
    for (name, data, _) in &files {
        assert_eq!(&w.read_member(name).unwrap(), data, "{name}");
    }
}

#[test]
fn random_bytes_are_not_a_zip() {
    let (_d, w) = open_bytes(FILE_NAME, &noise(10_000, 3));
    let err = w.unwrap_err();
    assert!(matches!(err, Error::NotZip { .. }), "{err}");
    assert!(err.to_string().contains("not a zip archive"), "{err}");

    let (_d, w) = open_bytes(FILE_NAME, b"");
    assert!(matches!(w.unwrap_err(), Error::NotZip { .. }));
}

#[test]
fn truncated_zip() {
    let full = build_zip(&standard_entries(Method::Deflate), false);
    for cut in [full.len() / 2, full.len() - 1, full.len() - 30, 25] {
        let (_d, w) = open_bytes(FILE_NAME, &full[..cut]);
        let err = w.unwrap_err();
        assert!(
            matches!(err, Error::NotZip { .. } | Error::CorruptZip { .. }),
            "cut at {cut}: {err}"
        );
    }
    // Dropping bytes in the middle keeps the end record but breaks its offsets.
    let mut holed = full.clone();
    holed.drain(100..600);
    let (_d, w) = open_bytes(FILE_NAME, &holed);
    let err = w.unwrap_err();
    assert!(matches!(err, Error::CorruptZip { .. }), "{err}");
}

#[test]
fn duplicate_member() {
    let mut entries = standard_entries(Method::Deflate);
    entries.push(entries[0].clone());
    let (_d, w) = open_entries(&entries, false);
    match w.unwrap_err() {
        Error::DuplicateMember { member, .. } => assert_eq!(member, "demo_pkg/__init__.py"),
        e => panic!("unexpected {e}"),
    }
}

#[test]
fn unsafe_member_names() {
    for bad in [
        "../x",
        "demo_pkg/../../x",
        "/abs",
        "\\abs",
        "demo_pkg\\..\\..\\x",
        "C:/windows/x",
        "demo_pkg/nul\0byte",
    ] {
        let mut entries = standard_entries(Method::Deflate);
        entries.insert(0, ZipEntry::new(bad, b"evil", Method::Stored));
        let (_d, w) = open_entries(&entries, false);
        match w.unwrap_err() {
            Error::UnsafeMember { member, .. } => assert_eq!(member, bad),
            e => panic!("{bad:?}: unexpected {e}"),
        }
    }
    // Dots inside names are fine.
    let mut entries = standard_entries(Method::Deflate);
    let mut files = payload();
    files.push(("demo_pkg/..hidden/x..y".into(), b"ok".to_vec()));
    entries.insert(
        0,
        ZipEntry::new("demo_pkg/..hidden/x..y", b"ok", Method::Stored),
    );
    set_record(&mut entries, &record_for(&files));
    let (_d, w) = open_entries(&entries, false);
    assert_eq!(
        w.unwrap().read_member("demo_pkg/..hidden/x..y").unwrap(),
        b"ok"
    );
}

fn tampered_record(edit: impl Fn(&str, &[u8]) -> Option<String>) -> String {
    let mut out = String::new();
    for (name, data) in payload() {
        match edit(&name, &data) {
            Some(row) => out.push_str(&row),
            None => out.push_str(record_for(&[(name, data)]).lines().next().unwrap()),
        }
        out.push('\n');
    }
    out.push_str(&format!("{DIST}/RECORD,,\n"));
    out
}

#[test]
fn record_hash_mismatch() {
    let so = "demo_pkg/_ext.cpython-311-x86_64-linux-gnu.so";
    let record = tampered_record(|name, data| {
        (name == so).then(|| format!("{name},sha256={},{}", hash_digest(b"other"), data.len()))
    });
    let mut entries = standard_entries(Method::Deflate);
    set_record(&mut entries, &record);
    let (_d, w) = open_entries(&entries, false);
    let w = w.unwrap();
    match w.read_member(so).unwrap_err() {
        Error::RecordMismatch { member, reason, .. } => {
            assert_eq!(member, so);
            assert!(reason.contains("digest"), "{reason}");
        }
        e => panic!("unexpected {e}"),
    }
    // Prefix reads do not verify; other members are fine.
    assert_eq!(w.read_prefix(so, 4).unwrap(), b"\x7fELF");
    w.read_member("demo_pkg/__init__.py").unwrap();
}

#[test]
fn record_size_mismatch() {
    let so = "demo_pkg/_ext.cpython-311-x86_64-linux-gnu.so";
    let record = tampered_record(|name, data| {
        (name == so).then(|| format!("{name},sha256={},{}", hash_digest(data), data.len() + 1))
    });
    let mut entries = standard_entries(Method::Deflate);
    set_record(&mut entries, &record);
    let (_d, w) = open_entries(&entries, false);
    match w.unwrap().read_member(so).unwrap_err() {
        Error::RecordMismatch { member, reason, .. } => {
            assert_eq!(member, so);
            assert!(reason.contains("bytes"), "{reason}");
        }
        e => panic!("unexpected {e}"),
    }
}

#[test]
fn record_row_without_hash() {
    let record =
        tampered_record(|name, _| (name == "demo_pkg/__init__.py").then(|| format!("{name},,")));
    let mut entries = standard_entries(Method::Deflate);
    set_record(&mut entries, &record);
    let (_d, w) = open_entries(&entries, false);
    let err = w.unwrap().read_member("demo_pkg/__init__.py").unwrap_err();
    assert!(matches!(err, Error::RecordMismatch { .. }), "{err}");
}

#[test]
fn member_missing_from_record() {
    let mut entries = standard_entries(Method::Deflate);
    entries.insert(
        0,
        ZipEntry::new("demo_pkg/unlisted.py", b"x = 1\n", Method::Deflate),
    );
    let (_d, w) = open_entries(&entries, false);
    let w = w.unwrap();
    match w.read_member("demo_pkg/unlisted.py").unwrap_err() {
        Error::RecordMismatch { member, reason, .. } => {
            assert_eq!(member, "demo_pkg/unlisted.py");
            assert!(reason.contains("not listed"), "{reason}");
        }
        e => panic!("unexpected {e}"),
    }
    // RECORD itself needs no row of its own to be read.
    w.read_member(&format!("{DIST}/RECORD")).unwrap();
}

#[test]
fn record_lists_missing_file() {
    let mut record = tampered_record(|_, _| None);
    record.push_str(&format!(
        "demo_pkg/gone.py,sha256={},3\n",
        hash_digest(b"abc")
    ));
    let mut entries = standard_entries(Method::Deflate);
    set_record(&mut entries, &record);
    let (_d, w) = open_entries(&entries, false);
    match w.unwrap_err() {
        Error::RecordMismatch { member, reason, .. } => {
            assert_eq!(member, "demo_pkg/gone.py");
            assert!(reason.contains("not in the archive"), "{reason}");
        }
        e => panic!("unexpected {e}"),
    }
}

#[test]
fn missing_wheel_or_record() {
    let mut entries = standard_entries(Method::Deflate);
    entries.retain(|e| !e.name.ends_with("/WHEEL"));
    let (_d, w) = open_entries(&entries, false);
    match w.unwrap_err() {
        Error::Metadata { reason, .. } => assert!(reason.contains("WHEEL"), "{reason}"),
        e => panic!("unexpected {e}"),
    }

    let mut entries = standard_entries(Method::Deflate);
    entries.retain(|e| !e.name.ends_with("/RECORD"));
    let (_d, w) = open_entries(&entries, false);
    match w.unwrap_err() {
        Error::Metadata { reason, .. } => assert!(reason.contains("RECORD"), "{reason}"),
        e => panic!("unexpected {e}"),
    }
}

#[test]
fn dist_info_must_match_once() {
    // Wrong version.
    let entries: Vec<ZipEntry> = standard_entries(Method::Deflate)
        .into_iter()
        .map(|mut e| {
            e.name = e.name.replace(DIST, "demo_pkg-2.0.dist-info");
            e
        })
        .collect();
    let (_d, w) = open_entries(&entries, false);
    match w.unwrap_err() {
        Error::Metadata { reason, .. } => {
            assert!(reason.contains("demo_pkg-2.0.dist-info"), "{reason}")
        }
        e => panic!("unexpected {e}"),
    }
    // Differently spelled but equivalent name is accepted.
    let entries: Vec<ZipEntry> = standard_entries(Method::Deflate)
        .into_iter()
        .map(|mut e| {
            e.name = e.name.replace(DIST, "Demo.Pkg-1.0.dist-info");
            e
        })
        .collect();
    let files: Vec<(String, Vec<u8>)> = entries
        .iter()
        .filter(|e| !e.name.ends_with("RECORD"))
        .map(|e| (e.name.clone(), e.data.clone()))
        .collect();
    let mut entries: Vec<ZipEntry> = files
        .iter()
        .map(|(n, d)| ZipEntry::new(n, d, Method::Deflate))
        .collect();
    let record = record_for(&files).replace(DIST, "Demo.Pkg-1.0.dist-info");
    entries.push(ZipEntry::new(
        "Demo.Pkg-1.0.dist-info/RECORD",
        record.as_bytes(),
        Method::Deflate,
    ));
    let (_d, w) = open_entries(&entries, false);
    assert_eq!(w.unwrap().dist_info(), "Demo.Pkg-1.0.dist-info");
    // No dist-info at all.
    let entries = vec![ZipEntry::new("demo_pkg/__init__.py", b"", Method::Stored)];
    let (_d, w) = open_entries(&entries, false);
    assert!(matches!(w.unwrap_err(), Error::Metadata { .. }));
}

#[test]
fn unsupported_wheel_version() {
    let mut files = payload();
    for (n, d) in files.iter_mut() {
        if n.ends_with("/WHEEL") {
            *d = b"Wheel-Version: 2.0\nTag: py3-none-any\n".to_vec();
        }
    }
    let record = record_for(&files);
    let mut entries: Vec<ZipEntry> = files
        .iter()
        .map(|(n, d)| ZipEntry::new(n, d, Method::Deflate))
        .collect();
    entries.push(ZipEntry::new(
        &format!("{DIST}/RECORD"),
        record.as_bytes(),
        Method::Deflate,
    ));
    let (_d, w) = open_entries(&entries, false);
    match w.unwrap_err() {
        Error::Metadata { reason, .. } => assert!(reason.contains("Wheel-Version"), "{reason}"),
        e => panic!("unexpected {e}"),
    }
}

#[test]
fn bad_file_name_is_rejected_before_reading() {
    let bytes = build_zip(&standard_entries(Method::Deflate), false);
    for name in [
        "demo_pkg-1.0.whl",
        "demo_pkg-1.0-cp311-cp311-linux_x86_64.zip",
    ] {
        let (_d, w) = open_bytes(name, &bytes);
        assert!(matches!(w.unwrap_err(), Error::Filename { .. }), "{name}");
    }
    // Missing file: an I/O error naming the path.
    let err = Wheel::open(std::path::Path::new("/nonexistent/x-1.0-py3-none-any.whl")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/"), "{err}");
}

#[test]
fn crc_mismatch_is_corrupt() {
    let mut entries = standard_entries(Method::Deflate);
    entries[0].crc_override = Some(0xDEAD_BEEF);
    let (_d, w) = open_entries(&entries, false);
    let w = w.unwrap();
    let err = w.read_member(&entries[0].name).unwrap_err();
    assert!(matches!(err, Error::CorruptZip { .. }), "{err}");
    assert!(err.to_string().contains("CRC"), "{err}");
}

#[test]
fn declared_size_mismatch_is_corrupt() {
    for (method, delta) in [
        (Method::Deflate, 1i64),
        (Method::Deflate, -1),
        (Method::Stored, 1),
    ] {
        let mut entries = standard_entries(method);
        let e = &mut entries[1];
        e.size_override = Some((e.data.len() as i64 + delta) as u64);
        let name = e.name.clone();
        let (_d, w) = open_entries(&entries, false);
        let w = w.unwrap();
        let err = w.read_member(&name).unwrap_err();
        // Either the zip layer or RECORD's size catches it; never silently accepted.
        assert!(
            matches!(err, Error::CorruptZip { .. } | Error::RecordMismatch { .. }),
            "{err}"
        );
    }
    // Central directory claims a smaller size and RECORD agrees: the inflater must notice.
    let mut files = payload();
    let so = "demo_pkg/_ext.cpython-311-x86_64-linux-gnu.so";
    let mut entries = standard_entries(Method::Deflate);
    for e in entries.iter_mut().filter(|e| e.name == so) {
        e.size_override = Some(100);
    }
    for (n, d) in files.iter_mut().filter(|(n, _)| n == so) {
        let _ = n;
        d.truncate(100);
    }
    set_record(&mut entries, &record_for(&files));
    let (_d, w) = open_entries(&entries, false);
    let err = w.unwrap().read_member(so).unwrap_err();
    assert!(matches!(err, Error::CorruptZip { .. }), "{err}");
    assert!(err.to_string().contains("more than"), "{err}");
}

#[test]
fn corrupt_deflate_data() {
    let entries = standard_entries(Method::Deflate);
    let mut bytes = build_zip(&entries, false);
    let so = "demo_pkg/_ext.cpython-311-x86_64-linux-gnu.so";
    // Smash bytes near the end of the .so's compressed data.
    let pos = bytes
        .windows(so.len())
        .position(|w| w == so.as_bytes())
        .unwrap()
        + so.len();
    for b in &mut bytes[pos + 4000..pos + 4100] {
        *b = 0xff;
    }
    let (_d, w) = open_bytes(FILE_NAME, &bytes);
    let w = w.unwrap();
    let err = w.read_member(so).unwrap_err();
    assert!(matches!(err, Error::CorruptZip { .. }), "{err}");
    // The prefix is before the damage and still reads.
    assert_eq!(w.read_prefix(so, 4).unwrap(), b"\x7fELF");
}

#[test]
fn unsupported_method() {
    let mut entries = standard_entries(Method::Deflate);
    entries[0].method = Method::Other(12);
    let (_d, w) = open_entries(&entries, false);
    let w = w.unwrap();
    let err = w.read_member(&entries[0].name).unwrap_err();
    assert!(
        err.to_string()
            .contains("unsupported compression method 12"),
        "{err}"
    );
    assert!(w.read_prefix(&entries[0].name, 4).is_err());
}

#[test]
fn read_prefix_edges() {
    for method in [Method::Stored, Method::Deflate] {
        let entries = standard_entries(method);
        let (_d, w) = open_entries(&entries, false);
        let w = w.unwrap();
        for e in &entries {
            assert_eq!(w.read_prefix(&e.name, 0).unwrap(), b"");
            for n in [1, 3, 64, e.data.len(), e.data.len() + 10] {
                let want = &e.data[..n.min(e.data.len())];
                assert_eq!(w.read_prefix(&e.name, n).unwrap(), want, "{} {n}", e.name);
            }
        }
    }
}

#[test]
fn directories_and_modes() {
    let mut entries = standard_entries(Method::Deflate);
    let mut dir = ZipEntry::new("demo_pkg/", b"", Method::Stored);
    dir.mode = Some(0o040755);
    entries.insert(0, dir);
    let (_d, w) = open_entries(&entries, false);
    let w = w.unwrap();
    let m = w.member("demo_pkg/").unwrap();
    assert!(m.is_dir());
    assert_eq!(m.unix_mode, Some(0o040755));
    assert_eq!(w.read_member("demo_pkg/").unwrap(), b"");
}

#[test]
fn parallel_reads_of_synthetic_wheel() {
    use rayon::prelude::*;
    let entries = standard_entries(Method::Deflate);
    let (_d, w) = open_entries(&entries, false);
    let w = w.unwrap();
    (0..50).into_par_iter().for_each(|i| {
        let e = &entries[i % entries.len()];
        assert_eq!(w.read_member(&e.name).unwrap(), e.data);
    });
}
