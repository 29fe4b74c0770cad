//! Routing and resilience through the real gateway against real mock
//! upstreams with injected faults: breakers, fallbacks, first-token
//! timeouts, Retry-After, key rotation, hedging, the commit point,
//! residency, complexity rules and weighted selection.

mod common;

use std::net::SocketAddr;

use common::*;
use simd_json::prelude::*;

fn route(r: &Response) -> String {
    r.header("x-tollgate-route").unwrap_or_default().to_string()
}

fn ok_chat(gw: &Gateway, model: &str, headers: &[(&str, &str)]) -> Response {
    let r = post_chat(gw.addr, headers, &chat_body(model, "hello", false));
    assert_eq!(r.status, 200, "{} / {}", r.text(), route(&r));
    r
}

fn provider(name: &str, mock: SocketAddr, fault: &str, extra: &str) -> String {
    let path = if fault.is_empty() {
        "/v1".to_string()
    } else {
        format!("/fault/{fault}/v1")
    };
    format!(
        "[[providers]]\nname = \"{name}\"\nkind = \"openai_compatible\"\nbase_url = \"http://{mock}{path}\"\nforward_headers = [\"x-mock-*\"]\n{extra}\n"
    )
}

const HEAD: &str = "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n";

fn breaker_opens_on_half_errors_and_recovers(driver: &str) {
    let (a, b) = (start_mock(driver), start_mock(driver));
    let config = format!(
        r#"{HEAD}
[routing.breaker]
min_requests = 6
error_rate = 0.5
open_ms = 700
half_open_probes = 1

{}
{}
[[models]]
name = "main"
provider = "a"
upstream_model = "model-a"
fallbacks = ["backup"]

[[models]]
name = "backup"
provider = "b"
upstream_model = "model-b"
"#,
        provider("a", a.addr, "status=500;every=2;times=8", ""),
        provider("b", b.addr, "", "")
    );
    let gw = start_gateway(&config, driver);
    // Half of A's answers fail; every request still succeeds through the fallback.
    let mut skipped = false;
    for _ in 0..30 {
        let r = ok_chat(&gw, "main", &[]);
        if route(&r).contains("deployment=b/model-b; attempts=1") {
            skipped = true;
            break;
        }
    }
    assert!(skipped, "the breaker never opened");
    let seen_by_a = stat(a.addr, "requests");
    assert_eq!(seen_by_a, 6, "opened after min_requests at 50 % errors");
    for _ in 0..5 {
        let r = ok_chat(&gw, "main", &[]);
        assert!(route(&r).contains("deployment=b/"), "{}", route(&r));
    }
    assert_eq!(
        stat(a.addr, "requests"),
        seen_by_a,
        "an open breaker is skipped"
    );
    eventually("breaker shown open", || {
        get(gw.addr, "/metrics")
            .text()
            .contains("provider=\"a\",model=\"model-a\"} 2")
    });
    // After open_ms a probe goes through; A has recovered, so it closes.
    eventually("traffic back on A", || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        route(&ok_chat(&gw, "main", &[])).contains("deployment=a/model-a")
    });
    eventually("breaker shown closed", || {
        get(gw.addr, "/metrics")
            .text()
            .contains("provider=\"a\",model=\"model-a\"} 0")
    });
}

