//! Events as sources publish them, alone or in batches.

use zerocopy::{FromBytes, IntoBytes};

use super::body::{BatchHead, EventDesc};
use super::{DecodeError, EncodeError, MAX_BATCH};
use crate::event::{Category, CategorySet, Priority, MAX_PAYLOAD};
use crate::framing::{padded, MAX_MSG_BYTES};

/// An event as published, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// Its category (never `Meta`).
    pub category: Category,
    /// Its kind, defined in the category.
    pub kind: u8,
    /// Type-specific info flags.
    pub type_flags: u8,
    /// Its priority.
    pub priority: Priority,
    /// The object it is about.
    pub object_id: u64,
    /// Its payload, at most [`MAX_PAYLOAD`] bytes.
    pub payload: &'a [u8],
}

impl Event<'_> {
    /// Checks what a decoder checks of an event already in typed form: a
    /// payload of at most [`MAX_PAYLOAD`] bytes, a category other than
    /// `Meta`, and a kind the category defines. For events built by code
    /// rather than decoded from a message.
    pub fn check(&self) -> Result<(), DecodeError> {
        let payload_len = self.payload.len();
        if payload_len > MAX_PAYLOAD {
            return Err(DecodeError::PayloadTooLong(payload_len));
        }
        if self.category == Category::Meta {
            return Err(DecodeError::BadCategory(Category::Meta as u8));
        }
        if !self.category.has_kind(self.kind) {
            return Err(DecodeError::BadKind { category: self.category as u8, kind: self.kind });
        }
        Ok(())
    }

    /// Bytes the event takes in a message body: its descriptor and its
    /// payload padded to a word.
    pub const fn encoded_len(&self) -> usize {
        size_of::<EventDesc>() + padded(self.payload.len())
    }
}

/// The events of a `PublishBatch`: either a body that [`Request::decode`]
/// checked, or events built in code ([`Batch::from_events`]), which the
/// encoder and the server check.
///
/// [`Request::decode`]: super::Request::decode
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    repr: Repr<'a>,
}

#[derive(Clone, Copy, Debug)]
enum Repr<'a> {
    /// Checked bytes, `count` events, of these categories.
    Checked { count: usize, events: &'a [u8], categories: CategorySet },
    /// Events built in code, not checked yet.
    Built(&'a [Event<'a>]),
}

impl<'a> Batch<'a> {
    /// A batch of events built in code. Nothing is checked here: encoding
    /// checks each event, and so does a server handed the batch directly.
    /// At most [`Batch::fitting`] of them encode in one message.
    pub const fn from_events(events: &'a [Event<'a>]) -> Self {
        Batch { repr: Repr::Built(events) }
    }

    /// How many of the first `events` fit one `PublishBatch` message (at
    /// most [`MAX_BATCH`]); 0 only if `events` is empty or its first event
    /// alone does not fit.
    pub fn fitting(events: &[Event<'_>]) -> usize {
        let mut used = size_of::<BatchHead>();
        let mut n = 0;
        for e in events.iter().take(MAX_BATCH) {
            used += e.encoded_len();
            if used > MAX_MSG_BYTES {
                break;
            }
            n += 1;
        }
        n
    }

    /// Events in the batch.
    pub fn len(&self) -> usize {
        match self.repr {
            Repr::Checked { count, .. } => count,
            Repr::Built(events) => events.len(),
        }
    }

    /// Whether the batch is empty (never, once decoded).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every category that some event in the batch has.
    pub fn categories(&self) -> CategorySet {
        match self.repr {
            Repr::Checked { categories, .. } => categories,
            Repr::Built(events) => CategorySet(events.iter().fold(0, |bits, e| bits | e.category.bit())),
        }
    }

    /// The events, in order.
    pub fn iter(&self) -> BatchIter<'a> {
        match self.repr {
            Repr::Checked { events, .. } => BatchIter::Checked(CheckedIter { rest: events }),
            Repr::Built(events) => BatchIter::Built(events.iter()),
        }
    }

    /// The events, split by whether they were checked: a decoded batch's
    /// iterator and categories, gathered while it was checked, so a
    /// permission check costs one test per batch and the events need no
    /// second look; or the events built in code, to be checked.
    pub fn events(&self) -> BatchEvents<'a> {
        match self.repr {
            Repr::Checked { events, categories, .. } => BatchEvents::Checked(CheckedIter { rest: events }, categories),
            Repr::Built(events) => BatchEvents::Built(events),
        }
    }
}

impl PartialEq for Batch<'_> {
    /// Two batches are equal when they hold the same events, however made.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Batch<'_> {}

