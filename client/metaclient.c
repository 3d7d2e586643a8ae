/* metaclient.c - sessions, leader discovery and exactly-once retries over ZeroMQ DEALER sockets. */
#include "client/metaclient.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"

#define MC_MAX_SERVERS 16
#define MC_ADDR_SIZE (CFS_ADDR_MAX + 8) /* "tcp://" + host:port + NUL */
#define MC_BACKOFF_MIN_MS 5
#define MC_BACKOFF_MAX_MS 100
/* how soon a call waiting for its reply notices mc_cancel */
#define MC_CANCEL_POLL_MS 50
/* Waits for a lease recall: as lock waits (docs/locks.md). */
#define MC_BUSY_MIN_MS 2
#define MC_BUSY_MAX_MS 100
#define MC_NOTICE_MS 2000 /* mc_options.on_wait default */

/* One DEALER socket connected to one server, plus the PAIR socket that
 * receives its monitor events (connection lost / refused). */
struct mc_chan {
	void *sock;
	void *mon;
	int server;    /* index into mc->servers, -1 when closed */
	int connected; /* the monitor reported a TCP connection: a request
			  sent on it may have reached the server */
};

struct mc {
	void *zctx;
	int own_zctx; /* 0: borrowed from mc_options.zmq_context */
	struct mc_options opt;
	char client_name[256];

	/* Serializes calls: one request in flight per session. */
	pthread_mutex_t call_lock;
	/* Guarded by call_lock: */
	uint64_t sequence;        /* last sequence number used */
	struct mc_chan call_chan; /* the calls' socket */
	zmq_msg_t last;           /* frame the last reply borrows from */
	int have_last;
	union wire_body *scratch; /* decode space for typed calls */

	/* Guarded by lock (shared with the keepalive thread): */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char servers[MC_MAX_SERVERS][MC_ADDR_SIZE];
	int n_servers;
	int leader; /* index of the server believed to lead */
	uint64_t client_id;
	uint32_t lease_ms;
	int64_t alive_from; /* send time of the last acknowledged keepalive */
	unsigned opens;     /* sessions opened so far */
	int stopping;

	atomic_uint_fast64_t next_rid;
	atomic_int canceled; /* mc_cancel: calls return CFS_CANCELED */
	struct mc_chan ka_chan;   /* the keepalive thread's own socket */
	pthread_t ka_thread;
	int ka_started;
};

/* "host:port" or "tcp://host:port" -> "tcp://host:port" in @dst. */
static int
addr_normalize(char *dst, const char *src, size_t len, char *errmsg)
{
	const char *p = src;
	size_t n = len;

	while (n > 0 && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n >= 6 && strncmp(p, "tcp://", 6) == 0)
		p += 6, n -= 6;
	if (n == 0 || n > CFS_ADDR_MAX || memchr(p, ':', n) == NULL)
		return cfs_fail(errmsg, CFS_EINVAL,
				"server address '%.*s' is not host:port",
				(int)(len > 64 ? 64 : len), src);
	snprintf(dst, MC_ADDR_SIZE, "tcp://%.*s", (int)n, p);
	return 0;
}

/* Index of @addr in the server list, adding it if new and there is room.
 * -1 if it cannot be parsed or the list is full.  Requires mc->lock. */
static int
servers_find_or_add(struct mc *mc, const char *addr)
{
	char norm[MC_ADDR_SIZE];

	if (addr_normalize(norm, addr, strlen(addr), NULL) != 0)
		return -1;
	for (int i = 0; i < mc->n_servers; i++)
		if (strcmp(mc->servers[i], norm) == 0)
			return i;
	if (mc->n_servers == MC_MAX_SERVERS)
		return -1;
	memcpy(mc->servers[mc->n_servers], norm, MC_ADDR_SIZE);
	return mc->n_servers++;
}

/* Move the leader guess past @server unless someone already moved it. */
static void
leader_rotate(struct mc *mc, int server)
{
	pthread_mutex_lock(&mc->lock);
	if (mc->leader == server)
		mc->leader = (server + 1) % mc->n_servers;
	pthread_mutex_unlock(&mc->lock);
}

/* Rotate past @server and, if there is another choice, past @dead too. */
static void
leader_rotate_past(struct mc *mc, int server, int dead)
{
	leader_rotate(mc, server);
	pthread_mutex_lock(&mc->lock);
	if (mc->leader == dead && mc->n_servers > 2)
		mc->leader = (dead + 1) % mc->n_servers;
	pthread_mutex_unlock(&mc->lock);
}

/* ---- channels ------------------------------------------------------------ */

static void
chan_close(struct mc_chan *ch)
{
	if (ch->sock != NULL) {
		zmq_socket_monitor(ch->sock, NULL, 0);
		zmq_close(ch->sock);
	}
	if (ch->mon != NULL)
		zmq_close(ch->mon);
	ch->sock = NULL;
	ch->mon = NULL;
	ch->server = -1;
	ch->connected = 0;
}

