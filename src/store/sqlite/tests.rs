use super::*;
use crate::governance::types::{
    Budgets, Dimension, KeySource, LedgerRow, Period, Priority, RateLimits, SpendRow, parse_day,
};
use crate::store::temp_db::TempDb;

const DAY_MS: u64 = 86_400_000;

fn key(id: &str, hash: &str) -> KeyRecord {
    KeyRecord {
        id: id.to_owned(),
        hash: hash.to_owned(),
        prefix: "tg-AbC1".to_owned(),
        name: Some(format!("{id} name")),
        team: Some("research".to_owned()),
        models: vec!["gpt-4o".to_owned(), "claude-sonnet".to_owned()],
        limits: RateLimits {
            rpm: Some(60),
            tpm: None,
        },
        budgets: Budgets {
            daily_usd: Some(12.34),
            monthly_usd: None,
            total_usd: Some(1e3),
        },
        priority: Priority::Critical,
        allow_priority_header: true,
        region: Some("eu".to_owned()),
        tags: vec!["a".to_owned()],
        allow_timeout_header: true,
        expires_at: Some(1_900_000_000),
        tool_policy: Some("fs".to_owned()),
        created_at: 1_800_000_000,
        revoked_at: None,
        created_by: "ops".to_owned(),
        source: KeySource::Admin,
    }
}

fn day(s: &str) -> i64 {
    parse_day(s).expect("a valid test date")
}

/// A row on `day` (ms into it: `at`), charging `charge` nanos.
fn row(day: i64, at: u64, key: Option<&str>, team: Option<&str>, user: Option<&str>) -> LedgerRow {
    LedgerRow {
        ts_ms: day as u64 * DAY_MS + at,
        request_id: format!("req-{day}-{at}"),
        key_id: key.map(Into::into),
        team: team.map(Into::into),
        end_user: user.map(str::to_owned),
        model: "gpt-4o".into(),
        served_by: Some("openai/gpt-4o-2024-08-06".into()),
        prompt_tokens: 100,
        cached_tokens: 20,
        cache_write_tokens: 5,
        completion_tokens: 10,
        reasoning_tokens: 3,
        provider_nanos: 1_000,
        charge_nanos: 1_500,
        gateway_nanos: 7,
        priced: true,
    }
}

fn spend(id: &str, day: &str, requests: u64) -> SpendRow {
    SpendRow {
        id: id.to_owned(),
        day: day.to_owned(),
        requests,
        prompt_tokens: 100 * requests,
        completion_tokens: 10 * requests,
        provider_nanos: 1_000 * requests as i64,
        charge_nanos: 1_500 * requests as i64,
        gateway_nanos: 7 * requests as i64,
    }
}

#[test]
fn keys_round_trip_and_survive_reopening() {
    let db = TempDb::new("keys");
    let (a, b) = (key("k-a", "aa11"), key("k-b", "bb22"));
    {
        let store = Store::open(db.path()).unwrap();
        store.put_key(&b).unwrap();
        store.put_key(&a).unwrap();
        assert_eq!(store.key("k-a").unwrap(), Some(a.clone()));
        assert_eq!(store.key("nope").unwrap(), None);
    }
    let store = Store::open(db.path()).unwrap();
    assert_eq!(store.keys().unwrap(), vec![a.clone(), b], "ordered by id");

    let rotated = KeyRecord {
        hash: "aa99".to_owned(),
        prefix: "tg-ZzZ9".to_owned(),
        ..a
    };
    store.put_key(&rotated).unwrap();
    assert_eq!(store.key("k-a").unwrap(), Some(rotated));
    assert_eq!(store.keys().unwrap().len(), 2, "a rotation replaces by id");
}

#[test]
fn a_hash_held_by_another_key_is_refused_without_naming_it() {
    let store = Store::open_in_memory().unwrap();
    store.put_key(&key("k-a", "5ec2e7")).unwrap();
    let err = store.put_key(&key("k-b", "5ec2e7")).unwrap_err();
    assert!(matches!(&err, StoreError::DuplicateKeyHash { id } if id == "k-b"));
    assert!(!err.to_string().contains("5ec2e7"), "{err}");
    assert_eq!(store.key("k-b").unwrap(), None);
    assert_eq!(store.key("k-a").unwrap().unwrap().hash, "5ec2e7");
}

#[test]
fn revoking_keeps_the_key_listed_with_its_first_revocation_time() {
    let store = Store::open_in_memory().unwrap();
    store.put_key(&key("k-a", "aa")).unwrap();
    assert!(store.revoke_key("k-a", 1_850_000_000).unwrap());
    assert!(store.revoke_key("k-a", 1_860_000_000).unwrap());
    assert_eq!(
        store.key("k-a").unwrap().unwrap().revoked_at,
        Some(1_850_000_000)
    );
    assert_eq!(store.keys().unwrap().len(), 1);
    assert!(!store.revoke_key("nope", 1).unwrap());

    assert!(store.delete_key("k-a").unwrap());
    assert!(!store.delete_key("k-a").unwrap());
    assert_eq!(store.keys().unwrap(), vec![]);
}

