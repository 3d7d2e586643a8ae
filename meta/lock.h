/* lock.h - advisory locks (flock and POSIX byte ranges) in the state machine: the range rules and the `locks` table. */
#ifndef CFS_META_LOCK_H
#define CFS_META_LOCK_H

/*
 * Locks behave across machines as across processes on one machine
 * (DESIGN.md §4, docs/locks.md).  Two halves:
 *
 *  - the rules, pure (STYLE.md practice 8): whether two locks conflict, and
 *    what an owner's set of byte ranges becomes when it locks or unlocks a
 *    range (POSIX splitting and merging; flock upgrade and downgrade in
 *    place).  No I/O, no globals: tests/unit/meta/test_lock.c.
 *  - the table `locks` (docs/metadata-schema.md) and the three requests
 *    lock_set, lock_get and lock_release, executed like ns_exec() inside the
 *    caller's transaction, reading nothing but their arguments and the
 *    database.
 *
 * A holder is (session, owner): the session is the client id of the
 * request's header, the owner a number the client chooses (an open file for
 * flock, a process for POSIX locks).  flock and POSIX locks never conflict
 * with each other (as on Linux); a holder never conflicts with itself.
 */

#include <sqlite3.h>
#include <stdint.h>

#include "common/wire.h"

/* One lock: who holds it and what it covers, [start, end] inclusive. */
struct lock_range {
	uint64_t client_id;
	uint64_t owner;
	int kind; /* CFS_LOCK_FLOCK, CFS_LOCK_POSIX */
	int type; /* CFS_F_RDLCK, CFS_F_WRLCK (CFS_F_UNLCK only in requests) */
	int64_t start, end;
	uint32_t pid;
};

/* True if the lock @held stands in the way of the request @req (type
 * CFS_F_RDLCK or CFS_F_WRLCK): another holder, the same kind, overlapping ranges,
 * and at least one of the two writes. */
int lock_conflicts(const struct lock_range *held, const struct lock_range *req);

/* The index in @held[0..n) of the first lock in the way of @req, or -1. */
long lock_find_conflict(const struct lock_range *held, size_t n,
			const struct lock_range *req);

/*
 * The locks of @req's holder and kind on one file after @req is applied.
 * @mine[0..n) are that holder's locks of that kind now (non-overlapping, any
 * order); the result goes to @out, which must have room for n + 2 (a range
 * unlocked from the middle of one lock splits it in two), sorted by start;
 * returns how many.  Cases:
 *  1) flock: at most one lock; CFS_F_UNLCK removes it, a type replaces it in
 *     place (upgrade, downgrade) over the whole file;
 *  2) POSIX: the range is first cut out of every lock (splitting one that
 *     covers it on both sides); unless CFS_F_UNLCK, the new range is added and
 *     merged with the holder's locks of the same type that overlap or touch
 *     it (as Linux does), never with those of the other type.
 * The pid of a merged lock is @req's.  Conflicts are the caller's business
 * (lock_find_conflict first).
 */
size_t lock_apply(const struct lock_range *mine, size_t n,
		  const struct lock_range *req, struct lock_range *out);

/* ---- the table --------------------------------------------------------- */

struct lockt;

/* Open over @db (borrowed) after ns_open() created `inodes` (a trigger
 * drops a deleted inode's locks).  Creates the table if absent.  Free with
 * lock_close(). */
int lock_open(struct lockt **out, sqlite3 *db, char *errmsg);
void lock_close(struct lockt **l);

/* True for lock_set, lock_get, lock_release; mutations are all but
 * lock_get, which the leader serves after a barrier like getattr. */
int lock_handles(uint16_t type);
int lock_is_mutation(uint16_t type);

/*
 * Execute one request of session @client_id.  Results as ns_exec():
 *  1) 0: done, *reply_type and *reply filled (ok, or lock_info);
 *  2) an operation result: CFS_EAGAIN (lock_set: another holder's lock is
 *     in the way; nothing changed; @errmsg names it), CFS_ENOENT (no such
 *     inode), CFS_EINVAL (bad kind, type or range);
 *  3) CFS_INTERNAL: SQLite failed (fatal for the caller).
 */
int lock_exec(struct lockt *l, uint64_t client_id, uint16_t type,
	      const union wire_body *req, uint16_t *reply_type,
	      union wire_body *reply, char *errmsg);

/* Drop every lock of session @client_id (its close or expiry, in the same
 * apply).  0 or CFS_INTERNAL. */
int lock_drop_session(struct lockt *l, uint64_t client_id, char *errmsg);

#endif /* CFS_META_LOCK_H */