static int
chan_open(struct mc *mc, struct mc_chan *ch, int server, const char *addr,
	  char *errmsg)
{
	char mon_ep[64];
	int zero = 0;

	chan_close(ch);
	/* unique per mc too: several mc's may share one context */
	/* Process-wide numbering: an mc closed and another allocated at the
	 * same address in a shared context must not reuse a name whose
	 * monitor socket is still being torn down. */
	static atomic_uint_fast64_t mon_seq;
	snprintf(mon_ep, sizeof(mon_ep), "inproc://mc-mon-%d-%llu",
		 (int)getpid(),
		 (unsigned long long)atomic_fetch_add(&mon_seq, 1));
	ch->sock = zmq_socket(mc->zctx, ZMQ_DEALER);
	if (ch->sock == NULL)
		goto err;
	zmq_setsockopt(ch->sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_socket_monitor(ch->sock, mon_ep,
			       ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
				       ZMQ_EVENT_CONNECT_RETRIED |
				       ZMQ_EVENT_CLOSED) != 0)
		goto err;
	ch->mon = zmq_socket(mc->zctx, ZMQ_PAIR);
	if (ch->mon == NULL)
		goto err;
	zmq_setsockopt(ch->mon, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(ch->mon, mon_ep) != 0)
		goto err;
	if (zmq_connect(ch->sock, addr) != 0)
		goto err;
	ch->server = server;
	return 0;
err:;
	int e = zmq_errno();
	chan_close(ch);
	return cfs_fail(errmsg, CFS_EIO, "socket for %s: %s", addr,
			zmq_strerror(e));
}

/* Read one monitor event; returns the event number or 0. */
static unsigned
chan_read_event(struct mc_chan *ch)
{
	zmq_msg_t m;
	unsigned ev = 0;

	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, ch->mon, ZMQ_DONTWAIT) >= 6) {
		const uint8_t *d = zmq_msg_data(&m);
		ev = (unsigned)(d[0] | (d[1] << 8));
	}
	while (zmq_msg_more(&m)) /* the endpoint frame */
		if (zmq_msg_recv(&m, ch->mon, ZMQ_DONTWAIT) < 0)
			break;
	zmq_msg_close(&m);
	return ev;
}

/* Read the monitor events queued for @ch, noting a connection made.
 * Returns the last failure event (connection lost, refused or closed) or
 * 0 if there was none. */
static unsigned
chan_drain_events(struct mc_chan *ch)
{
	unsigned failed = 0;
	int events;
	size_t sz = sizeof(events);

	while (zmq_getsockopt(ch->mon, ZMQ_EVENTS, &events, &sz) == 0 &&
	       (events & ZMQ_POLLIN)) {
		unsigned ev = chan_read_event(ch);
		if (ev == ZMQ_EVENT_CONNECTED)
			ch->connected = 1;
		else if (ev != 0)
			failed = ev;
		sz = sizeof(events);
	}
	return failed;
}

/* True if the connection failed since we last looked: then the socket may
 * hold a half-sent request and is recreated rather than reused. */
static int
chan_broken(struct mc_chan *ch)
{
	return chan_drain_events(ch) != 0;
}

/*
 * Send @frame to @server over @ch and wait up to @timeout_ms for the reply
 * whose request_id is @rid, dropping stale ones.  Cases:
 *  1) a reply: returns 0, *reply holds frame 0 (caller closes it);
 *  2) no reply in time: CFS_ETIMEDOUT;
 *  3) the monitor saw the connection drop or be refused: CFS_ECONNREFUSED;
 *  4) a socket error: CFS_EIO;
 *  5) mc_cancel was called: CFS_CANCELED within MC_CANCEL_POLL_MS.
 * On cases 2-5 the channel is closed, so no late reply can be mistaken for
 * the answer to a later request, and *reached (if not NULL) says whether
 * the request may have reached the server: 0 if no TCP connection was ever
 * made.  ZeroMQ writes a queued frame only after its handshake, which
 * follows the CONNECTED event, so without that event nothing was sent.
 */
