//! Reading JSON off simd-json's tape (one flat node array, parsed over the
//! worker's scratch buffers): the parse entry point and one-pass lookup of
//! the members a parser wants from an object.

use simd_json::tape::Value;

pub use super::scratch::{BodyMap, with_tape};

/// simd-json's value-reading traits, without the container traits of its
/// own prelude: those are implemented for `Vec`, and with them in scope
/// `vec.iter()` resolves to their boxed `dyn Iterator` (an allocation and a
/// virtual call per item) instead of the slice's iterator.
pub mod prelude {
    pub use simd_json::prelude::{
        TypedArrayValue, TypedObjectValue, TypedScalarValue, TypedValue, ValueAsArray,
        ValueAsMutObject, ValueAsObject, ValueAsScalar, ValueIntoString, ValueObjectAccess,
        ValueObjectAccessAsScalar, ValueType, Writable,
    };
}

pub type Obj<'t, 'i> = simd_json::tape::Object<'t, 'i>;

/// Above this many keys simd-json's DOMs hash an object and a repeated key
/// keeps its last value; below it the first one is found. Lookups on the
/// tape keep that rule so a request means what it always meant.
pub const VECTOR_MAP_LIMIT: usize = 32;

/// The value of `key` in `obj`, resolving repeated keys the way the DOM
/// parsers do (see [`VECTOR_MAP_LIMIT`]). For several keys of one object,
/// [`tape_fields!`](crate::tape_fields) reads them all in one pass.
pub fn field<'t, 'i>(obj: &Obj<'t, 'i>, key: &str) -> Option<Value<'t, 'i>> {
    if obj.len() > VECTOR_MAP_LIMIT {
        obj.iter().filter(|(k, _)| *k == key).last().map(|(_, v)| v)
    } else {
        obj.get(key)
    }
}

/// [`field`] of `value`, when it is an object.
pub fn member<'t, 'i>(value: Value<'t, 'i>, key: &str) -> Option<Value<'t, 'i>> {
    field(&value.as_object()?, key)
}

/// Declares a struct holding the values of an object's known keys, with a
/// `read` that fills it in one pass over the members (instead of one scan
/// per key). Repeated keys resolve as [`field`] does.
///
/// ```ignore
/// tape_fields! { struct Turn { role: "role", content: "content" } }
/// let turn = Turn::read(&obj);
/// ```
#[macro_export]
macro_rules! tape_fields {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($field:ident : $key:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Default, Clone, Copy)]
        $vis struct $name<'t, 'i> {
            $($field: Option<simd_json::tape::Value<'t, 'i>>,)*
        }

        impl<'t, 'i> $name<'t, 'i> {
            fn read(obj: &$crate::canonical::tape::Obj<'t, 'i>) -> Self {
                let mut found = Self::default();
                let last_wins = obj.len() > $crate::canonical::tape::VECTOR_MAP_LIMIT;
                for (key, value) in obj.iter() {
                    let slot = match key {
                        $($key => &mut found.$field,)*
                        _ => continue,
                    };
                    if last_wins || slot.is_none() {
                        *slot = Some(value);
                    }
                }
                found
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::canonical::tape::prelude::*;

    use super::*;

    tape_fields! { struct Pair { a: "a", b: "b" } }

    fn read_pair(src: &str) -> (Option<i64>, Option<i64>) {
        with_tape(src.as_bytes(), |tape, _| {
            let tape = tape.expect("valid JSON");
            let obj = tape.as_value().as_object().expect("an object");
            let pair = Pair::read(&obj);
            let (a, b) = (
                pair.a.and_then(|v| v.as_i64()),
                pair.b.and_then(|v| v.as_i64()),
            );
            assert_eq!(a, field(&obj, "a").and_then(|v| v.as_i64()));
            assert_eq!(b, field(&obj, "b").and_then(|v| v.as_i64()));
            (a, b)
        })
    }

    #[test]
    fn one_pass_read_matches_field_lookup() {
        assert_eq!(read_pair(r#"{"x":0,"b":2,"a":1}"#), (Some(1), Some(2)));
        assert_eq!(read_pair(r#"{"x":{"a":5}}"#), (None, None));
        // Small objects: the first of a repeated key, like the vector-map DOM.
        assert_eq!(read_pair(r#"{"a":1,"a":3}"#), (Some(1), None));
        // Large objects: the last one, like the hashed DOM.
        let filler: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
        assert_eq!(
            read_pair(&format!("{{\"a\":1,{filler}\"a\":3,\"b\":2}}")),
            (Some(3), Some(2))
        );
    }
}
