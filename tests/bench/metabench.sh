#!/bin/bash
# metabench.sh [BUILDDIR] - the metadata benchmark of the README: a fresh
# cluster of 3 cfs-meta on loopback, metabench with 1, 4 and 16 clients one
# request at a time and 16 clients with 16 in flight each, then 3 leader
# failovers (SIGKILL).  Prints Markdown tables.  Not a test: numbers depend
# on the machine; run it on an otherwise idle one.
#   FILES=2000 (per client and phase)  DIR=/tmp/cfs-metabench
set -eu
B=$(cd "${1:-build}" && pwd)
FILES=${FILES:-2000}
DIR=${DIR:-/tmp/cfs-metabench}
META=$B/cfs-meta
BENCH=$B/tests/bench/metabench

pkill -f "cfs-meta .*--dir $DIR/" 2>/dev/null || true
rm -rf "$DIR"
mkdir -p "$DIR"
cleanup() { pkill -f "cfs-meta .*--dir $DIR/" 2>/dev/null || true; }
trap cleanup EXIT

SPEC=""
for i in 1 2 3; do
	SPEC="$SPEC${SPEC:+,}$i=127.0.0.1:$((7600 + i))/127.0.0.1:$((7500 + i))"
done
S=127.0.0.1:7501,127.0.0.1:7502,127.0.0.1:7503
start() { # start ID [--init-cluster SPEC]
	local i=$1; shift
	"$META" --id "$i" --dir "$DIR/m$i" --raft 127.0.0.1:$((7600 + i)) \
		--listen 127.0.0.1:$((7500 + i)) "$@" >>"$DIR/meta$i.log" 2>&1 &
	echo $! >"$DIR/meta$i.pid"
	disown
}
for i in 1 2 3; do start $i --init-cluster "$SPEC"; done
for _ in $(seq 50); do "$B/cfsctl" -s $S -t 300 status >/dev/null 2>&1 && break; sleep 0.2; done
"$B/cfsctl" -s $S cluster bootstrap >/dev/null

echo "## cfs-meta: 3 servers on loopback, $(nproc) cores, $FILES files per client and phase"
echo
echo "Command: tests/bench/metabench.sh (FILES=$FILES)"
echo
"$BENCH" -s $S -c 1,4,16 -n "$FILES" -w 1
echo
"$BENCH" -s $S -c 16 -n "$FILES" -w 16 | tail -n +3
echo
echo "readdir: one call returns up to 128 entries with their attributes."
echo

# Failover: the benchmark kills the leader and touches restart-N; restart
# the dead server so the next round again has three.
(
	for r in 0 1 2; do
		while [ ! -e "$DIR/restart-$r" ]; do sleep 0.05; done
		for i in 1 2 3; do
			kill -0 "$(cat "$DIR/meta$i.pid")" 2>/dev/null || start $i
		done
		sleep 1.5
		rm -f "$DIR/restart-$r"
	done
) &
"$BENCH" -s $S --failover "$DIR" -r 3
wait
