//! The Redis tier against real redis-server processes: the client (round
//! trips, pipelines, scripts, AUTH, TLS, a server killed, restarted or hung)
//! and the gateway's operations on it (rate leases, budgets, spend, shared
//! records, heartbeats), with the round trips each one costs.

mod common;

use std::time::Duration;

use common::TempDir;
use common::redis::RedisServer;
use tollgate::governance::rollup::rollups;
use tollgate::governance::types::{
    Budgets, Dimension, EndUserRecord, KeyRecord, KeySource, LedgerRow, Period, Priority,
    RateLimits, SpendRow, TeamRecord, parse_day,
};
use tollgate::store::redis::{Redis, RedisError, RedisTarget, Script, SpendBatch, Tier, Value};

fn client(server: &RedisServer) -> Redis {
    Redis::new(RedisTarget::parse_url(&server.url()).unwrap())
}

fn tier(server: &RedisServer) -> Tier {
    Tier::new(client(server), "tg:")
}

fn cmd(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn simple(s: &str) -> Value {
    Value::Simple(s.to_string())
}

#[test]
fn commands_and_pipelines_cost_one_round_trip_each() {
    let server = RedisServer::start();
    let mut r = client(&server);
    assert!(!r.is_connected(), "new() does no I/O");
    assert_eq!(r.cmd(&[b"PING"]).unwrap(), simple("PONG"));
    let binary = b"a\r\nb\0\xff";
    assert_eq!(r.cmd(&[b"SET", b"k", binary]).unwrap(), simple("OK"));
    assert_eq!(
        r.cmd(&[b"GET", b"k"]).unwrap(),
        Value::Bulk(binary.to_vec())
    );
    assert_eq!(r.cmd(&[b"GET", b"nothing"]).unwrap(), Value::Nil);
    // An error reply refuses one command and leaves the connection usable.
    let err = r.cmd(&[b"INCR", b"k"]).unwrap_err();
    assert!(
        matches!(&err, RedisError::Server(m) if m.starts_with("ERR")),
        "{err}"
    );
    assert!(!err.is_unavailable());
    let id = r.cmd(&[b"CLIENT", b"ID"]).unwrap();
    assert_eq!(r.round_trips(), 6);

    let replies = r
        .pipeline(&[
            cmd(&["INCR", "n"]),
            cmd(&["INCR", "n"]),
            cmd(&["HGET", "k", "f"]),
            cmd(&["LRANGE", "nothing", "0", "-1"]),
            cmd(&["CLIENT", "ID"]),
        ])
        .unwrap();
    assert_eq!(replies[..2], [Value::Int(1), Value::Int(2)]);
    assert!(matches!(&replies[2], Value::Error(m) if m.starts_with("WRONGTYPE")));
    assert_eq!(replies[3], Value::Array(Vec::new()));
    assert_eq!(replies[4], id, "one connection throughout");
    assert_eq!(r.round_trips(), 7);

    // 5000 commands in one write and one read pass.
    let many: Vec<_> = (1..=5000)
        .map(|i| cmd(&["INCRBY", "sum", &i.to_string()]))
        .collect();
    let replies = r.pipeline(&many).unwrap();
    assert_eq!(replies.last(), Some(&Value::Int(5000 * 5001 / 2)));
    assert_eq!(r.round_trips(), 8);

    // A reply far larger than one read.
    let big: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
    r.cmd(&[b"SET", b"big", &big]).unwrap();
    assert_eq!(r.cmd(&[b"GET", b"big"]).unwrap(), Value::Bulk(big));
}

#[test]
fn the_tier_moves_to_its_own_background_thread() {
    let server = RedisServer::start();
    let mut t = tier(&server);
    let beat = std::thread::spawn(move || t.heartbeat("inst", 1000).unwrap());
    assert_eq!(beat.join().unwrap(), 1);
}

#[test]
fn eval_sends_the_source_only_when_redis_lacks_it() {
    let server = RedisServer::start();
    let mut r = client(&server);
    let script = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    let run = |r: &mut Redis| r.eval(&script, &[b"counter"], &[b"5"]).unwrap();
    assert_eq!(run(&mut r), Value::Int(5));
    assert_eq!(r.round_trips(), 2, "EVALSHA (NOSCRIPT), then EVAL");
    assert_eq!(run(&mut r), Value::Int(10));
    assert_eq!(r.round_trips(), 3, "EVALSHA alone");
    r.cmd(&[b"SCRIPT", b"FLUSH"]).unwrap();
    assert_eq!(run(&mut r), Value::Int(15));
    assert_eq!(
        r.round_trips(),
        6,
        "FLUSH, then EVALSHA (NOSCRIPT) and EVAL again"
    );
    let broken = Script::new("return redis.call('NOSUCHCOMMAND')");
    let err = r.eval(&broken, &[], &[]).unwrap_err();
    assert!(matches!(err, RedisError::Server(_)), "{err}");
}

#[test]
fn authenticates_and_never_shows_the_password() {
    let password = "s3cret pass/@:";
    let server = RedisServer::start_with_password(password);
    let mut r = client(&server);
    assert_eq!(r.cmd(&[b"PING"]).unwrap(), simple("PONG"));
    assert_eq!(r.round_trips(), 2, "AUTH, then PING");
    let mut as_user = RedisTarget::parse_url(&server.url()).unwrap();
    as_user.username = Some("default".into());
    assert_eq!(Redis::new(as_user).cmd(&[b"PING"]).unwrap(), simple("PONG"));

    let mut wrong = RedisTarget::parse_url(&server.url()).unwrap();
    wrong.password = Some("hunter2-wrong".into());
    let mut r = Redis::new(wrong);
    let err = r.cmd(&[b"PING"]).unwrap_err();
    assert!(
        matches!(&err, RedisError::Auth(m) if m.contains("WRONGPASS")),
        "{err}"
    );
    assert!(err.is_unavailable());
    for shown in [
        err.to_string(),
        format!("{err:?}"),
        format!("{:?}", r.target()),
    ] {
        assert!(
            !shown.contains("hunter2") && !shown.contains(password),
            "{shown}"
        );
    }
    assert!(!r.is_connected());

    let mut none = RedisTarget::parse_url(&server.url()).unwrap();
    none.password = None;
    let err = Redis::new(none).cmd(&[b"GET", b"k"]).unwrap_err();
    assert!(
        matches!(&err, RedisError::Auth(m) if m.starts_with("NOAUTH")),
        "{err}"
    );
}

#[test]
fn speaks_tls_to_a_private_ca() {
    let dir = TempDir::new();
    let (server, ca) = match RedisServer::try_start_tls(&dir.path) {
        Ok(started) => started,
        Err(e) => {
            eprintln!("SKIPPED: this redis-server cannot serve TLS: {e}");
            return;
        }
    };
    let mut target = RedisTarget::parse_url(&server.url()).unwrap();
    assert!(target.tls);
    target.ca_file = Some(ca);
    let mut r = Redis::new(target.clone());
    assert_eq!(r.cmd(&[b"SET", b"k", b"over tls"]).unwrap(), simple("OK"));
    let id = r.cmd(&[b"CLIENT", b"ID"]).unwrap();
    let big = vec![b'z'; 1 << 20];
    r.cmd(&[b"SET", b"big", &big]).unwrap();
    assert_eq!(r.cmd(&[b"GET", b"big"]).unwrap(), Value::Bulk(big));
    // Idle TLS connections are reused, not mistaken for closed ones.
    assert_eq!(r.cmd(&[b"CLIENT", b"ID"]).unwrap(), id);

    let mut public_roots = target.clone();
    public_roots.ca_file = None;
    let err = Redis::new(public_roots).cmd(&[b"PING"]).unwrap_err();
    assert!(
        matches!(&err, RedisError::Tls(m) if m.contains("certificate")),
        "{err}"
    );

    let mut plain = target;
    plain.tls = false;
    let err = Redis::new(plain).cmd(&[b"PING"]).unwrap_err();
    assert!(err.is_unavailable(), "{err}");
}

#[test]
fn a_killed_server_fails_fast_and_a_restarted_one_is_reconnected() {
    let mut server = RedisServer::start();
    let mut r = client(&server);
    r.cmd(&[b"SET", b"k", b"v"]).unwrap();
    server.kill();
    for _ in 0..2 {
        let err = r.cmd(&[b"GET", b"k"]).unwrap_err();
        assert!(matches!(err, RedisError::Connect { .. }), "{err}");
        assert!(err.is_unavailable());
        assert!(!r.is_connected());
    }
    server.restart();
    assert_eq!(r.cmd(&[b"PING"]).unwrap(), simple("PONG"));
    // A restart between two calls costs no error: the dropped connection
    // is noticed before a command goes down it.
    server.restart();
    assert_eq!(r.cmd(&[b"PING"]).unwrap(), simple("PONG"));

    // Scripts are gone with the restart: the tier sends them again.
    let mut t = tier(&server);
    let per_ms = 1.0 / 60_000.0;
    assert_eq!(t.lease_rate("r", 10, per_ms, 4).unwrap().granted, 4);
    server.restart();
    assert_eq!(
        t.lease_rate("r", 10, per_ms, 4).unwrap().granted,
        4,
        "a new Redis is empty"
    );
}

#[test]
fn a_hung_server_times_out_and_is_reconnected_after() {
    let server = RedisServer::start();
    let mut target = RedisTarget::parse_url(&server.url()).unwrap();
    target.timeout = Duration::from_millis(200);
    let mut r = Redis::new(target);
    r.cmd(&[b"PING"]).unwrap();
    server.pause();
    let err = r.cmd(&[b"PING"]).unwrap_err();
    server.resume();
    assert!(matches!(err, RedisError::Timeout(200)), "{err}");
    assert!(err.is_unavailable());
    assert_eq!(r.cmd(&[b"PING"]).unwrap(), simple("PONG"));
}

#[test]
fn rate_leases_account_exactly_across_instances() {
    let server = RedisServer::start();
    let (mut a, mut b) = (tier(&server), tier(&server));
    // 100 a day: no whole token refills while the test runs.
    let per_ms = 100.0 / 86_400_000.0;
    let mut grants = Vec::new();
    for turn in 0..40 {
        let t = if turn % 2 == 0 { &mut a } else { &mut b };
        let lease = t.lease_rate("key:k1:rpm", 100, per_ms, 7).unwrap();
        if lease.granted == 0 {
            assert_eq!(lease.remaining, 0);
            assert!(lease.reset_ms > 0);
            break;
        }
        grants.push(lease.granted);
    }
    let mut want = vec![7; 14];
    want.push(2);
    assert_eq!(
        grants, want,
        "two instances together take exactly the capacity"
    );

    let back = a.give_back_rate("key:k1:rpm", 100, per_ms, 30).unwrap();
    assert_eq!((back.granted, back.remaining), (0, 30));
    assert_eq!(
        b.lease_rate("key:k1:rpm", 100, per_ms, 50).unwrap().granted,
        30
    );
    let debt = a.charge_rate("key:k1:rpm", 100, per_ms, 50).unwrap();
    assert_eq!(debt.remaining, -50, "usage above the lease is debt");
    assert_eq!(
        b.lease_rate("key:k1:rpm", 100, per_ms, 1).unwrap().granted,
        0
    );
    // Giving back never fills past capacity.
    let full = a.give_back_rate("key:k1:rpm", 100, per_ms, 1000).unwrap();
    assert_eq!(full.remaining, 100);

    let fresh = a.lease_rate("key:k2:rpm", 100, per_ms, 1000).unwrap();
    assert_eq!(
        (fresh.granted, fresh.remaining),
        (100, 0),
        "a new bucket starts full"
    );
    let ttl = a.redis().cmd(&[b"PTTL", b"tg:rate:key:k2:rpm"]).unwrap();
    assert!(ttl.as_int().unwrap() > 60_000, "kept until full: {ttl:?}");
    let err = a.lease_rate("x", 1, f64::NAN, 1).unwrap_err();
    assert!(matches!(err, RedisError::Invalid(_)));
    assert!(matches!(
        a.charge_rate("x", 1, per_ms, -1),
        Err(RedisError::Invalid(_))
    ));
}

#[test]
fn budgets_lease_give_back_and_charge() {
    let server = RedisServer::start();
    let (mut a, mut b) = (tier(&server), tier(&server));
    let (id, day, ttl) = ("key:a", "2026-12-02", 3600);
    let first = a.lease_budget(id, day, 1000, 600, ttl).unwrap();
    assert_eq!((first.granted, first.remaining), (600, 400));
    assert!(
        first.reset_ms > 0 && first.reset_ms <= 3_600_000,
        "{first:?}"
    );
    assert_eq!(
        b.lease_budget(id, day, 1000, 600, ttl).unwrap().granted,
        400
    );
    assert_eq!(a.lease_budget(id, day, 1000, 1, ttl).unwrap().granted, 0);
    assert_eq!(
        b.give_back_budget(id, day, 1000, 100).unwrap().remaining,
        100
    );
    assert_eq!(
        a.lease_budget(id, day, 1000, 150, ttl).unwrap().granted,
        100
    );
    let over = b.charge_budget(id, day, 1000, 250, ttl).unwrap();
    assert_eq!((over.granted, over.remaining), (0, -250));
    assert_eq!(a.lease_budget(id, day, 1000, 1, ttl).unwrap().granted, 0);

    // Periods are separate counters.
    let next = a.lease_budget(id, "2026-12-03", 1000, 10, ttl).unwrap();
    assert_eq!((next.granted, next.remaining), (10, 990));
    // A give-back never drives a counter below zero.
    assert_eq!(
        a.give_back_budget(id, "2026-12-03", 1000, 500)
            .unwrap()
            .remaining,
        1000
    );
    assert_eq!(
        a.give_back_budget(id, "2026-12-04", 1000, 5)
            .unwrap()
            .remaining,
        1000
    );
    let exists = a
        .redis()
        .cmd(&[b"EXISTS", b"tg:budget:2026-12-04:key:a"])
        .unwrap();
    assert_eq!(exists, Value::Int(0), "a give-back creates nothing");
    // A total budget never expires.
    let total = a.lease_budget(id, "total", 50, 20, 0).unwrap();
    assert_eq!((total.granted, total.reset_ms), (20, 0));
    // Limits beyond what Lua counts exactly are as good as unlimited.
    let huge = a
        .lease_budget("big", "total", i64::MAX, 1_000_000, 0)
        .unwrap();
    assert_eq!(huge.granted, 1_000_000);
}

fn row(
    day: &str,
    key: Option<&str>,
    team: Option<&str>,
    user: Option<&str>,
    model: &str,
    n: i64,
) -> LedgerRow {
    LedgerRow {
        ts_ms: parse_day(day).unwrap() as u64 * 86_400_000 + 3_600_000,
        request_id: format!("req-{day}-{n}"),
        key_id: key.map(Into::into),
        team: team.map(Into::into),
        end_user: user.map(str::to_string),
        model: model.into(),
        served_by: Some(format!("prov/{model}").into()),
        prompt_tokens: 10 * n as u64,
        completion_tokens: n as u64,
        provider_nanos: 100 * n,
        charge_nanos: 150 * n,
        gateway_nanos: n,
        priced: true,
        ..LedgerRow::default()
    }
}

fn spend_row(id: &str, day: &str, requests: u64, n: i64) -> SpendRow {
    SpendRow {
        id: id.to_string(),
        day: day.to_string(),
        requests,
        prompt_tokens: 10 * n as u64,
        completion_tokens: n as u64,
        provider_nanos: 100 * n,
        charge_nanos: 150 * n,
        gateway_nanos: n,
    }
}

#[test]
fn spend_batches_apply_once_and_roll_up() {
    let server = RedisServer::start();
    let mut t = tier(&server);
    let (nov30, dec1) = (
        parse_day("2026-11-30").unwrap(),
        parse_day("2026-12-01").unwrap(),
    );
    let rows = [
        row("2026-11-30", Some("a"), Some("t"), Some("u1"), "m1", 1),
        row("2026-11-30", Some("b"), None, None, "m1", 2),
        row("2026-12-01", Some("a"), Some("t"), None, "m2", 3),
        row("2026-12-01", Some("a"), Some("t"), Some("u1"), "m1", 4),
    ];
    assert!(t.apply_spend("inst-1", 1, &rows[..2]).unwrap());
    assert!(t.apply_spend("inst-1", 2, &rows[2..]).unwrap());
    // The reply to batch 1 was "lost": sent again, it changes nothing.
    assert!(!t.apply_spend("inst-1", 1, &rows[..2]).unwrap());
    // Batch numbers are per instance.
    let other = [row("2026-12-01", None, None, None, "m2", 5)];
    assert!(t.apply_spend("inst-2", 1, &other).unwrap());
    assert!(t.apply_spend("inst-2", 2, &[]).unwrap());

    let key_a = t.spend(Dimension::Key, Some("a"), nov30, dec1).unwrap();
    assert_eq!(
        key_a,
        [
            spend_row("a", "2026-11-30", 1, 1),
            spend_row("a", "2026-12-01", 2, 7)
        ]
    );
    let keys = t.spend(Dimension::Key, None, nov30, dec1).unwrap();
    let ids: Vec<_> = keys
        .iter()
        .map(|r| (r.id.as_str(), r.day.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("a", "2026-11-30"),
            ("a", "2026-12-01"),
            ("b", "2026-11-30")
        ]
    );
    assert_eq!(keys[2], spend_row("b", "2026-11-30", 1, 2));
    assert_eq!(
        t.spend(Dimension::Team, None, nov30, dec1).unwrap(),
        [
            spend_row("t", "2026-11-30", 1, 1),
            spend_row("t", "2026-12-01", 2, 7)
        ]
    );
    assert_eq!(
        t.spend(Dimension::EndUser, None, nov30, dec1).unwrap(),
        [
            spend_row("u1", "2026-11-30", 1, 1),
            spend_row("u1", "2026-12-01", 1, 4)
        ]
    );
    assert_eq!(
        t.spend(Dimension::Model, None, dec1, dec1).unwrap(),
        [
            spend_row("m1", "2026-12-01", 1, 4),
            spend_row("m2", "2026-12-01", 2, 8)
        ]
    );
    assert_eq!(
        t.spend(Dimension::Day, None, nov30, dec1).unwrap(),
        [
            spend_row("2026-11-30", "2026-11-30", 2, 3),
            spend_row("2026-12-01", "2026-12-01", 3, 12)
        ]
    );
    assert!(
        t.spend(Dimension::Key, Some("zzz"), nov30, dec1)
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        t.spend(Dimension::Key, None, 0, 20_000),
        Err(RedisError::Invalid(_))
    ));

    assert_eq!(
        t.charged(Dimension::Key, "a", Period::Day, dec1).unwrap(),
        150 * 7
    );
    assert_eq!(
        t.charged(Dimension::Key, "a", Period::Month, dec1).unwrap(),
        150 * 7
    );
    assert_eq!(
        t.charged(Dimension::Key, "a", Period::Month, nov30)
            .unwrap(),
        150
    );
    assert_eq!(
        t.charged(Dimension::Key, "a", Period::Total, dec1).unwrap(),
        150 * 8
    );
    assert_eq!(
        t.charged(Dimension::Model, "m2", Period::Total, dec1)
            .unwrap(),
        150 * 8
    );
    assert_eq!(
        t.charged(Dimension::Team, "nobody", Period::Total, dec1)
            .unwrap(),
        0
    );

    // Each applied batch once on the ledger stream, its rows packed as the
    // embedded store keeps them, reading back whole.
    assert_eq!(
        t.redis().cmd(&[b"XLEN", b"tg:ledger"]).unwrap(),
        Value::Int(3)
    );
    let fields = &ledger_entries(
        &mut t,
        &[b"XRANGE", b"tg:ledger", b"-", b"+", b"COUNT", b"1"],
    )[0];
    let bulk = |s: &str| Value::Bulk(s.as_bytes().to_vec());
    assert_eq!(
        fields[..9],
        [
            bulk("instance"),
            bulk("inst-1"),
            bulk("format"),
            bulk("tollgate-ledger-3"),
            bulk("first_seq"),
            bulk("1"),
            bulk("count"),
            bulk("2"),
            bulk("rows"),
        ]
    );
    let packed = fields[9].as_bytes().unwrap();
    let back = tollgate::store::sqlite::decode_ledger(packed, 2).unwrap();
    assert_eq!(back, rows[..2]);

    // Batches merged into one round trip keep a stream entry each.
    let mut merged = SpendBatch::new(10, &rows[..1], rollups(&rows[..1]));
    merged
        .absorb(SpendBatch::new(11, &rows[1..3], rollups(&rows[1..3])))
        .unwrap();
    assert!(
        merged
            .clone()
            .absorb(SpendBatch::new(20, &rows[3..], rollups(&rows[3..])))
            .is_err(),
        "a batch that does not follow is not merged"
    );
    assert!(t.apply_batch("inst-3", &merged).unwrap());
    assert!(!t.apply_batch("inst-3", &merged).unwrap(), "applied once");
    assert_eq!(
        t.redis().cmd(&[b"XLEN", b"tg:ledger"]).unwrap(),
        Value::Int(5)
    );
    let fields = &ledger_entries(
        &mut t,
        &[b"XREVRANGE", b"tg:ledger", b"+", b"-", b"COUNT", b"1"],
    )[0];
    assert_eq!(fields[5], bulk("11"));
    assert_eq!(fields[7], bulk("2"));
    let back = tollgate::store::sqlite::decode_ledger(fields[9].as_bytes().unwrap(), 2).unwrap();
    assert_eq!(back, rows[1..3]);
    assert_eq!(
        t.charged(Dimension::Key, "a", Period::Total, dec1).unwrap(),
        150 * 8 + 150 * (1 + 3),
        "the merged batch's rollups, once"
    );
}

