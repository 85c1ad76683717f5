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
