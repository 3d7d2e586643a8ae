/* ns.c - the POSIX namespace over SQLite: each operation one deterministic step of a transaction. */
#include "meta/ns.h"
#include "meta/ns_int.h"
#include "meta/sqlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"

/*
 * Tables (docs/metadata-schema.md).  Inode numbers come from the counter
 * `next_ino` in table config and are never reused; directory cookies are
 * max()+1 within their directory.  Both are functions of the database
 * alone, so every replica applying the same entries allocates the same
 * numbers, and nothing in memory can drift from the database when a
 * savepoint rolls an operation back.
 */
static const char ns_schema[] =
	"CREATE TABLE IF NOT EXISTS config ("
	"  key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS inodes ("
	"  ino INTEGER PRIMARY KEY,"
	"  generation INTEGER NOT NULL,"
	"  mode INTEGER NOT NULL,"
	"  nlink INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  gid INTEGER NOT NULL,"
	"  size INTEGER NOT NULL DEFAULT 0,"
	"  rdev INTEGER NOT NULL DEFAULT 0,"
	"  atime INTEGER NOT NULL,"
	"  mtime INTEGER NOT NULL,"
	"  ctime INTEGER NOT NULL,"
	"  goal INTEGER NOT NULL,"
	"  parent INTEGER NOT NULL DEFAULT 0," /* directories: their parent */
	"  target TEXT);"                      /* symlinks: the target */
	"CREATE TABLE IF NOT EXISTS dentries ("
	"  parent INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  ino INTEGER NOT NULL,"
	"  cookie INTEGER NOT NULL,"
	"  PRIMARY KEY (parent, name)) WITHOUT ROWID;"
	"CREATE UNIQUE INDEX IF NOT EXISTS dentries_cookie"
	"  ON dentries (parent, cookie);"
	"CREATE TABLE IF NOT EXISTS xattrs ("
	"  ino INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  value BLOB NOT NULL,"
	"  PRIMARY KEY (ino, name)) WITHOUT ROWID;"
	/* inodes whose last link went while they held data: the data path
	 * (issue 4) deletes their fragments, then the row */
	"CREATE TABLE IF NOT EXISTS orphans ("
	"  ino INTEGER NOT NULL,"
	"  generation INTEGER NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  since INTEGER NOT NULL,"
	"  PRIMARY KEY (ino, generation)) WITHOUT ROWID;";

static const char *const ns_sql[Q__COUNT] = {
	[Q_INODE_GET] = "SELECT generation, mode, nlink, uid, gid, size, rdev, "
			"atime, mtime, ctime, goal, parent, target FROM inodes "
			"WHERE ino = ?",
	[Q_INODE_PUT] = "INSERT OR REPLACE INTO inodes VALUES "
			"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[Q_INODE_DEL] = "DELETE FROM inodes WHERE ino = ?",
	[Q_DIR_TOUCH] = "UPDATE inodes SET nlink = ?, mtime = ?, ctime = ? "
			"WHERE ino = ?",
	[Q_INO_NEXT] = "UPDATE config SET value = value + 1 WHERE key = "
		       "'next_ino' RETURNING value - 1",
	[Q_INO_RESERVE] = "UPDATE config SET value = value + ?1 WHERE key = "
			  "'next_ino' RETURNING value - ?1",
	[Q_DENTRY_GET] = "SELECT ino FROM dentries WHERE parent = ? AND "
			 "name = ?",
	[Q_DENTRY_PUT] = "INSERT INTO dentries VALUES (?, ?, ?, ?)",
	[Q_DENTRY_DEL] = "DELETE FROM dentries WHERE parent = ? AND name = ?",
	[Q_DENTRY_SET_INO] = "UPDATE dentries SET ino = ? WHERE parent = ? "
			     "AND name = ?",
	[Q_COOKIE_NEXT] = "SELECT coalesce(max(cookie), 2) + 1 FROM dentries "
			  "WHERE parent = ?",
	[Q_DIR_ANY] = "SELECT 1 FROM dentries WHERE parent = ? LIMIT 1",
	/* the inode's columns as Q_INODE_GET's, from column 3 on: one
	 * statement for a page, not one more per entry */
	[Q_READDIR] = "SELECT d.cookie, d.name, d.ino, i.generation, i.mode, "
		      "i.nlink, i.uid, i.gid, i.size, i.rdev, i.atime, "
		      "i.mtime, i.ctime, i.goal, i.parent, i.target "
		      "FROM dentries d JOIN inodes i ON i.ino = d.ino "
		      "WHERE d.parent = ? AND d.cookie > ? ORDER BY d.cookie "
		      "LIMIT ?",
	[Q_XATTR_GET] = "SELECT value FROM xattrs WHERE ino = ? AND name = ?",
	[Q_XATTR_PUT] = "INSERT OR REPLACE INTO xattrs VALUES (?, ?, ?)",
	[Q_XATTR_DEL] = "DELETE FROM xattrs WHERE ino = ? AND name = ?",
	[Q_XATTR_LIST] = "SELECT name FROM xattrs WHERE ino = ? ORDER BY name",
	[Q_XATTR_DEL_ALL] = "DELETE FROM xattrs WHERE ino = ?",
	[Q_XATTR_TOTAL] = "SELECT coalesce(sum(length(name) + 1 + "
			  "length(value)), 0) FROM xattrs WHERE ino = ? AND "
			  "name != ?",
	[Q_ORPHAN_PUT] = "INSERT OR REPLACE INTO orphans VALUES (?, ?, ?, ?)",
	[Q_CONFIG_GET] = "SELECT value FROM config WHERE key = ?",
	[Q_CONFIG_PUT] = "INSERT OR REPLACE INTO config VALUES (?, ?)",
	[Q_COUNT_INODES] = "SELECT count(*) FROM inodes",
};

/* ---- helpers -------------------------------------------------------------- */

/* Statement @which failed: its SQL names it in the message. */
int
ns_db_error(struct ns *ns, char *errmsg, int which)
{
	return sqlq_fail(ns->db, "namespace", ns_sql[which], errmsg);
}

sqlite3_stmt *
ns_q(struct ns *ns, int which)
{
	sqlite3_reset(ns->q[which]);
	return ns->q[which];
}

/* Run a statement that returns no rows.  0 or CFS_INTERNAL. */
int
ns_run(struct ns *ns, int which, char *errmsg)
{
	int rc = sqlite3_step(ns->q[which]);
	sqlite3_reset(ns->q[which]);
	if (rc != SQLITE_DONE)
		return ns_db_error(ns, errmsg, which);
	return 0;
}

