//! Read (and, later, patch) ELF files of every architecture, class and byte order.
//!
//! This crate knows nothing about wheels or policies. [`parse`] turns the bytes of an ELF file
//! into an owned [`ElfFile`] summary holding everything an audit needs: dynamic section entries,
//! symbol versioning, dynamic symbols and GNU property notes.

mod error;
mod read;
mod write;

pub use error::Error;
pub use read::{is_elf, needed_ranges, parse, parse_ident, parse_sparse, Ident, IDENT_LEN};
pub use write::{
    dynamic_strings, max_page_size, patch, strip, DynamicStrings, Patch, PatchError, PatchReport,
    Patched, RpathChange, RpathKind, SegmentChange, StripReport, Stripped,
};

/// ELF class (word size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Elf32,
    Elf64,
}

/// Byte order of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endian {
    Little,
    Big,
}

/// Binding of a dynamic symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Binding {
    Local,
    Global,
    Weak,
    /// STB_GNU_UNIQUE and others.
    Other(u8),
}

/// One entry of `.dynsym` (the null symbol at index 0 is left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynSymbol {
    pub name: String,
    /// `st_shndx == SHN_UNDEF`.
    pub undefined: bool,
    pub binding: Binding,
    /// `ELF_ST_TYPE(st_info)` (STT_FUNC = 2, STT_OBJECT = 1, ...).
    pub kind: u8,
    /// The version name bound through `.gnu.version` (from verneed for undefined symbols, from
    /// verdef for defined ones); `None` when unversioned (index 0 or 1) or no version table.
    pub version: Option<String>,
    /// For an undefined symbol with a version: the file named by the verneed entry (e.g. `libc.so.6`).
    pub version_file: Option<String>,
    /// The hidden bit (0x8000) of the version index was set.
    pub version_hidden: bool,
}

/// One `Vernaux` entry: a version required from a library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRef {
    pub name: String,
    /// `VER_FLG_WEAK` is set.
    pub weak: bool,
}

/// One `Verneed` entry: the versions required from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionNeed {
    pub file: String,
    pub versions: Vec<VersionRef>,
}

/// The `e_ident`/header facts needed to tell whether a file can be loaded with another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    pub class: Class,
    pub endian: Endian,
    pub osabi: u8,
    /// `e_type` (ET_EXEC = 2, ET_DYN = 3, ...).
    pub elf_type: u16,
    /// `e_machine` (EM_X86_64 = 62, EM_AARCH64 = 183, ...).
    pub machine: u16,
    /// `e_flags` (e.g. ARM EABI version and float ABI).
    pub flags: u32,
}

/// Everything about one ELF file that an audit needs, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfFile {
    pub header: Header,
    /// PT_INTERP contents, if any.
    pub interpreter: Option<String>,
    /// Whether the file has a dynamic section (PT_DYNAMIC).
    pub is_dynamic: bool,
    pub soname: Option<String>,
    /// DT_NEEDED in file order.
    pub needed: Vec<String>,
    /// DT_RPATH split at `:` (empty entries dropped), in order.
    pub rpath: Vec<String>,
    /// DT_RUNPATH split at `:` (empty entries dropped), in order.
    pub runpath: Vec<String>,
    /// `.gnu.version_r` (DT_VERNEED).
    pub version_needs: Vec<VersionNeed>,
    /// `.gnu.version_d` (DT_VERDEF) names, the base (VER_FLG_BASE) entry included first if present.
    pub version_defs: Vec<String>,
    /// `.dynsym` entries except index 0.
    pub dynamic_symbols: Vec<DynSymbol>,
    /// `GNU_PROPERTY_X86_ISA_1_NEEDED` bitmask from NT_GNU_PROPERTY_TYPE_0, if present
    /// (bit 0 = baseline, bit 1 = x86-64-v2, bit 2 = v3, bit 3 = v4).
    pub x86_isa_needed: Option<u32>,
    /// PT_GNU_STACK present and has PF_X; `None` when there is no PT_GNU_STACK.
    pub exec_stack: Option<bool>,
}
