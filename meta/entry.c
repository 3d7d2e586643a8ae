/* entry.c - encode and decode cfs-meta's Raft log entries (layout in entry.h). */
#include "meta/entry.h"

#include <raft.h>
#include <string.h>

#include "common/error.h"

#define PAD8(n) (((n) + 7u) & ~(size_t)7u)

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

int
entry_begin(struct entry_builder *b, int64_t now_ns)
{
	b->cap = 4096;
	b->buf = raft_malloc(b->cap);
	if (b->buf == NULL)
		return CFS_ENOMEM;
	memset(b->buf, 0, ENTRY_HEADER_SIZE);
	put32(b->buf, ENTRY_MAGIC);
	b->buf[4] = ENTRY_VERSION;
	put32(b->buf + 16, (uint32_t)now_ns);
	put32(b->buf + 20, (uint32_t)((uint64_t)now_ns >> 32));
	b->len = ENTRY_HEADER_SIZE;
	b->count = 0;
	return 0;
}

int
entry_add(struct entry_builder *b, const uint8_t *frame, size_t len)
{
	size_t need = b->len + 8 + PAD8(len);

	if (need > ENTRY_MAX_SIZE)
		return CFS_TOOBIG;
	if (need > b->cap) {
		size_t cap = b->cap;
		while (cap < need)
			cap *= 2;
		uint8_t *nb = raft_realloc(b->buf, cap);
		if (nb == NULL)
			return CFS_ENOMEM;
		b->buf = nb;
		b->cap = cap;
	}
	put32(b->buf + b->len, (uint32_t)len);
	put32(b->buf + b->len + 4, 0);
	memcpy(b->buf + b->len + 8, frame, len);
	memset(b->buf + b->len + 8 + len, 0, PAD8(len) - len);
	b->len = need;
	b->count++;
	return 0;
}

void
entry_finish(struct entry_builder *b, void **base, size_t *len)
{
	put32(b->buf + 8, b->count);
	*base = b->buf;
	*len = b->len;
	b->buf = NULL;
}

void
entry_discard(struct entry_builder *b)
{
	raft_free(b->buf);
	b->buf = NULL;
}

int
entry_open(struct entry_reader *r, const void *buf, size_t len, char *errmsg)
{
	const uint8_t *p = buf;

	if (len < ENTRY_HEADER_SIZE || len % 8 != 0)
		return cfs_fail(errmsg, CFS_CORRUPT,
				"log entry of %zu bytes: not a padded entry",
				len);
	if (get32(p) != ENTRY_MAGIC)
		return cfs_fail(errmsg, CFS_CORRUPT,
				"log entry: bad magic 0x%08x", get32(p));
	if (p[4] != ENTRY_VERSION || p[5] != 0)
		return cfs_fail(errmsg, CFS_CORRUPT,
				"log entry: version %u is not supported",
				(unsigned)p[4] | (unsigned)p[5] << 8);
	r->p = p + ENTRY_HEADER_SIZE;
	r->end = p + len;
	r->left = get32(p + 8);
	r->now_ns = (int64_t)get64(p + 16);
	return 0;
}

int
entry_next(struct entry_reader *r, const uint8_t **frame, size_t *len,
	   char *errmsg)
{
	if (r->left == 0)
		return 0;
	if ((size_t)(r->end - r->p) < 8) {
		cfs_fail(errmsg, CFS_CORRUPT,
			 "log entry: %u records missing", r->left);
		return -CFS_CORRUPT;
	}
	uint32_t n = get32(r->p);
	if (PAD8(n) > (size_t)(r->end - r->p) - 8) {
		cfs_fail(errmsg, CFS_CORRUPT,
			 "log entry: record of %u bytes overruns the entry", n);
		return -CFS_CORRUPT;
	}
	*frame = r->p + 8;
	*len = n;
	r->p += 8 + PAD8(n);
	r->left--;
	return 1;
}
