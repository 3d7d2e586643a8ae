/* store.c - fragment replicas as files: temp + rename commit, block CRC32C. */

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
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/log.h"

#define HDR STORE_HEADER_SIZE
#define BS STORE_BLOCK_SIZE
/* header_crc covers the bytes before it: [0, 44) in format 1, [0, 52) in
 * format 2, which puts the stamp at 44. */
#define HDR_CRC_OFF_V1 44
#define HDR_STAMP_OFF 44
#define HDR_CRC_OFF 52
#define TMP_MARK ".tmp."
/* Room for "/frags/HH/" and the longest name with a temp suffix. */
#define DIR_MAX (PATH_MAX - 128)

struct store {
	char *dir;
	atomic_uint_fast64_t tmp_counter; /* the only mutable shared state */
};

struct store_writer {
	struct store *s;
	struct store_key k;
	int fd; /* -1 once closed or dead */
	uint64_t length;
	uint64_t stamp;	       /* the incarnation written into the header */
	uint64_t base_version; /* 0: started empty */
	uint64_t base_blocks;
	uint32_t *base_crcs; /* base_blocks CRCs of the base version */
	uint8_t *dirty;	     /* per base block: changed since the copy */
	char path[PATH_MAX];
	char tmp[PATH_MAX + 64]; /* path + TMP_MARK + pid.counter */
};

/* A replica open for reading, its header and CRC table checked. */
struct replica {
	int fd;
	uint64_t length;
	uint32_t data_crc;
	uint64_t stamp; /* 0 for a format 1 file */
	uint64_t nblocks;
	uint32_t *crcs;
	char path[PATH_MAX];
};

static void
put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t
nblocks_of(uint64_t length)
{
	return (length + BS - 1) / BS;
}

static size_t
block_len(uint64_t length, uint64_t b)
{
	uint64_t left = length - b * BS;
	return left < BS ? (size_t)left : BS;
}

/* pread until @len bytes or end of file: bytes read, or -1 with errno. */
static ssize_t
pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* pwrite all of @buf: 0, or -1 with errno. */
static int
pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) { /* no progress: never loop forever */
			errno = EIO;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

static unsigned
frag_hash(uint64_t ino, uint32_t idx)
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
static int
parse_name(const char *name, struct store_key *k)
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
		 frag_hash(k->ino, k->idx), name);
}

const char *
store_dir(const struct store *s)
{
	return s->dir;
}

/* The header of replica @k in @format (STORE_FORMAT, or STORE_FORMAT_V1
 * only to check an old file: it has no stamp). */
static void
header_encode(uint8_t *h, const struct store_key *k, uint64_t length,
	      uint32_t data_crc, unsigned format, uint64_t stamp)
{
	int crc_off = format == STORE_FORMAT_V1 ? HDR_CRC_OFF_V1 : HDR_CRC_OFF;

	memset(h, 0, HDR);
	put_le(h, STORE_MAGIC, 4);
	put_le(h + 4, format, 2);
	put_le(h + 6, HDR, 2);
	put_le(h + 8, BS, 4);
	put_le(h + 12, k->ino, 8);
	put_le(h + 20, k->idx, 4);
	put_le(h + 24, k->version, 8);
	put_le(h + 32, length, 8);
	put_le(h + 40, data_crc, 4);
	if (format != STORE_FORMAT_V1)
		put_le(h + HDR_STAMP_OFF, stamp, 8);
	put_le(h + crc_off, crc32c(0, h, (size_t)crc_off), 4);
}

/* Check header @h of replica @k at @path; CFS_CORRUPT saying what is wrong.
 * Format 1 (no stamp: *@stamp is 0) and format 2 are read.  Past magic,
 * format and CRC, @h must equal the header that this code would write for
 * @k in that format with the length, data_crc and stamp that @h holds. */
