/* clease.c - a mount's leases and its recall threads (see clease.h). */
#include "client/clease.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/proto.h"

#define BUCKETS 4096 /* power of two */
#define SESSIONS_MAX 256 /* distinct sessions leases were granted through */
#define WATCH_WAIT_MS 1000 /* how long the leader parks a watch */
#define TICK_MS 200 /* the recaller checks session liveness this often */
#define BUSY_MIN_MS 2
#define BUSY_MAX_MS 100
/* Inodes recalled lately, remembered so that optional leases are not
 * taken back at once (a directory another mount keeps changing). */
#define RECENT_SLOTS 1024
#define RECENT_MS 2000

enum { ST_GETTING, ST_HELD, ST_RECALLING };

struct entry {
	struct entry *hnext;
	struct entry *prev, *next; /* recency: most recent after c->lru */
	uint64_t ino, epoch;
	int type, state;
	unsigned getting;   /* lease_get calls in flight */
	int recall_pending; /* recalled while being got */
	/* The newest epoch a recall released: a grant of it (or older)
	 * that arrives later was answered before the release (the server
	 * answers a lease asked again with the grant it has) and is void. */
	uint64_t released;
	struct mc *mc;      /* the session it was granted through */
	unsigned opens;     /* ... in that session's incarnation */
};

struct clease {
	struct clease_options opt;
	struct clease_ops ops;
	void *data;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* the recaller's queue, and stopping */
	struct entry *tab[BUCKETS];
	struct entry lru; /* sentinel */
	size_t held;
	uint64_t *q; /* inodes to give up, in order */
	size_t qn, qcap;
	struct mc *sess[SESSIONS_MAX];
	unsigned nsess;
	int stopping;
	struct mc *watch_mc;
	pthread_t watcher, recaller;
	int watcher_started, recaller_started;
	struct clease_stats st;
	struct {
		uint64_t ino;
		int64_t at;
		uint64_t epoch; /* released then (entry.released, kept after
				   the entry goes: a mknod's grant) */
	} recent[RECENT_SLOTS];
	/* recalls of inodes this mount knew no lease of (released with
	 * epoch 0: whatever the server holds for the mount goes) */
	uint64_t unknown_recalls;
};

/* ---- the table (under c->lock) ------------------------------------------- */

static struct entry **
slot(struct clease *c, uint64_t ino)
{
	struct entry **p =
		&c->tab[(ino * 0x9E3779B97F4A7C15ull >> 40) & (BUCKETS - 1)];
	while (*p && (*p)->ino != ino)
		p = &(*p)->hnext;
	return p;
}

static void
lru_unlink(struct entry *e)
{
	if (e->prev != NULL) {
		e->prev->next = e->next;
		e->next->prev = e->prev;
		e->prev = e->next = NULL;
	}
}

static void
lru_front(struct clease *c, struct entry *e)
{
	lru_unlink(e);
	e->next = c->lru.next;
	e->prev = &c->lru;
	c->lru.next->prev = e;
	c->lru.next = e;
}

static struct entry *
find(struct clease *c, uint64_t ino)
{
	return *slot(c, ino);
}

static struct entry *
add(struct clease *c, uint64_t ino)
{
	struct entry **p = slot(c, ino);
	if (*p == NULL) {
		*p = calloc(1, sizeof(**p));
		if (*p == NULL)
			return NULL;
		(*p)->ino = ino;
		(*p)->state = ST_GETTING;
	}
	return *p;
}

static void
set_state(struct clease *c, struct entry *e, int state)
{
	if (e->state == ST_HELD && state != ST_HELD)
		c->held--;
	if (e->state != ST_HELD && state == ST_HELD)
		c->held++;
	e->state = state;
}

static void
drop(struct clease *c, struct entry *e)
{
	struct entry **p = slot(c, e->ino);
	set_state(c, e, ST_GETTING);
	lru_unlink(e);
	*p = e->hnext;
	free(e);
}

/* Remember @mc as a session leases were granted through (checked by the
 * recaller for liveness). */
