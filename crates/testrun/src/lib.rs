//! `manywheel test`: run a project's tests against its wheels on every architecture, from an
//! x86_64 host, with the targets of `manywheel target add`.
//!
//! For each architecture of the wheels (one run per target; `--differential` adds a second,
//! emulated run of a natively running target):
//!
//! 1. **Install on the host side.** The wheels are unpacked by our own reader (RECORD hashes
//!    checked) into `site/`; their `Requires-Dist` and the test requirements are installed by
//!    the host's pip into `reqs/` for the *target's* interpreter (`--target DIR --platform TAG…
//!    --only-binary=:all: --python-version X.Y --implementation cp --abi cpXY --abi abi3 --abi
//!    none`, the platform tags being those the target's glibc accepts). pip under qemu would take
//!    30–50 s per package; this takes what a native pip takes.
//! 2. **A shell whose Python is the target's.** A `bin/` folder first on `PATH` holds wrappers
//!    named `python`, `python3`, `python3.X` and every console script of the installed
//!    distributions (`pytest`, …); each runs the target's python3 natively through its own
//!    loader or under `qemu-<arch>-static` (the command [`manywheel_target::Target::command`]
//!    builds), with `PYTHONPATH=site:reqs`. The same test command works for every architecture.
//! 3. **Run** `sh -c COMMAND` for all architectures in parallel, with a timeout of the base
//!    timeout times the architecture's emulation factor, output captured, and classify the
//!    result: `passed`, `failed` (a test failed), `emulator_fault` (qemu reported an uncaught
//!    SIGILL/SIGSEGV/SIGBUS/SIGFPE/SIGTRAP, an unhandled CPU exception or a fatal error),
//!    `timeout`, or `error` (the installation failed). pytest writes a JUnit XML report
//!    (through `PYTEST_ADDOPTS`), from which per-test outcomes are read.
//!
//! Every result says how it ran: native or emulated, the emulator and its version, the CPU
//! model (qemu's default for the architecture in that qemu version, or `QEMU_CPU`; the host's
//! `/proc/cpuinfo` model name natively), the sysroot's distribution, glibc and Python.

mod install;
mod launch;
mod outcome;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use manywheel_policy::Arch;
use manywheel_target::{Cache, Progress, Target};
use serde::Serialize;

pub use install::{host_pip_python, pip_for_target};
pub use launch::{default_cpu_model, emulation_factor};
pub use outcome::{classify_failure, parse_junit, Outcome, TestCounts};

/// Errors before anything ran (bad input, missing target): exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(String),
}

impl From<manywheel_target::Error> for Error {
    fn from(e: manywheel_target::Error) -> Self {
        Error::Usage(e.to_string())
    }
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Io(format!("{}: {e}", path.display()))
}

/// What to test and how.
#[derive(Clone, Debug)]
pub struct Options {
    pub wheels: Vec<PathBuf>,
    /// Only these architectures (required for pure-Python wheels alone).
    pub archs: Vec<Arch>,
    /// Targets by name (their architecture is taken from them); others: the default target
    /// of each architecture.
    pub targets: Vec<String>,
    /// Test requirements (pip requirement specifiers).
    pub requires: Vec<String>,
    /// Shell command; `{project}` and `{arch}` are replaced. Default: import every top-level
    /// module of the wheels.
    pub command: Option<String>,
    pub project: Option<PathBuf>,
    /// Base timeout, multiplied by the emulation factor for emulated runs.
    pub timeout: Duration,
    /// Override of the per-architecture emulation factor.
    pub emulation_factor: Option<f64>,
    /// Natively running targets (x86_64, i686) also run under qemu; outcomes are compared.
    pub differential: bool,
    /// The host Python whose pip installs the requirements (default `$MANYWHEEL_PIP_PYTHON`,
    /// else `python3`).
    pub pip_python: Option<PathBuf>,
    pub qemu_from_path: bool,
    /// Work in this folder and keep it (default: a temporary folder, removed afterwards).
    pub work_dir: Option<PathBuf>,
}

impl Options {
    pub fn new(wheels: Vec<PathBuf>) -> Options {
        Options {
            wheels,
            archs: Vec::new(),
            targets: Vec::new(),
            requires: Vec::new(),
            command: None,
            project: None,
            timeout: Duration::from_secs(300),
            emulation_factor: None,
            differential: false,
            pip_python: None,
            qemu_from_path: false,
            work_dir: None,
        }
    }
}

