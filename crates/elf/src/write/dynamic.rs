//! The dynamic section and the tables it names, as far as the patcher reads or moves them.

use super::buf::{add, slice, Codec};
use super::model::{Model, PT_DYNAMIC, SHF_ALLOC, SHT_DYNSYM, SHT_NOBITS};
use crate::{Class, Error};

pub(crate) const DT_NULL: u64 = 0;
pub(crate) const DT_NEEDED: u64 = 1;
pub(crate) const DT_HASH: u64 = 4;
pub(crate) const DT_STRTAB: u64 = 5;
pub(crate) const DT_SYMTAB: u64 = 6;
pub(crate) const DT_STRSZ: u64 = 10;
pub(crate) const DT_SONAME: u64 = 14;
pub(crate) const DT_RPATH: u64 = 15;
pub(crate) const DT_RUNPATH: u64 = 29;
pub(crate) const DT_GNU_HASH: u64 = 0x6fff_fef5;
pub(crate) const DT_VERSYM: u64 = 0x6fff_fff0;
pub(crate) const DT_VERDEF: u64 = 0x6fff_fffc;
pub(crate) const DT_VERDEFNUM: u64 = 0x6fff_fffd;
pub(crate) const DT_VERNEED: u64 = 0x6fff_fffe;
pub(crate) const DT_VERNEEDNUM: u64 = 0x6fff_ffff;
const DT_CONFIG: u64 = 0x6fff_fefa;
const DT_DEPAUDIT: u64 = 0x6fff_fefb;
const DT_AUDIT: u64 = 0x6fff_fefc;
const DT_AUXILIARY: u64 = 0x7fff_fffd;
const DT_FILTER: u64 = 0x7fff_ffff;

const EM_S390: u16 = 22;
const EM_ALPHA: u16 = 0x9026;

/// Whether the value of a dynamic entry with this tag is an offset into `.dynstr`.
pub(crate) fn is_string_tag(tag: u64) -> bool {
    matches!(
        tag,
        DT_NEEDED
            | DT_SONAME
            | DT_RPATH
            | DT_RUNPATH
            | DT_CONFIG
            | DT_DEPAUDIT
            | DT_AUDIT
            | DT_AUXILIARY
            | DT_FILTER
    )
}

/// The dynamic segment: its entries before DT_NULL and how many entries fit in it.
#[derive(Debug, Clone)]
pub(crate) struct Dynamic {
    /// Index of PT_DYNAMIC in the program headers.
    pub phdr: usize,
    pub entries: Vec<(u64, u64)>,
    /// Entries (DT_NULL included) the segment has room for.
    pub slots: u64,
}

impl Dynamic {
    pub fn read(m: &Model, d: &[u8]) -> Result<Dynamic, Error> {
        let phdr = m
            .phdrs
            .iter()
            .position(|p| p.kind == PT_DYNAMIC)
            .ok_or_else(|| {
                Error::Malformed("no dynamic section (PT_DYNAMIC): a static file".into())
            })?;
        let seg = m.phdrs[phdr];
        let bytes = slice(d, seg.offset, seg.filesz, "dynamic segment")?;
        let ws = m.c.ws();
        let slots = seg.filesz / (2 * ws);
        let mut entries = Vec::new();
        let mut terminated = false;
        for i in 0..slots {
            let tag = m.c.word(bytes, 2 * ws * i, "dynamic segment")?;
            let val = m.c.word(bytes, 2 * ws * i + ws, "dynamic segment")?;
            if tag == DT_NULL {
                terminated = true;
                break;
            }
            entries.push((tag, val));
        }
        if !terminated {
            return Err(Error::Malformed("dynamic section has no DT_NULL".into()));
        }
        Ok(Dynamic {
            phdr,
            entries,
            slots,
        })
    }

    pub fn get(&self, tag: u64) -> Option<u64> {
        self.entries.iter().find(|e| e.0 == tag).map(|e| e.1)
    }