static void
note_session(struct clease *c, struct mc *mc)
{
	for (unsigned i = 0; i < c->nsess; i++)
		if (c->sess[i] == mc)
			return;
	if (c->nsess < SESSIONS_MAX)
		c->sess[c->nsess++] = mc;
}

static void
enqueue(struct clease *c, uint64_t ino)
{
	if (c->qn == c->qcap) {
		size_t cap = c->qcap ? c->qcap * 2 : 64;
		uint64_t *q = realloc(c->q, cap * sizeof(*q));
		if (q == NULL) {
			LOG_ERROR("leases: out of memory queueing a recall of "
				  "inode %llu",
				  (unsigned long long)ino);
			return;
		}
		c->q = q;
		c->qcap = cap;
	}
	c->q[c->qn++] = ino;
	pthread_cond_broadcast(&c->cond);
}

/* Held leases past max_leases: the least recently used are given up. */
static void
evict(struct clease *c)
{
	struct entry *e = c->lru.prev;
	size_t queued = 0;

	while (c->held > c->opt.max_leases + queued && e != &c->lru) {
		if (e->state == ST_HELD) {
			enqueue(c, e->ino);
			c->st.evicted++;
			queued++;
		}
		e = e->prev;
	}
}

/* Until when @e may be used: the time its session is surely alive till,
 * if @e is held, that session is still the incarnation it was granted
 * through, and the time is after @now; else 0. */
static int64_t
usable_until(const struct entry *e, int64_t now)
{
	unsigned opens = 0;

	if (e->state != ST_HELD)
		return 0;
	int64_t until = mc_alive_until(e->mc, &opens);
	return opens == e->opens && until > now ? until : 0;
}

/* Record a grant (the reply to lease_get or mknod); -1 (nothing
 * recorded) if a recall released that grant already (entry.released). */
static int
granted(struct clease *c, struct entry *e, struct mc *mc, int type,
	uint64_t epoch)
{
	unsigned opens = 0;
	const unsigned r = (unsigned)(e->ino % RECENT_SLOTS);

	if (epoch <= e->released ||
	    (c->recent[r].ino == e->ino && epoch <= c->recent[r].epoch))
		return -1;

	/* A time without a usable lease (none, or one whose session lapsed
	 * while the entry still said held): what was cached then is not
	 * protected.  (Before e->mc and e->opens are replaced.) */
	if (usable_until(e, cfs_now_ms()) == 0 && c->ops.granted != NULL)
		c->ops.granted(c->data, e->ino);
	mc_alive_until(mc, &opens);
	if (e->state != ST_HELD || type > e->type || epoch > e->epoch) {
		e->type = type;
		e->epoch = epoch;
	}
	e->mc = mc;
	e->opens = opens;
	if (e->state == ST_GETTING)
		set_state(c, e, ST_HELD);
	note_session(c, mc);
	lru_front(c, e);
	c->st.granted++;
	if (e->recall_pending) {
		e->recall_pending = 0;
		enqueue(c, e->ino);
	}
	evict(c);
	return 0;
}

/* An entry known to be there (kept by a caller's getting count or
 * recalling state, which nothing else drops). */
static struct entry *
must_find(struct clease *c, uint64_t ino)
{
	struct entry *e = find(c, ino);
	if (e == NULL)
		abort();
	return e;
}

/* ---- the public calls --------------------------------------------------- */

int64_t
clease_valid(struct clease *c, uint64_t ino, int type)
{
	int64_t left = 0;

	pthread_mutex_lock(&c->lock);
	struct entry *e = find(c, ino);
	int64_t now = cfs_now_ms(), until;
	if (e != NULL && e->type >= type && (until = usable_until(e, now))) {
		left = until - now;
		lru_front(c, e);
	}
	pthread_mutex_unlock(&c->lock);
	return left;
}

uint64_t
clease_write_epoch(struct clease *c, uint64_t ino)
{
	uint64_t epoch = 0;

	pthread_mutex_lock(&c->lock);
	struct entry *e = find(c, ino);
	if (e != NULL && e->type == CFS_LEASE_WRITE &&
	    usable_until(e, cfs_now_ms()) != 0)
		epoch = e->epoch;
	pthread_mutex_unlock(&c->lock);
	return epoch;
}