static int
chan_exchange(struct mc *mc, struct mc_chan *ch, int server, const char *addr,
	      const uint8_t *frame, size_t len, uint64_t rid, int timeout_ms,
	      zmq_msg_t *reply, int *reached, char *errmsg)
{
	int64_t until = cfs_now_ms() + timeout_ms;
	int dummy, rv;

	if (reached == NULL)
		reached = &dummy;
	*reached = 1;

	if (ch->sock != NULL && (ch->server != server || chan_broken(ch)))
		chan_close(ch);
	if (ch->sock == NULL) {
		rv = chan_open(mc, ch, server, addr, errmsg);
		if (rv != 0) {
			*reached = 0;
			return rv;
		}
	}
	if (zmq_send(ch->sock, frame, len, ZMQ_DONTWAIT) != (int)len) {
		rv = cfs_fail(errmsg, CFS_ECONNREFUSED, "%s: send: %s", addr,
			      zmq_strerror(zmq_errno()));
		*reached = 0;
		chan_close(ch);
		return rv;
	}
	for (;;) {
		zmq_pollitem_t items[2] = {{ch->sock, 0, ZMQ_POLLIN, 0},
					   {ch->mon, 0, ZMQ_POLLIN, 0}};
		int64_t left = until - cfs_now_ms();
		int n;

		if (atomic_load(&mc->canceled)) {
			chan_drain_events(ch);
			*reached = ch->connected;
			rv = cfs_fail(errmsg, CFS_CANCELED, "%s: canceled",
				      addr);
			chan_close(ch);
			return rv;
		}
		if (left <= 0) {
			chan_drain_events(ch);
			*reached = ch->connected;
			rv = cfs_fail(errmsg, CFS_ETIMEDOUT,
				      ch->connected ? "%s: no reply in %d ms"
						    : "%s: no connection in %d ms",
				      addr, timeout_ms);
			chan_close(ch);
			return rv;
		}
		n = zmq_poll(items, 2,
			     (long)(left < MC_CANCEL_POLL_MS ? left
							     : MC_CANCEL_POLL_MS));
		if (n < 0 && zmq_errno() == EINTR)
			continue;
		if (n < 0) {
			rv = cfs_fail(errmsg, CFS_EIO, "%s: poll: %s", addr,
				      zmq_strerror(zmq_errno()));
			chan_close(ch);
			return rv;
		}
		if (items[0].revents & ZMQ_POLLIN) {
			struct wire_header h;
			int more;

			if (zmq_msg_recv(reply, ch->sock, ZMQ_DONTWAIT) < 0)
				continue;
			/* Skip an empty delimiter frame if the server
			 * sends one (REQ-style envelope). */
			if (zmq_msg_size(reply) == 0 && zmq_msg_more(reply))
				if (zmq_msg_recv(reply, ch->sock,
						 ZMQ_DONTWAIT) < 0)
					continue;
			more = zmq_msg_more(reply);
			if (more) { /* bulk frames: not used by metadata */
				zmq_msg_t rest;
				zmq_msg_init(&rest);
				while (more &&
				       zmq_msg_recv(&rest, ch->sock, 0) >= 0)
					more = zmq_msg_more(&rest);
				zmq_msg_close(&rest);
			}
			if (wire_header_decode(&h, zmq_msg_data(reply),
					       zmq_msg_size(reply),
					       NULL) == 0 &&
			    (h.flags & WIRE_F_REPLY) && h.request_id == rid)
				return 0;
			LOG_DEBUG("%s: dropping stale or foreign frame of "
				  "%zu bytes",
				  addr, zmq_msg_size(reply));
			continue;
		}
		if ((items[1].revents & ZMQ_POLLIN) &&
		    chan_drain_events(ch) != 0) {
			/* A refused connect is retried by ZeroMQ: without a
			 * connection before it, nothing was sent. */
			*reached = ch->connected;
			cfs_errmsg_set(errmsg, "%s: %s", addr,
				       ch->connected ? "connection lost"
						     : "connection refused");
			chan_close(ch);
			return CFS_ECONNREFUSED;
		}
	}
}

/* ---- calls --------------------------------------------------------------- */

static int
is_session_type(uint16_t type)
{
	return type == WIRE_T_session_open || type == WIRE_T_keepalive ||
	       type == WIRE_T_session_close;
}

static int open_session_locked(struct mc *mc, int timeout_ms, char *errmsg);

/*
 * Requests that change nothing a caller could observe: when one was sent
 * but not answered, saying its outcome is unknown would only alarm.  A
 * session opened without our hearing of it is unused and expires by
 * itself.  Any type not listed counts as a possible change.
 */
static int
is_harmless_type(uint16_t type)
{
	switch (type) {
	case WIRE_T_session_open: case WIRE_T_keepalive:
	case WIRE_T_session_close:
	case WIRE_T_lookup: case WIRE_T_getattr: case WIRE_T_readlink:
	case WIRE_T_readdir: case WIRE_T_statfs: case WIRE_T_getxattr:
	case WIRE_T_listxattr: case WIRE_T_frag_locate: case WIRE_T_lock_get:
	case WIRE_T_lease_watch: case WIRE_T_lease_list: case WIRE_T_status:
	case WIRE_T_dump: case WIRE_T_node_list:
		return 1;
	default:
		return 0;
	}
}

/* Append " addr" to the list of tried addresses once. */
static void
tried_note(char *tried, size_t size, const char *addr)
{
	if (strstr(tried, addr) != NULL)
		return;
	size_t l = strlen(tried);
	snprintf(tried + l, size - l, "%s%s", l ? ", " : "", addr);
}

/* Tell the caller once that call_locked() is still waiting
 * (mc_options.on_wait): for a leader, or for any server to answer. */
static void
wait_notice(struct mc *mc, const char *tried, const char *last, int noleader,
	    int64_t left)
{
	char what[1024]; /* tried (512) and last (CFS_ERRMSG_SIZE) */
	size_t n = strlen(tried);

	/* one server tried: its address once */
	if (strncmp(last, tried, n) == 0 && strncmp(last + n, ": ", 2) == 0)
		last += n + 2;
	if (noleader && strcmp(last, cfs_strerror(CFS_NOLEADER)) == 0)
		snprintf(what, sizeof(what), "no metadata leader yet at %s",
			 tried);
	else if (noleader)
		snprintf(what, sizeof(what), "no metadata leader yet at %s (%s)",
			 tried, last);
	else
		snprintf(what, sizeof(what), "no answer from %s yet (%s)",
			 tried, last);
	mc->opt.on_wait(mc->opt.on_wait_arg, what,
			left > 0 ? (int)left : 0);
}

/*
 * The retry loop of one logical request; requires call_lock.  (client_id,
 * sequence) are fixed here, before the first attempt, and never change for
 * this request, except when the session is reopened after a NOSESSION that
 * proves the request was never applied.
 */
