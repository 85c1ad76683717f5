//! `manywheel build` and `manywheel plan`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use manywheel_build::{self as build, BuildOptions, Mode, PlanFormat, PlanRequest};
use manywheel_target::Cache;

use crate::output;
use crate::{EXIT_ERROR, EXIT_FAILED};

#[derive(Args, Clone)]
pub struct MatrixArgs {
    /// The project folder (with pyproject.toml or setup.py), or an sdist (NAME-VERSION.tar.gz),
    /// unpacked once into the cache.
    #[arg(value_name = "PROJECT_DIR", default_value = ".")]
    pub project: PathBuf,
    /// Architectures, comma-separated (x86_64, i686, aarch64, armv7l, ppc64le, s390x), or
    /// `all` (x86_64,i686,aarch64,ppc64le,s390x) or `native`. Default: `archs` of the
    /// configuration, else the host's.
    #[arg(long, value_name = "ARCHS")]
    pub arch: Option<String>,
    /// CPython versions, comma-separated: 3.9 (bullseye), 3.11 (bookworm), 3.13 (trixie).
    /// Default: `python` of the configuration, else what `build` selects, else 3.11.
    #[arg(long, value_name = "VERSIONS")]
    pub python: Option<String>,
}

impl MatrixArgs {
    fn request(&self, only: Option<String>) -> PlanRequest {
        PlanRequest {
            archs: self.arch.clone().map(|a| vec![a]),
            pythons: self.python.clone().map(|p| vec![p]),
            only,
        }
    }
}

#[derive(Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// The policy to repair to: a name, alias or tag (manylinux2014, manylinux_2_28_aarch64);
    /// default: the most compatible one the target sysroot allows.
    #[arg(long, value_name = "TAG")]
    pub plat: Option<String>,
    /// The wheelhouse (created if missing).
    #[arg(
        short = 'w',
        long = "wheel-dir",
        value_name = "DIR",
        default_value = "wheelhouse"
    )]
    pub wheel_dir: PathBuf,
    /// cross: the host's CPython runs the build backend with the target's sysconfig and a
    /// native cross compiler; hybrid: the target's CPython runs under emulation, compilers
    /// natively; emulated: everything in the target (its CPython and its gcc) under qemu;
    /// auto: cross when the host has the CPython and the compiler, else hybrid, else emulated.
    #[arg(long, value_name = "MODE", default_value = "auto",
          value_parser = ["auto", "cross", "hybrid", "emulated"])]
    pub mode: String,
    /// Build exactly this cell of the plan (e.g. cp311-manylinux_aarch64; see `manywheel plan`).
    #[arg(long, value_name = "ID")]
    pub only: Option<String>,
    /// Cells built at once (default: the number of CPUs).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// A Debian package to add to each target sysroot before building (headers and libraries
    /// the project needs, e.g. libcairo2-dev), besides `target-packages` of the configuration;
    /// repeatable.
    #[arg(long = "package", value_name = "NAME")]
    pub packages: Vec<String>,
    /// Do not run the configured test-command.
    #[arg(long)]
    pub no_test: bool,
    /// Do not use the compiler cache (objects kept in the cache folder under build/cc, keyed
    /// by target, sysroot digest, toolchain, arguments and the preprocessed source).
    #[arg(long)]
    pub no_cc_cache: bool,
    /// Debian mirror for the target sysroots.
    #[arg(long, value_name = "URL", default_value = manywheel_target::DEFAULT_MIRROR)]
    pub mirror: String,
    /// No progress messages.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print JSON on stdout: one object per cell, with its provenance record.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// text, json, github (`{"include": [...]}` for strategy.matrix), gitlab (parallel:matrix).
    #[arg(long, value_name = "FORMAT", default_value = "text",
          value_parser = ["text", "json", "github", "gitlab"])]
    pub format: String,
}

pub fn run_plan(args: &PlanArgs) -> Result<u8> {
    let project = build::sdist::project_dir(&Cache::from_env()?, &args.matrix.project)?;
    let cfg = build::Config::load(&project)?;
    let cells = build::plan(&cfg, &args.matrix.request(None))?;
    let format = PlanFormat::parse(&args.format)?;
    output::out(&build::plan::render(&cells, format));
    Ok(0)
}

pub fn run_build(args: &BuildArgs) -> Result<u8> {
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    anyhow::ensure!(jobs > 0, "--jobs must be at least 1");
    let opts = BuildOptions {
        project: args.matrix.project.clone(),
        request: args.matrix.request(args.only.clone()),
        plat: args.plat.clone().filter(|p| p != "auto"),
        wheel_dir: args.wheel_dir.clone(),
        mode: Mode::parse(&args.mode)?,
        jobs,
        cache: Cache::from_env()?,
        mirror: args.mirror.clone(),
        run_tests: !args.no_test,
        quiet: args.quiet,
        packages: args.packages.clone(),
        cc_launcher: if args.no_cc_cache {
            None
        } else {
            let exe = std::env::current_exe()?;
            Some(vec![exe.display().to_string(), "__cc".into()])
        },
    };
    let reports = build::build(&opts)?;
    let mut code = 0;
    for r in &reports {
        if let Some(e) = &r.error {
            code = code.max(if r.usage_error {
                EXIT_ERROR
            } else {
                EXIT_FAILED
            });
            output::error_line(e);
        } else if !r.ok {
            code = code.max(EXIT_FAILED);
        }
    }
    if args.json {
        output::out(&format!("{}\n", serde_json::to_string_pretty(&reports)?));
    } else {
        let mut text = String::new();
        for r in &reports {
            let mode = r.mode.map(|m| m.name()).unwrap_or("-");
            match (&r.wheel, &r.provenance) {
                (Some(w), Some(p)) => {
                    text.push_str(&format!("{}: {} [{mode}]\n", r.id, w.display()));
                    text.push_str(&format!(
                        "  compiler: {} ({})\n  python: {} ({})\n",
                        p.compiler.version,
                        p.compiler.runs,
                        p.interpreter.version,
                        p.interpreter.runs
                    ));
                    if let Some(pol) = &p.repair.policy {
                        text.push_str(&format!("  repaired to {pol}"));
                        for (soname, member) in &p.repair.grafted {
                            text.push_str(&format!("; grafted {soname} as {member}"));
                        }
                        text.push('\n');
                    }
                    match &p.test {
                        Some(t) if t.skipped => text.push_str("  test: skipped (test-skip)\n"),
                        Some(t) => text.push_str(&format!(
                            "  test: {} ({}{}, cpu {}, {:.1} s{})\n",
                            t.status,
                            t.how,
                            t.emulator
                                .as_ref()
                                .map_or(String::new(), |e| format!(", {e}")),
                            t.cpu,
                            t.seconds,
                            t.tests.map_or(String::new(), |c| format!("; {c}")),
                        )),
                        None => text.push_str("  test: none configured\n"),
                    }
                    if let Some(c) = &p.compiler.cache {
                        text.push_str(&format!(
                            "  compiler cache: {} hits, {} misses\n",
                            c.hits, c.misses
                        ));
                    }
                    text.push_str(&format!(
                        "  build {:.1} s, repair {:.1} s, total {:.1} s\n",
                        p.seconds.build, p.seconds.repair, p.seconds.total
                    ));
                }
                _ => text.push_str(&format!("{}: failed [{mode}]\n", r.id)),
            }
        }
        output::out(&text);
    }
    Ok(code)
}
