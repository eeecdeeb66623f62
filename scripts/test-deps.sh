#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: FUSE tools and
# attr (getfattr) from apt, PostgreSQL, and the S3 test server (versitygw)
# built into .tools/bin. Each step is skipped when its result is already there.
# With "apt", only the Debian packages (what `make demo` needs).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSITYGW_VERSION=v1.8.0
TOXIPROXY_VERSION=v2.5.0
need_apt=()
command -v fusermount3 >/dev/null || need_apt+=(fuse3)
command -v getfattr >/dev/null || need_apt+=(attr)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${need_apt[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "warning: ${need_apt[*]} missing and not root: install them with apt-get" >&2
  fi
fi

[ "${1:-}" = apt ] && exit 0

# PostgreSQL: the tests start their own server (internal/testsupport/pgtest)
# for a node whose [repo.database] is postgres; no cluster of the
# package's own is made or started.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing postgresql (apt)"
    mkdir -p /etc/postgresql-common
    [ -e /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  else
    echo "warning: postgresql missing and not root: install it with apt-get" >&2
  fi
fi

if [ ! -x .tools/bin/versitygw ]; then
  echo "building versitygw $VERSITYGW_VERSION into .tools/bin (about a minute on a fresh machine)"
  GOBIN="$PWD/.tools/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
fi

# toxiproxy: a remote S3's latency, bandwidth, stalls and resets in front
# of versitygw, for the fault tests and the remote bench profile.
if [ ! -x .tools/bin/toxiproxy-server ]; then
  echo "building toxiproxy $TOXIPROXY_VERSION into .tools/bin"
  tmp=$(mktemp -d)
  GOBIN="$tmp" go install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"
  mv "$tmp/server" .tools/bin/toxiproxy-server
  rmdir "$tmp"
fi
