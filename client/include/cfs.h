/* cfs.h - libcfs, the CFS client library: POSIX-like namespace and file calls on a CFS cluster. */
#ifndef CFS_H
#define CFS_H

/*
 * NAME
 *	libcfs - use a CFS cluster from a C program without mounting it
 *
 * SYNOPSIS
 *	#include <cfs.h>
 *	cc prog.c $(pkg-config --cflags --libs cfs)
 *
 *	The header needs the POSIX.1-2008 types (struct timespec, ssize_t):
 *	compile as C11 or later, in a GNU mode, or with _POSIX_C_SOURCE
 *	200809L defined before the first #include.  C++ works too.
 *
 *	struct cfs *fs;
 *	if (cfs_connect(&fs, "10.0.0.1:7000,10.0.0.2:7000", NULL) != 0)
 *		errx(1, "%s", cfs_errmsg(NULL));
 *	struct cfs_file *f;
 *	if (cfs_open(fs, "/logs/today", O_WRONLY | O_CREAT | O_APPEND,
 *		     0644, &f) != 0 ||
 *	    cfs_write(f, "hello\n", 6) < 0 || cfs_close(&f) != 0)
 *		errx(1, "%s", cfs_errmsg(fs));
 *	cfs_disconnect(&fs);
 *
 * DESCRIPTION
 *   Connection.  A `struct cfs` is one client of one cluster.  It talks to
 *   the metadata servers over a small pool of metadata sessions, opened on
 *   demand up to cfs_options.max_sessions, each with its own data-path
 *   sockets; a call borrows one session for its duration.
 *
 *   Paths.  Every path is absolute ("/a/b"); a relative one fails with
 *   EINVAL.  A path is resolved one component at a time with a lookup on
 *   the metadata leader: names are not cached, so a path of N components
 *   costs N round trips.  "." and ".." work, ".." of
 *   "/" is "/".  Symbolic links are followed in every component but the
 *   last, and in the last one too unless the call says otherwise (cfs_lstat,
 *   cfs_readlink, cfs_link's source, cfs_unlink, cfs_rename, O_NOFOLLOW);
 *   relative targets resolve from the link's directory; more than 40 links
 *   in one resolution fail with ELOOP.  A path of CFS_PATH_MAX bytes or
 *   more, or a component of more than CFS_NAME_MAX bytes, fails with
 *   ENAMETOOLONG; a component that is not a directory fails with ENOTDIR;
 *   a missing one with ENOENT.  A trailing "/" requires a directory.
 *
 *   Credentials.  Every request carries a uid, a gid and up to
 *   CFS_MAX_GROUPS supplementary groups, and the metadata servers check
 *   permissions against them as POSIX does (root passes every check).  By
 *   default they are the process's effective ids as they were at
 *   cfs_connect(); cfs_options can name others (the servers trust the
 *   client: this is not authentication).  cfs_open() checks read/write
 *   permission from the file's mode, and the servers check it again on
 *   every data read and write-out, against the uid and gid only (not the
 *   supplementary groups).  So, unlike POSIX, a file created without write
 *   permission for its creator cannot be written even through the open
 *   that created it, and a chmod takes effect on files already open.  No
 *   umask is applied: a mode passed in is the mode the object gets.
 *
 *   Consistency.  Namespace calls are synchronous and durable when they
 *   return (they went through the cluster's Raft log), and visible to
 *   every client at once.  File data goes by leases, which the metadata
 *   leader grants per inode, and which this client takes as it reads and
 *   writes (docs/leases.md): a write lease (exclusive) lets it buffer a
 *   file's writes, one contiguous dirty range of up to CFS_WRITE_BUFFER
 *   bytes per open file, written out durably (fsync'd on every replica)
 *   when it is full, when a write does not touch it, on cfs_fsync(), on
 *   cfs_close(), and when another client wants the inode: the leader
 *   recalls the lease, and a thread of this client writes the buffers
 *   out before it gives the lease up.  A read lease (shared) lets an open
 *   file keep serving what it read ahead (up to 4 MiB) until another
 *   client writes.  So a read that starts after a cfs_write() returned
 *   sees it, on any client.  Without the lease (another client would not
 *   give its own up within 12 s: it died, and its session must expire),
 *   a write goes out before it returns and a read asks the data nodes.
 *   Within one struct cfs, a read, a stat, a truncation or a write
 *   through another file of the same inode first writes out or accounts
 *   for the buffered data.  Another client's cfs_stat() shows the size
 *   the leader has, which buffered writes reach at cfs_fsync(),
 *   cfs_close() or a recall.  Concurrent writers on different clients
 *   take the write lease in turns; the last write-out of a byte wins.  A
 *   file unlinked while open here fails its next write-out with ENOENT (no
 *   "silly rename" yet).
 *
 *   Errors.  Every call returns 0 (or a count) on success and a negated
 *   errno value on failure; nothing sets errno.  cfs_errmsg() then tells
 *   what failed, where and why, e.g.
 *	"mkdir /a/b: 'a': no such file or directory".
 *   Besides the errors listed with each call, any call that reaches the
 *   cluster may fail with ETIMEDOUT or EAGAIN (no leader reachable within
 *   cfs_options.call_timeout_ms; a mutation may or may not have happened),
 *   EIO (a data node or replica failed beyond recovery), EPROTO (a malformed
 *   reply), ESTALE (the session expired mid-request), ENOSPC, or ENOMEM.
 *   libcfs never aborts on running out of memory: the call fails with
 *   ENOMEM.
 *
 *   Threads.  A struct cfs may be used from any number of threads at once;
 *   each call borrows its own session, so up to max_sessions calls are in
 *   flight.  A struct cfs_file or struct cfs_dir must be used by one thread
 *   at a time (libcfs itself may write out a file's buffer from another
 *   thread, under its own lock).  cfs_errmsg() is per thread.
 *   cfs_connect() starts two threads of its own for the leases (one waits
 *   for the leader's recalls, one answers them), each with a session of
 *   its own; cfs_disconnect() stops them.
 *
 *   Logging.  libcfs writes nothing to stdout.  Events the data path
 *   recovers from (a replica failing over, a fragment written again) are
 *   logged to stderr as "cfs ... WARN" lines; CFS_LOG=error silences them.
 *
 *   Not there yet: caches of names and attributes (each path is looked
 *   up, each stat asked), mmap, device nodes and FIFOs (cfs_open fails
 *   with EINVAL), access(2), fallocate.
 */

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits and constants ------------------------------------------------ */

