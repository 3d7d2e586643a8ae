/* fsmodel.h - the reference model of a CFS namespace and its file contents: the oracle of the differential test (DESIGN.md §7). */
#ifndef CFS_TESTS_MODEL_FSMODEL_H
#define CFS_TESTS_MODEL_FSMODEL_H

/*
 * An in-memory filesystem with the semantics that client/include/cfs.h
 * documents, which are Linux's (ext4/tmpfs) except where cfs.h says
 * otherwise (those places are marked "CFS:" in fsmodel.c).  It is written
 * independently of meta/: it must never share a shortcut with the code it
 * checks.  Each operation states its preconditions (the errno of each, in
 * the order Linux checks them) and checks its postconditions; a failed
 * postcondition or invariant is a bug of the model and is reported as
 * FM_EMODEL with a message in fm_error(), never by aborting.
 *
 * Not modelled: times, st_blocks, goals, open files (a file is freed with
 * its last name), EMLINK, ENOSPC, the fs.protected_* sysctls, the clearing
 * of setuid/setgid by write and truncate.  Inode numbers are the model's
 * own (1 is "/"), never reused.
 *
 * Ownership: every pointer argument is borrowed for the call only; struct
 * fm is owned by the caller of fm_new() and freed with fm_free().  Not
 * thread-safe.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FM_EMODEL 10000      /* returned (positive) when the model's own
				postcondition or invariant failed */
#define FM_NAME_MAX 255
#define FM_PATH_MAX 4096
#define FM_SYMLOOP_MAX 40
#define FM_XATTR_SIZE_MAX 65536

struct fm_cred {
	uint32_t uid, gid;
	unsigned ngroups;
	uint32_t groups[8];
};

struct fm_attr {
	uint32_t mode;   /* type bits S_IFREG/S_IFDIR/S_IFLNK | 07777 */
	uint32_t uid, gid, nlink;
	uint64_t size;   /* regular: bytes; symlink: target length;
			    directory: not compared (set 0) */
	uint64_t ino;    /* the MODEL's inode number (driver maps it) */
};

struct fm; /* opaque */

/* New model: only "/" (ino 1), a directory with @root_mode (07777 bits),
 * owned by @uid:@gid, goal not modelled. NULL on ENOMEM. */
struct fm *fm_new(uint32_t root_mode, uint32_t uid, uint32_t gid);
/* Free *m and set it to NULL; NULL-safe. */
void fm_free(struct fm **m);
/* Message of the last FM_EMODEL (or ""); it stays until the next one.  As
 * FM_EMODEL is also a possible byte count (getxattr, listxattr, pread),
 * a driver tells them apart by fm_error()[0] != '\0'.  Owned by @m. */
const char *fm_error(const struct fm *m);

/* Every call: 0 (or a count) on success, -errno on failure, FM_EMODEL if
 * the model itself is broken. Paths absolute, resolved as cfs.h says
 * (".", "..", ".." of "/" is "/", symlinks followed in every component but
 * the last and in the last unless the call says otherwise, relative link
 * targets from the link's directory, ELOOP after 40 links, ENAMETOOLONG
 * for a component > 255 or path >= 4096 bytes, ENOTDIR, ENOENT, EINVAL for
 * a relative path, a trailing "/" requires a directory, EACCES for a
 * directory on the way without search (x) permission for @c). */
int fm_stat(struct fm *m, const struct fm_cred *c, const char *path,
	    int follow, struct fm_attr *out);
int fm_mkdir(struct fm *m, const struct fm_cred *c, const char *path,
	     uint32_t mode);
int fm_rmdir(struct fm *m, const struct fm_cred *c, const char *path);
int fm_unlink(struct fm *m, const struct fm_cred *c, const char *path);
/* @flags: 0, RENAME_NOREPLACE=1, RENAME_EXCHANGE=2 */
int fm_rename(struct fm *m, const struct fm_cred *c, const char *from,
	      const char *to, unsigned flags);
int fm_link(struct fm *m, const struct fm_cred *c, const char *from,
	    const char *to);
int fm_symlink(struct fm *m, const struct fm_cred *c, const char *target,
	       const char *linkpath);
/* Copies at most @len bytes of the target, not NUL-terminated. */
ssize_t fm_readlink(struct fm *m, const struct fm_cred *c, const char *path,
		    char *buf, size_t len);
