/*
 * cfs.pml - SPIN model of CFS's write / commit / lease / repair protocol
 * for ONE fragment (ino, idx) of one file.  docs/model-spin.md says what
 * is modelled and what is abstracted away, how each proctype maps to the C
 * code, and how to run it: tests/model/spin/run.sh.
 *
 * Actors: the metadata leader (state machine, leases, liveness: proctype
 * leader), its repair loop (repair), 2 writer clients (writer), 3 data
 * nodes (datanode), a reader (reader) and the network's faults (network).
 *
 * Switches (spin -DNAME=VALUE; run.sh sets them per scenario):
 *   FENCING       1 (default, the C code): frag_commit is refused unless
 *                 it carries the writer's current lease (DESIGN.md
 *                 section 4; meta/lease.c lease_check).  0: nothing checks
 *                 an epoch at the leader; writers still take leases.
 *   NODE_FENCING  1 (default, the C code): a data node rejects a
 *                 frag_write older than the newest epoch it has seen for
 *                 the file (data/service.c epoch_check; the code keeps
 *                 the epochs in memory, the model on disk: see `seen`).
 *                 0: the code before nodes checked epochs.
 *   STALE_DELETE  0 (default): a frag_delete whose caller stopped waiting
 *                 (timeout, leader change) never runs.  1: it may still run
 *                 on the node later, as it can in the C code.  See
 *                 docs/model-spin.md "Findings".
 *   TOMBSTONE     1: a proposed fix for STALE_DELETE (not in the C code):
 *                 a deleted garbage row stays as a tombstone, so plan_copy
 *                 never puts that version on that node again.
 *   ABANDON       1: model repair.c drop_abandoned (writing rows "an hour
 *                 old" proposed as garbage; the hour is any time here).
 *                 0 (default): not modelled.  See "Findings".
 *   ABANDON_FIX   1: a proposed fix: the drop applies only to rows that
 *                 are still `writing` when the entry is applied.
 *   BROKEN_ACK_BEFORE_ALL  mutation: the head of the chain answers the
 *                 writer as soon as it stored its own copy.
 *   BROKEN_EARLY_EXPIRY    mutation: the leader lets a lease expire while
 *                 its holder still counts on it.
 *   WRITERS (0-2), PRESET (1: v1 is already committed on nodes 0 and 1),
 *   REPAIR (0: no repair loop), GOAL, and the fault bounds below.
 *
 * Every event prints one line, so `spin -t` replays a trail as a story.
 */

#ifndef FENCING
#define FENCING 1
#endif
#ifndef NODE_FENCING
#define NODE_FENCING 1
#endif
#ifndef STALE_DELETE
#define STALE_DELETE 0
#endif
#ifndef TOMBSTONE
#define TOMBSTONE 0
#endif
#ifndef ABANDON
#define ABANDON 0
#endif
#ifndef ABANDON_FIX
#define ABANDON_FIX 0
#endif
#ifndef WRITERS
#define WRITERS 2
#endif
#ifndef PRESET
#define PRESET 0
#endif
#ifndef REPAIR
#define REPAIR 1
#endif
#ifndef GOAL
#define GOAL 2          /* replicas wanted (inodes.goal) */
#endif
#define NN 3            /* data nodes 0..2 */
#define NV 5            /* versions 1..4; 0 means none */
#define NW 2            /* writers 0..1 */
#define ATTEMPTS 2      /* write attempts per write (WRITE_ATTEMPTS is 6) */
#define MAXEPOCH 3      /* write leases granted in all */

/* Faults: at most MAXFAULTS in a run, of the kinds switched on.  Restarts
 * are free.  One counter for all kinds keeps the state space small. */
#ifndef MAXFAULTS
#define MAXFAULTS 3
#endif
#ifndef CRASH
#define CRASH 1         /* a data node crashes (and may restart) */
#endif
#ifndef LOSS
#define LOSS 1          /* a message is lost: chain write or its answer,
                         * commit or its answer, repair call or answer */
#endif
#ifndef LEADER
#define LEADER 1        /* the metadata leader crashes, another takes over */
#endif
#ifndef SLOW
#define SLOW 1          /* the leader gives up on a repair call (timeout)
                         * while the request is still queued at the node */
#endif
#ifndef SUSPECT
#define SUSPECT 1       /* a live node is declared dead (heartbeats lost) */
#endif
#define FAULT(kind) (kind && faults < MAXFAULTS)

#define NONE 255
#define R(n, v) ((n) * NV + (v))   /* index of replica (node n, version v) */