#define CFS_NAME_MAX 255      /* bytes in one path component */
#define CFS_PATH_MAX 4096     /* a path must be shorter than this */
#define CFS_MAX_GROUPS 32     /* supplementary groups sent with a request */
#define CFS_WRITE_BUFFER (16u << 20) /* the dirty range of one open file */

/* cfs_rename() flags: the values of renameat2(2)'s RENAME_NOREPLACE and
 * RENAME_EXCHANGE. */
#ifndef CFS_RENAME_NOREPLACE
#define CFS_RENAME_NOREPLACE (1u << 0)
#endif
#ifndef CFS_RENAME_EXCHANGE
#define CFS_RENAME_EXCHANGE (1u << 1)
#endif

/* ---- connecting ---------------------------------------------------------- */

struct cfs;      /* one client of one cluster */
struct cfs_file; /* an open regular file */
struct cfs_dir;  /* an open directory listing */

/* The value cfs_options_init() puts in cfs_options.version. */
#define CFS_OPTIONS_VERSION 1

/*
 * Connection options.  Always start from cfs_options_init() and then change
 * fields: a struct that did not pass through it is refused (EINVAL), so a
 * zero-filled one can never connect as root by accident.  Later versions
 * only add fields in place of `reserved`, so the size stays the same.
 */
struct cfs_options {
	unsigned version;          /* CFS_OPTIONS_VERSION */
	/* Credentials.  1 (default): the process's effective uid, gid and
	 * supplementary groups, read once by cfs_connect().  0: the ones
	 * below. */
	int use_process_creds;
	uid_t uid;
	gid_t gid;
	unsigned ngroups;          /* 0..CFS_MAX_GROUPS */
	gid_t groups[CFS_MAX_GROUPS];
	/* cfs_connect() fails if no metadata leader answers within this;
	 * default 10000 ms. */
	int connect_timeout_ms;
	/* One call gives up after this (leader failover included);
	 * default 60000 ms. */
	int call_timeout_ms;
	/* Metadata sessions, opened on demand; default 8, at most 64. */
	unsigned max_sessions;
	/* Shown in the servers' logs; default "libcfs".  Borrowed during
	 * cfs_connect() only. */
	const char *client_name;
	/* Bytes of file data kept to answer reads again without the data
	 * nodes: 4 KiB pages of fragment versions, never stale (a read
	 * asks the leader which version is current, and a version's bytes
	 * never change); memory is used as it fills.  Default 64 MiB (also
	 * for programs built before this field, through
	 * cfs_options_init()); 0, or less than 1 MiB: none. */
	size_t data_cache;
	void *reserved[7];         /* zero */
};

