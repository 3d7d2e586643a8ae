/* acreate.c - creates answered before they commit (see acreate.h). */
#include "client/acreate.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/metaclient.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/proto.h"

/* Each sender keeps one request in flight, a mknods of what was queued
 * while the last was (acreate_queue).  mdbench's creates (one thread,
 * `cfsctl dev up`, 2 shared cores), one mknod per create: 1,800/s with 4
 * senders, 2,800-3,300/s with 16; as mknods of 4-10 creates, 4 senders:
 * 4,500-6,400/s (1 or 2: the same within the noise, but one slow request
 * would hold every create up). */
#define SENDERS_DEFAULT 4
#define SENDERS_MAX 64
#define QUEUE_DEFAULT 256
/* Inode numbers asked for at a time, and how few left asks for more: a
 * reservation is one Raft entry; numbers a mount never uses are skipped
 * (never reused), 256 of 2^63 at a time. */
#define RESERVE_BATCH 256
#define RESERVE_LOW 64
#define RANGES 4

struct pend {
	struct acreate_req r;
	uint64_t seq;
	struct pend *prev, *next; /* pending, in queueing order */
	struct pend *qnext;       /* not sent yet, in queueing order */
};

struct sender {
	struct acreate *a;
	struct mc *mc;
	union wire_body *rep;
	struct wire_mknods *req;
	struct pend *batch[WIRE_MAX_mknod_item];
	pthread_t th;
	int started;
};

struct acreate {
	struct acreate_options opt;
	const struct acreate_ops *ops;
	void *data;
	pthread_mutex_t lock;
	pthread_cond_t work; /* senders: something queued, a refill, stop */
	pthread_cond_t idle; /* waiters: a create ended, a refill came */
	struct pend *head, *tail;   /* pending */
	struct pend *qhead, *qtail; /* of those, not sent yet */
	unsigned npending, nunsent;
	/* senders with a request in flight; a sender woken and not yet
	 * running (see acreate_queue) */
	unsigned nbusy;
	int kicked;
	uint64_t next_seq;
	/* reserved numbers left, first range first, each with the session
	 * that reserved it (its numbers go with it) and its incarnation */
	struct {
		uint64_t next, end;
		struct mc *mc;
		unsigned opens;
	} ranges[RANGES];
	unsigned nranges;
	int want_refill, refilling, stop, stopped;
	int no_batch; /* the leader answered mknods BADTYPE: one by one */
	struct sender s[SENDERS_MAX];
	unsigned nsenders;
	struct acreate_stats st;
};

static uint64_t
left_locked(const struct acreate *a)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < a->nranges; i++)
		n += a->ranges[i].end - a->ranges[i].next;
	return n;
}

/* Ask the leader for more numbers (a sender, lock not held). */
static void
refill(struct sender *s)
{
	struct acreate *a = s->a;
	struct wire_ino_reserve rq = {.count = RESERVE_BATCH};
	char errmsg[CFS_ERRMSG_SIZE];
	uint16_t rt;

	unsigned opens = 0;
	int rv = mc_call(s->mc, WIRE_T_ino_reserve, &rq, &rt, s->rep, 0,
			 errmsg);
	/* the session they live as long as: the one that answered */
	(void)mc_alive_until(s->mc, &opens);
	pthread_mutex_lock(&a->lock);
	if (rv == 0 && rt == WIRE_T_ino_reserved &&
	    s->rep->ino_reserved.count && a->nranges < RANGES) {
		const struct wire_ino_reserved *r = &s->rep->ino_reserved;
		a->ranges[a->nranges].next = r->first;
		a->ranges[a->nranges].end = r->first + r->count;
		a->ranges[a->nranges].mc = s->mc;
		a->ranges[a->nranges].opens = opens;
		a->nranges++;
		a->st.reserved += s->rep->ino_reserved.count;
	} else if (rv != 0) {
		/* an old leader without ino_reserve, or none: creates go the
		 * ordinary way; asked again at the next create */
		LOG_DEBUG("reserving inode numbers: %s", errmsg);
	}
	a->refilling = 0;
	pthread_mutex_unlock(&a->lock);
}

