//! OpenAI-compatible SSE stream → canonical chunks, for clients of another
//! dialect. Each `data:` event is one `chat.completion.chunk`, read off the
//! tape as it arrives; the state kept across events is which choices have
//! started, the tool calls seen (to number them and send id and name once),
//! the latest usage, and whether the answer finished.
//!
//! Tool-call deltas are keyed as the openai-python accumulator keys them, by
//! `index`; servers that omit it (or reuse index 0 for calls with different
//! ids, as some do when a delta holds several whole calls) are keyed by id.

use simd_json::tape::Value;

use super::error::error_from_value;
use super::response::{arguments_text, finish_reason, read_usage};
use crate::canonical::tape::prelude::*;
use crate::canonical::tape::{member, with_tape};
use crate::canonical::{ChatChunk, ChunkDelta, FirstFailure, Role, ToolCallDelta, Usage};
use crate::sse::SseEvent;

pub use crate::canonical::StreamError;

/// One tool call seen in the stream.
#[derive(Debug)]
struct CallSlot {
    choice: u32,
    upstream_index: Option<u64>,
    id: Option<String>,
    /// The canonical index: 0, 1, 2… per choice, in order of appearance.
    index: u32,
    named: bool,
}

/// Translates one OpenAI-compatible stream; create one per request.
#[derive(Debug)]
pub struct OpenAiStreamTranslator {
    include_usage: bool,
    started: Vec<u32>,
    calls: Vec<CallSlot>,
    finished: bool,
    done: bool,
    usage: Option<Usage>,
    response_id: String,
    model: String,
    failure: FirstFailure,
}

crate::tape_fields! {
    struct ChunkFields { id: "id", model: "model", choices: "choices", usage: "usage", error: "error" }
}

crate::tape_fields! {
    struct ChoiceFields { index: "index", delta: "delta", finish_reason: "finish_reason" }
}

crate::tape_fields! {
    struct DeltaFields {
        content: "content",
        refusal: "refusal",
        reasoning_content: "reasoning_content",
        reasoning: "reasoning",
        thinking_blocks: "thinking_blocks",
        tool_calls: "tool_calls",
    }
}

impl OpenAiStreamTranslator {
    /// `include_usage`: end with the usage-only chunk (the client's
    /// `stream_options.include_usage`), once the upstream reported usage.
    pub fn new(include_usage: bool) -> Self {
        OpenAiStreamTranslator {
            include_usage,
            started: Vec::with_capacity(1),
            calls: Vec::new(),
            finished: false,
            done: false,
            usage: None,
            response_id: String::new(),
            model: String::new(),
            failure: FirstFailure::default(),
        }
    }

    /// The upstream's completion id, known after the first chunk.
    pub fn message_id(&self) -> &str {
        &self.response_id
    }

    /// The model that is answering, known after the first chunk.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The latest usage the upstream reported (final after `[DONE]`).
    pub fn usage(&self) -> Usage {
        self.usage.unwrap_or_default()
    }

