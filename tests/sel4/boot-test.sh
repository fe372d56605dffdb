#!/usr/bin/env bash
# Boots an evq seL4 image in QEMU and judges its serial output.
#
#   boot-test.sh <label> <log> <qemu command…>
#
# <label> tags its output lines: the architecture, or the board where it is
# not QEMU's own machine of that architecture.
#
# Waits until TEST_PASS or TEST_FAIL appears, QEMU exits, or
# EVQ_BOOT_TIMEOUT seconds (default 60) pass; after TEST_PASS it goes on
# watching for EVQ_BOOT_GRACE seconds (default 1), so that a failure printed
# just after it is seen too. Then it stops QEMU and judges the
# whole log: it passes only when TEST_PASS is there and nothing that fails
# it is anywhere in the log, before or after TEST_PASS. What fails it:
# TEST_FAIL, any fault the kernel reports, any domain fault but the one the
# test provokes (the rogue client's, which the root task reports and the
# test client must see as a process event; it must have happened), a
# panic, or a missing line from the client example (watch-dirs), which
# must report the directory events it saw.
#
# When the test client asks for input ("waiting for typed input"), the
# harness types EVQ_BOOT_INPUT (default "hello evq", the test script's
# TYPED) and a carriage return on the console, as a person would.
set -uo pipefail
arch=$1 log=$2
shift 2
timeout_s=${EVQ_BOOT_TIMEOUT:-60}
grace_s=${EVQ_BOOT_GRACE:-1}

# What fails a boot wherever it appears in the log.
failure='^TEST_FAIL|[Cc]aught cap fault|vm fault on|[Pp]anicked|user exception'
# The root task's report of a domain's fault; only the rogue client's is expected.
domain_fault='evq: root task: domain [0-9]+ \([^)]*\) faulted'

# Prints why the log fails the boot, one line per reason; prints nothing when it passes.
judge() {
  grep -E "$failure" "$1" | head -5
  grep -E "$domain_fault" "$1" | grep -v '(rogue-client)' | head -5
  grep -q '^TEST_PASS' "$1" || echo "no TEST_PASS line"
  grep -qE 'evq: root task: domain [0-9]+ \(rogue-client\) faulted' "$1" ||
    echo "the rogue client's provoked fault was never reported"
  grep -qE '^evq: watch-dirs: saw [0-9]+ directory events' "$1" ||
    echo "the client example (watch-dirs) never saw its directory events"
}

: >"$log"
input="${EVQ_BOOT_INPUT:-hello evq}"
console="$log.console"
rm -f "$console" && mkfifo "$console"
# Held open read-write so that QEMU never sees the console close.
exec 3<>"$console"
"$@" >"$log" 2>&1 <&3 &
qemu=$!
typed=
ended=timeout
for ((i = 0; i < timeout_s * 10; i++)); do
  if grep -qE "$failure" "$log" || grep -E "$domain_fault" "$log" | grep -qv '(rogue-client)'; then
    ended=verdict; break
  fi
  if grep -q '^TEST_PASS' "$log"; then
    # Whatever comes in the grace period after TEST_PASS is judged too.
    for ((g = 0; g < grace_s * 10; g++)); do
      grep -qE "$failure" "$log" && break
      kill -0 "$qemu" 2>/dev/null || break
      sleep 0.1
    done
    ended=verdict; break
  fi
  if [ -z "$typed" ] && grep -q 'evq: test-client: waiting for typed input' "$log"; then
    # One character at a time, as typed, so the UART's FIFO never overflows.
    for ((c = 0; c < ${#input}; c++)); do printf '%s' "${input:c:1}" >&3; sleep 0.05; done
    printf '\r' >&3
    typed=yes
  fi
  kill -0 "$qemu" 2>/dev/null || { ended=exited; break; }
  sleep 0.1
done
kill "$qemu" 2>/dev/null
wait "$qemu" 2>/dev/null
exec 3>&-
rm -f "$console"

grep -E '^(evq|TEST_)' "$log" | sed "s/^/[$arch] /"
# Judged after QEMU has stopped, on everything it printed.
reasons=$(judge "$log")
if [ -z "$reasons" ]; then echo "seL4 boot test ($arch): passed"; exit 0; fi
case $ended in
  exited) echo "seL4 boot test ($arch): FAILED: QEMU exited (see $log)" ;;
  timeout) echo "seL4 boot test ($arch): FAILED: no verdict within ${timeout_s}s (see $log)" ;;
  *) echo "seL4 boot test ($arch): FAILED (see $log)" ;;
esac
printf '%s\n' "$reasons"
exit 1
