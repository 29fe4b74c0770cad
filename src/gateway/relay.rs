//! Relaying a same-dialect answer to the client as it arrives: sized bodies
//! keep their length, everything else goes out chunked, piece by piece. A
//! reader watches a stream's events on the way (usage, the final event) so
//! the delivery record knows what was served, and a stream that stops short
//! of its final event ends with an explicit error event, never a clean end.

use super::attempt::{Prepared, RequestCtx};
use super::dialect::Inbound;
use super::engine::Delivered;
use super::translated::Report;
use crate::api::ApiError;
use crate::api::scrub::StreamScrubber;
use crate::canonical::Usage;
use crate::providers::anthropic::passthrough::AnthropicStreamReader;
use crate::providers::anthropic::wire::WireUsage;
use crate::providers::openai::OpenAiStreamReader;
use crate::server::Responder;

/// Upstream headers worth passing on; everything else is the gateway's to set.
pub(super) fn relayed_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-type")
        || name.eq_ignore_ascii_case("retry-after")
        || name.eq_ignore_ascii_case("cache-control")
        || name.eq_ignore_ascii_case("openai-processing-ms")
        || (name.len() > 12 && name[..12].eq_ignore_ascii_case("x-ratelimit-"))
        || (name.len() > 20 && name[..20].eq_ignore_ascii_case("anthropic-ratelimit-"))
}

/// The stream reader of the client's dialect.
enum Reader {
    OpenAi {
        reader: OpenAiStreamReader,
        /// The gateway asked for the usage chunk the client did not: take it out.
        strip_usage: bool,
        /// The client asked for the cost in the final usage (the model's prices).
        cost: Option<Pricing>,
    },
    Anthropic(AnthropicStreamReader, Option<Pricing>),
}

use crate::governance::cost::Pricing;

impl Reader {
    fn new(ctx: &RequestCtx<'_>, deployment: &crate::router::Deployment) -> Self {
        let cost = ctx.include_cost.then(|| Pricing(deployment.spec.clone()));
        match ctx.inbound {
            Inbound::OpenAi => Reader::OpenAi {
                reader: OpenAiStreamReader::new(),
                strip_usage: !ctx.include_usage,
                cost,
            },
            Inbound::Anthropic => Reader::Anthropic(AnthropicStreamReader::new(), cost),
        }
    }

    /// Watches `piece`; answers the bytes to relay (the piece itself
    /// unless an event is taken out or given its cost).
    fn pass<'p>(&mut self, piece: &'p [u8], out: &'p mut Vec<u8>) -> &'p [u8] {
        match self {
            Reader::OpenAi {
                reader,
                strip_usage: true,
                ..
            } => {
                out.clear();
                reader.relay_without_usage(piece, out);
                out
            }
            Reader::OpenAi {
                reader,
                cost: Some(p),
                ..
            } => {
                out.clear();
                reader.relay_with_cost(piece, out, &|u| p.price(u));
                out
            }
            Reader::OpenAi { reader, .. } => {
                reader.observe(piece);
                piece
            }
            Reader::Anthropic(reader, Some(p)) => {
                out.clear();
                reader.relay_with_cost(piece, out, &|u| p.price(u));
                out
            }
            Reader::Anthropic(reader, None) => {
                reader.observe(piece);
                piece
            }
        }
    }

    /// Events seen so far.
    fn events(&self) -> u64 {
        match self {
            Reader::OpenAi { reader, .. } => reader.counts().0,
            Reader::Anthropic(reader, _) => reader.counts().0,
        }
    }

    fn ended_cleanly(&self) -> bool {
        match self {
            Reader::OpenAi { reader, .. } => reader.ended_cleanly(),
            Reader::Anthropic(reader, _) => reader.ended_cleanly(),
        }
    }

    /// The upstream sent its own error event (relayed as it came).
    fn upstream_error(&self) -> bool {
        match self {
            Reader::OpenAi { reader, .. } => reader.error().is_some(),
            Reader::Anthropic(reader, _) => reader.error().is_some(),
        }
    }

    fn usage(&self) -> Option<Usage> {
        match self {
            Reader::OpenAi { reader, .. } => reader.usage(),
            Reader::Anthropic(reader, _) => reader.usage(),
        }
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        if let Reader::OpenAi {
            reader,
            strip_usage: true,
            ..
        } = self
        {
            reader.flush(out);
        }
    }
}

