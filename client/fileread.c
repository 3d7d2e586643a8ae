/* fileread.c - reading file data: locations kept for cached reads, reads with fail-over between replicas (and local disks), read-ahead. */
#include "client/fileio_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "client/bcache.h"
#include "client/nodeclient.h"
#include "common/error.h"
#include "common/log.h"

/* ---- locations kept for FIO_CACHED reads ------------------------------------ */

/* Every forget counts, whatever its inode: a read of @ino that was
 * locating when it came has not filled its window yet. */
void
fio_forget(struct fio *f, uint64_t ino)
{
	pthread_mutex_lock(&f->clock);
	for (unsigned i = 0; i < KEPT_WINDOWS; i++)
		if (ino == 0 || ino == f->kept[i].ino)
			f->kept[i].ino = 0;
	f->cgen++;
	pthread_mutex_unlock(&f->clock);
}

/* The kept windows of @ino are no longer used; unlike fio_forget, a
 * locate under way may still keep what it fetches. */
static void
kept_drop(struct fio *f, uint64_t ino)
{
	pthread_mutex_lock(&f->clock);
	for (unsigned i = 0; i < KEPT_WINDOWS; i++)
		if (ino == f->kept[i].ino)
			f->kept[i].ino = 0;
	pthread_mutex_unlock(&f->clock);
}

void
fio_cache_mark(struct fio *f)
{
	pthread_mutex_lock(&f->clock);
	f->cmark = f->cgen;
	f->marked = 1;
	pthread_mutex_unlock(&f->clock);
}

/* The kept window that holds fragments [first, first + count) of @ino,
 * or NULL. */
static struct kept *
kept_find(struct fio *f, uint64_t ino, uint64_t first, uint32_t count)
{
	struct kept *k = NULL;

	pthread_mutex_lock(&f->clock);
	for (unsigned i = 0; i < KEPT_WINDOWS && k == NULL; i++)
		if (f->kept[i].ino == ino && first >= f->kept[i].first &&
		    first + count <= f->kept[i].first + f->kept[i].count)
			k = &f->kept[i];
	pthread_mutex_unlock(&f->clock);
	if (k != NULL)
		k->used = ++f->kept_tick;
	return k;
}

/* Keep f->map as window [first, first + count) of @ino: in the slot that
 * had that window, else a free one, else the least recently used. */
static void
kept_fill(struct fio *f, uint64_t ino, uint64_t first, uint32_t count)
{
	struct kept *k = NULL;

	pthread_mutex_lock(&f->clock);
	for (unsigned i = 0; i < KEPT_WINDOWS && k == NULL; i++)
		if (f->kept[i].ino == ino && f->kept[i].first == first)
			k = &f->kept[i];
	for (unsigned i = 0; i < KEPT_WINDOWS && k == NULL; i++)
		if (f->kept[i].ino == 0)
			k = &f->kept[i];
	if (k == NULL) {
		k = &f->kept[0];
		for (unsigned i = 1; i < KEPT_WINDOWS; i++)
			if (f->kept[i].used < k->used)
				k = &f->kept[i];
	}
	k->ino = 0; /* its map is rewritten below */
	pthread_mutex_unlock(&f->clock);
	if (k->map == NULL && (k->map = malloc(sizeof(*k->map))) == NULL)
		return; /* nothing kept, the read goes on */
	memcpy(k->map, f->map, sizeof(*k->map));
	k->first = first;
	k->count = count;
	k->used = ++f->kept_tick;
	/* Kept only if nothing was forgotten since the read was allowed to
	 * keep (fio_cache_mark): a forget that came meanwhile may have been
	 * for exactly what this locate fetched. */
	pthread_mutex_lock(&f->clock);
	k->ino = f->cgen == f->cmark ? ino : 0;
	pthread_mutex_unlock(&f->clock);
}

/* Make f->cur the locations of fragments [first, first + count) of @ino,
 * asking for @ahead more if it asks: the kept ones if @flags has
 * FIO_CACHED and they cover [first, first + count), else a fresh
 * frag_locate, kept for later FIO_CACHED reads when FIO_CACHED.
 * *from_cache says which. */
