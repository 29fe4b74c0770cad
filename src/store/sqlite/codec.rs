//! Ledger rows packed into one blob per batch. A row per SQLite insert cost
//! about 12 000 instructions a request — a quarter of the whole proxy path
//! — while packing costs a few hundred: the ledger keeps every request's
//! row, a batch of them to a table row, and each row keeps its own sequence
//! number (the batch's first plus its place in it).
//!
//! Three formats, all read. Version 3, written now, starts with
//! [`MAGIC3`] and is version 2 with the request id written as a step when
//! it continues the row before's: varint 0, then the id as version 2 has
//! it; or varint d > 0, the id is the row before's with the lowercase hex
//! counter of its last [`SEQ_DIGITS`] bytes d further on (a core's rows
//! come in its own order, so a batch is mostly steps of one: a byte, not
//! the id's 24, and the row a third smaller).
//!
//! Version 2 starts with [`MAGIC`];
//! per row: `ts_ms` as a zigzag varint of its difference to the row before;
//! `request_id` (varint length + UTF-8); `model`, `key_id`, `team`,
//! `end_user`, `served_by` as references (varint: 0 none, 1 a new string
//! follows — varint length + UTF-8 — and takes the next number, n + 2 the
//! string numbered n); the five token counts as varints; the three nano
//! sums as zigzag varints; `priced` (u8). A batch repeats the same few keys
//! and models: each is written once, and a row is about a third of its
//! version-1 size, which is what SQLite copies, zeroes and checksums.
//!
//! Version 1, little-endian, no header: per row, `ts_ms` (u64); `request_id`,
//! `model` (u32 length + UTF-8); `key_id`, `team`, `end_user`, `served_by`
//! (u8 flag, then as a string when 1); the five token counts (u64); the
//! three nano sums (i64); `priced` (u8). A version-1 blob starts with a
//! timestamp, whose top two bytes are zero before the year 10889, so it
//! never starts with the magic.
//!
//! Reading checks every length and reference against what is left, so a
//! damaged blob is an error, never a panic or a huge allocation.

use rustc_hash::FxHashMap;

use crate::governance::types::{LedgerRow, same_str};

/// A version-2 blob's first eight bytes.
const MAGIC: [u8; 8] = *b"TGL2\0\0\xff\xff";
/// A version-3 blob's first eight bytes.
const MAGIC3: [u8; 8] = *b"TGL3\0\0\xff\xff";

/// The lowercase hex digits a request id counts in at its end (ours are
/// `req_`, the process's salt and worker, and a 10-digit counter).
const SEQ_DIGITS: usize = 10;

/// The counter a request id ends with: its last [`SEQ_DIGITS`] bytes as
/// lowercase hex (any other byte: none). Its last eight digits are read as
/// one word (a row's id is read on every ledger row).
fn seq_counter(id: &[u8]) -> Option<u64> {
    let (head, low) = id
        .get(id.len().checked_sub(SEQ_DIGITS)?..)?
        .split_last_chunk::<8>()?;
    let high = head.iter().try_fold(0u64, |n, &b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some(n << 4 | u64::from(digit))
    })?;
    Some(high << 32 | u64::from(hex8(u64::from_le_bytes(*low))?))
}

/// Eight lowercase hex digits (the first in the low byte) as their value,
/// or none when a byte is not one. Each byte's range is tested in its own
/// lane: below 0x80, adding `0x80 - lo` sets its high bit exactly when it
/// is `lo` or more, and carries into no other byte.
fn hex8(x: u64) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    if x & HIGH != 0 {
        return None;
    }
    let at_least = |lo: u64| (x + ONES * (0x80 - lo)) & HIGH;
    let digit = at_least(0x30) & !at_least(0x3a);
    let letter = at_least(0x61) & !at_least(0x67);
    if digit | letter != HIGH {
        return None;
    }
    // '0'..'9' are their low nibble, 'a'..'f' theirs plus 9.
    let nibbles = (x & (ONES * 0x0f)) + (letter >> 7) * 9;
    // Pairs, then fours, then all eight; the first digit is the highest.
    let pairs = (nibbles << 4 | nibbles >> 8) & 0x00ff_00ff_00ff_00ff;
    let fours = (pairs << 8 | pairs >> 16) & 0x0000_ffff_0000_ffff;
    Some((fours << 16 | fours >> 32) as u32)
}

