//! `evq tail`: attach to a console client slot, subscribe, and print each
//! event as it arrives, one line (or one JSON object) each; with paths,
//! watch directories and files the way inotifywait does.
//!
//! One module a job: `format` (lines, `--format`, `--timefmt`, JSON) and
//! `watch` (the path watches); this file holds the command line and the
//! loop.

mod format;
mod watch;

use std::io;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use evq_abi::event::{system, vfs, Category, Priority};
use evq_abi::msg::Filter;
use evq_client::{kind_name, Batch, ReceivedEvent};
use evq_hosted::client::{Client, HostedQueue, Woken};
use evq_hosted::console::{Console, TreeEntry};

use crate::output::stdout_gone;
use crate::ConsoleArg;
pub(crate) use format::{line, Clock, DEFAULT_TIMEFMT};
use format::{Format, Shown};
use watch::{Terms, Via, Watches};

/// Exit status: an event was seen, `-n` was reached, or the system stopped.
const SEEN: i32 = 0;
/// Exit status: `--timeout` passed with no event.
const TIMED_OUT: i32 = 2;

/// The priority `--priority` gives every subscription.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PriorityArg {
    /// Normal.
    Normal,
    /// Critical: uses the ring's reserved headroom, dropped last.
    Critical,
}

/// `evq tail`'s command line.
#[derive(Args)]
#[command(after_help = "Exit status: 0 an event was printed, -n was reached, or the system stopped; \
    2 --timeout passed with no event; 1 an error.\n\nOnce every subscription is in place (and, with PATH, \
    the tree listed), `evq tail: watching …` is printed on standard error: whatever happens after it \
    is reported.")]
pub(crate) struct TailArgs {
    #[command(flatten)]
    console: ConsoleArg,
    /// Watch these directories (the names in each) or files (the file
    /// itself): VFS events only, shown with full paths. None: every event.
    #[arg(value_name = "PATH")]
    paths: Vec<String>,
    /// With PATH: watch every directory under each directory too, and those
    /// made, moved in or mounted later (one subscription a directory).
    #[arg(short = 'r', long)]
    recursive: bool,
    /// With PATH: first print what the watched tree holds, one synthetic
    /// `initial` entry a name.
    #[arg(long)]
    initial: bool,
    /// Only these categories (vfs, process, network, device, memory, system); repeatable.
    #[arg(long = "category", short = 'c', value_name = "CATEGORY")]
    categories: Vec<String>,
    /// Only these kinds (create, rename, exit, rx, input, …); repeatable.
    #[arg(long = "type", short = 't', value_name = "KIND")]
    kinds: Vec<String>,
    /// Only events from this source (a domain's name, as `evq stats` lists
    /// them; `evq-server` for the server's own).
    #[arg(long, value_name = "NAME")]
    source: Option<String>,
    /// Only events about this object (an inode, a domain id, an interface
    /// index, a device id).
    #[arg(long, value_name = "ID")]
    object: Option<u64>,
    /// Exit after this many events.
    #[arg(long, short = 'n')]
    count: Option<u64>,
    /// Exit once this many seconds pass with no event (status 2 if none came at all).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Attach to this console slot rather than the first free one.
    #[arg(long, value_name = "DOMAIN")]
    slot: Option<String>,
    /// One JSON object per event, its payload decoded into named fields.
    #[arg(long)]
    json: bool,
    /// Print each event as this text, with fields: %e kind, %c category,
    /// %p full path, %n name, %f a rename's old path, %T time (per
    /// --timefmt), %s sequence number, %S source, %l events lost before it,
    /// %o object, %% a %.
    #[arg(long, value_name = "FMT", conflicts_with = "json")]
    format: Option<String>,
    /// How %T, and the time at the start of a default line, show the
    /// wall-clock time: a strftime(3) format, in local time.
    #[arg(long, value_name = "FMT", default_value = format::DEFAULT_TIMEFMT)]
    timefmt: String,
    /// The queue's ring: data pages, a power of two from 1 to 64.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pages: u32,
    /// The priority of every subscription.
    #[arg(long, value_enum, default_value_t = PriorityArg::Normal)]
    priority: PriorityArg,
    /// Coalescing window, ms: network counters within it are merged into
    /// one event (0: off).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    coalesce: u64,
    /// Wake for at least this many events at a time (with --max-latency,
    /// or fewer once it passes).
    #[arg(long, value_name = "N", default_value_t = 1)]
    min_events: u32,
    /// With --min-events: wake at the latest this many ms after starting
    /// to wait, with fewer events (0: only for --min-events).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    max_latency: u64,
}

