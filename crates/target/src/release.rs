//! A suite's `Release` / `InRelease` file: which architectures it has and the SHA256 and size
//! of every index file below `dists/SUITE/`.
//!
//! The OpenPGP signature of `InRelease` is stripped, not verified (see the crate docs).

use std::collections::HashMap;

use crate::control;
use crate::Error;

/// Size and SHA256 of one file listed in a Release file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checksum {
    pub sha256: String,
    pub size: u64,
}

/// The parsed Release file of one suite.
#[derive(Clone, Debug)]
pub struct Release {
    pub origin: Option<String>,
    pub suite: Option<String>,
    pub codename: Option<String>,
    pub version: Option<String>,
    pub date: Option<String>,
    pub architectures: Vec<String>,
    pub components: Vec<String>,
    /// `No-Support-for-Architecture-all: Packages`: `Architecture: all` packages are listed in
    /// every `binary-ARCH/Packages` (true for every Debian release since stretch).
    pub all_in_arch_indices: bool,
    /// SHA256 entries by path relative to `dists/SUITE/`.
    pub files: HashMap<String, Checksum>,
}

/// Remove the clear-sign armor of an InRelease file (RFC 4880 §7), undoing dash-escaping.
/// Text without armor is returned as is.
pub fn strip_clearsign(text: &str) -> String {
    if !text
        .trim_start()
        .starts_with("-----BEGIN PGP SIGNED MESSAGE-----")
    {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines();
    // Armor header lines ("Hash: SHA256") up to the first blank line.
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
    }
    for line in lines {
        if line.starts_with("-----BEGIN PGP SIGNATURE-----") {
            break;
        }
        out.push_str(line.strip_prefix("- ").unwrap_or(line));
        out.push('\n');
    }
    out
}

impl Release {
    /// Parse the text of a Release or InRelease file.
    pub fn parse(text: &str) -> Result<Release, Error> {
        let body = strip_clearsign(text);
        let stanza = control::stanzas(&body)
            .next()
            .ok_or_else(|| Error::Index("Release file is empty".into()))?;
        let words = |f: &str| -> Vec<String> {
            stanza
                .get(f)
                .map(|v| v.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default()
        };
        let mut files = HashMap::new();
        if let Some(list) = stanza.get("SHA256") {
            for line in list.lines() {
                let parts: Vec<&str> = line.split_whitespace().collect();
                if parts.len() != 3 {
                    continue;
                }
                let (sha, size, path) = (parts[0], parts[1], parts[2]);
                if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Error::Index(format!(
                        "bad SHA256 entry for {path} in Release"
                    )));
                }
                let size = size
                    .parse()
                    .map_err(|_| Error::Index(format!("bad size for {path} in Release")))?;
                files.insert(
                    path.to_string(),
                    Checksum {
                        sha256: sha.to_ascii_lowercase(),
                        size,
                    },
                );
            }
        }
        if files.is_empty() {
            return Err(Error::Index(
                "Release file has no SHA256 checksums (not a Debian archive Release file?)".into(),
            ));
        }
        let all_in_arch_indices = stanza
            .get("No-Support-for-Architecture-all")
            .is_some_and(|v| v.split_whitespace().any(|w| w == "Packages"));
        Ok(Release {
            origin: stanza.get("Origin").map(str::to_string),
            suite: stanza.get("Suite").map(str::to_string),
            codename: stanza.get("Codename").map(str::to_string),
            version: stanza.get("Version").map(str::to_string),
            date: stanza.get("Date").map(str::to_string),
            architectures: words("Architectures"),
            components: words("Components"),
            all_in_arch_indices,
            files,
        })
    }

    /// The Packages index of `component` for a Debian architecture, with the checksum the
    /// Release file gives for it: `.xz` preferred, then `.gz`, then uncompressed.
    pub fn packages_index(&self, component: &str, debian_arch: &str) -> Option<(String, Checksum)> {
        ["xz", "gz", ""].iter().find_map(|ext| {
            let mut path = format!("{component}/binary-{debian_arch}/Packages");
            if !ext.is_empty() {
                path.push('.');
                path.push_str(ext);
            }
            self.files.get(&path).map(|c| (path, c.clone()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED: &str = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nOrigin: Debian\nCodename: bookworm\nArchitectures: all amd64 arm64\nComponents: main contrib\nNo-Support-for-Architecture-all: Packages\nMD5Sum:\n 0ed6d4c8891eb86358b94bb35d9e4da4  1484322 contrib/Contents-all\nSHA256:\n 2ddb1737692e8c45c53e8d57c0ce4cd21c78c5703b830c3226b1423566a06c00  8689464 main/binary-arm64/Packages.xz\n aee1ed47a695b38ecc6283e3952e8c3e18682cf7b2558ec62460a95c6d0b193b 11940185 main/binary-arm64/Packages.gz\n- -dash escaped: no\n-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n";

    #[test]
    fn parses_inrelease() {
        let r = Release::parse(SIGNED).unwrap();
        assert_eq!(r.codename.as_deref(), Some("bookworm"));
        assert_eq!(r.architectures, ["all", "amd64", "arm64"]);
        assert!(r.all_in_arch_indices);
        let (path, sum) = r.packages_index("main", "arm64").unwrap();
        assert_eq!(path, "main/binary-arm64/Packages.xz");
        assert_eq!(sum.size, 8689464);
        assert!(r.packages_index("main", "s390x").is_none());
        assert!(strip_clearsign(SIGNED).contains("\n-dash escaped: no\n"));
    }

    #[test]
    fn rejects_garbage() {
        assert!(Release::parse("").is_err());
        assert!(Release::parse("<html>not found</html>\n").is_err());
        assert!(Release::parse("SHA256:\n zz 1 main/x\n").is_err());
    }
}
