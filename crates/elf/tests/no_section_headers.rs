//! Files whose section header table is gone must yield the same dynamic information: the
//! dynamic symbol count then comes from DT_HASH or DT_GNU_HASH.

mod common;

use common::*;
use manywheel_elf::parse;

fn suite(arch: Arch) {
    if !have_compiler(&arch) {
        return;
    }
    let dir = work_dir(&format!("noshdr-{}", arch.cc));
    for style in ["gnu", "sysv", "both"] {
        let lib = build_lib(
            &arch,
            &dir,
            &format!("libfix-{style}.so"),
            &[
                &format!("-Wl,--hash-style={style}"),
                "-Wl,-rpath,/r1:/r2",
                "-Wl,--enable-new-dtags",
            ],
        );
        let exe = build_exe(
            &arch,
            &dir,
            &lib,
            &format!("main-{style}"),
            &[&format!("-Wl,--hash-style={style}")],
        );
        for path in [lib, exe] {
            let data = std::fs::read(&path).unwrap();
            let full = parse(&data).unwrap();
            compare_with_readelf(&path, &full);
            assert!(
                !full.dynamic_symbols.is_empty(),
                "{}: no dynamic symbols",
                path.display()
            );
            let stripped_data = strip_section_headers(&data);
            let stripped = parse(&stripped_data)
                .unwrap_or_else(|e| panic!("{} without sections: {e}", path.display()));
            assert_eq!(full, stripped, "{} ({style})", path.display());
        }
    }
}

macro_rules! arch_tests {
    ($($name:ident => $arch:expr),* $(,)?) => {
        $(#[test] fn $name() { suite($arch); })*
    };
}

arch_tests! {
    no_shdr_x86_64 => X86_64,
    no_shdr_i686 => I686,
    no_shdr_aarch64 => AARCH64,
    no_shdr_ppc64le => PPC64LE,
    no_shdr_s390x => S390X,
    no_shdr_armhf => ARMHF,
    no_shdr_riscv64 => RISCV64,
}
