//! A `Packages` index (binary package stanzas) and the dependency closure of a set of packages,
//! the way a minimal installer needs it: `Pre-Depends` and `Depends` followed, alternatives
//! `a | b` taking the first satisfiable one (or one already chosen), virtual packages through
//! `Provides`, version constraints checked, `:any`/`:native` qualifiers accepted,
//! `Architecture: all` packages taken alongside the target architecture's.
//!
//! Recommends, Suggests, Conflicts and Breaks are not considered, nor are Essential packages
//! added implicitly: the result is what running the requested packages' programs needs.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::control;
use crate::version::{self, Relation};
use crate::Error;

/// One binary package of an index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub multi_arch: String,
    #[serde(skip)]
    pub depends: String,
    #[serde(skip)]
    pub pre_depends: String,
    #[serde(skip)]
    pub provides: String,
    pub filename: String,
    pub sha256: String,
    pub size: u64,
    #[serde(skip)]
    pub installed_size_kib: u64,
    #[serde(skip)]
    pub essential: bool,
}

/// One possibility of a dependency: `name[:arch] [(op version)] [[arch list]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relationship {
    pub name: String,
    /// `:any`, `:native` or an architecture.
    pub arch_qualifier: Option<String>,
    pub constraint: Option<(Relation, String)>,
    /// `[amd64 !i386]` restrictions (seen in source packages, accepted here too).
    pub arch_restriction: Vec<String>,
}

/// A comma-separated dependency field: each element is a list of alternatives.
pub type Dependencies = Vec<Vec<Relationship>>;

/// Parse a dependency field (`Depends`, `Pre-Depends`, `Provides`).
pub fn parse_dependencies(field: &str) -> Result<Dependencies, Error> {
    let mut out = Vec::new();
    for group in field.split(',') {
        if group.trim().is_empty() {
            continue;
        }
        let mut alternatives = Vec::new();
        for alt in group.split('|') {
            alternatives.push(parse_relationship(alt)?);
        }
        out.push(alternatives);
    }
    Ok(out)
}

fn parse_relationship(text: &str) -> Result<Relationship, Error> {
    let bad = || Error::Index(format!("bad dependency '{}'", text.trim()));
    let mut rest = text.trim();
    // Build profiles `<!nocheck>` only appear in source packages; drop them.
    if let Some(i) = rest.find('<') {
        if !rest[..i].contains('(') {
            rest = rest[..i].trim();
        }
    }
    let name_end = rest
        .find(|c: char| c.is_whitespace() || c == '(' || c == '[')
        .unwrap_or(rest.len());
    let (full_name, mut rest) = (&rest[..name_end], rest[name_end..].trim_start());
    if full_name.is_empty() {
        return Err(bad());
    }
    let (name, arch_qualifier) = match full_name.split_once(':') {
        Some((n, q)) => (n, Some(q.to_string())),
        None => (full_name, None),
    };
    let mut constraint = None;
    if let Some(inner) = rest.strip_prefix('(') {
        let close = inner.find(')').ok_or_else(bad)?;
        let spec = inner[..close].trim();
        rest = inner[close + 1..].trim_start();
        let op_end = spec
            .find(|c: char| !matches!(c, '<' | '>' | '='))
            .unwrap_or(spec.len());
        let op = Relation::parse(&spec[..op_end]).ok_or_else(bad)?;
        let ver = spec[op_end..].trim();
        if ver.is_empty() {
            return Err(bad());
        }
        constraint = Some((op, ver.to_string()));
    }
    let mut arch_restriction = Vec::new();
    if let Some(inner) = rest.strip_prefix('[') {
        let close = inner.find(']').ok_or_else(bad)?;
        arch_restriction = inner[..close]
            .split_whitespace()
            .map(str::to_string)
            .collect();
    }
    Ok(Relationship {
        name: name.to_string(),
        arch_qualifier,
        constraint,
        arch_restriction,
    })
}

/// A parsed Packages index for one architecture (plus its `Architecture: all` packages).
#[derive(Debug, Default)]
pub struct Index {
    pub packages: Vec<Package>,
    by_name: HashMap<String, Vec<usize>>,
    /// Virtual name → (providing package, provided version if any).
    providers: HashMap<String, Vec<(usize, Option<String>)>>,
}

