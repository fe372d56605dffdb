//! `evq`: run the hosted system and talk to it.
//!
//! * `evq run [--system FILE] [--client-slots N]` starts the system in the
//!   foreground.
//! * `evq tail [--category …] [--type …]` prints events live, one line each;
//!   `evq tail PATH… [-r]` watches directories and files, as inotifywait does.
//! * `evq stats [--watch S]` prints the server's statistics per source and
//!   per queue and the domains' states (every S seconds, with rates).
//! * `evq top` shows the same live in the terminal.
//! * `evq fs …` drives the VFS domain; `evq net …` the network driver's link
//!   and traffic.
//! * `evq demo` (what `make run` runs) starts a system, runs a short scripted
//!   workload against it, and shows the events arriving.
//!
//! Readable output by default; `--json` gives one JSON object per line.
//!
//! A closed standard output (`evq tail | head -1`) is a quiet exit with
//! status 0; every other error is one line on standard error, `evq: …`,
//! and status 1 (2 for a command line clap refuses).
//!
//! One module a job: `output` (standard output that may close under us),
//! `tail`, `stats`, `rates` (events per second), `top`, `fs`, `demo`; this
//! file holds the command line and runs the
//! rest.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use evq_hosted::console::{self, Console};
use evq_hosted::launcher;

#[macro_use]
mod output;
mod demo;
mod fs;
mod rates;
mod stats;
mod stop_signal;
mod tail;
mod top;

use demo::demo;
use fs::{fs, FsCmd};
use output::is_stdout_closed;
use stats::stats;
use tail::tail;
use top::top;

/// The hosted board's description, built in so that `evq run` needs no file.
const HOSTED_SYSTEM: &str = include_str!("../../../../../../images/hosted/system.toml");

#[derive(Parser)]
#[command(name = "evq", version, about = "evq on Linux: run the hosted system and watch its events")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Args, Clone)]
pub(crate) struct ConsoleArg {
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

#[derive(Args, Clone, Copy)]
pub(crate) struct ClientSlotsArg {
    /// Console client slots (`evq tail`s at once), 0 to 32, instead of the
    /// description's (the built-in one has 4): the last ones dropped, or
    /// `console-K` slots added after them
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=launcher::MAX_CLIENT_SLOTS as i64))]
    client_slots: Option<u8>,
}

impl ClientSlotsArg {
    pub(crate) fn count(self) -> Option<usize> {
        self.client_slots.map(usize::from)
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
        #[command(flatten)]
        slots: ClientSlotsArg,
    },
    /// Print events as they arrive, one line each; or watch directories and files, as inotifywait does.
    Tail(tail::TailArgs),
    /// Print the server's statistics per source and per queue, and the domains.
    Stats(stats::StatsArgs),
    /// A live view: events per second per source and per queue, ring fill, domains.
    Top(top::TopArgs),
    /// Drive the VFS domain: mkdir, touch, write, mv, ln, rm, chmod, truncate, mount, umount, cat, ls, stat, tree.
    Fs {
        #[command(flatten)]
        console: ConsoleArg,
        #[command(subcommand)]
        what: FsCmd,
    },
    /// Drive the network driver's interface: `link up|down`, `traffic N [--tx]`.
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
    Demo(demo::DemoArgs),
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
    /// Send packets the watched interface counts: received by it, or with
    /// `--tx` sent by it.
    Traffic {
        /// How many (at most 1000 a request).
        #[arg(default_value_t = 3)]
        packets: u32,
        /// Send them from the watched interface to its peer, so that it
        /// counts them as sent (TX) rather than received (RX); over
        /// loopback every packet counts as both either way.
        #[arg(long)]
        tx: bool,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Domain { name } => evq_hosted::domains::run(&name).map(|()| 0),
        Cmd::Run { system, console, no_seccomp, no_netns, verbose, slots } => {
            run(system.as_deref(), console.path(), no_seccomp, no_netns, verbose, slots.count())
        }
        Cmd::Tail(args) => tail(args),
        Cmd::Stats(args) => stats(args),
        Cmd::Top(args) => top(args),
        Cmd::Fs { console, what } => fs(&console.path(), what),
        Cmd::Net { console, what } => {
            let request = match what {
                NetCmd::Link { state } => console::Request::Link { up: state == LinkState::Up },
                NetCmd::Traffic { packets, tx } => console::Request::Traffic { packets, tx },
            };
            simple(&console.path(), request)
        }
        Cmd::Stop { console } => simple(&console.path(), console::Request::Shutdown),
        Cmd::Demo(args) => demo(&args),
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

fn run(
    system: Option<&Path>,
    console: PathBuf,
    no_seccomp: bool,
    no_netns: bool,
    verbose: bool,
    client_slots: Option<usize>,
) -> io::Result<i32> {
    // The socket's directory must be there; say which path it is if not.
    if let Some(dir) = console.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("console {}: the directory {} does not exist", console.display(), dir.display()),
            ));
        }
    }
    let opts = launcher::Options {
        system_text: system_text(system)?,
        console,
        exe: launcher::current_exe()?,
        no_seccomp,
        no_netns,
        verbose,
        client_slots,
    };
    launcher::run(opts)
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
        other => Err(other.unexpected()),
    }
}
