//! `target add | list | remove`: building sysroots into the cache and describing them.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use manywheel_policy::Arch;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cache::{write_atomic, Cache};
use crate::fetch::{self, is_verified, Mirror};
use crate::packages::{Index, Package};
use crate::progress::{human_bytes, Progress};
use crate::qemu::{self, QemuInfo};
use crate::release::{Checksum, Release};
use crate::unpack::{self, RootWriter};
use crate::{deb, version, Error};

/// The mirror used unless another is given.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// The package that every target contains.
pub const BASE_PACKAGE: &str = "python3";
/// Packages `manywheel target add` and `build` add besides [`BASE_PACKAGE`] (callers put them
/// in [`AddOptions::packages`]): the C++ runtime, which every manylinux policy lets wheels load
/// from the system (so repair never grafts it) but which Debian's python3 does not pull in.
pub const RUNTIME_PACKAGES: &[&str] = &["libstdc++6"];
/// Format version of `manifest.json`.
pub const MANIFEST_FORMAT: u32 = 1;
/// Name of the manifest at the top of each target tree.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Largest Release file accepted.
const RELEASE_LIMIT: u64 = 16 << 20;

/// A distribution release: `debian:bookworm`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    pub family: String,
    pub suite: String,
}

impl Default for Distro {
    fn default() -> Self {
        Distro {
            family: "debian".into(),
            suite: "bookworm".into(),
        }
    }
}

impl Distro {
    /// Parse `debian:SUITE`, `SUITE` or `debian` (the default suite). Only Debian is known;
    /// any suite name the mirror has is accepted (bullseye, bookworm, trixie, ...).
    pub fn parse(s: &str) -> Result<Distro, Error> {
        let s = s.trim();
        let (family, suite) = match s.split_once(':') {
            Some((f, suite)) => (f.to_string(), suite.to_string()),
            None if s == "debian" => ("debian".to_string(), Distro::default().suite),
            None => ("debian".to_string(), s.to_string()),
        };
        if family != "debian" {
            return Err(Error::Usage(format!(
                "unknown distribution '{family}' (supported: debian:bullseye, debian:bookworm, debian:trixie)"
            )));
        }
        let valid = !suite.is_empty()
            && suite
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(Error::Usage(format!("bad suite name '{suite}'")));
        }
        Ok(Distro { family, suite })
    }

    /// The target name for an architecture: `debian-bookworm-aarch64`.
    pub fn target_name(&self, arch: Arch) -> String {
        format!("{}-{}-{}", self.family, self.suite, arch.name())
    }
}

impl std::fmt::Display for Distro {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.family, self.suite)
    }
}

/// Where the qemu emulator for a foreign target comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QemuMode {
    /// Extract it from the host's qemu-user-static package of the target's suite (default).
    Download,
    /// Use `qemu-<arch>-static` / `qemu-<arch>` from PATH at run time.
    FromPath,
}

/// What to add.
#[derive(Clone, Debug)]
pub struct AddOptions {
    pub arch: Arch,
    pub distro: Distro,
    pub mirror: String,
    /// Packages installed besides python3.
    pub packages: Vec<String>,
    pub qemu: QemuMode,
    /// Rebuild even if the target exists.
    pub force: bool,
    /// Parallel downloads.
    pub jobs: usize,
}

impl AddOptions {
    pub fn new(arch: Arch) -> AddOptions {
        AddOptions {
            arch,
            distro: Distro::default(),
            mirror: DEFAULT_MIRROR.into(),
            packages: Vec::new(),
            qemu: QemuMode::Download,
            force: false,
            jobs: 4,
        }
    }
}

/// One installed package, as recorded in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRecord {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub filename: String,
    pub sha256: String,
    pub size: u64,
}

/// Facts from the Release file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseInfo {
    pub origin: Option<String>,
    pub suite: Option<String>,
    pub codename: Option<String>,
    pub version: Option<String>,
    pub date: Option<String>,
}

