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
}

/// Calls `f` with a mutable copy of `body` and parse buffers to use on it.
/// Parsing with `Buffers::new(body.len())` is what simd-json's plain entry
/// points do, so results and errors are the same either way.
pub fn with_scratch<R>(body: &[u8], f: impl FnOnce(&mut [u8], &mut Buffers) -> R) -> R {
    if body.len() > REUSE_LIMIT {
        return with_fresh(body, f);
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            let Scratch { input, buffers, .. } = &mut *scratch;
            input.clear();
            input.extend_from_slice(body);
            f(input, buffers)
        }
        // Only reachable if `f` itself parses another body.
        Err(_) => with_fresh(body, f),
    })
}

fn with_fresh<R>(body: &[u8], f: impl FnOnce(&mut [u8], &mut Buffers) -> R) -> R {
    let mut input = body.to_vec();
    f(&mut input, &mut Buffers::new(body.len()))
}

/// Where the strings of a tape sit in the body it was parsed from: the
/// parse runs over a copy of the body, at the same offsets, and a string
/// without escapes is read where it lies (an escaped one is unescaped in
/// place, from the same start).
#[derive(Clone, Copy)]
pub struct BodyMap<'b> {
    pub body: &'b [u8],
    copy_at: usize,
}

impl BodyMap<'_> {
    /// The offset in the body where `s`, a string read off the tape, starts.
    pub fn offset_of(&self, s: &str) -> Option<usize> {
        let at = (s.as_ptr() as usize).checked_sub(self.copy_at)?;
        (at + s.len() <= self.body.len()).then_some(at)
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
            let map = BodyMap {
                body,
                copy_at: input.as_ptr() as usize,
            };
            let mut parsed = tape.take().map_or_else(Tape::null, Tape::reset);
            let result = match simd_json::fill_tape_padded(input, body.len(), buffers, &mut parsed)
            {
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
    let map = BodyMap {
        body,
        copy_at: input.as_ptr() as usize,
    };
    match simd_json::to_tape(&mut input) {
        Ok(tape) => f(Ok(&tape), map),
        Err(e) => f(Err(e), map),
    }
}

#[cfg(test)]
mod tests {
    use simd_json::prelude::*;

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
}
