/* replica.h - inside the fragment store: one replica file's on-disk format (header, CRC table, delta map) and reading it through its chain of bases. */
#ifndef CFS_DATA_REPLICA_H
#define CFS_DATA_REPLICA_H

/*
 * Internal to the store: included by data/store.c, replica.c and delta.c
 * only; the store's API and the file layout are data/store.h, the byte
 * format is docs/on-disk-format.md.  Errors are as in data/store.h: 0 or a
 * CFS_* code with @errmsg (may be NULL) starting with the replica's path.
 *
 * Threads: a struct replica is used by one thread; opening and reading a
 * replica may run concurrently with anything (a delta whose base is being
 * handed over is reopened: replica_open).
 */

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "data/store.h"

#define HDR STORE_HEADER_SIZE
#define BS STORE_BLOCK_SIZE
/* header_crc covers the bytes before it: [0, 44) in format 1, [0, 52) in
 * format 2, which puts the stamp at 44. */
#define HDR_CRC_OFF_V1 44
#define HDR_STAMP_OFF 44
#define HDR_CRC_OFF 52
/* Format 3 (a delta): the base version at 52, the bitmap of the blocks
 * this file holds from 60, header_crc over [0, 4092) at 4092. */
#define HDR_BASE_OFF 52
#define HDR_MAP_OFF 60
#define HDR_CRC_OFF_DELTA (HDR - 4)
#define MAP_BYTES (HDR_CRC_OFF_DELTA - HDR_MAP_OFF)

/* What a header says (header_encode, header_check). */
struct hdr {
	unsigned format;
	uint64_t length;
	uint32_t data_crc;
	uint64_t stamp;		/* 0 in format 1 */
	uint64_t base_version;	/* format 3 only */
	uint8_t map[MAP_BYTES]; /* format 3 only: blocks held in this file */
};

/* Deepest chain of bases a reader follows (writes make depth 1; handing
 * a deleted base over makes 2 for a moment, more only after crashes). */
#define CHAIN_MAX 8

/* One base in a delta's chain: a delta (its map says which blocks it
 * holds) or, last, a whole file (holds every block left). */
struct level {
	int fd;
	int whole;
	uint64_t version;
	uint8_t map[MAP_BYTES];
};

/* A replica open for reading, its header and CRC table checked.  A delta
 * (format 3) also holds its chain of bases open: each block not in its
 * own map is read from the first base that holds it, at the same offset,
 * and checked against this replica's own CRC table. */
struct replica {
	int fd;
	int nlev;	   /* bases in lev[] */
	struct level *lev; /* malloc'd, CHAIN_MAX, for a delta */
	struct hdr h;
	uint64_t length;
	uint32_t data_crc;
	uint64_t stamp; /* 0 for a format 1 file */
	uint64_t nblocks;
	uint32_t *crcs;
	char path[PATH_MAX];
};

static inline void
put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t
get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline uint64_t
nblocks_of(uint64_t length)
{
	return (length + BS - 1) / BS;
}

static inline size_t
block_len(uint64_t length, uint64_t b)
{
	uint64_t left = length - b * BS;
	return left < BS ? (size_t)left : BS;
}

static inline int
map_get(const uint8_t *map, uint64_t b)
{
	return (map[b / 8] >> (b % 8)) & 1;
}

static inline void
map_set(uint8_t *map, uint64_t b)
{
	map[b / 8] |= (uint8_t)(1u << (b % 8));
}

/* pread until @len bytes or end of file: bytes read, or -1 with errno. */
ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off);

/* pwrite all of @buf: 0, or -1 with errno. */
int pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

/* The header of replica @k as @f says, in f->format (STORE_FORMAT_V1 only
 * to check an old file: it has no stamp), into @h (HDR bytes). */
void header_encode(uint8_t *h, const struct store_key *k, const struct hdr *f);

/* Check header @h of replica @k at @path into *@f; CFS_CORRUPT saying what
 * is wrong.  Formats 1 (no stamp: stamp 0), 2 and 3 (a delta) are read.
 * Past magic, format and CRC, @h must equal the header that this code
 * would write for @k in that format with the fields @h holds (so the key,
 * sizes, map bits past the last block and the zero tail are checked). */
int header_check(const uint8_t *h, const struct store_key *k, const char *path,
		 struct hdr *f, char *errmsg);

/* Read and check the header of replica @k (not its data) into *@f.
 * CFS_ENOENT if there is no such file. */
int replica_read_header(struct store *s, const struct store_key *k,
			struct hdr *f, char *errmsg);

/* Open replica @k and check its header, size and CRC table (a delta: and
 * open its chain of bases).  On success the caller closes @r with
 * replica_close(); on failure @r holds nothing to close.  CFS_ENOENT if
 * there is no such replica. */
int replica_open(struct store *s, const struct store_key *k, struct replica *r,
		 char *errmsg);
/* replica_open with r->fd open for writing too (a patch in place writes
 * the file it checked, data/patch.c). */
int replica_open_rw(struct store *s, const struct store_key *k,
		    struct replica *r, char *errmsg);

/* Close what @r holds (idempotent). */
void replica_close(struct replica *r);

/* Read block @b of @r into @blk (BS bytes) and check its CRC; *@len is
 * the block's length.  CFS_CORRUPT names the block (and whether it was
 * read from a base). */
int replica_block(struct replica *r, uint64_t b, uint8_t *blk, size_t *len,
		  char *errmsg);

/* Check block @b of @r, @n bytes of it read into @blk (as pread_full
 * returned: -1 with errno for a failed read) against its CRC.  0 or
 * CFS_CORRUPT (truncated, or the CRC), or the read's error, naming the
 * block as replica_block does. */
int replica_check_block(const struct replica *r, uint64_t b,
			const uint8_t *blk, ssize_t n, char *errmsg);

/* The version of the whole file at the end of @r's chain (@r's own if it
 * is whole). */
uint64_t replica_bottom(const struct replica *r, const struct store_key *k);

/* The file that holds block @b of @r, and whether it is the whole file at
 * the end of the chain. */
int replica_fd(const struct replica *r, uint64_t b, int *bottom);

#endif /* CFS_DATA_REPLICA_H */