/// `manifest.json` of a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub name: String,
    pub distro: String,
    pub suite: String,
    pub arch: Arch,
    pub debian_arch: String,
    pub mirror: String,
    pub release: ReleaseInfo,
    /// The packages asked for (python3 and `--package`s).
    pub requested: Vec<String>,
    /// Every installed package, in unpack order.
    pub packages: Vec<PackageRecord>,
    pub glibc_version: Option<String>,
    pub python_version: Option<String>,
    /// The python3 executable (a path inside the target).
    pub python: Option<String>,
    /// PT_INTERP of the python executable (a path inside the target).
    pub interpreter: Option<String>,
    /// Sum of the sizes of the regular files.
    pub total_size: u64,
    pub file_count: u64,
    /// `sha256:` digest of the tree: paths, kinds, permissions, file contents and link targets.
    pub tree_digest: String,
    /// The emulator, for a foreign architecture (absent: native, or qemu from PATH).
    pub qemu: Option<QemuInfo>,
    pub created_unix: u64,
    /// For a target flattened from an OCI image (`target add --image`): where it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<crate::oci::ImageSource>,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Manifest, Error> {
        let path = dir.join(MANIFEST_FILE);
        let text = fs::read_to_string(&path)
            .map_err(|e| Error::Target(format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::Target(format!("{}: bad manifest: {e}", path.display())))
    }

    pub(crate) fn write(&self, dir: &Path) -> Result<(), Error> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Target(format!("manifest: {e}")))?;
        text.push('\n');
        write_atomic(&dir.join(MANIFEST_FILE), text.as_bytes())
    }
}

/// Result of [`add`].
#[derive(Clone, Debug)]
pub enum AddOutcome {
    /// The target was built (or rebuilt).
    Added(Manifest),
    /// It was already there with everything asked for (its qemu may have been fetched).
    Present(Manifest),
}

impl AddOutcome {
    pub fn manifest(&self) -> &Manifest {
        match self {
            AddOutcome::Added(m) | AddOutcome::Present(m) => m,
        }
    }
}

/// The architecture of this machine.
pub fn host_arch() -> Result<Arch, Error> {
    Arch::from_name(std::env::consts::ARCH)
        .map_err(|_| Error::Target(format!("unsupported host CPU {}", std::env::consts::ARCH)))
}

/// Whether programs of `target` run on `host` without emulation (32-bit x86 on x86-64).
pub fn runs_natively(host: Arch, target: Arch) -> bool {
    host == target || (host == Arch::X86_64 && target == Arch::I686)
}

/// Fetch and parse `dists/SUITE/InRelease` (else `Release`), caching it. When the mirror cannot
/// be reached (not: when it answers "not found"), a cached copy is used with a warning.
pub fn fetch_release(
    cache: &Cache,
    mirror: &Mirror,
    suite: &str,
    progress: &Progress,
) -> Result<Release, Error> {
    let dir = cache.index_dir(mirror.url(), suite);
    let cached = dir.join("Release");
    let mut result = Err(Error::NotFound(String::new()));
    for file in ["InRelease", "Release"] {
        result = mirror.get_bytes(&format!("dists/{suite}/{file}"), RELEASE_LIMIT);
        if !matches!(result, Err(Error::NotFound(_))) {
            break;
        }
    }
    let bytes = match result {
        Ok(bytes) => {
            write_atomic(&cached, &bytes)?;
            bytes
        }
        Err(Error::NotFound(_)) => {
            return Err(Error::NotFound(format!(
                "{}/dists/{suite}/InRelease (no such suite on this mirror?)",
                mirror.url()
            )))
        }
        Err(e) => match fs::read(&cached) {
            Ok(bytes) => {
                progress.message(&format!(
                    "warning: {e}; using the cached Release file of {suite}"
                ));
                bytes
            }
            Err(_) => return Err(e),
        },
    };
    let text = String::from_utf8_lossy(&bytes);
    Release::parse(&text).map_err(|e| e.context(&format!("dists/{suite}/InRelease")))
}

