//! Scrubbing secrets out of text that came from elsewhere (upstream error
//! bodies and messages, config errors) before it reaches a client or a log:
//! the exact credentials we sent, and anything shaped like a key.

use std::borrow::Cow;

use memchr::memmem;

/// What a secret becomes. ASCII with no JSON metacharacters, so a scrubbed
/// JSON string stays a valid JSON string.
pub const REDACTED: &str = "[redacted]";

/// Shorter secrets are not matched literally: they would hit ordinary words
/// (and JSON literals) in the text around them.
const MIN_SECRET_LEN: usize = 8;

/// `text` with every secret and every key-shaped token replaced by `[redacted]`.
pub fn scrub_text<'t>(text: &'t str, secrets: &[&str]) -> Cow<'t, str> {
    match scrub_bytes(text.as_bytes(), secrets) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        // Whole ASCII tokens and whole secrets were replaced by ASCII: still UTF-8.
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// `bytes` with every secret (raw or JSON-escaped) and every key-shaped
/// token replaced by `[redacted]`; borrowed when there was nothing to hide.
pub fn scrub_bytes<'b>(bytes: &'b [u8], secrets: &[&str]) -> Cow<'b, [u8]> {
    let mut hits = Vec::new();
    for secret in secrets.iter().filter(|s| s.len() >= MIN_SECRET_LEN) {
        find_all(bytes, secret.as_bytes(), &mut hits);
        let escaped = json_escaped(secret);
        if escaped != *secret {
            find_all(bytes, escaped.as_bytes(), &mut hits);
        }
    }
    key_shaped(bytes, &mut hits);
    redact(bytes, hits)
}

/// An upstream error body with the provider's own keys and anything
/// key-shaped hidden; the body itself when there was nothing to hide.
pub fn scrub_provider_error(body: Vec<u8>, keys: &[crate::config::Secret]) -> Vec<u8> {
    let keys: Vec<&str> = keys.iter().map(|k| k.expose()).collect();
    match scrub_bytes(&body, &keys) {
        Cow::Borrowed(_) => body,
        Cow::Owned(clean) => clean,
    }
}

/// An error message with the given keys and anything key-shaped hidden.
pub fn scrub_message(message: &mut String, keys: &[crate::config::Secret]) {
    let keys: Vec<&str> = keys.iter().map(|k| k.expose()).collect();
    if let Cow::Owned(clean) = scrub_text(message, &keys) {
        *message = clean;
    }
}

/// `bytes` with each range in `hits` (overlapping or not) replaced once.
fn redact(bytes: &[u8], mut hits: Vec<(usize, usize)>) -> Cow<'_, [u8]> {
    if hits.is_empty() {
        return Cow::Borrowed(bytes);
    }
    hits.sort_unstable();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    for (start, end) in hits {
        if start < at {
            at = at.max(end);
            continue;
        }
        out.extend_from_slice(&bytes[at..start]);
        out.extend_from_slice(REDACTED.as_bytes());
        at = end;
    }
    out.extend_from_slice(&bytes[at..]);
    Cow::Owned(out)
}

fn find_all(hay: &[u8], needle: &[u8], hits: &mut Vec<(usize, usize)>) {
    hits.extend(memmem::find_iter(hay, needle).map(|i| (i, i + needle.len())));
}

fn json_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    super::error::push_json_str(&mut out, s);
    out[1..out.len() - 1].to_string()
}

/// Characters of a key-like token (`sk-proj-…`, `AIza…`, hex).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Characters of a bearer token or a base64 value (JWTs add `.`, base64 `+/=`).
fn is_wide_token(b: u8) -> bool {
    is_token(b) || matches!(b, b'.' | b'+' | b'/' | b'=' | b'~')
}

fn token_end(bytes: &[u8], from: usize, part: fn(u8) -> bool) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| !part(b))
        .map_or(bytes.len(), |n| from + n)
}

