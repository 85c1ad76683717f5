//! Find the C library of a system (the host's `/` or a sysroot) and read its kind, version
//! and architecture from its files — the target is never executed.
//!
//! - glibc: `libc.so.6` in the usual library directories (multiarch `lib/<triple>`, `lib64`,
//!   `lib`, and their `usr/` twins). Its version comes from the version banner compiled into it
//!   (`... release version 2.36.`, what running `libc.so.6` prints); failing that from the
//!   highest `GLIBC_X.Y` version it defines (`.gnu.version_d`); failing that from a
//!   `libc-X.Y.so` file name the `libc.so.6` link points to.
//! - musl: the dynamic loader `lib/ld-musl-<arch>.so.1` (it is musl's libc too). The version is
//!   the string musl compiles into it (`__libc_version`, printed after `Version` when the
//!   loader runs); confirmed by the `musl libc (<arch>)` banner. Alpine's package database
//!   (`lib/apk/db/installed`) is the fallback.
//! - The architecture comes from the ELF header of that file; for armv7l the float ABI flags
//!   decide whether manylinux applies.
//!
//! Symbolic links are followed inside the root: an absolute link target is taken relative to
//! the root, as the target system's loader would see it.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use manywheel_policy::{Arch, Libc};
use serde::Serialize;

use crate::distro::parse_libc_version;
use crate::Error;

/// How the version was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionFrom {
    /// glibc's banner string (`stable release version 2.36`) or musl's `__libc_version`.
    VersionString,
    /// The highest `GLIBC_X.Y` version definition.
    VersionDefinition,
    /// A `libc-X.Y.so` file name.
    FileName,
    /// Alpine's `lib/apk/db/installed`.
    PackageDatabase,
}

impl VersionFrom {
    pub fn describe(self) -> &'static str {
        match self {
            VersionFrom::VersionString => "version string",
            VersionFrom::VersionDefinition => "highest GLIBC_ version definition",
            VersionFrom::FileName => "file name",
            VersionFrom::PackageDatabase => "apk package database",
        }
    }
}

/// One C library found in a root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FoundLibc {
    pub libc: Libc,
    /// (major, minor)
    #[serde(skip)]
    pub version: (u32, u32),
    /// As found (`"2.36"`, `"1.2.3"`).
    pub version_text: String,
    pub version_from: VersionFrom,
    /// glibc: the highest `GLIBC_X.Y` the library defines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_definition_max: Option<String>,
    pub arch: Arch,
    /// For armv7l: EABI5 hard-float; for i686: a 32-bit LSB i386 object; true otherwise.
    pub abi_ok: bool,
    /// Why the ABI is not ok, if it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abi_problem: Option<String>,
    /// The path looked up, inside the root (`/lib/x86_64-linux-gnu/libc.so.6`).
    pub path_in_root: String,
    /// The file actually read, on this machine.
    pub source: PathBuf,
}

/// What to look for.
#[derive(Clone, Debug, Default)]
pub struct DetectOptions {
    /// The root; `None` for the host (`/`).
    pub root: Option<PathBuf>,
    /// Only a C library of this architecture.
    pub arch: Option<Arch>,
    /// Only this C library.
    pub libc: Option<Libc>,
}

/// The architecture this program was built for, which is the host's (the preferred
/// candidate on `/`).
pub fn native_arch() -> Option<Arch> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => Arch::X86_64,
        "x86" => Arch::I686,
        "aarch64" => Arch::Aarch64,
        "arm" => Arch::Armv7l,
        "powerpc64" if cfg!(target_endian = "little") => Arch::Ppc64le,
        "powerpc64" => Arch::Ppc64,
        "s390x" => Arch::S390x,
        "riscv64" => Arch::Riscv64,
        "loongarch64" => Arch::Loongarch64,
        _ => return None,
    };
    Some(arch)
}

fn push_components(path: &Path, out: &mut VecDeque<OsString>) {
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push_back(s.to_os_string()),
            Component::ParentDir => out.push_back(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

/// Resolve `path` (absolute inside the root) to an existing file on this machine, following
/// symbolic links the way the target sees them: absolute targets restart at `root`, `..`
/// never climbs above it. `None` when it does not exist or links loop.
pub fn resolve_in_root(root: &Path, path: &Path) -> Option<PathBuf> {
    let mut todo = VecDeque::new();
    push_components(path, &mut todo);
    let mut done: Vec<OsString> = Vec::new();
    let mut hops = 0;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            done.pop();
            continue;
        }
        let mut here = root.to_path_buf();
        here.extend(&done);
        here.push(&c);
        let meta = std::fs::symlink_metadata(&here).ok()?;
        if meta.file_type().is_symlink() {
            hops += 1;
            if hops > 64 {
                return None;
            }
            let target = std::fs::read_link(&here).ok()?;
            if target.is_absolute() {
                done.clear();
            }
            let mut next = VecDeque::new();
            push_components(&target, &mut next);
            next.extend(todo.drain(..));
            todo = next;
        } else {
            done.push(c);
        }
    }
    let mut out = root.to_path_buf();
    out.extend(&done);
    Some(out)
}

