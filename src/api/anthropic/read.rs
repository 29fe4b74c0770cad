//! Typed reads of request values off the tape, with the client error a
//! wrong type gets. `null` counts as absent, as Anthropic's API treats it.

use crate::canonical::tape::prelude::*;
use simd_json::tape::Value;

use crate::canonical::CanonicalError;

/// A field's path, rendered only when there is an error to report.
pub(super) type Path<'a> = &'a dyn Fn() -> String;

pub(super) fn present<'t, 'i>(value: Option<Value<'t, 'i>>) -> Option<Value<'t, 'i>> {
    value.filter(|v| !v.is_null())
}

/// `parent.key`, or just `key` at the top level.
pub(super) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

pub(super) fn opt_str<'i>(
    value: Option<Value<'_, 'i>>,
    path: Path,
) -> Result<Option<&'i str>, CanonicalError> {
    match present(value) {
        None => Ok(None),
        Some(v) => v
            .into_string()
            .map(Some)
            .ok_or_else(|| CanonicalError::new(path(), "must be a string")),
    }
}

pub(super) fn req_str<'i>(
    value: Option<Value<'_, 'i>>,
    path: Path,
) -> Result<&'i str, CanonicalError> {
    opt_str(value, path)?.ok_or_else(|| CanonicalError::new(path(), "is required"))
}

pub(super) fn opt_bool(value: Option<Value<'_, '_>>, path: Path) -> Result<bool, CanonicalError> {
    match present(value) {
        None => Ok(false),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| CanonicalError::new(path(), "must be a boolean")),
    }
}

pub(super) fn opt_f64(
    value: Option<Value<'_, '_>>,
    path: Path,
) -> Result<Option<f64>, CanonicalError> {
    present(value)
        .map(|v| {
            v.cast_f64()
                .ok_or_else(|| CanonicalError::new(path(), "must be a number"))
        })
        .transpose()
}

pub(super) fn opt_u32(
    value: Option<Value<'_, '_>>,
    path: Path,
) -> Result<Option<u32>, CanonicalError> {
    present(value)
        .map(|v| {
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| CanonicalError::new(path(), "must be a non-negative integer"))
        })
        .transpose()
}

/// The items of an array-valued field (`[]` when absent).
pub(super) fn opt_array<'t, 'i>(
    value: Option<Value<'t, 'i>>,
    path: Path,
) -> Result<Option<simd_json::tape::Array<'t, 'i>>, CanonicalError> {
    present(value)
        .map(|v| {
            v.as_array()
                .ok_or_else(|| CanonicalError::new(path(), "must be an array"))
        })
        .transpose()
}

pub(super) fn object<'t, 'i>(
    value: Value<'t, 'i>,
    path: Path,
) -> Result<crate::canonical::tape::Obj<'t, 'i>, CanonicalError> {
    value
        .as_object()
        .ok_or_else(|| CanonicalError::new(path(), "must be an object"))
}
