//! Platform-tag parsing, printing, legacy aliases and ordering.

use manywheel_policy::{Arch, Error, Libc, PlatformTag};
use proptest::prelude::*;

fn tag(s: &str) -> PlatformTag {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn ml(major: u32, minor: u32, arch: &str) -> PlatformTag {
    PlatformTag::Manylinux {
        major,
        minor,
        arch: arch.into(),
    }
}

#[test]
fn canonical_forms_round_trip() {
    let table: Vec<(&str, PlatformTag)> = vec![
        ("manylinux_2_17_x86_64", ml(2, 17, "x86_64")),
        ("manylinux_2_5_i686", ml(2, 5, "i686")),
        ("manylinux_2_41_loongarch64", ml(2, 41, "loongarch64")),
        ("manylinux_2_31_riscv64", ml(2, 31, "riscv64")),
        ("manylinux_3_0_aarch64", ml(3, 0, "aarch64")),
        ("manylinux_2_17_ppc64le", ml(2, 17, "ppc64le")),
        ("manylinux_2_17_x86_64_v3", ml(2, 17, "x86_64_v3")),
        (
            "musllinux_1_2_armv7l",
            PlatformTag::Musllinux {
                major: 1,
                minor: 2,
                arch: "armv7l".into(),
            },
        ),
        (
            "musllinux_1_1_s390x",
            PlatformTag::Musllinux {
                major: 1,
                minor: 1,
                arch: "s390x".into(),
            },
        ),
        (
            "linux_x86_64",
            PlatformTag::Linux {
                arch: "x86_64".into(),
            },
        ),
        (
            "linux_armv7l",
            PlatformTag::Linux {
                arch: "armv7l".into(),
            },
        ),
        ("any", PlatformTag::Other("any".into())),
        ("win_amd64", PlatformTag::Other("win_amd64".into())),
        (
            "macosx_11_0_arm64",
            PlatformTag::Other("macosx_11_0_arm64".into()),
        ),
        (
            "android_21_arm64_v8a",
            PlatformTag::Other("android_21_arm64_v8a".into()),
        ),
    ];
    for (text, expected) in table {
        let parsed = tag(text);
        assert_eq!(parsed, expected, "{text}");
        assert_eq!(parsed.to_string(), text, "display of {text}");
    }
}

#[test]
fn legacy_aliases_parse_to_pep600() {
    let table = [
        (
            "manylinux1_x86_64",
            ml(2, 5, "x86_64"),
            "manylinux_2_5_x86_64",
        ),
        ("manylinux1_i686", ml(2, 5, "i686"), "manylinux_2_5_i686"),
        (
            "manylinux2010_x86_64",
            ml(2, 12, "x86_64"),
            "manylinux_2_12_x86_64",
        ),
        (
            "manylinux2010_i686",
            ml(2, 12, "i686"),
            "manylinux_2_12_i686",
        ),
        (
            "manylinux2014_x86_64",
            ml(2, 17, "x86_64"),
            "manylinux_2_17_x86_64",
        ),
        (
            "manylinux2014_aarch64",
            ml(2, 17, "aarch64"),
            "manylinux_2_17_aarch64",
        ),
        (
            "manylinux2014_ppc64",
            ml(2, 17, "ppc64"),
            "manylinux_2_17_ppc64",
        ),
        (
            "manylinux2014_armv7l",
            ml(2, 17, "armv7l"),
            "manylinux_2_17_armv7l",
        ),
    ];
    for (legacy, expected, canonical) in table {
        let parsed = tag(legacy);
        assert_eq!(parsed, expected);
        assert_eq!(parsed.to_string(), canonical);
        assert_eq!(parsed.legacy_alias().as_deref(), Some(legacy));
        assert_eq!(tag(canonical).legacy_alias().as_deref(), Some(legacy));
    }
}

#[test]
fn legacy_alias_only_where_defined() {
    // manylinux1 / manylinux2010 were x86 only; manylinux2014 had no riscv64/loongarch64.
    assert_eq!(ml(2, 5, "aarch64").legacy_alias(), None);
    assert_eq!(ml(2, 12, "ppc64le").legacy_alias(), None);
    assert_eq!(ml(2, 17, "riscv64").legacy_alias(), None);
    assert_eq!(
        ml(2, 17, "s390x").legacy_alias().as_deref(),
        Some("manylinux2014_s390x")
    );
    assert_eq!(ml(2, 24, "x86_64").legacy_alias(), None);
    assert_eq!(tag("musllinux_1_2_x86_64").legacy_alias(), None);
    assert_eq!(tag("linux_x86_64").legacy_alias(), None);
}

#[test]
fn malformed_tags_are_errors() {
    for bad in [
        "",
        "manylinux_2_17",
        "manylinux_2_17_",
        "manylinux_2_x86_64",
        "manylinux_x_17_x86_64",
        "manylinux__17_x86_64",
        "manylinux_+2_17_x86_64",
        "musllinux_1_aarch64",
        "manylinux2014",
        "manylinux1_",
        "linux_",
        "linux",
        "manylinux_2_17_x86_64.manylinux2014_x86_64",
        "linux-x86_64",
        "manylinux 2",
    ] {
        match bad.parse::<PlatformTag>() {
            Err(Error::Tag(s)) => assert_eq!(s, bad),
            other => panic!("{bad:?} parsed as {other:?}"),
        }
    }
}

#[test]
fn accessors() {
    let t = tag("manylinux2014_aarch64");
    assert_eq!(t.arch(), Some("aarch64"));
    assert_eq!(t.parsed_arch(), Some(Arch::Aarch64));
    assert_eq!(t.libc(), Some(Libc::Glibc));
    assert_eq!(t.version(), Some((2, 17)));
    assert_eq!(t.policy_name().as_deref(), Some("manylinux_2_17"));
    let m = tag("musllinux_1_2_x86_64");
    assert_eq!(m.libc(), Some(Libc::Musl));
    assert_eq!(m.policy_name().as_deref(), Some("musllinux_1_2"));
    assert_eq!(tag("linux_i686").libc(), None);
    assert_eq!(tag("linux_i686").policy_name().as_deref(), Some("linux"));
    assert_eq!(tag("any").arch(), None);
    assert_eq!(tag("manylinux_2_17_x86_64_v3").parsed_arch(), None);
    assert_eq!(
        PlatformTag::manylinux(2, 28, Arch::S390x).to_string(),
        "manylinux_2_28_s390x"
    );
    assert_eq!(
        PlatformTag::musllinux(1, 2, Arch::Riscv64).to_string(),
        "musllinux_1_2_riscv64"
    );
}

#[test]
fn glibc_compatibility_is_pep600() {
    let t = tag("manylinux_2_17_x86_64");
    assert!(t.is_compatible_with_glibc(2, 17));
    assert!(t.is_compatible_with_glibc(2, 35));
    assert!(t.is_compatible_with_glibc(3, 0));
    assert!(!t.is_compatible_with_glibc(2, 16));
    assert!(!t.is_compatible_with_glibc(2, 5));
    assert!(!t.is_compatible_with_glibc(1, 99));
    assert!(!tag("musllinux_1_1_x86_64").is_compatible_with_glibc(2, 41));
    assert!(!tag("linux_x86_64").is_compatible_with_glibc(2, 41));
    assert!(tag("musllinux_1_1_x86_64").is_compatible_with_musl(1, 2));
    assert!(!tag("musllinux_1_2_x86_64").is_compatible_with_musl(1, 1));
    assert!(!tag("manylinux_2_5_x86_64").is_compatible_with_musl(1, 2));
}

#[test]
fn ordering_by_libc_then_version() {
    let mut tags: Vec<PlatformTag> = [
        "linux_x86_64",
        "musllinux_1_2_x86_64",
        "manylinux_2_28_x86_64",
        "any",
        "manylinux2014_x86_64",
        "musllinux_1_1_x86_64",
        "manylinux_2_5_x86_64",
        "manylinux_2_9_x86_64",
        "manylinux_10_0_x86_64",
    ]
    .iter()
    .map(|s| tag(s))
    .collect();
    tags.sort();
    let sorted: Vec<String> = tags.iter().map(ToString::to_string).collect();
    assert_eq!(
        sorted,
        [
            "manylinux_2_5_x86_64",
            "manylinux_2_9_x86_64",
            "manylinux_2_17_x86_64",
            "manylinux_2_28_x86_64",
            "manylinux_10_0_x86_64",
            "musllinux_1_1_x86_64",
            "musllinux_1_2_x86_64",
            "linux_x86_64",
            "any",
        ]
    );
    // Numeric, not lexicographic, version comparison.
    assert!(tag("manylinux_2_9_x86_64") < tag("manylinux_2_10_x86_64"));
}

#[test]
fn serde_as_string() {
    let t = tag("manylinux2014_x86_64");
    assert_eq!(
        serde_json::to_string(&t).unwrap(),
        "\"manylinux_2_17_x86_64\""
    );
    let back: PlatformTag = serde_json::from_str("\"manylinux1_i686\"").unwrap();
    assert_eq!(back, ml(2, 5, "i686"));
}

fn arch_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(Arch::ALL.map(Arch::name).to_vec()).prop_map(String::from),
        "[a-z0-9][a-z0-9_]{0,12}",
    ]
}