/* A one-integer query: 1 row found (*v set), 0 none, <0 error. */
int
ns_one_int(struct ns *ns, int which, int64_t *v)
{
	int rc = sqlite3_step(ns->q[which]);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(ns->q[which], 0);
	sqlite3_reset(ns->q[which]);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Inode @ino from the columns of Q_INODE_GET's row at @s, from column @c
 * on. */
static void
inode_from_row(sqlite3_stmt *s, int c, uint64_t ino, struct inode *n)
{
	n->ino = ino;
	n->generation = (uint64_t)sqlite3_column_int64(s, c);
	n->mode = (uint32_t)sqlite3_column_int64(s, c + 1);
	n->nlink = (uint32_t)sqlite3_column_int64(s, c + 2);
	n->uid = (uint32_t)sqlite3_column_int64(s, c + 3);
	n->gid = (uint32_t)sqlite3_column_int64(s, c + 4);
	n->size = (uint64_t)sqlite3_column_int64(s, c + 5);
	n->rdev = (uint64_t)sqlite3_column_int64(s, c + 6);
	n->atime = sqlite3_column_int64(s, c + 7);
	n->mtime = sqlite3_column_int64(s, c + 8);
	n->ctime = sqlite3_column_int64(s, c + 9);
	n->goal = (uint32_t)sqlite3_column_int64(s, c + 10);
	n->parent = (uint64_t)sqlite3_column_int64(s, c + 11);
	const unsigned char *t = sqlite3_column_text(s, c + 12);
	snprintf(n->target, sizeof(n->target), "%s", t ? (const char *)t : "");
}

int
ns_inode_get(struct ns *ns, uint64_t ino, struct inode *n, char *errmsg)
{
	sqlite3_stmt *s = ns_q(ns, Q_INODE_GET);
	int rc;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return cfs_fail(errmsg, CFS_ENOENT, "inode %llu",
				(unsigned long long)ino);
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return ns_db_error(ns, errmsg, Q_INODE_GET);
	}
	inode_from_row(s, 0, ino, n);
	sqlite3_reset(s);
	return 0;
}

int
ns_inode_put(struct ns *ns, const struct inode *n, char *errmsg)
{
	sqlite3_stmt *s = ns_q(ns, Q_INODE_PUT);

	sqlite3_bind_int64(s, 1, (sqlite3_int64)n->ino);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)n->generation);
	sqlite3_bind_int64(s, 3, n->mode);
	sqlite3_bind_int64(s, 4, n->nlink);
	sqlite3_bind_int64(s, 5, n->uid);
	sqlite3_bind_int64(s, 6, n->gid);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)n->size);
	sqlite3_bind_int64(s, 8, (sqlite3_int64)n->rdev);
	sqlite3_bind_int64(s, 9, n->atime);
	sqlite3_bind_int64(s, 10, n->mtime);
	sqlite3_bind_int64(s, 11, n->ctime);
	sqlite3_bind_int64(s, 12, n->goal);
	sqlite3_bind_int64(s, 13, (sqlite3_int64)n->parent);
	if (S_ISLNK(n->mode))
		sqlite3_bind_text(s, 14, n->target, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 14);
	return ns_run(ns, Q_INODE_PUT, errmsg);
}

/* Write back only what an entry change alters in a directory: its link
 * count and times (cheaper than rewriting the row). */
static int
dir_touch(struct ns *ns, const struct inode *d, char *errmsg)
{
	sqlite3_stmt *s = ns_q(ns, Q_DIR_TOUCH);

	sqlite3_bind_int64(s, 1, d->nlink);
	sqlite3_bind_int64(s, 2, d->mtime);
	sqlite3_bind_int64(s, 3, d->ctime);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)d->ino);
	return ns_run(ns, Q_DIR_TOUCH, errmsg);
}

/* Look up @name in directory @dir: 0 with *ino, CFS_ENOENT, or error. */
static int
dentry_get(struct ns *ns, uint64_t dir, const char *name, uint64_t *ino,
	   char *errmsg)
{
	sqlite3_stmt *s = ns_q(ns, Q_DENTRY_GET);
	int64_t v = 0;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)dir);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	int rc = ns_one_int(ns, Q_DENTRY_GET, &v);
	if (rc < 0)
		return ns_db_error(ns, errmsg, Q_DENTRY_GET);
	if (rc == 0)
		return cfs_fail(errmsg, CFS_ENOENT, "'%s'", name);
	*ino = (uint64_t)v;
	return 0;
}

static int
dentry_put(struct ns *ns, uint64_t dir, const char *name, uint64_t ino,
	   char *errmsg)
{
	int64_t cookie = COOKIE_FIRST;
	sqlite3_stmt *s = ns_q(ns, Q_COOKIE_NEXT);

	sqlite3_bind_int64(s, 1, (sqlite3_int64)dir);
	if (ns_one_int(ns, Q_COOKIE_NEXT, &cookie) < 0)
		return ns_db_error(ns, errmsg, Q_COOKIE_NEXT);
	s = ns_q(ns, Q_DENTRY_PUT);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)dir);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)ino);
	sqlite3_bind_int64(s, 4, cookie);
	return ns_run(ns, Q_DENTRY_PUT, errmsg);
}

static int
dentry_del(struct ns *ns, uint64_t dir, const char *name, char *errmsg)
{
	sqlite3_stmt *s = ns_q(ns, Q_DENTRY_DEL);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)dir);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	return ns_run(ns, Q_DENTRY_DEL, errmsg);
}

static int
dir_is_empty(struct ns *ns, uint64_t dir, int *empty, char *errmsg)
{
	int64_t v;
	sqlite3_bind_int64(ns_q(ns, Q_DIR_ANY), 1, (sqlite3_int64)dir);
	int rc = ns_one_int(ns, Q_DIR_ANY, &v);
	if (rc < 0)
		return ns_db_error(ns, errmsg, Q_DIR_ANY);
	*empty = rc == 0;
	return 0;
}

static void
to_attr(const struct inode *n, struct wire_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = n->ino;
	a->generation = n->generation;
	a->mode = n->mode;
	a->nlink = n->nlink;
	a->uid = n->uid;
	a->gid = n->gid;
	a->size = S_ISLNK(n->mode) ? strlen(n->target) : n->size;
	a->rdev = n->rdev;
	a->atime_ns = n->atime;
	a->mtime_ns = n->mtime;
	a->ctime_ns = n->ctime;
	a->goal = n->goal;
}

/* A name for a directory entry: not empty, no '/', not "." or "..", at
 * most NAME_MAX bytes.  (NUL cannot occur: the wire decoder refuses it.) */
static int
check_name(const char *name, char *errmsg)
{
	size_t n = strlen(name);
	if (n == 0)
		return cfs_fail(errmsg, CFS_ENOENT, "empty name");
	if (n > CFS_NAME_MAX)
		return cfs_fail(errmsg, CFS_ENAMETOOLONG, "name of %zu bytes",
				n);
	if (strchr(name, '/') != NULL)
		return cfs_fail(errmsg, CFS_EINVAL, "'%s' contains '/'", name);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return cfs_fail(errmsg, CFS_EINVAL, "'%s' is reserved", name);
	return 0;
}

/* ---- permissions -----------------------------------------------------------
 * POSIX discretionary access: the owner's bits if the caller owns the
 * inode, else the group's if the inode's group is the caller's group or one
 * of its supplementary groups, else the others'.  Root may read and write
 * anything, and execute anything with at least one x bit (or a
 * directory). */

static int
in_group(const struct wire_cred *c, uint32_t gid)
{
	if (c->gid == gid)
		return 1;
	for (uint32_t i = 0; i < c->groups_count; i++)
		if (c->groups[i] == gid)
			return 1;
	return 0;
}

static int
may(const struct inode *n, const struct wire_cred *c, int mask)
{
	if (c->uid == 0) {
		if (!(mask & MAY_X) || S_ISDIR(n->mode))
			return 1;
		return (n->mode & 0111) != 0;
	}
	unsigned bits;
	if (c->uid == n->uid)
		bits = (n->mode >> 6) & 7;
	else if (in_group(c, n->gid))
		bits = (n->mode >> 3) & 7;
	else
		bits = n->mode & 7;
	return ((unsigned)mask & ~bits) == 0;
}

