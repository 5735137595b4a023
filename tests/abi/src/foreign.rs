//! Foreign functions this host offers, as Envoy does: `verify_signature` (Envoy source
//! `source/extensions/common/wasm/foreign.cc`). Arguments and answer are protobuf
//! (`VerifySignatureArguments`, `VerifySignatureResult`), decoded and encoded here by hand;
//! the check itself is `tollgate_reference_crypto` (ring), not the filter's own crypto.

use crate::abi::Status;

/// The fields of `VerifySignatureArguments`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VerifyArguments {
    pub hash_function: String,
    pub public_key: Vec<u8>,
    pub signature: Vec<u8>,
    pub text: Vec<u8>,
    pub public_key_pem: String,
}

fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Parse `VerifySignatureArguments` the way protobuf does (unknown fields skipped).
pub fn parse_arguments(b: &[u8]) -> Option<VerifyArguments> {
    let mut out = VerifyArguments::default();
    let mut at = 0;
    while at < b.len() {
        let key = varint(b, &mut at)?;
        match key & 7 {
            0 => {
                varint(b, &mut at)?;
            }
            2 => {
                let len = usize::try_from(varint(b, &mut at)?).ok()?;
                let value = b.get(at..at.checked_add(len)?)?.to_vec();
                at += len;
                match key >> 3 {
                    1 => out.hash_function = String::from_utf8(value).ok()?,
                    2 => out.public_key = value,
                    3 => out.signature = value,
                    4 => out.text = value,
                    5 => out.public_key_pem = String::from_utf8(value).ok()?,
                    _ => {}
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

/// `VerifySignatureResult { result = 1; error = 2 }` (proto3: defaults are not written).
pub fn encode_result(result: bool, error: &str) -> Vec<u8> {
    let mut out = Vec::new();
    if result {
        out.extend_from_slice(&[0x08, 0x01]);
    }
    if !error.is_empty() {
        out.push(0x12);
        let mut len = error.len();
        while len >= 0x80 {
            out.push(u8::try_from(len & 0x7f).unwrap_or(0) | 0x80);
            len >>= 7;
        }
        out.push(u8::try_from(len).unwrap_or(0));
        out.extend_from_slice(error.as_bytes());
    }
    out
}

/// Envoy's `verify_signature`: `Err(BadArgument)` when the arguments do not parse or carry
/// no usable key (or both a DER and a PEM key), else the serialized result.
pub fn verify_signature(arguments: &[u8]) -> Result<Vec<u8>, Status> {
    let args = parse_arguments(arguments).ok_or(Status::BadArgument)?;
    if args.public_key.is_empty() || !args.public_key_pem.is_empty() {
        // This host models the DER form only, which is all the filter sends.
        return Err(Status::BadArgument);
    }
    match tollgate_reference_crypto::verify_signature(
        &args.hash_function,
        &args.public_key,
        &args.signature,
        &args.text,
    ) {
        Ok(true) => Ok(encode_result(true, "")),
        Ok(false) => Ok(encode_result(
            false,
            "Failed to verify digest. Error code: 0",
        )),
        Err(_) => Err(Status::BadArgument),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_round_trip_and_garbage_is_a_bad_argument() {
        let mut args = vec![0x0a, 6];
        args.extend_from_slice(b"sha256");
        args.extend_from_slice(&[0x12, 1, 7, 0x1a, 1, 8, 0x22, 1, 9, 0x28, 1]);
        let parsed = parse_arguments(&args).unwrap();
        assert_eq!(parsed.hash_function, "sha256");
        assert_eq!(
            (parsed.public_key, parsed.signature, parsed.text),
            (vec![7], vec![8], vec![9])
        );
        assert_eq!(verify_signature(&[0x0a, 9]), Err(Status::BadArgument));
        assert_eq!(verify_signature(&[]), Err(Status::BadArgument));
        assert_eq!(encode_result(true, ""), vec![0x08, 0x01]);
        assert_eq!(encode_result(false, "x"), vec![0x12, 1, b'x']);
    }
}
