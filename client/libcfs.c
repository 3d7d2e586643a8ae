/* libcfs.c - libcfs, the public client API of client/include/cfs.h, over metaclient (namespace) and fileio (data); here errors, the session pool, paths, connecting and the namespace (files and locks: libcfs_file.c; xattrs, goals and listings: libcfs_dir.c). */
#include "client/include/cfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "client/bcache.h"
#include "client/clease.h"
#include "client/fileio.h"
#include "client/libcfs_int.h"
#include "client/locksess.h"
#include "client/metaclient.h"
#include "client/ofile.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/proto.h"

/* The public header repeats protocol constants so that it stands alone. */
_Static_assert(CFS_MAX_GROUPS == CFS_GROUPS_MAX, "groups");
/* cfs_options.data_cache took the place of one reserved pointer */
_Static_assert(sizeof(size_t) == sizeof(void *), "cfs_options layout");
_Static_assert(CFS_RENAME_NOREPLACE == (1u << 0) &&
		       CFS_RENAME_EXCHANGE == (1u << 1),
	       "rename flags");
_Static_assert(XATTR_CREATE == CFS_XATTR_CREATE &&
		       XATTR_REPLACE == CFS_XATTR_REPLACE,
	       "xattr flags");

#define RWIN (4u << 20)            /* read-ahead window of a sequential reader */
#define SESSIONS_DEFAULT 8
#define DATA_CACHE_DEFAULT ((size_t)64 << 20)
#define SESSIONS_MAX 64
#define CONNECT_TIMEOUT_MS 10000
#define CALL_TIMEOUT_MS 60000
#define GROW_RETRY_MS 10000        /* after a pool session failed to open */

/* The message of this thread's last failed call (cfs_errmsg). */
static _Thread_local char last_msg[CFS_ERRMSG_SIZE];

/* ---- errors ---------------------------------------------------------------- */

/* Set this thread's message to "<what>: <why>".  A long @what (a long
 * path) loses its middle, so that the reason always fits. */
void
lc_msg_set(const char *what, const char *why)
{
	size_t n = strlen(what);

	if (n > 160)
		snprintf(last_msg, sizeof(last_msg), "%.70s...%s: %s", what,
			 what + n - 70, why);
	else
		snprintf(last_msg, sizeof(last_msg), "%s: %s", what, why);
}