/// How each event is printed.
enum Output {
    Text,
    Json,
    Format(Format),
}

/// The category and kind selection of `-c` and `-t`: the categories chosen
/// and, per category, the kinds (a type mask).
fn selection(categories: &[String], kinds: &[String]) -> io::Result<Vec<(Category, u64)>> {
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
        let mut mask = (1u64 << c.kind_count()) - 1;
        if !kinds.is_empty() {
            mask =
                (0..c.kind_count()).filter(|&i| kinds.iter().any(|k| kind_name(c, i) == k)).fold(0, |m, i| m | 1 << i);
            if mask == 0 {
                continue;
            }
        }
        out.push((c, mask));
    }
    if out.is_empty() {
        return Err(io::Error::other("no category has those kinds"));
    }
    Ok(out)
}

/// Refuses, in words, options that do not go together or are out of range.
fn check(args: &TailArgs, chosen: &[(Category, u64)]) -> io::Result<()> {
    let watching = !args.paths.is_empty();
    if !watching && (args.recursive || args.initial) {
        return Err(io::Error::other("-r and --initial are for watching a PATH; name one"));
    }
    if watching {
        if chosen.iter().any(|(c, _)| *c != Category::Vfs) && !args.categories.is_empty() {
            return Err(io::Error::other("a PATH watch shows vfs events only; --category can only be vfs with it"));
        }
        if args.object.is_some() {
            return Err(io::Error::other("--object cannot go with a PATH: the path names the objects"));
        }
        if !chosen.iter().any(|(c, _)| *c == Category::Vfs) {
            return Err(io::Error::other("a PATH watch shows vfs events only; -t names no vfs kind"));
        }
        if let Some(p) = args.paths.iter().find(|p| !p.starts_with('/')) {
            return Err(io::Error::other(format!("{p}: a watched path is absolute, from the VFS root")));
        }
    }
    if args.timeout.is_some_and(|t| !(t > 0.0 && t.is_finite())) {
        return Err(io::Error::other("--timeout is a number of seconds above 0"));
    }
    if evq_abi::ring::RingGeometry::new(args.pages).is_err() {
        return Err(io::Error::other(format!("--pages: {} is not a power of two from 1 to 64", args.pages)));
    }
    if args.min_events == 0 {
        return Err(io::Error::other("--min-events is at least 1"));
    }
    Ok(())
}

