use std::fmt;

use crate::Error;

/// A parsed wheel file name: `{name}-{ver}(-{build})?-{python}-{abi}-{platform}.whl`.
/// Tag fields hold the compressed tag sets split at `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFilename {
    pub name: String,
    pub version: String,
    pub build: Option<String>,
    pub python_tags: Vec<String>,
    pub abi_tags: Vec<String>,
    pub platform_tags: Vec<String>,
}

impl WheelFilename {
    /// Parses a wheel file name (PEP 427 / PEP 491). A path is accepted: only its final
    /// component is parsed. The name must end in `.whl` and have 5 or 6 dash-separated parts;
    /// an optional build tag must start with a digit; each tag field is a `.`-separated
    /// compressed tag set.
    pub fn parse(file_name: &str) -> Result<Self, Error> {
        let base = file_name.rsplit('/').next().unwrap_or(file_name);
        let fail = |reason: String| Error::Filename {
            name: base.to_string(),
            reason,
        };
        let stem = base
            .strip_suffix(".whl")
            .ok_or_else(|| fail("does not end in \".whl\"".to_string()))?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, py, abi, plat) = match parts.as_slice() {
            [n, v, p, a, pl] => (*n, *v, None, *p, *a, *pl),
            [n, v, b, p, a, pl] => (*n, *v, Some(*b), *p, *a, *pl),
            _ => {
                return Err(fail(format!(
                    "expected 5 or 6 dash-separated parts, found {}",
                    parts.len()
                )))
            }
        };
        check_name(name).map_err(fail)?;
        check_version(version).map_err(fail)?;
        if let Some(b) = build {
            if !b.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(fail(format!("build tag {b:?} must start with a digit")));
            }
            if !b.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(fail(format!("build tag {b:?} has an invalid character")));
            }
        }
        let python_tags = split_tags(py, "python").map_err(fail)?;
        let abi_tags = split_tags(abi, "ABI").map_err(fail)?;
        let platform_tags = split_tags(plat, "platform").map_err(fail)?;
        Ok(WheelFilename {
            name: name.to_string(),
            version: version.to_string(),
            build: build.map(str::to_string),
            python_tags,
            abi_tags,
            platform_tags,
        })
    }

    /// The distribution name normalised for wheel file names and `.dist-info` directories:
    /// lowercase, every run of `-`, `_` and `.` replaced by one `_` (PEP 503, with `_`).
    pub fn normalized_name(&self) -> String {
        normalize_name(&self.name)
    }

    /// A copy with the platform tag set replaced (e.g. after repair to a new policy).
    pub fn with_platform_tags(&self, platform_tags: Vec<String>) -> Self {
        WheelFilename {
            platform_tags,
            ..self.clone()
        }
    }

    /// Every `{python}-{abi}-{platform}` tag the compressed tag sets expand to, in order.
    pub fn tags(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.python_tags {
            for a in &self.abi_tags {
                for pl in &self.platform_tags {
                    out.push(format!("{p}-{a}-{pl}"));
                }
            }
        }
        out
    }
}

impl fmt::Display for WheelFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.name, self.version)?;
        if let Some(b) = &self.build {
            write!(f, "-{b}")?;
        }
        write!(
            f,
            "-{}-{}-{}.whl",
            self.python_tags.join("."),
            self.abi_tags.join("."),
            self.platform_tags.join(".")
        )
    }
}

/// Lowercase, runs of `-`, `_`, `.` collapsed to one `_`.
pub(crate) fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('_');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// Lowercase, `-` replaced by `_` (the escaping wheel file names apply to versions).
pub(crate) fn normalize_version(version: &str) -> String {
    version.to_lowercase().replace('-', "_")
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty distribution name".to_string());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(format!(
            "distribution name {name:?} has an invalid character"
        ));
    }
    let alnum = |c: char| c.is_ascii_alphanumeric();
    if !name.starts_with(alnum) || !name.ends_with(alnum) {
        return Err(format!(
            "distribution name {name:?} must start and end with a letter or digit"
        ));
    }
    Ok(())
}

fn check_version(version: &str) -> Result<(), String> {
    if version.is_empty() {
        return Err("empty version".to_string());
    }
    if !version
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '!'))
    {
        return Err(format!("version {version:?} has an invalid character"));
    }
    if !version.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "version {version:?} must start with a letter or digit"
        ));
    }
    Ok(())
}

fn split_tags(field: &str, what: &str) -> Result<Vec<String>, String> {
    let mut tags = Vec::new();
    for tag in field.split('.') {
        if tag.is_empty() {
            return Err(format!("empty {what} tag in {field:?}"));
        }
        if !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("{what} tag {tag:?} has an invalid character"));
        }
        tags.push(tag.to_string());
    }
    Ok(tags)
}
