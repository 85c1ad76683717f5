//! `target add` end to end against a small mirror written on disk: the happy path (all three
//! compressions, links, merged /usr, manifest, run command), damaged downloads and archives
//! (wrong SHA256, truncated .deb, bad index checksum, path traversal) that must fail with one
//! clear line and leave no target behind, and concurrent adds of one target.

mod common;

use std::ffi::OsString;
use std::fs;
use std::path::Path;

use common::fake::{self, Member};
use manywheel_policy::Arch;
use manywheel_target::{
    add, list, remove, AddOptions, AddOutcome, Cache, Error, Progress, RunOptions, Target,
};

fn options(mirror: &str) -> AddOptions {
    let mut o = AddOptions::new(Arch::X86_64);
    o.mirror = mirror.to_string();
    o
}

/// Run an add that must fail; check the error is one line and nothing is left behind.
fn add_fails(cache: &Cache, opts: &AddOptions) -> String {
    let err = add(cache, opts, &Progress::quiet()).unwrap_err();
    let text = err.to_string();
    eprintln!("expected error: {text}");
    assert!(!text.contains('\n'), "multi-line error: {text}");
    let name = opts.distro.target_name(opts.arch);
    assert!(
        !cache.target_dir(&name).exists(),
        "a failed add left {name} behind"
    );
    let leftovers = fake::tree(&cache.tmp_dir());
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let partial: Vec<_> = fake::tree(&cache.debs_dir())
        .into_iter()
        .filter(|p| p.to_string_lossy().starts_with(".download"))
        .collect();
    assert!(partial.is_empty(), "partial downloads left: {partial:?}");
    text
}

#[test]
fn builds_a_target_from_a_local_mirror() {
    let tmp = tempfile::tempdir().unwrap();
    let url = fake::write_mirror(&tmp.path().join("mirror"), &fake::python_and_libc());
    let cache = Cache::at(tmp.path().join("cache"));
    let outcome = add(&cache, &options(&url), &Progress::quiet()).unwrap();
    let AddOutcome::Added(m) = outcome else {
        panic!("not added")
    };
    assert_eq!(m.name, "debian-bookworm-x86_64");
    assert_eq!(m.debian_arch, "amd64");
    assert_eq!(m.glibc_version.as_deref(), Some("2.36"));
    assert_eq!(m.python_version.as_deref(), Some("1.0"));
    assert_eq!(m.python.as_deref(), Some("/usr/bin/python3.11"));
    assert_eq!(
        m.interpreter.as_deref(),
        Some("/lib64/ld-linux-x86-64.so.2")
    );
    let names: Vec<&str> = m.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["python3", "libc6", "mawk"]);
    assert!(m.qemu.is_none());
    assert!(m.tree_digest.starts_with("sha256:"));

    let root = cache.target_dir(&m.name);
    // Merged /usr, links made relative, hard link, the empty ld.so.cache.
    assert_eq!(
        fs::read_link(root.join("lib")).unwrap(),
        Path::new("usr/lib")
    );
    assert_eq!(
        fs::read_link(root.join("lib64")).unwrap(),
        Path::new("usr/lib64")
    );
    assert_eq!(
        fs::read_link(root.join("usr/lib64/ld-linux-x86-64.so.2")).unwrap(),
        Path::new("../../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    );
    assert_eq!(
        fs::read(root.join("lib64/ld-linux-x86-64.so.2")).unwrap(),
        b"loader"
    );
    assert_eq!(fs::read(root.join("usr/bin/mawk")).unwrap(), b"awk");
    assert_eq!(
        fs::read(root.join("usr/bin/python3.11-hard")).unwrap(),
        fs::read(root.join("usr/bin/python3.11")).unwrap()
    );
    assert_eq!(fs::metadata(root.join("etc/ld.so.cache")).unwrap().len(), 0);
    // The digest in the manifest is the tree's.
    assert_eq!(
        manywheel_target::sysroot::tree_digest(&root)
            .unwrap()
            .digest,
        m.tree_digest
    );

    // A second add finds it; list shows it; the run command goes through its own loader.
    let again = add(&cache, &options(&url), &Progress::quiet()).unwrap();
    assert!(matches!(again, AddOutcome::Present(_)));
    let listed = list(&cache).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].qemu, "native");
    assert!(listed[0].size_on_disk > 0);
    let t = Target::find(&cache, Arch::X86_64, None).unwrap();
    let cmd = t
        .command(
            "python3",
            &[OsString::from("-c"), OsString::from("pass")],
            &RunOptions::default(),
        )
        .unwrap();
    assert_eq!(
        Path::new(cmd.get_program()),
        root.join("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    );
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert_eq!(args[0], "--inhibit-cache");
    assert_eq!(args[1], "--library-path");
    assert!(args[2].starts_with(&root.join("usr/lib/x86_64-linux-gnu").display().to_string()));
    assert!(
        !args[2].contains("/usr/local/lib"),
        "missing dirs are left out: {}",
        args[2]
    );
    assert_eq!(
        args[3],
        root.join("usr/bin/python3.11").display().to_string()
    );
    assert_eq!(&args[4..], ["-c", "pass"]);
    // Unknown programs and wrong architectures are refused.
    assert!(t.command("nonesuch", &[], &RunOptions::default()).is_err());
    assert!(Target::find(&cache, Arch::Aarch64, None).is_err());
    assert!(Target::find(&cache, Arch::Aarch64, Some("debian-bookworm-x86_64")).is_err());

    // An extra package rebuilds the target with both.
    let mut more = options(&url);
    more.packages = vec!["mawk".into()];
    assert!(matches!(
        add(&cache, &more, &Progress::quiet()).unwrap(),
        AddOutcome::Present(_)
    ));
    more.force = true;
    assert!(matches!(
        add(&cache, &more, &Progress::quiet()).unwrap(),
        AddOutcome::Added(_)
    ));
    assert!(fake::tree(&cache.tmp_dir()).is_empty());

    remove(&cache, "debian-bookworm-x86_64").unwrap();
    assert!(!root.exists());
    assert!(list(&cache).unwrap().is_empty());
    assert!(remove(&cache, "debian-bookworm-x86_64").is_err());
    assert!(remove(&cache, "../x").is_err());
}

#[test]
fn wrong_sha256_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pkgs = fake::python_and_libc();
    pkgs[1].wrong_sha256 = true;
    let url = fake::write_mirror(&tmp.path().join("mirror"), &pkgs);
    let cache = Cache::at(tmp.path().join("cache"));
    let err = add_fails(&cache, &options(&url));
    assert!(err.contains("sha256 mismatch"), "{err}");
    assert!(err.contains("libc6"), "{err}");
    assert!(!cache
        .debs_dir()
        .join("libc6_2.36-9+deb12u4_amd64.deb")
        .exists());
}

