/* libcfs_check.c - every call of <cfs.h> and its error cases against a running cluster; ok/FAIL lines, exit 1 on failure. */
#include <cfs.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/*
 * Usage: libcfs_check SERVERS [FRAGMENT_SIZE]
 * Uses only the public API, as an application would.  Everything lives
 * under /libcfs-<pid>, so reruns against one cluster do not collide.
 * FRAGMENT_SIZE (default 1 MiB) places the odd-offset writes at fragment
 * boundaries.
 */

static int failures;
static const char *servers;
static char top[64]; /* "/libcfs-<pid>" */
static size_t fsz = 1u << 20;

static void
report(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
report(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s ", ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

/* A call that must succeed (rv >= 0). */
#define OK(call)                                                             \
	do {                                                                 \
		long long rv_ = (long long)(call);                           \
		if (rv_ < 0)                                                 \
			report(0, "%s: %s (%s)", #call,                      \
			       strerror((int)-rv_), cfs_errmsg(NULL));       \
	} while (0)

/* A call that must fail with -err; prints the message it gave. */
#define ERR(err, call, what)                                                 \
	do {                                                                 \
		long long rv_ = (long long)(call);                           \
		report(rv_ == -(err), "%s: %s%s%s", (what),                  \
		       rv_ < 0 ? strerror((int)-rv_) : "succeeded",          \
		       rv_ < 0 ? ": " : "", rv_ < 0 ? cfs_errmsg(NULL) : "");\
		if (rv_ != -(err))                                           \
			printf("     wanted %s\n", strerror(err));           \
	} while (0)

static const char *
P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A path under top, in one of a few rotating static buffers. */
static const char *
P(const char *fmt, ...)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];
	va_list ap;
	int n = snprintf(b, 512, "%s", top);

	va_start(ap, fmt);
	vsnprintf(b + n, 512 - (size_t)n, fmt, ap);
	va_end(ap);
	return b;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct cfs *
connect_as(uid_t uid, gid_t gid)
{
	struct cfs_options o;
	struct cfs *fs = NULL;
	int rv;

	cfs_options_init(&o);
	o.use_process_creds = 0;
	o.uid = uid;
	o.gid = gid;
	o.client_name = "libcfs_check";
	rv = cfs_connect(&fs, servers, &o);
	report(rv == 0, "cfs_connect as uid %u%s%s", (unsigned)uid,
	       rv ? ": " : "", rv ? cfs_errmsg(NULL) : "");
	return fs;
}

/* ---- connecting ---------------------------------------------------------- */

static void
test_connect_errors(void)
{
	struct cfs_options o, zero;
	struct cfs *fs = (struct cfs *)1;
	double t0;
	int rv;

	cfs_options_init(&o);
	o.connect_timeout_ms = 2000;
	t0 = now_s();
	rv = cfs_connect(&fs, "127.0.0.1:1", &o);
	double took = now_s() - t0;
	report(rv < 0 && fs == NULL && took < 8 &&
		       strstr(cfs_errmsg(NULL), "127.0.0.1:1") != NULL,
	       "an unreachable server fails cfs_connect in %.1f s: %s (%s)",
	       took, rv < 0 ? strerror(-rv) : "succeeded", cfs_errmsg(NULL));
	if (rv == 0)
		cfs_disconnect(&fs);

	ERR(EINVAL, cfs_connect(&fs, "no-port-here", &o),
	    "a malformed address fails cfs_connect");
	ERR(EINVAL, cfs_connect(&fs, "", NULL), "an empty address list");
	memset(&zero, 0, sizeof(zero));
	ERR(EINVAL, cfs_connect(&fs, servers, &zero),
	    "options not from cfs_options_init are refused");
	o.use_process_creds = 0;
	o.ngroups = CFS_MAX_GROUPS + 1;
	ERR(EINVAL, cfs_connect(&fs, servers, &o), "too many groups");
	cfs_disconnect(NULL);
	fs = NULL;
	cfs_disconnect(&fs);
	report(1, "cfs_disconnect is NULL-safe");
}

static void
test_default_creds(void)
{
	struct cfs *fs = NULL;
	struct stat st;
	int rv = cfs_connect(&fs, servers, NULL);

	report(rv == 0, "cfs_connect with default options (process creds)%s%s",
	       rv ? ": " : "", rv ? cfs_errmsg(NULL) : "");
	if (rv != 0)
		return;
	OK(cfs_stat(fs, "/", &st));
	report(S_ISDIR(st.st_mode) && st.st_ino == 1, "stat / is inode 1");
	cfs_disconnect(&fs);
	report(fs == NULL, "cfs_disconnect clears the handle");
}

/* ---- namespace -------------------------------------------------------------- */

static int
make_file(struct cfs *fs, const char *path, mode_t mode, const void *data,
	  size_t n)
{
	struct cfs_file *f;
	int rv = cfs_open(fs, path, O_WRONLY | O_CREAT | O_TRUNC, mode, &f);

	if (rv < 0)
		return rv;
	if (n > 0 && (rv = (int)cfs_write(f, data, n)) < 0) {
		cfs_close(&f);
		return rv;
	}
	return cfs_close(&f);
}

static void
test_paths(struct cfs *fs)
{
	char longname[300], longpath[CFS_PATH_MAX + 10];
	struct stat st;

	ERR(EINVAL, cfs_stat(fs, "relative/path", &st), "a relative path");
	ERR(ENOENT, cfs_stat(fs, "", &st), "an empty path");
	ERR(EINVAL, cfs_stat(fs, NULL, &st), "a NULL path");
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ERR(ENAMETOOLONG, cfs_stat(fs, P("/%s", longname), &st),
	    "a component of 299 bytes");
	ERR(ENAMETOOLONG, cfs_mkdir(fs, P("/%s", longname), 0755),
	    "mkdir of a component of 299 bytes");
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	for (size_t i = 100; i < sizeof(longpath); i += 100)
		longpath[i] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ERR(ENAMETOOLONG, cfs_stat(fs, longpath, &st),
	    "a path of CFS_PATH_MAX bytes or more");
	OK(cfs_stat(fs, P("/./d/../d/."), &st));
	report(S_ISDIR(st.st_mode), "'.' and '..' components resolve");
	OK(cfs_stat(fs, "/..", &st));
	report(st.st_ino == 1, "'..' of / is /");
	OK(cfs_stat(fs, P("//d//"), &st));
	report(S_ISDIR(st.st_mode), "repeated and trailing slashes");
	ERR(ENOTDIR, cfs_stat(fs, P("/d/f/"), &st),
	    "a trailing slash on a file");
	ERR(ENOTDIR, cfs_stat(fs, P("/d/f/x"), &st),
	    "a file as a directory on the way");
	ERR(ENOENT, cfs_stat(fs, P("/d/missing/x"), &st),
	    "a missing directory on the way");
	ERR(ENOENT, cfs_lstat(fs, P("/d/missing"), &st), "lstat of nothing");
	const char *m = cfs_errmsg(fs);
	report(strstr(m, "/d/missing") != NULL &&
		       strstr(m, "no such file") != NULL,
	       "the message names the path and the reason: %s", m);
}

static void
test_namespace(struct cfs *fs)
{
	struct stat st, st2;
	char buf[64];

	OK(cfs_mkdir(fs, top, 0755));
	OK(cfs_mkdir(fs, P("/d"), 0750));
	OK(cfs_stat(fs, P("/d"), &st));
	report(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750 &&
		       st.st_nlink == 2,
	       "mkdir: a directory, mode 0750, 2 links");
	ERR(EEXIST, cfs_mkdir(fs, P("/d"), 0755), "mkdir of an existing name");
	ERR(EEXIST, cfs_mkdir(fs, "/", 0755), "mkdir /");
	ERR(ENOENT, cfs_mkdir(fs, P("/nope/x"), 0755),
	    "mkdir in a missing directory");
	OK(make_file(fs, P("/d/f"), 0644, "hello", 5));
	OK(cfs_stat(fs, P("/d/f"), &st));
	report(S_ISREG(st.st_mode) && st.st_size == 5 &&
		       (st.st_mode & 07777) == 0644 && st.st_nlink == 1,
	       "a created file: regular, 5 bytes, mode 0644");
	ERR(ENOTDIR, cfs_mkdir(fs, P("/d/f/x"), 0755),
	    "mkdir under a file");
	ERR(ENOTEMPTY, cfs_rmdir(fs, P("/d")), "rmdir of a non-empty dir");
	ERR(ENOTDIR, cfs_rmdir(fs, P("/d/f")), "rmdir of a file");
	ERR(EBUSY, cfs_rmdir(fs, "/"), "rmdir /");
	ERR(EISDIR, cfs_unlink(fs, P("/d")), "unlink of a directory");
	ERR(ENOENT, cfs_unlink(fs, P("/d/missing")), "unlink of nothing");
	ERR(ENOENT, cfs_rmdir(fs, P("/d/missing")), "rmdir of nothing");

	test_paths(fs);

	/* rename */
	OK(cfs_rename(fs, P("/d/f"), P("/d/g"), 0));
	ERR(ENOENT, cfs_stat(fs, P("/d/f"), &st), "the old name is gone");
	OK(cfs_stat(fs, P("/d/g"), &st));
	report(st.st_size == 5, "rename keeps the file");
	OK(make_file(fs, P("/d/other"), 0600, "x", 1));
	ERR(EEXIST, cfs_rename(fs, P("/d/g"), P("/d/other"),
			       CFS_RENAME_NOREPLACE),
	    "rename NOREPLACE onto an existing name");
	OK(cfs_rename(fs, P("/d/g"), P("/d/other"), CFS_RENAME_EXCHANGE));
	OK(cfs_stat(fs, P("/d/other"), &st));
	OK(cfs_stat(fs, P("/d/g"), &st2));
	report(st.st_size == 5 && st2.st_size == 1,
	       "rename EXCHANGE swaps the two");
	OK(cfs_rename(fs, P("/d/g"), P("/d/other"), 0));
	OK(cfs_stat(fs, P("/d/other"), &st));
	report(st.st_size == 1, "rename replaces the target");
	OK(cfs_rename(fs, P("/d/other"), P("/d/g"), 0));
	ERR(ENOENT, cfs_rename(fs, P("/d/missing"), P("/d/x"), 0),
	    "rename of nothing");
	OK(cfs_mkdir(fs, P("/d/sub"), 0755));
	ERR(EINVAL, cfs_rename(fs, P("/d"), P("/d/sub/d"), 0),
	    "rename of a directory into itself");
	ERR(EISDIR, cfs_rename(fs, P("/d/g"), P("/d/sub"), 0),
	    "rename of a file over a directory");
	ERR(ENOTDIR, cfs_rename(fs, P("/d/sub"), P("/d/g"), 0),
	    "rename of a directory over a file");
	ERR(EINVAL, cfs_rename(fs, P("/d/g"), P("/d/h"), 4), "rename flags 4");
	ERR(EBUSY, cfs_rename(fs, "/", P("/x"), 0), "rename of /");
	OK(cfs_rmdir(fs, P("/d/sub")));

	/* hard links */
	OK(cfs_link(fs, P("/d/g"), P("/d/h")));
	OK(cfs_stat(fs, P("/d/g"), &st));
	OK(cfs_stat(fs, P("/d/h"), &st2));
	report(st.st_ino == st2.st_ino && st.st_nlink == 2,
	       "link: same inode, 2 links");
	ERR(EEXIST, cfs_link(fs, P("/d/g"), P("/d/h")),
	    "link onto an existing name");
	ERR(EPERM, cfs_link(fs, P("/d"), P("/dlink")), "link to a directory");
	ERR(ENOENT, cfs_link(fs, P("/d/missing"), P("/d/x")),
	    "link of nothing");
	OK(cfs_unlink(fs, P("/d/h")));
	OK(cfs_stat(fs, P("/d/g"), &st));
	report(st.st_nlink == 1, "unlink drops a link");

	/* symlinks */
	OK(cfs_symlink(fs, "g", P("/d/s")));
	OK(cfs_lstat(fs, P("/d/s"), &st));
	report(S_ISLNK(st.st_mode) && st.st_size == 1, "lstat of a symlink");
	OK(cfs_stat(fs, P("/d/s"), &st2));
	OK(cfs_stat(fs, P("/d/g"), &st));
	report(S_ISREG(st2.st_mode) && st2.st_ino == st.st_ino,
	       "stat follows a relative symlink");
	memset(buf, 'X', sizeof(buf));
	ssize_t n = cfs_readlink(fs, P("/d/s"), buf, sizeof(buf));
	report(n == 1 && buf[0] == 'g' && buf[1] == 'X',
	       "readlink: 1 byte, not NUL-terminated");
	OK(cfs_symlink(fs, P("/d"), P("/dl")));
	n = cfs_readlink(fs, P("/dl"), buf, 3);
	report(n == 3 && memcmp(buf, top, 3) == 0, "readlink truncates");
	OK(cfs_stat(fs, P("/dl/s"), &st2));
	report(st2.st_ino == st.st_ino,
	       "absolute and relative symlinks along the way");
	OK(cfs_lstat(fs, P("/dl/"), &st2));
	report(S_ISDIR(st2.st_mode), "a trailing slash follows a symlink");
	ERR(EINVAL, cfs_readlink(fs, P("/d/g"), buf, sizeof(buf)),
	    "readlink of a file");
	ERR(EEXIST, cfs_symlink(fs, "x", P("/d/s")),
	    "symlink onto an existing name");
	ERR(ENOENT, cfs_symlink(fs, "", P("/d/empty")),
	    "symlink with an empty target");
	OK(cfs_symlink(fs, P("/loop2"), P("/loop1")));
	OK(cfs_symlink(fs, P("/loop1"), P("/loop2")));
	ERR(ELOOP, cfs_stat(fs, P("/loop1"), &st), "a symlink loop");
	OK(cfs_lstat(fs, P("/loop1"), &st));
	OK(cfs_symlink(fs, "missing", P("/dangling")));
	ERR(ENOENT, cfs_stat(fs, P("/dangling"), &st), "a dangling symlink");
	OK(cfs_unlink(fs, P("/dangling")));

	/* attributes */
	OK(cfs_chmod(fs, P("/d/g"), 0640));
	OK(cfs_stat(fs, P("/d/g"), &st));
	report((st.st_mode & 07777) == 0640, "chmod");
	OK(cfs_chmod(fs, P("/d/s"), 0600)); /* through the symlink */
	OK(cfs_stat(fs, P("/d/g"), &st));
	report((st.st_mode & 07777) == 0600, "chmod follows a symlink");
	OK(cfs_chown(fs, P("/d/g"), 1000, 1001));
	OK(cfs_stat(fs, P("/d/g"), &st));
	report(st.st_uid == 1000 && st.st_gid == 1001, "chown");
	OK(cfs_chown(fs, P("/d/g"), (uid_t)-1, 1002));
	OK(cfs_stat(fs, P("/d/g"), &st));
	report(st.st_uid == 1000 && st.st_gid == 1002,
	       "chown with uid -1 keeps the owner");
	OK(cfs_chown(fs, P("/d/g"), 0, 0));
	struct timespec ts[2] = {{.tv_sec = 1000000000, .tv_nsec = 123},
				 {.tv_sec = 1200000000, .tv_nsec = 456789}};
	OK(cfs_utimens(fs, P("/d/g"), ts));
	OK(cfs_stat(fs, P("/d/g"), &st));
	report(st.st_atim.tv_sec == 1000000000 && st.st_atim.tv_nsec == 123 &&
		       st.st_mtim.tv_sec == 1200000000 &&
		       st.st_mtim.tv_nsec == 456789,
	       "utimens sets both times to the nanosecond");
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_NOW;
	OK(cfs_utimens(fs, P("/d/g"), ts));
	OK(cfs_stat(fs, P("/d/g"), &st));
	report(st.st_atim.tv_sec == 1000000000 &&
		       st.st_mtim.tv_sec > 1600000000,
	       "utimens UTIME_OMIT / UTIME_NOW");
	OK(cfs_utimens(fs, P("/d/g"), NULL));
	ts[0].tv_nsec = 1000000000;
	ERR(EINVAL, cfs_utimens(fs, P("/d/g"), ts), "utimens tv_nsec 1e9");
	ERR(ENOENT, cfs_chmod(fs, P("/d/missing"), 0600), "chmod of nothing");

	/* truncate by path */
	OK(cfs_truncate(fs, P("/d/g"), 10000));
	OK(cfs_stat(fs, P("/d/g"), &st));
	report(st.st_size == 10000, "truncate grows a file");
	OK(cfs_truncate(fs, P("/d/g"), 3));
	OK(cfs_stat(fs, P("/d/g"), &st));
	report(st.st_size == 3, "truncate shrinks a file");
	ERR(EISDIR, cfs_truncate(fs, P("/d"), 0), "truncate of a directory");
	ERR(EINVAL, cfs_truncate(fs, P("/d/g"), -1), "truncate to -1");
	ERR(ENOENT, cfs_truncate(fs, P("/d/missing"), 0),
	    "truncate of nothing");
}

/* ---- permissions --------------------------------------------------------------- */

static void
test_permissions(struct cfs *fs)
{
	struct cfs *u = connect_as(1000, 1000);
	struct cfs_file *f = NULL;
	struct cfs_dir *d = NULL;
	struct stat st;

	if (u == NULL)
		return;
	/* top is root's, 0755 */
	OK(make_file(fs, P("/rootfile"), 0644, "secret", 6));
	OK(cfs_mkdir(fs, P("/private"), 0700));
	OK(cfs_mkdir(fs, P("/mine"), 0755));
	OK(cfs_chown(fs, P("/mine"), 1000, 1000));
	ERR(EACCES, cfs_mkdir(u, P("/u"), 0755),
	    "uid 1000: mkdir in root's 0755 directory");
	ERR(EACCES, cfs_open(u, P("/new"), O_WRONLY | O_CREAT, 0644, &f),
	    "uid 1000: create in root's 0755 directory");
	ERR(EACCES, cfs_open(u, P("/rootfile"), O_WRONLY, 0, &f),
	    "uid 1000: open root's 0644 file for writing");
	ERR(EACCES, cfs_open(u, P("/rootfile"), O_RDWR, 0, &f),
	    "uid 1000: open root's 0644 file O_RDWR");
	ERR(EACCES, cfs_unlink(u, P("/rootfile")),
	    "uid 1000: unlink in root's directory");
	ERR(EACCES, cfs_rename(u, P("/rootfile"), P("/mine/stolen"), 0),
	    "uid 1000: rename out of root's directory");
	/* Linux's walks of both paths end with search permission on each
	 * directory, before the source is looked up: a missing source with
	 * a trailing '/' into a directory one may not search is EACCES */
	OK(cfs_mkdir(u, P("/mine/wx"), 0200));
	ERR(EACCES, cfs_rename(u, P("/mine/missing/"), P("/mine/wx/x"), 0),
	    "uid 1000: rename of a missing 'name/' into a 0200 directory");
	ERR(EACCES, cfs_rename(u, P("/mine/wx/missing/"), P("/mine/x"), 0),
	    "uid 1000: rename of a missing 'name/' out of a 0200 directory");
	ERR(ENOENT, cfs_rename(u, P("/mine/missing/"), P("/mine/x"), 0),
	    "uid 1000: rename of a missing 'name/'");
	ERR(EACCES, cfs_rename(u, P("/mine/wx/f"), P("/mine/nodir/x"), 0),
	    "uid 1000: rename out of a 0200 directory to a missing one");
	ERR(EACCES, cfs_truncate(u, P("/rootfile"), 0),
	    "uid 1000: truncate of root's 0644 file");
	ERR(EPERM, cfs_chmod(u, P("/rootfile"), 0666),
	    "uid 1000: chmod of root's file");
	ERR(EPERM, cfs_chown(u, P("/mine"), 0, (gid_t)-1),
	    "uid 1000: giving a directory away");
	ERR(EPERM, cfs_setgoal(u, P("/rootfile"), 1),
	    "uid 1000: setgoal of root's file");
	ERR(EACCES, cfs_stat(u, P("/private/x"), &st),
	    "uid 1000: search in root's 0700 directory");
	ERR(EACCES, cfs_opendir(u, P("/private"), &d),
	    "uid 1000: list root's 0700 directory");
	ERR(EACCES, cfs_setxattr(u, P("/rootfile"), "user.x", "1", 1, 0),
	    "uid 1000: setxattr on root's 0644 file");

	int rv = cfs_open(u, P("/rootfile"), O_RDONLY, 0, &f);
	report(rv == 0, "uid 1000: open root's 0644 file for reading");
	if (rv == 0) {
		char buf[16];
		report(cfs_read(f, buf, sizeof(buf)) == 6 &&
			       memcmp(buf, "secret", 6) == 0,
		       "uid 1000: reads it");
		OK(cfs_close(&f));
	}
	OK(cfs_mkdir(u, P("/mine/sub"), 0755));
	OK(make_file(u, P("/mine/file"), 0600, "mine", 4));
	OK(cfs_stat(fs, P("/mine/file"), &st));
	report(st.st_uid == 1000 && st.st_gid == 1000 && st.st_size == 4,
	       "uid 1000: its new file is owned by 1000:1000");
	OK(cfs_chmod(u, P("/mine/file"), 0400));
	/* the open that creates a file 0400 may still ask for writing, as
	 * POSIX; a later open may not */
	rv = cfs_open(u, P("/mine/ro"), O_RDWR | O_CREAT | O_EXCL, 0400, &f);
	report(rv == 0, "uid 1000: create 0400 with O_RDWR succeeds");
	if (rv == 0)
		OK(cfs_close(&f));
	ERR(EACCES, cfs_open(u, P("/mine/ro"), O_WRONLY, 0, &f),
	    "uid 1000: reopening its 0400 file for writing");
	OK(cfs_getgoal(u, P("/mine/file"), &(unsigned){0}));
	cfs_disconnect(&u);
}

/* ---- misuse ------------------------------------------------------------------------ */

static void
test_misuse(struct cfs *fs)
{
	struct cfs_file *f = NULL;
	char buf[8];

	OK(make_file(fs, P("/m"), 0644, "12345678", 8));
	ERR(EISDIR, cfs_open(fs, P("/d"), O_RDONLY, 0, &f),
	    "open of a directory");
	ERR(EISDIR, cfs_open(fs, P("/d/"), O_WRONLY | O_CREAT, 0644, &f),
	    "open O_CREAT of a path ending in '/'");
	ERR(ENOENT, cfs_open(fs, P("/d/missing"), O_RDONLY, 0, &f),
	    "open of nothing");
	ERR(EEXIST, cfs_open(fs, P("/m"), O_WRONLY | O_CREAT | O_EXCL, 0644, &f),
	    "open O_CREAT|O_EXCL of an existing file");
	ERR(EEXIST, cfs_open(fs, P("/d/s"), O_WRONLY | O_CREAT | O_EXCL, 0644,
			     &f),
	    "open O_CREAT|O_EXCL of a symlink");
	ERR(ELOOP, cfs_open(fs, P("/d/s"), O_RDONLY | O_NOFOLLOW, 0, &f),
	    "open O_NOFOLLOW of a symlink");
	ERR(EINVAL, cfs_open(fs, P("/m"), O_WRONLY | O_RDWR, 0, &f),
	    "open with access mode 3");
	ERR(EINVAL, cfs_open(fs, P("/m"), O_RDONLY | O_DIRECTORY, 0, &f),
	    "open with an unsupported flag");
	report(f == NULL, "a failed open leaves the result NULL");

	OK(cfs_open(fs, P("/m"), O_RDONLY, 0, &f));
	if (f != NULL) {
		ERR(EBADF, cfs_write(f, "x", 1), "write on O_RDONLY");
		ERR(EBADF, cfs_pwrite(f, "x", 1, 0), "pwrite on O_RDONLY");
		ERR(EBADF, cfs_ftruncate(f, 0), "ftruncate on O_RDONLY");
		ERR(EINVAL, cfs_lseek(f, -1, SEEK_SET), "lseek to -1");
		ERR(EINVAL, cfs_lseek(f, 0, 42), "lseek whence 42");
		ERR(EINVAL, cfs_pread(f, buf, 1, -5), "pread at -5");
		report(cfs_lseek(f, -3, SEEK_END) == 5, "lseek -3 from the end");
		report(cfs_read(f, buf, sizeof(buf)) == 3 &&
			       memcmp(buf, "678", 3) == 0,
		       "read from there");
		report(cfs_lseek(f, 0, SEEK_CUR) == 8, "lseek SEEK_CUR");
		report(cfs_read(f, buf, sizeof(buf)) == 0, "read at the end");
		report(cfs_pread(f, buf, 4, 100) == 0, "pread past the end");
		OK(cfs_close(&f));
		report(f == NULL, "cfs_close clears the pointer");
	}
	report(cfs_close(&f) == 0, "cfs_close of NULL");
	OK(cfs_open(fs, P("/m"), O_WRONLY, 0, &f));
	if (f != NULL) {
		ERR(EBADF, cfs_read(f, buf, 1), "read on O_WRONLY");
		ERR(EBADF, cfs_pread(f, buf, 1, 0), "pread on O_WRONLY");
		ERR(EINVAL, cfs_pwrite(f, "x", 1, -1), "pwrite at -1");
		ERR(EFBIG, cfs_pwrite(f, "x", 1, (off_t)1 << 62),
		    "pwrite past 2^62");
		OK(cfs_close(&f));
	}
	ERR(EBADF, cfs_read(NULL, buf, 1), "read on a NULL file");
}

/* ---- data ---------------------------------------------------------------------------- */

static void
fill_random(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

/* Read all of @path through a new open file, in @chunk-sized reads, and
 * compare with @want of @n bytes. */
static int
same_as(struct cfs *fs, const char *path, const unsigned char *want,
	size_t n, size_t chunk)
{
	struct cfs_file *f;
	unsigned char *got = malloc(n + chunk);
	size_t have = 0;
	ssize_t r = 0;
	int ok;

	if (got == NULL || cfs_open(fs, path, O_RDONLY, 0, &f) != 0) {
		free(got);
		return 0;
	}
	while ((r = cfs_read(f, got + have, chunk)) > 0)
		have += (size_t)r;
	ok = r == 0 && have == n && memcmp(got, want, n) == 0;
	if (!ok) {
		size_t i = 0;
		while (i < have && i < n && got[i] == want[i])
			i++;
		printf("     %s: read %zu bytes (last %zd), want %zu; first "
		       "difference at %zu\n", path, have, r, n, i);
	}
	cfs_close(&f);
	free(got);
	return ok;
}

static int
all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void
test_data(struct cfs *fs)
{
	const size_t N = 5u << 20;
	unsigned char *local = malloc(N), *back = malloc(N);
	struct cfs_file *f = NULL, *g = NULL;
	struct cfs *other = NULL;
	struct stat st;

	if (local == NULL || back == NULL) {
		report(0, "memory for the data test");
		free(local);
		free(back);
		return;
	}
	fill_random(local, N, 7);
	OK(cfs_open(fs, P("/big"), O_RDWR | O_CREAT | O_TRUNC, 0644, &f));
	if (f == NULL)
		goto out;
	/* sequential writes of an odd size */
	for (size_t off = 0; off < N;) {
		size_t n = N - off < 123457 ? N - off : 123457;
		ssize_t w = cfs_write(f, local + off, n);
		if (w != (ssize_t)n) {
			report(0, "write of %zu at %zu: %zd (%s)", n, off, w,
			       cfs_errmsg(NULL));
			break;
		}
		off += n;
	}
	OK(cfs_fstat(f, &st));
	report(st.st_size == (off_t)N,
	       "fstat counts buffered data: %lld bytes", (long long)st.st_size);
	/* pwrites at odd offsets, across fragment boundaries */
	struct {
		size_t off, len;
	} pw[] = {
		{fsz - 1, 3},
		{2 * fsz - 5000, 10001},
		{3 * fsz + 7, 200000},
		{1, 1},
		{N - 17, 17},
		{fsz / 2 + 3, 2 * fsz}, /* spans three fragments */
	};
	for (size_t i = 0; i < sizeof(pw) / sizeof(pw[0]); i++) {
		unsigned char *p = malloc(pw[i].len);
		if (p == NULL)
			continue;
		fill_random(p, pw[i].len, 100 + (unsigned)i);
		ssize_t w = cfs_pwrite(f, p, pw[i].len, (off_t)pw[i].off);
		report(w == (ssize_t)pw[i].len, "pwrite of %zu at %zu",
		       pw[i].len, pw[i].off);
		memcpy(local + pw[i].off, p, pw[i].len);
		free(p);
	}
	/* read-your-writes before any fsync, same open file */
	ssize_t r = cfs_pread(f, back, N, 0);
	report(r == (ssize_t)N && memcmp(back, local, N) == 0,
	       "pread of 5 MiB before fsync sees every write (%zd bytes)", r);
	report(cfs_lseek(f, 0, SEEK_CUR) == (off_t)N,
	       "the position is after the sequential writes");
	OK(cfs_fsync(f));
	OK(cfs_close(&f));
	report(same_as(fs, P("/big"), local, N, 65536),
	       "5 MiB read back in 64 KiB reads");
	report(same_as(fs, P("/big"), local, N, 777777),
	       "5 MiB read back in 777777-byte reads");
	OK(cfs_open(fs, P("/big"), O_RDONLY, 0, &f));
	if (f != NULL) {
		int ok = 1;
		for (size_t k = 1; k < 5; k++) {
			size_t off = k * fsz - 333;
			memset(back, 0, 1000);
			ok &= cfs_pread(f, back, 1000, (off_t)off) == 1000 &&
			      memcmp(back, local + off, 1000) == 0;
		}
		report(ok, "preads across each fragment boundary");
		OK(cfs_close(&f));
	}

	/* pwrites each written out on its own: partial fragments patched
	 * over committed versions */
	OK(cfs_open(fs, P("/big"), O_RDWR, 0, &f));
	for (size_t i = 0; f != NULL && i < sizeof(pw) / sizeof(pw[0]); i++) {
		size_t off = pw[i].off + 4099, len = pw[i].len / 3 + 1;
		unsigned char *p = malloc(len);
		if (p == NULL || off + len > N) {
			free(p);
			continue;
		}
		fill_random(p, len, 200 + (unsigned)i);
		report(cfs_pwrite(f, p, len, (off_t)off) == (ssize_t)len &&
			       cfs_fsync(f) == 0,
		       "pwrite of %zu at %zu, fsync", len, off);
		memcpy(local + off, p, len);
		free(p);
	}
	cfs_close(&f);
	report(same_as(fs, P("/big"), local, N, 100003),
	       "5 MiB read back after patching committed fragments");

	/* another client sees it after close */
	other = connect_as(0, 0);
	if (other != NULL)
		report(same_as(other, P("/big"), local, N, 1 << 20),
		       "another client reads the 5 MiB after close");

	/* two files of one inode in one client: a read through one sees the
	 * other's buffered write; another client does not, until fsync */
	OK(cfs_open(fs, P("/big"), O_WRONLY, 0, &f));
	OK(cfs_open(fs, P("/big"), O_RDONLY, 0, &g));
	if (f != NULL && g != NULL) {
		OK(cfs_pwrite(f, "ZZZZ", 4, 100));
		char b4[4];
		report(cfs_pread(g, b4, 4, 100) == 4 &&
			       memcmp(b4, "ZZZZ", 4) == 0,
		       "a read through another open file sees a buffered "
		       "write");
		OK(cfs_pwrite(f, "tail", 4, (off_t)N));
		OK(cfs_fstat(g, &st));
		report(st.st_size == (off_t)N + 4,
		       "fstat through another open file counts buffered data");
		if (other != NULL) {
			OK(cfs_stat(other, P("/big"), &st));
			report(st.st_size == (off_t)N,
			       "another client does not see unflushed data "
			       "(%lld)", (long long)st.st_size);
		}
		OK(cfs_fsync(f));
		if (other != NULL) {
			OK(cfs_stat(other, P("/big"), &st));
			report(st.st_size == (off_t)N + 4,
			       "... and sees it after fsync");
		}
		memcpy(local + 100, "ZZZZ", 4);
	}
	cfs_close(&f);
	cfs_close(&g);

	/* truncate: shrink, grow, read zeros */
	size_t cut = fsz + fsz / 2 + 3, grow = 4 * fsz;
	OK(cfs_open(fs, P("/big"), O_RDWR, 0, &f));
	if (f != NULL) {
		OK(cfs_ftruncate(f, (off_t)cut));
		OK(cfs_fstat(f, &st));
		report(st.st_size == (off_t)cut, "ftruncate shrinks to %zu",
		       cut);
		r = cfs_pread(f, back, N, 0);
		report(r == (ssize_t)cut && memcmp(back, local, cut) == 0,
		       "the cut file reads back its first %zu bytes", cut);
		OK(cfs_ftruncate(f, (off_t)grow));
		memset(back, 0xEE, N);
		r = cfs_pread(f, back, N, 0);
		report(r == (ssize_t)grow && memcmp(back, local, cut) == 0 &&
			       all_zero(back + cut, grow - cut),
		       "grown again to %zu: the old bytes past %zu read as "
		       "zeros",
		       grow, cut);
		/* a write into the grown region, then a shrink inside the
		 * buffered range */
		OK(cfs_pwrite(f, "abc", 3, (off_t)(grow - 10)));
		OK(cfs_ftruncate(f, (off_t)(grow - 9)));
		r = cfs_pread(f, back, 16, (off_t)(grow - 12));
		report(r == 3 && back[0] == 0 && back[1] == 0 && back[2] == 'a',
		       "ftruncate writes out buffered data first");
		OK(cfs_close(&f));
	}
	if (other != NULL) {
		OK(cfs_stat(other, P("/big"), &st));
		report(st.st_size == (off_t)(grow - 9),
		       "another client sees the truncated size");
	}

	/* O_APPEND and O_TRUNC */
	OK(make_file(fs, P("/log"), 0644, "start\n", 6));
	OK(cfs_open(fs, P("/log"), O_WRONLY | O_APPEND, 0, &f));
	if (f != NULL) {
		OK(cfs_write(f, "one\n", 4));
		OK(cfs_lseek(f, 0, SEEK_SET));
		OK(cfs_write(f, "two\n", 4));
		report(cfs_lseek(f, 0, SEEK_CUR) == 14,
		       "O_APPEND leaves the position at the end");
		OK(cfs_close(&f));
	}
	report(same_as(fs, P("/log"), (const unsigned char *)"start\none\ntwo\n",
		       14, 3),
	       "O_APPEND writes go at the end");
	OK(cfs_open(fs, P("/log"), O_WRONLY | O_TRUNC, 0, &f));
	OK(cfs_stat(fs, P("/log"), &st));
	report(st.st_size == 0, "O_TRUNC empties the file");
	cfs_close(&f);
	OK(cfs_open(fs, P("/log"), O_WRONLY | O_CREAT, 0644, &f));
	report(f != NULL, "O_CREAT without O_EXCL opens an existing file");
	cfs_close(&f);
	OK(cfs_open(fs, P("/dl/s"), O_RDONLY | O_CREAT, 0644, &f));
	report(f != NULL, "O_CREAT opens an existing file through symlinks");
	cfs_close(&f);
	OK(cfs_open(fs, P("/sync"), O_WRONLY | O_CREAT | O_SYNC, 0644, &f));
	if (f != NULL && other != NULL) {
		OK(cfs_write(f, "durable", 7));
		OK(cfs_stat(other, P("/sync"), &st));
		report(st.st_size == 7,
		       "an O_SYNC write is out when it returns");
	}
	cfs_close(&f);

	/* a write larger than the buffer, and one that fills it */
	{
		const size_t B = CFS_WRITE_BUFFER + (3u << 20) + 11;
		unsigned char *big = malloc(B);
		if (big != NULL) {
			fill_random(big, B, 99);
			OK(cfs_open(fs, P("/huge"), O_RDWR | O_CREAT, 0644, &f));
			if (f != NULL) {
				r = cfs_write(f, big, B);
				report(r == (ssize_t)B,
				       "one write of %zu bytes", B);
				/* rewrite in 1 MiB steps: the buffer fills
				 * and goes out on its own */
				OK(cfs_lseek(f, 0, SEEK_SET));
				fill_random(big, B, 98);
				for (size_t off = 0; off < B; off += 1u << 20) {
					size_t n = B - off < (1u << 20)
							   ? B - off
							   : (1u << 20);
					if (cfs_write(f, big + off, n) !=
					    (ssize_t)n) {
						report(0, "write at %zu: %s",
						       off, cfs_errmsg(NULL));
						break;
					}
				}
				OK(cfs_close(&f));
				report(same_as(fs, P("/huge"), big, B, 1 << 20),
				       "%zu bytes in 1 MiB writes read back",
				       B);
			}
			free(big);
		}
	}
out:
	cfs_disconnect(&other);
	free(local);
	free(back);
}

/* ---- directories ------------------------------------------------------------------ */

static void
test_readdir(struct cfs *fs)
{
	const int N = 1000;
	struct cfs_dir *d = NULL;
	struct cfs_dirent e;
	char *seen = calloc((size_t)N, 1);
	int rv, dots = 0, extra = 0, dup = 0, count = 0, bad_st = 0;

	OK(cfs_mkdir(fs, P("/many"), 0755));
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "/many/entry-%04d", i);
		int r = i % 10 == 0 ? cfs_mkdir(fs, P("%s", name), 0755)
				    : make_file(fs, P("%s", name), 0644, NULL, 0);
		if (r != 0) {
			report(0, "creating %s: %s", name, cfs_errmsg(NULL));
			break;
		}
	}
	OK(cfs_opendir(fs, P("/many"), &d));
	while (d != NULL && (rv = cfs_readdir(d, &e)) == 1) {
		int i;
		count++;
		if (strcmp(e.name, ".") == 0 || strcmp(e.name, "..") == 0) {
			dots++;
			continue;
		}
		if (sscanf(e.name, "entry-%d", &i) != 1 || i < 0 || i >= N) {
			extra++;
			continue;
		}
		dup += seen[i]++;
		if ((i % 10 == 0) != (S_ISDIR(e.st.st_mode) != 0) ||
		    e.ino != (uint64_t)e.st.st_ino || e.ino == 0)
			bad_st++;
	}
	int missing = 0;
	for (int i = 0; i < N; i++)
		missing += !seen[i];
	report(d != NULL && rv == 0 && dots == 2 && extra == 0 && dup == 0 &&
		       missing == 0 && bad_st == 0,
	       "readdir of 1000 entries: %d read, %d dots, %d missing, %d "
	       "twice, %d unknown, %d with wrong attributes",
	       count, dots, missing, dup, extra, bad_st);
	if (d != NULL)
		report(cfs_readdir(d, &e) == 0, "readdir after the end");
	cfs_closedir(&d);
	report(d == NULL, "cfs_closedir clears the pointer");
	cfs_closedir(&d);
	ERR(ENOENT, cfs_opendir(fs, P("/missing"), &d), "opendir of nothing");
	ERR(ENOTDIR, cfs_opendir(fs, P("/m"), &d), "opendir of a file");
	report(d == NULL, "a failed opendir leaves the result NULL");
	OK(cfs_opendir(fs, P("/dl"), &d)); /* through a symlink */
	count = 0;
	while (d != NULL && cfs_readdir(d, &e) == 1)
		count++;
	report(count >= 4, "opendir follows a symlink (%d entries)", count);
	cfs_closedir(&d);
	free(seen);
}

