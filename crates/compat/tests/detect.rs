//! Reading a system's C library from its files: the cross sysroots installed on this machine,
//! and small synthetic roots built with the cross compilers (fake musl loaders, a glibc known
//! only by its version definitions or its file name, multiarch and mixed roots).

use std::path::{Path, PathBuf};
use std::process::Command;

use manywheel_compat::detect::{detect, find_all, DetectOptions, VersionFrom};
use manywheel_compat::tags::{platform_tags, LinuxTagPlace};
use manywheel_policy::{Arch, Libc};

fn skip(why: &str) {
    let required = std::env::var_os("MANYWHEEL_REQUIRE_REFERENCE").is_some_and(|v| v != "0");
    assert!(!required, "reference missing: {why}");
    eprintln!("SKIP: {why}");
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The C compiler for an architecture (host gcc for x86_64).
fn cc(arch: Arch) -> String {
    match arch {
        Arch::X86_64 => "gcc".to_string(),
        Arch::I686 => "i686-linux-gnu-gcc".to_string(),
        _ => format!("{}-gcc", arch.gnu_triple()),
    }
}

/// Compile `source` into a shared object at `out`.
fn build_so(arch: Arch, source: &str, out: &Path, extra: &[&str]) -> bool {
    let compiler = cc(arch);
    if !have(&compiler) {
        skip(&format!("{compiler} not installed"));
        return false;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("x.c");
    std::fs::write(&src, source).unwrap();
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let o = Command::new(&compiler)
        .args(["-shared", "-nostdlib", "-fPIC", "-o"])
        .arg(out)
        .arg(&src)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{compiler}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    true
}

fn fake_musl_source(loader_arch: &str, version: &str) -> String {
    format!(
        "const char musl_banner[] = \"musl libc ({loader_arch})\\nVersion %s\\nDynamic Program Loader\\n\";\n\
         const char musl_version[] = \"{version}\";\n\
         const char other[] = \"127.0.0.1\";\n"
    )
}

fn opts(root: &Path) -> DetectOptions {
    DetectOptions {
        root: Some(root.to_path_buf()),
        ..Default::default()
    }
}

#[test]
fn cross_sysroots() {
    let roots = [
        ("/usr/aarch64-linux-gnu", Arch::Aarch64),
        ("/usr/arm-linux-gnueabihf", Arch::Armv7l),
        ("/usr/i686-linux-gnu", Arch::I686),
        ("/usr/powerpc64le-linux-gnu", Arch::Ppc64le),
        ("/usr/riscv64-linux-gnu", Arch::Riscv64),
        ("/usr/s390x-linux-gnu", Arch::S390x),
    ];
    for (root, arch) in roots {
        if !Path::new(root).is_dir() {
            skip(&format!(
                "{root} missing (cross toolchains from scripts/setup.sh apt)"
            ));
            continue;
        }
        let f = detect(&opts(Path::new(root))).unwrap();
        assert_eq!(f.libc, Libc::Glibc, "{root}");
        assert_eq!(f.arch, arch, "{root}");
        assert!(f.abi_ok, "{root}");
        assert_eq!(f.version_from, VersionFrom::VersionString, "{root}");
        // The banner and the version definitions agree on these glibc builds.
        assert_eq!(
            f.version_definition_max.as_deref(),
            Some(f.version_text.as_str()),
            "{root}"
        );
        assert_eq!(f.path_in_root, "/lib/libc.so.6");
        if f.version_text == "2.36" && arch == Arch::Aarch64 {
            let tags = platform_tags(f.libc, f.version, f.arch, f.abi_ok, LinuxTagPlace::Last);
            let mut expect: Vec<String> = (17..=36)
                .rev()
                .map(|m| format!("manylinux_2_{m}_aarch64"))
                .collect();
            expect.push("manylinux2014_aarch64".into());
            expect.push("linux_aarch64".into());
            assert_eq!(tags, expect);
        }
    }
}

#[test]
fn fake_musl_loaders_of_every_arch() {
    let dir = tempfile::tempdir().unwrap();
    for (arch, version) in [
        (Arch::X86_64, "1.2.5"),
        (Arch::Aarch64, "1.2.4"),
        (Arch::Armv7l, "1.1.24"),
        (Arch::Ppc64le, "1.2.3"),
        (Arch::S390x, "1.2.2"),
        (Arch::I686, "1.2.5"),
    ] {
        let root = dir.path().join(arch.name());
        let loader = root.join(format!("lib/ld-musl-{}.so.1", arch.musl_loader_arch()));
        if !build_so(
            arch,
            &fake_musl_source(arch.musl_loader_arch(), version),
            &loader,
            &[],
        ) {
            continue;
        }
        let f = detect(&opts(&root)).unwrap();
        assert_eq!(
            (f.libc, f.arch, f.version_text.as_str(), f.version_from),
            (Libc::Musl, arch, version, VersionFrom::VersionString)
        );
        let tags = platform_tags(f.libc, f.version, f.arch, f.abi_ok, LinuxTagPlace::First);
        assert_eq!(tags[0], format!("linux_{}", arch.name()));
        assert_eq!(
            tags[1],
            format!("musllinux_{}_{}_{}", f.version.0, f.version.1, arch.name())
        );
        assert_eq!(tags.len(), 1 + f.version.1 as usize + 1);
    }
}

#[test]
fn apk_database_when_the_loader_has_no_version_string() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let src = "const char b[] = \"musl libc (x86_64)\\nVersion %s\\n\";\n";
    if !build_so(
        Arch::X86_64,
        src,
        &root.join("lib/ld-musl-x86_64.so.1"),
        &[],
    ) {
        return;
    }
    assert!(detect(&opts(root)).is_err());
    std::fs::create_dir_all(root.join("lib/apk/db")).unwrap();
    std::fs::write(
        root.join("lib/apk/db/installed"),
        "C:Q1abc\nP:busybox\nV:1.36.1-r2\n\nC:Q1def\nP:musl\nV:1.2.4-r2\nA:x86_64\n\n",
    )
    .unwrap();
    let f = detect(&opts(root)).unwrap();
    assert_eq!(f.version_text, "1.2.4");
    assert_eq!(f.version_from, VersionFrom::PackageDatabase);
}

/// A CentOS-like root: `lib64 -> usr/lib64`, `libc.so.6 -> /usr/lib64/libc-2.17.so`
/// (absolute, so it must be re-rooted), and a library known by its version nodes only.
#[test]
fn glibc_by_version_definitions_and_by_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let map = dir.path().join("v.map");
    std::fs::write(
        &map,
        "GLIBC_2.2.5 { global: f1; local: *; };\nGLIBC_2.17 { global: f2; } GLIBC_2.2.5;\nGLIBC_PRIVATE { global: f3; } GLIBC_2.17;\n",
    )
    .unwrap();
    let real = root.join("usr/lib64/libc-2.17.so");
    let src = "void f1(void) {}\nvoid f2(void) {}\nvoid f3(void) {}\n";
    let args = [
        format!("-Wl,--version-script={}", map.display()),
        "-Wl,-soname,libc.so.6".to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if !build_so(Arch::X86_64, src, &real, &args) {
        return;
    }
    std::os::unix::fs::symlink("usr/lib64", root.join("lib64")).unwrap();
    std::os::unix::fs::symlink("/usr/lib64/libc-2.17.so", root.join("usr/lib64/libc.so.6"))
        .unwrap();
    let f = detect(&opts(root)).unwrap();
    assert_eq!(
        (f.version_text.as_str(), f.version_from, f.arch),
        ("2.17", VersionFrom::VersionDefinition, Arch::X86_64)
    );
    assert_eq!(f.path_in_root, "/lib64/libc.so.6");
    assert_eq!(f.source, real);

    // No version nodes, no banner: the file name is all there is.
    let root2 = dir.path().join("old");
    let real2 = root2.join("lib/libc-2.12.so");
    if !build_so(Arch::X86_64, "void f(void) {}\n", &real2, &[]) {
        return;
    }
    std::os::unix::fs::symlink("libc-2.12.so", root2.join("lib/libc.so.6")).unwrap();
    let f = detect(&opts(&root2)).unwrap();
    assert_eq!(
        (f.version_text.as_str(), f.version_from),
        ("2.12", VersionFrom::FileName)
    );

    // An old-style banner wins over both.
    let root3 = dir.path().join("c5");
    let src = "const char banner[] = \"GNU C Library stable release version 2.5, by Roland McGrath et al.\\n\";\nvoid f1(void) {}\nvoid f2(void) {}\nvoid f3(void) {}\n";
    if !build_so(Arch::X86_64, src, &root3.join("lib64/libc-2.5.so"), &args) {
        return;
    }
    std::os::unix::fs::symlink("libc-2.5.so", root3.join("lib64/libc.so.6")).unwrap();
    let f = detect(&opts(&root3)).unwrap();
    assert_eq!(
        (f.version_text.as_str(), f.version_from),
        ("2.5", VersionFrom::VersionString)
    );
    assert_eq!(f.version_definition_max.as_deref(), Some("2.17"));
}

#[test]
fn choosing_among_several() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let banner = |v: &str| {
        format!("const char b[] = \"GNU C Library (test) stable release version {v}.\\n\";\n")
    };
    if !build_so(
        Arch::Armv7l,
        &banner("2.31"),
        &root.join("usr/lib/arm-linux-gnueabihf/libc.so.6"),
        &[],
    ) || !build_so(
        Arch::Aarch64,
        &banner("2.31"),
        &root.join("usr/lib/aarch64-linux-gnu/libc.so.6"),
        &[],
    ) || !build_so(
        Arch::Aarch64,
        &fake_musl_source("aarch64", "1.2.3"),
        &root.join("lib/ld-musl-aarch64.so.1"),
        &[],
    ) {
        return;
    }
    let (all, errors) = find_all(root);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(all.len(), 3);
    let f = detect(&opts(root)).unwrap();
    assert_eq!((f.libc, f.arch), (Libc::Glibc, Arch::Aarch64));
    let mut o = opts(root);
    o.arch = Some(Arch::Armv7l);
    let f = detect(&o).unwrap();
    assert_eq!(
        (f.libc, f.arch, f.abi_ok),
        (Libc::Glibc, Arch::Armv7l, true)
    );
    let mut o = opts(root);
    o.libc = Some(Libc::Musl);
    let f = detect(&o).unwrap();
    assert_eq!((f.libc, f.arch), (Libc::Musl, Arch::Aarch64));
    let mut o = opts(root);
    o.arch = Some(Arch::S390x);
    let err = detect(&o).unwrap_err().to_string();
    assert!(err.contains("no C library for s390x"), "{err}");
    assert!(err.contains("found glibc 2.31 aarch64"), "{err}");
}

