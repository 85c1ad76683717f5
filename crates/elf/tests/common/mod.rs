//! Shared helpers for the integration tests: cross-compiling C fixtures and reading
//! `readelf` output for differential comparison.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use manywheel_elf::{Binding, Class, ElfFile, Endian};

/// A C compiler for one target plus the header facts its output must have.
#[derive(Debug, Clone, Copy)]
pub struct Arch {
    pub cc: &'static str,
    pub machine: u16,
    pub class: Class,
    pub endian: Endian,
}

pub const X86_64: Arch = Arch {
    cc: "gcc",
    machine: 62,
    class: Class::Elf64,
    endian: Endian::Little,
};
pub const I686: Arch = Arch {
    cc: "i686-linux-gnu-gcc",
    machine: 3,
    class: Class::Elf32,
    endian: Endian::Little,
};
pub const AARCH64: Arch = Arch {
    cc: "aarch64-linux-gnu-gcc",
    machine: 183,
    class: Class::Elf64,
    endian: Endian::Little,
};
pub const PPC64LE: Arch = Arch {
    cc: "powerpc64le-linux-gnu-gcc",
    machine: 21,
    class: Class::Elf64,
    endian: Endian::Little,
};
pub const S390X: Arch = Arch {
    cc: "s390x-linux-gnu-gcc",
    machine: 22,
    class: Class::Elf64,
    endian: Endian::Big,
};
pub const ARMHF: Arch = Arch {
    cc: "arm-linux-gnueabihf-gcc",
    machine: 40,
    class: Class::Elf32,
    endian: Endian::Little,
};
pub const RISCV64: Arch = Arch {
    cc: "riscv64-linux-gnu-gcc",
    machine: 243,
    class: Class::Elf64,
    endian: Endian::Little,
};

pub const ALL_ARCHES: [Arch; 7] = [X86_64, I686, AARCH64, PPC64LE, S390X, ARMHF, RISCV64];

/// Whether the compiler can be run; prints a skip message when it cannot.
pub fn have_compiler(arch: &Arch) -> bool {
    let ok = Command::new(arch.cc)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        let required = std::env::var_os("MANYWHEEL_REQUIRE_REFERENCE").is_some_and(|v| v != "0");
        assert!(!required, "compiler {} is not installed", arch.cc);
        eprintln!("SKIP: compiler {} is not installed", arch.cc);
    }
    ok
}

/// A fresh, empty directory for one test.
pub fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("elf-fixtures")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub const LIB_C: &str = r#"
#include <math.h>
#include <stdio.h>
extern void weak_fn(void) __attribute__((weak));
extern int weak_var __attribute__((weak));
double lib_v1(double x) { if (weak_fn) weak_fn(); return cos(x) + exp(x) + (&weak_var ? weak_var : 0); }
double lib_v2(double x) { puts("v2"); return x * 2; }
int lib_data = 42;
int compat_old(void) { return 1; }
int compat_new(void) { return 2; }
__asm__(".symver compat_old,compat@VERS_1");
__asm__(".symver compat_new,compat@@VERS_2");
"#;

pub const LIB_MAP: &str = "VERS_1 { global: lib_v1; lib_data; compat; local: *; };\n\
                           VERS_2 { global: lib_v2; } VERS_1;\n";

pub const MAIN_C: &str = r#"
#include <stdio.h>
double lib_v1(double);
double lib_v2(double);
int main(int argc, char **argv) { printf("%f\n", lib_v1(argc) + lib_v2(argc)); return 0; }
"#;

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compile the fixture shared library `libfix.so` (soname `libfix.so.1`, version script,
/// DT_NEEDED on libm, a weak undefined symbol) with extra flags; returns its path.
pub fn build_lib(arch: &Arch, dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let src = dir.join("lib.c");
    let map = dir.join("lib.map");
    std::fs::write(&src, LIB_C).unwrap();
    std::fs::write(&map, LIB_MAP).unwrap();
    let out = dir.join(name);
    run(Command::new(arch.cc)
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-Wl,-soname,libfix.so.1")
        .arg(format!("-Wl,--version-script={}", map.display()))
        .args(extra)
        .args(["-Wl,--no-as-needed", "-lm"]));
    out
}

/// Compile an executable linked against `lib`; returns its path.
pub fn build_exe(arch: &Arch, dir: &Path, lib: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let src = dir.join("main.c");
    std::fs::write(&src, MAIN_C).unwrap();
    let out = dir.join(name);
    run(Command::new(arch.cc)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .arg(lib)
        .args(extra));
    out
}

/// Compile a trivial program from `code` with extra flags.
pub fn build_program(arch: &Arch, dir: &Path, name: &str, code: &str, extra: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, code).unwrap();
    let out = dir.join(name);
    run(Command::new(arch.cc)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .args(extra));
    out
}

