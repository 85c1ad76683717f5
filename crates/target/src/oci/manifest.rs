//! The documents of an image: manifest lists / OCI image indexes, image manifests and the
//! image configuration, in both the OCI and the Docker (schema 2) media types, and the choice
//! of a platform for an architecture.

use std::collections::BTreeMap;

use manywheel_policy::Arch;
use serde::Deserialize;

use crate::Error;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_SCHEMA1: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// The `Accept` header of manifest requests: every type we read.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Largest manifest or configuration accepted.
pub const DOCUMENT_LIMIT: u64 = 4 << 20;

/// A content descriptor.
#[derive(Clone, Debug, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    pub fn label(&self) -> String {
        platform_label(&self.os, &self.architecture, self.variant.as_deref())
    }
}

/// `linux/arm64/v8`
pub fn platform_label(os: &str, arch: &str, variant: Option<&str>) -> String {
    match variant {
        Some(v) if !v.is_empty() => format!("{os}/{arch}/{v}"),
        _ => format!("{os}/{arch}"),
    }
}

/// A manifest list / image index.
#[derive(Clone, Debug, Deserialize)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// An image manifest.
#[derive(Clone, Debug, Deserialize)]
pub struct ImageManifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// The parts of the image configuration we use.
#[derive(Clone, Debug, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub config: Option<RunConfig>,
    #[serde(default)]
    pub rootfs: Option<RootFs>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RunConfig {
    #[serde(rename = "Env", default)]
    pub env: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// What a fetched manifest document is.
#[derive(Clone, Debug)]
pub enum Document {
    Index(Index),
    Image(ImageManifest),
}

/// Classify and parse a manifest document from its bytes and `Content-Type`.
pub fn parse_document(
    bytes: &[u8],
    content_type: Option<&str>,
    what: &str,
) -> Result<Document, Error> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::Archive(format!("{what}: not a JSON manifest: {e}")))?;
    let declared = value
        .get("mediaType")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| {
            content_type
                .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
                .filter(|c| c.starts_with("application/vnd."))
        });
    let bad = |e: serde_json::Error| Error::Archive(format!("{what}: bad manifest: {e}"));
    let is_index = match declared.as_deref() {
        Some(OCI_INDEX | DOCKER_LIST) => true,
        Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
        Some(t) if DOCKER_SCHEMA1.contains(&t) => {
            return Err(Error::Archive(format!(
                "{what}: Docker schema 1 manifests are not supported (push the image again with a current tool)"
            )))
        }
        Some(t) => {
            return Err(Error::Archive(format!(
                "{what}: unsupported manifest type {t}"
            )))
        }
        None => value.get("manifests").is_some(),
    };
    if value.get("schemaVersion").and_then(|v| v.as_u64()) != Some(2) {
        return Err(Error::Archive(format!(
            "{what}: unsupported manifest schemaVersion (expected 2)"
        )));
    }
    if is_index {
        Ok(Document::Index(serde_json::from_value(value).map_err(bad)?))
    } else {
        Ok(Document::Image(serde_json::from_value(value).map_err(bad)?))
    }
}

/// The GOARCH name and variant registries use for an architecture.
pub fn go_platform(arch: Arch) -> (&'static str, Option<&'static str>) {
    match arch {
        Arch::X86_64 => ("amd64", None),
        Arch::I686 => ("386", None),
        Arch::Aarch64 => ("arm64", Some("v8")),
        Arch::Armv7l => ("arm", Some("v7")),
        Arch::Ppc64 => ("ppc64", None),
        Arch::Ppc64le => ("ppc64le", None),
        Arch::S390x => ("s390x", None),
        Arch::Riscv64 => ("riscv64", None),
        Arch::Loongarch64 => ("loong64", None),
    }
}

/// How well an image platform fits an architecture: `Some(2)` exact, `Some(1)` acceptable
/// (variant not given), `None` not at all.
pub fn platform_fit(arch: Arch, os: &str, architecture: &str, variant: Option<&str>) -> Option<u8> {
    let (goarch, want_variant) = go_platform(arch);
    if os != "linux" || architecture != goarch {
        return None;
    }
    let variant = variant.filter(|v| !v.is_empty());
    match (want_variant, variant) {
        (_, None) => Some(if want_variant.is_none() { 2 } else { 1 }),
        (Some(w), Some(v)) if w == v => Some(2),
        // arm64 images may say v8.x or v9; 32-bit arm must be v7 (v6/v5 lack the ABI).
        (Some("v8"), Some(v)) if v.starts_with("v8") || v.starts_with("v9") => Some(1),
        _ => None,
    }
}

