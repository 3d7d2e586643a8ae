/* watch.h - lease_watch on the leader: a mount's wait for the recalls of its leases, answered at once or parked until one is noted (docs/leases.md). */
#ifndef CFS_META_WATCH_H
#define CFS_META_WATCH_H

/*
 * Part of the server (meta/server_int.h): everything here runs on the
 * server's loop thread.  The book of recalls and parked watches is
 * meta/recall.c (s->recalls, NULL while the server stops); this module
 * answers the watches from it.  Only a confirmed leader holds recalls:
 * on a change of leadership the book is reset and parked watches are told
 * to go elsewhere (their holders' refused requests are retried and note
 * the recalls again on the new leader).
 */

#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"
#include "meta/server_int.h"

/* lease_watch @h/@m (borrowed): the holder's recalls at once, or the
 * watch parks until one is noted or its wait is over (then empty). */
void watch_handle(struct meta_server *s, const uint8_t *ident,
		  size_t ident_len, const struct wire_header *h,
		  const struct wire_lease_watch *m);

/* fsm_set_recall() callback: applying found @holder's lease on @ino in the
 * way of a request; on the leader, note the recall and wake the holder's
 * watch.  @data is the server. */
void watch_on_recall(void *data, uint64_t holder, uint64_t session,
		     uint64_t ino);

/* Answer every parked watch NOTLEADER and forget the notes; a new book if
 * @renew (leadership lost), none if not (stopping). */
void watch_reset(struct meta_server *s, int renew);

/* Every tick: parked watches whose time is up are answered empty. */
void watch_tick(struct meta_server *s);

#endif /* CFS_META_WATCH_H */
