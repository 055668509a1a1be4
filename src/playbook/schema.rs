//! `rdplay schema`: the playbook's JSON Schema, generated from [`super::raw`].
//!
//! `schemas/playbook.schema.json` is this output, committed; a test fails when they differ.
//! Playbooks point editors at it with a first line such as
//! `# yaml-language-server: $schema=../schemas/playbook.schema.json`.

/// The JSON Schema of a playbook, pretty-printed, ending with a newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(super::raw::RawPlaybook);
    // Serializing a schema (a JSON value) cannot fail.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_has_descriptions_defaults_and_closed_objects() {
        let s: serde_json::Value = serde_json::from_str(&super::schema_json()).unwrap();
        assert_eq!(s["title"], "rdplay playbook");
        assert_eq!(s["additionalProperties"], false);
        assert!(
            s["properties"]["site"]["description"]
                .as_str()
                .unwrap()
                .contains("Site code")
        );
        assert_eq!(s["properties"]["state_dir"]["default"], ".rdplay");
        assert_eq!(
            s["$defs"]["Connection"]["properties"]["forks"]["default"],
            50
        );
        assert_eq!(
            s["$defs"]["PasswordPolicy"]["properties"]["length"]["default"],
            16
        );
    }
}
