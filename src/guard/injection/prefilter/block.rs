//! Byte classes of a 64-byte step as bit masks (bit i is byte i), so the
//! prefilter skips plain prose without a branch per byte. AVX2 where the CPU has it (`block/avx2.rs`), else SSE2 (part of
//! every x86_64); the same masks computed byte by byte elsewhere. The only
//! `unsafe` of the prefilter is here.

#[cfg(target_arch = "x86_64")]
mod avx2;

pub(super) const WIDTH: usize = 16;
/// Bytes a step of the main loop classes: one 64-bit mask.
pub(super) const STEP: usize = 4 * WIDTH;
/// A word start's first four bytes are read as one load: the bytes a step
/// must have readable after it.
pub(super) const LOOKAHEAD: usize = 4;

/// Bytes besides letters the pass must look at one by one: digits and
/// `+/=` (encoded runs, and the PII prefilter's dense digits), `\` and
/// `%` (escapes), `OPENERS`, and `@` (the PII prefilter's emails).
pub(super) const ACTION: &[u8] = b"0123456789+/=\\%!#*-<[@";
/// The non-letter bytes an anchor may start with (`![`, `###`, `<system`).
pub(super) const OPENERS: &[u8] = b"!#*-<[";

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Masks {
    /// ASCII letters: a word starts at a letter that follows none.
    pub alpha: u64,
    /// Every `ACTION` byte, and maybe other non-letters (SSE2 marks all
    /// but the plain ` ",.:`): the pass looks at each.
    pub other: u64,
    /// Not zero when some byte is above ASCII; which bits are set need not
    /// say which bytes (a step may fold its halves into one mask).
    pub high: u64,
    /// Letters and `_`, which anchors may hold after their first letters
    /// (`im_start`).
    pub word: u64,
}

/// Classes a step of `STEP` bytes; a value of an implementing type is the
/// proof that the CPU has the instructions it uses.
pub(super) trait Classify: Copy {
    fn step(self, bytes: &[u8; STEP]) -> Masks;
}

/// Code generic over the classifier, compiled once per instruction set so
/// that the classifier inlines into its loop.
pub(super) trait Scan {
    type Output;
    fn scan<C: Classify>(self, classify: C) -> Self::Output;
}

/// Runs `scan` with the widest classifier this CPU has: AVX2 when present
/// (std caches the answer), else four 16-byte blocks.
pub(super) fn run<S: Scan>(scan: S) -> S::Output {
    #[cfg(target_arch = "x86_64")]
    let scan = match avx2::run(scan) {
        Ok(output) => return output,
        Err(scan) => scan,
    };
    scan.scan(Blocks)
}

/// Four blocks of `classify`, on any CPU.
#[derive(Clone, Copy)]
pub(super) struct Blocks;

impl Classify for Blocks {
    #[inline(always)]
    fn step(self, bytes: &[u8; STEP]) -> Masks {
        let (blocks, _) = bytes.as_chunks::<WIDTH>();
        let mut all = Masks::default();
        for (i, block) in blocks.iter().enumerate() {
            let m = classify(block);
            let shift = i * WIDTH;
            all.alpha |= m.alpha << shift;
            all.other |= m.other << shift;
            all.high |= m.high << shift;
            all.word |= m.word << shift;
        }
        all
    }
}

#[cfg(target_arch = "x86_64")]
fn classify(block: &[u8; WIDTH]) -> Masks {
    // SAFETY: SSE2 is part of the x86_64 baseline, present on every CPU
    // this target runs on; `sse2` only reads its argument.
    unsafe { sse2(block) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn sse2(block: &[u8; WIDTH]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set_epi64x, _mm_set1_epi8,
    };
    let bits = u128::from_le_bytes(*block);
    let v = _mm_set_epi64x((bits >> 64) as i64, bits as i64);
    let splat = |b: u8| _mm_set1_epi8(b as i8);
    // letters land on -128..=-103 once folded and shifted: one signed compare
    let shifted = _mm_add_epi8(_mm_or_si128(v, splat(0x20)), splat(0x80 - b'a'));
    let alpha = _mm_cmplt_epi8(shifted, splat((0x80 + 26) as u8));
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
        word: mask(_mm_or_si128(alpha, _mm_cmpeq_epi8(v, splat(b'_')))),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn classify(block: &[u8; WIDTH]) -> Masks {
    classify_bytes(block)
}

#[cfg(any(test, not(target_arch = "x86_64")))]
fn classify_bytes(block: &[u8; WIDTH]) -> Masks {
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
        if b.is_ascii_alphabetic() || b == b'_' {
            masks.word |= bit;
        }
    }
    masks
}

/// The step that ends `raw` from `at` (fewer than `STEP + LOOKAHEAD` bytes
/// are left), then zeros, and where `raw[at]` sits in it: the last whole
/// step of `raw`, already partly seen, when fewer than a step are left and
/// `raw` has one, else the bytes left. The zeros after the text are what
/// the pass reads past its end, so a word start's four bytes need no check.
pub(super) fn last(raw: &[u8], at: usize) -> ([u8; STEP + LOOKAHEAD], usize) {
    let rest = raw.get(at..).unwrap_or_default();
    if rest.len() < STEP
        && let Some(step) = raw.last_chunk::<STEP>()
    {
        return (padded(step), STEP - rest.len());
    }
    (padded(rest), 0)
}

/// `bytes` (at most `N`), then zeros. No copy loop and no call, so a short
/// string literal pays little: two copies of the widest fixed size that
/// fits, at both ends (an overlap gets the same bytes twice).
pub(super) fn padded<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    // the first width that fits copies all; the rest is not tried
    let _ = copy_ends::<64, N>(bytes, &mut out)
        || copy_ends::<32, N>(bytes, &mut out)
        || copy_ends::<16, N>(bytes, &mut out)
        || copy_ends::<8, N>(bytes, &mut out)
        || copy_ends::<4, N>(bytes, &mut out)
        || copy_ends::<2, N>(bytes, &mut out)
        || copy_ends::<1, N>(bytes, &mut out);
    out
}

