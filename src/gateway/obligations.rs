//! What policy stages ask of the response side, and the machinery that
//! holds streamed tool calls: each is released only when complete, so the
//! tool policy (`answer_guard.rs`) sees it whole before any of it reaches
//! the client. Text and reasoning deltas are never held here.

use std::sync::Arc;

use crate::canonical::{ChatChunk, ChunkDelta, ToolCallDelta};

/// Obligations attached to one request by its policy stages.
#[derive(Debug, Clone, Default)]
pub struct Obligations {
    /// Streamed tool calls are released only when complete.
    pub hold_tool_calls: bool,
    /// Every tool call the model emits answers to this policy.
    pub tool_policy: Option<Arc<crate::guard::tools::ToolPolicy>>,
    /// Answer text passes these rules (keys, canaries, system prompt, PII).
    pub text: Option<Arc<crate::guard::text::TextRules>>,
    /// Provider-specific fields and headers are not passed on.
    pub sanitize: bool,
    /// The key approvals are bound to.
    pub key_id: Option<String>,
    /// The approval the client presented (`x-tollgate-approval-id`).
    pub approval_id: Option<String>,
}

impl Obligations {
    /// Whether the answer must pass through the canonical model (a byte
    /// relay cannot honour these).
    pub fn need_canonical(&self) -> bool {
        self.hold_tool_calls || self.tool_policy.is_some() || self.text.is_some() || self.sanitize
    }
}

/// Buffers the fragments of the tool call in progress; it is released, as
/// one delta carrying its id, name and whole arguments, when another call
/// begins, the choice finishes, or the stream ends.
#[derive(Debug, Default)]
pub struct ToolCallHold {
    current: Option<ToolCallDelta>,
}

impl ToolCallHold {
    /// Takes one chunk; answers what may go to the client now, in order.
    pub fn push(&mut self, chunk: ChatChunk) -> Vec<ChatChunk> {
        let mut out = Vec::new();
        match chunk {
            ChatChunk::Delta {
                choice,
                mut delta,
                finish_reason,
            } => {
                if let Some(call) = delta.tool_call.take() {
                    match &mut self.current {
                        Some(held) if held.index == call.index => {
                            held.arguments.push_str(&call.arguments);
                        }
                        _ => {
                            out.extend(self.release(choice));
                            self.current = Some(call);
                        }
                    }
                }
                let rest = delta != ChunkDelta::default();
                if finish_reason.is_some() {
                    out.extend(self.release(choice));
                }
                if rest || finish_reason.is_some() {
                    out.push(ChatChunk::Delta {
                        choice,
                        delta,
                        finish_reason,
                    });
                }
            }
            usage @ ChatChunk::Usage(_) => {
                out.extend(self.release(0));
                out.push(usage);
            }
        }
        out
    }

    /// What is still held, at the end of the stream.
    pub fn release_all(&mut self) -> Vec<ChatChunk> {
        self.release(0).into_iter().collect()
    }

    fn release(&mut self, choice: u32) -> Option<ChatChunk> {
        let call = self.current.take()?;
        Some(ChatChunk::Delta {
            choice,
            delta: ChunkDelta {
                tool_call: Some(call),
                ..ChunkDelta::default()
            },
            finish_reason: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::FinishReason;

    fn call(index: u32, id: Option<&str>, args: &str) -> ChatChunk {
        ChatChunk::delta(ChunkDelta {
            tool_call: Some(ToolCallDelta {
                index,
                id: id.map(str::to_owned),
                name: id.map(|_| "f".to_owned()),
                arguments: args.to_owned(),
            }),
            ..ChunkDelta::default()
        })
    }

    fn text(t: &str) -> ChatChunk {
        ChatChunk::delta(ChunkDelta {
            content: Some(t.to_owned()),
            ..ChunkDelta::default()
        })
    }

    #[test]
    fn a_call_is_released_whole_and_text_is_never_held() {
        let mut h = ToolCallHold::default();
        assert_eq!(h.push(text("hi")), vec![text("hi")]);
        assert!(h.push(call(0, Some("a"), "{\"x\"")).is_empty());
        assert!(h.push(call(0, None, ":1}")).is_empty());
        let out = h.push(call(1, Some("b"), "{"));
        assert_eq!(out, vec![call(0, Some("a"), "{\"x\":1}")]);
        let out = h.push(ChatChunk::finish(FinishReason::ToolCalls));
        assert_eq!(
            out,
            vec![
                call(1, Some("b"), "{"),
                ChatChunk::finish(FinishReason::ToolCalls)
            ]
        );
        assert!(h.release_all().is_empty());
    }

    #[test]
    fn what_is_held_at_the_end_is_released() {
        let mut h = ToolCallHold::default();
        assert!(h.push(call(0, Some("a"), "{}")).is_empty());
        assert_eq!(h.release_all(), vec![call(0, Some("a"), "{}")]);
    }
}
