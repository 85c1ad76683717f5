//! Finding the host's tools (a CPython of the target's version, a cross compiler) and writing
//! the wrapper scripts of hybrid and emulated builds.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use manywheel_policy::Arch;
use manywheel_target::{RunOptions, Target};

use crate::shell;
use crate::BuildError;

/// A host Python interpreter.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HostPython {
    pub path: PathBuf,
    /// `3.11.7`.
    pub version: String,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn python_version(exe: &Path) -> Option<String> {
    let out = Command::new(exe)
        .args([
            "-S",
            "-c",
            "import sys; print('%d.%d.%d' % sys.version_info[:3])",
        ])
        .env_remove("_PYTHON_SYSCONFIGDATA_NAME")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A host CPython `major.minor` (`MANYWHEEL_HOST_PYTHON` if set and of that version, else
/// `pythonX.Y` on PATH, `python3` on PATH, pyenv's versions, `/usr/bin/pythonX.Y`).
pub fn host_python(minor: &str) -> Option<HostPython> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("MANYWHEEL_HOST_PYTHON").filter(|v| !v.is_empty()) {
        candidates.push(PathBuf::from(p));
    }
    candidates.extend(on_path(&format!("python{minor}")));
    candidates.extend(on_path("python3"));
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    if let Some(root) = pyenv {
        if let Ok(rd) = fs::read_dir(root.join("versions")) {
            let mut dirs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            dirs.sort();
            dirs.reverse();
            for d in dirs {
                candidates.push(d.join(format!("bin/python{minor}")));
            }
        }
    }
    candidates.push(PathBuf::from(format!("/usr/bin/python{minor}")));
    for c in candidates {
        if !c.is_file() {
            continue;
        }
        if let Some(v) = python_version(&c) {
            if v.starts_with(&format!("{minor}.")) {
                return Some(HostPython {
                    path: c,
                    version: v,
                });
            }
        }
    }
    None
}

/// The name prefix of a GNU toolchain for `arch` (`aarch64-linux-gnu`; `i686-linux-gnu` where
/// Debian's multiarch triple says i386).
pub fn tool_prefix(arch: Arch) -> &'static str {
    match arch {
        Arch::I686 => "i686-linux-gnu",
        a => a.gnu_triple(),
    }
}

/// A native cross compiler pair for `arch` on the host.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CrossCompiler {
    pub cc: PathBuf,
    pub cxx: Option<PathBuf>,
    pub ar: Option<PathBuf>,
}

/// `<prefix>-gcc` on PATH (for the host's own architecture also plain `gcc`).
pub fn cross_compiler(arch: Arch) -> Option<CrossCompiler> {
    let prefix = tool_prefix(arch);
    let host = Arch::from_name(std::env::consts::ARCH).ok();
    let find = |tool: &str, plain: &str| {
        on_path(&format!("{prefix}-{tool}"))
            .or_else(|| (host == Some(arch)).then(|| on_path(plain)).flatten())
    };
    Some(CrossCompiler {
        cc: find("gcc", "gcc")?,
        cxx: find("g++", "g++"),
        ar: find("gcc-ar", "gcc-ar").or_else(|| find("ar", "ar")),
    })
}

