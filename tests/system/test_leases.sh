#!/bin/bash
# test_leases.sh - leases and cache coherence (docs/leases.md) across two
# cfs-fuse mounts of one cluster (3 cfs-meta, 4 cfs-data on loopback), as
# across two machines, never sleeping for a cache to time out: A writes and
# closes, B reads the new bytes at once; B caches, A rewrites, B's next read
# is fresh (and the same through a file B keeps open, also when B's reads go
# by fragment locations it kept and A rewrites, patches, truncates); A's
# create in a directory B listed shows in B's listing and stat at once;
# B's chmod is
# seen by A's stat at once; concurrent writers end with one writer's data
# per write, never stale cache; `cfsctl leases` (text and --json); a lease
# survives the metadata leader's kill -9 and the other mount still sees
# fresh data; a mount stopped (SIGSTOP) with data buffered under its write
# lease past its session's expiry cannot write it over what the other
# mount wrote meanwhile (fencing: its close fails with EIO); a mount
# SIGKILLed while holding a write lease loses it when its session expires
# and the other mount proceeds (the time is printed);
# a lease holder that never answers recalls (lease_probe --deaf) holds a
# change off until it is killed and its session expires; after
# drop_caches, lookups B's name cache answers still show every change, B's
# own and A's; B's O_DIRECT reads answered by its data cache are as fresh.
. "$(dirname "$0")/lib.sh"

fuse_needed
PROBE=$BIN/tests/system/lease_probe
command -v python3 >/dev/null || { echo "no python3: skipped"; exit 77; }

A=$T/a
B=$T/b
mkdir -p "$A" "$B"
unmount() { unmount_all "$A" "$B"; }
PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; unmount; cleanup' EXIT

data_cluster 3 4 || { show_logs; exit 1; }
mount_at() { # mount_at DIR NAME
	"$FUSE" --meta "$S" --log "$T/fuse-$2.log" "$1" && mountpoint -q "$1"
}
check "mount A" mount_at "$A" a
check "mount B" mount_at "$B" b
mountpoint -q "$A" && mountpoint -q "$B" || { show_logs; exit 1; }
ms() { date +%s%3N; }

# ---- A writes and closes, B reads at once ------------------------------------
printf 'one' >"$A/f"
check "B reads A's new file at once" [ "$(cat "$B/f")" = one ]
printf 'two, longer' >"$A/f"
check "B's cached copy is fresh after A rewrote it" \
	[ "$(cat "$B/f")" = "two, longer" ]
for i in $(seq 20); do
	printf 'round %d' "$i" >"$A/f"
	[ "$(cat "$B/f")" = "round $i" ] || break
done
check "20 rounds of A writes, B reads: always the newest" \
	[ "$(cat "$B/f")" = "round 20" ]
check "... and the other way round" \
	sh -c "printf back >'$B/f' && [ \"\$(cat '$A/f')\" = back ]"

# a file B keeps open: each read after A's write returned sees it
python3 - "$A/g" "$B/g" <<'PY'
import os, sys
a, b = sys.argv[1], sys.argv[2]
with open(a, "w") as f:
    f.write("x" * 100)
fd = os.open(b, os.O_RDONLY)
bad = 0
for i in range(30):
    want = ("%02d" % i) * 50
    with open(a, "r+") as f:   # A's write returns at its close
        f.write(want)
    got = os.pread(fd, 100, 0).decode()
    if got != want:
        print("    round %d: B read %r, wanted %r" % (i, got[:8], want[:8]))
        bad += 1
sys.exit(1 if bad else 0)
PY
check "a file B keeps open reads A's every write at once" [ $? = 0 ]