static int
locate_for_read(struct fio *f, uint64_t ino, uint64_t first, uint32_t count,
		uint32_t ahead, int flags, int *from_cache, char *errmsg)
{
	int for_write = (flags & FIO_FOR_WRITE) != 0;
	/* what a writer located is not kept for readers */
	int cached = (flags & FIO_CACHED) != 0 && !for_write;
	struct kept *k;
	int rv;

	*from_cache = 0;
	if (cached && (k = kept_find(f, ino, first, count)) != NULL) {
		f->cur = k->map;
		*from_cache = 1;
		return 0;
	}
	count += ahead;
	if (!cached)
		return fio_locate(f, ino, first, count, for_write, errmsg);
	/* A whole aligned window, so that later reads nearby hit. */
	uint64_t wfirst = first - first % WIRE_MAX_fraginfo;
	uint32_t wcount = WIRE_MAX_fraginfo;
	if (first + count > wfirst + wcount) {
		wfirst = first;
		wcount = count;
	}
	rv = fio_locate(f, ino, wfirst, wcount, for_write, errmsg);
	if (rv != 0)
		return rv;
	kept_fill(f, ino, wfirst, wcount);
	return 0;
}

/* ---- reading ------------------------------------------------------------- */

static void
report_bad(struct fio *f, uint64_t ino, const struct wire_fraginfo *fi,
	   uint64_t node, int reason, const char *why)
{
	struct wire_replica_bad rq = {
		.r = {.ino = ino, .idx = fi->idx, .version = fi->version,
		      .node = node},
		.reason = (uint32_t)reason,
	};
	char errmsg[CFS_ERRMSG_SIZE];

	f->st.bad_replicas++;
	LOG_WARN("fragment %llu/%llu v%llu on node %llu: %s; reported",
		 (unsigned long long)ino, (unsigned long long)fi->idx,
		 (unsigned long long)fi->version, (unsigned long long)node,
		 why);
	if (mc_call(f->mc, WIRE_T_replica_bad, &rq, NULL, f->rep, 2000,
		    errmsg) != 0)
		LOG_WARN("reporting a bad replica: %s", errmsg);
}

static const char *
node_addr(const struct wire_frag_map *m, uint64_t id)
{
	for (uint32_t i = 0; i < m->nodes_count; i++)
		if (m->nodes[i].id == id)
			return m->nodes[i].addr;
	return NULL;
}

/* ---- read-ahead ------------------------------------------------------------ */

static const struct wire_fraginfo *
map_find(const struct wire_frag_map *m, uint64_t idx)
{
	for (uint32_t i = 0; i < m->frags_count; i++)
		if (m->frags[i].idx == idx)
			return &m->frags[i];
	return NULL;
}


int
fio_ahead(const struct fio *f, struct fio_piece *out)
{
	int n = 0;

	for (int i = 0; i < PREFETCH_DEPTH; i++)
		if (f->pf[i].active)
			out[n++] = (struct fio_piece){.ino = f->pf[i].ino,
						      .off = f->pf[i].fileoff,
						      .len = f->pf[i].len};
	return n;
}

/* Piece @i is no longer wanted: its read from a local disk, if any, is
 * let go (one asked of a node is abandoned by the slot's next request). */
static void
piece_drop(struct fio *f, int i)
{
	f->pf[i].active = 0;
	lread_done(f->pf[i].job);
	f->pf[i].job = NULL;
}

/* Whether piece @p, in flight, is [foff, foff + n) of @fi of @ino or
 * holds it (@exact: is it). */
static int
piece_has(const struct prefetch *p, uint64_t ino,
	  const struct wire_fraginfo *fi, uint64_t foff, size_t n, int exact)
{
	if (!p->active || p->ino != ino || p->idx != fi->idx ||
	    p->version != fi->version)
		return 0;
	return exact ? p->offset == foff && p->len == n
		     : p->offset <= foff && foff + n <= p->offset + p->len;
}

/*
 * If a piece read ahead holds [foff, foff + n) of committed version
 * fi->version of @ino, wait for it and copy it to @dst: 1.  If it was that
 * piece but its node did not answer in time or could not be reached: 2,
 * and *node is that node (the caller asks the other replicas first and
 * that one last).  Otherwise (not that piece, or any other failure: the
 * caller reads as usual and reports what it finds) 0.  The piece is used
 * up.
 */
