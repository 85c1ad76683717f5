//! `manywheel build` and `manywheel plan` on the example project (`examples/buildproj`: a C
//! extension linked against libzstd — on no whitelist, so repair grafts it — and a C++
//! extension using libstdc++): wheels for x86_64, i686, aarch64, ppc64le and s390x built with
//! the host's cross compilers, repaired against each target sysroot and tested with the
//! target's CPython (natively or under qemu); hybrid and emulated modes; the compiler cache;
//! the CI matrix and `--only`.
//!
//! Online (Debian mirror, PyPI for setuptools): skipped when unreachable unless
//! MANYWHEEL_REQUIRE_REFERENCE=1. Targets live in caches of their own (`<test
//! cache>/build-*`, one per package set) because builds add -dev packages to them.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

mod common;
use common::targets::{manywheel_in, online_cache};
use common::{repo_root, skip};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn example() -> PathBuf {
    repo_root().join("examples/buildproj")
}

/// A cache of this file's own, one per package set: adding packages to a target replaces its
/// tree, which must not happen under a build running in it. `example` holds the targets of
/// the example's cross and hybrid builds, `emulated` the aarch64 target with gcc and g++.
fn build_cache(set: &str) -> Option<PathBuf> {
    if !common::have("aarch64-linux-gnu-g++") {
        skip("no cross g++ (scripts/setup.sh installs them)");
        return None;
    }
    Some(online_cache()?.join(format!("build-{set}")))
}

/// `manywheel build --json ARGS`: exit code and the cell reports.
fn build(cache: &Path, project: &Path, args: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let out = manywheel_in(cache)
        .arg("build")
        .arg(project)
        .args(["--json", "--quiet"])
        .args(args)
        .timeout(Duration::from_secs(1800))
        .output()
        .unwrap();
    let err = stderr(&out);
    let reports: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {err}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code(), reports, err)
}

fn cell<'a>(reports: &'a [Value], arch: &str) -> &'a Value {
    reports
        .iter()
        .find(|r| r["arch"] == arch)
        .unwrap_or_else(|| panic!("no {arch} cell in {reports:#?}"))
}

/// The wheel is what the provenance says, its tag holds, its ELF files are of `arch`, and the
/// test ran the way the architecture requires.
fn check_cell(cache: &Path, r: &Value, arch: &str, mode: &str) {
    assert_eq!(r["ok"], true, "{r:#}");
    assert_eq!(r["mode"], mode, "{r:#}");
    let wheel = PathBuf::from(r["wheel"].as_str().unwrap());
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("mwdemo-0.1.0-cp311-cp311-manylinux_")
            && name.ends_with(&format!("_{arch}.whl")),
        "{name}"
    );
    // The provenance record beside the wheel is the one in the report.
    let prov_file = PathBuf::from(r["provenance_file"].as_str().unwrap());
    assert_eq!(
        prov_file,
        wheel.with_file_name(format!("{name}.provenance.json"))
    );
    let prov: Value = serde_json::from_str(&std::fs::read_to_string(&prov_file).unwrap()).unwrap();
    assert_eq!(prov, r["provenance"]);
    assert_eq!(prov["wheel"], name.as_str());
    assert_eq!(prov["mode"], mode);
    assert_eq!(prov["arch"], arch);
    let digest = common_sha256(&wheel);
    assert_eq!(prov["sha256"], digest.as_str());
    assert_eq!(
        prov["target"]["name"],
        format!("debian-bookworm-{arch}"),
        "{prov:#}"
    );
    assert!(
        prov["target"]["tree_digest"].as_str().unwrap().len() >= 32,
        "{prov:#}"
    );
    let grafted = prov["repair"]["grafted"].to_string();
    assert!(grafted.contains("libzstd.so.1"), "{prov:#}");
    assert!(
        !grafted.contains("libstdc++"),
        "libstdc++ is whitelisted: {prov:#}"
    );
    let native = arch == "x86_64" || arch == "i686";
    let test = &prov["test"];
    assert_eq!(test["status"], "passed", "{prov:#}");
    assert_eq!(
        test["how"],
        if native { "native" } else { "emulated" },
        "{prov:#}"
    );
    if native {
        assert!(test["emulator"].is_null(), "{prov:#}");
    } else {
        assert!(
            test["emulator"]
                .as_str()
                .unwrap()
                .starts_with(&format!("qemu-{arch}-static ")),
            "{prov:#}"
        );
    }
    assert!(
        test["output_tail"]
            .as_str()
            .unwrap()
            .contains("mwdemo ok: "),
        "{prov:#}"
    );
    // Our audit agrees with the file name, and nothing external is left.
    let out = manywheel_in(cache)
        .args(["show", "--json"])
        .arg(&wheel)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let show: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(show["arch"], arch);
    assert_eq!(show["claims_ok"], true, "{show:#}");
    assert_eq!(show["external_libs"], serde_json::json!({}), "{show:#}");
}

