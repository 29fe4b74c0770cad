//! Token counting endpoints, answered by the counter context fitting uses
//! (`context_window::count`, the model's tokenizer family from the
//! catalog): `POST /v1/messages/count_tokens` (Anthropic's shape,
//! `{"input_tokens": N}`) and `POST /v1/chat/completions/count_tokens`
//! (an OpenAI Chat Completions body; `{"object":
//! "chat.completion.input_tokens", "input_tokens": N}`). For a model served
//! by an Anthropic deployment, `[context] provider_count` (on by default)
//! asks the provider's own count endpoint first (model spliced, the rest
//! forwarded as it is); the local count answers when it cannot.
//! `x-tollgate-count` says which answered: `provider`, `exact` (the
//! family's own tokenizer) or `estimate` (a documented upper bound).

use std::time::Duration;

use super::Gateway;
use super::auth::authenticate;
use super::dialect::Inbound;
use crate::api::ApiError;
use crate::api::anthropic::{parse_messages_request, read_route_fields};
use crate::canonical::json_scan::find_top_level_value;
use crate::context_window::TokenizerFamily;
use crate::context_window::count::{Counter, count_request};
use crate::providers::adapter::adapter;
use crate::router::{self, Deployment, ModelRoute};
use crate::server::{Request, Responder};

pub async fn handle(gw: &Gateway, inbound: Inbound, req: Request, resp: &mut Responder<'_>) {
    let request_id = gw.request_id(&req);
    let id = [("x-request-id", request_id.as_bytes())];
    if let Err(err) = count(inbound, &req, &request_id, resp).await {
        let _ = super::send_error(resp, inbound, &err, &id).await;
    }
}

async fn count(
    inbound: Inbound,
    req: &Request,
    request_id: &str,
    resp: &mut Responder<'_>,
) -> Result<(), ApiError> {
    let snapshot = router::current();
    authenticate(&snapshot, req)?;
    let name = match inbound {
        Inbound::Anthropic => read_route_fields(&req.body)?.model,
        Inbound::OpenAi => crate::api::chat::inspect(&req.body)?.model,
    };
    let model = snapshot
        .model(&name)
        .ok_or_else(|| ApiError::model_not_found(&name))?;
    let counted_by = model
        .deployments
        .iter()
        .find(|d| d.is_enabled() && adapter(d.provider.kind).count_tokens_path.is_some());
    if inbound == Inbound::Anthropic
        && snapshot.config.context.provider_count
        && let Some(d) = counted_by
        && let Some(answer) = forward(req, request_id, d).await
    {
        let (status, body) = answer;
        let headers: [(&str, &[u8]); 3] = [
            ("x-request-id", request_id.as_bytes()),
            ("request-id", request_id.as_bytes()),
            ("x-tollgate-count", b"provider"),
        ];
        let _ = resp.send_json(status, &headers, &body).await;
        return Ok(());
    }
    let canonical = match inbound {
        Inbound::Anthropic => parse_for_count(&req.body)?,
        Inbound::OpenAi => inbound.parse(&req.body)?,
    };
    let counter = Counter::new(family_of(model));
    let n = count_request(&counter, &canonical).total;
    let body = match inbound {
        Inbound::Anthropic => format!("{{\"input_tokens\":{n}}}"),
        Inbound::OpenAi => {
            format!("{{\"object\":\"chat.completion.input_tokens\",\"input_tokens\":{n}}}")
        }
    };
    let how: &[u8] = if counter.is_exact() {
        b"exact"
    } else {
        b"estimate"
    };
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("x-request-id", request_id.as_bytes()),
        ("x-tollgate-count", how),
    ];
    if inbound == Inbound::Anthropic {
        headers.push(("request-id", request_id.as_bytes()));
    }
    let _ = resp.send_json(200, &headers, body.as_bytes()).await;
    Ok(())
}

/// The tokenizer of the model's first enabled deployment the catalog
/// knows (the one a request goes to first); the generic bound otherwise.
fn family_of(model: &ModelRoute) -> TokenizerFamily {
    model
        .deployments
        .iter()
        .filter(|d| d.is_enabled())
        .chain(model.deployments.iter())
        .find_map(|d| d.spec.as_ref().map(|s| s.tokenizer))
        .unwrap_or(TokenizerFamily::Unknown)
}

/// A count request carries no `max_tokens`, which a Messages request
/// requires: the parse is given a placeholder.
fn parse_for_count(body: &[u8]) -> Result<crate::canonical::ChatRequest, ApiError> {
    if find_top_level_value(body, b"max_tokens").is_some() {
        return parse_messages_request(body);
    }
    let start = body.iter().position(|&b| b == b'{').ok_or_else(|| {
        ApiError::invalid_request("invalid_json", "The body must be a JSON object.")
    })?;
    let mut with = Vec::with_capacity(body.len() + 16);
    with.extend_from_slice(&body[..=start]);
    with.extend_from_slice(b"\"max_tokens\":1,");
    with.extend_from_slice(&body[start + 1..]);
    parse_messages_request(&with)
}

/// The provider's own count; `None` when it cannot be had (the estimate
/// answers instead).
async fn forward(req: &Request, request_id: &str, d: &Deployment) -> Option<(u16, Vec<u8>)> {
    let provider = &d.provider;
    let path = adapter(provider.kind).count_tokens_path?;
    let span = find_top_level_value(&req.body, b"model")?;
    let body = crate::api::chat::splice_string(&req.body, span, &d.upstream_model);
    let base = provider.base.as_ref()?;
    let target = format!("{}{path}", base.path);
    let key = provider.api_keys.first();
    let bytes = crate::providers::render_request(
        provider,
        key,
        &target,
        &body,
        false,
        request_id,
        req.headers(),
    );
    let timeout = Duration::from_secs(10);
    let mut upstream = super::attempt::send(provider, timeout, timeout, bytes)
        .await
        .ok()?;
    let status = upstream.status;
    let answer = upstream.body.collect(1 << 20).await.ok()?;
    // A provider that cannot count (no such endpoint, a refusal) leaves the
    // answer to the estimate rather than failing the client's call.
    if status != 200 || find_top_level_value(&answer, b"input_tokens").is_none() {
        return None;
    }
    Some((status, answer))
}
