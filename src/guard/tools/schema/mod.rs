//! A focused JSON Schema validator for tool arguments: the draft 2020-12
//! (and draft 7) assertions tool schemas use, compiled once per policy into
//! an arena of nodes. Keywords it does not implement are refused when the
//! policy compiles, never silently ignored: a misspelt `maxLenght` must not
//! read as a limit.

mod compile;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use regex::Regex;
use rustc_hash::FxHashMap;

use super::jcs::write_canonical;
use super::value::{Seg, Value, render_pointer};

pub use compile::compile;

/// Deepest schema application on one value; `$ref` cycles that consume no
/// input end here instead of in a stack overflow.
const MAX_APPLY_DEPTH: usize = 256;

/// Arrays up to this length are checked for `uniqueItems` pairwise; longer
/// ones by their canonical forms.
const PAIRWISE_UNIQUE_MAX: usize = 32;

type NodeId = usize;

/// A compiled schema; node 0 is the root.
#[derive(Debug)]
pub struct Schema {
    nodes: Vec<Node>,
}

/// Where and why an argument failed its schema. The reason names the rule,
/// never the offending value.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub pointer: String,
    pub reason: Cow<'static, str>,
}

/// The JSON types as bits, so `type: [..]` is one mask test.
mod types {
    pub const NULL: u8 = 1;
    pub const BOOLEAN: u8 = 2;
    pub const INTEGER: u8 = 4;
    pub const NUMBER: u8 = 8;
    pub const STRING: u8 = 16;
    pub const ARRAY: u8 = 32;
    pub const OBJECT: u8 = 64;
}

#[derive(Debug, Default)]
struct Node {
    /// The `false` schema: nothing is valid.
    never: bool,
    types: Option<u8>,
    enumeration: Option<Vec<Value<'static>>>,
    constant: Option<Value<'static>>,
    pattern: Option<Regex>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    multiple_of: Option<f64>,
    required: Vec<String>,
    properties: FxHashMap<String, NodeId>,
    pattern_properties: Vec<(Regex, NodeId)>,
    additional_properties: Option<NodeId>,
    min_properties: Option<usize>,
    max_properties: Option<usize>,
    prefix_items: Vec<NodeId>,
    items: Option<NodeId>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    unique_items: bool,
    all_of: Vec<NodeId>,
    any_of: Vec<NodeId>,
    one_of: Vec<NodeId>,
    not: Option<NodeId>,
    reference: Option<NodeId>,
}

impl Schema {
    /// Checks `value` against the schema; the first violation found.
    pub fn validate(&self, value: &Value<'_>) -> Result<(), Violation> {
        let mut path = Vec::new();
        self.apply(0, value, &mut path, 0)
    }

