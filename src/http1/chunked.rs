//! An incremental decoder for `Transfer-Encoding: chunked` bodies. It hands
//! back slices of the input, so decoded data is never copied. Strict for
//! requests (every line ends in CRLF, RFC 9112 §7.1), lenient for upstream
//! answers, where a bare LF is harmless and some servers send one.

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    #[error("malformed chunk size line")]
    BadSize,
    #[error("chunk size line or trailer too long")]
    LineTooLong,
    #[error("missing CRLF after chunk data")]
    BadDelimiter,
    #[error("line ends in a bare LF instead of CRLF")]
    BareLf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    TrailerLf,
    Done,
}

const MAX_LINE: usize = 4096;

#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    size_digits: usize,
    line_len: usize,
    strict: bool,
    /// The previous byte of a trailer line was CR.
    after_cr: bool,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        Self {
            state: State::Size,
            size: 0,
            size_digits: 0,
            line_len: 0,
            strict: false,
            after_cr: false,
        }
    }

    /// A decoder that refuses a bare LF anywhere a CRLF belongs: for request
    /// bodies, where two hops reading one body differently is a smuggling vector.
    pub fn strict() -> Self {
        Self {
            strict: true,
            ..Self::new()
        }
    }

    fn bare_lf(&self) -> Result<(), ChunkedError> {
        if self.strict {
            Err(ChunkedError::BareLf)
        } else {
            Ok(())
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes framing from `input` up to the next run of data and returns
    /// `(consumed, data)`, where `data` is a sub-slice of the consumed bytes.
    /// Returns `(n, [])` when the input ran out (or the body ended) before any data.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, &'a [u8]), ChunkedError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Done => return Ok((i, &[])),
                State::Data => {
                    let take = (self.size as usize).min(input.len() - i);
                    self.size -= take as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok((i + take, &input[i..i + take]));
                }
                State::Size => {
                    let digit = match b {
                        b'0'..=b'9' => Some(b - b'0'),
                        b'a'..=b'f' => Some(b - b'a' + 10),
                        b'A'..=b'F' => Some(b - b'A' + 10),
                        _ => None,
                    };
                    match digit {
                        Some(d) => {
                            if self.size_digits >= 15 {
                                return Err(ChunkedError::BadSize);
                            }
                            self.size = self.size * 16 + u64::from(d);
                            self.size_digits += 1;
                        }
                        None if self.size_digits == 0 => return Err(ChunkedError::BadSize),
                        None => match b {
                            b'\r' => self.state = State::SizeLf,
                            b'\n' => {
                                self.bare_lf()?;
                                self.end_size_line();
                            }
                            b';' | b' ' | b'\t' => {
                                self.state = State::Extension;
                                self.line_len = 0;
                            }
                            _ => return Err(ChunkedError::BadSize),
                        },
                    }
                }
                State::Extension => match b {
                    b'\r' => self.state = State::SizeLf,
                    b'\n' => {
                        self.bare_lf()?;
                        self.end_size_line();
                    }
                    _ => {
                        self.line_len += 1;
                        if self.line_len > MAX_LINE {
                            return Err(ChunkedError::LineTooLong);
                        }
                    }
                },
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::BadSize);
                    }
                    self.end_size_line();
                }
                State::DataCr => match b {
                    b'\r' => self.state = State::DataLf,
                    b'\n' => {
                        self.bare_lf()?;
                        self.start_size();
                    }
                    _ => return Err(ChunkedError::BadDelimiter),
                },
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::BadDelimiter);
                    }
                    self.start_size();
                }
                State::TrailerStart => match b {
                    b'\r' => self.state = State::TrailerLf,
                    b'\n' => {
                        self.bare_lf()?;
                        self.state = State::Done;
                        return Ok((i + 1, &[]));
                    }
                    _ => {
                        self.state = State::TrailerLine;
                        self.line_len = 1;
                        self.after_cr = false;
                    }
                },
                State::TrailerLine => {
                    if b == b'\n' {
                        if !self.after_cr {
                            self.bare_lf()?;
                        }
                        self.state = State::TrailerStart;
                    } else {
                        self.after_cr = b == b'\r';
                        self.line_len += 1;
                        if self.line_len > MAX_LINE {
                            return Err(ChunkedError::LineTooLong);
                        }
                    }
                }
                State::TrailerLf => {
                    if b != b'\n' {
                        return Err(ChunkedError::BadDelimiter);
                    }
                    self.state = State::Done;
                    return Ok((i + 1, &[]));
                }
            }
            i += 1;
        }
        Ok((i, &[]))
    }

    fn end_size_line(&mut self) {
        self.state = if self.size == 0 {
            State::TrailerStart
        } else {
            State::Data
        };
    }

    fn start_size(&mut self) {
        self.state = State::Size;
        self.size = 0;
        self.size_digits = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, bool, usize), ChunkedError> {
        decode_with(ChunkedDecoder::new(), input, step)
    }

    fn decode_with(
        mut d: ChunkedDecoder,
        input: &[u8],
        step: usize,
    ) -> Result<(Vec<u8>, bool, usize), ChunkedError> {
        let mut out = Vec::new();
        let mut pos = 0;
        let mut fed = 0;
        while fed < input.len() && !d.is_done() {
            fed = (fed + step).min(input.len());
            loop {
                let (n, data) = d.decode(&input[pos..fed])?;
                out.extend_from_slice(data);
                pos += n;
                if n == 0 || d.is_done() {
                    break;
                }
            }
        }
        Ok((out, d.is_done(), pos))
    }

    #[test]
    fn decodes_at_every_split() {
        let body =
            b"5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        for step in 1..body.len() {
            let (out, done, consumed) = decode_all(body, step).unwrap();
            assert_eq!(out, b"hello 0123456789");
            assert!(done);
            assert_eq!(&body[consumed..], b"NEXT");
        }
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(decode_all(b"zz\r\n", 4), Err(ChunkedError::BadSize));
        assert_eq!(decode_all(b"2\r\nabX", 9), Err(ChunkedError::BadDelimiter));
        assert_eq!(
            decode_all(b"ffffffffffffffff\r\n", 20),
            Err(ChunkedError::BadSize)
        );
    }

    #[test]
    fn strict_refuses_bare_lf_at_every_split() {
        let good = b"5\r\nhello\r\n1;e\r\n \r\n0\r\nx-t: 1\r\n\r\n";
        let bad: [&[u8]; 5] = [
            b"5\nhello\r\n0\r\n\r\n",
            b"5;e\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"5\r\nhello\r\n0\r\nx-t: 1\n\r\n",
            b"5\r\nhello\r\n0\r\n\n",
        ];
        for step in 1..good.len() {
            let (out, done, _) = decode_with(ChunkedDecoder::strict(), good, step).unwrap();
            assert_eq!((out.as_slice(), done), (&b"hello "[..], true));
            for input in bad {
                assert_eq!(
                    decode_with(ChunkedDecoder::strict(), input, step),
                    Err(ChunkedError::BareLf),
                    "{}",
                    String::from_utf8_lossy(input)
                );
                assert!(
                    decode_all(input, step).unwrap().1,
                    "lenient mode still reads it"
                );
            }
        }
    }
}
