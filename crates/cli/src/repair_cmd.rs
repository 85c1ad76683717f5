//! `manywheel repair`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use manywheel_audit::AuditOptions;
use manywheel_repair::{repair_wheel, RepairError, RepairOptions};
use manywheel_wheel::WriteOptions;
use rayon::prelude::*;

use crate::output;
use crate::{TargetArgs, EXIT_ERROR, EXIT_FAILED};

#[derive(Args)]
pub struct RepairArgs {
    /// Wheels to repair.
    #[arg(required = true, value_name = "WHEEL")]
    pub wheels: Vec<PathBuf>,
    /// The policy to repair to: a name, alias or tag for the wheel's architecture (e.g.
    /// manylinux2014, manylinux_2_28_aarch64), whatever the host is; `auto`: the most
    /// compatible one grafting can reach.
    #[arg(long, value_name = "TAG", default_value = "auto")]
    pub plat: String,
    /// The wheelhouse: where repaired wheels are written (created if missing).
    #[arg(
        short = 'w',
        long = "wheel-dir",
        value_name = "DIR",
        default_value = "wheelhouse"
    )]
    pub wheel_dir: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Do not graft libraries whose name matches this glob (the installing system or another
    /// wheel provides them); what they need is not followed either. Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Tag the wheel with the requested policy only, not also with a more compatible one it
    /// satisfies.
    #[arg(long)]
    pub only_plat: bool,
    /// Remove debugging sections and the static symbol table (.symtab) from the grafted
    /// libraries, with our own code (no `strip` needed; what is loaded is unchanged), and
    /// print the bytes saved.
    #[arg(long)]
    pub strip: bool,
    /// Deflate level (0-9) of changed members; unchanged members are copied as they are.
    #[arg(short = 'z', long = "zip-compression-level", value_name = "LEVEL", default_value_t = 6,
          value_parser = clap::value_parser!(u32).range(0..=9))]
    pub level: u32,
    /// A policy file in the embedded (auditwheel-compatible) JSON format.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Do not check the x86-64 instruction-set level.
    #[arg(long)]
    pub disable_isa_ext_check: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &RepairArgs) -> anyhow::Result<u8> {
    if let Some(dir) = &args.target.sysroot {
        anyhow::ensure!(dir.is_dir(), "--sysroot {}: not a directory", dir.display());
    }
    let policy_json = match &args.policy {
        Some(p) => {
            Some(std::fs::read_to_string(p).with_context(|| format!("--policy {}", p.display()))?)
        }
        None => None,
    };
    let opts = RepairOptions {
        audit: AuditOptions {
            sysroot: args.target.sysroot.clone(),
            ldpaths: args.target.ldpaths(),
            policy_json,
            disable_isa_check: args.disable_isa_ext_check,
            exclude: crate::parse_globs(&args.exclude)?,
        },
        plat: Some(args.plat.clone()),
        out_dir: args.wheel_dir.clone(),
        only_plat: args.only_plat,
        strip: args.strip,
        write: WriteOptions {
            level: args.level,
            ..WriteOptions::from_env()
        },
    };
    let results: Vec<_> = args
        .wheels
        .par_iter()
        .map(|w| {
            if !w.is_file() {
                return Err((EXIT_ERROR, format!("{}: no such file", w.display())));
            }
            repair_wheel(w, &opts).map_err(|e| {
                let code = if matches!(e, RepairError::Refused { .. }) {
                    EXIT_FAILED
                } else {
                    EXIT_ERROR
                };
                (code, e.to_string())
            })
        })
        .collect();
    let mut code = 0;
    let mut json = Vec::new();
    for (wheel, r) in args.wheels.iter().zip(results) {
        match r {
            Ok(o) => {
                if args.json {
                    json.push(serde_json::to_value(&o)?);
                } else if o.unchanged {
                    output::out(&format!(
                        "{}: already {}; copied unchanged to {}\n",
                        wheel.display(),
                        o.policy,
                        o.output
                    ));
                } else {
                    let mut text = format!(
                        "{} -> {}\n  tag: {}\n",
                        wheel.display(),
                        o.output,
                        o.platform_tags.join(".")
                    );
                    for g in &o.grafted {
                        text.push_str(&format!(
                            "  grafted {} from {} as {}",
                            g.soname, g.source, g.member
                        ));
                        if args.strip {
                            text.push_str(&format!(" (stripped {})", human_bytes(g.stripped)));
                        }
                        text.push('\n');
                    }
                    if args.strip {
                        let saved: u64 = o.grafted.iter().map(|g| g.stripped).sum();
                        text.push_str(&format!("  strip saved {}\n", human_bytes(saved)));
                    }
                    for p in &o.patched {
                        text.push_str(&format!("  patched {p}\n"));
                    }
                    output::out(&text);
                }
            }
            Err((c, msg)) => {
                code = code.max(c);
                output::error_line(&msg);
                if args.json {
                    json.push(
                        serde_json::json!({"input": wheel.display().to_string(), "error": msg}),
                    );
                }
            }
        }
    }
    if args.json {
        output::out(&format!("{}\n", serde_json::to_string_pretty(&json)?));
    }
    Ok(code)
}

/// `1234567` -> `1.2 MiB (1234567 bytes)`.
fn human_bytes(n: u64) -> String {
    let units = [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    match units.iter().find(|(_, u)| n >= *u) {
        Some((name, u)) => format!("{:.1} {name} ({n} bytes)", n as f64 / *u as f64),
        None => format!("{n} bytes"),
    }
}
