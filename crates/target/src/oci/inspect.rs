//! Facts read from a flattened image tree without running anything: the architecture of its
//! dynamic loader (or another program), its glibc version (the newest `GLIBC_x.y` that
//! `libc.so.6` defines) and its CPythons (manylinux keeps them in
//! `/opt/python/cp3XY-cp3XY/bin/python`).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use manywheel_policy::Arch;
use serde::{Deserialize, Serialize};

use crate::unpack::{io_err, resolve_path};
use crate::Error;

/// Where glibc's dynamic loader lives for an architecture (the PT_INTERP of its programs).
pub fn glibc_loader(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "/lib64/ld-linux-x86-64.so.2",
        Arch::I686 => "/lib/ld-linux.so.2",
        Arch::Aarch64 => "/lib/ld-linux-aarch64.so.1",
        Arch::Armv7l => "/lib/ld-linux-armhf.so.3",
        Arch::Ppc64 => "/lib64/ld64.so.1",
        Arch::Ppc64le => "/lib64/ld64.so.2",
        Arch::S390x => "/lib/ld64.so.1",
        Arch::Riscv64 => "/lib/ld-linux-riscv64-lp64d.so.1",
        Arch::Loongarch64 => "/lib64/ld-linux-loongarch-lp64d.so.1",
    }
}

/// The architecture of an ELF file (from its header), `Ok(None)` when it is not ELF.
pub fn elf_arch(path: &Path) -> Result<Option<(Option<Arch>, u16)>, Error> {
    let mut head = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(|e| io_err(path, e))?;
    if !manywheel_elf::is_elf(&head) {
        return Ok(None);
    }
    let h = manywheel_elf::parse_ident(&head)
        .map_err(|e| Error::Target(format!("{}: bad ELF header: {e}", path.display())))?;
    let arch = Arch::from_elf(
        h.machine,
        h.class == manywheel_elf::Class::Elf64,
        h.endian == manywheel_elf::Endian::Little,
        h.flags,
    );
    Ok(Some((arch, h.machine)))
}

/// Confirm from the tree's own programs that it is for `arch`: the first of the glibc loader,
/// the musl loader, `extra` (e.g. the chosen python), `/bin/sh` and `/usr/bin/env` that is
/// an ELF file must be an `arch` program. Returns the path that was checked.
pub fn check_tree_arch(root: &Path, arch: Arch, extra: &[String]) -> Result<String, Error> {
    let mut candidates: Vec<String> = vec![glibc_loader(arch).to_string(), arch.musl_loader()];
    candidates.extend(extra.iter().cloned());
    candidates.extend(["/bin/sh".to_string(), "/usr/bin/env".to_string()]);
    for c in &candidates {
        let Ok(path) = resolve_path(root, Path::new(c)) else {
            continue;
        };
        if !path.is_file() {
            continue;
        }
        match elf_arch(&path)? {
            None => continue,
            Some((Some(a), _)) if a == arch => return Ok(c.clone()),
            Some((found, machine)) => {
                return Err(Error::Target(format!(
                    "the image is not for {arch}: its {c} is {}",
                    found.map_or(format!("an ELF file for machine {machine}"), |a| format!(
                        "an {a} program"
                    ))
                )))
            }
        }
    }
    // Say which architecture it is for when it has another one's loader.
    for other in Arch::ALL {
        let loader = glibc_loader(other);
        let Ok(path) = resolve_path(root, Path::new(loader)) else {
            continue;
        };
        if let Ok(Some((Some(found), _))) = elf_arch(&path) {
            if found != arch {
                return Err(Error::Target(format!(
                    "the image is not for {arch}: it has the {found} loader {loader}"
                )));
            }
        }
    }
    Err(Error::Target(format!(
        "cannot confirm that the image is for {arch}: none of {} is an ELF file in it",
        candidates.join(", ")
    )))
}

