//! OpenAI Chat Completions ⇄ canonical: request parsing (with field paths in
//! errors), and writers for `chat.completion` bodies and SSE chunks.
//!
//! Reasoning is not part of OpenAI's published Chat Completions schema; we
//! use the de-facto extension other gateways use so clients can replay it:
//! `reasoning_content` (text) and `thinking_blocks` (with opaque signatures)
//! on assistant messages and stream deltas.

mod parse;
mod parse_message;
mod write;

pub use parse::parse_openai_request;
pub use write::{
    ChunkContext, write_openai_chunk, write_openai_done, write_openai_response,
    write_openai_stream_error, write_usage,
};

#[cfg(test)]
mod tests;
