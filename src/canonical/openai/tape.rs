//! The tape a request is read from: a per-thread copy of the body and
//! simd-json's parse buffers reused from one request to the next, and the
//! typed field lookups the parsers use on it.
//!
//! simd-json parses in place and needs a mutable copy of the body plus a
//! structural index and a string buffer; allocating those per request cost
//! more than parsing a typical 1 KB body. Workers are thread-per-core, so a
//! thread-local needs no locking.

use std::cell::RefCell;

use simd_json::prelude::*;
use simd_json::tape::Value;
use simd_json::{Buffers, Tape};

use crate::canonical::CanonicalError;

/// Bodies above this get fresh buffers, so one huge request does not pin
/// its memory to a worker for the life of the process.
const REUSE_LIMIT: usize = 256 * 1024;

pub(super) type Obj<'t, 'i> = simd_json::tape::Object<'t, 'i>;

/// Above this many keys simd-json's DOMs hash an object and a repeated key
/// keeps its last value; below it the first one is found. Lookups on the
/// tape keep that rule so a request means what it always meant.
pub(super) const VECTOR_MAP_LIMIT: usize = 32;

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

/// Parses `body` into a tape and hands it (or the parse error) to `f`; the
/// tape borrows the scratch copy, so it cannot outlive the call.
pub(super) fn with_scratch<R>(body: &[u8], f: impl FnOnce(simd_json::Result<Tape<'_>>) -> R) -> R {
    if body.len() > REUSE_LIMIT {
        return with_fresh(body, f);
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            let Scratch { input, buffers } = &mut *scratch;
            input.clear();
            input.extend_from_slice(body);
            f(simd_json::to_tape_with_buffers(input, buffers))
        }
        // Only reachable if `f` itself parsed another request.
        Err(_) => with_fresh(body, f),
    })
}

fn with_fresh<R>(body: &[u8], f: impl FnOnce(simd_json::Result<Tape<'_>>) -> R) -> R {
    let mut input = body.to_vec();
    f(simd_json::to_tape(&mut input))
}

/// Copies out a string field; `null` counts as absent. `parent` renders the
/// path of the enclosing object, only when there is an error to report, so
/// the success path never formats paths.
pub(super) fn take_str(
    obj: &Obj<'_, '_>,
    key: &str,
    parent: &dyn Fn() -> String,
) -> Result<Option<String>, CanonicalError> {
    match field(obj, key) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => match v.as_str() {
            Some(s) => Ok(Some(s.to_owned())),
            None => Err(CanonicalError::new(
                join(&parent(), key),
                "must be a string",
            )),
        },
    }
}

/// The value of `key` in `obj`, resolving repeated keys the way the DOM
/// parsers always did (see [`VECTOR_MAP_LIMIT`]).
pub(super) fn field<'t, 'i>(obj: &Obj<'t, 'i>, key: &str) -> Option<Value<'t, 'i>> {
    if obj.len() > VECTOR_MAP_LIMIT {
        obj.iter().filter(|(k, _)| *k == key).last().map(|(_, v)| v)
    } else {
        obj.get(key)
    }
}

/// [`field`] of `value`, when it is an object.
pub(super) fn member<'t, 'i>(value: Value<'t, 'i>, key: &str) -> Option<Value<'t, 'i>> {
    field(&value.as_object()?, key)
}

/// `parent.key`, or just `key` at the top level.
pub(super) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn present<'t, 'i>(obj: &Obj<'t, 'i>, key: &str) -> Option<Value<'t, 'i>> {
    field(obj, key).filter(|v| !v.is_null())
}

pub(super) fn opt_bool(obj: &Obj<'_, '_>, key: &str) -> Result<Option<bool>, CanonicalError> {
    present(obj, key)
        .map(|v| {
            v.as_bool()
                .ok_or_else(|| CanonicalError::new(key, "must be a boolean"))
        })
        .transpose()
}

pub(super) fn opt_f64(obj: &Obj<'_, '_>, key: &str) -> Result<Option<f64>, CanonicalError> {
    present(obj, key)
        .map(|v| {
            v.cast_f64()
                .ok_or_else(|| CanonicalError::new(key, "must be a number"))
        })
        .transpose()
}

pub(super) fn opt_i64(obj: &Obj<'_, '_>, key: &str) -> Result<Option<i64>, CanonicalError> {
    present(obj, key)
        .map(|v| {
            v.as_i64()
                .ok_or_else(|| CanonicalError::new(key, "must be an integer"))
        })
        .transpose()
}

pub(super) fn opt_u32(obj: &Obj<'_, '_>, key: &str) -> Result<Option<u32>, CanonicalError> {
    present(obj, key)
        .map(|v| {
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| CanonicalError::new(key, "must be a non-negative integer"))
        })
        .transpose()
}
