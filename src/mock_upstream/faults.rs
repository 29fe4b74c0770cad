//! Fault injection for the mock upstream, chosen per request by the
//! `x-mock-fault` header or a `/fault/<spec>/` path prefix, e.g.
//! `status=503`, `error-rate=0.5`, `latency-ms=200`, `hang`, `cut-after=3`,
//! `retry-after=2`, `hang-body`, `context-length`, `echo-key` (an error that
//! quotes the key it was sent, as some providers do), `echo-key-stream` (a
//! stream whose error event quotes it), `drop-last` (a stream that ends
//! cleanly without its final event), `no-usage` (a stream without its usage chunk), `detail-body` (an error body in no
//! provider's shape, `{"detail":…}`), limited by `times=N` (the first N requests
//! with that spec), `every=N` (every Nth of them) and `when-key=K` (only requests presenting key K), joined
//! with `;` or `,`.

use std::cell::RefCell;
use std::time::Duration;

use super::formats::Format;
use crate::api::error::push_json_str;
use crate::resilience::FastRng;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    /// Answer with this status (an OpenAI-shaped error body).
    pub status: Option<u16>,
    /// Fail this fraction of requests (with `status`, or 500).
    pub error_rate: Option<f64>,
    pub latency: Option<Duration>,
    /// Never answer (the connection stays open until the peer leaves).
    pub hang: bool,
    /// Close the connection after this many stream events (or half the body).
    pub cut_after: Option<usize>,
    pub retry_after: Option<u64>,
    /// Only the first N requests with this exact spec get the fault.
    pub times: Option<u64>,
    /// Only requests presenting this key (any auth header) get the fault.
    pub when_key: Option<String>,
    /// Send the response head, then go silent until the caller leaves.
    pub hang_body: bool,
    /// Only every Nth request with this spec gets the fault (exactly 1/N of them).
    pub every: Option<u64>,
    /// Refuse the request as too long for the model's context window (400).
    pub context_length: bool,
    /// Answer with an error (`status`, or 401) whose message quotes the key presented.
    pub echo_key: bool,
    /// Start the stream, then send an error event quoting the key presented.
    pub echo_key_stream: bool,
    /// End the stream cleanly (terminating chunk) without its last event.
    pub drop_last: bool,
    /// Error bodies as `{"detail":"…"}`, the shape of no provider's API.
    pub detail_body: bool,
    /// An OpenAI-format stream without its usage chunk, even when asked
    /// (as some compatible providers send).
    pub no_usage: bool,
}

impl FaultPlan {
    pub fn parse(spec: &str) -> Result<FaultPlan, String> {
        let mut plan = FaultPlan::default();
        for item in spec
            .split([';', ','])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (key, value) = item.split_once('=').unwrap_or((item, ""));
            let bad = || format!("bad fault `{item}`");
            match key.trim() {
                "status" => plan.status = Some(value.parse().map_err(|_| bad())?),
                "error-rate" => {
                    let r: f64 = value.parse().map_err(|_| bad())?;
                    if !(0.0..=1.0).contains(&r) {
                        return Err(bad());
                    }
                    plan.error_rate = Some(r);
                }
                "latency-ms" => {
                    plan.latency = Some(Duration::from_millis(value.parse().map_err(|_| bad())?))
                }
                "hang" => plan.hang = true,
                "cut-after" => plan.cut_after = Some(value.parse().map_err(|_| bad())?),
                "retry-after" => plan.retry_after = Some(value.parse().map_err(|_| bad())?),
                "times" => plan.times = Some(value.parse().map_err(|_| bad())?),
                "when-key" if !value.is_empty() => plan.when_key = Some(value.to_string()),
                "hang-body" => plan.hang_body = true,
                "context-length" => plan.context_length = true,
                "echo-key" => plan.echo_key = true,
                "echo-key-stream" => plan.echo_key_stream = true,
                "drop-last" => plan.drop_last = true,
                "no-usage" => plan.no_usage = true,
                "detail-body" => plan.detail_body = true,
                "every" => {
                    plan.every = Some(
                        value
                            .parse()
                            .ok()
                            .filter(|&n: &u64| n > 0)
                            .ok_or_else(bad)?,
                    )
                }
                _ => return Err(bad()),
            }
        }
        Ok(plan)
    }

    /// The error status this request should get, if any (rolls the dice for `error-rate`).
    pub fn failing_status(&self) -> Option<u16> {
        match self.error_rate {
            Some(rate) => (random_unit() < rate).then(|| self.status.unwrap_or(500)),
            None => self.status.or(self.echo_key.then_some(401)),
        }
    }
}

