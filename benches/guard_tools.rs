//! The tool policy on a typical call: a file read checked against a schema
//! with types, an enum, a pattern, ranges and a path rule, end to end
//! (strict parse, schema, path, canonical digest); and RFC 8785
//! canonicalization of the same arguments alone.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::guard::tools::{ToolPolicy, ToolPolicyConfig, canonicalize};

const ARGS: &str = r#"{"path":"/srv/data/reports/q3.txt","mode":"read","max_bytes":4096}"#;

const POLICY: &str = r#"
[[tools]]
name = "read_file"
paths = [{ pointer = "/path", root = "/srv/data" }]

[tools.schema]
type = "object"
required = ["path", "mode"]
additionalProperties = false

[tools.schema.properties.path]
type = "string"
minLength = 1
maxLength = 512
pattern = '^[A-Za-z0-9_./-]+$'

[tools.schema.properties.mode]
type = "string"
enum = ["read", "stat"]

[tools.schema.properties.max_bytes]
type = "integer"
minimum = 1
maximum = 1048576
"#;

fn guard_tools(c: &mut Criterion) {
    let config: ToolPolicyConfig = toml::from_str(POLICY).expect("bench policy parses");
    let policy = ToolPolicy::compile("fs", &config).expect("bench policy compiles");
    assert!(policy.check_call("read_file", ARGS).is_ok());

    c.bench_function("tool_policy/check_call", |b| {
        b.iter(|| policy.check_call(black_box("read_file"), black_box(ARGS)))
    });
    c.bench_function("tool_policy/canonicalize", |b| {
        b.iter(|| canonicalize(black_box(ARGS)))
    });
}

criterion_group!(benches, guard_tools);
criterion_main!(benches);
