#!/usr/bin/env bash
# Runs every go fuzz target of the repo for a short bound each
# (FUZZTIME, default 20s), so a decoder regression shows up in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-20s}
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/storefs-fuzz.log 2>&1 || { cat /tmp/storefs-fuzz.log; exit 1; }
  done
done
