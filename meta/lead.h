/* lead.h - leadership on one cfs-meta server: group commit into Raft entries, replies when applied, linearizable reads and the leader read lease, the leader's session clocks. */
#ifndef CFS_META_LEAD_H
#define CFS_META_LEAD_H

/*
 * Part of the server (meta/server_int.h): everything here runs on the
 * server's loop thread.  docs/architecture.md "Flow of a metadata
 * mutation" and "Reads" are what this module does:
 *  - the mutations queued in s->mq during one loop turn go into one Raft
 *    entry (group commit); each client is answered when the entry is
 *    applied (lead_on_apply_reply), or told to retry if it fails;
 *  - reads queued in s->rq wait for a barrier issued after they arrived,
 *    so a deposed leader never answers; a committed barrier also earns
 *    the leader read lease, under which reads are answered at once;
 *  - a new leader serves nothing before a barrier of its own term
 *    commits (libraft 0.15 appends no entry at the start of a term:
 *    STACK.md);
 *  - the confirmed leader keeps the session clocks and proposes the
 *    expiry of silent sessions.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"
#include "meta/server_int.h"

/* Notice a change of leadership or term (call every loop turn and tick):
 * a new leader confirms itself with a barrier; a deposed one fails what
 * it queued with NOTLEADER and forgets its sessions, recalls and repair
 * duties. */
void lead_check(struct meta_server *s);

/* Pack every queued mutation into entries (up to opt.batch_max requests
 * each) and propose them.  A request that cannot be proposed is answered
 * NOTLEADER and freed. */
void lead_propose(struct meta_server *s);

/* Start a barrier for the reads queued in s->rq (@confirm 0), or the one
 * that confirms a new leader (@confirm 1: takes no reads).  Its callback
 * answers the reads and renews the read lease.  0, CFS_ENOMEM, or
 * CFS_NOTLEADER (the reads are answered NOTLEADER already). */
int lead_barrier(struct meta_server *s, int confirm);

/* May a read be answered from this server's state at once (the read
 * lease holds)? */
int lead_read_lease_valid(struct meta_server *s);

/* Answer read @h/@b (borrowed) now, under the lease; renews the lease in
 * the background once half of it is gone. */
void lead_read_local(struct meta_server *s, const uint8_t *ident,
		     size_t ident_len, struct wire_header *h,
		     union wire_body *b);

/* A leadership transfer or membership change starts (suspend: the read
 * lease is dropped and none is earned) or ends (resume: leases may be
 * earned again a while after the last one ends).  Calls pair up. */
void lead_lease_suspend(struct meta_server *s);
void lead_lease_resume(struct meta_server *s);

/* fsm_set_reply() callback: an applied request's reply @frame (borrowed)
 * goes to whoever waits for (@client_id, @seq); @data is the server. */
void lead_on_apply_reply(void *data, uint64_t client_id, uint64_t seq,
			 const uint8_t *frame, size_t len);

/* Every tick on the confirmed leader: resync the session clocks with the
 * state machine now and then, and propose the expiry of silent sessions. */
void lead_tick(struct meta_server *s);

#endif /* CFS_META_LEAD_H */
