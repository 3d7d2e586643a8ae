#!/bin/bash
# test_data_inventory.sh - a data node deletes the replica files that the
# metadata has no record of on it (a copy of a key it does not hold, a
# version nobody wrote) once they are older than inventory_grace, and keeps
# every file the metadata knows, however old, and unknown files younger
# than the grace period.  (The leader's refusal for a dead or removed node
# is in test_dmap.)  Rebalancing is held (`rebalance = no`): a move could
# otherwise put the very key the test copied onto a node onto that node,
# making the copy a replica the metadata knows.
. "$(dirname "$0")/lib.sh"

FSZ=$((1024 * 1024))
BOOTSTRAP_ARGS="--fragment-size $FSZ"
DATA_EXTRA="--set inventory_interval=1s --set inventory_grace=10s"
data_cluster 3 4 --set rebalance=no || { show_logs; exit 1; }
check "status says rebalancing is held" \
	sh -c "$CTL status | grep -q '^rebalance: *held'"
check "... and so does status --json" \
	sh -c "$CTL --json status | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"data\"][\"repair\"][\"rebalance\"] is False'"

gone() { [ ! -e "$1" ]; }

head -c $((6 * FSZ)) /dev/urandom >"$T/f"
$CTL put -q "$T/f" /f
ino=$($CTL stat /f | sed -n 's/^ino: //p')
hex=$(printf '%016x' "$ino")
# a replica of fragment 0, and a node without one
read -r n idx ver < <(replica_files "$ino" | awk '$2 == 0' | head -1)
for m in 1 2 3 4; do
	replica_files "$ino" | grep -q "^$m 0 " || break
done
src=$(find "$T/d$n/frags" -name "$hex.0.$ver")
dir_m=$T/d$m/frags/$(basename "$(dirname "$src")")
mkdir -p "$dir_m"
# orphans: the key on a node that does not hold it, and a version nobody
# wrote (its header names another: corrupt, deleted all the same).  Age
# is the later of mtime and ctime, which touch cannot set back: the test
# waits out the 10 s grace period.
a=$dir_m/$hex.0.$ver
b=$(dirname "$src")/$hex.0.$((ver + 100000))
cp "$src" "$a"
cp "$src" "$b"
check "a copy of a key on a node the metadata does not have it on is deleted once 10 s old (25 s)" \
	eventually 25 gone "$a"
check "... and a version nobody wrote" eventually 5 gone "$b"
check "... each with a log line naming it" \
	grep -q "inventory: deleted .*$hex.0.$ver (" "$T/data$m.log"
# (at least: a rebalancing move copies before it deletes)
check "the replicas the metadata knows, as old, are kept" \
	test "$(replica_files "$ino" | wc -l)" -ge 18
c=$dir_m/$hex.0.$((ver + 200000))
cp "$src" "$c"
sleep 4
check "an unknown file younger than the grace period is kept (4 s)" test -e "$c"
check "... until it is older (20 s)" eventually 20 gone "$c"
$CTL get -q /f "$T/back"
check "the file reads back byte-identical" cmp "$T/f" "$T/back"
check "fsck finds nothing under goal" $CTL fsck /

[ $fail = 0 ] || { $CTL status; show_logs; }
exit $fail
