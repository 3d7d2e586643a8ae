#!/bin/bash
# test_creates.sh - creates answered before they commit, under the write
# lease of a directory the mount made (docs/leases.md "Creates under a
# directory lease", client/acreate.h), across two cfs-fuse mounts of one
# cluster (3 cfs-meta, 4 cfs-data on loopback):
#  - A makes a directory and 500 files in it; B lists it right after and
#    finds all 500 (B's look recalls A's lease, whose release waits for
#    A's creates to commit), and A's and B's stat of the directory and of
#    every file agree: inode, owner, group, mode, size, mtime, ctime;
#  - what A does right after its creates (write, rename, chmod, unlink,
#    a subdirectory) lands in order: B sees the outcome;
#  - a setgid directory's group, as the metadata service gives it;
#  - the metadata leader killed (SIGKILL) while A creates: every create
#    A's application saw succeed is there;
#  - A's mount killed (SIGKILL) right after an fsync of the directory:
#    every file created before the fsync is there;
#  - A's log counts the creates it answered ahead (so the checks above
#    ran the path they mean to), none failed; with --creates-ahead 0,
#    none.
. "$(dirname "$0")/lib.sh"

fuse_needed
command -v python3 >/dev/null || { echo "no python3: skipped"; exit 77; }

A=$T/a
B=$T/b
mkdir -p "$A" "$B"
unmount() { unmount_all "$A" "$B"; }
trap 'unmount; cleanup' EXIT

data_cluster 3 4 || { show_logs; exit 1; }
mount_at() { # mount_at DIR NAME [cfs-fuse options]
	local dir=$1 name=$2
	shift 2
	"$FUSE" --meta "$S" --log "$T/fuse-$name.log" "$@" "$dir" &&
		mountpoint -q "$dir"
}
check "mount A" mount_at "$A" a
check "mount B" mount_at "$B" b
mountpoint -q "$A" && mountpoint -q "$B" || { show_logs; exit 1; }

# unmount_wait DIR NAME: unmount the mount logging to fuse-NAME.log and
# wait for its daemon to end (it logs its counts last; under the
# sanitizers, right after a leader's kill, that took over 10 s once)
unmount_wait() {
	local pid t0
	pid=$(pgrep -f -- "--log $T/fuse-$2.log")
	t0=$(date +%s%N)
	unmount_all "$1"
	for _ in $(seq 600); do
		if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "mount $2 ended $((($(date +%s%N) - t0) / 1000000)) ms after its unmount"
			return 0
		fi
		sleep 0.1
	done
	echo "mount $2 still running 60 s after its unmount:"
	tail -20 "$T/fuse-$2.log"
}

