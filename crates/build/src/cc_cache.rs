//! A compiler cache for the builds: `manywheel __cc -- COMPILER ARGS...` compiles one source
//! file to an object, or copies the object of an identical earlier compilation.
//!
//! The key is the SHA-256 of: the salt (`MANYWHEEL_CC_SALT`, set by the build to the target's
//! name, its sysroot tree digest, the build mode and the compiler's `--version` line), the
//! compiler command, every argument, the working directory and the preprocessed source (`-E`
//! with the same arguments, so every header the source includes — from the sysroot or the
//! project — is part of the key). Builds run in a stable folder per project and cell, so a
//! second build of an unchanged project has the same paths and hits.
//!
//! Only plain compilations are cached: `-c`, one source file, `-o FILE`, no dependency-file,
//! coverage, `-save-temps` or response-file options. Everything else (links, probes) runs the
//! compiler unchanged. Objects are stored under `MANYWHEEL_CC_CACHE` (written to a temporary
//! name and renamed, so concurrent builds never see half an object); each call appends `hit`,
//! `miss` or `pass` to `MANYWHEEL_CC_LOG` for the provenance record.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

/// Environment variables the build sets for the wrapper.
pub const ENV_DIR: &str = "MANYWHEEL_CC_CACHE";
pub const ENV_SALT: &str = "MANYWHEEL_CC_SALT";
pub const ENV_LOG: &str = "MANYWHEEL_CC_LOG";

const SOURCE_EXTENSIONS: &[&str] = &["c", "cc", "cpp", "cxx", "c++", "C", "m", "mm"];
const UNCACHEABLE: &[&str] = &[
    "-M",
    "-MM",
    "-MD",
    "-MMD",
    "-MF",
    "-MT",
    "-MQ",
    "-MG",
    "-MP",
    "-E",
    "-S",
    "-save-temps",
    "--coverage",
    "-fprofile-arcs",
    "-ftest-coverage",
    "-",
];

/// Hits and misses of one build, read back from the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub hits: usize,
    pub misses: usize,
    /// Calls that were not plain compilations (links, probes), run unchanged.
    pub uncached: usize,
}

impl Stats {
    pub fn read(log: &Path) -> Stats {
        let mut s = Stats::default();
        for l in fs::read_to_string(log).unwrap_or_default().lines() {
            match l.split(' ').next() {
                Some("hit") => s.hits += 1,
                Some("miss") => s.misses += 1,
                Some("pass") => s.uncached += 1,
                _ => {}
            }
        }
        s
    }
}

/// What a compiler command line does, as far as caching is concerned.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    source: String,
    output: String,
    /// The arguments for `-E` (without `-c` and `-o FILE`).
    preprocess: Vec<String>,
}

fn plan(args: &[String]) -> Option<Plan> {
    let mut compile = false;
    let mut output = None;
    let mut sources = Vec::new();
    let mut preprocess = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if UNCACHEABLE.contains(&a.as_str()) || a.starts_with("-Wp,") || a.starts_with('@') {
            return None;
        }
        match a.as_str() {
            "-c" => compile = true,
            "-o" => {
                output = Some(args.get(i + 1)?.clone());
                i += 2;
                continue;
            }
            // Options whose next argument is a path or value, never a source.
            "-I" | "-isystem" | "-iquote" | "-idirafter" | "-include" | "-imacros" | "-D"
            | "-U" | "-x" | "-L" | "-l" | "-MF" | "-MT" | "-MQ" | "--sysroot" | "-B"
            | "-Xlinker" | "-Xassembler" | "-Xpreprocessor" | "-arch" | "-target" => {
                preprocess.push(a.clone());
                preprocess.push(args.get(i + 1)?.clone());
                i += 2;
                continue;
            }
            _ if a.starts_with("-o") && a.len() > 2 => output = Some(a[2..].to_string()),
            _ if !a.starts_with('-')
                && Path::new(a)
                    .extension()
                    .is_some_and(|e| SOURCE_EXTENSIONS.contains(&e.to_string_lossy().as_ref())) =>
            {
                sources.push(a.clone());
                preprocess.push(a.clone());
            }
            _ => preprocess.push(a.clone()),
        }
        i += 1;
    }
    if !compile || sources.len() != 1 {
        return None;
    }
    Some(Plan {
        source: sources.remove(0),
        output: output?,
        preprocess,
    })
}

