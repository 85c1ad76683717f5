//! The platform tags an installer accepts on a system, most preferred first, in the order
//! `packaging.tags` (used by pip, and reproduced by uv) generates them.
//!
//! The rules, as `packaging`'s `_manylinux.platform_tags`, `_musllinux.platform_tags` and
//! `tags._linux_platforms` implement them:
//! - manylinux: only when the interpreter's ABI is one manylinux covers (an armv7l system must
//!   be EABI5 hard-float; i686 must be a 32-bit little-endian i386 ELF; the other architectures
//!   are x86_64, aarch64, ppc64, ppc64le, s390x, loongarch64, riscv64). Then every
//!   `manylinux_X_Y_arch` from the system's glibc `X.Y` down to the oldest: glibc 2.5 when the
//!   architecture is x86_64 or i686, glibc 2.17 otherwise. A glibc with a major version above 2
//!   continues into the previous major version from its minor 50 (packaging's guess of the last
//!   2.x minor). Right after `manylinux_2_17_arch`, `manylinux_2_12_arch` and
//!   `manylinux_2_5_arch` come the legacy aliases `manylinux2014_arch`, `manylinux2010_arch`
//!   and `manylinux1_arch` — for whatever the architecture is (packaging emits
//!   `manylinux2014_riscv64` although PEP 599 never defined it).
//! - musllinux: on a musl system, `musllinux_X_Y_arch` for the musl minor version down to 0.
//! - `linux_arch`: the generic tag. packaging 26.3 and later put it first (a locally built wheel
//!   beats one from an index); earlier versions, including the copy vendored in older pip,
//!   put it last.

use manywheel_policy::{Arch, Libc};
use serde::Serialize;

/// Where the generic `linux_<arch>` tag goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinuxTagPlace {
    /// First (packaging ≥ 26.3).
    #[default]
    First,
    /// Last (packaging < 26.3, pip's vendored copy before it updated).
    Last,
}

/// packaging's guess of the last minor version of a glibc major version that is no longer
/// current (`_LAST_GLIBC_MINOR`).
const LAST_GLIBC_MINOR: u32 = 50;

/// Legacy names and the glibc they stand for (PEP 600).
const LEGACY: [((u32, u32), &str); 3] = [
    ((2, 17), "manylinux2014"),
    ((2, 12), "manylinux2010"),
    ((2, 5), "manylinux1"),
];

/// Architectures manylinux tags are generated for without an ABI check
/// (`_manylinux._ALLOWED_ARCHS`).
fn allowed_without_abi_check(arch: &str) -> bool {
    matches!(
        arch,
        "x86_64" | "aarch64" | "ppc64" | "ppc64le" | "s390x" | "loongarch64" | "riscv64"
    )
}

/// Whether an interpreter of these architectures can use manylinux wheels
/// (`_have_compatible_abi`): `abi_ok` is the result of the armv7l (EABI5 hard-float) or i686
/// (32-bit LSB i386) ELF check, consulted only for those two.
pub fn manylinux_abi_ok(archs: &[&str], abi_ok: bool) -> bool {
    if archs.contains(&"armv7l") || archs.contains(&"i686") {
        return abi_ok;
    }
    archs.iter().any(|a| allowed_without_abi_check(a))
}

/// The manylinux tags for a system with glibc `glibc` and these architectures (the closest
/// first), most preferred first.
pub fn manylinux_tags(glibc: (u32, u32), archs: &[&str], abi_ok: bool) -> Vec<String> {
    let mut out = Vec::new();
    if !manylinux_abi_ok(archs, abi_ok) {
        return out;
    }
    // The newest glibc that is too old: 2.4 where manylinux1 exists, 2.16 elsewhere.
    let too_old: (u32, i64) = if archs.iter().any(|a| matches!(*a, "x86_64" | "i686")) {
        (2, 4)
    } else {
        (2, 16)
    };
    // (major, highest minor) for the current major and every older one down to 2.
    let mut maxima = vec![glibc];
    for major in (2..glibc.0).rev() {
        maxima.push((major, LAST_GLIBC_MINOR));
    }
    for arch in archs {
        for &(major, max_minor) in &maxima {
            let floor = if major == too_old.0 { too_old.1 } else { -1 };
            let mut minor = i64::from(max_minor);
            while minor > floor {
                let m = minor as u32;
                out.push(format!("manylinux_{major}_{m}_{arch}"));
                if let Some((_, legacy)) = LEGACY.iter().find(|(v, _)| *v == (major, m)) {
                    out.push(format!("{legacy}_{arch}"));
                }
                minor -= 1;
            }
        }
    }
    out
}

