//! `evq demo` (`make run`): a system of its own, a short scripted workload
//! that makes every category and kind the hosted system can show, the
//! events arriving; and, on Ctrl-C, SIGHUP or a closed pipe, nothing left
//! behind.
//!
//! The demo is its own watcher: one thread attaches a console client slot,
//! subscribes to every category, and prints each step's header, then the
//! events as `evq tail` prints them, until every event the step is there
//! to show has been printed (or a deadline passes, which it says). So a
//! step's events always come after its header and before the next one.

use crate::stop_signal;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use evq_abi::event::{device, network, process, system, vfs, Category, CountersPayload};
use evq_abi::msg::Filter;
use evq_client::paths::PathMap;
use evq_client::ReceivedEvent;
use evq_hosted::boot::image;
use evq_hosted::client::{Client, HostedQueue};
use evq_hosted::console::{Console, Reply, Request};
use evq_hosted::launcher;
use zerocopy::FromBytes as _;

use crate::output::{stdout_gone, StdoutClosed};
use crate::stats::print_stats;
use crate::tail::{self, Clock};

/// `evq demo`'s command line.
#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// The system description [default: the hosted board's, built in]
    #[arg(long, value_name = "FILE")]
    system: Option<PathBuf>,
    /// Do not make a network namespace: the network driver watches
    /// loopback, which has no link changes to show (as `evq run --no-netns`).
    #[arg(long)]
    no_netns: bool,
    /// Run domains without the seccomp filter (as `evq run --no-seccomp`).
    #[arg(long)]
    no_seccomp: bool,
    #[command(flatten)]
    slots: crate::ClientSlotsArg,
}

/// How long a step waits for the events it is there to show.
const STEP_DEADLINE: Duration = Duration::from_secs(15);

/// Packets each traffic step sends.
const PACKETS: u32 = 5;

/// Why the demo stopped early: a stop signal came.
fn interrupted() -> io::Result<()> {
    match stop_signal::caught() {
        0 => Ok(()),
        sig => Err(io::Error::new(io::ErrorKind::Interrupted, format!("stopped by signal {sig}"))),
    }
}

