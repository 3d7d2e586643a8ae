#!/bin/bash
# test_locks.sh - advisory locks across two cfs-fuse mounts of one cluster
# (3 cfs-meta, 4 cfs-data on loopback), as across two machines: flock(1)
# exclusive, shared, blocking, released at exit; fcntl byte ranges (disjoint,
# overlapping, F_GETLK, unlocking the middle) through python3; a SIGKILLed
# holder's lock goes with its close; the lock holds across a metadata
# leader change; a SIGKILLed cfs-fuse's lock goes when its session expires
# (the time is printed); blocked waiters hold no FUSE worker thread (16 of
# them on a 3-thread mount) and are answered when interrupted.
# libcfs's cfs_lock/cfs_flock: test_libcfs.sh.
. "$(dirname "$0")/lib.sh"

fuse_needed
command -v flock >/dev/null || { echo "no flock(1): skipped"; exit 77; }
command -v python3 >/dev/null || { echo "no python3: skipped"; exit 77; }

A=$T/a
B=$T/b
mkdir -p "$A" "$B"
unmount() { unmount_all "$A" "$B" "$T/c"; }
HOLDERS=""
# flock(1) runs its command as a child: kill that too, or a `sleep 3600`
# outlives the test (holding whatever output pipe the test had).
holder_kill() { # holder_kill PID [SIGNAL]
	pkill -"${2:-TERM}" -P "$1" 2>/dev/null
	kill -"${2:-TERM}" "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
trap 'for p in $HOLDERS; do holder_kill $p 9; done; unmount; cleanup' EXIT

data_cluster 3 4 || { show_logs; exit 1; }
mount_at() { # mount_at DIR NAME
	"$FUSE" --meta "$S" --log "$T/fuse-$2.log" "$1" && mountpoint -q "$1"
}
check "mount A" mount_at "$A" a
check "mount B" mount_at "$B" b
mountpoint -q "$A" && mountpoint -q "$B" || { show_logs; exit 1; }

# python3 fcntl: try/get one range, or hold ranges step by step
cat >"$T/lk.py" <<'PY'
import errno, fcntl, os, struct, sys, time
T = {"r": fcntl.F_RDLCK, "w": fcntl.F_WRLCK, "u": fcntl.F_UNLCK}
def fl(t, start, n):
    return struct.pack("hhqqixxxx", T[t], os.SEEK_SET, int(start), int(n), 0)
def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.05)
cmd, path = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR)
if cmd == "try":      # try TYPE START LEN: 0 granted, 42 conflict
    try:
        fcntl.fcntl(fd, fcntl.F_SETLK, fl(*sys.argv[3:6]))
    except OSError as e:
        sys.exit(42 if e.errno in (errno.EAGAIN, errno.EACCES) else 1)
elif cmd == "get":    # get TYPE START LEN: prints "type start len"
    r = fcntl.fcntl(fd, fcntl.F_GETLK, fl(*sys.argv[3:6]))
    t, w, s, n, p = struct.unpack("hhqqixxxx", r)
    print({0: "r", 1: "w", 2: "u"}[t], s, n)
elif cmd == "hold":   # hold DIR: [0,99] write; at DIR/go1 unlock [40,59]
    d = sys.argv[3]
    fcntl.fcntl(fd, fcntl.F_SETLK, fl("w", 0, 100))
    open(d + "/held1", "w").close()
    wait_for(d + "/go1")
    fcntl.fcntl(fd, fcntl.F_SETLK, fl("u", 40, 20))
    open(d + "/held2", "w").close()
    wait_for(d + "/go2")
elif cmd == "forever":  # forever MARKER: whole file, write, until killed
    fcntl.fcntl(fd, fcntl.F_SETLKW, fl("w", 0, 0))
    open(sys.argv[3], "w").close()
    time.sleep(3600)
PY
lk() { python3 "$T/lk.py" "$@"; }
wait_file() { # wait_file PATH: up to 20 s
	for _ in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.1; done
	echo "    $1 did not appear"; return 1
}
# Markers are $T/markN: $T/m1..m3 are the metadata servers' directories
# (lib.sh), which a marker of that name would find there already, so the
# test went on before the lock it waits for was taken.
# hold_flock MODE FILE MARKER: flock(1) holding FILE until killed
hold_flock() {
	rm -f "$3" # a stale marker would say "held" too early
	flock -o "$1" "$2" sh -c "touch '$3'; exec sleep 3600" &
	HOLDERS="$HOLDERS $!"
	HOLDER=$!
	wait_file "$3"
}
flock_rc() { flock -E 42 "$@" true; echo $?; }

