//! Small reads over JSON that has been validated once: member spans of an
//! object, item spans of an array, a string member's text. Upstream lists
//! are rewritten by splicing these spans, so schemas pass through intact.

use std::borrow::Cow;
use std::ops::Range;

use crate::canonical::json_scan::{find_top_level_values, skip_value};

/// The spans of `keys` in the object `json[range]`, absolute in `json`.
pub fn members<const N: usize>(
    json: &[u8],
    range: Range<usize>,
    keys: [&[u8]; N],
) -> [Option<Range<usize>>; N] {
    let base = range.start;
    match json
        .get(range)
        .and_then(|obj| find_top_level_values(obj, keys))
    {
        Some(found) => found.map(|r| r.map(|r| r.start + base..r.end + base)),
        None => std::array::from_fn(|_| None),
    }
}

/// The spans of the items of the array `json[range]`; `None` if it is not one.
pub fn items(json: &[u8], range: Range<usize>) -> Option<Vec<Range<usize>>> {
    let mut i = range.start;
    if json.get(i) != Some(&b'[') {
        return None;
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        i = skip_ws(json, i);
        match *json.get(i)? {
            b']' => return Some(out),
            b',' => i += 1,
            _ => {
                let end = skip_value(json, i)?;
                out.push(i..end);
                i = end;
            }
        }
        if i > range.end {
            return None;
        }
    }
}

fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while matches!(json.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The text of the JSON string at `range`, unescaped; `None` if it is not a string.
pub fn string(json: &[u8], range: Range<usize>) -> Option<Cow<'_, str>> {
    let raw = json.get(range)?;
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if !inner.contains(&b'\\') {
        return std::str::from_utf8(inner).ok().map(Cow::Borrowed);
    }
    let mut copy = raw.to_vec();
    match simd_json::to_borrowed_value(&mut copy) {
        Ok(simd_json::BorrowedValue::String(s)) => Some(Cow::Owned(s.into_owned())),
        _ => None,
    }
}

/// The text of a string member `key` of the object at `range`.
pub fn string_member<'j>(json: &'j [u8], range: Range<usize>, key: &[u8]) -> Option<Cow<'j, str>> {
    let [span] = members(json, range, [key]);
    string(json, span?)
}

/// The object at `range` with member `key`'s value replaced by `value`
/// (raw JSON), or added first when absent; every other byte as it was.
pub fn with_member(json: &[u8], range: Range<usize>, key: &str, value: &[u8]) -> Vec<u8> {
    let obj = &json[range.clone()];
    let mut out = Vec::with_capacity(obj.len() + value.len() + key.len() + 4);
    match members(json, range.clone(), [key.as_bytes()]) {
        [Some(span)] => {
            out.extend_from_slice(&json[range.start..span.start]);
            out.extend_from_slice(value);
            out.extend_from_slice(&json[span.end..range.end]);
        }
        _ => {
            out.push(b'{');
            crate::canonical::json::write_str(&mut out, key);
            out.push(b':');
            out.extend_from_slice(value);
            let rest = obj[1..].trim_ascii_start();
            if rest.first() != Some(&b'}') {
                out.push(b',');
            }
            out.extend_from_slice(rest);
        }
    }
    out
}

/// A JSON string literal of `s`.
pub fn quoted(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    crate::canonical::json::write_str(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_members_and_strings() {
        let j = br#"{"tools":[{"name":"a\"b","x":1}, {"name":"c"} ],"n":2}"#;
        let [tools] = members(j, 0..j.len(), [b"tools"]);
        let list = items(j, tools.unwrap()).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            string_member(j, list[0].clone(), b"name").as_deref(),
            Some("a\"b")
        );
        assert_eq!(
            string_member(j, list[1].clone(), b"name").as_deref(),
            Some("c")
        );
        assert_eq!(items(b"[]", 0..2), Some(vec![]));
        assert_eq!(items(b"{}", 0..2), None);
    }

    #[test]
    fn a_member_is_replaced_or_added_and_nothing_else_moves() {
        let j = br#"{"name":"x", "inputSchema":{"a" : 1}}"#;
        assert_eq!(
            with_member(j, 0..j.len(), "name", br#""p-x""#),
            br#"{"name":"p-x", "inputSchema":{"a" : 1}}"#
        );
        assert_eq!(with_member(b"{ }", 0..3, "k", b"1"), br#"{"k":1}"#);
        assert_eq!(
            with_member(br#"{"a":2}"#, 0..7, "k", b"1"),
            br#"{"k":1,"a":2}"#
        );
    }
}
