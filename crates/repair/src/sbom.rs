//! A CycloneDX (1.5, JSON) bill of materials of the libraries a repair grafted.

use manywheel_wheel::WheelFilename;
use serde_json::json;

use crate::Grafted;

/// The SBOM document for `wheel` listing `grafted`, as pretty JSON. Deterministic: no
/// timestamps or random serial numbers, so repairs stay reproducible.
pub fn cyclonedx(wheel: &WheelFilename, grafted: &[Grafted]) -> String {
    let components: Vec<serde_json::Value> = grafted
        .iter()
        .map(|g| {
            json!({
                "type": "library",
                "bom-ref": g.member,
                "name": g.soname,
                "properties": [
                    {"name": "manywheel:grafted-as", "value": g.member},
                    {"name": "manywheel:source-path", "value": g.source},
                ],
            })
        })
        .collect();
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "manywheel", "version": env!("CARGO_PKG_VERSION")}]},
            "component": {
                "type": "library",
                "bom-ref": wheel.to_string(),
                "name": wheel.name,
                "version": wheel.version,
            },
        },
        "components": components,
        "dependencies": [{"ref": wheel.to_string(), "dependsOn": grafted.iter().map(|g| g.member.clone()).collect::<Vec<_>>()}],
    });
    serde_json::to_string_pretty(&doc).expect("JSON") + "\n"
}
