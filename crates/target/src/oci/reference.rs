//! Image references as users write them: `[HOST[:PORT]/]NAME[:TAG][@sha256:HEX]`.
//!
//! The rules are Docker's: the first component is a registry host when it contains a `.` or a
//! `:`, or is `localhost`; otherwise the image is on Docker Hub (`docker.io`, served by
//! `registry-1.docker.io`), where a one-component name gets the `library/` prefix. The tag
//! defaults to `latest`; a digest pins the manifest (and wins over the tag).

use std::fmt;

use crate::Error;

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The tag used when none is given.
pub const DEFAULT_TAG: &str = "latest";

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry as written (`quay.io`, `127.0.0.1:5000`), `docker.io` for Docker Hub.
    pub registry: String,
    /// Repository path (`pypa/manylinux2014_aarch64`, `library/debian`).
    pub repository: String,
    /// The tag (`latest` when neither a tag nor a digest was given).
    pub tag: Option<String>,
    /// `sha256:<64 hex>` when pinned.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parse a reference; errors are usage errors naming the problem.
    pub fn parse(input: &str) -> Result<ImageRef, Error> {
        let bad = |why: &str| Error::Usage(format!("bad image reference '{input}': {why}"));
        let s = input.trim();
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if s.contains("://") {
            return Err(bad(
                "write HOST/NAME[:TAG] without a URL scheme (plain http: --insecure)",
            ));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => (rest, Some(parse_digest(d).map_err(|e| bad(&e))?)),
            None => (s, None),
        };
        // A tag follows the last ':' when that comes after the last '/' (else it is a port).
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(i) if last_slash.is_none_or(|j| i > j) => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            let valid = !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
                && !t.starts_with(['.', '-']);
            if !valid {
                return Err(bad(&format!("bad tag '{t}'")));
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        check_host(&registry).map_err(|e| bad(&e))?;
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
                DOCKER_HUB.to_string()
            }
            _ => registry,
        };
        if path.is_empty() {
            return Err(bad("no repository name"));
        }
        for component in path.split('/') {
            check_component(component).map_err(|e| bad(&e))?;
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if repository.len() > 255 {
            return Err(bad("repository name longer than 255 characters"));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (None, Some(_)) => None,
        };
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The host (and port) the registry API is served from.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// Whether the registry is on this machine (plain http is then allowed).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.registry)
    }

    /// What the manifest is requested by: the digest when pinned, else the tag.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or(DEFAULT_TAG)
    }

    /// The last path component of the repository (`manylinux2014_aarch64`).
    pub fn short_name(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Check `sha256:<64 lower-case hex>`; other algorithms are refused.
pub fn parse_digest(d: &str) -> Result<String, String> {
    let Some((alg, hex)) = d.split_once(':') else {
        return Err(format!(
            "bad digest '{d}' (expected sha256:<64 hex digits>)"
        ));
    };
    if alg != "sha256" {
        return Err(format!(
            "unsupported digest algorithm '{alg}' (only sha256)"
        ));
    }
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "bad digest '{d}' (expected sha256:<64 hex digits>)"
        ));
    }
    Ok(d.to_string())
}

/// Whether a `host[:port]` names this machine: `localhost`, `127.*`, `[::1]`.
pub fn is_loopback_host(host_port: &str) -> bool {
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host == "localhost" || host == "::1" {
        return true;
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// `host[:port]` with a DNS name or IPv4 address, or `[IPv6][:port]`.
fn check_host(hp: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = hp.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("bad registry host '{hp}'"))?;
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(format!("bad registry host '{hp}'"));
        }
        return match after {
            "" => Ok(()),
            p => match p.strip_prefix(':').map(str::parse::<u16>) {
                Some(Ok(port)) if port > 0 => Ok(()),
                _ => Err(format!("bad port in '{hp}'")),
            },
        };
    } else {
        match hp.split_once(':') {
            Some((h, p)) => (h, p),
            None => (hp, ""),
        }
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if !host_ok {
        return Err(format!("bad registry host '{hp}'"));
    }
    if hp.contains(':') && !hp.starts_with('[') {
        let valid = !port.is_empty() && port.len() <= 5 && port.parse::<u16>().is_ok_and(|p| p > 0);
        if !valid {
            return Err(format!("bad port in '{hp}'"));
        }
    }
    Ok(())
}