    /// Translates one upstream event, appending zero or more chunks to `out`.
    pub fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<(), StreamError> {
        self.failure.check()?;
        if self.done {
            return Ok(());
        }
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.done = true;
            if self.include_usage
                && let Some(usage) = self.usage
            {
                out.push(ChatChunk::Usage(usage));
            }
            return Ok(());
        }
        let result = with_tape(data.as_bytes(), |parsed, _| match parsed {
            Ok(tape) => self.apply(tape.as_value(), ev.event == "error", out),
            Err(e) => Err(StreamError::Malformed(format!("chunk is not JSON: {e}"))),
        });
        self.failure.record(result)
    }

    /// Call when the upstream body ends: `Ok` only if a finish reason and
    /// then `[DONE]` arrived; a stream cut anywhere before is an error the
    /// client must see (and the usage the gateway records may be missing).
    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, StreamError> {
        self.failure.check()?;
        if self.finished && self.done {
            Ok(Vec::new())
        } else {
            self.failure.record(Err(StreamError::Truncated))
        }
    }

    fn apply(
        &mut self,
        chunk: Value<'_, '_>,
        error_event: bool,
        out: &mut Vec<ChatChunk>,
    ) -> Result<(), StreamError> {
        let obj = chunk
            .as_object()
            .ok_or_else(|| StreamError::Malformed("chunk is not an object".into()))?;
        let c = ChunkFields::read(&obj);
        if let Some(error) = c.error.filter(|e| !e.is_null()) {
            return Err(StreamError::Upstream(error_from_value(502, error)));
        }
        if error_event {
            return Err(StreamError::Upstream(error_from_value(502, chunk)));
        }
        if self.response_id.is_empty()
            && let Some(id) = c.id.and_then(|v| v.into_string())
        {
            self.response_id = id.to_owned();
        }
        if self.model.is_empty()
            && let Some(model) = c.model.and_then(|v| v.into_string())
        {
            self.model = model.to_owned();
        }
        if let Some(usage) = c.usage.filter(|u| u.is_object()) {
            self.usage = Some(read_usage(usage));
        }
        if let Some(choices) = c.choices.and_then(|v| v.as_array()) {
            for choice in choices.iter() {
                if let Some(choice) = choice.as_object() {
                    self.on_choice(&ChoiceFields::read(&choice), out);
                }
            }
        }
        Ok(())
    }

    fn on_choice(&mut self, c: &ChoiceFields<'_, '_>, out: &mut Vec<ChatChunk>) {
        let choice = c
            .index
            .and_then(|v| v.as_u64())
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0);
        if !self.started.contains(&choice) {
            self.started.push(choice);
            out.push(delta(
                choice,
                ChunkDelta {
                    role: Some(Role::Assistant),
                    content: Some(String::new()),
                    ..Default::default()
                },
            ));
        }
        if let Some(d) = c.delta.and_then(|d| d.as_object()) {
            self.on_delta(choice, &DeltaFields::read(&d), out);
        }
        if let Some(reason) = c.finish_reason.and_then(|f| f.into_string()) {
            self.finished = true;
            out.push(ChatChunk::Delta {
                choice,
                delta: ChunkDelta::default(),
                finish_reason: Some(finish_reason(reason)),
            });
        }
    }

    /// Reasoning (and the ends of reasoning blocks), then text, refusal and
    /// tool-call fragments: one canonical chunk each, empty strings skipped.
    fn on_delta(&mut self, choice: u32, d: &DeltaFields<'_, '_>, out: &mut Vec<ChatChunk>) {
        let text = |v: Option<Value<'_, '_>>| {
            v.and_then(|v| v.into_string())
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        };
        if let Some(reasoning) = text(d.reasoning_content).or_else(|| text(d.reasoning)) {
            out.push(delta(
                choice,
                ChunkDelta {
                    reasoning: Some(reasoning),
                    ..Default::default()
                },
            ));
        }
        if let Some(blocks) = d.thinking_blocks.and_then(|v| v.as_array()) {
            for block in blocks.iter() {
                if let Some(block) = block_end(block) {
                    out.push(delta(choice, block));
                }
            }
        }
        if let Some(content) = text(d.content) {
            out.push(delta(
                choice,
                ChunkDelta {
                    content: Some(content),
                    ..Default::default()
                },
            ));
        }
        if let Some(refusal) = text(d.refusal) {
            out.push(delta(
                choice,
                ChunkDelta {
                    refusal: Some(refusal),
                    ..Default::default()
                },
            ));
        }
        if let Some(calls) = d.tool_calls.and_then(|v| v.as_array()) {
            for call in calls.iter() {
                let call = self.on_tool_call(choice, call);
                out.push(delta(
                    choice,
                    ChunkDelta {
                        tool_call: Some(call),
                        ..Default::default()
                    },
                ));
            }
        }
    }

    /// The canonical delta for one `tool_calls` entry: id and name on the
    /// call's first delta only (one is made up when the server sent none).
    fn on_tool_call(&mut self, choice: u32, call: Value<'_, '_>) -> ToolCallDelta {
        let upstream_index = member(call, "index").and_then(|v| v.as_u64());
        let id = member(call, "id").and_then(|v| v.into_string());
        let function = member(call, "function");
        let name = function
            .and_then(|f| member(f, "name"))
            .and_then(|v| v.into_string())
            .filter(|n| !n.is_empty());
        let arguments = arguments_text(function.and_then(|f| member(f, "arguments")));

        let same_call = |slot: &CallSlot| {
            slot.choice == choice
                && match (upstream_index, id) {
                    (Some(i), Some(id)) => {
                        slot.upstream_index == Some(i)
                            && slot.id.as_deref().is_none_or(|known| known == id)
                    }
                    (Some(i), None) => slot.upstream_index == Some(i),
                    (None, Some(id)) => slot.id.as_deref() == Some(id),
                    // A fresh name with no index or id opens a new call.
                    (None, None) => name.is_none() || !slot.named,
                }
        };
        if let Some(slot) = self.calls.iter_mut().rev().find(|s| same_call(s)) {
            if slot.id.is_none() {
                slot.id = id.map(str::to_owned);
            }
            let name = (!slot.named).then_some(name).flatten();
            slot.named |= name.is_some();
            return ToolCallDelta {
                index: slot.index,
                id: None,
                name: name.map(str::to_owned),
                arguments,
            };
        }
        let index = self.calls.iter().filter(|s| s.choice == choice).count() as u32;
        self.calls.push(CallSlot {
            choice,
            upstream_index,
            id: id.map(str::to_owned),
            index,
            named: name.is_some(),
        });
        ToolCallDelta {
            index,
            id: Some(id.map_or_else(|| format!("call_{choice}_{index}"), str::to_owned)),
            name: name.map(str::to_owned),
            arguments,
        }
    }
}

/// A `thinking_blocks` delta (the extension LiteLLM-style gateways, and
/// Tollgate's own OpenAI dialect, use) closes a reasoning block: its
/// signature, or a whole redacted block. The text already came as
/// `reasoning_content`, so a block's `thinking` is not read again.
fn block_end(block: Value<'_, '_>) -> Option<ChunkDelta> {
    let text = |key| member(block, key).and_then(|v| v.into_string());
    match text("type")? {
        "thinking" => Some(ChunkDelta {
            reasoning_signature: Some(text("signature")?.to_owned()),
            ..Default::default()
        }),
        "redacted_thinking" => Some(ChunkDelta {
            redacted_reasoning: Some(text("data")?.to_owned()),
            ..Default::default()
        }),
        _ => None,
    }
}

fn delta(choice: u32, delta: ChunkDelta) -> ChatChunk {
    ChatChunk::Delta {
        choice,
        delta,
        finish_reason: None,
    }
}
