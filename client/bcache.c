/* bcache.c - a mount's cache of file data: 64 KiB blocks of committed fragment versions, bounded, shared by its threads. */
#include "client/bcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/error.h"

#define STRIPES 16
#define NIL UINT32_MAX

#define PAGES (BCACHE_BLOCK / BCACHE_PAGE)

struct slot {
	struct bcache_key k;
	uint16_t pages; /* present pages, bit i: [i * 4 KiB, ...); 0: free */
	uint8_t ref;    /* hit since the clock hand last passed */
	uint32_t end;   /* where the version's bytes end within the block,
			   if in a present page; else BCACHE_BLOCK */
	uint32_t next;  /* hash chain, NIL at the end */
};

_Static_assert(PAGES == 16, "a slot's pages fit its uint16_t mask");

/* The pages [off, off + n) touches (n > 0). */
static uint16_t
pages_of(uint32_t off, size_t n)
{
	uint32_t p0 = off / BCACHE_PAGE;
	uint32_t p1 = (uint32_t)((off + n - 1) / BCACHE_PAGE);

	return (uint16_t)(((2u << p1) - 1) & ~((1u << p0) - 1));
}

/* A stripe owns slots [first, first + n) of the mapping and a hash table
 * of chains through them. */
struct stripe {
	pthread_mutex_t lock;
	struct slot *slots;
	uint32_t *heads; /* nheads chain heads */
	uint32_t n, nheads, hand;
	uint8_t *data; /* n blocks */
	uint64_t hits, misses, puts;
};

struct bcache {
	uint8_t *map;
	size_t map_len;
	uint64_t fresh; /* slots never filled yet (atomic) */
	struct stripe s[STRIPES];
};

static uint64_t
key_hash(const struct bcache_key *k)
{
	uint64_t h = k->ino * 0x9e3779b97f4a7c15ull;

	h ^= (k->idx + 0x632be59bd9b4e019ull) * 0xc2b2ae3d27d4eb4full;
	h ^= k->block * 0x165667b19e3779f9ull;
	/* every version of a block in one chain would make a block that is
	 * rewritten and read again walk all its old versions */
	h ^= (k->version ^ ((uint64_t)k->crc << 32)) * 0x27d4eb2f165667c5ull;
	h ^= (uint64_t)k->gen * 0x165667b19e3779f9ull;
	h ^= h >> 31;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

static int
key_eq(const struct bcache_key *a, const struct bcache_key *b)
{
	return a->ino == b->ino && a->idx == b->idx &&
	       a->version == b->version && a->crc == b->crc &&
	       a->gen == b->gen &&
	       a->block == b->block;
}

uint64_t
bcache_default_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	uint64_t b = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz / 16
					  : 0;

	if (b > (4ull << 30))
		b = 4ull << 30;
	if (b < (64ull << 20))
		b = 64ull << 20;
	return b;
}

int
bcache_new(struct bcache **out, uint64_t bytes)
{
	uint64_t blocks = bytes / BCACHE_BLOCK;
	struct bcache *c;

	*out = NULL;
	if (blocks < STRIPES)
		return 0; /* too small to be worth it: none */
	if (blocks > (uint64_t)STRIPES * (NIL / 2))
		blocks = (uint64_t)STRIPES * (NIL / 2);
	blocks -= blocks % STRIPES;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CFS_ENOMEM;
	c->map_len = (size_t)blocks * BCACHE_BLOCK;
	/* reserved, not committed: pages are backed as slots fill */
	c->map = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c->map == MAP_FAILED) {
		free(c);
		return CFS_ENOMEM;
	}
#ifdef MADV_HUGEPAGE
	/* 2 MiB pages: filling 1 GiB takes 512 faults, not 262,144 */
	(void)madvise(c->map, c->map_len, MADV_HUGEPAGE);
#endif
	uint32_t per = (uint32_t)(blocks / STRIPES);
	c->fresh = blocks;
	for (int i = 0; i < STRIPES; i++) {
		struct stripe *s = &c->s[i];
		uint32_t nh = 1;
		while (nh < per)
			nh <<= 1;
		pthread_mutex_init(&s->lock, NULL);
		s->n = per;
		s->nheads = nh;
		s->data = c->map + (size_t)i * per * BCACHE_BLOCK;
		s->slots = calloc(per, sizeof(*s->slots));
		s->heads = malloc(nh * sizeof(*s->heads));
		if (s->slots == NULL || s->heads == NULL) {
			bcache_free(&c);
			return CFS_ENOMEM;
		}
		memset(s->heads, 0xff, nh * sizeof(*s->heads));
	}
	*out = c;
	return 0;
}

