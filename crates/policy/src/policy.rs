//! Policy data: the auditwheel-format policy JSON (embedded or user supplied), its PEP 600
//! validation, and the per-architecture view the audit works with.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::{Arch, Error, PlatformTag};

/// The embedded manylinux policy file (auditwheel format).
pub const MANYLINUX_POLICY_JSON: &str = include_str!("../data/manylinux-policy.json");
/// The embedded musllinux policy file (auditwheel format).
pub const MUSLLINUX_POLICY_JSON: &str = include_str!("../data/musllinux-policy.json");

/// Which C library a policy family targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Libc {
    /// GNU libc: `manylinux_X_Y` (PEP 600).
    Glibc,
    /// musl: `musllinux_X_Y` (PEP 656).
    Musl,
}

impl Libc {
    /// The platform-tag family prefix: `"manylinux"` or `"musllinux"`.
    pub fn tag_prefix(self) -> &'static str {
        match self {
            Libc::Glibc => "manylinux",
            Libc::Musl => "musllinux",
        }
    }

    /// The embedded policy file of this family.
    pub fn embedded_json(self) -> &'static str {
        match self {
            Libc::Glibc => MANYLINUX_POLICY_JSON,
            Libc::Musl => MUSLLINUX_POLICY_JSON,
        }
    }
}

impl fmt::Display for Libc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Libc::Glibc => "glibc",
            Libc::Musl => "musl",
        })
    }
}

/// One entry of an auditwheel-format policy file, for all architectures, exactly as in the
/// file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRecord {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub priority: u32,
    /// arch → namespace (`GLIBC`) → versions (`"2.17"`).
    #[serde(default)]
    pub symbol_versions: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    pub lib_whitelist: Vec<String>,
    /// library soname → symbols that must not be used from it.
    #[serde(default)]
    pub blacklist: BTreeMap<String, Vec<String>>,
}

/// Parse an auditwheel-format policy file without validating it.
pub fn parse_policy_file(json: &str) -> Result<Vec<PolicyRecord>, Error> {
    serde_json::from_str(json).map_err(|e| Error::Data(format!("policy JSON: {e}")))
}

/// The embedded policy records of a family (parsed once).
pub fn embedded_records(libc: Libc) -> &'static [PolicyRecord] {
    static GLIBC: OnceLock<Vec<PolicyRecord>> = OnceLock::new();
    static MUSL: OnceLock<Vec<PolicyRecord>> = OnceLock::new();
    let cell = match libc {
        Libc::Glibc => &GLIBC,
        Libc::Musl => &MUSL,
    };
    cell.get_or_init(|| {
        parse_policy_file(libc.embedded_json()).expect("embedded policy JSON is well-formed")
    })
}

/// Parse `manylinux_X_Y` / `musllinux_X_Y` (with the family `prefix`) into `(X, Y)`.
fn parse_versioned_name(name: &str, prefix: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('_')?;
    let (major, minor) = rest.split_once('_')?;
    Some((parse_number(major)?, parse_number(minor)?))
}

