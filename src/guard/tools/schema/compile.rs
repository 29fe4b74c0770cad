//! Compiling a schema document into the validator's node arena. `$ref`
//! resolves to `#` or to an entry of the root's `$defs` / `definitions`;
//! every keyword is either enforced, a known annotation, or an error.

use regex::Regex;

use super::{Node, NodeId, Schema, types};
use crate::guard::tools::strict::MAX_DEPTH;
use crate::guard::tools::value::Value;

/// Keywords that assert nothing; accepted and ignored. `format` is an
/// annotation by default in draft 2020-12.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "$anchor",
    "title",
    "description",
    "default",
    "examples",
    "format",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentMediaType",
    "contentEncoding",
];

/// Upper bound on compiled patterns, so one policy cannot hold a huge automaton.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a JSON Schema document (an object or a boolean).
pub fn compile(root: &Value<'static>) -> Result<Schema, String> {
    let mut compiler = Compiler {
        nodes: vec![Node::default()],
        defs: Vec::new(),
    };
    let def_entries = compiler.reserve_defs(root)?;
    for (id, at, value) in def_entries {
        compiler.nodes[id] = compiler.node(value, &at, 1)?;
    }
    compiler.nodes[0] = compiler.node(root, "#", 0)?;
    Ok(Schema {
        nodes: compiler.nodes,
    })
}

struct Compiler {
    nodes: Vec<Node>,
    /// `$ref` targets: `#/$defs/<name>` (or `#/definitions/<name>`) → node.
    defs: Vec<(String, NodeId)>,
}

type DefEntry<'s> = (NodeId, String, &'s Value<'static>);

impl Compiler {
    /// Gives every root `$defs` entry a node id before anything compiles,
    /// so references (even cyclic ones) resolve in one pass.
    fn reserve_defs<'s>(&mut self, root: &'s Value<'static>) -> Result<Vec<DefEntry<'s>>, String> {
        let mut entries = Vec::new();
        for keyword in ["$defs", "definitions"] {
            let Some(defs) = root.get(keyword) else {
                continue;
            };
            let Value::Object(members) = defs else {
                return Err(format!("#/{keyword}: must be an object"));
            };
            for (name, value) in members {
                let id = self.nodes.len();
                self.nodes.push(Node::default());
                let escaped = name.replace('~', "~0").replace('/', "~1");
                self.defs.push((format!("#/{keyword}/{escaped}"), id));
                entries.push((id, format!("#/{keyword}/{escaped}"), value));
            }
        }
        Ok(entries)
    }

    fn sub(&mut self, value: &Value<'static>, at: &str, depth: usize) -> Result<NodeId, String> {
        let node = self.node(value, at, depth + 1)?;
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }

