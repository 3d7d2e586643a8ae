/* server.c - cfs-meta's event loop: Raft wiring, the ZeroMQ front, group commit, linearizable reads, sessions. */
#include "meta/server.h"

#include <errno.h>
#include <fcntl.h>
#include <raft.h>
#include <raft/uv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "meta/entry.h"
#include "meta/fsm.h"
#include "meta/lease.h"
#include "meta/lock.h"
#include "meta/ns.h"
#include "meta/recall.h"
#include "meta/repair.h"
#include "meta/session.h"
#include "meta/xport.h"

#define CONTAINER_OF(p, type, member)                                        \
	((type *)(void *)((char *)(p)-offsetof(type, member)))

#define PENDING_BUCKETS 4096 /* power of two */
#define TICK_MS 250
/* A lease_watch that finds no recall waits for one as long as it asks,
 * by default and at most (clients give each attempt longer:
 * docs/leases.md). */
#define WATCH_PARK_MS 1000
#define WATCH_PARK_MAX_MS 5000
#define IDENT_MAX 255

/* ---- requests ----------------------------------------------------------- */

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

struct proposal {
	struct raft_apply req;
	struct meta_server *s;
	struct plist items;
};

struct read_batch {
	struct raft_barrier req;
	struct meta_server *s;
	struct plist items;
	uint64_t term;
	uint64_t started; /* uv_hrtime() before raft_barrier(): the lease base */
	int confirm; /* the barrier a new leader issues before serving */
};

