//! Every MCP request's delivery record: who, which method, which
//! federated tool on which server, the policy's verdict, approvals, the
//! outcome and how long it took — one JSON line in the access log (when
//! `[server] access_log` is on). Arguments and results are never logged.

use std::time::Instant;

use crate::api::error::push_json_str;

pub struct McpRecord {
    pub request_id: String,
    pub key_id: Option<String>,
    pub method: String,
    pub era: &'static str,
    pub tool: Option<String>,
    pub server: Option<String>,
    /// `ok`, `tool_error`, `refused:<rule>`, `error:<code>`, `cancelled`…
    pub outcome: String,
    /// Approval steps and guard findings, in order.
    pub events: Vec<String>,
    pub started: Instant,
}

impl McpRecord {
    pub fn new(
        request_id: String,
        key_id: Option<String>,
        method: &str,
        era: &'static str,
    ) -> Self {
        McpRecord {
            request_id,
            key_id,
            method: method.to_owned(),
            era,
            tool: None,
            server: None,
            outcome: "ok".into(),
            events: Vec::new(),
            started: Instant::now(),
        }
    }

    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("{\"request_id\":");
        push_json_str(&mut out, &self.request_id);
        out.push_str(",\"inbound\":\"mcp\",\"key_id\":");
        opt(&mut out, self.key_id.as_deref());
        out.push_str(",\"method\":");
        push_json_str(&mut out, &self.method);
        out.push_str(",\"protocol_version\":");
        push_json_str(&mut out, self.era);
        out.push_str(",\"tool\":");
        opt(&mut out, self.tool.as_deref());
        out.push_str(",\"server\":");
        opt(&mut out, self.server.as_deref());
        out.push_str(",\"outcome\":");
        push_json_str(&mut out, &self.outcome);
        out.push_str(",\"events\":[");
        for (i, e) in self.events.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_str(&mut out, e);
        }
        out.push_str("],\"duration_us\":");
        out.push_str(&self.started.elapsed().as_micros().to_string());
        out.push('}');
        out
    }
}

fn opt(out: &mut String, v: Option<&str>) {
    match v {
        Some(v) => push_json_str(out, v),
        None => out.push_str("null"),
    }
}

/// The record's one sink.
pub fn record(rec: &McpRecord, access_log: bool) {
    if access_log {
        use std::io::Write;
        let mut line = rec.to_json();
        line.push('\n');
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}
