//! Ordering candidate deployments for a request: weighted random (by
//! configured weight) or power of two choices (by observed latency). Each
//! order is "pick, remove, repeat" so failover walks the same preference.

/// Maps a uniform u64 onto `0..n` by taking the high bits of the 128-bit
/// product (Lemire): no division, and xorshift's high bits are its best.
fn below(r: u64, n: u64) -> u64 {
    ((u128::from(r) * u128::from(n)) >> 64) as u64
}

/// Weighted pick: index into `weights` (all > 0), `r` a uniform random u64.
///
/// Zero weights are never picked unless all are zero, in which case the
/// pick is uniform. An empty slice returns 0; callers pass at least one.
pub fn weighted_pick(weights: &[u32], r: u64) -> usize {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total == 0 {
        return below(r, weights.len() as u64) as usize;
    }
    let mut target = below(r, total);
    for (i, &w) in weights.iter().enumerate() {
        let w = u64::from(w);
        if target < w {
            return i;
        }
        target -= w;
    }
    unreachable!("target < total = sum of weights")
}

/// Order candidates for trying: a weighted random permutation (pick, remove, repeat).
pub fn weighted_order(weights: &[u32], rng: &mut impl FnMut() -> u64) -> Vec<usize> {
    // The unpicked candidates are the tail `order[i..]`; a pick is swapped
    // to position i, so the one allocation is the returned Vec.
    let mut order: Vec<usize> = (0..weights.len()).collect();
    for i in 0..order.len().saturating_sub(1) {
        let total: u64 = order[i..].iter().map(|&c| u64::from(weights[c])).sum();
        let k = if total == 0 {
            below(rng(), (order.len() - i) as u64) as usize
        } else {
            let mut target = below(rng(), total);
            order[i..]
                .iter()
                .position(|&c| {
                    let w = u64::from(weights[c]);
                    let hit = target < w;
                    target = target.wrapping_sub(w);
                    hit
                })
                .expect("target < total = sum of remaining weights")
        };
        order.swap(i, i + k);
    }
    order
}

/// Unknown latency counts as 0 so a new deployment wins its first duels and
/// gets measured; NaN is treated as unknown rather than poisoning comparisons.
fn latency_key(latency: Option<f64>) -> f64 {
    match latency {
        Some(ms) if !ms.is_nan() => ms,
        _ => 0.0,
    }
}

/// Power of two choices: two distinct random candidates, the one with the lower latency wins;
/// unknown latency (None) counts as 0 so new deployments get tried. Returns an index into `latencies`.
///
/// Ties go to the first draw, so ties stay random. Fewer than two
/// candidates returns 0.
pub fn p2c_pick(latencies: &[Option<f64>], r1: u64, r2: u64) -> usize {
    let n = latencies.len() as u64;
    if n < 2 {
        return 0;
    }
    let a = below(r1, n) as usize;
    // Draw from the n - 1 others so the two are always distinct.
    let mut b = below(r2, n - 1) as usize;
    if b >= a {
        b += 1;
    }
    if latency_key(latencies[b]) < latency_key(latencies[a]) {
        b
    } else {
        a
    }
}