/* Did the leader answer @rv, so that the create surely changed nothing
 * (and not a timeout, a cancel, a reply not understood: it may have)?
 * Not NOSESSION: a retry of a create that was applied, whose reply was
 * lost, meets it once the session expired with the stored reply.  (A
 * whole call's EINVAL may be "outside the session's window", which may
 * have been applied; one call at a time per session never is.) */
static int
refused(int rv)
{
	switch (rv) {
	case CFS_FENCED: case CFS_EEXIST: case CFS_ENOENT: case CFS_EACCES:
	case CFS_EPERM: case CFS_ENOTDIR: case CFS_EINVAL: case CFS_ENOSPC:
	case CFS_ENAMETOOLONG: case CFS_EROFS:
		return 1;
	default:
		return 0;
	}
}

/* The mknod of @p ended (@rv, the leader's entry @e): tell the mount, then
 * it stops counting as pending. */
static void
finish(struct sender *s, struct pend *p, int rv, const struct wire_entry *e,
       const char *errmsg)
{
	struct acreate *a = s->a;
	const struct acreate_req *r = &p->r;

	if (rv != 0)
		LOG_ERROR("create of '%s' in directory %llu (inode %llu), "
			  "answered before it was sent, failed: %s; %s",
			  r->name, (unsigned long long)r->parent,
			  (unsigned long long)r->attr.ino, errmsg,
			  refused(rv) ? "the create changed nothing"
				      : "whether it was made is not known (the "
					"mount asks the leader again)");
	a->ops->done(a->data, s->mc, r, rv, rv == 0 ? e : NULL, errmsg);
	pthread_mutex_lock(&a->lock);
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		a->head = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	else
		a->tail = p->prev;
	a->npending--;
	if (rv == 0)
		a->st.committed++;
	else
		a->st.failed++;
	pthread_cond_broadcast(&a->idle);
	pthread_mutex_unlock(&a->lock);
	free(p);
}

static void
send_one(struct sender *s, struct pend *p)
{
	const struct acreate_req *r = &p->r;
	struct wire_mknod rq = {.cred = r->cred,
				.parent = r->parent,
				.mode = r->attr.mode,
				.flags = CFS_MKNOD_EXCL | CFS_MKNOD_LEASE,
				.ino = r->attr.ino,
				.lease_epoch = r->lease_epoch,
				.time_ns = (uint64_t)r->attr.ctime_ns};
	char errmsg[CFS_ERRMSG_SIZE] = "";
	uint16_t rt = 0;

	snprintf(rq.name, sizeof(rq.name), "%s", r->name);
	int rv = mc_call(s->mc, WIRE_T_mknod, &rq, &rt, s->rep, 0, errmsg);
	pthread_mutex_lock(&s->a->lock);
	s->a->st.requests++;
	pthread_mutex_unlock(&s->a->lock);
	if (rv == 0 && rt != WIRE_T_entry)
		rv = cfs_fail(errmsg, CFS_BADTYPE, "mknod answered with %s",
			      wire_type_name(rt) ? wire_type_name(rt) : "?");
	finish(s, p, rv, &s->rep->entry, errmsg);
}

/* Send the creates @ps[0..n) (queued in that order, one caller's
 * credentials) as one mknods: one request, one log command, one reply.
 * A leader that does not know mknods (older) is sent mknods one by one
 * from now on; a create its directory's lease was in the way of
 * (LEASE_BUSY: nothing changed) is sent again alone, which waits, after
 * the others were told. */
