# Wraps CMake: `make` builds, `make run` starts a server, `make test` runs the tests, `make soak` the long ones.
BUILD ?= build
PORT ?= 6666
DATA ?= ./data
PYTHON ?= /usr/bin/python3
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60

.PHONY: all build deps run test unit integration soak asan tsan fuzz clean

all: build

deps:
	@./scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: deps build
	./$(BUILD)/tidekv-server tidekv.conf --port $(PORT) --dir $(DATA)

test: deps build unit integration

unit: build
	cd $(BUILD) && ctest --output-on-failure

integration: build
	TIDEKV_SERVER=$(CURDIR)/$(BUILD)/tidekv-server $(PYTHON) -m pytest -q -m "not soak" tests/integration

# Long soak and stress tests (1,000 clients, CDC stress, kill -9 rounds, 1M-member collections).
soak: deps build
	TIDEKV_SERVER=$(CURDIR)/$(BUILD)/tidekv-server $(PYTHON) -m pytest -q -m soak tests/integration

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
asan: deps
	@cmake -S . -B build-asan -DTIDEKV_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure
	ASAN_OPTIONS=detect_leaks=0 TIDEKV_SANITIZED=1 TIDEKV_SERVER=$(CURDIR)/build-asan/tidekv-server $(PYTHON) -m pytest -q -m "not soak" tests/integration

# The tests that run many threads at once, against a server under ThreadSanitizer: a race stops
# the server (halt_on_error), so its test fails. tests/tsan.supp says what is left out and why;
# TSan's deadlock detector cannot follow a write group holding many key locks at once.
TSAN_TESTS ?= test_concurrency.py test_connection.py test_client_limits.py test_blocking.py test_blocking_served_at_write.py test_stream_blocking.py test_config.py test_mailbox.py test_scripting.py test_pubsub.py test_functions.py
tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS=-fsanitize=thread \
		-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target tidekv-server tidekv-cdc
	cd tests/integration && TSAN_OPTIONS="halt_on_error=1 detect_deadlocks=0 suppressions=$(CURDIR)/tests/tsan.supp" \
		TIDEKV_SERVER=$(CURDIR)/build-tsan/tidekv-server $(PYTHON) -m pytest -q -m "not soak" $(TSAN_TESTS)

# libFuzzer targets (tests/fuzz) built with clang and sanitizers, each run FUZZ_SECONDS seconds.
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -DTIDEKV_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzzers
	tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
