//! Host-side installation: unpack the wheels (RECORD checked), pip the requirements for the
//! target's interpreter, find the console scripts, write the smoke test.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use manywheel_policy::{Arch, PlatformTag};
use manywheel_wheel::Wheel;

use crate::{io_err, ArchPlan, Error, Options, WheelPlan};

/// What was installed for one architecture.
#[derive(Debug)]
pub struct Installed {
    /// The wheels, unpacked.
    pub site: PathBuf,
    /// Requirements installed by pip (may not exist).
    pub reqs: PathBuf,
    /// `(name, module, attribute path)` of every console script.
    pub scripts: Vec<(String, String, String)>,
    /// The default command: import every top-level module of the wheels.
    pub smoke_command: String,
}

/// Open a wheel (validating it) and find its architecture (`None`: pure).
pub(crate) fn read_wheel(path: &Path) -> Result<(WheelPlan, Option<Arch>), Error> {
    let w = Wheel::open(path).map_err(|e| Error::Usage(e.to_string()))?;
    let f = w.filename();
    let file_name = f.to_string();
    let mut arch: Option<Arch> = None;
    let mut pure = false;
    for tag in &f.platform_tags {
        if tag == "any" {
            pure = true;
            continue;
        }
        let parsed: PlatformTag = tag
            .parse()
            .map_err(|e| Error::Usage(format!("{file_name}: platform tag {tag}: {e}")))?;
        if parsed.libc() == Some(manywheel_policy::Libc::Musl) {
            return Err(Error::Usage(format!(
                "{file_name}: a musllinux wheel; targets have glibc (Debian) only"
            )));
        }
        let a = parsed.parsed_arch().ok_or_else(|| {
            Error::Usage(format!(
                "{file_name}: platform tag {tag} is not for Linux on a known architecture"
            ))
        })?;
        if arch.is_some_and(|b| b != a) {
            return Err(Error::Usage(format!(
                "{file_name}: platform tags of several architectures"
            )));
        }
        arch = Some(a);
    }
    if pure && arch.is_some() {
        return Err(Error::Usage(format!(
            "{file_name}: both 'any' and architecture-specific platform tags"
        )));
    }
    let modules = top_level_modules(&w);
    let requires = requires_dist(&w).map_err(|e| Error::Usage(format!("{file_name}: {e}")))?;
    Ok((
        WheelPlan {
            path: path.to_path_buf(),
            file_name,
            dist: f.normalized_name(),
            modules,
            requires,
        },
        arch,
    ))
}

/// The installed path of a member (`None`: not installed into site-packages).
fn install_path(member: &str, data_dir: &str) -> Option<String> {
    match member.strip_prefix(data_dir) {
        Some(rest) => {
            let rest = rest.strip_prefix('/')?;
            rest.strip_prefix("purelib/")
                .or_else(|| rest.strip_prefix("platlib/"))
                .map(str::to_string)
        }
        None => Some(member.to_string()),
    }
}

fn data_dir(w: &Wheel) -> String {
    let di = w.dist_info();
    format!(
        "{}.data",
        di.trim_end_matches('/').trim_end_matches(".dist-info")
    )
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Top-level importable names: packages (folders), modules (`x.py`) and extension modules
/// (`x.cpython-311-….so`, `x.abi3.so`, `x.so`) at the top of the installed tree.
fn top_level_modules(w: &Wheel) -> Vec<String> {
    let data = data_dir(w);
    let mut out: Vec<String> = Vec::new();
    for m in w.members() {
        let Some(path) = install_path(&m.name, &data) else {
            continue;
        };
        let name = match path.split_once('/') {
            Some((dir, _)) => {
                if dir.ends_with(".dist-info") || dir.ends_with(".data") {
                    continue;
                }
                dir.to_string()
            }
            None => {
                if let Some(stem) = path.strip_suffix(".py") {
                    stem.to_string()
                } else if path.ends_with(".so") {
                    path.split('.').next().unwrap_or("").to_string()
                } else {
                    continue;
                }
            }
        };
        if is_identifier(&name) && !out.contains(&name) {
            out.push(name);
        }
    }
    out.sort();
    out
}

/// `Requires-Dist` of METADATA, without those that apply only to an extra.
fn requires_dist(w: &Wheel) -> Result<Vec<String>, String> {
    let name = format!("{}/METADATA", w.dist_info().trim_end_matches('/'));
    if w.member(&name).is_none() {
        return Ok(Vec::new());
    }
    let bytes = w.read_member(&name).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("requires-dist") {
            continue;
        }
        let value = value.trim();
        let marker = value.split_once(';').map_or("", |(_, m)| m);
        if marker.contains("extra") {
            continue;
        }
        out.push(value.to_string());
    }
    Ok(out)
}