static int
header_check(const uint8_t *h, const struct store_key *k, const char *path,
	     uint64_t *length, uint32_t *data_crc, uint64_t *stamp,
	     char *errmsg)
{
	unsigned format = (unsigned)get_le(h + 4, 2);
	int crc_off = format == STORE_FORMAT_V1 ? HDR_CRC_OFF_V1 : HDR_CRC_OFF;
	uint32_t crc;
	uint8_t want[HDR];
	size_t i;

	if (get_le(h, 4) != STORE_MAGIC)
		return cfs_fail(errmsg, CFS_CORRUPT, "%s: bad magic 0x%08x",
				path, (unsigned)get_le(h, 4));
	if (format != STORE_FORMAT_V1 && format != STORE_FORMAT)
		return cfs_fail(errmsg, CFS_CORRUPT, "%s: unknown format %u",
				path, format);
	crc = crc32c(0, h, (size_t)crc_off);
	if (get_le(h + crc_off, 4) != crc)
		return cfs_fail(errmsg, CFS_CORRUPT,
				"%s: header crc 0x%08x, computed 0x%08x", path,
				(unsigned)get_le(h + crc_off, 4),
				(unsigned)crc);
	*length = get_le(h + 32, 8);
	*data_crc = (uint32_t)get_le(h + 40, 4);
	*stamp = format == STORE_FORMAT_V1 ? 0 : get_le(h + HDR_STAMP_OFF, 8);
	header_encode(want, k, *length, *data_crc, format, *stamp);
	for (i = 0; i < HDR && h[i] == want[i]; i++)
		;
	if (i < HDR) /* sizes, key, or the zero tail */
		return cfs_fail(
		    errmsg, CFS_CORRUPT,
		    "%s: header byte %zu is 0x%02x, expected 0x%02x", path, i,
		    h[i], want[i]);
	if (*length > STORE_MAX_LENGTH)
		return cfs_fail(errmsg, CFS_CORRUPT,
				"%s: length %" PRIu64 " too large", path,
				*length);
	return 0;
}

static void
replica_close(struct replica *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->crcs);
	r->crcs = NULL;
}

/* Read and check the CRC table of @r, whose header is checked. */
static int
replica_load_table(struct replica *r, char *errmsg)
{
	size_t tsize = 4 * (size_t)(r->nblocks + 1);
	uint8_t *raw;
	ssize_t n;
	uint32_t want;

	r->crcs = malloc(tsize);
	if (r->crcs == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "%s: crc table", r->path);
	raw = (uint8_t *)r->crcs;
	n = pread_full(r->fd, raw, tsize, HDR + r->length);
	if (n < 0)
		return cfs_fail_errno(errmsg, errno, "%s: read crc table",
				      r->path);
	if ((size_t)n != tsize)
		return cfs_fail(errmsg, CFS_CORRUPT, "%s: crc table truncated",
				r->path);
	want = crc32c(0, raw, tsize - 4);
	if (get_le(raw + tsize - 4, 4) != want)
		return cfs_fail(errmsg, CFS_CORRUPT,
				"%s: crc table crc 0x%08x, computed 0x%08x",
				r->path, (unsigned)get_le(raw + tsize - 4, 4),
				(unsigned)want);
	for (uint64_t i = 0; i < r->nblocks; i++) /* in place, to host order */
		r->crcs[i] = (uint32_t)get_le(raw + 4 * i, 4);
	return 0;
}

/* Open replica @k and check its header, size and CRC table.  On failure
 * @r holds nothing to close. */
