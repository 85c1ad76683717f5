//! Where the rewritten tables go: in place when they fit, otherwise into one loadable segment
//! appended at the end of the file (reused by later patches).
//!
//! The program header table stays where it is (right after the ELF header, where the kernel,
//! old kernels' `AT_PHDR` computation and binutils expect it). A new PT_LOAD entry needs room
//! after it, which is made by moving the tables that follow it (interpreter name, notes, hash
//! tables, dynamic symbols, version tables) into the new segment and pointing their program
//! headers, dynamic entries and section headers there.

use super::buf::{add, align_up, slice, write_at};
use super::dynamic::{section_at, Dynamic, DT_STRSZ, DT_STRTAB};
use super::items::{Block, Kind};
use super::model::{
    Model, Phdr, PF_R, PF_W, PF_X, PT_LOAD, PT_NULL, PT_PHDR, SHT_DYNAMIC, SHT_STRTAB,
};
use super::{max_page_size, PatchError, SegmentChange};
use crate::Class;

/// What the layout needs besides the model: the planned dynamic entries and string table.
pub(crate) struct Plan<'a> {
    pub m: &'a Model,
    pub dy: &'a Dynamic,
    pub blocks: &'a [Block],
    /// The new dynamic entries without DT_NULL (DT_STRTAB and DT_STRSZ are set here).
    pub entries: Vec<(u64, u64)>,
    pub table: Vec<u8>,
    pub strtab_addr: u64,
    pub strtab_off: u64,
    pub old_strsz: u64,
    /// New sh_info for `.gnu.version_r` (its record count), when it changed.
    pub verneed_info: Option<(u64, u32)>,
    /// Address space to leave free after the last segment (see `apply`).
    pub margin: u64,
}

pub(crate) struct Outcome {
    pub data: Vec<u8>,
    pub segment: SegmentChange,
    pub dynamic_moved: bool,
    pub moved: Vec<Kind>,
}

/// The segment a previous patch appended: the last PT_LOAD, holding only known tables.
struct Ours {
    phdr: usize,
    /// Where the dynamic section and `.dynstr` (always last) start, or the segment end.
    prefix_end: u64,
    dynamic_inside: bool,
    strtab_inside: bool,
}

fn zeros(d: &[u8], from: u64, to: u64) -> bool {
    to >= from
        && to - from < 16
        && slice(d, from, to - from, "").is_ok_and(|s| s.iter().all(|&b| b == 0))
}

fn find_ours(m: &Model, d: &[u8], blocks: &[Block], base: u64) -> Option<Ours> {
    let idx = m.phdrs.iter().rposition(|p| p.kind == PT_LOAD)?;
    let p = m.phdrs[idx];
    if p.filesz == 0 || p.filesz != p.memsz || p.flags & PF_X != 0 {
        return None;
    }
    let (s, e) = (p.offset, p.file_end());
    let highest = m
        .phdrs
        .iter()
        .enumerate()
        .filter(|(j, q)| *j != idx && q.kind == PT_LOAD)
        .all(|(_, q)| q.mem_end() <= p.vaddr);
    if !highest || e > base || !zeros(d, e, base) {
        return None;
    }
    // Nothing else in the file from the segment on, except what lies inside it.
    let inside = |a: u64, b: u64| a >= s && b <= e;
    let others_before = m
        .phdrs
        .iter()
        .enumerate()
        .filter(|(j, q)| *j != idx && q.filesz > 0)
        .all(|(_, q)| inside(q.offset, q.file_end()) || q.file_end() <= s);
    let sections_before = m.shdrs.iter().all(|sh| {
        let (a, b) = sh.file_range();
        b <= a || inside(a, b) || b <= s
    });
    if !others_before || !sections_before {
        return None;
    }
    // Exactly covered by known tables (alignment gaps aside).
    let mut cur = s;
    let mut dynamic_inside = false;
    let mut strtab_inside = false;
    let mut prefix_end = e;
    let mut any = false;
    for b in blocks {
        if b.end <= s || b.off >= e {
            continue;
        }
        if !inside(b.off, b.end) || b.off < cur || !zeros(d, cur, b.off) {
            return None;
        }
        let tail = b.is_only(Kind::Dynamic) || b.is_only(Kind::Table(DT_STRTAB));
        if tail {
            prefix_end = prefix_end.min(b.off);
            dynamic_inside |= b.is_only(Kind::Dynamic);
            strtab_inside |= b.is_only(Kind::Table(DT_STRTAB));
        } else if b.contains(Kind::Dynamic)
            || b.contains(Kind::Table(DT_STRTAB))
            || b.off >= prefix_end
        {
            return None;
        }
        cur = b.end;
        any = true;
    }
    if !any || !zeros(d, cur, e) {
        return None;
    }
    // Every section inside lies inside one of the tables.
    let covered = m.shdrs.iter().all(|sh| {
        let (a, b) = sh.file_range();
        b <= a || !inside(a, b) || blocks.iter().any(|bl| a >= bl.off && b <= bl.end)
    });
    covered.then_some(Ours {
        phdr: idx,
        prefix_end,
        dynamic_inside,
        strtab_inside,
    })
}

