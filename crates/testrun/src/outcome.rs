//! Reading what happened: per-test outcomes from pytest's JUnit XML, emulator faults from the
//! output, and the comparison of a native run with an emulated one.

use std::collections::BTreeMap;

use manywheel_policy::Arch;
use serde::Serialize;

use crate::{Difference, Differential, Mode, RunResult, Status};

/// The outcome of one test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    Error,
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
        }
    }
}

/// Counts of per-test outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TestCounts {
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
}

impl TestCounts {
    pub fn count(outcomes: &BTreeMap<String, Outcome>) -> TestCounts {
        let mut c = TestCounts::default();
        for o in outcomes.values() {
            match o {
                Outcome::Passed => c.passed += 1,
                Outcome::Failed => c.failed += 1,
                Outcome::Error => c.errors += 1,
                Outcome::Skipped => c.skipped += 1,
            }
        }
        c
    }
}

impl std::fmt::Display for TestCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)?;
        if self.errors > 0 {
            write!(f, ", {} errors", self.errors)?;
        }
        if self.skipped > 0 {
            write!(f, ", {} skipped", self.skipped)?;
        }
        Ok(())
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else {
            break;
        };
        let entity = &rest[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of attribute `name` in a start tag's text.
fn attr(tag: &str, name: &str) -> Option<String> {
    let mut search = tag;
    loop {
        let i = search.find(name)?;
        let before_ok = i == 0 || search.as_bytes()[i - 1].is_ascii_whitespace();
        let after = search[i + name.len()..].trim_start();
        if before_ok {
            if let Some(v) = after.strip_prefix('=') {
                let v = v.trim_start();
                let q = v.chars().next()?;
                if q == '"' || q == '\'' {
                    let end = v[1..].find(q)?;
                    return Some(unescape(&v[1..1 + end]));
                }
            }
        }
        search = &search[i + name.len()..];
    }
}

/// Per-test outcomes of a JUnit XML report as pytest writes it: `classname::name` (pytest's
/// `classname` is the module path with dots, plus the class) → outcome. A test case with a
/// `<failure>` failed, with an `<error>` errored (setup/teardown), with a `<skipped>` was
/// skipped; otherwise it passed.
pub fn parse_junit(xml: &str) -> BTreeMap<String, Outcome> {
    let mut out = BTreeMap::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<testcase") {
        rest = &rest[i + "<testcase".len()..];
        if !rest.starts_with(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/') {
            continue;
        }
        let Some(end) = rest.find('>') else {
            break;
        };
        let tag = &rest[..end];
        let self_closing = tag.ends_with('/');
        let classname = attr(tag, "classname").unwrap_or_default();
        let name = attr(tag, "name").unwrap_or_default();
        rest = &rest[end + 1..];
        let body = if self_closing {
            ""
        } else {
            let close = rest.find("</testcase>").unwrap_or(rest.len());
            let b = &rest[..close];
            rest = &rest[close..];
            b
        };
        let outcome = if body.contains("<failure") {
            Outcome::Failed
        } else if body.contains("<error") {
            Outcome::Error
        } else if body.contains("<skipped") {
            Outcome::Skipped
        } else {
            Outcome::Passed
        };
        let id = if classname.is_empty() {
            name
        } else {
            format!("{classname}::{name}")
        };
        // A test reported twice (an error in teardown after a pass) keeps the worse outcome.
        let worse = |a: Outcome, b: Outcome| {
            let rank = |o: Outcome| match o {
                Outcome::Passed => 0,
                Outcome::Skipped => 1,
                Outcome::Error => 2,
                Outcome::Failed => 3,
            };
            if rank(a) >= rank(b) {
                a
            } else {
                b
            }
        };
        let o = match out.get(&id) {
            Some(&prev) => worse(prev, outcome),
            None => outcome,
        };
        out.insert(id, o);
    }
    out
}

/// Signals that, reported by qemu as uncaught, point at the emulator (or at code the emulated
/// CPU does not support) rather than at a test: SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV.
const FAULT_SIGNALS: [i32; 5] = [4, 5, 7, 8, 11];

fn signal_name(n: i32) -> &'static str {
    match n {
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        15 => "SIGTERM",
        _ => "signal",
    }
}

