# evq: the two commands the README gives, and the ones around them.
#
#   make run    run the hosted system (domains as Linux processes) with a scripted workload
#   make test   every host test; CI runs exactly this (.ci/run)
#   make bench  every benchmark, each figure beside its baseline (docs/performance.md); not a test
#   make fuzz   every cargo-fuzz target in fuzz/ for FUZZ_SECONDS each, on stable (RUSTC_BOOTSTRAP=1)
#
# seL4 (docs/building.md), given a kernel installation per board. A board is
# a directory of images/; ARCH=aarch64|x86_64|riscv64 names QEMU's board of
# that architecture (qemu-arm-virt, pc99, qemu-riscv-virt), BOARD= any:
#   make image     ARCH=…|BOARD=… SEL4_PREFIX=…          build the boot image
#   make qemu      ARCH=…|BOARD=… SEL4_PREFIX=…          boot it in QEMU
#   make test-sel4 ARCH=…|BOARD=… SEL4_PREFIX=…          boot it and judge the output
#   make images                                          every board's image (SEL4_PREFIX_<arch|board>)
#   make bench-sel4 ARCH=… SEL4_PREFIX=<release kernel>  instruction counts under QEMU -icount
# `make test` runs the seL4 boot test for each architecture whose
# installation it finds (SEL4_PREFIX_aarch64, SEL4_PREFIX_x86_64,
# SEL4_PREFIX_riscv64, or SEL4_PREFIX with ARCH), then builds each dev
# board's image (SEL4_PREFIX_rpi4, _hifive, _spike), boot-testing those QEMU
# has; it prints one SKIPPED line for each installation it does not find.
#
# The host targets assume only rustup's stable toolchain; `tools` checks it.

CARGO ?= cargo
FUZZ_SECONDS ?= 60

.PHONY: all run test bench fuzz doc tools clean image qemu test-sel4 sel4-tools sel4-fetch

all: test

tools:
	@command -v $(CARGO) >/dev/null 2>&1 || { \
	  echo "error: cargo not found: install Rust with rustup (https://rustup.rs)" >&2; exit 1; }

run: tools
	$(CARGO) run --locked --release -p evq-hosted --bin evq -- demo

test: tools
	$(CARGO) test --locked --workspace
	# The C client library without its hosted feature: no_std, as a seL4 C domain links it.
	$(CARGO) rustc --locked --quiet -p evq-c --lib --no-default-features --crate-type rlib
	# The C client library (docs/c-api.md): libevq.a, its example compiled
	# with $(CC) and run against a hosted system (evq-hosted's tests/clients.rs).
	@if command -v $(CC) >/dev/null 2>&1; then \
	  echo "building the C client example with $(CC)"; \
	  $(CARGO) build --locked -p evq-c && mkdir -p target/c && \
	  $(CC) -std=c11 -Wall -Wextra -Werror -Icrates/evq-c/include crates/evq-c/examples/evq-tail.c \
	    target/debug/libevq.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -o target/c/evq-tail && \
	  EVQ_C_TAIL=$(CURDIR)/target/c/evq-tail $(CARGO) test --locked -p evq-hosted --test clients -- --ignored; \
	else \
	  echo "SKIPPED: C client example: no C compiler found (install gcc, or set CC)"; \
	fi
	# Tests too slow for a debug build: the ring's counters wrapping past 2^32.
	$(CARGO) test --locked --release -p evq-ring --test model -- --exact counters_wrap_past_u32_max
	# The ring's sleep/wake handshakes under the loom model checker (its own
	# build: --cfg loom swaps the ring's atomics for loom's).
	RUSTFLAGS="--cfg loom" $(CARGO) test --locked --release -p evq-ring --test loom --target-dir target/loom
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --locked --workspace --no-deps --quiet
	# The seL4 boot harness's judging, with stand-in serial logs (no seL4 needed).
	tests/sel4/boot-test-judge.sh
	# The seL4 targets' board and kernel checks, and the uImage wrapper (no seL4 needed).
	tests/sel4/boards-test.sh
	# A smoke run of every fuzz target (fuzz/tests/smoke.rs): each one's body
	# over its seeds and 3,000 inputs made from them, on stable, no libFuzzer.
	cd fuzz && $(CARGO) test --locked --release --test smoke
	@for arch in $(SEL4_ARCHES); do \
	  prefix=$$(eval echo \$${SEL4_PREFIX_$$arch}); \
	  [ -n "$$prefix" ] || { [ "$(ARCH)" = "$$arch" ] && prefix="$(SEL4_PREFIX)"; }; \
	  if [ -n "$$prefix" ] && [ -f "$$prefix/bin/kernel.elf" ]; then \
	    $(MAKE) --no-print-directory test-sel4 ARCH=$$arch BOARD= SEL4_PREFIX="$$prefix" || exit 1; \
	  else \
	    echo "SKIPPED: seL4 boot test ($$arch): no seL4 installation found (set SEL4_PREFIX_$$arch or SEL4_PREFIX with ARCH=$$arch; see docs/building.md)"; \
	  fi; \
	done
	# The dev boards' images (QEMU's boards are built above), each where its
	# installation is given (SEL4_PREFIX_<board>), and booted where QEMU has the machine.
	@$(MAKE) --no-print-directory boards

