//! A small per-core random number generator for jitter and weighted picks:
//! fast and good enough for load spreading, not for anything secret.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

/// A small per-core xorshift64* generator seeded from time and thread.
#[derive(Clone, Debug)]
pub struct FastRng(u64);

/// xorshift has one fixed point, zero; any seed is spread by SplitMix64 and
/// a zero result replaced by this odd constant.
const NONZERO: u64 = 0x9E37_79B9_7F4A_7C15;

impl FastRng {
    pub fn new(seed: u64) -> Self {
        let state = splitmix64(seed);
        Self(if state == 0 { NONZERO } else { state })
    }

    /// Seeds from the wall clock, the thread id and std's per-process
    /// random hasher keys, so cores started in the same nanosecond still
    /// draw different sequences.
    pub fn from_entropy() -> Self {
        let mut hasher = RandomState::new().build_hasher();
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
            .hash(&mut hasher);
        std::thread::current().id().hash(&mut hasher);
        Self::new(hasher.finish())
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1) from the top 53 bits, the best ones of xorshift64*.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(NONZERO);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = FastRng::new(1);
        let mut b = FastRng::new(1);
        let mut c = FastRng::new(2);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn no_seed_gets_stuck_at_zero() {
        for seed in [0, u64::MAX, NONZERO.wrapping_neg()] {
            let mut rng = FastRng::new(seed);
            assert!((0..4).any(|_| rng.next_u64() != 0), "seed {seed}");
        }
    }

    #[test]
    fn unit_is_in_range_and_spread() {
        let mut rng = FastRng::new(11);
        let mut sum = 0.0;
        for _ in 0..10_000 {
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u), "{u}");
            sum += u;
        }
        let mean = sum / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }

    #[test]
    fn entropy_seeds_differ_between_threads() {
        let here = FastRng::from_entropy().next_u64();
        let there = std::thread::spawn(|| FastRng::from_entropy().next_u64())
            .join()
            .unwrap();
        assert_ne!(here, there);
    }
}
