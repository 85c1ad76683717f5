//! Applying image layers (tar, optionally gzip or zstd compressed) onto a root directory, in
//! order, as a container runtime flattens them:
//!
//! - `DIR/.wh.NAME` deletes `DIR/NAME` (file or whole tree) of the lower layers;
//!   `DIR/.wh..wh..opq` makes `DIR` opaque: everything the lower layers put in it goes, what
//!   this layer puts in it stays (OCI image spec, "Whiteouts"). Whiteouts never hide what the
//!   same layer adds. Other `.wh..wh.*` names (aufs bookkeeping) are ignored.
//! - An entry replaces what is at its path unless both are directories (a directory keeps its
//!   content and takes the new mode).
//! - Paths are resolved like [`crate::unpack`] does for Debian packages: `..` members are
//!   refused, symlinks among the parent directories are followed *inside* the root, the last
//!   component is never followed, and absolute symlink targets are made relative to the
//!   link's directory, so the tree works under `qemu -L` wherever it lives.
//! - Owners, setuid/setgid bits, devices and FIFOs are not reproduced; files stay writable by
//!   their owner and directories searchable, so the tree can be replaced or removed later.
//! - The uncompressed stream is hashed to check the configuration's `diff_ids`.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::manifest::{sniff, Compression};
use crate::fetch::hex;
use crate::unpack::{io_err, member_components, normalize_absolute, relative_path, resolve_in};
use crate::Error;

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// Counters of one layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LayerStats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    pub whiteouts: u64,
    pub opaque_dirs: u64,
    pub skipped: u64,
    pub bytes: u64,
}

/// What [`apply_file`] and [`apply`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub stats: LayerStats,
    /// `sha256:` of the uncompressed tar stream (the layer's DiffID).
    pub diff_id: String,
}

/// Writes one layer's entries below a root.
struct LayerWriter<'a> {
    root: &'a Path,
    /// Physical paths (relative to the root) written by this layer.
    unpacked: HashSet<PathBuf>,
    stats: LayerStats,
}

fn rel_of(comps: &[OsString]) -> PathBuf {
    comps.iter().collect()
}

/// Remove whatever is at `path` without following a symlink there.
fn remove_any(path: &Path) -> Result<(), Error> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(|e| io_err(path, e)),
        Ok(_) => fs::remove_file(path).map_err(|e| io_err(path, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path, e)),
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), Error> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| io_err(path, e))
}

