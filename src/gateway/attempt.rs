//! One attempt at one deployment, up to the commit point: render the request
//! for the deployment's provider, send it, and wait for its output — a
//! stream's first body bytes, or a whole answer read to its end (up to a
//! bound). Nothing reaches the client here, so a failure (a cut answer
//! included) can still be retried elsewhere, and a losing hedge is dropped.

use std::cell::OnceCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::dialect::Inbound;
use super::obligations::Obligations;
use crate::api::ApiError;
use crate::api::chat::ChatEnvelope;
use crate::canonical::ChatRequest;
use crate::canonical::scratch::with_buffer;
use crate::config::ProviderKind;
use crate::router::{Deployment, Provider};
use crate::server::Request;
use crate::upstream::{UpstreamBody, UpstreamError, UpstreamRequest, UpstreamResponse};

/// Error bodies larger than this are cut when kept for the client.
const MAX_ERROR_BODY: usize = 1024 * 1024;

/// The request as each kind of provider needs it, parsed at most once each.
pub struct RequestCtx<'a> {
    pub inbound: Inbound,
    /// The snapshot the request holds to its end (routes, models to ask).
    pub snapshot: &'a crate::router::Snapshot,
    pub req: &'a Request,
    pub request_id: &'a str,
    pub stream: bool,
    pub include_usage: bool,
    pub envelope: OnceCell<Result<ChatEnvelope, ApiError>>,
    pub canonical: OnceCell<Result<ChatRequest, ApiError>>,
    /// The client's own lower deadline (`x-tollgate-timeout-ms`), when allowed.
    pub timeout_cap: Option<Duration>,
    /// Whole answers are held up to this size before they are committed.
    pub hold_bytes: usize,
    pub max_tokens: OnceCell<Option<u32>>,
    /// What the policy stages asked of the response side.
    pub obligations: Obligations,
    /// A policy stage changed the canonical request: every attempt renders
    /// from it, so no body goes upstream as the client wrote it.
    pub rewritten: bool,
    /// What the guard stage tells the client (`x-tollgate-guard`), if anything.
    pub guard_flags: String,
    /// Whole answers carry `x-tollgate-cost` (governance is on).
    pub price_answers: bool,
    /// The client asked (`x-tollgate-include-cost: true`) for the cost in a
    /// stream's final usage chunk or event.
    pub include_cost: bool,
}

