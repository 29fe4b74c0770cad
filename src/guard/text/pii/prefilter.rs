//! The request prefilter: whether raw JSON bytes could hold any PII at all,
//! cheaply enough to run on every request (about 0.5 instructions a byte on
//! prose with AVX2), so a request without PII never pays for decoding and
//! scanning its strings.
//!
//! Every numeric finding has 6 digits within 8 bytes (`dense`: groups of two
//! or more digits joined by one-byte separators), every email an `@`, and
//! JSON can spell either only as itself or as a `\u00XX` escape. Bytes go
//! through 32 at a time in a loop the compiler vectorises; a block with a
//! digit, an `@` or a backslash is looked at closer, and only a block with
//! enough digits is checked byte by byte. The loop is compiled a second
//! time for AVX2, chosen at run time: this module's one `unsafe`.

const DENSE_DIGITS: u8 = 6;
const DENSE_SPAN: usize = 8;
const BLOCK: usize = 32;

/// Never false when a scan of the decoded strings would find PII of the
/// wanted kinds (`emails`: an `@`; `numbers`: dense digits).
pub(super) fn may_contain(raw: &[u8], emails: bool, numbers: bool) -> bool {
    (emails || numbers) && blocks_may_contain(raw, emails, numbers)
}

/// Whether 6 of some 8 consecutive bytes of `b` are digits (a finding's own
/// bytes, or a block the fast scan flagged).
pub(super) fn dense(b: &[u8]) -> bool {
    // The last `DENSE_SPAN` bytes as bits, and how many of them are set.
    let (mut window, mut count) = (0u8, 0u8);
    b.iter().any(|&c| {
        let digit = u8::from(is_digit(c));
        count = count + digit - (window >> (DENSE_SPAN - 1));
        window = window << 1 | digit;
        count >= DENSE_DIGITS
    })
}

/// Whether the backslash at `raw[at]` opens a `\u00XX` escape of a
/// character some detector reads (digits, letters, `@`, separators).
/// Other escapes (`\n`, `\"`, `\u00e9`, Go's `\u003c`) do not.
fn escape_spells_pii(raw: &[u8], at: usize) -> bool {
    let Some(&[b'\\', b'u', b'0', b'0', hi, lo]) = raw.get(at..at + 6) else {
        return false;
    };
    let hex = |c: u8| char::from(c).to_digit(16);
    let Some(c) = hex(hi).zip(hex(lo)).map(|(hi, lo)| (hi * 16 + lo) as u8) else {
        return false;
    };
    c.is_ascii_alphanumeric() || b" +-.()@_%".contains(&c)
}

fn blocks_may_contain(raw: &[u8], emails: bool, numbers: bool) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `scan_avx2` only needs AVX2, which the CPU was just seen to have.
        return unsafe { scan_avx2(raw, emails, numbers) };
    }
    scan(raw, emails, numbers)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_avx2(raw: &[u8], emails: bool, numbers: bool) -> bool {
    scan(raw, emails, numbers)
}

#[inline(always)]
fn scan(raw: &[u8], emails: bool, numbers: bool) -> bool {
    let (blocks, rest) = raw.as_chunks::<BLOCK>();
    let mut tail_digits = 0;
    for (k, block) in blocks.iter().enumerate() {
        tail_digits = match any_marked(block) {
            false => 0,
            true => match block_may_contain(raw, k * BLOCK, block, tail_digits, emails, numbers) {
                Some(digits) => digits,
                None => return true,
            },
        };
    }
    let mut last = [0u8; BLOCK];
    last[..rest.len()].copy_from_slice(rest);
    any_marked(&last)
        && block_may_contain(
            raw,
            blocks.len() * BLOCK,
            &last,
            tail_digits,
            emails,
            numbers,
        )
        .is_none()
}

#[inline(always)]
fn is_digit(b: u8) -> bool {
    b.wrapping_sub(b'0') < 10
}

#[inline(always)]
fn any_marked(block: &[u8; BLOCK]) -> bool {
    let mut any = 0u8;
    for &b in block {
        any |= u8::from(is_digit(b) | (b == b'@') | (b == b'\\'));
    }
    any != 0
}

/// `None` when the block may hold PII; else the digits among its last 7
/// bytes, where a dense window running into the next block would start.
/// Out of line, so the fast loop keeps its registers.
#[inline(never)]
fn block_may_contain(
    raw: &[u8],
    start: usize,
    block: &[u8; BLOCK],
    tail_before: u8,
    emails: bool,
    numbers: bool,
) -> Option<u8> {
    let (mut digits, mut at, mut slash) = (0u8, 0u8, 0u8);
    for &b in block {
        digits += u8::from(is_digit(b));
        at |= u8::from(b == b'@');
        slash |= u8::from(b == b'\\');
    }
    // An escape may run into the next block: it is read from `raw`.
    let escapes = |i: usize| block[i] == b'\\' && escape_spells_pii(raw, start + i);
    if slash != 0 && (0..BLOCK).any(escapes) {
        return None;
    }
    let end = (start + BLOCK).min(raw.len());
    let dense = numbers
        && tail_before + digits >= DENSE_DIGITS
        && dense(&raw[start.saturating_sub(DENSE_SPAN - 1)..end]);
    if dense || emails && at != 0 {
        return None;
    }
    let tail = &block[BLOCK - (DENSE_SPAN - 1)..];
    Some(tail.iter().map(|&b| u8::from(is_digit(b))).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_digits_are_found_across_block_edges() {
        let filler = "x".repeat(100);
        for at in 0..90 {
            for digits in ["12 34 56", "123-4567", "1234567"] {
                let mut text = filler.clone();
                text.replace_range(at..at + digits.len(), digits);
                assert!(
                    may_contain(text.as_bytes(), false, true),
                    "{digits} at {at}"
                );
                assert!(dense(text.as_bytes()), "{digits} at {at}");
            }
            let mut sparse = filler.clone();
            sparse.replace_range(at..at + 9, "1 2 3 4 5");
            assert!(
                !may_contain(sparse.as_bytes(), false, true),
                "sparse at {at}"
            );
        }
    }

    #[test]
    fn an_escape_is_read_across_a_block_edge() {
        for at in 0..70 {
            let mut text = "x".repeat(80);
            text.insert_str(at, r"\u0040");
            assert!(may_contain(text.as_bytes(), true, false), "at {at}");
            let mut other = "x".repeat(80);
            other.insert_str(at, r"\u00e9");
            assert!(!may_contain(other.as_bytes(), true, false), "at {at}");
        }
    }

    #[test]
    fn ordinary_request_json_is_passed_over() {
        let body = br#"{"model":"gpt-4o","max_tokens":1024,"temperature":0.7,"messages":[{"role":"user","content":"Summarise the 2023 report in 3 bullet points,\nversion 1.2.3, price $12.50, caf\u00e9 \u003cb\u003e."}]}"#;
        assert!(!may_contain(body, true, true));
    }

    #[test]
    fn what_each_kind_needs() {
        assert!(may_contain(br#"{"content":"a@b.com"}"#, true, false));
        assert!(!may_contain(br#"{"content":"a@b.com"}"#, false, true));
        assert!(may_contain(
            br#"{"content":"mail a\u0040b.com"}"#,
            true,
            true
        ));
        assert!(may_contain(
            br#"{"content":"4111\u00201111 1111 1111"}"#,
            false,
            true
        ));
        assert!(!may_contain(
            br#"{"content":"4111 1111 1111 1111"}"#,
            false,
            false
        ));
        assert!(!may_contain(
            br#"{"content":"4111 1111 1111 1111"}"#,
            true,
            false
        ));
    }
}
