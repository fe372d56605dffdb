//! The launcher's console: how processes outside the system (`evq tail`,
//! `evq stats`, `evq fs`, the end-to-end tests) reach it.
//!
//! A Unix seqpacket socket at a path the launcher prints. Each request is
//! one JSON datagram ([`Request`]), answered by one JSON datagram
//! ([`Reply`]). `attach` hands the caller the capabilities of one of the
//! description's `image = "attach"` domains, with the reply (`SCM_RIGHTS`):
//! its endpoint, then for a client its notification, or for a source its
//! ingest ring (a fresh memfd, at every attach), its doorbell and its room
//! notification ([`crate::ingest`]). The caller then holds exactly what
//! that domain would hold, and nothing else; the slot is its own until its
//! console connection closes, when the launcher reports the domain gone (a
//! client's queues are reclaimed) and the slot is free again.
//!
//! The console is the launcher's, like a serial console is the root task's:
//! no domain holds it. This module is its protocol and the connection a
//! process outside the system holds; the launcher's side is
//! `launcher::console`.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use evq_source::WhenFull;

pub use crate::admin::ClockAnchor;
use crate::admin::ServerStatus;
use crate::client::Client;
use crate::ingest::{Publisher, SourceLink};
use crate::sys;
use crate::wire::Endpoint;

/// The largest console datagram.
pub const MAX_MESSAGE: usize = 1 << 16;

/// The console protocol's version, which the `status` reply carries
/// (`docs/console.md`): raised when a request or reply changes so that an
/// older client would misread it; fields and requests added alongside
/// leave it as it is.
pub const VERSION: u32 = 1;

/// The most bytes one `fs-write` request carries: the VFS domain's largest
/// file ([`evq_vfs::limits::MAX_FILE_SIZE`], 16 KiB), which, as hex, fits
/// in one console datagram with its path and room to spare.
pub const MAX_FS_WRITE: usize = evq_vfs::limits::MAX_FILE_SIZE as usize;

// Two hex digits a byte, and room for the rest of the request.
const _: () = assert!(2 * MAX_FS_WRITE + 16 * 1024 <= MAX_MESSAGE);

/// The most packets one `traffic` request sends (about 2 µs each, so the
/// launcher's loop is held at most a few milliseconds).
pub const MAX_TRAFFIC: u32 = 1000;

/// A request to the launcher.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// Take an attach slot: the named one, or the first free one of `role`
    /// (`"client"` or `"source"`) that is not lossless (a lossless client
    /// slot is taken only by name).
    Attach {
        /// A domain name, or none for the first free slot.
        domain: Option<String>,
        /// `"client"` or `"source"` when no name is given.
        role: String,
    },
    /// Report the system's state.
    Status,
    /// A file-system request for the VFS domain (`evq fs`): the words of the
    /// command line after `fs`.
    Fs {
        /// The command and its arguments.
        args: Vec<String>,
    },
    /// Write bytes to a file, making it if need be (`evq fs write`): in
    /// place of what it held, or after it with `append`. The launcher
    /// splits them into as many VFS `Write`s as they need, so up to
    /// [`MAX_FS_WRITE`] bytes go in one request.
    FsWrite {
        /// The file's absolute path.
        path: String,
        /// The bytes, as hex ([`to_hex`]).
        hex: String,
        /// Append rather than replace the contents.
        #[serde(default)]
        append: bool,
    },
    /// Read a whole file, byte for byte (`evq fs cat`); answered
    /// [`Reply::Bytes`].
    FsRead {
        /// The file's absolute path.
        path: String,
    },
    /// List a subtree of the VFS, the named directory (or file) first, every
    /// directory before its entries, crossing mount points; answered
    /// [`Reply::Tree`]. A directory's entries come in name order.
    Tree {
        /// An absolute path.
        path: String,
    },
    /// Set the link of the network driver's interface peer up or down (only
    /// where the launcher made a veth pair).
    Link {
        /// Up or down.
        up: bool,
    },
    /// Send `packets` frames through the watched interface's peer to it
    /// (veth), or datagrams over loopback, so the network driver has
    /// traffic to count. More than [`MAX_TRAFFIC`] is refused: the launcher
    /// sends them on its own loop, where supervision waits while it does.
    Traffic {
        /// How many, at most [`MAX_TRAFFIC`].
        packets: u32,
        /// Send them from the watched interface to its peer (veth), so that
        /// its TX counters move rather than its RX; `false` when absent.
        /// Loopback counts every datagram both ways, so there it changes
        /// nothing.
        #[serde(default)]
        tx: bool,
    },
    /// Stop the system.
    Shutdown,
}

