//! `tollgate models`: the real binary prints the catalog as a config
//! resolves it — overrides applied, unknown models said to be unfitted,
//! bad catalog tables refused with their path.

mod common;

use std::process::{Command, Output};

use common::*;

const CONFIG: &str = r#"
[[providers]]
name = "openai"
kind = "openai"
base_url = "http://127.0.0.1:1/v1"

[[providers]]
name = "anthropic"
kind = "anthropic"
base_url = "http://127.0.0.1:2/v1"

[[models]]
name = "chat"
provider = "openai"
upstream_model = "gpt-4o-2024-08-06"

[[models]]
name = "claude"
provider = "anthropic"
upstream_model = "claude-sonnet-4-5-20250929"

[[models]]
name = "house"
provider = "openai"
upstream_model = "house-llm-v7"

[catalog."gpt-4o"]
context_window = 64000
price = { input = 2.0 }
source = "negotiated rate card"
"#;

fn models(config: &str, extra: &[&str]) -> Output {
    let dir = TempDir::new();
    let path = dir.path.join("tollgate.toml");
    std::fs::write(&path, config).unwrap();
    Command::new(bin())
        .arg("models")
        .arg("--config")
        .arg(&path)
        .args(extra)
        .env_remove("TOLLGATE_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn models_prints_overrides_matches_and_unknowns() {
    let out = models(CONFIG, &[]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "chat → openai gpt-4o-2024-08-06\n  catalog    gpt-4o (built-in, overridden by config)\n  window     64000; max output 16384; default output 4096\n  tokenizer  o200k\n  prices     USD/1M: input 2, cached 1.25, output 10, reasoning 10\n  source     negotiated rate card (as of "
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "claude → anthropic claude-sonnet-4-5-20250929\n  catalog    claude-sonnet-4-5 (built-in)\n  window     200000; max output 64000; default output 4096\n  tokenizer  claude\n  prices     USD/1M: input 3, cached 0.3, cache write 5m 3.75, cache write 1h 6, output 15, reasoning 15\n  prompt > 200000 tokens: "
        ),
        "{text}"
    );
    assert!(
        text.contains("house → openai house-llm-v7\n  unknown (no fitting)\n"),
        "{text}"
    );
    assert!(
        !text.contains("# built-in catalog"),
        "the whole catalog only with --all"
    );
}

#[test]
fn models_all_adds_the_builtin_catalog() {
    let out = models(CONFIG, &["--all"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let (_, builtin) = text.split_once("# built-in catalog\n").expect(&text);
    // The built-in listing shows the shipped figures, not the override.
    assert!(
        builtin.contains("gpt-4o (openai)\n  catalog    gpt-4o (built-in)\n  window     128000;"),
        "{builtin}"
    );
    for id in [
        "deepseek-chat",
        "grok-3",
        "qwen-max",
        "mistral-large-2411",
        "gemini-2.5-pro",
    ] {
        assert!(builtin.contains(&format!("\n{id} (")), "{id}: {builtin}");
    }
}

#[test]
fn a_bad_catalog_table_is_refused_with_its_path() {
    let bad = format!("{CONFIG}\n[catalog.\"house-llm-v7\"]\nmax_output_tokens = 100\n");
    let out = models(&bad, &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("catalog.\"house-llm-v7\".context_window: required"),
        "{err}"
    );
}

#[test]
fn models_without_a_config_reads_the_embedded_default() {
    let dir = TempDir::new();
    let out = Command::new(bin())
        .arg("models")
        .current_dir(&dir.path)
        .env_remove("TOLLGATE_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("# models configured in <embedded default>\n"),
        "{text}"
    );
    assert!(
        text.contains("mock/echo → mock mock/echo\n  unknown (no fitting)"),
        "{text}"
    );
    assert!(
        text.contains("gpt-4o → openai gpt-4o-2024-08-06\n  catalog    gpt-4o (built-in)"),
        "{text}"
    );
}
