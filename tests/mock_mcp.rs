//! The mock upstream's MCP server, through a real `tollgate mock-upstream`
//! process and raw HTTP: each era's handshake and session rules, the modern
//! request ladder, `echo` byte for byte, progress events before the answer,
//! pages, stats, list changes on a GET stream and on a `subscriptions/listen`
//! stream, and the outage switch. Both drivers.

mod common;

use common::*;
use simd_json::prelude::*;

const MODERN: &str = "2026-07-28";
const ACCEPT: (&str, &str) = ("accept", "application/json, text/event-stream");
const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}"#;

fn json(r: &Response) -> simd_json::OwnedValue {
    r.json()
}

/// `params` (an object's text) with the modern `_meta` added.
fn with_meta(params: &str) -> String {
    match params.strip_prefix('{').map(str::trim_start) {
        Some(rest) if rest.starts_with('}') => format!("{{{META}}}"),
        Some(rest) => format!("{{{META},{rest}"),
        None => panic!("params must be an object: {params}"),
    }
}

fn rpc(id: u32, method: &str, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#)
}

/// A modern request with the headers a conforming client sends.
fn modern(mock: &Proc, method: &str, name: Option<&str>, params: &str) -> Response {
    let mut headers = vec![
        ACCEPT,
        ("mcp-protocol-version", MODERN),
        ("mcp-method", method),
    ];
    headers.extend(name.map(|n| ("mcp-name", n)));
    post(
        mock.addr,
        "/mcp",
        &headers,
        rpc(1, method, &with_meta(params)).as_bytes(),
    )
}