fn hanging_deployment_is_abandoned_for_the_fallback(driver: &str) {
    let (a, b, c) = (start_mock(driver), start_mock(driver), start_mock(driver));
    let config = format!(
        "{HEAD}\n{}\n{}\n{}\n{}",
        provider("hang", a.addr, "hang", "first_byte_timeout_ms = 300"),
        provider("silent", c.addr, "hang-body", "ttft_timeout_ms = 300"),
        provider("b", b.addr, "", ""),
        r#"
[[models]]
name = "main"
provider = "hang"
fallbacks = ["backup"]

[[models]]
name = "quiet"
provider = "silent"
fallbacks = ["backup"]

[[models]]
name = "backup"
provider = "b"
"#
    );
    let gw = start_gateway(&config, driver);
    let r = ok_chat(&gw, "main", &[]);
    assert_eq!(r.header("x-tollgate-provider"), Some("b"));
    assert!(
        route(&r).contains("failed=hang/main: first-byte-timeout"),
        "{}",
        route(&r)
    );
    for stream in [false, true] {
        let r = post_chat(gw.addr, &[], &chat_body("quiet", "hello", stream));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-tollgate-provider"), Some("b"));
        assert!(route(&r).contains("first-token-timeout"), "{}", route(&r));
    }
    // The abandoned upstreams were hung up on.
    eventually("hung connections closed", || {
        stat(a.addr, "connections_open") == 1 && stat(c.addr, "connections_open") == 1
    });
}

fn retry_after_is_honoured_or_passed_on(driver: &str) {
    let a = start_mock(driver);
    let config = format!(
        "{HEAD}\n{}\n{}\n{}",
        provider("a", a.addr, "status=429;retry-after=1;times=1", ""),
        provider("far", a.addr, "status=429;retry-after=60", ""),
        "[[models]]\nname = \"m\"\nprovider = \"a\"\n\n[[models]]\nname = \"later\"\nprovider = \"far\"\n"
    );
    let gw = start_gateway(&config, driver);
    let r = ok_chat(&gw, "m", &[]);
    assert!(route(&r).contains("waited=1000ms"), "{}", route(&r));
    assert!(route(&r).contains("attempts=2"), "{}", route(&r));
    // Longer than max_retry_after_ms: no waiting, the client gets the 429 and its Retry-After.
    let r = post_chat(gw.addr, &[], &chat_body("later", "x", false));
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("60"));
    assert!(!route(&r).contains("waited"), "{}", route(&r));
}

fn keys_rotate_on_429(driver: &str) {
    let a = start_mock(driver);
    unsafe {
        std::env::set_var("ROUTING_TEST_K1", "k1-secret");
        std::env::set_var("ROUTING_TEST_K2", "k2-secret");
    }
    let config = format!(
        "{HEAD}\n{}\n[[models]]\nname = \"m\"\nprovider = \"a\"\n",
        provider(
            "a",
            a.addr,
            "status=429;when-key=k1-secret",
            "api_keys = [\"env:ROUTING_TEST_K1\", \"env:ROUTING_TEST_K2\"]"
        )
    );
    let gw = start_gateway(&config, driver);
    let r = ok_chat(&gw, "m", &[("x-mock-echo-request", "1")]);
    assert!(r.text().contains("Bearer k2-secret"), "{}", r.text());
    assert!(
        route(&r).contains("attempts=2; failed=a/m: 429"),
        "{}",
        route(&r)
    );
    // The core remembers: the next request starts with the good key.
    let r = ok_chat(&gw, "m", &[("x-mock-echo-request", "1")]);
    assert!(route(&r).contains("attempts=1"), "{}", route(&r));
}

fn hedge_returns_the_faster_and_hangs_up_on_the_slower(driver: &str) {
    let (slow, fast) = (start_mock(driver), start_mock(driver));
    let config = format!(
        "{HEAD}\n{}\n{}\n{}",
        provider("slow", slow.addr, "latency-ms=5000", ""),
        provider("fast", fast.addr, "", ""),
        r#"
[[models]]
name = "m"
provider = "slow"
fallbacks = ["quick"]
hedge = { after_ms = 100 }

[[models]]
name = "quick"
provider = "fast"
"#
    );
    let gw = start_gateway(&config, driver);
    for stream in [false, true] {
        let r = post_chat(gw.addr, &[], &chat_body("m", "race", stream));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-tollgate-provider"), Some("fast"));
        assert!(route(&r).contains("hedged"), "{}", route(&r));
        assert!(r.text().contains("race"));
    }
    // The slow attempts were cancelled: their connections are closed at once.
    eventually("loser connections closed", || {
        stat(slow.addr, "connections_open") == 1
    });
    assert_eq!(stat(slow.addr, "requests"), 2);
}

