/* image.c - inside the fragment store: a replica file's image in the store's journal, made at a durable commit and written back at replay. */
#include "data/image.h"

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
#include "data/replica.h"
#include "data/store_int.h"

/* A replica file's image for the journal, as it is built. */
struct image {
	struct journal_extent *ext;
	uint32_t n, cap;
	uint8_t *data;
	uint64_t len, room;
};

/* Add @len bytes at file offset @off: @bytes, or (@bytes NULL) the same
 * as the base's file there.  -1 out of memory. */
static int
image_add(struct image *im, uint64_t off, uint64_t len, const uint8_t *bytes)
{
	struct journal_extent *last = im->n > 0 ? &im->ext[im->n - 1] : NULL;
	uint32_t from_base = bytes == NULL;

	if (len == 0)
		return 0;
	if (last != NULL && last->off + last->len == off &&
	    last->from_base == from_base)
		last->len += len;
	else {
		if (im->n == im->cap) {
			uint32_t cap = im->cap ? 2 * im->cap : 16;
			void *e = realloc(im->ext, cap * sizeof(*im->ext));
			if (e == NULL)
				return -1;
			im->ext = e;
			im->cap = cap;
		}
		im->ext[im->n++] = (struct journal_extent){off, len, from_base};
	}
	if (bytes != NULL) {
		if (im->len + len > im->room) {
			uint64_t room = 2 * (im->len + len);
			void *d = realloc(im->data, room);
			if (d == NULL)
				return -1;
			im->data = d;
			im->room = room;
		}
		memcpy(im->data + im->len, bytes, len);
		im->len += len;
	}
	return 0;
}

/* Add block @b of @w's file (@n bytes at @blk) to @im: where the bottom
 * file @bfd (@bsize bytes; -1: none) holds the same bytes at the same
 * offset, as references to them, and only the range that differs as
 * bytes.  That file is the whole file of the delta's chain, whose bytes
 * stay as they are while the delta lives (the take-over by the delta
 * writes only what the delta holds, and any other take-over or compaction
 * rebases the delta first, fsync'd: docs/on-disk-format.md §4). */
static int
image_block(struct image *im, const struct replica *base, uint64_t b,
	    const uint8_t *blk, size_t n, uint8_t *tmp)
{
	uint64_t off = HDR + b * BS;
	size_t lo = 0, hi = n;

	/* only bytes the base's committed block holds (checked against
	 * its own table): what a replay of the base's own record, or the
	 * base's synced file, gives back */
	if (base == NULL || n != BS || b >= base->nblocks ||
	    block_len(base->length, b) != BS ||
	    pread_full(base->fd, tmp, n, off) != (ssize_t)n ||
	    crc32c(0, tmp, n) != base->crcs[b])
		return image_add(im, off, n, blk);
	while (lo < n && blk[lo] == tmp[lo])
		lo++;
	while (hi > lo && blk[hi - 1] == tmp[hi - 1])
		hi--;
	if (image_add(im, off, lo, NULL) != 0 ||
	    image_add(im, off + lo, hi - lo, blk + lo) != 0 ||
	    image_add(im, off + hi, n - hi, NULL) != 0)
		return -1;
	return 0;
}

