//! `tools/call`: what each mock tool does with its arguments. A tool's own
//! failure is a result with `isError` (bad arguments, `fail`); an unknown
//! tool or `boom` is a JSON-RPC error.

use std::borrow::Cow;
use std::time::Duration;

use super::answer::{INTERNAL_ERROR, INVALID_PARAMS, Number, RpcError, ToolResult};
use super::message::{Message, Meta, Param, field, is_object, json_f64, json_str, json_u64};
use super::methods::{Reply, SlowPlan};
use super::stats;

const MAX_STEPS: u64 = 1000;
const MAX_DELAY_MS: u64 = 60_000;

pub fn call<'b>(msg: &Message<'b>) -> Reply<'b> {
    let Some(name) = msg.param_str(Param::Name) else {
        return RpcError::new(INVALID_PARAMS, "tools/call needs a tool name").into();
    };
    let args = msg.param(Param::Arguments).unwrap_or(b"{}");
    if !is_object(args) {
        return RpcError::new(INVALID_PARAMS, "arguments must be an object").into();
    }
    stats::tool_called(&name);
    let result = match &*name {
        "echo" => ToolResult::Echo(args),
        "add" => add(args),
        "read_file" => match field(args, b"path").and_then(json_str) {
            Some(path) => ToolResult::Path(path),
            None => failed("read_file needs a string `path`"),
        },
        "fail" => failed("the tool failed, as asked"),
        "slow" => return slow(msg, args),
        "boom" => return RpcError::new(INTERNAL_ERROR, "Internal error").into(),
        _ => return RpcError::new(INVALID_PARAMS, format!("Unknown tool: {name}")).into(),
    };
    Reply::tool(result)
}

fn failed(text: &'static str) -> ToolResult<'static> {
    ToolResult::Failed(Cow::Borrowed(text))
}

/// `a + b`: an integer when both are and the sum fits, else a float.
fn add(args: &[u8]) -> ToolResult<'_> {
    let a = field(args, b"a");
    let b = field(args, b"b");
    let ints = a.and_then(parse_i64).zip(b.and_then(parse_i64));
    if let Some(sum) = ints.and_then(|(a, b)| a.checked_add(b)) {
        return ToolResult::Sum(Number::Int(sum));
    }
    match a.and_then(json_f64).zip(b.and_then(json_f64)) {
        Some((a, b)) if (a + b).is_finite() => ToolResult::Sum(Number::Float(a + b)),
        Some(_) => failed("the sum is out of range"),
        None => failed("add needs numbers `a` and `b`"),
    }
}

fn parse_i64(raw: &[u8]) -> Option<i64> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// `steps` waits of `delay_ms`, with a progress notification after each
/// when the request asked for progress (`_meta.progressToken`).
fn slow<'b>(msg: &Message<'b>, args: &'b [u8]) -> Reply<'b> {
    let steps = field(args, b"steps").and_then(json_u64);
    let delay = match field(args, b"delay_ms") {
        None => Some(0),
        Some(raw) => json_u64(raw),
    };
    match (steps, delay) {
        (Some(steps), Some(delay_ms)) if steps <= MAX_STEPS && delay_ms <= MAX_DELAY_MS => {
            Reply::Slow(SlowPlan {
                token: msg.meta(Meta::ProgressToken).filter(|t| is_token(t)),
                steps,
                delay: Duration::from_millis(delay_ms),
            })
        }
        _ => Reply::tool(failed(
            "slow needs an integer `steps` (0 to 1000) and `delay_ms` (0 to 60000)",
        )),
    }
}

/// A progress token is a string or an integer.
fn is_token(raw: &[u8]) -> bool {
    json_str(raw).is_some() || std::str::from_utf8(raw).is_ok_and(|t| t.parse::<i64>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock_upstream::mcp::answer::Answer;

    fn call_with(params: &str) -> String {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{params}}}"#);
        let msg = Message::parse(body.as_bytes()).unwrap();
        format!("{:?}", call(&msg))
    }

    #[test]
    fn tools_answer_by_their_arguments() {
        let cases = [
            (
                r#"{"name":"echo","arguments":{ "x" : [1,"é"] }}"#,
                r#"Tool(Echo([123, 32, 34, 120"#,
            ),
            (r#"{"name":"echo"}"#, "Tool(Echo([123, 125]))"),
            (r#"{"name":"add","arguments":{"a":2,"b":3}}"#, "Sum(Int(5))"),
            (
                r#"{"name":"add","arguments":{"a":0.5,"b":2}}"#,
                "Sum(Float(2.5))",
            ),
            (
                r#"{"name":"add","arguments":{"a":9223372036854775807,"b":1}}"#,
                "Sum(Float(9.223372036854776e18))",
            ),
            (
                r#"{"name":"add","arguments":{"a":1e308,"b":1e308}}"#,
                "out of range",
            ),
            (
                r#"{"name":"add","arguments":{"a":"2","b":3}}"#,
                "add needs numbers",
            ),
            (
                r#"{"name":"read_file","arguments":{"path":"/etc/pass\u0077d"}}"#,
                r#"Path("/etc/passwd")"#,
            ),
            (
                r#"{"name":"read_file","arguments":{"path":3}}"#,
                "Failed(\"read_file needs",
            ),
            (r#"{"name":"fail"}"#, "Failed(\"the tool failed"),
            (r#"{"name":"boom"}"#, "code: -32603"),
            (r#"{"name":"nope"}"#, "Unknown tool: nope"),
            (r#"{"arguments":{}}"#, "needs a tool name"),
            (r#"{"name":"echo","arguments":[1]}"#, "must be an object"),
            (
                r#"{"name":"slow","arguments":{"steps":2,"delay_ms":5},"_meta":{"progressToken":"t"}}"#,
                "token: Some([34, 116, 34]), steps: 2, delay: 5ms",
            ),
            (
                r#"{"name":"slow","arguments":{"steps":2},"_meta":{"progressToken":{}}}"#,
                "token: None, steps: 2, delay: 0ns",
            ),
            (
                r#"{"name":"slow","arguments":{"steps":1001}}"#,
                "slow needs",
            ),
            (
                r#"{"name":"slow","arguments":{"steps":1,"delay_ms":-1}}"#,
                "slow needs",
            ),
        ];
        for (params, want) in cases {
            let got = call_with(params);
            assert!(got.contains(want), "{params}: {got}");
        }
    }

    #[test]
    fn echo_keeps_the_bytes() {
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{ "b":1,  "a" : "\u00e9" }}}"#;
        let msg = Message::parse(body).unwrap();
        let Reply::Done(Ok(Answer::Tool(ToolResult::Echo(args)))) = call(&msg) else {
            panic!("not an echo");
        };
        assert_eq!(args, br#"{ "b":1,  "a" : "\u00e9" }"#);
    }
}
