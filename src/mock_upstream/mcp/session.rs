//! Legacy-era sessions: a random id minted by `initialize`, required on
//! every later request (400 without one, 404 for one the mock does not
//! know or has ended), ended by DELETE. A client's connections may land
//! on any worker, so the table is process-wide; only legacy requests read
//! it (the benchmark's modern calls never do).

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// Sessions kept at most: past this `initialize` is refused (503).
const MAX_SESSIONS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(u128);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// No `Mcp-Session-Id` header.
    Missing,
    /// An id the mock never minted, or one already ended.
    Unknown,
}

/// Per session: whether its GET stream is open (one at a time).
fn table() -> &'static RwLock<HashMap<SessionId, bool>> {
    static TABLE: OnceLock<RwLock<HashMap<SessionId, bool>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

impl SessionId {
    /// 32 lowercase hex digits: visible ASCII, as the spec asks.
    pub fn hex(&self) -> [u8; 32] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        std::array::from_fn(|i| DIGITS[((self.0 >> (124 - 4 * i)) & 0xf) as usize])
    }

    fn parse(raw: &[u8]) -> Option<Self> {
        if raw.len() != 32 || !raw.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let text = std::str::from_utf8(raw).ok()?;
        u128::from_str_radix(text, 16).ok().map(SessionId)
    }
}

/// A new session; `None` when the table is full or no randomness is to be had.
pub fn open() -> Option<SessionId> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut bytes).ok()?;
    let id = SessionId(u128::from_le_bytes(bytes));
    let mut table = table().write().ok()?;
    if table.len() >= MAX_SESSIONS {
        return None;
    }
    table.insert(id, false);
    Some(id)
}

/// The session a request's `Mcp-Session-Id` header names.
pub fn check(header: Option<&[u8]>) -> Result<SessionId, SessionError> {
    let raw = header.ok_or(SessionError::Missing)?;
    let id = SessionId::parse(raw).ok_or(SessionError::Unknown)?;
    let known = table().read().is_ok_and(|t| t.contains_key(&id));
    if known {
        Ok(id)
    } else {
        Err(SessionError::Unknown)
    }
}

pub fn is_open(id: SessionId) -> bool {
    table().read().is_ok_and(|t| t.contains_key(&id))
}

/// Ends a session (DELETE): later requests naming it get 404.
pub fn close(id: SessionId) {
    if let Ok(mut table) = table().write() {
        table.remove(&id);
    }
}

pub fn count() -> usize {
    table().read().map_or(0, |t| t.len())
}

/// The session's GET stream, held until dropped; `None` when one is open.
pub struct StreamClaim(SessionId);

impl StreamClaim {
    pub fn take(id: SessionId) -> Option<Self> {
        let mut table = table().write().ok()?;
        let open = table.get_mut(&id)?;
        if *open {
            return None;
        }
        *open = true;
        Some(StreamClaim(id))
    }

    pub fn session(&self) -> SessionId {
        self.0
    }
}

impl Drop for StreamClaim {
    fn drop(&mut self) {
        if let Ok(mut table) = table().write()
            && let Some(open) = table.get_mut(&self.0)
        {
            *open = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_lives_until_closed() {
        let id = open().unwrap();
        let hex = id.hex();
        assert_eq!(check(Some(&hex)), Ok(id));
        assert_eq!(check(None), Err(SessionError::Missing));
        assert_eq!(check(Some(b"not-a-session")), Err(SessionError::Unknown));
        let mut other = hex;
        other[0] = if hex[0] == b'0' { b'1' } else { b'0' };
        assert_eq!(check(Some(&other)), Err(SessionError::Unknown));
        close(id);
        assert_eq!(check(Some(&hex)), Err(SessionError::Unknown));
        assert!(!is_open(id));
    }

    #[test]
    fn one_get_stream_per_session() {
        let id = open().unwrap();
        let claim = StreamClaim::take(id).unwrap();
        assert!(StreamClaim::take(id).is_none());
        drop(claim);
        let again = StreamClaim::take(id);
        assert!(again.is_some());
        close(id);
        drop(again);
        assert!(
            StreamClaim::take(id).is_none(),
            "a closed session has no stream"
        );
    }

    #[test]
    fn ids_round_trip_through_hex() {
        for n in [
            0u128,
            1,
            u128::MAX,
            0x0123_4567_89ab_cdef_0011_2233_4455_6677,
        ] {
            let id = SessionId(n);
            assert_eq!(SessionId::parse(&id.hex()), Some(id));
        }
        assert_eq!(
            SessionId::parse(&[b'A'; 32]),
            None,
            "uppercase is not what was minted"
        );
    }
}
