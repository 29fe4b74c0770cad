//! The tape a request is read from (simd-json's flat node array, parsed over
//! the worker's scratch buffers) and the typed field lookups the parsers use
//! on it.

use simd_json::Tape;
use simd_json::prelude::*;
use simd_json::tape::Value;

use crate::canonical::CanonicalError;
use crate::canonical::scratch::with_scratch;

pub(super) type Obj<'t, 'i> = simd_json::tape::Object<'t, 'i>;

/// Above this many keys simd-json's DOMs hash an object and a repeated key
/// keeps its last value; below it the first one is found. Lookups on the
/// tape keep that rule so a request means what it always meant.
pub(super) const VECTOR_MAP_LIMIT: usize = 32;

/// Parses `body` into a tape over the worker's scratch buffers and hands it
/// (or the parse error) to `f`; the tape cannot outlive the call.
pub(super) fn with_tape<R>(body: &[u8], f: impl FnOnce(simd_json::Result<Tape<'_>>) -> R) -> R {
    with_scratch(body, |input, buffers| {
        f(simd_json::to_tape_with_buffers(input, buffers))
    })
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
