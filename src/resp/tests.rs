use super::*;
use proptest::prelude::*;

fn req(parts: &[&str]) -> Vec<u8> {
    encode_request(&parts.iter().map(|p| Bytes::copy_from_slice(p.as_bytes())).collect::<Vec<_>>())
}

fn take(bytes: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    take_request(&mut BytesMut::from(bytes), &Limits::default())
}

#[test]
fn a_complete_request_yields_its_arguments() {
    let args = take(&req(&["CLUSTER", "MEET", "127.0.0.1", "7001"])).unwrap().unwrap();
    assert_eq!(args, vec!["CLUSTER", "MEET", "127.0.0.1", "7001"]);
}

#[test]
fn requests_encode_as_clients_send_them() {
    assert_eq!(req(&["SET", "k", ""]), b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    assert_eq!(req(&[]), b"*0\r\n");
}

#[test]
fn a_length_with_a_plus_sign_is_refused_as_redis_does() {
    assert_eq!(take(b"*+1\r\n$4\r\nPING\r\n"), Err(ProtocolError::InvalidMultibulkLength));
    assert_eq!(take(b"*1\r\n$+4\r\nPING\r\n"), Err(ProtocolError::InvalidBulkLength));
}

#[test]
fn a_partial_request_waits_for_more_bytes() {
    let full = req(&["PING"]);
    for cut in 0..full.len() {
        assert_eq!(take(&full[..cut]).unwrap(), None, "cut at {cut}");
    }
}

#[test]
fn two_pipelined_requests_come_out_in_order() {
    let mut buf = BytesMut::from(&[req(&["PING"]), req(&["ECHO", "x"])].concat()[..]);
    let l = Limits::default();
    assert_eq!(take_request(&mut buf, &l).unwrap().unwrap(), vec!["PING"]);
    assert_eq!(take_request(&mut buf, &l).unwrap().unwrap(), vec!["ECHO", "x"]);
    assert!(buf.is_empty());
}

#[test]
fn empty_multibulk_is_skipped() {
    let mut bytes = b"*0\r\n".to_vec();
    bytes.extend(req(&["PING"]));
    assert_eq!(take(&bytes).unwrap().unwrap(), vec!["PING"]);
}

#[test]
fn inline_and_nested_requests_are_protocol_errors() {
    assert_eq!(take(b"PING\r\n"), Err(ProtocolError::ExpectedArray('P')));
    assert_eq!(take(b"*1\r\n*1\r\n$1\r\na\r\n"), Err(ProtocolError::ExpectedBulk('*')));
    assert_eq!(take(b"*x\r\n"), Err(ProtocolError::InvalidMultibulkLength));
    assert_eq!(take(b"*1\r\n$x\r\n"), Err(ProtocolError::InvalidBulkLength));
    assert!(matches!(take(b"*1\r\n$1\r\nabc\r\n"), Err(ProtocolError::Malformed(_))));
}

#[test]
fn declared_lengths_beyond_the_limits_are_refused_before_buffering() {
    assert_eq!(take(b"*9999999999\r\n"), Err(ProtocolError::InvalidMultibulkLength));
    assert_eq!(take(b"*1\r\n$99999999999\r\n"), Err(ProtocolError::InvalidBulkLength));
    let tight = Limits { args_max: 4, bulk_bytes_max: 8, request_bytes_max: 64 };
    assert_eq!(
        take_request(&mut BytesMut::from(&req(&["a", "b", "c", "d", "e"])[..]), &tight),
        Err(ProtocolError::InvalidMultibulkLength)
    );
    assert_eq!(
        take_request(&mut BytesMut::from(&req(&["123456789"])[..]), &tight),
        Err(ProtocolError::InvalidBulkLength)
    );
    assert_eq!(take_request(&mut BytesMut::from(&b"*1\r\n$"[..]).split(), &tight), Ok(None));
}

#[test]
fn a_header_without_end_is_refused_once_it_is_too_long() {
    assert!(matches!(take(&[b'*'; 100]), Err(ProtocolError::Malformed(_))));
}

#[test]
fn resp2_encoding_of_every_reply_kind() {
    let r = Reply::Array(vec![
        Reply::ok(),
        Reply::error("ERR x"),
        Reply::Int(-3),
        Reply::bulk_str("hi"),
        Reply::Null,
        Reply::Map(vec![(Reply::bulk_str("k"), Reply::Int(1))]),
    ]);
    assert_eq!(
        String::from_utf8(encode_to_vec(&r, Protocol::Resp2)).unwrap(),
        "*6\r\n+OK\r\n-ERR x\r\n:-3\r\n$2\r\nhi\r\n$-1\r\n*2\r\n$1\r\nk\r\n:1\r\n"
    );
}

#[test]
fn resp3_encodes_maps_as_maps_in_insertion_order() {
    let r = Reply::Map(vec![(Reply::bulk_str("b"), Reply::Int(1)), (Reply::bulk_str("a"), Reply::Null)]);
    assert_eq!(
        String::from_utf8(encode_to_vec(&r, Protocol::Resp3)).unwrap(),
        "%2\r\n$1\r\nb\r\n:1\r\n$1\r\na\r\n_\r\n"
    );
}

#[test]
fn error_lines_never_carry_newlines() {
    let out = encode_to_vec(&Reply::error("ERR a\r\nb"), Protocol::Resp2);
    assert_eq!(out, b"-ERR a  b\r\n");
}

#[test]
fn replies_decode_back_in_both_protocols() {
    let r = Reply::Array(vec![Reply::ok(), Reply::Int(7), Reply::bulk_str("x"), Reply::error("ERR no"), Reply::Null]);
    for p in [Protocol::Resp2, Protocol::Resp3] {
        let mut buf = BytesMut::from(&encode_to_vec(&r, p)[..]);
        assert_eq!(take_reply(&mut buf).unwrap(), Some(r.clone()));
    }
    for (bytes, reply) in [(&b"$-1\r\n"[..], Reply::Null), (b"*-1\r\n", Reply::Null), (b"_\r\n", Reply::Null)] {
        assert_eq!(take_reply(&mut BytesMut::from(bytes)).unwrap(), Some(reply), "{bytes:?}");
    }
    let mut partial = BytesMut::from(&b"*2\r\n_\r\n$3\r\nab"[..]);
    assert_eq!(take_reply(&mut partial).unwrap(), None, "an incomplete RESP3 array waits");
    assert_eq!(&partial[..], b"*2\r\n_\r\n$3\r\nab", "and consumes nothing");
}

proptest! {
    /// Arbitrary bytes never panic the request decoder; whatever it accepts re-encodes to the bytes it consumed.
    #[test]
    fn arbitrary_bytes_never_panic_and_accepted_requests_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut buf = BytesMut::from(&bytes[..]);
        let before = buf.len();
        if let Ok(Some(args)) = take_request(&mut buf, &Limits::default()) {
            let consumed = before - buf.len();
            prop_assert!(consumed >= encode_request(&args).len());
        }
    }

    /// Structured-looking garbage (RESP-ish prefixes) is where a decoder breaks; feed lots of it.
    #[test]
    fn resp_like_garbage_never_panics(parts in prop::collection::vec(prop_oneof![
        Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"\r\n".to_vec()), Just(b"-1".to_vec()),
        Just(b"3".to_vec()), Just(b"99999999999999999999".to_vec()), Just(b"abc".to_vec()), Just(b"%".to_vec()),
    ], 0..40)) {
        let bytes: Vec<u8> = parts.concat();
        let _ = take_request(&mut BytesMut::from(&bytes[..]), &Limits::default());
        let _ = take_reply(&mut BytesMut::from(&bytes[..]));
    }

    /// Every well-formed request decodes to exactly its arguments, however it is split across reads.
    #[test]
    fn requests_round_trip_across_any_split(args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 1..8), cut in 0usize..200) {
        let args: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
        let wire = encode_request(&args);
        let cut = cut.min(wire.len());
        let mut buf = BytesMut::from(&wire[..cut]);
        let l = Limits::default();
        if cut < wire.len() {
            prop_assert_eq!(take_request(&mut buf, &l).unwrap(), None);
            buf.extend_from_slice(&wire[cut..]);
        }
        prop_assert_eq!(take_request(&mut buf, &l).unwrap(), Some(args));
    }
}

