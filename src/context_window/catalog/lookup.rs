//! How an upstream model name, as deployments write it, finds its catalog
//! entry: the exact name, then the same name with what varies between
//! deployments of one model taken off — a host's path (`openai/`,
//! `models/`, `meta-llama/`), a Bedrock region and vendor (`us.anthropic.`),
//! a version (`@20241022`, `-v2:0`, `-001`), a date (`-2024-08-06`,
//! `-20250929`, `-preview-05-20`) or `-latest`.

/// The keys to try, most specific first: the name lowercased, then each
/// step of the normalisation. Every key is lowercase; none repeats.
pub fn lookup_keys(model: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::with_capacity(4);
    let mut push = |k: &str| {
        if !k.is_empty() && !keys.iter().any(|have| have == k) {
            keys.push(k.to_string());
        }
    };
    let lower = model.trim().to_ascii_lowercase();
    push(&lower);
    let mut name = lower.rsplit('/').next().unwrap_or(&lower);
    name = strip_bedrock_prefix(name);
    push(name);
    while let Some(shorter) = strip_one_suffix(name) {
        name = shorter;
        push(name);
    }
    keys
}

/// `us.anthropic.claude-…` → `claude-…`: Bedrock's cross-region profile
/// and vendor prefixes.
fn strip_bedrock_prefix(name: &str) -> &str {
    let mut rest = name;
    for region in ["us.", "eu.", "apac.", "global.", "jp.", "au.", "us-gov."] {
        if let Some(r) = rest.strip_prefix(region) {
            rest = r;
            break;
        }
    }
    for vendor in [
        "anthropic.",
        "meta.",
        "mistral.",
        "deepseek.",
        "qwen.",
        "xai.",
    ] {
        if let Some(r) = rest.strip_prefix(vendor) {
            return r;
        }
    }
    rest
}

/// One variable suffix off the end, or `None` when nothing is left to take.
fn strip_one_suffix(name: &str) -> Option<&str> {
    if let Some(at) = name.find('@') {
        return Some(&name[..at]);
    }
    if let Some(rest) = name.strip_suffix("-latest") {
        return Some(rest);
    }
    let (head, tail) = name.rsplit_once('-')?;
    // Bedrock's `-v1:0`.
    if let Some(v) = tail.strip_prefix('v')
        && let Some((major, minor)) = v.split_once(':')
        && all_digits(major)
        && all_digits(minor)
    {
        return Some(head);
    }
    // `-20250929`, and Gemini's `-001`.
    if all_digits(tail) && (tail.len() == 8 || tail.len() == 3) {
        return Some(head);
    }
    // `-2024-08-06`, `-preview-05-20`, `-preview`.
    if let Some(rest) = strip_dashed_date(name) {
        return Some(rest);
    }
    if head.len() > 1 && matches!(tail, "preview" | "exp") {
        return Some(head);
    }
    None
}

/// `…-YYYY-MM-DD` or `…-MM-DD` after `-preview`.
fn strip_dashed_date(name: &str) -> Option<&str> {
    let mut parts = name.rsplitn(4, '-');
    let day = parts.next()?;
    let month = parts.next()?;
    if !(day.len() == 2 && month.len() == 2 && all_digits(day) && all_digits(month)) {
        return None;
    }
    let third = parts.next()?;
    let rest = parts.next()?;
    if third.len() == 4 && all_digits(third) {
        return Some(rest);
    }
    if third == "preview" {
        return Some(rest);
    }
    None
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(name: &str) -> Vec<String> {
        lookup_keys(name)
    }

    #[test]
    fn dated_snapshots_fall_back_to_the_family() {
        assert_eq!(keys("gpt-4o-2024-08-06"), ["gpt-4o-2024-08-06", "gpt-4o"]);
        assert_eq!(
            keys("claude-sonnet-4-5-20250929"),
            ["claude-sonnet-4-5-20250929", "claude-sonnet-4-5"]
        );
        assert_eq!(
            keys("gemini-2.5-flash-preview-05-20"),
            ["gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"]
        );
        assert_eq!(
            keys("gemini-2.0-flash-001"),
            ["gemini-2.0-flash-001", "gemini-2.0-flash"]
        );
    }

    #[test]
    fn provider_prefixes_and_versions_come_off() {
        assert_eq!(keys("openai/gpt-4o"), ["openai/gpt-4o", "gpt-4o"]);
        assert_eq!(
            keys("models/gemini-1.5-pro-latest"),
            [
                "models/gemini-1.5-pro-latest",
                "gemini-1.5-pro-latest",
                "gemini-1.5-pro"
            ]
        );
        assert_eq!(
            keys("meta-llama/Llama-3.3-70B-Instruct"),
            [
                "meta-llama/llama-3.3-70b-instruct",
                "llama-3.3-70b-instruct"
            ]
        );
        assert_eq!(
            keys("us.anthropic.claude-3-5-sonnet-20241022-v2:0"),
            [
                "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
                "claude-3-5-sonnet-20241022-v2:0",
                "claude-3-5-sonnet-20241022",
                "claude-3-5-sonnet"
            ]
        );
        assert_eq!(
            keys("claude-3-5-sonnet-v2@20241022"),
            ["claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet-v2"]
        );
    }

    #[test]
    fn names_that_only_look_versioned_are_kept() {
        // A size, an old four-digit snapshot and a bare name stay as they are.
        assert_eq!(keys("llama-3.1-405b"), ["llama-3.1-405b"]);
        assert_eq!(keys("gpt-4-0613"), ["gpt-4-0613"]);
        assert_eq!(keys("o3"), ["o3"]);
        assert_eq!(keys("-latest"), ["-latest"]);
        assert!(keys("").is_empty());
    }
}
