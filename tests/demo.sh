#!/bin/bash
# demo.sh BUILDDIR - start a local 3-server metadata cluster from this build,
# use it, kill its leader, and show that it carries on.
# (Becomes `cfsctl dev up` with data nodes and a FUSE mount in a later step.)
set -eu
B=$(cd "${1:?usage: tests/demo.sh BUILDDIR}" && pwd)
META=$B/cfs-meta
CTL=$B/cfsctl
DIR=${CFS_DEMO_DIR:-/tmp/cfs-demo}

say() { printf '\n==> %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

[ -x "$META" ] || { echo "cfs-meta is not built in $B"; exit 1; }
pkill -f "cfs-meta .*--dir $DIR/" 2>/dev/null || true
rm -rf "$DIR"
mkdir -p "$DIR"

SPEC=""
for i in 1 2 3; do
	SPEC="$SPEC${SPEC:+,}$i=127.0.0.1:$((7100 + i))/127.0.0.1:$((7000 + i))"
done
export CFS_META=127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003

say "starting 3 metadata servers under $DIR (logs: $DIR/meta*.log)"
for i in 1 2 3; do
	"$META" --id $i --dir "$DIR/meta$i" --raft 127.0.0.1:$((7100 + i)) \
		--listen 127.0.0.1:$((7000 + i)) --init-cluster "$SPEC" \
		>"$DIR/meta$i.log" 2>&1 &
	echo $! >"$DIR/meta$i.pid"
	disown # the servers outlive the demo; no job-control noise on kill
done
for _ in $(seq 50); do
	"$CTL" -t 300 status >/dev/null 2>&1 && break
	sleep 0.2
done

say "formatting the filesystem"
run "$CTL" cluster bootstrap
say "using it"
run "$CTL" mkdir -p /home/alice/src
run "$CTL" touch /home/alice/src/main.c /home/alice/notes.txt
run "$CTL" mv /home/alice/notes.txt /home/alice/todo.txt
run "$CTL" ls -l /home/alice
run "$CTL" status

leader=$("$CTL" status | sed -n 's/^leader: *server \([0-9]*\).*/\1/p')
say "killing the leader (server $leader) with SIGKILL"
kill -9 "$(cat "$DIR/meta$leader.pid")"
start=$(date +%s%N)
run "$CTL" touch /home/alice/after-failover.txt
end=$(date +%s%N)
echo "(the first operation after the kill took $(((end - start) / 1000000)) ms, election included)"
run "$CTL" ls /home/alice
"$CTL" status || true

say "restarting server $leader: it catches up from the log"
"$META" --id "$leader" --dir "$DIR/meta$leader" \
	--raft 127.0.0.1:$((7100 + leader)) --listen 127.0.0.1:$((7000 + leader)) \
	>>"$DIR/meta$leader.log" 2>&1 &
echo $! >"$DIR/meta$leader.pid"
disown
sleep 1.5
run "$CTL" status

cat <<EOF

The cluster is still running.  Try:
  export CFS_META=$CFS_META
  $CTL --help
Stop it with:
  kill \$(cat $DIR/meta*.pid)
EOF
