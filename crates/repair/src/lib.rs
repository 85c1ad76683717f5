//! Repair wheels the way the manylinux/musllinux policies require: graft the external libraries
//! an audit found into `<name>.libs/` under hashed names, point every dependent at them with our
//! own ELF patcher, rewrite the platform tags, regenerate RECORD and write the result
//! reproducibly and atomically. Works for any architecture from any host: libraries come from
//! the target root the audit searched.

mod sbom;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use manywheel_audit::{audit_wheel, AuditOptions, Reason, WheelReport};
use manywheel_elf::{Patch, RpathChange, RpathKind};
use manywheel_policy::{Arch, Libc, PolicySet};
use manywheel_wheel::{write_wheel, OutMember, Source, Wheel, WheelFilename, WriteOptions};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// How to repair.
#[derive(Debug, Clone)]
pub struct RepairOptions {
    pub audit: AuditOptions,
    /// A policy name, alias or tag for the wheel's architecture; `None` or "auto": the most
    /// compatible policy grafting can reach.
    pub plat: Option<String>,
    /// The wheelhouse.
    pub out_dir: PathBuf,
    /// Only the requested tag, not also the more compatible ones the wheel satisfies.
    pub only_plat: bool,
    /// Remove debugging sections and the static symbol table from the grafted libraries (our
    /// own code, like `strip -s`; nothing that is loaded changes).
    pub strip: bool,
    pub write: WriteOptions,
}

/// One grafted library.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct Grafted {
    /// The `DT_NEEDED` name it replaces.
    pub soname: String,
    /// Its path inside the repaired wheel.
    pub member: String,
    /// Where it was copied from.
    pub source: String,
    pub size: u64,
    /// Bytes `--strip` removed from it (0 without `--strip`).
    pub stripped: u64,
}

/// What a repair did.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct RepairOutcome {
    pub input: String,
    pub output: String,
    /// The policy repaired to.
    pub policy: String,
    /// The platform tags of the output's file name.
    pub platform_tags: Vec<String>,
    pub grafted: Vec<Grafted>,
    /// Wheel members whose ELF was patched.
    pub patched: Vec<String>,
    /// The input needed no change and was copied as it is.
    pub unchanged: bool,
}

/// Why a repair could not be made. Nothing is written to the wheelhouse when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error(transparent)]
    Audit(#[from] manywheel_audit::AuditError),
    #[error(transparent)]
    Wheel(#[from] manywheel_wheel::Error),
    /// The wheel cannot meet the request (a check failed).
    #[error("{wheel}: {reason}")]
    Refused { wheel: String, reason: String },
    /// The request or the input is unusable (unknown policy, pure wheel, bad policy file).
    #[error("{wheel}: {reason}")]
    Input { wheel: String, reason: String },
    #[error("{wheel}: patching {member}: {source}")]
    Patch {
        wheel: String,
        member: String,
        source: manywheel_elf::PatchError,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn bad_input(wheel: &str, reason: impl Into<String>) -> RepairError {
    RepairError::Input {
        wheel: wheel.to_string(),
        reason: reason.into(),
    }
}

fn refused(wheel: &str, reason: impl Into<String>) -> RepairError {
    RepairError::Refused {
        wheel: wheel.to_string(),
        reason: reason.into(),
    }
}

/// `libfoo.so.1.2` with hash `0123abcd…` → `libfoo-0123abcd.so.1.2` (kept when already hashed).
fn hashed_name(file_name: &str, short: &str) -> String {
    match file_name.split_once('.') {
        Some((base, _)) if base.ends_with(&format!("-{short}")) => file_name.to_string(),
        Some((base, ext)) => format!("{base}-{short}.{ext}"),
        None => format!("{file_name}-{short}"),
    }
}

/// Relative path from directory `from` to directory `to`, both wheel-relative ("" = top).
fn relative_dir(from: &str, to: &str) -> String {
    let f: Vec<&str> = from.split('/').filter(|s| !s.is_empty()).collect();
    let t: Vec<&str> = to.split('/').filter(|s| !s.is_empty()).collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; f.len() - common];
    parts.extend(&t[common..]);
    parts.join("/")
}

/// Whether an RPATH entry of the member in directory `dir` points inside the wheel.
fn stays_in_wheel(entry: &str, dir: &str) -> bool {
    let Some(rest) = entry
        .strip_prefix("$ORIGIN")
        .or_else(|| entry.strip_prefix("${ORIGIN}"))
    else {
        return false;
    };
    let mut depth: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            p => depth.push(p),
        }
    }
    true
}

