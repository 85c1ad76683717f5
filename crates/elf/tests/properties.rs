//! GNU property notes (x86 ISA level) and PT_GNU_STACK.

mod common;

use common::*;
use manywheel_elf::parse;

const PROG: &str = "int main(void) { return 0; }\n";

#[test]
fn x86_isa_v3_needed() {
    let arch = X86_64;
    if !have_compiler(&arch) {
        return;
    }
    let dir = work_dir("isa");
    let exe = build_program(
        &arch,
        &dir,
        "v3",
        PROG,
        &["-march=x86-64-v3", "-Wl,-z,x86-64-v3"],
    );
    let elf = parse(&std::fs::read(&exe).unwrap()).unwrap();
    compare_with_readelf(&exe, &elf);
    let isa = elf.x86_isa_needed.expect("ISA note");
    assert_ne!(isa & 4, 0, "v3 bit in {isa:#x}");

    // The same note without section headers (found through PT_GNU_PROPERTY / PT_NOTE).
    let stripped = parse(&strip_section_headers(&std::fs::read(&exe).unwrap())).unwrap();
    assert_eq!(stripped.x86_isa_needed, Some(isa));

    let lib = build_lib(
        &arch,
        &dir,
        "libv2.so",
        &["-march=x86-64-v2", "-Wl,-z,x86-64-v2"],
    );
    let elf = parse(&std::fs::read(&lib).unwrap()).unwrap();
    compare_with_readelf(&lib, &elf);
    assert_ne!(elf.x86_isa_needed.expect("ISA note") & 2, 0);

    let plain = build_program(&arch, &dir, "plain", PROG, &[]);
    let elf = parse(&std::fs::read(&plain).unwrap()).unwrap();
    compare_with_readelf(&plain, &elf);
}

#[test]
fn x86_isa_on_i686() {
    // ELF32 property arrays are 4-byte aligned.
    let arch = I686;
    if !have_compiler(&arch) {
        return;
    }
    let dir = work_dir("isa-i686");
    let exe = build_program(&arch, &dir, "v2", PROG, &["-Wl,-z,x86-64-v2"]);
    let elf = parse(&std::fs::read(&exe).unwrap()).unwrap();
    compare_with_readelf(&exe, &elf);
    assert_eq!(elf.x86_isa_needed.map(|v| v & 2), Some(2));
}

#[test]
fn exec_stack() {
    for arch in ALL_ARCHES {
        if !have_compiler(&arch) {
            continue;
        }
        let dir = work_dir(&format!("stack-{}", arch.cc));
        let exe = build_program(&arch, &dir, "execstack", PROG, &["-Wl,-z,execstack"]);
        let elf = parse(&std::fs::read(&exe).unwrap()).unwrap();
        compare_with_readelf(&exe, &elf);
        assert_eq!(elf.exec_stack, Some(true), "{}", arch.cc);

        let exe = build_program(&arch, &dir, "noexecstack", PROG, &["-Wl,-z,noexecstack"]);
        let elf = parse(&std::fs::read(&exe).unwrap()).unwrap();
        compare_with_readelf(&exe, &elf);
        assert_eq!(elf.exec_stack, Some(false), "{}", arch.cc);

        let exe = build_program(&arch, &dir, "default", PROG, &[]);
        let elf = parse(&std::fs::read(&exe).unwrap()).unwrap();
        compare_with_readelf(&exe, &elf);
        assert_eq!(elf.exec_stack, Some(false), "{}", arch.cc);
    }
}
