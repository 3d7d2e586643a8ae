#!/bin/bash
# test_fuse_read.sh - a sequential read through the mount, with the kernel's
# read-ahead requests arriving out of order on several FUSE threads, reads
# the file right and asks the data nodes for each byte about once: the
# pieces the mount reads ahead are used by the request that needs them,
# whichever thread it came on (docs/data-path.md, "Read-ahead").  That
# mount reads through the nodes (--local-reads no); a second one, as
# cfs-fuse mounts by default, reads the nodes' replicas from their disks
# here (client/localread.h) and asks them for no bytes, also of a file
# whose replica on the first node it tries is corrupt.
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
"$FUSE" --meta "$S" --log "$T/fuse.log" --local-reads no "$M" &&
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


# ---- local reads ----
fusermount3 -u "$M"
refused() { ! "$FUSE" --meta "$S" --local-reads maybe "$M" 2>"$T/refused.err" &&
	grep -q "local-reads maybe: yes or no" "$T/refused.err" && ! mountpoint -q "$M"; }
check "cfs-fuse refuses --local-reads maybe, saying why" refused
"$FUSE" --meta "$S" --log "$T/fuse2.log" "$M" &&
	mountpoint -q "$M" || { echo "cfs-fuse did not mount again"; show_logs; exit 1; }
before=$(asked)
check "read from the nodes' disks, the file is byte-identical" \
	cmp "$T/f" "$M/f"
check "... the nodes were asked for none of its bytes" \
	test "$(($(asked) - before))" -eq 0
check "... and the mount found the three nodes local" \
	test "$(grep -c 'on this machine: read from there' "$T/fuse2.log")" -eq 3

# A replica that does not check is read through its node instead, which
# reports it; the bytes come from another replica.  The lowest-numbered
# holder of fragment 0 of /g is tried first: its copy goes bad (a byte of
# its data, past the 4 KiB header).
head -c $((8 * 1024 * 1024)) /dev/urandom >"$T/g"
$CTL put -q "$T/g" /g
hex=$(printf '%016x' "$(ino_of /g)")
ver0=$($CTL frags /g | awk '$1 == 0 {print $2}')
first=$(node_index "$($CTL frags /g | awk '$1 == 0 {split($5, a, "@"); print a[1]}')")
bad=$(find "$T/d$first/frags" -name "$hex.0.$ver0")
flip "$bad" 5000
check "a replica corrupt on the disk: the file still reads byte-identical" \
	cmp "$T/g" "$M/g"
check "... the local read failed and was read through the node" \
	grep -q "read through it: from the disk.*block" "$T/fuse2.log"
fusermount3 -u "$M"
# (the daemon logs it on its way out, after the unmount returned)
check "... the mount counted its local reads at unmount" \
	eventually 5 grep -qE 'local reads: [1-9][0-9]* pieces read .*, [1-9][0-9]* read through the node' \
	"$T/fuse2.log"

[ $fail = 0 ] || show_logs
exit $fail