/* ---- xattrs, goal, statfs ------------------------------------------------------------ */

static void
test_xattr(struct cfs *fs)
{
	char buf[256], longname[300], f[256];
	ssize_t n;

	snprintf(f, sizeof(f), "%s", P("/m"));
	OK(cfs_setxattr(fs, f, "user.color", "blue", 4, 0));
	OK(cfs_setxattr(fs, f, "user.empty", "", 0, 0));
	n = cfs_getxattr(fs, f, "user.color", NULL, 0);
	report(n == 4, "getxattr with size 0 gives the length (%zd)", n);
	n = cfs_getxattr(fs, f, "user.color", buf, sizeof(buf));
	report(n == 4 && memcmp(buf, "blue", 4) == 0, "getxattr");
	report(cfs_getxattr(fs, f, "user.empty", buf, sizeof(buf)) == 0,
	       "an empty value");
	ERR(ERANGE, cfs_getxattr(fs, f, "user.color", buf, 2),
	    "getxattr into a small buffer");
	n = cfs_listxattr(fs, f, buf, sizeof(buf));
	report(n == (ssize_t)(sizeof("user.color") + sizeof("user.empty")) &&
		       memmem(buf, (size_t)n, "user.color", 11) != NULL &&
		       memmem(buf, (size_t)n, "user.empty", 11) != NULL,
	       "listxattr: both names, NUL-terminated (%zd bytes)", n);
	report(cfs_listxattr(fs, f, NULL, 0) == n,
	       "listxattr with size 0 gives the length");
	ERR(ERANGE, cfs_listxattr(fs, f, buf, 3), "listxattr, small buffer");
	ERR(EEXIST, cfs_setxattr(fs, f, "user.color", "red", 3, XATTR_CREATE),
	    "setxattr XATTR_CREATE of an existing name");
	ERR(ENODATA, cfs_setxattr(fs, f, "user.none", "x", 1, XATTR_REPLACE),
	    "setxattr XATTR_REPLACE of an absent name");
	OK(cfs_setxattr(fs, f, "user.color", "red", 3, XATTR_REPLACE));
	n = cfs_getxattr(fs, f, "user.color", buf, sizeof(buf));
	report(n == 3 && memcmp(buf, "red", 3) == 0, "XATTR_REPLACE replaced");
	OK(cfs_removexattr(fs, f, "user.color"));
	ERR(ENODATA, cfs_getxattr(fs, f, "user.color", buf, sizeof(buf)),
	    "getxattr after removexattr");
	ERR(ENODATA, cfs_removexattr(fs, f, "user.color"),
	    "removexattr of an absent name");
	ERR(ENOTSUP, cfs_setxattr(fs, f, "bogus.name", "x", 1, 0),
	    "an unknown namespace");
	ERR(EINVAL, cfs_setxattr(fs, f, "user.x", "x", 1, 8), "bad flags");
	char *huge = calloc(1, 70000);
	if (huge != NULL)
		ERR(E2BIG, cfs_setxattr(fs, f, "user.big", huge, 70000, 0),
		    "a value over 64 KiB");
	free(huge);
	memcpy(longname, "user.", 5);
	memset(longname + 5, 'a', sizeof(longname) - 6);
	longname[sizeof(longname) - 1] = '\0';
	ERR(ERANGE, cfs_getxattr(fs, f, longname, NULL, 0),
	    "a name over 255 bytes");
	OK(cfs_setxattr(fs, P("/d/s"), "user.via", "link", 4, 0));
	report(cfs_getxattr(fs, P("/d/g"), "user.via", buf, sizeof(buf)) == 4,
	       "xattrs follow a symlink");
	OK(cfs_setxattr(fs, P("/d"), "user.dir", "1", 1, 0));
	ERR(ENOENT, cfs_getxattr(fs, P("/missing"), "user.x", NULL, 0),
	    "getxattr of nothing");
}

