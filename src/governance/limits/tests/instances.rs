//! Two gateway instances (two limiters) leasing one shared limit.

use super::*;

const CAPACITY: i64 = 1_000;

struct Instance {
    limiter: Arc<Limiter>,
    bucket: Arc<Bucket>,
    source: FakeRemote,
    admitted: i64,
}

impl Instance {
    fn new(remote: &FakeRemote) -> Instance {
        let limiter = Limiter::new(3);
        let bucket = limiter.define(spec("tpm", CAPACITY, Refill::Period(Period::Total)));
        Instance {
            limiter,
            bucket,
            source: remote.clone(),
            admitted: 0,
        }
    }

    /// A pass at `now`, then `sizes` requests spread over two cores.
    fn round(&mut self, now: u64, sizes: &[i64]) {
        self.limiter.tick(now, NOON, &mut self.source);
        for (i, &n) in sizes.iter().enumerate() {
            bind_slot(i % 2);
            if self.bucket.try_take(n, Priority::Standard).is_ok() {
                self.admitted += n;
            }
        }
    }
}

#[test]
fn two_instances_together_admit_the_shared_capacity() {
    let remote = FakeRemote::default();
    let (mut a, mut b) = (Instance::new(&remote), Instance::new(&remote));
    for r in 0..400u64 {
        let now = r * 5;
        a.round(now, &[3, 7, 1, 5, 2, 4]);
        b.round(now, &[6, 1]);
    }
    let total = a.admitted + b.admitted;
    assert!(total <= CAPACITY);
    assert!(
        total >= CAPACITY * 95 / 100,
        "admitted {total} of {CAPACITY}"
    );
    assert!(b.admitted > 0 && a.admitted > b.admitted);
    assert_eq!(
        remote.level("tpm") + a.bucket.held() + b.bucket.held(),
        CAPACITY - total,
        "every token is admitted, held or shared"
    );
}

#[test]
fn an_instance_that_goes_quiet_hands_its_lease_to_the_other() {
    let remote = FakeRemote::default();
    let (mut a, mut b) = (Instance::new(&remote), Instance::new(&remote));
    for r in 0..400u64 {
        let now = r * 5;
        a.round(now, &[4, 4]);
        // B is busy only at first, with a burst that leases a large batch.
        let b_sizes: &[i64] = if r < 20 { &[9, 9, 9, 9] } else { &[] };
        b.round(now, b_sizes);
    }
    let total = a.admitted + b.admitted;
    assert!(total <= CAPACITY);
    assert!(
        total >= CAPACITY * 95 / 100,
        "admitted {total} of {CAPACITY}"
    );
    let keep = super::super::aggregate::idle_keep(&b.bucket, &b.bucket.spec());
    assert!(
        b.bucket.held() <= keep,
        "the quiet instance kept only room for its next request: {} > {keep}",
        b.bucket.held()
    );
}
