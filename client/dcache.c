/* dcache.c - a mount's cache of names and the attributes they lead to, bounded, with change stamps. */
#include "client/dcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"

struct dent {
	uint64_t parent;
	uint64_t stamp; /* the answer was asked for at this stamp */
	uint64_t used;  /* for replacing the least recently used of a set */
	struct wire_attr attr;
	uint8_t len;    /* 0: the slot is free */
	char name[DCACHE_NAME_MAX + 1];
};

/* Attributes by inode. */
struct aent {
	uint64_t stamp;
	struct wire_attr attr; /* attr.ino 0: free */
};

struct dcache {
	pthread_mutex_t lock;
	struct aent *attrs; /* slots / 4 */
	unsigned slots; /* a power of two; 0: keep nothing */
	struct dent *ents;
	/* the stamp of the last change of any inode hashing to [i], and of
	 * any name hashing to [i] */
	uint64_t *chg_ino, *chg_name;
	uint64_t clock;   /* the last stamp given to a change */
	uint64_t cleared; /* the stamp of the last dcache_clear */
	/* the stamp of the last removal of a name whose inode was not
	 * known: every entry that may have been that inode's goes (its
	 * nlink and ctime changed): files of several links, by inode */
	uint64_t links_cleared;
	uint64_t used;
	uint64_t complete[DCACHE_DIRS]; /* complete directories, hashed */
	struct dcache_stats st;
};

int
dcache_new(struct dcache **out, unsigned slots)
{
	struct dcache *d = calloc(1, sizeof(*d));
	unsigned n = DCACHE_WAYS;

	*out = NULL;
	if (d == NULL)
		return CFS_ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	if (slots > 0) {
		while (n < slots && n < (1u << 30))
			n <<= 1;
		d->slots = n;
		d->ents = calloc(n, sizeof(*d->ents));
		d->chg_ino = calloc(n, sizeof(*d->chg_ino));
		d->chg_name = calloc(n, sizeof(*d->chg_name));
		d->attrs = calloc(n / 4, sizeof(*d->attrs));
		if (d->ents == NULL || d->chg_ino == NULL ||
		    d->chg_name == NULL || d->attrs == NULL) {
			dcache_free(&d);
			return CFS_ENOMEM;
		}
	}
	d->st.slots = d->slots;
	*out = d;
	return 0;
}

void
dcache_free(struct dcache **dp)
{
	struct dcache *d = *dp;

	if (d == NULL)
		return;
	free(d->ents);
	free(d->attrs);
	free(d->chg_ino);
	free(d->chg_name);
	pthread_mutex_destroy(&d->lock);
	free(d);
	*dp = NULL;
}

/* FNV-1a over the parent and the name, then a final mix: sets are picked
 * by the low bits. */
static uint64_t
name_hash(uint64_t parent, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (int i = 0; i < 8; i++) {
		h ^= (parent >> (8 * i)) & 0xff;
		h *= 0x100000001b3ull;
	}
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 29);
}

static uint64_t
ino_hash(uint64_t ino)
{
	ino *= 0x9e3779b97f4a7c15ull;
	return ino ^ (ino >> 32);
}

static uint64_t *
ino_chg(struct dcache *d, uint64_t ino)
{
	return &d->chg_ino[ino_hash(ino) & (d->slots - 1)];
}

/* @dir may have names the cache does not hold.  (Lock held.) */
static void
incomplete(struct dcache *d, uint64_t dir)
{
	uint64_t *c = &d->complete[ino_hash(dir) % DCACHE_DIRS];

	if (*c == dir)
		*c = 0;
}

/* Could @a be the attributes, under another name, of an inode whose
 * name was removed unseen?  Not a directory's (one name each) nor a file
 * of one link (that name was its only one). */
static int
other_links(const struct wire_attr *a)
{
	return !S_ISDIR(a->mode) && a->nlink > 1;
}

/* Is @e still true?  (Lock held.) */
static int
fresh(struct dcache *d, const struct dent *e, uint64_t h)
{
	return e->stamp >= d->cleared && e->stamp >= *ino_chg(d, e->attr.ino) &&
	       e->stamp >= d->chg_name[h & (d->slots - 1)] &&
	       (e->stamp >= d->links_cleared || !other_links(&e->attr));
}

