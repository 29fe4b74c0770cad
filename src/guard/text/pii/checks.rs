//! The check digits and number ranges that tell a real identifier from a
//! number of the same shape: Luhn (cards), ISO 7064 mod 97 (IBANs), Verhoeff
//! (Aadhaar), the SSA's never-issued SSN ranges, HMRC's NINO prefixes and
//! Spain's DNI/NIE control letter.

/// Luhn over digit values (0–9), the check digit last.
pub(super) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2, u32::from(d) * 2) {
            (0, _) => u32::from(d),
            (_, twice) if twice > 9 => twice - 9,
            (_, twice) => twice,
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Verhoeff's dihedral-group check over digit values, the check digit last.
pub(super) fn verhoeff(digits: &[u8]) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let check = digits.iter().rev().enumerate().fold(0u8, |c, (i, &d)| {
        D[usize::from(c)][usize::from(P[i % 8][usize::from(d % 10)])]
    });
    check == 0
}

/// Whether `compact` (uppercase letters and digits, no spaces) is an IBAN:
/// a known country, that country's length, and mod 97 of the rearranged
/// number equal to 1.
pub(super) fn iban(compact: &[u8]) -> bool {
    let Some(&[a, b, ..]) = compact.get(..2) else {
        return false;
    };
    if iban_length([a, b]) != Some(compact.len()) {
        return false;
    }
    let (head, rest) = compact.split_at(4);
    let mut remainder = 0u32;
    for &c in rest.iter().chain(head) {
        remainder = match c {
            b'0'..=b'9' => (remainder * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (remainder * 100 + u32::from(c - b'A') + 10) % 97,
            _ => return false,
        };
    }
    remainder == 1
}

/// IBAN length by country (the SWIFT IBAN registry).
pub(super) fn iban_length(country: [u8; 2]) -> Option<usize> {
    #[rustfmt::skip]
    const LENGTHS: &[(&[u8; 2], u8)] = &[
        (b"AD", 24), (b"AE", 23), (b"AL", 28), (b"AT", 20), (b"AZ", 28),
        (b"BA", 20), (b"BE", 16), (b"BG", 22), (b"BH", 22), (b"BI", 27),
        (b"BR", 29), (b"BY", 28), (b"CH", 21), (b"CR", 22), (b"CY", 28),
        (b"CZ", 24), (b"DE", 22), (b"DJ", 27), (b"DK", 18), (b"DO", 28),
        (b"EE", 20), (b"EG", 29), (b"ES", 24), (b"FI", 18), (b"FK", 18),
        (b"FO", 18), (b"FR", 27), (b"GB", 22), (b"GE", 22), (b"GI", 23),
        (b"GL", 18), (b"GR", 27), (b"GT", 28), (b"HR", 21), (b"HU", 28),
        (b"IE", 22), (b"IL", 23), (b"IQ", 23), (b"IS", 26), (b"IT", 27),
        (b"JO", 30), (b"KW", 30), (b"KZ", 20), (b"LB", 28), (b"LC", 32),
        (b"LI", 21), (b"LT", 20), (b"LU", 20), (b"LV", 21), (b"LY", 25),
        (b"MC", 27), (b"MD", 24), (b"ME", 22), (b"MK", 19), (b"MN", 20),
        (b"MR", 27), (b"MT", 31), (b"MU", 30), (b"NI", 28), (b"NL", 18),
        (b"NO", 15), (b"OM", 23), (b"PK", 24), (b"PL", 28), (b"PS", 29),
        (b"PT", 25), (b"QA", 29), (b"RO", 24), (b"RS", 22), (b"RU", 33),
        (b"SA", 24), (b"SC", 31), (b"SD", 18), (b"SE", 24), (b"SI", 19),
        (b"SK", 24), (b"SM", 27), (b"SO", 23), (b"ST", 25), (b"SV", 28),
        (b"TL", 23), (b"TN", 24), (b"TR", 26), (b"UA", 29), (b"VA", 22),
        (b"VG", 24), (b"XK", 20), (b"YE", 30),
    ];
    LENGTHS
        .iter()
        .find(|(code, _)| **code == country)
        .map(|&(_, len)| usize::from(len))
}

/// Longest IBAN in the registry, in characters without spaces.
pub(super) const IBAN_MAX: usize = 34;

/// A US SSN `AAA-GG-SSSS` as digit values: never issued with area 000, 666
/// or 900–999, group 00 or serial 0000 (nor the advertised 078-05-1120).
pub(super) fn ssn(d: &[u8]) -> bool {
    let [a1, a2, a3, g1, g2, s1, s2, s3, s4] = *d else {
        return false;
    };
    let area = u16::from(a1) * 100 + u16::from(a2) * 10 + u16::from(a3);
    let group = g1 * 10 + g2;
    let serial = u16::from(s1) * 1000 + u16::from(s2) * 100 + u16::from(s3) * 10 + u16::from(s4);
    let advertised = area == 78 && group == 5 && serial == 1120;
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0 && !advertised
}

/// Whether two letters may open a UK National Insurance number: neither
/// D, F, I, Q, U nor V, no O second, and not one of the pairs never issued.
pub(super) fn nino_prefix(a: u8, b: u8) -> bool {
    let first_ok = a.is_ascii_uppercase() && !b"DFIQUV".contains(&a);
    let second_ok = b.is_ascii_uppercase() && !b"DFIQUVO".contains(&b);
    let pair = [a, b];
    let unissued = [b"BG", b"GB", b"KN", b"NK", b"NT", b"TN", b"ZZ"]
        .iter()
        .any(|p| **p == pair);
    first_ok && second_ok && !unissued
}

/// Spain's DNI/NIE control letter for the number `n`.
pub(super) fn dni_letter(n: u32) -> u8 {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    LETTERS[(n % 23) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect()
    }

    #[test]
    fn check_digits() {
        for (number, ok) in [
            ("4111111111111111", true),
            ("4111111111111112", false),
            ("378282246310005", true),
            ("79927398713", true),
            ("79927398710", false),
        ] {
            assert_eq!(luhn(&digits(number)), ok, "luhn {number}");
        }
        for (number, ok) in [("2363", true), ("2364", false), ("123451", true)] {
            assert_eq!(verhoeff(&digits(number)), ok, "verhoeff {number}");
        }
        for (number, ok) in [
            ("GB82WEST12345698765432", true),
            ("GB82WEST12345698765433", false),
            ("DE89370400440532013000", true),
            ("NL91ABNA0417164300", true),
            ("NL91ABNA041716430", false),
            ("XX82WEST12345698765432", false),
        ] {
            assert_eq!(iban(number.as_bytes()), ok, "iban {number}");
        }
    }

    #[test]
    fn never_issued_numbers() {
        for (number, ok) in [
            ("123-45-6789", true),
            ("000-12-3456", false),
            ("666-12-3456", false),
            ("900-12-3456", false),
            ("123-00-4567", false),
            ("123-45-0000", false),
            ("078-05-1120", false),
        ] {
            assert_eq!(ssn(&digits(number)), ok, "ssn {number}");
        }
        assert!(nino_prefix(b'A', b'B'));
        assert!(!nino_prefix(b'G', b'B'));
        assert!(!nino_prefix(b'D', b'A'));
        assert!(!nino_prefix(b'A', b'O'));
        assert_eq!(dni_letter(12_345_678), b'Z');
    }
}
