//! Tests on real Debian data: bookworm's InRelease and arm64 Packages index, the dependency
//! closure of python3, version ordering against `dpkg --compare-versions`, and real packages
//! listed and unpacked by our own reader compared with `dpkg-deb -c`.
//!
//! The files are downloaded once into the shared test cache (see `common`); without the
//! mirror the tests skip, unless MANYWHEEL_REQUIRE_REFERENCE=1.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use manywheel_target::fetch::Mirror;
use manywheel_target::packages::Index;
use manywheel_target::release::Release;
use manywheel_target::sysroot::{fetch_debs, fetch_release, load_index};
use manywheel_target::unpack::{Kind, RootWriter};
use manywheel_target::{deb, version, Progress};

struct Reference {
    release: Release,
    index: Index,
    mirror: Mirror,
}

/// bookworm's Release file and arm64 index, loaded once per test binary.
fn reference() -> Option<&'static Reference> {
    static REF: OnceLock<Reference> = OnceLock::new();
    if !common::mirror_available() {
        return None;
    }
    Some(REF.get_or_init(|| {
        let cache = common::shared_cache();
        let mirror = Mirror::new(&common::mirror_url()).unwrap();
        let quiet = Progress::quiet();
        let release = fetch_release(&cache, &mirror, "bookworm", &quiet).unwrap();
        let index = load_index(&cache, &mirror, &release, "bookworm", "arm64", &quiet).unwrap();
        Reference {
            release,
            index,
            mirror,
        }
    }))
}

#[test]
fn release_file_of_bookworm() {
    let Some(r) = reference() else { return };
    assert_eq!(r.release.codename.as_deref(), Some("bookworm"));
    assert_eq!(r.release.origin.as_deref(), Some("Debian"));
    for arch in ["amd64", "arm64", "armhf", "i386", "ppc64el", "s390x"] {
        assert!(r.release.architectures.iter().any(|a| a == arch), "{arch}");
        assert!(r.release.packages_index("main", arch).is_some(), "{arch}");
    }
    assert!(!r.release.architectures.iter().any(|a| a == "riscv64"));
    assert!(r.release.all_in_arch_indices);
}

#[test]
fn index_parses_completely() {
    let Some(r) = reference() else { return };
    assert!(r.index.len() > 50_000, "only {} packages", r.index.len());
    for p in &r.index.packages {
        assert!(
            p.architecture == "arm64" || p.architecture == "all",
            "{} is {}",
            p.name,
            p.architecture
        );
        assert!(p.filename.starts_with("pool/"), "{}", p.filename);
        // Every dependency field of the archive parses.
        manywheel_target::packages::parse_dependencies(&p.depends).unwrap();
        manywheel_target::packages::parse_dependencies(&p.pre_depends).unwrap();
    }
    let libc = r.index.get("libc6").unwrap();
    assert!(libc.version.starts_with("2.36-"), "{}", libc.version);
    assert_eq!(libc.multi_arch, "same");
}

#[test]
fn python3_closure_for_arm64() {
    let Some(r) = reference() else { return };
    let closure = r.index.resolve(&["python3"], "arm64").unwrap();
    let names: BTreeMap<&str, &str> = closure
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(names.len(), closure.len(), "a package chosen twice");
    for needed in [
        "python3",
        "python3.11",
        "python3.11-minimal",
        "libpython3.11-minimal",
        "libpython3.11-stdlib",
        "libc6",
        "libssl3",
        "libexpat1",
        "zlib1g",
        "libffi8",
        "libsqlite3-0",
        "media-types",
        "libzstd1",
    ] {
        assert!(
            names.contains_key(needed),
            "{needed} missing from {names:?}"
        );
    }
    // Roots come first, each package after one that needs it.
    assert_eq!(closure[0].name, "python3");
    // Bounded: no accidental pull of a whole desktop.
    assert!(closure.len() < 80, "{} packages", closure.len());
    // Closed: every dependency group has a member in the set.
    let again = r
        .index
        .resolve(&names.keys().copied().collect::<Vec<_>>(), "arm64")
        .unwrap();
    assert_eq!(again.len(), closure.len());
    // Extra packages and virtual names resolve too.
    let with = r
        .index
        .resolve(&["python3", "python3-venv", "awk"], "arm64")
        .unwrap();
    assert!(with.iter().any(|p| p.name == "python3-pip-whl"));
    assert!(with.iter().any(|p| p.name == "mawk" || p.name == "gawk"));
}

#[test]
fn version_order_agrees_with_dpkg() {
    let Some(r) = reference() else { return };
    if Command::new("dpkg").arg("--version").output().is_err() {
        eprintln!("SKIPPED: dpkg not installed");
        return;
    }
    // A deterministic spread of real versions, compared pairwise in one shell run.
    let versions: Vec<&str> = r
        .index
        .packages
        .iter()
        .step_by(r.index.len() / 150)
        .map(|p| p.version.as_str())
        .chain([
            "1.0~rc1",
            "1.0",
            "1:0.9",
            "1.0+b1",
            "2.36-9+deb12u4",
            "2.36-9+deb12u10",
        ])
        .collect();
    let mut script = String::new();
    let mut expected = Vec::new();
    for w in versions.windows(2) {
        script.push_str(&format!(
            "if dpkg --compare-versions '{0}' lt '{1}'; then echo lt; elif dpkg --compare-versions '{0}' eq '{1}'; then echo eq; else echo gt; fi\n",
            w[0], w[1]
        ));
        expected.push(match version::compare(w[0], w[1]) {
            std::cmp::Ordering::Less => "lt",
            std::cmp::Ordering::Equal => "eq",
            std::cmp::Ordering::Greater => "gt",
        });
    }
    let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    let got: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "{} vs {}", versions[i], versions[i + 1]);
    }
}

