/* lock.c - advisory locks: the pure range rules and the `locks` table of the state machine. */
#include "meta/lock.h"
#include "meta/sqlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

/* ---- the rules ------------------------------------------------------------- */

static int
same_holder(const struct lock_range *a, const struct lock_range *b)
{
	return a->client_id == b->client_id && a->owner == b->owner;
}

static int
overlap(const struct lock_range *a, const struct lock_range *b)
{
	return a->start <= b->end && b->start <= a->end;
}

int
lock_conflicts(const struct lock_range *held, const struct lock_range *req)
{
	return held->kind == req->kind && !same_holder(held, req) &&
	       overlap(held, req) &&
	       (held->type == CFS_F_WRLCK || req->type == CFS_F_WRLCK);
}

long
lock_find_conflict(const struct lock_range *held, size_t n,
		   const struct lock_range *req)
{
	for (size_t i = 0; i < n; i++)
		if (lock_conflicts(&held[i], req))
			return (long)i;
	return -1;
}

static int
by_start(const void *a, const void *b)
{
	const struct lock_range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Overlapping or adjacent (starts are never negative: no overflow). */
static int
touch(const struct lock_range *a, const struct lock_range *b)
{
	return a->start - 1 <= b->end && b->start - 1 <= a->end;
}

size_t
lock_apply(const struct lock_range *mine, size_t n,
	   const struct lock_range *req, struct lock_range *out)
{
	struct lock_range add = *req;
	size_t k = 0;

	if (req->kind == CFS_LOCK_FLOCK) {
		/* One flock per open file: replaced whole, or removed. */
		if (req->type == CFS_F_UNLCK)
			return 0;
		add.start = 0;
		add.end = CFS_LOCK_EOF;
		out[0] = add;
		return 1;
	}
	/* 1) cut the range out of every lock: what is left on each side */
	for (size_t i = 0; i < n; i++) {
		const struct lock_range *m = &mine[i];
		if (!overlap(m, req)) {
			out[k++] = *m;
			continue;
		}
		if (m->start < req->start) {
			out[k] = *m;
			out[k++].end = req->start - 1;
		}
		if (m->end > req->end) {
			out[k] = *m;
			out[k++].start = req->end + 1;
		}
	}
	/* 2) add the new lock, absorbing the same type's neighbours until
	 * none touches it */
	if (req->type != CFS_F_UNLCK) {
		int grew = 1;
		while (grew) {
			size_t j = 0;
			grew = 0;
			for (size_t i = 0; i < k; i++) {
				struct lock_range *m = &out[i];
				if (m->type == add.type && touch(m, &add)) {
					if (m->start < add.start)
						add.start = m->start;
					if (m->end > add.end)
						add.end = m->end;
					grew = 1;
					continue;
				}
				out[j++] = *m;
			}
			k = j;
		}
		out[k++] = add;
	}
	qsort(out, k, sizeof(*out), by_start);
	return k;
}

/* ---- the table ------------------------------------------------------------- */

static const char lock_schema[] =
	"CREATE TABLE IF NOT EXISTS locks ("
	"  ino INTEGER NOT NULL,"
	"  client_id INTEGER NOT NULL,"
	"  owner INTEGER NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  type INTEGER NOT NULL,"
	"  start INTEGER NOT NULL,"
	"  end INTEGER NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  PRIMARY KEY (ino, kind, start, client_id, owner)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS locks_by_session ON locks (client_id);"
	/* The last unlink of a file takes its locks (inode rewrites are
	 * INSERT OR REPLACE and fire no delete trigger). */
	"CREATE TRIGGER IF NOT EXISTS lock_inode_gone AFTER DELETE ON inodes "
	"BEGIN"
	"  DELETE FROM locks WHERE ino = OLD.ino;"
	"END;";

enum {
	Q_INODE,
	Q_OF_INODE,
	Q_OF_HOLDER,
	Q_DEL_HOLDER,
	Q_PUT,
	Q_DEL_SESSION,
	Q__COUNT
};

static const char *const lock_sql[Q__COUNT] = {
	[Q_INODE] = "SELECT 1 FROM inodes WHERE ino = ?",
	[Q_OF_INODE] = "SELECT client_id, owner, kind, type, start, end, pid "
		       "FROM locks WHERE ino = ? AND kind = ? "
		       "ORDER BY ino, kind, start, client_id, owner",
	[Q_OF_HOLDER] = "SELECT client_id, owner, kind, type, start, end, pid "
			"FROM locks WHERE ino = ? AND kind = ? AND "
			"client_id = ? AND owner = ?",
	[Q_DEL_HOLDER] = "DELETE FROM locks WHERE ino = ? AND kind = ? AND "
			 "client_id = ? AND owner = ?",
	[Q_PUT] = "INSERT INTO locks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	[Q_DEL_SESSION] = "DELETE FROM locks WHERE client_id = ?",
};

struct lockt {
	sqlite3 *db;
	sqlite3_stmt *q[Q__COUNT];
	/* scratch, grown as needed: the locks read, and lock_apply's result */
	struct lock_range *a, *b;
	size_t cap;
};

int
lock_open(struct lockt **out, sqlite3 *db, char *errmsg)
{
	struct lockt *l = calloc(1, sizeof(*l));
	int rv;

	if (l == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "locks: out of memory");
	l->db = db;
	if ((rv = sqlq_prepare(db, "locks", lock_schema, lock_sql, Q__COUNT,
			       l->q, errmsg)) != 0) {
		lock_close(&l);
		return rv;
	}
	*out = l;
	return 0;
}

void
lock_close(struct lockt **lp)
{
	struct lockt *l = *lp;

	if (l == NULL)
		return;
	sqlq_finalize(l->q, Q__COUNT);
	free(l->a);
	free(l->b);
	free(l);
	*lp = NULL;
}

int
lock_handles(uint16_t type)
{
	return type == WIRE_T_lock_set || type == WIRE_T_lock_get ||
	       type == WIRE_T_lock_release;
}

int
lock_is_mutation(uint16_t type)
{
	return type == WIRE_T_lock_set || type == WIRE_T_lock_release;
}

/* Room for @n locks in both scratch arrays (daemons may abort on OOM, but
 * an error is as easy here). */
static int
reserve(struct lockt *l, size_t n, char *errmsg)
{
	if (n <= l->cap)
		return 0;
	size_t cap = l->cap ? l->cap : 16;
	while (cap < n)
		cap *= 2;
	struct lock_range *a = realloc(l->a, cap * sizeof(*a));
	if (a != NULL)
		l->a = a;
	struct lock_range *b = realloc(l->b, cap * sizeof(*b));
	if (b != NULL)
		l->b = b;
	if (a == NULL || b == NULL)
		return cfs_fail(errmsg, CFS_INTERNAL, "locks: out of memory");
	l->cap = cap;
	return 0;
}

/* Run a bound SELECT of locks into l->a; *n of them. */
static int
read_rows(struct lockt *l, sqlite3_stmt *s, size_t *n, char *errmsg)
{
	int rc;

	*n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (reserve(l, *n + 3, errmsg) != 0) {
			sqlite3_reset(s);
			return CFS_INTERNAL;
		}
		struct lock_range *r = &l->a[(*n)++];
		r->client_id = (uint64_t)sqlite3_column_int64(s, 0);
		r->owner = (uint64_t)sqlite3_column_int64(s, 1);
		r->kind = sqlite3_column_int(s, 2);
		r->type = sqlite3_column_int(s, 3);
		r->start = sqlite3_column_int64(s, 4);
		r->end = sqlite3_column_int64(s, 5);
		r->pid = (uint32_t)sqlite3_column_int64(s, 6);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return sqlq_fail(l->db, "locks", "reading locks", errmsg);
	return 0;
}

static int
read_inode(struct lockt *l, uint64_t ino, int kind, size_t *n, char *errmsg)
{
	sqlite3_stmt *s = l->q[Q_OF_INODE];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	sqlite3_bind_int(s, 2, kind);
	return read_rows(l, s, n, errmsg);
}

static void
bind_holder(sqlite3_stmt *s, uint64_t ino, int kind, uint64_t client_id,
	    uint64_t owner)
{
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	sqlite3_bind_int(s, 2, kind);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)client_id);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)owner);
}

