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
 * Every interval_ms the beat thread lists the store, and in steps between
 * heartbeats sends the leader the keys of up to WIRE_MAX_replica files at
 * a time (`node_inventory`), skipping files modified less than grace_ms
 * ago: a copy or write in progress, or one whose row the leader has yet
 * to apply.  The leader answers which it has no row for on this node (no
 * replica in any state, no garbage); each of those is deleted with the
 * incarnation read from its header before asking (store_delete_stamp), so
 * a copy of the same key that lands meanwhile stays.  The leader refuses
 * the check for a node it has as dead or removed: every file of such a
 * node looks unknown, and may hold the last copy of something.
 *
 * A file whose header cannot be read is left to the scrub, which reports
 * it.  One thread (the beat's) calls everything here.
 */

#include <stdint.h>

#include "common/wire.h"

struct inventory;
struct mc;
struct store;

struct inventory_options {
	int64_t interval_ms; /* between passes; 0: no inventory checks */
	int64_t grace_ms;    /* files younger than this are not asked about */
};

/* A checker of @st (borrowed; must outlive it), its first pass due one
 * interval from now.  CFS_ENOMEM. */
int inventory_new(struct inventory **out, const struct inventory_options *o,
		  struct store *st, char *errmsg);

/* NULL-safe; sets *@iv to NULL. */
void inventory_free(struct inventory **iv);

/* When the next step is due (CLOCK_MONOTONIC ns); INT64_MAX: never. */
int64_t inventory_due(const struct inventory *iv);

/* One step at @now (ns): list the store to start a pass, or check one
 * batch with the leader through @mc as node @node_id (@reply: room for the
 * answer) and delete what it does not know. */
void inventory_step(struct inventory *iv, struct mc *mc, uint64_t node_id,
		    union wire_body *reply, int64_t now);

#endif /* CFS_DATA_INVENTORY_H */
