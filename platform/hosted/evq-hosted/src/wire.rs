//! Messages on the hosted platform: one seqpacket datagram per message,
//! the [`Endpoint`] a domain calls the server on, and the [`TICK`] the
//! server keeps time by.
//!
//! A datagram is the label as a little-endian `u32` followed by the body
//! (`docs/protocol.md` §1.2 and "Hosted framing"). Every evq label fits in
//! 16 bits, so the label's upper two bytes are zero in every valid message:
//! read as 16-bit fields, the head is `[label: u16][reserved: u16]`.
//!
//! A source publishes its events through its ingest ring
//! ([`crate::ingest`]); its endpoint carries its calls. The endpoint is
//! also an [`evq_source::Link`] of its own, the call-based `PUBLISH`
//! (`docs/protocol.md` §8.4).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use evq_abi::msg::{DecodeError, Reply, Request, MAX_MSG_BYTES};

use crate::sys;

/// The server's tick: its shell ticks the core this often (source budgets
/// refill, coalescing windows and wait timeouts are checked), and a source
/// the server answered a call-based publish with `Busy` waits this long
/// before it sends the rest.
pub const TICK: Duration = Duration::from_millis(10);

/// Bytes before the body.
pub const HEAD: usize = 4;

/// The largest valid datagram.
pub const MAX_DATAGRAM: usize = HEAD + MAX_MSG_BYTES;

/// A receive buffer one word longer than the largest valid datagram, so that
/// an oversized one is seen as such (its body is longer than 960 bytes).
pub const RECV_BUF: usize = MAX_DATAGRAM + 8;

/// The label a datagram too short to hold one is handled under. It is no
/// request label, so the server answers `ERROR UnknownLabel` with this
/// value as the detail, and counts the message as refused.
pub const NO_LABEL: u32 = u32::MAX;

/// Writes `label` and `body` into `out` as one datagram; returns its length.
pub fn frame(label: u32, body: &[u8], out: &mut [u8]) -> usize {
    out[..HEAD].copy_from_slice(&label.to_le_bytes());
    out[HEAD..HEAD + body.len()].copy_from_slice(body);
    HEAD + body.len()
}

/// Splits a datagram into its label and body. One shorter than [`HEAD`]
/// has no label: it is [`NO_LABEL`] with an empty body.
pub fn unframe(datagram: &[u8]) -> (u32, &[u8]) {
    match datagram.split_first_chunk::<HEAD>() {
        Some((head, body)) => (u32::from_le_bytes(*head), body),
        None => (NO_LABEL, &[]),
    }
}

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// The socket failed, or the server is gone.
    Io(io::Error),
    /// The request does not encode (an event that is not one).
    Encode(evq_abi::msg::EncodeError),
    /// The reply does not decode as a reply to the request.
    BadReply(DecodeError),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Io(e) => write!(f, "endpoint: {e}"),
            CallError::Encode(e) => write!(f, "endpoint: the request does not encode: {e}"),
            CallError::BadReply(e) => {
                write!(f, "endpoint: the server's reply does not decode: {e}")
            }
        }
    }
}

impl std::error::Error for CallError {}

impl From<io::Error> for CallError {
    fn from(e: io::Error) -> Self {
        CallError::Io(e)
    }
}

/// A reply as received: its label, its body, and the descriptors that came
/// with it.
#[derive(Debug)]
pub struct RawReply {
    /// The reply's label.
    pub label: u32,
    /// Its body.
    pub body: Vec<u8>,
    /// Descriptors it carried (a ring's memfd, with `CreateQueue`'s reply).
    pub fds: Vec<OwnedFd>,
}

/// A capability to call the server: the domain's end of its badged
/// endpoint. The server knows the caller by this socket alone.
#[derive(Debug)]
pub struct Endpoint {
    fd: OwnedFd,
}

impl Endpoint {
    /// How long a call waits for the server's reply before failing.
    pub const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

    /// Wraps the domain's end of an endpoint.
    pub fn new(fd: OwnedFd) -> io::Result<Self> {
        sys::set_recv_timeout(fd.as_fd(), Self::REPLY_TIMEOUT)?;
        Ok(Self { fd })
    }

    /// Sends `request` and waits for the reply, and the descriptors that
    /// came with it.
    pub fn request(&self, request: &Request<'_>) -> Result<(Reply, Vec<OwnedFd>), CallError> {
        let mut body = [0u8; MAX_MSG_BYTES];
        let (label, len) = request.encode(&mut body).map_err(CallError::Encode)?;
        let raw = self.call_raw(label, &body[..len])?;
        let reply = Reply::decode(label, raw.label, &raw.body).map_err(CallError::BadReply)?;
        Ok((reply, raw.fds))
    }

    /// Sends `label` and `body` as they are (however malformed) and waits
    /// for the reply, undecoded.
    pub fn call_raw(&self, label: u32, body: &[u8]) -> Result<RawReply, CallError> {
        let mut out = vec![0u8; HEAD + body.len()];
        let n = frame(label, body, &mut out);
        self.call_datagram(&out[..n])
    }

    /// Sends one datagram exactly as given and waits for the reply.
    pub fn call_datagram(&self, datagram: &[u8]) -> Result<RawReply, CallError> {
        self.call_with_fds(datagram, &[])
    }

    /// Sends one datagram with descriptors attached (which the server
    /// refuses: the kernel closes them) and waits for the reply.
    pub fn call_with_fds(&self, datagram: &[u8], fds: &[BorrowedFd<'_>]) -> Result<RawReply, CallError> {
        sys::send(self.fd.as_fd(), datagram, fds, false)?;
        let mut buf = [0u8; RECV_BUF];
        let got = sys::recv(self.fd.as_fd(), &mut buf, sys::MAX_FDS, false)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the endpoint"))?;
        let (label, body) = unframe(&buf[..got.len]);
        Ok(RawReply { label, body: body.to_vec(), fds: got.fds })
    }

    /// The socket, for polling.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl evq_source::Link for Endpoint {
    type Error = CallError;

    fn call(&mut self, request: &Request<'_>) -> Result<Reply, CallError> {
        // A source is granted nothing: descriptors with a reply are closed.
        self.request(request).map(|(reply, _)| reply)
    }

    /// Sleeps one [`TICK`]: by then the server has refilled the budgets.
    fn back_off(&mut self) {
        std::thread::sleep(TICK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_the_label_then_the_body() {
        let mut out = [0u8; 16];
        let n = frame(0x0101, &[9; 8], &mut out);
        assert_eq!(&out[..n], &[0x01, 0x01, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9]);
        assert_eq!(unframe(&out[..n]), (0x0101, &[9u8; 8][..]));
    }

    #[test]
    fn a_datagram_without_a_whole_label_has_none() {
        assert_eq!(unframe(&[1, 2, 3]), (NO_LABEL, &[][..]));
        assert_eq!(unframe(&[]), (NO_LABEL, &[][..]));
        assert_eq!(unframe(&[8, 2, 0, 0]), (0x0208, &[][..]));
    }
}
