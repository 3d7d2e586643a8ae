/* patch.c - inside the fragment store: patching a replica file in place (store_patch), durable through the journal, and a patch written again at replay. */
#include "data/patch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/log.h"
#include "data/delta.h"
#include "data/replica.h"
#include "data/store_int.h"

/*
 * Why in place.  Every other write makes a new version (a new file, a
 * rename, a Raft round); a mount holding a file's write lease patches the
 * version it opened for that instead (docs/data-path.md "Patching in
 * place").  What changes in the whole replica file is small and fixed:
 *   - the data range written;
 *   - the CRCs of the blocks it touches, and the table's own CRC;
 *   - the header up to its CRC: data_crc and header_crc (a format 1 file
 *     gets a format 2 header, stamp 0: the same incarnation).
 * Those are the patch's extents, in file order.  Their bytes go into the
 * journal first, flushed, then into the file through the page cache, not
 * synced: a checkpoint's syncfs, or a replay of the record after a crash,
 * puts them on the disk.  The record is pinned (journal_patch) until the
 * file writes are done, so no checkpoint frees it before they happened.
 * Without a journal the file is written and fdatasync'd.
 *
 * The file may hold blocks written with O_DIRECT: the patch reads and
 * writes through the page cache, which Linux keeps coherent with direct
 * I/O on the same file (a direct read writes back the cached pages it
 * overlaps first).  A patch is small next to the fragment, and the bytes
 * it replaces must be read anyway for the CRCs of the blocks it touches.
 *
 * Crash cases, with a journal: before the record is flushed, nothing was
 * written into the file and the patch was never answered; after, the
 * replay writes the extents again, whatever part of them reached the
 * disk (writing them is idempotent).  Without one, a crash before the
 * fdatasync can leave a file that fails its checks (CFS_CORRUPT, never
 * wrong data); that patch was never answered either.
 */

/* Header bytes a patch rewrites: everything up to and with the format 2
 * header's CRC (the rest is zero in formats 1 and 2 alike). */
#define PATCH_HDR (HDR_CRC_OFF + 4)
#define PATCH_EXT_MAX 4

/* A patch's extents of the file and their bytes (borrowed). */
struct patch {
	struct journal_extent ext[PATCH_EXT_MAX];
	const uint8_t *bytes[PATCH_EXT_MAX];
	uint32_t n;
};

static void
patch_add(struct patch *p, uint64_t off, uint64_t len, const uint8_t *bytes)
{
	p->ext[p->n] = (struct journal_extent){off, len, 0};
	p->bytes[p->n++] = bytes;
}

/* Write @p's extents into @fd (@path names it). */
static int
patch_write(int fd, const char *path, const struct patch *p, char *errmsg)
{
	for (uint32_t i = 0; i < p->n; i++)
		if (pwrite_full(fd, p->bytes[i], (size_t)p->ext[i].len,
				p->ext[i].off) < 0)
			return cfs_fail_errno(errmsg, errno,
					      "%s: patch at %" PRIu64, path,
					      p->ext[i].off);
	return 0;
}

/*
 * Make @p durable in @fd: 1) through journal @j when it takes the
 * record (flushed, then the file written, then the record unpinned);
 * 2) otherwise (no journal, a patch bigger than it takes, a journal
 * that failed) the file written and fdatasync'd.
 */
static int
patch_commit(struct journal *j, const struct store_key *k, uint64_t file_size,
	     uint64_t stamp, int fd, const char *path, const struct patch *p,
	     char *errmsg)
{
	uint64_t dlen = 0;
	int rc;

	for (uint32_t i = 0; i < p->n; i++)
		dlen += p->ext[i].len;
	if (j != NULL && dlen <= journal_max_image(j)) {
		char jerr[CFS_ERRMSG_SIZE];
		uint8_t *data = malloc(dlen > 0 ? dlen : 1);
		int pin = -1;

		rc = data == NULL ? CFS_ENOMEM : 0;
		for (uint64_t at = 0, i = 0; rc == 0 && i < p->n; i++) {
			memcpy(data + at, p->bytes[i], (size_t)p->ext[i].len);
			at += p->ext[i].len;
		}
		if (rc == 0)
			rc = journal_patch(j, k, file_size, stamp, p->ext, p->n,
					   data, &pin, jerr);
		free(data);
		if (rc == 0) {
			rc = patch_write(fd, path, p, errmsg);
			journal_unpin(j, pin);
			return rc;
		}
		journal_unpin(j, pin);
		return cfs_fail(errmsg, rc == CFS_ENOMEM ? CFS_ENOMEM : CFS_EIO,
				"%s: patch not journaled: %s", path,
				rc == CFS_ENOMEM ? "out of memory" : jerr);
	}
	/* With a journal, never around it: the key's earlier patch records
	 * would be replayed over this one after a crash.  The client then
	 * writes a version instead. */
	if (j != NULL)
		return cfs_fail(errmsg, CFS_EINVAL, "%s: a patch of %llu bytes "
				"is more than a journal record takes", path,
				(unsigned long long)dlen);
	rc = patch_write(fd, path, p, errmsg);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = cfs_fail_errno(errmsg, errno, "%s: fdatasync", path);
	return rc;
}

