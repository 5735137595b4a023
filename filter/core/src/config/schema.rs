//! The JSON Schema (draft 2020-12) of the configuration, derived from the serde shapes in
//! [`super::raw`] that [`super::Config::from_json`] parses, so the two cannot disagree on a
//! field name, a type or an unknown member. It describes what parses, not every rule
//! [`super::check`] applies afterwards (ranges, unique names, importable keys): a document
//! the schema accepts can still be refused by the filter, never the other way round for a
//! wrong type or an unknown field.

use serde_json::Value;

use super::raw::RawConfig;

/// The schema as a JSON value (feature `schema`).
pub fn json_schema() -> Value {
    let mut schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<RawConfig>()
        .to_value();
    if let Value::Object(root) = &mut schema {
        root.insert(
            "title".into(),
            Value::String("tollgate filter configuration".into()),
        );
        root.insert(
            "description".into(),
            Value::String(
                "The plugin configuration of the tollgate proxy-wasm filter (generated from the \
                 types the filter parses; `tollgate schema` prints it)."
                    .into(),
            ),
        );
    }
    schema
}