    /// Encode `entries` followed by DT_NULL entries up to `slots` entries.
    pub fn encode(c: Codec, entries: &[(u64, u64)], slots: u64) -> Result<Vec<u8>, Error> {
        let ws = c.ws();
        let mut out = vec![0u8; usize::try_from(slots * 2 * ws).unwrap_or(usize::MAX)];
        for (i, &(tag, val)) in entries.iter().enumerate() {
            let o = i as u64 * 2 * ws;
            c.put_word(&mut out, o, tag, "dynamic entry")?;
            c.put_word(&mut out, o + ws, val, "dynamic entry")?;
        }
        Ok(out)
    }
}

/// A `.dynstr` string at `off`, without its NUL.
pub(crate) fn string_at(table: &[u8], off: u64) -> Result<&[u8], Error> {
    let rest = usize::try_from(off)
        .ok()
        .and_then(|o| table.get(o..))
        .ok_or_else(|| Error::Malformed(format!("string offset {off:#x} out of range")))?;
    let end = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| Error::Malformed(format!("unterminated string at {off:#x}")))?;
    Ok(&rest[..end])
}

/// One `Elf_Vernaux`.
#[derive(Debug, Clone)]
pub(crate) struct Vernaux {
    /// File offset of the record.
    pub at: u64,
    pub other: u16,
    pub name: u32,
}

/// One `Elf_Verneed` with its auxiliary records.
#[derive(Debug, Clone)]
pub(crate) struct Verneed {
    /// File offset of the record.
    pub at: u64,
    pub file: u32,
    pub aux: Vec<Vernaux>,
}

/// `.gnu.version_r`: its records and the file range they span.
#[derive(Debug, Clone, Default)]
pub(crate) struct VerneedTable {
    pub records: Vec<Verneed>,
    /// File offset of the first record and the end of the last byte any record uses.
    pub start: u64,
    pub end: u64,
}

pub(crate) fn read_verneed(m: &Model, d: &[u8], dy: &Dynamic) -> Result<VerneedTable, Error> {
    let Some(addr) = dy.get(DT_VERNEED) else {
        return Ok(VerneedTable::default());
    };
    let (start, _) = m.addr_to_offset(addr)?;
    let c = m.c;
    let t = "version needs (DT_VERNEED)";
    let limit = dy
        .get(DT_VERNEEDNUM)
        .unwrap_or(u64::MAX)
        .min(d.len() as u64 / 16 + 1);
    let mut out = VerneedTable {
        records: Vec::new(),
        start,
        end: start,
    };
    let mut off = start;
    for _ in 0..limit {
        let cnt = c.u16(d, add(off, 2)?, t)?;
        let file = c.u32(d, add(off, 4)?, t)?;
        let aux_rel = c.u32(d, add(off, 8)?, t)?;
        let next = c.u32(d, add(off, 12)?, t)?;
        out.end = out.end.max(add(off, 16)?);
        let mut rec = Verneed {
            at: off,
            file,
            aux: Vec::new(),
        };
        let mut a = add(off, aux_rel.into())?;
        for _ in 0..cnt {
            let other = c.u16(d, add(a, 6)?, t)?;
            let name = c.u32(d, add(a, 8)?, t)?;
            let anext = c.u32(d, add(a, 12)?, t)?;
            out.end = out.end.max(add(a, 16)?);
            rec.aux.push(Vernaux { at: a, other, name });
            if anext == 0 {
                break;
            }
            a = add(a, anext.into())?;
        }
        out.records.push(rec);
        if next == 0 {
            break;
        }
        off = add(off, next.into())?;
    }
    Ok(out)
}