/// Whether the target's CPython `python` (X, Y) with these platform tags accepts the wheel,
/// as packaging's `sys_tags()` order would (cpXY-cpXY, cpXY…cp32-abi3, cpXY/py3X/py3-none).
pub(crate) fn check_compatible(
    w: &WheelPlan,
    python: (u32, u32),
    platforms: &[String],
    target: &str,
) -> Result<(), Error> {
    let f = manywheel_wheel::WheelFilename::parse(&w.file_name)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let (x, y) = python;
    let cp = format!("cp{x}{y}");
    let py_ok = |py: &str, abi: &str| -> bool {
        match abi {
            a if a == cp => py == cp,
            "abi3" => py
                .strip_prefix(&format!("cp{x}"))
                .and_then(|m| m.parse::<u32>().ok())
                .is_some_and(|m| m >= 2 && m <= y),
            "none" => {
                py == cp
                    || py == format!("py{x}")
                    || py
                        .strip_prefix(&format!("py{x}"))
                        .and_then(|m| m.parse::<u32>().ok())
                        .is_some_and(|m| m <= y)
            }
            _ => false,
        }
    };
    let plat_ok = |p: &str| p == "any" || platforms.iter().any(|t| t == p);
    let ok = f.python_tags.iter().any(|py| {
        f.abi_tags
            .iter()
            .any(|abi| py_ok(py, abi) && f.platform_tags.iter().any(|p| plat_ok(p)))
    });
    if ok {
        return Ok(());
    }
    let reason = if !f.platform_tags.iter().any(|p| plat_ok(p)) {
        format!(
            "its platform tags ({}) need a newer glibc than the target's (it accepts {} … {})",
            f.platform_tags.join("."),
            platforms.first().map_or("", String::as_str),
            platforms
                .get(platforms.len().saturating_sub(2))
                .map_or("", String::as_str)
        )
    } else {
        format!(
            "it is for {}-{}, the target has CPython {x}.{y}",
            f.python_tags.join("."),
            f.abi_tags.join(".")
        )
    };
    Err(Error::Usage(format!(
        "{}: target {target} cannot install it: {reason}",
        w.file_name
    )))
}