int
ns_need(const struct inode *n, const struct wire_cred *c, int mask, const char *what,
     char *errmsg)
{
	if (may(n, c, mask))
		return 0;
	return cfs_fail(errmsg, CFS_EACCES, "%s (inode %llu, mode %o, owner %u)",
			what, (unsigned long long)n->ino, n->mode & 07777,
			n->uid);
}

/* Sticky directories: only the owner of the entry, of the directory, or
 * root may remove or rename an entry. */
static int
sticky_ok(const struct inode *dir, const struct inode *victim,
	  const struct wire_cred *c, char *errmsg)
{
	if (!(dir->mode & S_ISVTX) || c->uid == 0 || c->uid == dir->uid ||
	    c->uid == victim->uid)
		return 0;
	return cfs_fail(errmsg, CFS_EPERM,
			"sticky directory %llu: entry owned by %u",
			(unsigned long long)dir->ino, victim->uid);
}

/* Load @ino as a directory the caller may search (x). */
static int
get_dir(struct ns *ns, uint64_t ino, const struct wire_cred *c,
	struct inode *dir, char *errmsg)
{
	int rv = ns_inode_get(ns, ino, dir, errmsg);
	if (rv != 0)
		return rv;
	if (!S_ISDIR(dir->mode))
		return cfs_fail(errmsg, CFS_ENOTDIR, "inode %llu",
				(unsigned long long)ino);
	return ns_need(dir, c, MAY_X, "search", errmsg);
}

/* ---- open / format --------------------------------------------------------- */

int
ns_open(struct ns **out, sqlite3 *db, char *errmsg)
{
	struct ns *ns = calloc(1, sizeof(*ns));
	int rv;

	if (ns == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "namespace");
	ns->db = db;
	if ((rv = sqlq_prepare(db, "namespace", ns_schema, ns_sql, Q__COUNT,
			       ns->q, errmsg)) != 0) {
		ns_close(&ns);
		return rv;
	}
	struct inode root;
	char ignored[CFS_ERRMSG_SIZE];
	ns->formatted = ns_inode_get(ns, ROOT_INO, &root, ignored) == 0;
	*out = ns;
	return 0;
}

void
ns_close(struct ns **nsp)
{
	struct ns *ns = *nsp;
	if (ns == NULL)
		return;
	sqlq_finalize(ns->q, Q__COUNT);
	free(ns->scratch);
	free(ns);
	*nsp = NULL;
}

void
ns_set_shrink_check(struct ns *ns, ns_shrink_check_fn fn, void *arg)
{
	ns->shrink_check = fn;
	ns->shrink_arg = arg;
}

int
ns_is_formatted(struct ns *ns)
{
	return ns->formatted;
}

static int
config_put(struct ns *ns, const char *key, int64_t v, char *errmsg)
{
	sqlite3_stmt *s = ns_q(ns, Q_CONFIG_PUT);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	return ns_run(ns, Q_CONFIG_PUT, errmsg);
}

int
ns_format(struct ns *ns, const struct ns_env *env, const struct ns_format *fmt,
	  char *errmsg)
{
	struct inode *r = &ns->a;
	int rv;

	if (ns->formatted)
		return cfs_fail(errmsg, CFS_EEXIST, "filesystem");
	if (fmt->default_goal < 1 || fmt->default_goal > CFS_GOAL_MAX ||
	    fmt->fragment_size < 4096)
		return cfs_fail(errmsg, CFS_EINVAL,
				"format: goal %u, fragment size %llu",
				fmt->default_goal,
				(unsigned long long)fmt->fragment_size);
	memset(r, 0, sizeof(*r));
	r->ino = ROOT_INO;
	r->generation = (uint64_t)env->now_ns;
	r->mode = S_IFDIR | 0755;
	r->nlink = 2;
	r->atime = r->mtime = r->ctime = env->now_ns;
	r->goal = fmt->default_goal;
	r->parent = ROOT_INO;
	rv = ns_inode_put(ns, r, errmsg);
	if (rv == 0)
		rv = config_put(ns, "fragment_size",
				(int64_t)fmt->fragment_size, errmsg);
	if (rv == 0)
		rv = config_put(ns, "default_goal", fmt->default_goal, errmsg);
	if (rv == 0)
		rv = config_put(ns, "formatted_ns", env->now_ns, errmsg);
	if (rv == 0)
		rv = config_put(ns, "next_ino", ROOT_INO + 1, errmsg);
	if (rv == 0)
		ns->formatted = 1;
	return rv;
}

/* ---- operations --------------------------------------------------------------
 * Each takes the request and fills the reply; they return 0, a POSIX error
 * (a result), or CFS_INTERNAL.  ns_exec's caller runs each in a savepoint,
 * so an error after a partial change leaves nothing behind. */

static int
op_lookup(struct ns *ns, const struct wire_lookup *rq, uint16_t *rt,
	  union wire_body *out, char *errmsg)
{
	struct inode *dir = &ns->a, *n = &ns->b;
	uint64_t ino;
	int rv = get_dir(ns, rq->parent, &rq->cred, dir, errmsg);

	if (rv != 0)
		return rv;
	if (strcmp(rq->name, ".") == 0)
		ino = dir->ino;
	else if (strcmp(rq->name, "..") == 0)
		ino = dir->parent;
	else if (strlen(rq->name) > CFS_NAME_MAX || !rq->name[0] ||
		 strchr(rq->name, '/'))
		return check_name(rq->name, errmsg);
	else if ((rv = dentry_get(ns, dir->ino, rq->name, &ino, errmsg)) != 0)
		return rv;
	rv = ns_inode_get(ns, ino, n, errmsg);
	if (rv != 0)
		return rv;
	to_attr(n, &out->entry.attr);
	*rt = WIRE_T_entry;
	return 0;
}

static int
op_getattr(struct ns *ns, const struct wire_getattr *rq, uint16_t *rt,
	   union wire_body *out, char *errmsg)
{
	int rv = ns_inode_get(ns, rq->ino, &ns->a, errmsg);
	if (rv != 0)
		return rv;
	to_attr(&ns->a, &out->entry.attr);
	*rt = WIRE_T_entry;
	return 0;
}

/*
 * setattr, with the POSIX rules:
 * 1) mode: owner or root; a non-root caller not in the file's group loses
 *    S_ISGID; updates ctime.
 * 2) uid: root only (to another uid); gid: root, or the owner to a group he
 *    is in.  A chown by non-root clears S_ISUID/S_ISGID of regular files.
 * 3) size: write permission; regular files only (EISDIR / EINVAL); updates
 *    mtime and ctime; a shrink the data map refuses (shrink check) fails.
 * 4) times: explicit values need ownership (or root); "now" needs
 *    ownership or write permission.  ctime always moves to now.
 */
