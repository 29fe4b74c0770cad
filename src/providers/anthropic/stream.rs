//! Anthropic SSE stream → canonical chunks, one upstream event at a time.
//! The translator keeps just enough state to renumber tool calls the OpenAI
//! way and to tell a clean end (`message_stop`) from a cut stream.

use simd_json::Buffers;

use super::JSON_ANSWER_TOOL;
use super::convert::error_classify;
use super::convert::{map_stop_reason, map_usage};
use super::wire::{StreamEvent, WireUsage};
use crate::canonical::{ChatChunk, ChunkDelta, FirstFailure, OpenAiError, Role, ToolCallDelta};
use crate::sse::SseEvent;

mod error;

pub use error::StreamError;

/// How far past the last known block a new block's index may point.
const MAX_INDEX_GAP: usize = 64;

/// What an Anthropic content block (by its index) turned into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Text,
    Thinking,
    Redacted,
    /// A client tool call with its OpenAI index; `has_args` once any
    /// argument text was sent.
    Tool {
        index: u32,
        has_args: bool,
    },
    /// The forced JSON-answer tool: its input streams out as content.
    JsonAnswer,
    /// Server tools and future block types, not expressible in OpenAI.
    Other,
}

/// Translates one Anthropic Messages stream; create one per request.
pub struct AnthropicStreamTranslator {
    include_usage: bool,
    /// Reused copy of each event's data: simd-json parses in place.
    scratch: Vec<u8>,
    buffers: Buffers,
    blocks: Vec<BlockKind>,
    next_tool_index: u32,
    started: bool,
    finish_sent: bool,
    stopped: bool,
    failure: FirstFailure,
    usage: WireUsage,
    message_id: String,
    model: String,
}

impl AnthropicStreamTranslator {
    /// `include_usage`: end with the usage-only chunk (OpenAI's
    /// `stream_options.include_usage`).
    pub fn new(include_usage: bool) -> Self {
        AnthropicStreamTranslator {
            include_usage,
            scratch: Vec::with_capacity(512),
            buffers: Buffers::default(),
            blocks: Vec::with_capacity(4),
            next_tool_index: 0,
            started: false,
            finish_sent: false,
            stopped: false,
            failure: FirstFailure::default(),
            usage: WireUsage::default(),
            message_id: String::new(),
            model: String::new(),
        }
    }

    /// Anthropic's message id, known after `message_start`.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// The model that is answering, known after `message_start`.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Usage so far (final after `message_stop`), OpenAI semantics.
    pub fn usage(&self) -> crate::canonical::Usage {
        map_usage(&self.usage)
    }

