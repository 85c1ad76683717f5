//! Patching the dynamic section of ELF files of every class and byte order: DT_NEEDED,
//! DT_SONAME, DT_RPATH and DT_RUNPATH.
//!
//! Strings are edited in place when the new string fits in a `.dynstr` slot nothing else
//! points into; otherwise `.dynstr` is copied with the new strings appended (old offsets stay
//! valid). Whatever must grow goes into one PT_LOAD segment at the end of the file, which a
//! later patch recognises and rewrites instead of adding another. See [`patch`].

mod buf;
mod dynamic;
mod items;
mod layout;
mod model;
mod strings;
mod strip;

use buf::{slice, Codec};
use dynamic::{
    dynsym_count, dynsym_names, is_string_tag, read_verdef, read_verneed, section_at, string_at,
    Dynamic, DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME, DT_STRSZ, DT_STRTAB, DT_VERNEED,
    DT_VERNEEDNUM, DT_VERSYM,
};
use items::Kind;
use model::{Model, SHT_DYNAMIC, SHT_DYNSYM, SHT_GNU_VERDEF, SHT_GNU_VERNEED, SHT_STRTAB};
use strings::{RefId, Request};
pub use strip::{strip, StripReport, Stripped};

use crate::Error;

/// Which search-path entry to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RpathKind {
    /// DT_RPATH: searched before LD_LIBRARY_PATH, applies to dependencies too.
    Rpath,
    /// DT_RUNPATH: searched after LD_LIBRARY_PATH, only for the file's own DT_NEEDED.
    Runpath,
}

/// A change of the library search path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RpathChange {
    /// Set the path (colon-separated) as the given kind; an entry of the other kind is removed.
    Set { path: String, kind: RpathKind },
    /// Remove DT_RPATH and DT_RUNPATH.
    Remove,
    /// Turn DT_RUNPATH into DT_RPATH, keeping its value.
    ForceRpath,
}

/// The changes to make. Operations apply in this order: remove, replace, add needed; soname;
/// search path. Each one that is already in effect changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patch {
    pub set_soname: Option<String>,
    /// `(old, new)`: every DT_NEEDED equal to `old` (and the version-need records naming the
    /// same file) becomes `new`.
    pub replace_needed: Vec<(String, String)>,
    /// Added after the existing DT_NEEDED entries unless already present.
    pub add_needed: Vec<String>,
    /// Removed with the version requirements on that file (those symbols become unversioned).
    pub remove_needed: Vec<String>,
    pub set_rpath: Option<RpathChange>,
}

impl Patch {
    pub fn is_empty(&self) -> bool {
        *self == Patch::default()
    }
}

/// What happened to the appended segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentChange {
    /// Everything was edited in place.
    None,
    /// A new PT_LOAD segment was appended.
    Added,
    /// The segment a previous patch appended was rewritten.
    Reused,
}

/// What a patch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchReport {
    /// One line per effective change (empty: the output equals the input).
    pub changes: Vec<String>,
    pub old_size: u64,
    pub new_size: u64,
    pub segment: SegmentChange,
    /// Strings written over their old `.dynstr` slot.
    pub strings_in_place: usize,
    /// Strings appended to a new copy of `.dynstr`.
    pub strings_appended: usize,
    /// The dynamic section was written to the appended segment.
    pub dynamic_moved: bool,
    /// Tables moved into the appended segment (to make room for a program header, or to grow):
    /// `.interp`, `note`, `.dynsym`, `.dynstr`, `.dynamic`, ...
    pub moved: Vec<&'static str>,
}

impl PatchReport {
    pub fn changed(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Bytes the file grew by (negative if it shrank).
    pub fn growth(&self) -> i64 {
        self.new_size as i64 - self.old_size as i64
    }
}

/// The patched file and what was done.
#[derive(Debug, Clone)]
pub struct Patched {
    pub data: Vec<u8>,
    pub report: PatchReport,
}

/// Why a patch could not be made.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PatchError {
    #[error(transparent)]
    Elf(#[from] Error),
    #[error("invalid patch: {0}")]
    Invalid(String),
    #[error("cannot patch this file: {0}")]
    Unsupported(String),
}

/// The largest page size a machine's kernels use (segments must be aligned to it to load
/// everywhere): 64 KiB on aarch64, ppc64/ppc64le and loongarch64, 4 KiB otherwise.
pub fn max_page_size(machine: u16) -> u64 {
    const EM_PPC: u16 = 20;
    const EM_PPC64: u16 = 21;
    const EM_AARCH64: u16 = 183;
    const EM_LOONGARCH: u16 = 258;
    match machine {
        EM_PPC | EM_PPC64 | EM_AARCH64 | EM_LOONGARCH => 0x10000,
        _ => 0x1000,
    }
}

/// The raw string values of the dynamic section (unsplit search paths).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicStrings {
    pub soname: Option<String>,
    pub needed: Vec<String>,
    pub rpath: Option<String>,
    pub runpath: Option<String>,
}

