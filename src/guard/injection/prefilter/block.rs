//! Byte classes of a 16-byte block as bit masks (bit i is byte i), so the
//! prefilter skips plain prose without a branch per byte. SSE2 (part of
//! every x86_64) there; the same masks computed byte by byte elsewhere.

pub(super) const WIDTH: usize = 16;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Masks {
    /// ASCII letters: a word starts at a letter that follows none.
    pub alpha: u64,
    /// Neither a letter nor one of the plain ` ",.:`: digits and the rare
    /// bytes that may open an escape, a run or a punctuation anchor.
    pub other: u64,
    /// Bytes above ASCII.
    pub high: u64,
}

impl Masks {
    /// Four blocks' masks as one, the first block in the low bits.
    pub fn join(blocks: [Masks; 4]) -> Masks {
        let mut all = Masks::default();
        for (i, m) in blocks.iter().enumerate() {
            let shift = i * WIDTH;
            all.alpha |= m.alpha << shift;
            all.other |= m.other << shift;
            all.high |= m.high << shift;
        }
        all
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) fn classify(block: &[u8; WIDTH]) -> Masks {
    // SAFETY: SSE2 is part of the x86_64 baseline, present on every CPU
    // this target runs on; `sse2` only reads its argument.
    unsafe { sse2(block) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn sse2(block: &[u8; WIDTH]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
        _mm_set1_epi8, _mm_sub_epi8,
    };
    let bits = u128::from_le_bytes(*block);
    let v = _mm_set_epi64x((bits >> 64) as i64, bits as i64);
    let splat = |b: u8| _mm_set1_epi8(b as i8);
    // unsigned x <= n: SSE2 has no unsigned compare, min does it
    let at_most = |x: __m128i, n: u8| _mm_cmpeq_epi8(_mm_min_epu8(x, splat(n)), x);
    let alpha = at_most(_mm_sub_epi8(_mm_or_si128(v, splat(0x20)), splat(b'a')), 25);
    // `|2` pairs ` ` with `"` and `,` with `.`: three compares for five bytes
    let pairs = _mm_or_si128(v, splat(0x02));
    let plain = _mm_or_si128(
        _mm_or_si128(
            _mm_cmpeq_epi8(pairs, splat(b'"')),
            _mm_cmpeq_epi8(pairs, splat(b'.')),
        ),
        _mm_cmpeq_epi8(v, splat(b':')),
    );
    let mask = |x: __m128i| u64::from(_mm_movemask_epi8(x) as u16);
    Masks {
        alpha: mask(alpha),
        other: !mask(_mm_or_si128(alpha, plain)) & 0xFFFF,
        high: mask(v),
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) fn classify(block: &[u8; WIDTH]) -> Masks {
    classify_bytes(block)
}

#[cfg(any(test, not(target_arch = "x86_64")))]
pub(super) fn classify_bytes(block: &[u8; WIDTH]) -> Masks {
    let mut masks = Masks::default();
    for (i, &b) in block.iter().enumerate() {
        let bit = 1 << i;
        if b.is_ascii_alphabetic() {
            masks.alpha |= bit;
        } else if !matches!(b, b' ' | b'"' | b',' | b'.' | b':') {
            masks.other |= bit;
        }
        if !b.is_ascii() {
            masks.high |= bit;
        }
    }
    masks
}

/// The block that ends `raw` from `at` (fewer than a block's bytes may be
/// left) and where `raw[at]` sits in it: the last whole block of `raw`,
/// already partly seen, when there is one, else the bytes left and zeros.
/// Plain loads, no copy loop: a short string literal pays little.
pub(super) fn last(raw: &[u8], at: usize) -> ([u8; WIDTH], usize) {
    let rest = raw.get(at..).unwrap_or_default();
    if let Some(block) = rest.first_chunk::<WIDTH>() {
        return (*block, 0);
    }
    if let Some(block) = raw.last_chunk::<WIDTH>() {
        return (*block, WIDTH - rest.len());
    }
    (u128::to_le_bytes(short(rest)), 0)
}

/// Fewer than 16 bytes, zero-extended, from two overlapping loads: the
/// overlap holds the same bytes twice, so or-ing them is exact.
fn short(rest: &[u8]) -> u128 {
    let n = rest.len();
    let byte = |i: usize| rest.get(i).map_or(0, |&b| u64::from(b));
    let (first, last, shift) =
        if let (Some(a), Some(b)) = (rest.first_chunk::<8>(), rest.last_chunk::<8>()) {
            (u64::from_le_bytes(*a), u64::from_le_bytes(*b), n - 8)
        } else if let (Some(a), Some(b)) = (rest.first_chunk::<4>(), rest.last_chunk::<4>()) {
            let word = |w: &[u8; 4]| u64::from(u32::from_le_bytes(*w));
            (word(a), word(b), n - 4)
        } else {
            let shift = n.saturating_sub(1);
            (byte(0) | byte(1) << 8, byte(shift), shift)
        };
    u128::from(first) | u128::from(last) << (8 * shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_value_is_classified_as_byte_by_byte() {
        for first in (0..=255u8).step_by(WIDTH) {
            let mut block = [0u8; WIDTH];
            for (i, b) in block.iter_mut().enumerate() {
                *b = first + i as u8;
            }
            assert_eq!(classify(&block), classify_bytes(&block), "from {first}");
        }
    }

    #[test]
    fn the_last_block_holds_the_bytes_left_at_every_length_and_offset() {
        let text: Vec<u8> = (1..=40).collect();
        for len in 0..=text.len() {
            let raw = &text[..len];
            for at in 0..len {
                let (block, skip) = last(raw, at);
                let left = (len - at).min(WIDTH);
                assert_eq!(&block[skip..skip + left], &raw[at..at + left], "{len} {at}");
                if len < WIDTH {
                    assert!(block[len..].iter().all(|&b| b == 0), "{len}: zeros after");
                }
            }
        }
    }
}