/// Full order by p2c: pick, remove, repeat.
pub fn p2c_order(latencies: &[Option<f64>], rng: &mut impl FnMut() -> u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..latencies.len()).collect();
    for i in 0..order.len().saturating_sub(1) {
        let remaining = &order[i..];
        let n = remaining.len() as u64;
        let a = below(rng(), n) as usize;
        let mut b = below(rng(), n - 1) as usize;
        if b >= a {
            b += 1;
        }
        let key = |k: usize| latency_key(latencies[remaining[k]]);
        let k = if key(b) < key(a) { b } else { a };
        order.swap(i, i + k);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::FastRng;

    fn is_permutation(order: &[usize], n: usize) -> bool {
        let mut sorted = order.to_vec();
        sorted.sort_unstable();
        sorted == (0..n).collect::<Vec<_>>()
    }

    #[test]
    fn weighted_pick_follows_the_weights() {
        let weights = [1, 3, 6];
        let mut rng = FastRng::new(42);
        let mut hits = [0u32; 3];
        const DRAWS: u32 = 100_000;
        for _ in 0..DRAWS {
            hits[weighted_pick(&weights, rng.next_u64())] += 1;
        }
        for (i, expected) in [0.1, 0.3, 0.6].into_iter().enumerate() {
            let share = f64::from(hits[i]) / f64::from(DRAWS);
            assert!(
                (share - expected).abs() < 0.01,
                "index {i}: {share} vs {expected}"
            );
        }
    }

    #[test]
    fn weighted_pick_edges() {
        // The extremes of r land on the first and last candidate.
        assert_eq!(weighted_pick(&[1, 3, 6], 0), 0);
        assert_eq!(weighted_pick(&[1, 3, 6], u64::MAX), 2);
        assert_eq!(weighted_pick(&[0, 5, 0], u64::MAX / 3), 1);
        assert_eq!(weighted_pick(&[0, 0], u64::MAX), 1, "all zero: uniform");
        assert_eq!(weighted_pick(&[7], 12345), 0);
        assert_eq!(weighted_pick(&[u32::MAX; 4], u64::MAX), 3);
    }

    #[test]
    fn weighted_order_is_a_permutation() {
        let mut rng = FastRng::new(7);
        let mut next = || rng.next_u64();
        for weights in [&[][..], &[5], &[1, 3, 6], &[0, 2, 0, 9, 1], &[1; 12]] {
            for _ in 0..200 {
                let order = weighted_order(weights, &mut next);
                assert!(is_permutation(&order, weights.len()), "{order:?}");
            }
        }
    }

    #[test]
    fn weighted_order_puts_heavy_candidates_first_and_zero_weights_last() {
        let mut rng = FastRng::new(9);
        let mut next = || rng.next_u64();
        let mut heavy_first = 0;
        for _ in 0..1_000 {
            let order = weighted_order(&[1, 0, 98, 1], &mut next);
            heavy_first += u32::from(order[0] == 2);
            assert_eq!(order[3], 1, "the zero weight goes last: {order:?}");
        }
        assert!(heavy_first > 950, "{heavy_first}");
    }

    #[test]
    fn p2c_prefers_the_lower_latency() {
        let latencies = [Some(300.0), Some(50.0)];
        for (r1, r2) in [(0, 0), (u64::MAX, 0), (0, u64::MAX), (u64::MAX, u64::MAX)] {
            assert_eq!(p2c_pick(&latencies, r1, r2), 1);
        }
        let mut rng = FastRng::new(3);
        let latencies = [Some(500.0), Some(400.0), Some(10.0), Some(300.0)];
        // The slowest can never win a duel; the fastest always wins its own.
        for _ in 0..1_000 {
            assert_ne!(p2c_pick(&latencies, rng.next_u64(), rng.next_u64()), 0);
        }
    }

    #[test]
    fn p2c_tries_unknown_latencies() {
        let latencies = [Some(20.0), None, Some(30.0)];
        let mut rng = FastRng::new(5);
        let mut next = || rng.next_u64();
        let mut unknown_first = 0;
        for _ in 0..300 {
            let order = p2c_order(&latencies, &mut next);
            assert!(is_permutation(&order, 3), "{order:?}");
            unknown_first += u32::from(order[0] == 1);
        }
        // Index 1 is in two of the three possible duels and wins both: ~2/3.
        assert!(unknown_first > 150, "{unknown_first}");
        assert_eq!(
            p2c_pick(&[Some(f64::NAN), Some(5.0)], 0, 0),
            0,
            "NaN is unknown"
        );
    }

    #[test]
    fn p2c_handles_tiny_inputs() {
        assert_eq!(p2c_pick(&[], 1, 2), 0);
        assert_eq!(p2c_pick(&[Some(1.0)], 1, 2), 0);
        let mut next = || 0;
        assert_eq!(p2c_order(&[], &mut next), Vec::<usize>::new());
        assert_eq!(p2c_order(&[None], &mut next), vec![0]);
    }
}
