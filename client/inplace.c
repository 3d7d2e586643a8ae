/* inplace.c - versions open for patching in place: patches sent to every node at once, the mount's seals, surveys after a failed patch. */
#include "client/fileio_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "client/nodeclient.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/seal.h"

/*
 * A small write under the write lease to a fragment this mount committed
 * moments ago commits with in_place OPEN: the version stays open, and the
 * next writes inside its length patch it in place on its nodes, with no
 * Raft round (docs/data-path.md "Patching in place").  The mount seals it
 * (its crc committed) before the lease goes, before a truncation and
 * before a write that would leave a hole in it.  A write that starts
 * inside the version's data or at its end and ends past it (an
 * appender's) patches it too, making it longer: until the seal commits
 * that length and the file's size, this table is what knows the file's
 * end (fio_opens_end).  Entries are kept
 * until then: forgetting one would leave the version open until the lease
 * ends.  One patch or seal of an entry at a time (busy): two patches
 * under way at once could reach the nodes in different orders.
 */
struct open_patch {
	uint64_t ino, idx, epoch, version, length;
	uint64_t fsz; /* the file's fragment size: idx * fsz + length is
		       * the fragment's end (appends move it) */
	uint32_t crc;
	uint32_t gen; /* patches so far */
	int busy;
	int failed; /* a patch failed: the nodes may differ, survey them */
	int64_t lapsed_retry; /* a seal of it as lapsed (fio_seal_lapsed)
			       * failed: not tried so again before (ms) */
	uint32_t chain_count;
	struct wire_nodeaddr chain[CFS_GOAL_MAX];
};

#define PATCH_MAX 4096 /* open versions per mount at most */

void (*fio_test_opened_in_place)(uint64_t ino, uint64_t idx);

/* The entry of (@ino, @idx) in @t, or NULL (@t's lock held). */
static struct open_patch *
patch_find(struct fio_opens *t, uint64_t ino, uint64_t idx)
{
	for (size_t i = 0; i < t->npatch; i++)
		if (t->patch[i]->ino == ino && t->patch[i]->idx == idx)
			return t->patch[i];
	return NULL;
}

/* Make @p busy, waiting while another thread has it; NULL if it went
 * meanwhile.  Finds it again by (@ino, @idx) after each wait. */
static struct open_patch *
patch_claim(struct fio_opens *t, uint64_t ino, uint64_t idx)
{
	pthread_mutex_lock(&t->lock);
	struct open_patch *p = patch_find(t, ino, idx);
	while (p != NULL && p->busy) {
		pthread_cond_wait(&t->patch_cond, &t->lock);
		p = patch_find(t, ino, idx);
	}
	if (p != NULL)
		p->busy = 1;
	pthread_mutex_unlock(&t->lock);
	return p;
}

/* Done with @p; @forget: it is sealed (or given up): drop it. */
static void
patch_unclaim(struct fio_opens *t, struct open_patch *p, int forget)
{
	pthread_mutex_lock(&t->lock);
	p->busy = 0;
	if (forget) {
		for (size_t i = 0; i < t->npatch; i++)
			if (t->patch[i] == p) {
				t->patch[i] = t->patch[--t->npatch];
				break;
			}
		t->forgotten++;
		t->forgotten_of[p->ino % FORGOTTEN_SLOTS]++;
		free(p);
	}
	pthread_cond_broadcast(&t->patch_cond);
	pthread_mutex_unlock(&t->lock);
}

static int patch_seal(struct fio *f, struct open_patch *p, char *errmsg);

/* Room for one more open version: when the table is full (entries of
 * files written once and never again, deleted ones among them), one is
 * sealed to make room.  1 if there is room. */
