//! `manywheel tags`, `manywheel coverage` and `manywheel policy`: the installer side.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use manywheel_compat::coverage::{coverage, Coverage, Input};
use manywheel_compat::detect::{detect, DetectOptions};
use manywheel_compat::distro::{distros, Distro, Status};
use manywheel_compat::policies::{self, Buckets, Impact, ImpactRow, PolicyDiff, PolicyRef};
use manywheel_compat::tags::{platform_tags, LinuxTagPlace};
use manywheel_compat::{svg, Date};
use manywheel_policy::{Arch, Libc};

use crate::output::{self, Style};

/// Where `linux_<arch>` goes.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LinuxTagArg {
    /// First, as packaging 26.3 and later order it.
    First,
    /// Last, as older packaging (and the pip releases vendoring it) order it.
    Last,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LibcArg {
    Glibc,
    Musl,
}

#[derive(Args)]
pub struct TagsArgs {
    /// Read this root (a sysroot, an unpacked image) instead of the host's `/`. Nothing in it is
    /// executed.
    #[arg(long, value_name = "DIR", conflicts_with = "target")]
    pub sysroot: Option<PathBuf>,
    /// Read the sysroot of a target made by `manywheel target add` (its name, as `target list`
    /// shows it; with `--arch`, the bookworm target of that architecture when NAME is omitted).
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    pub target: Option<String>,
    /// The architecture to pick when the root has C libraries of several.
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// The C library to pick when the root has both (default: glibc).
    #[arg(long, value_enum, value_name = "LIBC")]
    pub libc: Option<LibcArg>,
    /// Where the generic linux_<arch> tag goes.
    #[arg(long, value_enum, default_value = "first", value_name = "WHERE")]
    pub linux_tag: LinuxTagArg,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct CoverageArgs {
    /// Wheel file names (only the name is read; the file need not exist) or platform tags
    /// (`manylinux_2_28_aarch64`, compressed sets with `.`).
    #[arg(required = true, value_name = "WHEEL|TAG")]
    pub inputs: Vec<String>,
    /// The day to judge support on (YYYY-MM-DD; default today).
    #[arg(long, value_name = "DATE")]
    pub on: Option<String>,
    /// Count extended support (RHEL ELS, Ubuntu Pro, SUSE LTSS, Debian LTS) as supported.
    #[arg(long)]
    pub extended: bool,
    /// Only these architectures (repeatable; default: those the inputs name).
    #[arg(long = "arch", value_name = "ARCH")]
    pub arches: Vec<String>,
    /// Also list distributions past their support (or not yet released) on the date.
    #[arg(long)]
    pub all: bool,
    /// Write a timeline picture (SVG) to this file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// List the embedded manylinux and musllinux policies.
    List {
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// What a policy allows on one architecture: symbol versions per namespace, libraries a
    /// wheel may use without bundling, blacklisted symbols.
    Show {
        /// Policy name, legacy alias or tag (manylinux_2_28, manylinux2014, musllinux_1_2_aarch64).
        #[arg(value_name = "NAME")]
        name: String,
        /// Architecture (default: the tag's, else x86_64, else the first the policy covers).
        #[arg(long, value_name = "ARCH")]
        arch: Option<String>,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// What changes from policy A to policy B on one architecture.
    Diff {
        #[arg(value_name = "A")]
        a: String,
        #[arg(value_name = "B")]
        b: String,
        /// Architecture (default: x86_64, else the first both cover).
        #[arg(long, value_name = "ARCH")]
        arch: Option<String>,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Which distributions lose binary wheels when a project moves its baseline from FROM to
    /// TO, split into those still supported on the date and those already end-of-life.
    Impact {
        #[arg(value_name = "FROM")]
        from: String,
        #[arg(value_name = "TO")]
        to: String,
        /// The day to judge support on (YYYY-MM-DD; default today).
        #[arg(long, value_name = "DATE")]
        on: Option<String>,
        /// Count extended support (RHEL ELS, Ubuntu Pro, SUSE LTSS, Debian LTS) as supported.
        #[arg(long)]
        extended: bool,
        /// Only these architectures (repeatable; default: those FROM covers).
        #[arg(long = "arch", value_name = "ARCH")]
        arches: Vec<String>,
        /// Write a timeline picture (SVG) to this file.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

fn parse_arch(s: &str) -> anyhow::Result<Arch> {
    Arch::from_name(s).map_err(|_| {
        anyhow::anyhow!(
            "unknown architecture {s:?} (one of {})",
            Arch::ALL.map(|a| a.name()).join(", ")
        )
    })
}

fn parse_arches(v: &[String]) -> anyhow::Result<Option<Vec<Arch>>> {
    if v.is_empty() {
        return Ok(None);
    }
    let mut out: Vec<Arch> = Vec::new();
    for s in v.iter().flat_map(|s| s.split(',')) {
        let a = parse_arch(s)?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out.sort();
    Ok(Some(out))
}

fn parse_on(on: &Option<String>) -> anyhow::Result<Date> {
    match on {
        Some(s) => Ok(s.parse::<Date>().context("--on")?),
        None => Ok(Date::today()),
    }
}

fn print_json(value: serde_json::Value) -> anyhow::Result<()> {
    output::out(&format!("{}\n", serde_json::to_string_pretty(&value)?));
    Ok(())
}

fn write_svg(path: &PathBuf, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("--svg {}", path.display()))
}

fn arch_list(arches: &[Arch]) -> String {
    arches
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Pad to a display width (counting chars).
fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(width.saturating_sub(n)))
}

/// Items joined with `sep`, wrapped at `width` columns, continuation lines indented by
/// `indent` (the first line starts at that column too).
fn wrap(items: &[String], sep: &str, indent: usize, width: usize) -> String {
    wrap_from(items, sep, indent, indent, width)
}

/// [`wrap`] with the first line starting at column `start`.
fn wrap_from(items: &[String], sep: &str, start: usize, indent: usize, width: usize) -> String {
    let glue = sep.trim_end();
    let gap = sep.len() - glue.len();
    let mut out = String::new();
    let mut col = start;
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item}{glue}")
        } else {
            item.clone()
        };
        let n = piece.chars().count();
        if i > 0 {
            if col + gap + n > width {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                col = indent;
            } else {
                out.push_str(&" ".repeat(gap));
                col += gap;
            }
        }
        out.push_str(&piece);
        col += n;
    }
    out
}

// ---------------------------------------------------------------------------------------
// tags

/// The sysroot of an installed target: by name, or (empty name) the one `run --arch` would use.
fn target_root(name: &str, arch: Option<&str>) -> anyhow::Result<PathBuf> {
    let cache = manywheel_target::Cache::from_env()?;
    let t = if name.is_empty() {
        let arch = arch.ok_or_else(|| {
            anyhow::anyhow!("--target without a name needs --arch (or give the target's name)")
        })?;
        manywheel_target::Target::find(&cache, parse_arch(arch)?, None)?
    } else {
        let t = manywheel_target::Target::open(&cache, name)?;
        if let Some(a) = arch {
            let want = parse_arch(a)?;
            anyhow::ensure!(
                t.arch() == want,
                "target {name} is {}, not {want}",
                t.arch()
            );
        }
        t
    };
    Ok(t.root)
}

pub fn run_tags(args: &TagsArgs) -> anyhow::Result<u8> {
    if let Some(dir) = &args.sysroot {
        anyhow::ensure!(dir.is_dir(), "--sysroot {}: not a directory", dir.display());
    }
    let sysroot = match &args.target {
        Some(name) => Some(target_root(name, args.arch.as_deref())?),
        None => args.sysroot.clone(),
    };
    let opts = DetectOptions {
        root: sysroot.clone(),
        arch: args.arch.as_deref().map(parse_arch).transpose()?,
        libc: args.libc.map(|l| match l {
            LibcArg::Glibc => Libc::Glibc,
            LibcArg::Musl => Libc::Musl,
        }),
    };
    let found = detect(&opts)?;
    let place = match args.linux_tag {
        LinuxTagArg::First => LinuxTagPlace::First,
        LinuxTagArg::Last => LinuxTagPlace::Last,
    };
    let platforms = platform_tags(found.libc, found.version, found.arch, found.abi_ok, place);
    let root = sysroot.unwrap_or_else(|| PathBuf::from("/"));
    if let Some(why) = &found.abi_problem {
        output::warning_line(&format!(
            "{}: {why}; no manylinux tags (packaging applies the same check)",
            found.source.display()
        ));
    }
    if args.json {
        return print_json(serde_json::json!({
            "platforms": platforms,
            "libc": found.libc,
            "libc_version": found.version_text,
            "arch": found.arch,
            "source": found.source,
            "path_in_root": found.path_in_root,
            "version_from": found.version_from,
            "version_definition_max": found.version_definition_max,
            "abi_ok": found.abi_ok,
            "sysroot": root,
            "linux_tag": place,
        }))
        .map(|()| 0);
    }
    let mut how = found.version_from.describe().to_string();
    if let Some(max) = &found.version_definition_max {
        if found.version_from != manywheel_compat::detect::VersionFrom::VersionDefinition {
            let _ = write!(how, "; highest GLIBC_ version definition {max}");
        }
    }
    let mut out = format!(
        "# {} {} on {}, read from {} ({how}); most preferred first\n",
        found.libc,
        found.version_text,
        found.arch,
        found.source.display()
    );
    for p in &platforms {
        out.push_str(p);
        out.push('\n');
    }
    output::out(&out);
    Ok(0)
}

// ---------------------------------------------------------------------------------------
// coverage

fn short_status(d: &Distro, on: Date) -> String {
    match d.status(on) {
        Status::Unreleased => format!("from {}", d.released),
        Status::Supported => match d.eol {
            Some(e) => format!("until {e}"),
            None => "no end date".to_string(),
        },
        Status::Extended => format!(
            "ext. until {}",
            d.eol_extended.expect("extended has a date")
        ),
        Status::Eol => format!("EOL {}", d.eol.expect("eol has a date")),
    }
}

pub fn run_coverage(args: &CoverageArgs) -> anyhow::Result<u8> {
    let on = parse_on(&args.on)?;
    let arches = parse_arches(&args.arches)?;
    let inputs = args
        .inputs
        .iter()
        .map(|s| Input::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let c = coverage(inputs, distros(), on, args.extended, arches);
    if c.arches.is_empty() {
        anyhow::bail!("no Linux architecture in the inputs' platform tags (use --arch)");
    }
    if let Some(path) = &args.svg {
        write_svg(path, &svg::render(&svg::coverage_timeline(&c, distros())))?;
    }
    if args.json {
        print_json(serde_json::to_value(c)?)?;
        return Ok(0);
    }
    output::out(&render_coverage(&c, args.all, &Style::for_stdout()));
    if let Some(path) = &args.svg {
        output::out(&format!("timeline written to {}\n", path.display()));
    }
    Ok(0)
}

fn render_coverage(c: &Coverage, all: bool, s: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} on {}{} for {}:",
        s.bold("Coverage"),
        c.on,
        if c.extended {
            " (extended support counted)"
        } else {
            ""
        },
        arch_list(&c.arches)
    );
    for i in &c.inputs {
        if i.platforms.len() == 1 && i.platforms[0] == i.input {
            let _ = writeln!(out, "  {}", i.input);
        } else {
            let _ = writeln!(out, "  {}  [{}]", i.input, i.platforms.join(", "));
        }
    }
    out.push('\n');
    let table = distros();
    let shown: Vec<_> = c
        .distros
        .iter()
        .filter(|d| !d.pairs.is_empty() && (all || d.supported))
        .collect();
    let hidden = c
        .distros
        .iter()
        .filter(|d| !(d.pairs.is_empty() || all || d.supported))
        .count();
    let name_w = shown
        .iter()
        .map(|d| d.name.chars().count())
        .max()
        .unwrap_or(12)
        .max(12);
    let status: Vec<String> = shown
        .iter()
        .map(|d| {
            let row = table.iter().find(|t| t.id == d.id).expect("row");
            short_status(row, c.on)
        })
        .collect();
    let status_w = status
        .iter()
        .map(|x| x.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    let arch_w: Vec<usize> = c.arches.iter().map(|a| a.name().len().max(3)).collect();
    let mut head = format!(
        "{}  {}  {}",
        pad("DISTRIBUTION", name_w),
        pad("LIBC", 12),
        pad("STATUS", status_w)
    );
    for (a, w) in c.arches.iter().zip(&arch_w) {
        let _ = write!(head, "  {}", pad(a.name(), *w));
    }
    let _ = writeln!(out, "{}", s.bold(head.trim_end()));
    for (d, st) in shown.iter().zip(&status) {
        let mut line = format!(
            "{}  {}  {}",
            pad(&d.name, name_w),
            pad(&format!("{} {}", d.libc, d.libc_version), 12),
            pad(st, status_w)
        );
        for (a, w) in c.arches.iter().zip(&arch_w) {
            let cell = match d.pairs.iter().find(|p| p.arch == *a) {
                None => s.dim(&pad("-", *w)),
                Some(p) if p.wheel.is_some() => s.good(&pad("yes", *w)),
                Some(_) => s.bad(&pad("no", *w)),
            };
            let _ = write!(line, "  {cell}");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "{}",
            s.dim(&format!(
                "({hidden} distributions past their support or not yet released on {} not shown; --all lists them)",
                c.on
            ))
        );
    }
    out.push('\n');
    let supported_pairs = c.no_wheel_supported.len();
    if supported_pairs == 0 {
        let _ = writeln!(
            out,
            "{} every supported distribution gets a wheel on every architecture it is built for.",
            s.good("ok:")
        );
    } else {
        let _ = writeln!(
            out,
            "{} ({} distribution/architecture pairs supported on {}):",
            s.warn("No wheel, pip builds from source"),
            supported_pairs,
            c.on
        );
        let mut by: Vec<(String, Vec<Arch>)> = Vec::new();
        for g in &c.no_wheel_supported {
            match by.iter_mut().find(|(n, _)| *n == g.name) {
                Some((_, v)) => v.push(g.arch),
                None => by.push((g.name.clone(), vec![g.arch])),
            }
        }
        let w = by.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0);
        for (name, arches) in by {
            let _ = writeln!(out, "  {}  {}", pad(&name, w), arch_list(&arches));
        }
    }
    if !c.no_wheel_eol.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            s.dim(&format!(
                "{} more pairs without a wheel are past their support on {}{}.",
                c.no_wheel_eol.len(),
                c.on,
                if all {
                    ""
                } else {
                    " (--all shows them in the table)"
                }
            ))
        );
    }
    out
}

