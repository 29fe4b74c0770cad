//! JSON Schema → the OpenAPI 3.0 subset Gemini's `parameters` and
//! `responseSchema` accept, for models too old for `parametersJsonSchema` /
//! `responseJsonSchema` (see `SchemaMode`). Newer models get the schema as-is.

use crate::canonical::tape::prelude::*;
use simd_json::OwnedValue;

type Obj = simd_json::owned::Object;

/// Keywords the subset understands; everything else is dropped.
const KEPT: &[&str] = &[
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "default",
    "example",
    "required",
    "propertyOrdering",
];

/// How deep `$ref`s are inlined before giving up (recursive schemas).
const MAX_REF_DEPTH: usize = 8;

/// Converts `schema`: `type: [T, "null"]` becomes `type: T, nullable: true`,
/// `const` becomes a one-value `enum`, `oneOf` becomes `anyOf`, local `$ref`s
/// (`#/$defs/…`, `#/definitions/…`) are inlined, and keywords outside the
/// subset (`additionalProperties`, `$schema`, `not`, …) are dropped.
pub fn to_openapi(schema: &OwnedValue) -> OwnedValue {
    convert(schema, schema, 0)
}

fn convert(node: &OwnedValue, root: &OwnedValue, depth: usize) -> OwnedValue {
    let Some(obj) = node.as_object() else {
        return node.clone();
    };
    if let Some(target) = obj.get("$ref").and_then(|r| r.as_str()) {
        return match resolve_ref(root, target) {
            Some(t) if depth < MAX_REF_DEPTH => convert(t, root, depth + 1),
            _ => OwnedValue::from(Obj::new()),
        };
    }
    let mut out = Obj::new();
    match obj.get("type") {
        Some(OwnedValue::Array(types)) => {
            let non_null: Vec<&OwnedValue> = types
                .iter()
                .filter(|t| t.as_str() != Some("null"))
                .collect();
            if non_null.len() < types.len() {
                out.insert("nullable".into(), OwnedValue::from(true));
            }
            if let [single] = non_null.as_slice() {
                out.insert("type".into(), (*single).clone());
            } else if !non_null.is_empty() {
                let any: Vec<OwnedValue> = non_null
                    .iter()
                    .map(|t| {
                        let mut o = Obj::new();
                        o.insert("type".into(), (*t).clone());
                        OwnedValue::from(o)
                    })
                    .collect();
                out.insert("anyOf".into(), OwnedValue::from(any));
            }
        }
        Some(t) => {
            out.insert("type".into(), t.clone());
        }
        None => {}
    }
    for key in KEPT {
        if let Some(v) = obj.get(*key) {
            out.insert((*key).into(), v.clone());
        }
    }
    if let Some(c) = obj.get("const") {
        out.insert("enum".into(), OwnedValue::from(vec![c.clone()]));
    }
    if let Some(items) = obj.get("items") {
        out.insert("items".into(), convert(items, root, depth));
    }
    if let Some(props) = obj.get("properties").and_then(|p| p.as_object()) {
        let mut converted = Obj::new();
        for (k, v) in props.iter() {
            converted.insert(k.clone(), convert(v, root, depth));
        }
        out.insert("properties".into(), OwnedValue::from(converted));
    }
    let variants = obj.get("anyOf").or_else(|| obj.get("oneOf"));
    if let Some(OwnedValue::Array(list)) = variants {
        let list: Vec<OwnedValue> = list.iter().map(|v| convert(v, root, depth)).collect();
        out.insert("anyOf".into(), OwnedValue::from(list));
    }
    if let Some(OwnedValue::Array(all)) = obj.get("allOf") {
        // A lone `allOf` wrapper (common from code generators) is inlined.
        if let [only] = all.as_slice()
            && let OwnedValue::Object(inner) = convert(only, root, depth)
        {
            for (k, v) in inner.into_iter() {
                out.entry(k).or_insert(v);
            }
        }
    }
    OwnedValue::from(out)
}

fn resolve_ref<'a>(root: &'a OwnedValue, target: &str) -> Option<&'a OwnedValue> {
    let path = target.strip_prefix("#/")?;
    let mut cur = root;
    for seg in path.split('/') {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        cur = cur.as_object()?.get(seg.as_str())?;
    }
    Some(cur)
}

/// True for an object schema without properties: Gemini rejects those in
/// `parameters`, so such a function is declared without parameters.
pub fn is_empty_object(schema: &OwnedValue) -> bool {
    schema.get_str("type").is_none_or(|t| t == "object")
        && schema
            .get("properties")
            .and_then(|p| p.as_object())
            .is_none_or(|p| p.is_empty())
        && schema.get("anyOf").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(src: &str) -> OwnedValue {
        let mut b = src.as_bytes().to_vec();
        to_openapi(&simd_json::to_owned_value(&mut b).unwrap())
    }

    fn parse(src: &str) -> OwnedValue {
        let mut b = src.as_bytes().to_vec();
        simd_json::to_owned_value(&mut b).unwrap()
    }

    #[test]
    fn rewrites_the_parts_the_subset_lacks() {
        let got = conv(
            r##"{"$schema":"x","type":"object","additionalProperties":false,
            "properties":{"unit":{"type":["string","null"],"enum":["c","f"]},
              "mode":{"const":"fast"},
              "when":{"oneOf":[{"type":"string"},{"type":"integer"}]},
              "place":{"$ref":"#/$defs/Place"}},
            "required":["unit"],
            "$defs":{"Place":{"type":"object","properties":{"city":{"type":"string"}}}}}"##,
        );
        let want = parse(
            r#"{"type":"object","required":["unit"],"properties":{
              "unit":{"nullable":true,"type":"string","enum":["c","f"]},
              "mode":{"enum":["fast"]},
              "when":{"anyOf":[{"type":"string"},{"type":"integer"}]},
              "place":{"type":"object","properties":{"city":{"type":"string"}}}}}"#,
        );
        assert_eq!(got, want);
    }

    #[test]
    fn recursive_refs_stop() {
        let got = conv(
            r##"{"$defs":{"N":{"type":"object","properties":{"next":{"$ref":"#/$defs/N"}}}},"$ref":"#/$defs/N"}"##,
        );
        assert!(simd_json::to_string(&got).unwrap().len() < 2000);
    }

    #[test]
    fn empty_objects() {
        assert!(is_empty_object(&parse(
            r#"{"type":"object","properties":{}}"#
        )));
        assert!(is_empty_object(&parse(r#"{"type":"object"}"#)));
        assert!(!is_empty_object(&parse(
            r#"{"type":"object","properties":{"a":{}}}"#
        )));
    }
}