int
inplace_room(struct fio *f)
{
	struct fio_opens *t = f->opens;
	uint64_t ino = 0, idx = 0;

	pthread_mutex_lock(&t->lock);
	int room = t->npatch < PATCH_MAX;
	for (size_t i = 0; !room && i < t->npatch; i++)
		if (!t->patch[i]->busy) {
			ino = t->patch[i]->ino;
			idx = t->patch[i]->idx;
			break;
		}
	pthread_mutex_unlock(&t->lock);
	if (room || ino == 0)
		return room;
	struct open_patch *p = patch_claim(t, ino, idx);
	if (p != NULL) {
		char msg[CFS_ERRMSG_SIZE];
		int rv = patch_seal(f, p, msg);
		if (rv != 0)
			p->failed = 1;
		patch_unclaim(t, p, rv == 0);
	}
	pthread_mutex_lock(&t->lock);
	room = t->npatch < PATCH_MAX;
	pthread_mutex_unlock(&t->lock);
	return room;
}

struct open_patch *
inplace_reserve(struct fio *f, uint64_t ino, uint64_t idx, uint64_t epoch)
{
	struct fio_opens *t = f->opens;
	struct open_patch *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	*p = (struct open_patch){.ino = ino, .idx = idx, .epoch = epoch,
				 .busy = 1};
	pthread_mutex_lock(&t->lock);
	if (patch_find(t, ino, idx) == NULL && t->npatch < PATCH_MAX &&
	    t->npatch == t->cap_patch) {
		size_t cap = t->cap_patch ? 2 * t->cap_patch : 16;
		void *a = realloc(t->patch, cap * sizeof(*t->patch));
		if (a != NULL) {
			t->patch = a;
			t->cap_patch = cap;
		}
	}
	if (patch_find(t, ino, idx) == NULL && t->npatch < PATCH_MAX &&
	    t->npatch < t->cap_patch) {
		t->patch[t->npatch++] = p;
	} else {
		free(p);
		p = NULL;
	}
	pthread_mutex_unlock(&t->lock);
	return p;
}

void
inplace_add(struct fio *f, struct open_patch *r, uint64_t version,
	    uint64_t length, uint32_t crc, const struct wire_nodeaddr *chain,
	    uint32_t n)
{
	struct fio_opens *t = f->opens;

	if (n > CFS_GOAL_MAX) /* (the caller's chain: cannot be) */
		n = CFS_GOAL_MAX;
	pthread_mutex_lock(&t->lock);
	r->version = version;
	r->length = length;
	r->fsz = f->fsz;
	r->crc = crc;
	r->chain_count = n;
	memcpy(r->chain, chain, n * sizeof(r->chain[0]));
	t->st.opened_in_place++;
	pthread_mutex_unlock(&t->lock);
	patch_unclaim(t, r, 0);
}

void
inplace_unreserve(struct fio *f, struct open_patch *r)
{
	patch_unclaim(f->opens, r, 1);
}

/*
 * After a failed patch the nodes may hold different bytes (the patch
 * reached some of them): ask each for its (length, crc) and keep the
 * value most of them hold (a tie: the one of the lowest node id), as the
 * leader's seal does (seal_choose, common/seal.h).  Every acknowledged
 * patch is on every node, so any of them is a state the file was in.
 * @nodes: those that hold it.
 */
