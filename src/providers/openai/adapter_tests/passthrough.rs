//! The passthrough readers, fed every recorded stream (the fixtures and the
//! mock upstream's output, LF and CRLF) split at every byte: what they
//! report must not depend on where the pieces break, must agree with the
//! full-parse translators on usage and on a clean end, and the OpenAI
//! reader's stripped output must be the input minus exactly the usage-only
//! event. The cost check: no event of a normal stream is parsed.

use super::fixture_files;
use super::stream::PARALLEL_TOOLS;
use crate::canonical::Usage;
use crate::mock_upstream::echo::EchoPlan;
use crate::mock_upstream::formats::anthropic_events;
use crate::providers::anthropic::passthrough::AnthropicStreamReader;
use crate::providers::anthropic::stream::AnthropicStreamTranslator;
use crate::providers::openai::{OpenAiStreamReader, OpenAiStreamTranslator};
use crate::sse::SseParser;

fn plan(include_usage: bool) -> EchoPlan {
    EchoPlan {
        model: "m".into(),
        text: "the quick brown fox jumps over the lazy dog, twice: é🦀".into(),
        stream: true,
        include_usage,
        prompt_tokens: 12,
    }
}

fn with_crlf(streams: Vec<(String, String)>) -> Vec<(String, String)> {
    let crlf: Vec<_> = streams
        .iter()
        .map(|(name, body)| (format!("{name} (CRLF)"), body.replace('\n', "\r\n")))
        .collect();
    streams.into_iter().chain(crlf).collect()
}

fn openai_streams() -> Vec<(String, String)> {
    let mut streams = fixture_files(".openai.sse");
    for include_usage in [true, false] {
        let events = plan(include_usage).stream_events("chatcmpl-mock", None);
        let body = String::from_utf8(events.concat()).expect("UTF-8");
        streams.push((format!("mock include_usage={include_usage}"), body));
    }
    streams.push(("openai shape".into(), PARALLEL_TOOLS.into()));
    with_crlf(streams)
}

fn anthropic_streams() -> Vec<(String, String)> {
    let mut streams: Vec<_> = fixture_files(".sse")
        .into_iter()
        .filter(|(name, _)| name.contains("/anthropic/") && !name.ends_with(".openai.sse"))
        // A stream the translator refuses as malformed (the fuzzer's block
        // index overflow) has no reference usage to compare with.
        .filter(|(name, _)| !name.ends_with("block_index_overflow.sse"))
        .collect();
    // The mock writes each event followed by its blank line.
    let events = anthropic_events(&plan(true), "msg_mock", Some(3));
    let body: Vec<u8> = events
        .iter()
        .flat_map(|e| [&e[..], b"\n\n"])
        .flatten()
        .copied()
        .collect();
    streams.push(("mock".into(), String::from_utf8(body).expect("UTF-8")));
    with_crlf(streams)
}

/// What a full parse says: (usage if any was reported, clean end).
fn openai_reference(body: &str) -> (Option<Usage>, bool) {
    let mut parser = SseParser::new();
    parser.feed(body.as_bytes());
    let mut t = OpenAiStreamTranslator::new(false);
    let mut sink = Vec::new();
    let mut clean = true;
    while let Some(ev) = parser.next_event() {
        clean &= t.on_event(&ev, &mut sink).is_ok();
    }
    clean &= t.finish().is_ok();
    let reported = body.contains("\"usage\":{");
    (reported.then(|| t.usage()), clean)
}

fn anthropic_reference(body: &str) -> (Option<Usage>, bool) {
    let mut parser = SseParser::new();
    parser.feed(body.as_bytes());
    let mut t = AnthropicStreamTranslator::new(false);
    let mut sink = Vec::new();
    let mut clean = true;
    while let Some(ev) = parser.next_event() {
        clean &= t.on_event(&ev, &mut sink).is_ok();
    }
    clean &= t.finish().is_ok();
    (body.contains("message_start").then(|| t.usage()), clean)
}

/// The splits every stream is fed in: two pieces at every byte, and one
/// byte at a time.
fn splits(body: &[u8]) -> impl Iterator<Item = Vec<&[u8]>> {
    (0..=body.len())
        .map(move |at| vec![&body[..at], &body[at..]])
        .chain(std::iter::once(body.chunks(1).collect()))
}

#[test]
fn openai_reader_reports_the_same_at_every_split_point() {
    for (name, body) in openai_streams() {
        let (usage, clean) = openai_reference(&body);
        let has_error = body.contains("{\"error\"");
        assert!(clean || has_error || name.contains("cut"), "{name}");
        for pieces in splits(body.as_bytes()) {
            let mut reader = OpenAiStreamReader::new();
            for piece in &pieces {
                reader.observe(piece);
            }
            let at = pieces[0].len();
            assert_eq!(reader.usage(), usage, "{name} split at {at}");
            assert_eq!(reader.ended_cleanly(), clean, "{name} split at {at}");
            assert_eq!(reader.error().is_some(), has_error, "{name} split at {at}");
            // The cost check: only an error event is ever parsed.
            assert_eq!(reader.counts().1, u64::from(has_error), "{name}");
        }
    }
}

