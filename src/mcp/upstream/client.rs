//! The one face of an upstream the gateway calls, whatever its transport:
//! probe once, call (a stream of events ending in the answer), notify,
//! listen for changes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::answer::{HttpExchange, HttpListener};
use super::http::HttpClient;
use super::stdio::{StdioClient, StdioExchange, StdioListener};
use super::{Era, Event, McpUpstreamError, UpstreamSpec};

/// One upstream as seen from one thread (a worker core, or the supervisor).
pub struct Client {
    spec: Arc<UpstreamSpec>,
    transport: Transport,
}

// The large variants are the common ones (HTTP); boxing them would cost
// every call an allocation to save stdio's few bytes.
#[allow(clippy::large_enum_variant)]
enum Transport {
    Http(HttpClient),
    Stdio(StdioClient),
}

impl Client {
    /// `owner` (a key id) picks the stdio process: one per (server, owner),
    /// never shared across owners. HTTP ignores it.
    pub fn new(spec: Arc<UpstreamSpec>, owner: Option<&str>) -> Client {
        let transport = match HttpClient::new(&spec) {
            Some(http) => Transport::Http(http),
            None => Transport::Stdio(StdioClient::new(spec.clone(), owner)),
        };
        Client { spec, transport }
    }

    pub fn spec(&self) -> &Arc<UpstreamSpec> {
        &self.spec
    }

    /// The server's era, probed once (`server/discover`, then `initialize`)
    /// within the spec's timeout.
    pub async fn ready(&self) -> Result<Era, McpUpstreamError> {
        let deadline = Instant::now() + self.spec.timeout;
        match &self.transport {
            Transport::Http(h) => h.ready(deadline).await,
            Transport::Stdio(s) => s.ready(deadline).await.map(|(_, era)| era),
        }
    }

    /// The raw `result` of the discovery or `initialize` answer, once ready.
    pub fn server_info(&self) -> Option<Vec<u8>> {
        match &self.transport {
            Transport::Http(h) => h.server_info(),
            Transport::Stdio(s) => s.server_info(),
        }
    }

    /// The stdio process serving this client, once started.
    pub fn pid(&self) -> Option<u32> {
        match &self.transport {
            Transport::Http(_) => None,
            Transport::Stdio(s) => s.pid(),
        }
    }

    /// Sends request `method` with `params` (a JSON object, `_meta` and all)
    /// under an id of ours; `timeout` bounds everything, the probe included.
    /// `extra_headers` (`Mcp-Param-*`) go on HTTP requests only.
    pub async fn call(
        &self,
        method: &str,
        params: &[u8],
        extra_headers: &[(String, String)],
        timeout: Duration,
    ) -> Result<Exchange, McpUpstreamError> {
        self.call_as(None, method, params, extra_headers, timeout)
            .await
    }

    /// An id of ours for a call not yet made (HTTP only: a stdio process
    /// numbers its own): a caller that may cancel while the server has not
    /// yet answered the head knows what to name in `notifications/cancelled`.
    pub fn reserve_id(&self) -> Option<u64> {
        match &self.transport {
            Transport::Http(h) => Some(h.next_id()),
            Transport::Stdio(_) => None,
        }
    }

    /// [`call`](Self::call) under an id from [`reserve_id`](Self::reserve_id).
    pub async fn call_as(
        &self,
        reserved: Option<u64>,
        method: &str,
        params: &[u8],
        extra_headers: &[(String, String)],
        timeout: Duration,
    ) -> Result<Exchange, McpUpstreamError> {
        self.call_with(reserved, method, params, extra_headers, timeout, None)
            .await
    }

    /// [`call_as`](Self::call_as) with params whose `_meta` already names
    /// protocol version `ready` with the client's capabilities and info
    /// (a 2026-07-28 client's own): to a server of that version they go as
    /// they are, with no `_meta` of ours spliced in.
    pub async fn call_with(
        &self,
        reserved: Option<u64>,
        method: &str,
        params: &[u8],
        extra_headers: &[(String, String)],
        timeout: Duration,
        ready: Option<&str>,
    ) -> Result<Exchange, McpUpstreamError> {
        let (id, inner) = match &self.transport {
            Transport::Http(h) => {
                let (id, x) = h
                    .call(reserved, method, params, extra_headers, timeout, ready)
                    .await?;
                (id, ExchangeInner::Http(x))
            }
            Transport::Stdio(s) => {
                let (id, x) = s.call(method, params, timeout, ready).await?;
                (id, ExchangeInner::Stdio(x))
            }
        };
        Ok(Exchange { id, inner })
    }

    pub async fn notify(&self, method: &str, params: &[u8]) -> Result<(), McpUpstreamError> {
        match &self.transport {
            Transport::Http(h) => h.notify(method, params).await,
            Transport::Stdio(s) => s.notify(method, params).await,
        }
    }

    /// Sends the answer to a request the server made mid-call.
    pub async fn respond(&self, message: &[u8]) -> Result<(), McpUpstreamError> {
        match &self.transport {
            Transport::Http(h) => h.respond(message).await,
            Transport::Stdio(s) => s.respond(message).await,
        }
    }

    /// Change notifications: legacy HTTP opens the session's GET stream
    /// (`Unsupported` on 405); modern opens `subscriptions/listen` opted in
    /// to tool, prompt and resource list changes; legacy stdio hears every
    /// notification no request claims.
    pub async fn listen(&self) -> Result<Listener, McpUpstreamError> {
        let inner = match &self.transport {
            Transport::Http(h) => ListenerInner::Http(h.listen().await?),
            Transport::Stdio(s) => ListenerInner::Stdio(s.listen().await?),
        };
        Ok(Listener { inner })
    }

    /// Ends a legacy HTTP session (`DELETE`); the next call starts another.
    pub async fn close(&self) -> Result<(), McpUpstreamError> {
        match &self.transport {
            Transport::Http(h) => h.close().await,
            Transport::Stdio(_) => Ok(()),
        }
    }
}

/// One request in flight. Dropped before its answer, it cancels the
/// request: the HTTP stream is closed (never pooled), a stdio server is
/// sent `notifications/cancelled`.
pub struct Exchange {
    id: u64,
    inner: ExchangeInner,
}

#[allow(clippy::large_enum_variant)]
enum ExchangeInner {
    Http(HttpExchange),
    Stdio(StdioExchange),
}

impl Exchange {
    /// The JSON-RPC id we sent (ours, unique per client).
    pub fn upstream_id(&self) -> u64 {
        self.id
    }

    /// A JSON answer is one `Final`; a stream is `Message`s, then `Final`.
    /// After `Final`, `Closed`.
    pub async fn next(&mut self) -> Result<Event, McpUpstreamError> {
        match &mut self.inner {
            ExchangeInner::Http(x) => x.next().await,
            ExchangeInner::Stdio(x) => x.next().await,
        }
    }
}

/// A stream of change notifications; dropping it ends the subscription.
pub struct Listener {
    inner: ListenerInner,
}

#[allow(clippy::large_enum_variant)]
enum ListenerInner {
    Http(HttpListener),
    Stdio(StdioListener),
}

impl Listener {
    /// Each notification, raw JSON; `Closed` when the stream ends.
    pub async fn next(&mut self) -> Result<Vec<u8>, McpUpstreamError> {
        match &mut self.inner {
            ListenerInner::Http(l) => l.next().await,
            ListenerInner::Stdio(l) => l.next().await,
        }
    }
}
