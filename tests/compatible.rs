//! The OpenAI-compatible family as config entries: Azure's deployment URL,
//! `api-key` header and api-version; per-provider field quirks; keys that
//! never leak to the client or across providers.

mod common;

use common::*;
use simd_json::prelude::*;

fn config(mock: std::net::SocketAddr) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 1

[[providers]]
name = "azure-east"
kind = "azure"
base_url = "http://{mock}/az"
api_key = "env:TEST_AZURE_KEY"
api_version = "2024-10-21"
forward_headers = ["x-mock-*"]

[[providers]]
name = "mistral-like"
kind = "openai_compatible"
base_url = "http://{mock}/v1"
api_key = "env:TEST_MISTRAL_KEY"
drop_fields = ["stream_options"]
forward_headers = ["x-mock-*"]
rename_fields = {{ max_completion_tokens = "max_tokens" }}
set_fields = {{ safe_prompt = false, extra = {{ tier = "x" }} }}

[[providers]]
name = "local-ollama"
kind = "openai_compatible"
base_url = "http://{mock}/ollama/v1"
forward_headers = ["x-mock-*"]

[[models]]
name = "gpt-4o-azure"
provider = "azure-east"
upstream_model = "my-gpt4o-deployment"

[[models]]
name = "mistral-small"
provider = "mistral-like"
upstream_model = "mistral-small-latest"

[[models]]
name = "llama"
provider = "local-ollama"
upstream_model = "llama3.1:8b"
"#
    )
}

fn start(driver: &str) -> (Proc, Gateway) {
    let mock = start_mock(driver);
    // SAFETY of the test: the spawned gateway inherits these; nothing else reads them.
    unsafe {
        std::env::set_var("TEST_AZURE_KEY", "azure-secret-1");
        std::env::set_var("TEST_MISTRAL_KEY", "mistral-secret-2");
    }
    let gw = start_gateway(&config(mock.addr), driver);
    (mock, gw)
}

fn echoed(gw: &Gateway, body: &[u8]) -> (Response, simd_json::OwnedValue) {
    let r = post_chat(gw.addr, &[("x-mock-echo-request", "1")], body);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    (r, v)
}

fn azure_gets_deployment_url_api_key_and_version(driver: &str) {
    let (_mock, gw) = start(driver);
    let (r, v) = echoed(&gw, &chat_body("gpt-4o-azure", "hi", false));
    assert_eq!(
        v["target"].as_str(),
        Some("/az/openai/deployments/my-gpt4o-deployment/chat/completions?api-version=2024-10-21")
    );
    assert_eq!(v["headers"]["api-key"].as_str(), Some("azure-secret-1"));
    assert!(v["headers"].get("authorization").is_none());
    assert!(!r.text().is_empty());
    assert_eq!(r.header("x-tollgate-model"), Some("my-gpt4o-deployment"));
}

fn quirks_rename_drop_and_set_fields(driver: &str) {
    let (_mock, gw) = start(driver);
    let body = br#"{"model":"mistral-small","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":64,"stream_options":{"include_usage":true},"safe_prompt":true}"#;
    let (_, v) = echoed(&gw, body);
    assert_eq!(v["target"].as_str(), Some("/v1/chat/completions"));
    assert_eq!(
        v["headers"]["authorization"].as_str(),
        Some("Bearer mistral-secret-2")
    );
    assert_eq!(
        v["body"].as_str(),
        Some(
            r#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":64,"model":"mistral-small-latest","extra":{"tier":"x"},"safe_prompt":false}"#
        )
    );
}

fn keyless_local_provider_sends_no_auth(driver: &str) {
    let (_mock, gw) = start(driver);
    let (_, v) = echoed(&gw, &chat_body("llama", "hi", false));
    assert_eq!(v["target"].as_str(), Some("/ollama/v1/chat/completions"));
    assert!(v["headers"].get("authorization").is_none());
    let mut body = v["body"].as_str().unwrap().as_bytes().to_vec();
    let sent = simd_json::to_owned_value(&mut body).unwrap();
    assert_eq!(sent["model"].as_str(), Some("llama3.1:8b"));
}

fn client_credentials_never_travel_upstream(driver: &str) {
    let (_mock, gw) = start(driver);
    let r = post_chat(
        gw.addr,
        &[
            ("x-mock-echo-request", "1"),
            ("authorization", "Bearer client-key"),
            ("api-key", "client-key"),
        ],
        &chat_body("llama", "hi", false),
    );
    assert!(!r.text().contains("client-key"), "{}", r.text());
    // And the gateway's provider keys never reach a client in an error.
    let r = post_chat(
        gw.addr,
        &[("x-mock-fault", "status=401")],
        &chat_body("gpt-4o-azure", "hi", false),
    );
    assert_eq!(r.status, 401);
    assert!(!r.text().contains("azure-secret-1"));
}

on_both_drivers!(
    azure_gets_deployment_url_api_key_and_version,
    quirks_rename_drop_and_set_fields,
    keyless_local_provider_sends_no_auth,
    client_credentials_never_travel_upstream,
);
