//! The Redis tier through real gateway processes and a real `redis-server`
//! (started by the tests on a free 127.0.0.1 port): two instances hold one
//! global limit and one budget, share the keys the admin API makes, and
//! keep serving by policy when Redis dies — with the spend recorded while
//! it was away reaching it when it returns. Password and TLS included.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use common::redis::RedisServer;
use common::*;
use simd_json::prelude::*;
use tollgate::governance::types::Dimension;
use tollgate::store::redis::{Redis, RedisTarget, Tier};

const ADMIN: &str = "admin-secret-for-redis-tests";

fn sha(s: &str) -> String {
    tollgate::governance::keys::to_hex(
        ring::digest::digest(&ring::digest::SHA256, s.as_bytes()).as_ref(),
    )
}

/// One instance's config: its own store, the shared Redis, and `extra`.
fn config(mock: SocketAddr, dir: &TempDir, name: &str, redis: &str, extra: &str) -> String {
    let base = mock_config(mock, "", "");
    format!(
        r#"{base}
[governance]
store = "{store}"
aggregator_interval_ms = 2

[governance.redis]
{redis}

[[admin.tokens]]
name = "ops"
hash = "sha256:{admin}"
scopes = ["read", "keys"]

[catalog."mock-fast"]
context_window = 100000
max_output_tokens = 4096
price = {{ input = 1.0, output = 2.0 }}

{extra}
"#,
        store = dir.path.join(format!("{name}.db")).display(),
        admin = sha(ADMIN),
    )
}

fn redis_table(server: &RedisServer) -> String {
    format!(
        "url = \"redis://127.0.0.1:{}\"\nprefix = \"tgtest:\"",
        server.port()
    )
}

fn key_entry(id: &str, secret: &str, extra: &str) -> String {
    format!(
        "[[keys]]\nid = \"{id}\"\nhash = \"sha256:{}\"\n{extra}\n",
        sha(secret)
    )
}

fn chat(addr: SocketAddr, key: &str) -> Response {
    post_chat(
        addr,
        &[("authorization", &format!("Bearer {key}"))],
        br#"{"model":"fast","max_tokens":20,"messages":[{"role":"user","content":"hello there"}]}"#,
    )
}

fn admin_call(addr: SocketAddr, method: &str, path: &str, body: &str) -> Response {
    let mut c = Client::connect(addr);
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {ADMIN}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    c.send(req.as_bytes());
    c.read_response().expect("an answer")
}

fn tier(server: &RedisServer) -> Tier {
    let target = RedisTarget::parse_url(&format!("redis://127.0.0.1:{}", server.port())).unwrap();
    Tier::new(Redis::new(target), "tgtest:")
}

/// Requests (and charge) Redis's rollups hold for a key today.
fn redis_spend(server: &RedisServer, key: &str) -> (u64, i64) {
    let day = (tollgate::resilience::unix_secs() / 86_400) as i64;
    let rows = tier(server)
        .spend(Dimension::Key, Some(key), day - 1, day + 1)
        .unwrap_or_default();
    (
        rows.iter().map(|r| r.requests).sum(),
        rows.iter().map(|r| r.charge_nanos).sum(),
    )
}

/// `threads` clients per gateway, each sending up to `each` requests;
/// answers the number admitted (the rest must be 429s).
fn hammer(addrs: &[SocketAddr], key: &str, threads: usize, each: usize) -> u64 {
    let ok = AtomicU64::new(0);
    std::thread::scope(|s| {
        for &addr in addrs {
            for _ in 0..threads {
                let ok = &ok;
                s.spawn(move || {
                    let mut c = Client::connect(addr);
                    for _ in 0..each {
                        c.post(
                            "/v1/chat/completions",
                            &[("authorization", &format!("Bearer {key}"))],
                            &chat_body("fast", "hi", false),
                        );
                        let r = c.read_response().expect("an answer");
                        match r.status {
                            200 => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            429 => {}
                            s => panic!("unexpected {s}: {}", r.text()),
                        }
                        if r.closed {
                            c = Client::connect(addr);
                        }
                    }
                });
            }
        }
    });
    ok.load(Ordering::Relaxed)
}