/* ==== metadata state machine: the Raft log as one sequential store ======
 * meta/dmap.c tables fragments, replicas, garbage, nodes, and the lease
 * table.  Every change is one atomic step; all of it survives a leader
 * crash. */
#define WRITING 1       /* replicas.state (0: no row) */
#define OK 2
byte committed;         /* fragments.version (0: the fragment is a hole) */
byte crc[NV];           /* fragments.crc of version v when it committed;
                         * the data is the crc.  Never reset (history). */
byte next_version = 1;  /* config.next_version */
byte row[NN * NV];      /* replicas rows: 0, WRITING or OK */
byte garb[NN * NV];     /* garbage rows: 0 none, 1 garbage, 2 deleted
                         * (a tombstone, kept only with TOMBSTONE) */
bit dead[NN];           /* nodes.state == dead */
byte lease[NW];         /* write lease of writer w: its epoch, 0: none */
byte epoch;             /* the last epoch granted */
byte ab_v, ab_nodes;    /* a replica_drop of abandoned writing rows:
                         * proposed (version, node mask), not yet applied */

/* ==== the leader's volatile state: lost when it crashes ================= */
byte gen;               /* leadership generation (repair.c r->gen) */
#define COPY 1          /* task kinds */
#define DELETE 2
#define T_FREE 0        /* task states */
#define T_SENT 1        /* the request is on its way to / queued at the node */
#define T_OK 2          /* answers on their way back */
#define T_FAIL 3
#define T_LOST 4        /* nothing will come back: the call times out */
typedef Task {
	byte kind;      /* COPY or DELETE */
	byte v;         /* version */
	byte node;      /* copy target, or the node to delete from */
	byte src;       /* copy source */
	byte gen;       /* gen of the leader waiting for it; NONE: nobody */
	byte st;
};
Task task[2];           /* repair_inflight = 2 */

/* ==== data nodes ======================================================== */
bit up[NN];
byte file[NN * NV];     /* replica file (ino, idx, v) on node n: its data,
                         * 0: none.  Survives crashes (fsync + rename). */
byte seen[NN];          /* newest lease epoch seen for the file; kept on
                         * disk like the replica files (the code keeps it
                         * in memory: a restarted node stores what it
                         * would refuse, never committed: p4_fenced) */

/* ==== messages: one chain write and one commit in flight per writer ===== */
#define A_NONE 0        /* the chain's answer to the writer */
#define A_OK 1
#define A_FAIL 2
typedef Chain {
	byte v; byte ep; byte d;
	byte hop;       /* index in cn[] of the node the data is at; NONE */
	byte ack;       /* the answer (A_*) */
	byte failed;    /* the node a failed answer names */
	byte cn[GOAL];  /* the chain placed by frag_open */
};
Chain cw[NW];
#define C_NONE 0        /* a commit's progress */
#define C_SENT 1
#define C_OK 2
#define C_REFUSED 3
#define C_LOST 4
typedef Commit { byte v; byte ep; byte st };
Commit cm[NW];

bit mine[NW];           /* writer w believes it holds its write lease */

/* ==== ghosts: history that the properties look at ======================= */
byte acked[NW];         /* version of writer w's acknowledged write */
bit fenced_store;       /* a node stored epoch e after seeing epoch e' > e */
bit fenced_commit;      /* a commit applied without the writer's lease */
bit bad_read;           /* a reader got other data than the committed */
byte faults;            /* faults so far */

/* ==== derived predicates ================================================ */
#define NDOWN ((1 - up[0]) + (1 - up[1]) + (1 - up[2]))
/* node i is up and holds version v's committed data */
#define HOLDS(i, v) (up[i] && file[R(i, v)] == crc[v])
#define HELD(v) (HOLDS(0, v) || HOLDS(1, v) || HOLDS(2, v))
/* an ok replica that counts: its node is not dead (dmap.c LIVE_COUNT) */
#define LIVE1(i, v) (row[R(i, v)] == OK && !dead[i])
#define LIVE(v) (LIVE1(0, v) + LIVE1(1, v) + LIVE1(2, v))
#define ROWS(v) ((row[R(0, v)] != 0) + (row[R(1, v)] != 0) + \
		 (row[R(2, v)] != 0))
/* a copy target (plan_copy): not dead, no row and no garbage of v */
#define TARGET(i, v) (!dead[i] && row[R(i, v)] == 0 && garb[R(i, v)] == 0)
/* a file of a committed version holds that version's data */
#define SAME1(i, v) (file[R(i, v)] == 0 || crc[v] == 0 || \
		     file[R(i, v)] == crc[v])
#define SAME(v) (SAME1(0, v) && SAME1(1, v) && SAME1(2, v))
/* an ok row of version v names a node that has the file */
#define TRUE1(i, v) (row[R(i, v)] != OK || file[R(i, v)] != 0)

