//! §2, second baseline: a storm of file creations watched by inotify on
//! tmpfs, against the same storm through evq's VFS domain watched by an evq
//! client.
//!
//! The storm: `rounds` times, create `per_round` files in one directory,
//! then remove them (the VFS domain holds 64 names at most, so a storm of
//! thousands of creations has to remove as it goes; inotify is given the
//! same removals). Each side's watcher counts every CREATE and DELETE event
//! and stamps the last one; the rate is events over the time from the
//! storm's first creation to that last read.
//!
//! * **inotify**: the driver process creates (`open(O_CREAT)`, `close`) and
//!   unlinks files in a fresh directory on tmpfs; a watcher process reads
//!   an inotify descriptor watching it for `IN_CREATE | IN_DELETE`.
//! * **evq**: the driver sends the same creations and removals to the VFS
//!   domain as `evq fs touch PATH` / `evq fs rm PATH` do (a console request
//!   each, which the launcher resolves with a `Lookup` and forwards as a
//!   `Create` or `Unlink`; the VFS domain publishes the event to the server
//!   and then replies); a client process reads its ring.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use evq_abi::event::{vfs, Category};
use evq_abi::msg::Filter;
use evq_hosted::client::Woken;
use evq_hosted::console::{self, Console};

use crate::common::{self, now_ns, Scratch, Worker};
use crate::system::{EvqSystem, RING_PAGES};

/// The storm's shape.
#[derive(Clone, Copy, Debug)]
pub struct Storm {
    /// Rounds of creating then removing.
    pub rounds: u64,
    /// Files per round (at most 60: the VFS domain's tables hold 64 names).
    pub per_round: u64,
}

impl Storm {
    /// Files created in all.
    pub fn creations(&self) -> u64 {
        self.rounds * self.per_round
    }

    /// Events a watcher receives: a CREATE and a DELETE per file.
    pub fn events(&self) -> u64 {
        2 * self.creations()
    }
}

/// What one side measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct StormOutcome {
    /// Events the watcher read.
    pub events: u64,
    /// First creation to last read, s.
    pub secs: f64,
}

impl StormOutcome {
    /// Events per second.
    pub fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.events as f64 / self.secs
        } else {
            0.0
        }
    }
}

const TMPFS_MAGIC: i64 = 0x0102_1994;

/// A directory on tmpfs: `/dev/shm` if it is one, else the temporary
/// directory if that is; `None` if neither is.
pub fn tmpfs_dir() -> Option<PathBuf> {
    [PathBuf::from("/dev/shm"), std::env::temp_dir()].into_iter().find(|p| is_tmpfs(p))
}

fn is_tmpfs(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: an all-zero statfs is valid; statfs fills it.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid path and buffer.
    let r = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    r == 0 && st.f_type as i64 == TMPFS_MAGIC
}

/// The storm on tmpfs under `dir`, watched with inotify.
pub fn run_inotify(storm: Storm, dir: &Path) -> io::Result<StormOutcome> {
    let scratch = Scratch::new("inotify", Some(dir.to_path_buf()))?;
    let watched = scratch.path.clone();
    let mut watcher =
        Worker::spawn("inotify-watch", &[watched.to_string_lossy().into_owned(), storm.events().to_string()])?;
    watcher.expect("ready")?;
    let t0 = now_ns();
    for _ in 0..storm.rounds {
        for i in 0..storm.per_round {
            drop(std::fs::File::create(watched.join(format!("f{i}")))?);
        }
        for i in 0..storm.per_round {
            std::fs::remove_file(watched.join(format!("f{i}")))?;
        }
    }
    let done = watcher.expect("done")?;
    watcher.finish()?;
    outcome(&done, t0)
}

/// The storm through evq's VFS domain on `system`, read by an evq client.
pub fn run_evq(storm: Storm, system: &EvqSystem) -> io::Result<StormOutcome> {
    system.wait_idle()?;
    let mut watcher =
        Worker::spawn("vfs-watch", &[system.console_path.to_string_lossy().into_owned(), storm.events().to_string()])?;
    watcher.expect("ready")?;
    let console = system.connect()?;
    let fs = |args: [&str; 2]| -> io::Result<()> {
        let request = console::Request::Fs { args: args.iter().map(|a| a.to_string()).collect() };
        match console.request(&request)?.0 {
            console::Reply::Done { .. } => Ok(()),
            other => Err(io::Error::other(format!("fs {args:?}: {other:?}"))),
        }
    };
    let t0 = now_ns();
    for _ in 0..storm.rounds {
        for i in 0..storm.per_round {
            fs(["touch", &format!("/f{i}")])?;
        }
        for i in 0..storm.per_round {
            fs(["rm", &format!("/f{i}")])?;
        }
    }
    let done = watcher.expect("done")?;
    watcher.finish()?;
    outcome(&done, t0)
}

