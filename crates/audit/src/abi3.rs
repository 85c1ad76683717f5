//! The abi3 check: extensions of a wheel tagged `abi3` may only use the stable ABI, and only the
//! part of it that exists in the oldest Python the wheel claims.

use std::collections::{BTreeMap, BTreeSet};

use manywheel_elf::ElfFile;
use manywheel_policy::abi3_symbol;
use manywheel_wheel::WheelFilename;

use crate::report::Abi3Report;

/// The lowest `cpXY` Python version of the file name's python tags.
fn claimed_version(filename: &WheelFilename) -> Option<(u32, u32)> {
    filename
        .python_tags
        .iter()
        .filter_map(|t| {
            let digits = t.strip_prefix("cp")?;
            let (major, minor) = digits.split_at(1.min(digits.len()));
            Some((major.parse().ok()?, minor.parse().ok()?))
        })
        .min()
}

/// Whether an undefined symbol is part of CPython's C API namespace.
fn is_python_api(name: &str) -> bool {
    name.starts_with("Py") || name.starts_with("_Py")
}

/// Check the extensions of an `abi3` wheel; `None` for wheels not tagged abi3.
pub fn check<'a>(
    filename: &WheelFilename,
    extensions: impl Iterator<Item = (&'a str, &'a ElfFile)>,
) -> Option<Abi3Report> {
    if !filename.abi_tags.iter().any(|t| t == "abi3") {
        return None;
    }
    let claimed = claimed_version(filename);
    let mut required: Option<(u32, u32)> = None;
    let mut non_abi3: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut too_new: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, elf) in extensions {
        let used: BTreeSet<&str> = elf
            .dynamic_symbols
            .iter()
            .filter(|s| s.undefined && is_python_api(&s.name))
            .map(|s| s.name.as_str())
            .collect();
        for name in used {
            match abi3_symbol(name) {
                None => non_abi3
                    .entry(path.to_string())
                    .or_default()
                    .push(name.to_string()),
                Some(sym) => {
                    required = required.max(Some(sym.added));
                    if claimed.is_some_and(|c| sym.added > c) {
                        too_new
                            .entry(path.to_string())
                            .or_default()
                            .push(format!("{name} ({}.{})", sym.added.0, sym.added.1));
                    }
                }
            }
        }
    }
    let show = |v: Option<(u32, u32)>| v.map(|(a, b)| format!("{a}.{b}"));
    Some(Abi3Report {
        claimed: show(claimed),
        required: show(required),
        ok: non_abi3.is_empty() && too_new.is_empty(),
        non_abi3_symbols: non_abi3,
        too_new_symbols: too_new,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claimed_versions() {
        let f = |n: &str| claimed_version(&WheelFilename::parse(n).unwrap());
        assert_eq!(f("x-1-cp37-abi3-linux_x86_64.whl"), Some((3, 7)));
        assert_eq!(f("x-1-cp310-abi3-linux_x86_64.whl"), Some((3, 10)));
        assert_eq!(f("x-1-cp39.cp311-abi3-linux_x86_64.whl"), Some((3, 9)));
        assert_eq!(f("x-1-py3-none-any.whl"), None);
    }
}
