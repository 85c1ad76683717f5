//! `--policy FILE`: a custom policy file in the embedded (auditwheel) format replaces the
//! embedded policies, and a file that breaks PEP 600 monotonicity is refused with the reason.

mod common;

use common::*;
use serde_json::Value;

fn embedded() -> Value {
    let text =
        std::fs::read_to_string(repo_root().join("crates/policy/data/manylinux-policy.json"))
            .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn show(policy: &std::path::Path, wheel: &str) -> (Option<i32>, Value, String) {
    let out = manywheel()
        .current_dir(repo_root())
        .args(["show", "--json", "--policy"])
        .arg(policy)
        .arg(wheel)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const WITHLIB: &str = "examples/wheels/withlib-1.0-cp311-cp311-linux_x86_64.whl";

#[test]
fn whitelisting_a_library_lifts_the_tag() {
    if !std::path::Path::new("/usr/lib/x86_64-linux-gnu/libzstd.so.1").exists() {
        return skip("host has no libzstd.so.1 (apt-get install libzstd-dev)");
    }
    let dir = tempfile::tempdir().unwrap();
    // The embedded data as a file: same answer as without --policy.
    let same = dir.path().join("same.json");
    std::fs::write(&same, embedded().to_string()).unwrap();
    let (code, v, err) = show(&same, WITHLIB);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["overall_tag"], "linux_x86_64");
    assert!(v["external_libs"]["libzstd.so.1"].is_string());

    // libzstd.so.1 whitelisted everywhere: nothing external, the wheel's own symbols decide.
    let mut custom = embedded();
    for p in custom.as_array_mut().unwrap() {
        if p["name"] != "linux" {
            p["lib_whitelist"]
                .as_array_mut()
                .unwrap()
                .push("libzstd.so.1".into());
        }
    }
    let file = dir.path().join("custom.json");
    std::fs::write(&file, custom.to_string()).unwrap();
    let (code, v, err) = show(&file, WITHLIB);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["external_libs"], serde_json::json!({}));
    assert_eq!(v["overall_tag"], "manylinux_2_5_x86_64", "{v}");
}

#[test]
fn a_policy_file_breaking_monotonicity_is_refused() {
    let mut broken = embedded();
    // Take GLIBC_2.17 away from manylinux_2_24 on x86_64: a newer policy may not allow less.
    for p in broken.as_array_mut().unwrap() {
        if p["name"] == "manylinux_2_24" {
            let v = p["symbol_versions"]["x86_64"]["GLIBC"]
                .as_array_mut()
                .unwrap();
            v.retain(|x| x != "2.17");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.json");
    std::fs::write(&file, broken.to_string()).unwrap();
    let (code, _, err) = show(
        &file,
        "examples/wheels/spam-1.0-cp311-cp311-linux_x86_64.whl",
    );
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("manylinux_2_24") && err.contains("2.17"),
        "{err}"
    );

    std::fs::write(&file, "{ not json").unwrap();
    let (code, _, err) = show(
        &file,
        "examples/wheels/spam-1.0-cp311-cp311-linux_x86_64.whl",
    );
    assert_eq!(code, Some(2));
    assert!(err.starts_with("error: "), "{err}");
}
