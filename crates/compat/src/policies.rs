//! What a policy allows, what changes between two, and which distributions lose binary wheels
//! when a project moves its baseline from one policy to a newer one.

use std::collections::{BTreeMap, BTreeSet};

use manywheel_policy::{embedded_records, Arch, Libc, Policy, PolicyRecord, PolicySet};
use serde::Serialize;

use crate::detect::version_key;
use crate::distro::{Distro, Status};
use crate::{Date, Error};

/// A policy named on the command line, resolved.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyRef {
    /// Canonical name: `manylinux_2_17`, `musllinux_1_2`.
    pub name: String,
    pub aliases: Vec<String>,
    pub libc: Libc,
    /// The libc version (major, minor) as text, `"2.17"`.
    pub version: String,
    #[serde(skip)]
    pub version_pair: (u32, u32),
    /// Architectures the embedded policy data covers (empty for a PEP 600 tag without
    /// policy data, e.g. `manylinux_2_30`).
    pub arches: Vec<Arch>,
    /// The architecture, when a tag (`manylinux2014_aarch64`) was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<Arch>,
    /// Whether the embedded policy data has this policy.
    pub has_policy_data: bool,
}

fn parse_versioned(name: &str) -> Option<(Libc, (u32, u32))> {
    for libc in [Libc::Glibc, Libc::Musl] {
        if let Some(rest) = name.strip_prefix(&format!("{}_", libc.tag_prefix())) {
            let (a, b) = rest.split_once('_')?;
            if a.is_empty()
                || b.is_empty()
                || !(a.bytes().chain(b.bytes())).all(|c| c.is_ascii_digit())
            {
                return None;
            }
            return Some((libc, (a.parse().ok()?, b.parse().ok()?)));
        }
    }
    None
}

fn record_arches(r: &PolicyRecord) -> Vec<Arch> {
    Arch::ALL
        .into_iter()
        .filter(|a| r.symbol_versions.contains_key(a.name()))
        .collect()
}

fn find_record(key: &str) -> Option<(Libc, &'static PolicyRecord)> {
    for libc in [Libc::Glibc, Libc::Musl] {
        if let Some(r) = embedded_records(libc)
            .iter()
            .find(|r| r.name != "linux" && (r.name == key || r.aliases.iter().any(|a| a == key)))
        {
            return Some((libc, r));
        }
    }
    None
}

/// Resolve a policy name (`manylinux_2_28`), legacy alias (`manylinux2014`), either as a tag
/// (`manylinux2014_aarch64`), or any PEP 600/656 name (`manylinux_2_30`).
pub fn resolve(name: &str) -> Result<PolicyRef, Error> {
    let mut key = name.trim().to_string();
    let mut arch = None;
    if find_record(&key).is_none() && parse_versioned(&key).is_none() {
        // A tag: strip the architecture.
        for a in Arch::ALL {
            if let Some(base) = key.strip_suffix(&format!("_{}", a.name())) {
                arch = Some(a);
                key = base.to_string();
                break;
            }
        }
    }
    if let Some((libc, r)) = find_record(&key) {
        let version_pair = parse_versioned(&r.name)
            .map(|(_, v)| v)
            .ok_or_else(|| Error::Input(format!("policy {} has no version", r.name)))?;
        let arches = record_arches(r);
        if let Some(a) = arch.filter(|a| !arches.contains(a)) {
            return Err(Error::Input(format!(
                "{name}: policy {} does not cover {a} (it covers {})",
                r.name,
                names(&arches)
            )));
        }
        return Ok(PolicyRef {
            name: r.name.clone(),
            aliases: r.aliases.clone(),
            libc,
            version: format!("{}.{}", version_pair.0, version_pair.1),
            version_pair,
            arches,
            arch,
            has_policy_data: true,
        });
    }
    if let Some((libc, v)) = parse_versioned(&key) {
        return Ok(PolicyRef {
            name: format!("{}_{}_{}", libc.tag_prefix(), v.0, v.1),
            aliases: Vec::new(),
            libc,
            version: format!("{}.{}", v.0, v.1),
            version_pair: v,
            arches: Vec::new(),
            arch,
            has_policy_data: false,
        });
    }
    Err(Error::Input(format!(
        "unknown policy {name:?} (try `manywheel policy list`)"
    )))
}

