//! Helpers for the patcher tests: cross-compiled fixtures, running them (natively or under
//! qemu-user), and what readelf / eu-elflint say about the results.
//!
//! Included by the `patch*` tests with `#[path = "patch_common.rs"] mod support;`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use manywheel_elf::{dynamic_strings, parse, patch, Patch, Patched};

/// One target: compiler, strip, how to run its programs.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub cc: &'static str,
    pub strip: &'static str,
    /// qemu-user binary; `None` runs natively.
    pub qemu: Option<&'static str>,
    /// The target's sysroot (`qemu -L`).
    pub sysroot: &'static str,
    pub machine: u16,
}

pub const X86_64: Target = Target {
    name: "x86_64",
    cc: "gcc",
    strip: "strip",
    qemu: None,
    sysroot: "/",
    machine: 62,
};
pub const I686: Target = Target {
    name: "i686",
    cc: "i686-linux-gnu-gcc",
    strip: "i686-linux-gnu-strip",
    qemu: Some("qemu-i386-static"),
    sysroot: "/usr/i686-linux-gnu",
    machine: 3,
};
pub const AARCH64: Target = Target {
    name: "aarch64",
    cc: "aarch64-linux-gnu-gcc",
    strip: "aarch64-linux-gnu-strip",
    qemu: Some("qemu-aarch64-static"),
    sysroot: "/usr/aarch64-linux-gnu",
    machine: 183,
};
pub const PPC64LE: Target = Target {
    name: "ppc64le",
    cc: "powerpc64le-linux-gnu-gcc",
    strip: "powerpc64le-linux-gnu-strip",
    qemu: Some("qemu-ppc64le-static"),
    sysroot: "/usr/powerpc64le-linux-gnu",
    machine: 21,
};
pub const S390X: Target = Target {
    name: "s390x",
    cc: "s390x-linux-gnu-gcc",
    strip: "s390x-linux-gnu-strip",
    qemu: Some("qemu-s390x-static"),
    sysroot: "/usr/s390x-linux-gnu",
    machine: 22,
};
pub const ARMV7L: Target = Target {
    name: "armv7l",
    cc: "arm-linux-gnueabihf-gcc",
    strip: "arm-linux-gnueabihf-strip",
    qemu: Some("qemu-arm-static"),
    sysroot: "/usr/arm-linux-gnueabihf",
    machine: 40,
};
pub const RISCV64: Target = Target {
    name: "riscv64",
    cc: "riscv64-linux-gnu-gcc",
    strip: "riscv64-linux-gnu-strip",
    qemu: Some("qemu-riscv64-static"),
    sysroot: "/usr/riscv64-linux-gnu",
    machine: 243,
};

