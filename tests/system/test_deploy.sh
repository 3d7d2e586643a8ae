#!/bin/bash
# test_deploy.sh - deploy/ansible/site.yml deploys a working cluster and
# keeps it working: three "machines" (ansible_connection=local, each with
# its own directories and ports) run a metadata server and a data node
# each, one mounts the filesystem; services run in script mode
# (start-stop-daemon: no systemd here).  A second run changes nothing; a
# changed data or metadata setting restarts those daemons one at a time
# while the mount keeps working; a missing cfs_bin_src is a clear error.
. "$(dirname "$0")/lib.sh"
command -v ansible-playbook >/dev/null || { echo "no ansible-playbook: skipped"; exit 77; }
command -v start-stop-daemon >/dev/null || { echo "no start-stop-daemon: skipped"; exit 77; }

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PLAY=$SRC/deploy/ansible/site.yml
[ -f "$PLAY" ] || { echo "no $PLAY"; exit 1; }
MNT=$T/mnt
CL="127.0.0.1:$((PORT0 + 1)),127.0.0.1:$((PORT0 + 2)),127.0.0.1:$((PORT0 + 3))"
C() { "$BIN/cfsctl" --cluster "$CL" "$@"; }

teardown() {
	local f
	fusermount3 -uz "$MNT" 2>/dev/null
	for f in "$T"/h*/run/*-fuse.pid "$T"/h*/run/*-data.pid "$T"/h*/run/*-meta.pid; do
		[ -f "$f" ] && start-stop-daemon --stop --quiet --pidfile "$f" \
			--retry TERM/5/KILL/2 >/dev/null 2>&1
	done
	cleanup
}
trap teardown EXIT

mkdir -p "$T/stage" "$T/ansible"
cp "$BIN/cfs-meta" "$BIN/cfs-data" "$BIN/cfs-fuse" "$BIN/cfsctl" "$T/stage/"
export ANSIBLE_LOCAL_TEMP=$T/ansible ANSIBLE_REMOTE_TEMP=$T/ansible \
	ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_INVENTORY_UNPARSED_FAILED=1 \
	ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_FORKS=3 ANSIBLE_PIPELINING=1

host() { # host N: one machine's variables (h4: ports +4 and +8)
	local n=$1 d=$T/h$1 raft=$((PORT0 + 4 + $1))
	[ "$n" = 4 ] && raft=$((PORT0 + 8))
	cat <<EOF
    h$n:
      cfs_meta_id: $n
      cfs_meta_client_port: $((PORT0 + n))
      cfs_meta_raft_port: $raft
      cfs_data_port: $((PORT0 + 8 + n))
      cfs_data_labels: rack=r$n
      cfs_name: cfs-h$n
      cfs_bin_dir: $d/bin
      cfs_etc_dir: $d/etc
      cfs_var_dir: $d/var
      cfs_log_dir: $d/log
      cfs_run_dir: $d/run
EOF
}
inventory() { # inventory [4]: h1-h3, and h4 joining the metadata servers
	cat <<EOF
all:
  vars:
    ansible_connection: local
    cfs_bin_src: $T/stage
    cfs_service_manager: script
    cfs_apt_update: false
    cfs_address: 127.0.0.1
    cfs_fragment_size: 1M
    cfs_mount: $MNT
  hosts:
EOF
	host 1
	host 2
	host 3
	[ "${1:-}" = 4 ] && host 4 && echo "      cfs_meta_join: true"
	cat <<EOF
  children:
    cfs_meta: {hosts: {h1: , h2: , h3: ${1:+, h4: }}}
    cfs_data: {hosts: {h1: , h2: , h3: }}
    cfs_client: {hosts: {h1: }}
EOF
}
inventory >"$T/inventory.yml"

N=0
play() { # play [ansible-playbook args]: output in $T/play.N.out, recap shown
	N=$((N + 1))
	ansible-playbook -i "$T/inventory.yml" "$PLAY" "$@" >"$T/play.$N.out" 2>&1
	local rv=$?
	sed -n '/^PLAY RECAP/,$p' "$T/play.$N.out" | sed 's/^/    /'
	[ $rv = 0 ] || { tail -n 30 "$T/play.$N.out" | sed 's/^/    /'; }
	return $rv
}
# unchanged: the last run's recap says changed=0 for every host
unchanged() {
	local n
	n=$(sed -n '/^PLAY RECAP/,$p' "$T/play.$N.out" | grep -c 'changed=0 ')
	[ "$n" = 3 ]
}
pids() { cat "$T"/h*/run/*-"$1".pid 2>/dev/null | sort | tr '\n' ' '; }
disjoint() { # disjoint "A" "B": no word of A is in B, and B has 3
	local p
	[ "$(echo $2 | wc -w)" = 3 ] || return 1
	for p in $1; do case " $2 " in *" $p "*) return 1 ;; esac; done
}
# ran TASK RESULT N: in the last run, task TASK of the role ended RESULT
# (ok, changed, skipping) on N machines
ran() {
	[ "$(awk -v t="TASK [cfs : $1]" -v r="$2:" '
		index($0, "TASK [") == 1 {in_task = index($0, t) == 1; next}
		in_task && $1 == r {n++}
		END {print n + 0}' "$T/play.$N.out")" = "$3" ]
}
roundtrip() {
	cp "$T/f" "$MNT/f" && C get -q /f "$T/back" && cmp "$T/f" "$T/back"
}
distinct() {
	C frags /f | awk 'NR > 2 && ($5 == $6 || $6 == $7 || $5 == $7) {bad = 1}
		END {exit bad}'
}
readwrite() {
	cmp "$T/f" "$MNT/f" && echo new >"$MNT/g" && [ "$(cat "$MNT/g")" = new ]
}
show_deploy_logs() {
	local f
	for f in "$T"/h*/log/*.log; do
		echo "---- $f"
		tail -n 15 "$f"
	done
}

check "site.yml deploys 3 metadata servers, 3 data nodes and a mount" play
check "... formats the filesystem" ran "the filesystem is formatted" changed 1
healthy() {
	C status >"$T/status" 2>&1 &&
		grep -q '^leader: *server' "$T/status" &&
		[ "$(C --json node list | grep -o '"state":"alive"' | wc -l)" = 3 ]
}
check "... status: a leader, 3 data nodes alive" healthy
check "... the mount is CFS" test "$(findmnt -n -o FSTYPE --mountpoint "$MNT")" = fuse.cfs
head -c 3000000 /dev/urandom >"$T/f"
check "... a file written through the mount reads back" roundtrip
three() { [ "$(C frags /f | awk 'NR > 2 {print NF}' | sort -u)" = 7 ]; }
check "... with 3 replicas of each fragment" three
check "... on 3 distinct nodes" distinct

check "a second run changes nothing" play
check "... changed=0 on every machine" unchanged
check "... the filesystem was not formatted again" \
	ran "the filesystem is formatted" ok 1

# ---- a changed setting restarts the daemons it concerns, one at a time -----
meta_before=$(pids meta)
data_before=$(pids data)
fuse_before=$(pids fuse)
check "a changed data node setting is rolled out" \
	play -e '{"cfs_data_config": {"scrub_rate": "8M"}}'
check "... every data node restarted" disjoint "$data_before" "$(pids data)"
check "... no metadata server" test "$(pids meta)" = "$meta_before"
check "... its config says so" grep -q '^scrub_rate = 8M' "$T/h2/etc/cfs-data.conf"
check "... the cluster is healthy" healthy
check "... the file reads back through the mount" cmp "$T/f" "$MNT/f"

check "a changed metadata setting is rolled out one server at a time" \
	play -e '{"cfs_meta_config": {"session_lease_max": "30s"}}'
check "... every metadata server restarted" disjoint "$meta_before" "$(pids meta)"
check "... each waited for the whole cluster to answer" \
	ran "the metadata cluster is whole again" ok 3
check "... the mount was not restarted" test "$(pids fuse)" = "$fuse_before"
check "... and still reads and writes" readwrite
check "... the cluster is healthy" healthy

# ---- a metadata server added to the inventory joins -------------------------
inventory 4 >"$T/inventory.yml"
check "a fourth metadata server (cfs_meta_join) is deployed" play --limit h4,cfs_data
voters() {
	C --json meta list >"$T/members" &&
		[ "$(grep -o '"role":"voter"' "$T/members" | wc -l)" = 4 ] &&
		[ "$(grep -o '"state":"\(leader\|follower\)"' "$T/members" | wc -l)" = 4 ]
}
check "... it is a voter, and all 4 answer" voters
joined() {
	ran "the joining server is added" changed 1 &&
		ran "the joining server votes" changed 1
}
check "... it was added, then promoted" joined
check "... the data nodes know it (their meta list changed)" \
	grep -q "127.0.0.1:$((PORT0 + 4))" "$T/h1/etc/cfs-data.conf"
check "... and a second run changes nothing there" play --limit h4
h4_unchanged() {
	sed -n '/^PLAY RECAP/,$p' "$T/play.$N.out" | grep -q '^h4 .*changed=0 '
}
check "... (changed=0)" h4_unchanged

# ---- the systemd units (rendered, not started: no systemd here) -------------
units() {
	ANSIBLE_ROLES_PATH=$SRC/deploy/ansible/roles ansible-playbook \
		-i "$T/inventory.yml" "$T/units.yml" -e cfs_unit_dir="$T/units" \
		>"$T/units.out" 2>&1 || { tail -n 20 "$T/units.out"; return 1; }
	[ "$(ls "$T"/units/*.service | wc -l)" = 8 ] &&
		systemd-analyze verify --man=no "$T"/units/*.service &&
		[ "$(cat "$T"/units/*.service | grep -c '^Restart=on-failure$')" = 8 ] &&
		! grep -q init-cluster "$T/units/cfs-h4-meta.service" &&
		grep -q init-cluster "$T/units/cfs-h1-meta.service"
}
cat >"$T/units.yml" <<EOF
- hosts: all
  tasks:
    - ansible.builtin.import_role: {name: cfs, tasks_from: units}
EOF
if command -v systemd-analyze >/dev/null; then
	check "the systemd units of every machine pass systemd-analyze verify" units
fi

# ---- bad input -------------------------------------------------------------
nobin() {
	! play -e cfs_bin_src= >/dev/null &&
		grep -q 'set cfs_bin_src to a directory' "$T/play.$N.out"
}
check "no cfs_bin_src: a clear error" nobin

[ $fail = 0 ] || show_deploy_logs
exit $fail
