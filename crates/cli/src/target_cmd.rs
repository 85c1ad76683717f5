//! `manywheel target add|list|remove` and `manywheel run`.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use manywheel_policy::Arch;
use manywheel_target::{
    self as target, AddOptions, AddOutcome, Cache, Distro, Progress, QemuMode, RunOptions,
};

#[derive(Args)]
pub struct TargetCmd {
    #[command(subcommand)]
    pub action: TargetAction,
}

#[derive(Subcommand)]
pub enum TargetAction {
    /// Build a sysroot with a working CPython for an architecture from a Debian mirror
    /// (no root, Docker or binfmt needed). Packages and indices are verified by SHA256 and
    /// cached; a second add is quick. Foreign architectures also get qemu-<arch>-static.
    ///
    /// With --image REF, the sysroot is an OCI/Docker image instead (e.g.
    /// quay.io/pypa/manylinux2014_aarch64: CentOS 7, glibc 2.17, CPythons in /opt/python),
    /// pulled with the registry v2 API (anonymous token auth) and flattened layer by layer,
    /// without a container engine. Every blob is verified by SHA256 and cached.
    Add(AddArgs),
    /// List the targets in the cache.
    List(ListArgs),
    /// Delete a target from the cache.
    Remove(RemoveArgs),
}

#[derive(Args)]
pub struct AddArgs {
    /// Architecture: x86_64, i686, aarch64, armv7l, ppc64le, s390x, riscv64 (trixie), ...
    #[arg(value_name = "ARCH")]
    pub arch: String,
    /// Distribution release.
    #[arg(long, value_name = "debian:SUITE", default_value = "debian:bookworm")]
    pub distro: String,
    /// Debian mirror (http://, https:// or file://).
    #[arg(long, value_name = "URL", default_value = target::DEFAULT_MIRROR)]
    pub mirror: String,
    /// Also install this package (with its dependencies); may be repeated.
    #[arg(long = "package", value_name = "NAME", conflicts_with = "image")]
    pub packages: Vec<String>,
    /// Flatten this OCI/Docker image instead of building from Debian:
    /// [HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST] (Docker Hub when no host is given; a
    /// manifest list is resolved to linux/ARCH). --mirror/--distro then only say where qemu
    /// comes from.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// Name of the image target (default: <image name>-<tag>[-<arch>], e.g.
    /// manylinux2014_aarch64-latest).
    #[arg(long, value_name = "NAME", requires = "image")]
    pub name: Option<String>,
    /// With --image: the CPython `python3` runs, e.g. 3.11, 3.13t or cp311 (default: the
    /// newest final release in /opt/python, else /usr/bin/python3). Can be changed later
    /// without pulling again.
    #[arg(long, value_name = "VERSION", requires = "image")]
    pub python: Option<String>,
    /// With --image: allow plain http to a registry not on this machine (loopback registries
    /// always use http).
    #[arg(long, requires = "image")]
    pub insecure: bool,
    /// Do not download qemu; `run` will use qemu-<arch>-static from PATH.
    #[arg(long)]
    pub qemu_from_path: bool,
    /// Rebuild the target even if it already exists.
    #[arg(long)]
    pub force: bool,
    /// Parallel downloads.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub jobs: usize,
    /// No progress messages.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct ListArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RemoveArgs {
    /// Target name, as shown by `target list` (e.g. debian-bookworm-aarch64).
    #[arg(value_name = "NAME")]
    pub name: String,
}

#[derive(Args)]
pub struct RunArgs {
    /// Architecture of the target to run in.
    #[arg(long, value_name = "ARCH")]
    pub arch: String,
    /// Target name (default: the bookworm one, or the only one for ARCH).
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Use qemu-<arch>-static from PATH instead of the cached one.
    #[arg(long)]
    pub qemu_from_path: bool,
    /// Program (`python3` is the target's python; bare names are looked up in the target)
    /// and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<OsString>,
}

fn parse_arch(s: &str) -> Result<Arch> {
    Arch::from_name(s).map_err(|e| anyhow::anyhow!("{e}"))
}

