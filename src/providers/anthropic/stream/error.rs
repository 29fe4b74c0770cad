//! The ways an Anthropic stream can fail after it started: the shared
//! canonical `StreamError`.

pub use crate::canonical::StreamError;