# kept fragment locations (docs/leases.md "Reads"): B reads a file of three
# fragments (1 MiB each here) and keeps it open, so its reads go by the
# fragment versions it located once; A rewrites it (whole: every fragment a
# new version; a patch: one), truncates it and writes past the old end.
# The replaced versions stay on the nodes until garbage collection (about
# a second), so a B that did not forget its locations at the recall would
# read them: each read of B right after A's close must see A's bytes.
kept_locations() { # kept_locations FILE-NAME [direct]
python3 - "$A/$1" "$B/$1" "${2:-}" <<'PY'
import os, sys
a, b = sys.argv[1], sys.argv[2]
direct = os.O_DIRECT if sys.argv[3] == "direct" else 0
MB = 1 << 20
def fill(n, seed):
    unit = bytes((seed * 31 + j) & 0xff for j in range(4096))
    return (unit * (n // 4096 + 1))[:n]
model = bytearray(fill(3 * MB, 0))
with open(a, "wb") as f:
    f.write(model)
fd = os.open(b, os.O_RDONLY | direct)
bad = 0
def b_reads(what):
    global bad
    for off in (0, 5000, MB - 100, MB + 4096, 2 * MB + 12345, len(model) - 10):
        if off >= len(model):
            continue
        got = os.pread(fd, 4096, off)
        want = bytes(model[off:off + 4096])
        if got != want:
            print("    %s: B read %d bytes at %d, not A's" % (what, len(got), off))
            bad += 1
            return
b_reads("first read")
for r in range(1, 4):
    model[:] = fill(3 * MB, r)
    with open(a, "r+b") as f:          # whole: new versions of all three
        f.write(model)
    b_reads("round %d, whole rewrite" % r)
    patch = fill(10000, 100 + r)
    model[MB + 777:MB + 777 + len(patch)] = patch
    with open(a, "r+b") as f:          # a patch of the second fragment
        f.seek(MB + 777)
        f.write(patch)
    b_reads("round %d, patch" % r)
os.truncate(a, 2 * MB + 5)             # cut the third fragment
del model[2 * MB + 5:]
b_reads("after a truncate")
tail = fill(MB, 9)
with open(a, "r+b") as f:              # past the old end again
    f.seek(2 * MB + 5)
    f.write(tail)
model += tail
b_reads("after a write past the cut")
os.close(fd)
sys.exit(1 if bad else 0)
PY
}
kept_locations k
check "kept fragment locations: B's open file reads A's rewrites at once" \
	[ $? = 0 ]
# The same with O_DIRECT: no kernel page cache, so every read of B is
# answered by cfs-fuse, from its data cache (client/bcache.h) when it holds
# the bytes of the version B's kept locations name.
kept_locations kd direct
check "... and with O_DIRECT, through B's data cache" [ $? = 0 ]
python3 - "$B/kd" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
first = [os.pread(fd, 4096, off) for off in range(0, 1 << 20, 65536)]
sys.exit(0 if first == [os.pread(fd, 4096, off)
                        for off in range(0, 1 << 20, 65536)] else 1)
PY
check "B's O_DIRECT rereads read the same bytes" [ $? = 0 ]

# attributes: sizes and modes
truncate -s 12345 "$A/f"
check "B sees A's truncate at once" [ "$(stat -c %s "$B/f")" = 12345 ]
chmod 600 "$B/f"
check "A sees B's chmod at once" [ "$(stat -c %a "$A/f")" = 600 ]

# ---- directory entries (B caches names of what it holds leases on) ---------------
mkdir "$A/d"
ls "$B/d" >/dev/null
stat "$B/d/new" >/dev/null 2>&1 # a negative entry, were names cached
touch "$A/d/new"
check "B's listing shows A's new file at once" \
	sh -c "ls '$B/d' | grep -qx new"
check "B's stat finds it at once" stat "$B/d/new" >/dev/null
mv "$A/d/new" "$A/d/renamed"
check "B sees A's rename at once" \
	sh -c "[ ! -e '$B/d/new' ] && [ -e '$B/d/renamed' ]"
rm "$A/d/renamed"
check "B sees A's unlink at once" [ ! -e "$B/d/renamed" ]
# names B keeps (it holds leases on what they name: a file it read, the
# directories of the path), changed by A
printf held >"$A/d/held"
mkdir -p "$A/d/sub/deeper"
cat "$B/d/held" >/dev/null
stat "$B/d/sub/deeper" >/dev/null
mv "$A/d/held" "$A/d/moved"
check "B's cached name of a file A renamed is gone at once" \
	sh -c "[ ! -e '$B/d/held' ] && [ \"\$(cat '$B/d/moved')\" = held ]"
mv "$A/d/sub" "$A/d/sub2"
check "B's cached path through a directory A renamed is gone at once" \
	sh -c "[ ! -e '$B/d/sub/deeper' ] && [ -d '$B/d/sub2/deeper' ]"
rm "$A/d/moved"
check "B's cached name of a file A removed is gone at once" \
	[ ! -e "$B/d/moved" ]

# ---- names the kernel forgot, answered by B's own cache (client/dcache.h) ----------
# drop_caches makes the kernel forget names and inodes; B's next lookups are
# answered by cfs-fuse from its name cache while it holds a lease on the
# inode.  Every change, B's own or A's, must still show.
forget() { sync; echo 2 >/proc/sys/vm/drop_caches; }
mkdir "$B/n"
printf one >"$B/n/x"           # B's create: a write lease with it
stat "$B/n/x" >/dev/null
forget
check "after drop_caches B's stat is right (from its name cache)" \
	[ "$(stat -c %s "$B/n/x")" = 3 ]
printf ' two' >>"$B/n/x"       # B's own write-out at close
forget
check "B's own write: its size after drop_caches" \
	[ "$(stat -c %s "$B/n/x")" = 7 ]
chmod 640 "$B/n/x"
forget
check "B's own chmod: the mode after drop_caches" \
	[ "$(stat -c %a "$B/n/x")" = 640 ]
touch "$B/n/p"
stat "$B/n/p" >/dev/null
mv "$B/n/p" "$B/n/q"
forget
check "B's own rename: the old name is gone after drop_caches" \
	sh -c "[ ! -e '$B/n/p' ] && [ -e '$B/n/q' ]"
ln "$B/n/q" "$B/n/q2"
forget
check "B's own link: nlink after drop_caches" \
	[ "$(stat -c %h "$B/n/q")" = 2 ]
rm "$B/n/q2"
forget
check "B's own unlink: the name is gone, nlink back to 1" \
	sh -c "[ ! -e '$B/n/q2' ] && [ \"\$(stat -c %h '$B/n/q')\" = 1 ]"
cat "$B/n/x" >/dev/null
forget
chmod 600 "$A/n/x"             # recalls B's lease
check "A's chmod: B's mode after drop_caches" \
	[ "$(stat -c %a "$B/n/x")" = 600 ]
cat "$B/n/x" >/dev/null        # B's lease again
stat "$B/n/x" >/dev/null
printf other >"$A/n/y"
forget
mv "$A/n/y" "$A/n/x"           # replaces what B's cached name led to
check "A's rename over B's cached name: B reads A's file" \
	[ "$(cat "$B/n/x")" = other ]
cat "$B/n/x" >/dev/null
forget
printf longer-now >"$A/n/x"    # A's write recalls B's lease
check "A's write: B's size after drop_caches" \
	[ "$(stat -c %s "$B/n/x")" = 10 ]
cat "$B/n/x" >/dev/null
forget
rm "$A/n/x"
check "A's unlink: B's cached name is gone" [ ! -e "$B/n/x" ]

# B's own creates in its directory: the directory's attributes B works out
# from the replies (getattr answered by B) are the metadata service's
mkdir "$B/n3"
python3 -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY))' "$B/n3/f"
mkdir "$B/n3/s1"
mkdir "$B/n3/s2"
# same_view NAME...: B's and A's link count, mtime and ctime of the
# directories agree (A asks the service: it holds no lease on them)
same_view() {
	local n b="" a=""
	for n in "$@"; do
		b="$b $(stat -c '%h %y %z' "$B/$n")"
		a="$a $(stat -c '%h %y %z' "$A/$n")"
	done
	[ "$b" = "$a" ] || { echo "    B:$b"; echo "    A:$a"; return 1; }
}
check "B's creates: B's view of the directory is the service's" same_view n3
# ... and after its unlink and rmdir there (worked out from the replies'
# times, docs/wire-format.md "ok")
sleep 0.01
rm "$B/n3/f"
check "B's unlink: B's view of the directory is the service's" same_view n3
sleep 0.01
rmdir "$B/n3/s1"
check "B's rmdir: B's view of the directory is the service's" same_view n3
mkdir "$B/n5"
: >"$B/n3/g"
sleep 0.01
mv "$B/n3/g" "$B/n5/g"
check "B's rename across its directories: B's view of both is the service's" \
	same_view n3 n5
