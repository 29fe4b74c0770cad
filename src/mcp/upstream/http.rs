//! Streamable HTTP to one upstream from one thread: the era probe (once,
//! however many tasks ask), the legacy session and its renewal, each request
//! rendered with the era's headers and sent on this core's pool.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::answer::{HttpExchange, HttpListener, read_small};
use super::message::{self, MODERN_VERSION};
use super::probe::{self, Discovered};
use super::{Era, Event, McpUpstreamError, Target, UpstreamSpec};
use crate::upstream::{BaseUrl, UpstreamRequest, UpstreamResponse};

/// How long a change stream may stay open before it is renewed.
const LISTEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_IDLE: usize = 32;
const ACCEPT_BOTH: &str = "application/json, text/event-stream";

pub(super) struct HttpClient {
    timeout: Duration,
    base: BaseUrl,
    addrs: Vec<SocketAddr>,
    /// The spec's headers as `name: value\r\n` lines (secrets inside: never logged).
    static_headers: Vec<u8>,
    tls: Arc<rustls::ClientConfig>,
    next_id: Cell<u64>,
    era: Cell<Option<Era>>,
    session: RefCell<Option<String>>,
    info: RefCell<Option<Vec<u8>>>,
    probing: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

/// The MCP headers of one request, by era.
enum Headers<'a> {
    /// `initialize`: none.
    Handshake,
    Legacy(&'static str),
    Modern {
        method: &'a str,
        name: Option<&'a str>,
    },
}

impl HttpClient {
    pub(super) fn new(spec: &UpstreamSpec) -> Option<HttpClient> {
        let Target::Http {
            base,
            addrs,
            headers,
        } = &spec.target
        else {
            return None;
        };
        let mut static_headers = Vec::new();
        for (name, value) in headers {
            static_headers.extend_from_slice(name.as_bytes());
            static_headers.extend_from_slice(b": ");
            static_headers.extend_from_slice(value.expose().as_bytes());
            static_headers.extend_from_slice(b"\r\n");
        }
        Some(HttpClient {
            timeout: spec.timeout,
            base: base.clone(),
            addrs: addrs.clone(),
            static_headers,
            tls: crate::tls::client_config(),
            next_id: Cell::new(1),
            era: Cell::new(None),
            session: RefCell::new(None),
            info: RefCell::new(None),
            probing: Cell::new(false),
            waiters: RefCell::new(Vec::new()),
        })
    }

    pub(super) fn next_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    pub(super) fn server_info(&self) -> Option<Vec<u8>> {
        self.info.borrow().clone()
    }

    /// The era, probed by the first task to ask; the others wait for it.
    pub(super) async fn ready(&self, deadline: Instant) -> Result<Era, McpUpstreamError> {
        loop {
            if let Some(era) = self.era.get() {
                return Ok(era);
            }
            if !self.probing.get() {
                break;
            }
            self.wait_for_probe().await;
        }
        self.probing.set(true);
        let _gate = ProbeGate(self);
        let era = self.probe(deadline).await?;
        self.era.set(Some(era));
        Ok(era)
    }

