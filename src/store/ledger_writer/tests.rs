use super::*;
use crate::store::temp_db::TempDb;

/// A writer that commits on size, flush and stop only: no timer fires in a test.
fn manual(max_batch: usize) -> LedgerWriterConfig {
    LedgerWriterConfig {
        capacity: 64,
        max_batch,
        interval: Duration::from_secs(3_600),
    }
}

fn row(n: u64) -> LedgerRow {
    LedgerRow {
        ts_ms: 1_780_000_000_000 + n,
        request_id: format!("req-{n}"),
        key_id: Some("k-a".into()),
        model: "gpt-4o".into(),
        prompt_tokens: n,
        charge_nanos: 10,
        priced: true,
        ..LedgerRow::default()
    }
}

/// The batches the commit hook saw, as their sequence numbers and request ids.
type Seen = Arc<Mutex<Vec<Vec<(i64, String)>>>>;

fn recording() -> (Seen, OnCommit) {
    let seen: Seen = Arc::default();
    let hook_seen = Arc::clone(&seen);
    let hook: OnCommit = Box::new(move |batch: &Committed<'_>| {
        assert_eq!(
            batch.rollups,
            rollups(batch.rows),
            "the hook gets the batch's own rollups"
        );
        let batch = (batch.first_seq..)
            .zip(batch.rows)
            .map(|(s, r)| (s, r.request_id.clone()))
            .collect();
        hook_seen.lock().unwrap().push(batch);
    });
    (seen, hook)
}

fn shared(store: Store) -> Arc<Mutex<Store>> {
    Arc::new(Mutex::new(store))
}

fn stored_ids(store: &Mutex<Store>) -> Vec<String> {
    let store = store.lock().unwrap();
    let rows = store.ledger(0, 100_000).unwrap();
    rows.into_iter().map(|(_, r)| r.request_id).collect()
}

fn ids(range: std::ops::Range<u64>) -> Vec<String> {
    range.map(|n| format!("req-{n}")).collect()
}

#[test]
fn rows_are_batched_by_size_and_a_flush_commits_the_rest() {
    let store = shared(Store::open_in_memory().unwrap());
    let (seen, hook) = recording();
    let writer = LedgerWriter::spawn(Arc::clone(&store), manual(4), hook).unwrap();
    let sender = writer.sender();
    for n in 0..10 {
        assert!(sender.send(row(n)));
    }
    sender.flush().unwrap();

    let sizes: Vec<usize> = seen.lock().unwrap().iter().map(Vec::len).collect();
    assert_eq!(sizes, [4, 4, 2]);
    let seqs: Vec<i64> = seen
        .lock()
        .unwrap()
        .concat()
        .iter()
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(
        seqs,
        (1..=10).collect::<Vec<i64>>(),
        "each row with its own number"
    );
    assert_eq!(stored_ids(&store), ids(0..10), "in the order sent");
    assert_eq!(writer.dropped(), 0);

    writer.flush().unwrap();
    assert_eq!(
        seen.lock().unwrap().len(),
        3,
        "an empty flush commits nothing"
    );
}