/* Fill @opt with the defaults.  @opt is caller memory. */
void cfs_options_init(struct cfs_options *opt);

/*
 * Connect to the cluster whose metadata servers listen at @servers, a
 * comma-separated list of "host:port" (or "tcp://host:port"; one live
 * server is enough, the others are learnt).  @servers and @opt are borrowed
 * for the call only; @opt may be NULL for the defaults.  Waits until a
 * leader answers and a session is open, at most opt->connect_timeout_ms.
 *
 * On success returns 0 and *out is a new handle: the caller owns it and
 * frees it with cfs_disconnect().  On failure *out is NULL and
 * cfs_errmsg(NULL) says why.
 * Errors: EINVAL (no or malformed address, options not from
 * cfs_options_init(), more than CFS_MAX_GROUPS groups), ETIMEDOUT or EAGAIN
 * (no leader answered in time; the message names every address tried),
 * ENOMEM, or the error the leader refused the session with.
 * Thread safety: any thread; no global state but the per-thread message.
 */
int cfs_connect(struct cfs **out, const char *servers,
		const struct cfs_options *opt);

/*
 * Close the sessions and free everything; sets *fs to NULL.  NULL-safe.
 * Close every file and directory first: files still open are written out
 * (errors are lost) and freed, and their pointers must not be used again;
 * directories still open leak.  No other thread may be using *fs.
 */
void cfs_disconnect(struct cfs **fs);

/*
 * The message of the last failed call made by the calling thread, on any
 * struct cfs (@fs is unused and may be NULL, so a failed cfs_connect() can
 * be explained).  "" if none failed yet.  Successful calls leave it as is.
 * The string belongs to libcfs and stays valid until this thread's next
 * failing call or its exit.
 */
const char *cfs_errmsg(struct cfs *fs);

/* ---- namespace -------------------------------------------------------------
 * All take an absolute @path (borrowed) and return 0 or -errno, with the
 * path errors described above (EINVAL, ENAMETOOLONG, ENOENT, ENOTDIR,
 * ELOOP, EACCES for a directory on the way without search permission). */

/* The attributes of @path (following a final symlink) or of the link itself
 * (cfs_lstat) into *st (caller memory).  st_size includes data buffered by
 * this struct cfs; st_blocks is the size in 512-byte units; st_dev is 0;
 * times have nanoseconds. */
int cfs_stat(struct cfs *fs, const char *path, struct stat *st);
int cfs_lstat(struct cfs *fs, const char *path, struct stat *st);

/* Create directory @path with permission bits @mode & 07777.  It inherits
 * its parent's goal.  Errors: EEXIST (anything exists there, "/" too),
 * EACCES (no write permission on the parent), EMLINK. */
int cfs_mkdir(struct cfs *fs, const char *path, mode_t mode);

/* Remove the empty directory @path.  Errors: ENOTEMPTY, ENOTDIR (not a
 * directory), EBUSY ("/"), EINVAL (last component "."), EACCES, EPERM
 * (sticky parent). */
int cfs_rmdir(struct cfs *fs, const char *path);

/* Remove the name @path (not followed); the file goes with its last link.
 * Errors: EISDIR (a directory), EACCES, EPERM (sticky parent). */
int cfs_unlink(struct cfs *fs, const char *path);

/*
 * Rename @from to @to (neither followed), atomically replacing @to if it
 * exists, as rename(2).  @flags: 0, CFS_RENAME_NOREPLACE (fail with EEXIST
 * if @to exists) or CFS_RENAME_EXCHANGE (swap two existing names).
 * Errors: ENOENT, EEXIST, ENOTDIR / EISDIR (a directory over a non-directory
 * or the reverse), ENOTEMPTY (over a non-empty directory), EINVAL (a
 * directory into its own subtree, or bad flags), EBUSY ("/", "." or ".."),
 * EACCES, EPERM.
 */
