/* fileio.c - file data over CFS: the fio, locating fragments, chain writes with replacement, commits, versions opened ahead, parallel fragment writes. */
#include "client/fileio_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/nodeclient.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/splitmix.h"

/* struct fio, the mount's table of versions and the limits the three files
 * use are in client/fileio_int.h; versions open for patching in place,
 * which write_fragment tries first, in client/inplace.c; reading and
 * read-ahead in client/fileread.c. */

#define WRITE_ATTEMPTS 6
/* A write that lost a race (another writer's version of the fragment
 * committed first: writers without a write lease, or a truncation) writes
 * its bytes again over the winner's.  Lost races do not use up the
 * attempts above, which are for failures, but are bounded too; see
 * race_pause. */
#define WRITE_RACES 48
#define RACE_PAUSE_MAX_US 32000

/* Before the next try of a write that lost race @k (from 1): a random
 * pause of up to 250 us << k, at most RACE_PAUSE_MAX_US.  Two writers in
 * step lose to each other again and again; a random pause, growing,
 * takes them out of step (WRITE_RACES pauses: ~0.7 s on average, 1.4 s
 * at most, with the caller's ofile and flush locks held: a write that
 * keeps losing holds up write-outs of other files of its flush stripe). */
static void
race_pause(unsigned k)
{
	uint64_t cap = k >= 8 ? RACE_PAUSE_MAX_US : 250u << k;
	struct timespec ts;

	if (cap > RACE_PAUSE_MAX_US)
		cap = RACE_PAUSE_MAX_US;
	/* splitmix64 of the clock and the stack address: no shared state
	 * between threads, different on each call */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t seed = (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&ts;
	uint64_t us = cfs_splitmix64(&seed) % cap;
	ts.tv_sec = (time_t)(us / 1000000);
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void
fio_set_cache(struct fio *f, struct bcache *bc)
{
	f->bc = bc;
}

void
fio_set_local(struct fio *f, struct lread *lr)
{
	f->lr = lr;
}

/* ---- versions opened ahead ------------------------------------------------- */

/* A version opened by the commit of its base, for the next write of its
 * fragment under the same write lease (@epoch). */
struct opened_ahead {
	uint64_t ino, idx, epoch;
	uint64_t when_ms;
	uint64_t version, base_version, base_length;
	uint32_t goal, chain_count;
	struct wire_nodeaddr chain[CFS_GOAL_MAX]; /* (the wire allows more) */
};

int
fio_opens_new(struct fio_opens **out, char *errmsg)
{
	struct fio_opens *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "versions opened ahead");
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->patch_cond, NULL);
	*out = t;
	return 0;
}