static int
op_setattr(struct ns *ns, const struct ns_env *env,
	   const struct wire_setattr *rq, uint16_t *rt, union wire_body *out,
	   char *errmsg)
{
	struct inode *n = &ns->a;
	const struct wire_cred *c = &rq->cred;
	uint32_t v = rq->valid;
	int owner, rv = ns_inode_get(ns, rq->ino, n, errmsg);

	if (rv != 0)
		return rv;
	owner = c->uid == 0 || c->uid == n->uid;
	if (v & CFS_SETATTR_MODE) {
		if (!owner)
			return cfs_fail(errmsg, CFS_EPERM,
					"chmod of inode %llu owned by %u",
					(unsigned long long)n->ino, n->uid);
		uint32_t mode = rq->mode & 07777;
		if (c->uid != 0 && !in_group(c, n->gid))
			mode &= ~(uint32_t)S_ISGID;
		n->mode = (n->mode & S_IFMT) | mode;
	}
	if (v & (CFS_SETATTR_UID | CFS_SETATTR_GID)) {
		uint32_t uid = v & CFS_SETATTR_UID ? rq->uid : n->uid;
		uint32_t gid = v & CFS_SETATTR_GID ? rq->gid : n->gid;
		if (c->uid != 0) {
			if (uid != n->uid)
				return cfs_fail(errmsg, CFS_EPERM,
						"only root may give a file "
						"away");
			if (c->uid != n->uid ||
			    (gid != n->gid && !in_group(c, gid)))
				return cfs_fail(errmsg, CFS_EPERM,
						"chgrp to %u", gid);
		}
		if (c->uid != 0 && S_ISREG(n->mode))
			n->mode &= ~(uint32_t)(S_ISUID | S_ISGID);
		n->uid = uid;
		n->gid = gid;
	}
	if (v & CFS_SETATTR_SIZE) {
		if (S_ISDIR(n->mode))
			return cfs_fail(errmsg, CFS_EISDIR, "truncate");
		if (!S_ISREG(n->mode))
			return cfs_fail(errmsg, CFS_EINVAL,
					"truncate of a special file");
		rv = ns_need(n, c, MAY_W, "truncate", errmsg);
		if (rv != 0)
			return rv;
		if (rq->size > (1ull << 62))
			return cfs_fail(errmsg, CFS_EFBIG, "size %llu",
					(unsigned long long)rq->size);
		if (rq->size != n->size && ns->shrink_check != NULL &&
		    (rv = ns->shrink_check(ns->shrink_arg, n->ino, n->size,
					   rq->size, errmsg)) != 0)
			return rv;
		n->size = rq->size;
		n->mtime = env->now_ns;
	}
	if (v & (CFS_SETATTR_ATIME | CFS_SETATTR_MTIME)) {
		if (!owner)
			return cfs_fail(errmsg, CFS_EPERM,
					"setting times of inode %llu",
					(unsigned long long)n->ino);
	}
	if (v & (CFS_SETATTR_ATIME_NOW | CFS_SETATTR_MTIME_NOW)) {
		if (!owner && !may(n, c, MAY_W))
			return cfs_fail(errmsg, CFS_EACCES,
					"touching inode %llu",
					(unsigned long long)n->ino);
	}
	if (v & CFS_SETATTR_ATIME)
		n->atime = rq->atime_ns;
	if (v & CFS_SETATTR_ATIME_NOW)
		n->atime = env->now_ns;
	if (v & CFS_SETATTR_MTIME)
		n->mtime = rq->mtime_ns;
	if (v & CFS_SETATTR_MTIME_NOW)
		n->mtime = env->now_ns;
	n->ctime = env->now_ns;
	rv = ns_inode_put(ns, n, errmsg);
	if (rv != 0)
		return rv;
	to_attr(n, &out->entry.attr);
	*rt = WIRE_T_entry;
	return 0;
}

/* How far a creating client's clock may be from the leader's (mknod
 * time_ns) before the entry's time is taken instead. */
#define CLIENT_CLOCK_SLACK_NS (3600ll * 1000000000)

int
ns_ino_reserve(struct ns *ns, uint32_t count, uint64_t *first, char *errmsg)
{
	int64_t v = 0;

	if (!ns->formatted)
		return cfs_fail(errmsg, CFS_EROFS,
				"the filesystem is not formatted yet");
	sqlite3_bind_int64(ns->q[Q_INO_RESERVE], 1, count);
	if (ns_one_int(ns, Q_INO_RESERVE, &v) != 1)
		return ns_db_error(ns, errmsg, Q_INO_RESERVE);
	*first = (uint64_t)v;
	return 0;
}

/* Create inode @n (filled except generation/owner; ino 0: the next
 * number, else one reserved for the caller: lease_check saw to it) as
 * @name in @dir, at time @at (0: the entry's; else the creating client's,
 * which answered the create before sending it and told its mount the
 * times: the directory's never go back). */
static int
create_in(struct ns *ns, const struct ns_env *env, struct inode *dir,
	  const char *name, const struct wire_cred *c, struct inode *n,
	  int64_t at, char *errmsg)
{
	int64_t next = (int64_t)n->ino;
	int rv;

	if (next == 0 && ns_one_int(ns, Q_INO_NEXT, &next) != 1)
		return ns_db_error(ns, errmsg, Q_INO_NEXT);
	if (next < ROOT_INO + 1)
		return cfs_fail(errmsg, CFS_INTERNAL, "inode counter at %lld",
				(long long)next);
	n->ino = (uint64_t)next;
	int64_t t = at != 0 ? at : env->now_ns;
	n->generation = (uint64_t)t;
	n->uid = c->uid;
	/* setgid directories: children take the directory's group, and
	 * subdirectories inherit the bit */
	if (dir->mode & S_ISGID) {
		n->gid = dir->gid;
		if (S_ISDIR(n->mode))
			n->mode |= S_ISGID;
	} else {
		n->gid = c->gid;
		if (S_ISREG(n->mode) && c->uid != 0 && !in_group(c, n->gid))
			n->mode &= ~(uint32_t)S_ISGID;
	}
	n->atime = n->mtime = n->ctime = t;
	n->goal = dir->goal;
	n->parent = S_ISDIR(n->mode) ? dir->ino : 0;
	n->nlink = S_ISDIR(n->mode) ? 2 : 1;
	if (S_ISDIR(n->mode)) {
		if (dir->nlink >= NLINK_MAX)
			return cfs_fail(errmsg, CFS_EMLINK, "directory %llu",
					(unsigned long long)dir->ino);
		dir->nlink++;
	}
	if (at == 0) {
		dir->mtime = dir->ctime = t;
	} else {
		dir->mtime = dir->mtime > t ? dir->mtime : t;
		dir->ctime = dir->ctime > t ? dir->ctime : t;
	}
	if ((rv = ns_inode_put(ns, n, errmsg)) != 0 ||
	    (rv = dentry_put(ns, dir->ino, name, n->ino, errmsg)) != 0 ||
	    (rv = dir_touch(ns, dir, errmsg)) != 0)
		return rv;
	return 0;
}

/* Load @parent for creating @name in it: a directory with w+x, the name
 * valid and free.  CFS_EEXIST sets *existing. */
static int
prepare_create(struct ns *ns, uint64_t parent, const char *name,
	       const struct wire_cred *c, struct inode *dir,
	       uint64_t *existing, char *errmsg)
{
	int rv = get_dir(ns, parent, c, dir, errmsg);
	if (rv != 0)
		return rv;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return cfs_fail(errmsg, CFS_EEXIST, "'%s'", name);
	if ((rv = check_name(name, errmsg)) != 0)
		return rv;
	char ignored[CFS_ERRMSG_SIZE];
	if (dentry_get(ns, dir->ino, name, existing, ignored) == 0)
		return cfs_fail(errmsg, CFS_EEXIST, "'%s'", name);
	if (dir->nlink == 0)
		return cfs_fail(errmsg, CFS_ENOENT,
				"directory %llu was removed",
				(unsigned long long)dir->ino);
	return ns_need(dir, c, MAY_W | MAY_X, "create in directory", errmsg);
}

static int
op_mknod(struct ns *ns, const struct ns_env *env, const struct wire_mknod *rq,
	 uint16_t *rt, union wire_body *out, char *errmsg)
{
	struct inode *dir = &ns->a, *n = &ns->b;
	uint32_t type = rq->mode & S_IFMT;
	uint64_t existing = 0;
	int rv;

	if (type == 0)
		type = S_IFREG;
	switch (type) {
	case S_IFREG: case S_IFDIR: case S_IFIFO: case S_IFSOCK:
		break;
	case S_IFCHR: case S_IFBLK:
		if (rq->cred.uid != 0)
			return cfs_fail(errmsg, CFS_EPERM,
					"device nodes need root");
		break;
	default:
		return cfs_fail(errmsg, CFS_EINVAL,
				"mknod of file type 0%o (symlinks have their "
				"own request)",
				type);
	}
	rv = prepare_create(ns, rq->parent, rq->name, &rq->cred, dir,
			    &existing, errmsg);
	if (rv == CFS_EEXIST && !(rq->flags & CFS_MKNOD_EXCL) &&
	    type == S_IFREG && existing != 0 &&
	    ns_inode_get(ns, existing, n, errmsg) == 0 && S_ISREG(n->mode)) {
		/* open(O_CREAT) without O_EXCL of an existing file */
		to_attr(n, &out->entry.attr);
		*rt = WIRE_T_entry;
		return 0;
	}
	if (rv != 0)
		return rv;
	memset(n, 0, sizeof(*n));
	n->mode = type | (rq->mode & 07777);
	n->rdev = type == S_IFCHR || type == S_IFBLK ? rq->rdev : 0;
	if (rq->ino != 0) {
		/* reserved for the caller, so never used: defence in depth
		 * for the rule that inode numbers are never reused */
		char ignored[CFS_ERRMSG_SIZE];
		if (ns_inode_get(ns, rq->ino, &ns->c, ignored) == 0)
			return cfs_fail(errmsg, CFS_EINVAL,
					"inode %llu exists already",
					(unsigned long long)rq->ino);
		n->ino = rq->ino;
	}
	/* the client's time, unless its clock is far off (then its mount's
	 * view of the times differs from this one until it asks again) */
	int64_t at = 0;
	if (rq->ino != 0 && rq->time_ns <= (uint64_t)INT64_MAX &&
	    (int64_t)rq->time_ns > env->now_ns - CLIENT_CLOCK_SLACK_NS &&
	    (int64_t)rq->time_ns < env->now_ns + CLIENT_CLOCK_SLACK_NS)
		at = (int64_t)rq->time_ns;
	rv = create_in(ns, env, dir, rq->name, &rq->cred, n, at, errmsg);
	if (rv != 0)
		return rv;
	to_attr(n, &out->entry.attr);
	*rt = WIRE_T_entry;
	return 0;
}

static int
op_symlink(struct ns *ns, const struct ns_env *env,
	   const struct wire_symlink *rq, uint16_t *rt, union wire_body *out,
	   char *errmsg)
{
	struct inode *dir = &ns->a, *n = &ns->b;
	uint64_t existing;
	int rv;

	if (rq->target[0] == '\0')
		return cfs_fail(errmsg, CFS_ENOENT, "empty symlink target");
	rv = prepare_create(ns, rq->parent, rq->name, &rq->cred, dir,
			    &existing, errmsg);
	if (rv != 0)
		return rv;
	memset(n, 0, sizeof(*n));
	n->mode = S_IFLNK | 0777;
	snprintf(n->target, sizeof(n->target), "%s", rq->target);
	rv = create_in(ns, env, dir, rq->name, &rq->cred, n, 0, errmsg);
	if (rv != 0)
		return rv;
	to_attr(n, &out->entry.attr);
	*rt = WIRE_T_entry;
	return 0;
}

static int
op_readlink(struct ns *ns, const struct wire_readlink *rq, uint16_t *rt,
	    union wire_body *out, char *errmsg)
{
	int rv = ns_inode_get(ns, rq->ino, &ns->a, errmsg);
	if (rv != 0)
		return rv;
	if (!S_ISLNK(ns->a.mode))
		return cfs_fail(errmsg, CFS_EINVAL, "inode %llu is not a symlink",
				(unsigned long long)rq->ino);
	snprintf(out->linktarget.target, sizeof(out->linktarget.target), "%s",
		 ns->a.target);
	*rt = WIRE_T_linktarget;
	return 0;
}

/* Drop one link of @n (its entry is gone already); delete the inode with
 * the last one.  Regular files holding data are queued for the data GC. */
static int
drop_link(struct ns *ns, const struct ns_env *env, struct inode *n,
	  char *errmsg)
{
	int rv;
	uint32_t keep = S_ISDIR(n->mode) ? 2 : 1;

	if (n->nlink > keep) {
		n->nlink--;
		n->ctime = env->now_ns;
		return ns_inode_put(ns, n, errmsg);
	}
	if (S_ISREG(n->mode) && n->size > 0) {
		sqlite3_stmt *s = ns_q(ns, Q_ORPHAN_PUT);
		sqlite3_bind_int64(s, 1, (sqlite3_int64)n->ino);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)n->generation);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)n->size);
		sqlite3_bind_int64(s, 4, env->now_ns);
		if ((rv = ns_run(ns, Q_ORPHAN_PUT, errmsg)) != 0)
			return rv;
	}
	sqlite3_bind_int64(ns_q(ns, Q_XATTR_DEL_ALL), 1, (sqlite3_int64)n->ino);
	if ((rv = ns_run(ns, Q_XATTR_DEL_ALL, errmsg)) != 0)
		return rv;
	sqlite3_bind_int64(ns_q(ns, Q_INODE_DEL), 1, (sqlite3_int64)n->ino);
	return ns_run(ns, Q_INODE_DEL, errmsg);
}

/* unlink (@dir_op 0) and rmdir (1). */
static int
op_remove(struct ns *ns, const struct ns_env *env,
	  const struct wire_unlink *rq, int dir_op, uint16_t *rt,
	  struct wire_ok *out, char *errmsg)
{
	struct inode *dir = &ns->a, *n = &ns->b;
	uint64_t ino;
	int rv = get_dir(ns, rq->parent, &rq->cred, dir, errmsg);

	if (rv != 0)
		return rv;
	if (dir_op && strcmp(rq->name, ".") == 0)
		return cfs_fail(errmsg, CFS_EINVAL, "rmdir of '.'");
	if (dir_op && strcmp(rq->name, "..") == 0)
		return cfs_fail(errmsg, CFS_ENOTEMPTY, "rmdir of '..'");
	if ((rv = check_name(rq->name, errmsg)) != 0)
		return rv;
	if ((rv = dentry_get(ns, dir->ino, rq->name, &ino, errmsg)) != 0 ||
	    (rv = ns_inode_get(ns, ino, n, errmsg)) != 0)
		return rv;
	if ((rv = ns_need(dir, &rq->cred, MAY_W | MAY_X, "remove from directory",
		       errmsg)) != 0 ||
	    (rv = sticky_ok(dir, n, &rq->cred, errmsg)) != 0)
		return rv;
	if (dir_op) {
		int empty;
		if (!S_ISDIR(n->mode))
			return cfs_fail(errmsg, CFS_ENOTDIR, "'%s'", rq->name);
		if ((rv = dir_is_empty(ns, n->ino, &empty, errmsg)) != 0)
			return rv;
		if (!empty)
			return cfs_fail(errmsg, CFS_ENOTEMPTY, "'%s'",
					rq->name);
		dir->nlink--;
		n->nlink = 2; /* the last link goes in drop_link */
	} else if (S_ISDIR(n->mode)) {
		return cfs_fail(errmsg, CFS_EISDIR, "unlink of directory '%s'",
				rq->name);
	}
	if ((rv = dentry_del(ns, dir->ino, rq->name, errmsg)) != 0 ||
	    (rv = drop_link(ns, env, n, errmsg)) != 0)
		return rv;
	dir->mtime = dir->ctime = env->now_ns;
	if ((rv = dir_touch(ns, dir, errmsg)) != 0)
		return rv;
	*rt = WIRE_T_ok;
	/* the client works out the parent's new attributes from it, as
	 * from a create's reply: no getattr after each unlink */
	out->time_ns = (uint64_t)env->now_ns;
	return 0;
}