fn log(line: &str) {
    if let Some(path) = std::env::var_os(ENV_LOG) {
        if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Run the compiler unchanged; its exit code.
fn passthrough(compiler: &str, args: &[String]) -> i32 {
    match Command::new(compiler).args(args).status() {
        Ok(s) => s.code().unwrap_or(1),
        Err(e) => {
            eprintln!("manywheel __cc: cannot run {compiler}: {e}");
            127
        }
    }
}

/// `manywheel __cc -- COMPILER ARGS...`: the exit code to exit with.
pub fn main(argv: &[OsString]) -> i32 {
    let argv: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let argv: &[String] = match argv.first().map(String::as_str) {
        Some("--") => &argv[1..],
        _ => &argv,
    };
    let Some((compiler, args)) = argv.split_first() else {
        eprintln!("usage: manywheel __cc -- COMPILER ARGS...");
        return 2;
    };
    let dir = std::env::var_os(ENV_DIR).map(PathBuf::from);
    let (Some(dir), Some(p)) = (dir, plan(args)) else {
        log("pass");
        return passthrough(compiler, args);
    };
    match cached(compiler, args, &p, &dir) {
        Ok(code) => code,
        Err(e) => {
            // The cache must never break a build: compile as if it were not there.
            eprintln!("manywheel __cc: cache not used: {e}");
            log("pass");
            passthrough(compiler, args)
        }
    }
}

fn cached(compiler: &str, args: &[String], p: &Plan, dir: &Path) -> Result<i32, String> {
    let pre = Command::new(compiler)
        .args(&p.preprocess)
        .arg("-E")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("{compiler} -E: {e}"))?;
    if !pre.status.success() {
        // Let the real compilation report the error.
        log("pass");
        return Ok(passthrough(compiler, args));
    }
    let mut h = Sha256::new();
    h.update(b"manywheel-cc-cache 1\0");
    h.update(std::env::var(ENV_SALT).unwrap_or_default().as_bytes());
    h.update(b"\0");
    h.update(compiler.as_bytes());
    for a in args {
        h.update(b"\0");
        h.update(a.as_bytes());
    }
    h.update(b"\0cwd\0");
    h.update(
        std::env::current_dir()
            .map_err(|e| format!("working folder: {e}"))?
            .to_string_lossy()
            .as_bytes(),
    );
    h.update(b"\0source\0");
    h.update(&pre.stdout);
    let key: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let entry = dir.join(&key[..2]).join(&key);
    let object = entry.with_extension("o");
    let messages = entry.with_extension("stderr");
    if object.is_file() {
        fs::copy(&object, &p.output).map_err(|e| format!("{}: {e}", p.output))?;
        if let Ok(text) = fs::read(&messages) {
            let _ = std::io::stderr().write_all(&text);
        }
        log(&format!("hit {}", p.source));
        return Ok(0);
    }
    let out = Command::new(compiler)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{compiler}: {e}"))?;
    let _ = std::io::stderr().write_all(&out.stderr);
    let code = out.status.code().unwrap_or(1);
    if code != 0 {
        log(&format!("fail {}", p.source));
        return Ok(code);
    }
    log(&format!("miss {}", p.source));
    let parent = entry.parent().expect("has a parent");
    fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    // Object last: its presence means the entry is complete.
    for (from, to) in [(None, &messages), (Some(Path::new(&p.output)), &object)] {
        let tmp = parent.join(format!(".tmp-{}-{key}", std::process::id()));
        match from {
            Some(f) => fs::copy(f, &tmp).map(|_| ()),
            None => fs::write(&tmp, &out.stderr),
        }
        .and_then(|()| fs::rename(&tmp, to))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("{}: {e}", to.display())
        })?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn plain_compilations_are_cached_links_and_probes_are_not() {
        let p = plan(&words("-O2 -fPIC -I/x/include -c src/a.c -o build/a.o")).unwrap();
        assert_eq!(p.source, "src/a.c");
        assert_eq!(p.output, "build/a.o");
        assert_eq!(p.preprocess, words("-O2 -fPIC -I/x/include src/a.c"));
        let p = plan(&words("-c -obuild/b.o -x c++ b.cpp")).unwrap();
        assert_eq!(
            (p.source.as_str(), p.output.as_str()),
            ("b.cpp", "build/b.o")
        );
        // links, several sources, no -o, dependency files, response files, stdin
        for s in [
            "-shared a.o -o a.so",
            "-c a.c b.c -o x.o",
            "-c a.c",
            "-c a.c -o a.o -MD -MF a.d",
            "-c a.c -o a.o @rsp",
            "-c - -o a.o",
            "-c a.c -o a.o -Wp,-MD,a.d",
            "-E a.c -o a.i",
        ] {
            assert_eq!(plan(&words(s)), None, "{s}");
        }
    }

    #[test]
    fn stats_count_the_log() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log");
        fs::write(&log, "miss a.c\nhit b.c\nhit c.c\npass\nfail d.c\n").unwrap();
        assert_eq!(
            Stats::read(&log),
            Stats {
                hits: 2,
                misses: 1,
                uncached: 1
            }
        );
    }
}
