//! The reproducible writer: a rewritten wheel opens and verifies, is bit-identical when written
//! twice, passes Python's zipfile check, and a failed write leaves nothing behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use manywheel_wheel::{write_wheel, OutMember, Source, Wheel, WriteOptions};

fn corpus() -> Vec<PathBuf> {
    let dir = std::env::var_os("MANYWHEEL_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/manywheel-corpus")
        });
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "whl"));
    v.sort();
    v
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/wheels/spam-1.0-cp311-cp311-linux_x86_64.whl")
}

/// Rewrite `src` into `dest`, all members raw except a changed WHEEL.
fn rewrite(src: &Wheel, dest: &Path, epoch: u64) {
    let record = format!("{}/RECORD", src.dist_info());
    let wheel_file = format!("{}/WHEEL", src.dist_info());
    let members = src
        .members()
        .iter()
        .filter(|m| !m.is_dir() && m.name != record)
        .map(|m| OutMember {
            name: m.name.clone(),
            executable: m.unix_mode.is_some_and(|x| x & 0o111 != 0),
            source: if m.name == wheel_file {
                let text = String::from_utf8(src.read_member(&m.name).unwrap()).unwrap();
                // Headers end at the first blank line: add the tag before any.
                let text = format!(
                    "{}\nTag: cp311-cp311-manylinux_2_99_x86_64\n",
                    text.trim_end()
                );
                Source::Bytes(text.into_bytes())
            } else {
                Source::Raw {
                    wheel: src,
                    member: m.name.clone(),
                }
            },
        })
        .collect();
    write_wheel(
        dest,
        members,
        src.dist_info(),
        WriteOptions { epoch, level: 6 },
    )
    .unwrap();
}

#[test]
fn rewritten_wheels_verify_and_are_reproducible() {
    let mut inputs = vec![example()];
    inputs.extend(corpus().into_iter().take(6));
    let dir = tempfile::tempdir().unwrap();
    for input in inputs {
        let src = Wheel::open(&input).unwrap();
        let name = input.file_name().unwrap();
        let a = dir.path().join("a").join(name);
        let b = dir.path().join("b").join(name);
        std::fs::create_dir_all(a.parent().unwrap()).unwrap();
        std::fs::create_dir_all(b.parent().unwrap()).unwrap();
        rewrite(&src, &a, 1_700_000_000);
        rewrite(&src, &b, 1_700_000_000);
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "not reproducible: {}",
            input.display()
        );

        let out = Wheel::open(&a).unwrap();
        for m in out.members() {
            let data = out.read_member(&m.name).unwrap();
            if !m.name.ends_with("/WHEEL") && !m.name.ends_with("/RECORD") {
                assert_eq!(data, src.read_member(&m.name).unwrap(), "{}", m.name);
            }
        }
        assert!(out
            .metadata()
            .tags
            .iter()
            .any(|t| t.ends_with("manylinux_2_99_x86_64")));
        // RECORD is the last member, dist-info after everything else.
        assert!(out.members().last().unwrap().name.ends_with("/RECORD"));
        // Python's zipfile agrees (CRC of every member, central directory).
        let st = Command::new("python3")
            .arg("-c")
            .arg(
                "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None",
            )
            .arg(&a)
            .status()
            .unwrap();
        assert!(st.success(), "zipfile rejects {}", a.display());
        // A different epoch changes the bytes (timestamps are really written).
        let c = dir.path().join("c.whl");
        rewrite(&src, &c, 1_600_000_000);
        assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
    }
}

#[test]
fn failed_writes_leave_nothing() {
    let src = Wheel::open(&example()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out.whl");
    let members = vec![OutMember {
        name: "x.py".into(),
        executable: false,
        source: Source::Raw {
            wheel: &src,
            member: "no/such/member".into(),
        },
    }];
    assert!(write_wheel(&dest, members, src.dist_info(), WriteOptions::from_env()).is_err());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "partial output left"
    );

    let dup = vec![
        OutMember {
            name: "a".into(),
            executable: false,
            source: Source::Bytes(vec![1]),
        },
        OutMember {
            name: "a".into(),
            executable: false,
            source: Source::Bytes(vec![2]),
        },
    ];
    assert!(write_wheel(&dest, dup, src.dist_info(), WriteOptions::from_env()).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
