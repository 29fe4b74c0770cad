//! [`RawJson`]: a JSON value the gateway forwards without looking inside
//! (tool parameter schemas, structured-output schemas), kept as text.
//!
//! A schema is copied from the request body as the client wrote it, minus
//! the whitespace between tokens, or, where it cannot be located, written
//! off the tape; either way it costs one string instead of a tree of maps, and
//! an adapter that forwards it as is (Anthropic's `input_schema`, Gemini's
//! `parametersJsonSchema`) copies the bytes. Keys keep the client's order,
//! repeated keys included. Adapters that must rewrite a schema (Gemini's
//! OpenAPI subset) parse it with [`RawJson::to_value`].

use std::fmt;

use crate::canonical::tape::prelude::*;
use simd_json::OwnedValue;
use simd_json::tape::Value;

use super::json::{write_f64, write_i64, write_str, write_u64, write_value};
use super::json_scan::copy_compact;
use super::tape::{BodyMap, with_tape};

/// Compact JSON text, valid by construction.
#[derive(Clone, PartialEq, Eq)]
pub struct RawJson(String);

impl RawJson {
    /// The value's compact text, written from simd-json's tape.
    pub fn from_tape(value: Value<'_, '_>) -> Self {
        let mut out = Vec::with_capacity(256);
        write_tape(&mut out, value);
        Self::from_bytes(out)
    }

    /// The object's text as the client sent it (minus whitespace between
    /// tokens), copied from the body the tape was parsed from; written off
    /// the tape when it cannot be located (an empty object, an escaped
    /// first key).
    pub fn from_body(map: BodyMap<'_>, value: Value<'_, '_>) -> Self {
        let Some(open) = locate(map, value) else {
            return Self::from_tape(value);
        };
        if let Some(text) = map.compact_span(open) {
            return Self::from_bytes(text.to_vec());
        }
        let mut out = Vec::with_capacity(256);
        match copy_compact(map.body, open, &mut out) {
            Some(_) => Self::from_bytes(out),
            None => Self::from_tape(value),
        }
    }

    /// The compact text of a parsed value.
    pub fn from_value(value: &OwnedValue) -> Self {
        let mut out = Vec::with_capacity(64);
        write_value(&mut out, value);
        Self::from_bytes(out)
    }

    /// `{}`, the schema of "any object".
    pub fn empty_object() -> Self {
        Self::literal("{}")
    }

    /// A JSON literal from the source code (checked in debug builds).
    pub fn literal(text: &'static str) -> Self {
        debug_assert!(simd_json::to_owned_value(&mut text.as_bytes().to_vec()).is_ok());
        RawJson(text.into())
    }