static void
test_goal(struct cfs *fs)
{
	unsigned goal = 0, dgoal = 0;

	OK(cfs_getgoal(fs, P("/d"), &dgoal));
	report(dgoal >= 1 && dgoal <= 16, "getgoal of a directory: %u", dgoal);
	OK(cfs_setgoal(fs, P("/d/g"), 2));
	OK(cfs_getgoal(fs, P("/d/g"), &goal));
	report(goal == 2, "setgoal then getgoal: %u", goal);
	OK(cfs_setgoal(fs, P("/d"), 3));
	OK(make_file(fs, P("/d/child"), 0644, "c", 1));
	OK(cfs_getgoal(fs, P("/d/child"), &goal));
	report(goal == 3, "a new file inherits its directory's goal");
	ERR(EINVAL, cfs_setgoal(fs, P("/d/g"), 0), "goal 0");
	ERR(EINVAL, cfs_setgoal(fs, P("/d/g"), 17), "goal 17");
	ERR(ENOENT, cfs_getgoal(fs, P("/d/missing"), &goal),
	    "getgoal of nothing");
}

static void
test_statfs(struct cfs *fs)
{
	struct statvfs sv;

	memset(&sv, 0, sizeof(sv));
	OK(cfs_statfs(fs, &sv));
	report(sv.f_bsize > 0 && sv.f_namemax == 255 && sv.f_files > 1000 &&
		       sv.f_ffree > 0,
	       "statfs: bsize %lu, %llu inodes, %llu blocks, namemax %lu",
	       sv.f_bsize, (unsigned long long)sv.f_files,
	       (unsigned long long)sv.f_blocks, sv.f_namemax);
}