sleep 0.01
mv "$B/n5/g" "$B/n5/h"
check "B's rename in a directory: B's view of it is the service's" \
	same_view n5
# a file B removes while it has it open is renamed to a hidden name and
# removed at its close: the directory's times move then too
mkdir "$B/n4"
: >"$B/n4/f"
exec 7>"$B/n4/f"
rm "$B/n4/f"
stat "$B/n4" >/dev/null
exec 7>&-
sleep 0.5 # the release that removes the hidden name is asynchronous
check "B's unlink of an open file: B's view of the directory is the service's" \
	same_view n4
# B removes the second link of a file it holds a lease on (a name its
# cache never held: the kernel knew it from the link)
mkdir "$A/hl"
: >"$B/hl/x"
ln "$B/hl/x" "$B/hl/y"
stat "$B/hl/x" >/dev/null
rm "$B/hl/y"
check "B's unlink of a second link: nlink back to 1" \
	[ "$(stat -c %h "$B/hl/x")" = 1 ]
# absent names of a directory B made and holds a lease on are answered by B
mkdir "$B/m"
touch "$B/m/a"
forget
check "B: a name absent from its own new directory is absent" \
	[ ! -e "$B/m/zzz" ]
touch "$A/m/zzz"               # recalls B's lease on m
check "A's create in it: B finds the name" [ -e "$B/m/zzz" ]
mkdir "$B/m2"
# (": >" creates without the setattr of touch: a name whose cached
# attributes went stale, when removed, makes B forget all it cached)
: >"$B/m2/moved"               # cached: the rename below replaces it
: >"$B/m/src"
ln -s a "$B/m2/sym"
ln "$B/m/a" "$B/m2/hard"
mknod "$B/m2/fifo" p
mv "$B/m/src" "$B/m2/moved"
forget
check "B's own symlink, link, rename and fifo in its new directory are found" \
	sh -c "[ -L '$B/m2/sym' ] && [ -e '$B/m2/hard' ] &&
		[ -e '$B/m2/moved' ] && [ -p '$B/m2/fifo' ]"
