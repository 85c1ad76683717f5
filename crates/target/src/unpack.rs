//! Writing archive members into a root directory safely.
//!
//! - Member names are relative to the root: a leading `./` or `/` is dropped and any `..`
//!   component is refused, so nothing is written outside the root.
//! - Directories on the way are looked up the way a `chroot` would: symlinks among them are
//!   followed *inside* the root (an absolute link target restarts at the root, `..` stops at
//!   the root), so a symlink shipped by one package cannot redirect a later write out of it.
//! - Absolute symlink targets are rewritten relative to the link's (physical) directory, so
//!   the tree works wherever it lives (`/lib64/ld64.so.2 -> /lib/powerpc64le-linux-gnu/...`).
//! - The root uses the merged-`/usr` layout Debian installs by default since bookworm:
//!   `bin`, `sbin`, `lib` and every `lib*` directory a package ships are links into `usr/`.
//! - Ownership, setuid/setgid bits, device nodes and FIFOs are not reproduced.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::Error;

/// Top-level directories that are links into `usr/` in the merged-`/usr` layout.
const MERGED: [&str; 3] = ["bin", "sbin", "lib"];
/// Further aliased directories, created when a package ships them (per architecture).
const MERGED_LIB_VARIANTS: [&str; 4] = ["lib32", "lib64", "libx32", "libo32"];

const MAX_SYMLINK_HOPS: usize = 40;

/// Kind of an archive member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    HardLink,
    /// Character/block devices, FIFOs: listed, not created.
    Special,
}

/// Counters of an unpack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    pub skipped: u64,
    pub bytes: u64,
}

/// Writes members below `root`.
pub struct RootWriter {
    root: PathBuf,
    pub stats: Stats,
}

/// Turn an archive member name into components below the root; `..` is an error.
pub fn member_components(name: &Path) -> Result<Vec<OsString>, Error> {
    let mut out = Vec::new();
    for c in name.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                return Err(Error::Unsafe(format!(
                    "archive member '{}' escapes the target root",
                    name.display()
                )))
            }
            Component::Normal(s) => out.push(s.to_os_string()),
        }
    }
    Ok(out)
}

/// Lexically normalize an absolute path into components (`..` stops at `/`).
pub(crate) fn normalize_absolute(path: &Path) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(s) => out.push(s.to_os_string()),
            _ => {}
        }
    }
    out
}

/// The relative path from directory `from` to `to` (both as components below the same root).
pub fn relative_path(from: &[OsString], to: &[OsString]) -> PathBuf {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for c in &to[common..] {
        rel.push(c);
    }
    if rel.as_os_str().is_empty() {
        rel.push(".");
    }
    rel
}

impl RootWriter {
    /// Create the root (if needed) with the merged-`/usr` links.
    pub fn new(root: &Path) -> Result<RootWriter, Error> {
        fs::create_dir_all(root).map_err(|e| io_err(root, e))?;
        let writer = RootWriter {
            root: root.to_path_buf(),
            stats: Stats::default(),
        };
        for dir in MERGED {
            writer.ensure_alias(dir)?;
        }
        Ok(writer)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Create `usr/NAME` and the link `NAME -> usr/NAME` unless `NAME` exists.
    fn ensure_alias(&self, name: &str) -> Result<(), Error> {
        let link = self.root.join(name);
        if fs::symlink_metadata(&link).is_ok() {
            return Ok(());
        }
        let target = self.root.join("usr").join(name);
        fs::create_dir_all(&target).map_err(|e| io_err(&target, e))?;
        symlink(Path::new("usr").join(name), &link).map_err(|e| io_err(&link, e))
    }

    /// Add the `lib*` aliases for every `usr/lib*` variant that exists without one (packages
    /// of a merged-/usr release ship `usr/lib64/ld-linux-x86-64.so.2` and rely on base-files
    /// for `/lib64`).
    pub fn finish(&self) -> Result<(), Error> {
        for dir in MERGED_LIB_VARIANTS {
            if self.root.join("usr").join(dir).is_dir() {
                self.ensure_alias(dir)?;
            }
        }
        Ok(())
    }

    /// Resolve `components` below the root (see [`resolve_in`]).
    pub fn resolve(&self, components: &[OsString], create: bool) -> Result<Vec<OsString>, Error> {
        resolve_in(&self.root, components, create)
    }

    /// The parent (resolved, created) and the final name of a member.
    fn place(&self, name: &Path) -> Result<Option<(Vec<OsString>, OsString)>, Error> {
        let mut comps = member_components(name)?;
        let Some(last) = comps.pop() else {
            return Ok(None);
        };
        if let Some(first) = comps.first().unwrap_or(&last).to_str() {
            if MERGED_LIB_VARIANTS.contains(&first) {
                self.ensure_alias(first)?;
            }
        }
        let parent = self.resolve(&comps, true)?;
        Ok(Some((parent, last)))
    }

    fn full(&self, parent: &[OsString], name: &OsStr) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(parent);
        p.push(name);
        p
    }