proptest! {
    /// The one-pass header parse agrees with the full rules (error kinds included) on any header-like bytes:
    /// digits of any length, signs, CR / LF in any place, lines cut short.
    #[test]
    fn header_fast_path_agrees_with_the_full_rules(tag in prop_oneof![Just(b'*'), Just(b'$')], parts in prop::collection::vec(prop_oneof![
        Just(b"0".to_vec()), Just(b"7".to_vec()), Just(b"12".to_vec()), Just(b"999999999".to_vec()), Just(b"-".to_vec()),
        Just(b"+".to_vec()), Just(b"\r".to_vec()), Just(b"\n".to_vec()), Just(b"\r\n".to_vec()), Just(b"x".to_vec()),
    ], 0..8)) {
        let mut bytes = vec![tag];
        bytes.extend(parts.concat());
        let show = |r: Result<Option<(i64, usize)>, ProtocolError>| format!("{r:?}");
        prop_assert_eq!(show(header_number(&bytes, 1)), show(header_number_full(&bytes, 1)), "{:?}", bytes);
    }
}

#[test]
fn header_numbers_at_the_edges_of_the_one_pass_parse() {
    for (header, expected) in [
        ("$4\r\n", "Ok(Some((4, 4)))"),
        ("$0004\r\n", "Ok(Some((4, 7)))"),
        ("*999999999999999999\r\n", "Ok(Some((999999999999999999, 21)))"), // 18 digits: one pass
        ("*9223372036854775807\r\n", "Ok(Some((9223372036854775807, 22)))"), // 19 digits: the full rules
        ("*9223372036854775808\r\n", "Err(InvalidMultibulkLength)"),
        ("$-1\r\n", "Ok(Some((-1, 5)))"),
        ("$4\r", "Ok(None)"),
        ("$4\rx", "Err(Malformed(\"header not terminated by CRLF\"))"),
    ] {
        assert_eq!(format!("{:?}", header_number(header.as_bytes(), 1)), expected, "{header:?}");
    }
}

