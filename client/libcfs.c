/* libcfs.c - libcfs, the public client API of client/include/cfs.h, over metaclient (namespace) and fileio (data). */
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

#include "client/fileio.h"
#include "client/metaclient.h"
#include "common/error.h"
#include "common/log.h"
#include "common/proto.h"

/* The public header repeats protocol constants so that it stands alone. */
_Static_assert(CFS_MAX_GROUPS == CFS_GROUPS_MAX, "groups");
_Static_assert(CFS_RENAME_NOREPLACE == (1u << 0) &&
		       CFS_RENAME_EXCHANGE == (1u << 1),
	       "rename flags");
_Static_assert(XATTR_CREATE == CFS_XATTR_CREATE &&
		       XATTR_REPLACE == CFS_XATTR_REPLACE,
	       "xattr flags");

#define ROOT_INO 1
#define SYMLINKS_MAX 40            /* as Linux's MAXSYMLINKS */
#define FILE_MAX (1ull << 62)      /* the metadata server's size limit */
#define WBUF_MAX CFS_WRITE_BUFFER
#define WBUF_KEEP (1u << 20)       /* a flushed buffer bigger than this is freed */
#define RWIN (1u << 20)            /* read-ahead window of a sequential reader */
#define TABLE_SIZE 256             /* open-inode hash buckets */
#define FLUSH_LOCKS 64             /* write-outs, striped by inode */
#define SESSIONS_DEFAULT 8
#define SESSIONS_MAX 64
#define CONNECT_TIMEOUT_MS 10000
#define CALL_TIMEOUT_MS 60000
#define GROW_RETRY_MS 10000        /* after a pool session failed to open */
#define LOCK_OWNER_POSIX 1         /* the struct cfs, on its lock session */
#define LOCK_WAIT_MIN_MS 2         /* blocking locks retry after this, */
#define LOCK_WAIT_MAX_MS 100       /* doubling up to this */

/* cfs_open flags that mean something, and those accepted as no-ops. */
#define OPEN_FLAGS                                                           \
	(O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_NOFOLLOW |    \
	 O_SYNC | O_DSYNC)
#define OPEN_IGNORED (O_CLOEXEC | O_LARGEFILE | O_NOATIME)

/* The message of this thread's last failed call (cfs_errmsg). */
static _Thread_local char last_msg[CFS_ERRMSG_SIZE];

/* One metadata session and its data-path sockets, borrowed by one call at a
 * time. */
struct conn {
	struct mc *mc;
	struct fio *fio;
	union wire_body *rep; /* reply scratch: large, so on the heap */
	int busy;
};

/* The open files of one inode (in struct cfs's table). */
struct open_ino {
	uint64_t ino;
	uint64_t gen; /* counts data changes through this client */
	struct cfs_file *files;
	struct open_ino *next; /* hash chain */
};

struct cfs {
	char *servers;
	char client_name[64];
	struct cfs_options opt;
	struct wire_cred cred; /* sent with every namespace request */
	void *zctx;            /* shared by every session */
	/* the session pool: conns[0..nconns) are open; `opening` more are
	 * being opened without the lock */
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;
	struct conn *conns; /* max_sessions slots */
	unsigned nconns, opening;
	int64_t grow_after_ms; /* no new session before this (monotonic) */
	/* Open files.  Lock order: append_lock, a file's lock, a
	 * flush_locks[] stripe, table_lock; never two file locks at once,
	 * and a call borrows its session before taking any of these. */
	pthread_mutex_t table_lock;
	struct open_ino *table[TABLE_SIZE];
	/* O_APPEND writes of this client one at a time: each finds the end
	 * and claims it (publishes its range) before the next looks */
	pthread_mutex_t append_lock;
	/* Write-outs of one inode one at a time: two at once would patch the
	 * same committed fragment version and the later commit would drop
	 * the earlier one's bytes (docs/data-path.md). */
	pthread_mutex_t flush_locks[FLUSH_LOCKS];
	/* Advisory locks (cfs_lock, cfs_flock) go through one session of
	 * their own, opened at the first lock call: the metadata service
	 * knows a lock's holder by its session, and the pool's sessions are
	 * borrowed by whichever call comes (docs/locks.md). */
	pthread_mutex_t lock_lock; /* guards lock_mc, lock_rep */
	struct mc *lock_mc;
	union wire_body *lock_rep;
	int posix_locked;      /* a POSIX lock was ever taken: closes
				  release the inode's (atomic) */
	uint64_t next_owner;   /* flock owners, under lock_lock */
};

struct cfs_file {
	struct cfs *fs;
	uint64_t ino;
	int flags;
	uint64_t pos; /* the owner thread's alone */
	/* buf..next_off: a read or truncation on another thread may write
	 * out this file's buffer */
	pthread_mutex_t lock;
	uint8_t *buf;
	size_t cap, len; /* dirty bytes are [start, start + len) */
	uint64_t start;
	int error;       /* a deferred write-out failure, told once */
	char error_msg[CFS_ERRMSG_SIZE];
	uint8_t *rbuf;   /* read window [rstart, rstart + rlen) as read while */
	size_t rlen;     /* the inode's change count was rgen */
	uint64_t rstart, rgen, next_off;
	int rvalid;
	/* under table_lock: */
	uint64_t dirty_end; /* start + len while len > 0, else 0 */
	unsigned refs;
	int attached; /* listed in oi->files */
	struct cfs_file *next;
	uint64_t flock_owner; /* 0 until the first cfs_flock (under
				 fs->lock_lock) */
};

struct cfs_dir {
	struct cfs *fs;
	uint64_t ino;
	struct wire_dirents *page;
	uint32_t next; /* index in page of the next entry to return */
};

/* One call in progress: its borrowed session and the lower layers'
 * message. */
struct op {
	struct cfs *fs;
	struct conn *c;
	char errmsg[CFS_ERRMSG_SIZE];
};

/* ---- errors ---------------------------------------------------------------- */

/* Set this thread's message to "<what>: <why>".  A long @what (a long
 * path) loses its middle, so that the reason always fits. */
static void
msg_set(const char *what, const char *why)
{
	size_t n = strlen(what);

	if (n > 160)
		snprintf(last_msg, sizeof(last_msg), "%.70s...%s: %s", what,
			 what + n - 70, why);
	else
		snprintf(last_msg, sizeof(last_msg), "%s: %s", what, why);
}

/* A failure before any session is involved: "<what>: <strerror(code)>". */
static int
fail_now(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail_now(int code, const char *fmt, ...)
{
	char what[CFS_PATH_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	msg_set(what, cfs_strerror(code));
	return -cfs_errno(code);
}

/* Fail @op with @code and no further detail than its message. */
static int
plain(struct op *op, int code)
{
	op->errmsg[0] = '\0';
	return code;
}

/* ---- the session pool ------------------------------------------------------ */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
conn_close(struct conn *c)
{
	fio_close(&c->fio);
	mc_close(&c->mc);
	free(c->rep);
	c->rep = NULL;
}

/* Open a session whose calls wait up to call_timeout_ms (fio's calls to the
 * leader take the session's default deadline). */
static int
conn_open(struct cfs *fs, struct conn *c, char *errmsg)
{
	struct mc_options mo = {
		.client_name = fs->client_name,
		.deadline_ms = fs->opt.call_timeout_ms,
		.uid = fs->cred.uid,
		.gid = fs->cred.gid,
		.use_cred = 1,
		.zmq_context = fs->zctx,
	};
	int rv;

	memset(c, 0, sizeof(*c));
	if ((rv = mc_open(&c->mc, fs->servers, &mo, errmsg)) != 0 ||
	    (rv = fio_open(&c->fio, c->mc, fs->zctx, errmsg)) != 0)
		goto err;
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
		    now_ms() >= fs->grow_after_ms) {
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
			fs->grow_after_ms = now_ms() + GROW_RETRY_MS;
			continue;
		}
		pthread_cond_wait(&fs->pool_cond, &fs->pool_lock);
	}
}

static void
conn_put(struct cfs *fs, struct conn *c)
{
	pthread_mutex_lock(&fs->pool_lock);
	c->busy = 0;
	pthread_cond_signal(&fs->pool_cond);
	pthread_mutex_unlock(&fs->pool_lock);
}

static void
op_begin(struct op *op, struct cfs *fs)
{
	op->fs = fs;
	op->errmsg[0] = '\0';
	op->c = conn_get(fs);
}

/* Give the session back.  On failure (@rv a CFS code) set this thread's
 * message to "<formatted>: <what the lower layer said>" and return the
 * negated errno; 0 on success. */
