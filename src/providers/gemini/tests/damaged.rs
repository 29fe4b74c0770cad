//! Damaged upstream streams: every recorded stream cut at every point ends
//! either exactly like the whole stream or with an explicit error, never with
//! a clean-looking short answer; corrupted bytes never panic.

use super::read_fixture;
use super::stream_golden::translate;
use crate::providers::gemini::stream::StreamError;

const FINISHED_STREAMS: &[&str] = &[
    "text.sse",
    "tool_call.sse",
    "parallel_tools_text.sse",
    "partial_args.sse",
    "partial_args_nested.sse",
    "thinking.sse",
    "json_answer.sse",
    "safety_midstream.sse",
    "prompt_block.sse",
];

#[test]
fn a_cut_anywhere_is_a_complete_answer_or_an_error() {
    for name in FINISHED_STREAMS {
        let raw = read_fixture(name);
        let (whole, end) = translate(&raw, true);
        end.unwrap_or_else(|e| panic!("{name}: {e}"));
        for cut in (0..raw.len()).step_by(3) {
            let (chunks, end) = translate(&raw[..cut], true);
            match end {
                Ok(()) => assert_eq!(chunks, whole, "{name} cut at {cut} ended cleanly but short"),
                Err(e) => assert_eq!(e, StreamError::Truncated, "{name} cut at {cut}"),
            }
        }
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    let mut rng = crate::test_rng::xorshift(0x00c0_ffee_u64);
    let mut seed = 0;
    for name in FINISHED_STREAMS {
        let raw = read_fixture(name);
        for _ in 0..200 {
            let mut damaged = raw.clone();
            for _ in 0..3 {
                seed = rng();
                let at = (seed % damaged.len() as u64) as usize;
                damaged[at] = (seed >> 32) as u8;
            }
            // Any outcome but a panic is fine; errors must be OpenAI-shaped.
            if let (_, Err(e)) = translate(&damaged, seed.is_multiple_of(2)) {
                assert!(e.to_openai().status >= 400);
            }
        }
    }
}
