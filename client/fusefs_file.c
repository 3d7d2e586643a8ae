/* fusefs_file.c - cfs-fuse's file operations: open and create, reads and writes through the handles' buffers, flush, fsync and release, and the cluster's advisory locks. */
#include "client/fusefs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>

#include "client/acreate.h"
#include "client/clease.h"
#include "client/dcache.h"
#include "client/fileio.h"
#include "client/locksess.h"
#include "client/ofile.h"
#include "common/error.h"
#include "common/log.h"

/* An open file: its write-back range and read window are the ofile's
 * (client/ofile.h); fi->fh points here. */
struct handle {
	struct ofile of; /* first: ofile_open allocates the handle */
	int append;      /* opened O_APPEND */
	int flocked;     /* flock was called on it: release unlocks (atomic) */
};

static void write_lease(struct op *op, uint64_t ino, int may_wait);

/* ---- open handles ------------------------------------------------------------ */

static struct handle *
handle_new(struct fusefs *fs, uint64_t ino, int append)
{
	struct ofile *of;

	if (ofile_open(fs->files, ino, sizeof(struct handle), &of) != 0)
		return NULL;
	struct handle *h = (struct handle *)of;
	h->append = append;
	return h;
}

/*
 * Close @h, written out already: the kernel's release of it, or an open
 * or create whose reply failed (interrupted: the kernel has no such file
 * and sends no release).  The handle is freed (ofile_close).  If it was
 * the last open of an inode unlinked while open, the hidden name that
 * inode was renamed to (fusefs.c, hide_if_open) is removed here, or never.
 */
static void
handle_close(struct op *op, struct handle *h)
{
	struct ofile_hidden gone;

	if (!ofile_close(op->fs->files, &h->of, &gone))
		return;
	int rv = fusefs_unlink_call(op, gone.parent, gone.name, &gone.cred);
	if (rv != 0 && rv != CFS_ENOENT)
		LOG_WARN("removing '%s' in directory %llu: %s", gone.name,
			 (unsigned long long)gone.parent, op->errmsg);
	/* the kernel knows nothing of this unlink: the directory's times it
	 * keeps are stale (attributes only, no lock) */
	if (op->fs->se != NULL)
		fuse_lowlevel_notify_inval_inode(op->fs->se, gone.parent, -1,
						 0);
}

/* ---- files -------------------------------------------------------------------------- */

static int
truncate_to_zero(struct op *op, uint64_t ino)
{
	struct wire_setattr rq = {.cred = op->cred, .ino = ino,
				  .valid = CFS_SETATTR_SIZE};

	ofile_flush_ino(op->fs->files, ino, NULL, op->c->fio);
	int rv = fusefs_setattr_call(op, &rq, NULL);
	fusefs_data_changed(op->fs, ino);
	return rv;
}

/* The lease an open needs (read, or write when opened for writing; a
 * create got its write lease with the mknod), waiting for other mounts to
 * give theirs up as long as a dead one's takes to expire.  Nothing else is
 * held meanwhile (clease.h).  1 if held. */
static int
lease_for_open(struct op *op, uint64_t ino, int flags)
{
	struct fusefs *fs = op->fs;
	int type = (flags & O_ACCMODE) == O_RDONLY ? CFS_LEASE_READ
						   : CFS_LEASE_WRITE;
	char errmsg[CFS_ERRMSG_SIZE];
	int fresh;

	if (fs->leases == NULL)
		return 0;
	clease_wait_recall(fs->leases, ino, FUSEFS_LEASE_WAIT_MS);
	int rv = clease_get(fs->leases, op->c->mc, ino, type,
			    FUSEFS_LEASE_WAIT_MS, NULL, &fresh, errmsg);
	if (rv != 0 && rv != CFS_ENOENT)
		LOG_DEBUG("open of inode %llu without a lease: %s",
			  (unsigned long long)ino, errmsg);
	return rv == 0;
}

