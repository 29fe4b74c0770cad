//! The answer side of the guards: every tool call the model emits is
//! checked against the request's tool policy before any of it reaches the
//! client (refused, passed, or held for a human's approval), and answer
//! text passes the request's text rules (keys, canaries, system-prompt
//! overlap, PII) — on streams through a bounded window, never the whole
//! answer.

use std::sync::Arc;

use super::obligations::{Obligations, ToolCallHold};
use crate::api::ApiError;
use crate::canonical::{ChatChunk, ChunkDelta};
use crate::config::ApprovalsConfig;
use crate::guard::approvals::{self, Binding, Held, ReleaseError, State};
use crate::guard::text::{LeakEvent, LeakKind, StreamGuard, Verdict};

/// How a leak event is named in guard events and errors.
pub fn leak_rule(event: &LeakEvent) -> String {
    match event.kind {
        LeakKind::Key => "api_key".into(),
        LeakKind::Canary => "canary".into(),
        LeakKind::SystemPrompt => "system_prompt".into(),
        LeakKind::Pii(k) => format!("pii_{}", super::guards::pii_name(k)),
    }
}

pub fn blocks(event: &LeakEvent) -> bool {
    event.action == Verdict::Blocked
}

/// The refusal sent when the text rules block an answer.
pub fn leak_error(event: &LeakEvent) -> ApiError {
    ApiError::coded(
        403,
        "permission_error",
        "output_blocked",
        format!(
            "The answer was stopped by the leak guard (rule `{}`).",
            leak_rule(event)
        ),
    )
}

/// What the policy says of one emitted call.
pub enum CallStep {
    Pass,
    Refuse(ApiError),
    /// Held until a human approves this exact call.
    Approve(Binding, String),
}

pub fn check_call(ob: &Obligations, name: &str, arguments: &str) -> CallStep {
    let Some(policy) = &ob.tool_policy else {
        return CallStep::Pass;
    };
    match policy.check_call(name, arguments) {
        Err(r) => CallStep::Refuse(ApiError::coded(
            403,
            "permission_error",
            "tool_call_refused",
            format!(
                "The model's call to tool `{name}` was refused by tool policy `{}` ({}): {}",
                policy.name(),
                r.rule,
                r.message
            ),
        )),
        Ok(c) if c.approval_required => CallStep::Approve(
            Binding {
                key_id: ob.key_id.clone(),
                tool: name.to_owned(),
                args_digest: c.args_digest,
                policy_version: policy.version().to_owned(),
            },
            crate::guard::tools::canonicalize(arguments).unwrap_or_default(),
        ),
        Ok(_) => CallStep::Pass,
    }
}

/// Where an approval stands for the call being delivered.
pub enum Opened {
    /// The approval the client presented covers exactly this call: released.
    Released,
    /// A pending approval was created (and approvers notified).
    Pending(String),
}

/// Releases the call with the approval the client presented, if it covers
/// exactly this call; otherwise opens a pending approval for it.
pub fn open(
    ob: &Obligations,
    cfg: &ApprovalsConfig,
    binding: &Binding,
    arguments: String,
    held: Option<Held>,
    events: &mut Vec<String>,
) -> Result<Opened, ApiError> {
    open_approval(
        ob.approval_id.as_deref(),
        cfg,
        binding,
        arguments,
        held,
        events,
    )
}

/// [`open`] for a caller without chat obligations (the MCP gateway): the
/// approval id the client presented, if any.
pub fn open_approval(
    presented: Option<&str>,
    cfg: &ApprovalsConfig,
    binding: &Binding,
    arguments: String,
    held: Option<Held>,
    events: &mut Vec<String>,
) -> Result<Opened, ApiError> {
    if let Some(id) = presented {
        match approvals::book().release(id, binding) {
            Ok(_) => {
                events.push(format!("approval:released:{id}"));
                return Ok(Opened::Released);
            }
            Err(e) => {
                events.push(format!("approval:refused:{id}:{}", e.code()));
                return Err(release_error(id, &e));
            }
        }
    }
    let ttl = std::time::Duration::from_millis(cfg.ttl_ms);
    let id = approvals::book()
        .create(binding.clone(), arguments, ttl, held)
        .map_err(|_| {
            ApiError::coded(
                503,
                "service_unavailable_error",
                "approvals_full",
                "Too many tool calls are waiting for approval; try again later.",
            )
        })?;
    events.push(format!("approval:pending:{id}:{}", binding.tool));
    if let Some(url) = &cfg.webhook
        && let (Some(n), Some(view)) = (notifier(url), approvals::book().get(&id))
    {
        n.notify(&view);
    }
    Ok(Opened::Pending(id))
}