static int
prefetch_take(struct fio *f, uint64_t ino, const struct wire_fraginfo *fi,
	      uint64_t foff, uint8_t *dst, size_t n, uint64_t *node)
{
	char errmsg[CFS_ERRMSG_SIZE];
	union wire_body *rep = NULL;
	const void *bulk = NULL;
	size_t blen = 0;
	uint16_t rt = 0;
	int i = 0;

	while (i < PREFETCH_DEPTH && !piece_has(&f->pf[i], ino, fi, foff, n, 0))
		i++;
	if (i == PREFETCH_DEPTH)
		return 0;
	struct prefetch *p = &f->pf[i];
	if (p->job != NULL && p->crc != fi->crc) {
		/* patched in place since it was asked for: its bytes checked
		 * against the crc of then */
		piece_drop(f, i);
		return 0;
	}
	if (p->job != NULL) {
		const uint8_t *data = NULL;
		int rv = lread_finish(p->job, READ_TIMEOUT_MS, &data, errmsg);
		if (rv == 0) {
			memcpy(dst, data + (foff - p->offset), n);
			f->st.reads++;
			piece_drop(f, i);
			return 1;
		}
		/* the caller reads through the node; a disk that hangs is
		 * tried last, as a node that does */
		lread_failed(f->lr, p->node, rv, errmsg);
		piece_drop(f, i);
		if (rv != CFS_ETIMEDOUT)
			return 0;
		for (int j = 0; j < PREFETCH_DEPTH; j++)
			if (f->pf[j].node == p->node)
				piece_drop(f, j);
		*node = p->node;
		return 2;
	}
	p->active = 0;
	int rv = nc_finish(f->pnc[i], &rt, &rep, &bulk, &blen, errmsg);
	if (rv == CFS_ETIMEDOUT || rv == CFS_ECONNREFUSED) {
		/* the other piece asked of that node would wait as long */
		for (int j = 0; j < PREFETCH_DEPTH; j++)
			if (f->pf[j].node == p->node)
				piece_drop(f, j);
		LOG_WARN("fragment %llu/%llu: read-ahead: %s; trying the other "
			 "replicas, then that node again",
			 (unsigned long long)ino, (unsigned long long)fi->idx,
			 errmsg);
		*node = p->node;
		return 2;
	}
	if (rv != 0 || rt != WIRE_T_frag_data || blen != p->len ||
	    rep->frag_data.crc != fi->crc)
		return 0;
	memcpy(dst, (const uint8_t *)bulk + (foff - p->offset), n);
	f->st.reads++;
	return 1;
}

/* Ask for [foff, foff + n) of fragment @fi of @ino, from its first replica,
 * to be read ahead in slot @i (abandoning what the slot asked for before). */
static void
prefetch_start(struct fio *f, int i, uint64_t ino,
	       const struct wire_fraginfo *fi, uint64_t foff, size_t n)
{
	char errmsg[CFS_ERRMSG_SIZE];
	const char *addr;
	struct store *st;

	piece_drop(f, i);
	if (fi->nodes_count == 0 ||
	    (addr = node_addr(f->cur, fi->nodes[0])) == NULL)
		return;
	f->pf[i] = (struct prefetch){.active = 1, .ino = ino, .idx = fi->idx,
				     .version = fi->version, .offset = foff,
				     .len = (uint32_t)n, .crc = fi->crc,
				     .node = fi->nodes[0],
				     .fileoff = fi->idx * f->fsz + foff};
	if (f->lr != NULL &&
	    (st = lread_store(f->lr, fi->nodes[0], addr)) != NULL &&
	    (f->pf[i].job = lread_start(f->lr, st, ino, (uint32_t)fi->idx,
					fi->version, foff, n, fi->crc)) !=
		    NULL)
		return;
	f->pf[i].active = 0;
	if (f->pnc[i] == NULL && nc_open(&f->pnc[i], f->zctx, errmsg) != 0)
		return;
	struct wire_frag_read rq = {.ino = ino, .idx = fi->idx,
				    .version = fi->version, .offset = foff,
				    .len = (uint32_t)n};
	if (nc_start(f->pnc[i], addr, WIRE_T_frag_read, &rq, NULL, 0,
		     READ_TIMEOUT_MS, errmsg) != 0)
		return;
	f->pf[i].active = 1;
}

