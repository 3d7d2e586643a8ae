#!/bin/bash
# demo.sh BUILDDIR - a local cluster from this build in one command
# (`cfsctl dev up`: 3 metadata servers, 4 data nodes, a FUSE mount), used
# the way people use a filesystem; then a data node and the metadata leader
# are killed with SIGKILL, and the file still reads and its copies heal.
set -eu
B=$(cd "${1:?usage: tests/demo.sh BUILDDIR}" && pwd)
CTL=$B/cfsctl
DIR=${CFS_DEMO_DIR:-/tmp/cfs-demo}
MNT=${CFS_DEMO_MNT:-/tmp/cfs-demo-mnt}

say() { printf '\n==> %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

[ -x "$CTL" ] || { echo "cfsctl is not built in $B"; exit 1; }
# a previous demo: stop it and start afresh
"$CTL" dev down --dir "$DIR" --wipe >/dev/null 2>&1 || true
rm -rf "$DIR"

say "a local cluster in one command"
run "$CTL" dev up --dir "$DIR" --mount "$MNT"
. "$DIR/cluster.env"

say "using it through the mount"
run mkdir -p "$MNT/home/alice/src"
run cp -r "$B/../common" "$MNT/home/alice/src/"
head -c 10000000 /dev/urandom >"$DIR/photo.raw"
run cp "$DIR/photo.raw" "$MNT/home/alice/photo.raw"
run ls -l "$MNT/home/alice"
run "$CTL" frags /home/alice/photo.raw
run "$CTL" status

victim=$("$CTL" frags /home/alice/photo.raw | awk '$1 == 0 {split($5, a, "@"); print a[2]}')
say "killing the data node at $victim (holding fragment 0) with SIGKILL"
pid=$(pgrep -f "cfs-data .*--listen $victim" | head -1)
kill -9 "$pid"
run cmp "$DIR/photo.raw" "$MNT/home/alice/photo.raw"
echo "(identical: read from the surviving copies)"
say "waiting for the lost copies to be re-created elsewhere"
for _ in $(seq 60); do
	"$CTL" node list 2>/dev/null | grep -q ' DEAD ' &&
		"$CTL" status 2>/dev/null | grep -q '^under goal: *0' && break
	sleep 1
done
run "$CTL" frags /home/alice/photo.raw

leader=$("$CTL" status | sed -n 's/^leader: *server \([0-9]*\) at \([^ ]*\).*/\2/p')
say "killing the metadata leader (at $leader) with SIGKILL"
pid=$(pgrep -f "cfs-meta .*--listen $leader" | head -1)
kill -9 "$pid"
start=$(date +%s%N)
run touch "$MNT/home/alice/after-failover.txt"
end=$(date +%s%N)
echo "(the first operation after the kill took $(((end - start) / 1000000)) ms, election included)"
run ls "$MNT/home/alice"
run diff -r "$B/../common" "$MNT/home/alice/src/common"
echo "(the tree copied in before both kills is intact)"
"$CTL" status || true

cat <<EOF

The cluster is still running, without the two killed processes (to have
them back: \`$CTL dev down --dir $DIR\`, then the same \`dev up\`: the
data is kept).  Try:
  . $DIR/cluster.env
  $CTL --help
  ls $MNT
Stop it with:
  $CTL dev down --dir $DIR
EOF
