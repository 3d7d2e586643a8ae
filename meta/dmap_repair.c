/* dmap_repair.c - the data map for the leader's repair: the bookkeeping it proposes (replica_add, replica_bad, replica_drop) and the scans it plans from. */
#include "meta/dmap_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"

/* ---- repair bookkeeping (proposed by the leader) ------------------------------ */

/* A copy finished: the replica (incarnation @stamp) counts if it is still
 * of the committed version; a copy of a version superseded meanwhile is
 * garbage.  Either way the copy replaced any older file of the key on the
 * node, so an older garbage row of the key is replaced or goes. */
int
dmap_op_replica_add(struct dmap *d, const struct ns_env *env,
		    const struct wire_replica *r, uint64_t stamp, uint16_t *rt,
		    char *errmsg)
{
	uint64_t cur = 0, len = 0;
	int state, rv, found = dmap_node_get(d, r->node, &state, NULL, 0);
	sqlite3_stmt *s;

	if (found < 0 ||
	    dmap_frag_get(d, r->ino, r->idx, &cur, &len, NULL, NULL) < 0)
		return dmap_db_error(d, errmsg, Q_FRAG_GET);
	if (!found || state == CFS_NODE_REMOVED)
		return cfs_fail(errmsg, CFS_ENOENT, "data node %llu",
				(unsigned long long)r->node);
	*rt = WIRE_T_ok;
	if (cur != r->version) {
		s = dmap_q(d, Q_GARBAGE_PUT);
		sqlite3_bind_int64(s, 1, (sqlite3_int64)r->node);
		dmap_bind_key(s, 2, r->ino, r->idx, r->version);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)stamp);
		return dmap_run(d, Q_GARBAGE_PUT, errmsg);
	}
	s = dmap_q(d, Q_GARBAGE_DEL); /* any stamp */
	sqlite3_bind_int64(s, 1, (sqlite3_int64)r->node);
	dmap_bind_key(s, 2, r->ino, r->idx, r->version);
	if ((rv = dmap_run(d, Q_GARBAGE_DEL, errmsg)) != 0)
		return rv;
	s = dmap_q(d, Q_REPLICA_PUT);
	dmap_bind_key(s, 1, r->ino, r->idx, r->version);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)r->node);
	sqlite3_bind_int(s, 5, DMAP_OK);
	sqlite3_bind_int64(s, 6, env->now_ns);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)stamp);
	return dmap_run(d, Q_REPLICA_PUT, errmsg);
}

/* A replica was found corrupt or missing: it stops counting and being
 * read; the repair loop makes a new copy and then drops it. */
int
dmap_op_replica_bad(struct dmap *d, const struct ns_env *env,
		    const struct wire_replica_bad *rq, uint16_t *rt,
		    char *errmsg)
{
	sqlite3_stmt *s = dmap_q(d, Q_REPLICA_SET_STATE);
	int rv;

	sqlite3_bind_int(s, 1, DMAP_BAD);
	sqlite3_bind_int64(s, 2, env->now_ns);
	dmap_bind_key(s, 3, rq->r.ino, rq->r.idx, rq->r.version);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)rq->r.node);
	if ((rv = dmap_run(d, Q_REPLICA_SET_STATE, errmsg)) != 0)
		return rv;
	*rt = WIRE_T_ok;
	return 0;
}

/* *@keep = 1 if dropping replica @r would leave its fragment fewer
 * counted copies of the committed version than its goal: one that counts
 * needs the goal besides it; one that does not (bad, on a draining or
 * dead node) may still be the only readable copy, and goes only while the
 * goal is met.  0 if it may go (also: not of the committed version).
 * Returns 0 or an error. */
static int
drop_would_undergo(struct dmap *d, const struct wire_replica *r, int *keep,
		   char *errmsg)
{
	sqlite3_stmt *s = dmap_q(d, Q_DROP_GUARD);
	int rc;

	*keep = 0;
	dmap_bind_key(s, 1, r->ino, r->idx, r->version);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)r->node);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int64_t goal = sqlite3_column_int64(s, 0);
		int64_t live = sqlite3_column_int64(s, 1);
		int counts = sqlite3_column_int(s, 2);
		*keep = live - (counts ? 1 : 0) < goal;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dmap_db_error(d, errmsg, Q_DROP_GUARD);
	return 0;
}

/* deleted 0: the leader drops these replicas; each recorded one becomes
 * garbage with its stamp (an item no longer recorded was dropped already:
 * nothing to do).  deleted 1: their nodes deleted the files; the garbage
 * rows go.  With `stamps` (one per item), an item matches only the row of
 * that incarnation: the answer to a delete of incarnation A must not
 * remove the garbage row of a newer incarnation B of the same key, whose
 * file is still on the node. */
