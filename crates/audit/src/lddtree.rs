//! Resolve the shared libraries an ELF file loads, with the dynamic loader's rules, among the
//! files of a wheel and inside a target root — never on the host unless the host is the root.
//!
//! Order for a `DT_NEEDED` entry of object O (glibc `ld.so`): an already loaded object of that
//! name; O's `DT_RPATH` (only when O has no `DT_RUNPATH`) followed by the `DT_RPATH` of the
//! objects that loaded O; `LD_LIBRARY_PATH` (host root only); O's `DT_RUNPATH`; the system
//! directories (ld.so.conf or musl's path file, then the defaults). Objects load breadth first.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use manywheel_elf::{ElfFile, Header};
use manywheel_policy::{Arch, Libc};

use crate::root::{normalize, Root};

/// Where a loaded object lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Location {
    /// A member of the wheel, by its path in the archive.
    Wheel(String),
    /// A file of the target root, by its in-root path with links resolved.
    Root(PathBuf),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Wheel(m) => write!(f, "{m}"),
            Location::Root(p) => write!(f, "{}", p.display()),
        }
    }
}

/// One `DT_NEEDED` name and what it resolved to.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub name: String,
    /// `None` when no compatible file was found (or resolution was skipped, see `skipped`).
    pub location: Option<Location>,
    /// The parsed object, when found.
    pub elf: Option<Arc<ElfFile>>,
    /// Which object's `DT_NEEDED` first asked for it.
    pub needed_by: Location,
    /// Why it was not looked up (e.g. libpython), if so.
    pub skipped: Option<&'static str>,
}

impl Loaded {
    /// The `DT_NEEDED` of the object, empty when not found.
    pub fn needed(&self) -> &[String] {
        self.elf
            .as_ref()
            .map(|e| e.needed.as_slice())
            .unwrap_or(&[])
    }
}

/// The load tree of one object.
#[derive(Debug, Clone)]
pub struct DepTree {
    pub top: Location,
    pub elf: Arc<ElfFile>,
    /// Every object loaded, keyed by the name asked for, in load order.
    pub libs: Vec<Loaded>,
    index: HashMap<String, usize>,
}

impl DepTree {
    /// The resolution of a `DT_NEEDED` name anywhere in the tree.
    pub fn get(&self, name: &str) -> Option<&Loaded> {
        self.index.get(name).map(|&i| &self.libs[i])
    }
}

/// A directory searched for libraries.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SearchDir {
    /// A folder inside the wheel ("" is the wheel's top).
    Wheel(String),
    /// A folder inside the root.
    Root(PathBuf),
}

/// Finds and parses libraries for one wheel (or one file) and one target.
pub struct Resolver {
    root: Option<Root>,
    libc: Libc,
    arch: Arch,
    env_dirs: Vec<PathBuf>,
    system_dirs: Vec<PathBuf>,
    wheel_elfs: HashMap<String, Arc<ElfFile>>,
    cache: Mutex<HashMap<PathBuf, Option<Arc<ElfFile>>>>,
}

/// Names that are never looked up: the interpreter's library is part of the Python install.
fn skip_reason(name: &str) -> Option<&'static str> {
    let is_libpython = name.strip_prefix("libpython").is_some_and(|rest| {
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
        let rest = rest.strip_prefix('m').unwrap_or(rest);
        rest.starts_with(".so") || rest.starts_with("so")
    });
    is_libpython.then_some("libpython is provided by the interpreter")
}