    /// Translates one upstream event, appending zero or more chunks to `out`.
    pub fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<(), StreamError> {
        self.failure.check()?;
        if self.stopped || ev.event == "ping" {
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(ev.data.as_bytes());
        let result = match simd_json::serde::from_slice_with_buffers::<StreamEvent>(
            &mut scratch,
            &mut self.buffers,
        ) {
            Ok(event) => self.apply(event, out),
            Err(e) => Err(StreamError::Malformed(format!("{}: {e}", ev.event_type()))),
        };
        self.scratch = scratch;
        self.failure.record(result)
    }

    /// Call when the upstream body ends. `Ok` (with any last chunks) only if
    /// the stream reached `message_stop`; otherwise the answer was cut and
    /// the client must get an explicit error, not a clean-looking end.
    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, StreamError> {
        self.failure.check()?;
        if self.stopped {
            Ok(Vec::new())
        } else {
            self.failure.record(Err(StreamError::Truncated))
        }
    }

    fn apply(
        &mut self,
        event: StreamEvent<'_>,
        out: &mut Vec<ChatChunk>,
    ) -> Result<(), StreamError> {
        match event.kind.as_ref() {
            "content_block_delta" => {
                let index = event
                    .index
                    .ok_or_else(|| missing("content_block_delta", "index"))?;
                let delta = event
                    .delta
                    .ok_or_else(|| missing("content_block_delta", "delta"))?;
                self.on_block_delta(index, delta, out)
            }
            "message_start" => {
                if let Some(message) = event.message {
                    self.message_id = message.id;
                    self.model = message.model;
                    self.usage = message.usage;
                }
                self.ensure_started(out);
                Ok(())
            }
            "content_block_start" => {
                let index = event
                    .index
                    .ok_or_else(|| missing("content_block_start", "index"))?;
                let block = event
                    .content_block
                    .ok_or_else(|| missing("content_block_start", "content_block"))?;
                // Blocks come numbered in order; a far-off index is a broken
                // stream, not a reason to allocate that many slots.
                if index >= self.blocks.len() + MAX_INDEX_GAP {
                    return Err(StreamError::Malformed(format!(
                        "content_block_start: index {index} is out of order"
                    )));
                }
                self.ensure_started(out);
                self.on_block_start(index, block, out);
                Ok(())
            }
            "content_block_stop" => {
                let index = event
                    .index
                    .ok_or_else(|| missing("content_block_stop", "index"))?;
                if let Some(BlockKind::Tool {
                    index,
                    has_args: false,
                }) = self.blocks.get(index).copied()
                {
                    // A call without arguments still needs valid JSON.
                    out.push(tool_delta(index, None, None, "{}".into()));
                }
                Ok(())
            }
            "message_delta" => {
                if let Some(u) = event.usage {
                    merge_usage(&mut self.usage, &u);
                }
                let stop_reason = event.delta.as_ref().and_then(|d| d.stop_reason.as_deref());
                self.ensure_started(out);
                self.send_finish(stop_reason, out);
                Ok(())
            }
            "message_stop" => {
                self.ensure_started(out);
                self.send_finish(None, out);
                if self.include_usage {
                    out.push(ChatChunk::Usage(map_usage(&self.usage)));
                }
                self.stopped = true;
                Ok(())
            }
            "error" => {
                let (kind, message) = match &event.error {
                    Some(e) => (
                        e.kind.as_ref(),
                        crate::api::scrub::scrub_text(&e.message, &[]).into_owned(),
                    ),
                    None => ("api_error", "upstream stream error".to_owned()),
                };
                let (status, r#type, code) = error_classify(0, kind);
                let mut err = OpenAiError::new(status, r#type, message);
                err.code = code.map(str::to_owned);
                Err(StreamError::Upstream(err))
            }
            // ping, and event types added after this was written.
            _ => Ok(()),
        }
    }

    fn ensure_started(&mut self, out: &mut Vec<ChatChunk>) {
        if !self.started {
            self.started = true;
            out.push(ChatChunk::delta(ChunkDelta {
                role: Some(Role::Assistant),
                content: Some(String::new()),
                ..Default::default()
            }));
        }
    }

    fn send_finish(&mut self, stop_reason: Option<&str>, out: &mut Vec<ChatChunk>) {
        if !self.finish_sent {
            self.finish_sent = true;
            out.push(ChatChunk::finish(map_stop_reason(
                stop_reason,
                self.next_tool_index > 0,
            )));
        }
    }

    fn on_block_start(
        &mut self,
        index: usize,
        block: super::wire::BlockStart<'_>,
        out: &mut Vec<ChatChunk>,
    ) {
        let kind = match block.kind.as_ref() {
            "text" => {
                if let Some(text) = block.text.filter(|t| !t.is_empty()) {
                    out.push(text_delta(text.into_owned()));
                }
                BlockKind::Text
            }
            "thinking" => {
                if let Some(text) = block.thinking.filter(|t| !t.is_empty()) {
                    out.push(ChatChunk::delta(ChunkDelta {
                        reasoning: Some(text.into_owned()),
                        ..Default::default()
                    }));
                }
                BlockKind::Thinking
            }
            "redacted_thinking" => {
                out.push(ChatChunk::delta(ChunkDelta {
                    redacted_reasoning: Some(block.data.unwrap_or_default().into_owned()),
                    ..Default::default()
                }));
                BlockKind::Redacted
            }
            "tool_use" if block.name.as_deref() == Some(JSON_ANSWER_TOOL) => BlockKind::JsonAnswer,
            "tool_use" => {
                let tool_index = self.next_tool_index;
                self.next_tool_index += 1;
                out.push(tool_delta(
                    tool_index,
                    Some(block.id.unwrap_or_default().into_owned()),
                    Some(block.name.unwrap_or_default().into_owned()),
                    String::new(),
                ));
                BlockKind::Tool {
                    index: tool_index,
                    has_args: false,
                }
            }
            _ => BlockKind::Other,
        };
        if self.blocks.len() <= index {
            self.blocks.resize(index + 1, BlockKind::Other);
        }
        self.blocks[index] = kind;
    }

    fn on_block_delta(
        &mut self,
        index: usize,
        delta: super::wire::EventDelta<'_>,
        out: &mut Vec<ChatChunk>,
    ) -> Result<(), StreamError> {
        let block = self
            .blocks
            .get_mut(index)
            .ok_or_else(|| StreamError::Malformed(format!("delta for unknown block {index}")))?;
        match (delta.kind.as_deref(), block) {
            (Some("text_delta"), _) => {
                if let Some(text) = delta.text.filter(|t| !t.is_empty()) {
                    out.push(text_delta(text.into_owned()));
                }
            }
            (Some("input_json_delta"), BlockKind::Tool { index, has_args }) => {
                if let Some(json) = delta.partial_json.filter(|j| !j.is_empty()) {
                    *has_args = true;
                    out.push(tool_delta(*index, None, None, json.into_owned()));
                }
            }
            (Some("input_json_delta"), BlockKind::JsonAnswer) => {
                if let Some(json) = delta.partial_json.filter(|j| !j.is_empty()) {
                    out.push(text_delta(json.into_owned()));
                }
            }
            (Some("thinking_delta"), _) => {
                if let Some(text) = delta.thinking.filter(|t| !t.is_empty()) {
                    out.push(ChatChunk::delta(ChunkDelta {
                        reasoning: Some(text.into_owned()),
                        ..Default::default()
                    }));
                }
            }
            (Some("signature_delta"), _) => {
                if let Some(sig) = delta.signature {
                    out.push(ChatChunk::delta(ChunkDelta {
                        reasoning_signature: Some(sig.into_owned()),
                        ..Default::default()
                    }));
                }
            }
            // citations_delta, deltas of server tools, future delta types.
            _ => {}
        }
        Ok(())
    }
}

impl std::fmt::Debug for AnthropicStreamTranslator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicStreamTranslator")
            .field("message_id", &self.message_id)
            .field("blocks", &self.blocks)
            .field("stopped", &self.stopped)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

fn missing(event: &str, field: &str) -> StreamError {
    StreamError::Malformed(format!("{event} without {field}"))
}

fn text_delta(text: String) -> ChatChunk {
    ChatChunk::delta(ChunkDelta {
        content: Some(text),
        ..Default::default()
    })
}

fn tool_delta(
    index: u32,
    id: Option<String>,
    name: Option<String>,
    arguments: String,
) -> ChatChunk {
    ChatChunk::delta(ChunkDelta {
        tool_call: Some(ToolCallDelta {
            index,
            id,
            name,
            arguments,
        }),
        ..Default::default()
    })
}

/// `message_delta` usage is cumulative; fields it carries replace the ones
/// from `message_start`, fields it omits keep them.
fn merge_usage(into: &mut WireUsage, from: &WireUsage) {
    if from.input_tokens.is_some() {
        into.input_tokens = from.input_tokens;
    }
    if from.output_tokens.is_some() {
        into.output_tokens = from.output_tokens;
    }
    if from.cache_creation_input_tokens.is_some() {
        into.cache_creation_input_tokens = from.cache_creation_input_tokens;
    }
    if from.cache_read_input_tokens.is_some() {
        into.cache_read_input_tokens = from.cache_read_input_tokens;
    }
    if from.output_tokens_details.is_some() {
        into.output_tokens_details = from.output_tokens_details;
    }
}