/// How far `id` continues `prev` (whose counter is `prev_n`): the same
/// length, the same bytes before the counter, a larger counter; with
/// `id`'s counter.
fn seq_step(prev: &[u8], prev_n: Option<u64>, id: &[u8]) -> Option<(u64, u64)> {
    let prev_n = prev_n?;
    let at = id.len().checked_sub(SEQ_DIGITS)?;
    if id.len() != prev.len() || id[..at] != prev[..at] {
        return None;
    }
    let n = seq_counter(id)?;
    n.checked_sub(prev_n).filter(|&d| d > 0).map(|d| (d, n))
}

/// The id `d` steps past `prev`, or none when `prev` has no counter or
/// the step leaves its digits.
fn seq_next(prev: &[u8], d: u64) -> Option<String> {
    let n = seq_counter(prev)?.checked_add(d)?;
    if n >> (4 * SEQ_DIGITS) != 0 {
        return None;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = prev.to_vec();
    let at = id.len() - SEQ_DIGITS;
    for (i, slot) in id[at..].iter_mut().enumerate() {
        *slot = HEX[(n >> (4 * (SEQ_DIGITS - 1 - i)) & 15) as usize];
    }
    String::from_utf8(id).ok()
}

/// Packs `rows` in version 3.
pub fn encode(rows: &[LedgerRow]) -> Vec<u8> {
    encode_with(rows, true)
}

/// Version 3, or (not `steps`) version 2, kept to test that stored
/// version-2 blobs still read.
fn encode_with(rows: &[LedgerRow], steps: bool) -> Vec<u8> {
    // A row takes about 30 bytes, and its request id when not a step.
    let mut out = Vec::with_capacity(MAGIC3.len() + rows.len() * 64);
    out.extend_from_slice(if steps { &MAGIC3 } else { &MAGIC });
    let mut prev_id: &[u8] = &[];
    let mut prev_n: Option<u64> = None;
    let mut buf = Packed::default();
    let mut numbers: FxHashMap<&str, u64> = FxHashMap::default();
    let mut prev: [Option<&str>; 5] = [None; 5];
    let mut prev_refs = [0u64; 5];
    let mut prev_ts = 0u64;
    for r in rows {
        // A row's fixed-size parts go through a stack buffer, one copy into
        // `out` each: a varint is at most 10 bytes, so 16 of them fit.
        buf.varint(zigzag(r.ts_ms.wrapping_sub(prev_ts) as i64));
        prev_ts = r.ts_ms;
        let id = r.request_id.as_bytes();
        match seq_step(prev_id, prev_n.filter(|_| steps), id) {
            Some((d, n)) => {
                buf.varint(d);
                prev_n = Some(n);
            }
            None => {
                if steps {
                    buf.varint(0);
                }
                buf.varint(id.len() as u64);
                // A short id goes through the buffer too: one copy into `out`.
                if !buf.bytes(id) {
                    buf.flush(&mut out);
                    out.extend_from_slice(id);
                }
                prev_n = seq_counter(id);
            }
        }
        prev_id = id;
        let fields = [
            Some(&*r.model),
            r.key_id.as_deref(),
            r.team.as_deref(),
            r.end_user.as_deref(),
            r.served_by.as_deref(),
        ];
        for (i, field) in fields.into_iter().enumerate() {
            // The row before had the same string: its number, no look-up.
            let reference = if same_str(prev[i], field) {
                prev_refs[i]
            } else {
                match field {
                    None => 0,
                    Some(s) => match numbers.get(s) {
                        Some(&n) => n + 2,
                        None => {
                            // A new string: `1` and the string stand for
                            // the reference, which later rows use.
                            let n = numbers.len() as u64;
                            numbers.insert(s, n);
                            buf.varint(1);
                            buf.varint(s.len() as u64);
                            buf.flush(&mut out);
                            out.extend_from_slice(s.as_bytes());
                            prev[i] = field;
                            prev_refs[i] = n + 2;
                            continue;
                        }
                    },
                }
            };
            buf.varint(reference);
            prev[i] = field;
            prev_refs[i] = reference;
        }
        for n in [
            r.prompt_tokens,
            r.cached_tokens,
            r.cache_write_tokens,
            r.completion_tokens,
            r.reasoning_tokens,
        ] {
            buf.varint(n);
        }
        for n in [r.provider_nanos, r.charge_nanos, r.gateway_nanos] {
            buf.varint(zigzag(n));
        }
        buf.byte(u8::from(r.priced));
        buf.flush(&mut out);
    }
    out
}

/// Varints gathered on the stack, copied out together. Between two
/// flushes at most 17 varints (170 bytes), a byte and a request id of at
/// most [`Packed::ID`] bytes are added.
struct Packed {
    bytes: [u8; 256],
    /// A `u8`, so that indexing the 256 bytes needs no bounds check.
    len: u8,
}

impl Default for Packed {
    fn default() -> Self {
        Packed {
            bytes: [0; 256],
            len: 0,
        }
    }
}

impl Packed {
    /// The longest request id the buffer takes.
    const ID: usize = 64;
    /// What a flush copies whole.
    const WHOLE: usize = 64;

    /// Adds `b` when it is at most [`Packed::ID`] bytes; false (nothing
    /// added) when longer.
    #[inline]
    fn bytes(&mut self, b: &[u8]) -> bool {
        if b.len() > Packed::ID {
            return false;
        }
        let at = usize::from(self.len);
        self.bytes[at..at + b.len()].copy_from_slice(b);
        self.len += b.len() as u8;
        true
    }

    #[inline]
    fn varint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.bytes[usize::from(self.len)] = n as u8 | 0x80;
            self.len += 1;
            n >>= 7;
        }
        self.bytes[usize::from(self.len)] = n as u8;
        self.len += 1;
    }

    fn byte(&mut self, b: u8) {
        self.bytes[usize::from(self.len)] = b;
        self.len += 1;
    }

    /// A row's varints (most are a byte): up to [`Packed::WHOLE`] bytes are
    /// copied as that many — a fixed-size copy is a few moves, where a
    /// copy of a length known only here is a `memcpy` call — and the
    /// vector cut back to the bytes written.
    fn flush(&mut self, out: &mut Vec<u8>) {
        let len = usize::from(self.len);
        let at = out.len();
        if len <= Packed::WHOLE {
            out.extend_from_slice(&self.bytes[..Packed::WHOLE]);
            out.truncate(at + len);
        } else {
            out.extend_from_slice(&self.bytes[..len]);
        }
        self.len = 0;
    }
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// Version 1, kept to test that stored version-1 blobs still read.
#[cfg(test)]
fn encode_v1(rows: &[LedgerRow]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * 160);
    for r in rows {
        out.extend_from_slice(&r.ts_ms.to_le_bytes());
        put_str(&mut out, &r.request_id);
        put_str(&mut out, &r.model);
        for s in [
            r.key_id.as_deref(),
            r.team.as_deref(),
            r.end_user.as_deref(),
            r.served_by.as_deref(),
        ] {
            match s {
                Some(s) => {
                    out.push(1);
                    put_str(&mut out, s);
                }
                None => out.push(0),
            }
        }
        for n in [
            r.prompt_tokens,
            r.cached_tokens,
            r.cache_write_tokens,
            r.completion_tokens,
            r.reasoning_tokens,
        ] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        for n in [r.provider_nanos, r.charge_nanos, r.gateway_nanos] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.push(u8::from(r.priced));
    }
    out
}