fn parent_dir(member: &str) -> &str {
    member.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

/// The tags to write: the requested policy's (and aliases), preceded, unless `only_plat`, by
/// the more compatible policy the wheel reaches.
fn target_tags(
    report: &WheelReport,
    policies: &PolicySet,
    arch: Arch,
    plat: Option<&str>,
    only_plat: bool,
) -> Result<(String, Vec<String>), RepairError> {
    let limits = report.limits.as_ref().expect("platform wheel has limits");
    let best = policies
        .get(&limits.with_grafting)
        .expect("limit is a policy of the set");
    let requested = match plat.filter(|p| *p != "auto") {
        None => {
            if best.is_linux() {
                return Err(refused(
                    &report.wheel,
                    format!(
                        "no manylinux/musllinux policy can be reached: {}",
                        blockers(
                            report,
                            &policies.lowest().map(|p| p.tag(arch)).unwrap_or_default()
                        )
                    ),
                ));
            }
            best
        }
        Some(name) => {
            let policy = policies.get(name).ok_or_else(|| {
                bad_input(
                    &report.wheel,
                    format!(
                        "{name:?} is not a policy for this {} {} wheel (known: {})",
                        report.libc.as_deref().unwrap_or("?"),
                        arch.name(),
                        policies
                            .policies()
                            .iter()
                            .filter(|p| !p.is_linux())
                            .map(|p| p.tag(arch))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            if policy.priority > best.priority {
                return Err(refused(
                    &report.wheel,
                    format!(
                        "cannot repair to {}: the best reachable is {}; {}",
                        policy.tag(arch),
                        best.tag(arch),
                        blockers(report, &policy.tag(arch))
                    ),
                ));
            }
            policy
        }
    };
    let mut tags = Vec::new();
    if !only_plat && best.priority > requested.priority {
        tags.push(best.tag(arch));
        tags.extend(best.alias_tags(arch));
    }
    tags.push(requested.tag(arch));
    tags.extend(requested.alias_tags(arch));
    Ok((tags[0].clone(), tags))
}

/// What (other than external libraries) keeps the wheel from `tag`, in one line.
fn blockers(report: &WheelReport, tag: &str) -> String {
    let Some(why) = report.why_not.iter().find(|w| w.tag == tag) else {
        return "see `manywheel show`".into();
    };
    let mut parts = Vec::new();
    for r in &why.reasons {
        match r {
            Reason::SymbolVersion {
                library,
                version,
                files,
            } => {
                for f in files {
                    let syms: Vec<String> =
                        f.symbols.iter().map(|s| format!("{s}@{version}")).collect();
                    parts.push(format!(
                        "{} needs {} from {library}",
                        f.file,
                        syms.join(", ")
                    ));
                }
            }
            Reason::ExternalLibrary { .. } => {}
            Reason::BlacklistedSymbols {
                library,
                file,
                symbols,
            } => parts.push(format!(
                "{file} uses blacklisted {} of {library}",
                symbols.join(", ")
            )),
            Reason::Isa { file, level } => parts.push(format!("{file} needs {level}")),
            Reason::ElfFlags { file, problem } => parts.push(format!("{file}: {problem}")),
            Reason::Pyfpe { file } => parts.push(format!("{file} references PyFPE_jbuf")),
            Reason::Ucs2 { file, .. } => parts.push(format!("{file} is built for UCS2 Python")),
        }
    }
    if parts.is_empty() {
        "see `manywheel show`".into()
    } else {
        parts.join("; ")
    }
}

/// Repair one wheel into `opts.out_dir`.
pub fn repair_wheel(input: &Path, opts: &RepairOptions) -> Result<RepairOutcome, RepairError> {
    let report = audit_wheel(input, &opts.audit)?;
    let wheel = Wheel::open(input)?;
    let name = report.wheel.clone();
    if report.pure {
        return Err(bad_input(
            &name,
            "a pure Python wheel has nothing to repair",
        ));
    }
    let arch = Arch::from_name(report.arch.as_deref().unwrap_or_default())
        .map_err(|e| bad_input(&name, e.to_string()))?;
    let libc = if report.libc.as_deref() == Some("musl") {
        Libc::Musl
    } else {
        Libc::Glibc
    };
    let policies = match &opts.audit.policy_json {
        Some(json) => {
            PolicySet::from_json(json, libc, arch).map_err(|e| bad_input(&name, e.to_string()))?
        }
        None => PolicySet::embedded(libc, arch),
    };
    let (graft_tag, tags) = target_tags(
        &report,
        &policies,
        arch,
        opts.plat.as_deref(),
        opts.only_plat,
    )?;
    let to_graft = report.grafts.get(&graft_tag).cloned().unwrap_or_default();

    // Read, hash and rename every library to graft.
    let filename = wheel.filename().clone();
    let libs_dir = format!("{}.libs", filename.name);
    let mut grafts: BTreeMap<String, (String, Vec<u8>, String)> = BTreeMap::new(); // soname -> (new name, data, source)
    let mut remove_needed: BTreeSet<String> = BTreeSet::new();
    for (soname, path) in &to_graft {
        if soname.starts_with("libpython") {
            remove_needed.insert(soname.clone());
            continue;
        }
        let Some(path) = path else {
            return Err(refused(
                &name,
                format!(
                    "library {soname} could not be located in {}; give the target's root with \
                     --sysroot (or --ldpaths), or --exclude it if the installing system provides it",
                    report.sysroot.as_deref().unwrap_or("the wheel (no --sysroot)")
                ),
            ));
        };
        let data = std::fs::read(path).map_err(|source| RepairError::Io {
            path: path.into(),
            source,
        })?;
        let short = format!("{:x}", Sha256::digest(&data))[..8].to_string();
        let file_name = Path::new(path)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| soname.clone());
        grafts.insert(
            soname.clone(),
            (hashed_name(&file_name, &short), data, path.clone()),
        );
    }
    let renames: Vec<(String, String)> = grafts
        .iter()
        .map(|(old, (new, _, _))| (old.clone(), new.clone()))
        .collect();

    // Patch the grafted libraries: new SONAME, grafted dependencies renamed, $ORIGIN search path.
    let patched_libs: Vec<(String, Vec<u8>, Grafted)> = grafts
        .par_iter()
        .map(|(soname, (new_name, data, origin))| {
            let mut stripped = 0;
            let stripped_data;
            let data = if opts.strip {
                let s = manywheel_elf::strip(data).map_err(|source| RepairError::Patch {
                    wheel: name.clone(),
                    member: origin.clone(),
                    source,
                })?;
                stripped = s.report.saved();
                stripped_data = s.data;
                &stripped_data
            } else {
                data
            };
            let elf = manywheel_elf::parse(data).map_err(|e| RepairError::Patch {
                wheel: name.clone(),
                member: origin.clone(),
                source: e.into(),
            })?;
            let replace: Vec<(String, String)> = renames
                .iter()
                .filter(|(old, _)| elf.needed.contains(old))
                .cloned()
                .collect();
            let patch = Patch {
                set_soname: Some(new_name.clone()),
                set_rpath: Some(if replace.is_empty() {
                    RpathChange::Remove
                } else {
                    RpathChange::Set {
                        path: "$ORIGIN".into(),
                        kind: RpathKind::Rpath,
                    }
                }),
                replace_needed: replace,
                remove_needed: remove_needed
                    .iter()
                    .filter(|n| elf.needed.contains(n))
                    .cloned()
                    .collect(),
                ..Patch::default()
            };
            let out = manywheel_elf::patch(data, &patch).map_err(|source| RepairError::Patch {
                wheel: name.clone(),
                member: origin.clone(),
                source,
            })?;
            let member = format!("{libs_dir}/{new_name}");
            let info = Grafted {
                soname: soname.clone(),
                member: member.clone(),
                source: origin.clone(),
                size: out.data.len() as u64,
                stripped,
            };
            Ok((member, out.data, info))
        })
        .collect::<Result<_, RepairError>>()?;

    // Patch the wheel's own ELF files that need a grafted library.
    let elf_members: Vec<&manywheel_audit::ElfSummary> = report.elf_files.iter().collect();
    let patched_members: Vec<(String, Vec<u8>)> = elf_members
        .par_iter()
        .filter(|e| {
            e.needed
                .iter()
                .any(|n| grafts.contains_key(n) || remove_needed.contains(n))
        })
        .map(|e| {
            let data = wheel.read_member(&e.path)?;
            let dir = parent_dir(&e.path);
            let mut rpath: Vec<String> = e
                .rpath
                .iter()
                .chain(&e.runpath)
                .filter(|r| stays_in_wheel(r, dir))
                .cloned()
                .collect();
            let ours = format!("$ORIGIN/{}", relative_dir(dir, &libs_dir));
            if !rpath.contains(&ours) {
                rpath.push(ours);
            }
            let patch = Patch {
                replace_needed: renames
                    .iter()
                    .filter(|(o, _)| e.needed.contains(o))
                    .cloned()
                    .collect(),
                remove_needed: remove_needed
                    .iter()
                    .filter(|n| e.needed.contains(n))
                    .cloned()
                    .collect(),
                set_rpath: Some(RpathChange::Set {
                    path: rpath.join(":"),
                    kind: RpathKind::Rpath,
                }),
                ..Patch::default()
            };
            let out = manywheel_elf::patch(&data, &patch).map_err(|source| RepairError::Patch {
                wheel: name.clone(),
                member: e.path.clone(),
                source,
            })?;
            Ok((e.path.clone(), out.data))
        })
        .collect::<Result<_, RepairError>>()?;

    // New platform tags: the old ones minus linux_<arch>, plus the targets, sorted.
    let linux_tag = format!("linux_{}", arch.name());
    let mut platform_tags: Vec<String> = filename
        .platform_tags
        .iter()
        .filter(|t| **t != linux_tag)
        .cloned()
        .collect();
    for t in &tags {
        if !platform_tags.contains(t) {
            platform_tags.push(t.clone());
        }
    }
    platform_tags.sort();
    let new_filename: WheelFilename = filename.with_platform_tags(platform_tags.clone());
    let out_path = opts.out_dir.join(new_filename.to_string());
    std::fs::create_dir_all(&opts.out_dir).map_err(|source| RepairError::Io {
        path: opts.out_dir.clone(),
        source,
    })?;

    let wheel_file = format!("{}/WHEEL", wheel.dist_info());
    let new_wheel_text = rewrite_wheel_tags(&wheel.read_member(&wheel_file)?, &tags, &linux_tag);
    let unchanged = patched_members.is_empty()
        && patched_libs.is_empty()
        && new_filename == filename
        && new_wheel_text.is_none();
    if unchanged {
        if std::fs::canonicalize(input).ok() != std::fs::canonicalize(&out_path).ok() {
            copy_atomic(input, &out_path)?;
        }
        return Ok(RepairOutcome {
            input: input.display().to_string(),
            output: out_path.display().to_string(),
            policy: graft_tag,
            platform_tags,
            grafted: Vec::new(),
            patched: Vec::new(),
            unchanged: true,
        });
    }

    let record = format!("{}/RECORD", wheel.dist_info());
    let skip: BTreeSet<String> = [
        record,
        format!("{}/RECORD.jws", wheel.dist_info()),
        format!("{}/RECORD.p7s", wheel.dist_info()),
    ]
    .into();
    let patched_map: BTreeMap<&str, &Vec<u8>> = patched_members
        .iter()
        .map(|(m, d)| (m.as_str(), d))
        .collect();
    let mut members: Vec<OutMember<'_>> = Vec::new();
    for m in wheel.members() {
        if m.is_dir() || skip.contains(&m.name) {
            continue;
        }
        let executable = m.unix_mode.is_some_and(|mode| mode & 0o111 != 0);
        let source = if let Some(data) = patched_map.get(m.name.as_str()) {
            Source::Bytes((*data).clone())
        } else if m.name == wheel_file && new_wheel_text.is_some() {
            Source::Bytes(new_wheel_text.clone().unwrap_or_default().into_bytes())
        } else {
            Source::Raw {
                wheel: &wheel,
                member: m.name.clone(),
            }
        };
        members.push(OutMember {
            name: m.name.clone(),
            source,
            executable,
        });
    }
    let grafted: Vec<Grafted> = patched_libs.iter().map(|(_, _, g)| g.clone()).collect();
    for (member, data, _) in patched_libs {
        members.push(OutMember {
            name: member,
            source: Source::Bytes(data),
            executable: true,
        });
    }
    if !grafted.is_empty() {
        let sbom = sbom::cyclonedx(&new_filename, &grafted);
        members.push(OutMember {
            name: format!("{}/sboms/manywheel.cdx.json", wheel.dist_info()),
            source: Source::Bytes(sbom.into_bytes()),
            executable: false,
        });
    }
    write_wheel(&out_path, members, wheel.dist_info(), opts.write)?;
    Ok(RepairOutcome {
        input: input.display().to_string(),
        output: out_path.display().to_string(),
        policy: graft_tag,
        platform_tags,
        grafted,
        patched: patched_members.into_iter().map(|(m, _)| m).collect(),
        unchanged: false,
    })
}

/// WHEEL with `Tag:` lines for the new platforms (the old `linux_<arch>` ones dropped);
/// `None` when nothing changes.
fn rewrite_wheel_tags(text: &[u8], platforms: &[String], linux_tag: &str) -> Option<String> {
    let text = String::from_utf8_lossy(text);
    let mut lines: Vec<String> = Vec::new();
    let mut old_tags: Vec<String> = Vec::new();
    let mut in_headers = true;
    let mut body = String::new();
    for line in text.split_inclusive('\n') {
        if in_headers && line.trim().is_empty() {
            in_headers = false;
        }
        if !in_headers {
            body.push_str(line);
            continue;
        }
        match line.split_once(':') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("tag") => {
                old_tags.push(v.trim().to_string())
            }
            _ => lines.push(line.trim_end_matches(['\r', '\n']).to_string()),
        }
    }
    let mut py_abi: Vec<String> = Vec::new();
    for t in &old_tags {
        let mut parts = t.rsplitn(2, '-');
        let _plat = parts.next();
        if let Some(pa) = parts.next() {
            if !py_abi.contains(&pa.to_string()) {
                py_abi.push(pa.to_string());
            }
        }
    }
    let mut new_tags: Vec<String> = old_tags
        .iter()
        .filter(|t| !t.ends_with(&format!("-{linux_tag}")))
        .cloned()
        .collect();
    for pa in &py_abi {
        for p in platforms {
            let t = format!("{pa}-{p}");
            if !new_tags.contains(&t) {
                new_tags.push(t);
            }
        }
    }
    if new_tags == old_tags {
        return None;
    }
    let mut out = String::new();
    for l in &lines {
        out.push_str(l);
        out.push('\n');
    }
    for t in &new_tags {
        out.push_str(&format!("Tag: {t}\n"));
    }
    out.push_str(&body);
    Some(out)
}

/// Copy a file so that the destination appears whole or not at all.
fn copy_atomic(from: &Path, to: &Path) -> Result<(), RepairError> {
    let io = |source| RepairError::Io {
        path: to.to_path_buf(),
        source,
    };
    let dir = to.parent().unwrap_or(Path::new("."));
    let tmp = tempfile_in(dir).map_err(io)?;
    std::fs::copy(from, &tmp).map_err(io)?;
    std::fs::rename(&tmp, to).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

fn tempfile_in(dir: &Path) -> std::io::Result<PathBuf> {
    let pid = std::process::id();
    for i in 0..1000u32 {
        let p = dir.join(format!(".manywheel-{pid}-{i}.whl.part"));
        if std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
            .is_ok()
        {
            return Ok(p);
        }
    }
    Err(std::io::Error::other("cannot create a temporary file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names() {
        assert_eq!(
            hashed_name("libzstd.so.1.5.4", "0123abcd"),
            "libzstd-0123abcd.so.1.5.4"
        );
        assert_eq!(
            hashed_name("libzstd-0123abcd.so.1.5.4", "0123abcd"),
            "libzstd-0123abcd.so.1.5.4"
        );
        assert_eq!(hashed_name("libx", "0123abcd"), "libx-0123abcd");
    }

    #[test]
    fn relative_dirs() {
        assert_eq!(relative_dir("pkg/sub", "pkg.libs"), "../../pkg.libs");
        assert_eq!(relative_dir("", "pkg.libs"), "pkg.libs");
        assert_eq!(relative_dir("pkg", "pkg.libs"), "../pkg.libs");
    }

    #[test]
    fn rpath_entries_inside_the_wheel() {
        assert!(stays_in_wheel("$ORIGIN/../pkg.libs", "pkg"));
        assert!(stays_in_wheel("${ORIGIN}", "pkg"));
        assert!(!stays_in_wheel("$ORIGIN/../../lib", "pkg"));
        assert!(!stays_in_wheel("/usr/lib", "pkg"));
    }

    #[test]
    fn wheel_tags_are_rewritten() {
        let text = b"Wheel-Version: 1.0\nGenerator: x\nRoot-Is-Purelib: false\nTag: cp311-cp311-linux_x86_64\n";
        let tags = vec![
            "manylinux_2_17_x86_64".to_string(),
            "manylinux2014_x86_64".to_string(),
        ];
        let out = rewrite_wheel_tags(text, &tags, "linux_x86_64").unwrap();
        assert_eq!(
            out,
            "Wheel-Version: 1.0\nGenerator: x\nRoot-Is-Purelib: false\n\
             Tag: cp311-cp311-manylinux_2_17_x86_64\nTag: cp311-cp311-manylinux2014_x86_64\n"
        );
        assert_eq!(
            rewrite_wheel_tags(out.as_bytes(), &tags, "linux_x86_64"),
            None
        );
    }
}
