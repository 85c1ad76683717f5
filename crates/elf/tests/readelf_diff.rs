//! Differential tests: `parse` against `readelf` on cross-compiled fixtures and system files.

mod common;

use std::path::Path;

use common::*;
use manywheel_elf::{parse, parse_ident, Binding};

fn check_file(path: &Path) -> manywheel_elf::ElfFile {
    let data = std::fs::read(path).unwrap();
    let elf = parse(&data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        parse_ident(&data[..64.min(data.len())]).unwrap(),
        elf.header
    );
    compare_with_readelf(path, &elf);
    elf
}

/// Build the library (RPATH and RUNPATH variants) and an executable for `arch`, and compare.
fn fixture_suite(arch: Arch) {
    if !have_compiler(&arch) {
        return;
    }
    let dir = work_dir(&format!("diff-{}", arch.cc));
    let lib = build_lib(
        &arch,
        &dir,
        "libfix.so",
        &[
            "-Wl,-rpath,/opt/a:/opt/b::/opt/c",
            "-Wl,--disable-new-dtags",
        ],
    );
    let elf = check_file(&lib);
    assert_eq!(elf.header.machine, arch.machine);
    assert_eq!(elf.header.class, arch.class);
    assert_eq!(elf.header.endian, arch.endian);
    assert_eq!(elf.header.elf_type, 3);
    assert!(elf.is_dynamic);
    assert_eq!(elf.soname.as_deref(), Some("libfix.so.1"));
    assert!(
        elf.needed.iter().any(|n| n == "libm.so.6"),
        "{:?}",
        elf.needed
    );
    assert_eq!(elf.rpath, ["/opt/a", "/opt/b", "/opt/c"]);
    assert!(elf.runpath.is_empty());
    assert_eq!(elf.version_defs, ["libfix.so.1", "VERS_1", "VERS_2"]);
    let sym = |name: &str, version: &str| {
        elf.dynamic_symbols
            .iter()
            .find(|s| s.name == name && s.version.as_deref() == Some(version))
            .unwrap_or_else(|| panic!("{name}@{version} missing: {:#?}", elf.dynamic_symbols))
    };
    let v1 = sym("lib_v1", "VERS_1");
    assert!(!v1.undefined && !v1.version_hidden && v1.kind == 2);
    assert_eq!(v1.binding, Binding::Global);
    assert!(sym("lib_v2", "VERS_2").version_file.is_none());
    assert!(sym("compat", "VERS_1").version_hidden);
    assert!(!sym("compat", "VERS_2").version_hidden);
    assert_eq!(sym("lib_data", "VERS_1").kind, 1);
    let weak = elf
        .dynamic_symbols
        .iter()
        .find(|s| s.name == "weak_fn")
        .expect("weak_fn");
    assert!(weak.undefined && weak.binding == Binding::Weak && weak.version.is_none());
    let cos = elf
        .dynamic_symbols
        .iter()
        .find(|s| s.name == "cos")
        .expect("cos");
    assert!(cos.undefined);
    assert_eq!(cos.version_file.as_deref(), Some("libm.so.6"));
    assert!(cos.version.as_deref().unwrap().starts_with("GLIBC_"));
    let puts = elf
        .dynamic_symbols
        .iter()
        .find(|s| s.name == "puts")
        .expect("puts");
    assert_eq!(puts.version_file.as_deref(), Some("libc.so.6"));
    assert!(elf
        .version_needs
        .iter()
        .any(|n| n.file == "libm.so.6" && !n.versions.is_empty()));

    let lib2 = build_lib(
        &arch,
        &dir,
        "libfix-runpath.so",
        &["-Wl,-rpath,$ORIGIN/../lib:/x", "-Wl,--enable-new-dtags"],
    );
    let elf2 = check_file(&lib2);
    assert_eq!(elf2.runpath, ["$ORIGIN/../lib", "/x"]);
    assert!(elf2.rpath.is_empty());

    let exe = build_exe(&arch, &dir, &lib, "main", &["-Wl,-rpath,$ORIGIN"]);
    let elf3 = check_file(&exe);
    assert!(elf3.interpreter.is_some());
    assert!(elf3.needed.iter().any(|n| n == "libfix.so.1"));
    assert!(elf3.soname.is_none());
    assert!(elf3.dynamic_symbols.iter().any(|s| s.name == "lib_v1"
        && s.undefined
        && s.version.as_deref() == Some("VERS_1")
        && s.version_file.as_deref() == Some("libfix.so.1")));
}

