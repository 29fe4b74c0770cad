use super::*;

const SPANNER: &str = r#"{
  "type": "object",
  "properties": {
    "region": {"type": "string", "description": "d", "x-mcp-header": "Region"},
    "query": {"type": "string"},
    "opts": {"type": "object", "properties": {
      "shard": {"type": "integer", "x-mcp-header": "Shard"},
      "dry": {"type": "boolean", "x-mcp-header": "Dry-Run"}
    }}
  },
  "required": ["region", "query"]
}"#;

fn param(header: &str, path: &[&str], kind: ParamKind) -> HeaderParam {
    HeaderParam {
        header: header.into(),
        path: path.iter().map(|s| s.to_string()).collect(),
        kind,
    }
}

fn spanner() -> Vec<HeaderParam> {
    header_params(SPANNER.as_bytes()).unwrap()
}

#[test]
fn declared_headers_are_found_along_properties_chains() {
    assert_eq!(
        spanner(),
        [
            param("Mcp-Param-Dry-Run", &["opts", "dry"], ParamKind::Boolean),
            param("Mcp-Param-Region", &["region"], ParamKind::String),
            param("Mcp-Param-Shard", &["opts", "shard"], ParamKind::Integer),
        ]
    );
    for schema in [
        r#"{"type":"object"}"#,
        r#"{"type":"object","properties":{}}"#,
        r#"{"properties":{"a":{"type":"string","default":{"x-mcp-header":"Data"}}}}"#,
        r#"{"properties":{"a":{"type":"string","enum":[{"x-mcp-header":"Data"}]}}}"#,
        r##"{"properties":{"a":{"$ref":"#/$defs/b"}}}"##,
    ] {
        assert_eq!(header_params(schema.as_bytes()), Ok(vec![]), "{schema}");
    }
}

#[test]
fn annotations_breaking_a_rule_reject_the_tool() {
    for schema in [
        r#"{"type":"string","x-mcp-header":"Root"}"#,
        r#"{"properties":{"a":{"type":"array","items":{"type":"string","x-mcp-header":"A"}}}}"#,
        r#"{"properties":{"a":{"anyOf":[{"type":"string","x-mcp-header":"A"}]}}}"#,
        r#"{"properties":{"a":{"type":"string","not":{"x-mcp-header":"A"}}}}"#,
        r#"{"$defs":{"b":{"type":"string","x-mcp-header":"B"}}}"#,
        r#"{"additionalProperties":{"type":"string","x-mcp-header":"B"}}"#,
        r#"{"properties":{"a":{"type":"number","x-mcp-header":"A"}}}"#,
        r#"{"properties":{"a":{"type":"object","x-mcp-header":"A"}}}"#,
        r#"{"properties":{"a":{"x-mcp-header":"A"}}}"#,
        r#"{"properties":{"a":{"type":["string","null"],"x-mcp-header":"A"}}}"#,
        r#"{"properties":{"a":{"type":"string","x-mcp-header":""}}}"#,
        r#"{"properties":{"a":{"type":"string","x-mcp-header":"Has Space"}}}"#,
        r#"{"properties":{"a":{"type":"string","x-mcp-header":"Line\r\nX"}}}"#,
        r#"{"properties":{"a":{"type":"string","x-mcp-header":"Ünï"}}}"#,
        r#"{"properties":{"a":{"type":"string","x-mcp-header":1}}}"#,
        r#"{"properties":{"a":{"type":"string","x-mcp-header":"Dup"},"b":{"type":"integer","x-mcp-header":"dUP"}}}"#,
        "not json",
    ] {
        assert!(header_params(schema.as_bytes()).is_err(), "{schema}");
    }
}

