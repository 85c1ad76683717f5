//! The parts of an ELF file the patcher rewrites, decoded into plain values (and encoded back).

use super::buf::{add, slice, Codec};
use crate::{Class, Endian, Error};

pub(crate) const PT_NULL: u32 = 0;
pub(crate) const PT_LOAD: u32 = 1;
pub(crate) const PT_DYNAMIC: u32 = 2;
pub(crate) const PT_INTERP: u32 = 3;
pub(crate) const PT_NOTE: u32 = 4;
pub(crate) const PT_PHDR: u32 = 6;
pub(crate) const PF_X: u32 = 1;
pub(crate) const PF_W: u32 = 2;
pub(crate) const PF_R: u32 = 4;

pub(crate) const SHT_NULL: u32 = 0;
pub(crate) const SHT_STRTAB: u32 = 3;
pub(crate) const SHT_DYNAMIC: u32 = 6;
pub(crate) const SHT_NOBITS: u32 = 8;
pub(crate) const SHT_DYNSYM: u32 = 11;
pub(crate) const SHT_GNU_VERDEF: u32 = 0x6fff_fffd;
pub(crate) const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
pub(crate) const SHF_ALLOC: u64 = 2;

const PN_XNUM: u64 = 0xffff;

/// One program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Phdr {
    pub kind: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub paddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

impl Phdr {
    pub fn file_end(&self) -> u64 {
        self.offset.saturating_add(self.filesz)
    }

    pub fn mem_end(&self) -> u64 {
        self.vaddr.saturating_add(self.memsz)
    }
}

/// One section header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shdr {
    pub name: u32,
    pub kind: u32,
    pub flags: u64,
    pub addr: u64,
    pub offset: u64,
    pub size: u64,
    pub link: u32,
    pub info: u32,
    pub addralign: u64,
    pub entsize: u64,
}

impl Shdr {
    /// The file bytes the section occupies (empty for SHT_NOBITS).
    pub fn file_range(&self) -> (u64, u64) {
        let size = if self.kind == SHT_NOBITS || self.kind == SHT_NULL {
            0
        } else {
            self.size
        };
        (self.offset, self.offset.saturating_add(size))
    }
}

/// The decoded ELF header, program headers and section headers of a file.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub c: Codec,
    pub machine: u16,
    pub phoff: u64,
    pub phentsize: u64,
    pub phdrs: Vec<Phdr>,
    pub shoff: u64,
    pub shentsize: u64,
    pub shdrs: Vec<Shdr>,
    /// e_shnum was 0 with sections present: the count lives in section 0 (kept as it is).
    pub shnum_extended: bool,
}

/// Field offsets inside the ELF header: (e_phoff, e_shoff, e_phentsize).
fn ehdr_fields(class: Class) -> (u64, u64, u64) {
    match class {
        Class::Elf32 => (28, 32, 42),
        Class::Elf64 => (32, 40, 54),
    }
}

impl Model {
    pub fn read(d: &[u8]) -> Result<Model, Error> {
        if !d.starts_with(b"\x7fELF") {
            return Err(Error::NotElf);
        }
        let class = match d.get(4) {
            Some(1) => Class::Elf32,
            Some(2) => Class::Elf64,
            Some(x) => return Err(Error::Malformed(format!("invalid EI_CLASS {x}"))),
            None => return Err(Error::Truncated("e_ident")),
        };
        let endian = match d.get(5) {
            Some(1) => Endian::Little,
            Some(2) => Endian::Big,
            Some(x) => return Err(Error::Malformed(format!("invalid EI_DATA {x}"))),
            None => return Err(Error::Truncated("e_ident")),
        };
        let c = Codec { class, endian };
        let t = "ELF header";
        let machine = c.u16(d, 18, t)?;
        let (phoff_at, shoff_at, phentsize_at) = ehdr_fields(class);
        let phoff = c.word(d, phoff_at, t)?;
        let shoff = c.word(d, shoff_at, t)?;
        let phentsize = u64::from(c.u16(d, phentsize_at, t)?);
        let phnum = u64::from(c.u16(d, phentsize_at + 2, t)?);
        let shentsize = u64::from(c.u16(d, phentsize_at + 4, t)?);
        let shnum = u64::from(c.u16(d, phentsize_at + 6, t)?);
        c.u16(d, phentsize_at + 8, t)?;
        if phnum == PN_XNUM {
            return Err(Error::Malformed(
                "extended program header numbering (PN_XNUM) is not supported".into(),
            ));
        }
        let (min_ph, min_sh) = match class {
            Class::Elf32 => (32, 40),
            Class::Elf64 => (56, 64),
        };
        let mut phdrs = Vec::new();
        if phnum > 0 {
            if phentsize < min_ph {
                return Err(Error::Malformed(format!(
                    "e_phentsize {phentsize} is too small"
                )));
            }
            let table = slice(d, phoff, phnum * phentsize, "program headers")?;
            for i in 0..phnum {
                phdrs.push(read_phdr(c, table, i * phentsize)?);
            }
        }
        let mut shdrs = Vec::new();
        let mut shnum_extended = false;
        if shoff != 0 && !(shnum == 0 && shentsize == 0) {
            if shentsize < min_sh {
                return Err(Error::Malformed(format!(
                    "e_shentsize {shentsize} is too small"
                )));
            }
            let first = read_shdr(c, slice(d, shoff, shentsize, "section headers")?, 0)?;
            let count = if shnum == 0 {
                shnum_extended = true;
                first.size
            } else {
                shnum
            };
            let total = count
                .checked_mul(shentsize)
                .ok_or(Error::Truncated("section headers"))?;
            let table = slice(d, shoff, total, "section headers")?;
            for i in 0..count {
                shdrs.push(read_shdr(c, table, i * shentsize)?);
            }
        }
        // Everything the headers describe must be in the file: a cut-off file is not patched.
        let len = d.len() as u64;
        let beyond = |end: Option<u64>| !matches!(end, Some(e) if e <= len);
        if phdrs.iter().any(|p| beyond(p.offset.checked_add(p.filesz))) {
            return Err(Error::Truncated("segment beyond the end of the file"));
        }
        if shdrs.iter().any(|s| {
            let size = if s.kind == SHT_NOBITS || s.kind == SHT_NULL {
                0
            } else {
                s.size
            };
            beyond(s.offset.checked_add(size))
        }) {
            return Err(Error::Truncated("section beyond the end of the file"));
        }
        Ok(Model {
            c,
            machine,
            phoff,
            phentsize,
            phdrs,
            shoff,
            shentsize,
            shdrs,
            shnum_extended,
        })
    }