/* ---- threads ---------------------------------------------------------------------------- */

struct worker {
	struct cfs *fs;
	int id, errors;
};

/* Each thread makes its own directory of files and checks its data while
 * the others do the same on the one struct cfs. */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned char data[70000], back[70000];
	char dir[128], path[160];

	snprintf(dir, sizeof(dir), "%s/t%d", top, w->id);
	if (cfs_mkdir(w->fs, dir, 0755) != 0) {
		w->errors++;
		return NULL;
	}
	for (int i = 0; i < 20; i++) {
		struct cfs_file *f;
		struct stat st;
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		fill_random(data, sizeof(data), (unsigned)(w->id * 100 + i));
		if (cfs_open(w->fs, path, O_RDWR | O_CREAT, 0644, &f) != 0) {
			w->errors++;
			continue;
		}
		if (cfs_write(f, data, sizeof(data)) != (ssize_t)sizeof(data) ||
		    cfs_pread(f, back, sizeof(back), 0) != (ssize_t)sizeof(back) ||
		    memcmp(data, back, sizeof(data)) != 0)
			w->errors++;
		if (cfs_close(&f) != 0 ||
		    cfs_stat(w->fs, path, &st) != 0 ||
		    st.st_size != (off_t)sizeof(data))
			w->errors++;
	}
	return NULL;
}

