//! Targets added from the Debian mirror into a cache shared between test runs
//! (`MANYWHEEL_TEST_CACHE`, default ~/.cache/manywheel-tests; only the first run downloads).
//! Skipped when the mirror is unreachable, unless MANYWHEEL_REQUIRE_REFERENCE=1.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// `manywheel` with its cache set to `cache`.
pub fn manywheel_in(cache: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("manywheel").unwrap();
    cmd.env("MANYWHEEL_CACHE", cache)
        .env_remove("XDG_CACHE_HOME");
    cmd
}

/// The shared cache of the online tests, or `None` (skip) when the mirror is unreachable.
pub fn online_cache() -> Option<PathBuf> {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    let url = std::env::var("MANYWHEEL_TEST_MIRROR")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| manywheel_target::DEFAULT_MIRROR.to_string());
    let result = AVAILABLE.get_or_init(|| {
        let mirror = manywheel_target::fetch::Mirror::new(&url).map_err(|e| e.to_string())?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let r = mirror.get_bytes("dists/bookworm/Release.gpg", 1 << 20);
            let _ = tx.send(r.map(|_| ()).map_err(|e| e.to_string()));
        });
        rx.recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| Err(format!("{url}: no answer within 30 s")))
    });
    if let Err(e) = result {
        assert!(
            !super::references_required(),
            "mirror unreachable ({e}) and MANYWHEEL_REQUIRE_REFERENCE=1"
        );
        eprintln!("SKIPPED: mirror unreachable: {e}");
        return None;
    }
    Some(
        match std::env::var_os("MANYWHEEL_TEST_CACHE").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
                .join(".cache/manywheel-tests"),
        },
    )
}

/// Add a bookworm target (a no-op when the shared cache has it) and return the cache.
pub fn with_target(arch: &str) -> Option<PathBuf> {
    let cache = online_cache()?;
    let mut cmd = manywheel_in(&cache);
    cmd.args(["target", "add", arch, "--quiet"])
        .env("MANYWHEEL_TEST_MIRROR", "")
        .timeout(Duration::from_secs(1200));
    if let Ok(url) = std::env::var("MANYWHEEL_TEST_MIRROR") {
        if !url.is_empty() {
            cmd.args(["--mirror", &url]);
        }
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "target add {arch}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        PathBuf::from(&path).join("manifest.json").is_file(),
        "{path}"
    );
    Some(cache)
}
