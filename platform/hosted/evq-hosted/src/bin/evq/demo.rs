//! `evq demo` (`make run`): a system of its own, a short scripted workload,
//! the events arriving; and, on Ctrl-C, SIGHUP or a closed pipe, nothing
//! left behind.

use std::io::{self, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use evq_abi::event::Category;
use evq_hosted::console::{self, Console, Status};
use evq_hosted::launcher;

use crate::output::{stdout_gone, StdoutClosed};
use crate::stats::print_stats;

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

pub(crate) fn demo(system: Option<&Path>, client_slots: Option<usize>) -> io::Result<i32> {
    catch_stop_signals()?;
    let exe = launcher::current_exe()?;
    let dir = std::env::temp_dir().join(format!("evq-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("console");
    let mut procs = DemoProcesses::default();
    let result = (|| {
        let mut run = Command::new(&exe);
        run.arg("run").arg("--console").arg(&path);
        if let Some(n) = client_slots {
            run.arg("--client-slots").arg(n.to_string());
        }
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