/// Read DT_SONAME, DT_NEEDED, DT_RPATH and DT_RUNPATH as written (joined with `:` if an entry
/// appears more than once).
pub fn dynamic_strings(data: &[u8]) -> Result<DynamicStrings, Error> {
    let m = Model::read(data)?;
    let dy = Dynamic::read(&m, data)?;
    let table = strtab(&m, &dy, data)?.2;
    let mut out = DynamicStrings::default();
    let text = |off: u64| string_at(table, off).map(|s| String::from_utf8_lossy(s).into_owned());
    let join = |acc: &mut Option<String>, s: String| match acc {
        Some(a) => {
            a.push(':');
            a.push_str(&s);
        }
        None => *acc = Some(s),
    };
    for &(tag, val) in &dy.entries {
        match tag {
            DT_NEEDED => out.needed.push(text(val)?),
            DT_SONAME if out.soname.is_none() => out.soname = Some(text(val)?),
            DT_RPATH => join(&mut out.rpath, text(val)?),
            DT_RUNPATH => join(&mut out.runpath, text(val)?),
            _ => {}
        }
    }
    Ok(out)
}

/// `.dynstr`: its address, file offset and bytes.
fn strtab<'a>(m: &Model, dy: &Dynamic, data: &'a [u8]) -> Result<(u64, u64, &'a [u8]), Error> {
    let addr = dy
        .get(DT_STRTAB)
        .ok_or_else(|| Error::Malformed("dynamic section without DT_STRTAB".into()))?;
    let size = dy
        .get(DT_STRSZ)
        .ok_or_else(|| Error::Malformed("dynamic section without DT_STRSZ".into()))?;
    let (off, avail) = m.addr_to_offset(addr)?;
    if size > avail {
        return Err(Error::Truncated(".dynstr"));
    }
    Ok((addr, off, slice(data, off, size, ".dynstr")?))
}

/// One planned dynamic entry.
#[derive(Debug, Clone)]
struct Ent {
    tag: u64,
    val: u64,
    /// Index among the original entries; `None` for an added one.
    old: Option<usize>,
    /// The string it names, for string entries.
    s: Option<Vec<u8>>,
    /// The string changed (or the entry is new).
    dirty: bool,
}

fn check_name(what: &str, s: &str, allow_empty: bool) -> Result<(), PatchError> {
    if s.as_bytes().contains(&0) {
        return Err(PatchError::Invalid(format!(
            "{what} {s:?} contains a NUL byte"
        )));
    }
    if !allow_empty && s.is_empty() {
        return Err(PatchError::Invalid(format!("{what} is empty")));
    }
    Ok(())
}

