#!/bin/bash
# demo.sh BUILDDIR - start a local cluster from this build (3 metadata
# servers, 4 data nodes), store a file, kill a data node and the metadata
# leader, and show that the file still reads and its copies heal.
# (Becomes `cfsctl dev up` with a FUSE mount in a later step.)
set -eu
B=$(cd "${1:?usage: tests/demo.sh BUILDDIR}" && pwd)
META=$B/cfs-meta
DATA=$B/cfs-data
CTL=$B/cfsctl
DIR=${CFS_DEMO_DIR:-/tmp/cfs-demo}

say() { printf '\n==> %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

[ -x "$META" ] || { echo "cfs-meta is not built in $B"; exit 1; }
pkill -f "cfs-(meta|data) .*--dir $DIR/" 2>/dev/null || true
rm -rf "$DIR"
mkdir -p "$DIR"

SPEC=""
for i in 1 2 3; do
	SPEC="$SPEC${SPEC:+,}$i=127.0.0.1:$((7100 + i))/127.0.0.1:$((7000 + i))"
done
data_start() {
	"$DATA" --dir "$DIR/data$1" --listen 127.0.0.1:$((7200 + $1)) \
		--meta "$CFS_META" --labels rack=r$1 >>"$DIR/data$1.log" 2>&1 &
	echo $! >"$DIR/data$1.pid"
	disown
}
export CFS_META=127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003

say "starting 3 metadata servers under $DIR (logs: $DIR/meta*.log)"
for i in 1 2 3; do
	"$META" --id $i --dir "$DIR/meta$i" --raft 127.0.0.1:$((7100 + i)) \
		--listen 127.0.0.1:$((7000 + i)) --init-cluster "$SPEC" \
		--set node_dead_after=5s >"$DIR/meta$i.log" 2>&1 &
	echo $! >"$DIR/meta$i.pid"
	disown # the servers outlive the demo; no job-control noise on kill
done
for _ in $(seq 50); do
	"$CTL" -t 300 status >/dev/null 2>&1 && break
	sleep 0.2
done

say "formatting the filesystem"
run "$CTL" cluster bootstrap
say "starting 4 data nodes (logs: $DIR/data*.log)"
for i in 1 2 3 4; do data_start $i; done
for _ in $(seq 50); do
	[ "$("$CTL" node list 2>/dev/null | grep -c ' alive ')" = 4 ] && break
	sleep 0.2
done
say "using it"
run "$CTL" mkdir -p /home/alice/src
run "$CTL" touch /home/alice/src/main.c /home/alice/notes.txt
run "$CTL" mv /home/alice/notes.txt /home/alice/todo.txt
run "$CTL" ls -l /home/alice
head -c 10000000 /dev/urandom >"$DIR/photo.raw"
run "$CTL" put -q "$DIR/photo.raw" /home/alice/photo.raw
run "$CTL" frags /home/alice/photo.raw
run "$CTL" status

victim=$("$CTL" frags /home/alice/photo.raw | awk '$1 == 0 {split($5, a, "@"); print a[2]}' | sed 's/.*://')
vi=$((victim - 7200))
say "killing data node $vi (port $victim) with SIGKILL"
kill -9 "$(cat "$DIR/data$vi.pid")"
run "$CTL" get -q /home/alice/photo.raw "$DIR/photo.back"
run cmp "$DIR/photo.raw" "$DIR/photo.back"
echo "(identical: read from the surviving copies)"
say "waiting for the copies to heal (node_dead_after is 5 s here)"
for _ in $(seq 60); do
	"$CTL" status 2>/dev/null | grep -q '^under goal: *0' &&
		"$CTL" node list | grep -q ' DEAD ' && break
	sleep 1
done
run "$CTL" frags /home/alice/photo.raw

leader=$("$CTL" status | sed -n 's/^leader: *server \([0-9]*\).*/\1/p')
say "killing the leader (server $leader) with SIGKILL"
kill -9 "$(cat "$DIR/meta$leader.pid")"
start=$(date +%s%N)
run "$CTL" touch /home/alice/after-failover.txt
end=$(date +%s%N)
echo "(the first operation after the kill took $(((end - start) / 1000000)) ms, election included)"
run "$CTL" ls /home/alice
"$CTL" status || true

say "restarting server $leader and data node $vi: they catch up"
"$META" --id "$leader" --dir "$DIR/meta$leader" \
	--raft 127.0.0.1:$((7100 + leader)) --listen 127.0.0.1:$((7000 + leader)) \
	--set node_dead_after=5s >>"$DIR/meta$leader.log" 2>&1 &
echo $! >"$DIR/meta$leader.pid"
disown
data_start "$vi"
sleep 2
run "$CTL" status

cat <<EOF

The cluster is still running.  Try:
  export CFS_META=$CFS_META
  $CTL --help
Stop it with:
  kill \$(cat $DIR/meta*.pid $DIR/data*.pid)
EOF