/// How a run was executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Native,
    Emulated,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Native => "native",
            Mode::Emulated => "emulated",
        })
    }
}

/// The result of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    /// The command failed (a test failed, or it crashed natively).
    Failed,
    /// The failure looks like the emulator's: an uncaught SIGILL/SIGSEGV/SIGBUS/SIGFPE/SIGTRAP
    /// reported by qemu, an unhandled CPU exception, a fatal qemu error.
    EmulatorFault,
    Timeout,
    /// Setting up failed (installing the requirements).
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::EmulatorFault => "emulator_fault",
            Status::Timeout => "timeout",
            Status::Error => "error",
        }
    }
}

/// The emulator of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Emulator {
    /// `qemu-aarch64-static`
    pub name: String,
    pub path: PathBuf,
    /// `7.2.22`
    pub version: String,
    /// The first line of `--version`.
    pub version_line: String,
}

/// Where and how a run ran.
#[derive(Clone, Debug, Serialize)]
pub struct RunEnv {
    pub mode: Mode,
    pub emulator: Option<Emulator>,
    /// CPU model: qemu's (default or `QEMU_CPU`) when emulated, the host's natively.
    pub cpu: String,
    pub target: String,
    /// `debian:bookworm (12.15)` or the image reference.
    pub distro: String,
    pub glibc: Option<String>,
    pub python: Option<String>,
}

/// One run of the command for one architecture.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    pub arch: Arch,
    pub wheels: Vec<String>,
    #[serde(flatten)]
    pub env: RunEnv,
    pub status: Status,
    pub command: String,
    pub exit_code: Option<i32>,
    /// Signal that ended the command (or its last program, as the shell reports it).
    pub signal: Option<i32>,
    pub duration_s: f64,
    pub timeout_s: f64,
    pub emulation_factor: f64,
    /// Per-test counts from pytest's JUnit report, when there is one.
    pub tests: Option<TestCounts>,
    /// Tests that failed or errored.
    pub failed_tests: Vec<String>,
    /// The line that shows an emulator fault, or a crash.
    pub fault: Option<String>,
    /// Why the setup failed (status `error`).
    pub message: Option<String>,
    /// The end of the output (stdout and stderr interleaved).
    pub output_tail: String,
    #[serde(skip)]
    pub outcomes: BTreeMap<String, Outcome>,
}

impl RunResult {
    /// A result of `p`'s wheels that has not run yet (status `error` until it has).
    fn new(p: &ArchPlan, env: RunEnv, command: &str) -> RunResult {
        RunResult {
            arch: p.arch,
            wheels: p.wheels.iter().map(|w| w.file_name.clone()).collect(),
            env,
            status: Status::Error,
            command: command.to_string(),
            exit_code: None,
            signal: None,
            duration_s: 0.0,
            timeout_s: 0.0,
            emulation_factor: 0.0,
            tests: None,
            failed_tests: Vec::new(),
            fault: None,
            message: None,
            output_tail: String::new(),
            outcomes: BTreeMap::new(),
        }
    }

    pub fn label(&self) -> String {
        format!("{} ({})", self.arch, self.env.mode)
    }
}

/// A test whose outcome differs between the native and the emulated run.
#[derive(Clone, Debug, Serialize)]
pub struct Difference {
    pub test: String,
    pub native: String,
    pub emulated: String,
}

/// `--differential` findings for one architecture.
#[derive(Clone, Debug, Serialize)]
pub struct Differential {
    pub arch: Arch,
    /// Tests compared (those with a per-test outcome in either run; 0 when the command is not
    /// pytest, then the two runs' statuses are compared).
    pub compared: usize,
    pub differences: Vec<Difference>,
}

/// Everything `manywheel test` found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub results: Vec<RunResult>,
    pub differential: Vec<Differential>,
    /// Kept work folder (`--work-dir`).
    pub work_dir: Option<PathBuf>,
    /// 0 all passed, 1 something failed or differs, 2 a setup error.
    pub exit_code: u8,
}

/// A wheel to install, as planned.
#[derive(Clone, Debug)]
struct WheelPlan {
    path: PathBuf,
    file_name: String,
    dist: String,
    modules: Vec<String>,
    requires: Vec<String>,
}

/// One architecture's runs.
struct ArchPlan {
    arch: Arch,
    cache: Cache,
    target: Target,
    wheels: Vec<WheelPlan>,
    python: (u32, u32),
    python_full: Option<String>,
    platforms: Vec<String>,
    modes: Vec<Mode>,
}

