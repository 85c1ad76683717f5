//! The cache directory and its layout:
//!
//! ```text
//! $MANYWHEEL_CACHE (default $XDG_CACHE_HOME/manywheel, ~/.cache/manywheel)
//! ├── targets/<distro>-<suite>-<arch>/   complete sysroots, each with manifest.json
//! ├── debs/<file>.deb                    verified packages, shared by all targets
//! ├── blobs/sha256/<hex>                 verified image layers and configs (`--image`), shared
//! ├── index/<mirror>/<suite>/            Release files and Packages indices
//! ├── qemu/<distro>-<suite>/qemu-<arch>-static
//! ├── locks/<target>.lock                held while a target is added or removed
//! └── tmp/                               trees being built (renamed into targets/ when done)
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::Error;

/// The root of manywheel's cache.
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The cache at an explicit path.
    pub fn at(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    /// `$MANYWHEEL_CACHE`, else `$XDG_CACHE_HOME/manywheel`, else `$HOME/.cache/manywheel`.
    pub fn from_env() -> Result<Cache, Error> {
        let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(dir) = nonempty("MANYWHEEL_CACHE") {
            return Ok(Cache::at(dir));
        }
        if let Some(dir) = nonempty("XDG_CACHE_HOME") {
            return Ok(Cache::at(PathBuf::from(dir).join("manywheel")));
        }
        if let Some(home) = nonempty("HOME") {
            return Ok(Cache::at(PathBuf::from(home).join(".cache/manywheel")));
        }
        Err(Error::Usage(
            "no cache directory: set MANYWHEEL_CACHE, XDG_CACHE_HOME or HOME".into(),
        ))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn targets_dir(&self) -> PathBuf {
        self.root.join("targets")
    }

    pub fn target_dir(&self, name: &str) -> PathBuf {
        self.targets_dir().join(name)
    }

    pub fn debs_dir(&self) -> PathBuf {
        self.root.join("debs")
    }

    /// Content-addressed blobs of OCI images.
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn locks_dir(&self) -> PathBuf {
        self.root.join("locks")
    }

    /// Index files of one suite from one mirror.
    pub fn index_dir(&self, mirror_url: &str, suite: &str) -> PathBuf {
        self.root
            .join("index")
            .join(sanitize(mirror_url))
            .join(sanitize(suite))
    }

    /// qemu binaries taken from one distribution release.
    pub fn qemu_dir(&self, distro: &str, suite: &str) -> PathBuf {
        self.root.join("qemu").join(format!("{distro}-{suite}"))
    }

    /// Take the exclusive lock of `name` (blocking; `waiting` is called once if another
    /// process holds it). The lock is released when the returned file is dropped.
    pub fn lock(&self, name: &str, waiting: impl FnOnce()) -> Result<File, Error> {
        let dir = self.locks_dir();
        fs::create_dir_all(&dir).map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
        let path = dir.join(format!("{name}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                waiting();
                file.lock()
                    .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::Io(format!("{}: {e}", path.display())))
            }
        }
        Ok(file)
    }
}

/// A file-name-safe form of a URL or name.
fn sanitize(s: &str) -> String {
    let s = s
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_start_matches("file://");
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let out = out.trim_matches('_').to_string();
    if out.is_empty() || out == "." || out == ".." {
        "_".into()
    } else {
        out
    }
}

/// Write a file atomically: a temporary file in the same directory, renamed over `path`.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), Error> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::Io(format!("{}: no parent directory", path.display())))?;
    fs::create_dir_all(dir).map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
    tmp.write_all(data)
        .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    // Readable like any other file of the cache (temporary files are created 0600).
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    tmp.persist(path)
        .map_err(|e| Error::Io(format!("{}: {}", path.display(), e.error)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_mirror_urls() {
        assert_eq!(
            sanitize("http://deb.debian.org/debian/"),
            "deb.debian.org_debian"
        );
        assert_eq!(sanitize("file:///tmp/x y"), "tmp_x_y");
        assert_eq!(sanitize("../.."), ".._..");
        assert_eq!(sanitize(".."), "_");
        assert_eq!(sanitize(""), "_");
    }

    #[test]
    fn lock_is_exclusive_between_handles() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::at(tmp.path());
        let held = cache.lock("t", || panic!("not contended")).unwrap();
        let again = OpenOptions::new()
            .write(true)
            .open(cache.locks_dir().join("t.lock"))
            .unwrap();
        assert!(again.try_lock().is_err());
        drop(held);
        assert!(again.try_lock().is_ok());
    }
}
