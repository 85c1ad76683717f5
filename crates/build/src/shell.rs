//! POSIX shell words: quoting for the wrapper scripts we write, splitting for configuration.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Quote one word for `sh`.
pub fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Split a string into words as `sh` would (quotes and backslashes; no expansions).
pub fn split(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => cur.push(c),
                            None => return Err("trailing backslash".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unterminated \" quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => return Err("trailing backslash".into()),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Write an executable `#!/bin/sh` script that runs `argv` followed by its own arguments,
/// with `env` set.
pub fn write_wrapper(
    path: &Path,
    env: &[(String, String)],
    argv: &[String],
) -> std::io::Result<()> {
    let mut text = String::from("#!/bin/sh\n# written by manywheel build\n");
    for (k, v) in env {
        text.push_str(&format!("export {k}={}\n", quote(v)));
    }
    text.push_str("exec");
    for a in argv {
        text.push(' ');
        text.push_str(&quote(a));
    }
    text.push_str(" \"$@\"\n");
    let mut f = fs::File::create(path)?;
    f.write_all(text.as_bytes())?;
    f.set_permissions(fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_quote_round_trip() {
        let words = split(r#"A=1 B="two words" C='it''s' D=\$x"#).unwrap();
        assert_eq!(words, ["A=1", "B=two words", "C=its", "D=$x"]);
        for w in ["plain", "with space", "it's", "", "$HOME"] {
            assert_eq!(split(&quote(w)).unwrap(), [w]);
        }
        assert!(split("'open").is_err());
    }
}
