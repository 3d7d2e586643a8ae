#!/bin/bash
# test_inplace.sh - patching in place (docs/data-path.md "Patching in
# place") across two cfs-fuse mounts (3 cfs-meta, 3 cfs-data, goal 3):
#  - A's small fsync'd writes to a file it wrote moments before patch the
#    open version in place (A's unmount log counts them); B reads every
#    byte at once (its access recalls A's lease, and A seals first), and
#    the three replicas end identical and committed (fsck clean);
#  - two threads of A writing one fragment at once, each fsync'ing: every
#    write succeeds (the second finds the first's open version) and B
#    reads all of them;
#  - A's fsync'd appends of a few bytes to 8 KiB, across a fragment
#    boundary, patch the open version and make it longer; B sees the new
#    size and every byte at once (its stat recalls A, which seals), and so
#    after A appended more, and so does a listing (cfsctl ls -l); B's stats
#    in a tight loop while A appends neither starve nor miss an append;
#  - a write stalled between the commit that opened the version and its
#    first patch, while another session of the mount writes the fragment
#    (inplace_race.c): both writes are in what is committed;
#  - a mount (E) stopped (SIGSTOP) after fsync'd appends until its session
#    expired, while B appends to the same file (the leader sealed E's
#    version, B reopens it): E, running again, stats and reads what B
#    wrote, not by the record of the version it held open under its lost
#    lease;
#  - a mount (C) killed with SIGKILL after fsync'd patches and appends:
#    once its session expired the leader surveys the nodes and seals, and
#    B reads every byte whose fsync returned, the appended ones with the
#    size they made (B's stat waits for that seal);
#  - a data node killed while A patches: the failed patch is surveyed and
#    sealed, the write goes on as a new version on the other nodes, and
#    every byte reads back;
#  - a mount (D) unmounted after every metadata server was killed, with
#    eight versions open: it gives up sealing after 5 s (its --timeout is
#    the default minute).
. "$(dirname "$0")/lib.sh"

fuse_needed
command -v python3 >/dev/null || { echo "no python3: skipped"; exit 77; }

A=$T/a
B=$T/b
C=$T/c
mkdir -p "$A" "$B" "$C"
E=$T/e
mkdir -p "$E"
unmount() { unmount_all "$A" "$B" "$C" "$T/d" "$E"; }
PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; unmount; cleanup' EXIT

FSZ=$((1024 * 1024))
BOOTSTRAP_ARGS="--fragment-size $FSZ"
data_cluster 3 3 || { show_logs; exit 1; }
mount_at() { # mount_at DIR NAME
	"$FUSE" --meta "$S" --log "$T/fuse-$2.log" "$1" && mountpoint -q "$1"
}
check "mount A" mount_at "$A" a
check "mount B" mount_at "$B" b
mountpoint -q "$A" && mountpoint -q "$B" || { show_logs; exit 1; }

# patch FILE COPY N SEED: N random 4 KiB writes inside FILE, each followed
# by fsync, the same bytes into the local COPY; prints "done" when all
# returned (a process killed meanwhile has COPY up to its last fsync)
patch() {
	python3 - "$@" <<'PY'
import os, random, sys
path, copy, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
fd = os.open(path, os.O_WRONLY)
cd = os.open(copy, os.O_WRONLY)
size = os.fstat(fd).st_size
for i in range(n):
    off = rnd.randrange(0, size - 4096) // 512 * 512
    data = rnd.randbytes(4096)
    os.pwrite(fd, data, off)
    os.fsync(fd)
    os.pwrite(cd, data, off)   # only once the fsync returned
    os.fsync(cd)
print("done", flush=True)
PY
}

