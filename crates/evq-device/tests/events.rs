//! The events the device domain publishes.

use evq_abi::event::{device, Category, Priority, StatePayload, TimePayload};
use evq_abi::msg::{Request, MAX_MSG_BYTES};
use evq_device::{input_event, state_event, time_event, LineAssembler};
use zerocopy::FromBytes;

#[test]
fn input_event_carries_the_bytes() {
    let e = input_event(7, b"hello");
    assert_eq!(e.category, Category::Device);
    assert_eq!(e.kind, device::INPUT);
    assert_eq!(e.priority, Priority::Normal);
    assert_eq!(e.type_flags, 0);
    assert_eq!(e.object_id, 7);
    assert_eq!(e.payload, b"hello");
    assert_eq!(e.check(), Ok(()));
}

#[test]
fn time_event_carries_a_time_payload() {
    let payload = TimePayload { unix_seconds: 1_735_689_600.into() };
    let e = time_event(2, &payload);
    assert_eq!(e.category, Category::Device);
    assert_eq!(e.kind, device::TIME);
    assert_eq!(e.priority, Priority::Normal);
    assert_eq!(e.object_id, 2);
    assert_eq!(e.payload.len(), 8);
    assert_eq!(TimePayload::read_from_bytes(e.payload).unwrap().unix_seconds.get(), 1_735_689_600);
    assert_eq!(e.payload, 1_735_689_600u64.to_le_bytes());
    assert_eq!(e.check(), Ok(()));
}

#[test]
fn state_event_carries_a_state_payload() {
    let payload = StatePayload { state: 1.into(), reserved: 0.into() };
    let e = state_event(3, &payload);
    assert_eq!((e.category, e.kind, e.object_id), (Category::Device, device::STATE, 3));
    assert_eq!(StatePayload::read_from_bytes(e.payload).unwrap(), payload);
    assert_eq!(e.check(), Ok(()));
}

#[test]
fn events_survive_a_publish_round_trip() {
    let mut asm = LineAssembler::new();
    let line = b"evq\n".iter().find_map(|&b| asm.push(b).map(<[u8]>::to_vec)).unwrap();
    let payload = TimePayload { unix_seconds: 42.into() };
    for event in [input_event(1, &line), time_event(9, &payload), input_event(1, &[0u8; 64])] {
        let mut buf = [0u8; MAX_MSG_BYTES];
        let (label, len) = Request::Publish(event).encode(&mut buf).unwrap();
        match Request::decode(label, &buf[..len]).unwrap() {
            Request::Publish(decoded) => assert_eq!(decoded, event),
            other => panic!("decoded as {other:?}"),
        }
    }
}