/// `.gnu.version_d`: the string offsets it uses and the file range it spans.
pub(crate) fn read_verdef(
    m: &Model,
    d: &[u8],
    dy: &Dynamic,
) -> Result<Option<(Vec<u32>, u64, u64)>, Error> {
    let Some(addr) = dy.get(DT_VERDEF) else {
        return Ok(None);
    };
    let (start, _) = m.addr_to_offset(addr)?;
    let c = m.c;
    let t = "version definitions (DT_VERDEF)";
    let limit = dy
        .get(DT_VERDEFNUM)
        .unwrap_or(u64::MAX)
        .min(d.len() as u64 / 20 + 1);
    let mut names = Vec::new();
    let mut end = start;
    let mut off = start;
    for _ in 0..limit {
        let cnt = c.u16(d, add(off, 6)?, t)?;
        let aux_rel = c.u32(d, add(off, 12)?, t)?;
        let next = c.u32(d, add(off, 16)?, t)?;
        end = end.max(add(off, 20)?);
        let mut a = add(off, aux_rel.into())?;
        for _ in 0..cnt {
            names.push(c.u32(d, a, t)?);
            let anext = c.u32(d, add(a, 4)?, t)?;
            end = end.max(add(a, 8)?);
            if anext == 0 {
                break;
            }
            a = add(a, anext.into())?;
        }
        if next == 0 {
            break;
        }
        off = add(off, next.into())?;
    }
    Ok(Some((names, start, end)))
}

/// Size of one `Elf_Sym`.
pub(crate) fn sym_size(class: Class) -> u64 {
    match class {
        Class::Elf32 => 16,
        Class::Elf64 => 24,
    }
}

/// Whether DT_HASH uses 8-byte entries (64-bit s390 and Alpha).
fn wide_hash(m: &Model) -> bool {
    m.c.class == Class::Elf64 && matches!(m.machine, EM_S390 | EM_ALPHA)
}

/// The section header describing the allocated table at `addr`, if any.
pub(crate) fn section_at(m: &Model, addr: u64, kind: Option<u32>) -> Option<usize> {
    m.shdrs.iter().position(|s| {
        s.addr == addr
            && s.flags & SHF_ALLOC != 0
            && s.kind != SHT_NOBITS
            && kind.iter().all(|&k| s.kind == k)
    })
}

/// The exact number of `.dynsym` entries, when the file states it: the section header, DT_HASH
/// or a complete DT_GNU_HASH walk. `None` when it can only be guessed.
pub(crate) fn dynsym_count(m: &Model, d: &[u8], dy: &Dynamic) -> Result<Option<u64>, Error> {
    let Some(symtab) = dy.get(DT_SYMTAB) else {
        return Ok(Some(0));
    };
    let entsize = sym_size(m.c.class);
    if let Some(i) = section_at(m, symtab, Some(SHT_DYNSYM)) {
        return Ok(Some(m.shdrs[i].size / entsize));
    }
    let c = m.c;
    if let Some(addr) = dy.get(DT_HASH) {
        let (off, _) = m.addr_to_offset(addr)?;
        let t = "DT_HASH table";
        return Ok(Some(if wide_hash(m) {
            c.get(d, add(off, 8)?, 8, t)?
        } else {
            c.u32(d, add(off, 4)?, t)?.into()
        }));
    }
    if let Some(addr) = dy.get(DT_GNU_HASH) {
        let (off, _) = m.addr_to_offset(addr)?;
        return gnu_hash_count(c, d, off);
    }
    Ok(None)
}

/// Number of symbols a GNU hash table covers, `None` if it hashes none.
fn gnu_hash_count(c: Codec, d: &[u8], off: u64) -> Result<Option<u64>, Error> {
    let t = "DT_GNU_HASH table";
    let nbuckets = u64::from(c.u32(d, off, t)?);
    let symoffset = u64::from(c.u32(d, add(off, 4)?, t)?);
    let bloom = u64::from(c.u32(d, add(off, 8)?, t)?);
    let buckets = add(
        add(off, 16)?,
        bloom.checked_mul(c.ws()).ok_or(Error::Truncated(t))?,
    )?;
    let mut max = 0u64;
    for i in 0..nbuckets {
        max = max.max(c.u32(d, add(buckets, i * 4)?, t)?.into());
    }
    if max == 0 || max < symoffset {
        return Ok(None);
    }
    let chains = add(buckets, nbuckets.checked_mul(4).ok_or(Error::Truncated(t))?)?;
    let mut idx = max;
    loop {
        let v = c.u32(d, add(chains, (idx - symoffset) * 4)?, t)?;
        idx += 1;
        if v & 1 == 1 {
            return Ok(Some(idx));
        }
    }
}

