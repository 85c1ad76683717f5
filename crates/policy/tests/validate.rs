//! PEP 600 validation of embedded and custom policy files.

use manywheel_policy::{embedded_records, validate, Arch, Error, Libc, PolicySet};
use serde_json::{json, Value};

fn embedded_value(libc: Libc) -> Value {
    serde_json::from_str(libc.embedded_json()).unwrap()
}

fn policy_mut<'a>(v: &'a mut Value, name: &str) -> &'a mut Value {
    v.as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no policy {name}"))
}

fn rejected(v: &Value, libc: Libc) -> String {
    match PolicySet::from_json(&v.to_string(), libc, Arch::X86_64) {
        Err(Error::Data(msg)) => msg,
        Err(e) => panic!("wrong error kind: {e}"),
        Ok(_) => panic!("accepted an invalid policy file"),
    }
}

#[test]
fn embedded_data_is_valid() {
    for libc in [Libc::Glibc, Libc::Musl] {
        validate(embedded_records(libc), libc).unwrap();
        for arch in Arch::ALL {
            PolicySet::from_json(libc.embedded_json(), libc, arch).unwrap();
        }
    }
}

#[test]
fn removed_glibc_version_is_rejected_with_precise_message() {
    let mut v = embedded_value(Libc::Glibc);
    let glibc = policy_mut(&mut v, "manylinux_2_24")["symbol_versions"]["aarch64"]["GLIBC"]
        .as_array_mut()
        .unwrap();
    let before = glibc.len();
    glibc.retain(|x| x != "2.17");
    assert_eq!(glibc.len(), before - 1);
    let msg = rejected(&v, Libc::Glibc);
    assert!(msg.contains("manylinux_2_24"), "{msg}");
    assert!(msg.contains("aarch64"), "{msg}");
    assert!(msg.contains("GLIBC_2.17"), "{msg}");
    assert!(
        msg.contains("manylinux_2_17"),
        "names the policy that allows it: {msg}"
    );
    // The error is independent of the arch the set is built for.
    assert!(PolicySet::from_json(&v.to_string(), Libc::Glibc, Arch::Riscv64).is_err());
}

#[test]
fn removed_version_in_newest_policy_is_rejected() {
    let mut v = embedded_value(Libc::Glibc);
    policy_mut(&mut v, "manylinux_2_41")["symbol_versions"]["riscv64"]["GLIBCXX"]
        .as_array_mut()
        .unwrap()
        .retain(|x| x != "3.4.25");
    let msg = rejected(&v, Libc::Glibc);
    assert!(
        msg.contains("manylinux_2_41") && msg.contains("riscv64"),
        "{msg}"
    );
    assert!(msg.contains("GLIBCXX_3.4.25"), "{msg}");
}

#[test]
fn removed_whitelist_library_is_rejected() {
    let mut v = embedded_value(Libc::Glibc);
    policy_mut(&mut v, "manylinux_2_28")["lib_whitelist"]
        .as_array_mut()
        .unwrap()
        .retain(|x| x != "libGL.so.1");
    let msg = rejected(&v, Libc::Glibc);
    assert!(
        msg.contains("manylinux_2_28") && msg.contains("libGL.so.1"),
        "{msg}"
    );
}

#[test]
fn newly_constrained_namespace_is_rejected() {
    let mut v = embedded_value(Libc::Glibc);
    policy_mut(&mut v, "manylinux_2_31")["symbol_versions"]["x86_64"]["OPENSSL"] = json!(["1.1.1"]);
    let msg = rejected(&v, Libc::Glibc);
    assert!(
        msg.contains("manylinux_2_31") && msg.contains("OPENSSL"),
        "{msg}"
    );
}

