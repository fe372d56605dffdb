//! The VFS from the command line, as a user runs it: `evq fs ls`, `stat`,
//! `tree`, `truncate`, `write` (replacing, `--append`, from standard
//! input, larger than one VFS message) and `cat` (byte for byte), against
//! a running hosted system; and the console's `tree` request they stand on,
//! whose inodes are the ones VFS events carry, across a mount.

mod common;

use std::time::{Duration, Instant};

use common::*;
use evq_abi::event::{decode_dentry, vfs, Category};
use evq_abi::msg::Filter;
use evq_hosted::client::{Client, HostedQueue};
use evq_hosted::console::{self, Console, TreeEntry};

/// `evq fs ARGS` on `sys`, which must succeed; its standard output.
fn fs(sys: &System, args: &[&str]) -> String {
    let mut all = vec!["fs"];
    all.extend_from_slice(args);
    sys.ok(&all)
}

/// `evq fs mount DIR`'s answer: the mounted root's inode.
fn mount(sys: &System, dir: &str) -> u64 {
    let said = fs(sys, &["mount", dir]);
    said.trim().rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("an inode in {said:?}"))
}

/// A VFS event as a watcher saw it.
#[derive(Debug)]
struct Seen {
    kind: u8,
    flags: u8,
    object: u64,
    payload: Vec<u8>,
}

/// A client on `sys`'s console subscribed to every VFS event.
struct Watcher {
    client: Client,
    q: HostedQueue,
    /// Holds the client's slot.
    _console: Console,
}

impl Watcher {
    fn new(sys: &System) -> Watcher {
        let console = Console::connect(&sys.console()).expect("console");
        let (_, mut client) = console.attach_client(None).expect("client");
        let q = client.create_queue(4).expect("queue");
        client.subscribe(&q, Filter::all_of(Category::Vfs)).expect("subscribe");
        Watcher { client, q, _console: console }
    }

    /// The next `n` events, waiting for them with a deadline.
    fn take(&mut self, n: usize) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut out = Vec::new();
        loop {
            while let Some(e) = self.q.next_event().expect("ring reads") {
                let payload = e.payload.to_vec();
                out.push(Seen { kind: e.kind, flags: e.type_flags, object: e.object_id, payload });
            }
            if out.len() >= n {
                return out;
            }
            assert!(Instant::now() < deadline, "timed out with {} of {n} events: {out:?}", out.len());
            self.client.wait(&mut self.q, Duration::from_millis(200)).expect("wait");
        }
    }
}

fn entry<'a>(tree: &'a [TreeEntry], path: &str) -> &'a TreeEntry {
    tree.iter().find(|e| e.path == path).unwrap_or_else(|| panic!("{path} not in {tree:#?}"))
}