proptest! {
    #[test]
    fn manylinux_display_parse_round_trip(major in 0u32..1000, minor in 0u32..1000, arch in arch_strategy()) {
        let text = format!("manylinux_{major}_{minor}_{arch}");
        let parsed: PlatformTag = text.parse().unwrap();
        prop_assert_eq!(parsed.to_string(), text);
        prop_assert_eq!(parsed, PlatformTag::Manylinux { major, minor, arch });
    }

    #[test]
    fn musllinux_display_parse_round_trip(major in 0u32..100, minor in 0u32..100, arch in arch_strategy()) {
        let text = format!("musllinux_{major}_{minor}_{arch}");
        let parsed: PlatformTag = text.parse().unwrap();
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn order_agrees_with_version_order(a in (0u32..5, 0u32..50), b in (0u32..5, 0u32..50)) {
        let ta = PlatformTag::manylinux(a.0, a.1, Arch::X86_64);
        let tb = PlatformTag::manylinux(b.0, b.1, Arch::X86_64);
        prop_assert_eq!(ta.cmp(&tb), a.cmp(&b));
        // A system with glibc b can install a wheel tagged a iff a <= b.
        prop_assert_eq!(ta.is_compatible_with_glibc(b.0, b.1), a <= b);
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,40}") {
        if let Ok(t) = s.parse::<PlatformTag>() {
            // Whatever parses re-parses to the same value.
            prop_assert_eq!(t.to_string().parse::<PlatformTag>().unwrap(), t);
        }
    }
}
