//! The Gemini adapter's entry points for the core: request body and path,
//! whole-response translation, and upstream error mapping.

use crate::canonical::tape::prelude::*;
use simd_json::OwnedValue;

use super::wire::{GenerationConfig, ThinkingConfig};
use super::{read, request, response, schema};
use crate::canonical::json::{write_f64, write_i64, write_list, write_str, write_u64, write_value};
use crate::canonical::{
    ChatRequest, ChatResponse, OpenAiError, ReasoningConfig, ReasoningEffort, ResponseFormat,
};

/// How tool parameter and response schemas are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaMode {
    /// `parametersJsonSchema` / `responseJsonSchema`: the client's JSON
    /// Schema untouched. Gemini 2.5 and later.
    #[default]
    JsonSchema,
    /// `parameters` / `responseSchema`: converted to the OpenAPI 3.0 subset
    /// older models (1.5, 2.0) accept; see `schema::to_openapi`.
    OpenApiSubset,
}

/// Per-model knobs of the translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GeminiOptions {
    pub schema_mode: SchemaMode,
    /// Replay unsigned function calls with Gemini's documented stand-in
    /// signature instead of letting Gemini 3 reject the turn with a 400.
    pub signature_fallback: bool,
    /// Express reasoning effort as `thinkingLevel` (Gemini 3) rather than a
    /// `thinkingBudget`; an explicit budget from the client is still a budget.
    pub thinking_levels: bool,
}

impl GeminiOptions {
    /// Sensible options for an upstream model name (`gemini-2.5-flash`, …).
    pub fn for_model(upstream_model: &str) -> Self {
        let m = upstream_model.trim_start_matches("models/");
        let old = m.starts_with("gemini-1") || m.starts_with("gemini-2.0");
        GeminiOptions {
            schema_mode: if old {
                SchemaMode::OpenApiSubset
            } else {
                SchemaMode::JsonSchema
            },
            signature_fallback: m.starts_with("gemini-3"),
            thinking_levels: m.starts_with("gemini-3"),
        }
    }
}

/// What can go wrong translating to or from Gemini.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// Only system/developer messages: Gemini needs at least one turn.
    #[error("messages: at least one user or assistant message is required")]
    NoContents,
    /// A tool result answers an id that no earlier assistant turn used.
    #[error("messages[{index}].tool_call_id: no earlier assistant tool call has id {id:?}")]
    UnknownToolCall { index: usize, id: String },
    /// Gemini's `args` must be an object; the replayed arguments are not.
    #[error("messages[{index}].tool_calls[{call}].function.arguments: must be a JSON object")]
    BadArguments { index: usize, call: usize },
    /// The upstream body is not a usable GenerateContentResponse.
    #[error("unreadable Gemini response: {0}")]
    BadResponse(String),
}

impl ConvertError {
    /// The error the client sees.
    pub fn to_openai(&self) -> OpenAiError {
        let msg = self.to_string();
        let param = match self {
            ConvertError::UnknownToolCall { index, .. } => {
                Some(format!("messages[{index}].tool_call_id"))
            }
            ConvertError::BadArguments { index, call } => Some(format!(
                "messages[{index}].tool_calls[{call}].function.arguments"
            )),
            _ => None,
        };
        let mut err = match self {
            ConvertError::BadResponse(_) => {
                OpenAiError::new(502, "server_error", msg).with_code("bad_upstream_response")
            }
            _ => OpenAiError::new(400, "invalid_request_error", msg),
        };
        err.param = param;
        err
    }
}

/// The upstream path; the model goes in the URL, never in the body.
pub fn request_path(upstream_model: &str, stream: bool) -> String {
    let model = upstream_model.trim_start_matches("models/");
    if stream {
        format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("/v1beta/models/{model}:generateContent")
    }
}

/// The JSON body for `generateContent` / `streamGenerateContent`.
pub fn build_request(req: &ChatRequest, opts: &GeminiOptions) -> Result<Vec<u8>, ConvertError> {
    let mut out = Vec::with_capacity(1024);
    write_request(req, opts, &mut out)?;
    Ok(out)
}

/// Appends the body to `out` (the worker's output buffer on the gateway's
/// path); on `Err`, what was appended is partial and to be discarded.
pub fn write_request(
    req: &ChatRequest,
    opts: &GeminiOptions,
    out: &mut Vec<u8>,
) -> Result<(), ConvertError> {
    request::write_open(req, opts, out)?;
    let config = generation_config(req, opts);
    if !config.is_empty() {
        out.extend_from_slice(b",\"generationConfig\":");
        write_generation_config(&config, out);
    }
    out.push(b'}');
    Ok(())
}

