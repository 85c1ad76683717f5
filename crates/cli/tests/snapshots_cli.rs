//! Snapshots of the CLI's output (exit code, stdout, stderr) on the example wheels that ship in
//! the repository. Review changes with `cargo insta review` (or INSTA_UPDATE=always).

mod common;

use common::*;

fn run(args: &[&str]) -> String {
    let out = manywheel()
        .args(args)
        .current_dir(repo_root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn show_aarch64_examples() {
    insta::assert_snapshot!(run(&[
        "show",
        "examples/wheels/spam-1.0-cp311-cp311-linux_aarch64.whl",
        "examples/wheels/toonew-1.0-cp311-cp311-linux_aarch64.whl",
        "examples/wheels/withlib-1.0-cp311-cp311-linux_aarch64.whl",
    ]));
}

#[test]
fn show_json_toonew_aarch64() {
    insta::assert_snapshot!(run(&[
        "show",
        "--json",
        "examples/wheels/toonew-1.0-cp311-cp311-linux_aarch64.whl"
    ]));
}

#[test]
fn show_verbose_spam_aarch64() {
    insta::assert_snapshot!(run(&[
        "show",
        "-v",
        "examples/wheels/spam-1.0-cp311-cp311-linux_aarch64.whl"
    ]));
}

#[test]
fn check_examples() {
    insta::assert_snapshot!(run(&[
        "check",
        "examples/wheels/spam-1.0-cp311-cp311-linux_aarch64.whl",
        "examples/wheels/toonew-1.0-cp311-cp311-linux_aarch64.whl",
    ]));
}

#[test]
fn usage_errors() {
    insta::assert_snapshot!(run(&["show"]));
    insta::assert_snapshot!(run(&["frobnicate"]));
}