int fm_chmod(struct fm *m, const struct fm_cred *c, const char *path,
	     uint32_t mode);
/* (uint32_t)-1 = unchanged */
int fm_chown(struct fm *m, const struct fm_cred *c, const char *path,
	     uint32_t uid, uint32_t gid);
int fm_truncate(struct fm *m, const struct fm_cred *c, const char *path,
		int64_t size);

/* Open regular file @path with @flags (O_RDONLY/O_WRONLY/O_RDWR plus
 * O_CREAT, O_EXCL, O_TRUNC, O_NOFOLLOW, O_APPEND) and @mode as cfs_open()
 * documents; permission checked from the mode bits (not for a file this
 * call created). Returns the model inode number (> 0) or -errno.
 * Open files are NOT tracked: the driver does open+I/O+close as one step,
 * so fm_pwrite/fm_pread take the inode number fm_open returned.
 * (-EBADF if @ino is not a regular file of the model.) */
int64_t fm_open(struct fm *m, const struct fm_cred *c, const char *path,
		int flags, uint32_t mode);
/* Writes at @off even for O_APPEND (cfs.h); extends with zeros. */
int fm_pwrite(struct fm *m, uint64_t ino, uint64_t off, const void *buf,
	      size_t n);
/* 0 past EOF */
ssize_t fm_pread(struct fm *m, uint64_t ino, uint64_t off, void *buf,
		 size_t n);

/* XATTR_CREATE 1 / XATTR_REPLACE 2; the final symlink is followed. */
int fm_setxattr(struct fm *m, const struct fm_cred *c, const char *path,
		const char *name, const void *value, size_t size, int flags);
ssize_t fm_getxattr(struct fm *m, const struct fm_cred *c, const char *path,
		    const char *name, void *value, size_t size);
/* names NUL-separated, SORTED bytewise (the driver sorts the real list too) */
ssize_t fm_listxattr(struct fm *m, const struct fm_cred *c, const char *path,
		     char *list, size_t size);
int fm_removexattr(struct fm *m, const struct fm_cred *c, const char *path,
		   const char *name);

/* The entries of directory @path (followed), without "." and "..", sorted
 * bytewise, each with its lstat attributes: calls @cb for each in order;
 * returns the count or -errno (ENOTDIR, EACCES without read permission).
 * A nonzero return of @cb stops the listing and is returned.  @cb must not
 * change the model. */
int fm_readdir(struct fm *m, const struct fm_cred *c, const char *path,
	       int (*cb)(void *arg, const char *name, const struct fm_attr *a),
	       void *arg);

/* Global invariants; 0, or FM_EMODEL with fm_error() saying which and where:
 * the directories form a tree rooted at "/" (every directory but "/" has
 * exactly one entry naming it, no cycles); every entry names an existing
 * inode; a regular file's or symlink's nlink equals the number of entries
 * naming it; a directory's nlink is 2 + its subdirectories; each
 * directory's ".." is its parent; size equals the content length; names
 * are 1..255 bytes without '/' and not "." / ".."; no inode unreachable
 * with nlink > 0 (unlinked files are freed at once: open files not
 * modelled). */
int fm_check(struct fm *m);

/* Walk every regular file: @cb(arg, path, attr, data) (for the driver's
 * final full comparison).  Paths of the first link found (depth first,
 * entries in bytewise order).  @data is borrowed for the callback (NULL
 * for an empty file).  A nonzero return of @cb stops and is returned;
 * otherwise 0. */
int fm_walk_files(struct fm *m,
		  int (*cb)(void *arg, const char *path,
			    const struct fm_attr *a, const uint8_t *data),
		  void *arg);

/* Test only: break the model on purpose so that fm_check() must fail.
 * @what: 0 a file's nlink off by one, 1 an entry naming no inode, 2 a
 * directory cycle (an entry naming an ancestor), 3 a directory's nlink,
 * 4 a file's size without content, 5 an entry named "..", 6 a directory's
 * ".." pointing elsewhere.  Needs a file "/f" and directory "/d" with a
 * subdirectory "/d/e". */
void fm__corrupt_for_test(struct fm *m, int what);

#endif /* CFS_TESTS_MODEL_FSMODEL_H */
