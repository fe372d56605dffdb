//! A source domain's side of its endpoint: publishing, with back-pressure.

use std::thread;

use evq_abi::msg::{BatchBuilder, ErrorCode, Event, Reply, Request, MAX_MSG_BYTES};

use crate::server_domain::TICK;
use crate::wire::{CallError, Endpoint};

/// Why a publish failed.
#[derive(Debug)]
pub enum PublishError {
    /// The call failed (the server is gone).
    Call(CallError),
    /// The server refused the events (not back-pressure, which is retried).
    Refused(ErrorCode, u32),
    /// The server answered something that does not fit.
    Unexpected(Reply),
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishError::Call(e) => write!(f, "{e}"),
            PublishError::Refused(code, detail) => write!(f, "refused: {code:?} (detail {detail})"),
            PublishError::Unexpected(r) => write!(f, "unexpected reply {r:?}"),
        }
    }
}

impl std::error::Error for PublishError {}

impl From<CallError> for PublishError {
    fn from(e: CallError) -> Self {
        PublishError::Call(e)
    }
}

/// A source's endpoint.
pub struct Publisher {
    endpoint: Endpoint,
    /// Times the server answered `Busy` (back-pressure) so far.
    pub busy_replies: u64,
}

impl Publisher {
    /// A publisher over the source's endpoint.
    pub fn new(endpoint: Endpoint) -> Self {
        Self { endpoint, busy_replies: 0 }
    }

    /// The endpoint, for raw calls.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Publishes `events` in as few messages as fit. When the server answers
    /// `Busy`, keeps the events it refused and sends them again a tick later
    /// (`docs/protocol.md` §5.8), so every event is delivered or refused for
    /// a reason other than back-pressure.
    pub fn publish(&mut self, events: &[Event<'_>]) -> Result<(), PublishError> {
        let mut rest = events;
        while !rest.is_empty() {
            let mut body = [0u8; MAX_MSG_BYTES];
            let mut batch = BatchBuilder::new(&mut body).expect("a batch head fits in a message");
            let mut taken = 0;
            for e in rest {
                if batch.push(e).is_err() {
                    break;
                }
                taken += 1;
            }
            if taken == 0 {
                // One event too large for a batch message is sent alone (and
                // refused by the server if it is malformed).
                taken = 1;
            }
            let len = batch.finish();
            let accepted = if taken == 1 {
                self.send(&Request::Publish(rest[0]))?
            } else {
                let raw = self.endpoint.call_raw(evq_abi::msg::label::PUBLISH_BATCH, &body[..len])?;
                let reply = Reply::decode(evq_abi::msg::label::PUBLISH_BATCH, raw.label, &raw.body)
                    .map_err(|e| PublishError::Call(CallError::BadReply(e)))?;
                self.accepted(reply)?
            };
            rest = &rest[accepted.min(taken)..];
        }
        Ok(())
    }

    fn send(&mut self, request: &Request<'_>) -> Result<usize, PublishError> {
        let (reply, _) = self.endpoint.call(request)?;
        self.accepted(reply)
    }

    /// How many events a reply accepted; sleeps a tick after `Busy`.
    fn accepted(&mut self, reply: Reply) -> Result<usize, PublishError> {
        match reply {
            Reply::Published { accepted } => Ok(accepted as usize),
            Reply::Error { code: ErrorCode::Busy, detail } => {
                self.busy_replies += 1;
                thread::sleep(TICK);
                Ok(detail as usize)
            }
            Reply::Error { code, detail } => Err(PublishError::Refused(code, detail)),
            r => Err(PublishError::Unexpected(r)),
        }
    }
}
