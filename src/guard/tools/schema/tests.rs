use super::*;
use crate::guard::tools::strict::parse_strict;

fn schema(text: &str) -> Result<Schema, String> {
    let value = parse_strict(text).map_err(|e| e.to_string())?.into_owned();
    compile(&value)
}

/// `want`: `None` valid, `Some((pointer, reason fragment))` the violation.
fn check(schema_text: &str, cases: &[(&str, Option<(&str, &str)>)]) {
    let compiled = schema(schema_text).unwrap_or_else(|e| panic!("{schema_text}: {e}"));
    for (instance, want) in cases {
        let value = parse_strict(instance).unwrap_or_else(|e| panic!("{instance}: {e}"));
        let got = compiled.validate(&value);
        match (want, got) {
            (None, Ok(())) => {}
            (Some((pointer, reason)), Err(v)) => {
                assert_eq!(v.pointer, *pointer, "{schema_text} / {instance}");
                assert!(
                    v.reason.contains(reason),
                    "{schema_text} / {instance}: {}",
                    v.reason
                );
            }
            (want, got) => panic!("{schema_text} / {instance}: want {want:?}, got {got:?}"),
        }
    }
}

#[test]
fn types() {
    check(
        r#"{"type":"integer"}"#,
        &[
            ("3", None),
            ("3.0", None),
            ("3.5", Some(("(root)", "expected integer, got number"))),
            ("\"3\"", Some(("(root)", "got string"))),
        ],
    );
    check(
        r#"{"type":["string","null"]}"#,
        &[
            ("null", None),
            ("\"x\"", None),
            ("[]", Some(("(root)", "expected null or string"))),
        ],
    );
    check("true", &[("{}", None)]);
    check("false", &[("{}", Some(("(root)", "no value")))]);
}

