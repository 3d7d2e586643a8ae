/* inventory.h - a data node's inventory check: replica files the metadata has no record of are deleted. */
#ifndef CFS_DATA_INVENTORY_H
#define CFS_DATA_INVENTORY_H

/*
 * Files the metadata does not know are left behind by work it gave up on
 * or forgot: a repair copy that completed after the leader stopped
 * waiting for it, or after a leader change; a write whose `writing` rows
 * and garbage rows went with a node's removal; a crash between a file's
 * creation and its garbage row.  Nothing else ever deletes them
 * (docs/data-path.md "Inventory").
 *
 * Every interval_ms the beat thread lists the store, then, in steps of at
 * most 200 ms between heartbeats:
 *  1) sends the leader the keys of up to WIRE_MAX_replica files at a time
 *     (`node_inventory`, with the node's id and uuid), skipping files
 *     modified or renamed less than grace_ms ago: a copy or write in
 *     progress, or one whose row the leader has yet to apply; the leader
 *     answers which it has no row for on this node (no replica in any
 *     state, no garbage), or refuses a node it has as dead or removed;
 *  2) once every file was asked about, deletes the unknown ones, newest
 *     version of a fragment first, each under its fragment's claim
 *     (service_delete_stamp, as a frag_delete) and with the incarnation
 *     read from its header before asking (a header that does not check:
 *     0, and deleted all the same), so a copy of the same key that landed
 *     meanwhile stays;
 *  unless more than half of what was asked about (and more than 16 files)
 *  is unknown: that is a node that lost its identity or metadata restored
 *  from an older backup, not garbage, and nothing is deleted (an ERROR).
 * A pass whose node id changes (registered again) is abandoned.
 */

#include <stdint.h>

#include "common/wire.h"

struct inventory;
struct mc;
struct service;
struct store;

struct inventory_options {
	int64_t interval_ms; /* between passes; 0: no inventory checks */
	int64_t grace_ms;    /* files younger than this are not asked about */
};

/* A checker of @st, deleting through @svc (may be NULL: store_delete_stamp
 * directly, without claims); both borrowed and must outlive it.  Its first
 * pass is due one interval from now.  CFS_ENOMEM. */
int inventory_new(struct inventory **out, const struct inventory_options *o,
		  struct store *st, struct service *svc, char *errmsg);

/* NULL-safe; sets *@iv to NULL. */
void inventory_free(struct inventory **iv);

/* When the next step is due (CLOCK_MONOTONIC ns); INT64_MAX: never. */
int64_t inventory_due(const struct inventory *iv);

/* One step at @now (ns): list the store to start a pass, ask the leader
 * through @mc about one batch as node @node_id with @uuid (@reply: room
 * for the answer), or delete some of what it does not know. */
void inventory_step(struct inventory *iv, struct mc *mc, uint64_t node_id,
		    const char *uuid, union wire_body *reply, int64_t now);

#endif /* CFS_DATA_INVENTORY_H */
