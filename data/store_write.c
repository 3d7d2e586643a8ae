/* store_write.c - writing a replica: a temp file (O_DIRECT for bulk), copy-on-write from a base, the seal's CRCs, and the commit by rename or through the journal. */
#include "data/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/log.h"
#include "data/delta.h"
#include "data/image.h"
#include "data/journal.h"
#include "data/replica.h"
#include "data/store_int.h"

/*
 * Bulk data goes into the temp file with O_DIRECT.  A data node's job is
 * moving bulk data, and the page cache makes that expensive: on our test
 * machine (a VM, one virtio disk) fio writes 1 MiB blocks at 236 MiB/s
 * buffered with 85 % of a core in the kernel, and at 841 MiB/s direct
 * with 18 % (copying into, allocating and writing back cached pages).
 * The whole 4 KiB pages of a write, when they come to DIRECT_MIN bytes or
 * more, go direct,
 * through an aligned bounce buffer (a message's bytes have no alignment);
 * the rest, small patches, and everything on a filesystem that refuses
 * O_DIRECT (tmpfs before Linux 6.6) go through the page cache.  Linux
 * keeps the two coherent on one file (a direct write writes back and drops
 * the cached pages it overlaps).
 *
 * Sealing needs the CRC of every block.  A block one call wrote whole gets
 * it there, from the caller's bytes, so the seal reads back only blocks
 * written in pieces or copied from a base: reading back what went direct
 * would come from the disk.
 */

#define DIRECT_MIN (64 * 1024)
#define DIRECT_CHUNK (1024 * 1024)
#define KNOWN_MAX (1u << 16) /* CRCs noted for blocks below (4 GiB) */

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
	int dfd;	/* the temp file opened O_DIRECT; -1: buffered only */
	uint8_t *bounce; /* DIRECT_CHUNK bytes, DIRECT_ALIGN aligned */
	/* per block below nknown: its CRC over its first len bytes, as one
	 * call wrote them (len 0: not known; used if len is the block's
	 * length at the seal) */
	struct known_crc {
		uint32_t crc, len;
	} *known;
	uint64_t nknown;
	char path[PATH_MAX];
	char tmp[PATH_MAX + 64]; /* path + TMP_MARK + pid.counter */
};

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
		if (w->dfd >= 0)
			close(w->dfd);
		w->dfd = -1;
		unlink(w->tmp);
	}
	return rc;
}

static void
writer_free(struct store_writer *w, int unlink_tmp)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->dfd >= 0)
		close(w->dfd);
	if (unlink_tmp)
		unlink(w->tmp);
	if (w->base_version != 0)
		replica_close(&w->base);
	free(w->dirty);
	free(w->bounce);
	free(w->known);
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
	w->dfd = -1;
	store_path(s, k, w->path, sizeof(w->path));
	if (k->version == 0 || base_version == k->version) {
		rc = cfs_fail(errmsg, CFS_EINVAL, "%s: base version %" PRIu64,
			      w->path, base_version);
		goto err_after_alloc;
	}
	snprintf(dir, sizeof(dir), "%s/frags/%02x", s->dir,
		 store_frag_hash(k->ino, k->idx));
	rc = store_make_dir(dir, errmsg);
	if (rc != 0)
		goto err_after_alloc;
	store_tmp_path(s, w->path, w->tmp, sizeof(w->tmp));
	w->fd = open(w->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		rc = cfs_fail_errno(errmsg, errno, "%s: create", w->tmp);
		goto err_after_alloc;
	}
	if (ftruncate(w->fd, HDR) < 0) {
		rc = writer_fail(w, errno, "truncate", errmsg);
		goto err_after_create;
	}
	if (atomic_load(&s->direct) &&
	    (w->dfd = open(w->tmp, O_WRONLY | O_DIRECT | O_CLOEXEC)) < 0 &&
	    errno == EINVAL)
		store_direct_refused(s, "open");
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

/* Write @len bytes of @buf at data offset @off: whole pages direct if
 * the writer can, the rest buffered.  0, or -1 with errno. */