int cfs_rename(struct cfs *fs, const char *from, const char *to,
	       unsigned flags);

/* A new name @to for the file @from (not followed).  Errors: EEXIST,
 * EPERM (@from is a directory), EMLINK, EACCES. */
int cfs_link(struct cfs *fs, const char *from, const char *to);

/* Create the symbolic link @linkpath holding @target (any string of 1 to
 * CFS_PATH_MAX - 1 bytes, not checked further).  Errors: EEXIST, ENOENT
 * (empty @target), ENAMETOOLONG, EACCES. */
int cfs_symlink(struct cfs *fs, const char *target, const char *linkpath);

/* Copy the target of symlink @path into @buf (caller memory, @len bytes),
 * truncated to @len and NOT NUL-terminated, as readlink(2).  Returns the
 * bytes copied.  Errors: EINVAL (not a symlink, or @len 0). */
ssize_t cfs_readlink(struct cfs *fs, const char *path, char *buf,
		     size_t len);

/* Set the permission bits (@mode & 07777) of @path.  Errors: EPERM (not
 * the owner or root). */
int cfs_chmod(struct cfs *fs, const char *path, mode_t mode);

/* Change the owner and group of @path; (uid_t)-1 / (gid_t)-1 leave one
 * unchanged.  Errors: EPERM (only root gives files away; the owner may
 * change the group to one of its groups).  Non-root changes clear setuid and
 * setgid of regular files. */
int cfs_chown(struct cfs *fs, const char *path, uid_t uid, gid_t gid);

/* Set the access and modification times of @path as utimensat(2): @ts NULL
 * sets both to the leader's clock; a tv_nsec of UTIME_NOW or UTIME_OMIT
 * means now or unchanged.  Errors: EINVAL (tv_nsec out of range), EPERM
 * (explicit times need the owner), EACCES ("now" needs owner or write
 * permission). */
int cfs_utimens(struct cfs *fs, const char *path, const struct timespec ts[2]);

/* Set the size of regular file @path, cutting or zero-extending it.
 * Data this struct cfs buffered for the file is written out first.
 * Errors: EINVAL (@size < 0, not a regular file), EISDIR, EACCES (no write
 * permission), EFBIG. */
int cfs_truncate(struct cfs *fs, const char *path, off_t size);

/* The filesystem's counters into *st (caller memory): f_bsize/f_frsize,
 * blocks from the data nodes' capacity, f_files/f_ffree, f_namemax. */
int cfs_statfs(struct cfs *fs, struct statvfs *st);

/* ---- extended attributes ----------------------------------------------------
 * On @path, following a final symlink.  Names carry a namespace as on Linux:
 * "user." (the file's read/write permission; regular files and
 * directories), "trusted." (root only), "security." (root to change).
 * Values are at most 65536 bytes.  Common errors: ENOTSUP (another
 * namespace), ERANGE (name longer than 255 bytes), EACCES / EPERM. */

/* Set attribute @name to @size bytes of @value (borrowed).  @flags: 0,
 * XATTR_CREATE (EEXIST if present) or XATTR_REPLACE (ENODATA if absent),
 * from <sys/xattr.h>.  Errors: E2BIG (@size too big), ENOSPC (the file's
 * attributes would pass their total limit), EINVAL (bad @flags). */
int cfs_setxattr(struct cfs *fs, const char *path, const char *name,
		 const void *value, size_t size, int flags);

/* The value of @name: with @size 0 only its length is returned; otherwise
 * it is copied to @value (caller memory of @size bytes).  Returns the
 * length.  Errors: ENODATA (absent), ERANGE (@size too small). */
ssize_t cfs_getxattr(struct cfs *fs, const char *path, const char *name,
		     void *value, size_t size);

/* The names of the attributes the caller may read, each NUL-terminated,
 * back to back, into @list (caller memory), or with @size 0 the length
 * needed.  Returns the length.  Errors: ERANGE (@size too small). */
ssize_t cfs_listxattr(struct cfs *fs, const char *path, char *list,
		      size_t size);

/* Remove attribute @name.  Errors: ENODATA (absent). */
int cfs_removexattr(struct cfs *fs, const char *path, const char *name);

