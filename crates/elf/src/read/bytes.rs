//! A small bounds-checked, endian- and class-aware view of the file bytes.

use std::ops::Range;

use crate::{Class, Endian};

/// The file bytes plus the byte order and word size used to decode them.
///
/// Every accessor returns `None` instead of panicking when the requested range does not lie
/// completely inside the data or an offset computation overflows.
#[derive(Clone, Copy)]
pub(crate) struct Bytes<'a> {
    pub data: &'a [u8],
    pub class: Class,
    pub endian: Endian,
    /// The whole file image every `data` is a part of.
    origin: &'a [u8],
    /// For a sparse image: the only file ranges that hold real bytes; reading anything else
    /// is refused as if the file were truncated.
    present: Option<&'a [Range<u64>]>,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8], class: Class, endian: Endian) -> Self {
        Bytes {
            data,
            class,
            endian,
            origin: data,
            present: None,
        }
    }

    /// A view of a sparse image in which only the `present` ranges hold the file's bytes.
    pub fn sparse(data: &'a [u8], class: Class, endian: Endian, present: &'a [Range<u64>]) -> Self {
        Bytes {
            present: Some(present),
            ..Bytes::new(data, class, endian)
        }
    }

    /// The same byte order and class over other data.
    pub fn with_data(self, data: &'a [u8]) -> Self {
        Bytes { data, ..self }
    }

    pub fn len(&self) -> u64 {
        self.data.len() as u64
    }

    pub fn slice(&self, off: u64, len: u64) -> Option<&'a [u8]> {
        let start = usize::try_from(off).ok()?;
        let len = usize::try_from(len).ok()?;
        let end = start.checked_add(len)?;
        let part = self.data.get(start..end)?;
        match self.present {
            Some(present) if len > 0 => {
                // Offset of `part` in the whole image (both borrow the same buffer).
                let abs = (part.as_ptr() as usize - self.origin.as_ptr() as usize) as u64;
                let abs_end = abs + len as u64;
                present
                    .iter()
                    .any(|r| r.start <= abs && abs_end <= r.end)
                    .then_some(part)
            }
            _ => Some(part),
        }
    }

    /// Everything from `off` to the end of the data.
    pub fn tail(&self, off: u64) -> Option<&'a [u8]> {
        let start = usize::try_from(off).ok()?;
        self.data.get(start..)
    }

    /// A view of the data from `off` on (same byte order and class), so that fields can be read
    /// at small constant offsets without any risk of overflow.
    pub fn at(&self, off: u64) -> Option<Bytes<'a>> {
        self.tail(off).map(|d| self.with_data(d))
    }

    fn array<const N: usize>(&self, off: u64) -> Option<[u8; N]> {
        self.slice(off, N as u64)?.try_into().ok()
    }

    pub fn u8(&self, off: u64) -> Option<u8> {
        self.array::<1>(off).map(|b| b[0])
    }

    pub fn u16(&self, off: u64) -> Option<u16> {
        let b = self.array::<2>(off)?;
        Some(match self.endian {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        })
    }

    pub fn u32(&self, off: u64) -> Option<u32> {
        let b = self.array::<4>(off)?;
        Some(match self.endian {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        })
    }

    pub fn u64(&self, off: u64) -> Option<u64> {
        let b = self.array::<8>(off)?;
        Some(match self.endian {
            Endian::Little => u64::from_le_bytes(b),
            Endian::Big => u64::from_be_bytes(b),
        })
    }

    /// An address-sized word: 4 bytes in ELF32, 8 bytes in ELF64.
    pub fn word(&self, off: u64) -> Option<u64> {
        match self.class {
            Class::Elf32 => self.u32(off).map(u64::from),
            Class::Elf64 => self.u64(off),
        }
    }

    /// Size in bytes of an address-sized word.
    pub fn word_size(&self) -> u64 {
        match self.class {
            Class::Elf32 => 4,
            Class::Elf64 => 8,
        }
    }
}

/// Round `v` up to a multiple of `align` (a power of two, or 0/1 for no alignment).
pub(crate) fn align_up(v: u64, align: u64) -> Option<u64> {
    if align <= 1 {
        return Some(v);
    }
    let mask = align - 1;
    v.checked_add(mask).map(|x| x & !mask)
}

/// Lossy UTF-8 of the bytes before the first NUL of `bytes` (all of them if there is none).
pub(crate) fn c_str_lossy(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}
