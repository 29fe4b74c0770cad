//! The detectors: where each kind can start, how far it reads, which shapes
//! it takes. None reads more than `PII_SPAN` bytes from a finding's start
//! (nor more than one byte before it), so a stream window that size decides
//! every finding.

use super::checks::{self, IBAN_MAX};
use super::{Finding, PiiKind};

/// RFC 5321's local-part limit; a longer run before `@` is not an address.
const LOCAL_MAX: usize = 64;
/// Domains are cut shorter than RFC 1035's 253 to keep the stream window small.
const DOMAIN_MAX: usize = 128;
/// Digit runs with their separators are read this far and no further.
const RUN_MAX: usize = 40;
/// The most digits and groups any numeric shape has.
const DIGITS_MAX: usize = 20;
const GROUPS_MAX: usize = 6;

/// Bytes from a finding's start that decide it (the email, the longest).
pub const PII_SPAN: usize = LOCAL_MAX + DOMAIN_MAX + 2;

/// Every email address in `b`.
pub(super) fn emails(b: &[u8], out: &mut Vec<Finding>) {
    let mut done = 0;
    for at in memchr::memchr_iter(b'@', b) {
        if let Some(range) = email_at(b, at).filter(|r| r.start >= done) {
            done = range.end;
            out.push(Finding {
                kind: PiiKind::Email,
                range,
            });
        }
    }
}

/// The address around the `@` at `at`. The local part may hold UTF-8
/// (RFC 6531); the domain is ASCII, so `com—thanks` ends at the dash.
fn email_at(b: &[u8], at: usize) -> Option<std::ops::Range<usize>> {
    let local = b[..at]
        .iter()
        .rev()
        .take(LOCAL_MAX + 1)
        .take_while(|&&c| c.is_ascii_alphanumeric() || !c.is_ascii() || b"._%+-".contains(&c))
        .count();
    if local > LOCAL_MAX || at.checked_sub(1).is_none_or(|p| b[p] == b'.') {
        return None;
    }
    let start = at - local + b[at - local..at].iter().take_while(|&&c| c == b'.').count();
    let domain = b[at + 1..]
        .iter()
        .take(DOMAIN_MAX + 1)
        .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
        .count();
    if domain > DOMAIN_MAX || start == at {
        return None;
    }
    let trailing = b[at + 1..at + 1 + domain]
        .iter()
        .rev()
        .take_while(|&&c| c == b'.' || c == b'-')
        .count();
    let end = at + 1 + domain - trailing;
    domain_ok(&b[at + 1..end]).then_some(start..end)
}

