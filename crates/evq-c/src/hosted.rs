//! The hosted platform's client (feature `hosted`): attaching through the
//! launcher's console, and the requests over the endpoint it hands out.
//! The glue over `evq_hosted::client::Client`: the conversation is
//! `evq_client::Session`'s; what is here turns C arguments into its calls
//! and its errors into codes and words.

use std::ffi::{c_char, CStr, CString};
use std::path::PathBuf;
use std::time::Duration;

use evq_abi::msg::{Reply, Request};
use evq_hosted::client::{Client, ClientError, HostedQueue, Woken};
use evq_hosted::console::{self, Console};

use crate::error::*;
use crate::request::{evq_filter, evq_reply, to_c_reply};
use crate::ring::{evq_ring, evq_ring_init, RingWaitFlag};

/// A client attached to a hosted system: the console connection that holds
/// its slot, its capabilities, and the rings it has mapped. Opaque; made
/// by `evq_hosted_connect`, freed by `evq_client_close`.
pub struct evq_client {
    // Declared first, so the queues' rings are unmapped before the slot is
    // given up.
    queues: Vec<HostedQueue>,
    client: Client,
    _console: Console,
    last_error: CString,
}

impl evq_client {
    fn fail(&mut self, code: i32, words: impl std::fmt::Display) -> i32 {
        self.last_error = CString::new(words.to_string().replace('\0', " ")).unwrap_or_default();
        code
    }

    fn client_error(&mut self, e: ClientError) -> i32 {
        use ::evq_client::SessionError as E;
        let code = match e {
            E::Transport(_) => EVQ_ERR_IO,
            E::Refused(..) => EVQ_ERR_REFUSED,
            E::UnexpectedReply => EVQ_ERR_UNEXPECTED,
            E::Attach(_) => EVQ_ERR_BAD_RING,
            E::Ring(_) => EVQ_ERR_CORRUPT,
        };
        self.fail(code, e)
    }

    fn queue(&mut self, queue: u32) -> Result<&mut HostedQueue, i32> {
        let i = self.queue_index(queue)?;
        Ok(&mut self.queues[i])
    }

    /// Where `queue` is in [`queues`](Self::queues), or no such queue in words.
    fn queue_index(&mut self, queue: u32) -> Result<usize, i32> {
        match self.queues.iter().position(|q| q.queue == queue) {
            Some(i) => Ok(i),
            None => Err(self.fail(EVQ_ERR_NO_QUEUE, format!("this client has no queue {queue}"))),
        }
    }
}

/// The C string at `s`, or none if `s` is null.
///
/// # Safety
///
/// A non-null `s` is a NUL-terminated string.
unsafe fn c_str<'a>(s: *const c_char) -> Result<Option<&'a str>, i32> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null and NUL-terminated by this function's contract.
    unsafe { CStr::from_ptr(s) }.to_str().map(Some).map_err(|_| EVQ_ERR_INVAL)
}

/// The client `c` names.
///
/// # Safety
///
/// A non-null `c` came from `evq_hosted_connect` and is not closed, and no
/// other thread uses it meanwhile.
unsafe fn client<'a>(c: *mut evq_client) -> Result<&'a mut evq_client, i32> {
    // SAFETY: forwarded from this function's contract.
    unsafe { c.as_mut() }.ok_or(EVQ_ERR_INVAL)
}

/// Connects to the hosted system whose console is at `console_path` (null:
/// `$EVQ_CONSOLE`, else `$XDG_RUNTIME_DIR/evq-console`, else
/// `/tmp/evq-<uid>-console`) and attaches as the client `domain` (null:
/// the first free client slot); stores the client in `client`.
///
/// Returns 0, or `EVQ_ERR_INVAL` (a null `client`, a path or name that is
/// not UTF-8) or `EVQ_ERR_IO` (no system answers at the path, or it has no
/// such free client slot).
///
/// # Safety
///
/// Non-null strings are NUL-terminated; `client` is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn evq_hosted_connect(
    console_path: *const c_char,
    domain: *const c_char,
    client: *mut *mut evq_client,
) -> i32 {
    guard(|| {
        if client.is_null() {
            return Err(EVQ_ERR_INVAL);
        }
        // SAFETY: NUL-terminated by this function's contract.
        let path = unsafe { c_str(console_path) }?.map_or_else(console::default_path, PathBuf::from);
        // SAFETY: as above.
        let domain = unsafe { c_str(domain) }?;
        let console = Console::connect(&path).map_err(|_| EVQ_ERR_IO)?;
        let (_, attached) = console.attach_client(domain).map_err(|_| EVQ_ERR_IO)?;
        let made = Box::new(evq_client {
            queues: Vec::new(),
            client: attached,
            _console: console,
            last_error: CString::default(),
        });
        // SAFETY: valid for writes by this function's contract.
        unsafe { put(client, Box::into_raw(made)) }?;
        Ok(EVQ_OK)
    })
}

