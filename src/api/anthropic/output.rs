//! `output_config` (structured output `format`, and `effort`) and the beta
//! spelling `output_format`, read into the canonical response format and
//! reasoning effort.

use simd_json::tape::Value;

use super::read::{object, opt_str, present};
use crate::canonical::tape::{BodyMap, field};
use crate::canonical::{
    CanonicalError, JsonSchemaFormat, RawJson, ReasoningEffort, ResponseFormat,
};

/// What `output_config` / `output_format` asked for.
#[derive(Default)]
pub(super) struct OutputConfig {
    pub format: Option<ResponseFormat>,
    pub effort: Option<ReasoningEffort>,
}

/// Reads `output_config` and the older `output_format` (a client sends one).
pub(super) fn parse_output(
    config: Option<Value<'_, '_>>,
    beta_format: Option<Value<'_, '_>>,
    map: BodyMap<'_>,
) -> Result<OutputConfig, CanonicalError> {
    let mut out = OutputConfig::default();
    if let Some(format) = present(beta_format) {
        out.format = Some(parse_format(format, map, "output_format")?);
    }
    let Some(config) = present(config) else {
        return Ok(out);
    };
    let config = object(config, &|| "output_config".into())?;
    if let Some(format) = present(field(&config, "format")) {
        out.format = Some(parse_format(format, map, "output_config.format")?);
    }
    // Anthropic's effort spends tokens on the whole answer, thinking
    // included; the nearest canonical knob is the reasoning effort.
    out.effort = match opt_str(field(&config, "effort"), &|| "output_config.effort".into())? {
        None => None,
        Some("low") => Some(ReasoningEffort::Low),
        Some("medium") => Some(ReasoningEffort::Medium),
        Some("high") => Some(ReasoningEffort::High),
        Some(other) => {
            return Err(CanonicalError::new(
                "output_config.effort",
                format!("effort {other:?} is not supported; use \"low\", \"medium\" or \"high\""),
            ));
        }
    };
    for (key, _) in config.iter() {
        if !matches!(key, "format" | "effort") {
            return Err(CanonicalError::new(
                format!("output_config.{key}"),
                "is not supported by this gateway",
            ));
        }
    }
    Ok(out)
}

fn parse_format(
    value: Value<'_, '_>,
    map: BodyMap<'_>,
    path: &str,
) -> Result<ResponseFormat, CanonicalError> {
    let format = object(value, &|| path.to_owned())?;
    match opt_str(field(&format, "type"), &|| format!("{path}.type"))? {
        Some("json_schema") => {}
        _ => {
            return Err(CanonicalError::new(
                format!("{path}.type"),
                "must be \"json_schema\"",
            ));
        }
    }
    let schema = match present(field(&format, "schema")) {
        Some(s) if s.is_object() => RawJson::from_body(map, s),
        _ => {
            return Err(CanonicalError::new(
                format!("{path}.schema"),
                "must be a JSON Schema object",
            ));
        }
    };
    Ok(ResponseFormat::JsonSchema(JsonSchemaFormat {
        name: "output".into(),
        description: None,
        schema,
        strict: Some(true),
    }))
}
