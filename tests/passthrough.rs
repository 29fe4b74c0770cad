//! OpenAI passthrough through the real gateway to the real mock upstream:
//! byte-exact bodies, streaming as it arrives, keep-alive on both sides,
//! chunked request bodies, upstream failures.

mod common;

use common::*;

fn non_stream_body_passes_byte_exact(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    // Odd spacing, unicode escapes and unknown fields must survive untouched.
    let body = br#"{ "model" : "same", "messages":[{"role":"user","content":"h\u00e9llo \"q\""}],"x_vendor":{"a":[1,2.50,null]} }"#;
    let r = post_chat(gw.addr, &[("x-mock-echo-body", "1")], body);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        body.to_vec(),
        "request body must reach the upstream byte for byte"
    );
    assert_eq!(r.header("x-tollgate-provider"), Some("mockup"));
    assert_eq!(r.header("x-tollgate-model"), Some("same"));

    // With an alias, only the model value changes.
    let body = br#"{"messages":[{"role":"user","content":"hi"}],"model":"fast","temperature":0.7}"#;
    let r = post_chat(gw.addr, &[("x-mock-echo-body", "1")], body);
    assert_eq!(
        r.text(),
        r#"{"messages":[{"role":"user","content":"hi"}],"model":"mock-fast","temperature":0.7}"#
    );
    assert_eq!(r.header("x-tollgate-model"), Some("mock-fast"));

    // A repeated `model` is ambiguous (parsers disagree on which wins): the
    // upstream gets one, the routed one, never the client's second choice.
    let body = br#"{"model":"fast","messages":[{"role":"user","content":"hi"}],"model":"same"}"#;
    let r = post_chat(gw.addr, &[("x-mock-echo-body", "1")], body);
    assert_eq!(r.status, 200);
    let sent = r.text();
    assert_eq!(sent.matches("\"model\"").count(), 1, "{sent}");
    assert!(sent.contains("\"model\":\"mock-fast\""), "{sent}");
    // Also when the routed model needs no rewrite.
    let body =
        br#"{"model":"same","messages":[{"role":"user","content":"hi"}],"model":"gpt-expensive"}"#;
    let sent = post_chat(gw.addr, &[("x-mock-echo-body", "1")], body).text();
    assert_eq!(sent.matches("\"model\"").count(), 1, "{sent}");
    assert!(sent.contains("\"model\":\"same\""), "{sent}");
}