struct admin_op {
	union {
		struct raft_change change;
		struct raft_transfer transfer;
	} u;
	struct meta_server *s;
	struct pending *p;
	uint64_t target;
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

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
plist_init(struct plist *l)
{
	l->head = NULL;
	l->tail = &l->head;
	l->n = 0;
}

static void
plist_push(struct plist *l, struct pending *p)
{
	p->next = NULL;
	*l->tail = p;
	l->tail = &p->next;
	l->n++;
}

static unsigned
phash(uint64_t client_id, uint64_t seq)
{
	uint64_t h = (client_id * 0x9E3779B97F4A7C15ull) ^ (seq + (seq << 17));
	return (unsigned)(h ^ (h >> 29)) & (PENDING_BUCKETS - 1);
}

static struct pending *
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

static void
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

static void
pending_free(struct meta_server *s, struct pending *p)
{
	pending_unhash(s, p);
	free(p->frame);
	free(p);
	s->inflight--;
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
static void
send_reply_frame(struct meta_server *s, const uint8_t *ident,
		 size_t ident_len, uint64_t request_id, const uint8_t *frame,
		 size_t len)
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

static void
send_error(struct meta_server *s, const uint8_t *ident, size_t ident_len,
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

static void
answer_error(struct meta_server *s, struct pending *p, int status,
	     const char *message)
{
	struct wire_header h = {.type = p->type,
				.request_id = p->request_id,
				.client_id = p->client_id,
				.sequence = p->seq};
	if (!p->answered)
		send_error(s, p->ident, p->ident_len, &h, status, message);
	p->answered = 1;
}

static void
send_body(struct meta_server *s, const uint8_t *ident, size_t ident_len,
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
		send_error(s, ident, ident_len, req, rv, errmsg);
		return;
	}
	send_to(s, ident, ident_len, frame, len);
	free(frame);
}

/* ---- sessions on the leader (meta/session.c keeps the clock) ---------- */

static void
resync_one(void *data, uint64_t client_id, uint32_t lease_ms)
{
	struct meta_server *s = data;
	if (session_clock_resync_one(&s->sessions, client_id, lease_ms,
				     uv_now(&s->loop)) != 0)
		LOG_ERROR("out of memory tracking session %016llx",
			  (unsigned long long)client_id);
}

/* Make the tracked set equal to the sessions in the state machine. */
static void
sessions_resync(struct meta_server *s)
{
	session_clock_resync_begin(&s->sessions);
	fsm_sessions(s->fsm, resync_one, s);
	session_clock_resync_end(&s->sessions);
}

static int enqueue_internal(struct meta_server *s, uint16_t type,
			    const void *body);
static void recalls_reset(struct meta_server *s, int renew);

static int
expire_one(void *data, uint64_t client_id, uint64_t silent_ms)
{
	struct meta_server *s = data;
	struct wire_session_expire e = {.client_id = client_id};

	LOG_INFO("session %016llx expired after %llu ms of silence",
		 (unsigned long long)client_id, (unsigned long long)silent_ms);
	return enqueue_internal(s, WIRE_T_session_expire, &e);
}

/* ---- applying: replies to the waiting clients ---------------------------- */

static void
on_apply_reply(void *data, uint64_t client_id, uint64_t seq,
	       const uint8_t *frame, size_t len)
{
	struct meta_server *s = data;
	struct pending *p = pending_find(s, client_id, seq);

	if (p == NULL || p->answered)
		return; /* proposed by another leader, or answered already */
	send_reply_frame(s, p->ident, p->ident_len, p->request_id, frame, len);
	p->answered = 1;
	pending_unhash(s, p);
	if (p->type == WIRE_T_session_open && s->leader)
		sessions_resync(s); /* start the new session's clock */
}

static void
apply_cb(struct raft_apply *req, int status, void *result)
{
	struct proposal *pr = CONTAINER_OF(req, struct proposal, req);
	struct meta_server *s = pr->s;

	(void)result;
	for (struct pending *p = pr->items.head, *next; p; p = next) {
		next = p->next;
		if (!p->answered) {
			if (status != 0)
				/* RAFT_LEADERSHIPLOST & co: the entry may
				 * still commit.  The client retries with the
				 * same sequence and the fsm deduplicates. */
				answer_error(s, p, CFS_NOTLEADER,
					     "leadership lost while the request "
					     "was in flight; retry");
			else
				answer_error(s, p, CFS_INTERNAL,
					     "applied without a reply");
		}
		pending_free(s, p);
	}
	free(pr);
}

/* Pack everything queued into entries (group commit) and propose them. */
static void
propose_queued(struct meta_server *s)
{
	while (s->mq.head != NULL) {
		struct proposal *pr = calloc(1, sizeof(*pr));
		struct entry_builder b;
		char errmsg[CFS_ERRMSG_SIZE];
		int rv;

		if (pr == NULL || entry_begin(&b, (int64_t)now_ns()) != 0) {
			free(pr);
			LOG_ERROR("out of memory proposing an entry");
			return;
		}
		pr->s = s;
		plist_init(&pr->items);
		while (s->mq.head != NULL &&
		       pr->items.n < (unsigned)s->opt.batch_max) {
			struct pending *p = s->mq.head;
			if (entry_add(&b, p->frame, p->len) != 0)
				break;
			s->mq.head = p->next;
			s->mq.n--;
			plist_push(&pr->items, p);
		}
		if (s->mq.head == NULL)
			s->mq.tail = &s->mq.head;
		struct raft_buffer buf;
		entry_finish(&b, &buf.base, &buf.len);
		pr->req.data = pr;
		rv = raft_apply(&s->raft, &pr->req, &buf, 1, apply_cb);
		if (rv != 0) {
			raft_free(buf.base);
			snprintf(errmsg, sizeof(errmsg), "cannot propose: %s",
				 raft_strerror(rv));
			for (struct pending *p = pr->items.head, *next; p;
			     p = next) {
				next = p->next;
				answer_error(s, p, CFS_NOTLEADER, errmsg);
				pending_free(s, p);
			}
			free(pr);
		}
	}
}

/* ---- reads --------------------------------------------------------------- */

static void
barrier_cb(struct raft_barrier *req, int status)
{
	struct read_batch *rb = CONTAINER_OF(req, struct read_batch, req);
	struct meta_server *s = rb->s;
	char errmsg[CFS_ERRMSG_SIZE];

	s->barriers--;
	if (status == 0 && s->leader && s->term == rb->term &&
	    rb->started >= s->lease_floor &&
	    rb->started + s->lease_ns > s->lease_until)
		s->lease_until = rb->started + s->lease_ns;
	if (rb->confirm && status == 0 && s->leader && s->term == rb->term) {
		s->confirmed = 1;
		sessions_resync(s);
		repair_lead(s->repair, 1, uv_now(&s->loop));
		struct fsm_info info;
		fsm_info(s->fsm, &info);
		LOG_INFO("leader for term %llu confirmed at index %llu: "
			 "serving (%llu sessions%s)",
			 (unsigned long long)s->term,
			 (unsigned long long)fsm_applied(s->fsm),
			 (unsigned long long)info.sessions,
			 info.formatted ? "" : ", filesystem not formatted");
	}
	for (struct pending *p = rb->items.head, *next; p; p = next) {
		next = p->next;
		if (status != 0) {
			answer_error(s, p, CFS_NOTLEADER,
				     "leadership not confirmed; retry");
		} else {
			struct wire_header h;
			uint8_t *frame = NULL;
			s->reads_barrier++;
			size_t len = 0;
			if (wire_decode(p->frame, p->len, &h, &s->body,
					errmsg) == 0 &&
			    fsm_read(s->fsm, &h, &s->body, &frame, &len,
				     errmsg) == 0)
				send_reply_frame(s, p->ident, p->ident_len,
						 p->request_id, frame, len);
			else
				answer_error(s, p, CFS_INTERNAL, errmsg);
			free(frame);
			p->answered = 1;
		}
		pending_free(s, p);
	}
	free(rb);
}

static int
start_barrier(struct meta_server *s, int confirm)
{
	struct read_batch *rb = calloc(1, sizeof(*rb));
	if (rb == NULL)
		return CFS_ENOMEM;
	rb->s = s;
	rb->confirm = confirm;
	rb->term = s->term;
	plist_init(&rb->items);
	if (!confirm) {
		rb->items = s->rq;
		if (rb->items.head == NULL)
			rb->items.tail = &rb->items.head;
		plist_init(&s->rq);
	}
	rb->req.data = rb;
	rb->started = uv_hrtime();
	s->barriers++;
	int rv = raft_barrier(&s->raft, &rb->req, barrier_cb);
	if (rv != 0) {
		barrier_cb(&rb->req, rv);
		return CFS_NOTLEADER;
	}
	return 0;
}

/* May a read be answered from this server's state at once?  Only while
 * the read lease holds (see struct meta_server) and libraft still calls
 * us leader of the term the lease was earned in.  STACK.md: raft_state()
 * alone is not a lease; the lease is what bounds how long a paused or
 * partitioned leader may go on answering. */
static int
read_lease_valid(struct meta_server *s)
{
	return s->leader && s->confirmed &&
	       raft_state(&s->raft) == RAFT_LEADER &&
	       s->raft.current_term == s->term && uv_hrtime() < s->lease_until;
}

/* Answer a read now, under the lease; renew the lease in the background
 * once half of it is gone, so a steady stream of reads never waits for a
 * barrier. */
static void
read_local(struct meta_server *s, const uint8_t *ident, size_t ident_len,
	   struct wire_header *h, union wire_body *b)
{
	char errmsg[CFS_ERRMSG_SIZE];
	uint8_t *frame = NULL;
	size_t len = 0;

	s->reads_local++;
	if (fsm_read(s->fsm, h, b, &frame, &len, errmsg) == 0)
		send_reply_frame(s, ident, ident_len, h->request_id, frame,
				 len);
	else
		send_error(s, ident, ident_len, h, CFS_INTERNAL, errmsg);
	free(frame);
	if (s->barriers == 0 && s->lease_until - uv_hrtime() < s->lease_ns / 2)
		start_barrier(s, 0);
}

/* A leadership transfer makes its target stand for election at once, and
 * its voters ignore the leader they know (libraft's disrupt_leader); a
 * membership change alters what a majority is.  Neither may overlap a
 * read lease: drop it, earn none until the change is over and a full
 * election timeout has passed. */
static void
lease_suspend(struct meta_server *s)
{
	s->admin_ops++;
	s->lease_until = 0;
	s->lease_floor = UINT64_MAX;
}

static void
lease_resume(struct meta_server *s)
{
	if (--s->admin_ops == 0)
		s->lease_floor = uv_hrtime() + 4 * s->lease_ns;
}

/* ---- leadership ---------------------------------------------------------- */

static void
fail_queue(struct meta_server *s, struct plist *l, int status, const char *m)
{
	for (struct pending *p = l->head, *next; p; p = next) {
		next = p->next;
		answer_error(s, p, status, m);
		pending_free(s, p);
	}
	plist_init(l);
}

static void
leadership_check(struct meta_server *s)
{
	int is_leader = raft_state(&s->raft) == RAFT_LEADER;

	if (is_leader && (!s->leader || s->term != s->raft.current_term)) {
		s->leader = 1;
		s->confirmed = 0;
		s->lease_until = 0;
		s->term = s->raft.current_term;
		s->tag = 0;
		LOG_INFO("elected leader for term %llu; confirming with a "
			 "barrier",
			 (unsigned long long)s->term);
		/* libraft 0.15 appends no entry at the start of a term: until
		 * a barrier of this term commits, older entries may not be
		 * applied yet (STACK.md).  No reads, no session expiry, no
		 * leases before that. */
		start_barrier(s, 1);
	} else if (!is_leader && s->leader) {
		s->leader = 0;
		s->confirmed = 0;
		s->lease_until = 0;
		session_clock_clear(&s->sessions);
		recalls_reset(s, 1);
		repair_lead(s->repair, 0, uv_now(&s->loop));
		raft_id id = 0;
		const char *addr = NULL;
		raft_leader(&s->raft, &id, &addr);
		LOG_INFO("no longer leader (term %llu, leader now %llu)",
			 (unsigned long long)s->raft.current_term,
			 (unsigned long long)id);
		fail_queue(s, &s->mq, CFS_NOTLEADER, "not the leader");
		fail_queue(s, &s->rq, CFS_NOTLEADER, "not the leader");
	}
}

/* ---- lease recalls (docs/leases.md; the book is meta/recall.c) ---------- */

/* A lease_watch waiting for recalls. */
struct watch {
	struct wire_header h;
	uint64_t holder;
	size_t ident_len;
	uint8_t ident[IDENT_MAX];
};

/* Answer @w with up to CFS_LEASE_RECALL_MAX of its holder's recalls (an
 * error instead when @status is not 0) and free it. */
static void
watch_answer(struct meta_server *s, struct watch *w, int status)
{
	struct wire_lease_recall *r = malloc(sizeof(*r));

	if (status != 0 || r == NULL) {
		send_error(s, w->ident, w->ident_len, &w->h,
			   status ? status : CFS_ENOMEM,
			   status ? "not the leader" : "out of memory");
	} else {
		r->inos_count = (uint32_t)recall_take(
			s->recalls, w->holder, r->inos, CFS_LEASE_RECALL_MAX);
		send_body(s, w->ident, w->ident_len, &w->h,
			  WIRE_T_lease_recall, r);
	}
	free(r);
	free(w);
}

static void
watch_fail(void *watch, void *data)
{
	watch_answer(data, watch, CFS_NOTLEADER);
}

/* Applying found @holder's lease on @ino in the way of a request: on the
 * leader, note the recall and wake the holder's watch. */
static void
on_recall(void *data, uint64_t holder, uint64_t session, uint64_t ino)
{
	struct meta_server *s = data;

	(void)session;
	if (!s->leader || s->recalls == NULL)
		return;
	struct watch *w = recall_note(s->recalls, holder, ino);
	if (w != NULL)
		watch_answer(s, w, 0);
}

/* Leadership lost or server stopping: parked watches are told to go
 * elsewhere, the notes are forgotten (the refused requests are retried
 * and note them again). */
static void
recalls_reset(struct meta_server *s, int renew)
{
	recall_free(&s->recalls, watch_fail, s);
	if (renew)
		s->recalls = recall_new();
}

/* Parked watches whose time is up are answered empty. */
static void
recalls_tick(struct meta_server *s)
{
	struct watch *w;

	while (s->recalls != NULL &&
	       (w = recall_due(s->recalls, uv_now(&s->loop))) != NULL)
		watch_answer(s, w, 0);
}

/* lease_watch: the holder's recalls at once, or parked until one is
 * noted or its wait is over (then empty). */
static void
handle_lease_watch(struct meta_server *s, const uint8_t *ident,
		   size_t ident_len, const struct wire_header *h,
		   const struct wire_lease_watch *m)
{
	struct watch *w;

	if (!s->confirmed || s->recalls == NULL) {
		send_error(s, ident, ident_len, h, CFS_NOLEADER,
			   "new leader not yet confirmed");
		return;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		send_error(s, ident, ident_len, h, CFS_ENOMEM,
			   "server out of memory");
		return;
	}
	w->h = *h;
	w->holder = m->holder;
	w->ident_len = ident_len > IDENT_MAX ? IDENT_MAX : ident_len;
	memcpy(w->ident, ident, w->ident_len);
	if (recall_pending(s->recalls, m->holder) > 0) {
		watch_answer(s, w, 0);
		return;
	}
	uint32_t park = m->wait_ms == 0 ? WATCH_PARK_MS
			: m->wait_ms > WATCH_PARK_MAX_MS ? WATCH_PARK_MAX_MS
							  : m->wait_ms;
	struct watch *old = recall_park(s->recalls, m->holder, w,
					uv_now(&s->loop) + park);
	if (old == w) {
		send_error(s, ident, ident_len, h, CFS_ENOMEM,
			   "server out of memory");
		free(w);
	} else if (old != NULL) {
		watch_answer(s, old, 0); /* replaced: answered empty */
	}
}

/* ---- intake --------------------------------------------------------------- */

static struct pending *
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

static int
enqueue_internal(struct meta_server *s, uint16_t type, const void *body)
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
		send_error(s, ident, ident_len, h, CFS_ENOMEM,
			   "server out of memory");
		return;
	}
	pending_hash(s, p);
	plist_push(&s->mq, p);
}