/// Whether the section header table ends the file, and where appended content may start
/// (before that table, else at the end of the file).
fn content_end(m: &Model, file_len: u64) -> Result<(bool, u64), PatchError> {
    let sh_at_end = !m.shdrs.is_empty() && add(m.shoff, m.sh_size())? == file_len;
    Ok((sh_at_end, if sh_at_end { m.shoff } else { file_len }))
}

/// Whether `.dynstr` lies in a segment appended by an earlier patch (so it is rewritten anyway
/// and strings only that patch's entries used may be dropped from its end).
pub(crate) fn strtab_in_our_segment(m: &Model, d: &[u8], blocks: &[Block]) -> bool {
    content_end(m, d.len() as u64)
        .ok()
        .and_then(|(_, base)| find_ours(m, d, blocks, base))
        .is_some_and(|o| o.strtab_inside)
}

/// Whether `[a, b)` holds nothing: no section and no segment other than PT_LOAD/PT_PHDR; without
/// section headers only a short run of zero bytes counts as nothing.
fn gap_free(m: &Model, d: &[u8], a: u64, b: u64) -> bool {
    if b <= a {
        return true;
    }
    let overlaps = |x: u64, y: u64| y > x && x < b && a < y;
    let seg_free = m
        .phdrs
        .iter()
        .filter(|p| p.kind != PT_LOAD && p.kind != PT_PHDR)
        .all(|p| !overlaps(p.offset, p.file_end()));
    if !seg_free {
        return false;
    }
    if m.shdrs.is_empty() {
        return zeros(d, a, b);
    }
    m.shdrs.iter().all(|sh| {
        let (x, y) = sh.file_range();
        !overlaps(x, y)
    })
}

/// Check that every section and segment touching block `b` lies completely inside it.
fn self_contained(m: &Model, b: &Block) -> bool {
    let ok = |x: u64, y: u64| y <= x || y <= b.off || x >= b.end || (x >= b.off && y <= b.end);
    m.shdrs.iter().all(|sh| {
        let (x, y) = sh.file_range();
        ok(x, y)
    }) && m
        .phdrs
        .iter()
        .filter(|p| p.kind != PT_LOAD && p.kind != PT_PHDR)
        .all(|p| ok(p.offset, p.file_end()))
}

/// The blocks to move so that the program header table can grow by `need` bytes in place.
fn make_room(m: &Model, d: &[u8], blocks: &[Block], need: u64) -> Result<Vec<Block>, PatchError> {
    let no_room = |why: String| {
        PatchError::Unsupported(format!(
            "no room to add a program header after the table at {:#x}: {why}",
            m.phoff
        ))
    };
    let ph_end = add(m.phoff, m.ph_size())?;
    let need_end = add(ph_end, need)?;
    for l in m.loads() {
        if l.offset <= m.phoff && m.phoff < l.file_end() && need_end > l.file_end() {
            return Err(no_room("the segment holding it ends first".into()));
        }
    }
    let mut moved: Vec<Block> = Vec::new();
    let mut cur = ph_end;
    while cur < need_end {
        if let Some(b) = blocks.iter().find(|b| b.off < cur && b.end > cur) {
            return Err(no_room(format!("a table at {:#x} overlaps it", b.off)));
        }
        let next = blocks.iter().filter(|b| b.off >= cur).min_by_key(|b| b.off);
        let stop = next.map_or(need_end, |b| b.off.min(need_end));
        if !gap_free(m, d, cur, stop) {
            return Err(no_room(format!(
                "bytes at {cur:#x} belong to something that cannot be moved"
            )));
        }
        cur = stop;
        if cur >= need_end {
            break;
        }
        let Some(b) = next else { break };
        if !self_contained(m, b) {
            return Err(no_room(format!(
                "the table at {:#x} shares bytes with a section or segment",
                b.off
            )));
        }
        moved.push(b.clone());
        cur = b.end;
    }
    Ok(moved)
}

