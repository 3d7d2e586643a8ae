/* front.c - cfs-meta's client front: the ZeroMQ ROUTER socket, requests decoded and dispatched, replies sent, the requests in flight. */
#include "meta/front.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "meta/admin.h"
#include "meta/dmap.h"
#include "meta/entry.h"
#include "meta/fsm.h"
#include "meta/lead.h"
#include "meta/lease.h"
#include "meta/lock.h"
#include "meta/ns.h"
#include "meta/repair.h"
#include "meta/session.h"
#include "meta/watch.h"

/* ---- requests in flight ------------------------------------------------- */

static unsigned
phash(uint64_t client_id, uint64_t seq)
{
	uint64_t h = (client_id * 0x9E3779B97F4A7C15ull) ^ (seq + (seq << 17));
	return (unsigned)(h ^ (h >> 29)) & (PENDING_BUCKETS - 1);
}

struct pending *
pending_find(struct meta_server *s, uint64_t client_id, uint64_t seq)
{
	for (struct pending *p = s->ptab[phash(client_id, seq)]; p;
	     p = p->hnext)
		if (p->client_id == client_id && p->seq == seq)
			return p;
	return NULL;
}

static void
pending_hash(struct meta_server *s, struct pending *p)
{
	unsigned b = phash(p->client_id, p->seq);
	p->hnext = s->ptab[b];
	s->ptab[b] = p;
	p->hashed = 1;
}

void
pending_unhash(struct meta_server *s, struct pending *p)
{
	if (!p->hashed)
		return;
	for (struct pending **pp = &s->ptab[phash(p->client_id, p->seq)]; *pp;
	     pp = &(*pp)->hnext)
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	p->hashed = 0;
}

void
pending_free(struct meta_server *s, struct pending *p)
{
	pending_unhash(s, p);
	free(p->frame);
	free(p);
	s->inflight--;
}

void
front_fail_queue(struct meta_server *s, struct plist *l, int status,
		 const char *m)
{
	for (struct pending *p = l->head, *next; p; p = next) {
		next = p->next;
		front_answer_error(s, p, status, m);
		pending_free(s, p);
	}
	plist_init(l);
}

/* ---- sending ------------------------------------------------------------ */

static void
send_to(struct meta_server *s, const uint8_t *ident, size_t ident_len,
	const uint8_t *frame, size_t len)
{
	if (ident_len == 0)
		return;
	/* DONTWAIT: a client that stopped reading must never block the
	 * server; ROUTER drops the message for an unknown or full peer. */
	if (zmq_send(s->router, ident, ident_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) <
		    0 ||
	    zmq_send(s->router, frame, len, ZMQ_DONTWAIT) < 0)
		LOG_DEBUG("reply dropped: %s", zmq_strerror(zmq_errno()));
}

/* Send a reply frame produced elsewhere, with this attempt's request id. */
void
front_send_reply_frame(struct meta_server *s, const uint8_t *ident,
		       size_t ident_len, uint64_t request_id,
		       const uint8_t *frame, size_t len)
{
	struct wire_header h;
	char errmsg[CFS_ERRMSG_SIZE];
	uint8_t *copy;

	if (ident_len == 0)
		return;
	if (wire_header_decode(&h, frame, len, errmsg) != 0) {
		LOG_ERROR("internal: bad reply frame: %s", errmsg);
		return;
	}
	copy = malloc(len);
	if (copy == NULL)
		return;
	memcpy(copy, frame, len);
	h.request_id = request_id;
	wire_header_encode(&h, copy);
	send_to(s, ident, ident_len, copy, len);
	free(copy);
}

void
front_send_error(struct meta_server *s, const uint8_t *ident, size_t ident_len,
		 const struct wire_header *req, int status, const char *message)
{
	uint8_t *frame = NULL;
	size_t len = 0;
	const char *leader = NULL;
	char leader_buf[256] = "";

	if (status == CFS_NOTLEADER) {
		raft_id id = 0;
		const char *addr = NULL;
		raft_leader(&s->raft, &id, &addr);
		if (addr != NULL) {
			snprintf(leader_buf, sizeof(leader_buf), "%s",
				 addr_client_part(addr));
			leader = leader_buf;
		}
		if (leader == NULL || *leader == '\0')
			status = CFS_NOLEADER;
	}
	struct wire_header h = *req;
	h.flags = WIRE_F_REPLY;
	if (fsm_error_frame(&h, status, message, leader, &frame, &len) == 0)
		send_to(s, ident, ident_len, frame, len);
	free(frame);
}

