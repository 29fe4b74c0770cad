//! The tool policy's TOML shape, `[guards.tool_policies.<name>]`, and the
//! conversion of a TOML-table schema into the JSON value it stands for.

use serde::Deserialize;

use super::strict::{MAX_DEPTH, parse_strict};
use super::value::Value;

/// One named tool policy: an allowlist of tools, each with its argument
/// rules; a key, team or route names the policy it runs under.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolPolicyConfig {
    #[serde(default)]
    pub undeclared: Undeclared,
    #[serde(default)]
    pub tools: Vec<ToolRule>,
}

/// What happens to a request that declares a tool not on the list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Undeclared {
    /// The whole request is refused.
    #[default]
    Refuse,
    /// The tool's definition is removed before the request goes upstream.
    Strip,
}

/// One allowed tool.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolRule {
    pub name: String,
    /// The arguments' JSON Schema written as a TOML table.
    #[serde(default)]
    pub schema: Option<toml::Value>,
    /// The same, as JSON text (one or the other, not both).
    #[serde(default)]
    pub schema_json: Option<String>,
    #[serde(default)]
    pub paths: Vec<PathRule>,
    #[serde(default)]
    pub forbidden: Vec<Forbidden>,
    #[serde(default)]
    pub approval: Approval,
    /// `sha256:<hex>` of the approved definition (see `definition_hash`).
    #[serde(default)]
    pub pin: Option<String>,
}

/// A path argument confined to `root`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRule {
    /// JSON pointer to the argument; a `*` step is each item of an array.
    pub pointer: String,
    pub root: String,
}

/// Values an argument must never take: exact values, or a pattern.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forbidden {
    pub pointer: String,
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub pattern: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    #[default]
    None,
    /// Every call waits for a human approval bound to its arguments' digest.
    Required,
}

impl ToolRule {
    /// The rule's schema as a JSON value, from whichever field holds it.
    pub fn schema_value(&self) -> Result<Option<Value<'static>>, String> {
        match (&self.schema, &self.schema_json) {
            (Some(_), Some(_)) => Err("give `schema` or `schema_json`, not both".into()),
            (Some(table), None) => toml_to_json(table, 0).map(Some),
            (None, Some(text)) => parse_strict(text)
                .map(|v| Some(v.into_owned()))
                .map_err(|e| format!("schema_json: {e}")),
            (None, None) => Ok(None),
        }
    }
}

/// A TOML value as the JSON value it spells; datetimes have no JSON form.
fn toml_to_json(value: &toml::Value, depth: usize) -> Result<Value<'static>, String> {
    if depth > MAX_DEPTH {
        return Err("schema nested too deeply".into());
    }
    Ok(match value {
        toml::Value::String(s) => Value::String(s.clone().into()),
        toml::Value::Integer(i) => Value::Number(*i as f64),
        toml::Value::Float(f) if f.is_finite() => Value::Number(*f),
        toml::Value::Float(_) => return Err("schema numbers must be finite".into()),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(_) => return Err("schema values cannot be TOML datetimes".into()),
        toml::Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| toml_to_json(item, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(k, v)| Ok((k.clone().into(), toml_to_json(v, depth + 1)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}
