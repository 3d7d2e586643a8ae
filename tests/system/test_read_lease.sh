#!/bin/bash
# test_read_lease.sh - reads under the leader's read lease.
#
# The leader answers lookups, getattrs and listings from its own state while
# a Raft barrier it started less than half an election timeout ago has
# committed (docs/architecture.md, "Reads"), instead of one Raft round per
# read.  What must hold: a leader cut off from its peers stops answering
# before another server can be elected, so a read that starts after a write
# returned never sees the older value, even from a client whose session and
# requests go to the cut-off leader.  The cut is the metadata servers' test
# fault hook (fault_hooks = yes, SIGUSR1 / SIGUSR2: every Raft connection of
# the server shut down; clients still reach it).
. "$(dirname "$0")/lib.sh"
PROBE=$BIN/tests/system/read_probe
[ -x "$PROBE" ] || { echo "read_probe not built"; exit 77; }

cluster_start_args 3 --set fault_hooks=yes || { show_logs; exit 1; }

others() { # client addresses of every server but $1
	local i out=""
	for i in $(seq "$N"); do
		[ "$i" = "$1" ] || out="$out${out:+,}$(client_addr "$i")"
	done
	echo "$out"
}

stale=0
# Rounds 1-3 cut the leader off its peers (it keeps running, and steps down
# when it misses its quorum); rounds 4-6 pause it (SIGSTOP) while another
# is elected and a write commits, and send the read while it is stopped:
# it wakes with the read waiting and may still call itself leader for up
# to an election timeout (STACK.md: raft_state() is not a lease).
for round in 1 2 3 4 5 6; do
	if [ $round -le 3 ]; then cut=USR1 heal=USR2; else cut=STOP heal=CONT; fi
	L=$(leader_id)
	[ -n "$L" ] || { echo "FAIL no leader before round $round"; fail=1; break; }
	f=/x$round
	$CTL touch "$f" && $CTL chmod 644 "$f" || { echo "FAIL setup $f"; fail=1; break; }
	coproc PR { exec "$PROBE" "$S" 2>&1; }
	read -r -t 15 line <&"${PR[0]}"
	[ "$line" = ready ] || { echo "FAIL probe: $line"; fail=1; break; }
	# a burst of reads: served under the lease by the leader
	for _ in $(seq 50); do echo "$f" >&"${PR[1]}"; read -r -t 10 line <&"${PR[0]}"; done
	check "round $round: probe reads mode 644 through leader $L" [ "$line" = "mode 644" ]

	kill -$cut "$(cat "$T/meta$L.pid")"
	t0=$(date +%s%N)
	ok=0
	for _ in $(seq 60); do
		if $BIN/cfsctl -s "$(others "$L")" -t 2000 chmod 600 "$f" 2>/dev/null; then
			ok=1; break
		fi
		sleep 0.1
	done
	t1=$(date +%s%N)
	check "round $round: chmod 600 through the new leader ($(( (t1 - t0) / 1000000 )) ms after the cut)" [ $ok = 1 ]
	# The write returned: a read that starts now must not see 644, even
	# though the probe's session and requests go to the cut-off leader.
	echo "$f" >&"${PR[1]}"
	if [ $cut = STOP ]; then
		sleep 0.2
		kill -CONT "$(cat "$T/meta$L.pid")"
	fi
	read -r -t 30 line <&"${PR[0]}"
	echo "    probe after the write: $line"
	if [ "$line" = "mode 644" ]; then
		echo "FAIL round $round: stale read from the cut-off leader $L"
		stale=1; fail=1
	fi
	kill -$heal "$(cat "$T/meta$L.pid")"
	exec {PR[1]}>&-
	wait "$PR_PID" 2>/dev/null
	wait_leader || { fail=1; break; }
done
check "no stale read in 6 cuts and pauses" [ $stale = 0 ]

# Every server logs at exit how it answered reads.
cluster_stop TERM
n=$(sed -n "s/.*reads answered: \([0-9]*\) under the leader's read lease.*/\1/p" "$T"/meta*.log |
	awk '{s += $1} END {print s + 0}')
check "reads answered under the read lease: $n (>= 200)" [ "$n" -ge 200 ]
[ $fail = 0 ] || show_logs
exit $fail
