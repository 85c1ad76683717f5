//! Which distributions can install a set of wheels (or platform tags), per architecture, and
//! which (distribution, architecture) pairs get no wheel and build from the source
//! distribution instead.

use std::str::FromStr;

use manywheel_policy::{Arch, Libc, PlatformTag};
use manywheel_wheel::WheelFilename;
use serde::Serialize;

use crate::distro::{Distro, Status};
use crate::{Date, Error};

/// One thing given on the command line: a wheel file name or a (compressed) platform tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Input {
    /// As given (a wheel's file name without its directories).
    pub input: String,
    /// Its platform tags, as written.
    pub platforms: Vec<String>,
    #[serde(skip)]
    pub tags: Vec<PlatformTag>,
}

impl Input {
    /// `foo-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl` (a path is fine:
    /// only the name is read), or `manylinux_2_28_aarch64`, or a compressed
    /// `manylinux_2_17_x86_64.manylinux2014_x86_64`.
    pub fn parse(s: &str) -> Result<Input, Error> {
        let name = s.rsplit('/').next().unwrap_or(s);
        let platforms: Vec<String> = if name.ends_with(".whl") {
            WheelFilename::parse(name)
                .map_err(|e| Error::Input(format!("{s}: {e}")))?
                .platform_tags
        } else {
            name.split('.').map(str::to_string).collect()
        };
        let mut tags = Vec::new();
        for p in &platforms {
            let tag = PlatformTag::from_str(p)
                .map_err(|_| Error::Input(format!("{s}: {p:?} is not a platform tag")))?;
            tags.push(tag);
        }
        Ok(Input {
            input: name.to_string(),
            platforms,
            tags,
        })
    }
}

/// Whether a wheel tagged `tag` installs on `distro` running on `arch`: manylinux/musllinux
/// by libc family and version (PEP 600 / PEP 656), `any` everywhere, `linux_*` nowhere (an
/// index does not serve it; it is a local build).
pub fn installs(tag: &PlatformTag, distro: &Distro, arch: Arch) -> bool {
    if !distro.has_arch(arch) {
        return false;
    }
    match tag {
        PlatformTag::Other(s) => s == "any",
        PlatformTag::Linux { .. } => false,
        PlatformTag::Manylinux {
            major,
            minor,
            arch: a,
        } => distro.libc == Libc::Glibc && a == arch.name() && distro.version >= (*major, *minor),
        PlatformTag::Musllinux {
            major,
            minor,
            arch: a,
        } => distro.libc == Libc::Musl && a == arch.name() && distro.version >= (*major, *minor),
    }
}

/// The preference of a matching tag (higher is preferred by an installer): the newest
/// manylinux/musllinux version; `any` last.
fn preference(tag: &PlatformTag) -> (u32, u32, u32) {
    match tag.version() {
        Some((a, b)) => (1, a, b),
        None => (0, 0, 0),
    }
}

/// One (distribution, architecture) pair.
#[derive(Clone, Debug, Serialize)]
pub struct Pair {
    pub arch: Arch,
    /// The input an installer would pick, if any.
    pub wheel: Option<String>,
    /// Its tag that matched.
    pub tag: Option<String>,
}

/// One distribution.
#[derive(Clone, Debug, Serialize)]
pub struct DistroCoverage {
    pub id: String,
    pub name: String,
    pub libc: Libc,
    pub libc_version: String,
    pub status: Status,
    /// Counted as supported on the date (extended support included with `--extended`).
    pub supported: bool,
    pub released: Date,
    pub eol: Option<Date>,
    pub eol_extended: Option<Date>,
    pub pairs: Vec<Pair>,
}

impl DistroCoverage {
    /// All considered architectures have a wheel.
    pub fn full(&self) -> bool {
        !self.pairs.is_empty() && self.pairs.iter().all(|p| p.wheel.is_some())
    }
    /// No considered architecture has a wheel.
    pub fn none(&self) -> bool {
        self.pairs.iter().all(|p| p.wheel.is_none())
    }
}

/// A (distribution, architecture) pair without a wheel.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Gap {
    pub distro: String,
    pub name: String,
    pub arch: Arch,
}

/// The answer of `coverage`.
#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    pub on: Date,
    pub extended: bool,
    pub inputs: Vec<Input>,
    /// Architectures considered (those of the inputs' tags, or `--arch`; every architecture
    /// when an input is `any`).
    pub arches: Vec<Arch>,
    pub distros: Vec<DistroCoverage>,
    /// Pairs of distributions supported on the date that get no wheel (they build from
    /// source).
    pub no_wheel_supported: Vec<Gap>,
    /// Pairs of released distributions past their support that get no wheel.
    pub no_wheel_eol: Vec<Gap>,
}

