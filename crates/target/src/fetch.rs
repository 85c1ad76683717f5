//! Downloading from a Debian mirror (`http://`, `https://` or a local `file://` tree) into the
//! cache, verifying size and SHA256 before a file gets its final name.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::progress::{human_bytes, Progress};
use crate::release::Checksum;
use crate::Error;

/// A package mirror: the directory holding `dists/` and `pool/`.
#[derive(Clone)]
pub struct Mirror {
    base: String,
    agent: Option<ureq::Agent>,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror").field("base", &self.base).finish()
    }
}

impl Mirror {
    /// A mirror at `url` (`http://`, `https://` or `file://`).
    pub fn new(url: &str) -> Result<Mirror, Error> {
        let base = url.trim_end_matches('/').to_string();
        if base.starts_with("file://") {
            return Ok(Mirror { base, agent: None });
        }
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Download(format!(
                "mirror URL '{url}' must start with http://, https:// or file://"
            )));
        }
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(20)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .user_agent(concat!("manywheel/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Mirror {
            base,
            agent: Some(config.into()),
        })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    /// Open `rel` (a path below the mirror root); returns the reader and the announced length.
    pub fn open(&self, rel: &str) -> Result<(Box<dyn Read + Send>, Option<u64>), Error> {
        let url = format!("{}/{}", self.base, rel.trim_start_matches('/'));
        match &self.agent {
            None => {
                let path = url.trim_start_matches("file://");
                let file = File::open(path).map_err(|e| {
                    if e.kind() == io::ErrorKind::NotFound {
                        Error::NotFound(url.clone())
                    } else {
                        Error::Download(format!("{url}: {e}"))
                    }
                })?;
                let len = file.metadata().ok().map(|m| m.len());
                Ok((Box::new(BufReader::new(file)), len))
            }
            Some(agent) => {
                // Transient failures (a name lookup or connection that fails, a timeout, 429,
                // 5xx) are tried again, after 1 s and 3 s; other answers are final.
                let mut waits = [1u64, 3].into_iter();
                loop {
                    match agent.get(&url).call() {
                        Ok(resp) => {
                            let body = resp.into_body();
                            let len = body.content_length();
                            return Ok((Box::new(body.into_reader()), len));
                        }
                        Err(ureq::Error::StatusCode(404)) => return Err(Error::NotFound(url)),
                        Err(e) => {
                            let transient = match &e {
                                ureq::Error::StatusCode(c) => *c == 429 || *c >= 500,
                                ureq::Error::Io(_)
                                | ureq::Error::Timeout(_)
                                | ureq::Error::HostNotFound
                                | ureq::Error::ConnectionFailed => true,
                                _ => false,
                            };
                            match waits.next() {
                                Some(secs) if transient => {
                                    std::thread::sleep(Duration::from_secs(secs))
                                }
                                _ => return Err(Error::Download(format!("{url}: {e}"))),
                            }
                        }
                    }
                }
            }
        }
    }

    /// Fetch a small file into memory (at most `limit` bytes).
    pub fn get_bytes(&self, rel: &str, limit: u64) -> Result<Vec<u8>, Error> {
        let (reader, _) = self.open(rel)?;
        let mut out = Vec::new();
        reader
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| Error::Download(format!("{}/{rel}: {e}", self.base)))?;
        if out.len() as u64 > limit {
            return Err(Error::Download(format!(
                "{}/{rel}: larger than {limit} bytes",
                self.base
            )));
        }
        Ok(out)
    }

    /// Download `rel` to `dest`, verifying it against `expected`. The data goes to a temporary
    /// file next to `dest` that is renamed only when size and SHA256 match, so `dest` is
    /// either absent or complete and verified. `progress` gets the bytes received so far.
    pub fn download(
        &self,
        rel: &str,
        dest: &Path,
        expected: &Checksum,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), Error> {
        let (mut reader, _) = self.open(rel)?;
        save_verified(&mut reader, dest, expected.size, rel, progress, |got| {
            (got != expected.sha256).then(|| {
                format!(
                    "{rel}: sha256 mismatch: expected {}, got {got}",
                    expected.sha256
                )
            })
        })
    }
}

/// Stream `reader` into a temporary file beside `dest`, hashing it, and give it the name
/// `dest` only when exactly `size` bytes came and `check(sha256 hex)` finds nothing wrong (it
/// returns the mismatch message). So `dest` is either absent or complete and verified. `what`
/// names the download in errors; `progress` gets the bytes received so far.
pub(crate) fn save_verified(
    reader: &mut dyn Read,
    dest: &Path,
    size: u64,
    what: &str,
    progress: &mut dyn FnMut(u64),
    check: impl FnOnce(&str) -> Option<String>,
) -> Result<(), Error> {
    let dir = dest
        .parent()
        .ok_or_else(|| Error::Io(format!("{}: no parent directory", dest.display())))?;
    fs::create_dir_all(dir).map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(dir)
        .map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::Download(format!(
                    "{what}: {e} after {total} of {size} bytes (truncated download?)"
                )))
            }
        };
        total += n as u64;
        if total > size {
            return Err(Error::Verify(format!(
                "{what}: larger than the expected {size} bytes"
            )));
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])
            .map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
        progress(total);
    }
    if total != size {
        return Err(Error::Verify(format!(
            "{what}: size mismatch: expected {size} bytes, got {total} (truncated download?)"
        )));
    }
    if let Some(message) = check(&hex(&hasher.finalize())) {
        return Err(Error::Verify(message));
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
    tmp.persist(dest)
        .map_err(|e| Error::Io(format!("{}: {}", dest.display(), e.error)))?;
    Ok(())
}

