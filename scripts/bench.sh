#!/usr/bin/env bash
# make bench: storefs against the limit (direct file reads, direct S3 GETs)
# and against rclone mount and s3fs, on one versitygw (keep-alive) on
# 127.0.0.1. Each cell is the median of TRIALS runs; every run gets a fresh
# mount, dropped page caches and a re-read of the server's files (this VM
# pages out idle cache), then one read of another blob through the mount
# (dropping caches evicts each daemon's own code too; no mount is measured
# faulting itself back in). "open + first 4 KiB" is the median over FIRST_N
# 64 MiB blobs, each opened once after 20 ms of idleness (see benchtool);
# listings read directories as glibc's readdir does. Prints one markdown
# table.
#   TRIALS=3 LIST_N=1000000 SMALL_N=10000 SHARDED_N=100000 FIRST_N=11 scripts/bench.sh
#   TESTS="first ls10k" KINDS="direct-get storefs-s3" scripts/bench.sh   (a part)
#   BASELINE=<commit> TESTS="seq first fio16" KINDS="storefs-flatfs-pread baseline-flatfs-pread storefs-s3 baseline-s3" scripts/bench.sh
#     this tree against another build of storefs, in one run: a baseline-X
#     kind mounts as storefs-X does, with the binary built at <commit>;
#     storefs-flatfs-pread is the data dir served by the daemon (--no-passthrough)
#   CAT_N=1000000 CAT_INDEXES=10000 CAT_SLICES=500   the catalogue rows (TESTS=catalog):
#     loopback, a flatfs node of CAT_N blobs, CAT_INDEXES of them indexes of CAT_SLICES
#     slices; remote, CAT_N (100000) blobs on S3, 1 % indexes, the rest 4 KiB
#   TESTS=content: an upload's files through /content against /blobs of its shards;
#   TESTS="content kubo": and kubo v0.43.1 (built from the module proxy) importing
#     the same shards, then ipfs cat (opt-in: the build takes minutes)
#   PDP_N=1000000 PDP_ROOTS=10000 PDP_LS_N=100000   the proof-risk rows (TESTS=pdp, loopback)
#   PIPE_N=1000000 PIPE_ROOTS=10000 PIPE_BASE=ebe2d01 the PDP pipeline row (TESTS=pipeline, loopback)
#   PROFILE=remote scripts/bench.sh   S3 far away: toxiproxy in front of versitygw,
#     10 ms latency and 100 MiB/s per connection (downstream); S3 rows only,
#     plus 8 ranged 8 MiB streams as the direct client and 16 random readers (fio);
#     "storefs S3, cache" mounts with --cache-dir, warmed by one mount before
#     the measured one: the same read (seq: cat of the blob; fio16: the same
#     fio job, randrepeat=1), the cache dir emptied before each trial
# The body is one block, read whole before it runs: editing this file
# while a long run is going does not change that run.
{
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS=${TRIALS:-3}
LIST_N=${LIST_N:-1000000}
SMALL_N=${SMALL_N:-10000}
SHARDED_N=${SHARDED_N:-100000}
FIRST_N=${FIRST_N:-11}
PROFILE=${PROFILE:-loopback}
[ "$(id -u)" = 0 ] || { echo "bench: needs root (FUSE, drop_caches)" >&2; exit 1; }

./scripts/test-deps.sh >&2
for pkg in rclone s3fs; do
  command -v $pkg >/dev/null || { apt-get install -y -qq $pkg >/dev/null; }
done
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
command -v fio >/dev/null || apt-get install -y -qq fio >/dev/null

W=$(mktemp -d /var/tmp/storefs-bench.XXXXXX)
MOUNTS=()
SERVER=
PROXY=
cleanup() {
  for m in "${MOUNTS[@]}"; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  [ -n "$PROXY" ] && kill "$PROXY" 2>/dev/null || true
  [ -d "$W/base" ] && git worktree remove --force "$W/base" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
log() { echo "bench: $*" >&2; }

go build -o "$W/storefs" ./cmd/storefs
go build -o "$W/bt" ./tools/benchtool
SF="$W/storefs"; BT="$W/bt"; SFB=
if [ -n "${BASELINE:-}" ]; then
  git worktree add --detach "$W/base" "$BASELINE" >&2
  (cd "$W/base" && go build -o "$W/storefs-base" ./cmd/storefs)
  SFB="$W/storefs-base"
fi

export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret
PORT=$("$BT" freeport)
export BENCH_S3=127.0.0.1:$PORT
mkdir -p "$W/s3"
ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
  .tools/bin/versitygw --port "$BENCH_S3" --region us-east-1 --keep-alive --quiet posix "$W/s3" >"$W/vgw.log" 2>&1 &
SERVER=$!
for _ in $(seq 200); do "$BT" s3 ping bench-pdp >/dev/null 2>&1 && break; sleep 0.05; done
S3FLAGS=(--s3-endpoint "$BENCH_S3" --s3-insecure)

log "data: a 1 GiB blob and $FIRST_N of 64 MiB (S3 and flatfs), $SMALL_N small S3 blobs, $LIST_N flatfs blobs"
head -c 1073741824 /dev/urandom >"$W/big"
NAME=$("$SF" blob put "${S3FLAGS[@]}" --s3-bucket-prefix bench- "$W/big" | cut -f1)
"$SF" blob put --data-dir "$W/piri" "$W/big" >/dev/null
rm "$W/big"
# another blob, read through each mount before measuring (see fresh)
head -c 65536 /dev/urandom >"$W/warm"
WARM=$("$SF" blob put "${S3FLAGS[@]}" --s3-bucket-prefix bench- "$W/warm" | cut -f1)
"$SF" blob put --data-dir "$W/piri" "$W/warm" >/dev/null
# blobs for "open + first 4 KiB", of a size Piri stores (upload shards are
# up to ~127 MiB; some mounts fetch more of a bigger file on open): each
# trial opens every one once, cold
FIRSTS=()
for _ in $(seq "$FIRST_N"); do
  head -c 67108864 /dev/urandom >"$W/f"
  FIRSTS+=("$("$SF" blob put "${S3FLAGS[@]}" --s3-bucket-prefix bench- "$W/f" | cut -f1)")
  "$SF" blob put --data-dir "$W/piri" "$W/f" >/dev/null
done
rm "$W/f"
SHARD=${NAME: -3:2}
S3FILE="$W/s3/bench-pdp/$SHARD/$NAME.data"
DISKFILE="$W/piri/pdp/datastore/$SHARD/$NAME.data"
"$BT" s3 putflat flat-pdp "$SMALL_N" >/dev/null
[[ " ${TESTS:-ls100k} " == *" ls100k "* || " ${TESTS:-} " == *" ll100k "* ]] && "$BT" s3 putsharded shard-pdp "$SHARDED_N" >/dev/null
# the 1M node's blobs, each accepted by one of 100 spaces when /spaces is walked
if [[ " ${TESTS:-ls1m} " == *" ls1m "* || " ${TESTS:-} " == *" walk1m "* || " ${TESTS:-} " == *" spaces1m "* ]]; then
  "$BT" mkflatfs "$W/piri1m" "$LIST_N" $( [ "$PROFILE" = loopback ] && [[ " ${TESTS:-spaces1m} " == *" spaces1m "* ]] && echo 100) >/dev/null
fi

# the catalogue's node: uploads' blobs, indexes among them
CAT_SLICES=${CAT_SLICES:-500}
if [[ " ${TESTS:-catalog} " == *" catalog "* ]]; then
  if [ "$PROFILE" = remote ]; then
    CAT_N=${CAT_N:-100000}
    "$BT" s3 putuploads cat-pdp "$CAT_N" $((CAT_N / 100)) "$CAT_SLICES" 4096 >/dev/null
  else
    CAT_N=${CAT_N:-$LIST_N}; CAT_INDEXES=${CAT_INDEXES:-$((CAT_N / 100))}
    CAT_SAMPLE=$("$BT" mkuploads "$W/piricat" "$CAT_N" "$CAT_INDEXES" "$CAT_SLICES")
  fi
fi

# the /content rows' upload: 1 GiB and 8 x 64 MiB files, 1 MiB leaves,
# in JS-client shards of 133,169,152 bytes (benchtool mkcontent)
if [[ " ${TESTS:-content} " == *" content "* || " ${TESTS:-} " == *" kubo "* ]]; then
  if [ "$PROFILE" = remote ]; then
    "$BT" mkcontent s3:content-pdp >"$W/content.txt"
  else
    "$BT" mkcontent "$W/piricontent" >"$W/content.txt"
  fi
fi

echo "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" >"$W/s3fs.passwd"; chmod 600 "$W/s3fs.passwd"

# The remote profile: every reader (direct and mounts) goes through
# toxiproxy from here on; the data above went in directly.
if [ "$PROFILE" = remote ]; then
  API=$("$BT" freeport); LISTEN=127.0.0.1:$("$BT" freeport)
  .tools/bin/toxiproxy-server -host 127.0.0.1 -port "$API" >"$W/toxi.log" 2>&1 &
  PROXY=$!
  for _ in $(seq 200); do curl -fs "http://127.0.0.1:$API/version" >/dev/null && break; sleep 0.05; done
  toxi() { curl -fs -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$API$1" -d "$2" >/dev/null; }
  toxi /proxies "{\"name\":\"s3\",\"listen\":\"$LISTEN\",\"upstream\":\"$BENCH_S3\",\"enabled\":true}"
  toxi /proxies/s3/toxics '{"name":"lat","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":10}}'
  toxi /proxies/s3/toxics '{"name":"bw","type":"bandwidth","stream":"downstream","toxicity":1,"attributes":{"rate":102400}}'
  export BENCH_S3=$LISTEN
  S3FLAGS=(--s3-endpoint "$BENCH_S3" --s3-insecure)
  log "remote profile: toxiproxy $LISTEN in front of versitygw (10 ms, 100 MiB/s per connection)"
fi
# cpu PID → the process's user + system CPU ticks so far
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# mount KIND BUCKET → prints the mountpoint; the daemon's pid in $W/pid
mount_() {
  local kind=$1 bucket=$2 mnt sf=$SF; mnt=$(mktemp -d "$W/mnt.XXXX"); MOUNTS+=("$mnt")
  case $kind in baseline-*) sf=$SFB; kind=storefs-${kind#baseline-} ;; esac
  case $kind in
    storefs-flatfs-pread) "$sf" mount --data-dir "$bucket" --no-passthrough "$mnt" >"$W/sf.log" 2>&1 & echo $! >"$W/pid" ;;
    storefs-s3) "$sf" mount "${S3FLAGS[@]}" --s3-bucket-prefix "${bucket%pdp}" "$mnt" >"$W/sf.log" 2>&1 & echo $! >"$W/pid" ;;
    storefs-cache) "$sf" mount "${S3FLAGS[@]}" --s3-bucket-prefix "${bucket%pdp}" --cache-dir "$W/cache" --cache-size 2G "$mnt" >"$W/sf.log" 2>&1 & echo $! >"$W/pid" ;;
    storefs-flatfs) "$sf" mount --data-dir "$bucket" "$mnt" >"$W/sf.log" 2>&1 & echo $! >"$W/pid" ;;
    rclone-off|rclone-full)
      local mode=${kind#rclone-}
      env -u AWS_CA_BUNDLE RCLONE_CONFIG=/dev/null RCLONE_CONFIG_LAB_TYPE=s3 RCLONE_CONFIG_LAB_PROVIDER=Other \
        RCLONE_CONFIG_LAB_ENDPOINT="http://$BENCH_S3" RCLONE_CONFIG_LAB_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID \
        RCLONE_CONFIG_LAB_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY RCLONE_CONFIG_LAB_REGION=us-east-1 \
        RCLONE_CONFIG_LAB_FORCE_PATH_STYLE=true rclone mount "lab:$bucket" "$mnt" --vfs-cache-mode "$mode" \
        --cache-dir "$(mktemp -d "$W/rc.XXXX")" >"$W/rc.log" 2>&1 & echo $! >"$W/pid" ;;
    s3fs) s3fs "$bucket" "$mnt" -f -o passwd_file="$W/s3fs.passwd" -o url="http://$BENCH_S3" \
        -o use_path_request_style -o endpoint=us-east-1 -o tmpdir="$W" >"$W/s3fs.log" 2>&1 & echo $! >"$W/pid" ;;
  esac
  for _ in $(seq 400); do mountpoint -q "$mnt" && break; sleep 0.05; done
  mountpoint -q "$mnt" || { log "$kind did not mount"; cat "$W"/*.log >&2; exit 1; }
  echo "$mnt"
}
umount_() { fusermount3 -u "$1" 2>/dev/null || umount -l "$1"; local pid; pid=$(cat "$W/pid"); for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done; }
hwm() { awk '/VmHWM/ {printf "%d", $2/1024}' "/proc/$(cat "$W/pid")/status"; }
# lo_bytes → bytes received on loopback so far; through toxiproxy every
# byte crosses loopback twice (server → proxy → client): counted once
lo_bytes() { awk -v hops="$( [ "$PROFILE" = remote ] && echo 2 || echo 1)" '/lo:/ {printf "%.0f\n", $2/hops}' /proc/net/dev; }
# fresh: cold client side (page cache dropped), warm server side (this VM
# pages out idle cache; re-read the server's data and metadata directly).
fresh() {
  sync; echo 3 >/proc/sys/vm/drop_caches
  cat "$S3FILE" "$DISKFILE" >/dev/null
  for n in "${FIRSTS[@]}"; do cat "$W/s3/bench-pdp/$(key "$n")" "$W/piri/pdp/datastore/$(key "$n")"; done >/dev/null
  "$BT" s3 list flat-pdp >/dev/null; "$BT" s3 first bench-pdp "$SHARD/$NAME.data" >/dev/null
  case ${1:-} in ls1m|walk1m|spaces1m) "$BT" listr "$W/piri1m/pdp/datastore" >/dev/null ;; ls100k|ll100k) "$BT" s3 list shard-pdp >/dev/null ;; esac
  # a warm cache dir is warm like the local files above
  [ -d "$W/cache/blobs" ] && find "$W/cache/blobs" -type f -exec cat {} + >/dev/null
  return 0
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# median5 CMD… → the median of 5 runs. For reads served from the page cache
# (a local file, and storefs' passthrough to it), where one 1 GiB read takes
# ~0.25 s and this VM's memory bandwidth wanders by ±20 % from one to the next.
median5() { for _ in 1 2 3 4 5; do "$@"; done | median; }

# fio16 FILE [IOS] → IOPS of 16 random 4 KiB readers for 8 s, or for IOS
# reads each: the same reads every run (randrepeat=1), as a warm-up must
# make for the run after it
fio16() {
  local limit=(--time_based --runtime=8)
  [ -n "${2:-}" ] && limit=(--number_ios="$2")
  fio --name=r --filename="$1" --rw=randread --bs=4k --ioengine=psync --numjobs=16 "${limit[@]}" \
    --randrepeat=1 --group_reporting --output-format=json 2>/dev/null | awk -F: '/"iops"/ {gsub(/[ ,]/, "", $2); print int($2); exit}'
}
# walk DIR → "find|stat seconds du-seconds": a backup tool's walk of every
# file (find, then a stat of each), then du -s over the same tree
walk() {
  local t0 t1 t2
  t0=$(date +%s.%N); find "$1" -type f -print0 | xargs -0 stat -c %s >/dev/null
  t1=$(date +%s.%N); du -s "$1" >/dev/null
  t2=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {printf "%.3f %.3f\n", b-a, c-b}'
}
# reads per reader of the cache row's fio job: about 8 s of the uncached row
WARM_IOS=${WARM_IOS:-500}
# warm KIND TEST BUCKET → a cache filled by the test's read on a mount of its
# own; its MiB moved (loopback) in $W/warmed
warm() {
  local mnt p before
  rm -rf "$W/cache"
  mnt=$(mount_ "$1" "$3"); p=$(path "$1" "$mnt")
  fresh; before=$(lo_bytes)
  case $2 in seq) cat "$p" >/dev/null ;; fio16) fio16 "$p" "$WARM_IOS" >"$W/warmiops" ;; esac
  echo $(( ($(lo_bytes)-before)/1048576 )) >"$W/warmed"
  umount_ "$mnt"
}

# key NAME → the blob's key in the bucket and in flatfs
key() { echo "${1: -3:2}/$1.data"; }
# path KIND MNT [NAME] → a blob's path in that mount (the big one by default)
path() { local n=${3:-$NAME}; case $1 in storefs-*|baseline-*) echo "$2/blobs/$n" ;; *) echo "$2/$(key "$n")" ;; esac; }
# firsts KIND MNT → the paths of the small blobs in that mount
firsts() { for n in "${FIRSTS[@]}"; do path "$1" "$2" "$n"; done; }

declare -A CELL
# trial KIND TEST → one number (and RSS/bytes side values in $W/side)
trial() {
  local kind=$1 test=$2 mnt p t before
  case $kind in
    direct-file) # in the remote profile only the local-file limit of the cached blob
      [ "$PROFILE" = remote ] && [ "$test" != seq ] && { echo -; return; }
      fresh "$test"; case $test in
        seq) median5 "$BT" seq "$DISKFILE" ;; first) "$BT" first $(firsts direct-file "$W/piri/pdp/datastore") ;; rand) "$BT" randread "$DISKFILE" 200 ;;
        par) "$BT" parallel "$DISKFILE" 8 ;; ls1m) "$BT" listr "$W/piri1m/pdp/datastore" | cut -d' ' -f1 ;;
        walk1m|spaces1m) walk "$W/piri1m/pdp/datastore" >"$W/walk"; cut -d' ' -f1 "$W/walk"; echo "- - - - $(cut -d' ' -f2 "$W/walk")" >"$W/side" ;; *) echo - ;; esac; return ;;
    direct-streams) fresh "$test"; case $test in
        seq) /usr/bin/time -f "%U %S" -o "$W/time" "$BT" s3 streams bench-pdp "$SHARD/$NAME.data" 8 8388608
          echo "- - $(awk '{printf "%.2f", $1 + $2}' "$W/time")" >"$W/side" ;;
        fio16) "$BT" s3 randpar bench-pdp "$SHARD/$NAME.data" 16 8 | cut -d' ' -f2 ;;
        ls100k|ll100k) "$BT" s3 listpar shard-pdp 16 | cut -d' ' -f1 ;; *) echo - ;; esac; return ;;
    direct-get) fresh "$test"; case $test in
        seq) /usr/bin/time -f "%U %S" -o "$W/time" "$BT" s3 seq bench-pdp "$SHARD/$NAME.data"
          echo "- - $(awk '{printf "%.2f", $1 + $2}' "$W/time")" >"$W/side" ;;
        fio16) t=$("$BT" s3 randread bench-pdp "$SHARD/$NAME.data" 200); awk -v t="$t" 'BEGIN {printf "%.0f\n", 16/(t/200)}' ;; first) "$BT" s3 first bench-pdp $(for n in "${FIRSTS[@]}"; do key "$n"; done) ;;
        rand) before=$(lo_bytes); t=$("$BT" s3 randread bench-pdp "$SHARD/$NAME.data" 200); echo "$(( ($(lo_bytes)-before)/1048576 ))" >"$W/side"; echo "$t" ;;
        ls10k) "$BT" s3 list flat-pdp | cut -d' ' -f1 ;; ls100k|ll100k) "$BT" s3 list shard-pdp | cut -d' ' -f1 ;; *) echo - ;; esac; return ;;
  esac
  # k: the kind as the rules below know it (a baseline or the pread
  # path of flatfs behaves as its storefs kind does)
  local bucket=bench-pdp k=${kind#baseline-}
  k=${k%-pread}; [[ $kind == baseline-* ]] && k=storefs-$k
  [ "$test" = ls10k ] && bucket=flat-pdp
  [[ $test == l?100k ]] && bucket=shard-pdp
  [ "$k" = storefs-flatfs ] && bucket="$W/piri"
  [ "$k" = storefs-flatfs ] && [[ $test == ls1m || $test == walk1m || $test == spaces1m ]] && bucket="$W/piri1m"
  case $k:$test in storefs-flatfs:ls10k|storefs-s3:ls1m|rclone*:ls1m|s3fs:ls1m|storefs-flatfs:fio16|storefs-s3:walk1m|rclone*:walk1m|s3fs:walk1m|storefs-flatfs:l?100k) echo -; return ;; esac
  case $k:$test in storefs-flatfs:spaces1m) ;; *:spaces1m) echo -; return ;; esac
  # rclone lists 10k keys in 9-13 s here (2 min through the remote
  # profile): 100k would take most of the bench
  case $k:$test in rclone*:l?100k) echo -; return ;; esac
  case $k:$test in storefs-cache:seq|storefs-cache:fio16) warm "$kind" "$test" "$bucket" ;; storefs-cache:*) echo -; return ;; esac
  mnt=$(mount_ "$kind" "$bucket"); p=$(path "$kind" "$mnt")
  fresh "$test"
  # one request through the mount first: dropping caches evicted the
  # daemon's code too, and a running mount has it in memory
  case $test in ls*|ll*|walk*|spaces*) ls "$mnt" >/dev/null ;; *) "$BT" first "$(path "$kind" "$mnt" "$WARM")" >/dev/null ;; esac
  before=$(lo_bytes); cpu0=$(cpu "$(cat "$W/pid")")
  case $test in
    seq) case $k in storefs-flatfs|storefs-cache) t=$(median5 "$BT" seq "$p") ;; *) t=$("$BT" seq "$p") ;; esac ;;
    first) t=$("$BT" first $(firsts "$kind" "$mnt")) ;;
    fio16) if [ "$k" = storefs-cache ]; then t=$(fio16 "$p" "$WARM_IOS"); else t=$(fio16 "$p"); fi ;;
    rand) t=$("$BT" randread "$p" 200) ;; par) t=$("$BT" parallel "$p" 8) ;;
    ls10k) t=$("$BT" list "$mnt/$( [[ $k == storefs-* ]] && echo blobs )" -l | cut -d' ' -f1) ;;
    ls1m) t=$("$BT" list "$mnt/blobs" | cut -d' ' -f1) ;;
    ls100k|ll100k) t=$("$BT" list "$mnt/$( [[ $k == storefs-* ]] && echo blobs )" $( [ "$test" = ll100k ] && echo -l ) | cut -d' ' -f1) ;;
    walk1m) walk "$mnt/blobs" >"$W/walk"; t=$(cut -d' ' -f1 "$W/walk") ;;
    spaces1m) walk "$mnt/spaces" >"$W/walk"; t=$(cut -d' ' -f1 "$W/walk") ;;
  esac
  # MiB moved, peak RSS, and the daemon's CPU-s per GiB read (seq)
  echo "$(( ($(lo_bytes)-before)/1048576 )) $(hwm) $(awk -v a="$cpu0" -v b="$(cpu "$(cat "$W/pid")")" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", (b-a)/hz}') $( [ "$kind" = storefs-cache ] && cat "$W/warmed" || echo -) $( [[ $test == walk1m || $test == spaces1m ]] && cut -d' ' -f2 "$W/walk")" >"$W/side"
  umount_ "$mnt"
  echo "$t"
}

ALL_KINDS=(direct-file direct-get direct-streams storefs-flatfs storefs-s3 rclone-off rclone-full s3fs)
DEFAULT_TESTS="seq first rand ls10k ls1m walk1m spaces1m ls100k ll100k par catalog content pdp pipeline copy"
if [ "$PROFILE" = remote ]; then
  ALL_KINDS=(direct-file direct-get direct-streams storefs-s3 storefs-cache rclone-off rclone-full s3fs)
  DEFAULT_TESTS="seq first rand ls10k ls100k ll100k par fio16 catalog content"
fi
read -r -a KINDS <<<"${KINDS:-${ALL_KINDS[*]}}"
# kinds asked for beyond the profile's (a baseline, the pread path) get
# columns of their own
for kind in "${KINDS[@]}"; do [[ " ${ALL_KINDS[*]} " == *" $kind "* ]] || ALL_KINDS+=("$kind"); done
for kind in "${KINDS[@]}"; do [[ $kind != baseline-* || -n $SFB ]] || { log "$kind needs BASELINE=<commit>"; exit 2; }; done
read -r -a TESTS <<<"${TESTS:-$DEFAULT_TESTS}"
for test in "${TESTS[@]}"; do
  case $test in copy|catalog|content|kubo|pdp|pipeline) continue ;; esac # tables of their own, below
  for kind in "${KINDS[@]}"; do
    vals=(); sides=()
    for _ in $(seq "$TRIALS"); do
      : >"$W/side"
      v=$(trial "$kind" "$test")
      vals+=("$v"); sides+=("$(cat "$W/side")")
    done
    [ "${vals[0]}" = - ] && { CELL[$test,$kind]="—"; continue; }
    med=$(printf '%s\n' "${vals[@]}" | median)
    mib=$(printf '%s\n' "${sides[@]}" | awk '$1 != "-" {print $1}' | median)
    rss=$(printf '%s\n' "${sides[@]}" | awk '$2 != "-" {print $2}' | median)
    cpus=$(printf '%s\n' "${sides[@]}" | awk '{print $3}' | median)
    warmed=$(printf '%s\n' "${sides[@]}" | awk '$4 != "-" {print $4}' | median)
    du=$(printf '%s\n' "${sides[@]}" | awk '$5 != "" {print $5}' | median)
    case $test in
      seq) cell=$(awk -v s="$med" 'BEGIN {printf "%.0f MiB/s", 1024/s}') ;;
      par) cell=$(awk -v s="$med" 'BEGIN {printf "%.0f MiB/s", 8*1024/s}') ;;
      first) cell=$(awk -v s="$med" 'BEGIN {printf "%.3f ms", s*1000}') ;;
      fio16) cell="$med IOPS"; [ "$kind" = direct-get ] && cell="ideal 16/RTT = $med IOPS"
        [ "$kind" = direct-streams ] && cell="16 parallel 4 KiB GETs: $med IOPS" ;;
      rand) cell=$(awk -v s="$med" -v m="${mib:-0}" 'BEGIN {printf "%.1f ms, %s MiB moved", s*1000, m}') ;;
      *) cell=$(awk -v s="$med" 'BEGIN {printf "%.2f s", s}') ;;
    esac
    [ -n "$du" ] && cell="walk $cell, du -s $(printf '%.2f' "$du") s"
    case $test in seq|par|ls1m|walk1m|spaces1m|l?100k) [ -n "$rss" ] && [[ $kind != direct-* ]] && cell="$cell, RSS $rss MiB" ;; esac
    [ "$test" = seq ] && [ -n "$cpus" ] && [ "$kind" != direct-file ] && cell="$cell, $cpus CPU-s/GiB"
    [ "$test" = fio16 ] && [ -n "$mib" ] && [[ $kind != direct-* ]] && cell="$cell, $mib MiB moved"
    [ -n "$warmed" ] && cell="$cell; warm-up moved $warmed MiB"
    [ "$kind:$test" = storefs-cache:fio16 ] && cell="$cell for $((16 * WARM_IOS * 4 / 1024)) MiB asked (16 × $WARM_IOS reads)"
    CELL[$test,$kind]=$cell
    log "$test $kind: $cell"
  done
done

declare -A LABEL=([seq]="sequential read, 1 GiB" [first]="open + first 4 KiB" [rand]="200 random 4 KiB reads"
  [ls10k]="ls -l, $SMALL_N blobs (S3)" [ls1m]="ls, $LIST_N blobs (flatfs)" [par]="8 parallel readers, 1 GiB"
  [fio16]="16 random 4 KiB readers of one blob (fio, 8 s)"
  [walk1m]="walk of $LIST_N blobs (flatfs): find -type f \\| xargs stat, then du -s"
  [spaces1m]="walk of /spaces, $LIST_N blobs in 100 spaces (flatfs; direct: the data dir): find -type f \\| xargs stat, then du -s" [ls100k]="ls, $SHARDED_N sharded keys (S3; direct parallel: 16 prefixes at a time)"
  [ll100k]="ls -l, $SHARDED_N sharded keys (S3)")
declare -A HEAD=([direct-file]="direct file" [direct-get]="direct GET" [direct-streams]="direct, parallel (seq: 8 ranged 8 MiB streams)"
  [storefs-flatfs]="storefs flatfs" [storefs-flatfs-pread]="storefs flatfs, --no-passthrough" [storefs-s3]="storefs S3"
  [baseline-flatfs-pread]="baseline ${BASELINE:-} flatfs, --no-passthrough" [baseline-s3]="baseline ${BASELINE:-} S3" [baseline-flatfs]="baseline ${BASELINE:-} flatfs" [storefs-cache]="storefs S3, cache" [rclone-off]="rclone (vfs off)" [rclone-full]="rclone (vfs full)" [s3fs]="s3fs")
echo
header="| measure ($PROFILE) |"; rule="|---|"
for kind in "${ALL_KINDS[@]}"; do header="$header ${HEAD[$kind]} |"; rule="$rule---|"; done
echo "$header"; echo "$rule"
for test in "${TESTS[@]}"; do
  case $test in copy|catalog|content|kubo|pdp|pipeline) continue ;; esac
  row="| ${LABEL[$test]} |"
  for kind in "${ALL_KINDS[@]}"; do row="$row ${CELL[$test,$kind]:-·} |"; done
  echo "$row"
done
echo
echo "medians of $TRIALS runs; $(nproc) cores; versitygw v1.8.0 (keep-alive) on 127.0.0.1$( [ "$PROFILE" = remote ] && echo ", behind toxiproxy (10 ms, 100 MiB/s per connection)"); MiB moved = loopback traffic; CPU-s/GiB = the daemon's (direct GET: the minio-go client's)"

# catalog: storefs catalog's first build (a fresh catalogue, cold page
# cache), its second run (which must read no blob), and storefs find of
# one CID; remote, against a bare client that lists the bucket and reads
# every head with 16 parallel ranged GETs.
if [[ " ${TESTS[*]} " == *" catalog "* ]]; then
  json() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$2"; }
  if [ "$PROFILE" = remote ]; then
    CATARGS=("${S3FLAGS[@]}" --s3-bucket-prefix cat-)
  else
    CATARGS=(--data-dir "$W/piricat")
  fi
  rows=()
  for _ in $(seq "$TRIALS"); do
    rm -rf "$W/cat"; fresh
    /usr/bin/time -f "%e %M" -o "$W/time" "$SF" catalog "${CATARGS[@]}" --catalog-dir "$W/cat" --json >"$W/cat1.json" 2>"$W/cat.log" || { cat "$W/cat.log" >&2; exit 1; }
    read -r first rss <"$W/time"
    /usr/bin/time -f "%e %M" -o "$W/time" "$SF" catalog "${CATARGS[@]}" --catalog-dir "$W/cat" --json >"$W/cat2.json" 2>>"$W/cat.log"
    read -r second rss2 <"$W/time"
    bare=-; findms=-
    if [ "$PROFILE" = remote ]; then
      fresh; bare=$("$BT" s3 heads cat-pdp 16 | cut -d' ' -f1)
    else
      findms=$("$BT" exec 21 "$SF" find "${CATARGS[@]}" --catalog-dir "$W/cat" "$CAT_SAMPLE" | awk '{print $1 * 1000}')
    fi
    rows+=("$first $((rss / 1024)) $(json disk_bytes "$W/cat1.json") $(json slices "$W/cat1.json") $second $(json read "$W/cat2.json") $((rss2 / 1024)) $bare $findms")
  done
  col() { printf '%s\n' "${rows[@]}" | awk -v c="$1" '$c != "-" {print $c}' | median; }
  first=$(col 1); rss=$(col 2); disk=$(col 3); slices=$(col 4); second=$(col 5); read2=$(col 6); rss2=$(col 7); bare=$(col 8); findms=$(col 9)
  echo
  if [ "$PROFILE" = remote ]; then
    echo "| catalogue of $CAT_N blobs on S3 ($((CAT_N / 100)) indexes of $CAT_SLICES slices, the rest 4 KiB) | storefs catalog, first build | bare client: list + 16 parallel 4 KiB GETs | ratio | second run |"
    echo "|---|---|---|---|---|"
    echo "| time, peak RSS | $(printf '%.2f' "$first") s, RSS $rss MiB | $(printf '%.2f' "${bare:-0}") s | $(awk -v a="$first" -v b="${bare:-0}" 'BEGIN {if (b > 0) printf "%.2f×", a/b; else print "—"}') | $(printf '%.2f' "$second") s, $read2 blobs read |"
  else
    echo "| catalogue of $CAT_N flatfs blobs, $slices slices | first build | peak RSS | on disk | second run | storefs find of one CID |"
    echo "|---|---|---|---|---|---|"
    echo "| median of $TRIALS | $(printf '%.2f' "$first") s | $rss MiB (second run $rss2 MiB) | $(awk -v d="$disk" -v s="$slices" 'BEGIN {printf "%.0f MiB, %.0f B a slice", d/1048576, (s > 0 ? d/s : 0)}') | $(printf '%.2f' "$second") s, $read2 blobs read | $(printf '%.1f' "$findms") ms |"
  fi
fi

# content: the files inside an upload, read in place through /content,
# against the same mount's /blobs reading the shards that hold them, both
# hashing what they serve (--verify; --no-passthrough on a data dir).
# Each measure on a fresh mount, caches dropped, the catalogue built.
if [[ " ${TESTS[*]} " == *" content "* ]]; then
  field() { awk -v k="$1" '$1 == k {print $2}' "$W/content.txt"; }
  CROOT=$(field root); CBIG=$(field big); read -r -a CPS <<<"$(field p | tr '\n' ' ')"
  read -r -a CSHARDS <<<"$(field bigshard | tr '\n' ' ')"
  if [ "$PROFILE" = remote ]; then
    CARGS=("${S3FLAGS[@]}" --s3-bucket-prefix content-); CMOUNT=(--verify)
    cserver() { for n in $(field shard) $(field index); do cat "$W/s3/content-pdp/$(key "$n")"; done >/dev/null; }
  else
    CARGS=(--data-dir "$W/piricontent"); CMOUNT=(--verify --no-passthrough)
    cserver() { cat "$W"/piricontent/pdp/datastore/*/*.data >/dev/null; }
  fi
  "$SF" catalog "${CARGS[@]}" --catalog-dir "$W/ccat" >/dev/null
  cmount() {
    local mnt; mnt=$(mktemp -d "$W/mnt.XXXX"); MOUNTS+=("$mnt")
    "$SF" mount "${CARGS[@]}" "${CMOUNT[@]}" --catalog-dir "$W/ccat" "$mnt" >"$W/sf.log" 2>&1 & echo $! >"$W/pid"
    for _ in $(seq 400); do mountpoint -q "$mnt" && break; sleep 0.05; done
    mountpoint -q "$mnt" || { log "the /content mount did not mount"; cat "$W/sf.log" >&2; exit 1; }
    fresh; cserver; ls "$mnt/content" >/dev/null
    echo "$mnt"
  }
  # ctrial MEASURE → one number
  ctrial() {
    local mnt t; mnt=$(cmount)
    case $1 in
      seq-content) t=$("$BT" seq "$mnt/content/$CROOT/big.bin" | awk '{printf "%.2f", 1024/$1}') ;;
      seq-blobs) t=$(for s in "${CSHARDS[@]}"; do "$BT" seq "$mnt/blobs/$s"; done | awk -v n="${#CSHARDS[@]}" '{s += $1} END {printf "%.2f", n*133169152/1048576/s}') ;;
      first-content) t=$("$BT" first $(for p in "${CPS[@]}"; do echo "$mnt/content/$p"; done)) ;;
      first-get) t=$("$BT" s3 first content-pdp $(for n in "${CSHARDS[@]}"; do key "$n"; done)) ;;
      rand-content) t=$("$BT" randread "$mnt/content/$CBIG" 64) ;;
      rand-blobs) t=$("$BT" randfiles 64 $(for s in "${CSHARDS[@]}"; do echo "$mnt/blobs/$s"; done)) ;;
      rss8) local t0; t0=$(date +%s.%N); for p in "${CPS[@]}"; do cat "$mnt/content/$p" >/dev/null & done; wait
        t="$(hwm) $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", 8*64/(b-a)}')" ;;
    esac
    umount_ "$mnt"
    echo "$t"
  }
  declare -A CM
  measures=(seq-content seq-blobs rand-content rand-blobs rss8)
  [ "$PROFILE" = remote ] && measures+=(first-content first-get)
  for m in "${measures[@]}"; do
    vals=(); for _ in $(seq "$TRIALS"); do vals+=("$(ctrial "$m")"); done
    CM[$m]=$(printf '%s\n' "${vals[@]}" | median)
    [ "$m" = rss8 ] && CM[$m]="$(printf '%s\n' "${vals[@]}" | awk '{print $1}' | median) $(printf '%s\n' "${vals[@]}" | awk '{print $2}' | median)"
    log "content $m: ${CM[$m]}"
  done
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f×", a/b}'; }
  echo
  echo "| /content ($PROFILE; 1 MiB leaves, JS-client shards of 133,169,152 B; --verify) | /content | /blobs of the shards | ratio | target |"
  echo "|---|---|---|---|---|"
  echo "| cat of a 1 GiB file | ${CM[seq-content]} MiB/s | ${CM[seq-blobs]} MiB/s | $(ratio "${CM[seq-content]}" "${CM[seq-blobs]}") | ≥ 0.8× |"
  echo "| 64 random 4 KiB reads of it | $(awk -v s="${CM[rand-content]}" 'BEGIN {printf "%.1f ms", s*1000}') | $(awk -v s="${CM[rand-blobs]}" 'BEGIN {printf "%.1f ms", s*1000}') | $(ratio "${CM[rand-content]}" "${CM[rand-blobs]}") | ≤ 1.5× (remote) |"
  if [ "$PROFILE" = remote ]; then
    echo "| open + first 4 KiB of a file (2-level DAG) | $(awk -v s="${CM[first-content]}" 'BEGIN {printf "%.1f ms", s*1000}') | one GET of 4 KiB: $(awk -v s="${CM[first-get]}" 'BEGIN {printf "%.1f ms", s*1000}') | $(ratio "${CM[first-content]}" "${CM[first-get]}") | ≤ 3.3× |"
  fi
  read -r rss8 agg8 <<<"${CM[rss8]}"
  echo "| 8 files of 64 MiB read at once | daemon RSS $rss8 MiB, $agg8 MiB/s in all | | | RSS ≤ 256 MiB |"