impl<'a> IntoIterator for Batch<'a> {
    type Item = Event<'a>;
    type IntoIter = BatchIter<'a>;
    fn into_iter(self) -> BatchIter<'a> {
        self.iter()
    }
}

/// A batch's events, by how far they can be trusted ([`Batch::events`]).
#[derive(Clone, Debug)]
pub enum BatchEvents<'a> {
    /// Decoded and checked: the events, and every category among them.
    Checked(CheckedIter<'a>, CategorySet),
    /// Built in code; not checked.
    Built(&'a [Event<'a>]),
}

/// Iterator over a [`Batch`].
#[derive(Clone, Debug)]
pub enum BatchIter<'a> {
    /// Over a decoded body.
    Checked(CheckedIter<'a>),
    /// Over events built in code.
    Built(core::slice::Iter<'a, Event<'a>>),
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Event<'a>;
    fn next(&mut self) -> Option<Event<'a>> {
        match self {
            BatchIter::Checked(it) => it.next(),
            BatchIter::Built(it) => it.next().copied(),
        }
    }
}

/// Iterator over the events of a decoded batch's body.
#[derive(Clone, Debug)]
pub struct CheckedIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for CheckedIter<'a> {
    type Item = Event<'a>;
    #[inline]
    fn next(&mut self) -> Option<Event<'a>> {
        // The batch was checked whole when it was decoded, so only what is
        // needed to rebuild each event is read again; the lookups below
        // cannot fail, and ending the iteration is still the answer if one
        // somehow did.
        let (desc, rest) = EventDesc::read_from_prefix(self.rest).ok()?;
        let payload_len = usize::from(desc.payload_len.get());
        let payload = rest.get(..payload_len)?;
        let event = Event {
            category: Category::from_u8(desc.category)?,
            kind: desc.kind,
            type_flags: desc.type_flags,
            priority: Priority::from_u8(desc.priority)?,
            object_id: desc.object_id.get(),
            payload,
        };
        self.rest = rest.get(padded(payload_len)..)?;
        Some(event)
    }
}

pub(super) fn category(v: u8) -> Result<Category, DecodeError> {
    match Category::from_u8(v) {
        Some(Category::Meta) | None => Err(DecodeError::BadCategory(v)),
        Some(c) => Ok(c),
    }
}

pub(super) fn priority(v: u8) -> Result<Priority, DecodeError> {
    Priority::from_u8(v).ok_or(DecodeError::BadPriority(v))
}

/// Decodes one [`EventDesc`] and its padded payload from the front of
/// `bytes`; returns the event and the bytes it used. Checks, in order: a
/// whole descriptor, category, kind, priority, reserved, payload length,
/// the padded payload present, zero padding.
///
/// It runs for every event the server takes, so it reads the descriptor
/// and checks the padding itself rather than through the framing kit's
/// `head` and `zero`, whose error conversion cost the batch decoder two
/// instructions an event under callgrind (`publish_profile`: 606.5 per
/// event through the kit, 602.5 so).
#[inline]
pub(super) fn decode_event_prefix(bytes: &[u8]) -> Result<(Event<'_>, usize), DecodeError> {
    let desc_len = size_of::<EventDesc>();
    let (desc, rest) = EventDesc::read_from_prefix(bytes)
        .map_err(|_| DecodeError::BadLength { expected: desc_len, actual: bytes.len() })?;
    let category = category(desc.category)?;
    if !category.has_kind(desc.kind) {
        return Err(DecodeError::BadKind { category: desc.category, kind: desc.kind });
    }
    let priority = priority(desc.priority)?;
    if desc.reserved.get() != 0 {
        return Err(DecodeError::ReservedNonZero);
    }
    let payload_len = usize::from(desc.payload_len.get());
    if payload_len > MAX_PAYLOAD {
        return Err(DecodeError::PayloadTooLong(payload_len));
    }
    let with_pad = padded(payload_len);
    let Some(area) = rest.get(..with_pad) else {
        return Err(DecodeError::BadLength { expected: desc_len + with_pad, actual: bytes.len() });
    };
    let (payload, pad) = area.split_at(payload_len);
    if pad.iter().any(|&b| b != 0) {
        return Err(DecodeError::ReservedNonZero);
    }
    let event = Event {
        category,
        kind: desc.kind,
        type_flags: desc.type_flags,
        priority,
        object_id: desc.object_id.get(),
        payload,
    };
    Ok((event, desc_len + with_pad))
}

/// Decodes a `Publish` body: exactly one event descriptor and its padded
/// payload, every field checked (`docs/protocol.md` §4.2, §4.3). An ingest
/// ring's entry carries the same body (§8).
#[inline]
pub fn decode_event(body: &[u8]) -> Result<Event<'_>, DecodeError> {
    let (event, used) = decode_event_prefix(body)?;
    if used != body.len() {
        return Err(DecodeError::BadLength { expected: used, actual: body.len() });
    }
    Ok(event)
}