/*
 * After a read that ended at @end of @ino: if it went on from where the
 * previous one ended (a sequential reader), or FIO_SEQUENTIAL says it is
 * one, have the next PREFETCH_DEPTH pieces of @n bytes in flight, each
 * within a fragment, the next starting where the one before ends, as far
 * as the map has them (the map came from this read's frag_locate).  Pieces
 * in flight that are not among them are abandoned; those that are stay.
 */
static void
prefetch_next(struct fio *f, uint64_t ino, uint64_t start, uint64_t end,
	      size_t n, int flags)
{
	int sequential = (flags & FIO_SEQUENTIAL) ||
			 (f->next_ino == ino && f->next_off == start);
	uint64_t fsz = f->fsz;
	struct {
		const struct wire_fraginfo *fi;
		uint64_t foff;
		size_t n;
	} want[PREFETCH_DEPTH];
	int nwant = 0;

	f->next_ino = ino;
	f->next_off = end;
	if (!sequential || fsz == 0 || n == 0)
		return;
	if (n > PREFETCH_MAX)
		n = PREFETCH_MAX;
	for (uint64_t at = end; nwant < PREFETCH_DEPTH && at < f->cur->size;) {
		uint64_t idx = at / fsz, foff = at % fsz;
		const struct wire_fraginfo *fi = map_find(f->cur, idx);
		size_t m = n;
		if (fi == NULL || fi->length <= foff)
			break; /* a hole or past the fragment's data */
		if (m > fsz - foff)
			m = (size_t)(fsz - foff);
		if (m > fi->length - foff)
			m = (size_t)(fi->length - foff);
		if (at + m > f->cur->size)
			m = (size_t)(f->cur->size - at);
		want[nwant].fi = fi;
		want[nwant].foff = foff;
		want[nwant].n = m;
		nwant++;
		at += m;
	}
	int in_flight[PREFETCH_DEPTH] = {0}; /* want[j] is already asked */
	for (int i = 0; i < PREFETCH_DEPTH; i++) { /* keep the wanted ones */
		int keep = 0;
		for (int j = 0; j < nwant && !keep; j++)
			if (piece_has(&f->pf[i], ino, want[j].fi, want[j].foff,
				      want[j].n, 1))
				keep = in_flight[j] = 1;
		if (!keep)
			piece_drop(f, i);
	}
	for (int j = 0, i = 0; j < nwant; j++) { /* ask the others in free slots */
		if (in_flight[j])
			continue;
		while (f->pf[i].active) /* nwant <= PREFETCH_DEPTH: one is free */
			i++;
		prefetch_start(f, i, ino, want[j].fi, want[j].foff, want[j].n);
		i++;
	}
}

/* Read [foff, foff + n) of the fragment @fi into @dst from its replica on
 * node @node at @addr: 0, or the error, errmsg saying which.  @report: a
 * replica that shows damage is reported (not when the locations may be out
 * of date: kept ones, which are dropped instead). */