// ---------------------------------------------------------------------------------------
// policy

pub fn run_policy(args: &PolicyArgs) -> anyhow::Result<u8> {
    let s = Style::for_stdout();
    match &args.command {
        PolicyCommand::List { json } => {
            let list = policies::list();
            if *json {
                return print_json(serde_json::to_value(list)?).map(|()| 0);
            }
            let mut out = String::new();
            let _ = writeln!(
                out,
                "{}",
                s.bold("POLICY          ALIASES        LIBC         LIBS  ARCHITECTURES")
            );
            for p in &list {
                let _ = writeln!(
                    out,
                    "{}  {}  {}  {:>4}  {}",
                    pad(&p.name, 14),
                    pad(&p.aliases.join(","), 13),
                    pad(&format!("{} {}", p.libc, p.version), 11),
                    p.lib_whitelist.len(),
                    arch_list(&p.arches)
                );
            }
            output::out(&out);
            Ok(0)
        }
        PolicyCommand::Show { name, arch, json } => {
            let p = policies::resolve(name)?;
            let arch = policies::pick_arch(&p, arch.as_deref().map(parse_arch).transpose()?)?;
            let d = policies::show(&p, arch)?;
            if *json {
                return print_json(serde_json::to_value(d)?).map(|()| 0);
            }
            let mut out = String::new();
            let alias = if d.aliases.is_empty() {
                String::new()
            } else {
                format!(" (alias {})", d.aliases.join(", "))
            };
            let _ = writeln!(
                out,
                "{}{alias}: {} ≥ {}, priority {}",
                s.bold(&d.name),
                d.libc,
                d.version,
                d.priority
            );
            let _ = writeln!(out, "architectures: {}", arch_list(&d.arches));
            let _ = writeln!(out, "showing {} (--arch to choose)\n", d.arch);
            let _ = writeln!(out, "{}", s.bold("Symbol versions allowed:"));
            let ns_w = d.symbol_versions.keys().map(|k| k.len()).max().unwrap_or(0);
            for (ns, vs) in &d.symbol_versions {
                let _ = writeln!(
                    out,
                    "  {}  {}",
                    pad(ns, ns_w),
                    wrap(vs, ", ", 4 + ns_w, 100)
                );
            }
            let _ = writeln!(
                out,
                "{}",
                s.bold(&format!(
                    "Libraries a wheel may use without bundling ({}):",
                    d.lib_whitelist.len()
                ))
            );
            let _ = writeln!(out, "  {}", wrap(&d.lib_whitelist, "  ", 2, 100));
            if d.blacklist.is_empty() {
                let _ = writeln!(out, "{}", s.bold("Blacklisted symbols: none"));
            } else {
                let _ = writeln!(
                    out,
                    "{}",
                    s.bold("Blacklisted symbols (must not be imported):")
                );
                for (lib, syms) in &d.blacklist {
                    let head = format!("{lib} ({})", syms.len());
                    let start = 2 + head.chars().count() + 2;
                    let _ = writeln!(out, "  {head}: {}", wrap_from(syms, ", ", start, 4, 100));
                }
            }
            output::out(&out);
            Ok(0)
        }
        PolicyCommand::Diff { a, b, arch, json } => {
            let pa = policies::resolve(a)?;
            let pb = policies::resolve(b)?;
            let requested = arch
                .as_deref()
                .map(parse_arch)
                .transpose()?
                .or(pa.arch)
                .or(pb.arch);
            let arch = match requested {
                Some(x) => x,
                None if pa.arches.contains(&Arch::X86_64) && pb.arches.contains(&Arch::X86_64) => {
                    Arch::X86_64
                }
                None => *pa
                    .arches
                    .iter()
                    .find(|x| pb.arches.contains(x))
                    .with_context(|| {
                        format!("{} and {} cover no common architecture", pa.name, pb.name)
                    })?,
            };
            let d = policies::diff(&pa, &pb, arch)?;
            if *json {
                return print_json(serde_json::to_value(d)?).map(|()| 0);
            }
            output::out(&render_diff(&pa, &pb, &d, &s));
            Ok(0)
        }
        PolicyCommand::Impact {
            from,
            to,
            on,
            extended,
            arches,
            svg: svg_path,
            json,
        } => {
            let on = parse_on(on)?;
            let arches = parse_arches(arches)?;
            let i = policies::impact(
                policies::resolve(from)?,
                policies::resolve(to)?,
                distros(),
                on,
                *extended,
                arches,
            )?;
            if let Some(path) = svg_path {
                write_svg(path, &svg::render(&svg::impact_timeline(&i, distros())))?;
            }
            if *json {
                return print_json(serde_json::to_value(i)?).map(|()| 0);
            }
            output::out(&render_impact(&i, &s));
            if let Some(path) = svg_path {
                output::out(&format!("timeline written to {}\n", path.display()));
            }
            Ok(0)
        }
    }
}

