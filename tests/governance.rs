//! Governance through the real gateway: keys in both dialects, allowed
//! models, the admin API (create, rotate, revoke, scopes, audit, its own
//! listener), keys and spend surviving a restart, budgets, rate limits
//! across workers, reserve-then-correct token limits, priorities and
//! provider-endpoint limits — against a real mock upstream on 127.0.0.1.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use simd_json::prelude::*;

const ADMIN: &str = "admin-secret-for-tests";
const APPROVER: &str = "approver-secret-for-tests";

fn sha(s: &str) -> String {
    tollgate::governance::keys::to_hex(
        ring::digest::digest(&ring::digest::SHA256, s.as_bytes()).as_ref(),
    )
}

/// The mock config plus governance: a store in `dir`, two admin tokens,
/// prices for the mock's models, and whatever `extra` adds.
fn config(
    mock: SocketAddr,
    dir: &TempDir,
    workers: usize,
    extra: &str,
    provider_extra: &str,
) -> String {
    let base = mock_config(mock, "", provider_extra)
        .replace("workers = 1", &format!("workers = {workers}"));
    format!(
        r#"{base}
[governance]
store = "{store}"

[[admin.tokens]]
name = "ops"
hash = "sha256:{admin}"
scopes = ["read", "keys"]

[[admin.tokens]]
name = "approver"
hash = "sha256:{approver}"
scopes = ["approvals"]

# One token costs a micro-dollar in and two out: costs are easy to check.
[catalog."mock-fast"]
context_window = 100000
max_output_tokens = 4096
price = {{ input = 1.0, output = 2.0 }}

[catalog."same"]
context_window = 100000
max_output_tokens = 4096
price = {{ input = 1.0, output = 2.0 }}

{extra}
"#,
        store = dir.path.join("gov.db").display(),
        admin = sha(ADMIN),
        approver = sha(APPROVER),
    )
}

fn bearer(secret: &str) -> String {
    format!("Bearer {secret}")
}

fn chat(addr: SocketAddr, key: &str, model: &str) -> Response {
    post_chat(
        addr,
        &[("authorization", &bearer(key))],
        &chat_body(model, "hello there", false),
    )
}

fn admin_call(addr: SocketAddr, token: &str, method: &str, path: &str, body: &str) -> Response {
    let mut c = Client::connect(addr);
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    c.send(req.as_bytes());
    c.read_response().expect("an answer")
}

fn str_field(v: &simd_json::OwnedValue, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p).unwrap_or_else(|| panic!("no {p} in {v:?}"));
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("{path:?} not a string in {v:?}"))
        .to_owned()
}

fn keys_in_both_dialects(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let extra = format!(
        "[[keys]]\nid = \"alice\"\nhash = \"sha256:{}\"\nmodels = [\"fast\"]\n",
        sha("tg-alice-secret")
    );
    let gw = start_gateway(&config(mock.addr, &dir, 1, &extra, ""), driver);
    // OpenAI dialect: Bearer.
    assert_eq!(chat(gw.addr, "tg-alice-secret", "fast").status, 200);
    let wrong = chat(gw.addr, "tg-mallory", "fast");
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.error_code(), "invalid_api_key");
    assert!(!wrong.text().contains("tg-mallory"), "{}", wrong.text());
    let none = post_chat(gw.addr, &[], &chat_body("fast", "hi", false));
    assert_eq!(none.status, 401);
    // Anthropic dialect: x-api-key, errors in Anthropic's shape.
    let body = br#"{"model":"fast","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;
    let ok = post(
        gw.addr,
        "/v1/messages",
        &[
            ("x-api-key", "tg-alice-secret"),
            ("anthropic-version", "2023-06-01"),
        ],
        body,
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    let bad = post(
        gw.addr,
        "/v1/messages",
        &[
            ("x-api-key", "tg-nope"),
            ("anthropic-version", "2023-06-01"),
        ],
        body,
    );
    assert_eq!(bad.status, 401);
    assert_eq!(str_field(&bad.json(), &["type"]), "error");
    assert_eq!(
        str_field(&bad.json(), &["error", "type"]),
        "authentication_error"
    );
    // A model the key may not use: 403 in each dialect.
    let forbidden = chat(gw.addr, "tg-alice-secret", "same");
    assert_eq!(forbidden.status, 403, "{}", forbidden.text());
    assert_eq!(forbidden.error_code(), "model_not_allowed");
    let body = br#"{"model":"same","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;
    let forbidden = post(
        gw.addr,
        "/v1/messages",
        &[
            ("x-api-key", "tg-alice-secret"),
            ("anthropic-version", "2023-06-01"),
        ],
        body,
    );
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        str_field(&forbidden.json(), &["error", "type"]),
        "permission_error"
    );
    // The key's answers are priced.
    let priced = chat(gw.addr, "tg-alice-secret", "fast");
    let cost: f64 = priced
        .header("x-tollgate-cost")
        .expect("a cost header")
        .parse()
        .unwrap();
    assert!(cost > 0.0 && cost < 0.01, "{cost}");
}

