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
N=0
# ports from the PID, so concurrent test runs do not collide
PORT0=$((21000 + ($$ % 1500) * 8))
cleanup() {
	for f in "$T"/meta*.pid; do
		[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
fail=0
check() { # check NAME COMMAND...: run, report ok/FAIL
	local name=$1; shift
	if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi
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
leader_id() { $CTL status 2>/dev/null | sed -n 's/^leader: *server \([0-9]*\).*/\1/p'; }
cluster_start() { # cluster_start N: N servers, bootstrapped and formatted
	N=$1
	local spec="" i
	S=""
	for i in $(seq "$N"); do
		spec="$spec${spec:+,}$i=$(raft_addr "$i")/$(client_addr "$i")"
		S="$S${S:+,}$(client_addr "$i")"
	done
	CTL="$BIN/cfsctl -s $S"
	for i in $(seq "$N"); do meta_start "$i" --init-cluster "$spec"; done
	wait_leader && $CTL cluster bootstrap >/dev/null
}
cluster_stop() { # cluster_stop [SIGNAL]
	local i
	for i in $(seq "$N"); do [ -f "$T/meta$i.pid" ] && meta_kill "$i" "${1:-TERM}"; done
	return 0
}
cluster_restart() {
	local i
	for i in $(seq "$N"); do meta_start "$i"; done
	wait_leader
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
	for f in "$T"/meta*.log; do echo "----- $f"; tail -20 "$f"; done
}