void
front_answer_error(struct meta_server *s, struct pending *p, int status,
		   const char *message)
{
	struct wire_header h = {.type = p->type,
				.request_id = p->request_id,
				.client_id = p->client_id,
				.sequence = p->seq};
	if (!p->answered)
		front_send_error(s, p->ident, p->ident_len, &h, status,
				 message);
	p->answered = 1;
}

void
front_send_body(struct meta_server *s, const uint8_t *ident, size_t ident_len,
		const struct wire_header *req, uint16_t type, const void *body)
{
	struct wire_header h = *req;
	uint8_t *frame = NULL;
	size_t len = 0;
	char errmsg[CFS_ERRMSG_SIZE];

	h.type = type;
	h.flags = WIRE_F_REPLY;
	h.status = 0;
	int rv = wire_encode(&h, body, &frame, &len, errmsg);
	if (rv != 0) {
		front_send_error(s, ident, ident_len, req, rv, errmsg);
		return;
	}
	send_to(s, ident, ident_len, frame, len);
	free(frame);
}

/* ---- intake --------------------------------------------------------------- */

struct pending *
pending_new(struct meta_server *s, const uint8_t *ident, size_t ident_len,
	    const struct wire_header *h, const void *body)
{
	struct pending *p = calloc(1, sizeof(*p));
	char errmsg[CFS_ERRMSG_SIZE];

	if (p == NULL)
		return NULL;
	struct wire_header lh = *h;
	lh.flags = 0;
	lh.status = 0;
	lh.request_id = 0;
	if (wire_encode(&lh, body, &p->frame, &p->len, errmsg) != 0) {
		free(p);
		return NULL;
	}
	p->client_id = h->client_id;
	p->seq = h->sequence;
	p->request_id = h->request_id;
	p->type = h->type;
	p->ident_len = ident_len > IDENT_MAX ? IDENT_MAX : ident_len;
	if (ident_len)
		memcpy(p->ident, ident, p->ident_len);
	s->inflight++;
	return p;
}

/* A unique tag for commands without an exactly-once key of their own
 * (client id 0): term in the high half, so no two leaders reuse one. */
static uint64_t
next_tag(struct meta_server *s)
{
	return (s->term << 32) | (++s->tag & 0xffffffffu);
}

int
front_enqueue_internal(struct meta_server *s, uint16_t type, const void *body)
{
	struct wire_header h = {.type = type, .client_id = 0};
	h.sequence = next_tag(s);
	struct pending *p = pending_new(s, NULL, 0, &h, body);
	if (p == NULL)
		return CFS_ENOMEM;
	pending_hash(s, p);
	plist_push(&s->mq, p);
	return 0;
}

static void
enqueue_mutation(struct meta_server *s, const uint8_t *ident,
		 size_t ident_len, const struct wire_header *h,
		 const void *body)
{
	struct pending *p = pending_find(s, h->client_id, h->sequence);

	if (p != NULL && !p->answered) {
		/* A retry of a request still in flight: answer the newest
		 * attempt when it completes. */
		p->request_id = h->request_id;
		p->ident_len = ident_len > IDENT_MAX ? IDENT_MAX : ident_len;
		memcpy(p->ident, ident, p->ident_len);
		return;
	}
	p = pending_new(s, ident, ident_len, h, body);
	if (p == NULL) {
		front_send_error(s, ident, ident_len, h, CFS_ENOMEM,
				 "server out of memory");
		return;
	}
	pending_hash(s, p);
	plist_push(&s->mq, p);
}

/* Rate-limited warning about a bad message from a peer. */
static void
warn_bad(struct meta_server *s, const char *peer, const char *what)
{
	uint64_t now = uv_now(&s->loop);

	s->bad_msgs++;
	if (now - s->bad_window >= 1000) {
		if (s->bad_msgs > s->bad_logged + 1)
			LOG_WARN("%llu more bad messages suppressed",
				 s->bad_msgs - s->bad_logged - 1);
		s->bad_window = now;
		s->bad_logged = s->bad_msgs - 1;
	}
	if (s->bad_msgs - s->bad_logged <= 10)
		LOG_WARN("client %s: %s", peer, what);
}

/* Is @type a request a client may send us (any server answers the known
 * ones that are not for the leader)? */
