//! Typed reads of the values a parser found on the tape, with the error a
//! client gets when one has the wrong type. `null` counts as absent.

use crate::canonical::tape::prelude::*;
use simd_json::tape::Value;

use crate::canonical::CanonicalError;

/// Copies out a string value. `parent` renders the path of the enclosing
/// object, only when there is an error to report, so the success path never
/// formats paths.
pub(super) fn take_str(
    value: Option<Value<'_, '_>>,
    key: &str,
    parent: &dyn Fn() -> String,
) -> Result<Option<String>, CanonicalError> {
    match present(value) {
        None => Ok(None),
        Some(v) => match v.as_str() {
            Some(s) => Ok(Some(s.to_owned())),
            None => Err(CanonicalError::new(
                join(&parent(), key),
                "must be a string",
            )),
        },
    }
}

/// `parent.key`, or just `key` at the top level.
pub(super) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

pub(super) fn present<'t, 'i>(value: Option<Value<'t, 'i>>) -> Option<Value<'t, 'i>> {
    value.filter(|v| !v.is_null())
}

/// A present value read by `read`, or the error `key` "must be …".
fn typed<'t, 'i, T>(
    value: Option<Value<'t, 'i>>,
    key: &str,
    read: impl FnOnce(Value<'t, 'i>) -> Option<T>,
    must_be: &str,
) -> Result<Option<T>, CanonicalError> {
    present(value)
        .map(|v| read(v).ok_or_else(|| CanonicalError::new(key, must_be)))
        .transpose()
}

pub(super) fn opt_bool(
    value: Option<Value<'_, '_>>,
    key: &str,
) -> Result<Option<bool>, CanonicalError> {
    typed(value, key, |v| v.as_bool(), "must be a boolean")
}

pub(super) fn opt_f64(
    value: Option<Value<'_, '_>>,
    key: &str,
) -> Result<Option<f64>, CanonicalError> {
    typed(value, key, |v| v.cast_f64(), "must be a number")
}

pub(super) fn opt_i64(
    value: Option<Value<'_, '_>>,
    key: &str,
) -> Result<Option<i64>, CanonicalError> {
    typed(value, key, |v| v.as_i64(), "must be an integer")
}

pub(super) fn opt_u32(
    value: Option<Value<'_, '_>>,
    key: &str,
) -> Result<Option<u32>, CanonicalError> {
    typed(
        value,
        key,
        |v| v.as_u64().and_then(|n| u32::try_from(n).ok()),
        "must be a non-negative integer",
    )
}
