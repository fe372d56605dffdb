//! `Reply::decode` on arbitrary bodies. It must never panic, and whatever it
//! accepts must re-encode to the same label and bytes and decode again to an
//! equal reply.
//!
//! Input: 4 bytes for the request label, 4 for the reply label, then the
//! body. Each label is a known one picked by its second byte when its first
//! byte's top bit is clear (requests from the request labels, replies `OK` or
//! `ERROR`), otherwise the 4 bytes as a little-endian `u32`.

use evq_abi::msg::{label, Reply, MAX_MSG_BYTES};

const REQUESTS: [u32; label::REQUESTS.len()] = label::REQUESTS;
const REPLIES: [u32; 2] = [label::OK, label::ERROR];

fn pick(bytes: &[u8; 4], known: &[u32]) -> u32 {
    if bytes[0] & 0x80 == 0 {
        known[usize::from(bytes[1]) % known.len()]
    } else {
        u32::from_le_bytes(*bytes)
    }
}

/// One input: see the module's documentation for its layout and what must hold.
pub fn run(data: &[u8]) {
    let Some((req, rest)) = data.split_first_chunk::<4>() else { return };
    let Some((rep, body)) = rest.split_first_chunk::<4>() else { return };
    let (request_label, reply_label) = (pick(req, &REQUESTS), pick(rep, &REPLIES));
    let Ok(reply) = Reply::decode(request_label, reply_label, body) else { return };

    let mut out = [0u8; MAX_MSG_BYTES];
    let (label2, n) = reply.encode(&mut out).expect("a decoded reply must encode");
    assert_eq!(label2, reply_label);
    assert_eq!(&out[..n], body, "the encoding is not canonical: {reply:?}");
    let again = Reply::decode(request_label, label2, &out[..n]).expect("a re-encoded reply must decode");
    assert_eq!(again, reply);
}