int
clease_get(struct clease *c, struct mc *mc, uint64_t ino, int type,
	   int wait_ms, struct wire_attr *attr, int *fresh, char *errmsg)
{
	union wire_body *rep;
	int64_t deadline = cfs_now_ms() + (wait_ms > 0 ? wait_ms : 0);
	int64_t backoff = BUSY_MIN_MS;
	uint16_t rtype = 0;
	int rv;

	*fresh = 0;
	if (clease_valid(c, ino, type) > 0)
		return 0;
	pthread_mutex_lock(&c->lock);
	struct entry *e = add(c, ino);
	if (e == NULL) {
		pthread_mutex_unlock(&c->lock);
		return cfs_fail(errmsg, CFS_ENOMEM, "lease: out of memory");
	}
	if (e->state == ST_RECALLING) {
		pthread_mutex_unlock(&c->lock);
		return cfs_fail(errmsg, CFS_LEASE_BUSY,
				"inode %llu: lease being recalled",
				(unsigned long long)ino);
	}
	e->getting++;
	pthread_mutex_unlock(&c->lock);

	rep = malloc(sizeof(*rep));
	if (rep == NULL) {
		rv = cfs_fail(errmsg, CFS_ENOMEM, "lease: out of memory");
		goto out;
	}
	struct wire_lease_get req = {.ino = ino, .type = (uint8_t)type};
	for (;;) {
		rv = mc_call(mc, WIRE_T_lease_get, &req, &rtype, rep, 0,
			     errmsg);
		if (rv == 0 && rtype != WIRE_T_lease_granted)
			rv = cfs_fail(errmsg, CFS_MALFORMED,
				      "lease_get: unexpected reply %s",
				      wire_type_name(rtype));
		if (rv != CFS_LEASE_BUSY || cfs_now_ms() + backoff > deadline)
			break;
		cfs_sleep_ms(backoff);
		backoff = backoff * 2 > BUSY_MAX_MS ? BUSY_MAX_MS : backoff * 2;
	}
out:
	pthread_mutex_lock(&c->lock);
	e = must_find(c, ino); /* getting > 0 kept it */
	e->getting--;
	if (rv == 0 && e->state == ST_RECALLING) {
		/* A recall started meanwhile (of an older grant, or of this
		 * one found unknown): it releases what the server has. */
		rv = cfs_fail(errmsg, CFS_LEASE_BUSY,
			      "inode %llu: lease being recalled",
			      (unsigned long long)ino);
	} else if (rv == 0 && granted(c, e, mc, rep->lease_granted.type,
				      rep->lease_granted.epoch) != 0) {
		rv = cfs_fail(errmsg, CFS_LEASE_BUSY,
			      "inode %llu: lease %llu was released meanwhile",
			      (unsigned long long)ino,
			      (unsigned long long)rep->lease_granted.epoch);
		if (e->state == ST_GETTING && e->getting == 0)
			drop(c, e);
	} else if (rv == 0) {
		*fresh = 1;
		if (attr != NULL)
			*attr = rep->lease_granted.attr;
	} else if (e->state == ST_GETTING && e->getting == 0) {
		drop(c, e);
	}
	pthread_mutex_unlock(&c->lock);
	free(rep);
	return rv;
}

int
clease_recalled_lately(struct clease *c, uint64_t ino)
{
	pthread_mutex_lock(&c->lock);
	int lately = c->recent[ino % RECENT_SLOTS].ino == ino &&
		     cfs_now_ms() - c->recent[ino % RECENT_SLOTS].at < RECENT_MS;
	pthread_mutex_unlock(&c->lock);
	return lately;
}

