//! The publisher against a scripted server: how events are split into
//! messages, how back-pressure is waited out, and what a refusal reports.

use std::collections::VecDeque;

use evq_abi::event::{device, Category, Priority, MAX_PAYLOAD};
use evq_abi::msg::{label, DecodeError, ErrorCode, Event, Reply, Request, MAX_BATCH, MAX_MSG_BYTES};
use evq_source::{Link, PublishError, PublishStats, Publisher};

/// A server that decodes what it is sent (as the real one would) and
/// answers from a script; once the script is out, it takes everything.
#[derive(Default)]
struct Scripted {
    answers: VecDeque<Reply>,
    /// The objects of the events of each message, as the server saw them.
    messages: Vec<(u32, Vec<u64>)>,
    back_offs: usize,
}

impl Link for Scripted {
    type Error = &'static str;

    fn call(&mut self, request: &Request<'_>) -> Result<Reply, &'static str> {
        let mut body = [0u8; MAX_MSG_BYTES];
        let (l, len) = request.encode(&mut body).map_err(|_| "does not encode")?;
        let objects = match Request::decode(l, &body[..len]).map_err(|_| "does not decode")? {
            Request::Publish(e) => vec![e.object_id],
            Request::PublishBatch(b) => b.iter().map(|e| e.object_id).collect(),
            Request::ClientGone { client } => vec![client],
            _ => return Err("not a publish"),
        };
        let n = objects.len() as u32;
        self.messages.push((l, objects));
        Ok(self.answers.pop_front().unwrap_or(Reply::Published { accepted: n }))
    }

    fn back_off(&mut self) {
        self.back_offs += 1;
    }
}

fn event(object_id: u64, payload: &[u8]) -> Event<'_> {
    Event {
        category: Category::Device,
        kind: device::INPUT,
        type_flags: 0,
        priority: Priority::Normal,
        object_id,
        payload,
    }
}

fn events(n: u64, payload: &[u8]) -> Vec<Event<'_>> {
    (0..n).map(|i| event(i, payload)).collect()
}

#[test]
fn a_lone_event_is_a_publish_and_more_are_batches_that_fit() {
    let mut p = Publisher::new(Scripted::default());
    p.publish_one(event(7, b"x")).unwrap();
    assert_eq!(p.link().messages, vec![(label::PUBLISH, vec![7])]);

    // 130 payload-less events: batches of MAX_BATCH, in order.
    let mut p = Publisher::new(Scripted::default());
    p.publish(&events(130, &[])).unwrap();
    let sizes: Vec<usize> = p.link().messages.iter().map(|(_, o)| o.len()).collect();
    assert_eq!(sizes, vec![MAX_BATCH, MAX_BATCH, 130 - 2 * MAX_BATCH]);
    let all: Vec<u64> = p.link().messages.iter().flat_map(|(_, o)| o.clone()).collect();
    assert_eq!(all, (0..130).collect::<Vec<_>>());
    assert!(p.link().messages.iter().all(|(l, _)| *l == label::PUBLISH_BATCH));

    // Large payloads: as many as fit in 960 bytes (8 + 2 × (16 + 464) = 968: one each).
    let big = [1u8; MAX_PAYLOAD];
    let mut p = Publisher::new(Scripted::default());
    p.publish(&events(3, &big)).unwrap();
    assert_eq!(p.link().messages.iter().map(|(l, o)| (*l, o.len())).collect::<Vec<_>>(), vec![(label::PUBLISH, 1); 3]);
    assert_eq!(p.stats(), PublishStats { events: 3, messages: 3, busy: 0 });
}

#[test]
fn busy_resends_exactly_the_events_not_taken_after_backing_off() {
    let mut link = Scripted::default();
    link.answers.push_back(Reply::Error { code: ErrorCode::Busy, detail: 3 });
    link.answers.push_back(Reply::Error { code: ErrorCode::Busy, detail: 0 });
    let mut p = Publisher::new(link);
    p.publish(&events(10, b"ab")).unwrap();
    let msgs = &p.link().messages;
    assert_eq!(msgs[0].1, (0..10).collect::<Vec<_>>());
    assert_eq!(msgs[1].1, (3..10).collect::<Vec<_>>());
    assert_eq!(msgs[2].1, (3..10).collect::<Vec<_>>());
    assert_eq!(msgs.len(), 3);
    assert_eq!(p.link().back_offs, 2);
    assert_eq!(p.stats(), PublishStats { events: 10, messages: 3, busy: 2 });
}

#[test]
fn a_busy_reply_that_claims_more_than_was_sent_takes_only_what_was_sent() {
    let mut link = Scripted::default();
    link.answers.push_back(Reply::Error { code: ErrorCode::Busy, detail: 1000 });
    let mut p = Publisher::new(link);
    p.publish(&events(4, &[])).unwrap();
    assert_eq!(p.link().messages.len(), 1);
    assert_eq!(p.stats().events, 4);
}

