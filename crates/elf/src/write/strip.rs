//! Removing what a loader never reads: debugging sections and the static symbol table, the
//! effect of `strip -s` on a shared library (see [`strip`]).
//!
//! Only sections outside every segment are removed (never one with `SHF_ALLOC`), so the loaded
//! image is byte for byte the same. The file is cut after the last byte any segment or loaded
//! section covers; the non-loaded sections that are kept (`.comment`, `.shstrtab`, attribute
//! and note-like sections, `.gnu_debuglink`, ...) are copied after that point with their
//! alignment, followed by the new section header table.

use super::buf::{align_up, slice};
use super::model::{Model, Shdr, SHF_ALLOC, SHT_NOBITS, SHT_NULL};
use super::PatchError;
use crate::{Class, Error};

const SHT_SYMTAB: u32 = 2;
const SHT_RELA: u32 = 4;
const SHT_REL: u32 = 9;
const SHF_INFO_LINK: u64 = 0x40;
const SHN_XINDEX: u64 = 0xffff;

/// What [`strip`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripReport {
    /// The names of the removed sections, in file order (empty: the output equals the input).
    pub removed: Vec<String>,
    pub old_size: u64,
    pub new_size: u64,
}

impl StripReport {
    pub fn changed(&self) -> bool {
        !self.removed.is_empty()
    }

    /// Bytes saved.
    pub fn saved(&self) -> u64 {
        self.old_size.saturating_sub(self.new_size)
    }
}

/// The stripped file and what was removed.
#[derive(Debug, Clone)]
pub struct Stripped {
    pub data: Vec<u8>,
    pub report: StripReport,
}

/// Whether a section of this name only carries debugging information.
fn is_debug_name(name: &[u8]) -> bool {
    [
        &b".debug"[..],
        b".zdebug",
        b".gnu.debuglto_",
        b".stab",
        b".gnu.linkonce.wi.",
    ]
    .iter()
    .any(|p| name.starts_with(p))
        || name == b".line"
}

fn name_at(table: &[u8], off: u32) -> &[u8] {
    let rest = table.get(off as usize..).unwrap_or_default();
    &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())]
}