fn admin_keys_work_at_once_and_survive_a_restart(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let text = config(mock.addr, &dir, 2, "", "");
    let gw = start_gateway(&text, driver);
    // No admin token, a wrong one, or one without the scope: refused.
    assert_eq!(
        admin_call(gw.addr, "nope", "GET", "/admin/keys", "").status,
        401
    );
    let denied = admin_call(
        gw.addr,
        APPROVER,
        "POST",
        "/admin/keys",
        r#"{"models":["fast"]}"#,
    );
    assert_eq!(
        denied.status,
        403,
        "an approver cannot mint keys: {}",
        denied.text()
    );
    // Created: works at once, on every worker.
    let created = admin_call(
        gw.addr,
        ADMIN,
        "POST",
        "/admin/keys",
        r#"{"id":"bob","models":["fast"],"limits":{"rpm":1000}}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let secret = str_field(&created.json(), &["key"]);
    assert!(secret.starts_with("tg-"));
    for _ in 0..4 {
        assert_eq!(chat(gw.addr, &secret, "fast").status, 200);
    }
    // Listed without its secret or hash.
    let listed = admin_call(gw.addr, ADMIN, "GET", "/admin/keys", "");
    assert_eq!(listed.status, 200);
    assert!(listed.text().contains("\"bob\"") && !listed.text().contains(&secret));
    assert!(!listed.text().contains(&sha(&secret)), "no hash is shown");
    // Rotated: the old secret stops, the new one works.
    let rotated = admin_call(gw.addr, ADMIN, "POST", "/admin/keys/bob/rotate", "");
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let fresh = str_field(&rotated.json(), &["key"]);
    assert_eq!(chat(gw.addr, &secret, "fast").status, 401);
    assert_eq!(chat(gw.addr, &fresh, "fast").status, 200);
    // Another key, revoked: stops at once.
    let doomed = admin_call(gw.addr, ADMIN, "POST", "/admin/keys", r#"{"id":"carol"}"#);
    let doomed_secret = str_field(&doomed.json(), &["key"]);
    assert_eq!(chat(gw.addr, &doomed_secret, "fast").status, 200);
    assert_eq!(
        admin_call(gw.addr, ADMIN, "POST", "/admin/keys/carol/revoke", "").status,
        200
    );
    for _ in 0..4 {
        assert_eq!(chat(gw.addr, &doomed_secret, "fast").status, 401);
    }
    // Every action is in the audit trail under the token's name.
    let audit = admin_call(gw.addr, ADMIN, "GET", "/admin/audit", "").text();
    for action in ["key.create", "key.rotate", "key.revoke"] {
        assert!(audit.contains(action), "{audit}");
    }
    assert!(audit.contains("\"actor\":\"ops\""), "{audit}");
    // Spend so far, per key.
    eventually("bob's spend is in the ledger", || {
        let spend = admin_call(gw.addr, ADMIN, "GET", "/admin/spend?by=key&id=bob", "").json();
        spend
            .get("data")
            .and_then(|d| d.as_array())
            .is_some_and(|rows| {
                rows.iter()
                    .map(|r| r.get("requests").and_then(|n| n.as_u64()).unwrap_or(0))
                    .sum::<u64>()
                    == 5
            })
    });
    drop(gw);
    // A new process on the same store: the key still works, the revoked one does not.
    let gw = start_gateway(&text, driver);
    assert_eq!(chat(gw.addr, &fresh, "fast").status, 200);
    assert_eq!(chat(gw.addr, &doomed_secret, "fast").status, 401);
    let spend = admin_call(gw.addr, ADMIN, "GET", "/admin/spend?by=key&id=bob", "").text();
    assert!(
        spend.contains("\"bob\""),
        "spend survived the restart: {spend}"
    );
}

fn budgets_stop_spend_and_are_never_overshot(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    // 2 workers, so the budget is shared across cores.
    let extra = format!(
        "[[keys]]\nid = \"spender\"\nhash = \"sha256:{}\"\nbudgets = {{ total_usd = 0.002 }}\n",
        sha("tg-spender")
    );
    let gw = start_gateway(&config(mock.addr, &dir, 2, &extra, ""), driver);
    let mut charged = 0.0f64;
    let mut refused = None;
    for i in 0..400 {
        // Every dialect and both delivery modes draw on the one budget.
        let r = match i % 3 {
            0 => post_chat(gw.addr, &[("authorization", &bearer("tg-spender"))], br#"{"model":"fast","max_tokens":20,"messages":[{"role":"user","content":"hello there"}]}"#),
            1 => post_chat(gw.addr, &[("authorization", &bearer("tg-spender"))], br#"{"model":"fast","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hello there"}]}"#),
            _ => post(gw.addr, "/v1/messages", &[("x-api-key", "tg-spender"), ("anthropic-version", "2023-06-01")], br#"{"model":"fast","max_tokens":20,"messages":[{"role":"user","content":"hello there"}]}"#),
        };
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text());
        if let Some(c) = r.header("x-tollgate-cost") {
            charged += c.parse::<f64>().unwrap();
        }
    }
    let refused = refused.expect("the budget ran out");
    assert!(
        refused.text().contains("Budget exhausted"),
        "{}",
        refused.text()
    );
    assert!(refused.header("retry-after").is_some());
    // The ledger agrees, and one request at a time never overshoots.
    let spend = admin_call(gw.addr, ADMIN, "GET", "/admin/spend?by=key&id=spender", "");
    eventually("the ledger has every request", || {
        let v = admin_call(gw.addr, ADMIN, "GET", "/admin/spend?by=key&id=spender", "").json();
        let total: f64 = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["charge_usd"].as_f64().unwrap())
            .sum();
        total > 0.0015
    });
    let v = admin_call(gw.addr, ADMIN, "GET", "/admin/spend?by=key&id=spender", "").json();
    let total: f64 = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["charge_usd"].as_f64().unwrap())
        .sum();
    assert!(
        total <= 0.002 + 1e-9,
        "spent {total} of a 0.002 budget: {}",
        spend.text()
    );
    assert!(
        charged <= total + 1e-9,
        "whole answers' cost headers add up to at most the charge"
    );
    // Once spent, it stays spent, in both dialects.
    assert_eq!(chat(gw.addr, "tg-spender", "fast").status, 429);
    let r = post(
        gw.addr,
        "/v1/messages",
        &[
            ("x-api-key", "tg-spender"),
            ("anthropic-version", "2023-06-01"),
        ],
        br#"{"model":"fast","max_tokens":4000,"messages":[{"role":"user","content":"hello there"}]}"#,
    );
    assert_eq!(r.status, 429);
    assert_eq!(str_field(&r.json(), &["error", "type"]), "rate_limit_error");
    // The key holder sees it too.
    let mut c = Client::connect(gw.addr);
    c.send(b"GET /key/info HTTP/1.1\r\nhost: t\r\nauthorization: Bearer tg-spender\r\n\r\n");
    let info = c.read_response().unwrap();
    assert_eq!(info.status, 200, "{}", info.text());
    assert!(
        info.text().contains("\"period\":\"total\""),
        "{}",
        info.text()
    );
}

fn concurrent_spend_overshoots_by_at_most_the_in_flight(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let extra = format!(
        "[[keys]]\nid = \"crowd\"\nhash = \"sha256:{}\"\nbudgets = {{ total_usd = 0.003 }}\n",
        sha("tg-crowd")
    );
    let gw = start_gateway(&config(mock.addr, &dir, 2, &extra, ""), driver);
    let addr = gw.addr;
    let threads = 8;
    let ok = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..100 {
                    let r = post_chat(addr, &[("authorization", &bearer("tg-crowd"))], br#"{"model":"fast","max_tokens":20,"messages":[{"role":"user","content":"hello there"}]}"#);
                    match r.status {
                        200 => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        429 => break,
                        s => panic!("unexpected {s}: {}", r.text()),
                    }
                }
            });
        }
    });
    eventually("every admitted request is in the ledger", || {
        let v = admin_call(addr, ADMIN, "GET", "/admin/spend?by=key&id=crowd", "").json();
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["requests"].as_u64().unwrap())
            .sum::<u64>()
            == ok.load(Ordering::Relaxed)
    });
    let v = admin_call(addr, ADMIN, "GET", "/admin/spend?by=key&id=crowd", "").json();
    let total: f64 = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["charge_usd"].as_f64().unwrap())
        .sum();
    // Each answer costs less than its reservation: no overshoot at all.
    assert!(total <= 0.003 + 1e-9, "spent {total} of 0.003");
    assert!(
        ok.load(Ordering::Relaxed) > 10,
        "the budget admitted requests"
    );
}

