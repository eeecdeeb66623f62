#!/usr/bin/env bash
# The embedded default, end to end: builds storefs, lays out a sample Piri
# data_dir in a temp folder (flatfs blobs, as Piri writes them), and shows
# what storefs reads back.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bin/storefs
dir=$(mktemp -d /tmp/storefs-demo.XXXXXX)
echo "sample data dir: $dir"
mkdir -p "$dir/samples"
printf 'hello world' > "$dir/samples/hello.txt"
head -c 5000000 /dev/urandom > "$dir/samples/random.bin"
seq 1 200000 > "$dir/samples/numbers.txt"

run() { echo; echo "\$ $*"; "$@"; }
run $bin blob put --data-dir "$dir" "$dir"/samples/*
run $bin blob ls -l --data-dir "$dir"
run $bin blob get --data-dir "$dir" --range 0-4 ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i
echo
run $bin blob stat --data-dir "$dir" zQmaozNR7DZHQK1ZcU9p7QdrshMvXqWK6gpu5rmrkPdT3L4
run $bin blob verify --data-dir "$dir"
echo
echo "the blobs are in Piri's layout:"
run find "$dir/pdp/datastore" -maxdepth 2 -name '*.data'
