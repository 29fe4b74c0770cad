//! What the MCP mock has seen, for tests (`GET /mock/mcp/stats`): calls
//! per tool, requests per method and per era. Each worker counts in its own
//! block (only its thread writes it: a load and a store, no shared
//! read-modify-write); a stats request sums the blocks.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::state::Era;
use crate::canonical::json::{write_i64, write_str, write_u64};

pub const TOOLS: [&str; 6] = ["echo", "add", "slow", "fail", "boom", "read_file"];
/// The methods counted by name; anything else counts as `other`.
pub const METHODS: [&str; 13] = [
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "prompts/list",
    "prompts/get",
    "subscriptions/listen",
    "notifications",
    "other",
];

// One block's slots: calls per tool (and unknown ones), requests per
// method, per era, then requests turned away before a method ran (headers,
// sessions, versions) and answered 503 by the outage switch.
const UNKNOWN_TOOL: usize = TOOLS.len();
const METHOD_BASE: usize = UNKNOWN_TOOL + 1;
const ERA_BASE: usize = METHOD_BASE + METHODS.len();
const REJECTED: usize = ERA_BASE + 2;
const OUTAGE: usize = REJECTED + 1;
const SLOTS: usize = OUTAGE + 1;

struct Block([AtomicU64; SLOTS]);

fn blocks() -> &'static Mutex<Vec<Arc<Block>>> {
    static BLOCKS: OnceLock<Mutex<Vec<Arc<Block>>>> = OnceLock::new();
    BLOCKS.get_or_init(Default::default)
}

thread_local! {
    static MINE: Arc<Block> = {
        let block = Arc::new(Block(std::array::from_fn(|_| AtomicU64::new(0))));
        if let Ok(mut all) = blocks().lock() {
            all.push(block.clone());
        }
        block
    };
}

/// Streams open now (GET streams and `subscriptions/listen`), over all workers.
static LISTENERS: AtomicI64 = AtomicI64::new(0);

fn bump(slot: usize) {
    MINE.with(|b| {
        let c = &b.0[slot];
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    });
}

pub fn tool_called(name: &str) {
    bump(
        TOOLS
            .iter()
            .position(|t| *t == name)
            .unwrap_or(UNKNOWN_TOOL),
    );
}

pub fn method_seen(method: &str, era: Era) {
    let index = if method.starts_with("notifications/") {
        METHODS.len() - 2
    } else {
        METHODS
            .iter()
            .position(|m| *m == method)
            .unwrap_or(METHODS.len() - 1)
    };
    bump(METHOD_BASE + index);
    bump(ERA_BASE + usize::from(era == Era::Modern));
}

pub fn rejected() {
    bump(REJECTED);
}

pub fn outage() {
    bump(OUTAGE);
}

/// Counts an open stream until dropped.
pub struct ListenerGuard(());

impl ListenerGuard {
    pub fn open() -> Self {
        LISTENERS.fetch_add(1, Ordering::Relaxed);
        ListenerGuard(())
    }
}

impl Drop for ListenerGuard {
    fn drop(&mut self) {
        LISTENERS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Every block summed, as the stats JSON.
pub fn write_json(out: &mut Vec<u8>, sessions: usize) {
    let mut sum = [0u64; SLOTS];
    if let Ok(all) = blocks().lock() {
        for block in all.iter() {
            for (s, c) in sum.iter_mut().zip(&block.0) {
                *s += c.load(Ordering::Relaxed);
            }
        }
    }
    render(out, &sum, sessions, LISTENERS.load(Ordering::Relaxed));
}

fn render(out: &mut Vec<u8>, sum: &[u64; SLOTS], sessions: usize, listeners: i64) {
    let names = TOOLS.iter().chain(&["unknown"]);
    write_map(out, b"{\"tools\":", names.zip(&sum[..METHOD_BASE]));
    write_map(
        out,
        b",\"methods\":",
        METHODS.iter().zip(&sum[METHOD_BASE..ERA_BASE]),
    );
    write_map(
        out,
        b",\"eras\":",
        ["legacy", "modern"].iter().zip(&sum[ERA_BASE..REJECTED]),
    );
    out.extend_from_slice(b",\"rejected\":");
    write_u64(out, sum[REJECTED]);
    out.extend_from_slice(b",\"outage\":");
    write_u64(out, sum[OUTAGE]);
    out.extend_from_slice(b",\"sessions\":");
    write_u64(out, sessions as u64);
    out.extend_from_slice(b",\"listeners\":");
    write_i64(out, listeners);
    out.push(b'}');
}

fn write_map<'a>(
    out: &mut Vec<u8>,
    key: &[u8],
    entries: impl Iterator<Item = (&'a &'a str, &'a u64)>,
) {
    out.extend_from_slice(key);
    out.push(b'{');
    for (i, (name, n)) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, name);
        out.push(b':');
        write_u64(out, *n);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_counter_by_name() {
        let mut sum = [0u64; SLOTS];
        sum[1] = 3; // add
        sum[UNKNOWN_TOOL] = 1;
        sum[METHOD_BASE + 4] = 5; // tools/call
        sum[ERA_BASE + 1] = 9; // modern
        sum[REJECTED] = 2;
        let mut out = Vec::new();
        render(&mut out, &sum, 4, 1);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(r#"{"tools":{"echo":0,"add":3,"slow":0,"fail":0,"boom":0,"read_file":0,"unknown":1},"methods":{"initialize":0,"#), "{text}");
        assert!(text.contains(r#""tools/call":5"#), "{text}");
        assert!(text.ends_with(r#""eras":{"legacy":0,"modern":9},"rejected":2,"outage":0,"sessions":4,"listeners":1}"#), "{text}");
    }

    #[test]
    fn a_worker_counts_in_its_own_block() {
        std::thread::spawn(|| {
            tool_called("boom");
            method_seen("notifications/initialized", Era::Legacy);
            let mine = MINE.with(|b| {
                (
                    b.0[4].load(Ordering::Relaxed),
                    b.0[METHOD_BASE + METHODS.len() - 2].load(Ordering::Relaxed),
                    b.0[ERA_BASE].load(Ordering::Relaxed),
                )
            });
            assert_eq!(mine, (1, 1, 1));
        })
        .join()
        .unwrap();
    }
}
