//! Shared helpers of the CLI integration tests.
#![allow(dead_code)]

pub mod targets;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's top folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The corpus cache (fetched by `../shared/corpus/fetch`).
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("MANYWHEEL_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/manywheel-corpus")
        }
    }
}

/// When set (CI does), missing references fail the tests instead of skipping them.
pub fn references_required() -> bool {
    std::env::var_os("MANYWHEEL_REQUIRE_REFERENCE").is_some_and(|v| v != "0")
}

/// Skip (or, when references are required, fail) with a message.
pub fn skip(why: &str) {
    assert!(!references_required(), "reference missing: {why}");
    eprintln!("SKIP: {why}");
}

/// Every corpus wheel present, sorted.
pub fn corpus_wheels() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "whl"));
    v.sort();
    v
}

/// The reference auditwheel executable, if available.
pub fn auditwheel() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("MANYWHEEL_AUDITWHEEL").map(PathBuf::from),
        Some(repo_root().join(".venv/bin/auditwheel")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

/// Our binary.
pub fn manywheel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_manywheel"))
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
