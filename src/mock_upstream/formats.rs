//! The echo answer in each provider's own wire format: OpenAI chat
//! completions, Anthropic Messages and Gemini generateContent, whole or as
//! the provider's stream events (shapes from the providers' API references).

use std::fmt::Write as _;

use crate::canonical::tape::prelude::*;

use super::echo::{EchoPlan, TapeValue, split_text};
use crate::api::error::push_json_str;
use crate::canonical::tape::with_tape;

/// Which wire format a request asked for, from its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenAi,
    Anthropic,
    Gemini { stream: bool },
}

impl Format {
    pub fn from_path(path: &str) -> Option<Format> {
        if path.ends_with("/chat/completions") {
            Some(Format::OpenAi)
        } else if path.ends_with("/messages") {
            Some(Format::Anthropic)
        } else if path.contains("/models/") && path.ends_with(":streamGenerateContent") {
            Some(Format::Gemini { stream: true })
        } else if path.contains("/models/") && path.ends_with(":generateContent") {
            Some(Format::Gemini { stream: false })
        } else {
            None
        }
    }

    pub fn fixture_dir(self) -> &'static str {
        match self {
            Format::OpenAi => "openai",
            Format::Anthropic => "anthropic",
            Format::Gemini { .. } => "gemini",
        }
    }
}

