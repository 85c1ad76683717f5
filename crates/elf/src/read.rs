//! Parsing of ELF files of either class and byte order through one code path.
//!
//! Only the headers and tables an audit needs are decoded: the ELF header, the program headers,
//! the dynamic segment, the dynamic string and symbol tables, the GNU symbol versioning tables and
//! GNU property notes. Section headers are consulted only for the size of `.dynsym`; everything
//! else is found through program headers, so files without section headers work too.

mod bytes;
mod dynamic;
mod notes;
mod symbols;

use std::ops::Range;

use crate::{Class, ElfFile, Endian, Error, Header};
use bytes::{c_str_lossy, Bytes};

/// The first bytes of an ELF header, as far as they can be read from a short prefix.
pub type Ident = Header;

/// Number of bytes [`parse_ident`] needs at most (the size of an ELF64 header).
pub const IDENT_LEN: usize = 64;

pub(crate) const PT_LOAD: u32 = 1;
pub(crate) const PT_DYNAMIC: u32 = 2;
pub(crate) const PT_INTERP: u32 = 3;
pub(crate) const PT_NOTE: u32 = 4;
pub(crate) const PT_GNU_STACK: u32 = 0x6474_e551;
pub(crate) const PT_GNU_PROPERTY: u32 = 0x6474_e553;
const PF_X: u32 = 1;
const PN_XNUM: u16 = 0xffff;

/// Return true when `prefix` starts with the ELF magic.
pub fn is_elf(prefix: &[u8]) -> bool {
    prefix.starts_with(b"\x7fELF")
}

/// Read the header facts from the first 64 bytes (or more) of a file.
///
/// Needs the whole ELF header: 52 bytes for ELF32, 64 bytes for ELF64.
pub fn parse_ident(prefix: &[u8]) -> Result<Header, Error> {
    parse_file_header(prefix).map(|h| h.header)
}

/// Parse a whole ELF file.
pub fn parse(data: &[u8]) -> Result<ElfFile, Error> {
    let fh = parse_file_header(data)?;
    let b = Bytes::new(data, fh.header.class, fh.header.endian);
    parse_with(b, fh)
}

/// Parse a sparse image of an ELF file: `data` has the file's length, but only the `present`
/// byte ranges (see [`needed_ranges`]) hold the file's bytes. A read outside them fails as a
/// truncated file would; the caller then falls back to the whole file.
pub fn parse_sparse(data: &[u8], present: &[Range<u64>]) -> Result<ElfFile, Error> {
    let fh = parse_file_header(data)?;
    let b = Bytes::sparse(data, fh.header.class, fh.header.endian, present);
    parse_with(b, fh)
}