static int
replica_open(struct store *s, const struct store_key *k, struct replica *r,
	     char *errmsg)
{
	uint8_t h[HDR];
	struct stat st;
	ssize_t n;
	int rc;

	store_path(s, k, r->path, sizeof(r->path));
	r->crcs = NULL;
	r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 && errno == ENOENT)
		return cfs_fail(errmsg, CFS_ENOENT, "%s", r->path);
	if (r->fd < 0)
		return cfs_fail_errno(errmsg, errno, "%s: open", r->path);
	n = pread_full(r->fd, h, HDR, 0);
	if (n < 0) {
		rc = cfs_fail_errno(errmsg, errno, "%s: read header", r->path);
		goto err;
	}
	if (n != HDR) {
		rc = cfs_fail(errmsg, CFS_CORRUPT, "%s: header truncated",
			      r->path);
		goto err;
	}
	rc = header_check(h, k, r->path, &r->length, &r->data_crc, &r->stamp,
			  errmsg);
	if (rc != 0)
		goto err;
	r->nblocks = nblocks_of(r->length);
	if (fstat(r->fd, &st) < 0) {
		rc = cfs_fail_errno(errmsg, errno, "%s: fstat", r->path);
		goto err;
	}
	if ((uint64_t)st.st_size != HDR + r->length + 4 * (r->nblocks + 1)) {
		rc = cfs_fail(errmsg, CFS_CORRUPT,
			      "%s: %lld bytes, header says %" PRIu64
			      " bytes of data",
			      r->path, (long long)st.st_size, r->length);
		goto err;
	}
	rc = replica_load_table(r, errmsg);
	if (rc != 0)
		goto err;
	return 0;
err:
	replica_close(r);
	return rc;
}

/* Read block @b of @r into @blk (BS bytes) and check its CRC. */
static int
replica_block(struct replica *r, uint64_t b, uint8_t *blk, size_t *len,
	      char *errmsg)
{
	size_t want = block_len(r->length, b);
	ssize_t n = pread_full(r->fd, blk, want, HDR + b * BS);
	uint32_t crc;

	if (n < 0)
		return cfs_fail_errno(errmsg, errno, "%s: block %" PRIu64,
				      r->path, b);
	if ((size_t)n != want)
		return cfs_fail(errmsg, CFS_CORRUPT,
				"%s: block %" PRIu64 " truncated", r->path, b);
	crc = crc32c(0, blk, want);
	if (crc != r->crcs[b])
		return cfs_fail(
		    errmsg, CFS_CORRUPT,
		    "%s: block %" PRIu64 ": crc 0x%08x, table says 0x%08x",
		    r->path, b, (unsigned)crc, (unsigned)r->crcs[b]);
	*len = want;
	return 0;
}

int
store_read(struct store *s, const struct store_key *k, uint64_t off, void *buf,
	   size_t len, size_t *got, char *errmsg)
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
	if (off >= r.length || len == 0)
		goto out;
	end = off + (len < r.length - off ? len : r.length - off);
	blk = malloc(BS);
	if (blk == NULL) {
		rc = cfs_fail(errmsg, CFS_ENOMEM, "%s: read buffer", r.path);
		goto out;
	}
	for (uint64_t b = off / BS; b * BS < end; b++) {
		uint64_t from = off > b * BS ? off - b * BS : 0;
		uint64_t to;

		rc = replica_block(&r, b, blk, &n, errmsg);
		if (rc != 0)
			goto out;
		to = end < b * BS + n ? end - b * BS : n;
		memcpy((uint8_t *)buf + done, blk + from, to - from);
		done += to - from;
	}
	*got = done;
out:
	free(blk);
	replica_close(&r);
	return rc;
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

int
store_verify(struct store *s, const struct store_key *k, char *errmsg)
{
	struct replica r;
	uint8_t *blk;
	uint32_t crc = 0;
	size_t n;
	int rc = replica_open(s, k, &r, errmsg);

	if (rc != 0)
		return rc;
	blk = malloc(BS);
	if (blk == NULL)
		rc = cfs_fail(errmsg, CFS_ENOMEM, "%s: read buffer", r.path);
	for (uint64_t b = 0; rc == 0 && b < r.nblocks; b++) {
		rc = replica_block(&r, b, blk, &n, errmsg);
		if (rc == 0)
			crc = crc32c(crc, blk, n);
	}
	if (rc == 0 && crc != r.data_crc)
		rc = cfs_fail(errmsg, CFS_CORRUPT,
			      "%s: data crc 0x%08x, header says 0x%08x", r.path,
			      (unsigned)crc, (unsigned)r.data_crc);
	free(blk);
	replica_close(&r);
	return rc;
}