#[cfg(test)]
fn put_str(out: &mut Vec<u8>, s: &str) {
    // Strings come from the gateway, bounded far below 4 GiB.
    out.extend_from_slice(&(s.len().min(u32::MAX as usize) as u32).to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..s.len().min(u32::MAX as usize)]);
}

/// The rows of one blob, or what is wrong with it.
pub fn decode(blob: &[u8], count: usize) -> Result<Vec<LedgerRow>, String> {
    if let Some(rest) = blob.strip_prefix(&MAGIC3) {
        return decode_v2(rest, count, true);
    }
    match blob.strip_prefix(&MAGIC) {
        Some(rest) => decode_v2(rest, count, false),
        None => decode_v1(blob, count),
    }
}

/// Version 2, or version 3 (`steps`: request ids may be steps).
fn decode_v2(blob: &[u8], count: usize, steps: bool) -> Result<Vec<LedgerRow>, String> {
    let mut strings: Vec<String> = Vec::new();
    let mut ts = 0u64;
    let mut prev_id = String::new();
    decode_rows(blob, count, 16, |mut r| {
        ts = ts.wrapping_add(unzigzag(r.varint()?) as u64);
        let request_id = match steps {
            true => match r.varint()? {
                0 => r.varint_string()?,
                d => seq_next(prev_id.as_bytes(), d)?,
            },
            false => r.varint_string()?,
        };
        if steps {
            prev_id.clone_from(&request_id);
        }
        let mut field = || -> Option<Option<String>> {
            match r.varint()? {
                0 => Some(None),
                1 => {
                    let s = r.varint_string()?;
                    strings.push(s.clone());
                    Some(Some(s))
                }
                n => {
                    let n = usize::try_from(n - 2).ok()?;
                    strings.get(n).cloned().map(Some)
                }
            }
        };
        let ids = Ids {
            model: field()??,
            key_id: field()?,
            team: field()?,
            end_user: field()?,
            served_by: field()?,
        };
        let mut numbers = [0u64; 8];
        for n in &mut numbers {
            *n = r.varint()?;
        }
        Some(ids.row(ts, request_id, numbers, unzigzag, r.u8()? == 1))
    })
}

fn decode_v1(blob: &[u8], count: usize) -> Result<Vec<LedgerRow>, String> {
    decode_rows(blob, count, 64, |mut r| {
        let ts_ms = r.u64()?;
        let request_id = r.string()?;
        let model = r.string()?;
        let mut opt = || -> Option<Option<String>> {
            match r.u8()? {
                0 => Some(None),
                1 => Some(Some(r.string()?)),
                _ => None,
            }
        };
        let ids = Ids {
            model,
            key_id: opt()?,
            team: opt()?,
            end_user: opt()?,
            served_by: opt()?,
        };
        let mut numbers = [0u64; 8];
        for n in &mut numbers {
            *n = r.u64()?;
        }
        Some(ids.row(ts_ms, request_id, numbers, |n| n as i64, r.u8()? == 1))
    })
}

/// A row's strings, as either version reads them.
struct Ids {
    model: String,
    key_id: Option<String>,
    team: Option<String>,
    end_user: Option<String>,
    served_by: Option<String>,
}

impl Ids {
    /// The row, with its numbers in the order both versions write them:
    /// five token counts, then three nano sums (as `signed` reads them).
    fn row(
        self,
        ts_ms: u64,
        request_id: String,
        numbers: [u64; 8],
        signed: fn(u64) -> i64,
        priced: bool,
    ) -> LedgerRow {
        let [
            prompt,
            cached,
            cache_write,
            completion,
            reasoning,
            provider,
            charge,
            gateway,
        ] = numbers;
        let [provider, charge, gateway] = [provider, charge, gateway].map(signed);
        LedgerRow {
            ts_ms,
            request_id,
            key_id: self.key_id.map(Into::into),
            team: self.team.map(Into::into),
            end_user: self.end_user,
            model: self.model.into(),
            served_by: self.served_by.map(Into::into),
            prompt_tokens: prompt,
            cached_tokens: cached,
            cache_write_tokens: cache_write,
            completion_tokens: completion,
            reasoning_tokens: reasoning,
            provider_nanos: provider,
            charge_nanos: charge,
            gateway_nanos: gateway,
            priced,
        }
    }
}

