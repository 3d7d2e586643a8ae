#!/bin/sh
# setup-debian.sh - install every Debian 12 package that CFS needs to build,
# run and test.  Idempotent: when everything is present it checks quietly and
# exits in well under a second.  Needs root (or sudo) only when installing.
set -eu

PKGS="build-essential autoconf automake libtool pkg-config
libraft-dev libuv1-dev libsqlite3-dev libzmq3-dev libcmocka-dev
libfuse3-dev fuse3 clang libclang-rt-14-dev spin sqlite3 iproute2 psmisc
fio python3 procps util-linux e2fsprogs groff-base man-db ansible-core"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "setup-debian: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "setup-debian: done" >&2
