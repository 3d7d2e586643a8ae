#!/bin/bash
# test_meta_refuse.sh - cfs-meta answers bad input and refuses a damaged data
# directory: malformed messages get clear errors while it keeps serving; a
# missing or corrupt database or Raft log, or a directory of another server
# id, is a refusal to start with a message naming the file, never a silently
# empty filesystem.
set -u
BIN=${CFS_BIN:-$PWD}
META=$BIN/cfs-meta
CTL=$BIN/cfsctl
[ -x "$META" ] && [ -x "$CTL" ] || { echo "cfs-meta not built"; exit 77; }

T=$(mktemp -d /tmp/cfs-refuse.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# Ports from the PID so parallel runs of the suite do not collide.
P=$((20000 + ($$ % 2000) * 4))
RAFT=127.0.0.1:$P
CLI=127.0.0.1:$((P + 1))
SPEC="1=$RAFT/$CLI"
export CFS_META=$CLI
fail=0
check() { # check NAME CONDITION...
	local name=$1; shift
	if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi
}

start() { # start [extra args]: background server, PID set
	"$META" --id "${ID:-1}" --dir "$T/m1" --raft "$RAFT" --listen "$CLI" \
		--init-cluster "$SPEC" "$@" >>"$T/m1.log" 2>&1 &
	PID=$!
}
wait_leader() {
	for _ in $(seq 100); do
		"$CTL" -t 300 status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
stop() {
	kill -TERM "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=
}
# refuses NAME PATTERN: start must exit non-zero within 10 s and log PATTERN
refuses() {
	local name=$1 pattern=$2
	: >"$T/m1.log"
	"$META" --id "${ID:-1}" --dir "$T/m1" --raft "$RAFT" --listen "$CLI" \
		>"$T/m1.log" 2>&1 &
	local pid=$! rc
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid"; wait "$pid" 2>/dev/null
		echo "FAIL $name: server started"; fail=1; return
	fi
	wait "$pid"; rc=$?
	if [ $rc -ne 0 ] && grep -q -- "$pattern" "$T/m1.log"; then
		echo "ok   $name (exit $rc): $(grep -m1 -- "$pattern" "$T/m1.log" | sed 's/.*cannot start: //')"
	else
		echo "FAIL $name: exit $rc, log:"; cat "$T/m1.log"; fail=1
	fi
}

start
check "single-server cluster elects itself" wait_leader
check "bootstrap" "$CTL" cluster bootstrap
check "create a file" "$CTL" touch /survivor

if [ -x "$BIN/tests/system/meta_badinput" ]; then
	check "malformed input answered, server keeps serving" \
		"$BIN/tests/system/meta_badinput" "$CLI"
fi
check "still serving after bad input" "$CTL" stat /survivor
stop

cp -a "$T/m1" "$T/good"

mv "$T/m1/meta.db" "$T/meta.db.saved"
refuses "database missing next to a Raft log" "meta.db is missing"
rm -rf "$T/m1" && cp -a "$T/good" "$T/m1"

# Overwrite the start of a page in the middle of the database with garbage
# (the page header: the tail of a page may be unused space, e.g. of an
# empty table, which no check can find damaged).
size=$(stat -c %s "$T/m1/meta.db")
dd if=/dev/urandom of="$T/m1/meta.db" bs=1 \
	seek=$((size / 2 / 4096 * 4096)) count=2048 conv=notrunc status=none
refuses "corrupt database" "meta.db"
rm -rf "$T/m1" && cp -a "$T/good" "$T/m1"

printf 'this is not sqlite, just a file of the wrong kind...........\n%.0s' \
	$(seq 20) >"$T/m1/meta.db"
rm -f "$T/m1/meta.db-wal" "$T/m1/meta.db-shm"
refuses "a file that is not a database" "meta.db"
rm -rf "$T/m1" && cp -a "$T/good" "$T/m1"

# Flip bytes inside every Raft segment: with auto-recovery off the server
# must refuse rather than skip the damaged entries.
for seg in "$T"/m1/raft/[0-9]* "$T"/m1/raft/open-*; do
	[ -f "$seg" ] || continue
	[ "$(stat -c %s "$seg")" -gt 64 ] || continue
	printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' |
		dd of="$seg" bs=1 seek=40 conv=notrunc status=none
done
refuses "corrupt Raft log" "cannot start Raft from"
rm -rf "$T/m1" && cp -a "$T/good" "$T/m1"

ID=2 refuses "directory of another server id" "belongs to server 1"

start
check "the intact directory starts again" wait_leader
check "and its file is there" "$CTL" stat /survivor
stop

exit $fail