# `cargo bench -p evq-bench` runs the ring, hosted and server_core benches;
# server_core runs the example built here under valgrind's callgrind, and
# prints one SKIPPED line instead where valgrind is not installed.
bench: tools
	$(CARGO) build --locked --release -p evq-hosted --bin evq
	$(CARGO) build --locked --release -p evq-bench --example core_profile
	$(CARGO) bench --locked -p evq-bench
	@for arch in $(SEL4_ARCHES); do \
	  prefix=$$(eval echo \$${SEL4_PREFIX_RELEASE_$$arch}); \
	  if [ -n "$$prefix" ] && [ -f "$$prefix/bin/kernel.elf" ]; then \
	    $(MAKE) --no-print-directory bench-sel4 ARCH=$$arch BOARD= SEL4_PREFIX="$$prefix" || exit 1; \
	  else \
	    echo "SKIPPED: seL4 instruction counts ($$arch): no release kernel installation (set SEL4_PREFIX_RELEASE_$$arch; see docs/performance.md §3)"; \
	  fi; \
	done

# cargo-fuzz passes nightly-only flags (-Z, sanitizers); RUSTC_BOOTSTRAP=1
# lets the stable toolchain take them (fuzz/README.md). Each target starts
# from its corpus and its checked-in seeds; system_parse's leak detection is
# off, as evq_system::parse leaks what it returns by design.
fuzz: tools
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install --locked cargo-fuzz
	cd fuzz && for t in $$(RUSTC_BOOTSTRAP=1 $(CARGO) fuzz list); do \
	  leaks=1; [ $$t = system_parse ] && leaks=0; mkdir -p corpus/$$t && \
	  ASAN_OPTIONS=detect_leaks=$$leaks RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t corpus/$$t seeds/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) || exit 1; done

doc: tools
	$(CARGO) doc --locked --workspace --no-deps

clean:
	$(CARGO) clean

# --- seL4 --------------------------------------------------------------------
# Everything but the kernel installation is built here from pinned sources:
# rust-sel4 v5.0.0 (platform/sel4/Cargo.lock) and the cores in crates/.
#
# A board is a directory of images/ (its system.toml); BOARD names one, or
# ARCH names the QEMU board of that architecture. Each board is built into
# target/sel4/<board>/ against the kernel installation SEL4_PREFIX names.