/// The approvers' webhook, one notifier thread per URL for the process
/// (`None` only if its thread cannot start: the URL was checked when the
/// config was loaded).
fn notifier(url: &str) -> Option<Arc<approvals::Notifier>> {
    use std::sync::{Mutex, OnceLock};
    type ByUrl = Vec<(String, Arc<approvals::Notifier>)>;
    static NOTIFIERS: OnceLock<Mutex<ByUrl>> = OnceLock::new();
    let mut all = NOTIFIERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some((_, n)) = all.iter().find(|(u, _)| u == url) {
        return Some(n.clone());
    }
    let n = Arc::new(approvals::Notifier::start(url, std::time::Duration::from_secs(5)).ok()?);
    all.push((url.to_owned(), n.clone()));
    Some(n)
}

/// What the waiting request sees on one look at its pending approval.
pub enum Poll {
    Waiting,
    Released,
    Refused(ApiError),
}

pub fn poll(id: &str, binding: &Binding, events: &mut Vec<String>) -> Poll {
    match approvals::book().state(id) {
        Some(State::Pending) => Poll::Waiting,
        Some(State::Approved) => match approvals::book().release(id, binding) {
            Ok(_) => {
                events.push(format!("approval:released:{id}"));
                Poll::Released
            }
            Err(e) => Poll::Refused(release_error(id, &e)),
        },
        Some(State::Denied) => {
            events.push(format!("approval:denied:{id}"));
            Poll::Refused(ApiError::coded(
                403,
                "permission_error",
                "tool_call_denied",
                format!(
                    "The call to tool `{}` was denied by an approver (approval `{id}`).",
                    binding.tool
                ),
            ))
        }
        _ => {
            events.push(format!("approval:expired:{id}"));
            Poll::Refused(expired(id, &binding.tool))
        }
    }
}

pub fn expired(id: &str, tool: &str) -> ApiError {
    ApiError::coded(
        403,
        "permission_error",
        "approval_expired",
        format!("The call to tool `{tool}` was not approved in time (approval `{id}`)."),
    )
}

pub fn release_error(id: &str, e: &ReleaseError) -> ApiError {
    ApiError::coded(
        409,
        "invalid_request_error",
        e.code(),
        format!("Approval `{id}` cannot release this call: {e}."),
    )
}

/// The text that stands in for a held call in a non-blocking answer.
pub fn pending_marker(id: &str, tool: &str) -> String {
    format!(
        "[tollgate] The call to tool `{tool}` is waiting for approval `{id}`. Poll GET /v1/tollgate/approvals/{id}; once it is approved, send this request again with the header `x-tollgate-approval-id: {id}` to receive the answer with the call."
    )
}

/// The streamed answer's guard: tool calls held whole and checked, text
/// through the window.
pub struct StreamAnswerGuard {
    hold: Option<ToolCallHold>,
    text: Option<StreamGuard>,
    /// What the text window did (redactions, logged PII), once per rule.
    pub events: Vec<String>,
}

/// One step of the guarded stream.
pub enum Step {
    Chunk(ChatChunk),
    /// A complete call the policy asks a human about (the chunk to send when released).
    Approve(ChatChunk, Binding, String),
    Stop(ApiError),
}

impl StreamAnswerGuard {
    pub fn new(ob: &Obligations) -> Option<Self> {
        let hold = (ob.hold_tool_calls || ob.tool_policy.is_some()).then(ToolCallHold::default);
        let text: Option<StreamGuard> = ob.text.as_ref().map(|t| t.stream());
        (hold.is_some() || text.is_some()).then_some(StreamAnswerGuard {
            hold,
            text,
            events: Vec::new(),
        })
    }

    pub fn push(&mut self, ob: &Obligations, chunk: ChatChunk, out: &mut Vec<Step>) {
        let released = match self.hold.as_mut() {
            Some(h) => h.push(chunk),
            None => vec![chunk],
        };
        for c in released {
            self.check(ob, c, out);
        }
    }

    /// What is still held at the end of the stream.
    pub fn finish(&mut self, ob: &Obligations, out: &mut Vec<Step>) {
        if let Some(text) = self.text.as_mut() {
            let emit = text.finish();
            note(&mut self.events, emit.event.as_ref());
            text_step(emit.text, emit.event, out);
        }
        let rest = self
            .hold
            .as_mut()
            .map(|h| h.release_all())
            .unwrap_or_default();
        for c in rest {
            self.check(ob, c, out);
        }
    }

