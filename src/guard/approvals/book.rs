//! The approval book: every held call of the process, its state machine and
//! its single-use release. Expiry is lazy: an approval past its `expires_at`
//! turns `Expired` the next time anything looks at it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::entry::{Approval, Binding, CreateError, DecideError, Held, ReleaseError, State, View};

/// Wall-clock Unix milliseconds; injected so tests move time by hand.
pub type NowMs = Box<dyn Fn() -> u64 + Send + Sync>;

/// How long a settled approval (denied, expired, released) stays visible to
/// pollers and approvers before the book may forget it.
const RETAIN_SETTLED_MS: u64 = 10 * 60 * 1000;

/// Longest deny reason kept, in bytes; a longer one is cut at a character.
const MAX_REASON_BYTES: usize = 1024;

/// Every approval of the process. One book is shared by all cores behind a
/// `Mutex`: only requests that call an approval-required tool and admins
/// touch it, never an ordinary request, so the lock is off the hot path.
pub struct ApprovalBook {
    entries: Mutex<HashMap<String, Approval>>,
    capacity: usize,
    now_ms: NowMs,
}

impl ApprovalBook {
    /// A book holding at most `capacity` approvals, reading time from `now_ms`.
    pub fn new(capacity: usize, now_ms: NowMs) -> Self {
        ApprovalBook {
            entries: Mutex::new(HashMap::new()),
            capacity,
            now_ms,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Approval>> {
        // Nothing panics while the lock is held; a poisoned map is still whole.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds a call for approval until `ttl` from now; the new approval's id.
    /// `arguments` is the canonical JSON approvers are shown; `held` the
    /// answer to replay on a non-blocking resubmission.
    pub fn create(
        &self,
        binding: Binding,
        arguments: String,
        ttl: Duration,
        held: Option<Held>,
    ) -> Result<String, CreateError> {
        let id = new_id()?;
        let now = (self.now_ms)();
        let mut entries = self.lock();
        make_room(&mut entries, self.capacity, now)?;
        let mut approval = Approval {
            id: id.clone(),
            binding,
            arguments,
            created_at: now,
            expires_at: now.saturating_add(ttl.as_millis().min(u64::MAX as u128) as u64),
            state: State::Pending,
            decided_by: None,
            reason: None,
            held,
            events: Vec::with_capacity(3),
        };
        approval.record("created", None, now);
        entries.insert(id.clone(), approval);
        Ok(id)
    }

    /// One approval as it is now.
    pub fn get(&self, id: &str) -> Option<View> {
        let now = (self.now_ms)();
        let mut entries = self.lock();
        let approval = entries.get_mut(id)?;
        expire_if_due(approval, now);
        Some(approval.view())
    }

    /// The call an approval is bound to, and whether it holds an answer (a
    /// non-blocking approval, released by replaying it).
    pub fn binding(&self, id: &str) -> Option<(Binding, bool)> {
        let entries = self.lock();
        let approval = entries.get(id)?;
        Some((approval.binding.clone(), approval.held.is_some()))
    }

    /// An approval's state, for a blocking request waiting on a decision.
    pub fn state(&self, id: &str) -> Option<State> {
        let now = (self.now_ms)();
        let mut entries = self.lock();
        let approval = entries.get_mut(id)?;
        expire_if_due(approval, now);
        Some(approval.state)
    }

    /// Every approval (in `state`, when given), oldest first.
    pub fn list(&self, state: Option<State>) -> Vec<View> {
        let now = (self.now_ms)();
        let mut entries = self.lock();
        sweep(&mut entries, now, true);
        let mut views: Vec<View> = entries
            .values()
            .filter(|a| state.is_none_or(|s| a.state == s))
            .map(Approval::view)
            .collect();
        views.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        views
    }

    /// An approver lets the call through.
    pub fn approve(&self, id: &str, approver: &str) -> Result<View, DecideError> {
        self.decide(id, |a, now| {
            a.state = State::Approved;
            a.decided_by = Some(approver.to_owned());
            a.record("approved", Some(approver.to_owned()), now);
        })
    }

    /// An approver refuses the call, optionally saying why.
    pub fn deny(
        &self,
        id: &str,
        approver: &str,
        reason: Option<&str>,
    ) -> Result<View, DecideError> {
        self.decide(id, |a, now| {
            a.state = State::Denied;
            a.decided_by = Some(approver.to_owned());
            a.reason = reason.map(bounded_reason);
            a.held = None;
            a.record("denied", Some(approver.to_owned()), now);
        })
    }

    fn decide(
        &self,
        id: &str,
        apply: impl FnOnce(&mut Approval, u64),
    ) -> Result<View, DecideError> {
        let now = (self.now_ms)();
        let mut entries = self.lock();
        let approval = entries.get_mut(id).ok_or(DecideError::Unknown)?;
        expire_if_due(approval, now);
        if approval.state != State::Pending {
            return Err(DecideError::NotPending(approval.state));
        }
        apply(approval, now);
        Ok(approval.view())
    }

    /// Releases the approved call, once: `call` must be the very call that
    /// was held. On success the approval is spent and its held answer, if
    /// any, handed back. A call that differs is refused and the approval
    /// stays usable for the right one.
    pub fn release(&self, id: &str, call: &Binding) -> Result<Option<Held>, ReleaseError> {
        let now = (self.now_ms)();
        let mut entries = self.lock();
        let approval = entries.get_mut(id).ok_or(ReleaseError::Unknown)?;
        // The binding first: another key learns nothing of this approval's state.
        if let Some(m) = approval.binding.mismatch(call) {
            return Err(ReleaseError::Mismatch(m));
        }
        expire_if_due(approval, now);
        match approval.state {
            State::Pending => Err(ReleaseError::Pending),
            State::Denied => Err(ReleaseError::Denied),
            State::Expired => Err(ReleaseError::Expired),
            State::Released => Err(ReleaseError::Released),
            State::Approved => {
                approval.state = State::Released;
                let who = approval.binding.key_id.clone();
                approval.record("released", who, now);
                Ok(approval.held.take())
            }
        }
    }

    /// How many approvals the book holds, settled ones included.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An approval not decided and released by its `expires_at` expires then.
fn expire_if_due(approval: &mut Approval, now: u64) {
    if matches!(approval.state, State::Pending | State::Approved) && now >= approval.expires_at {
        approval.state = State::Expired;
        approval.held = None;
        let at = approval.expires_at;
        approval.record("expired", None, at);
    }
}

/// Expires what is due and forgets settled approvals: those settled longer
/// than the retention ago, or, with `keep_recent` off, all of them.
fn sweep(entries: &mut HashMap<String, Approval>, now: u64, keep_recent: bool) {
    entries.retain(|_, a| {
        expire_if_due(a, now);
        let forgettable = !keep_recent || now.saturating_sub(a.settled_at()) >= RETAIN_SETTLED_MS;
        !(a.state.is_final() && forgettable)
    });
}

/// Frees a place for one more approval, forgetting settled ones first old,
/// then recent; live ones (pending or approved) are never dropped.
fn make_room(
    entries: &mut HashMap<String, Approval>,
    capacity: usize,
    now: u64,
) -> Result<(), CreateError> {
    for keep_recent in [true, false] {
        if entries.len() < capacity {
            return Ok(());
        }
        sweep(entries, now, keep_recent);
    }
    if entries.len() < capacity {
        Ok(())
    } else {
        Err(CreateError::Full)
    }
}

/// `apr_` and 128 random bits in hex: unguessable, so an id alone is no key.
fn new_id() -> Result<String, CreateError> {
    use ring::rand::SecureRandom;
    let mut buf = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| CreateError::Entropy)?;
    Ok(format!("apr_{}", crate::governance::keys::to_hex(&buf)))
}

fn bounded_reason(reason: &str) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason.to_owned();
    }
    let mut cut = MAX_REASON_BYTES;
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    reason[..cut].to_owned()
}
