//! The shipped entries are sane, names find the entries users expect, and
//! config tables merge, extend and fail the way their docs say.

use super::*;
use crate::config::load_str;

const PROVIDERS: &str = r#"
[server]
allow_no_models = true

[[providers]]
name = "p"
kind = "openai"
base_url = "http://127.0.0.1:1/v1"
"#;

fn config(extra: &str) -> crate::config::Config {
    load_str(&format!("{PROVIDERS}{extra}")).unwrap()
}

fn errors(extra: &str) -> Vec<(String, String)> {
    load_str(&format!("{PROVIDERS}{extra}"))
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| (e.path, e.message))
        .collect()
}

#[test]
fn every_builtin_entry_is_sane() {
    let catalog = Catalog::parse(include_str!("../catalog.toml")).unwrap();
    let mut families = std::collections::HashSet::new();
    for s in catalog.specs() {
        families.insert(s.provider.as_str());
        assert!(s.context_window > 0, "{}", s.id);
        assert!(s.max_output_tokens <= s.context_window, "{}", s.id);
        assert!(s.default_output_tokens <= s.max_output_tokens, "{}", s.id);
        assert!(
            s.max_input_tokens.is_none_or(|m| m <= s.context_window),
            "{}",
            s.id
        );
        for p in std::iter::once(&s.price).chain(s.tiers.iter().map(|t| &t.price)) {
            for v in [
                p.input,
                p.cached_input,
                p.cache_write_5m,
                p.cache_write_1h,
                p.output,
                p.reasoning,
            ]
            .into_iter()
            .flatten()
            {
                assert!(v.is_finite() && v >= 0.0, "{}", s.id);
            }
        }
        assert!(
            s.source.starts_with("http") || s.source.starts_with("LiteLLM"),
            "{}",
            s.id
        );
        let date = s.as_of.as_deref().unwrap_or_default();
        assert!(parse_date(date).is_some(), "{}: as_of `{date}`", s.id);
        assert_eq!(s.origin, SpecOrigin::BuiltIn);
    }
    for family in [
        "openai",
        "anthropic",
        "gemini",
        "deepseek",
        "mistral",
        "qwen",
        "meta",
        "xai",
    ] {
        assert!(families.contains(family), "no {family} entry");
    }
}

#[test]
fn the_shipped_catalog_is_the_one_builtin_reads() {
    assert!(Catalog::builtin().get("gpt-4o").is_some());
}

#[test]
fn names_resolve_the_way_deployments_write_them() {
    let c = Catalog::builtin();
    let id = |name: &str| c.get(name).map(|s| s.id.as_str());
    assert_eq!(id("claude-sonnet-4-5-20250929"), Some("claude-sonnet-4-5"));
    assert_eq!(id("claude-sonnet-4-20250514"), Some("claude-sonnet-4"));
    assert_eq!(id("gpt-4o-2024-08-06"), Some("gpt-4o"));
    // An exact snapshot entry wins over its family.
    assert_eq!(id("gpt-4o-2024-05-13"), Some("gpt-4o-2024-05-13"));
    assert_eq!(id("openai/gpt-4.1-mini"), Some("gpt-4.1-mini"));
    assert_eq!(id("models/gemini-2.5-pro"), Some("gemini-2.5-pro"));
    assert_eq!(id("gemini-1.5-flash-latest"), Some("gemini-1.5-flash"));
    assert_eq!(
        id("anthropic/claude-3-7-sonnet-latest"),
        Some("claude-3-7-sonnet")
    );
    assert_eq!(
        id("meta-llama/Llama-3.3-70B-Instruct"),
        Some("llama-3.3-70b-instruct")
    );
    assert_eq!(id("mistral-large-latest"), Some("mistral-large-2512"));
    assert_eq!(id("deepseek/deepseek-reasoner"), Some("deepseek-reasoner"));
    assert_eq!(id("x-ai/grok-4"), Some("grok-4-0709"));
    assert_eq!(id("GPT-4O"), Some("gpt-4o"));
    assert_eq!(id("gpt-4o-realtime-unknown"), None);
    assert_eq!(id("mock/echo"), None);
}