/// One file of a [`fetch_all`]: where it goes and what it must be.
pub(crate) struct FetchItem {
    pub path: PathBuf,
    pub sum: Checksum,
    /// Shown after the byte counts while it downloads (may be empty).
    pub name: String,
    /// The progress line once it is in (`libc6 2.36-9 (2.8 MB)`).
    pub done: String,
    /// Prefixed to its error (`libc6`), if any.
    pub context: Option<String>,
}

/// Make sure every item is in the cache, verified: cached files whose size and SHA256 match
/// are kept, the others are downloaded by `download(index, item, on_bytes)`, `jobs` at a time,
/// with a progress line. The first error stops the rest and is returned.
pub(crate) fn fetch_all(
    what: &str,
    items: &[FetchItem],
    jobs: usize,
    progress: &Progress,
    download: impl Fn(usize, &FetchItem, &mut dyn FnMut(u64)) -> Result<(), Error> + Sync,
) -> Result<(), Error> {
    let todo: Vec<usize> = (0..items.len())
        // Verifying a cached file costs a hash; a bad one is downloaded again.
        .filter(|&i| !is_verified(&items[i].path, &items[i].sum))
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let total_bytes: u64 = todo.iter().map(|&i| items[i].sum.size).sum();
    progress.message(&format!(
        "downloading {} of {} {what} ({})",
        todo.len(),
        items.len(),
        human_bytes(total_bytes)
    ));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let bytes = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let workers = jobs.clamp(1, 16).min(todo.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                if failed.load(Ordering::Relaxed) {
                    return;
                }
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = todo.get(k) else { return };
                let item = &items[i];
                let mut seen = 0u64;
                let result = download(i, item, &mut |n| {
                    let now = bytes.fetch_add(n - seen, Ordering::Relaxed) + (n - seen);
                    seen = n;
                    let name = if item.name.is_empty() {
                        String::new()
                    } else {
                        format!("  {}", item.name)
                    };
                    progress.status(
                        &format!(
                            "  [{}/{}] {} / {}{name}",
                            done.load(Ordering::Relaxed),
                            todo.len(),
                            human_bytes(now),
                            human_bytes(total_bytes),
                        ),
                        false,
                    );
                });
                match result {
                    Ok(()) => {
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        progress.log(&format!("  [{n}/{}] {}", todo.len(), item.done));
                    }
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        let mut slot = first_error.lock().unwrap_or_else(|e| e.into_inner());
                        if slot.is_none() {
                            *slot = Some(match &item.context {
                                Some(c) => e.context(c),
                                None => e,
                            });
                        }
                        return;
                    }
                }
            });
        }
    });
    progress.clear();
    match first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// SHA256 and size of a file.
pub fn file_checksum(path: &Path) -> io::Result<Checksum> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok(Checksum {
        sha256: hex(&hasher.finalize()),
        size,
    })
}

/// Whether `path` exists with exactly this size and SHA256 (the size is checked first).
pub fn is_verified(path: &Path, expected: &Checksum) -> bool {
    match fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() == expected.size => {
            file_checksum(path).is_ok_and(|c| c.sha256 == expected.sha256)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_mirror_download_verifies() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("mirror/pool/a.deb");
        fs::create_dir_all(src.parent().unwrap()).unwrap();
        fs::write(&src, b"hello").unwrap();
        let mirror = Mirror::new(&format!("file://{}/mirror/", tmp.path().display())).unwrap();
        let good = file_checksum(&src).unwrap();
        assert_eq!(
            good.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        let dest = tmp.path().join("cache/a.deb");
        let mut seen = 0;
        mirror
            .download("pool/a.deb", &dest, &good, &mut |n| seen = n)
            .unwrap();
        assert_eq!(seen, 5);
        assert!(is_verified(&dest, &good));

        let dest2 = tmp.path().join("cache/b.deb");
        let bad_sha = Checksum {
            sha256: "0".repeat(64),
            size: 5,
        };
        let err = mirror
            .download("pool/a.deb", &dest2, &bad_sha, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("sha256 mismatch"), "{err}");
        let short = Checksum {
            sha256: good.sha256.clone(),
            size: 6,
        };
        let err = mirror
            .download("pool/a.deb", &dest2, &short, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("size mismatch"), "{err}");
        assert!(!dest2.exists());
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(tmp.path().join("cache")).unwrap().count(), 1);
        assert!(matches!(
            mirror.open("pool/none.deb"),
            Err(Error::NotFound(_))
        ));
        assert!(Mirror::new("ftp://x").is_err());
    }
}
