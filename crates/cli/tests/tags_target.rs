//! `manywheel tags --target`: the tags read from a target sysroot's files equal what
//! `packaging.tags.sys_tags()` reports when run by that target's own Python under emulation
//! (aarch64, s390x) or through its own loader (i686).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::targets::{manywheel_in, with_target};

/// A folder holding only the reference `packaging` (pure Python) from the repo's .venv.
fn packaging_dir(tmp: &Path) -> Option<PathBuf> {
    let lib = common::repo_root().join(".venv/lib");
    let site = std::fs::read_dir(&lib)
        .ok()?
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.join("packaging/tags.py").is_file())?;
    let dir = tmp.join("site");
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new("cp")
        .arg("-r")
        .arg(site.join("packaging"))
        .arg(&dir)
        .status()
        .unwrap();
    assert!(out.success());
    Some(dir)
}

const SYS_TAGS: &str = "import json\nfrom packaging import tags\nseen = []\n\
for t in tags.sys_tags():\n    if t.platform not in seen: seen.append(t.platform)\n\
print(json.dumps(seen))";

fn check(arch: &str) {
    let Some(cache) = with_target(arch) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let Some(site) = packaging_dir(tmp.path()) else {
        common::skip("no packaging in the repo's .venv (run scripts/setup.sh venv)");
        return;
    };
    // What the target's Python says, running the target's libc.
    let out = manywheel_in(&cache)
        .args(["run", "--arch", arch, "--", "python3", "-c", SYS_TAGS])
        .env("PYTHONPATH", &site)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{arch}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    let platforms: Vec<String> = theirs.into_iter().filter(|p| p != "any").collect();

    // What we read from its files.
    let out = manywheel_in(&cache)
        .args(["tags", "--target", "--arch", arch, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours: Vec<String> = serde_json::from_value(ours["platforms"].clone()).unwrap();
    assert!(
        platforms.iter().any(|p| p.starts_with("manylinux_2_36_")),
        "{arch}: {platforms:?}"
    );
    assert_eq!(ours, platforms, "{arch}: ours vs packaging in the target");

    // The same target by name; a name of another arch is refused.
    let name = format!("debian-bookworm-{arch}");
    let out = manywheel_in(&cache)
        .args(["tags", "--target", &name, "--json"])
        .output()
        .unwrap();
    let by_name: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(by_name["platforms"], serde_json::json!(ours));
    let other = if arch == "s390x" { "aarch64" } else { "s390x" };
    let out = manywheel_in(&cache)
        .args(["tags", "--target", &name, "--arch", other])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("is {arch}, not {other}")), "{err}");
}

#[test]
fn aarch64_target_tags_equal_its_own_packaging() {
    check("aarch64");
}

#[test]
fn s390x_target_tags_equal_its_own_packaging() {
    check("s390x");
}

#[test]
fn i686_target_tags_equal_its_own_packaging() {
    check("i686");
}
