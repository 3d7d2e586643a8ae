/* libcfs_int.h - internal to libcfs: struct cfs, its session pool, requests and the path walk, shared by client/libcfs.c, libcfs_file.c and libcfs_dir.c only. */
#ifndef CFS_CLIENT_LIBCFS_INT_H
#define CFS_CLIENT_LIBCFS_INT_H

/*
 * client/include/cfs.h is the API; this header is what its three files
 * share and nothing else includes.  None of it is exported from libcfs.so
 * (Makefile.am lists the symbols that are).  A call borrows one session of
 * the pool for its duration (lc_op_begin .. lc_op_end), and its failure
 * sets the calling thread's message (cfs_errmsg).
 *
 *   libcfs.c       errors, the session pool, typed requests, paths,
 *                  attributes, connecting, the namespace
 *   libcfs_file.c  open files (cfs_open .. cfs_close); advisory locks
 *                  (docs/locks.md)
 *   libcfs_dir.c   extended attributes, goals, directory listings
 */

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "client/include/cfs.h"
#include "common/error.h"
#include "common/wire.h" /* and the catalog, common/proto.h */

#define ROOT_INO 1
#define SYMLINKS_MAX 40            /* as Linux's MAXSYMLINKS */
#define FILE_MAX (1ull << 62)      /* the metadata server's size limit */
#define LOCK_OWNER_POSIX 1         /* the struct cfs, on its lock session */

/* One metadata session and its data-path sockets, borrowed by one call at a
 * time. */
struct clease;

struct conn {
	struct mc *mc;
	struct fio *fio;
	union wire_body *rep; /* reply scratch: large, so on the heap */
	int busy;
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
	/* Open files (client/ofile.h); a call borrows its session before
	 * it takes any of their locks. */
	struct ofile_table *files;
	/* Advisory locks (cfs_lock, cfs_flock): their own session
	 * (client/locksess.h). */
	struct locksess *locks;
	pthread_mutex_t owner_lock; /* guards next_owner, files' flock_owner */
	uint64_t next_owner;        /* flock owners */
	/* file data by fragment version (client/bcache.h), shared by every
	 * session's fio; NULL: none (opt.data_cache 0) */
	struct bcache *data;
	/* Leases (client/clease.h, docs/leases.md): every session acts for
	 * the first one's id, lease_owner; the recaller gives leases up
	 * over rconn, a session of its own (the pool may be all taken by
	 * calls waiting for other clients' recalls). */
	struct clease *leases;
	struct conn rconn;
	uint64_t lease_owner;
};

/* How long a call waits for other clients to give up a lease in its way
 * (as cfs-fuse: longer than a dead client's takes to expire). */
#define LEASE_WAIT_MS 12000

/* One call in progress: its borrowed session and the lower layers'
 * message. */
struct op {
	struct cfs *fs;
	struct conn *c;
	char errmsg[CFS_ERRMSG_SIZE];
};

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

/* The checks of every call taking a handle and a path (messages quote
 * the path, which must not be NULL then). */
#define CHECK(fs, path, what)                                                \
	do {                                                                 \
		if ((fs) == NULL)                                            \
			return lc_fail_now(CFS_EINVAL, "%s: NULL handle",    \
					   (what));                          \
		if ((path) == NULL)                                          \
			return lc_fail_now(CFS_EINVAL, "%s: NULL path",      \
					   (what));                          \
	} while (0)

/* ---- errors ------------------------------------------------------------------ */

/* Set this thread's message to "<what>: <why>" (a long @what loses its
 * middle). */
void lc_msg_set(const char *what, const char *why);

/* A failure before any session is involved: "<what>: <strerror(code)>". */
int lc_fail_now(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Fail @op with @code and no further detail than its message. */
int lc_plain(struct op *op, int code);

/* ---- the session pool and requests --------------------------------------------- */

/* Give session @c back to the pool of @fs. */
void lc_conn_put(struct cfs *fs, struct conn *c);

/* Start a call of @fs: borrow a session (waits for one; cannot fail). */
void lc_op_begin(struct op *op, struct cfs *fs);

/* Give the session back.  On failure (@rv a CFS code) set this thread's
 * message to "<formatted>: <what the lower layer said>" and return the
 * negated errno; 0 on success. */
int lc_op_end(struct op *op, int rv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Send request @type (its cred filled) and expect @expect back in
 * op->c->rep. */
int lc_call(struct op *op, uint16_t type, const void *rq, uint16_t expect);

/* Typed requests with the caller's credentials: 0 and *a (when not NULL),
 * or a CFS code. */
int lc_rq_lookup(struct op *op, uint64_t dir, const char *name,
		 struct wire_attr *a);
int lc_rq_getattr(struct op *op, uint64_t ino, struct wire_attr *a);
/* exclusive (CFS_MKNOD_EXCL) */
int lc_rq_mknod(struct op *op, uint64_t dir, const char *name, uint32_t mode,
		struct wire_attr *a);
/* The target of symlink @ino into @buf (CFS_PATH_MAX + 1 bytes). */
int lc_rq_readlink(struct op *op, uint64_t ino, char *buf);

/* ---- paths and attributes ------------------------------------------------------ */

/* Resolve @path from directory @start if it is relative, else from "/"
 * (@how: WALK_*; its cases above its definition). */
int lc_walk_at(struct op *op, uint64_t start, const char *path, int how,
	       struct walk *w);

/* lc_walk_at from "/" for an absolute @path, after its errors as a
 * string (cfs.h "Paths"). */
int lc_walk(struct op *op, const char *path, int how, struct walk *w);

/* 0 if the caller may search directory @dir, else EACCES (or why its
 * attributes are not known). */
int lc_search_ok(struct op *op, uint64_t dir);

/* POSIX permission bits of @a for the caller (the server's rule, used where
 * the server is not asked: open).  @mask: 4 read, 2 write, 1 search. */
int lc_may(const struct cfs *fs, const struct wire_attr *a, unsigned mask);

/* struct stat of @a, its size grown by data this client buffered. */
void lc_stat_of(struct cfs *fs, const struct wire_attr *a, struct stat *st);

/* Flush what this client buffered for @ino, then set its size. */
int lc_truncate_ino(struct op *op, uint64_t ino, uint64_t size);

/* 1 if this client holds a lease of at least @type (CFS_LEASE_READ,
 * CFS_LEASE_WRITE) on @ino, asked for and waited for (up to LEASE_WAIT_MS
 * while other clients give theirs up) if it did not; 0 if it could not
 * get one.  Holding nothing a recall needs (no file's lock). */
int lc_lease(struct op *op, uint64_t ino, int type);

#endif /* CFS_CLIENT_LIBCFS_INT_H */
