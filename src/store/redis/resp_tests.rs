use super::*;

fn limits() -> Limits {
    Limits::default()
}

/// Feeds `input` the way the client's read loop does, `piece` bytes at a
/// time, honouring the decoder's `More` hints. Returns every reply found.
fn feed(input: &[u8], piece: usize, limits: Limits) -> Result<Vec<Value>, RespError> {
    feed_with(input, piece, limits, true)
}

/// `whole`: `input` ends with a complete reply, so no hint may ask past it.
fn feed_with(
    input: &[u8],
    piece: usize,
    limits: Limits,
    whole: bool,
) -> Result<Vec<Value>, RespError> {
    let mut decoder = Decoder::new(limits);
    let mut buf: Vec<u8> = Vec::new();
    let mut arrived = 0;
    let mut replies = Vec::new();
    let mut need = 1;
    while arrived < input.len() || buf.len() >= need {
        if buf.len() < need {
            let take = piece.min(input.len() - arrived);
            buf.extend_from_slice(&input[arrived..arrived + take]);
            arrived += take;
            continue;
        }
        let (used, step) = decoder.decode(&buf)?;
        buf.drain(..used);
        match step {
            Step::Done(v) => {
                replies.push(v);
                need = 1;
            }
            Step::More(n) => {
                // The hint never asks for bytes the whole reply does not have.
                assert!(
                    !whole || n <= buf.len() + (input.len() - arrived),
                    "asked for {n} bytes, only {} exist",
                    buf.len() + (input.len() - arrived)
                );
                assert!(n > buf.len(), "asked for bytes it already has");
                need = n;
            }
        }
    }
    Ok(replies)
}

fn one(input: &[u8]) -> Result<Value, RespError> {
    let mut replies = feed(input, input.len().max(1), limits())?;
    assert_eq!(replies.len(), 1, "{replies:?}");
    Ok(replies.remove(0))
}

fn bulk(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec())
}

#[test]
fn encodes_commands_as_arrays_of_bulk_strings() {
    let mut out = Vec::new();
    encode(&mut out, &[&b"SET"[..], b"k", b"a\r\nb", b""]);
    assert_eq!(
        out,
        b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n$0\r\n\r\n"
    );
    out.clear();
    encode(&mut out, &[vec![b'x'; 1234]]);
    assert!(out.starts_with(b"*1\r\n$1234\r\nxxx"));
}