fi

# kubo (opt-in, TESTS=kubo, loopback): what an IPFS node needs for the
# same file: ipfs dag import of the shards into an offline repo, then
# ipfs cat, beside storefs reading in place.
if [[ " ${TESTS[*]} " == *" kubo "* ]] && [ "$PROFILE" = loopback ]; then
  field() { awk -v k="$1" '$1 == k {print $2}' "$W/content.txt"; }
  # kubo's go.mod replaces go-libp2p with a fork the module proxy does not
  # serve (so go install refuses it too): build its source with upstream
  # go-libp2p v0.49.0 and the quic-go/webtransport-go it was made with.
  log "kubo: building v0.43.1 from the module proxy"
  ksrc=$(go mod download -json github.com/ipfs/kubo@v0.43.1 | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  cp -r "$ksrc" "$W/kubo-src"; chmod -R u+w "$W/kubo-src"
  (cd "$W/kubo-src" && go mod edit -dropreplace github.com/libp2p/go-libp2p \
     -require github.com/quic-go/webtransport-go@v0.11.1 -require github.com/quic-go/quic-go@v0.60.0 &&
   GOFLAGS=-mod=mod go build -o "$W/bin/ipfs" ./cmd/ipfs) >&2
  export IPFS_PATH="$W/ipfs"
  "$W/bin/ipfs" init --profile=test >/dev/null
  shards=(); for n in $(field shard); do shards+=("$W/piricontent/pdp/datastore/$(key "$n")"); done
  fresh; cat "${shards[@]}" >/dev/null
  t0=$(date +%s.%N); "$W/bin/ipfs" dag import --pin-roots=false --stats "${shards[@]}" >/dev/null; t1=$(date +%s.%N)
  sync; echo 3 >/proc/sys/vm/drop_caches
  t2=$(date +%s.%N); "$W/bin/ipfs" cat --offline "/ipfs/$(field big)" >/dev/null; t3=$(date +%s.%N)
  du=$(du -sb "$IPFS_PATH" | awk '{printf "%.0f", $1/1048576}')
  echo
  echo "| the same 1 GiB file, loopback | kubo v0.43.1 (offline repo) | storefs /content |"
  echo "|---|---|---|"
  echo "| before the first byte | ipfs dag import of the $(field shard | wc -l) shards: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f s", b-a}'), repo $du MiB | nothing (the catalogue reads each blob's head once) |"
  echo "| cat, page cache dropped | $(awk -v a="$t2" -v b="$t3" 'BEGIN {printf "%.0f MiB/s", 1024/(b-a)}') | ${CM[seq-content]:-run with TESTS=\"content kubo\"} MiB/s |"
