//! The text `tollgate models` prints: each configured deployment's
//! upstream model as the resolved catalog sees it, or the whole built-in
//! catalog.

use std::fmt::Write;

use super::data::tokenizer_name;
use super::{Catalog, ModelSpec, Price, ResolvedCatalog, SpecOrigin};
use crate::config::Config;

/// One block per model and deployment: client name, provider and upstream
/// model, then the entry it matched (or `unknown (no fitting)`).
pub fn render_configured(config: &Config, catalog: &ResolvedCatalog) -> String {
    let mut out = String::new();
    for m in &config.models {
        let targets: Vec<(&str, &str)> = if m.deployments.is_empty() {
            vec![(
                m.provider.as_deref().unwrap_or("?"),
                m.upstream_model.as_deref().unwrap_or(&m.name),
            )]
        } else {
            m.deployments
                .iter()
                .map(|d| {
                    (
                        d.provider.as_str(),
                        d.upstream_model.as_deref().unwrap_or(&m.name),
                    )
                })
                .collect()
        };
        for (provider, upstream) in targets {
            let _ = writeln!(out, "{} → {provider} {upstream}", m.name);
            match catalog.get(upstream) {
                Some(spec) => write_spec(&mut out, spec, &[]),
                None => out.push_str("  unknown (no fitting)\n"),
            }
        }
    }
    if out.is_empty() {
        out.push_str("no models configured\n");
    }
    out
}

/// Every built-in entry with the names it answers to.
pub fn render_builtin(catalog: &Catalog) -> String {
    let mut out = String::new();
    for spec in catalog.specs() {
        let _ = writeln!(out, "{} ({})", spec.id, spec.provider);
        write_spec(&mut out, spec, catalog.aliases_of(&spec.id));
    }
    out
}

fn write_spec(out: &mut String, spec: &ModelSpec, aliases: &[String]) {
    let origin = match spec.origin {
        SpecOrigin::BuiltIn => "built-in",
        SpecOrigin::Overridden => "built-in, overridden by config",
        SpecOrigin::Config => "from config",
    };
    let _ = writeln!(out, "  catalog    {} ({origin})", spec.id);
    if !aliases.is_empty() {
        let _ = writeln!(out, "  aliases    {}", aliases.join(", "));
    }
    let prompt_cap = spec
        .max_input_tokens
        .map(|c| format!(", prompt at most {c}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  window     {}{prompt_cap}; max output {}; default output {}",
        spec.context_window, spec.max_output_tokens, spec.default_output_tokens
    );
    let _ = writeln!(out, "  tokenizer  {}", tokenizer_name(spec.tokenizer));
    let _ = writeln!(out, "  prices     {}", prices(&spec.price));
    for tier in &spec.tiers {
        let _ = writeln!(
            out,
            "  prompt > {} tokens: {}",
            tier.above_prompt_tokens,
            prices(&tier.price)
        );
    }
    let as_of = spec
        .as_of
        .as_deref()
        .map(|d| format!(" (as of {d})"))
        .unwrap_or_default();
    let _ = writeln!(out, "  source     {}{as_of}", spec.source);
}

/// `USD/1M: input 3, cached 0.3, …`; unknown prices are said to be so.
fn prices(p: &Price) -> String {
    let fields = [
        ("input", p.input),
        ("cached", p.cached_input),
        ("cache write 5m", p.cache_write_5m),
        ("cache write 1h", p.cache_write_1h),
        ("output", p.output),
        ("reasoning", p.reasoning),
    ];
    let known: Vec<String> = fields
        .iter()
        .filter_map(|(name, v)| v.map(|v| format!("{name} {v}")))
        .collect();
    if known.is_empty() {
        "unknown".into()
    } else {
        format!("USD/1M: {}", known.join(", "))
    }
}
