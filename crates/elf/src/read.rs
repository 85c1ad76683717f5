use crate::{ElfFile, Error, Header};

/// The first bytes of an ELF header, as far as they can be read from a short prefix.
pub type Ident = Header;

/// Return true when `prefix` starts with the ELF magic.
pub fn is_elf(prefix: &[u8]) -> bool {
    prefix.starts_with(b"\x7fELF")
}

/// Read the header facts from the first 64 bytes (or more) of a file.
pub fn parse_ident(_prefix: &[u8]) -> Result<Header, Error> {
    todo!("elf helper implements")
}

/// Parse a whole ELF file.
pub fn parse(_data: &[u8]) -> Result<ElfFile, Error> {
    todo!("elf helper implements")
}