#[test]
fn prices_follow_the_prompt_size_tiers() {
    let pro = Catalog::builtin().get("gemini-2.5-pro").unwrap();
    assert_eq!(pro.price_for_prompt(200_000).input, Some(1.25));
    assert_eq!(pro.price_for_prompt(200_001).input, Some(2.5));
    assert_eq!(pro.price_for_prompt(200_001).output, Some(15.0));
    let qwen = Catalog::builtin().get("qwen3-max").unwrap();
    assert_eq!(qwen.price_for_prompt(100_000).input, Some(2.4));
    assert_eq!(qwen.price_for_prompt(200_000).input, Some(3.0));
    // Reasoning defaults to the output price; qwen-turbo prices it apart.
    assert_eq!(pro.price.reasoning, Some(10.0));
    let turbo = Catalog::builtin().get("qwen-turbo").unwrap();
    assert_eq!(turbo.price.reasoning, Some(0.5));
    // Sonnet's long tier keeps what it does not name, and raises the rest.
    let sonnet = Catalog::builtin().get("claude-sonnet-4-5").unwrap();
    assert_eq!(sonnet.price_for_prompt(300_000).cache_write_1h, Some(12.0));
}

#[test]
fn default_output_and_prompt_room() {
    let c = Catalog::builtin();
    assert_eq!(c.get("gpt-4o").unwrap().default_output_tokens, 4096);
    assert_eq!(c.get("gpt-3.5-turbo").unwrap().default_output_tokens, 4096);
    assert_eq!(
        c.get("deepseek-reasoner").unwrap().default_output_tokens,
        32768
    );
    let gpt5 = c.get("gpt-5").unwrap();
    assert_eq!(gpt5.prompt_room(4096), 272_000);
    assert_eq!(gpt5.prompt_room(200_000), 200_000);
}

#[test]
fn a_table_named_for_an_entry_changes_every_name_of_it() {
    let cfg = config("[catalog.\"gpt-4o\"]\ncontext_window = 64000\nprice = { input = 1.0 }\n");
    let r = ResolvedCatalog::resolve(&cfg);
    let spec = r.get("openai/gpt-4o-2024-11-20").unwrap();
    assert_eq!(spec.id, "gpt-4o");
    assert_eq!(spec.origin, SpecOrigin::Overridden);
    assert_eq!(spec.context_window, 64000);
    assert_eq!(spec.max_output_tokens, 16384);
    assert_eq!(spec.price.input, Some(1.0));
    assert_eq!(
        spec.price.output,
        Some(10.0),
        "prices the table leaves keep"
    );
    // The built-in table itself is untouched.
    assert_eq!(
        Catalog::builtin().get("gpt-4o").unwrap().context_window,
        128000
    );
}

#[test]
fn lowering_a_window_brings_the_caps_it_does_not_set_down_with_it() {
    let cfg = config("[catalog.\"gpt-5\"]\ncontext_window = 100000\n");
    let spec = ResolvedCatalog::resolve(&cfg)
        .get("gpt-5")
        .cloned()
        .unwrap();
    assert_eq!(spec.max_output_tokens, 100000);
    assert_eq!(spec.max_input_tokens, None);
}

#[test]
fn a_snapshot_table_or_like_defines_just_that_name() {
    let cfg = config(concat!(
        "[catalog.\"gpt-4o-2024-11-20\"]\nmax_output_tokens = 8000\n",
        "[catalog.\"ft:my-tune\"]\nlike = \"gpt-4o-mini\"\nprice = { input = 0.3, output = 1.2 }\n",
        "[catalog.\"house-model\"]\ncontext_window = 32000\ntokenizer = \"llama3\"\n",
    ));
    let r = ResolvedCatalog::resolve(&cfg);
    assert_eq!(r.get("gpt-4o-2024-11-20").unwrap().max_output_tokens, 8000);
    assert_eq!(r.get("gpt-4o").unwrap().max_output_tokens, 16384);
    let tune = r.get("ft:my-tune").unwrap();
    assert_eq!((tune.context_window, tune.price.input), (128000, Some(0.3)));
    assert_eq!(
        tune.tokenizer,
        crate::context_window::TokenizerFamily::O200k
    );
    let house = r.get("vendor/house-model").unwrap();
    assert_eq!(house.origin, SpecOrigin::Config);
    assert_eq!(
        (
            house.context_window,
            house.max_output_tokens,
            house.default_output_tokens
        ),
        (32000, 32000, 4096)
    );
    assert_eq!(house.price.input, None);
}