int
lc_fail_now(int code, const char *fmt, ...)
{
	char what[CFS_PATH_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	lc_msg_set(what, cfs_strerror(code));
	return -cfs_errno(code);
}

/* Fail @op with @code and no further detail than its message. */
int
lc_plain(struct op *op, int code)
{
	op->errmsg[0] = '\0';
	return code;
}

/* ---- the session pool ------------------------------------------------------ */

static void
conn_close(struct conn *c)
{
	fio_close(&c->fio);
	mc_close(&c->mc);
	free(c->rep);
	c->rep = NULL;
}

/* The options of every session of @fs: its name, credentials and ZeroMQ
 * context (NULL before cfs_connect makes it), with calls waiting up to
 * @deadline_ms. */
static struct mc_options
session_options(const struct cfs *fs, int deadline_ms)
{
	return (struct mc_options){
		.client_name = fs->client_name,
		.deadline_ms = deadline_ms,
		.uid = fs->cred.uid,
		.gid = fs->cred.gid,
		.use_cred = 1,
		.zmq_context = fs->zctx,
		.lease_owner = fs->lease_owner, /* 0: the first session */
	};
}

/* Open a session whose calls wait up to call_timeout_ms (fio's calls to the
 * leader take the session's default deadline). */
static int
conn_open(struct cfs *fs, struct conn *c, char *errmsg)
{
	struct mc_options mo = session_options(fs, fs->opt.call_timeout_ms);
	int rv;

	memset(c, 0, sizeof(*c));
	if ((rv = mc_open(&c->mc, fs->servers, &mo, errmsg)) != 0 ||
	    (rv = fio_open(&c->fio, c->mc, fs->zctx, errmsg)) != 0)
		goto err;
	fio_set_cache(c->fio, fs->data);
	if ((c->rep = malloc(sizeof(*c->rep))) == NULL) {
		rv = cfs_fail(errmsg, CFS_ENOMEM, "reply buffer");
		goto err;
	}
	return 0;
err:
	conn_close(c);
	return rv;
}

/*
 * Borrow a session:
 * 1) a free one;
 * 2) none free and the pool below max_sessions: open one (without the
 *    lock); if that fails, stop growing for GROW_RETRY_MS and wait;
 * 3) otherwise wait for one to be given back.
 * The pool always holds at least the session cfs_connect opened, so this
 * cannot fail.
 */
static struct conn *
conn_get(struct cfs *fs)
{
	pthread_mutex_lock(&fs->pool_lock);
	for (;;) {
		for (unsigned i = 0; i < fs->nconns; i++) {
			if (!fs->conns[i].busy) {
				fs->conns[i].busy = 1;
				pthread_mutex_unlock(&fs->pool_lock);
				return &fs->conns[i];
			}
		}
		if (fs->nconns + fs->opening < fs->opt.max_sessions &&
		    cfs_now_ms() >= fs->grow_after_ms) {
			char ignored[CFS_ERRMSG_SIZE];
			struct conn c;
			fs->opening++;
			pthread_mutex_unlock(&fs->pool_lock);
			int rv = conn_open(fs, &c, ignored);
			pthread_mutex_lock(&fs->pool_lock);
			fs->opening--;
			if (rv == 0) {
				struct conn *slot = &fs->conns[fs->nconns++];
				*slot = c;
				slot->busy = 1;
				pthread_mutex_unlock(&fs->pool_lock);
				return slot;
			}
			fs->grow_after_ms = cfs_now_ms() + GROW_RETRY_MS;
			continue;
		}
		pthread_cond_wait(&fs->pool_cond, &fs->pool_lock);
	}
}

void
lc_conn_put(struct cfs *fs, struct conn *c)
{
	pthread_mutex_lock(&fs->pool_lock);
	c->busy = 0;
	pthread_cond_signal(&fs->pool_cond);
	pthread_mutex_unlock(&fs->pool_lock);
}

void
lc_op_begin(struct op *op, struct cfs *fs)
{
	op->fs = fs;
	op->errmsg[0] = '\0';
	op->c = conn_get(fs);
}

int
lc_op_end(struct op *op, int rv, const char *fmt, ...)
{
	char what[2 * CFS_PATH_MAX + 64];
	va_list ap;

	if (op->c != NULL)
		lc_conn_put(op->fs, op->c);
	op->c = NULL;
	if (rv == 0)
		return 0;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	lc_msg_set(what, op->errmsg[0] ? op->errmsg : cfs_strerror(rv));
	return -cfs_errno(rv);
}

/* Send request @type (its cred filled) and expect @expect back in
 * op->c->rep. */
int
lc_call(struct op *op, uint16_t type, const void *rq, uint16_t expect)
{
	uint16_t rt = 0;
	int rv = mc_call(op->c->mc, type, rq, &rt, op->c->rep,
			 op->fs->opt.call_timeout_ms, op->errmsg);

	if (rv == 0 && rt != expect)
		rv = cfs_fail(op->errmsg, CFS_MALFORMED,
			      "%s answered with %s", wire_type_name(type),
			      wire_type_name(rt) ? wire_type_name(rt) : "?");
	return rv;
}

/* ---- typed requests ------------------------------------------------------------ */

int
lc_rq_lookup(struct op *op, uint64_t dir, const char *name, struct wire_attr *a)
{
	struct wire_lookup rq = {.cred = op->fs->cred, .parent = dir};
	int rv;

	snprintf(rq.name, sizeof(rq.name), "%s", name);
	if ((rv = lc_call(op, WIRE_T_lookup, &rq, WIRE_T_entry)) == 0)
		*a = op->c->rep->entry.attr;
	return rv;
}

int
lc_rq_getattr(struct op *op, uint64_t ino, struct wire_attr *a)
{
	struct wire_getattr rq = {.cred = op->fs->cred, .ino = ino};
	int rv;

	if ((rv = lc_call(op, WIRE_T_getattr, &rq, WIRE_T_entry)) == 0)
		*a = op->c->rep->entry.attr;
	return rv;
}

/* setattr with rq->valid and its fields set by the caller. */
static int
rq_setattr(struct op *op, struct wire_setattr *rq, struct wire_attr *a)
{
	int rv;

	rq->cred = op->fs->cred;
	if ((rv = lc_call(op, WIRE_T_setattr, rq, WIRE_T_entry)) == 0 &&
	    a != NULL)
		*a = op->c->rep->entry.attr;
	return rv;
}

int
lc_rq_mknod(struct op *op, uint64_t dir, const char *name, uint32_t mode,
	    struct wire_attr *a)
{
	struct wire_mknod rq = {.cred = op->fs->cred, .parent = dir,
				.mode = mode, .flags = CFS_MKNOD_EXCL};
	struct clease *l = op->fs->leases;
	uint64_t mark = 0;
	int rv;

	snprintf(rq.name, sizeof(rq.name), "%s", name);
	/* a new file comes with its write lease: its first write costs no
	 * request of its own (libcfs keeps no directory leases: it caches
	 * no names) */
	if (S_ISREG(mode) && l != NULL) {
		rq.flags |= CFS_MKNOD_LEASE;
		mark = clease_mark(l);
	}
	rv = lc_call(op, WIRE_T_mknod, &rq, WIRE_T_entry);
	if (rv == 0 && op->c->rep->entry.lease != 0)
		clease_granted(l, op->c->mc, op->c->rep->entry.attr.ino,
			       op->c->rep->entry.lease,
			       op->c->rep->entry.lease_epoch, mark);
	if (rv == 0 && a)
		*a = op->c->rep->entry.attr;
	return rv;
}

/* The target of symlink @ino into @buf (CFS_PATH_MAX + 1 bytes). */
int
lc_rq_readlink(struct op *op, uint64_t ino, char *buf)
{
	struct wire_readlink rq = {.cred = op->fs->cred, .ino = ino};
	int rv;

	if ((rv = lc_call(op, WIRE_T_readlink, &rq, WIRE_T_linktarget)) == 0)
		snprintf(buf, CFS_PATH_MAX + 1, "%s",
			 op->c->rep->linktarget.target);
	return rv;
}

/* ---- paths -------------------------------------------------------------------- */

/*
 * Errors found here, before the server sees a name (a component of @n
 * bytes at @p that is too long; O_CREAT of "dir/name/"), come after
 * Linux's search permission check on their directory: EACCES first.
 */

int
lc_search_ok(struct op *op, uint64_t dir)
{
	struct wire_attr a;
	int rv = lc_rq_getattr(op, dir, &a);

	if (rv != 0)
		return rv;
	if (!lc_may(op->fs, &a, 1))
		return cfs_fail(op->errmsg, CFS_EACCES,
				"no search permission on directory %llu",
				(unsigned long long)dir);
	return 0;
}

static int
too_long(struct op *op, uint64_t dir, const char *p, size_t n)
{
	int rv = lc_search_ok(op, dir);

	if (rv != 0)
		return rv;
	return cfs_fail(op->errmsg, CFS_ENAMETOOLONG,
			"component '%.40s...' of %zu bytes", p, n);
}

/*
 * Resolve @path component by component (docs: cfs.h "Paths"), from
 * directory @start if it is relative (a symlink's target), else from "/".
 * Cases:
 * 1) a bad path: EINVAL (NULL, relative), ENOENT (empty), ENAMETOOLONG;
 * 2) each component but the last is looked up in the directory reached so
 *    far; the server checks search permission and answers ENOENT/ENOTDIR;
 * 3) a symlink met on the way (or last, with WALK_FOLLOW or a trailing
 *    '/') is replaced by its target, followed by what was left of the path;
 *    an absolute target restarts from the root; over SYMLINKS_MAX: ELOOP;
 * 4) the last component: with WALK_PARENT, w->dir and w->name are its
 *    directory and name (not looked up); else w->attr is the object, which
 *    must be a directory if the path ended in '/' (ENOTDIR);
 * 5) nothing left at all ("/", or a link to "/"): the directory reached.
 */
int
lc_walk_at(struct op *op, uint64_t start, const char *path, int how,
	   struct walk *w)
{
	/* the rest of the path: a link's target (at most CFS_PATH_MAX
	 * bytes) and what followed the link (less than CFS_PATH_MAX) */
	char rest[2 * CFS_PATH_MAX + 2], target[CFS_PATH_MAX + 1];
	uint64_t cur = path[0] == '/' ? ROOT_INO : start;
	int links = 0, rv;
	char *p = rest;

	memset(w, 0, sizeof(*w));
	w->dir = cur;
	if (strlen(path) >= CFS_PATH_MAX)
		return cfs_fail(op->errmsg, CFS_ENAMETOOLONG,
				"path of %zu bytes", strlen(path));
	snprintf(rest, sizeof(rest), "%s", path);
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0') { /* case 5 */
			w->dir = cur;
			w->name[0] = '\0';
			if (how & WALK_PARENT)
				return 0;
			return lc_rq_getattr(op, cur, &w->attr);
		}
		size_t n = strcspn(p, "/");
		char *after = p + n;
		if (n > CFS_NAME_MAX) {
			const char *r = after;
			while (*r == '/')
				r++;
			if (*r != '\0' || (how & (WALK_PARENT | WALK_LONG_OK)) !=
						  (WALK_PARENT | WALK_LONG_OK))
				return too_long(op, cur, p, n);
			if ((rv = lc_search_ok(op, cur)) != 0)
				return rv;
			w->dir = cur;
			w->toolong = 1;
			w->slash = *after == '/';
			snprintf(w->name, sizeof(w->name), "%.*s", CFS_NAME_MAX,
				 p);
			return 0;
		}
		char *q = after;
		while (*q == '/')
			q++;
		int last = *q == '\0';
		memcpy(w->name, p, n);
		w->name[n] = '\0';
		w->dir = cur;
		if (last) {
			w->slash = *after == '/';
			if (how & WALK_PARENT)
				return 0;
		}
		if ((rv = lc_rq_lookup(op, cur, w->name, &w->attr)) != 0)
			return rv;
		if (S_ISLNK(w->attr.mode) &&
		    (!last || (how & WALK_FOLLOW) || w->slash)) {
			if (++links > SYMLINKS_MAX)
				return cfs_fail(op->errmsg, CFS_ELOOP,
						"more than %d symlinks",
						SYMLINKS_MAX);
			if ((rv = lc_rq_readlink(op, w->attr.ino, target)) != 0)
				return rv;
			/* the target, then the rest from its '/' on (a
			 * trailing '/' is kept) */
			size_t tlen = strlen(target), alen = strlen(after);
			if (tlen + alen >= sizeof(rest))
				return cfs_fail(op->errmsg, CFS_ENAMETOOLONG,
						"path through symlink '%s'",
						w->name);
			memmove(rest + tlen, after, alen + 1);
			memcpy(rest, target, tlen);
			p = rest;
			if (target[0] == '/')
				cur = ROOT_INO;
			continue;
		}
		if (last) {
			if (w->slash && !S_ISDIR(w->attr.mode))
				return cfs_fail(op->errmsg, CFS_ENOTDIR,
						"'%s' (a trailing '/')",
						w->name);
			return 0;
		}
		if (!S_ISDIR(w->attr.mode))
			return cfs_fail(op->errmsg, CFS_ENOTDIR, "'%s'",
					w->name);
		cur = w->attr.ino;
		p = q;
	}
}

