//! Differential test of the tag order against `packaging` itself: for a grid of C library
//! versions, architectures and ABI-check outcomes, `packaging.tags._linux_platforms` is run
//! in the reference venv with the system facts forced (the glibc/musl version getters, the
//! platform string and — for armv7l/i686, which packaging checks against the running
//! interpreter's ELF header — the ABI check monkeypatched), and its list must equal ours.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use manywheel_compat::tags::{platform_tags, LinuxTagPlace};
use manywheel_policy::{Arch, Libc};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The reference venv's Python, if it has `packaging`.
fn reference_python() -> Option<PathBuf> {
    let venv = std::env::var_os("MANYWHEEL_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"));
    let py = venv.join("bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import packaging.tags"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

fn skip(why: &str) {
    let required = std::env::var_os("MANYWHEEL_REQUIRE_REFERENCE").is_some_and(|v| v != "0");
    assert!(!required, "reference missing: {why}");
    eprintln!("SKIP: {why}");
}

const SCRIPT: &str = r#"
import json, sys
import packaging
from packaging import tags, _manylinux, _musllinux

def version_tuple(v):
    out = []
    for p in v.split(".")[:2]:
        digits = "".join(ch for ch in p if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)

original_abi = _manylinux._have_compatible_abi
if hasattr(_manylinux, "_get_manylinux_module"):
    _manylinux._get_manylinux_module = lambda: None
result = {"version": packaging.__version__,
          "linux_first": version_tuple(packaging.__version__) >= (26, 3),
          "cases": []}
for case in json.load(sys.stdin):
    arch, libc, (major, minor), abi_ok = case["arch"], case["libc"], case["version"], case["abi_ok"]
    tags.sysconfig.get_platform = lambda arch=arch: "linux-" + arch
    if libc == "glibc":
        _manylinux._get_glibc_version = lambda v=(major, minor): _manylinux._GLibCVersion(*v)
        _musllinux._get_musl_version = lambda *a: None
    else:
        _manylinux._get_glibc_version = lambda: _manylinux._GLibCVersion(-1, -1)
        _musllinux._get_musl_version = lambda *a, v=(major, minor): _musllinux._MuslVersion(*v)
    if arch in ("armv7l", "i686"):
        _manylinux._have_compatible_abi = lambda *a, ok=abi_ok: ok
    else:
        _manylinux._have_compatible_abi = original_abi
    result["cases"].append(list(tags._linux_platforms(is_32bit=False)))
json.dump(result, sys.stdout)
"#;

struct Case {
    libc: Libc,
    version: (u32, u32),
    arch: Arch,
    abi_ok: bool,
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let glibc = [
        (2, 3),
        (2, 4),
        (2, 5),
        (2, 11),
        (2, 12),
        (2, 16),
        (2, 17),
        (2, 18),
        (2, 28),
        (2, 36),
        (2, 43),
        (3, 0),
        (3, 2),
    ];
    let musl = [(1, 0), (1, 1), (1, 2), (1, 7), (2, 0)];
    for arch in Arch::ALL {
        let abi = if matches!(arch, Arch::Armv7l | Arch::I686) {
            vec![true, false]
        } else {
            vec![true]
        };
        for &abi_ok in &abi {
            for &version in &glibc {
                v.push(Case {
                    libc: Libc::Glibc,
                    version,
                    arch,
                    abi_ok,
                });
            }
        }
        for &version in &musl {
            v.push(Case {
                libc: Libc::Musl,
                version,
                arch,
                abi_ok: true,
            });
        }
    }
    v
}

#[test]
fn tag_order_equals_packaging() {
    let Some(py) = reference_python() else {
        skip("no reference venv with packaging (scripts/setup.sh venv)");
        return;
    };
    let cases = cases();
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| {
            serde_json::json!({
                "arch": c.arch.name(),
                "libc": c.libc.to_string(),
                "version": [c.version.0, c.version.1],
                "abi_ok": c.abi_ok,
            })
        })
        .collect();
    let mut child = Command::new(&py)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let place = if result["linux_first"].as_bool().unwrap() {
        LinuxTagPlace::First
    } else {
        LinuxTagPlace::Last
    };
    let theirs = result["cases"].as_array().unwrap();
    assert_eq!(theirs.len(), cases.len());
    let mut compared = 0;
    for (c, t) in cases.iter().zip(theirs) {
        let theirs: Vec<String> = t
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        let ours = platform_tags(c.libc, c.version, c.arch, c.abi_ok, place);
        assert_eq!(
            ours, theirs,
            "{} {}.{} {} abi_ok={} (packaging {})",
            c.libc, c.version.0, c.version.1, c.arch, c.abi_ok, result["version"]
        );
        compared += theirs.len();
    }
    eprintln!(
        "{} cases, {compared} tags equal to packaging {}",
        cases.len(),
        result["version"]
    );
}