static int
op_end(struct op *op, int rv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
op_end(struct op *op, int rv, const char *fmt, ...)
{
	char what[2 * CFS_PATH_MAX + 64];
	va_list ap;

	if (op->c != NULL)
		conn_put(op->fs, op->c);
	op->c = NULL;
	if (rv == 0)
		return 0;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	msg_set(what, op->errmsg[0] ? op->errmsg : cfs_strerror(rv));
	return -cfs_errno(rv);
}

/* Send request @type (its cred filled) and expect @expect back in
 * op->c->rep. */
static int
call(struct op *op, uint16_t type, const void *rq, uint16_t expect)
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

static int
rq_lookup(struct op *op, uint64_t dir, const char *name, struct wire_attr *a)
{
	struct wire_lookup rq = {.cred = op->fs->cred, .parent = dir};
	int rv;

	snprintf(rq.name, sizeof(rq.name), "%s", name);
	if ((rv = call(op, WIRE_T_lookup, &rq, WIRE_T_entry)) == 0)
		*a = op->c->rep->entry.attr;
	return rv;
}

static int
rq_getattr(struct op *op, uint64_t ino, struct wire_attr *a)
{
	struct wire_getattr rq = {.cred = op->fs->cred, .ino = ino};
	int rv;

	if ((rv = call(op, WIRE_T_getattr, &rq, WIRE_T_entry)) == 0)
		*a = op->c->rep->entry.attr;
	return rv;
}

/* setattr with rq->valid and its fields set by the caller. */
static int
rq_setattr(struct op *op, struct wire_setattr *rq, struct wire_attr *a)
{
	int rv;

	rq->cred = op->fs->cred;
	if ((rv = call(op, WIRE_T_setattr, rq, WIRE_T_entry)) == 0 &&
	    a != NULL)
		*a = op->c->rep->entry.attr;
	return rv;
}

static int
rq_mknod(struct op *op, uint64_t dir, const char *name, uint32_t mode,
      struct wire_attr *a)
{
	struct wire_mknod rq = {.cred = op->fs->cred, .parent = dir,
				.mode = mode, .flags = CFS_MKNOD_EXCL};
	int rv;

	snprintf(rq.name, sizeof(rq.name), "%s", name);
	if ((rv = call(op, WIRE_T_mknod, &rq, WIRE_T_entry)) == 0 && a)
		*a = op->c->rep->entry.attr;
	return rv;
}

/* The target of symlink @ino into @buf (CFS_PATH_MAX + 1 bytes). */
static int
rq_readlink(struct op *op, uint64_t ino, char *buf)
{
	struct wire_readlink rq = {.cred = op->fs->cred, .ino = ino};
	int rv;

	if ((rv = call(op, WIRE_T_readlink, &rq, WIRE_T_linktarget)) == 0)
		snprintf(buf, CFS_PATH_MAX + 1, "%s",
			 op->c->rep->linktarget.target);
	return rv;
}

/* ---- paths -------------------------------------------------------------------- */

enum {
	WALK_FOLLOW = 1, /* follow a symlink in the last component */
	WALK_PARENT = 2, /* stop at the last component's directory */
	WALK_LONG_OK = 4, /* with WALK_PARENT: a last component that is too
			     long sets w->toolong instead of failing (the
			     caller reports it where Linux does) */
};

/* Where a path led. */
struct walk {
	uint64_t dir;                /* the directory holding the last name */
	char name[CFS_NAME_MAX + 1]; /* the last component; "" for "/" */
	int slash;                   /* the path ended in '/' */
	int toolong;                 /* WALK_LONG_OK: the last name is */
	struct wire_attr attr;       /* the object itself (not WALK_PARENT) */
};

/*
 * Errors found here, before the server sees a name (a component of @n
 * bytes at @p that is too long; O_CREAT of "dir/name/"), come after
 * Linux's search permission check on their directory: EACCES first.
 */
static int may(const struct cfs *fs, const struct wire_attr *a,
	       unsigned mask);

static int
search_ok(struct op *op, uint64_t dir)
{
	struct wire_attr a;
	int rv = rq_getattr(op, dir, &a);

	if (rv != 0)
		return rv;
	if (!may(op->fs, &a, 1))
		return cfs_fail(op->errmsg, CFS_EACCES,
				"no search permission on directory %llu",
				(unsigned long long)dir);
	return 0;
}

static int
too_long(struct op *op, uint64_t dir, const char *p, size_t n)
{
	int rv = search_ok(op, dir);

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
static int
walk_at(struct op *op, uint64_t start, const char *path, int how,
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
			return rq_getattr(op, cur, &w->attr);
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
			if ((rv = search_ok(op, cur)) != 0)
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
		if ((rv = rq_lookup(op, cur, w->name, &w->attr)) != 0)
			return rv;
		if (S_ISLNK(w->attr.mode) &&
		    (!last || (how & WALK_FOLLOW) || w->slash)) {
			if (++links > SYMLINKS_MAX)
				return cfs_fail(op->errmsg, CFS_ELOOP,
						"more than %d symlinks",
						SYMLINKS_MAX);
			if ((rv = rq_readlink(op, w->attr.ino, target)) != 0)
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

/* walk_at from "/" for an absolute @path. */
static int
walk(struct op *op, const char *path, int how, struct walk *w)
{
	int rv = path_check(op, path);

	memset(w, 0, sizeof(*w));
	w->dir = ROOT_INO;
	return rv != 0 ? rv : walk_at(op, ROOT_INO, path, how, w);
}

/* ---- open files ---------------------------------------------------------------- */

static struct open_ino **
table_find(struct cfs *fs, uint64_t ino)
{
	struct open_ino **p = &fs->table[ino % TABLE_SIZE];

	while (*p != NULL && (*p)->ino != ino)
		p = &(*p)->next;
	return p;
}

static struct cfs_file *
file_new(struct cfs *fs, uint64_t ino, int flags)
{
	struct cfs_file *f = calloc(1, sizeof(*f));
	struct open_ino **p;

	if (f == NULL)
		return NULL;
	f->fs = fs;
	f->ino = ino;
	f->flags = flags;
	f->refs = 1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_lock(&fs->table_lock);
	p = table_find(fs, ino);
	if (*p == NULL && (*p = calloc(1, sizeof(**p))) != NULL)
		(*p)->ino = ino;
	if (*p == NULL) {
		pthread_mutex_unlock(&fs->table_lock);
		pthread_mutex_destroy(&f->lock);
		free(f);
		return NULL;
	}
	f->next = (*p)->files;
	(*p)->files = f;
	f->attached = 1;
	pthread_mutex_unlock(&fs->table_lock);
	return f;
}

static void
file_unref_locked(struct cfs_file *f)
{
	if (--f->refs > 0)
		return;
	pthread_mutex_destroy(&f->lock);
	free(f->buf);
	free(f->rbuf);
	free(f);
}

/* Unlist @f (and its inode with its last file) and drop the opener's
 * reference. */
static void
file_close(struct cfs *fs, struct cfs_file *f)
{
	pthread_mutex_lock(&fs->table_lock);
	struct open_ino **p = table_find(fs, f->ino), *oi = *p;
	if (f->attached && oi != NULL) { /* (attached implies oi) */
		struct cfs_file **q = &oi->files;
		while (*q != f)
			q = &(*q)->next;
		*q = f->next;
		f->attached = 0;
		if (oi->files == NULL) {
			*p = oi->next;
			free(oi);
		}
	}
	file_unref_locked(f);
	pthread_mutex_unlock(&fs->table_lock);
}

/* The end of the furthest dirty range of @ino in any open file, 0 if
 * none. */
static uint64_t
dirty_end(struct cfs *fs, uint64_t ino)
{
	uint64_t end = 0;

	pthread_mutex_lock(&fs->table_lock);
	struct open_ino *oi = *table_find(fs, ino);
	for (struct cfs_file *f = oi ? oi->files : NULL; f; f = f->next)
		if (f->dirty_end > end)
			end = f->dirty_end;
	pthread_mutex_unlock(&fs->table_lock);
	return end;
}

static void
publish(struct cfs *fs, struct cfs_file *f)
{
	pthread_mutex_lock(&fs->table_lock);
	f->dirty_end = f->len > 0 ? f->start + f->len : 0;
	pthread_mutex_unlock(&fs->table_lock);
}

/* A change of @ino's data through this client: read windows taken before
 * are stale. */
static void
ino_changed(struct cfs *fs, uint64_t ino)
{
	pthread_mutex_lock(&fs->table_lock);
	struct open_ino *oi = *table_find(fs, ino);
	if (oi != NULL)
		oi->gen++;
	pthread_mutex_unlock(&fs->table_lock);
}

static uint64_t
ino_gen(struct cfs *fs, uint64_t ino)
{
	uint64_t gen = 0;

	pthread_mutex_lock(&fs->table_lock);
	struct open_ino *oi = *table_find(fs, ino);
	if (oi != NULL)
		gen = oi->gen;
	pthread_mutex_unlock(&fs->table_lock);
	return gen;
}

/* Write out @f's dirty range, durably (f->lock held).  The range is gone
 * afterwards whether or not that succeeded: a failure is the caller's to
 * report. */
static int
wb_flush(struct op *op, struct cfs_file *f)
{
	pthread_mutex_t *stripe = &op->fs->flush_locks[f->ino % FLUSH_LOCKS];
	int rv;

	if (f->len == 0)
		return 0;
	pthread_mutex_lock(stripe);
	rv = fio_pwrite(op->c->fio, f->ino, f->start, f->buf, f->len, 1,
			op->errmsg);
	pthread_mutex_unlock(stripe);
	if (rv != 0)
		cfs_errmsg_prefix(op->errmsg, "writing %zu bytes at %llu",
				  f->len, (unsigned long long)f->start);
	f->len = 0;
	if (f->cap > WBUF_KEEP) {
		free(f->buf);
		f->buf = NULL;
		f->cap = 0;
	}
	publish(op->fs, f);
	ino_changed(op->fs, f->ino);
	return rv;
}

/* Keep a write-out failure in @f for its next write, fsync or close. */
static void
defer_error(struct cfs_file *f, int rv, const char *msg)
{
	if (rv == 0 || f->error != 0)
		return;
	f->error = rv;
	snprintf(f->error_msg, sizeof(f->error_msg), "%s",
		 msg[0] ? msg : cfs_strerror(rv));
}

/* Take @f's deferred failure into @op (f->lock held): its code, or 0. */
static int
take_error(struct op *op, struct cfs_file *f)
{
	int rv = f->error;

	if (rv != 0)
		cfs_errmsg_set(op->errmsg, "an earlier write-out failed: %s",
			       f->error_msg);
	f->error = 0;
	return rv;
}

/* Write out the dirty range of every open file of @ino but @except (before
 * a read, a truncation, or @except's own write).  Failures stay with their
 * files. */
static void
flush_ino(struct op *op, uint64_t ino, const struct cfs_file *except)
{
	struct cfs *fs = op->fs;
	struct cfs_file *list[16];
	unsigned n;

	do {
		n = 0;
		pthread_mutex_lock(&fs->table_lock);
		struct open_ino *oi = *table_find(fs, ino);
		for (struct cfs_file *f = oi ? oi->files : NULL; f && n < 16;
		     f = f->next) {
			if (f->dirty_end == 0 || f == except)
				continue;
			f->refs++;
			list[n++] = f;
		}
		pthread_mutex_unlock(&fs->table_lock);
		for (unsigned i = 0; i < n; i++) {
			struct cfs_file *f = list[i];
			/* the failure is f's, not this call's */
			struct op sub = {.fs = fs, .c = op->c};
			pthread_mutex_lock(&f->lock);
			defer_error(f, wb_flush(&sub, f), sub.errmsg);
			pthread_mutex_unlock(&f->lock);
			pthread_mutex_lock(&fs->table_lock);
			file_unref_locked(f);
			pthread_mutex_unlock(&fs->table_lock);
		}
	} while (n == 16); /* more than fit the list: another round */
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
static void
stat_of(struct cfs *fs, const struct wire_attr *a, struct stat *st)
{
	uint64_t end = S_ISREG(a->mode) ? dirty_end(fs, a->ino) : 0;
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
static int
may(const struct cfs *fs, const struct wire_attr *a, unsigned mask)
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
static int
truncate_ino(struct op *op, uint64_t ino, uint64_t size)
{
	struct wire_setattr rq = {.ino = ino, .valid = CFS_SETATTR_SIZE,
				  .size = size};
	int rv;

	if (size > FILE_MAX)
		return cfs_fail(op->errmsg, CFS_EFBIG, "size %llu",
				(unsigned long long)size);
	flush_ino(op, ino, NULL);
	rv = rq_setattr(op, &rq, NULL);
	ino_changed(op->fs, ino);
	return rv;
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
	struct cfs *fs;
	int rv;

	if (out == NULL)
		return fail_now(CFS_EINVAL, "connect: NULL handle pointer");
	*out = NULL;
	if (opt == NULL) {
		cfs_options_init(&defaults);
		opt = &defaults;
	}
	if (opt->version != CFS_OPTIONS_VERSION)
		return fail_now(CFS_EINVAL, "connect: options version %u (not "
				"set up by cfs_options_init?)",
				opt->version);
	if (servers == NULL || servers[0] == '\0')
		return fail_now(CFS_EINVAL,
				"connect: no metadata server address");
	pthread_once(&log_once, log_setup);
	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		return fail_now(CFS_ENOMEM, "connect %s", servers);
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
	pthread_mutex_init(&fs->table_lock, NULL);
	pthread_mutex_init(&fs->append_lock, NULL);
	for (unsigned i = 0; i < FLUSH_LOCKS; i++)
		pthread_mutex_init(&fs->flush_locks[i], NULL);
	pthread_mutex_init(&fs->lock_lock, NULL);
	fs->next_owner = LOCK_OWNER_POSIX + 1;
	fs->servers = strdup(servers);
	fs->conns = calloc(fs->opt.max_sessions, sizeof(*fs->conns));
	if (fs->servers == NULL || fs->conns == NULL) {
		rv = cfs_fail(errmsg, CFS_ENOMEM, "client state");
		goto err;
	}
	if ((rv = cred_setup(fs, opt, errmsg)) != 0)
		goto err;

	/* case 1 */
	struct mc_options probe_opt = {
		.client_name = fs->client_name,
		.deadline_ms = fs->opt.connect_timeout_ms,
		.uid = fs->cred.uid,
		.gid = fs->cred.gid,
		.use_cred = 1,
	};
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
	*out = fs;
	return 0;
err:
	cfs_disconnect(&fs);
	char what[CFS_ERRMSG_SIZE];
	snprintf(what, sizeof(what), "connect %s", servers);
	msg_set(what, errmsg[0] ? errmsg : cfs_strerror(rv));
	return -cfs_errno(rv);
}

void
cfs_disconnect(struct cfs **fsp)
{
	struct cfs *fs = fsp ? *fsp : NULL;

	if (fs == NULL)
		return;
	/* write out and free files still open (a caller's bug, but data
	 * should not be lost to it) */
	for (unsigned i = 0; i < TABLE_SIZE; i++) {
		while (fs->table[i] != NULL) {
			struct cfs_file *f = fs->table[i]->files;
			if (fs->nconns > 0) {
				struct op op = {.fs = fs, .c = &fs->conns[0]};
				pthread_mutex_lock(&f->lock);
				wb_flush(&op, f);
				pthread_mutex_unlock(&f->lock);
			}
			f->refs = 1;
			file_close(fs, f);
		}
	}
	for (unsigned i = 0; i < fs->nconns; i++)
		conn_close(&fs->conns[i]);
	free(fs->conns);
	/* closing the lock session drops every lock still held */
	mc_close(&fs->lock_mc);
	free(fs->lock_rep);
	pthread_mutex_destroy(&fs->lock_lock);
	if (fs->zctx != NULL)
		zmq_ctx_term(fs->zctx);
	for (unsigned i = 0; i < FLUSH_LOCKS; i++)
		pthread_mutex_destroy(&fs->flush_locks[i]);
	pthread_mutex_destroy(&fs->append_lock);
	pthread_mutex_destroy(&fs->table_lock);
	pthread_cond_destroy(&fs->pool_cond);
	pthread_mutex_destroy(&fs->pool_lock);
	free(fs->servers);
	free(fs);
	*fsp = NULL;
}

/* ---- namespace ------------------------------------------------------------------ */

/* The checks of every call taking a handle and a path (messages quote
 * the path, which must not be NULL then). */
#define CHECK(fs, path, what)                                                \
	do {                                                                 \
		if ((fs) == NULL)                                            \
			return fail_now(CFS_EINVAL, "%s: NULL handle",       \
					(what));                             \
		if ((path) == NULL)                                          \
			return fail_now(CFS_EINVAL, "%s: NULL path",         \
					(what));                             \
	} while (0)

static int
do_stat(struct cfs *fs, const char *path, struct stat *st, int how,
	const char *what)
{
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, what);
	if (st == NULL)
		return fail_now(CFS_EINVAL, "%s %s: NULL stat", what, path);
	op_begin(&op, fs);
	if ((rv = walk(&op, path, how, &w)) == 0)
		stat_of(fs, &w.attr, st);
	return op_end(&op, rv, "%s %s", what, path);
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
	op_begin(&op, fs);
	rv = walk(&op, path, WALK_PARENT, &w);
	if (rv == 0 && w.name[0] == '\0')
		rv = cfs_fail(op.errmsg, CFS_EEXIST, "the root");
	if (rv == 0)
		rv = rq_mknod(&op, w.dir, w.name,
			   S_IFDIR | ((uint32_t)mode & 07777), NULL);
	return op_end(&op, rv, "mkdir %s", path);
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
	op_begin(&op, fs);
	rv = walk(&op, path, WALK_PARENT, &w);
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
		rv = rq_lookup(&op, w.dir, w.name, &a);
		if (rv == 0)
			rv = cfs_fail(op.errmsg,
				      S_ISDIR(a.mode) ? CFS_EISDIR
						      : CFS_ENOTDIR,
				      "'%s/'", w.name);
	}
	if (rv == 0) {
		struct wire_unlink rq = {.cred = fs->cred, .parent = w.dir};
		snprintf(rq.name, sizeof(rq.name), "%s", w.name);
		rv = call(&op, dir ? WIRE_T_rmdir : WIRE_T_unlink, &rq,
			  WIRE_T_ok);
	}
	return op_end(&op, rv, "%s %s", what, path);
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

	/* the walks' search permission on both directories first (walk_at
	 * checked it already where the name was too long) */
	if ((!a->toolong && (rv = search_ok(op, a->dir)) != 0) ||
	    (!b->toolong && (rv = search_ok(op, b->dir)) != 0))
		return rv;
	if (a->toolong)
		return cfs_fail(op->errmsg, CFS_ENAMETOOLONG, "source name");
	if ((rv = rq_lookup(op, a->dir, a->name, &s)) != 0)
		return rv;
	return cfs_fail(op->errmsg, CFS_ENAMETOOLONG, "target name");
}

/*
 * A trailing '/' on either name of a rename requires a directory there
 * (Linux: ENOTDIR), which the server cannot see: check it here, after the
 * errors Linux reports first (the source missing; NOREPLACE and an
 * existing target; EXCHANGE and a missing one).
 */
static int
rename_slashes(struct op *op, const struct walk *a, const struct walk *b,
	       unsigned flags)
{
	struct wire_attr s, t;
	int rv, have_t, xchg = (flags & CFS_RENAME_EXCHANGE) != 0;

	if ((rv = rq_lookup(op, a->dir, a->name, &s)) != 0)
		return rv;
	rv = rq_lookup(op, b->dir, b->name, &t);
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
		return fail_now(CFS_EINVAL, "rename %s: flags 0x%x", from,
				flags);
	op_begin(&op, fs);
	/* Linux walks the source to its directory (search permission on
	 * that one too) before it even looks at the target's path */
	if ((rv = walk(&op, from, WALK_PARENT | WALK_LONG_OK, &a)) != 0) {
		cfs_errmsg_prefix(op.errmsg, "source");
	} else if (path_check(&op, to) != 0 &&
		   (rv = search_ok(&op, a.dir)) != 0) {
		cfs_errmsg_prefix(op.errmsg, "source");
	} else if ((rv = walk(&op, to, WALK_PARENT | WALK_LONG_OK, &b)) != 0) {
		cfs_errmsg_prefix(op.errmsg, "target");
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
		rv = call(&op, WIRE_T_rename, &rq, WIRE_T_ok);
	}
	return op_end(&op, rv, "rename %s to %s", from, to);
}

int
cfs_link(struct cfs *fs, const char *from, const char *to)
{
	struct walk a, b;
	struct op op;
	int rv;

	CHECK(fs, from, "link");
	CHECK(fs, to, "link");
	op_begin(&op, fs);
	if ((rv = walk(&op, from, 0, &a)) != 0) {
		cfs_errmsg_prefix(op.errmsg, "source");
	} else if ((rv = walk(&op, to, WALK_PARENT, &b)) != 0) {
		cfs_errmsg_prefix(op.errmsg, "target");
	} else if (b.name[0] == '\0') {
		rv = cfs_fail(op.errmsg, CFS_EEXIST, "the root");
	} else if (b.slash) { /* Linux: EEXIST if it is there */
		struct wire_attr e;
		rv = rq_lookup(&op, b.dir, b.name, &e);
		rv = rv == 0 ? cfs_fail(op.errmsg, CFS_EEXIST, "'%s'", b.name)
		     : rv == CFS_ENOENT
			     ? cfs_fail(op.errmsg, CFS_ENOENT, "'%s/'", b.name)
			     : rv;
	} else {
		struct wire_link rq = {.cred = fs->cred, .ino = a.attr.ino,
				       .newparent = b.dir};
		snprintf(rq.newname, sizeof(rq.newname), "%s", b.name);
		rv = call(&op, WIRE_T_link, &rq, WIRE_T_entry);
	}
	return op_end(&op, rv, "link %s to %s", from, to);
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
		return fail_now(CFS_EINVAL, "symlink %s: NULL target",
				linkpath);
	/* the target's own errors first, as Linux (getname before the walk) */
	if (target[0] == '\0')
		return fail_now(CFS_ENOENT, "symlink %s: empty target", linkpath);
	if (strlen(target) >= CFS_PATH_MAX)
		return fail_now(CFS_ENAMETOOLONG,
				"symlink %s: target of %zu bytes", linkpath,
				strlen(target));
	if ((rq = calloc(1, sizeof(*rq))) == NULL)
		return fail_now(CFS_ENOMEM, "symlink %s", linkpath);
	op_begin(&op, fs);
	rv = walk(&op, linkpath, WALK_PARENT, &w);
	if (rv == 0 && w.name[0] == '\0')
		rv = cfs_fail(op.errmsg, CFS_EEXIST, "the root");
	if (rv == 0 && w.slash) { /* Linux: EEXIST if it is there */
		struct wire_attr e;
		rv = rq_lookup(&op, w.dir, w.name, &e);
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
		rv = call(&op, WIRE_T_symlink, rq, WIRE_T_entry);
	}
	free(rq);
	return op_end(&op, rv, "symlink %s", linkpath);
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
		return fail_now(CFS_EINVAL, "readlink %s: no buffer", path);
	op_begin(&op, fs);
	rv = walk(&op, path, 0, &w);
	if (rv == 0 && !S_ISLNK(w.attr.mode))
		rv = cfs_fail(op.errmsg, CFS_EINVAL, "a %s, not a symlink",
			      S_ISDIR(w.attr.mode) ? "directory" : "file");
	if (rv == 0 && (rv = rq_readlink(&op, w.attr.ino, target)) == 0) {
		n = strlen(target);
		if (n > len)
			n = len;
		memcpy(buf, target, n);
	}
	if ((rv = op_end(&op, rv, "readlink %s", path)) != 0)
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

	op_begin(&op, fs);
	if ((rv = walk(&op, path, WALK_FOLLOW, &w)) == 0) {
		rq->ino = w.attr.ino;
		rv = rq_setattr(&op, rq, NULL);
	}
	return op_end(&op, rv, "%s %s", what, path);
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
				return fail_now(CFS_EINVAL,
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
		return fail_now(CFS_EINVAL, "truncate %s: size %lld", path,
				(long long)size);
	op_begin(&op, fs);
	if ((rv = walk(&op, path, WALK_FOLLOW, &w)) == 0)
		rv = truncate_ino(&op, w.attr.ino, (uint64_t)size);
	return op_end(&op, rv, "truncate %s to %lld", path, (long long)size);
}

int
cfs_statfs(struct cfs *fs, struct statvfs *sv)
{
	struct wire_statfs rq;
	struct op op;
	int rv;

	CHECK(fs, "", "statfs");
	if (sv == NULL)
		return fail_now(CFS_EINVAL, "statfs: NULL statvfs");
	memset(&rq, 0, sizeof(rq));
	op_begin(&op, fs);
	if ((rv = call(&op, WIRE_T_statfs, &rq, WIRE_T_statfs_reply)) == 0) {
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
	return op_end(&op, rv, "statfs");
}

/* ---- extended attributes ---------------------------------------------------------- */

static int
xattr_name_ok(const char *name, const char *what, const char *path)
{
	if (name == NULL)
		return fail_now(CFS_EINVAL, "%s %s: NULL name", what, path);
	if (strlen(name) > CFS_XATTR_NAME_MAX)
		return fail_now(CFS_ERANGE, "%s %s: name of %zu bytes", what,
				path, strlen(name));
	return 0;
}

int
cfs_setxattr(struct cfs *fs, const char *path, const char *name,
	     const void *value, size_t size, int flags)
{
	struct wire_setxattr rq = {0};
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, "setxattr");
	if ((rv = xattr_name_ok(name, "setxattr", path)) != 0)
		return rv;
	if (size > CFS_XATTR_VALUE_MAX)
		return fail_now(CFS_E2BIG, "setxattr %s '%s': %zu bytes", path,
				name, size);
	if (value == NULL && size > 0)
		return fail_now(CFS_EINVAL, "setxattr %s '%s': NULL value",
				path, name);
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return fail_now(CFS_EINVAL, "setxattr %s '%s': flags 0x%x",
				path, name, (unsigned)flags);
	op_begin(&op, fs);
	if ((rv = walk(&op, path, WALK_FOLLOW, &w)) == 0) {
		rq.cred = fs->cred;
		rq.ino = w.attr.ino;
		snprintf(rq.name, sizeof(rq.name), "%s", name);
		rq.value = size ? value : (const uint8_t *)"";
		rq.value_len = (uint32_t)size;
		rq.flags = (uint32_t)flags;
		rv = call(&op, WIRE_T_setxattr, &rq, WIRE_T_ok);
	}
	return op_end(&op, rv, "setxattr %s '%s'", path, name);
}

/* getxattr (@name) and listxattr (@name NULL) of @path into @buf. */
static ssize_t
xattr_get(struct cfs *fs, const char *path, const char *name, void *buf,
	  size_t size)
{
	const char *what = name ? "getxattr" : "listxattr";
	struct walk w;
	struct op op;
	uint32_t len = 0;
	int rv;

	CHECK(fs, path, what);
	if (name != NULL && (rv = xattr_name_ok(name, what, path)) != 0)
		return rv;
	if (buf == NULL && size > 0)
		return fail_now(CFS_EINVAL, "%s %s: NULL buffer", what, path);
	op_begin(&op, fs);
	if ((rv = walk(&op, path, WALK_FOLLOW, &w)) == 0) {
		const uint8_t *v;
		if (name != NULL) {
			struct wire_getxattr rq = {.cred = fs->cred,
						   .ino = w.attr.ino};
			snprintf(rq.name, sizeof(rq.name), "%s", name);
			rv = call(&op, WIRE_T_getxattr, &rq,
				  WIRE_T_xattr_value);
			v = op.c->rep->xattr_value.value;
			len = op.c->rep->xattr_value.value_len;
		} else {
			struct wire_listxattr rq = {.cred = fs->cred,
						    .ino = w.attr.ino};
			rv = call(&op, WIRE_T_listxattr, &rq,
				  WIRE_T_xattr_names);
			v = op.c->rep->xattr_names.names;
			len = op.c->rep->xattr_names.names_len;
		}
		if (rv == 0 && size > 0 && len > size)
			rv = cfs_fail(op.errmsg, CFS_ERANGE,
				      "%u bytes for a buffer of %zu", len,
				      size);
		else if (rv == 0 && size > 0 && len > 0)
			memcpy(buf, v, len);
	}
	if (name != NULL)
		rv = op_end(&op, rv, "%s %s '%s'", what, path, name);
	else
		rv = op_end(&op, rv, "%s %s", what, path);
	return rv != 0 ? rv : (ssize_t)len;
}

ssize_t
cfs_getxattr(struct cfs *fs, const char *path, const char *name,
	     void *value, size_t size)
{
	if (name == NULL)
		return fail_now(CFS_EINVAL, "getxattr %s: NULL name", path);
	return xattr_get(fs, path, name, value, size);
}

ssize_t
cfs_listxattr(struct cfs *fs, const char *path, char *list, size_t size)
{
	return xattr_get(fs, path, NULL, list, size);
}

int
cfs_removexattr(struct cfs *fs, const char *path, const char *name)
{
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, "removexattr");
	if ((rv = xattr_name_ok(name, "removexattr", path)) != 0)
		return rv;
	op_begin(&op, fs);
	if ((rv = walk(&op, path, WALK_FOLLOW, &w)) == 0) {
		struct wire_removexattr rq = {.cred = fs->cred,
					      .ino = w.attr.ino};
		snprintf(rq.name, sizeof(rq.name), "%s", name);
		rv = call(&op, WIRE_T_removexattr, &rq, WIRE_T_ok);
	}
	return op_end(&op, rv, "removexattr %s '%s'", path, name);
}

/* ---- goal ------------------------------------------------------------------------ */

int
cfs_getgoal(struct cfs *fs, const char *path, unsigned *goal)
{
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, "getgoal");
	if (goal == NULL)
		return fail_now(CFS_EINVAL, "getgoal %s: NULL goal", path);
	op_begin(&op, fs);
	if ((rv = walk(&op, path, WALK_FOLLOW, &w)) == 0)
		*goal = w.attr.goal;
	return op_end(&op, rv, "getgoal %s", path);
}

int
cfs_setgoal(struct cfs *fs, const char *path, unsigned goal)
{
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, "setgoal");
	op_begin(&op, fs);
	if ((rv = walk(&op, path, WALK_FOLLOW, &w)) == 0) {
		struct wire_setgoal rq = {.cred = fs->cred, .ino = w.attr.ino,
					  .goal = goal};
		rv = call(&op, WIRE_T_setgoal, &rq, WIRE_T_entry);
	}
	return op_end(&op, rv, "setgoal %s to %u", path, goal);
}

/* ---- directory listings --------------------------------------------------------- */

/* The page of entries after @cookie into d->page. */
static int
dir_page(struct op *op, struct cfs_dir *d, uint64_t cookie)
{
	struct wire_readdir rq = {.cred = op->fs->cred, .ino = d->ino,
				  .cookie = cookie,
				  .max_entries = WIRE_MAX_dirent};
	int rv = call(op, WIRE_T_readdir, &rq, WIRE_T_dirents);

	if (rv == 0) {
		memcpy(d->page, &op->c->rep->dirents, sizeof(*d->page));
		d->next = 0;
	}
	return rv;
}

int
cfs_opendir(struct cfs *fs, const char *path, struct cfs_dir **out)
{
	struct cfs_dir *d;
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, "opendir");
	if (out == NULL)
		return fail_now(CFS_EINVAL, "opendir %s: NULL result", path);
	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->page = malloc(sizeof(*d->page))) == NULL) {
		free(d);
		return fail_now(CFS_ENOMEM, "opendir %s", path);
	}
	d->fs = fs;
	op_begin(&op, fs);
	rv = walk(&op, path, WALK_FOLLOW, &w);
	if (rv == 0 && !S_ISDIR(w.attr.mode))
		rv = plain(&op, CFS_ENOTDIR);
	if (rv == 0) {
		d->ino = w.attr.ino;
		rv = dir_page(&op, d, 0);
	}
	if ((rv = op_end(&op, rv, "opendir %s", path)) != 0) {
		cfs_closedir(&d);
		return rv;
	}
	*out = d;
	return 0;
}

