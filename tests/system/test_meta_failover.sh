#!/bin/bash
# test_meta_failover.sh - clients create, chmod, rename and unlink without
# pause while the metadata leader is killed with SIGKILL three times; every
# acknowledged operation must be there exactly once, nothing unacknowledged
# half-applied, and the three servers' state machines identical.
set -u
. "$(dirname "$0")/lib.sh"
CHAOS=$BIN/tests/system/meta_chaos
[ -x "$CHAOS" ] || { echo "meta_chaos not built"; exit 77; }

check "3 servers elect a leader and format" cluster_start 3
"$CHAOS" "$S" 8 16 >"$T/chaos.out" 2>&1 &
chaos=$!
for round in 1 2 3; do
	sleep 3
	L=$(leader_id)
	if [ -z "$L" ]; then echo "FAIL no leader before kill $round"; fail=1; continue; fi
	echo "     kill -9 leader $L (round $round)"
	meta_kill "$L" 9
	sleep 1
	meta_start "$L" # a quorum must remain for the next round
done
wait $chaos
rc=$?
cat "$T/chaos.out"
check "every acknowledged operation applied exactly once" test $rc -eq 0
check "a leader after the kills" wait_leader
check "the three state machines are identical" dumps_equal
for i in 1 2 3; do
	n=$(grep -c "elected leader" "$T/meta$i.log")
	echo "     server $i: led $n time(s)"
done
[ $fail = 0 ] || show_logs
exit $fail
