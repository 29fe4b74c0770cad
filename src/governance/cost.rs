//! What a request costs, from its usage and the catalog's prices: integer
//! nano-USD (a price of `$p` per million tokens is `p × 1000` nanos a token).

use crate::canonical::Usage;
use crate::context_window::catalog::{ModelSpec, Price};

/// A cost, and whether every price it needed was known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub nanos: i64,
    pub priced: bool,
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, other: Cost) {
        self.nanos += other.nanos;
        self.priced &= other.priced;
    }
}

fn part(tokens: u64, price: Option<f64>, priced: &mut bool) -> f64 {
    if tokens == 0 {
        return 0.0;
    }
    match price {
        Some(p) => tokens as f64 * p * 1000.0,
        None => {
            *priced = false;
            0.0
        }
    }
}

/// What the provider bills for `usage` on `spec`: uncached input, cache
/// reads, cache writes (the 5-minute price: the one a plain
/// `cache_control` buys), output, reasoning — each at the tier the prompt's
/// size selects.
pub fn of_usage(spec: Option<&ModelSpec>, usage: &Usage) -> Cost {
    let Some(spec) = spec else {
        let any = usage.prompt_tokens + usage.completion_tokens > 0;
        return Cost {
            nanos: 0,
            priced: !any,
        };
    };
    let price = price_for(spec, usage.prompt_tokens);
    let mut priced = true;
    let cached = usage.cached_prompt_tokens.min(usage.prompt_tokens);
    let written = usage
        .cache_creation_tokens
        .min(usage.prompt_tokens - cached);
    let fresh = usage.prompt_tokens - cached - written;
    let reasoning = usage.reasoning_tokens.min(usage.completion_tokens);
    let output = usage.completion_tokens - reasoning;
    let nanos = part(fresh, price.input, &mut priced)
        + part(cached, price.cached_input.or(price.input), &mut priced)
        + part(written, price.cache_write_5m.or(price.input), &mut priced)
        + part(output, price.output, &mut priced)
        + part(reasoning, price.reasoning.or(price.output), &mut priced);
    Cost {
        nanos: ceil(nanos),
        priced,
    }
}

/// `x.ceil() as i64` for a cost (not negative, far below 2^63 nanos),
/// without the library call `ceil` is on a baseline x86_64.
fn ceil(x: f64) -> i64 {
    let whole = x as i64;
    whole + i64::from((whole as f64) < x)
}

/// The reservation for a request not yet answered: its estimated prompt
/// and the output it may produce, all at the uncached prices — what
/// [`of_usage`] gives for that usage, without its other three kinds.
pub fn estimate(spec: Option<&ModelSpec>, prompt_tokens: u64, output_tokens: u64) -> i64 {
    let Some(spec) = spec else {
        return 0;
    };
    let price = price_for(spec, prompt_tokens);
    // whether it is priced is not asked of a reservation
    let mut priced = true;
    ceil(
        part(prompt_tokens, price.input, &mut priced)
            + part(output_tokens, price.output, &mut priced),
    )
}

/// The prices of `spec`'s tier for a prompt of `prompt_tokens`.
fn price_for(spec: &ModelSpec, prompt_tokens: u64) -> &Price {
    spec.price_for_prompt(prompt_tokens.min(u32::MAX as u64) as u32)
}

/// `x-tollgate-cost`: USD with nine decimals, trailing zeros cut
/// (`0.000123`), on the stack: at most 21 bytes (a sign, ten digits, a
/// point and nine decimals). Written by hand: it is on every priced answer,
/// and needs no allocation.
#[derive(Clone, Copy)]
pub struct CostText {
    bytes: [u8; 24],
    len: u8,
}

