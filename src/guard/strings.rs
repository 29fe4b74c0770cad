//! A body's JSON string literals, found in one pass over its quotes and
//! backslashes: the values (not object keys) the guards look at (the body
//! memo resumes a walk at one, or past one), and whether the body declares
//! tools (a `"tools"` or legacy `"functions"` key). Reused from request to
//! request (the per-core memo keeps one), so a walk allocates nothing once
//! its vectors have grown.

/// One walk's findings. Spans are byte offsets, quotes included.
#[derive(Default)]
pub struct Strings {
    pub values: Vec<(u32, u32)>,
    pub tools: bool,
    /// A string never closed.
    pub broken: bool,
}

impl Strings {
    /// The literals of `body[at..]` (`at` outside any literal), replacing
    /// what the last walk found.
    /// A body of 4 GiB or more cannot be walked (spans are 32-bit): it is
    /// reported broken, so it is parsed, never skipped.
    pub fn walk(&mut self, body: &[u8], at: usize) {
        self.values.clear();
        self.tools = false;
        self.broken = u32::try_from(body.len()).is_err();
        if self.broken {
            return;
        }
        let mut walk = Walk {
            out: self,
            body,
            open: None,
            skip_to: 0,
        };
        crate::canonical::json_scan::for_each_mark_block(
            &body[at..],
            #[inline(always)]
            |base, quotes, slashes| walk.step(at + base, quotes, slashes),
        );
        self.broken = walk.open.is_some();
    }

    /// The values' bytes, quotes included.
    pub fn value_literals<'b>(
        &self,
        body: &'b [u8],
    ) -> impl Iterator<Item = &'b [u8]> + use<'b, '_> {
        self.values
            .iter()
            .map(move |&(start, end)| &body[start as usize..end as usize])
    }
}

/// One walk's state between marks.
struct Walk<'a> {
    out: &'a mut Strings,
    body: &'a [u8],
    /// The open literal's opening quote.
    open: Option<usize>,
    /// A backslash escapes the byte after it, whatever it is.
    skip_to: usize,
}

impl Walk<'_> {
    /// The marks of a step from `base`: bit i of `quotes` (`slashes`) is a
    /// `"` (`\\`) at `body[base + i]`. With no backslash to escape one,
    /// quotes open and close literals in turn.
    #[inline(always)]
    fn step(&mut self, base: usize, quotes: u64, slashes: u64) {
        if slashes == 0 && self.skip_to <= base {
            let mut bits = quotes;
            while bits != 0 {
                let i = base + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                match self.open {
                    None => self.open = Some(i),
                    Some(start) => self.close(start, i),
                }
            }
            return;
        }
        let mut bits = quotes | slashes;
        while bits != 0 {
            let bit = bits.trailing_zeros();
            bits &= bits - 1;
            self.mark(base + bit as usize, quotes >> bit & 1 != 0);
        }
    }

    /// The `"` (`quote`) or `\\` at `body[i]`.
    #[inline(always)]
    fn mark(&mut self, i: usize, quote: bool) {
        if i < self.skip_to {
            return;
        }
        match self.open {
            None if quote => self.open = Some(i),
            // A backslash outside a literal is no JSON; the parse says so.
            None => {}
            Some(start) if quote => self.close(start, i),
            Some(_) => self.skip_to = i + 2,
        }
    }

    /// The literal `body[start..=end]` closed: a key when a `:` follows.
    #[inline(always)]
    fn close(&mut self, start: usize, end: usize) {
        self.open = None;
        let span = (start as u32, end as u32 + 1);
        let body = self.body;
        let key = match body.get(end + 1) {
            Some(b':') => true,
            Some(b) if b.is_ascii_whitespace() => {
                body[end + 1..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b':')
            }
            _ => false,
        };
        if !key {
            self.out.values.push(span);
        } else if matches!(end - start, 6 | 10) {
            let name = &body[start + 1..end];
            self.out.tools |= name == b"tools" || name == b"functions";
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Strings;

    fn values(body: &str) -> (Vec<&str>, bool, bool) {
        let mut s = Strings::default();
        s.walk(body.as_bytes(), 0);
        let v = s
            .values
            .iter()
            .map(|&(a, b)| &body[a as usize..b as usize])
            .collect();
        (v, s.tools, s.broken)
    }

    #[test]
    fn values_not_keys_with_escapes_kept_inside() {
        let body =
            r#"{"model":"m","messages":[{"role" : "user","content":"say \"hi\" \\"}],"n":1}"#;
        assert_eq!(
            values(body),
            (
                vec![r#""m""#, r#""user""#, r#""say \"hi\" \\""#],
                false,
                false
            )
        );
        assert_eq!(values(r#"{"a":"unterminated"#), (vec![], false, true));
        assert_eq!(
            values(r#"{"tools" :[{"name":"x"}]}"#),
            (vec![r#""x""#], true, false)
        );
        assert_eq!(values("{}"), (vec![], false, false));
    }

    #[test]
    fn a_reused_walk_forgets_the_last_body_and_can_start_midway() {
        let mut s = Strings::default();
        s.walk(br#"{"tools":[],"a":"unterminated"#, 0);
        assert!(s.tools && s.broken);
        let body = br#"{"a":"one","b":"two"}"#;
        s.walk(body, 11);
        assert!(!s.tools && !s.broken);
        assert_eq!(s.values, vec![(15, 20)]);
    }

    /// The same findings, byte by byte: every `"` and `\\` in order.
    fn reference(body: &[u8], at: usize) -> Strings {
        let mut out = Strings {
            broken: u32::try_from(body.len()).is_err(),
            ..Strings::default()
        };
        let mut walk = super::Walk {
            out: &mut out,
            body,
            open: None,
            skip_to: 0,
        };
        for (i, &b) in body.iter().enumerate().skip(at) {
            if b == b'"' || b == b'\\' {
                walk.mark(i, b == b'"');
            }
        }
        let open = walk.open.is_some();
        out.broken |= open;
        out
    }

    /// Generated JSON-ish text (quotes, escapes, keys with and without
    /// space before the colon, `tools`) at every length across steps, walked
    /// from every start: the same literals, keys and flags as byte by byte.
    #[test]
    fn the_step_walk_finds_what_a_byte_walk_finds() {
        const PIECES: &[&str] = &[
            "\"",
            "\\",
            "\\\"",
            "\\\\",
            ":",
            " :",
            " ",
            "a",
            "tools",
            "functions",
            "{",
            "}",
            ",",
            "x\\n",
            "\"tools\"",
            "\"functions\" :",
            "\"k\":",
            "é",
        ];
        let mut next = crate::test_rng::xorshift(0x1234_5678_9abc_def1u64);
        let mut s = Strings::default();
        for _ in 0..4000 {
            let body = crate::test_rng::text(&mut next, PIECES, 120);
            let body = body.as_bytes();
            for at in [
                0,
                1,
                body.len() / 3,
                body.len().saturating_sub(1),
                body.len(),
            ] {
                let at = at.min(body.len());
                let want = reference(body, at);
                s.walk(body, at);
                let got = (&s.values, s.tools, s.broken);
                assert_eq!(
                    got,
                    (&want.values, want.tools, want.broken),
                    "{:?} from {at}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }
}
