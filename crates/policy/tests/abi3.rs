//! The stable ABI table.

use manywheel_policy::{abi3_symbol, abi3_symbol_added, abi3_symbols, is_abi3_symbol, Abi3Kind};

#[test]
fn known_symbols() {
    assert_eq!(abi3_symbol_added("PyType_FromSpec"), Some((3, 2)));
    assert_eq!(abi3_symbol_added("Py_Initialize"), Some((3, 2)));
    assert_eq!(abi3_symbol_added("PyType_FromSpecWithBases"), Some((3, 3)));
    assert_eq!(abi3_symbol_added("PyUnicode_AsUTF8AndSize"), Some((3, 10)));
    assert_eq!(abi3_symbol_added("PyModule_Add"), Some((3, 13)));
    assert_eq!(abi3_symbol_added("PyType_FromMetaclass"), Some((3, 12)));
    let t = abi3_symbol("PyBaseObject_Type").unwrap();
    assert_eq!(t.kind, Abi3Kind::Data);
    assert_eq!(t.added, (3, 2));
    assert!(is_abi3_symbol("_Py_Dealloc"));
    assert!(abi3_symbol("PyCFunction_Call").unwrap().abi_only);
    assert_eq!(
        abi3_symbol("PyErr_SetFromWindowsErr").unwrap().ifdef,
        Some("MS_WINDOWS")
    );
    assert_eq!(
        abi3_symbol("PyOS_AfterFork_Child").unwrap().ifdef,
        Some("HAVE_FORK")
    );
}

#[test]
fn non_abi3_symbols() {
    for name in [
        "PyUnicode_AsUTF8",
        "_PyObject_GC_Malloc",
        "PyFrame_New",
        "malloc",
        "",
    ] {
        assert!(!is_abi3_symbol(name), "{name}");
        assert_eq!(abi3_symbol_added(name), None);
    }
}

#[test]
fn table_shape() {
    let all: Vec<_> = abi3_symbols().collect();
    assert!(all.len() > 900, "{}", all.len());
    assert!(all.iter().all(|s| s.added.0 == 3 && s.added.1 >= 2));
    assert!(all.iter().any(|s| s.kind == Abi3Kind::Function));
    assert!(all.iter().any(|s| s.kind == Abi3Kind::Data));
}
