//! A pull-only client of the registry HTTP API v2 (the OCI distribution spec): manifests by
//! tag or digest, blobs by digest, anonymous Bearer tokens.
//!
//! Plain `http://` is used only for loopback registries (`localhost`, `127.*`, `[::1]`) or
//! when asked for (`--insecure`); everything else is `https://`. Every manifest and blob is
//! checked against the digest (and size) that names it before it is used.

use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::auth;
use super::manifest::{ACCEPT, DOCUMENT_LIMIT};
use super::reference::{is_loopback_host, ImageRef};
use crate::fetch::hex;
use crate::Error;

/// A registry and one repository on it.
pub struct Registry {
    base: String,
    repository: String,
    insecure: bool,
    agent: ureq::Agent,
    token: Mutex<Option<String>>,
}

/// A fetched manifest document.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    /// `sha256:` of the bytes.
    pub digest: String,
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// The first error of a registry's JSON error body (`{"errors":[{"code":…,"message":…}]}`).
fn registry_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let e = v.get("errors")?.get(0)?;
    let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
    let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
    Some(
        match (code.is_empty(), msg.is_empty()) {
            (false, false) => format!("{code}: {msg}"),
            (false, true) => code.to_string(),
            _ => msg.to_string(),
        }
        .replace('\n', " "),
    )
}

fn read_small(
    resp: ureq::http::Response<ureq::Body>,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    resp.into_body()
        .into_reader()
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::Download(format!("{what}: {e}")))?;
    if out.len() as u64 > limit {
        return Err(Error::Download(format!(
            "{what}: larger than {limit} bytes"
        )));
    }
    Ok(out)
}