/// The words for the client's last failure (`"the server refused:
/// NoSuchQueue (detail 0)"`), or `""`: NUL-terminated, valid until the
/// client's next call.
///
/// # Safety
///
/// `c` is a client from `evq_hosted_connect`, not closed.
#[no_mangle]
pub unsafe extern "C" fn evq_client_last_error(c: *mut evq_client) -> *const c_char {
    // SAFETY: forwarded from this function's contract.
    match unsafe { client(c) } {
        Ok(c) => c.last_error.as_ptr(),
        Err(_) => c"".as_ptr(),
    }
}

/// Creates a queue with a ring of `data_pages` (a power of two from 1 to
/// 64), maps its ring, and fills `ring` for `evq_ring_next`; stores its id
/// in `queue`. The ring stays mapped until `evq_client_destroy_queue` or
/// `evq_client_close`.
///
/// Returns 0, or `EVQ_ERR_INVAL` (a null pointer, a bad page count),
/// `EVQ_ERR_REFUSED` (the server refused: no memory in its ring pool, a
/// table full), `EVQ_ERR_IO`, `EVQ_ERR_BAD_RING`.
///
/// # Safety
///
/// `c` is a client from `evq_hosted_connect`, not closed; `queue` and
/// `ring` are valid for writes.
#[no_mangle]
pub unsafe extern "C" fn evq_client_create_queue(
    c: *mut evq_client,
    data_pages: u32,
    queue: *mut u32,
    ring: *mut evq_ring,
) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let c = unsafe { client(c) }?;
        if queue.is_null() || ring.is_null() {
            return Err(EVQ_ERR_INVAL);
        }
        if evq_abi::ring::RingGeometry::new(data_pages).is_err() {
            return Err(c.fail(EVQ_ERR_INVAL, evq_abi::msg::DecodeError::BadPageCount(data_pages)));
        }
        let made = c.client.create_queue(data_pages).map_err(|e| c.client_error(e))?;
        let (base, len) = made.region();
        // SAFETY: the mapping is kept in `c.queues` (below) until the queue
        // is destroyed or the client closed, which is `evq_ring_init`'s rule;
        // `ring` is valid for writes by this function's contract.
        let r = unsafe { evq_ring_init(ring, base.as_ptr().cast(), len) };
        if r != EVQ_OK {
            // A ring that does not read is no queue to hand over: the
            // server's is destroyed again, and nothing stays mapped.
            let _ = c.client.destroy(made);
            return Err(r);
        }
        let id = made.queue;
        c.queues.push(made);
        // SAFETY: `queue` is valid for writes by this function's contract.
        unsafe { put(queue, id) }?;
        Ok(EVQ_OK)
    })
}

/// Sends `request` and returns its reply, errors in words.
fn call(c: &mut evq_client, request: &Request<'_>) -> Result<Reply, i32> {
    c.client.request(request).map_err(|e| c.client_error(e))
}

/// Subscribes `queue` with `filter`; stores the subscription id (which
/// tags its events' `watch_id`) in `subscription`, if not null. Returns 0,
/// or `EVQ_ERR_INVAL` (a null pointer, a bad filter), `EVQ_ERR_REFUSED`,
/// `EVQ_ERR_IO`, `EVQ_ERR_UNEXPECTED`.
///
/// # Safety
///
/// As [`evq_client_create_queue`]; `filter` points to an `evq_filter`.
#[no_mangle]
pub unsafe extern "C" fn evq_client_subscribe(
    c: *mut evq_client,
    queue: u32,
    filter: *const evq_filter,
    subscription: *mut u32,
) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let c = unsafe { client(c) }?;
        // SAFETY: as above.
        let filter = unsafe { arg(filter) }?.to_filter()?;
        match call(c, &Request::Subscribe { queue, filter })? {
            Reply::Subscribed { subscription: id } => {
                if !subscription.is_null() {
                    // SAFETY: non-null, valid for writes by the contract.
                    unsafe { put(subscription, u32::from(id)) }?;
                }
                Ok(EVQ_OK)
            }
            _ => Err(c.client_error(::evq_client::SessionError::UnexpectedReply)),
        }
    })
}

