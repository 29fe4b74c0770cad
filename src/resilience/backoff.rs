//! How long to wait before a retry: capped exponential backoff with full
//! jitter, and the server's own Retry-After / retry-after-ms when it sends one.

/// Full jitter: `unit` (in [0,1), passed in) × min(max_ms, base_ms·2^attempt). attempt 0 = first retry.
///
/// Full jitter spreads the retries of many clients that failed together over
/// the whole interval instead of bunching them at its end.
pub fn backoff_ms(attempt: u32, base_ms: u64, max_ms: u64, unit: f64) -> u64 {
    let ceiling = 1u64
        .checked_shl(attempt)
        .and_then(|factor| base_ms.checked_mul(factor))
        .map_or(max_ms, |exp| exp.min(max_ms));
    // NaN and out-of-range units are caller bugs; clamp rather than panic.
    let unit = if unit.is_nan() {
        0.0
    } else {
        unit.clamp(0.0, 1.0)
    };
    // u64 → f64 rounds above 2^53; the min keeps the result under the ceiling.
    ((ceiling as f64 * unit) as u64).min(ceiling)
}

/// What to do before retrying: wait this long, or skip waiting and move to another target
/// because the server asked for longer than we allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryWait {
    After(u64),
    TooLong,
}

/// Honour Retry-After: wait max(retry_after, jittered backoff) unless retry_after > max_retry_after_ms (→ TooLong).
pub fn retry_wait(
    attempt: u32,
    base_ms: u64,
    max_ms: u64,
    max_retry_after_ms: u64,
    retry_after_ms: Option<u64>,
    unit: f64,
) -> RetryWait {
    let backoff = backoff_ms(attempt, base_ms, max_ms, unit);
    match retry_after_ms {
        Some(asked) if asked > max_retry_after_ms => RetryWait::TooLong,
        Some(asked) => RetryWait::After(asked.max(backoff)),
        None => RetryWait::After(backoff),
    }
}

/// Parses a Retry-After header value: delta-seconds ("120", also fractional "1.5" as OpenAI-compatible
/// servers send) or an HTTP-date (IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT") relative to `now_unix_secs`.
///
/// A date in the past means "now" (0 ms). Values too large for u64 ms
/// saturate, so they still come out as `TooLong` rather than as no advice.
pub fn parse_retry_after(value: &[u8], now_unix_secs: u64) -> Option<u64> {
    let value = value.trim_ascii();
    if value.first()?.is_ascii_digit() {
        return parse_decimal(value, 3);
    }
    let date_secs = parse_imf_fixdate(value)?;
    Some(
        date_secs
            .saturating_sub(now_unix_secs)
            .saturating_mul(1_000),
    )
}

/// Also accept the `retry-after-ms` header some providers send.
pub fn parse_retry_after_ms(value: &[u8]) -> Option<u64> {
    parse_decimal(value.trim_ascii(), 0)
}

/// A non-negative decimal ("12", "1.5") scaled by 10^`scale_digits`,
/// rounded up: waiting a fraction of a millisecond longer than asked is
/// harmless, coming back early is not.
fn parse_decimal(s: &[u8], scale_digits: u32) -> Option<u64> {
    let (int, frac) = match s.iter().position(|&b| b == b'.') {
        Some(dot) => (&s[..dot], Some(&s[dot + 1..])),
        None => (s, None),
    };
    if int.is_empty() || !int.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value = int.iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    value = value.saturating_mul(10u64.pow(scale_digits));
    let Some(frac) = frac else {
        return Some(value);
    };
    if frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let kept = frac.len().min(scale_digits as usize);
    let mut scaled = 0u64;
    for (i, &d) in frac[..kept].iter().enumerate() {
        scaled += u64::from(d - b'0') * 10u64.pow(scale_digits - 1 - i as u32);
    }
    let remainder = frac[kept..].iter().any(|&d| d != b'0');
    Some(
        value
            .saturating_add(scaled)
            .saturating_add(u64::from(remainder)),
    )
}

/// "Wed, 21 Oct 2015 07:28:00 GMT" → Unix seconds. Only IMF-fixdate, the
/// form RFC 9110 requires senders to use; the obsolete RFC 850 and asctime
/// forms are not accepted. The weekday is not cross-checked.
fn parse_imf_fixdate(s: &[u8]) -> Option<u64> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let s: &[u8; 29] = s.try_into().ok()?;
    let layout_ok = s[..3].iter().all(u8::is_ascii_alphabetic)
        && &s[3..5] == b", "
        && s[7] == b' '
        && s[11] == b' '
        && s[16] == b' '
        && s[19] == b':'
        && s[22] == b':'
        && &s[25..] == b" GMT";
    if !layout_ok {
        return None;
    }
    let day = two_digits(&s[5..7])?;
    let month = MONTHS.iter().position(|m| m[..] == s[8..11])? as u64 + 1;
    let year = two_digits(&s[12..14])? * 100 + two_digits(&s[14..16])?;
    let (hour, minute, second) = (
        two_digits(&s[17..19])?,
        two_digits(&s[20..22])?,
        two_digits(&s[23..25])?,
    );
    // 60 allows a leap second.
    if year < 1970
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

fn two_digits(s: &[u8]) -> Option<u64> {
    match s {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some(u64::from(a - b'0') * 10 + u64::from(b - b'0'))
        }
        _ => None,
    }
}

