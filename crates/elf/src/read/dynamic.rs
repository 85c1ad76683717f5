//! The dynamic segment: DT_NEEDED and friends, plus the tables it points to.

use super::bytes::Bytes;
use super::{addr_to_offset, symbols, SectionTable, Segment};
use crate::{Class, ElfFile, Error, Header, VersionNeed, VersionRef};

const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_HASH: u64 = 4;
const DT_STRTAB: u64 = 5;
const DT_SYMTAB: u64 = 6;
const DT_STRSZ: u64 = 10;
const DT_SYMENT: u64 = 11;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;
const DT_GNU_HASH: u64 = 0x6fff_fef5;
const DT_VERSYM: u64 = 0x6fff_fff0;
const DT_VERDEF: u64 = 0x6fff_fffc;
const DT_VERDEFNUM: u64 = 0x6fff_fffd;
const DT_VERNEED: u64 = 0x6fff_fffe;
const DT_VERNEEDNUM: u64 = 0x6fff_ffff;
const DT_MIPS_SYMTABNO: u64 = 0x7000_0011;
const DT_PLTRELSZ: u64 = 2;
const DT_PLTGOT: u64 = 3;
const DT_RELA: u64 = 7;
const DT_RELASZ: u64 = 8;
const DT_RELAENT: u64 = 9;
const DT_INIT: u64 = 12;
const DT_FINI: u64 = 13;
const DT_REL: u64 = 17;
const DT_RELSZ: u64 = 18;
const DT_RELENT: u64 = 19;
const DT_PLTREL: u64 = 20;
const DT_JMPREL: u64 = 23;
const DT_INIT_ARRAY: u64 = 25;
const DT_FINI_ARRAY: u64 = 26;
const DT_RELR: u64 = 36;
const EM_MIPS: u16 = 8;

const VER_FLG_BASE: u16 = 0x1;
const VER_FLG_WEAK: u16 = 0x2;

/// The dynamic entries that matter, as raw values.
#[derive(Default)]
pub(crate) struct DynInfo {
    pub needed: Vec<u64>,
    pub soname: Option<u64>,
    pub rpath: Vec<u64>,
    pub runpath: Vec<u64>,
    pub strtab: Option<u64>,
    pub strsz: Option<u64>,
    pub symtab: Option<u64>,
    pub syment: Option<u64>,
    pub hash: Option<u64>,
    pub gnu_hash: Option<u64>,
    pub versym: Option<u64>,
    pub verdef: Option<u64>,
    pub verdefnum: Option<u64>,
    pub verneed: Option<u64>,
    pub verneednum: Option<u64>,
    pub mips_symtabno: Option<u64>,
    pub rela: Option<(u64, Option<u64>, Option<u64>)>,
    pub rel: Option<(u64, Option<u64>, Option<u64>)>,
    /// DT_JMPREL address, DT_PLTRELSZ and DT_PLTREL (DT_REL or DT_RELA).
    pub jmprel: Option<(u64, Option<u64>, Option<u64>)>,
    /// Addresses of every table or code the dynamic section points at, to bound `.dynsym`.
    pub addresses: Vec<u64>,
}

fn read_dyn(b: Bytes<'_>, header: &Header, seg: &Segment) -> Result<DynInfo, Error> {
    let data = b
        .slice(seg.offset, seg.filesz)
        .ok_or(Error::Truncated("dynamic segment"))?;
    let d = b.with_data(data);
    let ws = d.word_size();
    let mut info = DynInfo::default();
    let mut off = 0u64;
    let (mut relasz, mut relaent, mut relsz, mut relent, mut pltrelsz, mut pltrel) =
        (None, None, None, None, None, None);
    let (mut rela, mut rel, mut jmprel) = (None, None, None);
    while let (Some(tag), Some(val)) = (d.word(off), d.word(off + ws)) {
        off += 2 * ws;
        if matches!(
            tag,
            DT_HASH
                | DT_STRTAB
                | DT_GNU_HASH
                | DT_VERSYM
                | DT_VERDEF
                | DT_VERNEED
                | DT_PLTGOT
                | DT_RELA
                | DT_REL
                | DT_JMPREL
                | DT_INIT
                | DT_FINI
                | DT_INIT_ARRAY
                | DT_FINI_ARRAY
                | DT_RELR
        ) {
            info.addresses.push(val);
        }
        // Only tags below 2^32 are interesting; a sign-extended ELF32 tag is compared as such.
        match tag {
            DT_NULL => break,
            DT_NEEDED => info.needed.push(val),
            DT_SONAME => info.soname = Some(val),
            DT_RPATH => info.rpath.push(val),
            DT_RUNPATH => info.runpath.push(val),
            DT_STRTAB => info.strtab = Some(val),
            DT_STRSZ => info.strsz = Some(val),
            DT_SYMTAB => info.symtab = Some(val),
            DT_SYMENT => info.syment = Some(val),
            DT_HASH => info.hash = Some(val),
            DT_GNU_HASH => info.gnu_hash = Some(val),
            DT_VERSYM => info.versym = Some(val),
            DT_VERDEF => info.verdef = Some(val),
            DT_VERDEFNUM => info.verdefnum = Some(val),
            DT_VERNEED => info.verneed = Some(val),
            DT_VERNEEDNUM => info.verneednum = Some(val),
            DT_MIPS_SYMTABNO if header.machine == EM_MIPS => info.mips_symtabno = Some(val),
            DT_RELA => rela = Some(val),
            DT_RELASZ => relasz = Some(val),
            DT_RELAENT => relaent = Some(val),
            DT_REL => rel = Some(val),
            DT_RELSZ => relsz = Some(val),
            DT_RELENT => relent = Some(val),
            DT_JMPREL => jmprel = Some(val),
            DT_PLTRELSZ => pltrelsz = Some(val),
            DT_PLTREL => pltrel = Some(val),
            _ => {}
        }
    }
    info.rela = rela.map(|a| (a, relasz, relaent));
    info.rel = rel.map(|a| (a, relsz, relent));
    info.jmprel = jmprel.map(|a| (a, pltrelsz, pltrel));
    Ok(info)
}