/* The errors of @path as a string, before any look-up (cfs.h "Paths"). */
static int
path_check(struct op *op, const char *path)
{
	if (path == NULL)
		return cfs_fail(op->errmsg, CFS_EINVAL, "NULL path");
	if (path[0] == '\0')
		return cfs_fail(op->errmsg, CFS_ENOENT, "empty path");
	if (path[0] != '/')
		return cfs_fail(op->errmsg, CFS_EINVAL,
				"not an absolute path");
	if (strlen(path) >= CFS_PATH_MAX)
		return cfs_fail(op->errmsg, CFS_ENAMETOOLONG,
				"path of %zu bytes", strlen(path));
	return 0;
}

/* lc_walk_at from "/" for an absolute @path. */
int
lc_walk(struct op *op, const char *path, int how, struct walk *w)
{
	int rv = path_check(op, path);

	memset(w, 0, sizeof(*w));
	w->dir = ROOT_INO;
	return rv != 0 ? rv : lc_walk_at(op, ROOT_INO, path, how, w);
}

/* ---- attributes ---------------------------------------------------------------- */

static struct timespec
ts_of(int64_t ns)
{
	struct timespec ts;
	int64_t s = ns / 1000000000, r = ns % 1000000000;

	if (r < 0) {
		s--;
		r += 1000000000;
	}
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)r;
	return ts;
}

/* struct stat of @a, its size grown by data this client buffered. */
void
lc_stat_of(struct cfs *fs, const struct wire_attr *a, struct stat *st)
{
	uint64_t end = S_ISREG(a->mode) ? ofile_dirty_end(fs->files, a->ino)
					 : 0;
	uint64_t size = end > a->size ? end : a->size;

	memset(st, 0, sizeof(*st));
	st->st_ino = (ino_t)a->ino;
	st->st_mode = (mode_t)a->mode;
	st->st_nlink = (nlink_t)a->nlink;
	st->st_uid = (uid_t)a->uid;
	st->st_gid = (gid_t)a->gid;
	st->st_rdev = (dev_t)a->rdev;
	st->st_size = (off_t)size;
	st->st_blksize = RWIN;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_atim = ts_of(a->atime_ns);
	st->st_mtim = ts_of(a->mtime_ns);
	st->st_ctim = ts_of(a->ctime_ns);
}

