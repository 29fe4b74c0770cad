//! The book's state machine and the admin routes, on a hand-moved clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::*;

const TTL: Duration = Duration::from_secs(60);

struct Fixture {
    book: ApprovalBook,
    now: Arc<AtomicU64>,
}

impl Fixture {
    fn new(capacity: usize) -> Self {
        let now = Arc::new(AtomicU64::new(1_000_000));
        let clock = now.clone();
        Fixture {
            book: ApprovalBook::new(capacity, Box::new(move || clock.load(Ordering::Relaxed))),
            now,
        }
    }

    fn advance(&self, ms: u64) {
        self.now.fetch_add(ms, Ordering::Relaxed);
    }

    fn hold(&self, call: &Binding) -> String {
        self.book
            .create(
                call.clone(),
                r#"{"path":"/srv/a"}"#.into(),
                TTL,
                Some(held()),
            )
            .unwrap()
    }
}

fn call() -> Binding {
    Binding {
        key_id: Some("key_a".into()),
        tool: "delete_file".into(),
        args_digest: [7; 32],
        policy_version: "pv1".into(),
    }
}

fn held() -> Held {
    Held {
        status: 200,
        content_type: "application/json".into(),
        headers: vec![("x-request-id".into(), b"r1".to_vec())],
        body: b"{\"held\":true}".to_vec(),
    }
}

fn whats(view: &View) -> Vec<&'static str> {
    view.events.iter().map(|e| e.what).collect()
}

