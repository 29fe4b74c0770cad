//! `POST /v1/chat/completions`: inspect the body once, resolve the model,
//! then serve it in-process (mock) or pass it through to an OpenAI-compatible
//! upstream with only `model` and the auth header rewritten.

use super::Gateway;
use super::relay::relay;
use crate::api::body_edit::BodyEdits;
use crate::api::{ApiError, chat};
use crate::config::ProviderKind;
use crate::router::{self, ModelRoute, Provider, ProviderState};
use crate::server::{Request, Responder};
use crate::upstream::{self, UpstreamError, UpstreamRequest, UpstreamResponse};

pub async fn handle(gw: &Gateway, req: Request, resp: &mut Responder<'_>) {
    let request_id = gw.request_id(&req);
    let id_header: [(&str, &[u8]); 1] = [("x-request-id", request_id.as_bytes())];
    // Hold this snapshot to the end: a reload mid-request does not affect it.
    let snapshot = router::current();
    // A translated request is parsed once, into the canonical model: find its
    // route from a byte scan of `model` and skip the passthrough inspection.
    let translated = quick_model(&req.body)
        .and_then(|m| snapshot.model(m))
        .filter(|r| is_translated(r.provider.kind));
    let (route, envelope) = match translated {
        Some(route) => (route, None),
        None => {
            let inspected = {
                let mut scratch = gw.scratch.borrow_mut();
                chat::inspect(&req.body, &mut scratch)
            };
            let envelope = match inspected {
                Ok(e) => e,
                Err(err) => {
                    let _ = resp.send_error(&err, &id_header).await;
                    return;
                }
            };
            let Some(route) = snapshot.model(&envelope.model) else {
                let err = ApiError::model_not_found(&envelope.model);
                let _ = resp.send_error(&err, &id_header).await;
                return;
            };
            (route, Some(envelope))
        }
    };
    let provider = &route.provider;
    if let ProviderState::Disabled(why) = &provider.state {
        let err = ApiError::coded(
            503,
            "service_unavailable_error",
            "provider_unavailable",
            format!(
                "Model `{}` is configured but provider `{}` is disabled: {why}.",
                route.name, provider.name
            ),
        );
        let _ = resp.send_error(&err, &id_header).await;
        return;
    }
    let headers: [(&str, &[u8]); 3] = [
        ("x-request-id", request_id.as_bytes()),
        ("x-tollgate-provider", provider.name.as_bytes()),
        ("x-tollgate-model", route.upstream_model.as_bytes()),
    ];
    match (provider.kind, &envelope) {
        (kind, _) if is_translated(kind) => {
            super::translated::handle(&req, route, &request_id, &headers, resp).await;
        }
        (ProviderKind::Mock, _) => {
            let completion_id = format!("chatcmpl-{request_id}");
            crate::providers::mock::serve(
                &route.upstream_model,
                &req.body,
                &completion_id,
                &headers,
                resp,
            )
            .await;
        }
        (_, Some(envelope)) => {
            passthrough(&req, envelope, route, &request_id, &headers, resp).await
        }
        (_, None) => unreachable!("only translated routes skip inspection"),
    }
}

fn is_translated(kind: ProviderKind) -> bool {
    matches!(kind, ProviderKind::Anthropic | ProviderKind::Gemini)
}

/// The top-level `model` when it is a plain string (no escapes) in a body that
/// at least scans as an object; full validation happens after routing.
fn quick_model(body: &[u8]) -> Option<&str> {
    let span = crate::api::json_scan::find_top_level_value(body, b"model")?;
    let raw = body.get(span.start + 1..span.end.checked_sub(1)?)?;
    if body[span.start] != b'"' || raw.contains(&b'\\') {
        return None;
    }
    std::str::from_utf8(raw).ok()
}

async fn passthrough(
    req: &Request,
    envelope: &chat::ChatEnvelope,
    route: &ModelRoute,
    request_id: &str,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) {
    let provider = &route.provider;
    let model_changes = route.upstream_model != envelope.model;
    let edited;
    let body: &[u8] = if !model_changes && provider.body_edits.is_empty() {
        &req.body
    } else {
        let model = model_changes.then_some(route.upstream_model.as_str());
        let spliced = if provider.body_edits.is_empty() {
            chat::rewrite_model(&req.body, envelope, &route.upstream_model)
        } else {
            crate::api::body_edit::apply(&req.body, model, &provider.body_edits)
        };
        edited = match spliced.or_else(|| reserialize(&req.body, model, &provider.body_edits)) {
            Some(b) => b,
            None => {
                let err = ApiError::internal("Could not rewrite the request.");
                let _ = resp.send_error(&err, headers).await;
                return;
            }
        };
        &edited
    };
    let bytes = crate::providers::render_request(
        provider,
        &provider.chat_target(&route.upstream_model, envelope.stream),
        body,
        envelope.stream,
        request_id,
        req.headers(),
    );
    match call_upstream(provider, bytes, resp).await {
        Some(Ok(upstream)) => relay(upstream, headers, &provider.name, resp).await,
        Some(Err(e)) => {
            let _ = resp.send_error(&e.to_api(&provider.name), headers).await;
        }
        None => resp.abort(),
    }
}

/// Sends a rendered request and waits for the response head. A client that
/// leaves meanwhile cancels it (`None`): dropping the exchange closes its
/// upstream connection rather than leaving it to think for nobody.
pub(super) async fn call_upstream(
    provider: &Provider,
    bytes: Vec<u8>,
    resp: &Responder<'_>,
) -> Option<Result<UpstreamResponse, UpstreamError>> {
    let base = provider
        .base
        .as_ref()
        .expect("validated: network providers have a base URL");
    let target = UpstreamRequest {
        origin: &base.origin,
        addrs: &provider.addrs,
        tls: &provider.tls,
        connect_timeout: provider.connect_timeout,
        first_byte_timeout: provider.first_byte_timeout,
        total_timeout: provider.total_timeout,
        max_idle: provider.pool_max_idle,
    };
    monoio::select! {
        r = upstream::send(target, bytes) => Some(r),
        _ = resp.client_closed() => None,
    }
}

/// The rare body with escaped top-level keys: parse, edit, write whole.
fn reserialize(body: &[u8], model: Option<&str>, edits: &BodyEdits) -> Option<Vec<u8>> {
    use simd_json::prelude::*;
    let mut copy = body.to_vec();
    let mut value = simd_json::to_owned_value(&mut copy).ok()?;
    let obj = value.as_object_mut()?;
    if let Some(m) = model {
        obj.insert("model".into(), m.into());
    }
    for key in &edits.drop {
        obj.remove(key.as_str());
    }
    for (from, to) in &edits.rename {
        if let Some(v) = obj.remove(from.as_str()) {
            obj.insert(to.clone(), v);
        }
    }
    for (key, json) in &edits.set {
        let mut bytes = json.clone();
        obj.insert(key.clone(), simd_json::to_owned_value(&mut bytes).ok()?);
    }
    simd_json::to_vec(&value).ok()
}
