//! Gemini `streamGenerateContent?alt=sse` → canonical chunks. Every `data:`
//! event is a whole `GenerateContentResponse`; it is translated as it
//! arrives, keeping only the state that spans chunks (tool-call indexes, the
//! one call whose arguments are still streaming, the latest usage).
//!
//! Function calls arriving whole get the next OpenAI `index` and go out as
//! one delta: id, name and the complete arguments. Calls streamed in pieces
//! (`partialArgs` + `willContinue`) send id and name as soon as they open,
//! then their arguments are buffered (that call's only) and sent as one
//! complete JSON fragment when the call closes, so a client never sees
//! arguments that are not valid JSON once concatenated.

use super::args::{ArgsAssembler, BadPath};
use super::convert::{error_type, json_text};
use super::read::read_response;
use super::response::{self, TextKind};
use super::wire::{FunctionCall, GenerateContentResponse, Part, UsageMetadata};
use crate::canonical::{
    ChatChunk, ChunkDelta, FinishReason, FirstFailure, OpenAiError, Role, ToolCallDelta, Usage,
};
use crate::sse::SseEvent;

pub use crate::canonical::StreamError;

impl From<BadPath> for StreamError {
    fn from(e: BadPath) -> Self {
        StreamError::Malformed(e.to_string())
    }
}

/// A function call whose arguments are still arriving.
#[derive(Debug)]
struct OpenCall {
    index: u32,
    args: ArgsAssembler,
}

#[derive(Debug)]
pub struct GeminiStreamTranslator {
    include_usage: bool,
    role_sent: bool,
    /// The OpenAI index the next function call gets.
    next_index: u32,
    open_call: Option<OpenCall>,
    finished: bool,
    usage: Option<UsageMetadata>,
    response_id: String,
    model: String,
    failure: FirstFailure,
}

impl GeminiStreamTranslator {
    pub fn new(include_usage: bool) -> Self {
        GeminiStreamTranslator {
            include_usage,
            role_sent: false,
            next_index: 0,
            open_call: None,
            finished: false,
            usage: None,
            response_id: String::new(),
            model: String::new(),
            failure: FirstFailure::default(),
        }
    }

    /// Gemini's `responseId`, known after the first chunk.
    pub fn message_id(&self) -> &str {
        &self.response_id
    }

    /// The model that is answering (`modelVersion`), known after the first chunk.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Usage so far (the last `usageMetadata` seen), OpenAI semantics.
    pub fn usage(&self) -> Usage {
        self.usage.as_ref().map(response::usage).unwrap_or_default()
    }

    /// Translates one SSE event, appending the chunks it yields to `out`.
    pub fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<(), StreamError> {
        self.failure.check()?;
        let data = ev.data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let result = match read_response(data.as_bytes()) {
            Ok(chunk) => self.on_chunk(chunk, out),
            Err(e) => Err(StreamError::Malformed(e)),
        };
        self.failure.record(result)
    }

    /// Call when the upstream body ends: the usage chunk when asked for, or
    /// an error when no chunk ever carried a finish reason (the upstream was
    /// cut), so the client never mistakes a cut stream for a finished one.
    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, StreamError> {
        self.failure.check()?;
        if !self.finished {
            return self.failure.record(Err(StreamError::Truncated));
        }
        let mut out = Vec::new();
        if self.include_usage {
            out.push(ChatChunk::Usage(self.usage()));
        }
        Ok(out)
    }