static int
is_request(uint16_t type)
{
	return type == WIRE_T_session_open || type == WIRE_T_session_close ||
	       type == WIRE_T_keepalive || type == WIRE_T_format ||
	       type == WIRE_T_member_add || type == WIRE_T_member_assign ||
	       type == WIRE_T_member_remove || type == WIRE_T_transfer ||
	       ns_handles(type) || lock_handles(type) || lease_handles(type) ||
	       type == WIRE_T_lease_watch || type == WIRE_T_node_heartbeat ||
	       type == WIRE_T_node_list || type == WIRE_T_node_inventory ||
	       /* replica_add, _drop and frag_seal are the leader's own */
	       (dmap_handles(type) && type != WIRE_T_replica_add &&
		type != WIRE_T_replica_drop && type != WIRE_T_frag_seal);
}

/* On the leader: the requests that need no session (keepalive, session
 * open, format, membership, data nodes).  1 if @h was one of them (and is
 * handled), 0 if not. */
static int
dispatch_sessionless(struct meta_server *s, const uint8_t *ident,
		     size_t ident_len, struct wire_header *h,
		     union wire_body *b)
{
	switch (h->type) {
	case WIRE_T_keepalive:
		if (!s->confirmed) {
			front_send_error(s, ident, ident_len, h, CFS_NOLEADER,
					 "new leader not yet confirmed");
			return 1;
		}
		if (!session_clock_touch(&s->sessions, h->client_id,
					 uv_now(&s->loop))) {
			front_send_error(s, ident, ident_len, h, CFS_NOSESSION,
					 "session expired or unknown");
			return 1;
		}
		front_send_body(s, ident, ident_len, h, WIRE_T_ok,
				&(struct wire_ok){0});
		return 1;
	case WIRE_T_session_open: {
		uint32_t want = b->session_open.lease_ms;
		uint32_t lo = (uint32_t)s->opt.session_lease_min;
		uint32_t hi = (uint32_t)s->opt.session_lease_max;
		b->session_open.lease_ms = want < lo ? lo : want > hi ? hi : want;
		/* The leader names the session: unique across terms. */
		h->client_id = next_tag(s);
		h->sequence = 0;
		enqueue_mutation(s, ident, ident_len, h, b);
		return 1;
	}
	case WIRE_T_format:
		if (b->format.fragment_size == 0)
			b->format.fragment_size = s->opt.fragment_size;
		if (b->format.default_goal == 0)
			b->format.default_goal = (uint32_t)s->opt.default_goal;
		if (b->format.fragment_size < 65536 ||
		    b->format.fragment_size > CFS_BULK_MAX ||
		    b->format.default_goal < 1 ||
		    b->format.default_goal > 16) {
			front_send_error(s, ident, ident_len, h, CFS_EINVAL,
					 "fragment size must be 64K..64M and "
					 "goal 1..16");
			return 1;
		}
		h->client_id = 0;
		h->sequence = next_tag(s);
		enqueue_mutation(s, ident, ident_len, h, b);
		return 1;
	case WIRE_T_member_add:
	case WIRE_T_member_assign:
	case WIRE_T_member_remove:
	case WIRE_T_transfer:
		admin_membership(s, ident, ident_len, h, b);
		return 1;
	case WIRE_T_node_heartbeat:
	case WIRE_T_node_list:
	case WIRE_T_node_inventory:
		admin_node(s, ident, ident_len, h, b);
		return 1;
	case WIRE_T_node_register:
	case WIRE_T_node_state:
	case WIRE_T_replica_bad:
		/* No session: idempotent commands of data nodes, operators
		 * and clients reporting a bad replica. */
		h->client_id = 0;
		h->sequence = next_tag(s);
		enqueue_mutation(s, ident, ident_len, h, b);
		return 1;
	default:
		return 0;
	}
}

/* On the leader: session commands, reads and mutations of a session (and
 * cfsctl's lease listing). */
