//! Copies a JSON Schema (tool parameters, `response_format` schema) off the
//! tape into the [`OwnedValue`] the canonical model keeps.
//!
//! The copy must be the very value simd-json's owned parser would have built,
//! because it is written back out byte for byte: same key order, and keys a
//! client repeated kept twice. For objects of up to 32 keys (a vector map in
//! the owned DOM) inserting in document order reproduces that. Larger objects
//! are hash maps, and a repeated key cannot be re-inserted without `unsafe`;
//! both are rare, so those schemas are taken from an owned parse instead.

use simd_json::prelude::*;
use simd_json::tape::Value;
use simd_json::value::ObjectHasher;
use simd_json::{OwnedValue, StaticNode};

use super::tape::VECTOR_MAP_LIMIT;

/// Where a schema sits in the request, for the owned re-parse.
#[derive(Debug, Clone, Copy)]
pub(super) enum Subtree {
    /// `tools[i].function.parameters`
    ToolParameters(usize),
    /// `response_format.json_schema.schema`
    ResponseSchema,
}

/// The owned copy of `value`, found at `at` in `body`.
pub(super) fn owned_schema(body: &[u8], value: Value<'_, '_>, at: Subtree) -> OwnedValue {
    copy(value).unwrap_or_else(|| reparse(body, at))
}

/// `None` when the copy could differ from an owned parse (see module docs).
fn copy(value: Value<'_, '_>) -> Option<OwnedValue> {
    let scalar = |node| Some(OwnedValue::Static(node));
    match value.value_type() {
        ValueType::Null => scalar(StaticNode::Null),
        ValueType::Bool => scalar(StaticNode::Bool(value.as_bool()?)),
        ValueType::I64 => scalar(StaticNode::I64(value.as_i64()?)),
        ValueType::U64 => scalar(StaticNode::U64(value.as_u64()?)),
        ValueType::F64 => scalar(StaticNode::F64(value.as_f64()?)),
        ValueType::String => Some(OwnedValue::String(value.as_str()?.to_owned())),
        ValueType::Array => {
            let items = value.as_array()?;
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                out.push(copy(item)?);
            }
            Some(OwnedValue::Array(Box::new(out)))
        }
        ValueType::Object => {
            let map = value.as_object()?;
            if map.len() > VECTOR_MAP_LIMIT {
                return None;
            }
            let mut out = simd_json::owned::Object::with_capacity_and_hasher(
                map.len(),
                ObjectHasher::default(),
            );
            for (key, item) in map.iter() {
                if out.insert(key.to_owned(), copy(item)?).is_some() {
                    return None;
                }
            }
            Some(OwnedValue::Object(Box::new(out)))
        }
        // 128-bit integers and custom types are not enabled in this build.
        _ => None,
    }
}

/// The schema from a full owned parse, moved out rather than cloned so
/// even a hash map keeps its layout. The body already parsed once and the
/// borrowed walk found an object at `at`, so every step here succeeds; the
/// lookups take the first of repeated keys, like the borrowed walk did.
fn reparse(body: &[u8], at: Subtree) -> OwnedValue {
    let mut input = body.to_vec();
    let mut root = simd_json::to_owned_value(&mut input).unwrap_or_default();
    let found = match at {
        Subtree::ToolParameters(i) => member(&mut root, "tools")
            .and_then(|t| t.as_array_mut()?.get_mut(i))
            .and_then(|t| member(t, "function"))
            .and_then(|f| member(f, "parameters")),
        Subtree::ResponseSchema => member(&mut root, "response_format")
            .and_then(|r| member(r, "json_schema"))
            .and_then(|j| member(j, "schema")),
    };
    found.map(std::mem::take).unwrap_or_default()
}

fn member<'a>(value: &'a mut OwnedValue, key: &str) -> Option<&'a mut OwnedValue> {
    value.as_object_mut()?.get_mut(key)
}