fn common_sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn example_builds_for_five_arches_in_cross_mode_and_passes_its_tests() {
    let Some(cache) = build_cache("example") else {
        return;
    };
    let wh = tempfile::tempdir().unwrap();
    let wh_s = wh.path().display().to_string();
    let archs = ["x86_64", "i686", "aarch64", "ppc64le", "s390x"];
    let (code, reports, err) = build(
        &cache,
        &example(),
        &["--arch", &archs.join(","), "--mode", "cross", "-w", &wh_s],
    );
    assert_eq!(code, Some(0), "{reports:#?}\n{err}");
    assert_eq!(reports.len(), archs.len());
    for arch in archs {
        let r = cell(&reports, arch);
        check_cell(&cache, r, arch, "cross");
        let c = &r["provenance"]["compiler"];
        assert_eq!(c["runs"], "native");
        assert_eq!(r["provenance"]["interpreter"]["runs"], "native");
    }
    // Two wheels and two provenance records per... one of each per cell, nothing else.
    let mut names: Vec<String> = std::fs::read_dir(wh.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2 * archs.len(), "{names:?}");

    // A second build of the unchanged project compiles nothing: every object comes from the
    // compiler cache, and the wheels are the same.
    let (code, again, err) = build(
        &cache,
        &example(),
        &["--arch", "aarch64,s390x", "--mode", "cross", "-w", &wh_s],
    );
    assert_eq!(code, Some(0), "{again:#?}\n{err}");
    for arch in ["aarch64", "s390x"] {
        let r = cell(&again, arch);
        let stats = &r["provenance"]["compiler"]["cache"];
        assert_eq!(stats["misses"], 0, "{r:#}");
        assert_eq!(stats["hits"], 2, "{r:#}");
        check_cell(&cache, r, arch, "cross");
    }
}

#[test]
fn hybrid_and_emulated_modes_build_the_example() {
    let Some(cache) = build_cache("example") else {
        return;
    };
    let wh = tempfile::tempdir().unwrap();
    let wh_s = wh.path().display().to_string();
    // hybrid: the target's CPython under qemu runs setuptools; gcc is the host's cross gcc.
    let (code, reports, err) = build(
        &cache,
        &example(),
        &[
            "--arch",
            "ppc64le",
            "--mode",
            "hybrid",
            "-w",
            &wh_s,
            "--no-cc-cache",
        ],
    );
    assert_eq!(code, Some(0), "{reports:#?}\n{err}");
    let r = cell(&reports, "ppc64le");
    check_cell(&cache, r, "ppc64le", "hybrid");
    assert_eq!(r["provenance"]["compiler"]["runs"], "native");
    assert_eq!(r["provenance"]["interpreter"]["runs"], "emulated");
    assert!(r["provenance"]["compiler"]["cache"].is_null());
    // emulated: the target's CPython and the target's own gcc, all under qemu.
    let Some(emu) = build_cache("emulated") else {
        return;
    };
    let (code, reports, err) = build(
        &emu,
        &example(),
        &[
            "--arch",
            "aarch64",
            "--mode",
            "emulated",
            "-w",
            &wh_s,
            "--no-cc-cache",
        ],
    );
    assert_eq!(code, Some(0), "{reports:#?}\n{err}");
    let r = cell(&reports, "aarch64");
    check_cell(&emu, r, "aarch64", "emulated");
    assert_eq!(r["provenance"]["compiler"]["runs"], "emulated");
    assert!(
        r["provenance"]["compiler"]["program"]
            .as_str()
            .unwrap()
            .contains("target's gcc"),
        "{r:#}"
    );
}