/* ---- writing ------------------------------------------------------------ */

/* Fail @w's current call with @errnum.  ENOSPC kills the writer at once and
 * removes its temp file, to give the space back. */
static int
writer_fail(struct store_writer *w, int errnum, const char *what, char *errmsg)
{
	int rc = cfs_fail_errno(errmsg, errnum, "%s: %s", w->tmp, what);

	if (rc == CFS_ENOSPC && w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
		unlink(w->tmp);
	}
	return rc;
}

/* Mark the base blocks that overlap data bytes [@lo, @hi) as changed. */
static void
writer_dirty(struct store_writer *w, uint64_t lo, uint64_t hi)
{
	if (w->dirty == NULL)
		return;
	for (uint64_t b = lo / BS; b < w->base_blocks && b * BS < hi; b++)
		w->dirty[b] = 1;
}

static void
writer_free(struct store_writer *w, int unlink_tmp)
{
	if (w->fd >= 0)
		close(w->fd);
	if (unlink_tmp)
		unlink(w->tmp);
	free(w->base_crcs);
	free(w->dirty);
	free(w);
}

/* Copy data [0, @len) of replica file @from to temp file @to. */
static int
copy_data(int from, int to, uint64_t len, const char *path, char *errmsg)
{
	loff_t in = HDR, out = HDR, end = (loff_t)(HDR + len);
	ssize_t n;

	while (in < end) {
		n = copy_file_range(from, &in, to, &out, (size_t)(end - in), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cfs_fail_errno(errmsg, errno,
					      "%s: copy from base", path);
		if (n == 0)
			return cfs_fail(errmsg, CFS_CORRUPT,
					"%s: base shorter than its header",
					path);
	}
	return 0;
}

/* Start @w as a copy of version @base_version of its fragment, if that
 * replica exists; keep the base's block CRCs to check at commit. */
static int
writer_copy_base(struct store_writer *w, uint64_t base_version, char *errmsg)
{
	struct store_key bk = w->k;
	struct replica r;
	int rc;

	bk.version = base_version;
	rc = replica_open(w->s, &bk, &r, errmsg);
	if (rc == CFS_ENOENT) {
		LOG_DEBUG("%s: no base version %" PRIu64 "; starting empty",
			  w->tmp, base_version);
		if (errmsg != NULL)
			errmsg[0] = '\0';
		return 0;
	}
	if (rc != 0)
		return rc;
	rc = copy_data(r.fd, w->fd, r.length, w->tmp, errmsg);
	if (rc != 0) /* the caller removes the temp file */
		goto out;
	w->dirty = calloc(r.nblocks + 1, 1);
	if (w->dirty == NULL) {
		rc = cfs_fail(errmsg, CFS_ENOMEM, "%s: base map", w->tmp);
		goto out;
	}
	w->base_version = base_version;
	w->base_blocks = r.nblocks;
	w->base_crcs = r.crcs;
	r.crcs = NULL;
	w->length = r.length;
out:
	replica_close(&r);
	return rc;
}

/* fsync @path, or the directory that holds it when @parent. */
static int
sync_path(const char *path, int parent, char *errmsg)
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

/* mkdir @path unless it exists.  A new directory's entry is fsync'd in its
 * parent, or a durable replica inside it could vanish in a crash. */
static int
make_dir(const char *path, char *errmsg)
{
	if (mkdir(path, 0755) == 0)
		return sync_path(path, 1, errmsg);
	if (errno != EEXIST)
		return cfs_fail_errno(errmsg, errno, "%s: mkdir", path);
	return 0;
}

int
store_write_begin(struct store *s, const struct store_key *k,
		  uint64_t base_version, struct store_writer **out,
		  char *errmsg)
{
	struct store_writer *w;
	char dir[PATH_MAX];
	int rc;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "store writer");
	w->s = s;
	w->k = *k;
	w->fd = -1;
	store_path(s, k, w->path, sizeof(w->path));
	if (k->version == 0 || base_version == k->version) {
		rc = cfs_fail(errmsg, CFS_EINVAL, "%s: base version %" PRIu64,
			      w->path, base_version);
		goto err_after_alloc;
	}
	snprintf(dir, sizeof(dir), "%s/frags/%02x", s->dir,
		 frag_hash(k->ino, k->idx));
	rc = make_dir(dir, errmsg);
	if (rc != 0)
		goto err_after_alloc;
	snprintf(w->tmp, sizeof(w->tmp), "%s" TMP_MARK "%ld.%" PRIu64, w->path,
		 (long)getpid(),
		 (uint64_t)atomic_fetch_add(&s->tmp_counter, 1));
	w->fd = open(w->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		rc = cfs_fail_errno(errmsg, errno, "%s: create", w->tmp);
		goto err_after_alloc;
	}
	if (ftruncate(w->fd, HDR) < 0) {
		rc = writer_fail(w, errno, "truncate", errmsg);
		goto err_after_create;
	}
	if (base_version != 0) {
		rc = writer_copy_base(w, base_version, errmsg);
		if (rc != 0)
			goto err_after_create;
	}
	*out = w;
	return 0;
err_after_create:
	writer_free(w, 1);
	return rc;
err_after_alloc:
	free(w);
	return rc;
}

