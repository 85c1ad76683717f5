//! Wheel file names: table of good and bad names, normalisation, Display round trip.

use manywheel_wheel::{Error, WheelFilename};
use proptest::prelude::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn good_names() {
    // (file name, name, version, build, python, abi, platform)
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        &'a [&'a str],
        &'a [&'a str],
        &'a [&'a str],
    );
    let table: &[Row] = &[
        (
            "numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "numpy",
            "2.2.6",
            None,
            &["cp311"],
            &["cp311"],
            &["manylinux_2_17_x86_64", "manylinux2014_x86_64"],
        ),
        (
            "demo-1.0-1-py3-none-any.whl",
            "demo",
            "1.0",
            Some("1"),
            &["py3"],
            &["none"],
            &["any"],
        ),
        (
            "demo-1.0-2abc-py2.py3-none-any.whl",
            "demo",
            "1.0",
            Some("2abc"),
            &["py2", "py3"],
            &["none"],
            &["any"],
        ),
        (
            "zope.interface-6.0-cp311-cp311-musllinux_1_1_x86_64.whl",
            "zope.interface",
            "6.0",
            None,
            &["cp311"],
            &["cp311"],
            &["musllinux_1_1_x86_64"],
        ),
        (
            "PyYAML-6.0-cp37-cp37m-manylinux_2_5_x86_64.manylinux1_x86_64.manylinux_2_12_x86_64.manylinux2010_x86_64.whl",
            "PyYAML",
            "6.0",
            None,
            &["cp37"],
            &["cp37m"],
            &["manylinux_2_5_x86_64", "manylinux1_x86_64", "manylinux_2_12_x86_64", "manylinux2010_x86_64"],
        ),
        (
            "torch-2.1.0+cpu-cp311-cp311-linux_x86_64.whl",
            "torch",
            "2.1.0+cpu",
            None,
            &["cp311"],
            &["cp311"],
            &["linux_x86_64"],
        ),
        (
            "/some/dir/cryptography-42.0.8-cp39-abi3-musllinux_1_1_x86_64.whl",
            "cryptography",
            "42.0.8",
            None,
            &["cp39"],
            &["abi3"],
            &["musllinux_1_1_x86_64"],
        ),
    ];
    for &(file, name, version, build, py, abi, plat) in table {
        let f = WheelFilename::parse(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(f.name, name, "{file}");
        assert_eq!(f.version, version, "{file}");
        assert_eq!(f.build.as_deref(), build, "{file}");
        assert_eq!(f.python_tags, s(py), "{file}");
        assert_eq!(f.abi_tags, s(abi), "{file}");
        assert_eq!(f.platform_tags, s(plat), "{file}");
        let base = file.rsplit('/').next().unwrap();
        assert_eq!(f.to_string(), base, "Display round trip");
        assert_eq!(WheelFilename::parse(&f.to_string()).unwrap(), f);
    }
}

#[test]
fn bad_names() {
    // (file name, expected fragment of the reason)
    let table = [
        (
            "numpy-2.2.6-cp311.whl",
            "expected 5 or 6 dash-separated parts, found 3",
        ),
        (
            "a-1-2-3-py3-none-any.whl",
            "expected 5 or 6 dash-separated parts, found 7",
        ),
        ("demo-1.0-py3-none-any.zip", "does not end in \".whl\""),
        ("demo-1.0-py3-none-any", "does not end in \".whl\""),
        (
            "demo-1.0-abc-py3-none-any.whl",
            "build tag \"abc\" must start with a digit",
        ),
        (
            "demo-1.0--py3-none-any.whl",
            "build tag \"\" must start with a digit",
        ),
        ("-1.0-py3-none-any.whl", "empty distribution name"),
        ("demo--py3-none-any.whl", "empty version"),
        ("demo-1.0-py3..py2-none-any.whl", "empty python tag"),
        ("demo-1.0-py3-none-.whl", "empty platform tag"),
        ("demo-1.0-py3--any.whl", "empty ABI tag"),
        ("de mo-1.0-py3-none-any.whl", "invalid character"),
        (
            "_demo-1.0-py3-none-any.whl",
            "must start and end with a letter or digit",
        ),
        ("demo-1.0-py3-none-any x.whl", "invalid character"),
        (".whl", "expected 5 or 6"),
    ];
    for (file, fragment) in table {
        match WheelFilename::parse(file) {
            Err(Error::Filename { name, reason }) => {
                assert_eq!(name, file, "error names the file");
                assert!(
                    reason.contains(fragment),
                    "{file}: {reason:?} lacks {fragment:?}"
                );
            }
            other => panic!("{file}: expected a Filename error, got {other:?}"),
        }
    }
    let e = WheelFilename::parse("numpy-2.2.6-cp311.whl").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid wheel file name \"numpy-2.2.6-cp311.whl\": expected 5 or 6 dash-separated parts, found 3"
    );
}

#[test]
fn normalized_names() {
    for (file, norm) in [
        ("PyYAML-6.0-cp37-cp37m-linux_x86_64.whl", "pyyaml"),
        ("zope.interface-6.0-py3-none-any.whl", "zope_interface"),
        ("Foo_._Bar-1-py3-none-any.whl", "foo_bar"),
        (
            "psycopg2_binary-2.9.9-cp311-cp311-linux_x86_64.whl",
            "psycopg2_binary",
        ),
    ] {
        assert_eq!(
            WheelFilename::parse(file).unwrap().normalized_name(),
            norm,
            "{file}"
        );
    }
}

#[test]
fn with_platform_tags_and_expanded_tags() {
    let f = WheelFilename::parse("demo-1.0-7-cp311-cp311-linux_x86_64.whl").unwrap();
    let g = f.with_platform_tags(s(&["manylinux_2_17_x86_64", "manylinux2014_x86_64"]));
    assert_eq!(
        g.to_string(),
        "demo-1.0-7-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    );
    assert_eq!(g.build.as_deref(), Some("7"));
    assert_eq!(f.platform_tags, s(&["linux_x86_64"]), "original unchanged");
    let h = WheelFilename::parse("demo-1.0-py2.py3-none-any.whl").unwrap();
    assert_eq!(h.tags(), s(&["py2-none-any", "py3-none-any"]));
}

fn tag() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9_]{0,12}"
}

proptest! {
    /// Any well-formed set of fields prints to a name that parses back to the same fields.
    #[test]
    fn display_parse_round_trip(
        name in "[A-Za-z0-9]([A-Za-z0-9._]{0,10}[A-Za-z0-9])?",
        version in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(\\+[a-z0-9]{1,5})?",
        build in proptest::option::of("[0-9][a-z0-9_]{0,4}"),
        py in proptest::collection::vec(tag(), 1..3),
        abi in proptest::collection::vec(tag(), 1..3),
        plat in proptest::collection::vec(tag(), 1..4),
    ) {
        let f = WheelFilename {
            name, version, build, python_tags: py, abi_tags: abi, platform_tags: plat,
        };
        let text = f.to_string();
        prop_assert_eq!(WheelFilename::parse(&text).unwrap(), f);
    }

    /// Parsing never panics, and whatever parses prints back to the same text.
    #[test]
    fn parse_is_total(text in "[a-zA-Z0-9._+!-]{0,40}(\\.whl)?") {
        if let Ok(f) = WheelFilename::parse(&text) {
            prop_assert_eq!(f.to_string(), text);
        }
    }
}