static int
writer_put(struct store_writer *w, const uint8_t *buf, size_t len, uint64_t off)
{
	uint64_t lo = (off + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN;
	uint64_t hi = (off + len) / DIRECT_ALIGN * DIRECT_ALIGN;
	void *p;

	if (w->dfd >= 0 && w->bounce == NULL && hi > lo &&
	    hi - lo >= DIRECT_MIN &&
	    posix_memalign(&p, DIRECT_ALIGN, DIRECT_CHUNK) == 0)
		w->bounce = p;
	if (w->dfd < 0 || w->bounce == NULL || hi <= lo ||
	    hi - lo < DIRECT_MIN)
		return pwrite_full(w->fd, buf, len, HDR + off);
	if (lo > off && pwrite_full(w->fd, buf, lo - off, HDR + off) < 0)
		return -1;
	for (uint64_t at = lo; at < hi;) {
		size_t n = hi - at < DIRECT_CHUNK ? hi - at : DIRECT_CHUNK;

		memcpy(w->bounce, buf + (at - off), n);
		if (pwrite_full(w->dfd, w->bounce, n, HDR + at) < 0) {
			if (errno != EINVAL)
				return -1;
			/* opened O_DIRECT, but refuses these writes: the
			 * rest goes buffered */
			store_direct_refused(w->s, "write");
			close(w->dfd);
			w->dfd = -1;
			return pwrite_full(w->fd, buf + (at - off),
					   off + len - at, HDR + at);
		}
		at += n;
	}
	if (off + len > hi &&
	    pwrite_full(w->fd, buf + (hi - off), off + len - hi, HDR + hi) < 0)
		return -1;
	return 0;
}

/* Blocks from @b on may have changed other than by one call's whole
 * bytes: their CRCs are read back at the seal. */
static void
writer_forget_crcs(struct store_writer *w, uint64_t b)
{
	for (; b < w->nknown; b++)
		w->known[b].len = 0;
}

/* [off, off + len) was just written from @buf: note the CRC of every
 * block it covers from the block's start (to the block's end, or to the
 * write's end should the data end there); forget the others'. */
static void
writer_note_crcs(struct store_writer *w, const uint8_t *buf, size_t len,
		 uint64_t off)
{
	uint64_t first = off / BS, last = (off + len - 1) / BS;

	if (last >= KNOWN_MAX) { /* read back at the seal */
		writer_forget_crcs(w, first);
		return;
	}
	if (last >= w->nknown) {
		uint64_t n = w->nknown ? w->nknown : 64;
		while (n <= last)
			n *= 2;
		struct known_crc *k = realloc(w->known, n * sizeof(*k));
		if (k == NULL) { /* read back at the seal */
			writer_forget_crcs(w, first);
			return;
		}
		memset(k + w->nknown, 0, (n - w->nknown) * sizeof(*k));
		w->known = k;
		w->nknown = n;
	}
	for (uint64_t b = first; b <= last; b++) {
		uint64_t end = (b + 1) * BS < off + len ? (b + 1) * BS
							: off + len;

		if (b * BS < off) {
			w->known[b].len = 0;
		} else {
			w->known[b].len = (uint32_t)(end - b * BS);
			w->known[b].crc =
				crc32c(0, buf + (b * BS - off), end - b * BS);
		}
	}
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
	if (writer_put(w, buf, len, off) < 0) {
		writer_forget_crcs(w, off / BS); /* those bytes are unknown */
		return writer_fail(w, errno, "write", errmsg);
	}
	writer_note_crcs(w, buf, len, off);
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
	/* the block the old or the new end is in changed (cut, or zeros
	 * added), and every one past it */
	writer_forget_crcs(w, (length < w->length ? length : w->length) / BS);
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

/* The CRC of block @b of @w's temp file into *@crc: as noted when it was
 * written whole, else read back into @blk. */
static int
writer_block(struct store_writer *w, uint64_t b, uint8_t *blk, uint32_t *crc,
	     char *errmsg)
{
	size_t want = block_len(w->length, b);

	if (b < w->nknown && w->known[b].len == want && want > 0) {
		*crc = w->known[b].crc;
		return 0;
	}
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
 * (copied from the base first if need be; its CRC noted when written, or
 * read back: writer_block).  If any block
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
 * Make @w's file, renamed into place and not synced, durable through the
 * store's journal (data/image.h): 0 once its image is on the disk;
 * otherwise the caller fsyncs.  A repair copy (stamped) may replace
 * another incarnation of its key, and its rename and that one's removal
 * must reach the disk together, or a replay could keep the old
 * incarnation, whose late delete would then remove the copy the metadata
 * counts: fsync'd.  Copies are rare and bulk; the journal is for
 * clients' writes.
 */
static int
writer_journal(struct store_writer *w)
{
	if (w->s->journal == NULL || w->stamp != 0)
		return CFS_E2BIG;
	return image_put(w->s, w->s->journal, &w->k, w->fd, w->path,
			 w->length);
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

	if (replica_open(w->s, &w->k, &old, NULL) == 0) {
		same = old.length == w->length && old.data_crc == data_crc &&
		       old.stamp == w->stamp;
		replica_close(&old);
	}
	if (same && store_verify(w->s, &w->k, NULL) != 0)
		same = 0;
	if (same) {
		unlink(w->tmp);
		/* It may have been committed without fsync. */
		rc = durable ? store_sync_path(w->path, 0, errmsg) : 0;
	} else if (rename(w->tmp, w->path) < 0) {
		return cfs_fail_errno(errmsg, errno, "%s: rename from %s",
				      w->path, w->tmp);
	} else if (durable && writer_journal(w) == 0) {
		return 0; /* its image is on the disk */
	} else if (durable && fsync(w->fd) < 0) {
		rc = cfs_fail_errno(errmsg, errno, "%s: fsync", w->path);
		unlink(w->path); /* never answered: no torn file left named */
	}
	if (rc == 0 && durable)
		rc = store_sync_path(w->path, 1, errmsg);
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
