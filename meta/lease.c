/* lease.c - client leases in the state machine: conflict rules, the leases table, recall hooks (see lease.h). */
#include "meta/lease.h"
#include "meta/sqlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"

/* ---- the rules ------------------------------------------------------------ */

int
lease_conflicts(const struct lease_row *held, uint64_t holder, int type)
{
	if (held->holder == holder)
		return 0;
	if (type == 0)
		return 1;
	return held->type == CFS_LEASE_WRITE || type == CFS_LEASE_WRITE;
}

unsigned
lease_targets(uint16_t type, const union wire_body *req, uint64_t *inos)
{
	switch (type) {
	case WIRE_T_setattr:
		inos[0] = req->setattr.ino;
		return 1;
	case WIRE_T_setxattr:
		inos[0] = req->setxattr.ino;
		return 1;
	case WIRE_T_removexattr:
		inos[0] = req->removexattr.ino;
		return 1;
	case WIRE_T_setgoal:
		inos[0] = req->setgoal.ino;
		return 1;
	case WIRE_T_frag_open:
		inos[0] = req->frag_open.ino;
		return 1;
	case WIRE_T_frag_commit:
		inos[0] = req->frag_commit.ino;
		return 1;
	case WIRE_T_mknod:
		inos[0] = req->mknod.parent;
		return 1;
	case WIRE_T_symlink:
		inos[0] = req->symlink.parent;
		return 1;
	case WIRE_T_unlink:
	case WIRE_T_rmdir:
		inos[0] = req->unlink.parent;
		return 1;
	case WIRE_T_rename:
		inos[0] = req->rename.parent;
		inos[1] = req->rename.newparent;
		return inos[1] == inos[0] ? 1 : 2;
	case WIRE_T_link:
		inos[0] = req->link.ino;
		inos[1] = req->link.newparent;
		return 2;
	default:
		return 0;
	}
}

/* ---- the table ------------------------------------------------------------ */

static const char lease_schema[] =
	"CREATE TABLE IF NOT EXISTS leases ("
	"  ino INTEGER NOT NULL,"
	"  holder INTEGER NOT NULL,"
	"  session INTEGER NOT NULL,"
	"  type INTEGER NOT NULL,"
	"  epoch INTEGER NOT NULL,"
	"  PRIMARY KEY (ino, holder)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS leases_by_session ON leases (session);"
	"CREATE TABLE IF NOT EXISTS session_owners ("
	"  client_id INTEGER PRIMARY KEY,"
	"  owner INTEGER NOT NULL);"
	/* inode numbers set aside for a mount's creates (ino_reserve),
	 * until used or until the session that asked ends */
	"CREATE TABLE IF NOT EXISTS ino_reserved ("
	"  ino INTEGER PRIMARY KEY,"
	"  owner INTEGER NOT NULL,"
	"  session INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS ino_reserved_by_session ON ino_reserved "
	"  (session);"
	/* The last unlink of a file takes its leases (inode rewrites are
	 * INSERT OR REPLACE and fire no delete trigger). */
	"CREATE TRIGGER IF NOT EXISTS lease_inode_gone AFTER DELETE ON inodes "
	"BEGIN"
	"  DELETE FROM leases WHERE ino = OLD.ino;"
	"END;";

enum {
	Q_INODE,
	Q_DENTRY,
	Q_OWNER,
	Q_OWNER_PUT,
	Q_OWNER_DEL,
	Q_OF_INODE,
	Q_PUT,
	Q_RELEASE,
	Q_DEL_SESSION,
	Q_LIST,
	Q_RESERVE,
	Q_RESERVED,
	Q_RESERVED_USE,
	Q_RESERVED_DEL_SESSION,
	Q__COUNT
};

static const char *const lease_sql[Q__COUNT] = {
	[Q_INODE] = "SELECT mode FROM inodes WHERE ino = ?",
	[Q_DENTRY] = "SELECT ino FROM dentries WHERE parent = ? AND name = ?",
	[Q_OWNER] = "SELECT owner FROM session_owners WHERE client_id = ?",
	[Q_OWNER_PUT] = "INSERT OR REPLACE INTO session_owners VALUES (?, ?)",
	[Q_OWNER_DEL] = "DELETE FROM session_owners WHERE client_id = ?",
	[Q_OF_INODE] = "SELECT holder, session, type, epoch FROM leases "
		       "WHERE ino = ? ORDER BY holder",
	[Q_PUT] = "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?)",
	[Q_RELEASE] = "DELETE FROM leases WHERE ino = ?1 AND holder = ?2 AND "
		      "(?3 = 0 OR epoch = ?3)",
	[Q_DEL_SESSION] = "DELETE FROM leases WHERE session = ?",
	[Q_LIST] = "SELECT ino, holder, session, type, epoch FROM leases "
		   "WHERE (ino, holder) > (?, ?) ORDER BY ino, holder LIMIT ?",
	[Q_RESERVE] = "INSERT INTO ino_reserved VALUES (?, ?, ?)",
	[Q_RESERVED] = "SELECT owner FROM ino_reserved WHERE ino = ?",
	[Q_RESERVED_USE] = "DELETE FROM ino_reserved WHERE ino = ?",
	[Q_RESERVED_DEL_SESSION] = "DELETE FROM ino_reserved WHERE session = ?",
};

/* The most leases of one inode looked at in one request: more holders
 * than this are refused as busy too (each is recalled in turn). */
#define ROWS_MAX 64

struct leaset {
	sqlite3 *db;
	sqlite3_stmt *q[Q__COUNT];
	struct lease_row rows[ROWS_MAX];
};

int
lease_open(struct leaset **out, sqlite3 *db, char *errmsg)
{
	struct leaset *l = calloc(1, sizeof(*l));
	int rv;

	if (l == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "leases: out of memory");
	l->db = db;
	if ((rv = sqlq_prepare(db, "leases", lease_schema, lease_sql,
			       Q__COUNT, l->q, errmsg)) != 0) {
		lease_close(&l);
		return rv;
	}
	*out = l;
	return 0;
}

void
lease_close(struct leaset **lp)
{
	struct leaset *l = *lp;

	if (l == NULL)
		return;
	sqlq_finalize(l->q, Q__COUNT);
	free(l);
	*lp = NULL;
}

int
lease_handles(uint16_t type)
{
	return type == WIRE_T_lease_get || type == WIRE_T_lease_release ||
	       type == WIRE_T_lease_list || type == WIRE_T_ino_reserve;
}

int
lease_is_mutation(uint16_t type)
{
	return type == WIRE_T_lease_get || type == WIRE_T_lease_release ||
	       type == WIRE_T_ino_reserve;
}

static int
step(struct leaset *l, sqlite3_stmt *s, char *errmsg, const char *what)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sqlq_fail(l->db, "leases", what, errmsg);
	return 0;
}

/* A one-integer query: 1 found (*v set), 0 none, CFS_INTERNAL. */
static int
one_int(struct leaset *l, sqlite3_stmt *s, int64_t *v, char *errmsg,
	const char *what)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return sqlq_fail(l->db, "leases", what, errmsg);
}

/* The lease owner of session @client_id: named at session_open, else the
 * session itself. */
static int
owner_of(struct leaset *l, uint64_t client_id, uint64_t *owner, char *errmsg)
{
	sqlite3_stmt *s = l->q[Q_OWNER];
	int64_t v = 0;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)client_id);
	int rc = one_int(l, s, &v, errmsg, "looking up a session's owner");
	if (rc < 0 || rc > 1)
		return rc;
	*owner = rc == 1 ? (uint64_t)v : client_id;
	return 0;
}

/* The leases of @ino into l->rows; *n of them (at most ROWS_MAX). */
static int
read_inode(struct leaset *l, uint64_t ino, size_t *n, char *errmsg)
{
	sqlite3_stmt *s = l->q[Q_OF_INODE];
	int rc;

	*n = 0;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < ROWS_MAX) {
		struct lease_row *r = &l->rows[(*n)++];
		r->ino = ino;
		r->holder = (uint64_t)sqlite3_column_int64(s, 0);
		r->session = (uint64_t)sqlite3_column_int64(s, 1);
		r->type = sqlite3_column_int(s, 2);
		r->epoch = (uint64_t)sqlite3_column_int64(s, 3);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sqlq_fail(l->db, "leases", "reading leases", errmsg);
	return 0;
}

/* Tell the recall callback about every lease of l->rows[0..n) in the way
 * of @owner wanting @type; returns how many, with @errmsg naming the
 * first. */
static unsigned
in_the_way(struct leaset *l, const struct lease_ctx *c, size_t n,
	   uint64_t owner, int type, char *errmsg)
{
	unsigned k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct lease_row *r = &l->rows[i];
		if (!lease_conflicts(r, owner, type))
			continue;
		if (k++ == 0)
			cfs_fail(errmsg, CFS_LEASE_BUSY,
				 "inode %llu: %s lease of client %016llx "
				 "(recalled)",
				 (unsigned long long)r->ino,
				 r->type == CFS_LEASE_WRITE ? "write" : "read",
				 (unsigned long long)r->holder);
		if (c->recall != NULL)
			c->recall(c->recall_data, r->holder, r->session,
				  r->ino);
	}
	return k;
}

static int
put(struct leaset *l, uint64_t ino, uint64_t owner, uint64_t session,
    int type, uint64_t epoch, char *errmsg)
{
	sqlite3_stmt *s = l->q[Q_PUT];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)owner);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)session);
	sqlite3_bind_int(s, 4, type);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)epoch);
	return step(l, s, errmsg, "storing a lease");
}

/* Cases: 1) another holder in the way: BUSY, recalls; 2) the holder has
 * this type or a stronger one: answered as it is (same epoch); 3) else
 * granted or upgraded with the epoch of this entry. */
static int
exec_get(struct leaset *l, const struct lease_ctx *c,
	 const struct wire_lease_get *m, struct wire_lease_granted *out,
	 char *errmsg)
{
	uint64_t owner;
	size_t n;
	int64_t mode;
	int rv;

	if (m->type != CFS_LEASE_READ && m->type != CFS_LEASE_WRITE)
		return cfs_fail(errmsg, CFS_EINVAL, "lease type %d", m->type);
	sqlite3_stmt *s = l->q[Q_INODE];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)m->ino);
	rv = one_int(l, s, &mode, errmsg, "looking up an inode");
	if (rv < 0 || rv > 1)
		return rv;
	if (rv == 0)
		return cfs_fail(errmsg, CFS_ENOENT, "inode %llu",
				(unsigned long long)m->ino);
	if (m->type == CFS_LEASE_WRITE && !S_ISREG((mode_t)mode))
		return cfs_fail(errmsg, CFS_EINVAL,
				"inode %llu: write leases are for files",
				(unsigned long long)m->ino);
	if ((rv = owner_of(l, c->client_id, &owner, errmsg)) != 0 ||
	    (rv = read_inode(l, m->ino, &n, errmsg)) != 0)
		return rv;
	if (in_the_way(l, c, n, owner, m->type, errmsg) > 0)
		return CFS_LEASE_BUSY;
	out->ino = m->ino;
	for (size_t i = 0; i < n; i++)
		if (l->rows[i].holder == owner &&
		    l->rows[i].type >= m->type) {
			out->type = (uint8_t)l->rows[i].type;
			out->epoch = l->rows[i].epoch;
			return 0;
		}
	out->type = m->type;
	out->epoch = c->index;
	return put(l, m->ino, owner, c->client_id, m->type, c->index, errmsg);
}

static int
exec_list(struct leaset *l, const struct wire_lease_list *m,
	  struct wire_lease_list_reply *out, char *errmsg)
{
	sqlite3_stmt *s = l->q[Q_LIST];
	int rc;

	out->leases_count = 0;
	out->eof = 1;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)m->after_ino);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)m->after_holder);
	sqlite3_bind_int(s, 3, WIRE_MAX_leaseinfo + 1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (out->leases_count == WIRE_MAX_leaseinfo) {
			out->eof = 0;
			break;
		}
		struct wire_leaseinfo *r = &out->leases[out->leases_count++];
		r->ino = (uint64_t)sqlite3_column_int64(s, 0);
		r->holder = (uint64_t)sqlite3_column_int64(s, 1);
		r->session = (uint64_t)sqlite3_column_int64(s, 2);
		r->type = (uint8_t)sqlite3_column_int(s, 3);
		r->epoch = (uint64_t)sqlite3_column_int64(s, 4);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sqlq_fail(l->db, "leases", "listing leases", errmsg);
	return 0;
}

/* Note reply->first .. + count - 1 (the caller took them from the inode
 * counter) as set aside for the mount of session c->client_id. */
static int
exec_reserve(struct leaset *l, const struct lease_ctx *c,
	     const struct wire_ino_reserved *r, char *errmsg)
{
	uint64_t owner;
	int rv = owner_of(l, c->client_id, &owner, errmsg);

	sqlite3_stmt *s = l->q[Q_RESERVE];
	for (uint32_t i = 0; rv == 0 && i < r->count; i++) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)(r->first + i));
		sqlite3_bind_int64(s, 2, (sqlite3_int64)owner);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)c->client_id);
		rv = step(l, s, errmsg, "reserving inode numbers");
	}
	return rv;
}

int
lease_exec(struct leaset *l, const struct lease_ctx *c, uint16_t type,
	   const union wire_body *req, uint16_t *reply_type,
	   union wire_body *reply, char *errmsg)
{
	switch (type) {
	case WIRE_T_lease_get:
		*reply_type = WIRE_T_lease_granted;
		memset(&reply->lease_granted, 0, sizeof(reply->lease_granted));
		return exec_get(l, c, &req->lease_get, &reply->lease_granted,
				errmsg);
	case WIRE_T_lease_release: {
		uint64_t owner;
		int rv = owner_of(l, c->client_id, &owner, errmsg);
		if (rv != 0)
			return rv;
		*reply_type = WIRE_T_ok;
		/* No inode check: a file removed meanwhile took its leases
		 * already, and a release must not fail for that. */
		sqlite3_stmt *s = l->q[Q_RELEASE];
		sqlite3_bind_int64(s, 1, (sqlite3_int64)req->lease_release.ino);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)owner);
		sqlite3_bind_int64(s, 3,
				   (sqlite3_int64)req->lease_release.epoch);
		return step(l, s, errmsg, "releasing a lease");
	}
	case WIRE_T_lease_list:
		*reply_type = WIRE_T_lease_list_reply;
		return exec_list(l, &req->lease_list, &reply->lease_list_reply,
				 errmsg);
	case WIRE_T_ino_reserve:
		/* the caller took the numbers from the counter */
		*reply_type = WIRE_T_ino_reserved;
		return exec_reserve(l, c, &reply->ino_reserved, errmsg);
	default:
		return cfs_fail(errmsg, CFS_BADTYPE, "not a lease request");
	}
}

/* The inode of entry @name in @dir into @inos[*n] if there is one and it
 * is not there yet. */
static int
add_entry(struct leaset *l, uint64_t dir, const char *name, uint64_t *inos,
	  unsigned *n, char *errmsg)
{
	sqlite3_stmt *s = l->q[Q_DENTRY];
	int64_t v;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)dir);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	int rc = one_int(l, s, &v, errmsg, "looking up an entry");
	if (rc != 1)
		return rc;
	for (unsigned i = 0; i < *n; i++)
		if (inos[i] == (uint64_t)v)
			return 0;
	inos[(*n)++] = (uint64_t)v;
	return 0;
}

/* A frag_open or frag_commit of data written under write lease @epoch of
 * @owner on @ino (0: under none): CFS_FENCED unless @owner holds that
 * lease still (rows of @ino in l->rows[0..n)).  An expired session took
 * the lease and another mount may have written since; what was buffered
 * under it must not land over that (DESIGN.md §4, docs/leases.md). */
static int
fenced(struct leaset *l, size_t n, uint64_t ino, uint64_t owner,
       uint64_t epoch, char *errmsg)
{
	if (epoch == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct lease_row *r = &l->rows[i];
		if (r->holder == owner && r->type == CFS_LEASE_WRITE &&
		    r->epoch == epoch)
			return 0;
	}
	return cfs_fail(errmsg, CFS_FENCED,
			"inode %llu: written under write lease %llu of "
			"client %016llx, which it no longer holds (its "
			"session expired or it was released)",
			(unsigned long long)ino, (unsigned long long)epoch,
			(unsigned long long)owner);
}

