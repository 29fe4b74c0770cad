//! The echo model shared by the in-process `mock` provider and the mock
//! upstream: it answers with the last user message, whole or as SSE chunks,
//! with a usage block (tokens approximated as 4 bytes each).

use std::fmt::Write as _;

use crate::canonical::tape::prelude::*;

use crate::api::error::push_json_str;
use crate::canonical::tape::with_tape;

pub(super) type TapeValue<'t, 'i> = simd_json::tape::Value<'t, 'i>;

pub struct EchoPlan {
    pub model: String,
    pub text: String,
    pub stream: bool,
    pub include_usage: bool,
    pub prompt_tokens: u64,
}

impl EchoPlan {
    /// Reads an OpenAI chat request. The caller has validated its shape.
    /// Read off the tape, like every request the gateway reads: the mock
    /// shares the proxy's CPU in load runs, and a DOM's allocations would
    /// make its cost depend on the request's format.
    pub fn from_request(body: &[u8]) -> Option<EchoPlan> {
        with_tape(body, |tape, _| Self::from_value(tape.ok()?.as_value()))
    }

    fn from_value(value: TapeValue<'_, '_>) -> Option<EchoPlan> {
        let obj = value.as_object()?;
        let messages = obj.get("messages")?.as_array()?;
        let mut prompt_bytes = 0usize;
        let mut last_user = String::new();
        for m in messages.iter() {
            let Some(m) = m.as_object() else { continue };
            let text = content_text(m.get("content"));
            prompt_bytes += text.len();
            if m.get("role").and_then(|r| r.into_string()) == Some("user") {
                last_user = text;
            }
        }
        let stream_options = obj.get("stream_options").and_then(|o| o.as_object());
        Some(EchoPlan {
            model: obj
                .get("model")
                .and_then(|m| m.into_string())
                .unwrap_or("mock")
                .to_string(),
            text: last_user,
            stream: obj.get("stream").and_then(|s| s.as_bool()).unwrap_or(false),
            include_usage: stream_options
                .and_then(|o| o.get("include_usage"))
                .and_then(|u| u.as_bool())
                .unwrap_or(false),
            prompt_tokens: approx_tokens(prompt_bytes),
        })
    }

    pub fn completion_tokens(&self) -> u64 {
        approx_tokens(self.text.len())
    }

    /// The whole `chat.completion` response.
    pub fn completion_json(&self, id: &str) -> Vec<u8> {
        self.completion_json_with(id, super::extras::openai_body_tail(false))
    }

    /// The whole answer, `tail` (JSON members, each led by a comma) closing it.
    pub(super) fn completion_json_with(&self, id: &str, tail: &str) -> Vec<u8> {
        let mut out = String::with_capacity(self.text.len() + 320);
        out.push_str("{\"id\":");
        push_json_str(&mut out, id);
        let _ = write!(
            out,
            ",\"object\":\"chat.completion\",\"created\":{},\"model\":",
            now_secs()
        );
        push_json_str(&mut out, &self.model);
        out.push_str(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
        push_json_str(&mut out, &self.text);
        out.push_str(",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],");
        self.push_usage(&mut out);
        out.push_str(tail);
        out.push('}');
        out.into_bytes()
    }

    fn push_usage(&self, out: &mut String) {
        let c = self.completion_tokens();
        let _ = write!(
            out,
            "\"usage\":{{\"prompt_tokens\":{},\"completion_tokens\":{c},\"total_tokens\":{}}}",
            self.prompt_tokens,
            self.prompt_tokens + c
        );
    }

    /// The SSE events of a streamed answer, in order, `[DONE]` last. The text
    /// is split into `pieces` chunks (by words when `None`).
    pub fn stream_events(&self, id: &str, pieces: Option<usize>) -> Vec<Vec<u8>> {
        self.stream_events_of(id, &split_text(&self.text, pieces), "")
    }

    /// The stream of [`stream_events`](Self::stream_events) with the text
    /// already cut, `tail` (JSON members) closing every chunk.
    pub(super) fn stream_events_of(&self, id: &str, pieces: &[&str], tail: &str) -> Vec<Vec<u8>> {
        let created = now_secs();
        let mut events = Vec::new();
        let head = |out: &mut String| {
            out.push_str("data: {\"id\":");
            push_json_str(out, id);
            let _ = write!(
                out,
                ",\"object\":\"chat.completion.chunk\",\"created\":{created},\"model\":"
            );
            push_json_str(out, &self.model);
        };
        let mut first = String::new();
        head(&mut first);
        first.push_str(",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]");
        first.push_str(tail);
        first.push_str("}\n\n");
        events.push(first.into_bytes());
        for piece in pieces {
            let mut ev = String::with_capacity(piece.len() + 160);
            head(&mut ev);
            ev.push_str(",\"choices\":[{\"index\":0,\"delta\":{\"content\":");
            push_json_str(&mut ev, piece);
            ev.push_str("},\"finish_reason\":null}]");
            ev.push_str(tail);
            ev.push_str("}\n\n");
            events.push(ev.into_bytes());
        }
        let mut last = String::new();
        head(&mut last);
        last.push_str(",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]");
        last.push_str(tail);
        last.push_str("}\n\n");
        events.push(last.into_bytes());
        if self.include_usage {
            let mut usage = String::new();
            head(&mut usage);
            usage.push_str(",\"choices\":[],");
            self.push_usage(&mut usage);
            usage.push_str(tail);
            usage.push_str("}\n\n");
            events.push(usage.into_bytes());
        }
        events.push(b"data: [DONE]\n\n".to_vec());
        events
    }
}

fn content_text(content: Option<TapeValue<'_, '_>>) -> String {
    let Some(content) = content else {
        return String::new();
    };
    if let Some(s) = content.as_str() {
        return s.to_string();
    }
    let mut text = String::new();
    if let Some(parts) = content.as_array() {
        for p in parts.iter() {
            if let Some(t) = p
                .as_object()
                .and_then(|o| o.get("text"))
                .and_then(|t| t.into_string())
            {
                text.push_str(t);
            }
        }
    }
    text
}

fn approx_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4).max(1)
}

/// Splits into `n` nearly equal pieces on char boundaries, or into words
/// (each keeping its trailing space) when `n` is `None`.
pub fn split_text(text: &str, n: Option<usize>) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    match n {
        None => text.split_inclusive(' ').collect(),
        Some(n) => {
            let n = n.max(1);
            let target = text.len().div_ceil(n).max(1);
            let mut out = Vec::with_capacity(n);
            let mut start = 0;
            while start < text.len() {
                let mut end = (start + target).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                out.push(&text[start..end]);
                start = end;
            }
            out
        }
    }
}

pub use crate::resilience::unix_secs as now_secs;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_rejoin() {
        let t = "héllo wörld, this is a test";
        for n in [None, Some(1), Some(3), Some(100)] {
            assert_eq!(split_text(t, n).concat(), t);
        }
        assert_eq!(split_text(t, Some(3)).len(), 3);
    }

    #[test]
    fn echoes_last_user_message() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#;
        let plan = EchoPlan::from_request(body).unwrap();
        assert_eq!(plan.text, "hi");
        let json = String::from_utf8(plan.completion_json("x")).unwrap();
        assert!(json.contains("\"content\":\"hi\""), "{json}");
    }
}