static int
call_locked(struct mc *mc, uint16_t type, const void *req,
	    uint16_t *reply_type, union wire_body *reply, int timeout_ms,
	    char *errmsg)
{
	int64_t start = cfs_now_ms();
	int64_t deadline = start + timeout_ms;
	int64_t backoff = MC_BACKOFF_MIN_MS;
	struct wire_header h = {.type = type};
	char tried[512] = "";
	char last[CFS_ERRMSG_SIZE] = "";
	/* ambiguous: an attempt may have reached a server and not been
	 * answered; reached: some attempt reached a server at all */
	int ambiguous = 0, reached = 0, saw_noleader = 0, reopened = 0;
	int noticed = mc->opt.on_wait == NULL;
	int dead = -1; /* the server this call last found silent or refusing */
	uint8_t *frame = NULL;
	size_t len;
	int rv;

	pthread_mutex_lock(&mc->lock);
	h.client_id = mc->opt.no_session ? 0 : mc->client_id;
	pthread_mutex_unlock(&mc->lock);
	if (!mc->opt.no_session && !is_session_type(type))
		h.sequence = ++mc->sequence;
	if (mc->have_last) {
		zmq_msg_close(&mc->last);
		mc->have_last = 0;
	}

	for (;;) {
		char addr[MC_ADDR_SIZE];
		char msg[CFS_ERRMSG_SIZE] = "";
		struct wire_header rh;
		zmq_msg_t m;
		int server;
		int64_t left = deadline - cfs_now_ms();

		if (left <= 0)
			break;
		if (atomic_load(&mc->canceled)) {
			free(frame);
			return cfs_fail(errmsg, CFS_CANCELED, "%s: canceled",
					wire_type_name(type) ? wire_type_name(type)
							     : "request");
		}
		pthread_mutex_lock(&mc->lock);
		server = mc->leader;
		memcpy(addr, mc->servers[server], MC_ADDR_SIZE);
		pthread_mutex_unlock(&mc->lock);

		h.request_id = atomic_fetch_add(&mc->next_rid, 1) + 1;
		free(frame);
		frame = NULL;
		rv = wire_encode(&h, req, &frame, &len, errmsg);
		if (rv != 0)
			return rv;
		tried_note(tried, sizeof(tried), addr);
		zmq_msg_init(&m);
		int sent;
		rv = chan_exchange(mc, &mc->call_chan, server, addr, frame, len,
				   h.request_id,
				   (int)(left < mc->opt.attempt_timeout_ms
						 ? left
						 : mc->opt.attempt_timeout_ms),
				   &m, &sent, msg);
		reached |= sent;
		if (rv == CFS_ETIMEDOUT || rv == CFS_ECONNREFUSED) {
			/* If sent, the request may have reached the server. */
			zmq_msg_close(&m);
			ambiguous |= sent;
			dead = server;
			snprintf(last, sizeof(last), "%s", msg);
			leader_rotate(mc, server);
			goto backoff;
		}
		if (rv != 0) {
			zmq_msg_close(&m);
			free(frame);
			cfs_errmsg_set(errmsg, "%s", msg);
			return rv;
		}
		rv = wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), &rh, reply,
				 msg);
		if (rv != 0) {
			zmq_msg_close(&m);
			free(frame);
			return cfs_fail(errmsg, CFS_MALFORMED,
					"reply from %s: %s", addr, msg);
		}
		if (rh.status == CFS_OK) {
			if (rh.type == WIRE_T_error) {
				zmq_msg_close(&m);
				free(frame);
				return cfs_fail(errmsg, CFS_MALFORMED,
						"%s: error reply with status 0",
						addr);
			}
			if (reply_type != NULL)
				*reply_type = rh.type;
			if (mc->have_last) /* a session reopened meanwhile */
				zmq_msg_close(&mc->last);
			zmq_msg_init(&mc->last);
			zmq_msg_move(&mc->last, &m);
			zmq_msg_close(&m);
			mc->have_last = 1;
			free(frame);
			return 0;
		}
		if (rh.type == WIRE_T_error)
			snprintf(msg, sizeof(msg), "%s", reply->error.message);
		else
			msg[0] = '\0';
		if (rh.status == CFS_NOTLEADER) {
			int idx = -1;

			if (rh.type == WIRE_T_error &&
			    reply->error.leader[0] != '\0') {
				pthread_mutex_lock(&mc->lock);
				idx = servers_find_or_add(mc,
							  reply->error.leader);
				if (idx >= 0 && idx != server)
					mc->leader = idx;
				pthread_mutex_unlock(&mc->lock);
			}
			zmq_msg_close(&m);
			/* Servers turn this into NOLEADER when they know of
			 * no leader; an older one may not. */
			saw_noleader |= idx < 0;
			snprintf(last, sizeof(last), "%s: %s%s", addr,
				 idx >= 0 ? "not the leader, leader is "
					  : "not the leader, no leader known",
				 idx >= 0 ? mc->servers[idx] : "");
			/* Follow a redirect at once, except back to the
			 * server this call just found dead: right after a
			 * leader crash the followers still name it until
			 * they elect another, and going back would cost an
			 * attempt timeout each time. */
			if (idx >= 0 && idx != server && idx != dead)
				continue;
			if (idx == dead) {
				pthread_mutex_lock(&mc->lock);
				mc->leader = server;
				pthread_mutex_unlock(&mc->lock);
			}
			leader_rotate_past(mc, server, dead);
			goto backoff;
		}
		if (rh.status == CFS_NOLEADER || rh.status == CFS_SHUTDOWN ||
		    rh.status == CFS_UNAVAILABLE) {
			zmq_msg_close(&m);
			saw_noleader |= rh.status == CFS_NOLEADER;
			snprintf(last, sizeof(last), "%s: %s", addr,
				 msg[0] ? msg : cfs_strerror(rh.status));
			leader_rotate_past(mc, server, dead);
			goto backoff;
		}
		if (rh.status == CFS_NOSESSION && !mc->opt.no_session &&
		    !is_session_type(type) && !ambiguous && !reopened) {
			/* Every attempt was answered and refused, so the
			 * request was never applied: safe to resend under a
			 * new session with a fresh sequence. */
			zmq_msg_close(&m);
			LOG_INFO("session %llu expired; opening a new one",
				 (unsigned long long)h.client_id);
			rv = open_session_locked(
				mc, (int)(deadline - cfs_now_ms()), errmsg);
			if (rv != 0) {
				free(frame);
				return rv;
			}
			reopened = 1;
			pthread_mutex_lock(&mc->lock);
			h.client_id = mc->client_id;
			pthread_mutex_unlock(&mc->lock);
			h.sequence = ++mc->sequence;
			continue;
		}
		/* An answer: the operation's own result. */
		if (msg[0] != '\0')
			cfs_errmsg_set(errmsg, "%s", msg);
		else
			cfs_errmsg_set(errmsg, "%s", cfs_strerror(rh.status));
		zmq_msg_close(&m);
		free(frame);
		return cfs_error_known(rh.status) ? rh.status : CFS_EIO;
	backoff:
		left = deadline - cfs_now_ms();
		if (!noticed &&
		    cfs_now_ms() - start >= mc->opt.notice_ms && left > 0) {
			noticed = 1;
			wait_notice(mc, tried, last, saw_noleader, left);
		}
		cfs_sleep_ms(backoff < left ? backoff : left);
		backoff = backoff * 2 > MC_BACKOFF_MAX_MS ? MC_BACKOFF_MAX_MS
							  : backoff * 2;
	}
	free(frame);
	rv = saw_noleader ? CFS_NOLEADER : CFS_ETIMEDOUT;
	cfs_errmsg_set(errmsg,
		       "%s (%s): %s after %lld ms; tried %s%s%s%s",
		       wire_type_name(type) ? wire_type_name(type) : "request",
		       !reached ? "never reached a server"
		       : ambiguous && !is_harmless_type(type)
			       ? "outcome unknown"
			       : "not done",
		       cfs_strerror(rv), (long long)(cfs_now_ms() - start), tried,
		       last[0] ? " (last: " : "", last, last[0] ? ")" : "");
	return rv;
}