/// Unpack the wheels, pip the requirements, find the console scripts, write the smoke test.
pub(crate) fn install(p: &ArchPlan, opts: &Options, dir: &Path) -> Result<Installed, String> {
    let site = dir.join("site");
    let reqs = dir.join("reqs");
    for d in [&site, &reqs] {
        if d.exists() {
            fs::remove_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
    }
    fs::create_dir_all(&site).map_err(|e| format!("{}: {e}", site.display()))?;
    for w in &p.wheels {
        unpack(&w.path, &site).map_err(|e| e.to_string())?;
    }
    let mut requirements: Vec<String> = Vec::new();
    for w in &p.wheels {
        for r in &w.requires {
            // A requirement on another wheel under test is met by that wheel.
            let name = requirement_name(r);
            if !p.wheels.iter().any(|o| o.dist == name) && !requirements.contains(r) {
                requirements.push(r.clone());
            }
        }
    }
    for r in &opts.requires {
        if !requirements.contains(r) {
            requirements.push(r.clone());
        }
    }
    if !requirements.is_empty() {
        pip_install(p, opts, &reqs, &requirements)?;
    }
    let mut scripts = Vec::new();
    for d in [&site, &reqs] {
        scripts.extend(console_scripts(d));
    }
    let smoke = dir.join("smoke.py");
    let modules: Vec<&str> = p
        .wheels
        .iter()
        .flat_map(|w| w.modules.iter().map(String::as_str))
        .collect();
    write_smoke(&smoke, &modules, &site).map_err(|e| format!("{}: {e}", smoke.display()))?;
    Ok(Installed {
        site,
        reqs,
        scripts,
        smoke_command: format!(
            "python {}",
            crate::launch::sh_quote(&smoke.to_string_lossy())
        ),
    })
}

/// The normalised distribution name a requirement specifier names.
fn requirement_name(r: &str) -> String {
    let end = r
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(r.len());
    let mut out = String::new();
    let mut sep = false;
    for c in r[..end].chars() {
        if matches!(c, '-' | '_' | '.') {
            if !sep {
                out.push('_');
            }
            sep = true;
        } else {
            out.extend(c.to_lowercase());
            sep = false;
        }
    }
    out
}

/// Extract every member that belongs in site-packages (purelib/platlib of `.data` too).
fn unpack(path: &Path, site: &Path) -> Result<(), Error> {
    let w = Wheel::open(path).map_err(|e| Error::Usage(e.to_string()))?;
    let data = data_dir(&w);
    for m in w.members() {
        if m.is_dir() {
            continue;
        }
        let Some(rel) = install_path(&m.name, &data) else {
            continue;
        };
        let dest = site.join(&rel);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
        }
        let mut file = fs::File::create(&dest).map_err(|e| io_err(&dest, e))?;
        w.stream_member(&m.name, &mut |chunk| {
            file.write_all(chunk)
                .map_err(|e| manywheel_wheel::Error::Io {
                    path: dest.clone(),
                    source: e,
                })
        })
        .map_err(|e| Error::Usage(e.to_string()))?;
        if m.unix_mode.is_some_and(|mode| mode & 0o111 != 0) {
            fs::set_permissions(&dest, fs::Permissions::from_mode(0o755))
                .map_err(|e| io_err(&dest, e))?;
        }
    }
    Ok(())
}

/// The host Python whose pip installs requirements.
pub(crate) fn pip_python(opts: &Options) -> PathBuf {
    opts.pip_python
        .clone()
        .or_else(|| host_pip_python(None))
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// A host Python with pip, to install for another interpreter (`manywheel test` and `build`
/// share this rule): `prefer` if it has pip, else `$MANYWHEEL_PIP_PYTHON`, else `python3` on
/// PATH or `/usr/bin/python3` if it has pip.
pub fn host_pip_python(prefer: Option<&Path>) -> Option<PathBuf> {
    let has_pip = |p: &Path| {
        p.is_file()
            && Command::new(p)
                .args(["-m", "pip", "--version"])
                .output()
                .is_ok_and(|o| o.status.success())
    };
    if let Some(p) = prefer.filter(|p| has_pip(p)) {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("MANYWHEEL_PIP_PYTHON").filter(|v| !v.is_empty()) {
        // Named by the user: used as given (a bad one fails with pip's own error).
        return Some(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("python3"))
            .find(|p| p.is_file())
    });
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/bin/python3")])
        .find(|p| has_pip(p))
}

/// `PYTHON -m pip install --target DEST` choosing what another interpreter needs: binary wheels
/// for CPython X.Y (its `cpXY`, `abi3` and `none` ABIs) on `platforms`, most preferred first.
/// The one place both `manywheel test` and `manywheel build` install for a target; append the
/// requirements.
pub fn pip_for_target(
    python: &Path,
    dest: &Path,
    (x, y): (u32, u32),
    platforms: &[String],
) -> Command {
    let mut cmd = Command::new(python);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args(["--no-warn-script-location", "--no-input", "--target"])
    .arg(dest)
    .args(["--only-binary=:all:", "--implementation", "cp"])
    .arg("--python-version")
    .arg(format!("{x}.{y}"))
    .arg("--abi")
    .arg(format!("cp{x}{y}"))
    .args(["--abi", "abi3", "--abi", "none"])
    .env("PIP_NO_INPUT", "1")
    .env("PIP_ROOT_USER_ACTION", "ignore");
    for t in platforms {
        cmd.arg("--platform").arg(t);
    }
    cmd
}

/// `pip install --target` for the target's interpreter and platform tags.
fn pip_install(p: &ArchPlan, opts: &Options, dest: &Path, reqs: &[String]) -> Result<(), String> {
    let python = pip_python(opts);
    let (x, y) = p.python;
    let mut cmd = pip_for_target(&python, dest, p.python, &p.platforms);
    cmd.args(reqs).env("PIP_NO_INPUT", "1");
    let out = cmd.output().map_err(|e| {
        format!(
            "cannot run {} -m pip: {e} (give a Python with pip with --pip-python)",
            python.display()
        )
    })?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty())
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(format!(
        "pip could not install {} for {} (CPython {x}.{y}, {}): {}",
        reqs.join(" "),
        p.arch,
        p.platforms.first().map_or("", String::as_str),
        last.join(" / ")
    ))
}

