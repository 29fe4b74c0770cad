//! Unit tests of the OpenAI-format adapter: round trips, answers, streams
//! and the passthrough readers.