void
fusefs_ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h;
	struct op op;
	int rv = 0;

	fusefs_op_begin(&op, req, "open");
	if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY)
		rv = truncate_to_zero(&op, ino);
	if (rv != 0) {
		fusefs_reply_fail(&op, rv, "inode %llu (O_TRUNC)",
				  (unsigned long long)ino);
		fusefs_op_end(&op);
		return;
	}
	h = handle_new(op.fs, ino, (fi->flags & O_APPEND) != 0);
	if (h == NULL) {
		fusefs_reply_fail(&op, CFS_ENOMEM, "inode %llu",
				  (unsigned long long)ino);
		fusefs_op_end(&op);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	/* With a lease the page cache is current (a recall drops it); without
	 * one, close-to-open: reread what others wrote. */
	fi->keep_cache = lease_for_open(&op, ino, fi->flags);
	if (fuse_reply_open(req, fi) != 0) /* interrupted: no release */
		handle_close(&op, h);
	fusefs_op_end(&op);
}

/*
 * A create answered ahead of its commit (client/acreate.h, docs/leases.md
 * "Creates under a directory lease"): the mount holds the write lease of
 * the parent, which it made, so no other mount reads or changes it until
 * the lease is recalled, and the recall's release waits for this create
 * (fusefs_int.h, ahead_lock).  The kernel sends a create only after its
 * lookup of the name, under the directory's lock, found nothing; a name
 * cached or pending here goes the ordinary way (the server answers it).
 * The attributes are what the server will make of the mknod, which
 * carries the inode number and the time: the caller's uid, the group of
 * a setgid parent or the caller's, the parent's goal; the parent's times
 * become the new ctime unless later already.  (A mode with the setgid
 * bit goes the ordinary way: the server may drop it.)  1 if answered, *a
 * filled; 0 to go the ordinary way.
 */
static int
create_ahead(struct op *op, uint64_t parent, const char *name, mode_t mode,
	     struct wire_attr *a)
{
	struct fusefs *fs = op->fs;
	struct wire_attr pa, known;
	int done = 0;

	if (fs->ac == NULL || (mode & S_ISGID) ||
	    strlen(name) > DCACHE_NAME_MAX ||
	    clease_write_epoch(fs->leases, parent) == 0)
		return 0;
	if (!dcache_attr_get(fs->names, parent, &pa)) {
		/* forgotten (a collision in the cache): asked again */
		struct wire_getattr gq = {.cred = op->cred, .ino = parent};
		uint64_t st = dcache_stamp(fs->names);
		if (fusefs_call_attr(op, WIRE_T_getattr, &gq, &pa) != 0)
			return 0;
		dcache_attr_put(fs->names, st, &pa);
	}
	/* not inside the lock, which a recall waits for */
	acreate_wait_room(fs->ac);
	pthread_rwlock_rdlock(&fs->ahead_lock);
	uint64_t epoch = clease_write_epoch(fs->leases, parent);
	uint64_t since = dcache_stamp(fs->names);
	uint64_t mark = clease_mark(fs->leases);
	if (epoch != 0 && dcache_attr_get(fs->names, parent, &pa) &&
	    S_ISDIR(pa.mode) && !dcache_get(fs->names, parent, name, &known) &&
	    !acreate_pending(fs->ac, parent, name, &known)) {
		uint64_t ino = acreate_ino(fs->ac);
		if (ino != 0) {
			struct acreate_req r = {.parent = parent,
						.cred = op->cred,
						.lease_epoch = epoch,
						.mark = mark};
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
			snprintf(r.name, sizeof(r.name), "%s", name);
			memset(a, 0, sizeof(*a));
			a->ino = ino;
			a->generation = (uint64_t)t;
			a->mode = S_IFREG | ((uint32_t)mode & 07777);
			a->nlink = 1;
			a->uid = op->cred.uid;
			a->gid = pa.mode & S_ISGID ? pa.gid : op->cred.gid;
			a->atime_ns = a->mtime_ns = a->ctime_ns = t;
			a->goal = pa.goal;
			r.attr = *a;
			acreate_queue(fs->ac, &r);
			if (pa.mtime_ns < t)
				pa.mtime_ns = t;
			if (pa.ctime_ns < t)
				pa.ctime_ns = t;
			dcache_changed_to(fs->names, since, &pa);
			done = 1;
		}
	}
	pthread_rwlock_unlock(&fs->ahead_lock);
	return done;
}