static int
step(struct lockt *l, sqlite3_stmt *s, char *errmsg, const char *what)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sqlq_fail(l->db, "locks", what, errmsg);
	return 0;
}

static int
inode_exists(struct lockt *l, uint64_t ino, char *errmsg)
{
	sqlite3_stmt *s = l->q[Q_INODE];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return sqlq_fail(l->db, "locks", "looking up an inode", errmsg);
	return cfs_fail(errmsg, CFS_ENOENT, "inode %llu",
			(unsigned long long)ino);
}

/* Check a request's kind, type and range (type CFS_F_UNLCK allowed if
 * @unlock_ok). */
static int
check_range(const struct lock_range *r, int unlock_ok, char *errmsg)
{
	if (r->kind != CFS_LOCK_FLOCK && r->kind != CFS_LOCK_POSIX)
		return cfs_fail(errmsg, CFS_EINVAL, "lock kind %d", r->kind);
	if (r->type != CFS_F_RDLCK && r->type != CFS_F_WRLCK &&
	    !(unlock_ok && r->type == CFS_F_UNLCK))
		return cfs_fail(errmsg, CFS_EINVAL, "lock type %d", r->type);
	if (r->kind == CFS_LOCK_POSIX && (r->start < 0 || r->end < r->start))
		return cfs_fail(errmsg, CFS_EINVAL, "lock range [%lld, %lld]",
				(long long)r->start, (long long)r->end);
	return 0;
}