echo data >"$A/f"

# ---- flock ------------------------------------------------------------------
hold_flock -x "$A/f" "$T/mark1"
check "flock -x on A: flock -n -x on B fails" [ "$(flock_rc -n -x "$B/f")" = 42 ]
check "flock -x on A: flock -n -s on B fails" [ "$(flock_rc -n -s "$B/f")" = 42 ]
check "flock -x on A: flock -n -x on A (another open file) fails" \
	[ "$(flock_rc -n -x "$A/f")" = 42 ]
# flock -w: SIGALRM interrupts the waiting request (FUSE INTERRUPT: EINTR)
t0=$(date +%s.%N)
flock -E 42 -w 1 -x "$B/f" true
rc=$?
t1=$(date +%s.%N)
wait_ms=$(awk "BEGIN { printf \"%d\", ($t1 - $t0) * 1000 }")
echo "    flock -w 1 on B gave up after ${wait_ms} ms (exit $rc)"
check "a blocked flock on B is interruptible (flock -w 1)" \
	sh -c "[ $rc != 0 ] && [ $wait_ms -lt 5000 ]"
holder_kill $HOLDER
check "the holder's exit released it: flock -n -x on B" \
	[ "$(flock_rc -n -x "$B/f")" = 0 ]
hold_flock -s "$A/f" "$T/mark2"
check "shared on A and shared on B" [ "$(flock_rc -n -s "$B/f")" = 0 ]
check "shared on A: exclusive on B fails" [ "$(flock_rc -n -x "$B/f")" = 42 ]
holder_kill $HOLDER
flock -o -x "$A/f" sh -c "touch '$T/mark3'; sleep 1" &
BG=$!
wait_file "$T/mark3"
t0=$(date +%s.%N)
flock -x "$B/f" true
rc=$?
t1=$(date +%s.%N)
kill -0 $BG 2>/dev/null && still=1 || still=0
wait $BG
wait_ms=$(awk "BEGIN { printf \"%d\", ($t1 - $t0) * 1000 }")
echo "    blocking flock on B waited ${wait_ms} ms for A's 1 s hold (exit $rc, A's hold still running: $still)"
check "a blocking flock on B proceeds once A releases" \
	sh -c "[ $rc = 0 ] && [ $still = 0 ] && [ $wait_ms -lt 3000 ]"
# flock_waiters N FILE: N blocked `flock -x FILE true` in the background,
# their pids added to WAITERS; waiters_done: waits for each of WAITERS
# and sets `waited` to how many got the lock and ended well (not in a
# $(...): a subshell cannot wait for this shell's children)
flock_waiters() {
	local i
	for i in $(seq "$1"); do
		timeout 30 flock -x "$2" true &
		WAITERS="$WAITERS $!"
	done
}
waiters_done() {
	local p
	waited=0
	for p in $WAITERS; do wait "$p" && waited=$((waited + 1)); done
}
# 16 blocked waiters (more than libfuse's default of 10 threads) must not
# stall the mount for others, nor keep the one that gets the lock from
# releasing it (when each waiter held a worker thread, with 10 threads
# both happened; `timeout` bounds the test if it comes back)
hold_flock -x "$A/f" "$T/mark4"
WAITERS=""
flock_waiters 16 "$B/f"
sleep 1
check "16 blocked flocks on B: B still answers (ls, stat, a write)" \
	timeout 10 sh -c "ls '$B' >/dev/null && stat '$B/f' >/dev/null &&
		echo x >'$B/other'"
holder_kill $HOLDER
waiters_done
check "... and all 16 got the lock once A released ($waited)" [ $waited = 16 ]
# Blocked waiters hold no worker thread at all (one thread per mount
# retries them, client/fusefs_lock.c): mount C with 3 worker threads and
# queue 12 blocked flocks and 4 blocked fcntl locks there; C must still
# answer; a waiter whose caller gives up (SIGALRM) is answered EINTR at
# once; all get the lock once A releases; C unmounts.  (With waiters
# holding threads, C stopped answering.)
C=$T/c
mkdir -p "$C"
check "mount C with -o max_threads=3" sh -c \
	"'$FUSE' --meta '$S' --log '$T/fuse-c.log' -o max_threads=3 '$C' &&
	 mountpoint -q '$C'"
hold_flock -x "$A/f" "$T/mark5"
WAITERS=""
flock_waiters 12 "$C/f"
for i in $(seq 4); do
	timeout 60 python3 -c '
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, fcntl.F_SETLKW, struct.pack("hhqqixxxx", fcntl.F_WRLCK,
                                            0, 0, 0, 0))' "$C/f" &
	WAITERS="$WAITERS $!"
