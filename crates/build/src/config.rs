//! The project's configuration: `pyproject.toml` (`[build-system]`, `[project]`,
//! `[tool.manywheel]`, or `[tool.cibuildwheel]` when ours is absent).
//!
//! The cibuildwheel keys that mean the same here are accepted under either table: `build`,
//! `skip`, `archs`, `before-all`, `before-build`, `environment`, `test-command`,
//! `test-requires`, `test-skip`, `repair-wheel-command`. Ours only: `target-packages` (Debian
//! packages added to each target sysroot, e.g. `libzstd-dev`) and `python` (versions).
//! The per-platform sub-tables of cibuildwheel (`[tool.cibuildwheel.linux]`) are merged over the
//! top level.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::BuildError;

/// The PEP 517 fallback when `[build-system]` names no backend.
pub const LEGACY_BACKEND: &str = "setuptools.build_meta:__legacy__";

/// A project's build configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Config {
    /// The project folder.
    pub dir: PathBuf,
    /// `[project] name`, else the folder's name.
    pub name: String,
    /// `[build-system] requires`.
    pub requires: Vec<String>,
    /// `[build-system] build-backend`.
    pub backend: String,
    /// `[build-system] backend-path`.
    pub backend_path: Vec<String>,
    /// Which table the settings came from: `tool.manywheel`, `tool.cibuildwheel` or none.
    pub source: Option<String>,
    pub build: Vec<String>,
    pub skip: Vec<String>,
    pub archs: Vec<String>,
    pub python: Vec<String>,
    pub before_all: Option<String>,
    pub before_build: Option<String>,
    pub environment: BTreeMap<String, String>,
    pub test_command: Option<String>,
    pub test_requires: Vec<String>,
    pub test_skip: Vec<String>,
    pub repair_wheel_command: Option<String>,
    pub target_packages: Vec<String>,
    /// Keys present but not understood (reported as warnings).
    pub ignored: Vec<String>,
}

fn bad(path: &Path, what: impl std::fmt::Display) -> BuildError {
    BuildError::Usage(format!("{}: {what}", path.display()))
}

/// A string or a list of strings: lists of selectors/names are also accepted as one
/// whitespace-separated string (cibuildwheel's convention).
fn words(path: &Path, key: &str, v: &toml::Value) -> Result<Vec<String>, BuildError> {
    match v {
        toml::Value::String(s) => Ok(s.split_whitespace().map(str::to_string).collect()),
        toml::Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad(path, format!("{key}: every entry must be a string")))
            })
            .collect(),
        _ => Err(bad(
            path,
            format!("{key}: expected a string or a list of strings"),
        )),
    }
}

/// A list of requirement strings (each entry whole).
fn list(path: &Path, key: &str, v: &toml::Value) -> Result<Vec<String>, BuildError> {
    match v {
        toml::Value::Array(_) => words(path, key, v),
        toml::Value::String(s) => Ok(s.split_whitespace().map(str::to_string).collect()),
        _ => Err(bad(path, format!("{key}: expected a list of strings"))),
    }
}

/// A command: a string, or a list joined with `&&`.
fn command(path: &Path, key: &str, v: &toml::Value) -> Result<String, BuildError> {
    match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Array(_) => Ok(words(path, key, v)?.join(" && ")),
        _ => Err(bad(
            path,
            format!("{key}: expected a string or a list of strings"),
        )),
    }
}

/// `environment`: a table, or a string of `NAME=value` words (quotes allowed).
fn environment(
    path: &Path,
    v: &toml::Value,
    out: &mut BTreeMap<String, String>,
) -> Result<(), BuildError> {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let value = match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    _ => return Err(bad(path, format!("environment.{k}: expected a string"))),
                };
                out.insert(k.clone(), value);
            }
        }
        toml::Value::String(s) => {
            for word in
                crate::shell::split(s).map_err(|e| bad(path, format!("environment: {e}")))?
            {
                let (k, v) = word
                    .split_once('=')
                    .ok_or_else(|| bad(path, format!("environment: {word:?} is not NAME=value")))?;
                out.insert(k.to_string(), v.to_string());
            }
        }
        _ => return Err(bad(path, "environment: expected a table or a string")),
    }
    Ok(())
}