/* The slot of @name in @parent in its set, or NULL.  (Lock held.) */
static struct dent *
find(struct dcache *d, uint64_t h, uint64_t parent, const char *name,
     size_t len)
{
	struct dent *set = &d->ents[(h & (d->slots / DCACHE_WAYS - 1)) *
				    DCACHE_WAYS];

	for (int i = 0; i < DCACHE_WAYS; i++)
		if (set[i].len == len && set[i].parent == parent &&
		    memcmp(set[i].name, name, len) == 0)
			return &set[i];
	return NULL;
}

uint64_t
dcache_stamp(struct dcache *d)
{
	pthread_mutex_lock(&d->lock);
	uint64_t s = d->clock;
	pthread_mutex_unlock(&d->lock);
	return s;
}

void
dcache_dir_complete(struct dcache *d, uint64_t dir)
{
	if (d->slots == 0)
		return;
	pthread_mutex_lock(&d->lock);
	d->complete[ino_hash(dir) % DCACHE_DIRS] = dir;
	pthread_mutex_unlock(&d->lock);
}

void
dcache_dir_incomplete(struct dcache *d, uint64_t dir)
{
	if (d->slots == 0)
		return;
	pthread_mutex_lock(&d->lock);
	incomplete(d, dir);
	pthread_mutex_unlock(&d->lock);
}

int
dcache_absent(struct dcache *d, uint64_t dir, const char *name)
{
	size_t len = strlen(name);
	int absent;

	if (d->slots == 0 || len == 0 || len > DCACHE_NAME_MAX)
		return 0;
	uint64_t h = name_hash(dir, name, len);
	pthread_mutex_lock(&d->lock);
	absent = d->complete[ino_hash(dir) % DCACHE_DIRS] == dir &&
		 find(d, h, dir, name, len) == NULL;
	if (absent)
		d->st.absent++;
	pthread_mutex_unlock(&d->lock);
	return absent;
}

void
dcache_put(struct dcache *d, uint64_t stamp, uint64_t parent,
	   const char *name, const struct wire_attr *a)
{
	size_t len = strlen(name);

	if (d->slots == 0 || len == 0 || len > DCACHE_NAME_MAX)
		return;
	uint64_t h = name_hash(parent, name, len);
	pthread_mutex_lock(&d->lock);
	if (stamp < d->cleared || stamp < *ino_chg(d, a->ino) ||
	    stamp < d->chg_name[h & (d->slots - 1)] ||
	    (stamp < d->links_cleared && other_links(a))) {
		incomplete(d, parent);
		d->st.refused++;
		pthread_mutex_unlock(&d->lock);
		return;
	}
	struct dent *e = find(d, h, parent, name, len);
	if (e == NULL) {
		/* a free slot, else the least recently used */
		struct dent *set = &d->ents[(h & (d->slots / DCACHE_WAYS - 1)) *
					    DCACHE_WAYS];
		e = &set[0];
		for (int i = 0; i < DCACHE_WAYS && e->len != 0; i++)
			if (set[i].len == 0 || set[i].used < e->used)
				e = &set[i];
		if (e->len != 0)
			incomplete(d, e->parent); /* its name goes */
	}
	e->parent = parent;
	e->stamp = stamp;
	e->used = ++d->used;
	e->attr = *a;
	e->len = (uint8_t)len;
	memcpy(e->name, name, len);
	e->name[len] = '\0';
	d->st.puts++;
	pthread_mutex_unlock(&d->lock);
}

int
dcache_get(struct dcache *d, uint64_t parent, const char *name,
	   struct wire_attr *a)
{
	size_t len = strlen(name);
	int hit = 0;