int
cfs_readdir(struct cfs_dir *d, struct cfs_dirent *e)
{
	struct wire_dirents *pg;

	if (d == NULL || e == NULL)
		return fail_now(CFS_EINVAL, "readdir: NULL argument");
	pg = d->page;
	if (d->next >= pg->entries_count) {
		struct op op;
		int rv;
		if (pg->eof || pg->entries_count == 0)
			return 0;
		uint64_t cookie = pg->entries[pg->entries_count - 1].cookie;
		op_begin(&op, d->fs);
		/* on failure the page stays: a retry asks again */
		rv = dir_page(&op, d, cookie);
		if ((rv = op_end(&op, rv, "readdir of inode %llu after "
				 "cookie %llu",
				 (unsigned long long)d->ino,
				 (unsigned long long)cookie)) != 0)
			return rv;
		if (pg->entries_count == 0)
			return 0;
	}
	const struct wire_dirent *de = &pg->entries[d->next++];
	snprintf(e->name, sizeof(e->name), "%s", de->name);
	e->ino = de->attr.ino;
	stat_of(d->fs, &de->attr, &e->st);
	return 1;
}

void
cfs_closedir(struct cfs_dir **dp)
{
	struct cfs_dir *d = dp ? *dp : NULL;

	if (d == NULL)
		return;
	free(d->page);
	free(d);
	*dp = NULL;
}

