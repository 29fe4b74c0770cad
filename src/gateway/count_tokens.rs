//! Token counting endpoints, answered by the counter context fitting uses
//! (`context_window::count`, the model's tokenizer family from the
//! catalog): `POST /v1/messages/count_tokens` (Anthropic's shape,
//! `{"input_tokens": N}`) and `POST /v1/chat/completions/count_tokens`
//! (an OpenAI Chat Completions body; `{"object":
//! "chat.completion.input_tokens", "input_tokens": N}`). With `[context]
//! provider_count` (on by default) the provider's own count endpoint is asked
//! first: Anthropic's with the client's Anthropic body (model spliced),
//! Gemini's `countTokens` with a body written from the canonical request
//! (either dialect); the local count answers when it cannot.
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
    let gov = crate::governance::state::current();
    let key = authenticate(&gov, req)?;
    let name = match inbound {
        Inbound::Anthropic => read_route_fields(&req.body)?.model,
        Inbound::OpenAi => crate::api::chat::inspect(&req.body)?.model,
    };
    let model = snapshot
        .model(&name)
        .ok_or_else(|| ApiError::model_not_found(&name))?;
    if key.is_some_and(|k| !k.models.is_empty() && !k.models.contains(&name)) {
        return Err(ApiError::coded(
            403,
            "permission_error",
            "model_not_allowed",
            format!("This key may not use model `{name}`."),
        ));
    }
    let counted_by = snapshot
        .config
        .context
        .provider_count
        .then(|| counting_deployment(inbound, model))
        .flatten();
    // Anthropic's own body goes as it is, before any parse of ours.
    let forwarded = match counted_by {
        Some(d) if adapter(d.provider.kind).count_tokens.is_none() => {
            forward(req, request_id, d).await
        }
        _ => None,
    };
    let (body, how): (Vec<u8>, &[u8]) = match forwarded {
        Some(body) => (body, b"provider"),
        None => {
            let canonical = match inbound {
                Inbound::Anthropic => parse_for_count(&req.body)?,
                Inbound::OpenAi => inbound.parse(&req.body)?,
            };
            let asked = match counted_by {
                Some(d) => ask(&canonical, req, request_id, d).await,
                None => None,
            };
            match asked {
                Some(n) => (answer_body(inbound, n), b"provider"),
                None => {
                    let counter = Counter::new(family_of(model));
                    let n = count_request(&counter, &canonical).total;
                    let how: &[u8] = if counter.is_exact() {
                        b"exact"
                    } else {
                        b"estimate"
                    };
                    (answer_body(inbound, u64::from(n)), how)
                }
            }
        }
    };
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("x-request-id", request_id.as_bytes()),
        ("x-tollgate-count", how),
    ];
    if inbound == Inbound::Anthropic {
        headers.push(("request-id", request_id.as_bytes()));
    }
    let _ = resp.send_json(200, &headers, &body).await;
    Ok(())
}

/// The first enabled deployment whose provider can count this dialect's
/// request: one fed from the canonical request counts either dialect; one
/// that takes the client's body as it is counts only Anthropic's.
fn counting_deployment(inbound: Inbound, model: &ModelRoute) -> Option<&Deployment> {
    model
        .deployments
        .iter()
        .find(|d| {
            let a = adapter(d.provider.kind);
            d.is_enabled()
                && a.count_tokens_path.is_some()
                && (a.count_tokens.is_some() || inbound == Inbound::Anthropic)
        })
        .map(|d| &**d)
}

/// The count in the client's dialect.
fn answer_body(inbound: Inbound, n: u64) -> Vec<u8> {
    match inbound {
        Inbound::Anthropic => format!("{{\"input_tokens\":{n}}}"),
        Inbound::OpenAi => {
            format!("{{\"object\":\"chat.completion.input_tokens\",\"input_tokens\":{n}}}")
        }
    }
    .into_bytes()
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

/// The provider's own count, the client's Anthropic body forwarded with the
/// model spliced; `None` when it cannot be had (the local count answers).
async fn forward(req: &Request, request_id: &str, d: &Deployment) -> Option<Vec<u8>> {
    let span = find_top_level_value(&req.body, b"model")?;
    let body = crate::api::chat::splice_string(&req.body, span, &d.upstream_model);
    let answer = post_count(req, request_id, d, &body).await?;
    find_top_level_value(&answer, b"input_tokens")?;
    Some(answer)
}

/// The provider's own count, asked with a body written from the canonical
/// request (the adapter's count writer); `None` when it cannot be had.
async fn ask(
    canonical: &crate::canonical::ChatRequest,
    req: &Request,
    request_id: &str,
    d: &Deployment,
) -> Option<u64> {
    let how = adapter(d.provider.kind).count_tokens?;
    let mut body = Vec::with_capacity(req.body.len() + 64);
    (how.write_body)(canonical, d, &mut body).ok()?;
    let answer = post_count(req, request_id, d, &body).await?;
    let span = find_top_level_value(&answer, how.total_field)?;
    std::str::from_utf8(&answer[span]).ok()?.parse().ok()
}

/// Posts a count body to the deployment's count path; the answer's body on
/// a 200, `None` otherwise. A provider that cannot count (no such endpoint,
/// a refusal, a timeout) leaves the answer to the local count rather than
/// failing the client's call.
async fn post_count(
    req: &Request,
    request_id: &str,
    d: &Deployment,
    body: &[u8],
) -> Option<Vec<u8>> {
    let provider = &d.provider;
    let path = adapter(provider.kind).count_tokens_path?;
    provider.base.as_ref()?;
    let target = provider.target(path, &d.upstream_model);
    let timeout = Duration::from_secs(10);
    super::attempt::side_call(
        provider,
        &target,
        body,
        request_id,
        req.headers(),
        timeout,
        timeout,
        1 << 20,
    )
    .await
}