fi

# pdp (loopback): proof risk. PDP_N blobs of 128 bytes in PDP_ROOTS roots
# (pieces named without computing commPs: check without --verify-commp
# reads no bytes), checked with its PDP state and without (state.db moved
# aside); ls -l of PDP_LS_N subroots' links in 100 roots against ls -l of
# as many /blobs; and 1 GiB of blobs (8 x 128 MiB, real commPs) through
# storefs pdp commp against check --verify-commp (one read: sha256 and
# commP).
# pdpfresh DIR: the node's page cache dropped, its blob directories read
pdpfresh() { sync; echo 3 >/proc/sys/vm/drop_caches; "$BT" listr "$1/pdp/datastore" >/dev/null; }
# timedcheck BINARY DIR CATALOG-DIR [ARGS] → "seconds rss-MiB" of a cold
# check. GNU time says "Command exited with non-zero status 1" first:
# check exits 1 on problems (these nodes have orphans, lost blobs).
timedcheck() {
  pdpfresh "$2"
  /usr/bin/time -f "%e %M" -o "$W/time" "$1" check --data-dir "$2" --catalog-dir "$3" "${@:4}" >/dev/null 2>"$W/check.log" || true
  tail -1 "$W/time" | awk '{printf "%s %d\n", $1, $2/1024}'
}
if [[ " ${TESTS[*]} " == *" pdp "* ]] && [ "$PROFILE" = loopback ]; then
  PDP_N=${PDP_N:-1000000}; PDP_ROOTS=${PDP_ROOTS:-10000}; PDP_LS_N=${PDP_LS_N:-100000}
  log "pdp: $PDP_N blobs in $PDP_ROOTS roots; $PDP_LS_N subroots in 100 roots; 1 GiB of pieces"
  "$BT" mkpdp "$W/pdpcheck" "$PDP_N" "$PDP_ROOTS" 128 >/dev/null
  "$BT" mkpdp "$W/pdpls" "$PDP_LS_N" 100 1024 >/dev/null
  "$BT" mkpdp "$W/pdpcommp" 8 1 134217728 real >/dev/null
  # the catalogues first: a check refreshes its store's, and the first
  # build (a head read of every blob) is not what is measured
  for d in pdpcheck pdpcommp; do "$SF" catalog --data-dir "$W/$d" --catalog-dir "$W/pcat" >/dev/null 2>&1; done
  pcheck() { timedcheck "$SF" "$1" "$W/pcat" "${@:2}"; }
  rows=()
  for _ in $(seq "$TRIALS"); do
    with=$(pcheck "$W/pdpcheck")
    mv "$W/pdpcheck/pdp/state" "$W/pdpcheck/pdp/state.aside"
    without=$(pcheck "$W/pdpcheck")
    mv "$W/pdpcheck/pdp/state.aside" "$W/pdpcheck/pdp/state"
    mnt=$(mktemp -d "$W/mnt.XXXX"); MOUNTS+=("$mnt")
    "$SF" mount --data-dir "$W/pdpls" --catalog-dir "$W/pcat-ls" "$mnt" >"$W/sf.log" 2>&1 & echo $! >"$W/pid"
    for _ in $(seq 400); do mountpoint -q "$mnt" && break; sleep 0.05; done
    pdpfresh "$W/pdpls"; ls "$mnt" >/dev/null
    t0=$(date +%s.%N); ls -l "$mnt"/pdp/proofsets/1/roots/*/ >/dev/null; t1=$(date +%s.%N)
    pdpfresh "$W/pdpls"
    t2=$(date +%s.%N); ls -l "$mnt/blobs" >/dev/null; t3=$(date +%s.%N)
    umount_ "$mnt"
    # the floor: the same links from go-fuse with nothing behind them
    "$BT" linkfs "$mnt" 100 $((PDP_LS_N / 100)) >/dev/null 2>&1 & echo $! >"$W/pid"
    for _ in $(seq 400); do mountpoint -q "$mnt" && break; sleep 0.05; done
    sync; echo 3 >/proc/sys/vm/drop_caches; ls "$mnt" >/dev/null
    t4=$(date +%s.%N); ls -l "$mnt"/*/ >/dev/null; t5=$(date +%s.%N)
    umount_ "$mnt"
    commp=$( (pdpfresh "$W/pdpcommp"; s=$(date +%s.%N); "$SF" pdp commp --data-dir "$W/pdpcommp" $("$SF" blob ls --data-dir "$W/pdpcommp") >/dev/null; e=$(date +%s.%N); awk -v a="$s" -v b="$e" 'BEGIN {print b-a}') )
    vcommp=$(pcheck "$W/pdpcommp" --verify-commp | cut -d' ' -f1)
    rows+=("$with $without $(awk -v a="$t0" -v b="$t1" 'BEGIN {print b-a}') $(awk -v a="$t2" -v b="$t3" 'BEGIN {print b-a}') $commp $vcommp $(awk -v a="$t4" -v b="$t5" 'BEGIN {print b-a}')")
  done
  col() { printf '%s\n' "${rows[@]}" | awk -v c="$1" '{print $c}' | median; }
  echo
  echo "| proof risk (loopback) | with PDP state | without | ratio | target |"
  echo "|---|---|---|---|---|"
  echo "| storefs check, $PDP_N blobs in $PDP_ROOTS roots | $(col 1) s, RSS $(col 2) MiB | $(col 3) s, RSS $(col 4) MiB | $(awk -v a="$(col 1)" -v b="$(col 3)" 'BEGIN {printf "%.2f×", a/b}') | ≤ 1.2×, RSS ≤ 512 MiB |"
  echo "| ls -l of $PDP_LS_N subroots' links (100 roots) / of as many /blobs | $(col 5) s | $(col 6) s | $(awk -v a="$(col 5)" -v b="$(col 6)" 'BEGIN {printf "%.2f×", a/b}') | ≤ 1.5× |"
  echo "| the same links / from go-fuse with nothing behind them (benchtool linkfs: the floor) | $(col 5) s | $(col 9) s | $(awk -v a="$(col 5)" -v b="$(col 9)" 'BEGIN {printf "%.2f×", a/b}') | |"
  echo "| 1 GiB of pieces: check --verify-commp / storefs pdp commp | $(col 8) s | $(col 7) s | $(awk -v a="$(col 8)" -v b="$(col 7)" 'BEGIN {printf "%.2f×", a/b}') | ≤ 1.15× |"