/// The `countTokens` body: `{"generateContentRequest":{"model":"models/…",
/// "contents":…,"systemInstruction":…,"tools":…}}` (ai.google.dev/api/tokens).
/// The generation config is left out: it does not change the prompt's count.
pub fn write_count_request(
    req: &ChatRequest,
    opts: &GeminiOptions,
    model: &str,
    out: &mut Vec<u8>,
) -> Result<(), ConvertError> {
    out.extend_from_slice(b"{\"generateContentRequest\":{\"model\":");
    let resource = if model.starts_with("models/") {
        model.to_owned()
    } else {
        format!("models/{model}")
    };
    write_str(out, &resource);
    // The writer opens its own object; its `{` becomes the comma after `model`.
    let open = out.len();
    request::write_open(req, opts, out)?;
    out[open] = b',';
    out.extend_from_slice(b"}}");
    Ok(())
}

/// Writes `"name":` into an object being written, after a comma unless it
/// is the first member.
struct Members {
    first: bool,
}

impl Members {
    fn key(&mut self, out: &mut Vec<u8>, name: &str) {
        if !std::mem::take(&mut self.first) {
            out.push(b',');
        }
        write_str(out, name);
        out.push(b':');
    }
}

fn write_generation_config(c: &GenerationConfig<'_>, out: &mut Vec<u8>) {
    let mut m = Members { first: true };
    out.push(b'{');
    if !c.stop_sequences.is_empty() {
        m.key(out, "stopSequences");
        write_list(out, c.stop_sequences, |out, s| write_str(out, s));
    }
    if let Some(mime) = c.response_mime_type {
        m.key(out, "responseMimeType");
        write_str(out, mime);
    }
    if let Some(schema) = &c.response_schema {
        m.key(out, "responseSchema");
        write_value(out, schema);
    }
    if let Some(schema) = c.response_json_schema {
        m.key(out, "responseJsonSchema");
        out.extend_from_slice(schema.as_str().as_bytes());
    }
    let counts = [
        ("candidateCount", c.candidate_count),
        ("maxOutputTokens", c.max_output_tokens),
    ];
    for (name, n) in counts {
        if let Some(n) = n {
            m.key(out, name);
            write_u64(out, u64::from(n));
        }
    }
    for (name, f) in [("temperature", c.temperature), ("topP", c.top_p)] {
        if let Some(f) = f {
            m.key(out, name);
            write_f64(out, f);
        }
    }
    if let Some(seed) = c.seed {
        m.key(out, "seed");
        write_i64(out, seed);
    }
    let penalties = [
        ("presencePenalty", c.presence_penalty),
        ("frequencyPenalty", c.frequency_penalty),
    ];
    for (name, f) in penalties {
        if let Some(f) = f {
            m.key(out, name);
            write_f64(out, f);
        }
    }
    if let Some(t) = &c.thinking_config {
        m.key(out, "thinkingConfig");
        let mut inner = Members { first: true };
        out.push(b'{');
        if let Some(include) = t.include_thoughts {
            inner.key(out, "includeThoughts");
            out.extend_from_slice(if include { b"true" } else { b"false" });
        }
        if let Some(budget) = t.thinking_budget {
            inner.key(out, "thinkingBudget");
            write_i64(out, budget);
        }
        if let Some(level) = t.thinking_level {
            inner.key(out, "thinkingLevel");
            write_str(out, level);
        }
        out.push(b'}');
    }
    out.push(b'}');
}

fn generation_config<'a>(req: &'a ChatRequest, opts: &GeminiOptions) -> GenerationConfig<'a> {
    let s = &req.sampling;
    let mut config = GenerationConfig {
        stop_sequences: &s.stop,
        candidate_count: s.n,
        max_output_tokens: s.max_output_tokens,
        temperature: finite(s.temperature),
        top_p: finite(s.top_p),
        seed: s.seed,
        presence_penalty: finite(s.presence_penalty),
        frequency_penalty: finite(s.frequency_penalty),
        thinking_config: req
            .reasoning
            .as_ref()
            .and_then(|r| thinking_config(r, opts.thinking_levels)),
        ..GenerationConfig::default()
    };
    match &req.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => config.response_mime_type = Some("application/json"),
        Some(ResponseFormat::JsonSchema(f)) => {
            config.response_mime_type = Some("application/json");
            match opts.schema_mode {
                SchemaMode::JsonSchema => config.response_json_schema = Some(&f.schema),
                SchemaMode::OpenApiSubset => {
                    config.response_schema = Some(schema::to_openapi(&f.schema.to_value()))
                }
            }
        }
    }
    config
}