static int
op_link(struct ns *ns, const struct ns_env *env, const struct wire_link *rq,
	uint16_t *rt, union wire_body *out, char *errmsg)
{
	struct inode *dir = &ns->a, *n = &ns->b;
	uint64_t existing;
	int rv = ns_inode_get(ns, rq->ino, n, errmsg);

	if (rv != 0)
		return rv;
	/* Linux's order: the new name's errors (EEXIST, EACCES) first */
	rv = prepare_create(ns, rq->newparent, rq->newname, &rq->cred, dir,
			    &existing, errmsg);
	if (rv != 0)
		return rv;
	if (S_ISDIR(n->mode))
		return cfs_fail(errmsg, CFS_EPERM, "hard link to a directory");
	if (n->nlink >= NLINK_MAX)
		return cfs_fail(errmsg, CFS_EMLINK, "inode %llu",
				(unsigned long long)n->ino);
	n->nlink++;
	n->ctime = env->now_ns;
	dir->mtime = dir->ctime = env->now_ns;
	if ((rv = dentry_put(ns, dir->ino, rq->newname, n->ino, errmsg)) !=
		    0 ||
	    (rv = ns_inode_put(ns, n, errmsg)) != 0 ||
	    (rv = dir_touch(ns, dir, errmsg)) != 0)
		return rv;
	to_attr(n, &out->entry.attr);
	*rt = WIRE_T_entry;
	return 0;
}

/* Is directory @anc equal to @dir or one of its ancestors? */
static int
is_ancestor(struct ns *ns, uint64_t anc, uint64_t dir, int *yes, char *errmsg)
{
	/* not one of a..d: rename holds its four operands there (reading
	 * ancestors into ns->d once overwrote rename's target, and an
	 * exchange then wrote a wrong parent back: found by the model) */
	struct inode *w = &ns->walk;
	uint64_t cur = dir;

	*yes = 0;
	for (int depth = 0; depth < 100000; depth++) {
		if (cur == anc) {
			*yes = 1;
			return 0;
		}
		if (cur == ROOT_INO)
			return 0;
		int rv = ns_inode_get(ns, cur, w, errmsg);
		if (rv != 0)
			return rv == CFS_INTERNAL ? rv : 0;
		cur = w->parent;
	}
	return cfs_fail(errmsg, CFS_INTERNAL, "directory loop above %llu",
			(unsigned long long)dir);
}

/*
 * rename(2) and renameat2's flags, checked in Linux's order (the
 * differential test compares errno with the model, which follows it):
 * 1) bad flags EINVAL; "." or ".." on either side EBUSY; the source
 *    missing ENOENT;
 * 2) NOREPLACE with an existing target EEXIST; EXCHANGE without one
 *    ENOENT;
 * 3) a directory into itself or below EINVAL; over a directory that holds
 *    the source ENOTEMPTY (EXCHANGE: EINVAL);
 * 4) both names the same inode (hard links or the same entry): nothing to
 *    do, success (POSIX), even without permission;
 * 5) permission: w+x on both directories, the sticky rule on both
 *    entries; then (not EXCHANGE) dir over non-dir ENOTDIR, non-dir over
 *    dir EISDIR; a directory changing parent needs w on itself (its ".."
 *    changes);
 * 6) EXCHANGE: the two entries swap inodes; replacing: over a non-empty
 *    directory ENOTEMPTY, else the target's link is dropped; a directory
 *    moves one link from the old parent to the new.
 */
static int
op_rename(struct ns *ns, const struct ns_env *env,
	  const struct wire_rename *rq, uint16_t *rt, char *errmsg)
{
	struct inode *sd = &ns->a, *td = &ns->b, *s = &ns->c, *t = &ns->d;
	const struct wire_cred *c = &rq->cred;
	uint32_t fl = rq->flags;
	uint64_t sino, tino = 0;
	int rv, have_t, same_dir = rq->parent == rq->newparent;

	if ((fl & ~(CFS_RENAME_NOREPLACE | CFS_RENAME_EXCHANGE)) ||
	    (fl & CFS_RENAME_NOREPLACE && fl & CFS_RENAME_EXCHANGE))
		return cfs_fail(errmsg, CFS_EINVAL, "rename flags 0x%x", fl);
	if ((rv = get_dir(ns, rq->parent, c, sd, errmsg)) != 0)
		return rv;
	if (same_dir)
		*td = *sd;
	else if ((rv = get_dir(ns, rq->newparent, c, td, errmsg)) != 0)
		return rv;
	/* Linux (do_renameat2): EBUSY, or for a target with NOREPLACE
	 * EEXIST ('.' and '..' always exist) */
	if (!strcmp(rq->name, ".") || !strcmp(rq->name, ".."))
		return cfs_fail(errmsg, CFS_EBUSY, "rename of '.' or '..'");
	if (!strcmp(rq->newname, ".") || !strcmp(rq->newname, ".."))
		return cfs_fail(errmsg, fl & CFS_RENAME_NOREPLACE ? CFS_EEXIST
								  : CFS_EBUSY,
				"rename onto '.' or '..'");
	if ((rv = check_name(rq->name, errmsg)) != 0 ||
	    (rv = check_name(rq->newname, errmsg)) != 0)
		return rv;
	if ((rv = dentry_get(ns, sd->ino, rq->name, &sino, errmsg)) != 0 ||
	    (rv = ns_inode_get(ns, sino, s, errmsg)) != 0)
		return rv;
	char ignored[CFS_ERRMSG_SIZE];
	have_t = dentry_get(ns, td->ino, rq->newname, &tino, ignored) == 0;
	if (have_t && (rv = ns_inode_get(ns, tino, t, errmsg)) != 0)
		return rv;
	/* Linux's order (vfs_rename after do_renameat2's lookups and
	 * lock_rename's ancestor checks): an application sees the first. */
	if (fl & CFS_RENAME_NOREPLACE && have_t)
		return cfs_fail(errmsg, CFS_EEXIST, "'%s'", rq->newname);
	if (fl & CFS_RENAME_EXCHANGE && !have_t)
		return cfs_fail(errmsg, CFS_ENOENT, "'%s'", rq->newname);
	int yes;
	if (S_ISDIR(s->mode) && !same_dir) {
		if ((rv = is_ancestor(ns, s->ino, td->ino, &yes, errmsg)) != 0)
			return rv;
		if (yes)
			return cfs_fail(errmsg, CFS_EINVAL,
					"'%s' into its own subtree", rq->name);
	}
	if (have_t && S_ISDIR(t->mode) && !same_dir) {
		if ((rv = is_ancestor(ns, t->ino, sd->ino, &yes, errmsg)) != 0)
			return rv;
		if (yes) /* the target holds the source */
			return cfs_fail(errmsg,
					fl & CFS_RENAME_EXCHANGE ? CFS_EINVAL
								 : CFS_ENOTEMPTY,
					"'%s' is above '%s'", rq->newname,
					rq->name);
	}
	if (have_t && tino == sino)
		goto done; /* case 2 */
	if ((rv = ns_need(sd, c, MAY_W | MAY_X, "rename from directory",
		       errmsg)) != 0 ||
	    (rv = sticky_ok(sd, s, c, errmsg)) != 0 ||
	    (rv = ns_need(td, c, MAY_W | MAY_X, "rename into directory",
		       errmsg)) != 0 ||
	    (have_t && (rv = sticky_ok(td, t, c, errmsg)) != 0))
		return rv;
	if (have_t && !(fl & CFS_RENAME_EXCHANGE)) {
		if (S_ISDIR(s->mode) && !S_ISDIR(t->mode))
			return cfs_fail(errmsg, CFS_ENOTDIR, "'%s'",
					rq->newname);
		if (!S_ISDIR(s->mode) && S_ISDIR(t->mode))
			return cfs_fail(errmsg, CFS_EISDIR, "'%s'",
					rq->newname);
	}
	/* a directory changing parent: its ".." changes */
	if (S_ISDIR(s->mode) && !same_dir &&
	    (rv = ns_need(s, c, MAY_W, "move directory", errmsg)) != 0)
		return rv;
	if (fl & CFS_RENAME_EXCHANGE && S_ISDIR(t->mode) && !same_dir &&
	    (rv = ns_need(t, c, MAY_W, "move directory", errmsg)) != 0)
		return rv;
	if (fl & CFS_RENAME_EXCHANGE) {
		sqlite3_stmt *st = ns_q(ns, Q_DENTRY_SET_INO);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)tino);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)sd->ino);
		sqlite3_bind_text(st, 3, rq->name, -1, SQLITE_STATIC);
		if ((rv = ns_run(ns, Q_DENTRY_SET_INO, errmsg)) != 0)
			return rv;
		st = ns_q(ns, Q_DENTRY_SET_INO);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)sino);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)td->ino);
		sqlite3_bind_text(st, 3, rq->newname, -1, SQLITE_STATIC);
		if ((rv = ns_run(ns, Q_DENTRY_SET_INO, errmsg)) != 0)
			return rv;
		if (!same_dir) {
			int sdir = S_ISDIR(s->mode) != 0;
			int tdir = S_ISDIR(t->mode) != 0;
			if (sdir)
				s->parent = td->ino;
			if (tdir)
				t->parent = sd->ino;
			sd->nlink = sd->nlink - (uint32_t)sdir + (uint32_t)tdir;
			td->nlink = td->nlink - (uint32_t)tdir + (uint32_t)sdir;
		}
		s->ctime = t->ctime = env->now_ns;
		if ((rv = ns_inode_put(ns, t, errmsg)) != 0)
			return rv;
	} else {
		if (have_t) {
			if (S_ISDIR(t->mode)) {
				int empty;
				if ((rv = dir_is_empty(ns, t->ino, &empty,
						       errmsg)) != 0)
					return rv;
				if (!empty)
					return cfs_fail(errmsg, CFS_ENOTEMPTY,
							"'%s'", rq->newname);
				td->nlink--;
				t->nlink = 2;
			}
			if ((rv = dentry_del(ns, td->ino, rq->newname,
					     errmsg)) != 0 ||
			    (rv = drop_link(ns, env, t, errmsg)) != 0)
				return rv;
		}
		if ((rv = dentry_del(ns, sd->ino, rq->name, errmsg)) != 0 ||
		    (rv = dentry_put(ns, td->ino, rq->newname, sino,
				     errmsg)) != 0)
			return rv;
		if (S_ISDIR(s->mode) && !same_dir) {
			sd->nlink--;
			td->nlink++;
			s->parent = td->ino;
		}
		s->ctime = env->now_ns;
	}
	sd->mtime = sd->ctime = env->now_ns;
	td->mtime = td->ctime = env->now_ns;
	if ((rv = ns_inode_put(ns, s, errmsg)) != 0)
		return rv;
	if (same_dir) {
		/* sd and td are copies of one inode; only td's link count
		 * changed (a replaced directory target) */
		if ((rv = dir_touch(ns, td, errmsg)) != 0)
			return rv;
	} else if ((rv = dir_touch(ns, sd, errmsg)) != 0 ||
		   (rv = dir_touch(ns, td, errmsg)) != 0) {
		return rv;
	}
done:
	*rt = WIRE_T_ok;
	return 0;
}

static int
op_readdir(struct ns *ns, const struct wire_readdir *rq, uint16_t *rt,
	   union wire_body *out, char *errmsg)
{
	struct inode *dir = &ns->a, *n = &ns->b;
	struct wire_dirents *d = &out->dirents;
	uint32_t max = rq->max_entries;
	uint64_t cookie = rq->cookie;
	int rv = ns_inode_get(ns, rq->ino, dir, errmsg);

	if (rv != 0)
		return rv;
	if (!S_ISDIR(dir->mode))
		return cfs_fail(errmsg, CFS_ENOTDIR, "inode %llu",
				(unsigned long long)rq->ino);
	if ((rv = ns_need(dir, &rq->cred, MAY_R, "list directory", errmsg)) != 0)
		return rv;
	if (max == 0 || max > WIRE_MAX_dirent)
		max = WIRE_MAX_dirent;
	d->entries_count = 0;
	d->eof = 0;
	/* "." and ".." first, as cookies 1 and 2 */
	for (uint64_t k = cookie + 1; k <= 2 && d->entries_count < max; k++) {
		uint64_t ino = k == 1 ? dir->ino : dir->parent;
		if ((rv = ns_inode_get(ns, ino, n, errmsg)) != 0)
			return rv;
		struct wire_dirent *e = &d->entries[d->entries_count++];
		e->cookie = k;
		snprintf(e->name, sizeof(e->name), "%s", k == 1 ? "." : "..");
		to_attr(n, &e->attr);
		cookie = k;
	}
	sqlite3_stmt *s = ns_q(ns, Q_READDIR);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)dir->ino);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)cookie);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)(max - d->entries_count) + 1);
	int rc;
	unsigned got = 0, want = max - d->entries_count;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (got == want)
			break; /* one more exists: not at the end */
		struct wire_dirent *e = &d->entries[d->entries_count++];
		e->cookie = (uint64_t)sqlite3_column_int64(s, 0);
		snprintf(e->name, sizeof(e->name), "%s",
			 (const char *)sqlite3_column_text(s, 1));
		got++;
		inode_from_row(s, 3, (uint64_t)sqlite3_column_int64(s, 2), n);
		to_attr(n, &e->attr);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite3_reset(s);
		return ns_db_error(ns, errmsg, Q_READDIR);
	}
	d->eof = rc == SQLITE_DONE;
	sqlite3_reset(s);
	*rt = WIRE_T_dirents;
	return 0;
}