/// A decimal number without sign or leading `+`.
pub(crate) fn parse_number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Check a policy file against the rules that make it usable (PEP 600 monotonicity):
///
/// - the file is not empty; policy names and aliases are unique, priorities are unique;
/// - `linux` is present with priority 0, and only it has priority 0;
/// - every other policy is named `<family>_X_Y` for the family of `libc`, and the version
///   rises as the priority falls;
/// - walking from the highest priority (oldest) down, each policy's library whitelist
///   contains every library whitelisted by any higher-priority policy;
/// - per architecture, each policy that lists it allows every symbol version that a
///   higher-priority policy listing the same architecture allows, namespace by namespace (a
///   namespace a policy omits is unconstrained; one that an older policy left unconstrained
///   may not become constrained later).
///
/// Errors are [`Error::Data`] naming the policy, the architecture and the missing item.
pub fn validate(records: &[PolicyRecord], libc: Libc) -> Result<(), Error> {
    let err = |msg: String| Err(Error::Data(msg));
    if records.is_empty() {
        return err("policy file lists no policies".into());
    }
    let prefix = libc.tag_prefix();

    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    let mut priorities: BTreeMap<u32, &str> = BTreeMap::new();
    for r in records {
        for n in std::iter::once(&r.name).chain(&r.aliases) {
            if let Some(prev) = names.insert(n, &r.name) {
                return err(format!(
                    "name or alias {n:?} is used by both policy {prev:?} and policy {:?}",
                    r.name
                ));
            }
        }
        if let Some(prev) = priorities.insert(r.priority, &r.name) {
            return err(format!(
                "priority {} is used by both policy {prev:?} and policy {:?}",
                r.priority, r.name
            ));
        }
        if r.name == "linux" {
            if r.priority != 0 {
                return err(format!(
                    "policy \"linux\" must have priority 0, not {}",
                    r.priority
                ));
            }
        } else {
            if r.priority == 0 {
                return err(format!(
                    "policy {:?} has priority 0, which is reserved for \"linux\"",
                    r.name
                ));
            }
            if parse_versioned_name(&r.name, prefix).is_none() {
                return err(format!(
                    "policy name {:?} is not of the form {prefix}_X_Y (expected for {libc})",
                    r.name
                ));
            }
        }
    }
    if !names.contains_key("linux") {
        return err("policy \"linux\" (priority 0) is missing".into());
    }

    let mut ordered: Vec<&PolicyRecord> = records.iter().filter(|r| r.name != "linux").collect();
    ordered.sort_by_key(|r| std::cmp::Reverse(r.priority));

    // Versions must rise as priorities fall.
    for pair in ordered.windows(2) {
        let (older, newer) = (pair[0], pair[1]);
        let vo = parse_versioned_name(&older.name, prefix);
        let vn = parse_versioned_name(&newer.name, prefix);
        if vo >= vn {
            return err(format!(
                "policy {:?} (priority {}) must name a newer version than policy {:?} (priority {}), since its priority is lower",
                newer.name, newer.priority, older.name, older.priority
            ));
        }
    }

    // Whitelist monotonicity (not per arch: the whitelist is shared by all archs).
    let mut seen_libs: BTreeMap<&str, &str> = BTreeMap::new();
    for r in &ordered {
        let have: BTreeSet<&str> = r.lib_whitelist.iter().map(String::as_str).collect();
        for (lib, from) in &seen_libs {
            if !have.contains(lib) {
                return err(format!(
                    "policy {:?} (priority {}) does not whitelist {lib:?}, which higher-priority policy {from:?} whitelists (PEP 600 monotonicity)",
                    r.name, r.priority
                ));
            }
        }
        for lib in have {
            seen_libs.entry(lib).or_insert(&r.name);
        }
    }

    // Symbol-version monotonicity, per arch.
    let archs: BTreeSet<&str> = ordered
        .iter()
        .flat_map(|r| r.symbol_versions.keys().map(String::as_str))
        .collect();
    for arch in archs {
        // namespace → (version → policy that first allowed it). `None` until the first
        // policy listing this arch; afterwards a namespace absent from the map is
        // unconstrained so far.
        let mut allowed: Option<BTreeMap<&str, BTreeMap<&str, &str>>> = None;
        let mut first_policy: Option<&str> = None;
        for r in &ordered {
            let Some(namespaces) = r.symbol_versions.get(arch) else {
                continue;
            };
            if let Some(prev) = &allowed {
                for (ns, versions) in namespaces {
                    let have: BTreeSet<&str> = versions.iter().map(String::as_str).collect();
                    match prev.get(ns.as_str()) {
                        None => {
                            return err(format!(
                                "policy {:?} (priority {}), arch {arch}: constrains symbol namespace {ns} although higher-priority policy {:?} leaves it unconstrained (PEP 600 monotonicity)",
                                r.name,
                                r.priority,
                                first_policy.unwrap_or("?")
                            ));
                        }
                        Some(prev_versions) => {
                            for (v, from) in prev_versions {
                                if !have.contains(v) {
                                    return err(format!(
                                        "policy {:?} (priority {}), arch {arch}: symbol version {ns}_{v} is missing, but higher-priority policy {from:?} allows it (PEP 600 monotonicity)",
                                        r.name, r.priority
                                    ));
                                }
                            }
                        }
                    }
                }
            }
            // Merge: namespaces this policy omits become unconstrained.
            let mut next: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
            for (ns, versions) in namespaces {
                let mut merged = allowed
                    .as_ref()
                    .and_then(|p| p.get(ns.as_str()).cloned())
                    .unwrap_or_default();
                for v in versions {
                    merged.entry(v.as_str()).or_insert(r.name.as_str());
                }
                next.insert(ns.as_str(), merged);
            }
            allowed = Some(next);
            first_policy.get_or_insert(r.name.as_str());
        }
    }
    Ok(())
}

