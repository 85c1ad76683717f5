//! Terminal output: colour only on a terminal (and never with NO_COLOR), errors on stderr.

use std::io::{IsTerminal, Write};

/// Styles for human output.
#[derive(Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn for_stdout() -> Style {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Style { color }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub fn good(&self, t: &str) -> String {
        self.paint("32", t)
    }
    pub fn bad(&self, t: &str) -> String {
        self.paint("31", t)
    }
    pub fn warn(&self, t: &str) -> String {
        self.paint("33", t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}

/// Print one `error: ...` line on stderr.
pub fn error_line(msg: &str) {
    labelled_line("error", "31;1", msg);
}

/// Print one `warning: ...` line on stderr.
pub fn warning_line(msg: &str) {
    labelled_line("warning", "33;1", msg);
}

fn labelled_line(label: &str, color: &str, msg: &str) {
    let painted = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        format!("\x1b[{color}m{label}\x1b[0m")
    } else {
        label.to_string()
    };
    let _ = writeln!(std::io::stderr(), "{painted}: {msg}");
}

/// Write text to stdout; a closed pipe is not an error.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}
