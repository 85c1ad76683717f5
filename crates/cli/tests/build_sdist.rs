//! Acceptance: real third-party sdists from PyPI, pinned by sha256, built by `manywheel build
//! SDIST` for x86_64, i686, aarch64, ppc64le and s390x with the host's cross compilers, then
//! checked with `manywheel test` (under emulation for the foreign arches):
//! - mmh3 5.3.1, a setuptools C extension: the README's values and an independent pure-Python
//!   MurmurHash3 over 268 inputs (`data/check_mmh3.py`; s390x is big-endian);
//! - pycairo 1.29.2, a meson-python project finding cairo with pkg-config in the target
//!   sysroot (a Meson cross file with qemu as exe_wrapper): cairo and its 13 dependencies are
//!   grafted, and the wheel draws and reads back pixels and a PNG (`data/check_pycairo.py`) in
//!   targets that have the whitelisted X11 libraries but no cairo at all, so the grafted copies
//!   are the ones used.
//!
//! Online (PyPI, Debian mirror): skipped when unreachable unless MANYWHEEL_REQUIRE_REFERENCE=1.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

mod common;
use common::targets::{manywheel_in, online_cache};
use common::{repo_root, skip};

const MMH3: (&str, &str) = (
    "8d/3c/eb1d82a87c504259dac5ce1c7de7587b68ffac841b55d23f8ea2c9df8422/mmh3-5.3.1.tar.gz",
    "bd86d0c86b52332319d981d03781ff77811a29db544a69902dc06b5506bb3e19",
);
const PYCAIRO: (&str, &str) = (
    "bb/5e/19ab2572981a996ce96b853a189d2dcced40506b67d9555a7568457abcf2/pycairo-1.29.2.tar.gz",
    "3e69fff74fe64f5ba2dfa31f67c6bdf26413342574047437d2ac520d35e9a489",
);

/// Download (once) and verify an sdist; `None` (skip) when PyPI is unreachable.
fn fetch_sdist(dir: &std::path::Path, (path, sha256): (&str, &str)) -> Option<PathBuf> {
    let name = path.rsplit('/').next().unwrap();
    let dest = dir.join(name);
    let sha = |p: &std::path::Path| {
        let out = std::process::Command::new("sha256sum")
            .arg(p)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string()
    };
    if dest.is_file() && sha(&dest) == sha256 {
        return Some(dest);
    }
    std::fs::create_dir_all(dir).unwrap();
    let tmp = dir.join(format!("{name}.part"));
    // files.pythonhosted.org, or PyPI's own /packages/ path where only pypi.org is reachable
    for base in [
        "https://files.pythonhosted.org/packages/",
        "https://pypi.org/packages/packages/",
    ] {
        let ok = std::process::Command::new("curl")
            .args(["-sfL", "--max-time", "120", "-o"])
            .arg(&tmp)
            .arg(format!("{base}{path}"))
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            assert_eq!(sha(&tmp), sha256, "{base}{path}: wrong sha256");
            std::fs::rename(&tmp, &dest).unwrap();
            return Some(dest);
        }
    }
    skip(&format!("PyPI unreachable: cannot fetch {name}"));
    None
}

/// Build `sdist` for the five arches (cross); the wheels.
fn build_five(
    cache: &std::path::Path,
    sdist: &std::path::Path,
    wh: &std::path::Path,
    extra: &[&str],
) -> Vec<(String, PathBuf, Value)> {
    let out = manywheel_in(cache)
        .arg("build")
        .arg(sdist)
        .args([
            "--arch",
            "x86_64,i686,aarch64,ppc64le,s390x",
            "--json",
            "--quiet",
            "-w",
        ])
        .arg(wh)
        .args(extra)
        .timeout(Duration::from_secs(1800))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let reports: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports.len(), 5);
    reports
        .into_iter()
        .map(|r| {
            assert_eq!(r["ok"], true, "{r:#}");
            assert_eq!(r["mode"], "cross", "{r:#}");
            let arch = r["arch"].as_str().unwrap().to_string();
            let w = PathBuf::from(r["wheel"].as_str().unwrap());
            let name = w.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.ends_with(&format!("_{arch}.whl")), "{name}");
            (arch, w, r)
        })
        .collect()
}

/// `manywheel test` with a check script of data/; asserts every run passed with `want(arch)`
/// in its output.
fn test_all(
    cache: &std::path::Path,
    wheels: &[PathBuf],
    script: &str,
    want: impl Fn(&str) -> String,
) {
    let data = repo_root().join("crates/cli/tests/data");
    let out = manywheel_in(cache)
        .args(["test", "--json", "--project"])
        .arg(&data)
        .args(["--command", &format!("python {{project}}/{script}")])
        .args(wheels)
        .timeout(Duration::from_secs(1200))
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["results"].as_array().unwrap().len(), wheels.len());
    for r in report["results"].as_array().unwrap() {
        let arch = r["arch"].as_str().unwrap();
        assert_eq!(r["status"], "passed", "{r:#}");
        let native = arch == "x86_64" || arch == "i686";
        assert_eq!(r["mode"], if native { "native" } else { "emulated" });
        let tail = r["output_tail"].as_str().unwrap();
        assert!(tail.contains(&want(arch)), "{arch}: {tail}");
    }
}