/// Decodes a `PublishBatch` body: its head, then every event, each checked.
#[inline]
pub(super) fn decode_batch(body: &[u8]) -> Result<Batch<'_>, DecodeError> {
    let head_len = size_of::<BatchHead>();
    // As in `decode_event_prefix`, directly rather than through the kit's
    // `head` and `zero`: a batch of 8 costs 24 instructions less so.
    let (head, events) = BatchHead::read_from_prefix(body)
        .map_err(|_| DecodeError::BadLength { expected: head_len, actual: body.len() })?;
    if head.reserved != [0; 6] {
        return Err(DecodeError::ReservedNonZero);
    }
    let count = head.count.get();
    if count == 0 || usize::from(count) > MAX_BATCH {
        return Err(DecodeError::BadCount(count));
    }
    let mut used = 0;
    let mut categories = CategorySet::EMPTY;
    for _ in 0..count {
        let (event, n) = decode_event_prefix(&events[used..])?;
        categories.0 |= event.category.bit();
        used += n;
    }
    if used != events.len() {
        return Err(DecodeError::BadLength { expected: head_len + used, actual: body.len() });
    }
    Ok(Batch { repr: Repr::Checked { count: usize::from(count), events, categories } })
}

/// Encodes one event (descriptor and padded payload) at the front of `out`,
/// as the body of a `Publish`; returns the bytes written.
#[inline]
pub fn encode_event(event: &Event<'_>, out: &mut [u8]) -> Result<usize, EncodeError> {
    event.check().map_err(EncodeError::Invalid)?;
    let payload_len = event.payload.len();
    let desc = EventDesc {
        category: event.category as u8,
        kind: event.kind,
        type_flags: event.type_flags,
        priority: event.priority as u8,
        payload_len: (payload_len as u16).into(),
        reserved: 0.into(),
        object_id: event.object_id.into(),
    };
    let total = event.encoded_len();
    let out = out.get_mut(..total).ok_or(EncodeError::NoSpace)?;
    let (head, rest) = out.split_at_mut(size_of::<EventDesc>());
    head.copy_from_slice(desc.as_bytes());
    let (payload, pad) = rest.split_at_mut(payload_len);
    payload.copy_from_slice(event.payload);
    pad.fill(0);
    Ok(total)
}

/// Builds a `PublishBatch` body in place.
#[derive(Debug)]
pub struct BatchBuilder<'a> {
    out: &'a mut [u8],
    len: usize,
    count: u16,
}

impl<'a> BatchBuilder<'a> {
    /// Starts a batch in `out` (at most [`MAX_MSG_BYTES`] of it are used).
    pub fn new(out: &'a mut [u8]) -> Result<Self, EncodeError> {
        let limit = out.len().min(MAX_MSG_BYTES);
        let out = &mut out[..limit];
        let head = size_of::<BatchHead>();
        if out.len() < head {
            return Err(EncodeError::NoSpace);
        }
        Ok(Self { out, len: head, count: 0 })
    }

    /// Appends an event; [`EncodeError::NoSpace`] when it does not fit, in
    /// which case the batch is unchanged.
    pub fn push(&mut self, event: &Event<'_>) -> Result<(), EncodeError> {
        if usize::from(self.count) == MAX_BATCH {
            return Err(EncodeError::NoSpace);
        }
        let n = encode_event(event, &mut self.out[self.len..])?;
        self.len += n;
        self.count += 1;
        Ok(())
    }

    /// Events so far.
    pub fn count(&self) -> usize {
        usize::from(self.count)
    }

    /// Writes the batch head; returns the body length.
    pub fn finish(self) -> usize {
        let head = BatchHead { count: self.count.into(), reserved: [0; 6] };
        self.out[..size_of::<BatchHead>()].copy_from_slice(head.as_bytes());
        self.len
    }
}

/// Encodes `batch` as a `PublishBatch` body; every event is checked, and a
/// batch that is empty or does not fit one message is refused.
pub(super) fn encode_batch(batch: &Batch<'_>, out: &mut [u8]) -> Result<usize, EncodeError> {
    if batch.is_empty() || batch.len() > MAX_BATCH {
        return Err(EncodeError::Invalid(DecodeError::BadCount(batch.len().min(usize::from(u16::MAX)) as u16)));
    }
    let mut builder = BatchBuilder::new(out)?;
    for event in batch.iter() {
        builder.push(&event)?;
    }
    Ok(builder.finish())
}
