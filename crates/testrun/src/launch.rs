//! The shell a test command runs in (wrappers for the target's Python and console scripts),
//! the emulator and CPU facts of a run, and running the command with a timeout.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use manywheel_policy::Arch;
use manywheel_target::{qemu, sysroot, Distro, Progress, RunOptions, Target};

use crate::install::Installed;
use crate::outcome;
use crate::{ArchPlan, Emulator, Mode, Options, RunEnv, RunResult, Status};

/// How to start the target's python3: program, arguments before the script's, environment.
#[derive(Clone, Debug)]
pub struct Launcher {
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
}

/// The factor by which emulation slows a test suite down, per architecture (qemu-user TCG on
/// x86_64; measured here: pure Python 5–10×, floating point 15–37×, Python start-up 20–70×).
/// Timeouts of emulated runs are the base timeout times this.
pub fn emulation_factor(arch: Arch) -> f64 {
    match arch {
        Arch::X86_64 | Arch::I686 | Arch::Aarch64 | Arch::Armv7l => 10.0,
        Arch::Ppc64 | Arch::Ppc64le | Arch::S390x | Arch::Riscv64 | Arch::Loongarch64 => 20.0,
    }
}

/// The CPU model qemu-user picks when neither `-cpu` nor `QEMU_CPU` is given, for the qemu
/// version (major, minor) (qemu's `linux-user/*/target_elf.h`; x86 moved from qemu64/qemu32
/// to max in 7.2).
pub fn default_cpu_model(arch: Arch, version: (u32, u32)) -> &'static str {
    match arch {
        Arch::X86_64 if version < (7, 2) => "qemu64",
        Arch::I686 if version < (7, 2) => "qemu32",
        Arch::X86_64 | Arch::I686 => "max",
        // `any` is an alias of `max` on aarch64.
        Arch::Aarch64 => "max",
        Arch::Armv7l => "any",
        Arch::Ppc64 | Arch::Ppc64le => "POWER9",
        Arch::S390x => "qemu",
        Arch::Riscv64 => "max",
        Arch::Loongarch64 => "la464",
    }
}

/// The host CPU's model name (`/proc/cpuinfo`).
fn host_cpu_model() -> String {
    let text = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    for key in ["model name", "cpu model", "cpu", "Processor"] {
        for line in text.lines() {
            if let Some((k, v)) = line.split_once(':') {
                if k.trim() == key && !v.trim().is_empty() {
                    return v.trim().to_string();
                }
            }
        }
    }
    "unknown".into()
}

/// `qemu-… --version`, once per binary.
fn emulator_info(path: &Path) -> Result<Emulator, String> {
    static SEEN: Mutex<BTreeMap<PathBuf, Emulator>> = Mutex::new(BTreeMap::new());
    if let Some(e) = SEEN.lock().unwrap_or_else(|e| e.into_inner()).get(path) {
        return Ok(e.clone());
    }
    let out = Command::new(path)
        .arg("--version")
        .output()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or("").trim().to_string();
    let version = line
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .unwrap_or("unknown")
        .to_string();
    let e = Emulator {
        name: path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned()),
        path: path.to_path_buf(),
        version,
        version_line: line,
    };
    SEEN.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(path.to_path_buf(), e.clone());
    Ok(e)
}

fn version_xy(v: &str) -> (u32, u32) {
    crate::parse_xy(v).unwrap_or((0, 0))
}

/// `debian:bookworm (12.15)`, or the image a target was made from.
pub(crate) fn distro_label(t: &Target) -> String {
    let m = &t.manifest;
    if let Some(image) = &m.image {
        return image.reference.clone();
    }
    match &m.release.version {
        Some(v) => format!("{}:{} ({v})", m.distro, m.suite),
        None => format!("{}:{}", m.distro, m.suite),
    }
}

/// qemu for a target that runs natively (for an emulated run of x86_64 or i686): the cached
/// `qemu-<arch>-static` of the target's suite (fetched from the mirror the first time), else
/// the one on PATH.
fn forced_qemu(p: &ArchPlan, opts: &Options) -> Result<PathBuf, String> {
    let arch = p.arch;
    let name = qemu::binary_name(arch);
    if opts.qemu_from_path {
        return qemu::from_path(arch).ok_or_else(|| format!("{name} is not on PATH"));
    }
    let m = &p.target.manifest;
    let distro = Distro::parse(&format!("{}:{}", m.distro, m.suite)).unwrap_or_default();
    let cached = p
        .cache
        .root()
        .join("qemu")
        .join(format!("{}-{}", distro.family, distro.suite))
        .join(&name);
    if cached.is_file() {
        return Ok(cached);
    }
    let fetched = (|| -> Result<PathBuf, manywheel_target::Error> {
        let quiet = Progress::quiet();
        let mirror = manywheel_target::fetch::Mirror::new(&m.mirror)?;
        let release = sysroot::fetch_release(&p.cache, &mirror, &distro.suite, &quiet)?;
        let host = sysroot::host_arch()?;
        let info = qemu::ensure(&p.cache, &mirror, &release, &distro, host, arch, &quiet)?;
        Ok(p.cache.root().join(info.file))
    })();
    match fetched {
        Ok(path) => Ok(path),
        Err(e) => qemu::from_path(arch)
            .ok_or_else(|| format!("cannot get {name}: {e}; nor is it on PATH")),
    }
}