/// Runs `evq tail`; returns the exit status.
pub(crate) fn tail(args: TailArgs) -> io::Result<i32> {
    let chosen = selection(&args.categories, &args.kinds)?;
    let output = match (&args.format, args.json) {
        (Some(f), _) => Output::Format(Format::parse(f)?),
        (None, true) => Output::Json,
        (None, false) => Output::Text,
    };
    let watching = !args.paths.is_empty();
    check(&args, &chosen)?;
    if args.count == Some(0) {
        return Ok(SEEN);
    }
    let console = Console::connect(&args.console.path())?;
    let status = console.status()?;
    let anchor = status.server.clock;
    let names: Vec<(u32, String)> = status.server.sources.into_iter().map(|s| (s.id, s.name)).collect();
    let source_id = match &args.source {
        None => None,
        Some(name) => Some(names.iter().find(|(_, n)| n == name).map(|(id, _)| *id).ok_or_else(|| {
            let known: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
            io::Error::other(format!("unknown source {name:?}; the sources are {}", known.join(", ")))
        })?),
    };
    let clock = Clock::new(anchor, &args.timefmt)?;
    let priority = match args.priority {
        PriorityArg::Normal => Priority::Normal,
        PriorityArg::Critical => Priority::Critical,
    };
    let (slot, mut client) = console.attach_client(args.slot.as_deref())?;
    let e = |e: evq_hosted::client::ClientError| io::Error::other(e.to_string());
    let mut queue = client.create_queue(args.pages).map_err(e)?;
    if args.coalesce > 0 {
        client.set_coalescing(&queue, Duration::from_millis(args.coalesce)).map_err(e)?;
    }
    let shown_kinds = |c: Category| chosen.iter().find(|(x, _)| *x == c).map(|(_, m)| *m);
    let mut watches = Watches::new(Terms { source_id, priority }, args.recursive);
    let mut listing: Vec<TreeEntry> = Vec::new();
    // The subscription that only tells the tail the system stops, where
    // the user's own do not take SHUTDOWN; first, so that a tree too large
    // for the queue's table is the watches' error.
    let mut stop_watch = None;
    // The user's own system subscription takes SHUTDOWN only without a
    // source or object term (the server publishes it, about no object).
    let takes_shutdown = shown_kinds(Category::System).is_some_and(|m| m & 1 << system::SHUTDOWN != 0)
        && source_id.is_none()
        && args.object.is_none();
    if watching || !takes_shutdown {
        let filter = Filter { type_mask: 1 << system::SHUTDOWN, ..Filter::all_of(Category::System) };
        stop_watch = Some(client.subscribe(&queue, filter).map_err(e)?);
    }
    if watching {
        for path in &args.paths {
            let mut via = Via { console: &console, client: &mut client, queue: &queue };
            listing.extend(watches.add_top(&mut via, path)?);
        }
    } else {
        for &(category, type_mask) in &chosen {
            let filter = Filter { type_mask, object_id: args.object, source_id, priority, ..Filter::all_of(category) };
            client.subscribe(&queue, filter).map_err(e)?;
        }
        // Names get full paths from a listing of the whole tree, where it
        // fits in one reply; without one they show their parent's inode.
        if shown_kinds(Category::Vfs).is_some() {
            if let Ok(entries) = console.tree("/") {
                for entry in &entries {
                    watches.map.insert_path(&entry.path, entry.inode);
                }
            }
        }
    }
    if watching {
        let dirs = match watches.dir_count() {
            1 => "1 directory".to_string(),
            n => format!("{n} directories"),
        };
        eprintln!("evq tail: watching {} ({dirs}) as {slot}", args.paths.join(" "));
    } else {
        eprintln!("evq tail: watching as {slot}");
    }
    if args.initial {
        watches.note_listed(&listing);
        for entry in &listing {
            print_listed(&output, &clock, entry, "initial")?;
        }
    }
    drop(listing);

    let mut tail = Tail {
        console: &console,
        names: &names,
        output: &output,
        clock: &clock,
        watches,
        stop_watch,
        watching,
        vfs_kinds: shown_kinds(Category::Vfs).unwrap_or(0),
        count: args.count,
        seen: 0,
    };
    let batch = Batch { min_events: args.min_events, max_latency_ns: args.max_latency.saturating_mul(1_000_000) };
    let timeout = args.timeout.map(Duration::from_secs_f64);
    let mut quiet_since = Instant::now();
    let hung_up =
        |within: Duration| -> io::Result<bool> { Ok(evq_hosted::host::poll(&[console.fd()], Some(within))?[0]) };
    let stopped = || {
        eprintln!("evq tail: the system stopped");
        Ok(SEEN)
    };
    loop {
        let before = tail.seen;
        match tail.drain(&mut client, &mut queue)? {
            Drained::More => {}
            Drained::Enough => return Ok(SEEN),
            Drained::Stopped => return stopped(),
        }
        if tail.seen > before {
            quiet_since = Instant::now();
        }
        let mut within = Duration::from_millis(500);
        if let Some(t) = timeout {
            let left = t.saturating_sub(quiet_since.elapsed());
            if left.is_zero() {
                return Ok(if tail.seen > 0 { SEEN } else { TIMED_OUT });
            }
            within = within.min(left);
        }
        match client.wait_batch(&mut queue, batch, within) {
            Ok(Woken::Ready) => {}
            Ok(Woken::TimedOut) => {
                if stdout_gone() {
                    return Ok(SEEN);
                }
                // The launcher hangs up the console when the system stops;
                // what the server wrote before it went is still in the ring
                // (SHUTDOWN last of all).
                if hung_up(Duration::ZERO)? {
                    tail.drain(&mut client, &mut queue)?;
                    return stopped();
                }
            }
            // The server is gone (the system is stopping): the ring still
            // holds what it wrote, and the launcher hangs up once it has
            // stopped every domain.
            Err(err) => {
                if matches!(tail.drain(&mut client, &mut queue)?, Drained::Enough) {
                    return Ok(SEEN);
                }
                if hung_up(Duration::from_secs(5))? {
                    return stopped();
                }
                return Err(e(err));
            }
        }
    }
}

