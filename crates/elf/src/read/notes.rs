//! GNU property notes (NT_GNU_PROPERTY_TYPE_0).

use super::bytes::{align_up, Bytes};
use super::{Segment, PT_GNU_PROPERTY, PT_NOTE};
use crate::{Class, Error};

const EM_386: u16 = 3;
const EM_IAMCU: u16 = 6;
const EM_X86_64: u16 = 62;
const NT_GNU_PROPERTY_TYPE_0: u32 = 5;
const GNU_PROPERTY_X86_ISA_1_NEEDED: u32 = 0xc000_8002;

/// The OR of every `GNU_PROPERTY_X86_ISA_1_NEEDED` value in the file's GNU property notes.
///
/// PT_GNU_PROPERTY is used when present, else every PT_NOTE segment. Property types in this
/// range are processor-specific, so only x86 files (EM_386, EM_IAMCU, EM_X86_64) are looked at.
pub(crate) fn x86_isa_needed(
    b: Bytes<'_>,
    machine: u16,
    segments: &[Segment],
) -> Result<Option<u32>, Error> {
    if !matches!(machine, EM_386 | EM_IAMCU | EM_X86_64) {
        return Ok(None);
    }
    let mut chosen: Vec<&Segment> = segments
        .iter()
        .filter(|s| s.kind == PT_GNU_PROPERTY)
        .collect();
    if chosen.is_empty() {
        chosen = segments.iter().filter(|s| s.kind == PT_NOTE).collect();
    }
    let mut result = None;
    for seg in chosen {
        let data = b
            .slice(seg.offset, seg.filesz)
            .ok_or(Error::Truncated("note segment"))?;
        let align = if seg.align == 8 { 8 } else { 4 };
        walk_notes(b.with_data(data), align, &mut result)?;
    }
    Ok(result)
}

fn walk_notes(n: Bytes<'_>, align: u64, result: &mut Option<u32>) -> Result<(), Error> {
    let bad = || Error::Malformed("note extends past its segment".into());
    let mut pos = 0u64;
    // A note header is 12 bytes; trailing padding shorter than that is ignored.
    while let (Some(namesz), Some(descsz), Some(kind)) =
        (n.u32(pos), n.u32(pos + 4), n.u32(pos + 8))
    {
        let name_off = pos + 12;
        let name = n.slice(name_off, namesz.into()).ok_or_else(bad)?;
        let desc_off = align_up(name_off + u64::from(namesz), align).ok_or_else(bad)?;
        let desc = n.slice(desc_off, descsz.into()).ok_or_else(bad)?;
        if name == b"GNU\0" && kind == NT_GNU_PROPERTY_TYPE_0 {
            walk_properties(n.with_data(desc), result)?;
        }
        pos = align_up(desc_off + u64::from(descsz), align).ok_or_else(bad)?;
    }
    Ok(())
}

fn walk_properties(p: Bytes<'_>, result: &mut Option<u32>) -> Result<(), Error> {
    let align = match p.class {
        Class::Elf32 => 4,
        Class::Elf64 => 8,
    };
    let mut pos = 0u64;
    while let (Some(kind), Some(size)) = (p.u32(pos), p.u32(pos + 4)) {
        let data = p
            .slice(pos + 8, size.into())
            .ok_or_else(|| Error::Malformed("GNU property extends past its note".into()))?;
        if kind == GNU_PROPERTY_X86_ISA_1_NEEDED {
            let v = p.with_data(data).u32(0).ok_or_else(|| {
                Error::Malformed("GNU_PROPERTY_X86_ISA_1_NEEDED is too short".into())
            })?;
            *result = Some(result.unwrap_or(0) | v);
        }
        pos = align_up(pos + 8 + u64::from(size), align)
            .ok_or_else(|| Error::Malformed("GNU property size overflows".into()))?;
    }
    Ok(())
}