    /// Size of the program header table in bytes.
    pub fn ph_size(&self) -> u64 {
        self.phdrs.len() as u64 * self.phentsize
    }

    /// Size of the section header table in bytes.
    pub fn sh_size(&self) -> u64 {
        self.shdrs.len() as u64 * self.shentsize
    }

    pub fn loads(&self) -> impl Iterator<Item = &Phdr> {
        self.phdrs.iter().filter(|p| p.kind == PT_LOAD)
    }

    /// File offset of a virtual address, and the file bytes its PT_LOAD holds from there on.
    pub fn addr_to_offset(&self, addr: u64) -> Result<(u64, u64), Error> {
        for p in self.loads() {
            if addr >= p.vaddr && addr - p.vaddr < p.filesz {
                let delta = addr - p.vaddr;
                return Ok((add(p.offset, delta)?, p.filesz - delta));
            }
        }
        Err(Error::Malformed(format!(
            "address {addr:#x} is not in any PT_LOAD segment"
        )))
    }

    /// Write the ELF header fields that locate the tables.
    pub fn write_ehdr(&self, d: &mut [u8]) -> Result<(), Error> {
        let c = self.c;
        let (phoff_at, shoff_at, phentsize_at) = ehdr_fields(c.class);
        let t = "ELF header";
        c.put_word(d, phoff_at, self.phoff, t)?;
        c.put_word(d, shoff_at, self.shoff, t)?;
        let phnum = u16::try_from(self.phdrs.len())
            .ok()
            .filter(|&n| u64::from(n) < PN_XNUM)
            .ok_or_else(|| Error::Malformed("too many program headers".into()))?;
        c.put_u16(d, phentsize_at + 2, phnum, t)?;
        if !self.shnum_extended {
            let shnum = u16::try_from(self.shdrs.len())
                .map_err(|_| Error::Malformed("too many sections".into()))?;
            c.put_u16(d, phentsize_at + 6, shnum, t)?;
        }
        Ok(())
    }

    /// The program header table, encoded (each entry padded to e_phentsize).
    pub fn encode_phdrs(&self) -> Result<Vec<u8>, Error> {
        let mut out = vec![0u8; usize::try_from(self.ph_size()).unwrap_or(usize::MAX)];
        for (i, p) in self.phdrs.iter().enumerate() {
            write_phdr(self.c, &mut out, i as u64 * self.phentsize, p)?;
        }
        Ok(out)
    }

    /// The section header table, encoded; entries beyond the fields known are kept from `old`.
    pub fn encode_shdrs(&self, old: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = old.to_vec();
        out.resize(usize::try_from(self.sh_size()).unwrap_or(usize::MAX), 0);
        for (i, s) in self.shdrs.iter().enumerate() {
            write_shdr(self.c, &mut out, i as u64 * self.shentsize, s)?;
        }
        Ok(out)
    }
}