# append FILE COPY N SEED: N appends of 1 byte to 8 KiB at FILE's end, each
# followed by fsync, the same bytes appended to the local COPY once the
# fsync returned; prints "done" when all returned
append() {
	python3 - "$@" <<'PY'
import os, random, sys
path, copy, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
cd = os.open(copy, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
for i in range(n):
    data = rnd.randbytes(rnd.choice([1, 100, 4096, 5000, 8192]))
    os.write(fd, data)
    os.fsync(fd)
    os.write(cd, data)
    os.fsync(cd)
print("done", flush=True)
PY
}

# ---- small fsync'd writes patch in place; the other mount reads them ----------
head -c $((2 * FSZ)) /dev/urandom >"$T/src1"
cp "$T/src1" "$A/f1"
cp "$T/src1" "$T/copy1"
check "100 fsync'd 4 KiB writes through A" \
	sh -c "$(declare -f patch); patch '$A/f1' '$T/copy1' 100 1 | grep -q done"
check "B reads every byte A wrote at once" cmp "$T/copy1" "$B/f1"
check "A still reads its own bytes" cmp "$T/copy1" "$A/f1"
check "the file is whole and at its goal (fsck)" $CTL fsck /f1

# ---- two threads of A write one fragment at once ---------------------------------
threads() {
	python3 - "$A/f4" "$T/copy4" <<'PY'
import os, sys, threading
path, copy = sys.argv[1], sys.argv[2]
size = 2 * 1024 * 1024
with open(path, 'wb') as f:
    f.write(os.urandom(size))
with open(path, 'rb') as f, open(copy, 'wb') as c:
    c.write(f.read())
errors = []
def run(k):
    # each thread its own 4 KiB slots of fragment 0: the final bytes are
    # known, whichever order the writes reach the nodes
    fd = os.open(path, os.O_WRONLY)
    cd = os.open(copy, os.O_WRONLY)
    try:
        for i in range(60):
            off = ((i * 7 + k) % 128) * 8192 + k * 4096
            data = os.urandom(4096)
            os.pwrite(fd, data, off)
            os.fsync(fd)
            os.pwrite(cd, data, off)
    except OSError as e:
        errors.append(e)
th = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
for t in th: t.start()
for t in th: t.join()
if errors:
    sys.exit('write failed: %s' % errors[0])
PY
}
check "two threads' fsync'd writes to one fragment all succeed" threads
check "... and B reads what they wrote" cmp "$T/copy4" "$B/f4"

# ---- fsync'd appends make the open version longer ---------------------------------
# 300 appends of 4.3 KiB on average: 1.3 MiB, across the 1 MiB fragment
: >"$T/copy6"
check "300 fsync'd appends through A" \
	sh -c "$(declare -f append); append '$A/f6' '$T/copy6' 300 6 | grep -q done"
# (a listing's sizes are getattr's: it recalls A, which seals)
ls_size() { $CTL ls -l / | awk -v f="$1" '$NF == f {print $5}'; }
check "a listing on another client gives their size at once (cfsctl ls -l)" \
	test "$(ls_size f6)" = "$(stat -c %s "$T/copy6")"
check "B sees their size at once" \
	test "$(stat -c %s "$B/f6")" = "$(stat -c %s "$T/copy6")"
check "... and reads every byte" cmp "$T/copy6" "$B/f6"
check "100 more through A" \
	sh -c "$(declare -f append); append '$A/f6' '$T/copy6' 100 7 | grep -q done"
check "B reads them too" cmp "$T/copy6" "$B/f6"
check "A reads its own appends" cmp "$T/copy6" "$A/f6"
check "the file is whole and at its goal (fsck)" $CTL fsck /f6
# B stats in a tight loop while A appends: each stat recalls A, and A
# then writes versions for a while rather than open the fragment again
# at once (that starved the stats: one took 25 s); every stat sees every
# append whose fsync returned before it began, B's and A's own (A's
# caches, A's readdirplus)
stat_race() {
	python3 - "$A/f8" "$B/f8" <<'PY'
import os, sys, threading, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
os.write(fd, b'x' * 4096)
os.fsync(fd)
done = [1]
stop = False
def writer():
    while not stop:
        os.write(fd, b'y' * 4096)
        os.fsync(fd)
        done[0] += 1
t = threading.Thread(target=writer)
t.start()
worst, stale, n = 0.0, 0, 0
t0 = time.time()
while time.time() - t0 < 5:
    before = done[0]
    a = time.time()
    size = os.stat(sys.argv[2]).st_size
    worst = max(worst, time.time() - a)
    stale += size < before * 4096
    # ... and so does the writer's own mount, through its caches and
    # readdirplus, while B's stats have it seal
    stale += os.stat(sys.argv[1]).st_size < before * 4096
    for e in os.scandir(os.path.dirname(sys.argv[1])):
        if e.name == 'f8':
            stale += e.stat().st_size < before * 4096
    n += 1
stop = True
t.join()
os.close(fd)
# every O_APPEND record where it belongs: an append placed at a size
# from before a seal (the server's, read just before the seal committed,
# with the mount's entry dropped just after) overwrote the last ones
lost = done[0] * 4096 - os.stat(sys.argv[1]).st_size
print("    (%d stats, the slowest %.0f ms; %d appends, %d bytes short; "
      "%d stale)" % (n, worst * 1000, done[0], lost, stale))
sys.exit(0 if stale == 0 and lost == 0 and worst < 3 and done[0] > 50
         else 1)
PY
}
check "B's stats in a loop neither starve nor miss A's appends" stat_race

# ---- a write stalled between its commit and its first patch ----------------------
# (inplace_race: two sessions of one mount; the first write's commit opens
# the committed version for patching, and the write stalls 0.4 s there
# before it patches; the second session writes the fragment meanwhile)
check "a write stalled after its commit opened the version loses nothing" \
	sh -c "'$BIN/tests/system/inplace_race' '$S' >'$T/race.out' 2>&1"
sed 's/^/    /' "$T/race.out"
check "... and its file is whole and at its goal (fsck)" \
	$CTL fsck "/$(awk '/^race\./ {print $1}' "$T/race.out")"

# ---- a mount frozen past its session ---------------------------------------------
check "mount E" mount_at "$E" e
: >"$T/copy9"
append "$E/f9" "$T/copy9" 20 9 >/dev/null
ino9=$(stat -c %i "$E/f9")
epid=$(pgrep -f -- "--log $T/fuse-e.log")
PIDS="$PIDS $epid" # (stopped, it would hang the unmount: killed first)
kill -STOP "$epid"
t0=$(date +%s)
# (names only: it neither recalls E nor waits for its session to end)
check "a short listing does not wait for the stopped writer (cfsctl ls)" \
	sh -c "timeout 5 $CTL ls / | grep -qx f9"
# (B waits until E's session expired: its access would recall E, and the
# recall, queued for E, would have E seal when it runs again)
e_lease_gone() { ! $CTL leases | awk -v i="$ino9" '$1 == i && $2 == "write"' | grep -q .; }
check "E's write lease ends with its session (30 s)" eventually 30 e_lease_gone
echo "    (after $(($(date +%s) - t0)) s)"
# (no lease, no recall: cfsctl waits for the leader's seal)
frag0_version() { $CTL frags "$1" | awk '$1 == 0 {print $2}'; }
v9=$(frag0_version /f9)
check "the leader sealed E's version" test -n "$v9"
check "B appends to E's file while E is stopped" \
	sh -c "$(declare -f append); append '$B/f9' '$T/copy9' 20 10 | grep -q done"
check "... to the very version E had open (B reopened it in place)" \
	test "$(frag0_version /f9)" = "$v9"
kill -CONT "$epid"
same_size() { test "$(stat -c %s "$1")" = "$(stat -c %s "$2")"; }
check "E, running again, gives the size B's appends made" \
	eventually 5 same_size "$E/f9" "$T/copy9"
check "... and reads every byte of them" cmp "$T/copy9" "$E/f9"
check "... and so does B" cmp "$T/copy9" "$B/f9"

# ---- a data node dies while A patches --------------------------------------------
head -c $((2 * FSZ)) /dev/urandom >"$T/src3"
cp "$T/src3" "$A/f3"
cp "$T/src3" "$T/copy3"
# (asked before A patches: cfsctl's access would recall A's lease, and A
# would seal what it holds open)
victim=$(node_index "$($CTL frags /f3 | awk '$1 == 0 {split($5, a, "@"); print a[1]}')")
patch "$A/f3" "$T/copy3" 20 3 >/dev/null
data_kill "$victim"
check "fsync'd writes go on after a node of the open version died" \
	sh -c "$(declare -f patch); patch '$A/f3' '$T/copy3' 20 4 | grep -q done"
check "B reads every byte" cmp "$T/copy3" "$B/f3"
data_start "$victim" --labels "rack=r$victim"
check "the node is back" nodes_alive 3

# ---- the patching mount is killed ----------------------------------------------
check "mount C" mount_at "$C" c
head -c $((2 * FSZ)) /dev/urandom >"$T/src2"
cp "$T/src2" "$C/f2"
cp "$T/src2" "$T/copy2"
patch "$C/f2" "$T/copy2" 50 2 >/dev/null
: >"$T/copy7"
append "$C/f7" "$T/copy7" 100 8 >/dev/null
kill -9 "$(pgrep -f -- "--log $T/fuse-c.log")"
umount -l "$C" 2>/dev/null
t0=$(date +%s)
# (one stat, no retry: it waits, its lookup refused until the leader's
# seal says where the file ends)
check "B's stat gives the size the dead mount's fsync'd appends made" \
	test "$(stat -c %s "$B/f7")" = "$(stat -c %s "$T/copy7")"
echo "    (after $(($(date +%s) - t0)) s)"
check "... and B reads every byte of them" cmp "$T/copy7" "$B/f7"
check "B reads every fsync'd byte of the patches too (60 s)" \
	eventually 60 cmp "$T/copy2" "$B/f2"
echo "    (the leader sealed and B read after $(($(date +%s) - t0)) s)"
check "the leader logged the seal" grep -q "seal" "$T"/meta*.log
t0=$(date +%s)
check "the files are whole and at their goal (fsck, 30 s)" \
	eventually 30 $CTL fsck /
echo "    (whole after $(($(date +%s) - t0)) s)"

# ---- the counts -------------------------------------------------------------------
apid=$(pgrep -f -- "--log $T/fuse-a.log")
unmount
# the counts are logged once the daemon is done, after the unmount returned
for p in "$apid" "$epid"; do
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
check "A patched in place (its log counts the patches)" \
	grep -Eq "patching in place: [1-9][0-9]* versions opened, [1-9][0-9]* patches" \
	"$T/fuse-a.log"
check "... appends among them (its log counts them)" \
	grep -Eq "patches \([1-9][0-9]* appends\)" "$T/fuse-a.log"
check "... and sealed after the failed patch, from a survey of the nodes" \
	grep -Eq "seals \([1-9][0-9]* after a failed patch\)" "$T/fuse-a.log"
check "E appended in place before it was stopped (its log counts them)" \
	grep -Eq "patches \([1-9][0-9]* appends\)" "$T/fuse-e.log"
grep "patching in place" "$T"/fuse-*.log | sed 's/^/    /'

# ---- an unmount after the metadata servers stopped -----------------------------
# D holds versions of eight fragments open; with no server to answer, one
# seal waits out the unmount's 5 s (not --timeout, 60 s by default) and
# the rest are left to the leader: the daemon ends in seconds, not one
# timeout per version, nor one minute.
D=$T/d
mkdir -p "$D"
"$FUSE" --meta "$S" --log "$T/fuse-d.log" "$D" && mountpoint -q "$D" ||
	{ check "mount D" false; show_logs; exit 1; }
head -c $((8 * FSZ)) /dev/urandom >"$T/src5"
cp "$T/src5" "$D/f5"
cp "$T/src5" "$T/copy5"
patch "$D/f5" "$T/copy5" 80 5 >/dev/null
dpid=$(pgrep -f -- "--log $T/fuse-d.log")
cluster_stop KILL
t0=$(date +%s)
fusermount3 -u "$D" 2>/dev/null || umount -l "$D"
for _ in $(seq 300); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
check "the daemon ended within 15 s of the unmount" \
	sh -c "! kill -0 $dpid 2>/dev/null"
echo "    (it ended after $(($(date +%s) - t0)) s)"
check "... and said it left the other open versions to the leader" \
	grep -q "more versions open for patching in place not sealed" \
	"$T/fuse-d.log"
kill -9 "$dpid" 2>/dev/null

[ $fail = 0 ] || { show_logs; tail -n 20 "$T"/fuse-*.log; }
exit $fail
