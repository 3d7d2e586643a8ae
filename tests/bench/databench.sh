#!/bin/bash
# databench.sh - the data path benchmark: a fresh cluster of 3 cfs-meta and
# 4 cfs-data (labels rack=r1..r4) on loopback, all on this machine's disk.
#   1. local disk baseline: dd SIZE MiB (conv=fsync), read back cold;
#   2. CFS goal 3: cfsctl put (durable on every replica), cold cfsctl get;
#   3. CFS goal 1: the same;
#   4. re-replication: SIGKILL a data node holding a share of the goal 3
#      file and time until `cfsctl status` shows `under goal: 0`.
# Prints one line per phase, then Markdown tables.  Not a test: numbers
# depend on the machine; run it on an otherwise idle one.  Needs root for
# drop_caches (without it, reads may come from the page cache: it says so).
#
# Usage: tests/bench/databench.sh [--size MiB] [--dir DIR] [--bin BUILD_DIR]
#   --size  file size in MiB (default 1024)
#   --dir   where the cluster and the local baseline live: a fresh
#           mktemp -d under DIR (default /var/tmp), removed at the end
#           (KEEP=1 keeps it)
#   --bin   build directory with cfs-meta, cfs-data, cfsctl
#           (default: build/ of this source tree)
# Environment: META_ARGS: more cfs-meta arguments for experiments, e.g.
#   META_ARGS="--set repair_inflight=64" (shown in the output); KEEP=1.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CMDLINE=$(printf "%q " "$0" "$@"); CMDLINE=${CMDLINE% }
SIZE=1024
BASE=/var/tmp
BIN=$ROOT/build
usage() { sed -n 's/^# \{0,1\}//; 13,21p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--size) [ $# -ge 2 ] || usage; SIZE=$2; shift 2 ;;
	--dir) [ $# -ge 2 ] || usage; BASE=$2; shift 2 ;;
	--bin) [ $# -ge 2 ] || usage; BIN=$2; shift 2 ;;
	-h|--help) usage ;;
	*) echo "databench: unknown argument '$1'" >&2; usage ;;
	esac
done
case $SIZE in ''|*[!0-9]*|0) echo "databench: --size wants a positive number of MiB" >&2; exit 2 ;; esac
BIN=$(cd "$BIN" && pwd)
for b in cfs-meta cfs-data cfsctl; do
	[ -x "$BIN/$b" ] || { echo "databench: $BIN/$b not built" >&2; exit 2; }
done
mkdir -p "$BASE"

# ---- room: SIZE local + 3 x SIZE (goal 3) + SIZE (goal 1) + repair copies
need=$((SIZE * 6 + 512))
have=$(($(df -Pk "$BASE" | awk 'NR == 2 {print $4}') / 1024))
[ "$have" -ge "$need" ] ||
	{ echo "databench: $BASE has $have MiB free, needs about $need" >&2; exit 1; }
shm=$(($(df -Pk /dev/shm | awk 'NR == 2 {print $4}') / 1024))
[ "$shm" -ge $((SIZE * 2 + 64)) ] ||
	{ echo "databench: /dev/shm has $shm MiB free, needs $((SIZE * 2 + 64))" >&2; exit 1; }

