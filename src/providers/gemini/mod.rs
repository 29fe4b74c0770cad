//! Google Gemini (`generateContent` / `streamGenerateContent?alt=sse`) adapter:
//! pure translation between the canonical model and Gemini's wire format.

pub mod args;
pub mod ids;
pub mod wire;
