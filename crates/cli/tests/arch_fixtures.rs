//! End-to-end tests on ELF fixtures built here, for every architecture a cross compiler is
//! installed for: compile a Python-extension-like shared object (and helper libraries) with the
//! target's gcc, pack it into a wheel with a valid dist-info, run `manywheel show --json` /
//! `check` and compare with what `readelf` says about the same files.
//!
//! Expected values are derived independently of manywheel: symbol versions come from
//! `readelf --version-info` / `--dyn-syms`, and the tag from a table of the manylinux policies
//! (PEP 600 glibc versions) each architecture has.
//!
//! A missing compiler skips that architecture ("SKIP: ..."), or fails when
//! `MANYWHEEL_REQUIRE_REFERENCE=1`.

mod common;
mod fixtures;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use fixtures::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------------------------

/// An extension that only calls old libc functions.
const SPAM_C: &str = r#"
#include <stdlib.h>
#include <string.h>
typedef struct _object PyObject;
PyObject *PyInit_spam(void) {
    char *p = malloc(16);
    if (!p) return 0;
    strcpy(p, getenv("HOME") ? getenv("HOME") : "x");
    size_t n = strlen(p);
    free(p);
    return (PyObject *)n;
}
"#;

/// An extension that also calls functions versioned GLIBC_2.34 (libpthread merged into libc)
/// and GLIBC_2.36 (arc4random) on every architecture.
const SPAM_NEW_C: &str = r#"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
typedef struct _object PyObject;
static void *worker(void *arg) { return arg; }
PyObject *PyInit_spam(void) {
    pthread_t t;
    if (pthread_create(&t, 0, worker, 0) != 0) return 0;
    pthread_join(t, 0);
    return (PyObject *)(strlen(getenv("HOME")) + arc4random());
}
"#;

/// An extension linked against libhelper (and, for the sysroot test, libextra).
const USES_HELPER_C: &str = r#"
typedef struct _object PyObject;
char *getenv(const char *name);
int helper(const char *name);
#ifdef WITH_EXTRA
int extra(int x);
#else
static int extra(int x) { return x; }
#endif
PyObject *PyInit_MODULE(void) { return (PyObject *)(long)extra(helper(getenv("NAME"))); }
"#;

/// An extension with a vectorisable loop (for -march=x86-64-v3).
const VECTOR_C: &str = r#"
typedef struct _object PyObject;
double acc[256];
PyObject *PyInit_spam(void) {
    for (int i = 0; i < 256; i++) acc[i] = acc[i] * 2.0 + 1.0;
    return (PyObject *)acc;
}
"#;

/// An extension without libc headers (the armhf cross toolchain has no soft-float headers).
const NO_HEADERS_C: &str = r#"
typedef struct _object PyObject;
int puts(const char *);
PyObject *PyInit_spam(void) { return (PyObject *)(long)puts("spam"); }
"#;

// ---------------------------------------------------------------------------------------------
// readelf: the independent view of the fixtures
// ---------------------------------------------------------------------------------------------

fn readelf(args: &[&str], file: &Path) -> String {
    let o = run(Command::new("readelf").args(args).arg(file));
    assert!(
        o.status.success(),
        "readelf {args:?} {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn is_loader(file: &str) -> bool {
    file.starts_with("ld-linux") || file.starts_with("ld64.so")
}

/// `{library: {version}}` of the version-needs section, loader entries left out.
fn verneed(file: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let text = readelf(&["--version-info", "-W"], file);
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut in_needs = false;
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("Version needs section") {
            in_needs = true;
            continue;
        }
        if trimmed.starts_with("Version ") && trimmed.contains("section") {
            in_needs = false;
            continue;
        }
        if !in_needs {
            continue;
        }
        if let Some(rest) = line.split("File: ").nth(1) {
            current = Some(rest.split_whitespace().next().unwrap().to_string());
        } else if let Some(rest) = line.split("Name: ").nth(1) {
            let lib = current
                .clone()
                .expect("Name: before File: in readelf output");
            let version = rest.split_whitespace().next().unwrap().to_string();
            if !is_loader(&lib) {
                out.entry(lib).or_default().insert(version);
            }
        }
    }
    out
}

fn merged(maps: &[BTreeMap<String, BTreeSet<String>>]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in maps {
        for (k, v) in m {
            out.entry(k.clone()).or_default().extend(v.iter().cloned());
        }
    }
    out
}

/// `GLIBC_2.2.5` -> (2, 2, 5).
fn glibc_version(v: &str) -> Option<(u32, u32, u32)> {
    let rest = v.strip_prefix("GLIBC_")?;
    let mut parts = rest.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().map(|p| p.unwrap_or(0)).unwrap_or(0);
    Some((major, minor, patch))
}

/// The highest glibc symbol version in a verneed map.
fn max_glibc(needs: &BTreeMap<String, BTreeSet<String>>) -> Option<(u32, u32, u32)> {
    needs
        .values()
        .flatten()
        .filter_map(|v| glibc_version(v))
        .max()
}

