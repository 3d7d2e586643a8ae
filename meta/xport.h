/* xport.h - the Raft transport of cfs-meta: raft_uv's TCP transport over "raft/client" addresses. */
#ifndef CFS_META_XPORT_H
#define CFS_META_XPORT_H

/*
 * The Raft configuration stores one address per server,
 * "RAFTHOST:PORT/CLIENTHOST:PORT": the Raft part is where raft_uv connects,
 * the client part is where followers redirect clients and where `cfsctl
 * status` reaches each server.  Keeping both in the configuration makes it
 * the one source of truth for membership: `member add` carries both, every
 * server learns them from the replicated configuration.  This wrapper hands
 * raft_uv's TCP transport only the Raft part.
 *
 * It also sets TCP_NODELAY on every Raft connection, which raft_uv does
 * not: with Nagle's algorithm on, a second AppendEntries written while the
 * first is unacknowledged waited for the follower's delayed ACK, 40 ms
 * (measured: p99 of creates 45 ms with 16 clients, 5 ms without).
 *
 * Fault hook (tests only, `fault_hooks = yes`): xport_isolate() cuts this
 * server off from its Raft peers, as a network partition would, while
 * clients still reach it.  Every Raft connection is shut down (raft_uv
 * sees it fail and reconnects), and while isolated every new one is shut
 * down as soon as it exists, in both directions.
 */

#include <sys/socket.h>

#include <raft.h>
#include <raft/uv.h>
#include <stddef.h>
#include <uv.h>

#define XPORT_ADDRS 64
#define XPORT_CONNS 64

struct xport {
	struct raft_uv_transport outer; /* what raft_uv drives */
	struct raft_uv_transport tcp;   /* raft_uv_tcp_init's transport */
	raft_uv_accept_cb accept_cb;
	raft_uv_transport_close_cb close_cb;
	/* stripped addresses, kept for the transport's lifetime because the
	 * TCP transport may hold the pointer during an asynchronous connect */
	struct {
		raft_id id;
		char addr[256];
	} addrs[XPORT_ADDRS];
	unsigned n_addrs;
	/* Raft connections seen, for xport_isolate(): each socket's fd and
	 * both ends, so a closed and reused fd is never shut down. */
	struct {
		int fd;
		struct sockaddr_storage local, peer;
	} conns[XPORT_CONNS];
	unsigned next_conn;
	int isolated;
};

/* Initialise @x (caller memory, must outlive raft_uv's use of it) on @loop,
 * binding the Raft listener to @bind ("HOST:PORT").  Pass &x->outer to
 * raft_uv_init().  After raft_uv_close() and the loop drained, release the
 * TCP transport with raft_uv_tcp_close(&x->tcp).  Returns a RAFT_* code. */
int xport_setup(struct xport *x, uv_loop_t *loop, const char *bind);

/* Cut this server off from its Raft peers (@on 1) or let it reconnect
 * (@on 0).  A test fault hook; see above. */
void xport_isolate(struct xport *x, int on);

/* The Raft part of "raft/client", copied into @out of @cap bytes. */
void addr_raft_part(const char *address, char *out, size_t cap);

/* The client part of "raft/client" ("" if absent or @address is NULL);
 * points into @address. */
const char *addr_client_part(const char *address);

#endif /* CFS_META_XPORT_H */