    /// Remove whatever non-directory is at `path` so it can be replaced.
    fn clear(&self, path: &Path) -> Result<(), Error> {
        match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => Err(Error::Archive(format!(
                "cannot replace directory {} with a non-directory",
                self.shown(path)
            ))),
            Ok(_) => fs::remove_file(path).map_err(|e| io_err(path, e)),
            Err(_) => Ok(()),
        }
    }

    fn shown(&self, path: &Path) -> String {
        format!(
            "/{}",
            path.strip_prefix(&self.root).unwrap_or(path).display()
        )
    }

    /// Create a directory member.
    pub fn dir(&mut self, name: &Path) -> Result<(), Error> {
        let Some((parent, last)) = self.place(name)? else {
            return Ok(());
        };
        let mut comps = parent;
        comps.push(last);
        // Follows a symlink to a directory (e.g. `lib/` onto the merged-/usr link).
        self.resolve(&comps, true)?;
        self.stats.dirs += 1;
        Ok(())
    }

    /// Create a regular file member from `data` (which must yield exactly its content).
    pub fn file(&mut self, name: &Path, mode: u32, data: &mut dyn Read) -> Result<(), Error> {
        let Some((parent, last)) = self.place(name)? else {
            return Err(Error::Archive("a file member has an empty name".into()));
        };
        let path = self.full(&parent, &last);
        self.clear(&path)?;
        let mut out = fs::File::create(&path).map_err(|e| io_err(&path, e))?;
        let n = io::copy(data, &mut out)
            .map_err(|e| Error::Archive(format!("{}: {e}", name.display())))?;
        drop(out);
        set_mode(&path, (mode & 0o777) | 0o200)?;
        self.stats.files += 1;
        self.stats.bytes += n;
        Ok(())
    }

    /// Create a symlink member; an absolute target is made relative to the link's directory.
    pub fn symlink(&mut self, name: &Path, target: &Path) -> Result<(), Error> {
        let Some((parent, last)) = self.place(name)? else {
            return Err(Error::Archive("a symlink member has an empty name".into()));
        };
        let target = if target.is_absolute() {
            relative_path(&parent, &normalize_absolute(target))
        } else {
            target.to_path_buf()
        };
        let path = self.full(&parent, &last);
        self.clear(&path)?;
        symlink(&target, &path).map_err(|e| io_err(&path, e))?;
        self.stats.symlinks += 1;
        Ok(())
    }

    /// Create a hard link member to an earlier member `target` (an archive name); falls back
    /// to a copy when hard links are not possible.
    pub fn hardlink(&mut self, name: &Path, target: &Path) -> Result<(), Error> {
        let mut tcomps = member_components(target)?;
        let Some(tlast) = tcomps.pop() else {
            return Err(Error::Archive(format!(
                "hard link {} has an empty target",
                name.display()
            )));
        };
        let tparent = self.resolve(&tcomps, false)?;
        let source = self.full(&tparent, &tlast);
        let Some((parent, last)) = self.place(name)? else {
            return Err(Error::Archive(
                "a hard link member has an empty name".into(),
            ));
        };
        let path = self.full(&parent, &last);
        self.clear(&path)?;
        if fs::hard_link(&source, &path).is_err() {
            fs::copy(&source, &path).map_err(|e| io_err(&source, e))?;
        }
        self.stats.hardlinks += 1;
        Ok(())
    }

    /// Count a member that is not reproduced (device, FIFO).
    pub fn skip(&mut self) {
        self.stats.skipped += 1;
    }
}

/// Resolve `components` to a physical path below `root`, the way a `chroot` would: symlinks
/// are followed inside the root (an absolute target restarts at the root, `..` stops at it).
/// Missing directories are created when `create` is set, otherwise they are an error. The
/// last component may be a non-directory. Returns the physical components.
pub fn resolve_in(
    root: &Path,
    components: &[OsString],
    create: bool,
) -> Result<Vec<OsString>, Error> {
    let mut stack: Vec<OsString> = Vec::new();
    let mut pending: Vec<OsString> = components.iter().rev().cloned().collect();
    let mut hops = 0usize;
    while let Some(c) = pending.pop() {
        if c == ".." {
            stack.pop();
            continue;
        }
        if c == "." || c.is_empty() {
            continue;
        }
        let mut path = root.to_path_buf();
        path.extend(&stack);
        path.push(&c);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(Error::Unsafe(format!(
                        "too many levels of symbolic links at {}",
                        display(&stack, &c)
                    )));
                }
                let target = fs::read_link(&path).map_err(|e| io_err(&path, e))?;
                if target.is_absolute() {
                    stack.clear();
                }
                for part in target.components().rev() {
                    match part {
                        Component::Normal(s) => pending.push(s.to_os_string()),
                        Component::ParentDir => pending.push(OsString::from("..")),
                        _ => {}
                    }
                }
            }
            Ok(meta) if meta.is_dir() => stack.push(c),
            Ok(_) if pending.is_empty() => stack.push(c),
            Ok(_) => {
                return Err(Error::Archive(format!(
                    "{} is not a directory",
                    display(&stack, &c)
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                fs::create_dir(&path).map_err(|e| io_err(&path, e))?;
                set_mode(&path, 0o755)?;
                stack.push(c);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::Target(format!(
                    "{} does not exist",
                    display(&stack, &c)
                )))
            }
            Err(e) => return Err(io_err(&path, e)),
        }
    }
    Ok(stack)
}

