//! Upstream faults after the response head and around the breaker, through
//! the real gateway: cut whole answers are retried or end in a clean 502,
//! cut streams count against the breaker, a lone deployment is tried even
//! with its breaker open, and per-model and per-request timeouts let the
//! fallback answer a hung primary.

mod common;

use std::net::SocketAddr;

use common::*;
use simd_json::prelude::*;

const HEAD: &str = "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n";

fn route(r: &Response) -> String {
    r.header("x-tollgate-route").unwrap_or_default().to_string()
}

fn provider(name: &str, kind: &str, mock: SocketAddr, fault: &str, extra: &str) -> String {
    let path = if fault.is_empty() {
        "/v1".to_string()
    } else {
        format!("/fault/{fault}/v1")
    };
    format!(
        "[[providers]]\nname = \"{name}\"\nkind = \"{kind}\"\nbase_url = \"http://{mock}{path}\"\nforward_headers = [\"x-mock-*\"]\n{extra}\n"
    )
}

/// The assistant text of a whole OpenAI-shaped answer.
fn answer_text(r: &Response) -> String {
    r.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("no answer text: {}", r.text()))
        .to_string()
}

fn a_cut_whole_answer_falls_back_to_a_complete_one(driver: &str) {
    let (a, b) = (start_mock(driver), start_mock(driver));
    let config = format!(
        "{HEAD}\n[routing.retry]\nmax_attempts = 2\n\n{}\n{}\n{}\n{}",
        provider("cut", "openai_compatible", a.addr, "cut-after=1", ""),
        provider("cut-anthropic", "anthropic", a.addr, "cut-after=1", ""),
        provider("b", "openai_compatible", b.addr, "", ""),
        r#"
[[models]]
name = "main"
provider = "cut"
fallbacks = ["backup"]

[[models]]
name = "claude"
provider = "cut-anthropic"
fallbacks = ["backup"]

[[models]]
name = "backup"
provider = "b"
"#
    );
    let gw = start_gateway(&config, driver);
    for model in ["main", "claude"] {
        let r = post_chat(
            gw.addr,
            &[],
            &chat_body(model, "the whole answer please", false),
        );
        assert_eq!(r.status, 200, "{model}: {}", r.text());
        assert!(!r.closed, "{model}: a complete body on a live connection");
        assert_eq!(r.header("x-tollgate-provider"), Some("b"), "{}", route(&r));
        assert!(
            answer_text(&r).contains("the whole answer please"),
            "{}",
            r.text()
        );
        assert!(route(&r).contains("failed="), "{}", route(&r));
    }
}

fn a_cut_whole_answer_without_fallback_is_a_clean_502(driver: &str) {
    let a = start_mock(driver);
    let config = format!(
        "{HEAD}\n{}\n{}\n[[models]]\nname = \"m\"\nprovider = \"cut\"\n\n[[models]]\nname = \"claude\"\nprovider = \"cut-anthropic\"\n",
        provider("cut", "openai_compatible", a.addr, "cut-after=1", ""),
        provider("cut-anthropic", "anthropic", a.addr, "cut-after=1", ""),
    );
    let gw = start_gateway(&config, driver);
    for model in ["m", "claude"] {
        let r = post_chat(gw.addr, &[], &chat_body(model, "hello", false));
        assert_eq!(r.status, 502, "{model}: {}", r.text());
        assert!(!r.closed, "{model}: the error arrives whole");
        assert_eq!(r.error_code(), "upstream_connection_error", "{}", r.text());
        assert!(route(&r).contains("attempts=3"), "{}", route(&r));
    }
    // Past the hold bound an answer is relayed as it comes: a cut is then
    // the client's to see (the promised length never arrives).
    let small = config.replace(
        HEAD,
        &format!("{HEAD}\n[routing.retry]\nhold_answer_bytes = 16\n"),
    );
    let gw = start_gateway(&small, driver);
    let r = post_chat(gw.addr, &[], &chat_body("m", "hello", false));
    assert_eq!(r.status, 200);
    assert!(r.closed, "a cut past the bound cannot be hidden");
}

