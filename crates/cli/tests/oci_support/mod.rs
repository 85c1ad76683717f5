//! Test images and registries for `target add --image`:
//! - layers written here with the tar crate (gzip, zstd or plain), image configs, manifests
//!   and indexes in the OCI and Docker media types, with their real digests;
//! - the CNCF distribution registry (Debian's `docker-registry`) started on 127.0.0.1 with a
//!   generated config and a temporary storage directory, images pushed with its HTTP API
//!   (monolithic upload: POST, then PUT with the digest; then the manifest PUT);
//! - a tiny fake registry on 127.0.0.1 that serves prepared (possibly damaged) bytes and
//!   demands a Bearer token from its own realm endpoint.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const OCI_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

pub fn digest_of(bytes: &[u8]) -> String {
    let h = Sha256::digest(bytes);
    format!(
        "sha256:{}",
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// One tar entry of a layer.
#[derive(Clone, Debug)]
pub enum Entry {
    Dir(String),
    File(String, Vec<u8>, u32),
    Symlink(String, String),
    Hard(String, String),
}

pub fn dir(p: &str) -> Entry {
    Entry::Dir(p.into())
}
pub fn file(p: &str, data: impl Into<Vec<u8>>) -> Entry {
    Entry::File(p.into(), data.into(), 0o644)
}
pub fn exe(p: &str, data: impl Into<Vec<u8>>) -> Entry {
    Entry::File(p.into(), data.into(), 0o755)
}
pub fn link(p: &str, target: &str) -> Entry {
    Entry::Symlink(p.into(), target.into())
}
pub fn hard(p: &str, target: &str) -> Entry {
    Entry::Hard(p.into(), target.into())
}

/// An uncompressed layer tarball, as `docker save` writes them (GNU headers, no `./`).
pub fn tarball(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        match e {
            Entry::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            Entry::File(p, data, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, &data[..]).unwrap();
            }
            Entry::Symlink(p, t) | Entry::Hard(p, t) => {
                h.set_entry_type(if matches!(e, Entry::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// A blob with its media type and digest.
#[derive(Clone, Debug)]
pub struct Blob {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub digest: String,
    /// DiffID (digest of the uncompressed tar) for layers.
    pub diff_id: String,
}

impl Blob {
    pub fn descriptor(&self) -> serde_json::Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len()})
    }
}

/// A layer compressed as its media type says.
pub fn layer(media_type: &str, entries: &[Entry]) -> Blob {
    let tar = tarball(entries);
    let bytes = match media_type {
        OCI_ZSTD => zstd::stream::encode_all(&tar[..], 3).unwrap(),
        OCI_TAR => tar.clone(),
        _ => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&tar).unwrap();
            gz.finish().unwrap()
        }
    };
    Blob {
        media_type: media_type.into(),
        digest: digest_of(&bytes),
        diff_id: digest_of(&tar),
        bytes,
    }
}

/// An image: its config, layers and manifest bytes.
#[derive(Clone, Debug)]
pub struct Image {
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub manifest: Vec<u8>,
    pub manifest_type: String,
    pub digest: String,
}

/// Build an image for `os/arch[/variant]` (OCI or Docker media types for the manifest and
/// config) with an environment.
pub fn image(
    docker: bool,
    arch: &str,
    variant: Option<&str>,
    env: &[&str],
    layers: Vec<Blob>,
) -> Image {
    let mut cfg = json!({
        "architecture": arch,
        "os": "linux",
        "created": "2024-05-04T00:00:00Z",
        "config": {"Env": env},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
    });
    if let Some(v) = variant {
        cfg["variant"] = json!(v);
    }
    let cfg_bytes = serde_json::to_vec(&cfg).unwrap();
    let config = Blob {
        media_type: if docker { DOCKER_CONFIG } else { OCI_CONFIG }.into(),
        digest: digest_of(&cfg_bytes),
        diff_id: String::new(),
        bytes: cfg_bytes,
    };
    let manifest_type = if docker {
        DOCKER_MANIFEST
    } else {
        OCI_MANIFEST
    };
    let m = json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": config.descriptor(),
        "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
    });
    let manifest = serde_json::to_vec_pretty(&m).unwrap();
    Image {
        digest: digest_of(&manifest),
        config,
        layers,
        manifest,
        manifest_type: manifest_type.into(),
    }
}

