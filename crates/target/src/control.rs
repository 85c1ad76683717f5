//! Debian control-file syntax (RFC 822-like stanzas, Policy §5.1): `Field: value` lines,
//! continuation lines starting with a space or tab, stanzas separated by blank lines, `#`
//! comment lines ignored.

/// One stanza: its fields in file order, borrowing from the text. A multi-line value is the
/// raw text from after the colon to the end of its last continuation line, trimmed.
#[derive(Debug, Default, Clone)]
pub struct Stanza<'a> {
    pub fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Stanza<'a> {
    /// The value of a field (field names compare case-insensitively).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Iterate over the stanzas of a control file. Lines that are neither fields nor continuations
/// (no colon) are ignored, as are comment lines.
pub fn stanzas(text: &str) -> Stanzas<'_> {
    Stanzas { text, pos: 0 }
}

pub struct Stanzas<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Stanzas<'a> {
    type Item = Stanza<'a>;

    fn next(&mut self) -> Option<Stanza<'a>> {
        let text = self.text;
        let mut stanza = Stanza::default();
        // (name, value start) of the field being read; its value ends at `value_end`.
        let mut current: Option<(&'a str, usize)> = None;
        let mut value_end = 0usize;
        let finish = |stanza: &mut Stanza<'a>, current: &mut Option<(&'a str, usize)>, end| {
            if let Some((name, start)) = current.take() {
                stanza.fields.push((name, text[start..end].trim()));
            }
        };
        while self.pos < text.len() {
            let line_start = self.pos;
            let line_end = text[line_start..]
                .find('\n')
                .map_or(text.len(), |n| line_start + n);
            self.pos = (line_end + 1).min(text.len());
            if line_end == text.len() {
                self.pos = text.len();
            }
            let line = &text[line_start..line_end];
            if line.trim().is_empty() {
                if current.is_some() || !stanza.fields.is_empty() {
                    finish(&mut stanza, &mut current, value_end);
                    return Some(stanza);
                }
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            if line.starts_with(' ') || line.starts_with('\t') {
                if current.is_some() {
                    value_end = line_end;
                }
                continue;
            }
            finish(&mut stanza, &mut current, value_end);
            if let Some(colon) = line.find(':') {
                let name = line[..colon].trim();
                current = Some((name, line_start + colon + 1));
                value_end = line_end;
            }
        }
        finish(&mut stanza, &mut current, value_end);
        if stanza.fields.is_empty() {
            None
        } else {
            Some(stanza)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stanzas_and_continuations() {
        let text = "Package: a\nVersion: 1.0\nDescription: short\n long line\n .\n more\n\n\n# comment\nPackage: b\r\nDepends: c,\n d (>= 2)\n";
        let all: Vec<_> = stanzas(text).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].get("package"), Some("a"));
        assert_eq!(
            all[0].get("Description"),
            Some("short\n long line\n .\n more")
        );
        assert_eq!(all[1].get("Package"), Some("b"));
        assert_eq!(all[1].get("Depends"), Some("c,\n d (>= 2)"));
        assert_eq!(all[1].get("Missing"), None);
    }

    #[test]
    fn empty_and_trailing() {
        assert_eq!(stanzas("").count(), 0);
        assert_eq!(stanzas("\n\n").count(), 0);
        let one: Vec<_> = stanzas("A: 1").collect();
        assert_eq!(one[0].get("A"), Some("1"));
        let one: Vec<_> = stanzas("A:\n x\n y\n").collect();
        assert_eq!(one[0].get("A"), Some("x\n y"));
    }
}
