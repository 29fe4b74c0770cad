//! Latency per deployment per core: a time-decayed average of time to first
//! byte for picking the fastest upstream, and recent time to first token
//! samples for a p95 (hedging thresholds, dashboards).

/// How fast old TTFB samples lose weight: one half-life ago counts half.
const TTFB_HALF_LIFE_MS: f64 = 10_000.0;
/// TTFT samples kept for the p95.
const TTFT_RING: usize = 128;
/// Fewer samples than this give a p95 that is just the maximum of noise.
const TTFT_MIN_SAMPLES: usize = 8;

#[derive(Clone, Debug)]
pub struct LatencyStats {
    /// Decayed sum of TTFB sample weights and of weight × sample; their ratio
    /// is the average. Every sample enters with weight 1 and all weights
    /// halve every half-life, so a burst of samples in the same millisecond
    /// all count (a plain `alpha = 1 - 2^(-dt/h)` EWMA would ignore them) and
    /// after a long quiet spell the first new sample dominates.
    ttfb_weight: f64,
    ttfb_weighted_sum: f64,
    ttfb_last_ms: u64,
    ttft: [u64; TTFT_RING],
    ttft_len: usize,
    ttft_next: usize,
}

impl Default for LatencyStats {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyStats {
    pub fn new() -> Self {
        Self {
            ttfb_weight: 0.0,
            ttfb_weighted_sum: 0.0,
            ttfb_last_ms: 0,
            ttft: [0; TTFT_RING],
            ttft_len: 0,
            ttft_next: 0,
        }
    }

    /// Time to first byte (response head) sample: feeds an EWMA (time-decayed, half-life ~10 s,
    /// first sample taken as is).
    pub fn observe_ttfb(&mut self, now_ms: u64, ttfb_ms: u64) {
        // A clock reading from before the last sample (out-of-order
        // completion) decays nothing rather than inflating old weights.
        let elapsed = now_ms.saturating_sub(self.ttfb_last_ms) as f64;
        let decay = (-elapsed / TTFB_HALF_LIFE_MS).exp2();
        self.ttfb_weight = self.ttfb_weight * decay + 1.0;
        self.ttfb_weighted_sum = self.ttfb_weighted_sum * decay + ttfb_ms as f64;
        self.ttfb_last_ms = self.ttfb_last_ms.max(now_ms);
    }

    pub fn ewma_ttfb_ms(&self) -> Option<f64> {
        (self.ttfb_weight > 0.0).then(|| self.ttfb_weighted_sum / self.ttfb_weight)
    }

    /// Time to first token samples kept in a ring of the last 128; p95 on demand.
    pub fn observe_ttft(&mut self, ttft_ms: u64) {
        self.ttft[self.ttft_next] = ttft_ms;
        self.ttft_next = (self.ttft_next + 1) % TTFT_RING;
        self.ttft_len = (self.ttft_len + 1).min(TTFT_RING);
    }

    /// Nearest-rank p95 of the samples in the ring; None until at least 8 samples.
    pub fn p95_ttft_ms(&self) -> Option<u64> {
        let n = self.ttft_len;
        if n < TTFT_MIN_SAMPLES {
            return None;
        }
        // Selection on a stack copy: O(n) and no allocation on the request path.
        let mut samples = self.ttft;
        let rank = (n * 95).div_ceil(100) - 1;
        let (_, p95, _) = samples[..n].select_nth_unstable(rank);
        Some(*p95)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_ttfb_sample_is_taken_as_is() {
        let mut stats = LatencyStats::new();
        assert_eq!(stats.ewma_ttfb_ms(), None);
        stats.observe_ttfb(5_000, 250);
        assert_eq!(stats.ewma_ttfb_ms(), Some(250.0));
    }

    #[test]
    fn ewma_decays_toward_new_values() {
        let mut stats = LatencyStats::new();
        stats.observe_ttfb(0, 100);
        // One half-life later the old sample weighs 0.5 against the new 1.
        stats.observe_ttfb(10_000, 400);
        let avg = stats.ewma_ttfb_ms().unwrap();
        assert!((avg - 300.0).abs() < 1e-9, "{avg}");
        let mut previous = avg;
        // One sample a second for a minute: the 100 ms sample is seven
        // half-lives old and weighs under 1 % of the total.
        for i in 1..=60 {
            stats.observe_ttfb(10_000 + i * 1_000, 400);
            let avg = stats.ewma_ttfb_ms().unwrap();
            assert!(avg > previous && avg <= 400.0, "{avg} after {previous}");
            previous = avg;
        }
        assert!(previous > 399.0, "{previous}");
    }

    #[test]
    fn after_a_long_quiet_spell_the_new_sample_dominates() {
        let mut stats = LatencyStats::new();
        for t in 0..100 {
            stats.observe_ttfb(t, 50);
        }
        stats.observe_ttfb(10 * 60_000, 900);
        assert!(stats.ewma_ttfb_ms().unwrap() > 899.0);
    }

    #[test]
    fn samples_in_the_same_millisecond_all_count() {
        let mut stats = LatencyStats::new();
        stats.observe_ttfb(1_000, 100);
        stats.observe_ttfb(1_000, 300);
        assert_eq!(stats.ewma_ttfb_ms(), Some(200.0));
        // An out-of-order reading decays nothing: three equal weights.
        stats.observe_ttfb(500, 500);
        assert_eq!(stats.ewma_ttfb_ms(), Some(300.0));
    }

    #[test]
    fn p95_needs_eight_samples() {
        let mut stats = LatencyStats::new();
        for ms in 1..8 {
            stats.observe_ttft(ms);
        }
        assert_eq!(stats.p95_ttft_ms(), None);
        stats.observe_ttft(8);
        // Nearest rank: ceil(0.95 × 8) = 8th smallest.
        assert_eq!(stats.p95_ttft_ms(), Some(8));
    }

    #[test]
    fn p95_of_known_samples() {
        let mut stats = LatencyStats::new();
        // 1..=100 in a scrambled order: the 95th smallest is 95.
        for i in 0..100u64 {
            stats.observe_ttft((i * 37) % 100 + 1);
        }
        assert_eq!(stats.p95_ttft_ms(), Some(95));
    }

    #[test]
    fn p95_covers_only_the_last_128_samples() {
        let mut stats = LatencyStats::new();
        for _ in 0..128 {
            stats.observe_ttft(10_000);
        }
        for i in 0..128 {
            stats.observe_ttft(i + 1);
        }
        // 1..=128: ceil(0.95 × 128) = 122.
        assert_eq!(stats.p95_ttft_ms(), Some(122));
    }
}
