//! Provider adapters, one folder each: how a canonical call becomes the
//! provider's own request, and its answer becomes the client's.

pub mod mock;
pub mod openai;