/// Sends any request, encoded by an `evq_encode_*` function (`label`, and
/// `len` bytes at `body`), and decodes the reply into `reply`: for the
/// requests with no call of their own here (`UNSUBSCRIBE`, `SET_PRIORITY`,
/// `SET_COALESCING`, `STATS`). Returns as `evq_decode_reply`, or
/// `EVQ_ERR_IO`.
///
/// # Safety
///
/// As [`evq_client_create_queue`]; `body..body + len` is readable; `reply`
/// is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn evq_client_call(
    c: *mut evq_client,
    label: u32,
    body: *const u8,
    len: usize,
    reply: *mut evq_reply,
) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let c = unsafe { client(c) }?;
        if body.is_null() || reply.is_null() {
            return Err(EVQ_ERR_INVAL);
        }
        // SAFETY: readable for `len` bytes by this function's contract.
        let bytes = unsafe { std::slice::from_raw_parts(body, len) };
        let request = Request::decode(label, bytes).map_err(|e| c.fail(EVQ_ERR_INVAL, e))?;
        if matches!(request, Request::CreateQueue { .. } | Request::DestroyQueue { .. } | Request::Wait { .. }) {
            return Err(c.fail(EVQ_ERR_INVAL, "create, destroy and wait have calls of their own"));
        }
        let answer = match c.client.request(&request) {
            Ok(r) => r,
            Err(::evq_client::SessionError::Refused(code, detail)) => Reply::Error { code, detail },
            Err(e) => return Err(c.client_error(e)),
        };
        // SAFETY: valid for writes by this function's contract.
        unsafe { put(reply, to_c_reply(&answer)) }?;
        match answer {
            Reply::Error { code, detail } => {
                Err(c.fail(EVQ_ERR_REFUSED, format!("the server refused: {code} (detail {detail})")))
            }
            _ => Ok(EVQ_OK),
        }
    })
}

/// Sleeps until `queue`'s ring may have entries, by the whole wake-up
/// protocol (`WAIT`, then the waiting flag and a last look at the ring,
/// then the notification), or until `timeout_ms` milliseconds pass.
/// Returns 1 (read the ring), 0 (timed out), or `EVQ_ERR_INVAL`,
/// `EVQ_ERR_NO_QUEUE`, `EVQ_ERR_REFUSED` (the queue was revoked),
/// `EVQ_ERR_IO`, `EVQ_ERR_CORRUPT`.
///
/// # Safety
///
/// As [`evq_client_create_queue`].
#[no_mangle]
pub unsafe extern "C" fn evq_client_wait(c: *mut evq_client, queue: u32, timeout_ms: u32) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let c = unsafe { client(c) }?;
        let (base, len) = c.queue(queue)?.region();
        let mut ring = evq_ring::default();
        // SAFETY: the mapping is `c`'s, kept while the queue is.
        let r = unsafe { evq_ring_init(&mut ring, base.as_ptr().cast(), len) };
        if r != EVQ_OK {
            return Err(r);
        }
        let mut flag = RingWaitFlag::new(&ring)?;
        match c.client.wait_on(queue, &mut flag, Duration::from_millis(timeout_ms.into())) {
            Ok(Woken::Ready) => Ok(1),
            Ok(Woken::TimedOut) => Ok(0),
            Err(e) => Err(c.client_error(e)),
        }
    })
}

/// Destroys `queue`: the server revokes its ring, which is unmapped; an
/// `evq_ring` of it must not be used again. Returns 0, or
/// `EVQ_ERR_NO_QUEUE`, `EVQ_ERR_REFUSED`, `EVQ_ERR_IO`.
///
/// # Safety
///
/// As [`evq_client_create_queue`].
#[no_mangle]
pub unsafe extern "C" fn evq_client_destroy_queue(c: *mut evq_client, queue: u32) -> i32 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let c = unsafe { client(c) }?;
        let i = c.queue_index(queue)?;
        let q = c.queues.swap_remove(i);
        c.client.destroy(q).map_err(|e| c.client_error(e))?;
        Ok(EVQ_OK)
    })
}

/// Gives the slot up and frees the client: its rings are unmapped (every
/// `evq_ring` of them is dead), and the launcher reclaims its queues. A
/// null `c` is ignored.
///
/// # Safety
///
/// `c` came from `evq_hosted_connect` and is not used again.
#[no_mangle]
pub unsafe extern "C" fn evq_client_close(c: *mut evq_client) {
    if !c.is_null() {
        let _ = guard(|| {
            // SAFETY: made by `Box::into_raw` in `evq_hosted_connect`, and
            // given back exactly once, by this function's contract.
            drop(unsafe { Box::from_raw(c) });
            Ok(EVQ_OK)
        });
    }
}