W=""
SRC=""
BACK=""
cleanup() {
	local f
	set +e
	trap - EXIT INT TERM
	if [ -n "$W" ]; then
		for f in "$W"/meta*.pid "$W"/data*.pid; do
			[ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
		done
		true
		if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
	fi
	rm -f "$SRC" "$BACK"
}
trap cleanup EXIT
trap 'echo "databench: interrupted" >&2; exit 130' INT TERM

W=$(mktemp -d "$BASE/cfs-databench.XXXXXX")
# a private copy of the binaries: a rebuild while the benchmark runs must not
# mix versions (cfsctl is started many times)
BUILT=$(stat -c %y "$BIN/cfs-meta" | cut -d. -f1)
mkdir "$W/bin"
cp "$BIN/cfs-meta" "$BIN/cfs-data" "$BIN/cfsctl" "$W/bin/"
BIN=$W/bin
SRC=$(mktemp /dev/shm/cfs-databench-src.XXXXXX)
BACK=$(mktemp /dev/shm/cfs-databench-back.XXXXXX)

# ---- ports: a free block of 16 (meta clients +1..3, Raft +5..7, data +9..12)
# in 10000-19999: below the kernel's ephemeral ports (32768-60999 by default,
# where outgoing connections of other programs could take one of ours) and
# below the 20000+ of tests/system/lib.sh
busy_ports=$(ss -Htan 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}' | sort -u)
PORT0=$((10000 + ($$ % 600) * 16))
for _ in $(seq 100); do
	clash=0
	for p in $(seq $PORT0 $((PORT0 + 15))); do
		if printf '%s\n' "$busy_ports" | grep -qx "$p"; then clash=1; break; fi
	done
	[ $clash = 0 ] && break
	PORT0=$((PORT0 + 16))
	[ $PORT0 -lt 19984 ] || PORT0=10000
done

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }
rate() { awk -v m="$1" -v s="$2" 'BEGIN {if (s > 0) printf "%.1f", m / s; else print "inf"}'; }
DROP_OK=1
drop_caches() {
	sync
	if ! { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
		if [ $DROP_OK = 1 ]; then
			echo "NOTE: /proc/sys/vm/drop_caches is not writable: reads below may come from the page cache"
		fi
		DROP_OK=0
	fi
}

# ---- the cluster (like tests/system/lib.sh, in $W)
DEAD_AFTER=3
HEARTBEAT=300ms
raft_addr() { echo "127.0.0.1:$((PORT0 + 4 + $1))"; }
client_addr() { echo "127.0.0.1:$((PORT0 + $1))"; }
data_addr() { echo "127.0.0.1:$((PORT0 + 8 + $1))"; }
SPEC=""
S=""
for i in 1 2 3; do
	SPEC="$SPEC${SPEC:+,}$i=$(raft_addr $i)/$(client_addr $i)"
	S="$S${S:+,}$(client_addr $i)"
done
CTL="$BIN/cfsctl -s $S"
meta_start() {
	"$BIN/cfs-meta" --id "$1" --dir "$W/m$1" --raft "$(raft_addr "$1")" \
		--listen "$(client_addr "$1")" --init-cluster "$SPEC" \
		--set repair_rate=4G --set node_dead_after=${DEAD_AFTER}s \
		${META_ARGS:-} >>"$W/meta$1.log" 2>&1 &
	echo $! >"$W/meta$1.pid"
	disown
}
data_start() {
	"$BIN/cfs-data" --dir "$W/d$1" --listen "$(data_addr "$1")" --meta "$S" \
		--labels "rack=r$1" --set heartbeat=$HEARTBEAT \
		>>"$W/data$1.log" 2>&1 &
	echo $! >"$W/data$1.pid"
	disown
}
show_logs() {
	local f
	for f in "$W"/meta*.log "$W"/data*.log; do
		[ -f "$f" ] && { echo "----- $f"; tail -20 "$f"; }
	done
}
die() { echo "databench: $*" >&2; show_logs >&2; exit 1; }

for i in 1 2 3; do meta_start $i; done
ok=0
for _ in $(seq 100); do
	$CTL -t 500 status 2>/dev/null | grep -q '^leader: *server' && { ok=1; break; }
	sleep 0.1
done
[ $ok = 1 ] || die "no metadata leader after 10 s"
$CTL cluster bootstrap >/dev/null || die "cluster bootstrap failed"
for i in 1 2 3 4; do data_start $i; done
ok=0
for _ in $(seq 100); do
	[ "$($CTL node list 2>/dev/null | grep -c ' alive ')" -ge 4 ] && { ok=1; break; }
	sleep 0.1
done
[ $ok = 1 ] || die "fewer than 4 data nodes alive after 10 s"
FRAG=$($CTL status | sed -n 's/.*fragment size \([0-9]*\).*/\1/p' | head -1)
[ -n "$FRAG" ] || die "no fragment size in cfsctl status"

# ---- header
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain -uno 2>/dev/null)" ]; then
	commit="$commit (working tree has uncommitted changes)"
