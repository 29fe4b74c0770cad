//! Server-Sent Events framing: an incremental parser for upstream streams
//! and a writer for the events we send to clients.

mod parser;
mod writer;

pub use parser::{SseEvent, SseParser};
pub use writer::{write_comment, write_event};