/* ---- files --------------------------------------------------------------------------- */

/*
 * cfs_open.  Cases:
 * 1) O_CREAT: create the file exclusively in the parent; if it exists and
 *    O_EXCL is not given, open the existing one as in case 2 (following a
 *    symlink); if it vanished meanwhile, try again;
 * 2) otherwise resolve the path (not following a last symlink with
 *    O_NOFOLLOW); it must be a regular file the caller may open with the
 *    access mode asked, which the server does not check at open (it checks
 *    each data request);
 * 3) O_TRUNC with write access empties an existing non-empty file (this
 *    client's buffered data of it is written out first).
 */
static int open_create(struct op *op, const char *path, int flags,
		       mode_t mode, struct walk *w, int *created);

int
cfs_open(struct cfs *fs, const char *path, int flags, mode_t mode,
	 struct cfs_file **out)
{
	int acc = flags & O_ACCMODE, created = 0, rv = 0;
	struct cfs_file *f = NULL;
	struct walk w;
	struct op op;

	CHECK(fs, path, "open");
	if (out == NULL)
		return fail_now(CFS_EINVAL, "open %s: NULL result", path);
	*out = NULL;
	if (acc != O_RDONLY && acc != O_WRONLY && acc != O_RDWR)
		return fail_now(CFS_EINVAL, "open %s: access mode %d", path,
				acc);
	if (flags & ~(OPEN_FLAGS | OPEN_IGNORED))
		return fail_now(CFS_EINVAL, "open %s: unsupported flags 0%o",
				path,
				(unsigned)(flags & ~(OPEN_FLAGS |
						     OPEN_IGNORED)));
	op_begin(&op, fs);
	if (flags & O_CREAT)
		rv = open_create(&op, path, flags, mode, &w, &created);
	else
		rv = walk(&op, path, (flags & O_NOFOLLOW) ? 0 : WALK_FOLLOW,
			  &w);
	if (rv == 0 && S_ISLNK(w.attr.mode))
		rv = cfs_fail(op.errmsg, CFS_ELOOP, "a symlink, and O_NOFOLLOW");
	else if (rv == 0 && S_ISDIR(w.attr.mode))
		/* as Linux's may_open: a read-only open of a directory is
		 * checked for read permission before it is refused here */
		rv = acc == O_RDONLY && !(flags & O_CREAT) && !created &&
				     !may(fs, &w.attr, 4u)
			     ? cfs_fail(op.errmsg, CFS_EACCES, "directory "
					"mode %o", w.attr.mode & 07777)
			     : plain(&op, CFS_EISDIR);
	else if (rv == 0 && !S_ISREG(w.attr.mode))
		rv = cfs_fail(op.errmsg, CFS_EINVAL, "not a regular file");
	else if (rv == 0 && !created &&
		 !may(fs, &w.attr,
		      (acc != O_WRONLY ? 4u : 0u) |
			      (acc != O_RDONLY || (flags & O_TRUNC) ? 2u
								     : 0u)))
		rv = cfs_fail(op.errmsg, CFS_EACCES,
			      "mode %o, owner %u, group %u",
			      w.attr.mode & 07777, w.attr.uid, w.attr.gid);
	/* as Linux: O_TRUNC empties the file even with O_RDONLY */
	if (rv == 0 && (flags & O_TRUNC) && !created &&
	    (w.attr.size > 0 || dirty_end(fs, w.attr.ino) > 0))
		rv = truncate_ino(&op, w.attr.ino, 0);
	if (rv == 0 && (f = file_new(fs, w.attr.ino, flags)) == NULL)
		rv = cfs_fail(op.errmsg, CFS_ENOMEM, "open file");
	if ((rv = op_end(&op, rv, "open %s", path)) != 0)
		return rv;
	*out = f;
	return 0;
}