/// The dynamic string table.
#[derive(Clone, Copy)]
pub(crate) struct StrTab<'a> {
    data: Option<&'a [u8]>,
}

impl StrTab<'_> {
    /// Whether `off` starts a NUL-terminated string inside the table.
    pub fn is_valid(&self, off: u64) -> bool {
        self.data
            .zip(usize::try_from(off).ok())
            .and_then(|(d, o)| d.get(o..))
            .is_some_and(|rest| rest.contains(&0))
    }

    pub fn get(&self, off: u64) -> Result<String, Error> {
        let data = self
            .data
            .ok_or_else(|| Error::Malformed("string reference without DT_STRTAB".into()))?;
        let rest = usize::try_from(off)
            .ok()
            .and_then(|o| data.get(o..))
            .ok_or_else(|| Error::Malformed(format!("string offset {off:#x} out of range")))?;
        let end = rest
            .iter()
            .position(|&c| c == 0)
            .ok_or_else(|| Error::Malformed(format!("unterminated string at {off:#x}")))?;
        Ok(String::from_utf8_lossy(rest.get(..end).unwrap_or_default()).into_owned())
    }
}

fn split_path(s: &str, out: &mut Vec<String>) {
    out.extend(s.split(':').filter(|p| !p.is_empty()).map(str::to_owned));
}

pub(crate) fn fill(
    b: Bytes<'_>,
    header: &Header,
    segments: &[Segment],
    sections: &SectionTable,
    dyn_seg: &Segment,
    file: &mut ElfFile,
) -> Result<(), Error> {
    let info = read_dyn(b, header, dyn_seg)?;

    let strtab = match info.strtab {
        Some(addr) => {
            let (off, avail) = addr_to_offset(segments, addr)?;
            let size = info.strsz.unwrap_or(avail);
            Some(
                b.slice(off, size)
                    .ok_or(Error::Truncated("dynamic string table"))?,
            )
        }
        None => None,
    };
    let strtab = StrTab { data: strtab };

    file.soname = info.soname.map(|o| strtab.get(o)).transpose()?;
    for &o in &info.needed {
        file.needed.push(strtab.get(o)?);
    }
    for &o in &info.rpath {
        split_path(&strtab.get(o)?, &mut file.rpath);
    }
    for &o in &info.runpath {
        split_path(&strtab.get(o)?, &mut file.runpath);
    }

    let mut versions = VersionIndex::default();
    if let Some(addr) = info.verneed {
        let (off, _) = addr_to_offset(segments, addr)?;
        file.version_needs = read_verneed(b, off, info.verneednum, strtab, &mut versions)?;
    }
    if let Some(addr) = info.verdef {
        let (off, _) = addr_to_offset(segments, addr)?;
        file.version_defs = read_verdef(b, off, info.verdefnum, strtab, &mut versions)?;
    }

    if let Some(symtab) = info.symtab {
        file.dynamic_symbols = symbols::read_dynsym(
            b,
            header,
            segments,
            &sections.sections,
            &info,
            symtab,
            strtab,
            &versions,
        )?;
    }
    Ok(())
}

