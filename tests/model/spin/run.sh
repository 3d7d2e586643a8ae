#!/bin/bash
# run.sh - model-check cfs.pml, the SPIN model of the write / commit /
# lease / repair protocol (docs/model-spin.md): generate the verifier for
# each scenario, compile it, and check every property on its own
# (pan -N NAME), exhaustively.  Exit 0 when all hold; 1 when one fails
# (its trail is printed as a story) or a search was incomplete; 77 (skip)
# when spin or a C compiler is missing; 2 on a usage error.
#
# Usage: tests/model/spin/run.sh [options]
#   --fencing 0|1     lease epochs checked at the leader's frag_commit
#                     and the data nodes (1) or nowhere (0: p4 fails)
#   --node-fencing 0|1  ... on the data nodes (1, the code) or not
#                     (0, the code before: p4_stored fails)
#   --broken NAME     a mutation that must make a property fail:
#                     ack-before-all (the chain's head answers the writer
#                     before its successors stored the data);
#                     early-expiry (the leader frees a write lease while
#                     its holder still counts on it)
#   --stale-delete    let a frag_delete run after its caller stopped
#                     waiting (as in the C code today: p1 fails)
#   --tombstone       the proposed fix for that (docs/model-spin.md)
#   --abandon         model repair.c drop_abandoned (p1 fails)
#   --abandon-fix     ... with the proposed fix for that
#   --deep            larger fault bounds, and goal 3 (about 5 minutes)
#   --scenario NAME   only this scenario (repeatable): repair rewrite
#                     writers goal3
#   --prop NAME       only this property (repeatable): p1_acked p1_durable
#                     p1_rows p2_same p3_lease p4_fenced p4_stored
#                     p5_read
#   --keep            keep the work directory (pan, trails) and say where
# Environment: CC (default cc), SPIN (default spin), JOBS (searches at
# once, default 2), MEMLIM (MiB per search, default 3072).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
MODEL=$HERE/cfs.pml
SPIN=${SPIN:-spin}
CC=${CC:-cc}
JOBS=${JOBS:-2}
PROPS_ALL="p1_acked p1_durable p1_rows p2_same p3_lease p4_fenced p4_stored p5_read"
SCEN_ALL="repair rewrite writers"
FENCING=1
NODE_FENCING=
EXTRA=()
DEEP=0
KEEP=0
PROPS=
SCENS=
usage() { sed -n 's/^# \{0,1\}//; 9,32p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--fencing) [ $# -ge 2 ] || usage; FENCING=$2; shift ;;
	--node-fencing) [ $# -ge 2 ] || usage; NODE_FENCING=$2; shift ;;
	--broken)
		[ $# -ge 2 ] || usage
		case $2 in
		ack-before-all) EXTRA+=(-DBROKEN_ACK_BEFORE_ALL) ;;
		early-expiry) EXTRA+=(-DBROKEN_EARLY_EXPIRY) ;;
		*) echo "run.sh: unknown mutation $2" >&2; exit 2 ;;
		esac
		shift ;;
	--stale-delete) EXTRA+=(-DSTALE_DELETE=1) ;;
	--tombstone) EXTRA+=(-DTOMBSTONE=1) ;;
	--abandon) EXTRA+=(-DABANDON=1) ;;
	--abandon-fix) EXTRA+=(-DABANDON=1 -DABANDON_FIX=1) ;;
	--deep) DEEP=1 ;;
	--scenario) [ $# -ge 2 ] || usage; SCENS="$SCENS $2"; shift ;;
	--prop) [ $# -ge 2 ] || usage; PROPS="$PROPS $2"; shift ;;
	--keep) KEEP=1 ;;
	-h|--help) usage ;;
	*) echo "run.sh: unknown option $1" >&2; usage ;;
	esac
	shift
done
NODE_FENCING=${NODE_FENCING:-$FENCING}
case $FENCING$NODE_FENCING in 00|01|10|11) ;; *) usage ;; esac
PROPS=${PROPS:-$PROPS_ALL}
[ $DEEP = 1 ] && SCEN_ALL="$SCEN_ALL goal3"
SCENS=${SCENS:-$SCEN_ALL}

command -v "$SPIN" >/dev/null 2>&1 || { echo "run.sh: no spin: skipped"; exit 77; }
command -v "$CC" >/dev/null 2>&1 || { echo "run.sh: no C compiler: skipped"; exit 77; }