void
fusefs_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct wire_attr a;
	struct handle *h;
	struct op op;
	int rv;

	if (!fusefs_name_ok(req, name))
		return;
	fusefs_op_begin(&op, req, "create");
	if (create_ahead(&op, parent, name, mode, &a)) {
		h = handle_new(op.fs, a.ino, (fi->flags & O_APPEND) != 0);
		if (h == NULL) { /* the create stays: as after a failed open */
			fusefs_reply_fail(&op, CFS_ENOMEM, "'%s'", name);
			fusefs_op_end(&op);
			return;
		}
		fi->fh = (uint64_t)(uintptr_t)h;
		fi->keep_cache = 0; /* (new: nothing cached) */
		fusefs_entry_of(&op, &a, &e, 0);
		/* Only this mount knows the file until its create is
		 * committed (another's look into the directory recalls the
		 * directory's lease first, which waits for the commit), and
		 * from then on its write lease keeps it (a recall of that
		 * drops what the kernel keeps): as long as the directory's
		 * lease, the kernel may keep what it was told. */
		e.attr_timeout =
			(double)clease_valid(op.fs->leases, parent,
					     CFS_LEASE_WRITE) / 1000.0;
		if (e.entry_timeout > 0) /* names_cacheable */
			e.entry_timeout = e.attr_timeout;
		if (fuse_reply_create(req, &e, fi) != 0)
			handle_close(&op, h);
		fusefs_op_end(&op);
		return;
	}
	uint64_t gen = fusefs_gen(op.fs, 0); /* (inode: unknown) */
	rv = fusefs_mknod(&op, parent, name, S_IFREG | ((uint32_t)mode & 07777),
			  0, (fi->flags & O_EXCL) ? CFS_MKNOD_EXCL : 0, &a);
	/* An existing file (created meanwhile by someone else, or a name
	 * the kernel had forgotten): its size as this mount knows it, with
	 * no seal of this mount's since the answer (one would leave appends
	 * in neither the answer nor the table: asked again). */
	if (rv == 0 && !fusefs_size_settled(op.fs, &a, 0, gen)) {
		struct wire_getattr gq = {.cred = op.cred, .ino = a.ino};
		rv = fusefs_call_attr(&op, WIRE_T_getattr, &gq, &a);
	}
	/* ... and O_TRUNC */
	if (rv == 0 && a.size > 0 && (fi->flags & O_TRUNC) &&
	    (rv = truncate_to_zero(&op, a.ino)) == 0)
		a = op.c->rep->entry.attr;
	if (rv != 0) {
		fusefs_reply_fail(&op, rv, "'%s' in directory %llu", name,
				  (unsigned long long)parent);
		fusefs_op_end(&op);
		return;
	}
	h = handle_new(op.fs, a.ino, (fi->flags & O_APPEND) != 0);
	if (h == NULL) {
		fusefs_reply_fail(&op, CFS_ENOMEM, "'%s'", name);
		fusefs_op_end(&op);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->keep_cache = lease_for_open(&op, a.ino, fi->flags);
	fusefs_entry_of(&op, &a, &e, 1);
	if (fuse_reply_create(req, &e, fi) != 0) /* as for open */
		handle_close(&op, h);
	fusefs_op_end(&op);
}

/* The size of @ino as this mount knows it but for what is buffered (the
 * server's, or where appends patched in place end), for an O_APPEND write
 * (ofile_size_fn; @arg is the op). */
