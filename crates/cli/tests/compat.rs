//! `manywheel tags`, `coverage` and `policy`: the tag list against `packaging` (host and
//! cross sysroots), the pinned answers of the issue's examples, the SVG, and error handling.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{manywheel, repo_root, skip};
use serde_json::Value;

/// The reference venv's Python, if it has `packaging`.
fn reference_python() -> Option<PathBuf> {
    let venv = std::env::var_os("MANYWHEEL_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"));
    let py = venv.join("bin/python");
    Command::new(&py)
        .args(["-c", "import packaging.tags"])
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some(py)
}

fn python(py: &Path, script: &str, stdin: &str) -> Value {
    let mut child = Command::new(py)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = manywheel().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(args: &[&str]) -> Value {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// `linux_<arch>` first (packaging >= 26.3) or last.
const LINUX_FIRST: &str = r#"
import json, packaging
v = tuple(int("".join(c for c in p if c.isdigit()) or 0) for p in packaging.__version__.split(".")[:2])
json.dump(v >= (26, 3), __import__("sys").stdout)
"#;

fn linux_tag_arg(py: &Path) -> &'static str {
    if python(py, LINUX_FIRST, "").as_bool().unwrap() {
        "first"
    } else {
        "last"
    }
}

/// packaging's own platform list for the running interpreter (unique, in order, without
/// `any`, which is not a platform of the system).
const HOST_SYS_TAGS: &str = r#"
import json, sys
from packaging import tags
seen = []
for t in tags.sys_tags():
    if t.platform not in seen and t.platform != "any":
        seen.append(t.platform)
json.dump(seen, sys.stdout)
"#;

/// packaging's `_linux_platforms` with the system facts forced (stdin: libc, version, arch).
const FORCED: &str = r#"
import json, sys
from packaging import tags, _manylinux, _musllinux
c = json.load(sys.stdin)
(major, minor) = c["version"]
tags.sysconfig.get_platform = lambda: "linux-" + c["arch"]
if hasattr(_manylinux, "_get_manylinux_module"):
    _manylinux._get_manylinux_module = lambda: None
if c["libc"] == "glibc":
    _manylinux._get_glibc_version = lambda: _manylinux._GLibCVersion(major, minor)
    _musllinux._get_musl_version = lambda *a: None
else:
    _manylinux._get_glibc_version = lambda: _manylinux._GLibCVersion(-1, -1)
    _musllinux._get_musl_version = lambda *a: _musllinux._MuslVersion(major, minor)
if c["arch"] in ("armv7l", "i686"):
    # packaging checks the running interpreter's ELF header here; the sysroot's libc passed
    # the same check (abi_ok) in manywheel.
    _manylinux._have_compatible_abi = lambda *a: c["abi_ok"]
json.dump(list(tags._linux_platforms(is_32bit=False)), sys.stdout)
"#;

fn forced(py: &Path, found: &Value) -> Vec<String> {
    let (major, minor) = {
        let v = found["libc_version"].as_str().unwrap();
        let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    };
    let input = serde_json::json!({
        "libc": found["libc"],
        "version": [major, minor],
        "arch": found["arch"],
        "abi_ok": found["abi_ok"],
    });
    strings(&python(py, FORCED, &input.to_string()))
}

#[test]
fn host_tags_equal_packaging_sys_tags() {
    let Some(py) = reference_python() else {
        skip("no reference venv with packaging");
        return;
    };
    let theirs = strings(&python(&py, HOST_SYS_TAGS, ""));
    let ours = json(&["tags", "--json", "--linux-tag", linux_tag_arg(&py)]);
    assert_eq!(strings(&ours["platforms"]), theirs);
    assert!(ours["source"].as_str().unwrap().ends_with("libc.so.6"));
    // The human form lists the same tags, one a line, after a comment line.
    let (code, stdout, _) = run(&["tags", "--linux-tag", linux_tag_arg(&py)]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("# glibc "), "{}", lines[0]);
    assert_eq!(
        lines[1..],
        theirs.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
}

const CROSS_ROOTS: [(&str, &str); 6] = [
    ("/usr/aarch64-linux-gnu", "aarch64"),
    ("/usr/s390x-linux-gnu", "s390x"),
    ("/usr/powerpc64le-linux-gnu", "ppc64le"),
    ("/usr/arm-linux-gnueabihf", "armv7l"),
    ("/usr/i686-linux-gnu", "i686"),
    ("/usr/riscv64-linux-gnu", "riscv64"),
];

#[test]
fn sysroot_tags_equal_packaging_with_forced_facts() {
    let Some(py) = reference_python() else {
        skip("no reference venv with packaging");
        return;
    };
    let place = linux_tag_arg(&py);
    for (root, arch) in CROSS_ROOTS {
        if !Path::new(root).is_dir() {
            skip(&format!("{root} missing"));
            continue;
        }
        let ours = json(&["tags", "--sysroot", root, "--json", "--linux-tag", place]);
        assert_eq!(ours["arch"], arch, "{root}");
        assert_eq!(ours["libc"], "glibc", "{root}");
        assert_eq!(ours["version_from"], "version_string", "{root}");
        assert_eq!(
            ours["source"].as_str().unwrap(),
            format!("{root}/lib/libc.so.6")
        );
        assert_eq!(strings(&ours["platforms"]), forced(&py, &ours), "{root}");
    }
}

#[test]
fn aarch64_sysroot_pinned() {
    let root = "/usr/aarch64-linux-gnu";
    if !Path::new(root).is_dir() {
        skip("no aarch64 cross sysroot");
        return;
    }
    let ours = json(&["tags", "--sysroot", root, "--json", "--linux-tag", "last"]);
    if ours["libc_version"] != "2.36" {
        eprintln!(
            "SKIP: the aarch64 sysroot has glibc {}",
            ours["libc_version"]
        );
        return;
    }
    let mut expect: Vec<String> = (17..=36)
        .rev()
        .map(|m| format!("manylinux_2_{m}_aarch64"))
        .collect();
    expect.push("manylinux2014_aarch64".into());
    expect.push("linux_aarch64".into());
    assert_eq!(strings(&ours["platforms"]), expect);
    let first = json(&["tags", "--sysroot", root, "--json"]);
    assert_eq!(first["platforms"][0], "linux_aarch64");
    assert_eq!(first["linux_tag"], "first");
}

/// Debian's `musl` package on the host (not installed by the setup script: optional).
#[test]
fn host_musl_when_installed() {
    if !Path::new("/lib/ld-musl-x86_64.so.1").exists() {
        eprintln!("SKIP: no /lib/ld-musl-x86_64.so.1 (apt-get install musl)");
        return;
    }
    let ours = json(&["tags", "--libc", "musl", "--json"]);
    assert_eq!(ours["libc"], "musl");
    assert_eq!(ours["version_from"], "version_string");
    if let Some(py) = reference_python() {
        let ours = json(&[
            "tags",
            "--libc",
            "musl",
            "--json",
            "--linux-tag",
            linux_tag_arg(&py),
        ]);
        assert_eq!(strings(&ours["platforms"]), forced(&py, &ours));
    }
    // With musl installed next to glibc, the default stays glibc (the host Python's).
    assert_eq!(json(&["tags", "--json"])["libc"], "glibc");
}

#[test]
fn impact_manylinux1_to_manylinux2010_on_2017_04_08() {
    let v = json(&[
        "policy",
        "impact",
        "manylinux1",
        "manylinux2010",
        "--on",
        "2017-04-08",
        "--json",
    ]);
    assert_eq!(v["from"]["name"], "manylinux_2_5");
    assert_eq!(v["to"]["name"], "manylinux_2_12");
    assert_eq!(strings(&v["arches"]), ["x86_64", "i686"]);
    // Still supported that day: SLES 11 (glibc 2.11, general support to 2019-03-31).
    assert_eq!(ids(&v["lose"]["supported"]), ["sles-11"]);
    // Already past support: CentOS 5 (EOL 2017-03-31, eight days earlier), RHEL 5 (only
    // extended support left), Debian 6 and Ubuntu 10.04 (eglibc 2.11).
    assert_eq!(
        ids(&v["lose"]["eol"]),
        ["centos-5", "rhel-5", "debian-6", "ubuntu-10.04"]
    );
    let c5 = &v["lose"]["eol"][0];
    assert_eq!(c5["libc_version"], "2.5");
    assert_eq!(c5["eol"], "2017-03-31");
    assert_eq!(c5["status"], "eol");
    assert_eq!(v["lose"]["eol"][1]["status"], "extended");
    assert_eq!(v["lose"]["unreleased"].as_array().unwrap().len(), 0);
    assert!(ids(&v["gain"]["supported"]).is_empty() && ids(&v["gain"]["eol"]).is_empty());

    // Counting extended support, RHEL 5 is still supported too.
    let v = json(&[
        "policy",
        "impact",
        "manylinux1",
        "manylinux_2_12",
        "--on",
        "2017-04-08",
        "--extended",
        "--json",
    ]);
    assert_eq!(ids(&v["lose"]["supported"]), ["rhel-5", "sles-11"]);

    let (code, out, _) = run(&[
        "policy",
        "impact",
        "manylinux1",
        "manylinux2010",
        "--on",
        "2017-04-08",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("still supported on 2017-04-08 (1):"), "{out}");
    assert!(out.contains("SUSE Linux Enterprise Server 11"), "{out}");
    assert!(
        out.contains("already end-of-life on 2017-04-08 (4):"),
        "{out}"
    );
    let c5 = out.lines().find(|l| l.contains("CentOS 5")).unwrap();
    assert!(
        c5.contains("glibc 2.5") && c5.contains("EOL since 2017-03-31"),
        "{c5}"
    );
}

#[test]
fn impact_manylinux2014_to_2_28_today() {
    let v = json(&[
        "policy",
        "impact",
        "manylinux2014",
        "manylinux_2_28",
        "--on",
        "2026-12-03",
        "--json",
    ]);
    assert!(ids(&v["lose"]["supported"]).is_empty());
    let eol = ids(&v["lose"]["eol"]);
    for id in [
        "centos-7",
        "rhel-7",
        "ubuntu-18.04",
        "amazon-2",
        "sles-12",
        "debian-9",
    ] {
        assert!(eol.contains(&id.to_string()), "{id} in {eol:?}");
    }
    assert!(!eol.contains(&"debian-10".to_string()));
    let v = json(&[
        "policy",
        "impact",
        "manylinux2014",
        "manylinux_2_28",
        "--on",
        "2026-12-03",
        "--extended",
        "--json",
    ]);
    assert_eq!(
        ids(&v["lose"]["supported"]),
        ["rhel-7", "ubuntu-18.04", "sles-12"]
    );
    // Moving down instead gains them back and loses nobody.
    let v = json(&[
        "policy",
        "impact",
        "manylinux_2_28",
        "manylinux2014",
        "--on",
        "2026-12-03",
        "--json",
    ]);
    assert!(ids(&v["lose"]["eol"]).is_empty() && ids(&v["lose"]["supported"]).is_empty());
    assert!(ids(&v["gain"]["eol"]).contains(&"centos-7".to_string()));
}

#[test]
fn impact_musllinux() {
    let v = json(&[
        "policy",
        "impact",
        "musllinux_1_1",
        "musllinux_1_2",
        "--on",
        "2022-01-01",
        "--json",
    ]);
    assert_eq!(ids(&v["lose"]["supported"]), ["alpine-3.12"]);
}

#[test]
fn coverage_of_one_release() {
    let wheels = [
        "dist/numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "numpy-2.1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        "numpy-2.1.0-cp312-cp312-musllinux_1_1_x86_64.whl",
    ];
    let mut args = vec!["coverage", "--on", "2026-12-03", "--json"];
    args.extend(wheels);
    let v = json(&args);
    assert_eq!(strings(&v["arches"]), ["x86_64", "aarch64"]);
    let gaps: Vec<(String, String)> = v["no_wheel_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["distro"].as_str().unwrap().to_string(),
                g["arch"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        gaps,
        [
            ("alpine-3.22".to_string(), "aarch64".to_string()),
            ("alpine-3.23".to_string(), "aarch64".to_string())
        ]
    );
    let rhel8 = v["distros"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "rhel-8")
        .unwrap();
    assert_eq!(rhel8["pairs"][0]["tag"], "manylinux_2_17_x86_64");
    assert_eq!(rhel8["pairs"][1]["wheel"], wheels[1]);

    let (code, out, _) = run(&[
        "coverage",
        "--on",
        "2026-12-03",
        wheels[0],
        wheels[1],
        wheels[2],
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("No wheel, pip builds from source (2 "),
        "{out}"
    );
    let alpine = out
        .lines()
        .find(|l| l.starts_with("Alpine Linux 3.23"))
        .unwrap();
    assert!(alpine.contains("yes") && alpine.contains("no"), "{alpine}");
}

#[test]
fn coverage_of_a_tag_on_a_date() {
    let v = json(&[
        "coverage",
        "manylinux_2_34_x86_64",
        "--on",
        "2025-01-01",
        "--json",
    ]);
    let gaps: Vec<String> = v["no_wheel_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["distro"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        gaps,
        [
            "rhel-8",
            "almalinux-8",
            "rocky-8",
            "ubuntu-20.04",
            "amazon-2",
            "sles-15-sp3",
            "alpine-3.18",
            "alpine-3.19",
            "alpine-3.20",
            "alpine-3.21"
        ]
    );
    // `any` reaches every supported pair of every architecture.
    let v = json(&["coverage", "any", "--on", "2025-01-01", "--json"]);
    assert_eq!(v["arches"].as_array().unwrap().len(), 9);
    assert_eq!(v["no_wheel_supported"].as_array().unwrap().len(), 0);
    // --arch narrows the pairs.
    let v = json(&[
        "coverage",
        "manylinux_2_34_x86_64",
        "--arch",
        "aarch64",
        "--on",
        "2025-01-01",
        "--json",
    ]);
    assert_eq!(strings(&v["arches"]), ["aarch64"]);
    assert!(v["no_wheel_supported"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["arch"] == "aarch64"));
}

fn check_svg(path: &Path, must_contain: &[&str]) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(text.trim_end().ends_with("</svg>"));
    for s in must_contain {
        assert!(text.contains(s), "{s} not in the SVG");
    }
    if common::have("rsvg-convert") {
        let png = path.with_extension("png");
        let o = Command::new("rsvg-convert")
            .arg(path)
            .arg("-o")
            .arg(&png)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "rsvg-convert: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(std::fs::metadata(&png).unwrap().len() > 10_000);
    }
}

#[test]
fn svg_timelines() {
    let dir = tempfile::tempdir().unwrap();
    let impact = dir.path().join("impact.svg");
    let (code, out, err) = run(&[
        "policy",
        "impact",
        "manylinux1",
        "manylinux2010",
        "--on",
        "2017-04-08",
        "--svg",
        impact.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("timeline written to"));
    check_svg(
        &impact,
        &[
            "CentOS 5",
            "2017-04-08",
            "manylinux_2_12 (manylinux2010) needs glibc ≥ 2.12",
            "loses x86_64, i686",
        ],
    );
    let cov = dir.path().join("cov.svg");
    let v = json(&[
        "coverage",
        "manylinux_2_28_x86_64",
        "musllinux_1_2_x86_64",
        "--on",
        "2026-12-03",
        "--svg",
        cov.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        v["distros"].is_array(),
        "--json output stays JSON with --svg"
    );
    check_svg(
        &cov,
        &[
            "manylinux_2_28 needs glibc ≥ 2.28",
            "musllinux_1_2 needs musl ≥ 1.2",
            "Alpine Linux 3.23",
        ],
    );
}

#[test]
fn policy_list_show_diff() {
    let v = json(&["policy", "list", "--json"]);
    let p2014 = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "manylinux_2_17")
        .unwrap();
    assert_eq!(strings(&p2014["aliases"]), ["manylinux2014"]);
    assert_eq!(p2014["arches"].as_array().unwrap().len(), 7);
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "musllinux_1_2" && p["libc"] == "musl"));

    let v = json(&["policy", "show", "manylinux2014", "--json"]);
    assert_eq!(v["arch"], "x86_64");
    let glibc = strings(&v["symbol_versions"]["GLIBC"]);
    assert_eq!(glibc.last().map(String::as_str), Some("2.17"));
    // Versions sort numerically (2.2.5 before 2.10).
    let pos = |v: &str| glibc.iter().position(|x| x == v).unwrap();
    assert!(pos("2.2.5") < pos("2.10"));
    let v = json(&["policy", "show", "manylinux2014_aarch64", "--json"]);
    assert_eq!(v["arch"], "aarch64");
    assert!(strings(&v["symbol_versions"]["GLIBC"]).contains(&"2.17".to_string()));
    assert!(strings(&v["lib_whitelist"]).contains(&"libc.so.6".to_string()));
    let (code, out, _) = run(&["policy", "show", "manylinux_2_28"]);
    assert_eq!(code, 0);
    assert!(out.contains("showing x86_64"), "{out}");
    assert!(out.contains("GLIBC"), "{out}");

    let v = json(&[
        "policy",
        "diff",
        "manylinux2014",
        "manylinux_2_28",
        "--json",
    ]);
    let added = strings(&v["symbol_versions"]["GLIBC"]["added"]);
    assert_eq!(added.first().map(String::as_str), Some("2.18"));
    assert_eq!(added.last().map(String::as_str), Some("2.28"));
    assert!(strings(&v["symbol_versions"]["GLIBC"]["removed"]).is_empty());
    let (code, out, _) = run(&["policy", "diff", "manylinux2014", "manylinux_2_28"]);
    assert_eq!(code, 0);
    assert!(out.contains("+ 2.18"), "{out}");
    let (code, out, _) = run(&["policy", "diff", "manylinux_2_28", "manylinux_2_28"]);
    assert_eq!(code, 0);
    assert!(out.contains("no differences"), "{out}");
}

#[test]
fn bad_input_is_one_error_line_and_exit_2() {
    let empty = tempfile::tempdir().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["coverage", "foo.whl"],
        vec!["coverage", "manylinux_2_x86_64"],
        vec!["coverage", "win_amd64"],
        vec!["coverage", "any", "--arch", "sparc"],
        vec!["coverage", "any", "--on", "2017-13-01"],
        vec!["policy", "impact", "manylinux1", "musllinux_1_2"],
        vec!["policy", "impact", "manylinux1", "nope"],
        vec!["policy", "show", "nope"],
        vec!["policy", "show", "manylinux1", "--arch", "aarch64"],
        vec!["tags", "--sysroot", "/nonexistent/root"],
        vec!["tags", "--sysroot", empty.path().to_str().unwrap()],
        vec!["tags", "--arch", "bogus"],
    ];
    for args in cases {
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {stderr}");
        assert!(lines[0].starts_with("error: "), "{args:?}: {stderr}");
    }
}