static int
read_replica(struct fio *f, uint64_t ino, const struct wire_fraginfo *fi,
	     uint64_t node, const char *addr, uint64_t foff, uint8_t *dst,
	     size_t n, int report, char *errmsg)
{
	struct wire_frag_read rq = {.ino = ino, .idx = fi->idx,
				    .version = fi->version, .offset = foff,
				    .len = (uint32_t)n};
	union wire_body *rep = NULL;
	const void *bulk = NULL;
	size_t blen = 0;
	uint16_t rt = 0;
	struct store *st;
	int rv;

	/* (through a job: a read from a disk that hangs must give up) */
	struct lread_job *j = NULL;
	if (f->lr != NULL && (st = lread_store(f->lr, node, addr)) != NULL &&
	    (j = lread_start(f->lr, st, ino, (uint32_t)fi->idx, fi->version,
			     foff, n, fi->crc)) != NULL) {
		const uint8_t *data = NULL;
		rv = lread_finish(j, READ_TIMEOUT_MS, &data, errmsg);
		if (rv == 0)
			memcpy(dst, data, n);
		lread_done(j);
		if (rv == 0) {
			f->st.reads++;
			return 0;
		}
		/* the node's own read says what is wrong, if anything */
		lread_failed(f->lr, node, rv, errmsg);
		if (rv == CFS_ETIMEDOUT) { /* so would the node's, likely */
			LOG_WARN("fragment %llu/%llu: %s; trying the next "
				 "replica",
				 (unsigned long long)ino,
				 (unsigned long long)fi->idx, errmsg);
			return rv;
		}
	}
	rv = nc_call(f->nc, addr, WIRE_T_frag_read, &rq, NULL, 0,
		     READ_TIMEOUT_MS, &rt, &rep, &bulk, &blen, errmsg);
	if (rv == 0 && (rt != WIRE_T_frag_data || blen != n)) {
		rv = cfs_fail(errmsg, CFS_CORRUPT,
			      "%s: %zu bytes where %zu were due", addr, blen,
			      n);
	} else if (rv == 0 && rep->frag_data.crc != fi->crc) {
		rv = cfs_fail(errmsg, CFS_CORRUPT,
			      "%s: replica crc %08x, committed %08x", addr,
			      rep->frag_data.crc, fi->crc);
	}
	if (rv == 0) {
		memcpy(dst, bulk, n);
		f->st.reads++;
		return 0;
	}
	/* Only what the replica itself shows is reported: a node this
	 * client cannot reach may be fine for everyone else (the leader
	 * judges liveness by heartbeats). */
	if (report && (rv == CFS_CORRUPT || rv == CFS_ENOENT)) {
		report_bad(f, ino, fi, node, rv, errmsg);
	} else if (rv == CFS_ENOENT || rv == CFS_CORRUPT) {
		/* Kept locations: the replica was most likely moved or
		 * dropped since (rebalancing, repair).  The next read
		 * locates afresh rather than asking it again. */
		kept_drop(f, ino);
		LOG_INFO("fragment %llu/%llu: %s; the locations this mount "
			 "kept are out of date, trying the next replica",
			 (unsigned long long)ino, (unsigned long long)fi->idx,
			 errmsg);
	} else
		LOG_WARN("fragment %llu/%llu: %s; trying the next replica",
			 (unsigned long long)ino, (unsigned long long)fi->idx,
			 errmsg);
	return rv;
}

/* Read [foff, foff + n) of the fragment @fi into @dst (n <= its length),
 * trying each replica in turn.  @report: replicas that show damage are
 * reported (not when the locations may be out of date: kept ones). */
static int
read_fragment(struct fio *f, uint64_t ino, const struct wire_fraginfo *fi,
	      uint64_t foff, uint8_t *dst, size_t n, int report, char *errmsg)
{
	int rv = CFS_UNAVAILABLE;
	uint64_t stalled = 0; /* node ids are non-zero */
	int taken = prefetch_take(f, ino, fi, foff, dst, n, &stalled);

	if (taken == 1)
		return 0;
	cfs_fail(errmsg, CFS_UNAVAILABLE, "no live replica");
	/* The node whose read-ahead timed out or could not be reached is
	 * asked last rather than never: it may have been paused (a stopped
	 * process, a stalled disk) and answer now, and it may hold the only
	 * replica (goal 1, or the only live copy).  The others come first,
	 * in their order, so it costs time only when they all fail. */
	for (int last = 0; last < 2; last++)
		for (uint32_t i = 0; i < fi->nodes_count; i++) {
			const char *addr = node_addr(f->cur, fi->nodes[i]);
			if ((fi->nodes[i] == stalled) != last || addr == NULL)
				continue;
			rv = read_replica(f, ino, fi, fi->nodes[i], addr, foff,
					  dst, n, report, errmsg);
			if (rv == 0)
				return 0;
		}
	cfs_errmsg_prefix(errmsg, "fragment %llu/%llu v%llu: every replica "
			  "failed, last",
			  (unsigned long long)ino, (unsigned long long)fi->idx,
			  (unsigned long long)fi->version);
	return rv == 0 ? CFS_EIO : rv;
}

/* Keep [a0, a0 + n) of fragment @fi, just read into @src (@a0 a page
 * boundary; a0 + n one too, or where the readable length ends). */