/// Choose the manifest for `arch` from an index (attestations and other OSes are skipped).
pub fn select_platform<'a>(
    index: &'a Index,
    arch: Arch,
    what: &str,
) -> Result<&'a Descriptor, Error> {
    let mut best: Option<(&Descriptor, u8)> = None;
    for d in &index.manifests {
        let Some(p) = &d.platform else { continue };
        let Some(fit) = platform_fit(arch, &p.os, &p.architecture, p.variant.as_deref()) else {
            continue;
        };
        if best.is_none_or(|(_, f)| fit > f) {
            best = Some((d, fit));
        }
    }
    if let Some((d, _)) = best {
        return Ok(d);
    }
    let (goarch, variant) = go_platform(arch);
    let available: Vec<String> = index
        .manifests
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .filter(|p| p.os != "unknown")
        .map(Platform::label)
        .collect();
    Err(Error::Target(format!(
        "{what} has no {} image for {arch} (it has: {})",
        platform_label("linux", goarch, variant),
        if available.is_empty() {
            "no platforms".to_string()
        } else {
            available.join(", ")
        }
    )))
}

/// How a layer blob is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Check that a layer media type is a tar layer we can apply; returns the declared
/// compression.
pub fn layer_compression(media_type: &str) -> Result<Compression, String> {
    match media_type {
        "application/vnd.oci.image.layer.v1.tar" => Ok(Compression::None),
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip" => Ok(Compression::Gzip),
        "application/vnd.oci.image.layer.v1.tar+zstd" => Ok(Compression::Zstd),
        t if t.contains("nondistributable") || t.contains("foreign") => {
            Err(format!("non-distributable layer ({t}) is not supported"))
        }
        t => Err(format!("unsupported layer type {t}")),
    }
}

/// The compression the first bytes of a blob show (magic numbers win over a wrong label).
pub fn sniff(prefix: &[u8]) -> Compression {
    if prefix.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // An index shaped like the ones buildx pushes: two images and an attestation manifest.
    const INDEX: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":2201,"platform":{"architecture":"amd64","os":"linux"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":2201,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","size":566,"annotations":{"vnd.docker.reference.type":"attestation-manifest"},"platform":{"architecture":"unknown","os":"unknown"}}]}"#;

    #[test]
    fn picks_the_platform() {
        let Document::Index(index) = parse_document(INDEX.as_bytes(), None, "x").unwrap() else {
            panic!("not an index")
        };
        assert!(select_platform(&index, Arch::Aarch64, "x")
            .unwrap()
            .digest
            .starts_with("sha256:2222"));
        assert!(select_platform(&index, Arch::X86_64, "x")
            .unwrap()
            .digest
            .starts_with("sha256:1111"));
        let e = select_platform(&index, Arch::S390x, "img")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "img has no linux/s390x image for s390x (it has: linux/amd64, linux/arm64/v8)"
        );
    }

    #[test]
    fn platform_fits() {
        assert_eq!(
            platform_fit(Arch::Armv7l, "linux", "arm", Some("v7")),
            Some(2)
        );
        assert_eq!(platform_fit(Arch::Armv7l, "linux", "arm", Some("v6")), None);
        assert_eq!(platform_fit(Arch::Armv7l, "linux", "arm", None), Some(1));
        assert_eq!(platform_fit(Arch::Aarch64, "linux", "arm64", None), Some(1));
        assert_eq!(platform_fit(Arch::I686, "linux", "386", None), Some(2));
        assert_eq!(
            platform_fit(Arch::Ppc64le, "linux", "ppc64le", None),
            Some(2)
        );
        assert_eq!(platform_fit(Arch::X86_64, "windows", "amd64", None), None);
        assert_eq!(
            platform_fit(Arch::Riscv64, "linux", "riscv64", None),
            Some(2)
        );
    }

    #[test]
    fn document_kinds() {
        let docker = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,"digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}]}"#;
        let Document::Image(m) = parse_document(docker.as_bytes(), None, "x").unwrap() else {
            panic!()
        };
        assert_eq!(m.layers.len(), 1);
        assert_eq!(m.config.size, 7023);
        // Without mediaType, the Content-Type decides; then the shape.
        let bare = r#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            parse_document(bare.as_bytes(), None, "x"),
            Ok(Document::Index(_))
        ));
        assert!(matches!(
            parse_document(
                bare.as_bytes(),
                Some("application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8"),
                "x"
            ),
            Ok(Document::Index(_))
        ));
        let v1 = r#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#;
        assert!(parse_document(v1.as_bytes(), None, "x")
            .unwrap_err()
            .to_string()
            .contains("schema 1"));
        assert!(parse_document(b"<html>", None, "x").is_err());
        let helm = r#"{"schemaVersion":2,"mediaType":"application/vnd.cncf.helm.chart.v1"}"#;
        assert!(parse_document(helm.as_bytes(), None, "x").is_err());
    }

    #[test]
    fn layer_types() {
        assert_eq!(
            layer_compression("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            Ok(Compression::Gzip)
        );
        assert_eq!(
            layer_compression("application/vnd.oci.image.layer.v1.tar+zstd"),
            Ok(Compression::Zstd)
        );
        assert_eq!(
            layer_compression("application/vnd.oci.image.layer.v1.tar"),
            Ok(Compression::None)
        );
        assert!(
            layer_compression("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip").is_err()
        );
        assert!(
            layer_compression("application/vnd.oci.image.layer.v1.tar+gzip+encrypted").is_err()
        );
        assert_eq!(sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Compression::Zstd);
        assert_eq!(sniff(b"usr/\0"), Compression::None);
    }
}