# Each board: its architecture, the seL4 platform (KernelPlatform) its
# kernel must be built for, and the variable make test and make images find
# that installation in (the QEMU boards' by architecture, the others' by board).
BOARD_qemu-arm-virt = aarch64 qemu-arm-virt SEL4_PREFIX_aarch64
BOARD_pc99 = x86_64 pc99 SEL4_PREFIX_x86_64
BOARD_qemu-riscv-virt = riscv64 qemu-riscv-virt SEL4_PREFIX_riscv64
BOARD_rpi4 = aarch64 bcm2711 SEL4_PREFIX_rpi4
BOARD_hifive = riscv64 hifive SEL4_PREFIX_hifive
BOARD_spike = riscv64 spike SEL4_PREFIX_spike
board_arch = $(word 1,$(BOARD_$(1)))
board_plat = $(word 2,$(BOARD_$(1)))
board_kernel_var = $(word 3,$(BOARD_$(1)))
# The installation that variable names, if it holds a kernel.
board_prefix = $(if $(wildcard $($(call board_kernel_var,$(1)))/bin/kernel.elf),$($(call board_kernel_var,$(1))))
skip_board = echo "SKIPPED: seL4 image ($(1)): no seL4 installation found (set $(call board_kernel_var,$(1)); see docs/building.md)";
QEMU_BOARD_aarch64 = qemu-arm-virt
QEMU_BOARD_x86_64 = pc99
QEMU_BOARD_riscv64 = qemu-riscv-virt
# Every board but the hosted platform's.
BOARDS := $(filter-out hosted,$(notdir $(patsubst %/,%,$(dir $(wildcard images/*/system.toml)))))
SEL4_ARCHES := aarch64 x86_64 riscv64

ARCH ?=
BOARD ?=
ifneq ($(BOARD),)
  ifneq ($(ARCH),)
    ifneq ($(ARCH),$(call board_arch,$(BOARD)))
      $(error BOARD=$(BOARD) is $(or $(call board_arch,$(BOARD)),not a board), not ARCH=$(ARCH))
    endif
  endif
  override ARCH := $(call board_arch,$(BOARD))
else
  override BOARD := $(QEMU_BOARD_$(ARCH))
endif
SEL4_PREFIX ?=
SEL4_OUT := $(CURDIR)/target/sel4
# Debian's cargo/rustc 1.96 with the standard library's sources (docs/building.md).
SEL4_CARGO ?= /usr/bin/cargo
LIBCLANG_PATH ?= /usr/lib/llvm-14/lib
EVQ_SYSTEM ?= system.toml
# cargo's profile for the seL4 binaries, and the directory it builds into.
SEL4_PROFILE ?= dev
SEL4_PROFILE_DIR = $(if $(filter dev,$(SEL4_PROFILE)),debug,$(SEL4_PROFILE))
SEL4_ENV = RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Zunstable-options LIBCLANG_PATH=$(LIBCLANG_PATH) PATH=/usr/bin:$$PATH \
  EVQ_DOMAIN_ELFS=$(SEL4_OUT)/$(BOARD)/domains EVQ_BOARD=$(BOARD) EVQ_SYSTEM=$(EVQ_SYSTEM)
BUILD_STD = -Z build-std=core,alloc,compiler_builtins -Z build-std-features=compiler-builtins-mem
# The root of cargo's checkout of the pinned rust-sel4, found through cargo itself.
RUST_SEL4 = $$($(SEL4_CARGO) metadata --offline --format-version 1 --manifest-path $(CURDIR)/platform/sel4/Cargo.toml | \
  python3 -c 'import json,sys,os; m=json.load(sys.stdin); \
  p=[q for q in m["packages"] if q["name"]=="sel4"][0]["manifest_path"]; \
  print(os.path.dirname(os.path.dirname(os.path.dirname(p))))')

# rust-sel4's targets for seL4 user code, and Rust's bare-metal ones (the
# kernel loader, the C library's freestanding build), by architecture.
SEL4_TARGET_aarch64 = aarch64-sel4
SEL4_TARGET_x86_64 = x86_64-sel4
SEL4_TARGET_riscv64 = riscv64gc-sel4
BARE_TARGET_aarch64 = aarch64-unknown-none
BARE_TARGET_x86_64 = x86_64-unknown-none
BARE_TARGET_riscv64 = riscv64gc-unknown-none-elf
# The loader's assembly is built by the cc crate, which gives RISC-V's
# soft-float ABI (lp64) whatever the target; its Rust must match (rust-sel4
# builds it for imac too). It uses no floating point.
LOADER_TARGET_aarch64 = aarch64-unknown-none
LOADER_TARGET_riscv64 = riscv64imac-unknown-none-elf
LOADER_TARGET = $(LOADER_TARGET_$(ARCH))
CC_SEL4_aarch64 = aarch64-linux-gnu-gcc
CC_SEL4_x86_64 = gcc
CC_SEL4_riscv64 = riscv64-linux-gnu-gcc
OBJCOPY_aarch64 = aarch64-linux-gnu-objcopy
OBJCOPY_x86_64 = objcopy
OBJCOPY_riscv64 = riscv64-linux-gnu-objcopy
SEL4_TARGET = $(SEL4_TARGET_$(ARCH))
BARE_TARGET = $(BARE_TARGET_$(ARCH))
BOARD_OUT = $(SEL4_OUT)/$(BOARD)
# What the harness's lines are tagged with: the architecture for its QEMU board, else the board.
BOARD_LABEL = $(if $(filter $(BOARD),$(QEMU_BOARD_$(ARCH))),$(ARCH),$(BOARD))

# How QEMU runs each board it has; a board without a line here is built only.
QEMU_qemu-arm-virt = qemu-system-aarch64 -machine virt,virtualization=on -cpu cortex-a57 -smp 1 -m size=2048M \
  -nographic -serial mon:stdio -kernel $(SEL4_OUT)/qemu-arm-virt/evq.img \
  -netdev user,id=net0 -device virtio-net-device,netdev=net0
QEMU_pc99 = qemu-system-x86_64 -cpu Nehalem,-vme,+pdpe1gb,-xsave,-xsaveopt,-xsavec,-fsgsbase,-invpcid,+syscall,+lm,enforce \
  -m size=512M -nographic -serial mon:stdio \
  -kernel $(SEL4_OUT)/pc99/kernel32.elf -initrd $(SEL4_OUT)/pc99/evq-root-task.elf \
  -netdev user,id=net0 -device virtio-net-pci,netdev=net0,disable-legacy=on
QEMU_qemu-riscv-virt = qemu-system-riscv64 -machine virt -cpu rv64 -smp 1 -m size=2048M \
  -nographic -serial mon:stdio -kernel $(SEL4_OUT)/qemu-riscv-virt/evq.uimg \
  -netdev user,id=net0 -device virtio-net-device,netdev=net0
# QEMU's sifive_u is the HiFive Unleashed's SoC (FU540), its spike Spike.
QEMU_hifive = qemu-system-riscv64 -machine sifive_u -m size=8192M -nographic -serial mon:stdio \
  -kernel $(SEL4_OUT)/hifive/evq.uimg
QEMU_spike = qemu-system-riscv64 -machine spike -cpu rv64 -m size=4096M -nographic -serial mon:stdio \
  -kernel $(SEL4_OUT)/spike/evq.uimg
QEMU = $(QEMU_$(BOARD))

sel4-check:
	@case "$(ARCH)" in aarch64|x86_64|riscv64) ;; *) \
	  echo "error: set ARCH=aarch64, ARCH=x86_64 or ARCH=riscv64, or BOARD= one of: $(BOARDS)" >&2; exit 1;; esac
	@[ -f images/$(BOARD)/$(EVQ_SYSTEM) ] || { echo "error: images/$(BOARD)/$(EVQ_SYSTEM) does not exist" >&2; exit 1; }
	@[ -f "$(SEL4_PREFIX)/bin/kernel.elf" ] || { \
	  echo "error: SEL4_PREFIX=$(SEL4_PREFIX) is not a seL4 installation (see docs/building.md)" >&2; exit 1; }
	@python3 -c 'import json,sys; got=json.load(open(sys.argv[1])).get("PLAT"); \
	  sys.exit(0 if got == sys.argv[2] else "error: SEL4_PREFIX=%s is a kernel for %s, and BOARD=%s needs %s" % (sys.argv[3], got, sys.argv[4], sys.argv[2]))' \
	  $(SEL4_PREFIX)/libsel4/include/kernel/gen_config.json $(call board_plat,$(BOARD)) $(SEL4_PREFIX) $(BOARD)

# What building for seL4 needs from Debian (docs/building.md says why).
sel4-tools:
	@missing=""; \
	command -v qemu-system-aarch64 >/dev/null || missing="$$missing qemu-system-arm qemu-utils/bookworm"; \
	command -v qemu-system-x86_64 >/dev/null || missing="$$missing qemu-system-x86 qemu-utils/bookworm"; \
	command -v qemu-system-riscv64 >/dev/null || missing="$$missing qemu-system-misc"; \
	command -v aarch64-linux-gnu-gcc >/dev/null || missing="$$missing gcc-aarch64-linux-gnu"; \
	command -v riscv64-linux-gnu-gcc >/dev/null || missing="$$missing gcc-riscv64-linux-gnu"; \
	[ -d /usr/lib/rustlib/src/rust/library ] || missing="$$missing rustc-web cargo-web rust-web-src rust-web-llvm lld-22"; \
	[ -d "$(LIBCLANG_PATH)" ] || missing="$$missing libclang-dev"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-downgrades $$missing; \
	fi

# rust-sel4 is a git dependency; Debian's cargo cannot fetch git, rustup's can.
sel4-fetch:
	cd platform/sel4 && CARGO_NET_GIT_FETCH_WITH_CLI=true RUSTUP_TOOLCHAIN=stable cargo fetch --locked

# The domains the system description names, each in its own cargo build (a
# debug build of each is large; one at a time keeps memory in bounds), then
# stripped of debug information and embedded in the root task, which
# build.rs checks against images/<board>/system.toml.
SEL4_DOMAINS ?= $(shell python3 -c 'import re,sys; \
  print(" ".join(sorted(set(re.findall(r"^image\s*=\s*\"([^\"]+)\"", open(sys.argv[1]).read(), re.M)))))' \
  images/$(BOARD)/$(EVQ_SYSTEM) 2>/dev/null)
SEL4_BUILD = cd platform/sel4 && SEL4_PREFIX=$(SEL4_PREFIX) RUST_TARGET_PATH=$(RUST_SEL4)/support/targets $(SEL4_ENV) \
  $(SEL4_CARGO) build --locked --profile $(SEL4_PROFILE) $(BUILD_STD) -Z json-target-spec --target-dir $(BOARD_OUT)/target

$(SEL4_OUT)/%/evq-root-task.elf: sel4-check sel4-tools sel4-fetch FORCE
	mkdir -p $(BOARD_OUT)/domains
	for d in $(SEL4_DOMAINS); do \
	  ( $(SEL4_BUILD) --target $(SEL4_TARGET) -p $$d ) || exit 1; \
	  $(OBJCOPY_$(ARCH)) --strip-debug $(BOARD_OUT)/target/$(SEL4_TARGET)/$(SEL4_PROFILE_DIR)/$$d.elf $(BOARD_OUT)/domains/$$d.elf || exit 1; \
	done
	$(SEL4_BUILD) --target $(SEL4_TARGET)-roottask -p evq-root-task
	cp $(BOARD_OUT)/target/$(SEL4_TARGET)-roottask/$(SEL4_PROFILE_DIR)/evq-root-task.elf $@

# The kernel loader and its payload tool, from the pinned rust-sel4, built
# outside rust-sel4's own workspace (whose lockfile needs git sources beyond
# rust-sel4) so that only their own dependencies are resolved.
$(SEL4_OUT)/rust-sel4-crates: sel4-fetch
	rm -rf $@ && mkdir -p $(SEL4_OUT) && cp -r $(RUST_SEL4)/crates $@

$(SEL4_OUT)/tools/bin/sel4-kernel-loader-add-payload: | $(SEL4_OUT)/rust-sel4-crates
	$(SEL4_ENV) $(SEL4_CARGO) install --path $(SEL4_OUT)/rust-sel4-crates/sel4-kernel-loader/add-payload \
	  --root $(SEL4_OUT)/tools --target-dir $(SEL4_OUT)/tools/target

# The loader is built per board: it is configured by the board's kernel.
$(SEL4_OUT)/%/loader/bin/sel4-kernel-loader: | $(SEL4_OUT)/rust-sel4-crates
	SEL4_PREFIX=$(SEL4_PREFIX) CC_$(subst -,_,$(LOADER_TARGET))=$(CC_SEL4_$(ARCH)) $(SEL4_ENV) \
	  $(SEL4_CARGO) install $(BUILD_STD) --target $(LOADER_TARGET) \
	  --path $(SEL4_OUT)/rust-sel4-crates/sel4-kernel-loader --root $(BOARD_OUT)/loader \
	  --target-dir $(BOARD_OUT)/loader/target

# ARM and RISC-V boot the kernel loader's image: the loader with the kernel,
# its device tree and the root task as payload.
$(SEL4_OUT)/%/evq.img: $(SEL4_OUT)/%/evq-root-task.elf \
    $(SEL4_OUT)/tools/bin/sel4-kernel-loader-add-payload $(SEL4_OUT)/%/loader/bin/sel4-kernel-loader
	$(SEL4_OUT)/tools/bin/sel4-kernel-loader-add-payload --loader $(BOARD_OUT)/loader/bin/sel4-kernel-loader \
	  --sel4-prefix $(SEL4_PREFIX) --app $< -o $@

# QEMU's RISC-V machines boot it as a uImage, which carries its entry point
# (platform/sel4/tools/elf-to-uimage.py says why); a board boots evq.img.
$(SEL4_OUT)/%/evq.uimg: $(SEL4_OUT)/%/evq.img
	python3 platform/sel4/tools/elf-to-uimage.py $< $@

# x86 boots by multiboot, and QEMU's multiboot loader takes a 32-bit ELF kernel.
$(SEL4_OUT)/%/kernel32.elf: sel4-check FORCE
	mkdir -p $(dir $@) && objcopy -O elf32-i386 $(SEL4_PREFIX)/bin/kernel.elf $@

image: sel4-check
	@case "$(ARCH)" in \
	  x86_64) $(MAKE) --no-print-directory $(BOARD_OUT)/evq-root-task.elf $(BOARD_OUT)/kernel32.elf ;; \
	  riscv64) $(MAKE) --no-print-directory $(BOARD_OUT)/evq.uimg ;; \
	  *) $(MAKE) --no-print-directory $(BOARD_OUT)/evq.img ;; \
	esac
	@echo "seL4 image ($(BOARD), $(ARCH)): built in $(BOARD_OUT)"

# Before anything is built: a board QEMU does not have is built only.
qemu-check: sel4-check
	@[ -n "$(QEMU)" ] || { echo "error: QEMU has no machine for $(BOARD): its image is built only (make image; docs/building.md)" >&2; exit 1; }

qemu: qemu-check image
	$(QEMU)

test-sel4: qemu-check image c-sel4
	tests/sel4/boot-test.sh $(BOARD_LABEL) $(BOARD_OUT)/serial.log $(QEMU)

# The boards that are not QEMU's own virtual machines: each one's image is
# built where its installation is given, and boot-tested where QEMU has the
# machine; one SKIPPED line for each whose installation is not given.
DEV_BOARDS := $(filter-out $(QEMU_BOARD_aarch64) $(QEMU_BOARD_x86_64) $(QEMU_BOARD_riscv64),$(BOARDS))
boards:
	@set -e; $(foreach b,$(DEV_BOARDS),$(if $(call board_prefix,$(b)),$(if $(QEMU_$(b)), \
	  $(MAKE) --no-print-directory test-sel4 BOARD=$(b) ARCH= SEL4_PREFIX=$(call board_prefix,$(b));, \
	  $(MAKE) --no-print-directory image BOARD=$(b) ARCH= SEL4_PREFIX=$(call board_prefix,$(b)); \
	  echo "seL4 image ($(b)): built only: QEMU has no such machine";),$(call skip_board,$(b))))

qemu-line:
	@echo $(QEMU)

# Every board's image, each against the kernel installation its variable
# names (BOARD_<board> above); a board whose installation is not
# given gets one SKIPPED line. Fails if any image given a kernel fails.
images:
	@set -e; $(foreach b,$(BOARDS),$(if $(call board_prefix,$(b)), \
	  $(MAKE) --no-print-directory image BOARD=$(b) ARCH= SEL4_PREFIX=$(call board_prefix,$(b));,$(call skip_board,$(b))))


# The C client library as a seL4 C client domain links it: built without
# std (its own panic handler) for ARCH's bare-metal target, then linked
# alone into a freestanding C program (crates/evq-c/examples/freestanding.c:
# no C library, no libgcc), which fails on any symbol the library needs
# and does not bring.
c-sel4: sel4-check sel4-tools
	RUSTUP_TOOLCHAIN=stable cargo fetch --locked --quiet
	RUSTC_BOOTSTRAP=1 PATH=/usr/bin:$$PATH $(SEL4_CARGO) build --offline --locked --release --quiet -p evq-c --lib \
	  --no-default-features --features panic-handler --target $(BARE_TARGET) \
	  -Z build-std=core,compiler_builtins -Z build-std-features=compiler-builtins-mem --target-dir $(SEL4_OUT)/c
	$(CC_SEL4_$(ARCH)) -std=c11 -Wall -Wextra -Werror -ffreestanding -nostdlib -static -Icrates/evq-c/include \
	  crates/evq-c/examples/freestanding.c $(SEL4_OUT)/c/$(BARE_TARGET)/release/libevq.a \
	  -o $(SEL4_OUT)/c/freestanding-$(ARCH)
	@echo "C client library ($(ARCH)): libevq.a without std links alone into a freestanding program"

# The instruction-count benchmark (docs/performance.md §3): the system of
# images/<board>/bench.toml, built apart from the test image, on the kernel
# SEL4_PREFIX names (a release build: KernelDebugBuild=OFF, KernelPrinting
# and, on aarch64, KernelArmExportPMUUser on), run under QEMU's -icount.
SEL4_BENCH_OUT := $(CURDIR)/target/sel4-bench
bench-sel4: sel4-check
	$(MAKE) --no-print-directory sel4-bench-run SEL4_OUT=$(SEL4_BENCH_OUT) EVQ_SYSTEM=bench.toml SEL4_PROFILE=release

sel4-bench-run: image
	tests/sel4/bench-run.sh $(BOARD_LABEL) $(BOARD_OUT)/serial.log $(QEMU) -icount shift=0,sleep=off

# Pattern-built, so make would take them for intermediates and delete them.
.PRECIOUS: $(SEL4_OUT)/%/evq-root-task.elf $(SEL4_OUT)/%/loader/bin/sel4-kernel-loader $(SEL4_OUT)/%/evq.img
.PHONY: sel4-check FORCE bench-sel4 sel4-bench-run c-sel4 images boards qemu-line qemu-check
FORCE:
