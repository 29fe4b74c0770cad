//! The gateway's own answers: `initialize` (legacy), `server/discover`
//! (2026-07-28), and the federated lists — tools filtered by the caller's
//! tool policy (a pinned tool whose definition changed is hidden and
//! flagged), prompts, resources and templates — paginated with opaque
//! cursors, and in the modern era carrying `ttlMs` and `cacheScope`
//! (`private` whenever a policy shapes the list).

use std::sync::Mutex;

use super::catalog::Tool;
use super::endpoint::{Answer, ClientEra, Ctx};
use super::wire::cursor;
use super::wire::message::Params;
use super::wire::reply::{self, code};
use super::wire::version;

/// What the gateway says it offers: tools, prompts and resources, each
/// with list-change notifications.
const CAPABILITIES: &str = r#"{"tools":{"listChanged":true},"prompts":{"listChanged":true},"resources":{"listChanged":true}}"#;

fn server_info() -> String {
    format!(
        r#"{{"name":"tollgate","title":"Tollgate MCP gateway","version":"{}"}}"#,
        env!("CARGO_PKG_VERSION")
    )
}

pub fn initialize(ctx: &Ctx<'_>, id: &[u8]) -> Answer {
    let result = format!(
        r#"{{"protocolVersion":"{}","capabilities":{CAPABILITIES},"serverInfo":{},"instructions":"Tools of several servers, named <server>-<tool>."}}"#,
        ctx.era.version(),
        server_info()
    );
    Answer::Json(200, reply::result(id, result.as_bytes()))
}

pub fn discover(ctx: &Ctx<'_>, id: &[u8]) -> Answer {
    let result = format!(
        r#"{{"resultType":"complete","supportedVersions":{},"capabilities":{CAPABILITIES},"_meta":{{"io.modelcontextprotocol/serverInfo":{}}},"instructions":"Tools of several servers, named <server>-<tool>.","ttlMs":{},"cacheScope":"public"}}"#,
        version::supported_json(),
        server_info(),
        ctx.snapshot.config.mcp.list_ttl_ms,
    );
    Answer::Json(200, reply::result(id, result.as_bytes()))
}

pub fn tools(ctx: &Ctx<'_>, id: &[u8], params: Option<&Params<'_>>) -> Answer {
    let visible: Vec<&[u8]> = ctx
        .catalog
        .tools
        .iter()
        .filter(|t| visible(ctx, t))
        .map(|t| t.json.as_slice())
        .collect();
    page(ctx, id, params, "tools", &visible)
}

pub fn prompts(ctx: &Ctx<'_>, id: &[u8], params: Option<&Params<'_>>) -> Answer {
    let items: Vec<&[u8]> = ctx
        .catalog
        .prompts
        .iter()
        .map(|p| p.json.as_slice())
        .collect();
    page(ctx, id, params, "prompts", &items)
}

pub fn resources(ctx: &Ctx<'_>, id: &[u8], params: Option<&Params<'_>>, templates: bool) -> Answer {
    let (key, list) = if templates {
        ("resourceTemplates", &ctx.catalog.templates)
    } else {
        ("resources", &ctx.catalog.resources)
    };
    let items: Vec<&[u8]> = list.iter().map(|r| r.json.as_slice()).collect();
    page(ctx, id, params, key, &items)
}

/// Whether the caller's policy shows `tool`: listed, and its definition
/// still the pinned one. A changed pinned definition is flagged (once per
/// definition) and hidden.
pub fn visible(ctx: &Ctx<'_>, tool: &Tool) -> bool {
    let Some(policy) = &ctx.policy else {
        return true;
    };
    if !policy.lists(&tool.federated) {
        return false;
    }
    match policy.pin(&tool.federated) {
        None => true,
        Some(pin) if tool.hash.as_deref() == Some(pin) => true,
        Some(_) => {
            flag_changed(tool);
            false
        }
    }
}

fn flag_changed(tool: &Tool) {
    static FLAGGED: Mutex<Vec<(String, Option<String>)>> = Mutex::new(Vec::new());
    let mut flagged = FLAGGED.lock().unwrap_or_else(|p| p.into_inner());
    let entry = (tool.federated.clone(), tool.hash.clone());
    if !flagged.contains(&entry) {
        eprintln!(
            "tollgate: mcp: pinned tool `{}` changed its definition (now {}); hidden until its pin is updated",
            tool.federated,
            tool.hash.as_deref().unwrap_or("unhashable")
        );
        if flagged.len() > 1024 {
            flagged.clear();
        }
        flagged.push(entry);
    }
}

fn page(
    ctx: &Ctx<'_>,
    id: &[u8],
    params: Option<&Params<'_>>,
    key: &str,
    items: &[&[u8]],
) -> Answer {
    let size = ctx.snapshot.config.mcp.page_size.max(1);
    let start = match params.and_then(|p| p.cursor.as_deref()) {
        None => 0,
        Some(c) => match cursor::decode(c) {
            // A list that shrank since the cursor was made (a server
            // isolated) ends here rather than failing the client's walk.
            Some((_, offset)) => offset.min(items.len()),
            _ => {
                let out = reply::error(Some(id), code::INVALID_PARAMS, "Invalid cursor", None);
                return Answer::Json(200, out);
            }
        },
    };
    let end = (start + size).min(items.len());
    let mut result =
        Vec::with_capacity(64 + items[start..end].iter().map(|i| i.len() + 1).sum::<usize>());
    result.extend_from_slice(b"{\"");
    result.extend_from_slice(key.as_bytes());
    result.extend_from_slice(b"\":[");
    for (i, item) in items[start..end].iter().enumerate() {
        if i > 0 {
            result.push(b',');
        }
        result.extend_from_slice(item);
    }
    result.push(b']');
    if end < items.len() {
        result.extend_from_slice(b",\"nextCursor\":");
        result.extend_from_slice(&super::json::quoted(&cursor::encode(
            ctx.catalog.generation,
            end,
        )));
    }
    if let ClientEra::Modern(_) = ctx.era {
        let scope = if ctx.policy.is_some() {
            "private"
        } else {
            "public"
        };
        result.extend_from_slice(
            format!(
                ",\"resultType\":\"complete\",\"ttlMs\":{},\"cacheScope\":\"{scope}\"",
                ctx.snapshot.config.mcp.list_ttl_ms
            )
            .as_bytes(),
        );
    }
    result.push(b'}');
    Answer::Json(200, reply::result(id, &result))
}
