//! RESP values: the reply type every layer builds, its RESP2/RESP3 encoding, and bounded request decoding.
//!
//! Decoding and encoding are done by the `redis-protocol` crate. Before a buffer reaches its decoder, a cheap
//! header scan enforces this server's limits (argument count, bulk length, request size) and the request shape
//! (an array of bulk strings), so that no declared length is trusted and no nesting can recurse.

use bytes::{Bytes, BytesMut};
use redis_protocol::resp2::types::BytesFrame as Frame2;
use redis_protocol::resp3::types::BytesFrame as Frame3;

/// A reply, independent of the protocol version the client speaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Simple(String),
    /// The full error line without the leading `-`, e.g. `ERR Slot 0 is already busy`.
    Error(String),
    Int(i64),
    Bulk(Bytes),
    /// Text that RESP3 sends as a verbatim string (`=len\r\ntxt:...`) and RESP2 as a bulk string, as Redis 7
    /// does for CLUSTER NODES / CLUSTER INFO / INFO.
    Verbatim(String),
    Null,
    Array(Vec<Reply>),
    /// A RESP3 map; flattened to an array of key, value, key, value... in RESP2.
    Map(Vec<(Reply, Reply)>),
}

impl Reply {
    pub fn ok() -> Self {
        Reply::Simple("OK".into())
    }

    pub fn bulk(data: impl Into<Bytes>) -> Self {
        Reply::Bulk(data.into())
    }

    pub fn bulk_str(text: &str) -> Self {
        Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
    }

    pub fn error(text: impl Into<String>) -> Self {
        Reply::Error(text.into())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// The text of a bulk or verbatim reply (a bulk reply's invalid UTF-8 replaced by U+FFFD). Valid text is
    /// checked by `str::from_utf8`, whose ASCII fast path reads a word at a time; `from_utf8_lossy` walks it
    /// byte by byte (the checkers read every CLUSTER NODES reply this way, several times).
    pub fn as_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Reply::Bulk(b) => Some(match std::str::from_utf8(b) {
                Ok(text) => std::borrow::Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(b),
            }),
            Reply::Verbatim(t) | Reply::Simple(t) => Some(std::borrow::Cow::Borrowed(t)),
            _ => None,
        }
    }
}

/// The protocol a connection speaks (`HELLO 3` switches to RESP3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Resp2,
    Resp3,
}

/// Appends the encoding of `reply` to `out`.
pub fn encode(reply: &Reply, protocol: Protocol, out: &mut BytesMut) {
    let result = match protocol {
        Protocol::Resp2 => redis_protocol::resp2::encode::extend_encode(out, &to_frame2(reply), false),
        Protocol::Resp3 => redis_protocol::resp3::encode::complete::extend_encode(out, &to_frame3(reply), false),
    };
    // Encoding into a growable buffer only fails on frames this module never builds (e.g. non-UTF8 errors).
    if let Err(e) = result {
        let fallback = to_frame2(&Reply::error(format!("ERR reply encoding failed: {e}")));
        redis_protocol::resp2::encode::extend_encode(out, &fallback, false).expect("a plain error always encodes");
    }
}

/// Encodes one reply into fresh bytes.
pub fn encode_to_vec(reply: &Reply, protocol: Protocol) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(reply, protocol, &mut out);
    out.to_vec()
}

fn to_frame2(reply: &Reply) -> Frame2 {
    match reply {
        Reply::Simple(s) => Frame2::SimpleString(Bytes::copy_from_slice(s.as_bytes())),
        Reply::Error(e) => Frame2::Error(sanitize_line(e).into()),
        Reply::Int(i) => Frame2::Integer(*i),
        Reply::Bulk(b) => Frame2::BulkString(b.clone()),
        Reply::Verbatim(t) => Frame2::BulkString(Bytes::copy_from_slice(t.as_bytes())),
        Reply::Null => Frame2::Null,
        Reply::Array(items) => Frame2::Array(items.iter().map(to_frame2).collect()),
        Reply::Map(pairs) => Frame2::Array(pairs.iter().flat_map(|(k, v)| [to_frame2(k), to_frame2(v)]).collect()),
    }
}