/// The launcher's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub enum Reply {
    /// The slot is yours; its capabilities came with this reply.
    Attached {
        /// The domain's name.
        domain: String,
        /// Its id (process events carry it as their object).
        id: u32,
        /// Its badge.
        badge: u64,
        /// A source: its ingest ring's data pages (the ring's memfd is
        /// the second descriptor, after the endpoint; then the doorbell
        /// and the room notification).
        #[serde(default)]
        ingest_pages: Option<u32>,
    },
    /// The system's state.
    Status(Box<Status>),
    /// Done; `output` says what happened, if anything.
    Done {
        /// What to show the user.
        output: String,
    },
    /// A file's bytes, as `fs-read` asked.
    Bytes {
        /// The bytes, as hex ([`to_hex`]): JSON strings cannot carry
        /// arbitrary bytes.
        hex: String,
    },
    /// The subtree, as `Tree` asked.
    Tree {
        /// Its entries, in the order `Tree` gives.
        entries: Vec<TreeEntry>,
    },
    /// Refused.
    Error {
        /// Why.
        message: String,
    },
}

impl Reply {
    /// Its kind, as the console names it (the `reply` field of
    /// docs/console.md).
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Attached { .. } => "attached",
            Reply::Status(_) => "status",
            Reply::Done { .. } => "done",
            Reply::Bytes { .. } => "bytes",
            Reply::Tree { .. } => "tree",
            Reply::Error { .. } => "error",
        }
    }

    /// The error for a reply of a kind the request does not take, in words
    /// (its whole value, a status say, would be no message).
    pub fn unexpected(&self) -> io::Error {
        io::Error::other(format!(
            "the launcher answered with a {} reply, which this request does not take",
            self.kind()
        ))
    }
}

/// One entry of a `tree` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// Its absolute path, "/" for the root.
    pub path: String,
    /// Its inode: the `object_id` VFS events about it carry (inside a mounted file system too).
    pub inode: u64,
    /// A directory (a mounted file system's root counts as one).
    pub dir: bool,
    /// Its permission bits.
    pub mode: u32,
    /// Bytes (files), 0 for directories.
    pub size: u64,
    /// Names pointing at it.
    pub nlink: u32,
}

/// Bytes as lowercase hex, two digits a byte: how `fs-write` and
/// [`Reply::Bytes`] carry data a JSON string could not.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|&b| [DIGITS[usize::from(b >> 4)] as char, DIGITS[usize::from(b & 15)] as char]).collect()
}

/// The bytes `hex` spells (either case); refused in words where it is not
/// an even number of hex digits.
pub fn from_hex(hex: &str) -> Result<Vec<u8>, String> {
    if !hex.len().is_multiple_of(2) {
        return Err(format!("{} hex digits is an odd number: two make a byte", hex.len()));
    }
    let digit = |at: usize| {
        let c = hex.as_bytes()[at];
        (c as char).to_digit(16).map(|d| d as u8).ok_or_else(|| format!("{:?} at {at} is not a hex digit", c as char))
    };
    (0..hex.len() / 2).map(|i| Ok(digit(2 * i)? << 4 | digit(2 * i + 1)?)).collect()
}

/// One domain's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainStatus {
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: u32,
    /// Its image.
    pub image: String,
    /// `server`, `source`, `client` or `plain`.
    pub role: String,
    /// Its badge, for sources and clients.
    pub badge: Option<u64>,
    /// Its process, while it runs.
    pub pid: Option<i32>,
    /// `running`, `exited N`, `killed by SIG…`, `free` or `attached`.
    pub state: String,
}

/// The system's state, as `evq stats` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The console protocol's [`VERSION`].
    #[serde(default)]
    pub version: u32,
    /// The board.
    pub board: String,
    /// `on`, `unavailable` (the kernel has no seccomp filters) or `disabled`.
    pub seccomp: String,
    /// How the network driver is given an interface.
    pub network: String,
    /// The device driver's terminal: write to it to make input events.
    pub pty: Option<String>,
    /// Every domain.
    pub domains: Vec<DomainStatus>,
    /// The domains the launcher started that have ended other than by
    /// exiting with 0, each as `NAME STATE` (`vfs killed by SIGSEGV`): the
    /// system is degraded while there is one. Empty: every started domain
    /// runs or ended cleanly.
    #[serde(default)]
    pub degraded: Vec<String>,
    /// The server's own report.
    pub server: ServerStatus,
}

