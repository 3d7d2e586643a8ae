/* lead.c - leadership on one cfs-meta server: group commit into Raft entries, replies when applied, linearizable reads and the leader read lease, the leader's session clocks. */
#include "meta/lead.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "meta/entry.h"
#include "meta/fsm.h"
#include "meta/front.h"
#include "meta/repair.h"
#include "meta/session.h"
#include "meta/watch.h"

/* One Raft entry of requests (group commit), waiting to be applied. */
struct proposal {
	struct raft_apply req;
	struct meta_server *s;
	struct plist items;
};

/* Reads waiting for one barrier. */
struct read_batch {
	struct raft_barrier req;
	struct meta_server *s;
	struct plist items;
	uint64_t term;
	uint64_t started; /* uv_hrtime() before raft_barrier(): the lease base */
	int confirm; /* the barrier a new leader issues before serving */
};

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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

static int
expire_one(void *data, uint64_t client_id, uint64_t silent_ms)
{
	struct meta_server *s = data;
	struct wire_session_expire e = {.client_id = client_id};

	LOG_INFO("session %016llx expired after %llu ms of silence",
		 (unsigned long long)client_id, (unsigned long long)silent_ms);
	return front_enqueue_internal(s, WIRE_T_session_expire, &e);
}

void
lead_tick(struct meta_server *s)
{
	if (++s->ticks % 4 == 0)
		sessions_resync(s);
	session_clock_expire(&s->sessions, uv_now(&s->loop), expire_one, s);
}

/* ---- applying: replies to the waiting clients ---------------------------- */

void
lead_on_apply_reply(void *data, uint64_t client_id, uint64_t seq,
		    const uint8_t *frame, size_t len)
{
	struct meta_server *s = data;
	struct pending *p = pending_find(s, client_id, seq);

	if (p == NULL || p->answered)
		return; /* proposed by another leader, or answered already */
	front_send_reply_frame(s, p->ident, p->ident_len, p->request_id, frame,
			       len);
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
				front_answer_error(
				    s, p, CFS_NOTLEADER,
				    "leadership lost while the request "
				    "was in flight; retry");
			else
				front_answer_error(s, p, CFS_INTERNAL,
						   "applied without a reply");
		}
		pending_free(s, p);
	}
	free(pr);
}

/* Pack everything queued into entries (group commit) and propose them. */
void
lead_propose(struct meta_server *s)
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
				front_answer_error(s, p, CFS_NOTLEADER, errmsg);
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
			front_answer_error(s, p, CFS_NOTLEADER,
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
				front_send_reply_frame(
				    s, p->ident, p->ident_len, p->request_id,
				    frame, len);
			else
				front_answer_error(s, p, CFS_INTERNAL, errmsg);
			free(frame);
			p->answered = 1;
		}
		pending_free(s, p);
	}
	free(rb);
}

int
lead_barrier(struct meta_server *s, int confirm)
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
int
lead_read_lease_valid(struct meta_server *s)
{
	return s->leader && s->confirmed &&
	       raft_state(&s->raft) == RAFT_LEADER &&
	       s->raft.current_term == s->term && uv_hrtime() < s->lease_until;
}

/* Answer a read now, under the lease; renew the lease in the background
 * once half of it is gone, so a steady stream of reads never waits for a
 * barrier. */
void
lead_read_local(struct meta_server *s, const uint8_t *ident, size_t ident_len,
		struct wire_header *h, union wire_body *b)
{
	char errmsg[CFS_ERRMSG_SIZE];
	uint8_t *frame = NULL;
	size_t len = 0;

	s->reads_local++;
	if (fsm_read(s->fsm, h, b, &frame, &len, errmsg) == 0)
		front_send_reply_frame(s, ident, ident_len, h->request_id,
				       frame, len);
	else
		front_send_error(s, ident, ident_len, h, CFS_INTERNAL, errmsg);
	free(frame);
	if (s->barriers == 0 && s->lease_until - uv_hrtime() < s->lease_ns / 2)
		lead_barrier(s, 0);
}

/* A leadership transfer makes its target stand for election at once, and
 * its voters ignore the leader they know (libraft's disrupt_leader); a
 * membership change alters what a majority is.  Neither may overlap a
 * read lease: drop it, earn none until the change is over and a full
 * election timeout has passed. */
void
lead_lease_suspend(struct meta_server *s)
{
	s->admin_ops++;
	s->lease_until = 0;
	s->lease_floor = UINT64_MAX;
}

void
lead_lease_resume(struct meta_server *s)
{
	if (--s->admin_ops == 0)
		s->lease_floor = uv_hrtime() + 4 * s->lease_ns;
}

/* ---- leadership ---------------------------------------------------------- */

void
lead_check(struct meta_server *s)
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
		lead_barrier(s, 1);
	} else if (!is_leader && s->leader) {
		s->leader = 0;
		s->confirmed = 0;
		s->lease_until = 0;
		session_clock_clear(&s->sessions);
		watch_reset(s, 1);
		repair_lead(s->repair, 0, uv_now(&s->loop));
		raft_id id = 0;
		const char *addr = NULL;
		raft_leader(&s->raft, &id, &addr);
		LOG_INFO("no longer leader (term %llu, leader now %llu)",
			 (unsigned long long)s->raft.current_term,
			 (unsigned long long)id);
		front_fail_queue(s, &s->mq, CFS_NOTLEADER, "not the leader");
		front_fail_queue(s, &s->rq, CFS_NOTLEADER, "not the leader");
	}
}
