#!/bin/bash
# test_cfsctl_unreach.sh - cfsctl facing a cluster it cannot use: an address
# nobody listens on, no cluster named at all, a cluster with no leader.  Each
# ends with exit 1 and a message naming the address, after one notice on
# stderr of what cfsctl waits for (none with -q); never a silent hang.
. "$(dirname "$0")/lib.sh"

unset CFS_CLUSTER CFS_META
C="$BIN/cfsctl"

# run_c SECONDS ARGS...: cfsctl ARGS from / (outside every mount); its
# stderr in $T/err, exit status in $rv, seconds taken in $took
run_c() {
	local limit=$1 start
	shift
	start=$(date +%s%N)
	(cd / && timeout "$limit" "$C" "$@") >/dev/null 2>"$T/err" </dev/null
	rv=$?
	took=$((($(date +%s%N) - start) / 1000000))
	sed 's/^/    /' "$T/err"
}
has() { grep -qF -- "$1" "$T/err" || { echo "    no '$1'"; return 1; }; }
hasnt() { ! grep -qF -- "$1" "$T/err" || { echo "    has '$1'"; return 1; }; }
lines() { [ "$(grep -c "$1" "$T/err")" = "$2" ] || { echo "    not $2 '$1'"; return 1; }; }

unreachable() {
	run_c 10 --cluster 127.0.0.1:1 -t 3000 ls /
	[ $rv = 1 ] && [ "$took" -lt 6000 ] &&
		has "no answer from tcp://127.0.0.1:1 yet (connection refused)" &&
		lines "retrying for" 1 &&
		has "127.0.0.1:1: open session: session_open (never reached a server)" &&
		hasnt "outcome unknown" && hasnt "no cluster named"
}
check "an unreachable address: one notice, then exit 1 naming it" unreachable

quiet() {
	run_c 10 -q --cluster 127.0.0.1:1 -t 3000 status
	[ $rv = 1 ] && lines "retrying for" 0 &&
		has "status (never reached a server)" && has "127.0.0.1:1"
}
check "-q: no notice, the same error" quiet

short() { # a timeout under the notice's 2 s: only the error
	run_c 10 --cluster 127.0.0.1:1 -t 500 status
	[ $rv = 1 ] && [ "$took" -lt 3000 ] && lines "retrying for" 0 &&
		has "127.0.0.1:1"
}
check "--timeout 500: fails at once, no notice" short

no_cluster() {
	run_c 10 -t 3000 status
	[ $rv = 1 ] && lines "retrying for" 1 &&
		has "no cluster named, trying the default: no answer from tcp://127.0.0.1:7000" &&
		has "cfsctl: no cluster named: tried the default 127.0.0.1:7000; use --cluster ADDRS, CFS_CLUSTER, or a path inside a cfs mount"
}
if (exec 3<>/dev/tcp/127.0.0.1/7000) 2>/dev/null; then
	echo "skip no cluster named: something listens on 127.0.0.1:7000"
else
	check "no cluster named: the error says the default was tried" no_cluster
	ns_no_cluster() {
		run_c 10 -q -t 1000 ls /
		[ $rv = 1 ] && has "no cluster named: tried the default"
	}
	check "... for a namespace command too" ns_no_cluster
fi

# one server of three: no quorum, so no leader
S1=$(client_addr 1)
spec=""
for i in 1 2 3; do spec="$spec${spec:+,}$i=$(raft_addr "$i")/$(client_addr "$i")"; done
meta_start 1 --init-cluster "$spec"
for _ in $(seq 50); do
	(exec 3<>/dev/tcp/127.0.0.1/"${S1#*:}") 2>/dev/null && break
	sleep 0.1
done
no_leader() {
	run_c 10 --cluster "$S1" -t 3000 mkdir /d
	[ $rv = 1 ] && lines "retrying for" 1 &&
		has "no metadata leader yet at tcp://$S1;" &&
		has "session_open (not done): no metadata leader elected after"
}
check "a cluster without a leader: says so" no_leader
admin_no_leader() {
	run_c 10 -q --cluster "$S1" -t 1000 leader transfer
	[ $rv = 1 ] && has "no metadata leader elected" &&
		hasnt "outcome unknown"
}
check "... an administrative call too" admin_no_leader

exit $fail
