//! The JSON reading the wire modules share, over bytes simd-json has already
//! validated: an object's members with their keys unescaped (so a span can be
//! copied byte-exact while a key still means what any parser reads), string
//! values, and the repeated-key check.

use std::borrow::Cow;
use std::ops::Range;

use simd_json::tape::Value;

use crate::canonical::json_scan::skip_value;

/// One member of an object: its key as a parser reads it, where the key
/// (with quotes) and the value sit in the bytes walked.
pub(super) struct Member<'a> {
    pub key: Cow<'a, str>,
    pub key_span: Range<usize>,
    pub value: Range<usize>,
}

/// The JSON type of the value starting at `at`, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

pub(super) fn shape(json: &[u8], span: &Range<usize>) -> Shape {
    match json.get(span.start) {
        Some(b'{') => Shape::Object,
        Some(b'[') => Shape::Array,
        Some(b'"') => Shape::String,
        Some(b't' | b'f') => Shape::Bool,
        Some(b'n') => Shape::Null,
        _ => Shape::Number,
    }
}

/// Every member of the object at `span` (absolute offsets into `json`), in
/// order, repeats included. `None` when `span` does not hold an object.
pub(super) fn members(json: &[u8], span: Range<usize>) -> Option<Vec<Member<'_>>> {
    let end = span.end.min(json.len());
    let json = json.get(..end)?;
    let mut i = skip_ws(json, span.start);
    if json.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        i = skip_ws(json, i);
        match json.get(i)? {
            b'}' => return Some(out),
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = skip_value(json, i)?;
        let key_span = i..key_end;
        let key = string(json, key_span.clone())?;
        i = skip_ws(json, key_end);
        if json.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(json, i + 1);
        let value_end = skip_value(json, i)?;
        out.push(Member {
            key,
            key_span,
            value: i..value_end,
        });
        i = value_end;
    }
}

/// The text of the JSON string at `span`: borrowed when it has no escapes,
/// else unescaped by simd-json (the one place escapes are read, so a key
/// means here what it means to the parser that validated the body).
pub(super) fn string(json: &[u8], span: Range<usize>) -> Option<Cow<'_, str>> {
    let raw = json.get(span)?;
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if !inner.contains(&b'\\') {
        return std::str::from_utf8(inner).ok().map(Cow::Borrowed);
    }
    let mut copy = raw.to_vec();
    match simd_json::to_borrowed_value(&mut copy).ok()? {
        simd_json::BorrowedValue::String(s) => Some(Cow::Owned(s.into_owned())),
        _ => None,
    }
}

/// The first member named `key`.
pub(super) fn find<'m, 'a>(members: &'m [Member<'a>], key: &str) -> Option<&'m Member<'a>> {
    members.iter().find(|m| m.key == key)
}

/// Whether any object inside `value` (itself included) repeats a key, walked
/// on simd-json's tape with an explicit stack, so depth costs no recursion.
pub(super) fn repeats_anywhere(value: Value<'_, '_>) -> bool {
    let mut stack = vec![value];
    let mut keys: Vec<&str> = Vec::new();
    while let Some(v) = stack.pop() {
        if let Some(obj) = v.as_object() {
            keys.clear();
            for (k, member) in obj.iter() {
                keys.push(k);
                stack.push(member);
            }
            keys.sort_unstable();
            if keys.windows(2).any(|w| w[0] == w[1]) {
                return true;
            }
        } else if let Some(arr) = v.as_array() {
            stack.extend(arr.iter());
        }
    }
    false
}

pub(super) fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while i < json.len() && matches!(json[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_unescape_keys_and_keep_value_spans() {
        let json = br#"{ "a" : 1 , "n\u0061me":"x\"y", "o":{"p":[1,"}"]} }"#;
        let m = members(json, 0..json.len()).unwrap();
        let keys: Vec<&str> = m.iter().map(|m| m.key.as_ref()).collect();
        assert_eq!(keys, ["a", "name", "o"]);
        assert_eq!(&json[m[1].value.clone()], br#""x\"y""#);
        assert_eq!(string(json, m[1].value.clone()).as_deref(), Some("x\"y"));
        assert_eq!(&json[m[2].value.clone()], br#"{"p":[1,"}"]}"#);
        assert_eq!(shape(json, &m[2].value), Shape::Object);
        assert!(members(b"[1]", 0..3).is_none());
    }

    #[test]
    fn repeats_are_found_at_any_depth_and_escaped_spellings_count() {
        for (json, repeated) in [
            (&br#"{"a":1,"b":{"c":[{"d":1,"e":2}]}}"#[..], false),
            (br#"{"a":1,"b":{"c":[{"d":1,"d":2}]}}"#, true),
            (br#"{"a":1,"\u0061":2}"#, true),
            (br#"[{"x":1},{"x":1}]"#, false),
        ] {
            let got = crate::canonical::tape::with_tape(json, |t, _| {
                repeats_anywhere(t.unwrap().as_value())
            });
            assert_eq!(got, repeated, "{}", String::from_utf8_lossy(json));
        }
    }
}