/// Symbols defined in a section that moved (section symbols, `_DYNAMIC`, `__abi_tag`, ...)
/// follow it, in `.symtab` and `.dynsym`, so that the file stays self-consistent.
fn fix_symbols(out: &mut [u8], old: &Model, new: &Model) -> Result<(), PatchError> {
    const SHT_SYMTAB: u32 = 2;
    const SHN_LORESERVE: u64 = 0xff00;
    const SHN_ABS: u64 = 0xfff1;
    let moves: Vec<(u64, u64, u64, u64)> = old
        .shdrs
        .iter()
        .zip(&new.shdrs)
        .enumerate()
        .filter(|(_, (a, b))| a.addr != b.addr)
        .map(|(i, (a, b))| (i as u64, a.addr, a.size, b.addr))
        .collect();
    // `_DYNAMIC` is often an absolute symbol: it follows the dynamic segment by name.
    let dynamic = |m: &Model| {
        m.phdrs
            .iter()
            .find(|p| p.kind == super::model::PT_DYNAMIC)
            .map(|p| p.vaddr)
    };
    let dyn_move = match (dynamic(old), dynamic(new)) {
        (Some(a), Some(b)) if a != b => Some((a, b)),
        _ => None,
    };
    if moves.is_empty() && dyn_move.is_none() {
        return Ok(());
    }
    let c = new.c;
    let (size, value_at, shndx_at) = match c.class {
        Class::Elf32 => (16, 4, 14),
        Class::Elf64 => (24, 8, 6),
    };
    for sh in new
        .shdrs
        .iter()
        .filter(|s| s.kind == SHT_SYMTAB || s.kind == super::model::SHT_DYNSYM)
    {
        let t = "symbol table";
        let names = new.shdrs.get(sh.link as usize).map(|s| s.offset);
        for i in 0..sh.size / size {
            let at = add(sh.offset, i * size)?;
            let shndx = u64::from(c.u16(out, at + shndx_at, t)?);
            let value = c.word(out, at + value_at, t)?;
            if let Some((_, to)) = dyn_move.filter(|&(from, _)| shndx == SHN_ABS && value == from) {
                let name = c.u32(out, at, t)?;
                let is_dynamic = names
                    .and_then(|o| add(o, name.into()).ok())
                    .and_then(|o| slice(out, o, 9, t).ok())
                    .is_some_and(|n| n == b"_DYNAMIC\0");
                if is_dynamic {
                    c.put_word(out, at + value_at, to, t)?;
                }
                continue;
            }
            if shndx == 0 || shndx >= SHN_LORESERVE {
                continue;
            }
            let Some(&(_, from, len, to)) = moves.iter().find(|mv| mv.0 == shndx) else {
                continue;
            };
            if value >= from && value - from <= len {
                c.put_word(out, at + value_at, value - from + to, t)?;
            }
        }
    }
    Ok(())
}