fn names(arches: &[Arch]) -> String {
    arches
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row of `policy list`.
#[derive(Clone, Debug, Serialize)]
pub struct PolicySummary {
    pub name: String,
    pub aliases: Vec<String>,
    pub libc: Libc,
    pub version: String,
    pub priority: u32,
    pub arches: Vec<Arch>,
    pub lib_whitelist: Vec<String>,
}

/// Every embedded policy (both families, oldest first within each, `linux` left out).
pub fn list() -> Vec<PolicySummary> {
    let mut out = Vec::new();
    for libc in [Libc::Glibc, Libc::Musl] {
        let mut recs: Vec<&PolicyRecord> = embedded_records(libc)
            .iter()
            .filter(|r| r.name != "linux")
            .collect();
        recs.sort_by_key(|r| std::cmp::Reverse(r.priority));
        for r in recs {
            let v = parse_versioned(&r.name).map(|(_, v)| v).unwrap_or((0, 0));
            out.push(PolicySummary {
                name: r.name.clone(),
                aliases: r.aliases.clone(),
                libc,
                version: format!("{}.{}", v.0, v.1),
                priority: r.priority,
                arches: record_arches(r),
                lib_whitelist: r.lib_whitelist.clone(),
            });
        }
    }
    out
}

/// Sort dotted versions numerically.
fn sorted_versions<'a>(it: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut v: Vec<String> = it.into_iter().cloned().collect();
    v.sort_by_key(|s| version_key(s));
    v
}

/// `policy show`: one policy for one architecture.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyDetail {
    pub name: String,
    pub aliases: Vec<String>,
    pub libc: Libc,
    pub version: String,
    pub priority: u32,
    pub arch: Arch,
    pub arches: Vec<Arch>,
    /// Namespace → allowed versions (numeric order).
    pub symbol_versions: BTreeMap<String, Vec<String>>,
    pub lib_whitelist: Vec<String>,
    /// Library → symbols that may not be used from it.
    pub blacklist: BTreeMap<String, Vec<String>>,
}

/// The architecture to show a policy for: the requested one, the one named in a tag, x86_64,
/// or the first the policy covers.
pub fn pick_arch(p: &PolicyRef, requested: Option<Arch>) -> Result<Arch, Error> {
    let want = requested.or(p.arch);
    match want {
        Some(a) if p.arches.contains(&a) => Ok(a),
        Some(a) => Err(Error::Input(format!(
            "policy {} does not cover {a} (it covers {})",
            p.name,
            names(&p.arches)
        ))),
        None if p.arches.contains(&Arch::X86_64) => Ok(Arch::X86_64),
        None => p
            .arches
            .first()
            .copied()
            .ok_or_else(|| Error::Input(format!("{} has no embedded policy data", p.name))),
    }
}

fn policy_for(p: &PolicyRef, arch: Arch) -> Result<Policy, Error> {
    if !p.has_policy_data {
        return Err(Error::Input(format!(
            "{} has no embedded policy data (policies: `manywheel policy list`)",
            p.name
        )));
    }
    PolicySet::embedded(p.libc, arch)
        .get(&p.name)
        .cloned()
        .ok_or_else(|| Error::Input(format!("policy {} does not cover {arch}", p.name)))
}

/// `policy show NAME [--arch]`.
pub fn show(p: &PolicyRef, arch: Arch) -> Result<PolicyDetail, Error> {
    let pol = policy_for(p, arch)?;
    Ok(PolicyDetail {
        name: pol.name.clone(),
        aliases: pol.aliases.clone(),
        libc: p.libc,
        version: p.version.clone(),
        priority: pol.priority,
        arch,
        arches: p.arches.clone(),
        symbol_versions: pol
            .symbol_versions
            .iter()
            .map(|(ns, vs)| (ns.clone(), sorted_versions(vs)))
            .collect(),
        lib_whitelist: pol.lib_whitelist.iter().cloned().collect(),
        blacklist: pol
            .blacklist
            .iter()
            .map(|(l, s)| (l.clone(), s.iter().cloned().collect()))
            .collect(),
    })
}

