//! Provider adapters, one folder per upstream API: how a canonical call
//! becomes the provider's own request, and its answers and streams the
//! client's. `openai` covers the whole compatible family by config.

pub mod anthropic;
pub mod gemini;
pub mod mock;
pub mod openai;