/// One line of `dpkg-deb -c`: (type char + permissions, size, path, link).
fn dpkg_listing(deb: &Path) -> Vec<(String, u64, String, Option<String>)> {
    let out = Command::new("dpkg-deb")
        .arg("-c")
        .arg(deb)
        .output()
        .unwrap();
    assert!(out.status.success(), "dpkg-deb -c {}", deb.display());
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|line| {
            // perms owner size date time path...
            let mut rest = line;
            let mut fields = Vec::new();
            for _ in 0..5 {
                rest = rest.trim_start();
                let end = rest.find(' ').unwrap();
                fields.push(&rest[..end]);
                rest = &rest[end..];
            }
            let rest = rest.trim_start();
            let (path, link) = if let Some((p, l)) = rest.split_once(" -> ") {
                (p, Some(l.to_string()))
            } else if let Some((p, l)) = rest.split_once(" link to ") {
                (p, Some(l.to_string()))
            } else {
                (rest, None)
            };
            (
                fields[0].to_string(),
                fields[2].parse().unwrap(),
                path.trim_end_matches('/').to_string(),
                link,
            )
        })
        .collect()
}

fn perm_string(kind: Kind, mode: u32) -> String {
    let mut s = String::from(match kind {
        Kind::Dir => 'd',
        Kind::Symlink => 'l',
        Kind::HardLink => 'h',
        Kind::File => '-',
        Kind::Special => '?',
    });
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (i, (bit, c)) in bits.iter().enumerate() {
        let set = mode & bit != 0;
        let special = match i {
            2 => mode & 0o4000 != 0,
            5 => mode & 0o2000 != 0,
            8 => mode & 0o1000 != 0,
            _ => false,
        };
        s.push(match (set, special, i) {
            (true, true, 8) => 't',
            (false, true, 8) => 'T',
            (true, true, _) => 's',
            (false, true, _) => 'S',
            (true, false, _) => *c,
            (false, false, _) => '-',
        });
    }
    s
}

#[test]
fn real_packages_list_and_unpack_like_dpkg_deb() {
    let Some(r) = reference() else { return };
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        eprintln!("SKIPPED: dpkg-deb not installed");
        return;
    }
    let cache = common::shared_cache();
    let wanted = ["libzstd1", "libc6", "tzdata", "libpython3.11-stdlib"];
    let pkgs: Vec<_> = wanted.iter().map(|n| r.index.get(n).unwrap()).collect();
    let debs = fetch_debs(&cache, &r.mirror, &pkgs, 4, &Progress::quiet()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for (name, path) in wanted.iter().zip(&debs) {
        let ours: Vec<_> = deb::list(path)
            .unwrap()
            .into_iter()
            .map(|e| {
                (
                    perm_string(e.kind, e.mode),
                    if e.kind == Kind::File { e.size } else { 0 },
                    e.path.trim_end_matches('/').to_string(),
                    e.link,
                )
            })
            .collect();
        let theirs = dpkg_listing(path);
        assert_eq!(ours.len(), theirs.len(), "{name}: member count");
        for (o, t) in ours.iter().zip(&theirs) {
            assert_eq!(o, t, "{name}");
        }
        // Unpack into a root of its own and check every member landed.
        let root = tmp.path().join(name);
        let mut writer = RootWriter::new(&root).unwrap();
        deb::unpack(path, &mut writer).unwrap();
        writer.finish().unwrap();
        for (perms, size, member, link) in &theirs {
            let inside = Path::new(member.trim_start_matches("./"));
            if inside.as_os_str().is_empty() {
                continue;
            }
            let host = manywheel_target::unpack::resolve_path(&root, &Path::new("/").join(inside));
            match perms.chars().next() {
                Some('-') => {
                    let host = host.unwrap();
                    let meta = fs::metadata(&host).unwrap();
                    assert_eq!(meta.len(), *size, "{name}: {member}");
                    assert_eq!(
                        meta.permissions().mode() & 0o555,
                        perms_bits(perms) & 0o555,
                        "{name}: {member}"
                    );
                }
                Some('d') => assert!(host.unwrap().is_dir(), "{name}: {member}"),
                Some('l') => {
                    // The link itself exists (its parent resolved inside the root); absolute
                    // targets were made relative.
                    let parent = inside.parent().unwrap();
                    let parent =
                        manywheel_target::unpack::resolve_path(&root, &Path::new("/").join(parent))
                            .unwrap();
                    let file = parent.join(inside.file_name().unwrap());
                    let target = fs::read_link(&file).unwrap();
                    assert!(target.is_relative(), "{name}: {member} -> {target:?}");
                    if !link.as_deref().unwrap().starts_with('/') {
                        assert_eq!(target.to_str(), link.as_deref(), "{name}: {member}");
                    }
                }
                _ => {}
            }
        }
    }
    // libc6's loader is reachable through the merged-/usr link and the absolute-link rewrite.
    let libc_root = tmp.path().join("libc6");
    let loader = libc_root.join("lib/ld-linux-aarch64.so.1");
    assert!(loader.exists(), "{}", loader.display());
}

fn perms_bits(perms: &str) -> u32 {
    perms[1..]
        .chars()
        .enumerate()
        .filter(|(_, c)| *c != '-' && *c != 'S' && *c != 'T')
        .map(|(i, _)| 1 << (8 - i))
        .sum()
}
