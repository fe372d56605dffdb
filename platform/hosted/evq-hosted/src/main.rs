//! `evq`: run the hosted system and talk to it.
//!
//! * `evq run [--system FILE]` starts the system in the foreground.
//! * `evq tail [--category …] [--type …]` prints events live, one line each.
//! * `evq stats` prints the server's statistics and the domains' states.
//! * `evq fs …` drives the VFS domain; `evq net …` the network driver's link.
//! * `evq demo` (what `make run` runs) starts a system, runs a short scripted
//!   workload against it, and shows the events arriving.
//!
//! Readable output by default; `--json` gives one JSON object per line.
//!
//! A closed standard output (`evq tail | head -1`) is a quiet exit with
//! status 0; every other error is one line on standard error, `evq: …`,
//! and status 1 (2 for a command line clap refuses).

use std::fmt;
use std::io::{self, Write as _};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use evq_abi::event::Category;
use evq_abi::msg::{Counters, Filter};
use evq_client::{kind_name, ReceivedEvent};
use evq_hosted::client::Woken;
use evq_hosted::console::{self, Console, Status};
use evq_hosted::launcher;

/// The hosted board's description, built in so that `evq run` needs no file.
const HOSTED_SYSTEM: &str = include_str!("../../../../images/hosted/system.toml");

#[derive(Parser)]
#[command(name = "evq", version, about = "evq on Linux: run the hosted system and watch its events")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Args, Clone)]
struct ConsoleArg {
    /// The running system's console socket [default: $EVQ_CONSOLE, else
    /// $XDG_RUNTIME_DIR/evq-console, else /tmp/evq-UID-console]
    // Global: `evq net link up --console PATH` as well as `evq net --console PATH link up`.
    #[arg(long, value_name = "PATH", global = true)]
    console: Option<PathBuf>,
}

