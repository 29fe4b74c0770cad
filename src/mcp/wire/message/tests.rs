use super::*;

fn code_of(body: &str) -> Option<i32> {
    parse(body.as_bytes()).err().map(|e| e.code)
}

#[test]
fn messages_are_told_apart_by_kind() {
    for (body, kind, id, method) in [
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            Kind::Request,
            Some("1"),
            Some("tools/list"),
        ),
        (
            r#"{"jsonrpc":"2.0","id":"a-1","method":"tools\/call","params":{}}"#,
            Kind::Request,
            Some(r#""a-1""#),
            Some("tools/call"),
        ),
        (
            r#"{"method":"notifications/initialized","jsonrpc":"2.0"}"#,
            Kind::Notification,
            None,
            Some("notifications/initialized"),
        ),
        (
            r#"{"jsonrpc":"2.0","id":-7,"result":{}}"#,
            Kind::Response,
            Some("-7"),
            None,
        ),
        (
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#,
            Kind::Error,
            None,
            None,
        ),
        (
            r#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"x"}}"#,
            Kind::Error,
            None,
            None,
        ),
        (
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"x"}}"#,
            Kind::Error,
            Some("3"),
            None,
        ),
    ] {
        let m = parse(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e:?}"));
        assert_eq!(m.kind, kind, "{body}");
        assert_eq!(m.id, id.map(str::as_bytes), "{body}");
        assert_eq!(m.method.as_deref(), method, "{body}");
    }
}

#[test]
fn spans_point_into_the_body() {
    let body = br#" {"jsonrpc":"2.0","id":1,"method":"m","params": {"a":[1]} } "#;
    let m = parse(body).unwrap();
    assert_eq!(&body[m.params.unwrap()], br#"{"a":[1]}"#);
    let body = br#"{"jsonrpc":"2.0","id":1,"result":{"x":"}"}}"#;
    assert_eq!(&body[parse(body).unwrap().result.unwrap()], br#"{"x":"}"}"#);
    let body = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":""}}"#;
    assert_eq!(
        &body[parse(body).unwrap().error.unwrap()],
        br#"{"code":-1,"message":""}"#
    );
}

#[test]
fn malformed_messages_get_their_code() {
    for (body, code) in [
        ("", code::PARSE_ERROR),
        ("{", code::PARSE_ERROR),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"m"} x"#,
            code::PARSE_ERROR,
        ),
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"m"}]"#,
            code::INVALID_REQUEST,
        ),
        ("[]", code::INVALID_REQUEST),
        ("1", code::INVALID_REQUEST),
        (r#"{"id":1,"method":"m"}"#, code::INVALID_REQUEST),
        (
            r#"{"jsonrpc":"1.0","id":1,"method":"m"}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":2.0,"id":1,"method":"m"}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":"2.0","id":null,"method":"m"}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1e3,"method":"m"}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":"2.0","id":true,"method":"m"}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":"2.0","id":{},"method":"m"}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"m","params":[1]}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"m","params":null}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"m","result":{}}"#,
            code::INVALID_REQUEST,
        ),
        (r#"{"jsonrpc":"2.0","id":1}"#, code::INVALID_REQUEST),
        (r#"{"jsonrpc":"2.0","result":{}}"#, code::INVALID_REQUEST),
        (
            r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"error":"x"}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"m"}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"m","\u006dethod":"n"}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"name":"a","name":"b"}}"#,
            code::INVALID_REQUEST,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"arguments":{"p":[{"x":1,"x":2}]}}}"#,
            code::INVALID_REQUEST,
        ),
    ] {
        assert_eq!(code_of(body), Some(code), "{body}");
    }
    // Repeats inside a result are the upstream's business, not refused.
    assert_eq!(
        code_of(r#"{"jsonrpc":"2.0","id":1,"result":{"a":{"b":1,"b":2}}}"#),
        None
    );
}

const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
  "name":"alpha-read_file",
  "arguments": {"path" : "/srv/data/a.txt", "n":1},
  "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",
    "io.modelcontextprotocol/clientCapabilities":{},
    "io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"},
    "io.modelcontextprotocol/logLevel":"info",
    "progressToken":"tok-1","tollgate/approval":"ap_1","com.example/x":[1, 2]}}}"#;

fn call_params(body: &[u8]) -> Params<'_> {
    let m = parse(body).unwrap();
    params(body, m.params.unwrap()).unwrap()
}

