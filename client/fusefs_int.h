/* fusefs_int.h - internal to cfs-fuse's operations: struct fusefs, the request helpers and the handlers shared by client/fusefs.c, fusefs_ns.c, fusefs_file.c, fusefs_dir.c and fusefs_lock.c only. */
#ifndef CFS_CLIENT_FUSEFS_INT_H
#define CFS_CLIENT_FUSEFS_INT_H

/*
 * client/fusefs.h is the API (and says what the kernel sees); this header
 * is what its files share and nothing else includes.  Every handler
 * runs on a FUSE worker thread and borrows one session pair of the pool
 * for its whole duration (fusefs_op_begin .. fusefs_op_end).
 *
 *   fusefs.c       the session pool and requests, attributes, lifecycle,
 *                  new/connect/close, the operations table, the lease
 *                  recaller's callbacks
 *   fusefs_ns.c    the namespace: lookup, getattr, setattr, mknod, mkdir,
 *                  unlink, rmdir, symlink, rename, link, readlink, statfs
 *   fusefs_file.c  open files: open, create, read, write, flush, fsync,
 *                  release; advisory locks (docs/locks.md)
 *   fusefs_dir.c   directory listings; extended attributes and the
 *                  absent ones remembered under leases
 */

#include <pthread.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "client/fileio.h"
#include "client/fusefs.h"
#include "common/error.h"
#include "common/wire.h" /* and the catalog, common/proto.h */

#define BLOCKS_CACHE 256 /* allocated-size cache slots */
/* Absent xattrs are remembered while this mount holds a lease on the
 * inode (a recall forgets them): the kernel asks for security.capability
 * before every write(2) and ls -l for security.selinux of every file. */
#define XNEG_SLOTS 1024
#define XNEG_NAME 48

/* One session pair, borrowed by one request at a time. */
struct conn {
	struct mc *mc;
	struct fio *fio;
	union wire_body *rep; /* reply scratch: large, so on the heap */
	/* what fio read ahead when the conn was last put back (pool_lock):
	 * for fusefs_conn_for_read, which must not look into a busy fio */
	struct fio_piece ahead[FIO_AHEAD_MAX];
	int nahead;
	int busy;
};

struct xneg {
	uint64_t ino;
	int64_t until_ms;
	int code;
	char name[XNEG_NAME];
};

struct blocks_entry {
	uint64_t ino, size, blocks;
	int64_t mtime_ns;
};

struct fusefs {
	struct fusefs_options opt;
	char *meta;
	void *zctx;
	struct lread *local; /* reads from local nodes' disks, or NULL */
	struct conn *conns;
	unsigned nconns;
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;
	struct ofile_table *files; /* open handles, by inode */
	pthread_mutex_t cache_lock; /* blocks, xneg, fsz */
	struct blocks_entry blocks[BLOCKS_CACHE];
	struct xneg xneg[XNEG_SLOTS];
	uint64_t fsz; /* the fragment size, 0 until known */
	/* advisory locks: their own session, opened at the first lock */
	struct locksess *locks;
	/* blocking lock requests waiting for a conflicting lock to go,
	 * answered by one thread (fusefs_lock.c), not each holding a FUSE
	 * worker thread */
	struct {
		pthread_mutex_t lock;
		pthread_cond_t cond;
		pthread_t thread;
		int started, stop, kick;
		struct lockwait *head;
	} waits;
	/* leases (docs/leases.md): what this mount may cache, and the
	 * session pair the recaller flushes and releases through */
	struct clease *leases;
	struct conn rconn;
	/* names and attributes for lookups the kernel forgot, valid only
	 * under a lease on the inode they lead to (client/dcache.h) */
	struct dcache *names;
	/* file data read from the nodes, by version (client/bcache.h):
	 * every fio of the mount reads through it; NULL: none */
	struct bcache *data;
	/* versions opened ahead for the mount's writes (client/fileio.h) */
	struct fio_opens *opens;
	/* creates answered before they commit (client/acreate.h); NULL:
	 * none.  ahead_lock is held shared by such a create from its check
	 * of the directory's lease until it is queued, and taken (a moment)
	 * exclusively by a recall before it releases a lease: so the
	 * release, which waits for the creates queued before it, waits for
	 * every create answered under the lease. */
	struct acreate *ac;
	pthread_rwlock_t ahead_lock;
	/* write-outs and seals so far, in all and by inode number modulo
	 * 64 (written_out; fusefs_gen) */
	uint64_t outs_all, outs[64];
	struct fuse_session *se; /* for cache invalidations */
	/* does the kernel take FUSE_NOTIFY_INC_EPOCH (Linux 6.16)?  0 not
	 * known yet, 1 yes, -1 no: then names are not cached */
	int epoch_ok;
	pthread_mutex_t epoch_lock;
};

