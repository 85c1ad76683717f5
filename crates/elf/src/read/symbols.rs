//! `.dynsym`: how many entries it has and what they are.

use super::bytes::Bytes;
use super::dynamic::{sym_size, DynInfo, StrTab, VersionIndex};
use super::{addr_to_offset, Section, Segment};
use crate::{Binding, Class, DynSymbol, Error, Header};

const EM_S390: u16 = 22;
const EM_ALPHA: u16 = 0x9026;

/// Where `.dynsym` is and what can be used to tell its size.
struct Ctx<'a, 'b> {
    b: Bytes<'a>,
    header: &'b Header,
    segments: &'b [Segment],
    info: &'b DynInfo,
    symtab: u64,
    strtab: StrTab<'a>,
    versym: Option<Bytes<'a>>,
    versions: &'b VersionIndex,
}

/// Number of `.dynsym` entries (index 0 included).
fn dynsym_count(c: &Ctx<'_, '_>, sections: &[Section]) -> Result<u64, Error> {
    let entsize = sym_size(c.b.class);
    // 1. The section header, preferring the one at DT_SYMTAB.
    let section = sections
        .iter()
        .find(|s| s.addr == c.symtab)
        .or_else(|| sections.first());
    if let Some(s) = section {
        let e = if s.entsize == 0 { entsize } else { s.entsize };
        return Ok(s.size / e);
    }
    // 2. DT_HASH: nchain is the number of symbols.
    if let Some(addr) = c.info.hash {
        let (off, _) = addr_to_offset(c.segments, addr)?;
        let trunc = Error::Truncated("DT_HASH table");
        let h = c.b.at(off).ok_or(trunc.clone())?;
        // 64-bit s390 and Alpha use 8-byte hash table entries.
        let wide = c.b.class == Class::Elf64 && matches!(c.header.machine, EM_S390 | EM_ALPHA);
        return if wide {
            h.u64(8).ok_or(trunc)
        } else {
            h.u32(4).map(u64::from).ok_or(trunc)
        };
    }
    // 3. DT_GNU_HASH: walk to the highest hashed symbol index.
    let mut lower = 0;
    if let Some(addr) = c.info.gnu_hash {
        let (off, _) = addr_to_offset(c.segments, addr)?;
        match gnu_hash_count(c.b, off)? {
            GnuCount::Exact(n) => return Ok(n),
            GnuCount::AtLeast(n) => lower = n,
        }
    }
    // 4. MIPS records the count in the dynamic section.
    if let Some(n) = c.info.mips_symtabno {
        return Ok(n);
    }
    // 5. No hashed symbols (or no hash table): every symbol a relocation uses exists, and
    //    unhashed undefined symbols may follow up to the next table.
    lower = lower.max(reloc_symbol_bound(c)?);
    Ok(extend_undefined(c, lower))
}

enum GnuCount {
    Exact(u64),
    /// The table hashes no symbol, so it only says how many come before the hashed ones.
    AtLeast(u64),
}

/// Number of symbols covered by a GNU hash table at file offset `off`.
fn gnu_hash_count(b: Bytes<'_>, off: u64) -> Result<GnuCount, Error> {
    let trunc = Error::Truncated("DT_GNU_HASH table");
    let h = b.at(off).ok_or(trunc.clone())?;
    let nbuckets = u64::from(h.u32(0).ok_or(trunc.clone())?);
    let symoffset = u64::from(h.u32(4).ok_or(trunc.clone())?);
    let bloom_size = u64::from(h.u32(8).ok_or(trunc.clone())?);
    let buckets_off = bloom_size
        .checked_mul(b.word_size())
        .and_then(|x| x.checked_add(16))
        .ok_or(trunc.clone())?;
    let buckets = h.slice(buckets_off, nbuckets * 4).ok_or(trunc.clone())?;
    let max_bucket = buckets
        .chunks_exact(4)
        .filter_map(|c| h.with_data(c).u32(0))
        .max()
        .unwrap_or(0);
    let max_bucket = u64::from(max_bucket);
    if max_bucket == 0 || max_bucket < symoffset {
        return Ok(GnuCount::AtLeast(symoffset));
    }
    // Walk the chain of the last bucket until the entry with the low bit set.
    let chains_off = buckets_off + nbuckets * 4;
    let chains = h.tail(chains_off).ok_or(trunc.clone())?;
    let c = h.with_data(chains);
    let mut idx = max_bucket;
    loop {
        let at = (idx - symoffset).checked_mul(4).ok_or(trunc.clone())?;
        let v = c.u32(at).ok_or(trunc.clone())?;
        if v & 1 == 1 {
            return idx.checked_add(1).map(GnuCount::Exact).ok_or(trunc);
        }
        idx += 1;
    }
}

