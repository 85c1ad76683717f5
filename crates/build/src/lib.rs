//! `manywheel build`: turn a Python project's source tree into repaired wheels for every
//! (architecture, CPython) cell of its matrix, from one x86_64 host, without Docker.
//!
//! Per cell, in one of three modes (chosen per cell and recorded):
//! - **cross**: the host's CPython of the target's version runs the PEP 517 backend with the
//!   *target's* configuration: a copy of the target CPython's `_sysconfigdata_*.py` whose
//!   compiler variables name the host's cross compiler with `--sysroot=<target sysroot>` and
//!   whose include/library folders are the sysroot's, selected with
//!   `_PYTHON_SYSCONFIGDATA_NAME`, and `_PYTHON_HOST_PLATFORM=linux-<arch>`; so the extension
//!   suffix, the platform tag and the headers are the target's.
//! - **hybrid**: the target's CPython runs the backend under emulation, but the compilers it
//!   starts are wrappers (first on PATH) that run the host's cross compiler.
//! - **emulated**: everything runs in the target: its CPython and its own GCC (driver, cc1,
//!   as, ld) under qemu-user (natively through the target's loader for x86_64/i686). The
//!   reference, and the fallback when the host lacks a cross compiler.
//!
//! Then every wheel is repaired with [`manywheel_repair::repair_wheel`] against the target
//! sysroot, optionally tested (`test-command`) with the target's CPython, and written with a
//! provenance record (`<wheel>.provenance.json`).

pub mod cc_cache;
pub mod config;
pub mod meson;
pub mod plan;
pub mod provenance;
pub mod sdist;
mod shell;
pub mod toolchain;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use manywheel_audit::AuditOptions;
use manywheel_policy::Arch;
use manywheel_repair::{repair_wheel, RepairError, RepairOptions};
use manywheel_target::{AddOptions, Cache, Progress, Target};
use manywheel_wheel::WriteOptions;
use sha2::{Digest, Sha256};

pub use config::Config;
pub use plan::{plan, Cell, PlanFormat, PlanRequest};
pub use provenance::Provenance;

use toolchain::Compilers;

const DRIVER_PY: &str = include_str!("py/pep517_driver.py");
const SYSCONFIG_GEN_PY: &str = include_str!("py/sysconfig_gen.py");

/// Errors: usage/input errors (exit 2) and failed builds (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Bad arguments or project configuration.
    #[error("{0}")]
    Usage(String),
    /// A target could not be made or used.
    #[error("{0}")]
    Target(String),
    /// A step of a cell failed (the build, the repair, a test).
    #[error("{0}")]
    Failed(String),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
}

impl BuildError {
    pub(crate) fn io(path: &Path, e: std::io::Error) -> BuildError {
        BuildError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }

    /// Whether this is a failed check (exit 1) rather than bad input (exit 2).
    pub fn is_failure(&self) -> bool {
        matches!(self, BuildError::Failed(_))
    }
}

/// How a cell is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Cross if the host has the CPython and the cross compiler, else hybrid, else emulated.
    Auto,
    Cross,
    Hybrid,
    Emulated,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, BuildError> {
        Ok(match s {
            "auto" => Mode::Auto,
            "cross" => Mode::Cross,
            "hybrid" => Mode::Hybrid,
            "emulated" => Mode::Emulated,
            _ => {
                return Err(BuildError::Usage(format!(
                    "unknown mode {s:?} (auto, cross, hybrid, emulated)"
                )))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Cross => "cross",
            Mode::Hybrid => "hybrid",
            Mode::Emulated => "emulated",
        }
    }
}

/// What to build.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub project: PathBuf,
    pub request: PlanRequest,
    /// The policy to repair to (`None`/`auto`: the most compatible the sysroot allows).
    pub plat: Option<String>,
    pub wheel_dir: PathBuf,
    pub mode: Mode,
    /// Cells built at once.
    pub jobs: usize,
    pub cache: Cache,
    pub mirror: String,
    /// Run the configured `test-command` on each wheel.
    pub run_tests: bool,
    /// No progress messages on stderr.
    pub quiet: bool,
    /// The command that runs [`cc_cache::main`] (`[manywheel, __cc]`): compilations go through
    /// the compiler cache. `None`: no cache.
    pub cc_launcher: Option<Vec<String>>,
    /// Debian packages added to every target besides the configuration's `target-packages`.
    pub packages: Vec<String>,
}

/// The outcome of one cell.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CellReport {
    pub id: String,
    pub arch: String,
    pub python: String,
    /// The mode used (absent when the cell failed before one was chosen).
    pub mode: Option<Mode>,
    pub ok: bool,
    /// The repaired wheel in the wheelhouse.
    pub wheel: Option<PathBuf>,
    pub provenance_file: Option<PathBuf>,
    pub provenance: Option<Provenance>,
    pub error: Option<String>,
    /// True when the error is a usage/input problem rather than a failed step.
    #[serde(skip)]
    pub usage_error: bool,
}

