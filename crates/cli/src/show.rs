//! `manywheel show` and `manywheel check`.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use manywheel_audit::{audit_wheel, AuditOptions, Reason, WheelReport};
use rayon::prelude::*;

use crate::output::{self, Style};
use crate::{ShowArgs, TargetArgs, EXIT_ERROR, EXIT_FAILED};

/// Symbols listed per reason unless --verbose.
const FEW: usize = 5;

impl TargetArgs {
    pub fn ldpaths(&self) -> Option<Vec<PathBuf>> {
        self.ldpaths.as_ref().map(|p| {
            p.split(':')
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .collect()
        })
    }
}

pub fn run(args: &ShowArgs, check: bool) -> anyhow::Result<u8> {
    if let Some(dir) = &args.target.sysroot {
        anyhow::ensure!(dir.is_dir(), "--sysroot {}: not a directory", dir.display());
    }
    let policy_json = match &args.policy {
        Some(p) => {
            Some(std::fs::read_to_string(p).with_context(|| format!("--policy {}", p.display()))?)
        }
        None => None,
    };
    let opts = AuditOptions {
        sysroot: args.target.sysroot.clone(),
        ldpaths: args.target.ldpaths(),
        policy_json,
        disable_isa_check: args.disable_isa_ext_check,
        exclude: crate::parse_globs(&args.exclude)?,
    };
    let results: Vec<_> = args
        .wheels
        .par_iter()
        .map(|w| {
            if !w.is_file() {
                return Err(format!("{}: no such file", w.display()));
            }
            audit_wheel(w, &opts).map_err(|e| e.to_string())
        })
        .collect();

    let mut code = 0;
    let style = Style::for_stdout();
    let mut json_items = Vec::new();
    for (wheel, result) in args.wheels.iter().zip(&results) {
        match result {
            Ok(report) => {
                if check && !(report.claims_ok && report.abi3.as_ref().is_none_or(|a| a.ok)) {
                    code = code.max(EXIT_FAILED);
                }
                for w in &report.warnings {
                    output::warning_line(&format!("{}: {w}", report.wheel));
                }
                if args.json {
                    json_items.push(serde_json::to_value(report)?);
                } else if check {
                    output::out(&render_check(report, &style));
                } else {
                    output::out(&render(report, &style, args.verbose));
                }
            }
            Err(msg) => {
                code = EXIT_ERROR;
                output::error_line(msg);
                if args.json {
                    let name = wheel.file_name().map(|n| n.to_string_lossy().into_owned());
                    json_items.push(serde_json::json!({
                        "version": 1,
                        "wheel": name.unwrap_or_default(),
                        "error": msg,
                    }));
                }
            }
        }
    }
    if args.json {
        let value = if json_items.len() == 1 {
            json_items.pop().expect("one item")
        } else {
            serde_json::Value::Array(json_items)
        };
        output::out(&format!("{}\n", serde_json::to_string_pretty(&value)?));
    }
    Ok(code)
}

fn list(items: &[String], verbose: bool) -> String {
    if verbose || items.len() <= FEW {
        items.join(", ")
    } else {
        format!(
            "{}, … ({} more; -v lists all)",
            items[..FEW].join(", "),
            items.len() - FEW
        )
    }
}

fn render_check(r: &WheelReport, s: &Style) -> String {
    let mut out = String::new();
    let abi3_ok = r.abi3.as_ref().is_none_or(|a| a.ok);
    if r.claims_ok && abi3_ok {
        let _ = writeln!(out, "{} {}", s.good("ok"), r.wheel);
        return out;
    }
    let _ = writeln!(out, "{} {}", s.bad("FAIL"), r.wheel);
    if !r.claims_ok {
        let best = r.overall_tag.as_deref().unwrap_or("none");
        let _ = writeln!(
            out,
            "  claims {} but satisfies at most {best}",
            r.unsatisfied_claims.join(", ")
        );
    }
    if let Some(a) = r.abi3.as_ref().filter(|a| !a.ok) {
        let _ = writeln!(out, "  abi3: {}", abi3_summary(a));
    }
    out
}

fn abi3_summary(a: &manywheel_audit::Abi3Report) -> String {
    let mut parts = Vec::new();
    for (file, syms) in &a.non_abi3_symbols {
        parts.push(format!(
            "{file} uses symbols outside the stable ABI: {}",
            list(syms, true)
        ));
    }
    for (file, syms) in &a.too_new_symbols {
        parts.push(format!(
            "{file} uses stable-ABI symbols newer than Python {}: {}",
            a.claimed.as_deref().unwrap_or("?"),
            list(syms, true)
        ));
    }
    parts.join("; ")
}

