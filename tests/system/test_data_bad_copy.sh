#!/bin/bash
# test_data_bad_copy.sh - a corrupt copy on a cluster with no spare node
# (3 cfs-meta, 3 cfs-data, goal 3): the reader reads around it and reports
# it bad, and the repair, having no other node to copy to, replaces it on
# its own node (a copy over the bad file), back to 3 good copies.
. "$(dirname "$0")/lib.sh"

FSZ=$((1024 * 1024))
BOOTSTRAP_ARGS="--fragment-size $FSZ"
data_cluster 3 3 || { show_logs; exit 1; }

head -c $((2 * FSZ)) /dev/urandom >"$T/src"
check "a 2-fragment file is written with goal 3 on 3 nodes" \
	$CTL put -q "$T/src" /f
hex=$(printf '%016x' "$(ino_of /f)")
ver0=$($CTL frags /f | awk '$1 == 0 {print $2}')
# the first holder listed is the one read first: corrupt its copy
first=$(node_index "$($CTL frags /f | awk '$1 == 0 {split($5, a, "@"); print a[1]}')")
victim=$(find "$T/d$first/frags" -name "$hex.0.$ver0")
other=$(find "$T/d$(( first % 3 + 1 ))/frags" -name "$hex.0.$ver0")
flip "$victim" $((4096 + 777))
check "the corrupt copy is read around" \
	sh -c "$CTL get -q /f '$T/back' && cmp '$T/src' '$T/back'"
# same data and CRC table as another node's copy (the headers differ:
# each copy has its own incarnation stamp)
healed() {
	! $CTL frags /f | grep -q UNDER &&
		cmp -s <(tail -c +4097 "$victim") <(tail -c +4097 "$other")
}
check "with no spare node, the bad copy is replaced on its own node (20 s)" \
	eventually 20 healed
$CTL frags /f | sed 's/^/    /'
check "the file reads back byte-identical" \
	sh -c "$CTL get -q /f '$T/back2' && cmp '$T/src' '$T/back2'"
[ $fail = 0 ] || show_logs
exit $fail