fn to_frame3(reply: &Reply) -> Frame3 {
    match reply {
        Reply::Simple(s) => Frame3::SimpleString { data: Bytes::copy_from_slice(s.as_bytes()), attributes: None },
        Reply::Error(e) => Frame3::SimpleError { data: sanitize_line(e).into(), attributes: None },
        Reply::Int(i) => Frame3::Number { data: *i, attributes: None },
        Reply::Bulk(b) => Frame3::BlobString { data: b.clone(), attributes: None },
        Reply::Verbatim(t) => Frame3::VerbatimString {
            data: Bytes::copy_from_slice(t.as_bytes()),
            format: redis_protocol::resp3::types::VerbatimStringFormat::Text,
            attributes: None,
        },
        Reply::Null => Frame3::Null,
        Reply::Array(items) => Frame3::Array { data: items.iter().map(to_frame3).collect(), attributes: None },
        Reply::Map(pairs) => {
            Frame3::Map { data: pairs.iter().map(|(k, v)| (to_frame3(k), to_frame3(v))).collect(), attributes: None }
        }
    }
}

/// Error and simple-string lines cannot hold CR or LF.
fn sanitize_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// Bounds on what one connection may send. Every bound is checked before the bytes it guards are buffered.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Arguments in one request (CLUSTER ADDSLOTS with every slot needs 16,386).
    pub args_max: usize,
    /// Bytes in one argument.
    pub bulk_bytes_max: usize,
    /// Bytes of one request, headers included; also the most a connection may have buffered unparsed.
    pub request_bytes_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { args_max: 65_536, bulk_bytes_max: 1 << 20, request_bytes_max: 8 << 20 }
    }
}

/// A request that breaks the protocol or a limit. The connection answers with the error and is closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("ERR Protocol error: expected '*', got '{0}'")]
    ExpectedArray(char),
    #[error("ERR Protocol error: expected '$', got '{0}'")]
    ExpectedBulk(char),
    #[error("ERR Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("ERR Protocol error: invalid bulk length")]
    InvalidBulkLength,
    #[error("ERR Protocol error: too big request")]
    TooBig,
    #[error("ERR Protocol error: {0}")]
    Malformed(String),
}

/// Longest header line (`*65536\r\n`, `$1048576\r\n`) a valid request can have.
const HEADER_LINE_MAX: usize = 32;

/// Takes one complete request (its arguments) off the front of `buf`.
///
/// `Ok(None)`: more bytes are needed (and may come: the buffered prefix is within limits).
/// `Ok(Some(vec![]))` is never returned; an empty multibulk (`*0`) is consumed silently, as Redis does.
/// A connection reads through a [`RequestReader`] instead, which does not scan a partial request again.
pub fn take_request(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    RequestReader::default().take(buf, limits)
}

/// A connection's request decoder: [`take_request`] that remembers how far it got into a request whose bytes
/// have not all arrived. A 5,461-slot ADDSLOTS (~40 KB) reaches the server in many reads; each header is read
/// once, not once per read. The buffer given to [`RequestReader::take`] must only grow at its end between calls
/// (as `read_buf` appends), which is what a connection does.
#[derive(Debug, Default)]
pub struct RequestReader {
    /// The `*N` of the request being read, once its header line has arrived.
    count: Option<usize>,
    /// Offset of the next header to read.
    pos: usize,
    /// The arguments read so far, as byte ranges of the buffer.
    args: Vec<(usize, usize)>,
}

/// Arguments whose room is set aside before their bytes arrive (a header may claim up to `args_max`).
const ARGS_PREALLOCATED_MAX: usize = 1024;