#[test]
fn a_refusal_ends_the_publish_and_says_how_many_went_before() {
    let mut link = Scripted::default();
    link.answers.push_back(Reply::Published { accepted: MAX_BATCH as u32 });
    link.answers.push_back(Reply::Error { code: ErrorCode::NotPermitted, detail: Category::Device as u32 });
    let mut p = Publisher::new(link);
    let err = p.publish(&events(100, &[])).unwrap_err();
    assert_eq!(
        err,
        PublishError::Refused { code: ErrorCode::NotPermitted, detail: Category::Device as u32, sent: MAX_BATCH }
    );
    assert_eq!(p.link().messages.len(), 2);
    assert_eq!(
        err.to_string(),
        format!("the server refused the events after {MAX_BATCH}: NotPermitted (detail {})", Category::Device as u32)
    );

    let mut link = Scripted::default();
    link.answers.push_back(Reply::Done);
    let mut p = Publisher::new(link);
    assert_eq!(p.publish_one(event(1, &[])), Err(PublishError::Unexpected(Reply::Done)));
}

#[test]
fn an_invalid_event_is_refused_here_after_the_ones_before_it_went() {
    let too_long = [0u8; MAX_PAYLOAD + 1];
    let mut list = events(5, &[]);
    list[3] = event(3, &too_long);
    let mut p = Publisher::new(Scripted::default());
    let err = p.publish(&list).unwrap_err();
    assert_eq!(err, PublishError::Invalid { error: DecodeError::PayloadTooLong(MAX_PAYLOAD + 1), sent: 3 });
    assert_eq!(p.link().messages, vec![(label::PUBLISH_BATCH, vec![0, 1, 2])]);

    let mut bad_kind = event(0, &[]);
    bad_kind.kind = 200;
    let mut p = Publisher::new(Scripted::default());
    assert!(matches!(
        p.publish_one(bad_kind),
        Err(PublishError::Invalid { error: DecodeError::BadKind { .. }, sent: 0 })
    ));
    assert!(p.link().messages.is_empty());
}

#[test]
fn a_link_failure_is_passed_on() {
    struct Gone;
    impl Link for Gone {
        type Error = &'static str;
        fn call(&mut self, _: &Request<'_>) -> Result<Reply, &'static str> {
            Err("the server is gone")
        }
        fn back_off(&mut self) {}
    }
    let mut p = Publisher::new(Gone);
    assert_eq!(p.publish(&events(2, &[])), Err(PublishError::Link("the server is gone")));
    assert_eq!(p.stats(), PublishStats { events: 0, messages: 1, busy: 0 });
}

#[test]
fn nothing_to_publish_sends_nothing() {
    let mut p = Publisher::new(Scripted::default());
    p.publish(&[]).unwrap();
    assert!(p.link().messages.is_empty());
}

#[test]
fn an_outbox_keeps_events_whose_payloads_are_gone_and_publishes_them_as_one_batch() {
    use evq_source::{Outbox, OutboxFull};
    let mut outbox: Outbox<3, 8> = Outbox::new();
    for i in 0..3u8 {
        // Each payload lives only for its push, as a core's callback gives it.
        let payload = [i; 2];
        outbox.push(&event(u64::from(i), &payload)).unwrap();
    }
    assert_eq!(outbox.push(&event(9, &[])), Err(OutboxFull), "a fourth event");
    let mut p = Publisher::new(Scripted::default());
    p.publish(&outbox.events()).unwrap();
    assert_eq!(p.link().messages, vec![(label::PUBLISH_BATCH, vec![0, 1, 2])]);
    let payloads: Vec<Vec<u8>> = outbox.events().iter().map(|e| e.payload.to_vec()).collect();
    assert_eq!(payloads, vec![vec![0, 0], vec![1, 1], vec![2, 2]]);
    outbox.clear();
    assert!(outbox.is_empty());
    // Payload room is its own limit.
    let mut small: Outbox<8, 4> = Outbox::new();
    small.push(&event(1, &[1, 2, 3])).unwrap();
    assert_eq!(small.push(&event(2, &[4, 5])), Err(OutboxFull));
    assert_eq!(small.len(), 1);
}

#[test]
fn client_gone_is_sent_and_its_answer_read() {
    let mut link = Scripted::default();
    link.answers.push_back(Reply::Done);
    link.answers.push_back(Reply::Error { code: ErrorCode::InvalidArgument, detail: 0 });
    link.answers.push_back(Reply::Error { code: ErrorCode::NotPermitted, detail: 0 });
    let mut p = Publisher::new(link);
    assert_eq!(p.client_gone(0x21), Ok(true));
    assert_eq!(p.client_gone(0x21), Ok(false), "already forgotten");
    assert_eq!(p.client_gone(0x22), Err(PublishError::Refused { code: ErrorCode::NotPermitted, detail: 0, sent: 0 }));
    assert_eq!(
        p.link().messages.iter().map(|(l, o)| (*l, o[0])).collect::<Vec<_>>(),
        vec![(label::CLIENT_GONE, 0x21), (label::CLIENT_GONE, 0x21), (label::CLIENT_GONE, 0x22)]
    );
}
