//! The second target provider: a sysroot flattened from an OCI / Docker image pulled with the
//! registry HTTP API v2, e.g. the pypa manylinux images (`quay.io/pypa/manylinux2014_aarch64`,
//! CentOS 7 with glibc 2.17; `manylinux_2_28_*`, AlmaLinux 8 with glibc 2.28) — the real
//! manylinux baseline without a container engine.
//!
//! `target add ARCH --image REF` in short: parse REF ([`reference`]); fetch its manifest
//! (anonymous Bearer token when the registry asks, [`auth`]); from a manifest list / image
//! index take the `linux/<GOARCH>` entry; download the configuration and check its
//! `architecture`; download the layers (verified by size and SHA256, cached by digest in
//! `blobs/sha256/` and shared between targets); apply them in order with whiteouts into a
//! temporary directory of the cache ([`layer`], checking each layer's DiffID); confirm the
//! architecture from an ELF file of the tree (the dynamic loader); find its CPythons
//! (`/opt/python/cp3XY-cp3XY/bin/python`) and glibc version ([`inspect`]); write
//! `manifest.json` (with the image reference, digests and environment) and rename the tree
//! into `targets/NAME/`, all under the target's lock — the same layout, locking and
//! `target list | remove`, `run` as the Debian targets. qemu for foreign architectures comes
//! from the Debian mirror as for those.

pub mod auth;
pub mod inspect;
pub mod layer;
pub mod manifest;
pub mod reference;
pub mod registry;

use std::fs;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use manywheel_policy::Arch;
use serde::{Deserialize, Serialize};

use crate::cache::Cache;
use crate::fetch::{self, Mirror};
use crate::progress::{human_bytes, Progress};
use crate::qemu::{self, QemuInfo};
use crate::release::Checksum;
use crate::sysroot::{self, AddOutcome, Distro, Manifest, QemuMode, ReleaseInfo, MANIFEST_FORMAT};
use crate::unpack;
use crate::Error;

pub use inspect::PythonRecord;
pub use reference::ImageRef;

use manifest::{Descriptor, Document, ImageConfig};
use registry::{short_digest, Registry};

/// The `distro` of an image target's manifest.
pub const IMAGE_DISTRO: &str = "oci";

/// What to add.
#[derive(Clone, Debug)]
pub struct ImageOptions {
    pub arch: Arch,
    /// The image reference as the user wrote it.
    pub image: String,
    /// Target name (default: from the image, see [`default_name`]).
    pub name: Option<String>,
    /// Which CPython `python3` means (`3.11`, `cp311`, `3.13t`, or a path inside the image).
    pub python: Option<String>,
    /// Allow plain http to a registry that is not on this machine.
    pub insecure: bool,
    pub force: bool,
    /// Parallel layer downloads.
    pub jobs: usize,
    pub qemu: QemuMode,
    /// Where qemu comes from for foreign architectures (a Debian mirror and release).
    pub mirror: String,
    pub qemu_distro: Distro,
}

impl ImageOptions {
    pub fn new(arch: Arch, image: &str) -> ImageOptions {
        ImageOptions {
            arch,
            image: image.to_string(),
            name: None,
            python: None,
            insecure: false,
            force: false,
            jobs: 4,
            qemu: QemuMode::Download,
            mirror: sysroot::DEFAULT_MIRROR.to_string(),
            qemu_distro: Distro::default(),
        }
    }
}

/// One layer, as recorded in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    /// `sha256:` of the uncompressed tar (checked against the configuration's `diff_ids`).
    pub diff_id: String,
}

/// Where an image target came from (`manifest.json` → `image`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSource {
    /// Normalized reference: `quay.io/pypa/manylinux2014_aarch64:latest`.
    pub reference: String,
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    /// Digest of the image manifest for this platform.
    pub digest: String,
    /// Digest of the manifest list / image index it was chosen from, if any.
    pub index_digest: Option<String>,
    pub media_type: String,
    /// `linux/arm64/v8`
    pub platform: String,
    pub config_digest: String,
    pub layers: Vec<LayerRecord>,
    /// The image's environment (`Env` of its configuration), not applied by `run`.
    pub env: Vec<String>,
    pub created: Option<String>,
    /// `PRETTY_NAME` of the image's `/etc/os-release`.
    pub os_release: Option<String>,
    /// The ELF file whose header confirmed the architecture.
    pub arch_checked_with: String,
    /// Every CPython found; `python` in the manifest is the chosen one.
    pub pythons: Vec<PythonRecord>,
}

