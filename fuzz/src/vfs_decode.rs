//! The VFS protocol's decoders (`evq_vfs_api::Request::decode`, the VFS
//! domain's side, and `evq_vfs_api::Reply::decode`, a client's side) on
//! arbitrary bodies. They must never panic; whatever they accept must pass
//! [`Request::check`], re-encode to the same label and bytes (the encoding
//! is canonical) and decode again to an equal message; whatever they refuse
//! they refuse again with the same error, whose stable code is one of the
//! eight `DecodeError::code` gives and whose words are not empty.
//!
//! Input: 4 bytes for the request label, 4 for the reply label, then the
//! body. Each label is a known one picked by its second byte when its first
//! byte's top bit is clear (requests from `evq_vfs_api::label::REQUESTS`,
//! replies `OK` or `ERROR`), otherwise the 4 bytes as a little-endian `u32`.

use evq_abi::framing::{label as reply_label, MAX_MSG_BYTES};
use evq_vfs_api::{label, DecodeError, Reply, Request};

const REQUESTS: [u32; label::REQUESTS.len()] = label::REQUESTS;
const REPLIES: [u32; 2] = [reply_label::OK, reply_label::ERROR];

fn pick(bytes: &[u8; 4], known: &[u32]) -> u32 {
    if bytes[0] & 0x80 == 0 {
        known[usize::from(bytes[1]) % known.len()]
    } else {
        u32::from_le_bytes(*bytes)
    }
}

fn refused_alike(first: DecodeError, again: Result<(), DecodeError>) {
    assert_eq!(again, Err(first), "a second decode of the same bytes differs");
    assert!((1..=8).contains(&first.code()), "{first:?} has no stable code");
    let words = first.to_string();
    assert!(!words.is_empty() && !words.contains("BadLength {"), "{first:?} reads {words:?}");
}

/// One input: see the module's documentation for its layout and what must hold.
pub fn run(data: &[u8]) {
    let Some((req, rest)) = data.split_first_chunk::<4>() else { return };
    let Some((rep, body)) = rest.split_first_chunk::<4>() else { return };
    let (request_label, reply_label) = (pick(req, &REQUESTS), pick(rep, &REPLIES));
    let mut out = [0u8; MAX_MSG_BYTES];

    match Request::decode(request_label, body) {
        Ok(request) => {
            assert_eq!(request.check(), Ok(()), "a decoded request fails its own check: {request:?}");
            let (label2, n) = request.encode(&mut out).expect("a decoded request must encode");
            assert_eq!(label2, request_label);
            assert_eq!(&out[..n], body, "the encoding is not canonical: {request:?}");
            let again = Request::decode(label2, &out[..n]).expect("a re-encoded request must decode");
            assert_eq!(again, request);
        }
        Err(e) => refused_alike(e, Request::decode(request_label, body).map(|_| ())),
    }

    match Reply::decode(request_label, reply_label, body) {
        Ok(reply) => {
            let (label2, n) = reply.encode(&mut out).expect("a decoded reply must encode");
            assert_eq!(label2, reply_label);
            assert_eq!(&out[..n], body, "the encoding is not canonical: {reply:?}");
            let again = Reply::decode(request_label, label2, &out[..n]).expect("a re-encoded reply must decode");
            assert_eq!(again, reply);
        }
        Err(e) => refused_alike(e, Reply::decode(request_label, reply_label, body).map(|_| ())),
    }
}