impl ConsoleArg {
    fn path(&self) -> PathBuf {
        self.console.clone().unwrap_or_else(console::default_path)
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Start the system and run it until interrupted (or `evq stop`).
    Run {
        /// The system description [default: the hosted board's, built in]
        #[arg(long, value_name = "FILE")]
        system: Option<PathBuf>,
        #[command(flatten)]
        console: ConsoleArg,
        /// Run domains without the seccomp filter (for debugging).
        #[arg(long)]
        no_seccomp: bool,
        /// Do not make a network namespace; the network driver watches loopback.
        #[arg(long)]
        no_netns: bool,
        /// Report every domain's start and end on standard error.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Print events as they arrive, one line each.
    Tail {
        #[command(flatten)]
        console: ConsoleArg,
        /// Only these categories (vfs, process, network, device, memory, system); repeatable.
        #[arg(long = "category", short = 'c', value_name = "CATEGORY")]
        categories: Vec<String>,
        /// Only these kinds (create, rename, exit, rx, input, …); repeatable.
        #[arg(long = "type", short = 't', value_name = "KIND")]
        kinds: Vec<String>,
        /// Exit after this many events.
        #[arg(long, short = 'n')]
        count: Option<u64>,
        /// Attach to this console slot rather than the first free one.
        #[arg(long, value_name = "DOMAIN")]
        slot: Option<String>,
        /// One JSON object per event.
        #[arg(long)]
        json: bool,
    },
    /// Print the server's statistics and the domains.
    Stats {
        #[command(flatten)]
        console: ConsoleArg,
        /// As one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Drive the VFS domain: mkdir, touch, write, mv, ln, rm, chmod, mount, umount, cat.
    Fs {
        #[command(flatten)]
        console: ConsoleArg,
        #[command(subcommand)]
        what: FsCmd,
    },
    /// Drive the network driver's interface: `link up|down`, `traffic N`.
    Net {
        #[command(flatten)]
        console: ConsoleArg,
        #[command(subcommand)]
        what: NetCmd,
    },
    /// Stop the running system.
    Stop {
        #[command(flatten)]
        console: ConsoleArg,
    },
    /// Start a system, run a short scripted workload, show the events (`make run`).
    Demo {
        /// The system description [default: the hosted board's, built in]
        #[arg(long, value_name = "FILE")]
        system: Option<PathBuf>,
    },
    /// Run one domain of a system (the launcher starts these).
    #[command(name = "__domain", hide = true)]
    Domain {
        /// The domain's name in the description.
        name: String,
    },
}

#[derive(Subcommand, Clone, Copy)]
enum NetCmd {
    /// Set the watched interface's peer link up or down (veth only).
    Link {
        /// `up` or `down`.
        state: LinkState,
    },
    /// Send packets the watched interface counts.
    Traffic {
        /// How many.
        #[arg(default_value_t = 3)]
        packets: u32,
    },
}

/// What `evq net link` sets the link to.
#[derive(ValueEnum, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    /// The link up.
    Up,
    /// The link down.
    Down,
}

/// The `evq fs` commands, each as the VFS domain's client in the launcher
/// takes it (`launcher::fs`): paths are absolute.
#[derive(Subcommand, Clone)]
enum FsCmd {
    /// Make a directory.
    Mkdir {
        /// The new directory.
        path: String,
    },
    /// Make an empty file, or set a file's times to now.
    Touch {
        /// The file.
        path: String,
    },
    /// Append text to a file, making it if need be (at most one message's
    /// data, 936 bytes).
    Write {
        /// The file.
        path: String,
        /// The text; the words are joined by single spaces (after `--` for
        /// a text that starts with `-`).
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Rename.
    Mv {
        /// The old path.
        from: String,
        /// The new path.
        to: String,
    },
    /// Give a file another name (a hard link).
    Ln {
        /// The file.
        file: String,
        /// Its new name.
        link: String,
    },
    /// Remove a file, or an empty directory.
    Rm {
        /// What to remove.
        path: String,
    },
    /// Set the permission bits.
    Chmod {
        /// The mode, in octal (at most 7777).
        mode: String,
        /// The file or directory.
        path: String,
    },
    /// Mount a fresh file system on a directory.
    Mount {
        /// The directory.
        dir: String,
    },
    /// Unmount the file system mounted on a directory.
    Umount {
        /// The directory.
        dir: String,
    },
    /// Print a file.
    Cat {
        /// The file.
        file: String,
    },
}

impl FsCmd {
    /// The words the console's `fs` request carries; a text too long for
    /// one `Write` is refused here, saying so.
    fn words(self) -> io::Result<Vec<String>> {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Ok(match self {
            FsCmd::Mkdir { path } => w(&["mkdir", &path]),
            FsCmd::Touch { path } => w(&["touch", &path]),
            FsCmd::Write { path, text } => {
                let data = text.join(" ");
                if data.len() > evq_vfs_api::MAX_WRITE {
                    return Err(io::Error::other(format!(
                        "write {path}: {} bytes is more than one write carries ({} bytes at most)",
                        data.len(),
                        evq_vfs_api::MAX_WRITE
                    )));
                }
                w(&["write", &path, &data])
            }
            FsCmd::Mv { from, to } => w(&["mv", &from, &to]),
            FsCmd::Ln { file, link } => w(&["ln", &file, &link]),
            FsCmd::Rm { path } => w(&["rm", &path]),
            FsCmd::Chmod { mode, path } => w(&["chmod", &mode, &path]),
            FsCmd::Mount { dir } => w(&["mount", &dir]),
            FsCmd::Umount { dir } => w(&["umount", &dir]),
            FsCmd::Cat { file } => w(&["cat", &file]),
        })
    }
}

/// Standard output was closed under us (`evq tail | head -1`): the marker
/// inside the [`io::Error`] that says so, which `main` turns into a quiet
/// exit.
#[derive(Debug)]
struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("standard output is closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Whether `e` is standard output having been closed.
fn is_stdout_closed(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<StdoutClosed>())
}

/// Writes one line on standard output, flushed; a closed one is
/// [`StdoutClosed`], any other failure says it was standard output.
fn write_line(args: fmt::Arguments<'_>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{args}").and_then(|()| out.flush()).map_err(|e| {
        if e.kind() == io::ErrorKind::BrokenPipe {
            io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed)
        } else {
            io::Error::new(e.kind(), format!("standard output: {e}"))
        }
    })
}

/// `println!` that returns the error instead of panicking.
macro_rules! say {
    () => { write_line(format_args!("")) };
    ($($t:tt)*) => { write_line(format_args!($($t)*)) };
}

