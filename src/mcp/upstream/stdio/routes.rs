//! Where each line a stdio server writes goes: a response to the request
//! whose id it names, a progress notification to the request whose token
//! (ours, standing in for the caller's) it carries — with the caller's token
//! put back — a subscription's notification to its `subscriptions/listen`,
//! anything else to the legacy change listeners. A request of the server's
//! own (elicitation, sampling) goes to the one call in flight, whose
//! client may answer it; with several in flight it cannot be told whose,
//! and is refused.

use std::collections::HashMap;

use super::channel::{Inbox, InboxSender, inbox};
use crate::mcp::upstream::message::{self, Incoming};

/// What a request's inbox receives.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::mcp::upstream) enum Routed {
    Message(Vec<u8>),
    Final(Vec<u8>),
}

struct Route {
    tx: InboxSender<Routed>,
    /// The caller's progress token, raw, where we put ours.
    token: Option<Vec<u8>>,
}

#[derive(Default)]
pub(in crate::mcp::upstream) struct Routes {
    calls: HashMap<u64, Route>,
    listeners: Vec<(u64, InboxSender<Routed>)>,
}

impl Routes {
    /// Opens request `id`'s inbox (before the request is written).
    pub fn open(&mut self, id: u64, token: Option<Vec<u8>>) -> std::io::Result<Inbox<Routed>> {
        let (tx, rx) = inbox()?;
        self.calls.insert(id, Route { tx, token });
        Ok(rx)
    }

    /// Forgets request `id` (answered, cancelled, timed out); whether it was open.
    pub fn close(&mut self, id: u64) -> bool {
        self.calls.remove(&id).is_some()
    }

    /// A legacy change listener under `key`: every notification no request claims.
    pub fn open_listener(&mut self, key: u64) -> std::io::Result<Inbox<Routed>> {
        let (tx, rx) = inbox()?;
        self.listeners.push((key, tx));
        Ok(rx)
    }

    pub fn close_listener(&mut self, key: u64) {
        self.listeners.retain(|(k, _)| *k != key);
    }

    /// Whether anything waits on the process (it is not idle then).
    pub fn busy(&self) -> bool {
        !self.calls.is_empty() || !self.listeners.is_empty()
    }

    /// Closes every inbox: the process is gone.
    pub fn close_all(&mut self) {
        self.calls.clear();
        self.listeners.clear();
    }

    /// Delivers one line; returns the answer owed to a server request the
    /// gateway answers itself (`ping` gets an empty result; a request with
    /// no single call to take it, method-not-found).
    pub fn dispatch(&mut self, line: &[u8]) -> Option<Vec<u8>> {
        match message::classify(line) {
            Incoming::Response(Some(id)) => {
                let route = message::our_id(&line[id]).and_then(|id| self.calls.remove(&id));
                if let Some(route) = route {
                    route.tx.send(Routed::Final(line.to_vec()));
                }
                None
            }
            Incoming::Notification(_) => {
                self.notification(line);
                None
            }
            Incoming::Request(id) => {
                if !is_ping(line)
                    && self.calls.len() == 1
                    && let Some(route) = self.calls.values().next()
                {
                    route.tx.send(Routed::Message(line.to_vec()));
                    return None;
                }
                Some(refusal(line, &line[id]))
            }
            Incoming::Response(None) | Incoming::Other => None,
        }
    }

    fn notification(&mut self, line: &[u8]) {
        if let Some((id, span)) = message::our_progress(line) {
            if let Some(route) = self.calls.get(&id) {
                let msg = match &route.token {
                    Some(token) => message::replace(line, span, token),
                    None => line.to_vec(),
                };
                route.tx.send(Routed::Message(msg));
            }
            return;
        }
        if let Some(route) = message::subscription_id(line).and_then(|id| self.calls.get(&id)) {
            route.tx.send(Routed::Message(line.to_vec()));
            return;
        }
        for (_, tx) in &self.listeners {
            tx.send(Routed::Message(line.to_vec()));
        }
    }
}

fn refusal(line: &[u8], id: &[u8]) -> Vec<u8> {
    let mut out = b"{\"jsonrpc\":\"2.0\",\"id\":".to_vec();
    out.extend_from_slice(id);
    if is_ping(line) {
        out.extend_from_slice(b",\"result\":{}}");
    } else {
        out.extend_from_slice(
            b",\"error\":{\"code\":-32601,\"message\":\"The gateway serves no requests from tool servers\"}}",
        );
    }
    out
}