/// Build every planned cell; cells run `jobs` at a time. A failed cell does not stop the
/// others. Errors returned here concern the whole run (bad project, bad options).
pub fn build(opts: &BuildOptions) -> Result<Vec<CellReport>, BuildError> {
    let project = sdist::project_dir(&opts.cache, &opts.project)?;
    let opts = &BuildOptions {
        project,
        ..opts.clone()
    };
    let cfg = Config::load(&opts.project)?;
    let cells = plan(&cfg, &opts.request)?;
    if cells.is_empty() {
        return Err(BuildError::Usage(
            "nothing to build: the build/skip selectors exclude every cell".into(),
        ));
    }
    let progress = if opts.quiet {
        Progress::quiet()
    } else {
        Progress::stderr()
    };
    for key in &cfg.ignored {
        progress.message(&format!("warning: {key} is not supported and is ignored"));
    }
    fs::create_dir_all(&opts.wheel_dir).map_err(|e| BuildError::io(&opts.wheel_dir, e))?;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<CellReport>>> = Mutex::new(vec![None; cells.len()]);
    let jobs = opts.jobs.clamp(1, cells.len());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(cell) = cells.get(i) else { return };
                let started = Instant::now();
                progress.message(&format!("{}: building", cell.id));
                let report = match build_cell(&cfg, cell, opts, &progress) {
                    Ok((mode, wheel, prov_file, prov)) => {
                        progress.message(&format!(
                            "{}: {} ({}, {:.1} s)",
                            cell.id,
                            wheel.display(),
                            mode.name(),
                            started.elapsed().as_secs_f64()
                        ));
                        CellReport {
                            id: cell.id.clone(),
                            arch: cell.arch.name().into(),
                            python: cell.python.clone(),
                            mode: Some(mode),
                            ok: prov.test.as_ref().is_none_or(|t| t.passed),
                            wheel: Some(wheel),
                            provenance_file: Some(prov_file),
                            provenance: Some(*prov),
                            error: None,
                            usage_error: false,
                        }
                    }
                    Err((mode, e)) => CellReport {
                        id: cell.id.clone(),
                        arch: cell.arch.name().into(),
                        python: cell.python.clone(),
                        mode,
                        ok: false,
                        wheel: None,
                        provenance_file: None,
                        provenance: None,
                        usage_error: !e.is_failure(),
                        error: Some(e.to_string()),
                    },
                };
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(report);
            });
        }
    });
    Ok(results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every cell ran"))
        .collect())
}

/// Decide the mode of a cell from the request and what the host has.
fn choose_mode(
    requested: Mode,
    cell: &Cell,
) -> Result<
    (
        Mode,
        Option<toolchain::HostPython>,
        Option<toolchain::CrossCompiler>,
    ),
    BuildError,
> {
    let py = toolchain::host_python(&cell.python);
    let cc = toolchain::cross_compiler(cell.arch);
    let prefix = toolchain::tool_prefix(cell.arch);
    let need_cc = || {
        BuildError::Usage(format!(
            "{}: no cross compiler {prefix}-gcc on PATH (Debian: apt-get install gcc-{prefix} g++-{prefix}); use --mode emulated",
            cell.id
        ))
    };
    match requested {
        Mode::Auto => Ok(match (&py, &cc) {
            (Some(_), Some(_)) => (Mode::Cross, py, cc),
            (None, Some(_)) => (Mode::Hybrid, None, cc),
            _ => (Mode::Emulated, None, None),
        }),
        Mode::Cross => {
            let cc = cc.ok_or_else(need_cc)?;
            let py = py.ok_or_else(|| {
                BuildError::Usage(format!(
                    "{}: cross mode needs a host CPython {} (none found on PATH, in pyenv or /usr/bin; set MANYWHEEL_HOST_PYTHON); use --mode hybrid",
                    cell.id, cell.python
                ))
            })?;
            Ok((Mode::Cross, Some(py), Some(cc)))
        }
        Mode::Hybrid => Ok((Mode::Hybrid, py, Some(cc.ok_or_else(need_cc)?))),
        Mode::Emulated => Ok((Mode::Emulated, py, None)),
    }
}

/// The Debian packages a cell's target needs.
fn target_packages(cfg: &Config, cell: &Cell, mode: Mode) -> Vec<String> {
    let mut p: Vec<String> = manywheel_target::sysroot::RUNTIME_PACKAGES
        .iter()
        .map(|p| p.to_string())
        .collect();
    p.push("libc6-dev".into());
    p.push(format!("libpython{}-dev", cell.python));
    if mode == Mode::Emulated {
        p.push("gcc".into());
        p.push("g++".into());
    }
    for x in &cfg.target_packages {
        if !p.contains(x) {
            p.push(x.clone());
        }
    }
    p
}

