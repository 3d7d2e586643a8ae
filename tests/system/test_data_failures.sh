#!/bin/bash
# test_data_failures.sh - SIGKILL of data nodes at rest, in the middle of a
# write and of patches (deltas and their hand-overs), and of the metadata
# leader during a write and during repair: every
# write completes, reads back byte-identical, and every fragment is back to
# 3 copies on live nodes' disks (checked on disk, not only in metadata).
. "$(dirname "$0")/lib.sh"

FSZ=$((1024 * 1024))
BOOTSTRAP_ARGS="--fragment-size $FSZ"
DEAD_AFTER=3
# a slow repair rate so that the leader can be killed while it repairs
data_cluster 3 4 --set node_dead_after=${DEAD_AFTER}s \
	--set repair_rate=6M || { show_logs; exit 1; }

# at_goal PATH LIVE...: every fragment of PATH has 3 replica files of its
# committed version on the data nodes (indexes) LIVE, and none under goal
at_goal() {
	local path=$1 ino n idx ver
	shift
	ino=$(ino_of "$path") || return 1
	$CTL frags "$path" >"$T/frags" 2>&1 || return 1
	replica_files "$ino" >"$T/files"
	while read -r idx ver; do
		n=0
		for i in "$@"; do
			grep -q "^$i $idx $ver\$" "$T/files" && n=$((n + 1))
		done
		[ "$n" -ge 3 ] || { echo "    fragment $idx v$ver: $n live copies"; return 1; }
	done < <(awk '$1 ~ /^[0-9]+$/ {print $1, $2}' "$T/frags")
}
same() { $CTL get -q "$1" "$T/back" && cmp "$2" "$T/back"; }

# ---- a data node dies at rest -------------------------------------------
head -c $((20 * FSZ)) /dev/urandom >"$T/f1"
$CTL put -q "$T/f1" /f1
ino1=$(ino_of /f1)
held=$(replica_files "$ino1" | awk '$1 == 1' | wc -l)
t0=$(date +%s)
data_kill 1
check "node 1 (holding $held replicas) killed: 3 copies again within $((DEAD_AFTER + 30)) s" \
	eventually $((DEAD_AFTER + 30)) at_goal /f1 2 3 4
echo "    repaired in $(($(date +%s) - t0)) s"
check "the file reads back byte-identical" same /f1 "$T/f1"
data_start 1 --labels rack=r1
# node 1's copies were replaced while it was dead: once it is back, they
# are deleted (rebalancing may then move some back: the total is what
# must settle at exactly 3 per fragment)
stale_gone() {
	[ "$(replica_files "$ino1" | wc -l)" = 60 ] && at_goal /f1 1 2 3 4
}
check "node 1 back: extra copies deleted, 3 per fragment in all (30 s)" \
	eventually 30 stale_gone

# ---- a data node dies in the middle of a large write -------------------
head -c $((60 * FSZ)) /dev/urandom >"$T/f2"
$CTL put -q "$T/f2" /f2 2>"$T/put2.err" &
putpid=$!
sleep 1
data_kill 2
check "a write with a node killed under it completes" wait $putpid
check "... reads back byte-identical" same /f2 "$T/f2"
check "... and every fragment has 3 copies on live nodes (30 s)" \
	eventually 30 at_goal /f2 1 3 4
data_start 2 --labels rack=r2
nodes_alive 4 >/dev/null

# ---- the metadata leader dies during a write ------------------------------
head -c $((40 * FSZ)) /dev/urandom >"$T/f3"
$CTL put -q "$T/f3" /f3 2>"$T/put3.err" &
putpid=$!
sleep 0.7
old=$(leader_id)
meta_kill "$old"
check "a write with the metadata leader (server $old) killed completes" \
	wait $putpid
check "... reads back byte-identical" same /f3 "$T/f3"
meta_start "$old" --set node_dead_after=${DEAD_AFTER}s --set repair_rate=6M

# ---- the metadata leader dies during repair -------------------------------
data_kill 3
busy() { $CTL status >"$T/st" 2>&1; grep -q '^under goal: *[1-9]' "$T/st"; }
check "node 3 dead: its fragments are under goal, being repaired" \
	eventually 20 busy
grep -E '^(under goal|repair):' "$T/st" | sed 's/^/    /'
old=$(leader_id)
meta_kill "$old"
wait_leader >/dev/null
check "repair finishes under the new leader: f1, f2, f3 at goal (60 s)" \
	eventually 60 at_goal /f1 1 2 4 &&
	eventually 30 at_goal /f2 1 2 4 && eventually 30 at_goal /f3 1 2 4
for f in f1 f2 f3; do
	check "$f reads back byte-identical" same /$f "$T/$f"
done
check "status: nothing under goal, nothing missing" sh -c \
	"$CTL status | grep -q '^under goal: *0' && $CTL status | grep -q '^missing: *0'"

