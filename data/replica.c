/* replica.c - inside the fragment store: one replica file's on-disk format (header, CRC table, delta map) and reading it through its chain of bases. */
#include "data/replica.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/log.h"

/* pread until @len bytes or end of file: bytes read, or -1 with errno. */
ssize_t
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
int
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

/* The header of replica @k as @f says, in f->format (STORE_FORMAT_V1 only
 * to check an old file: it has no stamp). */
void
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
int
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

void
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
uint64_t
replica_bottom(const struct replica *r, const struct store_key *k)
{
	return r->nlev > 0 ? r->lev[r->nlev - 1].version : k->version;
}

/* The file that holds block @b of @r, and whether it is the whole file at
 * the end of the chain. */
int
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
		  struct replica *r, int oflags, char *errmsg)
{
	uint8_t h[HDR];
	struct stat st;
	ssize_t n;
	int rc;

	store_path(s, k, r->path, sizeof(r->path));
	r->crcs = NULL;
	r->lev = NULL;
	r->nlev = 0;
	r->fd = open(r->path, oflags | O_CLOEXEC);
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

static int
replica_open_flags(struct store *s, const struct store_key *k,
		   struct replica *r, int oflags, char *errmsg)
{
	int rc = CFS_EAGAIN;

	/* A delta whose base is merged into it (merge_into_base, data/delta.c) is renamed
	 * over by the whole replica just after; reopening finds that. */
	for (int i = 0; i < 3 && rc == CFS_EAGAIN; i++)
		rc = replica_open_once(s, k, r, oflags, errmsg);
	if (rc == CFS_EAGAIN)
		rc = CFS_CORRUPT;
	return rc;
}

/* Open replica @k and check its header, size and CRC table (a delta: and
 * open its base).  On failure @r holds nothing to close. */
int
replica_open(struct store *s, const struct store_key *k, struct replica *r,
	     char *errmsg)
{
	return replica_open_flags(s, k, r, O_RDONLY, errmsg);
}

int
replica_open_rw(struct store *s, const struct store_key *k, struct replica *r,
		char *errmsg)
{
	return replica_open_flags(s, k, r, O_RDWR, errmsg);
}

int
replica_check_block(const struct replica *r, uint64_t b, const uint8_t *blk,
		    ssize_t n, char *errmsg)
{
	size_t want = block_len(r->length, b);
	int bottom;
	int fd = replica_fd(r, b, &bottom);
	uint32_t crc;

	if (n < 0)
		return cfs_fail_errno(errmsg, errno, "%s: block %" PRIu64,
				      r->path, b);
	if ((size_t)n < want)
		return cfs_fail(errmsg, CFS_CORRUPT,
				"%s: block %" PRIu64 " truncated", r->path, b);
	crc = crc32c(0, blk, want);
	if (crc != r->crcs[b])
		return cfs_fail(
		    errmsg, CFS_CORRUPT,
		    "%s: block %" PRIu64 "%s: crc 0x%08x, table says 0x%08x",
		    r->path, b, fd != r->fd ? " (in the base)" : "",
		    (unsigned)crc, (unsigned)r->crcs[b]);
	return 0;
}

/* Read block @b of @r into @blk (BS bytes) and check its CRC. */
int
replica_block(struct replica *r, uint64_t b, uint8_t *blk, size_t *len,
	      char *errmsg)
{
	size_t want = block_len(r->length, b);
	int bottom;
	int fd = replica_fd(r, b, &bottom);
	ssize_t n = pread_full(fd, blk, want, HDR + b * BS);
	int rc = replica_check_block(r, b, blk, n, errmsg);

	if (rc == 0)
		*len = want;
	return rc;
}

/* Read and check the header of replica @k (not its data). */
int
replica_read_header(struct store *s, const struct store_key *k, struct hdr *f,
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
