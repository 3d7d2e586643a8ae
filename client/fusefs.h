/* fusefs.h - the FUSE low-level operations of cfs-fuse: CFS namespace and data behind a kernel mount. */
#ifndef CFS_CLIENT_FUSEFS_H
#define CFS_CLIENT_FUSEFS_H

/*
 * What the kernel sees (the data path itself: docs/data-path.md):
 *  - inode numbers are CFS's (the root, 1, is FUSE_ROOT_ID) and the
 *    generation is the inode's; attributes, absent xattrs, file pages and
 *    fragment locations (fileio.h FIO_CACHED) are cached while the mount
 *    holds a lease on the inode, never longer
 *    (docs/leases.md: opens take leases, other mounts' conflicting
 *    requests recall them); so are the names that lead to such an
 *    inode, by the kernel and, once it forgot them, by the mount's name
 *    cache (client/dcache.h).  So a change another client made is seen
 *    by every request that starts after it returned (for writes: after
 *    close or fsync).
 *  - every namespace request carries the caller's uid, gid and
 *    supplementary groups; the metadata server checks permissions and owns
 *    new files to the caller.  The mount uses default_permissions, so the
 *    kernel checks modes first from the cached attributes.  Data requests
 *    carry the mount's own credentials (fio has no per-call ones).
 *  - file data goes through fio (client/fileio.h).  Each open file handle
 *    has a write-back buffer: one contiguous dirty range of up to
 *    FUSEFS_WBUF_MAX bytes, written (durably) when it is full, when a write
 *    does not touch it, and on flush (close), fsync and release.  An error
 *    of such a deferred write is returned by the next write, flush, fsync
 *    or close of that handle.  Reads first write out every dirty range of
 *    the inode; getattr and lookup report a size that includes them.  A
 *    sequential reader is served from a FUSEFS_WINDOW window per handle.
 *  - flock and fcntl locks are the cluster's (docs/locks.md): getlk, setlk
 *    and flock go to the metadata service over a session of the mount's
 *    own; flush drops the closing process's POSIX locks, release the open
 *    file's flock.  A blocking lock waits in its worker thread, polling,
 *    until granted or interrupted (EINTR).
 *  - a file unlinked while this client has it open is renamed to
 *    ".cfs-fuse-hidden-*" and removed at its last release (as NFS does);
 *    st_blocks of a file of more than 64 fragments counts only the
 *    fragments that exist, so sparse files look sparse.
 *
 * Threads: requests may come from several FUSE worker threads.  Each
 * request borrows one (mc, fio) session pair from a pool for its whole
 * duration, so a pool of N pairs keeps N requests in flight.
 */

#include <stdint.h>

/* The 3.12 API (configure asks for fuse3 >= 3.12): its loop configuration
 * object is how max_threads reaches the worker loop. */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

/* An open waits this long for other mounts to give up a lease in the way:
 * a dead mount's leases go with its session (10 s). */
#define FUSEFS_LEASE_WAIT_MS 12000
/* At unmount, how long sealing the versions open for patching waits for
 * a metadata server (less if --timeout is shorter): a leader elected
 * after a crash answers well within it. */
#define FUSEFS_EXIT_SEAL_MS 5000
#define FUSEFS_WBUF_MAX (16u << 20)   /* write-back range per handle */
#define FUSEFS_IO_MAX (1u << 20)      /* max_write / max_readahead asked */
/* The read window of a sequential reader per handle: a fragment of the
 * default 4 MiB in one read (seqread 1 GiB, 1 MiB reads, 3 shared-core
 * runs each: 252-282 MiB/s with a 1 MiB window, 264-295 with 2 MiB,
 * 286-309 with 4 MiB, 242-292 with 8 MiB). */
#define FUSEFS_WINDOW (4u << 20)
#define FUSEFS_SESSIONS_MAX 64
#define FUSEFS_NAME_CACHE 65536 /* names kept at most: ~12 MiB */
#define FUSEFS_CREATES_AHEAD 256 /* creates answered before they commit */
#define FUSEFS_CREATES_AHEAD_MAX 65536

struct fusefs;

struct fusefs_options {
	const char *meta;      /* metadata servers, "host:port,..." */
	unsigned sessions;     /* (mc, fio) pairs; 0 = 1 */
	int open_timeout_ms;   /* give up connecting after this; 0 = 10000 */
	int call_timeout_ms;   /* give up one request (metadata, or a data
				  call to the leader); 0 = 60000 */
	unsigned max_leases;   /* leases kept at most; 0 = 100000 */
	unsigned name_cache;   /* names kept for lookups (client/dcache.h);
				  0 = none (cfs-fuse's default:
				  FUSEFS_NAME_CACHE) */
	uint64_t data_cache;   /* bytes of file data kept (client/bcache.h);
				  0 = none (cfs-fuse's default:
				  bcache_default_bytes()) */
	int no_leases;         /* 1: take none, cache nothing (tests) */
	int no_local_reads;    /* 1: read every replica through its node,
				  also those on this machine's disks
				  (client/localread.h) */
	unsigned creates_ahead; /* creates answered before they commit, at
				   most (client/acreate.h); 0 = none
				   (cfs-fuse's default:
				   FUSEFS_CREATES_AHEAD) */
};

/*
 * The filesystem's state, not connected yet: @opt and its strings are
 * copied.  Returns 0 and *out, or CFS_ENOMEM.  No thread is started (so a
 * daemon may still fork).
 */
int fusefs_new(struct fusefs **out, const struct fusefs_options *opt,
	       char *errmsg);

/*
 * Connect: open opt->sessions metadata sessions and their fio's (all
 * sharing one ZeroMQ context), giving up after opt->open_timeout_ms.
 * Returns 0, or a CFS_* code with errmsg saying why.
 */
int fusefs_connect(struct fusefs *fs, char *errmsg);

/* Close every session and free; sets *fs to NULL.  NULL-safe.  Call only
 * after the FUSE session loop has returned. */
void fusefs_close(struct fusefs **fs);

/* The FUSE session, for cache invalidations when leases are recalled;
 * set before the loop starts. */
void fusefs_set_session(struct fusefs *fs, struct fuse_session *se);

/* The FUSE loop returned: answer the blocked lock requests still queued
 * (EINTR) and stop retrying them, while the kernel connection can still
 * take the answers (before fuse_session_unmount).  Done again, harmlessly,
 * by the session's destroy. */
void fusefs_stop_waits(struct fusefs *fs);

/* Send the creates answered ahead that are still queued and stop their
 * senders (client/acreate.h), while the kernel connection is still there
 * for what a failed one invalidates: before fuse_session_destroy.  Done
 * again, harmlessly, by fusefs_close. */
void fusefs_stop_creates(struct fusefs *fs);

/* The operations table; the session's userdata must be a struct fusefs. */
extern const struct fuse_lowlevel_ops fusefs_ops;

#endif /* CFS_CLIENT_FUSEFS_H */
