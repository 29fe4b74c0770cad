//! The AVX2 classifier: 32 bytes a vector, and `ACTION` found exactly by
//! two nibble lookups (`vpshufb`), so only the bytes the pass must handle
//! leave the vector code.

use std::arch::x86_64::{
    __m256i, _mm_loadu_si128, _mm256_add_epi8, _mm256_and_si256, _mm256_broadcastsi128_si256,
    _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
    _mm256_or_si256, _mm256_set1_epi8, _mm256_setzero_si256, _mm256_shuffle_epi8,
    _mm256_srli_epi16,
};

use super::{ACTION, Classify, Masks, STEP, Scan};

/// `ACTION` as two 16-entry tables: a byte is in it when the entry of its
/// low nibble and the entry of its high nibble share a bit. Bit h of a low
/// nibble's entry: the byte with high nibble h is in; bytes above ASCII
/// (high nibble 8 and up) share none.
const LOW_NIBBLE: [u8; 16] = {
    let mut table = [0u8; 16];
    let mut i = 0;
    while i < ACTION.len() {
        let b = ACTION[i];
        table[(b & 15) as usize] |= 1 << (b >> 4);
        i += 1;
    }
    table
};
const HIGH_NIBBLE: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 0, 0, 0, 0, 0, 0, 0, 0];
/// Letters land on -128..=-103 once folded (`| 0x20`) and shifted by this:
/// one signed compare finds them.
const TO_LETTERS: u8 = 0x80 - b'a';
const PAST_LETTERS: i8 = (0x80u8 + 26) as i8;

/// `scan` with AVX2, when the CPU has it; else `scan` back.
pub(super) fn run<S: Scan>(scan: S) -> Result<S::Output, S> {
    // One cached answer for the three features, asked once per process.
    static USABLE: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
        std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("bmi2")
    });
    if *USABLE {
        // SAFETY: the CPU has AVX2, BMI1 and BMI2, just checked.
        Ok(unsafe { with_avx2(scan) })
    } else {
        Err(scan)
    }
}

/// The whole scan compiled for AVX2 (and BMI for its bit loops), so the
/// classifier inlines into it.
#[target_feature(enable = "avx2,bmi1,bmi2")]
fn with_avx2<S: Scan>(scan: S) -> S::Output {
    scan.scan(Avx2(()))
}

/// Made only by `with_avx2`: holding one proves the CPU has AVX2.
#[derive(Clone, Copy)]
struct Avx2(());

impl Classify for Avx2 {
    #[inline(always)]
    fn step(self, bytes: &[u8; STEP]) -> Masks {
        // SAFETY: an `Avx2` exists only where the CPU has AVX2; `step`
        // only reads its argument.
        unsafe { step(bytes) }
    }
}

#[target_feature(enable = "avx2")]
fn step(bytes: &[u8; STEP]) -> Masks {
    let (halves, _) = bytes.as_chunks::<32>();
    // SAFETY: each half is 32 readable bytes; loadu needs no alignment.
    let load = |i: usize| {
        halves
            .get(i)
            .map(|h| unsafe { _mm256_loadu_si256(h.as_ptr().cast()) })
    };
    let (Some(low), Some(high)) = (load(0), load(1)) else {
        return Masks::default();
    };
    // SAFETY: the tables are 16 readable bytes each.
    let table =
        |t: &[u8; 16]| _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(t.as_ptr().cast()) });
    let (low_nibble, high_nibble) = (table(&LOW_NIBBLE), table(&HIGH_NIBBLE));
    let splat = |b: u8| _mm256_set1_epi8(b as i8);
    let classes = |v: __m256i| {
        let shifted = _mm256_add_epi8(_mm256_or_si256(v, splat(0x20)), splat(TO_LETTERS));
        let alpha = _mm256_cmpgt_epi8(_mm256_set1_epi8(PAST_LETTERS), shifted);
        let low = _mm256_shuffle_epi8(low_nibble, _mm256_and_si256(v, splat(15)));
        let high = _mm256_and_si256(_mm256_srli_epi16(v, 4), splat(15));
        let action = _mm256_and_si256(low, _mm256_shuffle_epi8(high_nibble, high));
        let quiet = _mm256_cmpeq_epi8(action, _mm256_setzero_si256());
        let word = _mm256_or_si256(alpha, _mm256_cmpeq_epi8(v, splat(b'_')));
        let mask = |x: __m256i| u64::from(_mm256_movemask_epi8(x) as u32);
        (mask(alpha), mask(quiet), mask(word))
    };
    let (alpha_low, quiet_low, word_low) = classes(low);
    let (alpha_high, quiet_high, word_high) = classes(high);
    Masks {
        alpha: alpha_low | alpha_high << 32,
        other: !(quiet_low | quiet_high << 32),
        high: u64::from(_mm256_movemask_epi8(_mm256_or_si256(low, high)) as u32),
        word: word_low | word_high << 32,
    }
}
