#!/usr/bin/env python3
"""Wraps an ELF boot image (the kernel loader with its payload) as a U-Boot
legacy uImage, for QEMU's riscv64 machines.

QEMU 7.2's RISC-V `-kernel` loads an ELF but hands the firmware (OpenSBI)
the lowest address it loaded as the next stage's entry, not the ELF's entry
point; the kernel loader's entry is not at its lowest address. A uImage's
header carries both the load address and the entry point, and QEMU takes
both. The image is the ELF's loadable segments laid out flat from the lowest
physical address, the gaps and each segment's zero-filled tail as zeros.

    elf-to-uimage.py IN.elf OUT.uimg
"""
import struct
import sys
import time
import zlib

MAGIC = 0x27051956
OS_LINUX, ARCH_RISCV, TYPE_KERNEL, COMP_NONE = 5, 26, 2, 0
PT_LOAD = 1


def fail(why):
    sys.exit(f"elf-to-uimage: {why}")


def flat(elf):
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        fail("not a little-endian 64-bit ELF")
    entry, phoff = struct.unpack_from("<QQ", elf, 24)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    segments = []
    for i in range(phnum):
        p_type, _, offset, _, paddr, filesz, memsz, _ = struct.unpack_from("<IIQQQQQQ", elf, phoff + i * phentsize)
        if p_type == PT_LOAD and memsz:
            if offset + filesz > len(elf):
                fail(f"segment {i} runs past the end of the file")
            segments.append((paddr, elf[offset : offset + filesz]))
    if not segments:
        fail("no loadable segment")
    base = min(p for p, _ in segments)
    end = max(p + len(d) for p, d in segments)
    if not base <= entry < end or end - base > 1 << 30:
        fail(f"entry {entry:#x} or extent {base:#x}..{end:#x} is not a boot image's")
    image = bytearray(end - base)
    for paddr, data in segments:
        image[paddr - base : paddr - base + len(data)] = data
    return base, entry, bytes(image)


def uimage(base, entry, data, name=b"evq"):
    if base >> 32 or entry >> 32:
        fail("a uImage's addresses are 32 bits")
    def header(hcrc):
        return struct.pack(">IIIIIIIBBBB32s", MAGIC, hcrc, int(time.time()), len(data), base, entry,
                           zlib.crc32(data), OS_LINUX, ARCH_RISCV, TYPE_KERNEL, COMP_NONE, name)
    return header(zlib.crc32(header(0))) + data


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    with open(sys.argv[1], "rb") as f:
        base, entry, data = flat(f.read())
    with open(sys.argv[2], "wb") as f:
        f.write(uimage(base, entry, data))


if __name__ == "__main__":
    main()