/* A mknod with an inode number (a create its mount answered before
 * sending it): the number must be one set aside for @owner, else
 * CFS_FENCED (its session ended, taking the reservation, and with it the
 * directory lease the create was answered under). */
static int
reserved_for(struct leaset *l, uint64_t ino, uint64_t owner, char *errmsg)
{
	sqlite3_stmt *s = l->q[Q_RESERVED];
	int64_t v = 0;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	int rc = one_int(l, s, &v, errmsg, "looking up a reserved inode");
	if (rc < 0 || rc > 1)
		return rc;
	if (rc == 1 && (uint64_t)v == owner)
		return 0;
	return cfs_fail(errmsg, CFS_FENCED,
			"inode %llu is not reserved for client %016llx (the "
			"session that reserved it ended)",
			(unsigned long long)ino, (unsigned long long)owner);
}

int
lease_check(struct leaset *l, const struct lease_ctx *c, uint16_t type,
	    const union wire_body *req, char *errmsg)
{
	uint64_t inos[6], owner = 0;
	unsigned n = lease_targets(type, req, inos), busy = 0;
	size_t k;
	int rv;

	if (n == 0)
		return 0;
	if (type == WIRE_T_unlink || type == WIRE_T_rmdir) {
		rv = add_entry(l, req->unlink.parent, req->unlink.name, inos,
			       &n, errmsg);
	} else if (type == WIRE_T_rename) {
		rv = add_entry(l, req->rename.parent, req->rename.name, inos,
			       &n, errmsg);
		if (rv == 0)
			rv = add_entry(l, req->rename.newparent,
				       req->rename.newname, inos, &n, errmsg);
	} else {
		rv = 0;
	}
	if (rv != 0 ||
	    (rv = owner_of(l, c->client_id, &owner, errmsg)) != 0)
		return rv;
	/* the lease a fragment request's data was written under (0: none) */
	uint64_t epoch = 0;
	if (type == WIRE_T_frag_open)
		epoch = req->frag_open.lease_epoch;
	else if (type == WIRE_T_frag_commit)
		epoch = req->frag_commit.lease_epoch;
	else if (type == WIRE_T_mknod)
		epoch = req->mknod.lease_epoch; /* on the parent */
	if (type == WIRE_T_mknod && req->mknod.ino != 0) {
		if (req->mknod.lease_epoch == 0)
			return cfs_fail(errmsg, CFS_EINVAL,
					"a create with inode %llu names no "
					"directory lease",
					(unsigned long long)req->mknod.ino);
		if ((rv = reserved_for(l, req->mknod.ino, owner, errmsg)) != 0)
			return rv;
	}
	for (unsigned i = 0; i < n; i++) {
		if ((rv = read_inode(l, inos[i], &k, errmsg)) != 0)
			return rv;
		/* before the conflicts: a fenced writer recalls nobody */
		if ((rv = fenced(l, k, inos[i], owner, epoch, errmsg)) != 0)
			return rv;
		char msg[CFS_ERRMSG_SIZE];
		if (in_the_way(l, c, k, owner, 0, busy ? msg : errmsg) > 0)
			busy++;
	}
	return busy ? CFS_LEASE_BUSY : 0;
}

int
lease_dir_check(struct leaset *l, const struct lease_ctx *c, uint64_t ino,
		char *errmsg)
{
	uint64_t owner = 0;
	size_t n;
	int rv;

	if ((rv = read_inode(l, ino, &n, errmsg)) != 0)
		return rv;
	size_t w = 0;
	while (w < n && l->rows[w].type != CFS_LEASE_WRITE)
		w++;
	if (w == n) /* the common case: one indexed read, no write lease */
		return 0;
	if ((rv = owner_of(l, c->client_id, &owner, errmsg)) != 0)
		return rv;
	if (l->rows[w].holder == owner)
		return 0;
	int64_t mode = 0;
	sqlite3_stmt *s = l->q[Q_INODE];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	rv = one_int(l, s, &mode, errmsg, "looking up an inode");
	if (rv != 1) /* gone: the request answers that */
		return rv < 0 || rv > 1 ? rv : 0;
	if (!S_ISDIR((mode_t)mode))
		return 0;
	/* the holder may have answered creates in it not yet committed */
	return in_the_way(l, c, n, owner, CFS_LEASE_READ, errmsg) > 0
		       ? CFS_LEASE_BUSY
		       : 0;
}