static int
patch_survey(struct fio *f, struct open_patch *p, uint64_t *nodes,
	     uint32_t *nnodes, char *errmsg)
{
	struct seal_answer a[CFS_GOAL_MAX] = {{0}};
	uint64_t length = 0;
	uint32_t crc = 0;
	uint32_t gone = 0; /* nodes that have no such version */

	for (uint32_t i = 0; i < p->chain_count; i++) {
		struct wire_frag_read rq = {.ino = p->ino, .idx = p->idx,
					    .version = p->version,
					    .fence_epoch = p->epoch};
		union wire_body *rep = NULL;
		uint16_t rt = 0;
		char msg[CFS_ERRMSG_SIZE];
		int rv = nc_call(f->nc, p->chain[i].addr, WIRE_T_frag_read,
				 &rq, NULL, 0, READ_TIMEOUT_MS, &rt, &rep,
				 NULL, NULL, msg);
		a[i].node = p->chain[i].id;
		if (rv == 0 && rt == WIRE_T_frag_data) {
			a[i].ok = 1;
			a[i].length = rep->frag_data.length;
			a[i].crc = rep->frag_data.crc;
		} else {
			if (rv == CFS_ENOENT)
				gone++;
			LOG_WARN("fragment %llu/%llu v%llu: survey of node "
				 "%llu: %s",
				 (unsigned long long)p->ino,
				 (unsigned long long)p->idx,
				 (unsigned long long)p->version,
				 (unsigned long long)p->chain[i].id,
				 rv ? msg : "unexpected answer");
		}
	}
	size_t k = seal_choose(a, p->chain_count, &length, &crc, nodes);
	/* Every node answered that it has no such version: it was replaced
	 * since (the lease ended, the leader sealed it, a later write made a
	 * new version, and the nodes deleted this one).  Surveyed again it
	 * would fail again forever: there is nothing left for this mount to
	 * seal. */
	if (k == 0 && p->chain_count > 0 && gone == p->chain_count)
		return cfs_fail(errmsg, CFS_ENOENT, "fragment %llu/%llu v%llu: "
				"no node holds it any more",
				(unsigned long long)p->ino,
				(unsigned long long)p->idx,
				(unsigned long long)p->version);
	if (k == 0)
		return cfs_fail(errmsg, CFS_UNAVAILABLE, "fragment %llu/%llu "
				"v%llu: no node of it answered",
				(unsigned long long)p->ino,
				(unsigned long long)p->idx,
				(unsigned long long)p->version);
	*nnodes = (uint32_t)k;
	pthread_mutex_lock(&f->opens->lock); /* inplace_fix reads them */
	p->length = length;
	p->crc = crc;
	pthread_mutex_unlock(&f->opens->lock);
	return 0;
}

/* Seal @p (claimed): commit its crc, closing it; after a failed patch,
 * with what a survey of its nodes finds. */
static int
patch_seal(struct fio *f, struct open_patch *p, char *errmsg)
{
	struct wire_frag_commit rq = {
	    .ino = p->ino, .idx = p->idx, .version = p->version,
	    .length = p->length, .lease_epoch = p->epoch,
	    .in_place = CFS_INPLACE_SEAL};
	int rv = 0;

	if (p->failed) {
		pthread_mutex_lock(&f->opens->lock);
		f->opens->st.surveys++;
		pthread_mutex_unlock(&f->opens->lock);
		rv = patch_survey(f, p, rq.nodes, &rq.nodes_count, errmsg);
		if (rv != 0 && rv != CFS_ENOENT)
			return rv;
		rq.length = p->length;
	} else {
		for (uint32_t i = 0; i < p->chain_count; i++)
			rq.nodes[i] = p->chain[i].id;
		rq.nodes_count = p->chain_count;
	}
	if (rv == 0) {
		rq.crc = p->crc;
		rq.size = p->idx * f->fsz + p->length;
		mc_cred(f->mc, &rq.cred);
		rv = mc_call(f->mc, WIRE_T_frag_commit, &rq, NULL, f->rep, 0,
			     errmsg);
	}
	if (rv == 0) {
		pthread_mutex_lock(&f->opens->lock);
		f->opens->st.seals++;
		pthread_mutex_unlock(&f->opens->lock);
	}
	/* the leader sealed it already (the lease ended), or it went with
	 * the file, or the lease it was open under ended (FENCED: the leader
	 * seals it; a frag_open of it waits until then): nothing left for
	 * this mount to seal */
	if (rv == CFS_ESTALE || rv == CFS_ENOENT || rv == CFS_FENCED) {
		LOG_DEBUG("fragment %llu/%llu v%llu: seal: %s",
			  (unsigned long long)p->ino,
			  (unsigned long long)p->idx,
			  (unsigned long long)p->version, errmsg);
		rv = 0;
	}
	/* (every caller drops the entry now: whatever kept the file's size
	 * from before its appends must ask again) */
	if (rv == 0 && f->opens->sealed != NULL)
		f->opens->sealed(f->opens->sealed_arg, p->ino);
	return rv;
}

/* Whether the mount still holds write lease @epoch on @ino (the lease
 * check set by fio_opens_set_lease_check; none: yes).  No table lock
 * held: the check takes the lease table's. */