/// JSON cannot carry NaN or infinities; such a knob is left to the default.
fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|f| f.is_finite())
}

/// An explicit budget wins; otherwise the effort picks a budget, or on
/// Gemini 3 a level: only `low` and `high` are accepted by every Gemini 3
/// model (Pro rejects `minimal`), and none of them can switch thinking off.
/// Thought summaries are requested whenever thinking is on, so clients that
/// read `reasoning_content` see them; `none` on a budget model sets the
/// budget to 0 (thinking off where the model allows it).
fn thinking_config(r: &ReasoningConfig, levels: bool) -> Option<ThinkingConfig> {
    if let (None, Some(effort), true) = (r.budget_tokens, r.effort, levels) {
        let level = match effort {
            ReasoningEffort::None | ReasoningEffort::Minimal | ReasoningEffort::Low => "low",
            ReasoningEffort::Medium | ReasoningEffort::High | ReasoningEffort::XHigh => "high",
        };
        return Some(ThinkingConfig {
            include_thoughts: (effort != ReasoningEffort::None).then_some(true),
            thinking_budget: None,
            thinking_level: Some(level),
        });
    }
    let budget: i64 = match (r.budget_tokens, r.effort) {
        (Some(b), _) => i64::from(b),
        (None, Some(effort)) => match effort {
            ReasoningEffort::None => 0,
            ReasoningEffort::Minimal => 512,
            ReasoningEffort::Low => 1024,
            ReasoningEffort::Medium => 8192,
            ReasoningEffort::High => 24576,
            ReasoningEffort::XHigh => 32768,
        },
        (None, None) => return None,
    };
    Some(ThinkingConfig {
        include_thoughts: (budget != 0).then_some(true),
        thinking_budget: Some(budget),
        thinking_level: None,
    })
}

/// Translates a whole (non-streamed) `generateContent` answer.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, ConvertError> {
    let resp = read::read_response(body).map_err(ConvertError::BadResponse)?;
    response::to_chat_response(resp)
}

/// Maps a Gemini error (HTTP status + `{"error":{code,message,status}}`) to
/// the OpenAI shape with the same status; Gemini's `status` string (e.g.
/// `RESOURCE_EXHAUSTED`) becomes the `code`. Non-error statuses and
/// unreadable bodies become a 502.
pub fn map_error(status: u16, body: &[u8]) -> OpenAiError {
    let parsed = read::read_error(body);
    let status = if (400..=599).contains(&status) {
        status
    } else {
        502
    };
    let (message, code) = match parsed {
        Some(e) => (
            e.message
                .unwrap_or_else(|| format!("Gemini returned HTTP {status}")),
            e.status,
        ),
        None => (
            format!("Gemini returned HTTP {status} with an unreadable error body"),
            None,
        ),
    };
    // The caller hides the keys it sent; anything else key-shaped goes here.
    let message = crate::api::scrub::scrub_text(&message, &[]).into_owned();
    let mut err = OpenAiError::new(status, error_type(status), message);
    err.code = code;
    err
}

/// Seconds to wait before retrying, from a 429's `google.rpc.RetryInfo`
/// detail (`"retryDelay": "34.4s"`, rounded up), for the `Retry-After` header.
pub fn retry_after_secs(body: &[u8]) -> Option<u64> {
    let mut buf = body.to_vec();
    let v = simd_json::to_owned_value(&mut buf).ok()?;
    let details = v.get("error")?.get("details")?.as_array()?;
    let delay = details.iter().find_map(|d| d.get_str("retryDelay"))?;
    let secs: f64 = delay.strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| secs.ceil() as u64)
}

/// OpenAI's error `type` for a status.
pub fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    }
}

/// A JSON value as compact text (tool-call arguments).
pub(super) fn json_text(v: &OwnedValue) -> String {
    simd_json::to_string(v).unwrap_or_else(|_| "{}".to_owned())
}
