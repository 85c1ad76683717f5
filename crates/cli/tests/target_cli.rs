//! `manywheel target` and `manywheel run` from the command line.
//!
//! Offline: usage and input errors are one line with exit code 2 and leave nothing behind.
//! Online (Debian mirror; skipped when unreachable unless MANYWHEEL_REQUIRE_REFERENCE=1):
//! bookworm targets for aarch64, s390x and i686 are added into a cache shared between test
//! runs (`MANYWHEEL_TEST_CACHE`, default ~/.cache/manywheel-tests; only the first run
//! downloads), and their Python runs under qemu or through the target's own loader.

use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;

mod common;
use common::targets::{manywheel_in, with_target};

fn manywheel(cache: &std::path::Path) -> Command {
    manywheel_in(cache)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit code 2 and the error as one line, the last on stderr (progress lines may precede it).
fn one_line_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(out));
    let err = stderr(out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "not one error line: {err}");
    assert_eq!(err.trim_end().lines().last(), Some(errors[0]), "{err}");
    errors[0].to_string()
}

#[test]
fn errors_are_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");

    // A mirror whose Release file lists a wrong checksum for the Packages index.
    let mirror = tmp.path().join("mirror");
    let suite = mirror.join("dists/bookworm");
    std::fs::create_dir_all(suite.join("main/binary-arm64")).unwrap();
    std::fs::write(
        suite.join("main/binary-arm64/Packages"),
        "Package: python3\n",
    )
    .unwrap();
    std::fs::write(
        suite.join("Release"),
        format!(
            "Codename: bookworm\nArchitectures: arm64\nSHA256:\n {} 17 main/binary-arm64/Packages\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let out = manywheel(&cache)
        .args(["target", "add", "aarch64", "--qemu-from-path", "--mirror"])
        .arg(format!("file://{}", mirror.display()))
        .output()
        .unwrap();
    let err = one_line_error(&out);
    assert!(err.contains("sha256 mismatch"), "{err}");
    // With --quiet, the error is all there is.
    let out = manywheel(&cache)
        .args(["target", "add", "aarch64", "-q", "--mirror"])
        .arg(format!("file://{}", mirror.display()))
        .output()
        .unwrap();
    one_line_error(&out);
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(!cache.join("targets/debian-bookworm-aarch64").exists());

    for args in [
        &["target", "add", "sparc"][..],
        &["target", "add", "aarch64", "--distro", "ubuntu:noble"],
        &[
            "target",
            "add",
            "aarch64",
            "--mirror",
            "ftp://example.invalid/debian",
        ],
        &["target", "remove", "debian-bookworm-aarch64"],
        &["run", "--arch", "aarch64", "--", "python3", "-c", "pass"],
        &[
            "run", "--arch", "x86_64", "--target", "../etc", "--", "true",
        ],
    ] {
        let out = manywheel(&cache).args(args).output().unwrap();
        one_line_error(&out);
    }

    let out = manywheel(&cache)
        .args(["target", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}

fn run_python(cache: &std::path::Path, arch: &str, code: &str) -> String {
    let out = manywheel(cache)
        .args(["run", "--arch", arch, "--", "python3", "-c", code])
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    assert!(out.status.success(), "run {arch}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

const PROBE: &str = "import platform,sys,struct; print(platform.machine(), sys.version_info[:2]); print(struct.calcsize('P'), sys.byteorder); print(sys.prefix)";

#[test]
fn aarch64_python_runs_under_qemu() {
    let Some(cache) = with_target("aarch64") else {
        return;
    };
    let out = run_python(&cache, "aarch64", PROBE);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "aarch64 (3, 11)");
    assert_eq!(lines[1], "8 little");
    assert!(
        lines[2].ends_with("targets/debian-bookworm-aarch64/usr"),
        "{}",
        lines[2]
    );

    // stdin, stdout and the exit code pass through; so do arguments that look like options.
    let out = manywheel(&cache)
        .args(["run", "--arch", "arm64", "--", "python3", "-c"])
        .arg("import sys; print(sys.stdin.read().upper(), sys.argv[1:]); sys.exit(3)")
        .args(["--flag", "x"])
        .write_stdin("hello")
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "HELLO ['--flag', 'x']\n"
    );
    // The target's stdlib with its C extensions (ssl, sqlite3, ctypes) loads.
    let out = run_python(
        &cache,
        "aarch64",
        "import ssl, sqlite3, ctypes, zlib, lzma, bz2; print(ssl.OPENSSL_VERSION.split()[0])",
    );
    assert_eq!(out.trim(), "OpenSSL");
    // A program of the target other than python, by bare name.
    let out = manywheel(&cache)
        .args([
            "run",
            "--arch",
            "aarch64",
            "--",
            "python3.11",
            "-c",
            "print(1)",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n");

    let out = manywheel(&cache)
        .args(["target", "list", "--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "debian-bookworm-aarch64")
        .unwrap();
    assert_eq!(t["arch"], "aarch64");
    assert_eq!(t["glibc_version"], "2.36");
    assert_eq!(t["qemu"], "cached");
    assert!(t["python_version"].as_str().unwrap().starts_with("3.11."));
}

#[test]
fn s390x_python_runs_under_qemu() {
    let Some(cache) = with_target("s390x") else {
        return;
    };
    let out = run_python(&cache, "s390x", PROBE);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "s390x (3, 11)");
    assert_eq!(lines[1], "8 big");
}

#[test]
fn i686_python_runs_through_its_own_loader() {
    let Some(cache) = with_target("i686") else {
        return;
    };
    let out = run_python(
        &cache,
        "i686",
        "import struct,sys,os; print(struct.calcsize('P'), sys.version_info[:2]); print(os.readlink('/proc/self/exe'))",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "4 (3, 11)");
    // The process is the target's loader, not the host's.
    assert!(
        lines[1].contains("targets/debian-bookworm-i686/"),
        "{}",
        lines[1]
    );
}