/// Reads an Anthropic Messages or Gemini request into an echo plan.
pub fn plan_for(format: Format, body: &[u8], path: &str) -> Option<EchoPlan> {
    match format {
        Format::OpenAi => EchoPlan::from_request(body),
        Format::Anthropic => with_tape(body, |tape, _| {
            let v = tape.ok()?.as_value();
            let mut prompt = 0;
            let mut text = String::new();
            for m in v.get("messages")?.as_array()?.iter() {
                let content = blocks_text(m.get("content"), "text");
                prompt += content.len();
                if m.get("role").and_then(|r| r.into_string()) == Some("user") {
                    text = content;
                }
            }
            Some(EchoPlan {
                model: v
                    .get("model")
                    .and_then(|m| m.into_string())
                    .unwrap_or("claude")
                    .to_string(),
                text,
                stream: v.get("stream").and_then(|s| s.as_bool()).unwrap_or(false),
                include_usage: true,
                prompt_tokens: (prompt as u64).div_ceil(4).max(1),
            })
        }),
        Format::Gemini { stream } => with_tape(body, |tape, _| {
            let v = tape.ok()?.as_value();
            let contents = v.get("contents")?.as_array()?;
            let part_text = |c: TapeValue<'_, '_>| -> String {
                c.get("parts")
                    .and_then(|p| p.as_array())
                    .map(|parts| {
                        parts
                            .iter()
                            .filter_map(|p| p.get("text").and_then(|t| t.into_string()))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let last = contents
                .iter()
                .filter(|c| {
                    c.get("role")
                        .and_then(|r| r.into_string())
                        .unwrap_or("user")
                        == "user"
                })
                .last();
            let prompt: usize = contents.iter().map(|c| part_text(c).len()).sum();
            let model = path
                .rsplit("/models/")
                .next()
                .and_then(|m| m.split(':').next())
                .unwrap_or("gemini");
            Some(EchoPlan {
                model: model.to_string(),
                text: last.map(part_text).unwrap_or_default(),
                stream,
                include_usage: true,
                prompt_tokens: (prompt as u64).div_ceil(4).max(1),
            })
        }),
    }
}

fn blocks_text(content: Option<TapeValue<'_, '_>>, kind: &str) -> String {
    let Some(content) = content else {
        return String::new();
    };
    if let Some(s) = content.as_str() {
        return s.to_string();
    }
    content
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .filter(|b| b.get("type").and_then(|t| t.into_string()) == Some(kind))
                .filter_map(|b| b.get("text").and_then(|t| t.into_string()))
                .collect()
        })
        .unwrap_or_default()
}

pub fn anthropic_message(plan: &EchoPlan, id: &str) -> Vec<u8> {
    let mut out = String::from("{\"id\":");
    push_json_str(&mut out, id);
    out.push_str(",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    push_json_str(&mut out, &plan.model);
    out.push_str(",\"content\":[{\"type\":\"text\",\"text\":");
    push_json_str(&mut out, &plan.text);
    let _ = write!(
        out,
        "}}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{},\"output_tokens\":{}}}}}",
        plan.prompt_tokens,
        plan.completion_tokens()
    );
    out.into_bytes()
}

/// The stream's first event, `message_start`, as the `event:` and `data:` lines.
pub(super) fn anthropic_message_start(plan: &EchoPlan, id: &str) -> String {
    let mut start = String::from(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":",
    );
    push_json_str(&mut start, id);
    start.push_str(",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    push_json_str(&mut start, &plan.model);
    let _ = write!(
        start,
        ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{},\"output_tokens\":1}}}}}}",
        plan.prompt_tokens
    );
    start
}

/// The echo's Messages stream, its text cut into `pieces` (by words when `None`).
pub fn anthropic_events(plan: &EchoPlan, id: &str, pieces: Option<usize>) -> Vec<Vec<u8>> {
    anthropic_events_of(plan, id, &split_text(&plan.text, pieces))
}

/// The echo's Messages stream, its text already cut into `pieces`.
pub(super) fn anthropic_events_of(plan: &EchoPlan, id: &str, pieces: &[&str]) -> Vec<Vec<u8>> {
    let mut events = vec![anthropic_message_start(plan, id)];
    events.push("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}".into());
    events.push("event: ping\ndata: {\"type\": \"ping\"}".into());
    for piece in pieces {
        let mut ev = String::from(
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":",
        );
        push_json_str(&mut ev, piece);
        ev.push_str("}}");
        events.push(ev);
    }
    events.push(
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}".into(),
    );
    events.push(format!(
        "event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{}}}}}",
        plan.completion_tokens()
    ));
    events.push("event: message_stop\ndata: {\"type\":\"message_stop\"}".into());
    events.into_iter().map(String::into_bytes).collect()
}

/// One `GenerateContentResponse` whose content is `parts` (a JSON array);
/// the last one of an answer (`completion_tokens` given) carries the finish
/// reason and the usage.
pub(super) fn gemini_candidate(
    plan: &EchoPlan,
    id: &str,
    parts: &str,
    completion_tokens: Option<u64>,
) -> String {
    let mut out = String::from("{\"candidates\":[{\"content\":{\"parts\":");
    out.push_str(parts);
    out.push_str(",\"role\":\"model\"}");
    if completion_tokens.is_some() {
        out.push_str(",\"finishReason\":\"STOP\"");
    }
    out.push_str(",\"index\":0}]");
    if let Some(c) = completion_tokens {
        let _ = write!(
            out,
            ",\"usageMetadata\":{{\"promptTokenCount\":{},\"candidatesTokenCount\":{c},\"totalTokenCount\":{}}}",
            plan.prompt_tokens,
            plan.prompt_tokens + c
        );
    }
    out.push_str(",\"modelVersion\":");
    push_json_str(&mut out, &plan.model);
    out.push_str(",\"responseId\":");
    push_json_str(&mut out, id);
    out.push('}');
    out
}

/// A `parts` array holding one text part.
pub(super) fn gemini_text_parts(text: &str) -> String {
    let mut parts = String::from("[{\"text\":");
    push_json_str(&mut parts, text);
    parts.push_str("}]");
    parts
}

fn gemini_response(plan: &EchoPlan, id: &str, text: &str, last: bool) -> String {
    let usage = last.then(|| plan.completion_tokens());
    gemini_candidate(plan, id, &gemini_text_parts(text), usage)
}

pub fn gemini_body(plan: &EchoPlan, id: &str) -> Vec<u8> {
    gemini_response(plan, id, &plan.text, true).into_bytes()
}

/// The echo's stream, its text already cut into `pieces`.
pub(super) fn gemini_events(plan: &EchoPlan, id: &str, pieces: &[&str]) -> Vec<Vec<u8>> {
    let n = pieces.len();
    if n == 0 {
        return vec![format!("data: {}", gemini_response(plan, id, "", true)).into_bytes()];
    }
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| format!("data: {}", gemini_response(plan, id, p, i + 1 == n)).into_bytes())
        .collect()
}
