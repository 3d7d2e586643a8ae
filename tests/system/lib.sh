# lib.sh - shared by the system tests: a metadata cluster on loopback in a
# temporary directory, torn down on exit whatever happens.
#   . "$(dirname "$0")/lib.sh"; cluster_start 3; ...
# Sets: T (temp dir), S (client addresses, comma-separated), CTL (cfsctl
# with -s $S), BIN.  Binaries come from $CFS_BIN or the current directory
# (make check runs tests in the build directory).
BIN=${CFS_BIN:-$PWD}
META=$BIN/cfs-meta
[ -x "$META" ] && [ -x "$BIN/cfsctl" ] || { echo "cfs-meta not built"; exit 77; }
T=$(mktemp -d /tmp/cfs-test.XXXXXX)
# The system's python3 (deploy/setup-debian.sh installs it), not a version
# manager's shim found first on PATH: pyenv's takes ~1 s to start each
# interpreter (Debian's: 0.08 s), and the tests start hundreds.
if [ -x /usr/bin/python3 ] && [ "$(command -v python3)" != /usr/bin/python3 ]; then
	mkdir "$T/bin" && ln -s /usr/bin/python3 "$T/bin/python3" && PATH=$T/bin:$PATH
fi
N=0
# ports from the PID, so concurrent test runs do not collide
# (16 per test: metadata clients +1..3, Raft +5..7, data nodes +9..15)
# Below Linux's ephemeral range (32768-60999): a port in it can be taken
# by any outgoing connection of the many clients a test runs (seen in CI:
# a data node's listen port taken, "Address already in use").
# A slot of 16 ports is claimed with mkdir (atomic), starting from one
# the PID picks: two tests running at once whose PIDs pick the same slot
# would otherwise share ports, and a node of one would answer the other
# (seen: a data node "Address already in use", the test's writes served
# by another test's node).  A claim whose test is gone is taken over.
PORT_SLOTS=/tmp/cfs-test-ports
mkdir -p "$PORT_SLOTS"
PORT_SLOT=$(($$ % 1375))
for _ in $(seq 1375); do
	if mkdir "$PORT_SLOTS/$PORT_SLOT" 2>/dev/null; then
		echo $$ >"$PORT_SLOTS/$PORT_SLOT/pid"
		break
	fi
	owner=$(cat "$PORT_SLOTS/$PORT_SLOT/pid" 2>/dev/null)
	if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
		rm -rf "$PORT_SLOTS/$PORT_SLOT"
		continue
	fi
	PORT_SLOT=$(((PORT_SLOT + 1) % 1375))