int
dmap_op_replica_drop(struct dmap *d, const struct wire_replica_drop *rq,
		     uint16_t *rt, char *errmsg)
{
	int rv;

	if (rq->stamps_count != 0 && rq->stamps_count != rq->items_count)
		return cfs_fail(errmsg, CFS_EINVAL,
				"replica_drop: %u stamps for %u items",
				rq->stamps_count, rq->items_count);
	for (uint32_t i = 0; i < rq->items_count; i++) {
		const struct wire_replica *r = &rq->items[i];
		static const int drop[] = {Q_REPLICA_DROP_TO_GARBAGE,
					   Q_REPLICA_DEL};
		sqlite3_stmt *s;

		if (rq->deleted) {
			s = dmap_q(d, Q_GARBAGE_DEL);
			sqlite3_bind_int64(s, 1, (sqlite3_int64)r->node);
			dmap_bind_key(s, 2, r->ino, r->idx, r->version);
			if (rq->stamps_count)
				sqlite3_bind_int64(
				    s, 5, (sqlite3_int64)rq->stamps[i]);
			if ((rv = dmap_run(d, Q_GARBAGE_DEL, errmsg)) != 0)
				return rv;
			continue;
		}
		/* keep_goal: the leader chose what to drop from the rows as
		 * they were at its scan; a copy it meant to keep may have
		 * gone bad, or its node dead, since, or another scan's drop
		 * of the other copies may have applied first */
		if (rq->keep_goal) {
			int keep;
			if ((rv = drop_would_undergo(d, r, &keep, errmsg)) != 0)
				return rv;
			if (keep)
				continue;
		}
		/* if_writing: an abandoned write may have committed between
		 * the leader's scan and this entry */
		for (size_t j = 0; j < 2; j++) {
			s = dmap_q(d, drop[j]);
			dmap_bind_key(s, 1, r->ino, r->idx, r->version);
			sqlite3_bind_int64(s, 4, (sqlite3_int64)r->node);
			if (rq->stamps_count)
				sqlite3_bind_int64(
				    s, 5, (sqlite3_int64)rq->stamps[i]);
			sqlite3_bind_int(s, 6, rq->if_writing ? 1 : 0);
			if ((rv = dmap_run(d, drop[j], errmsg)) != 0)
				return rv;
		}
	}
	*rt = WIRE_T_ok;
	return 0;
}

/* ---- leader-side scans ---------------------------------------------------------- */

int
dmap_nodes(struct dmap *d, struct dmap_node **out, size_t *n, char *errmsg)
{
	sqlite3_stmt *s = dmap_q(d, Q_NODES);
	struct dmap_node *v = NULL;
	size_t cap = 0, len = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct dmap_node *nv = realloc(v, ncap * sizeof(*v));
			if (nv == NULL) {
				free(v);
				sqlite3_reset(s);
				return cfs_fail(errmsg, CFS_ENOMEM, "nodes");
			}
			v = nv;
			cap = ncap;
		}
		struct dmap_node *x = &v[len++];
		memset(x, 0, sizeof(*x));
		x->id = (uint64_t)sqlite3_column_int64(s, 0);
		snprintf(x->uuid, sizeof(x->uuid), "%s",
			 (const char *)sqlite3_column_text(s, 1));
		snprintf(x->addr, sizeof(x->addr), "%s",
			 (const char *)sqlite3_column_text(s, 2));
		snprintf(x->labels, sizeof(x->labels), "%s",
			 (const char *)sqlite3_column_text(s, 3));
		x->state = sqlite3_column_int(s, 4);
		x->draining = sqlite3_column_int(s, 5);
		x->capacity = (uint64_t)sqlite3_column_int64(s, 6);
		x->replicas = (uint64_t)sqlite3_column_int64(s, 7);
		x->since_ns = sqlite3_column_int64(s, 8);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free(v);
		return dmap_db_error(d, errmsg, Q_NODES);
	}
	*out = v;
	*n = len;
	return 0;
}

/* Run a fragment scan (@which: Q_UNDER_GOAL or Q_OVER_GOAL): rows are
 * collected first, then each one's replicas are read. */
