//! `/admin/approvals`: approvers list, read, approve and deny held calls.
//! The admin API has already checked the token's `approvals` scope; the
//! approver recorded is that token's name, and every decision is audited.

use serde::{Deserialize, Serialize};

use super::book::ApprovalBook;
use super::entry::{DecideError, State, View};

/// Status and JSON body, as the admin API answers.
pub type Answer = (u16, Vec<u8>);

/// Records an audit entry: action, target, detail (the actor is the caller's).
pub type Audit<'a> = &'a mut dyn FnMut(&str, &str, String);

/// Serves `/admin/approvals/<rest…>` for the admin token named `approver`.
pub fn serve(
    book: &ApprovalBook,
    method: &str,
    rest: &[&str],
    query: Option<&str>,
    approver: &str,
    body: &mut [u8],
    audit: Audit<'_>,
) -> Answer {
    match (method, rest) {
        ("GET", []) => list(book, query),
        ("GET", [id]) => match book.get(id) {
            Some(view) => json(200, &view),
            None => unknown(id),
        },
        ("POST", [id, "approve"]) => decided(book.approve(id, approver), id, audit),
        ("POST", [id, "deny"]) => match deny_reason(body) {
            Ok(reason) => decided(book.deny(id, approver, reason.as_deref()), id, audit),
            Err(answer) => answer,
        },
        _ => error(
            404,
            "not_found",
            &format!(
                "No admin route {method} /admin/approvals/{}.",
                rest.join("/")
            ),
        ),
    }
}

#[derive(Serialize)]
struct Listed {
    data: Vec<View>,
}

fn list(book: &ApprovalBook, query: Option<&str>) -> Answer {
    let state = match query_value(query, "state") {
        None => None,
        Some(name) => match State::from_name(name) {
            Some(s) => Some(s),
            None => {
                return error(
                    400,
                    "invalid_state",
                    "`state` is one of pending, approved, denied, expired, released.",
                );
            }
        },
    };
    json(
        200,
        &Listed {
            data: book.list(state),
        },
    )
}

/// A decision's answer, audited when it was taken.
fn decided(result: Result<View, DecideError>, id: &str, audit: Audit<'_>) -> Answer {
    match result {
        Ok(view) => {
            let action = match view.state {
                State::Denied => "approval.deny",
                _ => "approval.approve",
            };
            audit(action, id, audit_detail(&view));
            json(200, &view)
        }
        Err(DecideError::Unknown) => unknown(id),
        Err(e @ DecideError::NotPending(_)) => error(
            409,
            "approval_not_pending",
            &format!("Approval `{id}`: {e}."),
        ),
    }
}

/// What the audit trail keeps of a decision: the call's tool and key, and a
/// deny's reason; never the arguments, which are the model's text.
fn audit_detail(view: &View) -> String {
    let mut detail = format!(
        "tool={} key={}",
        view.tool,
        view.key_id.as_deref().unwrap_or("-")
    );
    if let Some(reason) = &view.reason {
        detail.push_str(" reason=");
        detail.push_str(reason);
    }
    detail
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DenyBody {
    #[serde(default)]
    reason: Option<String>,
}

/// A deny's optional `{"reason": …}`; an empty body gives none.
fn deny_reason(body: &mut [u8]) -> Result<Option<String>, Answer> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    simd_json::serde::from_slice::<DenyBody>(body)
        .map(|b| b.reason)
        .map_err(|_| {
            error(
                400,
                "invalid_json",
                "A deny takes no body or {\"reason\": \"…\"}.",
            )
        })
}

fn unknown(id: &str) -> Answer {
    error(
        404,
        "approval_not_found",
        &format!("No approval `{id}` (unknown, or settled long enough ago to be forgotten)."),
    )
}

fn query_value<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// An error in the OpenAI shape every admin error has.
fn error(status: u16, code: &str, message: &str) -> Answer {
    let kind = match status {
        404 => "not_found_error",
        409 => "conflict_error",
        _ => "invalid_request_error",
    };
    (
        status,
        crate::api::ApiError::coded(status, kind, code, message).to_json(),
    )
}

fn json<T: Serialize>(status: u16, value: &T) -> Answer {
    match simd_json::serde::to_vec(value) {
        Ok(body) => (status, body),
        Err(_) => error(500, "internal_error", "The answer could not be written."),
    }
}
