/* backend.h - the real filesystems difftest compares with the model: libcfs on a cluster, or plain syscalls under a local directory (a cfs-fuse mount too). */
#ifndef DIFFTEST_BACKEND_H
#define DIFFTEST_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fsmodel.h"

/*
 * A backend runs the model's calls on a real filesystem, with the same
 * signatures (0 or a count, or -errno) except that the model and its
 * credentials are replaced by the backend and a credential index @cred:
 * an index into the uids given to be_*_new() (uid, gid = uid, no
 * supplementary groups), or BE_ADMIN for root with every capability (used
 * by the driver for setup and full comparisons, never for a step).
 *
 * Paths are the MODEL's paths: "/" is the backend's root directory (made
 * by be_reset()).  The backend prefixes absolute paths with its root and
 * passes relative ones through (libcfs refuses them with EINVAL; the posix
 * backend returns -EINVAL itself, as Linux would resolve them from the
 * working directory).  Absolute symlink targets are stored prefixed too,
 * and readlink(), stat() and readdir() translate them back (a symlink's
 * size is the length of the model's target), so the model never sees the
 * prefix.
 *
 * Files: open() returns a handle >= 0; pwrite() with off == BE_APPEND
 * writes at the end of the file (write(2) of an O_APPEND file);
 * close() frees the handle and returns the close error.
 */
#define BE_ADMIN (-1)
#define BE_APPEND UINT64_MAX

struct be;
typedef int (*be_dirent_cb)(void *arg, const char *name, const struct fm_attr *a);

struct be_ops {
	const char *name;
	int (*stat)(struct be *b, int cred, const char *path, int follow, struct fm_attr *out);
	int (*mkdir)(struct be *b, int cred, const char *path, uint32_t mode);
	int (*rmdir)(struct be *b, int cred, const char *path);
	int (*unlink)(struct be *b, int cred, const char *path);
	int (*rename)(struct be *b, int cred, const char *from, const char *to, unsigned flags);
	int (*link)(struct be *b, int cred, const char *from, const char *to);
	int (*symlink)(struct be *b, int cred, const char *target, const char *linkpath);
	ssize_t (*readlink)(struct be *b, int cred, const char *path, char *buf, size_t len);
	int (*chmod)(struct be *b, int cred, const char *path, uint32_t mode);
	int (*chown)(struct be *b, int cred, const char *path, uint32_t uid, uint32_t gid);
	int (*truncate)(struct be *b, int cred, const char *path, int64_t size);
	int64_t (*open)(struct be *b, int cred, const char *path, int flags, uint32_t mode);
	ssize_t (*pwrite)(struct be *b, int64_t h, uint64_t off, const void *buf, size_t n);
	ssize_t (*pread)(struct be *b, int64_t h, uint64_t off, void *buf, size_t n);
	int (*close)(struct be *b, int64_t h);
	int (*setxattr)(struct be *b, int cred, const char *path, const char *name,
			const void *value, size_t size, int flags);
	ssize_t (*getxattr)(struct be *b, int cred, const char *path, const char *name,
			    void *value, size_t size);
	/* names NUL-separated in the backend's order (the driver sorts) */
	ssize_t (*listxattr)(struct be *b, int cred, const char *path, char *list, size_t size);
	int (*removexattr)(struct be *b, int cred, const char *path, const char *name);
	/* entries without "." and "..", in the backend's order; attributes as
	 * lstat gives them (read as root); returns the count or -errno */
	int (*readdir)(struct be *b, int cred, const char *path, be_dirent_cb cb, void *arg);
};

struct be {
	const struct be_ops *ops;
	char base[FM_PATH_MAX];  /* --dir or --root */
	char root[FM_PATH_MAX];  /* prefix of every path: base/<name> for cfs,
				    "" for posix (chrooted there) */
	char shown[FM_PATH_MAX]; /* base/<name>, for messages and manifests */
	size_t rootlen;
	uint32_t uids[16];
	unsigned nuids;
	/* posix */
	uint32_t cur_uid;        /* the fsuid now in force */
	uint32_t cap_perm[2], cap_inh[2];
	int outfd, chrooted;     /* the real "/", to leave the chroot */
	/* cfs */
	struct cfs *fs[17];      /* one per uid, then the admin one */
	struct cfs_file *files[4];
};

/* New backend; NULL with a message in @err on failure.  Caller frees with
 * be_free().  @dir / @addrs and @uids are copied. */
struct be *be_posix_new(const char *dir, const uint32_t *uids, unsigned nuids,
			char *err, size_t errlen);
struct be *be_cfs_new(const char *addrs, const char *root, const uint32_t *uids,
		      unsigned nuids, char *err, size_t errlen);
void be_free(struct be **b);

/* Make base/@name the backend's fresh, empty root, mode 0777, owned by
 * 0:0 (removing a previous one with everything in it).  The posix backend
 * chroots into it (and out again for the next reset or be_free()), so
 * that the model's "/" is "/" exactly; cfs prefixes paths.  0 or -errno
 * with a message in @err. */
int be_reset(struct be *b, const char *name, char *err, size_t errlen);
/* rm -r of the current root; 0 or -errno. */
int be_remove(struct be *b);

/* The message of the backend's last failed call (cfs_errmsg()), or "". */
const char *be_errmsg(const struct be *b);

/* The real path of model path @path into @buf (for messages, manifests). */
const char *be_realpath(const struct be *b, const char *path, char *buf, size_t len);

#endif