/// One policy as it applies to one architecture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// `"manylinux_2_17"`, `"musllinux_1_2"` or `"linux"`.
    pub name: String,
    /// Legacy names, e.g. `["manylinux2014"]`.
    pub aliases: Vec<String>,
    /// Higher is older / more compatible; `linux` is 0.
    pub priority: u32,
    /// Allowed symbol versions for this architecture: namespace (`GLIBC`) → versions
    /// (`"2.17"`). A namespace not listed is unconstrained.
    pub symbol_versions: BTreeMap<String, BTreeSet<String>>,
    /// Libraries a wheel may depend on without bundling them.
    pub lib_whitelist: BTreeSet<String>,
    /// Symbols that must not be imported from a whitelisted library.
    pub blacklist: BTreeMap<String, BTreeSet<String>>,
}

impl Policy {
    fn from_record(r: &PolicyRecord, libc: Libc, arch: Arch) -> Policy {
        let symbol_versions = r
            .symbol_versions
            .get(arch.name())
            .map(|m| {
                m.iter()
                    .map(|(ns, vs)| (ns.clone(), vs.iter().cloned().collect()))
                    .collect()
            })
            .unwrap_or_default();
        let mut lib_whitelist: BTreeSet<String> = r.lib_whitelist.iter().cloned().collect();
        if libc == Libc::Musl && lib_whitelist.contains("libc.so") {
            // musl's own build names its libc "libc.so"; Alpine (where musllinux wheels are
            // built) gives it the soname libc.musl-$CARCH.so.1. Both are the system libc.
            if let Some(soname) = arch.musl_libc_soname() {
                lib_whitelist.insert(soname.to_string());
            }
        }
        let blacklist = r
            .blacklist
            .iter()
            .map(|(lib, syms)| (lib.clone(), syms.iter().cloned().collect()))
            .collect();
        Policy {
            name: r.name.clone(),
            aliases: r.aliases.clone(),
            priority: r.priority,
            symbol_versions,
            lib_whitelist,
            blacklist,
        }
    }

    /// The platform tag for `arch`: `"manylinux_2_17_aarch64"`, `"linux_aarch64"`.
    pub fn tag(&self, arch: Arch) -> String {
        format!("{}_{}", self.name, arch.name())
    }

    /// The legacy-alias tags for `arch`: `["manylinux2014_aarch64"]`.
    pub fn alias_tags(&self, arch: Arch) -> Vec<String> {
        self.aliases
            .iter()
            .map(|a| format!("{a}_{}", arch.name()))
            .collect()
    }

    /// The parsed platform tag for `arch`.
    pub fn platform_tag(&self, arch: Arch) -> PlatformTag {
        let arch = arch.name().to_string();
        match (self.family(), self.version()) {
            (Some(Libc::Glibc), Some((major, minor))) => {
                PlatformTag::Manylinux { major, minor, arch }
            }
            (Some(Libc::Musl), Some((major, minor))) => {
                PlatformTag::Musllinux { major, minor, arch }
            }
            _ => PlatformTag::Linux { arch },
        }
    }

    /// Which family the policy's name belongs to; `None` for `linux`.
    pub fn family(&self) -> Option<Libc> {
        [Libc::Glibc, Libc::Musl]
            .into_iter()
            .find(|l| parse_versioned_name(&self.name, l.tag_prefix()).is_some())
    }

    /// `(2, 17)` for `manylinux_2_17`, `(1, 2)` for `musllinux_1_2`, `None` for `linux`.
    pub fn version(&self) -> Option<(u32, u32)> {
        parse_versioned_name(&self.name, "manylinux")
            .or_else(|| parse_versioned_name(&self.name, "musllinux"))
    }

    /// Whether this is the generic `linux` policy (anything goes).
    pub fn is_linux(&self) -> bool {
        self.name == "linux"
    }

