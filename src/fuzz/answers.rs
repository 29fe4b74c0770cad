//! Target `answers`: whole (non-stream) upstream answers, read by the
//! Anthropic and Gemini adapters and written back as OpenAI bodies, and
//! upstream error bodies mapped to client errors. Oracles: what is written
//! is a JSON object; a mapped error keeps an error status.

use std::path::Path;

use simd_json::prelude::*;

use super::json_tree::mutate_json;
use super::mutate::Rng;
use super::{Options, Reached, Target, read_seeds};
use crate::api::openai::write_openai_response;
use crate::canonical::ChatResponse;
use crate::providers::{anthropic, gemini};

pub struct Answers;

const STAGES: &[&str] = &[
    "valid JSON",
    "read as an Anthropic answer",
    "read as a Gemini answer",
    "OpenAI body written",
];

/// Statuses an upstream error body arrives with.
const STATUSES: &[u16] = &[400, 401, 403, 404, 413, 429, 500, 502, 503, 504, 529];

impl Target for Answers {
    fn name(&self) -> &'static str {
        "answers"
    }

    fn stages(&self) -> &'static [&'static str] {
        STAGES
    }

    fn seeds(&self, root: &Path) -> Vec<Vec<u8>> {
        let fixtures = root.join("tests").join("fixtures");
        let mut seeds = Vec::new();
        for provider in ["anthropic", "gemini"] {
            let dir = fixtures.join(provider);
            let openai = read_seeds(&dir, &[".openai.json"]);
            seeds.extend(
                read_seeds(&dir, &[".json"])
                    .into_iter()
                    .filter(|s| !openai.contains(s)),
            );
        }
        // Issue 10 item 3: an answer cut mid-body.
        let cut: Vec<Vec<u8>> = seeds.iter().map(|s| s[..s.len() / 2].to_vec()).collect();
        seeds.extend(cut);
        seeds
    }

    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
        mutate_json(rng, input, pool);
    }

    fn run(&self, input: &[u8], _opts: &Options, reached: &mut Reached) -> Result<(), String> {
        if simd_json::to_owned_value(&mut input.to_vec()).is_ok() {
            reached.hit(0);
        }
        if let Ok(answer) = anthropic::convert::parse_response(input) {
            reached.hit(1);
            write_answer("Anthropic", &answer, reached)?;
        }
        if let Ok(answer) = gemini::convert::parse_response(input) {
            reached.hit(2);
            write_answer("Gemini", &answer, reached)?;
        }
        let status = STATUSES[input.len() % STATUSES.len()];
        for (provider, err) in [
            ("Anthropic", anthropic::convert::map_error(status, input)),
            ("Gemini", gemini::convert::map_error(status, input)),
        ] {
            if !(400..600).contains(&err.status) {
                return Err(format!(
                    "{provider} error {status} mapped to {}",
                    err.status
                ));
            }
            let mut body = Vec::new();
            err.write_body(&mut body);
            reparse(provider, "error", body)?;
        }
        Ok(())
    }
}

fn write_answer(
    provider: &str,
    answer: &ChatResponse,
    reached: &mut Reached,
) -> Result<(), String> {
    let mut out = Vec::new();
    write_openai_response(answer, &mut out);
    reparse(provider, "answer", out)?;
    reached.hit(3);
    Ok(())
}

fn reparse(provider: &str, what: &str, mut body: Vec<u8>) -> Result<(), String> {
    let text: String = String::from_utf8_lossy(&body).chars().take(200).collect();
    match simd_json::to_owned_value(&mut body) {
        Ok(v) if v.as_object().is_some() => Ok(()),
        _ => Err(format!("{provider} {what} written as invalid JSON: {text}")),
    }
}
