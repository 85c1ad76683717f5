//! Truncated, corrupted and non-ELF input must produce an error, never a panic.

mod common;

use common::*;
use manywheel_elf::{is_elf, parse, parse_ident, Error};

fn fixtures(name: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for arch in [X86_64, S390X, ARMHF] {
        if !have_compiler(&arch) {
            continue;
        }
        let dir = work_dir(&format!("{name}-{}", arch.cc));
        let lib = build_lib(&arch, &dir, "libfix.so", &["-Wl,-rpath,/a:/b"]);
        let exe = build_exe(&arch, &dir, &lib, "main", &[]);
        for p in [lib, exe] {
            let data = std::fs::read(p).unwrap();
            out.push(strip_section_headers(&data));
            out.push(data);
        }
    }
    out
}

fn check(data: &[u8]) -> Result<(), Error> {
    let r = std::panic::catch_unwind(|| parse(data));
    match r {
        Ok(r) => r.map(|_| ()),
        Err(_) => panic!("parse panicked on {} bytes", data.len()),
    }
}

#[test]
fn empty_and_non_elf() {
    assert_eq!(parse(&[]), Err(Error::NotElf));
    assert_eq!(parse_ident(&[]), Err(Error::NotElf));
    assert_eq!(parse(b"\x7fEL"), Err(Error::NotElf));
    assert_eq!(parse(b"#!/bin/sh\necho hi\n"), Err(Error::NotElf));
    assert_eq!(parse(&[0u8; 4096]), Err(Error::NotElf));
    assert_eq!(parse(b"PK\x03\x04 not a wheel member"), Err(Error::NotElf));
    assert!(!is_elf(b"\x7fEL"));
    assert!(is_elf(b"\x7fELF"));
    assert!(matches!(parse(b"\x7fELF"), Err(Error::Truncated(_))));
    assert!(matches!(
        parse(b"\x7fELF\x03\x01\x01"),
        Err(Error::Malformed(_))
    ));
    assert!(matches!(
        parse(b"\x7fELF\x02\x07\x01"),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn parse_ident_needs_whole_header() {
    for data in fixtures("ident") {
        let full = parse(&data).unwrap().header;
        let header_len = if data[4] == 1 { 52 } else { 64 };
        assert_eq!(parse_ident(&data[..header_len]).unwrap(), full);
        assert_eq!(parse_ident(&data[..64]).unwrap(), full);
        for n in 0..header_len {
            assert!(parse_ident(&data[..n]).is_err(), "prefix {n}");
        }
    }
}

#[test]
fn every_prefix_is_an_error_or_ok() {
    for data in fixtures("prefix") {
        parse(&data).expect("the whole file parses");
        let step = (data.len() / 4000).max(1);
        let mut n = 0;
        while n < data.len() {
            let _ = check(&data[..n]);
            // Every byte of the headers, then a stride over the rest.
            n += if n < 1024 { 1 } else { step };
        }
    }
}

#[test]
fn random_byte_flips_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut errors = 0;
    let mut oks = 0;
    for data in fixtures("flips") {
        for _ in 0..1500 {
            let mut d = data.clone();
            let flips = 1 + rng.below(8);
            for _ in 0..flips {
                // Bias towards the headers and tables at the start of the file.
                let limit = if rng.below(2) == 0 {
                    d.len().min(4096)
                } else {
                    d.len()
                };
                let i = rng.below(limit);
                d[i] = match rng.below(4) {
                    0 => d[i] ^ (1 << rng.below(8)),
                    1 => 0xff,
                    2 => 0,
                    _ => rng.next() as u8,
                };
            }
            match check(&d) {
                Ok(()) => oks += 1,
                Err(_) => errors += 1,
            }
        }
    }
    eprintln!("byte flips: {oks} parsed, {errors} rejected");
}

/// Extreme values in header fields and dynamic entries.
#[test]
fn hostile_field_values() {
    let mut rng = Rng(42);
    for data in fixtures("hostile") {
        let len = data.len().min(8192);
        for _ in 0..600 {
            let mut d = data.clone();
            // Overwrite an aligned 4- or 8-byte field with an extreme value.
            let width = if rng.below(2) == 0 { 4 } else { 8 };
            let i = rng.below(len / width) * width;
            let v: u64 = match rng.below(5) {
                0 => u64::MAX,
                1 => u64::MAX / 2,
                2 => 0x7fff_ffff,
                3 => 0x8000_0000,
                _ => rng.next(),
            };
            let bytes = v.to_le_bytes();
            d[i..i + width].copy_from_slice(&bytes[..width]);
            let _ = check(&d);
        }
    }
}

#[test]
fn system_library_prefixes() {
    let path = std::path::Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    if !path.exists() {
        eprintln!("SKIP: {} not present", path.display());
        return;
    }
    let data = std::fs::read(path).unwrap();
    let step = data.len() / 300 + 1;
    for n in (0..data.len()).step_by(step) {
        let _ = check(&data[..n]);
    }
}