impl Index {
    /// Parse the text of a Packages file. Stanzas lacking Package, Version, Filename, SHA256 or
    /// Size are an error: without them nothing can be downloaded safely.
    pub fn parse(text: &str) -> Result<Index, Error> {
        let mut index = Index::default();
        for stanza in control::stanzas(text) {
            let Some(name) = stanza.get("Package") else {
                continue;
            };
            let need = |f: &str| {
                stanza
                    .get(f)
                    .ok_or_else(|| Error::Index(format!("package {name} has no {f} field")))
            };
            let sha256 = need("SHA256")?.to_ascii_lowercase();
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::Index(format!("package {name} has a bad SHA256")));
            }
            let size = need("Size")?
                .parse()
                .map_err(|_| Error::Index(format!("package {name} has a bad Size")))?;
            index.add(Package {
                name: name.to_string(),
                version: need("Version")?.to_string(),
                architecture: need("Architecture")?.to_string(),
                multi_arch: stanza.get("Multi-Arch").unwrap_or("").to_string(),
                depends: stanza.get("Depends").unwrap_or("").to_string(),
                pre_depends: stanza.get("Pre-Depends").unwrap_or("").to_string(),
                provides: stanza.get("Provides").unwrap_or("").to_string(),
                filename: need("Filename")?.to_string(),
                sha256,
                size,
                installed_size_kib: stanza
                    .get("Installed-Size")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                essential: stanza.get("Essential") == Some("yes"),
            })?;
        }
        Ok(index)
    }

    /// Add a package (used by [`Index::parse`]; also to merge several indices).
    pub fn add(&mut self, package: Package) -> Result<(), Error> {
        let idx = self.packages.len();
        for group in parse_dependencies(&package.provides)? {
            for rel in group {
                let ver = rel.constraint.map(|(_, v)| v);
                self.providers.entry(rel.name).or_default().push((idx, ver));
            }
        }
        self.by_name
            .entry(package.name.clone())
            .or_default()
            .push(idx);
        self.packages.push(package);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.packages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// The highest version of a real package of that name.
    pub fn get(&self, name: &str) -> Option<&Package> {
        self.by_name.get(name).and_then(|ids| {
            ids.iter()
                .map(|&i| &self.packages[i])
                .max_by(|a, b| version::compare(&a.version, &b.version))
        })
    }

    /// Whether the package `p` satisfies `rel` (by its own name and version, or by a Provides).
    fn satisfies(&self, p: &Package, rel: &Relationship) -> bool {
        if p.name == rel.name {
            return match &rel.constraint {
                None => true,
                Some((op, v)) => op.holds(&p.version, v),
            };
        }
        let Ok(provides) = parse_dependencies(&p.provides) else {
            return false;
        };
        provides
            .iter()
            .flatten()
            .any(|prov| prov.name == rel.name && provided_ok(prov, rel))
    }

    /// Candidates for `rel`, best first: real packages of that name (highest version first),
    /// then providers (sorted by name, for a stable choice).
    fn candidates(&self, rel: &Relationship, arch: &str) -> Vec<usize> {
        if !arch_matches(rel, arch) {
            return Vec::new();
        }
        let mut real: Vec<usize> = self
            .by_name
            .get(&rel.name)
            .map(|ids| {
                ids.iter()
                    .copied()
                    .filter(|&i| {
                        let p = &self.packages[i];
                        rel.constraint
                            .as_ref()
                            .is_none_or(|(op, v)| op.holds(&p.version, v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        real.sort_by(|&a, &b| {
            version::compare(&self.packages[b].version, &self.packages[a].version)
        });
        let mut provided: Vec<usize> = self
            .providers
            .get(&rel.name)
            .map(|list| {
                list.iter()
                    .filter(|(_, pv)| match (&rel.constraint, pv) {
                        (None, _) => true,
                        (Some((op, v)), Some(pv)) => op.holds(pv, v),
                        (Some(_), None) => false,
                    })
                    .map(|(i, _)| *i)
                    .collect()
            })
            .unwrap_or_default();
        provided.sort_by(|&a, &b| self.packages[a].name.cmp(&self.packages[b].name));
        real.extend(provided);
        real
    }

    /// The dependency closure of `roots` (package or virtual names) for the Debian
    /// architecture `arch`, in a dependency-friendly order (each package after the ones that
    /// selected it, roots first). Every chosen package exists in the index; an unsatisfiable
    /// dependency is an error naming the package that needs it.
    pub fn resolve<'a, S: AsRef<str>>(
        &'a self,
        roots: &[S],
        arch: &str,
    ) -> Result<Vec<&'a Package>, Error> {
        let mut chosen: Vec<usize> = Vec::new();
        let mut chosen_names: HashSet<&'a str> = HashSet::new();
        let mut queue: VecDeque<usize> = VecDeque::new();
        let choose = |i: usize,
                      names: &mut HashSet<&'a str>,
                      chosen: &mut Vec<usize>,
                      queue: &mut VecDeque<usize>| {
            if names.insert(self.packages[i].name.as_str()) {
                chosen.push(i);
                queue.push_back(i);
            }
        };
        for root in roots {
            let root = root.as_ref();
            let rels = parse_dependencies(root)?;
            let [group] = rels.as_slice() else {
                return Err(Error::Resolve(format!("bad package name '{root}'")));
            };
            let i = group
                .iter()
                .find_map(|rel| self.candidates(rel, arch).first().copied())
                .ok_or_else(|| {
                    Error::Resolve(format!("package '{root}' is not in the {arch} index"))
                })?;
            choose(i, &mut chosen_names, &mut chosen, &mut queue);
        }
        while let Some(i) = queue.pop_front() {
            let p = &self.packages[i];
            let mut deps = parse_dependencies(&p.pre_depends)?;
            deps.extend(parse_dependencies(&p.depends)?);
            for group in deps {
                let satisfied = group.iter().any(|rel| {
                    arch_matches(rel, arch)
                        && chosen
                            .iter()
                            .any(|&c| self.satisfies(&self.packages[c], rel))
                });
                if satisfied {
                    continue;
                }
                let pick = group
                    .iter()
                    .find_map(|rel| self.candidates(rel, arch).first().copied());
                match pick {
                    Some(c) => {
                        if chosen_names.contains(self.packages[c].name.as_str()) {
                            // Another version of a chosen package would be needed.
                            return Err(Error::Resolve(format!(
                                "{} {} needs '{}', which the chosen {} {} does not satisfy",
                                p.name,
                                p.version,
                                format_group(&group),
                                self.packages[c].name,
                                self.chosen_version(&chosen, &self.packages[c].name)
                            )));
                        }
                        choose(c, &mut chosen_names, &mut chosen, &mut queue);
                    }
                    None => {
                        return Err(Error::Resolve(format!(
                            "{} {} needs '{}', which no {arch} package satisfies",
                            p.name,
                            p.version,
                            format_group(&group)
                        )))
                    }
                }
            }
        }
        Ok(chosen.into_iter().map(|i| &self.packages[i]).collect())
    }

    fn chosen_version(&self, chosen: &[usize], name: &str) -> String {
        chosen
            .iter()
            .map(|&i| &self.packages[i])
            .find(|p| p.name == name)
            .map(|p| p.version.clone())
            .unwrap_or_default()
    }

    /// Packages per name (for diagnostics and tests).
    pub fn names(&self) -> BTreeMap<&str, usize> {
        self.by_name
            .iter()
            .map(|(k, v)| (k.as_str(), v.len()))
            .collect()
    }
}

/// A versioned dependency on a virtual package is only satisfied by a versioned Provides.
fn provided_ok(prov: &Relationship, rel: &Relationship) -> bool {
    match (&rel.constraint, &prov.constraint) {
        (None, _) => true,
        (Some((op, v)), Some((_, pv))) => op.holds(pv, v),
        (Some(_), None) => false,
    }
}

/// Whether the qualifier and `[arch]` restriction of `rel` allow the architecture `arch`.
fn arch_matches(rel: &Relationship, arch: &str) -> bool {
    match rel.arch_qualifier.as_deref() {
        None | Some("any") | Some("native") => {}
        Some(q) if q == arch => {}
        Some(_) => return false,
    }
    if rel.arch_restriction.is_empty() {
        return true;
    }
    let negated = rel.arch_restriction.iter().all(|a| a.starts_with('!'));
    if negated {
        !rel.arch_restriction
            .iter()
            .any(|a| a.trim_start_matches('!') == arch)
    } else {
        rel.arch_restriction.iter().any(|a| a == arch || a == "any")
    }
}

fn format_group(group: &[Relationship]) -> String {
    group
        .iter()
        .map(|r| match &r.constraint {
            Some((op, v)) => format!("{} ({op} {v})", r.name),
            None => r.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stanza(name: &str, version: &str, extra: &str) -> String {
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: arm64\n{extra}Filename: pool/{name}.deb\nSize: 10\nSHA256: {}\n\n",
            "a".repeat(64)
        )
    }

    #[test]
    fn parses_relationships() {
        let d = parse_dependencies(
            "libc6 (>= 2.34), python3:any (>= 3.11~) | python3-foo, awk [!i386 amd64], x <!nocheck>,",
        )
        .unwrap();
        assert_eq!(d.len(), 4);
        assert_eq!(d[0][0].name, "libc6");
        assert_eq!(
            d[0][0].constraint,
            Some((Relation::GreaterEq, "2.34".to_string()))
        );
        assert_eq!(d[1][0].arch_qualifier.as_deref(), Some("any"));
        assert_eq!(d[1][1].name, "python3-foo");
        assert_eq!(d[2][0].arch_restriction, ["!i386", "amd64"]);
        assert_eq!(d[3][0].name, "x");
        assert!(parse_dependencies("a (>= )").is_err());
        assert!(parse_dependencies("a (?? 1)").is_err());
        assert!(parse_dependencies("a (>= 1").is_err());
    }

    #[test]
    fn resolves_alternatives_virtuals_and_versions() {
        let text = [
            stanza("app", "1.0", "Depends: awk-virtual, libfoo (>= 2) | libbar, data:any\nPre-Depends: libc6 (>= 2.30)\n"),
            stanza("libc6", "2.36-9", ""),
            stanza("libfoo", "1.0", "Depends: libc6\n"),
            stanza("libbar", "3.0", "Depends: libc6\n"),
            stanza("mawk", "1.3", "Provides: awk-virtual\n"),
            stanza("gawk", "5.0", "Provides: awk-virtual\n"),
            stanza("data", "1", "Depends: missing-but-alternative | libc6\n"),
        ]
        .concat();
        let index = Index::parse(&text).unwrap();
        assert_eq!(index.len(), 7);
        let got: Vec<&str> = index
            .resolve(&["app"], "arm64")
            .unwrap()
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(got, ["app", "libc6", "gawk", "libbar", "data"]);
    }

    #[test]
    fn unsatisfiable_is_an_error_naming_the_dependent() {
        let text = [
            stanza("app", "1.0", "Depends: libc6 (>= 3)\n"),
            stanza("libc6", "2.36-9", ""),
        ]
        .concat();
        let index = Index::parse(&text).unwrap();
        let err = index.resolve(&["app"], "arm64").unwrap_err().to_string();
        assert!(err.contains("app 1.0 needs 'libc6 (>= 3)'"), "{err}");
        let err = index
            .resolve(&["nothere"], "arm64")
            .unwrap_err()
            .to_string();
        assert!(err.contains("'nothere' is not in the arm64 index"), "{err}");
    }

    #[test]
    fn versioned_virtual_needs_versioned_provides() {
        let text = [
            stanza("app", "1.0", "Depends: v (>= 2)\n"),
            stanza("p1", "1", "Provides: v\n"),
            stanza("p2", "1", "Provides: v (= 2.5)\n"),
        ]
        .concat();
        let index = Index::parse(&text).unwrap();
        let got: Vec<&str> = index
            .resolve(&["app"], "arm64")
            .unwrap()
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(got, ["app", "p2"]);
    }

    #[test]
    fn missing_fields_are_errors() {
        let err = Index::parse("Package: a\nVersion: 1\nArchitecture: all\nFilename: x\nSize: 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("package a has no SHA256"), "{err}");
    }
}