/// The newest `GLIBC_x.y` version that the tree's `libc.so.6` defines, e.g. `2.17`.
pub fn glibc_version(root: &Path, arch: Arch) -> Option<String> {
    let triple = arch.gnu_triple();
    let dirs = [
        "/lib64".to_string(),
        "/usr/lib64".to_string(),
        format!("/lib/{triple}"),
        format!("/usr/lib/{triple}"),
        "/lib".to_string(),
        "/usr/lib".to_string(),
    ];
    for d in dirs {
        let Ok(path) = resolve_path(root, &Path::new(&d).join("libc.so.6")) else {
            continue;
        };
        if !matches!(elf_arch(&path), Ok(Some((Some(a), _))) if a == arch) {
            continue;
        }
        let Ok(bytes) = fs::read(&path) else { continue };
        let Ok(elf) = manywheel_elf::parse(&bytes) else {
            continue;
        };
        let best = elf
            .version_defs
            .iter()
            .filter_map(|v| v.strip_prefix("GLIBC_"))
            .filter_map(|v| {
                let mut it = v.split('.');
                let major: u32 = it.next()?.parse().ok()?;
                let minor: u32 = it.next().unwrap_or("0").parse().ok()?;
                Some((major, minor))
            })
            .max();
        if let Some((major, minor)) = best {
            return Some(format!("{major}.{minor}"));
        }
    }
    None
}

/// A CPython found in the tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonRecord {
    /// `3.11`, or `3.13t` for a free-threaded build.
    pub version: String,
    /// `3.11.9` when the tree has its headers (`include/python3.11/patchlevel.h`).
    pub full_version: Option<String>,
    /// The executable, a path inside the target (`/opt/python/cp311-cp311/bin/python`).
    pub path: String,
}

impl PythonRecord {
    fn free_threaded(&self) -> bool {
        self.version.ends_with('t')
    }

    fn prerelease(&self) -> bool {
        self.full_version
            .as_deref()
            .is_some_and(|v| v.contains(['a', 'b', 'c']))
    }

    fn sort_key(&self) -> (u32, u32) {
        let v = self.version.trim_end_matches('t');
        let mut it = v.split('.');
        let major = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        let minor = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        (major, minor)
    }
}

/// `#define PY_VERSION "3.11.9"` from a patchlevel.h.
fn py_version_from_header(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("#define")?.trim_start();
        let rest = rest.strip_prefix("PY_VERSION")?;
        let v = rest.trim().strip_prefix('"')?.split('"').next()?;
        (!v.is_empty()).then(|| v.to_string())
    })
}

/// `cp311-cp311` → `3.11`, `cp313-cp313t` → `3.13t`; other names (PyPy, GraalPy) → None.
fn version_of_tag(dir: &str) -> Option<String> {
    let (py, abi) = dir.split_once('-')?;
    let digits = py.strip_prefix("cp")?;
    if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let abi_rest = abi.strip_prefix(py)?;
    let t = match abi_rest {
        "" | "m" | "mu" => "",
        "t" => "t",
        _ => return None,
    };
    Some(format!("{}.{}{t}", &digits[..1], &digits[1..]))
}

fn is_arch_program(root: &Path, inside: &str, arch: Arch) -> Option<PathBuf> {
    let path = resolve_path(root, Path::new(inside)).ok()?;
    if !path.is_file() {
        return None;
    }
    matches!(elf_arch(&path), Ok(Some((Some(a), _))) if a == arch).then_some(path)
}

/// The CPythons of a tree: every `/opt/python/cp3XY-cp3XY[t]` with an `arch` executable,
/// else `/usr/local/bin/python3` or `/usr/bin/python3`. Sorted by version.
pub fn find_pythons(root: &Path, arch: Arch) -> Vec<PythonRecord> {
    let mut out = Vec::new();
    if let Ok(opt) = resolve_path(root, Path::new("/opt/python")) {
        let mut names: Vec<String> = fs::read_dir(&opt)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        for name in names {
            let Some(version) = version_of_tag(&name) else {
                continue;
            };
            let exe = ["python", "python3"]
                .into_iter()
                .map(|b| format!("/opt/python/{name}/bin/{b}"))
                .find(|p| is_arch_program(root, p, arch).is_some());
            let Some(path) = exe else { continue };
            let header = format!("/opt/python/{name}/include/python{version}/patchlevel.h",);
            let full_version = resolve_path(root, Path::new(&header))
                .ok()
                .and_then(|p| fs::read_to_string(p).ok())
                .and_then(|t| py_version_from_header(&t));
            out.push(PythonRecord {
                version,
                full_version,
                path,
            });
        }
    }
    if out.is_empty() {
        for inside in ["/usr/local/bin/python3", "/usr/bin/python3"] {
            let Some(real) = is_arch_program(root, inside, arch) else {
                continue;
            };
            let name = real
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(version) = name.strip_prefix("python").filter(|v| v.contains('.')) else {
                continue;
            };
            let version = version.to_string();
            let prefix = if inside.starts_with("/usr/local") {
                "/usr/local"
            } else {
                "/usr"
            };
            let header = format!("{prefix}/include/python{version}/patchlevel.h");
            let full_version = resolve_path(root, Path::new(&header))
                .ok()
                .and_then(|p| fs::read_to_string(p).ok())
                .and_then(|t| py_version_from_header(&t));
            out.push(PythonRecord {
                version,
                full_version,
                path: inside.to_string(),
            });
            break;
        }
    }
    out.sort_by_key(|p| (p.sort_key(), p.free_threaded()));
    out
}