    fn apply<'v>(
        &self,
        id: NodeId,
        value: &'v Value<'v>,
        path: &mut Vec<Seg<'v>>,
        depth: usize,
    ) -> Result<(), Violation> {
        if depth > MAX_APPLY_DEPTH {
            return Err(fail(path, "schema applied too deeply (a `$ref` cycle?)"));
        }
        let Some(node) = self.nodes.get(id) else {
            return Err(fail(path, "schema node missing"));
        };
        if node.never {
            return Err(fail(path, "no value is allowed here"));
        }
        if let Some(mask) = node.types {
            check_type(mask, value, path)?;
        }
        if let Some(allowed) = &node.enumeration
            && !allowed.iter().any(|a| a.json_eq(value))
        {
            return Err(fail(path, "value is not one of the allowed values"));
        }
        if let Some(constant) = &node.constant
            && !constant.json_eq(value)
        {
            return Err(fail(path, "value differs from the required constant"));
        }
        match value {
            Value::String(s) => check_string(node, s, path)?,
            Value::Number(n) => check_number(node, *n, path)?,
            Value::Array(items) => self.check_array(node, items, path, depth)?,
            Value::Object(members) => self.check_object(node, members, path, depth)?,
            Value::Null | Value::Bool(_) => {}
        }
        self.check_combinators(node, value, path, depth)
    }

    fn check_array<'v>(
        &self,
        node: &Node,
        items: &'v [Value<'v>],
        path: &mut Vec<Seg<'v>>,
        depth: usize,
    ) -> Result<(), Violation> {
        if node.min_items.is_some_and(|min| items.len() < min) {
            return Err(fail_owned(
                path,
                format!("fewer than {} items", node.min_items.unwrap_or(0)),
            ));
        }
        if node.max_items.is_some_and(|max| items.len() > max) {
            return Err(fail_owned(
                path,
                format!("more than {} items", node.max_items.unwrap_or(0)),
            ));
        }
        if node.unique_items && !all_unique(items) {
            return Err(fail(path, "items are not unique"));
        }
        for (i, item) in items.iter().enumerate() {
            let sub = node.prefix_items.get(i).copied().or(node.items);
            if let Some(sub) = sub {
                path.push(Seg::Index(i));
                self.apply(sub, item, path, depth + 1)?;
                path.pop();
            }
        }
        Ok(())
    }

    fn check_object<'v>(
        &self,
        node: &Node,
        members: &'v [(Cow<'v, str>, Value<'v>)],
        path: &mut Vec<Seg<'v>>,
        depth: usize,
    ) -> Result<(), Violation> {
        if let Some(missing) = node
            .required
            .iter()
            .find(|r| !members.iter().any(|(k, _)| k == *r))
        {
            return Err(fail_owned(
                path,
                format!("missing required property `{missing}`"),
            ));
        }
        if node.min_properties.is_some_and(|min| members.len() < min) {
            return Err(fail(path, "too few properties"));
        }
        if node.max_properties.is_some_and(|max| members.len() > max) {
            return Err(fail(path, "too many properties"));
        }
        for (key, item) in members {
            path.push(Seg::Key(key));
            let mut matched = false;
            if let Some(&sub) = node.properties.get(key.as_ref()) {
                matched = true;
                self.apply(sub, item, path, depth + 1)?;
            }
            for (pattern, sub) in &node.pattern_properties {
                if pattern.is_match(key) {
                    matched = true;
                    self.apply(*sub, item, path, depth + 1)?;
                }
            }
            if !matched && let Some(sub) = node.additional_properties {
                if self.nodes.get(sub).is_some_and(|n| n.never) {
                    return Err(fail(path, "property is not allowed"));
                }
                self.apply(sub, item, path, depth + 1)?;
            }
            path.pop();
        }
        Ok(())
    }

    fn check_combinators<'v>(
        &self,
        node: &Node,
        value: &'v Value<'v>,
        path: &mut Vec<Seg<'v>>,
        depth: usize,
    ) -> Result<(), Violation> {
        if let Some(target) = node.reference {
            self.apply(target, value, path, depth + 1)?;
        }
        for &sub in &node.all_of {
            self.apply(sub, value, path, depth + 1)?;
        }
        if !node.any_of.is_empty()
            && !node
                .any_of
                .iter()
                .any(|&sub| self.passes(sub, value, path, depth))
        {
            return Err(fail(path, "value matches none of `anyOf`"));
        }
        if !node.one_of.is_empty() {
            let passing = node
                .one_of
                .iter()
                .filter(|&&sub| self.passes(sub, value, path, depth))
                .count();
            if passing != 1 {
                return Err(fail_owned(
                    path,
                    format!("value matches {passing} of `oneOf`, not exactly one"),
                ));
            }
        }
        if let Some(sub) = node.not
            && self.passes(sub, value, path, depth)
        {
            return Err(fail(path, "value matches a `not` schema"));
        }
        Ok(())
    }

    /// Whether `value` passes node `sub`, leaving `path` as it found it.
    fn passes<'v>(
        &self,
        sub: NodeId,
        value: &'v Value<'v>,
        path: &mut Vec<Seg<'v>>,
        depth: usize,
    ) -> bool {
        let len = path.len();
        let ok = self.apply(sub, value, path, depth + 1).is_ok();
        path.truncate(len);
        ok
    }
}

