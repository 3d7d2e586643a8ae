/* libcfs_file.c - libcfs's open files (cfs_open .. cfs_close: reads and writes through the file's buffers, seeking, sync, truncation) and advisory locks (cfs_lock, cfs_flock). */
#include "client/libcfs_int.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/types.h>
#include <unistd.h>

#include "client/locksess.h"
#include "client/ofile.h"
#include "common/error.h"
#include "common/log.h"

/* cfs_open flags that mean something, and those accepted as no-ops. */
#define OPEN_FLAGS                                                           \
	(O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_NOFOLLOW |    \
	 O_SYNC | O_DSYNC)
#define OPEN_IGNORED (O_CLOEXEC | O_LARGEFILE | O_NOATIME)

struct cfs_file {
	struct ofile of; /* first: ofile_open allocates the cfs_file */
	struct cfs *fs;
	int flags;
	uint64_t pos; /* the owner thread's alone */
	uint64_t flock_owner; /* 0 until the first cfs_flock (under
				 fs->owner_lock) */
};

/* ---- open files ---------------------------------------------------------------- */

static struct cfs_file *
file_new(struct cfs *fs, uint64_t ino, int flags)
{
	struct ofile *of;

	if (ofile_open(fs->files, ino, sizeof(struct cfs_file), &of) != 0)
		return NULL;
	struct cfs_file *f = (struct cfs_file *)of;
	f->fs = fs;
	f->flags = flags;
	return f;
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
		return lc_fail_now(CFS_EINVAL, "open %s: NULL result", path);
	*out = NULL;
	if (acc != O_RDONLY && acc != O_WRONLY && acc != O_RDWR)
		return lc_fail_now(CFS_EINVAL, "open %s: access mode %d", path,
				   acc);
	if (flags & ~(OPEN_FLAGS | OPEN_IGNORED))
		return lc_fail_now(CFS_EINVAL, "open %s: unsupported flags 0%o",
				   path,
				   (unsigned)(flags & ~(OPEN_FLAGS |
							OPEN_IGNORED)));
	lc_op_begin(&op, fs);
	if (flags & O_CREAT)
		rv = open_create(&op, path, flags, mode, &w, &created);
	else
		rv = lc_walk(&op, path, (flags & O_NOFOLLOW) ? 0 : WALK_FOLLOW,
			     &w);
	if (rv == 0 && S_ISLNK(w.attr.mode))
		rv = cfs_fail(op.errmsg, CFS_ELOOP, "a symlink, and O_NOFOLLOW");
	else if (rv == 0 && S_ISDIR(w.attr.mode))
		/* as Linux's may_open: a read-only open of a directory is
		 * checked for read permission before it is refused here */
		rv = acc == O_RDONLY && !(flags & O_CREAT) && !created &&
				     !lc_may(fs, &w.attr, 4u)
			     ? cfs_fail(op.errmsg, CFS_EACCES, "directory "
					"mode %o", w.attr.mode & 07777)
			     : lc_plain(&op, CFS_EISDIR);
	else if (rv == 0 && !S_ISREG(w.attr.mode))
		rv = cfs_fail(op.errmsg, CFS_EINVAL, "not a regular file");
	else if (rv == 0 && !created &&
		 !lc_may(fs, &w.attr,
			 (acc != O_WRONLY ? 4u : 0u) |
			     (acc != O_RDONLY || (flags & O_TRUNC) ? 2u : 0u)))
		rv = cfs_fail(op.errmsg, CFS_EACCES,
			      "mode %o, owner %u, group %u",
			      w.attr.mode & 07777, w.attr.uid, w.attr.gid);
	/* as Linux: O_TRUNC empties the file even with O_RDONLY */
	if (rv == 0 && (flags & O_TRUNC) && !created &&
	    (w.attr.size > 0 || ofile_dirty_end(fs->files, w.attr.ino) > 0))
		rv = lc_truncate_ino(&op, w.attr.ino, 0);
	if (rv == 0 && (f = file_new(fs, w.attr.ino, flags)) == NULL)
		rv = cfs_fail(op.errmsg, CFS_ENOMEM, "open file");
	if ((rv = lc_op_end(&op, rv, "open %s", path)) != 0)
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

	if ((rv = lc_walk(op, path, WALK_PARENT, w)) != 0)
		return rv;
	for (int tries = 0;; tries++) {
		if (w->name[0] == '\0')
			return lc_plain(op, CFS_EISDIR);
		if (w->slash)
			return (rv = lc_search_ok(op, w->dir)) != 0
				   ? rv
				   : lc_plain(op, CFS_EISDIR);
		rv = lc_rq_mknod(op, w->dir, w->name,
				 S_IFREG | ((uint32_t)mode & 07777), &w->attr);
		if (rv == 0) {
			*created = 1;
			return 0;
		}
		if (rv != CFS_EEXIST || (flags & O_EXCL))
			return rv;
		rv = lc_rq_lookup(op, w->dir, w->name, &w->attr);
		if (rv == CFS_ENOENT && tries < 3)
			continue; /* removed meanwhile: create it again */
		if (rv != 0 || !S_ISLNK(w->attr.mode) || (flags & O_NOFOLLOW))
			return rv; /* the caller judges what is there */
		if (++links > SYMLINKS_MAX)
			return cfs_fail(op->errmsg, CFS_ELOOP,
					"more than %d symlinks", SYMLINKS_MAX);
		if ((rv = lc_rq_readlink(op, w->attr.ino, target)) != 0)
			return rv;
		start = w->dir;
		p = target;
		if ((rv = lc_walk_at(op, start, p, WALK_PARENT, w)) != 0)
			return rv;
	}
}