fn is_ping(line: &[u8]) -> bool {
    crate::canonical::json_scan::find_top_level_value(line, b"method")
        .is_some_and(|m| &line[m] == b"\"ping\"")
}

#[cfg(test)]
mod tests {
    use super::super::channel::Received;
    use super::*;
    use std::time::Duration;

    fn take(rx: &Inbox<Routed>) -> Received<Routed> {
        rx.recv_blocking(Duration::ZERO)
    }

    #[test]
    fn responses_reach_their_request_once() {
        let mut routes = Routes::default();
        let a = routes.open(1, None).unwrap();
        let b = routes.open(2, None).unwrap();
        routes.dispatch(br#"{"jsonrpc":"2.0","id":2,"result":{}}"#);
        routes.dispatch(br#"{"jsonrpc":"2.0","id":2,"result":{"again":1}}"#);
        assert_eq!(
            take(&b),
            Received::Value(Routed::Final(
                br#"{"jsonrpc":"2.0","id":2,"result":{}}"#.to_vec()
            ))
        );
        assert_eq!(take(&b), Received::Closed);
        assert_eq!(take(&a), Received::TimedOut);
        assert!(routes.busy());
        assert!(routes.close(1));
        assert!(!routes.busy());
    }

    #[test]
    fn progress_goes_to_its_request_with_the_callers_token() {
        let mut routes = Routes::default();
        let first = routes.open(5, Some(br#""mine""#.to_vec())).unwrap();
        let second = routes.open(6, Some(b"7".to_vec())).unwrap();
        routes.dispatch(
            br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tollgate-6","progress":1}}"#,
        );
        routes.dispatch(
            br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tollgate-5","progress":2}}"#,
        );
        assert_eq!(
            take(&second),
            Received::Value(Routed::Message(
                br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":7,"progress":1}}"#.to_vec()
            ))
        );
        assert_eq!(
            take(&first),
            Received::Value(Routed::Message(
                br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"mine","progress":2}}"#.to_vec()
            ))
        );
        assert_eq!(take(&first), Received::TimedOut);
    }

    #[test]
    fn other_notifications_go_to_subscriptions_or_listeners() {
        let mut routes = Routes::default();
        let listen = routes.open(9, None).unwrap();
        let legacy = routes.open_listener(100).unwrap();
        let sub = br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":9}}}"#;
        let plain = br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#;
        routes.dispatch(sub);
        routes.dispatch(plain);
        assert_eq!(
            take(&listen),
            Received::Value(Routed::Message(sub.to_vec()))
        );
        assert_eq!(
            take(&legacy),
            Received::Value(Routed::Message(plain.to_vec()))
        );
        assert_eq!(take(&legacy), Received::TimedOut);
        routes.close_listener(100);
        assert_eq!(take(&legacy), Received::Closed);
    }

    #[test]
    fn server_requests_go_to_the_one_call_in_flight_or_are_refused() {
        let mut routes = Routes::default();
        assert_eq!(
            routes.dispatch(br#"{"jsonrpc":"2.0","id":"p1","method":"ping"}"#),
            Some(br#"{"jsonrpc":"2.0","id":"p1","result":{}}"#.to_vec())
        );
        let refused = routes
            .dispatch(br#"{"jsonrpc":"2.0","id":3,"method":"sampling/createMessage","params":{}}"#)
            .unwrap();
        assert!(refused.starts_with(br#"{"jsonrpc":"2.0","id":3,"error":{"code":-32601"#));
        assert_eq!(routes.dispatch(b"not json"), None);
        let one = routes.open(1, None).unwrap();
        let elicit = br#"{"jsonrpc":"2.0","id":4,"method":"elicitation/create","params":{}}"#;
        assert_eq!(routes.dispatch(elicit), None);
        assert_eq!(
            take(&one),
            Received::Value(Routed::Message(elicit.to_vec()))
        );
        let _two = routes.open(2, None).unwrap();
        let refused = routes.dispatch(elicit).unwrap();
        assert!(refused.starts_with(br#"{"jsonrpc":"2.0","id":4,"error":{"code":-32601"#));
        assert_eq!(take(&one), Received::TimedOut);
    }
}
