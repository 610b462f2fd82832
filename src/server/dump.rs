//! DUMP / RESTORE payloads in Redis's format, for string values (the only type this node stores): the RDB type
//! byte (0, string), the value as an RDB string, the RDB version (2 bytes, little-endian; 10 in Redis 7.0) and a
//! CRC-64 (Jones polynomial, Redis's `crc64`) of everything before it (8 bytes, little-endian).
//!
//! [`dump`] writes the plain string form, which every Redis version reads. [`restore`] also reads the forms Redis
//! itself writes: integer-encoded strings and LZF-compressed strings, so a payload DUMPed by Redis 7 restores here.

use bytes::Bytes;

const RDB_TYPE_STRING: u8 = 0;
/// Redis 7.0's RDB version: payloads of a newer version are refused, as Redis refuses them.
const RDB_VERSION: u16 = 10;

pub const ERR_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
pub const ERR_FORMAT: &str = "ERR Bad data format";

/// The reflected form of the Jones polynomial 0xad93d23594c935a9 that Redis's CRC-64 uses.
const POLY: u64 = 0x95ac_9329_ac4b_c9b5;

const CRC_TABLE: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ POLY } else { crc >> 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// Redis's `crc64(0, bytes)`.
pub fn crc64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |crc, b| CRC_TABLE[((crc ^ u64::from(*b)) & 0xff) as usize] ^ (crc >> 8))
}

/// The DUMP payload of a string value.
pub fn dump(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 20);
    out.push(RDB_TYPE_STRING);
    write_len(&mut out, value.len() as u64);
    out.extend_from_slice(value);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn write_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// The string value of a DUMP payload, or the error Redis's RESTORE answers for it.
pub fn restore(payload: &[u8]) -> Result<Bytes, &'static str> {
    let Some(body_len) = payload.len().checked_sub(10) else { return Err(ERR_PAYLOAD) };
    let version = u16::from_le_bytes([payload[body_len], payload[body_len + 1]]);
    let crc = u64::from_le_bytes(payload[body_len + 2..].try_into().expect("8 bytes"));
    if version > RDB_VERSION || crc64(&payload[..body_len + 2]) != crc {
        return Err(ERR_PAYLOAD);
    }
    let mut reader = Reader { bytes: &payload[..body_len], at: 0 };
    if reader.byte()? != RDB_TYPE_STRING {
        return Err(ERR_FORMAT);
    }
    let value = reader.string()?;
    if reader.at != body_len {
        return Err(ERR_FORMAT);
    }
    Ok(Bytes::from(value))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// An RDB length: a plain length, or the encoding of a special string form (`0xC0 | form`).
enum Len {
    Plain(usize),
    Encoded(u8),
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, &'static str> {
        let b = *self.bytes.get(self.at).ok_or(ERR_FORMAT)?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], &'static str> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len()).ok_or(ERR_FORMAT)?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn len(&mut self) -> Result<Len, &'static str> {
        let first = self.byte()?;
        let n = match first >> 6 {
            0 => u64::from(first & 0x3f),
            1 => (u64::from(first & 0x3f) << 8) | u64::from(self.byte()?),
            3 => return Ok(Len::Encoded(first & 0x3f)),
            _ if first == 0x80 => u64::from(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes"))),
            _ if first == 0x81 => u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")),
            _ => return Err(ERR_FORMAT),
        };
        usize::try_from(n).map(Len::Plain).map_err(|_| ERR_FORMAT)
    }

    fn plain_len(&mut self) -> Result<usize, &'static str> {
        match self.len()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(ERR_FORMAT),
        }
    }

    fn string(&mut self) -> Result<Vec<u8>, &'static str> {
        match self.len()? {
            Len::Plain(n) => Ok(self.take(n)?.to_vec()),
            Len::Encoded(0) => Ok((self.byte()? as i8).to_string().into_bytes()),
            Len::Encoded(1) => Ok(i16::from_le_bytes(self.take(2)?.try_into().expect("2")).to_string().into_bytes()),
            Len::Encoded(2) => Ok(i32::from_le_bytes(self.take(4)?.try_into().expect("4")).to_string().into_bytes()),
            Len::Encoded(3) => {
                let compressed = self.plain_len()?;
                let len = self.plain_len()?;
                lzf_decompress(self.take(compressed)?, len)
            }
            Len::Encoded(_) => Err(ERR_FORMAT),
        }
    }
}