/* The new CRC of each block of @r that [@off, @off + @n) of data touches
 * into r->crcs (r->length and r->crcs already those after the patch; the
 * replica held @old_len bytes before it): a block the range covers from
 * @buf alone; one it covers in part from its old CRC and the bytes the
 * range replaces, read into @blk (crc32c_patch: 4 KiB read for a 4 KiB
 * patch, not the 64 KiB block), then continued over the bytes an append
 * adds past its old end.  A bad block is not laundered: bytes that
 * differ from what its old CRC covers, inside the range or out, leave a
 * CRC that does not match the block written. */
static int
patch_crcs(struct replica *r, uint64_t old_len, uint64_t off,
	   const uint8_t *buf, size_t n, uint8_t *blk, char *errmsg)
{
	for (uint64_t b = off / BS; b * BS < off + n; b++) {
		uint64_t start = b * BS, bl = block_len(r->length, b);
		uint64_t obl = start < old_len ? block_len(old_len, b) : 0;
		uint64_t lo = off > start ? off : start;
		uint64_t hi = off + n < start + bl ? off + n : start + bl;
		uint64_t ohi = hi < start + obl ? hi : start + obl;

		if (lo == start && hi == start + bl) {
			r->crcs[b] = crc32c(0, buf + (start - off), (size_t)bl);
			continue;
		}
		/* (an append starts at or before the old end: lo <= ohi) */
		uint32_t c = r->crcs[b];
		if (lo < ohi) {
			ssize_t got = pread_full(r->fd, blk, (size_t)(ohi - lo),
						 HDR + lo);
			if (got < 0)
				return cfs_fail_errno(errmsg, errno,
						      "%s: block %" PRIu64,
						      r->path, b);
			if ((uint64_t)got != ohi - lo)
				return cfs_fail(errmsg, CFS_CORRUPT,
						"%s: block %" PRIu64
						" truncated",
						r->path, b);
			c = crc32c_patch(c, blk, buf + (lo - off),
					 (size_t)(ohi - lo),
					 start + obl - ohi);
		}
		if (hi > start + obl) /* the bytes appended to the block */
			c = crc32c(c, buf + (start + obl - off),
				   (size_t)(hi - start - obl));
		r->crcs[b] = c;
	}
	return 0;
}

/* Open replica @k for patching into @r: its length checked against the
 * client's and the range against it (inside its @length bytes, or, when
 * @new_length is more, ending there and starting at or before its end:
 * an append), a delta made whole first (then opened again).  One open of
 * the file on the usual path: a patch is a few tens of microseconds of
 * work, and each open walks the path. */
