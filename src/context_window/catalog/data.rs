//! Reading catalog figures: the built-in file's entries, and the one
//! builder that turns figures (built-in, merged or config-only) into a
//! checked [`ModelSpec`], naming the field of every problem.

use serde::Deserialize;

use super::{DEFAULT_OUTPUT_CAP, ModelSpec, Price, PriceTier, SpecOrigin};
use crate::config::{CatalogOverride, PriceFields, TierFields};
use crate::context_window::TokenizerFamily;

/// One built-in entry: its checked figures, the names it answers to, and
/// the raw figures a config table merges into.
#[derive(Debug)]
pub struct Entry {
    pub spec: ModelSpec,
    pub aliases: Vec<String>,
    pub fields: CatalogOverride,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    model: Vec<RawEntry>,
}

/// The file's shape: the same figures as a config table, with the ones a
/// built-in entry must carry made required.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    provider: String,
    tokenizer: String,
    context_window: u32,
    #[serde(default)]
    max_input_tokens: Option<u32>,
    max_output_tokens: u32,
    #[serde(default)]
    default_output_tokens: Option<u32>,
    #[serde(default)]
    price: Option<PriceFields>,
    #[serde(default)]
    tiers: Vec<TierFields>,
    source: String,
    as_of: String,
}

pub(super) fn parse_entries(text: &str) -> Result<Vec<Entry>, String> {
    let file: CatalogFile = toml::from_str(text).map_err(|e| e.to_string())?;
    file.model
        .into_iter()
        .map(|raw| {
            let fields = CatalogOverride {
                like: None,
                context_window: Some(raw.context_window),
                max_input_tokens: raw.max_input_tokens,
                max_output_tokens: Some(raw.max_output_tokens),
                default_output_tokens: raw.default_output_tokens,
                tokenizer: Some(raw.tokenizer),
                price: raw.price,
                tiers: Some(raw.tiers),
                source: Some(raw.source),
                as_of: Some(raw.as_of),
            };
            let spec = build_spec(&raw.id, &raw.provider, &fields, SpecOrigin::BuiltIn).map_err(
                |errs| {
                    let (field, why) = &errs[0];
                    format!("model `{}`: {field}: {why}", raw.id)
                },
            )?;
            Ok(Entry {
                spec,
                aliases: raw.aliases,
                fields,
            })
        })
        .collect()
}

