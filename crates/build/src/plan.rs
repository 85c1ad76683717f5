//! The build matrix: one cell per (architecture, Python), named as cibuildwheel names them
//! (`cp311-manylinux_aarch64`), filtered by the `build`/`skip` selectors.

use manywheel_policy::Arch;
use manywheel_target::Distro;

use crate::config::Config;
use crate::BuildError;

/// CPython versions with a Debian suite whose `python3` is that version.
pub const PYTHONS: [(&str, &str); 3] = [
    ("3.9", "bullseye"),
    ("3.11", "bookworm"),
    ("3.13", "trixie"),
];

/// The Python built for when neither `--python` nor the configuration chooses.
pub const DEFAULT_PYTHON: &str = "3.11";

/// What `--arch all` means: the architectures every step is tested on.
pub const ALL_ARCHS: [Arch; 5] = [
    Arch::X86_64,
    Arch::I686,
    Arch::Aarch64,
    Arch::Ppc64le,
    Arch::S390x,
];

/// Architectures that can be built: Debian has them and this crate knows their compilers.
pub const BUILDABLE: [Arch; 6] = [
    Arch::X86_64,
    Arch::I686,
    Arch::Aarch64,
    Arch::Armv7l,
    Arch::Ppc64le,
    Arch::S390x,
];

/// One cell of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Cell {
    /// `cp311-manylinux_aarch64`.
    pub id: String,
    #[serde(serialize_with = "ser_arch")]
    pub arch: Arch,
    /// `3.11`.
    pub python: String,
    /// `debian:bookworm`.
    pub distro: String,
}

fn ser_arch<S: serde::Serializer>(a: &Arch, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a.name())
}

impl Cell {
    pub fn new(arch: Arch, python: &str) -> Result<Cell, BuildError> {
        let suite = suite_for(python)?;
        Ok(Cell {
            id: format!("cp{}-manylinux_{}", python.replace('.', ""), arch.name()),
            arch,
            python: python.to_string(),
            distro: format!("debian:{suite}"),
        })
    }

    pub fn distro(&self) -> Distro {
        Distro::parse(&self.distro).expect("cell distros are valid")
    }

    /// `cp311`.
    pub fn python_tag(&self) -> String {
        format!("cp{}", self.python.replace('.', ""))
    }

    /// `3.11` as (3, 11).
    pub fn python_xy(&self) -> (u32, u32) {
        let mut it = self.python.split('.').map(|p| p.parse().unwrap_or(0));
        (it.next().unwrap_or(3), it.next().unwrap_or(0))
    }
}

/// The Debian suite whose CPython is `python` (`3.11` -> bookworm).
pub fn suite_for(python: &str) -> Result<&'static str, BuildError> {
    PYTHONS
        .iter()
        .find(|(v, _)| *v == python)
        .map(|(_, s)| *s)
        .ok_or_else(|| {
            BuildError::Usage(format!(
                "no target has CPython {python} (available: {})",
                PYTHONS.map(|(v, _)| v).join(", ")
            ))
        })
}

