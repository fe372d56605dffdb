# evq: the two commands the README gives, and the ones around them.
#
#   make run    run the hosted system (domains as Linux processes) with a scripted workload
#   make test   every host test; CI runs exactly this (.ci/run)
#   make bench  every benchmark, each figure beside its baseline (docs/performance.md); not a test
#   make fuzz   every cargo-fuzz target in fuzz/ for FUZZ_SECONDS each, on stable (RUSTC_BOOTSTRAP=1)
#
# seL4 (docs/building.md), given a kernel installation per architecture:
#   make image     ARCH=aarch64|x86_64 SEL4_PREFIX=…   build the boot image
#   make qemu      ARCH=… SEL4_PREFIX=…                 boot it in QEMU
#   make test-sel4 ARCH=… SEL4_PREFIX=…                 boot it and judge the output
#   make bench-sel4 ARCH=… SEL4_PREFIX=<release kernel>  instruction counts under QEMU -icount
# `make test` runs the seL4 boot test for each architecture whose
# installation it finds (SEL4_PREFIX_aarch64, SEL4_PREFIX_x86_64, or
# SEL4_PREFIX with ARCH), and prints one SKIPPED line for each it does not.
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
	# A smoke run of every fuzz target (fuzz/tests/smoke.rs): each one's body
	# over its seeds and 3,000 inputs made from them, on stable, no libFuzzer.
	cd fuzz && $(CARGO) test --locked --release --test smoke
	@for arch in aarch64 x86_64; do \
	  prefix=$$(eval echo \$${SEL4_PREFIX_$$arch}); \
	  [ -n "$$prefix" ] || { [ "$(ARCH)" = "$$arch" ] && prefix="$(SEL4_PREFIX)"; }; \
	  if [ -n "$$prefix" ] && [ -f "$$prefix/bin/kernel.elf" ]; then \
	    $(MAKE) --no-print-directory test-sel4 ARCH=$$arch SEL4_PREFIX="$$prefix" || exit 1; \
	  else \
	    echo "SKIPPED: seL4 boot test ($$arch): no seL4 installation found (set SEL4_PREFIX_$$arch or SEL4_PREFIX with ARCH=$$arch; see docs/building.md)"; \
	  fi; \
	done

# `cargo bench -p evq-bench` runs the ring, hosted and server_core benches;
# server_core runs the example built here under valgrind's callgrind, and
# prints one SKIPPED line instead where valgrind is not installed.
bench: tools
	$(CARGO) build --locked --release -p evq-hosted --bin evq
	$(CARGO) build --locked --release -p evq-bench --example core_profile
	$(CARGO) bench --locked -p evq-bench
	@for arch in aarch64 x86_64; do \
	  prefix=$$(eval echo \$${SEL4_PREFIX_RELEASE_$$arch}); \
	  if [ -n "$$prefix" ] && [ -f "$$prefix/bin/kernel.elf" ]; then \
	    $(MAKE) --no-print-directory bench-sel4 ARCH=$$arch SEL4_PREFIX="$$prefix" || exit 1; \
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

ARCH ?=
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
  EVQ_DOMAIN_ELFS=$(SEL4_OUT)/$*/domains EVQ_SYSTEM=$(EVQ_SYSTEM)
BUILD_STD = -Z build-std=core,alloc,compiler_builtins -Z build-std-features=compiler-builtins-mem
# The root of cargo's checkout of the pinned rust-sel4, found through cargo itself.
RUST_SEL4 = $$($(SEL4_CARGO) metadata --offline --format-version 1 --manifest-path $(CURDIR)/platform/sel4/Cargo.toml | \
  python3 -c 'import json,sys,os; m=json.load(sys.stdin); \
  p=[q for q in m["packages"] if q["name"]=="sel4"][0]["manifest_path"]; \
  print(os.path.dirname(os.path.dirname(os.path.dirname(p))))')

QEMU_aarch64 = qemu-system-aarch64 -machine virt,virtualization=on -cpu cortex-a57 -smp 1 -m size=2048M \
  -nographic -serial mon:stdio -kernel $(SEL4_OUT)/aarch64/evq.img \
  -netdev user,id=net0 -device virtio-net-device,netdev=net0