fi
echo "## CFS data path: 3 cfs-meta + 4 cfs-data on loopback, $SIZE MiB files"
echo
echo "- commit: $commit; binaries built $BUILT"
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM (free -g total), $(uname -srm)"
echo "- DIR filesystem: $(df -PT "$W" | awk 'NR == 2 {printf "%s on %s (%s, mounted on %s)", $2, $1, $3 / 1024 / 1024 " GiB", $7}')"
echo "- command: $CMDLINE"
echo "- cluster: fragment size $((FRAG / 1024 / 1024)) MiB, cfs-meta --set repair_rate=4G --set node_dead_after=${DEAD_AFTER}s${META_ARGS:+ $META_ARGS}, cfs-data --set heartbeat=$HEARTBEAT, all processes and files on the filesystem above"
echo

head -c $((SIZE * 1024 * 1024)) /dev/urandom >"$SRC"

# ---- 1. local disk
drop_caches
t0=$(now)
dd if="$SRC" of="$W/local" bs=4M conv=fsync status=none
t1=$(now)
drop_caches
t2=$(now)
dd if="$W/local" of=/dev/null bs=4M status=none
t3=$(now)
rm -f "$W/local"
sync
LW=$(rate "$SIZE" "$(secs "$t0" "$t1")")
LR=$(rate "$SIZE" "$(secs "$t2" "$t3")")
echo "1. local disk: write $SIZE MiB (dd bs=4M conv=fsync) $(secs "$t0" "$t1") s = $LW MiB/s; read (cold cache) $(secs "$t2" "$t3") s = $LR MiB/s"

# ---- 2./3. CFS: put (durable on every replica), cold get, compare
cfs_phase() { # cfs_phase GOAL: sets W_RATE, R_RATE
	local g=$1 t0 t1 t2 t3
	$CTL mkdir "/g$g" >/dev/null
	$CTL goal set "$g" "/g$g" >/dev/null
	drop_caches
	t0=$(now)
	$CTL put -q "$SRC" "/g$g/f" || die "put /g$g/f failed"
	t1=$(now)
	drop_caches
	t2=$(now)
	$CTL get -q "/g$g/f" "$BACK" || die "get /g$g/f failed"
	t3=$(now)
	cmp -s "$SRC" "$BACK" || die "/g$g/f read back differs from what was written"
	: >"$BACK"
	W_RATE=$(rate "$SIZE" "$(secs "$t0" "$t1")")
	R_RATE=$(rate "$SIZE" "$(secs "$t2" "$t3")")
	echo "$2. CFS goal $g: put $SIZE MiB $(secs "$t0" "$t1") s = $W_RATE MiB/s; get (cold cache, compared: identical) $(secs "$t2" "$t3") s = $R_RATE MiB/s"
}
cfs_phase 3 2
G3W=$W_RATE G3R=$R_RATE
cfs_phase 1 3
G1W=$W_RATE G1R=$R_RATE

# Phase 4 needs /g3/f alone (a goal 1 fragment on the victim would be lost,
# not under goal): remove /g1/f and wait until its replicas are deleted.
g1hex=$(printf '%016x' "$($CTL stat /g1/f | sed -n 's/^ino: *//p')")
$CTL rm /g1/f
ok=0
for _ in $(seq 600); do
	if [ -z "$(find "$W"/d?/frags -name "$g1hex.*" 2>/dev/null | head -1)" ]; then
		ok=1; break
	fi
	sleep 0.1
