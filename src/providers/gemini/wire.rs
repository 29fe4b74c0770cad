//! Gemini `generateContent` / `streamGenerateContent` wire types: the
//! `GenerateContentResponse` we receive (whole or per SSE chunk), its parts,
//! the generation config we send, and the `{"error":{…}}` body. The v1beta
//! REST API's camelCase member names live where the JSON is read (`read`)
//! and written (`request`, `convert`); these are plain Rust types.

use simd_json::OwnedValue;

use crate::canonical::RawJson;

/// Roles Gemini accepts inside `contents`.
pub const ROLE_USER: &str = "user";
pub const ROLE_MODEL: &str = "model";

/// One turn: a role and its parts. `role` is absent on `systemInstruction`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Content {
    pub role: Option<String>,
    pub parts: Vec<Part>,
}

/// A part is a union in the API; every member is optional here so one type
/// serves requests, responses and stream chunks. Unknown members
/// (`executableCode`, `videoMetadata`, …) are ignored when reading.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Part {
    pub text: Option<String>,
    /// `true` on thought-summary parts (only sent when `includeThoughts`).
    pub thought: Option<bool>,
    /// Opaque base64 blob that must be echoed back on the same part next turn.
    pub thought_signature: Option<String>,
    pub inline_data: Option<Blob>,
    pub file_data: Option<FileData>,
    pub function_call: Option<FunctionCall>,
    pub function_response: Option<FunctionResponse>,
}

/// Inline bytes, base64 in `data`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Blob {
    pub mime_type: String,
    pub data: String,
}

/// A file by URI (`gs://`, Files API, or http(s) on models that fetch URLs).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FileData {
    pub mime_type: Option<String>,
    pub file_uri: String,
}

/// A predicted call. Whole calls carry `name` + `args`; streamed calls
/// (`streamFunctionCallArguments`) open with `name` + `willContinue: true`,
/// then send `partialArgs`, and end with a part whose `willContinue` is unset.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FunctionCall {
    /// Only newer models send an id; older ones never do.
    pub id: Option<String>,
    pub name: Option<String>,
    pub args: Option<OwnedValue>,
    pub partial_args: Option<Vec<PartialArg>>,
    pub will_continue: Option<bool>,
}

/// One streamed leaf of a call's arguments, addressed by an RFC 9535 JSON path
/// (`$.recipe.ingredients[0].name`). A string leaf may arrive in several
/// pieces: each piece but the last has `willContinue: true`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PartialArg {
    pub json_path: String,
    pub string_value: Option<String>,
    /// Kept as a JSON value so integers stay integers (`50`, not `50.0`).
    pub number_value: Option<OwnedValue>,
    pub bool_value: Option<bool>,
    /// `"NULL_VALUE"` when present.
    pub null_value: Option<OwnedValue>,
    pub will_continue: Option<bool>,
}

/// The result of a call, sent back in a `user` turn. `response` must be an object.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FunctionResponse {
    pub id: Option<String>,
    pub name: String,
    pub response: OwnedValue,
}

/// `generationConfig`, written field by field in this order by `convert`
/// (camelCase names, absent fields left out).
#[derive(Debug, Default)]
pub struct GenerationConfig<'a> {
    pub stop_sequences: &'a [String],
    pub response_mime_type: Option<&'static str>,
    pub response_schema: Option<OwnedValue>,
    pub response_json_schema: Option<&'a RawJson>,
    pub candidate_count: Option<u32>,
    pub max_output_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<f64>,
    pub frequency_penalty: Option<f64>,
    pub thinking_config: Option<ThinkingConfig>,
}

impl GenerationConfig<'_> {
    pub fn is_empty(&self) -> bool {
        self.stop_sequences.is_empty()
            && self.response_mime_type.is_none()
            && self.candidate_count.is_none()
            && self.max_output_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.seed.is_none()
            && self.presence_penalty.is_none()
            && self.frequency_penalty.is_none()
            && self.thinking_config.is_none()
    }
}

/// `thinkingBudget`: 0 disables thinking, -1 lets the model decide.
/// `thinkingLevel` (Gemini 3: `low`, `high`, …) excludes a budget.
#[derive(Debug, Default)]
pub struct ThinkingConfig {
    pub include_thoughts: Option<bool>,
    pub thinking_budget: Option<i64>,
    pub thinking_level: Option<&'static str>,
}

/// A whole response, and also each `data:` chunk of a stream.
#[derive(Debug, Default)]
pub struct GenerateContentResponse {
    pub candidates: Vec<Candidate>,
    pub prompt_feedback: Option<PromptFeedback>,
    pub usage_metadata: Option<UsageMetadata>,
    pub model_version: Option<String>,
    pub response_id: Option<String>,
    /// Set only when a stream carries an error object instead of a chunk.
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Default)]
pub struct Candidate {
    pub content: Option<Content>,
    /// `STOP`, `MAX_TOKENS`, `SAFETY`, `RECITATION`, `BLOCKLIST`, … (absent
    /// on all but the last chunk of a stream).
    pub finish_reason: Option<String>,
    pub finish_message: Option<String>,
    pub index: Option<u32>,
}

/// Set when the prompt itself was blocked; then there are no candidates.
#[derive(Debug, Default)]
pub struct PromptFeedback {
    pub block_reason: Option<String>,
    pub block_reason_message: Option<String>,
}

/// Token counts. `candidatesTokenCount` excludes thoughts; `totalTokenCount`
/// includes prompt, candidates, thoughts and tool-use prompt tokens.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct UsageMetadata {
    pub prompt_token_count: u64,
    pub candidates_token_count: u64,
    pub total_token_count: u64,
    pub cached_content_token_count: u64,
    pub thoughts_token_count: u64,
    pub tool_use_prompt_token_count: u64,
}

/// The `error` of `{"error": {"code": 429, "message": "…", "status": "RESOURCE_EXHAUSTED"}}`.
#[derive(Debug, Default)]
pub struct ErrorBody {
    pub code: Option<u16>,
    pub message: Option<String>,
    pub status: Option<String>,
}