# create DIR N [PREFIX]: N files made with open(O_CREAT|O_EXCL) and close
create() {
	python3 - "$1" "$2" "${3:-f}" <<'PY'
import os, sys
d, n, p = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    os.close(os.open(f"{d}/{p}{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640))
PY
}
# view DIR: the directory's and every entry's attributes, one per line
view() {
	python3 - "$1" <<'PY'
import os, sys
d = sys.argv[1]
def line(name, st):
    return (f"{name} {st.st_ino} {st.st_uid} {st.st_gid} {st.st_mode:o} "
            f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_nlink}")
print(line(".", os.stat(d)))
for n in sorted(os.listdir(d)):
    print(line(n, os.stat(f"{d}/{n}")))
PY
}

# ---- B sees every create of A at once, as A does ---------------------------------
mkdir "$A/d1"
create "$A/d1" 500
check "B lists all 500 files A just created" \
	[ "$(ls "$B/d1" | wc -l)" = 500 ]
view "$B/d1" >"$T/view-b"
view "$A/d1" >"$T/view-a"
check "A's and B's stat of the directory and its files agree" \
	cmp "$T/view-a" "$T/view-b"
[ "$fail" = 0 ] || diff "$T/view-a" "$T/view-b" | head -5

# ---- what follows a create waits for it ------------------------------------------
mkdir "$A/d2"
python3 - "$A/d2" <<'PY'
import os, sys
d = sys.argv[1]
for i in range(40):
    fd = os.open(f"{d}/g{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.write(fd, f"data {i}\n".encode())
    os.close(fd)
    os.rename(f"{d}/g{i}", f"{d}/h{i}")
    os.chmod(f"{d}/h{i}", 0o600)
    if i % 4 == 0:
        os.unlink(f"{d}/h{i}")
os.mkdir(f"{d}/sub")
os.close(os.open(f"{d}/sub/x", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
PY
check "B finds A's renames and unlinks right after the creates" \
	[ "$(ls "$B/d2" | grep -c '^h')" = 30 ] && ! ls "$B/d2" | grep -q '^g'
check "B reads what A wrote to files it had just created" \
	[ "$(cat "$B/d2/h7")" = "data 7" ] && [ "$(cat "$B/d2/h39")" = "data 39" ]
check "B sees A's chmod of a file just created" \
	[ "$(stat -c %a "$B/d2/h5")" = 600 ]
check "B sees a file A created in a subdirectory it had just made" \
	[ -f "$B/d2/sub/x" ]

# ---- the group of a setgid directory -----------------------------------------------
mkdir "$A/d3"
chown :4321 "$A/d3"
chmod 2775 "$A/d3"
create "$A/d3" 5
check "a file created in a setgid directory takes its group (A)" \
	[ "$(stat -c %g "$A/d3/f4")" = 4321 ]
check "... and B sees the same" [ "$(stat -c %g "$B/d3/f4")" = 4321 ]

# ---- A's creates survive the metadata leader's SIGKILL ---------------------------
mkdir "$A/d4"
L=$(leader_id)
python3 - "$A/d4" "$(cat "$T/meta$L.pid")" >"$T/d4.out" <<'PY'
import os, signal, sys
d, pid = sys.argv[1], int(sys.argv[2])
made = 0
for i in range(400):
    if i == 150:
        os.kill(pid, signal.SIGKILL)
    try:
        os.close(os.open(f"{d}/f{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        made += 1
    except OSError as e:
        print(f"f{i}: {e}", file=sys.stderr)
print(made)
PY
wait "$(cat "$T/meta$L.pid")" 2>/dev/null
rm -f "$T/meta$L.pid"
check "A's creates went on through the leader's kill" \
	[ "$(cat "$T/d4.out")" = 400 ]
check "B lists every one of them under the new leader" \
	[ "$(ls "$B/d4" | wc -l)" = 400 ]
meta_start "$L"
metas_up 3 >/dev/null

# ---- A's log: the creates above were answered ahead, none failed ---------------------
unmount_wait "$A" a
ahead=$(sed -n 's/.*creates answered before they were sent: \([0-9]*\), \([0-9]*\) committed, 0 failed.*/\1 \2/p' "$T/fuse-a.log")
echo "A's log: ${ahead:-nothing} (answered, committed)"
[ -n "$ahead" ] || tail -20 "$T/fuse-a.log"
check "A answered its creates ahead and every one committed" \
	sh -c "[ -n '$ahead' ] && [ \$(echo $ahead | cut -d' ' -f1) -ge 900 ] &&
		[ \$(echo $ahead | cut -d' ' -f1) = \$(echo $ahead | cut -d' ' -f2) ]"

# ---- with --creates-ahead 0: none --------------------------------------------------
check "mount A with --creates-ahead 0" mount_at "$A" a0 --creates-ahead 0
mkdir "$A/d5"
create "$A/d5" 20
check "B lists them" [ "$(ls "$B/d5" | wc -l)" = 20 ]
unmount_wait "$A" a0
check "... and none was answered ahead" \
	sh -c "grep -q 'name cache:' '$T/fuse-a0.log' &&
		! grep -q 'creates answered before' '$T/fuse-a0.log'"

# ---- an fsync of the directory, then the mount killed: all there -------------------------
check "mount A again" mount_at "$A" a2
mkdir "$A/d6"
FUSE_A=$(pgrep -f -- "--log $T/fuse-a2.log")
python3 - "$A/d6" "$FUSE_A" <<'PY'
import os, signal, sys
d, pid = sys.argv[1], int(sys.argv[2])
for i in range(300):
    os.close(os.open(f"{d}/f{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
os.fsync(fd)
os.kill(pid, signal.SIGKILL)
PY
# B's look waits for A's lease to go with its session (10 s)
check "every file created before the fsync survived the mount's kill" \
	[ "$(ls "$B/d6" | wc -l)" = 300 ]
fusermount3 -u "$A" 2>/dev/null || umount -l "$A" 2>/dev/null

[ "$fail" = 0 ] || show_logs
exit $fail
