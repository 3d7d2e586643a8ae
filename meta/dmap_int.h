/* dmap_int.h - inside the data map: what meta/dmap.c shares with dmap_inplace.c and dmap_repair.c; nothing else includes it. */
#ifndef CFS_META_DMAP_INT_H
#define CFS_META_DMAP_INT_H

/*
 * The data map is meta/dmap.c (the schema, the statements, opening it,
 * nodes, writes and reads, dmap_exec), meta/dmap_inplace.c (versions open
 * for patching in place: their commits, seals and refusals) and
 * meta/dmap_repair.c (the repair bookkeeping the leader proposes and the
 * leader-side scans).  Errors as in meta/dmap.h: CFS_* codes with errmsg
 * saying why.
 */

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"
#include "meta/dmap.h"

/* The prepared statements (their SQL: dmap_sql in meta/dmap.c). */
enum {
	Q_NODE_BY_UUID,
	Q_NODE_BY_ID,
	Q_NODE_INSERT,
	Q_NODE_UPDATE,
	Q_NODE_STATE,
	Q_NODE_DROP_REPLICAS,
	Q_NODE_DROP_GARBAGE,
	Q_NEXT_VERSION,
	Q_FRAG_GET,
	Q_FRAG_PUT,
	Q_REPLICA_PUT,
	Q_REPLICA_SET_STATE,
	Q_REPLICA_DEL,
	Q_REPLICA_DROP_TO_GARBAGE,
	Q_DROP_GUARD,
	Q_REPLICA_COMMIT,
	Q_GARBAGE_OLDER,
	Q_DEL_OLDER,
	Q_GARBAGE_UNLISTED,
	Q_DEL_UNLISTED,
	Q_GARBAGE_PUT,
	Q_GARBAGE_DEL,
	Q_HOLDS,
	Q_LOCATE,
	Q_HOLDERS,
	Q_NODES,
	Q_UNDER_GOAL,
	Q_OVER_GOAL,
	Q_GARBAGE_LIST,
	Q_MOVABLE,
	Q_ABANDONED,
	Q_IS_GARBAGE,
	Q_KNOWN,
	Q_NODE_UUID,
	Q_COUNT_FRAGS,
	Q_COUNT_UNDER,
	Q_COUNT_GARBAGE,
	Q_GOAL,
	Q_CONFIG_GET,
	Q_FRAG_SEAL,
	Q_LEASE_OF_EPOCH,
	Q_UNSEALED,
	Q_SIZE_OPEN,
	Q_OK_ADDRS,
	Q_OPEN_NEEDY,
	Q_OPEN_COMMITTED,
	Q_CUT_OPEN,
	Q_ANY_OPEN,
	Q__COUNT
};

struct dmap {
	sqlite3 *db;
	struct ns *ns;
	lease_recall_fn recall; /* dmap_set_recall */
	void *recall_data;
	sqlite3_stmt *q[Q__COUNT];
	struct dmap_frag frag; /* scratch for the leader-side scans */
};

/* Statement @which failed: its SQL names it in the message. */
int dmap_db_error(struct dmap *d, char *errmsg, int which);

/* The integer @key of table config into *@v: 0, or -1 (no such key, or
 * SQLite failed). */
int dmap_config_get(struct dmap *d, const char *key, int64_t *v);

/* Statement @which, reset and its bindings cleared. */
sqlite3_stmt *dmap_q(struct dmap *d, int which);

/* Step statement @which to its end: 0, or dmap_db_error(). */
int dmap_run(struct dmap *d, int which, char *errmsg);

/* Bind (@ino, @idx, @version) to parameters @first .. @first + 2 of @s. */
void dmap_bind_key(sqlite3_stmt *s, int first, uint64_t ino, uint64_t idx,
		   uint64_t version);

/* Node @id: 1 found (*state, addr copied if @addr), 0 not, <0 error. */
int dmap_node_get(struct dmap *d, uint64_t id, int *state, char *addr,
		  size_t cap);

/* The committed version of (@ino, @idx), its length, and (if not NULL)
 * its crc and the lease it is open under for patching in place (0: not
 * open).  1 found, 0 no such fragment (all 0), -1 SQLite failed. */
int dmap_frag_get(struct dmap *d, uint64_t ino, uint64_t idx, uint64_t *version,
		  uint64_t *length, uint32_t *crc, uint64_t *epoch);

/* Fetch the replicas of one version into d->frag.r (any state); with @m,
 * add the nodes of the readable ones to its node list. */
int dmap_holders(struct dmap *d, uint64_t ino, uint64_t idx, uint64_t version,
		 struct wire_frag_map *m, char *errmsg);

/* The versions open for patching in place (meta/dmap_inplace.c). */

/* A frag_open or commit (@what) of a fragment open under lease @epoch:
 * CFS_EBUSY while the lease lives, CFS_LEASE_BUSY once it is gone. */
int dmap_open_refusal(struct dmap *d, uint64_t ino, uint64_t idx,
		      uint64_t epoch, const char *what, char *errmsg);

/* Every node @rq lists holds an `ok` replica of @version: 0, else
 * CFS_ESTALE. */
int dmap_listed_hold(struct dmap *d, const struct wire_frag_commit *rq,
		     uint64_t version, char *errmsg);

/* frag_commit with in_place = CFS_INPLACE_OPEN_COMMITTED. */
int dmap_open_committed(struct dmap *d, const struct wire_frag_commit *rq,
			uint16_t *rt, union wire_body *out, char *errmsg);

/* frag_commit with in_place = CFS_INPLACE_SEAL: the holder's seal. */
int dmap_seal_commit(struct dmap *d, const struct ns_env *env,
		     const struct wire_frag_commit *rq, uint16_t *rt,
		     union wire_body *out, char *errmsg);

/* frag_seal: the leader's seal of a fragment whose lease ended. */
int dmap_op_frag_seal(struct dmap *d, const struct ns_env *env,
		      const struct wire_frag_seal *rq, uint16_t *rt,
		      char *errmsg);

/* A frag_locate through a fragment open under another lease @epoch:
 * CFS_LEASE_BUSY, its holder recalled if the lease lives. */
int dmap_locate_refusal(struct dmap *d, uint64_t ino, uint64_t idx,
			uint64_t epoch, char *errmsg);

/* The namespace's truncation check (ns_shrink_check_fn; @arg: the dmap):
 * refuses a size change from @old to @size that would cut an open
 * fragment in the middle, or of a file whose last fragment is open. */
int dmap_shrink_check(void *arg, uint64_t ino, uint64_t old, uint64_t size,
		      char *errmsg);

/* The repair bookkeeping the leader proposes (meta/dmap_repair.c). */

/* replica_add: a copy finished, incarnation @stamp. */
int dmap_op_replica_add(struct dmap *d, const struct ns_env *env,
			const struct wire_replica *r, uint64_t stamp,
			uint16_t *rt, char *errmsg);

/* replica_bad: a replica found corrupt or missing stops counting. */
int dmap_op_replica_bad(struct dmap *d, const struct ns_env *env,
			const struct wire_replica_bad *rq, uint16_t *rt,
			char *errmsg);

/* replica_drop: replicas become garbage, or garbage rows go. */
int dmap_op_replica_drop(struct dmap *d, const struct wire_replica_drop *rq,
			 uint16_t *rt, char *errmsg);

#endif /* CFS_META_DMAP_INT_H */