done
[ $ok = 1 ] || die "the replicas of the removed /g1/f were not deleted within 60 s; the leader: $($CTL status 2>&1 | grep -E '^(to delete|repair):' | tr -s ' ' | paste -sd';')$(grep -h 'beyond their goal' "$W"/meta*.log | tail -1 | sed 's/.*: repair: /; last: /')"

# ---- 4. re-replication after a node loss
# Start from a quiet cluster: no copy running (rebalancing moves replicas
# between nodes after the writes), nothing to delete, for 5 polls in a row
# (2 s; the leader plans once a second); give up after 60 s and say so.
t0=$(now)
quiet=0 QUIET_NOTE=""
for _ in $(seq 120); do
	st=$($CTL status 2>/dev/null || true)
	if printf '%s\n' "$st" | grep -q '^repair: *0 tasks running' &&
		printf '%s\n' "$st" | grep -q '^to delete: *0 ' &&
		printf '%s\n' "$st" | grep -q '^under goal: *0'; then
		quiet=$((quiet + 1))
		[ $quiet -ge 5 ] && break
	else
		quiet=0
	fi
	sleep 0.5
done
if [ $quiet -ge 5 ]; then
	QUIET_NOTE="the cluster was quiet (no copy running, nothing to delete) $(secs "$t0" "$(now)") s after the writes"
else
	QUIET_NOTE="NOTE: the cluster was still copying or deleting 60 s after the writes (rebalancing?): phase 4 started anyway, its copies compete with the repair"
fi
$CTL frags /g3/f >"$W/frags.before" || die "/g3/f is under goal before the kill"
$CTL node list >"$W/nodes.before"
victim=0 vbytes=-1
for i in 1 2 3 4; do
	b=$(find "$W/d$i/frags" -type f ! -name '*.tmp.*' -printf '%s\n' 2>/dev/null |
		awk '{s += $1} END {print s + 0}')
	if [ "$b" -gt "$vbytes" ]; then victim=$i vbytes=$b; fi
done
vid=$(awk -v a="$(data_addr $victim)" '$2 == a {print $1}' "$W/nodes.before")
[ -n "$vid" ] || die "data node $(data_addr $victim) is not in node list"
vreplicas=$(awk -v id="$vid" '$1 == id {print $(NF - 2)}' "$W/nodes.before")
# data bytes of the fragments the victim holds (from cfsctl frags)
vdata=$(awk -v id="$vid" '$1 ~ /^[0-9]+$/ {
	for (i = 5; i <= NF; i++) if (index($i, id "@") == 1) s += $3 }
	END {print s + 0}' "$W/frags.before")
vmib=$(awk -v b="$vdata" 'BEGIN {printf "%.1f", b / 1048576}')
repair_before=$($CTL status | sed -n 's/^repair: *//p')
dead_seen=""
vpid=$(cat "$W/data$victim.pid")
t_kill=$(now)
kill -9 "$vpid"
rm -f "$W/data$victim.pid"
limit=$((DEAD_AFTER + 120 + SIZE / 4)) # seconds
t_end=""
while :; do
	st=$($CTL status 2>/dev/null || true)
	state=$(printf '%s\n' "$st" | awk -v id="$vid" '$1 == id && $2 ~ /:/ {print $3}')
	under=$(printf '%s\n' "$st" | sed -n 's/^under goal: *\([0-9]*\).*/\1/p')
	if [ "$state" = DEAD ]; then
		[ -n "$dead_seen" ] || dead_seen=$(now)
		if [ "$under" = 0 ]; then t_end=$(now); break; fi
	fi
	[ "$(secs "$t_kill" "$(now)" | cut -d. -f1)" -lt $limit ] || break
	sleep 0.1