/// The wording OpenAI uses when it refuses a key, quoting it back.
pub fn echoed_key_message(key: &str) -> String {
    format!("Incorrect API key provided: {key}. You can find your API key in your account.")
}

/// A mid-stream error event in the provider's own shape, quoting the key.
pub fn echoed_key_event(format: Format, key: &str) -> Vec<u8> {
    let mut message = String::new();
    push_json_str(&mut message, &echoed_key_message(key));
    match format {
        Format::OpenAi => format!(
            "data: {{\"error\":{{\"message\":{message},\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}}}\n\n"
        ),
        Format::Anthropic => format!(
            "event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"authentication_error\",\"message\":{message}}}}}\n\n"
        ),
        Format::Gemini { .. } => format!(
            "data: {{\"error\":{{\"code\":401,\"message\":{message},\"status\":\"UNAUTHENTICATED\"}}}}\n\n"
        ),
    }
    .into_bytes()
}

/// Whether this request is one the plan applies to; counts it if so.
pub fn applies(plan: &FaultPlan, spec: &str, presented_key: Option<&str>) -> bool {
    if let Some(k) = &plan.when_key
        && presented_key != Some(k.as_str())
    {
        return false;
    }
    if plan.times.is_none() && plan.every.is_none() {
        return true;
    }
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static SEEN: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let count = seen.entry(spec.to_string()).or_insert(0);
    *count += 1;
    plan.times.is_none_or(|n| *count <= n) && plan.every.is_none_or(|n| count.is_multiple_of(n))
}

/// Splits `/fault/<spec>/rest` into the spec and `/rest`.
pub fn strip_fault_prefix(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/fault/")?;
    let slash = rest.find('/')?;
    Some((&rest[..slash], &rest[slash..]))
}

thread_local! {
    static RNG: RefCell<FastRng> = RefCell::new(FastRng::from_entropy());
}

fn random_unit() -> f64 {
    RNG.with(|r| r.borrow_mut().unit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let p = FaultPlan::parse("status=429; retry-after=2,latency-ms=5").unwrap();
        assert_eq!(p.status, Some(429));
        assert_eq!(p.retry_after, Some(2));
        assert_eq!(p.latency, Some(Duration::from_millis(5)));
        assert!(FaultPlan::parse("hang").unwrap().hang);
        assert!(FaultPlan::parse("error-rate=2").is_err());
        assert!(FaultPlan::parse("bogus").is_err());
        let echo = FaultPlan::parse("echo-key").unwrap();
        assert_eq!(echo.failing_status(), Some(401));
        assert!(FaultPlan::parse("echo-key-stream").unwrap().echo_key_stream);
        assert!(FaultPlan::parse("drop-last").unwrap().drop_last);
        assert!(FaultPlan::parse("detail-body").unwrap().detail_body);
        assert_eq!(
            strip_fault_prefix("/fault/status=500/v1/x"),
            Some(("status=500", "/v1/x"))
        );
    }

    #[test]
    fn error_rate_is_roughly_honoured() {
        let p = FaultPlan::parse("error-rate=0.5").unwrap();
        let fails = (0..10_000).filter(|_| p.failing_status().is_some()).count();
        assert!((4_000..6_000).contains(&fails), "{fails}");
    }
}
