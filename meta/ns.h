/* ns.h - the POSIX namespace: each metadata operation as a step of one SQLite transaction. */
#ifndef CFS_META_NS_H
#define CFS_META_NS_H

/*
 * This module is the filesystem semantics of cfs-meta and nothing else: it
 * owns the namespace tables (docs/metadata-schema.md) and executes namespace
 * requests against them.  It knows nothing of Raft, sockets or sessions.
 *
 * Determinism (DESIGN.md §2): ns_exec() reads nothing but its arguments and
 * the database.  Time comes from @env (the leader's clock, carried inside
 * the log entry); inode numbers come from a counter stored in the database,
 * so every replica applying the same entries allocates the same numbers.
 *
 * Transactions belong to the caller (meta/fsm.c): it opens one transaction
 * per batch of log entries and a SAVEPOINT per request, and rolls the
 * savepoint back when ns_exec() returns an error, so a failed operation
 * never leaves half its changes behind.
 */

#include <sqlite3.h>
#include <stdint.h>

#include "common/wire.h"

struct ns;

/* Leader-decided inputs of one request, carried in the log entry. */
struct ns_env {
	int64_t now_ns; /* wall clock of the leader when it proposed */
};

/* Filesystem-wide settings chosen at `cluster bootstrap`. */
struct ns_format {
	uint64_t fragment_size; /* bytes per fragment */
	uint32_t default_goal;  /* replicas per fragment for the root */
};

/* Open the namespace over @db (borrowed; must outlive the ns).  Creates the
 * tables if absent (idempotent) and prepares statements.  On success *out
 * is set; free with ns_close(). */
int ns_open(struct ns **out, sqlite3 *db, char *errmsg);

/* Close and set *ns to NULL.  NULL-safe. */
void ns_close(struct ns **ns);

/* True once ns_format() has run on this database. */
int ns_is_formatted(struct ns *ns);

/* Create the root directory (inode 1) and store @fmt.  Runs as the first
 * log entry of a new cluster.  CFS_EEXIST if already formatted. */
int ns_format(struct ns *ns, const struct ns_env *env,
	      const struct ns_format *fmt, char *errmsg);

/* True if requests of @type change the namespace and so must go through
 * the Raft log; false for reads (lookup, getattr, readdir, ...) that the
 * leader serves directly once it has confirmed its leadership. */
int ns_is_mutation(uint16_t type);

/* True if @type is a request this module executes. */
int ns_handles(uint16_t type);

/*
 * Execute one request.  Cases:
 *  1) success: returns CFS_OK, sets *reply_type and fills *reply;
 *  2) the operation fails by POSIX rules (ENOENT, EEXIST, EACCES, ...):
 *     returns that CFS code with @errmsg saying why; this is a *result*
 *     that the caller stores and sends to the client, not a fault;
 *  3) SQLite itself fails: returns CFS_INTERNAL; the caller must treat the
 *     state machine as broken (fatal), never as an operation result.
 * Blob fields of *reply borrow memory owned by @ns, valid until the next
 * call on @ns.
 */
int ns_exec(struct ns *ns, const struct ns_env *env, uint16_t type,
	    const union wire_body *req, uint16_t *reply_type,
	    union wire_body *reply, char *errmsg);

/*
 * The data path's view of a file (meta/dmap.c runs in the same transaction).
 * ns_file_check: @ino must be a regular file that @cred may access with
 * @mask (4 read, 2 write); fills *@attr if not NULL.  Errors: CFS_ENOENT,
 * CFS_EISDIR, CFS_EINVAL (not a regular file), CFS_EACCES.
 * ns_file_written: a write committed: size = max(size, @size), mtime and
 * ctime = now.
 */
int ns_file_check(struct ns *ns, uint64_t ino, const struct wire_cred *cred,
		  int mask, struct wire_attr *attr, char *errmsg);
/* Set @count inode numbers aside (the counter moves past them; they are
 * used only by mknod.ino, never by the counter): *first is the first. */
int ns_ino_reserve(struct ns *ns, uint32_t count, uint64_t *first,
		   char *errmsg);
/* The attributes of @ino, with no permission check (a lease grant tells
 * its holder what it may cache).  CFS_ENOENT. */
int ns_attr(struct ns *ns, uint64_t ino, struct wire_attr *attr,
	    char *errmsg);
int ns_file_written(struct ns *ns, const struct ns_env *env, uint64_t ino,
		    uint64_t size, struct wire_attr *attr, char *errmsg);

/*
 * Asked by setattr before it changes the size of regular file @ino from
 * @old to @size (a shrink frees the data past it through the data map's
 * trigger): a non-zero CFS_* code, with @errmsg saying why, refuses the
 * truncation and nothing changes.  The data map sets it in dmap_open() (a
 * fragment open for patching in place must not be cut, and while the
 * last one is open, appends may have moved the end that @old says:
 * docs/data-path.md "Patching in place") and clears it in dmap_close();
 * @fn NULL: no check.  @arg is borrowed until cleared.
 */
typedef int (*ns_shrink_check_fn)(void *arg, uint64_t ino, uint64_t old,
				  uint64_t size, char *errmsg);
void ns_set_shrink_check(struct ns *ns, ns_shrink_check_fn fn, void *arg);

#endif /* CFS_META_NS_H */