impl Resolver {
    /// A resolver searching `root` (if any). `ldpaths`, when given, replaces the system
    /// directories (in-root paths). `wheel_elfs` are the parsed ELF members of the wheel.
    pub fn new(
        root: Option<Root>,
        libc: Libc,
        arch: Arch,
        ldpaths: Option<Vec<PathBuf>>,
        wheel_elfs: HashMap<String, Arc<ElfFile>>,
    ) -> Resolver {
        let system_dirs = match (&root, ldpaths) {
            (Some(_), Some(dirs)) => dirs.iter().map(|d| normalize(d)).collect(),
            (Some(r), None) => r.system_dirs(libc, arch),
            (None, _) => Vec::new(),
        };
        let env_dirs = match &root {
            Some(r) if r.is_host() => std::env::var("LD_LIBRARY_PATH")
                .unwrap_or_default()
                .split(':')
                .filter(|d| d.starts_with('/'))
                .map(|d| normalize(Path::new(d)))
                .collect(),
            _ => Vec::new(),
        };
        Resolver {
            root,
            libc,
            arch,
            env_dirs,
            system_dirs,
            wheel_elfs,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn root(&self) -> Option<&Root> {
        self.root.as_ref()
    }

    pub fn libc(&self) -> Libc {
        self.libc
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// The system directories searched (in-root paths).
    pub fn system_dirs(&self) -> &[PathBuf] {
        &self.system_dirs
    }

    /// The parsed ELF of a wheel member.
    pub fn wheel_elf(&self, member: &str) -> Option<&Arc<ElfFile>> {
        self.wheel_elfs.get(member)
    }

    /// Parse (once) the root file at the resolved in-root path; `None` when it is not an ELF
    /// file (a linker script, say) or cannot be read.
    pub fn root_elf(&self, resolved: &Path) -> Option<Arc<ElfFile>> {
        let root = self.root.as_ref()?;
        if let Some(hit) = self.cache.lock().expect("cache lock").get(resolved) {
            return hit.clone();
        }
        let host = root.host_path(resolved);
        let parsed = read_head(&host)
            .filter(|h| manywheel_elf::is_elf(h))
            .and_then(|_| std::fs::read(&host).ok())
            .and_then(|data| manywheel_elf::parse(&data).ok())
            .map(Arc::new);
        self.cache
            .lock()
            .expect("cache lock")
            .insert(resolved.to_path_buf(), parsed.clone());
        parsed
    }

    /// Build the load tree of the object at `top`.
    pub fn tree(&self, top: Location, elf: Arc<ElfFile>) -> DepTree {
        self.tree_skipping(top, elf, &|_| false)
    }

    /// Build the load tree, but do not look up the names `skip` accepts (they are recorded as
    /// skipped with the reason "always allowed"): an audit needs no path for libraries every
    /// policy whitelists.
    pub fn tree_skipping(
        &self,
        top: Location,
        elf: Arc<ElfFile>,
        skip: &dyn Fn(&str) -> bool,
    ) -> DepTree {
        let mut tree = DepTree {
            top: top.clone(),
            elf: elf.clone(),
            libs: Vec::new(),
            index: HashMap::new(),
        };
        // (object, its location, inherited RPATH dirs of its loaders)
        let mut queue: VecDeque<(Arc<ElfFile>, Location, Vec<SearchDir>)> = VecDeque::new();
        queue.push_back((elf, top, Vec::new()));
        while let Some((obj, loc, inherited)) = queue.pop_front() {
            let own_rpath = if obj.runpath.is_empty() {
                self.expand(&obj.rpath, &loc)
            } else {
                Vec::new()
            };
            let mut rpath_chain = own_rpath.clone();
            rpath_chain.extend(inherited.iter().cloned());
            let runpath = self.expand(&obj.runpath, &loc);
            for name in &obj.needed {
                if tree.index.contains_key(name) {
                    continue;
                }
                let skipped = skip_reason(name)
                    .or_else(|| skip(name).then_some("on every policy's whitelist"));
                let found = if skipped.is_some() {
                    None
                } else {
                    let mut dirs: Vec<SearchDir> = Vec::new();
                    if obj.runpath.is_empty() {
                        dirs.extend(rpath_chain.iter().cloned());
                    }
                    dirs.extend(self.env_dirs.iter().cloned().map(SearchDir::Root));
                    dirs.extend(runpath.iter().cloned());
                    dirs.extend(self.system_dirs.iter().cloned().map(SearchDir::Root));
                    self.find(name, &dirs, &obj.header)
                };
                let (location, lib_elf) = match found {
                    Some((l, e)) => (Some(l), Some(e)),
                    None => (None, None),
                };
                tree.index.insert(name.clone(), tree.libs.len());
                tree.libs.push(Loaded {
                    name: name.clone(),
                    location: location.clone(),
                    elf: lib_elf.clone(),
                    needed_by: loc.clone(),
                    skipped,
                });
                if let (Some(l), Some(e)) = (location, lib_elf) {
                    let chain = if obj.runpath.is_empty() {
                        rpath_chain.clone()
                    } else {
                        inherited.clone()
                    };
                    queue.push_back((e, l, chain));
                }
            }
        }
        tree
    }

    /// Turn RPATH/RUNPATH entries of the object at `origin` into search directories.
    fn expand(&self, entries: &[String], origin: &Location) -> Vec<SearchDir> {
        let mut out = Vec::new();
        for entry in entries {
            let has_origin = entry.contains("$ORIGIN") || entry.contains("${ORIGIN}");
            if entry.contains("$LIB")
                || entry.contains("${LIB}")
                || entry.contains("$PLATFORM")
                || entry.contains("${PLATFORM}")
            {
                continue;
            }
            let dir = match (origin, has_origin) {
                (Location::Wheel(member), true) => {
                    let parent = member.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                    let text = entry
                        .replace("${ORIGIN}", &format!("/{parent}"))
                        .replace("$ORIGIN", &format!("/{parent}"));
                    match wheel_normalize(&text) {
                        Some(d) => SearchDir::Wheel(d),
                        None => continue,
                    }
                }
                (Location::Root(path), true) => {
                    let parent = path.parent().unwrap_or(Path::new("/"));
                    let text = entry
                        .replace("${ORIGIN}", &parent.to_string_lossy())
                        .replace("$ORIGIN", &parent.to_string_lossy());
                    SearchDir::Root(normalize(Path::new(&text)))
                }
                (_, false) if entry.starts_with('/') => {
                    SearchDir::Root(normalize(Path::new(entry)))
                }
                // Relative entries are relative to the working directory of the process: unknown.
                _ => continue,
            };
            if !out.contains(&dir) {
                out.push(dir);
            }
        }
        out
    }

    fn find(
        &self,
        name: &str,
        dirs: &[SearchDir],
        want: &Header,
    ) -> Option<(Location, Arc<ElfFile>)> {
        if name.contains('/') {
            return None;
        }
        for dir in dirs {
            match dir {
                SearchDir::Wheel(d) => {
                    let member = if d.is_empty() {
                        name.to_string()
                    } else {
                        format!("{d}/{name}")
                    };
                    if let Some(elf) = self.wheel_elfs.get(&member) {
                        if compatible(&elf.header, want) {
                            return Some((Location::Wheel(member), elf.clone()));
                        }
                    }
                }
                SearchDir::Root(d) => {
                    let Some(root) = &self.root else { continue };
                    let Some(resolved) = root.resolve(&d.join(name)) else {
                        continue;
                    };
                    if let Some(elf) = self.root_elf(&resolved) {
                        if compatible(&elf.header, want) {
                            return Some((Location::Root(resolved), elf));
                        }
                    }
                }
            }
        }
        None
    }
}

/// Normalise a `/`-rooted wheel path; `None` when it climbs out of the wheel.
fn wheel_normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

fn read_head(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut buf = vec![0u8; 64];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    buf.truncate(n);
    Some(buf)
}

/// Whether a library with header `lib` can be loaded into a process of `want`: same class, byte
/// order and machine, and a compatible OS ABI (none/System V and GNU/Linux mix).
pub fn compatible(lib: &Header, want: &Header) -> bool {
    let osabi_ok =
        lib.osabi == want.osabi || (matches!(lib.osabi, 0 | 3) && matches!(want.osabi, 0 | 3));
    lib.class == want.class && lib.endian == want.endian && lib.machine == want.machine && osabi_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_paths_normalise_inside_the_wheel() {
        assert_eq!(wheel_normalize("/pkg/../pkg.libs"), Some("pkg.libs".into()));
        assert_eq!(wheel_normalize("/pkg/./sub//x"), Some("pkg/sub/x".into()));
        assert_eq!(wheel_normalize("/pkg/../../lib"), None);
    }

    #[test]
    fn libpython_is_skipped() {
        assert!(skip_reason("libpython3.11.so.1.0").is_some());
        assert!(skip_reason("libpython2.7m.so").is_some());
        assert!(skip_reason("libpythonista.so").is_none());
        assert!(skip_reason("libz.so.1").is_none());
    }
}