mkdir "$B/m3"
forget
ls "$A/m3" >/dev/null
mv "$A/m2/moved" "$A/m3/in"    # recalls B's lease on m3
check "A's rename into B's directory: B finds the name" [ -e "$B/m3/in" ]

# ---- cfsctl leases -----------------------------------------------------------------
cat "$B/f" >/dev/null
out=$($CTL leases)
echo "$out" | sed 's/^/    /' | head -8
check "cfsctl leases lists holders" \
	sh -c "echo '$out' | grep -Eq '^[0-9]+ +(read|write) +[0-9a-f]{16} '"
check "cfsctl --json leases" \
	sh -c "$CTL --json leases | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"count\"] == len(d[\"leases\"]) > 0; assert d[\"leases\"][0][\"type\"] in (\"read\", \"write\")'"

# ---- concurrent writers: each write lands whole, never stale cache -------------------
python3 - "$A/c" "$B/c" <<'PY'
import os, sys, threading
paths = sys.argv[1:3]
with open(paths[0], "w") as f:
    f.write("." * 4096)
N, SZ = 40, 4096
errors = []
def writer(k):
    try:
        for i in range(N):
            with open(paths[k], "r+") as f:
                f.write(chr(ord("a") + k) * SZ)
    except OSError as e:
        errors.append("writer %d: %s" % (k, e))
ts = [threading.Thread(target=writer, args=(k,)) for k in (0, 1)]
[t.start() for t in ts]
[t.join() for t in ts]
ok = not errors
for e in errors:
    print("    " + e)
for p in paths:
    data = open(p).read()
    if data not in ("a" * SZ, "b" * SZ):
        print("    %s: mixed: %r" % (p, sorted(set(data))))
        ok = False
if open(paths[0]).read() != open(paths[1]).read():
    print("    A and B disagree")
    ok = False
sys.exit(0 if ok else 1)
PY
check "concurrent writers: one writer's data, the same on both mounts" [ $? = 0 ]

# ---- the metadata leader killed while A holds a write lease ------------------------
exec 7>>"$A/f" # A holds the file open for writing: a write lease
printf 'before failover' >"$A/f"
cat "$B/f" >/dev/null
lead=$(leader_id)
meta_kill "$lead"
wait_leader
$CTL leases | grep -q . # the table survived (listed by the new leader)
printf 'after failover' >"$A/f"
check "after the leader's kill -9: B reads A's newest write at once" \
	[ "$(cat "$B/f")" = "after failover" ]
exec 7>&-
meta_start "$lead"

