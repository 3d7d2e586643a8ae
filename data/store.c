/* store.c - fragment replicas as files: reading and verifying them, the directory tree, deletes and listing (writing: store_write.c). */

/*
 * Crash safety.  A replica file under its final name is only ever created by
 * rename(2) of a temp file that was fully written (data, CRC table, header)
 * and, for a durable commit, fsync'd; the rename is followed by an fsync of
 * the directory.  rename is atomic, so after a crash a final name holds
 * either a complete replica of that version or nothing (or, for a
 * non-durable commit, possibly nothing yet).  A temp file is never read as a
 * replica: its name carries ".tmp.", store_list skips it, and store_open
 * deletes every one left by a crash mid-write.  Bits that rot later are
 * caught by the header CRC, the table CRC and the per-block CRCs, and
 * reported as CFS_CORRUPT.
 *
 * A new version that starts as a copy of a base version (store_write_begin
 * with base_version) re-checks, at commit, each block it did not touch
 * against the base's block CRC, so a silently corrupt base block is not
 * laundered into a new version with fresh, valid CRCs.
 */
#include "data/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/log.h"
#include "data/delta.h"
#include "data/image.h"
#include "data/journal.h"
#include "data/patch.h"
#include "data/replica.h"
#include "data/store_int.h"

/* Room for "/frags/HH/" and the longest name with a temp suffix. */
#define DIR_MAX (PATH_MAX - 128)

/* The filesystem refuses O_DIRECT (@what: open, or a write): every
 * writer from now on writes through the page cache. */
void
store_direct_refused(struct store *s, const char *what)
{
	if (atomic_exchange(&s->direct, 0))
		LOG_INFO("store %s: O_DIRECT refused (%s): reading and "
			 "writing through the page cache", s->dir, what);
}

unsigned
store_frag_hash(uint64_t ino, uint32_t idx)
{
	uint8_t b[12];

	put_le(b, ino, 8);
	put_le(b + 8, idx, 4);
	return crc32c(0, b, sizeof(b)) & 0xff;
}

static void
name_of(const struct store_key *k, char *buf, size_t cap)
{
	snprintf(buf, cap, "%016" PRIx64 ".%" PRIu32 ".%" PRIu64, k->ino,
		 k->idx, k->version);
}

/* The key named by a replica file name; -1 unless @name is exactly the
 * canonical name (no signs, spaces, upper case or leading zeros). */
int
store_parse_name(const char *name, struct store_key *k)
{
	char canon[64], *end;
	unsigned long long idx;

	if (strlen(name) < 20 || name[16] != '.')
		return -1;
	k->ino = strtoull(name, &end, 16);
	if (end != name + 16)
		return -1;
	idx = strtoull(end + 1, &end, 10);
	if (*end != '.' || idx > UINT32_MAX)
		return -1;
	k->idx = (uint32_t)idx;
	k->version = strtoull(end + 1, &end, 10);
	if (*end != '\0')
		return -1;
	name_of(k, canon, sizeof(canon));
	return strcmp(canon, name) == 0 ? 0 : -1;
}

void
store_path(const struct store *s, const struct store_key *k, char *buf,
	   size_t cap)
{
	char name[64];

	name_of(k, name, sizeof(name));
	snprintf(buf, cap, "%s/frags/%02x/%s", s->dir,
		 store_frag_hash(k->ino, k->idx), name);
}

void
store_set_direct(struct store *s, int on)
{
	atomic_store(&s->direct, on != 0);
}

const char *
store_dir(const struct store *s)
{
	return s->dir;
}

void
store_tmp_path(struct store *s, const char *path, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s" TMP_MARK "%ld.%" PRIu64, path, (long)getpid(),
		 (uint64_t)atomic_fetch_add(&s->tmp_counter, 1));
}

/* ---- reading ------------------------------------------------------------ */

/*
 * Bulk reads go past the page cache as well, for the same reason as bulk
 * writes: on the VM above fio reads 4 MiB blocks of a cold file at 343-614
 * MiB/s buffered with 82-91 % of a core in the kernel, and at 837-1,153
 * MiB/s direct with 8-10 %.  Whole blocks that land at 4 KiB-aligned
 * places of the caller's buffer are read straight into it, as runs of up
 * to READ_RUN bytes from one file of the chain, and checked there: no
 * bounce buffer, no copy.  A run whose pages are all in the page cache
 * already (a hot fragment, or one just written through it) is read from
 * there instead; anything else (partial blocks at the ends of the range,
 * every block of a range that does not start at a multiple of 4 KiB, a
 * short last block) goes block by block through the page cache.  Clients
 * read whole fragments or 64 KiB blocks of them, so their reads start at
 * aligned offsets.
 */
