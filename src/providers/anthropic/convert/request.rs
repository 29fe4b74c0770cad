//! Canonical request → Anthropic Messages request body: system hoisting,
//! thinking budget, sampling and structured output; the turns are written
//! in `turns`, tools and tool choice in `tools`.

use super::ConvertError;
use super::tools::{
    JsonAnswer, build_tool_choice, check_tool_names, write_tool_choice, write_tools,
};
use super::turns::{text_parts, write_text_block, write_turns};
use crate::canonical::json::{write_f64, write_list, write_str, write_u64};
use crate::canonical::{ChatRequest, ContentPart, Message, ReasoningEffort, Role};
use crate::providers::anthropic::AnthropicOptions;

/// Anthropic refuses thinking budgets below this.
const MIN_THINKING_BUDGET: u32 = 1024;

/// Thinking budget per OpenAI effort level. `budget_tokens` counts inside
/// `max_tokens`, like OpenAI's reasoning tokens count inside
/// `max_completion_tokens`.
fn effort_budget(effort: ReasoningEffort) -> Option<u32> {
    match effort {
        ReasoningEffort::None => None,
        ReasoningEffort::Minimal => Some(1024),
        ReasoningEffort::Low => Some(2048),
        ReasoningEffort::Medium => Some(8192),
        ReasoningEffort::High => Some(16384),
        ReasoningEffort::XHigh => Some(32768),
    }
}

/// Builds the JSON body for `POST /v1/messages`, written straight from the
/// canonical request (no intermediate tree): fields in the order Anthropic
/// documents them, empty ones left out.
pub fn build_request(
    req: &ChatRequest,
    upstream_model: &str,
    opts: &AnthropicOptions,
) -> Result<Vec<u8>, ConvertError> {
    // `write_request` reserves room for the whole body.
    let mut out = Vec::new();
    write_request(req, upstream_model, opts, &mut out)?;
    Ok(out)
}