void
store_write_set_stamp(struct store_writer *w, uint64_t stamp)
{
	w->stamp = stamp;
}

int
store_write(struct store_writer *w, uint64_t off, const void *buf, size_t len,
	    char *errmsg)
{
	if (w->fd < 0)
		return cfs_fail(errmsg, CFS_EIO, "%s: writer failed earlier",
				w->tmp);
	if (off > STORE_MAX_LENGTH || len > STORE_MAX_LENGTH - off)
		return cfs_fail(errmsg, CFS_EINVAL,
				"%s: write of %zu bytes at %" PRIu64, w->tmp,
				len, off);
	if (len == 0)
		return 0;
	if (pwrite_full(w->fd, buf, len, HDR + off) < 0)
		return writer_fail(w, errno, "write", errmsg);
	/* A write past the end also changes the hole before it. */
	writer_dirty(w, off < w->length ? off : w->length, off + len);
	if (off + len > w->length)
		w->length = off + len;
	return 0;
}

int
store_truncate(struct store_writer *w, uint64_t length, char *errmsg)
{
	if (w->fd < 0)
		return cfs_fail(errmsg, CFS_EIO, "%s: writer failed earlier",
				w->tmp);
	if (length > STORE_MAX_LENGTH)
		return cfs_fail(errmsg, CFS_EINVAL, "%s: truncate to %" PRIu64,
				w->tmp, length);
	if (ftruncate(w->fd, (off_t)(HDR + length)) < 0)
		return writer_fail(w, errno, "truncate", errmsg);
	if (length < w->length)
		writer_dirty(w, length, w->length);
	else
		writer_dirty(w, w->length, length);
	w->length = length;
	return 0;
}

/* Read block @b of @w's temp file back into @blk; its CRC goes to *@crc.
 * A block unchanged since the copy from the base must still match the
 * base's CRC. */
static int
writer_block(struct store_writer *w, uint64_t b, uint8_t *blk, size_t *len,
	     uint32_t *crc, char *errmsg)
{
	size_t want = block_len(w->length, b);
	ssize_t n = pread_full(w->fd, blk, want, HDR + b * BS);

	if (n < 0)
		return writer_fail(w, errno, "read back", errmsg);
	if ((size_t)n != want)
		return cfs_fail(errmsg, CFS_EIO,
				"%s: block %" PRIu64 " short on read back",
				w->tmp, b);
	*crc = crc32c(0, blk, want);
	*len = want;
	if (b < w->base_blocks && !w->dirty[b] && *crc != w->base_crcs[b])
		return cfs_fail(errmsg, CFS_CORRUPT,
				"%s: block %" PRIu64
				" copied from version %" PRIu64
				": crc 0x%08x, base table says 0x%08x",
				w->tmp, b, w->base_version, (unsigned)*crc,
				(unsigned)w->base_crcs[b]);
	return 0;
}