/* ==== properties: each is checked on its own (pan -N name) ==============
 * 1. No acknowledged write is lost.
 *  p1_acked:   for each writer w whose write of version a was acknowledged
 *              (close() returned): the committed version is never below a;
 *              and in every state where a is still the committed version
 *              and fewer than GOAL data nodes are down, a node that is up
 *              holds a's data.  (A newer commit may legitimately make a
 *              garbage; then the newer version is the one to hold.)
 *  p1_durable: the same for every committed version, acknowledged or not
 *              (whether the commit's answer reached the writer is nothing
 *              the system knows): whenever fewer than GOAL nodes are down,
 *              an up node holds the committed version's data.
 *  p1_rows:    the data map never lists an ok replica of the committed
 *              version whose node lacks the file (down or up); stronger
 *              than the rest, it finds the same bugs with shorter trails. */
#define ACKED_OK(w) (acked[w] <= committed && \
		     !(acked[w] != 0 && acked[w] == committed && \
		       NDOWN < GOAL && !HELD(committed)))
ltl p1_acked { [] (ACKED_OK(0) && ACKED_OK(1)) }
ltl p1_durable { [] ((committed != 0 && NDOWN < GOAL) -> HELD(committed)) }
ltl p1_rows { [] (committed == 0 || (TRUE1(0, committed) &&
		TRUE1(1, committed) && TRUE1(2, committed))) }
/* 2. Every replica file of a committed version holds its committed data. */
ltl p2_same { [] (SAME(1) && SAME(2) && SAME(3) && SAME(4)) }
/* 3. Never two write leases on the file: in the leader's table, nor in
 * the writers' own belief. */
ltl p3_lease { [] (!(lease[0] != 0 && lease[1] != 0) && !(mine[0] && mine[1])) }
/* 4. A fenced writer cannot change data: no commit is applied unless it
 * carries the writer's current lease (p4_fenced), and no data node stores
 * data of an epoch older than one it has seen (p4_stored). */
ltl p4_fenced { [] !fenced_commit }
ltl p4_stored { [] !fenced_store }
/* 5. A reader only ever gets the committed data of the version it was
 * told is committed. */
ltl p5_read { [] !bad_read }

/* ==== the leader: state machine, leases, liveness ======================= */

/* frag_commit (dmap.c op_frag_commit) as one log entry.  The nodes listed
 * are the whole chain (fileio.c commit_version). */
inline apply_commit(w) {
	if
	:: FENCING && lease[w] != cm[w].ep ->
		printf("leader: commit v%d of w%d refused: FENCED (epoch %d)\n",
		       cm[w].v, w, cm[w].ep);
		cm[w].st = C_REFUSED
	:: else ->
		if
		:: lease[w] != cm[w].ep -> fenced_commit = 1
		:: else
		fi;
		/* i: listed nodes without a row of the version */
		i = 0; j = 0;
		do
		:: j < GOAL ->
			if
			:: row[R(cw[w].cn[j], cm[w].v)] == 0 -> i++
			:: else
			fi; j++
		:: else -> break
		od;
		if
		:: committed >= cm[w].v ->
			printf("leader: commit v%d of w%d refused: ESTALE\n",
			       cm[w].v, w);
			cm[w].st = C_REFUSED
		:: committed < cm[w].v && i > 0 ->
			/* a listed node has no row of it (dropped meanwhile) */
			printf("leader: commit v%d of w%d refused: EINVAL\n",
			       cm[w].v, w);
			cm[w].st = C_REFUSED
		:: else ->
			printf("leader: commit v%d of w%d (epoch %d, nodes %d %d)\n",
			       cm[w].v, w, cm[w].ep, cw[w].cn[0], cw[w].cn[1]);
			/* the listed replicas become ok */
			j = 0;
			do
			:: j < GOAL -> row[R(cw[w].cn[j], cm[w].v)] = OK; j++
			:: else -> break
			od;
			/* older versions, unlisted writing rows: garbage */
			i = 0;
			do
			:: i < NN ->
				j = 1;
				do
				:: j < NV ->
					if
					:: row[R(i, j)] != 0 && (j < cm[w].v ||
					   (j == cm[w].v && row[R(i, j)] == WRITING)) ->
						row[R(i, j)] = 0; garb[R(i, j)] = 1
					:: else
					fi; j++
				:: else -> break
				od; i++
			:: else -> break
			od;
			committed = cm[w].v;
			crc[committed] = cw[w].d;
			cm[w].st = C_OK
		fi
	fi;
	i = 0; j = 0
}