impl RequestReader {
    /// Takes one complete request off the front of `buf`; see [`take_request`]. After an error the connection
    /// is closed: the reader's state is then meaningless.
    pub fn take(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            let count = match self.count {
                Some(count) => count,
                None => {
                    let Some(&first) = buf.first() else { return Ok(None) };
                    if first != b'*' {
                        return Err(ProtocolError::ExpectedArray(printable(first)));
                    }
                    let Some((count, pos)) = header_number(buf, 1)? else { return Self::incomplete(buf, limits) };
                    if count <= 0 {
                        // `*0` and `*-1` are empty requests: consumed, nothing to answer.
                        let _ = buf.split_to(pos);
                        continue;
                    }
                    if count as u64 > limits.args_max as u64 {
                        return Err(ProtocolError::InvalidMultibulkLength);
                    }
                    let count = count as usize;
                    self.count = Some(count);
                    self.pos = pos;
                    self.args.clear();
                    self.args.reserve(count.min(ARGS_PREALLOCATED_MAX));
                    count
                }
            };
            while self.args.len() < count {
                let pos = self.pos;
                let Some(&tag) = buf.get(pos) else { return Self::incomplete(buf, limits) };
                if tag != b'$' {
                    return Err(ProtocolError::ExpectedBulk(printable(tag)));
                }
                let Some((len, after)) = header_number(buf, pos + 1)? else { return Self::incomplete(buf, limits) };
                if len < 0 || len as u64 > limits.bulk_bytes_max as u64 {
                    return Err(ProtocolError::InvalidBulkLength);
                }
                let end = after + len as usize;
                if end + 2 > limits.request_bytes_max {
                    return Err(ProtocolError::TooBig);
                }
                if buf.len() < end + 2 {
                    return Self::incomplete(buf, limits);
                }
                if &buf[end..end + 2] != b"\r\n" {
                    return Err(ProtocolError::Malformed("bulk string not terminated by CRLF".into()));
                }
                self.args.push((after, end));
                self.pos = end + 2;
            }
            // The whole frame is read and checked: its arguments are slices of it, not copies.
            let frame = buf.split_to(self.pos).freeze();
            let args = self.args.iter().map(|&(start, end)| frame.slice(start..end)).collect();
            self.count = None;
            self.pos = 0;
            self.args.clear();
            self.args.shrink_to(ARGS_PREALLOCATED_MAX); // a long-lived connection keeps no 16,384-slot room
            return Ok(Some(args));
        }
    }

    /// More bytes are needed: fine while what is buffered stays within the request limit.
    fn incomplete(buf: &BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if buf.len() > limits.request_bytes_max {
            return Err(ProtocolError::TooBig);
        }
        Ok(None)
    }
}

/// Parses the decimal number of a header line starting at `start`; returns it and the offset after its CRLF.
#[inline]
fn header_number(buf: &[u8], start: usize) -> Result<Option<(i64, usize)>, ProtocolError> {
    // The common case in one pass: a few digits, then CRLF (`$4\r\n`). Anything else (a sign, an overflow, a
    // line cut short or malformed) is judged by the full rules below.
    if let Some(window) = buf.get(start..) {
        let mut n: u64 = 0;
        let mut i = 0;
        while let Some(d) = window.get(i).filter(|d| d.is_ascii_digit()) {
            n = n * 10 + u64::from(d - b'0');
            i += 1;
            if i > 18 {
                break; // may overflow: the full rules decide
            }
        }
        if i > 0 && i <= 18 && window.get(i) == Some(&b'\r') && window.get(i + 1) == Some(&b'\n') {
            return Ok(Some((n as i64, start + i + 2)));
        }
    }
    header_number_full(buf, start)
}

fn header_number_full(buf: &[u8], start: usize) -> Result<Option<(i64, usize)>, ProtocolError> {
    let window = &buf[start.min(buf.len())..];
    let Some(cr) = window.iter().take(HEADER_LINE_MAX).position(|&b| b == b'\r') else {
        if window.len() >= HEADER_LINE_MAX {
            return Err(ProtocolError::Malformed("header line too long".into()));
        }
        return Ok(None);
    };
    if window.len() < cr + 2 {
        return Ok(None);
    }
    if window[cr + 1] != b'\n' {
        return Err(ProtocolError::Malformed("header not terminated by CRLF".into()));
    }
    // Redis's string2ll: an optional '-', then at least one digit, nothing else, within i64.
    let n = decimal_i64(&window[..cr]).ok_or(if buf[start - 1] == b'*' {
        ProtocolError::InvalidMultibulkLength
    } else {
        ProtocolError::InvalidBulkLength
    })?;
    Ok(Some((n, start + cr + 2)))
}