/// Relays a committed same-dialect answer: its head, the bytes already read
/// at the commit point, then the rest as it arrives.
pub async fn relay(
    prepared: Prepared,
    ctx: &RequestCtx<'_>,
    ours: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) -> Report {
    let Prepared {
        mut upstream,
        first,
        deployment,
        ..
    } = prepared;
    let provider = &deployment.provider.name;
    let is_sse = upstream
        .header("content-type")
        .is_some_and(|v| v.len() >= 17 && v[..17].eq_ignore_ascii_case(b"text/event-stream"));
    let status = upstream.status;
    let report = |delivered, usage, events, cost| Report {
        delivered,
        usage,
        status,
        events,
        guard: Vec::new(),
        cost,
    };
    // A whole answer was held to its end: its usage is read off it now.
    if !is_sse && upstream.body.is_done() {
        let usage = whole_usage(ctx.inbound, &first);
        let cost = ctx.answer_cost(deployment.spec.as_deref(), usage);
        let header = cost.and_then(crate::governance::cost::header);
        let headers: Vec<(&str, &[u8])> = upstream
            .headers()
            .filter(|(n, _)| relayed_header(n))
            .chain(ours.iter().copied())
            .chain(header.as_ref().map(|(n, v)| (*n, &v[..])))
            .collect();
        let sent = resp.send(status, &headers, &first).await;
        let delivered = match sent {
            Ok(()) => Delivered::Complete,
            Err(_) => Delivered::ClientGone,
        };
        return report(delivered, usage, 0, cost);
    }
    let length = upstream.content_length().filter(|_| !is_sse);
    let head_result = {
        let mut headers: Vec<(&str, &[u8])> = upstream
            .headers()
            .filter(|(n, _)| relayed_header(n))
            .collect();
        headers.extend_from_slice(ours);
        match length {
            Some(len) => resp.start_sized(status, &headers, len).await,
            None => resp.start_stream(status, &headers, false).await,
        }
    };
    if head_result.is_err() {
        return report(Delivered::ClientGone, None, 0, None);
    }
    if let Some(len) = length {
        return relay_sized(upstream, first, len, resp).await;
    }
    // An error event can quote the key the provider was sent; an answer
    // never legitimately holds it.
    let keys = &deployment.provider.api_keys;
    let mut scrubber = StreamScrubber::new(keys.iter().map(|k| k.expose()));
    let mut reader = Reader::new(ctx, &deployment);
    let (mut kept, mut whole) = (Vec::new(), Vec::new());
    let mut boundary = Boundary {
        events: is_sse,
        pending: Vec::new(),
    };
    if !first.is_empty() {
        let bytes = boundary.complete(reader.pass(&first, &mut kept), &mut whole);
        if !bytes.is_empty() && resp.send_chunk(&scrubber.feed(bytes)).await.is_err() {
            return report(Delivered::ClientGone, reader.usage(), reader.events(), None);
        }
    }
    let failure = loop {
        match upstream.body.next().await {
            Ok(Some(piece)) => {
                let bytes = boundary.complete(reader.pass(piece, &mut kept), &mut whole);
                if !bytes.is_empty() && resp.send_chunk(&scrubber.feed(bytes)).await.is_err() {
                    // The client left: dropping the body closes the upstream
                    // connection instead of returning it to the pool half-read.
                    return report(Delivered::ClientGone, reader.usage(), reader.events(), None);
                }
            }
            Ok(None) if reader.ended_cleanly() || reader.upstream_error() || !is_sse => break None,
            Ok(None) => {
                break Some(ApiError::upstream(
                    502,
                    "stream_interrupted",
                    format!(
                        "Provider `{provider}` ended the stream before its final event: the answer is incomplete."
                    ),
                ));
            }
            Err(e) => break Some(interrupted(&e.to_api(provider))),
        }
    };
    // A cut stream's unfinished event is dropped, so the error event that
    // follows is an event of its own; a clean end passes any unframed tail on.
    let mut tail = Vec::new();
    if failure.is_none() {
        reader.flush(&mut tail);
        tail.extend_from_slice(&boundary.pending);
        tail = scrubber.feed(&tail).into_owned();
    }
    tail.extend_from_slice(&scrubber.finish());
    let delivered = match &failure {
        Some(err) => {
            ctx.inbound.stream_error_event(err, &mut tail);
            Delivered::UpstreamFailed
        }
        None if reader.upstream_error() => Delivered::UpstreamFailed,
        None => Delivered::Complete,
    };
    if !tail.is_empty() && resp.send_chunk(&tail).await.is_err() {
        return report(Delivered::ClientGone, reader.usage(), reader.events(), None);
    }
    let _ = resp.end_stream().await;
    report(delivered, reader.usage(), reader.events(), None)
}