/// Download (or take from the cache) and parse `main/binary-ARCH/Packages` of a suite,
/// verified against the Release file.
pub fn load_index(
    cache: &Cache,
    mirror: &Mirror,
    release: &Release,
    suite: &str,
    debian_arch: &str,
    progress: &Progress,
) -> Result<Index, Error> {
    if !release.architectures.is_empty() && !release.architectures.iter().any(|a| a == debian_arch)
    {
        return Err(Error::Target(format!(
            "{suite} has no {debian_arch} packages (its architectures: {})",
            release.architectures.join(" ")
        )));
    }
    let (path, sum) = release.packages_index("main", debian_arch).ok_or_else(|| {
        Error::Index(format!(
            "the Release file of {suite} lists no main/binary-{debian_arch}/Packages index"
        ))
    })?;
    let local = cache
        .index_dir(mirror.url(), suite)
        .join(path.replace('/', "_"));
    if !is_verified(&local, &sum) {
        progress.message(&format!(
            "fetching {suite} {path} ({})",
            human_bytes(sum.size)
        ));
        let rel = format!("dists/{suite}/{path}");
        mirror.download(&rel, &local, &sum, &mut |n| {
            progress.status(
                &format!("  {path}: {} / {}", human_bytes(n), human_bytes(sum.size)),
                false,
            )
        })?;
        progress.clear();
    }
    let file = fs::File::open(&local).map_err(|e| unpack::io_err(&local, e))?;
    let mut reader: Box<dyn Read> = if path.ends_with(".xz") {
        Box::new(liblzma::read::XzDecoder::new_multi_decoder(file))
    } else if path.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .map_err(|e| Error::Index(format!("{path}: {e}")))?;
    Index::parse(&text).map_err(|e| e.context(&path))
}

/// The cache file of a package.
pub fn deb_path(cache: &Cache, p: &Package) -> PathBuf {
    let base = p.filename.rsplit('/').next().unwrap_or(&p.filename);
    cache.debs_dir().join(base)
}

fn checksum_of(p: &Package) -> Checksum {
    Checksum {
        sha256: p.sha256.clone(),
        size: p.size,
    }
}

/// Make sure every package is in the cache, verified; downloads run `jobs` at a time.
pub fn fetch_debs(
    cache: &Cache,
    mirror: &Mirror,
    packages: &[&Package],
    jobs: usize,
    progress: &Progress,
) -> Result<Vec<PathBuf>, Error> {
    let items: Vec<fetch::FetchItem> = packages
        .iter()
        .map(|p| fetch::FetchItem {
            path: deb_path(cache, p),
            sum: checksum_of(p),
            name: p.name.clone(),
            done: format!("{} {} ({})", p.name, p.version, human_bytes(p.size)),
            context: Some(p.name.clone()),
        })
        .collect();
    fetch::fetch_all("packages", &items, jobs, progress, |i, item, on_bytes| {
        mirror.download(&packages[i].filename, &item.path, &item.sum, on_bytes)
    })?;
    let paths = items.into_iter().map(|item| item.path).collect();
    Ok(paths)
}