type CellOk = (Mode, PathBuf, PathBuf, Box<Provenance>);

fn build_cell(
    cfg: &Config,
    cell: &Cell,
    opts: &BuildOptions,
    progress: &Progress,
) -> Result<CellOk, (Option<Mode>, BuildError)> {
    let (mode, host_py, cross) = choose_mode(opts.mode, cell).map_err(|e| (None, e))?;
    build_cell_in(cfg, cell, opts, progress, mode, host_py, cross).map_err(|e| (Some(mode), e))
}

/// A run of a command whose output goes to a log file; the error carries the log's tail.
fn run_logged(cmd: &mut Command, log: &Path, what: &str) -> Result<(), BuildError> {
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| BuildError::io(log, e))?;
    let err = file.try_clone().map_err(|e| BuildError::io(log, e))?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(|e| BuildError::Failed(format!("{what}: cannot start: {e}")))?;
    if status.success() {
        return Ok(());
    }
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(25)..].join("\n");
    Err(BuildError::Failed(format!(
        "{what} failed ({status}); last lines of its output:\n{tail}"
    )))
}

/// Copy the project tree, leaving out version-control folders, build output and caches.
fn copy_tree(from: &Path, to: &Path, skip: &[PathBuf]) -> Result<(), BuildError> {
    fs::create_dir_all(to).map_err(|e| BuildError::io(to, e))?;
    let entries = fs::read_dir(from).map_err(|e| BuildError::io(from, e))?;
    for e in entries {
        let e = e.map_err(|e| BuildError::io(from, e))?;
        let name = e.file_name();
        let n = name.to_string_lossy();
        let path = e.path();
        let skipped = [
            ".git",
            ".hg",
            ".svn",
            "build",
            "dist",
            ".venv",
            "venv",
            "__pycache__",
            ".tox",
            ".nox",
            "wheelhouse",
            ".eggs",
        ]
        .contains(&n.as_ref())
            || n.ends_with(".egg-info")
            || skip
                .iter()
                .any(|s| path.canonicalize().is_ok_and(|p| p == *s));
        if skipped {
            continue;
        }
        let ft = e.file_type().map_err(|e| BuildError::io(&path, e))?;
        let dest = to.join(&name);
        if ft.is_dir() {
            copy_tree(&path, &dest, skip)?;
        } else if ft.is_symlink() {
            let t = fs::read_link(&path).map_err(|e| BuildError::io(&path, e))?;
            std::os::unix::fs::symlink(t, &dest).map_err(|e| BuildError::io(&dest, e))?;
        } else {
            fs::copy(&path, &dest).map_err(|e| BuildError::io(&path, e))?;
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn sha256_file(path: &Path) -> Result<String, BuildError> {
    let mut f = fs::File::open(path).map_err(|e| BuildError::io(path, e))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| BuildError::io(path, e))?;
    Ok(hex(&h.finalize()))
}

/// Install `requires` into a folder of the cache (made once per requirement set, interpreter
/// version and platform; reused afterwards). For a foreign interpreter pip selects wheels for
/// the target's platform.
fn requirements_dir(
    cache: &Cache,
    requires: &[String],
    cell: &Cell,
    for_host: Option<&toolchain::HostPython>,
    target_platforms: &[String],
    log: &Path,
) -> Result<PathBuf, BuildError> {
    let mut sorted = requires.to_vec();
    sorted.sort();
    let platform = match for_host {
        Some(p) => format!("host-{}", p.version),
        None => format!("{}-{}", cell.python, cell.arch.name()),
    };
    let key = hex(&Sha256::digest(format!(
        "{platform}\n{}\n{}",
        // The target's tags choose what pip installs, unless it installs for the host.
        match for_host {
            Some(_) => "",
            None => target_platforms.first().map_or("", String::as_str),
        },
        sorted.join("\n")
    )))[..16]
        .to_string();
    let dir = cache
        .root()
        .join("build/requires")
        .join(format!("{platform}-{key}"));
    if dir.join(".complete").is_file() {
        return Ok(dir);
    }
    let parent = dir.parent().expect("has a parent");
    fs::create_dir_all(parent).map_err(|e| BuildError::io(parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(parent)
        .map_err(|e| BuildError::io(parent, e))?;
    if !sorted.is_empty() {
        // Looked for only now: `python -m pip --version` costs a few tenths of a second.
        let pip_python = manywheel_testrun::host_pip_python(for_host.map(|p| p.path.as_path()))
            .ok_or_else(|| {
                BuildError::Failed(
                "no host Python with pip to install the build requirements (install python3-pip)"
                    .into(),
            )
            })?;
        let mut cmd = match for_host {
            Some(_) => {
                let mut c = Command::new(&pip_python);
                c.args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(["--no-warn-script-location", "--target"])
                .arg(tmp.path())
                .env("PIP_ROOT_USER_ACTION", "ignore");
                c
            }
            None => manywheel_testrun::pip_for_target(
                &pip_python,
                tmp.path(),
                cell.python_xy(),
                target_platforms,
            ),
        };
        cmd.args(&sorted);
        run_logged(&mut cmd, log, &format!("pip install {}", sorted.join(" ")))?;
    }
    fs::write(tmp.path().join(".complete"), sorted.join("\n"))
        .map_err(|e| BuildError::io(tmp.path(), e))?;
    let tmp = tmp.keep();
    if fs::rename(&tmp, &dir).is_err() {
        // Another build made it meanwhile.
        let _ = fs::remove_dir_all(&tmp);
    }
    Ok(dir)
}

/// The target CPython's `_sysconfigdata_` module (host path).
fn target_sysconfig(target: &Target, python: &str) -> Result<PathBuf, BuildError> {
    let dir = target.root.join(format!("usr/lib/python{python}"));
    let mut found: Vec<PathBuf> = fs::read_dir(&dir)
        .map_err(|e| BuildError::io(&dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| n.starts_with("_sysconfigdata_") && n.ends_with(".py"))
        })
        .collect();
    found.sort();
    // `_sysconfigdata__linux_<multiarch>` is the name CPython itself computes.
    found
        .iter()
        .find(|p| p.to_string_lossy().contains("__linux_"))
        .or(found.first())
        .cloned()
        .ok_or_else(|| {
            BuildError::Target(format!(
                "target {}: no _sysconfigdata_*.py in {}",
                target.name,
                dir.display()
            ))
        })
}

#[allow(clippy::too_many_arguments)]
fn build_cell_in(
    cfg: &Config,
    cell: &Cell,
    opts: &BuildOptions,
    progress: &Progress,
    mode: Mode,
    host_py: Option<toolchain::HostPython>,
    cross: Option<toolchain::CrossCompiler>,
) -> Result<CellOk, BuildError> {
    let t0 = Instant::now();
    // The target, with what building needs.
    let mut add = AddOptions::new(cell.arch);
    add.distro = cell.distro();
    add.mirror = opts.mirror.clone();
    add.packages = target_packages(cfg, cell, mode);
    for p in &opts.packages {
        if !add.packages.contains(p) {
            add.packages.push(p.clone());
        }
    }
    let added = manywheel_target::add(&opts.cache, &add, progress)
        .map_err(|e| BuildError::Target(format!("{}: target: {e}", cell.id)))?;
    let target = Target::open(&opts.cache, &added.manifest().name)
        .map_err(|e| BuildError::Target(e.to_string()))?;
    let target_seconds = t0.elapsed().as_secs_f64();
    let native = target
        .is_native()
        .map_err(|e| BuildError::Target(e.to_string()))?;

    // A stable work folder per project and cell (not a random one), so that paths — in
    // compiler arguments, line markers and debug information — repeat between builds and the
    // compiler cache hits. Locked: two builds of one cell at once take turns.
    let project_abs = opts
        .project
        .canonicalize()
        .map_err(|e| BuildError::io(&opts.project, e))?;
    let project_key =
        hex(&Sha256::digest(project_abs.to_string_lossy().as_bytes()))[..12].to_string();
    let work_name = format!("{}-{project_key}", cell.id);
    let _work_lock = opts
        .cache
        .lock(&format!("build-{work_name}"), || {
            progress.message(&format!(
                "{}: waiting for another build of this cell",
                cell.id
            ))
        })
        .map_err(|e| BuildError::Target(e.to_string()))?;
    let work = opts.cache.root().join("build/work").join(&work_name);
    if work.exists() {
        fs::remove_dir_all(&work).map_err(|e| BuildError::io(&work, e))?;
    }
    fs::create_dir_all(&work).map_err(|e| BuildError::io(&work, e))?;
    let w = work.as_path();
    let log = w.join("build.log");
    let src = w.join("src");
    let skip: Vec<PathBuf> = opts.wheel_dir.canonicalize().into_iter().collect();
    copy_tree(&opts.project, &src, &skip)?;
    let dist = w.join("dist");
    fs::create_dir_all(&dist).map_err(|e| BuildError::io(&dist, e))?;
    for (name, text) in [
        ("pep517_driver.py", DRIVER_PY),
        ("sysconfig_gen.py", SYSCONFIG_GEN_PY),
    ] {
        fs::write(w.join(name), text).map_err(|e| BuildError::io(w, e))?;
    }

    // Compilers.
    let compilers: Compilers = match mode {
        Mode::Cross => {
            toolchain::cross_compilers(cross.as_ref().expect("cross has a compiler"), &target.root)
        }
        Mode::Hybrid => toolchain::hybrid_wrappers(
            cross.as_ref().expect("hybrid has a compiler"),
            cell.arch,
            &target.root,
            &w.join("bin"),
        )?,
        Mode::Emulated => {
            let mut c = toolchain::emulated_wrappers(&target, &w.join("bin"))?;
            if native {
                c.runs = "native";
            }
            c
        }
        Mode::Auto => unreachable!("resolved"),
    };

    // The compiler cache in front of CC and CXX.
    let cc_log = w.join("cc-cache.log");
    let cc_salt = format!(
        "{}\n{}\n{}\n{}",
        target.name,
        target.manifest.tree_digest,
        mode.name(),
        compilers.version
    );
    let mut compilers = compilers;
    if let Some(launcher) = &opts.cc_launcher {
        let dir = w.join("ccbin");
        fs::create_dir_all(&dir).map_err(|e| BuildError::io(&dir, e))?;
        for (name, real) in [("cc", &mut compilers.cc), ("c++", &mut compilers.cxx)] {
            let p = dir.join(name);
            let mut argv = launcher.clone();
            argv.push("--".into());
            argv.extend(real.iter().cloned());
            shell::write_wrapper(&p, &[], &argv).map_err(|e| BuildError::io(&p, e))?;
            *real = vec![p.display().to_string()];
        }
    }

    // meson-python: a cross file (our compilers, pkg-config in the sysroot, the target's
    // programs run by the emulator or the target's loader), passed as a config setting.
    let mut config_settings = serde_json::json!({});
    if cfg.backend.trim().starts_with("mesonpy") {
        let python = target
            .resolve_program("python3")
            .map_err(|e| BuildError::Target(e.to_string()))?;
        let (mut wrapper, _) = toolchain::runner_argv(&target, &python)?;
        wrapper.pop(); // the program itself
        let strip = cross
            .as_ref()
            .map(|c| {
                c.cc.with_file_name(format!("{}-strip", toolchain::tool_prefix(cell.arch)))
            })
            .filter(|p| p.is_file())
            .map(|p| p.display().to_string());
        let file = w.join("meson-cross.ini");
        let text = meson::CrossFile {
            arch: cell.arch,
            root: &target.root,
            cc: &compilers.cc,
            cxx: &compilers.cxx,
            ar: compilers.ar.as_deref(),
            strip,
            exe_wrapper: Some(wrapper),
        }
        .render();
        fs::write(&file, text).map_err(|e| BuildError::io(&file, e))?;
        config_settings = serde_json::json!({
            "setup-args": [format!("--cross-file={}", file.display())],
        });
    }

    // The target's configuration, pointed at the sysroot and the chosen compilers.
    let sc_src = target_sysconfig(&target, &cell.python)?;
    let sc_name = sc_src
        .file_stem()
        .expect("file")
        .to_string_lossy()
        .into_owned();
    let sc_dir = w.join("sysconfig");
    fs::create_dir_all(&sc_dir).map_err(|e| BuildError::io(&sc_dir, e))?;
    let root = target.root.display().to_string();
    let multiarch = cell.arch.gnu_triple();
    let cc = compilers.cc.join(" ");
    let cxx = compilers.cxx.join(" ");
    let mut settings: BTreeMap<&str, String> = BTreeMap::new();
    settings.insert("CC", cc.clone());
    settings.insert("CXX", cxx.clone());
    settings.insert("LDSHARED", format!("{cc} -shared"));
    settings.insert("BLDSHARED", format!("{cc} -shared"));
    settings.insert("LDCXXSHARED", format!("{cxx} -shared"));
    settings.insert(
        "INCLUDEPY",
        format!("{root}/usr/include/python{}", cell.python),
    );
    settings.insert(
        "CONFINCLUDEPY",
        format!("{root}/usr/include/python{}", cell.python),
    );
    settings.insert("INCLUDEDIR", format!("{root}/usr/include"));
    settings.insert("LIBDIR", format!("{root}/usr/lib/{multiarch}"));
    settings.insert(
        "LIBPL",
        format!(
            "{root}/usr/lib/python{0}/config-{0}-{multiarch}",
            cell.python
        ),
    );
    if let Some(ar) = &compilers.ar {
        settings.insert("AR", ar.clone());
    }
    let gen_python = host_py
        .as_ref()
        .map(|p| p.path.clone())
        .or_else(|| manywheel_testrun::host_pip_python(None))
        .unwrap_or_else(|| PathBuf::from("python3"));
    run_logged(
        Command::new(&gen_python)
            .arg("-S")
            .arg(w.join("sysconfig_gen.py"))
            .arg(&sc_src)
            .arg(sc_dir.join(format!("{sc_name}.py")))
            .arg(serde_json::to_string(&settings).expect("strings")),
        &log,
        "writing the target's sysconfig",
    )?;

    // Build requirements: for the host's CPython in cross mode, else for the target's.
    let target_platforms = manywheel_testrun::glibc_platforms(&target)
        .map_err(|e| BuildError::Target(e.to_string()))?;
    let req_host = if mode == Mode::Cross {
        host_py.as_ref()
    } else {
        None
    };
    let mut reqs = requirements_dir(
        &opts.cache,
        &cfg.requires,
        cell,
        req_host,
        &target_platforms,
        &log,
    )?;

    // The interpreter that runs the backend.
    let (py_argv, py_env, py_desc): (Vec<String>, Vec<(String, String)>, provenance::Interpreter) =
        if mode == Mode::Cross {
            let p = host_py.as_ref().expect("cross has a host python");
            (
                vec![p.path.display().to_string()],
                vec![],
                provenance::Interpreter {
                    path: p.path.display().to_string(),
                    version: p.version.clone(),
                    runs: "native".into(),
                },
            )
        } else {
            let exe = target
                .resolve_program("python3")
                .map_err(|e| BuildError::Target(e.to_string()))?;
            let (argv, env) = toolchain::runner_argv(&target, &exe)?;
            (
                argv,
                env,
                provenance::Interpreter {
                    path: format!("{} (target {})", exe.display(), target.name),
                    version: target.manifest.python_version.clone().unwrap_or_default(),
                    runs: if native { "native" } else { "emulated" }.into(),
                },
            )
        };

    let host_platform = format!("linux-{}", cell.arch.name());
    let mut path_var = std::env::var_os("PATH").unwrap_or_default();
    if let Some(d) = &compilers.path_dir {
        let mut parts = vec![d.clone()];
        parts.extend(std::env::split_paths(&path_var));
        path_var = std::env::join_paths(parts).map_err(|e| BuildError::Failed(e.to_string()))?;
    }
    let driver_cmd = |reqs: &Path, args: &[&str]| -> Command {
        let mut c = Command::new(&py_argv[0]);
        c.args(&py_argv[1..])
            .arg("-S")
            .arg(w.join("pep517_driver.py"))
            .args(args);
        for (k, v) in &py_env {
            c.env(k, v);
        }
        for k in [
            "PYTHONHOME",
            "PYTHONSTARTUP",
            "PYTHONUSERBASE",
            "PYTHONSAFEPATH",
            "VIRTUAL_ENV",
        ] {
            c.env_remove(k);
        }
        c.env(
            "PYTHONPATH",
            format!("{}:{}", reqs.display(), sc_dir.display()),
        )
        .env("PYTHONNOUSERSITE", "1")
        // Bytecode in one folder of the cache (see manywheel-testrun): setuptools and the
        // target's stdlib are compiled once, not at every emulated run.
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .env("PYTHONPYCACHEPREFIX", opts.cache.root().join("pycache"))
        .env("_PYTHON_SYSCONFIGDATA_NAME", &sc_name)
        .env("_PYTHON_HOST_PLATFORM", &host_platform)
        .env("CC", &cc)
        .env("CXX", &cxx)
        .env("LDSHARED", format!("{cc} -shared"))
        .env("LDCXXSHARED", format!("{cxx} -shared"))
        .env("PATH", {
            // The console scripts of the build requirements (meson, ninja, cython) first.
            let mut parts = vec![reqs.join("bin")];
            parts.extend(std::env::split_paths(&path_var));
            std::env::join_paths(parts).unwrap_or_else(|_| path_var.clone())
        })
        .env("MANYWHEEL_BUILD_MODE", mode.name())
        .env(cc_cache::ENV_DIR, opts.cache.root().join("build/cc"))
        .env(cc_cache::ENV_SALT, &cc_salt)
        .env(cc_cache::ENV_LOG, &cc_log)
        .env("MANYWHEEL_CONFIG_SETTINGS", config_settings.to_string())
        // pkg-config looks inside the target sysroot (for every backend).
        .env(
            "PKG_CONFIG_LIBDIR",
            meson::pkg_config_libdir(cell.arch, &target.root).join(":"),
        )
        .env("PKG_CONFIG_SYSROOT_DIR", &target.root)
        .env_remove("PKG_CONFIG_PATH")
        .env("MANYWHEEL_SYSROOT", &target.root)
        .env("MANYWHEEL_ARCH", cell.arch.name());
        if let Some(ar) = &compilers.ar {
            c.env("AR", ar);
        }
        for (k, v) in &cfg.environment {
            c.env(k, v);
        }
        c.current_dir(&src);
        c
    };

    // before-all / before-build, on the host in the copy of the project.
    for (what, command) in [
        ("before-all", &cfg.before_all),
        ("before-build", &cfg.before_build),
    ] {
        if let Some(command) = command {
            let text = command
                .replace("{project}", &src.display().to_string())
                .replace("{package}", &src.display().to_string());
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(&text)
                .current_dir(&src)
                .env("PATH", &path_var);
            c.env("MANYWHEEL_SYSROOT", &target.root)
                .env("MANYWHEEL_ARCH", cell.arch.name());
            for (k, v) in &cfg.environment {
                c.env(k, v);
            }
            run_logged(&mut c, &log, what)?;
        }
    }

    let backend_path = serde_json::to_string(&cfg.backend_path).expect("strings");
    let t_build = Instant::now();
    let result = w.join("result.json");
    let src_s = src.display().to_string();
    let dist_s = dist.display().to_string();
    let res_s = result.display().to_string();
    // One process asks the backend for its extra requirements and, when they are installed
    // already, builds; otherwise they are installed and a second process builds.
    let run_hook = |reqs: &Path, hook: &str| -> Result<String, BuildError> {
        let _ = fs::remove_file(&result);
        run_logged(
            &mut driver_cmd(
                reqs,
                &[hook, &src_s, &dist_s, &res_s, &cfg.backend, &backend_path],
            ),
            &log,
            &format!("{}: building the wheel ({} mode)", cell.id, mode.name()),
        )?;
        fs::read_to_string(&result).map_err(|_| {
            BuildError::Failed(format!("{}: the build driver wrote no result", cell.id))
        })
    };
    #[derive(serde::Deserialize)]
    struct Both {
        requires: Vec<String>,
        wheel: Option<String>,
    }
    let both: Both = serde_json::from_str(&run_hook(&reqs, "requires_then_build")?)
        .map_err(|e| BuildError::Failed(format!("{}: the build driver's result: {e}", cell.id)))?;
    let mut all_requires = cfg.requires.clone();
    for r in &both.requires {
        if !all_requires.contains(r) {
            all_requires.push(r.clone());
        }
    }
    let built_name: String = match both.wheel {
        Some(name) => name,
        None => {
            reqs = requirements_dir(
                &opts.cache,
                &all_requires,
                cell,
                req_host,
                &target_platforms,
                &log,
            )?;
            serde_json::from_str(&run_hook(&reqs, "build_wheel")?).map_err(|e| {
                BuildError::Failed(format!("{}: the backend named no wheel: {e}", cell.id))
            })?
        }
    };
    let built = dist.join(&built_name);
    if !built.is_file() {
        return Err(BuildError::Failed(format!(
            "{}: the backend named {built_name}, which it did not write",
            cell.id
        )));
    }
    let build_seconds = t_build.elapsed().as_secs_f64();

    // Repair into a staging folder inside the wheelhouse (same file system: renames are atomic).
    let t_repair = Instant::now();
    let staging = tempfile::Builder::new()
        .prefix(".manywheel-")
        .tempdir_in(&opts.wheel_dir)
        .map_err(|e| BuildError::io(&opts.wheel_dir, e))?;
    let (repaired, repair_record) = repair(cfg, cell, opts, &target, &built, staging.path(), &log)?;
    let repair_seconds = t_repair.elapsed().as_secs_f64();

    // Test.
    let test = if opts.run_tests {
        test_wheel(
            cfg,
            cell,
            &opts.cache,
            &target,
            &repaired,
            &src,
            native,
            &log,
        )?
    } else {
        None
    };
    if let Some(t) = &test {
        if !t.passed {
            return Err(BuildError::Failed(format!(
                "{}: test-command {} ({}) on {}{}; last lines:\n{}",
                cell.id,
                t.status,
                t.how,
                repaired.file_name().unwrap_or_default().to_string_lossy(),
                t.fault.as_ref().map_or(String::new(), |f| format!(": {f}")),
                t.output_tail
            )));
        }
    }

    let file_name = repaired
        .file_name()
        .expect("a file")
        .to_string_lossy()
        .into_owned();
    let final_path = opts.wheel_dir.join(&file_name);
    let prov = Provenance {
        format: 1,
        wheel: file_name.clone(),
        sha256: sha256_file(&repaired)?,
        id: cell.id.clone(),
        arch: cell.arch.name().into(),
        python: cell.python.clone(),
        mode: mode.name().into(),
        backend: cfg.backend.clone(),
        build_requires: all_requires,
        compiler: provenance::Compiler {
            cc: compilers.cc.join(" "),
            cxx: compilers.cxx.join(" "),
            program: compilers.program.clone(),
            version: compilers.version.clone(),
            runs: compilers.runs.into(),
            cache: opts
                .cc_launcher
                .as_ref()
                .map(|_| cc_cache::Stats::read(&cc_log)),
        },
        interpreter: py_desc,
        target: provenance::TargetRecord::of(&target)?,
        emulator: provenance::emulator(&target, &opts.cache, native),
        repair: repair_record,
        test,
        seconds: provenance::Seconds {
            target: target_seconds,
            build: build_seconds,
            repair: repair_seconds,
            total: t0.elapsed().as_secs_f64(),
        },
        manywheel_version: env!("CARGO_PKG_VERSION").into(),
    };
    let prov_path = opts.wheel_dir.join(format!("{file_name}.provenance.json"));
    let staged_prov = staging.path().join("provenance.json");
    let mut text = serde_json::to_string_pretty(&prov).expect("serializes");
    text.push('\n');
    fs::write(&staged_prov, text).map_err(|e| BuildError::io(&staged_prov, e))?;
    fs::rename(&repaired, &final_path).map_err(|e| BuildError::io(&final_path, e))?;
    fs::rename(&staged_prov, &prov_path).map_err(|e| BuildError::io(&prov_path, e))?;
    Ok((mode, final_path, prov_path, Box::new(prov)))
}

/// Our repair (or the configured `repair-wheel-command`); the repaired wheel in `staging`.
fn repair(
    cfg: &Config,
    cell: &Cell,
    opts: &BuildOptions,
    target: &Target,
    built: &Path,
    staging: &Path,
    log: &Path,
) -> Result<(PathBuf, provenance::RepairRecord), BuildError> {
    let command = cfg
        .repair_wheel_command
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.starts_with("auditwheel "));
    if let Some(command) = command {
        if command.is_empty() {
            let dest = staging.join(built.file_name().expect("file"));
            fs::copy(built, &dest).map_err(|e| BuildError::io(built, e))?;
            return Ok((
                dest,
                provenance::RepairRecord::skipped("repair-wheel-command is empty"),
            ));
        }
        let text = command
            .replace("{wheel}", &shell::quote(&built.display().to_string()))
            .replace("{dest_dir}", &shell::quote(&staging.display().to_string()));
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(&text)
            .env("MANYWHEEL_SYSROOT", &target.root);
        run_logged(&mut c, log, "repair-wheel-command")?;
        let mut out: Vec<PathBuf> = fs::read_dir(staging)
            .map_err(|e| BuildError::io(staging, e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "whl"))
            .collect();
        if out.len() != 1 {
            return Err(BuildError::Failed(format!(
                "{}: repair-wheel-command left {} wheels in {{dest_dir}} (want 1)",
                cell.id,
                out.len()
            )));
        }
        return Ok((out.remove(0), provenance::RepairRecord::command(command)));
    }
    let ropts = RepairOptions {
        audit: AuditOptions {
            sysroot: Some(target.root.clone()),
            ..AuditOptions::default()
        },
        plat: opts.plat.clone(),
        out_dir: staging.to_path_buf(),
        only_plat: false,
        strip: false,
        write: WriteOptions::from_env(),
    };
    let outcome = repair_wheel(built, &ropts).map_err(|e| match e {
        RepairError::Input { .. } if opts.plat.is_some() => {
            BuildError::Usage(format!("{}: repair: {e}", cell.id))
        }
        e => BuildError::Failed(format!("{}: repair: {e}", cell.id)),
    })?;
    Ok((
        PathBuf::from(&outcome.output),
        provenance::RepairRecord::of(&outcome),
    ))
}

/// Run `test-command` against the repaired wheel with `manywheel test`'s machinery: the wheel
/// and `test-requires` installed on the host side for the target's CPython, which runs the
/// command natively or under qemu; the record says which, with the emulator and CPU.
#[allow(clippy::too_many_arguments)]
fn test_wheel(
    cfg: &Config,
    cell: &Cell,
    cache: &Cache,
    target: &Target,
    wheel: &Path,
    project: &Path,
    native: bool,
    log: &Path,
) -> Result<Option<provenance::TestRecord>, BuildError> {
    let Some(command) = cfg.test_command.as_deref().filter(|c| !c.trim().is_empty()) else {
        return Ok(None);
    };
    let how = if native { "native" } else { "emulated" };
    if cfg
        .test_skip
        .iter()
        .any(|s| plan::selector_matches(s, &cell.id))
    {
        return Ok(Some(provenance::TestRecord::skipped(command, how)));
    }
    let mut topts = manywheel_testrun::Options::new(vec![wheel.to_path_buf()]);
    topts.targets = vec![target.name.clone()];
    topts.requires = cfg.test_requires.clone();
    // cibuildwheel's {package} is the project here too.
    topts.command = Some(command.replace("{package}", "{project}"));
    topts.project = Some(project.to_path_buf());
    let report = manywheel_testrun::run(cache, &topts, Progress::quiet())
        .map_err(|e| BuildError::Failed(format!("{}: test: {e}", cell.id)))?;
    let r = report
        .results
        .first()
        .ok_or_else(|| BuildError::Failed(format!("{}: test: no result", cell.id)))?;
    if let Ok(mut f) = fs::OpenOptions::new().append(true).open(log) {
        let _ = writeln!(
            f,
            "--- test-command ({}) ---\n{}",
            r.env.mode, r.output_tail
        );
    }
    Ok(Some(provenance::TestRecord::of(command, r)))
}

/// The architectures a plan covers (for messages).
pub fn archs_of(cells: &[Cell]) -> Vec<Arch> {
    let mut v: Vec<Arch> = cells.iter().map(|c| c.arch).collect();
    v.dedup();
    v
}