/// Version names by version index (the value in `.gnu.version`, hidden bit cleared).
#[derive(Default)]
pub(crate) struct VersionIndex {
    /// From vernaux `vna_other`: (version name, file name).
    pub needed: std::collections::HashMap<u16, (String, String)>,
    /// From verdef `vd_ndx`: version name.
    pub defined: std::collections::HashMap<u16, String>,
}

/// Iterate a linked list of fixed-size records: the first at `start`, each next one at the
/// current offset plus the `next` value it holds (0 ends the list).
///
/// The walk stops after `limit` records or when the list would leave the data. Because `next`
/// is unsigned and non-zero, every step moves forward, so the walk always ends.
fn read_verneed(
    b: Bytes<'_>,
    start: u64,
    count: Option<u64>,
    strtab: StrTab<'_>,
    index: &mut VersionIndex,
) -> Result<Vec<VersionNeed>, Error> {
    let trunc = Error::Truncated("version needs (DT_VERNEED)");
    let mut out = Vec::new();
    let mut off = start;
    // Every record is at least 16 bytes, so this bounds the walk even without DT_VERNEEDNUM.
    let limit = count.unwrap_or(u64::MAX).min(b.len() / 16 + 1);
    for _ in 0..limit {
        // Elf_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
        let e = b.at(off).ok_or(trunc.clone())?;
        let cnt = e.u16(2).ok_or(trunc.clone())?;
        let file_name = strtab.get(e.u32(4).ok_or(trunc.clone())?.into())?;
        let aux = e.u32(8).ok_or(trunc.clone())?;
        let next = e.u32(12).ok_or(trunc.clone())?;
        let mut versions = Vec::new();
        let mut aoff = off.checked_add(aux.into()).ok_or_else(|| trunc.clone())?;
        for _ in 0..cnt {
            // Elf_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
            let a = b.at(aoff).ok_or(trunc.clone())?;
            let flags = a.u16(4).ok_or(trunc.clone())?;
            let other = a.u16(6).ok_or(trunc.clone())?;
            let name = strtab.get(a.u32(8).ok_or(trunc.clone())?.into())?;
            let anext = a.u32(12).ok_or(trunc.clone())?;
            index
                .needed
                .entry(other & 0x7fff)
                .or_insert_with(|| (name.clone(), file_name.clone()));
            versions.push(VersionRef {
                name,
                weak: flags & VER_FLG_WEAK != 0,
            });
            if anext == 0 {
                break;
            }
            aoff = aoff.checked_add(anext.into()).ok_or(trunc.clone())?;
        }
        out.push(VersionNeed {
            file: file_name,
            versions,
        });
        if next == 0 {
            break;
        }
        off = off.checked_add(next.into()).ok_or(trunc.clone())?;
    }
    Ok(out)
}

fn read_verdef(
    b: Bytes<'_>,
    start: u64,
    count: Option<u64>,
    strtab: StrTab<'_>,
    index: &mut VersionIndex,
) -> Result<Vec<String>, Error> {
    let trunc = Error::Truncated("version definitions (DT_VERDEF)");
    let mut out: Vec<(bool, String)> = Vec::new();
    let mut off = start;
    let limit = count.unwrap_or(u64::MAX).min(b.len() / 20 + 1);
    for _ in 0..limit {
        // Elf_Verdef: vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16, vd_hash u32,
        // vd_aux u32, vd_next u32.
        let e = b.at(off).ok_or(trunc.clone())?;
        let flags = e.u16(2).ok_or(trunc.clone())?;
        let ndx = e.u16(4).ok_or(trunc.clone())?;
        let cnt = e.u16(6).ok_or(trunc.clone())?;
        let aux = e.u32(12).ok_or(trunc.clone())?;
        let next = e.u32(16).ok_or(trunc.clone())?;
        if cnt > 0 {
            // The first Elf_Verdaux (vda_name u32, vda_next u32) names the version.
            let aoff = off.checked_add(aux.into()).ok_or(trunc.clone())?;
            let name = strtab.get(b.u32(aoff).ok_or(trunc.clone())?.into())?;
            index
                .defined
                .entry(ndx & 0x7fff)
                .or_insert_with(|| name.clone());
            out.push((flags & VER_FLG_BASE != 0, name));
        }
        if next == 0 {
            break;
        }
        off = off.checked_add(next.into()).ok_or(trunc.clone())?;
    }
    // The base entry first (it normally already is); the rest in file order.
    out.sort_by_key(|(base, _)| !*base);
    Ok(out.into_iter().map(|(_, name)| name).collect())
}

/// Size of one `Elf_Sym`.
pub(crate) fn sym_size(class: Class) -> u64 {
    match class {
        Class::Elf32 => 16,
        Class::Elf64 => 24,
    }
}
