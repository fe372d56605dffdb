//! The client examples as a user runs them against a hosted system: the C
//! library's `evq-tail.c` (crates/evq-c/examples) and the Rust
//! `watch_vfs` example, each watching while the real `evq fs` commands make
//! a scripted file-system session, and printing exactly its events; and
//! the C library's hosted calls, called as C calls them, with their error
//! codes and words.
//!
//! Every wait is on a real condition (a line printed, a process ended)
//! with a deadline; each process runs in a process group of its own,
//! killed when the test ends however it ends.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use evq_hosted::console::{self, Console};

const DEADLINE: Duration = Duration::from_secs(30);

/// A process in a process group of its own, killed with its group on drop.
struct Group(Child);

impl Group {
    fn spawn(cmd: &mut Command) -> Group {
        Group(cmd.process_group(0).spawn().unwrap_or_else(|e| panic!("{cmd:?} starts: {e}")))
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the group this test made.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// `evq run` on a console of its own, up and answering.
struct System {
    dir: PathBuf,
    _group: Group,
}

impl System {
    fn start(what: &str) -> System {
        let dir = std::env::temp_dir().join(format!("evq-clients-{what}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_evq"));
        cmd.args(["run", "--no-netns", "--console"]).arg(dir.join("console"));
        cmd.env_remove("EVQ_CONSOLE").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let system = System { _group: Group::spawn(&mut cmd), dir };
        Console::connect_within(&system.console(), DEADLINE).expect("the system comes up");
        system
    }

    fn console(&self) -> PathBuf {
        self.dir.join("console")
    }

    /// `evq fs ARGS --console THIS`, which must succeed.
    fn fs(&self, args: &[&str]) {
        let out = Command::new(env!("CARGO_BIN_EXE_evq"))
            .arg("fs")
            .args(args)
            .arg("--console")
            .arg(self.console())
            .stdin(Stdio::null())
            .output()
            .expect("evq fs runs");
        assert!(out.status.success(), "evq fs {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for System {
    fn drop(&mut self) {
        if let Ok(c) = Console::connect(&self.console()) {
            let _ = c.request(&console::Request::Shutdown);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The session both examples watch, and the kinds it makes, in order.
const SESSION: [&[&str]; 5] =
    [&["mkdir", "/docs"], &["touch", "/docs/a"], &["mv", "/docs/a", "/docs/b"], &["rm", "/docs/b"], &["rm", "/docs"]];

/// Starts `cmd` with its standard output read line by line.
fn watcher(cmd: &mut Command) -> (Group, mpsc::Receiver<String>) {
    let mut group = Group::spawn(cmd.stdin(Stdio::null()).stdout(Stdio::piped()));
    let out = group.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (group, rx)
}

/// The next line, within the deadline.
fn next_line(lines: &mpsc::Receiver<String>, what: &str) -> String {
    lines.recv_timeout(DEADLINE).unwrap_or_else(|e| panic!("no {what} from the watcher ({e})"))
}

/// Waits for the watcher to exit, which it must do with status 0.
fn exits_cleanly(group: &mut Group) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = group.0.try_wait().expect("wait") {
            assert!(status.success(), "the watcher ended with {status}");
            return;
        }
        assert!(Instant::now() < deadline, "the watcher did not exit after its last event");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The number after `key=` in `line`, up to `:` or a space.
fn number_after(line: &str, key: &str) -> u64 {
    let at = line.find(key).unwrap_or_else(|| panic!("{key} in {line:?}")) + key.len();
    line[at..].split([':', ' ']).next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{key}N in {line:?}"))
}

/// Where `cargo test` put this package's `name` example.
fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().expect("test path");
    let path = deps.parent().and_then(Path::parent).expect("target dir").join("examples").join(name);
    assert!(path.exists(), "{} is not built: `cargo test` builds it (or `cargo build --examples`)", path.display());
    path
}

#[test]
fn the_watch_vfs_example_prints_the_five_events_of_a_session() {
    let sys = System::start("rust");
    let (mut group, lines) = watcher(Command::new(example("watch_vfs")).arg(sys.console()));
    assert_eq!(next_line(&lines, "first line"), "watching");
    for cmd in SESSION {
        sys.fs(cmd);
    }
    let got: Vec<String> = (0..5).map(|_| next_line(&lines, "event")).collect();
    let docs = number_after(&got[0], "object=");
    let file = number_after(&got[1], "object=");
    let tail = |line: &str| line.split_once(" source=").map(|(_, t)| t.split_once(' ').expect("detail").1.to_string());
    let want = [
        (format!("#0 vfs create object={docs}"), "name=1:\"docs\" dir".to_string()),
        (format!("#1 vfs create object={file}"), format!("name={docs}:\"a\"")),
        (format!("#2 vfs rename object={file}"), format!("from={docs}:\"a\" to={docs}:\"b\"")),
        (format!("#3 vfs delete object={file}"), format!("name={docs}:\"b\"")),
        (format!("#4 vfs delete object={docs}"), "name=1:\"docs\" dir".to_string()),
    ];
    for (line, (head, detail)) in got.iter().zip(&want) {
        assert!(line.starts_with(&format!("{head} source=")), "{line:?} is not {head:?}");
        assert_eq!(tail(line).as_deref(), Some(detail.as_str()), "{line:?}");
    }
    exits_cleanly(&mut group);
}

/// `make test` compiles `evq-tail.c` against `libevq.a` and names the
/// program in `EVQ_C_TAIL`; a plain `cargo test` has neither, so the test
/// is ignored there (`make test` runs it with `--ignored`).
#[test]
#[ignore = "needs the C example built by `make test` (EVQ_C_TAIL)"]
fn the_c_example_prints_exactly_the_events_of_a_session() {
    let program = std::env::var_os("EVQ_C_TAIL").expect("EVQ_C_TAIL names the built evq-tail (make test)");
    let sys = System::start("c");
    let (mut group, lines) = watcher(Command::new(program).arg(sys.console()).arg(SESSION.len().to_string()));
    let first = next_line(&lines, "first line");
    assert!(first.starts_with("watching queue "), "{first:?}");
    for cmd in SESSION {
        sys.fs(cmd);
    }
    let got: Vec<String> = (0..SESSION.len()).map(|_| next_line(&lines, "event")).collect();
    let docs = number_after(&got[0], "object=");
    let file = number_after(&got[1], "object=");
    assert!(docs != file && docs != 1 && file != 1, "{got:?}");
    let want = [
        format!("create object={docs} name=1:docs dir"),
        format!("create object={file} name={docs}:a"),
        format!("rename object={file} from={docs}:a to={docs}:b"),
        format!("delete object={file} name={docs}:b"),
        format!("delete object={docs} name=1:docs dir"),
    ];
    assert_eq!(got, want);
    // Then the queue's statistics, by a STATS request it encodes itself.
    let stats = next_line(&lines, "statistics");
    assert_eq!(stats, format!("stats delivered={} dropped=0", SESSION.len()));
    exits_cleanly(&mut group);
    // docs/c-api.md shows this run's output as it is, numbers included.
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../docs/c-api.md"))
        .expect("docs/c-api.md");
    let block = doc.split("checks that it prints\nexactly\n\n```\n").nth(1).and_then(|b| b.split("```").next());
    let printed = [vec![first], got, vec![stats]].concat().join("\n") + "\n";
    assert_eq!(block, Some(printed.as_str()), "the worked example in docs/c-api.md");
}

/// The words `evq_client_last_error` has for `c`.
fn last_error(c: *mut evq::hosted::evq_client) -> String {
    // SAFETY: `c` is a live client; the words are NUL-terminated.
    unsafe { std::ffi::CStr::from_ptr(evq::hosted::evq_client_last_error(c)) }.to_string_lossy().into_owned()
}

#[test]
fn the_c_librarys_hosted_calls_answer_in_codes_and_words() {
    use evq::error::*;
    use evq::hosted::*;
    use evq::request::*;
    use evq::ring::*;
    use std::ffi::CString;
    use std::ptr;

    let sys = System::start("c-calls");
    let nowhere = CString::new(sys.dir.join("nowhere").to_str().unwrap()).unwrap();
    let path = CString::new(sys.console().to_str().unwrap()).unwrap();
    let mut c = ptr::null_mut();
    // SAFETY: every pointer is this test's, live for the call;
    // `c` is a client from `evq_hosted_connect` until it is closed.
    unsafe {
        assert_eq!(evq_hosted_connect(nowhere.as_ptr(), ptr::null(), &mut c), EVQ_ERR_IO);
        assert_eq!(evq_hosted_connect(path.as_ptr(), ptr::null(), ptr::null_mut()), EVQ_ERR_INVAL);
        assert_eq!(evq_hosted_connect(path.as_ptr(), ptr::null(), &mut c), EVQ_OK);
        assert_eq!(last_error(c), "");
        let (mut queue, mut ring) = (0, evq_ring::default());
        assert_eq!(evq_client_create_queue(c, 3, &mut queue, &mut ring), EVQ_ERR_INVAL);
        assert_eq!(last_error(c), "3 pages is not a power of two from 1 to 64");
        assert_eq!(evq_client_create_queue(c, 1, &mut queue, &mut ring), EVQ_OK);
        assert_eq!(evq_ring_unread_slots(&ring), 0);
        // An empty ring and no event coming: the wait times out.
        assert_eq!(evq_client_wait(c, queue, 10), 0);
        assert_eq!(evq_client_wait(c, queue + 1, 10), EVQ_ERR_NO_QUEUE);
        assert_eq!(last_error(c), format!("this client has no queue {}", queue + 1));
        let mut filter = evq_filter::default();
        assert_eq!(evq_filter_all(evq_abi::event::Category::Vfs as u32, &mut filter), EVQ_OK);
        let mut sub = 99;
        assert_eq!(evq_client_subscribe(c, queue, &filter, &mut sub), EVQ_OK);
        assert_ne!(sub, 99);
        let bad = evq_filter { category: 0, ..filter };
        assert_eq!(evq_client_subscribe(c, queue, &bad, ptr::null_mut()), EVQ_ERR_INVAL);
        // A request of its own, refused by the server with its code.
        let (mut body, mut label, mut reply) = ([0u8; 64], 0, evq_reply::default());
        let n = evq_encode_unsubscribe(queue, 200, body.as_mut_ptr(), body.len(), &mut label);
        assert_eq!(evq_client_call(c, label, body.as_ptr(), n as usize, &mut reply), EVQ_ERR_REFUSED);
        assert_eq!(
            (reply.kind, reply.error_code),
            (EVQ_REPLY_ERROR, evq_abi::msg::ErrorCode::NoSuchSubscription as u32)
        );
        assert!(last_error(c).starts_with("the server refused: NoSuchSubscription"), "{}", last_error(c));
        let n = evq_encode_unsubscribe(queue, sub as u8, body.as_mut_ptr(), body.len(), &mut label);
        assert_eq!(evq_client_call(c, label, body.as_ptr(), n as usize, &mut reply), EVQ_OK);
        assert_eq!(reply.kind, EVQ_REPLY_DONE);
        // Create, destroy and wait go through their own calls.
        let n = evq_encode_destroy_queue(queue, body.as_mut_ptr(), body.len(), &mut label);
        assert_eq!(evq_client_call(c, label, body.as_ptr(), n as usize, &mut reply), EVQ_ERR_INVAL);
        assert_eq!(evq_client_destroy_queue(c, queue), EVQ_OK);
        assert_eq!(evq_client_destroy_queue(c, queue), EVQ_ERR_NO_QUEUE);
        evq_client_close(c);
        evq_client_close(ptr::null_mut());
    }
}