int
image_put(struct store *s, struct journal *j, const struct store_key *k, int fd,
	  const char *path, uint64_t length)
{
	struct image im = {0};
	uint8_t h[HDR];
	struct hdr *hd = NULL;
	uint8_t *blk = NULL, *tmp = NULL;
	uint64_t nb = nblocks_of(length), base = 0;
	uint64_t tsize = 4 * (nb + 1);
	char errmsg[CFS_ERRMSG_SIZE];
	struct replica br;
	int have_base = 0, rc = CFS_E2BIG;

	if (j == NULL)
		return rc;
	if (pread_full(fd, h, HDR, 0) != HDR ||
	    (hd = malloc(sizeof(*hd))) == NULL || (blk = malloc(BS)) == NULL ||
	    (tmp = malloc(BS)) == NULL ||
	    header_check(h, k, path, hd, NULL) != 0 ||
	    image_add(&im, 0, HDR, h) != 0)
		goto out;
	/* Too big, before reading anything back (that could pull a
	 * file written past the page cache into it): a whole file, by its
	 * size; a delta, by the blocks it holds, which may differ from its
	 * base in a little of each */
	uint64_t own = 0;
	for (uint64_t b = 0; b < nb; b++)
		if (hd->format != STORE_FORMAT_DELTA || map_get(hd->map, b))
			own += block_len(length, b);
	if (own >
	    (hd->format == STORE_FORMAT_DELTA ? 4 : 1) * journal_max_image(j))
		goto out;
	if (hd->format == STORE_FORMAT_DELTA) {
		struct store_key bk = *k;

		base = bk.version = hd->base_version;
		if (replica_open(s, &bk, &br, NULL) == 0) {
			if (br.h.format == STORE_FORMAT_DELTA)
				replica_close(&br);
			else
				have_base = 1;
		}
	}
	for (uint64_t b = 0; b < nb; b++) {
		size_t n = block_len(length, b);
		if (hd->format == STORE_FORMAT_DELTA && !map_get(hd->map, b))
			continue;
		if (pread_full(fd, blk, n, HDR + b * BS) != (ssize_t)n) {
			LOG_WARN("%s: read back for the journal: %s", path,
				 strerror(errno));
			goto out;
		}
		if (image_block(&im, have_base ? &br : NULL, b, blk, n, tmp) !=
			0 ||
		    im.len > journal_max_image(j))
			goto out;
	}
	if (tsize > BS ||
	    pread_full(fd, blk, tsize, HDR + length) != (ssize_t)tsize ||
	    image_add(&im, HDR + length, tsize, blk) != 0)
		goto out;
	rc = journal_put(j, k, HDR + length + tsize, base, im.ext, im.n,
			 im.data, errmsg);
out:
	if (have_base)
		replica_close(&br);
	free(im.ext);
	free(im.data);
	free(tmp);
	free(blk);
	free(hd);
	return rc;
}

/* 0 if file @path checks as replica @k in every byte it holds itself:
 * header (for @k), size, CRC table, and each block the file holds (all of
 * them, or a delta's own).  Not through a delta's base: whether a delta's
 * file is the right one does not depend on its base, which may be one a
 * later record restores. */