static int
exec_set(struct lockt *l, uint64_t client_id, const struct wire_lock_set *m,
	 char *errmsg)
{
	struct lock_range req = {
		.client_id = client_id, .owner = m->owner, .kind = m->kind,
		.type = m->type, .start = m->start, .end = m->end,
		.pid = m->pid,
	};
	size_t n, k;
	int rv;

	if (req.kind == CFS_LOCK_FLOCK) {
		req.start = 0;
		req.end = CFS_LOCK_EOF;
	}
	if ((rv = check_range(&req, 1, errmsg)) != 0 ||
	    (rv = inode_exists(l, m->ino, errmsg)) != 0)
		return rv;
	if (req.type != CFS_F_UNLCK) {
		if ((rv = read_inode(l, m->ino, req.kind, &n, errmsg)) != 0)
			return rv;
		long c = lock_find_conflict(l->a, n, &req);
		if (c >= 0) {
			const struct lock_range *h = &l->a[c];
			char end[24] = "EOF";
			if (h->end != CFS_LOCK_EOF)
				snprintf(end, sizeof(end), "%lld",
					 (long long)h->end);
			return cfs_fail(errmsg, CFS_EAGAIN,
					"bytes %lld-%s %s-locked by session "
					"%016llx (pid %u)",
					(long long)h->start, end,
					h->type == CFS_F_WRLCK ? "write"
							       : "read",
					(unsigned long long)h->client_id,
					h->pid);
		}
	}
	sqlite3_stmt *s = l->q[Q_OF_HOLDER];
	bind_holder(s, m->ino, req.kind, client_id, req.owner);
	if ((rv = read_rows(l, s, &n, errmsg)) != 0 ||
	    (rv = reserve(l, n + 2, errmsg)) != 0)
		return rv;
	k = lock_apply(l->a, n, &req, l->b);
	s = l->q[Q_DEL_HOLDER];
	bind_holder(s, m->ino, req.kind, client_id, req.owner);
	if ((rv = step(l, s, errmsg, "dropping locks")) != 0)
		return rv;
	for (size_t i = 0; i < k; i++) {
		const struct lock_range *r = &l->b[i];
		s = l->q[Q_PUT];
		sqlite3_bind_int64(s, 1, (sqlite3_int64)m->ino);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)r->client_id);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)r->owner);
		sqlite3_bind_int(s, 4, r->kind);
		sqlite3_bind_int(s, 5, r->type);
		sqlite3_bind_int64(s, 6, r->start);
		sqlite3_bind_int64(s, 7, r->end);
		sqlite3_bind_int64(s, 8, r->pid);
		if ((rv = step(l, s, errmsg, "storing a lock")) != 0)
			return rv;
	}
	return 0;
}

static int
exec_get(struct lockt *l, uint64_t client_id, const struct wire_lock_get *m,
	 struct wire_lock_info *out, char *errmsg)
{
	struct lock_range req = {
		.client_id = client_id, .owner = m->owner, .kind = m->kind,
		.type = m->type, .start = m->start, .end = m->end,
	};
	size_t n;
	int rv;

	if (req.kind == CFS_LOCK_FLOCK) {
		req.start = 0;
		req.end = CFS_LOCK_EOF;
	}
	if ((rv = check_range(&req, 0, errmsg)) != 0 ||
	    (rv = inode_exists(l, m->ino, errmsg)) != 0 ||
	    (rv = read_inode(l, m->ino, req.kind, &n, errmsg)) != 0)
		return rv;
	memset(out, 0, sizeof(*out));
	out->type = CFS_F_UNLCK;
	long c = lock_find_conflict(l->a, n, &req);
	if (c >= 0) {
		out->type = (uint8_t)l->a[c].type;
		out->start = l->a[c].start;
		out->end = l->a[c].end;
		out->pid = l->a[c].pid;
		out->client_id = l->a[c].client_id;
	}
	return 0;
}

int
lock_exec(struct lockt *l, uint64_t client_id, uint16_t type,
	  const union wire_body *req, uint16_t *reply_type,
	  union wire_body *reply, char *errmsg)
{
	int rv;

	switch (type) {
	case WIRE_T_lock_set:
		*reply_type = WIRE_T_ok;
		return exec_set(l, client_id, &req->lock_set, errmsg);
	case WIRE_T_lock_get:
		*reply_type = WIRE_T_lock_info;
		return exec_get(l, client_id, &req->lock_get, &reply->lock_info,
				errmsg);
	case WIRE_T_lock_release: {
		const struct wire_lock_release *m = &req->lock_release;
		sqlite3_stmt *s = l->q[Q_DEL_HOLDER];
		*reply_type = WIRE_T_ok;
		if (m->kind != CFS_LOCK_FLOCK && m->kind != CFS_LOCK_POSIX)
			return cfs_fail(errmsg, CFS_EINVAL, "lock kind %d",
					m->kind);
		/* No inode check: a file removed meanwhile took its locks
		 * already, and close must not fail for that. */
		bind_holder(s, m->ino, m->kind, client_id, m->owner);
		rv = step(l, s, errmsg, "releasing locks");
		return rv;
	}
	default:
		return cfs_fail(errmsg, CFS_BADTYPE, "not a lock request");
	}
}

int
lock_drop_session(struct lockt *l, uint64_t client_id, char *errmsg)
{
	sqlite3_stmt *s = l->q[Q_DEL_SESSION];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)client_id);
	return step(l, s, errmsg, "dropping a session's locks");
}