fn show(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

/// Apply `p` to the ELF file `data` and return the new file; `data` is not modified.
///
/// The result loads wherever the input did: new strings go into a copy of `.dynstr`, a dynamic
/// section that must grow is copied too, and both live in one PT_LOAD appended at the end of
/// the file (offset ≡ address modulo the machine's largest page size, above every other
/// segment). The program header table stays in place; room for the new entry is made by moving
/// the tables right after it (`.interp`, notes, hash tables, ...) into the same segment. Section
/// headers follow every move and stay at the end of the file. Patching a patched file rewrites
/// that segment instead of adding another, and a patch already in effect returns the input
/// unchanged (patching is idempotent).
pub fn patch(data: &[u8], p: &Patch) -> Result<Patched, PatchError> {
    if let Some(s) = &p.set_soname {
        check_name("soname", s, false)?;
    }
    for (a, b) in &p.replace_needed {
        check_name("needed name", a, false)?;
        check_name("needed name", b, false)?;
    }
    for s in p.add_needed.iter().chain(&p.remove_needed) {
        check_name("needed name", s, false)?;
    }
    if let Some(RpathChange::Set { path, .. }) = &p.set_rpath {
        check_name("search path", path, true)?;
    }
    // Full validation with the reader first: what it rejects is not patched.
    crate::parse(data)?;
    let m = Model::read(data)?;
    let dy = Dynamic::read(&m, data)?;
    let (strtab_addr, strtab_off, table) = strtab(&m, &dy, data)?;
    let c = m.c;

    let mut ents = Vec::with_capacity(dy.entries.len() + 4);
    for (i, &(tag, val)) in dy.entries.iter().enumerate() {
        let s = if is_string_tag(tag) {
            Some(string_at(table, val)?.to_vec())
        } else {
            None
        };
        ents.push(Ent {
            tag,
            val,
            old: Some(i),
            s,
            dirty: false,
        });
    }
    let vn = read_verneed(&m, data, &dy)?;
    let mut vn_file: Vec<Vec<u8>> = vn
        .records
        .iter()
        .map(|r| string_at(table, r.file.into()).map(<[u8]>::to_vec))
        .collect::<Result<_, _>>()?;
    let mut vn_dirty = vec![false; vn.records.len()];
    let mut changes = Vec::new();
    let is = |e: &Ent, tag: u64, s: &[u8]| e.tag == tag && e.s.as_deref() == Some(s);
    let new_ent = |tag: u64, s: &[u8]| Ent {
        tag,
        val: 0,
        old: None,
        s: Some(s.to_vec()),
        dirty: true,
    };
    let after_needed = |ents: &[Ent]| {
        ents.iter()
            .rposition(|e| e.tag == DT_NEEDED)
            .map_or(0, |i| i + 1)
    };

    // 1. Remove needed.
    let mut removed_libs: Vec<Vec<u8>> = Vec::new();
    for name in &p.remove_needed {
        let n = name.as_bytes();
        let before = ents.len();
        ents.retain(|e| !is(e, DT_NEEDED, n));
        if ents.len() != before {
            changes.push(format!("remove needed {name}"));
            removed_libs.push(n.to_vec());
        }
    }
    // 2. Replace needed (the version-need records name the file too).
    for (old, new) in &p.replace_needed {
        let (o, n) = (old.as_bytes(), new.as_bytes());
        if o == n {
            continue;
        }
        let mut hit = false;
        for e in ents.iter_mut().filter(|e| is(e, DT_NEEDED, o)) {
            e.s = Some(n.to_vec());
            e.dirty = true;
            hit = true;
        }
        if hit {
            for (f, d) in vn_file.iter_mut().zip(vn_dirty.iter_mut()) {
                if f == o {
                    *f = n.to_vec();
                    *d = true;
                }
            }
            changes.push(format!("replace needed {old} -> {new}"));
        }
    }
    // 3. Add needed.
    for name in &p.add_needed {
        let n = name.as_bytes();
        if !ents.iter().any(|e| is(e, DT_NEEDED, n)) {
            let at = after_needed(&ents);
            ents.insert(at, new_ent(DT_NEEDED, n));
            changes.push(format!("add needed {name}"));
        }
    }
    // 4. Soname.
    if let Some(name) = &p.set_soname {
        let n = name.as_bytes();
        match ents.iter_mut().find(|e| e.tag == DT_SONAME) {
            Some(e) if e.s.as_deref() == Some(n) => {}
            Some(e) => {
                changes.push(format!(
                    "soname {} -> {name}",
                    show(e.s.as_deref().unwrap_or_default())
                ));
                e.s = Some(n.to_vec());
                e.dirty = true;
            }
            None => {
                let at = after_needed(&ents);
                ents.insert(at, new_ent(DT_SONAME, n));
                changes.push(format!("set soname {name}"));
            }
        }
    }
    // 5. Search path.
    let is_path = |e: &Ent| e.tag == DT_RPATH || e.tag == DT_RUNPATH;
    match &p.set_rpath {
        None => {}
        Some(RpathChange::Remove) => {
            let before = ents.len();
            ents.retain(|e| !is_path(e));
            if ents.len() != before {
                changes.push("remove rpath/runpath".into());
            }
        }
        Some(RpathChange::ForceRpath) if ents.iter().any(|e| e.tag == DT_RUNPATH) => {
            // The loader ignores DT_RPATH next to DT_RUNPATH: the RUNPATH value wins.
            ents.retain(|e| e.tag != DT_RPATH);
            for e in ents.iter_mut().filter(|e| e.tag == DT_RUNPATH) {
                e.tag = DT_RPATH;
            }
            changes.push("runpath -> rpath".into());
        }
        Some(RpathChange::ForceRpath) => {}
        Some(RpathChange::Set { path, kind }) => {
            let (tag, name) = match kind {
                RpathKind::Rpath => (DT_RPATH, "rpath"),
                RpathKind::Runpath => (DT_RUNPATH, "runpath"),
            };
            let n = path.as_bytes();
            let paths: Vec<usize> = (0..ents.len()).filter(|&i| is_path(&ents[i])).collect();
            let done = paths.len() == 1 && is(&ents[paths[0]], tag, n);
            if !done {
                changes.push(format!("set {name} {path}"));
                match paths.first() {
                    Some(&first) => {
                        let e = &mut ents[first];
                        e.tag = tag;
                        if e.s.as_deref() != Some(n) {
                            e.s = Some(n.to_vec());
                            e.dirty = true;
                        }
                        let keep = first;
                        let mut i = 0;
                        ents.retain(|e| {
                            let drop = i != keep && is_path(e);
                            i += 1;
                            !drop
                        });
                    }
                    None => {
                        let at = ents
                            .iter()
                            .rposition(|e| e.tag == DT_NEEDED || e.tag == DT_SONAME)
                            .map_or(0, |i| i + 1);
                        ents.insert(at, new_ent(tag, n));
                    }
                }
            }
        }
    }
    // 6. Version requirements on removed files go too.
    let still_needed = |f: &[u8]| ents.iter().any(|e| is(e, DT_NEEDED, f));
    let vn_keep: Vec<bool> = vn_file
        .iter()
        .map(|f| !removed_libs.iter().any(|r| r == f) || still_needed(f))
        .collect();
    let vn_removed = vn_keep.iter().any(|k| !k);

    // A static PIE relocates itself and has no loader to read these: its startup code asserts
    // that they are absent.
    const DT_FLAGS_1: u64 = 0x6fff_fffb;
    const DF_1_PIE: u64 = 0x0800_0000;
    let static_pie = !m.phdrs.iter().any(|p| p.kind == model::PT_INTERP)
        && dy.get(DT_FLAGS_1).is_some_and(|f| f & DF_1_PIE != 0);
    if static_pie
        && !changes.is_empty()
        && ents
            .iter()
            .any(|e| matches!(e.tag, DT_NEEDED | DT_RPATH | DT_RUNPATH))
    {
        return Err(PatchError::Unsupported(
            "a static-pie executable cannot have DT_NEEDED, DT_RPATH or DT_RUNPATH".into(),
        ));
    }

    let old_size = data.len() as u64;
    if changes.is_empty() {
        return Ok(Patched {
            data: data.to_vec(),
            report: PatchReport {
                changes,
                old_size,
                new_size: old_size,
                segment: SegmentChange::None,
                strings_in_place: 0,
                strings_appended: 0,
                dynamic_moved: false,
                moved: Vec::new(),
            },
        });
    }

    // Strings: every reference into .dynstr, to know which slots may be overwritten.
    let mut refs: Vec<(u64, RefId)> = Vec::new();
    for (i, &(tag, val)) in dy.entries.iter().enumerate() {
        if is_string_tag(tag) {
            refs.push((val, RefId::Dyn(i)));
        }
    }
    for (k, r) in vn.records.iter().enumerate() {
        refs.push((r.file.into(), RefId::VnFile(k)));
        refs.extend(r.aux.iter().map(|a| (u64::from(a.name), RefId::Other)));
    }
    if let Some((names, _, _)) = read_verdef(&m, data, &dy)? {
        refs.extend(names.into_iter().map(|n| (u64::from(n), RefId::Other)));
    }
    let count = dynsym_count(&m, data, &dy)?;
    refs.extend(
        dynsym_names(&m, data, &dy, count)?
            .into_iter()
            .map(|n| (u64::from(n), RefId::Other)),
    );
    // A section linking to .dynstr that is none of the known users: never overwrite a slot.
    let in_place_ok = match section_at(&m, strtab_addr, Some(SHT_STRTAB)) {
        Some(idx) => m.shdrs.iter().all(|s| {
            s.link as usize != idx
                || matches!(
                    s.kind,
                    SHT_DYNSYM | SHT_DYNAMIC | SHT_GNU_VERNEED | SHT_GNU_VERDEF
                )
        }),
        None => true,
    };

    let mut requests: Vec<Request> = Vec::new();
    let mut push = |old: Option<u64>, new: &[u8], id: RefId| match requests
        .iter_mut()
        .find(|r| old.is_some() && r.old == old && r.new == new)
    {
        Some(r) => r.ids.push(id),
        None => requests.push(Request {
            old,
            new: new.to_vec(),
            ids: vec![id],
        }),
    };
    let mut added = 0;
    let mut ent_ids = Vec::with_capacity(ents.len());
    for e in &ents {
        let id = match e.old {
            Some(i) => RefId::Dyn(i),
            None => {
                added += 1;
                RefId::New(added - 1)
            }
        };
        ent_ids.push(id);
        if e.dirty {
            let old = e.old.map(|_| e.val);
            push(old, e.s.as_deref().unwrap_or_default(), id);
        }
    }
    for (k, r) in vn.records.iter().enumerate() {
        if vn_dirty[k] && vn_keep[k] {
            push(Some(r.file.into()), &vn_file[k], RefId::VnFile(k));
        }
    }
    // Strings only re-pointed or removed entries used are dead.
    let mut dead: Vec<RefId> = requests.iter().flat_map(|r| r.ids.clone()).collect();
    dead.extend(
        (0..dy.entries.len())
            .filter(|&i| !ents.iter().any(|e| e.old == Some(i)))
            .map(RefId::Dyn),
    );
    let item_list = items::items(&m, data, &dy)?;
    let blocks = items::blocks(&item_list)?;
    let reclaim = count.is_some() && layout::strtab_in_our_segment(&m, data, &blocks);
    let placed = strings::place(table, &refs, in_place_ok, &requests, &dead, reclaim);
    let offset_of = |id: RefId| {
        requests
            .iter()
            .zip(&placed.offsets)
            .find(|(r, _)| r.ids.contains(&id))
            .map(|(_, &o)| o)
    };
    for (e, id) in ents.iter_mut().zip(&ent_ids) {
        if let Some(o) = offset_of(*id) {
            e.val = o;
        }
    }

    // Version-need records: new file names, removed records.
    let mut work = data.to_vec();
    let mut verneed_info = None;
    if vn_removed {
        let kept = rewrite_verneed(
            c,
            &mut work,
            &m,
            &dy,
            &vn,
            &vn_keep,
            &|k| offset_of(RefId::VnFile(k)).unwrap_or(vn.records[k].file.into()),
            count,
        )?;
        let addr = dy.get(DT_VERNEED).unwrap_or_default();
        verneed_info = Some((addr, kept as u32));
        if kept == 0 {
            ents.retain(|e| e.tag != DT_VERNEED && e.tag != DT_VERNEEDNUM);
        } else {
            for e in ents.iter_mut().filter(|e| e.tag == DT_VERNEEDNUM) {
                e.val = kept as u64;
            }
        }
    } else {
        for (k, r) in vn.records.iter().enumerate() {
            if let Some(o) = offset_of(RefId::VnFile(k)) {
                c.put_u32(&mut work, r.at + 4, o as u32, "version needs")?;
            }
        }
    }

    let out = layout::apply(
        work,
        layout::Plan {
            m: &m,
            dy: &dy,
            blocks: &blocks,
            entries: ents.iter().map(|e| (e.tag, e.val)).collect(),
            table: placed.table,
            strtab_addr,
            strtab_off,
            old_strsz: table.len() as u64,
            verneed_info,
            margin: dynamic::dynsym_max_size(&m, data, &dy, count, 1 << 28),
        },
    )?;
    // The result must read back.
    crate::parse(&out.data)?;
    Ok(Patched {
        report: PatchReport {
            changes,
            old_size,
            new_size: out.data.len() as u64,
            segment: out.segment,
            strings_in_place: placed.in_place,
            strings_appended: placed.appended,
            dynamic_moved: out.dynamic_moved,
            moved: out.moved.iter().map(|k| kind_name(*k)).collect(),
        },
        data: out.data,
    })
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Interp => ".interp",
        Kind::Note => "notes",
        Kind::Dynamic => ".dynamic",
        Kind::Table(DT_STRTAB) => ".dynstr",
        Kind::Table(dynamic::DT_SYMTAB) => ".dynsym",
        Kind::Table(dynamic::DT_HASH) => ".hash",
        Kind::Table(dynamic::DT_GNU_HASH) => ".gnu.hash",
        Kind::Table(DT_VERSYM) => ".gnu.version",
        Kind::Table(DT_VERNEED) => ".gnu.version_r",
        Kind::Table(_) => ".gnu.version_d",
    }
}