#[test]
fn configured_names_are_resolved_once_and_unknown_ones_listed() {
    let cfg = config(concat!(
        "[[models]]\nname = \"a\"\nprovider = \"p\"\nupstream_model = \"gpt-4o-mini\"\n",
        "[[models]]\nname = \"b\"\n",
        "[[models.deployments]]\nprovider = \"p\"\nupstream_model = \"secret-sauce\"\n",
        "[[models.deployments]]\nprovider = \"p\"\n",
    ));
    assert_eq!(
        configured_upstream_names(&cfg),
        ["gpt-4o-mini", "secret-sauce", "b"]
    );
    let r = ResolvedCatalog::resolve(&cfg);
    let mut unknown: Vec<&str> = r.unknown_configured().collect();
    unknown.sort_unstable();
    assert_eq!(unknown, ["b", "secret-sauce"]);
    assert!(log_unknown_once("catalog-test-unknown"));
    assert!(!log_unknown_once("catalog-test-unknown"));
}

#[test]
fn table_errors_name_their_path() {
    let errs = errors(concat!(
        "[catalog.\"new-model\"]\nmax_output_tokens = 10\n",
        "[catalog.\"gpt-4o\"]\nmax_output_tokens = 999999\ntokenizer = \"bpe\"\n",
        "[catalog.\"x\"]\ncontext_window = 10\nprice = { input = -1.0 }\nas_of = \"2025-02-30\"\n",
        "[catalog.\"y\"]\nlike = \"no-such-model\"\n",
        "[catalog.\"z\"]\ncontext_window = 10\ntiers = [{ above_prompt_tokens = 5 }, { above_prompt_tokens = 5 }]\n",
    ));
    let paths: Vec<&str> = errs.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "catalog.\"gpt-4o\".max_output_tokens",
            "catalog.\"gpt-4o\".tokenizer",
            "catalog.\"new-model\".context_window",
            "catalog.\"x\".price.input",
            "catalog.\"x\".as_of",
            "catalog.\"y\".like",
            "catalog.\"z\".tiers[1].above_prompt_tokens",
        ]
    );
    assert!(errs[2].1.contains("required"), "{}", errs[2].1);
}

#[test]
fn unknown_fields_in_a_table_are_errors() {
    let errs = errors("[catalog.\"gpt-4o\"]\ncontext = 5\n");
    assert!(errs[0].0.starts_with("catalog."), "{errs:?}");
    assert!(errs[0].1.contains("context"), "{errs:?}");
}

#[test]
fn the_report_shows_matches_overrides_and_unknowns() {
    let cfg = config(concat!(
        "[[models]]\nname = \"fast\"\nprovider = \"p\"\nupstream_model = \"gemini-2.5-flash-001\"\n",
        "[[models]]\nname = \"mystery\"\nprovider = \"p\"\n",
        "[catalog.\"gemini-2.5-flash\"]\nsource = \"our contract\"\n",
    ));
    let text = render_configured(&cfg, &ResolvedCatalog::resolve(&cfg));
    assert!(text.contains("fast → p gemini-2.5-flash-001\n  catalog    gemini-2.5-flash (built-in, overridden by config)"), "{text}");
    assert!(
        text.contains("window     1048576; max output 65536; default output 4096"),
        "{text}"
    );
    assert!(text.contains("source     our contract (as of "), "{text}");
    assert!(
        text.contains("mystery → p mystery\n  unknown (no fitting)"),
        "{text}"
    );
    let all = render_builtin(Catalog::builtin());
    assert!(all.contains("claude-opus-4 (anthropic)\n  catalog    claude-opus-4 (built-in)\n  aliases    claude-opus-4-0"), "{all}");
    assert!(all.contains("llama-3.1-8b-instruct (meta)"), "{all}");
}