/// Two or more labels, none empty or edged with `-`, ending in a letters-only TLD.
fn domain_ok(domain: &[u8]) -> bool {
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in domain.split(|&c| c == b'.') {
        if label.is_empty() || label.starts_with(b"-") || label.ends_with(b"-") {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last.len() >= 2 && last.iter().all(u8::is_ascii_alphabetic)
}

/// Every phone number, card, IBAN and national id in `b`.
pub(super) fn numbers(b: &[u8], out: &mut Vec<Finding>) {
    let mut i = 0;
    while i < b.len() {
        let inside_word = i > 0 && b[i - 1].is_ascii_alphanumeric() && b[i].is_ascii_alphanumeric();
        let scan = match b[i] {
            _ if inside_word => Scan::miss(i + 1),
            b'0'..=b'9' => from_digit(b, i),
            b'+' => phone_intl(b, i),
            b'(' => phone_paren(b, i),
            b'A'..=b'Z' => from_letter(b, i),
            _ => Scan::miss(i + 1),
        };
        // Every numeric finding has 6 digits within 8 bytes: what the
        // request prefilter looks for, so it never misses one.
        if let Some(kind) = scan
            .hit
            .filter(|_| super::prefilter::dense(&b[i..scan.end]))
        {
            out.push(Finding {
                kind,
                range: i..scan.end,
            });
        }
        i = scan.end.max(i + 1);
    }
}

/// What a detector saw from one start: a finding ending at `end`, or none
/// and where to look next.
struct Scan {
    hit: Option<PiiKind>,
    end: usize,
}

impl Scan {
    fn miss(end: usize) -> Self {
        Scan { hit: None, end }
    }

    fn hit(kind: PiiKind, end: usize) -> Self {
        Scan {
            hit: Some(kind),
            end,
        }
    }
}

fn word_end(b: &[u8], from: usize) -> usize {
    from + b[from..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count()
}

fn ends_word(b: &[u8], at: usize) -> bool {
    !b.get(at).is_some_and(u8::is_ascii_alphanumeric)
}

fn digit_run(b: &[u8], from: usize) -> usize {
    b.get(from..).map_or(0, |rest| {
        rest.iter().take_while(|c| c.is_ascii_digit()).count()
    })
}

/// Digit groups joined by single separators (` `, `-`, `.`), as in
/// `4111 1111 1111 1111` or `555-123-4567`.
#[derive(Default)]
struct Groups {
    end: usize,
    digits: [u8; DIGITS_MAX],
    len: usize,
    sizes: [u8; GROUPS_MAX],
    count: usize,
    sep: Option<u8>,
    mixed: bool,
    overflow: bool,
    /// Where the second group starts when a space comes before it: a space
    /// also ends a word, so a run that is nothing may hold a number after it.
    after_space: Option<usize>,
}

impl Groups {
    fn read(b: &[u8], start: usize) -> Groups {
        let mut g = Groups::default();
        let mut j = start;
        loop {
            let run = digit_run(b, j).min(RUN_MAX + 1);
            g.push_group(&b[j..j + run]);
            j += run;
            match (b.get(j), b.get(j + 1)) {
                (Some(&s @ (b' ' | b'-' | b'.')), Some(d))
                    if d.is_ascii_digit() && j < start + RUN_MAX =>
                {
                    g.mixed |= g.sep.is_some_and(|prev| prev != s);
                    if g.sep.is_none() && s == b' ' {
                        g.after_space = Some(j + 1);
                    }
                    g.sep = Some(s);
                    j += 1;
                }
                _ => break,
            }
        }
        g.end = j;
        g
    }

    fn push_group(&mut self, run: &[u8]) {
        if self.len + run.len() > DIGITS_MAX || self.count == GROUPS_MAX {
            self.overflow = true;
            return;
        }
        for (slot, &c) in self.digits[self.len..].iter_mut().zip(run) {
            *slot = c - b'0';
        }
        self.len += run.len();
        self.sizes[self.count] = run.len() as u8;
        self.count += 1;
    }

    fn digits(&self) -> &[u8] {
        &self.digits[..self.len]
    }

    fn sizes(&self) -> &[u8] {
        &self.sizes[..self.count]
    }

    /// One separator throughout, and it is one of `allowed`.
    fn joined_by(&self, allowed: &[u8]) -> bool {
        !self.mixed && self.sep.is_none_or(|s| allowed.contains(&s))
    }
}

fn from_digit(b: &[u8], i: usize) -> Scan {
    let g = Groups::read(b, i);
    let miss = Scan::miss(g.after_space.unwrap_or_else(|| word_end(b, g.end)));
    if g.overflow {
        return miss;
    }
    if let Some(end) = dni(b, &g) {
        return Scan::hit(PiiKind::NationalId, end);
    }
    match classify(&g) {
        Some(kind) if ends_word(b, g.end) => Scan::hit(kind, g.end),
        _ => miss,
    }
}

/// What a run of digit groups is, by its shape and check digits. Dates,
/// versions, prices and plain numbers fit none of these shapes.
fn classify(g: &Groups) -> Option<PiiKind> {
    let d = g.digits();
    let sizes = g.sizes();
    let (&first, &second) = (d.first()?, d.get(1)?);
    if is_card(g) {
        return Some(PiiKind::Card);
    }
    let kind = match sizes {
        [3, 2, 4] if g.joined_by(b" -") && checks::ssn(d) => PiiKind::NationalId,
        [4, 4, 4] if g.joined_by(b" -") && first >= 2 && checks::verhoeff(d) => PiiKind::NationalId,
        [3, 3, 4] if g.joined_by(b" -.") && first >= 2 && d[3] >= 2 => PiiKind::Phone,
        [1, 3, 3, 4] if g.joined_by(b" -.") && first == 1 && d[1] >= 2 => PiiKind::Phone,
        [_, _, ..] if first == 0 && national_phone(g, second) => PiiKind::Phone,
        _ => return None,
    };
    Some(kind)
}

/// 13 to 19 digits, grouped by fours (or Amex/Diners 4-6-5 and 4-6-4),
/// a known network's first digit, and a valid Luhn digit.
fn is_card(g: &Groups) -> bool {
    let d = g.digits();
    let sizes = g.sizes();
    let grouped = match sizes {
        [_] | [4, 6, 5] | [4, 6, 4] => true,
        [head @ .., last] => head.iter().all(|&s| s == 4) && (1..=4).contains(last),
        [] => false,
    };
    (13..=19).contains(&d.len())
        && grouped
        && g.joined_by(b" -")
        && (2..=6).contains(&d[0])
        && checks::luhn(d)
}

/// A national number with its trunk `0` (`020 7946 0958`, `01 23 45 67
/// 89`), or an international one after `00`.
fn national_phone(g: &Groups, second: u8) -> bool {
    let groups_ok = g.sizes().iter().all(|&s| (2..=8).contains(&s));
    let digits = g.digits().len();
    let count_ok = if second == 0 {
        (10..=17).contains(&digits)
    } else {
        (9..=11).contains(&digits)
    };
    g.joined_by(b" -.") && groups_ok && count_ok
}

/// A Spanish DNI: eight digits and their control letter (`12345678Z`,
/// `12345678-Z`); the end of the letter if it is one.
fn dni(b: &[u8], g: &Groups) -> Option<usize> {
    if g.sizes() != [8] {
        return None;
    }
    let at = g.end + usize::from(b.get(g.end) == Some(&b'-'));
    let letter = *b.get(at).filter(|c| c.is_ascii_uppercase())?;
    let n = g.digits().iter().fold(0u32, |n, &d| n * 10 + u32::from(d));
    (letter == checks::dni_letter(n) && ends_word(b, at + 1)).then_some(at + 1)
}

/// `+` and a number in E.164 digits, grouped as people write them:
/// `+44 20 7946 0958`, `+1 (555) 123-4567`, `+44 (0) 20 7946 0958`.
fn phone_intl(b: &[u8], i: usize) -> Scan {
    let mut j = i + 1;
    let mut digits = 0;
    while j < i + RUN_MAX {
        match b.get(j) {
            Some(c) if c.is_ascii_digit() => {
                let run = digit_run(b, j);
                digits += run;
                j += run;
            }
            Some(b'(') => {
                let run = digit_run(b, j + 1);
                if !(1..=4).contains(&run) || b.get(j + 1 + run) != Some(&b')') {
                    break;
                }
                digits += run;
                j += run + 2;
            }
            _ => break,
        }
        match (b.get(j), b.get(j + 1)) {
            (Some(b' ' | b'-' | b'.'), Some(&n)) if n.is_ascii_digit() || n == b'(' => j += 1,
            (Some(&n), _) if n.is_ascii_digit() || n == b'(' => {}
            _ => break,
        }
    }
    if (8..=16).contains(&digits) && ends_word(b, j) {
        Scan::hit(PiiKind::Phone, j)
    } else {
        Scan::miss(j.max(i + 1))
    }
}

/// An area code in parentheses: `(555) 123-4567`, `(020) 7946 0958`.
fn phone_paren(b: &[u8], i: usize) -> Scan {
    let area = digit_run(b, i + 1);
    if !(2..=5).contains(&area) || b.get(i + 1 + area) != Some(&b')') {
        return Scan::miss(i + 1);
    }
    let mut j = i + area + 2;
    j += usize::from(matches!(b.get(j), Some(b' ' | b'-')));
    if !b.get(j).is_some_and(u8::is_ascii_digit) {
        return Scan::miss(j);
    }
    let g = Groups::read(b, j);
    if g.overflow || !ends_word(b, g.end) {
        return Scan::miss(word_end(b, g.end));
    }
    let area_first = b[i + 1];
    let nanp = area == 3 && area_first >= b'2' && g.sizes() == [3, 4] && g.digits()[0] >= 2;
    let total = area + g.digits().len();
    let national = area_first == b'0'
        && (9..=11).contains(&total)
        && g.joined_by(b" -.")
        && g.sizes().iter().all(|&s| (2..=8).contains(&s));
    match nanp || national {
        true => Scan::hit(PiiKind::Phone, g.end),
        false => Scan::miss(g.end),
    }
}

fn from_letter(b: &[u8], i: usize) -> Scan {
    if let Some(end) = iban(b, i) {
        return Scan::hit(PiiKind::Iban, end);
    }
    if let Some(end) = nino(b, i).or_else(|| nie(b, i)) {
        return Scan::hit(PiiKind::NationalId, end);
    }
    Scan::miss(word_end(b, i))
}

/// An IBAN, compact or in groups of four (`GB82 WEST 1234 5698 7654 32`).
fn iban(b: &[u8], i: usize) -> Option<usize> {
    let head = b.get(i..i + 4)?;
    let shaped =
        head[..2].iter().all(u8::is_ascii_uppercase) && head[2..].iter().all(u8::is_ascii_digit);
    if !shaped {
        return None;
    }
    let len = checks::iban_length([head[0], head[1]])?;
    let part = |c: &u8| c.is_ascii_uppercase() || c.is_ascii_digit();
    let mut compact = [0u8; IBAN_MAX];
    let (mut n, mut j) = (0, i);
    while n < len.min(IBAN_MAX) {
        match b.get(j) {
            Some(c) if part(c) => {
                compact[n] = *c;
                n += 1;
            }
            Some(b' ') if n % 4 == 0 && b.get(j + 1).is_some_and(part) => {}
            _ => return None,
        }
        j += 1;
    }
    (ends_word(b, j) && checks::iban(&compact[..n])).then_some(j)
}

/// A UK National Insurance number: `AB123456C` or `AB 12 34 56 C`.
fn nino(b: &[u8], i: usize) -> Option<usize> {
    let (&a, &c) = (b.get(i)?, b.get(i + 1)?);
    if !checks::nino_prefix(a, c) {
        return None;
    }
    let mut j = i + 2 + usize::from(b.get(i + 2) == Some(&b' '));
    for pair in 0..3 {
        if digit_run(b, j) < 2 {
            return None;
        }
        j += 2;
        let spaced = pair < 2 && b.get(j) == Some(&b' ') && digit_run(b, j + 1) >= 2;
        j += usize::from(spaced);
    }
    if digit_run(b, j) > 0 {
        return None;
    }
    j += usize::from(b.get(j) == Some(&b' '));
    let suffix = matches!(b.get(j), Some(b'A'..=b'D'));
    (suffix && ends_word(b, j + 1)).then_some(j + 1)
}

/// A Spanish NIE: `X`, `Y` or `Z`, seven digits and the control letter.
fn nie(b: &[u8], i: usize) -> Option<usize> {
    let prefix = match b.get(i)? {
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        _ => return None,
    };
    if digit_run(b, i + 1) != 7 {
        return None;
    }
    let n = b[i + 1..i + 8]
        .iter()
        .fold(prefix, |n, &c| n * 10 + u32::from(c - b'0'));
    let at = i + 8 + usize::from(b.get(i + 8) == Some(&b'-'));
    let letter = *b.get(at)?;
    (letter == checks::dni_letter(n) && ends_word(b, at + 1)).then_some(at + 1)
}
