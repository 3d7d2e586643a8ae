/* recall.h - the leader's recall book: which mounts must give up which leases, and their parked lease_watch requests. */
#ifndef CFS_META_RECALL_H
#define CFS_META_RECALL_H

/*
 * When a request is refused because another mount's lease is in the way
 * (meta/lease.h), the leader notes (holder, inode) here; the holder's
 * lease_watch takes the notes (docs/leases.md "Recall").  The book is in
 * memory on the leader only: a new leader starts empty, and the refused
 * requests, which their clients retry, note the recalls again.
 *
 * A lease_watch that finds nothing is parked (at most one per holder; a
 * newer one replaces it) until a note arrives or its time is up.  Parked
 * watches are opaque pointers owned by the caller: the book only hands
 * them back.  No I/O, no clock (time is passed in): tests/unit/meta/
 * test_lease.c drives it.  Not thread-safe (the leader's loop thread).
 */

#include <stddef.h>
#include <stdint.h>

struct recall_book;

/* NULL when out of memory. */
struct recall_book *recall_new(void);

/* Free the book and every note; parked watches go to @fn first (if not
 * NULL).  Sets *b to NULL; NULL-safe. */
void recall_free(struct recall_book **b, void (*fn)(void *watch, void *data),
		 void *data);

/* Note that @holder must give up its lease on @ino (once, however often
 * noted).  Returns the holder's parked watch, now unparked, for the caller
 * to answer at once, or NULL.  A note past the per-holder limit is
 * dropped: the refused request is retried and notes it again. */
void *recall_note(struct recall_book *b, uint64_t holder, uint64_t ino);

/* Move up to @max of @holder's notes to @inos, oldest first; how many. */
size_t recall_take(struct recall_book *b, uint64_t holder, uint64_t *inos,
		   size_t max);

/* How many recalls are noted for @holder. */
size_t recall_pending(const struct recall_book *b, uint64_t holder);

/* Park @watch for @holder until time @until.  Returns the watch it
 * replaces (the caller answers it empty) or NULL; on out of memory returns
 * @watch itself (not parked). */
void *recall_park(struct recall_book *b, uint64_t holder, void *watch,
		  uint64_t until);

/* One parked watch whose time is up at @now, unparked; NULL if none. */
void *recall_due(struct recall_book *b, uint64_t now);

/* How many holders have notes or a parked watch (tests, status). */
size_t recall_count(const struct recall_book *b);

#endif /* CFS_META_RECALL_H */
