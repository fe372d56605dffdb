//! `evq tail`: attach to a console client slot, subscribe, and print each
//! event as it arrives, one line (or one JSON object) each.

use std::io;
use std::path::Path;
use std::time::Duration;

use evq_abi::event::Category;
use evq_abi::msg::Filter;
use evq_client::{kind_name, ReceivedEvent};
use evq_hosted::client::Woken;
use evq_hosted::console::Console;

use crate::output::stdout_gone;

/// The subscriptions `evq tail` makes for its `--category` and `--type`.
fn filters(categories: &[String], kinds: &[String]) -> io::Result<Vec<Filter>> {
    let chosen: Vec<Category> = if categories.is_empty() {
        Category::PUBLISHABLE.to_vec()
    } else {
        categories
            .iter()
            .map(|name| {
                Category::PUBLISHABLE.into_iter().find(|c| c.name() == name).ok_or_else(|| {
                    let names: Vec<&str> = Category::PUBLISHABLE.iter().map(|c| c.name()).collect();
                    io::Error::other(format!("unknown category {name:?}; the categories are {}", names.join(", ")))
                })
            })
            .collect::<io::Result<_>>()?
    };
    for k in kinds {
        let known = Category::PUBLISHABLE.iter().any(|&c| (0..c.kind_count()).any(|i| kind_name(c, i) == k));
        if !known {
            let mut names: Vec<&str> = Vec::new();
            for c in Category::PUBLISHABLE {
                for n in (0..c.kind_count()).map(|i| kind_name(c, i)) {
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
            }
            return Err(io::Error::other(format!("unknown kind {k:?}; the kinds are {}", names.join(", "))));
        }
    }
    let mut out = Vec::new();
    for c in chosen {
        let mut filter = Filter::all_of(c);
        if !kinds.is_empty() {
            filter.type_mask =
                (0..c.kind_count()).filter(|&i| kinds.iter().any(|k| kind_name(c, i) == k)).fold(0, |m, i| m | 1 << i);
            if filter.type_mask == 0 {
                continue;
            }
        }
        out.push(filter);
    }
    if out.is_empty() {
        return Err(io::Error::other("no category has those kinds"));
    }
    Ok(out)
}

fn event_json(e: &ReceivedEvent<'_>, source: &str) -> serde_json::Value {
    serde_json::json!({
        "seq": e.seq,
        "timestamp_ns": e.timestamp_ns,
        "category": e.category.name(),
        "kind": kind_name(e.category, e.kind),
        "object": e.object_id,
        "source_id": e.source_id,
        "source": source,
        "type_flags": e.type_flags,
        "watch": e.watch_id,
        "critical": e.critical,
        "coalesced": e.coalesced,
        "lost_before": e.lost_before,
        "payload": e.payload.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "text": e.to_string(),
    })
}

pub(crate) fn tail(
    path: &Path,
    categories: &[String],
    kinds: &[String],
    count: Option<u64>,
    slot: Option<&str>,
    json: bool,
) -> io::Result<i32> {
    let filters = filters(categories, kinds)?;
    if count == Some(0) {
        return Ok(0);
    }
    let console = Console::connect(path)?;
    let names: Vec<(u32, String)> = console.status()?.server.sources.into_iter().map(|s| (s.id, s.name)).collect();
    let (slot, mut client) = console.attach_client(slot)?;
    let e = |e: evq_hosted::client::ClientError| io::Error::other(e.to_string());
    let mut queue = client.create_queue(8).map_err(e)?;
    for f in filters {
        client.subscribe(&queue, f).map_err(e)?;
    }
    if !json {
        eprintln!("evq tail: watching as {slot}");
    }
    let mut seen = 0u64;
    // Prints every event in the ring; true once SHUTDOWN or the count is
    // reached.
    let mut drain = |queue: &mut evq_hosted::client::HostedQueue| -> io::Result<bool> {
        let mut done = false;
        while let Some(event) = queue.next_event().map_err(|x| io::Error::other(x.to_string()))? {
            let source = names.iter().find(|(id, _)| *id == event.source_id).map(|(_, n)| n.as_str()).unwrap_or("?");
            if json {
                say!("{}", event_json(&event, source))?;
            } else {
                say!("{:<8} {event}", source)?;
            }
            seen += 1;
            done |= event.category == Category::System && event.kind == evq_abi::event::system::SHUTDOWN;
            if count.is_some_and(|c| seen >= c) {
                return Ok(true);
            }
        }
        Ok(done)
    };
    let hung_up =
        |within: Duration| -> io::Result<bool> { Ok(evq_hosted::host::poll(&[console.fd()], Some(within))?[0]) };
    loop {
        if drain(&mut queue)? {
            return Ok(0);
        }
        match client.wait(&mut queue, Duration::from_millis(500)) {
            Ok(Woken::Ready) => {}
            Ok(Woken::TimedOut) => {
                if stdout_gone() {
                    return Ok(0);
                }
                // The launcher hangs up the console when the system stops;
                // what the server wrote before it went is still in the ring
                // (SHUTDOWN last of all).
                if hung_up(Duration::ZERO)? {
                    drain(&mut queue)?;
                    return Ok(0);
                }
            }
            // The server is gone (the system is stopping): the ring still
            // holds what it wrote, and the launcher hangs up once it has
            // stopped every domain.
            Err(err) => {
                if drain(&mut queue)? || hung_up(Duration::from_secs(5))? {
                    return Ok(0);
                }
                return Err(e(err));
            }
        }
    }
}
