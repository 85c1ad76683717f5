//! The embedded table of Linux distributions (`data/distros.tsv`): which C library each
//! release ships, for which architectures, and when it is supported.

use std::sync::OnceLock;

use manywheel_policy::{Arch, Libc};
use serde::Serialize;

use crate::{Date, Error};

/// The table as shipped.
pub const DISTROS_TSV: &str = include_str!("../data/distros.tsv");

/// Column names, in order.
pub const COLUMNS: [&str; 11] = [
    "id",
    "name",
    "vendor",
    "libc",
    "libc_version",
    "arches",
    "released",
    "eol",
    "eol_extended",
    "source",
    "note",
];

/// One distribution release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Distro {
    pub id: String,
    pub name: String,
    /// Family for grouping: `rhel`, `debian`, `ubuntu`, `amazon`, `suse`, `fedora`, `alpine`.
    pub vendor: String,
    pub libc: Libc,
    /// As written in the table (`"2.17"`, `"1.2.5"`).
    pub libc_version: String,
    #[serde(skip)]
    pub version: (u32, u32),
    pub arches: Vec<Arch>,
    pub released: Date,
    /// End of regular support; `None` when not announced.
    pub eol: Option<Date>,
    /// End of extended (paid / LTS) support, if any.
    pub eol_extended: Option<Date>,
    pub sources: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// Where a release stands on a given day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In regular support.
    Supported,
    /// Past regular support, inside extended support.
    Extended,
    /// Past all support.
    Eol,
    /// Not released yet.
    Unreleased,
}

impl Status {
    /// Whether a release in this state counts as supported (`extended`: count extended
    /// support too).
    pub fn is_supported(self, extended: bool) -> bool {
        match self {
            Status::Supported => true,
            Status::Extended => extended,
            Status::Eol | Status::Unreleased => false,
        }
    }
}

impl Distro {
    /// Where the release stands on `on`.
    pub fn status(&self, on: Date) -> Status {
        if on < self.released {
            return Status::Unreleased;
        }
        match self.eol {
            None => Status::Supported,
            Some(eol) if on <= eol => Status::Supported,
            Some(_) => match self.eol_extended {
                Some(ext) if on <= ext => Status::Extended,
                _ => Status::Eol,
            },
        }
    }

    /// Whether it is supported on `on` (extended support counted when `extended`).
    pub fn supported_on(&self, on: Date, extended: bool) -> bool {
        self.status(on).is_supported(extended)
    }

    /// The last day of support that counts (`None`: open-ended).
    pub fn end(&self, extended: bool) -> Option<Date> {
        if extended {
            self.eol_extended.or(self.eol)
        } else {
            self.eol
        }
    }

    /// Whether the release is built for `arch`.
    pub fn has_arch(&self, arch: Arch) -> bool {
        self.arches.contains(&arch)
    }

    /// `glibc 2.17` / `musl 1.2.5`.
    pub fn libc_label(&self) -> String {
        format!("{} {}", self.libc, self.libc_version)
    }

    /// A short description of the state on `on`: `supported until 2024-06-30`,
    /// `EOL since 2017-03-31 (extended support until 2020-11-30)`, `released 2018-06-26`.
    pub fn status_text(&self, on: Date) -> String {
        let ext = |prefix: &str| match self.eol_extended {
            Some(e) if e >= on => format!("{prefix}extended support until {e}"),
            Some(e) => format!("{prefix}extended support ended {e}"),
            None => String::new(),
        };
        match self.status(on) {
            Status::Unreleased => format!("not released until {}", self.released),
            Status::Supported => match self.eol {
                Some(e) => format!("supported until {e}"),
                None => "supported (no end date announced)".to_string(),
            },
            Status::Extended => format!(
                "regular support ended {}; {}",
                self.eol.expect("extended implies an eol"),
                ext("")
            ),
            Status::Eol => {
                let e = self.eol.expect("eol implies a date");
                let tail = ext(", ");
                format!("EOL since {e}{tail}")
            }
        }
    }
}

/// `"2.17"` → (2, 17); `"1.2.5"` → (1, 2). At least two numeric components.
pub fn parse_libc_version(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    for rest in parts {
        rest.parse::<u32>().ok()?;
    }
    Some((major, minor))
}

fn is_source(s: &str) -> bool {
    // A URL, or a named document ("Debian release notes").
    (s.starts_with("https://") || s.starts_with("http://")) && s.len() > 12 && !s.contains(' ')
        || (!s.contains("://") && s.chars().any(|c| c.is_alphabetic()) && s.len() >= 4)
}

