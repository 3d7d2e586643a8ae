#!/bin/bash
# test_data_balance.sh - a new data node receives data until usage is even;
# a drained node is emptied with every fragment kept at its goal; a removed
# node is forgotten; a node whose disk fills answers ENOSPC, is marked full
# and left out of placement, and no partial replica of it is counted.
. "$(dirname "$0")/lib.sh"

FSZ=$((1024 * 1024))
BOOTSTRAP_ARGS="--fragment-size $FSZ"
data_cluster 3 3 --set node_dead_after=3s --set node_reserve=1M ||
	{ show_logs; exit 1; }

same() { $CTL get -q "$1" "$T/back" && cmp "$2" "$T/back"; }
on_node() { replica_files "$1" | awk -v n="$2" '$1 == n' | wc -l; }
# exactly GOAL replica files of each fragment's committed version in all,
# none on the nodes (indexes) given after GOAL
exact() {
	local path=$1 goal=$2 ino idx ver n
	shift 2
	ino=$(ino_of "$path")
	replica_files "$ino" >"$T/files"
	[ "$(wc -l <"$T/files")" = $((goal * 30)) ] || return 1
	for n in "$@"; do
		[ "$(awk -v n="$n" '$1 == n' "$T/files" | wc -l)" = 0 ] || return 1
	done
	$CTL frags "$path" >/dev/null
}

head -c $((30 * FSZ)) /dev/urandom >"$T/f"
$CTL put -q "$T/f" /f
ino=$(ino_of /f)
check "3 nodes, goal 3: each holds all 30 fragments" \
	test "$(on_node "$ino" 1)$(on_node "$ino" 2)$(on_node "$ino" 3)" = 303030

# ---- rebalance onto a new node ---------------------------------------
data_start 4 --labels rack=r4
nodes_alive 4 >/dev/null
# 90 replicas over 4 nodes: 22.5 each; rebalancing stops within its
# hysteresis (10 % of the mean, at least 4 replicas)
even() { [ "$(on_node "$ino" 4)" -ge 18 ] && exact /f 3; }
check "a new node receives replicas until usage is even (60 s)" \
	eventually 60 even
echo "    node 4 holds $(on_node "$ino" 4) of 90 replicas"
check "... and the file reads back byte-identical" same /f "$T/f"

# ---- drain and remove ----------------------------------------------------
id1=$($CTL node list | awk -v a="$(data_addr 1)" '$2 == a {print $1}')
check "node drain" $CTL node drain "$id1"
drained() { [ "$(on_node "$ino" 1)" = 0 ] && exact /f 3 1; }
check "a drained node is emptied, every fragment at goal elsewhere (60 s)" \
	eventually 60 drained
check "... the file reads back byte-identical" same /f "$T/f"
check "node remove" $CTL node remove "$id1"
check "... the removed node is no longer listed" \
	sh -c "! $CTL node list | grep -q '^ *$id1 '"
data_kill 1

# ---- a disk that fills -------------------------------------------------
mkdir -p "$T/d5"
if mount -t tmpfs -o size=10m tmpfs "$T/d5" 2>/dev/null; then
	trap 'umount -l "$T/d5" 2>/dev/null; cleanup' EXIT
	data_start 5 --labels rack=r5
	nodes_alive 4 >/dev/null
	$CTL mkdir /wide
	$CTL goal set 4 /wide >/dev/null
	head -c $((24 * FSZ)) /dev/urandom >"$T/g"
	check "a write over a node whose disk fills completes" \
		$CTL put -q "$T/g" /wide/g
	check "... reads back byte-identical" same /wide/g "$T/g"
	id5=$($CTL node list | awk -v a="$(data_addr 5)" '$2 == a {print $1}')
	full() { $CTL node list | grep -q "^ *$id5 .* full "; }
	check "... the node is marked full (10 s)" eventually 10 full
	# Usually the disk fills between two heartbeats: the node answers
	# ENOSPC and the writer moves the fragment elsewhere.  If a heartbeat
	# reported it full first, it was simply not chosen any more.
	enospc() {
		grep -qi "no space left" "$T/data5.log" && return 0
		echo "    (marked full before its disk filled: no ENOSPC needed)"
		grep -q "full" "$T/meta"*.log
	}
	check "... it answered ENOSPC (or was full before)" enospc
	counted() { # no fragment lists node 5 unless its file is complete
		local ino5 idx ver nodes
		ino5=$(ino_of /wide/g)
		$CTL frags /wide/g >"$T/frags5" || true
		while read -r idx ver nodes; do
			case " $nodes " in
			*" $id5@"*)
				f=$(find "$T/d5/frags" -name "$(printf '%016x' "$ino5").$idx.$ver")
				[ -n "$f" ] || return 1 ;;
			esac
		done < <(awk '$1 ~ /^[0-9]+$/ {print $1, $2, $5, $6, $7, $8}' "$T/frags5")
	}
	check "... no partial replica on it is counted" counted
	before=$(ls "$T/d5/frags"/* 2>/dev/null | wc -l)
	head -c $((4 * FSZ)) /dev/urandom >"$T/h"
	$CTL put -q "$T/h" /h
	check "... and new fragments are placed elsewhere" \
		test "$(ls "$T/d5/frags"/* 2>/dev/null | wc -l)" = "$before"
	data_kill 5
	umount -l "$T/d5"
else
	echo "skip a disk that fills: cannot mount a tmpfs here"
fi

# ---- fewer live nodes than the goal: the degraded_writes policy ----------
# (nodes 2, 3, 4 are alive here; kill one, leaving 2 for goal 3)
data_kill 4
gone4() { $CTL node list | grep -q " DEAD "; }
eventually 10 gone4 >/dev/null
head -c $((3 * FSZ)) /dev/urandom >"$T/d"
check "with 2 live nodes, a goal 3 write proceeds (degraded_writes = yes)" \
	$CTL put -q "$T/d" /degraded
check "... reads back byte-identical" same /degraded "$T/d"
shows() { $CTL status >"$T/st" 2>&1; grep -q '^under goal: *[1-9]' "$T/st" &&
	grep -q '^degraded writes: allowed' "$T/st" &&
	grep -q '^rebalance: *on' "$T/st"; }
check "... status counts it under goal and names the policy" shows
sed -n 's/^\(under goal\|degraded writes\):/    &/p' "$T/st"
data_start 4 --labels rack=r4
healed() { $CTL frags /degraded >/dev/null; }
check "... and it reaches 3 copies once a third node is back (30 s)" \
	eventually 30 healed

[ $fail = 0 ] || { $CTL status; show_logs; }
exit $fail