fn read_phdr(c: Codec, t: &[u8], o: u64) -> Result<Phdr, Error> {
    let w = "program headers";
    Ok(match c.class {
        Class::Elf32 => Phdr {
            kind: c.u32(t, o, w)?,
            offset: c.u32(t, o + 4, w)?.into(),
            vaddr: c.u32(t, o + 8, w)?.into(),
            paddr: c.u32(t, o + 12, w)?.into(),
            filesz: c.u32(t, o + 16, w)?.into(),
            memsz: c.u32(t, o + 20, w)?.into(),
            flags: c.u32(t, o + 24, w)?,
            align: c.u32(t, o + 28, w)?.into(),
        },
        Class::Elf64 => Phdr {
            kind: c.u32(t, o, w)?,
            flags: c.u32(t, o + 4, w)?,
            offset: c.word(t, o + 8, w)?,
            vaddr: c.word(t, o + 16, w)?,
            paddr: c.word(t, o + 24, w)?,
            filesz: c.word(t, o + 32, w)?,
            memsz: c.word(t, o + 40, w)?,
            align: c.word(t, o + 48, w)?,
        },
    })
}

fn write_phdr(c: Codec, t: &mut [u8], o: u64, p: &Phdr) -> Result<(), Error> {
    let w = "program headers";
    match c.class {
        Class::Elf32 => {
            c.put_u32(t, o, p.kind, w)?;
            c.put(t, o + 4, 4, p.offset, w)?;
            c.put(t, o + 8, 4, p.vaddr, w)?;
            c.put(t, o + 12, 4, p.paddr, w)?;
            c.put(t, o + 16, 4, p.filesz, w)?;
            c.put(t, o + 20, 4, p.memsz, w)?;
            c.put_u32(t, o + 24, p.flags, w)?;
            c.put(t, o + 28, 4, p.align, w)?;
        }
        Class::Elf64 => {
            c.put_u32(t, o, p.kind, w)?;
            c.put_u32(t, o + 4, p.flags, w)?;
            c.put_word(t, o + 8, p.offset, w)?;
            c.put_word(t, o + 16, p.vaddr, w)?;
            c.put_word(t, o + 24, p.paddr, w)?;
            c.put_word(t, o + 32, p.filesz, w)?;
            c.put_word(t, o + 40, p.memsz, w)?;
            c.put_word(t, o + 48, p.align, w)?;
        }
    }
    Ok(())
}

fn read_shdr(c: Codec, t: &[u8], o: u64) -> Result<Shdr, Error> {
    let w = "section headers";
    Ok(match c.class {
        Class::Elf32 => Shdr {
            name: c.u32(t, o, w)?,
            kind: c.u32(t, o + 4, w)?,
            flags: c.u32(t, o + 8, w)?.into(),
            addr: c.u32(t, o + 12, w)?.into(),
            offset: c.u32(t, o + 16, w)?.into(),
            size: c.u32(t, o + 20, w)?.into(),
            link: c.u32(t, o + 24, w)?,
            info: c.u32(t, o + 28, w)?,
            addralign: c.u32(t, o + 32, w)?.into(),
            entsize: c.u32(t, o + 36, w)?.into(),
        },
        Class::Elf64 => Shdr {
            name: c.u32(t, o, w)?,
            kind: c.u32(t, o + 4, w)?,
            flags: c.word(t, o + 8, w)?,
            addr: c.word(t, o + 16, w)?,
            offset: c.word(t, o + 24, w)?,
            size: c.word(t, o + 32, w)?,
            link: c.u32(t, o + 40, w)?,
            info: c.u32(t, o + 44, w)?,
            addralign: c.word(t, o + 48, w)?,
            entsize: c.word(t, o + 56, w)?,
        },
    })
}

fn write_shdr(c: Codec, t: &mut [u8], o: u64, s: &Shdr) -> Result<(), Error> {
    let w = "section headers";
    match c.class {
        Class::Elf32 => {
            c.put_u32(t, o, s.name, w)?;
            c.put_u32(t, o + 4, s.kind, w)?;
            c.put(t, o + 8, 4, s.flags, w)?;
            c.put(t, o + 12, 4, s.addr, w)?;
            c.put(t, o + 16, 4, s.offset, w)?;
            c.put(t, o + 20, 4, s.size, w)?;
            c.put_u32(t, o + 24, s.link, w)?;
            c.put_u32(t, o + 28, s.info, w)?;
            c.put(t, o + 32, 4, s.addralign, w)?;
            c.put(t, o + 36, 4, s.entsize, w)?;
        }
        Class::Elf64 => {
            c.put_u32(t, o, s.name, w)?;
            c.put_u32(t, o + 4, s.kind, w)?;
            c.put_word(t, o + 8, s.flags, w)?;
            c.put_word(t, o + 16, s.addr, w)?;
            c.put_word(t, o + 24, s.offset, w)?;
            c.put_word(t, o + 32, s.size, w)?;
            c.put_u32(t, o + 40, s.link, w)?;
            c.put_u32(t, o + 44, s.info, w)?;
            c.put_word(t, o + 48, s.addralign, w)?;
            c.put_word(t, o + 56, s.entsize, w)?;
        }
    }
    Ok(())
}
