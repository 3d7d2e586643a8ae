/* nodeclient.c - request/reply exchanges with data nodes over per-node DEALER sockets. */
#include "client/nodeclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"

#define NC_SOCKETS 64 /* cached sockets; the least recently used goes */
#define NC_ADDR_SIZE (CFS_ADDR_MAX + 8)
#define NC_CONNECT_MS 1000 /* a node that accepts no connection by then is down */

struct nc_sock {
	char addr[NC_ADDR_SIZE]; /* "tcp://host:port"; "" = free slot */
	void *sock;
	uint64_t used; /* nc->clock when last used */
};

struct nc {
	void *zctx;
	int own_zctx;
	struct nc_sock socks[NC_SOCKETS];
	uint64_t clock;
	uint64_t next_rid;
	struct nc_sock *pending; /* nc_start'ed, awaiting nc_finish */
	uint64_t pending_rid;
	int64_t deadline;
	zmq_msg_t frame, bulk; /* what the last reply borrows from */
	int have_frame, have_bulk;
	union wire_body body;
};

int
nc_open(struct nc **out, void *zctx, char *errmsg)
{
	struct nc *nc = calloc(1, sizeof(*nc));

	if (nc == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "node client");
	nc->zctx = zctx;
	if (nc->zctx == NULL) {
		nc->zctx = zmq_ctx_new();
		nc->own_zctx = 1;
		if (nc->zctx == NULL) {
			free(nc);
			return cfs_fail(errmsg, CFS_ENOMEM,
					"zmq_ctx_new: %s", zmq_strerror(errno));
		}
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* Request ids only need to differ from those of earlier sockets'
	 * lives; start somewhere unlikely to repeat across restarts. */
	nc->next_rid = ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec;
	*out = nc;
	return 0;
}

static void
release_reply(struct nc *nc)
{
	if (nc->have_frame)
		zmq_msg_close(&nc->frame);
	if (nc->have_bulk)
		zmq_msg_close(&nc->bulk);
	nc->have_frame = nc->have_bulk = 0;
}

static void
sock_drop(struct nc_sock *s)
{
	if (s->sock != NULL)
		zmq_close(s->sock);
	s->sock = NULL;
	s->addr[0] = '\0';
}

void
nc_close(struct nc **ncp)
{
	struct nc *nc = *ncp;

	if (nc == NULL)
		return;
	release_reply(nc);
	for (int i = 0; i < NC_SOCKETS; i++)
		sock_drop(&nc->socks[i]);
	if (nc->own_zctx)
		zmq_ctx_term(nc->zctx);
	free(nc);
	*ncp = NULL;
}

static void
normalize(char *dst, const char *addr)
{
	if (strncmp(addr, "tcp://", 6) == 0)
		snprintf(dst, NC_ADDR_SIZE, "%s", addr);
	else
		snprintf(dst, NC_ADDR_SIZE, "tcp://%s", addr);
}

/* The socket for @addr, connecting a new one (evicting the least recently
 * used) if needed.  NULL with errmsg on failure. */
static struct nc_sock *
sock_get(struct nc *nc, const char *addr, char *errmsg)
{
	char a[NC_ADDR_SIZE];
	struct nc_sock *victim = &nc->socks[0];

	normalize(a, addr);
	for (int i = 0; i < NC_SOCKETS; i++) {
		struct nc_sock *s = &nc->socks[i];
		if (s->sock != NULL && strcmp(s->addr, a) == 0) {
			s->used = ++nc->clock;
			return s;
		}
		if (s->sock == NULL || s->used < victim->used ||
		    (victim->sock != NULL && s->sock == NULL))
			victim = s;
	}
	sock_drop(victim);
	void *z = zmq_socket(nc->zctx, ZMQ_DEALER);
	if (z == NULL) {
		cfs_fail(errmsg, CFS_ENOMEM, "%s: zmq_socket: %s", a,
			 zmq_strerror(errno));
		return NULL;
	}
	int zero = 0, ivl = 100, ivl_max = 1000;
	zmq_setsockopt(z, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(z, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(z, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
	/* Queue nothing for a peer that is not connected: a dead node is
	 * then found in NC_CONNECT_MS instead of a whole reply timeout. */
	int one = 1;
	zmq_setsockopt(z, ZMQ_IMMEDIATE, &one, sizeof(one));
	if (zmq_connect(z, a) != 0) {
		cfs_fail(errmsg, CFS_EINVAL, "%s: bad address: %s", a,
			 zmq_strerror(errno));
		zmq_close(z);
		return NULL;
	}
	snprintf(victim->addr, sizeof(victim->addr), "%s", a);
	victim->sock = z;
	victim->used = ++nc->clock;
	return victim;
}

void
nc_forget(struct nc *nc, const char *addr)
{
	char a[NC_ADDR_SIZE];

	normalize(a, addr);
	for (int i = 0; i < NC_SOCKETS; i++)
		if (nc->socks[i].sock != NULL &&
		    strcmp(nc->socks[i].addr, a) == 0)
			sock_drop(&nc->socks[i]);
}

static int
send_request(struct nc_sock *s, const struct wire_header *h, const void *req,
	     const void *bulk, size_t bulk_len, char *errmsg)
{
	uint8_t *frame = NULL;
	size_t len = 0;
	int rv = wire_encode(h, req, &frame, &len, errmsg);

	if (rv != 0)
		return rv;
	int flags = bulk_len > 0 ? ZMQ_SNDMORE : 0;
	/* DEALER queues while connecting; DONTWAIT only fails when the
	 * high-water mark is reached, which one request never does. */
	if (zmq_send(s->sock, frame, len, flags | ZMQ_DONTWAIT) < 0 ||
	    (bulk_len > 0 &&
	     zmq_send(s->sock, bulk, bulk_len, ZMQ_DONTWAIT) < 0)) {
		free(frame);
		return cfs_fail(errmsg, CFS_EIO, "%s: send: %s", s->addr,
				zmq_strerror(errno));
	}
	free(frame);
	return 0;
}

/* Receive one whole reply into nc->frame (and nc->bulk).  0, or
 * CFS_ETIMEDOUT / CFS_EIO. */
static int
recv_reply(struct nc *nc, struct nc_sock *s, int64_t deadline, char *errmsg)
{
	for (;;) {
		int64_t left = deadline - cfs_now_ms();
		if (left <= 0)
			return cfs_fail(errmsg, CFS_ETIMEDOUT,
					"%s: no reply in time", s->addr);
		zmq_pollitem_t it = {.socket = s->sock, .events = ZMQ_POLLIN};
		int n = zmq_poll(&it, 1, (long)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cfs_fail(errmsg, CFS_EIO, "%s: poll: %s",
					s->addr, zmq_strerror(errno));
		if (n == 0)
			continue;
		release_reply(nc);
		zmq_msg_init(&nc->frame);
		nc->have_frame = 1;
		if (zmq_msg_recv(&nc->frame, s->sock, 0) < 0)
			return cfs_fail(errmsg, CFS_EIO, "%s: recv: %s",
					s->addr, zmq_strerror(errno));
		if (zmq_msg_more(&nc->frame)) {
			zmq_msg_init(&nc->bulk);
			nc->have_bulk = 1;
			if (zmq_msg_recv(&nc->bulk, s->sock, 0) < 0)
				return cfs_fail(errmsg, CFS_EIO,
						"%s: recv: %s", s->addr,
						zmq_strerror(errno));
			/* drain anything further: not ours to interpret */
			while (zmq_msg_more(&nc->bulk)) {
				zmq_msg_t junk;
				zmq_msg_init(&junk);
				zmq_msg_recv(&junk, s->sock, 0);
				int more = zmq_msg_more(&junk);
				zmq_msg_close(&junk);
				if (!more)
					break;
			}
		}
		return 0;
	}
}

int
nc_start(struct nc *nc, const char *addr, uint16_t type, const void *req,
	 const void *bulk, size_t bulk_len, int timeout_ms, char *errmsg)
{
	struct nc_sock *s = sock_get(nc, addr, errmsg);
	struct wire_header h = {.type = type};
	int rv;

	nc->pending = NULL;
	if (s == NULL)
		return CFS_EINVAL;
	nc->deadline = cfs_now_ms() + (timeout_ms > 0 ? timeout_ms : 5000);
	h.request_id = ++nc->next_rid;
	if (bulk_len > 0)
		h.flags = WIRE_F_BULK;
	zmq_pollitem_t out = {.socket = s->sock, .events = ZMQ_POLLOUT};
	int wait = timeout_ms > 0 && timeout_ms < NC_CONNECT_MS ? timeout_ms
								: NC_CONNECT_MS;
	if (zmq_poll(&out, 1, wait) != 1) {
		cfs_fail(errmsg, CFS_ECONNREFUSED, "%s: not reachable within "
			 "%d ms", s->addr, wait);
		sock_drop(s);
		return CFS_ECONNREFUSED;
	}
	if ((rv = send_request(s, &h, req, bulk, bulk_len, errmsg)) != 0) {
		sock_drop(s);
		return rv;
	}
	nc->pending = s;
	nc->pending_rid = h.request_id;
	return 0;
}

int
nc_finish(struct nc *nc, uint16_t *reply_type, union wire_body **reply,
	  const void **rbulk, size_t *rbulk_len, char *errmsg)
{
	struct nc_sock *s = nc->pending;
	struct wire_header rh;
	int rv;

	nc->pending = NULL;
	if (s == NULL)
		return cfs_fail(errmsg, CFS_EINVAL, "no request started");
	for (;;) {
		if ((rv = recv_reply(nc, s, nc->deadline, errmsg)) != 0) {
			sock_drop(s);
			return rv;
		}
		rv = wire_decode(zmq_msg_data(&nc->frame),
				 zmq_msg_size(&nc->frame), &rh, &nc->body,
				 errmsg);
		if (rv != 0) {
			cfs_errmsg_prefix(errmsg, "%s", s->addr);
			sock_drop(s);
			return rv;
		}
		if (rh.request_id == nc->pending_rid)
			break;
		/* a reply to an earlier request of this socket: skip */
	}
	if (rh.status != CFS_OK) {
		const char *m = rh.type == WIRE_T_error ? nc->body.error.message
							 : "";
		/* the node's message names the error already */
		cfs_errmsg_set(errmsg, "%s: %s", s->addr,
			       *m ? m : cfs_strerror(rh.status));
		return rh.status;
	}
	if (reply_type)
		*reply_type = rh.type;
	if (reply)
		*reply = &nc->body;
	if (rbulk)
		*rbulk = nc->have_bulk ? zmq_msg_data(&nc->bulk) : NULL;
	if (rbulk_len)
		*rbulk_len = nc->have_bulk ? zmq_msg_size(&nc->bulk) : 0;
	return 0;
}

int
nc_call(struct nc *nc, const char *addr, uint16_t type, const void *req,
	const void *bulk, size_t bulk_len, int timeout_ms,
	uint16_t *reply_type, union wire_body **reply, const void **rbulk,
	size_t *rbulk_len, char *errmsg)
{
	int rv = nc_start(nc, addr, type, req, bulk, bulk_len, timeout_ms,
			  errmsg);
	if (rv != 0)
		return rv;
	return nc_finish(nc, reply_type, reply, rbulk, rbulk_len, errmsg);
}
