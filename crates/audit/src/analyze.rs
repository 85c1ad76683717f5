//! Audit a wheel: read its ELF members, resolve their libraries, decide the most compatible
//! policy and explain every more compatible one it misses.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use manywheel_elf::{Binding, ElfFile};
use manywheel_policy::{Arch, Libc, PlatformTag, Policy, PolicySet};
use manywheel_wheel::Wheel;
use rayon::prelude::*;

use crate::lddtree::{DepTree, Location, Resolver};
use crate::report::{ElfSummary, FileSymbols, Limits, Reason, Upgrade, WheelReport, WhyNot};
use crate::root::Root;
use crate::{abi3, AuditError};

/// STT_FUNC.
const STT_FUNC: u8 = 2;
/// STT_NOTYPE.
const STT_NOTYPE: u8 = 0;

/// How to audit.
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// Where the target's libraries live; `None`: the host's `/` when the wheel's architecture
    /// and libc are the host's, else libraries outside the wheel are not looked up.
    pub sysroot: Option<PathBuf>,
    /// Directories that replace the system search directories (in-root paths).
    pub ldpaths: Option<Vec<PathBuf>>,
    /// A custom policy file (JSON text in the embedded format), per libc.
    pub policy_json: Option<String>,
    /// Skip the instruction-set level check.
    pub disable_isa_check: bool,
    /// Libraries (by `DT_NEEDED` name, shell-style globs) treated as provided by the installing
    /// system or another wheel: never external, never grafted, and what they need is not
    /// followed.
    pub exclude: Vec<glob::Pattern>,
}

impl AuditOptions {
    fn excluded(&self, name: &str) -> bool {
        self.exclude.iter().any(|p| p.matches(name))
    }
}

/// The libc and architecture of the machine running this program.
pub fn host_target() -> Option<(Libc, Arch)> {
    let arch = Arch::from_name(std::env::consts::ARCH).ok()?;
    let libc = if cfg!(target_env = "musl") {
        Libc::Musl
    } else {
        Libc::Glibc
    };
    Some((libc, arch))
}

/// One ELF member of the wheel.
struct Member {
    path: String,
    elf: Arc<ElfFile>,
    arch: Option<Arch>,
}

/// Python extension module kind of an ELF, from its exported init function.
fn extension_kind(path: &str, elf: &ElfFile) -> Option<u8> {
    let base = path.rsplit('/').next().unwrap_or(path);
    let module = base.split('.').next().unwrap_or(base);
    let candidates = [
        (format!("PyInit_{module}"), 3u8),
        (format!("init{module}"), 2),
        (format!("_cffi_pypyinit_{module}"), 2),
    ];
    elf.dynamic_symbols
        .iter()
        .filter(|s| !s.undefined && s.kind == STT_FUNC)
        .find_map(|s| {
            candidates
                .iter()
                .find(|(n, _)| *n == s.name)
                .map(|(_, v)| *v)
        })
}

/// The loader's own version needs and DT_NEEDED are not policy matters.
fn is_loader(name: &str) -> bool {
    name.contains("ld-linux") || name == "ld64.so.2" || name == "ld64.so.1"
}

/// `{library: {version}}` needed by one ELF, the loader's own excluded.
fn versioned_symbols_of(elf: &ElfFile) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for need in &elf.version_needs {
        if need.file.starts_with("ld-linux") || is_loader(&need.file) {
            continue;
        }
        let entry = out.entry(need.file.clone()).or_default();
        entry.extend(need.versions.iter().map(|v| v.name.clone()));
    }
    out
}

fn merge_versions(
    into: &mut BTreeMap<String, BTreeSet<String>>,
    from: &BTreeMap<String, BTreeSet<String>>,
) {
    for (k, v) in from {
        into.entry(k.clone()).or_default().extend(v.iter().cloned());
    }
}

/// The versions in `required` that `policy` does not allow, as `(namespace, full version)`.
/// Namespaces the policy does not mention are not checked (as the reference tool does).
fn missing_versions(policy: &Policy, versions: &BTreeSet<String>) -> Vec<String> {
    versions
        .iter()
        .filter(|full| {
            let (ns, ver) = full.split_once('_').unwrap_or((full.as_str(), ""));
            policy.symbol_versions.contains_key(ns) && !policy.allows_version(ns, ver)
        })
        .cloned()
        .collect()
}