#[test]
fn a_partial_batch_is_committed_when_its_interval_passes() {
    let store = shared(Store::open_in_memory().unwrap());
    let (seen, hook) = recording();
    let config = LedgerWriterConfig {
        interval: Duration::from_millis(5),
        ..LedgerWriterConfig::default()
    };
    let writer = LedgerWriter::spawn(Arc::clone(&store), config, hook).unwrap();
    for n in 0..3 {
        writer.sender().send(row(n));
    }
    // Waits for the timer, boundedly; how long it took is not the point.
    for _ in 0..1_000 {
        if stored_ids(&store).len() == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(stored_ids(&store), ids(0..3), "committed with no flush");
    assert_eq!(seen.lock().unwrap().concat().len(), 3);
    drop(writer);
}

#[test]
fn shutdown_writes_everything_sent_before_it() {
    let db = TempDb::new("writer-shutdown");
    let store = shared(Store::open(db.path()).unwrap());
    let (seen, hook) = recording();
    let config = LedgerWriterConfig {
        capacity: 4_096,
        ..manual(1_000)
    };
    let writer = LedgerWriter::spawn(Arc::clone(&store), config, hook).unwrap();
    let senders = [writer.sender(), writer.sender()];
    for n in 0..2_500 {
        assert!(senders[n as usize % 2].send(row(n)));
    }
    writer.shutdown().unwrap();

    assert_eq!(seen.lock().unwrap().concat().len(), 2_500);
    drop(store);
    let reopened = Store::open(db.path()).unwrap();
    let rows = reopened.ledger(0, 10_000).unwrap();
    assert_eq!(rows.len(), 2_500);
    assert_eq!(rows.last().map(|(seq, _)| *seq), Some(2_500));

    assert!(!senders[0].send(row(9)), "a stopped writer takes nothing");
    assert!(matches!(senders[1].flush(), Err(FlushError::Stopped)));
}

#[test]
fn dropping_the_handle_writes_what_is_left() {
    let store = shared(Store::open_in_memory().unwrap());
    let (_seen, hook) = recording();
    let writer = LedgerWriter::spawn(Arc::clone(&store), manual(1_000), hook).unwrap();
    let sender = writer.sender();
    for n in 0..5 {
        sender.send(row(n));
    }
    drop(writer);
    assert_eq!(stored_ids(&store), ids(0..5));
}

#[test]
fn a_full_channel_drops_and_counts_without_blocking() {
    let store = shared(Store::open_in_memory().unwrap());
    let (_seen, hook) = recording();
    let config = LedgerWriterConfig {
        capacity: 4,
        ..manual(1)
    };
    let writer = LedgerWriter::spawn(Arc::clone(&store), config, hook).unwrap();
    let sender = writer.sender();
    // Holding the store stalls the writer in its first commit, so the
    // channel fills behind it.
    let held = store.lock().unwrap();
    let accepted = (0..100).filter(|&n| sender.send(row(n))).count();
    assert!(accepted < 100, "a stalled writer cannot take 100 rows");
    assert_eq!(writer.dropped(), 100 - accepted as u64);
    drop(held);

    writer.flush().unwrap();
    assert_eq!(
        stored_ids(&store).len(),
        accepted,
        "every accepted row is written"
    );
}

#[test]
fn a_busy_store_keeps_the_rows_until_a_retry_succeeds() {
    let db = TempDb::new("writer-busy");
    let store = Store::open(db.path()).unwrap();
    store.set_busy_timeout(Duration::from_millis(10)).unwrap();
    let store = shared(store);
    let (seen, hook) = recording();
    let writer = LedgerWriter::spawn(Arc::clone(&store), manual(100), hook).unwrap();

    let other = rusqlite::Connection::open(db.path()).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    for n in 0..3 {
        writer.sender().send(row(n));
    }
    match writer.flush() {
        Err(FlushError::Store(e)) => assert!(e.is_busy(), "{e}"),
        other => panic!("a locked store cannot commit: {other:?}"),
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing committed, nothing announced"
    );
    writer.sender().send(row(3));

    other.execute_batch("ROLLBACK").unwrap();
    writer.flush().unwrap();
    assert_eq!(stored_ids(&store), ids(0..4), "each row once, in order");
    assert_eq!(seen.lock().unwrap().concat().len(), 4);
}

#[test]
fn the_commit_hook_may_use_the_store() {
    let store = shared(Store::open_in_memory().unwrap());
    let hook_store = Arc::clone(&store);
    let hook: OnCommit = Box::new(move |batch: &Committed<'_>| {
        if !batch.rows.is_empty() {
            let last = batch.first_seq + batch.rows.len() as i64 - 1;
            let store = hook_store.lock().unwrap();
            store.set_synced_seq("redis", last).unwrap();
        }
    });
    let writer = LedgerWriter::spawn(Arc::clone(&store), manual(2), hook).unwrap();
    for n in 0..3 {
        writer.sender().send(row(n));
    }
    writer.flush().unwrap();
    assert_eq!(store.lock().unwrap().synced_seq("redis").unwrap(), 3);
}