fn a_stream_cut_after_the_first_byte_is_an_error_not_a_fallback(driver: &str) {
    let (a, b) = (start_mock(driver), start_mock(driver));
    let config = format!(
        "{HEAD}\n{}\n{}\n[[models]]\nname = \"m\"\nprovider = \"a\"\nfallbacks = [\"b\"]\n\n[[models]]\nname = \"b\"\nprovider = \"b\"\n",
        provider("a", a.addr, "cut-after=2", ""),
        provider("b", b.addr, "", "")
    );
    let gw = start_gateway(&config, driver);
    let r = post_chat(gw.addr, &[], &chat_body("m", "one two three", true));
    assert_eq!(r.status, 200);
    let data = sse_data(&r.body);
    assert!(
        data.last().unwrap().contains("stream_interrupted"),
        "{data:?}"
    );
    assert!(!data.iter().any(|d| d == "[DONE]"));
    assert_eq!(
        stat(b.addr, "requests"),
        0,
        "no fallback after the commit point"
    );
}

fn residency_never_leaks_to_another_region(driver: &str) {
    let (us, eu, other) = (start_mock(driver), start_mock(driver), start_mock(driver));
    unsafe {
        std::env::set_var("ROUTING_TEST_EU_KEY", "team-eu-secret");
        std::env::set_var("ROUTING_TEST_US_KEY", "team-us-secret");
    }
    let config = format!(
        r#"{HEAD}
{}{}{}
[[keys]]
id = "team-eu"
key = "env:ROUTING_TEST_EU_KEY"
region = "eu"

[[keys]]
id = "team-us"
key = "env:ROUTING_TEST_US_KEY"

[[models]]
name = "m"
fallbacks = ["elsewhere"]
deployments = [
  {{ provider = "us", upstream_model = "m-us", region = "us" }},
  {{ provider = "eu", upstream_model = "m-eu", region = "eu" }},
]

[[models]]
name = "elsewhere"
provider = "other"
region = "us"
"#,
        provider("us", us.addr, "", ""),
        provider("eu", eu.addr, "status=503", ""),
        provider("other", other.addr, "", ""),
    );
    let gw = start_gateway(&config, driver);
    let eu_key = [("authorization", "Bearer team-eu-secret")];
    // The only eu deployment fails: the request fails rather than leave the region.
    for _ in 0..5 {
        let r = post_chat(gw.addr, &eu_key, &chat_body("m", "x", false));
        assert!(r.status >= 500, "{}", r.text());
        assert!(route(&r).contains("region=eu"), "{}", route(&r));
    }
    let r = post_chat(
        gw.addr,
        &[
            ("authorization", "Bearer team-us-secret"),
            ("x-tollgate-region", "eu"),
        ],
        &chat_body("m", "x", false),
    );
    assert!(r.status >= 500);
    assert_eq!(stat(us.addr, "requests"), 0);
    assert_eq!(stat(other.addr, "requests"), 0);
    // Conflicting residency is refused; unknown keys are refused.
    let r = post_chat(
        gw.addr,
        &[eu_key[0], ("x-tollgate-region", "us")],
        &chat_body("m", "x", false),
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.error_code(), "region_conflict");
    let r = post_chat(
        gw.addr,
        &[("authorization", "Bearer nope")],
        &chat_body("m", "x", false),
    );
    assert_eq!(r.status, 401);
    // Without a region, the us key may use any deployment and the fallback.
    let r = ok_chat(&gw, "m", &[("authorization", "Bearer team-us-secret")]);
    assert_ne!(r.header("x-tollgate-provider"), Some("eu"));
}