/* The end of the file as this client knows it: the server's size, or
 * further if buffered data of this client extends it. */
static int
known_size(struct op *op, uint64_t ino, uint64_t *size)
{
	struct wire_attr a;
	int rv = lc_rq_getattr(op, ino, &a);
	uint64_t end;

	if (rv != 0)
		return rv;
	end = ofile_dirty_end(op->fs->files, ino);
	*size = end > a.size ? end : a.size;
	return 0;
}

/* The server's size of @ino, for an O_APPEND write (ofile_size_fn; @arg
 * is the op, whose errmsg is @errmsg). */
static int
server_size(void *arg, uint64_t ino, uint64_t *size, char *errmsg)
{
	struct wire_attr a;
	int rv = lc_rq_getattr(arg, ino, &a);

	(void)errmsg;
	if (rv == 0)
		*size = a.size;
	return rv;
}

/*
 * A write of @n bytes at @at (-1: the file position, or the end with
 * O_APPEND) goes through the file's write-back buffer (ofile_write: its
 * cases) under the inode's write lease, which lets this client keep it
 * until close or fsync (another client that reads meanwhile recalls the
 * lease, and the recall writes the buffer out first).  Without the lease
 * (another client would not give its lease up in time), and with O_SYNC
 * / O_DSYNC, the buffer goes out before the call returns, so every read
 * that starts later sees the write.
 */