fn describe(p: &PolicyRef) -> String {
    let alias = p
        .aliases
        .first()
        .map(|a| format!("{a}, "))
        .unwrap_or_default();
    format!("{} ({alias}{} ≥ {})", p.name, p.libc, p.version)
}

fn render_diff(a: &PolicyRef, b: &PolicyRef, d: &PolicyDiff, s: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} → {} on {}",
        s.bold(&describe(a)),
        s.bold(&describe(b)),
        d.arch
    );
    if d.is_empty() {
        let _ = writeln!(out, "no differences");
        return out;
    }
    let change = |c: &policies::Change, indent: usize| {
        let mut parts = Vec::new();
        if !c.added.is_empty() {
            parts.push(format!("+ {}", wrap(&c.added, ", ", indent + 2, 100)));
        }
        if !c.removed.is_empty() {
            parts.push(format!("- {}", wrap(&c.removed, ", ", indent + 2, 100)));
        }
        parts.join(&format!("\n{}", " ".repeat(indent)))
    };
    if !d.symbol_versions.is_empty() {
        let _ = writeln!(out, "{}", s.bold("Symbol versions:"));
        let w = d.symbol_versions.keys().map(|k| k.len()).max().unwrap_or(0);
        for (ns, c) in &d.symbol_versions {
            let _ = writeln!(out, "  {}  {}", pad(ns, w), change(c, 4 + w));
        }
    }
    if !d.lib_whitelist.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            s.bold("Libraries a wheel may use without bundling:")
        );
        let _ = writeln!(out, "  {}", change(&d.lib_whitelist, 2));
    }
    if !d.blacklist.is_empty() {
        let _ = writeln!(out, "{}", s.bold("Blacklisted symbols:"));
        let w = d.blacklist.keys().map(|k| k.len()).max().unwrap_or(0);
        for (lib, c) in &d.blacklist {
            let _ = writeln!(out, "  {}  {}", pad(lib, w), change(c, 4 + w));
        }
    }
    out
}

