//! A seeded xorshift for tests that generate inputs: the same sequence on
//! every run, so a failure names an input that fails again.

/// The next value, each call, from `seed` (not 0).
pub fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
