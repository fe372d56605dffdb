//! `evq stats`: the server's counters per source and per queue, and the
//! domains' states; `--watch S` reprints them every S seconds with events
//! per second.

use std::io;
use std::os::fd::{AsRawFd as _, BorrowedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Args;
use evq_abi::msg::Counters;
use evq_hosted::console::{Console, Status};

use crate::rates::{figure, fill_words, Rate, Rates};
use crate::ConsoleArg;

/// The shortest and longest `--watch` period, in seconds.
pub(crate) const WATCH_SECONDS: (f64, f64) = (0.1, 3600.0);

/// `evq stats`'s command line.
#[derive(Args)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    console: ConsoleArg,
    /// As one JSON object (the console's `status` reply).
    #[arg(long, conflicts_with = "watch")]
    json: bool,
    /// Reprint every SECONDS seconds (0.1 to 3600) with events per second,
    /// until the system stops.
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    watch: Option<f64>,
}

/// A `--watch` period, refused in words outside [`WATCH_SECONDS`].
pub(crate) fn seconds(text: &str) -> Result<f64, String> {
    let (least, most) = WATCH_SECONDS;
    match text.parse::<f64>() {
        Ok(s) if (least..=most).contains(&s) => Ok(s),
        _ => Err(format!("{text:?} is not a number of seconds from {least} to {most}")),
    }
}

pub(crate) fn print_stats(status: &Status) -> io::Result<()> {
    let s = &status.server;
    say!(
        "server: {} clients, {} queues, {} subscriptions, {} held, ring pool {}/{} pages, {} descriptors open",
        s.clients,
        s.queues,
        s.subscriptions,
        s.staged,
        s.pool_pages_used,
        s.pool_pages,
        s.open_fds
    )?;
    // One column per counter, in the core's order and under its names.
    const WIDTHS: [usize; Counters::COUNT] = [9, 9, 9, 9, 8, 8, 9];
    let cells = |cells: [String; Counters::COUNT]| -> String {
        cells.iter().zip(WIDTHS).map(|(c, w)| format!("{c:>w$}")).collect::<Vec<_>>().join(" ")
    };
    let names = || cells(Counters::NAMES.map(String::from));
    let values = |c: &Counters| cells(c.to_array().map(|v| v.to_string()));
    say!("{:<4} {:<16} {}", "id", "source", names())?;
    for src in &s.sources {
        say!("{:<4} {:<16} {}", src.id, src.name, values(&src.counters))?;
    }
    say!("{:<4} {:<16} {}", "", "total", values(&s.totals))?;
    // A ring the server no longer reads, and why.
    for src in s.sources.iter().filter(|src| src.ring.starts_with("cut off")) {
        say!("source {}: ingest ring {}", src.name, src.ring)?;
    }
    if s.queue_list.is_empty() {
        return say!("no queues");
    }
    say!("{:<8} {:<16} {:>5} {:>13} {}", "queue", "owner", "pages", "fill", names())?;
    for status in &s.queue_list {
        let q = &status.report;
        let fill = fill_words(q.revoked, q.used_slots, q.slot_count);
        say!(
            "{:<8} {:<16} {:>5} {:>13} {}",
            format!("{:#x}", q.queue),
            status.owner,
            q.data_pages,
            fill,
            values(&q.counters)
        )?;
    }
    Ok(())
}

fn print_domains(status: &Status) -> io::Result<()> {
    say!("{:<4} {:<16} {:<12} {:<7} {:>8}  state", "id", "domain", "image", "role", "pid")?;
    for d in &status.domains {
        let pid = d.pid.map(|p| p.to_string()).unwrap_or_default();
        say!("{:<4} {:<16} {:<12} {:<7} {:>8}  {}", d.id, d.name, d.image, d.role, pid, d.state)?;
    }
    Ok(())
}

/// `system: up`, or `system: degraded: ` and the domains that ended badly.
pub(crate) fn system_line(status: &Status) -> String {
    if status.degraded.is_empty() {
        "system: up".into()
    } else {
        format!("system: degraded: {}", status.degraded.join(", "))
    }
}

pub(crate) fn stats(args: StatsArgs) -> io::Result<i32> {
    let path = args.console.path();
    if let Some(period) = args.watch {
        return watch(&path, Duration::from_secs_f64(period));
    }
    let status = Console::connect(&path)?.status()?;
    if args.json {
        say!("{}", serde_json::to_string(&status).map_err(io::Error::other)?)?;
        return Ok(0);
    }
    print_stats(&status)?;
    say!()?;
    print_domains(&status)?;
    say!("\n{}", system_line(&status))?;
    say!("seccomp: {}; network: {}", status.seccomp, status.network)?;
    if let Some(p) = &status.pty {
        say!("terminal: {p}")?;
    }
    Ok(0)
}

