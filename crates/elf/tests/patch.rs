//! End-to-end patching on every architecture with a cross compiler here: the patched
//! programs must still load and run (natively or under qemu-user, with 64 KiB pages where the
//! architecture allows them), readelf and eu-elflint must accept them, strip must keep them
//! working, and our reader must agree with readelf about the result.
//!
//! The fixture is the case auditwheel-style repair produces: `libfoo.so` (soname
//! `libfoo.so.1`, versioned symbols) used by a PIE executable and by another shared object
//! `libbar.so`; libfoo gets a longer hashed soname, its users' DT_NEEDED follow, and an
//! `$ORIGIN`-relative RPATH points at the renamed copy.

#[path = "patch_common.rs"]
mod support;

use std::path::{Path, PathBuf};

use manywheel_elf::{
    dynamic_strings, max_page_size, patch, Patch, RpathChange, RpathKind, SegmentChange,
};
use support::*;

const FOO_C: &str = r#"
int foo_value(int x) { int r = 1; for (int i = 0; i < x; i++) r = r * 3 + i; return r; }
"#;
const FOO_MAP: &str = "FOO_1.0 { global: foo_value; local: *; };\n";
const BAR_C: &str = r#"
int foo_value(int);
int bar_value(int x) { return foo_value(x) * 2 + 1; }
"#;
const MAIN_C: &str = r#"
#include <stdio.h>
int foo_value(int);
int bar_value(int);
int main(void) { printf("foo=%d bar=%d\n", foo_value(5), bar_value(4)); return 0; }
"#;
/// A program that only weakly uses libfoo: it runs with or without it.
const WEAK_C: &str = r#"
#include <stdio.h>
int foo_value(int) __attribute__((weak));
int main(void) { if (foo_value) printf("foo=%d\n", foo_value(5)); else printf("no foo\n"); return 0; }
"#;

fn foo(x: i64) -> i64 {
    (0..x).fold(1, |r, i| r * 3 + i)
}

fn expected() -> String {
    format!("foo={} bar={}\n", foo(5), foo(4) * 2 + 1)
}

struct Fixture {
    dir: PathBuf,
    libfoo: PathBuf,
    libbar: PathBuf,
    main: PathBuf,
}

