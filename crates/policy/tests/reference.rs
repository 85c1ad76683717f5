//! Differential test: the embedded policy data against the policy files of the installed
//! reference auditwheel (6.8.2). Skipped with a message when the reference is absent.
//!
//! The reference directory is `$MANYWHEEL_AUDITWHEEL_POLICY_DIR`, or by default the policy folder
//! of the auditwheel in the repository's `.venv` (made by `scripts/setup.sh`). With
//! `MANYWHEEL_REQUIRE_REFERENCE=1` (CI) a missing reference fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use manywheel_policy::{embedded_records, Arch, Libc, PolicySet};
use serde_json::Value;

fn reference_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("MANYWHEEL_AUDITWHEEL_POLICY_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/lib");
            std::fs::read_dir(&lib)
                .ok()?
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("site-packages/auditwheel/policy"))
                .find(|p| p.is_dir())?
        }
    };
    dir.join("manylinux-policy.json").is_file().then_some(dir)
}

fn reference_required() -> bool {
    std::env::var_os("MANYWHEEL_REQUIRE_REFERENCE").is_some_and(|v| v != "0")
}

fn load_reference(libc: Libc) -> Option<Value> {
    let Some(dir) = reference_dir() else {
        assert!(
            !reference_required(),
            "reference auditwheel policy data not found"
        );
        eprintln!("SKIP: reference auditwheel policy data not found (set MANYWHEEL_AUDITWHEEL_POLICY_DIR)");
        return None;
    };
    let file = match libc {
        Libc::Glibc => "manylinux-policy.json",
        Libc::Musl => "musllinux-policy.json",
    };
    let text = std::fs::read_to_string(dir.join(file)).expect("read reference policy");
    Some(serde_json::from_str(&text).expect("reference policy is JSON"))
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

/// auditwheel's `_fixup_musl_libc_soname` table (for the expected musl whitelist).
fn alpine_soname(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "libc.musl-x86_64.so.1",
        Arch::I686 => "libc.musl-x86.so.1",
        Arch::Aarch64 => "libc.musl-aarch64.so.1",
        Arch::S390x => "libc.musl-s390x.so.1",
        Arch::Ppc64le => "libc.musl-ppc64le.so.1",
        Arch::Armv7l => "libc.musl-armv7.so.1",
        Arch::Riscv64 => "libc.musl-riscv64.so.1",
        Arch::Loongarch64 => "libc.musl-loongarch64.so.1",
        Arch::Ppc64 => unreachable!("no musllinux policy lists ppc64"),
    }
}

#[test]
fn embedded_files_equal_reference_files() {
    for libc in [Libc::Glibc, Libc::Musl] {
        let Some(reference) = load_reference(libc) else {
            return;
        };
        let ours: Value = serde_json::from_str(libc.embedded_json()).unwrap();
        assert_eq!(
            ours, reference,
            "{libc}: embedded JSON differs from the reference"
        );
    }
}

#[test]
fn every_arch_and_policy_matches_reference() {
    for libc in [Libc::Glibc, Libc::Musl] {
        let Some(reference) = load_reference(libc) else {
            return;
        };
        let reference = reference.as_array().unwrap();
        for arch in Arch::ALL {
            let set = PolicySet::embedded(libc, arch);
            // auditwheel: a policy applies to an arch if it lists it, plus linux.
            let expected: Vec<&Value> = reference
                .iter()
                .filter(|p| p["name"] == "linux" || p["symbol_versions"].get(arch.name()).is_some())
                .collect();
            let expected_names: BTreeSet<String> = expected
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect();
            let ours_names: BTreeSet<String> =
                set.policies().iter().map(|p| p.name.clone()).collect();
            assert_eq!(ours_names, expected_names, "{libc} {arch}: policy names");

            for exp in expected {
                let name = exp["name"].as_str().unwrap();
                let ours = set.get(name).unwrap_or_else(|| panic!("{name} missing"));
                let ctx = format!("{libc} {arch} {name}");
                assert_eq!(
                    ours.priority as u64,
                    exp["priority"].as_u64().unwrap(),
                    "{ctx}"
                );
                assert_eq!(
                    ours.aliases.iter().cloned().collect::<BTreeSet<_>>(),
                    strings(&exp["aliases"]),
                    "{ctx}: aliases"
                );
                // symbol versions for this arch
                let exp_sv: BTreeMap<String, BTreeSet<String>> = if name == "linux" {
                    BTreeMap::new()
                } else {
                    exp["symbol_versions"][arch.name()]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(ns, vs)| (ns.clone(), strings(vs)))
                        .collect()
                };
                assert_eq!(ours.symbol_versions, exp_sv, "{ctx}: symbol versions");
                // whitelist (musl: auditwheel replaces libc.so by Alpine's soname; we keep both)
                let mut exp_wl = strings(&exp["lib_whitelist"]);
                if libc == Libc::Musl && exp_wl.contains("libc.so") {
                    exp_wl.insert(alpine_soname(arch).to_string());
                }
                assert_eq!(ours.lib_whitelist, exp_wl, "{ctx}: whitelist");
                // blacklist
                let exp_bl: BTreeMap<String, BTreeSet<String>> = exp["blacklist"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(lib, syms)| (lib.clone(), strings(syms)))
                    .collect();
                assert_eq!(ours.blacklist, exp_bl, "{ctx}: blacklist");
            }
        }
    }
}

#[test]
fn reference_validates_through_from_json() {
    let Some(dir) = reference_dir() else {
        assert!(
            !reference_required(),
            "reference auditwheel policy data not found"
        );
        eprintln!("SKIP: reference auditwheel policy data not found");
        return;
    };
    for (libc, file) in [
        (Libc::Glibc, "manylinux-policy.json"),
        (Libc::Musl, "musllinux-policy.json"),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        for arch in Arch::ALL {
            let custom = PolicySet::from_json(&text, libc, arch).unwrap();
            let embedded = PolicySet::embedded(libc, arch);
            assert_eq!(custom.policies(), embedded.policies(), "{libc} {arch}");
        }
    }
    // Embedded records round-trip through serde unchanged.
    for libc in [Libc::Glibc, Libc::Musl] {
        let text = serde_json::to_string(embedded_records(libc)).unwrap();
        let back = manywheel_policy::parse_policy_file(&text).unwrap();
        assert_eq!(back, embedded_records(libc));
    }
}