/* POSIX permission bits of @a for the caller (the server's rule, used where
 * the server is not asked: open).  @mask: 4 read, 2 write. */
int
lc_may(const struct cfs *fs, const struct wire_attr *a, unsigned mask)
{
	const struct wire_cred *c = &fs->cred;
	unsigned bits;
	int in_group = c->gid == a->gid;

	if (c->uid == 0)
		return 1;
	for (uint32_t i = 0; i < c->groups_count && !in_group; i++)
		in_group = c->groups[i] == a->gid;
	if (c->uid == a->uid)
		bits = (a->mode >> 6) & 7;
	else if (in_group)
		bits = (a->mode >> 3) & 7;
	else
		bits = a->mode & 7;
	return (mask & ~bits) == 0;
}

/* Flush what this client buffered for @ino, then set its size. */
int
lc_truncate_ino(struct op *op, uint64_t ino, uint64_t size)
{
	struct wire_setattr rq = {.ino = ino, .valid = CFS_SETATTR_SIZE,
				  .size = size};
	int rv;

	if (size > FILE_MAX)
		return cfs_fail(op->errmsg, CFS_EFBIG, "size %llu",
				(unsigned long long)size);
	ofile_flush_ino(op->fs->files, ino, NULL, op->c->fio);
	rv = rq_setattr(op, &rq, NULL);
	ofile_changed(op->fs->files, ino);
	return rv;
}

/* ---- leases: the recaller's callbacks (client/clease.h) ------------------------- */

/* ofile_options.lease_epoch: the write lease held on @ino, 0 if none. */
static uint64_t
lease_epoch_of(void *arg, uint64_t ino)
{
	struct cfs *fs = arg;

	return fs->leases != NULL ? clease_write_epoch(fs->leases, ino) : 0;
}

static int
lease_flush(void *data, uint64_t ino)
{
	struct cfs *fs = data;

	ofile_flush_ino_all(fs->files, ino, fs->rconn.fio);
	return 0;
}

/* What this client keeps of @ino across calls is its open files' read
 * windows (file data by version, in the data cache, is never stale). */
static void
lease_invalidate(void *data, uint64_t ino)
{
	struct cfs *fs = data;

	ofile_changed(fs->files, ino);
}

static struct mc *
lease_borrow(void *data)
{
	return ((struct cfs *)data)->rconn.mc;
}

static const struct clease_ops lease_ops = {
	.flush = lease_flush,
	.invalidate = lease_invalidate,
	.borrow = lease_borrow,
};

/* 1 if this client holds a lease of at least @type on @ino, asking for
 * one if not and waiting for other clients to give theirs up (a call
 * holds nothing a recall needs: clease.h "Deadlock rules"). */
int
lc_lease(struct op *op, uint64_t ino, int type)
{
	struct clease *l = op->fs->leases;
	char errmsg[CFS_ERRMSG_SIZE];
	int fresh;

	if (clease_valid(l, ino, type) > 0)
		return 1;
	clease_wait_recall(l, ino, LEASE_WAIT_MS);
	int rv = clease_get(l, op->c->mc, ino, type, LEASE_WAIT_MS, NULL,
			    &fresh, errmsg);
	if (rv != 0 && rv != CFS_ENOENT)
		LOG_DEBUG("inode %llu without a %s lease: %s",
			  (unsigned long long)ino,
			  type == CFS_LEASE_WRITE ? "write" : "read", errmsg);
	return clease_valid(l, ino, type) > 0;
}

/* ---- connecting ------------------------------------------------------------------ */

void
cfs_options_init(struct cfs_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->version = CFS_OPTIONS_VERSION;
	opt->use_process_creds = 1;
	opt->connect_timeout_ms = CONNECT_TIMEOUT_MS;
	opt->call_timeout_ms = CALL_TIMEOUT_MS;
	opt->max_sessions = SESSIONS_DEFAULT;
	opt->data_cache = DATA_CACHE_DEFAULT;
}