static void
dispatch_session(struct meta_server *s, const uint8_t *ident,
		 size_t ident_len, struct wire_header *h, union wire_body *b)
{
	char errmsg[CFS_ERRMSG_SIZE];
	int rv;

	/* cfsctl leases: a read that needs no session. */
	if (h->type == WIRE_T_lease_list && h->client_id == 0) {
		struct pending *p = pending_new(s, ident, ident_len, h, b);
		if (p != NULL)
			plist_push(&s->rq, p);
		return;
	}

	/* Session commands and namespace requests need a session. */
	if (h->client_id == 0) {
		front_send_error(s, ident, ident_len, h, CFS_NOSESSION,
				 "this request needs a session");
		return;
	}
	session_clock_touch(&s->sessions, h->client_id, uv_now(&s->loop));
	if (h->type == WIRE_T_session_close) {
		enqueue_mutation(s, ident, ident_len, h, b);
		return;
	}
	if (h->type == WIRE_T_lease_watch) {
		watch_handle(s, ident, ident_len, h, &b->lease_watch);
		return;
	}
	if (!ns_is_mutation(h->type) && !dmap_is_mutation(h->type) &&
	    !lock_is_mutation(h->type) && !lease_is_mutation(h->type)) {
		if (lead_read_lease_valid(s)) {
			lead_read_local(s, ident, ident_len, h, b);
			return;
		}
		struct pending *p = pending_new(s, ident, ident_len, h, b);
		if (p == NULL) {
			front_send_error(s, ident, ident_len, h, CFS_ENOMEM,
					 "server out of memory");
			return;
		}
		plist_push(&s->rq, p);
		return;
	}
	/* Exactly once: a request whose sequence was applied is answered
	 * from the stored reply without touching the log. */
	const uint8_t *stored = NULL;
	size_t stored_len = 0;
	switch (fsm_session_check(s->fsm, h->client_id, h->sequence, &stored,
				  &stored_len)) {
	case 0:
		front_send_error(s, ident, ident_len, h, CFS_NOSESSION,
				 "session expired or unknown");
		return;
	case 2:
		front_send_reply_frame(s, ident, ident_len, h->request_id,
				       stored, stored_len);
		return;
	case 3:
		front_send_error(s, ident, ident_len, h, CFS_EINVAL,
				 "sequence number older than the session's "
				 "last");
		return;
	default:
		if (h->type == WIRE_T_frag_open) {
			/* Placement is the leader's decision and travels in
			 * the command (STYLE.md practice 6). */
			rv = repair_place(s->repair, fsm_dmap(s->fsm),
					  &b->frag_open, uv_now(&s->loop),
					  errmsg);
			if (rv != 0) {
				front_send_error(s, ident, ident_len, h, rv,
						 errmsg);
				return;
			}
		}
		/* so is whether a commit's nodes take the next version;
		 * an in-place open or seal asking it is refused as it was
		 * sent (EINVAL), not turned into a plain one by a leader
		 * that would not grant it */
		if (h->type == WIRE_T_frag_commit && b->frag_commit.reopen &&
		    b->frag_commit.in_place == CFS_INPLACE_NONE)
			b->frag_commit.reopen = (uint64_t)repair_reopen_ok(
				s->repair, fsm_dmap(s->fsm), &b->frag_commit,
				uv_now(&s->loop));
		enqueue_mutation(s, ident, ident_len, h, b);
	}
}

/* One message from a client: decode and check it, answer what any server
 * answers, refuse what only the leader may do on a follower, dispatch the
 * rest. */
static void
handle_request(struct meta_server *s, const uint8_t *ident, size_t ident_len,
	       const uint8_t *data, size_t len, const char *peer)
{
	struct wire_header h;
	union wire_body *b = &s->body;
	char errmsg[CFS_ERRMSG_SIZE];
	int rv;

	rv = wire_decode(data, len, &h, b, errmsg);
	if (rv != 0) {
		struct wire_header hh;
		char ignored[CFS_ERRMSG_SIZE];
		if (wire_header_decode(&hh, data, len, ignored) != 0)
			memset(&hh, 0, sizeof(hh));
		warn_bad(s, peer, errmsg);
		front_send_error(s, ident, ident_len, &hh, rv, errmsg);
		return;
	}
	if (h.flags & WIRE_F_REPLY) {
		warn_bad(s, peer, "sent a reply where a request belongs");
		front_send_error(s, ident, ident_len, &h, CFS_MALFORMED,
				 "a reply is not a request");
		return;
	}
	if (s->stopping) {
		front_send_error(s, ident, ident_len, &h, CFS_SHUTDOWN,
				 "server is shutting down");
		return;
	}

	/* Answered by any server from its own state. */
	if (h.type == WIRE_T_status) {
		admin_status(s, ident, ident_len, &h);
		return;
	}
	if (h.type == WIRE_T_dump) {
		admin_dump(s, ident, ident_len, &h);
		return;
	}

	if (!is_request(h.type)) {
		snprintf(errmsg, sizeof(errmsg), "%s (type %u) is not a request",
			 wire_type_name(h.type) ? wire_type_name(h.type) : "?",
			 h.type);
		warn_bad(s, peer, errmsg);
		front_send_error(s, ident, ident_len, &h, CFS_BADTYPE, errmsg);
		return;
	}
	if (!s->leader) {
		front_send_error(s, ident, ident_len, &h, CFS_NOTLEADER, NULL);
		return;
	}
	if (s->inflight >= (unsigned)s->opt.inflight_max) {
		front_send_error(s, ident, ident_len, &h, CFS_EAGAIN,
				 "too many requests in flight; retry");
		return;
	}
	if (!dispatch_sessionless(s, ident, ident_len, &h, b))
		dispatch_session(s, ident, ident_len, &h, b);
}

