//! `parse_sparse` on an image holding only `needed_ranges` gives exactly what `parse` gives on
//! the whole file, and a read outside the ranges is refused rather than answered with zeros.

use std::ops::Range;
use std::path::Path;

fn files() -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for dir in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/aarch64-linux-gnu/lib",
        "/usr/powerpc64le-linux-gnu/lib",
        "/usr/s390x-linux-gnu/lib",
        "/usr/arm-linux-gnueabihf/lib",
        "/usr/i686-linux-gnu/lib",
        "/usr/riscv64-linux-gnu/lib",
    ] {
        for lib in ["libc.so.6", "libstdc++.so.6", "libm.so.6"] {
            let p = Path::new(dir).join(lib);
            if p.exists() {
                out.push(p.canonicalize().unwrap());
            }
        }
    }
    for exe in ["/usr/bin/python3.11", "/usr/bin/git", "/usr/bin/ls"] {
        if Path::new(exe).exists() {
            out.push(Path::new(exe).canonicalize().unwrap());
        }
    }
    out
}

fn image(data: &[u8], ranges: &[Range<u64>]) -> Vec<u8> {
    let mut img = vec![0u8; data.len()];
    for r in ranges {
        let (a, b) = (r.start as usize, (r.end as usize).min(data.len()));
        img[a..b].copy_from_slice(&data[a..b]);
    }
    img
}

#[test]
fn sparse_parse_equals_full_parse() {
    let files = files();
    assert!(files.len() >= 5, "too few ELF files found: {files:?}");
    let mut saved_somewhere = false;
    for path in files {
        let data = std::fs::read(&path).unwrap();
        let full = manywheel_elf::parse(&data).unwrap();
        // The program headers are in the first kilobytes.
        assert_eq!(
            manywheel_elf::needed_ranges(&data[..40], data.len() as u64)
                .ok()
                .flatten(),
            None
        );
        let ranges =
            manywheel_elf::needed_ranges(&data[..data.len().min(64 << 10)], data.len() as u64)
                .unwrap()
                .unwrap();
        let kept: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        saved_somewhere |= kept < data.len() as u64 / 2;
        let sparse = manywheel_elf::parse_sparse(&image(&data, &ranges), &ranges)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(sparse, full, "{}", path.display());

        // Drop the range holding the dynamic section: the parse must fail, not read zeros.
        if full.is_dynamic && ranges.len() > 1 {
            for i in 1..ranges.len() {
                let mut fewer = ranges.clone();
                fewer.remove(i);
                if let Ok(got) = manywheel_elf::parse_sparse(&image(&data, &fewer), &fewer) {
                    assert_eq!(
                        got,
                        full,
                        "{}: range {i} dropped gave a different answer",
                        path.display()
                    );
                }
            }
        }
    }
    assert!(saved_somewhere, "no file had its code segment dropped");
}
