/* locksess.h - the advisory-lock session of a client: flock and fcntl locks through one metadata session of their own. */
#ifndef CFS_CLIENT_LOCKSESS_H
#define CFS_CLIENT_LOCKSESS_H

/*
 * cfs-fuse and libcfs send every lock request (docs/locks.md) over one
 * metadata session of their own, opened at the first lock call: the
 * metadata service knows a lock's holder by its session, and the pool
 * sessions are borrowed by whichever request comes.  Closing the session
 * drops every lock still held through it.
 *
 * Lock owners are the caller's: the metadata service compares (session,
 * owner, kind).  Conflicts are not queued on the server: a blocking
 * request polls (locksess_set with @wait).
 *
 * Threads: every call is safe from any thread; requests on the session
 * go one at a time (a blocking locksess_set does not hold it while it
 * sleeps).
 */

#include <fcntl.h>
#include <stdint.h>

#include "client/metaclient.h"

#define LOCKSESS_WAIT_MIN_MS 2   /* a blocking lock retries after this, */
#define LOCKSESS_WAIT_MAX_MS 100 /* doubling up to this */

struct locksess;

/* Returns nonzero when a blocking lock's caller gave up waiting. */
typedef int (*locksess_interrupted_fn)(void *arg);

/*
 * A lock session for the metadata servers @servers, to be opened with @mo
 * at the first call (both copied; mo->zmq_context, if any, must outlive
 * the session) and whose calls wait up to @call_timeout_ms.  No I/O here.
 * CFS_ENOMEM.
 */
int locksess_new(struct locksess **out, const char *servers,
		 const struct mc_options *mo, int call_timeout_ms);

/* Close the session (dropping its locks) and free; sets *s to NULL.
 * NULL-safe. */
void locksess_close(struct locksess **s);

/*
 * Set, change or remove (type F_UNLCK) @rq's lock.  A conflict is
 * CFS_EAGAIN, unless @wait: then it is retried, LOCKSESS_WAIT_MIN_MS
 * doubling to LOCKSESS_WAIT_MAX_MS (no fairness), until granted or
 * @interrupted (may be NULL) says so: CFS_EINTR.  A POSIX request marks
 * the session (locksess_posix_used) even when it fails.
 */
int locksess_set(struct locksess *s, const struct wire_lock_set *rq,
		 int wait, locksess_interrupted_fn interrupted, void *arg,
		 char *errmsg);

/* F_GETLK: the first lock conflicting with @rq into *fl as fcntl(2) has
 * it (l_whence SEEK_SET, l_len 0 for "to the end"); when none, only
 * fl->l_type is set, to F_UNLCK. */
int locksess_get(struct locksess *s, const struct wire_lock_get *rq,
		 struct flock *fl, char *errmsg);

/* Drop @owner's locks of @kind (CFS_LOCK_POSIX, CFS_LOCK_FLOCK) on
 * @ino. */
int locksess_release(struct locksess *s, uint64_t ino, uint64_t owner,
		     int kind, char *errmsg);

/* Was a POSIX lock ever asked for?  Until then a close need not release
 * any (a cheap test before locksess_release). */
int locksess_posix_used(struct locksess *s);

#endif /* CFS_CLIENT_LOCKSESS_H */