/// A dynamic symbol as `readelf --dyn-syms` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RSym {
    pub name: String,
    pub version: Option<String>,
    /// `@` rather than `@@` (only meaningful for defined symbols).
    pub single_at: bool,
    pub undefined: bool,
    pub bind: String,
    pub kind: String,
}

/// The facts `readelf --wide --dynamic --version-info --dyn-syms --notes -h -l` reports.
#[derive(Debug, Default)]
pub struct Readelf {
    pub header: BTreeMap<String, String>,
    pub interpreter: Option<String>,
    pub gnu_stack_flags: Option<String>,
    pub has_dynamic: bool,
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    pub verneed: Vec<(String, Vec<(String, bool)>)>,
    /// Offset of `.gnu.version_r` in the file and the relative offsets of each vernaux.
    pub verneed_offset: Option<u64>,
    pub vernaux_offsets: Vec<u64>,
    pub verdef: Vec<String>,
    pub dynsym_count: Option<usize>,
    pub dynsyms: Vec<RSym>,
    pub isa_needed: Option<u32>,
}

fn bracketed(s: &str) -> String {
    let a = s.find('[').expect("[") + 1;
    let b = s.rfind(']').expect("]");
    s[a..b].to_string()
}

fn split_path(s: &str) -> Vec<String> {
    s.split(':')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

fn isa_bits(list: &str) -> u32 {
    let mut bits = 0;
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        bits |= match name {
            "x86-64-baseline" => 1,
            "x86-64-v2" => 2,
            "x86-64-v3" => 4,
            "x86-64-v4" => 8,
            other => {
                let hex = other
                    .strip_prefix("<unknown: ")
                    .and_then(|s| s.strip_suffix('>'))
                    .unwrap_or_else(|| panic!("unknown ISA name {other:?}"));
                u32::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap()
            }
        };
    }
    bits
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("hex {s:?}"))
}

/// Run readelf on `path` and parse its output.
pub fn readelf(path: &Path) -> Readelf {
    let out = Command::new("readelf")
        .args([
            "--wide",
            "--dynamic",
            "--version-info",
            "--dyn-syms",
            "--notes",
            "-h",
            "-l",
        ])
        .arg(path)
        .output()
        .expect("readelf is installed");
    assert!(out.status.success(), "readelf failed on {}", path.display());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    parse_readelf(&text)
}

#[derive(PartialEq)]
enum Block {
    None,
    Header,
    Dynsym,
    VerNeed,
    VerDef,
    Other,
}