/*
 * The O_CREAT part of cfs_open(): create @path's last component, or find
 * what is there.  As Linux: an existing symlink is followed (unless
 * O_NOFOLLOW or O_EXCL), and if it dangles its target is created, relative
 * to the link's directory; a name that vanishes between the failed create
 * and the look-up is created again (a bounded number of times).
 * 0 with *@created and w->attr the object, or a CFS code.
 */
static int
open_create(struct op *op, const char *path, int flags, mode_t mode,
	    struct walk *w, int *created)
{
	char target[CFS_PATH_MAX + 1];
	const char *p = path;
	uint64_t start = ROOT_INO;
	int rv, links = 0;

	if ((rv = walk(op, path, WALK_PARENT, w)) != 0)
		return rv;
	for (int tries = 0;; tries++) {
		if (w->name[0] == '\0')
			return plain(op, CFS_EISDIR);
		if (w->slash)
			return (rv = search_ok(op, w->dir)) != 0
				       ? rv
				       : plain(op, CFS_EISDIR);
		rv = rq_mknod(op, w->dir, w->name,
			      S_IFREG | ((uint32_t)mode & 07777), &w->attr);
		if (rv == 0) {
			*created = 1;
			return 0;
		}
		if (rv != CFS_EEXIST || (flags & O_EXCL))
			return rv;
		rv = rq_lookup(op, w->dir, w->name, &w->attr);
		if (rv == CFS_ENOENT && tries < 3)
			continue; /* removed meanwhile: create it again */
		if (rv != 0 || !S_ISLNK(w->attr.mode) || (flags & O_NOFOLLOW))
			return rv; /* the caller judges what is there */
		if (++links > SYMLINKS_MAX)
			return cfs_fail(op->errmsg, CFS_ELOOP,
					"more than %d symlinks", SYMLINKS_MAX);
		if ((rv = rq_readlink(op, w->attr.ino, target)) != 0)
			return rv;
		start = w->dir;
		p = target;
		if ((rv = walk_at(op, start, p, WALK_PARENT, w)) != 0)
			return rv;
	}
}