/// The byte ranges of a file that [`parse`] needs, judged from its first bytes: the ELF and
/// program headers, the section header table, the dynamic, interpreter and note segments and
/// every loadable segment except executable code after the first page (the big `.text` of a
/// library is never read). `Ok(None)` when `prefix` does not yet hold the program headers.
pub fn needed_ranges(prefix: &[u8], file_size: u64) -> Result<Option<Vec<Range<u64>>>, Error> {
    let fh = parse_file_header(prefix)?;
    let b = Bytes::new(prefix, fh.header.class, fh.header.endian);
    let ph_end = fh
        .phoff
        .checked_add(u64::from(fh.phnum) * u64::from(fh.phentsize))
        .ok_or_else(|| Error::Malformed("program header table overflows".into()))?;
    if ph_end > prefix.len() as u64 {
        return Ok(None);
    }
    if fh.phnum == PN_XNUM {
        // The real count lives in section 0: no shortcut.
        return Ok(Some(std::iter::once(0..file_size).collect()));
    }
    let mut ranges: Vec<Range<u64>> = std::iter::once(0..ph_end.max(64)).collect();
    if fh.shoff != 0 {
        let count = u64::from(fh.shnum.max(1));
        if let Some(end) = fh.shoff.checked_add(count * u64::from(fh.shentsize)) {
            ranges.push(fh.shoff..end);
        }
    }
    let is64 = fh.header.class == Class::Elf64;
    for i in 0..u64::from(fh.phnum) {
        let at = fh.phoff + i * u64::from(fh.phentsize);
        let t = Error::Truncated("program header");
        let kind = b.u32(at).ok_or(t.clone())?;
        let (offset, filesz, flags) = if is64 {
            (
                b.u64(at + 8).ok_or(t.clone())?,
                b.u64(at + 32).ok_or(t.clone())?,
                b.u32(at + 4).ok_or(t)?,
            )
        } else {
            (
                u64::from(b.u32(at + 4).ok_or(t.clone())?),
                u64::from(b.u32(at + 16).ok_or(t.clone())?),
                b.u32(at + 24).ok_or(t)?,
            )
        };
        let wanted = match kind {
            PT_LOAD => flags & PF_X == 0 || offset == 0,
            PT_DYNAMIC | PT_INTERP | PT_NOTE | PT_GNU_PROPERTY => true,
            _ => false,
        };
        if wanted {
            if let Some(end) = offset.checked_add(filesz) {
                ranges.push(offset..end.min(file_size));
            }
        }
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::new();
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    Ok(Some(merged))
}

fn parse_with(b: Bytes<'_>, fh: FileHeader) -> Result<ElfFile, Error> {
    let sections = SectionTable::read(b, &fh)?;
    let segments = read_segments(b, &fh, &sections)?;

    let mut interpreter = None;
    let mut exec_stack = None;
    for seg in &segments {
        match seg.kind {
            PT_INTERP if interpreter.is_none() => {
                let bytes = b
                    .slice(seg.offset, seg.filesz)
                    .ok_or(Error::Truncated("PT_INTERP"))?;
                interpreter = Some(c_str_lossy(bytes));
            }
            PT_GNU_STACK if exec_stack.is_none() => exec_stack = Some(seg.flags & PF_X != 0),
            _ => {}
        }
    }

    let x86_isa_needed = notes::x86_isa_needed(b, fh.header.machine, &segments)?;

    let mut file = ElfFile {
        header: fh.header,
        interpreter,
        is_dynamic: false,
        soname: None,
        needed: Vec::new(),
        rpath: Vec::new(),
        runpath: Vec::new(),
        version_needs: Vec::new(),
        version_defs: Vec::new(),
        dynamic_symbols: Vec::new(),
        x86_isa_needed,
        exec_stack,
    };
    if let Some(dyn_seg) = segments.iter().find(|s| s.kind == PT_DYNAMIC) {
        file.is_dynamic = true;
        dynamic::fill(b, &fh.header, &segments, &sections, dyn_seg, &mut file)?;
    }
    Ok(file)
}

/// The ELF header: the public facts plus where the header tables are.
pub(crate) struct FileHeader {
    pub header: Header,
    pub phoff: u64,
    pub shoff: u64,
    pub phentsize: u16,
    pub phnum: u16,
    pub shentsize: u16,
    pub shnum: u16,
}

fn parse_file_header(data: &[u8]) -> Result<FileHeader, Error> {
    if !is_elf(data) {
        return Err(Error::NotElf);
    }
    let class = match data.get(4) {
        Some(1) => Class::Elf32,
        Some(2) => Class::Elf64,
        Some(c) => return Err(Error::Malformed(format!("invalid EI_CLASS {c}"))),
        None => return Err(Error::Truncated("e_ident")),
    };
    let endian = match data.get(5) {
        Some(1) => Endian::Little,
        Some(2) => Endian::Big,
        Some(d) => return Err(Error::Malformed(format!("invalid EI_DATA {d}"))),
        None => return Err(Error::Truncated("e_ident")),
    };
    let osabi = *data.get(7).ok_or(Error::Truncated("e_ident"))?;
    let b = Bytes::new(data, class, endian);
    let t = Error::Truncated("ELF header");
    let elf_type = b.u16(16).ok_or(t.clone())?;
    let machine = b.u16(18).ok_or(t.clone())?;
    // Offsets of e_phoff, e_shoff, e_flags and e_ehsize.
    let (phoff_at, shoff_at, flags_at, ehsize_at) = match class {
        Class::Elf32 => (28, 32, 36, 40),
        Class::Elf64 => (32, 40, 48, 52),
    };
    let phoff = b.word(phoff_at).ok_or(t.clone())?;
    let shoff = b.word(shoff_at).ok_or(t.clone())?;
    let flags = b.u32(flags_at).ok_or(t.clone())?;
    let phentsize = b.u16(ehsize_at + 2).ok_or(t.clone())?;
    let phnum = b.u16(ehsize_at + 4).ok_or(t.clone())?;
    let shentsize = b.u16(ehsize_at + 6).ok_or(t.clone())?;
    let shnum = b.u16(ehsize_at + 8).ok_or(t.clone())?;
    // e_shstrndx is not needed, but the header is only complete with it.
    b.u16(ehsize_at + 10).ok_or(t)?;
    Ok(FileHeader {
        header: Header {
            class,
            endian,
            osabi,
            elf_type,
            machine,
            flags,
        },
        phoff,
        shoff,
        phentsize,
        phnum,
        shentsize,
        shnum,
    })
}

/// One program header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    pub kind: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub align: u64,
}