/* Turn @w's temp file into a complete replica file: the CRC table after
 * the data, then the header, then the exact size. */
static int
writer_seal(struct store_writer *w, uint32_t *data_crc, char *errmsg)
{
	uint64_t nb = nblocks_of(w->length);
	size_t tsize = 4 * (size_t)(nb + 1), n = 0;
	uint8_t *blk = malloc(BS), *table = malloc(tsize), h[HDR];
	uint32_t crc = 0;
	int rc = 0;

	*data_crc = 0;
	if (blk == NULL || table == NULL)
		rc = cfs_fail(errmsg, CFS_ENOMEM, "%s: crc table", w->tmp);
	for (uint64_t b = 0; rc == 0 && b < nb; b++) {
		rc = writer_block(w, b, blk, &n, &crc, errmsg);
		if (rc != 0)
			break;
		put_le(table + 4 * b, crc, 4);
		*data_crc = crc32c(*data_crc, blk, n);
	}
	if (rc != 0)
		goto out;
	put_le(table + tsize - 4, crc32c(0, table, tsize - 4), 4);
	header_encode(h, &w->k, w->length, *data_crc, STORE_FORMAT, w->stamp);
	if (pwrite_full(w->fd, table, tsize, HDR + w->length) < 0)
		rc = writer_fail(w, errno, "write crc table", errmsg);
	else if (pwrite_full(w->fd, h, HDR, 0) < 0)
		rc = writer_fail(w, errno, "write header", errmsg);
	else if (ftruncate(w->fd, (off_t)(HDR + w->length + tsize)) < 0)
		rc = writer_fail(w, errno, "truncate", errmsg);
out:
	free(blk);
	free(table);
	return rc;
}

/* Put @w's sealed and closed temp file under its final name, unless an
 * identical replica is already there (a retried commit).  Identical
 * includes the stamp: a replica of another incarnation is replaced, or a
 * frag_delete of that incarnation still on its way would remove it. */
static int
writer_publish(struct store_writer *w, uint32_t data_crc, int durable,
	       char *errmsg)
{
	struct replica old;
	int same = 0, rc;

	if (replica_open(w->s, &w->k, &old, NULL) == 0) {
		same = old.length == w->length && old.data_crc == data_crc &&
		       old.stamp == w->stamp;
		replica_close(&old);
	}
	if (same) {
		unlink(w->tmp);
		/* It may have been committed without fsync. */
		rc = durable ? sync_path(w->path, 0, errmsg) : 0;
		if (rc != 0)
			return rc;
	} else if (rename(w->tmp, w->path) < 0) {
		return cfs_fail_errno(errmsg, errno, "%s: rename from %s",
				      w->path, w->tmp);
	}
	return durable ? sync_path(w->path, 1, errmsg) : 0;
}

int
store_write_commit(struct store_writer **wp, int durable, uint32_t *out_crc,
		   uint64_t *out_len, char *errmsg)
{
	struct store_writer *w = *wp;
	uint32_t data_crc = 0;
	int rc;

	*wp = NULL;
	if (w->fd < 0) {
		rc = cfs_fail(errmsg, CFS_EIO, "%s: writer failed earlier",
			      w->tmp);
		goto out;
	}
	rc = writer_seal(w, &data_crc, errmsg);
	if (rc == 0 && durable && fsync(w->fd) < 0)
		rc = writer_fail(w, errno, "fsync", errmsg);
	if (rc == 0) {
		int fd = w->fd;

		w->fd = -1;
		if (close(fd) < 0)
			rc = writer_fail(w, errno, "close", errmsg);
	}
	if (rc == 0)
		rc = writer_publish(w, data_crc, durable, errmsg);
	if (rc == 0 && out_crc != NULL)
		*out_crc = data_crc;
	if (rc == 0 && out_len != NULL)
		*out_len = w->length;
out:
	writer_free(w, rc != 0);
	return rc;
}

