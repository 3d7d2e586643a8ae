/* dmap.c - the data map: node registry, committed fragment versions, replicas and garbage in SQLite. */
#include "meta/dmap_int.h"
#include "meta/sqlq.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"

/* Schema: docs/metadata-schema.md "Data map".  `fragment_size` comes from
 * the namespace's config table (chosen at format). */
#define FSZ "(SELECT value FROM config WHERE key = 'fragment_size')"

static const char dmap_schema[] =
	"CREATE TABLE IF NOT EXISTS nodes ("
	"  id INTEGER PRIMARY KEY,"
	"  uuid TEXT NOT NULL UNIQUE,"
	"  addr TEXT NOT NULL,"
	"  labels TEXT NOT NULL,"
	"  capacity INTEGER NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  draining INTEGER NOT NULL,"
	"  since INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS fragments ("
	"  ino INTEGER NOT NULL,"
	"  idx INTEGER NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  length INTEGER NOT NULL,"
	"  crc INTEGER NOT NULL,"
	"  stored INTEGER NOT NULL,"
	"  patch_epoch INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (ino, idx)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS replicas ("
	"  ino INTEGER NOT NULL,"
	"  idx INTEGER NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  node INTEGER NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  since INTEGER NOT NULL,"
	"  stamp INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (ino, idx, version, node)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS replicas_by_node ON replicas (node);"
	/* the nodes' counts of replicas held (Q_NODES, every repair tick)
	 * read this index alone */
	"CREATE INDEX IF NOT EXISTS replicas_by_node_state ON replicas "
	"(node, state);"
	"CREATE TABLE IF NOT EXISTS garbage ("
	"  node INTEGER NOT NULL,"
	"  ino INTEGER NOT NULL,"
	"  idx INTEGER NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  stamp INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (node, ino, idx, version)) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO config VALUES ('next_version', 1);";

/* Created after the columns a database from before may lack: the seal
 * scan (dmap_unsealed) reads only the few open fragments. */
static const char dmap_indexes[] =
	"CREATE INDEX IF NOT EXISTS fragments_open ON fragments (patch_epoch) "
	"WHERE patch_epoch != 0;";

/* The triggers, dropped and created again at every open: a database
 * written before the stamps has older ones (docs/metadata-schema.md).
 * Garbage rows carry the replica's stamp over, and replace an older row
 * of the same key: the file on the node is the newest incarnation. */
static const char dmap_drop_triggers[] =
	"DROP TRIGGER IF EXISTS dmap_inode_gone;"
	"DROP TRIGGER IF EXISTS dmap_inode_shrink;";
static const char dmap_triggers[] =
	/* A deleted inode's replicas all become garbage.  inode rewrites use
	 * INSERT OR REPLACE, which fires no delete trigger (recursive
	 * triggers are off), so this runs only for real deletions. */
	"CREATE TRIGGER dmap_inode_gone AFTER DELETE ON inodes "
	"BEGIN"
	"  INSERT OR REPLACE INTO garbage (node, ino, idx, version, stamp)"
	"    SELECT node, ino, idx, version, stamp"
	"    FROM replicas WHERE ino = OLD.ino;"
	"  DELETE FROM replicas WHERE ino = OLD.ino;"
	"  DELETE FROM fragments WHERE ino = OLD.ino;"
	"  DELETE FROM orphans WHERE ino = OLD.ino;"
	"END;"
	/* A file that shrinks: fragments wholly past the end become garbage;
	 * the one cut in the middle keeps its replicas but its readable
	 * length shrinks (a later write starts from that length, so bytes
	 * past it never reappear).  BEFORE INSERT because inode rewrites are
	 * INSERT OR REPLACE: the old row is still there to compare with. */
	"CREATE TRIGGER dmap_inode_shrink BEFORE INSERT ON inodes "
	"WHEN NEW.size < (SELECT size FROM inodes WHERE ino = NEW.ino) "
	"BEGIN"
	"  INSERT OR REPLACE INTO garbage (node, ino, idx, version, stamp)"
	"    SELECT node, ino, idx, version, stamp"
	"    FROM replicas WHERE ino = NEW.ino AND idx * " FSZ " >= NEW.size;"
	"  DELETE FROM replicas WHERE ino = NEW.ino AND idx * " FSZ
	"    >= NEW.size;"
	"  DELETE FROM fragments WHERE ino = NEW.ino AND idx * " FSZ
	"    >= NEW.size;"
	"  UPDATE fragments SET length = NEW.size - idx * " FSZ
	"    WHERE ino = NEW.ino AND idx * " FSZ " + length > NEW.size;"
	"END;";

/* live: the replicas of fragment f's committed version that count toward
 * its goal: ok, on a node that is alive or full and not draining */
#define LIVE_ROWS                                                            \
	"FROM replicas r JOIN nodes n ON n.id = r.node "                      \
	" WHERE r.ino = f.ino AND r.idx = f.idx AND r.version = f.version "  \
	" AND r.state = 1 AND n.state IN (0, 1) AND n.draining = 0"
#define LIVE_COUNT "(SELECT count(*) " LIVE_ROWS ")"
#define READABLE_COUNT                                                       \
	"(SELECT count(*) FROM replicas r JOIN nodes n ON n.id = r.node "     \
	" WHERE r.ino = f.ino AND r.idx = f.idx AND r.version = f.version "  \
	" AND r.state = 1 AND n.state IN (0, 1))"
#define ALL_COUNT                                                            \
	"(SELECT count(*) FROM replicas r WHERE r.ino = f.ino AND "          \
	" r.idx = f.idx AND r.version = f.version)"