const char *
cfs_errmsg(struct cfs *fs)
{
	(void)fs;
	return last_msg;
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void
log_setup(void)
{
	cfs_log_init(NULL); /* CFS_LOG / CFS_TRACE from the environment */
}

/* The caller's credentials: the process's, or those of @opt. */
static int
cred_setup(struct cfs *fs, const struct cfs_options *opt, char *errmsg)
{
	struct wire_cred *c = &fs->cred;

	memset(c, 0, sizeof(*c));
	if (!opt->use_process_creds) {
		if (opt->ngroups > CFS_MAX_GROUPS)
			return cfs_fail(errmsg, CFS_EINVAL,
					"%u groups (at most %d)",
					opt->ngroups, CFS_MAX_GROUPS);
		c->uid = (uint32_t)opt->uid;
		c->gid = (uint32_t)opt->gid;
		for (unsigned i = 0; i < opt->ngroups; i++)
			c->groups[c->groups_count++] = opt->groups[i];
		return 0;
	}
	c->uid = (uint32_t)geteuid();
	c->gid = (uint32_t)getegid();
	if (c->uid == 0)
		return 0; /* root passes every check: groups do not matter */
	int n = getgroups(0, NULL);
	if (n <= 0)
		return 0;
	gid_t *g = calloc((size_t)n, sizeof(*g));
	if (g == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "groups");
	n = getgroups(n, g);
	/* the protocol carries CFS_GROUPS_MAX; the rest are not sent */
	for (int i = 0; i < n && c->groups_count < CFS_GROUPS_MAX; i++)
		if (g[i] != (gid_t)c->gid)
			c->groups[c->groups_count++] = g[i];
	free(g);
	return 0;
}

/*
 * cfs_connect:
 * 1) a probe session with the connect deadline, in its own ZeroMQ context,
 *    tells quickly whether a leader answers at all;
 * 2) the pool's first session then takes the call deadline, which fio's
 *    data calls to the leader use too (as cfs-fuse does).
 */
int
cfs_connect(struct cfs **out, const char *servers,
	    const struct cfs_options *opt)
{
	struct cfs_options defaults;
	char errmsg[CFS_ERRMSG_SIZE] = "";
	struct ofile_options files_opt = {
		.wbuf_max = CFS_WRITE_BUFFER,
		.window = RWIN,
		.window_max_read = RWIN - 1, /* reads copy out of the window */
		.window_at_zero = 1,         /* small reads from the start */
		.file_max = FILE_MAX,
		.log_writeouts = 0,          /* cfs_errmsg tells the caller */
		.lease_epoch = lease_epoch_of,
	};
	struct cfs *fs;
	int rv;

	if (out == NULL)
		return lc_fail_now(CFS_EINVAL, "connect: NULL handle pointer");
	*out = NULL;
	if (opt == NULL) {
		cfs_options_init(&defaults);
		opt = &defaults;
	}
	if (opt->version != CFS_OPTIONS_VERSION)
		return lc_fail_now(CFS_EINVAL,
				   "connect: options version %u (not "
				   "set up by cfs_options_init?)",
				   opt->version);
	if (servers == NULL || servers[0] == '\0')
		return lc_fail_now(CFS_EINVAL,
				   "connect: no metadata server address");
	pthread_once(&log_once, log_setup);
	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		return lc_fail_now(CFS_ENOMEM, "connect %s", servers);
	fs->opt = *opt;
	fs->opt.client_name = NULL; /* borrowed: copied below */
	snprintf(fs->client_name, sizeof(fs->client_name), "%s",
		 opt->client_name ? opt->client_name : "libcfs");
	if (fs->opt.connect_timeout_ms <= 0)
		fs->opt.connect_timeout_ms = CONNECT_TIMEOUT_MS;
	if (fs->opt.call_timeout_ms <= 0)
		fs->opt.call_timeout_ms = CALL_TIMEOUT_MS;
	if (fs->opt.max_sessions == 0)
		fs->opt.max_sessions = SESSIONS_DEFAULT;
	if (fs->opt.max_sessions > SESSIONS_MAX)
		fs->opt.max_sessions = SESSIONS_MAX;
	pthread_mutex_init(&fs->pool_lock, NULL);
	pthread_cond_init(&fs->pool_cond, NULL);
	pthread_mutex_init(&fs->owner_lock, NULL);
	fs->next_owner = LOCK_OWNER_POSIX + 1;
	fs->servers = strdup(servers);
	fs->conns = calloc(fs->opt.max_sessions, sizeof(*fs->conns));
	files_opt.lease_arg = fs;
	if (fs->servers == NULL || fs->conns == NULL ||
	    ofile_table_new(&fs->files, &files_opt) != 0) {
		rv = cfs_fail(errmsg, CFS_ENOMEM, "client state");
		goto err;
	}
	if (bcache_new(&fs->data, fs->opt.data_cache) != 0) {
		rv = cfs_fail(errmsg, CFS_ENOMEM,
			      "a data cache of %zu bytes (cfs_options."
			      "data_cache): no address space for it",
			      fs->opt.data_cache);
		goto err;
	}
	if ((rv = cred_setup(fs, opt, errmsg)) != 0)
		goto err;

	/* case 1 */
	struct mc_options probe_opt =
		session_options(fs, fs->opt.connect_timeout_ms);
	struct mc *probe = NULL;
	if ((rv = mc_open(&probe, fs->servers, &probe_opt, errmsg)) != 0)
		goto err;
	mc_close(&probe);

	/* case 2 */
	if ((fs->zctx = zmq_ctx_new()) == NULL) {
		rv = cfs_fail(errmsg, CFS_ENOMEM, "ZeroMQ context");
		goto err;
	}
	if ((rv = conn_open(fs, &fs->conns[0], errmsg)) != 0)
		goto err;
	fs->nconns = 1;
	/* every later session, the recaller's too, acts for this one */
	fs->lease_owner = mc_lease_owner(fs->conns[0].mc);
	if ((rv = conn_open(fs, &fs->rconn, errmsg)) != 0)
		goto err;
	struct clease_options lease_opt = {
		.servers = fs->servers,
		.zmq_context = fs->zctx,
		.owner = fs->lease_owner,
		.deadline_ms = fs->opt.call_timeout_ms,
	};
	if ((rv = clease_start(&fs->leases, &lease_opt, &lease_ops, fs,
			       errmsg)) != 0)
		goto err;
	/* the lock session, opened at the first lock call */
	struct mc_options lock_opt =
		session_options(fs, fs->opt.call_timeout_ms);
	if (locksess_new(&fs->locks, fs->servers, &lock_opt,
			 fs->opt.call_timeout_ms) != 0) {
		rv = cfs_fail(errmsg, CFS_ENOMEM, "lock session");
		goto err;
	}
	*out = fs;
	return 0;
err:
	cfs_disconnect(&fs);
	char what[CFS_ERRMSG_SIZE];
	snprintf(what, sizeof(what), "connect %s", servers);
	lc_msg_set(what, errmsg[0] ? errmsg : cfs_strerror(rv));
	return -cfs_errno(rv);
}

void
cfs_disconnect(struct cfs **fsp)
{
	struct cfs *fs = fsp ? *fsp : NULL;

	if (fs == NULL)
		return;
	/* The recaller flushes through the files: stopped before they are
	 * flushed and freed (no other call may run then).  What is buffered
	 * goes out naming the lease it was written under, which the leader
	 * keeps until the sessions close, below. */
	clease_stop(&fs->leases);
	/* write out and free files still open (a caller's bug, but data
	 * should not be lost to it) */
	if (fs->files != NULL && fs->nconns > 0)
		ofile_flush_all(fs->files, fs->conns[0].fio);
	ofile_table_free(&fs->files, NULL, NULL);
	conn_close(&fs->rconn);
	for (unsigned i = 0; i < fs->nconns; i++)
		conn_close(&fs->conns[i]);
	free(fs->conns);
	bcache_free(&fs->data); /* after the fios that read through it */
	/* closing the lock session drops every lock still held */
	locksess_close(&fs->locks);
	pthread_mutex_destroy(&fs->owner_lock);
	if (fs->zctx != NULL)
		zmq_ctx_term(fs->zctx);
	pthread_cond_destroy(&fs->pool_cond);
	pthread_mutex_destroy(&fs->pool_lock);
	free(fs->servers);
	free(fs);
	*fsp = NULL;
}

/* ---- namespace ------------------------------------------------------------------ */

static int
do_stat(struct cfs *fs, const char *path, struct stat *st, int how,
	const char *what)
{
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, what);
	if (st == NULL)
		return lc_fail_now(CFS_EINVAL, "%s %s: NULL stat", what, path);
	lc_op_begin(&op, fs);
	if ((rv = lc_walk(&op, path, how, &w)) == 0)
		lc_stat_of(fs, &w.attr, st);
	return lc_op_end(&op, rv, "%s %s", what, path);
}