/* Open a new session (client_id 0, no sequence); requires call_lock. */
static int
open_session_locked(struct mc *mc, int timeout_ms, char *errmsg)
{
	struct wire_session_open req = {.lease_ms = mc->opt.lease_ms,
					.lease_owner = mc->opt.lease_owner};
	uint16_t rtype;
	int64_t sent = cfs_now_ms();
	int rv;

	snprintf(req.client_name, sizeof(req.client_name), "%s",
		 mc->client_name);
	pthread_mutex_lock(&mc->lock);
	mc->client_id = 0;
	pthread_mutex_unlock(&mc->lock);
	rv = call_locked(mc, WIRE_T_session_open, &req, &rtype, mc->scratch,
			 timeout_ms, errmsg);
	if (rv != 0) {
		cfs_errmsg_prefix(errmsg, "open session");
		return rv;
	}
	if (rtype != WIRE_T_session_opened ||
	    mc->scratch->session_opened.client_id == 0)
		return cfs_fail(errmsg, CFS_MALFORMED,
				"open session: unexpected reply %s",
				wire_type_name(rtype));
	pthread_mutex_lock(&mc->lock);
	mc->client_id = mc->scratch->session_opened.client_id;
	mc->lease_ms = mc->scratch->session_opened.lease_ms;
	mc->alive_from = sent;
	mc->opens++;
	/* The mount's lease owner is the id of its first session, kept when
	 * the session is replaced (docs/leases.md). */
	if (mc->opt.lease_owner == 0)
		mc->opt.lease_owner = mc->client_id;
	if (mc->lease_ms < 30)
		mc->lease_ms = 30; /* keepalive period lease/3 stays sane */
	pthread_cond_broadcast(&mc->cond);
	pthread_mutex_unlock(&mc->lock);
	mc->sequence = 0;
	return 0;
}

/* call_locked, and again after a backoff while another mount's lease is in
 * the way and is being recalled: nothing was changed, so the request is
 * sent again as a new one (docs/leases.md).  lease_get is not retried:
 * its callers decide how long to wait.  Requires call_lock, which it
 * drops while sleeping. */
static int
call_retry_locked(struct mc *mc, uint16_t type, const void *req,
		  uint16_t *reply_type, union wire_body *reply, int timeout_ms,
		  char *errmsg)
{
	int64_t deadline = cfs_now_ms() + timeout_ms;
	int64_t backoff = MC_BUSY_MIN_MS;
	int rv;

	for (;;) {
		int64_t left = deadline - cfs_now_ms();
		rv = call_locked(mc, type, req, reply_type, reply,
				 left > 1 ? (int)left : 1, errmsg);
		if (rv != CFS_LEASE_BUSY || type == WIRE_T_lease_get ||
		    cfs_now_ms() + backoff >= deadline)
			return rv;
		pthread_mutex_unlock(&mc->call_lock);
		cfs_sleep_ms(backoff);
		pthread_mutex_lock(&mc->call_lock);
		backoff = backoff * 2 > MC_BUSY_MAX_MS ? MC_BUSY_MAX_MS
						       : backoff * 2;
	}
}