/// Architectures named by the inputs' tags (in [`Arch::ALL`] order).
pub fn input_arches(inputs: &[Input]) -> Vec<Arch> {
    let any = inputs
        .iter()
        .flat_map(|i| &i.tags)
        .any(|t| matches!(t, PlatformTag::Other(s) if s == "any"));
    Arch::ALL
        .into_iter()
        .filter(|a| {
            any || inputs
                .iter()
                .flat_map(|i| &i.tags)
                .any(|t| t.parsed_arch() == Some(*a))
        })
        .collect()
}

/// Coverage of `inputs` over `distros` on `on`. `arches`: the architectures to consider
/// (`None`: [`input_arches`]).
pub fn coverage(
    inputs: Vec<Input>,
    distros: &[Distro],
    on: Date,
    extended: bool,
    arches: Option<Vec<Arch>>,
) -> Coverage {
    let arches = arches.unwrap_or_else(|| input_arches(&inputs));
    let mut rows = Vec::new();
    let mut no_wheel_supported = Vec::new();
    let mut no_wheel_eol = Vec::new();
    for d in distros {
        let status = d.status(on);
        let supported = status.is_supported(extended);
        let mut pairs = Vec::new();
        for &arch in arches.iter().filter(|a| d.has_arch(**a)) {
            // The most preferred match; among equals (a tag and its legacy alias, or two
            // wheels of one tag) the first given.
            let best = inputs
                .iter()
                .flat_map(|i| i.tags.iter().zip(&i.platforms).map(move |(t, p)| (i, t, p)))
                .enumerate()
                .filter(|(_, (_, t, _))| installs(t, d, arch))
                .max_by_key(|(n, (_, t, _))| (preference(t), std::cmp::Reverse(*n)))
                .map(|(_, x)| x);
            let pair = Pair {
                arch,
                wheel: best.map(|(i, _, _)| i.input.clone()),
                tag: best.map(|(_, _, p)| p.clone()),
            };
            if pair.wheel.is_none() {
                let gap = Gap {
                    distro: d.id.clone(),
                    name: d.name.clone(),
                    arch,
                };
                if supported {
                    no_wheel_supported.push(gap);
                } else if status != Status::Unreleased {
                    no_wheel_eol.push(gap);
                }
            }
            pairs.push(pair);
        }
        rows.push(DistroCoverage {
            id: d.id.clone(),
            name: d.name.clone(),
            libc: d.libc,
            libc_version: d.libc_version.clone(),
            status,
            supported,
            released: d.released,
            eol: d.eol,
            eol_extended: d.eol_extended,
            pairs,
        });
    }
    Coverage {
        on,
        extended,
        inputs,
        arches,
        distros: rows,
        no_wheel_supported,
        no_wheel_eol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distro::{distro, distros};

    #[test]
    fn inputs() {
        let i =
            Input::parse("dist/foo-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
                .unwrap();
        assert_eq!(
            i.input,
            "foo-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        );
        assert_eq!(i.platforms.len(), 2);
        assert!(Input::parse("manylinux_2_x86_64").is_err());
        assert!(Input::parse("foo.whl").is_err());
        assert_eq!(Input::parse("musllinux_1_2_aarch64").unwrap().tags.len(), 1);
    }

    #[test]
    fn manylinux2014_covers_centos7_not_6() {
        let t: PlatformTag = "manylinux2014_x86_64".parse().unwrap();
        assert!(installs(&t, distro("centos-7").unwrap(), Arch::X86_64));
        assert!(!installs(&t, distro("centos-6").unwrap(), Arch::X86_64));
        assert!(!installs(&t, distro("alpine-3.20").unwrap(), Arch::X86_64));
        assert!(!installs(&t, distro("centos-7").unwrap(), Arch::Aarch64));
        let any: PlatformTag = "any".parse().unwrap();
        assert!(installs(&any, distro("alpine-3.20").unwrap(), Arch::S390x));
        assert!(!installs(&any, distro("centos-5").unwrap(), Arch::S390x));
    }

    #[test]
    fn gaps() {
        let on: Date = "2026-12-03".parse().unwrap();
        let inputs = vec![
            Input::parse("manylinux_2_28_x86_64").unwrap(),
            Input::parse("manylinux_2_17_aarch64").unwrap(),
        ];
        let c = coverage(inputs, distros(), on, false, None);
        assert_eq!(c.arches, [Arch::X86_64, Arch::Aarch64]);
        let gap = |id: &str, a: Arch| {
            c.no_wheel_supported
                .iter()
                .any(|g| g.distro == id && g.arch == a)
        };
        assert!(!gap("debian-12", Arch::X86_64));
        assert!(gap("alpine-3.22", Arch::X86_64));
        assert!(!gap("amazon-2023", Arch::Aarch64));
        assert!(!c
            .no_wheel_eol
            .iter()
            .any(|g| g.distro == "centos-7" && g.arch == Arch::Aarch64));
        assert!(c
            .no_wheel_eol
            .iter()
            .any(|g| g.distro == "centos-7" && g.arch == Arch::X86_64));
    }
}
