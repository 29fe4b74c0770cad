//! Provider adapters: one folder per upstream API, each translating the
//! canonical model to its wire format and its answers and streams back.

pub mod anthropic;
pub mod gemini;