int
mc_call(struct mc *mc, uint16_t type, const void *req, uint16_t *reply_type,
	union wire_body *reply, int timeout_ms, char *errmsg)
{
	int rv;

	if (mc->opt.before_call != NULL)
		mc->opt.before_call(mc->opt.before_call_arg);
	pthread_mutex_lock(&mc->call_lock);
	rv = call_retry_locked(mc, type, req, reply_type,
			       reply != NULL ? reply : mc->scratch,
			       timeout_ms > 0 ? timeout_ms
					      : mc->opt.deadline_ms,
			       errmsg);
	pthread_mutex_unlock(&mc->call_lock);
	return rv;
}

/* ---- keepalive ----------------------------------------------------------- */

/* One keepalive, tried on each server at most once, starting with the
 * leader guess; learns the leader from redirects.  Never holds call_lock. */
static void
keepalive_once(struct mc *mc, uint64_t client_id, int budget_ms)
{
	int64_t until = cfs_now_ms() + budget_ms;
	struct wire_header h = {.type = WIRE_T_keepalive,
				.client_id = client_id};
	union wire_body *body = malloc(sizeof(*body));
	int n;

	if (body == NULL)
		return;
	pthread_mutex_lock(&mc->lock);
	n = mc->n_servers;
	pthread_mutex_unlock(&mc->lock);
	for (int i = 0; i < n + 1 && cfs_now_ms() < until; i++) {
		char addr[MC_ADDR_SIZE];
		char msg[CFS_ERRMSG_SIZE];
		uint8_t frame[WIRE_HEADER_SIZE];
		struct wire_header rh;
		size_t len;
		zmq_msg_t m;
		int server, rv;

		pthread_mutex_lock(&mc->lock);
		server = mc->leader;
		memcpy(addr, mc->servers[server], MC_ADDR_SIZE);
		pthread_mutex_unlock(&mc->lock);
		h.request_id = atomic_fetch_add(&mc->next_rid, 1) + 1;
		if (wire_encode_into(&h, NULL, frame, sizeof(frame), &len,
				     msg) != 0)
			break;
		zmq_msg_init(&m);
		int64_t sent = cfs_now_ms();
		rv = chan_exchange(mc, &mc->ka_chan, server, addr, frame, len,
				   h.request_id, (int)(until - cfs_now_ms()), &m,
				   NULL, msg);
		if (rv == CFS_CANCELED) { /* (the server is not to blame) */
			zmq_msg_close(&m);
			break;
		}
		if (rv != 0) {
			zmq_msg_close(&m);
			LOG_DEBUG("keepalive: %s", msg);
			leader_rotate(mc, server);
			continue;
		}
		rv = wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), &rh, body,
				 msg);
		zmq_msg_close(&m);
		if (rv == 0 && rh.status == CFS_OK) {
			pthread_mutex_lock(&mc->lock);
			if (mc->client_id == client_id && sent > mc->alive_from)
				mc->alive_from = sent;
			pthread_mutex_unlock(&mc->lock);
		}
		if (rv != 0 || rh.status == CFS_OK)
			break;
		if (rh.status == CFS_NOTLEADER && rh.type == WIRE_T_error &&
		    body->error.leader[0] != '\0') {
			pthread_mutex_lock(&mc->lock);
			int idx = servers_find_or_add(mc, body->error.leader);
			if (idx >= 0)
				mc->leader = idx;
			pthread_mutex_unlock(&mc->lock);
			continue;
		}
		if (rh.status == CFS_NOTLEADER || rh.status == CFS_NOLEADER) {
			leader_rotate(mc, server);
			continue;
		}
		/* NOSESSION and others: the next call deals with it. */
		LOG_DEBUG("keepalive: %s", cfs_strerror(rh.status));
		break;
	}
	free(body);
}

static void *
keepalive_main(void *arg)
{
	struct mc *mc = arg;

	pthread_mutex_lock(&mc->lock);
	while (!mc->stopping) {
		int64_t period = mc->lease_ms / 3;
		struct timespec ts;
		uint64_t cid;

		cfs_deadline_ts(&ts, period);
		pthread_cond_timedwait(&mc->cond, &mc->lock, &ts);
		if (mc->stopping)
			break;
		cid = mc->client_id;
		if (cid == 0)
			continue;
		pthread_mutex_unlock(&mc->lock);
		keepalive_once(mc, cid, (int)period);
		pthread_mutex_lock(&mc->lock);
	}
	pthread_mutex_unlock(&mc->lock);
	chan_close(&mc->ka_chan);
	return NULL;
}

/* ---- open / close -------------------------------------------------------- */