    async fn wait_for_probe(&self) {
        let mut registered = false;
        std::future::poll_fn(|cx| {
            if registered {
                return Poll::Ready(());
            }
            registered = true;
            self.waiters.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// `server/discover` at our modern revision; anything but a modern
    /// answer (or an outage) falls back to `initialize`.
    async fn probe(&self, deadline: Instant) -> Result<Era, McpUpstreamError> {
        let id = self.next_id();
        let body = message::request(id, "server/discover", &probe::discover_params());
        let headers = Headers::Modern {
            method: "server/discover",
            name: None,
        };
        let resp = self.post(&body, headers, &[], deadline).await?;
        if resp.status >= 500 {
            return Err(McpUpstreamError::Status(resp.status));
        }
        match probe::discovered(&final_of(resp, id, deadline).await?) {
            Discovered::Modern(info) => {
                *self.info.borrow_mut() = Some(info);
                Ok(Era::Modern(MODERN_VERSION))
            }
            Discovered::Incompatible(why) => Err(McpUpstreamError::Protocol(why)),
            Discovered::Legacy => self.initialize(deadline).await,
        }
    }

    /// The legacy handshake: `initialize`, keep the session and version,
    /// then `notifications/initialized`.
    async fn initialize(&self, deadline: Instant) -> Result<Era, McpUpstreamError> {
        *self.session.borrow_mut() = None;
        let id = self.next_id();
        let body = message::request(id, "initialize", &probe::initialize_params());
        let resp = self.post(&body, Headers::Handshake, &[], deadline).await?;
        if !(200..300).contains(&resp.status) {
            return Err(McpUpstreamError::Status(resp.status));
        }
        let session = match resp.header("mcp-session-id") {
            Some(raw) if raw.iter().all(|b| (0x21..=0x7e).contains(b)) => {
                Some(String::from_utf8_lossy(raw).into_owned())
            }
            Some(_) => {
                return Err(McpUpstreamError::Protocol(
                    "the session id is not visible ASCII".into(),
                ));
            }
            None => None,
        };
        let (version, info) = probe::initialized(&final_of(resp, id, deadline).await?)
            .map_err(McpUpstreamError::Protocol)?;
        *self.session.borrow_mut() = session;
        *self.info.borrow_mut() = Some(info);
        let note = message::notification("notifications/initialized", b"");
        let resp = self
            .post(&note, Headers::Legacy(version), &[], deadline)
            .await?;
        expect_accepted(resp, deadline).await?;
        Ok(Era::Legacy(version))
    }

    pub(super) async fn call(
        &self,
        reserved: Option<u64>,
        method: &str,
        params: &[u8],
        extra: &[(String, String)],
        timeout: Duration,
        meta_ready: Option<&str>,
    ) -> Result<(u64, HttpExchange), McpUpstreamError> {
        let deadline = Instant::now() + timeout;
        check_extra(extra)?;
        let era = self.ready(deadline).await?;
        let id = reserved.unwrap_or_else(|| self.next_id());
        let (body, name) = match era {
            Era::Modern(v) => {
                let params = message::modern_params(params, meta_ready == Some(v))
                    .map_err(McpUpstreamError::Protocol)?;
                let name = message::names_target(method)
                    .then(|| message::target_name(&params))
                    .flatten();
                (message::request(id, method, &params), name)
            }
            Era::Legacy(_) => (message::request(id, method, params), None),
        };
        let sent_session = self.session.borrow().clone();
        let headers = headers_for(era, method, name.as_deref());
        let mut resp = self.post(&body, headers, extra, deadline).await?;
        if resp.status == 404 && matches!(era, Era::Legacy(_)) && sent_session.is_some() {
            // The session expired: renew it (unless another task already
            // did) and send the request once more.
            drop(resp);
            if *self.session.borrow() == sent_session {
                self.era.set(None);
                *self.session.borrow_mut() = None;
            }
            let era = self.ready(deadline).await?;
            resp = self
                .post(&body, headers_for(era, method, None), extra, deadline)
                .await?;
        }
        Ok((id, HttpExchange::start(resp, id, deadline).await?))
    }

    pub(super) async fn notify(&self, method: &str, params: &[u8]) -> Result<(), McpUpstreamError> {
        let deadline = Instant::now() + self.timeout;
        let era = self.ready(deadline).await?;
        let body = message::notification(method, params);
        let resp = self
            .post(&body, headers_for(era, method, None), &[], deadline)
            .await?;
        expect_accepted(resp, deadline).await
    }

    /// Sends a message that is not a request (a client's answer to the
    /// server's own request), expecting 202.
    pub(super) async fn respond(&self, message: &[u8]) -> Result<(), McpUpstreamError> {
        let deadline = Instant::now() + self.timeout;
        let era = self.ready(deadline).await?;
        let resp = self
            .post(message, headers_for(era, "", None), &[], deadline)
            .await?;
        expect_accepted(resp, deadline).await
    }

    /// Change notifications: the session's GET stream (legacy), or a
    /// `subscriptions/listen` stream opted in to every list change (modern).
    pub(super) async fn listen(&self) -> Result<HttpListener, McpUpstreamError> {
        let deadline = Instant::now() + self.timeout;
        let era = self.ready(deadline).await?;
        let (bytes, id) = match era {
            Era::Legacy(v) => (
                self.render("GET", "text/event-stream", Headers::Legacy(v), &[], None),
                None,
            ),
            Era::Modern(_) => {
                let id = self.next_id();
                let params = message::with_modern_meta(
                    br#"{"notifications":{"toolsListChanged":true,"promptsListChanged":true,"resourcesListChanged":true}}"#,
                )
                .map_err(McpUpstreamError::Protocol)?;
                let body = message::request(id, "subscriptions/listen", &params);
                let headers = headers_for(era, "subscriptions/listen", None);
                (
                    self.render("POST", ACCEPT_BOTH, headers, &[], Some(&body)),
                    Some(id),
                )
            }
        };
        let resp = self.send(bytes, self.timeout, LISTEN_LIFETIME).await?;
        HttpListener::start(resp, id).await
    }

    /// Ends a legacy session (`DELETE`); nothing to do in the modern era.
    pub(super) async fn close(&self) -> Result<(), McpUpstreamError> {
        let (Some(Era::Legacy(v)), Some(_)) = (self.era.get(), self.session.borrow().clone())
        else {
            return Ok(());
        };
        let bytes = self.render("DELETE", ACCEPT_BOTH, Headers::Legacy(v), &[], None);
        let resp = self.send(bytes, self.timeout, self.timeout).await?;
        self.era.set(None);
        *self.session.borrow_mut() = None;
        match resp.status {
            405 => Ok(()),
            _ => expect_accepted(resp, Instant::now() + self.timeout).await,
        }
    }

    async fn post(
        &self,
        body: &[u8],
        headers: Headers<'_>,
        extra: &[(String, String)],
        deadline: Instant,
    ) -> Result<UpstreamResponse, McpUpstreamError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let bytes = self.render("POST", ACCEPT_BOTH, headers, extra, Some(body));
        self.send(bytes, left, left).await
    }

    async fn send(
        &self,
        bytes: Vec<u8>,
        first_byte: Duration,
        total: Duration,
    ) -> Result<UpstreamResponse, McpUpstreamError> {
        if first_byte.is_zero() || total.is_zero() {
            return Err(McpUpstreamError::Timeout);
        }
        let req = UpstreamRequest {
            origin: &self.base.origin,
            addrs: &self.addrs,
            tls: &self.tls,
            connect_timeout: first_byte.min(CONNECT_TIMEOUT),
            first_byte_timeout: first_byte,
            total_timeout: total,
            max_idle: MAX_IDLE,
        };
        Ok(crate::upstream::send(req, bytes).await?)
    }

    /// The request's bytes: head with the era's MCP headers, the spec's
    /// static headers and the caller's extra ones, then the body.
    fn render(
        &self,
        verb: &str,
        accept: &str,
        headers: Headers<'_>,
        extra: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.map_or(0, <[u8]>::len) + 512);
        let path = if self.base.path.is_empty() {
            "/"
        } else {
            &self.base.path
        };
        for piece in [
            verb,
            " ",
            path,
            " HTTP/1.1\r\nhost: ",
            &self.base.host_header,
        ] {
            out.extend_from_slice(piece.as_bytes());
        }
        line(&mut out, "accept", accept);
        line(
            &mut out,
            "user-agent",
            concat!("tollgate/", env!("CARGO_PKG_VERSION")),
        );
        match headers {
            Headers::Handshake => {}
            Headers::Legacy(version) => {
                if let Some(session) = self.session.borrow().as_deref() {
                    line(&mut out, "mcp-session-id", session);
                }
                line(&mut out, "mcp-protocol-version", version);
            }
            Headers::Modern { method, name } => {
                line(&mut out, "mcp-protocol-version", MODERN_VERSION);
                line(
                    &mut out,
                    "mcp-method",
                    &crate::mcp::wire::headers::encode_value(method),
                );
                if let Some(name) = name {
                    line(
                        &mut out,
                        "mcp-name",
                        &crate::mcp::wire::headers::encode_value(name),
                    );
                }
            }
        }
        for (name, value) in extra {
            line(&mut out, name, value);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.static_headers);
        if let Some(body) = body {
            out.extend_from_slice(b"content-type: application/json\r\ncontent-length: ");
            crate::canonical::json::write_u64(&mut out, body.len() as u64);
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(body);
        } else {
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

/// Wakes the tasks waiting on a probe when it ends, however it ends
/// (a dropped probe lets the next waiter probe instead).
struct ProbeGate<'a>(&'a HttpClient);

impl Drop for ProbeGate<'_> {
    fn drop(&mut self) {
        self.0.probing.set(false);
        for waker in self.0.waiters.borrow_mut().drain(..) {
            waker.wake();
        }
    }
}

fn headers_for<'a>(era: Era, method: &'a str, name: Option<&'a str>) -> Headers<'a> {
    match era {
        Era::Legacy(v) => Headers::Legacy(v),
        Era::Modern(_) => Headers::Modern { method, name },
    }
}

/// `\r\nname: value` — the head's lines end where the next one starts.
fn line(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
}

/// The caller's extra headers must be headers: no line breaks, no framing.
fn check_extra(extra: &[(String, String)]) -> Result<(), McpUpstreamError> {
    let bad = extra.iter().any(|(n, v)| {
        http::HeaderName::from_bytes(n.as_bytes()).is_err()
            || crate::upstream::is_reserved_header(n)
            || !v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
    });
    if bad {
        return Err(McpUpstreamError::Protocol(
            "an extra header is not one the gateway can send".into(),
        ));
    }
    Ok(())
}

/// The JSON-RPC message answering request `id`, whatever the status: an
/// error status's body as it is (the probe reads modern errors from it).
async fn final_of(
    resp: UpstreamResponse,
    id: u64,
    deadline: Instant,
) -> Result<Vec<u8>, McpUpstreamError> {
    if !(200..300).contains(&resp.status) || resp.status == 202 {
        return read_small(resp, deadline).await;
    }
    let mut exchange = HttpExchange::start(resp, id, deadline).await?;
    loop {
        if let Event::Final(msg) = exchange.next().await? {
            return Ok(msg);
        }
    }
}

/// A notification's answer: any 2xx (202 as the specification has it).
async fn expect_accepted(
    resp: UpstreamResponse,
    deadline: Instant,
) -> Result<(), McpUpstreamError> {
    let status = resp.status;
    // Read to the end so the connection goes back to the pool.
    read_small(resp, deadline).await?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(McpUpstreamError::Status(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn client() -> HttpClient {
        let spec = UpstreamSpec {
            name: "alpha".into(),
            target: Target::Http {
                base: crate::upstream::Origin::parse_base_url("http://127.0.0.1:9/mcp").unwrap(),
                addrs: vec!["127.0.0.1:9".parse().unwrap()],
                headers: vec![("x-api-key".into(), Secret::new("k1".into()))],
            },
            timeout: Duration::from_secs(1),
            max_concurrency: 4,
            idle: Duration::from_secs(60),
        };
        HttpClient::new(&spec).unwrap()
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn modern_requests_mirror_method_and_name() {
        let c = client();
        let headers = Headers::Modern {
            method: "tools/call",
            name: Some("Hello, 世界"),
        };
        let extra = [("Mcp-Param-Region".to_string(), "us-west1".to_string())];
        let out = text(c.render("POST", ACCEPT_BOTH, headers, &extra, Some(b"{}")));
        let out = out.replace(env!("CARGO_PKG_VERSION"), "X");
        assert_eq!(
            out,
            "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:9\r\naccept: application/json, text/event-stream\r\n\
             user-agent: tollgate/X\r\nmcp-protocol-version: 2026-07-28\r\nmcp-method: tools/call\r\n\
             mcp-name: =?base64?SGVsbG8sIOS4lueVjA==?=\r\nMcp-Param-Region: us-west1\r\nx-api-key: k1\r\n\
             content-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        );
    }

    #[test]
    fn legacy_requests_carry_the_session() {
        let c = client();
        *c.session.borrow_mut() = Some("abc".into());
        let out = text(c.render(
            "GET",
            "text/event-stream",
            Headers::Legacy("2025-11-25"),
            &[],
            None,
        ));
        let out = out.replace(env!("CARGO_PKG_VERSION"), "X");
        assert_eq!(
            out,
            "GET /mcp HTTP/1.1\r\nhost: 127.0.0.1:9\r\naccept: text/event-stream\r\n\
             user-agent: tollgate/X\r\nmcp-session-id: abc\r\nmcp-protocol-version: 2025-11-25\r\n\
             x-api-key: k1\r\n\r\n"
        );
        let out = text(c.render("POST", ACCEPT_BOTH, Headers::Handshake, &[], Some(b"{}")));
        assert!(!out.contains("mcp-"), "{out}");
    }

    #[test]
    fn extra_headers_cannot_break_the_head() {
        for (n, v) in [
            ("X-A", "a\r\nb"),
            ("content-length", "1"),
            ("bad name", "x"),
        ] {
            assert!(check_extra(&[(n.into(), v.into())]).is_err(), "{n}");
        }
        assert!(check_extra(&[("Mcp-Param-A".into(), "=?base64?AA==?=".into())]).is_ok());
    }
}