/// Whether standard output is a pipe or socket whose reader has gone, even
/// with nothing written yet (`poll` reports an error or hang-up on it).
fn stdout_gone() -> bool {
    let mut p = libc::pollfd { fd: io::stdout().as_raw_fd(), events: 0, revents: 0 };
    // SAFETY: `p` is one live pollfd; a zero timeout does not block.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n == 1 && p.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Domain { name } => evq_hosted::domains::run(&name).map(|()| 0),
        Cmd::Run { system, console, no_seccomp, no_netns, verbose } => {
            run(system.as_deref(), console.path(), no_seccomp, no_netns, verbose)
        }
        Cmd::Tail { console, categories, kinds, count, slot, json } => {
            tail(&console.path(), &categories, &kinds, count, slot.as_deref(), json)
        }
        Cmd::Stats { console, json } => stats(&console.path(), json),
        Cmd::Fs { console, what } => {
            what.words().and_then(|args| simple(&console.path(), console::Request::Fs { args }))
        }
        Cmd::Net { console, what } => {
            let request = match what {
                NetCmd::Link { state } => console::Request::Link { up: state == LinkState::Up },
                NetCmd::Traffic { packets } => console::Request::Traffic { packets },
            };
            simple(&console.path(), request)
        }
        Cmd::Stop { console } => simple(&console.path(), console::Request::Shutdown),
        Cmd::Demo { system } => demo(system.as_deref()),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        // The reader went away: nothing to say, and nobody to say it to.
        Err(e) if is_stdout_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("evq: {e}");
            ExitCode::from(1)
        }
    }
}

fn system_text(path: Option<&Path>) -> io::Result<String> {
    match path {
        Some(p) => std::fs::read_to_string(p).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display()))),
        None => Ok(HOSTED_SYSTEM.to_string()),
    }
}

fn run(system: Option<&Path>, console: PathBuf, no_seccomp: bool, no_netns: bool, verbose: bool) -> io::Result<i32> {
    // The socket's directory must be there; say which path it is if not.
    if let Some(dir) = console.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("console {}: the directory {} does not exist", console.display(), dir.display()),
            ));
        }
    }
    watch_stdout(console.clone())?;
    let opts = launcher::Options {
        system_text: system_text(system)?,
        console,
        exe: launcher::current_exe()?,
        no_seccomp,
        no_netns,
        verbose,
    };
    launcher::run(opts)
}

/// `evq run | head -1`: once standard output's reader has gone (the pipe
/// reports an error), a thread asks the system to stop over its console,
/// as `evq stop` would; the launcher then stops every domain and exits 0.
/// (A line written after that is refused by the launcher itself.)
///
/// The thread blocks every signal: the launcher learns of its signals
/// (SIGCHLD, SIGINT, SIGTERM) from a signalfd, which sees only those no
/// thread takes.
fn watch_stdout(console: PathBuf) -> io::Result<()> {
    // A thread starts with its maker's signal mask: all blocked, for it.
    let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `all` is initialised by sigfillset before use; `old` is
    // written by pthread_sigmask before it is read below.
    let blocked = unsafe {
        libc::sigfillset(all.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_BLOCK, all.as_ptr(), old.as_mut_ptr())
    };
    if blocked != 0 {
        return Err(io::Error::from_raw_os_error(blocked));
    }
    let spawned = std::thread::Builder::new().name("stdout-watch".into()).spawn(move || {
        let mut p = libc::pollfd { fd: io::stdout().as_raw_fd(), events: 0, revents: 0 };
        loop {
            // SAFETY: `p` is one live pollfd. With no events asked for, poll
            // returns only for an error or hang-up: a pipe whose reader
            // closed, a terminal hung up; never for a file or /dev/null.
            let n = unsafe { libc::poll(&mut p, 1, -1) };
            if n == 1 {
                break;
            }
            if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return;
            }
        }
        // The console opens once every domain runs; until then, keep trying.
        loop {
            if let Ok(c) = Console::connect(&console) {
                let _ = c.request(&console::Request::Shutdown);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    // SAFETY: `old` was written by the pthread_sigmask call above.
    let restored = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), std::ptr::null_mut()) };
    if restored != 0 {
        return Err(io::Error::from_raw_os_error(restored));
    }
    spawned.map(drop)
}