const DT_REL: u64 = 17;
const DT_RELA: u64 = 7;
const EM_MIPS: u16 = 8;

/// One more than the highest symbol index used by a dynamic relocation (0 if none).
fn reloc_symbol_bound(c: &Ctx<'_, '_>) -> Result<u64, Error> {
    let ws = c.b.word_size();
    let mut max = 0u64;
    let plt_kind = c
        .info
        .jmprel
        .and_then(|j| j.2)
        .unwrap_or(if c.info.rela.is_some() {
            DT_RELA
        } else {
            DT_REL
        });
    let tables = [
        c.info.rela.map(|(a, sz, ent)| (a, sz, ent, true)),
        c.info.rel.map(|(a, sz, ent)| (a, sz, ent, false)),
        c.info
            .jmprel
            .filter(|_| plt_kind == DT_RELA || plt_kind == DT_REL)
            .map(|(a, sz, _)| (a, sz, None, plt_kind == DT_RELA)),
    ];
    for (addr, size, ent, is_rela) in tables.into_iter().flatten() {
        let Some(size) = size else { continue };
        let default_ent = if is_rela { 3 * ws } else { 2 * ws };
        let ent = ent.filter(|&e| e >= default_ent).unwrap_or(default_ent);
        let (off, _) = addr_to_offset(c.segments, addr)?;
        let table =
            c.b.slice(off, size)
                .ok_or(Error::Truncated("relocation table"))?;
        let t = c.b.with_data(table);
        let mips64 = c.header.machine == EM_MIPS && c.b.class == Class::Elf64;
        let mut o = 0u64;
        while o + default_ent <= size {
            // r_info follows r_offset.
            let sym = if mips64 {
                // MIPS64 splits r_info into r_sym (u32) and four type bytes.
                t.u32(o + ws).map(u64::from)
            } else {
                t.word(o + ws).map(|info| match c.b.class {
                    Class::Elf32 => info >> 8,
                    Class::Elf64 => info >> 32,
                })
            };
            if let Some(sym) = sym {
                max = max.max(sym.saturating_add(1));
            }
            match o.checked_add(ent) {
                Some(n) => o = n,
                None => break,
            }
        }
    }
    Ok(max)
}

/// Extend `count` over the entries that follow and look like unhashed undefined symbols,
/// stopping at the first one that does not or at the next table the dynamic section names.
fn extend_undefined(c: &Ctx<'_, '_>, mut count: u64) -> u64 {
    let size = sym_size(c.b.class);
    let Ok((off, avail)) = addr_to_offset(c.segments, c.symtab) else {
        return count;
    };
    let mut limit = avail;
    for &a in &c.info.addresses {
        if a > c.symtab {
            limit = limit.min(a - c.symtab);
        }
    }
    let limit = limit / size;
    while count < limit {
        let Some(o) = count.checked_mul(size).and_then(|x| x.checked_add(off)) else {
            break;
        };
        let Some(sym) = read_sym(c.b, o) else { break };
        let version_ok = match c.versym {
            Some(v) => match v.u16(count * 2) {
                Some(raw) => {
                    let idx = raw & 0x7fff;
                    idx <= 1 || c.versions.needed.contains_key(&idx)
                }
                None => false,
            },
            None => true,
        };
        let plausible = sym.shndx == 0
            && matches!(sym.info >> 4, 1 | 2)
            && matches!(sym.info & 0xf, 0 | 1 | 2 | 6 | 10)
            && sym.name != 0
            && c.strtab.is_valid(sym.name.into())
            && version_ok;
        if !plausible {
            break;
        }
        count += 1;
    }
    count
}