fn rpm_holds_across_two_workers(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let extra = format!(
        "[[keys]]\nid = \"busy\"\nhash = \"sha256:{}\"\nlimits = {{ rpm = 200 }}\n",
        sha("tg-busy")
    );
    let gw = start_gateway(&config(mock.addr, &dir, 2, &extra, ""), driver);
    let addr = gw.addr;
    let (ok, limited) = (AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                // Keep-alive connections, spread over both workers by the kernel.
                let mut c = Client::connect(addr);
                for _ in 0..60 {
                    c.post(
                        "/v1/chat/completions",
                        &[("authorization", "Bearer tg-busy")],
                        &chat_body("fast", "hi", false),
                    );
                    let r = c.read_response().expect("an answer");
                    match r.status {
                        200 => ok.fetch_add(1, Ordering::Relaxed),
                        429 => {
                            assert!(r.header("retry-after").is_some());
                            assert_eq!(r.header("x-ratelimit-limit-requests"), Some("200"));
                            limited.fetch_add(1, Ordering::Relaxed)
                        }
                        s => panic!("unexpected {s}"),
                    };
                    if r.closed {
                        c = Client::connect(addr);
                    }
                }
            });
        }
    });
    let ok = ok.load(Ordering::Relaxed);
    // 200 a minute, refilled at 3.3 a second while the burst runs: within 5 %.
    assert!(
        (190..=215).contains(&ok),
        "{ok} admitted of a 200/min limit"
    );
    assert_eq!(ok + limited.load(Ordering::Relaxed), 480);
}