#define READ_RUN (4u << 20)

/* Whether every page of [@off, @off + @len) of @fd is in the page cache
 * (no if that cannot be told). */
static int
all_cached(int fd, uint64_t off, size_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char vec[READ_RUN / 4096 + 2];
	size_t pages;
	void *p;
	int in;

	if (pg <= 0)
		return 0;
	len += (size_t)(off % (uint64_t)pg); /* mmap maps from a page */
	off -= off % (uint64_t)pg;
	if ((pages = (len + (size_t)pg - 1) / (size_t)pg) > sizeof(vec))
		return 0;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);
	if (p == MAP_FAILED)
		return 0;
	in = mincore(p, len, vec) == 0;
	munmap(p, len);
	for (size_t i = 0; in && i < pages; i++)
		in = vec[i] & 1;
	return in;
}

/* Turn O_DIRECT on or off on @fd (the replica's own descriptor). */
static int
fd_direct(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	int want = on ? fl | O_DIRECT : fl & ~O_DIRECT;
	return want == fl ? 0 : fcntl(fd, F_SETFL, want);
}

/* How many blocks from @b on can be read as one run of at most @max
 * bytes into @dst (block @b's place in the caller's buffer): whole blocks
 * inside [@b * BS, @end), held by one file, at an aligned place; 0 if not
 * even block @b. */
static uint64_t
run_of(const struct replica *r, uint64_t b, uint64_t end, const uint8_t *dst,
       size_t max, int *fd)
{
	uint64_t n = 0;
	int bottom;

	if ((uintptr_t)dst % DIRECT_ALIGN != 0)
		return 0;
	*fd = replica_fd(r, b, &bottom);
	while ((b + n + 1) * BS <= end && (n + 1) * BS <= max &&
	       replica_fd(r, b + n, &bottom) == *fd)
		n++;
	return n;
}

/* Read blocks [@b, @b + @n) of @r from @fd into @dst and check them;
 * from the page cache if @cache_ok and it holds them all. */
static int
read_run(struct store *s, const struct replica *r, int fd, uint64_t b,
	 uint64_t n, uint8_t *dst, int cache_ok, char *errmsg)
{
	uint64_t at = HDR + b * BS;
	size_t len = (size_t)(n * BS);
	int direct = atomic_load(&s->direct) &&
		     !(cache_ok && all_cached(fd, at, len));
	ssize_t got;

	if (direct && fd_direct(fd, 1) != 0) {
		store_direct_refused(s, "read");
		direct = 0;
	}
	got = pread_full(fd, dst, len, at);
	if (direct) {
		int e = errno;
		/* The descriptor is the replica's own, but the block-by-block
		 * reads after this run use it too, into unaligned buffers. */
		if (fd_direct(fd, 0) != 0)
			return cfs_fail_errno(errmsg, errno,
					      "%s: turning O_DIRECT off",
					      r->path);
		if (got < 0 && e == EINVAL) { /* an alignment it wants more of */
			store_direct_refused(s, "read");
			got = pread_full(fd, dst, len, at);
		} else {
			errno = e;
		}
	}
	for (uint64_t i = 0; i < n; i++) {
		ssize_t have = got < 0		       ? -1
			       : (uint64_t)got <= i * BS ? 0
							 : got - (ssize_t)(i * BS);
		int rc = replica_check_block(r, b + i, dst + i * BS, have,
					     errmsg);
		if (rc != 0)
			return rc;
	}
	return 0;
}

void (*store_test_opened)(const struct store_key *k);

/*
 * A replica's file can be replaced under an open reader: a hand-over
 * rebases a delta (a new file renamed over it) before it writes into the
 * base that the old file still reads through, and a compaction deletes
 * the older deltas before it writes into theirs (data/delta.c).  Such a
 * reader finds blocks that fail its CRCs although every file is sound.
 * So a CFS_CORRUPT counts only while the name still holds the file that
 * was read: 1 if it holds another one now (read again), CFS_ENOENT if
 * none, 0 if the same.
 */