int
cfs_stat(struct cfs *fs, const char *path, struct stat *st)
{
	return do_stat(fs, path, st, WALK_FOLLOW, "stat");
}

int
cfs_lstat(struct cfs *fs, const char *path, struct stat *st)
{
	return do_stat(fs, path, st, 0, "lstat");
}

int
cfs_mkdir(struct cfs *fs, const char *path, mode_t mode)
{
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, "mkdir");
	lc_op_begin(&op, fs);
	rv = lc_walk(&op, path, WALK_PARENT, &w);
	if (rv == 0 && w.name[0] == '\0')
		rv = cfs_fail(op.errmsg, CFS_EEXIST, "the root");
	if (rv == 0)
		rv = lc_rq_mknod(&op, w.dir, w.name,
				 S_IFDIR | ((uint32_t)mode & 07777), NULL);
	return lc_op_end(&op, rv, "mkdir %s", path);
}

/* unlink (@dir 0) and rmdir (1) of the last name of @path. */
static int
remove_path(struct cfs *fs, const char *path, int dir)
{
	const char *what = dir ? "rmdir" : "unlink";
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, what);
	lc_op_begin(&op, fs);
	rv = lc_walk(&op, path, WALK_PARENT, &w);
	if (rv == 0 && w.name[0] == '\0')
		rv = cfs_fail(op.errmsg, dir ? CFS_EBUSY : CFS_EISDIR,
			      "the root");
	/* as Linux: unlink of "." or ".." is EISDIR; rmdir of "." EINVAL,
	 * of ".." ENOTEMPTY */
	if (rv == 0 && (!strcmp(w.name, ".") || !strcmp(w.name, "..")))
		rv = cfs_fail(op.errmsg,
			      !dir ? CFS_EISDIR
			      : w.name[1] ? CFS_ENOTEMPTY
					  : CFS_EINVAL,
			      "'%s'", w.name);
	if (rv == 0 && w.slash && !dir) {
		/* "file/" names a directory or nothing */
		struct wire_attr a;
		rv = lc_rq_lookup(&op, w.dir, w.name, &a);
		if (rv == 0)
			rv = cfs_fail(op.errmsg,
				      S_ISDIR(a.mode) ? CFS_EISDIR
						      : CFS_ENOTDIR,
				      "'%s/'", w.name);
	}
	if (rv == 0) {
		struct wire_unlink rq = {.cred = fs->cred, .parent = w.dir};
		snprintf(rq.name, sizeof(rq.name), "%s", w.name);
		rv = lc_call(&op, dir ? WIRE_T_rmdir : WIRE_T_unlink, &rq,
			     WIRE_T_ok);
	}
	return lc_op_end(&op, rv, "%s %s", what, path);
}

int
cfs_rmdir(struct cfs *fs, const char *path)
{
	return remove_path(fs, path, 1);
}

int
cfs_unlink(struct cfs *fs, const char *path)
{
	return remove_path(fs, path, 0);
}

/* A name of a rename is too long: after both walks, as Linux (whose
 * look-up of the source, ENOENT, comes before that of the target). */
static int
rename_toolong(struct op *op, const struct walk *a, const struct walk *b)
{
	struct wire_attr s;
	int rv;

	/* the walks' search permission on both directories first (lc_walk_at
	 * checked it already where the name was too long) */
	if ((!a->toolong && (rv = lc_search_ok(op, a->dir)) != 0) ||
	    (!b->toolong && (rv = lc_search_ok(op, b->dir)) != 0))
		return rv;
	if (a->toolong)
		return cfs_fail(op->errmsg, CFS_ENAMETOOLONG, "source name");
	if ((rv = lc_rq_lookup(op, a->dir, a->name, &s)) != 0)
		return rv;
	return cfs_fail(op->errmsg, CFS_ENAMETOOLONG, "target name");
}

/*
 * A trailing '/' on either name of a rename requires a directory there
 * (Linux: ENOTDIR), which the server cannot see: check it here, after the
 * errors Linux reports first (search permission on both directories, as
 * its walks end; the source missing; NOREPLACE and an existing target;
 * EXCHANGE and a missing one).
 */
static int
rename_slashes(struct op *op, const struct walk *a, const struct walk *b,
	       unsigned flags)
{
	struct wire_attr s, t;
	int rv, have_t, xchg = (flags & CFS_RENAME_EXCHANGE) != 0;

	if ((rv = lc_search_ok(op, a->dir)) != 0 ||
	    (rv = lc_search_ok(op, b->dir)) != 0)
		return rv;
	if ((rv = lc_rq_lookup(op, a->dir, a->name, &s)) != 0)
		return rv;
	rv = lc_rq_lookup(op, b->dir, b->name, &t);
	if (rv != 0 && rv != CFS_ENOENT)
		return rv;
	have_t = rv == 0;
	if ((flags & CFS_RENAME_NOREPLACE) && have_t)
		return cfs_fail(op->errmsg, CFS_EEXIST, "'%s'", b->name);
	if (xchg && !have_t)
		return cfs_fail(op->errmsg, CFS_ENOENT, "'%s'", b->name);
	if (xchg && !S_ISDIR(t.mode) && b->slash)
		return cfs_fail(op->errmsg, CFS_ENOTDIR, "'%s/'", b->name);
	if (!S_ISDIR(s.mode) && (a->slash || (!xchg && b->slash)))
		return cfs_fail(op->errmsg, CFS_ENOTDIR, "'%s' with a '/'",
				a->name);
	return 0;
}