static const char *const dmap_sql[Q__COUNT] = {
	[Q_NODE_BY_UUID] = "SELECT id, state FROM nodes WHERE uuid = ?",
	[Q_NODE_BY_ID] = "SELECT addr, state FROM nodes WHERE id = ?",
	[Q_NODE_INSERT] = "INSERT INTO nodes VALUES ((SELECT coalesce(max(id),"
			  " 0) + 1 FROM nodes), ?, ?, ?, ?, 0, 0, ?) "
			  "RETURNING id",
	[Q_NODE_UPDATE] = "UPDATE nodes SET addr = ?, labels = ?, capacity = "
			  "?, state = 0, since = ? WHERE id = ?",
	/* (a change that changes nothing, a drain repeated, keeps `since`:
	 * the leader takes a new `since` of an alive node for a
	 * registration, check_liveness) */
	[Q_NODE_STATE] = "UPDATE nodes SET since = CASE WHEN state = ?1 AND "
			 "draining = ?2 THEN since ELSE ?3 END, state = ?1, "
			 "draining = ?2 WHERE id = ?4",
	[Q_NODE_DROP_REPLICAS] = "DELETE FROM replicas WHERE node = ?",
	[Q_NODE_DROP_GARBAGE] = "DELETE FROM garbage WHERE node = ?",
	[Q_NEXT_VERSION] = "UPDATE config SET value = value + 1 WHERE key = "
			   "'next_version' RETURNING value - 1",
	[Q_FRAG_GET] = "SELECT version, length, crc, patch_epoch FROM fragments "
		       "WHERE ino = ? AND idx = ?",
	/* ?6: the lease it stays open under for patching in place, or 0 */
	[Q_FRAG_PUT] = "INSERT OR REPLACE INTO fragments (ino, idx, version, "
		       "length, crc, stored, patch_epoch) VALUES (?1, ?2, ?3, "
		       "?4, ?5, ?4, ?6)",
	[Q_REPLICA_PUT] = "INSERT OR REPLACE INTO replicas (ino, idx, version, "
			  "node, state, since, stamp) VALUES (?, ?, ?, ?, ?, "
			  "?, ?)",
	[Q_REPLICA_SET_STATE] = "UPDATE replicas SET state = ?, since = ? "
				"WHERE ino = ? AND idx = ? AND version = ? "
				"AND node = ?",
	/* replica_drop: ?5 the stamp (NULL: any), ?6 only if `writing` */
	[Q_REPLICA_DEL] = "DELETE FROM replicas WHERE ino = ?1 AND idx = ?2 "
			  "AND version = ?3 AND node = ?4 AND (?5 IS NULL OR "
			  "stamp = ?5) AND (?6 = 0 OR state = 0)",
	[Q_REPLICA_DROP_TO_GARBAGE] =
		"INSERT OR REPLACE INTO garbage (node, ino, idx, version, stamp) "
		"SELECT node, ino, idx, version, stamp FROM replicas WHERE "
		"ino = ?1 AND idx = ?2 AND version = ?3 AND node = ?4 AND (?5 "
		"IS NULL OR stamp = ?5) AND (?6 = 0 OR state = 0)",
	/* a drop that keeps the goal: the goal, the counted copies of the
	 * committed version ?3, and whether node ?4's is one of them; no row
	 * if ?3 is not the committed version */
	[Q_DROP_GUARD] = "SELECT i.goal, " LIVE_COUNT ", EXISTS (SELECT 1 "
			 LIVE_ROWS " AND r.node = ?4) FROM fragments f JOIN "
			 "inodes i ON i.ino = f.ino WHERE f.ino = ?1 AND "
			 "f.idx = ?2 AND f.version = ?3",
	/* commit: the listed nodes hold the version */
	[Q_REPLICA_COMMIT] = "UPDATE replicas SET state = 1, since = ? WHERE "
			     "ino = ? AND idx = ? AND version = ? AND node = ?",
	/* commit: replicas of older versions become garbage */
	[Q_GARBAGE_OLDER] = "INSERT OR REPLACE INTO garbage (node, ino, idx, "
			    "version, stamp) SELECT node, ino, idx, version, "
			    "stamp FROM replicas WHERE ino = ? AND idx = ? AND "
			    "version < ?",
	[Q_DEL_OLDER] = "DELETE FROM replicas WHERE ino = ? AND idx = ? AND "
			"version < ?",
	/* commit: nodes of this version not listed did not get it all */
	[Q_GARBAGE_UNLISTED] = "INSERT OR REPLACE INTO garbage (node, ino, "
			       "idx, version, stamp) SELECT node, ino, idx, "
			       "version, stamp FROM replicas WHERE ino = ? AND "
			       "idx = ? AND version = ? AND state = 0",
	[Q_DEL_UNLISTED] = "DELETE FROM replicas WHERE ino = ? AND idx = ? AND "
			   "version = ? AND state = 0",
	[Q_GARBAGE_PUT] = "INSERT OR REPLACE INTO garbage (node, ino, idx, "
			  "version, stamp) VALUES (?, ?, ?, ?, ?)",
	/* ?5 the stamp (NULL: any) */
	[Q_GARBAGE_DEL] = "DELETE FROM garbage WHERE node = ?1 AND ino = ?2 AND "
			  "idx = ?3 AND version = ?4 AND (?5 IS NULL OR stamp "
			  "= ?5)",
	/* a version opened ahead: its nodes still hold its base, readable */
	[Q_HOLDS] = "SELECT 1 FROM replicas WHERE ino = ? AND idx = ? AND "
		    "version = ? AND node = ? AND state = 1",
	[Q_LOCATE] = "SELECT idx, version, length, crc, patch_epoch FROM "
		     "fragments WHERE ino = ? AND idx >= ? AND idx < ? ORDER "
		     "BY idx",
	/* replicas of one version, readable ones first, draining last, and
	 * otherwise in an order the version shuffles: clients read from the
	 * first, and by node id the lowest node served every read while the
	 * others idled; this way each version has one node that serves it
	 * (its page cache holds it once, not on every replica) and the
	 * versions spread over the nodes */
	[Q_HOLDERS] = "SELECT r.node, r.state, n.state, n.draining, n.addr "
		      "FROM replicas r LEFT JOIN nodes n ON n.id = r.node "
		      "WHERE r.ino = ? AND r.idx = ? AND r.version = ? "
		      "ORDER BY (r.state = 1 AND n.state IN (0, 1)) DESC, "
		      "n.draining, (r.node * 40503 + r.version * 2654435761) "
		      "% 65521, r.node",
	[Q_NODES] = "SELECT n.id, n.uuid, n.addr, n.labels, n.state, "
		    "n.draining, n.capacity, (SELECT count(*) FROM replicas r "
		    "WHERE r.node = n.id AND r.state != 0), n.since FROM nodes n "
		    "WHERE n.state != 4 "
		    "ORDER BY n.id",
	/* fewest live copies first, but those with no readable copy at
	 * all (nothing to copy from) last: a few hundred of them, on dead
	 * nodes, must not fill every scan and starve the fragments that
	 * can be repaired */
	[Q_UNDER_GOAL] = "SELECT * FROM (SELECT f.ino, f.idx, f.version, "
			 "f.stored, f.crc, i.goal, " LIVE_COUNT " AS live, "
			 READABLE_COUNT " AS readable FROM fragments f JOIN "
			 "inodes i ON i.ino = f.ino WHERE f.patch_epoch = 0) "
			 "WHERE live < goal ORDER "
			 "BY readable = 0, live, ino, idx LIMIT ?",
	[Q_OVER_GOAL] = "SELECT * FROM (SELECT f.ino, f.idx, f.version, "
			"f.stored, f.crc, i.goal, " LIVE_COUNT " AS live, "
			ALL_COUNT " AS total FROM fragments f JOIN inodes i "
			"ON i.ino = f.ino WHERE f.patch_epoch = 0) WHERE live "
			">= goal AND total > goal "
			"ORDER BY ino, idx LIMIT ?",
	[Q_GARBAGE_LIST] = "SELECT g.node, g.ino, g.idx, g.version, g.stamp FROM "
			   "garbage g JOIN nodes n ON n.id = g.node WHERE "
			   "n.state IN (0, 1) AND NOT EXISTS (SELECT 1 FROM "
			   "replicas r WHERE r.ino = g.ino AND r.idx = g.idx "
			   "AND r.version = g.version AND r.node = g.node) "
			   /* newest versions first (the key backwards, no
			    * sort): a data node hands a deleted file over
			    * to the deltas built on it (docs/on-disk-format
			    * .md), so the garbage deltas should go before
			    * their base, leaving it one delta to merge */
			   "ORDER BY g.node DESC, g.ino DESC, g.idx DESC, "
			   "g.version DESC LIMIT ?",
	/* rebalance: ok replicas on node ?1 of fragments with no replica on
	 * node ?2 and at their goal */
	[Q_MOVABLE] = "SELECT * FROM (SELECT f.ino, f.idx, f.version, "
		      "f.stored, f.crc, i.goal, " LIVE_COUNT " AS live FROM "
		      "replicas x JOIN fragments f ON f.ino = x.ino AND f.idx "
		      "= x.idx AND f.version = x.version JOIN inodes i ON "
		      "i.ino = f.ino WHERE x.node = ?1 AND x.state = 1 AND "
		      "f.patch_epoch = 0 AND NOT "
		      "EXISTS (SELECT 1 FROM replicas y WHERE y.ino = x.ino "
		      "AND y.idx = x.idx AND y.node = ?2)) WHERE live >= goal "
		      "LIMIT ?3",
	/* replicas opened for a write that never committed */
	[Q_ABANDONED] = "SELECT ino, idx, version, node FROM replicas WHERE "
			"state = 0 AND since < ? LIMIT ?",
	[Q_IS_GARBAGE] = "SELECT 1 FROM garbage WHERE node = ? AND ino = ? "
			 "AND idx = ? AND version = ?",
	[Q_NODE_UUID] = "SELECT uuid, state FROM nodes WHERE id = ?",
	[Q_KNOWN] = "SELECT 1 FROM replicas WHERE ino = ?2 AND idx = ?3 AND "
		    "version = ?4 AND node = ?1 UNION ALL "
		    "SELECT 1 FROM garbage WHERE node = ?1 AND ino = ?2 AND "
		    "idx = ?3 AND version = ?4 LIMIT 1",
	[Q_COUNT_FRAGS] = "SELECT count(*) FROM fragments",
	/* missing: not even a draining node holds a readable copy */
	[Q_COUNT_UNDER] = "SELECT count(*), coalesce(sum(readable = 0), 0) "
			  "FROM (SELECT i.goal, " LIVE_COUNT " AS live, "
			  READABLE_COUNT " AS readable FROM fragments f JOIN "
			  "inodes i ON i.ino = f.ino) WHERE live < goal",
	[Q_COUNT_GARBAGE] = "SELECT count(*) FROM garbage",
	[Q_GOAL] = "SELECT goal FROM inodes WHERE ino = ?",
	[Q_CONFIG_GET] = "SELECT value FROM config WHERE key = ?",
	/* the committed version as located, whole (not cut by a truncation:
	 * its replicas hold `length` bytes), not open: open it */
	[Q_OPEN_COMMITTED] = "UPDATE fragments SET patch_epoch = ?6 WHERE "
			     "ino = ?1 AND idx = ?2 AND version = ?3 AND "
			     "length = ?4 AND crc = ?5 AND stored = length AND "
			     "patch_epoch = 0",
	[Q_FRAG_SEAL] = "UPDATE fragments SET crc = ?3, length = ?4, "
			"stored = ?4, patch_epoch = 0 WHERE ino = ?1 AND "
			"idx = ?2",
	/* the write lease a fragment is open under, if it still exists */
	[Q_LEASE_OF_EPOCH] = "SELECT holder, session FROM leases WHERE ino = ? "
			     "AND epoch = ? AND type = 2",
	/* (the partial index fragments_open: no scan) */
	[Q_ANY_OPEN] = "SELECT 1 FROM fragments WHERE patch_epoch != 0 LIMIT 1",
	/* an open fragment that appends in place may have made longer than
	 * the inode's size (?2) says: one whose range reaches past it */
	[Q_SIZE_OPEN] = "SELECT patch_epoch FROM fragments WHERE ino = ?1 AND "
			"patch_epoch != 0 AND (idx + 1) * " FSZ " > ?2 "
			"LIMIT 1",
	/* open fragments whose lease is gone: the leader seals them */
	[Q_UNSEALED] = "SELECT f.ino, f.idx, f.version, f.patch_epoch, "
		       "f.length FROM fragments f WHERE f.patch_epoch != 0 AND "
		       "NOT EXISTS (SELECT 1 FROM leases l WHERE l.ino = f.ino "
		       "AND l.epoch = f.patch_epoch AND l.type = 2) ORDER BY "
		       "f.ino, f.idx LIMIT ?",
	/* open fragments that repair would work on if they were not open:
	 * fewer live copies than the goal, or one on a draining node */
	[Q_OPEN_NEEDY] = "SELECT l.holder, l.session, f.ino FROM fragments f "
			 "JOIN inodes i ON i.ino = f.ino JOIN leases l ON "
			 "l.ino = f.ino AND l.epoch = f.patch_epoch AND "
			 "l.type = 2 WHERE f.patch_epoch != 0 AND ("
			 LIVE_COUNT " < i.goal OR EXISTS (SELECT 1 FROM "
			 "replicas r JOIN nodes n ON n.id = r.node WHERE "
			 "r.ino = f.ino AND r.idx = f.idx AND r.version = "
			 "f.version AND r.state = 1 AND n.draining = 1)) "
			 "GROUP BY f.ino LIMIT ?",
	[Q_OK_ADDRS] = "SELECT r.node, n.addr FROM replicas r JOIN nodes n ON "
		       "n.id = r.node WHERE r.ino = ? AND r.idx = ? AND "
		       "r.version = ? AND r.state = 1 ORDER BY r.node",
	/* a truncation to ?2 would cut this open fragment in the middle */
	[Q_CUT_OPEN] = "SELECT idx, patch_epoch FROM fragments WHERE ino = ?1 "
		       "AND patch_epoch != 0 AND idx * " FSZ " < ?2 AND idx * "
		       FSZ " + length > ?2 LIMIT 1",
};