/// Copies the first and the last `W` of `bytes` to the same places in
/// `out`; false when `bytes` is shorter than `W` (nothing copied).
fn copy_ends<const W: usize, const N: usize>(bytes: &[u8], out: &mut [u8; N]) -> bool {
    if W > N {
        return false;
    }
    let (Some(first), Some(last)) = (bytes.first_chunk::<W>(), bytes.last_chunk::<W>()) else {
        return false;
    };
    if let Some(head) = out.first_chunk_mut::<W>() {
        *head = *first;
    }
    let end = out
        .get_mut(bytes.len() - W..)
        .and_then(<[u8]>::first_chunk_mut::<W>);
    if let Some(end) = end {
        *end = *last;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the pass relies on: letters exact, every `ACTION` byte in
    /// `other` and no letter or plain byte, a high byte seen.
    fn check(masks: Masks, bytes: &[u8], at: &str) {
        let high = bytes.iter().any(|b| !b.is_ascii());
        assert_eq!(masks.high != 0, high, "{at}: high");
        for (i, &b) in bytes.iter().enumerate() {
            let (alpha, other) = (masks.alpha >> i & 1 != 0, masks.other >> i & 1 != 0);
            assert_eq!(alpha, b.is_ascii_alphabetic(), "{at}: {b:#x} alpha");
            assert_eq!(
                masks.word >> i & 1 != 0,
                b.is_ascii_alphabetic() || b == b'_',
                "{at}: {b:#x} word"
            );
            let plain = b.is_ascii_alphabetic() || b" \",.:".contains(&b);
            assert!(!(plain && other), "{at}: {b:#x} plain in other");
            assert!(
                !ACTION.contains(&b) || other,
                "{at}: {b:#x} action not in other"
            );
        }
    }

    #[test]
    fn every_classifier_classes_every_byte_value() {
        struct Check;
        impl Scan for Check {
            type Output = ();
            fn scan<C: Classify>(self, classify: C) {
                for first in (0..=255u8).step_by(WIDTH) {
                    let step: [u8; STEP] = std::array::from_fn(|i| first.wrapping_add(i as u8));
                    check(classify.step(&step), &step, &format!("step from {first}"));
                }
            }
        }
        run(Check);
        Check.scan(Blocks);
    }

    #[test]
    fn sse2_marks_all_but_letters_and_plain_bytes() {
        for first in (0..=255u8).step_by(WIDTH) {
            let block: [u8; WIDTH] = std::array::from_fn(|i| first.wrapping_add(i as u8));
            assert_eq!(classify(&block), classify_bytes(&block), "from {first}");
        }
    }

    #[test]
    fn the_last_step_holds_the_bytes_left_at_every_length_and_offset() {
        let text: Vec<u8> = (1..=140).collect();
        for len in 0..=text.len() {
            let raw = &text[..len];
            // the main loop leaves fewer than `STEP + LOOKAHEAD` bytes
            for at in len.saturating_sub(STEP + LOOKAHEAD - 1)..len {
                let (step, skip) = last(raw, at);
                let left = (len - at).min(STEP + LOOKAHEAD);
                assert_eq!(&step[skip..skip + left], &raw[at..at + left], "{len} {at}");
                let end = skip + (len - at);
                if end < STEP + LOOKAHEAD {
                    assert!(
                        step[end..].iter().all(|&b| b == 0),
                        "{len} {at}: zeros after"
                    );
                }
            }
        }
    }
}