/* Make room for @need bytes in f->buf (at most WBUF_MAX). */
static int
wbuf_reserve(struct cfs_file *f, size_t need)
{
	size_t cap = f->cap ? f->cap : 64 * 1024;
	uint8_t *p;

	if (need <= f->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > WBUF_MAX)
		cap = WBUF_MAX;
	if ((p = realloc(f->buf, cap)) == NULL)
		return CFS_ENOMEM;
	f->buf = p;
	f->cap = cap;
	return 0;
}

/* The end of the file as this client knows it: the server's size, or
 * further if buffered data of this client extends it. */
static int
known_size(struct op *op, uint64_t ino, uint64_t *size)
{
	struct wire_attr a;
	int rv = rq_getattr(op, ino, &a);
	uint64_t end;

	if (rv != 0)
		return rv;
	end = dirty_end(op->fs, ino);
	*size = end > a.size ? end : a.size;
	return 0;
}

/*
 * A write of @n bytes at @at (-1: the file position, or the end with
 * O_APPEND):
 * 1) fails with an earlier deferred failure of the file, if any;
 * 2) first writes out other files' buffered data of the inode, so
 *    write-outs land in the order the writes came;
 * 3) joins the file's dirty range when it overlaps or touches it and the
 *    range stays within WBUF_MAX; otherwise the range is written out first
 *    (its failure fails this write);
 * 4) a write bigger than WBUF_MAX goes out at once; the range goes out
 *    when full, and after every write with O_SYNC / O_DSYNC.
 */
static ssize_t
do_write(struct cfs_file *f, const void *buf, size_t n, int64_t at)
{
	int append, rv = 0;
	struct cfs *fs;
	uint64_t o;
	struct op op;

	if (f == NULL)
		return fail_now(CFS_EBADF, "write: NULL file");
	fs = f->fs;
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return fail_now(CFS_EBADF, "write to inode %llu: opened "
				"O_RDONLY", (unsigned long long)f->ino);
	if (buf == NULL && n > 0)
		return fail_now(CFS_EINVAL, "write to inode %llu: NULL buffer",
				(unsigned long long)f->ino);
	if (n > SSIZE_MAX)
		return fail_now(CFS_EINVAL, "write to inode %llu: %zu bytes",
				(unsigned long long)f->ino, n);
	if (n == 0)
		return 0;
	append = at < 0 && (f->flags & O_APPEND);
	o = at < 0 ? f->pos : (uint64_t)at;
	op_begin(&op, fs);
	if (append)
		pthread_mutex_lock(&fs->append_lock);
	flush_ino(&op, f->ino, f);
	pthread_mutex_lock(&f->lock);
	if ((rv = take_error(&op, f)) != 0)
		goto out;
	if (append && (rv = known_size(&op, f->ino, &o)) != 0)
		goto out;
	if (o > FILE_MAX || n > FILE_MAX - o) {
		rv = cfs_fail(op.errmsg, CFS_EFBIG, "past %llu bytes",
			      (unsigned long long)FILE_MAX);
		goto out;
	}
	if (f->len > 0 &&
	    (o < f->start || o > f->start + f->len ||
	     o + n - f->start > WBUF_MAX) &&
	    (rv = wb_flush(&op, f)) != 0)
		goto out;
	if (n > WBUF_MAX) {
		pthread_mutex_t *stripe = &fs->flush_locks[f->ino % FLUSH_LOCKS];
		pthread_mutex_lock(stripe);
		rv = fio_pwrite(op.c->fio, f->ino, o, buf, n, 1, op.errmsg);
		pthread_mutex_unlock(stripe);
		ino_changed(fs, f->ino);
		goto out;
	}
	if (f->len == 0)
		f->start = o;
	if ((rv = wbuf_reserve(f, (size_t)(o - f->start) + n)) != 0) {
		cfs_fail(op.errmsg, rv, "write buffer of %zu bytes",
			 (size_t)(o - f->start) + n);
		goto out;
	}
	memcpy(f->buf + (o - f->start), buf, n);
	if (o - f->start + n > f->len)
		f->len = (size_t)(o - f->start) + n;
	publish(fs, f);
	ino_changed(fs, f->ino);
	if (f->len >= WBUF_MAX || (f->flags & (O_SYNC | O_DSYNC)))
		rv = wb_flush(&op, f);
out:
	pthread_mutex_unlock(&f->lock);
	if (append)
		pthread_mutex_unlock(&fs->append_lock);
	if ((rv = op_end(&op, rv, "write of %zu bytes at %llu to inode %llu",
			 n, (unsigned long long)o,
			 (unsigned long long)f->ino)) != 0)
		return rv;
	if (at < 0)
		f->pos = o + n;
	return (ssize_t)n;
}

ssize_t
cfs_write(struct cfs_file *f, const void *buf, size_t n)
{
	return do_write(f, buf, n, -1);
}

ssize_t
cfs_pwrite(struct cfs_file *f, const void *buf, size_t n, off_t off)
{
	if (off < 0)
		return fail_now(CFS_EINVAL, "pwrite at %lld", (long long)off);
	return do_write(f, buf, n, (int64_t)off);
}

