# evq: the two commands the README gives, and the ones around them.
#
#   make run    run the system (for now: the cores wired on threads, crates/evq-demo)
#   make test   every host test; CI runs exactly this (.ci/run)
#   make bench  ring throughput against rtrb (criterion); a benchmark, not a test
#   make fuzz   the cargo-fuzz targets in fuzz/ (needs a nightly toolchain)
#
# The only thing assumed is rustup's stable toolchain; `tools` checks it.

CARGO ?= cargo
FUZZ_SECONDS ?= 60

.PHONY: all run test bench fuzz doc tools clean

all: test

tools:
	@command -v $(CARGO) >/dev/null 2>&1 || { \
	  echo "error: cargo not found: install Rust with rustup (https://rustup.rs)" >&2; exit 1; }

run: tools
	$(CARGO) run --locked --release -p evq-demo

test: tools
	$(CARGO) test --locked --workspace
	# Tests too slow for a debug build: the ring's counters wrapping past 2^32.
	$(CARGO) test --locked --release -p evq-ring --test model -- --exact counters_wrap_past_u32_max
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --locked --workspace --no-deps --quiet

bench: tools
	$(CARGO) bench --locked -p evq-bench

fuzz: tools
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install --locked cargo-fuzz
	cd fuzz && for t in $$($(CARGO) +nightly fuzz list); do \
	  $(CARGO) +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; done

doc: tools
	$(CARGO) doc --locked --workspace --no-deps

clean:
	$(CARGO) clean