static int
lease_held(struct fio_opens *t, uint64_t ino, uint64_t epoch)
{
	return t->lease_ok == NULL || t->lease_ok(t->lease_arg, ino, epoch);
}

/* Seal the versions of @ino (0: every inode's) the mount holds open; only
 * those of a write lease it no longer holds if @lapsed.  0 or the first
 * failure; *@sealed (if not NULL) counts the entries gone. */
static int
seal_entries(struct fio *f, uint64_t ino, int lapsed, size_t *sealed,
	     char *errmsg)
{
	struct fio_opens *t = f->opens;
	struct {
		uint64_t ino, idx;
	} *keys = NULL;
	size_t n = 0;
	int first = 0;

	int64_t now = cfs_now_ms();

	pthread_mutex_lock(&t->lock);
	if (t->npatch > 0 && (keys = malloc(t->npatch * sizeof(*keys))) != NULL)
		for (size_t i = 0; i < t->npatch; i++) {
			const struct open_patch *p = t->patch[i];
			if (ino != 0 && p->ino != ino)
				continue;
			/* (lapsed: not one reserved for a commit in flight,
			 * nor one whose seal failed a moment ago: reads and
			 * getattrs would each wait for it again) */
			if (lapsed && (p->version == 0 ||
				       p->lapsed_retry > now))
				continue;
			keys[n].ino = p->ino;
			keys[n++].idx = p->idx;
		}
	pthread_mutex_unlock(&t->lock);
	size_t left = 0;
	for (size_t i = 0; i < n; i++) {
		char msg[CFS_ERRMSG_SIZE];
		uint64_t fsz;
		/* No metadata server answered a seal in a whole call's time
		 * (an unmount after the cluster stopped, a partition): the
		 * others would wait as long each, up to 4,096 of them.  They
		 * are left to the leader, which seals what a lease that ended
		 * held open. */
		if (first == CFS_ETIMEDOUT || first == CFS_NOLEADER) {
			left++;
			continue;
		}
		struct open_patch *p = patch_claim(t, keys[i].ino, keys[i].idx);
		if (p == NULL)
			continue; /* sealed meanwhile */
		if (lapsed && (p->version == 0 ||
			       lease_held(t, p->ino, p->epoch))) {
			patch_unclaim(t, p, 0);
			continue;
		}
		int rv = fio_fragment_size_for_write(f, p->ino, &fsz, msg);
		if (rv == 0)
			rv = patch_seal(f, p, msg);
		if (rv != 0) {
			/* kept (surveyed at the next try): the lease going
			 * now ends it, and then the leader seals it */
			LOG_WARN("fragment %llu/%llu v%llu: sealing failed: "
				 "%s",
				 (unsigned long long)p->ino,
				 (unsigned long long)p->idx,
				 (unsigned long long)p->version, msg);
			p->failed = 1;
			if (lapsed) { /* (read under the lock by others) */
				pthread_mutex_lock(&t->lock);
				p->lapsed_retry = cfs_now_ms() + 1000;
				pthread_mutex_unlock(&t->lock);
			}
			if (first == 0) {
				first = rv;
				if (errmsg != NULL)
					cfs_errmsg_set(errmsg, "%s", msg);
			}
		} else if (sealed != NULL) {
			(*sealed)++;
		}
		patch_unclaim(t, p, rv == 0);
	}
	if (left > 0)
		LOG_WARN("%zu more versions open for patching in place not "
			 "sealed: no metadata server answers; the leader seals "
			 "them once this mount's lease ends",
			 left);
	free(keys);
	return first;
}

int
fio_seal_ino(struct fio *f, uint64_t ino, char *errmsg)
{
	if (f->opens == NULL)
		return 0;
	return seal_entries(f, ino, 0, NULL, errmsg);
}

