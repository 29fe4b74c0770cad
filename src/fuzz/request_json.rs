//! Target `json`: the OpenAI chat body as the gateway reads it (the envelope
//! `inspect`, the `model` splice, the canonical parse) and writes it on for
//! Anthropic and Gemini. Oracles: refusals are 4xx, the envelope and the
//! canonical parse agree, every body written is JSON.

use std::path::Path;

use simd_json::prelude::*;

use super::json_tree::mutate_json;
use super::mutate::{Rng, hash};
use super::{Options, Reached, Target, read_seeds};
use crate::api::chat::{inspect, rewrite_model};
use crate::api::openai::parse_openai_request;
use crate::canonical::OpenAiError;
use crate::providers::anthropic::{self, AnthropicOptions};
use crate::providers::gemini::{self, GeminiOptions};

pub struct RequestJson;

const STAGES: &[&str] = &[
    "valid JSON",
    "envelope accepted",
    "canonical parsed",
    "Anthropic body written",
    "Gemini body written",
    "written bodies re-parse",
];

const GEMINI_MODELS: &[&str] = &["gemini-2.5-flash", "gemini-3-pro-preview", "gemini-1.5-pro"];

impl Target for RequestJson {
    fn name(&self) -> &'static str {
        "json"
    }

    fn stages(&self) -> &'static [&'static str] {
        STAGES
    }

    fn seeds(&self, root: &Path) -> Vec<Vec<u8>> {
        let fixtures = root.join("tests").join("fixtures");
        let mut seeds = read_seeds(
            &fixtures.join("anthropic").join("requests"),
            &[".openai.json"],
        );
        seeds.extend(read_seeds(
            &fixtures.join("gemini").join("requests"),
            &[".openai.json"],
        ));
        seeds.extend(
            [
                &br#"{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}"#[..],
                br#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}],"max_tokens":16,"temperature":0.5}"#,
                br#"{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"r"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"integer"}}}}}],"tool_choice":"auto"}"#,
                br#"{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"}}},"reasoning_effort":"high"}"#,
            ]
            .iter()
            .map(|s| s.to_vec()),
        );
        seeds
    }

    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
        mutate_json(rng, input, pool);
    }

    fn run(&self, input: &[u8], _opts: &Options, reached: &mut Reached) -> Result<(), String> {
        if simd_json::to_owned_value(&mut input.to_vec()).is_ok() {
            reached.hit(0);
        }
        let env = match inspect(input) {
            Ok(env) => env,
            Err(e) => return refusal("inspect", &e),
        };
        reached.hit(1);
        if let Some(body) = rewrite_model(input, &env, "fuzz/\"model\"") {
            let back = inspect(&body)
                .map_err(|e| format!("model splice broke the body: {}", e.message))?;
            if back.model != "fuzz/\"model\"" || back.stream != env.stream {
                return Err(format!(
                    "model splice changed more than the model: {back:?}"
                ));
            }
        }
        let req = match parse_openai_request(input) {
            Ok(req) => req,
            Err(e) => return refusal("canonical parse", &e.to_openai()),
        };
        reached.hit(2);
        if req.model != env.model || req.stream != env.stream {
            return Err(format!(
                "envelope and canonical parse disagree: {:?}/{} vs {:?}/{}",
                env.model, env.stream, req.model, req.stream
            ));
        }
        let pick = hash(input) as usize;
        let opts = AnthropicOptions {
            default_max_tokens: 4096,
            native_structured_output: pick.is_multiple_of(2),
        };
        let mut parsed = 0;
        match anthropic::convert::build_request(&req, "claude-fuzz", &opts) {
            Ok(body) => {
                reached.hit(3);
                reparse("Anthropic", body)?;
                parsed += 1;
            }
            Err(e) => refusal("Anthropic writer", &e.to_openai())?,
        }
        let opts = GeminiOptions::for_model(GEMINI_MODELS[pick % GEMINI_MODELS.len()]);
        match gemini::convert::build_request(&req, &opts) {
            Ok(body) => {
                reached.hit(4);
                reparse("Gemini", body)?;
                parsed += 1;
            }
            Err(e) => refusal("Gemini writer", &e.to_openai())?,
        }
        if parsed > 0 {
            reached.hit(5);
        }
        Ok(())
    }
}

/// A refused body is fine, as long as it is refused as the client's fault.
fn refusal(stage: &str, e: &OpenAiError) -> Result<(), String> {
    if (400..500).contains(&e.status) {
        Ok(())
    } else {
        Err(format!("{stage} refused with {}: {}", e.status, e.message))
    }
}

fn reparse(provider: &str, mut body: Vec<u8>) -> Result<(), String> {
    let text = String::from_utf8_lossy(&body)
        .chars()
        .take(200)
        .collect::<String>();
    match simd_json::to_owned_value(&mut body) {
        Ok(v) if v.as_object().is_some() => Ok(()),
        Ok(_) => Err(format!("{provider} body is not an object: {text}")),
        Err(e) => Err(format!("{provider} body is not JSON ({e}): {text}")),
    }
}
