//! Linux platform tags: `manylinux_X_Y_arch` (PEP 600), its legacy aliases `manylinux1`
//! (PEP 513), `manylinux2010` (PEP 571) and `manylinux2014` (PEP 599), `musllinux_X_Y_arch`
//! (PEP 656) and `linux_arch`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::policy::parse_number;
use crate::{Arch, Error, Libc};

/// A wheel platform tag. Parsing maps legacy aliases to their PEP 600 form, so `Display`
/// always gives the canonical spelling (`manylinux2014_x86_64` → `manylinux_2_17_x86_64`).
///
/// The derived order sorts by family (manylinux, musllinux, linux, other), then version,
/// then architecture.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PlatformTag {
    Manylinux {
        major: u32,
        minor: u32,
        arch: String,
    },
    Musllinux {
        major: u32,
        minor: u32,
        arch: String,
    },
    Linux {
        arch: String,
    },
    /// Any other well-formed tag (`any`, `win_amd64`, `macosx_11_0_arm64`, ...).
    Other(String),
}

/// Legacy manylinux names and the glibc version they stand for (PEP 600, "Legacy manylinux
/// tags").
const LEGACY: [(&str, (u32, u32)); 3] = [
    ("manylinux1", (2, 5)),
    ("manylinux2010", (2, 12)),
    ("manylinux2014", (2, 17)),
];

/// Architectures the legacy names were defined for: manylinux1 (PEP 513) and manylinux2010
/// (PEP 571) for x86_64/i686; manylinux2014 (PEP 599) for these and aarch64, armv7l, ppc64,
/// ppc64le, s390x.
fn legacy_arches(version: (u32, u32)) -> &'static [&'static str] {
    match version {
        (2, 5) | (2, 12) => &["x86_64", "i686"],
        (2, 17) => &[
            "x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x",
        ],
        _ => &[],
    }
}

fn bad(s: &str) -> Error {
    Error::Tag(s.to_string())
}

/// `X_Y_arch` → (X, Y, arch)
fn versioned(rest: &str, whole: &str) -> Result<(u32, u32, String), Error> {
    let mut parts = rest.splitn(3, '_');
    let major = parts
        .next()
        .and_then(parse_number)
        .ok_or_else(|| bad(whole))?;
    let minor = parts
        .next()
        .and_then(parse_number)
        .ok_or_else(|| bad(whole))?;
    let arch = parts
        .next()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad(whole))?;
    Ok((major, minor, arch.to_string()))
}

impl FromStr for PlatformTag {
    type Err = Error;

    /// Tags are made of ASCII letters, digits and `_`; anything else (including an empty
    /// string or a compressed tag set with `.`) is an [`Error::Tag`], as is a malformed
    /// `manylinux_`/`musllinux_` tag or a family prefix without an architecture.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(bad(s));
        }
        if let Some(rest) = s.strip_prefix("manylinux_") {
            let (major, minor, arch) = versioned(rest, s)?;
            return Ok(PlatformTag::Manylinux { major, minor, arch });
        }
        if let Some(rest) = s.strip_prefix("musllinux_") {
            let (major, minor, arch) = versioned(rest, s)?;
            return Ok(PlatformTag::Musllinux { major, minor, arch });
        }
        for (legacy, (major, minor)) in LEGACY {
            if let Some(rest) = s.strip_prefix(legacy) {
                if let Some(arch) = rest.strip_prefix('_') {
                    if arch.is_empty() {
                        return Err(bad(s));
                    }
                    return Ok(PlatformTag::Manylinux {
                        major,
                        minor,
                        arch: arch.to_string(),
                    });
                }
                if rest.is_empty() {
                    return Err(bad(s));
                }
            }
        }
        if let Some(arch) = s.strip_prefix("linux_") {
            if arch.is_empty() {
                return Err(bad(s));
            }
            return Ok(PlatformTag::Linux {
                arch: arch.to_string(),
            });
        }
        if matches!(s, "linux" | "manylinux" | "musllinux") {
            return Err(bad(s));
        }
        Ok(PlatformTag::Other(s.to_string()))
    }
}

