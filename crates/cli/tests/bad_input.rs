//! Bad input: one clear `error:` line on stderr, exit code 2, no panic, input untouched.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Write a zip with python's zipfile: `members` are (name, bytes); RECORD is generated
/// (correctly) unless `record` is given.
fn make_zip(path: &Path, members: &[(&str, &[u8])], record: Option<&str>) {
    let mut script = String::from(
        "import sys, zipfile, hashlib, base64\nz = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED)\nrows = []\n",
    );
    for (i, (name, data)) in members.iter().enumerate() {
        let blob = path.with_extension(format!("m{i}"));
        std::fs::write(&blob, data).unwrap();
        script.push_str(&format!(
            "d = open({blob:?}, 'rb').read()\nz.writestr(zipfile.ZipInfo({name:?}), d)\n\
             rows.append('%s,sha256=%s,%d' % ({name:?}, base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode(), len(d)))\n",
            blob = blob.to_str().unwrap(),
        ));
    }
    match record {
        Some(text) => script.push_str(&format!("z.writestr('x-1.dist-info/RECORD', {text:?})\n")),
        None => script.push_str(
            "rows.append('x-1.dist-info/RECORD,,')\nz.writestr('x-1.dist-info/RECORD', '\\n'.join(rows) + '\\n')\n",
        ),
    }
    script.push_str("z.close()\n");
    let st = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

const WHEEL: &[u8] =
    b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: cp311-cp311-linux_x86_64\n";

/// A real small ELF shared object of the host.
fn host_so(dir: &Path) -> Vec<u8> {
    let src = dir.join("m.c");
    std::fs::write(&src, "int PyInit_m(void){return 0;}\n").unwrap();
    let so = dir.join("m.so");
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::read(so).unwrap()
}

fn digest(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// Run `show` and `check` on `wheel`; both must fail with exit 2 and one error line that
/// contains `expect`; the wheel must be unchanged.
fn assert_rejected(wheel: &Path, expect: &str) {
    let before = digest(wheel);
    for cmd in ["show", "check"] {
        for json in [false, true] {
            let mut c = manywheel();
            c.arg(cmd).arg(wheel);
            if json {
                c.arg("--json");
            }
            let out = c.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{cmd} {}: {stderr}",
                wheel.display()
            );
            let lines: Vec<&str> = stderr.lines().collect();
            assert_eq!(lines.len(), 1, "one error line expected, got: {stderr}");
            assert!(lines[0].starts_with("error: "), "{stderr}");
            assert!(lines[0].contains(expect), "expected {expect:?} in {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            if json {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                assert!(v["error"].as_str().unwrap().contains(expect));
            }
        }
    }
    assert_eq!(before, digest(wheel), "input was modified");
}

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().to_path_buf();
    (d, p)
}

#[test]
fn not_a_zip() {
    let (_d, dir) = tmp();
    let w = dir.join("x-1-cp311-cp311-linux_x86_64.whl");
    std::fs::write(&w, b"this is not a zip archive at all, just text\n").unwrap();
    assert_rejected(&w, "not a zip");
}

#[test]
fn truncated_zip() {
    let (_d, dir) = tmp();
    let w = dir.join("x-1-cp311-cp311-linux_x86_64.whl");
    let so = host_so(&dir);
    make_zip(&w, &[("x/m.so", &so), ("x-1.dist-info/WHEEL", WHEEL)], None);
    let data = std::fs::read(&w).unwrap();
    std::fs::write(&w, &data[..data.len() / 2]).unwrap();
    assert_rejected(&w, "x-1-cp311-cp311-linux_x86_64.whl");
}

#[test]
fn duplicate_members() {
    let (_d, dir) = tmp();
    let w = dir.join("x-1-cp311-cp311-linux_x86_64.whl");
    make_zip(
        &w,
        &[
            ("x/a.py", b"1"),
            ("x/a.py", b"2"),
            ("x-1.dist-info/WHEEL", WHEEL),
        ],
        None,
    );
    assert_rejected(&w, "duplicate");
}

#[test]
fn parent_traversal_and_absolute_names() {
    for name in ["../evil.so", "x/../../evil.so", "/etc/evil.so"] {
        let (_d, dir) = tmp();
        let w = dir.join("x-1-cp311-cp311-linux_x86_64.whl");
        make_zip(&w, &[(name, b"x"), ("x-1.dist-info/WHEEL", WHEEL)], None);
        assert_rejected(&w, "unsafe member name");
    }
}

#[test]
fn truncated_elf_member() {
    let (_d, dir) = tmp();
    let w = dir.join("x-1-cp311-cp311-linux_x86_64.whl");
    let so = host_so(&dir);
    // Cut inside the program headers' targets: the header claims more than the file holds.
    let cut = &so[..200];
    make_zip(&w, &[("x/m.so", cut), ("x-1.dist-info/WHEEL", WHEEL)], None);
    assert_rejected(&w, "x/m.so");
}

#[test]
fn record_hash_mismatch() {
    let (_d, dir) = tmp();
    let w = dir.join("x-1-cp311-cp311-linux_x86_64.whl");
    let so = host_so(&dir);
    let record = format!(
        "x/m.so,sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,{}\nx-1.dist-info/WHEEL,,\nx-1.dist-info/RECORD,,\n",
        so.len()
    );
    make_zip(
        &w,
        &[("x/m.so", &so), ("x-1.dist-info/WHEEL", WHEEL)],
        Some(&record),
    );
    assert_rejected(&w, "RECORD");
}

#[test]
fn bad_wheel_names() {
    let (_d, dir) = tmp();
    for name in [
        "nodashes.whl",
        "a-b.whl",
        "x-1-cp311-linux_x86_64.zip",
        "x-1-2-3-4-5-6-7.whl",
    ] {
        let w = dir.join(name);
        make_zip(&w, &[("x-1.dist-info/WHEEL", WHEEL)], None);
        assert_rejected(&w, name);
    }
}

#[test]
fn missing_file_and_bad_sysroot() {
    let out = manywheel()
        .args(["show", "/nonexistent/x-1-py3-none-any.whl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("no such file"),
        "{stderr}"
    );

    let out = manywheel()
        .args([
            "show",
            "--sysroot",
            "/nonexistent-root",
            "/nonexistent/x-1-py3-none-any.whl",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sysroot"));
}

#[test]
fn one_bad_wheel_does_not_hide_the_good_ones() {
    let (_d, dir) = tmp();
    let bad = dir.join("x-1-cp311-cp311-linux_x86_64.whl");
    std::fs::write(&bad, b"junk").unwrap();
    let good = dir.join("x-1-py3-none-any.whl");
    let pure_wheel: &[u8] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
    make_zip(
        &good,
        &[("x/__init__.py", b""), ("x-1.dist-info/WHEEL", pure_wheel)],
        None,
    );
    let out = manywheel()
        .arg("show")
        .arg("--json")
        .arg(&bad)
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v[0]["error"].is_string());
    assert_eq!(v[1]["pure"], true);
}