fn simple(path: &Path, request: console::Request) -> io::Result<i32> {
    let console = Console::connect(path)?;
    match console.request(&request)?.0 {
        console::Reply::Done { output } => {
            if !output.is_empty() {
                say!("{output}")?;
            }
            Ok(0)
        }
        console::Reply::Error { message } => Err(io::Error::other(message)),
        other => Err(io::Error::other(format!("unexpected reply {other:?}"))),
    }
}

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

fn tail(
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

fn print_stats(status: &Status) -> io::Result<()> {
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
    let row = |id: &str, name: &str, cells: [String; Counters::COUNT]| {
        let cells: Vec<String> = cells.iter().zip(WIDTHS).map(|(c, w)| format!("{c:>w$}")).collect();
        say!("{id:<4} {name:<16} {}", cells.join(" "))
    };
    row("id", "source", Counters::NAMES.map(String::from))?;
    for src in &s.sources {
        row(&src.id.to_string(), &src.name, src.counters.to_array().map(|v| v.to_string()))?;
    }
    row("", "total", s.totals.to_array().map(|v| v.to_string()))?;
    // A ring the server no longer reads, and why.
    for src in s.sources.iter().filter(|src| src.ring.starts_with("cut off")) {
        say!("source {}: ingest ring {}", src.name, src.ring)?;
    }
    Ok(())
}

fn stats(path: &Path, json: bool) -> io::Result<i32> {
    let status = Console::connect(path)?.status()?;
    if json {
        say!("{}", serde_json::to_string(&status).map_err(io::Error::other)?)?;
        return Ok(0);
    }
    print_stats(&status)?;
    say!()?;
    say!("{:<4} {:<16} {:<12} {:<7} {:>8}  state", "id", "domain", "image", "role", "pid")?;
    for d in &status.domains {
        let pid = d.pid.map(|p| p.to_string()).unwrap_or_default();
        say!("{:<4} {:<16} {:<12} {:<7} {:>8}  {}", d.id, d.name, d.image, d.role, pid, d.state)?;
    }
    if status.degraded.is_empty() {
        say!("\nsystem: up")?;
    } else {
        say!("\nsystem: degraded: {}", status.degraded.join(", "))?;
    }
    say!("seccomp: {}; network: {}", status.seccomp, status.network)?;
    if let Some(p) = &status.pty {
        say!("terminal: {p}")?;
    }
    Ok(0)
}

/// The signal that asked `evq demo` to stop (SIGINT, SIGHUP or SIGTERM),
/// or 0.
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP_SIGNAL.store(sig, Ordering::Relaxed);
}

/// `evq demo`'s stop signals: SIGINT (Ctrl-C), SIGHUP (the terminal gone)
/// and SIGTERM only set [`STOP_SIGNAL`], so that the demo stops its system,
/// waits for its processes and removes its directory before it goes. The
/// processes it starts run with the default actions again (exec resets a
/// handler).
fn catch_stop_signals() -> io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGHUP, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid one (empty mask, no flags)
        // before its fields are set; the handler only stores to an atomic,
        // which is async-signal-safe.
        let done = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut())
        };
        if done != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Ends the process by `sig`, with its default action, as it would have
/// ended had the demo not caught it (a shell sees a job killed by SIGINT).
fn die_by(sig: i32) -> ! {
    let _ = io::stdout().flush();
    // SAFETY: plain signal(2) to the default action, then raise(3).
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
    std::process::exit(128 + sig)
}

