/* fusefs.c - the FUSE low-level operations of cfs-fuse: CFS namespace and data behind a kernel mount; here the session pool, attributes, the operations table, the lease callbacks and the mount's life (the namespace: fusefs_ns.c; files and locks: fusefs_file.c; directories and xattrs: fusefs_dir.c). */
#include "client/fusefs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "client/acreate.h"
#include "client/bcache.h"
#include "client/fileio.h"
#include "client/fusefs_int.h"
#include "client/localread.h"
#include "client/locksess.h"
#include "client/clease.h"
#include "client/dcache.h"
#include "client/metaclient.h"
#include "client/ofile.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/proto.h"

/* Files of more fragments than this report their allocation from the
 * fragment map (a sparse file looks small to du); smaller ones cost no
 * extra call and report their size.  Past BLOCKS_SCAN_MAX map pages the
 * scan is not worth it either. */
#define BLOCKS_SCAN_MIN WIRE_MAX_fraginfo
#define BLOCKS_SCAN_MAX (256ull * WIRE_MAX_fraginfo)

/* The notification that makes the kernel revalidate every cached name of
 * the mount at its next use, taking no lock (FUSE 7.44; libfuse 3.14 has
 * no call for it). */
#define NOTIFY_INC_EPOCH 8

/* ---- session pool --------------------------------------------------------- */

static struct conn *
conn_get(struct fusefs *fs)
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
		pthread_cond_wait(&fs->pool_cond, &fs->pool_lock);
	}
}

static void
conn_put(struct fusefs *fs, struct conn *c)
{
	struct fio_piece ahead[FIO_AHEAD_MAX];
	int n = c->fio != NULL ? fio_ahead(c->fio, ahead) : 0;

	pthread_mutex_lock(&fs->pool_lock);
	memcpy(c->ahead, ahead, sizeof(ahead[0]) * (size_t)n);
	c->nahead = n;
	c->busy = 0;
	/* all: a reader may be waiting for this one (fusefs_conn_for_read) */
	pthread_cond_broadcast(&fs->pool_cond);
	pthread_mutex_unlock(&fs->pool_lock);
}

/* Whether one of @n pieces holds byte @off of @ino. */
static int
holds(const struct fio_piece *p, int n, uint64_t ino, uint64_t off)
{
	for (int i = 0; i < n; i++)
		if (p[i].ino == ino && off >= p[i].off &&
		    off - p[i].off < p[i].len)
			return 1;
	return 0;
}

/*
 * A sequential reader's next pieces are read ahead on the fio of the conn
 * that served its last read (client/fileio.c, prefetch_next); requests
 * are handed to whichever conn is free, so its next read would often
 * come on another one, read the same bytes again there and abandon those
 * (a third of a sequential read's bytes were read twice).  A read of @ino
 * at @off therefore moves to the conn whose fio reads that byte ahead,
 * waiting up to READ_CONN_WAIT_MS for it (another read of the file,
 * answered from its window, is usually what holds it).
 */
#define READ_CONN_WAIT_MS 5