done
sleep 1
check "16 blocked locks on a 3-thread mount: it still answers" \
	timeout -s KILL 10 sh -c "ls '$C' >/dev/null && stat '$C/f' >/dev/null &&
		echo y >'$C/other2' && [ \"\$(cat '$B/other2')\" = y ]"
t0=$(date +%s.%N)
flock -E 42 -w 1 -x "$C/f" true
rc=$?
t1=$(date +%s.%N)
w_ms=$(awk "BEGIN { printf \"%d\", ($t1 - $t0) * 1000 }")
check "a queued waiter that gives up after 1 s is answered ($w_ms ms)" \
	sh -c "[ $rc = 42 ] && [ $w_ms -lt 3000 ]"
holder_kill $HOLDER
waiters_done
check "... and all 16 queued waiters got the lock once A released" \
	[ $waited = 16 ]
pid_c=$(pgrep -f -- "--log $T/fuse-c.log" | head -1)
fusermount3 -u "$C"
for _ in $(seq 100); do kill -0 "$pid_c" 2>/dev/null || break; sleep 0.1; done
check "C unmounts and its cfs-fuse (and waiter thread) ends" \
	sh -c "! kill -0 $pid_c 2>/dev/null && ! mountpoint -q '$C'"

# ---- fcntl byte ranges ----------------------------------------------------------
python3 "$T/lk.py" hold "$A/f" "$T" &
HOLDERS="$HOLDERS $!"
H=$!
wait_file "$T/held1"
check "ranges: [100,199] on B beside A's [0,99]" lk try "$B/f" w 100 100
lk try "$B/f" w 50 11; rc=$?
check "ranges: overlapping write lock on B fails" [ $rc = 42 ]
lk try "$B/f" r 99 1; rc=$?
check "ranges: read lock under A's write lock fails" [ $rc = 42 ]
got=$(lk get "$B/f" w 0 0)
echo "    F_GETLK on B: $got"
check "F_GETLK on B reports A's range and type" [ "$got" = "w 0 100" ]
touch "$T/go1"
wait_file "$T/held2"
check "after A unlocks [40,59]: B locks [40,59]" lk try "$B/f" w 40 20
lk try "$B/f" w 39 2; rc=$?
check "... but not [39,40]" [ $rc = 42 ]
got=$(lk get "$B/f" r 50 100)
check "F_GETLK sees the upper piece [60,99] ($got)" [ "$got" = "w 60 40" ]
touch "$T/go2"
wait $H
check "A's exit released its ranges" lk try "$B/f" w 0 0

# a process SIGKILLed while holding a lock: the kernel closes its files
python3 "$T/lk.py" forever "$A/f" "$T/mark7" & # not through lk(): $! is python
HOLDERS="$HOLDERS $!"
H=$!
wait_file "$T/mark7" # a marker of its own: mark4 exists already
lk try "$B/f" w 0 1; rc=$?
check "SIGKILL holder: locked while it lives" [ $rc = 42 ]
kill -9 $H; wait $H 2>/dev/null
check "SIGKILL holder: its lock is gone" lk try "$B/f" w 0 1

# ---- the lock survives a metadata leader change ------------------------------
hold_flock -x "$A/f" "$T/mark5"
lead=$(leader_id)
meta_kill "$lead"
echo "    killed the metadata leader (server $lead)"
check "after the leader change B still cannot take A's lock" \
	[ "$(flock_rc -n -x "$B/f")" = 42 ]
holder_kill $HOLDER
check "A released: B takes it" [ "$(flock_rc -n -x "$B/f")" = 0 ]
meta_start "$lead"

# ---- cfs-fuse of A killed with its lock: it goes with the session ----------
hold_flock -x "$A/f" "$T/mark6"
fpid=$(pgrep -f -- "--log $T/fuse-a.log" | head -1)
kill -9 "$fpid"
t0=$(date +%s.%N)
holder_kill $HOLDER 9
umount -l "$A" 2>/dev/null
released=0
for _ in $(seq 400); do
	if [ "$(flock_rc -n -x "$B/f")" = 0 ]; then released=1; break; fi
	sleep 0.1
done
t1=$(date +%s.%N)
secs=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")
echo "    B got the lock ${secs} s after cfs-fuse of A was killed"
check "a killed cfs-fuse's lock is released after its session timeout" \
	[ $released = 1 ]

[ $fail = 0 ] || { show_logs; tail -n 20 "$T"/fuse-*.log; }
exit $fail
