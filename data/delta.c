/* delta.c - inside the fragment store: deltas and their bases: handing a deleted version's file over to the deltas built on it, rebasing, compaction. */
#include "data/delta.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/log.h"
#include "data/replica.h"
#include "data/store_int.h"

/* The deltas built directly on one version of a fragment. */
struct deps_ctx {
	struct store *s;
	struct store_key base;
	struct store_key *dep;
	uint8_t (*map)[MAP_BYTES]; /* each one's map */
	size_t n, cap;
	int nomem;
	int rc;          /* a header that could not be read: the walk stops */
	char *errmsg;
};

static int
deps_one(void *arg, const char *dir, unsigned hh, const char *name)
{
	struct deps_ctx *c = arg;
	struct store_key k;
	struct hdr *f;

	(void)dir;
	(void)hh;
	if (strstr(name, TMP_MARK) != NULL || store_parse_name(name, &k) != 0 ||
	    k.ino != c->base.ino || k.idx != c->base.idx ||
	    k.version == c->base.version)
		return 0;
	f = malloc(sizeof(*f));
	if (f == NULL) {
		c->nomem = 1;
		return 1;
	}
	/* A file that vanished meanwhile is not one, and one whose header
	 * does not check cannot be read as a delta anyway; but one whose
	 * header could not be read (EIO, EMFILE) may be a delta on the base,
	 * which must then not be handed over or deleted: the walk fails. */
	int rc = replica_read_header(c->s, &k, f, c->errmsg);
	if (rc != 0 && rc != CFS_ENOENT && rc != CFS_CORRUPT) {
		free(f);
		c->rc = rc;
		return 1;
	}
	if (rc == 0 && f->format == STORE_FORMAT_DELTA &&
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
	c->errmsg = errmsg;
	rc = store_walk_dir(s, store_frag_hash(base->ino, base->idx), deps_one,
			    c, errmsg);
	if (c->nomem)
		rc = cfs_fail(errmsg, CFS_ENOMEM, "deltas");
	else if (c->rc != 0)
		rc = c->rc; /* errmsg says which file */
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
	/* a header's map has no bits past the last block */
	for (uint64_t b = r.nblocks; b < MAP_BYTES * 8; b++)
		map[b / 8] &= (uint8_t)~(1u << (b % 8));
	for (uint64_t b = 0; b < r.nblocks; b++)
		whole &= map_get(map, b);
	store_tmp_path(s, r.path, tmp, sizeof(tmp));
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
		rc = store_sync_path(r.path, 1, errmsg);
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
		store_forget(s, base);
	if (rc == 0)
		rc = store_sync_path(r.path, 1, errmsg);
	if (rc == 0)
		LOG_DEBUG("%s: merged into the file of its base, %s", r.path,
			  bpath);
	replica_close(&r);
	return rc;
}

/* The header of @x does not check, but its format field says it is a
 * whole file (1 or 2): a merge into it that a crash interrupted, which
 * may be done again. */
static int
says_whole(struct store *s, const struct store_key *x)
{
	char path[PATH_MAX];
	uint8_t h[8];
	int fd, whole = 0;

	store_path(s, x, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && pread_full(fd, h, sizeof(h), 0) == sizeof(h) &&
	    (get_le(h + 4, 2) == STORE_FORMAT ||
	     get_le(h + 4, 2) == STORE_FORMAT_V1))
		whole = 1;
	if (fd >= 0)
		close(fd);
	return whole;
}

/*
 * What a delta rebased on @n (a delta about to take its whole file over,
 * merge_into_base) must take into its own file: @n's blocks (they differ
 * from the whole file's) and every block that reaches past @n's length
 * (the merge cuts the file there and writes @n's CRC table after it), into
 * @extra.  Then @n's file, and its name, are made durable: the rebased
 * files are fsync'd, and must not depend on one that only the store's
 * journal holds (a replay restores files in the order they were written,
 * and @n is newer than what is rebased on it).
 */
static int
takeover_prepare(struct store *s, const struct store_key *n, uint8_t *extra,
		 char *errmsg)
{
	struct hdr *h = malloc(sizeof(*h));
	char path[PATH_MAX];
	int rc;

	if (h == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "header");
	rc = replica_read_header(s, n, h, errmsg);
	if (rc == 0) {
		memcpy(extra, h->map, MAP_BYTES);
		for (uint64_t b = h->length / BS; b < MAP_BYTES * 8; b++)
			map_set(extra, b);
		store_path(s, n, path, sizeof(path));
		rc = store_sync_path(path, 0, errmsg);
	}
	if (rc == 0)
		rc = store_sync_path(path, 1, errmsg);
	free(h);
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
int
delta_absorb(struct store *s, const struct store_key *x, int *gone,
	     char *errmsg)
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
	rc = replica_read_header(s, x, f, errmsg);
	if (rc == 0 && f->format == STORE_FORMAT_DELTA) {
		for (size_t i = 0; rc == 0 && i < c.n; i++)
			rc = rebase(s, &c.dep[i], f->map, f->base_version,
				    errmsg);
		goto out;
	}
	if (rc == CFS_CORRUPT && says_whole(s, x))
		rc = 0;
	if (rc != 0)
		goto out;
	for (size_t i = 1; i < c.n; i++)
		if (c.dep[i].version > c.dep[newest].version)
			newest = i;
	if (c.n > 1)
		rc = takeover_prepare(s, &c.dep[newest], f->map, errmsg);
	for (size_t i = 0; rc == 0 && i < c.n; i++)
		if (i != newest)
			rc = rebase(s, &c.dep[i], f->map,
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
delta_make_whole(struct store *s, const struct store_key *k, char *errmsg)
{
	struct hdr *f = malloc(sizeof(*f));
	uint8_t *all = malloc(MAP_BYTES);
	int rc;

	if (f == NULL || all == NULL) {
		free(f);
		free(all);
		return cfs_fail(errmsg, CFS_ENOMEM, "header");
	}
	rc = store_compact(s, k, 0, errmsg);
	if (rc == 0)
		rc = replica_read_header(s, k, f, errmsg);
	if (rc == 0 && f->format == STORE_FORMAT_DELTA) {
		/* store_compact skipped it (its base is a delta): a copy
		 * of every block, through its chain */
		memset(all, 0xff, MAP_BYTES);
		rc = rebase(s, k, all, 0, errmsg);
	}
	free(all);
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
	rc = replica_read_header(s, k, f, errmsg);
	if (rc != 0 || f->format != STORE_FORMAT_DELTA)
		goto out;
	for (size_t i = 0; i < MAP_BYTES; i++)
		held += (unsigned)__builtin_popcount(f->map[i]);
	if (min_blocks > 0 && held <= min_blocks)
		goto out;
	bottom.version = f->base_version;
	/* A delta is built on a whole file, except one rebased on a version
	 * that a crash left a delta (its write never committed): merging
	 * into such a "base" would make a whole file with holes. */
	rc = replica_read_header(s, &bottom, f, errmsg);
	if (rc == CFS_CORRUPT && says_whole(s, &bottom))
		rc = 0; /* a merge a crash interrupted: merged again */
	else if (rc == 0 && f->format == STORE_FORMAT_DELTA) {
		LOG_WARN("v%" PRIu64 " of %016" PRIx64 ".%" PRIu32
			 ": not compacted: its base v%" PRIu64 " is a delta",
			 k->version, k->ino, k->idx, bottom.version);
		goto out;
	}
	if (rc != 0) /* the caller logs that it was not compacted */
		goto out;
	rc = find_deltas(s, &bottom, &c, errmsg);
	for (size_t i = 0; rc == 0 && i < c.n; i++)
		if (c.dep[i].version > k->version) {
			/* one to rebase on @k: what it takes, into f->map */
			rc = takeover_prepare(s, k, f->map, errmsg);
			break;
		}
	/* The other deltas on the same whole file: the older ones are
	 * garbage (@k is committed) and are unlinked, so that a reader who
	 * located one before @k committed gets ENOENT, and locates again,
	 * rather than CORRUPT from blocks the merge rewrites.  Nothing
	 * committed is built on them (a delta's base is its chain's whole
	 * file), so no hand-over as in store_delete.  The newer ones (writes
	 * not committed, perhaps never) are rebased on @k, which takes the
	 * file over. */
	for (size_t i = 0; rc == 0 && i < c.n; i++) {
		if (c.dep[i].version == k->version)
			continue;
		if (c.dep[i].version < k->version) {
			char path[PATH_MAX];

			store_path(s, &c.dep[i], path, sizeof(path));
			if (unlink(path) < 0 && errno != ENOENT)
				rc = cfs_fail_errno(errmsg, errno,
						    "%s: unlink", path);
			else
				store_forget(s, &c.dep[i]);
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