static void
handle_status(struct meta_server *s, const uint8_t *ident, size_t ident_len,
	      const struct wire_header *h)
{
	struct wire_status_reply *r = calloc(1, sizeof(*r));
	struct fsm_info info;
	raft_id lid = 0;
	const char *laddr = NULL;

	if (r == NULL)
		return;
	raft_leader(&s->raft, &lid, &laddr);
	r->leader_id = lid;
	snprintf(r->leader_addr, sizeof(r->leader_addr), "%s",
		 addr_client_part(laddr));
	r->term = s->raft.current_term;
	r->commit_index = s->raft.commit_index;
	r->applied_index = raft_last_applied(&s->raft);
	r->snapshot_index = 0;
	fsm_info(s->fsm, &info);
	r->formatted = (uint8_t)info.formatted;
	r->fragment_size = info.fragment_size;
	r->default_goal = info.default_goal;
	r->sessions = info.sessions;
	r->inodes = info.inodes;
	const struct raft_configuration *c = &s->raft.configuration;
	for (unsigned i = 0; i < c->n && i < WIRE_MAX_member; i++) {
		struct wire_member *m = &r->members[r->members_count++];
		addr_raft_part(c->servers[i].address, m->raft_addr,
			       sizeof(m->raft_addr));
		snprintf(m->client_addr, sizeof(m->client_addr), "%s",
			 addr_client_part(c->servers[i].address));
		m->id = c->servers[i].id;
		m->role = (uint8_t)c->servers[i].role;
		if (s->leader && s->raft.leader_state.progress != NULL) {
			const struct raft_progress *pg =
				&s->raft.leader_state.progress[i];
			m->reachable = c->servers[i].id == (raft_id)s->opt.id ||
				       pg->recent_recv;
			m->match_index = c->servers[i].id == (raft_id)s->opt.id
						 ? s->raft.last_stored
						 : pg->match_index;
		}
	}
	send_body(s, ident, ident_len, h, WIRE_T_status_reply, r);
	free(r);
}