/// Sleeps for `d`, but returns early, as an error, when a stop signal comes
/// or standard output's reader goes.
fn pause(d: Duration) -> io::Result<()> {
    let end = Instant::now() + d;
    loop {
        interrupted()?;
        if stdout_gone() {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed));
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// Prints a step's header.
fn step(what: &str) -> io::Result<()> {
    say!("\n-- {what}")
}

/// Waits up to `grace` for `child` to end, then kills it; reaps it.
fn end_child(child: &mut Child, grace: Duration) {
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `evq demo`: starts the system, runs [`demo_script`] against it,
/// and whatever happens stops it and removes its directory; a stop signal
/// then ends the process by that signal.
pub(crate) fn demo(args: &DemoArgs) -> io::Result<i32> {
    stop_signal::catch()?;
    let exe = launcher::current_exe()?;
    let dir = std::env::temp_dir().join(format!("evq-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("console");
    let mut system: Option<Child> = None;
    let result = (|| {
        let mut run = Command::new(&exe);
        run.arg("run").arg("--console").arg(&path);
        if let Some(n) = args.slots.count() {
            run.arg("--client-slots").arg(n.to_string());
        }
        if let Some(s) = &args.system {
            run.arg("--system").arg(s);
        }
        if args.no_netns {
            run.arg("--no-netns");
        }
        if args.no_seccomp {
            run.arg("--no-seccomp");
        }
        system = Some(run.stdin(Stdio::null()).spawn()?);
        demo_script(&path)
    })();
    // Whatever happened, stop the system (the launcher stops its domains).
    if let Some(mut system) = system.take() {
        if let Ok(c) = Console::connect(&path) {
            let _ = c.request(&Request::Shutdown);
        }
        end_child(&mut system, Duration::from_secs(10));
    }
    let _ = std::fs::remove_dir_all(&dir);
    match stop_signal::caught() {
        0 => {}
        sig => stop_signal::die_by(sig),
    }
    // The reader went away mid-demo; whatever failed next is no news.
    if result.is_err() && stdout_gone() {
        return Ok(0);
    }
    result
}

/// The demo's own client: subscribed to every category, it prints each
/// event as `evq tail` does (`SOURCE #SEQ category kind …`).
struct Watcher {
    client: Client,
    queue: HostedQueue,
    /// Source names by id, for the lines.
    names: Vec<(u32, String)>,
    /// Every name's path, kept current from the events, and the server's
    /// clock as wall-clock time: the lines are `evq tail`'s own.
    paths: PathMap,
    clock: Clock,
}

/// What a step waits for: fed every event printed, it answers whether
/// everything the step is there to show has been printed.
type Want<'a> = Box<dyn FnMut(&ReceivedEvent<'_>) -> bool + 'a>;

impl Watcher {
    fn attach(console: &Console) -> io::Result<Watcher> {
        let server = console.status()?.server;
        let names = server.sources.into_iter().map(|s| (s.id, s.name)).collect();
        let clock = Clock::new(server.clock, tail::DEFAULT_TIMEFMT)?;
        let (_, mut client) = console.attach_client(None)?;
        let queue = client.create_queue(8).map_err(client_error)?;
        for c in Category::PUBLISHABLE {
            client.subscribe(&queue, Filter::all_of(c)).map_err(client_error)?;
        }
        // Subscribed first, then listed: a name made in between is in both.
        let mut paths = PathMap::new();
        for entry in console.tree("/")? {
            paths.insert_path(&entry.path, entry.inode);
        }
        Ok(Watcher { client, queue, names, paths, clock })
    }

    /// Prints events until `want` is satisfied, then whatever else has
    /// already arrived, and returns; after `timeout` says what did not
    /// come and returns too. `what` names what the step waits for.
    fn show_until(&mut self, what: &str, timeout: Duration, mut want: Want<'_>) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut done = false;
        loop {
            interrupted()?;
            if stdout_gone() {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed));
            }
            done |= self.print_arrived(&mut want)?;
            if done {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return say!("   (no {what} within {} s; going on)", timeout.as_secs());
            }
            if let Err(e) = self.client.wait(&mut self.queue, left.min(Duration::from_millis(100))) {
                // The server is gone (the system stops): what it wrote
                // before it went is still in the ring, SHUTDOWN last.
                if self.print_arrived(&mut want)? {
                    return Ok(());
                }
                return Err(client_error(e));
            }
        }
    }

    /// Prints every event in the ring; whether `want` was satisfied by one.
    fn print_arrived(&mut self, want: &mut Want<'_>) -> io::Result<bool> {
        let mut done = false;
        while let Some(event) = self.queue.next_event().map_err(|e| io::Error::other(e.to_string()))? {
            let source =
                self.names.iter().find(|(id, _)| *id == event.source_id).map(|(_, n)| n.as_str()).unwrap_or("?");
            let shown = self.paths.paths(&event);
            self.paths.apply(&event);
            say!("{}", tail::line(&event, shown.as_ref(), source, &self.clock))?;
            done |= want(&event);
        }
        Ok(done)
    }
}

fn client_error(e: evq_hosted::client::ClientError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Every one of `kinds` (category, kind, object or any), each once.
fn all_of<'a>(kinds: &[(Category, u8, Option<u64>)]) -> Want<'a> {
    let mut left = kinds.to_vec();
    Box::new(move |e| {
        if let Some(i) =
            left.iter().position(|&(c, k, o)| c == e.category && k == e.kind && o.is_none_or(|o| o == e.object_id))
        {
            left.remove(i);
        }
        left.is_empty()
    })
}

/// At least `packets` packets counted in each of `kinds` (RX, TX).
fn packets<'a>(kinds: &[u8], packets: u64) -> Want<'a> {
    let mut counted: Vec<(u8, u64)> = kinds.iter().map(|&k| (k, 0)).collect();
    Box::new(move |e| {
        if e.category == Category::Network {
            if let Some((_, n)) = counted.iter_mut().find(|(k, _)| *k == e.kind) {
                let counted = CountersPayload::read_from_bytes(e.payload).map(|p| p.packets.get()).unwrap_or(0);
                *n = n.saturating_add(counted);
            }
        }
        counted.iter().all(|&(_, n)| n >= packets)
    })
}

/// Sends a console request and prints the launcher's answer, indented.
fn ask(console: &Console, request: &Request) -> io::Result<()> {
    interrupted()?;
    match console.request(request)?.0 {
        Reply::Done { output } => say!("   {output}"),
        Reply::Error { message } => say!("   (refused: {message})"),
        other => Err(other.unexpected()),
    }
}

fn fs(args: &[&str]) -> Request {
    Request::Fs { args: args.iter().map(|s| s.to_string()).collect() }
}

/// The steps, against the system whose console is at `path`
/// (`docs/hosted.md`, "The demo", has the table).
fn demo_script(path: &Path) -> io::Result<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let console = loop {
        interrupted()?;
        match Console::connect(path) {
            Ok(c) => break c,
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => pause(Duration::from_millis(20))?,
        }
    };
    let mut watch = Watcher::attach(&console)?;
    let status = console.status()?;
    let running = |image: &str| {
        status.domains.iter().find(|d| d.image == image && d.state == "running").map(|d| (u64::from(d.id), d.pid))
    };
    if let (Some(pty), Some(_)) = (&status.pty, running(image::DEVICE)) {
        step(&format!("typing two lines into the device driver's terminal ({pty})"))?;
        let mut term = std::fs::OpenOptions::new().write(true).open(pty)?;
        term.write_all(b"hello, evq\nls -l\n")?;
        let input = (Category::Device, device::INPUT, None);
        watch.show_until("input events", STEP_DEADLINE, all_of(&[input, input]))?;
    }

    if running(image::NETWORK).is_some() {
        // Loopback counts every datagram as sent and as received.
        let veth = status.network.starts_with("veth");
        let both = [network::RX, network::TX];
        step(&format!("network: {}; {PACKETS} packets to the watched interface", status.network))?;
        ask(&console, &Request::Traffic { packets: PACKETS, tx: false })?;
        let kinds: &[u8] = if veth { &[network::RX] } else { &both };
        watch.show_until("rx counts", STEP_DEADLINE, packets(kinds, PACKETS.into()))?;

        step(&format!("network: {PACKETS} packets from the watched interface (evq net traffic --tx)"))?;
        ask(&console, &Request::Traffic { packets: PACKETS, tx: true })?;
        let kinds: &[u8] = if veth { &[network::TX] } else { &both };
        watch.show_until("tx counts", STEP_DEADLINE, packets(kinds, PACKETS.into()))?;

        if !veth {
            say!("   (loopback: the launcher never changes the host's links, so there are no link events to show)")?;
        } else {
            step("network: taking the link down and up again")?;
            ask(&console, &Request::Link { up: false })?;
            watch.show_until("link down", STEP_DEADLINE, all_of(&[(Category::Network, network::LINK_DOWN, None)]))?;
            ask(&console, &Request::Link { up: true })?;
            watch.show_until("link up", STEP_DEADLINE, all_of(&[(Category::Network, network::LINK_UP, None)]))?;
        }
    }

    if running(image::VFS).is_some() {
        step("a file-system session on the VFS domain, a mount and unmount among it")?;
        // Each command and the one event it makes.
        let session: [(&[&str], u8); 9] = [
            (&["mkdir", "/docs"], vfs::CREATE),
            (&["touch", "/docs/notes.txt"], vfs::CREATE),
            (&["write", "/docs/notes.txt", "hello"], vfs::ATTRIB),
            (&["mv", "/docs/notes.txt", "/todo.txt"], vfs::RENAME),
            (&["rm", "/todo.txt"], vfs::DELETE),
            (&["mkdir", "/mnt"], vfs::CREATE),
            (&["mount", "/mnt"], vfs::MOUNT),
            (&["touch", "/mnt/inside.txt"], vfs::CREATE),
            (&["umount", "/mnt"], vfs::UNMOUNT),
        ];
        let mut expected = Vec::new();
        for (args, kind) in session {
            ask(&console, &fs(args))?;
            expected.push((Category::Vfs, kind, None));
        }
        watch.show_until("file-system events", STEP_DEADLINE, all_of(&expected))?;
    }

    step("a console client comes and goes (as `evq tail` does)")?;
    {
        let visitor = Console::connect(path)?;
        let attach = Request::Attach { domain: None, role: "client".into() };
        match visitor.request(&attach)? {
            (Reply::Attached { domain, id, .. }, _capabilities) => {
                say!("   {domain} attached")?;
                let id = u64::from(id);
                watch.show_until("start", STEP_DEADLINE, all_of(&[(Category::Process, process::START, Some(id))]))?;
                drop(visitor);
                watch.show_until("exit", STEP_DEADLINE, all_of(&[(Category::Process, process::EXIT, Some(id))]))?;
            }
            (Reply::Error { message }, _) => say!("   (refused: {message})")?,
            (other, _) => return Err(other.unexpected()),
        }
    }

    if let Some((id, Some(pid))) = running(image::DEVICE) {
        step("the device driver's clock: its next tick (time= in the description)")?;
        watch.show_until(
            "time event",
            STEP_DEADLINE,
            all_of(&[(Category::Device, device::TIME, Some(evq_hosted::domains::devices::CLOCK))]),
        )?;

        step(&format!("crashing the device driver (SIGSEGV to pid {pid})"))?;
        evq_hosted::host::kill(pid, libc::SIGSEGV)?;
        let ended = [(Category::Process, process::FAULT, Some(id)), (Category::Process, process::EXIT, Some(id))];
        watch.show_until("fault and exit", STEP_DEADLINE, all_of(&ended))?;
    }

    step("the server's statistics")?;
    print_stats(&console.status()?)?;

    step("stopping the system")?;
    ask(&console, &Request::Shutdown)?;
    watch.show_until("shutdown", STEP_DEADLINE, all_of(&[(Category::System, system::SHUTDOWN, None)]))?;
    Ok(0)
}