/// Parse `x86_64,aarch64`, `all`, `auto`/`native` (the host's), with aliases.
pub fn parse_archs(list: &[String]) -> Result<Vec<Arch>, BuildError> {
    let mut out: Vec<Arch> = Vec::new();
    for word in list.iter().flat_map(|w| w.split(',')).map(str::trim) {
        let add: Vec<Arch> = match word {
            "" => continue,
            "all" => ALL_ARCHS.to_vec(),
            "auto" | "native" | "auto64" => vec![host_arch()?],
            "auto32" => vec![Arch::I686],
            w => {
                let a = Arch::from_name(w).map_err(|_| {
                    BuildError::Usage(format!(
                        "unknown architecture {w:?} (known: {}, all)",
                        BUILDABLE.map(|a| a.name()).join(", ")
                    ))
                })?;
                if !BUILDABLE.contains(&a) {
                    return Err(BuildError::Usage(format!(
                        "cannot build for {a} yet (buildable: {})",
                        BUILDABLE.map(|a| a.name()).join(", ")
                    )));
                }
                vec![a]
            }
        };
        for a in add {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    Ok(out)
}

fn host_arch() -> Result<Arch, BuildError> {
    Arch::from_name(std::env::consts::ARCH)
        .map_err(|_| BuildError::Usage(format!("unsupported host {}", std::env::consts::ARCH)))
}

/// Parse `3.11,3.12` (also `cp311`, `311`).
pub fn parse_pythons(list: &[String]) -> Result<Vec<String>, BuildError> {
    let mut out = Vec::new();
    for word in list.iter().flat_map(|w| w.split(',')).map(str::trim) {
        if word.is_empty() {
            continue;
        }
        let digits = word.trim_start_matches("cp");
        let v = if digits.contains('.') {
            digits.to_string()
        } else if digits.len() >= 2 && digits.bytes().all(|b| b.is_ascii_digit()) {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            return Err(BuildError::Usage(format!("bad Python version {word:?}")));
        };
        suite_for(&v)?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// A cibuildwheel selector (`cp311-*`, `*-manylinux_aarch64`, `*i686`) against an identifier.
pub fn selector_matches(selector: &str, id: &str) -> bool {
    glob::Pattern::new(selector).is_ok_and(|p| p.matches(id))
}

/// What to plan for: explicit choices override the configuration.
#[derive(Clone, Debug, Default)]
pub struct PlanRequest {
    pub archs: Option<Vec<String>>,
    pub pythons: Option<Vec<String>>,
    /// Exactly this cell (any architecture and Python, selectors ignored).
    pub only: Option<String>,
}

/// The cells to build, in a stable order (Python, then architecture).
pub fn plan(cfg: &Config, req: &PlanRequest) -> Result<Vec<Cell>, BuildError> {
    if let Some(only) = &req.only {
        for (py, _) in PYTHONS {
            for arch in BUILDABLE {
                let cell = Cell::new(arch, py)?;
                if cell.id == *only {
                    return Ok(vec![cell]);
                }
            }
        }
        return Err(BuildError::Usage(format!(
            "--only {only}: no such cell (identifiers look like cp311-manylinux_aarch64)"
        )));
    }
    let archs = match &req.archs {
        Some(a) => parse_archs(a)?,
        None if !cfg.archs.is_empty() => parse_archs(&cfg.archs)?,
        None => vec![host_arch()?],
    };
    let pythons = match &req.pythons {
        Some(p) => parse_pythons(p)?,
        None if !cfg.python.is_empty() => parse_pythons(&cfg.python)?,
        // With a `build` selector, every Python it selects; else the default one.
        None if !cfg.build.is_empty() => PYTHONS.iter().map(|(v, _)| v.to_string()).collect(),
        None => vec![DEFAULT_PYTHON.to_string()],
    };
    let mut cells = Vec::new();
    for py in &pythons {
        for &arch in &archs {
            let cell = Cell::new(arch, py)?;
            let built =
                cfg.build.is_empty() || cfg.build.iter().any(|s| selector_matches(s, &cell.id));
            let skipped = cfg.skip.iter().any(|s| selector_matches(s, &cell.id));
            if built && !skipped {
                cells.push(cell);
            }
        }
    }
    Ok(cells)
}

/// Output formats of `manywheel plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFormat {
    Text,
    Json,
    /// `{"include": [...]}` for `strategy.matrix: ${{ fromJson(...) }}`.
    Github,
    /// A `parallel: matrix:` job fragment.
    Gitlab,
}

impl PlanFormat {
    pub fn parse(s: &str) -> Result<PlanFormat, BuildError> {
        Ok(match s {
            "text" => PlanFormat::Text,
            "json" => PlanFormat::Json,
            "github" => PlanFormat::Github,
            "gitlab" => PlanFormat::Gitlab,
            _ => {
                return Err(BuildError::Usage(format!(
                    "unknown plan format {s:?} (text, json, github, gitlab)"
                )))
            }
        })
    }
}

/// Render the plan.
pub fn render(cells: &[Cell], format: PlanFormat) -> String {
    match format {
        PlanFormat::Text => {
            let mut s = String::new();
            for c in cells {
                s.push_str(&format!(
                    "{:<28} {:<8} {:<6} {}\n",
                    c.id,
                    c.arch.name(),
                    c.python,
                    c.distro
                ));
            }
            s
        }
        PlanFormat::Json => {
            let mut s = serde_json::to_string_pretty(cells).expect("cells serialize");
            s.push('\n');
            s
        }
        PlanFormat::Github => {
            let v = serde_json::json!({ "include": cells });
            format!("{v}\n")
        }
        PlanFormat::Gitlab => {
            let mut s = String::from(
                "# include in a job: `manywheel build --only \"$MANYWHEEL_ONLY\"`\nparallel:\n  matrix:\n    - MANYWHEEL_ONLY:\n",
            );
            for c in cells {
                s.push_str(&format!("        - \"{}\"\n", c.id));
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(build: &[&str], skip: &[&str], archs: &[&str]) -> Config {
        Config {
            build: build.iter().map(|s| s.to_string()).collect(),
            skip: skip.iter().map(|s| s.to_string()).collect(),
            archs: archs.iter().map(|s| s.to_string()).collect(),
            ..Config::default()
        }
    }

    fn ids(cells: &[Cell]) -> Vec<&str> {
        cells.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn matrix_and_selectors() {
        let c = cfg(&[], &["*i686"], &["all"]);
        let p = plan(&c, &PlanRequest::default()).unwrap();
        assert_eq!(
            ids(&p),
            [
                "cp311-manylinux_x86_64",
                "cp311-manylinux_aarch64",
                "cp311-manylinux_ppc64le",
                "cp311-manylinux_s390x"
            ]
        );
        let c = cfg(&["cp39-* cp313-*"], &[], &["aarch64"]);
        let c = Config {
            build: c.build[0].split(' ').map(str::to_string).collect(),
            ..c
        };
        let p = plan(&c, &PlanRequest::default()).unwrap();
        assert_eq!(
            ids(&p),
            ["cp39-manylinux_aarch64", "cp313-manylinux_aarch64"]
        );
        assert_eq!(p[1].distro, "debian:trixie");
        let req = PlanRequest {
            archs: Some(vec!["s390x,arm64".into()]),
            pythons: Some(vec!["3.11".into()]),
            only: None,
        };
        let p = plan(&c, &req).unwrap();
        assert!(p.is_empty(), "the build selector still applies: {p:?}");
        let p = plan(&Config::default(), &req).unwrap();
        assert_eq!(
            ids(&p),
            ["cp311-manylinux_s390x", "cp311-manylinux_aarch64"]
        );
    }

    #[test]
    fn only_and_errors() {
        let req = PlanRequest {
            only: Some("cp311-manylinux_ppc64le".into()),
            ..Default::default()
        };
        let p = plan(&cfg(&[], &["*"], &["x86_64"]), &req).unwrap();
        assert_eq!(ids(&p), ["cp311-manylinux_ppc64le"]);
        let req = PlanRequest {
            only: Some("cp311-win_amd64".into()),
            ..Default::default()
        };
        assert!(plan(&Config::default(), &req)
            .unwrap_err()
            .to_string()
            .contains("no such cell"));
        assert!(parse_archs(&["sparc".into()]).is_err());
        assert!(parse_archs(&["loongarch64".into()])
            .unwrap_err()
            .to_string()
            .contains("cannot build"));
        assert!(parse_pythons(&["3.12".into()])
            .unwrap_err()
            .to_string()
            .contains("no target has CPython 3.12"));
        assert_eq!(
            parse_pythons(&["cp311,3.13".into()]).unwrap(),
            ["3.11", "3.13"]
        );
    }

    #[test]
    fn formats() {
        let cells = vec![Cell::new(Arch::Aarch64, "3.11").unwrap()];
        let gh: serde_json::Value =
            serde_json::from_str(&render(&cells, PlanFormat::Github)).unwrap();
        assert_eq!(gh["include"][0]["id"], "cp311-manylinux_aarch64");
        assert_eq!(gh["include"][0]["arch"], "aarch64");
        assert!(render(&cells, PlanFormat::Gitlab).contains("- \"cp311-manylinux_aarch64\""));
    }
}
