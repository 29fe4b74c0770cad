//! The gateway's HTTP routes: chat completions, models, health, readiness
//! and metrics. One `Gateway` per worker; nothing in it is shared across cores.

mod answer_guard;
mod attempt;
mod auth;
mod count_tokens;
mod dialect;
mod engine;
mod fitting;
mod guards;
mod in_process;
mod obligations;
mod pipeline;
mod policy;
mod read;
mod record;
mod relay;
mod spend;
mod splice;
mod translated;

pub use answer_guard::{
    Opened, Poll as ApprovalPoll, expired as approval_expired, open_approval, poll as poll_approval,
};
pub use attempt::Failure;
pub(crate) use auth::key_of;
pub use dialect::Inbound;
pub use guards::{GuardStage, Guards};
pub use obligations::{Obligations, ToolCallHold};
pub use policy::{PolicyStage, StageRequest, stages_for};
pub use record::{DeliveryRecord, Ending};

use std::cell::Cell;

use crate::api::ApiError;
use crate::server::{Request, Responder, Service};

pub struct Gateway {
    worker: usize,
    next_id: Cell<u64>,
    id_salt: u64,
    /// Which routes this listener serves.
    role: Role,
}

/// The API listener serves the API (and `/admin/*` unless the admin API has
/// its own listener); the admin listener serves only `/admin/*` and health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Api { admin_here: bool },
    Admin,
}

impl Gateway {
    pub fn new(worker: usize) -> Self {
        let admin_here = crate::router::current().config.admin.listen.is_none();
        Self::with_role(worker, Role::Api { admin_here })
    }

    pub fn admin(worker: usize) -> Self {
        Self::with_role(worker, Role::Admin)
    }

    fn with_role(worker: usize, role: Role) -> Self {
        crate::governance::limits::bind_slot(worker);
        if crate::governance::runtime::get().is_some_and(|rt| rt.has_ledger()) {
            // Hand this core's spend rows to the ledger writer, in batches.
            monoio::spawn(async move {
                loop {
                    monoio::time::sleep(std::time::Duration::from_millis(20)).await;
                    crate::governance::ledger::flush_local();
                }
            });
        }
        // Publish this core's breaker states for /metrics, off the request path.
        monoio::spawn(async move {
            loop {
                crate::router::report::publish(worker, crate::router::health::breaker_report());
                crate::observe::metrics::publish(worker);
                monoio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        });
        Self {
            worker,
            next_id: Cell::new(0),
            id_salt: crate::router::health::random_u64() & 0xffff_ffff,
            role,
        }
    }

    /// The client's `x-request-id` when it is sane, otherwise a fresh one.
    fn request_id(&self, req: &Request) -> String {
        if let Some(id) = req.header("x-request-id")
            && !id.is_empty()
            && id.len() <= 128
            && id.iter().all(|b| b.is_ascii_graphic())
        {
            return String::from_utf8_lossy(id).into_owned();
        }
        let n = self.next_id.get() + 1;
        self.next_id.set(n);
        request_id_from(self.id_salt, self.worker as u8, n)
    }
}

impl Service for Gateway {
    /// A route that needs a key is refused from its head: a keyless client
    /// never gets to upload a body. `chat` checks again against the snapshot
    /// it holds, which a reload may have changed since.
    fn admit(&self, req: &Request) -> Result<(), ApiError> {
        if self.role != Role::Admin && req.path() == "/mcp" && mcp_enabled() {
            let gov = crate::governance::state::current();
            return crate::mcp::auth::identify(&gov, auth::presented(req)).map(|_| ());
        }
        if self.role != Role::Admin && auth::needs_key(req) {
            auth::authenticate(&crate::governance::state::current(), req)?;
        }
        Ok(())
    }

    fn error_body(&self, req: &Request, err: &ApiError) -> (Vec<u8>, crate::server::OwnHeaders) {
        let id = self.request_id(req);
        if req.path() == "/mcp" {
            return mcp_refusal(err, id, auth::presented(req));
        }
        let inbound = inbound_of(req.path());
        let body = inbound.error_body(err, &id);
        let mut headers = vec![("x-request-id", id.clone())];
        if inbound == Inbound::Anthropic {
            headers.push(("request-id", id));
        }
        (body, headers)
    }

