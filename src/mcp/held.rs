//! A 2025-era server's mid-call request, put to a 2026-07-28 client.
//!
//! Such a server asks with a request of its own on the call's stream and
//! waits, the call open, for the answer; a 2026-07-28 client expects an
//! `input_required` result and retries later with its answers. The gateway
//! bridges the two: the call is held — its upstream exchange moved to a
//! task of its own on this core — while the client gets `input_required`
//! with a sealed state naming the hold. The retry (on any core) hands the
//! answer over and waits for what the server does next: another request
//! (another round), or its result. A hold the client never comes back to
//! ends after the call's timeout, cancelling the call upstream.
//!
//! Holds live in this process: behind several instances, the retry must
//! reach the instance that holds the call (it is told plainly otherwise).

use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use super::core::Permit;
use super::json::members;
use super::rounds;
use super::upstream::{Client, Event, Exchange};

/// The key of the one request in the `inputRequests` of a held call.
pub const KEY: &str = "tollgate/held";

/// Marks a sealed state that names a hold (an upstream's own state is a
/// JSON string token, which starts with a quote).
const MARK: u8 = b'H';

/// How often each side looks for the other's move (they may be on
/// different cores).
const POLL: Duration = Duration::from_millis(10);

/// What the server did after the client's last answer.
pub enum Next {
    /// Another request for the client (raw message).
    Ask(Vec<u8>),
    /// The call's answer (raw message).
    Final(Vec<u8>),
    Failed(String),
}

struct Hold {
    who: String,
    slot: Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    /// The client's answer to the pending request, as a response message.
    answer: Option<Vec<u8>>,
    next: Option<Next>,
}

type Holds = Mutex<FxHashMap<u64, Arc<Hold>>>;

fn holds() -> &'static Holds {
    static H: OnceLock<Holds> = OnceLock::new();
    H.get_or_init(Default::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a sealed state carries for hold `id`.
pub fn state_bytes(id: u64) -> Vec<u8> {
    let mut out = vec![MARK];
    out.extend_from_slice(&id.to_be_bytes());
    out
}

/// The hold a sealed state's upstream bytes name, if they name one.
pub fn held_id(upstream: &[u8]) -> Option<u64> {
    match upstream {
        [MARK, id @ ..] => Some(u64::from_be_bytes(id.try_into().ok()?)),
        _ => None,
    }
}

/// The `input_required` result (without its state) that puts the server's
/// request `ask` (a whole message) to the client.
pub fn input_required(ask: &[u8]) -> Vec<u8> {
    let mut out = br#"{"resultType":"input_required","inputRequests":{"#.to_vec();
    out.extend_from_slice(&super::json::quoted(KEY));
    out.extend_from_slice(b":{");
    rounds::push_method_and_params(&mut out, ask);
    out.extend_from_slice(b"}}}");
    out
}

/// Holds a call whose server just sent `ask`: the exchange (and the
/// call's concurrency permit) go to a task on this core. The hold's id.
pub fn hold(
    who: &str,
    exchange: Exchange,
    client: Rc<Client>,
    permit: Permit,
    ask: &[u8],
    timeout: Duration,
) -> u64 {
    let id = crate::router::health::random_u64();
    let hold = Arc::new(Hold {
        who: who.to_owned(),
        slot: Mutex::default(),
    });
    lock(holds()).insert(id, hold.clone());
    let pending = upstream_id(ask);
    monoio::spawn(run(id, hold, exchange, client, permit, pending, timeout));
    id
}

fn upstream_id(msg: &[u8]) -> Vec<u8> {
    let [id] = members(msg, 0..msg.len(), [b"id"]);
    id.map_or_else(|| b"null".to_vec(), |r| msg[r].to_vec())
}

/// The held call: each answer to the server, then what it does next.
async fn run(
    id: u64,
    hold: Arc<Hold>,
    mut exchange: Exchange,
    client: Rc<Client>,
    _permit: Permit,
    mut pending: Vec<u8>,
    timeout: Duration,
) {
    let end = |next: Next| lock(&hold.slot).next = Some(next);
    loop {
        let Some(answer) = wait(timeout, || lock(&hold.slot).answer.take()).await else {
            end(Next::Failed(
                "The client did not come back with its answer in time".into(),
            ));
            break;
        };
        let _ = client.respond(&rounds::reanswer(&answer, &pending)).await;
        let next = loop {
            let read = monoio::time::timeout(timeout, exchange.next()).await;
            match read {
                Ok(Ok(Event::Message(m))) if is_request(&m) => {
                    pending = upstream_id(&m);
                    break Next::Ask(m);
                }
                // Nobody to relay a notification to while the call is held.
                Ok(Ok(Event::Message(_))) => {}
                Ok(Ok(Event::Final(m))) => break Next::Final(m),
                Ok(Err(e)) => break Next::Failed(format!("The server failed: {e}")),
                Err(_) => break Next::Failed("The server did not answer in time".into()),
            }
        };
        let more = matches!(next, Next::Ask(_));
        end(next);
        if !more {
            break;
        }
    }
    drop(exchange);
    // Left for the retry to take; then forgotten either way.
    monoio::time::sleep(timeout).await;
    lock(holds()).remove(&id);
}

fn is_request(m: &[u8]) -> bool {
    let [method, id] = members(m, 0..m.len(), [b"method", b"id"]);
    method.is_some() && id.is_some()
}

/// Polls `take` until it yields or `timeout` passes.
async fn wait<T>(timeout: Duration, mut take: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = take() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        monoio::time::sleep(POLL).await;
    }
}

/// A retry of held call `id` by `who` with its `inputResponses` (raw):
/// hands the answer over and waits for what the server does next.
pub async fn resume(id: u64, who: &str, responses: Option<&[u8]>, timeout: Duration) -> Next {
    let hold = lock(holds()).get(&id).filter(|h| h.who == who).cloned();
    let Some(hold) = hold else {
        return Next::Failed(
            "The held call is gone: it timed out, or another gateway instance holds it".into(),
        );
    };
    let value = responses.and_then(|r| {
        let [v] = members(r, 0..r.len(), [KEY.as_bytes()]);
        v.map(|v| &r[v])
    });
    let Some(value) = value else {
        return Next::Failed(format!("inputResponses has no answer for `{KEY}`"));
    };
    let mut answer = br#"{"jsonrpc":"2.0","id":0,"result":"#.to_vec();
    answer.extend_from_slice(value);
    answer.push(b'}');
    // A hold that already ended (the client came back too late) says so
    // at once: its `next` is waiting.
    lock(&hold.slot).answer = Some(answer);
    let next = wait(timeout, || lock(&hold.slot).next.take()).await;
    let next = next.unwrap_or_else(|| Next::Failed("The server did not answer in time".into()));
    if !matches!(next, Next::Ask(_)) {
        lock(holds()).remove(&id);
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_travels_in_the_state_and_its_request_in_the_result() {
        assert_eq!(held_id(&state_bytes(42)), Some(42));
        assert_eq!(held_id(br#""H-upstream""#), None);
        assert_eq!(held_id(b"H123"), None);
        let ask =
            br#"{"jsonrpc":"2.0","id":5,"method":"elicitation/create","params":{"message":"ok?"}}"#;
        assert_eq!(
            String::from_utf8(input_required(ask)).unwrap(),
            r#"{"resultType":"input_required","inputRequests":{"tollgate/held":{"method":"elicitation/create","params":{"message":"ok?"}}}}"#
        );
        assert_eq!(upstream_id(ask), b"5");
    }
}