# ---- data nodes killed in the middle of patches ----------------------------
# Small writes into the middle of fragments make deltas (only the blocks
# written, the rest shared with the base's file), and collecting the base
# then hands its file to the delta (docs/on-disk-format.md, format 3).
# SIGKILL data nodes, one at a time, while 4 KiB patches run and their
# bases are collected: every patch that returned is read back, and every
# committed version's replicas are intact and identical on the disks.
nodes_alive 4 >/dev/null
head -c $((4 * FSZ)) /dev/urandom >"$T/f4"
$CTL put -q "$T/f4" /f4
patcher() {
	local i off
	for i in $(seq 80); do
		off=$(( (i * 777773) % (4 * FSZ - 4096) ))
		head -c 4096 /dev/urandom >"$T/p4"
		$CTL put -q -o "$off" "$T/p4" /f4 2>>"$T/put4.err" || return 1
		dd if="$T/p4" of="$T/f4" bs=1 seek="$off" conv=notrunc \
			2>/dev/null
	done
}
patcher &
patchpid=$!
kills=0
bounce() { # bounce N: SIGKILL node N and start it again
	data_kill "$1"
	started=$(grep -c 'started: ' "$T/data$1.log")
	data_start "$1" --labels "rack=r$1"
	kills=$((kills + 1))
}
while kill -0 $patchpid 2>/dev/null; do
	n=$((kills % 4 + 1))
	sleep "0.$((RANDOM % 6 + 2))"
	bounce "$n"
	# now and then again while it starts (replaying its journal)
	if [ $((RANDOM % 3)) = 0 ]; then
		sleep "0.$((RANDOM % 3))"
		bounce "$n"
	fi
	# one node down at a time: the next kill waits until this one serves
	# again (under ASan a start takes a while)
	for _ in $(seq 100); do
		[ "$(grep -c 'started: ' "$T/data$n.log")" -gt "$started" ] && break
		sleep 0.1
	done
done
check "80 patches with a data node SIGKILLed $kills times under them complete" \
	wait $patchpid
check "... read back byte-identical" same /f4 "$T/f4"
# a patch's file is durable through the node's journal (docs/on-disk-format.md
# §4): the nodes killed under them restarted with records to check
journal_replayed() {
	grep -h "replica file(s) checked or restored" "$T"/data*.log |
		grep -vq " 0 replica file"
}
check "... and the killed nodes checked their journals' records at restart" \
	journal_replayed
REDCHECK=$BIN/tests/model/redcheck
if [ -x "$REDCHECK" ]; then
	check "... and every committed version is intact on the disks (redcheck, 90 s)" \
		"$REDCHECK" --cluster "$S" --settled --wait 90 \
		"$T/d1" "$T/d2" "$T/d3" "$T/d4"
fi

# ---- a writer that may not read, with a node lacking the base -------------
# A write into the middle of a fragment is a delta of the committed
# version; a node placed for it that lacks that version (here: one taking
# over from a killed holder) is sent the whole fragment, read from the
# others first.  That read is the writer's: a file its writer may write
# but not read (mode 0602) still takes the write.
as_1000() { setpriv --reuid 1000 --regid 1000 --clear-groups "$@"; }
# (the patch on stdin: uid 1000 cannot open files in $T)
patch_as_1000() {
	as_1000 $CTL put -q -o 5000 - /f5 <"$T/p5" 2>>"$T/put5.err"
}
write_only_writer() {
	local victim
	nodes_alive 4 >/dev/null
	head -c $((2 * FSZ)) /dev/urandom >"$T/f5"
	$CTL put -q "$T/f5" /f5
	$CTL chmod 0602 /f5
	victim=$(replica_files "$(ino_of /f5)" | awk '$2 == 0 {print $1; exit}')
	[ -n "$victim" ] || { echo "FAIL no node holds fragment 0 of /f5"; fail=1; return; }
	data_kill "$victim"
	head -c 4096 /dev/urandom >"$T/p5"
	dd if="$T/p5" of="$T/f5" bs=1 seek=5000 conv=notrunc 2>/dev/null
	check "a write-only writer's patch completes with a holder dead" \
		patch_as_1000
	# (the node put in the dead one's place lacked the base: the whole
	# fragment was read and sent)
	check "... by resending the whole fragment" \
		grep -q "base v.*writing it again" "$T/put5.err"
	check "... reads back byte-identical" same /f5 "$T/f5"
	data_start "$victim" --labels "rack=r$victim"
	nodes_alive 4 >/dev/null
}
# uid 1000 must be able to run cfsctl where it was built
if as_1000 $CTL stat / >/dev/null 2>&1; then
	write_only_writer
else
	echo "skip a write-only writer's patch: uid 1000 cannot run $BIN/cfsctl" \
		"(a directory above it is not searchable?)"
fi

[ $fail = 0 ] || { $CTL status; cat "$T"/put*.err; show_logs; }
exit $fail