#[test]
fn teams_and_end_users_round_trip() {
    let db = TempDb::new("teams");
    let team = TeamRecord {
        id: "research".to_owned(),
        tool_policy: None,
        limits: RateLimits {
            rpm: None,
            tpm: Some(100_000),
        },
        budgets: Budgets {
            monthly_usd: Some(250.5),
            ..Budgets::default()
        },
        models: vec!["gpt-4o".to_owned()],
    };
    let user = EndUserRecord {
        id: "user-7".to_owned(),
        budgets: Budgets {
            daily_usd: Some(0.25),
            ..Budgets::default()
        },
    };
    {
        let store = Store::open(db.path()).unwrap();
        store.put_team(&team).unwrap();
        store
            .put_team(&TeamRecord {
                id: "ads".to_owned(),
                ..TeamRecord::default()
            })
            .unwrap();
        store.put_end_user(&user).unwrap();
    }
    let store = Store::open(db.path()).unwrap();
    assert_eq!(store.team("research").unwrap(), Some(team.clone()));
    let ids: Vec<String> = store.teams().unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(ids, ["ads", "research"]);
    assert_eq!(store.end_users().unwrap(), vec![user.clone()]);
    assert_eq!(store.end_user("user-7").unwrap(), Some(user));

    let poorer = TeamRecord {
        budgets: Budgets::default(),
        ..team
    };
    store.put_team(&poorer).unwrap();
    assert_eq!(store.team("research").unwrap(), Some(poorer));

    assert!(store.delete_team("ads").unwrap());
    assert!(!store.delete_team("ads").unwrap());
    assert!(store.delete_end_user("user-7").unwrap());
    assert_eq!(store.end_users().unwrap(), vec![]);
    assert_eq!(store.teams().unwrap().len(), 1);
}

#[test]
fn a_batch_is_rolled_up_per_dimension_and_day() {
    let mut store = Store::open_in_memory().unwrap();
    let (d1, d2) = (day("2026-01-31"), day("2026-02-01"));
    let rows = [
        row(d1, 1, Some("k-a"), Some("t-1"), Some("u-1")),
        row(d1, 2, Some("k-a"), Some("t-1"), None),
        row(d1, 3, Some("k-b"), None, None),
        row(d1, 4, None, None, None),
        row(d2, 5, Some("k-a"), Some("t-1"), Some("u-1")),
        row(d2, 6, None, None, Some("u-2")),
    ];
    let seqs = store.append_ledger(&rows[..3]).unwrap();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(store.append_ledger(&rows[3..]).unwrap(), [4, 5, 6]);

    let all = |dim| store.spend(dim, None, d1, d2).unwrap();
    assert_eq!(
        all(Dimension::Key),
        [
            spend("k-a", "2026-01-31", 2),
            spend("k-a", "2026-02-01", 1),
            spend("k-b", "2026-01-31", 1),
        ],
        "rows with no key are left out of the key rollup"
    );
    assert_eq!(
        all(Dimension::Team),
        [spend("t-1", "2026-01-31", 2), spend("t-1", "2026-02-01", 1)]
    );
    assert_eq!(
        all(Dimension::EndUser),
        [
            spend("u-1", "2026-01-31", 1),
            spend("u-1", "2026-02-01", 1),
            spend("u-2", "2026-02-01", 1),
        ]
    );
    assert_eq!(
        all(Dimension::Model),
        [
            spend("gpt-4o", "2026-01-31", 4),
            spend("gpt-4o", "2026-02-01", 2)
        ],
        "every row has a model"
    );
    assert_eq!(
        all(Dimension::Day),
        [
            spend("2026-01-31", "2026-01-31", 4),
            spend("2026-02-01", "2026-02-01", 2)
        ]
    );

    assert_eq!(
        store.spend(Dimension::Key, Some("k-a"), d2, d2).unwrap(),
        [spend("k-a", "2026-02-01", 1)],
        "one id, one day: both bounds inclusive"
    );
    assert_eq!(
        store.spend(Dimension::Key, Some("k-c"), d1, d2).unwrap(),
        []
    );
    assert_eq!(
        store.spend(Dimension::Key, None, d2 + 1, d2 + 9).unwrap(),
        []
    );
}