#[test]
fn truncated_download_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pkgs = fake::python_and_libc();
    pkgs[1].truncate_to = Some(300);
    pkgs[1].index_lists_original = true;
    let url = fake::write_mirror(&tmp.path().join("mirror"), &pkgs);
    let cache = Cache::at(tmp.path().join("cache"));
    let err = add_fails(&cache, &options(&url));
    assert!(err.contains("size mismatch"), "{err}");
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn truncated_package_fails_cleanly() {
    // The index matches the cut file: the download verifies, the archive does not read.
    for cut in [7, 100, 300, 420] {
        let tmp = tempfile::tempdir().unwrap();
        let mut pkgs = fake::python_and_libc();
        let full = fake::build_deb(&pkgs[0]).len();
        assert!(cut < full);
        pkgs[0].truncate_to = Some(cut);
        let url = fake::write_mirror(&tmp.path().join("mirror"), &pkgs);
        let cache = Cache::at(tmp.path().join("cache"));
        let err = add_fails(&cache, &options(&url));
        assert!(
            err.starts_with("python3_1.0-1_amd64.deb: "),
            "cut {cut}: {err}"
        );
        assert!(
            err.contains("truncated")
                || err.contains("unexpected end")
                || err.contains("failed to fill"),
            "cut {cut}: {err}"
        );
    }
}

#[test]
fn bad_index_checksum_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let url = fake::write_mirror_with(&tmp.path().join("mirror"), &fake::python_and_libc(), true);
    let cache = Cache::at(tmp.path().join("cache"));
    let err = add_fails(&cache, &options(&url));
    assert!(err.contains("Packages.gz: sha256 mismatch"), "{err}");
}

