//! What a method answers, as a value (`Answer` or `RpcError`), and the one
//! place that writes either as JSON-RPC text in an era's shape: modern
//! results carry `resultType` (and `ttlMs`/`cacheScope` when cacheable),
//! legacy results carry neither.

use std::borrow::Cow;

use super::catalog;
use super::state::{self, Era};
use crate::canonical::json::{write_f64, write_i64, write_str, write_u64};

pub const PARSE_ERROR: i32 = -32700;
pub const INVALID_REQUEST: i32 = -32600;
pub const METHOD_NOT_FOUND: i32 = -32601;
pub const INVALID_PARAMS: i32 = -32602;
pub const INTERNAL_ERROR: i32 = -32603;
/// Legacy eras' "resource not found" (2026-07-28 uses -32602).
pub const RESOURCE_NOT_FOUND: i32 = -32002;
pub const HEADER_MISMATCH: i32 = -32020;
pub const UNSUPPORTED_PROTOCOL_VERSION: i32 = -32022;

const README: &str = "Tollgate's mock MCP server: tools echo, add, slow, fail, boom and read_file.";

/// A successful result.
#[derive(Debug)]
pub enum Answer<'b> {
    Initialize {
        version: &'static str,
    },
    Discover,
    /// `{}` (legacy `ping`).
    Empty,
    ToolsPage(usize),
    Tool(ToolResult<'b>),
    Resources,
    Templates,
    Readme,
    Item(Cow<'b, str>),
    Prompts,
    Greeting(Cow<'b, str>),
}

/// A `tools/call` result.
#[derive(Debug)]
pub enum ToolResult<'b> {
    /// The raw `arguments`, as text and as structured content.
    Echo(&'b [u8]),
    Sum(Number),
    Path(Cow<'b, str>),
    SlowDone(u64),
    /// `isError: true` with this text.
    Failed(Cow<'static, str>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

/// A JSON-RPC error.
#[derive(Debug, PartialEq)]
pub struct RpcError<'b> {
    pub code: i32,
    pub message: Cow<'static, str>,
    pub data: ErrorData<'b>,
}

#[derive(Debug, PartialEq)]
pub enum ErrorData<'b> {
    None,
    /// -32022's `{"supported":[…],"requested":…}`.
    Unsupported(Cow<'b, str>),
    /// Resource not found: `{"uri":…}`.
    Uri(Cow<'b, str>),
}

impl<'b> RpcError<'b> {
    pub fn new(code: i32, message: impl Into<Cow<'static, str>>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: ErrorData::None,
        }
    }

    pub fn with(mut self, data: ErrorData<'b>) -> Self {
        self.data = data;
        self
    }

    /// The HTTP status a modern server sends this error with (the SDK's
    /// table: request-shape errors 400, an unknown method 404, else 200).
    pub fn modern_status(&self) -> u16 {
        match self.code {
            METHOD_NOT_FOUND => 404,
            PARSE_ERROR
            | INVALID_REQUEST
            | INVALID_PARAMS
            | HEADER_MISMATCH
            | -32021
            | UNSUPPORTED_PROTOCOL_VERSION => 400,
            _ => 200,
        }
    }
}

/// `{"jsonrpc":"2.0","id":ID,"result":…}`.
pub fn write_response(out: &mut Vec<u8>, id: &[u8], era: Era, answer: &Answer<'_>) {
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    out.extend_from_slice(id);
    out.extend_from_slice(br#","result":"#);
    write_answer(out, era, answer);
    out.push(b'}');
}

/// `{"jsonrpc":"2.0","id":ID,"error":{…}}`.
pub fn write_error(out: &mut Vec<u8>, id: &[u8], err: &RpcError<'_>) {
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    out.extend_from_slice(id);
    out.extend_from_slice(br#","error":{"code":"#);
    write_i64(out, i64::from(err.code));
    out.extend_from_slice(br#","message":"#);
    write_str(out, &err.message);
    match &err.data {
        ErrorData::None => {}
        ErrorData::Unsupported(requested) => {
            out.extend_from_slice(br#","data":{"supported":"#);
            write_versions(out);
            out.extend_from_slice(br#","requested":"#);
            write_str(out, requested);
            out.push(b'}');
        }
        ErrorData::Uri(uri) => {
            out.extend_from_slice(br#","data":{"uri":"#);
            write_str(out, uri);
            out.push(b'}');
        }
    }
    out.extend_from_slice(b"}}");
}

fn write_versions(out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, v) in state::supported_versions().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, v);
    }
    out.push(b']');
}

const CAPABILITIES: &str = r#"{"tools":{"listChanged":true},"resources":{"listChanged":true},"prompts":{"listChanged":true}}"#;
const SERVER_INFO: &str = concat!(
    r#"{"name":"tollgate-mock-mcp","version":""#,
    env!("CARGO_PKG_VERSION"),
    r#""}"#
);

/// Writes an object's members with the commas between them.
struct Members<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Members<'o> {
    fn open(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Members { out, first: true }
    }

    /// `"key":` (after a comma unless first); the value is written next.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn raw(&mut self, key: &str, value: &[u8]) {
        self.key(key).extend_from_slice(value);
    }

    fn str(&mut self, key: &str, value: &str) {
        write_str(self.key(key), value);
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn write_answer(out: &mut Vec<u8>, era: Era, answer: &Answer<'_>) {
    if let Answer::ToolsPage(page) = answer {
        catalog::write_tools_page(out, era, *page);
        return;
    }
    let mut obj = Members::open(out);
    if era == Era::Modern {
        obj.raw("resultType", br#""complete""#);
    }
    let cacheable = match answer {
        Answer::Initialize { version } => {
            obj.str("protocolVersion", version);
            obj.raw("capabilities", CAPABILITIES.as_bytes());
            obj.raw("serverInfo", SERVER_INFO.as_bytes());
            false
        }
        Answer::Discover => {
            write_versions(obj.key("supportedVersions"));
            obj.raw("capabilities", CAPABILITIES.as_bytes());
            let meta = obj.key("_meta");
            meta.extend_from_slice(br#"{"io.modelcontextprotocol/serverInfo":"#);
            meta.extend_from_slice(SERVER_INFO.as_bytes());
            meta.push(b'}');
            true
        }
        Answer::Empty | Answer::ToolsPage(_) => false,
        Answer::Tool(result) => {
            write_tool_result(&mut obj, result);
            false
        }
        Answer::Resources => {
            obj.raw(
                "resources",
                br#"[{"uri":"mock://readme","name":"readme","title":"Mock readme","mimeType":"text/plain"}]"#,
            );
            true
        }
        Answer::Templates => {
            obj.raw(
                "resourceTemplates",
                br#"[{"uriTemplate":"mock://items/{id}","name":"item","title":"Mock item","mimeType":"application/json"}]"#,
            );
            true
        }
        Answer::Readme => {
            let contents = obj.key("contents");
            contents
                .extend_from_slice(br#"[{"uri":"mock://readme","mimeType":"text/plain","text":"#);
            write_str(contents, README);
            contents.extend_from_slice(b"}]");
            true
        }
        Answer::Item(id) => {
            write_item(obj.key("contents"), id);
            true
        }
        Answer::Prompts => {
            obj.raw(
                "prompts",
                br#"[{"name":"greet","title":"Greeting","description":"Greets someone by name.","arguments":[{"name":"name","description":"Who to greet","required":true}]}]"#,
            );
            true
        }
        Answer::Greeting(name) => {
            obj.str("description", "A greeting");
            let messages = obj.key("messages");
            messages.extend_from_slice(br#"[{"role":"user","content":{"type":"text","text":"#);
            write_str(messages, &format!("Hello, {name}!"));
            messages.extend_from_slice(b"}}]");
            false
        }
    };
    if cacheable && era == Era::Modern {
        write_u64(obj.key("ttlMs"), state::ttl_ms());
        obj.raw("cacheScope", br#""public""#);
    }
    obj.close();
}

/// `[{"uri":"mock://items/ID","mimeType":"application/json","text":"{\"id\":ID}"}]`.
fn write_item(out: &mut Vec<u8>, id: &str) {
    out.extend_from_slice(br#"[{"uri":"#);
    write_str(out, &format!("mock://items/{id}"));
    out.extend_from_slice(br#","mimeType":"application/json","text":"#);
    let mut text = Vec::with_capacity(id.len() + 10);
    text.extend_from_slice(br#"{"id":"#);
    write_str(&mut text, id);
    text.push(b'}');
    write_str(out, std::str::from_utf8(&text).unwrap_or_default());
    out.extend_from_slice(b"}]");
}

fn write_tool_result(obj: &mut Members<'_>, result: &ToolResult<'_>) {
    let mut number = Vec::new();
    let text: Cow<'_, str> = match result {
        ToolResult::Echo(args) => String::from_utf8_lossy(args),
        ToolResult::Sum(n) => {
            match *n {
                Number::Int(i) => write_i64(&mut number, i),
                Number::Float(f) => write_f64(&mut number, f),
            }
            String::from_utf8_lossy(&number)
        }
        ToolResult::Path(path) => Cow::Borrowed(&**path),
        ToolResult::SlowDone(steps) => Cow::Owned(format!("done after {steps} steps")),
        ToolResult::Failed(text) => Cow::Borrowed(&**text),
    };
    let content = obj.key("content");
    content.extend_from_slice(br#"[{"type":"text","text":"#);
    write_str(content, &text);
    content.extend_from_slice(b"}]");
    match result {
        ToolResult::Echo(args) => obj.raw("structuredContent", args),
        ToolResult::Sum(_) => {
            let sc = obj.key("structuredContent");
            sc.extend_from_slice(br#"{"sum":"#);
            sc.extend_from_slice(&number);
            sc.push(b'}');
        }
        ToolResult::Path(path) => {
            let sc = obj.key("structuredContent");
            sc.extend_from_slice(br#"{"path":"#);
            write_str(sc, path);
            sc.push(b'}');
        }
        ToolResult::SlowDone(steps) => {
            let sc = obj.key("structuredContent");
            sc.extend_from_slice(br#"{"steps":"#);
            write_u64(sc, *steps);
            sc.push(b'}');
        }
        ToolResult::Failed(_) => {}
    }
    let failed = matches!(result, ToolResult::Failed(_));
    obj.raw("isError", if failed { b"true" } else { b"false" });
}

#[cfg(test)]
mod tests {
    use super::*;
    use simd_json::prelude::*;

    fn response(era: Era, answer: &Answer<'_>) -> simd_json::OwnedValue {
        let mut out = Vec::new();
        write_response(&mut out, br#""r-1""#, era, answer);
        let text = String::from_utf8_lossy(&out).into_owned();
        simd_json::to_owned_value(&mut out).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    #[test]
    fn results_take_their_era_shape() {
        let answers = [
            (
                Answer::Initialize {
                    version: "2025-06-18",
                },
                false,
            ),
            (Answer::Discover, true),
            (Answer::Empty, false),
            (Answer::ToolsPage(0), true),
            (Answer::Tool(ToolResult::Echo(br#"{"a": 1}"#)), false),
            (Answer::Tool(ToolResult::Sum(Number::Float(2.5))), false),
            (
                Answer::Tool(ToolResult::Path(Cow::Borrowed("/a\"b"))),
                false,
            ),
            (Answer::Tool(ToolResult::SlowDone(3)), false),
            (Answer::Tool(ToolResult::Failed(Cow::Borrowed("no"))), false),
            (Answer::Resources, true),
            (Answer::Templates, true),
            (Answer::Readme, true),
            (Answer::Item(Cow::Borrowed("x\"y")), true),
            (Answer::Prompts, true),
            (Answer::Greeting(Cow::Borrowed("Ada")), false),
        ];
        for (answer, cacheable) in &answers {
            let modern = response(Era::Modern, answer);
            let legacy = response(Era::Legacy, answer);
            assert_eq!(modern["id"], "r-1");
            assert_eq!(modern["result"]["resultType"], "complete", "{answer:?}");
            assert_eq!(
                modern["result"].get("ttlMs").is_some(),
                *cacheable,
                "{answer:?}"
            );
            assert_eq!(
                modern["result"].get("cacheScope").is_some(),
                *cacheable,
                "{answer:?}"
            );
            let legacy = legacy["result"].as_object().unwrap();
            assert!(
                !legacy.contains_key("resultType") && !legacy.contains_key("ttlMs"),
                "{answer:?}"
            );
        }
    }

    #[test]
    fn tool_results_carry_text_and_structure() {
        let r = response(
            Era::Modern,
            &Answer::Tool(ToolResult::Echo(br#"{ "a" :1}"#)),
        );
        assert_eq!(r["result"]["content"][0]["text"], r#"{ "a" :1}"#);
        assert_eq!(r["result"]["structuredContent"]["a"], 1);
        assert_eq!(r["result"]["isError"], false);
        let r = response(Era::Legacy, &Answer::Tool(ToolResult::Sum(Number::Int(-7))));
        assert_eq!(r["result"]["content"][0]["text"], "-7");
        assert_eq!(r["result"]["structuredContent"]["sum"], -7);
        let r = response(
            Era::Modern,
            &Answer::Tool(ToolResult::Failed(Cow::Borrowed("no"))),
        );
        assert_eq!(r["result"]["isError"], true);
        assert!(r["result"].get("structuredContent").is_none());
        let r = response(Era::Modern, &Answer::Item(Cow::Borrowed("7")));
        assert_eq!(r["result"]["contents"][0]["uri"], "mock://items/7");
        assert_eq!(r["result"]["contents"][0]["text"], r#"{"id":"7"}"#);
    }

    #[test]
    fn errors_and_their_statuses() {
        let cases = [
            (
                RpcError::new(METHOD_NOT_FOUND, "Method not found"),
                404,
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#,
            ),
            (
                RpcError::new(INTERNAL_ERROR, "Internal error"),
                200,
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error"}}"#,
            ),
            (
                RpcError::new(INVALID_PARAMS, "Resource not found")
                    .with(ErrorData::Uri(Cow::Borrowed("mock://x"))),
                400,
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Resource not found","data":{"uri":"mock://x"}}}"#,
            ),
            (
                RpcError::new(HEADER_MISMATCH, "m"),
                400,
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32020,"message":"m"}}"#,
            ),
        ];
        for (err, status, want) in cases {
            let mut out = Vec::new();
            write_error(&mut out, b"1", &err);
            assert_eq!(String::from_utf8(out).unwrap(), want);
            assert_eq!(err.modern_status(), status, "{err:?}");
        }
        let mut out = Vec::new();
        let unsupported =
            RpcError::new(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version")
                .with(ErrorData::Unsupported(Cow::Borrowed("1900-01-01")));
        write_error(&mut out, b"null", &unsupported);
        let v = simd_json::to_owned_value(&mut out).unwrap();
        assert_eq!(v["error"]["data"]["requested"], "1900-01-01");
        assert!(
            v["error"]["data"]["supported"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
        );
    }
}
