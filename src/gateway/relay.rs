//! Relaying an upstream response to the client as it arrives: sized bodies
//! keep their length, everything else goes out chunked, piece by piece. A
//! failure after the first byte is never dressed up as a clean end.

use super::attempt::Prepared;
use super::engine::Delivered;
use crate::api::ApiError;
use crate::api::scrub::StreamScrubber;
use crate::canonical::openai::write_openai_stream_error;
use crate::server::Responder;

/// Upstream headers worth passing on; everything else is the gateway's to set.
pub(super) fn relayed_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-type")
        || name.eq_ignore_ascii_case("retry-after")
        || name.eq_ignore_ascii_case("cache-control")
        || name.eq_ignore_ascii_case("openai-processing-ms")
        || (name.len() > 12 && name[..12].eq_ignore_ascii_case("x-ratelimit-"))
}

/// Relays a committed passthrough answer: its head, the first bytes already
/// read at the commit point, then the rest as it arrives.
pub async fn relay(
    prepared: Prepared,
    ours: &[(&str, &[u8])],
    resp: &mut Responder<'_>,
) -> Delivered {
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
    let length = upstream.content_length();
    let status = upstream.status;
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
        return Delivered::ClientGone;
    }
    let sized = length.is_some();
    // An error event can quote the key the provider was sent; an answer never
    // legitimately holds it.
    let keys = &deployment.provider.api_keys;
    let mut scrubber = StreamScrubber::new(keys.iter().filter(|_| is_sse).map(|k| k.expose()));
    if !first.is_empty() {
        let written = if sized {
            resp.send_raw(&first).await
        } else {
            resp.send_chunk(&scrubber.feed(&first)).await
        };
        if written.is_err() {
            return Delivered::ClientGone;
        }
    }
    loop {
        match upstream.body.next().await {
            Ok(Some(piece)) => {
                let written = if sized {
                    resp.send_raw(piece).await
                } else {
                    resp.send_chunk(&scrubber.feed(piece)).await
                };
                if written.is_err() {
                    // The client left: dropping the body closes the upstream
                    // connection instead of returning it to the pool half-read.
                    return Delivered::ClientGone;
                }
            }
            Ok(None) => break,
            Err(e) => {
                if is_sse && !sized {
                    let mut event = Vec::with_capacity(256);
                    write_openai_stream_error(&interrupted(&e.to_api(provider)), &mut event);
                    if resp.send_chunk(&event).await.is_ok() {
                        let _ = resp.end_stream().await;
                    }
                } else {
                    resp.abort();
                }
                return Delivered::UpstreamFailed;
            }
        }
    }
    if sized {
        resp.end_sized();
        // A zero-length body has nothing to carry the head: flush it now.
        if length == Some(0) {
            let _ = resp.send_raw(&[]).await;
        }
    } else {
        let held = scrubber.finish();
        if !held.is_empty() && resp.send_chunk(&held).await.is_err() {
            return Delivered::ClientGone;
        }
        let _ = resp.end_stream().await;
    }
    Delivered::Complete
}

/// The mid-stream error: OpenAI's error shape, which the OpenAI SDKs raise
/// as an `APIError` when it arrives as a `data:` event.
fn interrupted(err: &ApiError) -> ApiError {
    let mut e = err.clone();
    e.code = Some("stream_interrupted".into());
    e.message = format!("The upstream stream was interrupted: {}", err.message);
    e
}