    fn subs(
        &mut self,
        value: &Value<'static>,
        at: &str,
        depth: usize,
    ) -> Result<Vec<NodeId>, String> {
        let Value::Array(items) = value else {
            return Err(format!("{at}: must be an array of schemas"));
        };
        if items.is_empty() {
            return Err(format!("{at}: must not be empty"));
        }
        let mut ids = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            ids.push(self.sub(item, &format!("{at}/{i}"), depth)?);
        }
        Ok(ids)
    }

    fn node(&mut self, value: &Value<'static>, at: &str, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return Err(format!("{at}: schema nested too deeply"));
        }
        let members = match value {
            Value::Bool(true) => return Ok(Node::default()),
            Value::Bool(false) => {
                return Ok(Node {
                    never: true,
                    ..Node::default()
                });
            }
            Value::Object(members) => members,
            _ => return Err(format!("{at}: a schema must be an object or a boolean")),
        };
        let mut node = Node::default();
        for (keyword, arg) in members {
            let here = format!("{at}/{keyword}");
            self.keyword(&mut node, keyword, arg, &here, depth)
                .map_err(|e| {
                    if e.starts_with('#') {
                        e
                    } else {
                        format!("{here}: {e}")
                    }
                })?;
        }
        Ok(node)
    }

    fn keyword(
        &mut self,
        node: &mut Node,
        keyword: &str,
        arg: &Value<'static>,
        at: &str,
        depth: usize,
    ) -> Result<(), String> {
        match keyword {
            "type" => node.types = Some(type_mask(arg)?),
            "enum" => match arg {
                Value::Array(items) => node.enumeration = Some(items.clone()),
                _ => return Err("must be an array".into()),
            },
            "const" => node.constant = Some(arg.clone()),
            "pattern" => node.pattern = Some(regex(arg)?),
            "minLength" => node.min_length = Some(count(arg)?),
            "maxLength" => node.max_length = Some(count(arg)?),
            "minimum" => node.minimum = Some(number(arg)?),
            "maximum" => node.maximum = Some(number(arg)?),
            "exclusiveMinimum" => node.exclusive_minimum = Some(number(arg)?),
            "exclusiveMaximum" => node.exclusive_maximum = Some(number(arg)?),
            "multipleOf" => node.multiple_of = Some(positive(arg)?),
            "required" => node.required = names(arg)?,
            "properties" => {
                for (name, sub) in members(arg)? {
                    let id = self.sub(sub, &format!("{at}/{name}"), depth)?;
                    node.properties.insert(name.to_string(), id);
                }
            }
            "patternProperties" => {
                for (pattern, sub) in members(arg)? {
                    let re = regex(&Value::String(pattern.clone()))?;
                    node.pattern_properties
                        .push((re, self.sub(sub, &format!("{at}/{pattern}"), depth)?));
                }
            }
            "additionalProperties" => node.additional_properties = Some(self.sub(arg, at, depth)?),
            "minProperties" => node.min_properties = Some(count(arg)?),
            "maxProperties" => node.max_properties = Some(count(arg)?),
            "prefixItems" => node.prefix_items = self.subs(arg, at, depth)?,
            // Draft 7's tuple form: `items: [..]` is 2020-12's `prefixItems`.
            "items" if matches!(arg, Value::Array(_)) => {
                node.prefix_items = self.subs(arg, at, depth)?
            }
            "items" | "additionalItems" => node.items = Some(self.sub(arg, at, depth)?),
            "minItems" => node.min_items = Some(count(arg)?),
            "maxItems" => node.max_items = Some(count(arg)?),
            "uniqueItems" => match arg {
                Value::Bool(b) => node.unique_items = *b,
                _ => return Err("must be a boolean".into()),
            },
            "allOf" => node.all_of = self.subs(arg, at, depth)?,
            "anyOf" => node.any_of = self.subs(arg, at, depth)?,
            "oneOf" => node.one_of = self.subs(arg, at, depth)?,
            "not" => node.not = Some(self.sub(arg, at, depth)?),
            "$ref" => node.reference = Some(self.reference(arg)?),
            "$defs" | "definitions" if depth == 0 => {}
            "$defs" | "definitions" => {
                return Err("only the root schema may hold definitions".into());
            }
            _ if ANNOTATIONS.contains(&keyword) => {}
            _ => return Err("keyword not supported by the tool policy's validator".into()),
        }
        Ok(())
    }

    fn reference(&self, arg: &Value<'static>) -> Result<NodeId, String> {
        let Value::String(target) = arg else {
            return Err("must be a string".into());
        };
        if target == "#" {
            return Ok(0);
        }
        self.defs
            .iter()
            .find(|(name, _)| name == target)
            .map(|(_, id)| *id)
            .ok_or_else(|| "only `#` and `#/$defs/<name>` references are supported".into())
    }
}

fn type_mask(arg: &Value<'static>) -> Result<u8, String> {
    let one = |name: &str| -> Result<u8, String> {
        Ok(match name {
            "null" => types::NULL,
            "boolean" => types::BOOLEAN,
            "integer" => types::INTEGER,
            "number" => types::NUMBER,
            "string" => types::STRING,
            "array" => types::ARRAY,
            "object" => types::OBJECT,
            _ => return Err(format!("unknown type `{name}`")),
        })
    };
    match arg {
        Value::String(name) => one(name),
        Value::Array(items) if !items.is_empty() => {
            items.iter().try_fold(0, |mask, item| match item {
                Value::String(name) => Ok(mask | one(name)?),
                _ => Err("type names must be strings".to_string()),
            })
        }
        _ => Err("must be a type name or a non-empty array of them".into()),
    }
}

fn members<'s>(
    arg: &'s Value<'static>,
) -> Result<&'s [(std::borrow::Cow<'static, str>, Value<'static>)], String> {
    match arg {
        Value::Object(members) => Ok(members),
        _ => Err("must be an object".into()),
    }
}

fn names(arg: &Value<'static>) -> Result<Vec<String>, String> {
    let Value::Array(items) = arg else {
        return Err("must be an array of strings".into());
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => Ok(s.to_string()),
            _ => Err("must be an array of strings".to_string()),
        })
        .collect()
}

fn number(arg: &Value<'static>) -> Result<f64, String> {
    match arg {
        Value::Number(n) => Ok(*n),
        Value::Bool(_) => {
            Err("draft-4 boolean form is not supported; give the bound as a number".into())
        }
        _ => Err("must be a number".into()),
    }
}

fn positive(arg: &Value<'static>) -> Result<f64, String> {
    match number(arg)? {
        n if n > 0.0 => Ok(n),
        _ => Err("must be greater than 0".into()),
    }
}

fn count(arg: &Value<'static>) -> Result<usize, String> {
    match number(arg)? {
        n if n >= 0.0 && n.fract() == 0.0 && n <= usize::MAX as f64 => Ok(n as usize),
        _ => Err("must be a non-negative integer".into()),
    }
}

fn regex(arg: &Value<'static>) -> Result<Regex, String> {
    let Value::String(pattern) = arg else {
        return Err("must be a string".into());
    };
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("pattern does not compile: {}", last_line(&e.to_string())))
}

/// The regex crate's errors end with the reason after a picture of the pattern.
fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or(text)
}
