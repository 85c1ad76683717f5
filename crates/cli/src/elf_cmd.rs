//! `manywheel elf`: print or change the dynamic section of one ELF file.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use manywheel_elf::{Patch, RpathChange, RpathKind, SegmentChange};
use manywheel_policy::Arch;

use crate::output;

#[derive(Args)]
pub struct ElfArgs {
    #[command(subcommand)]
    pub command: ElfCommand,
}

#[derive(Subcommand)]
pub enum ElfCommand {
    /// Print the soname, needed libraries, rpath, runpath, interpreter and architecture.
    Print(PrintArgs),
    /// Change the soname, needed libraries or search path (in place unless -o is given).
    ///
    /// Strings that fit are written over the old ones; otherwise the tables that must grow
    /// move to one segment appended at the end of the file, which later changes reuse. The
    /// file is replaced atomically and keeps its permissions.
    Set(SetArgs),
}

#[derive(Args)]
pub struct PrintArgs {
    /// The ELF file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct SetArgs {
    /// The ELF file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Write the result here instead of replacing FILE.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Set DT_SONAME.
    #[arg(long, value_name = "SONAME")]
    pub set_soname: Option<String>,
    /// Replace the DT_NEEDED entry OLD with NEW (repeatable).
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
    pub replace_needed: Vec<String>,
    /// Add a DT_NEEDED entry after the existing ones (repeatable).
    #[arg(long, value_name = "LIB")]
    pub add_needed: Vec<String>,
    /// Remove a DT_NEEDED entry (repeatable).
    #[arg(long, value_name = "LIB")]
    pub remove_needed: Vec<String>,
    /// Set DT_RPATH (colon-separated), removing DT_RUNPATH.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["set_runpath", "remove_rpath"])]
    pub set_rpath: Option<String>,
    /// Set DT_RUNPATH (colon-separated), removing DT_RPATH.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["remove_rpath", "force_rpath"])]
    pub set_runpath: Option<String>,
    /// Turn DT_RUNPATH into DT_RPATH (with --set-rpath: redundant).
    #[arg(long, conflicts_with = "remove_rpath")]
    pub force_rpath: bool,
    /// Remove DT_RPATH and DT_RUNPATH.
    #[arg(long)]
    pub remove_rpath: bool,
}

pub fn run(args: &ElfArgs) -> anyhow::Result<u8> {
    match &args.command {
        ElfCommand::Print(a) => print(a),
        ElfCommand::Set(a) => set(a),
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| path.display().to_string())
}

fn print(args: &PrintArgs) -> anyhow::Result<u8> {
    let data = read(&args.file)?;
    let ctx = || args.file.display().to_string();
    let elf = manywheel_elf::parse(&data).with_context(ctx)?;
    let strings = manywheel_elf::dynamic_strings(&data).unwrap_or_default();
    let h = elf.header;
    let arch = Arch::from_elf(
        h.machine,
        h.class == manywheel_elf::Class::Elf64,
        h.endian == manywheel_elf::Endian::Little,
        h.flags,
    )
    .map_or_else(
        || format!("unknown (e_machine {})", h.machine),
        |a| a.name().to_string(),
    );
    if args.json {
        let value = serde_json::json!({
            "file": args.file.display().to_string(),
            "arch": arch,
            "interpreter": elf.interpreter,
            "soname": strings.soname,
            "needed": strings.needed,
            "rpath": strings.rpath,
            "runpath": strings.runpath,
        });
        output::out(&format!("{}\n", serde_json::to_string_pretty(&value)?));
        return Ok(0);
    }
    let mut text = String::new();
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let _ = writeln!(text, "file:        {}", args.file.display());
    let _ = writeln!(text, "arch:        {arch}");
    let _ = writeln!(text, "interpreter: {}", opt(&elf.interpreter));
    let _ = writeln!(text, "soname:      {}", opt(&strings.soname));
    if strings.needed.is_empty() {
        let _ = writeln!(text, "needed:      -");
    }
    for n in &strings.needed {
        let _ = writeln!(text, "needed:      {n}");
    }
    let _ = writeln!(text, "rpath:       {}", opt(&strings.rpath));
    let _ = writeln!(text, "runpath:     {}", opt(&strings.runpath));
    output::out(&text);
    Ok(0)
}

