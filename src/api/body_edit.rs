//! Per-provider rewrites of a passthrough body's top-level fields — the
//! quirks of the OpenAI-compatible family (renamed, dropped or pinned
//! fields) — spliced from the original bytes, never re-serialized whole.

use crate::canonical::json_scan::top_level_members;

/// What to change at the top level of a request body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyEdits {
    /// Keys removed.
    pub drop: Vec<String>,
    /// Keys renamed (from, to); the value is kept byte for byte.
    pub rename: Vec<(String, String)>,
    /// Keys set to a JSON value (replacing any value the client sent).
    pub set: Vec<(String, Vec<u8>)>,
}

impl BodyEdits {
    pub fn is_empty(&self) -> bool {
        self.drop.is_empty() && self.rename.is_empty() && self.set.is_empty()
    }
}

/// Applies `edits` (plus the model, when given) to a validated JSON object.
/// `None` when the body has escaped keys; the caller then re-serializes.
pub fn apply(body: &[u8], model: Option<&str>, edits: &BodyEdits) -> Option<Vec<u8>> {
    let members = top_level_members(body)?;
    let mut model_json = Vec::new();
    if let Some(m) = model {
        let mut s = String::new();
        super::error::push_json_str(&mut s, m);
        model_json = s.into_bytes();
    }
    let mut out = Vec::with_capacity(body.len() + 64);
    out.push(b'{');
    let mut first = true;
    let mut push_member = |out: &mut Vec<u8>, key: &[u8], value: &[u8]| {
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(key);
        out.extend_from_slice(b"\":");
        out.extend_from_slice(value);
    };
    for (k, v) in &members {
        let key = &body[k.start + 1..k.end - 1];
        let is = |name: &str| key == name.as_bytes();
        if edits.drop.iter().any(|d| is(d)) || edits.set.iter().any(|(s, _)| is(s)) {
            continue;
        }
        if model.is_some() && is("model") {
            continue;
        }
        let key = edits
            .rename
            .iter()
            .find(|(from, _)| is(from))
            .map_or(key, |(_, to)| to.as_bytes());
        push_member(&mut out, key, &body[v.clone()]);
    }
    if model.is_some() {
        push_member(&mut out, b"model", &model_json);
    }
    for (key, value) in &edits.set {
        push_member(&mut out, key.as_bytes(), value);
    }
    out.push(b'}');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_renames_sets_and_keeps_the_rest_exact() {
        let edits = BodyEdits {
            drop: vec!["stream_options".into()],
            rename: vec![("max_completion_tokens".into(), "max_tokens".into())],
            set: vec![("enable_thinking".into(), b"false".to_vec())],
        };
        let body = br#"{"model":"a","messages":[{"role":"user","content":"x"}],"max_completion_tokens":5,"stream_options":{"include_usage":true},"enable_thinking":true}"#;
        let out = apply(body, Some("b"), &edits).unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"messages":[{"role":"user","content":"x"}],"max_tokens":5,"model":"b","enable_thinking":false}"#
        );
    }
}