int
cfs_rename(struct cfs *fs, const char *from, const char *to, unsigned flags)
{
	struct walk a, b;
	struct op op;
	int rv;

	CHECK(fs, from, "rename");
	CHECK(fs, to, "rename");
	if (flags & ~(CFS_RENAME_NOREPLACE | CFS_RENAME_EXCHANGE))
		return lc_fail_now(CFS_EINVAL, "rename %s: flags 0x%x", from,
				   flags);
	lc_op_begin(&op, fs);
	/* Linux walks the source to its directory (search permission on
	 * that one too) before it even looks at the target's path: an
	 * error of the target's path or walk comes after that one's */
	if ((rv = lc_walk(&op, from, WALK_PARENT | WALK_LONG_OK, &a)) != 0) {
		cfs_errmsg_prefix(op.errmsg, "source");
	} else if ((rv = lc_walk(&op, to, WALK_PARENT | WALK_LONG_OK, &b)) !=
		   0) {
		char terr[CFS_ERRMSG_SIZE];
		int trv = rv;
		snprintf(terr, sizeof(terr), "%s", op.errmsg);
		if ((rv = lc_search_ok(&op, a.dir)) != 0) {
			cfs_errmsg_prefix(op.errmsg, "source");
		} else {
			rv = trv;
			snprintf(op.errmsg, sizeof(op.errmsg), "%s", terr);
			cfs_errmsg_prefix(op.errmsg, "target");
		}
	} else if (a.name[0] == '\0' || b.name[0] == '\0') {
		rv = cfs_fail(op.errmsg, CFS_EBUSY, "the root");
	} else if ((a.toolong || b.toolong) &&
		   (rv = rename_toolong(&op, &a, &b)) != 0) {
		/* Linux looks the names up after both walks */
	} else if ((a.slash || b.slash) &&
		   (rv = rename_slashes(&op, &a, &b, flags)) != 0) {
		/* a trailing '/' on a name that is not a directory */
	} else {
		struct wire_rename rq = {.cred = fs->cred, .parent = a.dir,
					 .newparent = b.dir, .flags = flags};
		snprintf(rq.name, sizeof(rq.name), "%s", a.name);
		snprintf(rq.newname, sizeof(rq.newname), "%s", b.name);
		rv = lc_call(&op, WIRE_T_rename, &rq, WIRE_T_ok);
	}
	return lc_op_end(&op, rv, "rename %s to %s", from, to);
}

int
cfs_link(struct cfs *fs, const char *from, const char *to)
{
	struct walk a, b;
	struct op op;
	int rv;

	CHECK(fs, from, "link");
	CHECK(fs, to, "link");
	lc_op_begin(&op, fs);
	if ((rv = lc_walk(&op, from, 0, &a)) != 0) {
		cfs_errmsg_prefix(op.errmsg, "source");
	} else if ((rv = lc_walk(&op, to, WALK_PARENT, &b)) != 0) {
		cfs_errmsg_prefix(op.errmsg, "target");
	} else if (b.name[0] == '\0') {
		rv = cfs_fail(op.errmsg, CFS_EEXIST, "the root");
	} else if (b.slash) { /* Linux: EEXIST if it is there */
		struct wire_attr e;
		rv = lc_rq_lookup(&op, b.dir, b.name, &e);
		rv = rv == 0 ? cfs_fail(op.errmsg, CFS_EEXIST, "'%s'", b.name)
		     : rv == CFS_ENOENT
			     ? cfs_fail(op.errmsg, CFS_ENOENT, "'%s/'", b.name)
			     : rv;
	} else {
		struct wire_link rq = {.cred = fs->cred, .ino = a.attr.ino,
				       .newparent = b.dir};
		snprintf(rq.newname, sizeof(rq.newname), "%s", b.name);
		rv = lc_call(&op, WIRE_T_link, &rq, WIRE_T_entry);
	}
	return lc_op_end(&op, rv, "link %s to %s", from, to);
}

int
cfs_symlink(struct cfs *fs, const char *target, const char *linkpath)
{
	struct wire_symlink *rq;
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, linkpath, "symlink");
	if (target == NULL)
		return lc_fail_now(CFS_EINVAL, "symlink %s: NULL target",
				   linkpath);
	/* the target's own errors first, as Linux (getname before the walk) */
	if (target[0] == '\0')
		return lc_fail_now(CFS_ENOENT, "symlink %s: empty target",
				   linkpath);
	if (strlen(target) >= CFS_PATH_MAX)
		return lc_fail_now(CFS_ENAMETOOLONG,
				   "symlink %s: target of %zu bytes", linkpath,
				   strlen(target));
	if ((rq = calloc(1, sizeof(*rq))) == NULL)
		return lc_fail_now(CFS_ENOMEM, "symlink %s", linkpath);
	lc_op_begin(&op, fs);
	rv = lc_walk(&op, linkpath, WALK_PARENT, &w);
	if (rv == 0 && w.name[0] == '\0')
		rv = cfs_fail(op.errmsg, CFS_EEXIST, "the root");
	if (rv == 0 && w.slash) { /* Linux: EEXIST if it is there */
		struct wire_attr e;
		rv = lc_rq_lookup(&op, w.dir, w.name, &e);
		if (rv == 0)
			rv = cfs_fail(op.errmsg, CFS_EEXIST, "'%s'", w.name);
		else if (rv == CFS_ENOENT)
			rv = cfs_fail(op.errmsg, CFS_ENOENT, "'%s/'", w.name);
	}
	if (rv == 0) {
		rq->cred = fs->cred;
		rq->parent = w.dir;
		snprintf(rq->name, sizeof(rq->name), "%s", w.name);
		snprintf(rq->target, sizeof(rq->target), "%s", target);
		rv = lc_call(&op, WIRE_T_symlink, rq, WIRE_T_entry);
	}
	free(rq);
	return lc_op_end(&op, rv, "symlink %s", linkpath);
}

