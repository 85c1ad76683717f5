//! A target root (sysroot) and the library search directories of its dynamic loader.
//!
//! Every path handled here is a path *inside* the root ("/usr/lib/libz.so.1"); it is mapped onto
//! the host file system only when a file is opened, and symbolic links are followed inside the
//! root, so an absolute link in a foreign sysroot never leaks out to the host's libraries.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use manywheel_policy::{Arch, Libc};

/// The most symbolic links followed while resolving one path (as the kernel does).
const MAX_LINKS: usize = 40;

/// A directory tree that stands for `/` of a target system.
#[derive(Debug, Clone)]
pub struct Root {
    host: PathBuf,
}

impl Root {
    /// Use `dir` as the root.
    pub fn new(dir: impl Into<PathBuf>) -> Root {
        Root { host: dir.into() }
    }

    /// The host's own `/`.
    pub fn host_root() -> Root {
        Root::new("/")
    }

    /// The root's location on the host.
    pub fn host_dir(&self) -> &Path {
        &self.host
    }

    /// Whether this root is the host's `/`.
    pub fn is_host(&self) -> bool {
        self.host == Path::new("/")
    }

    /// Map an in-root absolute path to a host path, without following links.
    pub fn host_path(&self, inner: &Path) -> PathBuf {
        let rel = inner.strip_prefix("/").unwrap_or(inner);
        self.host.join(rel)
    }

    /// Resolve every symbolic link in `inner` inside the root; returns the in-root path of the
    /// final target when it exists, else `None`. `..` never climbs above the root.
    pub fn resolve(&self, inner: &Path) -> Option<PathBuf> {
        let mut pending: Vec<String> = components(inner);
        pending.reverse();
        let mut current: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(part) = pending.pop() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    current.pop();
                    continue;
                }
                _ => {}
            }
            current.push(part);
            let here = self.host_path(&join_inner(&current));
            let meta = std::fs::symlink_metadata(&here).ok()?;
            if meta.file_type().is_symlink() {
                links += 1;
                if links > MAX_LINKS {
                    return None;
                }
                let target = std::fs::read_link(&here).ok()?;
                current.pop();
                if target.is_absolute() {
                    current.clear();
                }
                let mut more = components(&target);
                more.reverse();
                pending.extend(more);
            }
        }
        let resolved = join_inner(&current);
        self.host_path(&resolved).exists().then_some(resolved)
    }

    /// Read `/etc/ld.so.conf` of the root, following `include` globs; returns the directories in
    /// order (in-root paths), without duplicates.
    pub fn ld_so_conf_dirs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut seen_files = HashSet::new();
        self.read_ld_so_conf(Path::new("/etc/ld.so.conf"), &mut out, &mut seen_files, 0);
        dedup(out)
    }

    fn read_ld_so_conf(
        &self,
        file: &Path,
        out: &mut Vec<PathBuf>,
        seen: &mut HashSet<PathBuf>,
        depth: usize,
    ) {
        if depth > 16 || !seen.insert(file.to_path_buf()) {
            return;
        }
        let Some(real) = self.resolve(file) else {
            return;
        };
        let Ok(text) = std::fs::read_to_string(self.host_path(&real)) else {
            return;
        };
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if let Some(pattern) = line
                .strip_prefix("include")
                .filter(|r| r.starts_with([' ', '\t']))
            {
                for pattern in pattern.split_whitespace() {
                    let inner = if pattern.starts_with('/') {
                        PathBuf::from(pattern)
                    } else {
                        file.parent().unwrap_or(Path::new("/")).join(pattern)
                    };
                    for included in self.glob(&inner) {
                        self.read_ld_so_conf(&included, out, seen, depth + 1);
                    }
                }
            } else if line.starts_with("hwcap ") {
                continue;
            } else {
                // Entries may be separated by spaces, tabs, colons or commas.
                for dir in line.split([' ', '\t', ':', ',']).filter(|d| !d.is_empty()) {
                    out.push(normalize(Path::new(dir)));
                }
            }
        }
    }

    /// Expand a glob pattern of in-root paths; returns sorted in-root paths.
    fn glob(&self, inner: &Path) -> Vec<PathBuf> {
        let host_pattern = self.host_path(inner);
        let Some(pattern) = host_pattern.to_str() else {
            return Vec::new();
        };
        let escaped_root = glob::Pattern::escape(&self.host.to_string_lossy());
        let pattern = match pattern.strip_prefix(&*self.host.to_string_lossy()) {
            Some(rest) => format!("{escaped_root}{rest}"),
            None => pattern.to_string(),
        };
        let Ok(paths) = glob::glob(&pattern) else {
            return Vec::new();
        };
        let mut found: Vec<PathBuf> = paths
            .filter_map(Result::ok)
            .filter_map(|p| {
                p.strip_prefix(&self.host)
                    .ok()
                    .map(|r| Path::new("/").join(r))
            })
            .collect();
        found.sort();
        found
    }

    /// Whether the in-root path is an existing directory (following links inside the root).
    pub fn is_dir(&self, inner: &Path) -> bool {
        self.resolve(inner)
            .map(|p| self.host_path(&p).is_dir())
            .unwrap_or(false)
    }

    /// The directories the target's dynamic loader searches after RPATH, LD_LIBRARY_PATH and
    /// RUNPATH: ld.so.conf (glibc) or `/etc/ld-musl-ARCH.path` (musl), then the default and
    /// multiarch directories. Only existing directories are returned.
    pub fn system_dirs(&self, libc: Libc, arch: Arch) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        match libc {
            Libc::Musl => {
                let path_file = format!("/etc/ld-musl-{}.path", arch.musl_loader_arch());
                let from_file = self
                    .resolve(Path::new(&path_file))
                    .and_then(|p| std::fs::read_to_string(self.host_path(&p)).ok());
                match from_file {
                    Some(text) => dirs.extend(
                        text.split(['\n', ':'])
                            .map(str::trim)
                            .filter(|d| !d.is_empty())
                            .map(|d| normalize(Path::new(d))),
                    ),
                    None => dirs.extend(["/lib", "/usr/local/lib", "/usr/lib"].map(PathBuf::from)),
                }
            }
            Libc::Glibc => {
                dirs.extend(self.ld_so_conf_dirs());
                let triple = arch.gnu_triple();
                dirs.push(PathBuf::from(format!("/lib/{triple}")));
                dirs.push(PathBuf::from(format!("/usr/lib/{triple}")));
                if arch.is_64() {
                    dirs.extend(["/lib64", "/usr/lib64"].map(PathBuf::from));
                }
                dirs.extend(["/lib", "/usr/lib"].map(PathBuf::from));
            }
        }
        dedup(dirs).into_iter().filter(|d| self.is_dir(d)).collect()
    }
}