# ---- a holder that never answers recalls ---------------------------------------------
printf 'deaf' >"$A/h"
"$PROBE" "$S" /h w --deaf >"$T/probe.out" 2>&1 &
P=$!
PIDS="$PIDS $P"
for _ in $(seq 50); do grep -q held "$T/probe.out" && break; sleep 0.1; done
t0=$(ms)
timeout 3 sh -c "printf x >>'$A/h'"; rc=$?
check "a change waits while a deaf holder's session lives (rc $rc)" \
	[ $rc = 124 ]
kill -9 $P
wait $P 2>/dev/null
t0=$(ms)
printf 'after deaf' >"$A/h"
t1=$(ms)
echo "    A's write went through $(( (t1 - t0) / 100 ))00 ms after the deaf holder was killed"
check "... and goes through once its session expired" \
	[ "$(cat "$B/h")" = "after deaf" ]

# ---- fencing: cfs-fuse of A stopped with data buffered under its write lease -------
# A's session expires while it is stopped; B takes the file over and
# writes.  When A runs again, what it buffered under the lost lease must
# not land over B's write: its close fails (EIO) and B's data stays
# (DESIGN.md §4; docs/leases.md "Fencing").
printf 'base' >"$A/s"
cat "$B/s" >/dev/null
python3 - "$A/s" "$T/s.go" >"$T/s.out" 2>&1 <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
os.write(fd, b"AAAA")
print("written", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
try:
    os.close(fd)
    print("closed ok")
except OSError as e:
    print("close failed: %s" % e.strerror)
PY
W=$!
PIDS="$PIDS $W"
for _ in $(seq 100); do grep -q written "$T/s.out" && break; sleep 0.1; done
fpid=$(pgrep -f -- "--log $T/fuse-a.log" | head -1)
kill -STOP "$fpid"
t0=$(ms)
printf 'BBBB' >"$B/s"
t1=$(ms)
echo "    B's write went through $(( (t1 - t0) / 100 ))00 ms after A was stopped"
kill -CONT "$fpid"
touch "$T/s.go"
wait $W
echo "    A's process: $(tr '\n' ' ' <"$T/s.out")"
check "A's close of data buffered under its lost lease fails" \
	grep -q "close failed: Input/output error" "$T/s.out"
check "... and B's write stays (B reads it)" [ "$(cat "$B/s")" = BBBB ]
check "... and A reads it too" [ "$(cat "$A/s")" = BBBB ]
check "A's log says why" grep -q "no longer holds" "$T/fuse-a.log"

# ---- cfs-fuse of A SIGKILLed while it holds a write lease --------------------------
printf 'dirty' >"$A/k"
cat "$B/k" >/dev/null
exec 8>>"$A/k"
printf 'buffered, never closed' >&8 # A's write lease, unflushed data
fpid=$(pgrep -f -- "--log $T/fuse-a.log" | head -1)
kill -9 "$fpid"
t0=$(ms)
umount -l "$A" 2>/dev/null
exec 8>&-
printf 'B after A died' >"$B/k"
t1=$(ms)
secs=$(awk "BEGIN { printf \"%.1f\", ($t1 - $t0) / 1000 }")
echo "    B's write went through ${secs} s after cfs-fuse of A was killed"
check "B proceeds once the killed mount's session expired" \
	[ "$(cat "$B/k")" = "B after A died" ]
check "... after at most the session lease and a margin" \
	awk "BEGIN { exit !($secs <= 13) }"

# B's unmount logs how many lookups its name cache answered: the
# drop_caches checks above must have used it
bpid=$(pgrep -f -- "--log $T/fuse-b.log" | head -1)
fusermount3 -u "$B"
for _ in $(seq 100); do kill -0 "$bpid" 2>/dev/null || break; sleep 0.1; done
hits=$(sed -n 's/.*name cache: \([0-9]*\) lookups answered here.*/\1/p' \
	"$T/fuse-b.log" | tail -1)
echo "    B's name cache answered ${hits:-no} lookups"
check "B's name cache answered lookups" [ "${hits:-0}" -gt 0 ]
dhits=$(sed -n 's/.*data cache: \([0-9]*\) block reads answered here.*/\1/p' \
	"$T/fuse-b.log" | tail -1)
echo "    B's data cache answered ${dhits:-no} block reads"
check "B's data cache answered reads" [ "${dhits:-0}" -gt 0 ]

[ $fail = 0 ] || { show_logs; tail -n 30 "$T"/fuse-*.log; }
exit $fail