static void
handle_dump(struct meta_server *s, const uint8_t *ident, size_t ident_len,
	    const struct wire_header *h)
{
	char errmsg[CFS_ERRMSG_SIZE];
	char *text = NULL;
	size_t len = 0;
	char ignored[CFS_ERRMSG_SIZE];

	fsm_flush(s->fsm, ignored);
	if (fsm_dump(s->fsm, &text, &len, errmsg) != 0) {
		send_error(s, ident, ident_len, h, CFS_INTERNAL, errmsg);
		return;
	}
	/* The whole dump may not fit one message: send its CRC and length
	 * (what replica comparisons need) and as much text as fits. */
	struct wire_dump_reply r = {.applied_index = fsm_applied(s->fsm),
				    .total_len = len,
				    .crc = crc32c(0, text, len),
				    .text = (const uint8_t *)text,
				    .text_len = (uint32_t)(len < WIRE_MAX_BODY - 1024
								   ? len
								   : WIRE_MAX_BODY - 1024)};
	send_body(s, ident, ident_len, h, WIRE_T_dump_reply, &r);
	free(text);
}

static void
admin_done(struct meta_server *s, struct admin_op *op, int status,
	   const char *what)
{
	struct pending *p = op->p;
	lease_resume(s);
	if (status == 0) {
		struct wire_header h = {.type = p->type,
					.request_id = p->request_id,
					.sequence = p->seq};
		struct wire_ok ok;
		LOG_INFO("membership: %s server %llu done", what,
			 (unsigned long long)op->target);
		send_body(s, p->ident, p->ident_len, &h, WIRE_T_ok, &ok);
		p->answered = 1;
	} else {
		char msg[CFS_ERRMSG_SIZE];
		snprintf(msg, sizeof(msg), "%s server %llu: %s", what,
			 (unsigned long long)op->target, raft_strerror(status));
		LOG_WARN("membership: %s", msg);
		answer_error(s, p, status == RAFT_NOTLEADER ||
						   status == RAFT_LEADERSHIPLOST
					   ? CFS_NOTLEADER
					   : CFS_EINVAL,
			     msg);
	}
	pending_free(s, p);
	free(op);
}

static void
change_cb(struct raft_change *req, int status)
{
	struct admin_op *op = req->data;
	admin_done(op->s, op, status, "configuration change for");
}

static void
transfer_cb(struct raft_transfer *req)
{
	struct admin_op *op = req->data;
	struct meta_server *s = op->s;
	raft_id id = 0;
	const char *addr = NULL;

	raft_leader(&s->raft, &id, &addr);
	admin_done(s, op, id != 0 && id != (raft_id)s->opt.id ? 0 : RAFT_NOTFOUND,
		   "leadership transfer to");
}

static void
handle_admin(struct meta_server *s, const uint8_t *ident, size_t ident_len,
	     const struct wire_header *h, const union wire_body *b)
{
	struct admin_op *op = calloc(1, sizeof(*op));
	char address[520];
	int rv;

	if (op == NULL)
		return;
	op->s = s;
	op->p = pending_new(s, ident, ident_len, h, b);
	if (op->p == NULL) {
		free(op);
		return;
	}
	op->u.change.data = op;
	lease_suspend(s);
	switch (h->type) {
	case WIRE_T_member_add:
		op->target = b->member_add.id;
		if (b->member_add.id == 0 || !b->member_add.raft_addr[0] ||
		    !b->member_add.client_addr[0]) {
			rv = RAFT_INVALID;
			break;
		}
		snprintf(address, sizeof(address), "%s/%s",
			 b->member_add.raft_addr, b->member_add.client_addr);
		rv = raft_add(&s->raft, &op->u.change, b->member_add.id,
			      address, change_cb);
		break;
	case WIRE_T_member_assign:
		op->target = b->member_assign.id;
		rv = raft_assign(&s->raft, &op->u.change, b->member_assign.id,
				 b->member_assign.role, change_cb);
		break;
	case WIRE_T_member_remove:
		op->target = b->member_remove.id;
		rv = raft_remove(&s->raft, &op->u.change, b->member_remove.id,
				 change_cb);
		break;
	default: /* transfer */
		op->target = b->transfer.id;
		op->u.transfer.data = op;
		rv = raft_transfer(&s->raft, &op->u.transfer, b->transfer.id,
				   transfer_cb);
		break;
	}
	if (rv != 0)
		admin_done(s, op, rv, wire_type_name(h->type));
}

/* Rate-limited warning about a bad message from a peer. */
/* Data node heartbeats and the registry listing: the leader's live view,
 * never logged. */
static void
handle_node(struct meta_server *s, const uint8_t *ident, size_t ident_len,
	    const struct wire_header *h, union wire_body *b)
{
	char errmsg[CFS_ERRMSG_SIZE];

	if (!s->confirmed) {
		send_error(s, ident, ident_len, h, CFS_NOLEADER,
			   "new leader not yet confirmed");
		return;
	}
	if (h->type == WIRE_T_node_heartbeat) {
		int rv = repair_heartbeat(s->repair, fsm_dmap(s->fsm),
					  &b->node_heartbeat,
					  uv_now(&s->loop), errmsg);
		if (rv != 0)
			send_error(s, ident, ident_len, h, rv, errmsg);
		else
			send_body(s, ident, ident_len, h, WIRE_T_ok, &b->ok);
		return;
	}
	struct wire_node_list_reply *r = malloc(sizeof(*r));
	if (r == NULL) {
		send_error(s, ident, ident_len, h, CFS_ENOMEM, "node list");
		return;
	}
	repair_status(s->repair, fsm_dmap(s->fsm), r, uv_now(&s->loop));
	send_body(s, ident, ident_len, h, WIRE_T_node_list_reply, r);
	free(r);
}

static int
propose_cb(void *data, uint16_t type, const void *body)
{
	return enqueue_internal(data, type, body);
}

