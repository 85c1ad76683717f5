//! Running a target's programs from the host.
//!
//! - Native architectures (x86_64, and i686 on an x86_64 host): through the target's own
//!   dynamic loader, `ld.so --inhibit-cache --library-path DIRS PROGRAM ARGS`, so the target's
//!   libc and libraries are used, never the host's.
//! - Others: `qemu-<arch>-static -L ROOT PROGRAM ARGS` with `QEMU_LD_PREFIX=ROOT`; the guest
//!   loader and libraries come from the target. Its `etc/ld.so.cache` is empty, so the
//!   host's cache is not consulted either.
//!
//! Programs a target program starts itself (`subprocess`) run as host programs: without
//! binfmt, a foreign child cannot be executed.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use manywheel_policy::Arch;

use crate::cache::Cache;
use crate::qemu;
use crate::sysroot::{self, Manifest, BASE_PACKAGE};
use crate::unpack;
use crate::Error;

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Use `qemu-<arch>-static` (or `qemu-<arch>`) from PATH instead of the cached one.
    pub qemu_from_path: bool,
}

/// An installed target.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: String,
    /// The sysroot.
    pub root: PathBuf,
    pub manifest: Manifest,
    cache: Cache,
}

/// Directories a bare command name is looked up in, inside the target.
const BIN_DIRS: [&str; 5] = ["usr/local/bin", "usr/bin", "bin", "usr/sbin", "sbin"];

