#!/bin/bash
# test_fuse_moved.sh - a mount that kept a file's fragment locations (under
# its lease) reads on, byte-identical, after the replicas it would ask first
# moved away (a drained node); it asks the leader afresh once, not the
# emptied node again at every read.
. "$(dirname "$0")/lib.sh"

fuse_needed

FSZ=$((1024 * 1024))
BOOTSTRAP_ARGS="--fragment-size $FSZ"
M=$T/mnt
mkdir -p "$M"
trap 'unmount_all "$M"; cleanup' EXIT

data_cluster 3 4 || { show_logs; exit 1; }
# no data cache: every O_DIRECT read goes to a data node
"$FUSE" --meta "$S" --log "$T/fuse.log" --data-cache 0 "$M" &&
	mountpoint -q "$M" || { echo "cfs-fuse did not mount"; show_logs; exit 1; }

head -c $((16 * FSZ)) /dev/urandom >"$T/f"
cp "$T/f" "$M/f"
reads_back() { # O_DIRECT: past the kernel's page cache
	dd if="$M/f" of="$T/back" bs=1M iflag=direct status=none &&
		cmp "$T/f" "$T/back"
}
check "a 16-fragment file reads back through the mount" reads_back

# the node asked first for fragment 0, emptied by a drain
first=$($CTL frags /f | awk '$1 == "0" {split($5, r, "@"); print r[1]}')
$CTL node drain "$first" >/dev/null
ino=$($CTL stat /f | sed -n 's/^ino: //p')
emptied() {
	[ "$(replica_files "$ino" | awk -v n="$(node_index "$first")" \
		'$1 == n' | wc -l)" = 0 ]
}
check "node $first is drained of the file's replicas (60 s)" eventually 60 emptied

moved() { grep -c "locations this mount kept are out of date" "$T/fuse.log"; }
check "the first read after the move is byte-identical" reads_back
n1=$(moved)
check "... and noticed the kept locations were out of date" test "$n1" -ge 1
check "the next read is byte-identical" reads_back
check "... and located afresh: no replica asked in vain again" \
	test "$(moved)" = "$n1"

[ $fail = 0 ] || { cat "$T/fuse.log"; show_logs; }
exit $fail
