/* admin.h - cfs-meta requests about the cluster rather than the namespace: membership changes and leadership transfer, status, dump, data node heartbeats and the node list. */
#ifndef CFS_META_ADMIN_H
#define CFS_META_ADMIN_H

/*
 * Part of the server (meta/server_int.h): everything here runs on the
 * server's loop thread, and each call answers the request it is given
 * (@h and @b borrowed), at once or when Raft calls back.  None of these
 * goes through the state machine's log as a command: membership is
 * libraft's configuration (raft_add, raft_assign, raft_remove,
 * raft_transfer), status and dump read local state, data node heartbeats
 * feed the leader's live view (meta/repair.c).
 */

#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"
#include "meta/server_int.h"

/* status: any server answers from its own state (Raft term and indexes,
 * the members and, on the leader, how far each has replicated). */
void admin_status(struct meta_server *s, const uint8_t *ident,
		  size_t ident_len, const struct wire_header *h);

/* dump: the state machine as text (its CRC and length, and as much of it
 * as fits one message), for comparing replicas. */
void admin_dump(struct meta_server *s, const uint8_t *ident,
		size_t ident_len, const struct wire_header *h);

/* member_add, member_assign, member_remove, transfer (on the leader).  The
 * read lease is suspended until the change is over (lead_lease_suspend);
 * the client is answered when Raft calls back. */
void admin_membership(struct meta_server *s, const uint8_t *ident,
		      size_t ident_len, const struct wire_header *h,
		      const union wire_body *b);

/* node_heartbeat and node_list (on the confirmed leader). */
void admin_node(struct meta_server *s, const uint8_t *ident,
		size_t ident_len, const struct wire_header *h,
		union wire_body *b);

#endif /* CFS_META_ADMIN_H */
