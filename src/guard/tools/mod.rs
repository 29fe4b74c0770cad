//! The tool policy engine: per key, team or route, an allowlist of tools,
//! each with a JSON Schema for its arguments, path roots, forbidden values,
//! an approval requirement and an optional pin on its definition. It sees
//! only names and JSON text, so model tool calls and MCP `tools/call`
//! share it. A call is parsed strictly, then checked against its schema,
//! its path rules and its forbidden values, in that order; a call that
//! passes gets the SHA-256 of its RFC 8785 form, which approvals bind to.

mod config;
mod jcs;
mod paths;
mod pin;
mod schema;
mod strict;
#[cfg(test)]
mod tests;
mod value;

use std::borrow::Cow;
use std::fmt;

use regex::Regex;
use ring::digest::{SHA256, digest};
use rustc_hash::FxHashMap;

pub use config::{Approval, Forbidden, PathRule, ToolPolicyConfig, ToolRule, Undeclared};
pub use jcs::canonicalize;
pub use paths::{PathRefusal, PathRoot};
pub use pin::definition_hash;
pub use strict::{ParseError, parse_strict};
pub use value::Value;

use jcs::write_canonical;
use schema::Schema;
use value::{Pointer, render_pointer};

/// The `rule` a refused call names.
pub mod rule {
    pub const NOT_ALLOWED: &str = "not_allowed";
    pub const DUPLICATE_KEY: &str = "duplicate_key";
    pub const INVALID_JSON: &str = "invalid_json";
    pub const SCHEMA: &str = "schema";
    pub const PATH_OUTSIDE_ROOT: &str = "path_outside_root";
    pub const FORBIDDEN_VALUE: &str = "forbidden_value";
}

/// A compiled policy, built once per config snapshot and shared read-only.
#[derive(Debug)]
pub struct ToolPolicy {
    name: String,
    version: String,
    undeclared: Undeclared,
    tools: FxHashMap<String, CompiledTool>,
}

#[derive(Debug)]
struct CompiledTool {
    schema: Option<Schema>,
    paths: Vec<(Pointer, PathRoot)>,
    forbidden: Vec<CompiledForbidden>,
    approval_required: bool,
    pin: Option<String>,
}

#[derive(Debug)]
struct CompiledForbidden {
    pointer: Pointer,
    values: Vec<String>,
    pattern: Option<Regex>,
}

/// The verdict on one tool a request declares; the caller strips or
/// refuses as the policy's `undeclared` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefinitionCheck {
    Allowed,
    NotListed,
    /// The definition changed since its pin was taken.
    PinMismatch {
        expected: String,
        actual: String,
    },
    /// A pinned tool whose parameters are not strict JSON, so they have no
    /// canonical form to hash.
    Malformed {
        reason: String,
    },
}

/// A call that may go ahead, perhaps after an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedCall {
    pub approval_required: bool,
    /// SHA-256 of the arguments' RFC 8785 form.
    pub args_digest: [u8; 32],
}

/// Why a call is never forwarded. `message` names the JSON pointer and the
/// reason, never the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRefusal {
    pub rule: &'static str,
    pub message: String,
}

impl fmt::Display for CallRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.message)
    }
}

impl std::error::Error for CallRefusal {}

impl ToolPolicy {
    /// Compiles `config`; every schema keyword, pointer, root, pattern and
    /// pin is checked here, so a bad policy fails the config load.
    pub fn compile(name: &str, config: &ToolPolicyConfig) -> Result<ToolPolicy, String> {
        let mut tools = FxHashMap::default();
        let mut described = Vec::with_capacity(config.tools.len());
        for rule in &config.tools {
            let (tool, schema_value) = compile_tool(rule)
                .map_err(|e| format!("tool policy `{name}`: tool `{}`: {e}", rule.name))?;
            if tools.insert(rule.name.clone(), tool).is_some() {
                return Err(format!(
                    "tool policy `{name}`: tool `{}` is listed twice",
                    rule.name
                ));
            }
            described.push(describe_rule(rule, schema_value));
        }
        Ok(ToolPolicy {
            name: name.to_owned(),
            version: version_of(name, config.undeclared, described),
            undeclared: config.undeclared,
            tools,
        })
    }

