/* server_int.h - internal to cfs-meta's server: struct meta_server and the requests in flight, shared by meta/server.c, front.c, lead.c, watch.c and admin.c only. */
#ifndef CFS_META_SERVER_INT_H
#define CFS_META_SERVER_INT_H

/*
 * meta/server.h is the server's API; this header is what its five files
 * share and nothing else includes.  The server is one libuv loop on one
 * thread: every function declared by front.h, lead.h, watch.h and admin.h
 * runs on that thread, takes the server borrowed and keeps no pointer
 * into a request after it returns unless it says so.
 *
 *   server.c  set-up, the loop's handles, stopping, freeing
 *   front.c   the ZeroMQ ROUTER socket: requests in, replies out, the
 *             table and queues of requests in flight
 *   lead.c    leadership: group commit, linearizable reads and the read
 *             lease, the leader's session clocks
 *   watch.c   lease_watch requests and the recalls that answer them
 *   admin.c   membership changes, status, dump, data node heartbeats
 */

#include <raft.h>
#include <raft/uv.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/error.h"
#include "common/wire.h"
#include "meta/fsm.h"
#include "meta/options.h"
#include "meta/recall.h"
#include "meta/repair.h"
#include "meta/server.h"
#include "meta/session.h"
#include "meta/xport.h"

#define CONTAINER_OF(p, type, member)                                        \
	((type *)(void *)((char *)(p)-offsetof(type, member)))

#define PENDING_BUCKETS 4096 /* power of two */
#define IDENT_MAX 255

/* One client request the leader is working on: queued for the next entry,
 * waiting in a proposal or read batch.  Keyed by (client id, sequence) so
 * a reply found while applying reaches whoever is waiting, including a
 * retry of the same request that arrived meanwhile. */
struct pending {
	struct pending *hnext; /* hash chain */
	struct pending *next;  /* queue, proposal or batch list */
	uint64_t client_id, seq, request_id;
	uint16_t type;
	int answered, hashed;
	size_t ident_len; /* 0: internal, nobody to answer */
	uint8_t ident[IDENT_MAX];
	uint8_t *frame; /* the request as it goes into the log (or read) */
	size_t len;
};

struct plist {
	struct pending *head, **tail;
	unsigned n;
};

struct meta_server {
	struct meta_options opt;
	char self_addr[520];   /* "raft/client" */
	char client_addr[256]; /* what clients are told */
	char db_path[1100], raft_dir[1100];
	uv_loop_t loop;
	struct raft raft;
	struct raft_io io;
	struct xport xp;
	struct fsm *fsm;
	int raft_inited, io_inited, xp_inited, raft_closed;

	void *zctx, *router;
	uv_os_sock_t zfd;
	uv_poll_t zpoll;
	uv_prepare_t prepare;
	uv_check_t check;
	uv_timer_t tick;
	uv_signal_t sigint, sigterm;
	uv_signal_t sigusr1, sigusr2; /* fault hooks (tests only) */

	struct pending *ptab[PENDING_BUCKETS];
	struct plist mq; /* mutations waiting for the next entry */
	struct plist rq; /* reads waiting for the next barrier */
	unsigned inflight;

	int leader, confirmed;
	uint64_t term, tag;
	/* Leader read lease (docs/architecture.md, "Reads"): reads are
	 * answered at once while uv_hrtime() < lease_until; a barrier that
	 * started at T and committed proves a majority heard from us at or
	 * after T, and none of them votes for another leader before
	 * T + election_timeout.  Barriers that started before lease_floor
	 * (a leadership transfer or membership change in flight or just
	 * done) do not count. */
	uint64_t lease_until, lease_floor, lease_ns;
	unsigned barriers; /* in flight */
	unsigned admin_ops; /* membership changes and transfers in flight */
	unsigned long long reads_local, reads_barrier;
	struct session_clock sessions;
	unsigned ticks;
	struct repair *repair; /* data nodes: liveness, placement, repair */
	struct recall_book *recalls; /* leases to recall, parked watches */

	int stopping, fatal;
	char stop_msg[CFS_ERRMSG_SIZE];
	unsigned long long bad_msgs, bad_logged;
	uint64_t bad_window;

	union wire_body body; /* decode scratch (large) */
};

static inline void
plist_init(struct plist *l)
{
	l->head = NULL;
	l->tail = &l->head;
	l->n = 0;
}

static inline void
plist_push(struct plist *l, struct pending *p)
{
	p->next = NULL;
	*l->tail = p;
	l->tail = &p->next;
	l->n++;
}

#endif /* CFS_META_SERVER_INT_H */
