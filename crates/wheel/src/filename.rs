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