/// The musllinux tags for a system with musl `musl` (major, minor), most preferred first.
pub fn musllinux_tags(musl: (u32, u32), archs: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for arch in archs {
        for minor in (0..=musl.1).rev() {
            out.push(format!("musllinux_{}_{minor}_{arch}", musl.0));
        }
    }
    out
}

/// Every platform tag of a Linux system with this C library, most preferred first:
/// `linux_<arch>` (placed by `place`), then manylinux or musllinux tags.
///
/// `abi_ok`: for armv7l whether the C library is EABI5 hard-float, for i686 whether it is a
/// 32-bit little-endian i386 object; ignored for other architectures.
pub fn platform_tags(
    libc: Libc,
    version: (u32, u32),
    arch: Arch,
    abi_ok: bool,
    place: LinuxTagPlace,
) -> Vec<String> {
    let archs = [arch.name()];
    let mut out = Vec::new();
    let linux = format!("linux_{}", arch.name());
    if place == LinuxTagPlace::First {
        out.push(linux.clone());
    }
    match libc {
        Libc::Glibc => out.extend(manylinux_tags(version, &archs, abi_ok)),
        Libc::Musl => out.extend(musllinux_tags(version, &archs)),
    }
    if place == LinuxTagPlace::Last {
        out.push(linux);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_64_goes_down_to_manylinux1() {
        let t = platform_tags(
            Libc::Glibc,
            (2, 17),
            Arch::X86_64,
            true,
            LinuxTagPlace::Last,
        );
        assert_eq!(t[0], "manylinux_2_17_x86_64");
        assert_eq!(t[1], "manylinux2014_x86_64");
        assert!(t.contains(&"manylinux2010_x86_64".to_string()));
        assert_eq!(
            t[t.len() - 3..],
            ["manylinux_2_5_x86_64", "manylinux1_x86_64", "linux_x86_64"]
        );
        // 13 versions 2.17 ... 2.5, 3 aliases, linux
        assert_eq!(t.len(), 13 + 3 + 1);
    }

    #[test]
    fn aarch64_stops_at_2_17() {
        let t = platform_tags(
            Libc::Glibc,
            (2, 36),
            Arch::Aarch64,
            true,
            LinuxTagPlace::First,
        );
        assert_eq!(t[0], "linux_aarch64");
        assert_eq!(t[1], "manylinux_2_36_aarch64");
        assert_eq!(t.last().unwrap(), "manylinux2014_aarch64");
        assert_eq!(t.len(), 1 + 20 + 1);
    }

    #[test]
    fn soft_float_arm_and_old_glibc_get_no_manylinux() {
        let t = platform_tags(
            Libc::Glibc,
            (2, 36),
            Arch::Armv7l,
            false,
            LinuxTagPlace::First,
        );
        assert_eq!(t, ["linux_armv7l"]);
        let t = platform_tags(
            Libc::Glibc,
            (2, 4),
            Arch::X86_64,
            true,
            LinuxTagPlace::First,
        );
        assert_eq!(t, ["linux_x86_64"]);
        let t = platform_tags(
            Libc::Glibc,
            (2, 16),
            Arch::S390x,
            true,
            LinuxTagPlace::First,
        );
        assert_eq!(t, ["linux_s390x"]);
    }

    #[test]
    fn glibc_3_continues_into_2_50() {
        let t = manylinux_tags((3, 1), &["aarch64"], true);
        assert_eq!(
            t[..3],
            [
                "manylinux_3_1_aarch64",
                "manylinux_3_0_aarch64",
                "manylinux_2_50_aarch64"
            ]
        );
    }

    #[test]
    fn musl() {
        let t = platform_tags(Libc::Musl, (1, 2), Arch::Armv7l, false, LinuxTagPlace::Last);
        assert_eq!(
            t,
            [
                "musllinux_1_2_armv7l",
                "musllinux_1_1_armv7l",
                "musllinux_1_0_armv7l",
                "linux_armv7l"
            ]
        );
    }
}
