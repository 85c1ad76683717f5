//! `manywheel test`: real PyPI wheels of the corpus installed on the host side for bookworm
//! targets and exercised with the target's Python — under qemu for aarch64, ppc64le and s390x,
//! through the target's own loader for i686 and x86_64 — with real computations checked
//! (`data/test_cmd_check.py`), pytest outcomes read, emulator faults told apart from test
//! failures, timeouts scaled, and a native/emulated differential.
//!
//! Online: needs the Debian mirror (targets) and PyPI (test requirements); skipped when
//! unreachable unless MANYWHEEL_REQUIRE_REFERENCE=1.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

mod common;
use common::targets::{manywheel_in, with_target};
use common::{corpus_dir, repo_root, skip};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Corpus wheels by file name, or `None` (skip) when one is missing.
fn corpus(names: &[&str]) -> Option<Vec<PathBuf>> {
    let dir = corpus_dir();
    let paths: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    if let Some(p) = paths.iter().find(|p| !p.is_file()) {
        skip(&format!("corpus wheel {} missing", p.display()));
        return None;
    }
    Some(paths)
}

/// Add the targets of `archs` into the shared test cache.
fn targets(archs: &[&str]) -> Option<PathBuf> {
    let mut cache = None;
    for a in archs {
        cache = Some(with_target(a)?);
    }
    cache
}

/// `manywheel test --json ARGS`: the exit code and the report.
fn test_json(cache: &Path, args: &[&str], wheels: &[PathBuf]) -> (Option<i32>, Value, String) {
    let out = manywheel_in(cache)
        .arg("test")
        .arg("--json")
        .args(args)
        .args(wheels)
        .timeout(Duration::from_secs(1200))
        .output()
        .unwrap();
    let err = stderr(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {err}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code(), report, err)
}

fn result<'a>(report: &'a Value, arch: &str, mode: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["arch"] == arch && r["mode"] == mode)
        .unwrap_or_else(|| panic!("no {arch} ({mode}) result in {report:#}"))
}

/// How a run ran is part of every result.
fn assert_labelled(r: &Value, arch: &str, emulated: bool) {
    assert_eq!(r["target"], format!("debian-bookworm-{arch}"), "{r:#}");
    assert!(
        r["distro"].as_str().unwrap().starts_with("debian:bookworm"),
        "{r:#}"
    );
    assert_eq!(r["glibc"], "2.36", "{r:#}");
    assert!(r["python"].as_str().unwrap().starts_with("3.11."), "{r:#}");
    assert!(!r["cpu"].as_str().unwrap().is_empty(), "{r:#}");
    if emulated {
        assert_eq!(r["mode"], "emulated");
        let e = &r["emulator"];
        assert_eq!(e["name"], format!("qemu-{arch}-static"), "{r:#}");
        assert!(
            e["version"]
                .as_str()
                .unwrap()
                .chars()
                .next()
                .unwrap()
                .is_ascii_digit(),
            "{r:#}"
        );
        assert!(Path::new(e["path"].as_str().unwrap()).is_file());
    } else {
        assert_eq!(r["mode"], "native");
        assert!(r["emulator"].is_null(), "{r:#}");
    }
}

const CHECK: &str = "python {project}/test_cmd_check.py {arch}";

fn data_dir() -> String {
    repo_root()
        .join("crates/cli/tests/data")
        .display()
        .to_string()
}

#[test]
fn corpus_wheels_compute_under_emulation_and_natively() {
    let Some(wheels) = corpus(&[
        "numpy-2.4.6-cp311-cp311-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl",
        "lxml-5.4.0-cp311-cp311-manylinux_2_17_ppc64le.manylinux2014_ppc64le.whl",
        "orjson-3.11.9-cp311-cp311-manylinux_2_17_ppc64le.manylinux2014_ppc64le.whl",
        "psycopg2_binary-2.9.13-cp311-cp311-manylinux2014_ppc64le.manylinux_2_17_ppc64le.whl",
        "pyyaml-6.0.4-cp311-cp311-manylinux2014_s390x.manylinux_2_17_s390x.manylinux_2_28_s390x.whl",
        "orjson-3.11.9-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl",
        "orjson-3.13.0-cp311-cp311-manylinux2014_i686.manylinux_2_17_i686.whl",
        "psycopg2_binary-2.9.10-cp311-cp311-manylinux_2_17_i686.manylinux2014_i686.whl",
    ]) else {
        return;
    };
    let Some(cache) = targets(&["aarch64", "ppc64le", "s390x", "i686"]) else {
        return;
    };
    let data = data_dir();
    let (code, report, err) = test_json(&cache, &["--project", &data, "--command", CHECK], &wheels);
    assert_eq!(code, Some(0), "{report:#}\n{err}");
    // (arch, emulated, the line the check script prints after every assertion held)
    let want = [
        ("aarch64", true, "checked aarch64 aarch64 little 64 numpy"),
        (
            "ppc64le",
            true,
            "checked ppc64le ppc64le little 64 orjson,lxml,psycopg2",
        ),
        ("s390x", true, "checked s390x s390x big 64 orjson,yaml"),
        // natively on an x86_64 kernel, platform.machine() says x86_64; the pointers are 32-bit
        (
            "i686",
            false,
            "checked i686 x86_64 little 32 orjson,psycopg2",
        ),
    ];
    assert_eq!(report["results"].as_array().unwrap().len(), want.len());
    for (arch, emulated, line) in want {
        let r = result(&report, arch, if emulated { "emulated" } else { "native" });
        assert_eq!(r["status"], "passed", "{r:#}");
        assert_labelled(r, arch, emulated);
        assert_eq!(r["output_tail"].as_str().unwrap().trim(), line, "{r:#}");
        assert_eq!(r["exit_code"], 0);
        let factor = r["emulation_factor"].as_f64().unwrap();
        assert_eq!(factor > 1.0, emulated, "{r:#}");
        assert_eq!(r["timeout_s"].as_f64().unwrap(), 300.0 * factor);
    }
    // The text report labels each line the same way.
    let out = manywheel_in(&cache)
        .args(["test", "--quiet", "--project", &data, "--command", CHECK])
        .args(&wheels[4..6])
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("PASS s390x: emulated, qemu-s390x-static 7.")
            && text.contains("glibc 2.36, Python 3.11."),
        "{text}"
    );
}