/// Directories (inside the root) where `libc.so.6` may live, most specific first.
fn glibc_dirs() -> Vec<String> {
    let mut triples: Vec<&str> = Arch::ALL.iter().map(|a| a.gnu_triple()).collect();
    triples.extend(["i686-linux-gnu", "arm-linux-gnueabi"]);
    let mut dirs = Vec::new();
    for t in &triples {
        dirs.push(format!("/lib/{t}"));
        dirs.push(format!("/usr/lib/{t}"));
    }
    for d in [
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
        "/lib32",
        "/usr/lib32",
    ] {
        dirs.push(d.to_string());
    }
    dirs
}

/// Paths (inside the root) of musl loaders.
fn musl_loaders(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = Arch::ALL
        .iter()
        .map(|a| format!("ld-musl-{}.so.1", a.musl_loader_arch()))
        .collect();
    // Whatever else is there (soft-float arm, big-endian variants, ...).
    for dir in ["/lib", "/usr/lib"] {
        if let Some(real) = resolve_in_root(root, Path::new(dir)) {
            if let Ok(rd) = std::fs::read_dir(real) {
                let mut extra: Vec<String> = rd
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("ld-musl-") && n.ends_with(".so.1"))
                    .collect();
                extra.sort();
                names.extend(extra);
            }
        }
    }
    let mut out = Vec::new();
    for dir in ["/lib", "/usr/lib"] {
        for n in &names {
            let p = format!("{dir}/{n}");
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// NUL-separated printable strings of at least `min` bytes.
fn strings(data: &[u8], min: usize) -> impl Iterator<Item = &str> {
    data.split(|&b| b == 0)
        .filter(move |s| s.len() >= min)
        .filter_map(|s| std::str::from_utf8(s).ok())
}

/// glibc's banner: `GNU C Library (...) stable release version 2.36.` (older: `... release
/// version 2.17, by Roland McGrath et al.`).
pub fn glibc_banner_version(data: &[u8]) -> Option<String> {
    const KEY: &str = "release version ";
    for s in strings(data, 20) {
        if !s.contains("GNU C Library") {
            continue;
        }
        if let Some(i) = s.find(KEY) {
            let rest = &s[i + KEY.len()..];
            let v: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let v = v.trim_end_matches('.').to_string();
            if parse_libc_version(&v).is_some() {
                return Some(v);
            }
        }
    }
    None
}

/// The highest `GLIBC_X.Y[.Z]` among version definitions.
pub fn glibc_max_version_definition(defs: &[String]) -> Option<String> {
    defs.iter()
        .filter_map(|d| d.strip_prefix("GLIBC_"))
        .filter(|v| parse_libc_version(v).is_some())
        .max_by_key(|v| version_key(v))
        .map(str::to_string)
}

/// Numeric sort key of a dotted version; a non-numeric part (`TM_1`, `FLOAT128`) sorts after
/// every number.
pub fn version_key(v: &str) -> Vec<u64> {
    v.split('.')
        .map(|p| p.parse().unwrap_or(u64::MAX))
        .collect()
}

/// musl's version string in its loader/libc: a NUL-terminated `1.Y.Z` (possibly with a
/// `_git…`/`-r…` style suffix), present only together with the `musl libc (` banner.
pub fn musl_version_string(data: &[u8]) -> Option<String> {
    if !data.windows(11).any(|w| w == b"musl libc (") {
        return None;
    }
    for s in strings(data, 5) {
        let digits_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, suffix) = s.split_at(digits_end);
        let parts: Vec<&str> = num.split('.').collect();
        let plausible_suffix = suffix.is_empty()
            || (suffix.starts_with(['_', '-', '+', '~'])
                && suffix[1..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-+~".contains(c)));
        if parts.len() == 3
            && matches!(parts[0], "0" | "1")
            && parts.iter().all(|p| !p.is_empty() && p.len() <= 3)
            && plausible_suffix
        {
            return Some(num.to_string());
        }
    }
    None
}

/// musl's version from Alpine's package database.
fn apk_musl_version(root: &Path) -> Option<String> {
    let db = resolve_in_root(root, Path::new("/lib/apk/db/installed"))?;
    let text = std::fs::read_to_string(db).ok()?;
    for record in text.split("\n\n") {
        if record.lines().any(|l| l == "P:musl") {
            let v = record.lines().find_map(|l| l.strip_prefix("V:"))?;
            let v = v.split('-').next()?.to_string();
            return parse_libc_version(&v).map(|_| v);
        }
    }
    None
}

fn elf_arch(path: &Path, data: &[u8]) -> Result<(Arch, manywheel_elf::ElfFile), Error> {
    let elf = manywheel_elf::parse(data).map_err(|e| Error::Elf {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    let h = elf.header;
    let arch = Arch::from_elf(
        h.machine,
        h.class == manywheel_elf::Class::Elf64,
        h.endian == manywheel_elf::Endian::Little,
        h.flags,
    )
    .ok_or_else(|| Error::Unrecognized {
        path: path.to_path_buf(),
        msg: format!(
            "no wheel architecture for this ELF machine ({}, {:?}, {:?})",
            h.machine, h.class, h.endian
        ),
    })?;
    Ok((arch, elf))
}

fn abi_check(arch: Arch, flags: u32) -> (bool, Option<String>) {
    match arch.check_elf_flags(flags) {
        Ok(()) => (true, None),
        Err(why) => (false, Some(why)),
    }
}

fn read_glibc(in_root: &str, real: &Path) -> Result<FoundLibc, Error> {
    let data = read(real)?;
    let (arch, elf) = elf_arch(real, &data)?;
    let max_def = glibc_max_version_definition(&elf.version_defs);
    let file_name_version = real
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("libc-"))
        .and_then(|n| n.strip_suffix(".so"))
        .filter(|v| parse_libc_version(v).is_some())
        .map(str::to_string);
    let (text, from) = if let Some(v) = glibc_banner_version(&data) {
        (v, VersionFrom::VersionString)
    } else if let Some(v) = &max_def {
        (v.clone(), VersionFrom::VersionDefinition)
    } else if let Some(v) = file_name_version {
        (v, VersionFrom::FileName)
    } else {
        return Err(Error::Unrecognized {
            path: real.to_path_buf(),
            msg: "no glibc version string, GLIBC_ version definition or versioned file name"
                .to_string(),
        });
    };
    let (abi_ok, abi_problem) = abi_check(arch, elf.header.flags);
    Ok(FoundLibc {
        libc: Libc::Glibc,
        version: parse_libc_version(&text).expect("checked"),
        version_text: text,
        version_from: from,
        version_definition_max: max_def,
        arch,
        abi_ok,
        abi_problem,
        path_in_root: in_root.to_string(),
        source: real.to_path_buf(),
    })
}

fn read_musl(root: &Path, in_root: &str, real: &Path) -> Result<FoundLibc, Error> {
    let data = read(real)?;
    let (arch, elf) = elf_arch(real, &data)?;
    let (text, from) = match musl_version_string(&data) {
        Some(v) => (v, VersionFrom::VersionString),
        None => match apk_musl_version(root) {
            Some(v) => (v, VersionFrom::PackageDatabase),
            None => {
                return Err(Error::Unrecognized {
                    path: real.to_path_buf(),
                    msg: "no musl version string in the loader and no apk database entry"
                        .to_string(),
                })
            }
        },
    };
    let (abi_ok, abi_problem) = abi_check(arch, elf.header.flags);
    Ok(FoundLibc {
        libc: Libc::Musl,
        version: parse_libc_version(&text).expect("checked"),
        version_text: text,
        version_from: from,
        version_definition_max: None,
        arch,
        abi_ok,
        abi_problem,
        path_in_root: in_root.to_string(),
        source: real.to_path_buf(),
    })
}

/// Every C library found in `root` (unreadable candidates are reported as errors in the
/// second list).
pub fn find_all(root: &Path) -> (Vec<FoundLibc>, Vec<Error>) {
    let mut found: Vec<FoundLibc> = Vec::new();
    let mut errors = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut consider = |in_root: String, musl: bool| {
        let Some(real) = resolve_in_root(root, Path::new(&in_root)) else {
            return;
        };
        if !real.is_file() {
            return;
        }
        let key = std::fs::canonicalize(&real).unwrap_or_else(|_| real.clone());
        if seen.contains(&key) {
            return;
        }
        seen.push(key);
        let r = if musl {
            read_musl(root, &in_root, &real)
        } else {
            read_glibc(&in_root, &real)
        };
        match r {
            Ok(f) => found.push(f),
            Err(e) => errors.push(e),
        }
    };
    for dir in glibc_dirs() {
        consider(format!("{dir}/libc.so.6"), false);
    }
    for loader in musl_loaders(root) {
        consider(loader, true);
    }
    (found, errors)
}

/// The C library an installer on this system would see: glibc before musl (a glibc system
/// with musl installed on the side runs a glibc Python), on the host the host's
/// architecture first, then the order of [`Arch::ALL`] (64-bit before its 32-bit sibling).
pub fn detect(opts: &DetectOptions) -> Result<FoundLibc, Error> {
    let host = opts.root.is_none();
    let root = opts.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    if !root.is_dir() {
        return Err(Error::NotFound(format!(
            "{}: not a directory",
            root.display()
        )));
    }
    let (found, errors) = find_all(&root);
    let all = found.clone();
    let mut candidates: Vec<FoundLibc> = found
        .into_iter()
        .filter(|f| opts.arch.is_none_or(|a| a == f.arch))
        .filter(|f| opts.libc.is_none_or(|l| l == f.libc))
        .collect();
    let native = if host { native_arch() } else { None };
    candidates.sort_by_key(|f| {
        (
            f.libc != Libc::Glibc,
            Some(f.arch) != native,
            Arch::ALL.iter().position(|a| *a == f.arch),
        )
    });
    if let Some(best) = candidates.into_iter().next() {
        return Ok(best);
    }
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    let wanted = match (opts.libc, opts.arch) {
        (Some(l), Some(a)) => format!("{l} for {a}"),
        (Some(l), None) => l.to_string(),
        (None, Some(a)) => format!("C library for {a}"),
        (None, None) => "C library".to_string(),
    };
    let mut msg = format!(
        "no {wanted} found in {} (looked for libc.so.6 in lib/<triple>, lib64, lib and their usr/ twins, and lib/ld-musl-*.so.1)",
        root.display()
    );
    if !all.is_empty() {
        let have: Vec<String> = all
            .iter()
            .map(|f| {
                format!(
                    "{} {} {} ({})",
                    f.libc, f.version_text, f.arch, f.path_in_root
                )
            })
            .collect();
        msg.push_str(&format!("; found {}", have.join(", ")));
    }
    Err(Error::NotFound(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner() {
        let data = b"\0GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable release version 2.36.\nCopyright\0";
        assert_eq!(glibc_banner_version(data).as_deref(), Some("2.36"));
        let old = b"xx\0GNU C Library stable release version 2.17, by Roland McGrath et al.\n\0";
        assert_eq!(glibc_banner_version(old).as_deref(), Some("2.17"));
        assert_eq!(glibc_banner_version(b"release version 2.3"), None);
    }

    #[test]
    fn musl_string() {
        let data = b"\x00127.0.0.1\0musl libc (x86_64)\nVersion %s\n\0 5.5G9\0x\x001.2.3\0";
        assert_eq!(musl_version_string(data).as_deref(), Some("1.2.3"));
        assert_eq!(musl_version_string(b"\x001.2.3\0"), None);
        let git = b"musl libc (aarch64)\0 1.2.4_git20230717\0";
        assert_eq!(musl_version_string(&git[..]), None);
        let git = b"musl libc (aarch64)\x001.2.4_git20230717\0";
        assert_eq!(musl_version_string(&git[..]).as_deref(), Some("1.2.4"));
    }

    #[test]
    fn max_definition() {
        let defs: Vec<String> = [
            "GLIBC_2.2.5",
            "GLIBC_2.9",
            "GLIBC_2.17",
            "GLIBC_PRIVATE",
            "libc.so.6",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(glibc_max_version_definition(&defs).as_deref(), Some("2.17"));
    }

    #[test]
    fn links_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/lib/x")).unwrap();
        std::fs::write(root.join("usr/lib/x/libc-2.17.so"), b"x").unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        std::os::unix::fs::symlink("/usr/lib/x/libc-2.17.so", root.join("usr/lib/x/libc.so.6"))
            .unwrap();
        std::os::unix::fs::symlink("../../../../../etc", root.join("usr/lib/up")).unwrap();
        let r = resolve_in_root(root, Path::new("/lib/x/libc.so.6")).unwrap();
        assert_eq!(r, root.join("usr/lib/x/libc-2.17.so"));
        assert_eq!(resolve_in_root(root, Path::new("/usr/lib/up/passwd")), None);
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert_eq!(resolve_in_root(root, Path::new("/loop")), None);
    }
}