static void
send_batch(struct sender *s, struct pend **ps, unsigned n)
{
	struct acreate *a = s->a;
	struct wire_mknods *rq = s->req;
	char errmsg[CFS_ERRMSG_SIZE] = "";
	uint16_t rt = 0;

	rq->cred = ps[0]->r.cred;
	rq->items_count = n;
	for (unsigned i = 0; i < n; i++) {
		const struct acreate_req *r = &ps[i]->r;
		struct wire_mknod_item *it = &rq->items[i];
		memset(it, 0, sizeof(*it));
		it->parent = r->parent;
		snprintf(it->name, sizeof(it->name), "%s", r->name);
		it->mode = r->attr.mode;
		it->flags = CFS_MKNOD_EXCL | CFS_MKNOD_LEASE;
		it->ino = r->attr.ino;
		it->lease_epoch = r->lease_epoch;
		it->time_ns = (uint64_t)r->attr.ctime_ns;
	}
	int rv = mc_call(s->mc, WIRE_T_mknods, rq, &rt, s->rep, 0, errmsg);
	pthread_mutex_lock(&a->lock);
	a->st.requests += rv != CFS_BADTYPE;
	pthread_mutex_unlock(&a->lock);
	if (rv == CFS_BADTYPE) {
		pthread_mutex_lock(&a->lock);
		if (!a->no_batch)
			LOG_INFO("the leader does not know mknods (%s): "
				 "creates are sent one by one",
				 errmsg);
		a->no_batch = 1;
		pthread_mutex_unlock(&a->lock);
		for (unsigned i = 0; i < n; i++)
			send_one(s, ps[i]);
		return;
	}
	const struct wire_mknods_reply *rp = &s->rep->mknods_reply;
	if (rv == 0 && (rt != WIRE_T_mknods_reply || rp->results_count != n))
		rv = cfs_fail(errmsg, CFS_MALFORMED,
			      "mknods of %u creates answered with %s of %u",
			      n, wire_type_name(rt) ? wire_type_name(rt) : "?",
			      rt == WIRE_T_mknods_reply ? rp->results_count
							: 0);
	/* Every create that ended is told first (ops->done makes no call,
	 * so s->rep holds still), then those a lease was in the way of are
	 * sent again: one that waits must not hold up the others' grants
	 * and the calls gated behind them. */
	unsigned busy[WIRE_MAX_mknod_item], nbusy = 0;
	for (unsigned i = 0; i < n; i++) {
		if (rv != 0) {
			finish(s, ps[i], rv, NULL, errmsg);
			continue;
		}
		const struct wire_mknod_result *x = &rp->results[i];
		int st = cfs_error_known((int)x->status) ? (int)x->status
							  : CFS_EIO;
		if (st == CFS_LEASE_BUSY) {
			busy[nbusy++] = i;
			continue;
		}
		struct wire_entry e = {.attr = x->attr,
				       .lease = x->lease,
				       .lease_epoch = x->lease_epoch};
		finish(s, ps[i], st, &e, x->message);
	}
	for (unsigned i = 0; i < nbusy; i++)
		send_one(s, ps[busy[i]]);
}

/* Does @q ask as @p (one mknods names one caller)? */
static int
same_cred(const struct pend *p, const struct pend *q)
{
	const struct wire_cred *x = &p->r.cred, *y = &q->r.cred;

	return x->uid == y->uid && x->gid == y->gid &&
	       x->groups_count == y->groups_count &&
	       memcmp(x->groups, y->groups,
		      x->groups_count * sizeof(x->groups[0])) == 0;
}