impl std::ops::Deref for CostText {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

pub fn cost_text(nanos: i64) -> CostText {
    let mut text = CostText {
        bytes: [0; 24],
        len: 0,
    };
    let mut at = 0;
    if nanos < 0 {
        text.bytes[0] = b'-';
        at = 1;
    }
    let n = nanos.unsigned_abs();
    let (mut whole, frac) = (n / 1_000_000_000, (n % 1_000_000_000) as u32);
    // The whole part's digits, last first into the tail of a scratch.
    let mut scratch = [0u8; 20];
    let mut start = scratch.len();
    loop {
        start -= 1;
        scratch[start] = b'0' + (whole % 10) as u8;
        whole /= 10;
        if whole == 0 {
            break;
        }
    }
    let digits = &scratch[start..];
    text.bytes[at..at + digits.len()].copy_from_slice(digits);
    at += digits.len();
    text.bytes[at] = b'.';
    at += 1;
    // The nine decimals two at a time, in 32-bit arithmetic (a cost's
    // decimals are most of its digits), then their trailing zeros cut (at
    // least one digit stays).
    let decimals = &mut text.bytes[at..at + 9];
    let mut frac = frac;
    for pair in decimals[1..].rchunks_exact_mut(2) {
        let p = (frac % 100) as usize * 2;
        pair.copy_from_slice(&PAIRS[p..p + 2]);
        frac /= 100;
    }
    decimals[0] = b'0' + frac as u8;
    let zeros = decimals[1..]
        .iter()
        .rev()
        .take_while(|&&d| d == b'0')
        .count();
    text.len = (at + 9 - zeros) as u8;
    text
}

/// `00` to `99`, each two bytes.
const PAIRS: &[u8; 200] = &{
    let mut out = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        out[2 * i] = b'0' + (i / 10) as u8;
        out[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    out
};

/// The cost header of a whole answer that cost `cost`; none when a price
/// it needed is unknown.
pub fn header(cost: Cost) -> Option<(&'static str, CostText)> {
    cost.priced
        .then(|| ("x-tollgate-cost", cost_text(cost.nanos)))
}

/// The prices a stream's final usage is costed at, when its client asked.
#[derive(Clone)]
pub struct Pricing(pub Option<std::sync::Arc<ModelSpec>>);

impl Pricing {
    pub fn price(&self, usage: &Usage) -> i64 {
        of_usage(self.0.as_deref(), usage).nanos
    }
}

/// Copies `event` to `out` with `"cost":<USD>` as the first member of its
/// last `usage` object (the final usage chunk or event a client asked to
/// see the cost in); an event without one is copied as it is.
pub fn inject(event: &[u8], nanos: i64, out: &mut Vec<u8>) {
    const USAGE: &[u8] = b"\"usage\":{";
    let Some(at) = memchr::memmem::rfind(event, USAGE) else {
        out.extend_from_slice(event);
        return;
    };
    let open = at + USAGE.len();
    out.extend_from_slice(&event[..open]);
    out.extend_from_slice(b"\"cost\":");
    out.extend_from_slice(&cost_text(nanos));
    if event.get(open) != Some(&b'}') {
        out.push(b',');
    }
    out.extend_from_slice(&event[open..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context_window::catalog::Catalog;

    #[test]
    fn each_kind_of_token_is_priced_apart() {
        let catalog = Catalog::builtin();
        let spec = catalog.get("claude-sonnet-4-5").expect("in the catalog");
        let p = spec.price;
        let usage = Usage {
            prompt_tokens: 1_000,
            completion_tokens: 500,
            total_tokens: 1_500,
            cached_prompt_tokens: 200,
            cache_creation_tokens: 100,
            reasoning_tokens: 0,
        };
        let cost = of_usage(Some(spec), &usage);
        let want = 700.0 * p.input.unwrap() * 1000.0
            + 200.0 * p.cached_input.unwrap() * 1000.0
            + 100.0 * p.cache_write_5m.unwrap() * 1000.0
            + 500.0 * p.output.unwrap() * 1000.0;
        assert_eq!(cost.nanos, want.ceil() as i64);
        assert!(cost.priced);
    }

    #[test]
    fn an_estimate_is_the_cost_of_its_usage() {
        let catalog = Catalog::builtin();
        let mut specs: Vec<_> = catalog.specs().collect();
        assert!(
            specs.iter().any(|s| !s.tiers.is_empty()),
            "a tiered price is tried"
        );
        specs.truncate(400);
        for spec in specs {
            for prompt in [0, 1, 3, 999, 200_000, 200_001, 1 << 31, 1 << 33] {
                for output in [0, 1, 4096, 1 << 40] {
                    let usage = Usage {
                        prompt_tokens: prompt,
                        completion_tokens: output,
                        total_tokens: prompt.saturating_add(output),
                        ..Usage::default()
                    };
                    let whole = of_usage(Some(spec), &usage).nanos;
                    assert_eq!(
                        estimate(Some(spec), prompt, output),
                        whole,
                        "{prompt} {output}"
                    );
                }
            }
        }
        assert_eq!(estimate(None, 10, 10), 0);
    }

    #[test]
    fn cost_headers_read_as_decimal_usd() {
        assert_eq!(&*cost_text(9000), b"0.000009");
        assert_eq!(&*cost_text(1_500_000_000), b"1.5");
        assert_eq!(&*cost_text(0), b"0.0");
        assert_eq!(&*cost_text(12_000_000_001), b"12.000000001");
        assert_eq!(&*cost_text(-5), b"-0.000000005");
        assert_eq!(&*cost_text(i64::MIN), b"-9223372036.854775808");
        assert_eq!(&*cost_text(i64::MAX), b"9223372036.854775807");
        assert_eq!(&*cost_text(1_000_000_000), b"1.0");
        // Against the plain formatting, over every digit count and sign.
        let mut n: i64 = 1;
        for _ in 0..200 {
            for v in [n, -n, n.saturating_add(1), n.saturating_mul(10), n - 1] {
                let u = v.unsigned_abs();
                let frac = format!("{:09}", u % 1_000_000_000);
                let frac = frac.trim_end_matches('0');
                let frac = if frac.is_empty() { "0" } else { frac };
                let sign = if v < 0 { "-" } else { "" };
                let want = format!("{sign}{}.{frac}", u / 1_000_000_000);
                assert_eq!(&*cost_text(v), want.as_bytes(), "{v}");
            }
            n = n.wrapping_mul(7).wrapping_add(3).rem_euclid(i64::MAX / 8);
        }
    }

    #[test]
    fn costs_round_up_to_the_next_nano_as_ceil_does() {
        for x in [
            0.0,
            0.2,
            0.5,
            0.999,
            1.0,
            1.000_001,
            2.5,
            123_456.0,
            123_456.7,
            9.0e15,
            9.0e15 + 1.5,
        ] {
            assert_eq!(super::ceil(x), x.ceil() as i64, "{x}");
        }
    }

    #[test]
    fn the_cost_goes_into_the_last_usage_object() {
        let mut out = Vec::new();
        inject(
            b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\n",
            9000,
            &mut out,
        );
        assert_eq!(
            out,
            b"data: {\"choices\":[],\"usage\":{\"cost\":0.000009,\"prompt_tokens\":3}}\n\n"
        );
        out.clear();
        inject(b"{\"usage\":{}}", 1_500_000_000, &mut out);
        assert_eq!(out, b"{\"usage\":{\"cost\":1.5}}");
        out.clear();
        inject(b"data: {}\n\n", 1, &mut out);
        assert_eq!(out, b"data: {}\n\n");
    }

    #[test]
    fn an_unknown_price_is_flagged_not_zeroed_silently() {
        let usage = Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
            total_tokens: 15,
            ..Usage::default()
        };
        assert_eq!(
            of_usage(None, &usage),
            Cost {
                nanos: 0,
                priced: false
            }
        );
        assert!(of_usage(None, &Usage::default()).priced);
    }
}
