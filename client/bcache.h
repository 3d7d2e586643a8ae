/* bcache.h - a mount's cache of file data: 64 KiB blocks of committed fragment versions, bounded, shared by its threads. */
#ifndef CFS_CLIENT_BCACHE_H
#define CFS_CLIENT_BCACHE_H

/*
 * What keeps a block true: it is named by the fragment version it was read
 * from (inode, fragment index, version, and the version's CRC as the
 * leader gave it), and a committed version's bytes never change.  Inode
 * numbers and versions are never reused (meta/ns.c, meta/dmap.c: both
 * come from counters in the replicated state).  So a block is never stale
 * by itself; a read is only ever as current as the version it asked for,
 * which the caller knows from frag_locate or from locations it keeps under
 * a lease (client/fileio.h).  A truncation may cut a version's readable
 * length; the caller reads only below it, so bytes of a block beyond it
 * are never served.  Nothing has to be invalidated when a file changes:
 * blocks of replaced versions are simply no longer asked for, and the
 * clock hand takes their slots back.
 *
 * A slot holds one 64 KiB block (the node's check unit, STORE_BLOCK_SIZE)
 * in pages of 4 KiB, each present or not: once the cache is full, a 4 KiB
 * read that missed fetches and keeps just its page (fetching the whole
 * block for it cost random readers 40 % of their IOPS when the cache was
 * too small to answer them); while it has never-filled room
 * (bcache_has_room), fetching the whole block costs a node nothing more
 * (it checks whole blocks) and fills the cache 16 times faster.
 *
 * Memory: @bytes / 64 KiB slots in one anonymous mapping, touched only as
 * slots are first filled, so an idle mount costs little.  Replacement is
 * CLOCK (a slot hit since the hand last passed gets another round).  The
 * slots are split into 16 stripes with their own locks, chosen by a hash
 * of the key.  Thread safety: every call is safe from any thread.
 */

#include <stddef.h>
#include <stdint.h>

#define BCACHE_BLOCK 65536u /* STORE_BLOCK_SIZE */
#define BCACHE_PAGE 4096u

struct bcache;

struct bcache_key {
	uint64_t ino, idx, version;
	uint32_t crc;   /* of the version, as frag_locate answered */
	uint32_t block; /* within the fragment: bytes [block * 64 KiB, ...) */
	/* patches this mount made in place to the version since it opened
	 * it (0: none, or committed as located): a version patched in place
	 * changes under its name, and its crc may come back to an earlier
	 * value with other bytes (docs/data-path.md "Patching in place") */
	uint32_t gen;
};

struct bcache_stats {
	uint64_t hits, misses; /* bcache_get answers */
	uint64_t puts;         /* bcache_put calls that kept something */
	uint64_t slots;        /* capacity in blocks */
};

/* A cache of @bytes (rounded down to whole blocks, a multiple of 16;
 * less than 16 blocks, 1 MiB: *out is NULL, and every call below accepts
 * a NULL cache and keeps nothing).  CFS_ENOMEM if the address space
 * cannot be had. */
int bcache_new(struct bcache **out, uint64_t bytes);

/* NULL-safe; sets *c to NULL. */
void bcache_free(struct bcache **c);

/* If bytes [@off, @off + @n) of block @k are cached (@off + @n <=
 * BCACHE_BLOCK), copy them to @dst: 1.  Else 0. */
int bcache_get(struct bcache *c, const struct bcache_key *k, uint32_t off,
	       void *dst, size_t n);

/* Keep bytes [@off, @off + @n) of block @k: @off is a multiple of
 * BCACHE_PAGE, @off + @n <= BCACHE_BLOCK.  Every page the range covers
 * whole is kept; a last page it covers only in part is kept too, as
 * ending there: the caller promises the version's readable bytes end
 * at @off + @n. */
void bcache_put(struct bcache *c, const struct bcache_key *k, uint32_t off,
		const void *data, size_t n);

void bcache_stats(struct bcache *c, struct bcache_stats *st);

/* 1 while some slots were never filled: keeping more costs no block
 * anyone uses (the caller may read more than it was asked for). */
int bcache_has_room(struct bcache *c);

/* The default size for a mount: 1/16 of physical memory, at most 4 GiB
 * and at least 64 MiB. */
uint64_t bcache_default_bytes(void);

#endif /* CFS_CLIENT_BCACHE_H */
