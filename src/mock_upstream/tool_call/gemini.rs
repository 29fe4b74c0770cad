//! Tool calls as a Gemini answer: `functionCall` parts after an optional
//! text part, `finishReason: STOP`. A stream sends the text in pieces, then
//! the calls whole in one last chunk, as Gemini does.

use super::ToolAnswer;
use crate::api::error::push_json_str;
use crate::mock_upstream::echo::EchoPlan;
use crate::mock_upstream::formats::{gemini_candidate, gemini_text_parts};

pub fn body(answer: &ToolAnswer, plan: &EchoPlan, id: &str) -> Result<Vec<u8>, String> {
    let mut parts = String::from("[");
    if !answer.text.is_empty() {
        parts.push_str("{\"text\":");
        push_json_str(&mut parts, &answer.text);
        parts.push_str("},");
    }
    push_calls(&mut parts, answer)?;
    parts.push(']');
    let usage = Some(answer.completion_tokens());
    Ok(gemini_candidate(plan, id, &parts, usage).into_bytes())
}

pub fn events(
    answer: &ToolAnswer,
    plan: &EchoPlan,
    id: &str,
    text_pieces: &[&str],
) -> Result<Vec<Vec<u8>>, String> {
    let mut events: Vec<Vec<u8>> = text_pieces
        .iter()
        .map(|p| sse(&gemini_candidate(plan, id, &gemini_text_parts(p), None)))
        .collect();
    let mut parts = String::from("[");
    push_calls(&mut parts, answer)?;
    parts.push(']');
    let usage = Some(answer.completion_tokens());
    events.push(sse(&gemini_candidate(plan, id, &parts, usage)));
    Ok(events)
}

fn push_calls(out: &mut String, answer: &ToolAnswer) -> Result<(), String> {
    for (i, call) in answer.calls.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"functionCall\":{\"name\":");
        push_json_str(out, &call.name);
        out.push_str(",\"args\":");
        out.push_str(call.object()?);
        out.push_str("}}");
    }
    Ok(())
}

fn sse(json: &str) -> Vec<u8> {
    format!("data: {json}").into_bytes()
}
