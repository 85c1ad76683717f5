//! The provenance record written next to every wheel (`<wheel>.provenance.json`): how it was
//! built (mode, interpreter, compiler and their versions, where each ran), from what (the
//! target sysroot's manifest digest and tree digest, the emulator), what repair did, and the
//! test outcome labelled native or emulated.

use std::path::Path;

use manywheel_repair::RepairOutcome;
use manywheel_target::{Cache, Target};
use serde::Serialize;

use crate::BuildError;

#[derive(Clone, Debug, Serialize)]
pub struct Provenance {
    pub format: u32,
    pub wheel: String,
    pub sha256: String,
    pub id: String,
    pub arch: String,
    pub python: String,
    /// `cross`, `hybrid` or `emulated`.
    pub mode: String,
    pub backend: String,
    pub build_requires: Vec<String>,
    pub compiler: Compiler,
    pub interpreter: Interpreter,
    pub target: TargetRecord,
    pub emulator: Option<Emulator>,
    pub repair: RepairRecord,
    pub test: Option<TestRecord>,
    pub seconds: Seconds,
    pub manywheel_version: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Compiler {
    /// The C compiler command the backend was given.
    pub cc: String,
    pub cxx: String,
    /// The compiler that did the work.
    pub program: String,
    /// Its `--version` line.
    pub version: String,
    /// `native` or `emulated`.
    pub runs: String,
    /// Compiler-cache hits and misses of this build (`None`: no cache).
    pub cache: Option<crate::cc_cache::Stats>,
}

/// The Python that ran the build backend.
#[derive(Clone, Debug, Serialize)]
pub struct Interpreter {
    pub path: String,
    pub version: String,
    /// `native` or `emulated`.
    pub runs: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct TargetRecord {
    pub name: String,
    pub distro: String,
    pub glibc: Option<String>,
    pub python: Option<String>,
    /// `sha256:` of the target's manifest.json (its package list with versions and hashes).
    pub manifest_sha256: String,
    /// The manifest's digest of the whole tree.
    pub tree_digest: String,
    pub packages: usize,
}

impl TargetRecord {
    pub fn of(t: &Target) -> Result<TargetRecord, BuildError> {
        let manifest = t.root.join("manifest.json");
        Ok(TargetRecord {
            name: t.name.clone(),
            distro: format!("{}:{}", t.manifest.distro, t.manifest.suite),
            glibc: t.manifest.glibc_version.clone(),
            python: t.manifest.python_version.clone(),
            manifest_sha256: format!("sha256:{}", crate::sha256_file(&manifest)?),
            tree_digest: t.manifest.tree_digest.clone(),
            packages: t.manifest.packages.len(),
        })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Emulator {
    pub path: String,
    pub package: String,
    pub version: String,
    pub sha256: String,
}

/// The emulator a foreign target runs under (`None` when it runs natively).
pub fn emulator(t: &Target, cache: &Cache, native: bool) -> Option<Emulator> {
    if native {
        return None;
    }
    let q = t.manifest.qemu.as_ref()?;
    Some(Emulator {
        path: cache.root().join(&q.file).display().to_string(),
        package: q.package.clone(),
        version: q.version.clone(),
        sha256: q.sha256.clone(),
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct RepairRecord {
    /// `manywheel`, `command` or `none`.
    pub by: String,
    pub policy: Option<String>,
    pub platform_tags: Vec<String>,
    /// Grafted libraries: `DT_NEEDED name -> member`.
    pub grafted: Vec<(String, String)>,
    pub note: Option<String>,
}

impl RepairRecord {
    pub fn of(o: &RepairOutcome) -> RepairRecord {
        RepairRecord {
            by: "manywheel".into(),
            policy: Some(o.policy.clone()),
            platform_tags: o.platform_tags.clone(),
            grafted: o
                .grafted
                .iter()
                .map(|g| (g.soname.clone(), g.member.clone()))
                .collect(),
            note: None,
        }
    }

    pub fn command(c: &str) -> RepairRecord {
        RepairRecord {
            by: "command".into(),
            policy: None,
            platform_tags: vec![],
            grafted: vec![],
            note: Some(c.into()),
        }
    }

    pub fn skipped(why: &str) -> RepairRecord {
        RepairRecord {
            by: "none".into(),
            policy: None,
            platform_tags: vec![],
            grafted: vec![],
            note: Some(why.into()),
        }
    }
}

/// The outcome of `test-command` on the repaired wheel (run by `manywheel-testrun`).
#[derive(Clone, Debug, Serialize)]
pub struct TestRecord {
    pub command: String,
    pub passed: bool,
    pub skipped: bool,
    /// `passed`, `failed`, `emulator_fault`, `timeout`, `error` or `skipped`.
    pub status: String,
    /// `native` or `emulated`: how the target's CPython ran the test.
    pub how: String,
    /// `qemu-aarch64-static 7.2.22` when emulated.
    pub emulator: Option<String>,
    /// The CPU model the test saw (qemu's, or the host's natively).
    pub cpu: String,
    /// Per-test counts when the command ran pytest.
    pub tests: Option<manywheel_testrun::TestCounts>,
    pub failed_tests: Vec<String>,
    /// qemu's fault line, or the crash.
    pub fault: Option<String>,
    pub seconds: f64,
    pub output_tail: String,
}

impl TestRecord {
    pub fn skipped(command: &str, how: &str) -> TestRecord {
        TestRecord {
            command: command.into(),
            passed: true,
            skipped: true,
            status: "skipped".into(),
            how: how.into(),
            emulator: None,
            cpu: String::new(),
            tests: None,
            failed_tests: Vec::new(),
            fault: None,
            seconds: 0.0,
            output_tail: String::new(),
        }
    }

    pub fn of(command: &str, r: &manywheel_testrun::RunResult) -> TestRecord {
        let lines: Vec<&str> = r.output_tail.lines().collect();
        TestRecord {
            command: command.into(),
            passed: r.status == manywheel_testrun::Status::Passed,
            skipped: false,
            status: r.status.as_str().into(),
            how: r.env.mode.to_string(),
            emulator: r
                .env
                .emulator
                .as_ref()
                .map(|e| format!("{} {}", e.name, e.version)),
            cpu: r.env.cpu.clone(),
            tests: r.tests,
            failed_tests: r.failed_tests.clone(),
            fault: r.fault.clone().or_else(|| r.message.clone()),
            seconds: r.duration_s,
            output_tail: lines[lines.len().saturating_sub(20)..].join("\n"),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Seconds {
    /// Making sure the target sysroot has what the build needs.
    pub target: f64,
    /// The backend's build (requirements hook and build_wheel).
    pub build: f64,
    pub repair: f64,
    pub total: f64,
}

/// Read a provenance file back (for tests and tools).
pub fn read(path: &Path) -> Result<serde_json::Value, BuildError> {
    let text = std::fs::read_to_string(path).map_err(|e| BuildError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| BuildError::Failed(format!("{}: {e}", path.display())))
}
