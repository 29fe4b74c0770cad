//! Tool calls as an Anthropic Message: `tool_use` blocks after an optional
//! text block, `stop_reason: tool_use`; streamed as each block's start,
//! deltas (`input_json_delta` pieces for a call) and stop.

use std::fmt::Write as _;

use super::{ToolAnswer, ToolCall};
use crate::api::error::push_json_str;
use crate::mock_upstream::echo::{EchoPlan, split_text};
use crate::mock_upstream::formats::anthropic_message_start;

pub fn body(answer: &ToolAnswer, plan: &EchoPlan, id: &str) -> Result<Vec<u8>, String> {
    let mut out = String::from("{\"id\":");
    push_json_str(&mut out, id);
    out.push_str(",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    push_json_str(&mut out, &plan.model);
    out.push_str(",\"content\":[");
    if !answer.text.is_empty() {
        out.push_str("{\"type\":\"text\",\"text\":");
        push_json_str(&mut out, &answer.text);
        out.push_str("},");
    }
    for (i, call) in answer.calls.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_tool_use(&mut out, i, call, call.object()?);
    }
    let _ = write!(
        out,
        "],\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{},\"output_tokens\":{}}}}}",
        plan.prompt_tokens,
        answer.completion_tokens()
    );
    Ok(out.into_bytes())
}

pub fn events(
    answer: &ToolAnswer,
    plan: &EchoPlan,
    id: &str,
    text_pieces: &[&str],
) -> Vec<Vec<u8>> {
    let mut events = vec![anthropic_message_start(plan, id)];
    let mut index = 0;
    if !answer.text.is_empty() {
        events.push(block_start(index, "{\"type\":\"text\",\"text\":\"\"}"));
        for piece in text_pieces {
            events.push(delta(index, "text_delta", "text", piece));
        }
        events.push(block_stop(index));
        index += 1;
    }
    for (i, call) in answer.calls.iter().enumerate() {
        let mut block = String::new();
        push_tool_use(&mut block, i, call, "{}");
        events.push(block_start(index, &block));
        // Anthropic opens every tool block with an empty fragment.
        events.push(delta(index, "input_json_delta", "partial_json", ""));
        for piece in split_text(&call.arguments, Some(answer.arg_pieces)) {
            events.push(delta(index, "input_json_delta", "partial_json", piece));
        }
        events.push(block_stop(index));
        index += 1;
    }
    // The ping Anthropic sends follows the first block's start.
    events.insert(2, "event: ping\ndata: {\"type\": \"ping\"}".into());
    events.push(format!(
        "event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"tool_use\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{}}}}}",
        answer.completion_tokens()
    ));
    events.push("event: message_stop\ndata: {\"type\":\"message_stop\"}".into());
    events.into_iter().map(String::into_bytes).collect()
}

fn push_tool_use(out: &mut String, i: usize, call: &ToolCall, input: &str) {
    let _ = write!(
        out,
        "{{\"type\":\"tool_use\",\"id\":\"toolu_{i}\",\"name\":"
    );
    push_json_str(out, &call.name);
    out.push_str(",\"input\":");
    out.push_str(input);
    out.push('}');
}

fn block_start(index: usize, block: &str) -> String {
    format!(
        "event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":{index},\"content_block\":{block}}}"
    )
}

fn delta(index: usize, kind: &str, field: &str, piece: &str) -> String {
    let mut ev = format!(
        "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":{index},\"delta\":{{\"type\":\"{kind}\",\"{field}\":"
    );
    push_json_str(&mut ev, piece);
    ev.push_str("}}");
    ev
}

fn block_stop(index: usize) -> String {
    format!(
        "event: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":{index}}}"
    )
}