static void *
sender_main(void *arg)
{
	struct sender *s = arg;
	struct acreate *a = s->a;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		if (a->want_refill && !a->refilling && !a->stop) {
			a->want_refill = 0;
			a->refilling = 1;
			pthread_mutex_unlock(&a->lock);
			refill(s);
			pthread_mutex_lock(&a->lock);
			continue;
		}
		struct pend *p = a->qhead;
		if (p != NULL) {
			/* all that waits, up to a batch, in queueing order
			 * (the first caller's only: one mknods, one cred) */
			unsigned n = 0, max = a->no_batch ? 1
							  : WIRE_MAX_mknod_item;
			while (a->qhead != NULL && n < max &&
			       same_cred(p, a->qhead)) {
				s->batch[n++] = a->qhead;
				a->qhead = a->qhead->qnext;
			}
			if (a->qhead == NULL)
				a->qtail = NULL;
			a->nunsent -= n;
			a->kicked = 0;
			a->nbusy++;
			/* another caller's creates, left behind this batch,
			 * get a sender of their own now */
			if (a->qhead != NULL) {
				a->kicked = 1;
				pthread_cond_signal(&a->work);
			}
			pthread_mutex_unlock(&a->lock);
			if (n == 1 && max == 1)
				send_one(s, p);
			else
				send_batch(s, s->batch, n);
			pthread_mutex_lock(&a->lock);
			a->nbusy--;
			continue;
		}
		if (a->stop)
			break;
		pthread_cond_wait(&a->work, &a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static void *
close_main(void *arg)
{
	mc_close(arg);
	return NULL;
}

int
acreate_start(struct acreate **out, const struct acreate_options *opt,
	      const struct acreate_ops *ops, void *data, char *errmsg)
{
	struct acreate *a = calloc(1, sizeof(*a));
	int rv = 0;

	if (a == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "out of memory");
	a->opt = *opt;
	a->ops = ops;
	a->data = data;
	if (a->opt.senders == 0)
		a->opt.senders = SENDERS_DEFAULT;
	if (a->opt.senders > SENDERS_MAX)
		a->opt.senders = SENDERS_MAX;
	if (a->opt.queue_max == 0)
		a->opt.queue_max = QUEUE_DEFAULT;
	a->want_refill = 1; /* before the first create */
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->work, NULL);
	pthread_cond_init(&a->idle, NULL);
	struct mc_options mo = {.client_name = "cfs-fuse creates",
				.deadline_ms = a->opt.deadline_ms,
				.lease_owner = a->opt.owner,
				.zmq_context = a->opt.zmq_context};
	for (unsigned i = 0; i < a->opt.senders && rv == 0; i++) {
		struct sender *s = &a->s[i];
		s->a = a;
		a->nsenders = i + 1;
		if ((s->rep = malloc(sizeof(*s->rep))) == NULL ||
		    (s->req = malloc(sizeof(*s->req))) == NULL)
			rv = cfs_fail(errmsg, CFS_ENOMEM, "out of memory");
		else
			rv = mc_open(&s->mc, a->opt.servers, &mo, errmsg);
	}
	for (unsigned i = 0; i < a->nsenders && rv == 0; i++) {
		if (pthread_create(&a->s[i].th, NULL, sender_main, &a->s[i]) !=
		    0)
			rv = cfs_fail(errmsg, CFS_ENOMEM, "a sender thread");
		else
			a->s[i].started = 1;
	}
	if (rv != 0) {
		acreate_stop(a, 0);
		acreate_free(&a);
		return rv;
	}
	*out = a;
	return 0;
}

void
acreate_stop(struct acreate *a, int wait_ms)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	if (a->stopped) {
		pthread_mutex_unlock(&a->lock);
		return;
	}
	a->stop = 1;
	a->nranges = 0; /* (their sessions close below) */
	pthread_cond_broadcast(&a->work);
	int64_t until = cfs_now_ms() + (wait_ms > 0 ? wait_ms : 0);
	while (a->head != NULL && cfs_now_ms() < until) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&a->idle, &a->lock, &ts);
	}
	pthread_mutex_unlock(&a->lock);
	/* What is left fails at once (CFS_CANCELED), and so does a refill
	 * in flight, which nobody waits for (it would hold the unmount up
	 * to the deadline while the cluster has no leader). */
	for (unsigned i = 0; i < a->nsenders; i++)
		if (a->s[i].mc != NULL)
			mc_cancel(a->s[i].mc);
	for (unsigned i = 0; i < a->nsenders; i++)
		if (a->s[i].started)
			pthread_join(a->s[i].th, NULL);
	/* the leases granted through these sessions go with them: whoever
	 * recorded them stops looking at the sessions (a mount's recaller
	 * read a closed one's memory) */
	if (a->ops != NULL && a->ops->closing != NULL)
		for (unsigned i = 0; i < a->nsenders; i++)
			if (a->s[i].mc != NULL)
				a->ops->closing(a->data, a->s[i].mc);
	/* at once, not in turn: each says goodbye to the leader, up to
	 * 0.3 s when none answers (an unmount after the cluster stopped) */
	pthread_t th[SENDERS_MAX];
	int started[SENDERS_MAX] = {0};
	for (unsigned i = 0; i < a->nsenders; i++)
		if (a->s[i].mc != NULL)
			started[i] = pthread_create(&th[i], NULL, close_main,
						    &a->s[i].mc) == 0;
	for (unsigned i = 0; i < a->nsenders; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			mc_close(&a->s[i].mc);
		free(a->s[i].rep);
		a->s[i].rep = NULL;
		free(a->s[i].req);
		a->s[i].req = NULL;
	}
	pthread_mutex_lock(&a->lock);
	a->stopped = 1;
	a->nranges = 0;
	pthread_mutex_unlock(&a->lock);
	if (a->st.queued > 0)
		LOG_INFO("creates answered before they were sent: %llu, %llu "
			 "committed, %llu failed, in %llu requests; %llu "
			 "waited for room in the queue (%u)",
			 (unsigned long long)a->st.queued,
			 (unsigned long long)a->st.committed,
			 (unsigned long long)a->st.failed,
			 (unsigned long long)a->st.requests,
			 (unsigned long long)a->st.full, a->opt.queue_max);
}