pub fn parse_readelf(text: &str) -> Readelf {
    let mut r = Readelf::default();
    let mut block = Block::None;
    for line in text.lines() {
        if line.starts_with("ELF Header:") {
            block = Block::Header;
            continue;
        }
        if line.starts_with("Symbol table '.dynsym'") {
            block = Block::Dynsym;
            let n: usize = line
                .split_whitespace()
                .rev()
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
            r.dynsym_count = Some(n);
            continue;
        }
        if line.starts_with("Version needs section") {
            block = Block::VerNeed;
            continue;
        }
        if line.starts_with("Version definition section") {
            block = Block::VerDef;
            continue;
        }
        if line.starts_with("Dynamic section at offset") {
            r.has_dynamic = true;
            block = Block::Other;
            continue;
        }
        if !line.starts_with(' ') && !line.starts_with('\t') && !line.is_empty() {
            block = Block::Other;
        }
        if line.is_empty() {
            block = Block::None;
            continue;
        }
        let t = line.trim();
        if let Some(i) = t.find("x86 ISA needed:") {
            let rest = &t[i + "x86 ISA needed:".len()..];
            r.isa_needed = Some(r.isa_needed.unwrap_or(0) | isa_bits(rest));
        }
        if t.starts_with("[Requesting program interpreter:") {
            let v = t
                .trim_start_matches("[Requesting program interpreter:")
                .trim()
                .trim_end_matches(']');
            r.interpreter = Some(v.to_string());
        }
        if t.starts_with("GNU_STACK ") {
            let toks: Vec<&str> = t.split_whitespace().collect();
            r.gnu_stack_flags = Some(toks[6..toks.len() - 1].concat());
        }
        if t.contains("(NEEDED)") {
            r.needed.push(bracketed(t));
        } else if t.contains("(SONAME)") {
            r.soname = Some(bracketed(t));
        } else if t.contains("(RPATH)") {
            r.rpath.extend(split_path(&bracketed(t)));
        } else if t.contains("(RUNPATH)") {
            r.runpath.extend(split_path(&bracketed(t)));
        }
        match block {
            Block::Header => {
                if let Some((k, v)) = t.split_once(':') {
                    r.header
                        .entry(k.trim().to_string())
                        .or_insert_with(|| v.trim().to_string());
                }
            }
            Block::VerNeed => {
                if let Some(rest) = t.strip_prefix("Addr:") {
                    let off = rest.split_whitespace().nth(2).unwrap();
                    r.verneed_offset = Some(hex(off));
                } else if t.contains("File: ") {
                    let file = t.split("File: ").nth(1).unwrap();
                    let file = file.split("  Cnt:").next().unwrap().trim();
                    r.verneed.push((file.to_string(), Vec::new()));
                } else if t.contains("Name: ") {
                    let rel = hex(t.split(':').next().unwrap());
                    r.vernaux_offsets.push(rel);
                    let rest = t.split("Name: ").nth(1).unwrap();
                    let (name, flags) = rest.split_once("  Flags: ").unwrap();
                    let weak = flags.contains("WEAK");
                    r.verneed
                        .last_mut()
                        .unwrap()
                        .1
                        .push((name.trim().to_string(), weak));
                }
            }
            Block::VerDef if t.contains("Index: ") => {
                let name = t.split("Name: ").nth(1).unwrap().trim();
                r.verdef.push(name.to_string());
            }
            Block::Dynsym => {
                if t.starts_with("Num:") {
                    continue;
                }
                let toks: Vec<&str> = t.split_whitespace().collect();
                let idx: usize = toks[0].trim_end_matches(':').parse().unwrap();
                if idx == 0 {
                    continue;
                }
                let kind = toks[3].to_string();
                let bind = toks[4].to_string();
                // toks[5] is the visibility; ppc64 may add "[<localentry>: N]".
                let mut i = 6;
                if toks[i].starts_with('[') {
                    while !toks[i].ends_with(']') {
                        i += 1;
                    }
                    i += 1;
                }
                let ndx = toks[i];
                let name_field = toks.get(i + 1).copied().unwrap_or("");
                let (name, version, single_at) = if let Some((n, v)) = name_field.split_once("@@") {
                    (n.to_string(), Some(v.to_string()), false)
                } else if let Some((n, v)) = name_field.split_once('@') {
                    (n.to_string(), Some(v.to_string()), true)
                } else {
                    (name_field.to_string(), None, false)
                };
                r.dynsyms.push(RSym {
                    name,
                    version,
                    single_at,
                    undefined: ndx == "UND",
                    bind,
                    kind,
                });
            }
            _ => {}
        }
    }
    r
}

fn machine_number(name: &str) -> u16 {
    match name {
        "Advanced Micro Devices X86-64" => 62,
        "Intel 80386" => 3,
        "AArch64" => 183,
        "PowerPC64" => 21,
        "IBM S/390" => 22,
        "ARM" => 40,
        "RISC-V" => 243,
        other => panic!("unknown readelf machine name {other:?}"),
    }
}

fn type_name(kind: u8) -> &'static str {
    match kind {
        0 => "NOTYPE",
        1 => "OBJECT",
        2 => "FUNC",
        3 => "SECTION",
        4 => "FILE",
        5 => "COMMON",
        6 => "TLS",
        10 => "IFUNC",
        _ => "?",
    }
}

fn bind_name(b: Binding) -> &'static str {
    match b {
        Binding::Local => "LOCAL",
        Binding::Global => "GLOBAL",
        Binding::Weak => "WEAK",
        Binding::Other(10) => "UNIQUE",
        Binding::Other(_) => "?",
    }
}