fn complexity_and_tag_rules_pick_the_tier(driver: &str) {
    let a = start_mock(driver);
    let config = format!(
        r#"{HEAD}
{}
[[models]]
name = "auto"
provider = "a"
upstream_model = "balanced-model"

[[models]]
name = "cheap"
provider = "a"
upstream_model = "mistral-small"
tier = "cheap"

[[models]]
name = "flagship"
provider = "a"
upstream_model = "gpt-4o"
tier = "flagship"

[[rules]]
name = "batch-is-cheap"
match = {{ tags = ["batch"] }}
route_to = "cheap"

[[rules]]
name = "simple"
match = {{ models = ["auto"], max_complexity = 0.2 }}
route_to = "cheap"

[[rules]]
name = "hard"
match = {{ models = ["auto"], min_complexity = 0.5 }}
route_to = "flagship"
"#,
        provider("a", a.addr, "", "")
    );
    let gw = start_gateway(&config, driver);
    let r = ok_chat(&gw, "auto", &[]);
    assert_eq!(
        r.header("x-tollgate-model"),
        Some("mistral-small"),
        "{}",
        route(&r)
    );
    assert!(route(&r).contains("rule=simple"), "{}", route(&r));
    let hard = br#"{"model":"auto","reasoning_effort":"high","tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"messages":[{"role":"user","content":"Prove the theorem step by step and analyze the architecture."}]}"#;
    let r = post_chat(gw.addr, &[], hard);
    assert_eq!(
        r.header("x-tollgate-model"),
        Some("gpt-4o"),
        "{}",
        route(&r)
    );
    assert!(route(&r).contains("rule=hard"), "{}", route(&r));
    let r = ok_chat(
        &gw,
        "flagship",
        &[("x-tollgate-tags", "interactive, batch")],
    );
    assert_eq!(r.header("x-tollgate-model"), Some("mistral-small"));
    let tagged = br#"{"model":"flagship","metadata":{"tags":"batch"},"messages":[{"role":"user","content":"x"}]}"#;
    let r = post_chat(gw.addr, &[], tagged);
    assert_eq!(
        r.header("x-tollgate-model"),
        Some("mistral-small"),
        "{}",
        route(&r)
    );
}

fn weighted_selection_and_pinned_versions(driver: &str) {
    let (a, b) = (start_mock(driver), start_mock(driver));
    let config = format!(
        r#"{HEAD}
{}{}
[[models]]
name = "m"
deployments = [
  {{ provider = "a", upstream_model = "gpt-4o-2024-05-13", weight = 1 }},
  {{ provider = "b", upstream_model = "gpt-4o-2024-08-06", weight = 3 }},
]
"#,
        provider("a", a.addr, "", ""),
        provider("b", b.addr, "", "")
    );
    let gw = start_gateway(&config, driver);
    let mut c = Client::connect(gw.addr);
    for _ in 0..400 {
        c.post("/v1/chat/completions", &[], &chat_body("m", "x", false));
        assert_eq!(c.read_response().unwrap().status, 200);
    }
    let (na, nb) = (stat(a.addr, "requests"), stat(b.addr, "requests"));
    assert_eq!(na + nb, 400);
    assert!((60..=140).contains(&na), "weights 1:3 gave {na}:{nb}");
    // A pinned version goes to exactly that version, every time.
    for _ in 0..20 {
        let r = ok_chat(&gw, "gpt-4o-2024-05-13", &[]);
        assert_eq!(r.header("x-tollgate-provider"), Some("a"));
    }
}