/// Checks figures and fills the defaults: max output = the window, default
/// output = min(max output, 4096), tokenizer `unknown`, reasoning = output,
/// a tier's missing prices = the base ones. Errors are (field, message).
pub(super) fn build_spec(
    id: &str,
    provider: &str,
    f: &CatalogOverride,
    origin: SpecOrigin,
) -> Result<ModelSpec, Vec<(String, String)>> {
    let mut errs: Vec<(String, String)> = Vec::new();
    let mut err = |field: &str, why: String| errs.push((field.to_string(), why));
    let window = match f.context_window {
        Some(0) => {
            err("context_window", "must be greater than 0".into());
            0
        }
        Some(w) => w,
        None => {
            err(
                "context_window",
                format!("required: the built-in catalog has no model `{id}`"),
            );
            0
        }
    };
    // Without a window the limits below have nothing to be checked against.
    let limits_checked = window > 0;
    let max_output = f.max_output_tokens.unwrap_or(window);
    if limits_checked && (max_output == 0 || max_output > window) {
        err(
            "max_output_tokens",
            format!("must be between 1 and context_window ({window})"),
        );
    }
    if let Some(cap) = f.max_input_tokens
        && limits_checked
        && (cap == 0 || cap > window)
    {
        err(
            "max_input_tokens",
            format!("must be between 1 and context_window ({window})"),
        );
    }
    let default_output = f
        .default_output_tokens
        .unwrap_or(max_output.min(DEFAULT_OUTPUT_CAP));
    if limits_checked && (default_output == 0 || default_output > max_output) {
        err(
            "default_output_tokens",
            format!("must be between 1 and max_output_tokens ({max_output})"),
        );
    }
    let tokenizer = match f.tokenizer.as_deref() {
        None => TokenizerFamily::Unknown,
        Some(name) => tokenizer_from_name(name).unwrap_or_else(|| {
            err(
                "tokenizer",
                format!(
                    "unknown tokenizer `{name}` (one of {})",
                    TOKENIZER_NAMES.join(", ")
                ),
            );
            TokenizerFamily::Unknown
        }),
    };
    let base_fields = f.price.unwrap_or_default();
    check_prices(&base_fields, "price", &mut err);
    let price = price_from(&base_fields, None);
    let mut tiers = Vec::new();
    let mut last = 0;
    for (i, t) in f.tiers.iter().flatten().enumerate() {
        if t.above_prompt_tokens <= last {
            err(
                &format!("tiers[{i}].above_prompt_tokens"),
                "must be above 0 and above the tier before it".into(),
            );
        }
        last = t.above_prompt_tokens;
        check_prices(&t.prices(), &format!("tiers[{i}]"), &mut err);
        tiers.push(PriceTier {
            above_prompt_tokens: t.above_prompt_tokens,
            price: price_from(&t.prices(), Some(&price)),
        });
    }
    let source = f.source.clone().unwrap_or_else(|| "config".into());
    if source.trim().is_empty() {
        err("source", "must not be empty".into());
    }
    if let Some(date) = &f.as_of
        && parse_date(date).is_none()
    {
        err("as_of", format!("`{date}` is not a date like 2025-09-29"));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(ModelSpec {
        id: id.to_string(),
        provider: provider.to_string(),
        context_window: window,
        max_input_tokens: f.max_input_tokens,
        max_output_tokens: max_output,
        default_output_tokens: default_output,
        tokenizer,
        price,
        tiers,
        source,
        as_of: f.as_of.clone(),
        origin,
    })
}

fn check_prices(p: &PriceFields, at: &str, err: &mut impl FnMut(&str, String)) {
    for (name, value) in [
        ("input", p.input),
        ("cached_input", p.cached_input),
        ("cache_write_5m", p.cache_write_5m),
        ("cache_write_1h", p.cache_write_1h),
        ("output", p.output),
        ("reasoning", p.reasoning),
    ] {
        if let Some(v) = value
            && !(v.is_finite() && v >= 0.0)
        {
            err(
                &format!("{at}.{name}"),
                "must be a price of 0 or more (USD per 1M tokens)".into(),
            );
        }
    }
}

/// Prices with reasoning defaulting to output, and (for a tier) every
/// missing field taken from the base prices.
fn price_from(p: &PriceFields, base: Option<&Price>) -> Price {
    let b = base.copied().unwrap_or_default();
    let output = p.output.or(b.output);
    Price {
        input: p.input.or(b.input),
        cached_input: p.cached_input.or(b.cached_input),
        cache_write_5m: p.cache_write_5m.or(b.cache_write_5m),
        cache_write_1h: p.cache_write_1h.or(b.cache_write_1h),
        output,
        reasoning: p
            .reasoning
            .or(if p.output.is_some() {
                None
            } else {
                b.reasoning
            })
            .or(output),
    }
}

const TOKENIZER_NAMES: [&str; 10] = [
    "o200k",
    "cl100k",
    "claude",
    "gemini",
    "mistral_tekken",
    "qwen",
    "llama3",
    "deepseek",
    "grok",
    "unknown",
];

/// The config and catalog file's name for a tokenizer family.
pub fn tokenizer_from_name(name: &str) -> Option<TokenizerFamily> {
    Some(match name {
        "o200k" => TokenizerFamily::O200k,
        "cl100k" => TokenizerFamily::Cl100k,
        "claude" => TokenizerFamily::Claude,
        "gemini" => TokenizerFamily::Gemini,
        "mistral_tekken" => TokenizerFamily::MistralTekken,
        "qwen" => TokenizerFamily::Qwen,
        "llama3" => TokenizerFamily::Llama3,
        "deepseek" => TokenizerFamily::DeepSeek,
        "grok" => TokenizerFamily::Grok,
        "unknown" => TokenizerFamily::Unknown,
        _ => return None,
    })
}

pub fn tokenizer_name(family: TokenizerFamily) -> &'static str {
    match family {
        TokenizerFamily::O200k => "o200k",
        TokenizerFamily::Cl100k => "cl100k",
        TokenizerFamily::Claude => "claude",
        TokenizerFamily::Gemini => "gemini",
        TokenizerFamily::MistralTekken => "mistral_tekken",
        TokenizerFamily::Qwen => "qwen",
        TokenizerFamily::Llama3 => "llama3",
        TokenizerFamily::DeepSeek => "deepseek",
        TokenizerFamily::Grok => "grok",
        TokenizerFamily::Unknown => "unknown",
    }
}

/// `YYYY-MM-DD` as (year, month, day), when it is a real calendar day.
pub fn parse_date(s: &str) -> Option<(u16, u8, u8)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u16> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days)
        .contains(&day)
        .then_some((year, month as u8, day as u8))
}
