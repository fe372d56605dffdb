#!/usr/bin/env bash
# Boots the seL4 benchmark image under QEMU's -icount and prints its figures.
#
#   bench-run.sh <label> <log> <qemu command…>   (label: as boot-test.sh's)
#
# Succeeds on BENCH_DONE; fails on BENCH_FAIL, a kernel fault message, a
# panic, or no verdict within EVQ_BENCH_TIMEOUT seconds (default 300: under
# -icount QEMU runs slower).
set -uo pipefail
arch=$1 log=$2
shift 2
timeout_s=${EVQ_BENCH_TIMEOUT:-300}

: >"$log"
"$@" >"$log" 2>&1 </dev/null &
qemu=$!
verdict=""
for ((i = 0; i < timeout_s * 10; i++)); do
  if grep -q '^BENCH_DONE' "$log"; then verdict=done; break; fi
  if grep -qE '^BENCH_FAIL|[Cc]aught cap fault|vm fault on|[Pp]anicked|user exception|faulted' "$log"; then verdict=fail; break; fi
  kill -0 "$qemu" 2>/dev/null || { verdict=exited; break; }
  sleep 0.1
done
kill "$qemu" 2>/dev/null
wait "$qemu" 2>/dev/null

grep -E '^evq-bench' "$log" | sed "s/^/[$arch] /"
case $verdict in
  done) echo "seL4 benchmark ($arch): done"; exit 0 ;;
  *) echo "seL4 benchmark ($arch): FAILED ($verdict; see $log)"; grep -E 'BENCH_FAIL|fault|anicked|exception' "$log" | head -5; exit 1 ;;
esac
