/* recall.c - the leader's recall book (see recall.h). */
#include "meta/recall.h"

#include <stdlib.h>
#include <string.h>

#include "common/wire.h"

#define BUCKETS 256 /* power of two */
/* Notes kept per holder: more are dropped (and noted again on retry). */
#define NOTES_MAX (4 * CFS_LEASE_RECALL_MAX)

struct holder {
	struct holder *next;
	uint64_t id;
	uint64_t *inos;
	size_t n, cap;
	void *watch;
	uint64_t until;
};

struct recall_book {
	struct holder *tab[BUCKETS];
	size_t count;
};

static struct holder **
slot(struct recall_book *b, uint64_t id)
{
	struct holder **p =
		&b->tab[(id * 0x9E3779B97F4A7C15ull >> 40) & (BUCKETS - 1)];
	while (*p && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

static struct holder *
get(struct recall_book *b, uint64_t id)
{
	struct holder **p = slot(b, id);
	if (*p == NULL) {
		*p = calloc(1, sizeof(**p));
		if (*p == NULL)
			return NULL;
		(*p)->id = id;
		b->count++;
	}
	return *p;
}

/* Free the holder at *p if it has nothing left. */
static void
tidy(struct recall_book *b, struct holder **p)
{
	struct holder *h = *p;
	if (h == NULL || h->n > 0 || h->watch != NULL)
		return;
	*p = h->next;
	free(h->inos);
	free(h);
	b->count--;
}

struct recall_book *
recall_new(void)
{
	return calloc(1, sizeof(struct recall_book));
}

void
recall_free(struct recall_book **bp, void (*fn)(void *watch, void *data),
	    void *data)
{
	struct recall_book *b = *bp;

	if (b == NULL)
		return;
	for (unsigned i = 0; i < BUCKETS; i++)
		while (b->tab[i]) {
			struct holder *h = b->tab[i];
			b->tab[i] = h->next;
			if (h->watch != NULL && fn != NULL)
				fn(h->watch, data);
			free(h->inos);
			free(h);
		}
	free(b);
	*bp = NULL;
}

void *
recall_note(struct recall_book *b, uint64_t holder, uint64_t ino)
{
	struct holder *h = get(b, holder);
	void *w;

	if (h == NULL)
		return NULL;
	for (size_t i = 0; i < h->n; i++)
		if (h->inos[i] == ino)
			goto wake;
	if (h->n == h->cap && h->cap < NOTES_MAX) {
		size_t cap = h->cap ? h->cap * 2 : 8;
		uint64_t *a = realloc(h->inos, cap * sizeof(*a));
		if (a != NULL) {
			h->inos = a;
			h->cap = cap;
		}
	}
	if (h->n < h->cap)
		h->inos[h->n++] = ino;
wake:
	w = h->watch;
	h->watch = NULL;
	tidy(b, slot(b, holder));
	return w;
}

size_t
recall_take(struct recall_book *b, uint64_t holder, uint64_t *inos,
	    size_t max)
{
	struct holder **p = slot(b, holder), *h = *p;

	if (h == NULL)
		return 0;
	size_t k = h->n < max ? h->n : max;
	/* (a holder with only a watch parked has no notes, and h->inos may
	 * be NULL: memcpy from NULL is undefined even for 0 bytes) */
	if (k > 0) {
		memcpy(inos, h->inos, k * sizeof(*inos));
		memmove(h->inos, h->inos + k, (h->n - k) * sizeof(*inos));
		h->n -= k;
	}
	tidy(b, p);
	return k;
}

size_t
recall_pending(const struct recall_book *b, uint64_t holder)
{
	struct holder **p = slot((struct recall_book *)b, holder);
	return *p ? (*p)->n : 0;
}

void *
recall_park(struct recall_book *b, uint64_t holder, void *watch,
	    uint64_t until)
{
	struct holder *h = get(b, holder);

	if (h == NULL)
		return watch;
	void *old = h->watch;
	h->watch = watch;
	h->until = until;
	return old;
}

void *
recall_due(struct recall_book *b, uint64_t now)
{
	for (unsigned i = 0; i < BUCKETS; i++)
		for (struct holder **p = &b->tab[i]; *p; p = &(*p)->next) {
			struct holder *h = *p;
			if (h->watch != NULL && now >= h->until) {
				void *w = h->watch;
				h->watch = NULL;
				tidy(b, p);
				return w;
			}
		}
	return NULL;
}

size_t
recall_count(const struct recall_book *b)
{
	return b->count;
}