/// Remove the debugging sections (`.debug_*`, `.zdebug_*`, `.stab*`, ...) and the static
/// symbol table (`.symtab` with its string table and `.symtab_shndx`), plus relocation
/// sections that only apply to removed sections. Sections that are loaded are never touched;
/// a loaded section that refers to a removed one makes the file unsupported. A file without
/// such sections is returned unchanged (stripping is idempotent). `data` is not modified.
pub fn strip(data: &[u8]) -> Result<Stripped, PatchError> {
    crate::parse(data)?;
    let m = Model::read(data)?;
    let c = m.c;
    let old_size = data.len() as u64;
    let unchanged = || Stripped {
        data: data.to_vec(),
        report: StripReport {
            removed: Vec::new(),
            old_size,
            new_size: old_size,
        },
    };
    if m.shdrs.is_empty() {
        return Ok(unchanged());
    }
    let shstrndx_at = match c.class {
        Class::Elf32 => 50,
        Class::Elf64 => 62,
    };
    let mut shstrndx = u64::from(c.u16(data, shstrndx_at, "ELF header")?);
    let extended_shstrndx = shstrndx == SHN_XINDEX;
    if extended_shstrndx {
        shstrndx = u64::from(m.shdrs[0].link);
    }
    let shstrndx = usize::try_from(shstrndx).unwrap_or(usize::MAX);
    let names: &[u8] = match m.shdrs.get(shstrndx) {
        Some(s) if s.kind != SHT_NOBITS && s.kind != SHT_NULL => {
            slice(data, s.offset, s.size, "section names")?
        }
        _ => &[],
    };
    let n = m.shdrs.len();
    let loaded = |s: &Shdr| s.flags & SHF_ALLOC != 0;
    let mut remove = vec![false; n];
    for (i, s) in m.shdrs.iter().enumerate().skip(1) {
        if i == shstrndx || loaded(s) {
            continue;
        }
        if s.kind == SHT_SYMTAB || is_debug_name(name_at(names, s.name)) {
            remove[i] = true;
        }
    }
    // The string table of a removed .symtab goes too, unless something kept still uses it.
    for (i, s) in m.shdrs.iter().enumerate() {
        let l = s.link as usize;
        if remove[i] && s.kind == SHT_SYMTAB && l != 0 && l < n && l != shstrndx {
            let used = m
                .shdrs
                .iter()
                .enumerate()
                .any(|(j, t)| j != i && !remove[j] && t.link as usize == l);
            if !used && !loaded(&m.shdrs[l]) {
                remove[l] = true;
            }
        }
    }
    // Sections pointing at removed ones (relocations for them, .symtab_shndx) go as well; a
    // loaded one cannot.
    loop {
        let mut more = false;
        for (i, s) in m.shdrs.iter().enumerate().skip(1) {
            if remove[i] {
                continue;
            }
            let link = s.link as usize;
            let info_is_index =
                matches!(s.kind, SHT_REL | SHT_RELA) || s.flags & SHF_INFO_LINK != 0;
            let info = s.info as usize;
            let dangling = (link != 0 && link < n && remove[link])
                || (info_is_index && info != 0 && info < n && remove[info]);
            if !dangling {
                continue;
            }
            if loaded(s) || i == shstrndx {
                return Err(PatchError::Unsupported(format!(
                    "loaded section {} refers to the non-loaded section {}",
                    String::from_utf8_lossy(name_at(names, s.name)),
                    String::from_utf8_lossy(name_at(
                        names,
                        m.shdrs[if link < n && remove[link] { link } else { info }].name
                    ))
                )));
            }
            remove[i] = true;
            more = true;
        }
        if !more {
            break;
        }
    }
    if !remove.iter().any(|&r| r) {
        return Ok(unchanged());
    }

    // Where the loaded part of the file ends: nothing before it moves.
    let ehsize = match c.class {
        Class::Elf32 => 52,
        Class::Elf64 => 64,
    };
    let mut cut: u64 = ehsize.max(m.phoff + m.ph_size());
    for p in &m.phdrs {
        if p.filesz > 0 {
            cut = cut.max(p.file_end());
        }
    }
    for s in m.shdrs.iter().filter(|s| loaded(s)) {
        cut = cut.max(s.file_range().1);
    }
    // Kept non-loaded sections that start before the cut stay where they are.
    let kept: Vec<usize> = (0..n).filter(|&i| !remove[i]).collect();
    let mut by_offset: Vec<usize> = kept.iter().copied().filter(|&i| i != 0).collect();
    by_offset.sort_by_key(|&i| (m.shdrs[i].offset, i));
    let mut moved: Vec<usize> = Vec::new();
    for &i in &by_offset {
        let s = &m.shdrs[i];
        if loaded(s) {
            continue;
        }
        if s.offset < cut {
            cut = cut.max(s.file_range().1);
        } else {
            moved.push(i);
        }
    }
    let cut_usize = usize::try_from(cut).map_err(|_| Error::Truncated("file"))?;
    let mut out = data
        .get(..cut_usize)
        .ok_or(Error::Truncated("file"))?
        .to_vec();
    let mut new_shdrs: Vec<Shdr> = m.shdrs.clone();
    for &i in &moved {
        let s = m.shdrs[i];
        let at = align_up(out.len() as u64, s.addralign)?;
        out.resize(at as usize, 0);
        new_shdrs[i].offset = at;
        let (a, b) = s.file_range();
        out.extend_from_slice(slice(data, a, b - a, "section")?);
    }
    // The new section header table, entries renumbered.
    let mut index = vec![0u32; n];
    for (new, &old) in kept.iter().enumerate() {
        index[old] = new as u32;
    }
    let renumber = |v: u32| -> u32 {
        let v = v as usize;
        if v != 0 && v < n {
            index[v]
        } else {
            v as u32
        }
    };
    let old_table = slice(data, m.shoff, m.sh_size(), "section headers")?;
    let mut table_bytes = Vec::with_capacity(kept.len() * m.shentsize as usize);
    let mut shdrs = Vec::with_capacity(kept.len());
    for &i in &kept {
        let mut s = new_shdrs[i];
        if i != 0 {
            s.link = renumber(s.link);
            if matches!(s.kind, SHT_REL | SHT_RELA) || s.flags & SHF_INFO_LINK != 0 {
                s.info = renumber(s.info);
            }
        }
        shdrs.push(s);
        let e = i * m.shentsize as usize;
        table_bytes.extend_from_slice(&old_table[e..e + m.shentsize as usize]);
    }
    let new_shstrndx = index[shstrndx.min(n - 1)] as u64;
    let mut nm = m.clone();
    nm.shdrs = shdrs;
    if nm.shnum_extended {
        nm.shdrs[0].size = nm.shdrs.len() as u64;
    }
    let big_index = new_shstrndx >= 0xff00;
    if big_index {
        nm.shdrs[0].link = new_shstrndx as u32;
    } else if extended_shstrndx {
        nm.shdrs[0].link = 0;
    }
    let sh_at = align_up(out.len() as u64, c.ws())?;
    out.resize(sh_at as usize, 0);
    nm.shoff = sh_at;
    out.extend_from_slice(&nm.encode_shdrs(&table_bytes)?);
    nm.write_ehdr(&mut out)?;
    c.put_u16(
        &mut out,
        shstrndx_at,
        if big_index {
            SHN_XINDEX as u16
        } else {
            new_shstrndx as u16
        },
        "ELF header",
    )?;
    crate::parse(&out)?;
    let removed = (0..n)
        .filter(|&i| remove[i])
        .map(|i| String::from_utf8_lossy(name_at(names, m.shdrs[i].name)).into_owned())
        .collect();
    let new_size = out.len() as u64;
    Ok(Stripped {
        data: out,
        report: StripReport {
            removed,
            old_size,
            new_size,
        },
    })
}
