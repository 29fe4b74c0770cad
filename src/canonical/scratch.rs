//! A per-thread copy of a body, simd-json's parse buffers and a tape, reused
//! from one parse to the next on the same worker.
//!
//! simd-json parses in place and needs a mutable copy of the body plus a
//! structural index, a string buffer and the tape itself; allocating those
//! per request cost more than parsing a typical 1 KB body. The copy carries
//! simd-json's padding, so the parser reads it where it lies instead of
//! copying it once more. Workers are thread-per-core, so a thread-local
//! needs no locking.

use std::cell::RefCell;

use simd_json::{Buffers, INPUT_PADDING, Tape};

/// Bodies above this get fresh buffers, so one huge body does not pin its
/// memory to a worker for the life of the process.
const REUSE_LIMIT: usize = 256 * 1024;

struct Scratch {
    input: Vec<u8>,
    buffers: Buffers,
    /// Empty between parses; its allocation is what is kept.
    tape: Option<Tape<'static>>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        input: Vec::with_capacity(4096 + INPUT_PADDING),
        buffers: Buffers::new(4096),
        tape: None,
    });
    static OUT: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(4096));
}

/// Hands `f` the worker's output buffer, empty: for bytes copied elsewhere
/// as soon as they are written (a provider's body into its request, an
/// answer into the response), so writing them allocates nothing.
pub fn with_buffer<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    OUT.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let result = f(&mut buf);
            if buf.capacity() > REUSE_LIMIT {
                *buf = Vec::with_capacity(4096);
            }
            result
        }
        Err(_) => f(&mut Vec::new()),
    })
}

/// Where the strings of a tape sit in the body it was parsed from: the
/// parse runs over a copy of the body, at the same offsets, and a string
/// without escapes is read where it lies (an escaped one is unescaped in
/// place, from the same start).
#[derive(Clone, Copy)]
pub struct BodyMap<'b> {
    pub body: &'b [u8],
    copy_at: usize,
    /// Where every structural character and value starts, in order (the
    /// parser's stage-1 index).
    structurals: &'b [u32],
}

impl<'b> BodyMap<'b> {
    /// The offset in the body where `s`, a string read off the tape, starts.
    pub fn offset_of(&self, s: &str) -> Option<usize> {
        let at = (s.as_ptr() as usize).checked_sub(self.copy_at)?;
        (at + s.len() <= self.body.len()).then_some(at)
    }

    /// The text of the object or array opening at `open`, when nothing but
    /// tokens sits between its tokens (as serializers write JSON), walked
    /// over the structural index rather than byte by byte. `None` when there
    /// is whitespace to drop, or `open` is not a container.
    pub fn compact_span(&self, open: usize) -> Option<&'b [u8]> {
        let at = self
            .structurals
            .binary_search(&u32::try_from(open).ok()?)
            .ok()?;
        let mut depth = 0usize;
        for (k, &p) in self.structurals[at..].iter().enumerate() {
            let p = p as usize;
            // A token's last byte (a closing quote, a digit, a bracket)
            // comes right before the next one, unless whitespace does.
            if k > 0 && matches!(self.body.get(p - 1)?, b' ' | b'\t' | b'\n' | b'\r') {
                return None;
            }
            match *self.body.get(p)? {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return self.body.get(open..=p);
                    }
                }
                _ if depth == 0 => return None,
                _ => {}
            }
        }
        None
    }
}

/// Parses `body` into a tape over the worker's scratch and hands it (or the
/// parse error) to `f`, with the map back to the body; the tape cannot
/// outlive the call.
pub fn with_tape<R>(
    body: &[u8],
    f: impl FnOnce(simd_json::Result<&Tape<'_>>, BodyMap<'_>) -> R,
) -> R {
    if body.len() > REUSE_LIMIT {
        return tape_fresh(body, f);
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            let Scratch {
                input,
                buffers,
                tape,
            } = &mut *scratch;
            input.clear();
            input.extend_from_slice(body);
            input.resize(body.len() + INPUT_PADDING, b' ');
            let copy_at = input.as_ptr() as usize;
            let mut parsed = tape.take().map_or_else(Tape::null, Tape::reset);
            let parse = simd_json::fill_tape_padded(input, body.len(), buffers, &mut parsed);
            let map = BodyMap {
                body,
                copy_at,
                structurals: buffers.structural_indexes(),
            };
            let result = match parse {
                Ok(()) => f(Ok(&parsed), map),
                Err(e) => f(Err(e), map),
            };
            *tape = Some(parsed.reset());
            result
        }
        Err(_) => tape_fresh(body, f),
    })
}

