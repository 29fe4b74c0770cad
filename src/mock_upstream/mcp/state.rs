//! What every worker of the MCP mock reads: the command line's options (set
//! once before the workers start), the definitions' generation (bumped by
//! `/mock/mcp/mutate`) and the outage switch (`/mock/mcp/fail`). Plain
//! atomics, read with relaxed loads: tests flip them between requests.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

/// Which protocol eras the mock speaks (`--mcp-era`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EraChoice {
    Legacy,
    Modern,
    Both,
}

/// The era one request is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2025-03-26 … 2025-11-25: `initialize`, sessions, a GET stream.
    Legacy,
    /// 2026-07-28: stateless, per-request `_meta`.
    Modern,
}

pub const MODERN_VERSION: &str = "2026-07-28";
/// Newest first: `initialize` answers the newest when it does not know the asked one.
pub const LEGACY_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

static ERA: AtomicU8 = AtomicU8::new(2);
/// 0: one page.
static PAGE_SIZE: AtomicU64 = AtomicU64::new(0);
static TTL_MS: AtomicU64 = AtomicU64::new(0);
static GENERATION: AtomicU64 = AtomicU64::new(0);
static FAILING: AtomicBool = AtomicBool::new(false);

/// Applies one `--mcp-*` command-line flag.
pub fn set_option(name: &str, value: &str) -> Result<(), String> {
    let number = || {
        value
            .parse::<u64>()
            .map_err(|_| format!("{name} takes a number"))
    };
    match name {
        "--mcp-era" => {
            let era = match value {
                "legacy" => 0,
                "modern" => 1,
                "both" => 2,
                other => return Err(format!("unknown MCP era `{other}` (legacy, modern, both)")),
            };
            ERA.store(era, Ordering::Relaxed);
        }
        "--mcp-page-size" => PAGE_SIZE.store(number()?, Ordering::Relaxed),
        "--mcp-ttl-ms" => TTL_MS.store(number()?, Ordering::Relaxed),
        other => return Err(format!("unknown argument `{other}`")),
    }
    Ok(())
}

pub fn era_choice() -> EraChoice {
    match ERA.load(Ordering::Relaxed) {
        0 => EraChoice::Legacy,
        1 => EraChoice::Modern,
        _ => EraChoice::Both,
    }
}

/// Tools per `tools/list` page; `None` for a single page.
pub fn page_size() -> Option<usize> {
    match PAGE_SIZE.load(Ordering::Relaxed) {
        0 => None,
        n => Some(usize::try_from(n).unwrap_or(usize::MAX)),
    }
}

/// `ttlMs` on cacheable modern results.
pub fn ttl_ms() -> u64 {
    TTL_MS.load(Ordering::Relaxed)
}

/// The versions this mock serves, newest first (`server/discover`, -32022).
pub fn supported_versions() -> &'static [&'static str] {
    const ALL: [&str; 4] = [MODERN_VERSION, "2025-11-25", "2025-06-18", "2025-03-26"];
    match era_choice() {
        EraChoice::Both => &ALL,
        EraChoice::Modern => &ALL[..1],
        EraChoice::Legacy => &ALL[1..],
    }
}

pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// A definition changed: listeners see the new generation on their next tick.
pub fn mutate() -> u64 {
    GENERATION.fetch_add(1, Ordering::AcqRel) + 1
}

pub fn failing() -> bool {
    FAILING.load(Ordering::Relaxed)
}

pub fn set_failing(on: bool) {
    FAILING.store(on, Ordering::Relaxed);
}