/// Build (or find) the target described by `opts`.
pub fn add(cache: &Cache, opts: &AddOptions, progress: &Progress) -> Result<AddOutcome, Error> {
    let name = opts.distro.target_name(opts.arch);
    let _lock = cache.lock(&name, || {
        progress.message(&format!("waiting for another process adding {name}"))
    })?;
    let host = host_arch()?;
    let native = runs_natively(host, opts.arch);
    let dir = cache.target_dir(&name);
    let mut requested: Vec<String> = vec![BASE_PACKAGE.to_string()];
    for p in &opts.packages {
        if !requested.contains(p) {
            requested.push(p.clone());
        }
    }
    let existing = if dir.exists() {
        Manifest::read(&dir).ok()
    } else {
        None
    };
    if let (Some(mut manifest), false) = (existing.clone(), opts.force) {
        let have: BTreeSet<&str> = manifest
            .requested
            .iter()
            .map(String::as_str)
            .chain(manifest.packages.iter().map(|p| p.name.as_str()))
            .collect();
        if requested.iter().all(|r| have.contains(r.as_str())) {
            let needs_qemu = !native
                && opts.qemu == QemuMode::Download
                && !manifest
                    .qemu
                    .as_ref()
                    .is_some_and(|q| cache.root().join(&q.file).is_file());
            if needs_qemu {
                let mirror = Mirror::new(&manifest.mirror)?;
                let release = fetch_release(cache, &mirror, &opts.distro.suite, progress)?;
                manifest.qemu = Some(qemu::ensure(
                    cache,
                    &mirror,
                    &release,
                    &opts.distro,
                    host,
                    opts.arch,
                    progress,
                )?);
                manifest.write(&dir)?;
            }
            return Ok(AddOutcome::Present(manifest));
        }
        // Keep what was asked for before.
        for r in manifest.requested {
            if !requested.contains(&r) {
                requested.push(r);
            }
        }
    }
    clean_stale_tmp(cache, &name);
    let started = Instant::now();
    let mirror = Mirror::new(&opts.mirror)?;
    let suite = &opts.distro.suite;
    let debian_arch = opts.arch.debian_name();
    progress.message(&format!(
        "adding {name} from {} ({debian_arch})",
        mirror.url()
    ));
    let release = fetch_release(cache, &mirror, suite, progress)?;
    let index = load_index(cache, &mirror, &release, suite, debian_arch, progress)?;
    let chosen = index.resolve(&requested, debian_arch)?;
    let deb_bytes: u64 = chosen.iter().map(|p| p.size).sum();
    progress.message(&format!(
        "{} packages ({}) for {}",
        chosen.len(),
        human_bytes(deb_bytes),
        requested.join(" ")
    ));
    let debs = fetch_debs(cache, &mirror, &chosen, opts.jobs, progress)?;

    let tmp_parent = cache.tmp_dir();
    fs::create_dir_all(&tmp_parent).map_err(|e| unpack::io_err(&tmp_parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{name}."))
        .tempdir_in(&tmp_parent)
        .map_err(|e| unpack::io_err(&tmp_parent, e))?;
    let root = tmp.path().join("root");
    let mut writer = RootWriter::new(&root)?;
    for (i, (p, path)) in chosen.iter().zip(&debs).enumerate() {
        progress.status(
            &format!("  unpacking [{}/{}] {}", i + 1, chosen.len(), p.name),
            true,
        );
        deb::unpack(path, &mut writer)?;
    }
    writer.finish()?;
    progress.clear();
    // An empty cache file: under qemu -L the guest's ld.so then ignores the host's cache.
    let ld_cache = root.join("etc/ld.so.cache");
    if fs::symlink_metadata(&ld_cache).is_err() {
        fs::create_dir_all(root.join("etc")).map_err(|e| unpack::io_err(&root, e))?;
        fs::write(&ld_cache, b"").map_err(|e| unpack::io_err(&ld_cache, e))?;
    }
    let (python, interpreter) = inspect_python(&root, opts.arch)?;
    let digest = tree_digest(&root)?;

    let qemu_info = if !native && opts.qemu == QemuMode::Download {
        Some(qemu::ensure(
            cache,
            &mirror,
            &release,
            &opts.distro,
            host,
            opts.arch,
            progress,
        )?)
    } else {
        None
    };
    let version_of = |n: &str| {
        chosen
            .iter()
            .find(|p| p.name == n)
            .map(|p| version::upstream(&p.version).to_string())
    };
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        name: name.clone(),
        distro: opts.distro.family.clone(),
        suite: suite.clone(),
        arch: opts.arch,
        debian_arch: debian_arch.to_string(),
        mirror: mirror.url().to_string(),
        release: ReleaseInfo {
            origin: release.origin.clone(),
            suite: release.suite.clone(),
            codename: release.codename.clone(),
            version: release.version.clone(),
            date: release.date.clone(),
        },
        requested: requested.clone(),
        packages: chosen
            .iter()
            .map(|p| PackageRecord {
                name: p.name.clone(),
                version: p.version.clone(),
                architecture: p.architecture.clone(),
                filename: p.filename.clone(),
                sha256: p.sha256.clone(),
                size: p.size,
            })
            .collect(),
        glibc_version: version_of("libc6"),
        python_version: version_of(BASE_PACKAGE),
        python: Some(python),
        interpreter,
        total_size: digest.total_size,
        file_count: digest.files,
        tree_digest: digest.digest,
        qemu: qemu_info,
        created_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        image: None,
    };
    manifest.write(&root)?;
    publish(cache, &root, &dir, &name)?;
    drop(tmp);
    progress.message(&format!(
        "added {name}: python {}, glibc {}, {} in {} files, {:.1} s",
        manifest.python_version.as_deref().unwrap_or("?"),
        manifest.glibc_version.as_deref().unwrap_or("?"),
        human_bytes(manifest.total_size),
        manifest.file_count,
        started.elapsed().as_secs_f64()
    ));
    Ok(AddOutcome::Added(manifest))
}

/// Move a finished tree to its place; an older tree of the same name is replaced.
pub(crate) fn publish(cache: &Cache, root: &Path, dir: &Path, name: &str) -> Result<(), Error> {
    let targets = cache.targets_dir();
    fs::create_dir_all(&targets).map_err(|e| unpack::io_err(&targets, e))?;
    let mut old = None;
    if fs::symlink_metadata(dir).is_ok() {
        let trash = cache
            .tmp_dir()
            .join(format!("{name}.old-{}", std::process::id()));
        fs::rename(dir, &trash).map_err(|e| unpack::io_err(dir, e))?;
        old = Some(trash);
    }
    fs::rename(root, dir).map_err(|e| unpack::io_err(dir, e))?;
    if let Some(trash) = old {
        let _ = fs::remove_dir_all(trash);
    }
    Ok(())
}

/// Remove leftovers of interrupted runs for this target (the caller holds its lock).
pub(crate) fn clean_stale_tmp(cache: &Cache, name: &str) {
    let prefix = format!("{name}.");
    if let Ok(entries) = fs::read_dir(cache.tmp_dir()) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Find `/usr/bin/python3` in a fresh tree: its real path and its ELF interpreter, checking
/// that it is an executable of the target architecture.
fn inspect_python(root: &Path, arch: Arch) -> Result<(String, Option<String>), Error> {
    let host_path = unpack::resolve_path(root, Path::new("/usr/bin/python3"))
        .map_err(|e| Error::Target(format!("no usr/bin/python3 in the target: {e}")))?;
    let inside = format!(
        "/{}",
        host_path.strip_prefix(root).unwrap_or(&host_path).display()
    );
    let bytes = fs::read(&host_path).map_err(|e| unpack::io_err(&host_path, e))?;
    let elf = manywheel_elf::parse(&bytes)
        .map_err(|e| Error::Target(format!("{inside}: not a valid ELF file: {e}")))?;
    let h = &elf.header;
    let found = Arch::from_elf(
        h.machine,
        h.class == manywheel_elf::Class::Elf64,
        h.endian == manywheel_elf::Endian::Little,
        h.flags,
    );
    if found != Some(arch) {
        return Err(Error::Target(format!(
            "{inside} is not an {arch} executable (e_machine {})",
            h.machine
        )));
    }
    if let Some(interp) = &elf.interpreter {
        unpack::resolve_path(root, Path::new(interp)).map_err(|e| {
            Error::Target(format!("the loader {interp} of {inside} is missing: {e}"))
        })?;
    }
    Ok((inside, elf.interpreter.clone()))
}

/// Digest, size and file count of a tree.
pub struct TreeDigest {
    pub digest: String,
    pub total_size: u64,
    pub files: u64,
}

/// Hash a tree deterministically: for each entry in path order, its kind, permission bits,
/// path, and the SHA256 of its content (files) or its target (symlinks). The top-level
/// `manifest.json` is left out.
pub fn tree_digest(root: &Path) -> Result<TreeDigest, Error> {
    let mut hasher = Sha256::new();
    let mut total_size = 0u64;
    let mut files = 0u64;
    let mut stack: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let mut entries: Vec<(OsString, fs::Metadata)> = fs::read_dir(&dir)
            .map_err(|e| unpack::io_err(&dir, e))?
            .map(|e| {
                let e = e.map_err(|err| unpack::io_err(&dir, err))?;
                let meta = e.metadata().map_err(|err| unpack::io_err(&e.path(), err))?;
                Ok((e.file_name(), meta))
            })
            .collect::<Result<_, Error>>()?;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        // Visit subdirectories in order: push them in reverse.
        let mut subdirs = Vec::new();
        for (name, meta) in entries {
            let child_rel = format!("{rel}/{}", name.to_string_lossy());
            if rel.is_empty() && name == MANIFEST_FILE {
                continue;
            }
            let path = dir.join(&name);
            let mode = meta.mode() & 0o7777;
            let ft = meta.file_type();
            let line = if ft.is_symlink() {
                let target = fs::read_link(&path).map_err(|e| unpack::io_err(&path, e))?;
                format!("l {child_rel}\0{}\n", target.display())
            } else if ft.is_dir() {
                subdirs.push((path, child_rel.clone()));
                format!("d {mode:o} {child_rel}\n")
            } else if ft.is_file() {
                let sum = fetch::file_checksum(&path).map_err(|e| unpack::io_err(&path, e))?;
                total_size += sum.size;
                files += 1;
                format!("f {mode:o} {child_rel}\0{}\n", sum.sha256)
            } else {
                format!("o {child_rel}\n")
            };
            hasher.update(line.as_bytes());
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(TreeDigest {
        digest: format!("sha256:{}", fetch::hex(&hasher.finalize())),
        total_size,
        files,
    })
}

/// Disk usage of a tree (allocated blocks; hard links counted once).
pub fn disk_usage(root: &Path) -> u64 {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
                continue;
            }
            total += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
    total
}

/// One line of `target list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub name: String,
    pub arch: Arch,
    pub distro: String,
    pub suite: String,
    pub glibc_version: Option<String>,
    pub python_version: Option<String>,
    pub packages: usize,
    pub size_on_disk: u64,
    /// `native`, `cached`, `missing` or `path` (no cached emulator; one from PATH is needed).
    pub qemu: String,
    pub path: PathBuf,
    /// The image reference and digest of a target made with `--image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// The targets in the cache, by name.
pub fn list(cache: &Cache) -> Result<Vec<TargetInfo>, Error> {
    let dir = cache.targets_dir();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(unpack::io_err(&dir, e)),
    };
    let host = host_arch()?;
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        let Ok(m) = Manifest::read(&path) else {
            continue;
        };
        let qemu = if runs_natively(host, m.arch) {
            "native"
        } else {
            match &m.qemu {
                Some(q) if cache.root().join(&q.file).is_file() => "cached",
                Some(_) => "missing",
                None => "path",
            }
        };
        out.push(TargetInfo {
            name: m.name.clone(),
            arch: m.arch,
            distro: m.distro.clone(),
            suite: m.suite.clone(),
            glibc_version: m.glibc_version.clone(),
            python_version: m.python_version.clone(),
            packages: m.packages.len(),
            size_on_disk: disk_usage(&path),
            qemu: qemu.to_string(),
            path,
            image: m
                .image
                .as_ref()
                .map(|i| format!("{}@{}", i.reference, i.digest)),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Delete a target (under its lock; the tree disappears from `targets/` at once).
pub fn remove(cache: &Cache, name: &str) -> Result<(), Error> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(Error::Usage(format!("bad target name '{name}'")));
    }
    let _lock = cache.lock(name, || {})?;
    let dir = cache.target_dir(name);
    if fs::symlink_metadata(&dir).is_err() {
        return Err(Error::Target(format!("no target named {name}")));
    }
    let tmp = cache.tmp_dir();
    fs::create_dir_all(&tmp).map_err(|e| unpack::io_err(&tmp, e))?;
    let trash = tmp.join(format!("{name}.removing-{}", std::process::id()));
    fs::rename(&dir, &trash).map_err(|e| unpack::io_err(&dir, e))?;
    fs::remove_dir_all(&trash).map_err(|e| unpack::io_err(&trash, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distro_names() {
        assert_eq!(Distro::parse("debian:trixie").unwrap().suite, "trixie");
        assert_eq!(Distro::parse("bullseye").unwrap().suite, "bullseye");
        assert_eq!(Distro::parse("debian").unwrap(), Distro::default());
        assert!(Distro::parse("ubuntu:jammy").is_err());
        assert!(Distro::parse("debian:../x").is_err());
        assert_eq!(
            Distro::default().target_name(Arch::Ppc64le),
            "debian-bookworm-ppc64le"
        );
    }

    #[test]
    fn native_pairs() {
        assert!(runs_natively(Arch::X86_64, Arch::I686));
        assert!(runs_natively(Arch::Aarch64, Arch::Aarch64));
        assert!(!runs_natively(Arch::X86_64, Arch::Aarch64));
        assert!(!runs_natively(Arch::I686, Arch::X86_64));
    }

    #[test]
    fn digest_changes_with_content_and_ignores_manifest() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        fs::create_dir_all(r.join("usr/bin")).unwrap();
        fs::write(r.join("usr/bin/a"), b"1").unwrap();
        std::os::unix::fs::symlink("a", r.join("usr/bin/b")).unwrap();
        let d1 = tree_digest(r).unwrap();
        assert_eq!((d1.files, d1.total_size), (1, 1));
        fs::write(r.join(MANIFEST_FILE), b"{}").unwrap();
        assert_eq!(tree_digest(r).unwrap().digest, d1.digest);
        fs::write(r.join("usr/bin/a"), b"2").unwrap();
        assert_ne!(tree_digest(r).unwrap().digest, d1.digest);
    }
}
