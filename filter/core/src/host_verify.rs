//! The wire format of Envoy's `verify_signature` foreign function: the arguments are a
//! serialized protobuf `VerifySignatureArguments`, the answer a `VerifySignatureResult`
//! (Envoy source `source/extensions/common/wasm/ext/verify_signature.proto`):
//!
//! ```proto
//! message VerifySignatureArguments {
//!   string hash_function = 1;  // "sha256", "sha384", "sha512"
//!   bytes public_key = 2;      // DER SubjectPublicKeyInfo
//!   bytes signature = 3;       // RSA: as in the JWS; ECDSA: DER ECDSA-Sig-Value
//!   bytes text = 4;            // what was signed
//!   string public_key_pem = 5; // (not used: the DER form is sent)
//! }
//! message VerifySignatureResult { bool result = 1; string error = 2; }
//! ```
//!
//! A failed check is `result = false` with a message; the host returns an error status only
//! when the arguments cannot be used (no key, unparsable key). Pure encoding: the glue sends
//! the bytes with `proxy_call_foreign_function`.

use std::fmt;

/// The foreign function's name.
pub const FUNCTION: &str = "verify_signature";

/// Serialize `VerifySignatureArguments` (fields in number order, as protobuf writers do).
pub fn encode_arguments(hash: &str, public_key: &[u8], signature: &[u8], text: &[u8]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(hash.len() + public_key.len() + signature.len() + text.len() + 16);
    put_bytes(&mut out, 1, hash.as_bytes());
    put_bytes(&mut out, 2, public_key);
    put_bytes(&mut out, 3, signature);
    put_bytes(&mut out, 4, text);
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, field: u64, value: &[u8]) {
    put_varint(out, (field << 3) | 2);
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// A decoded `VerifySignatureResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyResult {
    /// True when the signature is valid.
    pub result: bool,
    /// The host's message when it is not (empty otherwise).
    pub error: String,
}

/// The answer is not a `VerifySignatureResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError;

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the verify_signature answer is not a VerifySignatureResult")
    }
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Result<u64, DecodeError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at).ok_or(DecodeError)?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError)
}

/// Parse a `VerifySignatureResult`; unknown fields are skipped, a missing `result` is
/// `false` (proto3 default), truncated or malformed input is an error. An empty answer is a
/// valid message with every field at its default (`result = false`).
pub fn decode_result(bytes: &[u8]) -> Result<VerifyResult, DecodeError> {
    let mut out = VerifyResult {
        result: false,
        error: String::new(),
    };
    let mut at = 0;
    while at < bytes.len() {
        let key = get_varint(bytes, &mut at)?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                let v = get_varint(bytes, &mut at)?;
                if field == 1 {
                    out.result = v != 0;
                }
            }
            2 => {
                let len = usize::try_from(get_varint(bytes, &mut at)?).map_err(|_| DecodeError)?;
                let end = at.checked_add(len).ok_or(DecodeError)?;
                let value = bytes.get(at..end).ok_or(DecodeError)?;
                if field == 2 {
                    out.error = String::from_utf8_lossy(value).into_owned();
                }
                at = end;
            }
            1 => {
                at = at
                    .checked_add(8)
                    .filter(|e| *e <= bytes.len())
                    .ok_or(DecodeError)?
            }
            5 => {
                at = at
                    .checked_add(4)
                    .filter(|e| *e <= bytes.len())
                    .ok_or(DecodeError)?
            }
            _ => return Err(DecodeError),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_length_delimited_fields_in_order() {
        let bytes = encode_arguments("sha256", &[1, 2], &[3], b"t");
        assert_eq!(
            bytes,
            [
                0x0a, 6, b's', b'h', b'a', b'2', b'5', b'6', 0x12, 2, 1, 2, 0x1a, 1, 3, 0x22, 1,
                b't'
            ]
        );
        // Lengths over 127 take a two-byte varint.
        let long = encode_arguments("sha512", &[0u8; 300], &[], &[]);
        assert_eq!(long.get(8..11), Some(&[0x12, 0xac, 0x02][..]));
    }

    #[test]
    fn results_decode_and_garbage_is_refused() {
        assert_eq!(
            decode_result(&[0x08, 1]),
            Ok(VerifyResult {
                result: true,
                error: String::new()
            })
        );
        let mut failed = vec![0x12, 3];
        failed.extend_from_slice(b"bad");
        assert_eq!(
            decode_result(&failed),
            Ok(VerifyResult {
                result: false,
                error: "bad".into()
            })
        );
        assert_eq!(decode_result(&[]).map(|r| r.result), Ok(false));
        // Unknown fields of every wire type are skipped.
        assert_eq!(
            decode_result(&[0x18, 5, 0x21, 0, 0, 0, 0, 0, 0, 0, 0, 0x2d, 0, 0, 0, 0, 0x08, 1])
                .map(|r| r.result),
            Ok(true)
        );
        for bad in [
            &[0x08][..],
            &[0x12, 5, b'a'],
            &[0x0b],
            &[0x21, 0, 0],
            &[
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        ] {
            assert_eq!(decode_result(bad), Err(DecodeError), "{bad:?}");
        }
    }
}
