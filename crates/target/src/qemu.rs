//! The user-mode emulator for foreign targets: `qemu-<arch>-static`, taken from the host
//! architecture's `qemu-user-static` package of the target's suite (Debian ≥ 13 ships the static
//! binaries in `qemu-user`, with `qemu-user-static` as a package of links; both are looked at).
//! Only the one binary needed is extracted; the package itself stays in the `.deb` cache.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use manywheel_policy::Arch;
use serde::{Deserialize, Serialize};

use crate::cache::Cache;
use crate::deb::{self, Flow};
use crate::fetch::{self, Mirror};
use crate::progress::Progress;
use crate::release::Release;
use crate::sysroot::{self, Distro};
use crate::unpack::{self, Kind};
use crate::Error;

/// Packages searched for the static emulators, in order.
const QEMU_PACKAGES: [&str; 2] = ["qemu-user-static", "qemu-user"];

/// An extracted emulator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QemuInfo {
    /// Path relative to the cache root (`qemu/debian-bookworm/qemu-aarch64-static`).
    pub file: PathBuf,
    pub package: String,
    pub version: String,
    pub sha256: String,
}

/// The file name the emulator gets in the cache.
pub fn binary_name(arch: Arch) -> String {
    format!("qemu-{}-static", arch.qemu_name())
}

/// Names under which a package may ship the emulator.
fn member_names(arch: Arch) -> [String; 2] {
    let q = arch.qemu_name();
    [
        format!("usr/bin/qemu-{q}-static"),
        format!("usr/bin/qemu-{q}"),
    ]
}

/// Find an emulator for `arch` on PATH: `qemu-<name>-static`, then `qemu-<name>`.
pub fn from_path(arch: Arch) -> Option<PathBuf> {
    let q = arch.qemu_name();
    let path = std::env::var_os("PATH")?;
    for name in [format!("qemu-{q}-static"), format!("qemu-{q}")] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(&name);
            let executable = fs::metadata(&candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
            if executable {
                return Some(candidate);
            }
        }
    }
    None
}

/// Make sure the emulator for `arch` from `distro` is in the cache; returns its record.
pub fn ensure(
    cache: &Cache,
    mirror: &Mirror,
    release: &Release,
    distro: &Distro,
    host: Arch,
    arch: Arch,
    progress: &Progress,
) -> Result<QemuInfo, Error> {
    let rel_dir = Path::new("qemu").join(format!("{}-{}", distro.family, distro.suite));
    let rel_file = rel_dir.join(binary_name(arch));
    let dest = cache.root().join(&rel_file);
    let record = dest.with_extension("json");
    if dest.is_file() {
        if let Ok(info) = fs::read_to_string(&record)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<QemuInfo>(&t).map_err(|e| e.to_string()))
        {
            let actual = fetch::file_checksum(&dest).map_err(|e| unpack::io_err(&dest, e))?;
            if actual.sha256 == info.sha256 {
                return Ok(info);
            }
        }
    }
    let index = sysroot::load_index(
        cache,
        mirror,
        release,
        &distro.suite,
        host.debian_name(),
        progress,
    )?;
    let wanted = member_names(arch);
    for pkg_name in QEMU_PACKAGES {
        let Some(pkg) = index.get(pkg_name) else {
            continue;
        };
        let debs = sysroot::fetch_debs(cache, mirror, &[pkg], 4, progress)?;
        progress.status(
            &format!("  extracting {} from {pkg_name}", binary_name(arch)),
            true,
        );
        let dir = dest.parent().unwrap_or(cache.root()).to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| unpack::io_err(&dir, e))?;
        let mut found: Option<tempfile::NamedTempFile> = None;
        let what = deb::file_label(&debs[0]);
        let file = fs::File::open(&debs[0]).map_err(|e| unpack::io_err(&debs[0], e))?;
        deb::for_each_entry(io::BufReader::new(file), &what, |e, data| {
            let name = e.path.trim_start_matches("./");
            if e.kind != Kind::File || !wanted.iter().any(|w| w == name) {
                return Ok(Flow::Continue);
            }
            let mut tmp = tempfile::Builder::new()
                .prefix(".qemu-")
                .tempfile_in(&dir)
                .map_err(|e| unpack::io_err(&dir, e))?;
            io::copy(data, &mut tmp).map_err(|e| Error::Archive(format!("{name}: {e}")))?;
            tmp.flush().map_err(|e| unpack::io_err(&dir, e))?;
            found = Some(tmp);
            Ok(Flow::Stop)
        })?;
        progress.clear();
        let Some(tmp) = found else {
            continue;
        };
        check_static(tmp.path(), host, pkg_name)?;
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755))
            .map_err(|e| unpack::io_err(tmp.path(), e))?;
        let sum = fetch::file_checksum(tmp.path()).map_err(|e| unpack::io_err(tmp.path(), e))?;
        tmp.persist(&dest)
            .map_err(|e| unpack::io_err(&dest, e.error))?;
        let info = QemuInfo {
            file: rel_file,
            package: pkg.name.clone(),
            version: pkg.version.clone(),
            sha256: sum.sha256,
        };
        let text = serde_json::to_string_pretty(&info)
            .map_err(|e| Error::Target(format!("qemu record: {e}")))?;
        crate::cache::write_atomic(&record, text.as_bytes())?;
        progress.message(&format!(
            "qemu: {} from {} {}",
            binary_name(arch),
            pkg.name,
            pkg.version
        ));
        return Ok(info);
    }
    Err(Error::Target(format!(
        "no static qemu-{} in {} of {} for {}",
        arch.qemu_name(),
        QEMU_PACKAGES.join(" or "),
        distro,
        host.debian_name()
    )))
}

/// The emulator must be a static executable for the host.
fn check_static(path: &Path, host: Arch, package: &str) -> Result<(), Error> {
    let bytes = fs::read(path).map_err(|e| unpack::io_err(path, e))?;
    let elf = manywheel_elf::parse(&bytes)
        .map_err(|e| Error::Target(format!("qemu binary from {package}: {e}")))?;
    let h = &elf.header;
    let arch = Arch::from_elf(
        h.machine,
        h.class == manywheel_elf::Class::Elf64,
        h.endian == manywheel_elf::Endian::Little,
        h.flags,
    );
    if arch != Some(host) {
        return Err(Error::Target(format!(
            "qemu binary from {package} is not a {host} program"
        )));
    }
    if let Some(interp) = elf.interpreter {
        return Err(Error::Target(format!(
            "qemu binary from {package} is dynamically linked (loader {interp})"
        )));
    }
    Ok(())
}