#[test]
fn the_tree_request_lists_a_subtree_across_a_mount_with_the_inodes_events_carry() {
    let sys = System::start();
    let console = Console::connect(&sys.console()).expect("console");
    let mut watcher = Watcher::new(&sys);

    fs(&sys, &["mkdir", "/a"]);
    fs(&sys, &["mkdir", "/a/b"]);
    fs(&sys, &["write", "/a/f", "four"]);
    fs(&sys, &["mkdir", "/m"]);
    let root = mount(&sys, "/m");
    fs(&sys, &["touch", "/m/in"]);
    fs(&sys, &["mkdir", "/m/sub"]);
    fs(&sys, &["touch", "/m/sub/deep"]);

    let tree = console.tree("/").expect("a tree");
    let paths: Vec<&str> = tree.iter().map(|e| e.path.as_str()).collect();
    // The named directory first, each directory before its entries, names
    // in order, the mounted file system's names under the mount point.
    assert_eq!(paths, ["/", "/a", "/a/b", "/a/f", "/m", "/m/in", "/m/sub", "/m/sub/deep"]);
    let top = entry(&tree, "/");
    assert_eq!((top.inode, top.dir, top.mode, top.size), (1, true, 0o755, 0));
    let f = entry(&tree, "/a/f");
    assert_eq!((f.dir, f.mode, f.size, f.nlink), (false, 0o644, 4, 1));
    // The mount point's entry is the mounted root: fs_id << 48 | 1.
    let m = entry(&tree, "/m");
    assert_eq!((m.inode, m.dir), (root, true));
    assert_eq!(root & ((1 << 48) - 1), 1, "a mounted root is n = 1 of its file system");
    assert_ne!(root >> 48, 0, "in a file system of its own");

    // The events name the same inodes: a CREATE's object is the entry's
    // inode, its parent the directory's, inside the mount too.
    // mkdir ×4, write, mount, touch ×2: CREATE ×3, CREATE and ATTRIB,
    // CREATE and MOUNT, CREATE ×2.
    let creates: Vec<(u64, u64, String)> = watcher
        .take(9)
        .into_iter()
        .filter(|e| e.kind == vfs::CREATE)
        .map(|e| {
            let (parent, name) = decode_dentry(&e.payload).expect("dentry");
            (e.object, parent, String::from_utf8_lossy(name).into_owned())
        })
        .collect();
    let parent_of = |path: &str| entry(&tree, &path[..path.rfind('/').unwrap().max(1)]).inode;
    for path in ["/a", "/a/b", "/a/f", "/m", "/m/in", "/m/sub", "/m/sub/deep"] {
        let name = &path[path.rfind('/').unwrap() + 1..];
        let want = (entry(&tree, path).inode, parent_of(path), name.to_string());
        let covered = path == "/m";
        // The mount point's own CREATE names the directory it was before
        // the mount: the tree shows what a path leads to now.
        if covered {
            assert!(creates.iter().any(|c| c.1 == 1 && c.2 == "m" && c.0 != root), "{creates:?}");
        } else {
            assert!(creates.contains(&want), "{path}: {want:?} not in {creates:?}");
        }
    }

    // A subtree, a file, and refusals in words.
    let sub: Vec<String> = console.tree("/m/sub/").expect("a subtree").into_iter().map(|e| e.path).collect();
    assert_eq!(sub, ["/m/sub", "/m/sub/deep"]);
    let one = console.tree("/a/f").expect("a file's tree");
    assert_eq!(one, vec![f.clone()]);
    let missing = console.tree("/nope").unwrap_err().to_string();
    assert_eq!(missing, "/nope: no such file or directory");
    let relative = console.tree("a").unwrap_err().to_string();
    assert_eq!(relative, "a: paths start with /");
}

#[test]
fn a_tree_too_large_for_one_console_reply_is_refused_in_words() {
    let sys = System::start();
    let console = Console::connect(&sys.console()).expect("console");
    // 40 nested directories of 200-byte names: the paths alone are
    // 201 × (1 + 2 + … + 40) = 164,820 bytes, past the 65,536 a reply has.
    let name = "d".repeat(200);
    let mut path = String::new();
    for _ in 0..40 {
        path = format!("{path}/{name}");
        fs(&sys, &["mkdir", &path]);
    }
    let refused = console.tree("/").unwrap_err().to_string();
    assert!(refused.starts_with("the reply is "), "{refused}");
    assert!(refused.contains("more than one console datagram carries (65536)"), "{refused}");
    // A smaller subtree still comes.
    let deep = console.tree(&path).expect("the deepest directory");
    assert_eq!(deep.len(), 1);
}

/// `evq fs ARGS` with `stdin` on standard input, which must succeed; its
/// standard output.
fn fs_with(sys: &System, args: &[&str], stdin: &[u8]) -> String {
    let mut all = vec!["fs"];
    all.extend_from_slice(args);
    let said = sys.evq_with(&all, Some(stdin));
    assert_quiet(&format!("evq {all:?}"), &said.stderr);
    assert!(said.status.success(), "evq {all:?}: {:?}\n{}", said.status, said.stderr);
    said.stdout
}

/// `evq fs cat PATH`'s standard output, byte for byte.
fn cat(sys: &System, path: &str) -> Vec<u8> {
    let said = sys.evq(&["fs", "cat", path]);
    assert!(said.status.success(), "evq fs cat {path}: {}", said.stderr);
    said.bytes
}