static void
test_threads(struct cfs *fs)
{
	struct worker w[6];
	pthread_t t[6];
	int errors = 0;

	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){.fs = fs, .id = i};
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		errors += w[i].errors;
	}
	report(errors == 0, "6 threads on one struct cfs: %d errors", errors);
}

/* ---- cleanup ------------------------------------------------------------------------------ */

/* Remove @path and everything below (an rm -r through the API). */
static int
remove_tree(struct cfs *fs, const char *path)
{
	struct cfs_dirent e;
	struct cfs_dir *d;
	struct stat st;
	int rv = cfs_lstat(fs, path, &st);

	if (rv != 0)
		return rv;
	if (!S_ISDIR(st.st_mode))
		return cfs_unlink(fs, path);
	if ((rv = cfs_opendir(fs, path, &d)) != 0)
		return rv;
	while ((rv = cfs_readdir(d, &e)) == 1) {
		char child[CFS_PATH_MAX];
		if (strcmp(e.name, ".") == 0 || strcmp(e.name, "..") == 0)
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, e.name);
		if ((rv = remove_tree(fs, child)) != 0)
			break;
	}
	cfs_closedir(&d);
	return rv < 0 ? rv : cfs_rmdir(fs, path);
}

/* ---- advisory locks: two struct cfs as two machines ------------------------ */