static int
moved_under(const struct replica *r)
{
	struct stat a, b;

	if (fstat(r->fd, &a) != 0)
		return 0;
	if (stat(r->path, &b) != 0)
		return errno == ENOENT ? CFS_ENOENT : 0;
	return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

static int
read_once(struct store *s, const struct store_key *k, uint64_t off, void *buf,
	  size_t len, size_t *got, uint64_t *length, uint32_t *data_crc,
	  int *moved, char *errmsg)
{
	struct replica r;
	uint8_t *blk = NULL;
	uint64_t end;
	size_t done = 0, n;
	int rc;

	*got = 0;
	rc = replica_open(s, k, &r, errmsg);
	if (rc != 0)
		return rc;
	if (length != NULL)
		*length = r.length;
	if (data_crc != NULL)
		*data_crc = r.data_crc;
	if (store_test_opened != NULL)
		store_test_opened(k);
	if (off >= r.length || len == 0)
		goto out;
	end = off + (len < r.length - off ? len : r.length - off);
	for (uint64_t b = off / BS; b * BS < end;) {
		uint64_t from = off > b * BS ? off - b * BS : 0;
		uint64_t to, run = 0;
		int fd;

		if (from == 0)
			run = run_of(&r, b, end, (uint8_t *)buf + done,
				     READ_RUN, &fd);
		if (run > 0) {
			rc = read_run(s, &r, fd, b, run,
				      (uint8_t *)buf + done, 1, errmsg);
			if (rc != 0)
				goto out;
			done += (size_t)(run * BS);
			b += run;
			continue;
		}
		if (blk == NULL && (blk = malloc(BS)) == NULL) {
			rc = cfs_fail(errmsg, CFS_ENOMEM, "%s: read buffer",
				      r.path);
			goto out;
		}
		rc = replica_block(&r, b, blk, &n, errmsg);
		if (rc != 0)
			goto out;
		to = end < b * BS + n ? end - b * BS : n;
		memcpy((uint8_t *)buf + done, blk + from, to - from);
		done += to - from;
		b++;
	}
	*got = done;
out:
	if (rc == CFS_CORRUPT)
		*moved = moved_under(&r);
	free(blk);
	replica_close(&r);
	return rc;
}

/* A CFS_CORRUPT from a file that was replaced while it was read is read
 * again (a few times: each hand-over replaces it once). */
#define MOVED_RETRIES 3

/* What a read or verify (try @i) that ended with @rc, its file @moved
 * (moved_under), returns; -1: read again. */
static int
after_read(int rc, int moved, int i, const struct store_key *k, char *errmsg)
{
	if (rc != CFS_CORRUPT || moved == 0)
		return rc;
	if (moved == CFS_ENOENT)
		return cfs_fail(errmsg, CFS_ENOENT,
				"%016" PRIx64 ".%" PRIu32 " v%" PRIu64
				": removed while it was read",
				k->ino, k->idx, k->version);
	if (i + 1 == MOVED_RETRIES)
		return rc;
	LOG_DEBUG("%016" PRIx64 ".%" PRIu32 " v%" PRIu64 ": replaced while it "
		  "was read (%s): reading it again",
		  k->ino, k->idx, k->version, errmsg);
	return -1;
}

int
store_read_stat(struct store *s, const struct store_key *k, uint64_t off,
		void *buf, size_t len, size_t *got, uint64_t *length,
		uint32_t *data_crc, char *errmsg)
{
	for (int i = 0;; i++) {
		int moved = 0;
		int rc = read_once(s, k, off, buf, len, got, length, data_crc,
				   &moved, errmsg);
		if ((rc = after_read(rc, moved, i, k, errmsg)) >= 0)
			return rc;
	}
}

int
store_read(struct store *s, const struct store_key *k, uint64_t off, void *buf,
	   size_t len, size_t *got, char *errmsg)
{
	return store_read_stat(s, k, off, buf, len, got, NULL, NULL, errmsg);
}

int
store_stat(struct store *s, const struct store_key *k, uint64_t *length,
	   uint32_t *data_crc, uint64_t *stamp, char *errmsg)
{
	struct replica r;
	int rc = replica_open(s, k, &r, errmsg);

	if (rc != 0)
		return rc;
	*length = r.length;
	*data_crc = r.data_crc;
	if (stamp != NULL)
		*stamp = r.stamp;
	replica_close(&r);
	return 0;
}

/* The scrub's reads (store_verify) go in runs of this many bytes, past
 * the page cache like bulk reads (a scrub that reads through it evicts
 * what clients read, and costs several times the CPU), and always from
 * the disk: a copy in the cache says nothing of what the disk holds. */
#define VERIFY_RUN (1u << 20)

static int
verify_once(struct store *s, const struct store_key *k, int *moved,
	    char *errmsg)
{
	struct replica r;
	uint8_t *blk;
	uint32_t crc = 0;
	size_t n;
	int rc = replica_open(s, k, &r, errmsg);

	if (rc != 0)
		return rc;
	if (store_test_opened != NULL)
		store_test_opened(k);
	blk = aligned_alloc(DIRECT_ALIGN, VERIFY_RUN);
	if (blk == NULL)
		rc = cfs_fail(errmsg, CFS_ENOMEM, "%s: read buffer", r.path);
	for (uint64_t b = 0; rc == 0 && b < r.nblocks;) {
		int fd;
		uint64_t run = run_of(&r, b, r.length, blk, VERIFY_RUN, &fd);
		if (run > 0) {
			rc = read_run(s, &r, fd, b, run, blk, 0, errmsg);
			if (rc == 0)
				crc = crc32c(crc, blk, (size_t)(run * BS));
			b += run;
			continue;
		}
		rc = replica_block(&r, b, blk, &n, errmsg);
		if (rc == 0)
			crc = crc32c(crc, blk, n);
		b++;
	}
	if (rc == 0 && crc != r.data_crc)
		rc = cfs_fail(errmsg, CFS_CORRUPT,
			      "%s: data crc 0x%08x, header says 0x%08x", r.path,
			      (unsigned)crc, (unsigned)r.data_crc);
	if (rc == CFS_CORRUPT)
		*moved = moved_under(&r);
	free(blk);
	replica_close(&r);
	return rc;
}

int
store_verify(struct store *s, const struct store_key *k, char *errmsg)
{
	for (int i = 0;; i++) {
		int moved = 0;
		int rc = verify_once(s, k, &moved, errmsg);
		if ((rc = after_read(rc, moved, i, k, errmsg)) >= 0)
			return rc;
	}
}

/* fsync @path, or the directory that holds it when @parent. */
int
store_sync_path(const char *path, int parent, char *errmsg)
{
	char p[PATH_MAX], *slash;
	int fd, rc = 0;

	snprintf(p, sizeof(p), "%s", path);
	slash = parent ? strrchr(p, '/') : NULL;
	if (parent && slash == NULL)
		strcpy(p, ".");
	else if (slash != NULL)
		slash[slash == p] = '\0'; /* "/x" -> "/" */
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cfs_fail_errno(errmsg, errno, "%s: open %s for fsync",
				      path, parent ? "directory" : "file");
	if (fsync(fd) < 0)
		rc = cfs_fail_errno(errmsg, errno, "%s: fsync %s", path,
				    parent ? "directory" : "file");
	close(fd);
	return rc;
}

int
store_make_dir(const char *path, char *errmsg)
{
	if (mkdir(path, 0755) == 0)
		return store_sync_path(path, 1, errmsg);
	if (errno != EEXIST)
		return cfs_fail_errno(errmsg, errno, "%s: mkdir", path);
	return 0;
}

/* ---- the directory tree ------------------------------------------------- */

/* Call @fn for every entry but "." and ".." of frags/@hh (none if it does
 * not exist).  1 if @fn stopped the walk, 0 if not, or an error. */
int
store_walk_dir(struct store *s, unsigned hh, store_walk_fn *fn, void *arg,
	       char *errmsg)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int stop = 0;

	snprintf(dir, sizeof(dir), "%s/frags/%02x", s->dir, hh);
	d = opendir(dir);
	if (d == NULL && errno == ENOENT)
		return 0;
	if (d == NULL)
		return cfs_fail_errno(errmsg, errno, "%s: opendir", dir);
	/* readdir tells an error from the end only by errno: a listing cut
	 * short must not pass for the whole (a hand-over would miss a delta
	 * built on the file it deletes) */
	while (!stop && (errno = 0, de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			stop = fn(arg, dir, hh, de->d_name);
	int err = stop ? 0 : errno;
	closedir(d);
	if (err != 0)
		return cfs_fail_errno(errmsg, err, "%s: readdir", dir);
	return stop ? 1 : 0;
}

/* store_walk_dir over all 256 directories. */
static int
walk_all(struct store *s, store_walk_fn *fn, void *arg, char *errmsg)
{
	for (unsigned hh = 0; hh < 256; hh++) {
		int rc = store_walk_dir(s, hh, fn, arg, errmsg);
		if (rc == 1)
			return 0;
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
remove_temp(void *arg, const char *dir, unsigned hh, const char *name)
{
	unsigned *count = arg;
	char path[PATH_MAX + 256];

	if (strstr(name, TMP_MARK) == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) == 0)
		(*count)++;
	else
		LOG_WARN("%s: cannot remove leftover temp file: %s", path,
			 strerror(errno));
	return 0;
}

/* mkdir -p @path (modified while running, restored). */
static int
make_dirs(char *path, char *errmsg)
{
	for (char *p = path + 1;; p++) {
		char c = *p;
		int rc;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		rc = store_make_dir(path, errmsg);
		*p = c;
		if (rc != 0 || c == '\0')
			return rc;
	}
}

/*
 * Mark @path (the frags directory) a top of directory hierarchies
 * (FS_TOPDIR_FL, chattr +T), so that ext4 places each hash directory made
 * under it in a block group of its own (the Orlov allocator) and every
 * file in that group.  Every version of a fragment is a new file and the
 * previous one is deleted soon after, and ext4 without a journal skips the
 * inodes deleted in the last minutes when it allocates one, reading each:
 * with all 256 directories in one group, creates crawled past thousands of
 * those.  fio's fsync'd 4 KiB writes on `cfsctl dev up` (4 nodes on one
 * such disk), perf: recently_deleted() 5.1 % of all CPU samples before,
 * 0.08 % after; open() 7.5 % before, 2.2 % after.  Only directories made
 * from then on move; any other filesystem ignores the flag or refuses
 * it, which is fine.
 */
static void
mark_topdir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), flags;

	if (fd < 0)
		return;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
	    !(flags & FS_TOPDIR_FL)) {
		flags |= FS_TOPDIR_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0)
			LOG_DEBUG("%s: chattr +T: %s", path, strerror(errno));
	}
	close(fd);
}

