//! Byte-level walking of a top-level JSON object that simd-json has already
//! validated: where each member's key and value sit, so edits can splice the
//! original bytes instead of re-serializing the whole body.

use std::ops::Range;

/// Finds the span of a top-level key's value in JSON already known to be valid.
/// Only plain (unescaped) keys match, and only a key that appears once.
/// `None` sends the caller down the re-serializing path.
pub fn find_top_level_value(json: &[u8], key: &[u8]) -> Option<Range<usize>> {
    let mut found = None;
    let mut repeated = false;
    for_each_member(json, |k, v| {
        if &json[k.start + 1..k.end - 1] == key {
            repeated |= found.is_some();
            found = Some(v);
        }
        true
    })?;
    // A repeated key is ambiguous (parsers disagree on which wins): no span,
    // so the caller takes the path that re-serializes the parsed value.
    if repeated { None } else { found }
}

/// The span of the first top-level `key`, found without walking the members
/// after it. For a quick look (routing by `model`, which clients send
/// first) whose caller meets a repeated key later, in a full parse.
pub fn first_top_level_value(json: &[u8], key: &[u8]) -> Option<Range<usize>> {
    let mut found = None;
    for_each_member(json, |k, v| {
        if &json[k.start + 1..k.end - 1] == key {
            found = Some(v);
        }
        found.is_none()
    })?;
    found
}

/// The value spans of several top-level keys in one pass; a key that
/// appears more than once gets none.
pub fn find_top_level_values<const N: usize>(
    json: &[u8],
    keys: [&[u8]; N],
) -> Option<[Option<Range<usize>>; N]> {
    let mut found: [Option<Range<usize>>; N] = std::array::from_fn(|_| None);
    let mut repeated = [false; N];
    for_each_member(json, |k, v| {
        let name = &json[k.start + 1..k.end - 1];
        if let Some(i) = keys.iter().position(|key| *key == name) {
            repeated[i] |= found[i].is_some();
            found[i] = Some(v);
        }
        true
    })?;
    // As in `find_top_level_value`: a repeated key gets no span.
    for (slot, again) in found.iter_mut().zip(repeated) {
        if again {
            *slot = None;
        }
    }
    Some(found)
}

/// Every top-level member as (key span with quotes, value span), in order.
pub fn top_level_members(json: &[u8]) -> Option<Vec<(Range<usize>, Range<usize>)>> {
    let mut members = Vec::with_capacity(16);
    for_each_member(json, |k, v| {
        members.push((k, v));
        true
    })?;
    Some(members)
}

/// Walks a top-level object until `f` says stop (returns `false`); `None` if
/// it is not one or a key is escaped.
fn for_each_member(
    json: &[u8],
    mut f: impl FnMut(Range<usize>, Range<usize>) -> bool,
) -> Option<()> {
    let mut i = skip_ws(json, 0);
    if json.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(json, i);
        match json.get(i)? {
            b'}' => return Some(()),
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = skip_string(json, i)?;
        if json[i + 1..key_end - 1].contains(&b'\\') {
            return None;
        }
        let key = i..key_end;
        i = skip_ws(json, key_end);
        if json.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(json, i + 1);
        let value_end = skip_value(json, i)?;
        if !f(key, i..value_end) {
            return Some(());
        }
        i = value_end;
    }
}

fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while i < json.len() && matches!(json[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// `i` is at an opening quote; returns the index just past the closing quote.
/// Jumps between quotes and backslashes with `memchr`: message text is most
/// of a chat body, and this is what keeps the scan at memory speed.
fn skip_string(json: &[u8], mut i: usize) -> Option<usize> {
    const SHORT: usize = 16;
    i += 1;
    loop {
        // Keys, ids and short values end within a few bytes, where a plain
        // loop beats memchr's setup; longer text takes memchr.
        let rest = json.get(i..)?;
        let head = &rest[..rest.len().min(SHORT)];
        i += match head.iter().position(|&b| b == b'"' || b == b'\\') {
            Some(k) => k,
            None => head.len() + memchr::memchr2(b'"', b'\\', &rest[head.len()..])?,
        };
        if json[i] == b'"' {
            return Some(i + 1);
        }
        i += 2;
    }
}

/// Copies the object or array starting at `i` into `out` without the
/// whitespace between its tokens (strings go over whole, as written);
/// returns the index just past its end.
pub fn copy_compact(json: &[u8], mut i: usize, out: &mut Vec<u8>) -> Option<usize> {
    let mut depth = 0usize;
    while let Some(&b) = json.get(i) {
        match b {
            b'"' => {
                let end = skip_string(json, i)?;
                out.extend_from_slice(&json[i..end]);
                i = end;
                continue;
            }
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1)?,
            _ => {}
        }
        out.push(b);
        i += 1;
        if depth == 0 {
            return Some(i);
        }
    }
    None
}

/// `i` is at the start of a value; returns the index just past its end.
pub fn skip_value(json: &[u8], mut i: usize) -> Option<usize> {
    match *json.get(i)? {
        b'"' => skip_string(json, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            while i < json.len() {
                match json[i] {
                    b'"' => {
                        i = skip_string(json, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            while i < json.len()
                && !matches!(json[i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                i += 1;
            }
            Some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_and_escaped_keys() {
        let json = br#" { "a" : 1, "b":{"c":[1,"]"]} ,"d":"x\"y"} "#;
        let m = top_level_members(json).unwrap();
        let keys: Vec<_> = m.iter().map(|(k, _)| &json[k.clone()]).collect();
        assert_eq!(keys, [&b"\"a\""[..], b"\"b\"", b"\"d\""]);
        assert_eq!(&json[m[1].1.clone()], br#"{"c":[1,"]"]}"#);
        assert_eq!(top_level_members(br#"{"\u0061":1}"#), None);
        assert_eq!(top_level_members(b"[1]"), None);
    }

    #[test]
    fn values_are_skipped_whole_across_block_edges() {
        for pad in 0..40 {
            let spaces = " ".repeat(pad);
            let json = format!(r#"{{"a":[1,{spaces}2,{{"b":"}}]\"{{"}}],"c":{spaces}{{}}}}   ,"#);
            let end = json.rfind('}').unwrap() + 1;
            assert_eq!(skip_value(json.as_bytes(), 0), Some(end), "{json}");
            let inner = json.find('[').unwrap();
            let inner_end = json.find(r#"],"c""#).unwrap() + 1;
            assert_eq!(
                skip_value(json.as_bytes(), inner),
                Some(inner_end),
                "{json}"
            );
        }
        assert_eq!(skip_value(br#"{"a":[1,2"#, 0), None);
        assert_eq!(skip_value(b"123,", 0), Some(3));
    }

    #[test]
    fn a_repeated_key_has_no_span() {
        assert_eq!(
            find_top_level_value(br#"{"model":"a","x":1,"model":"b"}"#, b"model"),
            None
        );
        assert_eq!(
            find_top_level_value(br#"{"model":"a","x":1}"#, b"model"),
            Some(9..12)
        );
    }
}

/// Calls `f(base, quotes, backslashes)` for `json` in steps of 64 bytes,
/// in order: bit i of each mask is `json[base + i]`, a `"` or a `\\`. The
/// bytes after the last whole step are one more step ending at the end,
/// the bits already seen cleared (a `json` shorter than a step: its bytes,
/// then zeros). AVX2 where the CPU has it (two compares and a mask per 32
/// bytes), else SSE2, which every x86_64 has: a string walker then pays
/// per step and per literal, not per mark.
#[inline(always)]
pub fn for_each_mark_block(json: &[u8], f: impl FnMut(usize, u64, u64)) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, just checked.
        return unsafe { mark_blocks_avx2(json, f) };
    }
    mark_blocks(json, f, marks_portable);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn mark_blocks_avx2(json: &[u8], f: impl FnMut(usize, u64, u64)) {
    mark_blocks(json, f, |step| marks_avx2(step));
}

/// The steps of [`for_each_mark_block`], one call site of `f`.
#[inline(always)]
fn mark_blocks(
    json: &[u8],
    mut f: impl FnMut(usize, u64, u64),
    marks: impl Fn(&[u8; 64]) -> (u64, u64),
) {
    let n = json.len();
    let mut padded = [0u8; 64];
    let mut at = 0;
    while at < n {
        let (base, step, fresh) = match json.get(at..).and_then(<[u8]>::first_chunk::<64>) {
            Some(step) => (at, step, u64::MAX),
            None => match json.last_chunk::<64>() {
                Some(step) => (n - 64, step, u64::MAX << (at - (n - 64))),
                None => {
                    // shorter than a step (then `at` is 0): zeros after it
                    padded[..n].copy_from_slice(json);
                    (0, &padded, u64::MAX)
                }
            },
        };
        let (quotes, slashes) = marks(step);
        f(base, quotes & fresh, slashes & fresh);
        at = base + 64;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn marks_avx2(step: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    let (halves, _) = step.as_chunks::<32>();
    let mut out = (0u64, 0u64);
    for (k, half) in halves.iter().enumerate() {
        // SAFETY: each half is 32 readable bytes; loadu needs no alignment.
        let v = unsafe { _mm256_loadu_si256(half.as_ptr().cast::<__m256i>()) };
        let mask = |b: u8| {
            u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8))) as u32)
        };
        out.0 |= mask(b'"') << (32 * k);
        out.1 |= mask(b'\\') << (32 * k);
    }
    out
}

/// The masks of one step: SSE2 on x86_64 (part of its baseline), byte by
/// byte elsewhere.
#[inline(always)]
fn marks_portable(step: &[u8; 64]) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        let (blocks, _) = step.as_chunks::<16>();
        let mut out = (0u64, 0u64);
        for (k, block) in blocks.iter().enumerate() {
            // SAFETY: SSE2 is part of the x86_64 baseline; each block is 16
            // readable bytes, and loadu needs no alignment.
            let (quotes, slashes) = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
                let mask =
                    |b: u8| _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8))) as u16;
                (mask(b'"'), mask(b'\\'))
            };
            out.0 |= u64::from(quotes) << (16 * k);
            out.1 |= u64::from(slashes) << (16 * k);
        }
        out
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        marks_bytes(step)
    }
}

#[cfg(any(test, not(target_arch = "x86_64")))]
fn marks_bytes(step: &[u8; 64]) -> (u64, u64) {
    let mut out = (0u64, 0u64);
    for (i, &b) in step.iter().enumerate() {
        out.0 |= u64::from(b == b'"') << i;
        out.1 |= u64::from(b == b'\\') << i;
    }
    out
}

#[cfg(test)]
mod mark_tests {
    #[test]
    fn every_quote_and_backslash_once_in_order_across_steps() {
        for len in [
            0usize, 1, 5, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 200,
        ] {
            let text: Vec<u8> = (0..len)
                .map(|i| match i % 7 {
                    0 => b'"',
                    3 => b'\\',
                    _ => b'a',
                })
                .collect();
            let want: Vec<(usize, bool)> = (0..len)
                .filter(|i| i % 7 == 0 || i % 7 == 3)
                .map(|i| (i, i % 7 == 0))
                .collect();
            type Marks<'a> = &'a mut dyn FnMut(usize, u64, u64);
            let collect = |with: &dyn Fn(&[u8], Marks)| {
                let mut got = Vec::new();
                with(&text, &mut |base, quotes, slashes| {
                    for i in 0..64 {
                        if (quotes | slashes) >> i & 1 != 0 {
                            got.push((base + i, quotes >> i & 1 != 0));
                        }
                    }
                });
                got
            };
            let fast = collect(&|t, f| super::for_each_mark_block(t, f));
            assert_eq!(fast, want, "len {len}");
            let portable = collect(&|t, f| super::mark_blocks(t, f, super::marks_portable));
            assert_eq!(portable, want, "len {len}, portable");
            let bytes = collect(&|t, f| super::mark_blocks(t, f, super::marks_bytes));
            assert_eq!(bytes, want, "len {len}, byte by byte");
        }
    }
}

/// Whether a body may declare tools: `"tools"` (or the legacy
/// `"functions"`) anywhere in it. Cheap, and a false hit only costs a
/// closer look.
pub fn declares_tools(json: &[u8]) -> bool {
    memchr::memmem::find(json, br#""tools""#).is_some()
        || memchr::memmem::find(json, br#""functions""#).is_some()
}
