/* dmap.h - the data map: data nodes, fragments and replicas, as one SQLite transaction step. */
#ifndef CFS_META_DMAP_H
#define CFS_META_DMAP_H

/*
 * The state machine's half of the data path (docs/data-path.md): which data
 * nodes exist and in what state, which version of each fragment is
 * committed, which nodes hold which replicas, and which replica files wait
 * to be deleted.  Like meta/ns.c it knows nothing of Raft or sockets:
 * dmap_exec() runs inside the caller's transaction and reads nothing but
 * its arguments and the database (placement and time are decided by the
 * leader and arrive inside the request).
 *
 * Cleanup follows the namespace through SQL triggers created here: when an
 * inode row is deleted its replicas become garbage, and when a file shrinks
 * the fragments past its end do.  So every path that deletes or truncates a
 * file (unlink, rename over, setattr) frees its data without ns.c knowing.
 *
 * The leader also reads the map to plan repair (dmap_under_goal ...); those
 * calls are read-only and may run between applies.
 */

#include <sqlite3.h>
#include <stdint.h>

#include "common/wire.h"
#include "meta/lease.h"
#include "meta/ns.h"

struct dmap;

/* replicas.state */
#define DMAP_WRITING 0
#define DMAP_OK 1
#define DMAP_BAD 2

/* Open over @db (borrowed) after ns_open() created the namespace tables
 * (the triggers refer to them) and lease_open() the leases table (a
 * fragment open for patching in place is served by whether its write
 * lease lives); @ns is borrowed for file checks, and gets the data map's
 * truncation check (ns_set_shrink_check) until dmap_close(), which must
 * come before ns_close().  Creates the tables and triggers if absent, and
 * adds the columns a database from before lacks.  Free with
 * dmap_close(). */
int dmap_open(struct dmap **out, sqlite3 *db, struct ns *ns, char *errmsg);
void dmap_close(struct dmap **d);

/* The callback told of the holder of a write lease that a frag_locate
 * found in its way (a fragment open for patching in place under it):
 * the leader recalls it (meta/recall.c).  @fn may be NULL (none); @data
 * is borrowed. */
void dmap_set_recall(struct dmap *d, lease_recall_fn fn, void *data);

/* True for the requests dmap_exec() runs; mutation ones go through the
 * log, the others (frag_locate) are served by the leader after a
 * barrier. */
int dmap_handles(uint16_t type);
int dmap_is_mutation(uint16_t type);
/* True for those sent within a client session (exactly-once applies);
 * the others come from data nodes or the leader itself, with client 0. */
int dmap_needs_session(uint16_t type);

/* Execute one request; the result cases are those of ns_exec(). */
int dmap_exec(struct dmap *d, const struct ns_env *env, uint16_t type,
	      const union wire_body *req, uint16_t *reply_type,
	      union wire_body *reply, char *errmsg);

/* ---- leader-side reads ------------------------------------------------- */

struct dmap_node {
	uint64_t id;
	char uuid[37];
	char addr[CFS_ADDR_MAX + 1];
	char labels[CFS_ADDR_MAX + 1];
	int state; /* CFS_NODE_* */
	int draining;
	uint64_t capacity;
	uint64_t replicas;
	int64_t since_ns; /* its last registration or state change */
};

/* Every node not removed, by id.  *out is malloc'd (caller frees). */
int dmap_nodes(struct dmap *d, struct dmap_node **out, size_t *n,
	       char *errmsg);

/* A committed fragment version and where its replicas are. */
struct dmap_frag {
	uint64_t ino, idx, version;
	uint64_t length; /* as stored in the replica files (a truncation may
			    have cut the readable length since) */
	uint32_t crc, goal;
	uint32_t live; /* ok replicas on alive/full, not draining, nodes */
	size_t n;      /* replicas of this version, any state */
	struct {
		uint64_t node;
		int state;     /* DMAP_* */
		int readable;  /* ok and on an alive/full node */
		int counts;    /* counted in `live` */
	} r[2 * CFS_GOAL_MAX];
};

/* Fragments with fewer live replicas than their file's goal, fewest
 * first, at most @limit.  @cb returns non-zero to stop.  This and the
 * next two leave out fragments open for patching in place: their bytes
 * change under a copy (dmap_count still counts them under goal). */
int dmap_under_goal(struct dmap *d, unsigned limit,
		    int (*cb)(void *arg, const struct dmap_frag *f),
		    void *arg, char *errmsg);

/* Fragments that have reached their goal but still have replicas beyond
 * it: extra live copies, copies on draining or dead nodes, bad copies. */
int dmap_over_goal(struct dmap *d, unsigned limit,
		   int (*cb)(void *arg, const struct dmap_frag *f),
		   void *arg, char *errmsg);

/* Rebalancing: fragments at their goal with a live replica on node @from
 * and none on node @to. */