#[test]
fn a_new_approval_is_pending_until_its_expiry() {
    let f = Fixture::new(10);
    let id = f.hold(&call());
    assert!(id.starts_with("apr_") && id.len() == 36, "{id}");
    assert!(id[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(id, f.hold(&call()), "ids are random");
    let v = f.book.get(&id).unwrap();
    assert_eq!(v.state, State::Pending);
    assert_eq!((v.created_at, v.expires_at), (1_000_000, 1_060_000));
    assert_eq!(v.arguments, r#"{"path":"/srv/a"}"#);
    assert_eq!(v.args_digest, format!("sha256:{}", "07".repeat(32)));
    assert_eq!(whats(&v), ["created"]);
    assert_eq!(f.book.state(&id), Some(State::Pending));
    assert_eq!(f.book.get("apr_nope"), None);
    assert_eq!(f.book.state("apr_nope"), None);
}

#[test]
fn approve_then_release_hands_back_the_held_answer_once() {
    let f = Fixture::new(10);
    let id = f.hold(&call());
    let v = f.book.approve(&id, "alice").unwrap();
    assert_eq!(
        (v.state, v.decided_by.as_deref()),
        (State::Approved, Some("alice"))
    );
    f.advance(5);
    assert_eq!(f.book.release(&id, &call()), Ok(Some(held())));
    assert_eq!(f.book.release(&id, &call()), Err(ReleaseError::Released));
    let v = f.book.get(&id).unwrap();
    assert_eq!(v.state, State::Released);
    assert_eq!(whats(&v), ["created", "approved", "released"]);
    let released = &v.events[2];
    assert_eq!(
        (released.who.as_deref(), released.at_ms),
        (Some("key_a"), 1_000_005)
    );
    assert_eq!(v.events[1].who.as_deref(), Some("alice"));
}

#[test]
fn another_call_is_refused_and_does_not_spend_the_approval() {
    let f = Fixture::new(10);
    let id = f.hold(&call());
    f.book.approve(&id, "alice").unwrap();
    let mut other_args = call();
    other_args.args_digest[0] = 8;
    let mut other_key = call();
    other_key.key_id = Some("key_b".into());
    let mut no_key = call();
    no_key.key_id = None;
    let mut other_tool = call();
    other_tool.tool = "delete_everything".into();
    let mut other_policy = call();
    other_policy.policy_version = "pv2".into();
    let table = [
        (other_args, Mismatch::Arguments),
        (other_key, Mismatch::Key),
        (no_key, Mismatch::Key),
        (other_tool, Mismatch::Tool),
        (other_policy, Mismatch::PolicyVersion),
    ];
    for (presented, mismatch) in table {
        assert_eq!(
            f.book.release(&id, &presented),
            Err(ReleaseError::Mismatch(mismatch))
        );
        assert_eq!(f.book.state(&id), Some(State::Approved), "{mismatch:?}");
    }
    assert_eq!(f.book.release(&id, &call()), Ok(Some(held())));
}

#[test]
fn release_refuses_each_unreleasable_state_distinctly() {
    let f = Fixture::new(10);
    let pending = f.hold(&call());
    let denied = f.hold(&call());
    f.book.deny(&denied, "bob", None).unwrap();
    let expired = f.hold(&call());
    let approved_late = f.hold(&call());
    f.book.approve(&approved_late, "alice").unwrap();
    assert_eq!(
        f.book.release(&pending, &call()),
        Err(ReleaseError::Pending)
    );
    assert_eq!(f.book.release(&denied, &call()), Err(ReleaseError::Denied));
    assert_eq!(f.book.release("apr_x", &call()), Err(ReleaseError::Unknown));
    f.advance(TTL.as_millis() as u64);
    assert_eq!(
        f.book.release(&expired, &call()),
        Err(ReleaseError::Expired)
    );
    // An approval not used by its expiry is spent too.
    assert_eq!(
        f.book.release(&approved_late, &call()),
        Err(ReleaseError::Expired)
    );
    let v = f.book.get(&approved_late).unwrap();
    assert_eq!(whats(&v), ["created", "approved", "expired"]);
    assert_eq!(v.events[2].at_ms, v.expires_at);
}

#[test]
fn decisions_are_taken_only_while_pending() {
    let f = Fixture::new(10);
    let approved = f.hold(&call());
    f.book.approve(&approved, "alice").unwrap();
    let denied = f.hold(&call());
    let v = f.book.deny(&denied, "bob", Some("not on prod")).unwrap();
    assert_eq!(
        (v.state, v.decided_by.as_deref(), v.reason.as_deref()),
        (State::Denied, Some("bob"), Some("not on prod"))
    );
    let released = f.hold(&call());
    f.book.approve(&released, "alice").unwrap();
    f.book.release(&released, &call()).unwrap();
    for (id, state) in [
        (&approved, State::Approved),
        (&denied, State::Denied),
        (&released, State::Released),
    ] {
        assert_eq!(
            f.book.approve(id, "eve"),
            Err(DecideError::NotPending(state))
        );
        assert_eq!(
            f.book.deny(id, "eve", None),
            Err(DecideError::NotPending(state))
        );
    }
    assert_eq!(f.book.approve("apr_x", "eve"), Err(DecideError::Unknown));
    assert_eq!(f.book.deny("apr_x", "eve", None), Err(DecideError::Unknown));
    assert_eq!(
        f.book.get(&denied).unwrap().decided_by.as_deref(),
        Some("bob")
    );
}

#[test]
fn expiry_comes_from_the_clock_and_blocks_late_decisions() {
    let f = Fixture::new(10);
    let id = f.hold(&call());
    f.advance(TTL.as_millis() as u64 - 1);
    assert_eq!(f.book.state(&id), Some(State::Pending));
    f.advance(1);
    assert_eq!(f.book.state(&id), Some(State::Expired));
    assert_eq!(
        f.book.approve(&id, "alice"),
        Err(DecideError::NotPending(State::Expired))
    );
    assert_eq!(whats(&f.book.get(&id).unwrap()), ["created", "expired"]);
}

#[test]
fn a_long_deny_reason_is_cut_at_a_character() {
    let f = Fixture::new(10);
    let id = f.hold(&call());
    let reason = "é".repeat(1000);
    let v = f.book.deny(&id, "bob", Some(&reason)).unwrap();
    let kept = v.reason.unwrap();
    assert!(kept.len() <= 1024 && reason.starts_with(&kept) && !kept.is_empty());
}

#[test]
fn a_full_book_forgets_settled_approvals_first_and_never_live_ones() {
    let f = Fixture::new(3);
    let live = f.hold(&call());
    let approved = f.hold(&call());
    f.book.approve(&approved, "alice").unwrap();
    let denied = f.hold(&call());
    f.book.deny(&denied, "bob", None).unwrap();
    // Full: the denied one (settled, even recently) makes room.
    let newest = f.hold(&call());
    assert_eq!(f.book.get(&denied), None);
    assert_eq!(f.book.len(), 3);
    // Three live approvals: nothing may go.
    assert_eq!(
        f.book.create(call(), "{}".into(), TTL, None),
        Err(CreateError::Full)
    );
    for id in [&live, &approved, &newest] {
        assert!(f.book.get(id).is_some());
    }
    // Once they expire, they are settled and give way.
    f.advance(TTL.as_millis() as u64);
    assert!(f.book.create(call(), "{}".into(), TTL, None).is_ok());
    assert_eq!(f.book.len(), 1);
}

#[test]
fn list_filters_by_state_oldest_first_and_forgets_old_settled_ones() {
    let f = Fixture::new(10);
    let first = f.hold(&call());
    f.advance(1);
    let second = f.hold(&call());
    f.advance(1);
    let denied = f.hold(&call());
    f.book.deny(&denied, "bob", None).unwrap();
    let ids = |state| -> Vec<String> { f.book.list(state).into_iter().map(|v| v.id).collect() };
    assert_eq!(ids(Some(State::Pending)), [first.clone(), second.clone()]);
    assert_eq!(ids(Some(State::Denied)), std::slice::from_ref(&denied));
    assert_eq!(ids(None), [first.clone(), second.clone(), denied.clone()]);
    f.advance(10 * 60 * 1000);
    // The pending ones expired a while ago: still shown until retention ends.
    assert_eq!(ids(Some(State::Expired)), [first, second]);
    assert!(ids(Some(State::Denied)).is_empty());
}

mod routes {
    use super::*;
    use crate::guard::approvals::routes::serve;

    type Audited = Vec<(String, String, String)>;

    fn call_route(
        f: &Fixture,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &str,
    ) -> (u16, simd_json::OwnedValue, Audited) {
        let rest: Vec<&str> = if path.is_empty() {
            Vec::new()
        } else {
            path.split('/').collect()
        };
        let mut audited = Vec::new();
        let mut audit = |action: &str, target: &str, detail: String| {
            audited.push((action.to_owned(), target.to_owned(), detail));
        };
        let mut body = body.as_bytes().to_vec();
        let (status, mut out) = serve(
            &f.book,
            method,
            &rest,
            query,
            "ops-alice",
            &mut body,
            &mut audit,
        );
        let value = simd_json::to_owned_value(&mut out).unwrap();
        (status, value, audited)
    }

    fn field<'v>(v: &'v simd_json::OwnedValue, path: &[&str]) -> Option<&'v simd_json::OwnedValue> {
        use simd_json::prelude::*;
        path.iter().try_fold(v, |v, k| v.get(*k))
    }

    fn text(v: &simd_json::OwnedValue, path: &[&str]) -> String {
        use simd_json::prelude::*;
        field(v, path)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    }

    #[test]
    fn approve_records_the_token_name_and_audits() {
        let f = Fixture::new(10);
        let id = f.hold(&call());
        let (status, v, audited) = call_route(&f, "POST", &format!("{id}/approve"), None, "");
        assert_eq!(status, 200);
        assert_eq!(text(&v, &["state"]), "approved");
        assert_eq!(text(&v, &["decided_by"]), "ops-alice");
        assert_eq!(
            audited,
            [(
                "approval.approve".to_owned(),
                id.clone(),
                "tool=delete_file key=key_a".to_owned()
            )]
        );
        assert_eq!(f.book.state(&id), Some(State::Approved));
    }

    #[test]
    fn deny_takes_an_optional_reason() {
        let f = Fixture::new(10);
        let with = f.hold(&call());
        let without = f.hold(&call());
        let (status, v, audited) = call_route(
            &f,
            "POST",
            &format!("{with}/deny"),
            None,
            r#"{"reason":"no"}"#,
        );
        assert_eq!((status, text(&v, &["reason"])), (200, "no".to_owned()));
        assert_eq!(audited[0].0, "approval.deny");
        assert_eq!(audited[0].2, "tool=delete_file key=key_a reason=no");
        let (status, v, _) = call_route(&f, "POST", &format!("{without}/deny"), None, "");
        assert_eq!((status, text(&v, &["state"])), (200, "denied".to_owned()));
        let third = f.hold(&call());
        for bad in [r#"{"why":"x"}"#, "not json"] {
            let (status, v, audited) = call_route(&f, "POST", &format!("{third}/deny"), None, bad);
            assert_eq!(
                (status, text(&v, &["error", "code"])),
                (400, "invalid_json".to_owned())
            );
            assert!(audited.is_empty());
        }
        assert_eq!(f.book.state(&third), Some(State::Pending));
    }

    #[test]
    fn unknown_is_404_and_settled_is_409_without_audit() {
        let f = Fixture::new(10);
        let id = f.hold(&call());
        f.book.approve(&id, "alice").unwrap();
        let expired = f.hold(&call());
        let table = [
            ("GET", "apr_missing".to_owned(), 404, "approval_not_found"),
            (
                "POST",
                "apr_missing/approve".to_owned(),
                404,
                "approval_not_found",
            ),
            (
                "POST",
                "apr_missing/deny".to_owned(),
                404,
                "approval_not_found",
            ),
            ("POST", format!("{id}/approve"), 409, "approval_not_pending"),
            ("POST", format!("{id}/deny"), 409, "approval_not_pending"),
            ("DELETE", id.clone(), 404, "not_found"),
            ("POST", format!("{id}/release"), 404, "not_found"),
        ];
        for (method, path, status, code) in table {
            let (got, v, audited) = call_route(&f, method, &path, None, "");
            assert_eq!(
                (got, text(&v, &["error", "code"])),
                (status, code.to_owned()),
                "{method} {path}"
            );
            assert!(audited.is_empty());
        }
        f.advance(TTL.as_millis() as u64);
        let (status, v, _) = call_route(&f, "POST", &format!("{expired}/approve"), None, "");
        assert_eq!(status, 409);
        assert!(text(&v, &["error", "message"]).contains("expired"));
    }

    #[test]
    fn lists_and_reads_approvals() {
        use simd_json::prelude::*;
        let f = Fixture::new(10);
        let pending = f.hold(&call());
        let approved = f.hold(&call());
        f.book.approve(&approved, "alice").unwrap();
        let (status, v, _) = call_route(&f, "GET", "", Some("state=pending"), "");
        assert_eq!(status, 200);
        let data = field(&v, &["data"]).and_then(|d| d.as_array()).unwrap();
        assert_eq!(data.len(), 1);
        assert_eq!(
            data[0].get("id").and_then(|v| v.as_str()),
            Some(pending.as_str())
        );
        assert_eq!(
            data[0].get("arguments").and_then(|v| v.as_str()),
            Some(r#"{"path":"/srv/a"}"#)
        );
        let (_, v, _) = call_route(&f, "GET", "", None, "");
        assert_eq!(
            field(&v, &["data"])
                .and_then(|d| d.as_array())
                .map(Vec::len),
            Some(2)
        );
        let (status, v, _) = call_route(&f, "GET", "", Some("state=maybe"), "");
        assert_eq!(
            (status, text(&v, &["error", "code"])),
            (400, "invalid_state".to_owned())
        );
        let (status, v, _) = call_route(&f, "GET", &approved, None, "");
        assert_eq!((status, text(&v, &["state"])), (200, "approved".to_owned()));
        assert!(
            field(&v, &["held"]).is_none(),
            "the held answer is never shown"
        );
    }
}