/// The fields of each ledger stream entry a range command (`args`) reads.
fn ledger_entries(t: &mut Tier, args: &[&[u8]]) -> Vec<Vec<Value>> {
    let reply = t.redis().cmd(args).unwrap();
    let Value::Array(entries) = reply else {
        panic!("{reply:?}")
    };
    entries
        .into_iter()
        .map(|e| match e {
            Value::Array(mut entry) if entry.len() == 2 => match entry.pop() {
                Some(Value::Array(fields)) => fields,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        })
        .collect()
}

/// The rows on the ledger stream, summed from its entries' `count` fields,
/// and each entry's `first_seq`, oldest first.
fn stream_rows(t: &mut Tier) -> (u64, Vec<String>) {
    let mut rows = 0;
    let mut firsts = Vec::new();
    for fields in ledger_entries(t, &[b"XRANGE", b"tg:ledger", b"-", b"+"]) {
        let text = |v: &Value| String::from_utf8(v.as_bytes().unwrap().to_vec()).unwrap();
        firsts.push(text(&fields[5]));
        rows += text(&fields[7]).parse::<u64>().unwrap();
    }
    (rows, firsts)
}

#[test]
fn the_ledger_stream_keeps_a_budget_of_rows_not_of_entries() {
    let server = RedisServer::start();
    let mut t = tier(&server).with_ledger_rows(5);
    let rows: Vec<LedgerRow> = (1..=8)
        .map(|n| row("2026-12-01", Some("a"), None, None, "m", n))
        .collect();
    // Batches of 2, 2, 1 rows: all five fit.
    assert!(t.apply_spend("inst-1", 1, &rows[..2]).unwrap());
    assert!(t.apply_spend("inst-1", 3, &rows[2..4]).unwrap());
    assert!(t.apply_spend("inst-1", 5, &rows[4..5]).unwrap());
    assert_eq!(
        stream_rows(&mut t),
        (5, vec!["1".into(), "3".into(), "5".into()])
    );
    // Three more rows: the oldest batches go until the rest fit.
    assert!(t.apply_spend("inst-1", 6, &rows[5..8]).unwrap());
    assert_eq!(stream_rows(&mut t), (4, vec!["5".into(), "6".into()]));
    // A batch larger than the whole budget is kept, alone.
    let big: Vec<LedgerRow> = (9..=15)
        .map(|n| row("2026-12-01", Some("a"), None, None, "m", n))
        .collect();
    assert!(t.apply_spend("inst-1", 9, &big).unwrap());
    assert_eq!(stream_rows(&mut t), (7, vec!["9".into()]));
    // The next batch makes room by dropping it.
    assert!(t.apply_spend("inst-1", 16, &rows[..1]).unwrap());
    assert_eq!(stream_rows(&mut t), (1, vec!["16".into()]));
    // The rollups count every row, trimmed or not.
    assert_eq!(
        t.charged(
            Dimension::Key,
            "a",
            Period::Total,
            parse_day("2026-12-01").unwrap()
        )
        .unwrap(),
        150 * ((1..=8).sum::<i64>() + (9..=15).sum::<i64>() + 1)
    );
}

fn key_record(id: &str) -> KeyRecord {
    KeyRecord {
        id: id.to_string(),
        hash: "ab".repeat(32),
        prefix: "tg-AbC1".to_string(),
        name: Some("ci".to_string()),
        team: Some("t".to_string()),
        models: vec!["fast".to_string()],
        limits: RateLimits {
            rpm: Some(60),
            tpm: None,
        },
        budgets: Budgets {
            daily_usd: Some(1.5),
            ..Budgets::default()
        },
        priority: Priority::Critical,
        allow_priority_header: true,
        region: None,
        tags: vec!["x".to_string()],
        allow_timeout_header: false,
        expires_at: Some(2_000_000_000),
        tool_policy: None,
        created_at: 1_700_000_000,
        revoked_at: None,
        created_by: "root".to_string(),
        source: KeySource::Admin,
    }
}

#[test]
fn records_are_shared_and_versioned() {
    let server = RedisServer::start();
    let (mut a, mut b) = (tier(&server), tier(&server));
    assert_eq!(a.records_version().unwrap(), 0);
    assert_eq!(a.put_key(&key_record("k1")).unwrap(), 1);
    assert_eq!(b.key("k1").unwrap(), Some(key_record("k1")));
    assert_eq!(b.put_key(&key_record("k0")).unwrap(), 2);
    let ids: Vec<_> = a.keys().unwrap().into_iter().map(|k| k.id).collect();
    assert_eq!(ids, ["k0", "k1"]);

    assert!(b.revoke_key("k1", 1234).unwrap());
    assert_eq!(a.key("k1").unwrap().unwrap().revoked_at, Some(1234));
    assert_eq!(a.records_version().unwrap(), 3);
    assert!(a.revoke_key("k1", 9999).unwrap(), "revoked already");
    assert_eq!(
        b.key("k1").unwrap().unwrap().revoked_at,
        Some(1234),
        "keeps its first time"
    );
    assert_eq!(b.records_version().unwrap(), 3, "nothing changed");
    assert!(!a.revoke_key("nobody", 1).unwrap());
    assert!(a.delete_key("k0").unwrap());
    assert!(!a.delete_key("k0").unwrap());
    assert_eq!(b.records_version().unwrap(), 4);

    let team = TeamRecord {
        id: "t".into(),
        models: vec!["fast".into()],
        ..TeamRecord::default()
    };
    assert_eq!(a.put_team(&team).unwrap(), 5);
    assert_eq!(b.team("t").unwrap(), Some(team.clone()));
    assert_eq!(b.teams().unwrap(), [team]);
    assert!(b.delete_team("t").unwrap());
    assert_eq!(a.team("t").unwrap(), None);
    let user = EndUserRecord {
        id: "u1".into(),
        budgets: Budgets {
            total_usd: Some(2.0),
            ..Budgets::default()
        },
    };
    assert_eq!(a.put_end_user(&user).unwrap(), 7);
    assert_eq!(b.end_user("u1").unwrap(), Some(user.clone()));
    assert_eq!(b.end_users().unwrap(), [user]);
    assert!(a.delete_end_user("u1").unwrap());
    assert_eq!(b.records_version().unwrap(), 8);

    // A record someone broke by hand is an error naming it, not a panic.
    a.redis()
        .cmd(&[b"HSET", b"tg:keys", b"bad", b"{not json"])
        .unwrap();
    let err = a.keys().unwrap_err();
    assert!(
        matches!(&err, RedisError::Unexpected(m) if m.contains("`bad`")),
        "{err}"
    );
}

#[test]
fn heartbeats_count_live_instances() {
    let server = RedisServer::start();
    let (mut a, mut b) = (tier(&server), tier(&server));
    assert_eq!(a.heartbeat("inst-a", 60_000).unwrap(), 1);
    assert_eq!(b.heartbeat("inst-b", 60_000).unwrap(), 2);
    assert_eq!(
        a.heartbeat("inst-a", 60_000).unwrap(),
        2,
        "a beat renews, never duplicates"
    );
    // An instance whose time runs out at once is gone by the next beat.
    assert_eq!(b.heartbeat("inst-c", 0).unwrap(), 3);
    assert_eq!(a.heartbeat("inst-a", 60_000).unwrap(), 2);
}

/// Round trips `op` costs when run a second time (connected, script cached).
fn cost(name: &str, t: &mut Tier, op: &mut dyn FnMut(&mut Tier)) -> (String, u64) {
    op(t);
    let before = t.round_trips();
    op(t);
    (name.to_string(), t.round_trips() - before)
}

/// What each operation costs in round trips once connected and with its
/// script cached: the figures the gateway's per-request cost is built from.
#[test]
fn round_trips_per_operation() {
    let server = RedisServer::start();
    let mut t = tier(&server);
    let day = parse_day("2026-12-02").unwrap();
    let rows = [row("2026-12-02", Some("a"), Some("t"), Some("u"), "m", 1)];
    let mut seq = 0;
    let figures = [
        cost("lease_rate", &mut t, &mut |t| {
            t.lease_rate("r", 10, 0.001, 1).unwrap();
        }),
        cost("lease_budget", &mut t, &mut |t| {
            t.lease_budget("b", "total", 10, 1, 0).unwrap();
        }),
        cost("apply_spend", &mut t, &mut |t| {
            seq += 1;
            t.apply_spend("i", seq, &rows).unwrap();
        }),
        cost("spend(one id)", &mut t, &mut |t| {
            t.spend(Dimension::Key, Some("a"), day - 30, day).unwrap();
        }),
        cost("spend(every id)", &mut t, &mut |t| {
            t.spend(Dimension::Key, None, day - 30, day).unwrap();
        }),
        cost("charged(month)", &mut t, &mut |t| {
            t.charged(Dimension::Key, "a", Period::Month, day).unwrap();
        }),
        cost("put_key", &mut t, &mut |t| {
            t.put_key(&key_record("k")).unwrap();
        }),
        cost("records_version", &mut t, &mut |t| {
            t.records_version().unwrap();
        }),
        cost("heartbeat", &mut t, &mut |t| {
            t.heartbeat("i", 1000).unwrap();
        }),
    ];
    let want = [1, 1, 1, 1, 2, 1, 1, 1, 1];
    for ((name, got), want) in figures.iter().zip(want) {
        eprintln!("{name}: {got} round trip(s)");
        assert_eq!(*got, want, "{name}");
    }
}