/// Holds back the bytes of an event not yet complete, so that only whole
/// events reach the client and an error event never lands inside one. A
/// body that is not an event stream passes as it comes.
struct Boundary {
    events: bool,
    pending: Vec<u8>,
}

impl Boundary {
    fn complete<'p>(&mut self, bytes: &'p [u8], out: &'p mut Vec<u8>) -> &'p [u8] {
        if !self.events || (self.pending.is_empty() && ends_event(bytes)) {
            return bytes;
        }
        let from = self.pending.len().saturating_sub(3);
        self.pending.extend_from_slice(bytes);
        let end = (from..=self.pending.len())
            .rev()
            .find(|&i| ends_event(&self.pending[..i]))
            .unwrap_or(0);
        out.clear();
        out.extend(self.pending.drain(..end));
        out
    }
}

fn ends_event(bytes: &[u8]) -> bool {
    bytes.is_empty() || bytes.ends_with(b"\n\n") || bytes.ends_with(b"\r\n\r\n")
}

/// A sized answer larger than the hold bound, relayed as it comes; a cut
/// one can only be cut short on the client's side too.
async fn relay_sized(
    mut upstream: crate::upstream::UpstreamResponse,
    first: Vec<u8>,
    length: u64,
    resp: &mut Responder<'_>,
) -> Report {
    let status = upstream.status;
    let report = |delivered| Report {
        events: 0,
        delivered,
        usage: None,
        status,
        guard: Vec::new(),
        cost: None,
    };
    if !first.is_empty() && resp.send_raw(&first).await.is_err() {
        return report(Delivered::ClientGone);
    }
    loop {
        match upstream.body.next().await {
            Ok(Some(piece)) => {
                if resp.send_raw(piece).await.is_err() {
                    return report(Delivered::ClientGone);
                }
            }
            Ok(None) => break,
            Err(_) => {
                resp.abort();
                return report(Delivered::UpstreamFailed);
            }
        }
    }
    resp.end_sized();
    // A zero-length body has nothing to carry the head: flush it now.
    if length == 0 {
        let _ = resp.send_raw(&[]).await;
    }
    report(Delivered::Complete)
}

/// The usage member of a whole same-dialect answer, in canonical terms
/// (prompt tokens include the cache, whatever the dialect counts). Both
/// dialects write `usage` last or nearly so, as a small object of numbers:
/// it is found from the end and read by plain byte scans, not a parse.
fn whole_usage(inbound: Inbound, body: &[u8]) -> Option<Usage> {
    let mut n = UsageNumbers::default();
    for_each_number(usage_object(body)?, |key, value| n.set(key, value));
    let u = match inbound {
        Inbound::OpenAi => Usage {
            prompt_tokens: n.prompt,
            completion_tokens: n.completion,
            total_tokens: n.total,
            cached_prompt_tokens: n.cached,
            cache_creation_tokens: n.cache_write,
            reasoning_tokens: n.reasoning,
        },
        // The same rule as the translated path: prompt tokens include the cache.
        Inbound::Anthropic => crate::providers::anthropic::convert::map_usage(&WireUsage {
            input_tokens: Some(n.input),
            output_tokens: Some(n.output),
            cache_creation_input_tokens: Some(n.cache_write),
            cache_read_input_tokens: Some(n.cache_read),
            ..WireUsage::default()
        }),
    };
    Some(u)
}

/// The usage numbers either dialect writes, by member name.
#[derive(Default)]
struct UsageNumbers {
    prompt: u64,
    completion: u64,
    total: u64,
    cached: u64,
    reasoning: u64,
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write: u64,
}

