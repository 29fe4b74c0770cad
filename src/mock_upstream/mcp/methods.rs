//! A request's method, run: what it answers as a value (`Reply`), the same
//! in both eras but for the methods only one era has (`initialize` and
//! `ping`; `server/discover` and `subscriptions/listen`).

use std::borrow::Cow;
use std::time::Duration;

use super::answer::{
    Answer, ErrorData, INVALID_PARAMS, METHOD_NOT_FOUND, RESOURCE_NOT_FOUND, RpcError, ToolResult,
};
use super::catalog;
use super::message::{Message, Param, field, json_str};
use super::state::{Era, LEGACY_VERSIONS};
use super::tools;

/// What a request gets.
#[derive(Debug)]
pub enum Reply<'b> {
    Done(Result<Answer<'b>, RpcError<'b>>),
    /// `slow`: waits, with progress events on an SSE response when asked.
    Slow(SlowPlan<'b>),
    /// `subscriptions/listen`: a stream of the chosen change notifications.
    Listen(Filter),
}

#[derive(Debug)]
pub struct SlowPlan<'b> {
    /// The raw `_meta.progressToken`.
    pub token: Option<&'b [u8]>,
    pub steps: u64,
    pub delay: Duration,
}

/// The list changes a `subscriptions/listen` stream asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Filter {
    pub tools: bool,
    pub prompts: bool,
    pub resources: bool,
}

impl<'b> Reply<'b> {
    pub fn tool(result: ToolResult<'b>) -> Self {
        Reply::Done(Ok(Answer::Tool(result)))
    }
}

impl<'b> From<RpcError<'b>> for Reply<'b> {
    fn from(err: RpcError<'b>) -> Self {
        Reply::Done(Err(err))
    }
}

impl<'b> From<Answer<'b>> for Reply<'b> {
    fn from(answer: Answer<'b>) -> Self {
        Reply::Done(Ok(answer))
    }
}

pub fn dispatch<'b>(msg: &Message<'b>, era: Era) -> Reply<'b> {
    match (&*msg.method, era) {
        ("initialize", Era::Legacy) => Answer::Initialize {
            version: negotiate(msg.param_str(Param::ProtocolVersion).as_deref()),
        }
        .into(),
        ("ping", Era::Legacy) => Answer::Empty.into(),
        ("server/discover", Era::Modern) => Answer::Discover.into(),
        ("subscriptions/listen", Era::Modern) => Reply::Listen(filter(msg)),
        ("tools/list", _) => match catalog::page_for(msg.param_str(Param::Cursor).as_deref()) {
            Ok(page) => Answer::ToolsPage(page).into(),
            Err(_) => RpcError::new(INVALID_PARAMS, "Invalid cursor").into(),
        },
        ("tools/call", _) => tools::call(msg),
        ("resources/list", _) => Answer::Resources.into(),
        ("resources/templates/list", _) => Answer::Templates.into(),
        ("resources/read", _) => read(msg, era),
        ("prompts/list", _) => Answer::Prompts.into(),
        ("prompts/get", _) => prompt(msg),
        _ => RpcError::new(METHOD_NOT_FOUND, "Method not found").into(),
    }
}

/// The version `initialize` answers: the one asked for when the mock
/// speaks it, else its newest legacy one.
fn negotiate(requested: Option<&str>) -> &'static str {
    LEGACY_VERSIONS
        .iter()
        .find(|v| Some(**v) == requested)
        .unwrap_or(&LEGACY_VERSIONS[0])
}

fn read<'b>(msg: &Message<'b>, era: Era) -> Reply<'b> {
    let Some(uri) = msg.param_str(Param::Uri) else {
        return RpcError::new(INVALID_PARAMS, "resources/read needs a uri").into();
    };
    if uri == "mock://readme" {
        return Answer::Readme.into();
    }
    let item = match &uri {
        Cow::Borrowed(u) => u.strip_prefix("mock://items/").map(Cow::Borrowed),
        Cow::Owned(u) => u
            .strip_prefix("mock://items/")
            .map(|id| Cow::Owned(id.to_string())),
    };
    match item {
        Some(id) if !id.is_empty() && !id.contains('/') => Answer::Item(id).into(),
        _ => {
            let code = match era {
                Era::Legacy => RESOURCE_NOT_FOUND,
                Era::Modern => INVALID_PARAMS,
            };
            RpcError::new(code, "Resource not found")
                .with(ErrorData::Uri(uri))
                .into()
        }
    }
}