ssize_t
cfs_readlink(struct cfs *fs, const char *path, char *buf, size_t len)
{
	char target[CFS_PATH_MAX + 1];
	struct walk w;
	struct op op;
	size_t n = 0;
	int rv;

	CHECK(fs, path, "readlink");
	if (buf == NULL || len == 0)
		return lc_fail_now(CFS_EINVAL, "readlink %s: no buffer", path);
	lc_op_begin(&op, fs);
	rv = lc_walk(&op, path, 0, &w);
	if (rv == 0 && !S_ISLNK(w.attr.mode))
		rv = cfs_fail(op.errmsg, CFS_EINVAL, "a %s, not a symlink",
			      S_ISDIR(w.attr.mode) ? "directory" : "file");
	if (rv == 0 && (rv = lc_rq_readlink(&op, w.attr.ino, target)) == 0) {
		n = strlen(target);
		if (n > len)
			n = len;
		memcpy(buf, target, n);
	}
	if ((rv = lc_op_end(&op, rv, "readlink %s", path)) != 0)
		return rv;
	return (ssize_t)n;
}

/* setattr of @path (followed) with @rq's valid bits and fields. */
static int
setattr_path(struct cfs *fs, const char *path, struct wire_setattr *rq,
	     const char *what)
{
	struct walk w;
	struct op op;
	int rv;

	lc_op_begin(&op, fs);
	if ((rv = lc_walk(&op, path, WALK_FOLLOW, &w)) == 0) {
		rq->ino = w.attr.ino;
		rv = rq_setattr(&op, rq, NULL);
	}
	return lc_op_end(&op, rv, "%s %s", what, path);
}

int
cfs_chmod(struct cfs *fs, const char *path, mode_t mode)
{
	struct wire_setattr rq = {.valid = CFS_SETATTR_MODE,
				  .mode = (uint32_t)mode & 07777};

	CHECK(fs, path, "chmod");
	return setattr_path(fs, path, &rq, "chmod");
}

int
cfs_chown(struct cfs *fs, const char *path, uid_t uid, gid_t gid)
{
	struct wire_setattr rq = {0};

	CHECK(fs, path, "chown");
	if (uid != (uid_t)-1) {
		rq.valid |= CFS_SETATTR_UID;
		rq.uid = (uint32_t)uid;
	}
	if (gid != (gid_t)-1) {
		rq.valid |= CFS_SETATTR_GID;
		rq.gid = (uint32_t)gid;
	}
	return setattr_path(fs, path, &rq, "chown");
}

int
cfs_utimens(struct cfs *fs, const char *path, const struct timespec ts[2])
{
	struct wire_setattr rq = {0};

	CHECK(fs, path, "utimens");
	if (ts == NULL) {
		rq.valid = CFS_SETATTR_ATIME_NOW | CFS_SETATTR_MTIME_NOW;
	} else {
		for (int i = 0; i < 2; i++) {
			uint32_t now = i ? CFS_SETATTR_MTIME_NOW
					 : CFS_SETATTR_ATIME_NOW;
			uint32_t set = i ? CFS_SETATTR_MTIME
					 : CFS_SETATTR_ATIME;
			int64_t ns = (int64_t)ts[i].tv_sec * 1000000000 +
				     ts[i].tv_nsec;
			if (ts[i].tv_nsec == UTIME_OMIT)
				continue;
			if (ts[i].tv_nsec == UTIME_NOW) {
				rq.valid |= now;
				continue;
			}
			if (ts[i].tv_nsec < 0 || ts[i].tv_nsec >= 1000000000)
				return lc_fail_now(CFS_EINVAL,
						   "utimens %s: tv_nsec %ld",
						   path, ts[i].tv_nsec);
			rq.valid |= set;
			if (i)
				rq.mtime_ns = ns;
			else
				rq.atime_ns = ns;
		}
	}
	return setattr_path(fs, path, &rq, "utimens");
}

int
cfs_truncate(struct cfs *fs, const char *path, off_t size)
{
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, "truncate");
	if (size < 0)
		return lc_fail_now(CFS_EINVAL, "truncate %s: size %lld", path,
				   (long long)size);
	lc_op_begin(&op, fs);
	if ((rv = lc_walk(&op, path, WALK_FOLLOW, &w)) == 0)
		rv = lc_truncate_ino(&op, w.attr.ino, (uint64_t)size);
	return lc_op_end(&op, rv, "truncate %s to %lld", path, (long long)size);
}

int
cfs_statfs(struct cfs *fs, struct statvfs *sv)
{
	struct wire_statfs rq;
	struct op op;
	int rv;

	CHECK(fs, "", "statfs");
	if (sv == NULL)
		return lc_fail_now(CFS_EINVAL, "statfs: NULL statvfs");
	memset(&rq, 0, sizeof(rq));
	lc_op_begin(&op, fs);
	if ((rv = lc_call(&op, WIRE_T_statfs, &rq, WIRE_T_statfs_reply)) == 0) {
		const struct wire_statfs_reply *r = &op.c->rep->statfs_reply;
		memset(sv, 0, sizeof(*sv));
		sv->f_bsize = r->bsize ? r->bsize : 4096;
		sv->f_frsize = sv->f_bsize;
		sv->f_blocks = (fsblkcnt_t)r->blocks;
		sv->f_bfree = (fsblkcnt_t)r->bfree;
		sv->f_bavail = (fsblkcnt_t)r->bavail;
		sv->f_files = (fsfilcnt_t)r->files;
		sv->f_ffree = (fsfilcnt_t)r->ffree;
		sv->f_favail = (fsfilcnt_t)r->ffree;
		sv->f_namemax = r->namemax ? r->namemax : CFS_NAME_MAX;
	}
	return lc_op_end(&op, rv, "statfs");
}
