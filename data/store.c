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
/* Format 3 (a delta): the base version at 52, the bitmap of the blocks
 * this file holds from 60, header_crc over [0, 4092) at 4092. */
#define HDR_BASE_OFF 52
#define HDR_MAP_OFF 60
#define HDR_CRC_OFF_DELTA (HDR - 4)
#define MAP_BYTES (HDR_CRC_OFF_DELTA - HDR_MAP_OFF)
#define TMP_MARK ".tmp."
/* Room for "/frags/HH/" and the longest name with a temp suffix. */
#define DIR_MAX (PATH_MAX - 128)

struct store {
	char *dir;
	atomic_uint_fast64_t tmp_counter; /* the only mutable shared state */
};

/* What a header says (header_encode, header_check). */
struct hdr {
	unsigned format;
	uint64_t length;
	uint32_t data_crc;
	uint64_t stamp;		/* 0 in format 1 */
	uint64_t base_version;	/* format 3 only */
	uint8_t map[MAP_BYTES]; /* format 3 only: blocks held in this file */
};

/* Deepest chain of bases a reader follows (writes make depth 1; handing
 * a deleted base over makes 2 for a moment, more only after crashes). */
#define CHAIN_MAX 8

/* One base in a delta's chain: a delta (its map says which blocks it
 * holds) or, last, a whole file (holds every block left). */
struct level {
	int fd;
	int whole;
	uint64_t version;
	uint8_t map[MAP_BYTES];
};

/* A replica open for reading, its header and CRC table checked.  A delta
 * (format 3) also holds its chain of bases open: each block not in its
 * own map is read from the first base that holds it, at the same offset,
 * and checked against this replica's own CRC table. */
struct replica {
	int fd;
	int nlev;	   /* bases in lev[] */
	struct level *lev; /* malloc'd, CHAIN_MAX, for a delta */
	struct hdr h;
	uint64_t length;
	uint32_t data_crc;
	uint64_t stamp; /* 0 for a format 1 file */
	uint64_t nblocks;
	uint32_t *crcs;
	char path[PATH_MAX];
};

/*
 * A writer that starts from a base keeps the base open and copies nothing
 * up front: a block of the base is copied into the temp file
 * ("materialized") only when a write touches part of it or at commit when
 * it cannot be shared; a block neither written nor cut stays in the base
 * and the new replica is committed as a delta (format 3) naming it.
 */
struct store_writer {
	struct store *s;
	struct store_key k;
	int fd; /* -1 once closed or dead */
	uint64_t length;
	uint64_t stamp;	       /* the incarnation written into the header */
	uint64_t base_version; /* 0: started empty */
	struct replica base;   /* open while base_version != 0 */
	uint64_t base_live;    /* base bytes below this are still the data's */
	uint8_t *dirty; /* per base block: the temp file holds its bytes */
	int replace;	/* publish even over an identical replica */
	char path[PATH_MAX];
	char tmp[PATH_MAX + 64]; /* path + TMP_MARK + pid.counter */
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

static int
map_get(const uint8_t *map, uint64_t b)
{
	return (map[b / 8] >> (b % 8)) & 1;
}

static void
map_set(uint8_t *map, uint64_t b)
{
	map[b / 8] |= (uint8_t)(1u << (b % 8));
}

/* The header of replica @k as @f says, in f->format (STORE_FORMAT_V1 only
 * to check an old file: it has no stamp). */
static void
header_encode(uint8_t *h, const struct store_key *k, const struct hdr *f)
{
	int crc_off = f->format == STORE_FORMAT_V1      ? HDR_CRC_OFF_V1
		      : f->format == STORE_FORMAT_DELTA ? HDR_CRC_OFF_DELTA
							: HDR_CRC_OFF;

	memset(h, 0, HDR);
	put_le(h, STORE_MAGIC, 4);
	put_le(h + 4, f->format, 2);
	put_le(h + 6, HDR, 2);
	put_le(h + 8, BS, 4);
	put_le(h + 12, k->ino, 8);
	put_le(h + 20, k->idx, 4);
	put_le(h + 24, k->version, 8);
	put_le(h + 32, f->length, 8);
	put_le(h + 40, f->data_crc, 4);
	if (f->format != STORE_FORMAT_V1)
		put_le(h + HDR_STAMP_OFF, f->stamp, 8);
	if (f->format == STORE_FORMAT_DELTA) {
		put_le(h + HDR_BASE_OFF, f->base_version, 8);
		memcpy(h + HDR_MAP_OFF, f->map,
		       (size_t)(nblocks_of(f->length) + 7) / 8);
	}
	put_le(h + crc_off, crc32c(0, h, (size_t)crc_off), 4);
}

/* Check header @h of replica @k at @path into *@f; CFS_CORRUPT saying what
 * is wrong.  Formats 1 (no stamp: stamp 0), 2 and 3 (a delta) are read.
 * Past magic, format and CRC, @h must equal the header that this code
 * would write for @k in that format with the fields @h holds (so the key,
 * sizes, map bits past the last block and the zero tail are checked). */
static int
header_check(const uint8_t *h, const struct store_key *k, const char *path,
	     struct hdr *f, char *errmsg)
{
	unsigned format = (unsigned)get_le(h + 4, 2);
	int crc_off = format == STORE_FORMAT_V1	     ? HDR_CRC_OFF_V1
		      : format == STORE_FORMAT_DELTA ? HDR_CRC_OFF_DELTA
						     : HDR_CRC_OFF;
	uint32_t crc;
	uint8_t want[HDR];
	size_t i;

