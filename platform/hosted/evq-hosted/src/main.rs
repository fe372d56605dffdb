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

use std::io::{self, Write as _};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
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
    #[arg(long, value_name = "PATH")]
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
    /// Drive the VFS domain: mkdir, touch, write, mv, ln, rm, chmod, mount, umount.
    Fs {
        #[command(flatten)]
        console: ConsoleArg,
        /// The command and its arguments, e.g. `mkdir /docs`.
        #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
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
        #[arg(value_parser = ["up", "down"])]
        state: &'static str,
    },
    /// Send packets the watched interface counts.
    Traffic {
        /// How many.
        #[arg(default_value_t = 3)]
        packets: u32,
    },
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
        Cmd::Fs { console, args } => simple(&console.path(), console::Request::Fs { args }),
        Cmd::Net { console, what } => {
            let request = match what {
                NetCmd::Link { state } => console::Request::Link { up: state == "up" },
                NetCmd::Traffic { packets } => console::Request::Traffic { packets },
            };
            simple(&console.path(), request)
        }
        Cmd::Stop { console } => simple(&console.path(), console::Request::Shutdown),
        Cmd::Demo { system } => demo(system.as_deref()),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
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

fn simple(path: &Path, request: console::Request) -> io::Result<i32> {
    let console = Console::connect(path)?;
    match console.request(&request)?.0 {
        console::Reply::Done { output } => {
            if !output.is_empty() {
                println!("{output}");
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
                Category::PUBLISHABLE
                    .into_iter()
                    .find(|c| c.name() == name)
                    .ok_or_else(|| io::Error::other(format!("unknown category {name:?}")))
            })
            .collect::<io::Result<_>>()?
    };
    for k in kinds {
        let known = Category::PUBLISHABLE.iter().any(|&c| (0..c.kind_count()).any(|i| kind_name(c, i) == k));
        if !known {
            return Err(io::Error::other(format!("unknown kind {k:?}")));
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
    let stdout = io::stdout();
    loop {
        let mut shutdown = false;
        while let Some(event) = queue.next_event().map_err(|x| io::Error::other(x.to_string()))? {
            let source = names.iter().find(|(id, _)| *id == event.source_id).map(|(_, n)| n.as_str()).unwrap_or("?");
            let mut out = stdout.lock();
            if json {
                writeln!(out, "{}", event_json(&event, source))?;
            } else {
                writeln!(out, "{:<8} {event}", source)?;
            }
            out.flush()?;
            seen += 1;
            shutdown |= event.category == Category::System && event.kind == evq_abi::event::system::SHUTDOWN;
            if count.is_some_and(|c| seen >= c) {
                return Ok(0);
            }
        }
        if shutdown {
            return Ok(0);
        }
        if client.wait(&mut queue, Duration::from_millis(500)).map_err(e)? == Woken::TimedOut {
            // The launcher hangs up the console when the system stops.
            if evq_hosted::host::poll(&[console.fd()], Some(Duration::ZERO))?[0] {
                return Ok(0);
            }
        }
    }
}

fn print_stats(status: &Status) {
    let s = &status.server;
    println!(
        "server: {} clients, {} queues, {} subscriptions, {} held, ring pool {}/{} pages, {} descriptors open",
        s.clients, s.queues, s.subscriptions, s.staged, s.pool_pages_used, s.pool_pages, s.open_fds
    );
    // One column per counter, in the core's order and under its names.
    const WIDTHS: [usize; Counters::COUNT] = [9, 9, 9, 9, 8, 8, 9];
    let row = |id: &str, name: &str, cells: [String; Counters::COUNT]| {
        let cells: Vec<String> = cells.iter().zip(WIDTHS).map(|(c, w)| format!("{c:>w$}")).collect();
        println!("{id:<4} {name:<16} {}", cells.join(" "));
    };
    row("id", "source", Counters::NAMES.map(String::from));
    for src in &s.sources {
        row(&src.id.to_string(), &src.name, src.counters.to_array().map(|v| v.to_string()));
    }
    row("", "total", s.totals.to_array().map(|v| v.to_string()));
    // A ring the server no longer reads, and why.
    for src in s.sources.iter().filter(|src| src.ring.starts_with("cut off")) {
        println!("source {}: ingest ring {}", src.name, src.ring);
    }
}

fn stats(path: &Path, json: bool) -> io::Result<i32> {
    let status = Console::connect(path)?.status()?;
    if json {
        println!("{}", serde_json::to_string(&status).map_err(io::Error::other)?);
        return Ok(0);
    }
    print_stats(&status);
    println!();
    println!("{:<4} {:<16} {:<12} {:<7} {:>8}  state", "id", "domain", "image", "role", "pid");
    for d in &status.domains {
        let pid = d.pid.map(|p| p.to_string()).unwrap_or_default();
        println!("{:<4} {:<16} {:<12} {:<7} {:>8}  {}", d.id, d.name, d.image, d.role, pid, d.state);
    }
    println!("\nseccomp: {}; network: {}", status.seccomp, status.network);
    if let Some(p) = &status.pty {
        println!("terminal: {p}");
    }
    Ok(0)
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
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn step(what: &str) {
    println!("\n-- {what}");
    std::thread::sleep(Duration::from_millis(400));
}

fn demo(system: Option<&Path>) -> io::Result<i32> {
    let exe = launcher::current_exe()?;
    let dir = std::env::temp_dir().join(format!("evq-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("console");
    let mut run = Command::new(&exe);
    run.arg("run").arg("--console").arg(&path);
    if let Some(s) = system {
        run.arg("--system").arg(s);
    }
    let mut system = run.stdin(Stdio::null()).spawn()?;
    let result = demo_script(&exe, &path);
    // Whatever happened, stop the system.
    if let Ok(c) = Console::connect(&path) {
        let _ = c.request(&console::Request::Shutdown);
    }
    let _ = system.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn demo_script(exe: &Path, path: &Path) -> io::Result<i32> {
    let console = Console::connect_within(path, Duration::from_secs(20))?;
    let before = console.status()?.server.subscriptions;
    let mut tail = Command::new(exe).arg("tail").arg("--console").arg(path).stdin(Stdio::null()).spawn()?;
    // The workload starts once the watcher has subscribed to every category.
    until(&console, Duration::from_secs(20), |s| s.server.subscriptions >= before + Category::PUBLISHABLE.len())?;
    let status = console.status()?;
    if let Some(pty) = &status.pty {
        step(&format!("typing two lines into the device driver's terminal ({pty})"));
        let mut term = std::fs::OpenOptions::new().write(true).open(pty)?;
        term.write_all(b"hello, evq\nls -l\n")?;
    }
    step(&format!("network: {}", status.network));
    let say = |r: console::Request| match console.request(&r) {
        Ok((console::Reply::Done { output }, _)) => println!("   {output}"),
        Ok((console::Reply::Error { message }, _)) => println!("   ({message})"),
        Ok(_) | Err(_) => {}
    };
    say(console::Request::Traffic { packets: 5 });
    std::thread::sleep(Duration::from_millis(800));
    if status.network.starts_with("veth") {
        step("taking the link down and up again");
        say(console::Request::Link { up: false });
        std::thread::sleep(Duration::from_millis(300));
        say(console::Request::Link { up: true });
    }
    if status.domains.iter().any(|d| d.image == evq_hosted::boot::image::VFS && d.state == "running") {
        step("a file-system session on the VFS domain");
        for cmd in [
            &["mkdir", "/docs"][..],
            &["touch", "/docs/notes.txt"],
            &["write", "/docs/notes.txt", "hello"],
            &["mv", "/docs/notes.txt", "/todo.txt"],
            &["rm", "/todo.txt"],
        ] {
            say(console::Request::Fs { args: cmd.iter().map(|s| s.to_string()).collect() });
        }
    }
    if let Some(device) = status.domains.iter().find(|d| d.image == evq_hosted::boot::image::DEVICE) {
        if let Some(pid) = device.pid {
            step(&format!("crashing the device driver (SIGSEGV to pid {pid})"));
            evq_hosted::host::kill(pid, libc::SIGSEGV)?;
            until(&console, Duration::from_secs(10), |s| {
                s.domains.iter().any(|d| d.name == device.name && d.state.starts_with("killed"))
            })?;
        }
    }
    step("the server's statistics");
    std::thread::sleep(Duration::from_millis(300));
    print_stats(&console.status()?);
    println!();
    console.request(&console::Request::Shutdown)?;
    let _ = tail.wait();
    let _ = console.fd().as_fd();
    Ok(0)
}