fn works(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

impl Target {
    /// Whether the compiler (and qemu) are installed; prints a skip line when not.
    pub fn available(&self) -> bool {
        let mut ok = works(self.cc, "--version");
        if let Some(q) = self.qemu {
            ok &= works(q, "--version");
        }
        if !ok {
            eprintln!("SKIP {}: {} or qemu is not installed", self.name, self.cc);
        }
        ok
    }

    /// Compile `args` (sources and flags) into `out`.
    pub fn cc(&self, out: &Path, args: &[&str]) {
        run_ok(Command::new(self.cc).arg("-o").arg(out).args(args));
    }

    /// Run a program of this target; with `page` qemu emulates that page size.
    pub fn run(&self, exe: &Path, page: Option<u64>) -> Output {
        let mut cmd = match self.qemu {
            None => Command::new(exe),
            Some(q) => {
                let mut c = Command::new(q);
                if let Some(p) = page {
                    c.arg("-p").arg(p.to_string());
                }
                c.arg("-L").arg(self.sysroot).arg(exe);
                c
            }
        };
        cmd.env_remove("LD_LIBRARY_PATH");
        cmd.output()
            .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()))
    }

    /// Run `exe` and return its stdout; panics with its stderr when it fails.
    pub fn run_stdout(&self, exe: &Path, page: Option<u64>) -> String {
        let out = self.run(exe, page);
        assert!(
            out.status.success(),
            "{} ({}, page {page:?}) failed: {}\n{}",
            exe.display(),
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn strip_to(&self, input: &Path, out: &Path) {
        run_ok(Command::new(self.strip).arg("-o").arg(out).arg(input));
    }
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh, empty directory for one test.
pub fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("elf-patch")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Write an executable file (mode 0755).
pub fn write_exe(path: &Path, data: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Patch a file, panicking with context on error.
pub fn patched(path: &Path, p: &Patch) -> Patched {
    let data = std::fs::read(path).unwrap();
    patch(&data, p).unwrap_or_else(|e| panic!("patching {}: {e}", path.display()))
}

/// `readelf -a -W` prints no warning or error (stdout and stderr). Its exit status is not
/// looked at: without section headers it fails on ARM even for linker output (no unwind
/// tables to show).
pub fn assert_readelf_clean(path: &Path) {
    let out = Command::new("readelf")
        .args(["-a", "-W"])
        .arg(path)
        .output()
        .expect("readelf is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Warning") || l.contains("Error"))
        .collect();
    assert!(
        bad.is_empty(),
        "readelf -a -W {}:\n{}",
        path.display(),
        bad.join("\n")
    );
}

/// What `eu-elflint --gnu-ld` complains about (empty when it says "No errors").
pub fn elflint(path: &Path) -> Vec<String> {
    let out = Command::new("eu-elflint")
        .arg("--gnu-ld")
        .arg(path)
        .output()
        .expect("eu-elflint is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "No errors")
        .map(str::to_owned)
        .collect()
}

/// eu-elflint finds nothing in `patched` that it did not already find in `original`.
pub fn assert_no_new_lint(original: &Path, patched: &Path) {
    let before = elflint(original);
    let new: Vec<String> = elflint(patched)
        .into_iter()
        .filter(|l| !before.contains(l))
        .collect();
    assert!(
        new.is_empty(),
        "eu-elflint --gnu-ld {}: new complaints:\n{}",
        patched.display(),
        new.join("\n")
    );
}

/// DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH as `readelf -d` shows them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReadelfDyn {
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub rpath: Option<String>,
    pub runpath: Option<String>,
}

pub fn readelf_dynamic(path: &Path) -> ReadelfDyn {
    let out = run_ok(Command::new("readelf").args(["-d", "-W"]).arg(path));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut r = ReadelfDyn::default();
    let bracketed = |l: &str| {
        let a = l.find('[').unwrap() + 1;
        let b = l.rfind(']').unwrap();
        l[a..b].to_string()
    };
    for l in text.lines() {
        if l.contains("(NEEDED)") {
            r.needed.push(bracketed(l));
        } else if l.contains("(SONAME)") {
            r.soname = Some(bracketed(l));
        } else if l.contains("(RPATH)") {
            r.rpath = Some(bracketed(l));
        } else if l.contains("(RUNPATH)") {
            r.runpath = Some(bracketed(l));
        }
    }
    r
}

/// Our reading of the file (the reader and the raw strings) equals readelf's.
pub fn assert_matches_readelf(path: &Path) -> ReadelfDyn {
    let data = std::fs::read(path).unwrap();
    let elf = parse(&data).unwrap_or_else(|e| panic!("re-reading {}: {e}", path.display()));
    let raw = dynamic_strings(&data).unwrap();
    let r = readelf_dynamic(path);
    let ctx = path.display();
    assert_eq!(elf.needed, r.needed, "{ctx}: needed");
    assert_eq!(raw.needed, r.needed, "{ctx}: needed (raw)");
    assert_eq!(elf.soname, r.soname, "{ctx}: soname");
    assert_eq!(raw.soname, r.soname, "{ctx}: soname (raw)");
    assert_eq!(raw.rpath, r.rpath, "{ctx}: rpath");
    assert_eq!(raw.runpath, r.runpath, "{ctx}: runpath");
    let split = |s: &Option<String>| -> Vec<String> {
        s.iter()
            .flat_map(|s| s.split(':'))
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(elf.rpath, split(&r.rpath), "{ctx}: rpath (split)");
    assert_eq!(elf.runpath, split(&r.runpath), "{ctx}: runpath (split)");
    r
}

/// One program header as `readelf -lW` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seg {
    pub kind: String,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub flags: String,
    pub align: u64,
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("hex {s:?}"))
}

pub fn segments(path: &Path) -> Vec<Seg> {
    let out = run_ok(Command::new("readelf").args(["-l", "-W"]).arg(path));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut segs = Vec::new();
    for l in text.lines() {
        let t: Vec<&str> = l.split_whitespace().collect();
        if t.len() < 8 || !t[1].starts_with("0x") || !t[2].starts_with("0x") {
            continue;
        }
        // Type Offset VirtAddr PhysAddr FileSiz MemSiz Flg... Align
        let flags = t[6..t.len() - 1].concat();
        segs.push(Seg {
            kind: t[0].to_string(),
            offset: hex(t[1]),
            vaddr: hex(t[2]),
            filesz: hex(t[4]),
            memsz: hex(t[5]),
            flags,
            align: hex(t[t.len() - 1]),
        });
    }
    segs
}

pub fn loads(path: &Path) -> Vec<Seg> {
    segments(path)
        .into_iter()
        .filter(|s| s.kind == "LOAD")
        .collect()
}

/// The loader's rules for the program headers of a patched file, checked through readelf:
/// PT_LOAD sorted by address and not overlapping, offset ≡ address modulo the page size,
/// PT_PHDR (if any) inside a PT_LOAD, PT_DYNAMIC inside a writable PT_LOAD.
pub fn assert_segments_sane(path: &Path, page: u64) {
    let segs = segments(path);
    let loads: Vec<&Seg> = segs.iter().filter(|s| s.kind == "LOAD").collect();
    let ctx = path.display();
    for w in loads.windows(2) {
        let (a, b) = (w[0], w[1]);
        assert!(b.vaddr > a.vaddr, "{ctx}: PT_LOAD not sorted: {a:?} {b:?}");
        let a_end = (a.vaddr + a.memsz).div_ceil(page) * page;
        assert!(
            b.vaddr / page * page >= a_end,
            "{ctx}: PT_LOAD pages overlap: {a:?} {b:?}"
        );
    }
    for l in &loads {
        assert_eq!(
            l.offset % l.align.max(1),
            l.vaddr % l.align.max(1),
            "{ctx}: offset/address not congruent: {l:?}"
        );
    }
    let last = loads.last().unwrap();
    assert_eq!(last.offset % page, last.vaddr % page, "{ctx}: {last:?}");
    let inside = |s: &Seg, l: &Seg| {
        s.offset >= l.offset
            && s.offset + s.filesz <= l.offset + l.filesz
            && s.vaddr >= l.vaddr
            && s.vaddr - l.vaddr == s.offset - l.offset
    };
    for s in &segs {
        match s.kind.as_str() {
            "PHDR" | "INTERP" | "NOTE" | "GNU_PROPERTY" => {
                assert!(
                    loads.iter().any(|l| inside(s, l)),
                    "{ctx}: {s:?} not loaded"
                );
            }
            "DYNAMIC" => assert!(
                loads.iter().any(|l| inside(s, l) && l.flags.contains('W')),
                "{ctx}: {s:?} not in a writable PT_LOAD"
            ),
            _ => {}
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
