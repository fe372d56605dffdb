//! The launcher's side of the console (`crate::console` is its protocol):
//! one JSON request per datagram from processes outside the system, and
//! the attach slots they hold until their connection closes.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use evq_system::Domain;

use super::{err, role_name, Launcher, State};
use crate::boot::image;
use crate::console::{decode_request, from_hex, to_hex, Reply, Request, MAX_MESSAGE, MAX_TRAFFIC};
use crate::sys;

impl Launcher {
    /// Handles one console datagram; `true` when asked to stop.
    pub(super) fn console_message(&mut self, conn: u64) -> io::Result<bool> {
        let Some(pos) = self.conns.iter().position(|c| c.id == conn) else {
            return Ok(false);
        };
        let mut buf = vec![0u8; MAX_MESSAGE];
        let got = sys::recv(self.conns[pos].fd.as_fd(), &mut buf, 0, true);
        let got = match got {
            Ok(Some(g)) => g,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Ok(None) | Err(_) => {
                self.conns.remove(pos);
                self.detach_all(conn)?;
                return Ok(false);
            }
        };
        let (reply, fds, stop) = match decode_request(&buf[..got.len]) {
            Ok(request) => self.console_request(conn, request)?,
            Err(message) => (Reply::Error { message }, Vec::new(), false),
        };
        let mut out = serde_json::to_vec(&reply).map_err(io::Error::other)?;
        if out.len() > MAX_MESSAGE {
            // A reply too large to send (a tree of long paths) is refused in
            // words rather than cut short.
            let message = format!(
                "the reply is {} bytes as JSON, more than one console datagram carries ({MAX_MESSAGE}); ask for less \
                 (a smaller subtree)",
                out.len()
            );
            out = serde_json::to_vec(&Reply::Error { message }).map_err(io::Error::other)?;
        }
        let borrowed: Vec<_> = fds.iter().map(|f| f.as_fd()).collect();
        if sys::send(self.conns[pos].fd.as_fd(), &out, &borrowed, true).is_err() {
            self.log("a console reply could not be sent");
        }
        Ok(stop)
    }

    fn console_request(&mut self, conn: u64, request: Request) -> io::Result<(Reply, Vec<OwnedFd>, bool)> {
        let done = |output: String| Reply::Done { output };
        let refuse = |message: String| Reply::Error { message };
        Ok(match request {
            Request::Attach { domain, role } => match self.attach(conn, domain.as_deref(), &role) {
                Ok((reply, fds)) => (reply, fds, false),
                Err(e) => (refuse(e.to_string()), Vec::new(), false),
            },
            // A server that does not answer is said to the caller; it does
            // not end the launcher.
            Request::Status => match self.status() {
                Ok(status) => (Reply::Status(Box::new(status)), Vec::new(), false),
                Err(e) => (refuse(format!("the server's status: {e}")), Vec::new(), false),
            },
            Request::Shutdown => (done("stopping".into()), Vec::new(), true),
            Request::Link { up } => match self.net.as_mut().map(|n| n.set_link(up)) {
                Some(Ok(s)) => (done(s), Vec::new(), false),
                Some(Err(e)) => (refuse(e.to_string()), Vec::new(), false),
                None => (refuse("this system has no network driver".into()), Vec::new(), false),
            },
            Request::Traffic { packets } if packets > MAX_TRAFFIC => (
                refuse(format!(
                    "{packets} packets is more than the {MAX_TRAFFIC} one traffic request sends; ask in pieces"
                )),
                Vec::new(),
                false,
            ),
            Request::Traffic { packets } => match self.net.as_mut().map(|n| n.traffic(packets)) {
                Some(Ok(s)) => (done(s), Vec::new(), false),
                Some(Err(e)) => (refuse(e.to_string()), Vec::new(), false),
                None => (refuse("this system has no network driver".into()), Vec::new(), false),
            },
            Request::Fs { args } => match super::fs::forward(self.vfs.as_ref().map(|v| &v.0), &args) {
                Ok(s) => (done(s), Vec::new(), false),
                Err(e) => (refuse(e.to_string()), Vec::new(), false),
            },
            Request::FsWrite { path, hex, append } => {
                let written = from_hex(&hex)
                    .map_err(|e| err(format!("write {path}: the data is not hex: {e}")))
                    .and_then(|data| super::fs::write(self.vfs.as_ref().map(|v| &v.0), &path, &data, append));
                match written {
                    Ok(s) => (done(s), Vec::new(), false),
                    Err(e) => (refuse(e.to_string()), Vec::new(), false),
                }
            }
            Request::FsRead { path } => match super::fs::read(self.vfs.as_ref().map(|v| &v.0), &path) {
                Ok(bytes) => (Reply::Bytes { hex: to_hex(&bytes) }, Vec::new(), false),
                Err(e) => (refuse(e.to_string()), Vec::new(), false),
            },
            Request::Tree { path } => match super::fs::tree(self.vfs.as_ref().map(|v| &v.0), &path) {
                Ok(entries) => (Reply::Tree { entries }, Vec::new(), false),
                Err(e) => (refuse(e.to_string()), Vec::new(), false),
            },
        })
    }