void
fio_opens_free(struct fio_opens **tp)
{
	struct fio_opens *t = *tp;

	if (t == NULL)
		return;
	for (unsigned i = 0; i < OPENS_SLOTS; i++)
		free(t->slot[i].a);
	for (size_t i = 0; i < t->npatch; i++)
		free(t->patch[i]);
	free(t->patch);
	pthread_cond_destroy(&t->patch_cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
	*tp = NULL;
}

void
fio_opens_set_lease_check(struct fio_opens *t,
			  int (*ok)(void *arg, uint64_t ino, uint64_t epoch),
			  void *arg)
{
	t->lease_ok = ok;
	t->lease_arg = arg;
}

void
fio_opens_set_sealed(struct fio_opens *t,
		     void (*sealed)(void *arg, uint64_t ino), void *arg)
{
	t->sealed = sealed;
	t->sealed_arg = arg;
}

void
fio_opens_set_contended(struct fio_opens *t,
			int (*contended)(void *arg, uint64_t ino), void *arg)
{
	t->contended = contended;
	t->contended_arg = arg;
}

void
fio_set_opens(struct fio *f, struct fio_opens *t)
{
	f->opens = t;
}

void
fio_opens_stats(struct fio_opens *t, struct fio_opens_stats *st)
{
	pthread_mutex_lock(&t->lock);
	*st = t->st;
	pthread_mutex_unlock(&t->lock);
}

/* A version taken from the table turned out stale at its commit. */
static void
opens_stale(struct fio_opens *t)
{
	pthread_mutex_lock(&t->lock);
	t->st.stale++;
	pthread_mutex_unlock(&t->lock);
}

static unsigned
opens_slot(uint64_t ino, uint64_t idx)
{
	return (unsigned)(((ino * 0x9e3779b97f4a7c15ull) ^ idx) % OPENS_SLOTS);
}

/* Keep f->opened's successor @version (its base: f->opened's version, now
 * committed with @length bytes) for the next write of the fragment under
 * lease @epoch; it replaces whatever the slot held (that one's rows go
 * when the leader drops them). */
static void
opens_keep(struct fio *f, uint64_t ino, uint64_t idx, uint64_t epoch,
	   uint64_t version, uint64_t length)
{
	struct opened_ahead *a;

	if (f->opened.chain_count > CFS_GOAL_MAX ||
	    (a = malloc(sizeof(*a))) == NULL)
		return;
	a->ino = ino;
	a->idx = idx;
	a->epoch = epoch;
	a->when_ms = cfs_now_ms();
	a->version = version;
	a->base_version = f->opened.version;
	a->base_length = length;
	a->goal = f->opened.goal;
	a->chain_count = f->opened.chain_count;
	memcpy(a->chain, f->opened.chain,
	       a->chain_count * sizeof(a->chain[0]));
	unsigned i = opens_slot(ino, idx);
	pthread_mutex_lock(&f->opens->lock);
	struct opened_ahead *old = f->opens->slot[i].a;
	f->opens->slot[i].a = a;
	f->opens->st.kept++;
	pthread_mutex_unlock(&f->opens->lock);
	free(old);
}

/* Whether a commit of (@ino, @idx) under a lease should open the next
 * version ahead: only if this mount committed the fragment within
 * OPENS_MAX_AGE_MS already, so that the next write is likely to come in
 * time to use it (an unused one costs its rows, later garbage and deletes
 * of files never written).  Notes this commit either way. */
static int
opens_wanted(struct fio_opens *t, uint64_t ino, uint64_t idx)
{
	unsigned i = opens_slot(ino, idx);
	uint64_t now = cfs_now_ms();

	pthread_mutex_lock(&t->lock);
	struct opens_slot *sl = &t->slot[i];
	int recent = sl->ino == ino && sl->idx == idx && sl->when_ms != 0 &&
		     now - sl->when_ms < OPENS_MAX_AGE_MS;
	sl->ino = ino;
	sl->idx = idx;
	sl->when_ms = now;
	pthread_mutex_unlock(&t->lock);
	return recent;
}

/* Take the version kept for (@ino, @idx) under lease @epoch into
 * f->opened: 1, or 0 if there is none (or too old, or of another lease). */
static int
opens_take(struct fio *f, uint64_t ino, uint64_t idx, uint64_t epoch)
{
	struct opens_slot *sl = &f->opens->slot[opens_slot(ino, idx)];
	struct opened_ahead *a = NULL;
	int ok = 0;

	pthread_mutex_lock(&f->opens->lock);
	if (sl->a != NULL && sl->a->ino == ino && sl->a->idx == idx) {
		a = sl->a;
		sl->a = NULL;
		ok = a->epoch == epoch &&
		     cfs_now_ms() - a->when_ms < OPENS_MAX_AGE_MS;
		if (ok)
			f->opens->st.used++;
	}
	pthread_mutex_unlock(&f->opens->lock);
	if (ok) {
		f->opened.version = a->version;
		f->opened.base_version = a->base_version;
		f->opened.base_length = a->base_length;
		f->opened.goal = a->goal;
		f->opened.chain_count = a->chain_count;
		memcpy(f->opened.chain, a->chain,
		       a->chain_count * sizeof(a->chain[0]));
	}
	free(a);
	return ok;
}

int
fio_open(struct fio **out, struct mc *mc, void *zctx, char *errmsg)
{
	struct fio *f = calloc(1, sizeof(*f));
	int rv;

	if (f == NULL || (f->rep = malloc(sizeof(*f->rep))) == NULL ||
	    (f->map = malloc(sizeof(*f->map))) == NULL) {
		if (f)
			free(f->rep);
		free(f);
		return cfs_fail(errmsg, CFS_ENOMEM, "file I/O");
	}
	if ((rv = nc_open(&f->nc, zctx, errmsg)) != 0) {
		free(f->map);
		free(f->rep);
		free(f);
		return rv;
	}
	f->mc = mc;
	f->zctx = zctx;
	pthread_mutex_init(&f->clock, NULL);
	*out = f;
	return 0;
}

void
fio_close(struct fio **fp)
{
	struct fio *f = *fp;

	if (f == NULL)
		return;
	for (int i = 0; i < WRITE_PARALLEL - 1; i++)
		fio_close(&f->helpers[i]);
	nc_close(&f->nc);
	for (int i = 0; i < PREFETCH_DEPTH; i++) {
		lread_done(f->pf[i].job);
		nc_close(&f->pnc[i]);
	}
	for (int i = 0; i < CFS_GOAL_MAX; i++)
		nc_close(&f->fan[i]);
	pthread_mutex_destroy(&f->clock);
	for (unsigned i = 0; i < KEPT_WINDOWS; i++)
		free(f->kept[i].map);
	free(f->map);
	free(f->rep);
	free(f);
	*fp = NULL;
}

void
fio_get_stats(const struct fio *f, struct fio_stats *st)
{
	*st = f->st;
	for (int i = 0; i < WRITE_PARALLEL - 1; i++) {
		if (f->helpers[i] == NULL)
			continue;
		st->writes += f->helpers[i]->st.writes;
		st->reads += f->helpers[i]->st.reads;
		st->rewrites += f->helpers[i]->st.rewrites;
		st->bad_replicas += f->helpers[i]->st.bad_replicas;
		st->patches += f->helpers[i]->st.patches;
	}
}

/* frag_locate [first, first + count) into f->map; @for_write: to rewrite
 * them (write permission, not read). */
int
fio_locate(struct fio *f, uint64_t ino, uint64_t first, uint32_t count,
	   int for_write, char *errmsg)
{
	struct wire_frag_locate rq = {.ino = ino, .first = first,
				      .count = count,
				      .for_write = for_write != 0,
				      .lease_epoch = inplace_epoch_of(f->opens,
								      ino)};
	uint16_t rt = 0;
	int rv;

	mc_cred(f->mc, &rq.cred);
	rv = mc_call(f->mc, WIRE_T_frag_locate, &rq, &rt, f->rep, 0, errmsg);
	if (rv != 0)
		return rv;
	if (rt != WIRE_T_frag_map)
		return cfs_fail(errmsg, CFS_MALFORMED, "frag_locate answered "
				"with %s", wire_type_name(rt));
	memcpy(f->map, &f->rep->frag_map, sizeof(*f->map));
	f->fsz = f->map->fragment_size;
	f->cur = f->map;
	return 0;
}

/* The fragment size, asked with a frag_locate of @ino (its reader's or
 * its writer's, @for_write) the first time. */
static int
fragment_size(struct fio *f, uint64_t ino, int for_write, uint64_t *fsz,
	      char *errmsg)
{
	int rv;

	if (f->fsz == 0 &&
	    (rv = fio_locate(f, ino, 0, 0, for_write, errmsg)) != 0)
		return rv;
	if (f->fsz == 0)
		return cfs_fail(errmsg, CFS_MALFORMED, "fragment size 0");
	*fsz = f->fsz;
	return 0;
}

int
fio_fragment_size(struct fio *f, uint64_t ino, uint64_t *fsz, char *errmsg)
{
	return fragment_size(f, ino, 0, fsz, errmsg);
}

int
fio_fragment_size_for_write(struct fio *f, uint64_t ino, uint64_t *fsz,
			    char *errmsg)
{
	return fragment_size(f, ino, 1, fsz, errmsg);
}

/* ---- writing ------------------------------------------------------------ */

static int
open_version(struct fio *f, uint64_t ino, uint64_t idx, uint64_t lease_epoch,
	     const uint64_t *exclude, uint32_t nexclude, char *errmsg)
{
	struct wire_frag_open rq = {.ino = ino, .idx = idx,
				    .lease_epoch = lease_epoch};
	uint16_t rt = 0;
	int rv;

	mc_cred(f->mc, &rq.cred);
	memcpy(rq.exclude, exclude, nexclude * sizeof(exclude[0]));
	rq.exclude_count = nexclude;
	rv = mc_call(f->mc, WIRE_T_frag_open, &rq, &rt, f->rep, 0, errmsg);
	if (rv != 0)
		return rv;
	if (rt != WIRE_T_frag_opened || f->rep->frag_opened.chain_count == 0)
		return cfs_fail(errmsg, CFS_MALFORMED, "bad frag_open reply");
	memcpy(&f->opened, &f->rep->frag_opened, sizeof(f->opened));
	return 0;
}

/* Commit f->opened's version, written as @w says; @reopen: ask for the
 * next version on the same nodes (the answer's entry.reopened); @ahead:
 * the version was opened ahead, and its nodes must still hold its base;
 * @in_place: keep it open for patching in place (under w->lease_epoch).
 * Every commit names the base the version was opened on, none included
 * (base_named): a patch's base, and for a write that sent no base (a new
 * fragment, or one it replaces whole) what was committed when it opened,
 * so that another writer's commit meanwhile (one without a lease) is not
 * dropped by this one, also where the two do not overlap. */
static int
commit_version(struct fio *f, uint64_t ino, uint64_t idx,
	       const struct wire_frag_write *w, uint32_t crc, uint64_t size,
	       int reopen, int ahead, int in_place, char *errmsg)
{
	struct wire_frag_commit rq = {
	    .ino = ino, .idx = idx, .version = f->opened.version,
	    .length = w->length, .crc = crc, .size = size,
	    .lease_epoch = w->lease_epoch,
	    .base_version = f->opened.base_version,
	    .base_length = f->opened.base_length,
	    .reopen = (uint64_t)reopen,
	    .base_held = ahead && f->opened.base_version != 0,
	    .base_named = 1,
	    .in_place = in_place ? CFS_INPLACE_OPEN : CFS_INPLACE_NONE};
	mc_cred(f->mc, &rq.cred);
	for (uint32_t i = 0; i < f->opened.chain_count; i++)
		rq.nodes[i] = f->opened.chain[i].id;
	rq.nodes_count = f->opened.chain_count;
	return mc_call(f->mc, WIRE_T_frag_commit, &rq, NULL, f->rep, 0,
		       errmsg);
}

/* One attempt down the chain of f->opened.  Returns 0 and the replica's
 * length and crc, or a failure with *failed naming the node to exclude
 * (0: none in particular). */
static int
chain_write(struct fio *f, uint64_t ino, uint64_t idx,
	    const struct wire_frag_write *tmpl, const void *data, size_t n,
	    int durable, uint64_t *len, uint32_t *crc, uint64_t *failed,
	    char *errmsg)
{
	struct wire_frag_write *w = malloc(sizeof(*w));
	union wire_body *rep = NULL;
	uint16_t rt = 0;
	int rv;

	if (w == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "frag_write");
	*w = *tmpl;
	w->ino = ino;
	w->idx = idx;
	w->version = f->opened.version;
	w->durable = (uint8_t)durable;
	w->chain_count = f->opened.chain_count - 1;
	memcpy(w->chain, f->opened.chain + 1,
	       w->chain_count * sizeof(w->chain[0]));
	*failed = f->opened.chain[0].id;
	rv = nc_call(f->nc, f->opened.chain[0].addr, WIRE_T_frag_write, w,
		     data, n, WRITE_TIMEOUT_MS, &rt, &rep, NULL, NULL, errmsg);
	free(w);
	if (rv != 0)
		return rv;
	if (rt != WIRE_T_frag_written)
		return cfs_fail(errmsg, CFS_MALFORMED, "frag_write answered "
				"with %s", wire_type_name(rt));
	/* a failure names its node; one that has no id yet (restarted, not
	 * registered again) names none: then it is the head, whose id the
	 * client knows (data/service.c forward_finish does the same) */
	if (rep->frag_written.failed_node != 0 ||
	    rep->frag_written.fail_status != 0) {
		if (rep->frag_written.failed_node != 0)
			*failed = rep->frag_written.failed_node;
		cfs_errmsg_set(errmsg, "node %llu: %s",
			       (unsigned long long)*failed,
			       rep->frag_written.fail_message);
		return rep->frag_written.fail_status
			       ? (int)rep->frag_written.fail_status
			       : CFS_EIO;
	}
	*failed = 0;
	*len = rep->frag_written.length;
	*crc = rep->frag_written.crc;
	return 0;
}

/* The whole current content of a fragment, patched with [foff, foff+n),
 * for a resend to nodes that lack the base version.  *out malloc'd. */
static int
patched_whole(struct fio *f, uint64_t ino, uint64_t idx, uint64_t base_len,
	      uint64_t foff, const void *data, size_t n, uint8_t **out,
	      size_t *outlen, char *errmsg)
{
	size_t total = base_len > foff + n ? base_len : foff + n;
	uint8_t *buf = calloc(1, total ? total : 1);
	size_t got = 0;
	int rv;

	if (buf == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "fragment buffer");
	if (base_len > 0 &&
	    (rv = fio_pread_ex(f, ino, idx * f->fsz, buf, base_len, &got,
			       FIO_NOKEEP | FIO_FOR_WRITE, errmsg)) != 0) {
		free(buf);
		return rv;
	}
	memcpy(buf + foff, data, n);
	*out = buf;
	*outlen = total;
	return 0;
}

/* Write [foff, foff + n) of fragment @idx; @size: the file's size after. */
static int
write_fragment(struct fio *f, uint64_t ino, uint64_t idx, uint64_t foff,
	       const void *data, size_t n, int durable, uint64_t lease_epoch,
	       uint64_t size, char *errmsg)
{
	uint64_t exclude[CFS_GOAL_MAX];
	uint32_t nexclude = 0;
	uint8_t *whole = NULL;
	size_t whole_len = 0;
	int rv = CFS_EIO, recovered = 0;
	unsigned races = 0;

	if (f->opens != NULL) { /* also without a lease: sealed first */
		int done = 0;
		rv = inplace_write(f, ino, idx, foff, data, n, lease_epoch,
				   &done, errmsg);
		if (!done && rv == 0 && lease_epoch != 0 && n <= INPLACE_MAX)
			rv = inplace_open_committed(f, ino, idx, foff, data, n,
						    lease_epoch, &done, errmsg);
		if (done || rv != 0) {
			if (rv != 0)
				cfs_errmsg_prefix(errmsg, "fragment %llu/%llu",
						  (unsigned long long)ino,
						  (unsigned long long)idx);
			else
				f->st.writes++;
			return rv;
		}
	}
	for (unsigned attempt = 0; attempt < WRITE_ATTEMPTS + races;
	     attempt++) {
		int ahead = attempt == 0 && lease_epoch != 0 &&
			    f->opens != NULL &&
			    opens_take(f, ino, idx, lease_epoch);
		if (!ahead && (rv = open_version(f, ino, idx, lease_epoch,
						 exclude, nexclude,
						 errmsg)) == CFS_EBUSY &&
		    lease_epoch != 0 && f->opens != NULL && !recovered) {
			int done = 0;
			recovered = 1;
			rv = inplace_recover(f, ino, idx, foff, data, n,
					     lease_epoch, &done, errmsg);
			if (rv != 0 || done)
				break;
			rv = open_version(f, ino, idx, lease_epoch, exclude,
					  nexclude, errmsg);
		}
		if (!ahead && rv != 0)
			break;
		const struct wire_frag_opened *o = &f->opened;
		struct wire_frag_write w = {.offset = foff,
					    .lease_epoch = lease_epoch};
		const void *payload = data;
		size_t plen = n;
		if (whole != NULL) {
			w.offset = 0;
			payload = whole;
			plen = whole_len;
			w.length = whole_len;
		} else if (o->base_version != 0 &&
			   !(foff == 0 && n >= o->base_length)) {
			w.base_version = o->base_version;
			w.base_length = o->base_length;
			w.length = o->base_length > foff + n ? o->base_length
							     : foff + n;
		} else {
			w.length = foff + n;
		}
		uint64_t len = 0, failed = 0;
		uint32_t crc = 0;
		rv = chain_write(f, ino, idx, &w, payload, plen, durable, &len,
				 &crc, &failed, errmsg);
		if (rv == 0) {
			/* a patch under a write lease, of a fragment that
			 * was written moments ago: the next one is likely
			 * to come soon */
			int recent = lease_epoch != 0 && f->opens != NULL &&
				     w.base_version != 0 &&
				     opens_wanted(f->opens, ino, idx);
			/* A small write inside the fragment's data: the
			 * next ones are patched in place.  Not one that
			 * makes it longer: an appender would seal (a Raft
			 * round) at each next write; nor a large one, as
			 * cheap as a version; those go on with versions
			 * opened ahead. */
			struct open_patch *r = NULL;
			if (lease_epoch != 0 && f->opens != NULL &&
			    w.base_version != 0 &&
			    w.length == o->base_length && n <= INPLACE_MAX &&
			    !inplace_contended(f->opens, ino) &&
			    inplace_room(f))
				r = inplace_reserve(f, ino, idx, lease_epoch);
			int in_place = r != NULL;
			int reopen = recent && !in_place;
			rv = commit_version(f, ino, idx, &w, crc, size, reopen,
					    ahead, in_place, errmsg);
			if (r != NULL && rv == 0)
				inplace_add(f, r, f->opened.version, w.length,
					    crc, f->opened.chain,
					    f->opened.chain_count);
			else if (r != NULL)
				inplace_unreserve(f, r);
			if (rv == 0) {
				if (reopen && f->rep->entry.reopened != 0)
					opens_keep(f, ino, idx, lease_epoch,
						   f->rep->entry.reopened,
						   w.length);
				break;
			}
			/* The base changed since the version was opened
			 * (another writer, a truncation; or, for a version
			 * opened ahead, a node's copy of it went), or the
			 * version's rows did (its node was removed, or the
			 * leader dropped them): the same bytes again over
			 * what is committed now. */
			/* (EBUSY: another thread of this mount opened the
			 * fragment for patching meanwhile: the next attempt
			 * patches it, or seals it) */
			if (rv != CFS_ESTALE && rv != CFS_EINVAL &&
			    rv != CFS_EBUSY)
				break;
			if (ahead)
				opens_stale(f->opens);
			/* after this mount's own truncation, expected; a
			 * race lost again and again is told once */
			CFS_LOG(ahead || races > 0 ? CFS_LOG_DEBUG
						   : CFS_LOG_INFO,
				"v%llu: %s; writing it again over the "
				"committed version",
				(unsigned long long)o->version, errmsg);
			free(whole);
			whole = NULL;
			if (rv == CFS_ESTALE) {
				if (races == WRITE_RACES)
					break; /* EIO, below */
				race_pause(++races);
			}
			continue;
		}
		if (rv == CFS_FENCED)
			break; /* the lease is gone: no node takes it */
		f->st.rewrites++;
		/* a node of a version opened ahead lost the base (moved, or
		 * garbage): placement keeps only the holders it has now, and
		 * the whole fragment read for a resend would be of a base
		 * that may be stale too */
		if (ahead && rv == CFS_ENOENT) {
			LOG_INFO("fragment %llu/%llu v%llu (opened ahead): "
				 "%s; opening it afresh",
				 (unsigned long long)ino,
				 (unsigned long long)idx,
				 (unsigned long long)o->version, errmsg);
			continue;
		}
		LOG_WARN("fragment %llu/%llu v%llu: %s; writing it again",
			 (unsigned long long)ino, (unsigned long long)idx,
			 (unsigned long long)o->version, errmsg);
		if (rv == CFS_ENOENT && w.base_version != 0 && whole == NULL) {
			/* a node lacks the base: send the whole fragment */
			rv = patched_whole(f, ino, idx, o->base_length, foff,
					   data, n, &whole, &whole_len,
					   errmsg);
			if (rv != 0)
				break;
			/* not written yet: if this was the last attempt,
			 * the write failed */
			rv = CFS_ENOENT;
			continue;
		}
		if (failed != 0 && nexclude < CFS_GOAL_MAX)
			exclude[nexclude++] = failed;
	}
	free(whole);
	/* still stale after WRITE_RACES lost races (writers without leases
	 * racing on the fragment, all the time), or after the last attempt:
	 * an I/O error is what a write(2) caller expects */
	if (rv == CFS_ESTALE)
		rv = CFS_EIO;
	if (rv == 0)
		f->st.writes++;
	else
		cfs_errmsg_prefix(errmsg, "fragment %llu/%llu",
				  (unsigned long long)ino,
				  (unsigned long long)idx);
	return rv;
}

/* ---- parallel fragment writes ------------------------------------------------- */

/* One write of several fragments, shared by the threads writing them. */
struct wjob {
	uint64_t ino, fsz, next, end;
	const uint8_t *base; /* the caller's buffer, at job offset @start */
	uint64_t start;
	int durable;
	uint64_t lease_epoch;
	pthread_mutex_t lock; /* guards next, rv, errmsg */
	int rv;
	char errmsg[CFS_ERRMSG_SIZE];
};

struct wpart {
	struct wjob *j;
	struct fio *f;
	pthread_t thread;
};

/* Take fragments off the job until none is left or one failed. */
static void *
wpart_run(void *arg)
{
	struct wpart *p = arg;
	struct wjob *j = p->j;
	char errmsg[CFS_ERRMSG_SIZE];

	for (;;) {
		pthread_mutex_lock(&j->lock);
		uint64_t off = j->next;
		int stop = j->rv != 0 || off >= j->end;
		size_t n = 0;
		if (!stop) {
			uint64_t frag_end = off - off % j->fsz + j->fsz;
			n = (size_t)((frag_end < j->end ? frag_end : j->end) -
				     off);
			j->next = off + n;
		}
		pthread_mutex_unlock(&j->lock);
		if (stop)
			return NULL;
		errmsg[0] = '\0';
		int rv = write_fragment(p->f, j->ino, off / j->fsz,
					off % j->fsz, j->base + (off - j->start),
					n, j->durable, j->lease_epoch, off + n,
					errmsg);
		if (rv != 0) {
			pthread_mutex_lock(&j->lock);
			if (j->rv == 0) {
				j->rv = rv;
				snprintf(j->errmsg, sizeof(j->errmsg), "%s",
					 errmsg);
			}
			pthread_mutex_unlock(&j->lock);
		}
	}
}

/* Open the helper fios once; 0 if none could be (then writes go one
 * fragment at a time, as before). */
static int
helpers_ready(struct fio *f)
{
	char errmsg[CFS_ERRMSG_SIZE];
	int n = 0;

	if (f->helpers_failed)
		return 0;
	for (int i = 0; i < WRITE_PARALLEL - 1; i++) {
		if (f->helpers[i] == NULL &&
		    fio_open(&f->helpers[i], f->mc, f->zctx, errmsg) != 0) {
			LOG_WARN("parallel fragment writes off: %s", errmsg);
			f->helpers_failed = 1;
			break;
		}
		f->helpers[i]->fsz = f->fsz;
		f->helpers[i]->opens = f->opens;
		n++;
	}
	return n;
}

/*
 * [offset, offset + len) over several fragments, up to WRITE_PARALLEL at
 * a time.  Each fragment is still opened, written and committed as
 * alone; they only overlap.  The first failure stops the claiming of
 * further fragments and is returned once the ones in flight are done, so
 * a failed write may leave later fragments written and earlier ones not
 * (a range an application must write again anyway: the write failed).
 */
static int
pwrite_parallel(struct fio *f, int nhelpers, uint64_t ino, uint64_t fsz,
		uint64_t offset, const uint8_t *buf, size_t len, int durable,
		uint64_t lease_epoch, char *errmsg)
{
	struct wjob j = {.ino = ino, .fsz = fsz, .next = offset,
			 .end = offset + len, .base = buf, .start = offset,
			 .durable = durable, .lease_epoch = lease_epoch};
	struct wpart parts[WRITE_PARALLEL];
	int started = 0;

	pthread_mutex_init(&j.lock, NULL);
	for (int i = 0; i < nhelpers; i++) {
		parts[started] = (struct wpart){.j = &j, .f = f->helpers[i]};
		if (pthread_create(&parts[started].thread, NULL, wpart_run,
				   &parts[started]) == 0)
			started++;
	}
	struct wpart self = {.j = &j, .f = f};
	wpart_run(&self);
	for (int i = 0; i < started; i++)
		pthread_join(parts[i].thread, NULL);
	pthread_mutex_destroy(&j.lock);
	if (j.rv != 0)
		cfs_errmsg_set(errmsg, "%s", j.errmsg);
	return j.rv;
}

int
fio_pwrite(struct fio *f, uint64_t ino, uint64_t offset, const void *buf,
	   size_t len, int durable, uint64_t lease_epoch, char *errmsg)
{
	uint64_t fsz = 0;
	int rv = fragment_size(f, ino, 1, &fsz, errmsg);

	if (rv != 0)
		return rv;
	if (len == 0)
		return 0;
	fio_forget(f, ino); /* this write changes versions and maybe the size */
	int nhelpers;
	if (offset % fsz + len > fsz && (nhelpers = helpers_ready(f)) > 0)
		return pwrite_parallel(f, nhelpers, ino, fsz, offset, buf, len,
				       durable, lease_epoch, errmsg);
	const uint8_t *p = buf;
	while (len > 0) {
		uint64_t idx = offset / fsz, foff = offset % fsz;
		size_t n = fsz - foff < len ? (size_t)(fsz - foff) : len;
		rv = write_fragment(f, ino, idx, foff, p, n, durable,
				    lease_epoch, offset + n, errmsg);
		if (rv != 0)
			return rv;
		p += n;
		offset += n;
		len -= n;
	}
	return 0;
}