/// Ranges of tokens that look like credentials: OpenAI/Anthropic `sk-…`,
/// Google `AIza…`, the token after `Bearer`, and a long token with digits
/// right after a word ending in `key` or `token` (`api_key: 3f9a…`).
fn key_shaped(bytes: &[u8], hits: &mut Vec<(usize, usize)>) {
    let mut i = 0;
    while i < bytes.len() {
        if !is_token(bytes[i]) {
            i += 1;
            continue;
        }
        let end = token_end(bytes, i, is_token);
        let word = &bytes[i..end];
        let len = word.len();
        if word.starts_with(b"sk-") && len >= 16 || word.starts_with(b"AIza") && len >= 30 {
            hits.push((i, end));
        } else if let Some(hit) = value_after(bytes, end, word) {
            hits.push(hit);
        }
        i = end;
    }
}

/// The credential that follows `word`, if `word` introduces one.
fn value_after(bytes: &[u8], end: usize, word: &[u8]) -> Option<(usize, usize)> {
    let lower = word.to_ascii_lowercase();
    if lower == b"bearer" {
        let start = end + bytes[end..].iter().take_while(|&&b| b == b' ').count();
        let stop = token_end(bytes, start, is_wide_token);
        return (start > end && stop - start >= 8).then_some((start, stop));
    }
    if !(lower.ends_with(b"key") || lower.ends_with(b"token")) {
        return None;
    }
    let start = end
        + bytes[end..]
            .iter()
            .take(4)
            .take_while(|&&b| matches!(b, b':' | b'=' | b' ' | b'"' | b'\'' | b'\t' | b'\\'))
            .count();
    let stop = token_end(bytes, start, is_wide_token);
    let value = &bytes[start..stop];
    (start > end && value.len() >= 20 && value.iter().any(u8::is_ascii_digit))
        .then_some((start, stop))
}

/// Byte ranges of the key-shaped tokens in `bytes`, for the answer guard
/// that redacts them as a stream flows (`guard::text::window`).
pub fn key_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut hits = Vec::new();
    key_shaped(bytes, &mut hits);
    hits
}

/// Whether `s` as a whole looks like a credential rather than a name: a
/// known key prefix, a key-shaped token, or a long run of letters and
/// digits with no `_` (variable names have words; keys do not).
pub fn looks_like_key(s: &str) -> bool {
    let b = s.as_bytes();
    let mut hits = Vec::new();
    key_shaped(b, &mut hits);
    !hits.is_empty()
        || b.starts_with(b"sk-")
        || b.starts_with(b"AIza")
        || b.len() >= 20
            && !b.contains(&b'_')
            && b.iter().any(u8::is_ascii_digit)
            && b.iter().any(u8::is_ascii_alphabetic)
}

/// Hides a provider's exact keys in a stream relayed piece by piece. A key
/// split across two pieces is caught by holding back the end of a piece
/// while it could still be the start of a key.
pub struct StreamScrubber {
    secrets: Vec<Vec<u8>>,
    held: Vec<u8>,
}