#[test]
fn charged_sums_the_period_around_a_day() {
    let mut store = Store::open_in_memory().unwrap();
    let (dec, jan, feb1, feb2) = (
        day("2025-12-31"),
        day("2026-01-31"),
        day("2026-02-01"),
        day("2026-02-02"),
    );
    let k = Some("k-a");
    store
        .append_ledger(&[
            row(dec, 0, k, None, None),
            row(jan, 0, k, None, None),
            row(jan, 1, k, None, None),
            row(feb1, 0, k, None, None),
            row(feb2, 0, k, None, None),
            row(feb2, 1, Some("k-b"), None, None),
        ])
        .unwrap();
    let charged = |period, day| store.charged(Dimension::Key, "k-a", period, day).unwrap();
    assert_eq!(charged(Period::Day, jan), 3_000);
    assert_eq!(charged(Period::Day, feb1), 1_500);
    assert_eq!(charged(Period::Day, feb1 + 5), 0);
    assert_eq!(charged(Period::Month, jan), 3_000, "January only");
    assert_eq!(charged(Period::Month, day("2026-01-01")), 3_000);
    assert_eq!(charged(Period::Month, feb1), 3_000, "February's two days");
    assert_eq!(charged(Period::Month, day("2026-02-28")), 3_000);
    assert_eq!(charged(Period::Month, dec), 1_500);
    assert_eq!(charged(Period::Total, feb1), 7_500, "every day, k-a only");
    assert_eq!(
        store
            .charged(Dimension::Key, "k-z", Period::Total, feb1)
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .charged(Dimension::Day, "2026-02-02", Period::Day, feb2)
            .unwrap(),
        3_000
    );
}

#[test]
fn the_ledger_reads_back_after_a_sequence_number_and_survives_reopening() {
    let db = TempDb::new("ledger");
    let mut unpriced = row(day("2026-03-01"), 9, None, None, None);
    unpriced.served_by = None;
    unpriced.priced = false;
    unpriced.prompt_tokens = u64::MAX;
    let rows = vec![
        row(day("2026-03-01"), 1, Some("k"), Some("t"), Some("u")),
        unpriced,
    ];
    {
        let mut store = Store::open(db.path()).unwrap();
        assert_eq!(store.ledger(0, 10).unwrap(), []);
        store.append_ledger(&rows).unwrap();
    }
    let mut store = Store::open(db.path()).unwrap();
    let read = store.ledger(0, 10).unwrap();
    assert_eq!(read[0], (1, rows[0].clone()));
    assert_eq!(read[1].0, 2);
    assert_eq!(
        read[1].1.prompt_tokens,
        u64::MAX,
        "a row keeps its counts whole (only the rollups saturate)"
    );
    assert_eq!(read[1].1.served_by, None);
    assert!(!read[1].1.priced);

    assert_eq!(
        store.append_ledger(&rows).unwrap(),
        [3, 4],
        "numbers keep growing"
    );
    let after: Vec<i64> = store
        .ledger(1, 2)
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(after, [2, 3], "after 1, at most 2");
    assert_eq!(store.ledger(4, 10).unwrap(), []);
    assert!(store.append_ledger(&[]).unwrap().is_empty());
}

#[test]
fn a_batch_is_one_transaction_with_its_rollups() {
    let mut store = Store::open_in_memory().unwrap();
    // Fails the rollup of one key, after the batch's ledger rows are in.
    store
        .conn
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON spend WHEN NEW.id = 'k-poison'
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
        )
        .unwrap();
    let d = day("2026-04-01");
    store
        .append_ledger(&[row(d, 0, Some("k"), None, None)])
        .unwrap();

    let mut batch: Vec<LedgerRow> = (1..=500)
        .map(|i| row(d, i, Some("k"), None, None))
        .collect();
    batch.push(row(d, 600, Some("k-poison"), None, None));
    assert!(store.append_ledger(&batch).is_err());
    assert_eq!(
        store.ledger(0, 1_000).unwrap().len(),
        1,
        "no row of the batch kept"
    );
    assert_eq!(
        store.spend(Dimension::Key, Some("k"), d, d).unwrap(),
        [spend("k", "2026-04-01", 1)],
        "no rollup of the batch kept"
    );

    batch.pop();
    assert_eq!(
        store.append_ledger(&batch).unwrap(),
        (2..=501).collect::<Vec<i64>>()
    );
}

