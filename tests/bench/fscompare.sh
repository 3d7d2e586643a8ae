#!/bin/bash
# fscompare.sh - the standard fsbench workload on the local disk, MooseFS and
# CFS, one after the other on this machine, and one table of the results.
#
#   tests/bench/fscompare.sh BENCHDIR [OUTDIR]
#
# BENCHDIR holds fsbench.sh and peers/moosefs-up.sh (the shared benchmark
# kit); OUTDIR (default /tmp/fscompare) gets each run's full output and
# results.jsonl.  Run as root from the build directory (it uses ./cfsctl and
# the programs beside it).  MooseFS and CFS both keep 3 copies (goal 3) on
# this one machine's disk; MooseFS runs with its package defaults (no fsync
# on its servers: see BENCHDIR/RESULTS.md), CFS as it always does (every
# fsync and close on 3 disks and a Raft majority).  The fsbench sizes can be
# changed with its FSBENCH_* variables.  CFS runs twice on one cluster: its
# mount as `cfsctl dev up` makes it, then a mount with --data-cache 0
# (FSCOMPARE_SKIP_NOCACHE=1: not).  After each fsbench run, one more fio
# run that the kit has not: 4 KiB appends to a new file, each fsync'd (a
# log's or a database journal's writes), 10 s.  Prints a Markdown table at
# the end.
set -euo pipefail
BENCH=$(realpath "${1:?usage: fscompare.sh BENCHDIR [OUTDIR]}")
OUT=$(realpath -m "${2:-/tmp/fscompare}")
CTL=$PWD/cfsctl
[ -x "$CTL" ] || { echo "run from the build directory (./cfsctl)" >&2; exit 2; }
[ -x "$BENCH/fsbench.sh" ] || { echo "$BENCH/fsbench.sh not found" >&2; exit 2; }
mkdir -p "$OUT"
: >"$OUT/results.jsonl"

bench() { # bench DIR LABEL
	echo "[fscompare] $2: fsbench on $1" >&2
	"$BENCH/fsbench.sh" "$1" "$2" >"$OUT/$2.txt" 2>"$OUT/$2.err"
	tail -n 1 "$OUT/$2.txt" >>"$OUT/results.jsonl"
	appends "$1" "$2"
}

# appends DIR LABEL: fio, 4 KiB appends each followed by fsync, to a new
# file (no preallocation: every write makes the file longer), 10 s
appends() {
	local f="$1/fscompare-appends.$$"
	echo "[fscompare] $2: fsync'd appends on $1" >&2
	rm -f "$f"
	fio --name=appends --filename="$f" --rw=write --bs=4k --fsync=1 \
		--ioengine=psync --fallocate=none --size=1g --time_based \
		--runtime="${FSCOMPARE_APPEND_SECS:-10}" --output-format=json \
		>"$OUT/$2-appends.json" 2>"$OUT/$2-appends.err" || true
	rm -f "$f"
	python3 - "$OUT/$2-appends.json" "$2" >>"$OUT/results.jsonl" <<'PY' || true
import json, sys
t = open(sys.argv[1]).read()
j = json.loads(t[t.index('{'):])["jobs"][0]
print(json.dumps({"label": sys.argv[2], "appends": True,
                  "append_fsync_iops": j["write"]["iops"],
                  "append_fsync_p50_ms":
                      j["sync"]["lat_ns"]["percentile"]["50.000000"] / 1e6}))
PY
}

# the local disk
LOCAL=/var/tmp/fscompare-local
rm -rf "$LOCAL" && mkdir -p "$LOCAL"
bench "$LOCAL" local
rm -rf "$LOCAL"

# MooseFS, goal 3
MFS=/mnt/fscompare-moosefs
mkdir -p "$MFS"
MFS_GOAL=3 "$BENCH/peers/moosefs-up.sh" "$MFS" >"$OUT/moosefs-up.log" 2>&1 ||
	{ echo "MooseFS did not come up: $OUT/moosefs-up.log" >&2; exit 1; }
bench "$MFS" moosefs || true
"$BENCH/peers/moosefs-down.sh" "$MFS" --purge >"$OUT/moosefs-down.log" 2>&1 || true

# CFS, goal 3: 3 metadata servers, 4 data nodes, a cfs-fuse mount
CFS=/mnt/fscompare-cfs
mkdir -p "$CFS"
"$CTL" dev down --dir "$OUT/cluster" >/dev/null 2>&1 || true
rm -rf "$OUT/cluster"
"$CTL" dev up --dir "$OUT/cluster" --mount "$CFS" --goal 3 \
	--port "${CFS_PORT:-7400}" >"$OUT/cfs-up.log" 2>&1 ||
	{ echo "CFS did not come up: $OUT/cfs-up.log" >&2; exit 1; }
bench "$CFS" cfs || true
# the same cluster through a mount without its data cache: what the reads
# cost when every one goes to the data nodes (the cache answers O_DIRECT
# reads, so it is most of c))
if [ -z "${FSCOMPARE_SKIP_NOCACHE:-}" ]; then
	fusermount3 -u "$CFS"
	. "$OUT/cluster/cluster.env"
	"$PWD/cfs-fuse" --meta "$CFS_CLUSTER" --data-cache 0 \
		--log "$OUT/cfs-nocache-fuse.log" "$CFS"
	bench "$CFS" cfs-nocache || true
	fusermount3 -u "$CFS" || true
fi
"$CTL" dev down --dir "$OUT/cluster" >"$OUT/cfs-down.log" 2>&1 || true

python3 - "$OUT/results.jsonl" <<'EOF'
import json, sys
runs = {}
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
        runs.setdefault(r["label"], {}).update(r)
    except (ValueError, KeyError):
        pass
rows = [
    ("seqwrite_MiBps", "a) seq write 1 GiB, 1 MiB blocks, incl. final fsync, MiB/s", 1.3),
    ("seqread_MiBps", "b) seq read after drop_caches, MiB/s", 1.5),
    ("randread_4k_iops", "c) 4 KiB random read, 4 jobs, IOPS", 1.5),
    ("randwrite_fsync_iops", "d) 4 KiB write + fsync each, 1 job, IOPS", 1.5),
    ("append_fsync_iops", "(not fsbench) 4 KiB append + fsync each, 1 job, IOPS", None),
    ("md1_create_ops", "e) create, 1 thread, ops/s", 1.5),
    ("md1_stat_ops", "e) stat, 1 thread, ops/s", 2.0),
    ("md1_readdir_ops", "e) readdir, entries/s", None),
    ("md1_unlink_ops", "e) unlink, 1 thread, ops/s", None),
    ("md1_mkdir_ops", "f) mkdir -p tree, 1 thread, ops/s", None),
    ("md1_rename_ops", "f) 1000 cross-directory renames, ops/s", None),
]
def fmt(v):
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"
print("| metric | local disk | MooseFS goal 3 | CFS goal 3 | CFS / MooseFS "
      "| target | CFS, no data cache |")
print("|---|--:|--:|--:|--:|--:|--:|")
for key, label, target in rows:
    v = [runs.get(t, {}).get(key)
         for t in ("local", "moosefs", "cfs", "cfs-nocache")]
    ratio = f"{v[2] / v[1]:.2f}x" if v[1] and v[2] is not None else "-"
    print(f"| {label} | {fmt(v[0])} | {fmt(v[1])} | {fmt(v[2])} | {ratio} | "
          f"{'≥ %.1fx' % target if target else ''} | {fmt(v[3])} |")
EOF