static int
setlk(struct cfs_file *f, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET,
			   .l_start = start, .l_len = len};
	return cfs_lock(f, cmd, &fl);
}

struct waiter {
	struct cfs_file *f;
	int cmd, op; /* cfs_lock cmd, or cmd 0: cfs_flock op */
	int rv;
	double took;
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;
	double t0 = now_s();

	w->rv = w->cmd ? setlk(w->f, w->cmd, F_WRLCK, 0, 0)
		       : cfs_flock(w->f, w->op);
	w->took = now_s() - t0;
	return NULL;
}

/* Start a blocking lock on @f, release @held's lock 0.3 s later, and check
 * the waiter got it soon after. */
static void
blocked_then_granted(struct waiter *w, struct cfs_file *held, const char *what)
{
	pthread_t th;

	pthread_create(&th, NULL, waiter_main, w);
	usleep(300000);
	if (w->cmd)
		OK(setlk(held, F_SETLK, F_UNLCK, 0, 0));
	else
		OK(cfs_flock(held, LOCK_UN));
	pthread_join(th, NULL);
	report(w->rv == 0 && w->took >= 0.25 && w->took < 2.0,
	       "%s waited %.3f s and got the lock after the release (%d)",
	       what, w->took, w->rv);
}

static void
test_locks(struct cfs *a)
{
	struct cfs *b = connect_as(0, 0);
	struct cfs_file *fa, *fa2, *fb, *fb2, *fro;
	struct flock fl;

	if (b == NULL)
		return;
	OK(cfs_open(a, P("/locked"), O_RDWR | O_CREAT, 0644, &fa));
	OK(cfs_open(a, P("/locked"), O_RDWR, 0, &fa2));
	OK(cfs_open(b, P("/locked"), O_RDWR, 0, &fb));
	OK(cfs_open(b, P("/locked"), O_RDWR, 0, &fb2));
	OK(cfs_open(b, P("/locked"), O_RDONLY, 0, &fro));

	/* flock */
	OK(cfs_flock(fa, LOCK_EX | LOCK_NB));
	ERR(EWOULDBLOCK, cfs_flock(fb, LOCK_EX | LOCK_NB),
	    "flock LOCK_EX held by another client");
	ERR(EWOULDBLOCK, cfs_flock(fa2, LOCK_SH | LOCK_NB),
	    "flock of another open file of the same client");
	OK(cfs_flock(fa, LOCK_SH)); /* downgrade in place */
	OK(cfs_flock(fb, LOCK_SH | LOCK_NB));
	ERR(EWOULDBLOCK, cfs_flock(fb, LOCK_EX | LOCK_NB),
	    "flock upgrade while another holds it shared");
	ERR(EWOULDBLOCK, cfs_flock(fb2, LOCK_EX | LOCK_NB),
	    "the failed upgrade kept the shared lock");
	OK(cfs_flock(fb, LOCK_UN));
	ERR(EINVAL, cfs_flock(fa, 0), "flock with no operation");
	struct waiter w = {.f = fb, .op = LOCK_EX};
	blocked_then_granted(&w, fa, "blocking flock");
	/* flock and POSIX locks are independent */
	OK(setlk(fa, F_SETLK, F_WRLCK, 0, 0));
	OK(setlk(fa, F_SETLK, F_UNLCK, 0, 0));
	OK(cfs_close(&fb)); /* releases its flock */
	OK(cfs_flock(fa, LOCK_EX | LOCK_NB));
	OK(cfs_flock(fa, LOCK_UN));

	/* POSIX byte ranges */
	OK(setlk(fa, F_SETLK, F_WRLCK, 0, 100));
	OK(setlk(fb2, F_SETLK, F_WRLCK, 100, 100));
	ERR(EAGAIN, setlk(fb2, F_SETLK, F_WRLCK, 50, 11),
	    "overlapping write lock of another client");
	ERR(EAGAIN, setlk(fro, F_SETLK, F_RDLCK, 99, 1),
	    "read lock under another client's write lock");
	OK(setlk(fa2, F_SETLK, F_WRLCK, 0, 10)); /* same owner: no conflict */
	fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 0};
	OK(cfs_lock(fb2, F_GETLK, &fl));
	report(fl.l_type == F_WRLCK && fl.l_start == 0 && fl.l_len == 100 &&
		       fl.l_pid == getpid(),
	       "F_GETLK reports the other client's range: type %d [%lld, "
	       "+%lld) pid %d",
	       fl.l_type, (long long)fl.l_start, (long long)fl.l_len,
	       (int)fl.l_pid);
	fl = (struct flock){.l_type = F_WRLCK, .l_start = 150, .l_len = 10};
	OK(cfs_lock(fb2, F_GETLK, &fl));
	report(fl.l_type == F_UNLCK, "F_GETLK over the client's own lock: "
	       "F_UNLCK (%d)", fl.l_type);
	/* unlock the middle: [0,39] and [60,99] stay */
	OK(setlk(fa, F_SETLK, F_UNLCK, 40, 20));
	OK(setlk(fb2, F_SETLK, F_WRLCK, 40, 20));
	fl = (struct flock){.l_type = F_RDLCK, .l_start = 30, .l_len = 40};
	OK(cfs_lock(fb2, F_GETLK, &fl));
	report(fl.l_type == F_WRLCK && fl.l_start == 0 && fl.l_len == 40,
	       "unlocking the middle split the range: [%lld, +%lld)",
	       (long long)fl.l_start, (long long)fl.l_len);
	ERR(EAGAIN, setlk(fb2, F_SETLK, F_WRLCK, 60, 1), "the upper piece");
	/* SEEK_CUR and negative lengths */
	OK((int)cfs_lseek(fb2, 300, SEEK_SET));
	fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_CUR,
			    .l_start = 0, .l_len = -50};
	OK(cfs_lock(fb2, F_SETLK, &fl));
	ERR(EAGAIN, setlk(fa, F_SETLK, F_RDLCK, 299, 1),
	    "a lock set with SEEK_CUR and a negative length");
	/* misuse */
	ERR(EBADF, setlk(fro, F_SETLK, F_WRLCK, 0, 1),
	    "write lock on a file opened O_RDONLY");
	ERR(EINVAL, setlk(fa, F_GETLK, F_UNLCK, 0, 1), "F_GETLK of F_UNLCK");
	ERR(EINVAL, setlk(fa, 12345, F_WRLCK, 0, 1), "unknown command");
	ERR(EINVAL, setlk(fa, F_SETLK, F_WRLCK, -5, 1), "negative start");
	/* POSIX: closing any file of the inode drops the owner's locks */
	OK(cfs_close(&fro));
	OK(setlk(fa, F_SETLK, F_WRLCK, 200, 0));
	OK(setlk(fa, F_SETLK, F_UNLCK, 200, 0));
	OK(cfs_close(&fb2)); /* b's locks go */
	OK(setlk(fa, F_SETLK, F_WRLCK, 0, 0));
	/* a blocking F_SETLKW proceeds once the holder unlocks */
	OK(cfs_open(b, P("/locked"), O_RDWR, 0, &fb));
	ERR(EAGAIN, setlk(fb, F_SETLK, F_WRLCK, 0, 0), "whole file held");
	w = (struct waiter){.f = fb, .cmd = F_SETLKW};
	blocked_then_granted(&w, fa, "F_SETLKW");
	/* cfs_disconnect drops everything at once */
	OK(cfs_close(&fb));
	OK(cfs_open(b, P("/locked"), O_RDWR, 0, &fb));
	OK(cfs_flock(fb, LOCK_EX));
	OK(setlk(fb, F_SETLK, F_WRLCK, 0, 0));
	cfs_disconnect(&b);
	OK(cfs_flock(fa, LOCK_EX | LOCK_NB));
	OK(setlk(fa, F_SETLK, F_WRLCK, 0, 0));
	OK(cfs_close(&fa2)); /* drops a's POSIX locks; fa's flock stays */
	OK(cfs_close(&fa));
}