int dmap_movable(struct dmap *d, uint64_t from, uint64_t to, unsigned limit,
		 int (*cb)(void *arg, const struct dmap_frag *f), void *arg,
		 char *errmsg);

/* A fragment version open for patching in place whose write lease is
 * gone (docs/data-path.md "The leader's seal"), and the nodes of its
 * `ok` replicas, by id. */
struct dmap_open_frag {
	uint64_t ino, idx, version;
	uint64_t epoch;  /* the lease it was open under */
	uint64_t length; /* committed */
	uint32_t n;
	struct wire_nodeaddr nodes[2 * CFS_GOAL_MAX];
};

/* Up to @limit open fragments whose lease ended, by inode and index; @cb
 * returns non-zero to stop.  0 or an error. */
int dmap_unsealed(struct dmap *d, unsigned limit,
		  int (*cb)(void *arg, const struct dmap_open_frag *f),
		  void *arg, char *errmsg);

/*
 * Whether the size of regular file @ino (@size, as the inode says) may be
 * told to lease owner @owner: appends patched in place make an open
 * fragment longer with no commit (docs/data-path.md "Patching in place"),
 * so while a fragment whose range reaches past @size is open, only its
 * lease's holder knows where the file ends.  Cases: 1) no such fragment,
 * or @owner holds the lease: 0; 2) another owner's lease lives:
 * CFS_LEASE_BUSY, its holder recalled if @recall (it seals, which commits
 * the size, then releases); 3) the lease is gone: CFS_LEASE_BUSY until
 * the leader sealed the fragment (dmap_unsealed), which raises the size.
 * The client retries both, as for any lease in its way.  Deterministic
 * (the database only), so also for a command's apply.
 */
int dmap_size_refusal(struct dmap *d, uint64_t ino, uint64_t size,
		      uint64_t owner, int recall, char *errmsg);

/* Is any fragment of any file open for patching in place?  1 yes, 0 no,
 * CFS_INTERNAL on a database error (@errmsg).  Cheap: lets a listing skip
 * dmap_size_refusal for each of its files when none is. */
int dmap_any_open(struct dmap *d, char *errmsg);

/* Recall the write leases of open fragments that repair would otherwise
 * work on (fewer live copies than the goal, a copy on a draining node):
 * their holders seal, and repair goes on with them.  Up to @limit inodes;
 * how many into *@recalled.  Through the recall callback
 * (dmap_set_recall); 0 or an error. */
int dmap_recall_needy(struct dmap *d, unsigned limit, unsigned *recalled,
		      char *errmsg);

/* Replica files to delete, on nodes that are alive or full, each with
 * the incarnation (@stamp) that the frag_delete must name. */
int dmap_garbage(struct dmap *d, unsigned limit,
		 int (*cb)(void *arg, const struct wire_replica *r,
			   uint64_t stamp),
		 void *arg, char *errmsg);

/* True if (ino, idx, version) is garbage on @node (a copy must not race
 * with its deletion).  A database error is logged and answers true, which
 * keeps a copy or move off the node until a later pass. */
int dmap_is_garbage(struct dmap *d, uint64_t ino, uint64_t idx,
		    uint64_t version, uint64_t node);

/* A data node's inventory check: into @out the indexes of @rq's keys
 * that have no row on node @rq->id, replica (any state) or garbage.
 * CFS_ENOENT unless @rq->id and @rq->uuid name a registered node,
 * CFS_EPERM for one that is dead or removed (its rows are being dropped
 * or gone: every file would look unknown). */
int dmap_inventory(struct dmap *d, const struct wire_node_inventory *rq,
		   struct wire_node_inventory_reply *out, char *errmsg);

struct dmap_counts {
	uint64_t fragments, under_goal, missing, garbage;
};
int dmap_count(struct dmap *d, struct dmap_counts *c, char *errmsg);

/* The nodes holding a live replica of the committed version of fragment
 * (@ino, @idx), at most @max into @out, *@n of them (0 if none or no such
 * fragment); 0 or a database error.  A new version goes to the same nodes
 * where possible, so a partial write can start from the data they hold. */
int dmap_live_holders(struct dmap *d, uint64_t ino, uint64_t idx,
		      uint64_t *out, size_t max, size_t *n, char *errmsg);

/* Replicas still `writing` that were opened before @before_ns (wall
 * clock, as carried in log entries): writes whose client went away without
 * committing.  At most @limit into @out, *n of them. */
int dmap_abandoned(struct dmap *d, int64_t before_ns, unsigned limit,
		   struct wire_replica *out, unsigned *n, char *errmsg);

/* The goal of file @ino into *@goal (0 if it does not exist); 0 or a
 * database error. */
int dmap_goal(struct dmap *d, uint64_t ino, uint32_t *goal, char *errmsg);

#endif /* CFS_META_DMAP_H */
