//! Debian package versions (`[epoch:]upstream[-revision]`) and their ordering, as specified in
//! Debian Policy §5.6.12: alternating non-digit and digit runs, `~` sorting before everything
//! (even the end of the string), letters before other characters, digit runs compared as
//! numbers.

use std::cmp::Ordering;
use std::fmt;

/// A version relation operator of a dependency field (Policy §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Relation {
    /// `<<`
    Less,
    /// `<=` (also the obsolete `<`)
    LessEq,
    /// `=`
    Eq,
    /// `>=` (also the obsolete `>`)
    GreaterEq,
    /// `>>`
    Greater,
}

impl Relation {
    /// Parse an operator as written in a dependency field.
    pub fn parse(s: &str) -> Option<Relation> {
        Some(match s {
            "<<" => Relation::Less,
            "<=" | "<" => Relation::LessEq,
            "=" => Relation::Eq,
            ">=" | ">" => Relation::GreaterEq,
            ">>" => Relation::Greater,
            _ => return None,
        })
    }

    /// Whether `candidate OP reference` holds.
    pub fn holds(self, candidate: &str, reference: &str) -> bool {
        let ord = compare(candidate, reference);
        match self {
            Relation::Less => ord == Ordering::Less,
            Relation::LessEq => ord != Ordering::Greater,
            Relation::Eq => ord == Ordering::Equal,
            Relation::GreaterEq => ord != Ordering::Less,
            Relation::Greater => ord == Ordering::Greater,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Less => "<<",
            Relation::LessEq => "<=",
            Relation::Eq => "=",
            Relation::GreaterEq => ">=",
            Relation::Greater => ">>",
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Split a version into (epoch, upstream, revision). A missing epoch is 0, a missing revision
/// is empty (which sorts like "0" would not: Policy says absent revision equals empty string).
fn split(v: &str) -> (u64, &str, &str) {
    let v = v.trim();
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((up, rev)) => (epoch, up, rev),
        None => (epoch, rest, ""),
    }
}

/// Sort weight of one character of a non-digit run (`None` = end of string).
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: compare an upstream version or a revision.
fn compare_part(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0usize, 0usize);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (wa, wb) = (weight(a.get(i).copied()), weight(b.get(j).copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// Compare two Debian versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| compare_part(ua.as_bytes(), ub.as_bytes()))
        .then_with(|| compare_part(ra.as_bytes(), rb.as_bytes()))
}

/// The upstream part of a version: no epoch, no Debian revision (`1:2.36-9+deb12u4` → `2.36`).
pub fn upstream(v: &str) -> &str {
    split(v).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_examples() {
        let lt = [
            ("1.0~rc1", "1.0"),
            ("1.0", "1.0-1"),
            ("1.0-1", "1.0-2"),
            ("2.36-9+deb12u4", "2.36-9+deb12u10"),
            ("1.0", "1:0.1"),
            ("1.0a", "1.0b"),
            ("1.0", "1.0a"),
            ("1.0a", "1.0+"),
            ("1.9", "1.10"),
            ("3.11.2-6", "3.11.2-6+deb12u1"),
            ("~~", "~~a"),
            ("~~a", "~"),
            ("~", ""),
            ("1.2.3~", "1.2.3"),
            ("0.9", "1.0.0"),
            ("1.0.0", "1.0.00a"),
        ];
        for (a, b) in lt {
            assert_eq!(compare(a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(compare(b, a), Ordering::Greater, "{b} > {a}");
        }
        assert_eq!(compare("1.01", "1.1"), Ordering::Equal);
        assert_eq!(compare("0:1.0-1", "1.0-1"), Ordering::Equal);
    }

    #[test]
    fn relations() {
        assert!(Relation::GreaterEq.holds("2.36-9", "2.34"));
        assert!(!Relation::Less.holds("2.36-9", "2.34"));
        assert!(Relation::Less.holds("3.11.1", "3.12~"));
        assert!(Relation::Eq.holds("1:1.2-3", "1:1.2-3"));
        assert!(Relation::Greater.holds("1:0", "9.9"));
        assert_eq!(Relation::parse(">"), Some(Relation::GreaterEq));
        assert_eq!(Relation::parse("<"), Some(Relation::LessEq));
        assert_eq!(Relation::parse("=>"), None);
    }

    #[test]
    fn upstream_part() {
        assert_eq!(upstream("2.36-9+deb12u10"), "2.36");
        assert_eq!(upstream("1:3.11.2-1+b1"), "3.11.2");
        assert_eq!(upstream("3.11.2"), "3.11.2");
        assert_eq!(upstream("1:2.0-rc-3"), "2.0-rc");
    }
}
