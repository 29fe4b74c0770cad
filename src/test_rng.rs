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

/// One of `from`, by the next value.
pub fn pick<'a>(next: &mut impl FnMut() -> u64, from: &[&'a str]) -> &'a str {
    from[(next() % from.len() as u64) as usize]
}

/// Fewer than `most` pieces of `from` end to end, by the next values.
pub fn text(next: &mut impl FnMut() -> u64, from: &[&str], most: u64) -> String {
    let len = next() % most;
    (0..len).map(|_| pick(next, from)).collect()
}