struct lockwait;

/* One request in progress. */
struct op {
	struct fusefs *fs;
	fuse_req_t req;
	struct conn *c;
	struct wire_cred cred;
	const char *what; /* the operation, for log lines */
	char errmsg[CFS_ERRMSG_SIZE];
};

/* ---- fusefs.c ---------------------------------------------------------------- */

/* Start request @req (@what names it in log lines): the caller's
 * credentials, and a session pair borrowed from the pool (waits for one). */
void fusefs_op_begin(struct op *op, fuse_req_t req, const char *what);

/* Give the request's session pair back. */
void fusefs_op_end(struct op *op);

/* Let this thread's metadata calls overtake creates answered ahead (1),
 * or not (0): for calls whose answer no pending create changes. */
void fusefs_ungate(int on);

/* Wait until the creates answered before now are committed. */
void fusefs_creates_wait(struct fusefs *fs);

/* Before a read of @ino at @off: move @op to the conn whose fio reads
 * those bytes ahead (fusefs.c). */
void fusefs_conn_for_read(struct op *op, uint64_t ino, uint64_t off);

/* Send request @type (its cred already filled) and expect @expect back in
 * op->c->rep.  0, or a CFS code with op->errmsg saying why.  Like every
 * metadata call of the mount, it is sent only after the creates answered
 * before it are committed (acreate_wait), unless the calling thread is
 * between fusefs_ungate(1) and fusefs_ungate(0). */
int fusefs_call(struct op *op, uint16_t type, const void *rq, uint16_t expect);

/* Answer the request with @code's errno; log it with what it was about
 * (@fmt) unless it is an ordinary result. */
void fusefs_reply_fail(struct op *op, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Forget the fragment locations every fio of the mount kept of @ino (the
 * recaller's too).  Any thread. */
void fusefs_forget_locations(struct fusefs *fs, uint64_t ino);
/* @ino's data changed other than by a write-out of this mount (a
 * truncation, a recall): read windows, kept locations, cached attributes. */
void fusefs_data_changed(struct fusefs *fs, uint64_t ino);

/* Is @code a POSIX result an application expects to meet (not worth a
 * log line)? */
int fusefs_ordinary(int code);

/* May the kernel cache names?  Only if a recall can make it forget them
 * all at once (asked once, at the first name answered). */
int fusefs_names_cacheable(struct fusefs *fs);

/* Answer the request with the entry, or the attributes, of @a. */
void fusefs_reply_entry(struct op *op, const struct wire_attr *a);
void fusefs_reply_attr(struct op *op, const struct wire_attr *a);

/* 1 if @name fits CFS_NAME_MAX; else 0, with the request answered
 * ENAMETOOLONG. */
int fusefs_name_ok(fuse_req_t req, const char *name);

/* The entry of @a for the kernel: attributes and name kept as long as the
 * mount's lease on the inode.  @may_ask: st_blocks may cost a call. */
void fusefs_entry_of(struct op *op, const struct wire_attr *a,
		     struct fuse_entry_param *e, int may_ask);

/* mknod with @flags (CFS_MKNOD_EXCL); on success the new entry's
 * attributes are copied to *a.  Keeps the name cache and leases right. */
int fusefs_mknod(struct op *op, fuse_ino_t parent, const char *name,
		 uint32_t mode, uint64_t rdev, uint32_t flags,
		 struct wire_attr *a);

/* unlink of @name in @parent with @cred. */
int fusefs_unlink_call(struct op *op, uint64_t parent, const char *name,
		       const struct wire_cred *cred);

/* The size of regular file @ino as this mount knows it: the most of
 * @server (the metadata server's), the end of what is buffered and the
 * end of appends patched in place and not yet sealed, of which the server
 * knows nothing until the seal (docs/data-path.md "Patching in place"). */
uint64_t fusefs_size(struct fusefs *fs, uint64_t ino, uint64_t server);

/* How many times what the mount knows of the size of @ino (0: of any
 * file) changed hands so far: a write-out committed it and dropped the
 * buffered range, or a seal committed appends and dropped the open
 * version's entry.  A size the server gave combined with the mount's
 * buffered and open ends is right only if this did not change between
 * the question and reading the ends (else the change may be in
 * neither).  Cheap: no scan. */
uint64_t fusefs_gen(struct fusefs *fs, uint64_t ino);

/* @a, a regular file's attributes the mount had before @gen was read
 * (fusefs_gen of @gen_ino, the file's or 0: a cache's, a reply's),
 * with the size grown to fusefs_size: 1, or 0 if the mount dropped an
 * open version meanwhile (its seal committed a size @a may not have, and
 * the table no longer has its end: ask the server).  Other types: 1,
 * unchanged. */
int fusefs_size_settled(struct fusefs *fs, struct wire_attr *a,
			uint64_t gen_ino, uint64_t gen);

/* Send setattr @rq (answered `entry`, in op->c->rep).  A size change
 * seals what the mount holds open of the file first (the leader refuses
 * EBUSY to cut an open version or to resize a file whose last fragment is
 * open), again if another thread's write opened one meanwhile, and after
 * (what it cut away); the caller wrote out what was buffered.  *@gen (if
 * not NULL): fusefs_gen of the file just before the call answered. */
int fusefs_setattr_call(struct op *op, const struct wire_setattr *rq,
			uint64_t *gen);

/* fusefs_call of @type (getattr or lookup, answered `entry`), *@a its
 * attributes with a regular file's size counting where this mount's
 * unsealed appends end, read with no seal of the mount's in between (one
 * that committed after the server answered and dropped its entry before
 * the mount looked would be in neither: asked again). */
int fusefs_call_attr(struct op *op, uint16_t type, const void *rq,
		     struct wire_attr *a);

/* ---- fusefs_ns.c --------------------------------------------------------------- */

void fusefs_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fusefs_ll_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi);
void fusefs_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi);
void fusefs_ll_readlink(fuse_req_t req, fuse_ino_t ino);
void fusefs_ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev);
void fusefs_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode);
void fusefs_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fusefs_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fusefs_ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name);
void fusefs_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags);
void fusefs_ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname);
void fusefs_ll_statfs(fuse_req_t req, fuse_ino_t ino);

