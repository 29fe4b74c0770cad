//! What the approval book holds: the call an approval is bound to, the
//! approval's state and history, the answer held for a non-blocking replay,
//! and the views and errors the book hands out.

use std::fmt;

use serde::Serialize;

/// The one call an approval releases. Two calls are the same call only if
/// every field is equal: another key, tool, argument digest or policy version
/// is another call, and an approval for one never releases the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The gateway key that made the request (`None` when keys are off).
    pub key_id: Option<String>,
    pub tool: String,
    /// SHA-256 of the arguments in RFC 8785 canonical form.
    pub args_digest: [u8; 32],
    /// The tool policy's version when the call was held.
    pub policy_version: String,
}

impl Binding {
    /// The first field in which `other` differs from this binding, if any.
    pub fn mismatch(&self, other: &Binding) -> Option<Mismatch> {
        if self.key_id != other.key_id {
            Some(Mismatch::Key)
        } else if self.tool != other.tool {
            Some(Mismatch::Tool)
        } else if self.args_digest != other.args_digest {
            Some(Mismatch::Arguments)
        } else if self.policy_version != other.policy_version {
            Some(Mismatch::PolicyVersion)
        } else {
            None
        }
    }
}

/// Which part of a presented call is not the approved one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    Key,
    Tool,
    Arguments,
    PolicyVersion,
}

impl Mismatch {
    pub fn name(self) -> &'static str {
        match self {
            Mismatch::Key => "key",
            Mismatch::Tool => "tool",
            Mismatch::Arguments => "arguments",
            Mismatch::PolicyVersion => "policy_version",
        }
    }
}

/// Where an approval is in its life. `Pending` → `Approved` → `Released`,
/// or `Pending` → `Denied`, or `Pending`/`Approved` → `Expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Approved,
    Denied,
    Expired,
    Released,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Pending,
        State::Approved,
        State::Denied,
        State::Expired,
        State::Released,
    ];

    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Denied => "denied",
            State::Expired => "expired",
            State::Released => "released",
        }
    }

    pub fn from_name(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether nothing can happen to the approval any more.
    pub fn is_final(self) -> bool {
        matches!(self, State::Denied | State::Expired | State::Released)
    }
}

/// One step in an approval's life, for the delivery record and approvers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// `created`, `approved`, `denied`, `expired` or `released`.
    pub what: &'static str,
    /// The approver's token name, or the key that released the call.
    pub who: Option<String>,
    /// Unix milliseconds.
    pub at_ms: u64,
}

/// An answer the gateway stores while a non-blocking approval is pending,
/// replayed with the call released when the client resubmits. Opaque here.
#[derive(Clone, PartialEq, Eq)]
pub struct Held {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl fmt::Debug for Held {
    // The body is model output: its size only, never its text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Held")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("headers", &self.headers.len())
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// One held call awaiting (or past) a human decision.
pub(super) struct Approval {
    pub id: String,
    pub binding: Binding,
    /// Canonical JSON, shown to approvers.
    pub arguments: String,
    pub created_at: u64,
    pub expires_at: u64,
    pub state: State,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub held: Option<Held>,
    pub events: Vec<Event>,
}

impl Approval {
    pub fn record(&mut self, what: &'static str, who: Option<String>, at_ms: u64) {
        self.events.push(Event { what, who, at_ms });
    }

    /// When the approval last changed: the time of its last event.
    pub fn settled_at(&self) -> u64 {
        self.events.last().map_or(self.created_at, |e| e.at_ms)
    }

    pub fn view(&self) -> View {
        View {
            id: self.id.clone(),
            tool: self.binding.tool.clone(),
            key_id: self.binding.key_id.clone(),
            arguments: self.arguments.clone(),
            args_digest: format!(
                "sha256:{}",
                crate::governance::keys::to_hex(&self.binding.args_digest)
            ),
            policy_version: self.binding.policy_version.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            state: self.state,
            decided_by: self.decided_by.clone(),
            reason: self.reason.clone(),
            events: self.events.clone(),
        }
    }
}

/// An approval as approvers and the delivery record see it: never the held
/// answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct View {
    pub id: String,
    pub tool: String,
    pub key_id: Option<String>,
    pub arguments: String,
    /// `sha256:<hex>` of the canonical arguments.
    pub args_digest: String,
    pub policy_version: String,
    /// Unix milliseconds.
    pub created_at: u64,
    /// Unix milliseconds.
    pub expires_at: u64,
    pub state: State,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub events: Vec<Event>,
}

/// Why an approval could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// the approval book is full
    #[error("the approval book is full")]
    Full,
    /// no randomness for the approval id
    #[error("no randomness was available for the approval id")]
    Entropy,
}

/// Why an approver's decision was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    #[error("no such approval")]
    Unknown,
    /// decided or expired already
    #[error("the approval is {} already", .0.name())]
    NotPending(State),
}

impl ReleaseError {
    /// The error code a client is sent.
    pub fn code(self) -> &'static str {
        match self {
            ReleaseError::Unknown => "approval_not_found",
            ReleaseError::Mismatch(_) => "approval_mismatch",
            ReleaseError::Pending => "approval_pending",
            ReleaseError::Denied => "approval_denied",
            ReleaseError::Expired => "approval_expired",
            ReleaseError::Released => "approval_already_used",
        }
    }
}

/// Why a call was not released. Only `Released` is final for the caller's
/// approval id; a mismatch leaves the approval as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    #[error("no such approval")]
    Unknown,
    /// the call presented is not the approved call
    #[error("the call's {} differs from the approved call", .0.name())]
    Mismatch(Mismatch),
    #[error("the approval is still pending")]
    Pending,
    #[error("the approval was denied")]
    Denied,
    #[error("the approval expired")]
    Expired,
    /// single use: the call was released once already
    #[error("the approval was used already")]
    Released,
}