static int
op_statfs(struct ns *ns, uint16_t *rt, union wire_body *out, char *errmsg)
{
	int64_t n = 0;
	struct wire_statfs_reply *r = &out->statfs_reply;

	if (ns_one_int(ns, Q_COUNT_INODES, &n) != 1)
		return ns_db_error(ns, errmsg, Q_COUNT_INODES);
	memset(r, 0, sizeof(*r));
	r->files = (uint64_t)n;
	r->ffree = (1ull << 40) - (uint64_t)n;
	r->bsize = 4096;
	r->namemax = CFS_NAME_MAX;
	/* blocks/bfree/bavail: the data nodes' capacity, which the leader
	 * adds from its node registry (issue 4); 0 until nodes exist. */
	*rt = WIRE_T_statfs_reply;
	return 0;
}

/* The goal (replica count) of an inode; a directory's goal is what new
 * children inherit.  Owner or root. */
static int
op_setgoal(struct ns *ns, const struct ns_env *env,
	   const struct wire_setgoal *rq, uint16_t *rt, union wire_body *out,
	   char *errmsg)
{
	struct inode *n = &ns->a;
	int rv = ns_inode_get(ns, rq->ino, n, errmsg);

	if (rv != 0)
		return rv;
	if (rq->goal < 1 || rq->goal > CFS_GOAL_MAX)
		return cfs_fail(errmsg, CFS_EINVAL, "goal %u (1..%u)", rq->goal,
				CFS_GOAL_MAX);
	if (rq->cred.uid != 0 && rq->cred.uid != n->uid)
		return cfs_fail(errmsg, CFS_EPERM,
				"goal of inode %llu owned by %u",
				(unsigned long long)n->ino, n->uid);
	n->goal = rq->goal;
	n->ctime = env->now_ns;
	if ((rv = ns_inode_put(ns, n, errmsg)) != 0)
		return rv;
	to_attr(n, &out->entry.attr);
	*rt = WIRE_T_entry;
	return 0;
}

/* ---- the data path's view of a file (meta/dmap.c) ------------------------ */

int
ns_file_check(struct ns *ns, uint64_t ino, const struct wire_cred *cred,
	      int mask, struct wire_attr *attr, char *errmsg)
{
	struct inode *n = &ns->a;
	int rv;

	if (!ns->formatted)
		return cfs_fail(errmsg, CFS_EROFS, "not formatted");
	if ((rv = ns_inode_get(ns, ino, n, errmsg)) != 0)
		return rv;
	if (S_ISDIR(n->mode))
		return cfs_fail(errmsg, CFS_EISDIR, "inode %llu",
				(unsigned long long)ino);
	if (!S_ISREG(n->mode))
		return cfs_fail(errmsg, CFS_EINVAL,
				"inode %llu is not a regular file",
				(unsigned long long)ino);
	if ((rv = ns_need(n, cred, mask, mask & MAY_W ? "write" : "read",
		       errmsg)) != 0)
		return rv;
	if (attr != NULL)
		to_attr(n, attr);
	return 0;
}

int
ns_attr(struct ns *ns, uint64_t ino, struct wire_attr *attr, char *errmsg)
{
	int rv = ns_inode_get(ns, ino, &ns->a, errmsg);
	if (rv == 0)
		to_attr(&ns->a, attr);
	return rv;
}

int
ns_file_written(struct ns *ns, const struct ns_env *env, uint64_t ino,
		uint64_t size, struct wire_attr *attr, char *errmsg)
{
	struct inode *n = &ns->a;
	int rv;

	if ((rv = ns_inode_get(ns, ino, n, errmsg)) != 0)
		return rv;
	if (size > n->size)
		n->size = size;
	n->mtime = n->ctime = env->now_ns;
	if ((rv = ns_inode_put(ns, n, errmsg)) != 0)
		return rv;
	if (attr != NULL)
		to_attr(n, attr);
	return 0;
}

/* ---- dispatch --------------------------------------------------------------- */

int
ns_is_mutation(uint16_t type)
{
	switch (type) {
	case WIRE_T_setattr: case WIRE_T_mknod: case WIRE_T_unlink:
	case WIRE_T_rmdir: case WIRE_T_rename: case WIRE_T_link:
	case WIRE_T_symlink: case WIRE_T_setxattr: case WIRE_T_removexattr:
	case WIRE_T_setgoal:
	case WIRE_T_mknods: /* (each item a mknod: meta/fsm.c exec_mknods) */
		return 1;
	default:
		return 0;
	}
}

int
ns_handles(uint16_t type)
{
	switch (type) {
	case WIRE_T_lookup: case WIRE_T_getattr: case WIRE_T_readlink:
	case WIRE_T_readdir: case WIRE_T_statfs: case WIRE_T_getxattr:
	case WIRE_T_listxattr:
		return 1;
	default:
		return ns_is_mutation(type);
	}
}

int
ns_exec(struct ns *ns, const struct ns_env *env, uint16_t type,
	const union wire_body *req, uint16_t *reply_type,
	union wire_body *reply, char *errmsg)
{
	if (!ns->formatted)
		return cfs_fail(errmsg, CFS_EROFS,
				"the filesystem is not formatted yet (cfsctl "
				"cluster bootstrap)");
	switch (type) {
	case WIRE_T_lookup:
		return op_lookup(ns, &req->lookup, reply_type, reply, errmsg);
	case WIRE_T_getattr:
		return op_getattr(ns, &req->getattr, reply_type, reply, errmsg);
	case WIRE_T_setattr:
		return op_setattr(ns, env, &req->setattr, reply_type, reply,
				  errmsg);
	case WIRE_T_mknod:
		return op_mknod(ns, env, &req->mknod, reply_type, reply, errmsg);
	case WIRE_T_unlink:
		return op_remove(ns, env, &req->unlink, 0, reply_type,
				 &reply->ok, errmsg);
	case WIRE_T_rmdir:
		/* rmdir is declared with unlink's field list: same layout */
		return op_remove(ns, env,
				 (const struct wire_unlink *)&req->rmdir, 1,
				 reply_type, &reply->ok, errmsg);
	case WIRE_T_rename:
		return op_rename(ns, env, &req->rename, reply_type, errmsg);
	case WIRE_T_link:
		return op_link(ns, env, &req->link, reply_type, reply, errmsg);
	case WIRE_T_symlink:
		return op_symlink(ns, env, &req->symlink, reply_type, reply,
				  errmsg);
	case WIRE_T_readlink:
		return op_readlink(ns, &req->readlink, reply_type, reply,
				   errmsg);
	case WIRE_T_readdir:
		return op_readdir(ns, &req->readdir, reply_type, reply, errmsg);
	case WIRE_T_statfs:
		return op_statfs(ns, reply_type, reply, errmsg);
	case WIRE_T_setxattr:
		return ns_op_setxattr(ns, env, &req->setxattr, reply_type, errmsg);
	case WIRE_T_getxattr:
		return ns_op_getxattr(ns, &req->getxattr, reply_type, reply,
				   errmsg);
	case WIRE_T_listxattr:
		return ns_op_listxattr(ns, &req->listxattr, reply_type, reply,
				    errmsg);
	case WIRE_T_removexattr:
		return ns_op_removexattr(ns, env, &req->removexattr, reply_type,
				      errmsg);
	case WIRE_T_setgoal:
		return op_setgoal(ns, env, &req->setgoal, reply_type, reply,
				  errmsg);
	default:
		return cfs_fail(errmsg, CFS_BADTYPE, "%s is not a namespace "
				"request", wire_type_name(type) ?
				wire_type_name(type) : "?");
	}
}
