/* lease.h - client leases in the state machine: the conflict rules, the `leases` table, and which mutations must wait for a recall. */
#ifndef CFS_META_LEASE_H
#define CFS_META_LEASE_H

/*
 * A lease lets one mount cache an inode (DESIGN.md §4, docs/leases.md):
 * a read lease (shared) its attributes, data and, for a directory, its
 * entries; a write lease (exclusive) also buffered writes.  Two halves:
 *
 *  - the rules, pure (STYLE.md practice 8): lease_conflicts() says whether
 *    a held lease stands in the way of a request; lease_targets() which
 *    inodes a namespace or data mutation changes for someone caching them.
 *    tests/unit/meta/test_lease.c.
 *  - the tables `leases` and `session_owners` (docs/metadata-schema.md)
 *    and the requests lease_get, lease_release and lease_list, executed
 *    like ns_exec() inside the caller's transaction, reading nothing but
 *    their arguments and the database.
 *
 * The holder of a lease is a mount, not a session: every session a mount
 * opens names the same `lease_owner` (session_open), so the mount's own
 * changes never wait for its own leases, whichever session carries them.
 * A lease lives as long as the session that asked for it (its `session`
 * column): session close and expiry drop it in the same apply.
 *
 * Conflicts are refused, never waited for: a request in the way of another
 * mount's lease fails with CFS_LEASE_BUSY and changes nothing, and the
 * recall callback is told each (holder, inode) in the way.  The leader
 * (meta/recall.c) passes that to the holder's lease_watch; other replicas
 * ignore it.  The caller retries (docs/leases.md "Recall").
 */

#include <sqlite3.h>
#include <stdint.h>

#include "common/wire.h"

/* One held lease. */
struct lease_row {
	uint64_t ino, holder, session;
	int type; /* CFS_LEASE_READ, CFS_LEASE_WRITE */
	uint64_t epoch;
};

/* True if @held stands in the way of @holder wanting @type: another holder
 * and at least one of the two writes.  @type 0 means a mutation of the
 * inode, which any other holder's lease stands in the way of. */
int lease_conflicts(const struct lease_row *held, uint64_t holder, int type);

/* The inodes whose cached state a mutation @type with body @req changes
 * directly: its own inode, or the directories whose entries it changes.
 * Up to 4 go to @inos; returns how many.  Inodes named only through a
 * directory entry (the victim of an unlink or rename) are added by the
 * table code, which can look them up (lease_check). */
unsigned lease_targets(uint16_t type, const union wire_body *req,
		       uint64_t *inos);

/* ---- the table --------------------------------------------------------- */

struct leaset;

/* Told of every lease in the way of a refused request (leader: recall). */
typedef void (*lease_recall_fn)(void *data, uint64_t holder, uint64_t session,
				uint64_t ino);

/* What a request runs with: who asks (the session; its owner is looked up)
 * and the Raft index being applied (the epoch of a grant). */
struct lease_ctx {
	uint64_t client_id;
	uint64_t index;
	lease_recall_fn recall; /* may be NULL */
	void *recall_data;
};

/* Open over @db (borrowed) after ns_open() created `inodes` and
 * `dentries` (a trigger drops a deleted inode's leases).  Creates the
 * tables if absent.  Free with lease_close(). */
int lease_open(struct leaset **out, sqlite3 *db, char *errmsg);
void lease_close(struct leaset **l);

/* True for lease_get, lease_release, lease_list, ino_reserve; all but
 * lease_list are mutations (lease_list is a read, served after a
 * barrier).  ino_reserve: the caller takes the numbers from the inode
 * counter (ns_ino_reserve) into reply->ino_reserved, lease_exec notes
 * them as the mount's. */
int lease_handles(uint16_t type);
int lease_is_mutation(uint16_t type);

/*
 * Execute one request.  Results as ns_exec():
 *  1) 0: done, *reply_type and *reply filled (lease_granted without its
 *     attributes, which the caller adds; ok; lease_list_reply);
 *  2) CFS_LEASE_BUSY (lease_get: another holder's lease in the way;
 *     nothing changed; recall told), CFS_ENOENT (no such inode),
 *     CFS_EINVAL (bad type);
 *  3) CFS_INTERNAL: SQLite failed (fatal for the caller).
 */
int lease_exec(struct leaset *l, const struct lease_ctx *c, uint16_t type,
	       const union wire_body *req, uint16_t *reply_type,
	       union wire_body *reply, char *errmsg);

/*
 * Before a mutation (ns or fragment request) of session c->client_id:
 * CFS_FENCED if it is a frag_open or frag_commit naming a write lease
 * (lease_epoch) that the session's holder no longer holds on the inode, or
 * a mknod naming one it no longer holds on the parent or an inode number
 * not reserved for it (CFS_EINVAL: an inode number without a lease);
 * else CFS_LEASE_BUSY if another holder has a lease on an inode it
 * changes (lease_targets, plus the inodes an unlink, rmdir or rename
 * removes or moves), recall told of each; 0 if none; CFS_INTERNAL.
 */
int lease_check(struct leaset *l, const struct lease_ctx *c, uint16_t type,
		const union wire_body *req, char *errmsg);

/*
 * Before a read: a lookup in, getattr or readdir of a directory on which
 * another holder has a write lease is refused CFS_LEASE_BUSY and the
 * holder recalled (it may have answered creates in it that are not
 * committed yet: docs/leases.md "Creates under a directory lease").  0
 * otherwise; CFS_INTERNAL.
 */
int lease_read_check(struct leaset *l, const struct lease_ctx *c,
		     uint16_t type, const union wire_body *req, char *errmsg);
/* The same for directory @ino named in an answer (a lookup's result, a
 * listing's entry: their times may move with the pending creates). */
int lease_dir_check(struct leaset *l, const struct lease_ctx *c, uint64_t ino,
		    char *errmsg);

/*
 * After a mutation succeeded: a mknod with an inode number uses it up (no
 * longer reserved); a mknod with CFS_MKNOD_LEASE grants the creator's
 * mount a write lease on a regular file (unless another holder has a
 * lease on it: an existing file), a read lease on a directory (a write
 * lease with CFS_MKNOD_DIRWRITE); entry.lease and .lease_epoch say what
 * was granted.  0 or CFS_INTERNAL.
 */
int lease_after(struct leaset *l, const struct lease_ctx *c, uint16_t type,
		const union wire_body *req, union wire_body *reply,
		char *errmsg);

/* The lease owner of session @client_id (its mount's; itself if it
 * names none) into *@owner.  0 or CFS_INTERNAL. */
int lease_owner(struct leaset *l, uint64_t client_id, uint64_t *owner,
		char *errmsg);

/* A session opened for lease owner @owner (0: itself). */
int lease_session_opened(struct leaset *l, uint64_t client_id, uint64_t owner,
			 char *errmsg);

/* Drop every lease of session @client_id and its owner row (its close or
 * expiry, in the same apply).  0 or CFS_INTERNAL. */
int lease_drop_session(struct leaset *l, uint64_t client_id, char *errmsg);

#endif /* CFS_META_LEASE_H */