void
acreate_free(struct acreate **ap)
{
	struct acreate *a = *ap;

	if (a == NULL)
		return;
	acreate_stop(a, 0);
	pthread_cond_destroy(&a->idle);
	pthread_cond_destroy(&a->work);
	pthread_mutex_destroy(&a->lock);
	free(a);
	*ap = NULL;
}

uint64_t
acreate_ino(struct acreate *a)
{
	uint64_t ino = 0;
	int64_t now = cfs_now_ms();

	pthread_mutex_lock(&a->lock);
	if (a->stop) { /* nothing queued from now on: no sender would */
		pthread_mutex_unlock(&a->lock);
		return 0;
	}
	/* numbers of a session that may be gone (expired, reopened) were
	 * dropped with it: a create with one would be refused */
	while (a->nranges > 0) {
		unsigned opens = 0;
		int64_t until = mc_alive_until(a->ranges[0].mc, &opens);
		if (until > now && opens == a->ranges[0].opens)
			break;
		memmove(&a->ranges[0], &a->ranges[1],
			(a->nranges - 1) * sizeof(a->ranges[0]));
		a->nranges--;
	}
	if (a->nranges > 0 && !a->stopped) {
		ino = a->ranges[0].next++;
		if (a->ranges[0].next == a->ranges[0].end) {
			memmove(&a->ranges[0], &a->ranges[1],
				(a->nranges - 1) * sizeof(a->ranges[0]));
			a->nranges--;
		}
	}
	if (left_locked(a) < RESERVE_LOW && !a->refilling && !a->stop &&
	    a->nranges < RANGES) {
		a->want_refill = 1;
		pthread_cond_signal(&a->work);
	}
	pthread_mutex_unlock(&a->lock);
	return ino;
}