/// Apply the plan to `work` (the input with in-place table edits already made).
pub(crate) fn apply(mut work: Vec<u8>, plan: Plan<'_>) -> Result<Outcome, PatchError> {
    let old = plan.m;
    let mut m = old.clone();
    let c = m.c;
    let ws = c.ws();
    let file_len = work.len() as u64;
    let grew = plan.table.len() as u64 != plan.old_strsz; // resized, in fact
    let n_dyn = plan.entries.len() as u64 + 1;
    let dyn_fits = n_dyn <= plan.dy.slots;
    let dyn_ph = old.phdrs[plan.dy.phdr];
    let mut entries = plan.entries;
    let dynstr_section = section_at(old, plan.strtab_addr, Some(SHT_STRTAB));
    let dynamic_section = old
        .shdrs
        .iter()
        .position(|s| s.kind == SHT_DYNAMIC && s.addr == dyn_ph.vaddr);
    if let Some((addr, info)) = plan.verneed_info {
        if let Some(i) = section_at(old, addr, Some(super::model::SHT_GNU_VERNEED)) {
            m.shdrs[i].info = info;
        }
    }

    if !grew && dyn_fits {
        // Everything fits where it is.
        write_at(&mut work, plan.strtab_off, &plan.table, ".dynstr")?;
        let bytes = Dynamic::encode(c, &entries, plan.dy.slots)?;
        write_at(&mut work, dyn_ph.offset, &bytes, "dynamic section")?;
        if !m.shdrs.is_empty() && m.shdrs != old.shdrs {
            let raw = slice(&work, old.shoff, old.sh_size(), "section headers")?.to_vec();
            let enc = m.encode_shdrs(&raw)?;
            write_at(&mut work, m.shoff, &enc, "section headers")?;
        }
        return Ok(Outcome {
            data: work,
            segment: SegmentChange::None,
            dynamic_moved: false,
            moved: Vec::new(),
        });
    }

    let (sh_at_end, base) = content_end(old, file_len)?;
    let ours = find_ours(old, &work, plan.blocks, base);
    let (f, v, tail_start, segment);
    let mut seg: Vec<u8>;
    let mut moved: Vec<Block> = Vec::new();
    let (dyn_in_seg, str_in_seg);
    let page;
    match &ours {
        Some(o) => {
            let p = old.phdrs[o.phdr];
            f = p.offset;
            v = p.vaddr;
            page = p.align;
            tail_start = f;
            seg = slice(&work, f, o.prefix_end - f, "segment")?.to_vec();
            dyn_in_seg = o.dynamic_inside || !dyn_fits;
            str_in_seg = o.strtab_inside || grew;
            segment = SegmentChange::Reused;
        }
        None => {
            let mut d_in = !dyn_fits;
            let mut s_in = grew;
            if !m.phdrs.iter().any(|p| p.kind == PT_NULL) {
                for b in make_room(old, &work, plan.blocks, old.phentsize)? {
                    if b.is_only(Kind::Dynamic) {
                        d_in = true;
                    } else if b.is_only(Kind::Table(DT_STRTAB)) {
                        s_in = true;
                    } else if b.contains(Kind::Dynamic) || b.contains(Kind::Table(DT_STRTAB)) {
                        return Err(PatchError::Unsupported(
                            "the dynamic section or .dynstr overlaps another table".into(),
                        ));
                    } else {
                        moved.push(b);
                    }
                }
            }
            dyn_in_seg = d_in;
            str_in_seg = s_in;
            let align = moved.iter().map(|b| b.align).fold(ws, u64::max);
            f = align_up(base, align)?;
            page = old
                .loads()
                .map(|l| {
                    if l.align.is_power_of_two() {
                        l.align
                    } else {
                        1
                    }
                })
                .fold(max_page_size(old.machine), u64::max);
            // Above every segment, and at least the largest dynamic symbol's size above the
            // end of the last one: tools (eu-elflint) take an object's relocation to cover
            // `r_offset + st_size` and would otherwise see a read-only segment written to.
            let mem_end = old.loads().map(Phdr::mem_end).max().unwrap_or(0);
            let mem_end = add(mem_end, plan.margin)?;
            v = add(align_up(mem_end, page)?, f % page)?;
            tail_start = base;
            seg = Vec::new();
            segment = SegmentChange::Added;
        }
    }
    let addr_of = |off: u64| v + (off - f);

    // Moved tables, then the dynamic section, then .dynstr (last, so it can grow next time).
    let mut relocs: Vec<(Block, u64)> = Vec::new();
    for b in &moved {
        let at = align_up(f + seg.len() as u64, b.align)?;
        seg.resize((at - f) as usize, 0);
        seg.extend_from_slice(slice(&work, b.off, b.end - b.off, "moved table")?);
        relocs.push((b.clone(), at));
    }
    let slots = if dyn_in_seg { n_dyn } else { plan.dy.slots };
    let dyn_at = if dyn_in_seg {
        let at = align_up(f + seg.len() as u64, ws)?;
        seg.resize((at - f + slots * 2 * ws) as usize, 0);
        Some(at)
    } else {
        None
    };
    let str_at = if str_in_seg {
        let at = f + seg.len() as u64;
        seg.extend_from_slice(&plan.table);
        Some(at)
    } else {
        None
    };
    let seg_len = seg.len() as u64;
    let seg_end = add(v, seg_len)?;
    if c.class == Class::Elf32 && seg_end > u64::from(u32::MAX) {
        return Err(PatchError::Unsupported(
            "the new segment does not fit in a 32-bit address space".into(),
        ));
    }

    // Dynamic entries.
    let new_str_addr = str_at.map_or(plan.strtab_addr, addr_of);
    for e in entries.iter_mut() {
        match e.0 {
            DT_STRTAB => e.1 = new_str_addr,
            DT_STRSZ => e.1 = plan.table.len() as u64,
            tag => {
                for (b, at) in &relocs {
                    if b.contains(Kind::Table(tag)) && e.1 >= b.addr && e.1 - b.addr < b.end - b.off
                    {
                        e.1 = e.1 - b.addr + addr_of(*at);
                    }
                }
            }
        }
    }
    let dyn_bytes = Dynamic::encode(c, &entries, slots)?;
    match dyn_at {
        Some(at) => write_at(&mut seg, at - f, &dyn_bytes, "dynamic section")?,
        None => write_at(&mut work, dyn_ph.offset, &dyn_bytes, "dynamic section")?,
    }
    if !str_in_seg {
        write_at(&mut work, plan.strtab_off, &plan.table, ".dynstr")?;
    }

    // Program headers.
    for (i, p) in m.phdrs.iter_mut().enumerate() {
        if p.kind == PT_LOAD || p.kind == PT_PHDR || p.filesz == 0 {
            continue;
        }
        for (b, at) in &relocs {
            if p.offset >= b.off && p.file_end() <= b.end {
                let new_addr = addr_of(at + (p.offset - b.off));
                p.paddr = p.paddr.wrapping_add(new_addr.wrapping_sub(p.vaddr));
                p.vaddr = new_addr;
                p.offset = at + (p.offset - b.off);
            }
        }
        if i == plan.dy.phdr {
            if let Some(at) = dyn_at {
                p.offset = at;
                p.vaddr = addr_of(at);
                p.paddr = p.vaddr;
                p.filesz = slots * 2 * ws;
                p.memsz = p.filesz;
            }
        }
    }
    // Writable only when it holds the dynamic section (ld.so writes DT_DEBUG and, before glibc
    // 2.35, relocates the entries in place).
    let flags = PF_R | if dyn_in_seg { PF_W } else { 0 };
    match &ours {
        Some(o) => {
            let p = &mut m.phdrs[o.phdr];
            p.filesz = seg_len;
            p.memsz = seg_len;
            p.flags = flags;
        }
        None => {
            if let Some(i) = m.phdrs.iter().position(|p| p.kind == PT_NULL) {
                m.phdrs.remove(i);
            }
            let at = m
                .phdrs
                .iter()
                .rposition(|p| p.kind == PT_LOAD)
                .map_or(m.phdrs.len(), |i| i + 1);
            m.phdrs.insert(
                at,
                Phdr {
                    kind: PT_LOAD,
                    flags,
                    offset: f,
                    vaddr: v,
                    paddr: v,
                    filesz: seg_len,
                    memsz: seg_len,
                    align: page,
                },
            );
        }
    }
    let ph_size = m.ph_size();
    for p in m.phdrs.iter_mut().filter(|p| p.kind == PT_PHDR) {
        p.filesz = ph_size;
        p.memsz = ph_size;
    }

    // Section headers.
    for sh in m.shdrs.iter_mut() {
        let (x, y) = sh.file_range();
        if y <= x {
            continue;
        }
        for (b, at) in &relocs {
            if x >= b.off && y <= b.end {
                sh.offset = at + (x - b.off);
                sh.addr = addr_of(sh.offset);
            }
        }
    }
    if let (Some(i), Some(at)) = (dynamic_section, dyn_at) {
        let sh = &mut m.shdrs[i];
        sh.offset = at;
        sh.addr = addr_of(at);
        sh.size = slots * 2 * ws;
    }
    if let (Some(i), Some(at)) = (dynstr_section, str_at) {
        let sh = &mut m.shdrs[i];
        sh.offset = at;
        sh.addr = addr_of(at);
        sh.size = plan.table.len() as u64;
    }

    // Assemble: the kept part, the segment, the section header table.
    let old_shdrs = if old.shdrs.is_empty() {
        Vec::new()
    } else {
        slice(&work, old.shoff, old.sh_size(), "section headers")?.to_vec()
    };
    work.truncate(tail_start as usize);
    work.resize(f as usize, 0);
    work.extend_from_slice(&seg);
    if !m.shdrs.is_empty() {
        let enc = m.encode_shdrs(&old_shdrs)?;
        if sh_at_end {
            m.shoff = align_up(work.len() as u64, ws)?;
            work.resize(m.shoff as usize, 0);
            work.extend_from_slice(&enc);
        } else {
            write_at(&mut work, m.shoff, &enc, "section headers")?;
        }
    }
    let phdrs = m.encode_phdrs()?;
    write_at(&mut work, m.phoff, &phdrs, "program headers")?;
    m.write_ehdr(&mut work)?;
    fix_symbols(&mut work, old, &m)?;

    let mut moved_kinds: Vec<Kind> = moved.iter().flat_map(|b| b.kinds.clone()).collect();
    if dyn_in_seg && !ours.as_ref().is_some_and(|o| o.dynamic_inside) {
        moved_kinds.push(Kind::Dynamic);
    }
    if str_in_seg && !ours.as_ref().is_some_and(|o| o.strtab_inside) {
        moved_kinds.push(Kind::Table(DT_STRTAB));
    }
    Ok(Outcome {
        data: work,
        segment,
        dynamic_moved: dyn_at.is_some(),
        moved: moved_kinds,
    })
}