    async fn call(&self, mut req: Request, resp: &mut Responder<'_>) {
        let method = req.method();
        let path = req.path();
        let admin_route = path.starts_with("/admin/");
        let admin_here = matches!(self.role, Role::Admin | Role::Api { admin_here: true });
        if admin_route && admin_here {
            let (method, path) = (method.to_owned(), path.to_owned());
            let query = req.query().map(str::to_owned);
            let presented = auth::presented(&req).map(<[u8]>::to_vec);
            let (status, body) = crate::governance::admin::handle(
                &method,
                &path,
                query.as_deref(),
                presented.as_deref(),
                &mut req.body,
            );
            let _ = resp.send_json(status, &[], &body).await;
            return;
        }
        if self.role == Role::Admin && !matches!(path, "/healthz" | "/readyz") {
            let err = ApiError::not_found(path);
            let _ = send_error(resp, Inbound::OpenAi, &err, &[]).await;
            return;
        }
        match req.path() {
            "/mcp" if mcp_enabled() => {
                let gov = crate::governance::state::current();
                let id = self.request_id(&req);
                match crate::mcp::auth::identify(&gov, auth::presented(&req)) {
                    Ok(who) => {
                        drop(gov);
                        crate::mcp::endpoint::serve(req, resp, who, id).await
                    }
                    Err(e) => {
                        let (body, own) = mcp_refusal(&e, id, auth::presented(&req));
                        let headers: Vec<(&str, &[u8])> =
                            own.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
                        let _ = resp.send_json(e.status, &headers, &body).await;
                    }
                }
            }
            path if path.starts_with("/.well-known/oauth-protected-resource")
                && method == "GET" =>
            {
                match crate::mcp::auth::oauth().filter(|o| {
                    path == "/.well-known/oauth-protected-resource" || path == o.metadata_path()
                }) {
                    Some(o) => {
                        let _ = resp.send_json(200, &[], &o.metadata_json()).await;
                    }
                    None => {
                        let _ = send_error(resp, Inbound::OpenAi, &ApiError::not_found(path), &[])
                            .await;
                    }
                }
            }
            "/key/info" if method == "GET" => {
                let gov = crate::governance::state::current();
                let (status, body) = match auth::authenticate(&gov, &req) {
                    Ok(key) => crate::governance::admin::key_info(&gov, key),
                    Err(e) => (e.status, e.to_json()),
                };
                let _ = resp.send_json(status, &[], &body).await;
            }
            path if path.starts_with("/v1/tollgate/approvals/") && method == "GET" => {
                let gov = crate::governance::state::current();
                let id = &path["/v1/tollgate/approvals/".len()..];
                let (status, body) = match auth::authenticate(&gov, &req) {
                    Ok(key) => answer_guard::client_view(id, key.map(|k| k.id.as_str())),
                    Err(e) => (e.status, e.to_json()),
                };
                let _ = resp.send_json(status, &[], &body).await;
            }
            "/v1/chat/completions" if method == "POST" => {
                pipeline::serve(self, Inbound::OpenAi, req, resp).await
            }
            "/v1/messages" if method == "POST" => {
                pipeline::serve(self, Inbound::Anthropic, req, resp).await
            }
            "/v1/messages/count_tokens" if method == "POST" => {
                count_tokens::handle(self, Inbound::Anthropic, req, resp).await
            }
            "/v1/chat/completions/count_tokens" if method == "POST" => {
                count_tokens::handle(self, Inbound::OpenAi, req, resp).await
            }
            "/v1/models" if method == "GET" => {
                let snapshot = crate::router::current();
                let _ = resp.send_json(200, &[], &snapshot.models_json).await;
            }
            "/healthz" if method == "GET" => {
                let _ = resp.send_json(200, &[], b"{\"status\":\"ok\"}").await;
            }
            "/readyz" if method == "GET" => {
                let (status, body) = readiness();
                let _ = resp.send_json(status, &[], &body).await;
            }
            "/metrics" if method == "GET" => {
                let body = metrics_text(self.worker);
                let _ = resp
                    .send(
                        200,
                        &[("content-type", b"text/plain; version=0.0.4")],
                        body.as_bytes(),
                    )
                    .await;
            }
            path @ ("/v1/chat/completions"
            | "/v1/messages"
            | "/v1/messages/count_tokens"
            | "/v1/chat/completions/count_tokens"
            | "/v1/models"
            | "/healthz"
            | "/readyz"
            | "/metrics") => {
                let err = ApiError::method_not_allowed();
                let _ = send_error(resp, inbound_of(path), &err, &[]).await;
            }
            path => {
                let err = ApiError::not_found(path);
                let _ = send_error(resp, inbound_of(path), &err, &[]).await;
            }
        }
    }
}

fn mcp_enabled() -> bool {
    crate::router::current().config.mcp.enabled()
}

/// A refused `/mcp` request: a JSON-RPC error, the `WWW-Authenticate`
/// challenge (pointing OAuth clients at the resource metadata) and the id.
fn mcp_refusal(
    err: &ApiError,
    id: String,
    presented: Option<&[u8]>,
) -> (Vec<u8>, crate::server::OwnHeaders) {
    let body = crate::mcp::wire::reply::error(
        None,
        crate::mcp::wire::reply::code::INVALID_REQUEST,
        &err.message,
        None,
    );
    let mut headers = vec![("x-request-id", id)];
    if matches!(err.status, 401 | 403) {
        headers.push(("www-authenticate", crate::mcp::auth::challenge(presented)));
    }
    (body, headers)
}

/// The dialect a route's clients speak, for errors outside the pipeline.
fn inbound_of(path: &str) -> Inbound {
    if path.starts_with("/v1/messages") {
        Inbound::Anthropic
    } else {
        Inbound::OpenAi
    }
}

/// Sends an error in the client's dialect; Anthropic's clients also read
/// the request id from a `request-id` header.
pub(crate) async fn send_error(
    resp: &mut Responder<'_>,
    inbound: Inbound,
    err: &ApiError,
    headers: &[(&str, &[u8])],
) -> std::io::Result<()> {
    let id = headers
        .iter()
        .find(|(n, _)| *n == "x-request-id")
        .map(|(_, v)| std::str::from_utf8(v).unwrap_or(""))
        .unwrap_or("");
    let body = inbound.error_body(err, id);
    match inbound {
        Inbound::OpenAi => resp.send_json(err.status, headers, &body).await,
        Inbound::Anthropic => {
            let mut all = headers.to_vec();
            if !id.is_empty() {
                all.push(("request-id", id.as_bytes()));
            }
            resp.send_json(err.status, &all, &body).await
        }
    }
}

/// Ready when the process is up and its config can serve some model.
fn readiness() -> (u16, Vec<u8>) {
    if !crate::runtime::lifecycle().is_ready() {
        return (503, b"{\"status\":\"not ready\"}".to_vec());
    }
    match crate::router::current().unready {
        None => (200, b"{\"status\":\"ready\"}".to_vec()),
        Some(reason) => {
            let mut body = String::from("{\"status\":\"not ready\",\"reason\":");
            crate::api::error::push_json_str(&mut body, reason);
            body.push('}');
            (503, body.into_bytes())
        }
    }
}

/// The few process gauges that exist before the observability issue; the
/// per-core histograms and counters come with it.
fn metrics_text(worker: usize) -> String {
    let snapshot = crate::router::current();
    let (opened, reused, idle) = crate::upstream::pool_stats();
    format!(
        "# TYPE tollgate_config_generation gauge\ntollgate_config_generation {}\n\
         # TYPE tollgate_models gauge\ntollgate_models {}\n\
         # TYPE tollgate_upstream_connections_opened_total counter\ntollgate_upstream_connections_opened_total{{worker=\"{worker}\"}} {opened}\n\
         # TYPE tollgate_upstream_connections_reused_total counter\ntollgate_upstream_connections_reused_total{{worker=\"{worker}\"}} {reused}\n\
         # TYPE tollgate_upstream_connections_idle gauge\ntollgate_upstream_connections_idle{{worker=\"{worker}\"}} {idle}\n",
        snapshot.generation,
        snapshot.models.len()
    ) + &crate::governance::tier::metrics_text()
        + &crate::governance::runtime::metrics_text()
        + &crate::router::report::metrics_text()
        + &crate::observe::metrics::metrics_text()
}

/// `req_` and 20 hex digits: the process's salt (8), the worker (2) and the
/// worker's count (10). Written by hand: `format!` costs ten times more on
/// a path every request takes.
fn request_id_from(salt: u64, worker: u8, n: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 24];
    out[..4].copy_from_slice(b"req_");
    let digits = (u128::from(salt & 0xffff_ffff) << 48)
        | (u128::from(worker) << 40)
        | u128::from(n & 0xff_ffff_ffff);
    for (i, slot) in out[4..].iter_mut().enumerate() {
        *slot = HEX[((digits >> (4 * (19 - i))) & 0xf) as usize];
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod request_id_tests {
    #[test]
    fn request_ids_read_as_the_format_they_replace() {
        for (salt, worker, n) in [
            (0, 0, 1),
            (0xdead_beef, 3, 42),
            (0xffff_ffff, 255, 0xff_ffff_ffff),
        ] {
            assert_eq!(
                super::request_id_from(salt, worker, n),
                format!("req_{salt:08x}{worker:02x}{n:010x}")
            );
        }
    }
}
