#!/bin/bash
# test_data_drop_spread.sh - copies beyond the goal are dropped so that
# those kept stay spread over the failure domains (spread_label, rack):
# 4 data nodes in racks ra, ra, rb, rc; a file written with goal 4 (a copy
# on each) set to goal 3 keeps one copy in each rack, never two in ra.
. "$(dirname "$0")/lib.sh"

FSZ=$((1024 * 1024))
BOOTSTRAP_ARGS="--fragment-size $FSZ"
cluster_start_args 3 || { show_logs; exit 1; }
racks=(x ra ra rb rc)
for i in 1 2 3 4; do data_start "$i" --labels "rack=${racks[$i]}"; done
datas_up 4 || { show_logs; exit 1; }

head -c $((8 * FSZ)) /dev/urandom >"$T/src"
check "a directory of goal 4" sh -c "$CTL mkdir /d && $CTL goal set 4 /d"
check "an 8-fragment file written with 4 copies" $CTL put -q "$T/src" /d/f
# node ids as the cluster numbers them, by rack
id_of() { $CTL node list | awk -v a="$(data_addr "$1")" '$2 == a {print $1}'; }
rb=$(id_of 3)
rc=$(id_of 4)
check "goal 3" $CTL goal set 3 /d/f
# every fragment: 3 copies, one on rb's node and one on rc's, so only one
# of the two ra nodes
spread() {
	$CTL frags /d/f >"$T/frags" || return 1
	awk -v rb="$rb" -v rc="$rc" '
		$1 ~ /^[0-9]+$/ {
			n = 0; b = 0; c = 0
			for (i = 5; i <= NF; i++) {
				split($i, a, "@"); n++
				if (a[1] == rb) b = 1
				if (a[1] == rc) c = 1
			}
			if (n != 3 || !b || !c) bad = 1
			frags++
		}
		END { exit !(frags == 8 && !bad) }' "$T/frags"
}
check "3 copies of every fragment, one per rack (30 s)" eventually 30 spread
sed 's/^/    /' "$T/frags"
check "the file reads back byte-identical" \
	sh -c "$CTL get -q /d/f '$T/back' && cmp '$T/src' '$T/back'"
[ $fail = 0 ] || show_logs
exit $fail
