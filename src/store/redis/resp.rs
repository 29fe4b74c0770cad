//! RESP2, Redis's wire protocol: commands encoded as arrays of bulk strings,
//! replies read by a strict, bounded, resumable decoder.
//!
//! The decoder takes whatever bytes have arrived and consumes every complete
//! element it can, keeping unfinished arrays on a stack, so a large reply
//! read in many pieces is scanned once rather than once per piece. A server
//! that is broken or hostile cannot make it panic or allocate without bound:
//! bulk strings, arrays, nesting, line length, element count and a reply's
//! total size are all capped ([`Limits`]), and anything outside RESP2's five
//! types or its CRLF framing is an error, never a guess.

use thiserror::Error;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A null bulk string or null array.
    Nil,
    Int(i64),
    Bulk(Vec<u8>),
    Simple(String),
    Array(Vec<Value>),
    /// An error reply (`-ERR …`), kept as a value inside arrays and pipelines.
    Error(String),
}

impl Value {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// A bulk or simple string's bytes.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bulk(b) => Some(b),
            Value::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    pub fn into_array(self) -> Option<Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// An integer reply, or a string holding a decimal integer (`HGET` of a
    /// counter); `Nil` reads as 0, the value of a counter never written.
    pub fn to_i64(&self) -> Option<i64> {
        match self {
            Value::Nil => Some(0),
            Value::Int(n) => Some(*n),
            Value::Bulk(_) | Value::Simple(_) => {
                std::str::from_utf8(self.as_bytes()?).ok()?.parse().ok()
            }
            _ => None,
        }
    }
}

/// Appends one command (`*N` then `$len` bulk strings) to `out`.
pub fn encode<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.push(b'*');
    push_decimal(out, args.len());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        let arg = arg.as_ref();
        out.push(b'$');
        push_decimal(out, arg.len());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn push_decimal(out: &mut Vec<u8>, n: usize) {
    crate::canonical::json::write_u64(out, n as u64);
}

/// Why a reply was refused. Never quotes the reply's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RespError {
    /// A type byte RESP2 does not have (0x..).
    #[error("unknown reply type byte 0x{0:02x}")]
    UnknownType(u8),
    /// A line not ended by CRLF, or holding a bare CR or LF.
    #[error("a line not ended by CRLF")]
    BadLine,
    /// A line longer than the limit.
    #[error("a line longer than {0} bytes")]
    LineTooLong(usize),
    /// An integer or length that is not a decimal i64.
    #[error("a malformed integer")]
    BadInteger,
    /// A negative length other than -1 (null).
    #[error("a negative length")]
    BadLength,
    /// A bulk string whose data is not followed by CRLF.
    #[error("a bulk string not ended by CRLF")]
    BadBulkEnd,
    /// A simple string that is not UTF-8.
    #[error("a simple string that is not UTF-8")]
    NotUtf8,
    #[error("a bulk string over the {0}-byte limit")]
    BulkTooLong(usize),
    #[error("an array over the {0}-element limit")]
    ArrayTooLong(usize),
    #[error("arrays nested deeper than {0}")]
    TooDeep(usize),
    #[error("a reply over the {0}-element limit")]
    TooManyElements(usize),
    #[error("a reply over the {0}-byte limit")]
    TooLarge(usize),
}

/// The decoder's caps. The defaults fit the gateway's largest replies (every
/// key record in one `HGETALL`) with room to spare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bulk: usize,
    pub max_array: usize,
    pub max_depth: usize,
    pub max_line: usize,
    /// Elements (scalars and arrays) in one reply.
    pub max_elements: usize,
    /// Bytes in one reply.
    pub max_reply: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bulk: 32 << 20,
            max_array: 1 << 20,
            max_depth: 8,
            max_line: 64 << 10,
            max_elements: 4 << 20,
            max_reply: 128 << 20,
        }
    }
}

/// What a call to [`Decoder::decode`] reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A whole reply.
    Done(Value),
    /// The unconsumed input must hold at least this many bytes before the
    /// next call can make progress.
    More(usize),
}

struct Frame {
    items: Vec<Value>,
    len: usize,
}

/// Something read off the front of the input, or how long the input must
/// grow before it can be.
enum Have<T> {
    Ready(T),
    Need(usize),
}

/// One element read off the front of the input.
enum Element {
    Scalar(Value),
    ArrayOf(usize),
}