    /// `sha256:<hex>` of the policy's canonical description; an approval
    /// granted under one version does not carry over to another.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The policy's name in the config (`[guards.tool_policies.<name>]`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn undeclared(&self) -> Undeclared {
        self.undeclared
    }

    /// Whether `name` is on the list.
    pub fn lists(&self, name: &str) -> bool {
        self.tools.contains_key(name)
    }

    /// The pin `name`'s definition must hash to, if it has one.
    pub fn pin(&self, name: &str) -> Option<&str> {
        self.tools.get(name).and_then(|t| t.pin.as_deref())
    }

    /// Checks one tool a request declares against the list and its pin.
    pub fn check_definition(
        &self,
        name: &str,
        description: Option<&str>,
        parameters_json: Option<&str>,
    ) -> DefinitionCheck {
        let Some(tool) = self.tools.get(name) else {
            return DefinitionCheck::NotListed;
        };
        let Some(expected) = &tool.pin else {
            return DefinitionCheck::Allowed;
        };
        match definition_hash(name, description, parameters_json) {
            Ok(actual) if actual == *expected => DefinitionCheck::Allowed,
            Ok(actual) => DefinitionCheck::PinMismatch {
                expected: expected.clone(),
                actual,
            },
            Err(e) => DefinitionCheck::Malformed {
                reason: e.to_string(),
            },
        }
    }

    /// Checks one call the model (or an MCP client) emits.
    pub fn check_call(&self, name: &str, arguments_json: &str) -> Result<CheckedCall, CallRefusal> {
        let tool = self.tools.get(name).ok_or_else(|| CallRefusal {
            rule: rule::NOT_ALLOWED,
            message: format!("tool `{}` is not on the allowlist", clip(name)),
        })?;
        let args = parse_strict(arguments_json).map_err(parse_refusal)?;
        if let Some(schema) = &tool.schema {
            schema.validate(&args).map_err(|v| CallRefusal {
                rule: rule::SCHEMA,
                message: format!("at {}: {}", v.pointer, v.reason),
            })?;
        }
        tool.check_paths(&args)?;
        tool.check_forbidden(&args)?;
        let mut canonical = String::with_capacity(arguments_json.len());
        write_canonical(&args, &mut canonical);
        let mut args_digest = [0u8; 32];
        args_digest.copy_from_slice(digest(&SHA256, canonical.as_bytes()).as_ref());
        Ok(CheckedCall {
            approval_required: tool.approval_required,
            args_digest,
        })
    }
}

impl CompiledTool {
    fn check_paths(&self, args: &Value<'_>) -> Result<(), CallRefusal> {
        for (pointer, root) in &self.paths {
            pointer.for_each(args, &mut |value, at| {
                let refusal = |reason: &str| CallRefusal {
                    rule: rule::PATH_OUTSIDE_ROOT,
                    message: format!("at {}: {reason}", render_pointer(at)),
                };
                match value {
                    Value::String(raw) => {
                        root.resolve(raw).map(drop).map_err(|r| refusal(r.reason()))
                    }
                    _ => Err(refusal("a path must be a string")),
                }
            })?;
        }
        Ok(())
    }

