/* clease.h - a mount's leases: what it may cache and until when, and the threads that answer recalls. */
#ifndef CFS_CLIENT_CLEASE_H
#define CFS_CLIENT_CLEASE_H

/*
 * The client half of docs/leases.md.  One `struct clease` per mount holds
 * the leases the mount was granted (a read lease: it may cache the inode's
 * attributes, data and, for a directory, entries; a write lease: also
 * buffer writes) and runs two threads:
 *
 *  - the watcher keeps one lease_watch in flight on its own session (the
 *    leader answers it with the inodes other mounts are waiting for);
 *  - the recaller gives each such lease up: marks it recalling (unusable
 *    from then on), flushes dirty data unless it was a read lease (also
 *    when the mount no longer knows the lease), has the
 *    cache dropped, releases it, and has the cache dropped once more
 *    (anything cached between the first drop and the release came from
 *    before the release and may be stale after it).  It also releases the
 *    least recently used leases past max_leases.
 *
 * A lease is usable only while the session that got it is surely alive
 * (mc_alive_until(): the last acknowledged keepalive plus 8/10 of the
 * session lease; the leader waits a whole lease before expiring it).  When
 * a session passes that point, or is replaced, every lease is dropped and
 * the cache with it.
 *
 * Deadlock rules for callers: clease_get() may wait for another mount's
 * recall, so never call it while holding a lock the flush or invalidate
 * callbacks take; and while an inode is being recalled it answers
 * CFS_LEASE_BUSY at once (the caller goes without), since the recall may
 * be waiting for the caller (a kernel page lock held by a FUSE read).
 *
 * Thread safety: every call is safe from any thread.
 */

#include <stdint.h>

#include "client/metaclient.h"
#include "common/wire.h"

struct clease;

/* What the recaller needs from the mount.  Called on the recaller thread
 * without any clease lock held, but for granted. */
struct clease_ops {
	/* Write out and commit @ino's dirty data (its write lease, or a
	 * lease the mount forgot, is being recalled), waiting for writes in
	 * progress: what they buffer under the lease must go out before it
	 * is released.  0 or a CFS code (logged; the lease goes anyway). */
	int (*flush)(void *data, uint64_t ino);
	/* Drop what is cached of @ino: attributes, data, and for a
	 * directory its entries. */
	void (*invalidate)(void *data, uint64_t ino);
	/* The mount holds a lease on @ino again after a time without one
	 * (may be NULL): what it cached of @ino before may be stale.  Called
	 * with the clease lock held: must not call into clease. */
	void (*granted)(void *data, uint64_t ino);
	/* The session the recaller's calls go on (the mount's; a session
	 * takes calls from any thread). */
	struct mc *(*borrow)(void *data);
};

struct clease_options {
	const char *servers;  /* the metadata servers (borrowed) */
	void *zmq_context;    /* borrowed, may be NULL */
	uint64_t owner;       /* the mount's lease owner: mc_lease_owner() of
				 its first session */
	unsigned max_leases;  /* leases kept at most; 0 = 100000 */
	uint32_t lease_ms;    /* session lease to ask for; 0 = 10000 */
	int deadline_ms;      /* for releases; 0 = 15000 */
};

/* Start the watcher and recaller (opening the watcher's session).  On
 * success *out must be stopped with clease_stop().  @ops and @data must
 * stay valid until then. */
int clease_start(struct clease **out, const struct clease_options *opt,
		 const struct clease_ops *ops, void *data, char *errmsg);

/* Stop the threads and forget every lease (they end with the mount's
 * sessions).  Sets *c to NULL; NULL-safe. */
void clease_stop(struct clease **c);

/* How many milliseconds a lease of at least @type on @ino stays usable
 * (0: none, being recalled, or its session not surely alive).  Marks the
 * lease recently used. */
int64_t clease_valid(struct clease *c, uint64_t ino, int type);

/* The epoch of the write lease on @ino, if the mount holds one it may use
 * (as clease_valid); else 0.  Data buffered under it goes out naming it
 * (client/ofile.h lease_epoch). */
uint64_t clease_write_epoch(struct clease *c, uint64_t ino);

/*
 * Make sure the mount holds a lease of at least @type on @ino, asking over
 * @mc (borrowed) if not.  Cases:
 *  1) held already: 0, *fresh = 0;
 *  2) granted now: 0, *fresh = 1 and *attr (if not NULL) the attributes at
 *     the grant;
 *  3) another mount holds one in the way: recalled, and asked again after
 *     2 ms doubling to 100 ms for up to @wait_ms; then CFS_LEASE_BUSY;
 *  4) being recalled from this mount: CFS_LEASE_BUSY at once;
 *  5) other errors of lease_get (CFS_ENOENT, ...).
 */
int clease_get(struct clease *c, struct mc *mc, uint64_t ino, int type,
	       int wait_ms, struct wire_attr *attr, int *fresh, char *errmsg);

/* Was a lease on @ino recalled from this mount in the last 2 s?  (Then a
 * lease that is only nice to have is better not asked for again yet.) */
int clease_recalled_lately(struct clease *c, uint64_t ino);

/* Wait up to @wait_ms until @ino is not being recalled from this mount
 * (then clease_get asks the server again).  Only for callers that hold
 * nothing the recall may need (clease.h "Deadlock rules").  0, or
 * CFS_ETIMEDOUT. */
int clease_wait_recall(struct clease *c, uint64_t ino, int wait_ms);

/* A lease granted with another reply (mknod with CFS_MKNOD_LEASE) over
 * @mc.  @mark: clease_mark() taken before the request was sent.  If the
 * mount was meanwhile asked to give up a lease it did not know of (this
 * one, recalled before its reply came: the release dropped it on the
 * server), the grant is not recorded. */
uint64_t clease_mark(struct clease *c);
void clease_granted(struct clease *c, struct mc *mc, uint64_t ino, int type,
		    uint64_t epoch, uint64_t mark);

/* The mount removed @ino itself: its lease went with it. */
void clease_forget(struct clease *c, uint64_t ino);

/* Session @mc, which leases may have been granted through, is about to be
 * closed (and freed): its leases go with it (their caches dropped), and
 * nothing looks at @mc from now on.  NULL-safe. */
void clease_session_closing(struct clease *c, struct mc *mc);

struct clease_stats {
	uint64_t held, granted, recalled, evicted, expired;
};
void clease_stats(struct clease *c, struct clease_stats *st);

#endif /* CFS_CLIENT_CLEASE_H */
