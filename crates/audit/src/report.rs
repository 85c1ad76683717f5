//! The result of an audit, as printed by `show --json`. Its keys are a superset of the reference
//! tool's `show --json` (schema version 1) plus manywheel's own.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// What must go for a wheel to reach one more compatible policy (the reference tool's shape).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Upgrade {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub libs_to_eliminate: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub blacklisted_symbols: BTreeMap<String, Vec<String>>,
}

/// Symbols of one wheel file bound to one version.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileSymbols {
    /// The wheel member (or external library path) that needs the version.
    pub file: String,
    pub symbols: Vec<String>,
}

/// One reason a policy is not met.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// A symbol version newer than the policy allows.
    SymbolVersion {
        library: String,
        version: String,
        files: Vec<FileSymbols>,
    },
    /// A library outside the wheel and off the policy's whitelist.
    ExternalLibrary {
        library: String,
        path: Option<String>,
        needed_by: Vec<String>,
    },
    /// Symbols the policy forbids from a whitelisted library.
    BlacklistedSymbols {
        library: String,
        file: String,
        symbols: Vec<String>,
    },
    /// An instruction-set level above the architecture's baseline.
    Isa { file: String, level: String },
    /// An ELF flag problem (armv7l EABI/float ABI).
    ElfFlags { file: String, problem: String },
    /// References to PyFPE_jbuf (fpectl builds of Python).
    Pyfpe { file: String },
    /// References to narrow-unicode (UCS2) Python symbols.
    Ucs2 { file: String, symbols: Vec<String> },
}

/// Why the wheel does not reach one policy.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WhyNot {
    pub tag: String,
    pub reasons: Vec<Reason>,
}

/// One ELF member of the wheel.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ElfSummary {
    pub path: String,
    pub arch: Option<String>,
    /// "extension", "library" or "executable".
    pub kind: &'static str,
    pub needed: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rpath: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runpath: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isa: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec_stack: Option<bool>,
}

/// The abi3 (stable ABI) check of an `abi3` wheel.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Abi3Report {
    /// The minimum Python version the wheel's tags claim (e.g. "3.7" for `cp37-abi3`).
    pub claimed: Option<String>,
    /// The minimum Python version the stable-ABI symbols used require.
    pub required: Option<String>,
    /// Python C-API symbols used that are not part of the stable ABI, per file.
    pub non_abi3_symbols: BTreeMap<String, Vec<String>>,
    /// Stable-ABI symbols newer than the claimed version, per file (`name (3.x)`).
    pub too_new_symbols: BTreeMap<String, Vec<String>>,
    pub ok: bool,
}

/// The most compatible policy each kind of requirement allows on its own.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Limits {
    /// Symbol versions (of the wheel and of the libraries it would graft).
    pub symbols: String,
    /// Blacklisted symbols.
    pub blacklist: String,
    /// Instruction-set level and ELF flags.
    pub isa: String,
    /// External libraries (what repair removes by grafting).
    pub external_libs: String,
    /// PyFPE / UCS2.
    pub python: String,
    /// The best tag repair can reach: everything but external libraries.
    pub with_grafting: String,
}

/// The audit of one wheel.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WheelReport {
    pub version: u32,
    pub wheel: String,
    pub pure: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overall_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sym_tag: Option<String>,
    pub pyfpe: bool,
    pub ucs2: bool,
    pub unsupported_isa: bool,
    pub versioned_symbols: BTreeMap<String, BTreeSet<String>>,
    pub external_libs: BTreeMap<String, Option<String>>,
    pub policy_upgrades: BTreeMap<String, Upgrade>,
    // manywheel's own keys
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub libc: Option<String>,
    /// The root libraries were looked up in (`None`: only inside the wheel).
    pub sysroot: Option<String>,
    /// Platform tags of the file name.
    pub claimed_tags: Vec<String>,
    /// Every platform tag the wheel satisfies, most compatible first (aliases included).
    pub satisfied_tags: Vec<String>,
    /// Whether every claimed platform tag is satisfied.
    pub claims_ok: bool,
    /// Claimed tags that are not satisfied.
    pub unsatisfied_claims: Vec<String>,
    /// For each policy above the result, why it is not met.
    pub why_not: Vec<WhyNot>,
    pub elf_files: Vec<ElfSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abi3: Option<Abi3Report>,
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// For repair: per policy tag, the libraries to graft and where they are (None: not found).
    #[serde(skip)]
    pub grafts: BTreeMap<String, BTreeMap<String, Option<String>>>,
}