#[test]
fn params_and_meta_members_are_read() {
    let body = CALL.as_bytes();
    let p = call_params(body);
    assert_eq!(p.name.as_deref(), Some("alpha-read_file"));
    assert_eq!(p.uri, None);
    assert_eq!(p.cursor, None);
    assert_eq!(
        &body[p.arguments.clone().unwrap()],
        br#"{"path" : "/srv/data/a.txt", "n":1}"#
    );
    assert_eq!(p.protocol_version.as_deref(), Some("2026-07-28"));
    assert_eq!(&body[p.client_capabilities.clone().unwrap()], b"{}");
    assert_eq!(
        &body[p.client_info.clone().unwrap()],
        br#"{"name":"c","version":"1"}"#
    );
    assert_eq!(&body[p.progress_token.clone().unwrap()], br#""tok-1""#);
    assert_eq!(p.approval.as_deref(), Some("ap_1"));
    assert_eq!(p.log_level.as_deref(), Some("info"));
    assert!(body[p.meta.clone().unwrap()].starts_with(b"{\"io."));

    let body = br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a\u0020b","cursor":"c1","_meta":{"progressToken":7}}}"#;
    let p = call_params(body);
    assert_eq!(p.uri.as_deref(), Some("file:///a b"));
    assert_eq!(p.cursor.as_deref(), Some("c1"));
    assert_eq!(&body[p.progress_token.unwrap()], b"7");
}

#[test]
fn params_of_the_wrong_type_are_invalid_params() {
    for params_json in [
        r#"{"name":1}"#,
        r#"{"uri":{}}"#,
        r#"{"cursor":null}"#,
        r#"{"arguments":[1]}"#,
        r#"{"arguments":"{}"}"#,
        r#"{"_meta":[]}"#,
        r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":20260728}}"#,
        r#"{"_meta":{"io.modelcontextprotocol/clientCapabilities":"all"}}"#,
        r#"{"_meta":{"io.modelcontextprotocol/clientInfo":null}}"#,
        r#"{"_meta":{"io.modelcontextprotocol/logLevel":1}}"#,
        r#"{"_meta":{"tollgate/approval":true}}"#,
        r#"{"_meta":{"progressToken":{}}}"#,
    ] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{params_json}}}"#);
        let m = parse(body.as_bytes()).unwrap();
        let got = params(body.as_bytes(), m.params.unwrap()).map(|_| ());
        assert_eq!(
            got.map_err(|e| e.code),
            Err(code::INVALID_PARAMS),
            "{params_json}"
        );
    }
}

#[test]
fn meta_keeps_all_but_the_protocol_keys_byte_exact() {
    for (meta, want) in [
        (
            r#"{"io.modelcontextprotocol/protocolVersion":"2026-07-28", "progressToken" : 5,"com.example/x":[1, 2],"io.modelcontextprotocol/clientInfo":{}}"#,
            r#"{"progressToken":5,"com.example/x":[1, 2]}"#,
        ),
        (
            r#"{"io.modelcontextprotocol\/logLevel":"debug","tollgate/approval":"a"}"#,
            r#"{"tollgate/approval":"a"}"#,
        ),
        (r#"{}"#, r#"{}"#),
        (r#"[1]"#, r#"{}"#),
    ] {
        let got = meta_without_protocol_keys(meta.as_bytes());
        assert_eq!(String::from_utf8(got).unwrap(), want, "{meta}");
    }
}

#[test]
fn rewritten_params_change_only_the_name_and_meta() {
    let body = CALL.as_bytes();
    let p = call_params(body);
    let original = std::str::from_utf8(&body[p.span.clone()]).unwrap();
    // Renamed: the name's token replaced where it stands, every other byte
    // (spacing between members included) as the client sent it.
    let renamed = String::from_utf8(rewrite_params(body, &p, Some("read_file"))).unwrap();
    assert_eq!(
        renamed,
        original.replacen(r#""alpha-read_file""#, r#""read_file""#, 1)
    );
    let escaped = String::from_utf8(rewrite_params(body, &p, Some("a\"b"))).unwrap();
    assert!(escaped.contains(r#""name":"a\"b""#), "{escaped}");
    let kept = String::from_utf8(rewrite_params(body, &p, None)).unwrap();
    assert_eq!(kept, original);
    let args = r#""arguments":{"path" : "/srv/data/a.txt", "n":1}"#;
    let with_meta = rewrite_params_with_meta(
        body,
        &p,
        Some("x\"y"),
        Some(br#"{"progressToken":"tok-1"}"#),
    );
    assert_eq!(
        String::from_utf8(with_meta).unwrap(),
        format!(r#"{{"name":"x\"y",{args},"_meta":{{"progressToken":"tok-1"}}}}"#)
    );
    let dropped = rewrite_params_with_meta(body, &p, None, None);
    assert_eq!(
        String::from_utf8(dropped).unwrap(),
        format!(r#"{{"name":"alpha-read_file",{args}}}"#)
    );

    let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}"#;
    let p = call_params(body);
    let added = rewrite_params_with_meta(body, &p, Some("t"), Some(b"{}"));
    assert_eq!(added, br#"{"arguments":{},"name":"t","_meta":{}}"#);
}

#[test]
fn edits_set_members_in_place_append_or_drop_them() {
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a", "requestState":"tg1.x","arguments":{ "k" : 1 }}}"#;
    let p = call_params(body);
    let out = edit_params(
        body,
        &p,
        &[
            ("requestState", Some(br#""up""#)),
            ("inputResponses", Some(b"{}")),
        ],
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"name":"a","requestState":"up","arguments":{ "k" : 1 },"inputResponses":{}}"#
    );
    let out = edit_params(body, &p, &[("requestState", None)]);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"name":"a","arguments":{ "k" : 1 }}"#
    );
    assert_eq!(p.request_state.map(|r| &body[r]), Some(&br#""tg1.x""#[..]));
    let bad = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"requestState":1}}"#;
    let msg = parse(bad).unwrap();
    assert!(params(bad, msg.params.unwrap()).is_err());
}
