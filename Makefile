# The two commands of the README: `make run` and `make test`.
# Both install missing Debian packages first (needs root or sudo).
JOBS ?= $(shell nproc)
CTEST = ctest --output-on-failure --timeout 600

.PHONY: all deps deps-run build build-asan build-tsan deb systemd-check run test test-asan bench soak fuzz format format-check config-examples clean

all: build

deps:
	@sh scripts/install-deps

deps-run:
	@CES_DEPS=run sh scripts/install-deps

build: deps-run
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS)

build-asan: deps-run
	@cmake -S . -B build-asan -DCES_SANITIZER=address -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build-asan -j $(JOBS)

# ThreadSanitizer: libzmq and czmq are not instrumented, so hand-overs
# through ZeroMQ pipes are suppressed (tests/tsan/suppressions.txt)
build-tsan: deps-run
	@cmake -S . -B build-tsan -DCES_SANITIZER=thread -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build-tsan -j $(JOBS)
TSAN_ENV = TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan/suppressions.txt"

# The Debian packages ces_VERSION_ARCH.deb (programs, units, /etc/ces, man pages,
# dashboard and alerts) and libces-dev_VERSION_ARCH.deb (libces.a, headers,
# ces.pc), from the build above, into build/ (dpkg-deb; scripts/make-deb)
deb: build
	sh scripts/make-deb build

# The package installed and its units run on a booted Debian 12 (systemd-nspawn):
# start, /health, reload, restarts, stop, the split units, remove and purge.
# Not part of make test: needs root and a Debian mirror, ~2 minutes (~2 more the
# first time, for debootstrap into build/systemd-root). scripts/systemd-check
systemd-check: deb
	sh scripts/systemd-check build

# Rooms' state, history and sequences survive restarts of make run
CES_DATA_DIR ?= $(CURDIR)/data
run: build
	./build/ces --data-dir $(CES_DATA_DIR)

# Normal build (with a valgrind run of the selftests), then ASan+UBSan, then
# ThreadSanitizer (the threaded edge and repeater; timing bounds skipped)
test: deps build build-asan build-tsan format-check
	cd build && $(CTEST)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(CTEST)
	cd build-tsan && $(TSAN_ENV) $(CTEST)

# libFuzzer on the codecs, 60 s each (needs clang; not part of make test)
FUZZ_SECONDS ?= 60
fuzz: deps-run
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCES_SANITIZER=address \
	    -DCES_FUZZER=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_frame fuzz_proto fuzz_auth fuzz_body fuzz_registration
	for t in frame proto auth body registration; do \
	    mkdir -p build-fuzz/corpus-$$t && cp tests/fuzz/corpus/$$t/* build-fuzz/corpus-$$t/ && \
	    ./build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus-$$t || exit 1; \
	done

# The benchmark (not part of make test, ~5 minutes): ces beside mosquitto, nats-server and a bare
# civetweb server over WebSocket, and the hub core alone; appended to docs/PERFORMANCE.md.
# BENCH_QUICK=1 make bench: a ~1 minute smoke run (not appended).
bench: build
	bench/run.sh --append docs/PERFORMANCE.md

# The soak run (not part of make test; SOAK_SECONDS, default 3600, plus ~1 minute): ces-hub,
# ces-edge and ces-repeater as separate processes at half their measured capacity, with clients
# joining and leaving; fails on unexplained loss or RSS growth; appended to docs/SOAK.md.
# SOAK_SECONDS=180 make soak: a short run. See bench/README.md.
soak: build
	bench/soak.sh --append docs/SOAK.md

# The commented example configuration of each program, from its option table
# (the test "operating" checks that they are current)
config-examples: build
	for p in ces ces-hub ces-edge ces-repeater; do ./build/$$p --example-config >ops/$$p.conf.example; done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h') \
	    || (echo "code is not formatted: run 'make format'"; exit 1)

clean:
	rm -rf build build-asan build-tsan build-fuzz