static struct dmap *
dmap_of_cb(void *data)
{
	struct meta_server *s = data;
	return s->confirmed ? fsm_dmap(s->fsm) : NULL;
}

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
		send_error(s, ident, ident_len, &hh, rv, errmsg);
		return;
	}
	if (h.flags & WIRE_F_REPLY) {
		warn_bad(s, peer, "sent a reply where a request belongs");
		send_error(s, ident, ident_len, &h, CFS_MALFORMED,
			   "a reply is not a request");
		return;
	}
	if (s->stopping) {
		send_error(s, ident, ident_len, &h, CFS_SHUTDOWN,
			   "server is shutting down");
		return;
	}

	/* Answered by any server from its own state. */
	if (h.type == WIRE_T_status) {
		handle_status(s, ident, ident_len, &h);
		return;
	}
	if (h.type == WIRE_T_dump) {
		handle_dump(s, ident, ident_len, &h);
		return;
	}

	int known = h.type == WIRE_T_session_open ||
		    h.type == WIRE_T_session_close ||
		    h.type == WIRE_T_keepalive || h.type == WIRE_T_format ||
		    h.type == WIRE_T_member_add ||
		    h.type == WIRE_T_member_assign ||
		    h.type == WIRE_T_member_remove ||
		    h.type == WIRE_T_transfer || ns_handles(h.type) ||
		    lock_handles(h.type) || lease_handles(h.type) ||
		    h.type == WIRE_T_lease_watch ||
		    h.type == WIRE_T_node_heartbeat ||
		    h.type == WIRE_T_node_list ||
		    /* replica_add and _drop are the leader's own */
		    (dmap_handles(h.type) && h.type != WIRE_T_replica_add &&
		     h.type != WIRE_T_replica_drop);
	if (!known) {
		snprintf(errmsg, sizeof(errmsg), "%s (type %u) is not a request",
			 wire_type_name(h.type) ? wire_type_name(h.type) : "?",
			 h.type);
		warn_bad(s, peer, errmsg);
		send_error(s, ident, ident_len, &h, CFS_BADTYPE, errmsg);
		return;
	}
	if (!s->leader) {
		send_error(s, ident, ident_len, &h, CFS_NOTLEADER, NULL);
		return;
	}
	if (s->inflight >= (unsigned)s->opt.inflight_max) {
		send_error(s, ident, ident_len, &h, CFS_EAGAIN,
			   "too many requests in flight; retry");
		return;
	}

	switch (h.type) {
	case WIRE_T_keepalive:
		if (!s->confirmed) {
			send_error(s, ident, ident_len, &h, CFS_NOLEADER,
				   "new leader not yet confirmed");
			return;
		}
		if (!session_clock_touch(&s->sessions, h.client_id,
					 uv_now(&s->loop))) {
			send_error(s, ident, ident_len, &h, CFS_NOSESSION,
				   "session expired or unknown");
			return;
		}
		send_body(s, ident, ident_len, &h, WIRE_T_ok, &b->ok);
		return;
	case WIRE_T_session_open: {
		uint32_t want = b->session_open.lease_ms;
		uint32_t lo = (uint32_t)s->opt.session_lease_min;
		uint32_t hi = (uint32_t)s->opt.session_lease_max;
		b->session_open.lease_ms = want < lo ? lo : want > hi ? hi : want;
		/* The leader names the session: unique across terms. */
		h.client_id = next_tag(s);
		h.sequence = 0;
		enqueue_mutation(s, ident, ident_len, &h, b);
		return;
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
			send_error(s, ident, ident_len, &h, CFS_EINVAL,
				   "fragment size must be 64K..64M and goal "
				   "1..16");
			return;
		}
		h.client_id = 0;
		h.sequence = next_tag(s);
		enqueue_mutation(s, ident, ident_len, &h, b);
		return;
	case WIRE_T_member_add:
	case WIRE_T_member_assign:
	case WIRE_T_member_remove:
	case WIRE_T_transfer:
		handle_admin(s, ident, ident_len, &h, b);
		return;
	case WIRE_T_node_heartbeat:
	case WIRE_T_node_list:
		handle_node(s, ident, ident_len, &h, b);
		return;
	case WIRE_T_node_register:
	case WIRE_T_node_state:
	case WIRE_T_replica_bad:
		/* No session: idempotent commands of data nodes, operators
		 * and clients reporting a bad replica. */
		h.client_id = 0;
		h.sequence = next_tag(s);
		enqueue_mutation(s, ident, ident_len, &h, b);
		return;
	default:
		break;
	}

	/* cfsctl leases: a read that needs no session. */
	if (h.type == WIRE_T_lease_list && h.client_id == 0) {
		struct pending *p = pending_new(s, ident, ident_len, &h, b);
		if (p != NULL)
			plist_push(&s->rq, p);
		return;
	}

	/* Session commands and namespace requests need a session. */
	if (h.client_id == 0) {
		send_error(s, ident, ident_len, &h, CFS_NOSESSION,
			   "this request needs a session");
		return;
	}
	session_clock_touch(&s->sessions, h.client_id, uv_now(&s->loop));
	if (h.type == WIRE_T_session_close) {
		enqueue_mutation(s, ident, ident_len, &h, b);
		return;
	}
	if (h.type == WIRE_T_lease_watch) {
		handle_lease_watch(s, ident, ident_len, &h, &b->lease_watch);
		return;
	}
	if (!ns_is_mutation(h.type) && !dmap_is_mutation(h.type) &&
	    !lock_is_mutation(h.type) && !lease_is_mutation(h.type)) {
		if (read_lease_valid(s)) {
			read_local(s, ident, ident_len, &h, b);
			return;
		}
		struct pending *p = pending_new(s, ident, ident_len, &h, b);
		if (p == NULL) {
			send_error(s, ident, ident_len, &h, CFS_ENOMEM,
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
	switch (fsm_session_check(s->fsm, h.client_id, h.sequence, &stored,
				  &stored_len)) {
	case 0:
		send_error(s, ident, ident_len, &h, CFS_NOSESSION,
			   "session expired or unknown");
		return;
	case 2:
		send_reply_frame(s, ident, ident_len, h.request_id, stored,
				 stored_len);
		return;
	case 3:
		send_error(s, ident, ident_len, &h, CFS_EINVAL,
			   "sequence number older than the session's last");
		return;
	default:
		if (h.type == WIRE_T_frag_open) {
			/* Placement is the leader's decision and travels in
			 * the command (STYLE.md practice 6). */
			rv = repair_place(s->repair, fsm_dmap(s->fsm),
					  &b->frag_open, uv_now(&s->loop),
					  errmsg);
			if (rv != 0) {
				send_error(s, ident, ident_len, &h, rv, errmsg);
				return;
			}
		}
		enqueue_mutation(s, ident, ident_len, &h, b);
	}
}

/* Read every message ZeroMQ has for us.  ZMQ_FD is edge-triggered: stop
 * only when ZMQ_EVENTS says there is nothing left (STACK.md). */
static void
drain(struct meta_server *s)
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
				send_error(s, zmq_msg_data(&id),
					   zmq_msg_size(&id), &hh,
					   CFS_MALFORMED,
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

/* ---- loop handles ---------------------------------------------------------- */

static void
fatal_check(struct meta_server *s)
{
	const char *why;
	if (fsm_failed(s->fsm, &why)) {
		/* A replica that cannot apply an entry must not go on: it
		 * would answer from a state that diverged. */
		LOG_ERROR("fatal: the state machine failed (%s); exiting so "
			  "that this server never serves a diverged state",
			  why);
		exit(1);
	}
}

/* Propose what is queued (group commit: everything one drain read goes
 * into one entry) and start a barrier for queued reads. */
static void
flush_queues(struct meta_server *s)
{
	if (s->stopping)
		return;
	leadership_check(s);
	if (!s->leader)
		return;
	if (s->mq.head != NULL)
		propose_queued(s);
	if (s->rq.head != NULL)
		start_barrier(s, 0);
}

/* Drain, then flush at once: a request found in the prepare phase must not
 * wait for the check phase, which comes only after the loop has blocked
 * in poll (measured: up to one heartbeat, 30 ms, per request). */
static void
zpoll_cb(uv_poll_t *h, int status, int events)
{
	struct meta_server *s = h->data;
	(void)status;
	(void)events;
	drain(s);
	flush_queues(s);
}

static void
prepare_cb(uv_prepare_t *h)
{
	struct meta_server *s = h->data;
	drain(s);
	flush_queues(s);
}

/* End of every loop turn: propose what arrived, start a barrier for the
 * reads, commit the SQLite transaction of everything applied. */
static void
check_cb(uv_check_t *h)
{
	struct meta_server *s = h->data;
	char errmsg[CFS_ERRMSG_SIZE];

	if (s->stopping)
		return;
	flush_queues(s);
	fsm_flush(s->fsm, errmsg);
	fatal_check(s);
}

static void
tick_cb(uv_timer_t *h)
{
	struct meta_server *s = h->data;

	leadership_check(s);
	fatal_check(s);
	if (s->leader && s->confirmed) {
		if (++s->ticks % 4 == 0)
			sessions_resync(s);
		session_clock_expire(&s->sessions, uv_now(&s->loop),
				     expire_one, s);
		repair_tick(s->repair, fsm_dmap(s->fsm), fsm_applied(s->fsm),
			    uv_now(&s->loop));
	}
	recalls_tick(s);
}

static void
handle_closed(uv_handle_t *h)
{
	(void)h;
}

static void
raft_closed_cb(struct raft *r)
{
	struct meta_server *s = r->data;

	s->raft_closed = 1;
	repair_destroy(&s->repair);
	uv_close((uv_handle_t *)&s->zpoll, handle_closed);
	uv_close((uv_handle_t *)&s->prepare, handle_closed);
	uv_close((uv_handle_t *)&s->check, handle_closed);
	uv_close((uv_handle_t *)&s->tick, handle_closed);
	uv_close((uv_handle_t *)&s->sigint, handle_closed);
	uv_close((uv_handle_t *)&s->sigterm, handle_closed);
	if (s->opt.fault_hooks) {
		uv_close((uv_handle_t *)&s->sigusr1, handle_closed);
		uv_close((uv_handle_t *)&s->sigusr2, handle_closed);
	}
}

static void
stop(struct meta_server *s, const char *why)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	LOG_INFO("stopping: %s (reads answered: %llu under the leader's "
		 "read lease, %llu after a barrier)",
		 why, s->reads_local, s->reads_barrier);
	fail_queue(s, &s->mq, CFS_SHUTDOWN, "server is shutting down");
	fail_queue(s, &s->rq, CFS_SHUTDOWN, "server is shutting down");
	recalls_reset(s, 0);
	uv_poll_stop(&s->zpoll);
	uv_timer_stop(&s->tick);
	/* In-flight proposals and barriers fail with their callbacks during
	 * raft_close; their clients get SHUTDOWN/NOTLEADER and retry. */
	raft_close(&s->raft, raft_closed_cb);
}

static void
signal_cb(uv_signal_t *h, int signum)
{
	struct meta_server *s = h->data;
	stop(s, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* The partition fault hook of docs/model.md: only with fault_hooks. */
static void
partition_cb(uv_signal_t *h, int signum)
{
	struct meta_server *s = h->data;
	int on = signum == SIGUSR1;
	LOG_WARN("fault hook: %s", on ? "cut off from the Raft peers (SIGUSR1)"
				       : "Raft peers reachable again (SIGUSR2)");
	xport_isolate(&s->xp, on);
}

/* ---- set-up ------------------------------------------------------------------ */

int
meta_peers_parse(const char *spec, struct meta_peer *peers, unsigned cap,
		 unsigned *n, char *errmsg)
{
	const char *p = spec;

	*n = 0;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char item[600];
		char *eq, *slash, *stop_at;

		if (len == 0 || len >= sizeof(item))
			return cfs_fail(errmsg, CFS_CONFIG,
					"--init-cluster: bad entry at '%.40s'",
					p);
		memcpy(item, p, len);
		item[len] = '\0';
		eq = strchr(item, '=');
		slash = eq ? strchr(eq, '/') : NULL;
		if (eq == NULL || slash == NULL || slash == eq + 1 ||
		    slash[1] == '\0')
			return cfs_fail(errmsg, CFS_CONFIG,
					"--init-cluster: '%s' is not "
					"ID=RAFTHOST:PORT/CLIENTHOST:PORT",
					item);
		*eq = '\0';
		errno = 0;
		unsigned long long id = strtoull(item, &stop_at, 10);
		if (errno || *stop_at || id == 0)
			return cfs_fail(errmsg, CFS_CONFIG,
					"--init-cluster: server id '%s' is not "
					"a positive integer",
					item);
		if (*n == cap)
			return cfs_fail(errmsg, CFS_CONFIG,
					"--init-cluster: more than %u servers",
					cap);
		for (unsigned i = 0; i < *n; i++)
			if (peers[i].id == id)
				return cfs_fail(errmsg, CFS_CONFIG,
						"--init-cluster: server id "
						"%llu twice",
						id);
		peers[*n].id = id;
		snprintf(peers[*n].address, sizeof(peers[*n].address), "%s",
			 eq + 1);
		(*n)++;
		p += len;
		if (*p == ',')
			p++;
	}
	if (*n == 0)
		return cfs_fail(errmsg, CFS_CONFIG, "--init-cluster: empty");
	return 0;
}

static int
exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int
mkdir_p(const char *dir, char *errmsg)
{
	char tmp[1100];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
				return cfs_fail_errno(errmsg, errno, "mkdir %s",
						      tmp);
			*p = '/';
		}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return cfs_fail_errno(errmsg, errno, "mkdir %s", tmp);
	return 0;
}

/* The identity file ties a data directory to one server id, so a
 * directory started under the wrong --id is refused, not reused. */
static int
check_identity(struct meta_server *s, int *fresh, char *errmsg)
{
	char path[1100], buf[128];
	snprintf(path, sizeof(path), "%s/identity", s->opt.dir);
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		if (errno != ENOENT)
			return cfs_fail_errno(errmsg, errno, "%s", path);
		*fresh = 1;
		f = fopen(path, "w");
		if (f == NULL)
			return cfs_fail_errno(errmsg, errno, "%s", path);
		fprintf(f, "cfs-meta id=%lld\n", (long long)s->opt.id);
		if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
			fclose(f);
			return cfs_fail_errno(errmsg, errno, "%s", path);
		}
		fclose(f);
		return 0;
	}
	*fresh = 0;
	long long id = -1;
	if (fgets(buf, sizeof(buf), f) == NULL ||
	    sscanf(buf, "cfs-meta id=%lld", &id) != 1) {
		fclose(f);
		return cfs_fail(errmsg, CFS_CORRUPT,
				"%s: not a cfs-meta identity file", path);
	}
	fclose(f);
	if (id != s->opt.id)
		return cfs_fail(errmsg, CFS_CONFIG,
				"%s belongs to server %lld, not %lld; use the "
				"right --id or another directory",
				s->opt.dir, id, (long long)s->opt.id);
	return 0;
}