/* A lease that is not renewed expires: first on the writer's clock (it
 * counts from before it asked, so it runs out first), then on the
 * leader's.  The leader frees it only after that; renewals are the runs
 * in which it does not expire.  BROKEN_EARLY_EXPIRY (a mutation) lets the
 * leader free it while the writer still counts on it. */
#ifdef BROKEN_EARLY_EXPIRY
#define HOLDER_DONE(w) 1
#else
#define HOLDER_DONE(w) (!mine[w])
#endif
#define LEASE_EXPIRES(w) \
	:: atomic { mine[w] && lease[w] != 0 -> mine[w] = 0; \
		printf("w%d: its lease (epoch %d) ran out\n", w, lease[w]) } \
	:: atomic { lease[w] != 0 && HOLDER_DONE(w) -> \
		printf("leader: the lease of w%d (epoch %d) expired\n", w, lease[w]); \
		lease[w] = 0 }

/* repair.c check_liveness (logged node_state) and heartbeats */
#define LIVENESS(n) \
	:: atomic { !dead[n] && !up[n] -> dead[n] = 1; \
		printf("leader: node %d silent: dead\n", n) } \
	:: atomic { !dead[n] && up[n] && FAULT(SUSPECT) -> dead[n] = 1; faults++; \
		printf("leader: node %d silent (heartbeats lost): dead\n", n) } \
	:: atomic { dead[n] && up[n] -> dead[n] = 0; \
		printf("leader: node %d heard again: alive\n", n) }

proctype leader() {
	byte i, j;
end:	do
	:: atomic { cm[0].st == C_SENT -> apply_commit(0) }
	:: atomic { cm[1].st == C_SENT -> apply_commit(1) }
	LEASE_EXPIRES(0)
	LEASE_EXPIRES(1)
	LIVENESS(0)
	LIVENESS(1)
	LIVENESS(2)
	/* the abandoned-writes drop proposed by the repair loop is applied
	 * (dmap_op_replica_drop, deleted = 0: every listed row that exists) */
	:: atomic { ab_v != 0 ->
		i = 0;
		do
		:: i < NN ->
			if
			:: (ab_nodes & (1 << i)) && row[R(i, ab_v)] != 0 &&
			   (!ABANDON_FIX || row[R(i, ab_v)] == WRITING) ->
				printf("leader: replica_drop v%d node %d (abandoned)\n",
				       ab_v, i);
				row[R(i, ab_v)] = 0; garb[R(i, ab_v)] = 1
			:: else
			fi; i++
		:: else -> break
		od;
		ab_v = 0; ab_nodes = 0; i = 0 }
	/* the leader crashes and another is elected: the log survives; the
	 * tasks in flight and the lease and liveness clocks do not (a new
	 * leader restarts them, which can only delay an expiry or a death) */
	:: atomic { FAULT(LEADER) -> gen++; faults++;
		printf("leader: crashed; a new leader takes over\n") }
	od
}

/* ==== the repair loop on the leader (meta/repair.c repair_tick) ========= */

#define FREE_SLOT (task[0].st == T_FREE || task[1].st == T_FREE)
/* in this leader's active list (repair.c is_active) */
#define ACTIVE(t, k) (task[t].st != T_FREE && task[t].gen == gen && \
		      task[t].kind == k)
#define COPY_ACTIVE (ACTIVE(0, COPY) || ACTIVE(1, COPY))
#define DEL_ACTIVE(n) ((ACTIVE(0, DELETE) && task[0].node == n) || \
		       (ACTIVE(1, DELETE) && task[1].node == n))
/* dmap.c Q_GARBAGE_LIST: on a node that is not dead, not recorded again */
#define GARBAGE(n, v) (garb[R(n, v)] == 1 && !dead[n] && row[R(n, v)] == 0 && \
		       !DEL_ACTIVE(n))
/* Q_UNDER_GOAL and plan_copy: under goal, not missing, not being copied,
 * somewhere to put it */
#define CAN_COPY(v) (v != 0 && LIVE(v) < GOAL && LIVE(v) > 0 && \
		     !COPY_ACTIVE && FREE_SLOT && \
		     (TARGET(0, v) || TARGET(1, v) || TARGET(2, v)))

inline submit(k, vv, n, s) {
	if
	:: task[0].st == T_FREE -> t = 0
	:: else -> t = 1
	fi;
	task[t].kind = k; task[t].v = vv; task[t].node = n; task[t].src = s;
	task[t].gen = gen; task[t].st = T_SENT;
	t = 0
}

/* finish(): a task's answer, or its timeout, reaches the leader.
 * (Promela's if picks among ALL true guards: they are kept disjoint.) */
