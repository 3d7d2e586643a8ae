#!/bin/bash
# test_fuse.sh - cfs-fuse over 3 cfs-meta and 4 cfs-data on loopback: the
# usual tools (mkdir, cp, dd, ln, chmod, truncate, mv, rm, find, tar) work
# through the mount and read back byte-identical; a sparse 2 GiB file stays
# small; xattrs round-trip; what the mount wrote is what `cfsctl get` reads;
# fsync'd small writes patch in place and survive truncations in between,
# an appender's too; fsync'd large writes open their next versions ahead;
# a mount with no metadata cluster, no mount point or a bad option fails
# fast and clearly.
. "$(dirname "$0")/lib.sh"

fuse_needed
SRC=$(cd "$(dirname "$0")/../.." && pwd) # a source tree to copy around

FSZ=$((1024 * 1024))
BOOTSTRAP_ARGS="--fragment-size $FSZ"
M=$T/mnt
L=$T/local # local twins of what goes into the mount
mkdir -p "$M" "$L"

unmount() { unmount_all "$M"; }
trap 'unmount; cleanup' EXIT

data_cluster 3 4 || { show_logs; exit 1; }

# ---- startup errors ----------------------------------------------------
fails_fast() { # fails_fast WANT_MESSAGE ARGS...: non-zero, message, < 15 s
	local want=$1 start rv
	shift
	start=$(date +%s)
	timeout 30 "$FUSE" "$@" >"$T/err.out" 2>&1
	rv=$?
	sed 's/^/    /' "$T/err.out"
	[ $rv != 0 ] && [ $rv != 124 ] &&
		[ $(($(date +%s) - start)) -lt 15 ] &&
		grep -q "$want" "$T/err.out"
}
mkdir -p "$T/unused"
check "an unreachable metadata cluster fails within 15 s, with a message" \
	fails_fast "cannot reach the metadata cluster" \
	--meta 127.0.0.1:1 "$T/unused"
check "a missing mount point fails with a message" \
	fails_fast "No such file or directory" --meta "$S" "$T/nonexistent"
check "a data cache size that is not one fails with a message" \
	fails_fast "not a size" --meta "$S" --data-cache 12Q "$T/unused"

mounted() {
	"$FUSE" --meta "$S" --log "$T/fuse.log" "$M" || return 1
	mountpoint -q "$M"
}
check "cfs-fuse mounts" mounted
mountpoint -q "$M" || { show_logs; exit 1; }
check "a busy mount point fails with a message" \
	fails_fast "busy" --meta "$S" "$M"
check "the mount is fsname cfs, type fuse.cfs" \
	sh -c "grep -qF 'cfs\\043$S $M fuse.cfs ' /proc/mounts"

# ---- namespace and small files ------------------------------------------
check "mkdir -p" sh -c "mkdir -p '$M/a/b/c' && [ -d '$M/a/b/c' ]"
check "echo > file, cat" \
	sh -c "echo hello >'$M/a/hello' && [ \"\$(cat '$M/a/hello')\" = hello ]"
appended() {
	printf 'one\n' >>"$M/a/log" && printf 'two\n' >>"$M/a/log" &&
		[ "$(cat "$M/a/log")" = "$(printf 'one\ntwo')" ]
}
check "O_APPEND writes go at the end" appended

# ---- big files -------------------------------------------------------------
head -c $((30 * 1024 * 1024)) /dev/urandom >"$L/r30"
check "cp of a 30 MiB random file, cmp" \
	sh -c "cp '$L/r30' '$M/a/r30' && cmp '$L/r30' '$M/a/r30'"
dd_cmp() {
	dd if=/dev/urandom of="$L/dd20" bs=1M count=20 2>/dev/null &&
		dd if="$L/dd20" of="$M/a/dd20" bs=1M count=20 2>/dev/null &&
		cmp "$L/dd20" "$M/a/dd20" &&
		[ "$(stat -c %s "$M/a/dd20")" = $((20 * 1024 * 1024)) ]
}
check "dd bs=1M count=20, cmp" dd_cmp
via_cfsctl() {
	$CTL get -q /a/r30 "$T/got" && cmp "$L/r30" "$T/got" &&
		[ "$(ino_of /a/r30)" = "$(stat -c %i "$M/a/r30")" ]
}
check "a file written through the mount reads back with cfsctl get" \
	via_cfsctl