fn build_patch(args: &SetArgs) -> anyhow::Result<Patch> {
    let set_rpath = match (
        &args.set_rpath,
        &args.set_runpath,
        args.force_rpath,
        args.remove_rpath,
    ) {
        (Some(p), None, _, false) => Some(RpathChange::Set {
            path: p.clone(),
            kind: RpathKind::Rpath,
        }),
        (None, Some(p), false, false) => Some(RpathChange::Set {
            path: p.clone(),
            kind: RpathKind::Runpath,
        }),
        (None, None, true, false) => Some(RpathChange::ForceRpath),
        (None, None, false, true) => Some(RpathChange::Remove),
        (None, None, false, false) => None,
        _ => anyhow::bail!("conflicting search path options"),
    };
    let patch = Patch {
        set_soname: args.set_soname.clone(),
        replace_needed: args
            .replace_needed
            .chunks(2)
            .map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or_default()))
            .collect(),
        add_needed: args.add_needed.clone(),
        remove_needed: args.remove_needed.clone(),
        set_rpath,
    };
    anyhow::ensure!(
        !patch.is_empty(),
        "nothing to change: give --set-soname, --replace-needed, --add-needed, --remove-needed, \
         --set-rpath, --set-runpath, --force-rpath or --remove-rpath"
    );
    Ok(patch)
}

fn set(args: &SetArgs) -> anyhow::Result<u8> {
    let patch = build_patch(args)?;
    let data = read(&args.file)?;
    let patched =
        manywheel_elf::patch(&data, &patch).with_context(|| args.file.display().to_string())?;
    let out_path = args.output.as_deref().unwrap_or(&args.file);
    let in_place = args.output.is_none();
    let perms = std::fs::metadata(&args.file)
        .with_context(|| args.file.display().to_string())?
        .permissions();
    if !(in_place && patched.data == data) {
        write_atomic(out_path, &patched.data, perms)
            .with_context(|| format!("writing {}", out_path.display()))?;
    }
    let r = &patched.report;
    let mut text = String::new();
    for c in &r.changes {
        let _ = writeln!(text, "{}: {c}", out_path.display());
    }
    if r.changes.is_empty() {
        let _ = writeln!(
            text,
            "{}: unchanged (already as requested)",
            out_path.display()
        );
    } else {
        let how = match r.segment {
            SegmentChange::None => "edited in place".to_string(),
            SegmentChange::Added => format!("segment added ({})", r.moved.join(", ")),
            SegmentChange::Reused => "appended segment reused".to_string(),
        };
        let _ = writeln!(
            text,
            "{}: {} -> {} bytes ({:+}), {how}",
            out_path.display(),
            r.old_size,
            r.new_size,
            r.growth()
        );
    }
    output::out(&text);
    Ok(0)
}

/// Write `data` to a temporary file beside `target`, then rename it over `target`. A symbolic
/// link is followed: the file it points at is replaced.
fn write_atomic(target: &Path, data: &[u8], perms: std::fs::Permissions) -> anyhow::Result<()> {
    let target = match std::fs::symlink_metadata(target) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(target)?,
        _ => target.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut n = 0u32;
    let (tmp, mut file) = loop {
        let tmp = dir.join(format!(".{name}.manywheel-{}-{n}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e.into()),
        }
    };
    let result = (|| -> std::io::Result<()> {
        file.write_all(data)?;
        file.sync_all()?;
        drop(file);
        std::fs::set_permissions(&tmp, perms)?;
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(result?)
}