    fn on_chunk(
        &mut self,
        chunk: GenerateContentResponse,
        out: &mut Vec<ChatChunk>,
    ) -> Result<(), StreamError> {
        if let Some(err) = chunk.error {
            let status = err.code.filter(|c| (400..=599).contains(c)).unwrap_or(502);
            let message = err.message.map_or_else(
                || "Gemini stream error".into(),
                |m| crate::api::scrub::scrub_text(&m, &[]).into_owned(),
            );
            let mut e = OpenAiError::new(status, error_type(status), message);
            e.code = err.status;
            return Err(StreamError::Upstream(e));
        }
        if self.response_id.is_empty()
            && let Some(id) = chunk.response_id
        {
            self.response_id = id;
        }
        if self.model.is_empty()
            && let Some(m) = chunk.model_version
        {
            self.model = m;
        }
        // Vertex sends `{"trafficType": …}` with no counts on early chunks;
        // only a usage with counts replaces the last one seen.
        if let Some(u) = chunk.usage_metadata
            && (u.total_token_count > 0 || u.prompt_token_count > 0)
        {
            self.usage = Some(u);
        }
        if self.finished {
            return Ok(());
        }
        if chunk
            .prompt_feedback
            .as_ref()
            .is_some_and(|f| f.block_reason.is_some())
        {
            self.ensure_role(out);
            self.finish_with(FinishReason::ContentFilter, out);
            return Ok(());
        }
        // Only the first candidate is streamed (candidateCount > 1 is not
        // portable in streams).
        let Some(cand) = chunk.candidates.into_iter().next() else {
            return Ok(());
        };
        for part in cand.content.map(|c| c.parts).unwrap_or_default() {
            self.on_part(part, out)?;
        }
        if let Some(reason) = cand.finish_reason.as_deref() {
            self.ensure_role(out);
            let reason = response::finish_reason(reason, self.next_index > 0);
            self.finish_with(reason, out);
        }
        Ok(())
    }

    fn on_part(&mut self, part: Part, out: &mut Vec<ChatChunk>) -> Result<(), StreamError> {
        if let Some(call) = part.function_call {
            return self.on_function_call(call, part.thought_signature.as_deref(), out);
        }
        let delta = match response::text_of(&part) {
            Some(TextKind::Answer(t)) => ChunkDelta {
                content: Some(t.to_owned()),
                ..ChunkDelta::default()
            },
            Some(TextKind::Thought(t)) => ChunkDelta {
                reasoning: Some(t.to_owned()),
                ..ChunkDelta::default()
            },
            None => return Ok(()),
        };
        self.ensure_role(out);
        out.push(ChatChunk::delta(delta));
        Ok(())
    }

    fn on_function_call(
        &mut self,
        call: FunctionCall,
        signature: Option<&str>,
        out: &mut Vec<ChatChunk>,
    ) -> Result<(), StreamError> {
        let continues = call.will_continue == Some(true);
        if call.name.is_none() {
            // A piece of the call that is open; a stray piece is ignored.
            let Some(open) = self.open_call.as_mut() else {
                return Ok(());
            };
            for arg in call.partial_args.iter().flatten() {
                open.args.apply(arg)?;
            }
            if !continues {
                self.close_call(out);
            }
            return Ok(());
        }
        // A named part starts a new call, which closes any open one.
        self.close_call(out);
        self.ensure_role(out);
        let index = self.next_index;
        self.next_index += 1;
        let id = response::tool_call_id(&self.response_id, index, &call, signature);
        let streamed = continues || call.partial_args.is_some();
        let arguments = if streamed {
            String::new()
        } else {
            call.args
                .as_ref()
                .map_or_else(|| "{}".to_owned(), json_text)
        };
        out.push(ChatChunk::delta(ChunkDelta {
            tool_call: Some(ToolCallDelta {
                index,
                id: Some(id),
                name: call.name,
                arguments,
            }),
            ..ChunkDelta::default()
        }));
        if streamed {
            let mut args = ArgsAssembler::default();
            for arg in call.partial_args.iter().flatten() {
                args.apply(arg)?;
            }
            self.open_call = Some(OpenCall { index, args });
            if !continues {
                self.close_call(out);
            }
        }
        Ok(())
    }

    /// Sends the complete arguments of the call still streaming, if any.
    fn close_call(&mut self, out: &mut Vec<ChatChunk>) {
        if let Some(open) = self.open_call.take() {
            out.push(ChatChunk::delta(ChunkDelta {
                tool_call: Some(ToolCallDelta {
                    index: open.index,
                    arguments: open.args.finish(),
                    ..ToolCallDelta::default()
                }),
                ..ChunkDelta::default()
            }));
        }
    }

    fn ensure_role(&mut self, out: &mut Vec<ChatChunk>) {
        if !self.role_sent {
            self.role_sent = true;
            out.push(ChatChunk::delta(ChunkDelta {
                role: Some(Role::Assistant),
                content: Some(String::new()),
                ..ChunkDelta::default()
            }));
        }
    }

    fn finish_with(&mut self, reason: FinishReason, out: &mut Vec<ChatChunk>) {
        self.close_call(out);
        self.finished = true;
        out.push(ChatChunk::finish(reason));
    }
}
