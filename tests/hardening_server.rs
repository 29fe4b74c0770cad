//! The inbound server under hostile and unusual clients (issue 10): strict
//! framing, keyless large bodies, fd exhaustion, HTTP/1.0, half-closed clients.

mod common;

use common::*;

fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> Response {
    let mut c = Client::connect(addr);
    c.send(bytes);
    c.read_response().expect("an answer, not a silent close")
}

const CHAT: &str = "POST /v1/chat/completions";

fn lenient_framing_is_refused(driver: &str) {
    let mock = start_mock(driver);
    let gw = start_gateway(&mock_config(mock.addr, "", ""), driver);
    let body = chat_body("mock/echo", "hi", false);
    let chunked = |sep: &str, end: &str| {
        let mut r = format!("{CHAT} HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n")
            .into_bytes();
        r.extend_from_slice(format!("{:x}{sep}", body.len()).as_bytes());
        r.extend_from_slice(&body);
        r.extend_from_slice(format!("{end}0\r\n\r\n").as_bytes());
        r
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "no host",
            b"GET /healthz HTTP/1.1\r\n\r\n".to_vec(),
            "missing_host",
        ),
        (
            "two hosts",
            b"GET /healthz HTTP/1.1\r\nhost: a\r\nhost: a\r\n\r\n".to_vec(),
            "duplicate_host",
        ),
        (
            "TE on 1.0",
            format!("{CHAT} HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n").into_bytes(),
            "bad_transfer_encoding",
        ),
        (
            "bare LF after chunk size",
            chunked("\n", "\r\n"),
            "bad_chunked_body",
        ),
        (
            "bare LF after chunk data",
            chunked("\r\n", "\n"),
            "bad_chunked_body",
        ),
    ];
    for (name, bytes, code) in cases {
        let r = raw(gw.addr, &bytes);
        assert_eq!(r.status, 400, "{name}: {}", r.text());
        assert_eq!(r.error_code(), code, "{name}");
        assert!(
            r.closed,
            "{name}: the connection closes after a framing error"
        );
    }
    // The same body with CRLF everywhere, and an HTTP/1.0 request without Host, are served.
    assert_eq!(raw(gw.addr, &chunked("\r\n", "\r\n")).status, 200);
    assert_eq!(raw(gw.addr, b"GET /healthz HTTP/1.0\r\n\r\n").status, 200);
}

on_both_drivers!(lenient_framing_is_refused);