/// How `mode` runs the target's python3, and the facts to report.
pub(crate) fn prepare(
    p: &ArchPlan,
    opts: &Options,
    mode: Mode,
    _dir: &Path,
) -> Result<(RunEnv, Launcher), String> {
    let t = &p.target;
    let run_opts = RunOptions {
        qemu_from_path: opts.qemu_from_path,
    };
    let native = t.is_native().map_err(|e| e.to_string())?;
    let (launcher, qemu_path) = if mode == Mode::Emulated && native {
        let q = forced_qemu(p, opts)?;
        let exe = t.resolve_program("python3").map_err(|e| e.to_string())?;
        let launcher = Launcher {
            program: q.clone(),
            args: vec!["-L".into(), t.root.clone().into(), exe.into()],
            envs: vec![("QEMU_LD_PREFIX".into(), t.root.clone().into())],
        };
        (launcher, Some(q))
    } else {
        let cmd = t
            .command("python3", &[], &run_opts)
            .map_err(|e| e.to_string())?;
        let launcher = Launcher {
            program: PathBuf::from(cmd.get_program()),
            args: cmd.get_args().map(OsString::from).collect(),
            envs: cmd
                .get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_os_string(), v.to_os_string())))
                .collect(),
        };
        let q = if native {
            None
        } else {
            t.qemu(&run_opts).map_err(|e| e.to_string())?
        };
        (launcher, q)
    };
    let (emulator, cpu) = match &qemu_path {
        Some(q) => {
            let e = emulator_info(q)?;
            let cpu = match std::env::var("QEMU_CPU").ok().filter(|v| !v.is_empty()) {
                Some(c) => format!("{c} (QEMU_CPU)"),
                None => default_cpu_model(p.arch, version_xy(&e.version)).to_string(),
            };
            (Some(e), cpu)
        }
        None => (None, host_cpu_model()),
    };
    let env = RunEnv {
        mode,
        emulator,
        cpu,
        target: t.name.clone(),
        distro: distro_label(t),
        glibc: t.manifest.glibc_version.clone(),
        python: p.python_full.clone(),
    };
    Ok((env, launcher))
}

/// Single-quote for sh.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn os_quote(s: &std::ffi::OsStr) -> String {
    sh_quote(&s.to_string_lossy())
}

/// An executable sh script that runs the launcher with `extra` arguments and then "$@".
fn write_wrapper(path: &Path, l: &Launcher, extra: &[&Path]) -> std::io::Result<()> {
    let mut text = String::from("#!/bin/sh\n# written by manywheel test\n");
    for (k, v) in &l.envs {
        let k = k.to_string_lossy();
        text.push_str(&format!("{k}={}; export {k}\n", os_quote(v)));
    }
    text.push_str("exec ");
    text.push_str(&os_quote(l.program.as_os_str()));
    for a in &l.args {
        text.push(' ');
        text.push_str(&os_quote(a));
    }
    for e in extra {
        text.push(' ');
        text.push_str(&os_quote(e.as_os_str()));
    }
    text.push_str(" \"$@\"\n");
    fs::write(path, text)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
}

/// Write `bin/` (python, python3, python3.X and the console scripts) and the scripts'
/// Python launchers.
fn write_bin(
    bin: &Path,
    launchers: &Path,
    l: &Launcher,
    inst: &Installed,
    python: (u32, u32),
) -> std::io::Result<()> {
    fs::create_dir_all(bin)?;
    fs::create_dir_all(launchers)?;
    for name in [
        "python",
        "python3",
        &format!("python{}.{}", python.0, python.1),
    ] {
        write_wrapper(&bin.join(name), l, &[])?;
    }
    for (name, module, attr) in &inst.scripts {
        if name.starts_with("python") {
            continue;
        }
        let script = launchers.join(name);
        let chain = serde_json::to_string(&attr.split('.').collect::<Vec<_>>()).unwrap_or_default();
        fs::write(
            &script,
            format!(
                "# console script {name} (written by manywheel test)\n\
                 import importlib, sys\n\
                 sys.argv[0] = {argv0}\n\
                 obj = importlib.import_module({module})\n\
                 for part in {chain}:\n    obj = getattr(obj, part)\n\
                 sys.exit(obj())\n",
                argv0 = serde_json::to_string(name).unwrap_or_default(),
                module = serde_json::to_string(module).unwrap_or_default(),
            ),
        )?;
        write_wrapper(&bin.join(name), l, &[&script])?;
    }
    Ok(())
}

