#!/bin/bash
# test_fuse_read.sh - a sequential read through the mount, with the kernel's
# read-ahead requests arriving out of order on several FUSE threads, reads
# the file right and asks the data nodes for each byte about once: the
# pieces the mount reads ahead are used by the request that needs them,
# whichever thread it came on (docs/data-path.md, "Read-ahead").
. "$(dirname "$0")/lib.sh"

fuse_needed

M=$T/mnt
mkdir -p "$M"
trap 'unmount_all "$M"; cleanup' EXIT

# default 4 MiB fragments; the nodes log every frag_read (debug).  Three
# nodes for goal 3: every node holds every fragment, so no rebalancing
# copy (a frag_read too) is counted.
cluster_start_args 3 || { show_logs; exit 1; }
for i in 1 2 3; do
	CFS_LOG=debug data_start "$i" --labels "rack=r$i" --set scrub_rate=0
done
datas_up 3 || { show_logs; exit 1; }
"$FUSE" --meta "$S" --log "$T/fuse.log" "$M" &&
	mountpoint -q "$M" || { echo "cfs-fuse did not mount"; show_logs; exit 1; }

SIZE=$((96 * 1024 * 1024))
head -c $SIZE /dev/urandom >"$T/f"
$CTL put -q "$T/f" /f # not through the mount: nothing of it in its caches
asked() { # bytes the nodes were asked for by frag_read, so far
	cat "$T"/data[1-3].log |
		sed -n 's/.*: frag_read \([0-9]*\) bytes at .*/\1/p' |
		awk '{s += $1} END {print s + 0}'
}
before=$(asked)
check "a 96 MiB file read through the mount is byte-identical" \
	cmp "$T/f" "$M/f"
read_bytes=$(($(asked) - before))
echo "    the nodes were asked for $((read_bytes / 1024)) KiB of $((SIZE / 1024)) KiB"
check "... and were asked for each byte about once (at most 3 % more)" \
	test "$read_bytes" -le $((SIZE + SIZE * 3 / 100))

[ $fail = 0 ] || show_logs
exit $fail
