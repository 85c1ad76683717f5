//! Placing strings in `.dynstr`: overwrite a slot nobody else uses, point at a string that is
//! already there, or append.

/// Who refers to a string of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefId {
    /// Dynamic entry, by index among the original entries.
    Dyn(usize),
    /// `vn_file` of a version-need record, by index.
    VnFile(usize),
    /// A dynamic entry the patch adds, by index among the added ones.
    New(usize),
    /// Anything the patch never changes (symbol names, version names, ...).
    Other,
}

/// A string some references must point at after the patch.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// The offset all of `ids` point at now (`None` for a new reference).
    pub old: Option<u64>,
    pub new: Vec<u8>,
    pub ids: Vec<RefId>,
}

/// The planned table and where each request's string lives in it.
#[derive(Debug)]
pub(crate) struct Placement {
    pub table: Vec<u8>,
    /// Offset per request, in request order.
    pub offsets: Vec<u64>,
    pub in_place: usize,
    pub appended: usize,
}

/// Length of the string at `off` (without NUL), if it is terminated inside the table.
fn str_len(table: &[u8], off: u64) -> Option<u64> {
    let rest = table.get(usize::try_from(off).ok()?..)?;
    rest.iter().position(|&b| b == 0).map(|n| n as u64)
}

/// Offset of `s` as a NUL-terminated string (possibly the tail of a longer one) in `table`.
fn find(table: &[u8], s: &[u8]) -> Option<u64> {
    let n = s.len();
    if n == 0 {
        return table.iter().position(|&b| b == 0).map(|p| p as u64);
    }
    let first = s[0];
    let mut i = 0;
    while i + n < table.len() {
        match table[i..table.len() - n].iter().position(|&b| b == first) {
            None => return None,
            Some(p) => i += p,
        }
        if table[i + n] == 0 && &table[i..i + n] == s {
            return Some(i as u64);
        }
        i += 1;
    }
    None
}