/// Column widths shared by every list of an impact report.
struct Widths {
    name: usize,
    arches: usize,
}

fn impact_rows(out: &mut String, rows: &[ImpactRow], on: Date, w: &Widths) {
    let table = distros();
    for r in rows {
        let d = table.iter().find(|d| d.id == r.id).expect("row");
        let _ = writeln!(
            out,
            "  {}  {}  {}  {}",
            pad(&r.name, w.name),
            pad(&format!("{} {}", r.libc, r.libc_version), 11),
            pad(&arch_list(&r.arches), w.arches),
            d.status_text(on)
        );
    }
}

fn render_buckets(out: &mut String, b: &Buckets, verb: &str, i: &Impact, s: &Style, w: &Widths) {
    let supported_word = if i.extended {
        "still supported (extended support counted)"
    } else {
        "still supported"
    };
    if !b.supported.is_empty() {
        let _ = writeln!(
            out,
            "{} ({}):",
            s.bad(&format!("{verb}, {supported_word} on {}", i.on)),
            b.supported.len()
        );
        impact_rows(out, &b.supported, i.on, w);
    }
    if !b.eol.is_empty() {
        let _ = writeln!(
            out,
            "{} ({}):",
            s.dim(&format!("{verb}, already end-of-life on {}", i.on)),
            b.eol.len()
        );
        impact_rows(out, &b.eol, i.on, w);
    }
    if !b.unreleased.is_empty() {
        let _ = writeln!(
            out,
            "{} ({}):",
            s.dim(&format!("{verb}, not yet released on {}", i.on)),
            b.unreleased.len()
        );
        impact_rows(out, &b.unreleased, i.on, w);
    }
}