/* Statement @which failed: its SQL names it in the message. */
int
dmap_db_error(struct dmap *d, char *errmsg, int which)
{
	return sqlq_fail(d->db, "data map", dmap_sql[which], errmsg);
}

sqlite3_stmt *
dmap_q(struct dmap *d, int which)
{
	sqlite3_reset(d->q[which]);
	sqlite3_clear_bindings(d->q[which]);
	return d->q[which];
}

int
dmap_run(struct dmap *d, int which, char *errmsg)
{
	int rc = sqlite3_step(d->q[which]);
	sqlite3_reset(d->q[which]);
	return rc == SQLITE_DONE ? 0 : dmap_db_error(d, errmsg, which);
}

void
dmap_bind_key(sqlite3_stmt *s, int first, uint64_t ino, uint64_t idx,
	      uint64_t version)
{
	sqlite3_bind_int64(s, first, (sqlite3_int64)ino);
	sqlite3_bind_int64(s, first + 1, (sqlite3_int64)idx);
	sqlite3_bind_int64(s, first + 2, (sqlite3_int64)version);
}

/* the declaration of every column added to an older database */
#define INT_DEFAULT_0 "INTEGER NOT NULL DEFAULT 0"

/* A database from before a column (the replicas' and garbage's `stamp`,
 * the fragments' `patch_epoch`): add column @col declared @decl to
 * @table.  Old rows take the default, which says what they were: stamp 0
 * (every replica file written before is), patch_epoch 0 (nothing was open
 * for patching).  SQLITE_OK if the column is there now; the message in
 * *@err otherwise. */