/// Compare everything `parse` reports with what readelf reports; panics on a difference.
pub fn compare_with_readelf(path: &Path, elf: &ElfFile) {
    let r = readelf(path);
    let ctx = path.display().to_string();
    let h = &r.header;
    let class = match h["Class"].as_str() {
        "ELF32" => Class::Elf32,
        "ELF64" => Class::Elf64,
        c => panic!("class {c}"),
    };
    assert_eq!(elf.header.class, class, "{ctx}: class");
    let endian = if h["Data"].contains("little endian") {
        Endian::Little
    } else {
        Endian::Big
    };
    assert_eq!(elf.header.endian, endian, "{ctx}: endian");
    assert_eq!(
        elf.header.machine,
        machine_number(&h["Machine"]),
        "{ctx}: machine"
    );
    let flags = h["Flags"].split(',').next().unwrap().trim();
    assert_eq!(u64::from(elf.header.flags), hex(flags), "{ctx}: flags");
    let elf_type = match h["Type"].split_whitespace().next().unwrap() {
        "REL" => 1,
        "EXEC" => 2,
        "DYN" => 3,
        "CORE" => 4,
        t => panic!("type {t}"),
    };
    assert_eq!(elf.header.elf_type, elf_type, "{ctx}: e_type");
    let osabi = match h["OS/ABI"].as_str() {
        "UNIX - System V" => 0,
        "UNIX - GNU" => 3,
        o => panic!("osabi {o}"),
    };
    assert_eq!(elf.header.osabi, osabi, "{ctx}: osabi");

    assert_eq!(elf.interpreter, r.interpreter, "{ctx}: interpreter");
    assert_eq!(
        elf.exec_stack,
        r.gnu_stack_flags.as_ref().map(|f| f.contains('E')),
        "{ctx}: exec stack"
    );
    assert_eq!(elf.is_dynamic, r.has_dynamic, "{ctx}: is_dynamic");
    assert_eq!(elf.needed, r.needed, "{ctx}: needed");
    assert_eq!(elf.soname, r.soname, "{ctx}: soname");
    assert_eq!(elf.rpath, r.rpath, "{ctx}: rpath");
    assert_eq!(elf.runpath, r.runpath, "{ctx}: runpath");
    let verneed: Vec<(String, Vec<(String, bool)>)> = elf
        .version_needs
        .iter()
        .map(|n| {
            (
                n.file.clone(),
                n.versions
                    .iter()
                    .map(|v| (v.name.clone(), v.weak))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(verneed, r.verneed, "{ctx}: version needs");
    assert_eq!(elf.version_defs, r.verdef, "{ctx}: version defs");
    assert_eq!(elf.x86_isa_needed, r.isa_needed, "{ctx}: x86 ISA needed");

    if let Some(n) = r.dynsym_count {
        assert_eq!(elf.dynamic_symbols.len() + 1, n, "{ctx}: dynsym count");
    } else {
        assert!(elf.dynamic_symbols.is_empty(), "{ctx}: no dynsym expected");
    }
    assert_eq!(elf.dynamic_symbols.len(), r.dynsyms.len(), "{ctx}: dynsyms");
    for (i, (s, rs)) in elf.dynamic_symbols.iter().zip(&r.dynsyms).enumerate() {
        let c = format!("{ctx}: dynsym {}: {s:?} vs {rs:?}", i + 1);
        if s.kind == 3 && s.name.is_empty() {
            // readelf shows the section's name for an unnamed STT_SECTION symbol.
            assert!(!rs.name.is_empty(), "{c}");
        } else {
            assert_eq!(s.name, rs.name, "{c}");
        }
        if !s.undefined && s.version.as_deref() == Some(s.name.as_str()) {
            // readelf omits the version of a version-definition symbol (`VERS_1@@VERS_1`).
            assert_eq!(rs.version, None, "{c}");
        } else {
            assert_eq!(s.version, rs.version, "{c}");
        }
        assert_eq!(s.undefined, rs.undefined, "{c}");
        assert_eq!(bind_name(s.binding), rs.bind, "{c}");
        assert_eq!(type_name(s.kind), rs.kind, "{c}");
        if s.version.is_some() {
            if s.undefined {
                assert!(s.version_file.is_some(), "{c}");
            } else if s.version_file.is_none() {
                // From verdef: `@@` is the default version, `@` a hidden one. (A defined symbol
                // versioned through verneed, e.g. a copy-relocated `stdin`, always shows `@`.)
                assert_eq!(s.version_hidden, rs.single_at, "{c}");
            }
        }
    }
}

/// A copy of an ELF file with the section header table reference removed
/// (e_shoff, e_shnum and e_shstrndx zeroed).
pub fn strip_section_headers(data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    let (shoff, shnum, shstrndx) = match d[4] {
        1 => (32..36, 48..50, 50..52),
        2 => (40..48, 60..62, 62..64),
        c => panic!("class {c}"),
    };
    for r in [shoff, shnum, shstrndx] {
        d[r].fill(0);
    }
    d
}

/// A deterministic xorshift64* generator for fuzzing.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
