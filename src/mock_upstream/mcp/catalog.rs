//! The mock's tools, and their `tools/list` pages rendered ahead: each
//! worker keeps the pages' bytes for both eras and renders them again only
//! when the definitions' generation moves (`/mock/mcp/mutate` rewrites
//! `echo`'s description), so a list costs one copy.

use std::cell::RefCell;

use super::state::{self, Era};
use crate::canonical::json::{write_str, write_u64};

/// `(name, the definition after its name)`; `echo`'s description is
/// written apart, since a mutation changes it.
const TOOLS: [(&str, &str); 6] = [
    ("echo", r#""inputSchema":{"type":"object"}"#),
    (
        "add",
        r#""description":"Adds two numbers.","inputSchema":{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]}"#,
    ),
    (
        "slow",
        r#""description":"Waits delay_ms per step and reports progress after each step.","inputSchema":{"type":"object","properties":{"steps":{"type":"integer","minimum":0,"maximum":1000},"delay_ms":{"type":"integer","minimum":0,"maximum":60000}},"required":["steps"]}"#,
    ),
    (
        "fail",
        r#""description":"Always fails, as a tool: the result has isError.","inputSchema":{"type":"object"}"#,
    ),
    (
        "boom",
        r#""description":"Always fails with a JSON-RPC internal error.","inputSchema":{"type":"object"}"#,
    ),
    (
        "read_file",
        r#""description":"Returns the path it was asked to read.","inputSchema":{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}"#,
    ),
];

/// A cursor that names no page of the current list.
#[derive(Debug, PartialEq, Eq)]
pub struct BadCursor;

/// One worker's rendered pages, for the generation and options they were made with.
struct Pages {
    generation: u64,
    page_size: Option<usize>,
    ttl_ms: u64,
    legacy: Vec<Vec<u8>>,
    modern: Vec<Vec<u8>>,
}

thread_local! {
    static PAGES: RefCell<Option<Pages>> = const { RefCell::new(None) };
}

/// The page `cursor` names: the first without one, `page-N` the Nth.
pub fn page_for(cursor: Option<&str>) -> Result<usize, BadCursor> {
    let index = page_index(cursor)?;
    let pages = TOOLS
        .len()
        .div_ceil(state::page_size().unwrap_or(TOOLS.len()).max(1));
    if index < pages {
        Ok(index)
    } else {
        Err(BadCursor)
    }
}

/// Appends page `page` (from [`page_for`]) of the `tools/list` result in `era`.
pub fn write_tools_page(out: &mut Vec<u8>, era: Era, page: usize) {
    let (generation, page_size, ttl_ms) =
        (state::generation(), state::page_size(), state::ttl_ms());
    PAGES.with(|cell| {
        let mut cell = cell.borrow_mut();
        let pages = match &mut *cell {
            Some(p) if (p.generation, p.page_size, p.ttl_ms) == (generation, page_size, ttl_ms) => {
                p
            }
            slot => slot.insert(Pages {
                generation,
                page_size,
                ttl_ms,
                legacy: render_pages(Era::Legacy, generation, page_size, ttl_ms),
                modern: render_pages(Era::Modern, generation, page_size, ttl_ms),
            }),
        };
        let rendered = match era {
            Era::Legacy => &pages.legacy,
            Era::Modern => &pages.modern,
        };
        if let Some(bytes) = rendered.get(page) {
            out.extend_from_slice(bytes);
        }
    });
}

fn page_index(cursor: Option<&str>) -> Result<usize, BadCursor> {
    let Some(cursor) = cursor else { return Ok(0) };
    let n: usize = cursor
        .strip_prefix("page-")
        .and_then(|n| n.parse().ok())
        .ok_or(BadCursor)?;
    n.checked_sub(1).filter(|&i| i > 0).ok_or(BadCursor)
}

fn render_pages(era: Era, generation: u64, page_size: Option<usize>, ttl_ms: u64) -> Vec<Vec<u8>> {
    let size = page_size.unwrap_or(TOOLS.len()).max(1);
    let chunks: Vec<_> = TOOLS.chunks(size).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, tools)| {
            let mut out = Vec::with_capacity(1024);
            out.push(b'{');
            if era == Era::Modern {
                out.extend_from_slice(br#""resultType":"complete","#);
            }
            out.extend_from_slice(br#""tools":["#);
            for (k, (name, rest)) in tools.iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                write_tool(&mut out, name, rest, generation);
            }
            out.push(b']');
            if i + 1 < chunks.len() {
                out.extend_from_slice(br#","nextCursor":"page-"#);
                write_u64(&mut out, i as u64 + 2);
                out.push(b'"');
            }
            write_cache_hint(&mut out, era, ttl_ms);
            out.push(b'}');
            out
        })
        .collect()
}

fn write_tool(out: &mut Vec<u8>, name: &str, rest: &str, generation: u64) {
    out.extend_from_slice(br#"{"name":"#);
    write_str(out, name);
    out.push(b',');
    if name == "echo" {
        out.extend_from_slice(br#""description":"#);
        write_str(out, &echo_description(generation));
        out.push(b',');
    }
    out.extend_from_slice(rest.as_bytes());
    out.push(b'}');
}

/// `echo`'s description in a generation: each mutation changes it.
fn echo_description(generation: u64) -> String {
    match generation {
        0 => "Returns its arguments exactly as they were sent.".to_string(),
        n => format!("Returns its arguments exactly as they were sent (revision {n})."),
    }
}

/// `,"ttlMs":N,"cacheScope":"public"` on a modern cacheable result.
fn write_cache_hint(out: &mut Vec<u8>, era: Era, ttl_ms: u64) {
    if era == Era::Modern {
        out.extend_from_slice(br#","ttlMs":"#);
        write_u64(out, ttl_ms);
        out.extend_from_slice(br#","cacheScope":"public""#);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> simd_json::OwnedValue {
        simd_json::to_owned_value(&mut bytes.to_vec()).expect("valid JSON")
    }

    #[test]
    fn pages_chain_by_cursor_and_cover_every_tool() {
        use simd_json::prelude::*;
        for size in [None, Some(1), Some(2), Some(4), Some(6), Some(50)] {
            let pages = render_pages(Era::Modern, 0, size, 500);
            let mut names = Vec::new();
            for (i, page) in pages.iter().enumerate() {
                let v = parse(page);
                assert_eq!(v["resultType"], "complete");
                assert_eq!(v["ttlMs"], 500);
                assert_eq!(v["cacheScope"], "public");
                for t in v["tools"].as_array().unwrap() {
                    names.push(t["name"].as_str().unwrap().to_string());
                    assert!(t["inputSchema"].is_object());
                }
                let next = v.get("nextCursor").and_then(|c| c.as_str());
                let want = (i + 1 < pages.len()).then(|| format!("page-{}", i + 2));
                assert_eq!(next, want.as_deref(), "{size:?} page {i}");
                if let Some(next) = next {
                    assert_eq!(page_index(Some(next)), Ok(i + 1));
                }
            }
            assert_eq!(names, TOOLS.map(|(n, _)| n.to_string()), "{size:?}");
        }
    }

    #[test]
    fn legacy_pages_carry_no_modern_fields() {
        let pages = render_pages(Era::Legacy, 0, None, 500);
        let text = String::from_utf8(pages[0].clone()).unwrap();
        assert!(
            text.starts_with(r#"{"tools":[{"name":"echo","description":"#),
            "{text}"
        );
        assert!(!text.contains("resultType") && !text.contains("ttlMs"));
    }

    #[test]
    fn a_mutation_changes_echo_only() {
        let before = String::from_utf8(render_pages(Era::Modern, 0, None, 0).remove(0)).unwrap();
        let after = String::from_utf8(render_pages(Era::Modern, 3, None, 0).remove(0)).unwrap();
        assert_ne!(before, after);
        assert!(after.contains("(revision 3)"));
        assert_eq!(
            before.split_once("\"add\"").map(|p| p.1),
            after.split_once("\"add\"").map(|p| p.1)
        );
    }

    #[test]
    fn cursors() {
        let cases = [
            (None, Ok(0)),
            (Some("page-2"), Ok(1)),
            (Some("page-1"), Err(BadCursor)),
            (Some("page-0"), Err(BadCursor)),
            (Some("page-x"), Err(BadCursor)),
            (Some(""), Err(BadCursor)),
        ];
        for (cursor, want) in cases {
            assert_eq!(page_index(cursor), want, "{cursor:?}");
        }
    }
}
