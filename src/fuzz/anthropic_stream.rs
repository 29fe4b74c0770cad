//! Target `anthropic-stream`: the Anthropic stream translator fed damaged upstream
//! streams (recorded fixtures, events dropped, reordered, cut, re-typed).

use std::path::Path;

use super::mutate::Rng;
use super::streams::{STAGES, Translate, check_stream, fixture_streams, mutate_stream};
use super::{Options, Reached, Target};
use crate::canonical::{ChatChunk, StreamError};
use crate::providers::anthropic::stream::AnthropicStreamTranslator;
use crate::sse::SseEvent;

pub struct AnthropicStream;

impl Translate for AnthropicStreamTranslator {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<(), StreamError> {
        AnthropicStreamTranslator::on_event(self, ev, out)
    }

    fn finish(&mut self) -> Result<Vec<ChatChunk>, StreamError> {
        AnthropicStreamTranslator::finish(self)
    }
}

impl Target for AnthropicStream {
    fn name(&self) -> &'static str {
        "anthropic-stream"
    }

    fn stages(&self) -> &'static [&'static str] {
        STAGES
    }

    fn seeds(&self, root: &Path) -> Vec<Vec<u8>> {
        let mut seeds = fixture_streams(root, "anthropic");
        // A cut stream and an overloaded error mid-stream, written as upstream sends them.
        seeds.push(
            b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n".to_vec(),
        );
        seeds
    }

    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
        mutate_stream(rng, input, pool);
    }

    fn run(&self, input: &[u8], _opts: &Options, reached: &mut Reached) -> Result<(), String> {
        let include_usage = input.len().is_multiple_of(2);
        check_stream(
            || AnthropicStreamTranslator::new(include_usage),
            input,
            reached,
        )
    }
}
