//! `manywheel lddtree`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use manywheel_audit::{host_target, DepTree, Location, Resolver, Root};
use manywheel_policy::{Arch, Libc};

use crate::output;
use crate::LddtreeArgs;

pub fn run(args: &LddtreeArgs) -> anyhow::Result<u8> {
    let data = std::fs::read(&args.file).with_context(|| format!("{}", args.file.display()))?;
    let elf = manywheel_elf::parse(&data).with_context(|| format!("{}", args.file.display()))?;
    let h = elf.header;
    let arch = Arch::from_elf(
        h.machine,
        h.class == manywheel_elf::Class::Elf64,
        h.endian == manywheel_elf::Endian::Little,
        h.flags,
    )
    .with_context(|| {
        format!(
            "{}: unknown architecture (e_machine {})",
            args.file.display(),
            h.machine
        )
    })?;
    let musl = elf
        .interpreter
        .as_deref()
        .is_some_and(|i| i.contains("ld-musl"))
        || elf.needed.iter().any(|n| n.starts_with("libc.musl-"));
    let libc = if musl { Libc::Musl } else { Libc::Glibc };

    let ldpaths = args.target.ldpaths();
    let root = match &args.target.sysroot {
        Some(dir) => {
            anyhow::ensure!(dir.is_dir(), "--sysroot {}: not a directory", dir.display());
            Some(Root::new(dir))
        }
        None if ldpaths.is_some() || host_target() == Some((libc, arch)) => Some(Root::host_root()),
        None => {
            output::warning_line(&format!(
                "no --sysroot for a {} file on this host: its libraries are not looked up",
                arch.name()
            ));
            None
        }
    };
    // Place the file where $ORIGIN means something: inside the root when it lives there.
    let abs = std::fs::canonicalize(&args.file)?;
    let elf = Arc::new(elf);
    let (top, wheel_elfs) = match &root {
        Some(r) => {
            let host_root = std::fs::canonicalize(r.host_dir())?;
            match abs.strip_prefix(&host_root) {
                Ok(rel) => (Location::Root(Path::new("/").join(rel)), HashMap::new()),
                Err(_) => virtual_top(&abs, &elf),
            }
        }
        None => virtual_top(&abs, &elf),
    };
    let resolver = Resolver::new(root, libc, arch, ldpaths, wheel_elfs);
    let tree = resolver.tree(top, elf.clone());
    if args.json {
        let libs: Vec<serde_json::Value> = tree
            .libs
            .iter()
            .map(|l| {
                serde_json::json!({
                    "name": l.name,
                    "path": l.location.as_ref().map(|loc| show_location(&resolver, loc)),
                    "needed_by": show_location(&resolver, &l.needed_by),
                    "needed": l.needed(),
                })
            })
            .collect();
        let value = serde_json::json!({
            "file": args.file.display().to_string(),
            "arch": arch.name(),
            "interpreter": elf.interpreter,
            "needed": elf.needed,
            "rpath": elf.rpath,
            "runpath": elf.runpath,
            "libraries": libs,
        });
        output::out(&format!("{}\n", serde_json::to_string_pretty(&value)?));
        return Ok(0);
    }
    let mut text = String::new();
    let interp = elf
        .interpreter
        .as_deref()
        .map(|i| format!(" (interpreter {i})"))
        .unwrap_or_default();
    let _ = writeln!(text, "{} [{}]{interp}", args.file.display(), arch.name());
    let mut shown = HashSet::new();
    print_needed(&tree, &resolver, &elf.needed, 1, &mut shown, &mut text);
    output::out(&text);
    let missing = tree
        .libs
        .iter()
        .any(|l| l.location.is_none() && l.skipped.is_none());
    Ok(if missing { 1 } else { 0 })
}

fn virtual_top(
    abs: &Path,
    elf: &Arc<manywheel_elf::ElfFile>,
) -> (Location, HashMap<String, Arc<manywheel_elf::ElfFile>>) {
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (
        Location::Wheel(name.clone()),
        HashMap::from([(name, elf.clone())]),
    )
}

fn show_location(resolver: &Resolver, loc: &Location) -> String {
    match (loc, resolver.root()) {
        (Location::Root(p), Some(r)) => r.host_path(p).display().to_string(),
        _ => loc.to_string(),
    }
}

fn print_needed(
    tree: &DepTree,
    resolver: &Resolver,
    needed: &[String],
    depth: usize,
    shown: &mut HashSet<String>,
    out: &mut String,
) {
    for name in needed {
        let indent = "    ".repeat(depth);
        let Some(lib) = tree.get(name) else { continue };
        let target = match (&lib.location, lib.skipped) {
            (Some(loc), _) => show_location(resolver, loc),
            (None, Some(why)) => format!("not looked up ({why})"),
            (None, None) => "not found".to_string(),
        };
        let first = shown.insert(name.clone());
        let _ = writeln!(out, "{indent}{name} => {target}");
        if first {
            print_needed(tree, resolver, lib.needed(), depth + 1, shown, out);
        }
    }
}