/* A new store of @dir (checked), nothing on the disk touched yet. */
static int
store_new(const char *dir, struct store **out, char *errmsg)
{
	struct store *s;

	if (dir[0] == '\0' || strlen(dir) > DIR_MAX)
		return cfs_fail(errmsg, CFS_EINVAL,
				"%.64s: store directory name empty or too long",
				dir);
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->dir = strdup(dir)) == NULL) {
		free(s);
		return cfs_fail(errmsg, CFS_ENOMEM, "%s: store", dir);
	}
	atomic_init(&s->tmp_counter, 0);
	atomic_init(&s->direct, 1);
	s->dirfd = -1;
	*out = s;
	return 0;
}

int
store_open(const char *dir, struct store **out, char *errmsg)
{
	struct store *s = NULL;
	char frags[PATH_MAX];
	unsigned removed = 0;
	int rc;

	if ((rc = store_new(dir, &s, errmsg)) != 0)
		return rc;
	snprintf(frags, sizeof(frags), "%s/frags", dir);
	rc = make_dirs(frags, errmsg);
	if (rc == 0)
		mark_topdir(frags);
	if (rc == 0)
		rc = walk_all(s, remove_temp, &removed, errmsg);
	if (rc != 0) {
		store_close(&s);
		return rc;
	}
	LOG_INFO("store %s: opened; removed %u temp file(s) of interrupted "
		 "writes",
		 dir, removed);
	*out = s;
	return 0;
}