/// `[console_scripts]` of every `*.dist-info/entry_points.txt` in `dir`.
fn console_scripts(dir: &Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    let mut infos: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "dist-info"))
        .collect();
    infos.sort();
    for info in infos {
        let Ok(text) = fs::read_to_string(info.join("entry_points.txt")) else {
            continue;
        };
        let mut in_section = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_section = line == "[console_scripts]";
                continue;
            }
            if !in_section || line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, target)) = line.split_once('=') else {
                continue;
            };
            let target = target.split('[').next().unwrap_or("").trim();
            let Some((module, attr)) = target.split_once(':') else {
                continue;
            };
            let name = name.trim();
            let safe = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if safe && !out.iter().any(|(n, _, _): &(String, _, _)| n == name) {
                out.push((name.to_string(), module.trim().into(), attr.trim().into()));
            }
        }
    }
    out
}

/// A Python script importing each module and checking it comes from the unpacked wheels.
fn write_smoke(path: &Path, modules: &[&str], site: &Path) -> std::io::Result<()> {
    let list = serde_json::to_string(modules).unwrap_or_else(|_| "[]".into());
    let site = serde_json::to_string(&site.to_string_lossy()).unwrap_or_default();
    let text = format!(
        r#"# manywheel test: import every top-level module of the wheels (smoke test).
import importlib, os, sys
site = os.path.realpath({site})
failed = 0
for name in {list}:
    try:
        mod = importlib.import_module(name)
    except BaseException as e:
        print("FAILED import %s: %s: %s" % (name, type(e).__name__, e))
        failed = 1
        continue
    where = getattr(mod, "__file__", None) or next(iter(getattr(mod, "__path__", [])), "")
    where = os.path.realpath(where)
    if not where.startswith(site + os.sep):
        print("FAILED import %s: loaded from %s, not from the wheel" % (name, where))
        failed = 1
    else:
        print("imported %s (%s)" % (name, os.path.relpath(where, site)))
if not {list}:
    print("FAILED: the wheels have no top-level module")
    failed = 1
sys.exit(failed)
"#
    );
    fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_names() {
        assert_eq!(
            requirement_name("Typing.Extensions>=4; python_version<'3.12'"),
            "typing_extensions"
        );
        assert_eq!(requirement_name("numpy"), "numpy");
        assert_eq!(requirement_name("py-cpuinfo (>=1)"), "py_cpuinfo");
    }

    #[test]
    fn data_paths() {
        assert_eq!(
            install_path("x-1.data/platlib/x/a.so", "x-1.data").as_deref(),
            Some("x/a.so")
        );
        assert_eq!(install_path("x-1.data/scripts/run", "x-1.data"), None);
        assert_eq!(
            install_path("x/__init__.py", "x-1.data").as_deref(),
            Some("x/__init__.py")
        );
    }
}
