//! The conversation as provider APIs take it: an array of turns whose roles
//! alternate, consecutive items of one role sharing a turn (Anthropic's
//! `messages` of content blocks, Gemini's `contents` of parts).

/// Writes `{"role":…,"<items>":[…]}` turns into an array the caller opened
/// and closes, leaving a turn open while items of its role follow.
pub struct Turns<'o> {
    out: &'o mut Vec<u8>,
    /// The member holding a turn's items: `content`, `parts`.
    items: &'static str,
    open: Option<&'static str>,
}

impl<'o> Turns<'o> {
    pub fn new(out: &'o mut Vec<u8>, items: &'static str) -> Self {
        Turns {
            out,
            items,
            open: None,
        }
    }

    /// Where the next item of a `role` turn goes: after a comma in the open
    /// turn of that role, or at the start of a new turn.
    pub fn item(&mut self, role: &'static str) -> &mut Vec<u8> {
        if self.open == Some(role) {
            self.out.push(b',');
        } else {
            if self.open.is_some() {
                self.out.extend_from_slice(b"]},");
            }
            self.out.extend_from_slice(b"{\"role\":\"");
            self.out.extend_from_slice(role.as_bytes());
            self.out.extend_from_slice(b"\",\"");
            self.out.extend_from_slice(self.items.as_bytes());
            self.out.extend_from_slice(b"\":[");
            self.open = Some(role);
        }
        self.out
    }

    /// Closes the last turn; `false` when there was none (no item written).
    pub fn finish(self) -> bool {
        if self.open.is_some() {
            self.out.extend_from_slice(b"]}");
        }
        self.open.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_of_one_role_share_a_turn_until_another_role_comes() {
        let mut out = b"[".to_vec();
        let mut turns = Turns::new(&mut out, "parts");
        turns.item("user").extend_from_slice(b"1");
        turns.item("user").extend_from_slice(b"2");
        turns.item("model").extend_from_slice(b"3");
        turns.item("user").extend_from_slice(b"4");
        assert!(turns.finish());
        out.push(b']');
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[{"role":"user","parts":[1,2]},{"role":"model","parts":[3]},{"role":"user","parts":[4]}]"#
        );
        let mut empty = Vec::new();
        assert!(!Turns::new(&mut empty, "content").finish());
        assert!(empty.is_empty());
    }
}