fi

# pipeline (loopback): storefs check placing every blob accepted for PDP
# in Piri's pipeline (aggregator LevelDB, job queues) against the same
# check with proof risk only: the build of PIPE_BASE, the commit before
# the pipeline came. PIPE_N blobs of 128 bytes, 1 % of them on their way
# or lost (benchtool mkpdp).
if [[ " ${TESTS[*]} " == *" pipeline "* ]] && [ "$PROFILE" = loopback ]; then
  PIPE_N=${PIPE_N:-1000000}; PIPE_ROOTS=${PIPE_ROOTS:-10000}; PIPE_BASE=${PIPE_BASE:-ebe2d01}
  log "pipeline: $PIPE_N blobs accepted for PDP in $PIPE_ROOTS roots; proof risk only: $PIPE_BASE"
  git worktree add --detach "$W/pipebase" "$PIPE_BASE" >&2
  (cd "$W/pipebase" && go build -o "$W/storefs-proofrisk" ./cmd/storefs)
  git worktree remove --force "$W/pipebase"
  "$BT" mkpdp "$W/pipe" "$PIPE_N" "$PIPE_ROOTS" 128 >/dev/null
  "$SF" catalog --data-dir "$W/pipe" --catalog-dir "$W/pipecat" >/dev/null 2>&1
  pipecheck() { timedcheck "$1" "$W/pipe" "$W/pipecat"; }
  rows=()
  for _ in $(seq "$TRIALS"); do
    rows+=("$(pipecheck "$SF") $(pipecheck "$W/storefs-proofrisk")")
  done
  col() { printf '%s\n' "${rows[@]}" | awk -v c="$1" '{print $c}' | median; }
  echo
  echo "| PDP pipeline (loopback) | with the pipeline | proof risk only ($PIPE_BASE) | ratio | target |"
  echo "|---|---|---|---|---|"
  echo "| storefs check, $PIPE_N blobs accepted for PDP | $(col 1) s, RSS $(col 2) MiB | $(col 3) s, RSS $(col 4) MiB | $(awk -v a="$(col 1)" -v b="$(col 3)" 'BEGIN {printf "%.2f×", a/b}') | ≤ 1.1×, RSS ≤ 512 MiB |"
