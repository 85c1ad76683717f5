//! Per-architecture sysroots ("targets") with a working CPython, built from a Debian mirror
//! without root, Docker, dpkg or binfmt, and the means to run their programs from an x86_64
//! host: natively through the sysroot's own dynamic loader, or under `qemu-user`.
//!
//! `target add` in short: fetch `dists/SUITE/InRelease` (or `Release`), take the SHA256 of
//! `main/binary-ARCH/Packages.xz` from it, download and verify that index, resolve the
//! dependency closure of `python3` (plus requested packages), download and verify every `.deb`
//! (cached and shared between targets), unpack them into a temporary directory of the cache
//! (own `ar` reader; data tarballs decompressed as streams; members escaping the root refused;
//! absolute symlinks made relative), write `manifest.json`, and rename the tree into
//! `targets/<distro>-<suite>-<arch>/` atomically, all under a per-target lock file.
//! For foreign architectures `qemu-<arch>-static` is extracted from the host's
//! `qemu-user-static` (or `qemu-user`) package of the same suite.
//!
//! Trust: every downloaded file is checked against the SHA256 chain that starts at the
//! Release file, but the Release file's OpenPGP signature is not verified; use an `https://`
//! mirror where the network is not trusted.

pub mod ar;
pub mod cache;
pub mod control;
pub mod deb;
pub mod fetch;
pub mod oci;
pub mod packages;
mod progress;
pub mod qemu;
pub mod release;
pub mod run;
pub mod sysroot;
pub mod unpack;
pub mod version;

pub use cache::Cache;
pub use oci::{add_image, ImageOptions};
pub use progress::Progress;
pub use run::{RunOptions, Target};
pub use sysroot::{
    add, list, remove, AddOptions, AddOutcome, Distro, Manifest, QemuMode, TargetInfo,
    DEFAULT_MIRROR,
};

/// Errors of this crate; each renders as one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Download(String),
    #[error("not found on the mirror: {0}")]
    NotFound(String),
    #[error("verification failed: {0}")]
    Verify(String),
    #[error("{0}")]
    Index(String),
    #[error("cannot resolve dependencies: {0}")]
    Resolve(String),
    #[error("{0}")]
    Archive(String),
    #[error("unsafe archive: {0}")]
    Unsafe(String),
    #[error("{0}")]
    Target(String),
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Prefix the message with `what` (a file or package name), keeping the kind.
    pub fn context(self, what: &str) -> Error {
        let add = |m: String| {
            if m.starts_with(what) {
                m
            } else {
                format!("{what}: {m}")
            }
        };
        match self {
            Error::Io(m) => Error::Io(add(m)),
            Error::Download(m) => Error::Download(add(m)),
            Error::NotFound(m) => Error::NotFound(m),
            Error::Verify(m) => Error::Verify(add(m)),
            Error::Index(m) => Error::Index(add(m)),
            Error::Resolve(m) => Error::Resolve(m),
            Error::Archive(m) => Error::Archive(add(m)),
            Error::Unsafe(m) => Error::Unsafe(add(m)),
            Error::Target(m) => Error::Target(add(m)),
            Error::Usage(m) => Error::Usage(m),
        }
    }
}