int
clease_wait_recall(struct clease *c, uint64_t ino, int wait_ms)
{
	struct timespec ts;
	int recalling;

	cfs_deadline_ts(&ts, wait_ms);
	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct entry *e = find(c, ino);
		recalling = e != NULL && e->state == ST_RECALLING;
		if (!recalling || c->stopping ||
		    pthread_cond_timedwait(&c->cond, &c->lock, &ts) != 0)
			break;
	}
	struct entry *e = find(c, ino);
	recalling = e != NULL && e->state == ST_RECALLING;
	pthread_mutex_unlock(&c->lock);
	return recalling ? CFS_ETIMEDOUT : 0;
}

uint64_t
clease_mark(struct clease *c)
{
	pthread_mutex_lock(&c->lock);
	uint64_t m = c->unknown_recalls;
	pthread_mutex_unlock(&c->lock);
	return m;
}

void
clease_granted(struct clease *c, struct mc *mc, uint64_t ino, int type,
	       uint64_t epoch, uint64_t mark)
{
	if (type == 0)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->unknown_recalls != mark) {
		/* a recall may have released this grant before we knew of
		 * it: go without (a later clease_get asks again) */
		pthread_mutex_unlock(&c->lock);
		return;
	}
	struct entry *e = add(c, ino);
	if (e != NULL && e->state != ST_RECALLING &&
	    granted(c, e, mc, type, epoch) != 0 && e->state == ST_GETTING &&
	    e->getting == 0)
		drop(c, e); /* released already: go without */
	pthread_mutex_unlock(&c->lock);
}

void
clease_forget(struct clease *c, uint64_t ino)
{
	pthread_mutex_lock(&c->lock);
	struct entry *e = find(c, ino);
	if (e != NULL && e->state == ST_HELD && e->getting == 0)
		drop(c, e);
	pthread_mutex_unlock(&c->lock);
}

void
clease_stats(struct clease *c, struct clease_stats *st)
{
	pthread_mutex_lock(&c->lock);
	*st = c->st;
	st->held = c->held;
	pthread_mutex_unlock(&c->lock);
}

/* ---- the recaller --------------------------------------------------------- */

static void
release(struct clease *c, uint64_t ino, uint64_t epoch)
{
	char errmsg[CFS_ERRMSG_SIZE];
	struct wire_lease_release req = {.ino = ino, .epoch = epoch};
	struct mc *mc = c->ops.borrow(c->data);
	int rv = mc_call(mc, WIRE_T_lease_release, &req, NULL, NULL,
			 c->opt.deadline_ms, errmsg);
	if (rv != 0)
		LOG_WARN("lease of inode %llu: release: %s (it ends with the "
			 "session)",
			 (unsigned long long)ino, errmsg);
}

/*
 * Give up the lease on @ino (docs/leases.md "Recall").  Cases:
 *  1) being got right now and not yet granted: recalled once granted;
 *  2) recalled already: nothing;
 *  3) held, or unknown (the server may still have a grant this mount
 *     forgot): marked recalling so that no one uses or asks for it,
 *     flushed if a write lease, cache dropped, released, dropped again.
 */
