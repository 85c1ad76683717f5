//! CPU architectures that manylinux / musllinux wheels are built for, and the per-architecture
//! facts the audit needs (ELF identification, page size, distribution naming).
//!
//! Sources for the facts below:
//! - ELF `e_machine` numbers: the System V gABI registry (`EM_386` = 3, `EM_PPC64` = 21,
//!   `EM_S390` = 22, `EM_ARM` = 40, `EM_X86_64` = 62, `EM_AARCH64` = 183, `EM_RISCV` = 243,
//!   `EM_LOONGARCH` = 258), as in glibc's `elf.h`.
//! - ARM EABI flags: "ELF for the Arm Architecture" (`EF_ARM_EABIMASK` = 0xFF000000,
//!   `EF_ARM_EABI_VER5` = 0x05000000, `EF_ARM_ABI_FLOAT_HARD` = 0x400).
//! - Page sizes: the largest base page size a mainline Linux kernel can be configured with on
//!   that architecture (arm64 and loongarch 4/16/64 KiB, powerpc 4/64 KiB; x86, arm32, s390x and
//!   riscv64 only 4 KiB). A binary whose `PT_LOAD` alignment is below this fails to load on
//!   kernels using the larger pages.
//! - Debian architecture names and multiarch tuples: Debian's `dpkg-architecture` table.
//! - musl loader names: musl's `arch/*/reloc.h` (`LDSO_ARCH`), e.g. `/lib/ld-musl-armhf.so.1`.
//! - Alpine's musl libc soname `libc.musl-$CARCH.so.1`: Alpine's musl package, as used by
//!   auditwheel's `_fixup_musl_libc_soname`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// A CPU architecture as it appears in a wheel's platform tag (PEP 425 / PEP 599 / PEP 600).
///
/// Ordered as in [`Arch::ALL`]; serialized as the wheel name (`"x86_64"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    X86_64,
    I686,
    Aarch64,
    Armv7l,
    Ppc64,
    Ppc64le,
    S390x,
    Riscv64,
    Loongarch64,
}

/// `EM_386`
pub const EM_386: u16 = 3;
/// `EM_PPC64`
pub const EM_PPC64: u16 = 21;
/// `EM_S390` (also s390x)
pub const EM_S390: u16 = 22;
/// `EM_ARM`
pub const EM_ARM: u16 = 40;
/// `EM_X86_64`
pub const EM_X86_64: u16 = 62;
/// `EM_AARCH64`
pub const EM_AARCH64: u16 = 183;
/// `EM_RISCV`
pub const EM_RISCV: u16 = 243;
/// `EM_LOONGARCH`
pub const EM_LOONGARCH: u16 = 258;

/// ARM: mask of the EABI version in `e_flags`.
pub const EF_ARM_EABIMASK: u32 = 0xFF00_0000;
/// ARM: EABI version 5 (the current one; all armv7l Linux distributions use it).
pub const EF_ARM_EABI_VER5: u32 = 0x0500_0000;
/// ARM: the object uses the hard-float (VFP register) procedure call standard.
pub const EF_ARM_ABI_FLOAT_HARD: u32 = 0x0000_0400;
/// ARM: the object uses the soft-float procedure call standard.
pub const EF_ARM_ABI_FLOAT_SOFT: u32 = 0x0000_0200;

impl Arch {
    /// Every supported architecture, in declaration order.
    pub const ALL: [Arch; 9] = [
        Arch::X86_64,
        Arch::I686,
        Arch::Aarch64,
        Arch::Armv7l,
        Arch::Ppc64,
        Arch::Ppc64le,
        Arch::S390x,
        Arch::Riscv64,
        Arch::Loongarch64,
    ];