fn outcome(done: &str, t0: u64) -> io::Result<StormOutcome> {
    let mut w = done.split_whitespace().map(|x| x.parse::<u64>().ok());
    let (Some(Some(events)), Some(Some(t_last))) = (w.next(), w.next()) else {
        return Err(io::Error::other(format!("bad watcher report {done:?}")));
    };
    Ok(StormOutcome { events, secs: t_last.saturating_sub(t0) as f64 / 1e9 })
}

/// Runs worker `role`; `Ok(false)` if there is no such role here.
pub fn worker(role: &str, args: &[String]) -> io::Result<bool> {
    let arg = |i: usize| -> io::Result<&str> {
        args.get(i).map(String::as_str).ok_or_else(|| io::Error::other(format!("{role}: argument {i} missing")))
    };
    let total = || -> io::Result<u64> { arg(1)?.parse().map_err(|_| io::Error::other("not a number")) };
    match role {
        "inotify-watch" => inotify_watch(Path::new(arg(0)?), total()?)?,
        "vfs-watch" => vfs_watch(Path::new(arg(0)?), total()?)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn inotify_watch(dir: &Path, total: u64) -> io::Result<()> {
    // SAFETY: plain system call.
    let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: a valid descriptor and path.
    if unsafe { libc::inotify_add_watch(fd, c.as_ptr(), libc::IN_CREATE | libc::IN_DELETE) } < 0 {
        return Err(io::Error::last_os_error());
    }
    println!("ready");
    let mut buf = vec![0u8; 64 * 1024];
    let (mut events, mut t_last) = (0u64, 0u64);
    let header = std::mem::size_of::<libc::inotify_event>();
    while events < total {
        // SAFETY: reads into a live buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let now = now_ns();
        let mut at = 0usize;
        while at + header <= n as usize {
            // SAFETY: the kernel wrote whole events; read the header unaligned.
            let ev: libc::inotify_event = unsafe { std::ptr::read_unaligned(buf[at..].as_ptr().cast()) };
            if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                return Err(io::Error::other("inotify queue overflowed"));
            }
            if ev.mask & (libc::IN_CREATE | libc::IN_DELETE) != 0 {
                events += 1;
            }
            at += header + ev.len as usize;
        }
        t_last = now;
    }
    // SAFETY: closes our own descriptor.
    unsafe { libc::close(fd) };
    println!("done {events} {t_last}");
    Ok(())
}

fn vfs_watch(console: &Path, total: u64) -> io::Result<()> {
    let console = Console::connect_within(console, Duration::from_secs(20))?;
    let (_, mut client) = console.attach_client(None)?;
    let err = |e: evq_hosted::client::ClientError| io::Error::other(e.to_string());
    let mut queue = client.create_queue(RING_PAGES).map_err(err)?;
    let mut filter = Filter::all_of(Category::Vfs);
    filter.type_mask = (1 << vfs::CREATE) | (1 << vfs::DELETE);
    client.subscribe(&queue, filter).map_err(err)?;
    println!("ready");
    let (mut events, mut t_last, mut lost) = (0u64, 0u64, 0u64);
    let mut idle = 0;
    while events + lost < total {
        while let Some(ev) = queue.next_event().map_err(|e| io::Error::other(format!("{e:?}")))? {
            lost += ev.lost_before;
            events += 1;
            t_last = now_ns();
        }
        if events + lost >= total {
            break;
        }
        if client.wait(&mut queue, Duration::from_secs(1)).map_err(err)? == Woken::TimedOut {
            idle += 1;
            if idle > 20 {
                return Err(io::Error::other(format!("only {events} of {total} events came")));
            }
        } else {
            idle = 0;
        }
    }
    if lost > 0 {
        return Err(io::Error::other(format!("{lost} events were lost")));
    }
    println!("done {events} {t_last}");
    Ok(())
}

/// Measured side by side: `(evq, inotify)`; `runs` of each, interleaved,
/// median rates.
pub fn compare(storm: Storm, system: &EvqSystem, dir: &Path, runs: usize) -> io::Result<(f64, f64)> {
    let (mut e, mut i) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        e.push(run_evq(storm, system)?.rate());
        i.push(run_inotify(storm, dir)?.rate());
    }
    Ok((common::median(&mut e), common::median(&mut i)))
}