/// Size in bytes of the hash table at file offset `off`.
pub(crate) fn hash_size(m: &Model, d: &[u8], off: u64) -> Result<u64, Error> {
    let t = "DT_HASH table";
    let (nbucket, nchain, ent) = if wide_hash(m) {
        (m.c.get(d, off, 8, t)?, m.c.get(d, add(off, 8)?, 8, t)?, 8)
    } else {
        (
            m.c.u32(d, off, t)?.into(),
            m.c.u32(d, add(off, 4)?, t)?.into(),
            4,
        )
    };
    add(2, add(nbucket, nchain)?)?
        .checked_mul(ent)
        .ok_or(Error::Truncated(t))
}

/// Size in bytes of the GNU hash table at file offset `off` for `count` symbols.
pub(crate) fn gnu_hash_size(c: Codec, d: &[u8], off: u64, count: u64) -> Result<u64, Error> {
    let t = "DT_GNU_HASH table";
    let nbuckets = u64::from(c.u32(d, off, t)?);
    let symoffset = u64::from(c.u32(d, add(off, 4)?, t)?);
    let bloom = u64::from(c.u32(d, add(off, 8)?, t)?);
    let chains = count.saturating_sub(symoffset);
    let words = bloom.checked_mul(c.ws()).ok_or(Error::Truncated(t))?;
    add(
        add(16, words)?,
        add(nbuckets, chains)?
            .checked_mul(4)
            .ok_or(Error::Truncated(t))?,
    )
}

/// The largest `st_size` of the `.dynsym` entries (the known ones, or the candidate slots
/// when the count is unknown), capped at `cap`.
pub(crate) fn dynsym_max_size(
    m: &Model,
    d: &[u8],
    dy: &Dynamic,
    count: Option<u64>,
    cap: u64,
) -> u64 {
    let Some(symtab) = dy.get(DT_SYMTAB) else {
        return 0;
    };
    let Ok((off, avail)) = m.addr_to_offset(symtab) else {
        return 0;
    };
    let entsize = sym_size(m.c.class);
    let size_at = match m.c.class {
        Class::Elf32 => 8,
        Class::Elf64 => 16,
    };
    let n = count.unwrap_or(avail / entsize).min(avail / entsize);
    (0..n)
        .filter_map(|i| {
            let at = off.checked_add(i * entsize + size_at)?;
            m.c.word(d, at, ".dynsym").ok()
        })
        .filter(|&s| s <= cap)
        .max()
        .unwrap_or(0)
}

/// Every `st_name` in `.dynsym`: of the exact entries when the count is known, otherwise of
/// every entry-sized slot up to the next table or the end of the segment (a superset).
pub(crate) fn dynsym_names(
    m: &Model,
    d: &[u8],
    dy: &Dynamic,
    count: Option<u64>,
) -> Result<Vec<u32>, Error> {
    let Some(symtab) = dy.get(DT_SYMTAB) else {
        return Ok(Vec::new());
    };
    let (off, avail) = m.addr_to_offset(symtab)?;
    let entsize = sym_size(m.c.class);
    let n = match count {
        Some(n) => n,
        None => {
            let mut limit = avail;
            for &(tag, val) in &dy.entries {
                if matches!(
                    tag,
                    DT_HASH | DT_STRTAB | DT_GNU_HASH | DT_VERSYM | DT_VERDEF | DT_VERNEED
                ) && val > symtab
                {
                    limit = limit.min(val - symtab);
                }
            }
            limit / entsize
        }
    };
    let mut out = Vec::new();
    for i in 0..n {
        let at = add(
            off,
            i.checked_mul(entsize).ok_or(Error::Truncated(".dynsym"))?,
        )?;
        match m.c.u32(d, at, ".dynsym") {
            Ok(v) => out.push(v),
            Err(e) if count.is_some() => return Err(e),
            Err(_) => break,
        }
    }
    Ok(out)
}
