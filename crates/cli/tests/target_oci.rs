//! `manywheel target add ARCH --image REF` against registries on 127.0.0.1:
//!
//! - the CNCF distribution registry 2.8 (Debian's `docker-registry`, started here with a
//!   generated config) serving images this test builds and pushes: an OCI index and a Docker
//!   manifest list over an arm64 and an amd64 image; the arm64 one has three layers (gzip,
//!   zstd, plain tar) made from the cross toolchain's glibc plus aarch64 programs compiled
//!   here, with whiteouts and an opaque directory. The flattened tree is checked file by file
//!   and its programs run under qemu with `manywheel run`;
//! - a fake registry that demands a Bearer token from its own realm and serves damaged blobs:
//!   every failure is one `error:` line, exit code 2, and leaves no target behind.

mod common;
mod oci_support;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use oci_support::*;
use serde_json::Value;

fn manywheel(cache: &Path) -> Command {
    let mut cmd = Command::cargo_bin("manywheel").unwrap();
    cmd.env("MANYWHEEL_CACHE", cache)
        .env_remove("XDG_CACHE_HOME")
        .timeout(std::time::Duration::from_secs(300));
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit code 2 and exactly one `error:` line, the last on stderr.
fn one_line_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(out));
    let err = stderr(out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "not one error line: {err}");
    assert_eq!(err.trim_end().lines().last(), Some(errors[0]), "{err}");
    errors[0].to_string()
}

/// Nothing of a failed add is left: no target, no temporary tree.
fn assert_nothing_left(cache: &Path, name: &str) {
    assert!(
        fs::symlink_metadata(cache.join("targets").join(name)).is_err(),
        "target {name} was left behind"
    );
    if let Ok(rd) = fs::read_dir(cache.join("tmp")) {
        let left: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(left.is_empty(), "left in tmp/: {left:?}");
    }
}

fn manifest(target: &Path) -> Value {
    serde_json::from_slice(&fs::read(target.join("manifest.json")).unwrap()).unwrap()
}

fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

/// Regular files of a tree (not following links), and any whiteout names found.
fn walk(root: &Path) -> (u64, Vec<String>) {
    let mut files = 0;
    let mut wh = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".wh.") {
                wh.push(e.path().display().to_string());
            }
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() && !(d == root && name == "manifest.json") {
                files += 1;
            }
        }
    }
    (files, wh)
}

const COMPUTE_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <gnu/libc-version.h>
int main(int argc, char **argv) {
    unsigned long n = argc > 1 ? strtoul(argv[1], 0, 10) : 10, s = 0;
    for (unsigned long i = 1; i <= n; i++) s += i * i;
    printf("sum of squares 1..%lu = %lu, glibc %s\n", n, s, gnu_get_libc_version());
    return 0;
}
"#;

/// Stands in for a CPython: prints the version it was built as and its arguments.
const FAKE_PYTHON_C: &str = r#"
#include <stdio.h>
int main(int argc, char **argv) {
    printf("python %s", PYVER);
    for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]);
    printf("\n");
    return 0;
}
"#;

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn patchlevel(v: &str) -> String {
    format!("/* Version as a string */\n#define PY_VERSION              \"{v}\"\n")
}

