//! The events the device domain publishes.

use evq_abi::event::{device, Category, Priority, StatePayload, TimePayload};
use evq_abi::msg::Event;
use zerocopy::IntoBytes;

/// A device event with no type flags, at normal priority: every device
/// event is routine, and dropping one under pressure loses a reading, not
/// the system's integrity.
fn device_event(kind: u8, device_id: u64, payload: &[u8]) -> Event<'_> {
    Event { category: Category::Device, kind, type_flags: 0, priority: Priority::Normal, object_id: device_id, payload }
}

/// An input event (category Device, kind `INPUT`, priority Normal): `bytes`
/// as the payload, object = `device_id`.
///
/// `bytes` should be at most the ABI's `MAX_PAYLOAD` (464); a
/// [`LineAssembler`](crate::LineAssembler) chunk always is. A longer one
/// makes an event that encoding refuses (`Event::check`).
pub fn input_event(device_id: u64, bytes: &[u8]) -> Event<'_> {
    device_event(device::INPUT, device_id, bytes)
}

/// A clock reading (category Device, kind `TIME`, priority Normal): the
/// [`TimePayload`]'s bytes as the payload, object = `device_id`.
pub fn time_event(device_id: u64, payload: &TimePayload) -> Event<'_> {
    device_event(device::TIME, device_id, payload.as_bytes())
}

/// A state change (category Device, kind `STATE`, priority Normal): the
/// [`StatePayload`]'s bytes as the payload, object = `device_id`.
pub fn state_event(device_id: u64, payload: &StatePayload) -> Event<'_> {
    device_event(device::STATE, device_id, payload.as_bytes())
}