#[test]
fn each_new_command_s_help_describes_every_option() {
    let cases: &[(&str, &[&str])] = &[
        ("write", &["--append", "standard input", "`-`", "16384", "936"]),
        ("cat", &["exactly"]),
        ("ls", &["-l", "octal", "inode", "[default: /]"]),
        ("stat", &["--json", "inode", "mode", "nlink", "atime_ns", "mtime_ns"]),
        ("tree", &["--json", "[default: /]", "mount"]),
        ("truncate", &["SIZE", "zero bytes", "16384"]),
    ];
    for (cmd, words) in cases {
        let said = run_evq(&["fs", cmd, "--help"]);
        assert!(said.status.success(), "evq fs {cmd} --help: {}", said.stderr);
        for w in *words {
            assert!(said.stdout.contains(w), "evq fs {cmd} --help does not say {w:?}:\n{}", said.stdout);
        }
    }
}

#[test]
fn write_replaces_or_appends_and_cat_prints_exactly_the_bytes() {
    let sys = System::start();
    fs(&sys, &["write", "/f", "hello", "world"]);
    assert_eq!(cat(&sys, "/f"), b"hello world", "no newline added");
    let said = fs(&sys, &["write", "/f", "bye"]);
    assert!(said.contains("write /f: 3 bytes") && said.contains("now 3 bytes"), "{said}");
    assert_eq!(cat(&sys, "/f"), b"bye", "a write replaces what the file held");
    fs(&sys, &["write", "--append", "/f", "and", "more"]);
    // A text that starts with `-` after `--`, and the console before it.
    let c = sys.console();
    let said = run_evq(&["fs", "--console", c.to_str().unwrap(), "write", "/f", "-a", "--", "-n"]);
    assert!(said.status.success(), "{}", said.stderr);
    assert_eq!(cat(&sys, "/f"), b"byeand more-n");
    // Standard input, with `-` or no text: bytes of every value, a NUL,
    // no trailing newline.
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 256) as u8).collect();
    assert!(data.contains(&0) && data.last() != Some(&b'\n'));
    fs_with(&sys, &["write", "/big"], &data);
    assert_eq!(cat(&sys, "/big"), data);
    fs_with(&sys, &["write", "/big", "-"], b"a\0b");
    assert_eq!(cat(&sys, "/big"), b"a\0b");
    fs_with(&sys, &["write", "--append", "/big", "-"], &data[..1000]);
    let mut want = b"a\0b".to_vec();
    want.extend_from_slice(&data[..1000]);
    assert_eq!(cat(&sys, "/big"), want);
    fs_with(&sys, &["write", "/empty"], b"");
    assert_eq!(cat(&sys, "/empty"), b"");
}

#[test]
fn a_large_write_goes_in_messages_of_at_most_936_bytes_at_their_offsets() {
    let sys = System::start();
    let mut watcher = Watcher::new(&sys);
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    fs_with(&sys, &["write", "/big"], &data);
    assert_eq!(cat(&sys, "/big"), data);
    // CREATE, then one ATTRIB per WRITE: 5000 bytes are six messages
    // (5 × 936 + 320).
    let kinds: Vec<u8> = watcher.take(7).iter().map(|e| e.kind).collect();
    let mut want = vec![vfs::CREATE];
    want.extend([vfs::ATTRIB; 6]);
    assert_eq!(kinds, want);
    // Replacing it: a SET_ATTR to size 0 (its ATTRIB says the size), then
    // two WRITEs for 1000 bytes.
    fs_with(&sys, &["write", "/big"], &data[..1000]);
    assert_eq!(cat(&sys, "/big"), &data[..1000]);
    let replaced = watcher.take(3);
    assert!(replaced.iter().all(|e| e.kind == vfs::ATTRIB), "{replaced:?}");
    let attribs: Vec<u8> = replaced.iter().map(|e| e.flags).collect();
    use vfs::flags::{ATTR_MTIME, ATTR_SIZE};
    assert_eq!(attribs, [ATTR_SIZE | ATTR_MTIME, ATTR_MTIME | ATTR_SIZE, ATTR_MTIME | ATTR_SIZE]);
}