fn tokens_per_minute_reserve_then_correct(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let extra = format!(
        "[[keys]]\nid = \"wordy\"\nhash = \"sha256:{}\"\nlimits = {{ tpm = 3000 }}\n",
        sha("tg-wordy")
    );
    let gw = start_gateway(&config(mock.addr, &dir, 1, &extra, ""), driver);
    // Each request reserves its estimate plus max_tokens (1000), and uses a
    // few tokens: corrected, far more fit than 3000 / 1000.
    let body =
        br#"{"model":"fast","max_tokens":1000,"messages":[{"role":"user","content":"hello"}]}"#;
    let mut ok = 0;
    let mut used = 0u64;
    for _ in 0..2000 {
        let r = post_chat(gw.addr, &[("authorization", "Bearer tg-wordy")], body);
        if r.status == 429 {
            assert_eq!(r.header("x-ratelimit-limit-tokens"), Some("3000"));
            break;
        }
        assert_eq!(r.status, 200);
        used += r.json()["usage"]["total_tokens"].as_u64().unwrap();
        ok += 1;
    }
    assert!(
        ok > 10,
        "corrections gave the reservations back: {ok} requests"
    );
    // Refused once what was used plus one reservation no longer fits.
    assert!(used <= 3000 + 60, "used {used} tokens of 3000 a minute");
    assert!(
        used + 1100 > 3000,
        "refused only when the next reservation did not fit ({used})"
    );
}

fn priorities_keep_headroom_for_critical_traffic(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let extra = format!(
        r#"
[governance.reserve]
critical = 0.5

[[teams]]
id = "shared"
limits = {{ rpm = 20 }}

[[keys]]
id = "nightly"
hash = "sha256:{}"
team = "shared"
priority = "batch"

[[keys]]
id = "pager"
hash = "sha256:{}"
team = "shared"
priority = "critical"
"#,
        sha("tg-nightly"),
        sha("tg-pager")
    );
    let gw = start_gateway(&config(mock.addr, &dir, 1, &extra, ""), driver);
    let mut batch = 0;
    while chat(gw.addr, "tg-nightly", "fast").status == 200 {
        batch += 1;
        assert!(batch <= 20);
    }
    assert!(
        (9..=11).contains(&batch),
        "batch stopped at the reserve: {batch}"
    );
    let mut critical = 0;
    while chat(gw.addr, "tg-pager", "fast").status == 200 {
        critical += 1;
        assert!(critical <= 20);
    }
    assert!(
        (9..=11).contains(&critical),
        "critical used the headroom: {critical}"
    );
}

