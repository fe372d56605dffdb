//! `Request::decode` on arbitrary bodies. It must never panic, and whatever it
//! accepts must re-encode to the same bytes (the encoding is canonical: every
//! reserved byte and all padding is zero) and decode again to an equal request.
//!
//! Input: 4 label bytes, then the body. If the first label byte's top bit is
//! clear, the label is a known request label picked by the second byte, so
//! the fuzzer spends its time in the decoders; otherwise the 4 bytes are the
//! label as a little-endian `u32`.

use evq_abi::msg::{label, Event, Request, MAX_MSG_BYTES};

const LABELS: [u32; 13] = [
    label::PUBLISH,
    label::PUBLISH_BATCH,
    label::CLIENT_GONE,
    label::CREATE_QUEUE,
    label::DESTROY_QUEUE,
    label::SUBSCRIBE,
    label::UNSUBSCRIBE,
    label::SET_PRIORITY,
    label::SET_COALESCING,
    label::WAIT,
    label::STATS,
    label::OK,
    label::ERROR,
];

/// One input: see the module's documentation for its layout and what must hold.
pub fn run(data: &[u8]) {
    let Some((head, body)) = data.split_first_chunk::<4>() else { return };
    let msg_label =
        if head[0] & 0x80 == 0 { LABELS[usize::from(head[1]) % LABELS.len()] } else { u32::from_le_bytes(*head) };
    let Ok(request) = Request::decode(msg_label, body) else { return };
    assert_eq!(request.label(), msg_label);

    let mut out = [0u8; MAX_MSG_BYTES];
    let (label2, n) = request.encode(&mut out).expect("a decoded request must encode");
    assert_eq!(label2, msg_label);
    assert_eq!(&out[..n], body, "the encoding is not canonical: {request:?}");
    let again = Request::decode(label2, &out[..n]).expect("a re-encoded request must decode");
    assert_eq!(again, request);

    if let (Request::PublishBatch(a), Request::PublishBatch(b)) = (request, again) {
        let ea: Vec<Event<'_>> = a.iter().collect();
        let eb: Vec<Event<'_>> = b.iter().collect();
        assert_eq!(ea.len(), a.len());
        assert!(!a.is_empty());
        assert_eq!(ea, eb);
    }
}