fn days_in_month(year: u64, month: u64) -> u64 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date at or after 1970
/// (Howard Hinnant's `days_from_civil`, unsigned because years < 1970 are rejected).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALMOST_ONE: f64 = 1.0 - f64::EPSILON;

    #[test]
    fn backoff_stays_within_bounds_for_the_first_twenty_attempts() {
        for attempt in 0..20 {
            let ceiling = (100u64 << attempt).min(10_000);
            assert_eq!(backoff_ms(attempt, 100, 10_000, 0.0), 0);
            let top = backoff_ms(attempt, 100, 10_000, ALMOST_ONE);
            assert!(top < ceiling, "attempt {attempt}: {top}");
            assert!(
                top + 1 >= ceiling,
                "attempt {attempt}: {top} far below {ceiling}"
            );
        }
        assert_eq!(backoff_ms(0, 100, 10_000, 0.5), 50);
        assert_eq!(backoff_ms(3, 100, 10_000, 0.5), 400);
        assert_eq!(backoff_ms(10, 100, 10_000, 0.5), 5_000, "capped at max_ms");
    }

    #[test]
    fn huge_attempts_and_bases_do_not_overflow() {
        for attempt in [63, 64, 65, 1_000, u32::MAX] {
            assert_eq!(backoff_ms(attempt, 100, 30_000, 0.5), 15_000);
            assert_eq!(backoff_ms(attempt, u64::MAX, u64::MAX, 0.5), 1 << 63);
        }
        assert_eq!(backoff_ms(1, u64::MAX, 5_000, 0.5), 2_500);
        assert_eq!(
            backoff_ms(2, 1, u64::MAX, 1.0),
            4,
            "unit 1.0 is clamped to the ceiling"
        );
        assert_eq!(backoff_ms(2, 1_000, 10_000, f64::NAN), 0);
        assert_eq!(backoff_ms(2, 1_000, 10_000, -3.0), 0);
    }

    #[test]
    fn retry_after_is_honoured_when_longer_than_the_backoff() {
        assert_eq!(
            retry_wait(0, 100, 10_000, 60_000, Some(2_000), 0.5),
            RetryWait::After(2_000)
        );
        // Backoff (5 000) longer than the server's ask: the longer one wins.
        assert_eq!(
            retry_wait(10, 100, 10_000, 60_000, Some(1_000), 0.5),
            RetryWait::After(5_000)
        );
        assert_eq!(
            retry_wait(2, 100, 10_000, 60_000, None, 0.5),
            RetryWait::After(200)
        );
        assert_eq!(
            retry_wait(0, 100, 10_000, 60_000, Some(60_000), 0.0),
            RetryWait::After(60_000)
        );
    }

    #[test]
    fn retry_after_beyond_the_limit_is_too_long() {
        assert_eq!(
            retry_wait(0, 100, 10_000, 60_000, Some(60_001), 0.5),
            RetryWait::TooLong
        );
        assert_eq!(
            retry_wait(0, 100, 10_000, 0, Some(1), 0.0),
            RetryWait::TooLong
        );
    }

    #[test]
    fn parses_delta_seconds() {
        assert_eq!(parse_retry_after(b"120", 0), Some(120_000));
        assert_eq!(parse_retry_after(b"0", 0), Some(0));
        assert_eq!(parse_retry_after(b" 7 ", 0), Some(7_000));
        assert_eq!(
            parse_retry_after(b"99999999999999999999999", 0),
            Some(u64::MAX)
        );
    }

    #[test]
    fn parses_fractional_seconds_rounding_up() {
        assert_eq!(parse_retry_after(b"1.5", 0), Some(1_500));
        assert_eq!(parse_retry_after(b"0.25", 0), Some(250));
        assert_eq!(parse_retry_after(b"2.0", 0), Some(2_000));
        assert_eq!(parse_retry_after(b"0.0001", 0), Some(1));
        assert_eq!(parse_retry_after(b"1.2340000", 0), Some(1_234));
    }

    #[test]
    fn parses_an_http_date_relative_to_now() {
        // 2015-10-21T07:28:00Z
        let date = 1_445_412_480;
        let header = b"Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(parse_retry_after(header, date - 30), Some(30_000));
        assert_eq!(parse_retry_after(header, date), Some(0));
        assert_eq!(
            parse_retry_after(header, date + 500),
            Some(0),
            "past dates mean now"
        );
        assert_eq!(
            parse_retry_after(b"Thu, 01 Jan 1970 00:00:00 GMT", 0),
            Some(0)
        );
        // Leap day: 2024-02-29T12:00:00Z.
        assert_eq!(
            parse_retry_after(b"Thu, 29 Feb 2024 12:00:00 GMT", 1_709_208_000 - 1),
            Some(1_000)
        );
    }

    #[test]
    fn garbage_is_none() {
        for value in [
            &b""[..],
            b"   ",
            b"soon",
            b"-5",
            b"1.",
            b".5",
            b"1.2.3",
            b"12s",
            b"1e3",
            b"Wed, 21 Oct 2015 07:28:00 UTC",
            b"Wed, 21 Foo 2015 07:28:00 GMT",
            b"Wed, 32 Oct 2015 07:28:00 GMT",
            b"Sat, 29 Feb 2025 07:28:00 GMT",
            b"Wed, 21 Oct 2015 24:28:00 GMT",
            b"Wed, 21 Oct 1969 07:28:00 GMT",
            b"Wednesday, 21-Oct-15 07:28:00 GMT",
            b"Wed Oct 21 07:28:00 2015",
        ] {
            assert_eq!(
                parse_retry_after(value, 0),
                None,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn parses_retry_after_ms() {
        assert_eq!(parse_retry_after_ms(b"1500"), Some(1_500));
        assert_eq!(parse_retry_after_ms(b" 20 "), Some(20));
        assert_eq!(parse_retry_after_ms(b"12.4"), Some(13));
        assert_eq!(parse_retry_after_ms(b"12.0"), Some(12));
        assert_eq!(parse_retry_after_ms(b"abc"), None);
        assert_eq!(parse_retry_after_ms(b""), None);
    }
}