static int
add_column(sqlite3 *db, const char *table, const char *col, const char *decl,
	   char **err)
{
	char sql[160];
	sqlite3_stmt *s = NULL;
	int rc, found = 0;

	snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK)
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			if (strcmp((const char *)sqlite3_column_text(s, 1),
				   col) == 0)
				found = 1;
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return rc == SQLITE_OK ? SQLITE_ERROR : rc;
	if (found)
		return SQLITE_OK;
	LOG_INFO("data map: adding column %s to table %s (a database from "
		 "before it)", col, table);
	snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", table,
		 col, decl);
	return sqlite3_exec(db, sql, NULL, NULL, err);
}

int
dmap_open(struct dmap **out, sqlite3 *db, struct ns *ns, char *errmsg)
{
	struct dmap *d = calloc(1, sizeof(*d));
	char *err = NULL;

	if (d == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "data map");
	d->db = db;
	d->ns = ns;
	if (sqlite3_exec(db, dmap_schema, NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(db, dmap_drop_triggers, NULL, NULL, &err) !=
		    SQLITE_OK ||
	    add_column(db, "replicas", "stamp", INT_DEFAULT_0, &err) !=
		    SQLITE_OK ||
	    add_column(db, "garbage", "stamp", INT_DEFAULT_0, &err) !=
		    SQLITE_OK ||
	    add_column(db, "fragments", "patch_epoch", INT_DEFAULT_0, &err) !=
		    SQLITE_OK ||
	    sqlite3_exec(db, dmap_indexes, NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(db, dmap_triggers, NULL, NULL, &err) != SQLITE_OK) {
		cfs_fail(errmsg, CFS_INTERNAL, "data map schema: %s",
			 err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		free(d);
		return CFS_INTERNAL;
	}
	int rv = sqlq_prepare(db, "data map", NULL, dmap_sql, Q__COUNT, d->q,
			      errmsg);
	if (rv != 0) {
		dmap_close(&d);
		return rv;
	}
	ns_set_shrink_check(ns, dmap_shrink_check, d);
	*out = d;
	return 0;
}

void
dmap_close(struct dmap **dp)
{
	struct dmap *d = *dp;

	if (d == NULL)
		return;
	if (d->ns != NULL)
		ns_set_shrink_check(d->ns, NULL, NULL);
	sqlq_finalize(d->q, Q__COUNT);
	free(d);
	*dp = NULL;
}

void
dmap_set_recall(struct dmap *d, lease_recall_fn fn, void *data)
{
	d->recall = fn;
	d->recall_data = data;
}

int
dmap_is_mutation(uint16_t type)
{
	switch (type) {
	case WIRE_T_frag_open: case WIRE_T_frag_commit:
	case WIRE_T_node_register: case WIRE_T_node_state:
	case WIRE_T_replica_add: case WIRE_T_replica_bad:
	case WIRE_T_replica_drop: case WIRE_T_frag_seal:
		return 1;
	default:
		return 0;
	}
}

int
dmap_handles(uint16_t type)
{
	return type == WIRE_T_frag_locate || dmap_is_mutation(type);
}

int
dmap_needs_session(uint16_t type)
{
	return type == WIRE_T_frag_open || type == WIRE_T_frag_commit ||
	       type == WIRE_T_frag_locate;
}

/* ---- nodes ---------------------------------------------------------------- */

/* Node @id: 1 found (*state, addr copied if @addr), 0 not, <0 error. */
int
dmap_node_get(struct dmap *d, uint64_t id, int *state, char *addr, size_t cap)
{
	sqlite3_stmt *s = dmap_q(d, Q_NODE_BY_ID);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (addr != NULL)
			snprintf(addr, cap, "%s",
				 (const char *)sqlite3_column_text(s, 0));
		*state = sqlite3_column_int(s, 1);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Cases: 1) a new uuid gets the next id; 2) a known uuid (a restart, a new
 * address) keeps its id and becomes alive again; 3) a removed node is
 * refused: its replicas were forgotten, so its disk must be wiped. */
static int
op_node_register(struct dmap *d, const struct ns_env *env,
		 const struct wire_node_register *rq, uint16_t *rt,
		 union wire_body *out, char *errmsg)
{
	sqlite3_stmt *s;
	int rc;

	if (strlen(rq->uuid) != 36 || rq->addr[0] == '\0')
		return cfs_fail(errmsg, CFS_EINVAL,
				"registration needs a 36-character uuid and "
				"an address (got '%s', '%s')",
				rq->uuid, rq->addr);
	s = dmap_q(d, Q_NODE_BY_UUID);
	sqlite3_bind_text(s, 1, rq->uuid, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(s, 0);
		int state = sqlite3_column_int(s, 1);
		sqlite3_reset(s);
		if (state == CFS_NODE_REMOVED)
			return cfs_fail(errmsg, CFS_EPERM,
					"node %s (id %llu) was removed from "
					"the cluster; wipe its data directory "
					"to join as a new node",
					rq->uuid, (unsigned long long)id);
		s = dmap_q(d, Q_NODE_UPDATE);
		sqlite3_bind_text(s, 1, rq->addr, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, rq->labels, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)rq->capacity);
		sqlite3_bind_int64(s, 4, env->now_ns);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)id);
		if ((rc = dmap_run(d, Q_NODE_UPDATE, errmsg)) != 0)
			return rc;
		out->node_registered.id = id;
	} else if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		s = dmap_q(d, Q_NODE_INSERT);
		sqlite3_bind_text(s, 1, rq->uuid, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, rq->addr, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, rq->labels, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)rq->capacity);
		sqlite3_bind_int64(s, 5, env->now_ns);
		if (sqlite3_step(s) != SQLITE_ROW) {
			sqlite3_reset(s);
			return dmap_db_error(d, errmsg, Q_NODE_INSERT);
		}
		out->node_registered.id = (uint64_t)sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	} else {
		sqlite3_reset(s);
		return dmap_db_error(d, errmsg, Q_NODE_BY_UUID);
	}
	out->node_registered.heartbeat_ms = 1000;
	*rt = WIRE_T_node_registered;
	return 0;
}