static void
cache_range(struct fio *f, uint64_t ino, const struct wire_fraginfo *fi,
	    uint32_t gen, uint64_t a0, const uint8_t *src, size_t n)
{
	struct bcache_key k = {.ino = ino, .idx = fi->idx,
			       .version = fi->version, .crc = fi->crc,
			       .gen = gen};

	for (size_t at = 0; at < n;) {
		uint64_t o = a0 + at;
		size_t piece = BCACHE_BLOCK - (size_t)(o % BCACHE_BLOCK);
		if (piece > n - at)
			piece = n - at;
		k.block = (uint32_t)(o / BCACHE_BLOCK);
		bcache_put(f->bc, &k, (uint32_t)(o % BCACHE_BLOCK), src + at,
			   piece);
		at += piece;
	}
}

/*
 * read_fragment through the mount's data cache (client/bcache.h): answered
 * from it when every page of [foff, foff + n) is there; otherwise the
 * whole pages around the range (whole blocks while the cache has room)
 * are read, up to the readable length, and, if @keep, kept.
 */
static int
read_through(struct fio *f, uint64_t ino, const struct wire_fraginfo *fi,
	     uint32_t gen,
	     uint64_t foff, uint8_t *dst, size_t n, int report, int keep,
	     char *errmsg)
{
	struct bcache_key k = {.ino = ino, .idx = fi->idx,
			       .version = fi->version, .crc = fi->crc,
			       .gen = gen};
	int all = f->bc != NULL;

	if (!all)
		return read_fragment(f, ino, fi, foff, dst, n, report, errmsg);
	for (uint64_t o = foff; o < foff + n && all;) {
		size_t piece = BCACHE_BLOCK - (size_t)(o % BCACHE_BLOCK);
		if (piece > foff + n - o)
			piece = (size_t)(foff + n - o);
		k.block = (uint32_t)(o / BCACHE_BLOCK);
		all = bcache_get(f->bc, &k, (uint32_t)(o % BCACHE_BLOCK),
				 dst + (o - foff), piece);
		o += piece;
	}
	if (all) {
		f->st.cached_reads++;
		return 0;
	}
	if (!keep)
		return read_fragment(f, ino, fi, foff, dst, n, report, errmsg);
	/* whole blocks while the cache has room to spare (bcache.h) */
	uint64_t unit = bcache_has_room(f->bc) ? BCACHE_BLOCK : BCACHE_PAGE;
	uint64_t a0 = foff - foff % unit;
	uint64_t a1 = (foff + n + unit - 1) / unit * unit;
	if (a1 > fi->length)
		a1 = fi->length;
	if (a0 == foff && a1 == foff + n) { /* already whole pages */
		int rv = read_fragment(f, ino, fi, foff, dst, n, report,
				       errmsg);
		if (rv == 0)
			cache_range(f, ino, fi, gen, a0, dst, n);
		return rv;
	}
	uint8_t *tmp = malloc((size_t)(a1 - a0));
	if (tmp == NULL) /* the cache is a help, not a need */
		return read_fragment(f, ino, fi, foff, dst, n, report, errmsg);
	int rv = read_fragment(f, ino, fi, a0, tmp, (size_t)(a1 - a0), report,
			       errmsg);
	if (rv == 0) {
		memcpy(dst, tmp + (foff - a0), n);
		cache_range(f, ino, fi, gen, a0, tmp, (size_t)(a1 - a0));
	}
	free(tmp);
	return rv;
}