    /// The wheel (PEP 425) platform-tag name, as also used as key in the policy JSON.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::I686 => "i686",
            Arch::Aarch64 => "aarch64",
            Arch::Armv7l => "armv7l",
            Arch::Ppc64 => "ppc64",
            Arch::Ppc64le => "ppc64le",
            Arch::S390x => "s390x",
            Arch::Riscv64 => "riscv64",
            Arch::Loongarch64 => "loongarch64",
        }
    }

    /// Parse a wheel name or a common alias (case-insensitive): `amd64`/`x86-64`/`x64`,
    /// `i386`/`i486`/`i586`/`x86`, `arm64`, `armhf`/`armv7`/`armv7hl`, `powerpc64`,
    /// `ppc64el`/`powerpc64le`, `loong64`.
    pub fn from_name(s: &str) -> Result<Arch, Error> {
        let lower = s.trim().to_ascii_lowercase();
        let arch = match lower.as_str() {
            "x86_64" | "amd64" | "x86-64" | "x64" => Arch::X86_64,
            "i686" | "i386" | "i486" | "i586" | "x86" => Arch::I686,
            "aarch64" | "arm64" => Arch::Aarch64,
            "armv7l" | "armhf" | "armv7" | "armv7hl" | "armv7hf" => Arch::Armv7l,
            "ppc64" | "powerpc64" => Arch::Ppc64,
            "ppc64le" | "ppc64el" | "powerpc64le" => Arch::Ppc64le,
            "s390x" => Arch::S390x,
            "riscv64" => Arch::Riscv64,
            "loongarch64" | "loong64" => Arch::Loongarch64,
            _ => return Err(Error::UnknownArch(s.to_string())),
        };
        Ok(arch)
    }

    /// The ELF `e_machine` value of objects for this architecture.
    pub fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => EM_X86_64,
            Arch::I686 => EM_386,
            Arch::Aarch64 => EM_AARCH64,
            Arch::Armv7l => EM_ARM,
            Arch::Ppc64 | Arch::Ppc64le => EM_PPC64,
            Arch::S390x => EM_S390,
            Arch::Riscv64 => EM_RISCV,
            Arch::Loongarch64 => EM_LOONGARCH,
        }
    }

    /// Whether objects are ELFCLASS64.
    pub fn is_64(self) -> bool {
        !matches!(self, Arch::I686 | Arch::Armv7l)
    }

    /// Whether objects are ELFDATA2LSB.
    pub fn is_little_endian(self) -> bool {
        !matches!(self, Arch::Ppc64 | Arch::S390x)
    }

    /// Identify the wheel architecture of an ELF object from its header.
    ///
    /// `flags` (`e_flags`) does not take part in the identification (an ARM object with the
    /// wrong float ABI is still "armv7l", just a non-compliant one); use
    /// [`Arch::check_elf_flags`] for that. Returns `None` for objects no wheel tag describes
    /// (x32, big-endian aarch64/arm, 32-bit s390, riscv32, loongarch32, 32-bit ppc, ...).
    pub fn from_elf(machine: u16, is_64: bool, little_endian: bool, flags: u32) -> Option<Arch> {
        let _ = flags;
        let arch = match (machine, is_64, little_endian) {
            (EM_X86_64, true, true) => Arch::X86_64,
            (EM_386, false, true) => Arch::I686,
            (EM_AARCH64, true, true) => Arch::Aarch64,
            (EM_ARM, false, true) => Arch::Armv7l,
            (EM_PPC64, true, false) => Arch::Ppc64,
            (EM_PPC64, true, true) => Arch::Ppc64le,
            (EM_S390, true, false) => Arch::S390x,
            (EM_RISCV, true, true) => Arch::Riscv64,
            (EM_LOONGARCH, true, true) => Arch::Loongarch64,
            _ => return None,
        };
        Some(arch)
    }

    /// Largest page size a Linux kernel for this architecture may use; `PT_LOAD` segments must
    /// be aligned to at least this to load everywhere.
    pub fn max_page_size(self) -> u64 {
        match self {
            Arch::Aarch64 | Arch::Ppc64 | Arch::Ppc64le | Arch::Loongarch64 => 64 * 1024,
            Arch::X86_64 | Arch::I686 | Arch::Armv7l | Arch::S390x | Arch::Riscv64 => 4 * 1024,
        }
    }

    /// Debian's architecture name (`dpkg --print-architecture`).
    pub fn debian_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::I686 => "i386",
            Arch::Aarch64 => "arm64",
            Arch::Armv7l => "armhf",
            Arch::Ppc64 => "ppc64",
            Arch::Ppc64le => "ppc64el",
            Arch::S390x => "s390x",
            Arch::Riscv64 => "riscv64",
            Arch::Loongarch64 => "loong64",
        }
    }

    /// The suffix of the QEMU user-mode emulator (`qemu-<name>`, binfmt `qemu-<name>`).
    pub fn qemu_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::I686 => "i386",
            Arch::Aarch64 => "aarch64",
            Arch::Armv7l => "arm",
            Arch::Ppc64 => "ppc64",
            Arch::Ppc64le => "ppc64le",
            Arch::S390x => "s390x",
            Arch::Riscv64 => "riscv64",
            Arch::Loongarch64 => "loongarch64",
        }
    }

    /// Meson's `cpu_family` (its reference table of CPU families) for a cross file.
    pub fn meson_cpu_family(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::I686 => "x86",
            Arch::Aarch64 => "aarch64",
            Arch::Armv7l => "arm",
            Arch::Ppc64 | Arch::Ppc64le => "ppc64",
            Arch::S390x => "s390x",
            Arch::Riscv64 => "riscv64",
            Arch::Loongarch64 => "loongarch64",
        }
    }

    /// The GNU triple as Debian uses it for its multiarch directories
    /// (`/usr/lib/<triple>`); note `i386-linux-gnu` for i686.
    pub fn gnu_triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-linux-gnu",
            Arch::I686 => "i386-linux-gnu",
            Arch::Aarch64 => "aarch64-linux-gnu",
            Arch::Armv7l => "arm-linux-gnueabihf",
            Arch::Ppc64 => "powerpc64-linux-gnu",
            Arch::Ppc64le => "powerpc64le-linux-gnu",
            Arch::S390x => "s390x-linux-gnu",
            Arch::Riscv64 => "riscv64-linux-gnu",
            Arch::Loongarch64 => "loongarch64-linux-gnu",
        }
    }

    /// The name in musl's loader path `/lib/ld-musl-<name>.so.1` and its search-path file
    /// `/etc/ld-musl-<name>.path` (hard-float, double-precision ABIs).
    pub fn musl_loader_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::I686 => "i386",
            Arch::Aarch64 => "aarch64",
            Arch::Armv7l => "armhf",
            Arch::Ppc64 => "powerpc64",
            Arch::Ppc64le => "powerpc64le",
            Arch::S390x => "s390x",
            Arch::Riscv64 => "riscv64",
            Arch::Loongarch64 => "loongarch64",
        }
    }

    /// The musl dynamic loader path, e.g. `/lib/ld-musl-x86_64.so.1`.
    pub fn musl_loader(self) -> String {
        format!("/lib/ld-musl-{}.so.1", self.musl_loader_arch())
    }

    /// The soname Alpine Linux gives musl's libc (`libc.musl-$CARCH.so.1`), which musllinux
    /// binaries built on Alpine record in `DT_NEEDED`. `None` for ppc64 (no Alpine port).
    pub fn musl_libc_soname(self) -> Option<&'static str> {
        Some(match self {
            Arch::X86_64 => "libc.musl-x86_64.so.1",
            Arch::I686 => "libc.musl-x86.so.1",
            Arch::Aarch64 => "libc.musl-aarch64.so.1",
            Arch::Armv7l => "libc.musl-armv7.so.1",
            Arch::Ppc64le => "libc.musl-ppc64le.so.1",
            Arch::S390x => "libc.musl-s390x.so.1",
            Arch::Riscv64 => "libc.musl-riscv64.so.1",
            Arch::Loongarch64 => "libc.musl-loongarch64.so.1",
            Arch::Ppc64 => return None,
        })
    }

    /// Check `e_flags` against the ABI every manylinux/musllinux distribution for this
    /// architecture uses. armv7l must be ARM EABI version 5 and hard-float; the other
    /// architectures are not checked.
    pub fn check_elf_flags(self, flags: u32) -> Result<(), String> {
        if self != Arch::Armv7l {
            return Ok(());
        }
        let eabi = flags & EF_ARM_EABIMASK;
        if eabi != EF_ARM_EABI_VER5 {
            return Err(format!(
                "ARM EABI version {} (e_flags {flags:#010x}); armv7l wheels need EABI version 5",
                eabi >> 24
            ));
        }
        if flags & EF_ARM_ABI_FLOAT_HARD == 0 {
            let what = if flags & EF_ARM_ABI_FLOAT_SOFT != 0 {
                "soft-float ABI"
            } else {
                "no hard-float ABI flag"
            };
            return Err(format!(
                "{what} (e_flags {flags:#010x}); armv7l wheels need the hard-float ABI (EF_ARM_ABI_FLOAT_HARD)"
            ));
        }
        Ok(())
    }

    /// Whether x86-64 micro-architecture (ISA level) checks apply to this architecture.
    pub fn x86_isa_baseline(self) -> bool {
        self == Arch::X86_64
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arch::from_name(s)
    }
}

impl Serialize for Arch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Arch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Arch::from_name(&s).map_err(serde::de::Error::custom)
    }
}