#[test]
fn arguments_make_encoded_headers_and_absent_ones_none() {
    for (arguments, want) in [
        (
            r#"{"region":"us-west1","query":"q","opts":{"shard":42,"dry":false}}"#,
            &[
                ("Mcp-Param-Dry-Run", "false"),
                ("Mcp-Param-Region", "us-west1"),
                ("Mcp-Param-Shard", "42"),
            ][..],
        ),
        (
            r#"{"region":"Hello, 世界","opts":{"shard":-7.0,"dry":null}}"#,
            &[
                ("Mcp-Param-Region", "=?base64?SGVsbG8sIOS4lueVjA==?="),
                ("Mcp-Param-Shard", "-7"),
            ][..],
        ),
        (r#"{"region":null,"opts":[1]}"#, &[][..]),
        (r#"{"region":{"a":1},"opts":{"shard":[1]}}"#, &[][..]),
        (r#"{}"#, &[][..]),
        ("", &[][..]),
    ] {
        let got = param_headers(&spanner(), arguments.as_bytes());
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want, "{arguments}");
    }
}

fn check(arguments: &str, headers: &[(&str, &str)]) -> Result<(), String> {
    check_param_headers(&spanner(), arguments.as_bytes(), |name| {
        headers
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_bytes())
    })
}

#[test]
fn headers_that_agree_with_the_arguments_pass() {
    for (arguments, headers) in [
        (
            r#"{"region":"us-west1","opts":{"shard":42,"dry":true}}"#,
            &[
                ("mcp-param-region", "us-west1"),
                ("Mcp-Param-Shard", "42"),
                ("MCP-PARAM-DRY-RUN", "true"),
            ][..],
        ),
        (
            r#"{"region":"Hello, 世界","opts":{"shard":42}}"#,
            &[
                ("Mcp-Param-Region", "=?base64?SGVsbG8sIOS4lueVjA==?="),
                ("Mcp-Param-Shard", "42.0"),
            ][..],
        ),
        (
            r#"{"opts":{"shard":42.0}}"#,
            &[("Mcp-Param-Shard", "42")][..],
        ),
        (
            r#"{"opts":{"shard":9007199254740993}}"#,
            &[("Mcp-Param-Shard", "9007199254740993")][..],
        ),
        (r#"{"region":null}"#, &[][..]),
        (r#"{}"#, &[("Mcp-Param-Unknown", "x")][..]),
    ] {
        assert_eq!(check(arguments, headers), Ok(()), "{arguments}");
    }
}

#[test]
fn headers_that_disagree_are_a_mismatch_without_quoting_values() {
    for (arguments, headers) in [
        (r#"{"region":"us-west1"}"#, &[][..]),
        (r#"{}"#, &[("Mcp-Param-Region", "us-west1")][..]),
        (r#"{"region":null}"#, &[("Mcp-Param-Region", "")][..]),
        (
            r#"{"region":"us-west1"}"#,
            &[("Mcp-Param-Region", "us-east1")][..],
        ),
        (
            r#"{"region":"a"}"#,
            &[("Mcp-Param-Region", "=?base64?!!?=")][..],
        ),
        (r#"{"region":"a"}"#, &[("Mcp-Param-Region", "a\u{1}")][..]),
        (r#"{"region":{"a":1}}"#, &[("Mcp-Param-Region", "x")][..]),
        (
            r#"{"opts":{"shard":42}}"#,
            &[("Mcp-Param-Shard", "42.5")][..],
        ),
        (
            r#"{"opts":{"shard":42}}"#,
            &[("Mcp-Param-Shard", "4.2e1")][..],
        ),
        (r#"{"opts":{"shard":42}}"#, &[("Mcp-Param-Shard", "43")][..]),
        (
            r#"{"opts":{"dry":true}}"#,
            &[("Mcp-Param-Dry-Run", "True")][..],
        ),
    ] {
        let err = check(arguments, headers).expect_err(arguments);
        assert!(err.starts_with("Header mismatch: the Mcp-Param-"), "{err}");
        assert!(!err.contains("us-"), "{err}");
    }
}

#[test]
fn integers_in_header_text() {
    for (text, want) in [
        ("42", Some(42)),
        ("-7", Some(-7)),
        ("42.000", Some(42)),
        ("42.", None),
        ("42.5", None),
        (".0", None),
        ("-", None),
        ("+1", None),
        ("1e3", None),
        ("", None),
    ] {
        assert_eq!(decimal(text), want, "{text:?}");
    }
}