impl LayerWriter<'_> {
    fn full(&self, comps: &[OsString]) -> PathBuf {
        let mut p = self.root.to_path_buf();
        p.extend(comps);
        p
    }

    /// The resolved (created) parent and the final name of an entry; `None` for the root.
    fn place(&self, name: &Path) -> Result<Option<(Vec<OsString>, OsString)>, Error> {
        let mut comps = member_components(name)?;
        let Some(last) = comps.pop() else {
            return Ok(None);
        };
        let parent = resolve_in(self.root, &comps, true)?;
        Ok(Some((parent, last)))
    }

    fn mark(&mut self, parent: &[OsString], last: &OsString) {
        let mut p = rel_of(parent);
        p.push(last);
        self.unpacked.insert(p);
    }

    fn dir(&mut self, name: &Path, mode: u32) -> Result<(), Error> {
        let Some((parent, last)) = self.place(name)? else {
            return Ok(());
        };
        let mut comps = parent.clone();
        comps.push(last.clone());
        let path = self.full(&comps);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                remove_any(&path)?;
                fs::create_dir(&path).map_err(|e| io_err(&path, e))?;
            }
            Err(_) => fs::create_dir(&path).map_err(|e| io_err(&path, e))?,
        }
        set_mode(&path, (mode & 0o777) | 0o700)?;
        self.mark(&parent, &last);
        self.stats.dirs += 1;
        Ok(())
    }

    fn file(&mut self, name: &Path, mode: u32, data: &mut dyn Read) -> Result<(), Error> {
        let Some((parent, last)) = self.place(name)? else {
            return Err(Error::Archive("a file entry has an empty name".into()));
        };
        let mut comps = parent.clone();
        comps.push(last.clone());
        let path = self.full(&comps);
        remove_any(&path)?;
        let mut out = fs::File::create(&path).map_err(|e| io_err(&path, e))?;
        let n = io::copy(data, &mut out).map_err(|e| {
            Error::Archive(format!(
                "{}: {e} (truncated or corrupt layer?)",
                name.display()
            ))
        })?;
        drop(out);
        set_mode(&path, (mode & 0o777) | 0o200)?;
        self.mark(&parent, &last);
        self.stats.files += 1;
        self.stats.bytes += n;
        Ok(())
    }

    fn symlink(&mut self, name: &Path, target: &Path) -> Result<(), Error> {
        let Some((parent, last)) = self.place(name)? else {
            return Err(Error::Archive("a symlink entry has an empty name".into()));
        };
        let target = if target.is_absolute() {
            relative_path(&parent, &normalize_absolute(target))
        } else {
            target.to_path_buf()
        };
        let mut comps = parent.clone();
        comps.push(last.clone());
        let path = self.full(&comps);
        remove_any(&path)?;
        symlink(&target, &path).map_err(|e| io_err(&path, e))?;
        self.mark(&parent, &last);
        self.stats.symlinks += 1;
        Ok(())
    }

    fn hardlink(&mut self, name: &Path, target: &Path) -> Result<(), Error> {
        let mut tcomps = member_components(target)?;
        let Some(tlast) = tcomps.pop() else {
            return Err(Error::Archive(format!(
                "hard link {} has an empty target",
                name.display()
            )));
        };
        let missing = || {
            Error::Archive(format!(
                "hard link {} to missing {}",
                name.display(),
                target.display()
            ))
        };
        let mut source_comps = resolve_in(self.root, &tcomps, false).map_err(|_| missing())?;
        source_comps.push(tlast);
        let source = self.full(&source_comps);
        let meta = fs::symlink_metadata(&source).map_err(|_| missing())?;
        if meta.is_dir() {
            return Err(Error::Archive(format!(
                "hard link {} to the directory {}",
                name.display(),
                target.display()
            )));
        }
        let Some((parent, last)) = self.place(name)? else {
            return Err(Error::Archive("a hard link entry has an empty name".into()));
        };
        let mut comps = parent.clone();
        comps.push(last.clone());
        if comps == source_comps {
            return Ok(());
        }
        let path = self.full(&comps);
        remove_any(&path)?;
        if meta.file_type().is_symlink() {
            // Copy the link itself; never follow it on the host.
            let t = fs::read_link(&source).map_err(|e| io_err(&source, e))?;
            symlink(&t, &path).map_err(|e| io_err(&path, e))?;
        } else if fs::hard_link(&source, &path).is_err() {
            fs::copy(&source, &path).map_err(|e| io_err(&source, e))?;
        }
        self.mark(&parent, &last);
        self.stats.hardlinks += 1;
        Ok(())
    }

    /// A whiteout entry `parent/.wh.NAME` or an opaque marker.
    fn whiteout(&mut self, name: &Path, base: &str) -> Result<(), Error> {
        let mut comps = member_components(name)?;
        comps.pop();
        if base == OPAQUE {
            let dir = resolve_in(self.root, &comps, true)?;
            self.clear_lower(&dir)?;
            self.stats.opaque_dirs += 1;
            return Ok(());
        }
        if base.starts_with(".wh..wh.") {
            self.stats.skipped += 1;
            return Ok(());
        }
        let victim = &base[WHITEOUT_PREFIX.len()..];
        if victim.is_empty() || victim == "." || victim == ".." {
            return Err(Error::Unsafe(format!(
                "bad whiteout entry {}",
                name.display()
            )));
        }
        let Ok(mut dir) = resolve_in(self.root, &comps, false) else {
            // The directory is not there: nothing to hide.
            self.stats.whiteouts += 1;
            return Ok(());
        };
        dir.push(OsString::from(victim));
        if !self.unpacked.contains(&rel_of(&dir)) {
            remove_any(&self.full(&dir))?;
        }
        self.stats.whiteouts += 1;
        Ok(())
    }

    /// Remove what lower layers left in `dir` (physical components), keeping this layer's.
    fn clear_lower(&self, dir: &[OsString]) -> Result<(), Error> {
        let path = self.full(dir);
        let entries = match fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(&path, e)),
        };
        for e in entries {
            let e = e.map_err(|err| io_err(&path, err))?;
            let mut child = dir.to_vec();
            child.push(e.file_name());
            if self.unpacked.contains(&rel_of(&child)) {
                let is_dir = fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_dir());
                if is_dir {
                    self.clear_lower(&child)?;
                }
            } else {
                remove_any(&e.path())?;
            }
        }
        Ok(())
    }
}