#[test]
fn path_traversal_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pkgs = fake::python_and_libc();
    pkgs[2]
        .members
        .push(Member::File("./../../escaped", b"x".to_vec(), 0o644));
    let url = fake::write_mirror(&tmp.path().join("mirror"), &pkgs);
    let cache = Cache::at(tmp.path().join("cache"));
    let err = add_fails(&cache, &options(&url));
    assert!(err.contains("escapes the target root"), "{err}");
    assert!(err.contains("mawk"), "{err}");
    let all = fake::tree(tmp.path());
    assert!(
        !all.iter().any(|p| p.ends_with("escaped")),
        "written outside: {all:?}"
    );
    // A hard link to outside is refused the same way.
    let tmp = tempfile::tempdir().unwrap();
    let mut pkgs = fake::python_and_libc();
    pkgs[2]
        .members
        .push(Member::HardLink("./usr/bin/passwd", "../../../etc/passwd"));
    let url = fake::write_mirror(&tmp.path().join("mirror"), &pkgs);
    let err = add_fails(&Cache::at(tmp.path().join("cache")), &options(&url));
    assert!(err.contains("escapes the target root"), "{err}");
}

#[test]
fn symlinks_cannot_redirect_writes_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let mut pkgs = fake::python_and_libc();
    pkgs[2].members.extend([
        Member::Symlink("./usr/evil", outside.display().to_string()),
        Member::File("./usr/evil/pwned", b"x".to_vec(), 0o644),
        Member::Symlink("./usr/up", "../../../../../../..".into()),
        Member::File("./usr/up/pwned2", b"y".to_vec(), 0o644),
    ]);
    let url = fake::write_mirror(&tmp.path().join("mirror"), &pkgs);
    let cache = Cache::at(tmp.path().join("cache"));
    let m = add(&cache, &options(&url), &Progress::quiet()).unwrap();
    let root = cache.target_dir(&m.manifest().name);
    assert!(!outside.join("pwned").exists());
    assert!(root
        .join(outside.strip_prefix("/").unwrap())
        .join("pwned")
        .exists());
    assert!(root.join("pwned2").exists());
    assert!(!tmp.path().join("pwned2").exists());
    assert!(!Path::new("/pwned2").exists());
}

#[test]
fn unsatisfiable_and_unknown_fail_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pkgs = fake::python_and_libc();
    pkgs[0].depends = "libc6 (>= 3.0)";
    let url = fake::write_mirror(&tmp.path().join("mirror"), &pkgs);
    let cache = Cache::at(tmp.path().join("cache"));
    let err = add_fails(&cache, &options(&url));
    assert!(
        err.contains("python3 1.0-1 needs 'libc6 (>= 3.0)'"),
        "{err}"
    );

    let url = fake::write_mirror(&tmp.path().join("mirror2"), &fake::python_and_libc());
    let mut o = options(&url);
    o.packages = vec!["no-such-package".into()];
    let err = add_fails(&cache, &o);
    assert!(
        err.contains("'no-such-package' is not in the amd64 index"),
        "{err}"
    );

    let mut o = options(&url);
    o.arch = Arch::S390x;
    let err = add_fails(&cache, &o);
    assert!(err.contains("bookworm has no s390x packages"), "{err}");

    let mut o = options(&url);
    o.distro = manywheel_target::Distro::parse("debian:sid").unwrap();
    let err = add_fails(&cache, &o);
    assert!(err.contains("dists/sid/InRelease"), "{err}");
}

#[test]
fn concurrent_adds_of_one_target_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let url = fake::write_mirror(&tmp.path().join("mirror"), &fake::python_and_libc());
    let cache = Cache::at(tmp.path().join("cache"));
    let opts = options(&url);
    let outcomes: Vec<Result<AddOutcome, Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| add(&cache, &opts, &Progress::quiet())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let added = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(AddOutcome::Added(_))))
        .count();
    let present = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(AddOutcome::Present(_))))
        .count();
    assert_eq!((added, present), (1, 3));
    let root = cache.target_dir("debian-bookworm-x86_64");
    let m = manywheel_target::Manifest::read(&root).unwrap();
    assert_eq!(
        manywheel_target::sysroot::tree_digest(&root)
            .unwrap()
            .digest,
        m.tree_digest
    );
    assert!(fake::tree(&cache.tmp_dir()).is_empty());
}

#[test]
fn corrupt_cached_package_is_downloaded_again() {
    let tmp = tempfile::tempdir().unwrap();
    let url = fake::write_mirror(&tmp.path().join("mirror"), &fake::python_and_libc());
    let cache = Cache::at(tmp.path().join("cache"));
    add(&cache, &options(&url), &Progress::quiet()).unwrap();
    let cached = cache.debs_dir().join("libc6_2.36-9+deb12u4_amd64.deb");
    let good = fs::read(&cached).unwrap();
    fs::write(&cached, &good[..good.len() / 2]).unwrap();
    let mut o = options(&url);
    o.force = true;
    add(&cache, &o, &Progress::quiet()).unwrap();
    assert_eq!(fs::read(&cached).unwrap(), good);
}
