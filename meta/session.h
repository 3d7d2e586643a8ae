/* session.h - the leader's keepalive clock for client sessions: who was heard from when, who expired. */
#ifndef CFS_META_SESSION_H
#define CFS_META_SESSION_H

/*
 * Keepalives are not logged (they would dominate the log), so only the
 * leader knows when each session was last heard from; this module is that
 * knowledge.  Rules (docs/raft-log.md "Sessions"):
 *  - the set of sessions comes from the state machine (resync); a session
 *    first seen by this leader starts its clock at that moment, so a leader
 *    change can only lengthen a lease, never cut one short;
 *  - any request of a session counts as a keepalive (touch);
 *  - a session silent for longer than its lease is reported once by
 *    session_clock_expire(); the leader then proposes session_expire.
 * Time is passed in (milliseconds of a monotonic clock): the module does no
 * I/O and reads no clock, so tests drive it directly.
 */

#include <stdint.h>

#define SESSION_BUCKETS 1024 /* power of two */

struct session_entry;

struct session_clock {
	struct session_entry *tab[SESSION_BUCKETS];
	unsigned generation; /* of the last resync */
	unsigned count;
};

void session_clock_init(struct session_clock *c);

/* Forget every session (leadership lost).  Frees all entries. */
void session_clock_clear(struct session_clock *c);

/* Record contact from @client_id at @now.  Returns 1 if the session is
 * tracked, 0 if unknown to this leader or being expired (its expiry was
 * reported and proposed): the caller decides what that means; for a
 * keepalive, the session has expired. */
int session_clock_touch(struct session_clock *c, uint64_t client_id,
			uint64_t now);

/* Resync step 1: start a new generation. */
void session_clock_resync_begin(struct session_clock *c);

/* Resync step 2, for every session in the state machine: keep it (or start
 * its clock at @now if new) with lease @lease_ms.  CFS_ENOMEM on failure. */
int session_clock_resync_one(struct session_clock *c, uint64_t client_id,
			     uint32_t lease_ms, uint64_t now);

/* Resync step 3: drop sessions the state machine no longer has. */
void session_clock_resync_end(struct session_clock *c);

/* Call @fn for every session silent for longer than its lease at @now and
 * not reported before; @silent_ms is how long it has been silent.  If @fn
 * returns non-zero the session is reported again next time. */
void session_clock_expire(struct session_clock *c, uint64_t now,
			  int (*fn)(void *data, uint64_t client_id,
				    uint64_t silent_ms),
			  void *data);

#endif /* CFS_META_SESSION_H */