/// The Python `python3` means in the target: the one `wanted` names (`3.11`, `3.13t`,
/// `cp311`, or a path inside the target), else the newest final, non-free-threaded release.
pub fn choose_python<'a>(
    pythons: &'a [PythonRecord],
    wanted: Option<&str>,
) -> Result<Option<&'a PythonRecord>, Error> {
    let Some(w) = wanted else {
        let pick = pythons
            .iter()
            .rev()
            .find(|p| !p.free_threaded() && !p.prerelease())
            .or_else(|| pythons.iter().rev().find(|p| !p.free_threaded()))
            .or_else(|| pythons.last());
        return Ok(pick);
    };
    let w = w.trim();
    let normalized = match w.strip_prefix("cp") {
        Some(d) if d.len() >= 2 && d.bytes().take(2).all(|b| b.is_ascii_digit()) => {
            format!("{}.{}", &d[..1], &d[1..])
        }
        _ => w.strip_prefix("python").unwrap_or(w).to_string(),
    };
    let found = pythons
        .iter()
        .find(|p| p.version == normalized || p.path == w || p.full_version.as_deref() == Some(w));
    match found {
        Some(p) => Ok(Some(p)),
        None => Err(Error::Usage(format!(
            "no Python {w} in the image (it has: {})",
            if pythons.is_empty() {
                "none".to_string()
            } else {
                pythons
                    .iter()
                    .map(|p| p.version.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(version: &str, full: Option<&str>) -> PythonRecord {
        PythonRecord {
            version: version.into(),
            full_version: full.map(str::to_string),
            path: format!("/opt/python/{version}/bin/python"),
        }
    }

    #[test]
    fn tags_and_headers() {
        assert_eq!(version_of_tag("cp311-cp311").as_deref(), Some("3.11"));
        assert_eq!(version_of_tag("cp313-cp313t").as_deref(), Some("3.13t"));
        assert_eq!(version_of_tag("cp37-cp37m").as_deref(), Some("3.7"));
        assert_eq!(version_of_tag("pp310-pypy310_pp73"), None);
        assert_eq!(version_of_tag("cp311-cp312"), None);
        // Lines as CPython 3.11.9's Include/patchlevel.h has them.
        let h = "#define PY_RELEASE_SERIAL       0\n\n/* Version as a string */\n#define PY_VERSION              \"3.11.9\"\n/*--end constants--*/\n";
        assert_eq!(py_version_from_header(h).as_deref(), Some("3.11.9"));
        assert_eq!(
            py_version_from_header("#define PY_VERSION_HEX 0x030b09f0\n"),
            None
        );
    }

    #[test]
    fn default_and_chosen_python() {
        let ps = vec![
            rec("3.8", Some("3.8.20")),
            rec("3.12", Some("3.12.7")),
            rec("3.13", Some("3.13.0")),
            rec("3.13t", Some("3.13.0")),
            rec("3.14", Some("3.14.0rc1")),
        ];
        assert_eq!(choose_python(&ps, None).unwrap().unwrap().version, "3.13");
        assert_eq!(
            choose_python(&ps, Some("3.12")).unwrap().unwrap().version,
            "3.12"
        );
        assert_eq!(
            choose_python(&ps, Some("cp38")).unwrap().unwrap().version,
            "3.8"
        );
        assert_eq!(
            choose_python(&ps, Some("3.13t")).unwrap().unwrap().version,
            "3.13t"
        );
        assert_eq!(
            choose_python(&ps, Some("python3.14"))
                .unwrap()
                .unwrap()
                .version,
            "3.14"
        );
        let e = choose_python(&ps, Some("3.10")).unwrap_err().to_string();
        assert_eq!(
            e,
            "no Python 3.10 in the image (it has: 3.8, 3.12, 3.13, 3.13t, 3.14)"
        );
        assert_eq!(choose_python(&[], None).unwrap(), None);
    }
}
