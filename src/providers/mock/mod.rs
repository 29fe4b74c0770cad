//! The in-process mock provider: the echo model served without any network,
//! so a fresh checkout answers with no keys and no other process.

use crate::api::ApiError;
use crate::mock_upstream::echo::EchoPlan;
use crate::server::Responder;

pub const PROVIDER_TYPE: &str = "mock";

pub async fn serve(
    upstream_model: &str,
    body: &[u8],
    id: &str,
    headers: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) {
    let Some(mut plan) = EchoPlan::from_request(body) else {
        let err = ApiError::invalid_request("invalid_json", "The request could not be read.");
        let _ = resp.send_error(&err, headers).await;
        return;
    };
    plan.model = upstream_model.to_string();
    if !plan.stream {
        let mut all = Vec::with_capacity(headers.len() + 1);
        all.push(("content-type", b"application/json" as &[u8]));
        all.extend_from_slice(headers);
        let _ = resp.send(200, &all, &plan.completion_json(id)).await;
        return;
    }
    let mut all = Vec::with_capacity(headers.len() + 2);
    all.push(("content-type", b"text/event-stream" as &[u8]));
    all.push(("cache-control", b"no-cache"));
    all.extend_from_slice(headers);
    if resp.start_stream(200, &all, false).await.is_err() {
        return;
    }
    for event in plan.stream_events(id, None) {
        if resp.send_chunk(&event).await.is_err() {
            return;
        }
    }
    let _ = resp.end_stream().await;
}

/// The in-process mock answers in the OpenAI format: a client of another
/// dialect reaches it through the OpenAI adapter's translating functions.
pub static ADAPTER: super::adapter::Adapter = super::adapter::Adapter {
    kind: crate::config::ProviderKind::Mock,
    ..super::openai::ADAPTER
};
