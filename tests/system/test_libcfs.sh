#!/bin/bash
# test_libcfs.sh - libcfs over 3 cfs-meta and 4 cfs-data on loopback: every
# call of <cfs.h> and its error cases, data across fragment boundaries,
# truncation, 1000-entry listings, xattrs, goals, statfs, threads, and a bad
# server address failing cfs_connect fast (tests/system/libcfs_check.c).
. "$(dirname "$0")/lib.sh"

CHECK=${CFS_LIBCFS_CHECK:-$BIN/tests/system/libcfs_check}
[ -x "$CHECK" ] || { echo "libcfs_check not built: skipped"; exit 77; }

FSZ=$((1024 * 1024))
BOOTSTRAP_ARGS="--fragment-size $FSZ"
data_cluster 3 4 || { show_logs; exit 1; }

# the program prints its own ok/FAIL lines; data path retries it logs
# (WARN) go to a file, shown on failure
timeout 600 "$CHECK" "$S" "$FSZ" 2>"$T/check.err"
rv=$?
if [ $rv != 0 ]; then
	[ $rv = 124 ] && echo "FAIL libcfs_check did not finish in 600 s"
	echo "----- libcfs_check stderr"
	tail -n 30 "$T/check.err"
	show_logs
	exit 1
fi
exit 0