static void
recall_one(struct clease *c, uint64_t ino)
{
	pthread_mutex_lock(&c->lock);
	struct entry *e = add(c, ino);
	if (e == NULL) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (e->state == ST_GETTING && e->getting > 0) {
		e->recall_pending = 1;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (e->state == ST_RECALLING) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	int type = e->state == ST_HELD ? e->type : 0;
	uint64_t epoch = e->state == ST_HELD ? e->epoch : 0;
	if (e->state != ST_HELD)
		c->unknown_recalls++;
	set_state(c, e, ST_RECALLING);
	lru_unlink(e);
	c->st.recalled++;
	c->recent[ino % RECENT_SLOTS].ino = ino;
	c->recent[ino % RECENT_SLOTS].at = cfs_now_ms();
	c->recent[ino % RECENT_SLOTS].epoch = epoch;
	if (epoch > e->released)
		e->released = epoch;
	pthread_mutex_unlock(&c->lock);

	/* also when the lease is not known here: one this mount dropped
	 * (its session was not surely alive) may still hold on the server,
	 * with data buffered under it (fencing, docs/leases.md) */
	if (type != CFS_LEASE_READ) {
		int rv = c->ops.flush(c->data, ino);
		if (rv != 0)
			LOG_WARN("lease of inode %llu recalled: flushing "
				 "failed: %s",
				 (unsigned long long)ino, cfs_strerror(rv));
	}
	c->ops.invalidate(c->data, ino);
	release(c, ino, epoch);

	c->ops.invalidate(c->data, ino);
	pthread_mutex_lock(&c->lock);
	e = must_find(c, ino);
	if (e->getting > 0 || e->recall_pending) {
		e->recall_pending = 0;
		set_state(c, e, ST_GETTING);
	} else {
		drop(c, e);
	}
	pthread_cond_broadcast(&c->cond); /* clease_wait_recall */
	pthread_mutex_unlock(&c->lock);
}

/* Sessions that are no longer surely alive, and session @closing (or
 * NULL), take every lease granted through them: their caches are dropped
 * (nothing is released: the server drops them with the session, or a
 * recall finds them unknown). */
static void
expire_sessions(struct clease *c, const struct mc *closing)
{
	uint64_t *gone = NULL;
	size_t n = 0, cap = 0;
	int64_t now = cfs_now_ms();

	pthread_mutex_lock(&c->lock);
	for (unsigned b = 0; b < BUCKETS; b++)
		for (struct entry *e = c->tab[b]; e != NULL; e = e->hnext) {
			if (e->state != ST_HELD ||
			    (e->mc != closing && usable_until(e, now) != 0))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				uint64_t *g = realloc(gone, cap * sizeof(*g));
				if (g == NULL)
					break;
				gone = g;
			}
			gone[n++] = e->ino;
		}
	for (size_t i = 0; i < n; i++) {
		struct entry *e = must_find(c, gone[i]);
		if (e->getting == 0)
			drop(c, e);
		else
			set_state(c, e, ST_GETTING);
		c->st.expired++;
	}
	pthread_mutex_unlock(&c->lock);
	if (n > 0 && closing == NULL)
		LOG_WARN("leases: %zu dropped: their session is not surely "
			 "alive",
			 n);
	for (size_t i = 0; i < n; i++)
		c->ops.invalidate(c->data, gone[i]);
	free(gone);
}

void
clease_session_closing(struct clease *c, struct mc *mc)
{
	if (c == NULL || mc == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->nsess; i++)
		if (c->sess[i] == mc) {
			/* (the recaller's record of the session moved
			 * here sees a change: a walk of the leases, no
			 * harm) */
			c->sess[i] = c->sess[--c->nsess];
			break;
		}
	pthread_mutex_unlock(&c->lock);
	expire_sessions(c, mc);
}

/* Is any session leases were granted through past its safe time?  (A
 * cheap test before expire_sessions walks every lease.) */
static int
sessions_lapsed(struct clease *c)
{
	int64_t now = cfs_now_ms();
	int lapsed = 0;

	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->nsess && !lapsed; i++) {
		int64_t until = mc_alive_until(c->sess[i], NULL);
		lapsed = until <= now;
	}
	pthread_mutex_unlock(&c->lock);
	return lapsed;
}