static int
own_bytes_check(const struct store_key *k, const char *path)
{
	struct hdr *h = malloc(sizeof(*h));
	uint8_t *table = NULL, *blk = malloc(BS), hb[HDR];
	struct stat st;
	int fd = -1, rc = CFS_CORRUPT;

	if (h == NULL || blk == NULL ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    pread_full(fd, hb, HDR, 0) != HDR ||
	    header_check(hb, k, path, h, NULL) != 0)
		goto out;
	uint64_t nb = nblocks_of(h->length);
	size_t tsize = 4 * (size_t)(nb + 1);
	if (fstat(fd, &st) < 0 ||
	    (uint64_t)st.st_size != HDR + h->length + tsize ||
	    (table = malloc(tsize)) == NULL ||
	    pread_full(fd, table, tsize, HDR + h->length) != (ssize_t)tsize ||
	    get_le(table + tsize - 4, 4) != crc32c(0, table, tsize - 4))
		goto out;
	for (uint64_t b = 0; b < nb; b++) {
		size_t n = block_len(h->length, b);
		if (h->format == STORE_FORMAT_DELTA && !map_get(h->map, b))
			continue;
		if (pread_full(fd, blk, n, HDR + b * BS) != (ssize_t)n ||
		    crc32c(0, blk, n) != get_le(table + 4 * b, 4))
			goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(table);
	free(blk);
	free(h);
	return rc;
}

int
image_restore(void *arg, const struct store_key *k, uint64_t file_size,
	      uint64_t base, const struct journal_extent *ext, uint32_t next,
	      const uint8_t *data, char *errmsg)
{
	struct store *s = arg;
	char path[PATH_MAX], tmp[PATH_MAX + 64], bpath[PATH_MAX];
	struct store_key bk = {k->ino, k->idx, base};
	uint64_t pos = 0;
	uint8_t *buf = NULL;
	int fd, bfd = -1, rc = 0;

	store_path(s, k, path, sizeof(path));
	if (own_bytes_check(k, path) == 0)
		return 0;
	if (file_size >
	    HDR + STORE_MAX_LENGTH + 4 * (STORE_MAX_LENGTH / BS + 1))
		return cfs_fail(errmsg, CFS_CORRUPT,
				"%s: journal image of %" PRIu64 " bytes", path,
				file_size);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	rc = store_make_dir(path, errmsg);
	*slash = '/';
	if (rc != 0)
		return rc;
	store_tmp_path(s, path, tmp, sizeof(tmp));
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return cfs_fail_errno(errmsg, errno, "%s: create", tmp);
	store_path(s, &bk, bpath, sizeof(bpath));
	for (uint32_t i = 0; rc == 0 && i < next; i++) {
		const uint8_t *bytes = data + pos;
		if (ext[i].off > file_size ||
		    ext[i].len > file_size - ext[i].off) {
			rc = cfs_fail(errmsg, CFS_CORRUPT,
				      "%s: journal extent past the file's "
				      "%" PRIu64 " bytes",
				      path, file_size);
			break;
		}
		if (ext[i].from_base) {
			/* the same bytes as the base's file there */
			if (bfd < 0 && base != 0)
				bfd = open(bpath, O_RDONLY | O_CLOEXEC);
			free(buf);
			buf = malloc(ext[i].len ? ext[i].len : 1);
			if (buf == NULL || bfd < 0 ||
			    pread_full(bfd, buf, ext[i].len, ext[i].off) !=
				(ssize_t)ext[i].len) {
				rc = cfs_fail(errmsg, CFS_CORRUPT,
					      "its base %s is missing or "
					      "short",
					      bpath);
				break;
			}
			bytes = buf;
		} else {
			pos += ext[i].len;
		}
		if (pwrite_full(fd, bytes, ext[i].len, ext[i].off) < 0)
			rc = cfs_fail_errno(errmsg, errno, "%s: write", tmp);
	}
	free(buf);
	if (bfd >= 0)
		close(bfd);
	if (rc == CFS_CORRUPT) {
		/* nothing can rebuild it: the node runs without this
		 * replica (reads report it, repair replaces it) */
		LOG_WARN("%s: not restored from the journal: %s", path, errmsg);
		close(fd);
		unlink(tmp);
		return 0;
	}
	if (rc == 0 && ftruncate(fd, (off_t)file_size) < 0)
		rc = cfs_fail_errno(errmsg, errno, "%s: truncate", tmp);
	if (rc == 0 && fsync(fd) < 0)
		rc = cfs_fail_errno(errmsg, errno, "%s: fsync", tmp);
	close(fd);
	if (rc == 0 && own_bytes_check(k, tmp) != 0) {
		/* a rebuild that does not check replaces nothing (the file
		 * there, if any, may have failed its check for a passing
		 * reason: reads report it either way) */
		LOG_WARN("%s: not restored from the journal: the image does "
			 "not check",
			 path);
		unlink(tmp);
		return 0;
	}
	if (rc == 0 && rename(tmp, path) < 0)
		rc = cfs_fail_errno(errmsg, errno, "%s: rename", path);
	if (rc != 0) {
		unlink(tmp);
		return rc;
	}
	rc = store_sync_path(path, 1, errmsg);
	if (rc == 0)
		LOG_INFO("%s: restored from the journal", path);
	return rc;
}