static int
setup_raft(struct meta_server *s, const struct meta_peer *peers, unsigned n,
	   int had_state, char *errmsg)
{
	int rv;

	rv = xport_setup(&s->xp, &s->loop, s->opt.raft);
	if (rv != 0)
		return cfs_fail(errmsg, CFS_CONFIG, "raft address %s: %s",
				s->opt.raft, raft_strerror(rv));
	s->xp_inited = 1;
	rv = raft_uv_init(&s->io, &s->loop, s->raft_dir, &s->xp.outer);
	if (rv != 0)
		return cfs_fail(errmsg, CFS_EIO,
				"%s: raft_uv: %s (if this says io_setup, raise "
				"fs.aio-max-nr)",
				s->raft_dir, s->io.errmsg);
	s->io_inited = 1;
	/* A corrupt segment must stop the server, never be skipped
	 * silently (STACK.md). */
	raft_uv_set_auto_recovery(&s->io, false);
	rv = raft_init(&s->raft, &s->io, fsm_raft(s->fsm), (raft_id)s->opt.id,
		       s->self_addr);
	if (rv != 0)
		return cfs_fail(errmsg, CFS_EIO, "raft_init: %s",
				raft_errmsg(&s->raft));
	s->raft_inited = 1;
	s->raft.data = s;
	fsm_attach(s->fsm, &s->raft);
	raft_set_election_timeout(&s->raft, (unsigned)s->opt.election_timeout);
	/* Half the election timeout: room for the followers' clocks running
	 * up to 2x fast against ours (DESIGN.md §5: drift within a bound). */
	s->lease_ns = (uint64_t)s->opt.election_timeout * 1000000ull / 2;
	raft_set_heartbeat_timeout(&s->raft,
				   (unsigned)s->opt.heartbeat_timeout);
	raft_set_pre_vote(&s->raft, s->opt.pre_vote != 0);
	raft_set_snapshot_threshold(&s->raft,
				    (unsigned)s->opt.snapshot_threshold);
	raft_set_snapshot_trailing(&s->raft,
				   (unsigned)s->opt.snapshot_trailing);
	raft_set_install_snapshot_timeout(
		&s->raft, (unsigned)s->opt.install_snapshot_timeout);

	if (n > 0 && !had_state) {
		struct raft_configuration conf;
		int self_found = 0;
		raft_configuration_init(&conf);
		for (unsigned i = 0; i < n; i++) {
			if (peers[i].id == (uint64_t)s->opt.id) {
				if (strcmp(peers[i].address, s->self_addr) != 0) {
					raft_configuration_close(&conf);
					return cfs_fail(
						errmsg, CFS_CONFIG,
						"--init-cluster says server "
						"%llu is %s, but this server "
						"is %s (raft/advertise)",
						(unsigned long long)peers[i].id,
						peers[i].address,
						s->self_addr);
				}
				self_found = 1;
			}
			rv = raft_configuration_add(&conf, peers[i].id,
						    peers[i].address,
						    RAFT_VOTER);
			if (rv != 0) {
				raft_configuration_close(&conf);
				return cfs_fail(errmsg, CFS_CONFIG,
						"--init-cluster: %s",
						raft_strerror(rv));
			}
		}
		if (!self_found) {
			raft_configuration_close(&conf);
			return cfs_fail(errmsg, CFS_CONFIG,
					"--init-cluster does not list this "
					"server's id %lld",
					(long long)s->opt.id);
		}
		rv = raft_bootstrap(&s->raft, &conf);
		raft_configuration_close(&conf);
		if (rv != 0 && rv != RAFT_CANTBOOTSTRAP)
			return cfs_fail(errmsg, CFS_EIO, "bootstrap: %s",
					raft_errmsg(&s->raft));
		LOG_INFO("bootstrapped a new cluster of %u servers", n);
	} else if (n > 0) {
		LOG_INFO("--init-cluster ignored: %s already holds Raft state",
			 s->raft_dir);
	}
	return 0;
}