/* A state change decided by the leader (dead, alive, full) or asked by an
 * operator (draining, removed).  A removed node's replicas are forgotten:
 * the repair loop then copies them elsewhere. */
static int
op_node_state(struct dmap *d, const struct ns_env *env,
	      const struct wire_node_state *rq, uint16_t *rt, char *errmsg)
{
	int state, rv;
	int found = dmap_node_get(d, rq->id, &state, NULL, 0);

	if (found < 0)
		return dmap_db_error(d, errmsg, Q_NODE_BY_ID);
	if (found == 0)
		return cfs_fail(errmsg, CFS_ENOENT, "data node %llu",
				(unsigned long long)rq->id);
	if (rq->state != CFS_NODE_ALIVE && rq->state != CFS_NODE_FULL &&
	    rq->state != CFS_NODE_DEAD && rq->state != CFS_NODE_REMOVED)
		return cfs_fail(errmsg, CFS_EINVAL, "node state %u", rq->state);
	if (state == CFS_NODE_REMOVED)
		return cfs_fail(errmsg, CFS_EINVAL, "data node %llu was removed",
				(unsigned long long)rq->id);
	sqlite3_stmt *s = dmap_q(d, Q_NODE_STATE);
	sqlite3_bind_int(s, 1, rq->state);
	sqlite3_bind_int(s, 2, rq->draining ? 1 : 0);
	sqlite3_bind_int64(s, 3, env->now_ns);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)rq->id);
	if ((rv = dmap_run(d, Q_NODE_STATE, errmsg)) != 0)
		return rv;
	if (rq->state == CFS_NODE_REMOVED) {
		sqlite3_bind_int64(dmap_q(d, Q_NODE_DROP_REPLICAS), 1,
				   (sqlite3_int64)rq->id);
		if ((rv = dmap_run(d, Q_NODE_DROP_REPLICAS, errmsg)) != 0)
			return rv;
		sqlite3_bind_int64(dmap_q(d, Q_NODE_DROP_GARBAGE), 1,
				   (sqlite3_int64)rq->id);
		if ((rv = dmap_run(d, Q_NODE_DROP_GARBAGE, errmsg)) != 0)
			return rv;
	}
	*rt = WIRE_T_ok;
	return 0;
}

/* ---- writes ----------------------------------------------------------------- */


/* The committed version of (@ino, @idx), its length, and (if not NULL)
 * its crc and the lease it is open under for patching in place (0: not
 * open).  1 found, 0 no such fragment (all 0), -1 SQLite failed. */