int
lease_read_check(struct leaset *l, const struct lease_ctx *c, uint16_t type,
		 const union wire_body *req, char *errmsg)
{
	uint64_t ino;

	switch (type) {
	case WIRE_T_lookup:
		ino = req->lookup.parent;
		break;
	case WIRE_T_getattr:
		ino = req->getattr.ino;
		break;
	case WIRE_T_readdir:
		ino = req->readdir.ino;
		break;
	default:
		return 0;
	}
	return lease_dir_check(l, c, ino, errmsg);
}

int
lease_after(struct leaset *l, const struct lease_ctx *c, uint16_t type,
	    const union wire_body *req, union wire_body *reply, char *errmsg)
{
	uint64_t owner;
	size_t n;
	int rv;

	if (type != WIRE_T_mknod)
		return 0;
	if (req->mknod.ino != 0) { /* used: no longer reserved */
		sqlite3_stmt *s = l->q[Q_RESERVED_USE];
		sqlite3_bind_int64(s, 1, (sqlite3_int64)req->mknod.ino);
		if ((rv = step(l, s, errmsg, "using a reserved inode")) != 0)
			return rv;
	}
	if (!(req->mknod.flags & CFS_MKNOD_LEASE))
		return 0;
	struct wire_entry *e = &reply->entry;
	int dir_lt = req->mknod.flags & CFS_MKNOD_DIRWRITE ? CFS_LEASE_WRITE
							   : CFS_LEASE_READ;
	int lt = S_ISREG((mode_t)e->attr.mode)   ? CFS_LEASE_WRITE
		   : S_ISDIR((mode_t)e->attr.mode) ? dir_lt
						   : 0;
	if (lt == 0)
		return 0;
	if ((rv = owner_of(l, c->client_id, &owner, errmsg)) != 0 ||
	    (rv = read_inode(l, e->attr.ino, &n, errmsg)) != 0)
		return rv;
	for (size_t i = 0; i < n; i++) {
		const struct lease_row *r = &l->rows[i];
		if (lease_conflicts(r, owner, lt))
			return 0; /* someone else's: lease_get recalls it */
		if (r->holder == owner && r->type >= lt) {
			/* held already (an existing file, no O_EXCL): the
			 * same grant, whose epoch the mount's buffered data
			 * may be written under (fencing) */
			e->lease = (uint8_t)r->type;
			e->lease_epoch = r->epoch;
			return 0;
		}
	}
	e->lease = (uint8_t)lt;
	e->lease_epoch = c->index;
	return put(l, e->attr.ino, owner, c->client_id, lt, c->index,
		   errmsg);
}

int
lease_session_opened(struct leaset *l, uint64_t client_id, uint64_t owner,
		     char *errmsg)
{
	if (owner == 0 || owner == client_id)
		return 0;
	sqlite3_stmt *s = l->q[Q_OWNER_PUT];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)client_id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)owner);
	return step(l, s, errmsg, "storing a session's owner");
}

int
lease_drop_session(struct leaset *l, uint64_t client_id, char *errmsg)
{
	sqlite3_stmt *s = l->q[Q_DEL_SESSION];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)client_id);
	int rv = step(l, s, errmsg, "dropping a session's leases");
	if (rv != 0)
		return rv;
	s = l->q[Q_RESERVED_DEL_SESSION];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)client_id);
	if ((rv = step(l, s, errmsg, "dropping reserved inodes")) != 0)
		return rv;
	s = l->q[Q_OWNER_DEL];
	sqlite3_bind_int64(s, 1, (sqlite3_int64)client_id);
	return step(l, s, errmsg, "dropping a session's owner");
}

int
lease_owner(struct leaset *l, uint64_t client_id, uint64_t *owner,
	    char *errmsg)
{
	return owner_of(l, client_id, owner, errmsg);
}
