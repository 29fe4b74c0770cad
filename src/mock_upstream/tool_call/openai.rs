//! Tool calls as an OpenAI chat completion: `message.tool_calls` with the
//! arguments as a string, or a stream whose first chunk of each call carries
//! its id, type and name and whose later chunks carry argument fragments.

use std::fmt::Write as _;

use super::ToolAnswer;
use crate::api::error::push_json_str;
use crate::mock_upstream::echo::{EchoPlan, now_secs, split_text};
use crate::mock_upstream::extras;

pub fn body(answer: &ToolAnswer, plan: &EchoPlan, id: &str, extras: bool) -> Vec<u8> {
    let mut out = String::with_capacity(512);
    out.push_str("{\"id\":");
    push_json_str(&mut out, id);
    let _ = write!(
        out,
        ",\"object\":\"chat.completion\",\"created\":{},\"model\":",
        now_secs()
    );
    push_json_str(&mut out, &plan.model);
    out.push_str(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    push_text_or_null(&mut out, &answer.text);
    out.push_str(",\"refusal\":null,\"tool_calls\":[");
    for (i, call) in answer.calls.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"id\":\"call_{i}\",\"type\":\"function\",\"function\":{{\"name\":"
        );
        push_json_str(&mut out, &call.name);
        out.push_str(",\"arguments\":");
        push_json_str(&mut out, &call.arguments);
        out.push_str("}}");
    }
    out.push_str("]},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],");
    push_usage(&mut out, answer, plan);
    out.push_str(extras::openai_body_tail(extras));
    out.push('}');
    out.into_bytes()
}

pub fn events(
    answer: &ToolAnswer,
    plan: &EchoPlan,
    id: &str,
    text_pieces: &[&str],
    extras: bool,
) -> Vec<Vec<u8>> {
    let chunk = ChunkWriter::new(plan, id, extras::openai_chunk_tail(extras));
    let mut events = Vec::new();
    if !answer.text.is_empty() {
        events.push(chunk.delta("{\"role\":\"assistant\",\"content\":\"\"}", "null"));
        for piece in text_pieces {
            let mut delta = String::from("{\"content\":");
            push_json_str(&mut delta, piece);
            delta.push('}');
            events.push(chunk.delta(&delta, "null"));
        }
    }
    for (i, call) in answer.calls.iter().enumerate() {
        // Without text, the first call's chunk is the one that names the role.
        let role = if i == 0 && answer.text.is_empty() {
            "\"role\":\"assistant\",\"content\":null,"
        } else {
            ""
        };
        let mut delta = format!(
            "{{{role}\"tool_calls\":[{{\"index\":{i},\"id\":\"call_{i}\",\"type\":\"function\",\"function\":{{\"name\":"
        );
        push_json_str(&mut delta, &call.name);
        delta.push_str(",\"arguments\":\"\"}}]}");
        events.push(chunk.delta(&delta, "null"));
        for piece in split_text(&call.arguments, Some(answer.arg_pieces)) {
            let mut delta =
                format!("{{\"tool_calls\":[{{\"index\":{i},\"function\":{{\"arguments\":");
            push_json_str(&mut delta, piece);
            delta.push_str("}}]}");
            events.push(chunk.delta(&delta, "null"));
        }
    }
    events.push(chunk.delta("{}", "\"tool_calls\""));
    if plan.include_usage {
        let mut usage = String::from("[],");
        push_usage(&mut usage, answer, plan);
        events.push(chunk.with_choices(&usage));
    }
    events.push(b"data: [DONE]\n\n".to_vec());
    events
}

fn push_text_or_null(out: &mut String, text: &str) {
    if text.is_empty() {
        out.push_str("null");
    } else {
        push_json_str(out, text);
    }
}

fn push_usage(out: &mut String, answer: &ToolAnswer, plan: &EchoPlan) {
    let c = answer.completion_tokens();
    let _ = write!(
        out,
        "\"usage\":{{\"prompt_tokens\":{},\"completion_tokens\":{c},\"total_tokens\":{}}}",
        plan.prompt_tokens,
        plan.prompt_tokens + c
    );
}

/// Writes `chat.completion.chunk` events that share one id, time and model.
struct ChunkWriter<'a> {
    head: String,
    tail: &'a str,
}

impl<'a> ChunkWriter<'a> {
    fn new(plan: &EchoPlan, id: &str, tail: &'a str) -> Self {
        let mut head = String::from("data: {\"id\":");
        push_json_str(&mut head, id);
        let _ = write!(
            head,
            ",\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":",
            now_secs()
        );
        push_json_str(&mut head, &plan.model);
        ChunkWriter { head, tail }
    }

    /// A chunk of choice 0 with this `delta` object and `finish_reason` value.
    fn delta(&self, delta: &str, finish: &str) -> Vec<u8> {
        let choices = format!(
            "[{{\"index\":0,\"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}]"
        );
        self.with_choices(&choices)
    }

    /// A chunk whose `choices` is `choices` followed by any further members.
    fn with_choices(&self, choices: &str) -> Vec<u8> {
        let mut out = String::with_capacity(self.head.len() + choices.len() + 32);
        out.push_str(&self.head);
        out.push_str(",\"choices\":");
        out.push_str(choices);
        out.push_str(self.tail);
        out.push_str("}\n\n");
        out.into_bytes()
    }
}