size_t
fio_seal_lapsed(struct fio *f, uint64_t ino)
{
	struct fio_opens *t = f->opens;
	uint64_t epochs[4];
	size_t ne = 0, sealed = 0;
	int more = 0;

	if (t == NULL || ino == 0)
		return 0;
	/* The common cases cost one scan: no entry of @ino, or entries of
	 * the lease the mount holds (one lease check per epoch found). */
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->npatch && !more; i++) {
		const struct open_patch *p = t->patch[i];
		size_t j = 0;
		if (p->ino != ino || p->version == 0)
			continue;
		while (j < ne && epochs[j] != p->epoch)
			j++;
		if (j == ne && ne < 4)
			epochs[ne++] = p->epoch;
		else if (j == ne)
			more = 1;
	}
	pthread_mutex_unlock(&t->lock);
	int lapsed = more;
	for (size_t j = 0; j < ne && !lapsed; j++)
		lapsed = !lease_held(t, ino, epochs[j]);
	if (!lapsed)
		return 0;
	char msg[CFS_ERRMSG_SIZE];
	if (seal_entries(f, ino, 1, &sealed, msg) != 0)
		LOG_WARN("inode %llu: versions open under a write lease this "
			 "mount no longer holds: %s",
			 (unsigned long long)ino, msg);
	return sealed;
}

/*
 * Send patch @w (+ @n bytes of @data) to every node of @p at once, each
 * on its own socket: the nodes write and flush their journals in
 * parallel, and the patch costs one round trip, not one per node as down
 * a chain.  0 once every node answered with the length the patch makes
 * (w->length) and one same crc (*crc); else the first failure, naming
 * its node.
 */
static int
patch_send(struct fio *f, const struct open_patch *p,
	   const struct wire_frag_write *w, const void *data, size_t n,
	   uint32_t *crc, char *errmsg)
{
	int started[CFS_GOAL_MAX] = {0};
	int rv = 0, first_ok = -1;

	for (uint32_t i = 0; i < p->chain_count && rv == 0; i++) {
		if (f->fan[i] == NULL &&
		    (rv = nc_open(&f->fan[i], f->zctx, errmsg)) != 0)
			break;
		rv = nc_start(f->fan[i], p->chain[i].addr, WIRE_T_frag_write, w,
			      data, n, WRITE_TIMEOUT_MS, errmsg);
		started[i] = rv == 0;
	}
	for (uint32_t i = 0; i < p->chain_count; i++) {
		union wire_body *rep = NULL;
		uint16_t rt = 0;
		char msg[CFS_ERRMSG_SIZE];
		int r;
		if (!started[i])
			continue;
		r = nc_finish(f->fan[i], &rt, &rep, NULL, NULL, msg);
		if (r == 0 && rt != WIRE_T_frag_written)
			r = cfs_fail(msg, CFS_MALFORMED, "answered with %s",
				     wire_type_name(rt));
		if (r == 0 && rep->frag_written.fail_status != 0)
			r = cfs_fail(msg, (int)rep->frag_written.fail_status,
				     "%s", rep->frag_written.fail_message);
		if (r == 0 && rep->frag_written.length != w->length)
			r = cfs_fail(msg, CFS_CORRUPT, "length %llu after "
				     "the patch, %llu asked",
				     (unsigned long long)
					 rep->frag_written.length,
				     (unsigned long long)w->length);
		if (r == 0 && first_ok >= 0 &&
		    rep->frag_written.crc != *crc)
			r = cfs_fail(msg, CFS_CORRUPT, "crc %08x, node %llu's "
				     "%08x",
				     rep->frag_written.crc,
				     (unsigned long long)p->chain[first_ok].id,
				     *crc);
		if (r == 0 && first_ok < 0) {
			/* the crc the others must match: the first node
			 * that answered, not node 0 if it failed */
			first_ok = (int)i;
			*crc = rep->frag_written.crc;
		}
		if (r != 0 && rv == 0) {
			rv = r;
			cfs_errmsg_set(errmsg, "node %llu: %s",
				       (unsigned long long)p->chain[i].id,
				       msg);
		}
	}
	return rv;
}

/*
 * Write [foff, foff + n) of fragment @idx in place if this mount holds
 * its version open under @epoch and the range starts inside its length
 * or at its end (ending past it: an append, which makes it longer, up to
 * the fragment size): *done = 1 and the result.  Otherwise (*done = 0)
 * the write goes on as a new version: an open version it would leave a
 * hole in is sealed first, and so is one whose patch just failed
 * (surveyed).
 */