static int
setup_front(struct meta_server *s, char *errmsg)
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

int
meta_server_create(struct meta_server **out, const struct meta_options *opt,
		   const struct meta_peer *peers, unsigned n_peers,
		   char *errmsg)
{
	struct meta_server *s = calloc(1, sizeof(*s));
	int rv, fresh = 0;

	if (s == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "out of memory");
	s->opt = *opt;
	plist_init(&s->mq);
	plist_init(&s->rq);
	if (s->opt.id < 1 || !s->opt.dir[0] || !s->opt.raft[0]) {
		free(s);
		return cfs_fail(errmsg, CFS_CONFIG,
				"id, dir and raft must be set (--id, --dir, "
				"--raft or a config file)");
	}
	const char *adv = s->opt.advertise[0] ? s->opt.advertise
					      : s->opt.listen;
	if (strncmp(adv, "tcp://", 6) == 0)
		adv += 6;
	if (strncmp(adv, "0.0.0.0", 7) == 0 || strchr(adv, '/')) {
		free(s);
		return cfs_fail(errmsg, CFS_CONFIG,
				"client address '%s' cannot be given to "
				"clients: set advertise = HOST:PORT",
				adv);
	}
	snprintf(s->client_addr, sizeof(s->client_addr), "%s", adv);
	snprintf(s->self_addr, sizeof(s->self_addr), "%s/%s", s->opt.raft,
		 s->client_addr);
	snprintf(s->db_path, sizeof(s->db_path), "%s/meta.db", s->opt.dir);
	snprintf(s->raft_dir, sizeof(s->raft_dir), "%s/raft", s->opt.dir);

	rv = mkdir_p(s->opt.dir, errmsg);
	if (rv == 0)
		rv = check_identity(s, &fresh, errmsg);
	if (rv != 0)
		goto err;
	char probe[1200];
	snprintf(probe, sizeof(probe), "%s/metadata1", s->raft_dir);
	int had_state = exists(probe);
	snprintf(probe, sizeof(probe), "%s/metadata2", s->raft_dir);
	had_state |= exists(probe);
	int had_db = exists(s->db_path);
	if (had_state && !had_db) {
		rv = cfs_fail(errmsg, CFS_CORRUPT,
			      "%s is missing but %s holds Raft state: refusing "
			      "to start with an empty namespace (restore the "
			      "file, or wipe %s and add this server back as a "
			      "new member)",
			      s->db_path, s->raft_dir, s->opt.dir);
		goto err;
	}
	if (!fresh && !had_state && had_db) {
		/* The database without its log: checked after opening. */
	}
	rv = mkdir_p(s->raft_dir, errmsg);
	if (rv != 0)
		goto err;
	rv = fsm_open(&s->fsm, s->db_path, errmsg);
	if (rv != 0)
		goto err;
	if (!had_state && fsm_applied(s->fsm) > 0) {
		rv = cfs_fail(errmsg, CFS_CORRUPT,
			      "%s holds state up to log index %llu but the "
			      "Raft log in %s is missing: refusing to start",
			      s->db_path,
			      (unsigned long long)fsm_applied(s->fsm),
			      s->raft_dir);
		goto err;
	}
	fsm_set_reply(s->fsm, on_apply_reply, s);
	fsm_set_recall(s->fsm, on_recall, s);
	s->recalls = recall_new();
	if (s->recalls == NULL) {
		rv = cfs_fail(errmsg, CFS_ENOMEM, "out of memory");
		goto err;
	}
	if (uv_loop_init(&s->loop) != 0) {
		rv = cfs_fail(errmsg, CFS_EIO, "uv_loop_init failed");
		goto err;
	}
	rv = setup_raft(s, peers, n_peers, had_state, errmsg);
	if (rv == 0)
		rv = setup_front(s, errmsg);
	if (rv != 0)
		goto err;
	*out = s;
	return 0;
err:
	meta_server_free(&s);
	return rv;
}

