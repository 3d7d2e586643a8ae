/* acreate.h - creates answered before they commit: a mount's queue of them, the sessions that send them, and the inode numbers set aside for them. */
#ifndef CFS_CLIENT_ACREATE_H
#define CFS_CLIENT_ACREATE_H

/*
 * docs/leases.md "Creates under a directory lease".  A mount that holds
 * the write lease of a directory (granted with its mkdir) is the only one
 * that reads or changes it: any other mount's lookup, listing or change
 * of it recalls the lease first.  So it can answer a create of a name it
 * knows to be absent at once, with an inode number the leader set aside
 * for it (ino_reserve) and its own clock, and send the mknod behind: the
 * application's create no longer waits for a Raft round, and the mknods
 * of many creates share rounds (group commit).
 *
 * What keeps that equal to a create that waited:
 *  - every other metadata call of the mount waits, before it is sent,
 *    until the creates answered before it are committed (acreate_wait,
 *    installed as the sessions' mc_options.before_call): a later getattr,
 *    unlink, write-out, fsync or lease release never overtakes one;
 *  - the recall of the directory's lease releases it through such a call,
 *    so another mount sees every create answered before the recall;
 *  - the mknod names the directory lease it was answered under and an
 *    inode number reserved for the mount: if the lease or the reservation
 *    went (the mount stopped past its session), it is refused FENCED and
 *    the create is lost, reported in the log, as buffered writes are.
 *
 * The senders send what waits together as one mknods (up to
 * WIRE_MAX_mknod_item creates of one caller): one request, one log
 * command and one reply for many creates.
 *
 * A create is durable once its mknod is committed: before an fsync of the
 * file or of its directory returns, and before any other call of the
 * mount is sent; a close does not wait for it (the data of a file written
 * to is written out after its create, so its close waits for both).
 *
 * Thread safety: every call is safe from any thread.
 */

#include <stdint.h>

#include "client/metaclient.h"
#include "common/wire.h"

struct acreate;

/* One create answered ahead: what the mknod says, and what the mount told
 * the kernel (attr). */
struct acreate_req {
	uint64_t parent;
	char name[CFS_NAME_MAX + 1];
	struct wire_cred cred;
	uint64_t lease_epoch; /* of the mount's write lease on parent */
	struct wire_attr attr; /* ino, mode, uid, gid, times as answered */
	uint64_t mark;         /* clease_mark when answered */
};

struct acreate_ops {
	/* The mknod of @r ended: @rv 0 with @e the leader's entry (its
	 * lease on the new file, granted through session @mc), else the
	 * error and @errmsg.  Called on a
	 * sender thread, before the create stops counting as pending (so
	 * the caller may move what it knows of it elsewhere first); must not
	 * make metadata calls. */
	void (*done)(void *data, struct mc *mc, const struct acreate_req *r,
		     int rv, const struct wire_entry *e, const char *errmsg);
	/* Sender session @mc, which done() named, is about to be closed by
	 * acreate_stop (its senders stopped): whatever keeps @mc must let
	 * go of it now.  May be NULL. */
	void (*closing)(void *data, struct mc *mc);
};

struct acreate_options {
	const char *servers;  /* borrowed */
	void *zmq_context;    /* borrowed, may be NULL */
	uint64_t owner;       /* the mount's lease owner */
	unsigned senders;     /* sessions, so requests in flight; 0 = 4 */
	unsigned queue_max;   /* answered and not yet committed; 0 = 256 */
	int deadline_ms;      /* per mknod; 0 = 15000 */
};

/* Open the senders' sessions and start them.  Free with acreate_stop(). */
int acreate_start(struct acreate **out, const struct acreate_options *opt,
		  const struct acreate_ops *ops, void *data, char *errmsg);

/* Send what is queued (up to @wait_ms; then the rest is dropped with
 * CFS_CANCELED, each told to ops->done), stop the senders, close their
 * sessions.  Later calls answer as with nothing pending (acreate_ino: 0),
 * so threads that may still call acreate_wait are safe until
 * acreate_free.  Again: nothing.  NULL-safe. */
void acreate_stop(struct acreate *a, int wait_ms);

/* Stop (as acreate_stop(a, 0)) and free; sets *a to NULL; NULL-safe. */
void acreate_free(struct acreate **a);

/* An inode number set aside for this mount, or 0 when none is left (more
 * are asked for meanwhile: the create goes the ordinary way). */
uint64_t acreate_ino(struct acreate *a);

/* Queue @r (copied; r->attr.ino from acreate_ino), waiting for room.
 * From now on it is pending until ops->done returned. */
void acreate_queue(struct acreate *a, const struct acreate_req *r);

/* Is a create of @name in @parent pending?  1 with what was answered in
 * *attr, else 0. */
int acreate_pending(struct acreate *a, uint64_t parent, const char *name,
		    struct wire_attr *attr);

/* Is no create pending? */
int acreate_idle(struct acreate *a);

/* Is a create in directory @dir pending (its times are about to move)? */
int acreate_pending_in(struct acreate *a, uint64_t dir);

/* Wait until the queue has room (so that acreate_queue will not). */
void acreate_wait_room(struct acreate *a);

/* Is a create of inode @ino pending?  1 with what was answered in *attr,
 * else 0. */
int acreate_pending_ino(struct acreate *a, uint64_t ino,
			struct wire_attr *attr);

/* Wait until every create queued before this call is no longer pending.
 * (mc_options.before_call of every session of the mount but the
 * senders'.) */
void acreate_wait(void *a);

struct acreate_stats {
	uint64_t queued, committed, failed, reserved;
	uint64_t full; /* creates that waited for room in the queue */
	uint64_t requests; /* mknods and mknod requests they went in */
};
void acreate_stats(struct acreate *a, struct acreate_stats *st);

#endif /* CFS_CLIENT_ACREATE_H */