/// [`build_request`] appended to `out`.
pub fn write_request(
    req: &ChatRequest,
    upstream_model: &str,
    opts: &AnthropicOptions,
    out: &mut Vec<u8>,
) -> Result<(), ConvertError> {
    if req.sampling.n.is_some_and(|n| n > 1) {
        return Err(ConvertError::invalid(
            "n",
            "Anthropic models return one choice; n must be 1",
        ));
    }
    let (max_tokens, budget) = plan_tokens(req, opts)?;
    check_tool_names(req)?;
    let json_answer = JsonAnswer::of(req, opts);

    out.reserve(size_hint(req));
    out.extend_from_slice(b"{\"model\":");
    write_str(out, upstream_model);
    out.extend_from_slice(b",\"max_tokens\":");
    write_u64(out, u64::from(max_tokens));
    write_system(out, &req.messages);
    out.extend_from_slice(b",\"messages\":");
    write_turns(out, &req.messages)?;
    let have_tools = write_tools(out, req, &json_answer, opts);
    if let Some(choice) = build_tool_choice(req, &json_answer, have_tools, budget.is_some()) {
        out.extend_from_slice(b",\"tool_choice\":");
        write_tool_choice(out, &choice);
    }
    if let Some(budget_tokens) = budget {
        out.extend_from_slice(b",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":");
        write_u64(out, u64::from(budget_tokens));
        out.push(b'}');
    }
    if let JsonAnswer::Native(schema) = json_answer {
        out.extend_from_slice(
            b",\"output_config\":{\"format\":{\"type\":\"json_schema\",\"schema\":",
        );
        out.extend_from_slice(schema.as_str().as_bytes());
        out.extend_from_slice(b"}}");
    }
    write_sampling(out, req, budget.is_some());
    if let Some(user_id) = &req.user {
        out.extend_from_slice(b",\"metadata\":{\"user_id\":");
        write_str(out, user_id);
        out.push(b'}');
    }
    if req.stream {
        out.extend_from_slice(b",\"stream\":true");
    }
    out.push(b'}');
    Ok(())
}

/// Room for the body in one allocation: its text and schemas plus the keys
/// around them.
fn size_hint(req: &ChatRequest) -> usize {
    let text: usize = req
        .messages
        .iter()
        .flat_map(|m| &m.content)
        .map(|p| match p {
            ContentPart::Text(t) => t.len() + 32,
            ContentPart::Image(_) => 256,
        })
        .sum();
    let tools: usize = req
        .tools
        .iter()
        .map(|t| {
            let description = t.description.as_ref().map_or(0, String::len);
            let schema = t.parameters.as_ref().map_or(0, |p| p.as_str().len());
            t.name.len() + description + schema + 64
        })
        .sum();
    512 + text + tools + req.messages.len() * 48
}

/// System and developer prompts hoisted into `system`: one is sent as a
/// plain string; several keep their boundaries as separate text blocks.
fn write_system(out: &mut Vec<u8>, messages: &[Message]) {
    let mut prompts = messages
        .iter()
        .filter(|m| matches!(m.role, Role::System | Role::Developer))
        .flat_map(text_parts);
    let Some(first) = prompts.next() else {
        return;
    };
    out.extend_from_slice(b",\"system\":");
    let Some(second) = prompts.next() else {
        write_str(out, first);
        return;
    };
    out.push(b'[');
    write_text_block(out, first);
    for text in std::iter::once(second).chain(prompts) {
        out.push(b',');
        write_text_block(out, text);
    }
    out.push(b']');
}

/// With thinking on, Anthropic only accepts the default temperature and a
/// top_p of at least 0.95; Anthropic's temperature range ends at 1.0.
/// Non-finite values (possible from other inbound APIs) are dropped rather
/// than sent as `null`. Dropped on purpose, Anthropic has no equivalent:
/// seed, presence_penalty, frequency_penalty.
fn write_sampling(out: &mut Vec<u8>, req: &ChatRequest, thinking: bool) {
    let top_p = req.sampling.top_p.filter(|p| p.is_finite());
    let (temperature, top_p) = if thinking {
        (None, top_p.filter(|p| *p >= 0.95))
    } else {
        let temperature = req.sampling.temperature.filter(|t| t.is_finite());
        (temperature.map(|t| t.clamp(0.0, 1.0)), top_p)
    };
    if let Some(t) = temperature {
        out.extend_from_slice(b",\"temperature\":");
        write_f64(out, t);
    }
    if let Some(p) = top_p {
        out.extend_from_slice(b",\"top_p\":");
        write_f64(out, p);
    }
    // Like temperature, top_k is refused next to thinking.
    if let Some(k) = req.sampling.top_k.filter(|_| !thinking) {
        out.extend_from_slice(b",\"top_k\":");
        write_u64(out, u64::from(k));
    }
    if !req.sampling.stop.is_empty() {
        out.extend_from_slice(b",\"stop_sequences\":");
        write_list(out, &req.sampling.stop, |out, s| write_str(out, s));
    }
}

/// `(max_tokens, thinking budget)`. Without a client limit the answer keeps
/// the model's default room and thinking is added on top of it.
fn plan_tokens(
    req: &ChatRequest,
    opts: &AnthropicOptions,
) -> Result<(u32, Option<u32>), ConvertError> {
    let budget = req
        .reasoning
        .and_then(|r| r.budget_tokens.or_else(|| r.effort.and_then(effort_budget)))
        .filter(|b| *b > 0)
        .map(|b| b.max(MIN_THINKING_BUDGET));
    let max_tokens = match (req.sampling.max_output_tokens, budget) {
        (Some(max), _) => max,
        (None, Some(b)) => opts.default_max_tokens.saturating_add(b),
        (None, None) => opts.default_max_tokens,
    };
    match budget {
        None => Ok((max_tokens, None)),
        Some(_) if max_tokens <= MIN_THINKING_BUDGET => Err(ConvertError::invalid(
            "max_completion_tokens",
            format!("must exceed {MIN_THINKING_BUDGET} when reasoning is enabled"),
        )),
        // The budget must leave room for the answer itself.
        Some(b) => Ok((max_tokens, Some(b.min(max_tokens - 1)))),
    }
}