fn non_stream_round_trip(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let r = post_chat(
        gw.addr,
        &[("x-request-id", "abc-123")],
        &chat_body("fast", "hello world", false),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-request-id"), Some("abc-123"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    use simd_json::prelude::*;
    assert_eq!(
        v["choices"][0]["message"]["content"].as_str(),
        Some("hello world")
    );
    assert_eq!(v["model"].as_str(), Some("mock-fast"));
    assert!(v["usage"]["total_tokens"].as_u64().unwrap() > 0);
    // Without a client id, the gateway makes one.
    let r = post_chat(gw.addr, &[], &chat_body("fast", "x", false));
    assert!(
        r.header("x-request-id")
            .is_some_and(|id| id.starts_with("req_"))
    );
}

fn stream_round_trip_with_usage(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let body = br#"{"model":"fast","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three"}]}"#;
    let r = post_chat(gw.addr, &[], body);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let data = sse_data(&r.body);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let text: String = data
        .iter()
        .filter(|d| d.starts_with('{'))
        .filter_map(|d| {
            let mut b = d.clone().into_bytes();
            let v = simd_json::to_owned_value(&mut b).unwrap();
            use simd_json::prelude::*;
            let choice = v.get("choices")?.as_array()?.first()?;
            choice
                .get("delta")?
                .get("content")?
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(text, "one two three");
    let usage_chunk = &data[data.len() - 2];
    assert!(
        usage_chunk.contains("\"choices\":[]") && usage_chunk.contains("\"usage\""),
        "{usage_chunk}"
    );
}

fn first_event_arrives_while_upstream_still_sending(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let mut c = Client::connect(gw.addr);
    c.post(
        "/v1/chat/completions",
        &[("x-mock-chunks", "6"), ("x-mock-chunk-delay-ms", "400")],
        &chat_body("fast", "a fairly long answer to split", true),
    );
    let (status, _) = c.read_head().unwrap();
    assert_eq!(status, 200);
    let first = c.read_chunk_piece().unwrap();
    assert!(
        String::from_utf8_lossy(&first).starts_with("data: {"),
        "{first:?}"
    );
    // The mock has not finished its stream yet: the event was relayed, not buffered.
    assert_eq!(stat(mock.addr, "streams_started"), 1);
    assert_eq!(stat(mock.addr, "streams_completed"), 0);
    let mut rest = Vec::new();
    while let Some(p) = c.read_chunk_piece() {
        rest.extend_from_slice(&p);
    }
    assert!(String::from_utf8_lossy(&rest).ends_with("data: [DONE]\n\n"));
    eventually("mock finished its stream", || {
        stat(mock.addr, "streams_completed") == 1
    });
}

fn keep_alive_is_reused_on_both_sides(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let mut c = Client::connect(gw.addr);
    for i in 0..20 {
        let stream = i % 2 == 1;
        c.post(
            "/v1/chat/completions",
            &[],
            &chat_body("fast", &format!("n{i}"), stream),
        );
        let r = c.read_response().unwrap();
        assert_eq!(r.status, 200);
        assert!(!r.closed);
        assert!(r.text().contains(&format!("n{i}")));
    }
    use simd_json::prelude::*;
    let stats = mock_stats(mock.addr);
    assert_eq!(stats["requests"].as_u64(), Some(20));
    // The upstream connection, plus the one this stats call came on.
    assert_eq!(
        stats["connections_opened"].as_u64(),
        Some(2),
        "one upstream connection, reused"
    );
    let metrics = c_metrics(gw.addr);
    assert!(
        metrics.contains("tollgate_upstream_connections_opened_total{worker=\"0\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tollgate_upstream_connections_reused_total{worker=\"0\"} 19\n"),
        "{metrics}"
    );
}

fn c_metrics(addr: std::net::SocketAddr) -> String {
    get(addr, "/metrics").text()
}

fn chunked_request_body(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let body = chat_body("fast", "chunked body", false);
    let (a, b) = body.split_at(10);
    let mut c = Client::connect(gw.addr);
    let mut req =
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    req.extend_from_slice(format!("{:x}\r\n", a.len()).as_bytes());
    req.extend_from_slice(a);
    req.extend_from_slice(format!("\r\n{:X};ext=1\r\n", b.len()).as_bytes());
    req.extend_from_slice(b);
    req.extend_from_slice(b"\r\n0\r\n\r\n");
    c.send(&req);
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("chunked body"));
    // Expect: 100-continue is answered before the body is sent.
    let mut c = Client::connect(gw.addr);
    let body = chat_body("fast", "continued", false);
    c.send(format!("POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\ncontent-length: {}\r\n\r\n", body.len()).as_bytes());
    let mut first = [0u8; 25];
    std::io::Read::read_exact(&mut c.stream, &mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.send(&body);
    assert_eq!(c.read_response().unwrap().status, 200);
}

fn upstream_errors_relay_with_their_status(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let r = post_chat(
        gw.addr,
        &[("x-mock-fault", "status=429;retry-after=30")],
        &chat_body("fast", "x", false),
    );
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("30"));
    assert_eq!(r.error_code(), "mock_fault");
    // The provider's own error goes out as it came: body byte for byte, rate-limit headers kept.
    let direct = post_chat(
        mock.addr,
        &[("x-mock-fault", "status=429;retry-after=30")],
        &chat_body("fast", "x", false),
    );
    assert_eq!(r.body, direct.body);
    assert_eq!(r.header("x-ratelimit-remaining-requests"), Some("0"));
    let r = post_chat(
        gw.addr,
        &[("x-mock-fault", "status=503")],
        &chat_body("fast", "x", false),
    );
    assert_eq!(r.status, 503);
}

fn unreachable_and_hanging_upstreams_fail_cleanly(driver: &str) {
    let mock = start_mock(driver);
    // A port nothing listens on: bind one, note it, drop it.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = mock_config(mock.addr, "", "first_byte_timeout_ms = 300").replace(
        "[[providers]]\nname = \"local\"",
        &format!("[[providers]]\nname = \"dead\"\nkind = \"openai_compatible\"\nbase_url = \"http://{dead}/v1\"\n\n[[models]]\nname = \"gone\"\nprovider = \"dead\"\n\n[[providers]]\nname = \"local\""),
    );
    let gw = start_gateway(&config, driver);
    let r = post_chat(gw.addr, &[], &chat_body("gone", "x", false));
    assert_eq!(r.status, 502);
    assert_eq!(r.error_code(), "upstream_connect_error");
    let r = post_chat(
        gw.addr,
        &[("x-mock-fault", "hang")],
        &chat_body("fast", "x", false),
    );
    assert_eq!(r.status, 504);
    assert_eq!(r.error_code(), "upstream_timeout");
    // The gateway still serves.
    assert_eq!(
        post_chat(gw.addr, &[], &chat_body("fast", "x", false)).status,
        200
    );
}

fn stream_cut_becomes_an_error_event(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let r = post_chat(
        gw.addr,
        &[("x-mock-fault", "cut-after=2")],
        &chat_body("fast", "a b c d e", true),
    );
    assert_eq!(r.status, 200);
    let data = sse_data(&r.body);
    assert!(
        !data.iter().any(|d| d == "[DONE]"),
        "a cut stream must not end cleanly: {data:?}"
    );
    let last = data.last().unwrap();
    assert!(
        last.contains("\"error\"") && last.contains("stream_interrupted"),
        "{last}"
    );
}

fn models_health_and_ready(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let r = get(gw.addr, "/v1/models");
    assert_eq!(r.status, 200);
    let text = r.text();
    for m in ["\"fast\"", "\"same\"", "\"mock/echo\""] {
        assert!(text.contains(m), "{text}");
    }
    assert_eq!(get(gw.addr, "/healthz").status, 200);
    assert_eq!(get(gw.addr, "/readyz").status, 200);
    let r = get(gw.addr, "/metrics");
    assert!(
        r.text().contains("tollgate_config_generation 1"),
        "{}",
        r.text()
    );
}

on_both_drivers!(
    non_stream_body_passes_byte_exact,
    non_stream_round_trip,
    stream_round_trip_with_usage,
    first_event_arrives_while_upstream_still_sending,
    keep_alive_is_reused_on_both_sides,
    chunked_request_body,
    upstream_errors_relay_with_their_status,
    unreachable_and_hanging_upstreams_fail_cleanly,
    stream_cut_becomes_an_error_event,
    models_health_and_ready,
);