pub fn run_target(cmd: &TargetCmd) -> Result<u8> {
    let cache = Cache::from_env()?;
    match &cmd.action {
        TargetAction::Add(a) => add(&cache, a),
        TargetAction::List(a) => list(&cache, a),
        TargetAction::Remove(a) => {
            target::remove(&cache, &a.name)?;
            eprintln!("removed {}", a.name);
            Ok(0)
        }
    }
}

fn add(cache: &Cache, a: &AddArgs) -> Result<u8> {
    if let Some(image) = &a.image {
        return add_image(cache, a, image);
    }
    let mut opts = AddOptions::new(parse_arch(&a.arch)?);
    opts.distro = Distro::parse(&a.distro)?;
    opts.mirror = a.mirror.clone();
    opts.packages = manywheel_target::sysroot::RUNTIME_PACKAGES
        .iter()
        .map(|p| p.to_string())
        .chain(a.packages.iter().cloned())
        .collect();
    opts.qemu = if a.qemu_from_path {
        QemuMode::FromPath
    } else {
        QemuMode::Download
    };
    opts.force = a.force;
    opts.jobs = a.jobs.max(1);
    let progress = if a.quiet {
        Progress::quiet()
    } else {
        Progress::stderr()
    };
    let outcome = target::add(cache, &opts, &progress)?;
    let m = outcome.manifest();
    if let AddOutcome::Present(_) = outcome {
        if !a.quiet {
            eprintln!("{} is already present (use --force to rebuild)", m.name);
        }
    }
    println!("{}", cache.target_dir(&m.name).display());
    Ok(0)
}

fn add_image(cache: &Cache, a: &AddArgs, image: &str) -> Result<u8> {
    let mut opts = target::ImageOptions::new(parse_arch(&a.arch)?, image);
    opts.name = a.name.clone();
    opts.python = a.python.clone();
    opts.insecure = a.insecure;
    opts.force = a.force;
    opts.jobs = a.jobs.max(1);
    opts.mirror = a.mirror.clone();
    opts.qemu_distro = Distro::parse(&a.distro)?;
    opts.qemu = if a.qemu_from_path {
        QemuMode::FromPath
    } else {
        QemuMode::Download
    };
    let progress = if a.quiet {
        Progress::quiet()
    } else {
        Progress::stderr()
    };
    let outcome = target::add_image(cache, &opts, &progress)?;
    let m = outcome.manifest();
    if let AddOutcome::Present(_) = outcome {
        if !a.quiet {
            eprintln!("{} is already present (use --force to pull again)", m.name);
        }
    }
    println!("{}", cache.target_dir(&m.name).display());
    Ok(0)
}

fn list(cache: &Cache, a: &ListArgs) -> Result<u8> {
    let targets = target::list(cache)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&targets)?);
        return Ok(0);
    }
    if targets.is_empty() {
        eprintln!("no targets; add one with `manywheel target add ARCH`");
        return Ok(0);
    }
    let rows: Vec<[String; 7]> = targets
        .iter()
        .map(|t| {
            [
                t.name.clone(),
                t.arch.to_string(),
                t.suite.clone(),
                t.glibc_version.clone().unwrap_or_else(|| "?".into()),
                t.python_version.clone().unwrap_or_else(|| "?".into()),
                format!("{:.1} MB", t.size_on_disk as f64 / 1e6),
                t.qemu.clone(),
            ]
        })
        .collect();
    let header = ["NAME", "ARCH", "SUITE", "GLIBC", "PYTHON", "SIZE", "QEMU"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!("{}", line(header.to_vec()));
    for r in &rows {
        println!("{}", line(r.iter().map(String::as_str).collect()));
    }
    Ok(0)
}

/// `manywheel run`: replaces this process with the program (exit code, signals, stdin and
/// stdout pass through).
pub fn run(a: &RunArgs) -> Result<u8> {
    let cache = Cache::from_env()?;
    let arch = parse_arch(&a.arch)?;
    let t = target::Target::find(&cache, arch, a.target.as_deref())?;
    let (program, args) = a.command.split_first().context("no command given")?;
    let program = program
        .to_str()
        .context("the program name is not valid UTF-8")?;
    let opts = RunOptions {
        qemu_from_path: a.qemu_from_path,
    };
    let mut cmd = t.command(program, args, &opts)?;
    let err = cmd.exec();
    Err(anyhow::anyhow!(
        "cannot run {}: {err}",
        cmd.get_program().to_string_lossy()
    ))
}