int
inplace_write(struct fio *f, uint64_t ino, uint64_t idx, uint64_t foff,
	      const void *data, size_t n, uint64_t epoch, int *done,
	      char *errmsg)
{
	struct fio_opens *t = f->opens;
	struct open_patch *p = patch_claim(t, ino, idx);
	int rv;

	*done = 0;
	if (p == NULL)
		return 0;
	/* (a large write: a version, as cheap, and a patch must fit in a
	 * journal record on the nodes) */
	/* a lease this mount no longer surely holds: no patch (the nodes'
	 * fence is only in their memory); the seal below is refused FENCED
	 * if the lease is gone, and the leader seals */
	int lease_ok = lease_held(t, ino, p->epoch);
	if (p->epoch == epoch && !p->failed && foff <= p->length &&
	    n <= INPLACE_MAX && foff + n <= f->fsz && lease_ok) {
		uint64_t len = foff + n > p->length ? foff + n : p->length;
		struct wire_frag_write *w = calloc(1, sizeof(*w));
		if (w == NULL) {
			patch_unclaim(t, p, 0);
			return cfs_fail(errmsg, CFS_ENOMEM, "frag_write");
		}
		*w = (struct wire_frag_write){
		    .ino = ino, .idx = idx, .version = p->version,
		    .base_version = p->version, .base_length = p->length,
		    .offset = foff, .length = len, .durable = 1,
		    .lease_epoch = epoch, .in_place = 1};
		uint32_t crc = 0;
		rv = patch_send(f, p, w, data, n, &crc, errmsg);
		free(w);
		if (rv == 0) {
			pthread_mutex_lock(&t->lock);
			p->crc = crc;
			if (len > p->length)
				t->st.appends++;
			p->length = len;
			p->gen++;
			t->st.patches++;
			pthread_mutex_unlock(&t->lock);
			patch_unclaim(t, p, 0);
			f->st.patches++;
			*done = 1;
			return 0;
		}
		if (rv == CFS_FENCED) { /* the lease is gone: so is the seal */
			patch_unclaim(t, p, 1);
			*done = 1;
			return rv;
		}
		LOG_WARN("fragment %llu/%llu v%llu: patch in place: %s; "
			 "sealing it and writing a new version",
			 (unsigned long long)ino, (unsigned long long)idx,
			 (unsigned long long)p->version, errmsg);
		p->failed = 1;
	}
	char msg[CFS_ERRMSG_SIZE];
	rv = patch_seal(f, p, msg);
	/* not sealed: kept, to be sealed (after a survey) by the next write
	 * or seal of it; forgotten, the fragment would stay open, and this
	 * mount's writes of it refused, until its lease ended */
	if (rv != 0)
		p->failed = 1;
	patch_unclaim(t, p, rv == 0);
	if (rv != 0) {
		*done = 1;
		return cfs_fail(errmsg, rv, "fragment %llu/%llu: sealing the "
				"version open for patching: %s",
				(unsigned long long)ino,
				(unsigned long long)idx, msg);
	}
	return 0;
}

/*
 * Locate fragment @idx of @ino for a write under lease @epoch: *@fi its
 * entry (in f->rep), NULL if the answer holds none (a hole); @chain the
 * addresses of the nodes it lists, in its order, at most CFS_GOAL_MAX
 * (*@nchain; a node the map does not name is left out).  0, or the
 * call's failure.
 */
