//! Bad input to the patcher: not ELF, truncated, corrupted, static, or a bad request. Always a
//! clear error (or a file that reads back), never a panic; the input is never modified.

#[path = "patch_common.rs"]
mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};

use manywheel_elf::{parse, patch, Error, Patch, PatchError, RpathChange, RpathKind};
use support::*;

fn repair() -> Patch {
    Patch {
        set_soname: Some("libfoo-0123abcd0123abcd.so.1".into()),
        replace_needed: vec![("libc.so.6".into(), "libc-0123abcd.so.6".into())],
        add_needed: vec!["libextra.so".into()],
        set_rpath: Some(RpathChange::Set {
            path: "$ORIGIN/../x.libs".into(),
            kind: RpathKind::Rpath,
        }),
        ..Patch::default()
    }
}

/// Patch without panicking; a successful result must read back.
fn try_patch(data: &[u8], p: &Patch) -> Result<(), PatchError> {
    let copy = data.to_vec();
    let r = catch_unwind(AssertUnwindSafe(|| patch(data, p)))
        .unwrap_or_else(|_| panic!("patch panicked on {} bytes", data.len()));
    assert_eq!(copy, data, "input modified");
    let out = r?;
    parse(&out.data).expect("a patched file reads back");
    Ok(())
}

fn fixtures(t: &Target, test: &str) -> Vec<Vec<u8>> {
    let dir = work_dir(&format!("bad-{test}-{}", t.name));
    let src = dir.join("lib.c");
    std::fs::write(&src, "int f(int x) { return x + 1; }\n").unwrap();
    let lib = dir.join("libfoo.so");
    t.cc(
        &lib,
        &[
            "-shared",
            "-fPIC",
            src.to_str().unwrap(),
            "-Wl,-soname,libfoo.so.1",
        ],
    );
    let main = dir.join("main.c");
    std::fs::write(&main, "int f(int); int main(void) { return f(1) - 2; }\n").unwrap();
    let exe = dir.join("main");
    t.cc(&exe, &[main.to_str().unwrap(), lib.to_str().unwrap()]);
    let mut out = Vec::new();
    for p in [lib, exe] {
        let d = std::fs::read(p).unwrap();
        out.push(strip_section_headers(&d));
        out.push(d);
    }
    out
}

#[test]
fn not_elf() {
    for data in [
        &b""[..],
        b"\x7fEL",
        b"#!/bin/sh\necho hi\n",
        &[0u8; 4096],
        b"PK\x03\x04 a zip file",
    ] {
        assert_eq!(
            try_patch(data, &repair()),
            Err(PatchError::Elf(Error::NotElf))
        );
    }
    // Bad class / byte order.
    let mut d = vec![0u8; 64];
    d[..4].copy_from_slice(b"\x7fELF");
    d[4] = 3;
    d[5] = 1;
    assert!(matches!(
        try_patch(&d, &repair()),
        Err(PatchError::Elf(Error::Malformed(_)))
    ));
}

#[test]
fn truncated_files() {
    for t in [X86_64, S390X, ARMV7L] {
        if !t.available() {
            continue;
        }
        let tmp = work_dir(&format!("truncated-{}", t.name)).join("f");
        for data in fixtures(&t, "truncated") {
            // What a file needs: everything with section headers (their table is last),
            // else what its segments cover (the rest may be cut off, as sstrip does).
            let shoff = if data[4] == 2 {
                &data[40..48]
            } else {
                &data[32..36]
            };
            let needed = if shoff.iter().all(|&b| b == 0) {
                std::fs::write(&tmp, &data).unwrap();
                segments(&tmp)
                    .iter()
                    .map(|s| (s.offset + s.filesz) as usize)
                    .max()
                    .unwrap()
            } else {
                data.len()
            };
            // Every prefix up to past the dynamic tables, then coarser steps.
            let mut len = 0;
            while len < needed {
                let e = try_patch(&data[..len], &repair());
                assert!(e.is_err(), "{}: a {len}-byte prefix patched", t.name);
                len += if len < 4096 { 1 } else { 997 };
            }
            try_patch(&data, &repair()).unwrap();
        }
    }
}

#[test]
fn corrupted_files_never_panic() {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    // PATCH_FUZZ_ITERS=100000 for a longer run.
    let iters: usize = std::env::var("PATCH_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    for t in [X86_64, S390X, ARMV7L] {
        if !t.available() {
            continue;
        }
        let mut ok = 0;
        for data in fixtures(&t, "corrupted") {
            for _ in 0..iters {
                let mut d = data.clone();
                // Mostly the headers and the tables right after them, sometimes anywhere.
                for _ in 0..1 + next() % 4 {
                    let span = if next() % 4 == 0 { d.len() } else { 2048 };
                    let i = (next() as usize) % span.min(d.len());
                    d[i] = match next() % 3 {
                        0 => 0,
                        1 => 0xff,
                        _ => next() as u8,
                    };
                }
                if try_patch(&d, &repair()).is_ok() {
                    ok += 1;
                }
            }
        }
        // Most corruptions leave something patchable: the test does reach the writer.
        assert!(ok > 100, "{}: only {ok} corrupted files patched", t.name);
    }
}

#[test]
fn static_files_and_bad_requests() {
    if !X86_64.available() {
        return;
    }
    let dir = work_dir("bad-static");
    let src = dir.join("s.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
    let exe = dir.join("static");
    X86_64.cc(&exe, &["-static", src.to_str().unwrap()]);
    let data = std::fs::read(&exe).unwrap();
    match try_patch(&data, &repair()) {
        Err(PatchError::Elf(Error::Malformed(m))) => assert!(m.contains("static"), "{m}"),
        other => panic!("static executable: {other:?}"),
    }
    let pie = dir.join("static-pie");
    X86_64.cc(&pie, &["-static-pie", src.to_str().unwrap()]);
    let data = std::fs::read(&pie).unwrap();
    match try_patch(&data, &repair()) {
        Err(PatchError::Unsupported(m)) => assert!(m.contains("static-pie"), "{m}"),
        other => panic!("static pie: {other:?}"),
    }

    let lib = &fixtures(&X86_64, "requests")[1];
    for (p, what) in [
        (
            Patch {
                set_soname: Some(String::new()),
                ..Patch::default()
            },
            "empty",
        ),
        (
            Patch {
                add_needed: vec!["lib\0x.so".into()],
                ..Patch::default()
            },
            "NUL",
        ),
        (
            Patch {
                replace_needed: vec![("libc.so.6".into(), String::new())],
                ..Patch::default()
            },
            "empty",
        ),
    ] {
        match try_patch(lib, &p) {
            Err(PatchError::Invalid(m)) => assert!(m.contains(what), "{m}"),
            other => panic!("{p:?}: {other:?}"),
        }
    }
    // An empty patch, or one already in effect, returns the input.
    let out = patch(lib, &Patch::default()).unwrap();
    assert!(out.data == *lib && !out.report.changed());
    let out = patch(
        lib,
        &Patch {
            set_soname: Some("libfoo.so.1".into()),
            remove_needed: vec!["libnothere.so".into()],
            replace_needed: vec![("libnothere.so".into(), "libx.so".into())],
            set_rpath: Some(RpathChange::Remove),
            ..Patch::default()
        },
    )
    .unwrap();
    assert!(
        out.data == *lib && !out.report.changed(),
        "{:?}",
        out.report
    );
}
