//! Patching hand-built shared objects for architectures without a cross compiler here
//! (ppc64 big-endian, loongarch64, 32-bit big-endian PowerPC), and layouts linkers rarely
//! produce: a spare PT_NULL program header, and something unmovable right after the program
//! header table. readelf and eu-elflint judge the results; our reader must agree with readelf.

#[path = "patch_common.rs"]
mod support;

use std::path::Path;

use manywheel_elf::{
    max_page_size, parse, patch, Patch, PatchError, RpathChange, RpathKind, SegmentChange,
};
use support::*;

#[derive(Clone, Copy)]
struct Spec {
    is64: bool,
    big: bool,
    machine: u16,
    flags: u32,
    /// Add a PT_NULL program header (a free slot).
    pt_null: bool,
    /// Put an allocated section the patcher cannot move right after the program headers.
    blocker: bool,
}

/// Little byte writer for either byte order and word size.
struct W {
    big: bool,
    is64: bool,
    buf: Vec<u8>,
}

impl W {
    fn put(&mut self, off: usize, n: usize, v: u64) {
        if self.buf.len() < off + n {
            self.buf.resize(off + n, 0);
        }
        for i in 0..n {
            let shift = if self.big { 8 * (n - 1 - i) } else { 8 * i };
            self.buf[off + i] = (v >> shift) as u8;
        }
    }
    fn word(&mut self, off: usize, v: u64) {
        let n = if self.is64 { 8 } else { 4 };
        self.put(off, n, v);
    }
    fn bytes(&mut self, off: usize, b: &[u8]) {
        if self.buf.len() < off + b.len() {
            self.buf.resize(off + b.len(), 0);
        }
        self.buf[off..off + b.len()].copy_from_slice(b);
    }
}

