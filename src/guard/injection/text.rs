//! Unicode tricks, undone before the rules look: invisible characters
//! (zero-width, bidi controls, tag and variation-selector smuggling) counted
//! and their hidden ASCII recovered, NFKC plus a confusable fold so that
//! `ignоre` with a Cyrillic `о` reads `ignore`, and words mixing Latin with
//! look-alike letters counted.

use unicode_normalization::UnicodeNormalization;

/// Hidden payloads longer than this are cut: enough to carry an instruction.
const HIDDEN_MAX: usize = 4096;

/// What the Unicode pass found, and the text the rules should read.
#[derive(Debug, Default)]
pub(crate) struct Unicode {
    /// The text after NFKC, confusable folding and removal of invisibles;
    /// `None` when the input was ASCII (it reads as it is).
    pub folded: Option<String>,
    /// ASCII smuggled in tag characters or variation selectors.
    pub hidden: String,
    pub tag_chars: usize,
    pub selector_chars: usize,
    pub zero_width: usize,
    pub bidi: usize,
    pub mixed_words: usize,
}

pub(crate) fn inspect(text: &str) -> Unicode {
    if text.is_ascii() {
        return Unicode::default();
    }
    let mut found = count_invisibles(text);
    found.mixed_words = mixed_script_words(text);
    found.folded = Some(fold(text));
    found
}

fn count_invisibles(text: &str) -> Unicode {
    let mut found = Unicode::default();
    let mut prev = '\0';
    for c in text.chars() {
        let cp = c as u32;
        match cp {
            0xE0000..=0xE007F => {
                found.tag_chars += 1;
                push_hidden(&mut found.hidden, cp.wrapping_sub(0xE0000));
            }
            0xE0100..=0xE01EF => {
                found.selector_chars += 1;
                push_hidden(&mut found.hidden, (cp - 0xE0100 + 16) & 0xFF);
            }
            0x200B | 0x200C | 0x2060..=0x2064 | 0xFEFF | 0x180E | 0x00AD => found.zero_width += 1,
            // a joiner inside a word, not between emoji
            0x200D if prev.is_ascii_alphabetic() => found.zero_width += 1,
            0x202A..=0x202E | 0x2066..=0x2069 => found.bidi += 1,
            _ => {}
        }
        prev = c;
    }
    found
}

fn push_hidden(hidden: &mut String, value: u32) {
    if hidden.len() >= HIDDEN_MAX {
        return;
    }
    if let Some(c) =
        char::from_u32(value).filter(|c| (c.is_ascii() && !c.is_ascii_control()) || *c == '\n')
    {
        hidden.push(c);
    }
}

/// Characters that carry no visible glyph and only serve to hide or split.
fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0xE0000..=0xE01EF | 0xFE00..=0xFE0F | 0x200B..=0x200D | 0x2060..=0x2064
        | 0xFEFF | 0x180E | 0x00AD | 0x202A..=0x202E | 0x2066..=0x2069)
}

fn fold(text: &str) -> String {
    text.nfkc()
        .filter(|c| !is_invisible(*c))
        .map(|c| confusable(c).unwrap_or(c))
        .collect()
}

/// The Latin letter a look-alike from another script stands for (the
/// common Cyrillic, Greek and IPA ones garak's smuggling probes use).
pub(crate) fn confusable(c: char) -> Option<char> {
    Some(match c {
        'а' | 'ɑ' | 'α' => 'a',
        'с' | 'ϲ' => 'c',
        'е' | 'ε' => 'e',
        'і' | 'ı' | 'ι' | 'ӏ' => 'i',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ѕ' => 's',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        'ԁ' => 'd',
        'ј' | 'ϳ' => 'j',
        'ν' => 'v',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'т' | 'τ' => 't',
        'н' | 'һ' => 'h',
        'в' => 'b',
        'ԝ' | 'ѡ' | 'ω' => 'w',
        'ɡ' | 'ԍ' => 'g',
        'ո' => 'n',
        'ս' | 'υ' => 'u',
        'ԛ' => 'q',
        'А' | 'Α' => 'A',
        'В' | 'Β' => 'B',
        'С' => 'C',
        'Е' | 'Ε' => 'E',
        'Н' | 'Η' => 'H',
        'І' | 'Ι' => 'I',
        'К' | 'Κ' => 'K',
        'М' | 'Μ' => 'M',
        'О' | 'Ο' => 'O',
        'Р' | 'Ρ' => 'P',
        'Т' | 'Τ' => 'T',
        'Х' | 'Χ' => 'X',
        'Ѕ' => 'S',
        'Ζ' => 'Z',
        'Ν' => 'N',
        _ => return None,
    })
}

/// Words with at least two ASCII letters and at least one look-alike from
/// another script: real Russian or Greek words never mix like that.
fn mixed_script_words(text: &str) -> usize {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|word| {
            let ascii = word.chars().filter(char::is_ascii_alphabetic).count();
            ascii >= 2 && word.chars().any(|c| confusable(c).is_some())
        })
        .count()
}