static int
locate_for_write(struct fio *f, uint64_t ino, uint64_t idx, uint64_t epoch,
		 const struct wire_fraginfo **fi, struct wire_nodeaddr *chain,
		 uint32_t *nchain, char *errmsg)
{
	struct wire_frag_locate rq = {.ino = ino, .first = idx, .count = 1,
				      .for_write = 1, .lease_epoch = epoch};
	uint16_t rt = 0;
	int rv;

	*fi = NULL;
	*nchain = 0;
	mc_cred(f->mc, &rq.cred);
	rv = mc_call(f->mc, WIRE_T_frag_locate, &rq, &rt, f->rep, 0, errmsg);
	if (rv != 0)
		return rv;
	const struct wire_frag_map *m = &f->rep->frag_map;
	if (rt != WIRE_T_frag_map || m->frags_count != 1 ||
	    m->frags[0].idx != idx)
		return 0;
	*fi = &m->frags[0];
	for (uint32_t i = 0; i < (*fi)->nodes_count && *nchain < CFS_GOAL_MAX;
	     i++)
		for (uint32_t j = 0; j < m->nodes_count; j++)
			if (m->nodes[j].id == (*fi)->nodes[i])
				chain[(*nchain)++] = m->nodes[j];
	return 0;
}

/*
 * The first small write of a fragment under the write lease: rather than
 * a new version (two Raft rounds and a chain write), open the committed
 * version as it is (frag_commit in_place OPEN_COMMITTED: one Raft round)
 * and patch it.  Only a version whole on as many good copies as the goal
 * (the nodes frag_locate lists), and a range that starts inside its data
 * or at its end (an append).  *done = 1 and the patch's result, or
 * *done = 0: the write goes on as a version.
 */
int
inplace_open_committed(struct fio *f, uint64_t ino, uint64_t idx, uint64_t foff,
		       const void *data, size_t n, uint64_t epoch, int *done,
		       char *errmsg)
{
	struct wire_frag_commit cq = {.ino = ino, .idx = idx,
				      .lease_epoch = epoch,
				      .in_place = CFS_INPLACE_OPEN_COMMITTED};
	struct wire_nodeaddr chain[CFS_GOAL_MAX];
	const struct wire_fraginfo *fi;
	char msg[CFS_ERRMSG_SIZE];
	uint32_t nchain;

	*done = 0;
	if (inplace_contended(f->opens, ino) || !inplace_room(f))
		return 0;
	int rv = locate_for_write(f, ino, idx, epoch, &fi, chain, &nchain, msg);
	if (rv != 0 || fi == NULL) /* (a hole: a new fragment) */
		return 0;
	if (foff > fi->length || foff + n > f->fsz || fi->nodes_count == 0 ||
	    fi->nodes_count < fi->goal || fi->nodes_count > CFS_GOAL_MAX ||
	    nchain != fi->nodes_count)
		return 0;
	cq.version = fi->version;
	cq.length = fi->length;
	cq.crc = fi->crc;
	cq.size = idx * f->fsz + fi->length;
	memcpy(cq.nodes, fi->nodes, fi->nodes_count * sizeof(cq.nodes[0]));
	cq.nodes_count = fi->nodes_count;
	uint64_t version = fi->version, length = fi->length;
	uint32_t crc = fi->crc;
	struct open_patch *r = inplace_reserve(f, ino, idx, epoch);
	if (r == NULL) /* another thread's entry came meanwhile */
		return 0;
	mc_cred(f->mc, &cq.cred);
	if (mc_call(f->mc, WIRE_T_frag_commit, &cq, NULL, f->rep, 0, msg) != 0) {
		inplace_unreserve(f, r);
		LOG_DEBUG("fragment %llu/%llu v%llu: not opened as it is: %s",
			  (unsigned long long)ino, (unsigned long long)idx,
			  (unsigned long long)version, msg);
		return 0;
	}
	if (fio_test_opened_in_place != NULL)
		fio_test_opened_in_place(ino, idx);
	inplace_add(f, r, version, length, crc, chain, nchain);
	return inplace_write(f, ino, idx, foff, data, n, epoch, done, errmsg);
}

/*
 * A frag_open or commit of (@ino, @idx) refused EBUSY: this mount's own
 * lease @epoch holds it open, but the mount has no entry for it (another
 * thread's write opened it a moment ago, or an earlier seal of it failed
 * and the entry went, or the OPEN's answer was lost).  If another thread
 * made the entry, the write can patch it (*done through inplace_write);
 * otherwise its version and nodes are located, and it is sealed after a
 * survey, so that the write goes on as a new version.
 */
