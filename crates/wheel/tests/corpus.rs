//! Real wheels from PyPI, when a corpus folder is present: `$MANYWHEEL_CORPUS`, default
//! `~/.cache/manywheel-corpus`. Skipped (with a message) when the folder is missing.

use std::path::PathBuf;

use manywheel_wheel::{hash_digest, Wheel};
use rayon::prelude::*;

fn corpus() -> Option<Vec<PathBuf>> {
    let dir = match std::env::var_os("MANYWHEEL_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/manywheel-corpus"),
    };
    let Ok(read) = std::fs::read_dir(&dir) else {
        eprintln!("skipping: no wheel corpus at {}", dir.display());
        return None;
    };
    let mut wheels: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    wheels.sort();
    if wheels.is_empty() {
        eprintln!("skipping: no *.whl in {}", dir.display());
        return None;
    }
    Some(wheels)
}

/// Opens every corpus wheel and reads every member, verifying CRC and RECORD.
#[test]
fn corpus_wheels_open_and_verify() {
    let Some(wheels) = corpus() else { return };
    let failures: Vec<String> = wheels
        .par_iter()
        .filter_map(|path| {
            let check = || -> Result<usize, manywheel_wheel::Error> {
                let w = Wheel::open(path)?;
                assert_eq!(
                    w.filename().to_string(),
                    path.file_name().unwrap().to_str().unwrap()
                );
                assert!(
                    !w.metadata().tags.is_empty(),
                    "{}: no Tag lines",
                    path.display()
                );
                let mut n = 0;
                for m in w.members().iter().filter(|m| !m.is_dir()) {
                    // read_member verifies CRC-32, size and the RECORD digest.
                    let data = w.read_member(&m.name)?;
                    assert_eq!(data.len() as u64, m.size);
                    // Cross-check the verification itself on small members.
                    if data.len() < 4096 {
                        if let Some((algo, digest)) =
                            w.record_entry(&m.name).and_then(|e| e.hash.as_ref())
                        {
                            if algo == "sha256" {
                                assert_eq!(&hash_digest(&data), digest.trim_end_matches('='));
                            }
                        }
                    }
                    let prefix = w.read_prefix(&m.name, 4)?;
                    assert_eq!(prefix, data[..data.len().min(4)]);
                    n += 1;
                }
                Ok(n)
            };
            match check() {
                Ok(n) => {
                    eprintln!("ok {} ({n} members)", path.display());
                    None
                }
                Err(e) => Some(e.to_string()),
            }
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{} corpus wheels verified", wheels.len());
}

/// Reads all members of a many-member corpus wheel concurrently with rayon (each read verifies
/// its CRC and RECORD digest), and checks the sizes and prefixes.
#[test]
fn corpus_parallel_member_reads() {
    let Some(wheels) = corpus() else { return };
    // The wheel with the most members among the smaller ones (keeps debug builds quick).
    let Some(w) = wheels
        .iter()
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() < 8 << 20))
        .filter_map(|p| Wheel::open(p).ok())
        .max_by_key(|w| w.members().len())
    else {
        panic!("no corpus wheel opens");
    };
    let members: Vec<_> = w.members().iter().filter(|m| !m.is_dir()).collect();
    let sizes: Vec<u64> = members
        .par_iter()
        .map(|m| {
            let data = w.read_member(&m.name).unwrap();
            assert_eq!(
                w.read_prefix(&m.name, 16).unwrap(),
                data[..data.len().min(16)]
            );
            data.len() as u64
        })
        .collect();
    let expected: Vec<u64> = members.iter().map(|m| m.size).collect();
    assert_eq!(sizes, expected);
    eprintln!(
        "{}: {} members read in parallel",
        w.path().display(),
        members.len()
    );
}