impl Target {
    /// Open the target called `name`.
    pub fn open(cache: &Cache, name: &str) -> Result<Target, Error> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(Error::Usage(format!("bad target name '{name}'")));
        }
        let root = cache.target_dir(name);
        if !root.is_dir() {
            return Err(Error::Target(format!(
                "no target named {name} (see `manywheel target list`)"
            )));
        }
        let manifest = Manifest::read(&root)?;
        Ok(Target {
            name: name.to_string(),
            root,
            manifest,
            cache: cache.clone(),
        })
    }

    /// The target for `arch`: `name` if given (it must be for `arch`), else the one of the
    /// default distribution, else the only one for `arch`.
    pub fn find(cache: &Cache, arch: Arch, name: Option<&str>) -> Result<Target, Error> {
        if let Some(name) = name {
            let t = Target::open(cache, name)?;
            if t.manifest.arch != arch {
                return Err(Error::Usage(format!(
                    "target {name} is for {}, not {arch}",
                    t.manifest.arch
                )));
            }
            return Ok(t);
        }
        let default = sysroot::Distro::default().target_name(arch);
        if cache
            .target_dir(&default)
            .join(sysroot::MANIFEST_FILE)
            .is_file()
        {
            return Target::open(cache, &default);
        }
        let candidates: Vec<String> = sysroot::list(cache)?
            .into_iter()
            .filter(|t| t.arch == arch)
            .map(|t| t.name)
            .collect();
        match candidates.as_slice() {
            [] => Err(Error::Target(format!(
                "no target for {arch}; add one with `manywheel target add {arch}`"
            ))),
            [one] => Target::open(cache, one),
            many => Err(Error::Usage(format!(
                "several targets for {arch} ({}); choose one with --target",
                many.join(", ")
            ))),
        }
    }

    pub fn arch(&self) -> Arch {
        self.manifest.arch
    }

    /// Whether programs run without emulation on this host.
    pub fn is_native(&self) -> Result<bool, Error> {
        Ok(sysroot::runs_natively(sysroot::host_arch()?, self.arch()))
    }

    /// The emulator to use (`None` for a native target).
    pub fn qemu(&self, opts: &RunOptions) -> Result<Option<PathBuf>, Error> {
        if self.is_native()? {
            return Ok(None);
        }
        if !opts.qemu_from_path {
            if let Some(q) = &self.manifest.qemu {
                let path = self.cache.root().join(&q.file);
                if path.is_file() {
                    return Ok(Some(path));
                }
            }
        }
        if let Some(path) = qemu::from_path(self.arch()) {
            if opts.qemu_from_path || self.manifest.qemu.is_none() {
                return Ok(Some(path));
            }
        }
        let name = qemu::binary_name(self.arch());
        Err(Error::Target(if opts.qemu_from_path {
            format!("{name} is not on PATH")
        } else {
            format!(
                "{name} is not in the cache; run `manywheel target add {} --distro {}:{}` again, or pass --qemu-from-path",
                self.arch(),
                self.manifest.distro,
                self.manifest.suite
            )
        }))
    }

    /// The library directories of the target (host paths), from its `etc/ld.so.conf.d` and
    /// the multiarch defaults.
    pub fn library_path(&self) -> Vec<PathBuf> {
        let triple = self.arch().gnu_triple();
        let mut dirs: Vec<String> = Vec::new();
        if let Ok(entries) = fs::read_dir(self.root.join("etc/ld.so.conf.d")) {
            let mut files: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension() == Some(OsStr::new("conf")))
                .collect();
            files.sort();
            for f in files {
                // A configuration file that is a link resolves inside the target only.
                let text = fs::read_to_string(&f).unwrap_or_default();
                for line in text.lines() {
                    let line = line.split('#').next().unwrap_or("").trim();
                    if line.starts_with('/') {
                        dirs.push(line.to_string());
                    }
                }
            }
        }
        for d in [
            format!("/lib/{triple}"),
            format!("/usr/lib/{triple}"),
            "/lib".into(),
            "/usr/lib".into(),
        ] {
            dirs.push(d);
        }
        let mut out: Vec<PathBuf> = Vec::new();
        for d in dirs {
            if let Ok(p) = unpack::resolve_path(&self.root, Path::new(&d)) {
                if p.is_dir() && !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// The host path of a program named on the command line: `python3`/`python` is the
    /// target's python3; a bare name is looked up in the target's bin directories; an
    /// absolute path is taken inside the target when it exists there; other paths are host
    /// paths (a program built for the target).
    pub fn resolve_program(&self, program: &str) -> Result<PathBuf, Error> {
        if let Some(p) = self.image_python(program)? {
            return Ok(p);
        }
        let name = if program == "python" {
            BASE_PACKAGE
        } else {
            program
        };
        if !name.contains('/') {
            for dir in BIN_DIRS {
                let inside = Path::new("/").join(dir).join(name);
                if let Ok(p) = unpack::resolve_path(&self.root, &inside) {
                    if p.is_file() {
                        return Ok(p);
                    }
                }
            }
            return Err(Error::Usage(format!(
                "{program}: no such program in target {} (looked in {})",
                self.name,
                BIN_DIRS.map(|d| format!("/{d}")).join(", ")
            )));
        }
        let path = Path::new(name);
        if path.is_absolute() {
            if let Ok(p) = unpack::resolve_path(&self.root, path) {
                if p.is_file() {
                    return Ok(p);
                }
            }
        }
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        Err(Error::Usage(format!("{program}: no such file")))
    }

    /// In a target made from an image, `python`/`python3` is the Python recorded in the
    /// manifest (chosen with `--python`; manylinux keeps them in `/opt/python`), and
    /// `python3.X` is that version's CPython. `None`: not such a name, or not an image target.
    fn image_python(&self, program: &str) -> Result<Option<PathBuf>, Error> {
        let Some(image) = &self.manifest.image else {
            return Ok(None);
        };
        let inside = if program == "python" || program == "python3" {
            match &self.manifest.python {
                Some(p) => p.clone(),
                None => {
                    return Err(Error::Usage(format!(
                    "target {} has no CPython (none in the image {}); run a program of it by path",
                    self.name, image.reference
                )))
                }
            }
        } else if let Some(v) = program.strip_prefix("python") {
            match image.pythons.iter().find(|p| p.version == v) {
                Some(p) => p.path.clone(),
                None => return Ok(None),
            }
        } else {
            return Ok(None);
        };
        let path = unpack::resolve_path(&self.root, Path::new(&inside)).map_err(|e| {
            Error::Target(format!("{program} ({inside}) in target {}: {e}", self.name))
        })?;
        Ok(Some(path))
    }

    /// A command running `program` with `args` for this target (stdin, stdout, stderr and
    /// the environment are inherited). A `#!` script is run through its interpreter from
    /// the target.
    pub fn command(
        &self,
        program: &str,
        args: &[OsString],
        opts: &RunOptions,
    ) -> Result<Command, Error> {
        let mut exe = self.resolve_program(program)?;
        let mut argv: Vec<OsString> = Vec::new();
        let head = read_head(&exe)?;
        if let Some(line) = head.strip_prefix(b"#!") {
            let line = line.split(|&b| b == b'\n').next().unwrap_or(&[]);
            let line = String::from_utf8_lossy(line);
            let mut parts = line.trim().splitn(2, char::is_whitespace);
            let interp = parts.next().unwrap_or("");
            if interp.is_empty() {
                return Err(Error::Usage(format!("{}: empty #! line", exe.display())));
            }
            let interp_path = unpack::resolve_path(&self.root, Path::new(interp)).map_err(|e| {
                Error::Usage(format!("{}: interpreter {interp}: {e}", exe.display()))
            })?;
            if let Some(arg) = parts.next().map(str::trim).filter(|a| !a.is_empty()) {
                argv.push(arg.into());
            }
            argv.push(exe.into_os_string());
            exe = interp_path;
        }
        argv.extend(args.iter().cloned());
        let bytes = fs::read(&exe).map_err(|e| unpack::io_err(&exe, e))?;
        let elf = manywheel_elf::parse(&bytes)
            .map_err(|e| Error::Usage(format!("{}: not an ELF executable: {e}", exe.display())))?;
        let h = &elf.header;
        let found = Arch::from_elf(
            h.machine,
            h.class == manywheel_elf::Class::Elf64,
            h.endian == manywheel_elf::Endian::Little,
            h.flags,
        );
        if found != Some(self.arch()) {
            return Err(Error::Usage(format!(
                "{} is a{} program, not {}",
                exe.display(),
                found.map_or(" foreign".to_string(), |a| format!("n {a}")),
                self.arch()
            )));
        }
        match self.qemu(opts)? {
            None => {
                let Some(interp) = &elf.interpreter else {
                    // Static: nothing of the target to load.
                    let mut cmd = Command::new(&exe);
                    cmd.args(&argv);
                    return Ok(cmd);
                };
                let loader = unpack::resolve_path(&self.root, Path::new(interp)).map_err(|e| {
                    Error::Target(format!(
                        "loader {interp} missing in target {}: {e}",
                        self.name
                    ))
                })?;
                let libs = std::env::join_paths(self.library_path())
                    .map_err(|e| Error::Target(format!("library path: {e}")))?;
                let mut cmd = Command::new(loader);
                cmd.arg("--inhibit-cache")
                    .arg("--library-path")
                    .arg(libs)
                    .arg(&exe)
                    .args(&argv);
                Ok(cmd)
            }
            Some(qemu) => {
                let mut cmd = Command::new(qemu);
                cmd.arg("-L")
                    .arg(&self.root)
                    .arg(&exe)
                    .args(&argv)
                    .env("QEMU_LD_PREFIX", &self.root);
                Ok(cmd)
            }
        }
    }
}

fn read_head(path: &Path) -> Result<Vec<u8>, Error> {
    let mut head = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(256).read_to_end(&mut head))
        .map_err(|e| unpack::io_err(path, e))?;
    Ok(head)
}