/* Read every message ZeroMQ has for us.  ZMQ_FD is edge-triggered: stop
 * only when ZMQ_EVENTS says there is nothing left (STACK.md). */
void
front_drain(struct meta_server *s)
{
	for (;;) {
		int events = 0;
		size_t sz = sizeof(events);
		if (zmq_getsockopt(s->router, ZMQ_EVENTS, &events, &sz) != 0 ||
		    !(events & ZMQ_POLLIN))
			return;
		zmq_msg_t id, msg;
		zmq_msg_init(&id);
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&id, s->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&id);
			zmq_msg_close(&msg);
			return;
		}
		int more = zmq_msg_more(&id);
		if (more && zmq_msg_recv(&msg, s->router, ZMQ_DONTWAIT) >= 0) {
			const char *peer = zmq_msg_gets(&msg, "Peer-Address");
			int extra = zmq_msg_more(&msg);
			/* The metadata service takes no bulk frames: drop
			 * any further frames of this message. */
			while (zmq_msg_more(&msg)) {
				zmq_msg_t junk;
				zmq_msg_init(&junk);
				int r = zmq_msg_recv(&junk, s->router,
						     ZMQ_DONTWAIT);
				zmq_msg_close(&junk);
				if (r < 0)
					break;
				if (!zmq_msg_more(&junk))
					break;
			}
			if (extra) {
				warn_bad(s, peer ? peer : "?",
					 "sent extra frames");
				struct wire_header hh;
				char ignored[CFS_ERRMSG_SIZE];
				if (wire_header_decode(&hh, zmq_msg_data(&msg),
						       zmq_msg_size(&msg),
						       ignored) != 0)
					memset(&hh, 0, sizeof(hh));
				front_send_error(
				    s, zmq_msg_data(&id), zmq_msg_size(&id),
				    &hh, CFS_MALFORMED,
				    "the metadata service takes no "
				    "bulk frames");
			} else {
				handle_request(s, zmq_msg_data(&id),
					       zmq_msg_size(&id),
					       zmq_msg_data(&msg),
					       zmq_msg_size(&msg),
					       peer ? peer : "?");
			}
		}
		zmq_msg_close(&id);
		zmq_msg_close(&msg);
	}
}

int
front_setup(struct meta_server *s, char *errmsg)
{
	char endpoint[300];
	int hwm = 100000, linger = 0;
	int64_t maxmsg = WIRE_MAX_BODY + WIRE_HEADER_SIZE;
	size_t sz = sizeof(s->zfd);

	s->zctx = zmq_ctx_new();
	if (s->zctx == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "zmq_ctx_new failed");
	s->router = zmq_socket(s->zctx, ZMQ_ROUTER);
	if (s->router == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "zmq_socket: %s",
				zmq_strerror(zmq_errno()));
	zmq_setsockopt(s->router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s->router, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s->router, ZMQ_LINGER, &linger, sizeof(linger));
	/* ZeroMQ drops a peer that sends a frame over this size: an
	 * oversized message costs us nothing but that connection. */
	zmq_setsockopt(s->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	snprintf(endpoint, sizeof(endpoint), "%s%s",
		 strncmp(s->opt.listen, "tcp://", 6) ? "tcp://" : "",
		 s->opt.listen);
	if (zmq_bind(s->router, endpoint) != 0)
		return cfs_fail(errmsg, CFS_CONFIG, "listen %s: %s", endpoint,
				zmq_strerror(zmq_errno()));
	if (zmq_getsockopt(s->router, ZMQ_FD, &s->zfd, &sz) != 0)
		return cfs_fail(errmsg, CFS_EIO, "ZMQ_FD: %s",
				zmq_strerror(zmq_errno()));
	return 0;
}
