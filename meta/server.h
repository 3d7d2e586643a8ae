/* server.h - one cfs-meta server: Raft over raft_uv, the ZeroMQ front, group commit, sessions. */
#ifndef CFS_META_SERVER_H
#define CFS_META_SERVER_H

/*
 * docs/architecture.md "Flow of a metadata mutation" is what this module
 * does.  The main points:
 *  - one libuv loop runs Raft (raft_uv: log in DIR/raft, TCP to peers) and
 *    a ZeroMQ ROUTER socket for clients (edge-triggered ZMQ_FD drained from
 *    the poll callback and from a prepare handle every loop turn: STACK.md);
 *  - mutations received in one loop turn are packed into one Raft entry
 *    (group commit) and their replies sent when the entry is applied;
 *  - reads wait for a barrier issued after they arrived, so a deposed
 *    leader never answers (linearizable reads; also the barrier 0.15 needs
 *    before a new leader serves anything: STACK.md);
 *  - the leader tracks client sessions' keepalives and proposes the expiry
 *    of silent ones;
 *  - followers answer NOTLEADER with the leader's client address.
 *
 * A Raft server's address in the Raft configuration is
 * "RAFTHOST:PORT/CLIENTHOST:PORT": the Raft part is what raft_uv connects
 * to, the client part is what followers redirect clients to.  Carrying both
 * in the configuration keeps one source of truth for membership.
 *
 * The code: meta/server.c (set-up, the loop, stopping), front.c (the
 * ZeroMQ front), lead.c (group commit, reads, the read lease, sessions),
 * watch.c (lease_watch), admin.c (membership, status, data nodes); what
 * they share is meta/server_int.h.
 */

#include "meta/options.h"

struct meta_server;

/* A peer of --init-cluster: "ID=RAFTADDR/CLIENTADDR". */
struct meta_peer {
	uint64_t id;
	char address[520]; /* "raft/client" */
};

/*
 * Create the server from @opt (borrowed; copied) and bring up its state:
 * checks the data directory (a missing or corrupt database or log next to
 * existing state is a refusal to start, CFS_CORRUPT), opens the state
 * machine, initialises Raft.  If @peers (n > 0) is given and this server has
 * no Raft state yet, bootstraps a new cluster with exactly those voters.
 * On success *out must be run with meta_server_run() and freed with
 * meta_server_free().
 */
int meta_server_create(struct meta_server **out,
		       const struct meta_options *opt,
		       const struct meta_peer *peers, unsigned n_peers,
		       char *errmsg);

/* Run until SIGINT/SIGTERM (a clean stop) or a fatal error.  Returns 0 on a
 * clean stop, else a CFS code with errmsg. */
int meta_server_run(struct meta_server *s, char *errmsg);

/* Free everything; sets *s to NULL.  NULL-safe. */
void meta_server_free(struct meta_server **s);

/* Parse an --init-cluster spec "1=h:p/h:p,2=...".  Returns the count in
 * *n (at most @cap) or CFS_CONFIG with errmsg naming the bad part. */
int meta_peers_parse(const char *spec, struct meta_peer *peers, unsigned cap,
		     unsigned *n, char *errmsg);

#endif /* CFS_META_SERVER_H */