/// Why the demo stopped early: a stop signal came.
fn interrupted() -> io::Result<()> {
    match STOP_SIGNAL.load(Ordering::Relaxed) {
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

/// Waits, up to `timeout`, until `check` holds of the system's status.
fn until(console: &Console, timeout: Duration, check: impl Fn(&Status) -> bool) -> io::Result<Status> {
    let deadline = Instant::now() + timeout;
    loop {
        let status = console.status()?;
        if check(&status) {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            return Err(io::Error::other("the system did not reach the expected state in time"));
        }
        pause(Duration::from_millis(20))?;
    }
}

fn step(what: &str) -> io::Result<()> {
    say!("\n-- {what}")?;
    pause(Duration::from_millis(400))
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

/// The processes `evq demo` starts, ended and reaped whatever happens.
#[derive(Default)]
struct DemoProcesses {
    system: Option<Child>,
    tail: Option<Child>,
}

fn demo(system: Option<&Path>) -> io::Result<i32> {
    catch_stop_signals()?;
    let exe = launcher::current_exe()?;
    let dir = std::env::temp_dir().join(format!("evq-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("console");
    let mut procs = DemoProcesses::default();
    let result = (|| {
        let mut run = Command::new(&exe);
        run.arg("run").arg("--console").arg(&path);
        if let Some(s) = system {
            run.arg("--system").arg(s);
        }
        procs.system = Some(run.stdin(Stdio::null()).spawn()?);
        demo_script(&exe, &path, &mut procs.tail)
    })();
    // Whatever happened, stop the system (the launcher stops its domains),
    // then the watcher, which sees SHUTDOWN and goes by itself.
    if let Some(mut system) = procs.system.take() {
        if let Ok(c) = Console::connect(&path) {
            let _ = c.request(&console::Request::Shutdown);
        }
        end_child(&mut system, Duration::from_secs(10));
    }
    if let Some(mut tail) = procs.tail.take() {
        end_child(&mut tail, Duration::from_secs(5));
    }
    let _ = std::fs::remove_dir_all(&dir);
    match STOP_SIGNAL.load(Ordering::Relaxed) {
        0 => {}
        sig => die_by(sig),
    }
    // The reader went away mid-demo; whatever failed next is no news.
    if result.is_err() && stdout_gone() {
        return Ok(0);
    }
    result
}

fn demo_script(exe: &Path, path: &Path, tail: &mut Option<Child>) -> io::Result<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let console = loop {
        interrupted()?;
        match Console::connect(path) {
            Ok(c) => break c,
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => pause(Duration::from_millis(20))?,
        }
    };
    let before = console.status()?.server.subscriptions;
    *tail = Some(Command::new(exe).arg("tail").arg("--console").arg(path).stdin(Stdio::null()).spawn()?);
    // The workload starts once the watcher has subscribed to every category.
    until(&console, Duration::from_secs(20), |s| s.server.subscriptions >= before + Category::PUBLISHABLE.len())?;
    let status = console.status()?;
    if let Some(pty) = &status.pty {
        step(&format!("typing two lines into the device driver's terminal ({pty})"))?;
        let mut term = std::fs::OpenOptions::new().write(true).open(pty)?;
        term.write_all(b"hello, evq\nls -l\n")?;
    }
    step(&format!("network: {}", status.network))?;
    let say = |r: console::Request| -> io::Result<()> {
        interrupted()?;
        match console.request(&r) {
            Ok((console::Reply::Done { output }, _)) => say!("   {output}"),
            Ok((console::Reply::Error { message }, _)) => say!("   ({message})"),
            Ok(_) | Err(_) => Ok(()),
        }
    };
    say(console::Request::Traffic { packets: 5 })?;
    pause(Duration::from_millis(800))?;
    if status.network.starts_with("veth") {
        step("taking the link down and up again")?;
        say(console::Request::Link { up: false })?;
        pause(Duration::from_millis(300))?;
        say(console::Request::Link { up: true })?;
    }
    if status.domains.iter().any(|d| d.image == evq_hosted::boot::image::VFS && d.state == "running") {
        step("a file-system session on the VFS domain")?;
        for cmd in [
            &["mkdir", "/docs"][..],
            &["touch", "/docs/notes.txt"],
            &["write", "/docs/notes.txt", "hello"],
            &["mv", "/docs/notes.txt", "/todo.txt"],
            &["rm", "/todo.txt"],
        ] {
            say(console::Request::Fs { args: cmd.iter().map(|s| s.to_string()).collect() })?;
        }
    }
    if let Some(device) = status.domains.iter().find(|d| d.image == evq_hosted::boot::image::DEVICE) {
        if let Some(pid) = device.pid {
            step(&format!("crashing the device driver (SIGSEGV to pid {pid})"))?;
            evq_hosted::host::kill(pid, libc::SIGSEGV)?;
            until(&console, Duration::from_secs(10), |s| {
                s.domains.iter().any(|d| d.name == device.name && d.state.starts_with("killed"))
            })?;
        }
    }
    step("the server's statistics")?;
    pause(Duration::from_millis(300))?;
    print_stats(&console.status()?)?;
    say!()?;
    console.request(&console::Request::Shutdown)?;
    if let Some(mut t) = tail.take() {
        end_child(&mut t, Duration::from_secs(10));
    }
    Ok(0)
}
