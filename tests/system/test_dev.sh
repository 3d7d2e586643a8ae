#!/bin/bash
# test_dev.sh - `cfsctl dev up` starts a whole local cluster (3 cfs-meta, 4
# cfs-data, a cfs-fuse mount) that outlives the command; a file written
# through the mount has 3 replicas; `dev down` unmounts and stops exactly
# that cluster and keeps its data for the next `dev up`; `--wipe` removes
# it; a running DIR, a port in use, an empty DIR are handled with a message.
. "$(dirname "$0")/lib.sh"

fuse_needed

DEV="$BIN/cfsctl dev"
D=$T/dev   # the cluster's directory
M=$T/mnt   # its mount point
D2=$T/dev2 # a second one, for the refusals
# a dev cluster spans ports BASE+1 .. BASE+204: above the ones of lib.sh
# (20000-59999) and the usual ephemeral range, one slot per PID
BASE=$((61000 + ($$ % 21) * 210))
S="127.0.0.1:$((BASE + 1)),127.0.0.1:$((BASE + 2)),127.0.0.1:$((BASE + 3))"
CTL="$BIN/cfsctl -s $S"

dev_cleanup() { # whatever a failed check left running
	local d
	for d in "$D" "$D2"; do
		[ -d "$d" ] && $DEV down --dir "$d" >/dev/null 2>&1
	done
	unmount_all "$M"
}
trap 'dev_cleanup; cleanup' EXIT

# up NAME ARGS...: `dev up ARGS`, output in $T/NAME.out (shown on failure)
up() {
	local name=$1
	shift
	$DEV up "$@" >"$T/$name.out" 2>&1
	local rv=$?
	[ $rv = 0 ] || sed 's/^/    /' "$T/$name.out"
	return $rv
}
# no process of a cfs program names DIR/ on its command line any more
none_left() {
	! pgrep -f "cfs-(meta|data|fuse) .*$1/" >/dev/null ||
		{ pgrep -af "cfs-(meta|data|fuse) .*$1/"; false; }
}
unmounted() { ! mountpoint -q "$M" && ! grep -q " $M " /proc/mounts; }
three_replicas() { # every fragment of $1 on 3 nodes
	$CTL frags "$1" >"$T/frags.out" || { cat "$T/frags.out"; return 1; }
	sed 's/^/    /' "$T/frags.out"
	awk '/^  [0-9]/ { n++; if (gsub("@", "@") != 3) bad++ }
	     END { exit !(n > 0 && bad == 0) }' "$T/frags.out"
}

# ---- nothing to stop ---------------------------------------------------------
mkdir -p "$T/empty"
check "dev down on an empty dir exits 0 and says so" \
	sh -c "$DEV down --dir '$T/empty' | grep -q 'nothing'"
check "dev down on a missing dir exits 0 and says so" \
	sh -c "$DEV down --dir '$T/missing' | grep -q 'nothing'"

# ---- up from a clean directory -------------------------------------------------
head -c $((3 * 1024 * 1024 + 12345)) /dev/urandom >"$T/file"
check "dev up --mount from a clean directory" \
	up up1 --dir "$D" --mount "$M" --port $BASE --fragment-size 1M
[ -f "$D/meta1.pid" ] || { cat "$T/up1.out"; show_logs; exit 1; }
sed 's/^/    /' "$T/up1.out"
check "it says what is up and how to use it" \
	grep -q "^cluster up: 3 metadata servers, 4 data nodes, mounted at $M\$" \
	"$T/up1.out"
check "DIR/cluster.env exports CFS_META" \
	grep -qx "export CFS_META=$S" "$D/cluster.env"
check "the mount is up" mountpoint -q "$M"
check "the daemons run in sessions of their own (they outlive the shell)" \
	sh -c "[ \"\$(ps -o sid= -p \$(cat '$D/meta1.pid') | tr -d ' ')\" = \
		\"\$(cat '$D/meta1.pid')\" ]"
check "a file written through the mount reads back" \
	sh -c "cp '$T/file' '$M/file' && cmp '$T/file' '$M/file'"
check "cfsctl frags shows 3 replicas of each fragment" three_replicas /file
all_running() {
	$DEV status --dir "$D" >"$T/status.out"
	local rv=$?
	sed 's/^/    /' "$T/status.out"
	return $rv
}
check "dev status: everything running" all_running

# ---- refusals ---------------------------------------------------------------------
refused() { # refused WANT ARGS...: dev up fails (1) with a message
	local want=$1
	shift
	$DEV up "$@" >"$T/refused.out" 2>&1
	local rv=$?
	sed 's/^/    /' "$T/refused.out"
	[ $rv = 1 ] && grep -q "$want" "$T/refused.out"
}
check "dev up on a running DIR fails with a message" \
	refused "already runs" --dir "$D" --mount "$M"