/// The most compatible policy whose symbol versions cover everything in `required`.
fn symbols_policy<'p>(
    set: &'p PolicySet,
    required: &BTreeMap<String, BTreeSet<String>>,
) -> &'p Policy {
    set.policies()
        .iter()
        .find(|p| required.values().all(|v| missing_versions(p, v).is_empty()))
        .unwrap_or_else(|| set.linux())
}

/// External libraries and blacklisted symbols of one policy, over all top-level ELFs.
#[derive(Default, Clone)]
struct ExternalRef {
    /// name -> (resolved location, needed by)
    libs: BTreeMap<String, (Option<Location>, BTreeSet<String>)>,
    /// library -> file -> symbols
    blacklist: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

fn external_refs(
    policy: &Policy,
    top: &Member,
    tree: &DepTree,
    opts: &AuditOptions,
    into: &mut ExternalRef,
) {
    let keep = |name: &String| {
        !is_loader(name) && !policy.lib_whitelist.contains(name) && !opts.excluded(name)
    };
    // Closure of non-whitelisted libraries, through in-wheel ones too.
    let mut pending: Vec<(String, String)> = top
        .elf
        .needed
        .iter()
        .filter(|n| keep(n))
        .map(|n| (n.clone(), top.path.clone()))
        .collect();
    let mut seen: HashSet<String> = HashSet::new();
    while let Some((name, by)) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let loaded = tree.get(&name);
        let location = loaded.and_then(|l| l.location.clone());
        if let Some(l) = loaded {
            let by_this = location
                .as_ref()
                .map(|l| l.to_string())
                .unwrap_or_else(|| name.clone());
            pending.extend(
                l.needed()
                    .iter()
                    .filter(|n| keep(n))
                    .map(|n| (n.clone(), by_this.clone())),
            );
        }
        if matches!(location, Some(Location::Wheel(_))) {
            continue;
        }
        let entry = into.libs.entry(name).or_insert((location, BTreeSet::new()));
        entry.1.insert(by);
    }
    // Blacklisted symbols the top-level object itself uses (non-weak undefined).
    for lib in top
        .elf
        .needed
        .iter()
        .filter(|n| policy.blacklist.contains_key(*n))
    {
        let banned = &policy.blacklist[lib];
        let used: BTreeSet<String> = top
            .elf
            .dynamic_symbols
            .iter()
            .filter(|s| s.undefined && s.binding != Binding::Weak)
            .map(|s| s.name.clone())
            .chain(std::iter::once("*".to_string()))
            .filter(|s| banned.contains(s))
            .collect();
        if !used.is_empty() {
            into.blacklist
                .entry(lib.clone())
                .or_default()
                .entry(top.path.clone())
                .or_default()
                .extend(used);
        }
    }
}

/// Sort key of a symbol version: namespace, then numeric parts (`GLIBC_2.6` < `GLIBC_2.10`).
type VersionKey = (String, Vec<u64>);

fn version_key(full: &str) -> VersionKey {
    let (ns, ver) = full.split_once('_').unwrap_or((full, ""));
    let parts = ver
        .split(['.', '_'])
        .map(|p| p.parse::<u64>().unwrap_or(u64::MAX))
        .collect();
    (ns.to_string(), parts)
}

/// The x86-64 micro-architecture level an ELF needs above the baseline, if any.
fn isa_level(elf: &ElfFile) -> Option<String> {
    let bits = elf.x86_isa_needed? & !1;
    if bits & 8 != 0 {
        Some("x86-64-v4".into())
    } else if bits & 4 != 0 {
        Some("x86-64-v3".into())
    } else if bits & 2 != 0 {
        Some("x86-64-v2".into())
    } else if bits != 0 {
        Some(format!("unknown x86-64 ISA bits {bits:#x}"))
    } else {
        None
    }
}

fn is_pyfpe(elf: &ElfFile) -> bool {
    elf.dynamic_symbols.iter().any(|s| {
        s.undefined
            && matches!(
                s.name.as_str(),
                "PyFPE_jbuf" | "PyFPE_dummy" | "PyFPE_counter"
            )
            && matches!(s.kind, STT_FUNC | STT_NOTYPE)
    })
}

fn ucs2_symbols(elf: &ElfFile) -> Vec<String> {
    elf.dynamic_symbols
        .iter()
        .filter(|s| s.undefined && s.kind == STT_FUNC && s.name.contains("PyUnicodeUCS2_"))
        .map(|s| s.name.clone())
        .collect()
}