fn prompt<'b>(msg: &Message<'b>) -> Reply<'b> {
    match msg.param_str(Param::Name).as_deref() {
        Some("greet") => {}
        Some(other) => {
            return RpcError::new(INVALID_PARAMS, format!("Unknown prompt: {other}")).into();
        }
        None => return RpcError::new(INVALID_PARAMS, "prompts/get needs a name").into(),
    }
    let name = msg
        .param(Param::Arguments)
        .and_then(|args| field(args, b"name"))
        .and_then(json_str);
    match name {
        Some(name) => Answer::Greeting(name).into(),
        None => RpcError::new(INVALID_PARAMS, "greet needs the argument `name`").into(),
    }
}

fn filter(msg: &Message<'_>) -> Filter {
    let asked = |key: &[u8]| {
        msg.param(Param::Notifications)
            .and_then(|n| field(n, key))
            .is_some_and(|v| v == b"true")
    };
    Filter {
        tools: asked(b"toolsListChanged"),
        prompts: asked(b"promptsListChanged"),
        resources: asked(b"resourcesListChanged"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(method: &str, params: &str, era: Era) -> String {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
        let msg = Message::parse(body.as_bytes()).unwrap();
        format!("{:?}", dispatch(&msg, era))
    }

    #[test]
    fn methods_by_era() {
        use Era::{Legacy, Modern};
        let cases = [
            (
                "initialize",
                r#"{"protocolVersion":"2025-06-18"}"#,
                Legacy,
                r#"Initialize { version: "2025-06-18" }"#,
            ),
            (
                "initialize",
                r#"{"protocolVersion":"2024-11-05"}"#,
                Legacy,
                r#"Initialize { version: "2025-11-25" }"#,
            ),
            ("initialize", "{}", Modern, "-32601"),
            ("ping", "{}", Legacy, "Empty"),
            ("ping", "{}", Modern, "-32601"),
            ("server/discover", "{}", Modern, "Discover"),
            ("server/discover", "{}", Legacy, "-32601"),
            (
                "subscriptions/listen",
                r#"{"notifications":{"toolsListChanged":true,"promptsListChanged":false}}"#,
                Modern,
                "Listen(Filter { tools: true, prompts: false, resources: false })",
            ),
            ("subscriptions/listen", "{}", Legacy, "-32601"),
            ("tools/list", "{}", Modern, "ToolsPage(0)"),
            (
                "tools/list",
                r#"{"cursor":"page-9"}"#,
                Modern,
                "Invalid cursor",
            ),
            ("resources/list", "{}", Legacy, "Resources"),
            ("resources/templates/list", "{}", Modern, "Templates"),
            (
                "resources/read",
                r#"{"uri":"mock://readme"}"#,
                Modern,
                "Readme",
            ),
            (
                "resources/read",
                r#"{"uri":"mock://items/42"}"#,
                Modern,
                r#"Item("42")"#,
            ),
            (
                "resources/read",
                r#"{"uri":"mock://items/a\/b"}"#,
                Modern,
                "code: -32602",
            ),
            (
                "resources/read",
                r#"{"uri":"mock://nope"}"#,
                Legacy,
                r#"code: -32002, message: "Resource not found", data: Uri("mock://nope")"#,
            ),
            (
                "resources/read",
                r#"{"uri":"mock://nope"}"#,
                Modern,
                "code: -32602",
            ),
            ("prompts/list", "{}", Modern, "Prompts"),
            (
                "prompts/get",
                r#"{"name":"greet","arguments":{"name":"Ada"}}"#,
                Modern,
                r#"Greeting("Ada")"#,
            ),
            (
                "prompts/get",
                r#"{"name":"greet"}"#,
                Modern,
                "needs the argument",
            ),
            (
                "prompts/get",
                r#"{"name":"other"}"#,
                Modern,
                "Unknown prompt: other",
            ),
            ("logging/setLevel", "{}", Legacy, "-32601"),
        ];
        for (method, params, era, want) in cases {
            let got = run(method, params, era);
            assert!(got.contains(want), "{method} {params} {era:?}: {got}");
        }
    }
}
