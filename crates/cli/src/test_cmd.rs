//! `manywheel test`: run tests against wheels on every architecture's target.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use manywheel_policy::Arch;
use manywheel_target::{Cache, Progress};
use manywheel_testrun::{self as testrun, Status};

use crate::output::{self, Style};

#[derive(Args)]
#[command(after_help = "\
The command runs in `sh -c` on the host, with a bin/ folder first on PATH in which `python`, \
`python3`, `python3.X` and the console scripts of the installed requirements (e.g. `pytest`) \
run the target's Python natively (x86_64, i686) or under qemu-user, with the wheels and \
requirements on PYTHONPATH. `{project}` is replaced by --project, `{arch}` by the \
architecture; MANYWHEEL_TEST_ARCH and MANYWHEEL_TEST_MODE (native/emulated) are set. pytest \
writes a JUnit report through PYTEST_ADDOPTS, from which per-test outcomes are read.

Requirements are installed by the host's pip for the target's interpreter (--platform of the \
tags its glibc accepts, --python-version, --abi, --only-binary=:all:), never by pip under qemu.

Results: passed, failed, emulator_fault (qemu reported an uncaught SIGILL/SIGSEGV/SIGBUS/\
SIGFPE/SIGTRAP, an unhandled CPU exception or a fatal error), timeout, error (setup). \
Exit codes: 0 all passed, 1 a run failed or --differential found a difference, 2 usage, \
input or setup error.

Examples:
  manywheel test dist/*.whl
  manywheel test dist/*.whl --requires pytest --project . --command 'pytest {project}/tests'
  manywheel test orjson-*.whl --command \"python -c 'import orjson; print(orjson.dumps([1]))'\"
  manywheel test dist/*x86_64.whl --differential --requires pytest --project . --command 'pytest -q {project}/tests'")]
pub struct TestArgs {
    /// Wheels to test; each runs on the target of its architecture (pure-Python wheels on
    /// every --arch).
    #[arg(required = true, value_name = "WHEEL")]
    pub wheels: Vec<PathBuf>,
    /// Only these architectures (repeatable or comma-separated; needed for pure wheels alone).
    #[arg(long, value_name = "ARCH", value_delimiter = ',')]
    pub arch: Vec<String>,
    /// Use this target for its architecture (default: the bookworm one, or the only one);
    /// repeatable.
    #[arg(long, value_name = "NAME")]
    pub target: Vec<String>,
    /// Test requirements, installed on the host side for the target (pip specifiers);
    /// repeatable, e.g. --requires pytest --requires 'hypothesis<7'.
    #[arg(long, value_name = "PKG", num_args = 1..)]
    pub requires: Vec<String>,
    /// Shell command to run (default: import every top-level module of the wheels).
    #[arg(long, value_name = "CMD")]
    pub command: Option<String>,
    /// Project folder, the command's working directory and `{project}`.
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Base timeout in seconds; emulated runs get it times the emulation factor.
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub timeout: f64,
    /// Emulation factor for emulated runs' timeouts (default per architecture: 10 for
    /// aarch64/armv7l/x86, 20 for ppc64le/s390x/riscv64).
    #[arg(long, value_name = "F")]
    pub emulation_factor: Option<f64>,
    /// Also run natively running targets (x86_64, i686) under qemu and report every test
    /// whose outcome differs.
    #[arg(long)]
    pub differential: bool,
    /// The host Python whose pip installs requirements (default: $MANYWHEEL_PIP_PYTHON, else
    /// python3).
    #[arg(long, value_name = "PYTHON")]
    pub pip_python: Option<PathBuf>,
    /// Use qemu-<arch>-static from PATH instead of the cached one.
    #[arg(long)]
    pub qemu_from_path: bool,
    /// Work in this folder and keep it (installed trees, bin/ wrappers, output.log, junit.xml).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress display.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(a: &TestArgs) -> Result<u8> {
    let cache = Cache::from_env()?;
    let mut opts = testrun::Options::new(a.wheels.clone());
    for s in &a.arch {
        opts.archs
            .push(Arch::from_name(s).map_err(|e| anyhow::anyhow!("--arch: {e}"))?);
    }
    if !(a.timeout.is_finite() && a.timeout > 0.0) {
        anyhow::bail!("--timeout must be a positive number of seconds");
    }
    if let Some(f) = a.emulation_factor {
        if !(f.is_finite() && f >= 1.0) {
            anyhow::bail!("--emulation-factor must be at least 1");
        }
    }
    opts.targets = a.target.clone();
    opts.requires = a.requires.clone();
    opts.command = a.command.clone();
    opts.project = a.project.clone();
    opts.timeout = Duration::from_secs_f64(a.timeout);
    opts.emulation_factor = a.emulation_factor;
    opts.differential = a.differential;
    opts.pip_python = a.pip_python.clone();
    opts.qemu_from_path = a.qemu_from_path;
    opts.work_dir = a.work_dir.clone();
    let progress = if a.quiet || a.json {
        Progress::quiet()
    } else {
        Progress::stderr()
    };
    let report = testrun::run(&cache, &opts, progress)?;
    if a.json {
        output::out(&format!("{}\n", serde_json::to_string_pretty(&report)?));
    } else {
        print_report(&report);
    }
    for r in report.results.iter().filter(|r| r.status == Status::Error) {
        output::error_line(&format!(
            "{}: {}",
            r.label(),
            r.message.as_deref().unwrap_or("setup failed")
        ));
    }
    Ok(report.exit_code)
}

fn print_report(report: &testrun::Report) {
    let style = Style::for_stdout();
    let mut text = String::new();
    for r in &report.results {
        let line = testrun::summary_line(r);
        let line = match r.status {
            Status::Passed => style.good(&line),
            Status::Failed | Status::Error => style.bad(&line),
            Status::EmulatorFault | Status::Timeout => style.warn(&line),
        };
        text.push_str(&line);
        text.push('\n');
        for t in &r.failed_tests {
            text.push_str(&format!("    failed: {t}\n"));
        }
        if !matches!(r.status, Status::Passed | Status::Error) && !r.output_tail.is_empty() {
            text.push_str(&style.dim(&format!("    --- output of {} (end) ---\n", r.label())));
            for l in r
                .output_tail
                .lines()
                .rev()
                .take(25)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                text.push_str(&format!("    {l}\n"));
            }
        }
    }
    for d in &report.differential {
        if d.differences.is_empty() {
            text.push_str(&style.good(&format!(
                "differential {}: native and emulated agree ({} tests compared)\n",
                d.arch, d.compared
            )));
        } else {
            text.push_str(&style.bad(&format!(
                "differential {}: {} of {} tests differ between native and emulated:\n",
                d.arch,
                d.differences.len(),
                d.compared
            )));
            for x in &d.differences {
                text.push_str(&format!(
                    "    {}: native {}, emulated {}\n",
                    x.test, x.native, x.emulated
                ));
            }
        }
    }
    if let Some(w) = &report.work_dir {
        text.push_str(&format!("work folder kept: {}\n", w.display()));
    }
    output::out(&text);
}