    /// Whether the policy allows symbol version `version` of `namespace`
    /// (`("GLIBC", "2.17")`). Namespaces the policy does not list are unconstrained, as in
    /// auditwheel; `linux` allows everything.
    pub fn allows_version(&self, namespace: &str, version: &str) -> bool {
        match self.symbol_versions.get(namespace) {
            None => true,
            Some(versions) => versions.contains(version),
        }
    }

    /// [`Policy::allows_version`] on a full version name as found in `.gnu.version_r`
    /// (`"GLIBC_2.17"`, `"GLIBCXX_3.4.21"`, `"CXXABI_TM_1"`), split at the first `_` as
    /// auditwheel does. A name without `_` is unconstrained.
    pub fn allows_symbol_version(&self, full: &str) -> bool {
        match full.split_once('_') {
            Some((ns, v)) => self.allows_version(ns, v),
            None => true,
        }
    }

    /// Whether `soname` is on the whitelist (`linux` allows every library).
    pub fn whitelists(&self, soname: &str) -> bool {
        self.is_linux() || self.lib_whitelist.contains(soname)
    }
}

/// The policies of one family for one architecture.
#[derive(Clone, Debug, Serialize)]
pub struct PolicySet {
    libc: Libc,
    arch: Arch,
    /// Highest priority first; `linux` last.
    policies: Vec<Policy>,
}

impl PolicySet {
    /// The embedded policies of `libc` that list `arch`, plus `linux`.
    pub fn embedded(libc: Libc, arch: Arch) -> PolicySet {
        let records = embedded_records(libc);
        debug_assert!(
            validate(records, libc).is_ok(),
            "embedded policy data invalid: {:?}",
            validate(records, libc)
        );
        Self::build(records, libc, arch)
    }

    /// A user-supplied policy file in the auditwheel JSON format, validated with [`validate`].
    pub fn from_json(json: &str, libc: Libc, arch: Arch) -> Result<PolicySet, Error> {
        let records = parse_policy_file(json)?;
        validate(&records, libc)?;
        Ok(Self::build(&records, libc, arch))
    }

    /// Build from parsed records, validating them first.
    pub fn from_records(
        records: &[PolicyRecord],
        libc: Libc,
        arch: Arch,
    ) -> Result<PolicySet, Error> {
        validate(records, libc)?;
        Ok(Self::build(records, libc, arch))
    }

    fn build(records: &[PolicyRecord], libc: Libc, arch: Arch) -> PolicySet {
        let mut policies: Vec<Policy> = records
            .iter()
            .filter(|r| r.name == "linux" || r.symbol_versions.contains_key(arch.name()))
            .map(|r| Policy::from_record(r, libc, arch))
            .collect();
        policies.sort_by_key(|p| std::cmp::Reverse(p.priority));
        PolicySet {
            libc,
            arch,
            policies,
        }
    }

    pub fn libc(&self) -> Libc {
        self.libc
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Highest priority (oldest, most compatible) first; `linux` last.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// The generic `linux` policy.
    pub fn linux(&self) -> &Policy {
        self.policies
            .last()
            .filter(|p| p.is_linux())
            .expect("a validated policy set ends with linux")
    }

    /// The highest-priority policy (the oldest for this arch, e.g. `manylinux_2_5` on
    /// x86_64, `manylinux_2_31` on riscv64); `linux` when no other policy lists the arch.
    pub fn highest(&self) -> &Policy {
        &self.policies[0]
    }

    /// The lowest-priority policy other than `linux` (the newest), if any.
    pub fn lowest(&self) -> Option<&Policy> {
        self.policies.iter().rev().find(|p| !p.is_linux())
    }

    /// Look a policy up by name (`manylinux_2_17`), alias (`manylinux2014`) or either as a
    /// tag for this set's architecture (`manylinux_2_17_x86_64`, `manylinux2014_x86_64`).
    pub fn get(&self, name_or_alias_or_tag: &str) -> Option<&Policy> {
        let key = name_or_alias_or_tag;
        let suffix = format!("_{}", self.arch.name());
        let base = key.strip_suffix(suffix.as_str());
        self.policies.iter().find(|p| {
            let matches = |k: &str| p.name == k || p.aliases.iter().any(|a| a == k);
            matches(key) || base.is_some_and(matches)
        })
    }

    /// The policy with exactly this priority.
    pub fn by_priority(&self, priority: u32) -> Option<&Policy> {
        self.policies.iter().find(|p| p.priority == priority)
    }
}
