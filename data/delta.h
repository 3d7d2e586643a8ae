/* delta.h - inside the fragment store: deltas and their bases: handing a deleted version's file over to the deltas built on it, rebasing, compaction. */
#ifndef CFS_DATA_DELTA_H
#define CFS_DATA_DELTA_H

/*
 * Internal to the store (data/store.h "Deltas" and docs/on-disk-format.md
 * say what a delta is).  This module also defines store_compact() of
 * data/store.h.  Every call here writes or deletes versions of one
 * fragment: the caller serialises them per fragment (data/store.h
 * "Threads"); readers of any version may run meanwhile and always read
 * the same bytes.
 */

#include "data/store.h"

/*
 * Hand the file of replica @x, which is being deleted, to the deltas
 * built on it (the newest takes a whole file over, the others are
 * rebased).  *@gone: its file was taken over, nothing is left to unlink.
 * 0 with *@gone 0 when no delta is built on @x.
 */
int delta_absorb(struct store *s, const struct store_key *x, int *gone,
		 char *errmsg);

/*
 * Make replica @k, the committed version of its fragment (the caller
 * promises it, as for store_compact), a whole file if it is a delta:
 * store_compact() with no threshold (the take-over writes only its own
 * blocks into its base's file), or, where that does not apply (its base
 * is itself a delta, which only a crash leaves), a rebase that copies
 * every block into a new file.  Either way the new file is fsync'd
 * before it takes the name, and the directory after.  0 if it was whole.
 */
int delta_make_whole(struct store *s, const struct store_key *k,
		     char *errmsg);

#endif /* CFS_DATA_DELTA_H */