int
dmap_frag_get(struct dmap *d, uint64_t ino, uint64_t idx, uint64_t *version,
	      uint64_t *length, uint32_t *crc, uint64_t *epoch)
{
	sqlite3_stmt *s = dmap_q(d, Q_FRAG_GET);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)idx);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*version = (uint64_t)sqlite3_column_int64(s, 0);
		*length = (uint64_t)sqlite3_column_int64(s, 1);
		if (crc)
			*crc = (uint32_t)sqlite3_column_int64(s, 2);
		if (epoch)
			*epoch = (uint64_t)sqlite3_column_int64(s, 3);
	} else {
		*version = *length = 0;
		if (crc)
			*crc = 0;
		if (epoch)
			*epoch = 0;
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
dmap_config_get(struct dmap *d, const char *key, int64_t *v)
{
	sqlite3_stmt *s = dmap_q(d, Q_CONFIG_GET);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* A fresh version of (@ino, @idx) from the cluster-wide counter into
 * *@version, recorded as `writing` on each of @nodes that is still
 * registered; their count into *@count and, with @chain, their ids and
 * addresses.  0, or an error. */
static int
open_rows(struct dmap *d, const struct ns_env *env, uint64_t ino, uint64_t idx,
	  const uint64_t *nodes, uint32_t n, uint64_t *version,
	  struct wire_nodeaddr *chain, uint32_t *count, char *errmsg)
{
	sqlite3_stmt *s = dmap_q(d, Q_NEXT_VERSION);
	int rv;

	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return dmap_db_error(d, errmsg, Q_NEXT_VERSION);
	}
	*version = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	*count = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct wire_nodeaddr *na = chain ? &chain[*count] : NULL;
		int state, found = dmap_node_get(d, nodes[i], &state,
						 na ? na->addr : NULL,
						 na ? sizeof(na->addr) : 0);
		if (found < 0)
			return dmap_db_error(d, errmsg, Q_NODE_BY_ID);
		if (!found || state == CFS_NODE_REMOVED)
			continue;
		if (na != NULL)
			na->id = nodes[i];
		s = dmap_q(d, Q_REPLICA_PUT);
		dmap_bind_key(s, 1, ino, idx, *version);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)nodes[i]);
		sqlite3_bind_int(s, 5, DMAP_WRITING);
		sqlite3_bind_int64(s, 6, env->now_ns);
		sqlite3_bind_int64(s, 7, 0); /* a client's chain write */
		if ((rv = dmap_run(d, Q_REPLICA_PUT, errmsg)) != 0)
			return rv;
		(*count)++;
	}
	return 0;
}

/* Cases: 1) the leader placed no node (fewer live nodes than needed and
 * the policy refuses): CFS_UNAVAILABLE; 2) the fragment is open for
 * patching in place: dmap_open_refusal(); 3) otherwise a fresh version from
 * the cluster-wide counter, its replicas recorded as `writing` on the
 * placed nodes, and the chain of their addresses returned. */
static int
op_frag_open(struct dmap *d, const struct ns_env *env,
	     const struct wire_frag_open *rq, uint16_t *rt,
	     union wire_body *out, char *errmsg)
{
	struct wire_frag_opened *o = &out->frag_opened;
	struct wire_attr a;
	int64_t fsz = 0;
	int rv = ns_file_check(d->ns, rq->ino, &rq->cred, 2, &a, errmsg);

	if (rv != 0)
		return rv;
	if (dmap_config_get(d, "fragment_size", &fsz) != 0 || fsz <= 0)
		return cfs_fail(errmsg, CFS_INTERNAL, "no fragment size");
	if (rq->idx >= (1ull << 62) / (uint64_t)fsz || rq->idx > UINT32_MAX)
		return cfs_fail(errmsg, CFS_EFBIG, "fragment index %llu",
				(unsigned long long)rq->idx);
	if (rq->placed_count == 0)
		return cfs_fail(errmsg, CFS_UNAVAILABLE,
				"no data node can take fragment %llu/%llu",
				(unsigned long long)rq->ino,
				(unsigned long long)rq->idx);
	uint64_t epoch = 0;
	if (dmap_frag_get(d, rq->ino, rq->idx, &o->base_version,
			  &o->base_length, NULL, &epoch) < 0)
		return dmap_db_error(d, errmsg, Q_FRAG_GET);
	if (epoch != 0)
		return dmap_open_refusal(d, rq->ino, rq->idx, epoch, "open",
					 errmsg);
	o->goal = a.goal;
	if ((rv = open_rows(d, env, rq->ino, rq->idx, rq->placed,
			    rq->placed_count, &o->version, o->chain,
			    &o->chain_count, errmsg)) != 0)
		return rv;
	if (o->chain_count == 0)
		return cfs_fail(errmsg, CFS_UNAVAILABLE,
				"the placed data nodes are gone");
	*rt = WIRE_T_frag_opened;
	return 0;
}

/* Whether a commit of a new version (not in place) may go ahead: 0, or
 * cases 3) and 4) of op_frag_commit, or a base that changed. */
static int
commit_check(struct dmap *d, const struct wire_frag_commit *rq, char *errmsg)
{
	uint64_t cur = 0, curlen = 0, epoch = 0;

	if (dmap_frag_get(d, rq->ino, rq->idx, &cur, &curlen, NULL, &epoch) < 0)
		return dmap_db_error(d, errmsg, Q_FRAG_GET);
	if (epoch != 0)
		return dmap_open_refusal(d, rq->ino, rq->idx, epoch, "commit",
					 errmsg);
	if (cur >= rq->version)
		return cfs_fail(errmsg, CFS_ESTALE,
				"fragment %llu/%llu: version %llu is "
				"committed already, %llu is older",
				(unsigned long long)rq->ino,
				(unsigned long long)rq->idx,
				(unsigned long long)cur,
				(unsigned long long)rq->version);
	/* A patch of bytes that are no longer the file's: committing it
	 * would undo the other write, or bring back bytes a truncation cut
	 * (which shrinks the length, not the version). */
	if ((rq->base_version != 0 || rq->base_named) &&
	    (cur != rq->base_version || curlen != rq->base_length))
		return cfs_fail(errmsg, CFS_ESTALE,
				"fragment %llu/%llu: patched v%llu of %llu "
				"bytes, committed is v%llu of %llu",
				(unsigned long long)rq->ino,
				(unsigned long long)rq->idx,
				(unsigned long long)rq->base_version,
				(unsigned long long)rq->base_length,
				(unsigned long long)cur,
				(unsigned long long)curlen);
	/* A version opened ahead was placed when its base committed; a node
	 * whose copy of the base was moved away or found bad since must not
	 * take the next version (frag_open would not have kept it). */
	if (rq->base_held)
		return dmap_listed_hold(d, rq, rq->base_version, errmsg);
	return 0;
}

/* The rows of a commit: the listed replicas `ok` (each must have been
 * opened for this version: CFS_EINVAL), every other replica of the
 * fragment garbage, the fragment's committed version (open for patching
 * under the lease with in_place OPEN). */
