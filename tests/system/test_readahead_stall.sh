#!/bin/bash
# test_readahead_stall.sh - a sequential reader whose read-ahead of a
# fragment times out (the node of its only replica stalls past the 10 s
# read timeout, then goes on) asks that node again, last, and reads the
# file right, rather than failing at once with "no live replica"
# (docs/data-path.md, "Read-ahead").
#
# The reader is libcfs (tests/system/stream_probe.c), not a mount: a
# mount reads by the locations it keeps under its lease, and a read that
# fails on kept locations is made again with fresh ones and nothing read
# ahead (fio_pread_ex), which asks the node directly either way.  The node
# is stopped while the reader's sockets to it are connected: a socket that
# connects to a stopped node fails in 1 s (NC_CONNECT_MS, client/
# nodeclient.c), a request on a connected one waits for the answer.
. "$(dirname "$0")/lib.sh"

PROBE=$BIN/tests/system/stream_probe
[ -x "$PROBE" ] || { echo "stream_probe not built: skipped"; exit 77; }

# One data node, goal 1: every fragment's only replica is on it.  Reads
# of a whole fragment each: after the read of fragment i the reader has
# fragments i+1..i+3 asked ahead (client/fileio.c, prefetch_next).
FSZ=$((4 * 1024 * 1024))
BOOTSTRAP_ARGS="--fragment-size $FSZ --goal 1"
data_cluster 3 1 || { show_logs; exit 1; }
head -c $((8 * FSZ)) /dev/urandom >"$T/f"
$CTL put -q "$T/f" /f

# The reader pauses before fragment 2: fragments 2..4 are read ahead by
# then (answered), on sockets connected to the node.  The node is stopped;
# the read of fragment 2 asks for fragment 5 ahead, which the stopped node
# never answers, and the read of fragment 5 waits for it until the read
# timeout.
mkfifo "$T/go"
"$PROBE" "$S" /f "$T/back" "$FSZ" $((2 * FSZ)) <"$T/go" >"$T/probe.out" \
	2>"$T/probe.err" &
P=$!
exec 3>"$T/go"
eventually 10 grep -q paused "$T/probe.out" ||
	{ cat "$T/probe.out" "$T/probe.err"; show_logs; exit 1; }
sleep 0.5 # the answers to the read-ahead in flight arrive
kill -STOP "$(cat "$T/data1.pid")"
t0=$SECONDS
echo go >&3
# the node goes on half a second after the read-ahead timed out, while
# the read of fragment 5 asks it again
for _ in $(seq 150); do
	grep -q "/5: read-ahead:" "$T/probe.err" && break
	sleep 0.1
done
sleep 0.5
kill -CONT "$(cat "$T/data1.pid")"
echo "    the node was stopped for $((SECONDS - t0)) s"
wait $P
rc=$?
exec 3>&-
sed 's/^/    /' "$T/probe.out"
check "the read-ahead of fragment 5 timed out" \
	grep -q "/5: read-ahead:" "$T/probe.err"
check "the read whose read-ahead timed out asks its only node again and succeeds" \
	[ $rc = 0 ]
check "... and the file reads back byte-identical" cmp "$T/f" "$T/back"

[ $fail = 0 ] || { echo "----- probe stderr"; tail -n 20 "$T/probe.err"; show_logs; }
exit $fail
