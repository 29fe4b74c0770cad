//! Canonical stream chunks → Anthropic's SSE event grammar.
//!
//! Anthropic streams an answer as numbered content blocks, each opened by
//! `content_block_start`, filled by typed deltas and closed by
//! `content_block_stop`, one at a time and with consecutive indices.
//! Canonical chunks carry no blocks, so the writer derives them: a block
//! opens when the kind of delta changes (text, thinking, a tool call) or a
//! new tool call begins, and the open block is closed first. A thinking
//! block ends with its signature; reasoning after it opens a new one.
//!
//! `message_delta` (stop reason, usage) waits for [`AnthropicStreamWriter::finish`]:
//! the finish reason and the usage chunk arrive separately (usage last), and
//! Anthropic reports both in the one event before `message_stop`. After an
//! `error` event the writer writes nothing more, so a failed stream can
//! never end in a clean `message_stop`.

use crate::api::ApiError;
use crate::canonical::json::{write_str, write_u64};
use crate::canonical::{ChatChunk, ChunkDelta, FinishReason, StreamError, ToolCallDelta, Usage};

use super::error::write_error_object;
use super::response::{stop_reason, write_message_id, write_usage};

/// The block being streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    /// `signed` once its signature went out: the block is complete.
    Thinking {
        signed: bool,
    },
    /// The canonical index of the tool call it carries.
    Tool {
        call: u32,
    },
    /// Written whole, closed as soon as it opens.
    Redacted,
}

/// Writes one Anthropic stream from canonical chunks; one per response.
#[derive(Debug, Clone)]
pub struct AnthropicStreamWriter {
    id: String,
    model: String,
    usage: Usage,
    stop: Option<FinishReason>,
    open: Option<Open>,
    /// The index the next content block gets.
    next_block: u32,
    /// Tool calls started so far (canonical indices run 0, 1, 2…).
    calls_started: u32,
    started: bool,
    ended: bool,
}

impl AnthropicStreamWriter {
    /// `id` is the answer's id (given the `msg_` prefix when it lacks it),
    /// `model` the model reported to the client.
    pub fn new(id: &str, model: &str) -> Self {
        AnthropicStreamWriter {
            id: id.to_owned(),
            model: model.to_owned(),
            usage: Usage::default(),
            stop: None,
            open: None,
            next_block: 0,
            calls_started: 0,
            started: false,
            ended: false,
        }
    }

    /// Usage known so far from the upstream (a translator's running count);
    /// `message_start` reports what is known when it is written, and a
    /// usage chunk later replaces it.
    pub fn set_usage(&mut self, usage: Usage) {
        self.usage = usage;
    }