QEMU_x86_64 = qemu-system-x86_64 -cpu Nehalem,-vme,+pdpe1gb,-xsave,-xsaveopt,-xsavec,-fsgsbase,-invpcid,+syscall,+lm,enforce \
  -m size=512M -nographic -serial mon:stdio \
  -kernel $(SEL4_OUT)/x86_64/kernel32.elf -initrd $(SEL4_OUT)/x86_64/evq-root-task.elf \
  -netdev user,id=net0 -device virtio-net-pci,netdev=net0,disable-legacy=on

sel4-check:
	@case "$(ARCH)" in aarch64|x86_64) ;; *) echo "error: set ARCH=aarch64 or ARCH=x86_64" >&2; exit 1;; esac
	@[ -f "$(SEL4_PREFIX)/bin/kernel.elf" ] || { \
	  echo "error: SEL4_PREFIX=$(SEL4_PREFIX) is not a seL4 installation (see docs/building.md)" >&2; exit 1; }

# What building for seL4 needs from Debian (docs/building.md says why).
sel4-tools:
	@missing=""; \
	command -v qemu-system-aarch64 >/dev/null || missing="$$missing qemu-system-arm qemu-utils/bookworm"; \
	command -v qemu-system-x86_64 >/dev/null || missing="$$missing qemu-system-x86 qemu-utils/bookworm"; \
	command -v aarch64-linux-gnu-gcc >/dev/null || missing="$$missing gcc-aarch64-linux-gnu"; \
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
SEL4_DOMAINS := evq-server-domain evq-vfs-domain evq-device-domain evq-net-domain evq-test-source evq-test-client evq-fs-workload \
  evq-example-watch-dirs
SEL4_BUILD = cd platform/sel4 && SEL4_PREFIX=$(SEL4_PREFIX) RUST_TARGET_PATH=$(RUST_SEL4)/support/targets $(SEL4_ENV) \
  $(SEL4_CARGO) build --locked --profile $(SEL4_PROFILE) $(BUILD_STD) -Z json-target-spec --target-dir $(SEL4_OUT)/$*/target
OBJCOPY_aarch64 = aarch64-linux-gnu-objcopy
OBJCOPY_x86_64 = objcopy

$(SEL4_OUT)/%/evq-root-task.elf: sel4-check sel4-tools sel4-fetch FORCE
	mkdir -p $(SEL4_OUT)/$*/domains
	for d in $(SEL4_DOMAINS); do \
	  ( $(SEL4_BUILD) --target $*-sel4 -p $$d ) || exit 1; \
	  $(OBJCOPY_$*) --strip-debug $(SEL4_OUT)/$*/target/$*-sel4/$(SEL4_PROFILE_DIR)/$$d.elf $(SEL4_OUT)/$*/domains/$$d.elf || exit 1; \
	done
	$(SEL4_BUILD) --target $*-sel4-roottask -p evq-root-task
	cp $(SEL4_OUT)/$*/target/$*-sel4-roottask/$(SEL4_PROFILE_DIR)/evq-root-task.elf $@

# The kernel loader and its payload tool, from the pinned rust-sel4, built
# outside rust-sel4's own workspace (whose lockfile needs git sources beyond
# rust-sel4) so that only their own dependencies are resolved.
$(SEL4_OUT)/rust-sel4-crates: sel4-fetch
	rm -rf $@ && mkdir -p $(SEL4_OUT) && cp -r $(RUST_SEL4)/crates $@

$(SEL4_OUT)/tools/bin/sel4-kernel-loader-add-payload: | $(SEL4_OUT)/rust-sel4-crates
	$(SEL4_ENV) $(SEL4_CARGO) install --path $(SEL4_OUT)/rust-sel4-crates/sel4-kernel-loader/add-payload \
	  --root $(SEL4_OUT)/tools --target-dir $(SEL4_OUT)/tools/target

$(SEL4_OUT)/aarch64/loader/bin/sel4-kernel-loader: | $(SEL4_OUT)/rust-sel4-crates
	SEL4_PREFIX=$(SEL4_PREFIX) CC_aarch64_unknown_none=aarch64-linux-gnu-gcc $(SEL4_ENV) \
	  $(SEL4_CARGO) install $(BUILD_STD) --target aarch64-unknown-none \
	  --path $(SEL4_OUT)/rust-sel4-crates/sel4-kernel-loader --root $(SEL4_OUT)/aarch64/loader \
	  --target-dir $(SEL4_OUT)/aarch64/loader/target