/// `count` rows, each read by `row` (`None`: damaged), and nothing after
/// them. `min_row` bytes a row takes at least: the first allocation is
/// bounded by what the blob can hold.
fn decode_rows(
    mut blob: &[u8],
    count: usize,
    min_row: usize,
    mut row: impl FnMut(Reader<'_, '_>) -> Option<LedgerRow>,
) -> Result<Vec<LedgerRow>, String> {
    let mut rows = Vec::with_capacity(count.min(blob.len() / min_row + 1));
    for i in 0..count {
        let one = row(Reader(&mut blob));
        rows.push(one.ok_or_else(|| format!("row {i} of {count} is damaged"))?);
    }
    if !blob.is_empty() {
        return Err(format!("{} bytes follow the last row", blob.len()));
    }
    Ok(rows)
}

struct Reader<'a, 'b>(&'a mut &'b [u8]);

impl Reader<'_, '_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        *self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    /// A string as versions 2 and 3 write it: varint length, UTF-8.
    fn varint_string(&mut self) -> Option<String> {
        let len = usize::try_from(self.varint()?).ok()?;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }

    /// At most ten bytes; a longer one, or one past 64 bits, is damage.
    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            if i == 9 && b > 1 {
                return None;
            }
            n |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Some(n);
            }
        }
        None
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_le_bytes)
    }

    fn string(&mut self) -> Option<String> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: u64) -> LedgerRow {
        LedgerRow {
            ts_ms: 1_700_000_000_000 + i,
            request_id: format!("req_{i}"),
            key_id: i.is_multiple_of(2).then(|| "k".into()),
            team: None,
            end_user: Some("ünïcode-user".into()),
            model: "gpt-4o".into(),
            served_by: Some("openai/gpt-4o".into()),
            prompt_tokens: i,
            cached_tokens: 1,
            cache_write_tokens: 2,
            completion_tokens: 3,
            reasoning_tokens: 4,
            provider_nanos: -5,
            charge_nanos: i64::MAX,
            gateway_nanos: 7,
            priced: i.is_multiple_of(3),
        }
    }

    #[test]
    fn the_counter_reads_every_hex_digit_at_every_place_and_nothing_else() {
        let reference = |id: &[u8]| {
            let tail = std::str::from_utf8(&id[id.len().checked_sub(SEQ_DIGITS)?..]).ok()?;
            let lower = tail.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            lower.then(|| u64::from_str_radix(tail, 16).ok()).flatten()
        };
        let base = *b"req_0a1b2c3d0100000000ff";
        for at in base.len() - SEQ_DIGITS - 1..base.len() {
            for b in 0..=255u8 {
                let mut id = base;
                id[at] = b;
                assert_eq!(seq_counter(&id), reference(&id), "{at} {b:#x}");
            }
        }
        for id in [
            &b"ffffffffff"[..],
            b"0000000000",
            b"123456789",
            b"",
            b"x0123456789abcdef",
        ] {
            assert_eq!(seq_counter(id), reference(id), "{id:?}");
        }
    }

    #[test]
    fn rows_round_trip() {
        let mut rows: Vec<_> = (0..50).map(row).collect();
        // Out of order, extreme and repeated-then-new values.
        rows[7].ts_ms = 0;
        rows[8].ts_ms = u64::MAX;
        rows[9].provider_nanos = i64::MIN;
        rows[10].prompt_tokens = u64::MAX;
        rows[11].served_by = None;
        rows[12].model = "another".into();
        rows[13].team = Some("gpt-4o".into());
        // Request ids around the longest the row buffer takes, and a client's
        // longest (128 bytes).
        for (i, len) in [(14, 63), (15, 64), (16, 65), (17, 128), (18, 0)] {
            rows[i].request_id = "r".repeat(len);
        }
        assert_eq!(decode(&encode(&rows), rows.len()).unwrap(), rows);
        assert_eq!(decode(&encode(&[]), 0).unwrap(), vec![]);
        assert_eq!(
            decode(&encode_with(&rows, false), rows.len()).unwrap(),
            rows
        );
        assert_eq!(decode(&encode_v1(&rows), rows.len()).unwrap(), rows);
        assert_eq!(decode(&encode_v1(&[]), 0).unwrap(), vec![]);
    }

    #[test]
    fn request_ids_in_sequence_are_steps_and_every_other_id_is_kept_as_it_is() {
        let ids = [
            "req_0a1b2c3d010000000001",
            "req_0a1b2c3d010000000002",
            // another worker's, then back with a gap
            "req_0a1b2c3d020000000007",
            "req_0a1b2c3d010000000005",
            "req_0a1b2c3d01000000000f",
            "req_0a1b2c3d010000000010",
            // the same again, an older one, a client's own ids
            "req_0a1b2c3d010000000010",
            "req_0a1b2c3d01000000000e",
            "req_0a1b2c3d01000000000F",
            "my-request-42",
            "x",
            "",
            "ünïcode-0000000001",
            "ünïcode-0000000002",
            // the counter's last value, then a step it cannot take
            "req_0a1b2c3d01fffffffffe",
            "req_0a1b2c3d01ffffffffff",
            "req_0a1b2c3d020000000000",
            "0000000009",
            "000000000a",
        ];
        let rows: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| LedgerRow {
                request_id: (*id).to_owned(),
                ..row(i as u64)
            })
            .collect();
        let blob = encode(&rows);
        assert_eq!(decode(&blob, rows.len()).unwrap(), rows);
        // A step past the counter's digits, or from an id without one, is damage.
        assert_eq!(seq_next(b"req_ffffffffff", 1), None);
        assert_eq!(
            seq_next(b"req_0000000001", 2).as_deref(),
            Some("req_0000000003")
        );
        assert_eq!(seq_next(b"short", 1), None);
        assert_eq!(seq_next(b"req_000000000G", 1), None);
        // Our ids, as a core numbers them: one byte each after the first.
        let ours: Vec<_> = (0..100)
            .map(|i| LedgerRow {
                request_id: format!("req_0a1b2c3d01{:010x}", 0xfff0 + i),
                ..row(i)
            })
            .collect();
        let (v3, v2) = (encode(&ours).len(), encode_with(&ours, false).len());
        assert!(v3 + 100 * 22 <= v2, "version 3 {v3} bytes, version 2 {v2}");
        assert_eq!(decode(&encode(&ours), ours.len()).unwrap(), ours);
    }

    #[test]
    fn a_batch_of_one_key_and_model_packs_small() {
        let rows: Vec<_> = (0..100).map(row).collect();
        let (v2, v1) = (encode(&rows).len(), encode_v1(&rows).len());
        assert!(v2 * 2 < v1, "version 2 {v2} bytes, version 1 {v1}");
    }

    #[test]
    fn a_damaged_blob_is_an_error_never_a_panic() {
        let step = |i: u64| LedgerRow {
            request_id: format!("req_0a1b2c3d01{i:010x}"),
            ..row(i)
        };
        for blob in [
            encode(&[row(1), row(2)]),
            encode(&[step(1), step(2)]),
            encode_with(&[row(1), row(2)], false),
            encode_v1(&[row(1), row(2)]),
        ] {
            for cut in 0..blob.len() {
                assert!(decode(&blob[..cut], 2).is_err(), "cut at {cut}");
            }
            assert!(decode(&blob, 3).is_err());
            assert!(decode(&blob, 1).is_err(), "trailing bytes");
        }
        let mut huge = encode_v1(&[row(1), row(2)]);
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge, 2).is_err());
        // A length or a reference past what the blob holds.
        let mut long = encode(&[row(1)]);
        long[9] = 0x7f;
        assert!(decode(&long, 1).is_err());
        let mut missing = MAGIC.to_vec();
        missing.extend_from_slice(&[0, 0, 9]);
        assert!(decode(&missing, 1).is_err());
        let mut endless = MAGIC.to_vec();
        endless.extend_from_slice(&[0xff; 12]);
        assert!(decode(&endless, 1).is_err());
    }
}