static int
commit_rows(struct dmap *d, const struct ns_env *env,
	    const struct wire_frag_commit *rq, char *errmsg)
{
	sqlite3_stmt *s;
	int rv;

	for (uint32_t i = 0; i < rq->nodes_count; i++) {
		s = dmap_q(d, Q_REPLICA_COMMIT);
		sqlite3_bind_int64(s, 1, env->now_ns);
		dmap_bind_key(s, 2, rq->ino, rq->idx, rq->version);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)rq->nodes[i]);
		if ((rv = dmap_run(d, Q_REPLICA_COMMIT, errmsg)) != 0)
			return rv;
		if (sqlite3_changes(d->db) != 1)
			return cfs_fail(errmsg, CFS_EINVAL,
					"fragment %llu/%llu v%llu was not "
					"opened on node %llu",
					(unsigned long long)rq->ino,
					(unsigned long long)rq->idx,
					(unsigned long long)rq->version,
					(unsigned long long)rq->nodes[i]);
	}
	static const int cleanup[] = {Q_GARBAGE_OLDER, Q_DEL_OLDER,
				      Q_GARBAGE_UNLISTED, Q_DEL_UNLISTED};
	for (size_t i = 0; i < sizeof(cleanup) / sizeof(cleanup[0]); i++) {
		dmap_bind_key(dmap_q(d, cleanup[i]), 1, rq->ino, rq->idx,
			      rq->version);
		if ((rv = dmap_run(d, cleanup[i], errmsg)) != 0)
			return rv;
	}
	s = dmap_q(d, Q_FRAG_PUT);
	dmap_bind_key(s, 1, rq->ino, rq->idx, rq->version);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)rq->length);
	sqlite3_bind_int64(s, 5, rq->crc);
	sqlite3_bind_int64(s, 6, rq->in_place == CFS_INPLACE_OPEN
					 ? (sqlite3_int64)rq->lease_epoch
					 : 0);
	return dmap_run(d, Q_FRAG_PUT, errmsg);
}

/* A commit with reopen: the writer's next version of the fragment,
 * opened on the nodes that now hold it (the leader checked them:
 * front.c), into *@next; only if all of them are still registered, as
 * placement would keep them all (else 0, and no rows). */
static int
commit_reopen(struct dmap *d, const struct ns_env *env,
	      const struct wire_frag_commit *rq, uint64_t *next, char *errmsg)
{
	uint32_t n = 0;
	int rv;

	*next = 0;
	rv = open_rows(d, env, rq->ino, rq->idx, rq->nodes, rq->nodes_count,
		       next, NULL, &n, errmsg);
	if (rv != 0 || n == rq->nodes_count)
		return rv;
	/* a node went: those rows were never used */
	sqlite3_stmt *s = dmap_q(d, Q_DEL_UNLISTED);
	dmap_bind_key(s, 1, rq->ino, rq->idx, *next);
	*next = 0;
	return dmap_run(d, Q_DEL_UNLISTED, errmsg);
}

/* Cases: 1) in_place SEAL: dmap_seal_commit(); 2) the fragment is open for
 * patching in place: dmap_open_refusal(); 3) a newer version committed
 * meanwhile: CFS_ESTALE (the writer lost a race it should not have run
 * without its write lease); 4) a listed node was not opened for this
 * version: CFS_EINVAL; 5) otherwise the version becomes the committed
 * one, its listed replicas `ok`, every other replica of the fragment
 * garbage, and the file at least @size; with in_place OPEN (which needs
 * a write lease and no reopen: CFS_EINVAL) it stays open for patching in
 * place under that lease (docs/data-path.md "Patching in place"). */
static int
op_frag_commit(struct dmap *d, const struct ns_env *env,
	       const struct wire_frag_commit *rq, uint16_t *rt,
	       union wire_body *out, char *errmsg)
{
	int rv = ns_file_check(d->ns, rq->ino, &rq->cred, 2, NULL, errmsg);

	if (rv != 0)
		return rv;
	if (rq->nodes_count == 0)
		return cfs_fail(errmsg, CFS_EINVAL, "commit names no replica");
	if (rq->length > CFS_BULK_MAX)
		return cfs_fail(errmsg, CFS_EINVAL, "fragment length %llu",
				(unsigned long long)rq->length);
	if (rq->in_place == CFS_INPLACE_SEAL)
		return dmap_seal_commit(d, env, rq, rt, out, errmsg);
	if (rq->in_place == CFS_INPLACE_OPEN_COMMITTED)
		return dmap_open_committed(d, rq, rt, out, errmsg);
	if (rq->in_place != CFS_INPLACE_NONE &&
	    rq->in_place != CFS_INPLACE_OPEN)
		return cfs_fail(errmsg, CFS_EINVAL, "in_place %u",
				rq->in_place);
	/* Only the write lease's holder sees the data between commits,
	 * which is what lets it patch without new versions; a version
	 * opened ahead would be a second writer of the fragment. */
	if (rq->in_place == CFS_INPLACE_OPEN &&
	    (rq->lease_epoch == 0 || rq->reopen))
		return cfs_fail(errmsg, CFS_EINVAL,
				"fragment %llu/%llu: opening for patching in "
				"place needs a write lease and no reopen "
				"(lease %llu, reopen %llu)",
				(unsigned long long)rq->ino,
				(unsigned long long)rq->idx,
				(unsigned long long)rq->lease_epoch,
				(unsigned long long)rq->reopen);
	if ((rv = commit_check(d, rq, errmsg)) != 0 ||
	    (rv = commit_rows(d, env, rq, errmsg)) != 0 ||
	    (rv = ns_file_written(d->ns, env, rq->ino, rq->size,
				  &out->entry.attr, errmsg)) != 0)
		return rv;
	out->entry.reopened = 0;
	if (rq->reopen &&
	    (rv = commit_reopen(d, env, rq, &out->entry.reopened, errmsg)) != 0)
		return rv;
	*rt = WIRE_T_entry;
	return 0;
}

/* ---- reads -------------------------------------------------------------------- */

