#!/bin/bash
# test_model.sh - the executable model against a real cluster (docs/model.md):
# 3 cfs-meta (with the partition fault hook) + 4 cfs-data on loopback;
#  1. difftest through libcfs, no faults: every result equals the model's;
#  2. difftest through libcfs while the nemesis kills and restarts the
#     leader, followers and data nodes, partitions servers, pauses nodes and
#     corrupts replica files: every result still equals the model's;
#  3. the nemesis stops: within 90 s the redundancy invariants (R1-R4) hold
#     on the data nodes' disks (redcheck --settled);
#  4. difftest through a cfs-fuse mount (the kernel's path);
#  5. the same under the nemesis, long enough for it to strike several
#     times: the mount's own write paths (versions patched in place
#     under its write lease, their seals) meet the faults.
# Env: SEED (default 1), STEPS (1500), NEMESIS_STEPS (STEPS), FUSE_STEPS
# (500), FUSE_NEMESIS_STEPS (10000).  A long run: make check-model SEED=7 STEPS=10000.
. "$(dirname "$0")/../system/lib.sh"
. "$(dirname "$0")/nemesis.sh"

DIFFTEST=$BIN/tests/model/difftest
REDCHECK=$BIN/tests/model/redcheck
FUSE=$BIN/cfs-fuse
[ -x "$DIFFTEST" ] && [ -x "$REDCHECK" ] ||
	{ echo "difftest/redcheck not built: skipped"; exit 77; }
SEED=${SEED:-1}
STEPS=${STEPS:-1500}
NSTEPS=${NEMESIS_STEPS:-$STEPS}
FSTEPS=${FUSE_STEPS:-500}
FNSTEPS=${FUSE_NEMESIS_STEPS:-10000}
# 64 KiB fragments: the driver's writes (up to 256 KiB) cross them
FSZ=65536
BOOTSTRAP_ARGS="--fragment-size $FSZ"
# every data node scrubs its replicas each second (a test's few MiB), so a
# corrupted replica is found without a reader; and checks its inventory
# every 3 s, for files older than 20 s (longer than any pause a leader
# survives as leader), so orphans are deleted while the nemesis runs and
# redcheck would see a replica deleted that the metadata still needs
DATA_EXTRA="--set scrub_interval=1s --set scrub_rate=256M
	--set inventory_interval=3s --set inventory_grace=20s"
M=$T/mnt
mkdir -p "$M"

unmount() {
	mountpoint -q "$M" 2>/dev/null || return 0
	fusermount3 -u "$M" 2>/dev/null || umount -l "$M" 2>/dev/null
}
# the mount and the nemesis go before lib.sh's cleanup kills the servers
trap 'nemesis_stop 4 >/dev/null 2>&1; unmount; cleanup' EXIT

data_cluster 3 4 --set fault_hooks=yes --set node_dead_after=3s ||
	{ show_logs; exit 1; }
echo "    seed $SEED (SEED=$SEED STEPS=$STEPS reproduces this run)"

# run NAME ARGS...: difftest, its step log and stderr kept in $T (not
# "nemesis": that is the nemesis's log), the report shown on failure
run() {
	local name=$1 rv
	shift
	timeout 3000 "$DIFFTEST" --log "$T/$name.log" --cluster "$S" \
		--uids 0,1000 --big $FSZ "$@" >"$T/$name.out" 2>"$T/$name.err"
	rv=$?
	sed 's/^/    /' "$T/$name.out"
	if [ $rv != 0 ]; then
		[ $rv = 124 ] && echo "    (did not finish in 3000 s)"
		grep -v ' WARN ' "$T/$name.err" | head -40 | sed 's/^/    /'
	fi
	return $rv
}

check "difftest through libcfs: $STEPS steps, no faults" \
	run cfs --backend cfs --root /quiet --seed "$SEED" --steps "$STEPS"

nemesis_start "$SEED" 4
check "difftest through libcfs: $NSTEPS steps under the nemesis" \
	run faults --backend cfs --root /faults --keep --seed "$((SEED + 1))" \
	--steps "$NSTEPS"
nemesis_stop 4
echo "    the nemesis injected $NEMESIS_FAULTS faults:"
sed -n 's/^[0-9:.]* fault [0-9]*: \([a-z-]*\).*/\1/p' "$T/nemesis.log" |
	sort | uniq -c | sed 's/^ */      /'
nodes_alive 4 >/dev/null

dirs=""
for i in 1 2 3 4; do dirs="$dirs $T/d$i"; done
# shellcheck disable=SC2086
check "redundancy invariants hold on the disks within 90 s" \
	"$REDCHECK" --cluster "$S" --settled --wait 90 $dirs

if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ] || [ ! -x "$FUSE" ] ||
	! command -v fusermount3 >/dev/null; then
	echo "skip difftest through cfs-fuse (needs root, /dev/fuse, fusermount3)"
else
	mounted() {
		"$FUSE" --meta "$S" --log "$T/fuse.log" "$M" || return 1
		mountpoint -q "$M"
	}
	check "cfs-fuse mounts" mounted
	mkdir -p "$M/fuse"
	check "difftest through cfs-fuse: $FSTEPS steps" \
		run fuse --backend posix --dir "$M/fuse" --seed "$((SEED + 2))" \
		--steps "$FSTEPS"
	# the mount's own paths under faults: its writes patch versions in
	# place under its write lease, which the nemesis's kills, pauses and
	# corruptions meet (a node dies under an open version, the leader
	# changes while one is open)
	mkdir -p "$M/fuse-faults"
	nemesis_start "$((SEED + 3))" 4
	check "difftest through cfs-fuse: $FNSTEPS steps under the nemesis" \
		run fuse-faults --backend posix --dir "$M/fuse-faults" \
		--seed "$((SEED + 4))" --steps "$FNSTEPS"
	nemesis_stop 4
	echo "    the nemesis injected $NEMESIS_FAULTS faults:"
	sed -n 's/^[0-9:.]* fault [0-9]*: \([a-z-]*\).*/\1/p' \
		"$T/nemesis.log" | sort | uniq -c | sed 's/^ */      /'
	fpid=$(pgrep -f -- "--log $T/fuse.log")
	unmount
	for _ in $(seq 300); do kill -0 "$fpid" 2>/dev/null || break; sleep 0.1; done
	grep -E "patching in place|creates answered before" "$T/fuse.log" |
		sed 's/^[^]]*] [A-Z]* [^ ]* /    /'
fi
[ $fail = 0 ] || { show_logs; tail -20 "$T/nemesis.log"; }
exit $fail
