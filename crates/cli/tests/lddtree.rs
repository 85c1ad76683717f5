//! Differential test of `manywheel lddtree` against the real dynamic loaders: the host's `ldd`,
//! and each cross sysroot's own `ld.so --list` run under qemu-user (`-L ROOT`).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// `name => path` pairs of a loader listing, loader itself and vdso left out.
fn parse_listing(text: &str, root: &Path) -> BTreeMap<String, Option<PathBuf>> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some((name, rest)) = line.trim().split_once(" => ") else {
            continue;
        };
        if name.starts_with("ld-") || name.starts_with("ld64") || name.contains("vdso") {
            continue;
        }
        let path = rest.split(" (").next().unwrap_or("").trim();
        let resolved = if path == "not found" {
            None
        } else {
            let host = root.join(path.trim_start_matches('/'));
            Some(host.canonicalize().unwrap_or(host))
        };
        out.insert(name.to_string(), resolved);
    }
    out
}

/// Our resolution as `name => canonical host path`.
fn ours(file: &Path, sysroot: Option<&Path>) -> BTreeMap<String, Option<PathBuf>> {
    let mut cmd = manywheel();
    cmd.arg("lddtree").arg("--json").arg(file);
    if let Some(r) = sysroot {
        cmd.arg("--sysroot").arg(r);
    }
    let out = cmd.output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["libraries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| {
            let n = l["name"].as_str().unwrap();
            !(n.starts_with("ld-") || n.starts_with("ld64"))
        })
        .map(|l| {
            let p = l["path"].as_str().map(|p| {
                let p = PathBuf::from(p);
                p.canonicalize().unwrap_or(p)
            });
            (l["name"].as_str().unwrap().to_string(), p)
        })
        .collect()
}

#[test]
fn host_files_resolve_like_ldd() {
    let candidates = [
        "/usr/bin/python3.11",
        "/usr/bin/ls",
        "/usr/bin/git",
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/bin/readelf",
        "/usr/bin/qemu-img",
    ];
    let mut checked = 0;
    for file in candidates.iter().map(Path::new).filter(|p| p.exists()) {
        let out = Command::new("ldd").arg(file).output().unwrap();
        let theirs = parse_listing(&String::from_utf8_lossy(&out.stdout), Path::new("/"));
        let ours = ours(file, None);
        assert_eq!(ours, theirs, "{}", file.display());
        checked += 1;
    }
    assert!(checked >= 3, "too few host files to compare");
}

/// (sysroot, qemu binary, loader glob inside ROOT/lib)
const CROSS: &[(&str, &str, &str)] = &[
    (
        "/usr/aarch64-linux-gnu",
        "qemu-aarch64-static",
        "ld-linux-aarch64.so.1",
    ),
    (
        "/usr/powerpc64le-linux-gnu",
        "qemu-ppc64le-static",
        "ld64.so.2",
    ),
    ("/usr/s390x-linux-gnu", "qemu-s390x-static", "ld64.so.1"),
    (
        "/usr/arm-linux-gnueabihf",
        "qemu-arm-static",
        "ld-linux-armhf.so.3",
    ),
    ("/usr/i686-linux-gnu", "qemu-i386-static", "ld-linux.so.2"),
    (
        "/usr/riscv64-linux-gnu",
        "qemu-riscv64-static",
        "ld-linux-riscv64-lp64d.so.1",
    ),
];

#[test]
fn cross_sysroots_resolve_like_their_own_loader_under_qemu() {
    if !have("qemu-aarch64-static") {
        return skip("qemu-user-static not installed");
    }
    let mut checked = 0;
    for (root, qemu, loader) in CROSS {
        let root = Path::new(root);
        let ld = root.join("lib").join(loader);
        if !ld.exists() || !have(qemu) {
            eprintln!("SKIP {}: no loader or {qemu}", root.display());
            continue;
        }
        for lib in [
            "libstdc++.so.6",
            "libm.so.6",
            "libgcc_s.so.1",
            "libresolv.so.2",
        ] {
            let file = root.join("lib").join(lib);
            if !file.exists() {
                continue;
            }
            let out = Command::new(qemu)
                .arg("-L")
                .arg(root)
                .arg(&ld)
                .arg("--list")
                .arg(&file)
                .output()
                .unwrap();
            let theirs = parse_listing(&String::from_utf8_lossy(&out.stdout), root);
            assert!(
                !theirs.is_empty(),
                "{qemu} --list {} printed nothing",
                file.display()
            );
            let ours = ours(&file, Some(root));
            assert_eq!(ours, theirs, "{}", file.display());
            // Nothing resolved outside the sysroot.
            for p in ours.values().flatten() {
                assert!(
                    p.starts_with(root.canonicalize().unwrap()),
                    "{} leaked to {}",
                    file.display(),
                    p.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 6, "too few cross files compared: {checked}");
}

#[test]
fn foreign_file_without_sysroot_resolves_nothing_on_the_host() {
    let file = Path::new("/usr/aarch64-linux-gnu/lib/libstdc++.so.6");
    if !file.exists() {
        return skip("no aarch64 cross libstdc++");
    }
    // Copy it out of its sysroot so that nothing but the host could be searched.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("libstdc++.so.6");
    std::fs::copy(file, &copy).unwrap();
    let out = manywheel().arg("lddtree").arg(&copy).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "libraries must be reported missing"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("libc.so.6 => not found"), "{text}");
    assert!(
        !text.contains("x86_64-linux-gnu"),
        "host library leaked: {text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no --sysroot"));
}