	if (d->slots == 0 || len == 0 || len > DCACHE_NAME_MAX)
		return 0;
	uint64_t h = name_hash(parent, name, len);
	pthread_mutex_lock(&d->lock);
	struct dent *e = find(d, h, parent, name, len);
	if (e != NULL && !fresh(d, e, h)) {
		e->len = 0; /* stale: free the slot (the name may be there) */
		incomplete(d, parent);
	} else if (e != NULL) {
		e->used = ++d->used;
		*a = e->attr;
		hit = 1;
	}
	if (hit)
		d->st.hits++;
	else
		d->st.misses++;
	pthread_mutex_unlock(&d->lock);
	return hit;
}

void
dcache_changed(struct dcache *d, uint64_t ino)
{
	if (d->slots == 0)
		return;
	pthread_mutex_lock(&d->lock);
	*ino_chg(d, ino) = ++d->clock;
	pthread_mutex_unlock(&d->lock);
}

static struct aent *
aent_of(struct dcache *d, uint64_t ino)
{
	return &d->attrs[ino_hash(ino) & (d->slots / 4 - 1)];
}

void
dcache_attr_put(struct dcache *d, uint64_t stamp, const struct wire_attr *a)
{
	if (d->slots == 0 || a->ino == 0)
		return;
	pthread_mutex_lock(&d->lock);
	if (stamp >= d->cleared && stamp >= d->links_cleared &&
	    stamp >= *ino_chg(d, a->ino)) {
		struct aent *e = aent_of(d, a->ino);
		e->stamp = stamp;
		e->attr = *a;
	}
	pthread_mutex_unlock(&d->lock);
}

int
dcache_attr_get(struct dcache *d, uint64_t ino, struct wire_attr *a)
{
	int hit = 0;

	if (d->slots == 0 || ino == 0)
		return 0;
	pthread_mutex_lock(&d->lock);
	struct aent *e = aent_of(d, ino);
	if (e->attr.ino == ino && e->stamp >= d->cleared &&
	    e->stamp >= d->links_cleared && e->stamp >= *ino_chg(d, ino)) {
		*a = e->attr;
		hit = 1;
		d->st.attr_hits++;
	}
	pthread_mutex_unlock(&d->lock);
	return hit;
}

void
dcache_changed_to(struct dcache *d, uint64_t since, const struct wire_attr *a)
{
	if (d->slots == 0)
		return;
	pthread_mutex_lock(&d->lock);
	uint64_t *c = ino_chg(d, a->ino);
	int only_ours = since >= d->cleared && since >= d->links_cleared &&
			since >= *c;
	*c = ++d->clock;
	if (only_ours) {
		struct aent *e = aent_of(d, a->ino);
		e->stamp = d->clock;
		e->attr = *a;
	}
	pthread_mutex_unlock(&d->lock);
}

void
dcache_remove(struct dcache *d, uint64_t parent, const char *name)
{
	size_t len = strlen(name);

	if (d->slots == 0)
		return;
	pthread_mutex_lock(&d->lock);
	if (len == 0 || len > DCACHE_NAME_MAX) {
		/* never cached itself, but the inode it led to may be, under
		 * another name (nlink and ctime change) */
		d->links_cleared = ++d->clock;
	} else {
		uint64_t h = name_hash(parent, name, len);
		struct dent *e = find(d, h, parent, name, len);
		int known = e != NULL && fresh(d, e, h);
		d->chg_name[h & (d->slots - 1)] = ++d->clock;
		if (known)
			*ino_chg(d, e->attr.ino) = d->clock;
		else if (d->complete[ino_hash(parent) % DCACHE_DIRS] != parent)
			d->links_cleared = d->clock; /* which inode: not known */
		/* (in a complete directory an uncached name was not there) */
		if (e != NULL)
			e->len = 0;
	}
	pthread_mutex_unlock(&d->lock);
}

void
dcache_clear(struct dcache *d)
{
	if (d->slots == 0)
		return;
	pthread_mutex_lock(&d->lock);
	d->cleared = ++d->clock;
	memset(d->complete, 0, sizeof(d->complete));
	pthread_mutex_unlock(&d->lock);
}

void
dcache_stats(struct dcache *d, struct dcache_stats *st)
{
	pthread_mutex_lock(&d->lock);
	*st = d->st;
	pthread_mutex_unlock(&d->lock);
}