static int
patch_open(struct store *s, const struct store_key *k, uint64_t length,
	   uint64_t new_length, uint64_t off, size_t n, struct replica *r,
	   char *errmsg)
{
	int rc = replica_open_rw(s, k, r, errmsg);

	if (rc != 0)
		return rc;
	if (r->length != length) {
		rc = cfs_fail(errmsg, CFS_ESTALE,
			      "%s: %" PRIu64 " bytes, patched as %" PRIu64,
			      r->path, r->length, length);
	} else if (new_length == length &&
		   (off > length || n > length - off)) {
		rc = cfs_fail(errmsg, CFS_EINVAL,
			      "%s: patch of %zu bytes at %" PRIu64
			      " past its %" PRIu64 " bytes",
			      r->path, n, off, length);
	} else if (new_length != length &&
		   (new_length < length || off > length ||
		    off + n != new_length)) {
		rc = cfs_fail(errmsg, CFS_EINVAL,
			      "%s: %zu bytes at %" PRIu64 " do not make its %"
			      PRIu64 " bytes %" PRIu64,
			      r->path, n, off, length, new_length);
	} else if (r->h.format == STORE_FORMAT_DELTA) {
		replica_close(r);
		rc = delta_make_whole(s, k, errmsg);
		if (rc != 0) {
			char path[PATH_MAX];
			store_path(s, k, path, sizeof(path));
			cfs_errmsg_prefix(errmsg,
					  "%s: making it whole to patch", path);
			return rc;
		}
		rc = replica_open_rw(s, k, r, errmsg);
		if (rc != 0)
			return rc;
		/* the caller holds the fragment: nothing changed it since */
		if (r->h.format == STORE_FORMAT_DELTA || r->length != length)
			rc = cfs_fail(errmsg, CFS_EIO,
				      "%s: changed while patched", r->path);
	}
	if (rc != 0)
		replica_close(r);
	return rc;
}

/* Make @r's length @new_length (more than it is): its CRC table one
 * entry per block of the new length, the blocks past the old end to be
 * filled by patch_crcs. */
static int
patch_grow(struct replica *r, uint64_t new_length, char *errmsg)
{
	uint64_t nb = nblocks_of(new_length);
	uint32_t *c = realloc(r->crcs, 4 * (size_t)(nb + 1));

	if (c == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "%s: CRC table", r->path);
	for (uint64_t b = r->nblocks; b < nb; b++)
		c[b] = 0;
	r->crcs = c;
	r->nblocks = nb;
	r->length = r->h.length = new_length;
	return 0;
}

/* Allocate the room an append adds to @r's file ([@from, @to)) before
 * anything is journaled or written: the journal record goes first and
 * the file's header before its new blocks, so a disk found full half
 * way would leave a replica that no longer checks, acknowledged bytes
 * and all; refused here, nothing changed (CFS_ENOSPC).  A filesystem
 * without fallocate(2) is written as it comes. */
static int
patch_reserve(struct replica *r, uint64_t from, uint64_t to, char *errmsg)
{
	if (to <= from ||
	    fallocate(r->fd, FALLOC_FL_KEEP_SIZE, (off_t)from,
		      (off_t)(to - from)) == 0 ||
	    errno == EOPNOTSUPP)
		return 0;
	return cfs_fail_errno(errmsg, errno, "%s: room for %" PRIu64
			      " more bytes", r->path, to - from);
}

int
store_patch(struct store *s, const struct store_key *k, uint64_t length,
	    uint64_t new_length, uint64_t off, const void *buf, size_t n,
	    uint32_t *out_crc, char *errmsg)
{
	uint8_t *blk = NULL, *table = NULL, h[HDR];
	struct replica r;
	struct patch p = {0};
	int rc;

	rc = patch_open(s, k, length, new_length, off, n, &r, errmsg);
	if (rc != 0)
		return rc;
	if (n == 0) {
		*out_crc = r.data_crc;
		goto out;
	}
	uint64_t old_size = HDR + length + 4 * (r.nblocks + 1);
	if (new_length > length &&
	    (rc = patch_grow(&r, new_length, errmsg)) != 0)
		goto out;
	size_t tsize = 4 * (size_t)(r.nblocks + 1);
	if (new_length > length &&
	    (rc = patch_reserve(&r, old_size, HDR + new_length + tsize,
				errmsg)) != 0)
		goto out;
	if ((blk = malloc(BS)) == NULL || (table = malloc(tsize)) == NULL) {
		rc = cfs_fail(errmsg, CFS_ENOMEM, "%s: patch buffers", r.path);
		goto out;
	}
	rc = patch_crcs(&r, length, off, buf, n, blk, errmsg);
	if (rc != 0)
		goto out;
	/* the whole CRC from the block CRCs, not from the data again */
	uint32_t data_crc = 0;
	for (uint64_t b = 0; b < r.nblocks; b++) {
		put_le(table + 4 * b, r.crcs[b], 4);
		data_crc = crc32c_combine(data_crc, r.crcs[b],
					  block_len(new_length, b));
	}
	put_le(table + tsize - 4, crc32c(0, table, tsize - 4), 4);
	r.h.format = STORE_FORMAT;
	r.h.data_crc = data_crc;
	header_encode(h, k, &r.h);

	uint64_t b0 = off / BS, b1 = (off + n - 1) / BS;
	uint64_t tab = HDR + new_length;
	patch_add(&p, 0, PATCH_HDR, h);
	patch_add(&p, HDR + off, n, buf);
	if (new_length > length) {
		/* the table moved past the new end: all of it, over the
		 * old table's bytes (the data covers them up to the new
		 * end, the new table the rest: the file only grows) */
		patch_add(&p, tab, tsize, table);
	} else if (b1 + 1 == r.nblocks) {
		/* the touched CRCs and the table's CRC */
		patch_add(&p, tab + 4 * b0, tsize - 4 * b0, table + 4 * b0);
	} else {
		patch_add(&p, tab + 4 * b0, 4 * (b1 - b0 + 1), table + 4 * b0);
		patch_add(&p, tab + tsize - 4, 4, table + tsize - 4);
	}
	rc = patch_commit(store_journal(s), k, tab + tsize, r.stamp, r.fd,
			  r.path, &p, errmsg);
	if (rc == 0)
		*out_crc = data_crc;
out:
	free(blk);
	free(table);
	replica_close(&r);
	return rc;
}