/// A reader that hashes what passes through.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Apply one uncompressed tar stream onto `root`. `what` names the layer in errors.
pub fn apply(root: &Path, tar_stream: &mut dyn Read, what: &str) -> Result<Applied, Error> {
    let mut hashing = Hashing {
        inner: tar_stream,
        hasher: Sha256::new(),
    };
    let arch_err =
        |e: io::Error| Error::Archive(format!("{what}: {e} (truncated or corrupt layer?)"));
    let mut writer = LayerWriter {
        root,
        unpacked: HashSet::new(),
        stats: LayerStats::default(),
    };
    {
        let mut archive = tar::Archive::new(&mut hashing);
        for entry in archive.entries().map_err(arch_err)? {
            let mut entry = entry.map_err(arch_err)?;
            let path = entry.path().map_err(arch_err)?.into_owned();
            let base = path
                .file_name()
                .map(|b| b.to_string_lossy().into_owned())
                .unwrap_or_default();
            let ctx = |e: Error| e.context(what);
            if base.starts_with(WHITEOUT_PREFIX) {
                writer.whiteout(&path, &base).map_err(ctx)?;
                continue;
            }
            let header = entry.header();
            let kind = header.entry_type();
            let mode = header.mode().unwrap_or(0o644);
            use tar::EntryType as T;
            match kind {
                T::Regular | T::Continuous | T::GNUSparse => {
                    writer.file(&path, mode, &mut entry).map_err(ctx)?
                }
                T::Directory => writer.dir(&path, mode).map_err(ctx)?,
                T::Symlink | T::Link => {
                    let target = entry
                        .link_name()
                        .map_err(arch_err)?
                        .ok_or_else(|| {
                            Error::Archive(format!("{what}: {} has no link target", path.display()))
                        })?
                        .into_owned();
                    if kind == T::Symlink {
                        writer.symlink(&path, &target).map_err(ctx)?
                    } else {
                        writer.hardlink(&path, &target).map_err(ctx)?
                    }
                }
                _ => writer.stats.skipped += 1,
            }
        }
    }
    // The DiffID covers the whole stream, end-of-archive blocks and padding included.
    io::copy(&mut hashing, &mut io::sink()).map_err(arch_err)?;
    Ok(Applied {
        stats: writer.stats,
        diff_id: format!("sha256:{}", hex(&hashing.hasher.finalize())),
    })
}

