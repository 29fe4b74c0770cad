//! `x-mcp-header`: the tool parameters a server asks clients to mirror into
//! `Mcp-Param-{Name}` headers. Which a tool's `inputSchema` declares (or why
//! the tool must be dropped), the headers a call's arguments make, and the
//! check that a call's headers agree with its arguments.

use simd_json::tape::Value;

use super::{PARAM_PREFIX, decode_value, encode_value, quoted};
use crate::canonical::tape::prelude::*;
use crate::canonical::tape::with_tape;

const ANNOTATION: &str = "x-mcp-header";

/// The JSON Schema types `x-mcp-header` may sit on (never `number`: a
/// float's text is not portable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    String,
    Integer,
    Boolean,
}

/// One declared header: its full name (`Mcp-Param-Region`), the chain of
/// `properties` keys to the argument it mirrors, and the argument's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderParam {
    pub header: String,
    pub path: Vec<String>,
    pub kind: ParamKind,
}

/// Applicators whose value is one subschema, a list of them, or a map of
/// them: crossing any leaves the `properties` chain, so an annotation below
/// is invalid. `$ref` is not followed, nor are instance data (`default`,
/// `const`, `enum`, `examples`), as the SDKs do.
const SINGLE: &[&str] = &[
    "items",
    "contains",
    "unevaluatedItems",
    "additionalProperties",
    "propertyNames",
    "unevaluatedProperties",
    "not",
    "if",
    "then",
    "else",
    "contentSchema",
];
const LIST: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
const MAP: &[&str] = &[
    "patternProperties",
    "dependentSchemas",
    "$defs",
    "definitions",
];

/// The headers a tool's `inputSchema` declares, ordered by name; `Err` with
/// the reason when an annotation breaks a rule of the specification (the
/// tool is then left out of `tools/list`): off a pure `properties` chain,
/// not an RFC 9110 token, on a non-primitive property, or a repeat of
/// another ignoring case.
pub fn header_params(input_schema_json: &[u8]) -> Result<Vec<HeaderParam>, String> {
    with_tape(input_schema_json, |tape, _| {
        let root = tape.map_err(|_| "inputSchema is not JSON".to_owned())?;
        let mut found = walk(root.as_value())?;
        found.sort_by_key(|p| p.header.to_ascii_lowercase());
        if let Some(w) = found
            .windows(2)
            .find(|w| w[0].header.eq_ignore_ascii_case(&w[1].header))
        {
            return Err(format!(
                "{ANNOTATION} '{}' is declared twice (properties '{}' and '{}')",
                quoted(&w[1].header[PARAM_PREFIX.len()..]),
                quoted(&w[0].path.join(".")),
                quoted(&w[1].path.join(".")),
            ));
        }
        Ok(found)
    })
}

/// Every schema position under `root`, with its `properties` path (`None`
/// once another applicator was crossed); an explicit stack, so a deep
/// schema costs no recursion.
fn walk(root: Value<'_, '_>) -> Result<Vec<HeaderParam>, String> {
    let mut found = Vec::new();
    let mut stack: Vec<(Option<Vec<String>>, Value<'_, '_>)> = vec![(Some(Vec::new()), root)];
    while let Some((path, node)) = stack.pop() {
        let Some(schema) = node.as_object() else {
            continue;
        };
        if let Some(token) = schema.get(ANNOTATION) {
            found.push(declared(path.as_deref(), token, schema.get("type"))?);
        }
        for (keyword, value) in schema.iter() {
            if keyword == "properties" {
                for (name, sub) in value.as_object().iter().flat_map(|o| o.iter()) {
                    let deeper = path.as_ref().map(|p| {
                        let mut p = p.clone();
                        p.push(name.to_owned());
                        p
                    });
                    stack.push((deeper, sub));
                }
            } else if SINGLE.contains(&keyword) {
                stack.push((None, value));
            } else if LIST.contains(&keyword) {
                stack.extend(
                    value
                        .as_array()
                        .iter()
                        .flat_map(|a| a.iter())
                        .map(|v| (None, v)),
                );
            } else if MAP.contains(&keyword) {
                stack.extend(
                    value
                        .as_object()
                        .iter()
                        .flat_map(|o| o.values())
                        .map(|v| (None, v)),
                );
            }
        }
    }
    Ok(found)
}

/// The header an annotation at `path` declares, or why it is invalid.
fn declared(
    path: Option<&[String]>,
    token: Value<'_, '_>,
    kind: Option<Value<'_, '_>>,
) -> Result<HeaderParam, String> {
    let path = match path {
        Some(p) if !p.is_empty() => p,
        _ => {
            return Err(format!(
                "{ANNOTATION} found where no chain of `properties` reaches"
            ));
        }
    };
    let at = quoted(&path.join("."));
    let token = token
        .as_str()
        .ok_or_else(|| format!("property '{at}': {ANNOTATION} must be a string"))?;
    if token.is_empty() || !token.bytes().all(is_tchar) {
        return Err(format!(
            "property '{at}': {ANNOTATION} '{}' is not an HTTP token",
            quoted(token)
        ));
    }
    let kind = match kind.and_then(|k| k.into_string()) {
        Some("string") => ParamKind::String,
        Some("integer") => ParamKind::Integer,
        Some("boolean") => ParamKind::Boolean,
        _ => {
            return Err(format!(
                "property '{at}': {ANNOTATION} is only allowed on string, integer or boolean properties"
            ));
        }
    };
    Ok(HeaderParam {
        header: format!("{PARAM_PREFIX}{token}"),
        path: path.to_vec(),
        kind,
    })
}