fn a_primary_that_cuts_every_stream_loses_its_traffic(driver: &str) {
    let (a, b) = (start_mock(driver), start_mock(driver));
    let config = format!(
        "{HEAD}\n[routing.breaker]\nmin_requests = 4\nerror_rate = 0.5\nopen_ms = 60000\n\n{}\n{}\n{}",
        provider("a", "openai_compatible", a.addr, "cut-after=2", ""),
        provider("b", "openai_compatible", b.addr, "", ""),
        "[[models]]\nname = \"m\"\nprovider = \"a\"\nfallbacks = [\"backup\"]\n\n[[models]]\nname = \"backup\"\nprovider = \"b\"\n"
    );
    let gw = start_gateway(&config, driver);
    let mut interrupted = 0;
    for _ in 0..12 {
        let r = post_chat(gw.addr, &[], &chat_body("m", "one two three four", true));
        assert_eq!(r.status, 200);
        let data = sse_data(&r.body);
        if data
            .last()
            .is_some_and(|d| d.contains("stream_interrupted"))
        {
            interrupted += 1;
        } else {
            assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
            assert_eq!(r.header("x-tollgate-provider"), Some("b"));
        }
    }
    assert_eq!(
        interrupted, 4,
        "cut streams until the breaker's min_requests"
    );
    assert_eq!(stat(a.addr, "requests"), 4, "then the primary gets nothing");
    assert_eq!(
        stat(b.addr, "requests"),
        8,
        "and the fallback serves the rest"
    );
}

fn a_lone_deployment_is_tried_when_its_breaker_is_open(driver: &str) {
    let a = start_mock(driver);
    let config = format!(
        "{HEAD}\n[routing.retry]\nmax_attempts = 1\n\n[routing.breaker]\nmin_requests = 3\nopen_ms = 60000\n\n{}\n[[models]]\nname = \"m\"\nprovider = \"a\"\n",
        provider("a", "openai_compatible", a.addr, "status=500;times=3", ""),
    );
    let gw = start_gateway(&config, driver);
    for _ in 0..3 {
        let r = post_chat(gw.addr, &[], &chat_body("m", "burst", false));
        assert_eq!(r.status, 500, "{}", r.text());
    }
    eventually("breaker shown open", || {
        get(gw.addr, "/metrics")
            .text()
            .contains("provider=\"a\",model=\"m\"} 2")
    });
    // The upstream has recovered: its only deployment is tried, not refused.
    for _ in 0..3 {
        let r = post_chat(gw.addr, &[], &chat_body("m", "after the burst", false));
        assert_eq!(r.status, 200, "{} / {}", r.text(), route(&r));
        assert!(answer_text(&r).contains("after the burst"));
    }
    assert_eq!(stat(a.addr, "requests"), 6);
}