int
inplace_recover(struct fio *f, uint64_t ino, uint64_t idx, uint64_t foff,
		const void *data, size_t n, uint64_t epoch, int *done,
		char *errmsg)
{
	const struct wire_fraginfo *fi;
	struct open_patch *p;
	int rv;

	*done = 0;
	if ((rv = inplace_write(f, ino, idx, foff, data, n, epoch, done,
				errmsg)) != 0 || *done)
		return rv;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "open version");
	rv = locate_for_write(f, ino, idx, epoch, &fi, p->chain,
			      &p->chain_count, errmsg);
	if (rv == 0 && fi == NULL)
		rv = cfs_fail(errmsg, CFS_MALFORMED, "fragment %llu/%llu: "
			      "no such fragment to seal",
			      (unsigned long long)ino,
			      (unsigned long long)idx);
	if (rv != 0) {
		free(p);
		return rv;
	}
	p->ino = ino;
	p->idx = idx;
	p->epoch = epoch;
	p->version = fi->version;
	p->length = fi->length;
	p->crc = fi->crc;
	p->failed = 1;
	LOG_INFO("fragment %llu/%llu v%llu: open for patching in place "
		 "under this mount's lease with no record of it here: "
		 "sealing it after a survey of its %u nodes",
		 (unsigned long long)ino, (unsigned long long)idx,
		 (unsigned long long)p->version, p->chain_count);
	rv = patch_seal(f, p, errmsg);
	free(p);
	return rv;
}

/* The epoch of this mount's versions of @ino open for patching (0: none):
 * what its frag_locate names to be served them. */
uint64_t
inplace_epoch_of(struct fio_opens *t, uint64_t ino)
{
	uint64_t epoch = 0;

	if (t == NULL)
		return 0;
	/* the newest: entries of an older lease are sealed as they are met */
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->npatch; i++)
		if (t->patch[i]->ino == ino && t->patch[i]->epoch > epoch)
			epoch = t->patch[i]->epoch;
	pthread_mutex_unlock(&t->lock);
	return epoch;
}

/* If this mount holds @fi's version open, *out is @fi with the crc and
 * length its nodes hold now (the committed ones are older) and *gen how
 * many patches it has had (plus one), for the data cache's key: 1. */
int
inplace_fix(struct fio_opens *t, uint64_t ino, const struct wire_fraginfo *fi,
	    struct wire_fraginfo *out, uint32_t *gen)
{
	int open = 0;

	if (t == NULL)
		return 0;
	pthread_mutex_lock(&t->lock);
	struct open_patch *p = patch_find(t, ino, fi->idx);
	if (p != NULL && p->version == fi->version) {
		*out = *fi;
		out->crc = p->crc;
		out->length = p->length; /* appends made it longer */
		/* 0 would name the version as committed: another cache key */
		*gen = p->gen + 1;
		open = 1;
	}
	pthread_mutex_unlock(&t->lock);
	return open;
}

uint64_t
fio_opens_end(struct fio_opens *t, uint64_t ino)
{
	uint64_t end = 0;

	if (t == NULL)
		return 0;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->npatch; i++) {
		const struct open_patch *p = t->patch[i];
		/* (an entry reserved for a commit in flight: no version yet) */
		if (p->ino == ino && p->version != 0 &&
		    p->idx * p->fsz + p->length > end)
			end = p->idx * p->fsz + p->length;
	}
	pthread_mutex_unlock(&t->lock);
	return end;
}

uint64_t
fio_opens_gen(struct fio_opens *t, uint64_t ino)
{
	uint64_t gen;

	if (t == NULL)
		return 0;
	pthread_mutex_lock(&t->lock);
	gen = ino == 0 ? t->forgotten : t->forgotten_of[ino % FORGOTTEN_SLOTS];
	pthread_mutex_unlock(&t->lock);
	return gen;
}

int
inplace_contended(struct fio_opens *t, uint64_t ino)
{
	return t != NULL && t->contended != NULL &&
	       t->contended(t->contended_arg, ino);
}