	if (get_le(h, 4) != STORE_MAGIC)
		return cfs_fail(errmsg, CFS_CORRUPT, "%s: bad magic 0x%08x",
				path, (unsigned)get_le(h, 4));
	if (format != STORE_FORMAT_V1 && format != STORE_FORMAT &&
	    format != STORE_FORMAT_DELTA)
		return cfs_fail(errmsg, CFS_CORRUPT, "%s: unknown format %u",
				path, format);
	crc = crc32c(0, h, (size_t)crc_off);
	if (get_le(h + crc_off, 4) != crc)
		return cfs_fail(errmsg, CFS_CORRUPT,
				"%s: header crc 0x%08x, computed 0x%08x", path,
				(unsigned)get_le(h + crc_off, 4),
				(unsigned)crc);
	memset(f, 0, sizeof(*f));
	f->format = format;
	f->length = get_le(h + 32, 8);
	f->data_crc = (uint32_t)get_le(h + 40, 4);
	f->stamp = format == STORE_FORMAT_V1 ? 0 : get_le(h + HDR_STAMP_OFF, 8);
	if (f->length > STORE_MAX_LENGTH)
		return cfs_fail(errmsg, CFS_CORRUPT,
				"%s: length %" PRIu64 " too large", path,
				f->length);
	if (format == STORE_FORMAT_DELTA) {
		uint64_t nb = nblocks_of(f->length);
		f->base_version = get_le(h + HDR_BASE_OFF, 8);
		if (nb > STORE_DELTA_MAX_BLOCKS || f->base_version == 0 ||
		    f->base_version == k->version)
			return cfs_fail(errmsg, CFS_CORRUPT,
					"%s: delta of %" PRIu64
					" blocks on base v%" PRIu64,
					path, nb, f->base_version);
		memcpy(f->map, h + HDR_MAP_OFF, (size_t)(nb + 7) / 8);
		if (nb % 8)
			f->map[nb / 8] &= (uint8_t)((1u << (nb % 8)) - 1);
	}
	header_encode(want, k, f);
	for (i = 0; i < HDR && h[i] == want[i]; i++)
		;
	if (i < HDR) /* sizes, key, map, or the zero tail */
		return cfs_fail(
		    errmsg, CFS_CORRUPT,
		    "%s: header byte %zu is 0x%02x, expected 0x%02x", path, i,
		    h[i], want[i]);
	return 0;
}

static void
replica_close(struct replica *r)
{
	if (r->fd >= 0)
		close(r->fd);
	for (int i = 0; r->lev != NULL && i < r->nlev; i++)
		close(r->lev[i].fd);
	free(r->lev);
	r->lev = NULL;
	r->nlev = 0;
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

/*
 * Open the chain of bases of delta @r (key @k).  A base whose header says
 * format 1 or 2 is the whole file at the end of the chain; its header is
 * not checked (a merge may be rewriting it: data/store.h; the blocks are
 * checked against @r's table).  A format 3 base must check as its key.
 * CFS_EAGAIN if a base is missing or does not check (a hand-over renamed
 * or replaced it meanwhile: try again); CFS_CORRUPT past CHAIN_MAX.
 */
static int
replica_open_chain(struct store *s, const struct store_key *k,
		   struct replica *r, char *errmsg)
{
	struct store_key bk = *k;
	char bpath[PATH_MAX];
	uint8_t h[HDR];
	struct hdr *f;
	int rc = 0;

	r->lev = malloc(CHAIN_MAX * sizeof(*r->lev));
	f = malloc(sizeof(*f));
	if (r->lev == NULL || f == NULL) {
		free(f);
		return cfs_fail(errmsg, CFS_ENOMEM, "%s: chain", r->path);
	}
	bk.version = r->h.base_version;
	for (;;) {
		struct level *l = &r->lev[r->nlev];
		ssize_t n;
		unsigned format;

		if (r->nlev == CHAIN_MAX) {
			rc = cfs_fail(errmsg, CFS_CORRUPT,
				      "%s: more than %d bases", r->path,
				      CHAIN_MAX);
			break;
		}
		store_path(s, &bk, bpath, sizeof(bpath));
		l->fd = open(bpath, O_RDONLY | O_CLOEXEC);
		if (l->fd < 0) {
			rc = errno == ENOENT
				 ? cfs_fail(errmsg, CFS_EAGAIN,
					    "%s: base %s is missing", r->path,
					    bpath)
				 : cfs_fail_errno(errmsg, errno,
						  "%s: open base %s", r->path,
						  bpath);
			break;
		}
		r->nlev++;
		l->version = bk.version;
		n = pread_full(l->fd, h, HDR, 0);
		if (n < 0) {
			rc = cfs_fail_errno(errmsg, errno, "%s: read header",
					    bpath);
			break;
		}
		format = n == HDR ? (unsigned)get_le(h + 4, 2) : 0;
		l->whole = format == STORE_FORMAT || format == STORE_FORMAT_V1;
		if (l->whole)
			break;
		if (n != HDR || format != STORE_FORMAT_DELTA ||
		    header_check(h, &bk, bpath, f, errmsg) != 0) {
			rc = cfs_fail(errmsg, CFS_EAGAIN, "%s: base %s is not "
				      "a replica", r->path, bpath);
			break;
		}
		memcpy(l->map, f->map, sizeof(l->map));
		bk.version = f->base_version;
	}
	free(f);
	return rc;
}

/* The version of the whole file at the end of @r's chain (@r's own if it
 * is whole). */
static uint64_t
replica_bottom(const struct replica *r, const struct store_key *k)
{
	return r->nlev > 0 ? r->lev[r->nlev - 1].version : k->version;
}

/* The file that holds block @b of @r, and whether it is the whole file at
 * the end of the chain. */
static int
replica_fd(const struct replica *r, uint64_t b, int *bottom)
{
	*bottom = r->nlev == 0;
	if (r->nlev == 0 || map_get(r->h.map, b))
		return r->fd;
	for (int i = 0; i < r->nlev; i++)
		if (r->lev[i].whole || map_get(r->lev[i].map, b)) {
			*bottom = r->lev[i].whole;
			return r->lev[i].fd;
		}
	return -1; /* not reached: the chain ends with a whole file */
}

/* One attempt of replica_open(); CFS_EAGAIN when a delta's base vanished
 * under it (merged into the delta's name meanwhile: try again). */
static int
replica_open_once(struct store *s, const struct store_key *k,
		  struct replica *r, char *errmsg)
{
	uint8_t h[HDR];
	struct stat st;
	ssize_t n;
	int rc;

	store_path(s, k, r->path, sizeof(r->path));
	r->crcs = NULL;
	r->lev = NULL;
	r->nlev = 0;
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
	rc = header_check(h, k, r->path, &r->h, errmsg);
	if (rc != 0)
		goto err;
	r->length = r->h.length;
	r->data_crc = r->h.data_crc;
	r->stamp = r->h.stamp;
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
	if (r->h.format == STORE_FORMAT_DELTA)
		rc = replica_open_chain(s, k, r, errmsg);
	if (rc != 0)
		goto err;
	return 0;
err:
	replica_close(r);
	return rc;
}

/* Open replica @k and check its header, size and CRC table (a delta: and
 * open its base).  On failure @r holds nothing to close. */
static int
replica_open(struct store *s, const struct store_key *k, struct replica *r,
	     char *errmsg)
{
	int rc = CFS_EAGAIN;

	/* A delta whose base is merged into it (merge_into_base) is renamed
	 * over by the whole replica just after; reopening finds that. */
	for (int i = 0; i < 3 && rc == CFS_EAGAIN; i++)
		rc = replica_open_once(s, k, r, errmsg);
	if (rc == CFS_EAGAIN)
		rc = CFS_CORRUPT;
	return rc;
}

/* Read block @b of @r into @blk (BS bytes) and check its CRC. */
static int
replica_block(struct replica *r, uint64_t b, uint8_t *blk, size_t *len,
	      char *errmsg)
{
	size_t want = block_len(r->length, b);
	int bottom;
	int fd = replica_fd(r, b, &bottom);
	ssize_t n = pread_full(fd, blk, want, HDR + b * BS);
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
		    "%s: block %" PRIu64 "%s: crc 0x%08x, table says 0x%08x",
		    r->path, b, fd != r->fd ? " (in the base)" : "",
		    (unsigned)crc, (unsigned)r->crcs[b]);
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

static void
writer_free(struct store_writer *w, int unlink_tmp)
{
	if (w->fd >= 0)
		close(w->fd);
	if (unlink_tmp)
		unlink(w->tmp);
	if (w->base_version != 0)
		replica_close(&w->base);
	free(w->dirty);
	free(w);
}

/* Copy what block @b of the base still gives the data (its bytes below
 * base_live) into the temp file, checked against the base's CRC, unless
 * the temp file holds the block already.  The rest of the block reads as
 * zeros.  A corrupt base block fails with CFS_CORRUPT naming it, so rot is
 * never copied under a fresh CRC. */
static int
writer_materialize(struct store_writer *w, uint64_t b, char *errmsg)
{
	uint8_t *blk;
	size_t n = 0, want;
	int rc;

	if (w->dirty == NULL || b >= w->base.nblocks || w->dirty[b])
		return 0;
	w->dirty[b] = 1;
	if (w->base_live <= b * BS)
		return 0;
	blk = malloc(BS);
	if (blk == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "%s: block buffer", w->tmp);
	rc = replica_block(&w->base, b, blk, &n, errmsg);
	if (rc == 0) {
		want = w->base_live - b * BS < n ? (size_t)(w->base_live - b * BS)
						 : n;
		if (pwrite_full(w->fd, blk, want, HDR + b * BS) < 0)
			rc = writer_fail(w, errno, "copy from base", errmsg);
	}
	free(blk);
	return rc;
}

/* Begin @w from version @base_version of its fragment, if that replica
 * exists: keep it open, copy nothing yet. */
static int
writer_open_base(struct store_writer *w, uint64_t base_version, char *errmsg)
{
	struct store_key bk = w->k;
	int rc;

	bk.version = base_version;
	rc = replica_open(w->s, &bk, &w->base, errmsg);
	if (rc == CFS_ENOENT) {
		LOG_DEBUG("%s: no base version %" PRIu64 "; starting empty",
			  w->tmp, base_version);
		if (errmsg != NULL)
			errmsg[0] = '\0';
		return 0;
	}
	if (rc != 0)
		return rc;
	w->base_version = base_version; /* from here writer_free closes it */
	w->dirty = calloc(w->base.nblocks + 1, 1);
	if (w->dirty == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "%s: base map", w->tmp);
	w->length = w->base.length;
	w->base_live = w->base.length;
	if (ftruncate(w->fd, (off_t)(HDR + w->length)) < 0)
		return writer_fail(w, errno, "truncate", errmsg);
	return 0;
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
		rc = writer_open_base(w, base_version, errmsg);
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
	int rc;

	if (w->fd < 0)
		return cfs_fail(errmsg, CFS_EIO, "%s: writer failed earlier",
				w->tmp);
	if (off > STORE_MAX_LENGTH || len > STORE_MAX_LENGTH - off)
		return cfs_fail(errmsg, CFS_EINVAL,
				"%s: write of %zu bytes at %" PRIu64, w->tmp,
				len, off);
	if (len == 0)
		return 0;
	/* Base blocks written in part are copied first; blocks written
	 * whole need nothing from the base.  (Blocks in a hole that the
	 * write leaves past the end hold no base bytes: base_live <=
	 * length.) */
	for (uint64_t b = off / BS; w->dirty != NULL && b < w->base.nblocks &&
				    b * BS < off + len;
	     b++) {
		if (off <= b * BS && off + len >= (b + 1) * BS)
			w->dirty[b] = 1;
		else if ((rc = writer_materialize(w, b, errmsg)) != 0)
			return rc;
	}
	if (pwrite_full(w->fd, buf, len, HDR + off) < 0)
		return writer_fail(w, errno, "write", errmsg);
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
	/* Base bytes at or past a cut are gone, even if the data grows
	 * again (it grows with zeros). */
	if (length < w->base_live)
		w->base_live = length;
	w->length = length;
	return 0;
}

/* True if block @b of the new replica can stay where the base reads it
 * from: not written, the same extent as the base's block, no byte of it
 * cut, and in the whole file at the end of the base's chain (a new delta
 * is always built on that file, so chains stay one deep). */
static int
writer_shares(const struct store_writer *w, uint64_t b)
{
	size_t n = block_len(w->length, b);
	int bottom = 0;

	if (w->dirty == NULL || b >= w->base.nblocks || w->dirty[b] ||
	    n != block_len(w->base.length, b) || b * BS + n > w->base_live)
		return 0;
	(void)replica_fd(&w->base, b, &bottom);
	return bottom;
}

/* Read block @b of @w's temp file back into @blk; its CRC goes to *@crc. */
static int
writer_block(struct store_writer *w, uint64_t b, uint8_t *blk, uint32_t *crc,
	     char *errmsg)
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
	return 0;
}

/*
 * Turn @w's temp file into a complete replica file: the CRC table after
 * the data, then the header, then the exact size.  Each block is either
 * shared (writer_shares: its CRC is the base's) or in the temp file
 * (copied from the base first if need be; CRC read back).  If any block
 * is shared the file is a delta (format 3) of the whole file at the end
 * of the base's chain, else a whole replica.
 */
static int
writer_seal(struct store_writer *w, uint32_t *data_crc, char *errmsg)
{
	uint64_t nb = nblocks_of(w->length);
	size_t tsize = 4 * (size_t)(nb + 1);
	uint8_t *blk = malloc(BS), *table = malloc(tsize), h[HDR];
	int delta_ok = w->base_version != 0 && nb <= STORE_DELTA_MAX_BLOCKS;
	struct hdr *hd = calloc(1, sizeof(*hd));
	uint64_t shared = 0;
	uint32_t crc = 0;
	int rc = 0;

	*data_crc = 0;
	if (blk == NULL || table == NULL || hd == NULL)
		rc = cfs_fail(errmsg, CFS_ENOMEM, "%s: crc table", w->tmp);
	for (uint64_t b = 0; rc == 0 && b < nb; b++) {
		if (delta_ok && writer_shares(w, b)) {
			crc = w->base.crcs[b];
			shared++;
		} else {
			rc = writer_materialize(w, b, errmsg);
			if (rc == 0)
				rc = writer_block(w, b, blk, &crc, errmsg);
			if (rc != 0)
				break;
			map_set(hd->map, b);
		}
		put_le(table + 4 * b, crc, 4);
		*data_crc = crc32c_combine(*data_crc, crc, block_len(w->length, b));
	}
	if (rc != 0)
		goto out;
	put_le(table + tsize - 4, crc32c(0, table, tsize - 4), 4);
	hd->format = shared > 0 ? STORE_FORMAT_DELTA : STORE_FORMAT;
	hd->length = w->length;
	hd->data_crc = *data_crc;
	hd->stamp = w->stamp;
	if (shared > 0) {
		struct store_key bk = w->k;
		bk.version = w->base_version;
		hd->base_version = replica_bottom(&w->base, &bk);
	}
	header_encode(h, &w->k, hd);
	if (pwrite_full(w->fd, table, tsize, HDR + w->length) < 0)
		rc = writer_fail(w, errno, "write crc table", errmsg);
	else if (pwrite_full(w->fd, h, HDR, 0) < 0)
		rc = writer_fail(w, errno, "write header", errmsg);
	else if (ftruncate(w->fd, (off_t)(HDR + w->length + tsize)) < 0)
		rc = writer_fail(w, errno, "truncate", errmsg);
out:
	free(blk);
	free(table);
	free(hd);
	return rc;
}

/*
 * Put @w's sealed temp file under its final name, unless an identical
 * replica is already there (a retried commit).  Identical includes the
 * stamp (a replica of another incarnation is replaced, or a frag_delete of
 * that incarnation still on its way would remove it) and every block
 * checking: a file under its final name may be one whose write was never
 * answered and that a crash tore (below).
 *
 * If @durable: rename, then fsync the file, then its directory; the write
 * is answered only after both.  Renaming before the file's fsync lets that
 * one sync also carry the new name on ext4 (the directory's sync then
 * finds it clean): one metadata write per version instead of two, which is
 * most of what a small patch costs.  The price: after a crash the final
 * name of a write that was never answered may hold a torn file, which the
 * header, table and block checks report as CFS_CORRUPT, never as data, and
 * which no commit names (the chain failed, the client wrote a new
 * version).
 */
static int
writer_publish(struct store_writer *w, uint32_t data_crc, int durable,
	       char *errmsg)
{
	struct replica old;
	int same = 0, rc = 0;

	if (!w->replace && replica_open(w->s, &w->k, &old, NULL) == 0) {
		same = old.length == w->length && old.data_crc == data_crc &&
		       old.stamp == w->stamp;
		replica_close(&old);
	}
	if (same && store_verify(w->s, &w->k, NULL) != 0)
		same = 0;
	if (same) {
		unlink(w->tmp);
		/* It may have been committed without fsync. */
		rc = durable ? sync_path(w->path, 0, errmsg) : 0;
	} else if (rename(w->tmp, w->path) < 0) {
		return cfs_fail_errno(errmsg, errno, "%s: rename from %s",
				      w->path, w->tmp);
	} else if (durable && fsync(w->fd) < 0) {
		rc = cfs_fail_errno(errmsg, errno, "%s: fsync", w->path);
		unlink(w->path); /* never answered: no torn file left named */
	}
	if (rc == 0 && durable)
		rc = sync_path(w->path, 1, errmsg);
	return rc;
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
	if (rc == 0)
		rc = writer_publish(w, data_crc, durable, errmsg);
	if (rc == 0) {
		int fd = w->fd;

		w->fd = -1;
		if (close(fd) < 0)
			rc = cfs_fail_errno(errmsg, errno, "%s: close",
					    w->path);
	}
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

/* ---- deltas and their bases -------------------------------------------- */

/* Read and check the header of replica @k (not its data). */
static int
read_header(struct store *s, const struct store_key *k, struct hdr *f,
	    char *errmsg)
{
	char path[PATH_MAX];
	uint8_t h[HDR];
	ssize_t n;
	int fd;

	store_path(s, k, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return cfs_fail(errmsg, CFS_ENOENT, "%s", path);
	if (fd < 0)
		return cfs_fail_errno(errmsg, errno, "%s: open", path);
	n = pread_full(fd, h, HDR, 0);
	close(fd);
	if (n < 0)
		return cfs_fail_errno(errmsg, errno, "%s: read header", path);
	if (n != HDR)
		return cfs_fail(errmsg, CFS_CORRUPT, "%s: header truncated",
				path);
	return header_check(h, k, path, f, errmsg);
}

/* The deltas built directly on one version of a fragment. */
struct deps_ctx {
	struct store *s;
	struct store_key base;
	struct store_key *dep;
	uint8_t (*map)[MAP_BYTES]; /* each one's map */
	size_t n, cap;
	int nomem;
};

static int
deps_one(void *arg, const char *dir, unsigned hh, const char *name)
{
	struct deps_ctx *c = arg;
	struct store_key k;
	struct hdr *f;

	(void)dir;
	(void)hh;
	if (strstr(name, TMP_MARK) != NULL || parse_name(name, &k) != 0 ||
	    k.ino != c->base.ino || k.idx != c->base.idx ||
	    k.version == c->base.version)
		return 0;
	f = malloc(sizeof(*f));
	if (f == NULL) {
		c->nomem = 1;
		return 1;
	}
	if (read_header(c->s, &k, f, NULL) == 0 &&
	    f->format == STORE_FORMAT_DELTA &&
	    f->base_version == c->base.version) {
		if (c->n == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 4;
			struct store_key *d = realloc(c->dep, cap * sizeof(*d));
			uint8_t(*m)[MAP_BYTES] =
			    d ? realloc(c->map, cap * sizeof(*m)) : NULL;
			if (d != NULL)
				c->dep = d;
			if (m == NULL) {
				free(f);
				c->nomem = 1;
				return 1;
			}
			c->map = m;
			c->cap = cap;
		}
		c->dep[c->n] = k;
		memcpy(c->map[c->n], f->map, MAP_BYTES);
		c->n++;
	}
	free(f);
	return 0;
}

/* The deltas whose base is replica @base, into @c (freed by the caller
 * with deps_free). */
static int
find_deltas(struct store *s, const struct store_key *base,
	    struct deps_ctx *c, char *errmsg)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->s = s;
	c->base = *base;
	rc = walk_dir(s, frag_hash(base->ino, base->idx), deps_one, c, errmsg);
	if (c->nomem) /* the only reason deps_one stops the walk */
		rc = cfs_fail(errmsg, CFS_ENOMEM, "deltas");
	return rc;
}

static void
deps_free(struct deps_ctx *c)
{
	free(c->dep);
	free(c->map);
}

/*
 * Write replica @r (key @k, open) into @fd as a file of its own: the
 * blocks in @map (all if NULL) read through @r's chain, @r's CRC table, a
 * header naming @base as its base (0: a whole file, format 2), the exact
 * size; then fsync.  Blocks not in @map are the caller's to have in @fd
 * already (a merge) or in @base's chain (a rebase).
 */
static int
write_replica_file(const struct store_key *k, struct replica *r,
		   const uint8_t *map, uint64_t base, int fd,
		   const char *path, char *errmsg)
{
	size_t tsize = 4 * (size_t)(r->nblocks + 1), n;
	uint8_t *blk = malloc(BS), *table = malloc(tsize), h[HDR];
	struct hdr *f = malloc(sizeof(*f));
	int rc = 0;

	if (blk == NULL || table == NULL || f == NULL)
		rc = cfs_fail(errmsg, CFS_ENOMEM, "%s: buffers", path);
	for (uint64_t b = 0; rc == 0 && b < r->nblocks; b++) {
		put_le(table + 4 * b, r->crcs[b], 4);
		if (map != NULL && !map_get(map, b))
			continue;
		rc = replica_block(r, b, blk, &n, errmsg);
		if (rc == 0 && pwrite_full(fd, blk, n, HDR + b * BS) < 0)
			rc = cfs_fail_errno(errmsg, errno, "%s: write block",
					    path);
	}
	if (rc == 0) {
		put_le(table + tsize - 4, crc32c(0, table, tsize - 4), 4);
		*f = r->h;
		f->format = base != 0 ? STORE_FORMAT_DELTA : STORE_FORMAT;
		f->base_version = base;
		if (base != 0)
			memcpy(f->map, map, MAP_BYTES);
		header_encode(h, k, f);
		if (pwrite_full(fd, table, tsize, HDR + r->length) < 0 ||
		    pwrite_full(fd, h, HDR, 0) < 0 ||
		    ftruncate(fd, (off_t)(HDR + r->length + tsize)) < 0 ||
		    fsync(fd) < 0)
			rc = cfs_fail_errno(errmsg, errno, "%s: write", path);
	}
	free(blk);
	free(table);
	free(f);
	return rc;
}

/*
 * Rebase delta @d: rewrite it (temp file, fsync, rename over it, fsync of
 * the directory) holding also the blocks in @extra, on base @base.  The
 * caller guarantees that every block in neither its map nor @extra reads
 * the same from @base's chain as from its current one, so readers see the
 * same bytes before, during and after.
 */
static int
rebase(struct store *s, const struct store_key *d, const uint8_t *extra,
       uint64_t base, char *errmsg)
{
	struct replica r;
	uint8_t *map = malloc(MAP_BYTES);
	char tmp[PATH_MAX + 64];
	int fd = -1, whole = 1, rc;

	if (map == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "map");
	rc = replica_open(s, d, &r, errmsg);
	if (rc != 0) {
		free(map);
		return rc;
	}
	for (size_t i = 0; i < MAP_BYTES; i++)
		map[i] = r.h.map[i] | extra[i];
	for (uint64_t b = 0; b < r.nblocks; b++)
		whole &= map_get(map, b);
	snprintf(tmp, sizeof(tmp), "%s" TMP_MARK "%ld.%" PRIu64, r.path,
		 (long)getpid(),
		 (uint64_t)atomic_fetch_add(&s->tmp_counter, 1));
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		rc = cfs_fail_errno(errmsg, errno, "%s: create", tmp);
	else
		rc = write_replica_file(d, &r, map, whole ? 0 : base, fd, tmp,
					errmsg);
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = cfs_fail_errno(errmsg, errno, "%s: close", tmp);
	if (rc == 0 && rename(tmp, r.path) < 0)
		rc = cfs_fail_errno(errmsg, errno, "%s: rename from %s",
				    r.path, tmp);
	if (rc != 0 && fd >= 0)
		unlink(tmp);
	if (rc == 0)
		rc = sync_path(r.path, 1, errmsg);
	if (rc == 0)
		LOG_DEBUG("%s: rebased on v%" PRIu64, r.path, base);
	replica_close(&r);
	free(map);
	return rc;
}

/*
 * Make delta @d, built on whole file @base (garbage), a whole replica in
 * place of the base: d's own blocks are written into the base's file,
 * then d's CRC table and a whole-file header, the file is synced and
 * renamed over d, and the directory synced.  Throughout, d reads right:
 * the blocks it shares are never written (a reader that holds the base
 * open keeps reading them; one that opens d after the rename gets the
 * whole file), and the base's header stays a whole-file header (format 2)
 * in every byte a reader looks at.  A crash leaves d intact and the
 * base's file part merged; deleting the base again merges again.
 */
static int
merge_into_base(struct store *s, const struct store_key *d,
		const struct store_key *base, char *errmsg)
{
	char bpath[PATH_MAX];
	struct replica r;
	int fd, rc;

	rc = replica_open(s, d, &r, errmsg);
	if (rc != 0)
		return rc;
	store_path(s, base, bpath, sizeof(bpath));
	fd = open(bpath, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		rc = cfs_fail_errno(errmsg, errno, "%s: open to merge %s",
				    bpath, r.path);
	else
		rc = write_replica_file(d, &r, r.h.map, 0, fd, bpath, errmsg);
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = cfs_fail_errno(errmsg, errno, "%s: close", bpath);
	if (rc == 0 && rename(bpath, r.path) < 0)
		rc = cfs_fail_errno(errmsg, errno, "%s: rename from %s",
				    r.path, bpath);
	if (rc == 0)
		rc = sync_path(r.path, 1, errmsg);
	if (rc == 0)
		LOG_DEBUG("%s: merged into the file of its base, %s", r.path,
			  bpath);
	replica_close(&r);
	return rc;
}

/*
 * Hand the file of replica @x, which is being deleted, to the deltas
 * built on it.  *@gone: its file was taken over (nothing to unlink).
 *  1) none: nothing to do;
 *  2) @x is a delta (on base B): each is rebased on B, taking x's blocks;
 *  3) @x is a whole file: the newest, N, takes the file over
 *     (merge_into_base); each other one is first rebased on N, taking
 *     N's blocks (which it reads from x now), so that what it shares
 *     with x it shares with N afterwards.
 * A header of @x that does not check, but says format 1 or 2, counts as
 * whole (a merge into it that a crash interrupted); one saying format 3
 * is left alone (CFS_CORRUPT): its blocks cannot be told apart.
 */
static int
absorb(struct store *s, const struct store_key *x, int *gone, char *errmsg)
{
	struct hdr *f = malloc(sizeof(*f));
	struct deps_ctx c;
	size_t newest = 0;
	int rc;

	*gone = 0;
	if (f == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "header");
	rc = find_deltas(s, x, &c, errmsg);
	if (rc != 0 || c.n == 0)
		goto out;
	rc = read_header(s, x, f, errmsg);
	if (rc == 0 && f->format == STORE_FORMAT_DELTA) {
		for (size_t i = 0; rc == 0 && i < c.n; i++)
			rc = rebase(s, &c.dep[i], f->map, f->base_version,
				    errmsg);
		goto out;
	}
	if (rc == CFS_CORRUPT) {
		char path[PATH_MAX];
		uint8_t h[8];
		int fd;

		store_path(s, x, path, sizeof(path));
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && pread_full(fd, h, sizeof(h), 0) == sizeof(h) &&
		    (get_le(h + 4, 2) == STORE_FORMAT ||
		     get_le(h + 4, 2) == STORE_FORMAT_V1))
			rc = 0;
		if (fd >= 0)
			close(fd);
	}
	if (rc != 0)
		goto out;
	for (size_t i = 1; i < c.n; i++)
		if (c.dep[i].version > c.dep[newest].version)
			newest = i;
	for (size_t i = 0; rc == 0 && i < c.n; i++)
		if (i != newest)
			rc = rebase(s, &c.dep[i], c.map[newest],
				    c.dep[newest].version, errmsg);
	if (rc == 0)
		rc = merge_into_base(s, &c.dep[newest], x, errmsg);
	if (rc == 0)
		*gone = 1;
out:
	deps_free(&c);
	free(f);
	return rc;
}

int
store_compact(struct store *s, const struct store_key *k, unsigned min_blocks,
	      char *errmsg)
{
	struct hdr *f = malloc(sizeof(*f));
	struct store_key bottom = *k;
	struct deps_ctx c = {0};
	unsigned held = 0;
	int rc;

	if (f == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "header");
	rc = read_header(s, k, f, errmsg);
	if (rc != 0 || f->format != STORE_FORMAT_DELTA)
		goto out;
	for (size_t i = 0; i < MAP_BYTES; i++)
		held += (unsigned)__builtin_popcount(f->map[i]);
	if (held <= min_blocks)
		goto out;
	bottom.version = f->base_version;
	rc = find_deltas(s, &bottom, &c, errmsg);
	/* The other deltas on the same whole file: the older ones are
	 * garbage (@k is committed), the newer ones (writes not committed,
	 * perhaps never) are rebased on @k, which takes the file over. */
	for (size_t i = 0; rc == 0 && i < c.n; i++) {
		if (c.dep[i].version == k->version)
			continue;
		if (c.dep[i].version < k->version) {
			rc = store_delete(s, &c.dep[i], errmsg);
			if (rc == CFS_ENOENT)
				rc = 0;
		} else {
			rc = rebase(s, &c.dep[i], f->map, k->version, errmsg);
		}
	}
	if (rc == 0)
		rc = merge_into_base(s, k, &bottom, errmsg);
out:
	deps_free(&c);
	free(f);
	return rc;
}

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
	rc = absorb(s, k, &gone, errmsg);
	if (rc != 0 || gone)
		return rc;
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
	struct hdr *f = malloc(sizeof(*f));
	uint64_t have = 0;
	int rc;

	if (f == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "header");
	store_path(s, k, path, sizeof(path));
	rc = read_header(s, k, f, why);
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
	if (parse_name(name, &k) != 0 || k.ino != c->ino || k.idx != c->idx ||
	    k.version >= c->keep_from)
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
	int rc = walk_dir(s, frag_hash(ino, idx), collect_older, &c, errmsg);

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
