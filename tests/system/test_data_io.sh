#!/bin/bash
# test_data_io.sh - files through 3 cfs-meta and 4 cfs-data on loopback:
# sizes at every fragment boundary read back byte-identical with goal copies
# on distinct nodes' disks; a flipped byte is read around and repaired (by
# the reader's report and by the scrub); deleted and truncated files' replica
# files disappear from every node.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "no python3: skipped"; exit 77; }

FSZ=$((1024 * 1024))
BOOTSTRAP_ARGS="--fragment-size $FSZ"
data_cluster 3 4 --set node_dead_after=3s || { show_logs; exit 1; }

# on_disk PATH GOAL: every committed fragment of PATH has GOAL (or more)
# replica files of its committed version, on distinct nodes, byte-identical
# (one interpreter for the whole file: a 100-fragment file has 300 replicas)
on_disk() {
	local ino
	ino=$(ino_of "$1") || return 1
	$CTL frags "$1" >"$T/frags" || true
	python3 - "$T" "$ino" "$2" "$T/frags" <<'PY'
import glob, hashlib, os, re, sys

T, ino, goal, frags = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
hexino = '%016x' % ino

def data(path, want):
    """The first @want data bytes of replica file @path; a delta's blocks
    not in its own map come from its bases (docs/on-disk-format.md,
    format 3)."""
    d = os.path.dirname(path)
    files = []  # (file, map or None for a whole file), nearest first
    try:
        while len(files) < 8:
            f = open(path, 'rb')
            h = f.read(4096)
            if (h[4] | h[5] << 8) != 3:
                files.append((f, None))
                break
            files.append((f, h[60:4092]))
            path = os.path.join(d, '%s.%d' % (
                path.rsplit('/', 1)[1].rsplit('.', 1)[0],
                int.from_bytes(h[52:60], 'little')))
        out = bytearray()
        for off in range(0, want, 65536):
            b = off // 65536
            for f, m in files:
                if m is None or m[b // 8] >> (b % 8) & 1:
                    f.seek(4096 + off)
                    out += f.read(min(65536, want - off))
                    break
        return bytes(out)
    except OSError:
        return None  # gone since the listing, or while read (a move)
    finally:
        for f, _ in files:
            f.close()

where = {}  # (idx, version) -> {node: path}
for path in glob.glob(T + '/d[0-9]/frags/*/' + hexino + '.*'):
    m = re.fullmatch(r'[0-9a-f]{16}\.(\d+)\.(\d+)', os.path.basename(path))
    if m:
        node = int(path[len(T) + 2:].split('/')[0])
        where.setdefault((int(m[1]), int(m[2])), {})[node] = path
for line in open(frags):
    w = line.split()
    if not w or not w[0].isdigit():
        continue
    idx, ver, length = int(w[0]), int(w[1]), int(w[2])
    held = where.get((idx, ver), {})
    # (a rebalancing move may briefly add one more)
    if len(held) < goal:
        print('    fragment %d v%d: %d replica files, want %d' %
              (idx, ver, len(held), goal))
        sys.exit(1)
    sums = {hashlib.md5(b).hexdigest() for b in
            (data(p, length) for p in held.values()) if b is not None}
    if len(sums) != 1:
        print('    fragment %d v%d: %d different contents among its '
              'replicas' % (idx, ver, len(sums)))
        sys.exit(1)
PY
}

roundtrip() { # roundtrip SIZE
	local f=$T/src.$1
	head -c "$1" /dev/urandom >"$f"
	$CTL put -q "$f" "/size.$1" &&
		$CTL get -q "/size.$1" "$T/back.$1" &&
		cmp "$f" "$T/back.$1" &&
		on_disk "/size.$1" 3
}
for size in 0 1 $((FSZ - 1)) $FSZ $((FSZ + 1)) $((5 * FSZ / 2)); do
	check "size $size reads back byte-identical, 3 copies on disk" \
		roundtrip $size
done
check "100 MiB reads back byte-identical, 3 copies of all 100 fragments" \
	roundtrip $((100 * 1024 * 1024))

# A partial overwrite: patched in place by the nodes holding the base.
patch_middle() {
	cp "$T/src.$((5 * FSZ / 2))" "$T/src.patch"
	$CTL put -q "$T/src.patch" /size.patch || return 1
	printf 'PATCHED' | dd of="$T/src.patch" bs=1 seek=$((FSZ + 100)) conv=notrunc 2>/dev/null
	$CTL put -q "$T/src.patch" /size.patch &&
		$CTL get -q /size.patch "$T/back.patch" &&
		cmp "$T/src.patch" "$T/back.patch"
}
check "a rewritten file reads back its new bytes" patch_middle
# A write into the middle of an existing fragment: the nodes holding the
# committed version write a delta of it (format 3: the block written, the
# rest shared with the base's file), which takes the base's file over when
# the base is collected.
patch_in_place() {
	printf 'IN PLACE' >"$T/patch"
	printf 'IN PLACE' | dd of="$T/src.patch" bs=1 seek=$((FSZ + 5000)) conv=notrunc 2>/dev/null
	$CTL put -q -o $((FSZ + 5000)) "$T/patch" /size.patch &&
		$CTL get -q /size.patch "$T/back.patch" &&
		cmp "$T/src.patch" "$T/back.patch" && on_disk /size.patch 3
}
check "a write into the middle of a fragment patches it" patch_in_place

# ---- a flipped byte, read around and repaired --------------------------
ino=$(ino_of /size.$((5 * FSZ / 2)))
hex=$(printf '%016x' "$ino")
ver0=$($CTL frags /size.$((5 * FSZ / 2)) | awk '$1 == 0 {print $2}')
# the lowest-numbered holder is read first: corrupt that one
first=$(node_index "$($CTL frags /size.$((5 * FSZ / 2)) | awk '$1 == 0 {split($5, a, "@"); print a[1]}')")
victim=$(find "$T/d$first/frags" -name "$hex.0.$ver0")
flip "$victim" $((4096 + 1000))
read_around() {
	$CTL get -q /size.$((5 * FSZ / 2)) "$T/back.flip" 2>"$T/get.err" &&
		cmp "$T/src.$((5 * FSZ / 2))" "$T/back.flip"
}
check "a corrupt replica is read around" read_around
repaired() {
	on_disk /size.$((5 * FSZ / 2)) 3 &&
		! $CTL frags /size.$((5 * FSZ / 2)) | grep -q UNDER
}
check "the corrupt replica is replaced (3 identical copies within 20 s)" \
	eventually 20 repaired

# the scrub finds corruption nobody reads: fragment 1 of the 100 MiB file
big=/size.$((100 * 1024 * 1024))
ino=$(ino_of $big)
hex=$(printf '%016x' "$ino")
ver1=$($CTL frags $big | awk '$1 == 1 {print $2}')
node1=$(node_index "$($CTL frags $big | awk '$1 == 1 {split($5, a, "@"); print a[1]}')")
victim=$(find "$T/d$node1/frags" -name "$hex.1.$ver1")
flip "$victim" $((4096 + 5))
data_kill "$node1" TERM
data_start "$node1" --labels "rack=r$node1" --set scrub_rate=1G --set scrub_interval=500ms
scrubbed() { grep -q "corrupt" "$T/data$node1.log" && on_disk $big 3; }
check "the scrub finds a flipped byte and it is repaired (within 30 s)" \
	eventually 30 scrubbed

# ---- deleted and truncated files leave no replica files behind ---------
gone() { [ -z "$(replica_files "$1")" ]; }
ino=$(ino_of /size.$FSZ)
$CTL rm /size.$FSZ
check "a deleted file's replica files disappear from every node (10 s)" \
	eventually 10 gone "$ino"
ino=$(ino_of /size.$((FSZ + 1)))
before=$(replica_files "$ino" | wc -l)
: >"$T/empty"
$CTL put -q "$T/empty" /size.$((FSZ + 1))
check "a file truncated to 0 ($before replica files) leaves none (10 s)" \
	eventually 10 gone "$ino"
only_new() { # the older versions of a rewritten file are deleted
	local ino n
	ino=$(ino_of /size.patch)
	n=$(replica_files "$ino" | wc -l)
	[ "$n" = 9 ]
}
check "a rewritten file keeps only its committed versions (10 s)" \
	eventually 10 only_new

# ---- bad input to a data node ----------------------------------------
bad_input() {
	$BIN/tests/system/data_badinput "$(data_addr 1)" >"$T/bad.out" 2>&1
	local rv=$?
	sed 's/^/    /' "$T/bad.out"
	return $rv
}
check "a data node answers bad requests with clear errors" bad_input
check "... and keeps serving" roundtrip 12345

# ---- kept locations and read-ahead (client/fileio.h FIO_CACHED) ---------
fio_checks() {
	$BIN/tests/system/fio_check "$S" fio.check >"$T/fio.out" 2>&1
	local rv=$?
	sed 's/^/    /' "$T/fio.out"
	return $rv
}
check "reads by kept locations and read ahead never serve replaced bytes" \
	fio_checks

check "status reports no fragment under goal" eventually 10 sh -c \
	"$CTL status | grep -q '^under goal: *0'"

[ $fail = 0 ] || { $CTL status; show_logs; cat "$T/bad.out" 2>/dev/null; }
exit $fail