/// An index over `(image, arch, variant)` entries, plus an attestation-like entry.
pub fn index(docker: bool, entries: &[(&Image, &str, Option<&str>)]) -> (Vec<u8>, String) {
    let mt = if docker { DOCKER_LIST } else { OCI_INDEX };
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .map(|(img, arch, variant)| {
            let mut p = json!({"architecture": arch, "os": "linux"});
            if let Some(v) = variant {
                p["variant"] = json!(v);
            }
            json!({"mediaType": img.manifest_type, "digest": img.digest, "size": img.manifest.len(), "platform": p})
        })
        .collect();
    let bytes = serde_json::to_vec_pretty(
        &json!({"schemaVersion": 2, "mediaType": mt, "manifests": manifests}),
    )
    .unwrap();
    let d = digest_of(&bytes);
    (bytes, d)
}

// ---------------------------------------------------------------- raw HTTP/1.1

/// A response: status, headers (lower-cased names), body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request on a fresh connection (`Connection: close`).
pub fn http(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut body = Vec::new();
    let _ = r.read_to_end(&mut body);
    Response {
        status,
        headers,
        body,
    }
}

// ---------------------------------------------------------------- the real registry

/// `docker-registry serve CONFIG` on 127.0.0.1:PORT, killed when dropped.
pub struct LocalRegistry {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl LocalRegistry {
    pub fn start(program: &Path) -> LocalRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(program)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let reg = LocalRegistry {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && http(port, "GET", "/v2/", &[], b"").status == 200
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not come up: {}",
                std::fs::read_to_string(reg._dir.path().join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        reg
    }

    /// Monolithic upload: POST to get an upload URL, PUT the bytes with their digest.
    pub fn push_blob(&self, repo: &str, blob: &Blob) {
        let r = http(
            self.port,
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &[],
            b"",
        );
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        let loc = r.header("location").unwrap().to_string();
        let path = match loc.find("/v2/") {
            Some(i) => loc[i..].to_string(),
            None => loc,
        };
        let sep = if path.contains('?') { '&' } else { '?' };
        let r = http(
            self.port,
            "PUT",
            &format!("{path}{sep}digest={}", blob.digest),
            &[("Content-Type", "application/octet-stream")],
            &blob.bytes,
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(
            r.header("docker-content-digest"),
            Some(blob.digest.as_str())
        );
    }

    pub fn push_manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) {
        let r = http(
            self.port,
            "PUT",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Content-Type", media_type)],
            bytes,
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(
            r.header("docker-content-digest"),
            Some(digest_of(bytes).as_str())
        );
    }

    /// Push an image's blobs and its manifest under `reference` (a tag or its digest).
    pub fn push_image(&self, repo: &str, reference: &str, img: &Image) {
        self.push_blob(repo, &img.config);
        for l in &img.layers {
            self.push_blob(repo, l);
        }
        self.push_manifest(repo, reference, &img.manifest_type, &img.manifest);
    }
}

// ---------------------------------------------------------------- the fake registry

/// How the fake registry authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// 401 with a Bearer challenge; `/token` hands out the token.
    Bearer,
    /// Like Bearer, but `/token` refuses (401).
    TokenRefused,
    /// 401 with a Basic challenge.
    Basic,
}

/// Damage to a served blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Serve {
    Intact,
    /// These bytes instead (with a correct Content-Length).
    Replace(Vec<u8>),
    /// Announce the full length, send only this many bytes and close.
    CutAt(usize),
}

pub const TOKEN: &str = "tok-3f1a";

#[derive(Default)]
pub struct FakeState {
    /// reference → (content type, bytes)
    pub manifests: HashMap<String, (String, Vec<u8>)>,
    /// digest → (bytes, damage)
    pub blobs: HashMap<String, (Vec<u8>, Serve)>,
    /// Every request: (method path, Authorization header).
    pub log: Vec<(String, Option<String>)>,
}

pub struct FakeRegistry {
    pub port: u16,
    pub repo: String,
    pub state: Arc<Mutex<FakeState>>,
}

impl FakeRegistry {
    pub fn start(repo: &str, auth: Auth) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(FakeState::default()));
        let st = state.clone();
        let repo_s = repo.to_string();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                let repo = repo_s.clone();
                std::thread::spawn(move || serve(conn, &st, &repo, auth, port));
            }
        });
        FakeRegistry {
            port,
            repo: repo.into(),
            state,
        }
    }

    pub fn add_image(&self, reference: &str, img: &Image) {
        let mut s = self.state.lock().unwrap();
        s.manifests.insert(
            reference.to_string(),
            (img.manifest_type.clone(), img.manifest.clone()),
        );
        s.manifests.insert(
            img.digest.clone(),
            (img.manifest_type.clone(), img.manifest.clone()),
        );
        for b in std::iter::once(&img.config).chain(&img.layers) {
            s.blobs
                .insert(b.digest.clone(), (b.bytes.clone(), Serve::Intact));
        }
    }

    pub fn damage(&self, digest: &str, how: Serve) {
        self.state.lock().unwrap().blobs.get_mut(digest).unwrap().1 = how;
    }

    pub fn log(&self) -> Vec<(String, Option<String>)> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn reference(&self, tag: &str) -> String {
        format!("127.0.0.1:{}/{}:{tag}", self.port, self.repo)
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(s: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8], send: usize) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(&body[..send.min(body.len())]);
    let _ = s.flush();
}