#[test]
fn truncate_then_stat_and_ls_and_tree_show_a_tree_with_a_mount_in_it() {
    let sys = System::start();
    let data: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    fs_with(&sys, &["write", "/f"], &data);
    fs(&sys, &["truncate", "/f", "100"]);
    let stat = fs(&sys, &["stat", "/f"]);
    for line in ["path: /f\n", "type: file\n", "mode: 0644\n", "size: 100\n", "nlink: 1\n", "atime_ns: ", "mtime_ns: "]
    {
        assert!(stat.contains(line), "{line:?} not in {stat}");
    }
    assert_eq!(cat(&sys, "/f"), &data[..100]);
    fs(&sys, &["truncate", "/f", "150"]);
    let mut want = data[..100].to_vec();
    want.resize(150, 0);
    assert_eq!(cat(&sys, "/f"), want, "extended with zero bytes");
    let json: serde_json::Value = serde_json::from_str(fs(&sys, &["stat", "--json", "/f"]).trim()).expect("JSON");
    assert_eq!(
        (json["size"].as_u64(), json["mode"].as_u64(), json["type"].as_str()),
        (Some(150), Some(0o644), Some("file"))
    );
    let inode = json["inode"].as_u64().expect("an inode");
    assert!(stat.contains(&format!("inode: {inode}\n")), "{stat}");

    fs(&sys, &["mkdir", "/m"]);
    let root = mount(&sys, "/m");
    fs(&sys, &["write", "/m/x", "in"]);
    fs(&sys, &["mkdir", "/m/d"]);
    assert_eq!(fs(&sys, &["ls"]), "f\nm/\n");
    assert_eq!(fs(&sys, &["ls", "/m"]), "d/\nx\n");
    let long = fs(&sys, &["ls", "-l", "/"]);
    let lines: Vec<Vec<&str>> = long.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["-", "0644", "1", "150", &inode.to_string(), "f"]);
    assert_eq!(lines[1], ["d", "0755", "1", "0", &root.to_string(), "m/"], "the mount point is its mounted root");
    assert_eq!(fs(&sys, &["ls", "/m/x"]), "x\n", "a file lists itself");
    let stat = fs(&sys, &["stat", "/m"]);
    assert!(stat.contains(&format!("inode: {root}\n")) && stat.contains("type: directory\n"), "{stat}");

    assert_eq!(fs(&sys, &["tree"]), "/\n/f\n/m/\n/m/d/\n/m/x\n");
    assert_eq!(fs(&sys, &["tree", "/m"]), "/m/\n/m/d/\n/m/x\n");
    let json: Vec<serde_json::Value> =
        fs(&sys, &["tree", "--json", "/m"]).lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(json[0]["inode"].as_u64(), Some(root));
    assert_eq!(
        (json[2]["path"].as_str(), json[2]["size"].as_u64(), json[2]["dir"].as_bool()),
        (Some("/m/x"), Some(2), Some(false))
    );
}

#[test]
fn missing_paths_bad_sizes_and_too_much_data_are_refused_in_words() {
    let sys = System::start();
    fs(&sys, &["write", "/f", "x"]);
    fs(&sys, &["mkdir", "/d"]);
    sys.refused(&["fs", "stat", "/nope"], "evq: /nope: no such file or directory");
    sys.refused(&["fs", "ls", "/nope"], "evq: /nope: no such file or directory");
    sys.refused(&["fs", "tree", "/nope/deeper"], "evq: nope: no such directory");
    sys.refused(&["fs", "cat", "/nope"], "evq: /nope: no such file or directory");
    sys.refused(&["fs", "truncate", "/nope", "1"], "evq: /nope: no such file or directory");
    sys.refused(&["fs", "cat", "/d"], "evq: cat /d: is a directory");
    sys.refused(&["fs", "write", "/d", "x"], "evq: write /d: is a directory");
    sys.refused(&["fs", "ls", "d"], "evq: d: paths start with /");
    sys.refused(&["fs", "truncate", "/f", "12x"], "evq: truncate /f: \"12x\" is not a size in bytes (a whole number)");
    let c = sys.console();
    let said = run_evq(&["fs", "--console", c.to_str().unwrap(), "truncate", "/f", "--", "-1"]);
    assert_eq!(said.status.code(), Some(1), "{}", said.stderr);
    assert_eq!(said.stderr, "evq: truncate /f: \"-1\" is not a size in bytes (a whole number)\n");
    sys.refused(
        &["fs", "truncate", "/f", "16385"],
        "evq: truncate /f: the file would grow past the VFS domain's largest file size",
    );
    sys.refused(&["fs", "truncate", "/d", "0"], "evq: truncate /d: is a directory");
    let said = sys.evq_with(&["fs", "write", "/f"], Some(&[b'z'; 16385]));
    assert_eq!(said.status.code(), Some(1), "{}", said.stderr);
    assert_eq!(
        said.stderr,
        "evq: write /f: standard input holds more than one evq fs write carries (16384 bytes at most)\n"
    );
    // Nothing was written by the refusals; the largest file goes in whole.
    assert_eq!(cat(&sys, "/f"), b"x");
    fs_with(&sys, &["write", "/f"], &[b'z'; 16384]);
    assert_eq!(cat(&sys, "/f").len(), 16384);
    // Over the console: a request too large for a datagram is refused
    // before it is sent; hex that is not hex, in words; words take
    // `--append` too.
    let console = Console::connect(&sys.console()).expect("console");
    let huge = console::Request::FsWrite { path: "/f".into(), hex: "00".repeat(40_000), append: false };
    let refused = console.request(&huge).unwrap_err().to_string();
    assert!(
        refused.starts_with("the request is 80") && refused.ends_with("more than one console datagram carries (65536)"),
        "{refused}"
    );
    let bad = console::Request::FsWrite { path: "/f".into(), hex: "0g".into(), append: true };
    assert_eq!(
        console.request(&bad).unwrap().0,
        console::Reply::Error { message: "write /f: the data is not hex: 'g' at 1 is not a hex digit".into() }
    );
    let over = console::Request::FsWrite { path: "/f".into(), hex: "7a".repeat(16385), append: false };
    assert_eq!(
        console.request(&over).unwrap().0,
        console::Reply::Error {
            message: "write /f: 16385 bytes is more than one evq fs write carries (16384 bytes at most)".into()
        }
    );
    let words = |w: &[&str]| console::Request::Fs { args: w.iter().map(|s| s.to_string()).collect() };
    console.request(&words(&["write", "/w", "a", "b"])).unwrap();
    console.request(&words(&["write", "--append", "/w", "c"])).unwrap();
    assert_eq!(cat(&sys, "/w"), b"a bc");
    let said = sys.evq(&["fs", "stat", "/f", "--bogus"]);
    assert_eq!(said.status.code(), Some(2), "clap refuses an unknown option: {}", said.stderr);
}

#[test]
fn a_write_past_the_largest_file_is_refused_whole_and_one_the_pool_cannot_hold_says_how_far_it_got() {
    let sys = System::start();
    let big = vec![b'q'; 16000];
    fs_with(&sys, &["write", "/a"], &big);
    let said = sys.evq_with(&["fs", "write", "--append", "/a"], Some(&[b'r'; 1000]));
    assert_eq!(said.status.code(), Some(1), "{}", said.stderr);
    assert_eq!(said.stderr, "evq: write /a: the file would grow past the VFS domain's largest file size\n");
    assert_eq!(cat(&sys, "/a"), big, "nothing was written");
    // The data pool (64 blocks of 512 bytes, shared by every file): /a
    // holds 32 blocks, /b 30, so 1024 bytes are left. A write of 2000
    // bytes gets its first message (936 bytes, 2 blocks) in, not the second.
    fs_with(&sys, &["write", "/b"], &[b's'; 15000]);
    let said = sys.evq_with(&["fs", "write", "/c"], Some(&[b't'; 2000]));
    assert_eq!(said.status.code(), Some(1), "{}", said.stderr);
    assert_eq!(said.stderr, "evq: write /c: the VFS domain's file-data block pool is full (after 936 bytes)\n");
    assert_eq!(cat(&sys, "/c"), vec![b't'; 936]);
}