/// A repository path component: lower-case letters and digits, separated by `.`, `_`, `__`
/// or runs of `-`.
fn check_component(c: &str) -> Result<(), String> {
    if c.is_empty() {
        return Err("empty path component".into());
    }
    if c.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!("'{c}': repository names must be lower-case"));
    }
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(format!("'{c}': must start and end with a letter or digit"));
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        // A separator: '.', '_', "__" or a run of '-', then a letter or digit.
        let start = i;
        match b {
            b'.' => i += 1,
            b'_' => {
                i += if bytes.get(i + 1) == Some(&b'_') {
                    2
                } else {
                    1
                }
            }
            b'-' => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return Err(format!("'{c}': character '{}' not allowed", b as char)),
        }
        if !bytes.get(i).copied().is_some_and(alnum) {
            return Err(format!(
                "'{c}': bad separator '{}'",
                String::from_utf8_lossy(&bytes[start..i.min(bytes.len())])
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn docker_hub_defaults() {
        let r = p("debian");
        assert_eq!(
            (
                r.registry.as_str(),
                r.repository.as_str(),
                r.tag.as_deref(),
                r.digest.as_deref()
            ),
            ("docker.io", "library/debian", Some("latest"), None)
        );
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.to_string(), "docker.io/library/debian:latest");
        assert_eq!(
            p("debian:bookworm-slim").tag.as_deref(),
            Some("bookworm-slim")
        );
        assert_eq!(
            p("docker.io/library/ubuntu:22.04").repository,
            "library/ubuntu"
        );
        assert_eq!(p("index.docker.io/ubuntu").repository, "library/ubuntu");
        // Two components on Docker Hub: a user's repository, no prefix.
        assert_eq!(p("pypa/manylinux").repository, "pypa/manylinux");
        assert_eq!(p("docker.io/pypa/manylinux").registry, "docker.io");
    }

    #[test]
    fn other_registries() {
        let r = p("quay.io/pypa/manylinux2014_aarch64");
        assert_eq!(r.registry, "quay.io");
        assert_eq!(r.api_host(), "quay.io");
        assert_eq!(r.repository, "pypa/manylinux2014_aarch64");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.short_name(), "manylinux2014_aarch64");
        assert!(!r.is_loopback());
        let r = p("quay.io/pypa/manylinux_2_28_x86_64:2024.11.16-1");
        assert_eq!(r.tag.as_deref(), Some("2024.11.16-1"));
        // host:port, with and without a tag; localhost needs no dot.
        let r = p("127.0.0.1:5000/test/img");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("127.0.0.1:5000", "test/img")
        );
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert!(r.is_loopback());
        let r = p("localhost:41234/a/b/c:v1");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("localhost:41234", "a/b/c")
        );
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert!(p("localhost/x").is_loopback());
        assert!(p("[::1]:5000/x").is_loopback());
        assert!(!p("127.0.0.1.nip.io/x").is_loopback());
        assert_eq!(p("ghcr.io/astral-sh/uv:0.5").repository, "astral-sh/uv");
    }

    #[test]
    fn digests() {
        let hex = "a".repeat(64);
        let r = p(&format!("quay.io/pypa/manylinux2014_aarch64@sha256:{hex}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(format!("sha256:{hex}").as_str()));
        assert_eq!(r.manifest_reference(), format!("sha256:{hex}"));
        // Tag and digest: the digest is what is fetched.
        let r = p(&format!("debian:bookworm@sha256:{hex}"));
        assert_eq!(r.tag.as_deref(), Some("bookworm"));
        assert_eq!(r.manifest_reference(), format!("sha256:{hex}"));
        assert_eq!(
            r.to_string(),
            format!("docker.io/library/debian:bookworm@sha256:{hex}")
        );
        let r = p(&format!("127.0.0.1:5000/x@sha256:{hex}"));
        assert_eq!(r.registry, "127.0.0.1:5000");
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "Debian",
            "quay.io/PyPa/x",
            "https://quay.io/pypa/x",
            "debian:",
            "debian:-x",
            "debian:a/b",
            "a//b",
            "x/",
            "-x",
            "a..b",
            "a___b",
            "debian@sha256:abc",
            "debian@sha512:0000",
            &format!("debian@sha256:{}", "A".repeat(64)),
            "host:0/x",
            "host:99999/x",
            "host:port/x",
            "bad_host.io:5000/x",
            "[zz]:5/x",
            "a b",
        ] {
            let e = ImageRef::parse(bad).err();
            assert!(
                matches!(e, Some(Error::Usage(_))),
                "{bad:?} was accepted: {e:?}"
            );
        }
        assert!(ImageRef::parse("a__b/c-d.e--f").is_ok());
        let msg = ImageRef::parse("quay.io/PyPa/x").unwrap_err().to_string();
        assert!(msg.contains("lower-case"), "{msg}");
    }
}
