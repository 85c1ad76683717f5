//! Shared helpers of the integration tests: the reference test cache (downloads kept between
//! runs) and the check that the Debian mirror can be reached.

#![allow(dead_code)]

pub mod fake;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use manywheel_target::fetch::Mirror;
use manywheel_target::Cache;

/// The mirror the reference tests use (`MANYWHEEL_TEST_MIRROR`, default Debian's).
pub fn mirror_url() -> String {
    std::env::var("MANYWHEEL_TEST_MIRROR")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| manywheel_target::DEFAULT_MIRROR.to_string())
}

/// A cache shared between test runs, so only the first run downloads:
/// `MANYWHEEL_TEST_CACHE`, default `~/.cache/manywheel-tests`.
pub fn shared_cache() -> Cache {
    if let Some(dir) = std::env::var_os("MANYWHEEL_TEST_CACHE").filter(|v| !v.is_empty()) {
        return Cache::at(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    Cache::at(home.join(".cache/manywheel-tests"))
}

/// Whether the reference mirror answers (checked once per test binary). When it does not,
/// tests skip with a message, unless `MANYWHEEL_REQUIRE_REFERENCE=1`, which makes them fail.
pub fn mirror_available() -> bool {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    let result = AVAILABLE.get_or_init(|| {
        let url = mirror_url();
        let mirror = Mirror::new(&url).map_err(|e| e.to_string())?;
        // A small request with a deadline: the real downloads use their own timeouts.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(
                mirror
                    .get_bytes("dists/bookworm/Release.gpg", 1 << 20)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            );
        });
        rx.recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| Err(format!("{url}: no answer within 30 s")))
    });
    match result {
        Ok(()) => true,
        Err(e) => {
            let required = std::env::var("MANYWHEEL_REQUIRE_REFERENCE").as_deref() == Ok("1");
            assert!(
                !required,
                "reference mirror unreachable ({e}) and MANYWHEEL_REQUIRE_REFERENCE=1"
            );
            eprintln!("SKIPPED: reference mirror unreachable: {e}");
            false
        }
    }
}