/// The human report of one wheel.
pub fn render(r: &WheelReport, s: &Style, verbose: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", s.bold(&r.wheel));
    if r.pure {
        let _ = writeln!(out, "  pure Python wheel: no ELF files, nothing to audit");
        return out;
    }
    let overall = r.overall_tag.as_deref().unwrap_or("?");
    let _ = writeln!(
        out,
        "  {} {}, {}; libraries looked up in {}",
        s.dim("target:"),
        r.arch.as_deref().unwrap_or("?"),
        r.libc.as_deref().unwrap_or("?"),
        r.sysroot
            .as_deref()
            .unwrap_or("the wheel only (no --sysroot)")
    );
    let good = overall.starts_with("manylinux") || overall.starts_with("musllinux");
    let tag = if good {
        s.good(overall)
    } else {
        s.bad(overall)
    };
    let _ = writeln!(out, "  {} {tag}", s.dim("platform tag:"));
    if r.satisfied_tags.len() > 1 {
        let _ = writeln!(
            out,
            "  {} {}",
            s.dim("also satisfies:"),
            list(&r.satisfied_tags[1..], verbose)
        );
    }
    if r.claims_ok {
        let _ = writeln!(
            out,
            "  {} {} ({})",
            s.dim("file name claims:"),
            r.claimed_tags.join(", "),
            s.good("ok")
        );
    } else {
        let _ = writeln!(
            out,
            "  {} {} ({} {})",
            s.dim("file name claims:"),
            r.claimed_tags.join(", "),
            s.bad("not satisfied:"),
            r.unsatisfied_claims.join(", ")
        );
    }
    if r.sym_tag.as_deref() != Some(overall) {
        let _ = writeln!(
            out,
            "  {} {}",
            s.dim("symbol versions alone allow:"),
            r.sym_tag.as_deref().unwrap_or("?")
        );
    }
    if r.versioned_symbols.is_empty() {
        let _ = writeln!(out, "  {} none", s.dim("versioned symbols:"));
    } else {
        let _ = writeln!(out, "  {}", s.dim("versioned symbols:"));
        for (lib, versions) in &r.versioned_symbols {
            let v: Vec<String> = versions.iter().cloned().collect();
            let _ = writeln!(out, "    {lib}: {}", list(&v, verbose));
        }
    }
    if r.external_libs.is_empty() {
        let _ = writeln!(out, "  {} none", s.dim("external libraries:"));
    } else {
        let _ = writeln!(
            out,
            "  {}",
            s.dim("external libraries (would be grafted by repair):")
        );
        for (lib, path) in &r.external_libs {
            let _ = writeln!(
                out,
                "    {lib} => {}",
                path.as_deref().unwrap_or("not found")
            );
        }
    }
    if let Some(a) = &r.abi3 {
        let status = if a.ok { s.good("ok") } else { s.bad("FAIL") };
        let _ = writeln!(
            out,
            "  {} {status} (claims Python {}, symbols need {})",
            s.dim("abi3:"),
            a.claimed.as_deref().unwrap_or("?"),
            a.required.as_deref().unwrap_or("any")
        );
        if !a.ok {
            let _ = writeln!(out, "    {}", abi3_summary(a));
        }
    }
    if !r.why_not.is_empty() {
        // Each distinct reason once, nearest policy first, with the policies it blocks.
        let mut seen: Vec<(&Reason, Vec<&str>)> = Vec::new();
        for why in r.why_not.iter().rev() {
            for reason in &why.reasons {
                match seen.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, tags)) => tags.push(&why.tag),
                    None => seen.push((reason, vec![&why.tag])),
                }
            }
        }
        let _ = writeln!(out, "  {}", s.warn("why not a more compatible tag:"));
        for (reason, tags) in &seen {
            let blocks = match tags.as_slice() {
                [one] => one.to_string(),
                [nearest, .., farthest] => format!("{farthest} … {nearest}"),
                [] => String::new(),
            };
            for line in reason_lines(reason, verbose) {
                let _ = writeln!(out, "    - {line} {}", s.dim(&format!("[blocks {blocks}]")));
            }
        }
    }
    out
}

fn reason_lines(reason: &Reason, verbose: bool) -> Vec<String> {
    match reason {
        Reason::SymbolVersion {
            library,
            version,
            files,
        } => files
            .iter()
            .map(|f| {
                if f.symbols.is_empty() {
                    format!("{} needs {version} from {library}", f.file)
                } else {
                    let syms: Vec<String> =
                        f.symbols.iter().map(|n| format!("{n}@{version}")).collect();
                    format!(
                        "{} needs {version} from {library}: {}",
                        f.file,
                        list(&syms, verbose)
                    )
                }
            })
            .collect(),
        Reason::ExternalLibrary {
            library,
            path,
            needed_by,
        } => vec![format!(
            "external library {library} ({}), needed by {}",
            path.as_deref().unwrap_or("not found"),
            needed_by.join(", ")
        )],
        Reason::BlacklistedSymbols {
            library,
            file,
            symbols,
        } => vec![format!(
            "{file} uses symbols of {library} the policy forbids: {}",
            list(symbols, verbose)
        )],
        Reason::Isa { file, level } => vec![format!("{file} needs instruction set {level}")],
        Reason::ElfFlags { file, problem } => vec![format!("{file}: {problem}")],
        Reason::Pyfpe { file } => vec![format!(
            "{file} references PyFPE_jbuf (fpectl build of Python)"
        )],
        Reason::Ucs2 { file, symbols } => vec![format!(
            "{file} is built for a narrow-unicode (UCS2) Python: {}",
            list(symbols, verbose)
        )],
    }
}