    fn check_forbidden(&self, args: &Value<'_>) -> Result<(), CallRefusal> {
        for rule in &self.forbidden {
            rule.pointer.for_each(args, &mut |value, at| {
                if rule.matches(value) {
                    return Err(CallRefusal {
                        rule: rule::FORBIDDEN_VALUE,
                        message: format!("at {}: value is forbidden", render_pointer(at)),
                    });
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}

impl CompiledForbidden {
    /// Strings match exactly or by pattern; other values by their canonical
    /// text (`values = ["true"]` forbids the boolean).
    fn matches(&self, value: &Value<'_>) -> bool {
        match value {
            Value::String(s) => {
                self.values.iter().any(|v| v == s)
                    || self.pattern.as_ref().is_some_and(|p| p.is_match(s))
            }
            Value::Array(_) | Value::Object(_) => false,
            scalar => {
                let mut canonical = String::new();
                write_canonical(scalar, &mut canonical);
                self.values.contains(&canonical)
            }
        }
    }
}

fn compile_tool(rule: &ToolRule) -> Result<(CompiledTool, Option<Value<'static>>), String> {
    if rule.name.is_empty() {
        return Err("a tool needs a name".into());
    }
    let schema_value = rule.schema_value()?;
    let schema = schema_value
        .as_ref()
        .map(schema::compile)
        .transpose()
        .map_err(|e| format!("schema {e}"))?;
    let paths = rule
        .paths
        .iter()
        .map(|p| Ok((Pointer::parse(&p.pointer)?, PathRoot::new(&p.root)?)))
        .collect::<Result<_, String>>()?;
    let forbidden = rule
        .forbidden
        .iter()
        .map(compile_forbidden)
        .collect::<Result<_, _>>()?;
    let pin = rule.pin.as_deref().map(pin::parse_pin).transpose()?;
    let approval_required = rule.approval == Approval::Required;
    Ok((
        CompiledTool {
            schema,
            paths,
            forbidden,
            approval_required,
            pin,
        },
        schema_value,
    ))
}

fn compile_forbidden(rule: &Forbidden) -> Result<CompiledForbidden, String> {
    if rule.values.is_empty() && rule.pattern.is_none() {
        return Err(format!(
            "forbidden `{}` needs `values` or a `pattern`",
            rule.pointer
        ));
    }
    let pattern = match &rule.pattern {
        Some(p) => Some(Regex::new(p).map_err(|e| {
            format!(
                "forbidden `{}`: pattern does not compile: {e}",
                rule.pointer
            )
        })?),
        None => None,
    };
    Ok(CompiledForbidden {
        pointer: Pointer::parse(&rule.pointer)?,
        values: rule.values.clone(),
        pattern,
    })
}

/// The rule as a JSON value, the input of the policy's version hash.
fn describe_rule(rule: &ToolRule, schema: Option<Value<'static>>) -> Value<'static> {
    let text = |s: &str| Value::String(Cow::Owned(s.to_string()));
    let mut members = vec![
        (Cow::Borrowed("name"), text(&rule.name)),
        (
            Cow::Borrowed("approval"),
            text(if rule.approval == Approval::Required {
                "required"
            } else {
                "none"
            }),
        ),
    ];
    if let Some(schema) = schema {
        members.push((Cow::Borrowed("schema"), schema));
    }
    if let Some(pin) = &rule.pin {
        members.push((Cow::Borrowed("pin"), text(&pin.to_ascii_lowercase())));
    }
    let paths = rule.paths.iter().map(|p| {
        Value::Object(vec![
            (Cow::Borrowed("pointer"), text(&p.pointer)),
            (Cow::Borrowed("root"), text(&p.root)),
        ])
    });
    members.push((Cow::Borrowed("paths"), Value::Array(paths.collect())));
    let forbidden = rule.forbidden.iter().map(|f| {
        let mut entry = vec![
            (Cow::Borrowed("pointer"), text(&f.pointer)),
            (
                Cow::Borrowed("values"),
                Value::Array(f.values.iter().map(|v| text(v)).collect()),
            ),
        ];
        if let Some(pattern) = &f.pattern {
            entry.push((Cow::Borrowed("pattern"), text(pattern)));
        }
        Value::Object(entry)
    });
    members.push((
        Cow::Borrowed("forbidden"),
        Value::Array(forbidden.collect()),
    ));
    Value::Object(members)
}

/// Tools sorted by name, so reordering the config keeps the version.
fn version_of(name: &str, undeclared: Undeclared, mut tools: Vec<Value<'static>>) -> String {
    tools.sort_by(|a, b| match (a.get("name"), b.get("name")) {
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    });
    let undeclared = match undeclared {
        Undeclared::Refuse => "refuse",
        Undeclared::Strip => "strip",
    };
    let description = Value::Object(vec![
        (
            Cow::Borrowed("policy"),
            Value::String(Cow::Owned(name.to_string())),
        ),
        (
            Cow::Borrowed("undeclared"),
            Value::String(Cow::Borrowed(undeclared)),
        ),
        (Cow::Borrowed("tools"), Value::Array(tools)),
    ]);
    let mut canonical = String::new();
    write_canonical(&description, &mut canonical);
    pin::sha256_tagged(canonical.as_bytes())
}

fn parse_refusal(error: ParseError) -> CallRefusal {
    match &error {
        ParseError::DuplicateKey { .. } => CallRefusal {
            rule: rule::DUPLICATE_KEY,
            message: error.to_string(),
        },
        ParseError::Invalid { .. } => CallRefusal {
            rule: rule::INVALID_JSON,
            message: error.to_string(),
        },
    }
}

/// A model-chosen name, cut short and stripped of control characters for a message.
fn clip(name: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = name
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if name.chars().count() > MAX {
        out.push('…');
    }
    out
}