/// The default target name: `<last repository component>-<tag>[-<arch>]` (the arch is left
/// out when the component already ends with it, as in `manylinux2014_aarch64`); a digest
/// reference uses `sha256-<12 hex>` for the tag. `debian-…` names belong to the Debian
/// provider, so Docker Hub's `debian` image becomes `oci-debian-…`.
pub fn default_name(r: &ImageRef, arch: Arch) -> String {
    let short = r.short_name();
    let version = match (&r.tag, &r.digest) {
        (Some(t), _) => t.clone(),
        (None, Some(d)) => short_digest(d).replace(':', "-"),
        (None, None) => reference::DEFAULT_TAG.to_string(),
    };
    let a = arch.name();
    let has_arch = short.ends_with(&format!("_{a}")) || short.ends_with(&format!("-{a}"));
    let mut name = if has_arch {
        format!("{short}-{version}")
    } else {
        format!("{short}-{version}-{a}")
    };
    if name.starts_with("debian-") {
        name = format!("oci-{name}");
    }
    name
}

fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "bad target name '{name}' (letters, digits, '.', '_', '-', '+')"
        )))
    }
}

/// The cache file of a blob (`blobs/sha256/<hex>`).
pub fn blob_path(cache: &Cache, digest: &str) -> Result<PathBuf, Error> {
    let d = reference::parse_digest(digest).map_err(Error::Archive)?;
    let hex = &d["sha256:".len()..];
    Ok(cache.blobs_dir().join("sha256").join(hex))
}

fn checksum_of(d: &Descriptor) -> Result<Checksum, Error> {
    let digest = reference::parse_digest(&d.digest).map_err(Error::Archive)?;
    Ok(Checksum {
        sha256: digest["sha256:".len()..].to_string(),
        size: d.size,
    })
}

/// Make sure every blob is in the cache, verified; downloads run `jobs` at a time.
fn fetch_blobs(
    cache: &Cache,
    reg: &Registry,
    blobs: &[&Descriptor],
    jobs: usize,
    progress: &Progress,
    label: &str,
) -> Result<Vec<PathBuf>, Error> {
    let items: Vec<fetch::FetchItem> = blobs
        .iter()
        .map(|d| {
            Ok(fetch::FetchItem {
                path: blob_path(cache, &d.digest)?,
                sum: checksum_of(d)?,
                name: String::new(),
                done: format!("{} ({})", short_digest(&d.digest), human_bytes(d.size)),
                context: None,
            })
        })
        .collect::<Result<_, Error>>()?;
    fetch::fetch_all(label, &items, jobs, progress, |i, item, on_bytes| {
        reg.download_blob(&blobs[i].digest, blobs[i].size, &item.path, on_bytes)
    })?;
    let paths = items.into_iter().map(|item| item.path).collect();
    Ok(paths)
}

/// The image manifest for one architecture and where it came from.
struct Resolved {
    manifest: manifest::ImageManifest,
    digest: String,
    media_type: String,
    index_digest: Option<String>,
    platform: Option<String>,
}

/// Resolve the reference to this architecture's image manifest.
fn resolve_manifest(
    reg: &Registry,
    image: &ImageRef,
    arch: Arch,
    progress: &Progress,
) -> Result<Resolved, Error> {
    let what = image.to_string();
    let pinned = image.digest.as_deref().map(|d| (d, None));
    let top = reg.manifest(image.manifest_reference(), pinned)?;
    let doc = manifest::parse_document(&top.bytes, top.content_type.as_deref(), &what)?;
    let media = |bytes: &[u8], ct: Option<&str>| {
        serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| {
                v.get("mediaType")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .or_else(|| ct.map(|c| c.split(';').next().unwrap_or("").trim().to_string()))
            .unwrap_or_else(|| manifest::OCI_MANIFEST.to_string())
    };
    match doc {
        Document::Image(m) => {
            let mt = media(&top.bytes, top.content_type.as_deref());
            Ok(Resolved {
                manifest: m,
                digest: top.digest,
                media_type: mt,
                index_digest: None,
                platform: None,
            })
        }
        Document::Index(index) => {
            let chosen = manifest::select_platform(&index, arch, &what)?;
            let label = chosen.platform.as_ref().map(|p| p.label());
            progress.message(&format!(
                "{what}: {} from a list of {}",
                label.as_deref().unwrap_or("?"),
                index.manifests.len()
            ));
            let digest = reference::parse_digest(&chosen.digest)
                .map_err(|e| Error::Archive(format!("{what}: {e}")))?;
            let sub = reg.manifest(&digest, Some((&digest, Some(chosen.size))))?;
            match manifest::parse_document(&sub.bytes, sub.content_type.as_deref(), &digest)? {
                Document::Image(m) => {
                    let mt = media(&sub.bytes, sub.content_type.as_deref());
                    Ok(Resolved {
                        manifest: m,
                        digest: sub.digest,
                        media_type: mt,
                        index_digest: Some(top.digest),
                        platform: label,
                    })
                }
                Document::Index(_) => Err(Error::Archive(format!(
                    "{what}: nested image indexes are not supported"
                ))),
            }
        }
    }
}

/// `PRETTY_NAME` from `/etc/os-release` (or `/usr/lib/os-release`).
fn os_release(root: &std::path::Path) -> Option<String> {
    for p in ["/etc/os-release", "/usr/lib/os-release"] {
        let Ok(path) = unpack::resolve_path(root, std::path::Path::new(p)) else {
            continue;
        };
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("PRETTY_NAME=") {
                return Some(v.trim().trim_matches('"').to_string());
            }
        }
    }
    None
}