impl fmt::Display for PlatformTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlatformTag::Manylinux { major, minor, arch } => {
                write!(f, "manylinux_{major}_{minor}_{arch}")
            }
            PlatformTag::Musllinux { major, minor, arch } => {
                write!(f, "musllinux_{major}_{minor}_{arch}")
            }
            PlatformTag::Linux { arch } => write!(f, "linux_{arch}"),
            PlatformTag::Other(s) => f.write_str(s),
        }
    }
}

impl PlatformTag {
    /// A manylinux tag.
    pub fn manylinux(major: u32, minor: u32, arch: Arch) -> PlatformTag {
        PlatformTag::Manylinux {
            major,
            minor,
            arch: arch.name().to_string(),
        }
    }

    /// A musllinux tag.
    pub fn musllinux(major: u32, minor: u32, arch: Arch) -> PlatformTag {
        PlatformTag::Musllinux {
            major,
            minor,
            arch: arch.name().to_string(),
        }
    }

    /// The legacy spelling of a manylinux tag that has one, for the architectures the legacy
    /// PEP defined: `manylinux1_x86_64`, `manylinux2010_i686`, `manylinux2014_aarch64`.
    pub fn legacy_alias(&self) -> Option<String> {
        let PlatformTag::Manylinux { major, minor, arch } = self else {
            return None;
        };
        let (name, version) = LEGACY.iter().find(|(_, v)| *v == (*major, *minor))?;
        legacy_arches(*version)
            .contains(&arch.as_str())
            .then(|| format!("{name}_{arch}"))
    }

    /// The architecture part, as written (`None` for [`PlatformTag::Other`]).
    pub fn arch(&self) -> Option<&str> {
        match self {
            PlatformTag::Manylinux { arch, .. }
            | PlatformTag::Musllinux { arch, .. }
            | PlatformTag::Linux { arch } => Some(arch),
            PlatformTag::Other(_) => None,
        }
    }

    /// The architecture, if it is one this crate knows (aliases accepted).
    pub fn parsed_arch(&self) -> Option<Arch> {
        self.arch().and_then(|a| Arch::from_name(a).ok())
    }

    /// The libc the tag requires: glibc for manylinux, musl for musllinux, none otherwise.
    pub fn libc(&self) -> Option<Libc> {
        match self {
            PlatformTag::Manylinux { .. } => Some(Libc::Glibc),
            PlatformTag::Musllinux { .. } => Some(Libc::Musl),
            _ => None,
        }
    }

    /// The libc version of a manylinux/musllinux tag.
    pub fn version(&self) -> Option<(u32, u32)> {
        match self {
            PlatformTag::Manylinux { major, minor, .. }
            | PlatformTag::Musllinux { major, minor, .. } => Some((*major, *minor)),
            _ => None,
        }
    }

    /// The policy name: `manylinux_2_17`, `musllinux_1_2`, `linux` (`None` for other tags).
    pub fn policy_name(&self) -> Option<String> {
        match self {
            PlatformTag::Manylinux { major, minor, .. } => {
                Some(format!("manylinux_{major}_{minor}"))
            }
            PlatformTag::Musllinux { major, minor, .. } => {
                Some(format!("musllinux_{major}_{minor}"))
            }
            PlatformTag::Linux { .. } => Some("linux".to_string()),
            PlatformTag::Other(_) => None,
        }
    }

    /// PEP 600: a `manylinux_X_Y` wheel installs on a system with glibc `major.minor` iff
    /// `(major, minor) >= (X, Y)`. False for non-manylinux tags.
    pub fn is_compatible_with_glibc(&self, major: u32, minor: u32) -> bool {
        match self {
            PlatformTag::Manylinux {
                major: x, minor: y, ..
            } => (major, minor) >= (*x, *y),
            _ => false,
        }
    }

    /// PEP 656: a `musllinux_X_Y` wheel installs on a system with musl `major.minor` iff
    /// `(major, minor) >= (X, Y)`. False for non-musllinux tags.
    pub fn is_compatible_with_musl(&self, major: u32, minor: u32) -> bool {
        match self {
            PlatformTag::Musllinux {
                major: x, minor: y, ..
            } => (major, minor) >= (*x, *y),
            _ => false,
        }
    }
}

impl Serialize for PlatformTag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PlatformTag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