fn provider_limits_move_traffic_to_the_fallback(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let extra = format!(
        r#"
[[providers]]
name = "backup"
kind = "openai_compatible"
base_url = "http://{}/v1"

[[models]]
name = "backup-fast"
provider = "backup"
upstream_model = "mock-fast"

[[keys]]
id = "p"
hash = "sha256:{}"
"#,
        mock.addr,
        sha("tg-p")
    );
    let text = config(mock.addr, &dir, 1, &extra, "limits = { rpm = 5 }")
        .replace("upstream_model = \"mock-fast\"\n\n[[models]]\nname = \"same\"", "upstream_model = \"mock-fast\"\nfallbacks = [\"backup-fast\"]\n\n[[models]]\nname = \"same\"");
    let gw = start_gateway(&text, driver);
    let mut by = std::collections::BTreeMap::<String, u32>::new();
    for _ in 0..12 {
        let r = chat(gw.addr, "tg-p", "fast");
        assert_eq!(r.status, 200, "{}", r.text());
        *by.entry(r.header("x-tollgate-provider").unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(by.get("mockup"), Some(&5), "{by:?}");
    assert_eq!(by.get("backup"), Some(&7), "{by:?}");
}

fn admin_api_on_its_own_listener(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let extra = format!("[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n");
    let text = config(mock.addr, &dir, 1, "", "").replacen(
        "[[admin.tokens]]",
        &format!("{extra}\n[[admin.tokens]]"),
        1,
    );
    let gw = start_gateway(&text, driver);
    let admin: SocketAddr = format!("127.0.0.1:{admin_port}").parse().unwrap();
    // Not on the API listener…
    assert_eq!(
        admin_call(gw.addr, ADMIN, "GET", "/admin/keys", "").status,
        404
    );
    // …on its own, which serves nothing else.
    eventually("the admin listener answers", || {
        std::net::TcpStream::connect(admin).is_ok()
    });
    assert_eq!(
        admin_call(admin, ADMIN, "GET", "/admin/keys", "").status,
        200
    );
    assert_eq!(
        post_chat(admin, &[], &chat_body("fast", "hi", false)).status,
        404
    );
}

fn stream_costs_only_when_asked(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let extra = format!(
        r#"
[[providers]]
name = "anth"
kind = "anthropic"
base_url = "http://{}/v1"

[[models]]
name = "claude-same"
provider = "anth"
upstream_model = "mock-fast"

[[keys]]
id = "s"
hash = "sha256:{}"
"#,
        mock.addr,
        sha("tg-s")
    );
    let gw = start_gateway(&config(mock.addr, &dir, 1, &extra, ""), driver);
    let ask = [
        ("authorization", "Bearer tg-s"),
        ("x-tollgate-include-cost", "true"),
    ];
    let plain = [("authorization", "Bearer tg-s")];
    // OpenAI passthrough (relayed bytes): the usage chunk carries the cost.
    let body = br#"{"model":"fast","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello there"}]}"#;
    let with = sse_data(&post_chat(gw.addr, &ask, body).body);
    let usage_chunk = with
        .iter()
        .find(|d| d.contains("\"usage\":{"))
        .expect("a usage chunk");
    let v = simd_json::to_owned_value(&mut usage_chunk.clone().into_bytes()).unwrap();
    let prompt = v["usage"]["prompt_tokens"].as_u64().unwrap() as f64;
    let completion = v["usage"]["completion_tokens"].as_u64().unwrap() as f64;
    let cost = v["usage"]["cost"]
        .as_f64()
        .expect("cost in the usage chunk");
    assert!(
        (cost - (prompt + 2.0 * completion) * 1e-6).abs() < 1e-9,
        "{usage_chunk}"
    );
    let without = sse_data(&post_chat(gw.addr, &plain, body).body);
    assert!(
        without.iter().all(|d| !d.contains("\"cost\"")),
        "{without:?}"
    );
    // Anthropic, translated (OpenAI upstream) and relayed (Anthropic upstream):
    // the message_delta event carries it.
    for model in ["fast", "claude-same"] {
        let body = format!(
            r#"{{"model":"{model}","max_tokens":50,"stream":true,"messages":[{{"role":"user","content":"hello there"}}]}}"#
        );
        let mut h = vec![("x-api-key", "tg-s"), ("anthropic-version", "2023-06-01")];
        let without = post(gw.addr, "/v1/messages", &h, body.as_bytes());
        assert_eq!(without.status, 200, "{}", without.text());
        assert!(!without.text().contains("\"cost\""), "{}", without.text());
        h.push(("x-tollgate-include-cost", "true"));
        let with = post(gw.addr, "/v1/messages", &h, body.as_bytes());
        let delta = sse_data(&with.body)
            .into_iter()
            .find(|d| d.contains("message_delta"))
            .expect("a message_delta event");
        let v = simd_json::to_owned_value(&mut delta.clone().into_bytes()).unwrap();
        assert!(
            v["usage"]["cost"].as_f64().is_some_and(|c| c > 0.0),
            "{model}: {delta}"
        );
    }
}

/// Today's rows of `/admin/spend?by=<by>&id=<id>`, summed: (requests, charge, gateway cost).
fn spend_of(addr: SocketAddr, by: &str, id: &str) -> (u64, f64, f64) {
    let v = admin_call(
        addr,
        ADMIN,
        "GET",
        &format!("/admin/spend?by={by}&id={id}"),
        "",
    )
    .json();
    let rows = v["data"].as_array().unwrap();
    (
        rows.iter().map(|r| r["requests"].as_u64().unwrap()).sum(),
        rows.iter().map(|r| r["charge_usd"].as_f64().unwrap()).sum(),
        rows.iter()
            .map(|r| r["gateway_cost_usd"].as_f64().unwrap())
            .sum(),
    )
}

fn streams_without_usage_are_counted_not_free(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let extra = format!(
        "[[keys]]\nid = \"quiet\"\nhash = \"sha256:{}\"\n",
        sha("tg-quiet")
    );
    let gw = start_gateway(&config(mock.addr, &dir, 1, &extra, ""), driver);
    let r = post_chat(
        gw.addr,
        &[
            ("authorization", "Bearer tg-quiet"),
            ("x-mock-fault", "no-usage"),
        ],
        &chat_body("fast", "a stream whose provider reports no usage", true),
    );
    assert_eq!(r.status, 200);
    assert!(
        sse_data(&r.body)
            .iter()
            .all(|d| !d.contains("prompt_tokens")),
        "the mock sent no usage"
    );
    eventually("the stream was charged what the gateway counted", || {
        let (n, charge, _) = spend_of(gw.addr, "key", "quiet");
        n == 1 && charge > 0.0
    });
}

fn end_users_are_attributed_and_budgeted(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let extra = format!(
        "[[keys]]\nid = \"saas\"\nhash = \"sha256:{}\"\n\n[[end_users]]\nid = \"cust-small\"\nbudgets = {{ daily_usd = 0.0002 }}\n",
        sha("tg-saas")
    );
    let gw = start_gateway(&config(mock.addr, &dir, 1, &extra, ""), driver);
    let auth = ("authorization", "Bearer tg-saas");
    let openai = |user: &str| {
        format!(
            r#"{{"model":"fast","max_tokens":10,"user":"{user}","messages":[{{"role":"user","content":"hello there"}}]}}"#
        )
    };
    // Named three ways: OpenAI `user`, Anthropic `metadata.user_id`, the header.
    assert_eq!(
        post_chat(gw.addr, &[auth], openai("cust-big").as_bytes()).status,
        200
    );
    let anthropic = br#"{"model":"fast","max_tokens":10,"metadata":{"user_id":"cust-big"},"messages":[{"role":"user","content":"hello there"}]}"#;
    assert_eq!(
        post(
            gw.addr,
            "/v1/messages",
            &[
                ("x-api-key", "tg-saas"),
                ("anthropic-version", "2023-06-01")
            ],
            anthropic
        )
        .status,
        200
    );
    assert_eq!(
        post_chat(
            gw.addr,
            &[auth, ("x-tollgate-end-user", "cust-big")],
            &chat_body("fast", "hi", false)
        )
        .status,
        200
    );
    eventually("spend per end user", || {
        spend_of(gw.addr, "end_user", "cust-big").0 == 3
    });
    // A budgeted end user runs out; the key's other end users do not.
    let mut small = 0;
    while post_chat(gw.addr, &[auth], openai("cust-small").as_bytes()).status == 200 {
        small += 1;
        assert!(small < 100, "the end user's budget held");
    }
    assert!(small >= 1);
    let r = post_chat(gw.addr, &[auth], openai("cust-small").as_bytes());
    assert_eq!(r.status, 429);
    assert_eq!(r.error_code(), "budget_exceeded");
    assert!(r.text().contains("end user"), "{}", r.text());
    assert_eq!(
        post_chat(gw.addr, &[auth], openai("cust-big").as_bytes()).status,
        200
    );
}

fn a_hedge_losers_cost_is_the_gateways(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let extra = format!(
        r#"
[[providers]]
name = "quickp"
kind = "openai_compatible"
base_url = "http://{}/v1"

[[models]]
name = "quick"
provider = "quickp"
upstream_model = "same"

[[keys]]
id = "h"
hash = "sha256:{}"
"#,
        mock.addr,
        sha("tg-h")
    );
    let text = config(mock.addr, &dir, 1, &extra, "headers = { \"x-mock-fault\" = \"latency-ms=3000\" }").replace(
        "upstream_model = \"mock-fast\"\n\n[[models]]\nname = \"same\"",
        "upstream_model = \"mock-fast\"\nfallbacks = [\"quick\"]\nhedge = { after_ms = 50 }\n\n[[models]]\nname = \"same\"",
    );
    let gw = start_gateway(&text, driver);
    let r = chat(gw.addr, "tg-h", "fast");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-tollgate-provider"), Some("quickp"));
    let cost: f64 = r.header("x-tollgate-cost").unwrap().parse().unwrap();
    eventually("the loser's cost is in the gateway's column", || {
        let (n, charge, gateway) = spend_of(gw.addr, "key", "h");
        n == 1 && gateway > 0.0 && (charge - cost).abs() < 1e-9
    });
}

fn a_reload_changes_keys_and_an_expired_key_is_refused(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let key = |id: &str, extra: &str| {
        format!(
            "[[keys]]\nid = \"{id}\"\nhash = \"sha256:{}\"\n{extra}\n",
            sha(&format!("tg-{id}"))
        )
    };
    let gw = start_gateway(
        &config(
            mock.addr,
            &dir,
            2,
            &(key("old", "") + &key("stale", "expires = \"2020-01-01\"")),
            "",
        ),
        driver,
    );
    assert_eq!(chat(gw.addr, "tg-old", "fast").status, 200);
    assert_eq!(
        chat(gw.addr, "tg-stale", "fast").status,
        401,
        "an expired key"
    );
    let lines = gw.log().len();
    gw.rewrite_config(&config(
        mock.addr,
        &dir,
        2,
        &key("new", "limits = { rpm = 2 }"),
        "",
    ));
    gw.signal("HUP");
    gw.wait_log(lines, "reload: config");
    // The old key is gone, the new one works under its own limit.
    for _ in 0..2 {
        assert_eq!(chat(gw.addr, "tg-old", "fast").status, 401);
        assert_eq!(chat(gw.addr, "tg-new", "fast").status, 200);
    }
    let r = chat(gw.addr, "tg-new", "fast");
    assert_eq!(r.status, 429);
    assert_eq!(r.header("x-ratelimit-limit-requests"), Some("2"));
}

on_both_drivers!(
    a_reload_changes_keys_and_an_expired_key_is_refused,
    streams_without_usage_are_counted_not_free,
    end_users_are_attributed_and_budgeted,
    a_hedge_losers_cost_is_the_gateways,
    stream_costs_only_when_asked,
    keys_in_both_dialects,
    admin_keys_work_at_once_and_survive_a_restart,
    budgets_stop_spend_and_are_never_overshot,
    concurrent_spend_overshoots_by_at_most_the_in_flight,
    rpm_holds_across_two_workers,
    tokens_per_minute_reserve_then_correct,
    priorities_keep_headroom_for_critical_traffic,
    provider_limits_move_traffic_to_the_fallback,
    admin_api_on_its_own_listener,
);

#[test]
fn a_public_address_without_keys_refuses_to_start() {
    let dir = TempDir::new();
    let path = dir.path.join("t.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"0.0.0.0:0\"\n[[providers]]\nname = \"l\"\nkind = \"mock\"\n[[models]]\nname = \"m\"\nprovider = \"l\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(bin())
        .args(["serve", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("allow_unauthenticated"), "{err}");
}
