/* repair.h - the leader's data-node manager: liveness, placement, re-replication, garbage collection. */
#ifndef CFS_META_REPAIR_H
#define CFS_META_REPAIR_H

/*
 * Runs on the metadata leader only (docs/data-path.md "Repair, GC").
 *
 *  - Liveness: data nodes heartbeat every second; heartbeats are not
 *    logged.  The leader keeps each node's last contact, free space and
 *    load in memory, starting every clock afresh when it takes over, and
 *    proposes the state changes (dead, alive again, full) through the log.
 *  - Placement: chooses the nodes of a new fragment version before the
 *    leader proposes frag_open (meta/placement.c decides; this module
 *    supplies the live view of the nodes).
 *  - Repair: every tick it scans the data map for fragments below their
 *    goal (fewest live copies first) and has worker threads copy them
 *    node-to-node (frag_copy), within a byte rate and a number of copies
 *    in flight; finished copies are proposed as replica_add.  Extra copies
 *    (above goal, on draining or dead nodes, corrupt) are proposed as
 *    replica_drop once the goal is met; garbage replica files are deleted
 *    on their nodes (frag_delete) and then proposed as deleted.
 *
 * Everything but the workers runs on the server's loop thread.  The data
 * map (meta/dmap.h) is passed in on each call because a snapshot restore
 * replaces it.
 */

#include <stdint.h>
#include <uv.h>

#include "common/wire.h"
#include "meta/dmap.h"

struct repair;

struct repair_options {
	int64_t dead_after_ms;
	uint64_t reserve_bytes;   /* below this free space a node is full */
	int degraded_writes;      /* 1: place fewer than goal when needed */
	const char *spread_label; /* borrowed, e.g. "rack" */
	uint64_t rate;            /* bytes/s of copies */
	int inflight;             /* copies + deletions at once */
	int rebalance;            /* 0: plan no moves */
};

/* Propose a command through the log (the server's enqueue_internal). */
typedef int (*repair_propose_fn)(void *data, uint16_t type, const void *body);

/* @dmap_of(@data) gives the current data map (for planning right after
 * work completes, outside the periodic tick). */
int repair_create(struct repair **out, uv_loop_t *loop,
		  const struct repair_options *opt, repair_propose_fn propose,
		  struct dmap *(*dmap_of)(void *data), void *data,
		  char *errmsg);
/* Stop the workers (waiting for the copies in progress), close the loop
 * handle; *r is freed in the close callback and set to NULL now. */
void repair_destroy(struct repair **r);

/* Leadership: start with fresh clocks for every node; stop forgets the
 * in-memory view and ignores results of work still in progress. */
void repair_lead(struct repair *r, int leading, uint64_t now_ms);

/* A heartbeat.  Returns 0, or CFS_ENOENT if the node is not registered
 * (it must register again), with errmsg set. */
int repair_heartbeat(struct repair *r, struct dmap *d,
		     const struct wire_node_heartbeat *hb, uint64_t now_ms,
		     char *errmsg);

/* Fill fo->placed for a new version of fragment (fo->ino, fo->idx).
 * CFS_UNAVAILABLE when fewer nodes than the goal are usable and degraded
 * writes are refused, or when none is. */
int repair_place(struct repair *r, struct dmap *d, struct wire_frag_open *fo,
		 uint64_t now_ms, char *errmsg);

/* Whether a frag_commit that asks to reopen may: the version it commits
 * goes to the goal's number of nodes, every one of them one placement
 * would keep for the next version (alive as this leader sees it, not
 * draining, not full).  1 yes, 0 no. */
int repair_reopen_ok(struct repair *r, struct dmap *d,
		     const struct wire_frag_commit *fc, uint64_t now_ms);

/* Periodic work (every few hundred ms while leading and confirmed);
 * @applied: the state machine's last applied index (no change since a scan
 * that found nothing to do means no scan is needed). */
void repair_tick(struct repair *r, struct dmap *d, uint64_t applied,
		 uint64_t now_ms);

/* How many planning passes (scans of the data map) ran so far: an idle
 * cluster should stop scanning (tests). */
uint64_t repair_scans(const struct repair *r);

/* The registry with the leader's live view, counts and repair progress. */
void repair_status(struct repair *r, struct dmap *d,
		   struct wire_node_list_reply *out, uint64_t now_ms);

#endif /* CFS_META_REPAIR_H */