/* ---- replication goal -------------------------------------------------------
 * The goal of a file is the number of replicas each of its fragments is
 * kept at; a directory's goal is what new entries in it inherit. */

/* The goal of @path (followed) into *goal. */
int cfs_getgoal(struct cfs *fs, const char *path, unsigned *goal);

/* Set the goal of @path (followed) to @goal (1..16).  Existing fragments
 * are brought to it by the cluster's repair in the background.
 * Errors: EINVAL (out of range), EPERM (not the owner or root). */
int cfs_setgoal(struct cfs *fs, const char *path, unsigned goal);

/* ---- directory listings ------------------------------------------------- */

/* One entry: its name, inode number, and the attributes it had when the
 * page it came in was read (as cfs_lstat would give). */
struct cfs_dirent {
	char name[CFS_NAME_MAX + 1];
	uint64_t ino;
	struct stat st;
};

/*
 * Open directory @path (followed) for listing; the first page of entries
 * is read at once, so permission errors show here.  On success *d is a new
 * listing (caller frees it with cfs_closedir()); @fs must outlive it.
 * Errors: ENOTDIR, EACCES (no read permission).
 */
int cfs_opendir(struct cfs *fs, const char *path, struct cfs_dir **d);

/*
 * The next entry into *e (caller memory).  Returns 1 with an entry, 0 at
 * the end, or -errno.  "." and ".." come first.  Entries are read in pages
 * of up to 128 from a cursor, so a listing goes on correctly while entries
 * are added or removed: an entry present for the whole listing is returned
 * exactly once; one added or removed meanwhile may or may not be.
 */
int cfs_readdir(struct cfs_dir *d, struct cfs_dirent *e);

/* Free the listing and set *d to NULL.  NULL-safe. */
void cfs_closedir(struct cfs_dir **d);

/* ---- files -------------------------------------------------------------------- */

/*
 * Open regular file @path.  @flags: exactly one of O_RDONLY, O_WRONLY,
 * O_RDWR, plus any of O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NOFOLLOW,
 * O_SYNC / O_DSYNC (every write is written out durably before it returns),
 * and O_CLOEXEC / O_LARGEFILE / O_NOATIME, which are accepted and mean
 * nothing here.  With O_CREAT a missing file is created with @mode & 07777,
 * owned by the caller, inheriting the directory's goal; without O_EXCL an
 * existing file is opened, following a symlink (and if the link dangles,
 * its target is created, as on Linux).  The caller's permission to read
 * and/or write the file is checked here from its attributes (not for a
 * file this call created), and O_TRUNC empties it (it needs write
 * permission, also with O_RDONLY, as on Linux).  On success *f is a new open file positioned at 0: the caller
 * closes it with cfs_close(); @fs must outlive it.
 * Errors: EINVAL (bad flags, not a regular file), EEXIST (O_CREAT|O_EXCL
 * and @path exists, even as a dangling symlink), EISDIR (a directory),
 * ELOOP (O_NOFOLLOW and a symlink), EACCES, ENOENT.
 */
int cfs_open(struct cfs *fs, const char *path, int flags, mode_t mode,
	     struct cfs_file **f);

/*
 * Read up to @n bytes at the file position (cfs_read, which advances it)
 * or at @off (cfs_pread) into @buf (caller memory).  Returns the bytes
 * read, fewer than @n only at the end of the file, 0 at or past it.  Holes
 * read as zeros.  Data of this struct cfs not yet written out is written
 * out first.  Errors: EBADF (opened O_WRONLY), EINVAL (@off < 0, @n >
 * SSIZE_MAX).
 */
ssize_t cfs_read(struct cfs_file *f, void *buf, size_t n);
ssize_t cfs_pread(struct cfs_file *f, void *buf, size_t n, off_t off);

/*
 * Write @n bytes of @buf (borrowed for the call) at the file position
 * (cfs_write, which advances it; with O_APPEND at the end of the file as
 * this client knows it) or at @off (cfs_pwrite, even with O_APPEND, as
 * POSIX says).  Returns @n: a write is all or nothing.  The bytes go to the
 * file's buffer (see Consistency above); a write larger than
 * CFS_WRITE_BUFFER goes out at once.  A write-out that fails fails the
 * call that caused it, or, if another file's read or truncation caused it,
 * that file's next write, cfs_fsync() or cfs_close().
 * Errors: EBADF (opened O_RDONLY), EINVAL (@off < 0), EFBIG (past 2^62
 * bytes), and the write-out errors (EACCES, ENOENT if the file was
 * removed, EIO, ENOSPC, EAGAIN: not enough live data nodes).
 */
