//! OpenAI Chat Completions ⇄ canonical: request parsing (with field paths in
//! errors), and writers for `chat.completion` bodies and SSE chunks.
//!
//! Reasoning is not part of OpenAI's published Chat Completions schema; we
//! use the de-facto extension other gateways use so clients can replay it:
//! `reasoning_content` (text) and `thinking_blocks` (with opaque signatures)
//! on assistant messages and stream deltas.
//!
//! In a stream, reasoning text arrives as `reasoning_content` deltas and
//! each block is closed by one `thinking_blocks` delta carrying its
//! signature (with empty `thinking`) or a whole redacted block. A client
//! rebuilds a replayable block from the `reasoning_content` accumulated
//! since the previous `thinking_blocks` delta plus that signature; blocks
//! never overlap, so this is unambiguous even with several per answer.

mod parse;
mod parse_message;
mod read;
mod write;

pub use parse::parse_openai_request;
pub use write::{
    ChunkContext, write_openai_chunk, write_openai_done, write_openai_response,
    write_openai_stream_error, write_usage,
};

#[cfg(test)]
mod tests;