fn build(t: &Target, dir: &Path) -> Fixture {
    for (name, text) in [
        ("foo.c", FOO_C),
        ("foo.map", FOO_MAP),
        ("bar.c", BAR_C),
        ("main.c", MAIN_C),
        ("weak.c", WEAK_C),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let p = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let f = Fixture {
        dir: dir.to_path_buf(),
        libfoo: dir.join("libfoo.so"),
        libbar: dir.join("libbar.so"),
        main: dir.join("main"),
    };
    t.cc(
        &f.libfoo,
        &[
            "-shared",
            "-fPIC",
            "-O1",
            &p("foo.c"),
            "-Wl,-soname,libfoo.so.1",
            &format!("-Wl,--version-script={}", p("foo.map")),
        ],
    );
    t.cc(
        &f.libbar,
        &[
            "-shared",
            "-fPIC",
            "-O1",
            &p("bar.c"),
            "-Wl,-soname,libbar.so",
            &p("libfoo.so"),
        ],
    );
    t.cc(
        &f.main,
        &[
            "-fPIE",
            "-pie",
            "-O1",
            &p("main.c"),
            &p("libfoo.so"),
            &p("libbar.so"),
        ],
    );
    f
}

/// The three patches of one repair round: libfoo renamed to `soname`, its users follow and
/// find it through `rpath` (the executable) and `$ORIGIN` (libbar, installed beside it).
fn round(old: &str, soname: &str, rpath: &str) -> [Patch; 3] {
    let lib = Patch {
        set_soname: Some(soname.into()),
        ..Patch::default()
    };
    let bar = Patch {
        replace_needed: vec![(old.into(), soname.into())],
        set_rpath: Some(RpathChange::Set {
            path: "$ORIGIN".into(),
            kind: RpathKind::Rpath,
        }),
        ..Patch::default()
    };
    let main = Patch {
        replace_needed: vec![(old.into(), soname.into())],
        set_rpath: Some(RpathChange::Set {
            path: rpath.into(),
            kind: RpathKind::Rpath,
        }),
        ..Patch::default()
    };
    [lib, bar, main]
}

/// Install the three files as `app/bin/main`, `app/x.libs/{soname,libbar.so}`.
fn install(app: &Path, soname: &str, files: [&[u8]; 3]) -> [PathBuf; 3] {
    let paths = [
        app.join("x.libs").join(soname),
        app.join("x.libs/libbar.so"),
        app.join("bin/main"),
    ];
    for (p, d) in paths.iter().zip(files) {
        write_exe(p, d);
    }
    paths
}

/// Page sizes to run with: the host's, and 64 KiB where the architecture has such pages.
fn page_sizes(t: &Target) -> Vec<Option<u64>> {
    let mut v = vec![None];
    if t.qemu.is_some() && max_page_size(t.machine) == 0x10000 {
        v.push(Some(0x10000));
    }
    v
}

fn suite(t: Target) {
    if !t.available() {
        return;
    }
    let root = work_dir(t.name);
    let f = build(&t, &root);
    let page = max_page_size(t.machine);
    let originals = [f.libfoo.clone(), f.libbar.clone(), f.main.clone()];
    let soname = "libfoo-0123abcd.so.1";

    // 1. The repair: every file gets one appended segment, and the program runs.
    let patches = round("libfoo.so.1", soname, "$ORIGIN/../x.libs");
    let outs: Vec<_> = originals
        .iter()
        .zip(&patches)
        .map(|(p, pt)| patched(p, pt))
        .collect();
    for (o, path) in outs.iter().zip(&originals) {
        let r = &o.report;
        assert_eq!(r.segment, SegmentChange::Added, "{}: {r:?}", path.display());
        assert_eq!(
            loads_of(&o.data, &root).len(),
            loads(path).len() + 1,
            "{}: one PT_LOAD more",
            path.display()
        );
        // Only what the change needs: the moved tables, the strings, alignment.
        assert!(
            r.growth() > 0 && r.growth() < 2048,
            "{}: grew by {} bytes",
            path.display(),
            r.growth()
        );
        eprintln!(
            "{}: {} grew by {} bytes (page {page:#x}), moved {:?}",
            t.name,
            path.file_name().unwrap().to_string_lossy(),
            r.growth(),
            r.moved
        );
    }
    let app = root.join("app");
    let installed = install(&app, soname, [&outs[0].data, &outs[1].data, &outs[2].data]);
    for (orig, p) in originals.iter().zip(&installed) {
        assert_readelf_clean(p);
        assert_no_new_lint(orig, p);
        assert_segments_sane(p, page);
    }
    let r = [
        assert_matches_readelf(&installed[0]),
        assert_matches_readelf(&installed[1]),
        assert_matches_readelf(&installed[2]),
    ];
    assert_eq!(r[0].soname.as_deref(), Some(soname));
    assert_eq!(r[1].needed[0], soname);
    assert_eq!(r[1].rpath.as_deref(), Some("$ORIGIN"));
    assert_eq!(r[2].needed[..2], [soname.to_string(), "libbar.so".into()]);
    assert_eq!(r[2].rpath.as_deref(), Some("$ORIGIN/../x.libs"));
    // The version requirement names the new file too (else ld.so cannot match it).
    let main_elf = manywheel_elf::parse(&outs[2].data).unwrap();
    assert!(main_elf.version_needs.iter().any(|v| v.file == soname));
    assert!(!main_elf
        .version_needs
        .iter()
        .any(|v| v.file == "libfoo.so.1"));
    for pg in page_sizes(&t) {
        assert_eq!(
            t.run_stdout(&installed[2], pg),
            expected(),
            "{} page {pg:?}",
            t.name
        );
    }

    // 2. Idempotent: the same patch again changes nothing, byte for byte.
    for ((o, pt), p) in outs.iter().zip(&patches).zip(&installed) {
        let again = patch(&o.data, pt).unwrap();
        assert!(
            !again.report.changed(),
            "{}: {:?}",
            p.display(),
            again.report
        );
        assert!(
            again.data == o.data,
            "{}: second patch changed bytes",
            p.display()
        );
    }

    // 3. strip keeps the patched files working.
    let app_s = root.join("app-stripped");
    let stripped: Vec<PathBuf> = installed
        .iter()
        .map(|p| app_s.join(p.strip_prefix(&app).unwrap()))
        .collect();
    for (p, s) in installed.iter().zip(&stripped) {
        std::fs::create_dir_all(s.parent().unwrap()).unwrap();
        t.strip_to(p, s);
        assert_readelf_clean(s);
        assert_matches_readelf(s);
    }
    for pg in page_sizes(&t) {
        assert_eq!(
            t.run_stdout(&stripped[2], pg),
            expected(),
            "stripped, page {pg:?}"
        );
    }

    // 4. Repeated patches with ever longer strings: the segment of the first one is reused.
    repeated(&t, &root, &originals);

    // 5. Without section headers.
    no_section_headers(&t, &root, &originals);

    // 6. Shorter strings are written in place.
    in_place(&t, &root);

    // 7. Removing a needed library with version requirements on it.
    remove_needed(&t, &root, &f);

    // 8. Adding needed entries grows the dynamic section (moved into the segment).
    add_needed(&t, &root, &originals);
}

fn loads_of(data: &[u8], root: &Path) -> Vec<Seg> {
    let tmp = root.join("tmp-loads");
    std::fs::write(&tmp, data).unwrap();
    loads(&tmp)
}

fn repeated(t: &Target, root: &Path, originals: &[PathBuf; 3]) {
    let page = max_page_size(t.machine);
    let mut files: Vec<Vec<u8>> = originals
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let orig_loads: Vec<usize> = originals.iter().map(|p| loads(p).len()).collect();
    let mut old = "libfoo.so.1".to_string();
    let mut first_segment: Vec<Option<Seg>> = vec![None; 3];
    for i in 1..=3 {
        let soname = format!("libfoo-{}.so.1", "0123abcd".repeat(i * 2));
        let rpath = format!("$ORIGIN/../x.libs:/nonexistent{}", "/long".repeat(i * 3));
        let patches = round(&old, &soname, &rpath);
        for (k, pt) in patches.iter().enumerate() {
            let out = patch(&files[k], pt).unwrap();
            let r = &out.report;
            let segs = loads_of(&out.data, root);
            assert_eq!(segs.len(), orig_loads[k] + 1, "round {i}: {r:?}");
            let last = segs.last().unwrap().clone();
            if i == 1 {
                assert_eq!(r.segment, SegmentChange::Added, "round {i}");
                assert_eq!(last.align, page.max(last.align));
                first_segment[k] = Some(last);
            } else {
                assert_eq!(r.segment, SegmentChange::Reused, "round {i}: {r:?}");
                let first = first_segment[k].as_ref().unwrap();
                assert_eq!((last.offset, last.vaddr), (first.offset, first.vaddr));
                // Only the longer strings are added (the replaced ones are reclaimed).
                assert!(r.growth() >= 0 && r.growth() < 64, "round {i}: {r:?}");
            }
            files[k] = out.data;
        }
        old = soname;
    }
    let app = root.join("app-repeated");
    let installed = install(&app, &old, [&files[0], &files[1], &files[2]]);
    for (orig, p) in originals.iter().zip(&installed) {
        assert_readelf_clean(p);
        assert_no_new_lint(orig, p);
        assert_segments_sane(p, page);
        assert_matches_readelf(p);
    }
    for pg in page_sizes(t) {
        assert_eq!(
            t.run_stdout(&installed[2], pg),
            expected(),
            "repeated, page {pg:?}"
        );
    }
}

fn no_section_headers(t: &Target, root: &Path, originals: &[PathBuf; 3]) {
    let dir = root.join("noshdr");
    std::fs::create_dir_all(&dir).unwrap();
    let soname = "libfoo-0123abcd.so.1";
    let patches = round("libfoo.so.1", soname, "$ORIGIN/../x.libs");
    let mut outs = Vec::new();
    for (p, pt) in originals.iter().zip(&patches) {
        let bare = strip_section_headers(&std::fs::read(p).unwrap());
        let bare_path = dir.join(p.file_name().unwrap());
        std::fs::write(&bare_path, &bare).unwrap();
        let out = patch(&bare, pt).unwrap_or_else(|e| panic!("{}: {e}", bare_path.display()));
        assert_eq!(out.report.segment, SegmentChange::Added);
        // Same again: idempotent without sections too.
        assert!(patch(&out.data, pt).unwrap().data == out.data);
        outs.push(out.data);
    }
    let app = dir.join("app");
    let installed = install(&app, soname, [&outs[0], &outs[1], &outs[2]]);
    for p in &installed {
        assert_readelf_clean(p);
        assert_matches_readelf(p);
        assert_segments_sane(p, max_page_size(t.machine));
    }
    for pg in page_sizes(t) {
        assert_eq!(
            t.run_stdout(&installed[2], pg),
            expected(),
            "no shdr, page {pg:?}"
        );
    }
}

fn in_place(t: &Target, root: &Path) {
    let dir = root.join("inplace");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("foo.c");
    std::fs::write(&src, FOO_C).unwrap();
    let main_c = dir.join("main.c");
    std::fs::write(&main_c, "#include <stdio.h>\nint foo_value(int);\nint main(void) { printf(\"foo=%d\\n\", foo_value(5)); return 0; }\n").unwrap();
    let lib = dir.join("libbaz-long-name.so");
    t.cc(
        &lib,
        &[
            "-shared",
            "-fPIC",
            src.to_str().unwrap(),
            "-Wl,-soname,libbaz-long-name.so.1",
        ],
    );
    let exe = dir.join("main");
    t.cc(
        &exe,
        &[
            "-fPIE",
            "-pie",
            main_c.to_str().unwrap(),
            lib.to_str().unwrap(),
            "-Wl,-rpath,$ORIGIN/libs-with-a-long-name",
            "-Wl,--disable-new-dtags",
        ],
    );
    let lib_out = patched(
        &lib,
        &Patch {
            set_soname: Some("libbz.so.1".into()),
            ..Patch::default()
        },
    );
    let exe_out = patched(
        &exe,
        &Patch {
            replace_needed: vec![("libbaz-long-name.so.1".into(), "libbz.so.1".into())],
            set_rpath: Some(RpathChange::Set {
                path: "$ORIGIN/libs".into(),
                kind: RpathKind::Rpath,
            }),
            ..Patch::default()
        },
    );
    for (o, p) in [(&lib_out, &lib), (&exe_out, &exe)] {
        let r = &o.report;
        assert_eq!(r.segment, SegmentChange::None, "{}: {r:?}", p.display());
        assert_eq!(r.new_size, r.old_size, "{}: {r:?}", p.display());
        assert!(r.strings_in_place >= 1 && r.strings_appended == 0, "{r:?}");
        assert_eq!(o.data.len(), std::fs::metadata(p).unwrap().len() as usize);
    }
    let libs = dir.join("app/libs");
    write_exe(&libs.join("libbz.so.1"), &lib_out.data);
    let exe_p = dir.join("app/main");
    write_exe(&exe_p, &exe_out.data);
    for (orig, p) in [(&lib, libs.join("libbz.so.1")), (&exe, exe_p.clone())] {
        assert_readelf_clean(&p);
        assert_no_new_lint(orig, &p);
        assert_matches_readelf(&p);
    }
    let s = dynamic_strings(&exe_out.data).unwrap();
    assert_eq!(s.rpath.as_deref(), Some("$ORIGIN/libs"));
    assert_eq!(s.needed[0], "libbz.so.1");
    assert_eq!(t.run_stdout(&exe_p, None), format!("foo={}\n", foo(5)));
}

fn remove_needed(t: &Target, root: &Path, f: &Fixture) {
    let dir = root.join("remove");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("weak");
    t.cc(
        &exe,
        &[
            "-fPIE",
            "-pie",
            f.dir.join("weak.c").to_str().unwrap(),
            "-Wl,--no-as-needed",
            f.libfoo.to_str().unwrap(),
        ],
    );
    let before = manywheel_elf::parse(&std::fs::read(&exe).unwrap()).unwrap();
    assert!(before.needed.iter().any(|n| n == "libfoo.so.1"));
    assert!(before.version_needs.iter().any(|v| v.file == "libfoo.so.1"));
    let out = patched(
        &exe,
        &Patch {
            remove_needed: vec!["libfoo.so.1".into()],
            ..Patch::default()
        },
    );
    assert_eq!(out.report.segment, SegmentChange::None);
    let after = manywheel_elf::parse(&out.data).unwrap();
    assert!(!after.needed.iter().any(|n| n == "libfoo.so.1"));
    assert!(!after.version_needs.iter().any(|v| v.file == "libfoo.so.1"));
    let foo_sym = after
        .dynamic_symbols
        .iter()
        .find(|s| s.name == "foo_value")
        .unwrap();
    assert_eq!(foo_sym.version, None, "{foo_sym:?}");
    let p = dir.join("app/weak");
    write_exe(&p, &out.data);
    assert_readelf_clean(&p);
    assert_no_new_lint(&exe, &p);
    assert_matches_readelf(&p);
    // libfoo is nowhere to be found, and the program does not need it any more.
    assert_eq!(t.run_stdout(&p, None), "no foo\n");
}

fn add_needed(t: &Target, root: &Path, originals: &[PathBuf; 3]) {
    let dir = root.join("add");
    let extra: Vec<String> = (0..6).map(|i| format!("libextra{i}.so")).collect();
    let out = patched(
        &originals[2],
        &Patch {
            add_needed: extra.clone(),
            set_rpath: Some(RpathChange::Set {
                path: "$ORIGIN/../x.libs".into(),
                kind: RpathKind::Runpath,
            }),
            ..Patch::default()
        },
    );
    assert!(out.report.dynamic_moved, "{:?}", out.report);
    let p = dir.join("app/bin/main");
    write_exe(&p, &out.data);
    assert_readelf_clean(&p);
    assert_no_new_lint(&originals[2], &p);
    assert_segments_sane(&p, max_page_size(t.machine));
    let r = assert_matches_readelf(&p);
    assert_eq!(r.needed[r.needed.len() - 6..], extra[..]);
    assert_eq!(r.runpath.as_deref(), Some("$ORIGIN/../x.libs"));
    // Put the libraries where the runpath points: empty libraries for the extra names.
    let libs = dir.join("app/x.libs");
    write_exe(
        &libs.join("libfoo.so.1"),
        &std::fs::read(&originals[0]).unwrap(),
    );
    write_exe(
        &libs.join("libbar.so"),
        &std::fs::read(&originals[1]).unwrap(),
    );
    let empty = dir.join("empty.c");
    std::fs::write(&empty, "int extra_unused;\n").unwrap();
    for n in &extra {
        t.cc(
            &libs.join(n),
            &["-shared", "-fPIC", empty.to_str().unwrap()],
        );
    }
    for pg in page_sizes(t) {
        assert_eq!(t.run_stdout(&p, pg), expected(), "add needed, page {pg:?}");
    }
    // (libbar's own DT_NEEDED on libfoo.so.1 is satisfied by the already loaded libfoo: the
    // executable's RUNPATH would not apply to it.)
}

macro_rules! arch_tests {
    ($($name:ident => $t:expr),* $(,)?) => {
        $(#[test] fn $name() { suite($t); })*
    };
}

arch_tests! {
    patch_x86_64 => X86_64,
    patch_i686 => I686,
    patch_aarch64 => AARCH64,
    patch_ppc64le => PPC64LE,
    patch_s390x => S390X,
    patch_armv7l => ARMV7L,
    patch_riscv64 => RISCV64,
}
