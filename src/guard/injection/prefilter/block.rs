//! Byte classes of one 16-byte block as bit masks (bit i is byte i), so the
//! prefilter skips plain prose without a branch per byte. SSE2 (part of
//! every x86_64) there; the same masks computed byte by byte elsewhere.

pub(super) const WIDTH: usize = 16;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Masks {
    pub alpha: u32,
    pub digit: u32,
    /// Letters, digits and `_`: what continues a word.
    pub word: u32,
    /// Neither a word byte nor one of the plain ` ",.:`: the rare bytes
    /// that open an escape, a run or a punctuation anchor.
    pub other: u32,
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
    let eq = |b: u8| _mm_cmpeq_epi8(v, splat(b));
    let alpha = at_most(_mm_sub_epi8(_mm_or_si128(v, splat(0x20)), splat(b'a')), 25);
    let digit = at_most(_mm_sub_epi8(v, splat(b'0')), 9);
    let word = _mm_or_si128(_mm_or_si128(alpha, digit), eq(b'_'));
    let plain = _mm_or_si128(
        _mm_or_si128(eq(b' '), eq(b'"')),
        _mm_or_si128(_mm_or_si128(eq(b','), eq(b'.')), eq(b':')),
    );
    let mask = |x: __m128i| _mm_movemask_epi8(x) as u32;
    Masks {
        alpha: mask(alpha),
        digit: mask(digit),
        word: mask(word),
        other: !mask(_mm_or_si128(word, plain)) & 0xFFFF,
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
        let word = b.is_ascii_alphanumeric() || b == b'_';
        if b.is_ascii_alphabetic() {
            masks.alpha |= bit;
        }
        if b.is_ascii_digit() {
            masks.digit |= bit;
        }
        if word {
            masks.word |= bit;
        }
        if !word && !matches!(b, b' ' | b'"' | b',' | b'.' | b':') {
            masks.other |= bit;
        }
    }
    masks
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
}