/// Live state of the runs, for the progress display.
struct Board {
    progress: Progress,
    rows: Mutex<Vec<(String, String, Instant)>>,
}

impl Board {
    fn set(&self, label: &str, phase: &str) {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        match rows.iter_mut().find(|r| r.0 == label) {
            Some(r) => {
                r.1 = phase.to_string();
                r.2 = Instant::now();
            }
            None => rows.push((label.to_string(), phase.to_string(), Instant::now())),
        }
        drop(rows);
        self.progress.log(&format!("{label}: {phase}"));
        self.draw();
    }

    fn done(&self, label: &str, r: &RunResult) {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.retain(|r| r.0 != label);
        drop(rows);
        self.progress.log(&format!(
            "{label}: {} ({:.1} s)",
            r.status.as_str(),
            r.duration_s
        ));
        self.draw();
    }

    fn draw(&self) {
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        if rows.is_empty() {
            self.progress.clear();
            return;
        }
        let text: Vec<String> = rows
            .iter()
            .map(|(l, p, t)| format!("{l}: {p} {}s", t.elapsed().as_secs()))
            .collect();
        self.progress
            .status(&format!("testing  {}", text.join("  |  ")), true);
    }
}

/// Plan, install, run and compare. Input errors come back as `Err` before anything runs; a
/// failed setup of one architecture is a result with status `error`.
pub fn run(cache: &Cache, opts: &Options, progress: Progress) -> Result<Report, Error> {
    let plans = plan(cache, opts)?;
    let command_template = opts.command.clone();
    if let Some(c) = &command_template {
        if c.contains("{project}") && opts.project.is_none() {
            return Err(Error::Usage(
                "the command uses {project}: give the project folder with --project DIR".into(),
            ));
        }
    }
    let project = match &opts.project {
        Some(p) => Some(
            p.canonicalize()
                .map_err(|e| Error::Usage(format!("--project {}: {e}", p.display())))?,
        ),
        None => None,
    };
    if project.as_ref().is_some_and(|p| !p.is_dir()) {
        return Err(Error::Usage(format!(
            "--project {}: not a folder",
            opts.project
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string())
        )));
    }
    // Where the work happens.
    let (_tmp, work): (Option<tempfile::TempDir>, PathBuf) = match &opts.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| io_err(d, e))?;
            let d = d.canonicalize().map_err(|e| io_err(d, e))?;
            (None, d)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("manywheel-test-")
                .tempdir()
                .map_err(|e| Error::Io(format!("temporary folder: {e}")))?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    let board = Board {
        progress,
        rows: Mutex::new(Vec::new()),
    };
    let finished = std::sync::atomic::AtomicBool::new(false);
    let results: Mutex<Vec<RunResult>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        // Redraw the elapsed times on a terminal.
        scope.spawn(|| {
            while !finished.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(500));
                board.draw();
            }
        });
        let mut handles = Vec::new();
        for p in &plans {
            let board = &board;
            let results = &results;
            let work = &work;
            let project = project.as_deref();
            let command_template = command_template.as_deref();
            handles.push(scope.spawn(move || {
                let r = run_arch(p, opts, work, project, command_template, board);
                results.lock().unwrap_or_else(|e| e.into_inner()).extend(r);
            }));
        }
        for h in handles {
            let _ = h.join();
        }
        finished.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    board.progress.clear();
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|r| (r.arch, r.env.mode == Mode::Emulated));
    let mut differential = Vec::new();
    if opts.differential {
        for p in plans.iter().filter(|p| p.modes.len() == 2) {
            let native = results
                .iter()
                .find(|r| r.arch == p.arch && r.env.mode == Mode::Native);
            let emulated = results
                .iter()
                .find(|r| r.arch == p.arch && r.env.mode == Mode::Emulated);
            if let (Some(n), Some(e)) = (native, emulated) {
                differential.push(outcome::compare(p.arch, n, e));
            }
        }
    }
    let exit_code = if results.iter().any(|r| r.status == Status::Error) {
        2
    } else if results.iter().any(|r| r.status != Status::Passed)
        || differential.iter().any(|d| !d.differences.is_empty())
    {
        1
    } else {
        0
    };
    Ok(Report {
        results,
        differential,
        work_dir: opts.work_dir.as_ref().map(|_| work.clone()),
        exit_code,
    })
}

