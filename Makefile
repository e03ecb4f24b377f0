# cluster-proc: the two commands a newcomer needs are `make demo` and `make test`.
SWIFT ?= swift

.PHONY: all build release demo test bench deps test-deps clean

all: build

deps:
	scripts/install-deps

test-deps:
	scripts/install-deps --test

build: deps
	$(SWIFT) build

## Self-contained release tools (static Swift runtime): procsrv can be copied to nodes
## that have no Swift installed.
release: deps
	$(SWIFT) build -c release --static-swift-stdlib

## The main job end to end on a small simulated cluster.
demo:
	scripts/demo

## Every benchmark, each beside its peer, results under results/.
bench: test-deps
	scripts/bench

## Every test: installs the test dependencies, builds, runs unit and end-to-end tests.
## shellcheck fails on warnings and errors; its info-level notes (deliberate word splitting,
## scripts in single quotes for another shell) do not.
test: test-deps
	shellcheck --severity=warning scripts/* .ci/run
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

clean:
	rm -rf .build results
