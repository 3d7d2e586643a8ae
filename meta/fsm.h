/* fsm.h - the Raft state machine of cfs-meta: batches of commands applied to SQLite, exactly once. */
#ifndef CFS_META_FSM_H
#define CFS_META_FSM_H

/*
 * The state machine owns the SQLite database of one metadata server and is
 * the only code that changes it (STYLE.md practice 6).  What it adds to the
 * namespace (meta/ns.c):
 *
 *  - apply: one Raft entry (meta/entry.h) is a batch of commands; each is a
 *    protocol frame executed in its own SAVEPOINT of one long transaction
 *    that the server commits at the end of the loop turn in which it has
 *    been open for 50 ms (fsm_flush_due), so hundreds of commands share
 *    one SQLite commit (STACK.md: 43.5k vs 11.8k entries/s), and a page
 *    that many of them change reaches the WAL once.
 *  - exactly once (DESIGN.md §2): the `sessions` table keeps, per client,
 *    the last applied sequence and its encoded reply.  A command whose
 *    (client id, sequence) was applied already is not executed again; the
 *    stored reply is sent instead.  Thus a create retried after a leader
 *    change (RAFT_LEADERSHIPLOST: the entry may have committed) never
 *    reports EEXIST.
 *  - idempotent replay: the index of the last applied entry is stored in
 *    the same transaction as its effects (table fsm_state); entries at or
 *    below it are skipped, so a restart that replays the log tail over a
 *    database that already holds it changes nothing
 *    (tests/unit/meta/test_fsm.c: test_apply_replayed_entry_is_skipped).
 *  - snapshots: sqlite3_serialize of the whole database; restore through
 *    an in-memory image and the backup API (STACK.md).
 *
 * Replies: while applying, the fsm hands every command's encoded reply
 * frame to the reply callback.  The leader that proposed the command sends
 * it to the waiting client; everyone else ignores it.
 *
 * Errors: an operation that fails by POSIX rules is a *result* (stored and
 * replied).  A failure of SQLite itself, or an undecodable entry, makes the
 * state machine unusable: apply returns non-zero, fsm_failed() turns true
 * and the server must stop (a replica that skipped an entry would diverge).
 */

#include <raft.h>
#include <sqlite3.h>
#include <stdint.h>

#include "common/wire.h"
#include "meta/dmap.h"
#include "meta/lease.h"
#include "meta/ns.h"

struct fsm;

/* Called for each applied command with its encoded reply frame (header +
 * body; request_id 0, the caller patches it).  @frame is borrowed. */
typedef void (*fsm_reply_fn)(void *data, uint64_t client_id,
			     uint64_t sequence, const uint8_t *frame,
			     size_t len);

/*
 * Open the state machine over the SQLite file @path (":memory:" for tests),
 * creating the tables if absent.  A file that is not a CFS metadata
 * database, or fails SQLite's integrity check, is refused (CFS_CORRUPT):
 * never a silently empty filesystem.  On success *out must be freed with
 * fsm_close().
 */
int fsm_open(struct fsm **out, const char *path, char *errmsg);

/* Commit, close the database, free, set *f = NULL.  NULL-safe. */
void fsm_close(struct fsm **f);

/* The libraft callbacks (version 2: the fsm owns its snapshot buffers).
 * Valid as long as the fsm. */
struct raft_fsm *fsm_raft(struct fsm *f);

/* Tell the fsm which raft instance drives it (apply() learns its entry's
 * index from raft_last_applied()).  Must be called before raft_start(). */
void fsm_attach(struct fsm *f, struct raft *r);

/* Set the reply callback (may be NULL: replies are dropped). */
void fsm_set_reply(struct fsm *f, fsm_reply_fn fn, void *data);

/* Set the callback told, while applying, of every lease in the way of a
 * refused request (meta/lease.h); the leader recalls them.  May be NULL. */
void fsm_set_recall(struct fsm *f, lease_recall_fn fn, void *data);

/* Commit the open batch transaction, if any.  Returns 0 or CFS_INTERNAL
 * (then fsm_failed() is true).  Call it before anything reads the
 * database other than through this fsm's connection. */
int fsm_flush(struct fsm *f, char *errmsg);

/* fsm_flush() if the open transaction began FSM_TX_MAX_MS (50 ms) ago or
 * more; the server calls it every loop turn. */
int fsm_flush_due(struct fsm *f, char *errmsg);

/* True once the state machine hit a fatal error; the message is kept. */
int fsm_failed(struct fsm *f, const char **why);

/* Index of the last applied entry (0 before the first). */
uint64_t fsm_applied(struct fsm *f);

/*
 * Execute a read-only request (ns_is_mutation() false) against the current
 * state and produce its reply frame in *frame (malloc'd, caller frees).
 * The caller has confirmed leadership (a barrier) first.  Returns 0 when
 * a reply frame was produced (which may carry an error status), or
 * CFS_INTERNAL / CFS_ENOMEM.
 */
int fsm_read(struct fsm *f, const struct wire_header *h,
	     const union wire_body *req, uint8_t **frame, size_t *len,
	     char *errmsg);

/*
 * Exactly-once lookup for the leader's fast path.  Returns:
 *  0  session unknown (the client must open a new one);
 *  1  sequence @seq is new;
 *  2  @seq was the last applied: *frame and *len borrow the stored reply
 *     (valid until the next fsm call);
 *  3  @seq is older than the last applied (the client moved on).
 */
int fsm_session_check(struct fsm *f, uint64_t client_id, uint64_t seq,
		      const uint8_t **frame, size_t *len);

/* Call @fn for every open session (for a new leader's expiry clock). */
int fsm_sessions(struct fsm *f,
		 void (*fn)(void *data, uint64_t client_id, uint32_t lease_ms),
		 void *data);

struct fsm_info {
	int formatted;
	uint64_t fragment_size;
	uint32_t default_goal;
	uint64_t sessions;
	uint64_t inodes;
};
int fsm_info(struct fsm *f, struct fsm_info *info);

/* A canonical text dump of every replicated table (rows in key order), for
 * comparing replicas.  *text is malloc'd; caller frees. */
int fsm_dump(struct fsm *f, char **text, size_t *len, char *errmsg);

/* Build an error reply frame for @h with @status and @message (and the
 * leader's address for NOTLEADER).  *frame malloc'd; caller frees. */
int fsm_error_frame(const struct wire_header *h, int status,
		    const char *message, const char *leader, uint8_t **frame,
		    size_t *len);

/* The data map, for the leader's read-only repair scans between applies
 * (meta/dmap.h).  Borrowed; valid until fsm_close() or a restore. */
struct dmap *fsm_dmap(struct fsm *f);

#endif /* CFS_META_FSM_H */
