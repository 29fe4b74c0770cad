//! Malformed and hostile input: each gets the right status and an
//! OpenAI-shaped error, and the worker keeps serving afterwards.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;

const LIMITS: &str = "max_header_bytes = 4096\nmax_headers = 32\nmax_body_bytes = 65536\nheader_timeout_ms = 400\nbody_timeout_ms = 400";

/// A raw exchange on a fresh connection: the response and whether the
/// connection then closed.
fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> Response {
    let mut c = Client::connect(addr);
    c.send(bytes);
    c.read_response().expect("an answer, not a silent close")
}

fn post_raw(body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

fn still_serving(gw: &Gateway) {
    let r = post_chat(gw.addr, &[], &chat_body("mock/echo", "alive", false));
    assert_eq!(r.status, 200);
    assert!(r.text().contains("alive"));
}

fn hostile_inputs_get_the_right_status(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, LIMITS, ""), driver);
    let big_header = format!(
        "GET /healthz HTTP/1.1\r\nhost: t\r\nx-big: {}\r\n\r\n",
        "a".repeat(8000)
    );
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nhost: t\r\n{}\r\n",
        (0..40)
            .map(|i| format!("x-h{i}: v\r\n"))
            .collect::<String>()
    );
    let over_limit = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\r\n",
        70_000
    );
    let chunked_over = {
        let mut r =
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n"
                .to_vec();
        for _ in 0..5 {
            r.extend_from_slice(format!("4000\r\n{}\r\n", "x".repeat(0x4000)).as_bytes());
        }
        r.extend_from_slice(b"0\r\n\r\n");
        r
    };
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("bad json", post_raw(b"{\"model\":"), 400, "invalid_json"),
        ("not an object", post_raw(b"[1,2]"), 400, "invalid_type"),
        ("empty body", post_raw(b""), 400, "missing_body"),
        ("model is a number", post_raw(br#"{"model":7,"messages":[{"role":"user","content":"x"}]}"#), 400, "invalid_type"),
        ("model missing", post_raw(br#"{"messages":[{"role":"user","content":"x"}]}"#), 400, "missing_required_parameter"),
        ("messages missing", post_raw(br#"{"model":"fast"}"#), 400, "missing_required_parameter"),
        ("messages not array", post_raw(br#"{"model":"fast","messages":"hi"}"#), 400, "invalid_type"),
        ("messages empty", post_raw(br#"{"model":"fast","messages":[]}"#), 400, "invalid_value"),
        ("message without role", post_raw(br#"{"model":"fast","messages":[{"content":"x"}]}"#), 400, "missing_required_parameter"),
        ("stream not bool", post_raw(br#"{"model":"fast","stream":1,"messages":[{"role":"user"}]}"#), 400, "invalid_type"),
        ("stream_options wrong", post_raw(br#"{"model":"fast","stream":true,"stream_options":{"include_usage":"y"},"messages":[{"role":"user"}]}"#), 400, "invalid_type"),
        ("invalid utf-8", post_raw(b"{\"model\":\"fast\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}"), 400, "invalid_json"),
        ("unknown model", post_raw(br#"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#), 404, "model_not_found"),
        ("huge header", big_header.into_bytes(), 431, "headers_too_large"),
        ("too many headers", many_headers.into_bytes(), 431, "too_many_headers"),
        ("body over limit", over_limit.into_bytes(), 413, "request_too_large"),
        ("chunked body over limit", chunked_over, 413, "request_too_large"),
        ("bad request line", b"HELLO\x01 / HTTP/1.1\r\n\r\n".to_vec(), 400, "malformed_request"),
        ("bad content-length", b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ncontent-length: 1x\r\n\r\n".to_vec(), 400, "bad_content_length"),
        ("conflicting content-length", b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nab".to_vec(), 400, "bad_content_length"),
        ("smuggling: CL and TE", b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), 400, "bad_framing"),
        ("unsupported transfer-encoding", b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ntransfer-encoding: gzip, chunked\r\n\r\n".to_vec(), 400, "bad_transfer_encoding"),
        ("bad chunk size", b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".to_vec(), 400, "bad_chunked_body"),
        ("header with NUL", b"GET /healthz HTTP/1.1\r\nhost: t\r\nx-a: b\x00c\r\n\r\n".to_vec(), 400, "malformed_request"),
        ("wrong method", b"DELETE /v1/chat/completions HTTP/1.1\r\nhost: t\r\n\r\n".to_vec(), 405, "method_not_allowed"),
        ("unknown route", b"GET /v2/everything HTTP/1.1\r\nhost: t\r\n\r\n".to_vec(), 404, "not_found"),
    ];
    assert!(cases.len() >= 20);
    for (name, bytes, status, code) in cases {
        let r = raw(gw.addr, &bytes);
        assert_eq!(r.status, status, "{name}: {}", r.text());
        assert_eq!(r.error_code(), code, "{name}");
        still_serving(&gw);
    }
}

fn pipelined_garbage_after_a_good_request(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, LIMITS, ""), driver);
    let mut bytes = post_raw(&chat_body("mock/echo", "first", false));
    bytes.extend_from_slice(&post_raw(&chat_body("mock/echo", "second", false)));
    bytes.extend_from_slice(b"\x16\x03\x01garbage that is not http\r\n\r\n");
    let mut c = Client::connect(gw.addr);
    c.send(&bytes);
    let first = c.read_response().unwrap();
    assert!(first.text().contains("first"));
    let second = c.read_response().unwrap();
    assert!(second.text().contains("second"));
    let third = c.read_response().unwrap();
    assert_eq!(third.status, 400);
    assert_eq!(third.error_code(), "malformed_request");
    assert!(c.is_closed());
    still_serving(&gw);
}

fn slow_clients_are_timed_out(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, LIMITS, ""), driver);
    // Headers that never finish.
    let mut c = Client::connect(gw.addr);
    c.send(b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\n");
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 408);
    assert_eq!(r.error_code(), "request_timeout");
    assert!(c.is_closed());
    // A body that never finishes.
    let mut c = Client::connect(gw.addr);
    c.send(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ncontent-length: 100\r\n\r\n{\"model\"",
    );
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 408);
    assert!(c.is_closed());
    // A client that dribbles one byte at a time still gets the header deadline.
    let mut c = Client::connect(gw.addr);
    for b in b"GET /healthz HTTP/1.1\r\nhost: t\r\nx-slow: ".iter() {
        c.stream.write_all(&[*b]).unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 408);
    still_serving(&gw);
}

fn idle_keep_alive_connections_close(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "idle_timeout_ms = 300", ""), driver);
    let mut c = Client::connect(gw.addr);
    c.get("/healthz");
    assert_eq!(c.read_response().unwrap().status, 200);
    // Nothing more is sent: the server closes without a response.
    assert!(c.is_closed());
}

fn http10_and_connection_close(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let mut c = Client::connect(gw.addr);
    c.send(b"GET /healthz HTTP/1.0\r\n\r\n");
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 200);
    assert!(c.is_closed());
    let mut c = Client::connect(gw.addr);
    c.send(b"GET /healthz HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n");
    let r = c.read_response().unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.is_closed());
}

on_both_drivers!(
    hostile_inputs_get_the_right_status,
    pipelined_garbage_after_a_good_request,
    slow_clients_are_timed_out,
    idle_keep_alive_connections_close,
    http10_and_connection_close,
);