/// `body` without its usage-only event (`"choices":[]` with a usage) and
/// without the `"usage":null` members the other events carry once usage is
/// asked for: what the client would have got had nobody asked.
fn minus_usage_chunk(body: &str) -> String {
    let sep = if body.contains("\r\n") {
        "\r\n\r\n"
    } else {
        "\n\n"
    };
    body.split_inclusive(sep)
        .filter(|ev| !(ev.contains("\"choices\":[]") && ev.contains("\"usage\":{")))
        .map(|ev| {
            if ev.ends_with(sep) {
                ev.replacen(",\"usage\":null", "", 1)
            } else {
                ev.to_owned()
            }
        })
        .collect()
}

#[test]
fn stripping_removes_exactly_the_usage_chunk_at_every_split_point() {
    let mut stripped_some = 0;
    for (name, body) in openai_streams() {
        let want = minus_usage_chunk(&body);
        stripped_some += usize::from(want.len() < body.len());
        let (usage, clean) = openai_reference(&body);
        for pieces in splits(body.as_bytes()) {
            let mut reader = OpenAiStreamReader::new();
            let mut out = Vec::new();
            for piece in &pieces {
                reader.relay_without_usage(piece, &mut out);
            }
            reader.flush(&mut out);
            let at = pieces[0].len();
            assert_eq!(String::from_utf8_lossy(&out), want, "{name} split at {at}");
            assert_eq!(reader.usage(), usage, "{name} split at {at}");
            assert_eq!(reader.ended_cleanly(), clean, "{name} split at {at}");
        }
    }
    assert!(
        stripped_some >= 20,
        "only {stripped_some} streams had a usage chunk"
    );
}

#[test]
fn a_cut_stream_is_not_clean_and_keeps_its_tail() {
    let cut = &PARALLEL_TOOLS[..PARALLEL_TOOLS.find("\"choices\":[]").expect("usage chunk")];
    let mut reader = OpenAiStreamReader::new();
    let mut out = Vec::new();
    reader.relay_without_usage(cut.as_bytes(), &mut out);
    assert!(!reader.ended_cleanly());
    assert_eq!(reader.usage(), None);
    reader.flush(&mut out);
    assert_eq!(String::from_utf8_lossy(&out), minus_usage_chunk(cut));
    // [DONE] with no finish reason before it is not a clean end either.
    let mut reader = OpenAiStreamReader::new();
    reader.observe(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n",
    );
    assert!(!reader.ended_cleanly());
}

#[test]
fn the_reader_scans_without_parsing() {
    // Not JSON at all past the keys it looks for: a parser would refuse it,
    // the reader still sees the finish reason, the usage and the end.
    let body = concat!(
        "data: {\"choices\":[{\"finish_reason\":\"length\", ]]] not json\n\n",
        "data: {\"choices\":[], \"usage\" : {\"prompt_tokens\": 7, \"completion_tokens\":3,",
        "\"prompt_tokens_details\":{\"cached_tokens\":5}}, trailing junk\n\n",
        "data: [DONE]\n\n",
    );
    let mut reader = OpenAiStreamReader::new();
    reader.observe(body.as_bytes());
    assert!(reader.ended_cleanly());
    let usage = reader.usage().expect("usage");
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens,
            usage.cached_prompt_tokens
        ),
        (7, 3, 10, 5)
    );
    assert_eq!(reader.counts(), (3, 0));
    // A content string that merely mentions the keys is not mistaken for them.
    let mut reader = OpenAiStreamReader::new();
    reader.observe(br#"data: {"choices":[{"delta":{"content":"\"usage\":{\"prompt_tokens\":9} \"finish_reason\":\"stop\" \"error\":1"},"finish_reason":null}]}

"#);
    assert_eq!(
        (reader.usage(), reader.finish_reason(), reader.error()),
        (None, None, None)
    );
}

#[test]
fn anthropic_reader_reports_the_same_at_every_split_point() {
    for (name, body) in anthropic_streams() {
        let (usage, clean) = anthropic_reference(&body);
        let has_error = body.contains("event: error");
        let stop_reason = body
            .split("\"stop_reason\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next());
        for pieces in splits(body.as_bytes()) {
            let mut reader = AnthropicStreamReader::new();
            for piece in &pieces {
                reader.observe(piece);
            }
            let at = pieces[0].len();
            assert_eq!(reader.usage(), usage, "{name} split at {at}");
            assert_eq!(reader.ended_cleanly(), clean, "{name} split at {at}");
            assert_eq!(reader.error().is_some(), has_error, "{name} split at {at}");
            if clean {
                assert_eq!(reader.stop_reason(), stop_reason, "{name}");
            }
            assert_eq!(reader.counts().1, u64::from(has_error), "{name}");
        }
    }
}

#[test]
fn anthropic_prompt_tokens_include_the_cache() {
    let body = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"content\":[],",
        "\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":20,\"cache_read_input_tokens\":300,\"output_tokens\":1}}}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":42}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    let mut reader = AnthropicStreamReader::new();
    reader.observe(body.as_bytes());
    assert!(reader.ended_cleanly());
    assert_eq!(reader.stop_reason(), Some("tool_use"));
    let u = reader.usage().expect("usage");
    assert_eq!(
        (
            u.prompt_tokens,
            u.cached_prompt_tokens,
            u.cache_creation_tokens,
            u.completion_tokens,
            u.total_tokens
        ),
        (330, 300, 20, 42, 372)
    );
    // Overloaded mid-stream: an error, never a clean end.
    reader.observe(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
    assert!(!reader.ended_cleanly());
    assert_eq!(reader.error().map(|e| e.status), Some(503));
}