done
[ -n "$t_end" ] || die "still under goal $limit s after the kill (state '$state', under goal '$under')"
repair_line=$(printf '%s\n' "$st" | sed -n 's/^repair: *//p')
$CTL frags /g3/f >"$W/frags.after" || die "cfsctl frags /g3/f: still under goal after status said 0"
# the leader's own record of when it declared the node dead
dead_log=$(grep -h "data node $vid (.*: dead" "$W"/meta*.log 2>/dev/null | tail -1 | cut -d' ' -f1)
t_decl=$(awk -v k="$t_kill" -v d=$DEAD_AFTER 'BEGIN {printf "%.3f", k + d}')
total=$(secs "$t_kill" "$t_end")
after=$(secs "$t_decl" "$t_end")
RR=$(rate "$vmib" "$after")
RT=$(rate "$vmib" "$total")
logline=""
if [ -n "$dead_log" ]; then
	t_log=$(date -u -d "$dead_log" +%s.%N 2>/dev/null || true)
	if [ -n "$t_log" ]; then
		after_log=$(secs "$t_log" "$t_end")
		logline="the leader's log says it declared the node dead $(secs "$t_kill" "$t_log") s after the kill; from that moment $after_log s = $(rate "$vmib" "$after_log") MiB/s"
	fi
fi
echo "4. re-replication: killed data node $vid (rack r$victim, $vreplicas replicas, $vmib MiB of data); under goal 0 after $total s (dead seen in status after $(secs "$t_kill" "$dead_seen") s); from kill + ${DEAD_AFTER} s: $after s = $RR MiB/s"
st=$($CTL get -q /g3/f "$BACK" 2>&1) && cmp -s "$SRC" "$BACK" ||
	die "/g3/f does not read back identical after the repair: $st"
: >"$BACK"

# ---- tables
echo
echo "| workload | local disk | CFS goal 1 | CFS goal 3 |"
echo "|---|---|---|---|"
echo "| sequential write $SIZE MiB (fsync) | $LW MiB/s | $G1W MiB/s | $G3W MiB/s |"
echo "| sequential read $SIZE MiB (cold cache) | $LR MiB/s | $G1R MiB/s | $G3R MiB/s |"
echo
echo "Re-replication after SIGKILL of 1 of 4 data nodes (goal 3, $SIZE MiB file, $((FRAG / 1024 / 1024)) MiB fragments):"
echo
echo "| measure | value |"
echo "|---|---|"
echo "| data on the killed node, re-copied | $vmib MiB ($vreplicas replicas) |"
echo "| kill -> \`under goal: 0\` (including ${DEAD_AFTER} s detection) | $total s = $RT MiB/s |"
echo "| kill + ${DEAD_AFTER} s (node_dead_after) -> \`under goal: 0\` | $after s = $RR MiB/s |"
[ -z "$logline" ] || echo "| from the leader's logged dead declaration | ${after_log} s = $(rate "$vmib" "$after_log") MiB/s |"
echo
echo "Before the kill: $QUIET_NOTE."
echo "The dead time is the kill time + node_dead_after (${DEAD_AFTER} s)${logline:+; $logline}."
echo "Leader's repair counters (\`cfsctl status\`) before the kill: $repair_before; at the end: $repair_line."
[ $DROP_OK = 1 ] || echo "NOTE: caches could not be dropped: the read numbers may be page-cache reads."

# ---- over-goal drops: the dead node's replicas as their fragments get back
# to goal; more than that means rebalancing copied and dropped replicas
# while the benchmark ran
drops=$(cat "$W"/meta*.log | awk '/replicas beyond their goal/ {
	for (i = 1; i < NF; i++) if ($i == "dropping") {n++; s += $(i + 1)} }
	END {printf "%d round(s), %d replicas", n, s}')
echo
echo "Leader's over-goal drops during the run: $drops."

# ---- problems in the logs
n=$(cat "$W"/meta*.log "$W"/data*.log 2>/dev/null | grep -c ' \(ERROR\|WARN\) ' || true)
if [ "$n" -gt 0 ]; then
	echo
	echo "Logs: $n ERROR/WARN lines (first 10):"
	echo
	grep -h ' \(ERROR\|WARN\) ' "$W"/meta*.log "$W"/data*.log | head -10 | sed 's/^/    /'
else
	echo
	echo "Logs: no ERROR or WARN line."
fi