void
store_write_abort(struct store_writer **wp)
{
	if (wp == NULL || *wp == NULL)
		return;
	writer_free(*wp, 1);
	*wp = NULL;
}

/* ---- the directory tree ------------------------------------------------- */

/* Called for each entry of a frags/HH directory; non-zero stops the walk. */
typedef int walk_fn(void *arg, const char *dir, unsigned hh, const char *name);

/* Call @fn for every entry but "." and ".." of frags/@hh (none if it does
 * not exist).  1 if @fn stopped the walk, 0 if not, or an error. */
static int
walk_dir(struct store *s, unsigned hh, walk_fn *fn, void *arg, char *errmsg)
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
	while (!stop && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			stop = fn(arg, dir, hh, de->d_name);
	closedir(d);
	return stop ? 1 : 0;
}

/* walk_dir over all 256 directories. */
static int
walk_all(struct store *s, walk_fn *fn, void *arg, char *errmsg)
{
	for (unsigned hh = 0; hh < 256; hh++) {
		int rc = walk_dir(s, hh, fn, arg, errmsg);
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
		rc = make_dir(path, errmsg);
		*p = c;
		if (rc != 0 || c == '\0')
			return rc;
	}
}

int
store_open(const char *dir, struct store **out, char *errmsg)
{
	struct store *s;
	char frags[PATH_MAX];
	unsigned removed = 0;
	int rc;

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
	snprintf(frags, sizeof(frags), "%s/frags", dir);
	rc = make_dirs(frags, errmsg);
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

void
store_close(struct store **s)
{
	if (s == NULL || *s == NULL)
		return;
	free((*s)->dir);
	free(*s);
	*s = NULL;
}

int
store_delete(struct store *s, const struct store_key *k, char *errmsg)
{
	char path[PATH_MAX];

	store_path(s, k, path, sizeof(path));
	if (unlink(path) == 0)
		return 0;
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
	uint8_t h[HDR];
	uint64_t length, have = 0;
	uint32_t data_crc;
	ssize_t n;
	int fd, rc;

	store_path(s, k, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return cfs_fail(errmsg, CFS_ENOENT, "%s", path);
	if (fd < 0)
		return cfs_fail_errno(errmsg, errno, "%s: open", path);
	n = pread_full(fd, h, HDR, 0);
	if (n < 0) {
		rc = cfs_fail_errno(errmsg, errno, "%s: read header", path);
		close(fd);
		return rc;
	}
	close(fd);
	if (n != HDR)
		rc = cfs_fail(why, CFS_CORRUPT, "%s: header truncated", path);
	else
		rc = header_check(h, k, path, &length, &data_crc, &have, why);
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
	int rc;
	char *errmsg;
};

static int
delete_older_one(void *arg, const char *dir, unsigned hh, const char *name)
{
	struct older_ctx *c = arg;
	struct store_key k;
	char path[PATH_MAX + 256];

	if (parse_name(name, &k) != 0 || k.ino != c->ino || k.idx != c->idx ||
	    k.version >= c->keep_from)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) < 0 && errno != ENOENT && c->rc == 0)
		c->rc = cfs_fail_errno(c->errmsg, errno, "%s: unlink", path);
	return 0;
}

int
store_delete_older(struct store *s, uint64_t ino, uint32_t idx,
		   uint64_t keep_from, char *errmsg)
{
	struct older_ctx c = {ino, idx, keep_from, 0, errmsg};
	int rc = walk_dir(s, frag_hash(ino, idx), delete_older_one, &c, errmsg);

	return rc != 0 ? rc : c.rc;
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
	if (parse_name(name, &k) != 0) {
		LOG_WARN("%s/%s: not a replica file name; skipped", dir, name);
		return 0;
	}
	if (frag_hash(k.ino, k.idx) != hh) {
		LOG_WARN("%s/%s: belongs in directory %02x; skipped", dir, name,
			 frag_hash(k.ino, k.idx));
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