# Scenarios: who runs, where the fragment starts, how many faults (of
# any kind: data node crash, message loss, leader crash, repair timeout,
# false suspicion; restarts are free).  GOAL is 2 of the 3 nodes unless
# named.
#   repair:  no writer; v1 committed on nodes 0 and 1; the repair loop
#            against crashes, restarts, leader changes, timeouts, losses
#   rewrite: one writer rewrites that fragment while repair runs
#   writers: two writers from an empty fragment: leases, fencing, commit
#            races; repair runs too
#   goal3:   as writers, with goal 3 (every node in every chain); --deep
# The C compiler's -O level is chosen for compile time + run time.
scenario() {
	case $1 in
	repair) DEFS="-DWRITERS=0 -DPRESET=1 -DMAXFAULTS=$((4 + 2 * DEEP))"; OPT=-O0 ;;
	rewrite) DEFS="-DWRITERS=1 -DPRESET=1 -DMAXFAULTS=$((2 + DEEP))"; OPT=-O1 ;;
	writers) DEFS="-DWRITERS=2 -DPRESET=0 -DMAXFAULTS=1"; OPT=-O1 ;;
	goal3) DEFS="-DWRITERS=2 -DPRESET=0 -DMAXFAULTS=1 -DGOAL=3"; OPT=-O1 ;;
	*) echo "run.sh: unknown scenario $1" >&2; exit 2 ;;
	esac
	DEFS="$DEFS -DFENCING=$FENCING -DNODE_FENCING=$NODE_FENCING ${EXTRA[*]}"
}

for s in $SCENS; do scenario "$s"; done
for p in $PROPS; do
	case " $PROPS_ALL " in *" $p "*) ;; *) echo "run.sh: unknown property $p" >&2; exit 2 ;; esac
done

W=$(mktemp -d "${TMPDIR:-/tmp}/cfs-spin.XXXXXX") || exit 1
cleanup() { if [ "$KEEP" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi; }
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# story DIR PROP: replay DIR's trail; only the model's event lines
story() {
	(cd "$1" && "$SPIN" -T -t -B $DEFS cfs.pml 2>&1) |
		grep -v -E '^ltl |^[[:space:]]+[0-9]+:[[:space:]]+proc|^#processes|processes created|^Never claim moves|^spin: trail ends|^[[:space:]]*$|^spin: text of failed|^spin: .*_spin_nvr|^spin: warning, .* is newer than' |
		sed 's/^/      /' | tail -n 60
	echo "      => $2 violated"
}

# check SCENARIO PROP: one exhaustive search in its own directory (for
# its trail); the verdict goes to DIR/report, "ok" to DIR/ok
check() {
	local d=$W/$1/$2 t n errs secs
	mkdir -p "$d" && cp -p "$W/$1/cfs.pml" "$d/" || return
	t=$(now)
	(cd "$d" && ../pan -N "$2" -m200000 -w24 >pan.out 2>&1)
	secs=$(secs "$t" "$(now)")
	n=$(sed -n 's/^ *\([0-9][0-9]*\) states, stored.*/\1/p' "$d/pan.out")
	errs=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$d/pan.out")
	if [ "${errs:-1}" = 0 ] &&
	   ! grep -q -E 'max search depth too small|reached -DMEMLIM|Search not completed' "$d/pan.out"; then
		echo "  ok   $2: $n states, $secs s" >"$d/report"
		touch "$d/ok"
	elif [ "${errs:-1}" = 0 ]; then
		{ echo "  INCOMPLETE $2: $n states, $secs s"
		  grep -E 'depth too small|MEMLIM' "$d/pan.out" | sed 's/^/    /'; } >"$d/report"
	else
		(cd "$d" && ../pan -N "$2" -m200000 -w24 -i >pan.i.out 2>&1)
		{ echo "  FAIL $2 ($secs s); the trail (pan -i: a short one):"
		  story "$d" "$2"; } >"$d/report"
	fi
}

MEM=${MEMLIM:-3072}    # MiB for the state store of one run
fail=0
T0=$(now)
echo "cfs.pml: FENCING=$FENCING NODE_FENCING=$NODE_FENCING ${EXTRA[*]}"
for s in $SCENS; do
	scenario "$s"
	mkdir -p "$W/$s"
	cp -p "$MODEL" "$W/$s/cfs.pml"
	t=$(now)
	if ! (cd "$W/$s" && "$SPIN" -a $DEFS cfs.pml >spin.out 2>&1); then
		cat "$W/$s/spin.out"; exit 1
	fi
	if ! (cd "$W/$s" && $CC $OPT -w -DSAFETY -DMEMLIM="$MEM" -o pan pan.c); then
		echo "run.sh: pan.c does not compile"; exit 1
	fi
	echo "scenario $s ($DEFS): verifier built in $(secs "$t" "$(now)") s"
	for p in $PROPS; do
		while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
		check "$s" "$p" &
	done
	wait
	for p in $PROPS; do
		cat "$W/$s/$p/report" 2>/dev/null || echo "  FAIL $p: no verdict"
		[ -f "$W/$s/$p/ok" ] || fail=1
	done
done
echo "total $(secs "$T0" "$(now)") s"
exit $fail