impl RequestCtx<'_> {
    /// A whole answer's cost, when answers are priced (governance is on)
    /// and it reports a usage: the `x-tollgate-cost` header is made from
    /// it, and the ledger row takes it.
    pub fn answer_cost(
        &self,
        spec: Option<&crate::context_window::catalog::ModelSpec>,
        usage: Option<crate::canonical::Usage>,
    ) -> Option<crate::governance::cost::Cost> {
        usage
            .filter(|_| self.price_answers)
            .map(|u| crate::governance::cost::of_usage(spec, &u))
    }

    /// The output tokens the request allows, when it says (read only for
    /// whole answers, whose deadline depends on it).
    pub fn max_tokens(&self) -> Option<u32> {
        *self.max_tokens.get_or_init(|| match self.envelope.get() {
            Some(Ok(envelope)) => envelope.max_tokens,
            _ => {
                let body = &self.req.body;
                let [completion, max] = crate::canonical::json_scan::find_top_level_values(
                    body,
                    [b"max_completion_tokens", b"max_tokens"],
                )?;
                let span = completion.or(max)?;
                std::str::from_utf8(&body[span]).ok()?.parse().ok()
            }
        })
    }

    /// What the same-dialect path needs: the model, stream flag and the
    /// span of `model` for splicing; the rest goes upstream unread.
    pub fn envelope(&self) -> Result<&ChatEnvelope, ApiError> {
        self.envelope
            .get_or_init(|| {
                let first_model =
                    crate::canonical::json_scan::first_top_level_value(&self.req.body, b"model");
                self.inbound.envelope(&self.req.body, first_model)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    pub fn canonical(&self) -> Result<&ChatRequest, ApiError> {
        self.canonical
            .get_or_init(|| self.inbound.parse(&self.req.body))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Whether `kind` takes the client's body as is (the splicing fast
    /// path): the same dialect, with nothing a stage changed or must see.
    pub fn is_native(&self, kind: ProviderKind) -> bool {
        !self.rewritten && !self.obligations.need_canonical() && self.inbound.is_native(kind)
    }
}

/// An attempt that produced output: the commit point has been reached.
pub struct Prepared {
    pub deployment: Arc<Deployment>,
    pub upstream: UpstreamResponse,
    /// The body bytes already read: a stream's first, or a whole answer
    /// (all of it, unless larger than the hold bound).
    pub first: Vec<u8>,
    pub ttfb_ms: u64,
    pub ttft_ms: u64,
    /// Admitted as a breaker probe: its delivery's outcome decides.
    pub probe: bool,
    /// What context fitting counted and did for this attempt, if anything.
    pub fit: Option<super::fitting::FitReport>,
}

/// An owned header: lower-cased name, raw value.
pub type HeaderPair = (String, Vec<u8>);

/// Why an attempt did not produce output.
#[derive(Debug)]
pub enum Failure {
    /// The upstream answered with an error status.
    Status {
        status: u16,
        retry_after_ms: Option<u64>,
        body: Vec<u8>,
        kind: ProviderKind,
        /// The upstream headers a client may use (rate limits, retry-after).
        headers: Vec<HeaderPair>,
    },
    /// No usable answer: connect, timeouts, closed or malformed.
    Transport(UpstreamError),
    /// The request cannot be expressed for this deployment's provider.
    Invalid(ApiError),
}

/// What a failure allows next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again (this deployment after a backoff, or another one).
    Retry,
    /// The key was refused or rate-limited: another key of the same provider may do.
    RotateKey,
    /// This model cannot take the request (context length): only other models may.
    OtherModel,
    /// The client's own fault: answer it as is.
    Final,
}

impl Failure {
    pub fn next(&self) -> Next {
        match self {
            Failure::Transport(_) => Next::Retry,
            Failure::Invalid(_) => Next::OtherModel,
            Failure::Status { status, body, .. } => match status {
                429 | 401 | 403 => Next::RotateKey,
                408 | 409 | 500..=599 => Next::Retry,
                400 | 413 | 422 if mentions_context_length(body) => Next::OtherModel,
                _ => Next::Final,
            },
        }
    }

    /// A same-dialect provider's own error answer, to relay as it came
    /// (status, body byte for byte, rate-limit headers) when it is the last
    /// word and already in the client's shape; any other body is wrapped.
    pub fn raw_answer(&self, inbound: Inbound) -> Option<(u16, &[HeaderPair], &[u8])> {
        match self {
            Failure::Status {
                status,
                body,
                kind,
                headers,
                ..
            } if inbound.is_native(*kind) && inbound.owns_error_body(body) => {
                Some((*status, headers.as_slice(), body.as_slice()))
            }
            _ => None,
        }
    }

    /// The client-facing error when this is the last word.
    pub fn to_api(&self, provider: &str) -> ApiError {
        match self {
            Failure::Transport(e) => e.to_api(provider),
            Failure::Invalid(e) => e.clone(),
            Failure::Status {
                status, body, kind, ..
            } => (crate::providers::adapter::adapter(*kind).map_error)(*status, body, provider),
        }
    }
}

fn mentions_context_length(body: &[u8]) -> bool {
    const MARKERS: [&[u8]; 5] = [
        b"context_length_exceeded",
        b"maximum context length",
        b"prompt is too long",
        b"exceeds the maximum number of tokens",
        b"context window",
    ];
    MARKERS
        .iter()
        .any(|m| body.windows(m.len()).any(|w| w.eq_ignore_ascii_case(m)))
}

/// Runs one attempt up to the first body bytes.
pub async fn prepare(
    ctx: &RequestCtx<'_>,
    deployment: Arc<Deployment>,
    key_index: usize,
) -> Result<Prepared, Failure> {
    let provider = &deployment.provider;
    let key = if provider.api_keys.is_empty() {
        None
    } else {
        Some(&provider.api_keys[key_index % provider.api_keys.len()])
    };
    let render = |body: &[u8]| {
        crate::providers::render_request(
            provider,
            key,
            deployment.chat_target(ctx.stream),
            body,
            ctx.stream,
            ctx.request_id,
            ctx.req.headers(),
        )
    };
    let (fitted, fit) = if super::fitting::must_count(ctx, &deployment) {
        // Boxed: the counting path (a summarize call among it) is rare, and
        // its future would otherwise grow every attempt's.
        Box::pin(super::fitting::for_attempt(ctx, &deployment)).await?
    } else {
        (None, None)
    };
    // A fitted request, or the canonical one for a provider of another
    // dialect, is written by the adapter; otherwise the client's bytes go.
    let canonical = match &fitted {
        Some(fitted) => Some(fitted),
        None if !ctx.is_native(provider.kind) => Some(ctx.canonical().map_err(Failure::Invalid)?),
        None => None,
    };
    let bytes = match canonical {
        Some(canonical) => with_buffer(|body| {
            (crate::providers::adapter::adapter(provider.kind).write_body)(
                canonical,
                &deployment,
                body,
            )
            .map_err(Failure::Invalid)?;
            Ok(render(body))
        })?,
        None => render(&super::splice::passthrough_body(ctx, &deployment)?),
    };
    let t = &deployment.timeouts;
    let max_tokens = match ctx.stream {
        true => 0,
        false => fit
            .as_ref()
            .and_then(|f| f.lowered_max_tokens)
            .or_else(|| ctx.max_tokens())
            .unwrap_or(deployment.default_max_tokens),
    };
    let budget = t.output_budget(ctx.stream, max_tokens, ctx.timeout_cap);
    let started = Instant::now();
    let output_deadline = started + budget;
    let mut upstream = send(provider, t.head_budget(budget), t.total, bytes)
        .await
        .map_err(Failure::Transport)?;
    let ttfb_ms = started.elapsed().as_millis() as u64;
    if upstream.status >= 400 {
        return Err(error_answer(provider, upstream).await);
    }
    // A stream's first token is owed within its budget from the start; a
    // whole answer's body follows its head at once, when it comes at all.
    let left = output_deadline.saturating_duration_since(Instant::now());
    let first_wait = if ctx.stream { left } else { t.ttft.min(left) };
    upstream
        .body
        .set_piece_timeout(Some(first_wait), UpstreamError::FirstTokenTimeout);
    let mut first = match upstream.body.next().await {
        Ok(Some(piece)) => piece.to_vec(),
        Ok(None) => Vec::new(),
        Err(e) => return Err(Failure::Transport(e)),
    };
    let ttft_ms = started.elapsed().as_millis() as u64;
    if !ctx.stream {
        hold(
            &mut upstream.body,
            &mut first,
            ctx.hold_bytes,
            t.stall,
            output_deadline,
        )
        .await
        .map_err(Failure::Transport)?;
    }
    upstream
        .body
        .set_piece_timeout(Some(t.stall), UpstreamError::Stalled);
    Ok(Prepared {
        deployment,
        upstream,
        first,
        ttfb_ms,
        ttft_ms,
        probe: false,
        fit,
    })
}

/// Reads a whole answer on into `held` until it ends or reaches `limit`, so
/// that a cut one is a failure of this attempt rather than a broken answer
/// on the client's screen.
async fn hold(
    body: &mut UpstreamBody,
    held: &mut Vec<u8>,
    limit: usize,
    stall: Duration,
    deadline: Instant,
) -> Result<(), UpstreamError> {
    while !body.is_done() && held.len() < limit {
        let left = deadline.saturating_duration_since(Instant::now());
        let (wait, error) = if left < stall {
            (left, UpstreamError::TotalTimeout)
        } else {
            (stall, UpstreamError::Stalled)
        };
        body.set_piece_timeout(Some(wait), error);
        match body.next().await? {
            Some(piece) => held.extend_from_slice(piece),
            None => break,
        }
    }
    Ok(())
}

/// A gateway-made call beside the client's request (a count, a summary):
/// one whole POST to `target` with the provider's first key, the answer's
/// body on a 200 and `None` on anything else, so the caller falls back.
#[allow(clippy::too_many_arguments)]
pub(super) async fn side_call<'h>(
    provider: &Provider,
    target: &str,
    body: &[u8],
    request_id: &str,
    client_headers: impl Iterator<Item = (&'h str, &'h [u8])>,
    head_timeout: Duration,
    total_timeout: Duration,
    limit: usize,
) -> Option<Vec<u8>> {
    let bytes = crate::providers::render_request(
        provider,
        provider.api_keys.first(),
        target,
        body,
        false,
        request_id,
        client_headers,
    );
    let mut upstream = send(provider, head_timeout, total_timeout, bytes)
        .await
        .ok()?;
    let status = upstream.status;
    let answer = upstream.body.collect(limit).await.ok()?;
    (status == 200).then_some(answer)
}

/// Sends a rendered request and waits for the response head.
pub(super) async fn send(
    provider: &Provider,
    head_timeout: Duration,
    total_timeout: Duration,
    bytes: Vec<u8>,
) -> Result<UpstreamResponse, UpstreamError> {
    let base = provider
        .base
        .as_ref()
        .expect("validated: network providers have a base URL");
    let target = UpstreamRequest {
        origin: &base.origin,
        addrs: &provider.addrs,
        tls: &provider.tls,
        connect_timeout: provider.connect_timeout,
        first_byte_timeout: head_timeout,
        total_timeout,
        max_idle: provider.pool_max_idle,
    };
    crate::upstream::send(target, bytes).await
}

async fn error_answer(provider: &Provider, mut upstream: UpstreamResponse) -> Failure {
    let status = upstream.status;
    let now = crate::resilience::unix_secs();
    let retry_after_ms = upstream
        .header("retry-after-ms")
        .and_then(crate::resilience::parse_retry_after_ms)
        .or_else(|| {
            upstream
                .header("retry-after")
                .and_then(|v| crate::resilience::parse_retry_after(v, now))
        });
    let headers = upstream
        .headers()
        .filter(|(n, _)| super::relay::relayed_header(n))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_vec()))
        .collect();
    let body = upstream
        .body
        .collect(MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    // Providers echo the key they were sent ("Incorrect API key provided:
    // sk-…"); this body is relayed, translated or logged from here on.
    let body = crate::api::scrub::scrub_provider_error(body, &provider.api_keys);
    Failure::Status {
        status,
        retry_after_ms,
        body,
        kind: provider.kind,
        headers,
    }
}