static int
server_size(void *arg, uint64_t ino, uint64_t *size, char *errmsg)
{
	struct op *op = arg;
	struct wire_getattr rq = {.cred = op->cred, .ino = ino};
	struct wire_attr a;
	int rv = fusefs_call_attr(op, WIRE_T_getattr, &rq, &a);

	(void)errmsg; /* op->errmsg, the same buffer */
	if (rv == 0)
		*size = fusefs_size(op->fs, ino, a.size);
	return rv;
}

/* A write goes through the handle's write-back buffer (ofile_write: its
 * cases).  O_APPEND writes go to the end as this client knows it. */
void
fusefs_ll_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size,
		off_t off, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	uint64_t o = (uint64_t)off;
	struct op op;
	int rv;

	fusefs_op_begin(&op, req, "write");
	/* the kernel holds the written pages locked: wait only if this
	 * mount has no lease on the inode to be recalled meanwhile */
	write_lease(&op, ino, 1);
	rv = ofile_write(op.fs->files, &h->of, op.c->fio, &o, data, size,
			 h->append ? OFILE_APPEND : 0, server_size, &op,
			 op.errmsg);
	if (rv == 0)
		fuse_reply_write(req, size);
	else
		fusefs_reply_fail(&op, rv, "of %zu bytes at %llu to inode %llu",
				  size, (unsigned long long)o,
				  (unsigned long long)ino);
	fusefs_op_end(&op);
}

/* ofile_deliver_fn: the reply, straight from the read window when the
 * bytes are there (@arg is the request). */
static void
reply_data(void *arg, const uint8_t *data, size_t n)
{
	fuse_reply_buf((fuse_req_t)arg, (const char *)data, n);
}

/*
 * A read fills the kernel's page cache, which only a lease keeps current:
 * without one (recalled while the file stayed open) ask for it first.
 * While it is being recalled, go on without (the recaller may be waiting
 * for this read's page lock; it drops what the read caches once it
 * released).  Without a lease the read window is not trusted either.
 *
 * Returns whether the read may pass FIO_CACHED.  Under a lease no one
 * else commits a write to the inode, so the fragment locations a read
 * fetched stay good until the lease goes, and the recall forgets them
 * (lease_invalidate).  The mark comes before the check that decides:
 * a recall that starts after it keeps this read from keeping what it
 * fetches (fileio.h).  A lease held already is checked once; one asked
 * for here is checked again after a new mark, as if the read began once
 * it was granted.
 */
static int
read_lease(struct op *op, uint64_t ino)
{
	struct fusefs *fs = op->fs;
	char errmsg[CFS_ERRMSG_SIZE];
	int fresh;

	fio_cache_mark(op->c->fio);
	if (fs->leases == NULL)
		return 0;
	if (clease_valid(fs->leases, ino, CFS_LEASE_READ) > 0)
		return 1;
	if (clease_get(fs->leases, op->c->mc, ino, CFS_LEASE_READ,
		       FUSEFS_LEASE_WAIT_MS, NULL, &fresh, errmsg) != 0)
		ofile_changed(fs->files, ino);
	fio_cache_mark(op->c->fio);
	return clease_valid(fs->leases, ino, CFS_LEASE_READ) > 0;
}

/*
 * A write-out (frag_open .. frag_commit) must not overlap another mount's:
 * the later commit would find its base version replaced (ESTALE).  So
 * whoever writes out holds the write lease through it (a recall's flush
 * waits for the write-out in progress, then releases).  @may_wait 1: no
 * kernel page lock of an inode this mount holds a lease on is held, so
 * other mounts' recalls may be waited for; 2: nothing at all, so also a
 * recall from this mount in progress; 0: one attempt only.
 */