/* Add node @id at @addr to the map's node list unless present. */
static void
map_add_node(struct wire_frag_map *m, uint64_t id, const char *addr)
{
	for (uint32_t i = 0; i < m->nodes_count; i++)
		if (m->nodes[i].id == id)
			return;
	if (m->nodes_count >= WIRE_MAX_nodeaddr)
		return;
	m->nodes[m->nodes_count].id = id;
	snprintf(m->nodes[m->nodes_count].addr, sizeof(m->nodes[0].addr),
		 "%s", addr);
	m->nodes_count++;
}

/* Fetch the replicas of one version into d->frag.r (any state). */
int
dmap_holders(struct dmap *d, uint64_t ino, uint64_t idx, uint64_t version,
	     struct wire_frag_map *m, char *errmsg)
{
	sqlite3_stmt *s = dmap_q(d, Q_HOLDERS);
	struct dmap_frag *f = &d->frag;
	int rc;

	dmap_bind_key(s, 1, ino, idx, version);
	f->n = 0;
	f->live = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (f->n >= sizeof(f->r) / sizeof(f->r[0]))
			continue;
		int rstate = sqlite3_column_int(s, 1);
		int known = sqlite3_column_type(s, 2) != SQLITE_NULL;
		int nstate = sqlite3_column_int(s, 2);
		int draining = sqlite3_column_int(s, 3);
		f->r[f->n].node = (uint64_t)sqlite3_column_int64(s, 0);
		f->r[f->n].state = rstate;
		f->r[f->n].readable = known && rstate == DMAP_OK &&
				      (nstate == CFS_NODE_ALIVE ||
				       nstate == CFS_NODE_FULL);
		f->r[f->n].counts = f->r[f->n].readable && !draining;
		f->live += (uint32_t)f->r[f->n].counts;
		if (m != NULL && f->r[f->n].readable)
			map_add_node(m, f->r[f->n].node,
				     (const char *)sqlite3_column_text(s, 4));
		f->n++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : dmap_db_error(d, errmsg, Q_HOLDERS);
}

static int
op_frag_locate(struct dmap *d, const struct wire_frag_locate *rq,
	       uint16_t *rt, union wire_body *out, char *errmsg)
{
	struct wire_frag_map *m = &out->frag_map;
	struct wire_attr a;
	int64_t fsz = 0;
	/* A writer reads what it rewrites whole (docs/wire-format.md), and
	 * may write a file it may not read. */
	int rc, rv = ns_file_check(d->ns, rq->ino, &rq->cred,
				   rq->for_write ? 2 : 4, &a, errmsg);

	if (rv != 0)
		return rv;
	if (dmap_config_get(d, "fragment_size", &fsz) != 0)
		return cfs_fail(errmsg, CFS_INTERNAL, "no fragment size");
	m->size = a.size;
	m->fragment_size = (uint64_t)fsz;
	m->frags_count = m->nodes_count = 0;
	uint32_t count = rq->count > WIRE_MAX_fraginfo ? WIRE_MAX_fraginfo
						       : rq->count;
	sqlite3_stmt *s = dmap_q(d, Q_LOCATE);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)rq->ino);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)rq->first);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)(rq->first + count));
	/* Collect first: dmap_holders() uses other statements meanwhile. */
	struct wire_fraginfo *fi = m->frags;
	uint64_t open_idx = 0, open_epoch = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW &&
	       m->frags_count < count) {
		fi = &m->frags[m->frags_count++];
		memset(fi, 0, sizeof(*fi));
		fi->idx = (uint64_t)sqlite3_column_int64(s, 0);
		fi->version = (uint64_t)sqlite3_column_int64(s, 1);
		fi->length = (uint64_t)sqlite3_column_int64(s, 2);
		fi->crc = (uint32_t)sqlite3_column_int64(s, 3);
		fi->goal = a.goal;
		uint64_t epoch = (uint64_t)sqlite3_column_int64(s, 4);
		if (epoch != 0 && epoch != rq->lease_epoch && open_epoch == 0) {
			open_idx = fi->idx;
			open_epoch = epoch;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return dmap_db_error(d, errmsg, Q_LOCATE);
	if (open_epoch != 0)
		return dmap_locate_refusal(d, rq->ino, open_idx, open_epoch,
					   errmsg);
	for (uint32_t i = 0; i < m->frags_count; i++) {
		fi = &m->frags[i];
		if ((rv = dmap_holders(d, rq->ino, fi->idx, fi->version, m,
				       errmsg)) != 0)
			return rv;
		for (size_t j = 0; j < d->frag.n && fi->nodes_count <
						      CFS_GOAL_MAX; j++)
			if (d->frag.r[j].readable)
				fi->nodes[fi->nodes_count++] =
					d->frag.r[j].node;
	}
	*rt = WIRE_T_frag_map;
	return 0;
}

int
dmap_exec(struct dmap *d, const struct ns_env *env, uint16_t type,
	  const union wire_body *req, uint16_t *reply_type,
	  union wire_body *reply, char *errmsg)
{
	switch (type) {
	case WIRE_T_node_register:
		return op_node_register(d, env, &req->node_register,
					reply_type, reply, errmsg);
	case WIRE_T_node_state:
		return op_node_state(d, env, &req->node_state, reply_type,
				     errmsg);
	case WIRE_T_frag_open:
		return op_frag_open(d, env, &req->frag_open, reply_type, reply,
				    errmsg);
	case WIRE_T_frag_commit:
		return op_frag_commit(d, env, &req->frag_commit, reply_type,
				      reply, errmsg);
	case WIRE_T_frag_locate:
		return op_frag_locate(d, &req->frag_locate, reply_type, reply,
				      errmsg);
	case WIRE_T_replica_add:
		return dmap_op_replica_add(d, env, &req->replica_add.r,
					   req->replica_add.stamp, reply_type,
					   errmsg);
	case WIRE_T_replica_bad:
		return dmap_op_replica_bad(d, env, &req->replica_bad,
					   reply_type, errmsg);
	case WIRE_T_replica_drop:
		return dmap_op_replica_drop(d, &req->replica_drop, reply_type,
					    errmsg);
	case WIRE_T_frag_seal:
		return dmap_op_frag_seal(d, env, &req->frag_seal, reply_type,
					 errmsg);
	default:
		return cfs_fail(errmsg, CFS_BADTYPE, "%s is not a data map "
				"request", wire_type_name(type) ?
				wire_type_name(type) : "?");
	}
}
