//! Differential test: `manywheel show --json` against the reference tool (auditwheel 6.8.2) on
//! the real wheels of the shared corpus. Every known difference is listed with its reason.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// Keys of the reference's `show --json` that must be equal.
const KEYS: &[&str] = &[
    "overall_tag",
    "sym_tag",
    "external_libs",
    "versioned_symbols",
    "policy_upgrades",
    "pyfpe",
    "ucs2",
    "unsupported_isa",
];

/// A difference that is the reference tool's bug, and why.
struct Known {
    /// Applies to wheels whose name contains this.
    wheel_contains: &'static str,
    /// The keys that differ (None: the reference fails on this wheel).
    keys: Option<&'static [&'static str]>,
    reason: &'static str,
}

const KNOWN: &[Known] = &[
    Known {
        wheel_contains: "orjson-3.9.12-cp311-cp311-musllinux_1_1_x86_64",
        keys: None,
        reason: "the reference looks the musl wheel's `DT_NEEDED libc.so` up on the glibc host, \
                 lands on glibc's text linker script /usr/lib/x86_64-linux-gnu/libc.so and crashes \
                 ('Magic number does not match'); the host leaks into a foreign wheel's analysis",
    },
    Known {
        wheel_contains: "musllinux_",
        keys: Some(&["overall_tag", "sym_tag"]),
        reason: "on a non-musl host the reference reports the latest musllinux policy it knows \
                 (musllinux_1_2) for every musl wheel; musl has no symbol versions, so the most \
                 compatible policy the data supports is musllinux_1_1",
    },
];

fn known_for(wheel: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| wheel.contains(k.wheel_contains))
}

fn reference(aw: &Path, wheel: &Path) -> Result<Value, String> {
    let out = std::process::Command::new(aw)
        .args(["show", "--json"])
        .arg(wheel)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<Value>(&text) {
        Ok(v) if out.status.success() => Ok(v),
        _ => Err(String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("")
            .to_string()),
    }
}

#[test]
fn show_json_agrees_with_auditwheel_on_the_corpus() {
    let wheels = corpus_wheels();
    if wheels.is_empty() {
        return skip(&format!(
            "no corpus wheels in {} (run ../shared/corpus/fetch)",
            corpus_dir().display()
        ));
    }
    let Some(aw) = auditwheel() else {
        return skip("auditwheel not found (set MANYWHEEL_AUDITWHEEL or create .venv)");
    };
    // Run the reference two at a time: it is slow.
    let refs: Vec<(std::path::PathBuf, Result<Value, String>)> = std::thread::scope(|s| {
        let chunks: Vec<_> = wheels.chunks(wheels.len().div_ceil(2)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let aw = &aw;
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|w| (w.clone(), reference(aw, w)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });

    let out = manywheel()
        .arg("show")
        .arg("--json")
        .args(&wheels)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ours.len(), wheels.len());

    let mut failures = Vec::new();
    let (mut same, mut known) = (0, 0);
    for ((wheel, reference), ours) in refs.iter().zip(&ours) {
        let name = wheel.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(ours["wheel"], name.as_str());
        let expected = known_for(&name);
        let reference = match reference {
            Ok(r) => r,
            Err(e) => {
                match expected {
                    Some(k) if k.keys.is_none() => {
                        eprintln!(
                            "known: reference fails on {name} ({e}); ours: {}",
                            ours["overall_tag"]
                        );
                        assert!(
                            ours["overall_tag"].is_string(),
                            "{name}: we must not fail where the reference crashes"
                        );
                        known += 1;
                    }
                    _ => failures.push(format!("{name}: reference failed unexpectedly: {e}")),
                }
                continue;
            }
        };
        let differing: Vec<&str> = KEYS
            .iter()
            .copied()
            .filter(|k| ours[*k] != reference[*k])
            .collect();
        let allowed: &[&str] = expected.and_then(|k| k.keys).unwrap_or(&[]);
        let unexpected: Vec<&&str> = differing.iter().filter(|k| !allowed.contains(k)).collect();
        if !unexpected.is_empty() {
            for k in unexpected {
                failures.push(format!(
                    "{name}: {k}: reference {} ours {}",
                    reference[*k], ours[*k]
                ));
            }
        } else if differing.is_empty() {
            same += 1;
        } else {
            eprintln!(
                "known: {name}: {differing:?} differ: {}",
                expected.map(|k| k.reason).unwrap_or_default()
            );
            known += 1;
        }
    }
    eprintln!(
        "{same} wheels identical, {known} known differences, {} failures",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "differences from the reference:\n{}",
        failures.join("\n")
    );
    assert!(
        same >= wheels.len() / 2,
        "too few identical results: {same}"
    );
}
