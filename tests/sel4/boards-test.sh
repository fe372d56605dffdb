#!/usr/bin/env bash
# Checks, without seL4, what the Makefile's seL4 targets decide before they
# build anything: which boards exist, which kernel installation each needs
# (refusing one built for another platform), which QEMU can boot, and that
# `make images` names every board it skips; and that the uImage wrapper
# QEMU's RISC-V machines boot (platform/sel4/tools/elf-to-uimage.py) lays an
# ELF's segments out where they load and records its entry point.
set -uo pipefail
cd "$(dirname "$0")/../.."
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # name, expected exit (0 or fail), expected text, command...
  local name=$1 want=$2 text=$3 out rc
  shift 3
  out=$("$@" 2>&1); rc=$?
  if { [ "$want" = 0 ] && [ $rc -ne 0 ]; } || { [ "$want" = fail ] && [ $rc -eq 0 ]; } ||
     ! grep -qF -- "$text" <<<"$out"; then
    echo "boards-test: $name: FAILED (exit $rc, wanted $want and \"$text\"):"; sed 's/^/    /' <<<"$out" | head -8
    failures=$((failures + 1))
  else
    echo "boards-test: $name: ok"
  fi
}

# A stand-in installation: what sel4-check reads of one (no kernel is run).
fake() { # dir, PLAT
  mkdir -p "$1/bin" "$1/libsel4/include/kernel" && : >"$1/bin/kernel.elf"
  printf '{"PLAT": "%s"}\n' "$2" >"$1/libsel4/include/kernel/gen_config.json"
}
fake "$tmp/virt" qemu-riscv-virt
fake "$tmp/bcm2711" bcm2711

unset SEL4_PREFIX SEL4_PREFIX_aarch64 SEL4_PREFIX_x86_64 SEL4_PREFIX_riscv64 SEL4_PREFIX_rpi4 SEL4_PREFIX_hifive SEL4_PREFIX_spike
m() { make --no-print-directory -s "$@"; }
check "an unknown architecture" fail "set ARCH=aarch64, ARCH=x86_64 or ARCH=riscv64, or BOARD= one of:" m sel4-check ARCH=mips SEL4_PREFIX="$tmp/virt"
check "an unknown board" fail "one of: " m sel4-check BOARD=nosuch SEL4_PREFIX="$tmp/virt"
check "a board and an architecture that disagree" fail "BOARD=rpi4 is aarch64, not ARCH=x86_64" m sel4-check BOARD=rpi4 ARCH=x86_64
check "no installation" fail "is not a seL4 installation" m sel4-check ARCH=riscv64 SEL4_PREFIX="$tmp/none"
check "a kernel for another platform" fail "is a kernel for qemu-riscv-virt, and BOARD=rpi4 needs bcm2711" \
  m sel4-check BOARD=rpi4 SEL4_PREFIX="$tmp/virt"
check "the board's own kernel" 0 "" m sel4-check BOARD=rpi4 SEL4_PREFIX="$tmp/bcm2711"
check "ARCH names QEMU's board" 0 "" m sel4-check ARCH=riscv64 SEL4_PREFIX="$tmp/virt"
check "a board QEMU lacks is refused before any build" fail "QEMU has no machine for rpi4" \
  m qemu BOARD=rpi4 SEL4_PREFIX="$tmp/bcm2711"
for b in qemu-arm-virt pc99 qemu-riscv-virt hifive spike; do
  check "QEMU boots $b" 0 "qemu-system-" m qemu-line BOARD=$b
done
want=$(for d in images/*/system.toml; do b=$(basename "$(dirname "$d")"); [ "$b" = hosted ] || echo "$b"; done)
for b in $want; do
  check "make images skips $b without its installation" 0 "SKIPPED: seL4 image ($b): no seL4 installation found" m images
done
check "make boards skips the dev boards" 0 "SKIPPED: seL4 image (rpi4)" m boards

# The uImage wrapper, on an ELF made here: two segments with a gap, a
# zero-filled tail, and an entry point past the first byte.
python3 - "$tmp/t.elf" <<'PY' || failures=$((failures + 1))
import struct, sys
phoff, n = 64, 2
segs = [(0x80201000, b"\x11" * 0x10, 0x20), (0x80203000, b"\x22" * 8, 8)]
data_off = phoff + 56 * n
hdr = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HHIQQQIHHHHHH", 2, 243, 1, 0x80201008, phoff, 0, 0, 64, 56, n, 0, 0, 0)
ph, body, off = b"", b"", data_off
for paddr, blob, memsz in segs:
    ph += struct.pack("<IIQQQQQQ", 1, 5, off, paddr, paddr, len(blob), memsz, 0x1000)
    body += blob; off += len(blob)
open(sys.argv[1], "wb").write(hdr + ph + body)
PY
python3 platform/sel4/tools/elf-to-uimage.py "$tmp/t.elf" "$tmp/t.uimg"
if python3 - "$tmp/t.uimg" <<'PY'
import struct, sys, zlib
u = open(sys.argv[1], "rb").read()
magic, hcrc, _, size, load, entry, dcrc, os_, arch, ty, comp = struct.unpack_from(">IIIIIIIBBBB", u)
data = u[64:]
zeroed = u[:4] + b"\0\0\0\0" + u[8:64]
assert magic == 0x27051956 and hcrc == zlib.crc32(zeroed), "header"
assert (load, entry, size, len(data)) == (0x80201000, 0x80201008, 0x2008, 0x2008), (hex(load), hex(entry), size)
assert dcrc == zlib.crc32(data) and (os_, arch, ty, comp) == (5, 26, 2, 0)
assert data[:0x10] == b"\x11" * 0x10 and data[0x10:0x2000] == bytes(0x1ff0) and data[0x2000:] == b"\x22" * 8
PY
then echo "boards-test: the uImage wrapper: ok"
else echo "boards-test: the uImage wrapper: FAILED"; failures=$((failures + 1))
fi
check "the wrapper refuses what is not an ELF" fail "not a little-endian 64-bit ELF" \
  python3 platform/sel4/tools/elf-to-uimage.py Makefile "$tmp/x.uimg"

[ $failures -eq 0 ] && echo "boards-test: all passed" && exit 0
echo "boards-test: $failures FAILED"; exit 1