void
acreate_queue(struct acreate *a, const struct acreate_req *r)
{
	struct pend *p = calloc(1, sizeof(*p));
	int waited = 0;

	pthread_mutex_lock(&a->lock);
	while (a->npending >= a->opt.queue_max || p == NULL) {
		if (p == NULL) { /* no memory: wait for the queue to empty */
			while (a->head != NULL)
				pthread_cond_wait(&a->idle, &a->lock);
			pthread_mutex_unlock(&a->lock);
			p = calloc(1, sizeof(*p));
			pthread_mutex_lock(&a->lock);
			continue;
		}
		if (!waited)
			a->st.full++;
		waited = 1;
		pthread_cond_wait(&a->idle, &a->lock);
	}
	p->r = *r;
	p->seq = a->next_seq++;
	p->prev = a->tail;
	if (a->tail != NULL)
		a->tail->next = p;
	else
		a->head = p;
	a->tail = p;
	if (a->qtail != NULL)
		a->qtail->qnext = p;
	else
		a->qhead = p;
	a->qtail = p;
	a->npending++;
	a->nunsent++;
	a->st.queued++;
	/* A sender is woken when none is sending, or a batch is waiting:
	 * what is queued while a request is in flight goes in the next one
	 * (mknods from a single thread's creates: 4-10 a request here, a
	 * third less CPU in cfs-fuse than one mknod each from 16 senders).
	 * One at a time when the leader knows only mknod. */
	if (!a->kicked && (a->no_batch || a->nbusy == 0 ||
			   a->nunsent >= WIRE_MAX_mknod_item)) {
		a->kicked = !a->no_batch;
		pthread_cond_signal(&a->work);
	}
	pthread_mutex_unlock(&a->lock);
}

/* What a search of the pending creates looks for: a name in a directory,
 * an inode, or any create in a directory. */
struct pend_key {
	uint64_t parent, ino;
	const char *name;
};

/* The first pending create that @k matches, its answered attributes in
 * *attr (if not NULL): 1, else 0. */
static int
find_pending(struct acreate *a, const struct pend_key *k,
	     struct wire_attr *attr)
{
	int found = 0;

	pthread_mutex_lock(&a->lock);
	for (struct pend *p = a->head; p != NULL && !found; p = p->next) {
		if (k->ino != 0)
			found = p->r.attr.ino == k->ino;
		else
			found = p->r.parent == k->parent &&
				(k->name == NULL ||
				 strcmp(p->r.name, k->name) == 0);
		if (found && attr != NULL)
			*attr = p->r.attr;
	}
	pthread_mutex_unlock(&a->lock);
	return found;
}

int
acreate_pending(struct acreate *a, uint64_t parent, const char *name,
		struct wire_attr *attr)
{
	return find_pending(a, &(struct pend_key){.parent = parent,
						  .name = name},
			    attr);
}

int
acreate_idle(struct acreate *a)
{
	pthread_mutex_lock(&a->lock);
	int idle = a->head == NULL;
	pthread_mutex_unlock(&a->lock);
	return idle;
}

int
acreate_pending_in(struct acreate *a, uint64_t dir)
{
	return find_pending(a, &(struct pend_key){.parent = dir}, NULL);
}

void
acreate_wait_room(struct acreate *a)
{
	pthread_mutex_lock(&a->lock);
	while (a->npending >= a->opt.queue_max)
		pthread_cond_wait(&a->idle, &a->lock);
	pthread_mutex_unlock(&a->lock);
}

int
acreate_pending_ino(struct acreate *a, uint64_t ino, struct wire_attr *attr)
{
	return find_pending(a, &(struct pend_key){.ino = ino}, attr);
}

void
acreate_wait(void *arg)
{
	struct acreate *a = arg;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	uint64_t ticket = a->next_seq;
	while (a->head != NULL && a->head->seq < ticket)
		pthread_cond_wait(&a->idle, &a->lock);
	pthread_mutex_unlock(&a->lock);
}

void
acreate_stats(struct acreate *a, struct acreate_stats *st)
{
	pthread_mutex_lock(&a->lock);
	*st = a->st;
	pthread_mutex_unlock(&a->lock);
}