void
fusefs_conn_for_read(struct op *op, uint64_t ino, uint64_t off)
{
	struct fusefs *fs = op->fs;
	struct fio_piece mine[FIO_AHEAD_MAX];
	struct timespec until;

	if (holds(mine, fio_ahead(op->c->fio, mine), ino, off))
		return;
	cfs_deadline_ts(&until, READ_CONN_WAIT_MS);
	pthread_mutex_lock(&fs->pool_lock);
	for (;;) {
		struct conn *c = NULL;
		for (unsigned i = 0; i < fs->nconns && c == NULL; i++)
			if (&fs->conns[i] != op->c &&
			    holds(fs->conns[i].ahead, fs->conns[i].nahead, ino,
				  off))
				c = &fs->conns[i];
		if (c == NULL)
			break; /* nobody reads it ahead (any more) */
		if (!c->busy) {
			c->busy = 1;
			op->c->busy = 0;
			pthread_cond_broadcast(&fs->pool_cond);
			op->c = c;
			break;
		}
		if (pthread_cond_timedwait(&fs->pool_cond, &fs->pool_lock,
					   &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&fs->pool_lock);
}

/* What any fio of the mount kept of @ino's locations (fileio.h, kept by
 * reads under a lease) may be stale: forget it in every one of them, the
 * recaller's too.  Any thread; the pool is fixed once connected. */
void
fusefs_forget_locations(struct fusefs *fs, uint64_t ino)
{
	for (unsigned i = 0; i < fs->nconns; i++)
		if (fs->conns[i].fio != NULL)
			fio_forget(fs->conns[i].fio, ino);
	if (fs->rconn.fio != NULL)
		fio_forget(fs->rconn.fio, ino);
}

/* @ino's data changed other than by a write-out of this mount (a
 * truncation, a recall): the read windows, every fio's kept locations and
 * the cached attributes are stale. */
void
fusefs_data_changed(struct fusefs *fs, uint64_t ino)
{
	ofile_changed(fs->files, ino);
	fusefs_forget_locations(fs, ino);
	dcache_changed(fs->names, ino);
}

/* ofile's hook after a write-out of @ino through any one fio: other fios'
 * kept locations and the attributes cached are stale (size, mtime). */
static void
written_out(void *arg, uint64_t ino)
{
	struct fusefs *fs = arg;

	/* (before the buffered range or the entry goes: fusefs_gen) */
	__atomic_add_fetch(&fs->outs_all, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&fs->outs[ino % 64], 1, __ATOMIC_SEQ_CST);

	fusefs_forget_locations(fs, ino);
	dcache_changed(fs->names, ino);
}

/* ofile's question: the write lease @ino's data is written under now. */
static uint64_t
write_lease_epoch(void *arg, uint64_t ino)
{
	struct fusefs *fs = arg;

	return fs->leases != NULL ? clease_write_epoch(fs->leases, ino) : 0;
}

/* The caller's credentials.  Root passes every check of the metadata
 * server, so its groups are not read (that costs a /proc read). */
static void
cred_of(fuse_req_t req, struct wire_cred *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[CFS_GROUPS_MAX];
	int n;

	memset(c, 0, sizeof(*c));
	c->uid = (uint32_t)ctx->uid;
	c->gid = (uint32_t)ctx->gid;
	if (ctx->uid == 0)
		return;
	n = fuse_req_getgroups(req, CFS_GROUPS_MAX, groups);
	if (n > CFS_GROUPS_MAX)
		n = CFS_GROUPS_MAX; /* the protocol carries no more */
	for (int i = 0; i < n; i++)
		c->groups[c->groups_count++] = (uint64_t)groups[i];
}

void
fusefs_op_begin(struct op *op, fuse_req_t req, const char *what)
{
	op->fs = fuse_req_userdata(req);
	op->req = req;
	op->what = what;
	op->errmsg[0] = '\0';
	cred_of(req, &op->cred);
	op->c = conn_get(op->fs);
}

void
fusefs_op_end(struct op *op)
{
	conn_put(op->fs, op->c);
	op->c = NULL;
}

/* ---- creates answered ahead (client/acreate.h) -------------------------------- */

static int send_inc_epoch(struct fusefs *fs);

static __thread int ungated;

void
fusefs_ungate(int on)
{
	ungated = on;
}

/* mc_options.before_call of the mount's sessions */
static void
gate(void *arg)
{
	struct fusefs *fs = arg;

	if (!ungated)
		acreate_wait(__atomic_load_n(&fs->ac, __ATOMIC_ACQUIRE));
}

void
fusefs_creates_wait(struct fusefs *fs)
{
	acreate_wait(__atomic_load_n(&fs->ac, __ATOMIC_ACQUIRE));
}

/*
 * acreate_ops.done: the mknod of a create answered ahead ended.  Committed:
 * the name and attributes go to the name cache under the file's new write
 * lease (before the create stops counting as pending, so lookups find it
 * in one or the other), as a create that waited puts them.  Failed (the
 * mount lost the directory's lease, or its reservation, while stopped
 * past its session; acreate logged it): the name is not there, and what
 * this mount and the kernel cache of the directory goes.
 */
static void
ahead_done(void *data, struct mc *mc, const struct acreate_req *r, int rv,
	   const struct wire_entry *e, const char *errmsg)
{
	struct fusefs *fs = data;

	(void)errmsg;
	if (rv == 0 && e->lease != 0) {
		clease_granted(fs->leases, mc, e->attr.ino, e->lease,
			       e->lease_epoch, r->mark);
		/* after the grant (which forgets what was cached of the
		 * inode): every change of this mount to it waits for this */
		uint64_t at = dcache_stamp(fs->names);
		dcache_put(fs->names, at, r->parent, r->name, &e->attr);
		dcache_attr_put(fs->names, at, &e->attr);
		return;
	}
	dcache_dir_incomplete(fs->names, r->parent);
	if (rv == 0)
		return;
	dcache_changed(fs->names, r->parent);
	if (fs->se != NULL) {
		/* attributes only: takes no lock a request may hold */
		fuse_lowlevel_notify_inval_inode(fs->se, r->parent, -1, 0);
		pthread_mutex_lock(&fs->epoch_lock);
		if (fs->epoch_ok == 1)
			send_inc_epoch(fs);
		pthread_mutex_unlock(&fs->epoch_lock);
	}
}

/* acreate_ops.closing: the sender's session is closed at the unmount,
 * while the lease table's recaller still runs (fusefs_close stops it
 * later): it must no longer look at that session. */
static void
ahead_closing(void *data, struct mc *mc)
{
	struct fusefs *fs = data;

	clease_session_closing(fs->leases, mc);
}

static const struct acreate_ops ahead_ops = {.done = ahead_done,
					     .closing = ahead_closing};

/* Send request @type (its cred already filled) and expect @expect back in
 * op->c->rep. */
int
fusefs_call(struct op *op, uint16_t type, const void *rq, uint16_t expect)
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

/* POSIX results an application expects to meet; anything else (EIO, a
 * timeout, no leader, a protocol error) is worth a log line. */
int
fusefs_ordinary(int code)
{
	switch (code) {
	case CFS_EPERM: case CFS_ENOENT: case CFS_EACCES: case CFS_EEXIST:
	case CFS_EXDEV: case CFS_ENOTDIR: case CFS_EISDIR: case CFS_EINVAL:
	case CFS_EFBIG: case CFS_ENOSPC: case CFS_EROFS: case CFS_EMLINK:
	case CFS_ENAMETOOLONG: case CFS_ENOTEMPTY: case CFS_ELOOP:
	case CFS_ENODATA: case CFS_ERANGE: case CFS_E2BIG: case CFS_ENOTSUP:
	case CFS_EBUSY:
		return 1;
	default:
		return 0;
	}
}

void
fusefs_reply_fail(struct op *op, int code, const char *fmt, ...)
{
	char about[CFS_ERRMSG_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(about, sizeof(about), fmt, ap);
	va_end(ap);
	if (!fusefs_ordinary(code))
		LOG_WARN("%s %s: %s", op->what, about,
			 op->errmsg[0] ? op->errmsg : cfs_strerror(code));
	else
		LOG_DEBUG("%s %s: %s", op->what, about,
			  op->errmsg[0] ? op->errmsg : cfs_strerror(code));
	fuse_reply_err(op->req, cfs_errno(code));
}

/* ---- attributes ---------------------------------------------------------------- */

static uint64_t
fragment_size(struct op *op, uint64_t ino)
{
	struct fusefs *fs = op->fs;
	uint64_t fsz;
	char errmsg[CFS_ERRMSG_SIZE];

	pthread_mutex_lock(&fs->cache_lock);
	fsz = fs->fsz;
	pthread_mutex_unlock(&fs->cache_lock);
	if (fsz != 0)
		return fsz;
	if (fio_fragment_size(op->c->fio, ino, &fsz, errmsg) != 0) {
		LOG_DEBUG("fragment size (inode %llu): %s",
			  (unsigned long long)ino, errmsg);
		return 0;
	}
	pthread_mutex_lock(&fs->cache_lock);
	fs->fsz = fsz;
	pthread_mutex_unlock(&fs->cache_lock);
	return fsz;
}

/*
 * st_blocks of a regular file:
 * 1) up to BLOCKS_SCAN_MIN fragments: its size (no extra call);
 * 2) a cached answer for the same size and mtime;
 * 3) if @may_ask, the sum of its committed fragments' lengths from the
 *    fragment map, so a sparse file is small to du;
 * 4) otherwise its size.
 */
static uint64_t
blocks_of(struct op *op, const struct wire_attr *a, int may_ask)
{
	struct fusefs *fs = op->fs;
	uint64_t by_size = (a->size + 511) / 512, fsz, nfrags, bytes = 0;
	struct blocks_entry *be = &fs->blocks[a->ino % BLOCKS_CACHE];
	int hit;

	if (!S_ISREG(a->mode) || a->size == 0)
		return by_size;
	pthread_mutex_lock(&fs->cache_lock);
	fsz = fs->fsz;
	hit = be->ino == a->ino && be->size == a->size &&
	      be->mtime_ns == a->mtime_ns;
	uint64_t cached = be->blocks;
	pthread_mutex_unlock(&fs->cache_lock);
	if (hit)
		return cached;
	if (fsz == 0 && may_ask)
		fsz = fragment_size(op, a->ino);
	if (fsz == 0)
		return by_size;
	nfrags = (a->size + fsz - 1) / fsz;
	if (nfrags <= BLOCKS_SCAN_MIN || nfrags > BLOCKS_SCAN_MAX || !may_ask)
		return by_size;
	for (uint64_t first = 0; first < nfrags; first += WIRE_MAX_fraginfo) {
		struct wire_frag_locate rq = {.cred = op->cred, .ino = a->ino,
					      .first = first,
					      .count = WIRE_MAX_fraginfo};
		char errmsg[CFS_ERRMSG_SIZE];
		uint16_t rt = 0;
		if (mc_call(op->c->mc, WIRE_T_frag_locate, &rq, &rt,
			    op->c->rep, op->fs->opt.call_timeout_ms,
			    errmsg) != 0 ||
		    rt != WIRE_T_frag_map)
			return by_size;
		const struct wire_frag_map *m = &op->c->rep->frag_map;
		for (uint32_t i = 0; i < m->frags_count; i++)
			bytes += m->frags[i].length;
	}
	pthread_mutex_lock(&fs->cache_lock);
	be->ino = a->ino;
	be->size = a->size;
	be->mtime_ns = a->mtime_ns;
	be->blocks = (bytes + 511) / 512;
	pthread_mutex_unlock(&fs->cache_lock);
	return (bytes + 511) / 512;
}

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

int
fusefs_call_attr(struct op *op, uint16_t type, const void *rq,
		 struct wire_attr *a)
{
	for (int tries = 0;; tries++) {
		uint64_t g1 = fusefs_gen(op->fs, 0), size;
		int rv = fusefs_call(op, type, rq, WIRE_T_entry);
		if (rv != 0)
			return rv;
		*a = op->c->rep->entry.attr;
		/* versions open under a lease the mount lost: sealed (or
		 * found sealed) and forgotten, then asked again */
		if ((a->mode & S_IFMT) == S_IFREG && tries < 3 &&
		    fio_seal_lapsed(op->c->fio, a->ino) > 0)
			continue;
		size = (a->mode & S_IFMT) == S_IFREG
			       ? fusefs_size(op->fs, a->ino, a->size)
			       : a->size;
		/* No write-out and no seal meanwhile: every buffered range
		 * and open entry there when the server answered is still
		 * there, as long or longer; one that went before was
		 * committed before, and the server counted it.  One that went
		 * meanwhile may be in neither (a stat's answer one append
		 * short, which the kernel kept): ask again. */
		if (fusefs_gen(op->fs, 0) == g1 || tries == 3) {
			a->size = size;
			return 0;
		}
	}
}

int
fusefs_size_settled(struct fusefs *fs, struct wire_attr *a, uint64_t gen_ino,
		    uint64_t gen)
{
	if ((a->mode & S_IFMT) != S_IFREG)
		return 1;
	uint64_t size = fusefs_size(fs, a->ino, a->size);
	if (fusefs_gen(fs, gen_ino) != gen)
		return 0;
	a->size = size;
	return 1;
}

uint64_t
fusefs_gen(struct fusefs *fs, uint64_t ino)
{
	uint64_t outs = ino == 0 ? __atomic_load_n(&fs->outs_all,
						   __ATOMIC_SEQ_CST)
				 : __atomic_load_n(&fs->outs[ino % 64],
						   __ATOMIC_SEQ_CST);

	return outs + fio_opens_gen(fs->opens, ino);
}

uint64_t
fusefs_size(struct fusefs *fs, uint64_t ino, uint64_t server)
{
	uint64_t dirty = ofile_dirty_end(fs->files, ino);
	uint64_t open = fio_opens_end(fs->opens, ino);
	uint64_t end = dirty > open ? dirty : open;

	return end > server ? end : server;
}

/* struct stat of @ap (copied first: it may live in the reply scratch that
 * blocks_of reuses), with the size grown by dirty data and by appends
 * patched in place and not yet sealed (fusefs_size). */
static void
stat_of(struct op *op, const struct wire_attr *ap, struct stat *st,
	int may_ask)
{
	struct wire_attr a = *ap;
	uint64_t end = S_ISREG(a.mode) ? fusefs_size(op->fs, a.ino, 0) : 0;

	memset(st, 0, sizeof(*st));
	st->st_ino = (ino_t)a.ino;
	st->st_mode = (mode_t)a.mode;
	st->st_nlink = (nlink_t)a.nlink;
	st->st_uid = (uid_t)a.uid;
	st->st_gid = (gid_t)a.gid;
	st->st_rdev = (dev_t)a.rdev;
	st->st_size = (off_t)(end > a.size ? end : a.size);
	st->st_blksize = FUSEFS_IO_MAX;
	st->st_blocks = (blkcnt_t)blocks_of(op, &a, may_ask);
	st->st_atim = ts_of(a.atime_ns);
	st->st_mtim = ts_of(a.mtime_ns);
	st->st_ctim = ts_of(a.ctime_ns);
}

/* How long the kernel may keep @ino's attributes: while this mount holds
 * a lease on it, never longer (docs/leases.md); else not at all. */
static double
attr_timeout(struct fusefs *fs, uint64_t ino)
{
	int64_t ms = fs->leases ? clease_valid(fs->leases, ino, CFS_LEASE_READ)
				: 0;
	return (double)ms / 1000.0;
}

/* Have the kernel revalidate every name it caches (0, or -errno). */
static int
send_inc_epoch(struct fusefs *fs)
{
	/* struct fuse_out_header of <linux/fuse.h> */
	struct {
		uint32_t len;
		int32_t error; /* a notification: its code */
		uint64_t unique; /* 0: a notification */
	} h = {.len = sizeof(h), .error = NOTIFY_INC_EPOCH};
	if (fs->se == NULL)
		return -ENOTCONN;
	return write(fuse_session_fd(fs->se), &h, sizeof(h)) ==
			       (ssize_t)sizeof(h)
		       ? 0
		       : -errno;
}

/* May the kernel cache names?  Only if a recall can make it forget them
 * all at once (asked once, at the first name answered). */
int
fusefs_names_cacheable(struct fusefs *fs)
{
	pthread_mutex_lock(&fs->epoch_lock);
	if (fs->epoch_ok == 0 && fs->leases != NULL && fs->se != NULL) {
		int rv = send_inc_epoch(fs);
		fs->epoch_ok = rv == 0 ? 1 : -1;
		if (rv != 0)
			LOG_INFO("the kernel does not take FUSE_NOTIFY_INC_EPOCH "
				 "(%s): names are not cached",
				 strerror(-rv));
	}
	int ok = fs->epoch_ok == 1;
	pthread_mutex_unlock(&fs->epoch_lock);
	return ok;
}

void
fusefs_entry_of(struct op *op, const struct wire_attr *a,
		struct fuse_entry_param *e, int may_ask)
{
	memset(e, 0, sizeof(*e));
	e->ino = a->ino;
	e->generation = a->generation;
	e->attr_timeout = attr_timeout(op->fs, a->ino);
	/* A name may point elsewhere only after an unlink, rmdir or rename
	 * that involves the inode it names, which recalls every lease on that
	 * inode, and a recall has the kernel revalidate every name
	 * (lease_invalidate).  So the name is kept as long as the inode's
	 * lease; names of absent files are never kept. */
	e->entry_timeout = fusefs_names_cacheable(op->fs) ? e->attr_timeout : 0;
	stat_of(op, a, &e->attr, may_ask);
}

void
fusefs_reply_entry(struct op *op, const struct wire_attr *a)
{
	struct fuse_entry_param e;

	fusefs_entry_of(op, a, &e, 1);
	fuse_reply_entry(op->req, &e);
}

void
fusefs_reply_attr(struct op *op, const struct wire_attr *a)
{
	struct stat st;

	stat_of(op, a, &st, 1);
	fuse_reply_attr(op->req, &st, attr_timeout(op->fs, a->ino));
}

/* ---- lifecycle -------------------------------------------------------------------- */

/* The session is going: normally fusefs_stop_waits ran already (main,
 * before the unmount); this covers every other way out. */
static void
fs_destroy(void *userdata)
{
	fusefs_lockwait_stop(userdata);
}

static void
fs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Big requests: the write-back buffer and the fragments are large
	 * anyway, and every request is a round trip through the kernel. */
	conn->max_write = FUSEFS_IO_MAX;
	conn->max_readahead = FUSEFS_IO_MAX;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* The kernel's write-back cache would decide sizes and mtimes
	 * itself; our handles keep their own dirty ranges instead. */
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	/* Locks are the cluster's (docs/locks.md), not the kernel's: without
	 * these the kernel would keep flock and fcntl locks local to this
	 * machine. */
	if (conn->capable & FUSE_CAP_POSIX_LOCKS)
		conn->want |= FUSE_CAP_POSIX_LOCKS;
	if (conn->capable & FUSE_CAP_FLOCK_LOCKS)
		conn->want |= FUSE_CAP_FLOCK_LOCKS;
}

static void
fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	/* Nothing is kept per inode between requests. */
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

static void
fs_forget_multi(fuse_req_t req, size_t count,
		struct fuse_forget_data *forgets)
{
	(void)count;
	(void)forgets;
	fuse_reply_none(req);
}

const struct fuse_lowlevel_ops fusefs_ops = {
	.init = fs_init,
	.destroy = fs_destroy,
	.lookup = fusefs_ll_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fusefs_ll_getattr,
	.setattr = fusefs_ll_setattr,
	.readlink = fusefs_ll_readlink,
	.mknod = fusefs_ll_mknod,
	.mkdir = fusefs_ll_mkdir,
	.unlink = fusefs_ll_unlink,
	.rmdir = fusefs_ll_rmdir,
	.symlink = fusefs_ll_symlink,
	.rename = fusefs_ll_rename,
	.link = fusefs_ll_link,
	.open = fusefs_ll_open,
	.read = fusefs_ll_read,
	.write = fusefs_ll_write,
	.flush = fusefs_ll_flush,
	.release = fusefs_ll_release,
	.fsync = fusefs_ll_fsync,
	.opendir = fusefs_ll_opendir,
	.readdir = fusefs_ll_readdir,
	.readdirplus = fusefs_ll_readdirplus,
	.releasedir = fusefs_ll_releasedir,
	.fsyncdir = fusefs_ll_fsyncdir,
	.statfs = fusefs_ll_statfs,
	.setxattr = fusefs_ll_setxattr,
	.getxattr = fusefs_ll_getxattr,
	.listxattr = fusefs_ll_listxattr,
	.removexattr = fusefs_ll_removexattr,
	.create = fusefs_ll_create,
	.fallocate = fusefs_ll_fallocate,
	.getlk = fusefs_ll_getlk,
	.setlk = fusefs_ll_setlk,
	.flock = fusefs_ll_flock,
};

/* ---- open / close ------------------------------------------------------------------ */

static int lease_still_held(void *arg, uint64_t ino, uint64_t epoch);
static int recalled_lately(void *arg, uint64_t ino);

int
fusefs_new(struct fusefs **out, const struct fusefs_options *opt,
	   char *errmsg)
{
	struct fusefs *fs = calloc(1, sizeof(*fs));
	struct ofile_options files_opt = {
		.wbuf_max = FUSEFS_WBUF_MAX,
		.window = FUSEFS_WINDOW,
		.window_max_read = FUSEFS_IO_MAX, /* replies borrow the window */
		.window_at_zero = 0, /* the kernel reads ahead already */
		.file_max = 0,       /* the kernel's limit */
		.log_writeouts = 1,  /* errors reach the kernel as errno only */
		.written = written_out, /* other fio's kept locations */
		.written_arg = fs,
		.lease_epoch = write_lease_epoch, /* fencing */
		.lease_arg = fs,
	};

	*out = NULL;
	if (fs == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "cfs-fuse state");
	fs->opt = *opt;
	if (fs->opt.sessions == 0)
		fs->opt.sessions = 1;
	if (fs->opt.sessions > FUSEFS_SESSIONS_MAX)
		fs->opt.sessions = FUSEFS_SESSIONS_MAX;
	if (fs->opt.open_timeout_ms <= 0)
		fs->opt.open_timeout_ms = 10000;
	if (fs->opt.call_timeout_ms <= 0)
		fs->opt.call_timeout_ms = 60000;
	pthread_mutex_init(&fs->pool_lock, NULL);
	cfs_cond_init_monotonic(&fs->pool_cond); /* fusefs_conn_for_read */
	pthread_mutex_init(&fs->cache_lock, NULL);
	pthread_mutex_init(&fs->epoch_lock, NULL);
	/* a recall waiting for it goes before creates that come later */
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(
		&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fs->ahead_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	fusefs_lockwait_init(fs);
	fs->meta = strdup(opt->meta ? opt->meta : "");
	fs->opt.meta = fs->meta;
	fs->conns = calloc(fs->opt.sessions, sizeof(*fs->conns));
	if (fs->meta == NULL || fs->conns == NULL ||
	    dcache_new(&fs->names,
		       fs->opt.no_leases ? 0 : fs->opt.name_cache) != 0 ||
	    bcache_new(&fs->data, fs->opt.data_cache) != 0 ||
	    fio_opens_new(&fs->opens, errmsg) != 0 ||
	    ofile_table_new(&fs->files, &files_opt) != 0) {
		fusefs_close(&fs);
		return cfs_fail(errmsg, CFS_ENOMEM, "cfs-fuse state");
	}
	fio_opens_set_lease_check(fs->opens, lease_still_held, fs);
	/* a seal is a write-out for what the mount keeps of the file */
	fio_opens_set_sealed(fs->opens, written_out, fs);
	fio_opens_set_contended(fs->opens, recalled_lately, fs);
	*out = fs;
	return 0;
}

/* ---- leases: the recaller's callbacks (client/clease.h) -------------------- */

/* fio_opens' contention check: a lease on @ino was recalled from this
 * mount in the last 2 s (another mount's access; clease.h). */
static int
recalled_lately(void *arg, uint64_t ino)
{
	struct fusefs *fs = arg;

	return fs->leases != NULL && clease_recalled_lately(fs->leases, ino);
}

/* fio_opens' lease check: a patch in place goes out only under the write
 * lease it was opened under, while the mount may still use it. */
static int
lease_still_held(void *arg, uint64_t ino, uint64_t epoch)
{
	struct fusefs *fs = arg;

	return fs->leases == NULL || clease_write_epoch(fs->leases, ino) == epoch;
}

static int
lease_flush(void *data, uint64_t ino)
{
	struct fusefs *fs = data;

	/* the lease is marked recalled: a create answered under it is
	 * queued by now, and the release waits for it (fusefs_int.h) */
	pthread_rwlock_wrlock(&fs->ahead_lock);
	pthread_rwlock_unlock(&fs->ahead_lock);

	/* the recaller's own session pair: the pool may be all taken by
	 * requests waiting for other mounts' recalls */
	ofile_flush_ino_all(fs->files, ino, fs->rconn.fio);
	/* the lease goes: what this mount patched in place is sealed, so
	 * that the next holder reads it (docs/data-path.md) */
	return fio_seal_ino(fs->rconn.fio, ino, NULL);
}

static void
lease_invalidate(void *data, uint64_t ino)
{
	struct fusefs *fs = data;

	fusefs_data_changed(fs, ino);
	dcache_dir_incomplete(fs->names, ino);
	fusefs_xneg_forget(fs, ino);
	if (fs->se != NULL) {
		int rv = fuse_lowlevel_notify_inval_inode(fs->se, ino, 0, 0);
		if (rv != 0 && rv != -ENOENT)
			LOG_DEBUG("invalidating inode %llu: %s",
				  (unsigned long long)ino, strerror(-rv));
		/* names pointing to it: every name (fusefs_entry_of) */
		if (fs->epoch_ok == 1 && (rv = send_inc_epoch(fs)) != 0)
			LOG_WARN("revalidating names: %s", strerror(-rv));
	}
}

static struct mc *
lease_borrow(void *data)
{
	return ((struct fusefs *)data)->rconn.mc;
}

/* A lease again after a time without: what was cached of the inode then
 * was not protected by one, the read windows of its open files included
 * (a read without a lease fills one that the next read, under the new
 * lease, would otherwise serve).  Lock order: clease's, then the file
 * table's (nothing calls into clease holding the table lock). */
static void
lease_granted(void *data, uint64_t ino)
{
	struct fusefs *fs = data;

	dcache_changed(fs->names, ino);
	dcache_dir_incomplete(fs->names, ino);
	ofile_changed(fs->files, ino);
}

static const struct clease_ops lease_ops = {
	.flush = lease_flush,
	.invalidate = lease_invalidate,
	.granted = lease_granted,
	.borrow = lease_borrow,
};

void
fusefs_set_session(struct fusefs *fs, struct fuse_session *se)
{
	fs->se = se;
}

void
fusefs_stop_creates(struct fusefs *fs)
{
	acreate_stop(fs->ac, fs->opt.call_timeout_ms);
}

void
fusefs_stop_waits(struct fusefs *fs)
{
	fusefs_lockwait_stop(fs);
}

int
fusefs_connect(struct fusefs *fs, char *errmsg)
{
	int rv;

	if ((fs->zctx = zmq_ctx_new()) == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "ZeroMQ context");
	if (!fs->opt.no_local_reads &&
	    (rv = lread_new(&fs->local, fs->zctx, errmsg)) != 0)
		return rv;
	/* A first session with the short deadline tells quickly whether the
	 * cluster is there; the pool's sessions then take the per-request
	 * deadline, which fio's data calls use too.  (The probe has its own
	 * ZeroMQ context: an mc opened in a shared context right after
	 * another was closed may reuse its address, and so the name of its
	 * monitor endpoint, before that is unbound.) */
	struct mc_options mo = {.client_name = "cfs-fuse",
				.deadline_ms = fs->opt.open_timeout_ms};
	struct mc *probe = NULL;
	if ((rv = mc_open(&probe, fs->meta, &mo, errmsg)) != 0)
		return rv;
	mc_close(&probe);
	mo.deadline_ms = fs->opt.call_timeout_ms;
	mo.zmq_context = fs->zctx;
	mo.before_call = gate;
	mo.before_call_arg = fs;
	for (unsigned i = 0; i < fs->opt.sessions; i++) {
		struct conn *c = &fs->conns[i];
		fs->nconns = i + 1;
		if ((rv = mc_open(&c->mc, fs->meta, &mo, errmsg)) != 0 ||
		    (rv = fio_open(&c->fio, c->mc, fs->zctx, errmsg)) != 0)
			return rv;
		fio_set_cache(c->fio, fs->data);
		fio_set_local(c->fio, fs->local);
		fio_set_opens(c->fio, fs->opens);
		if ((c->rep = malloc(sizeof(*c->rep))) == NULL)
			return cfs_fail(errmsg, CFS_ENOMEM, "reply buffer");
		/* every session of the mount holds leases for it: the
		 * first one's id names the mount (docs/leases.md) */
		mo.lease_owner = mc_lease_owner(fs->conns[0].mc);
	}
	if (!fs->opt.no_leases) {
		mo.client_name = "cfs-fuse leases";
		if ((rv = mc_open(&fs->rconn.mc, fs->meta, &mo, errmsg)) !=
			    0 ||
		    (rv = fio_open(&fs->rconn.fio, fs->rconn.mc, fs->zctx,
				   errmsg)) != 0)
			return rv;
		fio_set_cache(fs->rconn.fio, fs->data);
		fio_set_local(fs->rconn.fio, fs->local);
		fio_set_opens(fs->rconn.fio, fs->opens);
		struct clease_options lo = {
			.servers = fs->meta,
			.zmq_context = fs->zctx,
			.owner = mo.lease_owner,
			.max_leases = fs->opt.max_leases,
			.deadline_ms = fs->opt.call_timeout_ms,
		};
		if ((rv = clease_start(&fs->leases, &lo, &lease_ops, fs,
				       errmsg)) != 0)
			return rv;
	}
	if (fs->leases != NULL && fs->opt.creates_ahead > 0) {
		struct acreate_options ao = {
			.servers = fs->meta,
			.zmq_context = fs->zctx,
			.owner = mo.lease_owner,
			.queue_max = fs->opt.creates_ahead,
			.deadline_ms = fs->opt.call_timeout_ms,
		};
		struct acreate *ac = NULL;
		if ((rv = acreate_start(&ac, &ao, &ahead_ops, fs, errmsg)) != 0)
			return rv;
		__atomic_store_n(&fs->ac, ac, __ATOMIC_RELEASE);
	}
	/* the lock session: the mount's own, opened at the first lock */
	mo.client_name = "cfs-fuse locks";
	if (locksess_new(&fs->locks, fs->meta, &mo, fs->opt.call_timeout_ms) !=
	    0)
		return cfs_fail(errmsg, CFS_ENOMEM, "lock session");
	return 0;
}

/* ofile_hidden_fn at shutdown: remove a hidden entry still there (@arg is
 * an op on a session still open). */
static void
remove_hidden(void *arg, const struct ofile_hidden *h)
{
	struct op *op = arg;

	if (fusefs_unlink_call(op, h->parent, h->name, &h->cred) != 0)
		LOG_WARN("removing '%s' in directory %llu: %s", h->name,
			 (unsigned long long)h->parent, op->errmsg);
}

static void *
conn_close_main(void *arg)
{
	struct conn *c = arg;

	fio_close(&c->fio);
	mc_close(&c->mc);
	return NULL;
}

/* Close the sessions at once, not in turn: each says goodbye to the
 * leader, which takes up to 0.3 s when no server answers (an unmount
 * after the cluster stopped). */
static void
conns_close(struct conn **cs, unsigned n)
{
	pthread_t th[FUSEFS_SESSIONS_MAX + 1];
	int started[FUSEFS_SESSIONS_MAX + 1] = {0};

	for (unsigned i = 0; i < n; i++) {
		started[i] = pthread_create(&th[i], NULL, conn_close_main,
					    cs[i]) == 0;
		if (!started[i])
			conn_close_main(cs[i]);
	}
	for (unsigned i = 0; i < n; i++)
		if (started[i])
			pthread_join(th[i], NULL);
}

void
fusefs_close(struct fusefs **fsp)
{
	struct fusefs *fs = *fsp;

	if (fs == NULL)
		return;
	/* Creates answered ahead go out first (normally gone already:
	 * fusefs_stop_creates): their commits record leases and names (the
	 * same deadline as any request; what is left then is lost, and
	 * logged).  Freed last: the recaller may still pass the gate. */
	acreate_stop(fs->ac, fs->opt.call_timeout_ms);
	/* The recaller flushes through the table: stopped before the table
	 * is flushed and freed (no other call may run then).  What is
	 * buffered goes out naming the lease it was written under, which the
	 * leader keeps until the sessions close, below. */
	clease_stop(&fs->leases);
	/* Write out what handles still hold when the loop ended without
	 * their release (a signal, or an unmount while files were open), and
	 * remove the hidden entries of those files, while the first session
	 * is still open. */
	if (fs->files != NULL && fs->nconns > 0 && fs->conns[0].fio != NULL) {
		struct op op = {.fs = fs, .c = &fs->conns[0],
				.what = "shutdown"};
		ofile_flush_all(fs->files, op.c->fio);
		/* versions open for patching in place: sealed now rather
		 * than by the leader once the sessions' leases end.  Within
		 * a short deadline, not --timeout: with no server answering
		 * (the cluster stopped first) the leader seals them anyway,
		 * and the unmount need not hang for a minute. */
		int was = mc_set_deadline(op.c->mc, FUSEFS_EXIT_SEAL_MS);
		if (was < FUSEFS_EXIT_SEAL_MS)
			mc_set_deadline(op.c->mc, was);
		fio_seal_ino(op.c->fio, 0, NULL);
		mc_set_deadline(op.c->mc, was);
		ofile_table_free(&fs->files, remove_hidden, &op);
	}
	ofile_table_free(&fs->files, NULL, NULL);
	struct conn *cs[FUSEFS_SESSIONS_MAX + 1];
	unsigned ncs = 0;
	cs[ncs++] = &fs->rconn;
	for (unsigned i = 0; i < fs->nconns && ncs < FUSEFS_SESSIONS_MAX + 1;
	     i++)
		cs[ncs++] = &fs->conns[i];
	conns_close(cs, ncs);
	for (unsigned i = 0; i < fs->nconns; i++)
		free(fs->conns[i].rep);
	free(fs->conns);
	if (fs->names != NULL) {
		struct dcache_stats st;
		dcache_stats(fs->names, &st);
		LOG_INFO("name cache: %llu lookups answered here (%llu of "
			 "them absent names), %llu asked (%u entries at most); "
			 "%llu getattrs answered here",
			 (unsigned long long)(st.hits + st.absent),
			 (unsigned long long)st.absent,
			 (unsigned long long)(st.misses - st.absent), st.slots,
			 (unsigned long long)st.attr_hits);
	}
	dcache_free(&fs->names);
	if (fs->data != NULL) {
		struct bcache_stats st;
		bcache_stats(fs->data, &st);
		LOG_INFO("data cache: %llu block reads answered here, %llu "
			 "from the nodes; %llu blocks kept (%llu MiB at most)",
			 (unsigned long long)st.hits,
			 (unsigned long long)st.misses,
			 (unsigned long long)st.puts,
			 (unsigned long long)(st.slots * BCACHE_BLOCK >> 20));
	}
	bcache_free(&fs->data);
	if (fs->local != NULL) {
		uint64_t reads, failed;
		unsigned nodes;
		lread_stats(fs->local, &reads, &failed, &nodes);
		LOG_INFO("local reads: %llu pieces read from the disks of "
			 "data nodes on this machine (%u node(s) local at the "
			 "end), %llu read through the node after a failed "
			 "local read",
			 (unsigned long long)reads, nodes,
			 (unsigned long long)failed);
	}
	lread_free(&fs->local); /* (its questions use the ZeroMQ context) */
	if (fs->opens != NULL) {
		struct fio_opens_stats st;
		fio_opens_stats(fs->opens, &st);
		LOG_INFO("versions opened ahead: %llu by commits, %llu used "
			 "by the next write, %llu of those found stale",
			 (unsigned long long)st.kept,
			 (unsigned long long)st.used,
			 (unsigned long long)st.stale);
		LOG_INFO("patching in place: %llu versions opened, %llu "
			 "patches (%llu appends), %llu seals (%llu after a "
			 "failed patch)",
			 (unsigned long long)st.opened_in_place,
			 (unsigned long long)st.patches,
			 (unsigned long long)st.appends,
			 (unsigned long long)st.seals,
			 (unsigned long long)st.surveys);
	}
	fio_opens_free(&fs->opens);
	/* closing the lock session drops this mount's locks at once */
	fusefs_lockwait_free(fs);
	locksess_close(&fs->locks);
	acreate_free(&fs->ac);
	if (fs->zctx != NULL)
		zmq_ctx_term(fs->zctx);
	pthread_mutex_destroy(&fs->cache_lock);
	pthread_mutex_destroy(&fs->epoch_lock);
	pthread_rwlock_destroy(&fs->ahead_lock);
	pthread_cond_destroy(&fs->pool_cond);
	pthread_mutex_destroy(&fs->pool_lock);
	free(fs->meta);
	free(fs);
	*fsp = NULL;
}