    fn from_bytes(bytes: Vec<u8>) -> Self {
        // Every byte came from a `&str` or is ASCII punctuation.
        RawJson(String::from_utf8(bytes).unwrap_or_default())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The parsed value, for adapters that rewrite it.
    pub fn to_value(&self) -> OwnedValue {
        let mut copy = self.0.as_bytes().to_vec();
        simd_json::to_owned_value(&mut copy).unwrap_or_default()
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Serializes as the JSON value it holds (for serde-built wire bodies).
impl serde::Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

/// Where an object read off the tape opens in the body: found from its
/// first key (the tape keeps where strings start), checked to be that very
/// key, quoted and preceded by the object's `{`.
fn locate(map: BodyMap<'_>, value: Value<'_, '_>) -> Option<usize> {
    let (key, _) = value.as_object()?.iter().next()?;
    let body = map.body;
    let at = map.offset_of(key)?;
    let quoted = at > 0
        && body[at - 1] == b'"'
        && body.get(at + key.len()) == Some(&b'"')
        && &body[at..at + key.len()] == key.as_bytes();
    if !quoted {
        return None;
    }
    let open = body[..at - 1]
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())?;
    (body[open] == b'{').then_some(open)
}

/// Writes `text` compact, read off the tape, when it is a JSON object;
/// `false`, with nothing written, when it is not.
pub fn write_object_text(out: &mut Vec<u8>, text: &str) -> bool {
    with_tape(text.as_bytes(), |tape, _| match tape {
        Ok(tape) if tape.as_value().is_object() => {
            write_tape(out, tape.as_value());
            true
        }
        _ => false,
    })
}

/// A tool call's `arguments` (JSON text) as the object providers take:
/// compact, `{}` when blank; `false` when they are not an object.
pub fn write_arguments(out: &mut Vec<u8>, arguments: &str) -> bool {
    if arguments.trim().is_empty() {
        out.extend_from_slice(b"{}");
        return true;
    }
    write_object_text(out, arguments)
}

/// Writes a tape value in the form simd-json's own writer gives the
/// equivalent owned value: no whitespace, shortest round-trip floats.
fn write_tape(out: &mut Vec<u8>, value: Value<'_, '_>) {
    match value.value_type() {
        ValueType::Array => {
            out.push(b'[');
            if let Some(items) = value.as_array() {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_tape(out, item);
                }
            }
            out.push(b']');
        }
        ValueType::Object => {
            out.push(b'{');
            if let Some(members) = value.as_object() {
                for (i, (key, item)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, key);
                    out.push(b':');
                    write_tape(out, item);
                }
            }
            out.push(b'}');
        }
        ValueType::String => write_str(out, value.as_str().unwrap_or_default()),
        ValueType::Null => out.extend_from_slice(b"null"),
        ValueType::Bool if value.as_bool() == Some(true) => out.extend_from_slice(b"true"),
        ValueType::Bool => out.extend_from_slice(b"false"),
        ValueType::I64 => write_i64(out, value.as_i64().unwrap_or_default()),
        ValueType::U64 => write_u64(out, value.as_u64().unwrap_or_default()),
        ValueType::F64 => write_f64(out, value.as_f64().unwrap_or_default()),
        // 128-bit integers and custom types are not enabled in this build.
        _ => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via_tape(src: &str) -> String {
        let mut bytes = src.as_bytes().to_vec();
        let tape = simd_json::to_tape(&mut bytes).expect("valid JSON");
        RawJson::from_tape(tape.as_value()).as_str().to_owned()
    }

    fn via_owned(src: &str) -> String {
        let mut bytes = src.as_bytes().to_vec();
        let value = simd_json::to_owned_value(&mut bytes).expect("valid JSON");
        RawJson::from_value(&value).as_str().to_owned()
    }

    #[test]
    fn tape_text_is_what_the_owned_writer_gives() {
        for src in [
            r#"{"type":"object","properties":{"a":{"type":"string","description":"x \"y\" \u00e9\n"}},"required":["a"]}"#,
            r#" { "n" : [ 1 , -2 , 3.5 , 1e3 , 18446744073709551615 , -9223372036854775808 , 0.1 ] , "b" : [true,false,null] , "e" : {} , "l" : [] } "#,
            r#"{"ctl":"\u0001\t","slash":"a\/b","uni":"\ud83d\ude00"}"#,
            "[]",
            "\"s\"",
            "12",
        ] {
            assert_eq!(via_tape(src), via_owned(src), "{src}");
        }
    }

    #[test]
    fn keeps_key_order_and_repeated_keys_as_written() {
        assert_eq!(via_tape(r#"{"b":1,"a":2,"b":3}"#), r#"{"b":1,"a":2,"b":3}"#);
        let many: Vec<String> = (0..40).rev().map(|i| format!("\"k{i}\":{i}")).collect();
        let src = format!("{{{}}}", many.join(","));
        assert_eq!(via_tape(&src), src);
    }

    #[test]
    fn parses_back_to_the_same_value() {
        let src = r#"{"type":"object","properties":{"n":{"type":"integer","minimum":1}}}"#;
        let mut bytes = src.as_bytes().to_vec();
        let tape = simd_json::to_tape(&mut bytes).expect("valid JSON");
        let raw = RawJson::from_tape(tape.as_value());
        assert_eq!(
            raw.to_value(),
            simd_json::json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}})
        );
    }

    /// `schema` as the value of a member of a larger body.
    fn via_body(schema: &str) -> String {
        let body = format!("{{\"before\": [1, {{\"x\": 2}}],\n  \"s\" :  {schema}\n}}");
        crate::canonical::tape::with_tape(body.as_bytes(), |tape, map| {
            let root = tape.expect("valid JSON").as_value();
            let value = root.as_object().and_then(|o| o.get("s")).expect("member s");
            RawJson::from_body(map, value).into_string()
        })
    }

    #[test]
    fn copied_from_the_body_without_whitespace_between_tokens() {
        for (schema, expected) in [
            (
                "{\n  \"type\": \"object\",\n  \"properties\": {\"q\": {\"type\": [\"string\", \"null\"]}}\n}",
                r#"{"type":"object","properties":{"q":{"type":["string","null"]}}}"#,
            ),
            // Strings go over whole: spaces, braces, quotes and escapes in them stay.
            (
                r#"{ "d" : "a } b { \" [ ]" , "n" : [ 1 , -2.5e3 , true , null , { } ] }"#,
                r#"{"d":"a } b { \" [ ]","n":[1,-2.5e3,true,null,{}]}"#,
            ),
            // Already compact: taken whole (strings ending in spaces, nested
            // empties, escapes and brackets inside strings included).
            (
                r#"{"d":"a } b { \" [ ] ","n":[1,-2.5e3,true,null,{},[]],"e":{"f":"\u00e9 "}}"#,
                r#"{"d":"a } b { \" [ ] ","n":[1,-2.5e3,true,null,{},[]],"e":{"f":"\u00e9 "}}"#,
            ),
            // Whitespace only after the last token inside.
            (r#"{"a":[1,2] }"#, r#"{"a":[1,2]}"#),
            // Not locatable (no key, or an escaped first key): written off the tape.
            ("{ }", "{}"),
            (r#"{"\u0061": 1, "b": " x "}"#, r#"{"a":1,"b":" x "}"#),
        ] {
            let copied = via_body(schema);
            assert_eq!(copied, expected, "{schema}");
            let reparsed = RawJson(copied).to_value();
            let mut original = schema.as_bytes().to_vec();
            assert_eq!(
                reparsed,
                simd_json::to_owned_value(&mut original).expect("valid")
            );
        }
    }
}