#[test]
fn strings_count_characters_not_bytes() {
    check(
        r#"{"minLength":2,"maxLength":3,"pattern":"^[a-zé]+$"}"#,
        &[
            ("\"éé\"", None),
            ("\"ééé\"", None),
            ("\"é\"", Some(("(root)", "shorter than 2"))),
            ("\"abcd\"", Some(("(root)", "longer than 3"))),
            ("\"AB\"", Some(("(root)", "pattern"))),
        ],
    );
    check(r#"{"pattern":"b"}"#, &[("\"abc\"", None), ("7", None)]);
}

#[test]
fn numbers() {
    check(
        r#"{"minimum":1,"maximum":10,"exclusiveMaximum":10,"multipleOf":0.5}"#,
        &[
            ("1", None),
            ("9.5", None),
            ("0.5", Some(("(root)", "below the minimum"))),
            ("10", Some(("(root)", "exclusive maximum"))),
            ("2.25", Some(("(root)", "multiple of 0.5"))),
        ],
    );
    check(
        r#"{"exclusiveMinimum":0,"multipleOf":0.1}"#,
        &[("0.3", None), ("0", Some(("(root)", "exclusive minimum")))],
    );
}

#[test]
fn enums_and_consts_compare_as_json() {
    check(
        r#"{"enum":["read","write",1,{"a":[true]}]}"#,
        &[
            ("\"read\"", None),
            ("1.0", None),
            (r#"{"a":[true]}"#, None),
            ("\"exec\"", Some(("(root)", "allowed values"))),
        ],
    );
    check(
        r#"{"const":{"x":1,"y":2}}"#,
        &[
            (r#"{"y":2,"x":1}"#, None),
            (r#"{"x":1}"#, Some(("(root)", "constant"))),
        ],
    );
}

#[test]
fn objects() {
    let s = r#"{"type":"object","required":["path"],"properties":{"path":{"type":"string"},"n":{"type":"integer"}},
              "patternProperties":{"^x-":{"type":"boolean"}},"additionalProperties":false,"maxProperties":3}"#;
    check(
        s,
        &[
            (r#"{"path":"a"}"#, None),
            (r#"{"path":"a","x-debug":true}"#, None),
            ("{}", Some(("(root)", "missing required property `path`"))),
            (r#"{"path":1}"#, Some(("/path", "expected string"))),
            (
                r#"{"path":"a","x-debug":1}"#,
                Some(("/x-debug", "expected boolean")),
            ),
            (
                r#"{"path":"a","mode":"rw"}"#,
                Some(("/mode", "not allowed")),
            ),
            (
                r#"{"path":"a","n":1,"x-a":true,"x-b":true}"#,
                Some(("(root)", "too many")),
            ),
        ],
    );
    check(
        r#"{"additionalProperties":{"type":"string"}}"#,
        &[
            (r#"{"a":"b"}"#, None),
            (r#"{"a/b~":1}"#, Some(("/a~1b~0", "expected string"))),
        ],
    );
}

#[test]
fn arrays() {
    check(
        r#"{"prefixItems":[{"type":"string"}],"items":{"type":"integer"},"minItems":1,"maxItems":3,"uniqueItems":true}"#,
        &[
            (r#"["a",1,2]"#, None),
            ("[]", Some(("(root)", "fewer than 1"))),
            (r#"["a",1,1]"#, Some(("(root)", "not unique"))),
            (r#"["a","b"]"#, Some(("/1", "expected integer"))),
            (r#"["a",1,2,3]"#, Some(("(root)", "more than 3"))),
        ],
    );
    check(
        r#"{"items":[{"type":"string"}],"additionalItems":false}"#,
        &[(r#"["a"]"#, None), (r#"["a",1]"#, Some(("/1", "no value")))],
    );
    let long: Vec<String> = (0..100).map(|i| format!("{{\"k\":{i}}}")).collect();
    let unique = format!("[{}]", long.join(","));
    let repeated = format!("[{},{{\"k\":7.0}}]", long.join(","));
    check(
        r#"{"uniqueItems":true}"#,
        &[(&unique, None), (&repeated, Some(("(root)", "not unique")))],
    );
}

#[test]
fn combinators_and_refs() {
    check(
        r#"{"anyOf":[{"type":"string"},{"minimum":5}]}"#,
        &[
            ("\"a\"", None),
            ("6", None),
            ("1", Some(("(root)", "none of `anyOf`"))),
        ],
    );
    check(
        r#"{"oneOf":[{"type":"integer"},{"minimum":5}]}"#,
        &[
            ("1", None),
            ("5.5", None),
            ("6", Some(("(root)", "2 of `oneOf`"))),
        ],
    );
    check(
        r#"{"allOf":[{"type":"string"},{"maxLength":1}],"not":{"const":"x"}}"#,
        &[
            ("\"a\"", None),
            ("\"ab\"", Some(("(root)", "longer"))),
            ("\"x\"", Some(("(root)", "`not`"))),
        ],
    );
    check(
        r##"{"$defs":{"node":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"additionalProperties":false}},"$ref":"#/$defs/node"}"##,
        &[
            (r#"{"kids":[{"kids":[]}]}"#, None),
            (
                r#"{"kids":[{"kids":[{"bad":1}]}]}"#,
                Some(("/kids/0/kids/0/bad", "not allowed")),
            ),
        ],
    );
    check(
        r##"{"definitions":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/definitions/s"}}}"##,
        &[
            (r#"{"a":"x"}"#, None),
            (r#"{"a":1}"#, Some(("/a", "expected string"))),
        ],
    );
}

#[test]
fn a_ref_cycle_that_consumes_nothing_ends_in_a_violation() {
    check(
        r##"{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}"##,
        &[("1", Some(("(root)", "too deeply")))],
    );
    check(
        r##"{"$ref":"#"}"##,
        &[("1", Some(("(root)", "too deeply")))],
    );
}

#[test]
fn unknown_or_malformed_keywords_fail_the_compile() {
    let cases = [
        (r#"{"maxLenght":3}"#, "#/maxLenght: keyword not supported"),
        (
            r#"{"properties":{"a":{"type":"strng"}}}"#,
            "#/properties/a/type: unknown type `strng`",
        ),
        (r#"{"if":{},"then":{}}"#, "#/if: keyword not supported"),
        (
            r#"{"pattern":"(?<=a)b"}"#,
            "#/pattern: pattern does not compile",
        ),
        (
            r#"{"minLength":-1}"#,
            "#/minLength: must be a non-negative integer",
        ),
        (
            r#"{"minLength":1.5}"#,
            "#/minLength: must be a non-negative integer",
        ),
        (
            r#"{"exclusiveMinimum":true}"#,
            "#/exclusiveMinimum: draft-4",
        ),
        (
            r#"{"multipleOf":0}"#,
            "#/multipleOf: must be greater than 0",
        ),
        (
            r#"{"$ref":"https://example.com/s.json"}"#,
            "#/$ref: only `#`",
        ),
        (r##"{"$ref":"#/$defs/missing"}"##, "#/$ref: only `#`"),
        (r#"{"anyOf":[]}"#, "#/anyOf: must not be empty"),
        (
            r#"{"properties":{"a":{"$defs":{}}}}"#,
            "#/properties/a/$defs: only the root",
        ),
        ("3", "#: a schema must be an object or a boolean"),
        (r#"{"enum":"a"}"#, "#/enum: must be an array"),
    ];
    for (text, want) in cases {
        match schema(text) {
            Err(e) => assert!(e.starts_with(want), "{text}: {e}"),
            Ok(_) => panic!("{text} compiled"),
        }
    }
}

#[test]
fn annotations_are_accepted() {
    check(
        r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"t","description":"d","format":"uri","default":1,"examples":[1]}"#,
        &[("\"not a uri\"", None)],
    );
}