/*
 * Read [o, o + n) into @dst (f->lock held); *got < n only at the end:
 * 1) the read window holds it (or holds up to the end of the file);
 * 2) a small sequential read fills a new window (aligned when that still
 *    covers the request, so it is one fragment read) and copies from it;
 * 3) anything else is read straight into @dst.
 * The window is valid while the inode's change count (ino_gen) stays.
 */
static int
read_at(struct op *op, struct cfs_file *f, uint64_t o, uint8_t *dst,
	size_t n, size_t *got)
{
	uint64_t gen = ino_gen(op->fs, f->ino);
	size_t have = 0;
	int rv;

	*got = 0;
	if (f->rvalid && f->rgen == gen && o >= f->rstart &&
	    o < f->rstart + f->rlen &&
	    (o + n <= f->rstart + f->rlen || f->rlen < RWIN)) {
		size_t off = (size_t)(o - f->rstart);
		*got = f->rlen - off < n ? f->rlen - off : n;
		memcpy(dst, f->rbuf + off, *got);
		return 0;
	}
	if (o == f->next_off && n < RWIN) {
		uint64_t ws = o - o % RWIN;
		if (o + n > ws + RWIN)
			ws = o;
		if (f->rbuf == NULL && (f->rbuf = malloc(RWIN)) == NULL)
			return cfs_fail(op->errmsg, CFS_ENOMEM, "read window");
		f->rvalid = 0;
		rv = fio_pread(op->c->fio, f->ino, ws, f->rbuf, RWIN, &have,
			       op->errmsg);
		if (rv != 0)
			return rv;
		f->rstart = ws;
		f->rlen = have;
		f->rgen = gen;
		f->rvalid = 1;
		if (have > o - ws) {
			size_t off = (size_t)(o - ws);
			*got = have - off < n ? have - off : n;
			memcpy(dst, f->rbuf + off, *got);
		}
		return 0;
	}
	return fio_pread(op->c->fio, f->ino, o, dst, n, got, op->errmsg);
}

static ssize_t
do_read(struct cfs_file *f, void *buf, size_t n, int64_t at)
{
	uint64_t o;
	size_t got = 0;
	struct op op;
	int rv;

	if (f == NULL)
		return fail_now(CFS_EBADF, "read: NULL file");
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return fail_now(CFS_EBADF, "read of inode %llu: opened "
				"O_WRONLY", (unsigned long long)f->ino);
	if (buf == NULL && n > 0)
		return fail_now(CFS_EINVAL, "read of inode %llu: NULL buffer",
				(unsigned long long)f->ino);
	if (n > SSIZE_MAX)
		return fail_now(CFS_EINVAL, "read of inode %llu: %zu bytes",
				(unsigned long long)f->ino, n);
	if (n == 0)
		return 0;
	o = at < 0 ? f->pos : (uint64_t)at;
	op_begin(&op, f->fs);
	if (dirty_end(f->fs, f->ino) != 0)
		flush_ino(&op, f->ino, NULL);
	pthread_mutex_lock(&f->lock);
	rv = read_at(&op, f, o, buf, n, &got);
	if (rv == 0)
		f->next_off = o + got;
	pthread_mutex_unlock(&f->lock);
	if ((rv = op_end(&op, rv, "read of %zu bytes at %llu of inode %llu",
			 n, (unsigned long long)o,
			 (unsigned long long)f->ino)) != 0)
		return rv;
	if (at < 0)
		f->pos = o + got;
	return (ssize_t)got;
}

ssize_t
cfs_read(struct cfs_file *f, void *buf, size_t n)
{
	return do_read(f, buf, n, -1);
}

ssize_t
cfs_pread(struct cfs_file *f, void *buf, size_t n, off_t off)
{
	if (off < 0)
		return fail_now(CFS_EINVAL, "pread at %lld", (long long)off);
	return do_read(f, buf, n, (int64_t)off);
}

off_t
cfs_lseek(struct cfs_file *f, off_t off, int whence)
{
	uint64_t base = 0;
	struct op op;
	int rv;

	if (f == NULL)
		return fail_now(CFS_EBADF, "lseek: NULL file");
	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = f->pos;
		break;
	case SEEK_END:
		op_begin(&op, f->fs);
		rv = known_size(&op, f->ino, &base);
		if ((rv = op_end(&op, rv, "lseek in inode %llu",
				 (unsigned long long)f->ino)) != 0)
			return rv;
		break;
	default:
		return fail_now(CFS_EINVAL, "lseek: whence %d", whence);
	}
	if ((off < 0 && (uint64_t)-(off + 1) + 1 > base) ||
	    (off > 0 && (uint64_t)off > FILE_MAX - base) || base > FILE_MAX)
		return fail_now(CFS_EINVAL, "lseek to %llu %+lld",
				(unsigned long long)base, (long long)off);
	f->pos = off < 0 ? base - ((uint64_t)-(off + 1) + 1)
			 : base + (uint64_t)off;
	return (off_t)f->pos;
}

int
cfs_fsync(struct cfs_file *f)
{
	struct op op;
	int rv;

	if (f == NULL)
		return fail_now(CFS_EBADF, "fsync: NULL file");
	op_begin(&op, f->fs);
	pthread_mutex_lock(&f->lock);
	if ((rv = wb_flush(&op, f)) == 0)
		rv = take_error(&op, f);
	else
		f->error = 0; /* told now */
	pthread_mutex_unlock(&f->lock);
	return op_end(&op, rv, "fsync of inode %llu",
		      (unsigned long long)f->ino);
}

int
cfs_ftruncate(struct cfs_file *f, off_t size)
{
	struct op op;
	int rv;

	if (f == NULL)
		return fail_now(CFS_EBADF, "ftruncate: NULL file");
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return fail_now(CFS_EBADF, "ftruncate of inode %llu: opened "
				"O_RDONLY", (unsigned long long)f->ino);
	if (size < 0)
		return fail_now(CFS_EINVAL, "ftruncate of inode %llu to %lld",
				(unsigned long long)f->ino, (long long)size);
	op_begin(&op, f->fs);
	rv = truncate_ino(&op, f->ino, (uint64_t)size);
	return op_end(&op, rv, "ftruncate of inode %llu to %lld",
		      (unsigned long long)f->ino, (long long)size);
}

int
cfs_fstat(struct cfs_file *f, struct stat *st)
{
	struct wire_attr a;
	struct op op;
	int rv;

	if (f == NULL)
		return fail_now(CFS_EBADF, "fstat: NULL file");
	if (st == NULL)
		return fail_now(CFS_EINVAL, "fstat: NULL stat");
	op_begin(&op, f->fs);
	if ((rv = rq_getattr(&op, f->ino, &a)) == 0)
		stat_of(f->fs, &a, st);
	return op_end(&op, rv, "fstat of inode %llu",
		      (unsigned long long)f->ino);
}

/* ---- advisory locks (docs/locks.md) ----------------------------------------- */

_Static_assert(F_RDLCK == CFS_F_RDLCK && F_WRLCK == CFS_F_WRLCK &&
		       F_UNLCK == CFS_F_UNLCK,
	       "lock types travel as Linux's values");

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One lock request on the lock session, opened on first use.  A lock_info
 * reply is copied to *info when not NULL. */
static int
lock_call(struct cfs *fs, uint16_t type, const void *rq,
	  struct wire_lock_info *info, char *errmsg)
{
	uint16_t rt = 0;
	int rv = 0;

	pthread_mutex_lock(&fs->lock_lock);
	if (fs->lock_mc == NULL) {
		struct mc_options mo = {
			.client_name = fs->client_name,
			.deadline_ms = fs->opt.call_timeout_ms,
			.uid = fs->cred.uid,
			.gid = fs->cred.gid,
			.use_cred = 1,
			.zmq_context = fs->zctx,
		};
		if (fs->lock_rep == NULL &&
		    (fs->lock_rep = malloc(sizeof(*fs->lock_rep))) == NULL)
			rv = cfs_fail(errmsg, CFS_ENOMEM, "reply buffer");
		else if ((rv = mc_open(&fs->lock_mc, fs->servers, &mo,
				       errmsg)) != 0)
			cfs_errmsg_prefix(errmsg, "lock session");
	}
	if (rv == 0)
		rv = mc_call(fs->lock_mc, type, rq, &rt, fs->lock_rep,
			     fs->opt.call_timeout_ms, errmsg);
	if (rv == 0) {
		uint16_t expect = type == WIRE_T_lock_get ? WIRE_T_lock_info
							  : WIRE_T_ok;
		if (rt != expect)
			rv = cfs_fail(errmsg, CFS_MALFORMED,
				      "%s answered with %s",
				      wire_type_name(type),
				      wire_type_name(rt) ? wire_type_name(rt)
							 : "?");
		else if (info != NULL)
			*info = fs->lock_rep->lock_info;
	}
	pthread_mutex_unlock(&fs->lock_lock);
	return rv;
}

/* lock_set, retried while it conflicts if @wait: 2 ms doubling to 100 ms,
 * no queue on the server, so no fairness (docs/locks.md). */