rewrite_middle() {
	cp "$L/r30" "$L/r30b" &&
		printf 'PATCH' | dd of="$L/r30b" bs=1 seek=5000000 conv=notrunc 2>/dev/null &&
		printf 'PATCH' | dd of="$M/a/r30" bs=1 seek=5000000 conv=notrunc 2>/dev/null &&
		cmp "$L/r30b" "$M/a/r30"
}
check "a write into the middle of a file" rewrite_middle

# ---- links, modes, owners ---------------------------------------------------
hard_link() {
	ln "$M/a/hello" "$M/a/hello2" &&
		[ "$(stat -c %i "$M/a/hello")" = "$(stat -c %i "$M/a/hello2")" ] &&
		[ "$(stat -c %h "$M/a/hello")" = 2 ] &&
		[ "$(cat "$M/a/hello2")" = hello ]
}
check "ln: one inode, two links" hard_link
sym_link() {
	ln -s hello "$M/a/sym" && [ "$(readlink "$M/a/sym")" = hello ] &&
		[ "$(cat "$M/a/sym")" = hello ] && [ -L "$M/a/sym" ]
}
check "ln -s and readlink" sym_link
modes() {
	chmod 640 "$M/a/hello" && chown 1234:4321 "$M/a/hello" &&
		[ "$(stat -c '%a %u %g' "$M/a/hello")" = "640 1234 4321" ]
}
check "chmod and chown (stat -c)" modes
times_set() {
	touch -d '2001-02-03 04:05:06' "$M/a/hello" &&
		[ "$(stat -c %Y "$M/a/hello")" = "$(date -d '2001-02-03 04:05:06' +%s)" ]
}
check "touch -d sets mtime" times_set

# ---- truncate -----------------------------------------------------------------
truncates() {
	cp "$L/r30" "$L/t" && cp "$L/r30" "$M/a/t" || return 1
	local s
	for s in 40M 5000000 6000000 0 1234567 $((3 * FSZ)); do
		truncate -s "$s" "$L/t" && truncate -s "$s" "$M/a/t" &&
			cmp "$L/t" "$M/a/t" || { echo "    after truncate -s $s"; return 1; }
	done
}
check "truncate -s grows and shrinks like a local twin" truncates