static void
write_lease(struct op *op, uint64_t ino, int may_wait)
{
	struct fusefs *fs = op->fs;
	char errmsg[CFS_ERRMSG_SIZE];
	int fresh;

	if (fs->leases == NULL ||
	    clease_valid(fs->leases, ino, CFS_LEASE_WRITE) > 0)
		return;
	if (clease_valid(fs->leases, ino, CFS_LEASE_READ) > 0)
		may_wait = 0; /* an upgrade: our read lease may be recalled */
	if (may_wait == 2)
		clease_wait_recall(fs->leases, ino, FUSEFS_LEASE_WAIT_MS);
	if (clease_get(fs->leases, op->c->mc, ino, CFS_LEASE_WRITE,
		       may_wait ? FUSEFS_LEASE_WAIT_MS : 0, NULL, &fresh,
		       errmsg) != 0)
		LOG_DEBUG("write to inode %llu without a write lease: %s",
			  (unsigned long long)ino, errmsg);
}

/* Before a write-out of what is buffered for @ino (close, fsync,
 * truncate), from a request that holds no page lock. */
void
fusefs_write_lease_if_dirty(struct op *op, uint64_t ino)
{
	if (ofile_dirty_end(op->fs->files, ino) > 0)
		write_lease(op, ino, 2);
}

void
fusefs_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	       struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct op op;
	uint8_t *tmp;
	size_t n = 0;
	int rv;

	fusefs_op_begin(&op, req, "read");
	if ((tmp = malloc(size ? size : 1)) == NULL) {
		fusefs_reply_fail(&op, CFS_ENOMEM, "inode %llu",
				  (unsigned long long)ino);
		fusefs_op_end(&op);
		return;
	}
	fusefs_conn_for_read(&op, ino, (uint64_t)off);
	int cached = read_lease(&op, ino);
	rv = ofile_read(op.fs->files, &h->of, op.c->fio, (uint64_t)off, size,
			cached ? FIO_CACHED : 0, tmp, reply_data, req, &n,
			op.errmsg);
	if (rv != 0)
		fusefs_reply_fail(&op, rv, "of %zu bytes at %lld of inode %llu",
				  size, (long long)off,
				  (unsigned long long)ino);
	free(tmp);
	fusefs_op_end(&op);
}

static void
sync_reply(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	   const char *what)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct op op;
	int rv;

	fusefs_op_begin(&op, req, what);
	/* the file's create, if it was answered ahead (client/acreate.h) */
	fusefs_creates_wait(op.fs);
	fusefs_write_lease_if_dirty(&op, ino);
	rv = ofile_sync(op.fs->files, &h->of, op.c->fio, op.errmsg);
	if (rv == 0)
		fuse_reply_err(req, 0);
	else
		fusefs_reply_fail(&op, rv, "inode %llu",
				  (unsigned long long)ino);
	fusefs_op_end(&op);
}

static void lock_release(struct fusefs *fs, uint64_t ino, uint64_t owner,
			 int kind);

/* Every close(2) of the file: write out, then drop the closing process's
 * POSIX locks on the inode (POSIX: any close does; the kernel keeps no
 * record of our locks, so this is the only place it learns of it). */
void
fusefs_ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct op op;
	int rv;

	fusefs_op_begin(&op, req, "flush");
	fusefs_write_lease_if_dirty(&op, ino);
	rv = ofile_sync(op.fs->files, &h->of, op.c->fio, op.errmsg);
	if (locksess_posix_used(op.fs->locks))
		lock_release(op.fs, ino, fi->lock_owner, CFS_LOCK_POSIX);
	if (rv == 0)
		fuse_reply_err(req, 0);
	else
		fusefs_reply_fail(&op, rv, "inode %llu",
				  (unsigned long long)ino);
	fusefs_op_end(&op);
}

void
fusefs_ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		struct fuse_file_info *fi)
{
	(void)datasync; /* every write-out is durable anyway */
	sync_reply(req, ino, fi, "fsync");
}