int
meta_server_run(struct meta_server *s, char *errmsg)
{
	int rv;

	uv_poll_init(&s->loop, &s->zpoll, s->zfd);
	uv_prepare_init(&s->loop, &s->prepare);
	uv_check_init(&s->loop, &s->check);
	uv_timer_init(&s->loop, &s->tick);
	uv_signal_init(&s->loop, &s->sigint);
	uv_signal_init(&s->loop, &s->sigterm);
	s->zpoll.data = s->prepare.data = s->check.data = s;
	s->tick.data = s->sigint.data = s->sigterm.data = s;
	uv_poll_start(&s->zpoll, UV_READABLE, zpoll_cb);
	uv_prepare_start(&s->prepare, prepare_cb);
	uv_check_start(&s->check, check_cb);
	uv_timer_start(&s->tick, tick_cb, TICK_MS, TICK_MS);
	uv_signal_start(&s->sigint, signal_cb, SIGINT);
	uv_signal_start(&s->sigterm, signal_cb, SIGTERM);
	if (s->opt.fault_hooks) {
		uv_signal_init(&s->loop, &s->sigusr1);
		uv_signal_init(&s->loop, &s->sigusr2);
		s->sigusr1.data = s->sigusr2.data = s;
		uv_signal_start(&s->sigusr1, partition_cb, SIGUSR1);
		uv_signal_start(&s->sigusr2, partition_cb, SIGUSR2);
		LOG_WARN("fault hooks on: SIGUSR1/SIGUSR2 partition this "
			 "server (tests only)");
	}

	struct repair_options ro = {
		.dead_after_ms = s->opt.node_dead_after,
		.reserve_bytes = s->opt.node_reserve,
		.degraded_writes = s->opt.degraded_writes,
		.spread_label = s->opt.spread_label,
		.rate = s->opt.repair_rate,
		.inflight = (int)s->opt.repair_inflight,
	};
	rv = repair_create(&s->repair, &s->loop, &ro, propose_cb, dmap_of_cb,
			   s, errmsg);
	if (rv != 0)
		return rv;
	rv = raft_start(&s->raft);
	if (rv != 0) {
		cfs_fail(errmsg, CFS_CORRUPT,
			 "cannot start Raft from %s: %s (a corrupt log is "
			 "never skipped; see docs/operations.md)",
			 s->raft_dir, raft_errmsg(&s->raft));
		stop(s, "raft_start failed");
		uv_run(&s->loop, UV_RUN_DEFAULT);
		return CFS_CORRUPT;
	}
	LOG_INFO("server %lld: raft %s, clients %s, data %s",
		 (long long)s->opt.id, s->opt.raft, s->client_addr, s->opt.dir);
	drain(s); /* messages that arrived before the poll started */
	uv_run(&s->loop, UV_RUN_DEFAULT);
	return 0;
}

static void
raft_closed_quiet(struct raft *r)
{
	((struct meta_server *)r->data)->raft_closed = 1;
}

void
meta_server_free(struct meta_server **sp)
{
	struct meta_server *s = *sp;

	if (s == NULL)
		return;
	if (s->raft_inited && !s->raft_closed) {
		/* created but never run: close Raft synchronously */
		raft_close(&s->raft, raft_closed_quiet);
		uv_run(&s->loop, UV_RUN_DEFAULT);
	}
	if (s->io_inited)
		raft_uv_close(&s->io);
	if (s->xp_inited) {
		uv_run(&s->loop, UV_RUN_DEFAULT);
		raft_uv_tcp_close(&s->xp.tcp);
	}
	if (s->router)
		zmq_close(s->router);
	if (s->zctx)
		zmq_ctx_term(s->zctx);
	if (s->raft_inited || s->xp_inited) {
		uv_run(&s->loop, UV_RUN_DEFAULT);
		uv_loop_close(&s->loop);
	}
	session_clock_clear(&s->sessions);
	recall_free(&s->recalls, NULL, NULL);
	fsm_close(&s->fsm);
	free(s);
	*sp = NULL;
}