static int
scan(struct dmap *d, int which, unsigned limit, uint64_t from, uint64_t to,
     int (*cb)(void *arg, const struct dmap_frag *f), void *arg,
     char *errmsg)
{
	struct dmap_frag *rows = calloc(limit ? limit : 1, sizeof(*rows));
	sqlite3_stmt *s = dmap_q(d, which);
	size_t n = 0;
	int rc, rv = 0;

	if (rows == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "fragment scan");
	if (which == Q_MOVABLE) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)from);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)to);
		sqlite3_bind_int64(s, 3, limit);
	} else {
		sqlite3_bind_int64(s, 1, limit);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < limit) {
		struct dmap_frag *f = &rows[n++];
		f->ino = (uint64_t)sqlite3_column_int64(s, 0);
		f->idx = (uint64_t)sqlite3_column_int64(s, 1);
		f->version = (uint64_t)sqlite3_column_int64(s, 2);
		f->length = (uint64_t)sqlite3_column_int64(s, 3);
		f->crc = (uint32_t)sqlite3_column_int64(s, 4);
		f->goal = (uint32_t)sqlite3_column_int64(s, 5);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		rv = dmap_db_error(d, errmsg, which);
	for (size_t i = 0; rv == 0 && i < n; i++) {
		if ((rv = dmap_holders(d, rows[i].ino, rows[i].idx,
				       rows[i].version, NULL, errmsg)) != 0)
			break;
		struct dmap_frag *f = &d->frag;
		f->ino = rows[i].ino;
		f->idx = rows[i].idx;
		f->version = rows[i].version;
		f->length = rows[i].length;
		f->crc = rows[i].crc;
		f->goal = rows[i].goal;
		if (cb(arg, f) != 0)
			break;
	}
	free(rows);
	return rv;
}

int
dmap_under_goal(struct dmap *d, unsigned limit,
		int (*cb)(void *arg, const struct dmap_frag *f), void *arg,
		char *errmsg)
{
	return scan(d, Q_UNDER_GOAL, limit, 0, 0, cb, arg, errmsg);
}

int
dmap_over_goal(struct dmap *d, unsigned limit,
	       int (*cb)(void *arg, const struct dmap_frag *f), void *arg,
	       char *errmsg)
{
	return scan(d, Q_OVER_GOAL, limit, 0, 0, cb, arg, errmsg);
}

int
dmap_movable(struct dmap *d, uint64_t from, uint64_t to, unsigned limit,
	     int (*cb)(void *arg, const struct dmap_frag *f), void *arg,
	     char *errmsg)
{
	return scan(d, Q_MOVABLE, limit, from, to, cb, arg, errmsg);
}

int
dmap_garbage(struct dmap *d, unsigned limit,
	     int (*cb)(void *arg, const struct wire_replica *r,
		       uint64_t stamp),
	     void *arg, char *errmsg)
{
	struct wire_replica *rows = calloc(limit ? limit : 1, sizeof(*rows));
	uint64_t *stamps = calloc(limit ? limit : 1, sizeof(*stamps));
	sqlite3_stmt *s = dmap_q(d, Q_GARBAGE_LIST);
	size_t n = 0;
	int rc;

	if (rows == NULL || stamps == NULL) {
		free(rows);
		free(stamps);
		return cfs_fail(errmsg, CFS_ENOMEM, "garbage scan");
	}
	sqlite3_bind_int64(s, 1, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < limit) {
		rows[n].node = (uint64_t)sqlite3_column_int64(s, 0);
		rows[n].ino = (uint64_t)sqlite3_column_int64(s, 1);
		rows[n].idx = (uint64_t)sqlite3_column_int64(s, 2);
		rows[n].version = (uint64_t)sqlite3_column_int64(s, 3);
		stamps[n] = (uint64_t)sqlite3_column_int64(s, 4);
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		free(rows);
		free(stamps);
		return dmap_db_error(d, errmsg, Q_GARBAGE_LIST);
	}
	for (size_t i = 0; i < n; i++)
		if (cb(arg, &rows[i], stamps[i]) != 0)
			break;
	free(rows);
	free(stamps);
	return 0;
}

int
dmap_is_garbage(struct dmap *d, uint64_t ino, uint64_t idx, uint64_t version,
		uint64_t node)
{
	sqlite3_stmt *s = dmap_q(d, Q_IS_GARBAGE);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)node);
	dmap_bind_key(s, 2, ino, idx, version);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		/* the answer that keeps a copy off the node: the next pass
		 * asks again */
		char errmsg[CFS_ERRMSG_SIZE];
		dmap_db_error(d, errmsg, Q_IS_GARBAGE);
		LOG_WARN("fragment %" PRIu64 "/%" PRIu64 " v%" PRIu64
			 " on node %" PRIu64 ": %s", ino, idx, version, node,
			 errmsg);
		return 1;
	}
	return rc == SQLITE_ROW;
}