done
PORT0=$((10000 + PORT_SLOT * 16))
cleanup() {
	for f in "$T"/meta*.pid "$T"/data*.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
	rm -rf "$PORT_SLOTS/$PORT_SLOT"
}
trap cleanup EXIT
fail=0
check() { # check NAME COMMAND...: run, report ok/FAIL
	local name=$1; shift
	if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi
}
# eventually SECONDS CMD...: retry CMD every 0.5 s until it succeeds, for
# SECONDS at most; then once more with its output shown
eventually() {
	local limit=$1 i
	shift
	for i in $(seq $((limit * 2))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	"$@"
}
raft_addr() { echo "127.0.0.1:$((PORT0 + 4 + $1))"; }
client_addr() { echo "127.0.0.1:$((PORT0 + $1))"; }
meta_start() { # meta_start ID [extra args]
	local i=$1; shift
	"$META" --id "$i" --dir "$T/m$i" --raft "$(raft_addr "$i")" \
		--listen "$(client_addr "$i")" "$@" >>"$T/meta$i.log" 2>&1 &
	echo $! >"$T/meta$i.pid"
}
meta_kill() { # meta_kill ID [SIGNAL]
	kill -"${2:-9}" "$(cat "$T/meta$1.pid")" 2>/dev/null
	wait "$(cat "$T/meta$1.pid")" 2>/dev/null
	rm -f "$T/meta$1.pid"
}
wait_leader() { # until some server answers status with a leader
	for _ in $(seq 100); do
		$CTL -t 500 status 2>/dev/null | grep -q '^leader: *server' &&
			return 0
		sleep 0.1
	done
	echo "no leader after 10 s"; return 1
}
# leader_id: the leader's id, asked until some server names one (10 s at
# most: a status call can time out on a loaded machine while a leader
# serves); nothing if none does
leader_id() {
	local id _
	for _ in $(seq 20); do
		id=$($CTL status 2>/dev/null |
			sed -n 's/^leader: *server \([0-9]*\).*/\1/p')
		[ -n "$id" ] && { echo "$id"; return 0; }
		sleep 0.5
	done
}
cluster_start() { # cluster_start N: N servers, bootstrapped and formatted
	N=$1
	local spec="" i
	S=""
	for i in $(seq "$N"); do
		spec="$spec${spec:+,}$i=$(raft_addr "$i")/$(client_addr "$i")"
		S="$S${S:+,}$(client_addr "$i")"
	done
	CTL="$BIN/cfsctl -s $S"
	for i in $(seq "$N"); do meta_start "$i" --init-cluster "$spec" ${META_EXTRA:-}; done
	metas_up "$N" && $CTL cluster bootstrap ${BOOTSTRAP_ARGS:-} >/dev/null
}
cluster_start_args() { # cluster_start_args N [meta args...]
	local n=$1; shift
	META_EXTRA="$*"
	cluster_start "$n"
}
cluster_stop() { # cluster_stop [SIGNAL]
	local i
	for i in $(seq "$N"); do [ -f "$T/meta$i.pid" ] && meta_kill "$i" "${1:-TERM}"; done
	return 0
}
cluster_restart() {
	local i
	for i in $(seq "$N"); do meta_start "$i" ${META_EXTRA:-}; done
	metas_up "$N"
}
# dumps_equal: every server's state machine dump, at the same applied
# index, byte for byte (waits up to 10 s for followers to catch up)
dumps_equal() {
	local i try a ref
	for try in $(seq 50); do
		ref=""
		a=1
		for i in $(seq "$N"); do
			$BIN/cfsctl debug dump --summary "$(client_addr "$i")" >"$T/dump$i" 2>&1 || a=0
			if [ -z "$ref" ]; then ref=$T/dump$i
			elif ! cmp -s "$ref" "$T/dump$i"; then a=0; fi
		done
		[ $a = 1 ] && { echo "    $(head -1 "$ref"), $(wc -l <"$ref") lines"; return 0; }
		sleep 0.2
	done
	for i in $(seq 2 "$N"); do
		echo "dump of server 1 vs server $i:"
		diff "$T/dump1" "$T/dump$i" | head -20
	done
	return 1
}
show_logs() {
	for f in "$T"/meta*.log "$T"/data*.log; do
		[ -f "$f" ] && { echo "----- $f"; tail -n 30 "$f"; }
	done
}
# log_tail NAME: the end of daemon NAME's log (meta2, data3, ...), indented
log_tail() {
	echo "  the end of $T/$1.log:"
	tail -n 10 "$T/$1.log" 2>/dev/null | sed 's/^/  | /'
}
# exited NAME...: did one of these daemons (meta2, data3, ...: started by
# meta_start or data_start, not stopped by meta_kill or data_kill) exit?
# Each that did is named with its exit status and the end of its log (a
# daemon that could not listen says "Address already in use" there).
exited() {
	local n pid rc any=1
	for n in "$@"; do
		pid=$(cat "$T/$n.pid" 2>/dev/null) || continue
		kill -0 "$pid" 2>/dev/null && continue
		rc=0
		wait "$pid" 2>/dev/null || rc=$?
		echo "$n (pid $pid) exited (status $rc) soon after it was started"
		log_tail "$n"
		any=0
	done
	return $any
}
# metas_up N: wait 10 s at most (by the clock: a server that hangs makes
# each status slow) until a leader is elected and each of the N metadata
# servers answers as leader or follower (cfsctl status); fail at once if
# one of them exited
metas_up() {
	local names="" i st missing end=$((SECONDS + 10))
	for i in $(seq "$1"); do names="$names meta$i"; done
	while [ "$SECONDS" -lt "$end" ]; do
		# shellcheck disable=SC2086 # names: one word each
		exited $names && return 1
		st=$($CTL -t 500 status 2>/dev/null)
		missing=""
		for i in $(seq "$1"); do
			echo "$st" | awk -v a="$(client_addr "$i")" \
				'$4 == a && ($5 == "leader" || $5 == "follower") {f = 1}
				 END {exit !f}' || missing="$missing meta$i"
		done
		[ -z "$missing" ] && echo "$st" | grep -q '^leader: *server' &&
			return 0
		sleep 0.1
	done
	echo "metadata servers not up after 10 s (no leader, or not answering" \
		"as leader or follower):$missing"
	echo "$st"
	for i in $missing; do log_tail "$i"; done
	return 1
}

# ---- FUSE mounts ----
# fuse_needed: skip the test (77) without /dev/fuse, a built cfs-fuse or
# fusermount3; sets FUSE (cfs-fuse, or $CFS_FUSE)
fuse_needed() {
	FUSE=${CFS_FUSE:-$BIN/cfs-fuse}
	[ -c /dev/fuse ] || { echo "no /dev/fuse: skipped"; exit 77; }
	[ -x "$FUSE" ] || { echo "cfs-fuse not built: skipped"; exit 77; }
	command -v fusermount3 >/dev/null ||
		{ echo "no fusermount3: skipped"; exit 77; }
}
# unmount_all DIR...: unmount each DIR that is a mount point (for a
# test's exit trap: mounts go before cleanup kills the servers under them)
unmount_all() {
	local m
	for m in "$@"; do
		mountpoint -q "$m" 2>/dev/null || continue
		fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	return 0
}

# ---- data nodes ----
DATA=$BIN/cfs-data
data_addr() { echo "127.0.0.1:$((PORT0 + 8 + $1))"; }
data_start() { # data_start ID [extra args]: node ID's dir is $T/d$ID
	local i=$1; shift
	# shellcheck disable=SC2086 # DATA_EXTRA: options for every node
	"$DATA" --dir "$T/d$i" --listen "$(data_addr "$i")" --meta "$S" \
		--set heartbeat=300ms ${DATA_EXTRA:-} "$@" >>"$T/data$i.log" 2>&1 &
	echo $! >"$T/data$i.pid"
}
data_kill() { # data_kill ID [SIGNAL]
	kill -"${2:-9}" "$(cat "$T/data$1.pid")" 2>/dev/null
	wait "$(cat "$T/data$1.pid")" 2>/dev/null
	rm -f "$T/data$1.pid"
}
# nodes_alive N: wait until the leader counts N alive data nodes
nodes_alive() {
	for _ in $(seq 100); do
		[ "$($CTL node list 2>/dev/null | grep -c ' alive ')" -ge "$1" ] &&
			return 0
		sleep 0.1
	done
	echo "fewer than $1 data nodes alive after 10 s:"; $CTL node list
	return 1
}
# datas_up D: wait 10 s at most until the leader lists data nodes 1..D
# (by their addresses) alive; fail at once if one of them exited
datas_up() {
	local names="" i list missing end=$((SECONDS + 10))
	for i in $(seq "$1"); do names="$names data$i"; done
	while [ "$SECONDS" -lt "$end" ]; do
		# shellcheck disable=SC2086 # names: one word each
		exited $names && return 1
		list=$($CTL -t 500 node list 2>/dev/null)
		missing=""
		for i in $(seq "$1"); do
			echo "$list" | awk -v a="$(data_addr "$i")" \
				'$2 == a && $3 == "alive" {f = 1} END {exit !f}' ||
				missing="$missing data$i"
		done
		[ -z "$missing" ] && return 0
		sleep 0.1
	done
	echo "data nodes not listed alive after 10 s:$missing"
	echo "$list"
	for i in $missing; do log_tail "$i"; done
	return 1
}
# data_cluster M D [meta args]: M metadata servers, D data nodes, formatted;
# fails naming the daemon that exited or did not come up, with its log
data_cluster() {
	local m=$1 d=$2 i
	shift 2
	META_EXTRA="$*"
	cluster_start_args "$m" "$@" || return 1
	for i in $(seq "$d"); do data_start "$i" --labels "rack=r$i"; done
	datas_up "$d"
}
# node_index ID: which data_start index runs the node the cluster calls ID
node_index() {
	local addr i
	addr=$($CTL node list | awk -v id="$1" '$1 == id {print $2}')
	for i in 1 2 3 4 5 6 7; do
		[ "$(data_addr "$i")" = "$addr" ] && { echo "$i"; return 0; }
	done
	return 1
}
# ino_of PATH: the inode number of PATH in the cluster (cfsctl stat)
ino_of() { $CTL stat "$1" | sed -n 's/^ino: //p'; }
# flip FILE OFFSET: invert one byte of a local file (a replica on a
# node's disk, to corrupt it)
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((255 - b)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
# replica_files INO: every replica file of inode INO on every node's disk,
# as "node idx version" lines
replica_files() {
	local hex i
	hex=$(printf '%016x' "$1")
	for i in 1 2 3 4 5 6 7; do
		[ -d "$T/d$i/frags" ] || continue
		find "$T/d$i/frags" -name "$hex.*" ! -name '*.tmp.*' |
			sed "s|.*/$hex\.\([0-9]*\)\.\([0-9]*\)\$|$i \1 \2|"
	done
}