inline finish(t) {
	if
	:: task[t].gen != gen -> skip  /* an earlier leadership: ignored */
	:: task[t].gen == gen && task[t].st == T_OK && task[t].kind == COPY ->
		/* replica_add (dmap_repair.c dmap_op_replica_add) */
		if
		:: committed == task[t].v ->
			printf("repair: replica_add v%d node %d: ok\n",
			       task[t].v, task[t].node);
			garb[R(task[t].node, task[t].v)] = 0;
			row[R(task[t].node, task[t].v)] = OK
		:: else ->
			printf("repair: replica_add v%d node %d: superseded, garbage\n",
			       task[t].v, task[t].node);
			garb[R(task[t].node, task[t].v)] = 1
		fi
	:: task[t].gen == gen && task[t].st == T_OK && task[t].kind == DELETE ->
		/* replica_drop deleted = 1: the garbage row goes (with
		 * TOMBSTONE it stays, marked deleted, and keeps the node
		 * from receiving this version again) */
		printf("repair: v%d deleted on node %d: garbage row removed\n",
		       task[t].v, task[t].node);
		garb[R(task[t].node, task[t].v)] = 2 * TOMBSTONE
	:: else ->                      /* a later scan tries again */
		printf("repair: task (kind %d) v%d node %d failed\n",
		       task[t].kind, task[t].v, task[t].node)
	fi;
	task[t].kind = 0; task[t].v = 0; task[t].node = 0; task[t].src = 0;
	task[t].gen = 0; task[t].st = T_FREE
}

#define FINISH(t) \
	:: atomic { task[t].st == T_OK || task[t].st == T_FAIL || \
		    task[t].st == T_LOST -> finish(t) } \
	:: atomic { task[t].st == T_SENT && task[t].gen == gen && FAULT(SLOW) -> \
		printf("repair: gave up waiting for task (kind %d) v%d node %d\n", \
		       task[t].kind, task[t].v, task[t].node); \
		task[t].gen = NONE; faults++ }

/* plan_drop, part 1: replicas that do not count (on dead nodes) */
#define DROP1(i, v) \
	if \
	:: row[R(i, v)] != 0 && (dead[i] || row[R(i, v)] != OK) -> \
		printf("repair: replica_drop v%d node %d\n", v, i); \
		row[R(i, v)] = 0; garb[R(i, v)] = 1 \
	:: else \
	fi
/* plan_drop, part 2: a live one beyond the goal (pressure: any of them) */
#define DROPLIVE(i, v) \
	:: LIVE1(i, v) -> \
		printf("repair: replica_drop v%d node %d\n", v, i); \
		row[R(i, v)] = 0; garb[R(i, v)] = 1

#define ABAND(v) (row[R(0, v)] == WRITING || row[R(1, v)] == WRITING || \
		  row[R(2, v)] == WRITING)

/* plan_delete: frag_delete of a garbage row.  Only garbage of the
 * committed version is deleted here: files of a superseded version can
 * never matter again (no later commit can make it current), and deleting
 * them would only add states. */
#define DELETE1(n, v) \
	:: atomic { FREE_SLOT && v == committed && GARBAGE(n, v) -> \
		printf("repair: frag_delete v%d to node %d\n", v, n); \
		submit(DELETE, v, n, 0) }

