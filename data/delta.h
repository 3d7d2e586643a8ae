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

#endif /* CFS_DATA_DELTA_H */
