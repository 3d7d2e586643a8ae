/* dcache.h - a mount's cache of names and the attributes they lead to, bounded, with change stamps. */
#ifndef CFS_CLIENT_DCACHE_H
#define CFS_CLIENT_DCACHE_H

/*
 * cfs-fuse answers a lookup from here when the mount holds a lease on the
 * inode the name leads to (the caller checks the lease: docs/leases.md
 * "What cfs-fuse caches").  The kernel keeps names and attributes too, but
 * drops them under memory pressure (and `echo 3 > drop_caches`); then
 * every path walk asks the daemon again, and without this cache the daemon
 * asks the metadata leader.
 *
 * What keeps an entry true:
 *  - another mount cannot change the inode, nor the name that leads to it,
 *    without recalling this mount's lease on the inode first, and the
 *    recall calls dcache_changed();
 *  - this mount's own changes call dcache_changed() for every inode whose
 *    attributes they may change (the inode, the parents) and
 *    dcache_remove() for every name they remove or rename.
 *
 * A reply from the metadata service may arrive after a change of this
 * mount that it does not show yet (a lookup racing an unlink).  So the
 * caller takes a stamp (dcache_stamp) before it asks, and dcache_put
 * refuses what any change since then may have made stale.  Changes are
 * recorded in two fixed arrays of stamps, one indexed by a hash of the
 * inode, one by a hash of (parent, name): a collision only refuses or
 * drops an entry that was still good.
 *
 * Memory: @slots entries of DCACHE_NAME_MAX-byte names (longer names are
 * not cached), in sets of DCACHE_WAYS, least recently used replaced; about
 * 190 bytes an entry.  Thread safety: every call is safe from any thread.
 */

#include <stdint.h>

#include "common/wire.h"

#define DCACHE_NAME_MAX 63 /* longer names are not cached */
#define DCACHE_WAYS 8

struct dcache;

/* A cache of at least @slots entries (rounded up to a power of two, at
 * least DCACHE_WAYS); 0 makes a cache that keeps nothing.  CFS_ENOMEM. */
int dcache_new(struct dcache **out, unsigned slots);

/* NULL-safe; sets *d to NULL. */
void dcache_free(struct dcache **d);

/* The stamp to pass to dcache_put for an answer asked for from now on. */
uint64_t dcache_stamp(struct dcache *d);

/* @name in @parent leads to @a (as the metadata service answered a
 * request sent after dcache_stamp() returned @stamp).  Not kept if a
 * change since then may make it stale, or if @name is too long. */
void dcache_put(struct dcache *d, uint64_t stamp, uint64_t parent,
		const char *name, const struct wire_attr *a);

/* 1 and *a if @name in @parent is cached, else 0. */
int dcache_get(struct dcache *d, uint64_t parent, const char *name,
	       struct wire_attr *a);

/* @ino's attributes changed, or may have: forget them. */
void dcache_changed(struct dcache *d, uint64_t ino);

/*
 * Attributes by inode, for getattr (slots / 4 of them, hashed; the same
 * stamps keep them true).  dcache_changed_to: this mount changed @a->ino
 * into @a (as the caller can tell from the reply, e.g. a directory's new
 * times after a create in it); kept only if nothing else changed it since
 * @since, taken before the change was asked for: else as dcache_changed.
 */
void dcache_attr_put(struct dcache *d, uint64_t stamp,
		     const struct wire_attr *a);
int dcache_attr_get(struct dcache *d, uint64_t ino, struct wire_attr *a);
void dcache_changed_to(struct dcache *d, uint64_t since,
		       const struct wire_attr *a);

/* @name in @parent no longer leads where it did (unlink, rmdir, rename):
 * forget it and the attributes of the inode it led to.  If that inode is
 * not known (the name was not cached, or stale) and @parent is not
 * complete, forget what may be its attributes under other names: files of
 * several links, and every attribute kept by inode. */
void dcache_remove(struct dcache *d, uint64_t parent, const char *name);

/* Forget everything (every lease was dropped). */
void dcache_clear(struct dcache *d);

/*
 * Complete directories: the cache holds every name of @dir, so a name
 * not found is absent (a lookup answered "no such file" without asking).
 * The caller marks a directory complete when it made it (empty) under a
 * lease, and must hold a lease on it whenever it asks dcache_absent:
 * another mount adds a name only after recalling that lease.  The cache
 * itself forgets completeness when it lets go of a name of @dir that may
 * still exist (replaced, refused, stale) and on dcache_clear; the caller
 * when it adds a name without dcache_put (rename, link, symlink) and when
 * its lease on @dir goes or comes back.  At most DCACHE_DIRS directories
 * are complete at once (hashed; a collision forgets one).
 */
#define DCACHE_DIRS 1024
void dcache_dir_complete(struct dcache *d, uint64_t dir);
void dcache_dir_incomplete(struct dcache *d, uint64_t dir);

/* 1 if @dir is complete and @name is not in it; 0 if not known. */
int dcache_absent(struct dcache *d, uint64_t dir, const char *name);

struct dcache_stats {
	uint64_t hits, misses, puts, refused, absent, attr_hits;
	unsigned slots;
};
void dcache_stats(struct dcache *d, struct dcache_stats *st);

#endif /* CFS_CLIENT_DCACHE_H */