/// Parse a table in the `distros.tsv` format.
pub fn parse_table(text: &str) -> Result<Vec<Distro>, Error> {
    let mut rows = Vec::new();
    let mut header_seen = false;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |msg: String| Error::Table { line: line_no, msg };
        let cols: Vec<&str> = line.split('\t').collect();
        if !header_seen {
            if cols != COLUMNS {
                return Err(err(format!(
                    "expected the header {:?}, found {cols:?}",
                    COLUMNS.join("\t")
                )));
            }
            header_seen = true;
            continue;
        }
        if cols.len() != COLUMNS.len() {
            return Err(err(format!(
                "{} columns, expected {}",
                cols.len(),
                COLUMNS.len()
            )));
        }
        let field = |name: &str| cols[COLUMNS.iter().position(|c| *c == name).unwrap()].trim();
        let nonempty = |name: &str| -> Result<String, Error> {
            let v = field(name);
            if v.is_empty() {
                Err(err(format!("empty {name}")))
            } else {
                Ok(v.to_string())
            }
        };
        let date = |name: &str| -> Result<Option<Date>, Error> {
            let v = field(name);
            if v.is_empty() {
                return Ok(None);
            }
            v.parse()
                .map(Some)
                .map_err(|_| err(format!("{name}: bad date {v:?}")))
        };
        let id = nonempty("id")?;
        if !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        {
            return Err(err(format!("id {id:?}: use a-z, 0-9, '-' and '.'")));
        }
        let libc = match field("libc") {
            "glibc" => Libc::Glibc,
            "musl" => Libc::Musl,
            other => return Err(err(format!("libc {other:?}: expected glibc or musl"))),
        };
        let libc_version = nonempty("libc_version")?;
        let version = parse_libc_version(&libc_version)
            .ok_or_else(|| err(format!("libc_version {libc_version:?}: expected X.Y[.Z]")))?;
        let mut arches = Vec::new();
        for a in nonempty("arches")?.split(',') {
            let arch = Arch::from_name(a).map_err(|_| err(format!("unknown arch {a:?}")))?;
            if arch.name() != a.trim() {
                return Err(err(format!(
                    "arch {a:?}: write the wheel name {}",
                    arch.name()
                )));
            }
            if arches.contains(&arch) {
                return Err(err(format!("arch {a} listed twice")));
            }
            arches.push(arch);
        }
        let released = date("released")?.ok_or_else(|| err("empty released".to_string()))?;
        let eol = date("eol")?;
        let eol_extended = date("eol_extended")?;
        if eol.is_some_and(|e| e < released) {
            return Err(err("eol before release".to_string()));
        }
        match (eol, eol_extended) {
            (None, Some(_)) => return Err(err("eol_extended without eol".to_string())),
            (Some(e), Some(x)) if x < e => return Err(err("eol_extended before eol".to_string())),
            _ => {}
        }
        let sources: Vec<String> = field("source")
            .split(" ; ")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if sources.is_empty() {
            return Err(err("no source".to_string()));
        }
        if let Some(bad) = sources.iter().find(|s| !is_source(s)) {
            return Err(err(format!("source {bad:?} is neither a URL nor a name")));
        }
        let row = Distro {
            id,
            name: nonempty("name")?,
            vendor: nonempty("vendor")?,
            libc,
            libc_version,
            version,
            arches,
            released,
            eol,
            eol_extended,
            sources,
            note: field("note").to_string(),
        };
        if rows.iter().any(|r: &Distro| r.id == row.id) {
            return Err(err(format!("duplicate id {}", row.id)));
        }
        rows.push(row);
    }
    if !header_seen {
        return Err(Error::Table {
            line: 0,
            msg: "no header".to_string(),
        });
    }
    Ok(rows)
}

/// The embedded table, in file order.
pub fn distros() -> &'static [Distro] {
    static TABLE: OnceLock<Vec<Distro>> = OnceLock::new();
    TABLE.get_or_init(|| parse_table(DISTROS_TSV).expect("embedded distros.tsv is valid"))
}

/// Look a release up by id.
pub fn distro(id: &str) -> Option<&'static Distro> {
    distros().iter().find(|d| d.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let c5 = distro("centos-5").unwrap();
        let on = |s: &str| s.parse::<Date>().unwrap();
        assert_eq!(c5.status(on("2017-03-31")), Status::Supported);
        assert_eq!(c5.status(on("2017-04-08")), Status::Eol);
        assert_eq!(c5.status(on("2007-01-01")), Status::Unreleased);
        let r5 = distro("rhel-5").unwrap();
        assert_eq!(r5.status(on("2017-04-08")), Status::Extended);
        assert!(!r5.supported_on(on("2017-04-08"), false));
        assert!(r5.supported_on(on("2017-04-08"), true));
    }

    #[test]
    fn bad_tables() {
        let header = COLUMNS.join("\t");
        let row = "x\tX\tv\tglibc\t2.17\tx86_64\t2014-01-01\t2015-01-01\t\thttps://example.org/x\t";
        assert_eq!(parse_table(&format!("{header}\n{row}\n")).unwrap().len(), 1);
        for (from, to) in [
            ("https://example.org/x", ""),
            ("2.17", "2"),
            ("x86_64", "amd64"),
            ("glibc", "uclibc"),
            ("2015-01-01", "2013-01-01"),
            ("\t\thttps", "\t2014-06-01\thttps"),
        ] {
            let bad = row.replacen(from, to, 1);
            assert!(parse_table(&format!("{header}\n{bad}\n")).is_err(), "{bad}");
        }
    }
}
