/* redmodel.c - judge a cluster's replicas against the redundancy invariants (see redmodel.h). */
#include "tests/model/redmodel.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
cmp_key(uint64_t a_ino, uint64_t a_idx, uint64_t b_ino, uint64_t b_idx)
{
	if (a_ino != b_ino)
		return a_ino < b_ino ? -1 : 1;
	if (a_idx != b_idx)
		return a_idx < b_idx ? -1 : 1;
	return 0;
}

static int
cmp_disk(const void *pa, const void *pb)
{
	const struct rm_disk *a = pa, *b = pb;
	int c = cmp_key(a->ino, a->idx, b->ino, b->idx);
	if (c != 0)
		return c;
	if (a->version != b->version)
		return a->version < b->version ? -1 : 1;
	return a->node < b->node ? -1 : a->node > b->node;
}

static int
cmp_frag(const void *pa, const void *pb)
{
	const struct rm_frag *a = pa, *b = pb;
	return cmp_key(a->ino, a->idx, b->ino, b->idx);
}

static int
node_live(const struct rm_state *s, uint64_t id)
{
	for (size_t i = 0; i < s->nnodes; i++)
		if (s->nodes[i].id == id)
			return s->nodes[i].live;
	return 0;
}

static size_t
live_nodes(const struct rm_state *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nnodes; i++)
		n += s->nodes[i].live != 0;
	return n;
}

/* Record a violation: count it and quote the first few. */
static void __attribute__((format(printf, 2, 3)))
problem(struct rm_report *r, const char *fmt, ...)
{
	if (r->nproblems >= RM_PROBLEMS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->problems[r->nproblems++], sizeof(r->problems[0]), fmt, ap);
	va_end(ap);
}

/* The first disk entry with key (ino, idx, version), in sorted @d. */
static size_t
disk_first(const struct rm_disk *d, size_t n, uint64_t ino, uint64_t idx,
	   uint64_t version)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct rm_disk *e = &d[mid];
		int c = cmp_key(e->ino, e->idx, ino, idx);
		if (c < 0 || (c == 0 && e->version < version))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The committed fragment (ino, idx) in sorted @f, or NULL. */
static const struct rm_frag *
frag_find(const struct rm_frag *f, size_t n, uint64_t ino, uint64_t idx)
{
	struct rm_frag key = {.ino = ino, .idx = idx};
	return bsearch(&key, f, n, sizeof(*f), cmp_frag);
}

static int
ino_known(const struct rm_frag *f, size_t n, uint64_t ino)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && f[lo].ino == ino;
}

/* Does disk replica @e hold committed version @f (redmodel.h)? */
static int
intact(const struct rm_disk *e, const struct rm_frag *f)
{
	return e->verified && e->crc == f->crc && e->length >= f->length;
}

/* R1, R2, R4 and R3 for one committed fragment; returns its failures. */
static int
check_frag(const struct rm_state *s, const struct rm_disk *d, size_t nd,
	   const struct rm_frag *f, int settled, size_t live,
	   struct rm_report *r)
{
	int fails = 0;
	unsigned good = 0;
	uint64_t prev_node = UINT64_MAX;

	for (size_t i = disk_first(d, nd, f->ino, f->idx, f->version);
	     i < nd && d[i].ino == f->ino && d[i].idx == f->idx &&
	     d[i].version == f->version;
	     i++) {
		const struct rm_disk *e = &d[i];
		if (!e->verified)
			continue; /* counted as corrupt below */
		if (!intact(e, f)) {
			r->differ++; /* R4 */
			fails++;
			problem(r, "R4 ino %" PRIu64 " frag %" PRIu64
				   " v%" PRIu64 ": node %" PRIu64
				   " holds %" PRIu64 " B crc %08x, the map "
				   "says %" PRIu64 " B crc %08x",
				f->ino, f->idx, f->version, e->node, e->length,
				e->crc, f->length, f->crc);
			continue;
		}
		/* sorted by node: distinct nodes are consecutive changes */
		if (node_live(s, e->node) && e->node != prev_node) {
			good++;
			r->replicas_ok++;
		}
		prev_node = e->node;
	}

	if (good == 0) {
		r->lost++; /* R1, settled or not */
		fails++;
		problem(r, "R1 ino %" PRIu64 " frag %" PRIu64 " v%" PRIu64
			   ": no intact replica on any live node",
			f->ino, f->idx, f->version);
	} else {
		unsigned want = f->goal < live ? f->goal : (unsigned)live;
		if (good < want) {
			r->under_goal++; /* R2 */
			if (settled) {
				fails++;
				problem(r, "R2 ino %" PRIu64 " frag %" PRIu64
					   " v%" PRIu64 ": %u intact "
					   "replicas on live nodes, goal %u",
					f->ino, f->idx, f->version, good,
					f->goal);
			}
		}
	}

	for (unsigned k = 0; k < f->nmeta && k < 16; k++) {
		uint64_t n = f->meta_nodes[k];
		if (!node_live(s, n))
			continue;
		int ok = 0;
		for (size_t i = disk_first(d, nd, f->ino, f->idx, f->version);
		     i < nd && d[i].ino == f->ino && d[i].idx == f->idx &&
		     d[i].version == f->version;
		     i++)
			if (d[i].node == n && intact(&d[i], f))
				ok = 1;
		if (!ok) {
			r->meta_wrong++; /* R3 */
			if (settled) {
				fails++;
				problem(r, "R3 ino %" PRIu64 " frag %" PRIu64
					   " v%" PRIu64 ": the map lists node %"
					   PRIu64 ", whose disk has no intact "
					   "copy",
					f->ino, f->idx, f->version, n);
			}
		}
	}
	return fails;
}

int
rm_check(const struct rm_state *s, int settled, struct rm_report *r)
{
	struct rm_disk *d = NULL;
	struct rm_frag *f = NULL;
	size_t live = live_nodes(s);
	int fails = 0;

	memset(r, 0, sizeof(*r));
	if (s->ndisk > 0 && (d = malloc(s->ndisk * sizeof(*d))) == NULL)
		return -1;
	if (s->nfrags > 0 && (f = malloc(s->nfrags * sizeof(*f))) == NULL) {
		free(d);
		return -1;
	}
	if (d != NULL)
		memcpy(d, s->disk, s->ndisk * sizeof(*d));
	if (f != NULL)
		memcpy(f, s->frags, s->nfrags * sizeof(*f));
	if (d != NULL)
		qsort(d, s->ndisk, sizeof(*d), cmp_disk);
	if (f != NULL)
		qsort(f, s->nfrags, sizeof(*f), cmp_frag);

	r->fragments = s->nfrags;
	for (size_t i = 0; i < s->nfrags; i++)
		fails += check_frag(s, d, s->ndisk, &f[i], settled, live, r);

	/* What else lies on the disks: counted, never a failure here. */
	for (size_t i = 0; i < s->ndisk; i++) {
		const struct rm_disk *e = &d[i];
		const struct rm_frag *c = frag_find(f, s->nfrags, e->ino, e->idx);
		if (!e->verified)
			r->corrupt++;
		if (c == NULL) {
			if (ino_known(f, s->nfrags, e->ino))
				r->stale++; /* a fragment cut off by truncate */
			else
				r->orphans++;
		} else if (e->version < c->version) {
			r->stale++;
		} else if (e->version > c->version) {
			r->uncommitted++;
		}
	}
	free(d);
	free(f);
	return fails;
}
