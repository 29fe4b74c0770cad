//! Target `gemini-stream`: the Gemini stream translator fed damaged upstream
//! streams (recorded fixtures, events dropped, reordered, cut, re-typed).

use std::path::Path;

use super::mutate::Rng;
use super::streams::{STAGES, Translate, check_stream, fixture_streams, mutate_stream};
use super::{Options, Reached, Target};
use crate::canonical::{ChatChunk, StreamError};
use crate::providers::gemini::stream::GeminiStreamTranslator;
use crate::sse::SseEvent;

pub struct GeminiStream;

impl Translate for GeminiStreamTranslator {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<(), StreamError> {
        GeminiStreamTranslator::on_event(self, ev, out)
    }

    fn finish(&mut self) -> Result<Vec<ChatChunk>, StreamError> {
        GeminiStreamTranslator::finish(self)
    }
}

impl Target for GeminiStream {
    fn name(&self) -> &'static str {
        "gemini-stream"
    }

    fn stages(&self) -> &'static [&'static str] {
        STAGES
    }

    fn seeds(&self, root: &Path) -> Vec<Vec<u8>> {
        let mut seeds = fixture_streams(root, "gemini");
        seeds.push(
            b"data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"hi\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":1,\"candidatesTokenCount\":1},\"responseId\":\"r1\"}\r\n\r\n".to_vec(),
        );
        // Indexed partialArgs paths: each index is filled with nulls up to it.
        seeds.push(
            b"data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"f\",\"willContinue\":true}}]}}],\"responseId\":\"r2\"}\n\ndata: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"partialArgs\":[{\"jsonPath\":\"$.a[3][1]\",\"numberValue\":1},{\"jsonPath\":\"$.b[2]\",\"stringValue\":\"x\"}],\"willContinue\":true}}]}}],\"responseId\":\"r2\"}\n\ndata: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{}}]},\"finishReason\":\"STOP\"}],\"responseId\":\"r2\"}\n\n".to_vec(),
        );
        seeds
    }

    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
        mutate_stream(rng, input, pool);
    }

    fn run(&self, input: &[u8], _opts: &Options, reached: &mut Reached) -> Result<(), String> {
        let include_usage = input.len().is_multiple_of(2);
        check_stream(
            || GeminiStreamTranslator::new(include_usage),
            input,
            reached,
        )
    }
}