#[test]
fn decodes_every_type() {
    assert_eq!(one(b"+OK\r\n"), Ok(Value::Simple("OK".into())));
    assert_eq!(
        one(b"-ERR bad thing\r\n"),
        Ok(Value::Error("ERR bad thing".into()))
    );
    assert_eq!(one(b":-42\r\n"), Ok(Value::Int(-42)));
    assert_eq!(one(b":9223372036854775807\r\n"), Ok(Value::Int(i64::MAX)));
    assert_eq!(one(b":-9223372036854775808\r\n"), Ok(Value::Int(i64::MIN)));
    assert_eq!(
        one(b"$5\r\na\r\nb\0\r\n"),
        Ok(Value::Bulk(b"a\r\nb\0".to_vec()))
    );
    assert_eq!(one(b"$0\r\n\r\n"), Ok(Value::Bulk(Vec::new())));
    assert_eq!(one(b"$-1\r\n"), Ok(Value::Nil));
    assert_eq!(one(b"*-1\r\n"), Ok(Value::Nil));
    assert_eq!(one(b"*0\r\n"), Ok(Value::Array(Vec::new())));
    assert_eq!(
        one(b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n*0\r\n-NOSCRIPT x\r\n"),
        Ok(Value::Array(vec![
            Value::Int(1),
            Value::Array(vec![bulk("a"), Value::Array(vec![])]),
            Value::Error("NOSCRIPT x".into()),
        ]))
    );
}

#[test]
fn same_result_at_every_split_point() {
    let input: &[u8] = b"*4\r\n$3\r\nabc\r\n*2\r\n:7\r\n$-1\r\n+OK\r\n$10\r\n0123456789\r\n:5\r\n";
    let whole = feed(input, input.len(), limits()).unwrap();
    assert_eq!(whole.len(), 2);
    for piece in 1..input.len() {
        assert_eq!(
            feed(input, piece, limits()).unwrap(),
            whole,
            "piece {piece}"
        );
    }
}

#[test]
fn a_big_bulk_string_is_awaited_whole_not_rescanned() {
    let mut input = b"$100000\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'z', 100_000));
    input.extend_from_slice(b"\r\n");
    let mut decoder = Decoder::new(limits());
    assert_eq!(
        decoder.decode(&input[..20]),
        Ok((0, Step::More(input.len())))
    );
    let (used, step) = decoder.decode(&input).unwrap();
    assert_eq!(used, input.len());
    assert_eq!(step, Step::Done(Value::Bulk(vec![b'z'; 100_000])));
}

#[test]
fn pipelined_replies_come_out_one_at_a_time() {
    let mut decoder = Decoder::new(limits());
    let input = b"+OK\r\n:2\r\n";
    let (used, step) = decoder.decode(input).unwrap();
    assert_eq!((used, step), (5, Step::Done(Value::Simple("OK".into()))));
    assert_eq!(
        decoder.decode(&input[used..]),
        Ok((4, Step::Done(Value::Int(2))))
    );
}

#[test]
fn refuses_malformed_framing() {
    let cases: &[(&[u8], RespError)] = &[
        (b"!3\r\nabc\r\n", RespError::UnknownType(b'!')),
        (b"%1\r\n:1\r\n:2\r\n", RespError::UnknownType(b'%')),
        (b"_\r\n", RespError::UnknownType(b'_')),
        (b"OK\r\n", RespError::UnknownType(b'O')),
        (b"+OK\n", RespError::BadLine),
        (b"+O\rK\r\n", RespError::BadLine),
        (b":\r\n", RespError::BadInteger),
        (b":+5\r\n", RespError::BadInteger),
        (b":1a\r\n", RespError::BadInteger),
        (b": 1\r\n", RespError::BadInteger),
        (b":-\r\n", RespError::BadInteger),
        (b":9223372036854775808\r\n", RespError::BadInteger),
        (b":-9223372036854775809\r\n", RespError::BadInteger),
        (b":12345678901234567890\r\n", RespError::BadInteger),
        (b"$-2\r\n", RespError::BadLength),
        (b"*-5\r\n", RespError::BadLength),
        (b"$3\r\nabcd\r\n", RespError::BadBulkEnd),
        (b"$3\r\nab\r\n\r\n", RespError::BadBulkEnd),
        (b"+\xff\xfe\r\n", RespError::NotUtf8),
    ];
    for (input, want) in cases {
        assert_eq!(
            feed(input, input.len(), limits()).as_ref().err(),
            Some(want),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn huge_claims_are_refused_before_any_allocation() {
    let l = limits();
    assert_eq!(
        one(b"$9999999999999\r\n"),
        Err(RespError::BulkTooLong(l.max_bulk))
    );
    assert_eq!(
        one(b"*9999999999999\r\n"),
        Err(RespError::ArrayTooLong(l.max_array))
    );
    // Within each cap, but more than a reply may total.
    let small = Limits {
        max_reply: 1000,
        ..l
    };
    assert_eq!(feed(b"$5000\r\n", 8, small), Err(RespError::TooLarge(1000)));
    let mut many = b"*200\r\n".to_vec();
    for _ in 0..200 {
        many.extend_from_slice(b"$5\r\nhello\r\n");
    }
    assert_eq!(feed(&many, 64, small), Err(RespError::TooLarge(1000)));
}

#[test]
fn nesting_elements_and_lines_are_capped() {
    let l = Limits {
        max_depth: 3,
        max_elements: 10,
        max_line: 16,
        ..limits()
    };
    assert!(feed(b"*1\r\n*1\r\n*1\r\n:1\r\n", 4, l).is_ok());
    assert_eq!(
        feed(b"*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", 4, l),
        Err(RespError::TooDeep(3))
    );
    let mut wide = b"*11\r\n".to_vec();
    wide.extend(std::iter::repeat_n(&b":1\r\n"[..], 11).flatten());
    assert_eq!(feed(&wide, 7, l), Err(RespError::TooManyElements(10)));
    assert!(feed(b"+0123456789abcdef\r\n", 3, l).is_ok());
    assert_eq!(
        feed(b"+0123456789abcdefg\r\n", 3, l),
        Err(RespError::LineTooLong(16))
    );
    // A line that never ends is refused once it passes the cap.
    assert_eq!(feed(&[b'+'; 100], 5, l), Err(RespError::LineTooLong(16)));
}

#[test]
fn a_deep_nest_of_arrays_is_refused_not_recursed() {
    let deep: Vec<u8> = std::iter::repeat_n(&b"*1\r\n"[..], 100_000)
        .flatten()
        .copied()
        .collect();
    assert_eq!(
        feed(&deep, 4096, limits()),
        Err(RespError::TooDeep(limits().max_depth))
    );
}

/// Mutations of valid replies (a fixed xorshift, so failures reproduce):
/// the decoder answers each one with a value or an error, never a panic.
#[test]
fn mutated_replies_never_panic() {
    let seeds: [&[u8]; 4] = [
        b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n*0\r\n-NOSCRIPT x\r\n",
        b"$10\r\n0123456789\r\n",
        b"*2\r\n+OK\r\n:-17\r\n",
        b"*1\r\n*1\r\n$-1\r\n",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let small = Limits {
        max_bulk: 64,
        max_array: 16,
        max_depth: 4,
        max_line: 32,
        max_elements: 64,
        max_reply: 512,
    };
    for round in 0..20_000 {
        let mut input = seeds[round % seeds.len()].to_vec();
        for _ in 0..(next() % 4 + 1) {
            let at = (next() as usize) % input.len();
            match next() % 4 {
                0 => input[at] = next() as u8,
                1 => input.insert(at, b"*$:+-\r\n0123456789"[(next() % 17) as usize]),
                2 => {
                    input.remove(at);
                }
                _ => input.truncate(at + 1),
            }
            if input.is_empty() {
                input.push(b'*');
            }
        }
        let piece = (next() % 7 + 1) as usize;
        let _ = feed_with(&input, piece, small, false);
    }
}
