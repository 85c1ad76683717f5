//! Bounds-checked, class- and endian-aware reads and writes on file bytes.
//!
//! The same style as the reader's view: every access returns an error instead of panicking
//! when the range does not lie completely inside the buffer or an offset computation overflows.

use crate::{Class, Endian, Error};

/// Byte order and word size, the two facts every field access needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Codec {
    pub class: Class,
    pub endian: Endian,
}

fn range(len: usize, off: u64, n: u64) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(off).ok()?;
    let end = start.checked_add(usize::try_from(n).ok()?)?;
    (end <= len).then_some(start..end)
}

impl Codec {
    /// Size of an address-sized word.
    pub fn ws(self) -> u64 {
        match self.class {
            Class::Elf32 => 4,
            Class::Elf64 => 8,
        }
    }

    pub fn get(self, d: &[u8], off: u64, n: u64, what: &'static str) -> Result<u64, Error> {
        let r = range(d.len(), off, n).ok_or(Error::Truncated(what))?;
        let b = &d[r];
        let mut v = 0u64;
        match self.endian {
            Endian::Big => {
                for &x in b {
                    v = (v << 8) | u64::from(x);
                }
            }
            Endian::Little => {
                for &x in b.iter().rev() {
                    v = (v << 8) | u64::from(x);
                }
            }
        }
        Ok(v)
    }

    pub fn u16(self, d: &[u8], off: u64, what: &'static str) -> Result<u16, Error> {
        self.get(d, off, 2, what).map(|v| v as u16)
    }

    pub fn u32(self, d: &[u8], off: u64, what: &'static str) -> Result<u32, Error> {
        self.get(d, off, 4, what).map(|v| v as u32)
    }

    pub fn word(self, d: &[u8], off: u64, what: &'static str) -> Result<u64, Error> {
        self.get(d, off, self.ws(), what)
    }

    /// Write the low `n` bytes of `v`; fails when `v` does not fit in `n` bytes.
    pub fn put(
        self,
        d: &mut [u8],
        off: u64,
        n: u64,
        v: u64,
        what: &'static str,
    ) -> Result<(), Error> {
        if n < 8 && v >> (8 * n) != 0 {
            return Err(Error::Malformed(format!(
                "{what}: value {v:#x} does not fit"
            )));
        }
        let r = range(d.len(), off, n).ok_or(Error::Truncated(what))?;
        let b = &mut d[r];
        let len = b.len();
        for (i, x) in b.iter_mut().enumerate() {
            let shift = match self.endian {
                Endian::Little => 8 * i,
                Endian::Big => 8 * (len - 1 - i),
            };
            *x = (v >> shift) as u8;
        }
        Ok(())
    }

    pub fn put_u16(self, d: &mut [u8], off: u64, v: u16, what: &'static str) -> Result<(), Error> {
        self.put(d, off, 2, v.into(), what)
    }

    pub fn put_u32(self, d: &mut [u8], off: u64, v: u32, what: &'static str) -> Result<(), Error> {
        self.put(d, off, 4, v.into(), what)
    }

    pub fn put_word(self, d: &mut [u8], off: u64, v: u64, what: &'static str) -> Result<(), Error> {
        self.put(d, off, self.ws(), v, what)
    }
}

/// `d[off..off + len]`, checked.
pub(crate) fn slice<'a>(
    d: &'a [u8],
    off: u64,
    len: u64,
    what: &'static str,
) -> Result<&'a [u8], Error> {
    range(d.len(), off, len)
        .map(|r| &d[r])
        .ok_or(Error::Truncated(what))
}

/// Copy `src` into `d` at `off`, checked.
pub(crate) fn write_at(
    d: &mut [u8],
    off: u64,
    src: &[u8],
    what: &'static str,
) -> Result<(), Error> {
    let r = range(d.len(), off, src.len() as u64).ok_or(Error::Truncated(what))?;
    d[r].copy_from_slice(src);
    Ok(())
}

/// Round `v` up to a multiple of `align` (0 and 1 mean no alignment; others must be powers
/// of two, anything else is treated as 1).
pub(crate) fn align_up(v: u64, align: u64) -> Result<u64, Error> {
    if align <= 1 || !align.is_power_of_two() {
        return Ok(v);
    }
    v.checked_add(align - 1)
        .map(|x| x & !(align - 1))
        .ok_or_else(|| Error::Malformed("offset overflows".into()))
}

pub(crate) fn add(a: u64, b: u64) -> Result<u64, Error> {
    a.checked_add(b)
        .ok_or_else(|| Error::Malformed("offset overflows".into()))
}