proctype repair() {
	byte t, tg, sr;
end_off: REPAIR;        /* REPAIR 0: no repair loop in this scenario */
end:	do
	/* 1. under goal (plan_copy): a target without any row or garbage of
	 * the version, a source among the live ok replicas */
	:: atomic { CAN_COPY(committed) ->
		if
		:: TARGET(0, committed) -> tg = 0
		:: TARGET(1, committed) -> tg = 1
		:: TARGET(2, committed) -> tg = 2
		fi;
		if
		:: LIVE1(0, committed) -> sr = 0
		:: LIVE1(1, committed) -> sr = 1
		:: LIVE1(2, committed) -> sr = 2
		fi;
		printf("repair: frag_copy v%d from node %d to node %d\n",
		       committed, sr, tg);
		submit(COPY, committed, tg, sr);
		tg = 0; sr = 0 }
	/* (2. rebalance is not modelled) */
	/* 3. over goal (plan_drop): one replica_drop entry */
	:: atomic { committed != 0 && LIVE(committed) >= GOAL &&
		    ROWS(committed) > GOAL && !COPY_ACTIVE ->
		DROP1(0, committed);
		DROP1(1, committed);
		DROP1(2, committed);
		do
		:: LIVE(committed) > GOAL ->
			if
			DROPLIVE(0, committed)
			DROPLIVE(1, committed)
			DROPLIVE(2, committed)
			fi
		:: else -> break
		od }
	/* drop_abandoned: the writing rows of a version "opened an hour ago"
	 * (any time here) are proposed as garbage; applied later */
	:: atomic { ABANDON && ab_v == 0 && (ABAND(1) || ABAND(2) || ABAND(3) || ABAND(4)) ->
		if
		:: ABAND(1) -> ab_v = 1
		:: ABAND(2) -> ab_v = 2
		:: ABAND(3) -> ab_v = 3
		:: ABAND(4) -> ab_v = 4
		fi;
		ab_nodes = (row[R(0, ab_v)] == WRITING) |
			   ((row[R(1, ab_v)] == WRITING) << 1) |
			   ((row[R(2, ab_v)] == WRITING) << 2);
		printf("repair: propose replica_drop of abandoned v%d (nodes %d)\n",
		       ab_v, ab_nodes) }
	/* 4. garbage on nodes that are not dead (plan_delete) */
	DELETE1(0, 1) DELETE1(0, 2) DELETE1(0, 3) DELETE1(0, 4)
	DELETE1(1, 1) DELETE1(1, 2) DELETE1(1, 3) DELETE1(1, 4)
	DELETE1(2, 1) DELETE1(2, 2) DELETE1(2, 3) DELETE1(2, 4)
	FINISH(0)
	FINISH(1)
	od
}

/* ==== data nodes (data/service.c handle_write and forward, handle_copy,
 * handle_delete; data/store.c: temp file, fsync, rename) ================ */

/* frag_write at node n of writer w's chain: store, then forward or answer */
inline node_write(n, w) {
	if
	:: NODE_FENCING && cw[w].ep < seen[n] ->
		/* FENCED: a failed answer naming this node */
		printf("node %d: v%d of w%d FENCED (epoch %d < %d)\n",
		       n, cw[w].v, w, cw[w].ep, seen[n]);
		cw[w].hop = NONE;
		if
		:: cw[w].ack == A_NONE -> cw[w].ack = A_FAIL; cw[w].failed = n
		:: else
		fi
	:: else ->
		if
		:: cw[w].ep < seen[n] -> fenced_store = 1
		:: else -> seen[n] = cw[w].ep
		fi;
		/* temp file, fsync, rename to (ino, idx, v): one step */
		printf("node %d: stored v%d of w%d (epoch %d)\n",
		       n, cw[w].v, w, cw[w].ep);
		file[R(n, cw[w].v)] = cw[w].d;
#ifdef BROKEN_ACK_BEFORE_ALL
		/* mutation: the head answers before its successors stored */
		if
		:: cw[w].hop == 0 && cw[w].ack == A_NONE -> cw[w].ack = A_OK
		:: else
		fi;
#endif
		if
		:: cw[w].hop == GOAL - 1 ->
			/* the tail: the answer flows back, all stored it */
			cw[w].hop = NONE;
			if
			:: cw[w].ack == A_NONE -> cw[w].ack = A_OK
			:: else
			fi
		:: else -> cw[w].hop++          /* forward */
		fi
	fi
}

#define AT(w, n) (cw[w].hop != NONE && cw[w].cn[cw[w].hop] == n)

/* frag_copy (copy_local) and frag_delete (handle_delete) at node n */
inline node_task(n, t) {
	if
	:: task[t].gen != gen && task[t].kind == DELETE && !STALE_DELETE ->
		skip                            /* abandoned delete: lost */
	:: task[t].kind == COPY ->
		if
		:: file[R(n, task[t].v)] == crc[task[t].v] ->
			skip                    /* an identical replica is here */
		:: file[R(n, task[t].v)] != crc[task[t].v] &&
		   up[task[t].src] && file[R(task[t].src, task[t].v)] != 0 &&
		   file[R(task[t].src, task[t].v)] == crc[task[t].v] ->
			/* pull, check the crc, commit durably */
			printf("node %d: copied v%d from node %d\n", n,
			       task[t].v, task[t].src);
			file[R(n, task[t].v)] = file[R(task[t].src, task[t].v)]
		:: else -> task[t].st = T_FAIL  /* source gone or differs */
		fi
	:: else ->
		if
		:: task[t].gen != gen ->
			printf("node %d: deleted v%d (a stale request)\n", n,
			       task[t].v)
		:: else -> printf("node %d: deleted v%d\n", n, task[t].v)
		fi;
		file[R(n, task[t].v)] = 0
	fi;
	if
	:: task[t].gen != gen -> task[t].st = T_LOST   /* nobody waits */
	:: task[t].gen == gen && task[t].st == T_SENT -> task[t].st = T_OK
	:: else
	fi
}