#[test]
fn soft_float_arm_gets_no_manylinux() {
    let compiler = "arm-linux-gnueabihf-gcc";
    if !have(compiler) {
        skip(&format!("{compiler} not installed"));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let src = "const char b[] = \"GNU C Library (test) stable release version 2.28.\\n\";\n";
    // -mfloat-abi=softfp keeps the VFP unit but the soft-float calling convention: no
    // EF_ARM_ABI_FLOAT_HARD in e_flags.
    let out = root.join("lib/arm-linux-gnueabi/libc.so.6");
    if !build_so(Arch::Armv7l, src, &out, &["-mfloat-abi=softfp"]) {
        return;
    }
    let f = detect(&opts(root)).unwrap();
    assert_eq!(f.arch, Arch::Armv7l);
    assert!(!f.abi_ok, "{f:?}");
    assert!(f.abi_problem.is_some());
    let tags = platform_tags(f.libc, f.version, f.arch, f.abi_ok, LinuxTagPlace::First);
    assert_eq!(tags, ["linux_armv7l"]);
}

#[test]
fn nothing_to_find() {
    let dir = tempfile::tempdir().unwrap();
    let err = detect(&opts(dir.path())).unwrap_err().to_string();
    assert!(err.contains("no C library found"), "{err}");
    let missing = PathBuf::from("/nonexistent/root");
    assert!(detect(&opts(&missing)).is_err());
}
