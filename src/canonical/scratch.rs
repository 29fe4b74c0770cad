//! A per-thread copy of a body and simd-json's parse buffers, reused from
//! one parse to the next on the same worker.
//!
//! simd-json parses in place and needs a mutable copy of the body plus a
//! structural index and a string buffer; allocating those per request cost
//! more than parsing a typical 1 KB body. Workers are thread-per-core, so a
//! thread-local needs no locking.

use std::cell::RefCell;

use simd_json::Buffers;

/// Bodies above this get fresh buffers, so one huge body does not pin its
/// memory to a worker for the life of the process.
const REUSE_LIMIT: usize = 256 * 1024;

struct Scratch {
    input: Vec<u8>,
    buffers: Buffers,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        input: Vec::with_capacity(4096),
        buffers: Buffers::new(4096),
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
            let Scratch { input, buffers } = &mut *scratch;
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