static int
lock_set(struct cfs *fs, const struct wire_lock_set *rq, int wait,
	 char *errmsg)
{
	int64_t backoff = LOCK_WAIT_MIN_MS;
	int rv;

	while ((rv = lock_call(fs, WIRE_T_lock_set, rq, NULL, errmsg)) ==
		       CFS_EAGAIN &&
	       wait) {
		sleep_ms(backoff);
		backoff = backoff * 2 > LOCK_WAIT_MAX_MS ? LOCK_WAIT_MAX_MS
							 : backoff * 2;
	}
	return rv;
}

/* Fail a lock call: the thread's message and -errno. */
static int
lock_fail(int rv, const char *errmsg, const char *what, uint64_t ino)
{
	char w[128];

	snprintf(w, sizeof(w), "%s on inode %llu", what,
		 (unsigned long long)ino);
	msg_set(w, errmsg[0] ? errmsg : cfs_strerror(rv));
	return -cfs_errno(rv);
}

/* [start, end] of @fl from the file position or size (l_whence), as
 * fcntl(2): l_len 0 is "to the end of the file, however long", a negative
 * l_len covers the bytes before l_start. */
static int
lock_range_of(struct cfs_file *f, const struct flock *fl, int64_t *start,
	      int64_t *end, char *errmsg)
{
	uint64_t base = 0;
	int rv;

	switch (fl->l_whence) {
	case SEEK_SET:
		break;
	case SEEK_CUR:
		base = f->pos;
		break;
	case SEEK_END: {
		struct op op;
		op_begin(&op, f->fs);
		rv = known_size(&op, f->ino, &base);
		if (rv != 0)
			snprintf(errmsg, CFS_ERRMSG_SIZE, "%s", op.errmsg);
		conn_put(f->fs, op.c);
		if (rv != 0)
			return rv;
		break;
	}
	default:
		return cfs_fail(errmsg, CFS_EINVAL, "l_whence %d",
				fl->l_whence);
	}
	int64_t s = (int64_t)base + (int64_t)fl->l_start;
	int64_t len = (int64_t)fl->l_len;
	if ((fl->l_start > 0 && s < (int64_t)base) || s < 0)
		return cfs_fail(errmsg, CFS_EINVAL, "l_start %lld",
				(long long)fl->l_start);
	if (len == 0) {
		*start = s;
		*end = CFS_LOCK_EOF;
	} else if (len > 0) {
		if (len - 1 > CFS_LOCK_EOF - s)
			return cfs_fail(errmsg, CFS_EINVAL,
					"l_len %lld", (long long)len);
		*start = s;
		*end = s + len - 1;
	} else {
		if (s + len < 0)
			return cfs_fail(errmsg, CFS_EINVAL, "l_len %lld",
					(long long)len);
		*start = s + len;
		*end = s - 1;
	}
	return 0;
}

int
cfs_lock(struct cfs_file *f, int cmd, struct flock *fl)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	int64_t start = 0, end = 0;
	int rv;

	if (f == NULL)
		return fail_now(CFS_EBADF, "lock: NULL file");
	if (fl == NULL || (cmd != F_GETLK && cmd != F_SETLK &&
			   cmd != F_SETLKW))
		return fail_now(CFS_EINVAL, "lock on inode %llu: command %d",
				(unsigned long long)f->ino, cmd);
	if (fl->l_type != F_RDLCK && fl->l_type != F_WRLCK &&
	    (fl->l_type != F_UNLCK || cmd == F_GETLK))
		return fail_now(CFS_EINVAL, "lock on inode %llu: l_type %d",
				(unsigned long long)f->ino, fl->l_type);
	/* as fcntl: a read lock needs the file open for reading, a write
	 * lock for writing */
	int acc = f->flags & O_ACCMODE;
	if (cmd != F_GETLK && ((fl->l_type == F_RDLCK && acc == O_WRONLY) ||
			       (fl->l_type == F_WRLCK && acc == O_RDONLY)))
		return fail_now(CFS_EBADF, "lock on inode %llu: %s lock on a "
				"file opened %s",
				(unsigned long long)f->ino,
				fl->l_type == F_RDLCK ? "read" : "write",
				acc == O_RDONLY ? "O_RDONLY" : "O_WRONLY");
	if ((rv = lock_range_of(f, fl, &start, &end, errmsg)) != 0)
		return lock_fail(rv, errmsg, "lock", f->ino);
	if (cmd == F_GETLK) {
		struct wire_lock_get rq = {
			.ino = f->ino, .owner = LOCK_OWNER_POSIX,
			.kind = CFS_LOCK_POSIX, .type = (uint8_t)fl->l_type,
			.start = start, .end = end};
		struct wire_lock_info info;
		if ((rv = lock_call(f->fs, WIRE_T_lock_get, &rq, &info,
				    errmsg)) != 0)
			return lock_fail(rv, errmsg, "F_GETLK", f->ino);
		fl->l_type = info.type;
		if (info.type != F_UNLCK) {
			fl->l_whence = SEEK_SET;
			fl->l_start = (off_t)info.start;
			fl->l_len = info.end == CFS_LOCK_EOF
					    ? 0
					    : (off_t)(info.end - info.start + 1);
			fl->l_pid = (pid_t)info.pid;
		}
		return 0;
	}
	struct wire_lock_set rq = {
		.ino = f->ino, .owner = LOCK_OWNER_POSIX, .kind = CFS_LOCK_POSIX,
		.type = (uint8_t)fl->l_type, .start = start, .end = end,
		.pid = (uint32_t)getpid()};
	__atomic_store_n(&f->fs->posix_locked, 1, __ATOMIC_RELAXED);
	if ((rv = lock_set(f->fs, &rq, cmd == F_SETLKW, errmsg)) != 0)
		return lock_fail(rv, errmsg,
				 cmd == F_SETLKW ? "F_SETLKW" : "F_SETLK",
				 f->ino);
	return 0;
}

int
cfs_flock(struct cfs_file *f, int op)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	int type, rv;

	if (f == NULL)
		return fail_now(CFS_EBADF, "flock: NULL file");
	switch (op & ~LOCK_NB) {
	case LOCK_SH: type = F_RDLCK; break;
	case LOCK_EX: type = F_WRLCK; break;
	case LOCK_UN: type = F_UNLCK; break;
	default:
		return fail_now(CFS_EINVAL, "flock on inode %llu: operation %d",
				(unsigned long long)f->ino, op);
	}
	pthread_mutex_lock(&f->fs->lock_lock);
	if (f->flock_owner == 0)
		f->flock_owner = f->fs->next_owner++;
	pthread_mutex_unlock(&f->fs->lock_lock);
	struct wire_lock_set rq = {
		.ino = f->ino, .owner = f->flock_owner, .kind = CFS_LOCK_FLOCK,
		.type = (uint8_t)type, .end = CFS_LOCK_EOF,
		.pid = (uint32_t)getpid()};
	if ((rv = lock_set(f->fs, &rq, !(op & LOCK_NB), errmsg)) != 0)
		return lock_fail(rv, errmsg, "flock", f->ino);
	return 0;
}

/* At close: the file's flock lock and, as POSIX says for any close, the
 * struct cfs's POSIX locks on the inode.  Best effort: a failure leaves
 * them to the lock session's end (logged). */
static void
locks_release(struct cfs_file *f)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	struct wire_lock_release rq = {.ino = f->ino};
	int rv;

	if (f->flock_owner != 0) {
		rq.owner = f->flock_owner;
		rq.kind = CFS_LOCK_FLOCK;
		if ((rv = lock_call(f->fs, WIRE_T_lock_release, &rq, NULL,
				    errmsg)) != 0)
			LOG_WARN("close of inode %llu: releasing its flock: "
				 "%s",
				 (unsigned long long)f->ino, errmsg);
	}
	if (__atomic_load_n(&f->fs->posix_locked, __ATOMIC_RELAXED)) {
		rq.owner = LOCK_OWNER_POSIX;
		rq.kind = CFS_LOCK_POSIX;
		if ((rv = lock_call(f->fs, WIRE_T_lock_release, &rq, NULL,
				    errmsg)) != 0)
			LOG_WARN("close of inode %llu: releasing POSIX locks: "
				 "%s",
				 (unsigned long long)f->ino, errmsg);
	}
}

int
cfs_close(struct cfs_file **fp)
{
	struct cfs_file *f = fp ? *fp : NULL;
	uint64_t ino;
	struct op op;
	int rv;

	if (f == NULL)
		return 0;
	ino = f->ino;
	op_begin(&op, f->fs);
	pthread_mutex_lock(&f->lock);
	if ((rv = wb_flush(&op, f)) == 0)
		rv = take_error(&op, f);
	pthread_mutex_unlock(&f->lock);
	locks_release(f);
	file_close(f->fs, f);
	*fp = NULL;
	return op_end(&op, rv, "close of inode %llu",
		      (unsigned long long)ino);
}