    fn check(&mut self, ob: &Obligations, chunk: ChatChunk, out: &mut Vec<Step>) {
        let ChatChunk::Delta {
            choice,
            mut delta,
            finish_reason,
        } = chunk
        else {
            out.push(Step::Chunk(chunk));
            return;
        };
        if let Some(text) = self.text.as_mut()
            && let Some(content) = delta.content.take()
        {
            let emit = text.push(&content);
            note(&mut self.events, emit.event.as_ref());
            if let Some(event) = emit.event.filter(blocks) {
                out.push(Step::Stop(leak_error(&event)));
                return;
            }
            if !emit.text.is_empty() {
                delta.content = Some(emit.text);
            }
        }
        if finish_reason.is_some()
            && let Some(text) = self.text.as_mut()
        {
            // What the window still holds goes out before the choice ends.
            let emit = text.finish();
            note(&mut self.events, emit.event.as_ref());
            text_step(emit.text, emit.event, out);
        }
        if let Some(call) = delta.tool_call.take() {
            let one = ChatChunk::Delta {
                choice,
                delta: ChunkDelta {
                    tool_call: Some(call.clone()),
                    ..ChunkDelta::default()
                },
                finish_reason: None,
            };
            let name = call.name.clone().unwrap_or_default();
            match check_call(ob, &name, &call.arguments) {
                CallStep::Pass => out.push(Step::Chunk(one)),
                CallStep::Refuse(e) => {
                    out.push(Step::Stop(e));
                    return;
                }
                CallStep::Approve(binding, args) => out.push(Step::Approve(one, binding, args)),
            }
        }
        if delta != ChunkDelta::default() || finish_reason.is_some() {
            out.push(Step::Chunk(ChatChunk::Delta {
                choice,
                delta,
                finish_reason,
            }));
        }
    }
}

/// A leak event for the delivery record, once per rule and action.
fn note(events: &mut Vec<String>, event: Option<&LeakEvent>) {
    if let Some(e) = event {
        let line = format!("leak:{:?}:{}", e.action, leak_rule(e));
        if !events.contains(&line) {
            events.push(line);
        }
    }
}

fn text_step(text: String, event: Option<LeakEvent>, out: &mut Vec<Step>) {
    if let Some(event) = event.filter(blocks) {
        out.push(Step::Stop(leak_error(&event)));
        return;
    }
    if !text.is_empty() {
        out.push(Step::Chunk(ChatChunk::delta(ChunkDelta {
            content: Some(text),
            ..ChunkDelta::default()
        })));
    }
}

/// What a request presenting an approval id gets before anything else.
pub enum Replay {
    /// The approval holds no answer (blocking mode): the request runs, and
    /// the approval releases a call only if it is exactly the bound one.
    NotHeld,
    /// The held answer, released once.
    Answer(Held),
    Refused(ApiError),
}

pub fn replay(id: &str, key_id: Option<&str>, events: &mut Vec<String>) -> Replay {
    let book = approvals::book();
    let Some((mut binding, held)) = book.binding(id) else {
        return Replay::Refused(not_found(id));
    };
    if !held {
        // A used approval (its held answer already replayed, or its call
        // released) is spent for every request that presents it.
        if book.state(id) == Some(State::Released) {
            events.push(format!("approval:refused:{id}:approval_already_used"));
            return Replay::Refused(release_error(id, &ReleaseError::Released));
        }
        return Replay::NotHeld;
    }
    binding.key_id = key_id.map(str::to_owned);
    match book.release(id, &binding) {
        Ok(Some(held)) => {
            events.push(format!("approval:replayed:{id}"));
            Replay::Answer(held)
        }
        Ok(None) => Replay::NotHeld,
        Err(e) => {
            events.push(format!("approval:refused:{id}:{}", e.code()));
            Replay::Refused(release_error(id, &e))
        }
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::coded(
        404,
        "not_found_error",
        "approval_not_found",
        format!("No approval `{id}`."),
    )
}

/// `GET /v1/tollgate/approvals/{id}`: the key that made the call polls its
/// approval's state (any other key is told it does not exist).
pub fn client_view(id: &str, key_id: Option<&str>) -> (u16, Vec<u8>) {
    match approvals::book().get(id) {
        Some(v) if v.key_id.as_deref() == key_id => {
            let mut body = Vec::with_capacity(160);
            body.extend_from_slice(b"{\"id\":");
            crate::canonical::json::write_str(&mut body, id);
            body.extend_from_slice(b",\"object\":\"tollgate.approval\",\"tool\":");
            crate::canonical::json::write_str(&mut body, &v.tool);
            body.extend_from_slice(b",\"status\":");
            crate::canonical::json::write_str(&mut body, v.state.name());
            body.extend_from_slice(format!(",\"expires_at\":{}}}", v.expires_at).as_bytes());
            (200, body)
        }
        _ => {
            let e = not_found(id);
            (e.status, e.to_json())
        }
    }
}