/// `-?[0-9]+` within i64, by hand: every argument of a request passes here twice (a 5,461-slot ADDSLOTS too).
pub(crate) fn decimal_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

fn printable(b: u8) -> char {
    if b.is_ascii_graphic() || b == b' ' {
        b as char
    } else {
        '?'
    }
}

/// Encodes a request the way clients do (an array of bulk strings).
pub fn encode_request(args: &[Bytes]) -> Vec<u8> {
    // By hand: `*N` then `$L`/bytes per argument, each line ended by CRLF. A request can be thousands of slot
    // numbers (ADDSLOTS {0..5460}): one allocation, no frame built first.
    let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    // A header line `*N` / `$L`. One digit (every slot number's `$1`..`$5`): four bytes stored at once, no number
    // formatted. Inlined: it runs once per argument.
    #[inline(always)]
    fn line(tag: u8, n: usize, out: &mut Vec<u8>) {
        if n < 10 {
            out.extend_from_slice(&[tag, b'0' + n as u8, b'\r', b'\n']);
        } else {
            out.push(tag);
            out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    line(b'*', args.len(), &mut out);
    for arg in args {
        line(b'$', arg.len(), &mut out);
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Decodes one reply (RESP2 or RESP3) off the front of `buf`, as a client does. `Ok(None)`: incomplete.
///
/// RESP2 first: its null forms (`$-1`, `*-1`) are not RESP3. A reply RESP2 cannot read (a RESP3 type, at the top
/// or nested) is read as RESP3; the RESP2 decoder consumes nothing when it fails.
pub fn take_reply(buf: &mut BytesMut) -> Result<Option<Reply>, ProtocolError> {
    if let Ok(decoded) = redis_protocol::resp2::decode::decode_bytes_mut(buf) {
        return Ok(decoded.map(|(frame, _, _)| from_frame2(frame)));
    }
    let decoded = redis_protocol::resp3::decode::complete::decode_bytes_mut(buf)
        .map_err(|e| ProtocolError::Malformed(e.details().to_string()))?;
    Ok(decoded.map(|(frame, _, _)| from_frame3(frame)))
}

fn from_frame2(frame: Frame2) -> Reply {
    match frame {
        Frame2::SimpleString(data) => Reply::Simple(String::from_utf8_lossy(&data).into_owned()),
        Frame2::Error(data) => Reply::Error(data.to_string()),
        Frame2::Integer(n) => Reply::Int(n),
        Frame2::BulkString(data) => Reply::Bulk(data),
        Frame2::Array(data) => Reply::Array(data.into_iter().map(from_frame2).collect()),
        Frame2::Null => Reply::Null,
    }
}

fn from_frame3(frame: Frame3) -> Reply {
    match frame {
        Frame3::SimpleString { data, .. } => Reply::Simple(String::from_utf8_lossy(&data).into_owned()),
        Frame3::SimpleError { data, .. } => Reply::Error(data.to_string()),
        Frame3::BlobError { data, .. } => Reply::Error(String::from_utf8_lossy(&data).into_owned()),
        Frame3::Number { data, .. } => Reply::Int(data),
        Frame3::BlobString { data, .. } => Reply::Bulk(data),
        Frame3::VerbatimString { data, .. } => Reply::Verbatim(String::from_utf8_lossy(&data).into_owned()),
        Frame3::Null => Reply::Null,
        Frame3::Boolean { data, .. } => Reply::Int(i64::from(data)),
        Frame3::Double { data, .. } => Reply::Bulk(Bytes::from(data.to_string())),
        Frame3::BigNumber { data, .. } => Reply::Bulk(data),
        Frame3::Array { data, .. } | Frame3::Push { data, .. } => {
            Reply::Array(data.into_iter().map(from_frame3).collect())
        }
        Frame3::Set { data, .. } => Reply::Array(data.into_iter().map(from_frame3).collect()),
        Frame3::Map { data, .. } => {
            Reply::Map(data.into_iter().map(|(k, v)| (from_frame3(k), from_frame3(v))).collect())
        }
        other => Reply::Error(format!("ERR unsupported reply frame {other:?}")),
    }
}

#[cfg(test)]
mod tests;