#[test]
fn structural_rules() {
    let linux = json!({"name": "linux", "aliases": [], "priority": 0,
        "symbol_versions": {}, "lib_whitelist": [], "blacklist": {}});
    let p = |name: &str, prio: u32, aliases: Value| {
        json!({"name": name, "aliases": aliases, "priority": prio,
            "symbol_versions": {"x86_64": {"GLIBC": ["2.5"]}},
            "lib_whitelist": ["libc.so.6"], "blacklist": {}})
    };
    let ok = json!([linux, p("manylinux_2_5", 100, json!(["manylinux1"]))]);
    PolicySet::from_json(&ok.to_string(), Libc::Glibc, Arch::X86_64).unwrap();

    let cases: Vec<(Value, &str)> = vec![
        (json!([p("manylinux_2_5", 100, json!([]))]), "\"linux\""),
        (json!([]), "no policies"),
        (
            json!([
                linux,
                p("manylinux_2_5", 100, json!([])),
                p("manylinux_2_5", 90, json!([]))
            ]),
            "manylinux_2_5",
        ),
        (
            json!([
                linux,
                p("manylinux_2_5", 100, json!([])),
                p("manylinux_2_12", 100, json!([]))
            ]),
            "priority 100",
        ),
        (
            json!([
                linux,
                p("manylinux_2_5", 100, json!(["x"])),
                p("manylinux_2_12", 90, json!(["x"]))
            ]),
            "\"x\"",
        ),
        (
            json!([{"name": "linux", "priority": 5}, p("manylinux_2_5", 100, json!([]))]),
            "priority 0",
        ),
        (json!([linux, p("manylinux_2_5", 0, json!([]))]), "priority"),
        (json!([linux, p("mylinux_1", 100, json!([]))]), "mylinux_1"),
        (
            json!([linux, p("musllinux_1_1", 100, json!([]))]),
            "musllinux_1_1",
        ),
        (
            json!([
                linux,
                p("manylinux_2_17", 100, json!([])),
                p("manylinux_2_5", 90, json!([]))
            ]),
            "newer version",
        ),
    ];
    for (value, needle) in cases {
        let msg = rejected(&value, Libc::Glibc);
        assert!(
            msg.contains(needle),
            "{needle:?} not in {msg:?} for {value}"
        );
    }
    // Not JSON / wrong shape.
    assert!(matches!(
        PolicySet::from_json("{", Libc::Glibc, Arch::X86_64),
        Err(Error::Data(_))
    ));
    assert!(matches!(
        PolicySet::from_json(
            r#"[{"name": "linux", "priority": 0, "bogus": 1}]"#,
            Libc::Glibc,
            Arch::X86_64
        ),
        Err(Error::Data(_))
    ));
}

#[test]
fn custom_policy_file_for_musl_and_glibc() {
    let custom = json!([
        {"name": "linux", "aliases": [], "priority": 0, "symbol_versions": {},
         "lib_whitelist": [], "blacklist": {}},
        {"name": "manylinux_2_28", "aliases": ["corp2"], "priority": 64,
         "symbol_versions": {"aarch64": {"GLIBC": ["2.17", "2.28"]}},
         "lib_whitelist": ["libc.so.6", "libm.so.6"], "blacklist": {}},
        {"name": "manylinux_2_34", "aliases": [], "priority": 58,
         "symbol_versions": {"aarch64": {"GLIBC": ["2.17", "2.28", "2.34"]}},
         "lib_whitelist": ["libc.so.6", "libm.so.6", "libz.so.1"], "blacklist": {}}
    ]);
    let set = PolicySet::from_json(&custom.to_string(), Libc::Glibc, Arch::Aarch64).unwrap();
    let names: Vec<&str> = set.policies().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["manylinux_2_28", "manylinux_2_34", "linux"]);
    assert_eq!(set.get("corp2_aarch64").unwrap().name, "manylinux_2_28");
    assert!(set
        .get("manylinux_2_34")
        .unwrap()
        .allows_version("GLIBC", "2.34"));
    assert!(!set
        .get("manylinux_2_28")
        .unwrap()
        .allows_version("GLIBC", "2.34"));
    // Another arch: only linux.
    let set = PolicySet::from_json(&custom.to_string(), Libc::Glibc, Arch::X86_64).unwrap();
    assert_eq!(set.policies().len(), 1);
    assert!(set.highest().is_linux());
    // The same file is not a musl policy file.
    assert!(PolicySet::from_json(&custom.to_string(), Libc::Musl, Arch::Aarch64).is_err());
}

#[test]
fn error_message_text() {
    let mut v = embedded_value(Libc::Glibc);
    policy_mut(&mut v, "manylinux_2_24")["symbol_versions"]["aarch64"]["GLIBC"]
        .as_array_mut()
        .unwrap()
        .retain(|x| x != "2.17");
    let err = PolicySet::from_json(&v.to_string(), Libc::Glibc, Arch::Aarch64).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid policy data: policy \"manylinux_2_24\" (priority 70), arch aarch64: symbol \
         version GLIBC_2.17 is missing, but higher-priority policy \"manylinux_2_17\" allows it \
         (PEP 600 monotonicity)"
    );
}