static ssize_t
do_write(struct cfs_file *f, const void *buf, size_t n, int64_t at)
{
	unsigned how = 0;
	uint64_t o;
	struct op op;
	int rv;

	if (f == NULL)
		return lc_fail_now(CFS_EBADF, "write: NULL file");
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return lc_fail_now(CFS_EBADF, "write to inode %llu: opened "
				   "O_RDONLY", (unsigned long long)f->of.ino);
	if (buf == NULL && n > 0)
		return lc_fail_now(CFS_EINVAL,
				   "write to inode %llu: NULL buffer",
				   (unsigned long long)f->of.ino);
	if (n > SSIZE_MAX)
		return lc_fail_now(CFS_EINVAL, "write to inode %llu: %zu bytes",
				   (unsigned long long)f->of.ino, n);
	if (n == 0)
		return 0;
	if (at < 0 && (f->flags & O_APPEND))
		how |= OFILE_APPEND;
	if (f->flags & (O_SYNC | O_DSYNC))
		how |= OFILE_SYNC;
	o = at < 0 ? f->pos : (uint64_t)at;
	lc_op_begin(&op, f->fs);
	how |= lc_lease(&op, f->of.ino, CFS_LEASE_WRITE) ? OFILE_LEASED
							  : OFILE_SYNC;
	rv = ofile_write(f->fs->files, &f->of, op.c->fio, &o, buf, n, how,
			 server_size, &op, op.errmsg);
	if ((rv = lc_op_end(&op, rv, "write of %zu bytes at %llu to inode %llu",
			    n, (unsigned long long)o,
			    (unsigned long long)f->of.ino)) != 0)
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
		return lc_fail_now(CFS_EINVAL, "pwrite at %lld",
				   (long long)off);
	return do_write(f, buf, n, (int64_t)off);
}

/* ofile_deliver_fn: copy the bytes to the caller's buffer (@arg), unless
 * they were read straight into it. */
static void
copy_out(void *arg, const uint8_t *data, size_t n)
{
	if (data != arg && n > 0)
		memcpy(arg, data, n);
}

static ssize_t
do_read(struct cfs_file *f, void *buf, size_t n, int64_t at)
{
	uint64_t o;
	size_t got = 0;
	struct op op;
	int rv;

	if (f == NULL)
		return lc_fail_now(CFS_EBADF, "read: NULL file");
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return lc_fail_now(CFS_EBADF, "read of inode %llu: opened "
				   "O_WRONLY", (unsigned long long)f->of.ino);
	if (buf == NULL && n > 0)
		return lc_fail_now(CFS_EINVAL,
				   "read of inode %llu: NULL buffer",
				   (unsigned long long)f->of.ino);
	if (n > SSIZE_MAX)
		return lc_fail_now(CFS_EINVAL, "read of inode %llu: %zu bytes",
				   (unsigned long long)f->of.ino, n);
	if (n == 0)
		return 0;
	o = at < 0 ? f->pos : (uint64_t)at;
	lc_op_begin(&op, f->fs);
	/* Under a read lease the file's read window stays valid across
	 * calls (a recall drops it); without one, every read asks the data
	 * nodes.  The window's bytes are copied out; other reads go straight
	 * to @buf. */
	int fresh = lc_lease(&op, f->of.ino, CFS_LEASE_READ) ? 0 : OFILE_FRESH;
	rv = ofile_read(f->fs->files, &f->of, op.c->fio, o, n, fresh, buf,
			copy_out, buf, &got, op.errmsg);
	if ((rv = lc_op_end(&op, rv, "read of %zu bytes at %llu of inode %llu",
			    n, (unsigned long long)o,
			    (unsigned long long)f->of.ino)) != 0)
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
		return lc_fail_now(CFS_EINVAL, "pread at %lld", (long long)off);
	return do_read(f, buf, n, (int64_t)off);
}

off_t
cfs_lseek(struct cfs_file *f, off_t off, int whence)
{
	uint64_t base = 0;
	struct op op;
	int rv;

	if (f == NULL)
		return lc_fail_now(CFS_EBADF, "lseek: NULL file");
	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = f->pos;
		break;
	case SEEK_END:
		lc_op_begin(&op, f->fs);
		rv = known_size(&op, f->of.ino, &base);
		if ((rv = lc_op_end(&op, rv, "lseek in inode %llu",
				    (unsigned long long)f->of.ino)) != 0)
			return rv;
		break;
	default:
		return lc_fail_now(CFS_EINVAL, "lseek: whence %d", whence);
	}
	if ((off < 0 && (uint64_t)-(off + 1) + 1 > base) ||
	    (off > 0 && (uint64_t)off > FILE_MAX - base) || base > FILE_MAX)
		return lc_fail_now(CFS_EINVAL, "lseek to %llu %+lld",
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
		return lc_fail_now(CFS_EBADF, "fsync: NULL file");
	lc_op_begin(&op, f->fs);
	rv = ofile_sync(f->fs->files, &f->of, op.c->fio, op.errmsg);
	return lc_op_end(&op, rv, "fsync of inode %llu",
			 (unsigned long long)f->of.ino);
}