fn error_code(r: &Response) -> i64 {
    json(r)["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("no error code: {}", r.text()))
}

/// `initialize` at `version`: the session id.
fn initialize(mock: &Proc, version: &str) -> (String, simd_json::OwnedValue) {
    let params = format!(
        r#"{{"protocolVersion":"{version}","capabilities":{{}},"clientInfo":{{"name":"t","version":"1"}}}}"#
    );
    let r = post(
        mock.addr,
        "/mcp",
        &[ACCEPT],
        rpc(1, "initialize", &params).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let session = r
        .header("mcp-session-id")
        .expect("a session id")
        .to_string();
    (session, json(&r))
}

fn legacy(mock: &Proc, session: &str, method: &str, params: &str) -> Response {
    let headers = [
        ACCEPT,
        ("mcp-session-id", session),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    post(
        mock.addr,
        "/mcp",
        &headers,
        rpc(2, method, params).as_bytes(),
    )
}

/// A raw request with no body (GET, DELETE) on a fresh connection.
fn bare(mock: &Proc, method: &str, headers: &[(&str, &str)]) -> Client {
    let mut c = Client::connect(mock.addr);
    let mut req = format!("{method} /mcp HTTP/1.1\r\nhost: test\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    c.send(req.as_bytes());
    c
}

/// SSE events off a streamed response, one at a time.
struct Events {
    client: Client,
    pending: Vec<u8>,
}

impl Events {
    fn new(client: Client) -> Self {
        Events {
            client,
            pending: Vec::new(),
        }
    }

    /// The next event's `data:` as JSON; keep-alive comments skipped.
    fn next(&mut self) -> Option<simd_json::OwnedValue> {
        loop {
            if let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = self.pending.drain(..end + 2).collect();
                let text = String::from_utf8(event).unwrap();
                let Some(data) = text.lines().find_map(|l| l.strip_prefix("data: ")) else {
                    continue;
                };
                let mut bytes = data.as_bytes().to_vec();
                return Some(simd_json::to_owned_value(&mut bytes).expect("JSON event"));
            }
            let piece = self.client.read_chunk_piece()?;
            self.pending.extend_from_slice(&piece);
        }
    }
}

fn legacy_handshake_and_sessions(driver: &str) {
    let mock = start_mock_with(driver, &["--mcp-era", "legacy"]);
    // A dual-era client's modern probe: 400 with no modern error in it.
    let probe = modern(&mock, "server/discover", None, "{}");
    assert_eq!(probe.status, 400, "{}", probe.text());
    assert_eq!(error_code(&probe), -32600);

    let (session, init) = initialize(&mock, "2025-06-18");
    assert_eq!(session.len(), 32);
    assert!(session.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init["result"]["serverInfo"]["name"], "tollgate-mock-mcp");
    assert!(
        init["result"]["capabilities"]["tools"]["listChanged"]
            .as_bool()
            .unwrap()
    );
    let (other, init) = initialize(&mock, "2099-01-01");
    assert_ne!(other, session);
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");

    let note = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let r = post(
        mock.addr,
        "/mcp",
        &[ACCEPT, ("mcp-session-id", &session)],
        note,
    );
    assert_eq!(r.status, 202);
    assert!(r.body.is_empty());

    let list = legacy(&mock, &session, "tools/list", "{}");
    assert_eq!(list.status, 200);
    assert_eq!(list.header("mcp-session-id"), Some(session.as_str()));
    let v = json(&list);
    assert_eq!(v["id"], 2);
    assert_eq!(v["result"]["tools"].as_array().unwrap().len(), 6);
    assert!(v["result"].get("resultType").is_none() && v["result"].get("ttlMs").is_none());
    assert_eq!(
        json(&legacy(&mock, &session, "ping", "{}"))["result"],
        simd_json::json!({})
    );

    let body = rpc(3, "tools/list", "{}");
    let missing = post(mock.addr, "/mcp", &[ACCEPT], body.as_bytes());
    assert_eq!((missing.status, error_code(&missing)), (400, -32600));
    let unknown = legacy(&mock, &"0".repeat(32), "tools/list", "{}");
    assert_eq!(unknown.status, 404);
    let wrong_version = [
        ACCEPT,
        ("mcp-session-id", &session[..]),
        ("mcp-protocol-version", MODERN),
    ];
    assert_eq!(
        post(mock.addr, "/mcp", &wrong_version, body.as_bytes()).status,
        400
    );
    let no_accept = post(
        mock.addr,
        "/mcp",
        &[("mcp-session-id", &session)],
        body.as_bytes(),
    );
    assert_eq!(no_accept.status, 406);

    let mut gone = bare(&mock, "DELETE", &[("mcp-session-id", &session)]);
    assert_eq!(gone.read_response().unwrap().status, 200);
    assert_eq!(legacy(&mock, &session, "tools/list", "{}").status, 404);
    assert_eq!(legacy(&mock, &other, "tools/list", "{}").status, 200);
    let mut no_session = bare(&mock, "DELETE", &[]);
    assert_eq!(no_session.read_response().unwrap().status, 400);
}

type LadderCase<'a> = (Vec<(&'a str, &'a str)>, String, u16, i64);

fn modern_ladder(driver: &str) {
    let mock = start_mock_with(driver, &["--mcp-era", "modern"]);
    let d = modern(&mock, "server/discover", None, "{}");
    assert_eq!(d.status, 200, "{}", d.text());
    assert!(d.header("mcp-session-id").is_none());
    let v = json(&d);
    assert_eq!(v["result"]["resultType"], "complete");
    assert_eq!(v["result"]["supportedVersions"], simd_json::json!([MODERN]));
    assert_eq!(v["result"]["ttlMs"], 0);
    assert_eq!(v["result"]["cacheScope"], "public");
    assert_eq!(
        v["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "tollgate-mock-mcp"
    );

    // A legacy client is told which versions are served.
    let init = post(
        mock.addr,
        "/mcp",
        &[ACCEPT],
        rpc(1, "initialize", r#"{"protocolVersion":"2025-11-25"}"#).as_bytes(),
    );
    assert_eq!((init.status, error_code(&init)), (400, -32022));
    assert_eq!(
        json(&init)["error"]["data"]["supported"],
        simd_json::json!([MODERN])
    );
    assert_eq!(json(&init)["error"]["data"]["requested"], "2025-11-25");
    for method in ["GET", "DELETE"] {
        let r = bare(&mock, method, &[ACCEPT]).read_response().unwrap();
        assert_eq!(
            (r.status, r.header("allow")),
            (405, Some("POST")),
            "{method}"
        );
    }

    let call = with_meta(r#"{"name":"echo","arguments":{}}"#);
    let send =
        |headers: &[(&str, &str)], body: &str| post(mock.addr, "/mcp", headers, body.as_bytes());
    let base = [
        ACCEPT,
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/call"),
    ];
    let with = |extra: (&'static str, &'static str)| {
        let mut h = base.to_vec();
        h.push(extra);
        h
    };
    let body = rpc(5, "tools/call", &call);
    // (headers, body, status, JSON-RPC code or 0)
    let cases: Vec<LadderCase> = vec![
        (base.to_vec(), body.clone(), 400, -32020),
        (with(("mcp-name", "add")), body.clone(), 400, -32020),
        (
            with(("mcp-name", "=?base64?ZWNobw==?=")),
            body.clone(),
            200,
            0,
        ),
        (with(("mcp-name", "echo")), body.clone(), 200, 0),
        (
            with(("mcp-name", "echo")),
            body.replace("tools/call", "tools/list"),
            400,
            -32020,
        ),
        (
            vec![ACCEPT, ("mcp-method", "tools/call"), ("mcp-name", "echo")],
            body.clone(),
            400,
            -32020,
        ),
        (
            with(("mcp-name", "echo")),
            rpc(5, "tools/call", r#"{"name":"echo"}"#),
            400,
            -32602,
        ),
        (
            with(("mcp-name", "echo")),
            body.replace(
                r#""io.modelcontextprotocol/clientCapabilities":{}"#,
                r#""x":{}"#,
            ),
            400,
            -32602,
        ),
        (
            vec![
                ACCEPT,
                ("mcp-protocol-version", "1900-01-01"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "echo"),
            ],
            body.replace(MODERN, "1900-01-01"),
            400,
            -32022,
        ),
        (
            with(("mcp-name", "echo")),
            "{not json".to_string(),
            400,
            -32700,
        ),
    ];
    for (i, (headers, body, status, code)) in cases.into_iter().enumerate() {
        let r = send(&headers, &body);
        assert_eq!(r.status, status, "case {i}: {}", r.text());
        if code != 0 {
            assert_eq!(error_code(&r), code, "case {i}");
        }
    }
    let unsupported = send(
        &[
            ACCEPT,
            ("mcp-protocol-version", "1900-01-01"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "echo"),
        ],
        &body.replace(MODERN, "1900-01-01"),
    );
    assert_eq!(
        json(&unsupported)["error"]["data"]["requested"],
        "1900-01-01"
    );
    let dup = post(
        mock.addr,
        "/mcp",
        &[
            ACCEPT,
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "echo"),
        ],
        body.as_bytes(),
    );
    assert_eq!(error_code(&dup), -32020);

    let nope = modern(&mock, "nope/nothing", None, "{}");
    assert_eq!((nope.status, error_code(&nope)), (404, -32601));
    let note = format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/x","params":{}}}"#,
        with_meta("{}")
    );
    assert_eq!(send(&base, &note).status, 202);
}

fn both_eras_on_one_endpoint(driver: &str) {
    let mock = start_mock(driver);
    let d = json(&modern(&mock, "server/discover", None, "{}"));
    assert_eq!(
        d["result"]["supportedVersions"],
        simd_json::json!([MODERN, "2025-11-25", "2025-06-18", "2025-03-26"])
    );
    let (session, _) = initialize(&mock, "2025-11-25");
    let r = legacy(
        &mock,
        &session,
        "tools/call",
        r#"{"name":"add","arguments":{"a":2,"b":40}}"#,
    );
    assert_eq!(json(&r)["result"]["structuredContent"]["sum"], 42);
    let r = modern(
        &mock,
        "tools/call",
        Some("add"),
        r#"{"name":"add","arguments":{"a":0.5,"b":2}}"#,
    );
    let v = json(&r);
    assert_eq!(v["result"]["resultType"], "complete");
    assert_eq!(v["result"]["content"][0]["text"], "2.5");
    let stats = get(mock.addr, "/mock/mcp/stats").json();
    assert_eq!(stats["eras"]["legacy"], 2);
    assert_eq!(stats["eras"]["modern"], 2);
    assert_eq!(stats["tools"]["add"], 2);
    assert_eq!(stats["methods"]["initialize"], 1);
    assert_eq!(stats["methods"]["server/discover"], 1);
    assert_eq!(stats["sessions"], 1);
}

fn echo_is_byte_exact(driver: &str) {
    let mock = start_mock(driver);
    let args = r#"{ "z" : [1, 2.50, {"é":"\u00e9\n"}],"a":null ,"t":true}"#;
    let params = format!(r#"{{"name":"echo","arguments":{args}}}"#);
    let (session, _) = initialize(&mock, "2025-11-25");
    for r in [
        modern(&mock, "tools/call", Some("echo"), &params),
        legacy(&mock, &session, "tools/call", &params),
    ] {
        assert_eq!(r.status, 200, "{}", r.text());
        let v = json(&r);
        assert_eq!(v["result"]["content"][0]["text"], args);
        assert_eq!(v["result"]["isError"], false);
        let mut raw = args.as_bytes().to_vec();
        assert_eq!(
            v["result"]["structuredContent"],
            simd_json::to_owned_value(&mut raw).unwrap()
        );
        let text = r.text();
        assert!(
            text.contains(&format!(r#""structuredContent":{args}"#)),
            "{text}"
        );
    }
}

fn tools_fail_their_own_ways(driver: &str) {
    let mock = start_mock(driver);
    let fail = json(&modern(
        &mock,
        "tools/call",
        Some("fail"),
        r#"{"name":"fail"}"#,
    ));
    assert_eq!(fail["result"]["isError"], true);
    let boom = modern(&mock, "tools/call", Some("boom"), r#"{"name":"boom"}"#);
    assert_eq!((boom.status, error_code(&boom)), (200, -32603));
    let unknown = modern(&mock, "tools/call", Some("nope"), r#"{"name":"nope"}"#);
    assert_eq!((unknown.status, error_code(&unknown)), (400, -32602));
    let read = json(&modern(
        &mock,
        "tools/call",
        Some("read_file"),
        r#"{"name":"read_file","arguments":{"path":"/srv/data/../etc/passwd"}}"#,
    ));
    assert_eq!(
        read["result"]["content"][0]["text"],
        "/srv/data/../etc/passwd"
    );
    let greet = json(&modern(
        &mock,
        "prompts/get",
        Some("greet"),
        r#"{"name":"greet","arguments":{"name":"Ada"}}"#,
    ));
    assert_eq!(
        greet["result"]["messages"][0]["content"]["text"],
        "Hello, Ada!"
    );
    let item = json(&modern(
        &mock,
        "resources/read",
        Some("mock://items/7"),
        r#"{"uri":"mock://items/7"}"#,
    ));
    assert_eq!(item["result"]["contents"][0]["text"], r#"{"id":"7"}"#);
    let stats = get(mock.addr, "/mock/mcp/stats").json();
    assert_eq!(stats["tools"]["boom"], 1);
    assert_eq!(stats["tools"]["unknown"], 1);
}

fn progress_comes_before_the_answer(driver: &str) {
    let mock = start_mock(driver);
    let params =
        r#"{"name":"slow","arguments":{"steps":3,"delay_ms":5},"_meta":{"progressToken":"tok-1"}}"#;
    // `_meta` is the progress token's and the envelope's: merge them.
    let body = rpc(9, "tools/call", params).replace(
        r#""_meta":{"progressToken":"tok-1"}"#,
        &META.replace(r#""_meta":{"#, r#""_meta":{"progressToken":"tok-1","#),
    );
    let headers = [
        ACCEPT,
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/call"),
        ("mcp-name", "slow"),
    ];
    let r = post(mock.addr, "/mcp", &headers, body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let events: Vec<_> = sse_data(&r.body)
        .into_iter()
        .map(|d| simd_json::to_owned_value(&mut d.into_bytes()).unwrap())
        .collect();
    assert_eq!(events.len(), 4, "{}", r.text());
    for (i, e) in events[..3].iter().enumerate() {
        assert_eq!(e["method"], "notifications/progress");
        assert_eq!(e["params"]["progressToken"], "tok-1");
        assert_eq!(e["params"]["progress"], i as u64 + 1);
        assert_eq!(e["params"]["total"], 3);
    }
    assert_eq!(events[3]["id"], 9);
    assert_eq!(events[3]["result"]["structuredContent"]["steps"], 3);

    let plain = modern(
        &mock,
        "tools/call",
        Some("slow"),
        r#"{"name":"slow","arguments":{"steps":2,"delay_ms":1}}"#,
    );
    assert_eq!(plain.header("content-type"), Some("application/json"));
    assert_eq!(
        json(&plain)["result"]["content"][0]["text"],
        "done after 2 steps"
    );
}

fn pages_follow_the_cursor(driver: &str) {
    let mock = start_mock_with(driver, &["--mcp-page-size", "4", "--mcp-ttl-ms", "1500"]);
    let first = json(&modern(&mock, "tools/list", None, "{}"));
    assert_eq!(first["result"]["tools"].as_array().unwrap().len(), 4);
    assert_eq!(first["result"]["ttlMs"], 1500);
    let cursor = first["result"]["nextCursor"].as_str().unwrap().to_string();
    let second = json(&modern(
        &mock,
        "tools/list",
        None,
        &format!(r#"{{"cursor":"{cursor}"}}"#),
    ));
    let names: Vec<_> = second["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["boom", "read_file"]);
    assert!(second["result"].get("nextCursor").is_none());
    let bad = modern(&mock, "tools/list", None, r#"{"cursor":"page-3"}"#);
    assert_eq!(error_code(&bad), -32602);
}

fn mutations_reach_open_streams(driver: &str) {
    let mock = start_mock(driver);
    let (session, _) = initialize(&mock, "2025-11-25");
    let mut get_stream = bare(
        &mock,
        "GET",
        &[
            ("accept", "text/event-stream"),
            ("mcp-session-id", &session),
        ],
    );
    let (status, headers) = get_stream.read_head().unwrap();
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "mcp-session-id" && *v == session)
    );
    let second = bare(
        &mock,
        "GET",
        &[
            ("accept", "text/event-stream"),
            ("mcp-session-id", &session),
        ],
    )
    .read_response()
    .unwrap();
    assert_eq!(second.status, 409);

    let mut listen = Client::connect(mock.addr);
    let params = with_meta(r#"{"notifications":{"toolsListChanged":true}}"#);
    listen.post(
        "/mcp",
        &[
            ACCEPT,
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "subscriptions/listen"),
        ],
        rpc(77, "subscriptions/listen", &params).as_bytes(),
    );
    assert_eq!(listen.read_head().unwrap().0, 200);
    let mut listen = Events::new(listen);
    let ack = listen.next().unwrap();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        77
    );
    assert_eq!(
        ack["params"]["notifications"],
        simd_json::json!({"toolsListChanged": true})
    );
    eventually("both streams open", || {
        get(mock.addr, "/mock/mcp/stats").json()["listeners"] == 2
    });

    let m = post(mock.addr, "/mock/mcp/mutate", &[], b"");
    assert_eq!(m.json()["generation"], 1);
    let changed = listen.next().unwrap();
    assert_eq!(changed["method"], "notifications/tools/list_changed");
    assert_eq!(
        changed["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        77
    );
    let mut get_events = Events::new(get_stream);
    assert_eq!(
        get_events.next().unwrap()["method"],
        "notifications/tools/list_changed"
    );
    let list = json(&modern(&mock, "tools/list", None, "{}"));
    let echo = &list["result"]["tools"][0];
    assert_eq!(echo["name"], "echo");
    assert!(echo["description"].as_str().unwrap().contains("revision 1"));

    // Ending the session ends its GET stream.
    bare(&mock, "DELETE", &[("mcp-session-id", &session)])
        .read_response()
        .unwrap();
    assert!(get_events.next().is_none());
    eventually("one stream left", || {
        get(mock.addr, "/mock/mcp/stats").json()["listeners"] == 1
    });
}

fn an_outage_until_lifted(driver: &str) {
    let mock = start_mock(driver);
    let mut listen = Client::connect(mock.addr);
    listen.post(
        "/mcp",
        &[
            ACCEPT,
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "subscriptions/listen"),
        ],
        rpc(1, "subscriptions/listen", &with_meta("{}")).as_bytes(),
    );
    let mut listen = {
        assert_eq!(listen.read_head().unwrap().0, 200);
        Events::new(listen)
    };
    assert!(listen.next().is_some());
    assert_eq!(post(mock.addr, "/mock/mcp/fail?on=1", &[], b"").status, 200);
    assert_eq!(modern(&mock, "tools/list", None, "{}").status, 503);
    assert!(listen.next().is_none(), "an outage cuts open streams");
    assert_eq!(
        post(mock.addr, "/mock/mcp/fail?on=maybe", &[], b"").status,
        400
    );
    assert_eq!(post(mock.addr, "/mock/mcp/fail?on=0", &[], b"").status, 200);
    assert_eq!(modern(&mock, "tools/list", None, "{}").status, 200);
    assert_eq!(get(mock.addr, "/mock/mcp/stats").json()["outage"], 1);
}

on_both_drivers!(
    legacy_handshake_and_sessions,
    modern_ladder,
    both_eras_on_one_endpoint,
    echo_is_byte_exact,
    tools_fail_their_own_ways,
    progress_comes_before_the_answer,
    pages_follow_the_cursor,
    mutations_reach_open_streams,
    an_outage_until_lifted,
);