/* ---- leases: a write that returned is seen by the next read anywhere ------- */

/* @n bytes at 0 of @f, as a string ("" on failure). */
static const char *
read5(struct cfs_file *f, char *buf, size_t n)
{
	memset(buf, 0, n + 1);
	if (cfs_pread(f, buf, n, 0) < 0)
		buf[0] = '\0';
	return buf;
}

static void
test_leases(struct cfs *a)
{
	struct cfs *b = connect_as(0, 0);
	struct cfs_file *fa = NULL, *fb = NULL;
	char buf[8];
	struct stat st;

	if (b == NULL)
		return;
	OK(cfs_open(a, P("/leased"), O_RDWR | O_CREAT, 0644, &fa));
	OK(cfs_open(b, P("/leased"), O_RDWR, 0, &fb));
	if (fa == NULL || fb == NULL)
		goto out;
	/* a's write stays in a's buffer under its write lease; b's read
	 * recalls the lease, and the recall writes the buffer out */
	OK(cfs_pwrite(fa, "first", 5, 0));
	report(strcmp(read5(fb, buf, 5), "first") == 0,
	       "a read on another client sees a write that returned, "
	       "without close or fsync ('%s')",
	       buf);
	/* b's read left a read window; a's next write recalls b's read
	 * lease, which drops it */
	OK(cfs_pwrite(fa, "again", 5, 0));
	report(strcmp(read5(fb, buf, 5), "again") == 0,
	       "... and the next one, not what its read window held ('%s')",
	       buf);
	OK(cfs_pwrite(fb, "B", 1, 2));
	report(strcmp(read5(fa, buf, 5), "agBin") == 0,
	       "the other way round ('%s')", buf);
	/* the writer's own stat counts what it buffered; the server's size,
	 * which another client's stat asks for, follows at fsync */
	OK(cfs_pwrite(fa, "tail", 4, 5));
	OK(cfs_fstat(fa, &st));
	report(st.st_size == 9, "the writer's fstat counts its buffered "
	       "write (%lld)", (long long)st.st_size);
	OK(cfs_fsync(fa));
	OK(cfs_stat(b, P("/leased"), &st));
	report(st.st_size == 9, "another client's stat after fsync (%lld)",
	       (long long)st.st_size);
	/* a client that disconnects writes out what it buffered and gives
	 * its leases up at once: another's read does not wait for them to
	 * expire */
	OK(cfs_close(&fa));
	struct cfs *c = connect_as(0, 0);
	struct cfs_file *fc = NULL;
	if (c != NULL) {
		OK(cfs_open(c, P("/leased"), O_WRONLY, 0, &fc));
		if (fc != NULL)
			OK(cfs_pwrite(fc, "bye", 3, 0));
		cfs_disconnect(&c); /* fc still open: written out, freed */
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		read5(fb, buf, 3);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double took = (double)(t1.tv_sec - t0.tv_sec) +
			      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		report(strcmp(buf, "bye") == 0 && took < 2.0,
		       "what a client buffered is read at once after it "
		       "disconnected ('%s', %.3f s)",
		       buf, took);
	}
out:
	cfs_close(&fa);
	cfs_close(&fb);
	cfs_disconnect(&b);
}