int
store_open_reader(const char *dir, struct store **out, char *errmsg)
{
	char frags[PATH_MAX];
	struct stat st;
	struct store *s = NULL;
	int rc = store_new(dir, &s, errmsg);

	if (rc != 0)
		return rc;
	snprintf(frags, sizeof(frags), "%s/frags", dir);
	if (stat(frags, &st) < 0)
		rc = cfs_fail_errno(errmsg, errno, "%s", frags);
	else if (!S_ISDIR(st.st_mode))
		rc = cfs_fail(errmsg, CFS_ENOENT, "%s: not a directory", frags);
	if (rc != 0) {
		store_close(&s);
		return rc;
	}
	*out = s;
	return 0;
}

int
store_set_journal(struct store *s, uint64_t size, char *errmsg)
{
	unsigned replayed = 0;
	struct statvfs vfs;
	int rc;

	if (s->journal != NULL)
		journal_close(&s->journal);
	if (s->dirfd < 0 &&
	    (s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return cfs_fail_errno(errmsg, errno, "%s: open", s->dir);
	/* Two files of at most 1/32 of the filesystem each; on one too
	 * small for two of the smallest, none. */
	if (size > 0 && fstatvfs(s->dirfd, &vfs) == 0) {
		uint64_t cap = (uint64_t)vfs.f_blocks * vfs.f_frsize / 32;
		if (cap < JOURNAL_MIN_SIZE) {
			LOG_INFO("store %s: a filesystem of %" PRIu64
				 " bytes is too small for a journal: every "
				 "durable write fsyncs its file",
				 s->dir, cap * 32);
			size = 0;
		} else if (size > cap) {
			size = cap;
		}
	}
	rc = journal_open(&s->journal, s->dir, size, s->dirfd, image_restore,
			  patch_replay, s, &replayed, errmsg);
	if (rc == CFS_ENOSPC) {
		LOG_WARN("store %s: no room for a journal (%s): every durable "
			 "write fsyncs its file",
			 s->dir, errmsg);
		size = 0;
		rc = journal_open(&s->journal, s->dir, 0, s->dirfd,
				  image_restore, patch_replay, s, &replayed,
				  errmsg);
	}
	if (rc == 0)
		LOG_INFO("store %s: journal of 2 x %" PRIu64 " bytes%s; "
			 "%u replica file(s) checked or restored from it",
			 s->dir, size, size == 0 ? " (none)" : "", replayed);
	return rc;
}

struct journal *
store_journal(struct store *s)
{
	return s->journal;
}

void
store_forget(struct store *s, const struct store_key *k)
{
	journal_forget(s->journal, k);
}

void
store_journal_hold(struct store *s, int hold)
{
	if (s->journal != NULL)
		journal_hold_checkpoints(s->journal, hold);
}

void
store_journal_stats(struct store *s, uint64_t *puts, uint64_t *checkpoints)
{
	*puts = *checkpoints = 0;
	if (s->journal != NULL)
		journal_stats(s->journal, puts, checkpoints);
}

void
store_close(struct store **s)
{
	if (s == NULL || *s == NULL)
		return;
	journal_close(&(*s)->journal);
	if ((*s)->dirfd >= 0)
		close((*s)->dirfd);
	free((*s)->dir);
	free(*s);
	*s = NULL;
}

/* ---- deleting ----------------------------------------------------------- */

int
store_delete(struct store *s, const struct store_key *k, char *errmsg)
{
	char path[PATH_MAX];
	struct stat st;
	int gone, rc;

	store_path(s, k, path, sizeof(path));
	if (lstat(path, &st) < 0 && errno == ENOENT)
		return cfs_fail(errmsg, CFS_ENOENT, "%s", path);
	/* The deltas built on it need its blocks. */
	rc = delta_absorb(s, k, &gone, errmsg);
	if (rc != 0 || gone)
		return rc;
	if (unlink(path) == 0) {
		store_forget(s, k);
		return 0;
	}
	if (errno == ENOENT)
		return cfs_fail(errmsg, CFS_ENOENT, "%s", path);
	return cfs_fail_errno(errmsg, errno, "%s: unlink", path);
}

/*
 * Why a stamp: a frag_delete names a replica by key, but a key can be
 * deleted and then written again on the same node (repair copies a
 * committed version back to a node whose earlier copy was garbage).  A
 * delete that was queued at the node while that happened must not remove
 * the new copy, which the metadata counts.  Each copy is written with a
 * fresh stamp, and the delete carries the stamp of the incarnation it
 * means, so a delete that is late finds another stamp and does nothing.
 * From the sender's view the incarnation it named is gone either way,
 * hence CFS_OK.  A header that does not check cannot tell its stamp; such
 * a file is no readable replica of anything, so it is deleted.
 */
int
store_delete_stamp(struct store *s, const struct store_key *k, uint64_t stamp,
		   char *errmsg)
{
	char path[PATH_MAX], why[CFS_ERRMSG_SIZE];
	struct hdr *f = malloc(sizeof(*f));
	uint64_t have = 0;
	int rc;

	if (f == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "header");
	store_path(s, k, path, sizeof(path));
	rc = replica_read_header(s, k, f, why);
	have = f->stamp;
	free(f);
	if (rc == CFS_ENOENT)
		return cfs_fail(errmsg, CFS_ENOENT, "%s", path);
	if (rc != 0 && rc != CFS_CORRUPT) {
		if (errmsg != NULL)
			snprintf(errmsg, CFS_ERRMSG_SIZE, "%s", why);
		return rc;
	}
	if (rc == 0 && have != stamp) {
		LOG_INFO("%s: kept: stamp %016" PRIx64 ", the delete is for "
			 "stamp %016" PRIx64 " (another incarnation)",
			 path, have, stamp);
		return 0;
	}
	if (rc != 0)
		LOG_WARN("%s; deleting it anyway", why);
	return store_delete(s, k, errmsg);
}

struct older_ctx {
	uint64_t ino;
	uint32_t idx;
	uint64_t keep_from;
	struct store_key *keys;
	size_t n, cap;
	int nomem;
};

static int
collect_older(void *arg, const char *dir, unsigned hh, const char *name)
{
	struct older_ctx *c = arg;
	struct store_key k;

	(void)dir;
	(void)hh;
	if (store_parse_name(name, &k) != 0 || k.ino != c->ino ||
	    k.idx != c->idx || k.version >= c->keep_from)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		struct store_key *keys = realloc(c->keys, cap * sizeof(*keys));
		if (keys == NULL) {
			c->nomem = 1;
			return 1;
		}
		c->keys = keys;
		c->cap = cap;
	}
	c->keys[c->n++] = k;
	return 0;
}

/* Deleted one by one through store_delete (after the walk: a delete may
 * rename files of the directory), so deltas built on them survive. */
int
store_delete_older(struct store *s, uint64_t ino, uint32_t idx,
		   uint64_t keep_from, char *errmsg)
{
	struct older_ctx c = {ino, idx, keep_from, NULL, 0, 0, 0};
	int rc = store_walk_dir(s, store_frag_hash(ino, idx), collect_older, &c,
				errmsg);

	if (rc == 0 && c.nomem)
		rc = cfs_fail(errmsg, CFS_ENOMEM, "older versions");
	for (size_t i = 0; rc == 0 && i < c.n; i++) {
		rc = store_delete(s, &c.keys[i], errmsg);
		if (rc == CFS_ENOENT)
			rc = 0;
	}
	free(c.keys);
	return rc;
}

struct list_ctx {
	int (*cb)(void *arg, const struct store_key *k);
	void *arg;
};

static int
list_one(void *arg, const char *dir, unsigned hh, const char *name)
{
	struct list_ctx *c = arg;
	struct store_key k;

	if (strstr(name, TMP_MARK) != NULL)
		return 0; /* a write in progress */
	if (store_parse_name(name, &k) != 0) {
		LOG_WARN("%s/%s: not a replica file name; skipped", dir, name);
		return 0;
	}
	if (store_frag_hash(k.ino, k.idx) != hh) {
		LOG_WARN("%s/%s: belongs in directory %02x; skipped", dir, name,
			 store_frag_hash(k.ino, k.idx));
		return 0;
	}
	return c->cb(c->arg, &k) != 0;
}

int
store_list(struct store *s, int (*cb)(void *arg, const struct store_key *k),
	   void *arg, char *errmsg)
{
	struct list_ctx c = {cb, arg};

	return walk_all(s, list_one, &c, errmsg);
}

static int
keys_push(void *arg, const struct store_key *k)
{
	struct store_keys *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		struct store_key *keys = realloc(l->keys, cap * sizeof(*keys));
		if (keys == NULL) {
			l->oom = 1;
			return 1; /* stop listing */
		}
		l->keys = keys;
		l->cap = cap;
	}
	l->keys[l->n++] = *k;
	return 0;
}

int
store_list_keys(struct store *s, struct store_keys *l, char *errmsg)
{
	l->n = 0;
	l->oom = 0;
	return store_list(s, keys_push, l, errmsg);
}

void
store_keys_free(struct store_keys *l)
{
	free(l->keys);
	memset(l, 0, sizeof(*l));
}

int
store_space(struct store *s, uint64_t *capacity, uint64_t *free_bytes,
	    char *errmsg)
{
	struct statvfs st;

	if (statvfs(s->dir, &st) < 0)
		return cfs_fail_errno(errmsg, errno, "%s: statvfs", s->dir);
	*capacity = (uint64_t)st.f_blocks * st.f_frsize;
	*free_bytes = (uint64_t)st.f_bavail * st.f_frsize;
	return 0;
}