/// Reads one console datagram as a request: what the launcher runs on each
/// datagram it receives. Refused bytes are answered with
/// [`Reply::Error`] carrying this message: `bad request: ` and serde_json's
/// words for what is wrong, with its line and column.
pub fn decode_request(datagram: &[u8]) -> Result<Request, String> {
    serde_json::from_slice(datagram).map_err(|e| format!("bad request: {e}"))
}

/// Reads one console datagram as the launcher's reply: what a connection
/// ([`Console::request`]) runs on each answer. The error is
/// `bad reply from the launcher: ` and serde_json's words.
pub fn decode_reply(datagram: &[u8]) -> Result<Reply, String> {
    serde_json::from_slice(datagram).map_err(|e| format!("bad reply from the launcher: {e}"))
}

/// Where the console is when none is named: `$EVQ_CONSOLE`, else
/// `$XDG_RUNTIME_DIR/evq-console`, else `/tmp/evq-<uid>-console`.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("EVQ_CONSOLE") {
        return p.into();
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        return Path::new(&dir).join("evq-console");
    }
    PathBuf::from(format!("/tmp/evq-{}-console", sys::uid()))
}

/// A connection to a launcher's console.
pub struct Console {
    fd: OwnedFd,
}

impl Console {
    /// Connects to the console at `path`.
    pub fn connect(path: &Path) -> io::Result<Console> {
        let fd = sys::connect_seqpacket(path)
            .map_err(|e| io::Error::new(e.kind(), format!("no evq system at {}: {e}", path.display())))?;
        Ok(Console { fd })
    }