/// LZF decompression (the format of Redis's `lzf_d.c`), to exactly `len` bytes.
fn lzf_decompress(input: &[u8], len: usize) -> Result<Vec<u8>, &'static str> {
    let mut out: Vec<u8> = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let literal = input.get(i..i + ctrl + 1).ok_or(ERR_FORMAT)?;
            out.extend_from_slice(literal);
            i += ctrl + 1;
        } else {
            let mut run = ctrl >> 5;
            if run == 7 {
                run += usize::from(*input.get(i).ok_or(ERR_FORMAT)?);
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(i).ok_or(ERR_FORMAT)?) + 1;
            i += 1;
            let start = out.len().checked_sub(back).ok_or(ERR_FORMAT)?;
            for k in 0..run + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > len {
            return Err(ERR_FORMAT);
        }
    }
    if out.len() == len {
        Ok(out)
    } else {
        Err(ERR_FORMAT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_matches_redis_check_value() {
        // Redis's crc64.c test: crc64(0, "123456789") == 0xe9c6d914c4b8d9ca.
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn dump_of_a_short_string_is_byte_for_byte_redis_7s() {
        // `DUMP k` after `SET k hello` on redis-server 7.0.15.
        let redis = b"\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a";
        assert_eq!(dump(b"hello"), redis);
        assert_eq!(restore(redis).unwrap(), Bytes::from_static(b"hello"));
    }

    #[test]
    fn restore_reads_every_length_form_back() {
        for n in [0, 1, 63, 64, 16_383, 16_384, 70_000] {
            let value: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            assert_eq!(restore(&dump(&value)).unwrap(), Bytes::from(value), "length {n}");
        }
    }

    #[test]
    fn restore_reads_the_integer_and_lzf_payloads_redis_7_dumps() {
        // `DUMP k` on redis-server 7.0.15 after `SET k 123` and after `SET k` of 30 times "a".
        let int = b"\x00\xc0{\n\x00H\xe2S\xe1\x00zg\xb9";
        assert_eq!(restore(int).unwrap(), Bytes::from_static(b"123"));
        let lzf = b"\x00\xc3\t\x1e\x01aa\xe0\x11\x00\x01aa\n\x00Es|\xbb+d{\xbb";
        assert_eq!(restore(lzf).unwrap(), Bytes::from(vec![b'a'; 30]));
    }

    #[test]
    fn restore_reads_integer_and_lzf_encoded_strings() {
        let with_trailer = |body: &[u8]| {
            let mut p = body.to_vec();
            p.extend_from_slice(&RDB_VERSION.to_le_bytes());
            let crc = crc64(&p);
            p.extend_from_slice(&crc.to_le_bytes());
            p
        };
        assert_eq!(restore(&with_trailer(b"\x00\xc0\x7b")).unwrap(), Bytes::from_static(b"123"));
        assert_eq!(restore(&with_trailer(b"\x00\xc1\x39\x30")).unwrap(), Bytes::from_static(b"12345"));
        assert_eq!(restore(&with_trailer(b"\x00\xc2\x40\xe2\x01\x00")).unwrap(), Bytes::from_static(b"123456"));
        // "aaaaaaaaaa": a 1-byte literal "a", then a back-reference of 9 bytes at distance 1.
        let lzf = b"\x00\xc3\x05\x0a\x00a\xe0\x00\x00";
        assert_eq!(restore(&with_trailer(lzf)).unwrap(), Bytes::from_static(b"aaaaaaaaaa"));
    }

    #[test]
    fn restore_refuses_bad_checksums_versions_and_types() {
        let mut p = dump(b"hello");
        let last = p.len() - 1;
        p[last] ^= 1;
        assert_eq!(restore(&p), Err(ERR_PAYLOAD));
        assert_eq!(restore(b"short"), Err(ERR_PAYLOAD));
        let mut newer = b"\x00\x01x".to_vec();
        newer.extend_from_slice(&(RDB_VERSION + 1).to_le_bytes());
        let crc = crc64(&newer);
        newer.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(restore(&newer), Err(ERR_PAYLOAD));
        let mut list = b"\x0e\x01x".to_vec();
        list.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(&list);
        list.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(restore(&list), Err(ERR_FORMAT));
    }
}
