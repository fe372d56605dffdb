#!/usr/bin/env bash
# Boots an evq seL4 image in QEMU and judges its serial output.
#
#   boot-test.sh <arch> <log> <qemu command…>
#
# Passes on TEST_PASS. Fails on TEST_FAIL, on any fault the kernel reports,
# on any domain fault but the one the test provokes (the rogue client's, which
# the root task reports and the test client must see as a process event), on
# a panic, or when TEST_PASS has not appeared within EVQ_BOOT_TIMEOUT seconds
# (default 60).
#
# When the test client asks for input ("waiting for typed input"), the
# harness types EVQ_BOOT_INPUT (default "hello evq", the test script's
# TYPED) and a carriage return on the console, as a person would.
set -uo pipefail
arch=$1 log=$2
shift 2
timeout_s=${EVQ_BOOT_TIMEOUT:-60}

: >"$log"
input="${EVQ_BOOT_INPUT:-hello evq}"
console="$log.console"
rm -f "$console" && mkfifo "$console"
# Held open read-write so that QEMU never sees the console close.
exec 3<>"$console"
"$@" >"$log" 2>&1 <&3 &
qemu=$!
typed=
verdict=""
for ((i = 0; i < timeout_s * 10; i++)); do
  if grep -q '^TEST_PASS' "$log"; then
    # The rogue's fault is the one the test asked for; it must have happened.
    grep -q 'evq: root task: domain [0-9]* (rogue-client) faulted' "$log" && verdict=pass || verdict=fail
    break
  fi
  if grep -qE '^TEST_FAIL|[Cc]aught cap fault|vm fault on|[Pp]anicked|user exception' "$log"; then verdict=fail; break; fi
  if grep -E 'evq: root task: domain [0-9]+ \([^)]*\) faulted' "$log" | grep -qv '(rogue-client)'; then verdict=fail; break; fi
  if [ -z "$typed" ] && grep -q 'evq: test-client: waiting for typed input' "$log"; then
    # One character at a time, as typed, so the UART's FIFO never overflows.
    for ((c = 0; c < ${#input}; c++)); do printf '%s' "${input:c:1}" >&3; sleep 0.05; done
    printf '\r' >&3
    typed=yes
  fi
  kill -0 "$qemu" 2>/dev/null || { verdict=exited; break; }
  sleep 0.1
done
kill "$qemu" 2>/dev/null
wait "$qemu" 2>/dev/null
exec 3>&-
rm -f "$console"

grep -E '^(evq|TEST_)' "$log" | sed "s/^/[$arch] /"
case $verdict in
  pass) echo "seL4 boot test ($arch): passed"; exit 0 ;;
  fail) echo "seL4 boot test ($arch): FAILED (see $log)"; grep -E 'TEST_FAIL|fault|anicked|exception' "$log" | head -5; exit 1 ;;
  exited) echo "seL4 boot test ($arch): FAILED: QEMU exited without TEST_PASS (see $log)"; exit 1 ;;
  *) echo "seL4 boot test ($arch): FAILED: no TEST_PASS within ${timeout_s}s (see $log)"; exit 1 ;;
esac
