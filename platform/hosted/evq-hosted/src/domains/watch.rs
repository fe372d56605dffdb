//! The watch domain: a client that subscribes to every category and prints
//! each event it receives on standard output, one line each.

use std::io;
use std::time::Duration;

use evq_abi::event::Category;
use evq_abi::msg::Filter;
use evq_system::{Domain, System};

use crate::boot;
use crate::client::Client;
use crate::seccomp;
use crate::wire::Endpoint;

/// Runs the watch domain.
pub(super) fn run(system: &System<'_>, me: &Domain<'_>) -> io::Result<()> {
    let caps = boot::layout(system, me);
    let endpoint = Endpoint::new(boot::take(&caps, "endpoint", boot::is_endpoint)?)?;
    let note = boot::take(&caps, "notification", boot::is_own_notification)?;
    seccomp::confine(me.name)?;
    let mut client = Client::new(endpoint, note);
    let e = |e: crate::client::ClientError| io::Error::other(e.to_string());
    let mut q = client.create_queue(4).map_err(e)?;
    for category in Category::PUBLISHABLE {
        client.subscribe(&q, Filter::all_of(category)).map_err(e)?;
    }
    loop {
        while let Some(event) = q.next_event().map_err(|x| io::Error::other(x.to_string()))? {
            println!("{}: {event}", me.name);
        }
        client.wait(&mut q, Duration::from_secs(60)).map_err(e)?;
    }
}