#define TASK_AT(t, n) (task[t].st == T_SENT && task[t].node == n)

/* a node that is down: its predecessor (or the writer) gets no answer
 * and names it in a failed answer */
#define DOWN_AT(w, n) \
	:: atomic { !up[n] && AT(w, n) -> cw[w].hop = NONE; \
		printf("node %d: down, v%d of w%d goes no further\n", n, cw[w].v, w); \
		if \
		:: cw[w].ack == A_NONE -> cw[w].ack = A_FAIL; cw[w].failed = n \
		:: else \
		fi }

proctype datanode(byte n) {
end:	do
	:: atomic { up[n] && AT(0, n) -> node_write(n, 0) }
	:: atomic { up[n] && AT(1, n) -> node_write(n, 1) }
	DOWN_AT(0, n)
	DOWN_AT(1, n)
	:: atomic { up[n] && TASK_AT(0, n) -> node_task(n, 0) }
	:: atomic { up[n] && TASK_AT(1, n) -> node_task(n, 1) }
	:: atomic { !up[n] && TASK_AT(0, n) -> task[0].st = T_FAIL;
		printf("node %d: down, the repair call fails\n", n) }
	:: atomic { !up[n] && TASK_AT(1, n) -> task[1].st = T_FAIL;
		printf("node %d: down, the repair call fails\n", n) }
	/* crash: temp files are lost, replica files survive */
	:: atomic { up[n] && FAULT(CRASH) -> up[n] = 0; faults++;
		printf("node %d: crashed\n", n) }
	/* restart: node_register makes it alive at once (dmap.c
	 * op_node_register), whatever the leader thought */
	:: atomic { !up[n] -> up[n] = 1; dead[n] = 0;
		printf("node %d: restarted, registered: alive\n", n) }
	od
}

/* ==== the network loses messages (bounded) ============================== */
#define LOSE_CHAIN(w) \
	:: atomic { FAULT(LOSS) && (cw[w].hop != NONE || cw[w].ack != A_NONE) -> \
		printf("net: the chain write of w%d or its answer is lost\n", w); \
		cw[w].hop = NONE; cw[w].ack = A_NONE; faults++ }
#define LOSE_COMMIT(w) \
	:: atomic { FAULT(LOSS) && (cm[w].st == C_SENT || cm[w].st == C_OK || \
		    cm[w].st == C_REFUSED) -> \
		printf("net: the commit of w%d or its answer is lost\n", w); \
		cm[w].st = C_LOST; faults++ }
#define LOSE_TASK(t) \
	:: atomic { FAULT(LOSS) && (task[t].st == T_SENT || task[t].st == T_OK || \
		    task[t].st == T_FAIL) -> \
		printf("net: a repair call or its answer is lost\n"); \
		task[t].st = T_LOST; faults++ }

proctype network() {
end:	do
	LOSE_CHAIN(0)
	LOSE_CHAIN(1)
	LOSE_COMMIT(0)
	LOSE_COMMIT(1)
	LOSE_TASK(0)
	LOSE_TASK(1)
	od
}

/* ==== writers (client/fileio.c write_fragment, open_version,
 * chain_write, commit_version; the write lease of DESIGN.md section 4) == */

/* frag_open: placement (repair.c repair_place) then dmap.c op_frag_open.
 * Keeps the live holders of the committed version that are not excluded,
 * fills the chain with other nodes neither dead nor excluded, in any
 * order; fewer than GOAL: UNAVAILABLE (degraded_writes = no). */
#define PICK(i) \
	:: !dead[i] && !((excl | taken) & (1 << i)) -> \
		cw[w].cn[k] = i; taken = taken | (1 << i)

inline frag_open(w) {
	k = 0; taken = 0; i = 0;
	do
	:: i < NN ->
		if
		:: committed != 0 && LIVE1(i, committed) ->
			taken = taken | (1 << i);
			if
			:: !(excl & (1 << i)) && k < GOAL -> cw[w].cn[k] = i; k++
			:: else
			fi
		:: else
		fi; i++
	:: else -> break
	od;
	do
	:: k < GOAL ->
		if
		PICK(0)
		PICK(1)
		PICK(2)
		:: else -> break
		fi; k++
	:: else -> break
	od;
	if
	:: k == GOAL && next_version < NV ->
		v = next_version; next_version++;
		i = 0;
		do
		:: i < GOAL -> row[R(cw[w].cn[i], v)] = WRITING; i++
		:: else -> break
		od;
		printf("w%d: frag_open: v%d on chain %d %d\n", w, v,
		       cw[w].cn[0], cw[w].cn[1]);
		/* chain_write: the data leaves for the head of the chain */
		cw[w].v = v; cw[w].ep = myep; cw[w].d = w + 1;
		cw[w].hop = 0; cw[w].ack = A_NONE; cw[w].failed = 0
	:: else ->
		printf("w%d: frag_open: UNAVAILABLE\n", w);
		v = 0
	fi;
	i = 0; k = 0; taken = 0
}

