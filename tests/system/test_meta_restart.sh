#!/bin/bash
# test_meta_restart.sh - stop all three metadata servers (cleanly, then
# with SIGKILL), start them again: the namespace is intact, byte for byte.
set -u
. "$(dirname "$0")/lib.sh"

check "3 servers elect a leader and format" cluster_start 3
check "build a tree" $CTL mkdir -p /a/b/c /d
check "files" $CTL touch /a/b/c/one /a/two /d/three
check "rename" $CTL mv /a/two /d/two
check "chmod" $CTL chmod 600 /d/two
check "remove" $CTL rm /d/three
check "replicas agree" dumps_equal
cp "$T/dump1" "$T/before"

cluster_stop TERM
check "restart after SIGTERM" cluster_restart
check "replicas agree after restart" dumps_equal
check "namespace unchanged by a clean restart" cmp "$T/before" "$T/dump1"
check "stat after restart" $CTL stat /d/two /a/b/c/one

check "more changes" $CTL touch /a/after-restart
check "replicas agree" dumps_equal
cp "$T/dump1" "$T/before"
cluster_stop 9
check "restart after SIGKILL of all three" cluster_restart
check "replicas agree after crash" dumps_equal
check "namespace unchanged by a crash of all" cmp "$T/before" "$T/dump1"
check "the last file survived" $CTL stat /a/after-restart
[ $fail = 0 ] || show_logs
exit $fail
