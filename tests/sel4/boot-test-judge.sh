#!/usr/bin/env bash
# Checks boot-test.sh's judging without seL4: each case stands in a shell
# command for QEMU that prints a serial log, and asserts the verdict.
# `make test` runs it on every machine.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rogue='evq: root task: domain 8 (rogue-client) faulted: kind 1 address 0x20000000 ip 0x250acc'
# What the client example prints once it has seen the session's directories.
example='evq: watch-dirs: saw 3 directory events'
failed=0

# expect NAME pass|fail LINES… : a stand-in QEMU prints LINES, then idles until
# killed. It waits a moment first, so that the harness's polls see either
# nothing or the whole log, and a case never depends on where a poll falls.
expect() {
  local name=$1 want=$2; shift 2
  printf '%s\n' "$@" >"$work/$name.serial"
  EVQ_BOOT_TIMEOUT=5 "$here/boot-test.sh" test "$work/$name.log" \
    sh -c "sleep 0.25; cat '$work/$name.serial'; sleep 0.4; ${LATE:+echo '$LATE';} exec sleep 30" >"$work/$name.out" 2>&1
  local rc=$? got=pass
  [ $rc -eq 0 ] || got=fail
  if [ "$got" = "$want" ]; then
    echo "ok: $name ($want)"
  else
    echo "FAILED: $name: expected $want, judged $got:"; sed 's/^/  /' "$work/$name.out"; failed=1
  fi
}

expect clean_pass pass "$rogue" "$example" 'evq: summary ok' TEST_PASS
expect no_example_line fail "$rogue" 'evq: summary ok' TEST_PASS
# The same poll sees TEST_PASS and what must fail it: the whole log is judged.
expect fail_after_pass fail "$rogue" "$example" TEST_PASS TEST_FAIL
expect kernel_fault_after_pass fail "$rogue" "$example" TEST_PASS 'Caught cap fault in send phase at address 0'
expect domain_fault_after_pass fail "$rogue" "$example" TEST_PASS 'evq: root task: domain 3 (vfs) faulted: kind 1 address 0x0 ip 0x0'
expect panic_before_pass fail "$rogue" "$example" 'evq-vfs: panicked at src/main.rs:1:1' TEST_PASS
expect no_rogue_fault fail "$example" 'evq: summary ok' TEST_PASS
expect no_verdict fail "$rogue" "$example" 'evq: summary ok'
# A failure printed 0.4 s after TEST_PASS, in a later poll: the grace period sees it.
LATE='evq-vfs: panicked at src/main.rs:9:9' expect late_panic_after_pass fail "$rogue" "$example" TEST_PASS
exit $failed
