//! The abi3 check: an extension of a `cpXY-abi3` wheel may only use the stable ABI, and only
//! the part that exists in Python X.Y. Fixtures are built here; corpus abi3 wheels must pass.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

/// Build `ext.so` from `body` (C) and wheel it as `abi3ext-1.0-{py}-abi3-linux_x86_64.whl`.
fn wheel(dir: &Path, py: &str, body: &str) -> std::path::PathBuf {
    let src = dir.join(format!("{py}.c"));
    std::fs::write(&src, body).unwrap();
    let so = dir.join(format!("{py}.so"));
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&so)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    let whl = dir.join(format!("abi3ext-1.0-{py}-abi3-linux_x86_64.whl"));
    let script = r#"
import sys, zipfile, hashlib, base64
whl, so, py = sys.argv[1], sys.argv[2], sys.argv[3]
files = {
  "abi3ext/_ext.abi3.so": open(so, "rb").read(),
  "abi3ext-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: abi3ext\nVersion: 1.0\n",
  "abi3ext-1.0.dist-info/WHEEL": ("Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: %s-abi3-linux_x86_64\n" % py).encode(),
}
rows = []
with zipfile.ZipFile(whl, "w", zipfile.ZIP_DEFLATED) as z:
    for name, data in files.items():
        z.writestr(name, data)
        d = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append("%s,sha256=%s,%d" % (name, d, len(data)))
    rows.append("abi3ext-1.0.dist-info/RECORD,,")
    z.writestr("abi3ext-1.0.dist-info/RECORD", "\n".join(rows) + "\n")
"#;
    let st = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&whl)
        .arg(&so)
        .arg(py)
        .status()
        .unwrap();
    assert!(st.success());
    whl
}

const HEADER: &str = "typedef struct _object PyObject;\n\
    extern PyObject *PyLong_FromLong(long);\n\
    extern const char *PyUnicode_AsUTF8AndSize(PyObject *, long *);\n\
    extern PyObject *PyCode_New(int, int, int, int, int, PyObject *, PyObject *, PyObject *, \
    PyObject *, PyObject *, PyObject *, PyObject *, PyObject *, int, PyObject *);\n";

fn json(args: &[&std::ffi::OsStr]) -> (Option<i32>, Value) {
    let out = manywheel().args(args).output().unwrap();
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

#[test]
fn limited_api_use_is_checked_against_the_claimed_python() {
    if !have("cc") {
        return skip("no C compiler");
    }
    let dir = tempfile::tempdir().unwrap();
    let body_ok = format!("{HEADER}PyObject *PyInit__ext(void) {{ return PyLong_FromLong(1); }}\n");
    let body_310 = format!(
        "{HEADER}PyObject *PyInit__ext(void) {{ long n; PyObject *o = PyLong_FromLong(1); \
         return (PyObject *)PyUnicode_AsUTF8AndSize(o, &n); }}\n"
    );
    let body_private = format!(
        "{HEADER}PyObject *PyInit__ext(void) {{ return PyCode_New(0,0,0,0,0,0,0,0,0,0,0,0,0,0,0); }}\n"
    );

    // Only 3.2 symbols: fine for cp37.
    let w = wheel(dir.path(), "cp37", &body_ok);
    let (code, v) = json(&["show".as_ref(), "--json".as_ref(), w.as_os_str()]);
    assert_eq!(code, Some(0));
    assert_eq!(v["abi3"]["ok"], true, "{v}");
    assert_eq!(v["abi3"]["claimed"], "3.7");
    assert_eq!(v["abi3"]["required"], "3.2");

    // A 3.10 limited-API function in a cp37-abi3 wheel: too new; fine for cp310.
    let w = wheel(dir.path(), "cp37", &body_310);
    let (_, v) = json(&["show".as_ref(), "--json".as_ref(), w.as_os_str()]);
    assert_eq!(v["abi3"]["ok"], false, "{v}");
    assert_eq!(v["abi3"]["required"], "3.10");
    assert_eq!(
        v["abi3"]["too_new_symbols"]["abi3ext/_ext.abi3.so"],
        serde_json::json!(["PyUnicode_AsUTF8AndSize (3.10)"])
    );
    let out = manywheel().arg("check").arg(&w).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL") && text.contains("PyUnicode_AsUTF8AndSize"),
        "{text}"
    );
    let w = wheel(dir.path(), "cp310", &body_310);
    let out = manywheel().arg("check").arg(&w).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A function outside the stable ABI: never abi3.
    let w = wheel(dir.path(), "cp311", &body_private);
    let (_, v) = json(&["show".as_ref(), "--json".as_ref(), w.as_os_str()]);
    assert_eq!(v["abi3"]["ok"], false);
    assert_eq!(
        v["abi3"]["non_abi3_symbols"]["abi3ext/_ext.abi3.so"],
        serde_json::json!(["PyCode_New"])
    );
}

#[test]
fn corpus_abi3_wheels_pass() {
    let wheels: Vec<_> = corpus_wheels()
        .into_iter()
        .filter(|w| w.to_string_lossy().contains("-abi3-"))
        .collect();
    if wheels.is_empty() {
        return skip("no corpus abi3 wheels");
    }
    for w in wheels {
        let (_, v) = json(&["show".as_ref(), "--json".as_ref(), w.as_os_str()]);
        assert_eq!(v["abi3"]["ok"], true, "{}: {}", w.display(), v["abi3"]);
        let claimed = v["abi3"]["claimed"].as_str().unwrap();
        let required = v["abi3"]["required"].as_str().unwrap();
        let num = |s: &str| -> (u32, u32) {
            let (a, b) = s.split_once('.').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        };
        assert!(num(required) <= num(claimed), "{}", w.display());
    }
}
