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

/* Each sender keeps one mknod in flight: the leader commits what arrives
 * together in one Raft round.  mdbench's creates (one thread, `cfsctl dev
 * up`, 2 shared cores): 1,800/s with 4 senders, 2,800-3,300/s with 16, no
 * more with 32 (the cores are busy then). */
#define SENDERS_DEFAULT 16
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
	unsigned npending;
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

static void
send_one(struct sender *s, struct pend *p)
{
	struct acreate *a = s->a;
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
	if (rv == 0 && rt != WIRE_T_entry)
		rv = cfs_fail(errmsg, CFS_BADTYPE, "mknod answered with %s",
			      wire_type_name(rt) ? wire_type_name(rt) : "?");
	if (rv != 0)
		LOG_ERROR("create of '%s' in directory %llu (inode %llu), "
			  "answered before it was sent, failed: %s; the file "
			  "does not exist",
			  r->name, (unsigned long long)r->parent,
			  (unsigned long long)r->attr.ino, errmsg);
	a->ops->done(a->data, s->mc, r, rv, rv == 0 ? &s->rep->entry : NULL,
		     errmsg);
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
			a->qhead = p->qnext;
			if (a->qhead == NULL)
				a->qtail = NULL;
			pthread_mutex_unlock(&a->lock);
			send_one(s, p);
			pthread_mutex_lock(&a->lock);
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
		if ((s->rep = malloc(sizeof(*s->rep))) == NULL)
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
	}
	pthread_mutex_lock(&a->lock);
	a->stopped = 1;
	a->nranges = 0;
	pthread_mutex_unlock(&a->lock);
	if (a->st.queued > 0)
		LOG_INFO("creates answered before they were sent: %llu, %llu "
			 "committed, %llu failed; %llu waited for room in the "
			 "queue (%u)",
			 (unsigned long long)a->st.queued,
			 (unsigned long long)a->st.committed,
			 (unsigned long long)a->st.failed,
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
	a->st.queued++;
	pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->lock);
}

int
acreate_pending(struct acreate *a, uint64_t parent, const char *name,
		struct wire_attr *attr)
{
	int found = 0;

	pthread_mutex_lock(&a->lock);
	for (struct pend *p = a->head; p != NULL && !found; p = p->next)
		if (p->r.parent == parent && strcmp(p->r.name, name) == 0) {
			*attr = p->r.attr;
			found = 1;
		}
	pthread_mutex_unlock(&a->lock);
	return found;
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
	int found = 0;

	pthread_mutex_lock(&a->lock);
	for (struct pend *p = a->head; p != NULL && !found; p = p->next)
		found = p->r.parent == dir;
	pthread_mutex_unlock(&a->lock);
	return found;
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
	int found = 0;

	pthread_mutex_lock(&a->lock);
	for (struct pend *p = a->head; p != NULL && !found; p = p->next)
		if (p->r.attr.ino == ino) {
			*attr = p->r.attr;
			found = 1;
		}
	pthread_mutex_unlock(&a->lock);
	return found;
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