struct RawSym {
    name: u32,
    info: u8,
    shndx: u16,
}

fn read_sym(b: Bytes<'_>, o: u64) -> Option<RawSym> {
    let s = b.at(o)?;
    let (name, info, shndx) = match b.class {
        Class::Elf32 => (s.u32(0)?, s.u8(12)?, s.u16(14)?),
        Class::Elf64 => (s.u32(0)?, s.u8(4)?, s.u16(6)?),
    };
    Some(RawSym { name, info, shndx })
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn read_dynsym(
    b: Bytes<'_>,
    header: &Header,
    segments: &[Segment],
    sections: &[Section],
    info: &DynInfo,
    symtab: u64,
    strtab: StrTab<'_>,
    versions: &VersionIndex,
) -> Result<Vec<DynSymbol>, Error> {
    let size = sym_size(b.class);
    if let Some(e) = info.syment {
        if e != size {
            return Err(Error::Malformed(format!("DT_SYMENT {e} != {size}")));
        }
    }
    let versym_off = match info.versym {
        Some(addr) => Some(addr_to_offset(segments, addr)?.0),
        None => None,
    };
    let ctx = Ctx {
        b,
        header,
        segments,
        info,
        symtab,
        strtab,
        versym: versym_off.and_then(|o| b.at(o)),
        versions,
    };
    let count = dynsym_count(&ctx, sections)?;
    if count <= 1 {
        return Ok(Vec::new());
    }
    let (off, _) = addr_to_offset(segments, symtab)?;
    let trunc = Error::Truncated("dynamic symbol table");
    let table = b
        .slice(off, count.checked_mul(size).ok_or(trunc.clone())?)
        .ok_or(trunc)?;
    let t = b.with_data(table);
    let versym = match versym_off {
        Some(voff) => {
            let trunc = Error::Truncated("symbol version table (DT_VERSYM)");
            Some(b.with_data(b.slice(voff, count * 2).ok_or(trunc)?))
        }
        None => None,
    };

    let mut out = Vec::with_capacity(table.len() / 16);
    let trunc = Error::Truncated("dynamic symbol table");
    for i in 1..count {
        let o = i * size;
        let (name, st_info, shndx) = match b.class {
            Class::Elf32 => (t.u32(o), t.u8(o + 12), t.u16(o + 14)),
            Class::Elf64 => (t.u32(o), t.u8(o + 4), t.u16(o + 6)),
        };
        let (name, st_info, shndx) = (
            name.ok_or(trunc.clone())?,
            st_info.ok_or(trunc.clone())?,
            shndx.ok_or(trunc.clone())?,
        );
        let undefined = shndx == 0;
        let binding = match st_info >> 4 {
            0 => Binding::Local,
            1 => Binding::Global,
            2 => Binding::Weak,
            other => Binding::Other(other),
        };
        let raw_version = versym.and_then(|v| v.u16(i * 2)).unwrap_or(0);
        let index = raw_version & 0x7fff;
        let (version, version_file) = if index <= 1 {
            (None, None)
        } else {
            let needed = versions.needed.get(&index);
            let defined = versions.defined.get(&index);
            match (undefined, needed, defined) {
                (true, Some((v, f)), _) | (false, Some((v, f)), None) => {
                    (Some(v.clone()), Some(f.clone()))
                }
                (_, _, Some(v)) => (Some(v.clone()), None),
                (_, None, None) => {
                    return Err(Error::Malformed(format!(
                        "symbol {i} has unknown version index {index}"
                    )))
                }
            }
        };
        out.push(DynSymbol {
            name: strtab.get(name.into())?,
            undefined,
            binding,
            kind: st_info & 0xf,
            version,
            version_file,
            version_hidden: raw_version & 0x8000 != 0,
        });
    }
    Ok(out)
}