fn two_instances_hold_one_limit_and_one_budget(driver: &str) {
    let redis = RedisServer::start();
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let keys = key_entry("shared", "tg-shared", "limits = { rpm = 100 }")
        + &key_entry("wallet", "tg-wallet", "budgets = { total_usd = 0.001 }");
    let a = start_gateway(
        &config(mock.addr, &dir, "a", &redis_table(&redis), &keys),
        driver,
    );
    let b = start_gateway(
        &config(mock.addr, &dir, "b", &redis_table(&redis), &keys),
        driver,
    );
    // 100 a minute across both instances, under 800 attempts.
    let ok = hammer(&[a.addr, b.addr], "tg-shared", 4, 100);
    assert!(
        (95..=105).contains(&ok),
        "{ok} admitted of one 100/min limit over two instances"
    );
    // One budget: both spend until it is gone, and together stay within it.
    let admitted = AtomicU64::new(0);
    std::thread::scope(|s| {
        for addr in [a.addr, b.addr] {
            let admitted = &admitted;
            s.spawn(move || {
                // Until the budget is plainly gone: a refusal may be this
                // instance's share running out while the other still holds some.
                let mut refused_in_a_row = 0;
                for _ in 0..1000 {
                    match chat(addr, "tg-wallet").status {
                        200 => {
                            admitted.fetch_add(1, Ordering::Relaxed);
                            refused_in_a_row = 0;
                        }
                        429 => refused_in_a_row += 1,
                        s => panic!("unexpected {s}"),
                    };
                    if refused_in_a_row == 20 {
                        break;
                    }
                }
            });
        }
    });
    let admitted = admitted.load(Ordering::Relaxed);
    eventually("both instances' spend reached Redis", || {
        redis_spend(&redis, "wallet").0 == admitted
    });
    let (_, charged) = redis_spend(&redis, "wallet");
    assert!(admitted > 20, "{admitted} admitted");
    assert!(
        charged <= 1_000_000,
        "charged {charged} nanos of a 1 000 000 budget"
    );
    for addr in [a.addr, b.addr] {
        assert_eq!(chat(addr, "tg-wallet").status, 429);
    }
}