void
bcache_free(struct bcache **cp)
{
	struct bcache *c = *cp;

	if (c == NULL)
		return;
	for (int i = 0; i < STRIPES; i++) {
		if (c->s[i].n == 0)
			continue;
		free(c->s[i].slots);
		free(c->s[i].heads);
		pthread_mutex_destroy(&c->s[i].lock);
	}
	munmap(c->map, c->map_len);
	free(c);
	*cp = NULL;
}

static struct stripe *
stripe_of(struct bcache *c, const struct bcache_key *k, uint64_t *h)
{
	*h = key_hash(k);
	return &c->s[*h % STRIPES];
}

/* The slot holding @k in @s (locked), or NIL. */
static uint32_t
find(struct stripe *s, uint64_t h, const struct bcache_key *k)
{
	uint32_t i = s->heads[(h / STRIPES) & (s->nheads - 1)];

	while (i != NIL && !key_eq(&s->slots[i].k, k))
		i = s->slots[i].next;
	return i;
}

int
bcache_get(struct bcache *c, const struct bcache_key *k, uint32_t off,
	   void *dst, size_t n)
{
	uint64_t h;

	if (c == NULL || n == 0 || off + n > BCACHE_BLOCK)
		return 0;
	uint16_t want = pages_of(off, n);
	struct stripe *s = stripe_of(c, k, &h);
	pthread_mutex_lock(&s->lock);
	uint32_t i = find(s, h, k);
	int hit = i != NIL && (s->slots[i].pages & want) == want &&
		  off + n <= s->slots[i].end;
	if (hit) {
		memcpy(dst, s->data + (size_t)i * BCACHE_BLOCK + off, n);
		s->slots[i].ref = 1;
		s->hits++;
	} else {
		s->misses++;
	}
	pthread_mutex_unlock(&s->lock);
	return hit;
}

/* Take slot @i of @s out of its hash chain. */
static void
unlink_slot(struct stripe *s, uint32_t i)
{
	uint64_t h = key_hash(&s->slots[i].k);
	uint32_t *p = &s->heads[(h / STRIPES) & (s->nheads - 1)];

	while (*p != i)
		p = &s->slots[*p].next;
	*p = s->slots[i].next;
	s->slots[i].pages = 0;
}

/* A slot to fill: a free one, or the first the clock hand finds not hit
 * since its last pass (at most two rounds).  A slot is free only until it
 * is first filled: one that goes is filled again at once. */
static uint32_t
victim(struct bcache *c, struct stripe *s)
{
	for (;;) {
		uint32_t i = s->hand;
		s->hand = s->hand + 1 == s->n ? 0 : s->hand + 1;
		if (s->slots[i].pages == 0) {
			__atomic_sub_fetch(&c->fresh, 1, __ATOMIC_RELAXED);
			return i;
		}
		if (!s->slots[i].ref) {
			unlink_slot(s, i);
			return i;
		}
		s->slots[i].ref = 0;
	}
}

void
bcache_put(struct bcache *c, const struct bcache_key *k, uint32_t off,
	   const void *data, size_t n)
{
	uint64_t h;

	if (c == NULL || n == 0 || off % BCACHE_PAGE != 0 ||
	    off + n > BCACHE_BLOCK)
		return;
	uint16_t add = pages_of(off, n);
	uint32_t end = (off + n) % BCACHE_PAGE ? off + (uint32_t)n
					       : BCACHE_BLOCK;
	struct stripe *s = stripe_of(c, k, &h);
	pthread_mutex_lock(&s->lock);
	uint32_t i = find(s, h, k);
	if (i == NIL) {
		i = victim(c, s);
		uint32_t *head = &s->heads[(h / STRIPES) & (s->nheads - 1)];
		s->slots[i].k = *k;
		s->slots[i].next = *head;
		s->slots[i].ref = 0;
		s->slots[i].end = end;
		*head = i;
	} else {
		if (end < s->slots[i].end)
			s->slots[i].end = end;
		if ((s->slots[i].pages & add) == add) {
			pthread_mutex_unlock(&s->lock);
			return; /* held already */
		}
	}
	memcpy(s->data + (size_t)i * BCACHE_BLOCK + off, data, n);
	s->slots[i].pages |= add;
	s->puts++;
	pthread_mutex_unlock(&s->lock);
}

void
bcache_stats(struct bcache *c, struct bcache_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (c == NULL)
		return;
	for (int i = 0; i < STRIPES; i++) {
		struct stripe *s = &c->s[i];
		pthread_mutex_lock(&s->lock);
		st->hits += s->hits;
		st->misses += s->misses;
		st->puts += s->puts;
		st->slots += s->n;
		pthread_mutex_unlock(&s->lock);
	}
}

int
bcache_has_room(struct bcache *c)
{
	return c != NULL && __atomic_load_n(&c->fresh, __ATOMIC_RELAXED) > 0;
}
