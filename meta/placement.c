/* placement.c - pure placement policy (see placement.h, docs/data-path.md). */
#include "meta/placement.h"

#include <assert.h>
#include <string.h>

#include "common/splitmix.h"

/* Existing replicas resolved and their label parsed once per call; ids
 * past this many are resolved on every use (slower, same answer).  A
 * fragment rarely has more replicas than its goal, so this is rarely used. */
#define DOMAIN_CACHE 32

/* Find @key in @labels; on success point *val at its value (not
 * NUL-terminated) of *len bytes and return 1. */
static int
label_find(const char *labels, const char *key, const char **val, size_t *len)
{
	size_t klen = key ? strlen(key) : 0;
	const char *p = labels ? labels : "";

	if (klen == 0)
		return 0;
	for (;;) {
		const char *end = strchr(p, ',');
		const char *eq;

		if (!end)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq && (size_t)(eq - p) == klen &&
		    memcmp(p, key, klen) == 0) {
			*val = eq + 1;
			*len = (size_t)(end - eq - 1);
			return 1;
		}
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

int
placement_label(const char *labels, const char *key, char *buf, size_t cap)
{
	const char *val = "";
	size_t len = 0;
	int found = label_find(labels, key, &val, &len);

	assert(buf || cap == 0);
	if (cap > 0) {
		if (len > cap - 1)
			len = cap - 1;
		memcpy(buf, val, len);
		buf[len] = '\0';
	}
	return found;
}

static const struct placement_node *
find_node(const struct placement_node *nodes, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (nodes[i].id == id)
			return &nodes[i];
	return NULL;
}

static int
contains(const uint64_t *ids, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* A node's failure domain: its id and its value of the spread label
 * (len 0: no value, the node is a domain of its own; id 0: no node). */
struct domain {
	uint64_t id;
	const char *val;
	size_t len;
};

/* One placement_choose() call.  While choosing, @chosen (the caller's out
 * array) holds indices into @nodes; they become ids at the end. */
struct chooser {
	const struct placement_node *nodes;
	size_t n;
	const uint64_t *exclude;
	size_t nexclude;
	const uint64_t *domains;
	size_t ndomains;
	struct domain dom[DOMAIN_CACHE]; /* of domains[0..DOMAIN_CACHE) */
	const char *key;		 /* NULL: no spread */
	uint64_t *chosen;
	size_t nchosen;
};

/* The domain of node @id with @labels under spread label @key. */
static struct domain
label_domain(uint64_t id, const char *labels, const char *key)
{
	struct domain d = {.id = id, .val = "", .len = 0};

	if (!label_find(labels, key, &d.val, &d.len))
		d.len = 0;
	return d;
}

static struct domain
domain_of(const struct chooser *c, const struct placement_node *node)
{
	return node ? label_domain(node->id, node->labels, c->key)
		    : label_domain(0, NULL, NULL);
}

/* The domain of existing replica @i; id 0 if it is not in the snapshot. */
static struct domain
existing_domain(const struct chooser *c, size_t i)
{
	if (i < DOMAIN_CACHE)
		return c->dom[i];
	return domain_of(c, find_node(c->nodes, c->n, c->domains[i]));
}

/* Do @a and @b share a domain?  A node always shares its own; a missing or
 * empty label value shares with no other node. */
static int
same_domain(const struct domain *a, const struct domain *b)
{
	if (a->id == b->id)
		return 1;
	return a->len > 0 && a->len == b->len &&
	       memcmp(a->val, b->val, a->len) == 0;
}

int
placement_same_domain(uint64_t a, const char *a_labels, uint64_t b,
		      const char *b_labels, const char *spread_label)
{
	struct domain da = label_domain(a, a_labels, spread_label);
	struct domain db = label_domain(b, b_labels, spread_label);

	return same_domain(&da, &db);
}

/* How many used nodes (chosen so far, existing replicas) share @node's
 * domain.  Always 0 without a spread label. */
static size_t
use_count(const struct chooser *c, const struct placement_node *node)
{
	struct domain d, u;
	size_t count = 0;

	if (!c->key)
		return 0;
	d = domain_of(c, node);
	for (size_t i = 0; i < c->nchosen; i++) {
		u = domain_of(c, &c->nodes[c->chosen[i]]);
		count += (size_t)same_domain(&d, &u);
	}
	for (size_t i = 0; i < c->ndomains; i++) {
		u = existing_domain(c, i);
		count += (size_t)same_domain(&d, &u);
	}
	return count;
}

static int
eligible(const struct chooser *c, size_t idx)
{
	const struct placement_node *node = &c->nodes[idx];

	if (node->state != PLACEMENT_ALIVE || node->free_bytes == 0)
		return 0;
	if (contains(c->exclude, c->nexclude, node->id))
		return 0;
	/* By id, not index: a snapshot with a repeated id (a caller bug)
	 * still never yields the same id twice. */
	for (size_t i = 0; i < c->nchosen; i++)
		if (c->nodes[c->chosen[i]].id == node->id)
			return 0;
	return 1;
}

/*
 * One pick.  Two passes over the nodes:
 *  1) among eligible nodes, find the lowest use count of their domain and
 *     the total free space of the nodes that have it;
 *  2) draw a point in [0, total) and walk those nodes to the one it falls
 *     in (probability proportional to free_bytes).
 * Returns the index of the node picked, or n if none is eligible.  The sum
 * is 128-bit so that no number of nodes of any size can overflow it.
 */
static size_t
pick_one(const struct chooser *c, uint64_t *rng)
{
	unsigned __int128 total = 0, point;
	size_t best = (size_t)-1;

	for (size_t i = 0; i < c->n; i++) {
		size_t count;

		if (!eligible(c, i))
			continue;
		count = use_count(c, &c->nodes[i]);
		if (count < best) {
			best = count;
			total = 0;
		}
		if (count == best)
			total += c->nodes[i].free_bytes;
	}
	if (total == 0)
		return c->n;
	point = (unsigned __int128)cfs_splitmix64(rng) << 64 | cfs_splitmix64(rng);
	point %= total;
	for (size_t i = 0; i < c->n; i++) {
		if (!eligible(c, i) || use_count(c, &c->nodes[i]) != best)
			continue;
		if (point < c->nodes[i].free_bytes)
			return i;
		point -= c->nodes[i].free_bytes;
	}
	assert(0 && "point past the total");
	return c->n;
}

size_t
placement_choose(const struct placement_node *nodes, size_t n, size_t want,
		 const uint64_t *exclude, size_t nexclude,
		 const uint64_t *exclude_domains, size_t ndomains,
		 const char *spread_label, uint64_t seed, uint64_t *out)
{
	struct chooser c = {
	    .nodes = nodes,
	    .n = n,
	    .exclude = exclude,
	    .nexclude = nexclude,
	    .domains = exclude_domains,
	    .ndomains = ndomains,
	    .key = spread_label && *spread_label ? spread_label : NULL,
	    .chosen = out,
	};
	uint64_t rng = seed;

	assert(nodes || n == 0);
	assert(out || want == 0);
	assert(exclude || nexclude == 0);
	assert(exclude_domains || ndomains == 0);
	for (size_t i = 0; i < ndomains && i < DOMAIN_CACHE; i++)
		c.dom[i] =
		    domain_of(&c, find_node(nodes, n, exclude_domains[i]));
	while (c.nchosen < want) {
		size_t idx = pick_one(&c, &rng);
		if (idx == n)
			break;
		out[c.nchosen++] = idx;
	}
	for (size_t i = 0; i < c.nchosen; i++)
		out[i] = nodes[out[i]].id;
	return c.nchosen;
}

uint64_t
placement_source(const struct placement_node *nodes, size_t n,
		 const uint64_t *candidates, size_t ncand,
		 const uint64_t *avoid, size_t navoid)
{
	assert(nodes || n == 0);
	assert(candidates || ncand == 0);
	assert(avoid || navoid == 0);
	for (size_t i = 0; i < ncand; i++) {
		const struct placement_node *node;

		if (candidates[i] == 0 ||
		    contains(avoid, navoid, candidates[i]))
			continue;
		node = find_node(nodes, n, candidates[i]);
		if (!node)
			continue;
		switch (node->state) {
		case PLACEMENT_ALIVE:
		case PLACEMENT_FULL:
		case PLACEMENT_DRAINING:
			return node->id;
		default:
			break;
		}
	}
	return 0;
}

static double
used_fraction(const struct placement_node *node)
{
	if (node->free_bytes >= node->capacity)
		return 0.0;
	return 1.0 - (double)node->free_bytes / (double)node->capacity;
}

int
placement_rebalance_pair(const struct placement_node *nodes, size_t n,
			 double threshold, uint64_t *from, uint64_t *to)
{
	const struct placement_node *hi = NULL, *lo = NULL;

	assert(nodes || n == 0);
	assert(from && to);
	*from = *to = 0;
	for (size_t i = 0; i < n; i++) {
		const struct placement_node *node = &nodes[i];

		if (node->state != PLACEMENT_ALIVE || node->capacity == 0)
			continue;
		if (!hi || used_fraction(node) > used_fraction(hi))
			hi = node;
		if (!lo || used_fraction(node) < used_fraction(lo))
			lo = node;
	}
	if (!hi || hi == lo)
		return 0;
	if (!(used_fraction(hi) - used_fraction(lo) > threshold))
		return 0;
	*from = hi->id;
	*to = lo->id;
	return 1;
}