/// What a drain of the ring ended with.
enum Drained {
    /// The ring is empty; wait for more.
    More,
    /// `-n` was reached.
    Enough,
    /// SHUTDOWN came.
    Stopped,
}

/// The running tail: what printing an event needs.
struct Tail<'a> {
    console: &'a Console,
    names: &'a [(u32, String)],
    output: &'a Output,
    clock: &'a Clock,
    watches: Watches,
    stop_watch: Option<u8>,
    watching: bool,
    /// The VFS kinds shown (`-t`), as a mask.
    vfs_kinds: u64,
    count: Option<u64>,
    seen: u64,
}

impl Tail<'_> {
    /// Prints every event in the ring, keeping the paths and watches
    /// current.
    fn drain(&mut self, client: &mut Client, queue: &mut HostedQueue) -> io::Result<Drained> {
        loop {
            let (mut later_dir, mut gone) = (None, Vec::new());
            {
                let Some(event) = queue.next_event().map_err(|x| io::Error::other(x.to_string()))? else {
                    return Ok(Drained::More);
                };
                if event.category == Category::System && event.kind == system::SHUTDOWN {
                    if self.stop_watch != Some(event.watch_id) {
                        self.print(&event)?;
                    }
                    return Ok(Drained::Stopped);
                }
                let twin = self.watches.is_listed_twin(&event);
                let shown = !twin && (!self.watching || self.vfs_kinds & 1 << event.kind != 0);
                if shown {
                    self.print(&event)?;
                }
                self.watches.map.apply(&event);
                if self.watching {
                    later_dir = self.watches.new_dir(&event);
                    gone = self.watches.gone(&event);
                }
                if shown && self.count.is_some_and(|c| self.seen >= c) {
                    return Ok(Drained::Enough);
                }
            }
            let mut via = Via { console: self.console, client, queue };
            self.watches.unwatch(&mut via, &gone)?;
            if let Some(path) = later_dir {
                for entry in self.watches.add_later(&mut via, &path)? {
                    if self.vfs_kinds & 1 << vfs::CREATE != 0 {
                        print_listed(self.output, self.clock, &entry, "create")?;
                        self.seen += 1;
                    }
                }
            }
        }
    }

    fn print(&mut self, event: &ReceivedEvent<'_>) -> io::Result<()> {
        let source = self.names.iter().find(|(id, _)| *id == event.source_id).map(|(_, n)| n.as_str()).unwrap_or("?");
        let paths = self.watches.map.paths(event);
        match self.output {
            Output::Text => say!("{}", format::line(event, paths.as_ref(), source, self.clock))?,
            Output::Json => say!("{}", format::event_json(event, paths.as_ref(), source, self.clock))?,
            Output::Format(f) => {
                say!("{}", f.render(&Shown::event(event, paths.as_ref(), source, self.clock), self.clock))?
            }
        }
        self.seen += 1;
        Ok(())
    }
}

/// Prints a synthetic entry: `initial` (the `--initial` listing) or
/// `create` (a name found in a directory a recursive watch took on later).
fn print_listed(output: &Output, clock: &Clock, entry: &TreeEntry, kind: &str) -> io::Result<()> {
    match output {
        Output::Text => say!("{}", format::listed_line(entry, kind, clock)),
        Output::Json => say!("{}", format::listed_json(entry, kind, clock)),
        Output::Format(f) => say!("{}", f.render(&Shown::listed(entry, kind), clock)),
    }
}
