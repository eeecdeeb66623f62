#!/usr/bin/env bash
# Runs every go fuzz target of the repo for a short bound each
# (FUZZTIME, default 20s), so a decoder regression shows up in CI.
#
# Go's fuzz coordinator can fail a target with "context deadline exceeded"
# at the -fuzztime boundary having found nothing (golang/go#48820 and a
# race on the deadline; seen here with the worker busy minimizing a new
# interesting input): such a run, with no failing input written, is run
# once more. A real failure writes its input and fails at once.
# Minimization is bounded (-fuzzminimizetime) so it cannot eat the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-20s}
log=$(mktemp /tmp/storefs-fuzz.XXXXXX)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    for attempt in 1 2; do
      echo "fuzz $pkg $target ($fuzztime)"
      if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "$pkg" >"$log" 2>&1; then
        break
      fi
      if [ "$attempt" = 1 ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
        echo "fuzz $pkg $target: the fuzz coordinator's deadline, no failing input: once more"
        continue
      fi
      cat "$log"; exit 1
    done
  done
done