/// The same command fails when what it computes is wrong: the check is not a formality.
#[test]
fn a_wrong_result_fails_the_run() {
    let Some(wheels) =
        corpus(&["pyyaml-6.0.4-cp311-cp311-manylinux2014_s390x.manylinux_2_17_s390x.manylinux_2_28_s390x.whl"])
    else {
        return;
    };
    let Some(cache) = targets(&["s390x"]) else {
        return;
    };
    let cmd =
        "python -c 'import sys, yaml; sys.exit(0 if yaml.safe_load(\"[1, 2]\") == [2, 1] else 7)'";
    let (code, report, _) = test_json(&cache, &["--command", cmd], &wheels);
    assert_eq!(code, Some(1), "{report:#}");
    let r = result(&report, "s390x", "emulated");
    assert_eq!(r["status"], "failed");
    assert_eq!(r["exit_code"], 7);
}

/// Requirements are installed by the host's pip for the target: a binary wheel of another
/// architecture (PyYAML for s390x, with its C extension) and a pure one with a console script
/// (`pytest`, launched as the target's Python).
#[test]
fn requirements_are_installed_for_the_target_and_pytest_outcomes_are_read() {
    let Some(wheels) =
        corpus(&["orjson-3.11.9-cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x.whl"])
    else {
        return;
    };
    let Some(cache) = targets(&["s390x"]) else {
        return;
    };
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir(project.path().join("tests")).unwrap();
    std::fs::write(
        project.path().join("tests/test_s390x.py"),
        r#"import platform, sys
import orjson, yaml

def test_big_endian_machine():
    assert sys.byteorder == "big" and platform.machine() == "s390x"

def test_libyaml_from_a_requirement():
    assert yaml.__with_libyaml__
    assert yaml.load("x: [1, 2]", Loader=yaml.CSafeLoader) == {"x": [1, 2]}

def test_orjson_round_trip():
    assert orjson.loads(orjson.dumps({"k": [1.5]})) == {"k": [1.5]}

def test_deliberately_wrong():
    assert orjson.dumps(1) == b"2"
"#,
    )
    .unwrap();
    let dir = project.path().display().to_string();
    let (code, report, err) = test_json(
        &cache,
        &[
            "--requires",
            "pytest",
            "pyyaml==6.0.2",
            "--project",
            &dir,
            "--command",
            "pytest -q -p no:cacheprovider {project}/tests",
        ],
        &wheels,
    );
    assert_eq!(code, Some(1), "{report:#}\n{err}");
    let r = result(&report, "s390x", "emulated");
    assert_eq!(r["status"], "failed", "{r:#}");
    assert_eq!(
        r["tests"],
        serde_json::json!({"passed": 3, "failed": 1, "errors": 0, "skipped": 0}),
        "{r:#}"
    );
    assert_eq!(
        r["failed_tests"],
        serde_json::json!(["tests.test_s390x::test_deliberately_wrong"])
    );
}

/// qemu's report of an uncaught signal is an emulator fault; the same crash natively is a
/// failure of the command.
#[test]
fn emulator_faults_are_told_apart_from_failures() {
    let Some(wheels) = corpus(&[
        "orjson-3.13.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        "orjson-3.13.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ]) else {
        return;
    };
    let Some(cache) = targets(&["aarch64", "x86_64"]) else {
        return;
    };
    let cmd = "python -c 'import os, signal; os.kill(os.getpid(), signal.SIGILL)'";
    let (code, report, _) = test_json(&cache, &["--command", cmd], &wheels);
    assert_eq!(code, Some(1), "{report:#}");
    let emulated = result(&report, "aarch64", "emulated");
    assert_eq!(emulated["status"], "emulator_fault", "{emulated:#}");
    assert!(
        emulated["fault"]
            .as_str()
            .unwrap()
            .contains("uncaught target signal 4"),
        "{emulated:#}"
    );
    let native = result(&report, "x86_64", "native");
    assert_eq!(native["status"], "failed", "{native:#}");
    assert_eq!(native["signal"], 4, "{native:#}");
    assert_labelled(native, "x86_64", false);
}