int
dmap_inventory(struct dmap *d, const struct wire_node_inventory *rq,
	       struct wire_node_inventory_reply *out, char *errmsg)
{
	sqlite3_stmt *s = dmap_q(d, Q_NODE_UUID);
	int state = 0, same = 0, rc;

	out->unknown_count = 0;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)rq->id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		same = strcmp((const char *)sqlite3_column_text(s, 0),
			      rq->uuid) == 0;
		state = sqlite3_column_int(s, 1);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dmap_db_error(d, errmsg, Q_NODE_UUID);
	if (!same)
		return cfs_fail(errmsg, CFS_ENOENT,
				"no data node %" PRIu64 " with uuid %s",
				rq->id, rq->uuid);
	/* A removed node's rows are gone, a dead one's are being dropped
	 * as its fragments are copied elsewhere: its files would look
	 * unknown, and may be the last copies of something. */
	if (state != CFS_NODE_ALIVE && state != CFS_NODE_FULL)
		return cfs_fail(errmsg, CFS_EPERM,
				"data node %" PRIu64 " is %s", rq->id,
				state == CFS_NODE_REMOVED ? "removed" : "dead");
	for (uint32_t i = 0; i < rq->keys_count; i++) {
		const struct wire_replica *k = &rq->keys[i];
		s = dmap_q(d, Q_KNOWN);
		sqlite3_bind_int64(s, 1, (sqlite3_int64)rq->id);
		dmap_bind_key(s, 2, k->ino, k->idx, k->version);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc == SQLITE_DONE)
			out->unknown[out->unknown_count++] = i;
		else if (rc != SQLITE_ROW)
			return dmap_db_error(d, errmsg, Q_KNOWN);
	}
	return 0;
}

int
dmap_count(struct dmap *d, struct dmap_counts *c, char *errmsg)
{
	static const int which[] = {Q_COUNT_FRAGS, Q_COUNT_UNDER,
				    Q_COUNT_GARBAGE};

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < sizeof(which) / sizeof(which[0]); i++) {
		sqlite3_stmt *s = dmap_q(d, which[i]);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW && which[i] == Q_COUNT_FRAGS)
			c->fragments = (uint64_t)sqlite3_column_int64(s, 0);
		if (rc == SQLITE_ROW && which[i] == Q_COUNT_UNDER) {
			c->under_goal = (uint64_t)sqlite3_column_int64(s, 0);
			c->missing = (uint64_t)sqlite3_column_int64(s, 1);
		}
		if (rc == SQLITE_ROW && which[i] == Q_COUNT_GARBAGE)
			c->garbage = (uint64_t)sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		/* (a count the status cannot give must not read as 0) */
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return dmap_db_error(d, errmsg, which[i]);
	}
	return 0;
}

int
dmap_goal(struct dmap *d, uint64_t ino, uint32_t *goal, char *errmsg)
{
	sqlite3_stmt *s = dmap_q(d, Q_GOAL);

	*goal = 0;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*goal = (uint32_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE
		   ? 0
		   : dmap_db_error(d, errmsg, Q_GOAL);
}

int
dmap_live_holders(struct dmap *d, uint64_t ino, uint64_t idx, uint64_t *out,
		  size_t max, size_t *n, char *errmsg)
{
	uint64_t version = 0, length = 0;
	int rv;

	*n = 0;
	rv = dmap_frag_get(d, ino, idx, &version, &length, NULL, NULL);
	if (rv < 0)
		return dmap_db_error(d, errmsg, Q_FRAG_GET);
	if (rv == 0)
		return 0; /* no such fragment: no holders */
	if ((rv = dmap_holders(d, ino, idx, version, NULL, errmsg)) != 0)
		return rv;
	for (size_t i = 0; i < d->frag.n && *n < max; i++)
		if (d->frag.r[i].counts)
			out[(*n)++] = d->frag.r[i].node;
	return 0;
}

int
dmap_abandoned(struct dmap *d, int64_t before_ns, unsigned limit,
	       struct wire_replica *out, unsigned *n, char *errmsg)
{
	sqlite3_stmt *s = dmap_q(d, Q_ABANDONED);
	int rc;

	*n = 0;
	sqlite3_bind_int64(s, 1, before_ns);
	sqlite3_bind_int64(s, 2, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < limit) {
		out[*n].ino = (uint64_t)sqlite3_column_int64(s, 0);
		out[*n].idx = (uint64_t)sqlite3_column_int64(s, 1);
		out[*n].version = (uint64_t)sqlite3_column_int64(s, 2);
		out[*n].node = (uint64_t)sqlite3_column_int64(s, 3);
		(*n)++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW
		   ? 0
		   : dmap_db_error(d, errmsg, Q_ABANDONED);
}
