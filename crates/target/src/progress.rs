//! Progress messages on stderr: a live status line on a terminal, plain lines otherwise,
//! nothing when quiet.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Reports what `target add` is doing.
pub struct Progress {
    quiet: bool,
    tty: bool,
    state: Mutex<State>,
}

struct State {
    status_shown: bool,
    last_draw: Option<Instant>,
}

impl Progress {
    /// Messages on stderr; a live line when stderr is a terminal.
    pub fn stderr() -> Progress {
        Progress {
            quiet: false,
            tty: std::io::stderr().is_terminal(),
            state: Mutex::new(State {
                status_shown: false,
                last_draw: None,
            }),
        }
    }

    /// No output at all.
    pub fn quiet() -> Progress {
        Progress {
            quiet: true,
            tty: false,
            state: Mutex::new(State {
                status_shown: false,
                last_draw: None,
            }),
        }
    }

    /// A message line.
    pub fn message(&self, text: &str) {
        if self.quiet {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        if state.status_shown {
            let _ = write!(err, "\r\x1b[K");
            state.status_shown = false;
        }
        let _ = writeln!(err, "{text}");
    }

    /// A transient status (terminal only; rate-limited unless `force`).
    pub fn status(&self, text: &str, force: bool) {
        if self.quiet || !self.tty {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if !force
            && state
                .last_draw
                .is_some_and(|t| now.duration_since(t) < Duration::from_millis(100))
        {
            return;
        }
        state.last_draw = Some(now);
        state.status_shown = true;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{text}");
        let _ = err.flush();
    }

    /// A line only when not on a terminal (where the status line shows the same).
    pub fn log(&self, text: &str) {
        if !self.tty {
            self.message(text);
        }
    }

    /// Remove the status line.
    pub fn clear(&self) {
        if self.quiet || !self.tty {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.status_shown {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
            state.status_shown = false;
        }
    }
}

/// Human-readable byte count (`12.3 MB`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1500), "1.5 kB");
        assert_eq!(human_bytes(31_200_000), "31.2 MB");
    }
}