/* One write (pwrite + close) per writer.  Each step that sends a request
 * first checks the writer's own view of its lease. */
proctype writer(byte w) {
	byte myep, v, att, excl, i, k, taken;
	/* take the write lease (waits while the other writer holds one) */
	atomic { lease[1 - w] == 0 ->
		if
		:: epoch < MAXEPOCH ->
			epoch++; lease[w] = epoch; myep = epoch; mine[w] = 1;
			printf("w%d: write lease, epoch %d\n", w, epoch)
		:: else -> goto done
		fi;
		goto open
	}
retry:	/* the chain failed: exclude the node it names, or the head when
	 * nothing came back; then a new version on a new chain */
	atomic {
		if
		:: cw[w].ack == A_FAIL -> excl = excl | (1 << cw[w].failed);
			printf("w%d: v%d failed at node %d\n", w, v, cw[w].failed)
		:: else -> excl = excl | (1 << cw[w].cn[0]);
			printf("w%d: v%d: no answer from node %d\n", w, v, cw[w].cn[0])
		fi;
		cw[w].ack = A_NONE; cw[w].failed = 0;
		goto open
	}
open:	atomic {
		if
		:: att >= ATTEMPTS || !mine[w] -> goto failed
		:: else -> att++
		fi;
		frag_open(w);
		if
		:: v == 0 -> goto failed
		:: else
		fi
	}
	/* the head's answer, or a timeout */
	if
	:: cw[w].ack == A_FAIL -> goto retry
	:: cw[w].hop == NONE && cw[w].ack == A_NONE -> goto retry
	:: atomic { cw[w].ack == A_OK ->
		/* frag_commit, if the lease is still its own */
		cw[w].ack = A_NONE;
		if
		:: !mine[w] -> goto failed
		:: else -> cm[w].v = v; cm[w].ep = myep; cm[w].st = C_SENT;
			printf("w%d: chain stored v%d: frag_commit\n", w, v)
		fi }
	fi;
	/* the commit's answer: close() returns, or an error */
	atomic { cm[w].st == C_OK || cm[w].st == C_REFUSED || cm[w].st == C_LOST ->
		if
		:: cm[w].st == C_OK -> acked[w] = v;
			printf("w%d: close() returned: v%d acknowledged\n", w, v)
		:: else
		fi;
		goto failed
	}
failed:	/* release the lease; forget the attempt */
	atomic {
		if
		:: acked[w] == 0 -> printf("w%d: the write failed\n", w)
		:: else
		fi;
		cm[w].st = C_NONE; cm[w].v = 0; cm[w].ep = 0;
		if
		:: mine[w] -> lease[w] = 0; mine[w] = 0
		:: else
		fi;
		v = 0; excl = 0; att = 0; myep = 0
	}
done:	skip
}

/* ==== a reader (client/fileio.c fio_pread: frag_locate, frag_read) ======
 * One step: locate (the committed version, a readable replica) and read
 * it.  Reading later instead would give nothing more: a replica file
 * (node, version) only ever holds that version's data, or nothing (p2). */
#define READ(i) \
	:: atomic { committed != 0 && row[R(i, committed)] == OK && !dead[i] && \
		    up[i] && file[R(i, committed)] != 0 && \
		    file[R(i, committed)] != crc[committed] -> bad_read = 1; \
		printf("reader: v%d from node %d: data %d, committed %d\n", \
		       committed, i, file[R(i, committed)], crc[committed]) }

proctype reader() {
end:	do
	READ(0)
	READ(1)
	READ(2)
	od
}

init {
	atomic {
		up[0] = 1; up[1] = 1; up[2] = 1;
		cw[0].hop = NONE; cw[1].hop = NONE;
#if PRESET
		/* a version written before: v1 on nodes 0 and 1 (data 3) */
		committed = 1; crc[1] = 3; next_version = 2;
		row[R(0, 1)] = OK; row[R(1, 1)] = OK;
		file[R(0, 1)] = 3; file[R(1, 1)] = 3;
#endif
		run leader();
		run repair();
		run network();
		run datanode(0);
		run datanode(1);
		run datanode(2);
#if WRITERS > 0
		run writer(0);
#endif
#if WRITERS > 1
		run writer(1);
#endif
		run reader()
	}
}
