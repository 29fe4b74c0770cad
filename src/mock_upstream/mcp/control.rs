//! The test-facing endpoints under `/mock/mcp/`: `GET stats` (counts),
//! `POST mutate` (a definition change: `echo`'s description, announced to
//! open streams) and `POST fail?on=1|0` (every `/mcp` request answers 503
//! until turned off).

use super::{session, state, stats};
use crate::canonical::json::write_u64;
use crate::server::{Request, Responder};

/// What a control request gets.
enum Control {
    Stats,
    Mutated(u64),
    Failing(bool),
    BadQuery,
    NotFound,
}

pub async fn serve(req: &Request, path: &str, resp: &mut Responder<'_>) {
    let control = match (req.method(), path) {
        ("GET", "/mock/mcp/stats") => Control::Stats,
        ("POST", "/mock/mcp/mutate") => Control::Mutated(state::mutate()),
        ("POST", "/mock/mcp/fail") => match fail_switch(req.query()) {
            Some(on) => {
                state::set_failing(on);
                Control::Failing(on)
            }
            None => Control::BadQuery,
        },
        _ => Control::NotFound,
    };
    let status = match control {
        Control::BadQuery => 400,
        Control::NotFound => 404,
        _ => 200,
    };
    let _ = resp
        .send_json_written(status, &[], |out| write(out, &control))
        .await;
}

/// `on=1` or `on=0` (also `true`/`false`).
fn fail_switch(query: Option<&str>) -> Option<bool> {
    let value = query?.split('&').find_map(|kv| kv.strip_prefix("on="))?;
    match value {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

fn write(out: &mut Vec<u8>, control: &Control) {
    match control {
        Control::Stats => stats::write_json(out, session::count()),
        Control::Mutated(generation) => {
            out.extend_from_slice(br#"{"generation":"#);
            write_u64(out, *generation);
            out.push(b'}');
        }
        Control::Failing(on) => {
            out.extend_from_slice(if *on {
                br#"{"failing":true}"#
            } else {
                br#"{"failing":false}"#
            });
        }
        Control::BadQuery => out.extend_from_slice(br#"{"error":"use ?on=1 or ?on=0"}"#),
        Control::NotFound => out.extend_from_slice(br#"{"error":"no such mock control"}"#),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fail_switch_reads_on() {
        let cases = [
            (Some("on=1"), Some(true)),
            (Some("x=2&on=0"), Some(false)),
            (Some("on=true"), Some(true)),
            (Some("on=yes"), None),
            (Some(""), None),
            (None, None),
        ];
        for (query, want) in cases {
            assert_eq!(fail_switch(query), want, "{query:?}");
        }
    }
}
