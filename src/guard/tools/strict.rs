//! The strict JSON parse every tool argument goes through first: RFC 8259
//! exactly, and refusing what lets two parsers disagree — duplicate member
//! names at any depth (one parser's `path` must not be another's), lone
//! UTF-16 surrogates, numbers beyond a double. Bounded nesting, no panics.

use std::borrow::Cow;
use std::fmt;

use super::value::Value;

/// Deepest nesting accepted; deeper text is refused, not recursed into.
pub const MAX_DEPTH: usize = 128;

/// Why a text is not accepted as JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    /// A member name appears twice in one object; `path` leads to that
    /// member, innermost step last.
    DuplicateKey { path: Vec<String> },
    /// Not RFC 8259 JSON (or a lone surrogate, or a number beyond a double).
    Invalid { offset: usize, reason: &'static str },
}

impl ParseError {
    /// The RFC 6901 pointer of a duplicate member, cut to a readable length.
    pub fn pointer(&self) -> Option<String> {
        match self {
            ParseError::DuplicateKey { path } => {
                let segs: Vec<_> = path.iter().map(|k| super::value::Seg::Key(k)).collect();
                Some(super::value::render_pointer(&segs))
            }
            ParseError::Invalid { .. } => None,
        }
    }

    fn within(mut self, key: &str) -> ParseError {
        if let ParseError::DuplicateKey { path } = &mut self {
            path.insert(0, key.to_string());
        }
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::DuplicateKey { .. } => {
                let at = self.pointer().unwrap_or_default();
                write!(f, "duplicate member name at {at}")
            }
            ParseError::Invalid { offset, reason } => {
                write!(f, "invalid JSON at byte {offset}: {reason}")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses `text` as one JSON value, refusing anything two parsers could
/// read differently.
pub fn parse_strict(text: &str) -> Result<Value<'_>, ParseError> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos != parser.bytes.len() {
        return Err(parser.fail("text after the value"));
    }
    Ok(value)
}

/// Objects up to this size are checked for duplicates pairwise; larger
/// ones by sorting, so a huge object costs n·log n, not n².
const PAIRWISE_MAX: usize = 16;

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn fail(&self, reason: &'static str) -> ParseError {
        ParseError::Invalid {
            offset: self.pos,
            reason,
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, ParseError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.fail("expected a value")),
            None => Err(self.fail("unexpected end of text")),
        }
    }

    fn literal(&mut self, word: &str, value: Value<'a>) -> Result<Value<'a>, ParseError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.fail("expected a value"))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value<'a>, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.fail("nesting too deep"));
        }
        self.pos += 1;
        let mut members: Vec<(Cow<'a, str>, Value<'a>)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.fail("expected a member name"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.fail("expected `:`"));
            }
            self.pos += 1;
            let value = self.value(depth).map_err(|e| e.within(&key))?;
            members.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.fail("expected `,` or `}`")),
            }
        }
        match duplicate_name(&members) {
            Some(key) => Err(ParseError::DuplicateKey {
                path: vec![key.to_string()],
            }),
            None => Ok(Value::Object(members)),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value<'a>, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.fail("nesting too deep"));
        }
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            let index = items.len().to_string();
            items.push(self.value(depth).map_err(|e| e.within(&index))?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.fail("expected `,` or `]`")),
            }
        }
    }

    /// A string starting at the opening quote; borrowed unless it has escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, ParseError> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b'"') => {
                    let s = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(0..=0x1f) => return Err(self.fail("control character in a string")),
                Some(_) => self.pos += 1,
                None => return Err(self.fail("unterminated string")),
            }
        }
        let mut owned = String::from(&self.text[start..self.pos]);
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(owned));
                }
                Some(b'\\') => self.escape(&mut owned)?,
                Some(0..=0x1f) => return Err(self.fail("control character in a string")),
                Some(_) => {
                    let run_start = self.pos;
                    while let Some(b) = self.peek() {
                        if b == b'"' || b == b'\\' || b < 0x20 {
                            break;
                        }
                        self.pos += 1;
                    }
                    owned.push_str(&self.text[run_start..self.pos]);
                }
                None => return Err(self.fail("unterminated string")),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), ParseError> {
        self.pos += 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                return self.unicode_escape(out);
            }
            _ => return Err(self.fail("invalid escape")),
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    /// `\uXXXX` after the `u`; a surrogate must be a high one followed by
    /// an escaped low one.
    fn unicode_escape(&mut self, out: &mut String) -> Result<(), ParseError> {
        let unit = self.hex4()?;
        let code = match unit {
            0xD800..=0xDBFF => {
                if !self.bytes[self.pos..].starts_with(b"\\u") {
                    return Err(self.fail("lone surrogate"));
                }
                self.pos += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(self.fail("lone surrogate"));
                }
                0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.fail("lone surrogate")),
            _ => u32::from(unit),
        };
        match char::from_u32(code) {
            Some(c) => {
                out.push(c);
                Ok(())
            }
            None => Err(self.fail("invalid escape")),
        }
    }

    fn hex4(&mut self) -> Result<u16, ParseError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.fail("invalid escape"))?;
        let mut unit = 0u16;
        for &d in digits {
            let v = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.fail("invalid escape"))?;
            unit = unit << 4 | v as u16;
        }
        self.pos += 4;
        Ok(unit)
    }

    fn number(&mut self) -> Result<Value<'a>, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.fail("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.require_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.require_digits()?;
        }
        match self.text[start..self.pos].parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Value::Number(n)),
            _ => Err(ParseError::Invalid {
                offset: start,
                reason: "number beyond a double",
            }),
        }
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn require_digits(&mut self) -> Result<(), ParseError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.fail("invalid number"));
        }
        self.digits();
        Ok(())
    }
}