/// Read the wheels, choose the targets, check that each target's Python accepts its wheels.
fn plan(cache: &Cache, opts: &Options) -> Result<Vec<ArchPlan>, Error> {
    if opts.wheels.is_empty() {
        return Err(Error::Usage("no wheel given".into()));
    }
    let mut named: BTreeMap<Arch, Target> = BTreeMap::new();
    for name in &opts.targets {
        let t = Target::open(cache, name)?;
        if named.insert(t.arch(), t).is_some() {
            return Err(Error::Usage(format!(
                "--target {name}: another --target is for the same architecture"
            )));
        }
    }
    let mut restrict: Vec<Arch> = opts.archs.clone();
    for a in named.keys() {
        if !restrict.is_empty() && !restrict.contains(a) {
            restrict.push(*a);
        }
    }
    let mut binary: BTreeMap<Arch, Vec<WheelPlan>> = BTreeMap::new();
    let mut pure: Vec<WheelPlan> = Vec::new();
    for path in &opts.wheels {
        let (w, arch) = install::read_wheel(path)?;
        match arch {
            Some(a) => binary.entry(a).or_default().push(w),
            None => pure.push(w),
        }
    }
    let mut archs: Vec<Arch> = if restrict.is_empty() {
        binary.keys().copied().collect()
    } else {
        let mut v = restrict.clone();
        v.sort();
        v.dedup();
        v
    };
    if archs.is_empty() {
        return Err(Error::Usage(
            "only pure-Python wheels: name the architectures to test on with --arch".into(),
        ));
    }
    if !restrict.is_empty()
        && !binary.is_empty()
        && binary.keys().all(|a| !restrict.contains(a))
        && pure.is_empty()
    {
        return Err(Error::Usage(format!(
            "no wheel for {} (the wheels are for {})",
            join_archs(&restrict),
            join_archs(&binary.keys().copied().collect::<Vec<_>>())
        )));
    }
    archs.retain(|a| binary.contains_key(a) || !pure.is_empty());
    if archs.is_empty() {
        return Err(Error::Usage(format!(
            "no wheel for {}",
            join_archs(&restrict)
        )));
    }
    let host = manywheel_target::sysroot::host_arch()?;
    let mut plans = Vec::new();
    for arch in archs {
        let target = match named.remove(&arch) {
            Some(t) => t,
            None => Target::find(cache, arch, None)?,
        };
        let m = &target.manifest;
        let python_full = m.python_version.clone();
        let python = python_full.as_deref().and_then(parse_xy).ok_or_else(|| {
            Error::Usage(format!(
                "target {} records no Python version (see `manywheel target list`)",
                target.name
            ))
        })?;
        let platforms = glibc_platforms(&target)?;
        let mut wheels: Vec<WheelPlan> = binary.get(&arch).cloned().unwrap_or_default();
        wheels.extend(pure.iter().cloned());
        for w in &wheels {
            install::check_compatible(w, python, &platforms, &target.name)?;
        }
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for w in &wheels {
            if let Some(other) = seen.insert(&w.dist, &w.file_name) {
                return Err(Error::Usage(format!(
                    "{} and {other} are both for {arch}: give one wheel of a distribution per architecture",
                    w.file_name
                )));
            }
        }
        let native = manywheel_target::sysroot::runs_natively(host, arch);
        let modes = if native && opts.differential {
            vec![Mode::Native, Mode::Emulated]
        } else if native {
            vec![Mode::Native]
        } else {
            vec![Mode::Emulated]
        };
        plans.push(ArchPlan {
            arch,
            cache: cache.clone(),
            target,
            wheels,
            python,
            python_full,
            platforms,
            modes,
        });
    }
    if opts.differential && !plans.iter().any(|p| p.modes.len() == 2) {
        return Err(Error::Usage(format!(
            "--differential compares a native run with an emulated one: it needs a wheel for {} (or i686), not only for {}",
            host,
            join_archs(&plans.iter().map(|p| p.arch).collect::<Vec<_>>())
        )));
    }
    Ok(plans)
}

/// The platform tags a glibc target accepts, most preferred first (read from its manifest).
pub fn glibc_platforms(target: &Target) -> Result<Vec<String>, Error> {
    let glibc = target
        .manifest
        .glibc_version
        .as_deref()
        .and_then(parse_xy)
        .ok_or_else(|| {
            Error::Usage(format!(
                "target {} records no glibc version; only glibc targets can be tested",
                target.name
            ))
        })?;
    Ok(manywheel_compat::tags::platform_tags(
        manywheel_policy::Libc::Glibc,
        glibc,
        target.arch(),
        true,
        manywheel_compat::tags::LinuxTagPlace::Last,
    ))
}