/// Decodes one reply at a time; reusable once a reply is done, to be
/// discarded (with its connection) after an error.
pub struct Decoder {
    limits: Limits,
    stack: Vec<Frame>,
    bytes: usize,
    elements: usize,
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            stack: Vec::new(),
            bytes: 0,
            elements: 0,
        }
    }

    /// Consumes what it can of `input`: returns how many bytes it used and
    /// whether a reply is complete. Bytes after a complete reply are left
    /// for the next call (the next reply of a pipeline).
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Step), RespError> {
        let mut pos = 0;
        loop {
            let (used, element) = match self.element(&input[pos..])? {
                Have::Ready(parsed) => parsed,
                Have::Need(need) => return Ok((pos, Step::More(need))),
            };
            pos += used;
            self.bytes += used;
            self.elements += 1;
            if self.elements > self.limits.max_elements {
                return Err(RespError::TooManyElements(self.limits.max_elements));
            }
            let mut value = match element {
                Element::ArrayOf(0) => Value::Array(Vec::new()),
                Element::ArrayOf(len) => {
                    if self.stack.len() >= self.limits.max_depth {
                        return Err(RespError::TooDeep(self.limits.max_depth));
                    }
                    // Capacity grows with the elements that arrive, not
                    // with the length the server claims.
                    let items = Vec::with_capacity(len.min(64));
                    self.stack.push(Frame { items, len });
                    continue;
                }
                Element::Scalar(v) => v,
            };
            loop {
                let Some(frame) = self.stack.last_mut() else {
                    self.bytes = 0;
                    self.elements = 0;
                    return Ok((pos, Step::Done(value)));
                };
                frame.items.push(value);
                if frame.items.len() < frame.len {
                    break;
                }
                let done = self.stack.pop().map(|f| f.items).unwrap_or_default();
                value = Value::Array(done);
            }
        }
    }

    /// The element at the front of `input` and the bytes it took.
    fn element(&self, input: &[u8]) -> Result<Have<(usize, Element)>, RespError> {
        let Some(&kind) = input.first() else {
            return Ok(Have::Need(1));
        };
        if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
            return Err(RespError::UnknownType(kind));
        }
        let line = match self.line(&input[1..])? {
            Have::Ready(line) => line,
            Have::Need(need) => return Ok(Have::Need(need + 1)),
        };
        let head = 1 + line.len() + 2;
        let room = self.limits.max_reply.saturating_sub(self.bytes);
        if head > room {
            return Err(RespError::TooLarge(self.limits.max_reply));
        }
        let element = match kind {
            b'+' => {
                let s = std::str::from_utf8(line).map_err(|_| RespError::NotUtf8)?;
                Element::Scalar(Value::Simple(s.to_owned()))
            }
            b'-' => Element::Scalar(Value::Error(String::from_utf8_lossy(line).into_owned())),
            b':' => Element::Scalar(Value::Int(parse_int(line)?)),
            b'$' => match Self::length(line, self.limits.max_bulk, RespError::BulkTooLong)? {
                None => Element::Scalar(Value::Nil),
                Some(len) => {
                    let total = head + len + 2;
                    if total > room {
                        return Err(RespError::TooLarge(self.limits.max_reply));
                    }
                    if input.len() < total {
                        return Ok(Have::Need(total));
                    }
                    if &input[head + len..total] != b"\r\n" {
                        return Err(RespError::BadBulkEnd);
                    }
                    let data = input[head..head + len].to_vec();
                    return Ok(Have::Ready((total, Element::Scalar(Value::Bulk(data)))));
                }
            },
            _ => match Self::length(line, self.limits.max_array, RespError::ArrayTooLong)? {
                None => Element::Scalar(Value::Nil),
                Some(len) => Element::ArrayOf(len),
            },
        };
        Ok(Have::Ready((head, element)))
    }

    /// The line at the front of `input`, without its CRLF.
    fn line<'a>(&self, input: &'a [u8]) -> Result<Have<&'a [u8]>, RespError> {
        // A line of `max_line` bytes has its CR at index `max_line` at most.
        let window = &input[..input.len().min(self.limits.max_line + 1)];
        match memchr::memchr2(b'\r', b'\n', window) {
            Some(i) if window[i] == b'\r' => match input.get(i + 1) {
                Some(b'\n') => Ok(Have::Ready(&input[..i])),
                Some(_) => Err(RespError::BadLine),
                None => Ok(Have::Need(i + 2)),
            },
            Some(_) => Err(RespError::BadLine),
            None if window.len() > self.limits.max_line => {
                Err(RespError::LineTooLong(self.limits.max_line))
            }
            None => Ok(Have::Need(input.len() + 1)),
        }
    }

    /// A bulk or array length: `None` for -1 (null).
    fn length(
        line: &[u8],
        max: usize,
        too_long: fn(usize) -> RespError,
    ) -> Result<Option<usize>, RespError> {
        match parse_int(line)? {
            -1 => Ok(None),
            n if n < 0 => Err(RespError::BadLength),
            n => match usize::try_from(n) {
                Ok(n) if n <= max => Ok(Some(n)),
                _ => Err(too_long(max)),
            },
        }
    }
}

/// A decimal i64: an optional `-`, then 1 to 19 digits, nothing else.
fn parse_int(s: &[u8]) -> Result<i64, RespError> {
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(RespError::BadInteger);
    }
    let mut n: i64 = 0;
    for &d in digits {
        let d = i64::from(d - b'0');
        n = n
            .checked_mul(10)
            .and_then(|n| {
                if negative {
                    n.checked_sub(d)
                } else {
                    n.checked_add(d)
                }
            })
            .ok_or(RespError::BadInteger)?;
    }
    Ok(n)
}

#[cfg(test)]
#[path = "resp_tests.rs"]
mod tests;
