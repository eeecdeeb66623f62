# storefs — see README.md.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
export STOREFS_VERSITYGW ?= $(CURDIR)/.tools/bin/versitygw
# Every build, test and benchmark uses the binary operators run: static
# (no cgo: no dynamic loader at start, runs on any Linux), without
# urfave/cli's man-page generator (its markdown parser's init is
# startup time storefs find pays for nothing). See docs/performance.md.
export CGO_ENABLED = 0
export GOFLAGS += -tags=urfave_cli_no_docs

.PHONY: build test test-unit test-deps lint demo bench bench-go fuzz clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/storefs ./cmd/storefs

test-deps:
	./scripts/test-deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Every test: installs what it needs (fuse3, attr, versitygw), then runs
# the unit tests and the system tier (real FUSE mounts, a real versitygw
# on 127.0.0.1 started by the tests themselves, mount(8)), and the fuzzers.
test: test-deps lint build
	STOREFS_SYSTEM_TESTS=1 $(GO) test -count=1 -timeout 20m ./...
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# The unit tests only: no system package, no service, no root; the
# system tier skips, saying so (docs/development.md).
test-unit: lint
	env -u STOREFS_SYSTEM_TESTS $(GO) test -count=1 -timeout 10m ./...

# Each fuzz target for a short bound (also part of make test).
FUZZTIME ?= 20s
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# Builds a sample Piri data dir, mounts it, tours it, unmounts. Needs root
# (/dev/fuse is root-only here). `bin/storefs demo MNT` keeps it mounted.
demo: build
	./scripts/test-deps.sh apt
	bin/storefs demo --exit

# storefs against direct reads, rclone mount and s3fs: one table.
# TRIALS, LIST_N and SMALL_N scale it (see scripts/bench.sh).
bench:
	./scripts/bench.sh

# The ranged-Get micro-benchmarks of every backend.
bench-go: test-deps
	$(GO) test -run '^$$' -bench . -benchtime 2s ./store/...

clean:
	rm -rf bin
