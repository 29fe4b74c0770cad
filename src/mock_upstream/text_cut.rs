//! How the mock cuts an answer's text into stream pieces, so a test can make
//! a key or canary straddle two events: by words (the default), into
//! `x-mock-chunks` nearly equal pieces, or exactly at `x-mock-split-at` offsets.

use super::echo::split_text;

/// Where a streamed text is cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextCut {
    /// After each space, the space kept with the word before it.
    Words,
    /// `n` pieces of `ceil(len / n)` bytes each, every end moved forward to
    /// the next char boundary (so a multi-byte text may give fewer pieces).
    Pieces(usize),
    /// Exactly at these byte offsets, strictly increasing, each inside the
    /// text and on a char boundary.
    At(Vec<usize>),
}

impl TextCut {
    /// From the `x-mock-chunks` and `x-mock-split-at` header values;
    /// `x-mock-split-at` wins when both are sent.
    pub fn from_headers(chunks: Option<&str>, split_at: Option<&str>) -> Result<TextCut, String> {
        if let Some(list) = split_at {
            return parse_offsets(list).map(TextCut::At);
        }
        Ok(match chunks.and_then(|c| c.trim().parse().ok()) {
            Some(n) => TextCut::Pieces(n),
            None => TextCut::Words,
        })
    }

    /// The text's pieces, in order; they concatenate back to `text`.
    pub fn cut<'t>(&self, text: &'t str) -> Result<Vec<&'t str>, String> {
        match self {
            TextCut::Words => Ok(split_text(text, None)),
            TextCut::Pieces(n) => Ok(split_text(text, Some(*n))),
            TextCut::At(offsets) => cut_at(text, offsets),
        }
    }
}

fn parse_offsets(list: &str) -> Result<Vec<usize>, String> {
    list.split(',')
        .map(|o| {
            o.trim()
                .parse()
                .map_err(|_| format!("x-mock-split-at: `{}` is not a byte offset", o.trim()))
        })
        .collect()
}

fn cut_at<'t>(text: &'t str, offsets: &[usize]) -> Result<Vec<&'t str>, String> {
    let mut pieces = Vec::with_capacity(offsets.len() + 1);
    let mut start = 0;
    for &at in offsets {
        if at <= start || at >= text.len() || !text.is_char_boundary(at) {
            return Err(format!(
                "x-mock-split-at: offset {at} is not increasing, inside the {}-byte text and on a char boundary",
                text.len()
            ));
        }
        pieces.push(&text[start..at]);
        start = at;
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_exactly_where_asked() {
        let cut = TextCut::from_headers(Some("5"), Some("3, 7")).unwrap();
        assert_eq!(cut.cut("sk-abcdefgh").unwrap(), ["sk-", "abcd", "efgh"]);
    }

    #[test]
    fn refuses_offsets_it_cannot_honour() {
        let table = [
            ("0", "abc"),
            ("3", "abc"),
            ("2,1", "abcd"),
            ("1,1", "abcd"),
            ("1", "é"),
            ("x", "abc"),
            ("", "abc"),
        ];
        for (offsets, text) in table {
            let cut = TextCut::from_headers(None, Some(offsets));
            let result = cut.and_then(|c| c.cut(text).map(|p| p.len()));
            assert!(result.is_err(), "{offsets:?} on {text:?} gave {result:?}");
        }
    }

    #[test]
    fn defaults_to_words_then_pieces() {
        assert_eq!(TextCut::from_headers(None, None).unwrap(), TextCut::Words);
        assert_eq!(
            TextCut::from_headers(Some("x"), None).unwrap(),
            TextCut::Words
        );
        let pieces = TextCut::from_headers(Some("2"), None).unwrap();
        assert_eq!(pieces.cut("abcd").unwrap(), ["ab", "cd"]);
        assert_eq!(TextCut::Words.cut("a b").unwrap(), ["a ", "b"]);
    }
}