#[test]
fn absurd_usage_saturates_instead_of_stalling_the_ledger() {
    let mut store = Store::open_in_memory().unwrap();
    let d = day("2026-04-02");
    let mut huge = row(d, 0, Some("k"), None, None);
    huge.prompt_tokens = u64::MAX;
    huge.charge_nanos = i64::MAX;
    huge.gateway_nanos = i64::MIN;
    store.append_ledger(&[huge.clone(), huge.clone()]).unwrap();
    store.append_ledger(&[huge]).unwrap();
    store
        .append_ledger(&[row(d + 1, 0, Some("k"), None, None)])
        .unwrap();

    let rollup = &store.spend(Dimension::Key, Some("k"), d, d).unwrap()[0];
    assert_eq!(rollup.requests, 3);
    assert_eq!(rollup.prompt_tokens, i64::MAX as u64);
    assert_eq!(rollup.charge_nanos, i64::MAX);
    assert_eq!(rollup.gateway_nanos, i64::MIN);
    assert_eq!(
        store
            .charged(Dimension::Key, "k", Period::Total, d)
            .unwrap(),
        i64::MAX
    );
}

#[test]
fn ten_thousand_rows_commit_in_one_batch() {
    let db = TempDb::new("big");
    let mut store = Store::open(db.path()).unwrap();
    let d = day("2026-05-01");
    let rows: Vec<LedgerRow> = (0..10_000)
        .map(|i| {
            let key = format!("k-{}", i % 50);
            let user = format!("u-{}", i % 1_000);
            row(d, i, Some(&key), Some("t"), Some(&user))
        })
        .collect();
    let started = std::time::Instant::now();
    let seqs = store.append_ledger(&rows).unwrap();
    // Printed for the record (`--nocapture`), never asserted.
    println!("append_ledger: 10 000 rows in {:?}", started.elapsed());
    assert_eq!(seqs, (1..=10_000).collect::<Vec<i64>>());
    assert_eq!(store.spend(Dimension::Key, None, d, d).unwrap().len(), 50);
    assert_eq!(
        store.spend(Dimension::EndUser, None, d, d).unwrap().len(),
        1_000
    );
    assert_eq!(
        store.spend(Dimension::Team, Some("t"), d, d).unwrap(),
        [spend("t", "2026-05-01", 10_000)]
    );
}

#[test]
fn synced_sequences_are_kept_per_peer() {
    let db = TempDb::new("synced");
    {
        let store = Store::open(db.path()).unwrap();
        assert_eq!(store.synced_seq("redis-a").unwrap(), 0);
        store.set_synced_seq("redis-a", 42).unwrap();
        store.set_synced_seq("redis-b", 7).unwrap();
    }
    let store = Store::open(db.path()).unwrap();
    assert_eq!(store.synced_seq("redis-a").unwrap(), 42);
    assert_eq!(store.synced_seq("redis-b").unwrap(), 7);
    store.set_synced_seq("redis-a", 0).unwrap();
    assert_eq!(
        store.synced_seq("redis-a").unwrap(),
        0,
        "a reset is allowed"
    );
}

#[test]
fn the_audit_trail_reads_newest_first() {
    let store = Store::open_in_memory().unwrap();
    let entry = |n: u64, action: &str| AuditEntry {
        ts_ms: 1_000 * n,
        actor: "ops-token".to_owned(),
        action: action.to_owned(),
        target: format!("k-{n}"),
        detail: String::new(),
    };
    assert_eq!(store.audit_log(10).unwrap(), []);
    for (n, action) in [(1, "key.create"), (2, "key.rotate"), (2, "key.revoke")] {
        store.audit(&entry(n, action)).unwrap();
    }
    assert_eq!(
        store.audit_log(10).unwrap(),
        [
            entry(2, "key.revoke"),
            entry(2, "key.rotate"),
            entry(1, "key.create")
        ],
        "same timestamp: the later recorded comes first"
    );
    assert_eq!(store.audit_log(1).unwrap(), [entry(2, "key.revoke")]);
}

#[test]
fn opening_fails_clearly_without_the_folder_or_with_a_newer_schema() {
    let missing = std::env::temp_dir().join("tollgate-no-such-dir-9f3a/store.db");
    let err = Store::open(&missing).err().unwrap();
    assert!(matches!(err, StoreError::Open { .. }));
    assert!(
        err.to_string().contains("tollgate-no-such-dir-9f3a"),
        "{err}"
    );

    let db = TempDb::new("newer");
    {
        let conn = Connection::open(db.path()).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = Store::open(db.path()).err().unwrap();
    assert!(
        matches!(
            err,
            StoreError::Schema {
                found: 99,
                known: schema::VERSION
            }
        ),
        "{err}"
    );
}

#[test]
fn reopening_leaves_the_schema_as_it_is() {
    let db = TempDb::new("reopen");
    let version = |store: &Store| -> i64 {
        store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    };
    let first = Store::open(db.path()).unwrap();
    let second = Store::open(db.path()).unwrap();
    assert_eq!(version(&first), schema::VERSION);
    assert_eq!(version(&second), schema::VERSION);
    let journal: String = second
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
}