    /// Whether the stream is over (finished, or ended by an error).
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Writes `message_start` and `ping` if they have not gone out yet:
    /// the commit point, for a caller that wants to send headers early.
    pub fn start(&mut self, out: &mut Vec<u8>) {
        if self.started || self.ended {
            return;
        }
        self.started = true;
        begin(out, "message_start");
        out.extend_from_slice(b"{\"type\":\"message_start\",\"message\":{\"id\":");
        write_message_id(out, &self.id);
        out.extend_from_slice(b",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
        write_str(out, &self.model);
        out.extend_from_slice(
            b",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":",
        );
        write_usage(out, &self.usage);
        out.extend_from_slice(b"}}\n\n");
        out.extend_from_slice(b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
    }

    /// Writes the events for one canonical chunk (choice 0 only: Anthropic
    /// has one answer per message).
    pub fn write_chunk(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(out);
        match chunk {
            ChatChunk::Usage(usage) => self.usage = *usage,
            ChatChunk::Delta {
                choice: 0,
                delta,
                finish_reason,
            } => {
                self.write_delta(delta, out);
                if let Some(reason) = finish_reason {
                    self.close_block(out);
                    self.stop = Some(*reason);
                }
            }
            ChatChunk::Delta { .. } => {}
        }
    }

    /// Ends the stream cleanly: closes the open block, then `message_delta`
    /// with the stop reason and the final usage, then `message_stop`.
    /// Nothing after an error.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(out);
        self.close_block(out);
        self.ended = true;
        begin(out, "message_delta");
        out.extend_from_slice(b"{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"");
        out.extend_from_slice(stop_reason(self.stop).as_bytes());
        out.extend_from_slice(b"\",\"stop_sequence\":null},\"usage\":");
        write_usage(out, &self.usage);
        out.extend_from_slice(b"}\n\n");
        out.extend_from_slice(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    }

    /// Ends the stream with an `error` event, for a failure after the
    /// commit point. The open block is left open, as Anthropic does: the
    /// answer is incomplete, and the client must not read it as whole.
    pub fn write_error(&mut self, err: &ApiError, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.ended = true;
        write_error_event(err, out);
    }

    /// [`write_error`](Self::write_error) for a translator's stream failure.
    pub fn write_stream_error(&mut self, err: &StreamError, out: &mut Vec<u8>) {
        self.write_error(&err.to_openai(), out);
    }

    fn write_delta(&mut self, delta: &ChunkDelta, out: &mut Vec<u8>) {
        if let Some(text) = delta.reasoning.as_deref().filter(|t| !t.is_empty()) {
            if !matches!(self.open, Some(Open::Thinking { signed: false })) {
                self.open_block(Open::Thinking { signed: false }, EMPTY_THINKING, out);
            }
            self.block_delta(out, b"thinking_delta\",\"thinking\":", text);
        }
        if let Some(signature) = &delta.reasoning_signature {
            if !matches!(self.open, Some(Open::Thinking { signed: false })) {
                self.open_block(Open::Thinking { signed: false }, EMPTY_THINKING, out);
            }
            self.block_delta(out, b"signature_delta\",\"signature\":", signature);
            self.open = Some(Open::Thinking { signed: true });
        }
        if let Some(data) = &delta.redacted_reasoning {
            // A whole block in one event: opened and closed at once.
            self.start_block(Open::Redacted, out);
            out.extend_from_slice(b"{\"type\":\"redacted_thinking\",\"data\":");
            write_str(out, data);
            out.extend_from_slice(b"}}\n\n");
            self.close_block(out);
        }
        for text in [&delta.content, &delta.refusal].into_iter().flatten() {
            if text.is_empty() {
                continue;
            }
            if self.open != Some(Open::Text) {
                self.open_block(Open::Text, EMPTY_TEXT, out);
            }
            self.block_delta(out, b"text_delta\",\"text\":", text);
        }
        if let Some(call) = &delta.tool_call {
            self.write_tool_delta(call, out);
        }
    }

    fn write_tool_delta(&mut self, call: &ToolCallDelta, out: &mut Vec<u8>) {
        let continues = self.open == Some(Open::Tool { call: call.index })
            && call.id.is_none()
            && call.name.is_none();
        if !continues {
            if call.index < self.calls_started {
                // Arguments for a call whose block is already closed:
                // Anthropic's grammar cannot reopen it.
                let err = StreamError::Malformed(format!(
                    "arguments for tool call {} arrived after a later block began",
                    call.index
                ));
                self.write_stream_error(&err, out);
                return;
            }
            self.calls_started = call.index + 1;
            self.start_block(Open::Tool { call: call.index }, out);
            out.extend_from_slice(b"{\"type\":\"tool_use\",\"id\":");
            write_str(out, call.id.as_deref().unwrap_or_default());
            out.extend_from_slice(b",\"name\":");
            write_str(out, call.name.as_deref().unwrap_or_default());
            out.extend_from_slice(b",\"input\":{}}}\n\n");
        }
        if !call.arguments.is_empty() {
            self.block_delta(
                out,
                b"input_json_delta\",\"partial_json\":",
                &call.arguments,
            );
        }
    }

    /// Opens a block whose whole `content_block` value (and the event's
    /// end) is `block`.
    fn open_block(&mut self, kind: Open, block: &[u8], out: &mut Vec<u8>) {
        self.start_block(kind, out);
        out.extend_from_slice(block);
    }

    /// Closes the open block and writes `content_block_start` for the next
    /// index up to its `content_block` value, which the caller writes.
    fn start_block(&mut self, kind: Open, out: &mut Vec<u8>) {
        self.close_block(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some(kind);
        begin(out, "content_block_start");
        out.extend_from_slice(b"{\"type\":\"content_block_start\",\"index\":");
        write_u64(out, u64::from(index));
        out.extend_from_slice(b",\"content_block\":");
    }

    /// `content_block_delta` for the open block; `kind_and_key` is the
    /// delta's type and the name of its string field.
    fn block_delta(&self, out: &mut Vec<u8>, kind_and_key: &[u8], value: &str) {
        begin(out, "content_block_delta");
        out.extend_from_slice(b"{\"type\":\"content_block_delta\",\"index\":");
        write_u64(out, u64::from(self.next_block.saturating_sub(1)));
        out.extend_from_slice(b",\"delta\":{\"type\":\"");
        out.extend_from_slice(kind_and_key);
        write_str(out, value);
        out.extend_from_slice(b"}}\n\n");
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if self.open.take().is_some() {
            write_block_stop(out, self.next_block - 1);
        }
    }
}

/// Text and thinking blocks open empty, as Anthropic opens them.
const EMPTY_TEXT: &[u8] = b"{\"type\":\"text\",\"text\":\"\"}}\n\n";
const EMPTY_THINKING: &[u8] = b"{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n";

/// `event: <name>\ndata: ` — the JSON and the blank line follow.
/// An `error` event on its own: what a stream of this dialect ends with when
/// it fails after the commit point (the writer's, and the same-dialect relay's).
pub fn write_error_event(err: &ApiError, out: &mut Vec<u8>) {
    begin(out, "error");
    out.extend_from_slice(b"{\"type\":\"error\",\"error\":");
    write_error_object(err, out);
    out.extend_from_slice(b"}\n\n");
}

fn begin(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
}

fn write_block_stop(out: &mut Vec<u8>, index: u32) {
    begin(out, "content_block_stop");
    out.extend_from_slice(b"{\"type\":\"content_block_stop\",\"index\":");
    write_u64(out, u64::from(index));
    out.extend_from_slice(b"}\n\n");
}