/// Run `command` in the prepared shell with the scaled timeout and classify the result.
#[allow(clippy::too_many_arguments)]
pub(crate) fn execute(
    p: &ArchPlan,
    opts: &Options,
    inst: &Installed,
    env: RunEnv,
    launcher: &Launcher,
    command: &str,
    project: Option<&Path>,
    dir: &Path,
) -> RunResult {
    let mode_dir = dir.join(env.mode.to_string());
    let bin = mode_dir.join("bin");
    let junit = mode_dir.join("junit.xml");
    let log = mode_dir.join("output.log");
    let factor = match env.mode {
        Mode::Native => 1.0,
        Mode::Emulated => opts
            .emulation_factor
            .unwrap_or_else(|| emulation_factor(p.arch)),
    };
    let timeout = opts.timeout.mul_f64(factor);
    let mut result = RunResult::new(p, env, command);
    result.timeout_s = timeout.as_secs_f64();
    result.emulation_factor = factor;
    let _ = fs::remove_file(&junit);
    if let Err(e) = write_bin(&bin, &mode_dir.join("launchers"), launcher, inst, p.python) {
        result.message = Some(format!("{}: {e}", bin.display()));
        return result;
    }
    let started = Instant::now();
    let outcome = spawn_and_wait(
        command,
        &bin,
        inst,
        &junit,
        &log,
        project.unwrap_or(dir),
        &result,
        timeout,
        &p.cache.root().join("pycache"),
    );
    result.duration_s = started.elapsed().as_secs_f64();
    let (status, timed_out) = match outcome {
        Ok(v) => v,
        Err(e) => {
            result.message = Some(e);
            return result;
        }
    };
    let text = fs::read(&log)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    result.output_tail = tail(&text, 60, 8000);
    result.exit_code = status.and_then(|s| s.code());
    result.signal = status.and_then(|s| s.signal()).or_else(|| {
        // The shell reports a program killed by signal N as exit code 128+N.
        result
            .exit_code
            .filter(|c| (129..160).contains(c))
            .map(|c| c - 128)
    });
    if let Ok(xml) = fs::read_to_string(&junit) {
        let outcomes = outcome::parse_junit(&xml);
        result.tests = Some(outcome::TestCounts::count(&outcomes));
        result.failed_tests = outcomes
            .iter()
            .filter(|(_, o)| matches!(o, outcome::Outcome::Failed | outcome::Outcome::Error))
            .map(|(k, _)| k.clone())
            .collect();
        result.outcomes = outcomes;
    }
    if timed_out {
        result.status = Status::Timeout;
    } else if result.exit_code == Some(0) {
        result.status = Status::Passed;
    } else {
        let (s, fault) = outcome::classify_failure(result.env.mode, result.signal, &text);
        result.status = s;
        result.fault = fault;
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn spawn_and_wait(
    command: &str,
    bin: &Path,
    inst: &Installed,
    junit: &Path,
    log: &Path,
    cwd: &Path,
    r: &RunResult,
    timeout: Duration,
    pycache: &Path,
) -> Result<(Option<std::process::ExitStatus>, bool), String> {
    let file = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let file2 = file
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut path = OsString::from(bin.as_os_str());
    if let Some(old) = std::env::var_os("PATH") {
        path.push(":");
        path.push(old);
    }
    let pythonpath =
        std::env::join_paths([&inst.site, &inst.reqs]).map_err(|e| format!("PYTHONPATH: {e}"))?;
    let mut addopts = format!(
        "-p no:cacheprovider --junitxml={}",
        sh_quote(&junit.to_string_lossy())
    );
    if let Ok(old) = std::env::var("PYTEST_ADDOPTS") {
        addopts.push(' ');
        addopts.push_str(&old);
    }
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(cwd)
        .env("PATH", path)
        .env("PYTHONPATH", pythonpath)
        .env("PYTHONNOUSERSITE", "1")
        // Bytecode goes to one folder of the cache, mirrored by path: the target's stdlib (Debian
        // ships no .pyc) is compiled once, not at every emulated start; nothing is written
        // into the target or the installed trees.
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .env("PYTHONPYCACHEPREFIX", pycache)
        .env("PYTEST_ADDOPTS", addopts)
        .env("MANYWHEEL_TEST_ARCH", r.arch.name())
        .env("MANYWHEEL_TEST_MODE", r.env.mode.to_string())
        .env_remove("PYTHONHOME")
        .stdin(Stdio::null())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(file2))
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| format!("cannot run sh: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok((Some(status), false)),
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for the command: {e}")),
        }
        if started.elapsed() >= timeout {
            // The whole process group: the shell and whatever it started.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let status = child.wait().ok();
            return Ok((status, true));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last `lines` lines, at most `bytes` bytes.
fn tail(text: &str, lines: usize, bytes: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut out = all[start..].join("\n");
    if out.len() > bytes {
        let mut cut = out.len() - bytes;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out = out[cut..].to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn cpu_defaults_follow_the_qemu_version() {
        assert_eq!(default_cpu_model(Arch::X86_64, (7, 1)), "qemu64");
        assert_eq!(default_cpu_model(Arch::X86_64, (7, 2)), "max");
        assert_eq!(default_cpu_model(Arch::Ppc64le, (7, 2)), "POWER9");
        assert_eq!(default_cpu_model(Arch::S390x, (10, 0)), "qemu");
    }

    #[test]
    fn tails() {
        assert_eq!(tail("a\nb\nc\n", 2, 100), "b\nc");
        assert_eq!(tail("abcdef", 5, 3), "def");
    }
}
