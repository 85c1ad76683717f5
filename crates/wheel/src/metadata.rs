/// The `WHEEL` file of a `.dist-info` directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WheelMetadata {
    pub wheel_version: Option<String>,
    pub generator: Option<String>,
    pub root_is_purelib: Option<bool>,
    /// `Tag:` lines in order.
    pub tags: Vec<String>,
    pub build: Option<String>,
}

impl WheelMetadata {
    /// Parses RFC 822-style `Key: value` lines. Keys are case-insensitive; `Tag:` may repeat;
    /// indented lines continue the previous value; a blank line ends the headers; unknown keys
    /// are ignored. A line without a colon, a repeated single-valued key or a
    /// `Root-Is-Purelib` other than `true`/`false` is an error (the reason is returned).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut headers: Vec<(String, String)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                let Some((_, value)) = headers.last_mut() else {
                    return Err(format!("line {}: continuation line before any key", i + 1));
                };
                value.push(' ');
                value.push_str(line.trim());
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return Err(format!(
                    "line {}: expected \"Key: value\", found {line:?}",
                    i + 1
                ));
            };
            let key = key.trim();
            if key.is_empty() {
                return Err(format!("line {}: empty key", i + 1));
            }
            headers.push((key.to_ascii_lowercase(), value.trim().to_string()));
        }

        let mut meta = WheelMetadata::default();
        for (key, value) in headers {
            let single = |slot: &mut Option<String>, name: &str| {
                if slot.is_some() {
                    return Err(format!("{name} appears more than once"));
                }
                *slot = Some(value.clone());
                Ok(())
            };
            match key.as_str() {
                "wheel-version" => single(&mut meta.wheel_version, "Wheel-Version")?,
                "generator" => single(&mut meta.generator, "Generator")?,
                "build" => single(&mut meta.build, "Build")?,
                "tag" => meta.tags.push(value),
                "root-is-purelib" => {
                    if meta.root_is_purelib.is_some() {
                        return Err("Root-Is-Purelib appears more than once".to_string());
                    }
                    meta.root_is_purelib = Some(if value.eq_ignore_ascii_case("true") {
                        true
                    } else if value.eq_ignore_ascii_case("false") {
                        false
                    } else {
                        return Err(format!(
                            "Root-Is-Purelib must be true or false, found {value:?}"
                        ));
                    });
                }
                _ => {}
            }
        }
        Ok(meta)
    }

    /// The `(major, minor)` of `Wheel-Version`, if present and numeric.
    pub fn wheel_version_tuple(&self) -> Option<(u32, u32)> {
        let v = self.wheel_version.as_deref()?;
        let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
        Some((major.trim().parse().ok()?, minor.trim().parse().ok()?))
    }
}
