//! Events per second, from two successive status samples: what `evq stats
//! --watch` prints and `evq top` draws.
//!
//! A counter only grows while the thing it counts lives. A source's never
//! go down, and a queue made again has a new id, so it is a new line; the
//! one that does is a queue revoked for a corrupt ring, whose figures drop
//! to 0. A counter that went down between two samples has the rate of what
//! it counted since it started again, over the whole interval: never
//! negative, never a wrapped-around huge number.

use evq_abi::msg::Counters;
use evq_hosted::console::Status;

/// Events per second of one counter set, over one interval.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Rate {
    /// Events accepted from the source, or offered to the queue.
    pub published: f64,
    /// Events written into rings.
    pub delivered: f64,
    /// Events merged into a newer one.
    pub coalesced: f64,
    /// Events dropped.
    pub dropped: f64,
}

/// What a count went from `before` to `after` in `secs` seconds means per
/// second. A count that went down started again from 0 in the interval:
/// `after` is what it counted since. No time passed: 0.
pub(crate) fn per_second(before: u64, after: u64, secs: f64) -> f64 {
    if secs.is_nan() || secs <= 0.0 {
        return 0.0;
    }
    let counted = if after >= before { after - before } else { after };
    counted as f64 / secs
}

impl Rate {
    /// The rate of each counter from `before` to `after` over `secs` seconds.
    pub(crate) fn between(before: &Counters, after: &Counters, secs: f64) -> Rate {
        Rate {
            published: per_second(before.published, after.published, secs),
            delivered: per_second(before.delivered, after.delivered, secs),
            coalesced: per_second(before.coalesced, after.coalesced, secs),
            dropped: per_second(before.dropped, after.dropped, secs),
        }
    }
}

/// One source's line.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SourceLine {
    /// Its source id.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Its rates; `None` on the first sample, or for a source the previous
    /// sample did not have.
    pub rate: Option<Rate>,
}

/// One queue's line.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct QueueLine {
    /// Its queue id.
    pub queue: u32,
    /// The client domain that owns it.
    pub owner: String,
    /// Slots used and its capacity; `None` used when it cannot be told.
    pub used: Option<u32>,
    /// Slots in its ring.
    pub capacity: u32,
    /// Revoked for a corrupt ring.
    pub revoked: bool,
    /// Its rates; `None` on the first sample, or for a queue the previous
    /// sample did not have.
    pub rate: Option<Rate>,
}

impl QueueLine {
    /// How full its ring is, from 0 to 1; 0 when that cannot be told.
    pub(crate) fn fill(&self) -> f64 {
        match self.used {
            Some(used) if self.capacity > 0 => (f64::from(used) / f64::from(self.capacity)).clamp(0.0, 1.0),
            _ => 0.0,
        }
    }

    /// `used/capacity`, or `?/capacity`, or `revoked`.
    pub(crate) fn fill_words(&self) -> String {
        fill_words(self.revoked, self.used, self.capacity)
    }
}

/// Every source's and queue's line, and the server's total, for one sample
/// given the one before it (`None` for the first) and the seconds between.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Rates {
    /// Per source, in the status's order.
    pub sources: Vec<SourceLine>,
    /// Per queue, in the status's order.
    pub queues: Vec<QueueLine>,
    /// The server's totals.
    pub total: Option<Rate>,
}

impl Rates {
    /// The lines of `now`, its rates against `before`, `secs` seconds earlier.
    pub(crate) fn of(before: Option<&Status>, now: &Status, secs: f64) -> Rates {
        let sources = now
            .server
            .sources
            .iter()
            .map(|s| {
                let old = before.and_then(|b| b.server.sources.iter().find(|o| o.id == s.id));
                SourceLine {
                    id: s.id,
                    name: s.name.clone(),
                    rate: old.map(|o| Rate::between(&o.counters, &s.counters, secs)),
                }
            })
            .collect();
        let queues = now
            .server
            .queue_list
            .iter()
            .map(|status| {
                let q = &status.report;
                // A queue id carries a generation: the same id is the same queue.
                let old = before.and_then(|b| b.server.queue_list.iter().find(|o| o.report.queue == q.queue));
                QueueLine {
                    queue: q.queue,
                    owner: status.owner.clone(),
                    used: q.used_slots,
                    capacity: q.slot_count,
                    revoked: q.revoked,
                    rate: old.map(|o| Rate::between(&o.report.counters, &q.counters, secs)),
                }
            })
            .collect();
        let total = before.map(|b| Rate::between(&b.server.totals, &now.server.totals, secs));
        Rates { sources, queues, total }
    }
}

/// A ring's fill in words: `used/capacity`, `?/capacity` when the used
/// slots cannot be told, or `revoked`.
pub(crate) fn fill_words(revoked: bool, used: Option<u32>, capacity: u32) -> String {
    match (revoked, used) {
        (true, _) => "revoked".into(),
        (false, Some(used)) => format!("{used}/{capacity}"),
        (false, None) => format!("?/{capacity}"),
    }
}