fn context_length_rejection_falls_back_and_latency_selection_prefers_the_fast(driver: &str) {
    let (small, big, slow, fast) = (
        start_mock(driver),
        start_mock(driver),
        start_mock(driver),
        start_mock(driver),
    );
    let config = format!(
        r#"{HEAD}
{}{}{}{}
[[models]]
name = "small-context"
provider = "small"
fallbacks = ["big-context"]

[[models]]
name = "big-context"
provider = "big"

[[models]]
name = "spread"
deployments = [
  {{ provider = "slow", upstream_model = "m" }},
  {{ provider = "fast", upstream_model = "m" }},
]

[routing]
selection = "latency"
"#,
        provider("small", small.addr, "context-length", ""),
        provider("big", big.addr, "", ""),
        provider("slow", slow.addr, "latency-ms=150", ""),
        provider("fast", fast.addr, "", ""),
    );
    let gw = start_gateway(&config, driver);
    // Too long for the first model: the fallback with a larger window answers.
    let r = ok_chat(&gw, "small-context", &[]);
    assert_eq!(
        r.header("x-tollgate-provider"),
        Some("big"),
        "{}",
        route(&r)
    );
    assert!(
        route(&r).contains("failed=small/small-context: 400"),
        "{}",
        route(&r)
    );
    // Power of two choices over time to first byte: once both are measured,
    // the fast deployment takes the traffic.
    let mut c = Client::connect(gw.addr);
    for _ in 0..40 {
        c.post(
            "/v1/chat/completions",
            &[],
            &chat_body("spread", "x", false),
        );
        assert_eq!(c.read_response().unwrap().status, 200);
    }
    let (n_slow, n_fast) = (stat(slow.addr, "requests"), stat(fast.addr, "requests"));
    assert_eq!(n_slow + n_fast, 40);
    assert!(n_slow <= 3, "slow {n_slow}, fast {n_fast}");
}

/// A model served only by a translating provider is routed off the one
/// canonical parse: `metadata.tags` still picks the rule (other metadata
/// shapes are no obstacle), a repeated `model` still routes, and a body that
/// is not JSON gets the same error as on any other route.
fn tag_rules_read_the_metadata_of_translated_requests(driver: &str) {
    let a = start_mock(driver);
    let config = format!(
        r#"{HEAD}
[[providers]]
name = "claude"
kind = "anthropic"
base_url = "http://{}/v1"

[[models]]
name = "sonnet"
provider = "claude"
upstream_model = "claude-sonnet"

[[models]]
name = "haiku"
provider = "claude"
upstream_model = "claude-haiku"

[[rules]]
name = "batch-is-cheap"
match = {{ tags = ["batch"] }}
route_to = "haiku"
"#,
        a.addr
    );
    let gw = start_gateway(&config, driver);
    let tagged = br#"{"model":"sonnet","metadata":{"trace":{"id":1},"tags":"eu, batch"},"messages":[{"role":"user","content":"x"}]}"#;
    let r = post_chat(gw.addr, &[], tagged);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-tollgate-model"),
        Some("claude-haiku"),
        "{}",
        route(&r)
    );
    assert!(route(&r).contains("rule=batch-is-cheap"), "{}", route(&r));
    let untagged = br#"{"model":"sonnet","model":"sonnet","metadata":{"tags":["batch"]},"messages":[{"role":"user","content":"x"}]}"#;
    let r = post_chat(gw.addr, &[], untagged);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-tollgate-model"),
        Some("claude-sonnet"),
        "{}",
        route(&r)
    );
    for broken in [
        &br#"{"model":"sonnet","messages":[}"#[..],
        br#"{"model":"sonnet""#,
    ] {
        let r = post_chat(gw.addr, &[], broken);
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["error"]["code"].as_str(), Some("invalid_json"));
    }
}

on_both_drivers!(
    context_length_rejection_falls_back_and_latency_selection_prefers_the_fast,
    breaker_opens_on_half_errors_and_recovers,
    hanging_deployment_is_abandoned_for_the_fallback,
    retry_after_is_honoured_or_passed_on,
    keys_rotate_on_429,
    hedge_returns_the_faster_and_hangs_up_on_the_slower,
    a_stream_cut_after_the_first_byte_is_an_error_not_a_fallback,
    residency_never_leaks_to_another_region,
    complexity_and_tag_rules_pick_the_tier,
    tag_rules_read_the_metadata_of_translated_requests,
    weighted_selection_and_pinned_versions,
);