impl Registry {
    /// A client for `image`'s registry and repository.
    pub fn new(image: &ImageRef, insecure: bool) -> Result<Registry, Error> {
        let scheme = if insecure || image.is_loopback() {
            "http"
        } else {
            "https"
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(20)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .user_agent(concat!("manywheel/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Registry {
            base: format!("{scheme}://{}", image.api_host()),
            repository: image.repository.clone(),
            insecure,
            agent: config.into(),
            token: Mutex::new(None),
        })
    }

    /// `http(s)://host[:port]`
    pub fn base(&self) -> &str {
        &self.base
    }

    fn current_token(&self) -> Option<String> {
        self.token.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// GET `url` with the stored token; on `401` with a Bearer challenge, fetch a token and
    /// retry once. Returns the final response, whatever its status.
    fn get(
        &self,
        url: &str,
        accept: Option<&str>,
    ) -> Result<ureq::http::Response<ureq::Body>, Error> {
        let send = |token: Option<&str>| {
            let mut req = self.agent.get(url);
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            if let Some(t) = token {
                req = req.header("Authorization", &format!("Bearer {t}"));
            }
            req.call()
                .map_err(|e| Error::Download(format!("{url}: {e}")))
        };
        let token = self.current_token();
        let resp = send(token.as_deref())?;
        if resp.status().as_u16() != 401 {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        let challenges = auth::parse_challenges(&challenge)
            .map_err(|e| Error::Download(format!("{url}: {e}")))?;
        let Some(bearer) = auth::bearer(&challenges) else {
            let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
            return Err(Error::Download(format!(
                "authentication failed: {} asks for credentials ({}); only anonymous pulls are supported",
                self.base,
                if schemes.is_empty() { "no challenge".to_string() } else { schemes.join(", ") }
            )));
        };
        let fresh = self.fetch_token(&bearer)?;
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh.clone());
        let resp = send(Some(&fresh))?;
        if resp.status().as_u16() == 401 {
            let body = read_small(resp, 64 << 10, url).unwrap_or_default();
            return Err(Error::Download(format!(
                "authentication failed: {url} refused the token from {}{}",
                bearer.realm,
                registry_message(&body).map_or(String::new(), |m| format!(" ({m})"))
            )));
        }
        Ok(resp)
    }

    /// Fetch an anonymous token from the challenge's realm.
    fn fetch_token(&self, b: &auth::Bearer) -> Result<String, Error> {
        let realm = &b.realm;
        let realm_host = realm
            .strip_prefix("https://")
            .or_else(|| realm.strip_prefix("http://"))
            .map(|r| r.split(['/', '?']).next().unwrap_or(""))
            .ok_or_else(|| {
                Error::Download(format!("authentication failed: bad token realm '{realm}'"))
            })?;
        if realm.starts_with("http://") && !self.insecure && !is_loopback_host(realm_host) {
            return Err(Error::Download(format!(
                "authentication failed: token realm {realm} is plain http (pass --insecure to allow)"
            )));
        }
        let scope = b
            .scope
            .clone()
            .unwrap_or_else(|| format!("repository:{}:pull", self.repository));
        let mut req = self.agent.get(realm).query("scope", &scope);
        if let Some(s) = &b.service {
            req = req.query("service", s);
        }
        let resp = req
            .header("Accept", "application/json")
            .call()
            .map_err(|e| Error::Download(format!("authentication failed: {realm}: {e}")))?;
        let status = resp.status().as_u16();
        let body = read_small(resp, 1 << 20, realm)?;
        if status != 200 {
            return Err(Error::Download(format!(
                "authentication failed: the token service {realm} answered {status}{}",
                registry_message(&body).map_or(String::new(), |m| format!(" ({m})"))
            )));
        }
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            Error::Download(format!(
                "authentication failed: {realm}: bad token answer: {e}"
            ))
        })?;
        v.get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| Error::Download(format!("authentication failed: {realm} sent no token")))
    }

    /// A non-2xx response as an error.
    fn status_error(&self, resp: ureq::http::Response<ureq::Body>, url: &str) -> Error {
        let status = resp.status().as_u16();
        let body = read_small(resp, 64 << 10, url).unwrap_or_default();
        let msg = registry_message(&body).map_or(String::new(), |m| format!(" ({m})"));
        match status {
            404 => Error::Download(format!("not found: {url}{msg}")),
            403 => Error::Download(format!("authentication failed: {url}: 403 Forbidden{msg}")),
            _ => Error::Download(format!("{url}: HTTP {status}{msg}")),
        }
    }

    /// Fetch a manifest by tag or digest. With `expected` (a digest, and maybe a size), the
    /// bytes must match it; a `Docker-Content-Digest` header must match the bytes.
    pub fn manifest(
        &self,
        reference: &str,
        expected: Option<(&str, Option<u64>)>,
    ) -> Result<Fetched, Error> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.repository);
        let resp = self.get(&url, Some(ACCEPT))?;
        if !resp.status().is_success() {
            return Err(self.status_error(resp, &url));
        }
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let limit = expected
            .and_then(|(_, s)| s)
            .unwrap_or(DOCUMENT_LIMIT)
            .min(DOCUMENT_LIMIT);
        let bytes = read_small(resp, limit, &url)?;
        let digest = sha256_digest(&bytes);
        if let Some((want, size)) = expected {
            if let Some(size) = size {
                if bytes.len() as u64 != size {
                    return Err(Error::Verify(format!(
                        "manifest {want}: size mismatch: expected {size} bytes, got {}",
                        bytes.len()
                    )));
                }
            }
            if digest != want {
                return Err(Error::Verify(format!(
                    "manifest {reference}: digest mismatch: expected {want}, got {digest}"
                )));
            }
        }
        if let Some(h) = header_digest.filter(|h| h.starts_with("sha256:")) {
            if h != digest {
                return Err(Error::Verify(format!(
                    "manifest {reference}: digest mismatch: the registry says {h}, the bytes are {digest}"
                )));
            }
        }
        Ok(Fetched {
            bytes,
            content_type,
            digest,
        })
    }

    /// Download a blob to `dest`, verified: the data goes to a temporary file next to `dest`
    /// that gets its name only when size and SHA256 match. `progress` gets the bytes so far.
    pub fn download_blob(
        &self,
        digest: &str,
        size: u64,
        dest: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), Error> {
        let short = short_digest(digest);
        let url = format!("{}/v2/{}/blobs/{digest}", self.base, self.repository);
        let resp = self.get(&url, None)?;
        if !resp.status().is_success() {
            return Err(self.status_error(resp, &url));
        }
        let what = format!("blob {short}");
        let mut reader = resp.into_body().into_reader();
        crate::fetch::save_verified(&mut reader, dest, size, &what, progress, |got| {
            let got = format!("sha256:{got}");
            (got != digest)
                .then(|| format!("{what}: digest mismatch: expected {digest}, got {got}"))
        })
    }
}

/// `sha256:0123456789ab` (12 hex digits), for messages.
pub fn short_digest(d: &str) -> &str {
    let end = d.find(':').map_or(0, |i| i + 13).min(d.len());
    &d[..end]
}