int
mc_open(struct mc **out, const char *servers, const struct mc_options *opt,
	char *errmsg)
{
	struct mc *mc = calloc(1, sizeof(*mc));
	const char *p = servers;
	int rv;

	if (mc == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "metadata client");
	if (opt != NULL)
		mc->opt = *opt;
	snprintf(mc->client_name, sizeof(mc->client_name), "%s",
		 mc->opt.client_name ? mc->opt.client_name : "cfs");
	mc->opt.client_name = mc->client_name;
	if (mc->opt.lease_ms == 0)
		mc->opt.lease_ms = 10000;
	if (mc->opt.attempt_timeout_ms <= 0)
		mc->opt.attempt_timeout_ms = 1000;
	if (mc->opt.deadline_ms <= 0)
		mc->opt.deadline_ms = 15000;
	if (mc->opt.notice_ms <= 0)
		mc->opt.notice_ms = MC_NOTICE_MS;
	mc->lease_ms = mc->opt.lease_ms;
	mc->call_chan.server = -1;
	mc->ka_chan.server = -1;
	pthread_mutex_init(&mc->call_lock, NULL);
	pthread_mutex_init(&mc->lock, NULL);
	cfs_cond_init_monotonic(&mc->cond);

	while (servers != NULL && *p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (mc->n_servers == MC_MAX_SERVERS) {
			rv = cfs_fail(errmsg, CFS_EINVAL,
				      "more than %d servers", MC_MAX_SERVERS);
			goto err;
		}
		rv = addr_normalize(mc->servers[mc->n_servers], p, n, errmsg);
		if (rv != 0)
			goto err;
		mc->n_servers++;
		p = end ? end + 1 : p + n;
	}
	if (mc->n_servers == 0) {
		rv = cfs_fail(errmsg, CFS_EINVAL, "no metadata server given");
		goto err;
	}
	mc->scratch = malloc(sizeof(*mc->scratch));
	mc->own_zctx = mc->opt.zmq_context == NULL;
	mc->zctx = mc->own_zctx ? zmq_ctx_new() : mc->opt.zmq_context;
	if (mc->scratch == NULL || mc->zctx == NULL) {
		rv = cfs_fail(errmsg, CFS_ENOMEM, "metadata client");
		goto err;
	}
	if (!mc->opt.no_session) {
		pthread_mutex_lock(&mc->call_lock);
		rv = open_session_locked(mc, mc->opt.deadline_ms, errmsg);
		pthread_mutex_unlock(&mc->call_lock);
		if (rv != 0)
			goto err;
		if (pthread_create(&mc->ka_thread, NULL, keepalive_main, mc) !=
		    0) {
			rv = cfs_fail(errmsg, CFS_ENOMEM, "keepalive thread");
			goto err;
		}
		mc->ka_started = 1;
	}
	*out = mc;
	return 0;
err:
	mc_close(&mc);
	return rv;
}

void
mc_cancel(struct mc *mc)
{
	atomic_store(&mc->canceled, 1);
}

void
mc_close(struct mc **mcp)
{
	struct mc *mc = *mcp;

	if (mc == NULL)
		return;
	if (mc->ka_started) {
		pthread_mutex_lock(&mc->lock);
		mc->stopping = 1;
		pthread_cond_broadcast(&mc->cond);
		pthread_mutex_unlock(&mc->lock);
		pthread_join(mc->ka_thread, NULL);
	}
	if (mc->client_id != 0 && mc->zctx != NULL) {
		char ignored[CFS_ERRMSG_SIZE];
		struct wire_session_close req;

		memset(&req, 0, sizeof(req));
		atomic_store(&mc->canceled, 0); /* the close is still sent */
		mc->opt.attempt_timeout_ms = 200;
		pthread_mutex_lock(&mc->call_lock);
		call_locked(mc, WIRE_T_session_close, &req, NULL, mc->scratch,
			    300, ignored);
		pthread_mutex_unlock(&mc->call_lock);
	}
	if (mc->have_last)
		zmq_msg_close(&mc->last);
	chan_close(&mc->call_chan);
	chan_close(&mc->ka_chan);
	if (mc->zctx != NULL && mc->own_zctx)
		zmq_ctx_term(mc->zctx);
	free(mc->scratch);
	pthread_cond_destroy(&mc->cond);
	pthread_mutex_destroy(&mc->lock);
	pthread_mutex_destroy(&mc->call_lock);
	free(mc);
	*mcp = NULL;
}

int
mc_set_deadline(struct mc *mc, int deadline_ms)
{
	pthread_mutex_lock(&mc->call_lock);
	int old = mc->opt.deadline_ms;
	if (deadline_ms > 0)
		mc->opt.deadline_ms = deadline_ms;
	pthread_mutex_unlock(&mc->call_lock);
	return old;
}

uint64_t
mc_client_id(struct mc *mc)
{
	uint64_t id;

	pthread_mutex_lock(&mc->lock);
	id = mc->client_id;
	pthread_mutex_unlock(&mc->lock);
	return id;
}

void
mc_leader(struct mc *mc, char *buf, size_t size)
{
	pthread_mutex_lock(&mc->lock);
	snprintf(buf, size, "%s", mc->servers[mc->leader]);
	pthread_mutex_unlock(&mc->lock);
}

/* ---- typed namespace calls ----------------------------------------------- */

static void cred_fill(struct mc *mc, struct wire_cred *c);

int64_t
mc_alive_until(struct mc *mc, unsigned *opens)
{
	int64_t until = 0;

	pthread_mutex_lock(&mc->lock);
	if (mc->client_id != 0)
		until = mc->alive_from + (int64_t)mc->lease_ms * 8 / 10;
	if (opens != NULL)
		*opens = mc->opens;
	pthread_mutex_unlock(&mc->lock);
	return until;
}

uint64_t
mc_lease_owner(struct mc *mc)
{
	pthread_mutex_lock(&mc->lock);
	uint64_t owner = mc->opt.lease_owner;
	pthread_mutex_unlock(&mc->lock);
	return owner;
}

void
mc_cred(struct mc *mc, struct wire_cred *c)
{
	cred_fill(mc, c);
}

static void
cred_fill(struct mc *mc, struct wire_cred *c)
{
	memset(c, 0, sizeof(*c));
	c->uid = mc->opt.use_cred ? mc->opt.uid : (uint32_t)getuid();
	c->gid = mc->opt.use_cred ? mc->opt.gid : (uint32_t)getgid();
}