/* ---- fusefs_file.c ------------------------------------------------------------- */

/* Before a write-out of what is buffered for @ino (close, fsync,
 * truncate): the write lease, from a request that holds no page lock. */
void fusefs_write_lease_if_dirty(struct op *op, uint64_t ino);

void fusefs_ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fusefs_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi);
void fusefs_ll_write(fuse_req_t req, fuse_ino_t ino, const char *data,
		     size_t size, off_t off, struct fuse_file_info *fi);
void fusefs_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void fusefs_ll_flush(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi);
void fusefs_ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi);
void fusefs_ll_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi);
void fusefs_ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length,
			 struct fuse_file_info *fi);
void fusefs_ll_getlk(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi, struct flock *lock);
void fusefs_ll_setlk(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi, struct flock *lock, int sleep);
void fusefs_ll_flock(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi, int op);

/* ---- fusefs_lock.c ------------------------------------------------------------- */

/* Set @rq's lock and answer @req: at once when it is granted or refused,
 * else (a conflict and @wait) from the mount's waiter thread once it is
 * granted, fails or the caller is interrupted.  @what names the request
 * in log lines (a string constant). */
void fusefs_lock_set(fuse_req_t req, const struct wire_lock_set *rq, int wait,
		     const char *what);

/* Answer @req with @rv, logged (debug for the expected ones: conflict,
 * interrupted, gone). */
void fusefs_lock_reply_fail(fuse_req_t req, const char *what, uint64_t ino,
			    int rv, const char *errmsg);

/* The waiter's state (fusefs_new); stop it, answering whoever waits with
 * EINTR (the FUSE session's destroy; again harmlessly); and free. */
void fusefs_lockwait_init(struct fusefs *fs);
void fusefs_lockwait_stop(struct fusefs *fs);
void fusefs_lockwait_free(struct fusefs *fs);

/* ---- fusefs_dir.c -------------------------------------------------------------- */

/* Forget every absent xattr remembered for @ino (a lease recalled). */
void fusefs_xneg_forget(struct fusefs *fs, uint64_t ino);

void fusefs_ll_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi);
void fusefs_ll_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi);
void fusefs_ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi);
void fusefs_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi);
void fusefs_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi);
void fusefs_ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags);
void fusefs_ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size);
void fusefs_ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fusefs_ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

#endif /* CFS_CLIENT_FUSEFS_INT_H */