/// The first member name that appears twice, if any.
fn duplicate_name<'m>(members: &'m [(Cow<'_, str>, Value<'_>)]) -> Option<&'m str> {
    if members.len() <= PAIRWISE_MAX {
        for (i, (key, _)) in members.iter().enumerate() {
            if members[..i].iter().any(|(k, _)| k == key) {
                return Some(key);
            }
        }
        return None;
    }
    let mut names: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
    names.sort_unstable();
    names.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_rfc_8259_json() {
        let cases: &[(&str, Value<'_>)] = &[
            ("null", Value::Null),
            (" true ", Value::Bool(true)),
            ("-0", Value::Number(-0.0)),
            ("1.5e3", Value::Number(1500.0)),
            (r#""a\u00e9\ud83d\ude00\n""#, Value::String("aé😀\n".into())),
            ("[]", Value::Array(vec![])),
            (
                r#"{"a":[1,{}]}"#,
                Value::Object(vec![(
                    "a".into(),
                    Value::Array(vec![Value::Number(1.0), Value::Object(vec![])]),
                )]),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_strict(text).as_ref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn refuses_what_parsers_disagree_on() {
        let cases: &[(&str, &str)] = &[
            ("", "unexpected end of text"),
            ("{\"a\":1,}", "expected a member name"),
            ("[1,]", "expected a value"),
            ("01", "text after the value"),
            ("1.", "invalid number"),
            ("+1", "expected a value"),
            ("1e400", "number beyond a double"),
            ("NaN", "expected a value"),
            ("\"\\ud800\"", "lone surrogate"),
            ("\"\\udc00\"", "lone surrogate"),
            ("\"\\ud800\\u0041\"", "lone surrogate"),
            ("\"a\tb\"", "control character in a string"),
            ("\"\\x\"", "invalid escape"),
            ("\"\\u12\"", "invalid escape"),
            ("{'a':1}", "expected a member name"),
            ("[1] [2]", "text after the value"),
            ("\u{feff}{}", "expected a value"),
            ("tru", "expected a value"),
        ];
        for (text, reason) in cases {
            match parse_strict(text) {
                Err(ParseError::Invalid { reason: got, .. }) => {
                    assert_eq!(got, *reason, "{text:?}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_duplicate_names_at_any_depth_naming_the_pointer() {
        let many: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
        let cases = [
            (r#"{"path":"/a","path":"/b"}"#.to_string(), "/path"),
            (
                r#"{"a":{"b":[0,{"c":1,"\u0063":2}]}}"#.to_string(),
                "/a/b/1/c",
            ),
            (format!("{{{many}\"k7\":0}}"), "/k7"),
        ];
        for (text, pointer) in cases {
            let err = parse_strict(&text).unwrap_err();
            assert_eq!(err.pointer().as_deref(), Some(pointer), "{text}");
        }
    }

    #[test]
    fn refuses_deep_nesting_without_recursing_into_it() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(matches!(
            parse_strict(&deep),
            Err(ParseError::Invalid {
                reason: "nesting too deep",
                ..
            })
        ));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse_strict(&ok).is_ok());
    }
}