/// Plan the new table. `refs` are all references into the current table; `in_place_ok` is false
/// when some user of the table may be unknown (then no slot is ever overwritten). With
/// `reclaim`, strings at the end of the table that only references in `dead` (moving away or
/// removed) used are dropped before new ones are appended.
pub(crate) fn place(
    old: &[u8],
    refs: &[(u64, RefId)],
    in_place_ok: bool,
    requests: &[Request],
    dead: &[RefId],
    reclaim: bool,
) -> Placement {
    let mut table = old.to_vec();
    let mut offsets: Vec<Option<u64>> = vec![None; requests.len()];
    let (mut in_place, mut appended) = (0, 0);
    // 1. Overwrite slots used only by the references that move to the same new string.
    if in_place_ok {
        for (i, r) in requests.iter().enumerate() {
            let Some(o) = r.old else { continue };
            let Some(len) = str_len(&table, o) else {
                continue;
            };
            if table.get(o as usize..(o + len) as usize) == Some(&r.new[..]) {
                // Already that string (e.g. replaced back and forth).
                offsets[i] = Some(o);
                continue;
            }
            if r.new.len() as u64 > len || r.new.contains(&0) {
                continue;
            }
            let end = o + len;
            let exclusive = refs
                .iter()
                .filter(|(at, _)| (o..=end).contains(at))
                .all(|(at, id)| *at == o && r.ids.contains(id));
            // Another request may already have rewritten this slot (same old offset).
            let taken = requests[..i]
                .iter()
                .zip(&offsets)
                .any(|(q, off)| q.old == Some(o) && off.is_some());
            if !exclusive || taken {
                continue;
            }
            let (start, stop) = (o as usize, end as usize);
            table[start..start + r.new.len()].copy_from_slice(&r.new);
            table[start + r.new.len()..=stop].fill(0);
            offsets[i] = Some(o);
            in_place += 1;
        }
    }
    // 2. Drop dead strings from the end of the table.
    if reclaim && in_place_ok {
        let live = |id: &RefId| {
            !dead.contains(id)
                || requests
                    .iter()
                    .zip(&offsets)
                    .any(|(r, o)| o.is_some() && r.ids.contains(id))
        };
        let mut end = table.len();
        while end > 1 && table[end - 1] == 0 {
            let start = table[..end - 1]
                .iter()
                .rposition(|&b| b == 0)
                .map_or(0, |p| p + 1);
            let inside: Vec<&(u64, RefId)> = refs
                .iter()
                .filter(|(at, _)| (start as u64..end as u64).contains(at))
                .collect();
            let droppable = start > 0
                && inside.iter().any(|(at, _)| *at == start as u64)
                && inside.iter().all(|(_, id)| !live(id));
            if !droppable {
                break;
            }
            end = start;
        }
        table.truncate(end);
    }
    // 3. Point at an existing string or append a new one.
    for (i, r) in requests.iter().enumerate() {
        if offsets[i].is_some() {
            continue;
        }
        if let Some(at) = find(&table, &r.new) {
            offsets[i] = Some(at);
            continue;
        }
        offsets[i] = Some(table.len() as u64);
        table.extend_from_slice(&r.new);
        table.push(0);
        appended += 1;
    }
    Placement {
        table,
        offsets: offsets.into_iter().map(|o| o.unwrap_or(0)).collect(),
        in_place,
        appended,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_whole_and_tail() {
        let t = b"\0libfoo.so.1\0bar\0";
        assert_eq!(find(t, b"libfoo.so.1"), Some(1));
        assert_eq!(find(t, b"foo.so.1"), Some(4));
        assert_eq!(find(t, b"bar"), Some(13));
        assert_eq!(find(t, b"ba"), None);
        assert_eq!(find(t, b""), Some(0));
        assert_eq!(find(b"abc", b"abc"), None);
    }

    #[test]
    fn shared_tail_is_not_overwritten() {
        let t = b"\0libfoo.so.1\0".to_vec();
        let req = Request {
            old: Some(1),
            new: b"libx.so".to_vec(),
            ids: vec![RefId::Dyn(0)],
        };
        // Someone else points into the tail: append.
        let refs = [(1, RefId::Dyn(0)), (4, RefId::Other)];
        let p = place(&t, &refs, true, std::slice::from_ref(&req), &[], false);
        assert_eq!(p.appended, 1);
        assert_eq!(&p.table[..t.len()], &t[..]);
        // Exclusive: in place, the rest of the slot cleared.
        let p = place(&t, &refs[..1], true, std::slice::from_ref(&req), &[], false);
        assert_eq!(p.in_place, 1);
        assert_eq!(p.table, b"\0libx.so\0\0\0\0\0".to_vec());
        assert_eq!(p.offsets, vec![1]);
    }

    #[test]
    fn dead_tail_is_reclaimed() {
        let t = b"\0keep\0old-name-1\0".to_vec();
        let req = Request {
            old: Some(6),
            new: b"a-longer-new-name".to_vec(),
            ids: vec![RefId::Dyn(0)],
        };
        let refs = [(6, RefId::Dyn(0)), (1, RefId::Other)];
        let p = place(
            &t,
            &refs,
            true,
            std::slice::from_ref(&req),
            &[RefId::Dyn(0)],
            true,
        );
        assert_eq!(p.table, b"\0keep\0a-longer-new-name\0".to_vec());
        assert_eq!(p.offsets, vec![6]);
        // Without reclaiming, the old string stays.
        let p = place(
            &t,
            &refs,
            true,
            std::slice::from_ref(&req),
            &[RefId::Dyn(0)],
            false,
        );
        assert_eq!(p.offsets, vec![t.len() as u64]);
        // A live reference into the tail keeps it.
        let refs = [(6, RefId::Dyn(0)), (10, RefId::Other)];
        let p = place(
            &t,
            &refs,
            true,
            std::slice::from_ref(&req),
            &[RefId::Dyn(0)],
            true,
        );
        assert_eq!(p.offsets, vec![t.len() as u64]);
    }
}
