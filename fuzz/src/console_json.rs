//! The hosted launcher's console protocol: one JSON datagram per request
//! (`evq_hosted::console::decode_request`, what the launcher runs on every
//! datagram a process outside the system sends), and one per reply
//! (`evq_hosted::console::decode_reply`, what `evq tail`, `evq stats` and
//! `evq fs` run on the launcher's answer). Neither may panic; whatever
//! they accept must serialize and parse back to an equal value; whatever
//! they refuse they refuse again with the same message, in words.

use evq_hosted::console::{decode_reply, decode_request};

/// One input: the datagram.
pub fn run(data: &[u8]) {
    match decode_request(data) {
        Ok(request) => {
            let bytes = serde_json::to_vec(&request).expect("a request serializes");
            assert_eq!(decode_request(&bytes).as_ref(), Ok(&request), "{request:?} does not round-trip");
        }
        Err(message) => {
            assert!(message.starts_with("bad request: "), "{message:?}");
            assert_eq!(decode_request(data), Err(message), "a second parse of the same bytes differs");
        }
    }
    match decode_reply(data) {
        Ok(reply) => {
            let bytes = serde_json::to_vec(&reply).expect("a reply serializes");
            assert_eq!(decode_reply(&bytes).as_ref(), Ok(&reply), "{reply:?} does not round-trip");
        }
        Err(message) => {
            assert!(message.starts_with("bad reply from the launcher: "), "{message:?}");
            assert_eq!(decode_reply(data), Err(message), "a second parse of the same bytes differs");
        }
    }
}
