//! The providers' count endpoints: Anthropic's `/messages/count_tokens`
//! and Gemini's `/models/{model}:countTokens`, each answering the echo
//! model's prompt estimate plus a fixed offset (1000 and 2000), so a test
//! can tell the provider's count from the gateway's own. A fault prefix's
//! status is honoured, so the gateway's fallback can be tested too.

use super::answer::fault_body;
use super::faults::FaultPlan;
use super::formats::{self, Format};
use crate::canonical::json_scan::find_top_level_value;

/// The count endpoint a path names, if any (as the format of its errors).
pub fn count_format(method: &str, path: &str) -> Option<Format> {
    if method != "POST" {
        None
    } else if path.ends_with("/messages/count_tokens") {
        Some(Format::Anthropic)
    } else if path.contains("/models/") && path.ends_with(":countTokens") {
        Some(Format::Gemini { stream: false })
    } else {
        None
    }
}

/// Status and body for a count request; a fault spec that fails it wins.
pub fn answer(format: Format, spec: Option<&str>, body: &[u8], path: &str) -> (u16, Vec<u8>) {
    let failing = spec
        .and_then(|s| FaultPlan::parse(s).ok())
        .and_then(|p| p.failing_status());
    if let Some(status) = failing {
        let message = format!("Injected fault: status {status}.");
        return (status, fault_body(format, status, &message));
    }
    let body = match format {
        Format::Gemini { .. } => {
            let n = 2000 + gemini_prompt_estimate(body, path);
            format!("{{\"totalTokens\":{n}}}")
        }
        _ => {
            let plan = formats::plan_for(Format::Anthropic, body, "/v1/messages");
            let n = plan.map_or(1000, |p| 1000 + p.prompt_tokens);
            format!("{{\"input_tokens\":{n}}}")
        }
    };
    (200, body.into_bytes())
}

/// The echo model's estimate of the `generateContentRequest` (or bare
/// `contents`) prompt: its text over four, at least one.
fn gemini_prompt_estimate(body: &[u8], path: &str) -> u64 {
    let inner =
        find_top_level_value(body, b"generateContentRequest").map_or(body, |span| &body[span]);
    formats::plan_for(Format::Gemini { stream: false }, inner, path).map_or(1, |p| p.prompt_tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GEMINI: &str = "/v1beta/models/gemini-2.5-flash:countTokens";

    #[test]
    fn gemini_count_is_2000_plus_the_prompt_estimate() {
        let body = br#"{"generateContentRequest":{"model":"models/g","contents":[{"role":"user","parts":[{"text":"abcdefgh"}]}]}}"#;
        let format = count_format("POST", GEMINI).expect("a count path");
        assert_eq!(
            answer(format, None, body, GEMINI),
            (200, b"{\"totalTokens\":2002}".to_vec())
        );
    }

    #[test]
    fn a_fault_status_fails_the_count() {
        let format = count_format("POST", GEMINI).expect("a count path");
        let (status, body) = answer(format, Some("status=500"), b"{}", GEMINI);
        assert_eq!(status, 500);
        assert!(String::from_utf8_lossy(&body).contains("INTERNAL"));
    }

    #[test]
    fn only_posts_to_count_paths_are_counts() {
        assert_eq!(count_format("GET", GEMINI), None);
        assert_eq!(
            count_format("POST", "/v1beta/models/g:generateContent"),
            None
        );
        assert_eq!(
            count_format("POST", "/v1/messages/count_tokens"),
            Some(Format::Anthropic)
        );
    }
}