fn align(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

const PAGE: usize = 0x10000;

/// A minimal shared object: `libsynth.so.1` needing `libc.so.6`, one defined symbol, DT_HASH,
/// a dynamic section without spare entries followed by some data, section headers.
fn synth(s: Spec) -> Vec<u8> {
    let (ehsize, phent, shent, symsize, dynent) = if s.is64 {
        (64, 56, 64, 24, 16)
    } else {
        (52, 32, 40, 16, 8)
    };
    let ws = if s.is64 { 8 } else { 4 };
    let mut w = W {
        big: s.big,
        is64: s.is64,
        buf: Vec::new(),
    };
    let phnum = 4 + usize::from(s.pt_null);
    let ph_end = ehsize + phnum * phent;
    let blocker = if s.blocker { Some((ph_end, 64)) } else { None };
    let hash_off = align(blocker.map_or(ph_end, |(o, n)| o + n), 8);
    let hash_size = 4 * (2 + 1 + 2);
    let dynsym_off = align(hash_off + hash_size, 8);
    let dynstr_off = dynsym_off + 2 * symsize;
    let dynstr = b"\0libc.so.6\0libsynth.so.1\0foo_value\0";
    let (needed, soname, symname) = (1u64, 11u64, 25u64);
    let r_end = dynstr_off + dynstr.len();
    let dyn_off = align(r_end, 16);
    let dyn_addr = dyn_off + PAGE;
    let dyn_entries: [(u64, u64); 8] = [
        (1, needed),
        (14, soname),
        (4, hash_off as u64),
        (5, dynstr_off as u64),
        (6, dynsym_off as u64),
        (10, dynstr.len() as u64),
        (11, symsize as u64),
        (0, 0),
    ];
    let dyn_size = dyn_entries.len() * dynent;
    let shstr = b"\0.hash\0.dynsym\0.dynstr\0.dynamic\0.shstrtab\0.payload\0.data\0";
    // 16 bytes of .data after the dynamic section, in the writable segment.
    let data_off = dyn_off + dyn_size;
    let rw_size = dyn_size + 16;
    let shstr_off = data_off + 16;
    let shoff = align(shstr_off + shstr.len(), 8);
    let shnum = 7 + usize::from(s.blocker);

    // ELF header.
    w.bytes(0, b"\x7fELF");
    w.bytes(
        4,
        &[if s.is64 { 2 } else { 1 }, if s.big { 2 } else { 1 }, 1],
    );
    w.put(16, 2, 3);
    w.put(18, 2, s.machine.into());
    w.put(20, 4, 1);
    let (phoff_at, shoff_at, flags_at, ehsize_at) = if s.is64 {
        (32, 40, 48, 52)
    } else {
        (28, 32, 36, 40)
    };
    w.word(phoff_at, ehsize as u64);
    w.word(shoff_at, shoff as u64);
    w.put(flags_at, 4, s.flags.into());
    for (i, v) in [ehsize, phent, phnum, shent, shnum, 5]
        .into_iter()
        .enumerate()
    {
        w.put(ehsize_at + 2 * i, 2, v as u64);
    }
    // Program headers: (type, flags, offset, vaddr, size, align).
    let mut ph = vec![
        (1u32, 4u32, 0usize, 0usize, r_end, PAGE),
        (1, 6, dyn_off, dyn_addr, rw_size, PAGE),
        (2, 6, dyn_off, dyn_addr, dyn_size, ws),
        (0x6474_e551, 6, 0, 0, 0, 16),
    ];
    if s.pt_null {
        ph.push((0, 0, 0, 0, 0, 0));
    }
    for (i, &(kind, flags, off, addr, size, al)) in ph.iter().enumerate() {
        let o = ehsize + i * phent;
        w.put(o, 4, kind.into());
        if s.is64 {
            w.put(o + 4, 4, flags.into());
            w.word(o + 8, off as u64);
            w.word(o + 16, addr as u64);
            w.word(o + 24, addr as u64);
            w.word(o + 32, size as u64);
            w.word(o + 40, size as u64);
            w.word(o + 48, al as u64);
        } else {
            w.word(o + 4, off as u64);
            w.word(o + 8, addr as u64);
            w.word(o + 12, addr as u64);
            w.word(o + 16, size as u64);
            w.word(o + 20, size as u64);
            w.put(o + 24, 4, flags.into());
            w.word(o + 28, al as u64);
        }
    }
    if let Some((o, n)) = blocker {
        w.bytes(o, &vec![0xcc; n]);
    }
    // .hash: one bucket, symbol 1 in it.
    for (i, v) in [1u64, 2, 1, 0, 0].into_iter().enumerate() {
        w.put(hash_off + 4 * i, 4, v);
    }
    // .dynsym: null symbol, then foo_value (global function, absolute).
    let sym = dynsym_off + symsize;
    w.put(sym, 4, symname);
    if s.is64 {
        w.put(sym + 4, 1, 0x12);
        w.put(sym + 6, 2, 0xfff1);
        w.word(sym + 8, 0x1234);
    } else {
        w.word(sym + 4, 0x1234);
        w.put(sym + 12, 1, 0x12);
        w.put(sym + 14, 2, 0xfff1);
    }
    w.bytes(dynstr_off, dynstr);
    for (i, &(tag, val)) in dyn_entries.iter().enumerate() {
        w.word(dyn_off + i * dynent, tag);
        w.word(dyn_off + i * dynent + ws, val);
    }
    w.bytes(data_off, &[0x5a; 16]);
    w.bytes(shstr_off, shstr);
    // Section headers: (name, type, flags, addr, offset, size, link, info, align, entsize).
    let mut sh = vec![
        (
            0u32, 0u32, 0u64, 0usize, 0usize, 0usize, 0u32, 0u32, 0usize, 0usize,
        ),
        (1, 5, 2, hash_off, hash_off, hash_size, 2, 0, 8, 4),
        (
            7,
            11,
            2,
            dynsym_off,
            dynsym_off,
            2 * symsize,
            3,
            1,
            8,
            symsize,
        ),
        (15, 3, 2, dynstr_off, dynstr_off, dynstr.len(), 0, 0, 1, 0),
        (23, 6, 3, dyn_addr, dyn_off, dyn_size, 3, 0, 8, dynent),
        (32, 3, 0, 0, shstr_off, shstr.len(), 0, 0, 1, 0),
        (51, 1, 3, dyn_addr + dyn_size, data_off, 16, 0, 0, 8, 0),
    ];
    if let Some((o, n)) = blocker {
        sh.push((42, 1, 2, o, o, n, 0, 0, 1, 0));
    }
    for (i, &(name, kind, flags, addr, off, size, link, info, al, ent)) in sh.iter().enumerate() {
        let o = shoff + i * shent;
        w.put(o, 4, name.into());
        w.put(o + 4, 4, kind.into());
        if s.is64 {
            w.word(o + 8, flags);
            w.word(o + 16, addr as u64);
            w.word(o + 24, off as u64);
            w.word(o + 32, size as u64);
            w.put(o + 40, 4, link.into());
            w.put(o + 44, 4, info.into());
            w.word(o + 48, al as u64);
            w.word(o + 56, ent as u64);
        } else {
            w.word(o + 8, flags);
            w.word(o + 12, addr as u64);
            w.word(o + 16, off as u64);
            w.word(o + 20, size as u64);
            w.put(o + 24, 4, link.into());
            w.put(o + 28, 4, info.into());
            w.word(o + 32, al as u64);
            w.word(o + 36, ent as u64);
        }
    }
    w.buf
}

const PPC64: Spec = Spec {
    is64: true,
    big: true,
    machine: 21,
    flags: 1,
    pt_null: false,
    blocker: false,
};
const LOONGARCH64: Spec = Spec {
    is64: true,
    big: false,
    machine: 258,
    flags: 0x43,
    pt_null: false,
    blocker: false,
};
const PPC32: Spec = Spec {
    is64: false,
    big: true,
    machine: 20,
    flags: 0,
    pt_null: false,
    blocker: false,
};

fn repair() -> Patch {
    Patch {
        set_soname: Some("libsynth-0123abcd0123abcd.so.1".into()),
        replace_needed: vec![("libc.so.6".into(), "libc-fake-0123abcd.so.6".into())],
        set_rpath: Some(RpathChange::Set {
            path: "$ORIGIN/../synth.libs".into(),
            kind: RpathKind::Rpath,
        }),
        ..Patch::default()
    }
}

fn check_patched(dir: &Path, name: &str, original: &[u8], out: &[u8], machine: u16) {
    let orig = dir.join(format!("{name}.orig"));
    let path = dir.join(name);
    std::fs::write(&orig, original).unwrap();
    std::fs::write(&path, out).unwrap();
    assert_readelf_clean(&orig);
    assert_readelf_clean(&path);
    assert_no_new_lint(&orig, &path);
    assert_segments_sane(&path, max_page_size(machine));
    let r = assert_matches_readelf(&path);
    assert_eq!(r.soname.as_deref(), Some("libsynth-0123abcd0123abcd.so.1"));
    assert_eq!(r.needed, ["libc-fake-0123abcd.so.6"]);
    assert_eq!(r.rpath.as_deref(), Some("$ORIGIN/../synth.libs"));
    let elf = parse(out).unwrap();
    assert_eq!(elf.dynamic_symbols.len(), 1);
    assert_eq!(elf.dynamic_symbols[0].name, "foo_value");
}

fn suite(name: &str, spec: Spec) {
    let dir = work_dir(&format!("synthetic-{name}"));
    let data = synth(spec);
    let elf = parse(&data).unwrap();
    assert_eq!(elf.header.machine, spec.machine);
    assert_eq!(elf.soname.as_deref(), Some("libsynth.so.1"));
    assert_eq!(elf.needed, ["libc.so.6"]);

    // With and without section headers.
    for (variant, input) in [
        ("full", data.clone()),
        ("noshdr", strip_section_headers(&data)),
    ] {
        let out = patch(&input, &repair()).unwrap_or_else(|e| panic!("{name} {variant}: {e}"));
        let r = &out.report;
        assert_eq!(r.segment, SegmentChange::Added, "{name} {variant}: {r:?}");
        assert!(r.dynamic_moved, "{name}: no spare dynamic entry: {r:?}");
        assert!(r.growth() > 0 && r.growth() < 1024, "{name}: {r:?}");
        check_patched(
            &dir,
            &format!("{variant}.so"),
            &input,
            &out.data,
            spec.machine,
        );
        // Idempotent.
        let again = patch(&out.data, &repair()).unwrap();
        assert!(!again.report.changed() && again.data == out.data);
        // A second, longer rename reuses the segment.
        let more = patch(
            &out.data,
            &Patch {
                set_soname: Some("libsynth-0123abcd0123abcd0123abcd.so.1".into()),
                ..Patch::default()
            },
        )
        .unwrap();
        assert_eq!(
            more.report.segment,
            SegmentChange::Reused,
            "{:?}",
            more.report
        );
        // The new name only (the old one is not at the end of the table: it stays).
        assert!(more.report.growth() <= 40 + 8, "{:?}", more.report);
        let p = dir.join(format!("{variant}-more.so"));
        std::fs::write(&p, &more.data).unwrap();
        assert_readelf_clean(&p);
        assert_segments_sane(&p, max_page_size(spec.machine));
        assert_matches_readelf(&p);
    }
}

#[test]
fn synthetic_ppc64_big_endian() {
    suite("ppc64", PPC64);
}

#[test]
fn synthetic_loongarch64() {
    suite("loongarch64", LOONGARCH64);
}

#[test]
fn synthetic_ppc32_big_endian() {
    suite("ppc32", PPC32);
}

#[test]
fn spare_pt_null_is_used() {
    for (name, base) in [("ppc64", PPC64), ("loongarch64", LOONGARCH64)] {
        // An unmovable section right after the program headers, but a PT_NULL slot: nothing
        // has to move, the slot becomes the new PT_LOAD (placed after the other PT_LOADs).
        let spec = Spec {
            pt_null: true,
            blocker: true,
            ..base
        };
        let data = synth(spec);
        let out = patch(&data, &repair()).unwrap();
        assert_eq!(out.report.segment, SegmentChange::Added);
        assert!(!out.report.moved.contains(&".hash"), "{:?}", out.report);
        let dir = work_dir(&format!("synthetic-null-{name}"));
        check_patched(&dir, "null.so", &data, &out.data, spec.machine);
        let segs = segments(&dir.join("null.so"));
        assert_eq!(segs.len(), 5, "{segs:?}");
        assert!(segs.iter().all(|s| s.kind != "NULL"), "{segs:?}");
    }
}

#[test]
fn no_room_for_a_program_header_is_an_error() {
    let spec = Spec {
        blocker: true,
        ..LOONGARCH64
    };
    let data = synth(spec);
    match patch(&data, &repair()) {
        Err(PatchError::Unsupported(msg)) => assert!(msg.contains("program header"), "{msg}"),
        other => panic!("expected an error, got {:?}", other.map(|o| o.report)),
    }
    // What fits in place still works.
    let out = patch(
        &data,
        &Patch {
            set_soname: Some("libs.so.1".into()),
            ..Patch::default()
        },
    )
    .unwrap();
    assert_eq!(out.report.segment, SegmentChange::None);
    assert_eq!(out.data.len(), data.len());
    assert_eq!(
        parse(&out.data).unwrap().soname.as_deref(),
        Some("libs.so.1")
    );
}