fi

# copy: the data dir's blobs (the 1 GiB one, the 64 MiB ones, one small)
# into a fresh bucket: storefs copy (hashing every blob, writing Piri's
# layout) against rclone copy --transfers 4 of pdp/datastore. Client
# elapsed time, CPU (user + sys) per GiB and peak RSS from GNU time.
[[ " ${TESTS[*]} " == *" copy "* ]] || exit 0
GIB=$(du -sb "$W/piri/pdp/datastore" | awk '{print $1/1073741824}')
copy_trial() { # KIND N → "elapsed cpu-s rss-KiB" (fresh sets $n: another name here)
  local kind=$1 run=$2
  fresh
  case $kind in
    storefs) /usr/bin/time -f "%e %U %S %M" -o "$W/time" "$SF" copy --s3-insecure --jobs 4 "$W/piri" "s3://copy$run-@$BENCH_S3" >/dev/null 2>"$W/copy.log" ;;
    rclone) env -u AWS_CA_BUNDLE RCLONE_CONFIG=/dev/null RCLONE_CONFIG_LAB_TYPE=s3 RCLONE_CONFIG_LAB_PROVIDER=Other \
        RCLONE_CONFIG_LAB_ENDPOINT="http://$BENCH_S3" RCLONE_CONFIG_LAB_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID \
        RCLONE_CONFIG_LAB_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY RCLONE_CONFIG_LAB_REGION=us-east-1 \
        RCLONE_CONFIG_LAB_FORCE_PATH_STYLE=true /usr/bin/time -f "%e %U %S %M" -o "$W/time" \
        rclone copy --transfers 4 "$W/piri/pdp/datastore" "lab:rclone$run" >/dev/null 2>"$W/copy.log" ;;
  esac || { log "$kind copy failed"; cat "$W/copy.log" >&2; exit 1; }
  awk '{print $1, $2+$3, $4}' "$W/time"
}
declare -A COPY COPYT
for kind in storefs rclone; do
  rows=()
  for i in $(seq "$TRIALS"); do rows+=("$(copy_trial "$kind" "$i")"); done
  el=$(printf '%s\n' "${rows[@]}" | awk '{print $1}' | median)
  cpu=$(printf '%s\n' "${rows[@]}" | awk '{print $2}' | median)
  rss=$(printf '%s\n' "${rows[@]}" | awk '{print $3}' | median)
  COPY[$kind]=$(awk -v e="$el" -v c="$cpu" -v r="$rss" -v g="$GIB" 'BEGIN {printf "%.2f s (%.0f MiB/s), %.2f CPU-s/GiB, RSS %.0f MiB", e, g*1024/e, c/g, r/1024}')
  COPYT[$kind]=$el
  log "copy $kind: ${COPY[$kind]}"
done
echo
echo "| copy of a data dir's blobs ($(printf '%.2f' "$GIB") GiB) into S3 | storefs copy (hash + Piri layout) | rclone copy --transfers 4 | ratio |"
echo "|---|---|---|---|"
echo "| time, CPU, peak RSS | ${COPY[storefs]} | ${COPY[rclone]} | $(awk -v a="${COPYT[storefs]}" -v b="${COPYT[rclone]}" 'BEGIN {printf "%.2f×", a/b}') |"
exit
}