fn hung_primaries_give_way_within_the_model_timeouts(driver: &str) {
    let (hang, silent, slow, b) = (
        start_mock(driver),
        start_mock(driver),
        start_mock(driver),
        start_mock(driver),
    );
    let config = format!(
        "{HEAD}\n{}\n{}\n{}\n{}\n{}\n{}",
        provider("hang", "openai_compatible", hang.addr, "hang", ""),
        provider("silent", "openai_compatible", silent.addr, "hang-body", ""),
        provider("slow", "openai_compatible", slow.addr, "", ""),
        provider("b", "openai_compatible", b.addr, "", ""),
        provider("lag", "openai_compatible", slow.addr, "latency-ms=1500", ""),
        r#"
[[models]]
name = "main"
provider = "hang"
fallbacks = ["backup"]
answer_timeout_ms = 300
answer_ms_per_token = 0
ttft_timeout_ms = 300

[[models]]
name = "quiet"
provider = "silent"
fallbacks = ["backup"]
ttft_timeout_ms = 300

[[models]]
name = "stalling"
provider = "slow"
fallbacks = ["backup"]
stall_timeout_ms = 300

[[models]]
name = "lagging"
provider = "lag"
fallbacks = ["backup"]

[[models]]
name = "backup"
provider = "b"
"#
    );
    let gw = start_gateway(&config, driver);
    for (model, why) in [
        ("main", "first-byte-timeout"),
        ("quiet", "first-token-timeout"),
    ] {
        for stream in [false, true] {
            let r = post_chat(gw.addr, &[], &chat_body(model, "hello", stream));
            assert_eq!(r.status, 200, "{model} {stream}: {}", r.text());
            assert_eq!(r.header("x-tollgate-provider"), Some("b"), "{}", route(&r));
            assert!(route(&r).contains(why), "{model} {stream}: {}", route(&r));
        }
    }
    // Silence mid-stream, after the commit point: an explicit error event.
    let r = post_chat(
        gw.addr,
        &[("x-mock-chunk-delay-ms", "5000")],
        &chat_body("stalling", "one two three", true),
    );
    assert_eq!(r.header("x-tollgate-provider"), Some("slow"));
    let data = sse_data(&r.body);
    assert!(
        data.last()
            .is_some_and(|d| d.contains("stream_interrupted")),
        "{data:?}"
    );
    // With no keys configured, every client may lower its own deadline.
    let r = post_chat(
        gw.addr,
        &[("x-tollgate-timeout-ms", "200")],
        &chat_body("lagging", "hello", false),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-tollgate-provider"), Some("b"), "{}", route(&r));
}

fn the_timeout_header_lowers_the_deadline_only_for_keys_allowed_to_use_it(driver: &str) {
    let (slow, b) = (start_mock(driver), start_mock(driver));
    unsafe {
        std::env::set_var("FAULTS_TEST_TRUSTED", "trusted-secret");
        std::env::set_var("FAULTS_TEST_PLAIN", "plain-secret");
    }
    let config = format!(
        "{HEAD}\n{}\n{}\n{}",
        provider(
            "slow",
            "openai_compatible",
            slow.addr,
            "latency-ms=1500",
            ""
        ),
        provider("b", "openai_compatible", b.addr, "", ""),
        r#"
[[keys]]
id = "trusted"
key = "env:FAULTS_TEST_TRUSTED"
allow_timeout_header = true

[[keys]]
id = "plain"
key = "env:FAULTS_TEST_PLAIN"

[[models]]
name = "m"
provider = "slow"
fallbacks = ["backup"]

[[models]]
name = "backup"
provider = "b"
"#
    );
    let gw = start_gateway(&config, driver);
    let trusted = ("authorization", "Bearer trusted-secret");
    let plain = ("authorization", "Bearer plain-secret");
    let lowered = ("x-tollgate-timeout-ms", "200");
    for stream in [false, true] {
        let body = chat_body("m", "hello", stream);
        let r = post_chat(gw.addr, &[trusted, lowered], &body);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-tollgate-provider"), Some("b"), "{}", route(&r));
        assert!(route(&r).contains("timeout"), "{}", route(&r));
        // Not allowed for this key: ignored, the primary answers in its own time.
        let r = post_chat(gw.addr, &[plain, lowered], &body);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.header("x-tollgate-provider"),
            Some("slow"),
            "{}",
            route(&r)
        );
    }
    let r = post_chat(
        gw.addr,
        &[trusted, ("x-tollgate-timeout-ms", "soon")],
        &chat_body("m", "hello", false),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.error_code(), "invalid_timeout_header");
}

on_both_drivers!(
    a_cut_whole_answer_falls_back_to_a_complete_one,
    a_cut_whole_answer_without_fallback_is_a_clean_502,
    a_primary_that_cuts_every_stream_loses_its_traffic,
    a_lone_deployment_is_tried_when_its_breaker_is_open,
    hung_primaries_give_way_within_the_model_timeouts,
    the_timeout_header_lowers_the_deadline_only_for_keys_allowed_to_use_it,
);
