//! The `manywheel` command line: parse arguments, call the libraries, print.

mod build_cmd;
mod compat_cmd;
mod elf_cmd;
mod lddtree_cmd;
mod output;
mod repair_cmd;
mod show;
mod target_cmd;
mod test_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Exit code: the check found a problem.
const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage or unreadable input.
const EXIT_ERROR: u8 = 2;

#[derive(Parser)]
#[command(
    name = "manywheel",
    version,
    about = "Audit, repair, test and build portable Linux binary wheels (manylinux/musllinux) of every architecture, from one host, without Docker",
    long_about = "Audit, repair, test and build portable Linux binary wheels (manylinux/musllinux) \
of every architecture, from one host, without Docker.\n\nExit codes: 0 ok, 1 a check failed, 2 usage or input error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the most compatible platform tag of each wheel and why no higher one is met.
    ///
    /// Reads each wheel without extracting it, checks RECORD hashes of the ELF members, resolves
    /// their libraries inside the target root and decides the tag as PEP 600 and the reference
    /// tool do. Several wheels are audited in parallel.
    Show(ShowArgs),
    /// Fail (exit 1) when a wheel's own platform tags claim more than it satisfies, or an abi3
    /// wheel uses symbols outside the stable ABI of the Python it claims. For CI.
    Check(ShowArgs),
    /// Graft external libraries into wheels so they meet a manylinux/musllinux policy, with our
    /// own ELF patcher, for any architecture from any host; output is reproducible.
    Repair(repair_cmd::RepairArgs),
    /// Print the shared libraries an ELF file loads, resolved with the dynamic loader's rules
    /// inside a root.
    Lddtree(LddtreeArgs),
    /// Print or change an ELF file's soname, needed libraries and search path (rpath/runpath).
    Elf(elf_cmd::ElfArgs),
    /// Manage per-architecture sysroots with CPython (Debian-based): add, list, remove.
    Target(target_cmd::TargetCmd),
    /// Run a program of a target sysroot: natively through its own loader (x86_64, i686) or
    /// under qemu-user (others). `python3` is the target's Python.
    Run(target_cmd::RunArgs),
    /// Install wheels for each architecture's target on the host side and run a test command
    /// with the target's Python, natively or under qemu-user; every result says which.
    Test(test_cmd::TestArgs),
    /// Print the platform tags a system accepts, most preferred first, as pip/packaging orders
    /// them: for the host, or for a sysroot, read from its C library (never executed).
    Tags(compat_cmd::TagsArgs),
    /// Which distributions (supported on a date) can install these wheels, per architecture,
    /// and which get no wheel and build from source.
    Coverage(compat_cmd::CoverageArgs),
    /// Inspect the policies: list, show, diff, and the impact of moving a baseline.
    Policy(compat_cmd::PolicyArgs),
    /// Build a project's wheels for every (architecture, CPython) cell, then repair and test
    /// them: cross (host CPython + cross compiler), hybrid or emulated (qemu) per cell, with a
    /// provenance record next to each wheel.
    Build(build_cmd::BuildArgs),
    /// Print a project's build matrix (one cell per architecture and CPython) as text, JSON,
    /// or a GitHub/GitLab CI matrix; build one cell with `manywheel build --only ID`.
    Plan(build_cmd::PlanArgs),
}

#[derive(Args, Clone)]
pub struct TargetArgs {
    /// Look up libraries inside this root (a target sysroot). Default: the host's `/`, only for
    /// wheels of the host's architecture and libc; otherwise only the wheel itself is searched.
    #[arg(long, value_name = "DIR")]
    pub sysroot: Option<PathBuf>,
    /// Colon-separated directories searched instead of ld.so.conf and the default directories
    /// (inside --sysroot when given).
    #[arg(long, value_name = "PATHS")]
    pub ldpaths: Option<String>,
}

#[derive(Args, Clone)]
pub struct ShowArgs {
    /// Wheels to audit.
    #[arg(required = true, value_name = "WHEEL")]
    pub wheels: Vec<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// A policy file in the embedded (auditwheel-compatible) JSON format, used instead of the
    /// embedded policies.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Do not check the x86-64 instruction-set level.
    #[arg(long)]
    pub disable_isa_ext_check: bool,
    /// Treat libraries whose name matches this glob as provided by the system or another wheel
    /// (never external, never grafted). Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Print JSON on stdout (an object for one wheel, an array for several).
    #[arg(long)]
    pub json: bool,
    /// Also list every symbol behind each reason (the default shows a few).
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Args)]
pub struct LddtreeArgs {
    /// The ELF file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Parse `--exclude` globs.
pub fn parse_globs(globs: &[String]) -> anyhow::Result<Vec<glob::Pattern>> {
    globs
        .iter()
        .map(|g| glob::Pattern::new(g).map_err(|e| anyhow::anyhow!("--exclude {g:?}: {e}")))
        .collect()
}

fn main() -> ExitCode {
    // `manywheel __cc -- COMPILER ARGS...`: the compiler cache that `build` puts in front of
    // the compilers (internal; not a user command).
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "__cc") {
        let code = manywheel_build::cc_cache::main(&argv[2..]);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Show(args) => show::run(&args, false),
        Command::Check(args) => show::run(&args, true),
        Command::Lddtree(args) => lddtree_cmd::run(&args),
        Command::Repair(args) => repair_cmd::run(&args),
        Command::Elf(args) => elf_cmd::run(&args),
        Command::Target(args) => target_cmd::run_target(&args),
        Command::Run(args) => target_cmd::run(&args),
        Command::Test(args) => test_cmd::run(&args),
        Command::Tags(args) => compat_cmd::run_tags(&args),
        Command::Coverage(args) => compat_cmd::run_coverage(&args),
        Command::Policy(args) => compat_cmd::run_policy(&args),
        Command::Build(args) => build_cmd::run_build(&args),
        Command::Plan(args) => build_cmd::run_plan(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            output::error_line(&format!("{err:#}"));
            ExitCode::from(EXIT_ERROR)
        }
    }
}