check "dev up with a port in use fails with a message" \
	refused "in use" --dir "$D2" --port $BASE
check "... and leaves no directory of its own" sh -c "[ ! -e '$D2/meta1' ]"
check "the running cluster was not disturbed" \
	sh -c "mountpoint -q '$M' && cmp '$T/file' '$M/file'"

# ---- a failing start is undone ---------------------------------------------------
failed_start() { # data node 2 cannot create its directory
	mkdir -p "$D2" && touch "$D2/data2" || return 1
	$DEV up --dir "$D2" --port $((BASE + 5)) >"$T/failed.out" 2>&1
	local rv=$?
	sed 's/^/    /' "$T/failed.out"
	[ $rv = 1 ] && grep -q "FAILED" "$T/failed.out" &&
		grep -q "last lines of $D2/data2.log" "$T/failed.out" &&
		grep -q "Not a directory" "$T/failed.out" &&
		! ls "$D2"/*.pid 2>/dev/null && none_left "$D2"
}
check "a failed dev up stops what it started and shows the failing log" \
	failed_start
rm -rf "$D2"
lonely() { # cfsctl without the daemons next to it or in PATH
	mkdir -p "$T/lonely" && cp "$BIN/cfsctl" "$T/lonely/" &&
		! PATH=/usr/bin:/bin "$T/lonely/cfsctl" dev up --dir "$D2" \
			--port $((BASE + 5)) 2>"$T/lonely.out" &&
		sed 's/^/    /' "$T/lonely.out" &&
		grep -q "cannot find cfs-meta" "$T/lonely.out" && [ ! -e "$D2" ]
}
if head -c 4 "$BIN/cfsctl" | grep -q ELF && [ ! -x /usr/local/sbin/cfs-meta ] &&
	! PATH=/usr/bin:/bin command -v cfs-meta >/dev/null; then
	check "without the programs: a clear error" lonely
fi

# ---- down, up again: the data is kept ------------------------------------------------
check "dev down" sh -c "$DEV down --dir '$D' >'$T/down.out' 2>&1 ||
	{ cat '$T/down.out'; false; }"
sed 's/^/    /' "$T/down.out"
check "no cfs-* process of DIR is left" none_left "$D"
check "the mount is gone" unmounted
check "the pid files are gone" sh -c "! ls '$D'/*.pid 2>/dev/null"
check "the data is kept" sh -c "[ -d '$D/meta1' ] && [ -d '$D/data1' ]"
check "dev status: nothing running (exit 1)" sh -c "! $DEV status --dir '$D' >/dev/null"
check "dev down again: nothing was running, exit 0" \
	sh -c "$DEV down --dir '$D' | grep -q 'nothing'"
check "dev up again on the same DIR" up up2 --dir "$D" --mount "$M"
check "... says the filesystem was formatted before" \
	grep -q "already formatted" "$T/up2.out"
check "the file reads back through the mount" cmp "$T/file" "$M/file"
check "and with cfsctl get" \
	sh -c "$CTL get -q /file '$T/got' && cmp '$T/file' '$T/got'"
check "dev down --wipe removes DIR" \
	sh -c "$DEV down --wipe --dir '$D' >/dev/null && [ ! -e '$D' ]"
check "... and no process of it is left" none_left "$D"
check "... and it is unmounted" unmounted

# ---- twice in a row from a clean directory ---------------------------------------------
round() {
	up "round$1" --dir "$D" --mount "$M" --port $BASE &&
		echo "round $1" >"$M/hello" &&
		[ "$(cat "$M/hello")" = "round $1" ] &&
		$DEV down --wipe --dir "$D" >/dev/null && [ ! -e "$D" ] &&
		none_left "$D" && unmounted
}
check "up, write, down --wipe from a clean directory (1)" round 1
check "up, write, down --wipe from a clean directory (2)" round 2

# ---- the smallest cluster: 1 metadata server, 1 data node, no mount ----------------------
small() {
	up small --dir "$D" --port $BASE --meta 1 --data 1 || return 1
	grep -q "^cluster up: 1 metadata server, 1 data node\$" "$T/small.out" &&
		"$BIN/cfsctl" -s "127.0.0.1:$((BASE + 1))" put -q "$T/file" /f &&
		"$BIN/cfsctl" -s "127.0.0.1:$((BASE + 1))" frags /f >/dev/null &&
		$DEV down --wipe --dir "$D" >/dev/null && none_left "$D"
}
check "dev up --meta 1 --data 1 (goal 1), put, frags, down --wipe" small

[ $fail = 0 ] || for f in "$D"/*.log; do
	[ -f "$f" ] && { echo "----- $f"; tail -n 20 "$f"; }
done
exit $fail