fn serve(mut conn: TcpStream, st: &Mutex<FakeState>, repo: &str, auth: Auth, port: u16) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut authz = None;
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).is_err() {
            return;
        }
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authz = Some(v.trim().to_string());
            }
        }
    }
    st.lock()
        .unwrap()
        .log
        .push((format!("{method} {target}"), authz.clone()));
    let json = [("Content-Type", "application/json".to_string())];
    if let Some(query) = target.strip_prefix("/token?") {
        let query = percent_decode(query);
        let want_scope = format!("scope=repository:{repo}:pull");
        if auth == Auth::TokenRefused {
            respond(
                &mut conn,
                "401 Unauthorized",
                &json,
                br#"{"details":"access denied"}"#,
                usize::MAX,
            );
        } else if query.contains(&want_scope) && query.contains("service=fake-registry") {
            let body = format!(r#"{{"token":"{TOKEN}","expires_in":300}}"#);
            respond(&mut conn, "200 OK", &json, body.as_bytes(), usize::MAX);
        } else {
            respond(
                &mut conn,
                "400 Bad Request",
                &json,
                format!("bad token request {query}").as_bytes(),
                usize::MAX,
            );
        }
        return;
    }
    if authz.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        let challenge = match auth {
            Auth::Basic => r#"Basic realm="fake""#.to_string(),
            _ => format!(
                r#"Bearer realm="http://127.0.0.1:{port}/token",service="fake-registry",scope="repository:{repo}:pull""#
            ),
        };
        let body = br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#;
        respond(
            &mut conn,
            "401 Unauthorized",
            &[("WWW-Authenticate", challenge), json[0].clone()],
            body,
            usize::MAX,
        );
        return;
    }
    let prefix = format!("/v2/{repo}/");
    let Some(rest) = target.strip_prefix(&prefix) else {
        respond(&mut conn, "404 Not Found", &json, br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#, usize::MAX);
        return;
    };
    let state = st.lock().unwrap();
    if let Some(reference) = rest.strip_prefix("manifests/") {
        match state.manifests.get(reference) {
            Some((ct, bytes)) => {
                let headers = [
                    ("Content-Type", ct.clone()),
                    ("Docker-Content-Digest", digest_of(bytes)),
                ];
                let bytes = bytes.clone();
                drop(state);
                respond(&mut conn, "200 OK", &headers, &bytes, usize::MAX);
            }
            None => {
                drop(state);
                respond(
                    &mut conn,
                    "404 Not Found",
                    &json,
                    br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                    usize::MAX,
                );
            }
        }
        return;
    }
    if let Some(digest) = rest.strip_prefix("blobs/") {
        if let Some((bytes, how)) = state.blobs.get(digest).cloned() {
            drop(state);
            let ct = [("Content-Type", "application/octet-stream".to_string())];
            match how {
                Serve::Intact => respond(&mut conn, "200 OK", &ct, &bytes, usize::MAX),
                Serve::Replace(other) => respond(&mut conn, "200 OK", &ct, &other, usize::MAX),
                Serve::CutAt(n) => respond(&mut conn, "200 OK", &ct, &bytes, n),
            }
            return;
        }
    }
    respond(
        &mut conn,
        "404 Not Found",
        &json,
        br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
        usize::MAX,
    );
}

/// Compile a C program for aarch64 with the cross compiler; `None` when it is missing.
pub fn cross_compile(dir: &Path, name: &str, source: &str, defines: &[&str]) -> Option<PathBuf> {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let out = dir.join(name);
    let status = Command::new("aarch64-linux-gnu-gcc")
        .args(["-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .args(defines)
        .status()
        .ok()?;
    assert!(status.success(), "aarch64-linux-gnu-gcc failed on {name}");
    Some(out)
}
