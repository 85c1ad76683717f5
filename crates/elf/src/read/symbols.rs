//! `.dynsym`: how many entries it has and what they are.

use super::bytes::Bytes;
use super::dynamic::{sym_size, DynInfo, StrTab, VersionIndex};
use super::{addr_to_offset, Section, Segment};
use crate::{Binding, Class, DynSymbol, Error, Header};

const EM_S390: u16 = 22;
const EM_ALPHA: u16 = 0x9026;

/// Number of `.dynsym` entries (index 0 included).
fn dynsym_count(
    b: Bytes<'_>,
    header: &Header,
    segments: &[Segment],
    sections: &[Section],
    info: &DynInfo,
    symtab: u64,
) -> Result<u64, Error> {
    let entsize = sym_size(b.class);
    // 1. The section header, preferring the one at DT_SYMTAB.
    let section = sections
        .iter()
        .find(|s| s.addr == symtab)
        .or_else(|| sections.first());
    if let Some(s) = section {
        let e = if s.entsize == 0 { entsize } else { s.entsize };
        return Ok(s.size / e);
    }
    // 2. DT_HASH: nchain is the number of symbols.
    if let Some(addr) = info.hash {
        let (off, _) = addr_to_offset(segments, addr)?;
        let trunc = Error::Truncated("DT_HASH table");
        let h = b.at(off).ok_or(trunc.clone())?;
        // 64-bit s390 and Alpha use 8-byte hash table entries.
        let wide = b.class == Class::Elf64 && matches!(header.machine, EM_S390 | EM_ALPHA);
        return if wide {
            h.u64(8).ok_or(trunc)
        } else {
            h.u32(4).map(u64::from).ok_or(trunc)
        };
    }
    // 3. DT_GNU_HASH: walk to the highest symbol index.
    if let Some(addr) = info.gnu_hash {
        let (off, _) = addr_to_offset(segments, addr)?;
        return gnu_hash_count(b, off);
    }
    // 4. MIPS records the count in the dynamic section.
    if let Some(n) = info.mips_symtabno {
        return Ok(n);
    }
    Ok(0)
}

/// Number of symbols covered by a GNU hash table at file offset `off`.
fn gnu_hash_count(b: Bytes<'_>, off: u64) -> Result<u64, Error> {
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
    if max_bucket < symoffset {
        // No hashed symbols: only the unhashed ones before symoffset exist.
        return Ok(symoffset);
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
            return idx.checked_add(1).ok_or(trunc);
        }
        idx += 1;
    }
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
    let count = dynsym_count(b, header, segments, sections, info, symtab)?;
    if count <= 1 {
        return Ok(Vec::new());
    }
    let size = sym_size(b.class);
    if let Some(e) = info.syment {
        if e != size {
            return Err(Error::Malformed(format!("DT_SYMENT {e} != {size}")));
        }
    }
    let (off, _) = addr_to_offset(segments, symtab)?;
    let trunc = Error::Truncated("dynamic symbol table");
    let table = b
        .slice(off, count.checked_mul(size).ok_or(trunc.clone())?)
        .ok_or(trunc)?;
    let t = b.with_data(table);

    let versym = match info.versym {
        Some(addr) => {
            let (voff, _) = addr_to_offset(segments, addr)?;
            let trunc = Error::Truncated("symbol version table (DT_VERSYM)");
            let v = b.slice(voff, count * 2).ok_or(trunc)?;
            Some(b.with_data(v))
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