/// A test-command that fails fails the cell (exit 1) and leaves no wheel behind.
#[test]
fn a_failing_test_command_fails_the_cell() {
    let Some(cache) = build_cache("example") else {
        return;
    };
    let project = tempfile::tempdir().unwrap();
    copy_dir(&example(), project.path());
    let toml = project.path().join("pyproject.toml");
    let text = std::fs::read_to_string(&toml).unwrap().replace(
        "test-command = \"python {project}/tests/test_mwdemo.py\"",
        "test-command = \"python -c 'import mwdemo, sys; sys.exit(0 if mwdemo.decompress(mwdemo.compress(b\\\"x\\\", 1)) == b\\\"y\\\" else 5)'\"",
    );
    std::fs::write(&toml, text).unwrap();
    let wh = tempfile::tempdir().unwrap();
    let wh_s = wh.path().display().to_string();
    let (code, reports, err) = build(&cache, project.path(), &["--arch", "x86_64", "-w", &wh_s]);
    assert_eq!(code, Some(1), "{reports:#?}\n{err}");
    let r = cell(&reports, "x86_64");
    assert_eq!(r["ok"], false);
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("test-command failed (native)"),
        "{r:#}"
    );
    let left: Vec<_> = std::fs::read_dir(wh.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".whl"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The CI matrix, and one cell of it built alone.
#[test]
fn plan_prints_the_matrix_and_only_builds_one_cell() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        manywheel_in(tmp.path())
            .arg("plan")
            .arg(example())
            .args(args)
            .output()
            .unwrap()
    };
    // The example's own archs.
    let out = run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let ids: Vec<&str> = text
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(ids, ["cp311-manylinux_x86_64", "cp311-manylinux_aarch64"]);
    // GitHub: {"include": [...]} with one entry per arch × Python.
    let out = run(&[
        "--arch",
        "all",
        "--python",
        "3.11,3.13",
        "--format",
        "github",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cells = m["include"].as_array().unwrap();
    assert_eq!(cells.len(), 10);
    assert!(cells
        .iter()
        .any(|c| c["id"] == "cp313-manylinux_s390x" && c["distro"] == "debian:trixie"));
    // GitLab parallel:matrix.
    let out = run(&["--arch", "aarch64", "--format", "gitlab"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("parallel:\n  matrix:\n"), "{text}");
    assert!(text.contains("- \"cp311-manylinux_aarch64\""), "{text}");
    // Unknown arch / format / cell: one error line, exit 2.
    for args in [vec!["--arch", "sparc"], vec!["--python", "2.7"]] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
    let out = manywheel_in(tmp.path())
        .arg("build")
        .arg(example())
        .args(["--only", "cp311-manylinux_sparc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // --only builds exactly that cell of the full matrix.
    let Some(cache) = build_cache("example") else {
        return;
    };
    let wh = tempfile::tempdir().unwrap();
    let wh_s = wh.path().display().to_string();
    let (code, reports, err) = build(
        &cache,
        &example(),
        &[
            "--arch",
            "all",
            "--only",
            "cp311-manylinux_i686",
            "-w",
            &wh_s,
        ],
    );
    assert_eq!(code, Some(0), "{reports:#?}\n{err}");
    assert_eq!(reports.len(), 1);
    check_cell(&cache, &reports[0], "i686", "cross");
}
