/* backend.c - difftest's real filesystems: libcfs, and syscalls under a directory (see backend.h). */
#include "backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cfs.h>

/* snprintf for paths: a truncated path only fails the call. */
__attribute__((format(printf, 3, 4))) static void
pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

#define BUFSZ (2 * FM_PATH_MAX + 64)

/* ---- paths and symlink targets ------------------------------------------ */

/* Absolute model paths get the root in front; relative ones pass. */
static const char *
rpath(const struct be *b, const char *path, char *buf)
{
	if (path[0] != '/')
		return path;
	/* "/" is "root", not "root/", which brings the trailing-slash rules
	 * (open O_CREAT: EISDIR, not EEXIST) nor "root/." (needs search
	 * permission on root).  The parent of root is 0777 (be_reset), so
	 * its permissions do not show. */
	if (b->rootlen > 0 && path[strspn(path, "/")] == '\0')
		snprintf(buf, BUFSZ, "%s", b->root);
	else
		snprintf(buf, BUFSZ, "%s%s", b->root, path);
	return buf;
}

const char *
be_realpath(const struct be *b, const char *path, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", b->shown, path);
	return buf;
}

/* A symlink target as stored: absolute ones under the root. */
static const char *
target_out(const struct be *b, const char *target, char *buf)
{
	if (target[0] != '/' || b->rootlen == 0)
		return target;
	snprintf(buf, BUFSZ, "%s%s", b->root, target);
	return buf;
}

/* Back to the model's target, in place; returns the new length. */
static size_t
target_in(const struct be *b, char *t, size_t n)
{
	if (b->rootlen == 0 || n < b->rootlen || memcmp(t, b->root, b->rootlen) != 0)
		return n;
	if (n == b->rootlen) { /* the root itself, stored without a slash */
		t[0] = '/';
		return 1;
	}
	if (t[b->rootlen] != '/')
		return n;
	memmove(t, t + b->rootlen, n - b->rootlen);
	return n - b->rootlen;
}

static void
attr_from_stat(const struct stat *st, struct fm_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->mode = st->st_mode & (S_IFMT | 07777);
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->nlink = (uint32_t)st->st_nlink;
	a->size = S_ISDIR(st->st_mode) ? 0 : (uint64_t)st->st_size;
	a->ino = st->st_ino;
}

struct dent {
	char *name;
	struct fm_attr a;
};

static int
dent_cmp(const void *x, const void *y)
{
	return strcmp(((const struct dent *)x)->name, ((const struct dent *)y)->name);
}

/* ---- posix: credentials -------------------------------------------------
 * setfsuid/setfsgid switch the ids the kernel checks; CAP_SYS_ADMIN (trusted.
 * and security. xattrs) and the other non-fs capabilities survive setfsuid,
 * so a non-root credential also empties the effective capability set. */

static int
caps_set(struct be *b, int all)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	for (int i = 0; i < 2; i++) {
		d[i].permitted = b->cap_perm[i];
		d[i].inheritable = b->cap_inh[i];
		d[i].effective = all ? b->cap_perm[i] : 0;
	}
	return (int)syscall(SYS_capset, &h, d);
}

static void
px_become(struct be *b, int cred)
{
	uint32_t uid = cred < 0 ? 0 : b->uids[cred];

	if (uid == b->cur_uid)
		return;
	if (b->cur_uid != 0) {
		caps_set(b, 1);
		setfsuid(0);
		setfsgid(0);
	}
	if (uid != 0) {
		setfsgid(uid);
		setfsuid(uid);
		caps_set(b, 0);
	}
	b->cur_uid = uid;
}

#define PX(expr) ((expr) < 0 ? -errno : 0)
#define PXREL(p) do { if ((p)[0] != '/') return -EINVAL; } while (0)