fn tape_fresh<R>(body: &[u8], f: impl FnOnce(simd_json::Result<&Tape<'_>>, BodyMap<'_>) -> R) -> R {
    let mut input = body.to_vec();
    let copy_at = input.as_ptr() as usize;
    let mut buffers = Buffers::new(body.len());
    let parse = simd_json::to_tape_with_buffers(&mut input, &mut buffers);
    let map = BodyMap {
        body,
        copy_at,
        structurals: buffers.structural_indexes(),
    };
    match parse {
        Ok(tape) => f(Ok(&tape), map),
        Err(e) => f(Err(e), map),
    }
}

#[cfg(test)]
mod tests {
    use crate::canonical::tape::prelude::*;

    use super::*;

    fn model_of(body: &[u8]) -> Result<String, String> {
        with_tape(body, |tape, _| {
            let tape = tape.map_err(|e| e.to_string())?;
            let v = tape.as_value();
            Ok(v.as_object()
                .and_then(|o| o.get("model"))
                .and_then(|m| m.into_string())
                .unwrap_or_default()
                .to_owned())
        })
    }

    #[test]
    fn reused_scratch_parses_each_body_on_its_own() {
        assert_eq!(
            model_of(br#"{"model":"a\"b","x":[1,2,3]}"#).unwrap(),
            "a\"b"
        );
        assert_eq!(model_of(br#"{"model":"c"}"#).unwrap(), "c");
        assert!(model_of(br#"{"model":"c""#).is_err());
        assert!(model_of(b"").is_err());
        assert_eq!(model_of(b"  {\"model\":\"d\"}  ").unwrap(), "d");
        // A root scalar ends at the padding, not at a stale byte.
        assert!(with_tape(b"12", |t, _| t.is_ok()));
        let big = format!(
            "{{\"model\":\"e\",\"pad\":\"{}\"}}",
            "x".repeat(REUSE_LIMIT)
        );
        assert_eq!(model_of(big.as_bytes()).unwrap(), "e");
    }

    #[test]
    fn the_output_buffer_starts_empty_and_a_nested_use_gets_its_own() {
        with_buffer(|out| out.extend_from_slice(b"left over"));
        let (outer, inner) = with_buffer(|out| {
            let was_empty = out.is_empty();
            out.extend_from_slice(b"outer");
            let inner = with_buffer(|nested| {
                nested.extend_from_slice(b"inner");
                nested.clone()
            });
            assert!(was_empty);
            (out.clone(), inner)
        });
        assert_eq!((&outer[..], &inner[..]), (&b"outer"[..], &b"inner"[..]));
    }

    #[test]
    fn compact_span_takes_compact_containers_whole_and_only_them() {
        let body =
            br#"{"a":{"b":[1,"x } ",{}],"c":null},"d" :{"e":1},"f":{ "g":2},"h":[3 ],"i":"s"}"#;
        let span = |needle: &str| -> Option<String> {
            let open = body
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())?
                + needle.len();
            with_tape(body, |tape, map| {
                assert!(tape.is_ok());
                map.compact_span(open)
                    .map(|s| String::from_utf8(s.to_vec()).unwrap())
            })
        };
        assert_eq!(
            span(r#""a":"#).as_deref(),
            Some(r#"{"b":[1,"x } ",{}],"c":null}"#)
        );
        assert_eq!(span(r#""b":"#).as_deref(), Some(r#"[1,"x } ",{}]"#));
        assert_eq!(span(r#""d" :"#).as_deref(), Some(r#"{"e":1}"#));
        assert_eq!(span(r#""f":"#), None);
        assert_eq!(span(r#""h":"#), None);
        // Not a container, or not a token start.
        assert_eq!(span(r#""i":"#), None);
        assert_eq!(span(r#""a":{"#), None);
    }
}
