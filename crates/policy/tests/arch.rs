//! Architecture facts and how policies are distributed over architectures.

use manywheel_policy::elf::*;
use manywheel_policy::{Arch, Libc, PolicySet};

#[test]
fn names_round_trip() {
    let names = [
        "x86_64",
        "i686",
        "aarch64",
        "armv7l",
        "ppc64",
        "ppc64le",
        "s390x",
        "riscv64",
        "loongarch64",
    ];
    assert_eq!(Arch::ALL.map(Arch::name), names);
    for arch in Arch::ALL {
        assert_eq!(Arch::from_name(arch.name()).unwrap(), arch);
        assert_eq!(arch.to_string().parse::<Arch>().unwrap(), arch);
        let json = serde_json::to_string(&arch).unwrap();
        assert_eq!(json, format!("\"{}\"", arch.name()));
        assert_eq!(serde_json::from_str::<Arch>(&json).unwrap(), arch);
    }
}

#[test]
fn aliases() {
    let table = [
        ("amd64", Arch::X86_64),
        ("AMD64", Arch::X86_64),
        ("x86-64", Arch::X86_64),
        ("arm64", Arch::Aarch64),
        ("i386", Arch::I686),
        ("i586", Arch::I686),
        ("ppc64el", Arch::Ppc64le),
        ("powerpc64le", Arch::Ppc64le),
        ("powerpc64", Arch::Ppc64),
        ("armhf", Arch::Armv7l),
        ("armv7", Arch::Armv7l),
        ("loong64", Arch::Loongarch64),
    ];
    for (alias, arch) in table {
        assert_eq!(Arch::from_name(alias).unwrap(), arch, "{alias}");
    }
    for bad in ["", "mips64", "armel", "sparc64", "x86_64_v3", "riscv32"] {
        assert!(
            matches!(
                Arch::from_name(bad),
                Err(manywheel_policy::Error::UnknownArch(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn from_elf_each_machine() {
    // (machine, is_64, little_endian) -> arch
    let table = [
        (EM_X86_64, true, true, Some(Arch::X86_64)),
        (EM_X86_64, false, true, None), // x32
        (EM_386, false, true, Some(Arch::I686)),
        (EM_AARCH64, true, true, Some(Arch::Aarch64)),
        (EM_AARCH64, true, false, None), // aarch64_be
        (EM_ARM, false, true, Some(Arch::Armv7l)),
        (EM_ARM, false, false, None), // armeb
        (EM_PPC64, true, false, Some(Arch::Ppc64)),
        (EM_PPC64, true, true, Some(Arch::Ppc64le)),
        (20, false, false, None), // EM_PPC
        (EM_S390, true, false, Some(Arch::S390x)),
        (EM_S390, false, false, None), // 31-bit s390
        (EM_RISCV, true, true, Some(Arch::Riscv64)),
        (EM_RISCV, false, true, None), // riscv32
        (EM_LOONGARCH, true, true, Some(Arch::Loongarch64)),
        (EM_LOONGARCH, false, true, None),
        (8, false, false, None), // EM_MIPS
    ];
    for (machine, is_64, le, expected) in table {
        assert_eq!(
            Arch::from_elf(machine, is_64, le, 0),
            expected,
            "{machine} {is_64} {le}"
        );
    }
    assert_eq!(EM_LOONGARCH, 258);
    for arch in Arch::ALL {
        assert_eq!(
            Arch::from_elf(arch.elf_machine(), arch.is_64(), arch.is_little_endian(), 0),
            Some(arch)
        );
    }
}

#[test]
fn arm_flags() {
    let good = EF_ARM_EABI_VER5 | EF_ARM_ABI_FLOAT_HARD;
    assert!(Arch::Armv7l.check_elf_flags(good).is_ok());
    assert!(Arch::Armv7l.check_elf_flags(0x0500_0400).is_ok());
    let soft = Arch::Armv7l
        .check_elf_flags(EF_ARM_EABI_VER5 | EF_ARM_ABI_FLOAT_SOFT)
        .unwrap_err();
    assert!(soft.contains("soft-float"), "{soft}");
    assert!(Arch::Armv7l.check_elf_flags(EF_ARM_EABI_VER5).is_err());
    let old = Arch::Armv7l.check_elf_flags(0x0400_0400).unwrap_err();
    assert!(old.contains("EABI version 4"), "{old}");
    assert!(Arch::Armv7l.check_elf_flags(0).is_err());
    for arch in Arch::ALL.into_iter().filter(|a| *a != Arch::Armv7l) {
        assert!(arch.check_elf_flags(0).is_ok());
        assert!(arch.check_elf_flags(0xFFFF_FFFF).is_ok());
    }
}

#[test]
fn per_arch_facts() {
    use Arch::*;
    let rows = [
        // arch, 64, LE, page, debian, qemu, triple, musl loader
        (
            X86_64,
            true,
            true,
            4096,
            "amd64",
            "x86_64",
            "x86_64-linux-gnu",
            "x86_64",
        ),
        (
            I686,
            false,
            true,
            4096,
            "i386",
            "i386",
            "i386-linux-gnu",
            "i386",
        ),
        (
            Aarch64,
            true,
            true,
            65536,
            "arm64",
            "aarch64",
            "aarch64-linux-gnu",
            "aarch64",
        ),
        (
            Armv7l,
            false,
            true,
            4096,
            "armhf",
            "arm",
            "arm-linux-gnueabihf",
            "armhf",
        ),
        (
            Ppc64,
            true,
            false,
            65536,
            "ppc64",
            "ppc64",
            "powerpc64-linux-gnu",
            "powerpc64",
        ),
        (
            Ppc64le,
            true,
            true,
            65536,
            "ppc64el",
            "ppc64le",
            "powerpc64le-linux-gnu",
            "powerpc64le",
        ),
        (
            S390x,
            true,
            false,
            4096,
            "s390x",
            "s390x",
            "s390x-linux-gnu",
            "s390x",
        ),
        (
            Riscv64,
            true,
            true,
            4096,
            "riscv64",
            "riscv64",
            "riscv64-linux-gnu",
            "riscv64",
        ),
        (
            Loongarch64,
            true,
            true,
            65536,
            "loong64",
            "loongarch64",
            "loongarch64-linux-gnu",
            "loongarch64",
        ),
    ];
    for (arch, is64, le, page, deb, qemu, triple, musl) in rows {
        assert_eq!(arch.is_64(), is64, "{arch}");
        assert_eq!(arch.is_little_endian(), le, "{arch}");
        assert_eq!(arch.max_page_size(), page, "{arch}");
        assert_eq!(arch.debian_name(), deb);
        assert_eq!(arch.qemu_name(), qemu);
        assert_eq!(arch.gnu_triple(), triple);
        assert_eq!(arch.musl_loader_arch(), musl);
        assert_eq!(arch.musl_loader(), format!("/lib/ld-musl-{musl}.so.1"));
        assert_eq!(arch.x86_isa_baseline(), arch == X86_64);
        // Debian names are accepted back as aliases.
        assert_eq!(Arch::from_name(arch.debian_name()).unwrap(), arch);
    }
}

fn names(libc: Libc, arch: Arch) -> Vec<String> {
    PolicySet::embedded(libc, arch)
        .policies()
        .iter()
        .map(|p| p.name.clone())
        .collect()
}

#[test]
fn policy_availability_per_arch() {
    // riscv64: nothing before manylinux_2_31.
    let rv = names(Libc::Glibc, Arch::Riscv64);
    assert_eq!(rv.first().unwrap(), "manylinux_2_31");
    assert!(!rv
        .iter()
        .any(|n| n == "manylinux_2_17" || n == "manylinux_2_28"));
    // loongarch64: first at 2_36, musl only from 1_2.
    assert_eq!(
        names(Libc::Glibc, Arch::Loongarch64).first().unwrap(),
        "manylinux_2_36"
    );
    assert_eq!(
        names(Libc::Musl, Arch::Loongarch64),
        ["musllinux_1_2", "linux"]
    );
    // ppc64 (big-endian): only manylinux_2_17 (manylinux2014), no musllinux.
    assert_eq!(names(Libc::Glibc, Arch::Ppc64), ["manylinux_2_17", "linux"]);
    assert_eq!(names(Libc::Musl, Arch::Ppc64), ["linux"]);
    // PEP 599 archs start at 2_17; x86 at 2_5.
    for arch in [Arch::Aarch64, Arch::Armv7l, Arch::Ppc64le, Arch::S390x] {
        assert_eq!(
            names(Libc::Glibc, arch).first().unwrap(),
            "manylinux_2_17",
            "{arch}"
        );
    }
    for arch in [Arch::X86_64, Arch::I686] {
        let n = names(Libc::Glibc, arch);
        assert_eq!(n.first().unwrap(), "manylinux_2_5");
        assert_eq!(n.len(), 17);
        assert_eq!(n[n.len() - 2], "manylinux_2_41");
    }
    for arch in Arch::ALL {
        for libc in [Libc::Glibc, Libc::Musl] {
            let set = PolicySet::embedded(libc, arch);
            assert_eq!(set.arch(), arch);
            assert_eq!(set.libc(), libc);
            assert!(set.linux().is_linux());
            assert_eq!(set.linux().priority, 0);
            assert_eq!(set.policies().last().unwrap(), set.linux());
            assert_eq!(set.by_priority(0).unwrap(), set.linux());
            let prios: Vec<u32> = set.policies().iter().map(|p| p.priority).collect();
            assert!(
                prios.windows(2).all(|w| w[0] > w[1]),
                "{libc} {arch}: {prios:?}"
            );
        }
    }
}

#[test]
fn policy_lookup_every_form() {
    let set = PolicySet::embedded(Libc::Glibc, Arch::X86_64);
    for key in [
        "manylinux2014",
        "manylinux_2_17",
        "manylinux_2_17_x86_64",
        "manylinux2014_x86_64",
    ] {
        assert_eq!(
            set.get(key).map(|p| p.name.as_str()),
            Some("manylinux_2_17"),
            "{key}"
        );
    }
    for key in ["manylinux1", "manylinux1_x86_64", "manylinux_2_5_x86_64"] {
        assert_eq!(set.get(key).unwrap().name, "manylinux_2_5", "{key}");
    }
    for key in ["manylinux2010", "manylinux2010_x86_64"] {
        assert_eq!(set.get(key).unwrap().name, "manylinux_2_12", "{key}");
    }
    assert_eq!(set.get("linux").unwrap().name, "linux");
    assert_eq!(set.get("linux_x86_64").unwrap().name, "linux");
    assert!(set.get("manylinux_2_17_aarch64").is_none());
    assert!(set.get("manylinux2014_i686").is_none());
    assert!(set.get("manylinux_2_18").is_none());
    assert!(set.get("musllinux_1_2").is_none());

    let aarch = PolicySet::embedded(Libc::Glibc, Arch::Aarch64);
    assert_eq!(
        aarch.get("manylinux2014_aarch64").unwrap().name,
        "manylinux_2_17"
    );
    assert!(aarch.get("manylinux1").is_none());
    assert!(aarch.get("manylinux2010_aarch64").is_none());

    let musl = PolicySet::embedded(Libc::Musl, Arch::Aarch64);
    assert_eq!(
        musl.get("musllinux_1_2_aarch64").unwrap().name,
        "musllinux_1_2"
    );
    assert_eq!(musl.get("musllinux_1_1").unwrap().priority, 100);
}

#[test]
fn policy_methods() {
    let set = PolicySet::embedded(Libc::Glibc, Arch::Aarch64);
    let p = set.get("manylinux_2_17").unwrap();
    assert_eq!(p.tag(Arch::Aarch64), "manylinux_2_17_aarch64");
    assert_eq!(p.alias_tags(Arch::Aarch64), ["manylinux2014_aarch64"]);
    assert_eq!(p.version(), Some((2, 17)));
    assert!(!p.is_linux());
    assert_eq!(
        p.platform_tag(Arch::Aarch64).to_string(),
        "manylinux_2_17_aarch64"
    );
    assert!(p.allows_version("GLIBC", "2.17"));
    // auditwheel's data: CentOS 7's aarch64 glibc 2.17 also exports GLIBC_2.18.
    assert!(p.allows_version("GLIBC", "2.18"));
    assert!(!p.allows_version("GLIBC", "2.19"));
    assert!(p.allows_symbol_version("GLIBC_2.17"));
    assert!(!p.allows_symbol_version("GLIBCXX_3.4.21"));
    assert!(
        p.allows_version("OPENSSL", "3.0.0"),
        "unlisted namespaces are unconstrained"
    );
    assert!(p.whitelists("libc.so.6") && !p.whitelists("libssl.so.3"));
    assert_eq!(set.highest().name, "manylinux_2_17");
    assert_eq!(set.lowest().unwrap().name, "manylinux_2_41");
    assert_eq!(set.by_priority(80).unwrap().name, "manylinux_2_17");
    assert!(set.by_priority(79).is_none());

    let linux = set.linux();
    assert_eq!(linux.tag(Arch::Aarch64), "linux_aarch64");
    assert!(linux.alias_tags(Arch::Aarch64).is_empty());
    assert_eq!(linux.version(), None);
    assert!(linux.allows_version("GLIBC", "2.99"));
    assert!(linux.whitelists("libanything.so.1"));
    assert_eq!(
        linux.platform_tag(Arch::Aarch64).to_string(),
        "linux_aarch64"
    );

    let musl = PolicySet::embedded(Libc::Musl, Arch::I686);
    let m = musl.highest();
    assert_eq!(m.name, "musllinux_1_1");
    assert_eq!(m.version(), Some((1, 1)));
    assert_eq!(m.tag(Arch::I686), "musllinux_1_1_i686");
    assert!(m.symbol_versions.is_empty());
    assert!(m.whitelists("libc.musl-x86.so.1") && m.whitelists("libc.so"));
    assert_eq!(m.platform_tag(Arch::I686).libc(), Some(Libc::Musl));

    // Known data points.
    let x86 = PolicySet::embedded(Libc::Glibc, Arch::X86_64);
    let m5 = x86.get("manylinux1").unwrap();
    assert!(m5.allows_version("GLIBC", "2.2.5") && !m5.allows_version("GLIBC", "2.0"));
    assert!(
        !m5.allows_version("LIBATOMIC", "1.0"),
        "empty list allows nothing"
    );
    let i686 = PolicySet::embedded(Libc::Glibc, Arch::I686);
    assert!(i686
        .get("manylinux1")
        .unwrap()
        .allows_version("GLIBC", "2.0"));
    assert!(!x86
        .get("manylinux2014")
        .unwrap()
        .allows_version("GLIBC", "2.18"));
    let m28 = x86.get("manylinux_2_28").unwrap();
    assert!(m28.allows_version("GLIBC", "2.28") && !m28.allows_version("GLIBC", "2.29"));
}
