//! §2, second baseline: a storm of file creations watched by inotify on
//! tmpfs, against the same storm through evq's VFS domain watched by an evq
//! client; and what watching costs each of them, the storm's file-creation
//! rate with a watcher divided by the rate with none.
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
//!
//! **The creation rate** is measured at the creator, the same way on both
//! sides: the storm's creations divided by the time its creation phases took
//! (in each round, from before the first creation to the return of the
//! last; the removals between them are not timed). With a watcher, the
//! watcher process reads while the storm runs and must then have read every
//! event (counted, not timed); without one, nothing watches: no inotify
//! watch on the directory, and no evq client attached to the system (the
//! VFS domain still publishes every event, and the server finds no queue
//! that wants it).

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
    /// Events the watcher read (0 without a watcher).
    pub events: u64,
    /// First creation to the watcher's last read, s (0 without a watcher).
    pub secs: f64,
    /// Files created.
    pub creations: u64,
    /// The creation phases' time, summed over rounds, s.
    pub create_secs: f64,
}

impl StormOutcome {
    /// Events per second read by the watcher.
    pub fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.events as f64 / self.secs
        } else {
            0.0
        }
    }

    /// Files created per second, at the creator.
    pub fn creation_rate(&self) -> f64 {
        if self.create_secs > 0.0 {
            self.creations as f64 / self.create_secs
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

/// The storm on tmpfs under `dir`; with `watch`, watched with inotify.
pub fn run_inotify(storm: Storm, dir: &Path, watch: bool) -> io::Result<StormOutcome> {
    let scratch = Scratch::new("inotify", Some(dir.to_path_buf()))?;
    let watched = scratch.path.clone();
    let mut watcher = if watch {
        let w = Worker::spawn("inotify-watch", &[watched.to_string_lossy().into_owned(), storm.events().to_string()]);
        Some(w?)
    } else {
        None
    };
    if let Some(w) = &mut watcher {
        w.expect("ready")?;
    }
    let t0 = now_ns();
    let mut create_ns = 0u64;
    for _ in 0..storm.rounds {
        let start = now_ns();
        for i in 0..storm.per_round {
            drop(std::fs::File::create(watched.join(format!("f{i}")))?);
        }
        create_ns += now_ns() - start;
        for i in 0..storm.per_round {
            std::fs::remove_file(watched.join(format!("f{i}")))?;
        }
    }
    finish(storm, watcher, t0, create_ns)
}

/// The storm through evq's VFS domain on `system`; with `watch`, read by an
/// evq client.
pub fn run_evq(storm: Storm, system: &EvqSystem, watch: bool) -> io::Result<StormOutcome> {
    system.wait_idle()?;
    let mut watcher = if watch {
        let console = system.console_path.to_string_lossy().into_owned();
        Some(Worker::spawn("vfs-watch", &[console, storm.events().to_string()])?)
    } else {
        None
    };
    if let Some(w) = &mut watcher {
        w.expect("ready")?;
    }
    let console = system.connect()?;
    let fs = |args: [&str; 2]| -> io::Result<()> {
        let request = console::Request::Fs { args: args.iter().map(|a| a.to_string()).collect() };
        match console.request(&request)?.0 {
            console::Reply::Done { .. } => Ok(()),
            other => Err(io::Error::other(format!("fs {args:?}: {other:?}"))),
        }
    };
    let t0 = now_ns();
    let mut create_ns = 0u64;
    for _ in 0..storm.rounds {
        let start = now_ns();
        for i in 0..storm.per_round {
            fs(["touch", &format!("/f{i}")])?;
        }
        create_ns += now_ns() - start;
        for i in 0..storm.per_round {
            fs(["rm", &format!("/f{i}")])?;
        }
    }
    finish(storm, watcher, t0, create_ns)
}

/// The outcome of a storm that began at `t0` and spent `create_ns` creating:
/// with a watcher, once it has read every event.
fn finish(storm: Storm, watcher: Option<Worker>, t0: u64, create_ns: u64) -> io::Result<StormOutcome> {
    let mut out =
        StormOutcome { creations: storm.creations(), create_secs: create_ns as f64 / 1e9, ..Default::default() };
    if let Some(mut watcher) = watcher {
        let done = watcher.expect("done")?;
        watcher.finish()?;
        let mut w = done.split_whitespace().map(|x| x.parse::<u64>().ok());
        let (Some(Some(events)), Some(Some(t_last))) = (w.next(), w.next()) else {
            return Err(io::Error::other(format!("bad watcher report {done:?}")));
        };
        out.events = events;
        out.secs = t_last.saturating_sub(t0) as f64 / 1e9;
    }
    Ok(out)
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

/// One side's medians over a comparison's runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Side {
    /// Events per second the watcher read (CREATE and DELETE).
    pub events_per_s: f64,
    /// Files created per second with a watcher.
    pub with_watcher_per_s: f64,
    /// Files created per second with none.
    pub without_per_s: f64,
}

impl Side {
    /// What watching costs: the creation rate with a watcher over the rate
    /// with none (1 = nothing; the target for evq is ≥ 0.9).
    pub fn overhead_ratio(&self) -> f64 {
        if self.without_per_s > 0.0 {
            self.with_watcher_per_s / self.without_per_s
        } else {
            0.0
        }
    }
}

/// Measured side by side: `(evq, inotify)`; `runs` rounds, each a storm
/// with and without a watcher on each side (the order of with and without
/// alternating from round to round, so that a machine's drift does not
/// favour one); median rates.
pub fn compare(storm: Storm, system: &EvqSystem, dir: &Path, runs: usize) -> io::Result<(Side, Side)> {
    let mut v: [Vec<f64>; 6] = Default::default();
    for run in 0..runs.max(1) {
        for watch in if run % 2 == 0 { [true, false] } else { [false, true] } {
            let e = run_evq(storm, system, watch)?;
            let i = run_inotify(storm, dir, watch)?;
            if watch {
                v[0].push(e.rate());
                v[1].push(e.creation_rate());
                v[3].push(i.rate());
                v[4].push(i.creation_rate());
            } else {
                v[2].push(e.creation_rate());
                v[5].push(i.creation_rate());
            }
        }
    }
    let [a, b, c, d, e, f] = v.map(|mut x| common::median(&mut x));
    Ok((
        Side { events_per_s: a, with_watcher_per_s: b, without_per_s: c },
        Side { events_per_s: d, with_watcher_per_s: e, without_per_s: f },
    ))
}