# Small fsync'd writes to the same fragments: each commit opens the next
# version ahead (docs/data-path.md step 4), and a truncation in between must
# make that version's base stale rather than bring the cut bytes back.
patches() {
	python3 - "$M/a/p" "$L/p" "$FSZ" <<'PY' || return 1
import os, random, sys
size = 3 * int(sys.argv[3]) + 1234
data = os.urandom(size)
fds = []
for p in sys.argv[1:3]:
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.pwrite(fd, data, 0)
    os.fsync(fd)
    fds.append(fd)
fsz = int(sys.argv[3])
def both(op, *args):
    for fd in fds:
        op(fd, *args)
        if op is os.pwrite:
            os.fsync(fd)
# fragment 1 patched (its commit opens the next version ahead), cut in
# its middle, patched again (by that version, whose base is now shorter),
# then grown back: what the cut removed must read as zeros
both(os.pwrite, b'x' * 4096, fsz + 100)
both(os.ftruncate, fsz + fsz // 2)
both(os.pwrite, b'y', fsz + 10)
both(os.ftruncate, size)
if open(sys.argv[1], 'rb').read() != open(sys.argv[2], 'rb').read():
    sys.exit('    after a cut, a patch and a growth: the files differ')
r = random.Random(7)
for i in range(300):
    if i % 40 == 39:
        size = max(2 * fsz, r.randrange(size * 3 // 4, size + 8192))
        for fd in fds:
            os.ftruncate(fd, size)
        continue
    off = r.randrange(0, size)
    b = os.urandom(r.choice([1, 512, 4096]))
    for fd in fds:
        os.pwrite(fd, b, off)
        os.fsync(fd)
for fd in fds:
    os.close(fd)
PY
	cmp "$L/p" "$M/a/p" && $CTL get -q /a/p "$T/p.back" &&
		cmp "$L/p" "$T/p.back" && rm "$M/a/p"
}
check "fsync'd small writes and truncations match a local twin (also as cfsctl get reads them)" \
	patches
# An appender's fsync'd writes each make the fragment longer: appends in
# place (docs/data-path.md "Patching in place")
appends() {
	python3 - "$M/a/log" "$L/log" <<'PY' || return 1
import os, sys
fds = [os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
       for p in sys.argv[1:3]]
for i in range(60):
    for fd in fds:
        os.write(fd, b'%07d\n' % i * 512)
        os.fsync(fd)
PY
	cmp "$L/log" "$M/a/log"
}
check "an appender's fsync'd writes match a local twin" appends
# Large fsync'd writes inside a fragment (more than a patch in place takes):
# versions, each opened ahead by the commit before (docs/data-path.md step 4)
big_writes() {
	python3 - "$M/a/big" "$L/big" "$FSZ" <<'PY' || return 1
import os, random, sys
fsz = int(sys.argv[3])
r = random.Random(9)
data = os.urandom(fsz)
fds = [os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
       for p in sys.argv[1:3]]
for fd in fds:
    os.pwrite(fd, data, 0)
    os.fsync(fd)
for i in range(40):
    off = r.randrange(0, fsz - 300000)
    b = os.urandom(300000)
    for fd in fds:
        os.pwrite(fd, b, off)
        os.fsync(fd)
PY
	cmp "$L/big" "$M/a/big" && rm "$M/a/big"
}
check "large fsync'd writes into one fragment match a local twin" big_writes

# ---- rename, remove, find -------------------------------------------------------
moves() {
	mv "$M/a/dd20" "$M/a/b/moved" && [ ! -e "$M/a/dd20" ] &&
		cmp "$L/dd20" "$M/a/b/moved" &&
		mv "$M/a/b" "$M/b2" && [ -d "$M/b2/c" ] && [ ! -e "$M/a/b" ] &&
		cmp "$L/dd20" "$M/b2/moved"
}
check "mv of a file and of a directory" moves
# ., a, a/{hello,hello2,sym,log,r30,t}, b2, b2/c, b2/moved
check "find | wc -l" sh -c "[ \"\$(find '$M' | wc -l)\" = 11 ] ||
	{ find '$M'; false; }"
removes() { rm -r "$M/b2" && [ ! -e "$M/b2" ] && [ -z "$($CTL ls / | grep b2)" ]; }
check "rm -r" removes

# ---- a source tree through tar -----------------------------------------------------
tar_trip() {
	mkdir -p "$M/src" "$T/back" &&
		tar -C "$SRC" -cf - common meta >"$T/src.tar" &&
		mkdir -p "$T/orig" && tar -C "$T/orig" -xf "$T/src.tar" &&
		tar -C "$M/src" -xf "$T/src.tar" &&
		tar -C "$M/src" -cf - common meta | tar -C "$T/back" -xf - &&
		diff -r "$T/orig" "$T/back"
}
check "tar into the mount and back out: diff -r is empty" tar_trip

# ---- many small files ----------------------------------------------------------------
many() {
	mkdir "$M/many" || return 1
	for i in $(seq 1000); do echo "file $i" >"$M/many/f$i" || return 1; done
	[ "$(ls "$M/many" | wc -l)" = 1000 ] &&
		[ "$(ls -l "$M/many" | grep -c '^-')" = 1000 ] &&
		[ "$(cat "$M/many/f777")" = "file 777" ]
}
check "1000 small files created and listed" many

# ---- a sparse file above 1 GiB ---------------------------------------------------------
sparse() {
	local g=$((1024 * 1024 * 1024))
	head -c $FSZ /dev/urandom >"$L/one"
	truncate -s 2G "$M/sparse" &&
		dd if="$L/one" of="$M/sparse" bs=1M seek=1536 conv=notrunc 2>/dev/null &&
		[ "$(stat -c %s "$M/sparse")" = $((2 * g)) ] &&
		dd if="$M/sparse" bs=1M skip=1536 count=1 2>/dev/null | cmp - "$L/one" &&
		# zeros on either side of it, at the start and at the end
		for at in 0 1000 1535 1537 2047; do
			dd if="$M/sparse" bs=1M skip=$at count=1 2>/dev/null |
				cmp - <(head -c $FSZ /dev/zero) ||
				{ echo "    MiB $at is not zeros"; return 1; }
		done &&
		[ "$(du -k "$M/sparse" | cut -f1)" -lt 10240 ] ||
		{ du -k "$M/sparse"; return 1; }
}
check "a 2 GiB sparse file: 1 MiB at 1.5 GiB reads back, the rest zeros, du small" sparse

# ---- extended attributes ------------------------------------------------------------------
xattrs() {
	local f=$M/a/hello
	if command -v setfattr >/dev/null && command -v getfattr >/dev/null; then
		setfattr -n user.color -v blue "$f" &&
			[ "$(getfattr --only-values -n user.color "$f")" = blue ] &&
			getfattr -d "$f" | grep -q 'user.color="blue"' &&
			setfattr -x user.color "$f" &&
			! getfattr -n user.color "$f" 2>/dev/null
	else
		python3 - "$f" <<'EOF'
import errno, os, sys
f = sys.argv[1]
os.setxattr(f, "user.color", b"blue")
assert os.getxattr(f, "user.color") == b"blue"
assert "user.color" in os.listxattr(f)
try:
    os.setxattr(f, "user.color", b"red", os.XATTR_CREATE)
    sys.exit("XATTR_CREATE replaced an existing attribute")
except OSError as e:
    assert e.errno == errno.EEXIST, e
os.removexattr(f, "user.color")
try:
    os.getxattr(f, "user.color")
    sys.exit("removed attribute still there")
except OSError as e:
    assert e.errno == errno.ENODATA, e
EOF
	fi
}
check "xattrs: set, get, list, remove" xattrs

unlinked_open() { # a file removed while open stays readable until closed
	python3 - "$M/a" <<'EOF'
import os, sys
d = sys.argv[1]
fd = os.open(d + "/tmp", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"x" * 100000)
os.unlink(d + "/tmp")
assert "tmp" not in os.listdir(d)
os.write(fd, b"y")
assert os.pread(fd, 200000, 0) == b"x" * 100000 + b"y"
os.close(fd)
# The hidden name goes at RELEASE, which the kernel sends after close()
# returned (asynchronously), as NFS's .nfs files linger: wait for it.
import time
for _ in range(100):
    if not [n for n in os.listdir(d) if n.startswith(".cfs-fuse-hidden")]:
        break
    time.sleep(0.05)
else:
    sys.exit("the hidden name is still there 5 s after the last close")
EOF
}
check "a file unlinked while open stays usable until closed" unlinked_open

# ---- errors reach the application ----------------------------------------------------------
errors() {
	! mkdir "$M/a" 2>/dev/null && ! rmdir "$M/a" 2>/dev/null &&
		! cat "$M/nothing" 2>/dev/null &&
		[ "$(touch "$M/a/hello/x" 2>&1 | grep -c 'Not a directory')" = 1 ]
}
check "EEXIST, ENOTEMPTY, ENOENT, ENOTDIR reach the application" errors

check "df shows the mount" sh -c "df '$M' | grep -q '^cfs#'"
# (fileio's own warnings are retries that worked: not counted)
check "no request failed unexpectedly (cfs-fuse log)" \
	sh -c "! grep -E ' (WARN|ERROR) [^ ]*client/fuse' '$T/fuse.log'"
check "fusermount3 -u unmounts" sh -c "fusermount3 -u '$M' && ! mountpoint -q '$M'"
# (the patches above: most of their writes patched in place the version
# an earlier write of theirs committed open, docs/data-path.md "Patching
# in place"; a truncation in between seals it, and the write after it
# makes a version again)
# (cfs-fuse logs it as it exits, after the unmount returned; other
# mounts above logged theirs to the same file)
in_place() {
	local patches
	patches=$(sed -n 's/.*patching in place: [0-9]* versions opened, \([0-9]*\) patches.*/\1/p' \
		"$T/fuse.log" | sort -n | tail -1)
	[ "${patches:-0}" -ge 100 ]
}
check "small fsync'd writes patched their fragments in place" \
	eventually 10 in_place
appended_in_place() {
	local appends
	appends=$(sed -n 's/.*patches (\([0-9]*\) appends).*/\1/p' \
		"$T/fuse.log" | sort -n | tail -1)
	[ "${appends:-0}" -ge 50 ]
}
check "the appender's writes patched in place, making the fragment longer" \
	eventually 10 appended_in_place
opened_ahead() {
	local used
	used=$(sed -n 's/.*versions opened ahead: [0-9]* by commits, \([0-9]*\) used.*/\1/p' \
		"$T/fuse.log" | sort -n | tail -1)
	[ "${used:-0}" -ge 30 ]
}
check "the large writes used versions opened ahead by the commit before" \
	eventually 10 opened_ahead
remount() { # as mount(8) runs it: SOURCE (the addresses) MOUNTPOINT -o ...
	"$FUSE" "$S" "$M" -o sessions=2 --log "$T/fuse.log" &&
		cmp "$L/r30b" "$M/a/r30" && [ "$(cat "$M/many/f1000")" = "file 1000" ] &&
		fusermount3 -u "$M"
}
check "mounted again (SOURCE MOUNTPOINT form), the files are still there" remount

[ $fail = 0 ] || { show_logs; tail -n 30 "$T/fuse.log"; }
exit $fail