/// Apply a layer blob (a file), decompressing by its magic number (gzip, zstd or none).
pub fn apply_file(root: &Path, blob: &Path, what: &str) -> Result<(Applied, Compression), Error> {
    let mut file = fs::File::open(blob).map_err(|e| io_err(blob, e))?;
    let mut magic = [0u8; 4];
    let mut n = 0;
    while n < magic.len() {
        match file.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(blob, e)),
        }
    }
    let compression = sniff(&magic[..n]);
    let file = fs::File::open(blob).map_err(|e| io_err(blob, e))?;
    let reader = BufReader::with_capacity(256 * 1024, file);
    let mut stream: Box<dyn Read> = match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(reader)
                .map_err(|e| Error::Archive(format!("{what}: {e}")))?,
        ),
        Compression::None => Box::new(reader),
    };
    Ok((apply(root, &mut stream, what)?, compression))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar stream with `(name, kind, data-or-link)` entries, written by the tar crate.
    fn tarball(entries: &[(&str, char, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(if *kind == 'd' { 0o755 } else { 0o644 });
            h.set_mtime(0);
            match kind {
                'f' => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(data.len() as u64);
                    b.append_data(&mut h, name, data.as_bytes()).unwrap();
                }
                'd' => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    b.append_data(&mut h, name, &[][..]).unwrap();
                }
                'l' | 'h' => {
                    h.set_entry_type(if *kind == 'l' {
                        tar::EntryType::Symlink
                    } else {
                        tar::EntryType::Link
                    });
                    h.set_size(0);
                    b.append_link(&mut h, name, data).unwrap();
                }
                _ => unreachable!(),
            }
        }
        b.into_inner().unwrap()
    }

    fn run(root: &Path, bytes: &[u8]) -> Result<Applied, Error> {
        apply(root, &mut &bytes[..], "layer")
    }

    fn exists(p: PathBuf) -> bool {
        fs::symlink_metadata(p).is_ok()
    }

    #[test]
    fn whiteouts_and_opaque_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        fs::create_dir(&root).unwrap();
        let lower = tarball(&[
            ("etc/", 'd', ""),
            ("etc/keep", 'f', "k"),
            ("etc/doomed", 'f', "d"),
            ("opt/old/", 'd', ""),
            ("opt/old/a", 'f', "a"),
            ("opt/old/sub/", 'd', ""),
            ("opt/old/sub/x", 'f', "x"),
            ("opt/py/cp39/bin/python", 'f', "py39"),
            ("opt/py/cp311/bin/python", 'f', "py311"),
            ("usr/lib/", 'd', ""),
            ("usr/lib/libz.so.1", 'f', "z"),
            ("lib", 'l', "usr/lib"),
        ]);
        let a = run(&root, &lower).unwrap();
        assert_eq!(a.stats.files, 7);
        // The DiffID is the SHA256 of the uncompressed stream.
        assert_eq!(
            a.diff_id,
            format!("sha256:{}", hex(&Sha256::digest(&lower)))
        );
        let upper = tarball(&[
            ("etc/.wh.doomed", 'f', ""),
            // An opaque dir: lower content goes, this layer's stays (also below a subdir).
            ("opt/old/", 'd', ""),
            ("opt/old/.wh..wh..opq", 'f', ""),
            ("opt/old/new", 'f', "n"),
            ("opt/old/sub/", 'd', ""),
            ("opt/old/sub/y", 'f', "y"),
            // A whole directory whited out.
            ("opt/py/.wh.cp39", 'f', ""),
            // A whiteout through the `lib` link lands in usr/lib.
            ("lib/.wh.libz.so.1", 'f', ""),
            // A whiteout of something this layer adds does not hide it.
            ("etc/fresh", 'f', "f"),
            ("etc/.wh.fresh", 'f', ""),
            // Whiteouts of things that are not there are harmless; aufs metadata is ignored.
            ("nowhere/.wh.x", 'f', ""),
            (".wh..wh.plnk/", 'd', ""),
        ]);
        let a = run(&root, &upper).unwrap();
        assert_eq!(a.stats.opaque_dirs, 1);
        assert_eq!(a.stats.whiteouts, 5);
        assert!(exists(root.join("etc/keep")));
        assert!(!exists(root.join("etc/doomed")));
        assert!(!exists(root.join("etc/.wh.doomed")));
        assert!(exists(root.join("etc/fresh")));
        assert!(!exists(root.join("opt/old/a")));
        assert!(!exists(root.join("opt/old/sub/x")));
        assert_eq!(fs::read(root.join("opt/old/new")).unwrap(), b"n");
        assert_eq!(fs::read(root.join("opt/old/sub/y")).unwrap(), b"y");
        assert!(!exists(root.join("opt/old/.wh..wh..opq")));
        assert!(!exists(root.join("opt/py/cp39")));
        assert!(exists(root.join("opt/py/cp311/bin/python")));
        assert!(!exists(root.join("usr/lib/libz.so.1")));
        assert!(exists(root.join("usr/lib")));
        assert!(!exists(root.join("nowhere")));
        assert!(!exists(root.join(".wh..wh.plnk")));
    }

    #[test]
    fn replacement_links_and_escapes() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::create_dir(&root).unwrap();
        let l1 = tarball(&[
            ("usr/lib64/ld.so", 'f', "LD"),
            // An absolute link is made relative to its directory.
            ("lib64", 'l', "/usr/lib64"),
            ("usr/bin/x", 'f', "x"),
            ("d/", 'd', ""),
            ("d/inner", 'f', "i"),
            // A link pointing out of the root: writes through it stay inside.
            ("evil", 'l', outside.to_str().unwrap()),
            ("up", 'l', "../../../../.."),
        ]);
        run(&root, &l1).unwrap();
        assert_eq!(
            fs::read_link(root.join("lib64")).unwrap(),
            Path::new("usr/lib64")
        );
        let l2 = tarball(&[
            // A file replaces a directory, a directory replaces a file, a link a file.
            ("d", 'f', "now a file"),
            ("usr/bin/x/", 'd', ""),
            ("usr/lib64/ld.so.2", 'h', "lib64/ld.so"),
            ("evil/f", 'f', "trapped"),
            ("up/g", 'f', "clamped"),
        ]);
        run(&root, &l2).unwrap();
        assert_eq!(fs::read(root.join("d")).unwrap(), b"now a file");
        assert!(root.join("usr/bin/x").is_dir());
        assert_eq!(fs::read(root.join("usr/lib64/ld.so.2")).unwrap(), b"LD");
        assert!(
            fs::read_dir(&outside).unwrap().next().is_none(),
            "wrote outside the root"
        );
        assert!(root
            .join(outside.strip_prefix("/").unwrap())
            .join("f")
            .is_file());
        assert!(root.join("g").is_file());
        assert!(!tmp.path().join("g").exists());
        // `..` members are refused, and so is a truncated stream.
        // tar::Builder refuses to write `..`: patch the name in the header bytes instead.
        let mut raw = tarball(&[("a/xx/yy/b", 'f', "x")]);
        raw[2..4].copy_from_slice(b"..");
        raw[5..7].copy_from_slice(b"..");
        let raw_name = String::from_utf8_lossy(&raw[..9]).to_string();
        assert_eq!(raw_name, "a/../../b");
        // Fix the header checksum after the edit.
        let mut h = tar::Header::new_old();
        h.as_mut_bytes().copy_from_slice(&raw[..512]);
        h.set_cksum();
        raw[..512].copy_from_slice(h.as_bytes());
        let e = run(&root, &raw).unwrap_err();
        assert!(matches!(e, Error::Unsafe(_)), "{e}");
        let whole = tarball(&[("big", 'f', &"z".repeat(5000))]);
        let e = run(&root, &whole[..2000]).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        // Hard links to missing files are errors.
        let e = run(&root, &tarball(&[("h", 'h', "no/such")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
