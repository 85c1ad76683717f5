//! Acceptance: a real third-party sdist from PyPI — mmh3 5.3.1 (a setuptools C extension,
//! pinned by sha256) — built by `manywheel build SDIST` for x86_64, i686, aarch64, ppc64le and
//! s390x with the host's cross compilers, then checked with `manywheel test` under emulation
//! against the README's values and an independent pure-Python MurmurHash3 over 268 inputs
//! (`data/check_mmh3.py`; s390x is big-endian).
//!
//! Online (PyPI, Debian mirror): skipped when unreachable unless MANYWHEEL_REQUIRE_REFERENCE=1.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

mod common;
use common::targets::{manywheel_in, online_cache};
use common::{repo_root, skip};

const MMH3_URL: &str = "https://files.pythonhosted.org/packages/8d/3c/eb1d82a87c504259dac5ce1c7de7587b68ffac841b55d23f8ea2c9df8422/mmh3-5.3.1.tar.gz";
const MMH3_SHA256: &str = "bd86d0c86b52332319d981d03781ff77811a29db544a69902dc06b5506bb3e19";

/// Download (once) and verify the sdist; `None` (skip) when PyPI is unreachable.
fn fetch_sdist(dir: &std::path::Path) -> Option<PathBuf> {
    let dest = dir.join("mmh3-5.3.1.tar.gz");
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
    if dest.is_file() && sha(&dest) == MMH3_SHA256 {
        return Some(dest);
    }
    std::fs::create_dir_all(dir).unwrap();
    let tmp = dir.join("mmh3-5.3.1.tar.gz.part");
    // files.pythonhosted.org, or PyPI's own /packages/ path where only pypi.org is reachable
    let alt = MMH3_URL.replace(
        "https://files.pythonhosted.org/packages/",
        "https://pypi.org/packages/packages/",
    );
    for url in [MMH3_URL, alt.as_str()] {
        let ok = std::process::Command::new("curl")
            .args(["-sfL", "--max-time", "120", "-o"])
            .arg(&tmp)
            .arg(url)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            assert_eq!(sha(&tmp), MMH3_SHA256, "{url}: wrong sha256");
            std::fs::rename(&tmp, &dest).unwrap();
            return Some(dest);
        }
    }
    skip("PyPI unreachable: cannot fetch mmh3-5.3.1.tar.gz");
    None
}

#[test]
fn mmh3_sdist_builds_for_five_arches_and_computes_the_same_hashes() {
    if !common::have("aarch64-linux-gnu-gcc") {
        return skip("no cross gcc (scripts/setup.sh installs them)");
    }
    let Some(cache) = online_cache() else {
        return;
    };
    let cache = cache.join("build");
    let Some(sdist) = fetch_sdist(&cache.join("sdists")) else {
        return;
    };
    let wh = tempfile::tempdir().unwrap();
    let archs = "x86_64,i686,aarch64,ppc64le,s390x";
    let out = manywheel_in(&cache)
        .arg("build")
        .arg(&sdist)
        .args(["--arch", archs, "--json", "--quiet", "-w"])
        .arg(wh.path())
        .timeout(Duration::from_secs(1800))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let reports: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports.len(), 5);
    let mut wheels = Vec::new();
    for r in &reports {
        assert_eq!(r["ok"], true, "{r:#}");
        assert_eq!(r["mode"], "cross", "{r:#}");
        let w = PathBuf::from(r["wheel"].as_str().unwrap());
        let name = w.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("mmh3-5.3.1-cp311-cp311-manylinux"),
            "{name}"
        );
        assert!(
            name.ends_with(&format!("_{}.whl", r["arch"].as_str().unwrap())),
            "{name}"
        );
        // Nothing to graft: mmh3 needs only libc.
        assert_eq!(
            r["provenance"]["repair"]["grafted"],
            serde_json::json!([]),
            "{r:#}"
        );
        wheels.push(w);
    }
    let data = repo_root().join("crates/cli/tests/data");
    let out = manywheel_in(&cache)
        .args(["test", "--json", "--project"])
        .arg(&data)
        .args(["--command", "python {project}/check_mmh3.py"])
        .args(&wheels)
        .timeout(Duration::from_secs(1200))
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    for r in report["results"].as_array().unwrap() {
        let arch = r["arch"].as_str().unwrap();
        assert_eq!(r["status"], "passed", "{r:#}");
        let native = arch == "x86_64" || arch == "i686";
        assert_eq!(r["mode"], if native { "native" } else { "emulated" });
        let tail = r["output_tail"].as_str().unwrap();
        let order = if arch == "s390x" { "big" } else { "little" };
        assert!(tail.contains(&format!("{order} 268 hashes")), "{tail}");
    }
    // The sdist was unpacked once into the cache and is reused.
    let unpacked: Vec<_> = std::fs::read_dir(cache.join("build/sdist"))
        .unwrap()
        .collect();
    assert_eq!(unpacked.len(), 1);
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