fn check_type(mask: u8, value: &Value<'_>, path: &[Seg<'_>]) -> Result<(), Violation> {
    let ok = match value {
        Value::Null => mask & types::NULL != 0,
        Value::Bool(_) => mask & types::BOOLEAN != 0,
        Value::Number(n) => {
            mask & types::NUMBER != 0 || (mask & types::INTEGER != 0 && n.fract() == 0.0)
        }
        Value::String(_) => mask & types::STRING != 0,
        Value::Array(_) => mask & types::ARRAY != 0,
        Value::Object(_) => mask & types::OBJECT != 0,
    };
    if ok {
        return Ok(());
    }
    Err(fail_owned(
        path,
        format!("expected {}, got {}", type_names(mask), value.type_name()),
    ))
}

fn type_names(mask: u8) -> String {
    const NAMES: [(u8, &str); 7] = [
        (types::NULL, "null"),
        (types::BOOLEAN, "boolean"),
        (types::INTEGER, "integer"),
        (types::NUMBER, "number"),
        (types::STRING, "string"),
        (types::ARRAY, "array"),
        (types::OBJECT, "object"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    names.join(" or ")
}

fn check_string(node: &Node, s: &str, path: &[Seg<'_>]) -> Result<(), Violation> {
    if node.min_length.is_some() || node.max_length.is_some() {
        let chars = s.chars().count();
        if let Some(min) = node.min_length.filter(|&min| chars < min) {
            return Err(fail_owned(
                path,
                format!("string shorter than {min} characters"),
            ));
        }
        if let Some(max) = node.max_length.filter(|&max| chars > max) {
            return Err(fail_owned(
                path,
                format!("string longer than {max} characters"),
            ));
        }
    }
    if let Some(pattern) = &node.pattern
        && !pattern.is_match(s)
    {
        return Err(fail(path, "string does not match the pattern"));
    }
    Ok(())
}

/// A bound, the test a number must pass against it, and the failure's wording.
type NumberBound = (Option<f64>, fn(f64, f64) -> bool, &'static str);

fn check_number(node: &Node, n: f64, path: &[Seg<'_>]) -> Result<(), Violation> {
    let bounds: [NumberBound; 4] = [
        (node.minimum, |n, b| n >= b, "below the minimum"),
        (node.maximum, |n, b| n <= b, "above the maximum"),
        (
            node.exclusive_minimum,
            |n, b| n > b,
            "not above the exclusive minimum",
        ),
        (
            node.exclusive_maximum,
            |n, b| n < b,
            "not below the exclusive maximum",
        ),
    ];
    for (bound, holds, reason) in bounds {
        if let Some(b) = bound
            && !holds(n, b)
        {
            return Err(fail_owned(path, format!("number {reason} {b}")));
        }
    }
    if let Some(m) = node.multiple_of
        && !is_multiple(n, m)
    {
        return Err(fail_owned(path, format!("number is not a multiple of {m}")));
    }
    Ok(())
}

/// `n / m` is a whole number, allowing for binary fractions: 0.3 counts as
/// a multiple of 0.1.
fn is_multiple(n: f64, m: f64) -> bool {
    let q = n / m;
    q.is_finite() && (q - q.round()).abs() <= 1e-9 * q.abs().max(1.0)
}

fn all_unique(items: &[Value<'_>]) -> bool {
    if items.len() <= PAIRWISE_UNIQUE_MAX {
        return items
            .iter()
            .enumerate()
            .all(|(i, a)| items[..i].iter().all(|b| !a.json_eq(b)));
    }
    let mut seen = rustc_hash::FxHashSet::default();
    items.iter().all(|item| {
        let mut canonical = String::new();
        write_canonical(item, &mut canonical);
        seen.insert(canonical)
    })
}

fn fail(path: &[Seg<'_>], reason: &'static str) -> Violation {
    Violation {
        pointer: render_pointer(path),
        reason: Cow::Borrowed(reason),
    }
}

fn fail_owned(path: &[Seg<'_>], reason: String) -> Violation {
    Violation {
        pointer: render_pointer(path),
        reason: Cow::Owned(reason),
    }
}