static void *
recaller_main(void *arg)
{
	struct clease *c = arg;
	unsigned seen_opens[SESSIONS_MAX] = {0};

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		if (c->qn == 0) {
			struct timespec ts;
			cfs_deadline_ts(&ts, TICK_MS);
			pthread_cond_timedwait(&c->cond, &c->lock, &ts);
		}
		if (c->stopping)
			break;
		if (c->qn > 0) {
			uint64_t ino = c->q[0];
			memmove(c->q, c->q + 1, --c->qn * sizeof(*c->q));
			pthread_mutex_unlock(&c->lock);
			recall_one(c, ino);
			pthread_mutex_lock(&c->lock);
			continue;
		}
		/* a session replaced (a new incarnation) also lapses */
		int changed = 0;
		for (unsigned i = 0; i < c->nsess; i++) {
			unsigned opens = 0;
			mc_alive_until(c->sess[i], &opens);
			if (opens != seen_opens[i] && seen_opens[i] != 0)
				changed = 1;
			seen_opens[i] = opens;
		}
		pthread_mutex_unlock(&c->lock);
		if (changed || sessions_lapsed(c))
			expire_sessions(c, NULL);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---- the watcher ------------------------------------------------------------ */

static void *
watcher_main(void *arg)
{
	struct clease *c = arg;
	union wire_body *rep = malloc(sizeof(*rep));
	struct wire_lease_watch req = {.holder = c->opt.owner,
				       .wait_ms = WATCH_WAIT_MS};
	char errmsg[CFS_ERRMSG_SIZE];

	if (rep == NULL) {
		LOG_ERROR("leases: out of memory: no recalls will be heard");
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&c->lock);
		int stop = c->stopping;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
		uint16_t rtype = 0;
		int rv = mc_call(c->watch_mc, WIRE_T_lease_watch, &req, &rtype,
				 rep, 3 * WATCH_WAIT_MS, errmsg);
		if (rv != 0 || rtype != WIRE_T_lease_recall) {
			if (rv != 0)
				LOG_DEBUG("leases: watch: %s", errmsg);
			cfs_sleep_ms(100);
			continue;
		}
		pthread_mutex_lock(&c->lock);
		for (uint32_t i = 0; i < rep->lease_recall.inos_count; i++)
			enqueue(c, rep->lease_recall.inos[i]);
		pthread_mutex_unlock(&c->lock);
	}
	free(rep);
	return NULL;
}

/* ---- start / stop ------------------------------------------------------------ */

int
clease_start(struct clease **out, const struct clease_options *opt,
	     const struct clease_ops *ops, void *data, char *errmsg)
{
	struct clease *c = calloc(1, sizeof(*c));
	int rv;

	if (c == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "leases: out of memory");
	c->opt = *opt;
	if (c->opt.max_leases == 0)
		c->opt.max_leases = 100000;
	if (c->opt.deadline_ms <= 0)
		c->opt.deadline_ms = 15000;
	c->ops = *ops;
	c->data = data;
	c->lru.next = c->lru.prev = &c->lru;
	pthread_mutex_init(&c->lock, NULL);
	cfs_cond_init_monotonic(&c->cond);

	struct mc_options mo = {.client_name = "cfs-leases",
				.lease_ms = opt->lease_ms,
				.lease_owner = opt->owner,
				.zmq_context = opt->zmq_context,
				.attempt_timeout_ms = 3 * WATCH_WAIT_MS,
				.deadline_ms = c->opt.deadline_ms};
	rv = mc_open(&c->watch_mc, opt->servers, &mo, errmsg);
	if (rv != 0) {
		cfs_errmsg_prefix(errmsg, "leases: watch session");
		clease_stop(&c);
		return rv;
	}
	if (pthread_create(&c->recaller, NULL, recaller_main, c) != 0) {
		clease_stop(&c);
		return cfs_fail(errmsg, CFS_ENOMEM, "leases: recall thread");
	}
	c->recaller_started = 1;
	if (pthread_create(&c->watcher, NULL, watcher_main, c) != 0) {
		clease_stop(&c);
		return cfs_fail(errmsg, CFS_ENOMEM, "leases: watch thread");
	}
	c->watcher_started = 1;
	*out = c;
	return 0;
}

void
clease_stop(struct clease **cp)
{
	struct clease *c = *cp;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	/* the watcher is parked in a watch call for up to a second (three
	 * with no server answering): unmounting need not wait for it */
	if (c->watch_mc != NULL)
		mc_cancel(c->watch_mc);
	if (c->watcher_started)
		pthread_join(c->watcher, NULL);
	if (c->recaller_started)
		pthread_join(c->recaller, NULL);
	mc_close(&c->watch_mc);
	for (unsigned b = 0; b < BUCKETS; b++)
		while (c->tab[b] != NULL) {
			struct entry *e = c->tab[b];
			c->tab[b] = e->hnext;
			free(e);
		}
	free(c->q);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
	*cp = NULL;
}