$(SEL4_OUT)/aarch64/evq.img: $(SEL4_OUT)/aarch64/evq-root-task.elf \
    $(SEL4_OUT)/tools/bin/sel4-kernel-loader-add-payload $(SEL4_OUT)/aarch64/loader/bin/sel4-kernel-loader
	$(SEL4_OUT)/tools/bin/sel4-kernel-loader-add-payload --loader $(SEL4_OUT)/aarch64/loader/bin/sel4-kernel-loader \
	  --sel4-prefix $(SEL4_PREFIX) --app $< -o $@

# QEMU's multiboot loader takes a 32-bit ELF kernel.
$(SEL4_OUT)/x86_64/kernel32.elf: sel4-check FORCE
	mkdir -p $(dir $@) && objcopy -O elf32-i386 $(SEL4_PREFIX)/bin/kernel.elf $@

image: sel4-check
	@if [ "$(ARCH)" = aarch64 ]; then $(MAKE) --no-print-directory $(SEL4_OUT)/aarch64/evq.img; \
	else $(MAKE) --no-print-directory $(SEL4_OUT)/x86_64/evq-root-task.elf $(SEL4_OUT)/x86_64/kernel32.elf; fi

qemu: image
	$(QEMU_$(ARCH))

test-sel4: image c-sel4
	tests/sel4/boot-test.sh $(ARCH) $(SEL4_OUT)/$(ARCH)/serial.log $(QEMU_$(ARCH))

# The C client library as a seL4 C client domain links it: built without
# std (its own panic handler) for ARCH's bare-metal target, then linked
# alone into a freestanding C program (crates/evq-c/examples/freestanding.c:
# no C library, no libgcc), which fails on any symbol the library needs
# and does not bring.
CC_SEL4_aarch64 = aarch64-linux-gnu-gcc
CC_SEL4_x86_64 = gcc
c-sel4: sel4-check sel4-tools
	RUSTUP_TOOLCHAIN=stable cargo fetch --locked --quiet
	RUSTC_BOOTSTRAP=1 PATH=/usr/bin:$$PATH $(SEL4_CARGO) build --offline --locked --release --quiet -p evq-c --lib \
	  --no-default-features --features panic-handler --target $(ARCH)-unknown-none \
	  -Z build-std=core,compiler_builtins -Z build-std-features=compiler-builtins-mem --target-dir $(SEL4_OUT)/c
	$(CC_SEL4_$(ARCH)) -std=c11 -Wall -Wextra -Werror -ffreestanding -nostdlib -static -Icrates/evq-c/include \
	  crates/evq-c/examples/freestanding.c $(SEL4_OUT)/c/$(ARCH)-unknown-none/release/libevq.a \
	  -o $(SEL4_OUT)/c/freestanding-$(ARCH)
	@echo "C client library ($(ARCH)): libevq.a without std links alone into a freestanding program"

# The instruction-count benchmark (docs/performance.md §3): the system of
# images/<board>/bench.toml, built apart from the test image, on the kernel
# SEL4_PREFIX names (a release build: KernelDebugBuild=OFF, KernelPrinting
# and, on aarch64, KernelArmExportPMUUser on), run under QEMU's -icount.
SEL4_BENCH_OUT := $(CURDIR)/target/sel4-bench
bench-sel4: sel4-check
	$(MAKE) --no-print-directory sel4-bench-run SEL4_OUT=$(SEL4_BENCH_OUT) EVQ_SYSTEM=bench.toml SEL4_PROFILE=release \
	  SEL4_DOMAINS="evq-server-domain evq-bench-domain"

sel4-bench-run: image
	tests/sel4/bench-run.sh $(ARCH) $(SEL4_OUT)/$(ARCH)/serial.log $(QEMU_$(ARCH)) -icount shift=0,sleep=off

.PHONY: sel4-check FORCE bench-sel4 sel4-bench-run c-sel4
FORCE:
