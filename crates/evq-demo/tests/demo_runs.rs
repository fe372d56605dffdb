//! `make run` keeps working: the demo delivers its whole scripted session,
//! in order, and refuses the forged event.

use std::process::Command;

#[test]
fn the_demo_delivers_the_scripted_session_in_order() {
    let out = Command::new(env!("CARGO_BIN_EXE_evq-demo")).output().expect("demo runs");
    assert!(out.status.success(), "demo failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let events: Vec<&str> = stdout.lines().filter_map(|l| l.trim().strip_prefix('#')).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.split_whitespace().take(3).collect::<Vec<_>>()[2]).collect();
    assert_eq!(
        kinds,
        [
            "start", "create", "create", "attrib", "rename", "mount", "create", "create", "create", "unmount",
            "delete", "exit", "shutdown"
        ]
    );
    for (i, e) in events.iter().enumerate() {
        assert!(e.starts_with(&format!("{i} ")), "sequence numbers run 0.. without gaps: {e}");
    }
    assert!(stdout.contains(r#"from=2:"notes.txt" to=1:"todo.txt""#));
    assert!(stdout.contains("refused: Error { code: NotPermitted, detail: 2 }"));
    assert!(stdout.contains("watcher received 13 events"));
    assert!(stdout.contains("queue stats: delivered 13 dropped 0"));
}