/// Tell arch and libc from the file name's platform tags: `(arch, libc, pure)`.
fn hints_from_filename(tags: &[String]) -> (Option<Arch>, Option<Libc>, bool) {
    let mut arch = None;
    let mut libc = None;
    let mut pure = true;
    for tag in tags {
        if tag == "any" {
            continue;
        }
        pure = false;
        if let Ok(t) = tag.parse::<PlatformTag>() {
            if let Some(a) = t.arch().and_then(|a| Arch::from_name(a).ok()) {
                arch.get_or_insert(a);
            }
            if let Some(l) = t.libc() {
                libc.get_or_insert(l);
            }
        }
    }
    (arch, libc, pure)
}

fn libc_from_elfs(members: &[&Member]) -> Option<Libc> {
    for m in members {
        if let Some(interp) = &m.elf.interpreter {
            let base = interp.rsplit('/').next().unwrap_or(interp);
            if base.starts_with("ld-musl-") {
                return Some(Libc::Musl);
            }
        }
        for n in &m.elf.needed {
            if n.starts_with("libc.musl-") || n.starts_with("ld-musl-") {
                return Some(Libc::Musl);
            }
            if n == "libc.so.6" || n.starts_with("ld-linux-") || n.starts_with("ld64.so.") {
                return Some(Libc::Glibc);
            }
        }
    }
    // Symbol versions only glibc (and its libraries) define.
    let glibc_versions = members.iter().any(|m| {
        m.elf
            .version_needs
            .iter()
            .any(|n| n.versions.iter().any(|v| v.name.starts_with("GLIBC_")))
    });
    if glibc_versions {
        return Some(Libc::Glibc);
    }
    for m in members {
        if m.path.ends_with("-linux-musl.so") || m.path.ends_with("-linux-musleabihf.so") {
            return Some(Libc::Musl);
        }
        if m.path.ends_with("-linux-gnu.so") || m.path.ends_with("-linux-gnueabihf.so") {
            return Some(Libc::Glibc);
        }
    }
    None
}

/// Below this size a member is simply read whole.
const SPARSE_MIN: u64 = 4 << 20;

/// Read and parse one ELF member, RECORD-verified. Large members are streamed into a sparse
/// image that keeps only the ranges the parser needs (the code segment is dropped on the fly),
/// so memory does not grow with the size of a library; any doubt falls back to a whole read.
fn read_elf_member(wheel: &Wheel, name: &str) -> Result<ElfFile, AuditError> {
    let elf_error = |source| AuditError::Elf {
        wheel: wheel.filename().to_string(),
        member: name.to_string(),
        source,
    };
    let size = wheel.member(name).map_or(0, |m| m.size);
    if size >= SPARSE_MIN {
        if let Ok(size) = usize::try_from(size) {
            let mut head: Vec<u8> = Vec::new();
            let mut sparse: Option<(Vec<u8>, Vec<std::ops::Range<u64>>)> = None;
            let mut pos = 0u64;
            let mut give_up = false;
            wheel.stream_member(name, &mut |chunk| {
                if give_up {
                    return Ok(());
                }
                if sparse.is_none() {
                    head.extend_from_slice(chunk);
                    pos += chunk.len() as u64;
                    match manywheel_elf::needed_ranges(&head, size as u64) {
                        Ok(Some(ranges)) => {
                            // Zeroed pages are not resident until written.
                            let mut image = vec![0u8; size];
                            copy_ranges(&mut image, 0, &head, &ranges);
                            head = Vec::new();
                            sparse = Some((image, ranges));
                        }
                        Ok(None) if head.len() < (1 << 20) => {}
                        _ => give_up = true,
                    }
                    return Ok(());
                }
                if let Some((image, ranges)) = sparse.as_mut() {
                    copy_ranges(image, pos, chunk, ranges);
                }
                pos += chunk.len() as u64;
                Ok(())
            })?;
            if let (false, Some((image, ranges))) = (give_up, sparse) {
                if let Ok(elf) = manywheel_elf::parse_sparse(&image, &ranges) {
                    return Ok(elf);
                }
            }
        }
    }
    let data = wheel.read_member(name)?;
    manywheel_elf::parse(&data).map_err(elf_error)
}