/// Undefined dynamic symbols bound to a version: `(name, version)`.
fn versioned_imports(file: &Path) -> Vec<(String, String)> {
    let text = readelf(&["--dyn-syms", "-W"], file);
    let mut out = Vec::new();
    for line in text.lines() {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some(i) = tokens.iter().position(|t| *t == "UND") else {
            continue;
        };
        let Some(sym) = tokens.get(i + 1) else {
            continue;
        };
        if let Some((name, version)) = sym.split_once('@') {
            out.push((
                name.to_string(),
                version.trim_start_matches('@').to_string(),
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The ELF header's e_flags as readelf prints them.
fn readelf_flags(file: &Path) -> String {
    readelf(&["-h"], file)
        .lines()
        .find(|l| l.trim_start().starts_with("Flags:"))
        .unwrap_or("")
        .to_string()
}

/// Rewrite the e_flags of a little-endian ELF32 file.
fn patch_elf32_flags(file: &Path, f: impl Fn(u32) -> u32) {
    let mut data = std::fs::read(file).unwrap();
    assert_eq!(&data[..4], b"\x7fELF");
    assert_eq!((data[4], data[5]), (1, 1), "expected ELF32 little-endian");
    let old = u32::from_le_bytes(data[36..40].try_into().unwrap());
    data[36..40].copy_from_slice(&f(old).to_le_bytes());
    std::fs::write(file, data).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Running manywheel
// ---------------------------------------------------------------------------------------------

/// `manywheel show --json EXTRA... WHEEL...`; one JSON object per wheel.
fn show_json(extra: &[&str], wheels: &[&Path]) -> (Vec<Value>, String) {
    let out = run(manywheel()
        .arg("show")
        .arg("--json")
        .args(extra)
        .args(wheels));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "show {extra:?} {wheels:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: Value = serde_json::from_str(&stdout).unwrap();
    let items = match value {
        Value::Array(items) => items,
        one => vec![one],
    };
    assert_eq!(items.len(), wheels.len());
    for (item, wheel) in items.iter().zip(wheels) {
        let name = wheel.file_name().unwrap().to_string_lossy();
        assert_eq!(item["wheel"], *name, "results out of order");
    }
    (items, stdout)
}

fn show_one(extra: &[&str], wheel: &Path) -> (Value, String) {
    let (mut items, text) = show_json(extra, &[wheel]);
    (items.pop().unwrap(), text)
}

/// `versioned_symbols` of a report as sets.
fn json_versions(report: &Value) -> BTreeMap<String, BTreeSet<String>> {
    report["versioned_symbols"]
        .as_object()
        .expect("versioned_symbols is an object")
        .iter()
        .map(|(k, v)| {
            let set = v
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            (k.clone(), set)
        })
        .collect()
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The reasons of `why_not` for one tag.
fn why_not<'a>(report: &'a Value, tag: &str) -> &'a [Value] {
    report["why_not"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["tag"] == tag)
        .unwrap_or_else(|| panic!("no why_not entry for {tag}: {}", report["why_not"]))["reasons"]
        .as_array()
        .unwrap()
}

fn reasons_of<'a>(reasons: &'a [Value], kind: &str) -> Vec<&'a Value> {
    reasons.iter().filter(|r| r["kind"] == kind).collect()
}

/// The tags of `why_not`, as a set.
fn why_not_tags(report: &Value) -> BTreeSet<String> {
    report["why_not"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["tag"].as_str().unwrap().to_string())
        .collect()
}

/// The tags more compatible than `tag` for the target.
fn tags_above(t: &Target, tag: &str) -> BTreeSet<String> {
    let policies = t.policies();
    let cut = policies
        .iter()
        .position(|p| t.tag(*p) == tag)
        .unwrap_or(policies.len());
    policies[..cut].iter().map(|p| t.tag(*p)).collect()
}

/// Assert the JSON text shows none of the host's library directories.
fn assert_no_host_paths(t: &Target, text: &str) {
    let ma = host_multiarch();
    for leak in [format!("/lib/{ma}"), format!("/usr/lib/{ma}")] {
        assert!(
            !text.contains(&leak),
            "{}: host path {leak} leaked into a foreign wheel's report:\n{text}",
            t.arch
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Fixture sets
// ---------------------------------------------------------------------------------------------

/// Test 1 and 2 fixtures of one target: an old-libc extension and a too-new one.
struct Basic {
    ext: PathBuf,
    new_ext: PathBuf,
    wheel: WheelSpec,
    new_wheel: WheelSpec,
    /// The too-new extension under a file name claiming the arch's oldest glibc policy (and
    /// its legacy alias, if any).
    claim_wheel: WheelSpec,
    claims: Vec<String>,
}

fn build_basic(t: &Target, dir: &Path) -> Basic {
    let ext = dir.join(t.ext_name("spam"));
    compile(t, dir, SPAM_C, &ext, &[]);
    let new_dir = dir.join("new");
    std::fs::create_dir_all(&new_dir).unwrap();
    let new_ext = new_dir.join(t.ext_name("spam"));
    compile(t, &new_dir, SPAM_NEW_C, &new_ext, &[]);
    let name = t.ext_name("spam");
    let linux = format!("linux_{}", t.arch);
    let claims = if t.arch == "riscv64" {
        vec![t.tag((2, 31))]
    } else {
        vec![t.tag((2, 17)), format!("manylinux2014_{}", t.arch)]
    };
    let claim_dir = dir.join("claim");
    std::fs::create_dir_all(&claim_dir).unwrap();
    Basic {
        wheel: WheelSpec::new(dir, &linux, &[(&name, &ext)]),
        new_wheel: WheelSpec::new(&new_dir, &linux, &[(&name, &new_ext)]),
        claim_wheel: WheelSpec::new(&claim_dir, &claims.join("."), &[(&name, &new_ext)]),
        claims,
        ext,
        new_ext,
    }
}

/// Test 3 fixtures: a root with libhelper in the multiarch directory and libextra in a
/// directory named by ld.so.conf; an extension needing both.
struct External {
    root: PathBuf,
    ext: PathBuf,
    helper_in_root: PathBuf,
    extra_in_root: PathBuf,
    helper: PathBuf,
    extra: PathBuf,
    wheel: WheelSpec,
}

fn build_external(t: &Target, dir: &Path) -> External {
    let build = dir.join("build");
    std::fs::create_dir_all(&build).unwrap();
    let (helper, extra) = build_helpers(t, &build);
    let ext = build.join(t.ext_name("spam"));
    let source = USES_HELPER_C.replace("MODULE", "spam");
    let libdir = format!("-L{}", build.display());
    compile(
        t,
        &build,
        &source,
        &ext,
        &["-DWITH_EXTRA", &libdir, "-lhelper", "-lextra"],
    );

    // A merged-/usr root: /lib is a relative link to usr/lib. libhelper sits in the multiarch
    // directory; libextra in a directory named by ld.so.conf, as an absolute link to a file
    // elsewhere in the root (which must be followed inside the root, never on the host).
    let root = dir.join("root");
    let multiarch_dir = root.join("usr/lib").join(t.multiarch);
    let opt = root.join("opt/extra");
    let real = root.join("opt/real");
    for d in [&root.join("etc"), &multiarch_dir, &opt, &real] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
    // The target's libc, copied: a link out of the root would not be followed by design.
    std::fs::copy(t.libc, root.join("usr/lib/libc.so.6")).unwrap();
    std::fs::write(
        root.join("etc/ld.so.conf"),
        "# fixture\ninclude /etc/ld.so.conf.d/*.conf\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("etc/ld.so.conf.d")).unwrap();
    std::fs::write(root.join("etc/ld.so.conf.d/extra.conf"), "/opt/extra\n").unwrap();
    let helper_in_root = multiarch_dir.join("libhelper.so.1");
    let extra_in_root = real.join("libextra.so.2.0.0");
    std::fs::copy(&helper, &helper_in_root).unwrap();
    std::fs::copy(&extra, &extra_in_root).unwrap();
    std::os::unix::fs::symlink("/opt/real/libextra.so.2.0.0", opt.join("libextra.so.2")).unwrap();

    let name = t.ext_name("spam");
    let wheel = WheelSpec::new(dir, &format!("linux_{}", t.arch), &[(&name, &ext)]);
    External {
        root,
        ext,
        helper_in_root,
        extra_in_root,
        helper,
        extra,
        wheel,
    }
}

// ---------------------------------------------------------------------------------------------
// 1. An old-libc extension on every arch
// ---------------------------------------------------------------------------------------------

#[test]
fn extension_tag_follows_its_glibc_versions_on_every_arch() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let built = per_target(|t| {
        let d = dir.path().join(t.arch);
        std::fs::create_dir_all(&d).unwrap();
        build_basic(t, &d)
    });
    write_wheels(&built.iter().map(|(_, b)| &b.wheel).collect::<Vec<_>>());
    let wheels: Vec<&Path> = built.iter().map(|(_, b)| b.wheel.path.as_path()).collect();
    let (reports, _) = show_json(&[], &wheels);

    for ((t, b), report) in built.iter().zip(&reports) {
        let needs = verneed(&b.ext);
        assert!(
            needs.contains_key("libc.so.6"),
            "{}: readelf shows no libc versions: {needs:?}",
            t.arch
        );
        let expected = t.expected_tag(max_glibc(&needs));
        eprintln!("{}: needs {:?} -> {expected}", t.arch, max_glibc(&needs));

        assert_eq!(report["arch"], t.arch);
        assert_eq!(report["libc"], "glibc");
        assert_eq!(report["pure"], false);
        let overall = report["overall_tag"].as_str().unwrap();
        assert!(
            overall.starts_with("manylinux_") && overall.ends_with(&format!("_{}", t.arch)),
            "{}: {overall}",
            t.arch
        );
        assert_eq!(overall, expected, "{}: overall_tag", t.arch);
        assert_eq!(report["sym_tag"], expected.as_str(), "{}: sym_tag", t.arch);
        assert_eq!(
            json_versions(report),
            needs,
            "{}: versioned_symbols",
            t.arch
        );
        assert_eq!(report["external_libs"], serde_json::json!({}), "{}", t.arch);
        assert_eq!(report["unsupported_isa"], false);
        assert_eq!(report["claims_ok"], true);
        assert_eq!(
            str_list(&report["claimed_tags"]),
            [format!("linux_{}", t.arch)]
        );
        let satisfied = str_list(&report["satisfied_tags"]);
        assert_eq!(
            satisfied.first(),
            Some(&expected),
            "{}: satisfied_tags {satisfied:?}",
            t.arch
        );
        assert!(
            satisfied.contains(&format!("linux_{}", t.arch)),
            "{}: {satisfied:?}",
            t.arch
        );
        // Every policy at or above the arch's oldest is met: nothing to explain.
        assert_eq!(why_not_tags(report), tags_above(t, &expected), "{}", t.arch);
        assert_eq!(
            report["why_not"].as_array().unwrap().len(),
            0,
            "{}: {}",
            t.arch,
            report["why_not"]
        );
        let elf_files = report["elf_files"].as_array().unwrap();
        assert_eq!(elf_files.len(), 1);
        assert_eq!(elf_files[0]["path"], t.ext_name("spam").as_str());
        assert_eq!(elf_files[0]["arch"], t.arch);
        assert_eq!(elf_files[0]["kind"], "extension");
        assert!(str_list(&elf_files[0]["needed"]).contains(&"libc.so.6".to_string()));
        // The only warning allowed: no root for a foreign wheel.
        for w in str_list(&report["warnings"]) {
            assert!(
                !t.is_host() && w.contains("--sysroot"),
                "{}: unexpected warning {w:?}",
                t.arch
            );
        }
        if !t.is_host() {
            assert_eq!(report["sysroot"], Value::Null, "{}", t.arch);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Too-new glibc symbols on every arch; `check` of a wheel claiming too much
// ---------------------------------------------------------------------------------------------

#[test]
fn too_new_symbols_are_named_per_policy_on_every_arch() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let built = per_target(|t| {
        let d = dir.path().join(t.arch);
        std::fs::create_dir_all(&d).unwrap();
        build_basic(t, &d)
    });
    let specs: Vec<&WheelSpec> = built
        .iter()
        .flat_map(|(_, b)| [&b.new_wheel, &b.claim_wheel])
        .collect();
    write_wheels(&specs);
    let wheels: Vec<&Path> = built
        .iter()
        .map(|(_, b)| b.new_wheel.path.as_path())
        .collect();
    let (reports, _) = show_json(&[], &wheels);

    for ((t, b), report) in built.iter().zip(&reports) {
        let needs = verneed(&b.new_ext);
        let max = max_glibc(&needs).unwrap();
        assert!(
            max >= (2, 34, 0),
            "{}: the fixture should need glibc 2.34+, readelf: {needs:?}",
            t.arch
        );
        let expected = t.expected_tag(Some(max));
        let result = t.policy_for(Some(max)).unwrap();
        assert!(result >= (2, 34), "{}", t.arch);
        assert_eq!(report["overall_tag"], expected.as_str(), "{}", t.arch);
        assert_eq!(report["sym_tag"], expected.as_str(), "{}", t.arch);
        assert_eq!(
            json_versions(report),
            needs,
            "{}: versioned_symbols",
            t.arch
        );
        assert_eq!(why_not_tags(report), tags_above(t, &expected), "{}", t.arch);

        let imports = versioned_imports(&b.new_ext);
        let member = t.ext_name("spam");
        // For every more compatible policy: each import newer than it is named, nothing else.
        for policy in t.policies().into_iter().filter(|p| *p < result) {
            let tag = t.tag(policy);
            let reasons = why_not(report, &tag);
            let sym_reasons = reasons_of(reasons, "symbol_version");
            let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (name, version) in &imports {
                let v = glibc_version(version)
                    .unwrap_or_else(|| panic!("{}: {name}@{version}", t.arch));
                if (v.0, v.1) > policy {
                    want.entry(version.clone())
                        .or_default()
                        .insert(name.clone());
                }
            }
            let mut got: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for r in &sym_reasons {
                assert_eq!(r["library"], "libc.so.6", "{tag}: {r}");
                let files = r["files"].as_array().unwrap();
                assert_eq!(files.len(), 1, "{tag}: {r}");
                assert_eq!(files[0]["file"], member.as_str(), "{tag}: {r}");
                let version = r["version"].as_str().unwrap().to_string();
                got.entry(version)
                    .or_default()
                    .extend(str_list(&files[0]["symbols"]));
            }
            assert_eq!(got, want, "{tag}: symbol_version reasons");
            assert_eq!(
                sym_reasons.len(),
                reasons.len(),
                "{tag}: only symbol versions are wrong: {reasons:?}"
            );
        }
        // The specific symbols: pthread_create is GLIBC_2.34, arc4random GLIBC_2.36.
        let below_234 = t
            .policies()
            .into_iter()
            .rev()
            .find(|p| *p < (2, 34))
            .unwrap();
        let text = serde_json::to_string(why_not(report, &t.tag(below_234))).unwrap();
        for sym in ["pthread_create", "arc4random"] {
            assert!(
                text.contains(&format!("\"{sym}\"")),
                "{}: {sym} not named: {text}",
                t.arch
            );
        }
        let r = why_not(report, &t.tag((2, 35)));
        assert_eq!(r.len(), 1, "{}: {r:?}", t.arch);
        assert_eq!(r[0]["kind"], "symbol_version");
        assert_eq!(r[0]["version"], "GLIBC_2.36");
        assert_eq!(r[0]["files"][0]["file"], member.as_str());
        assert!(str_list(&r[0]["files"][0]["symbols"]).contains(&"arc4random".to_string()));
        assert!(!str_list(&r[0]["files"][0]["symbols"]).contains(&"pthread_create".to_string()));

        // `check`: the file name claims the oldest policy, which the contents do not meet.
        let claim_wheel = &b.claim_wheel.path;
        let out = run(manywheel().arg("check").arg(claim_wheel));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{}: check: {stdout}", t.arch);
        for claim in &b.claims {
            assert!(
                stdout.contains(claim.as_str()),
                "{}: check output does not name {claim}: {stdout}",
                t.arch
            );
        }
        assert!(
            stdout.contains(&expected),
            "{}: check output does not name {expected}: {stdout}",
            t.arch
        );
        let (report, _) = show_one(&[], claim_wheel);
        assert_eq!(report["claims_ok"], false);
        assert_eq!(str_list(&report["unsatisfied_claims"]), b.claims);
        assert_eq!(str_list(&report["claimed_tags"]), b.claims);
        // The same wheel under a name claiming what it has passes.
        let honest_dir = claim_wheel.parent().unwrap().join("honest");
        std::fs::create_dir_all(&honest_dir).unwrap();
        let honest = WheelSpec::new(&honest_dir, &expected, &[(&member, &b.new_ext)]);
        write_wheels(&[&honest]);
        let out = run(manywheel().arg("check").arg(&honest.path));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            t.arch,
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3. External libraries inside a target root, and not found without one
// ---------------------------------------------------------------------------------------------

#[test]
fn external_libraries_resolve_inside_the_sysroot_on_every_arch() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let built = per_target(|t| {
        let d = dir.path().join(t.arch);
        std::fs::create_dir_all(&d).unwrap();
        build_external(t, &d)
    });
    write_wheels(&built.iter().map(|(_, e)| &e.wheel).collect::<Vec<_>>());

    let results = std::thread::scope(|s| {
        let handles: Vec<_> = built
            .iter()
            .map(|(_, e)| {
                s.spawn(move || {
                    let root = e.root.to_str().unwrap();
                    let with_root = show_one(&["--sysroot", root], &e.wheel.path);
                    let without = show_one(&[], &e.wheel.path);
                    let only_opt = show_one(
                        &["--sysroot", root, "--ldpaths", "/opt/extra"],
                        &e.wheel.path,
                    );
                    (with_root, without, only_opt)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });

    for ((t, e), ((report, _), (bare, bare_text), (only_opt, _))) in built.iter().zip(&results) {
        let arch = t.arch;
        let member = t.ext_name("spam");
        let linux = format!("linux_{arch}");
        let highest = t.tag(t.policies()[0]);

        // With the root: both libraries found where they are, inside the root.
        let helper_path = e.helper_in_root.to_str().unwrap();
        let extra_path = e.extra_in_root.to_str().unwrap();
        assert_eq!(
            report["external_libs"],
            serde_json::json!({"libhelper.so.1": helper_path, "libextra.so.2": extra_path}),
            "{arch}"
        );
        for p in [helper_path, extra_path] {
            assert!(Path::new(p).starts_with(&e.root), "{arch}: {p}");
        }
        assert_eq!(report["sysroot"], e.root.to_str().unwrap());
        assert_eq!(report["libc"], "glibc", "{arch}");
        assert_eq!(report["warnings"], serde_json::json!([]), "{arch}");
        assert_eq!(report["overall_tag"], linux.as_str(), "{arch}");
        // The libraries' own symbol versions count too (they would be grafted).
        let needs = merged(&[verneed(&e.ext), verneed(&e.helper), verneed(&e.extra)]);
        assert_eq!(json_versions(report), needs, "{arch}: versioned_symbols");
        assert_eq!(
            report["sym_tag"],
            t.expected_tag(max_glibc(&needs)).as_str(),
            "{arch}"
        );
        let to_eliminate = str_list(&report["policy_upgrades"][&highest]["libs_to_eliminate"]);
        assert_eq!(
            to_eliminate,
            ["libextra.so.2", "libhelper.so.1"],
            "{arch}: {}",
            report["policy_upgrades"]
        );
        assert_eq!(
            why_not_tags(report),
            t.policies().iter().map(|p| t.tag(*p)).collect(),
            "{arch}"
        );
        let ext_reasons = reasons_of(why_not(report, &highest), "external_library");
        let helper = ext_reasons
            .iter()
            .find(|r| r["library"] == "libhelper.so.1")
            .unwrap_or_else(|| {
                panic!("{arch}: no external_library reason for libhelper: {ext_reasons:?}")
            });
        assert_eq!(helper["path"], helper_path, "{arch}");
        assert_eq!(str_list(&helper["needed_by"]), [member.as_str()], "{arch}");
        assert_eq!(ext_reasons.len(), 2, "{arch}: {ext_reasons:?}");

        // --ldpaths replaces ld.so.conf and the default directories (inside the root).
        assert_eq!(
            only_opt["external_libs"],
            serde_json::json!({"libhelper.so.1": null, "libextra.so.2": extra_path}),
            "{arch}: --ldpaths /opt/extra"
        );
        assert_eq!(only_opt["overall_tag"], linux.as_str(), "{arch}");

        // Without a root: not found, for the host arch too (the libraries are not installed).
        assert_eq!(
            bare["external_libs"]["libhelper.so.1"],
            Value::Null,
            "{arch}: {}",
            bare["external_libs"]
        );
        assert_eq!(
            bare["external_libs"]["libextra.so.2"],
            Value::Null,
            "{arch}"
        );
        assert_eq!(bare["overall_tag"], linux.as_str(), "{arch}");
        let bare_upgrades = str_list(&bare["policy_upgrades"][&highest]["libs_to_eliminate"]);
        assert_eq!(bare_upgrades, ["libextra.so.2", "libhelper.so.1"], "{arch}");
        // Unfound libraries add no symbol versions.
        assert_eq!(json_versions(bare), verneed(&e.ext), "{arch}");
        if !t.is_host() {
            assert_eq!(bare["sysroot"], Value::Null, "{arch}");
            assert_no_host_paths(t, bare_text);
            let warnings = serde_json::to_string(&bare["warnings"]).unwrap();
            assert!(
                warnings.contains("sysroot"),
                "{arch}: no warning about the missing root: {warnings}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. A library shipped in the wheel, found through $ORIGIN
// ---------------------------------------------------------------------------------------------

/// Test 4 fixture: `spam/_core...so` with RPATH `$ORIGIN/../spam.libs`, libhelper shipped at
/// `spam.libs/libhelper.so.1`. Returns (extension, helper, extension member, wheel).
fn build_origin(t: &Target, d: &Path) -> (PathBuf, PathBuf, String, WheelSpec) {
    let (helper, _) = build_helpers(t, d);
    let ext = d.join(t.ext_name("_core"));
    let source = USES_HELPER_C.replace("MODULE", "_core");
    let libdir = format!("-L{}", d.display());
    compile(
        t,
        d,
        &source,
        &ext,
        &[&libdir, "-lhelper", "-Wl,-rpath,$ORIGIN/../spam.libs"],
    );
    let ext_member = format!("spam/{}", t.ext_name("_core"));
    let wheel = WheelSpec::new(
        d,
        &format!("linux_{}", t.arch),
        &[(&ext_member, &ext), ("spam.libs/libhelper.so.1", &helper)],
    );
    (ext, helper, ext_member, wheel)
}

#[test]
fn origin_rpath_finds_the_library_inside_the_wheel() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let built = per_target(|t| {
        let d = dir.path().join(t.arch);
        std::fs::create_dir_all(&d).unwrap();
        build_origin(t, &d)
    });
    write_wheels(&built.iter().map(|(_, b)| &b.3).collect::<Vec<_>>());
    let wheels: Vec<&Path> = built.iter().map(|(_, b)| b.3.path.as_path()).collect();
    let (reports, _) = show_json(&[], &wheels);

    for ((t, (ext, helper, ext_member, _)), report) in built.iter().zip(&reports) {
        let arch = t.arch;
        let needs = merged(&[verneed(ext), verneed(helper)]);
        let expected = t.expected_tag(max_glibc(&needs));
        assert_eq!(report["external_libs"], serde_json::json!({}), "{arch}");
        assert_eq!(report["overall_tag"], expected.as_str(), "{arch}");
        assert!(expected.starts_with("manylinux_"), "{arch}");
        assert_eq!(json_versions(report), needs, "{arch}");
        assert_eq!(
            report["why_not"].as_array().unwrap().len(),
            0,
            "{arch}: {}",
            report["why_not"]
        );
        let elf_files = report["elf_files"].as_array().unwrap();
        let find = |p: &str| {
            elf_files
                .iter()
                .find(|f| f["path"] == p)
                .unwrap_or_else(|| panic!("{arch}: no {p}"))
        };
        let e = find(ext_member);
        assert_eq!(e["kind"], "extension");
        let search: Vec<String> = [&e["rpath"], &e["runpath"]]
            .into_iter()
            .filter(|v| !v.is_null())
            .flat_map(str_list)
            .collect();
        assert_eq!(search, ["$ORIGIN/../spam.libs"], "{arch}: {e}");
        assert_eq!(find("spam.libs/libhelper.so.1")["kind"], "library");
        if !t.is_host() {
            assert_no_host_paths(t, &serde_json::to_string_pretty(report).unwrap());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. x86-64 micro-architecture level
// ---------------------------------------------------------------------------------------------

/// Build the x86-64-v3 fixture wheel, or None (skipped) when the toolchain cannot.
/// The x86-64-v3 fixtures: an extension built for v3, and a baseline extension needing a v3
/// external library (`lib_dir/libhelper.so.1`).
struct V3 {
    ext: PathBuf,
    wheel: WheelSpec,
    lib_dir: PathBuf,
    lib_wheel: WheelSpec,
}

fn build_x86_64_v3(dir: &Path) -> Option<V3> {
    let t = TARGETS.iter().find(|t| t.arch == "x86_64").unwrap();
    if t.cc().is_none() {
        skip("x86_64: no compiler");
        return None;
    }
    let ext = dir.join(t.ext_name("spam"));
    let flags = ["-O2", "-march=x86-64-v3", "-Wl,-z,x86-64-v3"];
    if let Err(e) = try_compile(t, dir, VECTOR_C, &ext, &flags) {
        skip(&format!(
            "x86_64: the toolchain cannot build an x86-64-v3 object: {e}"
        ));
        return None;
    }
    let notes = readelf(&["-n"], &ext);
    if !notes
        .lines()
        .any(|l| l.contains("x86 ISA needed") && l.contains("x86-64-v3"))
    {
        skip(&format!(
            "x86_64: the linker wrote no x86-64-v3 ISA note:\n{notes}"
        ));
        return None;
    }
    let wheel = WheelSpec::new(dir, "linux_x86_64", &[(&t.ext_name("spam"), &ext)]);

    let lib_dir = dir.join("v3lib");
    std::fs::create_dir_all(&lib_dir).unwrap();
    let helper = lib_dir.join("libhelper.so.1");
    compile(
        t,
        &lib_dir,
        HELPER_C,
        &helper,
        &[
            "-Wl,-soname,libhelper.so.1",
            "-O2",
            "-march=x86-64-v3",
            "-Wl,-z,x86-64-v3",
        ],
    );
    std::os::unix::fs::symlink("libhelper.so.1", lib_dir.join("libhelper.so")).unwrap();
    let uses_dir = dir.join("uses");
    std::fs::create_dir_all(&uses_dir).unwrap();
    let uses = uses_dir.join(t.ext_name("spam"));
    let source = USES_HELPER_C.replace("MODULE", "spam");
    compile(
        t,
        &uses_dir,
        &source,
        &uses,
        &[&format!("-L{}", lib_dir.display()), "-lhelper"],
    );
    let lib_wheel = WheelSpec::new(&uses_dir, "linux_x86_64", &[(&t.ext_name("spam"), &uses)]);
    write_wheels(&[&wheel, &lib_wheel]);
    Some(V3 {
        ext,
        wheel,
        lib_dir,
        lib_wheel,
    })
}

#[test]
fn x86_64_v3_extension_is_not_manylinux_unless_the_check_is_disabled() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(V3 {
        ext,
        wheel,
        lib_dir,
        lib_wheel,
    }) = build_x86_64_v3(dir.path())
    else {
        return;
    };
    let t = TARGETS.iter().find(|t| t.arch == "x86_64").unwrap();
    let member = t.ext_name("spam");
    let expected = t.expected_tag(max_glibc(&verneed(&ext)));

    let (report, _) = show_one(&[], &wheel.path);
    assert_eq!(report["overall_tag"], "linux_x86_64");
    assert_eq!(report["sym_tag"], expected.as_str());
    assert_eq!(report["unsupported_isa"], true);
    assert_eq!(report["elf_files"][0]["isa"], "x86-64-v3");
    assert_eq!(
        why_not_tags(&report),
        t.policies().iter().map(|p| t.tag(*p)).collect()
    );
    for w in report["why_not"].as_array().unwrap() {
        let isa = reasons_of(w["reasons"].as_array().unwrap(), "isa");
        assert_eq!(isa.len(), 1, "{}: {w}", w["tag"]);
        assert_eq!(isa[0]["level"], "x86-64-v3");
        assert_eq!(isa[0]["file"], member.as_str());
    }

    let (report, _) = show_one(&["--disable-isa-ext-check"], &wheel.path);
    assert_eq!(report["overall_tag"], expected.as_str());
    assert_eq!(report["unsupported_isa"], false);
    assert_eq!(
        report["why_not"].as_array().unwrap().len(),
        0,
        "{}",
        report["why_not"]
    );

    // A baseline extension needing an x86-64-v3 library outside the wheel.
    let ldpaths = lib_dir.to_str().unwrap();
    let helper = lib_dir.join("libhelper.so.1");
    let (report, _) = show_one(&["--ldpaths", ldpaths], &lib_wheel.path);
    assert_eq!(report["overall_tag"], "linux_x86_64");
    assert_eq!(report["unsupported_isa"], true);
    assert_eq!(
        report["external_libs"],
        serde_json::json!({"libhelper.so.1": helper.to_str().unwrap()})
    );
    assert_eq!(
        report["elf_files"][0]["isa"],
        Value::Null,
        "the extension itself is baseline"
    );
    for w in report["why_not"].as_array().unwrap() {
        let reasons = w["reasons"].as_array().unwrap();
        let isa = reasons_of(reasons, "isa");
        assert_eq!(isa.len(), 1, "{}: {w}", w["tag"]);
        assert_eq!(isa[0]["level"], "x86-64-v3");
        assert!(
            isa[0]["file"].as_str().unwrap().contains("libhelper.so.1"),
            "{w}"
        );
        assert_eq!(reasons_of(reasons, "external_library").len(), 1, "{w}");
    }
    let (report, _) = show_one(
        &["--ldpaths", ldpaths, "--disable-isa-ext-check"],
        &lib_wheel.path,
    );
    assert_eq!(
        report["overall_tag"], "linux_x86_64",
        "still an external library"
    );
    assert_eq!(report["unsupported_isa"], false);
    for w in report["why_not"].as_array().unwrap() {
        assert!(
            reasons_of(w["reasons"].as_array().unwrap(), "isa").is_empty(),
            "{w}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 6. armv7l ELF flags
// ---------------------------------------------------------------------------------------------

const EF_ARM_ABI_FLOAT_SOFT: u32 = 0x200;
const EF_ARM_ABI_FLOAT_HARD: u32 = 0x400;
const EF_ARM_EABIMASK: u32 = 0xff00_0000;

#[test]
fn armv7l_soft_float_and_old_eabi_are_not_manylinux() {
    if !have_python() {
        return;
    }
    let Some(t) = TARGETS
        .iter()
        .find(|t| t.arch == "armv7l")
        .filter(|t| t.cc().is_some())
    else {
        return skip("armv7l: arm-linux-gnueabihf-gcc not installed");
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let member = t.ext_name("spam");

    // Soft-float: link without the (hard-float) start files; else patch the flags of a
    // hard-float build.
    let soft_dir = d.join("soft");
    std::fs::create_dir_all(&soft_dir).unwrap();
    let soft = soft_dir.join(&member);
    let built = try_compile(
        t,
        &soft_dir,
        NO_HEADERS_C,
        &soft,
        &["-mfloat-abi=soft", "-nostdlib", "-lc"],
    );
    if let Err(e) = built {
        eprintln!("armv7l: no soft-float link ({e}); patching e_flags instead");
        compile(t, &soft_dir, NO_HEADERS_C, &soft, &[]);
        patch_elf32_flags(&soft, |f| {
            (f & !EF_ARM_ABI_FLOAT_HARD) | EF_ARM_ABI_FLOAT_SOFT
        });
    }
    assert!(
        readelf_flags(&soft).contains("soft-float ABI"),
        "{}",
        readelf_flags(&soft)
    );

    // EABI version 4 (hard-float flag kept).
    let old_dir = d.join("eabi4");
    std::fs::create_dir_all(&old_dir).unwrap();
    let old = old_dir.join(&member);
    compile(t, &old_dir, NO_HEADERS_C, &old, &[]);
    patch_elf32_flags(&old, |f| (f & !EF_ARM_EABIMASK) | 0x0400_0000);
    assert!(
        readelf_flags(&old).contains("Version4 EABI"),
        "{}",
        readelf_flags(&old)
    );

    // The same hard-float build unpatched is fine.
    let good_dir = d.join("good");
    std::fs::create_dir_all(&good_dir).unwrap();
    let good = good_dir.join(&member);
    compile(t, &good_dir, NO_HEADERS_C, &good, &[]);

    let specs: Vec<WheelSpec> = [&soft, &old, &good]
        .iter()
        .map(|ext| WheelSpec::new(ext.parent().unwrap(), "linux_armv7l", &[(&member, ext)]))
        .collect();
    write_wheels(&specs.iter().collect::<Vec<_>>());
    let paths: Vec<&Path> = specs.iter().map(|s| s.path.as_path()).collect();
    let (reports, _) = show_json(&[], &paths);

    for (report, ext, problem) in [
        (&reports[0], &soft, "soft-float"),
        (&reports[1], &old, "EABI version 4"),
    ] {
        let expected = t.expected_tag(max_glibc(&verneed(ext)));
        assert_eq!(report["overall_tag"], "linux_armv7l", "{problem}");
        assert_eq!(report["sym_tag"], expected.as_str(), "{problem}");
        assert_eq!(
            why_not_tags(report),
            t.policies().iter().map(|p| t.tag(*p)).collect(),
            "{problem}"
        );
        for w in report["why_not"].as_array().unwrap() {
            let flags = reasons_of(w["reasons"].as_array().unwrap(), "elf_flags");
            assert_eq!(flags.len(), 1, "{problem}: {w}");
            assert_eq!(flags[0]["file"], member.as_str());
            let text = flags[0]["problem"].as_str().unwrap();
            assert!(text.contains(problem), "expected {problem:?} in {text:?}");
        }
    }
    let expected = t.expected_tag(max_glibc(&verneed(&good)));
    assert_eq!(reports[2]["overall_tag"], expected.as_str());
    assert!(expected.starts_with("manylinux_"));
}

// ---------------------------------------------------------------------------------------------
// 7. Differential with auditwheel on the x86_64 fixtures
// ---------------------------------------------------------------------------------------------

fn auditwheel_show(aw: &Path, extra: &[&str], wheel: &Path) -> Value {
    let out = run(Command::new(aw)
        .arg("show")
        .arg("--json")
        .args(extra)
        .arg(wheel));
    assert!(
        out.status.success(),
        "auditwheel show {extra:?} {}: {}",
        wheel.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `external_libs` with paths canonicalised.
fn canonical_libs(v: &Value) -> BTreeMap<String, Option<PathBuf>> {
    v["external_libs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, p)| {
            (
                k.clone(),
                p.as_str().map(|p| Path::new(p).canonicalize().unwrap()),
            )
        })
        .collect()
}

#[test]
fn x86_64_fixtures_agree_with_auditwheel() {
    if host_arch() != "x86_64" {
        return skip("the auditwheel differential needs an x86_64 host");
    }
    let Some(aw) = auditwheel() else {
        return skip("auditwheel not found (set MANYWHEEL_AUDITWHEEL or create .venv)");
    };
    if !have_python() {
        return;
    }
    let t = TARGETS.iter().find(|t| t.arch == "x86_64").unwrap();
    if t.cc().is_none() {
        return skip("x86_64: no compiler");
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let basic_dir = d.join("basic");
    let ext_dir = d.join("external");
    let v3_dir = d.join("v3");
    let origin_dir = d.join("origin");
    for x in [&basic_dir, &ext_dir, &v3_dir, &origin_dir] {
        std::fs::create_dir_all(x).unwrap();
    }
    let basic = build_basic(t, &basic_dir);
    let external = build_external(t, &ext_dir);
    let origin = build_origin(t, &origin_dir);
    write_wheels(&[&basic.wheel, &basic.new_wheel, &external.wheel, &origin.3]);
    let v3 = build_x86_64_v3(&v3_dir);

    // The host root with the fixture directories as the search path, for both tools.
    // (The build directory: the root's absolute link would lead the reference onto the host.)
    let ldpaths = format!(
        "{}:/lib/{}:/usr/lib/{}",
        external.helper.parent().unwrap().display(),
        t.multiarch,
        t.multiarch
    );
    let mut cases: Vec<(&str, &Path, Vec<&str>)> = vec![
        ("old libc", &basic.wheel.path, vec![]),
        ("new libc", &basic.new_wheel.path, vec![]),
        ("external, not found", &external.wheel.path, vec![]),
        (
            "external, --ldpaths",
            &external.wheel.path,
            vec!["--ldpaths", &ldpaths],
        ),
        ("in-wheel library via $ORIGIN", &origin.3.path, vec![]),
    ];
    let v3_ldpaths = v3
        .as_ref()
        .map(|v| {
            format!(
                "{}:/lib/{}:/usr/lib/{}",
                v.lib_dir.display(),
                t.multiarch,
                t.multiarch
            )
        })
        .unwrap_or_default();
    if let Some(v) = &v3 {
        cases.push(("x86-64-v3", &v.wheel.path, vec![]));
        cases.push((
            "x86-64-v3, check disabled",
            &v.wheel.path,
            vec!["--disable-isa-ext-check"],
        ));
        cases.push((
            "x86-64-v3 library",
            &v.lib_wheel.path,
            vec!["--ldpaths", &v3_ldpaths],
        ));
    }

    let references: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|(_, wheel, extra)| {
                let aw = &aw;
                s.spawn(move || auditwheel_show(aw, extra, wheel))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut failures = Vec::new();
    for ((what, wheel, extra), reference) in cases.iter().zip(&references) {
        let (ours, _) = show_one(extra, wheel);
        for key in [
            "overall_tag",
            "sym_tag",
            "versioned_symbols",
            "policy_upgrades",
            "unsupported_isa",
        ] {
            if ours[key] != reference[key] {
                failures.push(format!(
                    "{what}: {key}: auditwheel {} ours {}",
                    reference[key], ours[key]
                ));
            }
        }
        if canonical_libs(&ours) != canonical_libs(reference) {
            failures.push(format!(
                "{what}: external_libs: auditwheel {} ours {}",
                reference["external_libs"], ours["external_libs"]
            ));
        }
    }
    // The fixtures must exercise something: the ldpaths case finds both libraries.
    let found = canonical_libs(&references[3]);
    assert!(
        found.values().all(Option::is_some) && found.len() == 2,
        "auditwheel found {found:?}"
    );
    assert!(
        failures.is_empty(),
        "differences from auditwheel:\n{}",
        failures.join("\n")
    );
}