ssize_t cfs_write(struct cfs_file *f, const void *buf, size_t n);
ssize_t cfs_pwrite(struct cfs_file *f, const void *buf, size_t n, off_t off);

/* Move the file position to @off from SEEK_SET, SEEK_CUR or SEEK_END (the
 * size as this client knows it) and return it.  Errors: EINVAL (bad
 * @whence, a negative or overflowing result). */
off_t cfs_lseek(struct cfs_file *f, off_t off, int whence);

/* Write out the file's buffer, durably, and report any earlier deferred
 * write-out failure of this file.  After it returns 0 every client reads
 * what was written through @f. */
int cfs_fsync(struct cfs_file *f);

/* Set the file's size as cfs_truncate().  Errors: EBADF (opened O_RDONLY),
 * EINVAL (@size < 0), EFBIG. */
int cfs_ftruncate(struct cfs_file *f, off_t size);

/* The attributes of the open file into *st (caller memory), as cfs_stat(). */
int cfs_fstat(struct cfs_file *f, struct stat *st);

/* ---- advisory locks -----------------------------------------------------------
 * Locks live in the metadata service and hold across machines as they do
 * across processes on one machine (docs/locks.md).  Advisory: reads and
 * writes ignore them.  They go through one metadata session of their own
 * per struct cfs, opened at the first lock call; the service drops a
 * session's locks when it closes (cfs_disconnect) or expires (the process
 * died or lost the cluster for longer than the session lease, ~10 s), and
 * then other clients may take them.  Blocking calls poll the service (2 ms,
 * doubling to 100 ms): there is no queue, so no fairness between waiters,
 * and no deadlock detection (EDEADLK is never returned).
 */

/*
 * POSIX byte-range locks, as fcntl(2): @cmd F_GETLK, F_SETLK or F_SETLKW
 * (waits until the lock can be taken), @fl caller memory.  The owner is the
 * struct cfs, as the process is for fcntl: its locks never conflict with
 * each other, are split, merged and converted as POSIX says, and closing
 * any of its files of an inode releases all of them on that inode.
 * l_whence SEEK_SET, SEEK_CUR (the file position) or SEEK_END (the size as
 * this client knows it); l_len 0 locks to the end of the file however it
 * grows, a negative l_len the bytes before l_start.  F_GETLK fills @fl with
 * the first conflicting lock (l_whence SEEK_SET, l_pid the holder's pid on
 * its own machine) or sets only l_type to F_UNLCK.
 * Errors: EAGAIN (F_SETLK: another owner's lock is in the way; nothing
 * changed), EBADF (a read lock on a file opened O_WRONLY, a write lock on
 * one opened O_RDONLY), EINVAL (bad @cmd, l_type, l_whence or range),
 * ENOENT (the file was removed), and the cluster's errors (ETIMEDOUT).
 */
int cfs_lock(struct cfs_file *f, int cmd, struct flock *fl);

/*
 * Whole-file locks, as flock(2): @op LOCK_SH, LOCK_EX or LOCK_UN, with
 * LOCK_NB not to wait.  The owner is @f: two open files conflict even in
 * one struct cfs; a lock is converted in place (shared to exclusive and
 * back; a conversion that would conflict fails and keeps the old lock).
 * cfs_close(@f) releases it.  flock and cfs_lock locks are independent.
 * Errors: EWOULDBLOCK (LOCK_NB and the lock is held elsewhere), EINVAL
 * (bad @op), ENOENT, and the cluster's errors.
 */
int cfs_flock(struct cfs_file *f, int op);

/*
 * Write out the file's buffer, release the file's flock lock and the
 * struct cfs's POSIX locks on its inode, free the open file and set *f to
 * NULL, whatever the outcome (NULL-safe).  Returns 0, or the error of that
 * write-out or of an earlier deferred one: then data written through @f
 * may be lost, as with close(2).
 */
int cfs_close(struct cfs_file **f);

#ifdef __cplusplus
}
#endif

#endif /* CFS_H */