static int
px_stat(struct be *b, int cred, const char *path, int follow, struct fm_attr *out)
{
	char buf[BUFSZ], t[BUFSZ];
	struct stat st;

	PXREL(path);
	px_become(b, cred);
	const char *p = rpath(b, path, buf);
	if (fstatat(AT_FDCWD, p, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	attr_from_stat(&st, out);
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(p, t, sizeof(t));
		if (n >= 0)
			out->size = target_in(b, t, (size_t)n);
	}
	return 0;
}

static int
px_mkdir(struct be *b, int cred, const char *path, uint32_t mode)
{
	char buf[BUFSZ];
	PXREL(path);
	px_become(b, cred);
	return PX(mkdir(rpath(b, path, buf), mode));
}

static int
px_rmdir(struct be *b, int cred, const char *path)
{
	char buf[BUFSZ];
	PXREL(path);
	px_become(b, cred);
	return PX(rmdir(rpath(b, path, buf)));
}

static int
px_unlink(struct be *b, int cred, const char *path)
{
	char buf[BUFSZ];
	PXREL(path);
	px_become(b, cred);
	return PX(unlink(rpath(b, path, buf)));
}

static int
px_rename(struct be *b, int cred, const char *from, const char *to, unsigned flags)
{
	char b1[BUFSZ], b2[BUFSZ];
	PXREL(from);
	PXREL(to);
	px_become(b, cred);
	return PX(renameat2(AT_FDCWD, rpath(b, from, b1), AT_FDCWD, rpath(b, to, b2), flags));
}

static int
px_link(struct be *b, int cred, const char *from, const char *to)
{
	char b1[BUFSZ], b2[BUFSZ];
	PXREL(from);
	PXREL(to);
	px_become(b, cred);
	return PX(linkat(AT_FDCWD, rpath(b, from, b1), AT_FDCWD, rpath(b, to, b2), 0));
}

static int
px_symlink(struct be *b, int cred, const char *target, const char *linkpath)
{
	char b1[BUFSZ], b2[BUFSZ];
	PXREL(linkpath);
	px_become(b, cred);
	return PX(symlink(target_out(b, target, b1), rpath(b, linkpath, b2)));
}

static ssize_t
px_readlink(struct be *b, int cred, const char *path, char *out, size_t len)
{
	char buf[BUFSZ], t[BUFSZ];
	PXREL(path);
	px_become(b, cred);
	if (len == 0) /* readlink(2) says EINVAL before looking */
		return -EINVAL;
	ssize_t n = readlink(rpath(b, path, buf), t, sizeof(t));
	if (n < 0)
		return -errno;
	n = (ssize_t)target_in(b, t, (size_t)n);
	if ((size_t)n > len)
		n = (ssize_t)len;
	memcpy(out, t, (size_t)n);
	return n;
}

static int
px_chmod(struct be *b, int cred, const char *path, uint32_t mode)
{
	char buf[BUFSZ];
	PXREL(path);
	px_become(b, cred);
	return PX(chmod(rpath(b, path, buf), mode));
}

static int
px_chown(struct be *b, int cred, const char *path, uint32_t uid, uint32_t gid)
{
	char buf[BUFSZ];
	PXREL(path);
	px_become(b, cred);
	return PX(chown(rpath(b, path, buf), uid, gid));
}

static int
px_truncate(struct be *b, int cred, const char *path, int64_t size)
{
	char buf[BUFSZ];
	PXREL(path);
	px_become(b, cred);
	return PX(truncate(rpath(b, path, buf), size));
}

/* Linux opens a directory O_RDONLY and fails the read with EISDIR; cfs_open
 * and the model fail the open: the backend reports EISDIR at the open. */
static int64_t
px_open(struct be *b, int cred, const char *path, int flags, uint32_t mode)
{
	char buf[BUFSZ];
	struct stat st;
	PXREL(path);
	px_become(b, cred);
	int fd = open(rpath(b, path, buf), flags | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	return fd;
}

static ssize_t
px_pwrite(struct be *b, int64_t h, uint64_t off, const void *buf, size_t n)
{
	size_t done = 0;
	(void)b;
	while (done < n) {
		ssize_t r = off == BE_APPEND
			? write((int)h, (const char *)buf + done, n - done)
			: pwrite((int)h, (const char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0)
			return -errno;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static ssize_t
px_pread(struct be *b, int64_t h, uint64_t off, void *buf, size_t n)
{
	size_t done = 0;
	(void)b;
	while (done < n) {
		ssize_t r = pread((int)h, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static int
px_close(struct be *b, int64_t h)
{
	(void)b;
	return PX(close((int)h));
}

static int
px_setxattr(struct be *b, int cred, const char *path, const char *name,
	    const void *value, size_t size, int flags)
{
	char buf[BUFSZ];
	PXREL(path);
	px_become(b, cred);
	return PX(setxattr(rpath(b, path, buf), name, value, size, flags));
}

static ssize_t
px_getxattr(struct be *b, int cred, const char *path, const char *name, void *value, size_t size)
{
	char buf[BUFSZ];
	PXREL(path);
	px_become(b, cred);
	ssize_t n = getxattr(rpath(b, path, buf), name, value, size);
	return n < 0 ? -errno : n;
}

static ssize_t
px_listxattr(struct be *b, int cred, const char *path, char *list, size_t size)
{
	char buf[BUFSZ];
	PXREL(path);
	px_become(b, cred);
	ssize_t n = listxattr(rpath(b, path, buf), list, size);
	return n < 0 ? -errno : n;
}

static int
px_removexattr(struct be *b, int cred, const char *path, const char *name)
{
	char buf[BUFSZ];
	PXREL(path);
	px_become(b, cred);
	return PX(removexattr(rpath(b, path, buf), name));
}

/* Names as @cred (opendir needs read permission), then each entry's
 * lstat as root (it needs search permission, which the listing does not). */
static int
px_readdir(struct be *b, int cred, const char *path, be_dirent_cb cb, void *arg)
{
	char buf[BUFSZ], ep[BUFSZ];
	struct dent *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	int rc = 0;

	PXREL(path);
	px_become(b, cred);
	const char *p = rpath(b, path, buf);
	DIR *d = opendir(p);
	if (d == NULL)
		return -errno;
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			v = realloc(v, cap * sizeof(*v));
		}
		v[n++].name = strdup(e->d_name);
	}
	if (errno != 0)
		rc = -errno;
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), dent_cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		snprintf(ep, sizeof(ep), "%s/%s", path, v[i].name);
		rc = px_stat(b, BE_ADMIN, ep, 0, &v[i].a);
		if (rc == 0)
			rc = cb(arg, v[i].name, &v[i].a);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	return rc < 0 ? rc : (int)n;
}

static const struct be_ops posix_ops = {
	"posix", px_stat, px_mkdir, px_rmdir, px_unlink, px_rename, px_link,
	px_symlink, px_readlink, px_chmod, px_chown, px_truncate, px_open,
	px_pwrite, px_pread, px_close, px_setxattr, px_getxattr, px_listxattr,
	px_removexattr, px_readdir,
};

struct be *
be_posix_new(const char *dir, const uint32_t *uids, unsigned nuids, char *err, size_t errlen)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	struct stat st;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--dir %s: not a directory", dir);
		return NULL;
	}
	if (geteuid() != 0 || setgroups(0, NULL) < 0) {
		snprintf(err, errlen, "the posix backend runs as root (for setfsuid)");
		return NULL;
	}
	if (syscall(SYS_capget, &h, d) < 0) {
		snprintf(err, errlen, "capget: %s", strerror(errno));
		return NULL;
	}
	struct be *b = calloc(1, sizeof(*b));
	b->ops = &posix_ops;
	for (int i = 0; i < 2; i++) {
		b->cap_perm[i] = d[i].permitted;
		b->cap_inh[i] = d[i].inheritable;
	}
	snprintf(b->base, sizeof(b->base), "%s", dir);
	memcpy(b->uids, uids, nuids * sizeof(*uids));
	b->nuids = nuids;
	b->outfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	umask(0); /* cfs applies none */
	return b;
}

/* ---- cfs ------------------------------------------------------------------ */

static struct cfs *
cf(struct be *b, int cred)
{
	return b->fs[cred < 0 ? (int)b->nuids : cred];
}

static int
cf_stat(struct be *b, int cred, const char *path, int follow, struct fm_attr *out)
{
	char buf[BUFSZ], t[BUFSZ];
	struct stat st;
	const char *p = rpath(b, path, buf);
	int rc = follow ? cfs_stat(cf(b, cred), p, &st) : cfs_lstat(cf(b, cred), p, &st);
	if (rc != 0)
		return rc;
	attr_from_stat(&st, out);
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = cfs_readlink(cf(b, BE_ADMIN), p, t, sizeof(t));
		if (n >= 0)
			out->size = target_in(b, t, (size_t)n);
	}
	return 0;
}

static int
cf_mkdir(struct be *b, int cred, const char *path, uint32_t mode)
{
	char buf[BUFSZ];
	return cfs_mkdir(cf(b, cred), rpath(b, path, buf), mode);
}

static int
cf_rmdir(struct be *b, int cred, const char *path)
{
	char buf[BUFSZ];
	return cfs_rmdir(cf(b, cred), rpath(b, path, buf));
}

static int
cf_unlink(struct be *b, int cred, const char *path)
{
	char buf[BUFSZ];
	return cfs_unlink(cf(b, cred), rpath(b, path, buf));
}

static int
cf_rename(struct be *b, int cred, const char *from, const char *to, unsigned flags)
{
	char b1[BUFSZ], b2[BUFSZ];
	return cfs_rename(cf(b, cred), rpath(b, from, b1), rpath(b, to, b2), flags);
}

static int
cf_link(struct be *b, int cred, const char *from, const char *to)
{
	char b1[BUFSZ], b2[BUFSZ];
	return cfs_link(cf(b, cred), rpath(b, from, b1), rpath(b, to, b2));
}

static int
cf_symlink(struct be *b, int cred, const char *target, const char *linkpath)
{
	char b1[BUFSZ], b2[BUFSZ];
	return cfs_symlink(cf(b, cred), target_out(b, target, b1), rpath(b, linkpath, b2));
}

static ssize_t
cf_readlink(struct be *b, int cred, const char *path, char *out, size_t len)
{
	char buf[BUFSZ], t[BUFSZ];
	if (len == 0)
		return cfs_readlink(cf(b, cred), rpath(b, path, buf), out, 0);
	ssize_t n = cfs_readlink(cf(b, cred), rpath(b, path, buf), t, sizeof(t));
	if (n < 0)
		return n;
	n = (ssize_t)target_in(b, t, (size_t)n);
	if ((size_t)n > len)
		n = (ssize_t)len;
	memcpy(out, t, (size_t)n);
	return n;
}

static int
cf_chmod(struct be *b, int cred, const char *path, uint32_t mode)
{
	char buf[BUFSZ];
	return cfs_chmod(cf(b, cred), rpath(b, path, buf), mode);
}

static int
cf_chown(struct be *b, int cred, const char *path, uint32_t uid, uint32_t gid)
{
	char buf[BUFSZ];
	return cfs_chown(cf(b, cred), rpath(b, path, buf), uid, gid);
}

static int
cf_truncate(struct be *b, int cred, const char *path, int64_t size)
{
	char buf[BUFSZ];
	return cfs_truncate(cf(b, cred), rpath(b, path, buf), size);
}

static int64_t
cf_open(struct be *b, int cred, const char *path, int flags, uint32_t mode)
{
	char buf[BUFSZ];
	struct cfs_file *f;
	int64_t h;

	for (h = 0; h < 4 && b->files[h] != NULL; h++)
		;
	if (h == 4)
		return -EMFILE;
	int rc = cfs_open(cf(b, cred), rpath(b, path, buf), flags, mode, &f);
	if (rc != 0)
		return rc;
	b->files[h] = f;
	return h;
}

static ssize_t
cf_pwrite(struct be *b, int64_t h, uint64_t off, const void *buf, size_t n)
{
	if (off == BE_APPEND)
		return cfs_write(b->files[h], buf, n);
	return cfs_pwrite(b->files[h], buf, n, (off_t)off);
}

static ssize_t
cf_pread(struct be *b, int64_t h, uint64_t off, void *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = cfs_pread(b->files[h], (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0)
			return r;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static int
cf_close(struct be *b, int64_t h)
{
	return cfs_close(&b->files[h]);
}

static int
cf_setxattr(struct be *b, int cred, const char *path, const char *name,
	    const void *value, size_t size, int flags)
{
	char buf[BUFSZ];
	return cfs_setxattr(cf(b, cred), rpath(b, path, buf), name, value, size, flags);
}

static ssize_t
cf_getxattr(struct be *b, int cred, const char *path, const char *name, void *value, size_t size)
{
	char buf[BUFSZ];
	return cfs_getxattr(cf(b, cred), rpath(b, path, buf), name, value, size);
}

static ssize_t
cf_listxattr(struct be *b, int cred, const char *path, char *list, size_t size)
{
	char buf[BUFSZ];
	return cfs_listxattr(cf(b, cred), rpath(b, path, buf), list, size);
}

static int
cf_removexattr(struct be *b, int cred, const char *path, const char *name)
{
	char buf[BUFSZ];
	return cfs_removexattr(cf(b, cred), rpath(b, path, buf), name);
}

static int
cf_readdir(struct be *b, int cred, const char *path, be_dirent_cb cb, void *arg)
{
	char buf[BUFSZ], ep[BUFSZ], t[BUFSZ];
	struct cfs_dir *d;
	struct cfs_dirent e;
	struct dent *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	const char *p = rpath(b, path, buf);
	rc = cfs_opendir(cf(b, cred), p, &d);
	if (rc != 0)
		return rc;
	while ((rc = cfs_readdir(d, &e)) == 1) {
		if (strcmp(e.name, ".") == 0 || strcmp(e.name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			v = realloc(v, cap * sizeof(*v));
		}
		v[n].name = strdup(e.name);
		attr_from_stat(&e.st, &v[n].a);
		if (S_ISLNK(e.st.st_mode)) {
			snprintf(ep, sizeof(ep), "%s/%s", p, e.name);
			ssize_t k = cfs_readlink(cf(b, BE_ADMIN), ep, t, sizeof(t));
			if (k >= 0)
				v[n].a.size = target_in(b, t, (size_t)k);
		}
		n++;
	}
	cfs_closedir(&d);
	if (n > 1)
		qsort(v, n, sizeof(*v), dent_cmp);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = cb(arg, v[i].name, &v[i].a);
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	return rc < 0 ? rc : (int)n;
}

static const struct be_ops cfs_ops = {
	"cfs", cf_stat, cf_mkdir, cf_rmdir, cf_unlink, cf_rename, cf_link,
	cf_symlink, cf_readlink, cf_chmod, cf_chown, cf_truncate, cf_open,
	cf_pwrite, cf_pread, cf_close, cf_setxattr, cf_getxattr, cf_listxattr,
	cf_removexattr, cf_readdir,
};

struct be *
be_cfs_new(const char *addrs, const char *root, const uint32_t *uids, unsigned nuids,
	   char *err, size_t errlen)
{
	struct be *b = calloc(1, sizeof(*b));
	b->ops = &cfs_ops;
	snprintf(b->base, sizeof(b->base), "%s", strcmp(root, "/") == 0 ? "" : root);
	memcpy(b->uids, uids, nuids * sizeof(*uids));
	b->nuids = nuids;
	for (unsigned i = 0; i <= nuids; i++) {
		struct cfs_options o;
		cfs_options_init(&o);
		o.use_process_creds = 0;
		o.uid = i < nuids ? uids[i] : 0;
		o.gid = o.uid;
		o.ngroups = 0;
		o.client_name = "difftest";
		if (cfs_connect(&b->fs[i], addrs, &o) != 0) {
			snprintf(err, errlen, "cfs_connect %s: %s", addrs, cfs_errmsg(NULL));
			be_free(&b);
			return NULL;
		}
	}
	return b;
}

/* ---- fresh root ------------------------------------------------------------ */

/* rm -r of model path @path's contents (and @path itself if @self), as
 * admin, through the backend's own calls. */
static int
rm_cb(void *arg, const char *name, const struct fm_attr *a)
{
	char **names = arg;
	(void)a;
	for (int i = 0; i < 4096; i++)
		if (names[i] == NULL) {
			names[i] = strdup(name);
			break;
		}
	return 0;
}

static int
rm_tree(struct be *b, const char *path, int self)
{
	char **names = calloc(4097, sizeof(char *));
	char p[BUFSZ];
	struct fm_attr a;
	int rc = b->ops->readdir(b, BE_ADMIN, path, rm_cb, names);
	for (int i = 0; rc >= 0 && names[i] != NULL; i++) {
		snprintf(p, sizeof(p), "%s/%s", strcmp(path, "/") == 0 ? "" : path, names[i]);
		rc = b->ops->stat(b, BE_ADMIN, p, 0, &a);
		if (rc == 0)
			rc = S_ISDIR(a.mode) ? rm_tree(b, p, 1) : b->ops->unlink(b, BE_ADMIN, p);
	}
	for (int i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
	if (rc >= 0 && self)
		rc = b->ops->rmdir(b, BE_ADMIN, path);
	return rc < 0 ? rc : 0;
}

/* Back to the base: paths are base-relative again, outside any chroot. */
static void
leave_root(struct be *b)
{
	if (b->chrooted) {
		px_become(b, BE_ADMIN);
		if (fchdir(b->outfd) == 0 && chroot(".") == 0)
			b->chrooted = 0;
	}
	snprintf(b->root, sizeof(b->root), "%s", b->base);
	b->rootlen = strlen(b->root);
}

/* rm -r of base-relative @p if it exists. */
static int
remove_path(struct be *b, const char *p)
{
	struct fm_attr a;
	int rc = b->ops->stat(b, BE_ADMIN, p, 0, &a);
	if (rc == 0)
		rc = S_ISDIR(a.mode) ? rm_tree(b, p, 1) : b->ops->unlink(b, BE_ADMIN, p);
	return rc == -ENOENT ? 0 : rc;
}

int
be_reset(struct be *b, const char *name, char *err, size_t errlen)
{
	char p[FM_PATH_MAX + 300];
	int rc;

	leave_root(b);
	if (b->ops == &cfs_ops && b->base[0] != '\0') { /* mkdir -p --root, 0777 */
		b->root[0] = '\0';
		b->rootlen = 0;
		b->ops->mkdir(b, BE_ADMIN, b->base, 0777);
		b->ops->chmod(b, BE_ADMIN, b->base, 0777);
		leave_root(b);
	}
	snprintf(p, sizeof(p), "/%s", name);
	rc = remove_path(b, p);
	if (rc == 0)
		rc = b->ops->mkdir(b, BE_ADMIN, p, 0777);
	pathf(b->shown, sizeof(b->shown), "%s/%s", b->base, name);
	if (rc == 0 && b->ops == &posix_ops) {
		/* chroot: the model's "/" is "/", ".." of it too, permissions
		 * of the real parents play no part, no translation at all */
		if (chdir(b->shown) < 0 || chroot(".") < 0 || chdir("/") < 0)
			rc = -errno;
		else
			b->chrooted = 1;
		b->root[0] = '\0';
		b->rootlen = 0;
	} else {
		snprintf(b->root, sizeof(b->root), "%s", b->shown);
		b->rootlen = strlen(b->root);
	}
	if (rc == 0)
		rc = b->ops->chmod(b, BE_ADMIN, "/", 0777);
	if (rc == 0)
		rc = b->ops->chown(b, BE_ADMIN, "/", 0, 0);
	if (rc != 0)
		snprintf(err, errlen, "%s backend: making the root %s: %s", b->ops->name,
			 b->shown, strerror(-rc));
	return rc;
}

int
be_remove(struct be *b)
{
	char p[FM_PATH_MAX + 300];
	snprintf(p, sizeof(p), "%s", b->shown + strlen(b->base));
	leave_root(b);
	return remove_path(b, p);
}

void
be_free(struct be **bp)
{
	struct be *b = *bp;
	if (b == NULL)
		return;
	for (unsigned i = 0; i < 17; i++)
		cfs_disconnect(&b->fs[i]);
	if (b->ops == &posix_ops) {
		leave_root(b);
		close(b->outfd);
	}
	free(b);
	*bp = NULL;
}

const char *
be_errmsg(const struct be *b)
{
	return b->ops == &cfs_ops ? cfs_errmsg(NULL) : "";
}
