//! `strip`: debugging sections and the static symbol table removed from cross-compiled
//! libraries of every architecture, checked against binutils' own `strip` (same sections
//! left), readelf and eu-elflint (no complaints), the loaded bytes (identical), and by running
//! a program that uses the stripped (and then patched) library, natively or under qemu-user.

#[path = "patch_common.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use manywheel_elf::{patch, strip, Patch, RpathChange, RpathKind};
use support::*;

const LIB_C: &str = r#"
#include <stdio.h>
struct point { int x, y; };
static int table[64];
int lib_value(int n) {
    struct point p = { n, n * 2 };
    for (int i = 0; i < 64; i++) table[i] = i * p.x + p.y;
    int s = 0;
    for (int i = 0; i < 64; i++) s += table[i] % 7;
    return s;
}
"#;
const MAIN_C: &str = r#"
#include <stdio.h>
int lib_value(int);
int main(void) { printf("value=%d\n", lib_value(5)); return 0; }
"#;

fn expected() -> String {
    let (x, y) = (5i64, 10i64);
    let s: i64 = (0..64).map(|i| (i * x + y) % 7).sum();
    format!("value={s}\n")
}

/// Section names as `readelf -S -W` lists them (index 0 left out).
fn section_names(path: &Path) -> Vec<String> {
    let out = run_ok(Command::new("readelf").args(["-S", "-W"]).arg(path));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let rest = l.strip_prefix('[')?;
            let (_, after) = rest.split_once(']')?;
            let name = after.split_whitespace().next()?;
            (name != "NULL").then(|| name.to_string())
        })
        .collect()
}

/// The file bytes of every PT_LOAD, the ELF header (which locates the section headers)
/// zeroed.
fn loaded_bytes(path: &Path) -> Vec<Vec<u8>> {
    let mut data = std::fs::read(path).unwrap();
    let ehsize = if data[4] == 1 { 52 } else { 64 };
    data[..ehsize].fill(0);
    loads(path)
        .iter()
        .map(|s| data[s.offset as usize..(s.offset + s.filesz) as usize].to_vec())
        .collect()
}

/// `readelf -h` without the lines about section headers.
fn elf_header(path: &Path) -> Vec<String> {
    let out = run_ok(Command::new("readelf").arg("-h").arg(path));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.to_lowercase().contains("section header"))
        .map(str::to_owned)
        .collect()
}

fn check(t: &Target) {
    let dir = work_dir(&format!("strip-{}", t.name));
    std::fs::write(dir.join("lib.c"), LIB_C).unwrap();
    std::fs::write(dir.join("main.c"), MAIN_C).unwrap();
    let p = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let lib = dir.join("libval.so");
    t.cc(
        &lib,
        &[
            "-shared",
            "-fPIC",
            "-O1",
            "-g",
            &p("lib.c"),
            "-Wl,-soname,libval.so",
        ],
    );
    let main = dir.join("main");
    t.cc(
        &main,
        &[
            "-O1",
            &p("main.c"),
            &p("libval.so"),
            "-Wl,-rpath,$ORIGIN/lib",
        ],
    );
    let before = section_names(&lib);
    assert!(
        before.iter().any(|s| s == ".debug_info") && before.iter().any(|s| s == ".symtab"),
        "{}: fixture has no debug info: {before:?}",
        t.name
    );

    let data = std::fs::read(&lib).unwrap();
    let out = strip(&data).unwrap_or_else(|e| panic!("{}: strip: {e}", t.name));
    let lib_dir = dir.join("lib");
    let ours = lib_dir.join("libval.so");
    write_exe(&ours, &out.data);

    // Binutils' strip leaves the same sections.
    let theirs = dir.join("libval.binutils.so");
    t.strip_to(&lib, &theirs);
    assert_eq!(section_names(&ours), section_names(&theirs), "{}", t.name);
    let after = section_names(&ours);
    assert!(
        !after
            .iter()
            .any(|s| s.starts_with(".debug") || s == ".symtab" || s == ".strtab"),
        "{}: {after:?}",
        t.name
    );
    let mut removed = out.report.removed.clone();
    removed.sort();
    let mut expect_removed: Vec<String> = before
        .iter()
        .filter(|s| !after.contains(s))
        .cloned()
        .collect();
    expect_removed.sort();
    assert_eq!(removed, expect_removed, "{}", t.name);
    assert_eq!(out.report.new_size, out.data.len() as u64);
    assert!(
        out.report.saved() > 0 && out.data.len() < data.len(),
        "{}: {:?}",
        t.name,
        out.report
    );
    // What is loaded is not touched: same program headers and the same bytes.
    assert_eq!(segments(&ours), segments(&lib), "{}", t.name);
    assert!(
        loaded_bytes(&ours) == loaded_bytes(&lib),
        "{}: loaded bytes differ",
        t.name
    );
    assert_eq!(elf_header(&ours), elf_header(&lib), "{}", t.name);
    assert_readelf_clean(&ours);
    assert_no_new_lint(&lib, &ours);
    assert!(
        elflint(&ours).is_empty(),
        "{}: {:?}",
        t.name,
        elflint(&ours)
    );
    assert_eq!(t.run_stdout(&main, None), expected(), "{}", t.name);

    // Stripping again changes nothing.
    let again = strip(&out.data).unwrap();
    assert!(!again.report.changed(), "{}: {:?}", t.name, again.report);
    assert_eq!(again.data, out.data);

    // A stripped library can be patched (as repair does) and still loads.
    let patched = patch(
        &out.data,
        &Patch {
            set_soname: Some("libval-0123abcd.so".into()),
            set_rpath: Some(RpathChange::Set {
                path: "$ORIGIN".into(),
                kind: RpathKind::Rpath,
            }),
            ..Patch::default()
        },
    )
    .unwrap();
    write_exe(&ours, &patched.data);
    assert_readelf_clean(&ours);
    assert!(
        elflint(&ours).is_empty(),
        "{}: {:?}",
        t.name,
        elflint(&ours)
    );
    assert_eq!(t.run_stdout(&main, None), expected(), "{}", t.name);
}

#[test]
fn strip_matches_binutils_and_the_library_still_loads_on_every_arch() {
    let targets: Vec<Target> = [X86_64, I686, AARCH64, PPC64LE, S390X, ARMV7L, RISCV64]
        .into_iter()
        .filter(|t| t.available())
        .collect();
    std::thread::scope(|s| {
        for t in &targets {
            s.spawn(move || check(t));
        }
    });
}

#[test]
fn files_without_debug_sections_are_returned_unchanged() {
    if !X86_64.available() {
        return;
    }
    let dir = work_dir("strip-none");
    std::fs::write(dir.join("lib.c"), LIB_C).unwrap();
    let lib = dir.join("libval.so");
    X86_64.cc(
        &lib,
        &[
            "-shared",
            "-fPIC",
            "-O1",
            "-s",
            dir.join("lib.c").to_str().unwrap(),
        ],
    );
    let data = std::fs::read(&lib).unwrap();
    let out = strip(&data).unwrap();
    assert!(!out.report.changed(), "{:?}", out.report);
    assert_eq!(out.data, data);
    assert_eq!(out.report.saved(), 0);
    // Not ELF, truncated: errors, no panic.
    assert!(strip(b"not an ELF file").is_err());
    assert!(strip(&data[..data.len() / 2]).is_err());
}