fn join_archs(a: &[Arch]) -> String {
    a.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
}

/// `3.11.2` → (3, 11)
fn parse_xy(v: &str) -> Option<(u32, u32)> {
    let mut it = v.split('.');
    let x = it.next()?.trim().parse().ok()?;
    let y: String = it
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((x, y.parse().ok()?))
}

/// Install and run everything of one architecture.
fn run_arch(
    p: &ArchPlan,
    opts: &Options,
    work: &Path,
    project: Option<&Path>,
    command_template: Option<&str>,
    board: &Board,
) -> Vec<RunResult> {
    let dir = work.join(p.arch.name());
    let first_label = format!("{} ({})", p.arch, p.modes[0]);
    board.set(&first_label, "installing");
    let installed = install::install(p, opts, &dir);
    let command = match (&installed, command_template) {
        (_, Some(c)) => expand(c, project, p.arch),
        (Ok(inst), None) => inst.smoke_command.clone(),
        (Err(_), None) => String::new(),
    };
    let envs: Vec<Result<(RunEnv, launch::Launcher), String>> = p
        .modes
        .iter()
        .map(|&mode| launch::prepare(p, opts, mode, &dir))
        .collect();
    let mut out = Vec::new();
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (mode, env) in p.modes.iter().zip(envs) {
            let installed = &installed;
            let command = &command;
            let dir = &dir;
            handles.push(scope.spawn(move || {
                let label = format!("{} ({mode})", p.arch);
                let result = match (installed, env) {
                    (Err(e), env) => setup_error(p, *mode, env.ok().map(|e| e.0), command, e),
                    (Ok(_), Err(e)) => setup_error(p, *mode, None, command, &e),
                    (Ok(inst), Ok((env, launcher))) => {
                        board.set(&label, "running");
                        launch::execute(p, opts, inst, env, &launcher, command, project, dir)
                    }
                };
                board.done(&label, &result);
                result
            }));
        }
        for h in handles {
            if let Ok(r) = h.join() {
                out.push(r);
            }
        }
    });
    out
}

fn setup_error(
    p: &ArchPlan,
    mode: Mode,
    env: Option<RunEnv>,
    command: &str,
    message: &str,
) -> RunResult {
    let env = env.unwrap_or_else(|| RunEnv {
        mode,
        emulator: None,
        cpu: String::new(),
        target: p.target.name.clone(),
        distro: launch::distro_label(&p.target),
        glibc: p.target.manifest.glibc_version.clone(),
        python: p.python_full.clone(),
    });
    let mut r = RunResult::new(p, env, command);
    r.message = Some(message.to_string());
    r
}

/// Replace `{project}` and `{arch}` (shell-quoted).
fn expand(command: &str, project: Option<&Path>, arch: Arch) -> String {
    let mut c = command.replace("{arch}", arch.name());
    if let Some(p) = project {
        c = c.replace("{project}", &launch::sh_quote(&p.to_string_lossy()));
    }
    c
}

/// One line saying what happened and how it ran.
pub fn summary_line(r: &RunResult) -> String {
    let word = match r.status {
        Status::Passed => "PASS",
        Status::Failed => "FAIL",
        Status::EmulatorFault => "EMULATOR FAULT",
        Status::Timeout => "TIMEOUT",
        Status::Error => "ERROR",
    };
    let mut how = vec![r.env.mode.to_string()];
    if let Some(e) = &r.env.emulator {
        how.push(format!("{} {}", e.name, e.version));
    }
    if !r.env.cpu.is_empty() {
        how.push(format!("cpu {}", r.env.cpu));
    }
    how.push(r.env.distro.clone());
    if let Some(g) = &r.env.glibc {
        how.push(format!("glibc {g}"));
    }
    if let Some(py) = &r.env.python {
        how.push(format!("Python {py}"));
    }
    let mut line = format!("{word} {}: {}", r.arch, how.join(", "));
    if r.status != Status::Error {
        line.push_str(&format!(" ({:.1} s", r.duration_s));
        if let Some(t) = &r.tests {
            line.push_str(&format!("; {t}"));
        }
        line.push(')');
    }
    if let Some(f) = &r.fault {
        line.push_str(&format!(" — {f}"));
    }
    if let Some(m) = &r.message {
        line.push_str(&format!(" — {m}"));
    }
    if r.status == Status::Timeout {
        line.push_str(&format!(
            " — timed out after {:.0} s ({:.0}× the base timeout)",
            r.timeout_s, r.emulation_factor
        ));
    }
    line
}