fn render_impact(i: &Impact, s: &Style) -> String {
    let mut out = String::new();
    let every: Vec<&ImpactRow> = [&i.lose, &i.gain]
        .iter()
        .flat_map(|b| b.supported.iter().chain(&b.eol).chain(&b.unreleased))
        .collect();
    let w = Widths {
        name: every
            .iter()
            .map(|r| r.name.chars().count())
            .max()
            .unwrap_or(0),
        arches: every
            .iter()
            .map(|r| arch_list(&r.arches).chars().count())
            .max()
            .unwrap_or(0),
    };
    let _ = writeln!(
        out,
        "{} → {}, on {}, architectures {}\n",
        s.bold(&describe(&i.from)),
        s.bold(&describe(&i.to)),
        i.on,
        arch_list(&i.arches)
    );
    if i.lose.is_empty() {
        let _ = writeln!(
            out,
            "{} no distribution in the table loses binary wheels.",
            s.good("ok:")
        );
    } else {
        render_buckets(&mut out, &i.lose, "Lose binary wheels", i, s, &w);
        if i.lose.supported.is_empty() {
            let _ = writeln!(
                out,
                "{} none of them is still supported on {}.",
                s.good("ok:"),
                i.on
            );
        }
    }
    if !i.gain.is_empty() {
        out.push('\n');
        render_buckets(&mut out, &i.gain, "Gain binary wheels", i, s, &w);
    }
    out
}