/// The lines one `--watch` sample prints: a heading, then events per
/// second per source and per queue (with its fill), then each domain's
/// state and the system's.
pub(crate) fn watch_lines(rates: &Rates, status: &Status, secs: f64) -> Vec<String> {
    let row = |r: Option<Rate>| {
        let f = |v: fn(&Rate) -> f64| figure(r.as_ref().map(v));
        format!(
            "{:>11} {:>11} {:>11} {:>9}",
            f(|r| r.published),
            f(|r| r.delivered),
            f(|r| r.coalesced),
            f(|r| r.dropped)
        )
    };
    let heads = format!("{:>11} {:>11} {:>11} {:>9}", "published/s", "delivered/s", "coalesced/s", "dropped/s");
    let mut out = vec![match rates.total {
        Some(_) => format!("-- events per second over {secs:.1} s"),
        None => "-- events per second: from the next sample".to_string(),
    }];
    out.push(format!("{:<4} {:<16} {heads}", "id", "source"));
    for s in &rates.sources {
        out.push(format!("{:<4} {:<16} {}", s.id, s.name, row(s.rate)));
    }
    out.push(format!("{:<4} {:<16} {}", "", "total", row(rates.total)));
    if rates.queues.is_empty() {
        out.push("no queues".into());
    } else {
        out.push(format!("{:<8} {:<16} {:>13} {heads}", "queue", "owner", "fill"));
        for q in &rates.queues {
            let fill = format!("{} {:>3.0}%", q.fill_words(), q.fill() * 100.0);
            out.push(format!("{:<8} {:<16} {fill:>13} {}", format!("{:#x}", q.queue), q.owner, row(q.rate)));
        }
    }
    let domains: Vec<String> = status.domains.iter().map(|d| format!("{} {}", d.name, d.state)).collect();
    out.push(format!("domains: {}", domains.join(", ")));
    out.push(system_line(status));
    out
}

/// What ended a wait between two samples.
pub(crate) enum Woken {
    /// The period passed.
    Due,
    /// The launcher closed the console: the system stopped.
    Stopped,
    /// Standard output's reader went.
    StdoutGone,
}

/// Waits `period` for nothing but the console's hang-up or standard
/// output's reader going (a zero period only looks).
pub(crate) fn wait_between(console: BorrowedFd<'_>, period: Duration) -> io::Result<Woken> {
    let end = Instant::now() + period;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let mut fds = [
            libc::pollfd { fd: console.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: io::stdout().as_raw_fd(), events: 0, revents: 0 },
        ];
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: `fds` is an array of two live pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        // Nothing comes on the console unasked: readable is its end.
        if fds[0].revents != 0 {
            return Ok(Woken::Stopped);
        }
        if fds[1].revents & (libc::POLLERR | libc::POLLHUP) != 0 {
            return Ok(Woken::StdoutGone);
        }
        if Instant::now() >= end {
            return Ok(Woken::Due);
        }
    }
}

/// Whether the launcher has closed the console (the system stopped).
pub(crate) fn hung_up(console: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(matches!(wait_between(console, Duration::ZERO)?, Woken::Stopped))
}

/// Whether a console request failed because the launcher went.
pub(crate) fn is_console_gone(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset)
        && !crate::output::is_stdout_closed(e)
}

/// The line `--watch` and `evq top` end with when the system stops.
pub(crate) fn stopped_line(path: &Path) -> String {
    format!("evq: the system at {} has stopped", path.display())
}

fn watch(path: &Path, period: Duration) -> io::Result<i32> {
    let console = Console::connect(path)?;
    let mut before: Option<(Instant, Status)> = None;
    loop {
        let status = match console.status() {
            Ok(s) => s,
            Err(e) if is_console_gone(&e) => break,
            Err(e) => return Err(e),
        };
        let now = Instant::now();
        let secs = before.as_ref().map_or(0.0, |(at, _)| now.duration_since(*at).as_secs_f64());
        let rates = Rates::of(before.as_ref().map(|(_, s)| s), &status, secs);
        for line in watch_lines(&rates, &status, secs) {
            say!("{line}")?;
        }
        before = Some((now, status));
        match wait_between(console.fd(), period)? {
            Woken::Due => {}
            Woken::Stopped => break,
            Woken::StdoutGone => return Err(io::Error::new(io::ErrorKind::BrokenPipe, crate::output::StdoutClosed)),
        }
    }
    say!("{}", stopped_line(path))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rates::tests::sample;

    #[test]
    fn a_watch_period_outside_its_bounds_is_refused_in_words() {
        assert_eq!(seconds("2"), Ok(2.0));
        assert_eq!(seconds("0.5"), Ok(0.5));
        for bad in ["0", "-1", "3601", "soon", "NaN"] {
            let e = seconds(bad).unwrap_err();
            assert!(e.ends_with("is not a number of seconds from 0.1 to 3600"), "{e}");
        }
    }

    #[test]
    fn a_watch_sample_shows_rates_per_source_and_queue_fill_and_states() {
        let c = |p, d| Counters { published: p, delivered: d, ..Counters::default() };
        let before = sample(c(0, 0), c(0, 0), Some(0));
        let now = sample(c(20, 10), c(10, 10), Some(256));
        let lines = watch_lines(&Rates::of(Some(&before), &now, 2.0), &now, 2.0);
        let text = lines.join("\n");
        assert_eq!(lines[0], "-- events per second over 2.0 s");
        let vfs = lines.iter().find(|l| l.contains("vfs")).expect("a vfs line");
        assert_eq!(vfs.split_whitespace().collect::<Vec<_>>(), ["2", "vfs", "10", "5.0", "0", "0"]);
        let queue = lines.iter().find(|l| l.starts_with("0x101")).expect("a queue line");
        assert_eq!(
            queue.split_whitespace().collect::<Vec<_>>(),
            ["0x101", "console-1", "256/512", "50%", "5.0", "5.0", "0", "0"]
        );
        assert!(text.contains("domains: console-1 attached") && text.ends_with("system: up"), "{text}");
    }
}