    fn attach(&mut self, conn: u64, name: Option<&str>, role: &str) -> io::Result<(Reply, Vec<OwnedFd>)> {
        let index = match name {
            Some(n) => {
                let (id, d) = self.system.domain(n).ok_or_else(|| err(format!("no domain {n:?}")))?;
                if d.image != image::ATTACH {
                    return Err(err(format!("{n} is not an attach slot (its image is {:?})", d.image)));
                }
                if !matches!(self.states[id as usize - 1], State::Free) {
                    return Err(err(format!("{n} is taken")));
                }
                id as usize - 1
            }
            None => self
                .system
                .domains
                .iter()
                .enumerate()
                .position(|(i, d)| {
                    // A lossless slot holds back every source whose events
                    // it takes: it is taken only by name, on purpose.
                    d.image == image::ATTACH
                        && role_name(&d.role) == role
                        && !d.lossless
                        && matches!(self.states[i], State::Free)
                })
                .ok_or_else(|| err(format!("no free {role} slot: every attach slot of that role is taken")))?,
        };
        let d: &'static Domain<'static> = &self.system.domains[index];
        let Some(badge) = d.badge() else {
            return Err(err(format!("{} has no endpoint", d.name)));
        };
        // Every capability of the slot is made afresh for its new holder,
        // and the server lets go of the old ones before it takes a request
        // from the new endpoint: nothing the slot's last holder kept (an
        // endpoint, a notification, a ring's mapping and unread entries)
        // reaches the slot or sees what happens in it. The endpoint goes
        // first, so that the old one is closed by the first message the
        // server takes, whichever wake-up takes the rest.
        let (srv, dom) = sys::seqpacket_pair()?;
        self.give_endpoint(badge, srv)?;
        let mut fds = vec![dom];
        if self.client_notes.contains_key(d.name) {
            let note = sys::eventfd()?;
            self.give_notification(badge, &note)?;
            fds.push(note.try_clone()?);
            self.client_notes.insert(d.name, note);
        }
        let ingest_pages = d.ingest_ring_pages();
        if ingest_pages.is_some() {
            let notes = (sys::eventfd()?, sys::eventfd()?);
            fds.push(self.new_ingest(d, Some(&notes))?);
            fds.push(notes.0.try_clone()?);
            fds.push(notes.1.try_clone()?);
            self.source_notes.insert(badge, notes);
        }
        let pid = self.conns.iter().find(|c| c.id == conn).and_then(|c| sys::peer_pid(c.fd.as_fd()).ok());
        self.states[index] = State::Attached { conn, pid };
        self.attached(index)?;
        self.log(&format!("{} attached (pid {pid:?})", d.name));
        Ok((Reply::Attached { domain: d.name.into(), id: index as u32 + 1, badge, ingest_pages }, fds))
    }

    /// A console connection closed: the slots it held are free again, and
    /// their domains are reported gone.
    fn detach_all(&mut self, conn: u64) -> io::Result<()> {
        for index in 0..self.states.len() {
            if !matches!(self.states[index], State::Attached { conn: c, .. } if c == conn) {
                continue;
            }
            self.states[index] = State::Free;
            let d = &self.system.domains[index];
            self.log(&format!("{} detached", d.name));
            self.detached(index)?;
        }
        Ok(())
    }
}