int
cfs_ftruncate(struct cfs_file *f, off_t size)
{
	struct op op;
	int rv;

	if (f == NULL)
		return lc_fail_now(CFS_EBADF, "ftruncate: NULL file");
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return lc_fail_now(CFS_EBADF, "ftruncate of inode %llu: opened "
				   "O_RDONLY", (unsigned long long)f->of.ino);
	if (size < 0)
		return lc_fail_now(CFS_EINVAL,
				   "ftruncate of inode %llu to %lld",
				   (unsigned long long)f->of.ino,
				   (long long)size);
	lc_op_begin(&op, f->fs);
	rv = lc_truncate_ino(&op, f->of.ino, (uint64_t)size);
	return lc_op_end(&op, rv, "ftruncate of inode %llu to %lld",
			 (unsigned long long)f->of.ino, (long long)size);
}

int
cfs_fstat(struct cfs_file *f, struct stat *st)
{
	struct wire_attr a;
	struct op op;
	int rv;

	if (f == NULL)
		return lc_fail_now(CFS_EBADF, "fstat: NULL file");
	if (st == NULL)
		return lc_fail_now(CFS_EINVAL, "fstat: NULL stat");
	lc_op_begin(&op, f->fs);
	if ((rv = lc_rq_getattr(&op, f->of.ino, &a)) == 0)
		lc_stat_of(f->fs, &a, st);
	return lc_op_end(&op, rv, "fstat of inode %llu",
			 (unsigned long long)f->of.ino);
}

/* ---- advisory locks (docs/locks.md) ----------------------------------------- */

_Static_assert(F_RDLCK == CFS_F_RDLCK && F_WRLCK == CFS_F_WRLCK &&
		       F_UNLCK == CFS_F_UNLCK,
	       "lock types travel as Linux's values");

/* Fail a lock call: the thread's message and -errno. */
static int
lock_fail(int rv, const char *errmsg, const char *what, uint64_t ino)
{
	char w[128];

	snprintf(w, sizeof(w), "%s on inode %llu", what,
		 (unsigned long long)ino);
	lc_msg_set(w, errmsg[0] ? errmsg : cfs_strerror(rv));
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
		lc_op_begin(&op, f->fs);
		rv = known_size(&op, f->of.ino, &base);
		if (rv != 0)
			snprintf(errmsg, CFS_ERRMSG_SIZE, "%s", op.errmsg);
		lc_conn_put(f->fs, op.c);
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
		return lc_fail_now(CFS_EBADF, "lock: NULL file");
	if (fl == NULL || (cmd != F_GETLK && cmd != F_SETLK &&
			   cmd != F_SETLKW))
		return lc_fail_now(CFS_EINVAL, "lock on inode %llu: command %d",
				   (unsigned long long)f->of.ino, cmd);
	if (fl->l_type != F_RDLCK && fl->l_type != F_WRLCK &&
	    (fl->l_type != F_UNLCK || cmd == F_GETLK))
		return lc_fail_now(CFS_EINVAL, "lock on inode %llu: l_type %d",
				   (unsigned long long)f->of.ino, fl->l_type);
	/* as fcntl: a read lock needs the file open for reading, a write
	 * lock for writing */
	int acc = f->flags & O_ACCMODE;
	if (cmd != F_GETLK && ((fl->l_type == F_RDLCK && acc == O_WRONLY) ||
			       (fl->l_type == F_WRLCK && acc == O_RDONLY)))
		return lc_fail_now(CFS_EBADF,
				   "lock on inode %llu: %s lock on a "
				   "file opened %s",
				   (unsigned long long)f->of.ino,
				   fl->l_type == F_RDLCK ? "read" : "write",
				   acc == O_RDONLY ? "O_RDONLY" : "O_WRONLY");
	if ((rv = lock_range_of(f, fl, &start, &end, errmsg)) != 0)
		return lock_fail(rv, errmsg, "lock", f->of.ino);
	if (cmd == F_GETLK) {
		struct wire_lock_get rq = {
			.ino = f->of.ino, .owner = LOCK_OWNER_POSIX,
			.kind = CFS_LOCK_POSIX, .type = (uint8_t)fl->l_type,
			.start = start, .end = end};
		if ((rv = locksess_get(f->fs->locks, &rq, fl, errmsg)) != 0)
			return lock_fail(rv, errmsg, "F_GETLK", f->of.ino);
		return 0;
	}
	struct wire_lock_set rq = {
		.ino = f->of.ino, .owner = LOCK_OWNER_POSIX, .kind = CFS_LOCK_POSIX,
		.type = (uint8_t)fl->l_type, .start = start, .end = end,
		.pid = (uint32_t)getpid()};
	if ((rv = locksess_set(f->fs->locks, &rq, cmd == F_SETLKW, NULL, NULL,
			       errmsg)) != 0)
		return lock_fail(rv, errmsg,
				 cmd == F_SETLKW ? "F_SETLKW" : "F_SETLK",
				 f->of.ino);
	return 0;
}