/// Copy the parts of `chunk` (which starts at file offset `at`) that fall in `ranges`.
fn copy_ranges(image: &mut [u8], at: u64, chunk: &[u8], ranges: &[std::ops::Range<u64>]) {
    let end = at + chunk.len() as u64;
    for r in ranges {
        let (lo, hi) = (r.start.max(at), r.end.min(end));
        if lo < hi {
            let (src, dst) = ((lo - at) as usize, lo as usize);
            let len = (hi - lo) as usize;
            image[dst..dst + len].copy_from_slice(&chunk[src..src + len]);
        }
    }
}

/// Read the ELF members of a wheel in parallel (RECORD-verified).
fn read_elf_members(wheel: &Wheel) -> Result<Vec<(String, Arc<ElfFile>)>, AuditError> {
    // Largest first: the biggest member is the critical path, the others fill the other cores.
    let mut candidates: Vec<&manywheel_wheel::Member> = wheel
        .members()
        .iter()
        .filter(|m| !m.name.ends_with('/') && !m.name.ends_with(".py") && m.size >= 52)
        .collect();
    candidates.sort_by_key(|m| std::cmp::Reverse(m.compressed_size));
    let names: Vec<&str> = candidates.iter().map(|m| m.name.as_str()).collect();
    let mut found: Vec<(String, Arc<ElfFile>)> = names
        .par_iter()
        .with_max_len(1)
        .map(
            |name| -> Result<Option<(String, Arc<ElfFile>)>, AuditError> {
                let head = wheel.read_prefix(name, 4)?;
                if !manywheel_elf::is_elf(&head) {
                    return Ok(None);
                }
                let elf = read_elf_member(wheel, name)?;
                Ok(Some((name.to_string(), Arc::new(elf))))
            },
        )
        .filter_map(Result::transpose)
        .collect::<Result<_, _>>()?;
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// Audit one wheel.
pub fn audit_wheel(path: &Path, opts: &AuditOptions) -> Result<WheelReport, AuditError> {
    let wheel = Wheel::open(path)?;
    let filename = wheel.filename().clone();
    let wheel_name = filename.to_string();
    let claimed_tags = filename.platform_tags.clone();
    let (name_arch, name_libc, name_pure) = hints_from_filename(&claimed_tags);
    let mut warnings = Vec::new();

    let elf_members = read_elf_members(&wheel)?;

    // Shared libraries in purelib cannot be right.
    let in_purelib: Vec<&str> = elf_members
        .iter()
        .map(|(p, _)| p.as_str())
        .filter(|p| {
            let mut parts = p.split('/');
            parts.next().is_some_and(|d| d.ends_with(".data")) && parts.next() == Some("purelib")
        })
        .collect();
    if !in_purelib.is_empty() {
        return Err(AuditError::Purelib {
            wheel: wheel_name,
            files: in_purelib.iter().map(|s| s.to_string()).collect(),
        });
    }

    let members: Vec<Member> = elf_members
        .into_iter()
        .map(|(path, elf)| {
            let h = &elf.header;
            let arch = Arch::from_elf(
                h.machine,
                h.class == manywheel_elf::Class::Elf64,
                h.endian == manywheel_elf::Endian::Little,
                h.flags,
            );
            Member { path, elf, arch }
        })
        .collect();

    // The wheel's architecture: the file name's, else the first ELF's.
    let arch = name_arch.or_else(|| members.iter().find_map(|m| m.arch));
    let Some(arch) = arch else {
        if members.is_empty() {
            return Ok(pure_report(&wheel_name, claimed_tags, name_pure, warnings));
        }
        return Err(AuditError::UnknownArch {
            wheel: wheel_name,
            file: members[0].path.clone(),
        });
    };
    let mut ours: Vec<&Member> = Vec::new();
    for m in &members {
        match m.arch {
            Some(a) if a == arch => ours.push(m),
            Some(a) => warnings.push(format!(
                "ignoring {}: it is a {} ELF file in a {} wheel",
                m.path,
                a.name(),
                arch.name()
            )),
            None => warnings.push(format!(
                "ignoring {}: ELF file of an unknown architecture (e_machine {})",
                m.path, m.elf.header.machine
            )),
        }
    }
    if ours.is_empty() {
        if name_pure || members.is_empty() {
            return Ok(pure_report(&wheel_name, claimed_tags, true, warnings));
        }
        return Err(AuditError::NoElfForArch {
            wheel: wheel_name,
            arch: arch.name().to_string(),
        });
    }

    let libc = match name_libc.or_else(|| libc_from_elfs(&ours)) {
        Some(l) => l,
        None => {
            warnings.push("could not tell the wheel's libc; assuming glibc".into());
            Libc::Glibc
        }
    };
    let policies = match &opts.policy_json {
        Some(json) => PolicySet::from_json(json, libc, arch)?,
        None => PolicySet::embedded(libc, arch),
    };

    // Where libraries outside the wheel are looked up.
    let root = match (&opts.sysroot, &opts.ldpaths) {
        (Some(dir), _) => Some(Root::new(dir)),
        (None, Some(_)) => Some(Root::host_root()),
        (None, None) if host_target() == Some((libc, arch)) => Some(Root::host_root()),
        (None, None) => {
            warnings.push(format!(
                "no --sysroot for a {} {} wheel on this host: libraries outside the wheel are not looked up",
                libc_name(libc),
                arch.name()
            ));
            None
        }
    };
    let sysroot = root.as_ref().map(|r| r.host_dir().display().to_string());
    let wheel_elfs: HashMap<String, Arc<ElfFile>> = ours
        .iter()
        .map(|m| (m.path.clone(), m.elf.clone()))
        .collect();
    let resolver = Resolver::new(root, libc, arch, opts.ldpaths.clone(), wheel_elfs);

    // Whitelists only grow as priority falls: what the most compatible policy allows, every
    // policy allows, so those libraries (and the loader) never need a path.
    let strictest = policies.policies().iter().find(|p| !p.is_linux());
    let always_allowed =
        |name: &str| is_loader(name) || strictest.is_some_and(|p| p.lib_whitelist.contains(name));
    let trees: Vec<DepTree> = ours
        .par_iter()
        .map(|m| {
            resolver.tree_skipping(
                Location::Wheel(m.path.clone()),
                m.elf.clone(),
                &always_allowed,
            )
        })
        .collect();

    // Symbol versions of every ELF of the wheel.
    let mut versioned_symbols: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in &ours {
        merge_versions(&mut versioned_symbols, &versioned_symbols_of(&m.elf));
    }

    // Top-level objects: extensions, and other ELFs that nothing in the wheel needs.
    let needed_in_wheel: HashSet<&str> = ours
        .iter()
        .flat_map(|m| m.elf.needed.iter().map(String::as_str))
        .collect();
    let kinds: Vec<Option<u8>> = ours
        .iter()
        .map(|m| extension_kind(&m.path, &m.elf))
        .collect();
    let tops: Vec<usize> = (0..ours.len())
        .filter(|&i| {
            let base = ours[i].path.rsplit('/').next().unwrap_or(&ours[i].path);
            kinds[i].is_some() || !needed_in_wheel.contains(base)
        })
        .collect();

    // External references per policy (policies() is most compatible first).
    let refs: Vec<ExternalRef> = policies
        .policies()
        .iter()
        .map(|p| {
            let mut r = ExternalRef::default();
            if !p.is_linux() {
                for &i in &tops {
                    external_refs(p, ours[i], &trees[i], opts, &mut r);
                }
            }
            r
        })
        .collect();

    let location_text = |loc: &Option<Location>| -> Option<String> {
        match loc {
            Some(Location::Root(p)) => resolver
                .root()
                .map(|r| r.host_path(p).display().to_string()),
            Some(Location::Wheel(m)) => Some(m.clone()),
            None => None,
        }
    };

    // Versioned symbols of external libraries (parsed once).
    let mut external_elfs: BTreeMap<String, Arc<ElfFile>> = BTreeMap::new();
    let mut external_paths: BTreeMap<String, String> = BTreeMap::new();
    for r in &refs {
        for (name, (loc, _)) in &r.libs {
            if let Some(Location::Root(p)) = loc {
                if let Some(e) = resolver.root_elf(p) {
                    external_elfs.entry(name.clone()).or_insert(e);
                }
                if let Some(text) = location_text(loc) {
                    external_paths.entry(name.clone()).or_insert(text);
                }
            }
        }
    }
    let external_versions: BTreeMap<&String, BTreeMap<String, BTreeSet<String>>> = external_elfs
        .iter()
        .map(|(n, e)| (n, versioned_symbols_of(e)))
        .collect();

    // Symbol policy: per policy, the wheel's versions plus those of the libraries it would graft.
    let by_priority = |p: &Policy| p.priority;
    let mut sym_choice: Option<(&Policy, BTreeMap<String, BTreeSet<String>>)> = None;
    for (p, r) in policies.policies().iter().zip(&refs).rev() {
        if p.is_linux() {
            continue;
        }
        let mut with_libs = versioned_symbols.clone();
        for name in r.libs.keys() {
            if let Some(v) = external_versions.get(name) {
                merge_versions(&mut with_libs, v);
            }
        }
        let found = symbols_policy(&policies, &with_libs);
        let found = if by_priority(found) < p.priority {
            found
        } else {
            p
        };
        // Keep the first maximum met in ascending priority order.
        if sym_choice
            .as_ref()
            .is_none_or(|(best, _)| found.priority > best.priority)
        {
            sym_choice = Some((found, with_libs));
        }
    }
    let (sym_policy, versioned_symbols) = match sym_choice {
        Some(c) => c,
        None => (
            symbols_policy(&policies, &versioned_symbols),
            versioned_symbols,
        ),
    };

    let ref_policy = policies
        .policies()
        .iter()
        .zip(&refs)
        .find(|(_, r)| r.libs.is_empty())
        .map(|(p, _)| p)
        .unwrap_or_else(|| policies.linux());
    let blacklist_policy = policies
        .policies()
        .iter()
        .zip(&refs)
        .find(|(_, r)| r.blacklist.is_empty())
        .map(|(p, _)| p)
        .unwrap_or_else(|| policies.linux());

    // Instruction-set level and ELF flags.
    let mut machine_policy = policies.highest();
    let mut machine_reasons: Vec<(u32, Reason)> = Vec::new();
    let external_names: BTreeSet<&String> = refs
        .iter()
        .zip(policies.policies())
        .filter(|(_, p)| !p.is_linux())
        .flat_map(|(r, _)| r.libs.keys())
        .collect();
    for m in &ours {
        if let Err(problem) = arch.check_elf_flags(m.elf.header.flags) {
            machine_policy = policies.linux();
            machine_reasons.push((
                0,
                Reason::ElfFlags {
                    file: m.path.clone(),
                    problem,
                },
            ));
        }
        if !opts.disable_isa_check && arch.x86_isa_baseline() {
            if let Some(level) = isa_level(&m.elf) {
                machine_policy = policies.linux();
                machine_reasons.push((
                    0,
                    Reason::Isa {
                        file: m.path.clone(),
                        level,
                    },
                ));
            }
        }
    }
    if !opts.disable_isa_check && arch.x86_isa_baseline() {
        for name in &external_names {
            let Some(e) = external_elfs.get(*name) else {
                continue;
            };
            let Some(level) = isa_level(e) else { continue };
            // A library some policy whitelists caps the result at that policy.
            let cap = policies
                .policies()
                .iter()
                .find(|p| !p.is_linux() && p.lib_whitelist.contains(*name))
                .unwrap_or_else(|| policies.linux());
            if cap.priority < machine_policy.priority {
                machine_policy = cap;
            }
            machine_reasons.push((
                cap.priority,
                Reason::Isa {
                    file: external_paths
                        .get(*name)
                        .cloned()
                        .unwrap_or_else(|| (*name).clone()),
                    level,
                },
            ));
        }
    }

    // Python-specific checks on extensions.
    let mut pyfpe_files = Vec::new();
    let mut ucs2_files = Vec::new();
    for (i, m) in ours.iter().enumerate() {
        match kinds[i] {
            Some(_) if is_pyfpe(&m.elf) => pyfpe_files.push(m.path.clone()),
            _ => {}
        }
        if kinds[i] == Some(2) {
            let syms = ucs2_symbols(&m.elf);
            if !syms.is_empty() {
                ucs2_files.push((m.path.clone(), syms));
            }
        }
    }
    let ucs_policy = if ucs2_files.is_empty() {
        policies.highest()
    } else {
        policies.linux()
    };
    let pyfpe_policy = if pyfpe_files.is_empty() {
        policies.highest()
    } else {
        policies.linux()
    };

    let overall = [
        sym_policy,
        ucs_policy,
        pyfpe_policy,
        blacklist_policy,
        machine_policy,
        ref_policy,
    ]
    .into_iter()
    .min_by_key(|p| p.priority)
    .expect("non-empty");

    let arch_name = arch.name();
    let external_libs: BTreeMap<String, Option<String>> = refs[0]
        .libs
        .iter()
        .map(|(n, (loc, _))| (n.clone(), location_text(loc)))
        .collect();

    let mut policy_upgrades = BTreeMap::new();
    let mut why_not = Vec::new();
    for (p, r) in policies.policies().iter().zip(&refs) {
        if p.priority <= overall.priority {
            continue;
        }
        let up = Upgrade {
            libs_to_eliminate: r.libs.keys().cloned().collect(),
            blacklisted_symbols: r
                .blacklist
                .iter()
                .map(|(lib, files)| {
                    let all: BTreeSet<&String> = files.values().flatten().collect();
                    (lib.clone(), all.into_iter().cloned().collect())
                })
                .collect(),
        };
        if up != Upgrade::default() {
            policy_upgrades.insert(p.tag(arch), up);
        }
        let mut reasons = Vec::new();
        // Symbol versions, with the symbols and the files that need them.
        let mut per_version: BTreeMap<(String, VersionKey, String), Vec<FileSymbols>> =
            BTreeMap::new();
        let mut consider = |file: &str, elf: &ElfFile| {
            for (lib, versions) in versioned_symbols_of(elf) {
                for v in missing_versions(p, &versions) {
                    let symbols: Vec<String> = elf
                        .dynamic_symbols
                        .iter()
                        .filter(|s| {
                            s.undefined
                                && s.version.as_deref() == Some(v.as_str())
                                && s.version_file.as_deref().is_none_or(|f| f == lib)
                        })
                        .map(|s| s.name.clone())
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    per_version
                        .entry((lib.clone(), version_key(&v), v))
                        .or_default()
                        .push(FileSymbols {
                            file: file.to_string(),
                            symbols,
                        });
                }
            }
        };
        for m in &ours {
            consider(&m.path, &m.elf);
        }
        for name in r.libs.keys() {
            if let Some(e) = external_elfs.get(name) {
                let shown = location_text(&r.libs[name].0).unwrap_or_else(|| name.clone());
                consider(&shown, e);
            }
        }
        for ((library, _, version), files) in per_version {
            reasons.push(Reason::SymbolVersion {
                library,
                version,
                files,
            });
        }
        for (name, (loc, by)) in &r.libs {
            reasons.push(Reason::ExternalLibrary {
                library: name.clone(),
                path: location_text(loc),
                needed_by: by.iter().cloned().collect(),
            });
        }
        for (lib, files) in &r.blacklist {
            for (file, syms) in files {
                reasons.push(Reason::BlacklistedSymbols {
                    library: lib.clone(),
                    file: file.clone(),
                    symbols: syms.iter().cloned().collect(),
                });
            }
        }
        for (cap, reason) in &machine_reasons {
            if p.priority > *cap {
                reasons.push(reason.clone());
            }
        }
        for f in &pyfpe_files {
            reasons.push(Reason::Pyfpe { file: f.clone() });
        }
        for (f, s) in &ucs2_files {
            reasons.push(Reason::Ucs2 {
                file: f.clone(),
                symbols: s.clone(),
            });
        }
        why_not.push(WhyNot {
            tag: p.tag(arch),
            reasons,
        });
    }

    // Tags satisfied: the result and every less compatible policy, with aliases.
    let mut satisfied_tags = Vec::new();
    for p in policies
        .policies()
        .iter()
        .filter(|p| p.priority <= overall.priority)
    {
        satisfied_tags.push(p.tag(arch));
        satisfied_tags.extend(p.alias_tags(arch));
    }
    let unsatisfied_claims: Vec<String> = claimed_tags
        .iter()
        .filter(|t| !claim_satisfied(t, arch, libc, overall))
        .cloned()
        .collect();

    let elf_files = ours
        .iter()
        .enumerate()
        .map(|(i, m)| ElfSummary {
            path: m.path.clone(),
            arch: m.arch.map(|a| a.name().to_string()),
            kind: if kinds[i].is_some() {
                "extension"
            } else if m.elf.interpreter.is_some() && m.elf.soname.is_none() {
                "executable"
            } else {
                "library"
            },
            needed: m.elf.needed.clone(),
            rpath: m.elf.rpath.clone(),
            runpath: m.elf.runpath.clone(),
            isa: isa_level(&m.elf),
            exec_stack: m.elf.exec_stack,
        })
        .collect();

    let abi3 = abi3::check(
        &filename,
        ours.iter()
            .zip(&kinds)
            .filter(|(_, k)| k.is_some())
            .map(|(m, _)| (m.path.as_str(), &*m.elf)),
    );

    let claims_ok = unsatisfied_claims.is_empty();
    // What repair needs: per policy, the libraries to graft; and what grafting cannot fix.
    let grafts = policies
        .policies()
        .iter()
        .zip(&refs)
        .filter(|(p, _)| !p.is_linux())
        .map(|(p, r)| {
            let libs = r
                .libs
                .iter()
                .map(|(n, (loc, _))| (n.clone(), location_text(loc)))
                .collect();
            (p.tag(arch), libs)
        })
        .collect();
    let graft_ceiling = [
        sym_policy,
        ucs_policy,
        pyfpe_policy,
        blacklist_policy,
        machine_policy,
    ]
    .into_iter()
    .min_by_key(|p| p.priority)
    .expect("non-empty");
    let limits = Limits {
        symbols: sym_policy.tag(arch),
        blacklist: blacklist_policy.tag(arch),
        isa: machine_policy.tag(arch),
        external_libs: ref_policy.tag(arch),
        python: [ucs_policy, pyfpe_policy]
            .into_iter()
            .min_by_key(|p| p.priority)
            .expect("non-empty")
            .tag(arch),
        with_grafting: graft_ceiling.tag(arch),
    };

    Ok(WheelReport {
        version: 1,
        wheel: wheel_name,
        pure: false,
        overall_tag: Some(overall.tag(arch)),
        sym_tag: Some(sym_policy.tag(arch)),
        pyfpe: pyfpe_policy.is_linux(),
        ucs2: ucs_policy.is_linux(),
        unsupported_isa: machine_policy.is_linux(),
        versioned_symbols,
        external_libs,
        policy_upgrades,
        arch: Some(arch_name.to_string()),
        libc: Some(libc_name(libc).to_string()),
        sysroot,
        claimed_tags,
        satisfied_tags,
        claims_ok,
        unsatisfied_claims,
        why_not,
        elf_files,
        abi3,
        warnings,
        limits: Some(limits),
        grafts,
    })
}

/// Whether the wheel, whose most compatible policy is `overall`, may carry the platform `tag`.
fn claim_satisfied(tag: &str, arch: Arch, libc: Libc, overall: &Policy) -> bool {
    let Ok(parsed) = tag.parse::<PlatformTag>() else {
        return false;
    };
    if parsed
        .arch()
        .map(|a| Arch::from_name(a).ok() != Some(arch))
        .unwrap_or(true)
    {
        return false;
    }
    match parsed {
        PlatformTag::Linux { .. } => true,
        PlatformTag::Manylinux { major, minor, .. }
        | PlatformTag::Musllinux { major, minor, .. } => {
            parsed.libc() == Some(libc)
                && overall.version().is_some_and(|have| (major, minor) >= have)
        }
        PlatformTag::Other(_) => false,
    }
}

pub(crate) fn libc_name(libc: Libc) -> &'static str {
    match libc {
        Libc::Glibc => "glibc",
        Libc::Musl => "musl",
    }
}

fn pure_report(
    wheel: &str,
    claimed_tags: Vec<String>,
    pure: bool,
    warnings: Vec<String>,
) -> WheelReport {
    WheelReport {
        version: 1,
        wheel: wheel.to_string(),
        pure,
        overall_tag: None,
        sym_tag: None,
        pyfpe: false,
        ucs2: false,
        unsupported_isa: false,
        versioned_symbols: BTreeMap::new(),
        external_libs: BTreeMap::new(),
        policy_upgrades: BTreeMap::new(),
        arch: None,
        libc: None,
        sysroot: None,
        claims_ok: claimed_tags.iter().all(|t| t == "any"),
        unsatisfied_claims: claimed_tags
            .iter()
            .filter(|t| *t != "any")
            .cloned()
            .collect(),
        claimed_tags,
        satisfied_tags: vec!["any".into()],
        why_not: Vec::new(),
        elf_files: Vec::new(),
        abi3: None,
        warnings,
        limits: None,
        grafts: BTreeMap::new(),
    }
}
