# nemesis.sh - inject the failure modes of docs/model.md into a running test cluster.
#
# Sourced after tests/system/lib.sh, with a cluster from `data_cluster`
# whose metadata servers run with `--set fault_hooks=yes`.
#   nemesis_start SEED   run faults in the background until nemesis_stop
#   nemesis_stop         stop injecting, heal everything, restart the dead
# Faults, one at a time, 1-3 s apart (random from SEED, so a run can be
# replayed in kind if not in timing):
#   leader-kill     SIGKILL the metadata leader, restart it 1-3 s later
#   meta-kill       SIGKILL a follower, restart it 1-3 s later
#   partition       cut a metadata server (often the leader) off from its
#                   Raft peers (the fault hook, SIGUSR1) for 2-5 s; its
#                   clients still reach it
#   data-kill       SIGKILL a data node, restart it after 1-8 s (after the
#                   dead timeout, so its replicas are re-created elsewhere)
#   data-pause      SIGSTOP a data node for 1-3 s (a hung disk or host)
#   corrupt         flip one byte in the data of a random replica file
# Never more than one metadata server or one data node is down at once: the
# failure model promises availability for a minority of metadata servers
# and durability for N-1 replicas, so the nemesis stays inside it.
# Every fault goes to $T/nemesis.log with a timestamp; NEMESIS_FAULTS is
# the count after nemesis_stop.

NEMESIS_PID=""

nemesis_log() { echo "$(date +%T.%3N) $*" >>"$T/nemesis.log"; }

# A random replica file of data node index $1 ("" if none).
nemesis_pick_replica() {
	find "$T/d$1/frags" -type f ! -name '*.tmp.*' 2>/dev/null |
		awk -v r="$RANDOM" '{a[NR] = $0} END {if (NR) print a[r % NR + 1]}'
}

nemesis_loop() {
	local seed=$1 ndata=$2 i f off leader faults=0
	RANDOM=$seed
	trap 'exit 0' TERM
	while :; do
		sleep "$((1 + RANDOM % 3)).$((RANDOM % 10))"
		faults=$((faults + 1))
		case $((RANDOM % 6)) in
		0)
			leader=$(leader_id)
			[ -n "$leader" ] || continue
			nemesis_log "fault $faults: leader-kill server $leader"
			meta_kill "$leader" 9
			sleep "$((1 + RANDOM % 3))"
			meta_start "$leader" ${META_EXTRA:-}
			nemesis_log "  server $leader restarted"
			;;
		1)
			leader=$(leader_id)
			i=$((1 + RANDOM % N))
			[ "$i" = "$leader" ] && i=$((i % N + 1))
			nemesis_log "fault $faults: meta-kill server $i"
			meta_kill "$i" 9
			sleep "$((1 + RANDOM % 3))"
			meta_start "$i" ${META_EXTRA:-}
			nemesis_log "  server $i restarted"
			;;
		2)
			i=""
			if [ $((RANDOM % 2)) = 0 ]; then i=$(leader_id); fi
			[ -n "${i:-}" ] || i=$((1 + RANDOM % N))
			[ -f "$T/meta$i.pid" ] || continue
			nemesis_log "fault $faults: partition server $i"
			kill -USR1 "$(cat "$T/meta$i.pid")"
			sleep "$((2 + RANDOM % 4))"
			kill -USR2 "$(cat "$T/meta$i.pid")"
			nemesis_log "  server $i healed"
			;;
		3)
			i=$((1 + RANDOM % ndata))
			nemesis_log "fault $faults: data-kill node $i"
			data_kill "$i" 9
			sleep "$((1 + RANDOM % 8))"
			data_start "$i" --labels "rack=r$i"
			nemesis_log "  node $i restarted"
			;;
		4)
			i=$((1 + RANDOM % ndata))
			[ -f "$T/data$i.pid" ] || continue
			nemesis_log "fault $faults: data-pause node $i"
			kill -STOP "$(cat "$T/data$i.pid")"
			sleep "$((1 + RANDOM % 3))"
			kill -CONT "$(cat "$T/data$i.pid")"
			nemesis_log "  node $i resumed"
			;;
		5)
			i=$((1 + RANDOM % ndata))
			f=$(nemesis_pick_replica "$i")
			[ -n "$f" ] || continue
			# a byte of the data (past the 4 KiB header), if any
			off=$(( $(stat -c %s "$f") > 4100 ? 4096 + RANDOM % 4 : 100 ))
			printf '\377' | dd of="$f" bs=1 seek="$off" conv=notrunc \
				status=none 2>/dev/null
			nemesis_log "fault $faults: corrupt node $i ${f##*/} at $off"
			;;
		esac
	done
}

nemesis_start() { # nemesis_start SEED NDATA
	: >"$T/nemesis.log"
	nemesis_loop "$1" "$2" &
	NEMESIS_PID=$!
}

nemesis_stop() { # heal and restart whatever the last fault left down
	local i
	[ -n "$NEMESIS_PID" ] || return 0
	kill -TERM "$NEMESIS_PID" 2>/dev/null
	wait "$NEMESIS_PID" 2>/dev/null
	NEMESIS_PID=""
	for i in $(seq "$N"); do
		if [ -f "$T/meta$i.pid" ] && kill -0 "$(cat "$T/meta$i.pid")" 2>/dev/null; then
			kill -USR2 "$(cat "$T/meta$i.pid")"
		else
			meta_start "$i" ${META_EXTRA:-}
		fi
	done
	for i in $(seq "${1:-4}"); do
		if [ -f "$T/data$i.pid" ] && kill -0 "$(cat "$T/data$i.pid")" 2>/dev/null; then
			kill -CONT "$(cat "$T/data$i.pid")"
		else
			data_start "$i" --labels "rack=r$i"
		fi
	done
	NEMESIS_FAULTS=$(grep -c '^[0-9:.]* fault ' "$T/nemesis.log")
}