fn components(path: &Path) -> Vec<String> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect()
}

fn join_inner(parts: &[String]) -> PathBuf {
    let mut p = PathBuf::from("/");
    for part in parts {
        p.push(part);
    }
    p
}

/// Normalise an absolute in-root path lexically (`.`, `..`, repeated slashes).
pub fn normalize(path: &Path) -> PathBuf {
    let mut parts: Vec<String> = Vec::new();
    for c in components(path) {
        if c == ".." {
            parts.pop();
        } else {
            parts.push(c);
        }
    }
    join_inner(&parts)
}

fn dedup(items: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn absolute_links_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        std::fs::create_dir_all(dir.path().join("usr/lib")).unwrap();
        std::fs::write(dir.path().join("usr/lib/libfoo.so.1.2"), b"x").unwrap();
        symlink(
            "/usr/lib/libfoo.so.1.2",
            dir.path().join("usr/lib/libfoo.so.1"),
        )
        .unwrap();
        symlink("usr/lib", dir.path().join("lib")).unwrap();
        assert_eq!(
            root.resolve(Path::new("/lib/libfoo.so.1")),
            Some(PathBuf::from("/usr/lib/libfoo.so.1.2"))
        );
        // A link that points at a host file that does not exist in the root is not followed out.
        symlink("/etc/hostname", dir.path().join("usr/lib/leak")).unwrap();
        assert_eq!(root.resolve(Path::new("/usr/lib/leak")), None);
        // `..` above the root stays at the root.
        assert_eq!(
            root.resolve(Path::new("/../../usr/lib/libfoo.so.1.2")),
            Some(PathBuf::from("/usr/lib/libfoo.so.1.2"))
        );
    }

    #[test]
    fn link_loops_end() {
        let dir = tempfile::tempdir().unwrap();
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        assert_eq!(Root::new(dir.path()).resolve(Path::new("/a")), None);
    }

    #[test]
    fn ld_so_conf_with_includes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("etc/ld.so.conf.d")).unwrap();
        for sub in [
            "opt/a",
            "opt/b",
            "opt/c",
            "usr/lib/aarch64-linux-gnu",
            "usr/lib",
        ] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::fs::write(
            d.join("etc/ld.so.conf"),
            "# comment\n/opt/c\ninclude /etc/ld.so.conf.d/*.conf\n",
        )
        .unwrap();
        std::fs::write(d.join("etc/ld.so.conf.d/2-b.conf"), "/opt/b # trailing\n").unwrap();
        std::fs::write(d.join("etc/ld.so.conf.d/1-a.conf"), "/opt/a:/opt/missing\n").unwrap();
        let root = Root::new(d);
        assert_eq!(
            root.ld_so_conf_dirs(),
            ["/opt/c", "/opt/a", "/opt/missing", "/opt/b"].map(PathBuf::from)
        );
        assert_eq!(
            root.system_dirs(Libc::Glibc, Arch::Aarch64),
            [
                "/opt/c",
                "/opt/a",
                "/opt/b",
                "/usr/lib/aarch64-linux-gnu",
                "/usr/lib"
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn musl_path_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["etc", "lib", "usr/lib", "opt/x"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let root = Root::new(d);
        assert_eq!(
            root.system_dirs(Libc::Musl, Arch::X86_64),
            ["/lib", "/usr/lib"].map(PathBuf::from)
        );
        std::fs::write(d.join("etc/ld-musl-x86_64.path"), "/opt/x\n/usr/lib:/lib\n").unwrap();
        assert_eq!(
            root.system_dirs(Libc::Musl, Arch::X86_64),
            ["/opt/x", "/usr/lib", "/lib"].map(PathBuf::from)
        );
    }
}
