//! What the two stream-translator targets share: seeds from the recorded
//! fixtures, event-level damage to SSE streams, and the harness that drives a
//! translator the way the gateway does and checks the OpenAI stream it writes.

use std::path::Path;

use super::json_tree::mutate_json;
use super::mutate::{Rng, byte_edit, feed_split, hash, lines, split_points};
use super::{Reached, read_seeds};
use crate::api::openai::{
    ChunkContext, write_openai_chunk, write_openai_done, write_openai_stream_error,
};
use crate::canonical::{ChatChunk, StreamError};
use crate::sse::{SseEvent, SseParser};

/// The recorded upstream streams of one provider (`*.sse`, not the expected
/// `*.openai.sse` outputs).
pub fn fixture_streams(root: &Path, provider: &str) -> Vec<Vec<u8>> {
    let dir = root.join("tests").join("fixtures").join(provider);
    let mut all = read_seeds(&dir, &[".sse"]);
    let openai = read_seeds(&dir, &[".openai.sse"]);
    all.retain(|s| !openai.contains(s));
    all
}

/// Splits a stream into events, each with its lines and the blank line
/// that ends it.
fn events(input: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for line in lines(input) {
        let blank = line == b"\n" || line == b"\r\n";
        current.extend_from_slice(&line);
        if blank {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Damages a stream at the event and line level (drop, duplicate, reorder,
/// cut, interleave with another stream, odd line ends), inside one event's
/// JSON at the value level, or byte-wise.
pub fn mutate_stream(rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
    let mut evs = events(input);
    if evs.is_empty() {
        byte_edit(rng, input);
        return;
    }
    let i = rng.below(evs.len());
    match rng.below(12) {
        0 => {
            evs.remove(i);
        }
        1 => {
            let copy = evs[i].clone();
            evs.insert(rng.below(evs.len() + 1), copy);
        }
        2 => {
            let j = rng.below(evs.len());
            evs.swap(i, j);
        }
        3 => {
            let len = evs[i].len();
            evs[i].truncate(rng.below(len));
        }
        4 => {
            let other = events(rng.pick::<Vec<u8>>(pool));
            if !other.is_empty() {
                evs.insert(i, rng.pick(&other).clone());
            }
        }
        5 => {
            let ending: &[u8] = [&b"\r\n"[..], b"\r", b"\n"][rng.below(3)];
            let ev = std::mem::take(&mut evs[i]);
            for line in lines(&ev) {
                let body = line.strip_suffix(b"\n").unwrap_or(&line);
                let body = body.strip_suffix(b"\r").unwrap_or(body);
                evs[i].extend_from_slice(body);
                evs[i].extend_from_slice(ending);
            }
        }
        6 => evs.insert(i, b": ping\n\n".to_vec()),
        7 => {
            // One data line split in two: the parser joins them with `\n`.
            if let Some(at) = find(&evs[i], b"data: ") {
                let end = evs[i][at..].iter().position(|&b| b == b'\n');
                if let Some(end) = end.filter(|&e| e > 7) {
                    let cut = at + 6 + rng.below(end - 6);
                    evs[i].splice(cut..cut, b"\ndata: ".iter().copied());
                }
            }
        }
        8..=10 => mutate_event_json(rng, &mut evs[i], pool),
        _ => {
            let mut all = evs.concat();
            byte_edit(rng, &mut all);
            *input = all;
            return;
        }
    }
    if rng.one_in(10) {
        evs.truncate(rng.below(evs.len() + 1));
    }
    *input = evs.concat();
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Mutates the JSON payload of an event's first `data:` line.
fn mutate_event_json(rng: &mut Rng, ev: &mut Vec<u8>, pool: &[Vec<u8>]) {
    let Some(at) = find(ev, b"data: ") else {
        return;
    };
    let start = at + 6;
    let end = start
        + ev[start..]
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(ev.len() - start);
    let end = if end > start && ev[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    let donor = if pool.is_empty() {
        &ev[..]
    } else {
        &rng.pick(pool)[..]
    };
    let payloads: Vec<Vec<u8>> = events(donor)
        .iter()
        .filter_map(|e| find(e, b"data: {").map(|a| line_at(e, a + 6)))
        .collect();
    let mut json = ev[start..end].to_vec();
    mutate_json(rng, &mut json, &payloads);
    json.retain(|&b| b != b'\n' && b != b'\r');
    ev.splice(start..end, json);
}

fn line_at(ev: &[u8], start: usize) -> Vec<u8> {
    let rest = &ev[start..];
    let end = rest
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(rest.len());
    rest[..end].to_vec()
}

/// A provider's stream translator as the gateway drives it.
pub trait Translate {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<(), StreamError>;
    fn finish(&mut self) -> Result<Vec<ChatChunk>, StreamError>;
}

pub const STAGES: &[&str] = &[
    "upstream event parsed",
    "event translated",
    "chunk written",
    "clean end ([DONE])",
    "error end",
];

/// Translates `input` fed in `cuts` pieces into the OpenAI SSE bytes the
/// client would get, marking stages in `reached`.
fn translate(
    mut tr: impl Translate,
    input: &[u8],
    cuts: &[usize],
    reached: &mut Reached,
) -> Vec<u8> {
    let ctx = ChunkContext::new("chatcmpl-fuzz", 1_700_000_000, "fuzz-model");
    let mut parser = SseParser::new();
    let mut chunks = Vec::new();
    let mut out = Vec::new();
    let mut failure = None;
    feed_split(input, cuts, |piece| {
        if failure.is_some() {
            return;
        }
        parser.feed(piece);
        while let Some(ev) = parser.next_event() {
            reached.hit(0);
            match tr.on_event(&ev, &mut chunks) {
                Ok(()) => reached.hit(1),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        for chunk in chunks.drain(..) {
            write_openai_chunk(&chunk, &ctx, &mut out);
        }
    });
    let failure = failure.or_else(|| match tr.finish() {
        Ok(last) => {
            for chunk in &last {
                write_openai_chunk(chunk, &ctx, &mut out);
            }
            write_openai_done(&mut out);
            None
        }
        Err(e) => Some(e),
    });
    if let Some(err) = failure {
        write_openai_stream_error(&err.to_openai(), &mut out);
    }
    out
}

/// Runs one damaged upstream stream through a fresh translator twice (whole
/// and split) and checks what the client would receive.
pub fn check_stream<T: Translate>(
    make: impl Fn() -> T,
    input: &[u8],
    reached: &mut Reached,
) -> Result<(), String> {
    let whole = translate(make(), input, &[input.len()], reached);
    let mut rng = Rng::new(hash(input));
    let cuts = split_points(&mut rng, input.len());
    let split = translate(make(), input, &cuts, &mut Reached::default());
    if split != whole {
        return Err("output depends on how the upstream bytes were split".into());
    }
    check_openai_stream(&whole, reached)
}

/// Every event is `[DONE]` or a JSON object (a chunk with `choices`, or an
/// `error`); exactly one end, `[DONE]` or error, and it is last; a clean end
/// follows a chunk with a `finish_reason`.
fn check_openai_stream(out: &[u8], reached: &mut Reached) -> Result<(), String> {
    let mut parser = SseParser::new();
    parser.feed(out);
    if parser.has_partial_event() {
        return Err("output ends mid-event".into());
    }
    let mut ended = false;
    let mut finished = false;
    while let Some(ev) = parser.next_event() {
        if ended {
            return Err(format!("event after the end of the stream: {}", ev.data));
        }
        if ev.data == "[DONE]" {
            if !finished {
                return Err("[DONE] without any finish_reason".into());
            }
            reached.hit(3);
            ended = true;
            continue;
        }
        let mut bytes = ev.data.clone().into_bytes();
        let value = simd_json::to_owned_value(&mut bytes)
            .map_err(|e| format!("output event is not JSON ({e}): {}", ev.data))?;
        use simd_json::prelude::*;
        if value.get("error").is_some() {
            reached.hit(4);
            ended = true;
        } else if let Some(choices) = value.get("choices").and_then(|c| c.as_array()) {
            reached.hit(2);
            finished |= choices
                .iter()
                .any(|c| c.get("finish_reason").is_some_and(|f| f.is_str()));
        } else {
            return Err(format!(
                "output event is neither chunk nor error: {}",
                ev.data
            ));
        }
    }
    if !ended {
        return Err("stream ends without [DONE] or an error event".into());
    }
    Ok(())
}