/* ---- the data cache: another client's rewrites are seen -------------------- */

/* Bytes of round @r at offset @o. */
static uint8_t
pattern(int r, uint64_t o)
{
	return (uint8_t)(r * 37 + o * 13 + (o >> 12));
}

/* Open @path on @fs and read 4 KiB pieces out of order (reads the data
 * cache keeps); 1 if each holds round @r's bytes below @cut, zeros from
 * @cut on, and nothing past @size. */
static int
reads_round(struct cfs *fs, const char *path, int r, uint64_t cut,
	    uint64_t size)
{
	static const uint64_t offs[] = {3 << 20, 12345, 0, 1 << 20, 70000,
					66000, (2 << 20) + 4096,
					(3 << 20) + 100};
	struct cfs_file *f = NULL;
	uint8_t buf[4096];
	int ok = 1;

	if (cfs_open(fs, path, O_RDONLY, 0, &f) != 0)
		return 0;
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]) && ok; i++) {
		ssize_t n = cfs_pread(f, buf, sizeof(buf), (off_t)offs[i]);
		size_t want = offs[i] >= size ? 0
			      : size - offs[i] < sizeof(buf)
					? (size_t)(size - offs[i])
					: sizeof(buf);
		ok = n == (ssize_t)want;
		for (size_t j = 0; ok && j < want; j++)
			ok = buf[j] == (offs[i] + j < cut
						? pattern(r, offs[i] + j)
						: 0);
		if (!ok)
			printf("     round %d: %zd bytes at %llu, not the "
			       "writer's\n",
			       r, n, (unsigned long long)offs[i]);
	}
	cfs_close(&f);
	return ok;
}

static void
test_data_cache(struct cfs *fs)
{
	const uint64_t size = (3 << 20) + 5000;
	char p[256];
	uint8_t *buf = malloc(size);
	struct cfs_options o;
	struct cfs *reader = NULL;
	int ok = 1;

	snprintf(p, sizeof(p), "%s/cached", top);
	cfs_options_init(&o);
	report(o.data_cache == 64 << 20, "the data cache is 64 MiB by default");
	o.use_process_creds = 0;
	o.client_name = "libcfs_check reader";
	if (buf == NULL || cfs_connect(&reader, servers, &o) != 0) {
		report(0, "a second client: %s", cfs_errmsg(NULL));
		free(buf);
		return;
	}
	/* Each round rewrites the file (new versions of every fragment);
	 * the reader, whose data cache holds the pieces it read in the round
	 * before (read twice: the second time from the cache), must see
	 * each round at once. */
	for (int r = 1; r <= 4 && ok; r++) {
		struct cfs_file *f = NULL;
		for (uint64_t i = 0; i < size; i++)
			buf[i] = pattern(r, i);
		OK(cfs_open(fs, p, O_WRONLY | O_CREAT, 0644, &f));
		OK(cfs_pwrite(f, buf, size, 0));
		OK(cfs_close(&f));
		ok = reads_round(reader, p, r, size, size) &&
		     reads_round(reader, p, r, size, size);
	}
	report(ok, "a second client's cached reads see every rewrite");
	/* A truncation cuts the readable length of the versions the reader
	 * cached, and the extension after it reads as zeros. */
	OK(cfs_truncate(fs, p, 70000));
	OK(cfs_truncate(fs, p, size));
	report(reads_round(reader, p, 4, 70000, size) &&
		       reads_round(reader, p, 4, 70000, size),
	       "after a cut and an extension the cut bytes read as zeros");
	OK(cfs_unlink(fs, p));
	cfs_disconnect(&reader);
	free(buf);
}

int
main(int argc, char **argv)
{
	struct cfs *fs;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SERVERS [FRAGMENT_SIZE]\n", argv[0]);
		return 2;
	}
	servers = argv[1];
	if (argc > 2)
		fsz = strtoul(argv[2], NULL, 0);
	snprintf(top, sizeof(top), "/libcfs-%d", (int)getpid());

	test_connect_errors();
	test_default_creds();
	fs = connect_as(0, 0);
	if (fs == NULL)
		return 1;
	test_namespace(fs);
	test_permissions(fs);
	test_misuse(fs);
	test_data(fs);
	test_readdir(fs);
	test_xattr(fs);
	test_goal(fs);
	test_statfs(fs);
	test_threads(fs);
	test_locks(fs);
	test_leases(fs);
	test_data_cache(fs);
	OK(remove_tree(fs, top));
	struct stat st;
	ERR(ENOENT, cfs_stat(fs, top, &st), "everything removed");
	cfs_disconnect(&fs);
	printf("%s: %d failure%s\n", failures ? "FAIL" : "ok", failures,
	       failures == 1 ? "" : "s");
	return failures ? 1 : 0;
}