/// Classify a failed run (non-zero exit, no timeout) from how it ended and its output.
///
/// Emulated runs: qemu's own reports are emulator faults: `qemu: uncaught target signal N`
/// for SIGILL/SIGTRAP/SIGBUS/SIGFPE/SIGSEGV, `unhandled CPU exception`, `qemu: fatal`, a
/// host signal outside the vCPU; so is a program ended by SIGILL (`Illegal instruction`).
/// Everything else (and every native failure) is a test failure; a native crash by signal is
/// named in `fault`.
pub fn classify_failure(mode: Mode, signal: Option<i32>, output: &str) -> (Status, Option<String>) {
    if mode == Mode::Emulated {
        for line in output.lines() {
            let l = line.trim();
            if let Some(rest) = l
                .find("qemu: uncaught target signal ")
                .map(|i| &l[i + 29..])
            {
                let n: i32 = rest
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0);
                if FAULT_SIGNALS.contains(&n) {
                    return (Status::EmulatorFault, Some(l.to_string()));
                }
                return (
                    Status::Failed,
                    Some(format!("killed by {} ({l})", signal_name(n))),
                );
            }
            let lower = l.to_ascii_lowercase();
            if lower.contains("unhandled cpu exception")
                || lower.starts_with("qemu: fatal")
                || lower.contains("qemu:handle_cpu_signal")
                || lower.contains("qemu: unsupported")
            {
                return (Status::EmulatorFault, Some(l.to_string()));
            }
        }
        if signal == Some(4) || output.lines().any(|l| l.contains("Illegal instruction")) {
            return (
                Status::EmulatorFault,
                Some("illegal instruction (SIGILL) under emulation".into()),
            );
        }
    }
    let fault = signal.map(|n| format!("killed by {} ({n})", signal_name(n)));
    (Status::Failed, fault)
}

/// Compare the native and the emulated run of one architecture.
pub(crate) fn compare(arch: Arch, native: &RunResult, emulated: &RunResult) -> Differential {
    let mut differences = Vec::new();
    let keys: std::collections::BTreeSet<&String> = native
        .outcomes
        .keys()
        .chain(emulated.outcomes.keys())
        .collect();
    let show = |o: Option<&Outcome>| o.map_or("not run", |o| o.as_str()).to_string();
    for k in &keys {
        let (a, b) = (native.outcomes.get(*k), emulated.outcomes.get(*k));
        if a != b {
            differences.push(Difference {
                test: (*k).clone(),
                native: show(a),
                emulated: show(b),
            });
        }
    }
    if keys.is_empty() && native.status != emulated.status {
        differences.push(Difference {
            test: "(the whole command)".into(),
            native: native.status.as_str().into(),
            emulated: emulated.status.as_str().into(),
        });
    }
    Differential {
        arch,
        compared: keys.len(),
        differences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5" time="0.1"><testcase classname="tests.test_a" name="test_ok" time="0.001" /><testcase classname="tests.test_a" name="test_bad[a&amp;b]" time="0.001"><failure message="assert 1 == 2">def test_bad(): &lt;testcase&gt;</failure></testcase><testcase classname="tests.test_a" name="test_skip" time="0.000"><skipped type="pytest.skip" message="no">skip</skipped></testcase><testcase classname="tests.test_a" name="test_fixture" time="0.001"><error message="failed on setup">E</error></testcase><testcase classname="tests.test_a.TestX" name="test_m" time="0.001"></testcase></testsuite></testsuites>"#;

    #[test]
    fn junit_outcomes() {
        let o = parse_junit(XML);
        assert_eq!(o.len(), 5, "{o:?}");
        assert_eq!(o["tests.test_a::test_ok"], Outcome::Passed);
        assert_eq!(o["tests.test_a::test_bad[a&b]"], Outcome::Failed);
        assert_eq!(o["tests.test_a::test_skip"], Outcome::Skipped);
        assert_eq!(o["tests.test_a::test_fixture"], Outcome::Error);
        assert_eq!(o["tests.test_a.TestX::test_m"], Outcome::Passed);
        let c = TestCounts::count(&o);
        assert_eq!((c.passed, c.failed, c.errors, c.skipped), (2, 1, 1, 1));
    }

    #[test]
    fn faults() {
        let (s, f) = classify_failure(
            Mode::Emulated,
            Some(4),
            "x\nqemu: uncaught target signal 4 (Illegal instruction) - core dumped\n",
        );
        assert_eq!(s, Status::EmulatorFault);
        assert!(f.unwrap().contains("signal 4"));
        let (s, _) = classify_failure(
            Mode::Emulated,
            Some(6),
            "qemu: uncaught target signal 6 (Aborted) - core dumped\n",
        );
        assert_eq!(s, Status::Failed);
        let (s, f) = classify_failure(Mode::Emulated, None, "E   assert 1 == 2\n");
        assert_eq!((s, f), (Status::Failed, None));
        let (s, f) = classify_failure(Mode::Native, Some(4), "Illegal instruction\n");
        assert_eq!(s, Status::Failed);
        assert!(f.unwrap().contains("SIGILL"));
    }
}
