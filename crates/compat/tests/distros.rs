//! The embedded distribution table: every row parses and is sourced, the facts the other
//! answers rest on are pinned, and the rows are consistent with each other.

use manywheel_compat::distro::{distro, distros, parse_table, Status, COLUMNS, DISTROS_TSV};
use manywheel_compat::Date;
use manywheel_policy::{Arch, Libc};

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

#[test]
fn every_row_parses_and_has_a_source() {
    let rows = parse_table(DISTROS_TSV).expect("table parses");
    let data_lines = DISTROS_TSV
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(
        rows.len() + 1,
        data_lines,
        "every non-comment line after the header is a row"
    );
    assert!(rows.len() >= 50, "{} rows", rows.len());
    for line in DISTROS_TSV
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        assert_eq!(line.split('\t').count(), COLUMNS.len(), "{line}");
    }
    for r in &rows {
        assert!(!r.sources.is_empty(), "{} has no source", r.id);
        for s in &r.sources {
            assert!(
                s.starts_with("https://") && !s.contains(' '),
                "{}: source {s:?} is not a URL",
                r.id
            );
        }
        // Every row names at least one page with dates (a vendor life-cycle page or
        // endoflife.date) — not only a package page.
        assert!(
            r.sources.iter().any(|s| s.contains("endoflife.date")
                || s.contains("lifecycle")
                || s.contains("errata")),
            "{}: no life-cycle source",
            r.id
        );
        assert!(!r.arches.is_empty(), "{}", r.id);
        assert!(r.eol.is_none_or(|e| e > r.released), "{}", r.id);
    }
}

#[test]
fn pinned_libc_versions() {
    let expect = [
        ("centos-5", "2.5"),
        ("centos-6", "2.12"),
        ("centos-7", "2.17"),
        ("rhel-8", "2.28"),
        ("almalinux-8", "2.28"),
        ("rocky-8", "2.28"),
        ("rhel-9", "2.34"),
        ("almalinux-9", "2.34"),
        ("rocky-9", "2.34"),
        ("rhel-10", "2.39"),
        ("almalinux-10", "2.39"),
        ("rocky-10", "2.39"),
        ("debian-7", "2.13"),
        ("debian-8", "2.19"),
        ("debian-9", "2.24"),
        ("debian-10", "2.28"),
        ("debian-11", "2.31"),
        ("debian-12", "2.36"),
        ("debian-13", "2.41"),
        ("ubuntu-12.04", "2.15"),
        ("ubuntu-14.04", "2.19"),
        ("ubuntu-16.04", "2.23"),
        ("ubuntu-18.04", "2.27"),
        ("ubuntu-20.04", "2.31"),
        ("ubuntu-22.04", "2.35"),
        ("ubuntu-24.04", "2.39"),
        ("ubuntu-26.04", "2.43"),
        ("amazon-2", "2.26"),
        ("amazon-2023", "2.34"),
        ("sles-12", "2.22"),
        ("sles-15", "2.26"),
        ("sles-15-sp3", "2.31"),
        ("fedora-40", "2.39"),
        ("fedora-44", "2.43"),
        ("alpine-3.12", "1.1.24"),
        ("alpine-3.13", "1.2.2"),
        ("alpine-3.16", "1.2.3"),
        ("alpine-3.18", "1.2.4"),
        ("alpine-3.20", "1.2.5"),
    ];
    for (id, v) in expect {
        let r = distro(id).unwrap_or_else(|| panic!("{id} missing"));
        assert_eq!(r.libc_version, v, "{id}");
    }
}

#[test]
fn pinned_dates_of_the_examples() {
    let c5 = distro("centos-5").unwrap();
    assert_eq!(c5.eol, Some(d("2017-03-31")));
    assert_eq!(c5.status(d("2017-04-08")), Status::Eol);
    assert_eq!(distro("centos-6").unwrap().eol, Some(d("2020-11-30")));
    assert_eq!(distro("centos-7").unwrap().eol, Some(d("2024-06-30")));
    assert_eq!(distro("amazon-2").unwrap().eol, Some(d("2026-06-30")));
    assert_eq!(distro("amazon-2023").unwrap().eol, Some(d("2029-06-30")));
    assert_eq!(
        distro("sles-11").unwrap().status(d("2017-04-08")),
        Status::Supported
    );
    assert_eq!(
        distro("rhel-5").unwrap().status(d("2017-04-08")),
        Status::Extended
    );
}

#[test]
fn families_and_architectures() {
    for r in distros() {
        let musl = r.vendor == "alpine";
        assert_eq!(r.libc == Libc::Musl, musl, "{}", r.id);
        if r.libc == Libc::Glibc {
            assert_eq!(r.version.0, 2, "{}", r.id);
            assert!(r.version.1 >= 5, "{}", r.id);
        } else {
            assert_eq!(r.version.0, 1, "{}", r.id);
        }
        // No release before 2013 had 64-bit ARM, POWER8 little-endian or RISC-V ports.
        if r.released < d("2013-01-01") {
            for a in [
                Arch::Aarch64,
                Arch::Ppc64le,
                Arch::Riscv64,
                Arch::Loongarch64,
            ] {
                assert!(!r.has_arch(a), "{} {a}", r.id);
            }
        }
        assert!(r.has_arch(Arch::X86_64), "{} without x86_64", r.id);
    }
}

#[test]
fn successive_releases_never_downgrade_libc() {
    let mut by_vendor: std::collections::BTreeMap<&str, Vec<_>> = Default::default();
    for r in distros() {
        by_vendor.entry(r.vendor.as_str()).or_default().push(r);
    }
    for (vendor, mut rows) in by_vendor {
        if vendor == "rhel" {
            // CentOS, RHEL, Alma and Rocky of one major version ship the same glibc.
            for (a, b) in [
                ("centos-5", "rhel-5"),
                ("centos-6", "rhel-6"),
                ("centos-7", "rhel-7"),
                ("centos-8", "rhel-8"),
                ("almalinux-8", "rhel-8"),
                ("rocky-8", "rhel-8"),
                ("almalinux-9", "rhel-9"),
                ("rocky-9", "rhel-9"),
                ("almalinux-10", "rhel-10"),
                ("rocky-10", "rhel-10"),
            ] {
                assert_eq!(
                    distro(a).unwrap().version,
                    distro(b).unwrap().version,
                    "{a} {b}"
                );
            }
            continue;
        }
        rows.sort_by_key(|r| r.released);
        for w in rows.windows(2) {
            assert!(
                w[0].version <= w[1].version,
                "{} ({}) then {} ({})",
                w[0].id,
                w[0].libc_version,
                w[1].id,
                w[1].libc_version
            );
        }
    }
}

#[test]
fn every_vendor_has_a_release_supported_on_2026_12_03() {
    let today = d("2026-12-03");
    for vendor in [
        "rhel", "debian", "ubuntu", "amazon", "suse", "fedora", "alpine",
    ] {
        assert!(
            distros()
                .iter()
                .any(|r| r.vendor == vendor && r.supported_on(today, false)),
            "{vendor}"
        );
    }
}
