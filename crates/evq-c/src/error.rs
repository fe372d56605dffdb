//! Error codes: every function of the library answers a failure with one
//! of these negative numbers, and [`evq_strerror`] says it in words.

use core::ffi::c_char;

/// Success.
pub const EVQ_OK: i32 = 0;
/// A pointer argument is null, or an argument is out of range.
pub const EVQ_ERR_INVAL: i32 = -1;
/// The ring memory is not 8-byte aligned or is shorter than a control page.
pub const EVQ_ERR_BAD_REGION: i32 = -2;
/// The control page is not an evq ring of this ABI version that fits the
/// memory (magic, version, slot count, data offset).
pub const EVQ_ERR_BAD_RING: i32 = -3;
/// The ring's head or an entry header is impossible: the server corrupted
/// it. Every later read of the ring fails the same way.
pub const EVQ_ERR_CORRUPT: i32 = -4;
/// An event's type is no category this library knows.
pub const EVQ_ERR_UNKNOWN_CATEGORY: i32 = -5;
/// A record or payload is shorter than its layout or than the names it
/// declares.
pub const EVQ_ERR_TRUNCATED: i32 = -6;
/// A payload is longer than its layout, or a name longer than 200 bytes.
pub const EVQ_ERR_TOO_LONG: i32 = -7;
/// A reserved field is not zero.
pub const EVQ_ERR_RESERVED: i32 = -8;
/// The output buffer is too small for the message.
pub const EVQ_ERR_NO_SPACE: i32 = -9;
/// A reply does not decode.
pub const EVQ_ERR_MALFORMED: i32 = -10;
/// The server refused the request (the reply's code and detail say why).
pub const EVQ_ERR_REFUSED: i32 = -11;
/// The server's reply does not answer the request.
pub const EVQ_ERR_UNEXPECTED: i32 = -12;
/// The platform failed: the console, the endpoint, the ring's memory or
/// the notification (`evq_client_last_error` has the details).
pub const EVQ_ERR_IO: i32 = -13;
/// The client has no queue with that id.
pub const EVQ_ERR_NO_QUEUE: i32 = -14;
/// The library hit a bug (a Rust panic, caught at the boundary).
pub const EVQ_ERR_PANIC: i32 = -15;

/// The words for an error code: a static, NUL-terminated string, never
/// null. A code that is no error of this library gets
/// `"unknown error code"`.
#[no_mangle]
pub extern "C" fn evq_strerror(code: i32) -> *const c_char {
    let words: &core::ffi::CStr = match code {
        EVQ_OK => c"success",
        EVQ_ERR_INVAL => c"an argument is null or out of range",
        EVQ_ERR_BAD_REGION => c"the ring memory is misaligned or shorter than a control page",
        EVQ_ERR_BAD_RING => c"the memory is not an evq ring of this ABI version that fits it",
        EVQ_ERR_CORRUPT => c"the ring's head or an entry header is corrupt",
        EVQ_ERR_UNKNOWN_CATEGORY => c"an event's type is no known category",
        EVQ_ERR_TRUNCATED => c"a record or payload is shorter than its layout or its names",
        EVQ_ERR_TOO_LONG => c"a payload is longer than its layout, or a name longer than 200 bytes",
        EVQ_ERR_RESERVED => c"a reserved field is not zero",
        EVQ_ERR_NO_SPACE => c"the output buffer is too small for the message",
        EVQ_ERR_MALFORMED => c"the reply does not decode",
        EVQ_ERR_REFUSED => c"the server refused the request",
        EVQ_ERR_UNEXPECTED => c"the server's reply does not answer the request",
        EVQ_ERR_IO => c"the platform failed: console, endpoint, ring memory or notification",
        EVQ_ERR_NO_QUEUE => c"the client has no queue with that id",
        EVQ_ERR_PANIC => c"internal error in the evq library",
        _ => c"unknown error code",
    };
    words.as_ptr()
}

/// Runs one call's body; with std, a panic becomes [`EVQ_ERR_PANIC`]
/// instead of aborting the caller's process. Without std (seL4) the
/// domain's panic strategy applies; the bodies are written not to panic.
pub(crate) fn guard(body: impl FnOnce() -> Result<i32, i32>) -> i32 {
    #[cfg(feature = "hosted")]
    {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
            Ok(Ok(v) | Err(v)) => v,
            Err(_) => EVQ_ERR_PANIC,
        }
    }
    #[cfg(not(feature = "hosted"))]
    {
        match body() {
            Ok(v) | Err(v) => v,
        }
    }
}

/// `ptr` as a reference, or [`EVQ_ERR_INVAL`] if it is null.
///
/// # Safety
///
/// A non-null `ptr` points to a valid, initialised `T` that nothing else
/// changes for `'a`.
pub(crate) unsafe fn arg<'a, T>(ptr: *const T) -> Result<&'a T, i32> {
    // SAFETY: forwarded from this function's contract.
    unsafe { ptr.as_ref() }.ok_or(EVQ_ERR_INVAL)
}

/// Writes `value` to `ptr`, or fails with [`EVQ_ERR_INVAL`] if it is null.
///
/// # Safety
///
/// A non-null `ptr` is valid for writes of a `T` and aligned for it.
pub(crate) unsafe fn put<T>(ptr: *mut T, value: T) -> Result<(), i32> {
    if ptr.is_null() {
        return Err(EVQ_ERR_INVAL);
    }
    // SAFETY: non-null, and valid and aligned by this function's contract.
    unsafe { ptr.write(value) };
    Ok(())
}