impl StreamScrubber {
    pub fn new<'s>(secrets: impl IntoIterator<Item = &'s str>) -> Self {
        let secrets = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .map(|s| s.as_bytes().to_vec())
            .collect();
        StreamScrubber {
            secrets,
            held: Vec::new(),
        }
    }

    /// The bytes of `piece` that can go out now; borrowed in the usual case
    /// (nothing held, nothing found).
    pub fn feed<'p>(&mut self, piece: &'p [u8]) -> Cow<'p, [u8]> {
        if self.secrets.is_empty() {
            return Cow::Borrowed(piece);
        }
        if self.held.is_empty() {
            let keep = self.partial_tail(piece);
            let (ready, tail) = piece.split_at(piece.len() - keep);
            self.held.extend_from_slice(tail);
            return self.replace(ready);
        }
        let mut joined = std::mem::take(&mut self.held);
        joined.extend_from_slice(piece);
        let keep = self.partial_tail(&joined);
        self.held = joined.split_off(joined.len() - keep);
        Cow::Owned(self.replace(&joined).into_owned())
    }

    fn replace<'b>(&self, bytes: &'b [u8]) -> Cow<'b, [u8]> {
        let mut hits = Vec::new();
        for s in &self.secrets {
            find_all(bytes, s, &mut hits);
        }
        redact(bytes, hits)
    }

    /// Whatever was held back, at the end of the stream.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.held)
    }

    /// How many trailing bytes of `bytes` are a proper prefix of some secret.
    /// Only positions holding the secret's first byte are compared, so a
    /// piece costs a `memchr` per key, not a comparison per offset.
    fn partial_tail(&self, bytes: &[u8]) -> usize {
        let mut keep = 0;
        for s in &self.secrets {
            let window = (s.len() - 1).min(bytes.len());
            let from = bytes.len() - window;
            let longest = memchr::memchr_iter(s[0], &bytes[from..])
                .map(|i| from + i)
                .find(|&p| s.starts_with(&bytes[p..]));
            if let Some(p) = longest {
                keep = keep.max(bytes.len() - p);
            }
        }
        keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_secrets_are_replaced_inside_json_strings() {
        let body = br#"{"error":{"message":"Incorrect API key provided: zzsecret1234. Bad."}}"#;
        let out = scrub_bytes(body, &["zzsecret1234"]);
        assert_eq!(
            &*out,
            br#"{"error":{"message":"Incorrect API key provided: [redacted]. Bad."}}"#
        );
        let quoted = br#"{"m":"a \"q\"uoted1 key"}"#;
        assert!(
            !scrub_bytes(quoted, &["\"q\"uoted1"])
                .windows(6)
                .any(|w| w == b"uoted1")
        );
    }

    #[test]
    fn key_shaped_tokens_are_replaced() {
        for (text, hidden) in [
            (
                "key sk-proj-abcdefghijklmnop0123 is bad",
                "sk-proj-abcdefghijklmnop0123",
            ),
            (
                "x sk-ant-api03-AAAABBBBCCCCDDDD-x.",
                "sk-ant-api03-AAAABBBBCCCCDDDD-x",
            ),
            (
                "AIzaSyA1234567890abcdefghijklmnopqrs",
                "AIzaSyA1234567890abcdefghijklmnopqrs",
            ),
            ("Authorization: Bearer abc.def.ghi12345", "abc.def.ghi12345"),
            (
                "{\"api_key\":\"0123456789abcdef0123456789\"}",
                "0123456789abcdef0123456789",
            ),
            (
                "access_token=dGhpcyBpcyBhIHRlc3QgdG9rZW4x==",
                "dGhpcyBpcyBhIHRlc3QgdG9rZW4x==",
            ),
        ] {
            let out = scrub_text(text, &[]);
            assert!(!out.contains(hidden), "{text} -> {out}");
            assert!(out.contains(REDACTED), "{text} -> {out}");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "API key not valid. Please pass a valid API key.",
            "This model's maximum context length is 8192 tokens.",
            "{\"type\":\"rate_limit_error\",\"message\":\"task-force sk-short\"}",
            "key: OPENAI_API_KEY",
        ] {
            assert!(
                matches!(scrub_text(text, &["short"]), Cow::Borrowed(_)),
                "{text}"
            );
        }
    }

    #[test]
    fn variable_names_are_not_keys() {
        for name in ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "MY_KEY_2", "TEAM_A"] {
            assert!(!looks_like_key(name), "{name}");
        }
        for key in ["sk-abc", "AIzaSyA123", "d41d8cd98f00b204e9800998ecf8427e"] {
            assert!(looks_like_key(key), "{key}");
        }
    }

    #[test]
    fn a_key_split_across_pieces_is_still_hidden() {
        let key = "zzsecret-0123456789";
        let stream = format!("data: {{\"error\":\"bad key {key} here\"}}\n\n");
        for split in 0..stream.len() {
            let mut s = StreamScrubber::new([key]);
            let mut out = s.feed(&stream.as_bytes()[..split]).into_owned();
            out.extend_from_slice(&s.feed(&stream.as_bytes()[split..]));
            out.extend_from_slice(&s.finish());
            let out = String::from_utf8(out).unwrap();
            assert_eq!(out, stream.replace(key, REDACTED), "split at {split}");
        }
    }
}