fn read_segments(
    b: Bytes<'_>,
    fh: &FileHeader,
    sections: &SectionTable,
) -> Result<Vec<Segment>, Error> {
    let count = if fh.phnum == PN_XNUM {
        // Extended numbering: the real count is in sh_info of section 0.
        u64::from(sections.first_info.ok_or_else(|| {
            Error::Malformed("e_phnum is PN_XNUM but there is no section 0".into())
        })?)
    } else {
        u64::from(fh.phnum)
    };
    if count == 0 {
        return Ok(Vec::new());
    }
    let min_size: u16 = match b.class {
        Class::Elf32 => 32,
        Class::Elf64 => 56,
    };
    if fh.phentsize < min_size {
        return Err(Error::Malformed(format!(
            "e_phentsize {} is too small",
            fh.phentsize
        )));
    }
    let entsize = u64::from(fh.phentsize);
    let total = count
        .checked_mul(entsize)
        .ok_or(Error::Truncated("program headers"))?;
    let table = b
        .slice(fh.phoff, total)
        .ok_or(Error::Truncated("program headers"))?;
    let t = b.with_data(table);
    let mut out = Vec::with_capacity(table.len() / usize::from(fh.phentsize));
    let trunc = Error::Truncated("program headers");
    for i in 0..count {
        let o = i * entsize;
        let seg = match b.class {
            Class::Elf32 => Segment {
                kind: t.u32(o).ok_or(trunc.clone())?,
                offset: t.u32(o + 4).ok_or(trunc.clone())?.into(),
                vaddr: t.u32(o + 8).ok_or(trunc.clone())?.into(),
                filesz: t.u32(o + 16).ok_or(trunc.clone())?.into(),
                flags: t.u32(o + 24).ok_or(trunc.clone())?,
                align: t.u32(o + 28).ok_or(trunc.clone())?.into(),
            },
            Class::Elf64 => Segment {
                kind: t.u32(o).ok_or(trunc.clone())?,
                flags: t.u32(o + 4).ok_or(trunc.clone())?,
                offset: t.u64(o + 8).ok_or(trunc.clone())?,
                vaddr: t.u64(o + 16).ok_or(trunc.clone())?,
                filesz: t.u64(o + 32).ok_or(trunc.clone())?,
                align: t.u64(o + 48).ok_or(trunc.clone())?,
            },
        };
        out.push(seg);
    }
    Ok(out)
}

/// Translate a virtual address to a file offset through the PT_LOAD segments.
///
/// Returns the offset and the number of file bytes the segment holds from there on.
pub(crate) fn addr_to_offset(segments: &[Segment], addr: u64) -> Result<(u64, u64), Error> {
    for seg in segments.iter().filter(|s| s.kind == PT_LOAD) {
        if addr < seg.vaddr {
            continue;
        }
        let delta = addr - seg.vaddr;
        if delta < seg.filesz {
            let off = seg
                .offset
                .checked_add(delta)
                .ok_or_else(|| Error::Malformed("PT_LOAD offset overflows".into()))?;
            return Ok((off, seg.filesz - delta));
        }
    }
    Err(Error::Malformed(format!(
        "address {addr:#x} is not in any PT_LOAD segment"
    )))
}

/// A section header, as far as it is needed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Section {
    pub kind: u32,
    pub addr: u64,
    pub size: u64,
    pub entsize: u64,
}

/// The section header table (possibly empty).
#[derive(Default)]
pub(crate) struct SectionTable {
    pub sections: Vec<Section>,
    /// sh_info of section 0, which holds the real e_phnum under extended numbering.
    pub first_info: Option<u32>,
}

const SHT_DYNSYM: u32 = 11;

impl SectionTable {
    /// Read only the section headers that matter (SHT_DYNSYM), checking the table is in bounds.
    fn read(b: Bytes<'_>, fh: &FileHeader) -> Result<SectionTable, Error> {
        if fh.shoff == 0 {
            return Ok(SectionTable::default());
        }
        let min_size: u16 = match b.class {
            Class::Elf32 => 40,
            Class::Elf64 => 64,
        };
        if fh.shnum == 0 && fh.shentsize == 0 {
            return Ok(SectionTable::default());
        }
        if fh.shentsize < min_size {
            return Err(Error::Malformed(format!(
                "e_shentsize {} is too small",
                fh.shentsize
            )));
        }
        let entsize = u64::from(fh.shentsize);
        let trunc = Error::Truncated("section headers");
        let read_one = |o: u64| -> Result<(Section, u32), Error> {
            let e = b.at(o).ok_or(trunc.clone())?;
            Ok(match b.class {
                Class::Elf32 => (
                    Section {
                        kind: e.u32(4).ok_or(trunc.clone())?,
                        addr: e.u32(12).ok_or(trunc.clone())?.into(),
                        size: e.u32(20).ok_or(trunc.clone())?.into(),
                        entsize: e.u32(36).ok_or(trunc.clone())?.into(),
                    },
                    e.u32(28).ok_or(trunc.clone())?,
                ),
                Class::Elf64 => (
                    Section {
                        kind: e.u32(4).ok_or(trunc.clone())?,
                        addr: e.u64(16).ok_or(trunc.clone())?,
                        size: e.u64(32).ok_or(trunc.clone())?,
                        entsize: e.u64(56).ok_or(trunc.clone())?,
                    },
                    e.u32(44).ok_or(trunc.clone())?,
                ),
            })
        };
        let (first, first_info) = read_one(fh.shoff)?;
        let count = if fh.shnum == 0 {
            // Extended numbering: the real count is sh_size of section 0.
            first.size
        } else {
            u64::from(fh.shnum)
        };
        let total = count.checked_mul(entsize).ok_or(trunc.clone())?;
        b.slice(fh.shoff, total).ok_or(trunc.clone())?;
        let mut sections = Vec::new();
        for i in 1..count {
            let (s, _) = read_one(fh.shoff + i * entsize)?;
            if s.kind == SHT_DYNSYM {
                sections.push(s);
            }
        }
        Ok(SectionTable {
            sections,
            first_info: Some(first_info),
        })
    }
}