/// The first line of `<compiler> --version`.
pub fn compiler_version(cmd: &Path) -> String {
    Command::new(cmd)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// A command line and the environment it needs.
pub type Runner = (Vec<String>, Vec<(String, String)>);

/// The argv (and environment) that runs a program of the target: the emulator or the target's
/// own loader in front.
pub fn runner_argv(target: &Target, program: &Path) -> Result<Runner, BuildError> {
    let cmd = target
        .command(
            &program.to_string_lossy(),
            &[] as &[OsString],
            &RunOptions::default(),
        )
        .map_err(|e| BuildError::Target(e.to_string()))?;
    let mut argv = vec![cmd.get_program().to_string_lossy().into_owned()];
    argv.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    let env = cmd
        .get_envs()
        .filter_map(|(k, v)| {
            v.map(|v| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
        })
        .collect();
    Ok((argv, env))
}

/// The target's GCC: the driver names and the folder of its internal programs.
pub struct TargetGcc {
    /// `usr/lib/gcc/<triple>/<version>` (host path).
    pub libexec: PathBuf,
    pub version: String,
    pub triple: String,
}

/// Find the GCC installed in the target sysroot (Debian's `gcc` package).
pub fn target_gcc(root: &Path) -> Option<TargetGcc> {
    let base = root.join("usr/lib/gcc");
    for triple in fs::read_dir(&base).ok()?.flatten() {
        let Ok(versions) = fs::read_dir(triple.path()) else {
            continue;
        };
        for v in versions.flatten() {
            if v.path().join("cc1").is_file() {
                return Some(TargetGcc {
                    libexec: v.path(),
                    version: v.file_name().to_string_lossy().into_owned(),
                    triple: triple.file_name().to_string_lossy().into_owned(),
                });
            }
        }
    }
    None
}

/// Compiler commands (absolute paths with their fixed arguments) to put in the build's
/// configuration.
#[derive(Clone, Debug)]
pub struct Compilers {
    pub cc: Vec<String>,
    pub cxx: Vec<String>,
    pub ar: Option<String>,
    /// A folder to put first on PATH (the wrappers), if any.
    pub path_dir: Option<PathBuf>,
    /// How the compiler runs: `native` or `emulated`.
    pub runs: &'static str,
    /// `gcc --version` of the compiler that does the work.
    pub version: String,
    /// The compiler that does the work (for the record).
    pub program: String,
}

/// Host cross compiler called directly with `--sysroot` (cross mode).
pub fn cross_compilers(cc: &CrossCompiler, root: &Path) -> Compilers {
    let sysroot = format!("--sysroot={}", root.display());
    let cxx = cc.cxx.clone().unwrap_or_else(|| cc.cc.clone());
    Compilers {
        cc: vec![cc.cc.display().to_string(), sysroot.clone()],
        cxx: vec![cxx.display().to_string(), sysroot],
        ar: cc.ar.as_ref().map(|a| a.display().to_string()),
        path_dir: None,
        runs: "native",
        version: compiler_version(&cc.cc),
        program: cc.cc.display().to_string(),
    }
}

/// Hybrid mode: wrappers named like the target's compilers (`<prefix>-gcc`, `gcc`, `cc`, …)
/// that run the host cross compiler, so that a build running under emulation compiles natively.
pub fn hybrid_wrappers(
    cc: &CrossCompiler,
    arch: Arch,
    root: &Path,
    dir: &Path,
) -> Result<Compilers, BuildError> {
    fs::create_dir_all(dir).map_err(|e| BuildError::io(dir, e))?;
    let sysroot = format!("--sysroot={}", root.display());
    let prefix = tool_prefix(arch);
    let cxx = cc.cxx.clone().unwrap_or_else(|| cc.cc.clone());
    for (names, real) in [
        (
            vec![format!("{prefix}-gcc"), "gcc".into(), "cc".into()],
            &cc.cc,
        ),
        (
            vec![format!("{prefix}-g++"), "g++".into(), "c++".into()],
            &cxx,
        ),
    ] {
        for n in names {
            let p = dir.join(&n);
            shell::write_wrapper(&p, &[], &[real.display().to_string(), sysroot.clone()])
                .map_err(|e| BuildError::io(&p, e))?;
        }
    }
    let w = |n: &str| dir.join(n).display().to_string();
    Ok(Compilers {
        cc: vec![w(&format!("{prefix}-gcc"))],
        cxx: vec![w(&format!("{prefix}-g++"))],
        ar: cc.ar.as_ref().map(|a| a.display().to_string()),
        path_dir: Some(dir.to_path_buf()),
        runs: "native",
        version: compiler_version(&cc.cc),
        program: cc.cc.display().to_string(),
    })
}

/// Emulated mode: wrappers that run the target's own GCC (driver, cc1, cc1plus, collect2, as,
/// ld) under the emulator (or the target's loader). The driver gets `-B <dir>/` so every
/// program it starts is one of these wrappers: without binfmt, a foreign program cannot be
/// started by another directly.
pub fn emulated_wrappers(target: &Target, dir: &Path) -> Result<Compilers, BuildError> {
    let root = &target.root;
    let gcc = target_gcc(root).ok_or_else(|| {
        BuildError::Target(format!(
            "target {} has no gcc (add the Debian packages gcc and g++ to it)",
            target.name
        ))
    })?;
    fs::create_dir_all(dir).map_err(|e| BuildError::io(dir, e))?;
    let write = |name: &str, program: &Path, extra: &[String]| -> Result<(), BuildError> {
        let (mut argv, env) = runner_argv(target, program)?;
        argv.extend(extra.iter().cloned());
        let p = dir.join(name);
        shell::write_wrapper(&p, &env, &argv).map_err(|e| BuildError::io(&p, e))
    };
    for tool in ["cc1", "cc1plus", "collect2", "lto-wrapper", "lto1"] {
        let real = gcc.libexec.join(tool);
        if real.is_file() {
            write(tool, &real, &[])?;
        }
    }
    let bin = root.join("usr/bin");
    let t = &gcc.triple;
    write("as", &bin.join(format!("{t}-as")), &[])?;
    for ld in ["ld", "ld.bfd"] {
        write(ld, &bin.join(format!("{t}-ld.bfd")), &[])?;
    }
    let driver_args = vec![
        format!("--sysroot={}", root.display()),
        format!("-B{}/", dir.display()),
    ];
    let prefix = tool_prefix(target.arch());
    let gcc_bin = bin.join(format!("{t}-gcc-{}", gcc.version));
    let gxx_bin = bin.join(format!("{t}-g++-{}", gcc.version));
    for n in [format!("{prefix}-gcc"), "gcc".into(), "cc".into()] {
        write(&n, &gcc_bin, &driver_args)?;
    }
    let have_gxx = gxx_bin.is_file();
    if have_gxx {
        for n in [format!("{prefix}-g++"), "g++".into(), "c++".into()] {
            write(&n, &gxx_bin, &driver_args)?;
        }
    }
    let w = |n: &str| dir.join(n).display().to_string();
    let cc = w(&format!("{prefix}-gcc"));
    let version = compiler_version(Path::new(&cc));
    Ok(Compilers {
        cc: vec![cc.clone()],
        cxx: vec![if have_gxx {
            w(&format!("{prefix}-g++"))
        } else {
            cc
        }],
        ar: None,
        path_dir: Some(dir.to_path_buf()),
        runs: "emulated",
        version,
        program: format!("{} (target's gcc {})", gcc_bin.display(), gcc.version),
    })
}