/// A rate as a short figure: `12`, `3.5`, `0`, or `-` for none.
pub(crate) fn figure(rate: Option<f64>) -> String {
    match rate {
        None => "-".into(),
        Some(0.0) => "0".into(),
        Some(r) if r < 10.0 => format!("{r:.1}"),
        Some(r) => format!("{r:.0}"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use evq_hosted::admin::{QueueStatus, ServerStatus, SourceStatus};
    use evq_hosted::console::DomainStatus;
    use evq_server::QueueReport;

    fn counters(published: u64, delivered: u64, coalesced: u64, dropped: u64) -> Counters {
        Counters { published, delivered, coalesced, dropped, ..Counters::default() }
    }

    /// A status with one source `vfs` and one queue `0x101` of `console-1`.
    pub(crate) fn sample(source: Counters, queue: Counters, used: Option<u32>) -> Status {
        Status {
            version: evq_hosted::console::VERSION,
            board: "hosted".into(),
            seccomp: "on".into(),
            network: "loopback".into(),
            pty: None,
            domains: vec![DomainStatus {
                name: "console-1".into(),
                id: 5,
                image: "attach".into(),
                role: "client".into(),
                badge: Some(0x21),
                pid: Some(42),
                state: "attached".into(),
            }],
            degraded: Vec::new(),
            server: ServerStatus {
                sources: vec![SourceStatus { id: 2, name: "vfs".into(), counters: source, ring: "attached".into() }],
                queue_list: vec![QueueStatus {
                    owner: "console-1".into(),
                    owner_id: 5,
                    report: QueueReport {
                        queue: 0x101,
                        owner: 0x21,
                        data_pages: 1,
                        slot_count: 512,
                        used_slots: used,
                        counters: queue,
                        ..QueueReport::default()
                    },
                }],
                totals: source,
                ..ServerStatus::default()
            },
        }
    }

    #[test]
    fn a_rate_is_the_growth_over_the_interval() {
        assert_eq!(per_second(10, 30, 2.0), 10.0);
        assert_eq!(per_second(5, 5, 1.0), 0.0);
        assert_eq!(per_second(0, 3, 0.5), 6.0);
    }

    #[test]
    fn a_count_that_went_down_counts_from_its_restart_and_no_time_is_no_rate() {
        // A slot's next holder: its counter started again from 0 and is at 4.
        assert_eq!(per_second(1_000, 4, 2.0), 2.0);
        assert_eq!(per_second(u64::MAX, 0, 1.0), 0.0);
        assert_eq!(per_second(0, 10, 0.0), 0.0);
        assert_eq!(per_second(0, 10, -1.0), 0.0);
        assert_eq!(per_second(0, 10, f64::NAN), 0.0);
    }

    #[test]
    fn lines_pair_each_source_and_queue_with_its_previous_sample() {
        let before = sample(counters(10, 10, 0, 0), counters(10, 8, 1, 2), Some(40));
        let now = sample(counters(30, 26, 2, 4), counters(20, 14, 1, 6), Some(128));
        let first = Rates::of(None, &now, 1.0);
        assert_eq!((first.sources[0].rate, first.queues[0].rate, first.total), (None, None, None));
        let r = Rates::of(Some(&before), &now, 2.0);
        let want = Rate { published: 10.0, delivered: 8.0, coalesced: 1.0, dropped: 2.0 };
        assert_eq!(r.sources[0].rate, Some(want));
        assert_eq!(r.total, Some(want));
        let q = &r.queues[0];
        assert_eq!(q.rate, Some(Rate { published: 5.0, delivered: 3.0, coalesced: 0.0, dropped: 2.0 }));
        assert_eq!((q.fill(), q.fill_words()), (0.25, "128/512".to_string()));
        // The queue made again under another id has no previous sample.
        let mut again = now.clone();
        again.server.queue_list[0].report.queue = 0x201;
        assert_eq!(Rates::of(Some(&before), &again, 2.0).queues[0].rate, None);
        // A queue revoked: its figures fell to 0, and its rates are 0, not
        // negative or wrapped around.
        let mut revoked = now.clone();
        revoked.server.queue_list[0].report.revoked = true;
        revoked.server.queue_list[0].report.counters = Counters::default();
        revoked.server.queue_list[0].report.used_slots = None;
        let q = &Rates::of(Some(&now), &revoked, 2.0).queues[0];
        assert_eq!(q.rate, Some(Rate { published: 0.0, delivered: 0.0, coalesced: 0.0, dropped: 0.0 }));
        assert_eq!(q.fill_words(), "revoked");
    }

    #[test]
    fn figures_are_short_and_an_unknown_fill_is_said() {
        assert_eq!(
            [figure(None), figure(Some(0.0)), figure(Some(2.25)), figure(Some(1234.4))],
            ["-", "0", "2.2", "1234"]
        );
        let q = QueueLine { queue: 1, owner: "c".into(), used: None, capacity: 512, revoked: false, rate: None };
        assert_eq!((q.fill(), q.fill_words()), (0.0, "?/512".to_string()));
        let q = QueueLine { revoked: true, ..q };
        assert_eq!(q.fill_words(), "revoked");
    }
}