int
fio_pread_ex(struct fio *f, uint64_t ino, uint64_t offset, void *buf,
	     size_t len, size_t *got, int flags, char *errmsg)
{
	uint8_t *p = buf;
	uint64_t start = offset;
	size_t asked = len;
	int rv, from_cache = 0, retried = 0, resealed = 0, eof = 0;
	uint64_t reads0 = f->st.reads; /* fragment reads from the nodes */
	uint64_t sealgen = 0;

	if (flags & FIO_CACHED) {
		pthread_mutex_lock(&f->clock);
		if (!f->marked)
			f->cmark = f->cgen;
		f->marked = 0;
		pthread_mutex_unlock(&f->clock);
	}
again:
	p = buf;
	offset = start;
	len = asked;
	*got = 0;
	eof = 0;
	/* entries of a lease gone would stand for the server's length */
	(void)fio_seal_lapsed(f, ino);
	/* (the mount's seals so far: one during this read may have ended
	 * an open version it read by its entry, or its size, as sealed) */
	sealgen = fio_opens_gen(f->opens, ino);
	while (len > 0) {
		uint64_t fsz = f->fsz ? f->fsz : 1;
		uint64_t first = offset / fsz;
		uint64_t last = (offset + len - 1) / fsz;
		uint32_t count = last - first + 1 > WIRE_MAX_fraginfo
					 ? WIRE_MAX_fraginfo
					 : (uint32_t)(last - first + 1);
		/* fragments more, for the read-ahead past this range (a
		 * kept window need not have them) */
		uint32_t ahead = WIRE_MAX_fraginfo - count < PREFETCH_DEPTH
					 ? WIRE_MAX_fraginfo - count
					 : PREFETCH_DEPTH;
		if ((rv = locate_for_read(f, ino, first, count, ahead,
					  flags, &from_cache,
					  errmsg)) != 0)
			return rv;
		if (f->fsz != fsz)
			continue; /* learnt the fragment size: plan again */
		uint64_t size = f->cur->size;
		/* appends this mount patched in place and has not sealed */
		uint64_t open_end = fio_opens_end(f->opens, ino);
		if (open_end > size)
			size = open_end;
		if (offset >= size) {
			eof = 1;
			break;
		}
		if (len > size - offset)
			len = (size_t)(size - offset);
		for (uint64_t idx = first; idx < first + count && len > 0;
		     idx++) {
			uint64_t foff = offset % fsz;
			size_t n = fsz - foff < len ? (size_t)(fsz - foff)
						    : len;
			const struct wire_fraginfo *fi = map_find(f->cur, idx);
			/* a version this mount patches in place: its nodes
			 * hold a newer crc than the committed one, and a
			 * mismatch is a patch under way, not damage */
			struct wire_fraginfo fx;
			uint32_t gen = 0;
			int open = fi != NULL &&
				   inplace_fix(f->opens, ino, fi, &fx, &gen);
			if (open)
				fi = &fx;
			size_t have = 0;
			if (fi != NULL && fi->length > foff)
				have = fi->length - foff < n
					       ? (size_t)(fi->length - foff)
					       : n;
			if (have > 0 &&
			    (rv = read_through(f, ino, fi, gen, foff, p, have,
					       !from_cache && !open,
					       !(flags & FIO_NOKEEP),
					       errmsg)) != 0) {
				/* Once more with fresh locations if these
				 * were kept ones (a replica moved), or if no
				 * node had the version (a write replaced it
				 * since this read located it, and the nodes
				 * deleted it: docs/data-path.md) */
				if (retried || (!from_cache && !open &&
						rv != CFS_ENOENT))
					return rv;
				retried = 1;
				fio_forget(f, ino);
				flags &= ~FIO_CACHED;
				goto again;
			}
			memset(p + have, 0, n - have); /* hole or past end */
			p += n;
			offset += n;
			len -= n;
			*got += n;
		}
	}
	/* An open version sealed and dropped between the locate and its
	 * read: the map (committed before the seal) and the entry (gone)
	 * may both have missed appends, read as the end of the file or as
	 * zeros.  Read again: the seal forgot the kept locations, and the
	 * server knows the appends now. */
	if (fio_opens_gen(f->opens, ino) != sealgen && resealed++ < 3) {
		fio_forget(f, ino);
		flags &= ~FIO_CACHED;
		goto again;
	}
	if (eof) /* (at or past the end: nothing to read ahead) */
		return 0;
	/* a read the data cache answered whole asks for nothing ahead: the
	 * next one is likely answered there too, and an unused read-ahead
	 * would only be abandoned on the node socket */
	prefetch_next(f, ino, start, start + *got,
		      f->st.reads == reads0 && f->bc != NULL ? 0 : asked,
		      flags);
	return 0;
}

int
fio_pread(struct fio *f, uint64_t ino, uint64_t offset, void *buf,
	  size_t len, size_t *got, char *errmsg)
{
	return fio_pread_ex(f, ino, offset, buf, len, got, 0, errmsg);
}
