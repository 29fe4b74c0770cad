//! Provider adapters: one folder per upstream API, each translating the
//! canonical model to its wire format and back.

pub mod gemini;
