//! The mock's MCP server at `/mcp`: a fast upstream for the gateway's tests
//! and benchmarks, in both protocol eras (`--mcp-era legacy|modern|both`,
//! chosen per request by `MCP-Protocol-Version` when both), with tools
//! `echo`, `add`, `slow`, `fail`, `boom` and `read_file`, a resource, a
//! template and a prompt; `tools/list` pages of `--mcp-page-size` tools;
//! cacheable modern results carry `ttlMs` = `--mcp-ttl-ms` (0 by default).
//! Tests steer it at `/mock/mcp/{stats,mutate,fail}` (see `control`).
//!
//! Layout: `message` reads a body into spans; `methods` (with `tools`)
//! runs a method into a value; `answer` writes it; `legacy` and `modern`
//! are each era's HTTP rules; `outcome` sends; `stream` the SSE answers;
//! `catalog` the pre-rendered tool pages; `session` legacy sessions;
//! `state` and `stats` what the workers share.

mod answer;
mod catalog;
mod control;
mod legacy;
mod message;
mod methods;
mod modern;
mod outcome;
mod session;
mod state;
mod stats;
mod stream;
mod tools;

pub use state::set_option;

use crate::server::{Request, Responder};
use state::{Era, EraChoice, LEGACY_VERSIONS};

/// Whether the MCP mock answers `path`.
pub fn owns(path: &str) -> bool {
    path == "/mcp" || path.starts_with("/mock/mcp/")
}

pub async fn serve(req: &Request, resp: &mut Responder<'_>) {
    let path = req.path();
    if path != "/mcp" {
        return control::serve(req, path, resp).await;
    }
    if state::failing() {
        stats::outage();
        let _ = resp.send(503, &[], b"").await;
        return;
    }
    let (outcome, session) = match era_of(req, state::era_choice()) {
        Era::Legacy => legacy::handle(req),
        Era::Modern => (modern::handle(req), None),
    };
    outcome::send(outcome, session, resp).await;
}

/// A dual-era mock routes by `MCP-Protocol-Version`, as the reference SDK
/// does: none (an `initialize`, or a client from before the header) or a
/// legacy version is legacy; any other value is modern, where the ladder
/// judges it.
fn era_of(req: &Request, choice: EraChoice) -> Era {
    match choice {
        EraChoice::Legacy => Era::Legacy,
        EraChoice::Modern => Era::Modern,
        EraChoice::Both => match req.header_str("mcp-protocol-version") {
            None => Era::Legacy,
            Some(v) if LEGACY_VERSIONS.contains(&v) => Era::Legacy,
            Some(_) => Era::Modern,
        },
    }
}