int
patch_replay(void *arg, const struct store_key *k, uint64_t file_size,
	     uint64_t stamp, const struct journal_extent *ext, uint32_t next,
	     const uint8_t *data, char *errmsg)
{
	struct store *s = arg;
	char path[PATH_MAX];
	uint8_t h[PATCH_HDR] = {0};
	struct stat st;
	uint64_t pos = 0;
	int fd, rc = 0;

	store_path(s, k, path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* its image did not come back either (logged there) */
		LOG_WARN("%s: a patch in the journal not written again: no "
			 "such file",
			 path);
		return 0;
	}
	if (fd < 0)
		return cfs_fail_errno(errmsg, errno, "%s: open", path);
	if (fstat(fd, &st) < 0 || pread_full(fd, h, sizeof(h), 0) < 0) {
		rc = cfs_fail_errno(errmsg, errno, "%s: read", path);
		goto out;
	}
	/* (a format 1 header holds no stamp: stamp 0, as store_stat says) */
	uint64_t has = get_le(h + 4, 2) == STORE_FORMAT_V1
			       ? 0
			       : get_le(h + HDR_STAMP_OFF, 8);
	/* The same file: its stamp, and (a client's write has stamp 0) a
	 * size the patches of that incarnation give it.  An append grows
	 * the file, so a record may be older than the file's size (a later
	 * append's record follows it in the journal: its bytes reached the
	 * file only once that record was flushed, and is replayed after
	 * it) or newer (its bytes never reached the file); the records
	 * replayed in order leave the last state. */
	if (has != stamp || (uint64_t)st.st_size < HDR + 4) {
		LOG_WARN("%s: a patch in the journal not written again: the "
			 "file is another one (%lld bytes, stamp %" PRIx64
			 "; the patch's %" PRIu64 " bytes, stamp %" PRIx64 ")",
			 path, (long long)st.st_size, has, file_size, stamp);
		goto out;
	}
	for (uint32_t i = 0; i < next; i++) {
		if (ext[i].off > file_size ||
		    ext[i].len > file_size - ext[i].off) {
			/* a record that checks cannot say this; say so and
			 * leave the file as it is (reads check it) */
			LOG_WARN("%s: a patch in the journal not written "
				 "again: an extent past the file's %" PRIu64
				 " bytes",
				 path, file_size);
			goto out;
		}
	}
	for (uint32_t i = 0; rc == 0 && i < next; i++) {
		if (pwrite_full(fd, data + pos, (size_t)ext[i].len,
				ext[i].off) < 0)
			rc = cfs_fail_errno(errmsg, errno, "%s: write", path);
		pos += ext[i].len;
	}
	if (rc == 0 && fdatasync(fd) < 0)
		rc = cfs_fail_errno(errmsg, errno, "%s: fdatasync", path);
	if (rc == 0)
		LOG_DEBUG("%s: patch written again from the journal", path);
out:
	close(fd);
	return rc;
}