void
fusefs_ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct op op;
	int rv;

	fusefs_op_begin(&op, req, "release");
	fusefs_write_lease_if_dirty(&op, ino);
	rv = ofile_sync(op.fs->files, &h->of, op.c->fio, op.errmsg);
	/* Nobody hears a release's error: the last close (flush) did. */
	if (rv == CFS_ENOENT || rv == CFS_ESTALE)
		LOG_DEBUG("release of inode %llu: %s (removed meanwhile)",
			  (unsigned long long)ino, op.errmsg);
	else if (rv != 0)
		LOG_WARN("release of inode %llu: dirty data lost: %s",
			 (unsigned long long)ino, op.errmsg);
	/* the last close of the open file: its flock lock goes */
	if (fi->flock_release || __atomic_load_n(&h->flocked, __ATOMIC_RELAXED))
		lock_release(op.fs, ino, fi->fh, CFS_LOCK_FLOCK);
	handle_close(&op, h);
	fuse_reply_err(req, 0);
	fusefs_op_end(&op);
}

/* ---- advisory locks (docs/locks.md) ---------------------------------------------
 * Every lock request of the mount goes through its lock session
 * (client/locksess.h).  flock owners are open files (fi->fh), POSIX owners
 * the kernel's lock_owner (one per process's file table). */

/* Drop @owner's locks of @kind on @ino (close); a failure is logged and
 * leaves them to the lock session's end. */
static void
lock_release(struct fusefs *fs, uint64_t ino, uint64_t owner, int kind)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";

	if (locksess_release(fs->locks, ino, owner, kind, errmsg) != 0)
		LOG_WARN("inode %llu: releasing %s locks: %s",
			 (unsigned long long)ino,
			 kind == CFS_LOCK_FLOCK ? "flock" : "POSIX", errmsg);
}

/* The kernel hands ranges as l_start, l_len from SEEK_SET (l_len 0: to
 * the end of the file). */
static int64_t
lock_end(const struct flock *l)
{
	return l->l_len == 0 ? CFS_LOCK_EOF
			     : (int64_t)l->l_start + (int64_t)l->l_len - 1;
}

void
fusefs_ll_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		struct flock *lock)
{
	struct fusefs *fs = fuse_req_userdata(req);
	char errmsg[CFS_ERRMSG_SIZE] = "";
	struct wire_lock_get rq = {
		.ino = ino, .owner = fi->lock_owner, .kind = CFS_LOCK_POSIX,
		.type = (uint8_t)lock->l_type, .start = lock->l_start,
		.end = lock_end(lock)};
	int rv;

	if ((rv = locksess_get(fs->locks, &rq, lock, errmsg)) != 0) {
		fusefs_lock_reply_fail(req, "getlk", ino, rv, errmsg);
		return;
	}
	fuse_reply_lock(req, lock);
}

void
fusefs_ll_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		struct flock *lock, int sleep)
{
	struct wire_lock_set rq = {
		.ino = ino, .owner = fi->lock_owner, .kind = CFS_LOCK_POSIX,
		.type = (uint8_t)lock->l_type, .start = lock->l_start,
		.end = lock_end(lock), .pid = (uint32_t)lock->l_pid};

	fusefs_lock_set(req, &rq, sleep, sleep ? "setlkw" : "setlk");
}

void
fusefs_ll_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		int op)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	int type;

	switch (op & ~LOCK_NB) {
	case LOCK_SH: type = F_RDLCK; break;
	case LOCK_EX: type = F_WRLCK; break;
	case LOCK_UN: type = F_UNLCK; break;
	default:
		fuse_reply_err(req, EINVAL);
		return;
	}
	struct wire_lock_set rq = {
		.ino = ino, .owner = fi->fh, .kind = CFS_LOCK_FLOCK,
		.type = (uint8_t)type, .end = CFS_LOCK_EOF,
		.pid = (uint32_t)fuse_req_ctx(req)->pid};
	__atomic_store_n(&h->flocked, 1, __ATOMIC_RELAXED);
	fusefs_lock_set(req, &rq, !(op & LOCK_NB), "flock");
}

void
fusefs_ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		    off_t length, struct fuse_file_info *fi)
{
	/* Space is not reserved ahead in CFS; posix_fallocate() then falls
	 * back to writing. */
	(void)ino;
	(void)mode;
	(void)offset;
	(void)length;
	(void)fi;
	fuse_reply_err(req, EOPNOTSUPP);
}
