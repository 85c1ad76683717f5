//! RECORD and WHEEL parsing, and the digest helper.

use manywheel_wheel::{hash_digest, Record, RecordEntry, WheelMetadata};
use proptest::prelude::*;

#[test]
fn digest_matches_known_value() {
    // sha256("") in urlsafe base64 without padding.
    assert_eq!(
        hash_digest(b""),
        "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
    );
    assert_eq!(
        hash_digest(b"hello\n"),
        "WJG1tSLV3whtD_CxEPvZ0hu0_HFjrzTQgoai6Eb2vgM"
    );
}

#[test]
fn parse_record_rows() {
    let text = "demo/__init__.py,sha256=abc_-,12\r\n\
                \"demo/a,b \"\"q\"\".txt\",sha256=xyz,3\n\
                \n\
                demo-1.0.dist-info/RECORD,,\n\
                demo/x.py,sha512=zz,\n";
    let r = Record::parse(text).unwrap();
    assert_eq!(
        r.entries,
        vec![
            RecordEntry {
                path: "demo/__init__.py".into(),
                hash: Some(("sha256".into(), "abc_-".into())),
                size: Some(12)
            },
            RecordEntry {
                path: "demo/a,b \"q\".txt".into(),
                hash: Some(("sha256".into(), "xyz".into())),
                size: Some(3)
            },
            RecordEntry {
                path: "demo-1.0.dist-info/RECORD".into(),
                hash: None,
                size: None
            },
            RecordEntry {
                path: "demo/x.py".into(),
                hash: Some(("sha512".into(), "zz".into())),
                size: None
            },
        ]
    );
    assert_eq!(r.get("demo/a,b \"q\".txt").unwrap().size, Some(3));
    assert!(r.get("missing").is_none());
    // No trailing newline is fine too.
    assert_eq!(Record::parse("a,,").unwrap().entries.len(), 1);
}

#[test]
fn bad_records() {
    for (text, fragment) in [
        ("a,sha256=x\n", "line 1: expected 3 fields, found 2"),
        ("ok,,\na,b,c,d\n", "line 2: expected 3 fields, found 4"),
        ("a,sha256=x,12x\n", "invalid size"),
        ("a,nohash,1\n", "algorithm=digest"),
        ("a,sha256=,1\n", "algorithm=digest"),
        ("\"a,,\n", "unterminated quoted field"),
        ("\"a\"b,,\n", "after the closing quote"),
        (",sha256=x,1\n", "empty path"),
    ] {
        let err = Record::parse(text).unwrap_err();
        assert!(
            err.contains(fragment),
            "{text:?}: {err:?} lacks {fragment:?}"
        );
    }
}

#[test]
fn record_display_round_trip() {
    let r = Record {
        entries: vec![
            RecordEntry {
                path: "x/a,b.py".into(),
                hash: Some(("sha256".into(), hash_digest(b"1"))),
                size: Some(1),
            },
            RecordEntry {
                path: "x-1.dist-info/RECORD".into(),
                hash: None,
                size: None,
            },
        ],
    };
    let text = r.to_string();
    assert_eq!(
        text,
        format!(
            "\"x/a,b.py\",sha256={},1\nx-1.dist-info/RECORD,,\n",
            hash_digest(b"1")
        )
    );
    assert_eq!(Record::parse(&text).unwrap(), r);
}

proptest! {
    /// Any paths (commas, quotes, newlines included) survive Display then parse.
    #[test]
    fn record_round_trip(rows in proptest::collection::vec(
        ("(?s).{1,20}", proptest::option::of("[A-Za-z0-9_-]{1,10}"), proptest::option::of(0u64..1_000_000)),
        0..8,
    )) {
        let r = Record {
            entries: rows
                .into_iter()
                .map(|(path, digest, size)| RecordEntry {
                    path,
                    hash: digest.map(|d| ("sha256".to_string(), d)),
                    size,
                })
                .collect(),
        };
        prop_assert_eq!(Record::parse(&r.to_string()).unwrap(), r);
    }
}

#[test]
fn parse_wheel_metadata() {
    let text = "Wheel-Version: 1.0\n\
                Generator: bdist_wheel (0.41.2)\n\
                Root-Is-Purelib: false\n\
                Tag: cp311-cp311-manylinux_2_17_x86_64\n\
                tag: cp311-cp311-manylinux2014_x86_64\n\
                Build: 3\n\
                X-Unknown: whatever\n\
                \n\
                Tag: body-is-ignored\n";
    let m = WheelMetadata::parse(text).unwrap();
    assert_eq!(m.wheel_version.as_deref(), Some("1.0"));
    assert_eq!(m.wheel_version_tuple(), Some((1, 0)));
    assert_eq!(m.generator.as_deref(), Some("bdist_wheel (0.41.2)"));
    assert_eq!(m.root_is_purelib, Some(false));
    assert_eq!(m.build.as_deref(), Some("3"));
    assert_eq!(
        m.tags,
        vec![
            "cp311-cp311-manylinux_2_17_x86_64",
            "cp311-cp311-manylinux2014_x86_64"
        ]
    );
    let m = WheelMetadata::parse(
        "Wheel-Version: 1.0\r\nRoot-Is-Purelib: True\r\nGenerator: a\r\n  b\r\n",
    )
    .unwrap();
    assert_eq!(m.root_is_purelib, Some(true));
    assert_eq!(m.generator.as_deref(), Some("a b"));
    assert_eq!(WheelMetadata::parse("").unwrap(), WheelMetadata::default());
}

#[test]
fn bad_wheel_metadata() {
    for (text, fragment) in [
        ("Wheel-Version 1.0\n", "expected \"Key: value\""),
        ("Root-Is-Purelib: maybe\n", "true or false"),
        ("Wheel-Version: 1.0\nWheel-Version: 1.0\n", "more than once"),
        ("  continued\n", "continuation"),
        (": x\n", "empty key"),
    ] {
        let err = WheelMetadata::parse(text).unwrap_err();
        assert!(
            err.contains(fragment),
            "{text:?}: {err:?} lacks {fragment:?}"
        );
    }
}