fn ensure_qemu(
    cache: &Cache,
    opts: &ImageOptions,
    host: Arch,
    progress: &Progress,
) -> Result<QemuInfo, Error> {
    let mirror = Mirror::new(&opts.mirror)?;
    let release = sysroot::fetch_release(cache, &mirror, &opts.qemu_distro.suite, progress)?;
    qemu::ensure(
        cache,
        &mirror,
        &release,
        &opts.qemu_distro,
        host,
        opts.arch,
        progress,
    )
}

fn apply_python_choice(
    manifest: &mut Manifest,
    chosen: Option<&PythonRecord>,
    root: &std::path::Path,
) {
    manifest.python = chosen.map(|p| p.path.clone());
    manifest.python_version =
        chosen.map(|p| p.full_version.clone().unwrap_or_else(|| p.version.clone()));
    manifest.interpreter = chosen.and_then(|p| {
        let path = unpack::resolve_path(root, std::path::Path::new(&p.path)).ok()?;
        let bytes = fs::read(path).ok()?;
        manywheel_elf::parse(&bytes).ok()?.interpreter
    });
}

/// Pull `opts.image` for `opts.arch` and flatten it into a target of the cache (or find it
/// there). A failure leaves no target and no partial tree behind.
pub fn add_image(
    cache: &Cache,
    opts: &ImageOptions,
    progress: &Progress,
) -> Result<AddOutcome, Error> {
    let image = ImageRef::parse(&opts.image)?;
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => default_name(&image, opts.arch),
    };
    check_name(&name)?;
    let _lock = cache.lock(&name, || {
        progress.message(&format!("waiting for another process adding {name}"))
    })?;
    let host = sysroot::host_arch()?;
    let native = sysroot::runs_natively(host, opts.arch);
    let dir = cache.target_dir(&name);
    let reference = image.to_string();
    let existing = if dir.exists() {
        Manifest::read(&dir).ok()
    } else {
        None
    };
    if let Some(mut m) = existing {
        let same =
            m.image.as_ref().is_some_and(|s| s.reference == reference) && m.arch == opts.arch;
        if !same && !opts.force {
            let from = match &m.image {
                Some(s) => s.reference.clone(),
                None => format!("{}:{}", m.distro, m.suite),
            };
            return Err(Error::Usage(format!(
                "target {name} exists and was made from {from} for {}; choose another --name, or --force to replace it",
                m.arch
            )));
        }
        if same && !opts.force {
            let mut changed = false;
            if let Some(want) = &opts.python {
                let pythons = m
                    .image
                    .as_ref()
                    .map(|s| s.pythons.clone())
                    .unwrap_or_default();
                let chosen = inspect::choose_python(&pythons, Some(want))?;
                if m.python.as_deref() != chosen.map(|p| p.path.as_str()) {
                    apply_python_choice(&mut m, chosen, &dir);
                    changed = true;
                }
            }
            let needs_qemu = !native
                && opts.qemu == QemuMode::Download
                && !m
                    .qemu
                    .as_ref()
                    .is_some_and(|q| cache.root().join(&q.file).is_file());
            if needs_qemu {
                m.qemu = Some(ensure_qemu(cache, opts, host, progress)?);
                changed = true;
            }
            if changed {
                m.write(&dir)?;
            }
            return Ok(AddOutcome::Present(m));
        }
    }
    sysroot::clean_stale_tmp(cache, &name);
    let started = Instant::now();
    let reg = Registry::new(&image, opts.insecure)?;
    progress.message(&format!("adding {name} from {reference} ({})", reg.base()));
    let Resolved {
        manifest: im,
        digest,
        media_type,
        index_digest,
        platform,
    } = resolve_manifest(&reg, &image, opts.arch, progress)?;
    // The configuration: what the image says it is.
    let cfg_desc = &im.config;
    if !matches!(
        cfg_desc.media_type.as_str(),
        manifest::OCI_CONFIG | manifest::DOCKER_CONFIG | ""
    ) {
        return Err(Error::Target(format!(
            "{reference} is not a container image (its config is {})",
            cfg_desc.media_type
        )));
    }
    if cfg_desc.size > manifest::DOCUMENT_LIMIT {
        return Err(Error::Archive(format!(
            "{reference}: image configuration of {} bytes is too large",
            cfg_desc.size
        )));
    }
    let cfg_path = fetch_blobs(cache, &reg, &[cfg_desc], 1, progress, "config blob")?.remove(0);
    let cfg_bytes = fs::read(&cfg_path).map_err(|e| unpack::io_err(&cfg_path, e))?;
    let config: ImageConfig = serde_json::from_slice(&cfg_bytes)
        .map_err(|e| Error::Archive(format!("{reference}: bad image configuration: {e}")))?;
    let (goarch, _) = manifest::go_platform(opts.arch);
    if manifest::platform_fit(
        opts.arch,
        &config.os,
        &config.architecture,
        config.variant.as_deref(),
    )
    .is_none()
    {
        return Err(Error::Target(format!(
            "{reference} is a {} image, not {} ({})",
            manifest::platform_label(&config.os, &config.architecture, config.variant.as_deref()),
            manifest::platform_label("linux", goarch, manifest::go_platform(opts.arch).1),
            opts.arch
        )));
    }
    let platform = platform.unwrap_or_else(|| {
        manifest::platform_label(&config.os, &config.architecture, config.variant.as_deref())
    });
    let diff_ids = config
        .rootfs
        .as_ref()
        .map(|r| r.diff_ids.clone())
        .unwrap_or_default();
    if !diff_ids.is_empty() && diff_ids.len() != im.layers.len() {
        return Err(Error::Archive(format!(
            "{reference}: the manifest has {} layers but the configuration {} diff_ids",
            im.layers.len(),
            diff_ids.len()
        )));
    }
    for l in &im.layers {
        manifest::layer_compression(&l.media_type).map_err(|e| {
            Error::Archive(format!(
                "{reference}: layer {}: {e}",
                short_digest(&l.digest)
            ))
        })?;
    }
    let layer_refs: Vec<&Descriptor> = im.layers.iter().collect();
    let layer_bytes: u64 = im.layers.iter().map(|l| l.size).sum();
    progress.message(&format!(
        "{reference}: {platform}, {} layers ({})",
        im.layers.len(),
        human_bytes(layer_bytes)
    ));
    let blobs = fetch_blobs(cache, &reg, &layer_refs, opts.jobs, progress, "layers")?;

    let tmp_parent = cache.tmp_dir();
    fs::create_dir_all(&tmp_parent).map_err(|e| unpack::io_err(&tmp_parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{name}."))
        .tempdir_in(&tmp_parent)
        .map_err(|e| unpack::io_err(&tmp_parent, e))?;
    let root = tmp.path().join("root");
    fs::create_dir(&root).map_err(|e| unpack::io_err(&root, e))?;
    let mut layers = Vec::new();
    for (i, (l, path)) in im.layers.iter().zip(&blobs).enumerate() {
        progress.status(
            &format!(
                "  applying layer [{}/{}] {}",
                i + 1,
                im.layers.len(),
                short_digest(&l.digest)
            ),
            true,
        );
        let what = format!("layer {}", short_digest(&l.digest));
        let (applied, _) = layer::apply_file(&root, path, &what)?;
        if let Some(want) = diff_ids.get(i) {
            if *want != applied.diff_id {
                return Err(Error::Verify(format!(
                    "{what}: uncompressed digest mismatch: the configuration says {want}, got {}",
                    applied.diff_id
                )));
            }
        }
        layers.push(LayerRecord {
            digest: l.digest.clone(),
            size: l.size,
            media_type: l.media_type.clone(),
            diff_id: applied.diff_id,
        });
    }
    progress.clear();
    // An empty cache file when the image has none: the guest's ld.so then ignores the host's.
    let ld_cache = root.join("etc/ld.so.cache");
    if fs::symlink_metadata(&ld_cache).is_err() {
        if let Ok(etc) = unpack::resolve_in(&root, &[std::ffi::OsString::from("etc")], true) {
            let mut p = root.clone();
            p.extend(etc);
            let p = p.join("ld.so.cache");
            if fs::symlink_metadata(&p).is_err() {
                fs::write(&p, b"").map_err(|e| unpack::io_err(&p, e))?;
            }
        }
    }
    let pythons = inspect::find_pythons(&root, opts.arch);
    let chosen = inspect::choose_python(&pythons, opts.python.as_deref())?;
    let extra: Vec<String> = chosen.iter().map(|p| p.path.clone()).collect();
    let checked = inspect::check_tree_arch(&root, opts.arch, &extra)?;
    if chosen.is_none() {
        progress.message(&format!(
            "warning: no CPython in {reference} (looked in /opt/python, /usr/local/bin, /usr/bin); `run python3` will not work"
        ));
    }
    let glibc = inspect::glibc_version(&root, opts.arch);
    let digest_tree = sysroot::tree_digest(&root)?;
    let qemu_info = if !native && opts.qemu == QemuMode::Download {
        Some(ensure_qemu(cache, opts, host, progress)?)
    } else {
        None
    };
    let mut m = Manifest {
        format: MANIFEST_FORMAT,
        name: name.clone(),
        distro: IMAGE_DISTRO.to_string(),
        suite: image
            .tag
            .clone()
            .unwrap_or_else(|| short_digest(&digest).to_string()),
        arch: opts.arch,
        debian_arch: opts.arch.debian_name().to_string(),
        mirror: reg.base().to_string(),
        release: ReleaseInfo::default(),
        requested: Vec::new(),
        packages: Vec::new(),
        glibc_version: glibc,
        python_version: None,
        python: None,
        interpreter: None,
        total_size: digest_tree.total_size,
        file_count: digest_tree.files,
        tree_digest: digest_tree.digest,
        qemu: qemu_info,
        created_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        image: Some(ImageSource {
            reference: reference.clone(),
            registry: image.registry.clone(),
            repository: image.repository.clone(),
            tag: image.tag.clone(),
            digest,
            index_digest,
            media_type,
            platform,
            config_digest: cfg_desc.digest.clone(),
            layers,
            env: config.config.and_then(|c| c.env).unwrap_or_default(),
            created: config.created,
            os_release: os_release(&root),
            arch_checked_with: checked,
            pythons: pythons.clone(),
        }),
    };
    apply_python_choice(&mut m, chosen, &root);
    m.write(&root)?;
    sysroot::publish(cache, &root, &dir, &name)?;
    drop(tmp);
    progress.message(&format!(
        "added {name}: python {}, glibc {}, {} in {} files, {:.1} s",
        m.python_version.as_deref().unwrap_or("none"),
        m.glibc_version.as_deref().unwrap_or("?"),
        human_bytes(m.total_size),
        m.file_count,
        started.elapsed().as_secs_f64()
    ));
    Ok(AddOutcome::Added(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names() {
        let r = |s: &str| ImageRef::parse(s).unwrap();
        assert_eq!(
            default_name(&r("quay.io/pypa/manylinux2014_aarch64"), Arch::Aarch64),
            "manylinux2014_aarch64-latest"
        );
        assert_eq!(
            default_name(
                &r("quay.io/pypa/manylinux_2_28_x86_64:2024.11.16-1"),
                Arch::X86_64
            ),
            "manylinux_2_28_x86_64-2024.11.16-1"
        );
        assert_eq!(
            default_name(&r("debian:bookworm"), Arch::S390x),
            "oci-debian-bookworm-s390x"
        );
        assert_eq!(
            default_name(&r("127.0.0.1:5000/t/multi:v1"), Arch::Aarch64),
            "multi-v1-aarch64"
        );
        let hex = "0123456789abcdef".repeat(4);
        assert_eq!(
            default_name(&r(&format!("alpine@sha256:{hex}")), Arch::X86_64),
            "alpine-sha256-0123456789ab-x86_64"
        );
        assert!(check_name("a.b_c-1+2").is_ok());
        for bad in ["", ".x", "a/b", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
