//! Platform policies (PEP 513, 571, 599, 600, 656): embedded policy data, the per-architecture
//! facts, and the platform-tag algebra.

mod abi3;
mod arch;
mod error;
mod policy;
mod tag;

pub use abi3::{
    abi3_symbol, abi3_symbol_added, abi3_symbols, is_abi3_symbol, Abi3Kind, Abi3Symbol,
};
pub use arch::Arch;
pub use error::Error;
pub use policy::{
    embedded_records, parse_policy_file, validate, Libc, Policy, PolicyRecord, PolicySet,
    MANYLINUX_POLICY_JSON, MUSLLINUX_POLICY_JSON,
};
pub use tag::PlatformTag;

/// ELF constants used by [`Arch`].
pub mod elf {
    pub use crate::arch::{
        EF_ARM_ABI_FLOAT_HARD, EF_ARM_ABI_FLOAT_SOFT, EF_ARM_EABIMASK, EF_ARM_EABI_VER5, EM_386,
        EM_AARCH64, EM_ARM, EM_LOONGARCH, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64,
    };
}