/// The timeout of an emulated run is the base timeout times the emulation factor.
#[test]
fn timeouts_scale_with_the_emulation_factor() {
    let Some(wheels) =
        corpus(&["orjson-3.13.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"])
    else {
        return;
    };
    let Some(cache) = targets(&["aarch64"]) else {
        return;
    };
    let started = std::time::Instant::now();
    let (code, report, _) = test_json(
        &cache,
        &[
            "--timeout",
            "1",
            "--emulation-factor",
            "3",
            "--command",
            "sleep 60",
        ],
        &wheels,
    );
    assert!(started.elapsed() < Duration::from_secs(40));
    assert_eq!(code, Some(1), "{report:#}");
    let r = result(&report, "aarch64", "emulated");
    assert_eq!(r["status"], "timeout", "{r:#}");
    assert_eq!(r["timeout_s"], 3.0);
    let took = r["duration_s"].as_f64().unwrap();
    assert!((3.0..20.0).contains(&took), "{took}");
}

/// `--differential` runs an x86_64 wheel's tests natively and under qemu-x86_64 and names the
/// tests whose outcome differs (here one that looks at how it runs).
#[test]
fn differential_names_tests_that_differ() {
    let Some(wheels) =
        corpus(&["orjson-3.13.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"])
    else {
        return;
    };
    let Some(cache) = targets(&["x86_64"]) else {
        return;
    };
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("test_diff.py"),
        r#"import os, orjson

def test_same_everywhere():
    assert orjson.dumps([1, "a"]) == b'[1,"a"]'

def test_knows_how_it_runs():
    assert os.environ["MANYWHEEL_TEST_MODE"] == "native"
"#,
    )
    .unwrap();
    let dir = project.path().display().to_string();
    let (code, report, err) = test_json(
        &cache,
        &[
            "--differential",
            "--requires",
            "pytest",
            "--project",
            &dir,
            "--command",
            "pytest -q -p no:cacheprovider {project}",
        ],
        &wheels,
    );
    assert_eq!(code, Some(1), "{report:#}\n{err}");
    assert_eq!(result(&report, "x86_64", "native")["status"], "passed");
    let emulated = result(&report, "x86_64", "emulated");
    assert_eq!(emulated["status"], "failed");
    assert_eq!(emulated["emulator"]["name"], "qemu-x86_64-static");
    let d = &report["differential"][0];
    assert_eq!(d["arch"], "x86_64");
    assert_eq!(d["compared"], 2);
    assert_eq!(
        d["differences"],
        serde_json::json!([{"test": "test_diff::test_knows_how_it_runs", "native": "passed", "emulated": "failed"}])
    );
}

/// Bad input: one error line, exit 2, before anything runs.
#[test]
fn usage_errors() {
    let cache = tempfile::tempdir().unwrap();
    let empty = cache.path();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "no-such-1.0-py3-none-any.whl".into(),
                "--arch".into(),
                "aarch64".into(),
            ],
            "no-such-1.0-py3-none-any.whl",
        ),
        (vec!["bad.whl".into()], "invalid wheel file name"),
    ];
    for (args, want) in cases {
        let out = manywheel_in(empty)
            .arg("test")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{err}"
        );
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // A wheel of an architecture without a target in this (empty) cache says how to add one.
    let Some(wheels) =
        corpus(&["orjson-3.13.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"])
    else {
        return;
    };
    let out = manywheel_in(empty)
        .arg("test")
        .args(&wheels)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("target add aarch64"),
        "{}",
        stderr(&out)
    );
    // {project} without --project.
    let out = manywheel_in(empty)
        .args(["test", "--command", "ls {project}"])
        .args(&wheels)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A pure wheel alone needs --arch (the examples ship only binary wheels: write one).
    let pure = empty.join("purepkg-1.0-py3-none-any.whl");
    write_pure_wheel(&pure);
    let out = manywheel_in(empty).arg("test").arg(&pure).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--arch"), "{}", stderr(&out));
}

/// A minimal valid pure-Python wheel, written with Python's zipfile (the reference writer).
fn write_pure_wheel(path: &Path) {
    let script = r#"
import base64, hashlib, sys, zipfile
files = {
    "purepkg/__init__.py": b"VALUE = 42\n",
    "purepkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: purepkg\nVersion: 1.0\n",
    "purepkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = ""
for n, b in files.items():
    h = base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()
    record += f"{n},sha256={h},{len(b)}\n"
record += "purepkg-1.0.dist-info/RECORD,,\n"
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for n, b in files.items():
        z.writestr(n, b)
    z.writestr("purepkg-1.0.dist-info/RECORD", record)
"#;
    let ok = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}