/// Rewrite `.gnu.version_r` in place with only the kept records (packed from its start, the
/// rest zeroed) and make the symbols that used a dropped version unversioned. Returns the
/// number of records kept.
#[allow(clippy::too_many_arguments)]
fn rewrite_verneed(
    c: Codec,
    work: &mut [u8],
    m: &Model,
    dy: &Dynamic,
    vn: &dynamic::VerneedTable,
    keep: &[bool],
    file_of: &dyn Fn(usize) -> u64,
    count: Option<u64>,
) -> Result<usize, Error> {
    let t = "version needs";
    // Read everything first: records move towards the start.
    struct Rec {
        version: u16,
        file: u64,
        aux: Vec<(u32, u16, u16, u32)>,
    }
    let mut recs = Vec::new();
    let mut dropped: Vec<u16> = Vec::new();
    for (k, r) in vn.records.iter().enumerate() {
        if !keep[k] {
            dropped.extend(r.aux.iter().map(|a| a.other & 0x7fff));
            continue;
        }
        let mut aux = Vec::new();
        for a in &r.aux {
            aux.push((
                c.u32(work, a.at, t)?,
                c.u16(work, a.at + 4, t)?,
                c.u16(work, a.at + 6, t)?,
                c.u32(work, a.at + 8, t)?,
            ));
        }
        recs.push(Rec {
            version: c.u16(work, r.at, t)?,
            file: file_of(k),
            aux,
        });
    }
    let region = usize::try_from(vn.end - vn.start).unwrap_or(0);
    let mut out = vec![0u8; region];
    let mut o = 0u64;
    for (i, r) in recs.iter().enumerate() {
        let last = i + 1 == recs.len();
        let size = 16 + 16 * r.aux.len() as u64;
        c.put_u16(&mut out, o, r.version, t)?;
        c.put_u16(&mut out, o + 2, r.aux.len() as u16, t)?;
        c.put(&mut out, o + 4, 4, r.file, t)?;
        c.put_u32(&mut out, o + 8, if r.aux.is_empty() { 0 } else { 16 }, t)?;
        c.put_u32(&mut out, o + 12, if last { 0 } else { size as u32 }, t)?;
        for (j, &(hash, flags, other, name)) in r.aux.iter().enumerate() {
            let a = o + 16 + 16 * j as u64;
            c.put_u32(&mut out, a, hash, t)?;
            c.put_u16(&mut out, a + 4, flags, t)?;
            c.put_u16(&mut out, a + 6, other, t)?;
            c.put_u32(&mut out, a + 8, name, t)?;
            c.put_u32(
                &mut out,
                a + 12,
                if j + 1 == r.aux.len() { 0 } else { 16 },
                t,
            )?;
        }
        o += size;
    }
    buf::write_at(work, vn.start, &out, t)?;
    // Symbols bound to a dropped version index: unversioned (global) from now on.
    if let (Some(addr), false) = (dy.get(DT_VERSYM), dropped.is_empty()) {
        let (off, avail) = m.addr_to_offset(addr)?;
        let n = match count {
            Some(n) => n,
            None => crate::parse(work)?.dynamic_symbols.len() as u64 + 1,
        }
        .min(avail / 2);
        for i in 0..n {
            let v = c.u16(work, off + 2 * i, ".gnu.version")?;
            if dropped.contains(&(v & 0x7fff)) {
                c.put_u16(work, off + 2 * i, 1, ".gnu.version")?;
            }
        }
    }
    Ok(recs.len())
}