/// Added and removed items.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Change {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl Change {
    fn of(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Change {
        Change {
            added: sorted_versions(b.difference(a)),
            removed: sorted_versions(a.difference(b)),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// `policy diff A B`.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyDiff {
    pub from: String,
    pub to: String,
    pub arch: Arch,
    /// Namespace → versions allowed by `to` but not `from` (added) and the reverse.
    pub symbol_versions: BTreeMap<String, Change>,
    pub lib_whitelist: Change,
    /// Library → blacklisted symbols.
    pub blacklist: BTreeMap<String, Change>,
}

impl PolicyDiff {
    pub fn is_empty(&self) -> bool {
        self.symbol_versions.is_empty()
            && self.lib_whitelist.is_empty()
            && self.blacklist.is_empty()
    }
}

/// What changes from `a` to `b` on `arch`.
pub fn diff(a: &PolicyRef, b: &PolicyRef, arch: Arch) -> Result<PolicyDiff, Error> {
    let pa = policy_for(a, arch)?;
    let pb = policy_for(b, arch)?;
    let empty = BTreeSet::new();
    let mut symbol_versions = BTreeMap::new();
    let namespaces: BTreeSet<&String> = pa
        .symbol_versions
        .keys()
        .chain(pb.symbol_versions.keys())
        .collect();
    for ns in namespaces {
        let c = Change::of(
            pa.symbol_versions.get(ns).unwrap_or(&empty),
            pb.symbol_versions.get(ns).unwrap_or(&empty),
        );
        if !c.is_empty() {
            symbol_versions.insert(ns.clone(), c);
        }
    }
    let mut lib_whitelist = Change::of(&pa.lib_whitelist, &pb.lib_whitelist);
    lib_whitelist.added.sort();
    lib_whitelist.removed.sort();
    let mut blacklist = BTreeMap::new();
    let libs: BTreeSet<&String> = pa.blacklist.keys().chain(pb.blacklist.keys()).collect();
    for lib in libs {
        let mut c = Change::of(
            pa.blacklist.get(lib).unwrap_or(&empty),
            pb.blacklist.get(lib).unwrap_or(&empty),
        );
        c.added.sort();
        c.removed.sort();
        if !c.is_empty() {
            blacklist.insert(lib.clone(), c);
        }
    }
    Ok(PolicyDiff {
        from: pa.name,
        to: pb.name,
        arch,
        symbol_versions,
        lib_whitelist,
        blacklist,
    })
}

/// One distribution in an impact answer.
#[derive(Clone, Debug, Serialize)]
pub struct ImpactRow {
    pub id: String,
    pub name: String,
    pub libc: Libc,
    pub libc_version: String,
    /// The architectures on which it loses (or gains) wheels.
    pub arches: Vec<Arch>,
    pub status: Status,
    pub released: Date,
    pub eol: Option<Date>,
    pub eol_extended: Option<Date>,
}

/// Distributions split by their state on the date.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Buckets {
    /// Supported on the date (extended support counted with `--extended`).
    pub supported: Vec<ImpactRow>,
    /// Released, but past their support on the date.
    pub eol: Vec<ImpactRow>,
    /// Not released yet on the date.
    pub unreleased: Vec<ImpactRow>,
}

impl Buckets {
    pub fn is_empty(&self) -> bool {
        self.supported.is_empty() && self.eol.is_empty() && self.unreleased.is_empty()
    }
    fn push(&mut self, row: ImpactRow, extended: bool) {
        match row.status {
            Status::Unreleased => self.unreleased.push(row),
            s if s.is_supported(extended) => self.supported.push(row),
            _ => self.eol.push(row),
        }
    }
}

/// `policy impact FROM TO`.
#[derive(Clone, Debug, Serialize)]
pub struct Impact {
    pub from: PolicyRef,
    pub to: PolicyRef,
    pub on: Date,
    pub extended: bool,
    /// Architectures compared: those the `from` policy covers (all architectures for a name
    /// without policy data), or `--arch`.
    pub arches: Vec<Arch>,
    /// Distributions that install `from` wheels but not `to` wheels.
    pub lose: Buckets,
    /// Distributions that install `to` wheels but not `from` wheels (moving to an older
    /// baseline, or to architectures `from` did not cover).
    pub gain: Buckets,
}

/// Whether a wheel of policy `p` can exist for `arch` and installs on `d` there.
fn installs(p: &PolicyRef, d: &Distro, arch: Arch) -> bool {
    let covered = !p.has_policy_data || p.arches.contains(&arch);
    covered && d.libc == p.libc && d.has_arch(arch) && d.version >= p.version_pair
}

/// Which distributions lose (or gain) binary wheels when a project's baseline moves from
/// `from` to `to`.
pub fn impact(
    from: PolicyRef,
    to: PolicyRef,
    distros: &[Distro],
    on: Date,
    extended: bool,
    arches: Option<Vec<Arch>>,
) -> Result<Impact, Error> {
    if from.libc != to.libc {
        return Err(Error::Input(format!(
            "{} and {} are of different families ({} / {}): compare policies of one libc",
            from.name, to.name, from.libc, to.libc
        )));
    }
    let arches = arches.unwrap_or_else(|| {
        if from.has_policy_data {
            from.arches.clone()
        } else {
            Arch::ALL.to_vec()
        }
    });
    let mut lose = Buckets::default();
    let mut gain = Buckets::default();
    for d in distros.iter().filter(|d| d.libc == from.libc) {
        let lost: Vec<Arch> = arches
            .iter()
            .copied()
            .filter(|a| installs(&from, d, *a) && !installs(&to, d, *a))
            .collect();
        let gained: Vec<Arch> = arches
            .iter()
            .copied()
            .filter(|a| !installs(&from, d, *a) && installs(&to, d, *a))
            .collect();
        let row = |arches: Vec<Arch>| ImpactRow {
            id: d.id.clone(),
            name: d.name.clone(),
            libc: d.libc,
            libc_version: d.libc_version.clone(),
            arches,
            status: d.status(on),
            released: d.released,
            eol: d.eol,
            eol_extended: d.eol_extended,
        };
        if !lost.is_empty() {
            lose.push(row(lost), extended);
        }
        if !gained.is_empty() {
            gain.push(row(gained), extended);
        }
    }
    Ok(Impact {
        from,
        to,
        on,
        extended,
        arches,
        lose,
        gain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distro::distros;

    #[test]
    fn resolve_names() {
        let p = resolve("manylinux2014").unwrap();
        assert_eq!(
            (p.name.as_str(), p.version.as_str()),
            ("manylinux_2_17", "2.17")
        );
        let p = resolve("manylinux2014_aarch64").unwrap();
        assert_eq!(p.arch, Some(Arch::Aarch64));
        assert!(resolve("manylinux1_aarch64").is_err());
        let p = resolve("manylinux_2_30").unwrap();
        assert!(!p.has_policy_data);
        assert_eq!(resolve("musllinux_1_2").unwrap().libc, Libc::Musl);
        assert!(resolve("linux").is_err());
        assert!(resolve("manylinux_x").is_err());
    }

    #[test]
    fn diff_2014_2_28() {
        let a = resolve("manylinux2014").unwrap();
        let b = resolve("manylinux_2_28").unwrap();
        let d = diff(&a, &b, Arch::X86_64).unwrap();
        let glibc = &d.symbol_versions["GLIBC"];
        assert!(glibc.added.contains(&"2.28".to_string()));
        assert!(glibc.removed.is_empty());
        assert_eq!(glibc.added.first().map(String::as_str), Some("2.18"));
    }

    #[test]
    fn impact_manylinux1_to_2010() {
        let on: Date = "2017-04-08".parse().unwrap();
        let i = impact(
            resolve("manylinux1").unwrap(),
            resolve("manylinux2010").unwrap(),
            distros(),
            on,
            false,
            None,
        )
        .unwrap();
        let ids = |v: &[ImpactRow]| v.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&i.lose.supported), ["sles-11"]);
        assert!(ids(&i.lose.eol).contains(&"centos-5".to_string()));
        assert!(i.gain.is_empty());
    }
}