impl Config {
    /// Read the project in `dir` (`pyproject.toml`, or a `setup.py` alone).
    pub fn load(dir: &Path) -> Result<Config, BuildError> {
        if !dir.is_dir() {
            return Err(BuildError::Usage(format!(
                "{}: not a project folder",
                dir.display()
            )));
        }
        let path = dir.join("pyproject.toml");
        let fallback_name = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "project".into());
        let mut cfg = Config {
            dir: dir.to_path_buf(),
            name: fallback_name,
            backend: LEGACY_BACKEND.into(),
            requires: vec!["setuptools>=40.8.0".into()],
            ..Config::default()
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if dir.join("setup.py").is_file() {
                    return Ok(cfg);
                }
                return Err(BuildError::Usage(format!(
                    "{}: no pyproject.toml or setup.py",
                    dir.display()
                )));
            }
            Err(e) => return Err(bad(&path, e)),
        };
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| bad(&path, format!("not valid TOML: {}", e.message())))?;
        if let Some(bs) = doc.get("build-system") {
            let bs = bs
                .as_table()
                .ok_or_else(|| bad(&path, "[build-system] must be a table"))?;
            match bs.get("requires") {
                Some(v) => cfg.requires = list(&path, "build-system.requires", v)?,
                None => {
                    return Err(bad(&path, "[build-system] has no `requires` (PEP 518)"));
                }
            }
            if let Some(b) = bs.get("build-backend") {
                cfg.backend = b
                    .as_str()
                    .ok_or_else(|| bad(&path, "build-backend must be a string"))?
                    .to_string();
            }
            if let Some(p) = bs.get("backend-path") {
                cfg.backend_path = list(&path, "build-system.backend-path", p)?;
            }
        }
        if let Some(name) = doc
            .get("project")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
        {
            cfg.name = name.to_string();
        }
        let tool = doc.get("tool").and_then(|t| t.as_table());
        let (source, table) = match (
            tool.and_then(|t| t.get("manywheel")),
            tool.and_then(|t| t.get("cibuildwheel")),
        ) {
            (Some(t), _) => ("tool.manywheel", t),
            (None, Some(t)) => ("tool.cibuildwheel", t),
            (None, None) => return Ok(cfg),
        };
        let table = table
            .as_table()
            .ok_or_else(|| bad(&path, format!("[{source}] must be a table")))?;
        cfg.source = Some(source.to_string());
        let mut merged = table.clone();
        if let Some(linux) = table.get("linux").and_then(|l| l.as_table()) {
            for (k, v) in linux {
                merged.insert(k.clone(), v.clone());
            }
        }
        for (key, v) in &merged {
            let k = key.as_str();
            match k {
                "build" => cfg.build = words(&path, k, v)?,
                "skip" => cfg.skip = words(&path, k, v)?,
                "archs" => cfg.archs = words(&path, k, v)?,
                "python" => cfg.python = words(&path, k, v)?,
                "before-all" => cfg.before_all = Some(command(&path, k, v)?),
                "before-build" => cfg.before_build = Some(command(&path, k, v)?),
                "environment" => environment(&path, v, &mut cfg.environment)?,
                "test-command" => cfg.test_command = Some(command(&path, k, v)?),
                "test-requires" => cfg.test_requires = list(&path, k, v)?,
                "test-skip" => cfg.test_skip = words(&path, k, v)?,
                "repair-wheel-command" => cfg.repair_wheel_command = Some(command(&path, k, v)?),
                "target-packages" => cfg.target_packages = list(&path, k, v)?,
                "linux" | "macos" | "windows" | "pyodide" | "ios" | "android" => {}
                _ => cfg.ignored.push(format!("{source}.{k}")),
            }
        }
        for p in &cfg.target_packages {
            let ok = !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
            if !ok {
                return Err(bad(
                    &path,
                    format!("target-packages: bad Debian package name {p:?}"),
                ));
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, BuildError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyproject.toml"), text).unwrap();
        Config::load(dir.path())
    }

    #[test]
    fn cibuildwheel_table_is_read_when_ours_is_absent() {
        let c = load(
            r#"
[build-system]
requires = ["setuptools>=61", "wheel"]
build-backend = "setuptools.build_meta"
[project]
name = "demo"
[tool.cibuildwheel]
build = "cp311-*"
skip = ["*-musllinux_*", "*i686"]
archs = "x86_64 aarch64"
test-command = ["python -c 1", "python -c 2"]
environment = 'FOO=1 BAR="a b"'
overrides = []
[tool.cibuildwheel.linux]
archs = ["aarch64"]
repair-wheel-command = "auditwheel repair -w {dest_dir} {wheel}"
"#,
        )
        .unwrap();
        assert_eq!(c.source.as_deref(), Some("tool.cibuildwheel"));
        assert_eq!(c.name, "demo");
        assert_eq!(c.requires, ["setuptools>=61", "wheel"]);
        assert_eq!(c.build, ["cp311-*"]);
        assert_eq!(c.skip, ["*-musllinux_*", "*i686"]);
        assert_eq!(c.archs, ["aarch64"], "linux table wins");
        assert_eq!(
            c.test_command.as_deref(),
            Some("python -c 1 && python -c 2")
        );
        assert_eq!(c.environment["BAR"], "a b");
        assert_eq!(c.ignored, ["tool.cibuildwheel.overrides"]);
    }

    #[test]
    fn ours_wins_over_cibuildwheel() {
        let c = load(
            "[tool.manywheel]\narchs = ['s390x']\ntarget-packages = ['libzstd-dev']\n[tool.cibuildwheel]\narchs = 'x86_64'\n",
        )
        .unwrap();
        assert_eq!(c.source.as_deref(), Some("tool.manywheel"));
        assert_eq!(c.archs, ["s390x"]);
        assert_eq!(c.target_packages, ["libzstd-dev"]);
        assert_eq!(c.backend, LEGACY_BACKEND);
    }

    #[test]
    fn bad_input_is_one_clear_error() {
        for (text, want) in [
            ("[build-system]\nbuild-backend = 'x'\n", "no `requires`"),
            ("[tool.manywheel]\narchs = 3\n", "archs: expected"),
            (
                "[tool.manywheel]\ntarget-packages = ['Bad Name']\n",
                "bad Debian package",
            ),
            ("this is = = not toml", "not valid TOML"),
        ] {
            let e = load(text).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