/* Call and copy the first @size bytes of the reply body (a struct
 * wire_<expect>) to @out, under call_lock so the scratch space is ours. */
static int
call_expect(struct mc *mc, uint16_t type, const void *req, uint16_t expect,
	    void *out, size_t size, char *errmsg)
{
	uint16_t rtype;
	int rv;

	pthread_mutex_lock(&mc->call_lock);
	rv = call_retry_locked(mc, type, req, &rtype, mc->scratch,
			       mc->opt.deadline_ms, errmsg);
	if (rv == 0 && rtype != expect)
		rv = cfs_fail(errmsg, CFS_MALFORMED,
			      "%s: reply %s, expected %s", wire_type_name(type),
			      wire_type_name(rtype) ? wire_type_name(rtype)
						    : "?",
			      wire_type_name(expect));
	if (rv == 0 && out != NULL)
		memcpy(out, mc->scratch, size);
	pthread_mutex_unlock(&mc->call_lock);
	return rv;
}

static int
call_entry(struct mc *mc, uint16_t type, const void *req,
	   struct wire_attr *attr, char *errmsg)
{
	struct wire_entry e;
	int rv = call_expect(mc, type, req, WIRE_T_entry, &e, sizeof(e),
			     errmsg);

	if (rv == 0 && attr != NULL)
		*attr = e.attr;
	return rv;
}

int
mc_lookup(struct mc *mc, uint64_t parent, const char *name,
	  struct wire_attr *attr, char *errmsg)
{
	struct wire_lookup req = {.parent = parent};

	cred_fill(mc, &req.cred);
	snprintf(req.name, sizeof(req.name), "%s", name);
	return call_entry(mc, WIRE_T_lookup, &req, attr, errmsg);
}

int
mc_getattr(struct mc *mc, uint64_t ino, struct wire_attr *attr, char *errmsg)
{
	struct wire_getattr req = {.ino = ino};

	cred_fill(mc, &req.cred);
	return call_entry(mc, WIRE_T_getattr, &req, attr, errmsg);
}

static int
mknod_call(struct mc *mc, uint64_t parent, const char *name, uint32_t mode,
	   struct wire_attr *attr, char *errmsg)
{
	struct wire_mknod req = {
		.parent = parent, .mode = mode, .flags = CFS_MKNOD_EXCL};

	cred_fill(mc, &req.cred);
	snprintf(req.name, sizeof(req.name), "%s", name);
	return call_entry(mc, WIRE_T_mknod, &req, attr, errmsg);
}

int
mc_mkdir(struct mc *mc, uint64_t parent, const char *name, uint32_t mode,
	 struct wire_attr *attr, char *errmsg)
{
	return mknod_call(mc, parent, name, S_IFDIR | (mode & 07777), attr,
			  errmsg);
}

int
mc_create(struct mc *mc, uint64_t parent, const char *name, uint32_t mode,
	  struct wire_attr *attr, char *errmsg)
{
	return mknod_call(mc, parent, name, S_IFREG | (mode & 07777), attr,
			  errmsg);
}

static int
unlink_call(struct mc *mc, uint16_t type, uint64_t parent, const char *name,
	    char *errmsg)
{
	struct wire_unlink req = {.parent = parent};

	cred_fill(mc, &req.cred);
	snprintf(req.name, sizeof(req.name), "%s", name);
	return call_expect(mc, type, &req, WIRE_T_ok, NULL, 0, errmsg);
}

int
mc_unlink(struct mc *mc, uint64_t parent, const char *name, char *errmsg)
{
	return unlink_call(mc, WIRE_T_unlink, parent, name, errmsg);
}

int
mc_rmdir(struct mc *mc, uint64_t parent, const char *name, char *errmsg)
{
	return unlink_call(mc, WIRE_T_rmdir, parent, name, errmsg);
}

int
mc_rename(struct mc *mc, uint64_t parent, const char *name,
	  uint64_t newparent, const char *newname, uint32_t flags,
	  char *errmsg)
{
	struct wire_rename req = {
		.parent = parent, .newparent = newparent, .flags = flags};

	cred_fill(mc, &req.cred);
	snprintf(req.name, sizeof(req.name), "%s", name);
	snprintf(req.newname, sizeof(req.newname), "%s", newname);
	return call_expect(mc, WIRE_T_rename, &req, WIRE_T_ok, NULL, 0,
			   errmsg);
}

int
mc_chmod(struct mc *mc, uint64_t ino, uint32_t mode, struct wire_attr *attr,
	 char *errmsg)
{
	struct wire_setattr req = {
		.ino = ino, .valid = CFS_SETATTR_MODE, .mode = mode & 07777};

	cred_fill(mc, &req.cred);
	return call_entry(mc, WIRE_T_setattr, &req, attr, errmsg);
}

int
mc_readdir(struct mc *mc, uint64_t ino, uint64_t cookie, uint32_t max_entries,
	   int names_only, struct wire_dirents *out, char *errmsg)
{
	struct wire_readdir req = {.ino = ino,
				   .cookie = cookie,
				   .max_entries = max_entries,
				   .names_only = names_only != 0};

	cred_fill(mc, &req.cred);
	return call_expect(mc, WIRE_T_readdir, &req, WIRE_T_dirents, out,
			   sizeof(*out), errmsg);
}