/// Resolve an absolute path inside `root` to the host path of what it names.
pub fn resolve_path(root: &Path, path: &Path) -> Result<PathBuf, Error> {
    let comps = member_components(path)?;
    let mut out = root.to_path_buf();
    out.extend(resolve_in(root, &comps, false)?);
    Ok(out)
}

fn display(stack: &[OsString], last: &OsStr) -> String {
    let mut p = PathBuf::from("/");
    p.extend(stack);
    p.push(last);
    p.display().to_string()
}

fn set_mode(path: &Path, mode: u32) -> Result<(), Error> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| io_err(path, e))
}

pub(crate) fn io_err(path: &Path, e: io::Error) -> Error {
    Error::Io(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn relative_paths() {
        let rel = relative_path(
            &os(&["usr", "lib64"]),
            &os(&["lib", "powerpc64le-linux-gnu", "ld64.so.2"]),
        );
        assert_eq!(rel, Path::new("../../lib/powerpc64le-linux-gnu/ld64.so.2"));
        assert_eq!(
            relative_path(&os(&["usr", "bin"]), &os(&["usr", "bin", "python3.11"])),
            Path::new("python3.11")
        );
        assert_eq!(relative_path(&os(&["a"]), &os(&["a"])), Path::new("."));
        assert_eq!(
            normalize_absolute(Path::new("/usr/../lib/./x")),
            os(&["lib", "x"])
        );
    }

    #[test]
    fn refuses_parent_components() {
        assert!(member_components(Path::new("./usr/../../etc/passwd")).is_err());
        assert!(member_components(Path::new("../x")).is_err());
        assert_eq!(
            member_components(Path::new("/./usr/bin/")).unwrap(),
            os(&["usr", "bin"])
        );
    }

    #[test]
    fn writes_through_links_without_escaping() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let root = tmp.path().join("root");
        let mut w = RootWriter::new(&root).unwrap();
        // Merged /usr: lib/x lands in usr/lib/x.
        w.file(Path::new("./lib/x"), 0o644, &mut &b"hi"[..])
            .unwrap();
        assert_eq!(fs::read(root.join("usr/lib/x")).unwrap(), b"hi");
        // An absolute symlink pointing out is kept inside: writes through it stay in the root.
        w.symlink(Path::new("./evil"), &outside).unwrap();
        let target = fs::read_link(root.join("evil")).unwrap();
        assert!(target.is_relative(), "{target:?}");
        w.file(Path::new("./evil/f"), 0o644, &mut &b"x"[..])
            .unwrap();
        assert!(!outside.join("f").exists());
        assert!(root
            .join(outside.strip_prefix("/").unwrap())
            .join("f")
            .exists());
        // A relative symlink climbing out is clamped at the root, chroot-style.
        w.symlink(Path::new("./up"), Path::new("../../../../.."))
            .unwrap();
        w.file(Path::new("./up/g"), 0o600, &mut &b"y"[..]).unwrap();
        assert!(root.join("g").exists());
        assert!(!tmp.path().join("g").exists());
        // Absolute links become relative to the link's physical directory.
        w.symlink(Path::new("./lib64/ld.so"), Path::new("/lib/x"))
            .unwrap();
        assert_eq!(
            fs::read_link(root.join("usr/lib64/ld.so")).unwrap(),
            Path::new("../../lib/x")
        );
        assert_eq!(fs::read(root.join("lib64/ld.so")).unwrap(), b"hi");
        // Hard links and a directory member over a link to a directory.
        w.hardlink(Path::new("./usr/bin/hl"), Path::new("./lib/x"))
            .unwrap();
        assert_eq!(fs::read(root.join("bin/hl")).unwrap(), b"hi");
        w.dir(Path::new("./lib/")).unwrap();
        assert!(fs::symlink_metadata(root.join("lib"))
            .unwrap()
            .file_type()
            .is_symlink());
        // Loops are detected.
        w.symlink(Path::new("./loop"), Path::new("loop")).unwrap();
        assert!(w.file(Path::new("./loop/z"), 0o644, &mut &b""[..]).is_err());
        // A file over a directory is refused.
        assert!(w
            .file(Path::new("./usr/bin"), 0o644, &mut &b""[..])
            .is_err());
        assert!(w
            .file(Path::new("./a/../../b"), 0o644, &mut &b""[..])
            .is_err());
    }

    #[test]
    fn finish_adds_lib_variant_aliases() {
        let tmp = tempfile::tempdir().unwrap();
        let w = RootWriter::new(tmp.path()).unwrap();
        fs::create_dir_all(tmp.path().join("usr/lib64")).unwrap();
        w.finish().unwrap();
        assert_eq!(
            fs::read_link(tmp.path().join("lib64")).unwrap(),
            Path::new("usr/lib64")
        );
        assert!(fs::symlink_metadata(tmp.path().join("lib32")).is_err());
    }
}