macro_rules! arch_tests {
    ($($name:ident => $arch:expr),* $(,)?) => {
        $(#[test] fn $name() { fixture_suite($arch); })*
    };
}

arch_tests! {
    fixtures_x86_64 => X86_64,
    fixtures_i686 => I686,
    fixtures_aarch64 => AARCH64,
    fixtures_ppc64le => PPC64LE,
    fixtures_s390x => S390X,
    fixtures_armhf => ARMHF,
    fixtures_riscv64 => RISCV64,
}

#[test]
fn static_executable() {
    let arch = X86_64;
    if !have_compiler(&arch) {
        return;
    }
    let dir = work_dir("static");
    let code = "int main(void) { return 0; }\n";
    let src = dir.join("s.c");
    std::fs::write(&src, code).unwrap();
    let out = dir.join("s");
    let status = std::process::Command::new(arch.cc)
        .args(["-static", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap();
    if !status.success() {
        eprintln!("SKIP: no static libc for {}", arch.cc);
        return;
    }
    let elf = check_file(&out);
    assert!(!elf.is_dynamic);
    assert!(elf.interpreter.is_none());
    assert!(elf.dynamic_symbols.is_empty() && elf.needed.is_empty());
}

/// A vernaux with VER_FLG_WEAK (set by patching, since linkers rarely emit it) on a
/// little- and a big-endian file.
#[test]
fn weak_version_flag() {
    for arch in [X86_64, S390X] {
        if !have_compiler(&arch) {
            continue;
        }
        let dir = work_dir(&format!("weakver-{}", arch.cc));
        let lib = build_lib(&arch, &dir, "libfix.so", &[]);
        let r = readelf(&lib);
        let base = r.verneed_offset.expect("verneed section");
        let aux = *r.vernaux_offsets.last().unwrap();
        let mut data = std::fs::read(&lib).unwrap();
        // vna_flags is the u16 at offset 4 of Elf_Vernaux.
        let at = (base + aux + 4) as usize;
        let flag: [u8; 2] = if arch.endian == manywheel_elf::Endian::Big {
            [0, 2]
        } else {
            [2, 0]
        };
        data[at..at + 2].copy_from_slice(&flag);
        let patched = dir.join("libfix-weak.so");
        std::fs::write(&patched, &data).unwrap();
        let elf = check_file(&patched);
        let weak: Vec<_> = elf
            .version_needs
            .iter()
            .flat_map(|n| &n.versions)
            .filter(|v| v.weak)
            .collect();
        assert_eq!(weak.len(), 1, "{:?}", elf.version_needs);
    }
}

fn system_files() -> Vec<std::path::PathBuf> {
    let mut candidates = vec![
        "/lib/x86_64-linux-gnu/libc.so.6".to_string(),
        "/lib/x86_64-linux-gnu/libm.so.6".to_string(),
        "/lib/x86_64-linux-gnu/libstdc++.so.6".to_string(),
        "/lib64/ld-linux-x86-64.so.2".to_string(),
        "/usr/bin/python3".to_string(),
        "/bin/ls".to_string(),
    ];
    for triple in [
        "i686-linux-gnu",
        "aarch64-linux-gnu",
        "powerpc64le-linux-gnu",
        "s390x-linux-gnu",
        "arm-linux-gnueabihf",
        "riscv64-linux-gnu",
    ] {
        for f in ["libc.so.6", "libstdc++.so.6"] {
            candidates.push(format!("/usr/{triple}/lib/{f}"));
        }
    }
    candidates
        .into_iter()
        .map(std::path::PathBuf::from)
        .filter(|p| {
            let ok = p.exists();
            if !ok {
                eprintln!("SKIP: {} not present", p.display());
            }
            ok
        })
        .map(|p| std::fs::canonicalize(p).unwrap())
        .collect()
}

#[test]
fn system_files_match_readelf() {
    let files = system_files();
    for f in &files {
        let elf = check_file(f);
        eprintln!(
            "{}: {} dynamic symbols, {} version needs",
            f.display(),
            elf.dynamic_symbols.len(),
            elf.version_needs.len()
        );
    }
}

#[test]
fn system_files_without_section_headers() {
    for f in system_files() {
        let data = std::fs::read(&f).unwrap();
        let full = parse(&data).unwrap();
        let stripped = parse(&strip_section_headers(&data)).unwrap();
        assert_eq!(full, stripped, "{}", f.display());
    }
}