#[test]
fn mmh3_sdist_builds_for_five_arches_and_computes_the_same_hashes() {
    if !common::have("aarch64-linux-gnu-gcc") {
        return skip("no cross gcc (scripts/setup.sh installs them)");
    }
    let Some(cache) = online_cache() else {
        return;
    };
    // A cache per package set: adding packages replaces a target's tree under its users.
    let cache = cache.join("build-mmh3");
    let Some(sdist) = fetch_sdist(&cache.join("sdists"), MMH3) else {
        return;
    };
    let wh = tempfile::tempdir().unwrap();
    let built = build_five(&cache, &sdist, wh.path(), &[]);
    for (_, w, r) in &built {
        let name = w.file_name().unwrap().to_string_lossy();
        assert!(
            name.starts_with("mmh3-5.3.1-cp311-cp311-manylinux"),
            "{name}"
        );
        // Nothing to graft: mmh3 needs only libc.
        assert_eq!(
            r["provenance"]["repair"]["grafted"],
            serde_json::json!([]),
            "{r:#}"
        );
    }
    let wheels: Vec<PathBuf> = built.into_iter().map(|b| b.1).collect();
    test_all(&cache, &wheels, "check_mmh3.py", |arch| {
        let order = if arch == "s390x" { "big" } else { "little" };
        format!("{order} 268 hashes")
    });
}

#[test]
fn pycairo_meson_sdist_builds_for_five_arches_with_cairo_grafted() {
    if !common::have("aarch64-linux-gnu-gcc") || !common::have("pkg-config") {
        return skip("no cross gcc or pkg-config (scripts/setup.sh installs them)");
    }
    let Some(plain) = online_cache() else {
        return;
    };
    let cache = plain.join("build-cairo");
    let Some(sdist) = fetch_sdist(&cache.join("sdists"), PYCAIRO) else {
        return;
    };
    let wh = tempfile::tempdir().unwrap();
    let built = build_five(&cache, &sdist, wh.path(), &["--package", "libcairo2-dev"]);
    for (arch, w, r) in &built {
        let name = w.file_name().unwrap().to_string_lossy();
        assert!(
            name.starts_with("pycairo-1.29.2-cp311-cp311-manylinux"),
            "{name}"
        );
        let grafted = r["provenance"]["repair"]["grafted"].to_string();
        for lib in [
            "libcairo.so.2",
            "libpixman-1.so.0",
            "libpng16.so.16",
            "libfreetype.so.6",
        ] {
            assert!(
                grafted.contains(lib),
                "{arch}: {lib} not grafted: {grafted}"
            );
        }
        assert_eq!(r["provenance"]["backend"], "mesonpy", "{r:#}");
    }
    // Tested in targets with python3 and the X11 client libraries — which every manylinux
    // policy lets a wheel take from the system, so repair does not graft them — but no cairo.
    let x11 = plain.join("x11");
    for arch in ["x86_64", "i686", "aarch64", "ppc64le", "s390x"] {
        let out = manywheel_in(&x11)
            .args(["target", "add", arch, "--quiet"])
            .args([
                "--package",
                "libx11-6",
                "--package",
                "libxext6",
                "--package",
                "libxrender1",
            ])
            .timeout(Duration::from_secs(1200))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let root = x11.join(format!("targets/debian-bookworm-{arch}"));
        let libs = std::process::Command::new("find")
            .arg(&root)
            .args(["-name", "libcairo.so*"])
            .output()
            .unwrap();
        assert!(
            libs.stdout.is_empty(),
            "{arch} target has cairo: {}",
            String::from_utf8_lossy(&libs.stdout)
        );
    }
    let wheels: Vec<PathBuf> = built.into_iter().map(|b| b.1).collect();
    test_all(&x11, &wheels, "check_pycairo.py", |arch| {
        let order = if arch == "s390x" { "big" } else { "little" };
        order.to_string()
    });
}

/// Bad sdists: one error line, exit 2, nothing unpacked.
#[test]
fn bad_sdists_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    // Not gzip.
    let junk = tmp.path().join("junk-1.0.tar.gz");
    std::fs::write(&junk, b"not an archive").unwrap();
    // A member that climbs out of the folder.
    let evil = tmp.path().join("evil-1.0.tar.gz");
    let ok = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import io, sys, tarfile\n\
             with tarfile.open(sys.argv[1], 'w:gz') as t:\n\
             \x20   data = b'x'\n\
             \x20   i = tarfile.TarInfo('evil-1.0/../../escaped.txt'); i.size = 1\n\
             \x20   t.addfile(i, io.BytesIO(data))\n",
        )
        .arg(&evil)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    for (path, want) in [
        (&junk, "invalid gzip header"),
        (&evil, "unsafe member name"),
    ] {
        let out = manywheel_in(&cache).arg("plan").arg(path).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{err}");
    }
    assert!(!tmp.path().join("escaped.txt").exists());
    assert!(!cache.join("escaped.txt").exists());
    // The failed unpack left no folder behind.
    let left = std::fs::read_dir(cache.join("build/sdist"))
        .map(|d| {
            d.filter(|e| {
                !e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".tmp")
            })
            .count()
        })
        .unwrap_or(0);
    assert_eq!(left, 0);
}
