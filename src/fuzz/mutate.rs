//! The fuzzer's deterministic randomness and the mutations every target
//! shares: plain byte edits and line-level edits over `\n`-separated text.

/// splitmix64: tiny, fast, and the same sequence for the same `--seed`.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// FNV-1a: names corpus files and seeds per-input split positions, so a
/// replayed input is split the same way as when it failed.
pub fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Bytes that make parsers take unusual branches.
const INTERESTING: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"\0",
    b"\xff",
    b"\xc3\xa9",
    b"\xf0\x9f\x98\x80",
    b"\xed\xa0\x80",
    b"\"",
    b"\\",
    b":",
    b";",
    b" ",
    b"\t",
    b"{",
    b"}",
    b"[",
    b"]",
    b"0",
    b"-1",
    b"18446744073709551616",
    b"\xef\xbb\xbf",
];

/// One plain byte-level edit: flip, set, insert, delete, duplicate a range,
/// insert an interesting token, or truncate.
pub fn byte_edit(rng: &mut Rng, input: &mut Vec<u8>) {
    let len = input.len();
    match rng.below(7) {
        0 if len > 0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            input[i] = rng.next_u64() as u8;
        }
        2 => {
            let at = rng.below(len + 1);
            let token = rng.pick(INTERESTING);
            input.splice(at..at, token.iter().copied());
        }
        3 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(16));
            input.drain(at..at + n);
        }
        4 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(64));
            let copy = input[at..at + n].to_vec();
            let to = rng.below(len + 1);
            input.splice(to..to, copy);
        }
        5 if len > 0 => input.truncate(rng.below(len)),
        _ => {
            let at = rng.below(len + 1);
            input.insert(at, rng.next_u64() as u8);
        }
    }
}

/// Splits into lines keeping each line's terminator, so joining them gives
/// the input back byte for byte.
pub fn lines(input: &[u8]) -> Vec<Vec<u8>> {
    input
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// One line-level edit: drop, duplicate, swap, move, or take a line from
/// another input of the pool.
pub fn line_edit(rng: &mut Rng, lines: &mut Vec<Vec<u8>>, pool: &[Vec<u8>]) {
    if lines.is_empty() {
        return;
    }
    let i = rng.below(lines.len());
    match rng.below(5) {
        0 => {
            lines.remove(i);
        }
        1 => {
            let copy = lines[i].clone();
            lines.insert(rng.below(lines.len() + 1), copy);
        }
        2 => {
            let j = rng.below(lines.len());
            lines.swap(i, j);
        }
        3 => {
            let line = lines.remove(i);
            lines.insert(rng.below(lines.len() + 1), line);
        }
        _ => {
            let other = lines_of_pool(rng, pool);
            if !other.is_empty() {
                lines.insert(i, rng.pick(&other).clone());
            }
        }
    }
}

fn lines_of_pool(rng: &mut Rng, pool: &[Vec<u8>]) -> Vec<Vec<u8>> {
    if pool.is_empty() {
        Vec::new()
    } else {
        lines(rng.pick::<Vec<u8>>(pool))
    }
}

/// Split points for feeding `len` bytes in pieces: every byte, a fixed small
/// step, or random cuts, chosen by `rng`.
pub fn split_points(rng: &mut Rng, len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = match rng.below(3) {
        0 => (1..len).collect(),
        1 => (1..len).step_by(1 + rng.below(7)).collect(),
        _ => (0..rng.below(12)).map(|_| rng.below(len + 1)).collect(),
    };
    cuts.push(len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Feeds `input` to `feed` in the pieces `cuts` describes.
pub fn feed_split(input: &[u8], cuts: &[usize], mut feed: impl FnMut(&[u8])) {
    let mut from = 0;
    for &to in cuts {
        if to > from {
            feed(&input[from..to]);
            from = to;
        }
    }
    if from < input.len() {
        feed(&input[from..]);
    }
}