/// Feeds `bytes` in the pieces `cuts` makes to `take` (a read after each piece, until it needs more bytes or
/// fails) and lists what came out: each request's arguments, then the error that ended it, if one did.
fn feed_in_pieces(
    bytes: &[u8],
    cuts: &[usize],
    mut take: impl FnMut(&mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError>,
) -> Vec<Result<Vec<Bytes>, ProtocolError>> {
    let mut ends: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
    ends.push(bytes.len());
    ends.sort_unstable();
    let (mut buf, mut from, mut out) = (BytesMut::new(), 0, Vec::new());
    for end in ends {
        buf.extend_from_slice(&bytes[from..end]);
        from = end;
        loop {
            match take(&mut buf) {
                Ok(Some(args)) => out.push(Ok(args)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }
    out
}

proptest! {
    /// A connection's reader, which remembers how far it read into a partial request, answers exactly what a
    /// fresh scan of the whole buffer after every read answers: the same requests, the same error at the same
    /// point, for pipelined requests, trailing garbage, any split into pieces, and limits tight enough to trip.
    #[test]
    fn a_reader_fed_in_pieces_answers_as_scanning_from_the_start_does(
        requests in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 0..6), 0..4),
        garbage in prop::collection::vec(prop_oneof![
            Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"\r\n".to_vec()), Just(b"-1".to_vec()), Just(b"3".to_vec()),
            Just(b"0".to_vec()), Just(b"x".to_vec()), Just(b"99999999999999999999".to_vec()),
        ], 0..8),
        cuts in prop::collection::vec(0usize..200, 0..12),
        tight in any::<bool>(),
    ) {
        let mut bytes: Vec<u8> = requests
            .iter()
            .flat_map(|r| encode_request(&r.iter().map(|a| Bytes::from(a.clone())).collect::<Vec<_>>()))
            .collect();
        bytes.extend(garbage.concat());
        let limits = if tight {
            Limits { args_max: 4, bulk_bytes_max: 8, request_bytes_max: 48 }
        } else {
            Limits::default()
        };
        let mut reader = RequestReader::default();
        let incremental = feed_in_pieces(&bytes, &cuts, |buf| reader.take(buf, &limits));
        let rescanned = feed_in_pieces(&bytes, &cuts, |buf| take_request(buf, &limits));
        prop_assert_eq!(incremental, rescanned);
    }
}

#[test]
fn a_bulk_replys_text_is_borrowed_when_valid_and_replaced_where_not() {
    let valid = Reply::Bulk(Bytes::from("abc é ✓\n"));
    assert!(matches!(valid.as_text(), Some(std::borrow::Cow::Borrowed("abc é ✓\n"))));
    let invalid = Reply::Bulk(Bytes::from_static(b"ab\xffc\xe2\x9c"));
    assert_eq!(invalid.as_text().as_deref(), Some("ab\u{fffd}c\u{fffd}"));
    assert_eq!(Reply::Simple("OK".into()).as_text().as_deref(), Some("OK"));
    assert_eq!(Reply::Int(1).as_text(), None);
}
