//! The tables the patcher knows every reference to, so it may move them: the interpreter
//! name, note segments, the dynamic section and the tables the dynamic section points at.

use super::buf::{add, Codec};
use super::dynamic::{
    dynsym_count, gnu_hash_size, hash_size, section_at, sym_size, Dynamic, DT_GNU_HASH, DT_HASH,
    DT_STRSZ, DT_STRTAB, DT_SYMTAB, DT_VERDEF, DT_VERNEED, DT_VERSYM,
};
use super::model::{Model, PT_DYNAMIC, PT_INTERP, PT_NOTE};
use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// PT_INTERP contents.
    Interp,
    /// The range of a PT_NOTE segment.
    Note,
    /// The table a dynamic entry with this tag points at.
    Table(u64),
    /// The dynamic section.
    Dynamic,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Item {
    pub kind: Kind,
    pub off: u64,
    pub addr: u64,
    pub size: u64,
    pub align: u64,
}

/// Overlapping items, moved together.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub off: u64,
    pub end: u64,
    pub addr: u64,
    pub align: u64,
    pub kinds: Vec<Kind>,
}

impl Block {
    pub fn is_only(&self, k: Kind) -> bool {
        self.kinds == [k]
    }

    pub fn contains(&self, k: Kind) -> bool {
        self.kinds.contains(&k)
    }
}

/// The section type of the table a dynamic entry points at.
fn section_type(tag: u64) -> u32 {
    match tag {
        DT_STRTAB => 3,
        DT_SYMTAB => 11,
        DT_HASH => 5,
        DT_GNU_HASH => 0x6fff_fff6,
        DT_VERSYM => 0x6fff_ffff,
        DT_VERNEED => 0x6fff_fffe,
        _ => 0x6fff_fffd,
    }
}

fn pow2(a: u64) -> u64 {
    if a.is_power_of_two() {
        a
    } else {
        1
    }
}

/// Every movable item whose size is known.
pub(crate) fn items(m: &Model, d: &[u8], dy: &Dynamic) -> Result<Vec<Item>, Error> {
    let mut out = Vec::new();
    for p in &m.phdrs {
        let kind = match p.kind {
            PT_INTERP => Kind::Interp,
            PT_NOTE => Kind::Note,
            PT_DYNAMIC => Kind::Dynamic,
            _ => continue,
        };
        if p.filesz == 0 {
            continue;
        }
        out.push(Item {
            kind,
            off: p.offset,
            addr: p.vaddr,
            size: p.filesz,
            align: if kind == Kind::Interp {
                1
            } else {
                pow2(p.align)
            },
        });
    }
    let c: Codec = m.c;
    let count = dynsym_count(m, d, dy)?;
    for tag in [
        DT_STRTAB,
        DT_SYMTAB,
        DT_HASH,
        DT_GNU_HASH,
        DT_VERSYM,
        DT_VERNEED,
        DT_VERDEF,
    ] {
        let Some(addr) = dy.get(tag) else { continue };
        let Ok((off, avail)) = m.addr_to_offset(addr) else {
            continue;
        };
        let section = section_at(m, addr, Some(section_type(tag))).map(|i| m.shdrs[i]);
        let computed = match tag {
            DT_STRTAB => dy.get(DT_STRSZ),
            DT_SYMTAB => count.map(|n| n * sym_size(c.class)),
            DT_VERSYM => count.map(|n| n * 2),
            DT_HASH => hash_size(m, d, off).ok(),
            DT_GNU_HASH => match count {
                Some(n) => gnu_hash_size(c, d, off, n).ok(),
                None => None,
            },
            DT_VERNEED => super::dynamic::read_verneed(m, d, dy)
                .ok()
                .map(|t| t.end - t.start),
            _ => super::dynamic::read_verdef(m, d, dy)
                .ok()
                .flatten()
                .map(|(_, s, e)| e - s),
        };
        // The section header is authoritative when there is one, except for `.dynstr`, whose
        // size the dynamic section states.
        let size = match (tag, section) {
            (DT_STRTAB, _) | (_, None) => computed,
            (_, Some(s)) => Some(s.size),
        };
        let Some(size) = size.filter(|&s| s > 0 && s <= avail) else {
            continue;
        };
        let default_align = match tag {
            DT_STRTAB => 1,
            DT_VERSYM => 2,
            DT_HASH => 4,
            _ => c.ws(),
        };
        out.push(Item {
            kind: Kind::Table(tag),
            off,
            addr,
            size,
            align: section.map_or(default_align, |s| pow2(s.addralign).max(1)),
        });
    }
    out.sort_by_key(|i| (i.off, i.size));
    Ok(out)
}

/// Merge overlapping items into blocks, in file order. Items that overlap without sharing
/// one address-to-offset mapping are left out (they cannot move as one).
pub(crate) fn blocks(items: &[Item]) -> Result<Vec<Block>, Error> {
    let mut out: Vec<Block> = Vec::new();
    for it in items {
        let end = add(it.off, it.size)?;
        match out.last_mut() {
            Some(b) if it.off < b.end => {
                if it.addr.wrapping_sub(b.addr) != it.off - b.off {
                    return Err(Error::Malformed(
                        "overlapping tables with different load addresses".into(),
                    ));
                }
                b.end = b.end.max(end);
                b.align = b.align.max(it.align);
                b.kinds.push(it.kind);
            }
            _ => out.push(Block {
                off: it.off,
                end,
                addr: it.addr,
                align: it.align.max(1),
                kinds: vec![it.kind],
            }),
        }
    }
    Ok(out)
}
