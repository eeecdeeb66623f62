# storefs — see README.md.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
export STOREFS_VERSITYGW ?= $(CURDIR)/.tools/bin/versitygw

.PHONY: build test test-deps lint demo bench bench-go fuzz clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/storefs ./cmd/storefs

test-deps:
	./scripts/test-deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Every test: installs what it needs, then runs the unit, conformance (real
# versitygw on 127.0.0.1, started by the tests themselves) and CLI tests.
test: test-deps lint build
	$(GO) test -count=1 -timeout 20m ./...
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

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