impl UsageNumbers {
    fn set(&mut self, key: &[u8], value: u64) {
        let slot = match key {
            b"prompt_tokens" => &mut self.prompt,
            b"completion_tokens" => &mut self.completion,
            b"total_tokens" => &mut self.total,
            // OpenAI's `prompt_tokens_details.cached_tokens`; DeepSeek's
            // top-level `prompt_cache_hit_tokens` says the same (as the
            // translated path's `read_usage` reads it).
            b"cached_tokens" | b"prompt_cache_hit_tokens" => &mut self.cached,
            b"cache_creation_tokens" => &mut self.cache_write,
            b"reasoning_tokens" => &mut self.reasoning,
            b"input_tokens" => &mut self.input,
            b"output_tokens" => &mut self.output,
            b"cache_read_input_tokens" => &mut self.cache_read,
            b"cache_creation_input_tokens" => &mut self.cache_write,
            _ => return,
        };
        *slot = value;
    }
}

/// The last `"usage":{…}` object of a JSON text (an escaped `\"usage\"`
/// inside a string does not count).
fn usage_object(body: &[u8]) -> Option<&[u8]> {
    static KEY: std::sync::LazyLock<memchr::memmem::FinderRev<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::FinderRev::new(b"\"usage\""));
    let at = KEY
        .rfind(body)
        .filter(|&i| i == 0 || body[i - 1] != b'\\')?;
    let rest = &body[at + 7..];
    let open = rest
        .iter()
        .position(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b':'))?;
    if rest[open] != b'{' {
        return None;
    }
    let mut depth = 0usize;
    for (i, &b) in rest[open..].iter().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&rest[open..open + i + 1]);
                }
            }
            _ => {}
        }
    }
    None
}

/// Calls `f` with each `"key": <unsigned number>` member in a small object
/// of numbers (nested objects included), in one pass over its bytes.
fn for_each_number(obj: &[u8], mut f: impl FnMut(&[u8], u64)) {
    let mut i = 0;
    while let Some(q) = obj[i..].iter().position(|&b| b == b'"') {
        let start = i + q + 1;
        let Some(len) = obj[start..].iter().position(|&b| b == b'"') else {
            return;
        };
        let key = &obj[start..start + len];
        i = start + len + 1;
        while i < obj.len() && matches!(obj[i], b' ' | b':' | b'\n' | b'\r' | b'\t') {
            i += 1;
        }
        let mut value = None::<u64>;
        while i < obj.len() && obj[i].is_ascii_digit() {
            let d = u64::from(obj[i] - b'0');
            value = Some(value.unwrap_or(0).saturating_mul(10).saturating_add(d));
            i += 1;
        }
        if let Some(v) = value {
            f(key, v);
        }
    }
}

/// The mid-stream error: the dialect's error event, which the SDKs raise
/// as an API error when it arrives.
fn interrupted(err: &ApiError) -> ApiError {
    let mut e = err.clone();
    e.code = Some("stream_interrupted".into());
    e.message = format!("The upstream stream was interrupted: {}", err.message);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_usage_reads_both_dialects() {
        let openai = br#"{"id":"x","choices":[{"message":{"content":"say \"usage\": {}"}}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}"#;
        let u = whole_usage(Inbound::OpenAi, openai).unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.completion_tokens,
                u.cached_prompt_tokens,
                u.reasoning_tokens
            ),
            (12, 5, 4, 2)
        );
        let anthropic = br#"{"id":"msg","content":[],"usage":{"input_tokens":3,"cache_creation_input_tokens":10,"cache_read_input_tokens":20,"output_tokens":7}}"#;
        let u = whole_usage(Inbound::Anthropic, anthropic).unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.completion_tokens,
                u.cached_prompt_tokens,
                u.cache_creation_tokens
            ),
            (33, 7, 20, 10)
        );
        assert_eq!(whole_usage(Inbound::OpenAi, br#"{"id":"x"}"#), None);
        // DeepSeek names the cache hit its own way; the translated path reads it too.
        let deepseek = br#"{"id":"x","usage":{"prompt_tokens":30,"completion_tokens":2,"total_tokens":32,"prompt_cache_hit_tokens":24,"prompt_cache_miss_tokens":6}}"#;
        let u = whole_usage(Inbound::OpenAi, deepseek).unwrap();
        assert_eq!((u.prompt_tokens, u.cached_prompt_tokens), (30, 24));
    }
}