fn keys_made_on_one_instance_work_on_the_other(driver: &str) {
    let redis = RedisServer::start();
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let a = start_gateway(
        &config(mock.addr, &dir, "a", &redis_table(&redis), ""),
        driver,
    );
    let b = start_gateway(
        &config(mock.addr, &dir, "b", &redis_table(&redis), ""),
        driver,
    );
    let created = admin_call(a.addr, "POST", "/admin/keys", r#"{"id":"roaming"}"#);
    assert_eq!(created.status, 201, "{}", created.text());
    let secret = created.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(chat(a.addr, &secret).status, 200);
    eventually("the other instance learned the key", || {
        chat(b.addr, &secret).status == 200
    });
    assert_eq!(
        admin_call(b.addr, "POST", "/admin/keys/roaming/revoke", "").status,
        200
    );
    eventually("the revocation reached the first instance", || {
        chat(a.addr, &secret).status == 401
    });
}

fn redis_down_fail_open_keeps_serving_and_replays_spend(driver: &str) {
    let mut redis = RedisServer::start();
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let keys = key_entry("steady", "tg-steady", "limits = { rpm = 10000 }");
    let text = config(mock.addr, &dir, "a", &redis_table(&redis), &keys);
    let gw = start_gateway(&text, driver);
    for _ in 0..5 {
        assert_eq!(chat(gw.addr, "tg-steady").status, 200);
    }
    eventually("spend reached Redis", || {
        redis_spend(&redis, "steady").0 == 5
    });
    redis.kill();
    // Fail open: the instance serves within its share while Redis is away.
    let mut served = 0;
    for _ in 0..20 {
        if chat(gw.addr, "tg-steady").status == 200 {
            served += 1;
        }
    }
    assert!(served >= 15, "{served} of 20 served with Redis down");
    eventually("the degraded state is a metric", || {
        get(gw.addr, "/metrics")
            .text()
            .contains("tollgate_governance_redis_degraded 1")
    });
    // Back (empty: no persistence): what was spent while it was away arrives.
    redis.restart();
    eventually("the spend made while Redis was down reached it", || {
        redis_spend(&redis, "steady").0 >= served
    });
    eventually("no longer degraded", || {
        get(gw.addr, "/metrics")
            .text()
            .contains("tollgate_governance_redis_degraded 0")
    });
    assert_eq!(chat(gw.addr, "tg-steady").status, 200);
}

fn redis_down_fail_closed_refuses_governed_requests(driver: &str) {
    let mut redis = RedisServer::start();
    let mock = start_mock(driver);
    let dir = TempDir::new();
    let keys = key_entry("strict", "tg-strict", "limits = { rpm = 100 }");
    let table = redis_table(&redis) + "\non_unavailable = \"fail_closed\"";
    let gw = start_gateway(&config(mock.addr, &dir, "a", &table, &keys), driver);
    assert_eq!(chat(gw.addr, "tg-strict").status, 200);
    redis.kill();
    eventually("requests under a Redis-held limit are refused", || {
        let r = chat(gw.addr, "tg-strict");
        r.status == 503 && r.error_code() == "limits_unavailable"
    });
    redis.restart();
    eventually("served again once Redis is back", || {
        chat(gw.addr, "tg-strict").status == 200
    });
}

fn a_password_and_tls_protected_redis(driver: &str) {
    let mock = start_mock(driver);
    let dir = TempDir::new();
    // Password, given as a file reference.
    let redis = RedisServer::start_with_password("s3cret-redis-pw");
    let pw = dir.path.join("redis.pw");
    std::fs::write(&pw, "s3cret-redis-pw").unwrap();
    let table = format!(
        "url = \"redis://127.0.0.1:{}\"\npassword = \"file:{}\"\nprefix = \"tgtest:\"",
        redis.port(),
        pw.display()
    );
    let keys = key_entry("pw", "tg-pw", "limits = { rpm = 1000 }");
    let gw = start_gateway(&config(mock.addr, &dir, "p", &table, &keys), driver);
    assert_eq!(chat(gw.addr, "tg-pw").status, 200);
    let metrics = get(gw.addr, "/metrics").text();
    assert!(
        metrics.contains("tollgate_governance_redis_degraded 0"),
        "{metrics}"
    );
    assert!(!gw.log().iter().any(|l| l.contains("s3cret-redis-pw")));
    drop(gw);
    // TLS with a private CA.
    let tls_dir = TempDir::new();
    match RedisServer::try_start_tls(&tls_dir.path) {
        Err(e) => eprintln!("SKIPPED: this redis-server cannot serve TLS ({e})"),
        Ok((tls, ca)) => {
            let table = format!(
                "url = \"rediss://127.0.0.1:{}\"\nca_file = \"{}\"\nprefix = \"tgtest:\"",
                tls.port(),
                ca.display()
            );
            let gw = start_gateway(&config(mock.addr, &dir, "t", &table, &keys), driver);
            assert_eq!(chat(gw.addr, "tg-pw").status, 200);
            eventually("spend reached Redis over TLS", || {
                get(gw.addr, "/metrics")
                    .text()
                    .contains("tollgate_governance_redis_degraded 0")
                    && admin_call(gw.addr, "GET", "/admin/spend?by=key&id=pw", "")
                        .text()
                        .contains("\"pw\"")
            });
        }
    }
}

on_both_drivers!(
    two_instances_hold_one_limit_and_one_budget,
    keys_made_on_one_instance_work_on_the_other,
    redis_down_fail_open_keeps_serving_and_replays_spend,
    redis_down_fail_closed_refuses_governed_requests,
    a_password_and_tls_protected_redis,
);