int
cfs_flock(struct cfs_file *f, int op)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	int type, rv;

	if (f == NULL)
		return lc_fail_now(CFS_EBADF, "flock: NULL file");
	switch (op & ~LOCK_NB) {
	case LOCK_SH: type = F_RDLCK; break;
	case LOCK_EX: type = F_WRLCK; break;
	case LOCK_UN: type = F_UNLCK; break;
	default:
		return lc_fail_now(CFS_EINVAL,
				   "flock on inode %llu: operation %d",
				   (unsigned long long)f->of.ino, op);
	}
	pthread_mutex_lock(&f->fs->owner_lock);
	if (f->flock_owner == 0)
		f->flock_owner = f->fs->next_owner++;
	pthread_mutex_unlock(&f->fs->owner_lock);
	struct wire_lock_set rq = {
		.ino = f->of.ino, .owner = f->flock_owner, .kind = CFS_LOCK_FLOCK,
		.type = (uint8_t)type, .end = CFS_LOCK_EOF,
		.pid = (uint32_t)getpid()};
	if ((rv = locksess_set(f->fs->locks, &rq, !(op & LOCK_NB), NULL, NULL,
			       errmsg)) != 0)
		return lock_fail(rv, errmsg, "flock", f->of.ino);
	return 0;
}

/* At close: the file's flock lock and, as POSIX says for any close, the
 * struct cfs's POSIX locks on the inode.  Best effort: a failure leaves
 * them to the lock session's end (logged). */
static void
locks_release(struct cfs_file *f)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";

	if (f->flock_owner != 0 &&
	    locksess_release(f->fs->locks, f->of.ino, f->flock_owner,
			     CFS_LOCK_FLOCK, errmsg) != 0)
		LOG_WARN("close of inode %llu: releasing its flock: %s",
			 (unsigned long long)f->of.ino, errmsg);
	if (locksess_posix_used(f->fs->locks) &&
	    locksess_release(f->fs->locks, f->of.ino, LOCK_OWNER_POSIX,
			     CFS_LOCK_POSIX, errmsg) != 0)
		LOG_WARN("close of inode %llu: releasing POSIX locks: %s",
			 (unsigned long long)f->of.ino, errmsg);
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
	ino = f->of.ino;
	lc_op_begin(&op, f->fs);
	rv = ofile_sync(f->fs->files, &f->of, op.c->fio, op.errmsg);
	locks_release(f);
	ofile_close(f->fs->files, &f->of, NULL);
	*fp = NULL;
	return lc_op_end(&op, rv, "close of inode %llu",
			 (unsigned long long)ino);
}
