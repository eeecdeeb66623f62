#!/usr/bin/env bash
# pg-golden.sh OUT: run Piri's own code against a throwaway PostgreSQL
# (Debian's postgresql; as root it runs as the postgres user) and write
# the schema it makes to OUT (see postgres.go).
set -euo pipefail
out=$(realpath -m "$1")
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
as=()
if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; as=(runuser -u postgres --); fi
"${as[@]}" "$bin/initdb" -D "$dir/data" -U piri --auth=trust --no-sync >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${as[@]}" "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 -c fsync=off >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 100); do "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
go run . postgres "postgres://piri@127.0.0.1:$port/postgres?sslmode=disable" "$out"