    /// Connects, retrying until `timeout` passes: for a system that is
    /// still starting (the console opens once every domain runs).
    pub fn connect_within(path: &Path, timeout: Duration) -> io::Result<Console> {
        let deadline = Instant::now() + timeout;
        loop {
            match Self::connect(path) {
                Ok(c) => return Ok(c),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// Sends a request and returns the reply and the descriptors with it.
    pub fn request(&self, request: &Request) -> io::Result<(Reply, Vec<OwnedFd>)> {
        let out = serde_json::to_vec(request).map_err(io::Error::other)?;
        if out.len() > MAX_MESSAGE {
            return Err(io::Error::other(format!(
                "the request is {} bytes as JSON, more than one console datagram carries ({MAX_MESSAGE})",
                out.len()
            )));
        }
        sys::send(self.fd.as_fd(), &out, &[], false)?;
        let mut buf = vec![0u8; MAX_MESSAGE];
        let got = sys::recv(self.fd.as_fd(), &mut buf, sys::MAX_FDS, false)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "the launcher closed the console"))?;
        let reply = decode_reply(&buf[..got.len]).map_err(io::Error::other)?;
        Ok((reply, got.fds))
    }

    /// The system's state.
    pub fn status(&self) -> io::Result<Status> {
        match self.request(&Request::Status)?.0 {
            Reply::Status(s) => Ok(*s),
            Reply::Error { message } => Err(io::Error::other(message)),
            other => Err(other.unexpected()),
        }
    }

    /// The subtree at `path`, as the `tree` request lists it; a refusal
    /// (no such path, a subtree too large for one reply) is the error, in
    /// the launcher's words.
    pub fn tree(&self, path: &str) -> io::Result<Vec<TreeEntry>> {
        match self.request(&Request::Tree { path: path.into() })?.0 {
            Reply::Tree { entries } => Ok(entries),
            Reply::Error { message } => Err(io::Error::other(message)),
            other => Err(other.unexpected()),
        }
    }

    fn attach(&self, domain: Option<&str>, role: &str) -> io::Result<(String, Vec<OwnedFd>)> {
        let request = Request::Attach { domain: domain.map(Into::into), role: role.into() };
        match self.request(&request)? {
            (Reply::Attached { domain, .. }, fds) => Ok((domain, fds)),
            (Reply::Error { message }, _) => Err(io::Error::other(message)),
            (other, _) => Err(other.unexpected()),
        }
    }

    /// Attaches as a client (the named slot, or the first free one).
    pub fn attach_client(&self, domain: Option<&str>) -> io::Result<(String, Client)> {
        let (name, fds) = self.attach(domain, "client")?;
        let mut fds = fds.into_iter();
        let (Some(ep), Some(note)) = (fds.next(), fds.next()) else {
            return Err(io::Error::other("the launcher sent no client capabilities"));
        };
        Ok((name, Client::new(Endpoint::new(ep)?, note)))
    }

    /// Attaches as a source (the named slot, or the first free one): a
    /// publisher through the slot's ingest ring, which waits for room when
    /// the ring is full; its link keeps the endpoint for calls.
    pub fn attach_source(&self, domain: Option<&str>) -> io::Result<(String, Publisher)> {
        let (name, fds) = self.attach(domain, "source")?;
        let mut fds = fds.into_iter();
        let (Some(ep), Some(ring), Some(doorbell), Some(room)) = (fds.next(), fds.next(), fds.next(), fds.next())
        else {
            return Err(io::Error::other("the launcher sent no source capabilities"));
        };
        let link = SourceLink::new(Endpoint::new(ep)?, ring, doorbell, room, WhenFull::Wait)?;
        Ok((name, Publisher::new(link)))
    }

    /// The connection, for polling (it hangs up when the launcher stops).
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_of_the_wrong_kind_is_named_as_the_console_names_it() {
        let replies = [
            Reply::Attached { domain: "d".into(), id: 1, badge: 2, ingest_pages: None },
            Reply::Done { output: String::new() },
            Reply::Bytes { hex: String::new() },
            Reply::Tree { entries: Vec::new() },
            Reply::Error { message: String::new() },
        ];
        for reply in replies {
            let json = serde_json::to_value(&reply).unwrap();
            assert_eq!(json["reply"], reply.kind(), "{json}");
            let said = reply.unexpected().to_string();
            assert_eq!(
                said,
                format!("the launcher answered with a {} reply, which this request does not take", reply.kind())
            );
        }
    }

    #[test]
    fn a_datagram_decodes_to_its_request_and_bad_bytes_are_refused_in_words() {
        assert_eq!(decode_request(br#"{"op":"link","up":true}"#), Ok(Request::Link { up: true }));
        assert_eq!(decode_request(br#"{"op":"status"}"#), Ok(Request::Status));
        let refused = decode_request(br#"{"op":"reboot"}"#).unwrap_err();
        assert!(refused.starts_with("bad request: unknown variant `reboot`"), "{refused}");
        let refused = decode_request(b"\xff").unwrap_err();
        assert!(refused.starts_with("bad request: expected value at line 1 column 1"), "{refused}");
        let reply = decode_reply(br#"{"reply":"done","output":"ok"}"#);
        assert_eq!(reply, Ok(Reply::Done { output: "ok".into() }));
        assert!(decode_reply(b"{}").unwrap_err().starts_with("bad reply from the launcher: "));
    }

    #[test]
    fn the_tree_and_file_requests_are_the_json_the_docs_give() {
        assert_eq!(decode_request(br#"{"op":"tree","path":"/a"}"#), Ok(Request::Tree { path: "/a".into() }));
        let entry = TreeEntry { path: "/".into(), inode: 1, dir: true, mode: 0o755, size: 0, nlink: 1 };
        let json = serde_json::to_string(&Reply::Tree { entries: vec![entry] }).unwrap();
        assert_eq!(
            json,
            r#"{"reply":"tree","entries":[{"path":"/","inode":1,"dir":true,"mode":493,"size":0,"nlink":1}]}"#
        );
        let write = br#"{"op":"fs-write","path":"/a","hex":"00ff"}"#;
        assert_eq!(
            decode_request(write),
            Ok(Request::FsWrite { path: "/a".into(), hex: "00ff".into(), append: false })
        );
        assert_eq!(decode_request(br#"{"op":"fs-read","path":"/a"}"#), Ok(Request::FsRead { path: "/a".into() }));
        let bytes = serde_json::to_string(&Reply::Bytes { hex: to_hex(b"a\0\n\xff") }).unwrap();
        assert_eq!(bytes, r#"{"reply":"bytes","hex":"61000aff"}"#);
    }

    #[test]
    fn hex_round_trips_and_bad_hex_is_refused_in_words() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(from_hex(&to_hex(&all)), Ok(all));
        assert_eq!(from_hex("0A0b"), Ok(vec![10, 11]));
        assert_eq!(from_hex("abc"), Err("3 hex digits is an odd number: two make a byte".into()));
        assert_eq!(from_hex("0g"), Err("'g' at 1 is not a hex digit".into()));
    }
}
