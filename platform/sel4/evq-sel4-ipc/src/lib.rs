//! evq's messages over seL4 IPC, for the root task and every domain alike:
//! a [`Message`] is a label and a body of whole words in the message
//! registers ([`evq_abi::framing`]), [`call`] sends one on an endpoint and
//! returns the reply, and [`EndpointLink`] is the `evq_source::Link` a
//! source's `Publisher` calls the event server through, for what needs an
//! answer (the root task's `ClientGone`, a publish whose refusal the
//! source must see). Events go through the source's ingest ring instead:
//! [`Sel4Doorbell`] is the `evq_source::Doorbell` of its
//! `evq_source::RingLink`, its two notifications.
//!
//! It holds no runtime of its own (no entry point, panic handler or
//! printing), so the root task, which has `sel4-root-task`'s, can use it
//! as the domains do through `evq-sel4-runtime`.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use evq_abi::msg::{DecodeError, EncodeError, Reply, Request, MAX_MSG_BYTES};
use evq_source::{Doorbell, Link, Publisher, RingLink};

/// A message as evq's ABI sees it: a label and a body of whole words.
#[derive(Clone, Copy)]
pub struct Message {
    /// The label.
    pub label: u32,
    /// Body bytes; `len` of them count.
    pub body: [u8; MAX_MSG_BYTES],
    /// The body's length, a multiple of 8.
    pub len: usize,
}

impl Message {
    /// An empty message.
    pub const fn new() -> Self {
        Self { label: 0, body: [0; MAX_MSG_BYTES], len: 0 }
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body[..self.len]
    }

    /// Copies the message registers `info` names out of the IPC buffer.
    /// A label that does not fit 32 bits arrives as `u32::MAX`, which no
    /// evq message uses, so the decoder refuses it.
    pub fn from_ipc(info: &sel4::MessageInfo) -> Self {
        let mut m = Self::new();
        m.read_ipc(info);
        m
    }

    /// [`Message::from_ipc`] into this message, for a loop that keeps one
    /// rather than zeroing a new one per message.
    pub fn read_ipc(&mut self, info: &sel4::MessageInfo) {
        self.label = u32::try_from(info.label()).unwrap_or(u32::MAX);
        self.len = (info.length() * 8).min(MAX_MSG_BYTES);
        sel4::with_ipc_buffer(|ipc| self.body[..self.len].copy_from_slice(&ipc.msg_bytes()[..self.len]));
    }

    /// Writes the message into the IPC buffer, with `caps` as extra
    /// capabilities, and returns its `MessageInfo`.
    pub fn to_ipc(&self, caps: &[sel4::CPtr]) -> sel4::MessageInfo {
        let words = self.len.div_ceil(8);
        sel4::with_ipc_buffer_mut(|ipc| {
            ipc.msg_bytes_mut()[..self.len].copy_from_slice(&self.body[..self.len]);
            for (i, cap) in caps.iter().enumerate() {
                ipc.caps_or_badges_mut()[i] = cap.bits();
            }
        });
        sel4::MessageInfo::new(self.label.into(), 0, caps.len(), words)
    }
}

impl Default for Message {
    fn default() -> Self {
        Self::new()
    }
}

/// Calls `endpoint` with `request` and returns the reply, and how many
/// capabilities arrived with it in the receive slot set beforehand.
pub fn call(endpoint: sel4::cap::Endpoint, request: &Message) -> (Message, usize) {
    let info = endpoint.call(request.to_ipc(&[]));
    (Message::from_ipc(&info), info.extra_caps())
}

/// Why a call to the event server failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The request does not encode (the publisher checks events first, so
    /// this is a message no decoder would take).
    Encode(EncodeError),
    /// The server's reply does not decode as an answer to the request.
    Decode(DecodeError),
}

impl core::fmt::Display for CallError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CallError::Encode(e) => write!(f, "the request does not encode: {e}"),
            CallError::Decode(e) => write!(f, "the server's reply does not decode: {e}"),
        }
    }
}

/// The event server as a source reaches it: calls on the source's badged
/// endpoint, the badge being the source's identity. After `Busy` it
/// yields, so that the server (and the domains it serves) run before the
/// source sends again.
#[derive(Clone, Copy, Debug)]
pub struct EndpointLink {
    endpoint: sel4::cap::Endpoint,
}

impl EndpointLink {
    /// The server behind `endpoint`.
    pub const fn new(endpoint: sel4::cap::Endpoint) -> Self {
        Self { endpoint }
    }

    /// A publisher over the server behind `endpoint`.
    pub fn publisher(endpoint: sel4::cap::Endpoint) -> Publisher<Self> {
        Publisher::new(Self::new(endpoint))
    }
}

impl Link for EndpointLink {
    type Error = CallError;

    fn call(&mut self, request: &Request<'_>) -> Result<Reply, CallError> {
        let mut m = Message::new();
        let (label, len) = request.encode(&mut m.body).map_err(CallError::Encode)?;
        m.label = label;
        m.len = len;
        let (reply, _) = call(self.endpoint, &m);
        Reply::decode(label, reply.label, reply.body()).map_err(CallError::Decode)
    }

    fn back_off(&mut self) {
        sel4::r#yield();
    }
}

/// A source's two notifications for its ingest ring: a capability to
/// signal the server's notification (badged so that the server tells the
/// signal from a message), and its room notification, which the server
/// signals when it has freed slots the source waits for.
#[derive(Clone, Copy, Debug)]
pub struct Sel4Doorbell {
    server: sel4::cap::Notification,
    room: Option<sel4::cap::Notification>,
}

impl Sel4Doorbell {
    /// The doorbell of a source that signals `server` and waits for room
    /// on `room`; `None` for a source that never waits (the root task,
    /// whose full ring drops and counts: `evq_source::WhenFull::Drop`).
    pub const fn new(server: sel4::cap::Notification, room: Option<sel4::cap::Notification>) -> Self {
        Self { server, room }
    }
}

impl Doorbell for Sel4Doorbell {
    fn ring(&mut self) {
        self.server.signal();
    }

    fn wait_for_room(&mut self) {
        match self.room {
            Some(room) => {
                room.wait();
            }
            // Without a room notification there is nothing to wait on; the
            // link looks at the ring again once the server has had a chance
            // to run.
            None => sel4::r#yield(),
        }
    }
}

/// A source's publisher over its ingest ring.
pub type RingPublisher = Publisher<RingLink<Sel4Doorbell>>;
