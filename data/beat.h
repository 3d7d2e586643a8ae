/* beat.h - a data node's link to the metadata leader: registration, heartbeats and the scrub. */
#ifndef CFS_DATA_BEAT_H
#define CFS_DATA_BEAT_H

/*
 * One thread (docs/data-path.md "Node registry", "Repair, GC, scrub"):
 *
 *  1) registers the node (`node_register`: uuid, advertised address,
 *     labels, capacity, free) with the metadata leader, retrying every
 *     second until it is answered, and hands the id to the service
 *     (service_set_id());
 *  2) sends `node_heartbeat` every heartbeat_ms; a heartbeat answered
 *     ENOENT (the leader does not know the node) registers again;
 *  3) between heartbeats, scrubs: reads every replica of the store in full
 *     (store_verify), at most scrub_rate bytes per second, reports a corrupt
 *     one with `replica_bad`, and rests 60 s after each full pass;
 *  4) between heartbeats, checks the store's files with the leader and
 *     deletes those it has no record of (data/inventory.h).
 *
 * A registration refused with EPERM (the node was removed by an operator)
 * is not retried quickly: an ERROR is logged every minute, and the node
 * keeps serving reads.  Requests go with client id 0 (no session) and
 * follow NOTLEADER redirects (client/metaclient.h).
 */

#include <stdint.h>

struct beat;
struct service;
struct store;

struct beat_options {
	const char *meta;      /* metadata servers, "h:p,h:p" (copied) */
	const char *uuid;      /* this node's 36-character uuid (copied) */
	const char *advertise; /* HOST:PORT others reach us at (copied) */
	const char *labels;    /* "k=v,..." or "" (copied) */
	int heartbeat_ms;      /* <= 0: 1000 */
	uint64_t scrub_rate;   /* bytes/s; 0: no scrub */
	int64_t scrub_interval_ms; /* rest between passes */
	int64_t inventory_interval_ms; /* 0: no inventory checks */
	int64_t inventory_grace_ms;
};

/*
 * Start the thread.  @o is borrowed for the call (its strings are copied);
 * @st and @svc are borrowed and must outlive the beat (stop it first).
 * @svc may be NULL: then no id is handed over and load and io_errors are
 * reported as 0.
 * @errmsg: CFS_ERRMSG_SIZE bytes, caller-owned.  On success *@out is a
 * running beat that the caller stops and frees with beat_stop(); on failure
 * (CFS_CONFIG: a string too long or a bad address list; CFS_ENOMEM;
 * CFS_INTERNAL: no thread) *@out is untouched.  Not reaching the metadata servers is not a failure:
 * the thread keeps trying.
 */
int beat_start(struct beat **out, const struct beat_options *o,
	       struct store *st, struct service *svc, char *errmsg);

/* Stop the thread (at once when it waits; a request in flight may take
 * up to its 5 s deadline), free *@b and set it to NULL.  NULL or *@b NULL:
 * no-op. */
void beat_stop(struct beat **b);

#endif /* CFS_DATA_BEAT_H */