#[test]
fn distribution_registry_multi_platform_whiteouts_and_run() {
    let Some(registry_bin) = find_program("docker-registry") else {
        return common::skip("docker-registry (Debian package) is not installed");
    };
    if !common::have("aarch64-linux-gnu-gcc") || !common::have("qemu-aarch64-static") {
        return common::skip("aarch64-linux-gnu-gcc or qemu-aarch64-static missing");
    }
    let libc_dir = Path::new("/usr/aarch64-linux-gnu/lib");
    let host_loader = Path::new("/lib64/ld-linux-x86-64.so.2");
    if !libc_dir.join("libc.so.6").is_file() || !host_loader.exists() {
        return common::skip("no /usr/aarch64-linux-gnu/lib/libc.so.6 or x86-64 host loader");
    }
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("build");
    fs::create_dir(&work).unwrap();
    let compute = fs::read(cross_compile(&work, "compute", COMPUTE_C, &[]).unwrap()).unwrap();
    let py = |v: &str| {
        let def = format!("-DPYVER=\"{v}\"");
        fs::read(
            cross_compile(
                &work,
                &format!("py{}", v.replace('.', "")),
                FAKE_PYTHON_C,
                &[&def],
            )
            .unwrap(),
        )
        .unwrap()
    };
    let (py39, py311, py312, py313t) = (py("3.9"), py("3.11"), py("3.12"), py("3.13t"));
    let ld = fs::read(libc_dir.join("ld-linux-aarch64.so.1")).unwrap();
    let libc = fs::read(libc_dir.join("libc.so.6")).unwrap();

    // The arm64 image: a base layer (gzip), an upper layer (zstd), a whiteout layer (tar).
    let base = layer(
        DOCKER_GZIP,
        &[
            dir("usr/"),
            dir("usr/bin/"),
            dir("usr/lib/"),
            dir("usr/lib/aarch64-linux-gnu/"),
            exe("usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", ld),
            exe("usr/lib/aarch64-linux-gnu/libc.so.6", libc),
            link(
                "usr/lib/ld-linux-aarch64.so.1",
                "/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
            ),
            link("lib", "usr/lib"),
            link("bin", "usr/bin"),
            dir("etc/"),
            file(
                "etc/os-release",
                "NAME=\"test\"\nPRETTY_NAME=\"manywheel test image 1\"\n",
            ),
            file("etc/doomed", "to be whited out"),
            dir("opt/"),
            dir("opt/old/"),
            file("opt/old/a", "lower"),
            dir("opt/old/sub/"),
            file("opt/old/sub/x", "lower"),
            dir("opt/python/"),
            exe("opt/python/cp39-cp39/bin/python", py39),
        ],
    );
    let mut upper_entries = vec![
        dir("opt/_internal/"),
        exe("usr/bin/compute", compute),
        hard("usr/bin/compute2", "usr/bin/compute"),
    ];
    for (v, full, bin) in [("3.11", "3.11.9", &py311), ("3.12", "3.12.4", &py312)] {
        let d = format!("opt/_internal/cpython-{full}");
        upper_entries.push(exe(&format!("{d}/bin/python{v}"), bin.clone()));
        upper_entries.push(link(&format!("{d}/bin/python"), &format!("python{v}")));
        upper_entries.push(file(
            &format!("{d}/include/python{v}/patchlevel.h"),
            patchlevel(full),
        ));
        // manylinux links /opt/python/cpXY-cpXY to /opt/_internal/... with absolute targets.
        let tag = format!("cp{}", v.replace('.', ""));
        upper_entries.push(link(&format!("opt/python/{tag}-{tag}"), &format!("/{d}")));
    }
    upper_entries.push(exe("opt/python/cp313-cp313t/bin/python", py313t));
    let upper = layer(OCI_ZSTD, &upper_entries);
    let whiteouts = layer(
        OCI_TAR,
        &[
            file("etc/.wh.doomed", ""),
            dir("opt/old/"),
            file("opt/old/.wh..wh..opq", ""),
            file("opt/old/new", "upper"),
            file("opt/python/.wh.cp39-cp39", ""),
        ],
    );
    let arm64 = image(
        false,
        "arm64",
        Some("v8"),
        &["PATH=/usr/bin", "AUDITWHEEL_PLAT=manylinux_2_36_aarch64"],
        vec![base.clone(), upper.clone(), whiteouts.clone()],
    );
    let amd64_layer = layer(
        DOCKER_GZIP,
        &[
            dir("lib64/"),
            exe("lib64/ld-linux-x86-64.so.2", fs::read(host_loader).unwrap()),
            file("amd64-marker", "amd64"),
        ],
    );
    let amd64 = image(
        true,
        "amd64",
        None,
        &["PATH=/usr/bin"],
        vec![amd64_layer.clone()],
    );
    // Claims arm64, carries an x86-64 tree.
    let liar = image(false, "arm64", None, &[], vec![amd64_layer.clone()]);

    let reg = LocalRegistry::start(&registry_bin);
    let repo = "test/multi";
    reg.push_image(repo, &arm64.digest, &arm64);
    reg.push_image(repo, &amd64.digest, &amd64);
    let (oci_index, oci_index_digest) = index(
        false,
        &[(&amd64, "amd64", None), (&arm64, "arm64", Some("v8"))],
    );
    reg.push_manifest(repo, "v1", OCI_INDEX, &oci_index);
    let (docker_list, _) = index(
        true,
        &[(&arm64, "arm64", Some("v8")), (&amd64, "amd64", None)],
    );
    reg.push_manifest(repo, "v1-docker", DOCKER_LIST, &docker_list);
    reg.push_image("test/amd64", "v1", &amd64);
    reg.push_image("test/liar", "v1", &liar);
    let host = format!("127.0.0.1:{}", reg.port);

    let cache = tmp.path().join("cache");
    let out = manywheel(&cache)
        .args(["target", "add", "aarch64", "--qemu-from-path", "--image"])
        .arg(format!("{host}/{repo}:v1"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("linux/arm64/v8 from a list of 2"),
        "{}",
        stderr(&out)
    );
    let target = cache.join("targets/multi-v1-aarch64");
    assert_eq!(stdout(&out).trim(), target.display().to_string());

    // The flattened tree: whiteouts applied, opaque dir cleared, links made relative.
    assert!(!exists(&target.join("etc/doomed")));
    assert!(target.join("etc/os-release").is_file());
    assert!(!exists(&target.join("opt/old/a")));
    assert!(!exists(&target.join("opt/old/sub")));
    assert_eq!(fs::read(target.join("opt/old/new")).unwrap(), b"upper");
    assert!(!exists(&target.join("opt/python/cp39-cp39")));
    assert!(target.join("opt/python/cp311-cp311/bin/python").is_file());
    assert_eq!(
        fs::read_link(target.join("opt/python/cp311-cp311")).unwrap(),
        Path::new("../_internal/cpython-3.11.9")
    );
    assert_eq!(
        fs::read_link(target.join("usr/lib/ld-linux-aarch64.so.1")).unwrap(),
        Path::new("aarch64-linux-gnu/ld-linux-aarch64.so.1")
    );
    assert_eq!(
        fs::read_link(target.join("lib")).unwrap(),
        Path::new("usr/lib")
    );
    let (m1, m2) = (
        fs::metadata(target.join("usr/bin/compute")).unwrap(),
        fs::metadata(target.join("usr/bin/compute2")).unwrap(),
    );
    assert_eq!((m1.ino(), m1.mode() & 0o111 != 0), (m2.ino(), true));
    let (files, whiteout_files) = walk(&target);
    assert!(whiteout_files.is_empty(), "{whiteout_files:?}");

    let m = manifest(&target);
    let img = &m["image"];
    assert_eq!(img["reference"], format!("{host}/{repo}:v1"));
    assert_eq!(img["digest"], arm64.digest.as_str());
    assert_eq!(img["index_digest"], oci_index_digest.as_str());
    assert_eq!(img["platform"], "linux/arm64/v8");
    assert_eq!(img["config_digest"], arm64.config.digest.as_str());
    let layer_digests: Vec<&str> = img["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    assert_eq!(
        layer_digests,
        [&base.digest, &upper.digest, &whiteouts.digest]
    );
    let diff_ids: Vec<&str> = img["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["diff_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        diff_ids,
        [&base.diff_id, &upper.diff_id, &whiteouts.diff_id]
    );
    assert_eq!(img["env"][1], "AUDITWHEEL_PLAT=manylinux_2_36_aarch64");
    assert_eq!(img["os_release"], "manywheel test image 1");
    assert_eq!(img["arch_checked_with"], "/lib/ld-linux-aarch64.so.1");
    let versions: Vec<&str> = img["pythons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["3.11", "3.12", "3.13t"]);
    assert_eq!(m["python"], "/opt/python/cp312-cp312/bin/python");
    assert_eq!(m["python_version"], "3.12.4");
    assert_eq!(m["interpreter"], "/lib/ld-linux-aarch64.so.1");
    assert_eq!(m["file_count"].as_u64(), Some(files));
    assert!(m["tree_digest"].as_str().unwrap().starts_with("sha256:"));
    // The cross toolchain's glibc: what the library defines, as the program will report.
    let glibc = m["glibc_version"].as_str().unwrap().to_string();

    // Its programs run under qemu, with the image's own loader and libc.
    let run = |args: &[&str]| {
        let out = manywheel(&cache)
            .args([
                "run",
                "--arch",
                "aarch64",
                "--target",
                "multi-v1-aarch64",
                "--",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "run {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(
        run(&["compute", "1000"]),
        format!("sum of squares 1..1000 = 333833500, glibc {glibc}\n")
    );
    assert_eq!(
        run(&["/usr/bin/compute2", "3"]),
        format!("sum of squares 1..3 = 14, glibc {glibc}\n")
    );
    assert_eq!(
        run(&["python3", "-c", "print(1)"]),
        "python 3.12 [-c] [print(1)]\n"
    );
    assert_eq!(run(&["python3.11", "-V"]), "python 3.11 [-V]\n");
    assert_eq!(run(&["python3.13t"]), "python 3.13t\n");

    // --python picks another CPython without pulling again.
    let out = manywheel(&cache)
        .args([
            "target",
            "add",
            "aarch64",
            "--qemu-from-path",
            "--python",
            "3.11",
            "--image",
        ])
        .arg(format!("{host}/{repo}:v1"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("already present"), "{}", stderr(&out));
    assert_eq!(manifest(&target)["python_version"], "3.11.9");
    assert_eq!(run(&["python", "x.py"]), "python 3.11 [x.py]\n");
    let out = manywheel(&cache)
        .args([
            "target",
            "add",
            "aarch64",
            "--qemu-from-path",
            "--python",
            "3.10",
            "--image",
        ])
        .arg(format!("{host}/{repo}:v1"))
        .output()
        .unwrap();
    let e = one_line_error(&out);
    assert!(
        e.contains("no Python 3.10 in the image (it has: 3.11, 3.12, 3.13t)"),
        "{e}"
    );

    // The Docker manifest list gives the amd64 image for x86_64.
    let out = manywheel(&cache)
        .args(["target", "add", "x86_64", "-q", "--image"])
        .arg(format!("{host}/{repo}:v1-docker"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let x86 = cache.join("targets/multi-v1-docker-x86_64");
    assert_eq!(fs::read(x86.join("amd64-marker")).unwrap(), b"amd64");
    assert!(!exists(&x86.join("opt")));
    let mx = manifest(&x86);
    assert_eq!(mx["image"]["digest"], amd64.digest.as_str());
    assert_eq!(mx["image"]["platform"], "linux/amd64");
    assert_eq!(mx["python"], Value::Null);

    // Pinned by digest: the same image; blobs come from the cache.
    let out = manywheel(&cache)
        .args(["target", "add", "aarch64", "--qemu-from-path", "--image"])
        .arg(format!("{host}/{repo}@{oci_index_digest}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("downloading"), "{}", stderr(&out));
    let pinned_name = format!("multi-sha256-{}-aarch64", &oci_index_digest[7..19]);
    let mp = manifest(&cache.join("targets").join(&pinned_name));
    assert_eq!(mp["image"]["digest"], arm64.digest.as_str());
    assert_eq!(mp["tree_digest"], m["tree_digest"]);

    let out = manywheel(&cache)
        .args(["target", "list", "--json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            pinned_name.as_str(),
            "multi-v1-aarch64",
            "multi-v1-docker-x86_64"
        ]
    );
    assert_eq!(
        list[1]["image"],
        format!("{host}/{repo}:v1@{}", arm64.digest)
    );
    assert_eq!(list[1]["distro"], "oci");
    assert_eq!(list[1]["glibc_version"], glibc.as_str());
    let out = manywheel(&cache)
        .args(["target", "remove", &pinned_name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!exists(&cache.join("targets").join(&pinned_name)));

    // Wrong platform, wrong config architecture, a tree of another architecture, a digest
    // the registry does not have: one line each, nothing left.
    let fail = |arch: &str, reference: String, name: &str| {
        let out = manywheel(&cache)
            .args(["target", "add", arch, "--qemu-from-path", "--image"])
            .arg(reference)
            .output()
            .unwrap();
        let e = one_line_error(&out);
        assert_nothing_left(&cache, name);
        e
    };
    let e = fail("s390x", format!("{host}/{repo}:v1"), "multi-v1-s390x");
    assert!(
        e.contains("has no linux/s390x image for s390x (it has: linux/amd64, linux/arm64/v8)"),
        "{e}"
    );
    let e = fail(
        "aarch64",
        format!("{host}/test/amd64:v1"),
        "amd64-v1-aarch64",
    );
    assert!(
        e.contains("is a linux/amd64 image, not linux/arm64/v8 (aarch64)"),
        "{e}"
    );
    let e = fail("aarch64", format!("{host}/test/liar:v1"), "liar-v1-aarch64");
    assert!(
        e.contains(
            "the image is not for aarch64: it has the x86_64 loader /lib64/ld-linux-x86-64.so.2"
        ),
        "{e}"
    );
    let missing = format!("sha256:{}", "0".repeat(64));
    let e = fail(
        "aarch64",
        format!("{host}/{repo}@{missing}"),
        "multi-sha256-000000000000-aarch64",
    );
    assert!(
        e.contains("not found") && e.contains("manifest unknown"),
        "{e}"
    );
    drop(reg);
}

/// An x86-64 image with the host's own loader and libc (runs natively, no qemu).
fn host_image(marker: &str) -> Option<(Image, Blob)> {
    let loader = fs::read("/lib64/ld-linux-x86-64.so.2").ok()?;
    let libc = fs::read("/lib/x86_64-linux-gnu/libc.so.6").ok()?;
    let base = layer(
        DOCKER_GZIP,
        &[
            dir("lib64/"),
            exe("lib64/ld-linux-x86-64.so.2", loader),
            dir("usr/lib/x86_64-linux-gnu/"),
            exe("usr/lib/x86_64-linux-gnu/libc.so.6", libc),
            link("lib", "usr/lib"),
        ],
    );
    let top = layer(OCI_GZIP, &[file("marker", marker)]);
    Some((
        image(
            true,
            "amd64",
            None,
            &["LANG=C.UTF-8"],
            vec![base, top.clone()],
        ),
        top,
    ))
}

#[test]
fn fake_registry_token_auth_and_damaged_blobs() {
    if std::env::consts::ARCH != "x86_64" {
        return common::skip("the fake-registry image is made from the x86-64 host's libc");
    }
    let Some((good, _)) = host_image("good") else {
        return common::skip("no /lib64/ld-linux-x86-64.so.2 or /lib/x86_64-linux-gnu/libc.so.6");
    };
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let fake = FakeRegistry::start("test/img", Auth::Bearer);
    fake.add_image("good", &good);
    let out = manywheel(&cache)
        .args([
            "target",
            "add",
            "x86_64",
            "--image",
            &fake.reference("good"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Anonymous first, then the realm, then the retry with the token (kept for the blobs).
    let log = fake.log();
    assert_eq!(
        log[0],
        ("GET /v2/test/img/manifests/good".to_string(), None)
    );
    assert!(log[1].0.starts_with("GET /token?"), "{log:?}");
    let bearer = Some(format!("Bearer {TOKEN}"));
    assert_eq!(
        log[2],
        (
            "GET /v2/test/img/manifests/good".to_string(),
            bearer.clone()
        )
    );
    assert!(
        log[3..]
            .iter()
            .all(|(p, a)| p.contains("/blobs/sha256:") && *a == bearer),
        "{log:?}"
    );
    assert_eq!(log.len(), 3 + 3, "{log:?}");
    let target = cache.join("targets/img-good-x86_64");
    let m = manifest(&target);
    assert_eq!(m["image"]["digest"], good.digest.as_str());
    // The glibc version read from libc.so.6's version definitions is what the host reports.
    let host_glibc = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .unwrap();
    assert_eq!(
        format!("glibc {}", m["glibc_version"].as_str().unwrap()),
        String::from_utf8_lossy(&host_glibc.stdout).trim()
    );
    // A program of the image runs natively: the image's copy of the loader.
    let out = manywheel(&cache)
        .args([
            "run",
            "--arch",
            "x86_64",
            "--target",
            "img-good-x86_64",
            "--",
            "/lib64/ld-linux-x86-64.so.2",
            "--version",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let host_ld = std::process::Command::new("/lib64/ld-linux-x86-64.so.2")
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(out.stdout, host_ld.stdout);
    // python3 in an image without one: a clear error.
    let out = manywheel(&cache)
        .args([
            "run",
            "--arch",
            "x86_64",
            "--target",
            "img-good-x86_64",
            "--",
            "python3",
        ])
        .output()
        .unwrap();
    let e = one_line_error(&out);
    assert!(e.contains("has no CPython"), "{e}");

    // Damaged blobs: each image has its own top layer, damaged as served.
    let blob_cache = cache.join("blobs/sha256");
    for (tag, expect) in [
        ("wrongbytes", "digest mismatch"),
        ("cut", "truncated"),
        ("short", "size mismatch"),
    ] {
        let (img, top) = host_image(tag).unwrap();
        fake.add_image(tag, &img);
        let damage = match tag {
            "wrongbytes" => {
                let mut b = top.bytes.clone();
                let n = b.len();
                b[n - 10] ^= 0xff;
                Serve::Replace(b)
            }
            "cut" => Serve::CutAt(top.bytes.len() / 2),
            _ => Serve::Replace(top.bytes[..top.bytes.len() - 5].to_vec()),
        };
        fake.damage(&top.digest, damage);
        let out = manywheel(&cache)
            .args(["target", "add", "x86_64", "--image", &fake.reference(tag)])
            .output()
            .unwrap();
        let e = one_line_error(&out);
        assert!(e.contains(expect), "{tag}: {e}");
        assert_nothing_left(&cache, &format!("img-{tag}-x86_64"));
        assert!(
            !blob_cache.join(&top.digest[7..]).exists(),
            "{tag}: damaged blob cached"
        );
    }
    // The configuration's DiffID does not match the layer.
    let (mut img, _) = host_image("diffid").unwrap();
    let mut layers = img.layers.clone();
    layers[1].diff_id = good.layers[1].diff_id.clone();
    img = image(true, "amd64", None, &[], layers);
    fake.add_image("diffid", &img);
    let out = manywheel(&cache)
        .args([
            "target",
            "add",
            "x86_64",
            "--image",
            &fake.reference("diffid"),
        ])
        .output()
        .unwrap();
    let e = one_line_error(&out);
    assert!(e.contains("uncompressed digest mismatch"), "{e}");
    assert_nothing_left(&cache, "img-diffid-x86_64");
    // A pinned digest the served manifest does not have.
    {
        let mut s = fake.state.lock().unwrap();
        let other = s.manifests.get("good").unwrap().clone();
        s.manifests.insert(img.digest.clone(), other);
    }
    let out = manywheel(&cache)
        .args(["target", "add", "x86_64", "--name", "pinned", "--image"])
        .arg(format!("127.0.0.1:{}/test/img@{}", fake.port, img.digest))
        .output()
        .unwrap();
    let e = one_line_error(&out);
    assert!(e.contains("digest mismatch"), "{e}");
    assert_nothing_left(&cache, "pinned");
    // Unknown tag.
    let out = manywheel(&cache)
        .args([
            "target",
            "add",
            "x86_64",
            "--image",
            &fake.reference("nope"),
        ])
        .output()
        .unwrap();
    let e = one_line_error(&out);
    assert!(
        e.contains("not found") && e.contains("manifest unknown"),
        "{e}"
    );

    // Authentication failures.
    for (auth, expect) in [
        (
            Auth::TokenRefused,
            "authentication failed: the token service",
        ),
        (Auth::Basic, "only anonymous pulls are supported"),
    ] {
        let other = FakeRegistry::start("test/img", auth);
        other.add_image("good", &good);
        let out = manywheel(&cache)
            .args([
                "target",
                "add",
                "x86_64",
                "--name",
                "authfail",
                "--image",
                &other.reference("good"),
            ])
            .output()
            .unwrap();
        let e = one_line_error(&out);
        assert!(e.contains(expect), "{auth:?}: {e}");
        assert_nothing_left(&cache, "authfail");
    }
    // The good target is untouched by all this.
    assert_eq!(manifest(&target)["tree_digest"], m["tree_digest"]);
}

#[test]
fn usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    for args in [
        &["target", "add", "aarch64", "--image", "quay.io/PyPa/x"][..],
        &[
            "target",
            "add",
            "aarch64",
            "--image",
            "https://quay.io/pypa/x",
        ],
        &["target", "add", "aarch64", "--image", "x@sha256:123"],
        &[
            "target", "add", "aarch64", "--image", "x", "--name", "../up",
        ],
        &[
            "target",
            "add",
            "aarch64",
            "--image",
            "x",
            "--package",
            "gcc",
        ],
        &["target", "add", "aarch64", "--python", "3.11"],
    ] {
        let out = manywheel(&cache).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("error"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert!(!cache.join("targets").exists());
}