/// RFC 9110's `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An argument's value as the header carries it, before encoding: a
/// string as it is, an integer in decimal, a boolean as `true`/`false`;
/// `None` when absent, `null`, or not a scalar (no header is sent).
fn rendered(value: Value<'_, '_>, kind: ParamKind) -> Option<String> {
    if let Some(b) = value.as_bool() {
        return Some(b.to_string());
    }
    if let Some(s) = value.as_str() {
        return Some(s.to_owned());
    }
    if let Some(n) = value.as_i64() {
        return Some(n.to_string());
    }
    if let Some(n) = value.as_u64() {
        return Some(n.to_string());
    }
    let f = value.as_f64()?;
    match integral(f) {
        Some(n) if kind == ParamKind::Integer => Some(n.to_string()),
        _ => Some(f.to_string()),
    }
}

/// `f` as an integer, when it is one that fits.
fn integral(f: f64) -> Option<i128> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 1e38).then_some(f as i128)
}

/// The integer a JSON number is, when it is one.
fn as_integer(value: Value<'_, '_>) -> Option<i128> {
    value
        .as_i64()
        .map(i128::from)
        .or_else(|| value.as_u64().map(i128::from))
        .or_else(|| value.as_f64().and_then(integral))
}

/// The value at `path` in the arguments object.
fn at_path<'t, 'i>(arguments: Value<'t, 'i>, path: &[String]) -> Option<Value<'t, 'i>> {
    path.iter()
        .try_fold(arguments, |node, key| node.as_object()?.get(key.as_str()))
}

/// The `Mcp-Param-*` headers (name, encoded value) a call with these
/// arguments carries; arguments absent or `null` make none.
pub fn param_headers(params: &[HeaderParam], arguments_json: &[u8]) -> Vec<(String, String)> {
    with_tape(arguments_json, |tape, _| {
        let Ok(tape) = tape else {
            return Vec::new();
        };
        let arguments = tape.as_value();
        params
            .iter()
            .filter_map(|p| {
                let text = rendered(at_path(arguments, &p.path)?, p.kind)?;
                Some((p.header.clone(), encode_value(&text).into_owned()))
            })
            .collect()
    })
}

/// Checks a call's `Mcp-Param-*` headers against its arguments: present
/// together and equal after decoding (integers compared as numbers, so
/// `42.0` matches `42`), or absent together (`null` counts as absent).
/// The error is the -32020 message; it names headers and argument paths,
/// never values (a parameter may be sensitive).
pub fn check_param_headers<'h>(
    params: &[HeaderParam],
    arguments_json: &[u8],
    header: impl Fn(&str) -> Option<&'h [u8]>,
) -> Result<(), String> {
    with_tape(arguments_json, |tape, _| {
        let empty = simd_json::tape::Tape::null();
        let arguments = match &tape {
            Ok(tape) => tape.as_value(),
            Err(_) => empty.as_value(),
        };
        params
            .iter()
            .try_for_each(|p| check_one(p, at_path(arguments, &p.path), header(&p.header)))
    })
}

fn check_one(
    p: &HeaderParam,
    value: Option<Value<'_, '_>>,
    raw: Option<&[u8]>,
) -> Result<(), String> {
    let (name, at) = (&p.header, quoted(&p.path.join(".")));
    let body = value.and_then(|v| Some((v, rendered(v, p.kind)?)));
    let (raw, (value, text)) = match (raw, body) {
        (None, None) => return Ok(()),
        (Some(_), None) => {
            return Err(format!(
                "Header mismatch: the {name} header is present but argument '{at}' is absent or not a scalar"
            ));
        }
        (None, Some(_)) => {
            return Err(format!(
                "Header mismatch: the {name} header is missing but argument '{at}' is present"
            ));
        }
        (Some(raw), Some(body)) => (raw, body),
    };
    let decoded = decode_value(raw)
        .ok_or_else(|| format!("Header mismatch: the {name} header holds invalid characters"))?;
    let numeric = match (p.kind, as_integer(value)) {
        (ParamKind::Integer, Some(n)) => decimal(&decoded).map(|h| h == n),
        _ => None,
    };
    if numeric.unwrap_or(decoded == text) {
        Ok(())
    } else {
        Err(format!(
            "Header mismatch: the {name} header does not match argument '{at}'"
        ))
    }
}

/// A header's integer written as `-?digits(.zeros)?`; `None` for any other
/// text (compared as a string then).
fn decimal(text: &str) -> Option<i128> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    let plain = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let zeros = text.contains('.') && !fraction.is_empty() && fraction.bytes().all(|b| b == b'0');
    let fraction_ok = !text.contains('.') || zeros;
    if plain && fraction_ok {
        whole.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
