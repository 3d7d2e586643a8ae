/* repair.c - the leader's data-node manager: liveness, placement, re-replication and garbage collection. */
#include "meta/repair.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "client/nodeclient.h"
#include "common/error.h"
#include "common/log.h"
#include "common/seal.h"
#include "common/splitmix.h"
#include "meta/placement.h"

#define SCAN_LIMIT 256      /* fragments looked at per tick and kind */
#define REPROPOSE_MS 3000   /* a state change not applied by then: again */
#define RATE_WINDOW 10      /* seconds of history behind repair_rate */
#define DELETE_TIMEOUT_MS 5000
#define SURVEY_TIMEOUT_MS 5000 /* each node of a seal's survey */
#define SCAN_EVERY_MS 1000
#define KICK_MS 50
#define ABANDON_S 3600 /* a fragment write takes seconds, not an hour */

enum task_kind { TASK_COPY, TASK_DELETE, TASK_SEAL };

struct task {
	struct task *next;
	enum task_kind kind;
	uint64_t gen; /* leadership generation it was started in */
	struct wire_replica r; /* node: the target (copy) or holder (delete) */
	uint64_t stamp; /* the incarnation the copy makes or the delete means */
	char addr[CFS_ADDR_MAX + 1];
	uint64_t length;
	uint32_t crc;
	struct wire_nodeaddr source;
	int status;
	char errmsg[CFS_ERRMSG_SIZE];
	/* TASK_SEAL: the write lease the version (r.version, of committed
	 * length `length`) was left open under, the nodes of its ok
	 * replicas, and what each answered the survey */
	uint64_t epoch;
	uint32_t n_nodes;
	struct wire_nodeaddr nodes[2 * CFS_GOAL_MAX];
	struct seal_answer answers[2 * CFS_GOAL_MAX];
};

/* The leader's live view of one node: nothing here is replicated. */
struct live {
	uint64_t id;
	uint64_t last_ms;   /* last heartbeat (or when leadership began) */
	uint64_t free, capacity;
	uint32_t load, io_errors;
	int heard;          /* a heartbeat arrived under this leader */
	int proposed;       /* state last proposed, -1 none */
	int seen_state;     /* registry state at the last check, -1 none */
	int seen_draining;  /* ... its draining flag */
	int64_t seen_since; /* ... its since */
	uint64_t proposed_ms;
};

struct repair {
	struct repair_options opt;
	char spread_label[256];
	repair_propose_fn propose;
	struct dmap *(*dmap_of)(void *data);
	void *data;
	uv_async_t async;
	void *zctx;

	int leading;
	uint64_t gen;
	uint64_t lead_ms;

	struct dmap_node *nodes; /* registry cache, refreshed every tick */
	size_t n_nodes;
	struct live *live;
	size_t n_live, cap_live;

	/* work: queue -> a worker -> done -> the loop */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct task *queue, *done;
	int stopping;
	pthread_t *threads;
	int n_threads;

	struct task *active; /* in flight (loop thread's list, by copy) */
	unsigned n_active;

	double tokens;
	uint64_t tokens_ms;
	/* The scans read every fragment: at most one a second, and none while
	 * nothing was applied since one that found no work. */
	uint64_t scan_ms, scan_applied;
	int scan_idle;
	uint64_t scans; /* planning passes so far (repair_scans) */
	unsigned needy_recalled; /* dmap_recall_needy's count, last scan */
	uint64_t copies, bytes;
	uint64_t stamp_state; /* splitmix64: the stamps of this leader's copies */
	uint64_t window[RATE_WINDOW];
	uint64_t window_sec;
};

/* ---- workers ----------------------------------------------------------- */

/* A seal's survey (docs/data-path.md "The leader's seal"): each node's
 * (length, crc) of its replica of the open version, asked with a fence
 * one above the dead lease so that a patch still in flight under it is
 * refused from then on.  A node that fails, answers an error or holds
 * fewer bytes than committed (patches in place keep the length or
 * append) is in no group; t->errmsg keeps the last such failure. */
static void
survey(struct nc *nc, struct task *t)
{
	union wire_body *rep = NULL;
	uint16_t rt = 0;
	char msg[CFS_ERRMSG_SIZE];

	t->status = 0;
	for (uint32_t i = 0; i < t->n_nodes; i++) {
		struct wire_frag_read rd = {
			.ino = t->r.ino, .idx = t->r.idx,
			.version = t->r.version, .offset = 0, .len = 0,
			.fence_epoch = t->epoch + 1,
		};
		struct seal_answer *a = &t->answers[i];
		a->node = t->nodes[i].id;
		a->ok = 0;
		int st = nc_call(nc, t->nodes[i].addr, WIRE_T_frag_read, &rd,
				 NULL, 0, SURVEY_TIMEOUT_MS, &rt, &rep, NULL,
				 NULL, msg);
		if (st == 0 && rt != WIRE_T_frag_data)
			snprintf(msg, sizeof(msg), "answered %s",
				 wire_type_name(rt) ? wire_type_name(rt) : "?");
		else if (st == 0 && rep->frag_data.length < t->length)
			snprintf(msg, sizeof(msg),
				 "holds %llu bytes, %llu committed",
				 (unsigned long long)rep->frag_data.length,
				 (unsigned long long)t->length);
		else if (st == 0) {
			a->ok = 1;
			a->length = rep->frag_data.length;
			a->crc = rep->frag_data.crc;
			continue;
		}
		memcpy(t->errmsg, msg, sizeof(t->errmsg));
		cfs_errmsg_prefix(t->errmsg, "node %llu",
				  (unsigned long long)a->node);
	}
}

static void
run_task(struct nc *nc, struct task *t)
{
	union wire_body *rep = NULL;
	uint16_t rt = 0;

	if (t->kind == TASK_SEAL) {
		survey(nc, t);
	} else if (t->kind == TASK_COPY) {
		struct wire_frag_copy c = {
			.ino = t->r.ino, .idx = t->r.idx,
			.version = t->r.version, .length = t->length,
			.crc = t->crc, .source = t->source, .stamp = t->stamp,
		};
		/* generous: a slow disk copies 4 MiB in well under 10 s */
		int timeout = 10000 + (int)(t->length >> 16);
		t->status = nc_call(nc, t->addr, WIRE_T_frag_copy, &c, NULL, 0,
				    timeout, &rt, &rep, NULL, NULL, t->errmsg);
		if (t->status == 0 && rt == WIRE_T_frag_written &&
		    rep->frag_written.failed_node != 0) {
			t->status = (int)rep->frag_written.fail_status;
			snprintf(t->errmsg, sizeof(t->errmsg), "%s",
				 rep->frag_written.fail_message);
		}
	} else {
		struct wire_frag_delete del = {
			.ino = t->r.ino, .idx = t->r.idx,
			.version = t->r.version, .stamp = t->stamp,
		};
		t->status = nc_call(nc, t->addr, WIRE_T_frag_delete, &del,
				    NULL, 0, DELETE_TIMEOUT_MS, &rt, &rep, NULL,
				    NULL, t->errmsg);
	}
}

static void *
worker_main(void *arg)
{
	struct repair *r = arg;
	struct nc *nc = NULL;
	char errmsg[CFS_ERRMSG_SIZE];

	if (nc_open(&nc, r->zctx, errmsg) != 0) {
		LOG_ERROR("repair worker: %s", errmsg);
		return NULL;
	}
	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (r->queue == NULL && !r->stopping)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->stopping)
			break;
		struct task *t = r->queue;
		r->queue = t->next;
		pthread_mutex_unlock(&r->lock);
		run_task(nc, t);
		pthread_mutex_lock(&r->lock);
		t->next = r->done;
		r->done = t;
		uv_async_send(&r->async);
	}
	pthread_mutex_unlock(&r->lock);
	nc_close(&nc);
	return NULL;
}

/* ---- the live view ------------------------------------------------------- */

static struct live *
live_find(const struct repair *r, uint64_t id)
{
	for (size_t i = 0; i < r->n_live; i++)
		if (r->live[i].id == id)
			return &r->live[i];
	return NULL;
}

static struct live *
live_get(struct repair *r, uint64_t id, uint64_t now_ms)
{
	struct live *found = live_find(r, id);

	if (found != NULL)
		return found;
	if (r->n_live == r->cap_live) {
		size_t cap = r->cap_live ? 2 * r->cap_live : 16;
		struct live *v = realloc(r->live, cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		r->live = v;
		r->cap_live = cap;
	}
	struct live *l = &r->live[r->n_live++];
	memset(l, 0, sizeof(*l));
	l->id = id;
	l->last_ms = now_ms;
	l->proposed = -1;
	l->seen_state = -1;
	return l;
}

static void
refresh_nodes(struct repair *r, struct dmap *d)
{
	char errmsg[CFS_ERRMSG_SIZE];
	struct dmap_node *v = NULL;
	size_t n = 0;

	if (dmap_nodes(d, &v, &n, errmsg) != 0) {
		LOG_ERROR("repair: %s", errmsg);
		return;
	}
	free(r->nodes);
	r->nodes = v;
	r->n_nodes = n;
}

static const struct dmap_node *
node_find(struct repair *r, uint64_t id)
{
	for (size_t i = 0; i < r->n_nodes; i++)
		if (r->nodes[i].id == id)
			return &r->nodes[i];
	return NULL;
}

static void
propose_state(struct repair *r, const struct dmap_node *n, struct live *l,
	      int state, uint64_t now_ms, const char *why)
{
	if (l->proposed == state && now_ms - l->proposed_ms < REPROPOSE_MS)
		return;
	struct wire_node_state ns = {.id = n->id, .state = (uint8_t)state,
				     .draining = (uint8_t)n->draining};
	LOG_INFO("data node %llu (%s): %s", (unsigned long long)n->id,
		 n->addr, why);
	if (r->propose(r->data, WIRE_T_node_state, &ns) == 0) {
		l->proposed = state;
		l->proposed_ms = now_ms;
	}
}

/* Dead after the silence limit; full below the reserve; alive again when
 * heard from (heartbeat) or when space came back. */
static void
check_liveness(struct repair *r, uint64_t now_ms)
{
	for (size_t i = 0; i < r->n_nodes; i++) {
		const struct dmap_node *n = &r->nodes[i];
		struct live *l = live_get(r, n->id, now_ms);
		if (l == NULL)
			continue;
		/* Back from the dead by registering again: its clock starts
		 * now, not at its last heartbeat before it died. */
		if (l->seen_state == CFS_NODE_DEAD && n->state != CFS_NODE_DEAD)
			l->last_ms = now_ms;
		/* Restarted and registered again before it was found dead:
		 * the same.  A registration of an alive node moves `since`
		 * and nothing else (a node_state that changes nothing keeps
		 * it; a drain changes `draining`).  Its first heartbeat comes
		 * a second after the registration; counted from the last one
		 * before the restart, the node was declared dead in between
		 * when the restart took nearly dead_after. */
		if (l->seen_state == CFS_NODE_ALIVE &&
		    n->state == CFS_NODE_ALIVE && n->since_ns != l->seen_since &&
		    n->draining == l->seen_draining)
			l->last_ms = now_ms;
		l->seen_state = n->state;
		l->seen_draining = n->draining;
		l->seen_since = n->since_ns;
		if (n->state == CFS_NODE_DEAD)
			continue;
		uint64_t silent = now_ms - l->last_ms;
		if (silent > (uint64_t)r->opt.dead_after_ms) {
			char why[96];
			snprintf(why, sizeof(why), "silent for %llu ms: dead",
				 (unsigned long long)silent);
			propose_state(r, n, l, CFS_NODE_DEAD, now_ms, why);
		} else if (l->heard && n->state == CFS_NODE_ALIVE &&
			   l->free < r->opt.reserve_bytes) {
			propose_state(r, n, l, CFS_NODE_FULL, now_ms,
				      "free space below the reserve: full");
		} else if (l->heard && n->state == CFS_NODE_FULL &&
			   l->free >= r->opt.reserve_bytes +
					      r->opt.reserve_bytes / 8) {
			propose_state(r, n, l, CFS_NODE_ALIVE, now_ms,
				      "free space back: alive");
		}
	}
}

int
repair_heartbeat(struct repair *r, struct dmap *d,
		 const struct wire_node_heartbeat *hb, uint64_t now_ms,
		 char *errmsg)
{
	const struct dmap_node *n = node_find(r, hb->id);

	if (n == NULL || strcmp(n->uuid, hb->uuid) != 0) {
		refresh_nodes(r, d);
		n = node_find(r, hb->id);
	}
	if (n == NULL || strcmp(n->uuid, hb->uuid) != 0)
		return cfs_fail(errmsg, CFS_ENOENT,
				"data node %llu (%s) is not registered",
				(unsigned long long)hb->id, hb->uuid);
	struct live *l = live_get(r, n->id, now_ms);
	if (l == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "heartbeat");
	l->last_ms = now_ms;
	l->free = hb->free;
	l->capacity = hb->capacity;
	l->load = hb->load;
	l->io_errors = hb->io_errors;
	l->heard = 1;
	if (n->state == CFS_NODE_DEAD)
		propose_state(r, n, l, CFS_NODE_ALIVE, now_ms,
			      "heard from again: alive");
	return 0;
}

/* The placement view of every node: the registry's state, corrected by
 * what the leader sees right now. */
static struct placement_node *
placement_view(struct repair *r, uint64_t now_ms)
{
	struct placement_node *v = calloc(r->n_nodes + 1, sizeof(*v));

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < r->n_nodes; i++) {
		const struct dmap_node *n = &r->nodes[i];
		struct live *l = live_get(r, n->id, now_ms);
		v[i].id = n->id;
		v[i].labels = n->labels;
		v[i].capacity = n->capacity;
		v[i].state = n->draining ? PLACEMENT_DRAINING : n->state;
		if (l == NULL || now_ms - l->last_ms >
					 (uint64_t)r->opt.dead_after_ms)
			v[i].state = PLACEMENT_DEAD;
		/* Before its first heartbeat to this leader a node's free
		 * space is unknown: weigh it as a small but usable node. */
		v[i].free_bytes = l && l->heard ? l->free : 1;
		if (l && l->heard && l->free < r->opt.reserve_bytes &&
		    v[i].state == PLACEMENT_ALIVE)
			v[i].state = PLACEMENT_FULL;
	}
	return v;
}

static uint64_t
seed_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30);
}

int
repair_place(struct repair *r, struct dmap *d, struct wire_frag_open *fo,
	     uint64_t now_ms, char *errmsg)
{
	uint64_t out[CFS_GOAL_MAX];
	uint32_t goal;
	int rv;

	if ((rv = dmap_goal(d, fo->ino, &goal, errmsg)) != 0)
		return rv;
	if (goal == 0)
		return cfs_fail(errmsg, CFS_ENOENT, "inode %llu",
				(unsigned long long)fo->ino);
	if (goal > CFS_GOAL_MAX)
		goal = CFS_GOAL_MAX;
	if (r->n_nodes == 0)
		refresh_nodes(r, d);
	struct placement_node *v = placement_view(r, now_ms);
	if (v == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "placement");
	/* Keep the current holders that are usable and not excluded, so
	 * a partial write patches data they already hold; placement fills
	 * the rest, spread away from them. */
	uint64_t held[CFS_GOAL_MAX], exclude[2 * CFS_GOAL_MAX];
	size_t nheld, n = 0, nex = 0;
	if ((rv = dmap_live_holders(d, fo->ino, fo->idx, held, goal, &nheld,
				    errmsg)) != 0) {
		free(v);
		return rv;
	}
	for (size_t i = 0; i < fo->exclude_count && i < CFS_GOAL_MAX; i++)
		exclude[nex++] = fo->exclude[i];
	for (size_t i = 0; i < nheld; i++) {
		int usable = 0;
		for (size_t j = 0; j < r->n_nodes; j++)
			if (v[j].id == held[i])
				usable = v[j].state == PLACEMENT_ALIVE;
		for (size_t j = 0; j < fo->exclude_count; j++)
			if (fo->exclude[j] == held[i])
				usable = 0;
		if (usable)
			out[n++] = held[i];
		exclude[nex++] = held[i];
	}
	if (n < goal)
		n += placement_choose(v, r->n_nodes, goal - n, exclude, nex,
				      out, n, r->spread_label, seed_now(),
				      out + n);
	free(v);
	if (n == 0 || (n < goal && !r->opt.degraded_writes))
		return cfs_fail(errmsg, CFS_UNAVAILABLE,
				"fragment %llu/%llu: %zu of %u data nodes "
				"usable%s",
				(unsigned long long)fo->ino,
				(unsigned long long)fo->idx, n, goal,
				n ? " and degraded_writes is off" : "");
	memcpy(fo->placed, out, n * sizeof(out[0]));
	fo->placed_count = (uint32_t)n;
	return 0;
}

int
repair_reopen_ok(struct repair *r, struct dmap *d,
		 const struct wire_frag_commit *fc, uint64_t now_ms)
{
	char errmsg[CFS_ERRMSG_SIZE];
	size_t usable = 0;
	uint32_t goal;

	if (dmap_goal(d, fc->ino, &goal, errmsg) != 0) {
		/* (the caller opens a new version instead) */
		LOG_WARN("inode %llu: %s", (unsigned long long)fc->ino, errmsg);
		return 0;
	}
	if (goal > CFS_GOAL_MAX)
		goal = CFS_GOAL_MAX;
	if (goal == 0 || fc->nodes_count != goal)
		return 0;
	if (r->n_nodes == 0)
		refresh_nodes(r, d);
	struct placement_node *v = placement_view(r, now_ms);
	if (v == NULL)
		return 0;
	for (uint32_t i = 0; i < fc->nodes_count; i++)
		for (size_t j = 0; j < r->n_nodes; j++)
			if (v[j].id == fc->nodes[i] &&
			    v[j].state == PLACEMENT_ALIVE)
				usable++;
	free(v);
	return usable == fc->nodes_count;
}

/* ---- scheduling ------------------------------------------------------------ */

static int
is_active(struct repair *r, enum task_kind kind, uint64_t ino, uint64_t idx,
	  uint64_t node)
{
	for (struct task *t = r->active; t; t = t->next)
		if (t->kind == kind && t->r.ino == ino && t->r.idx == idx &&
		    (kind != TASK_DELETE || t->r.node == node))
			return 1;
	return 0;
}

/* Hand @t to the workers; the loop keeps a copy in its active list. */
static void
submit(struct repair *r, struct task *t)
{
	struct task *mine = malloc(sizeof(*mine));
	if (mine == NULL) {
		free(t);
		return;
	}
	*mine = *t;
	mine->next = r->active;
	r->active = mine;
	r->n_active++;
	t->gen = r->gen;
	mine->gen = r->gen;
	pthread_mutex_lock(&r->lock);
	t->next = r->queue;
	r->queue = t;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

struct scan_ctx {
	struct repair *r;
	struct dmap *d;
	uint64_t now_ms;
	struct placement_node *view;
	struct wire_replica_drop drop;
	int under_seen;     /* the under-goal scan found work */
	int seal_seen;      /* so did the seal scan */
	uint64_t from, to;  /* rebalancing pair */
};

/* A fresh incarnation stamp for a copy: never 0 (client writes are 0).
 * splitmix64 over a state seeded from getrandom(2) when the repair loop
 * is created, so two leaders do not draw the same sequence. */
static uint64_t
new_stamp(struct repair *r)
{
	for (;;) {
		uint64_t z = cfs_splitmix64(&r->stamp_state);
		if (z != 0)
			return z;
	}
}

/* Queue a copy of @f's committed version from node @src to node @dst
 * (both in the registry cache), charged to the rate budget.  0, or -1 if a
 * node is unknown or memory ran out. */
static int
submit_copy(struct repair *r, const struct dmap_frag *f, uint64_t dst,
	    uint64_t src)
{
	const struct dmap_node *tn = node_find(r, dst);
	const struct dmap_node *sn = node_find(r, src);
	struct task *t = calloc(1, sizeof(*t));

	if (tn == NULL || sn == NULL || t == NULL) {
		free(t);
		return -1;
	}
	t->kind = TASK_COPY;
	t->r = (struct wire_replica){.ino = f->ino, .idx = f->idx,
				     .version = f->version, .node = dst};
	t->stamp = new_stamp(r);
	snprintf(t->addr, sizeof(t->addr), "%s", tn->addr);
	t->length = f->length;
	t->crc = f->crc;
	t->source.id = src;
	snprintf(t->source.addr, sizeof(t->source.addr), "%s", sn->addr);
	r->tokens -= (double)(f->length ? f->length : 1);
	submit(r, t);
	return 0;
}

static int
plan_copy(void *arg, const struct dmap_frag *f)
{
	struct scan_ctx *c = arg;
	struct repair *r = c->r;
	uint64_t exclude[2 * CFS_GOAL_MAX + 64], domains[2 * CFS_GOAL_MAX];
	uint64_t sources[2 * CFS_GOAL_MAX];
	size_t nex = 0, ndom = 0, nsrc = 0;

	c->under_seen = 1;
	if (r->n_active >= (unsigned)r->opt.inflight || r->tokens <= 0)
		return 1;
	if (is_active(r, TASK_COPY, f->ino, f->idx, 0))
		return 0;
	for (size_t i = 0; i < f->n; i++) {
		exclude[nex++] = f->r[i].node;
		if (f->r[i].counts)
			domains[ndom++] = f->r[i].node;
		if (f->r[i].readable)
			sources[nsrc++] = f->r[i].node;
	}
	if (nsrc == 0)
		return 0; /* no live copy: nothing to copy from (missing) */
	for (size_t i = 0; i < r->n_nodes && nex < sizeof(exclude) / 8; i++)
		if (dmap_is_garbage(c->d, f->ino, f->idx, f->version,
				    r->nodes[i].id))
			exclude[nex++] = r->nodes[i].id;
	uint64_t target = 0;
	if (placement_choose(c->view, r->n_nodes, 1, exclude, nex, domains,
			     ndom, r->spread_label, seed_now(), &target) != 1) {
		/* No other node: one whose copy went bad may take a new one
		 * in its place (a stamped copy replaces the file, and its
		 * row becomes ok); with 3 nodes and goal 3, the fragment
		 * would otherwise stay a copy short until rewritten. */
		size_t nkeep = 0;
		for (size_t i = 0; i < nex; i++) {
			int bad = 0;
			for (size_t j = 0; j < f->n; j++)
				bad |= f->r[j].node == exclude[i] &&
				       f->r[j].state == DMAP_BAD;
			if (!bad)
				exclude[nkeep++] = exclude[i];
		}
		if (nkeep == nex ||
		    placement_choose(c->view, r->n_nodes, 1, exclude, nkeep,
				     domains, ndom, r->spread_label,
				     seed_now(), &target) != 1)
			return 0; /* nowhere to put it (fewer nodes than the
				     goal) */
	}
	/* Spread the reading: a random live source. */
	uint64_t src = sources[seed_now() % nsrc];
	if (submit_copy(r, f, target, src) != 0)
		return 0;
	LOG_DEBUG("repair: copy fragment %llu/%llu v%llu (%u of %u live) "
		  "from node %llu to node %llu",
		  (unsigned long long)f->ino, (unsigned long long)f->idx,
		  (unsigned long long)f->version, f->live, f->goal,
		  (unsigned long long)src, (unsigned long long)target);
	return 0;
}

/* A fragment left open by a lease that ended: survey its nodes (a
 * worker), then propose frag_seal (finish). */
static int
plan_seal(void *arg, const struct dmap_open_frag *f)
{
	struct scan_ctx *c = arg;
	struct repair *r = c->r;

	if (f->n == 0)
		return 0; /* no replica to ask: nothing a scan can do */
	c->seal_seen = 1;
	if (r->n_active >= (unsigned)r->opt.inflight)
		return 1;
	if (is_active(r, TASK_SEAL, f->ino, f->idx, 0))
		return 0;
	struct task *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return 1;
	t->kind = TASK_SEAL;
	t->r = (struct wire_replica){.ino = f->ino, .idx = f->idx,
				     .version = f->version};
	t->epoch = f->epoch;
	t->length = f->length;
	t->n_nodes = f->n;
	memcpy(t->nodes, f->nodes, f->n * sizeof(f->nodes[0]));
	LOG_INFO("repair: fragment %llu/%llu v%llu was left open for "
		 "patching in place by write lease %llu, which ended: "
		 "surveying its %u replicas to seal it",
		 (unsigned long long)f->ino, (unsigned long long)f->idx,
		 (unsigned long long)f->version,
		 (unsigned long long)f->epoch, f->n);
	submit(r, t);
	return 0;
}

static void
drop_add(struct scan_ctx *c, const struct dmap_frag *f, uint64_t node)
{
	struct wire_replica_drop *d = &c->drop;
	if (d->items_count < WIRE_MAX_replica)
		d->items[d->items_count++] = (struct wire_replica){
			.ino = f->ino, .idx = f->idx, .version = f->version,
			.node = node};
}

/* The goal is met: drop what does not count (bad, draining, dead), then
 * live copies beyond the goal. */
/* How loaded a node is for rebalancing: its replicas per byte of
 * capacity (CFS's own data, not whatever else shares the disk). */
static double
pressure(struct repair *r, uint64_t id)
{
	const struct dmap_node *n = node_find(r, id);
	if (n == NULL || n->capacity == 0)
		return 1e300;
	return (double)n->replicas / (double)n->capacity;
}

/* Heard from within this long: a node whose copy a drop may keep in
 * place of another (one going silent is not dead in the registry for
 * node_dead_after yet). */
#define KEEP_HEARD_MS 3000

/* The goal is met: drop what does not count (bad, draining, dead), then
 * the live copies beyond the goal on the most loaded nodes, but only
 * while every live copy's node was heard from lately.  The state machine
 * checks each drop again as it applies it (replica_drop.keep_goal): the
 * rows may have changed since this scan. */
static int
plan_drop(void *arg, const struct dmap_frag *f)
{
	struct scan_ctx *c = arg;
	size_t live[2 * CFS_GOAL_MAX], n = 0;
	int all_heard = 1;

	if (is_active(c->r, TASK_COPY, f->ino, f->idx, 0))
		return 0;
	for (size_t i = 0; i < f->n; i++) {
		if (!f->r[i].counts || f->r[i].state != DMAP_OK) {
			drop_add(c, f, f->r[i].node);
		} else {
			const struct live *l = live_find(c->r, f->r[i].node);
			all_heard &= l != NULL && l->heard &&
				     c->now_ms - l->last_ms <= KEEP_HEARD_MS;
			live[n++] = i;
		}
	}
	if (!all_heard)
		return c->drop.items_count >= WIRE_MAX_replica;
	/* keep the goal least loaded: sort by pressure, drop the tail */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 &&
				   pressure(c->r, f->r[live[j]].node) <
					   pressure(c->r, f->r[live[j - 1]].node);
		     j--) {
			size_t t = live[j];
			live[j] = live[j - 1];
			live[j - 1] = t;
		}
	/* ... but keep them spread: the least loaded copy of each domain
	 * (spread_label) first, then the least loaded of the rest */
	int keep[2 * CFS_GOAL_MAX] = {0};
	const char *labels[2 * CFS_GOAL_MAX];
	size_t nkeep = 0;
	for (size_t i = 0; i < n; i++) {
		const struct dmap_node *nd = node_find(c->r, f->r[live[i]].node);
		labels[i] = nd != NULL ? nd->labels : NULL;
	}
	for (size_t i = 0; i < n && nkeep < f->goal; i++) {
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = keep[j] &&
			       placement_same_domain(
				   f->r[live[i]].node, labels[i],
				   f->r[live[j]].node, labels[j],
				   c->r->spread_label);
		if (!seen) {
			keep[i] = 1;
			nkeep++;
		}
	}
	for (size_t i = 0; i < n && nkeep < f->goal; i++)
		if (!keep[i]) {
			keep[i] = 1;
			nkeep++;
		}
	for (size_t i = 0; i < n; i++)
		if (!keep[i])
			drop_add(c, f, f->r[live[i]].node);
	return c->drop.items_count >= WIRE_MAX_replica;
}

/* Rebalancing: copy a replica from the node holding the most above its
 * share to the one holding the most below it; the over-goal pass then
 * drops the copy on the fuller node. */
static int
plan_move(void *arg, const struct dmap_frag *f)
{
	struct scan_ctx *c = arg;
	struct repair *r = c->r;
	const struct dmap_node *tn = node_find(r, c->to);
	const struct dmap_node *fn = node_find(r, c->from);

	if (r->n_active >= (unsigned)r->opt.inflight || r->tokens <= 0)
		return 1;
	if (tn == NULL || fn == NULL ||
	    is_active(r, TASK_COPY, f->ino, f->idx, 0) ||
	    dmap_is_garbage(c->d, f->ino, f->idx, f->version, c->to))
		return 0;
	/* keep the spread: no move into a domain another copy is in (as
	 * placement counts domains: an empty label value is no domain) */
	for (size_t i = 0; i < f->n; i++) {
		const struct dmap_node *o = node_find(r, f->r[i].node);
		if (o != NULL && o->id != c->from && f->r[i].counts &&
		    placement_same_domain(tn->id, tn->labels, o->id, o->labels,
					  r->spread_label))
			return 0;
	}
	return submit_copy(r, f, c->to, c->from) != 0;
}

static void
plan_rebalance(struct repair *r, struct dmap *d, struct scan_ctx *c)
{
	double total = 0, cap = 0, best = 0, worst = 0;
	size_t count = 0;
	char errmsg[CFS_ERRMSG_SIZE];

	c->from = c->to = 0;
	for (size_t i = 0; i < r->n_nodes; i++) {
		if (c->view[i].state != PLACEMENT_ALIVE ||
		    r->nodes[i].capacity == 0)
			continue;
		total += (double)r->nodes[i].replicas;
		cap += (double)r->nodes[i].capacity;
		count++;
	}
	if (count < 2 || total == 0)
		return;
	/* hysteresis: writes in progress unbalance nodes by a few replicas
	 * all the time; only a lasting difference is worth moving data */
	double threshold = total / (double)count * 0.10;
	if (threshold < 4)
		threshold = 4;
	for (size_t i = 0; i < r->n_nodes; i++) {
		if (c->view[i].state != PLACEMENT_ALIVE ||
		    r->nodes[i].capacity == 0)
			continue;
		double excess = (double)r->nodes[i].replicas -
				total * (double)r->nodes[i].capacity / cap;
		if (excess > best) {
			best = excess;
			c->from = r->nodes[i].id;
		}
		if (excess < worst) {
			worst = excess;
			c->to = r->nodes[i].id;
		}
	}
	if (best - worst <= threshold || !c->from || !c->to) {
		c->from = c->to = 0; /* within the hysteresis: not work */
		return;
	}
	LOG_DEBUG("rebalance: node %llu holds %.0f replicas above its share, "
		  "node %llu %.0f below",
		  (unsigned long long)c->from, best,
		  (unsigned long long)c->to, -worst);
	/* Move no more than closes the gap between the two, so the
	 * imbalance cannot flip; the next batch starts when this one has
	 * settled (counted in the registry). */
	double gap = best < -worst ? best : -worst;
	unsigned batch = gap < 1 ? 1 : (unsigned)gap;
	if (batch > (unsigned)r->opt.inflight)
		batch = (unsigned)r->opt.inflight;
	unsigned before = r->n_active;
	if (dmap_movable(d, c->from, c->to, batch, plan_move, c, errmsg) != 0)
		LOG_ERROR("rebalance: %s", errmsg);
	if (r->n_active == before)
		c->from = c->to = 0; /* nothing movable: not work */
}

static int
plan_delete(void *arg, const struct wire_replica *g, uint64_t stamp)
{
	struct scan_ctx *c = arg;
	struct repair *r = c->r;

	if (r->n_active >= (unsigned)r->opt.inflight)
		return 1;
	if (is_active(r, TASK_DELETE, g->ino, g->idx, g->node))
		return 0;
	const struct dmap_node *n = node_find(r, g->node);
	struct task *t = calloc(1, sizeof(*t));
	if (n == NULL || t == NULL) {
		free(t);
		return 0;
	}
	t->kind = TASK_DELETE;
	t->r = *g;
	t->stamp = stamp; /* a late delete must not hit a newer copy */
	snprintf(t->addr, sizeof(t->addr), "%s", n->addr);
	submit(r, t);
	return 0;
}

static void
refill(struct repair *r, uint64_t now_ms)
{
	double burst = (double)r->opt.rate; /* one second's worth */
	r->tokens += (double)r->opt.rate * (double)(now_ms - r->tokens_ms) /
		     1000.0;
	if (r->tokens > burst)
		r->tokens = burst;
	r->tokens_ms = now_ms;
}

/* Writes opened more than ABANDON_S ago and never committed (the client
 * died or gave up): their replica files become garbage. */
static void
drop_abandoned(struct repair *r, struct dmap *d)
{
	struct wire_replica_drop *drop = calloc(1, sizeof(*drop));
	char errmsg[CFS_ERRMSG_SIZE];
	struct timespec ts;

	if (drop == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t before = ((int64_t)ts.tv_sec - ABANDON_S) * 1000000000;
	if (dmap_abandoned(d, before, WIRE_MAX_replica, drop->items,
			   &drop->items_count, errmsg) != 0)
		LOG_ERROR("repair: %s", errmsg);
	drop->if_writing = 1;
	if (drop->items_count > 0) {
		LOG_INFO("repair: %u replicas of writes opened over %d s ago "
			 "and never committed become garbage",
			 drop->items_count, ABANDON_S);
		r->propose(r->data, WIRE_T_replica_drop, drop);
	}
	free(drop);
}

/* One planning pass: copies for fragments under goal (fewest live copies
 * first), drops beyond the goal, rebalancing when all is settled, and
 * deletion of garbage. */
static void
scan_all(struct repair *r, struct dmap *d, uint64_t now_ms)
{
	char errmsg[CFS_ERRMSG_SIZE];
	struct scan_ctx c = {.r = r, .d = d, .now_ms = now_ms};

	r->scan_ms = now_ms;
	r->scans++;
	c.view = placement_view(r, now_ms);
	if (c.view == NULL)
		return;
	/* first: an open fragment nobody holds the lease of can be neither
	 * read nor written until it is sealed */
	if (dmap_unsealed(d, SCAN_LIMIT, plan_seal, &c, errmsg) != 0)
		LOG_ERROR("repair: %s", errmsg);
	/* an open fragment a copy short (a node died, a copy went bad, a
	 * node drains) is repaired only once sealed: its holder is
	 * recalled rather than left to keep it open for as long as it
	 * likes */
	unsigned recalled = 0;
	if (dmap_recall_needy(d, SCAN_LIMIT, &recalled, errmsg) != 0)
		LOG_ERROR("repair: %s", errmsg);
	else if (recalled > 0 && recalled != r->needy_recalled)
		LOG_INFO("repair: %u files with fragments open for patching in "
			 "place and a copy short: their write leases recalled "
			 "(again at each scan, logged when the count changes)",
			 recalled);
	r->needy_recalled = recalled;
	if (dmap_under_goal(d, SCAN_LIMIT, plan_copy, &c, errmsg) != 0)
		LOG_ERROR("repair: %s", errmsg);
	if (dmap_over_goal(d, SCAN_LIMIT, plan_drop, &c, errmsg) != 0)
		LOG_ERROR("repair: %s", errmsg);
	if (c.drop.items_count > 0) {
		LOG_INFO("repair: dropping %u replicas beyond their goal",
			 c.drop.items_count);
		c.drop.keep_goal = 1;
		r->propose(r->data, WIRE_T_replica_drop, &c.drop);
	}
	drop_abandoned(r, d);
	/* Moving data only when everything is settled: nothing under goal,
	 * nothing to drop, no copy in flight (a move in flight is not yet in
	 * the counts rebalancing reads, so starting more would overshoot).
	 * Not at all with `rebalance = no`. */
	if (r->opt.rebalance && !c.under_seen && c.drop.items_count == 0 &&
	    r->n_active == 0)
		plan_rebalance(r, d, &c);
	free(c.view);
	unsigned before = r->n_active;
	if (dmap_garbage(d, SCAN_LIMIT, plan_delete, &c, errmsg) != 0)
		LOG_ERROR("repair: %s", errmsg);
	r->scan_idle = !c.under_seen && !c.seal_seen &&
		       c.drop.items_count == 0 &&
		       r->n_active == before && r->n_active == 0 &&
		       c.from == 0;
}

void
repair_tick(struct repair *r, struct dmap *d, uint64_t applied,
	    uint64_t now_ms)
{
	if (!r->leading)
		return;
	refresh_nodes(r, d);
	check_liveness(r, now_ms);
	refill(r, now_ms);
	if (now_ms - r->scan_ms < SCAN_EVERY_MS ||
	    (r->scan_idle && applied == r->scan_applied && r->n_active == 0))
		return;
	r->scan_applied = applied;
	scan_all(r, d, now_ms);
}

/* ---- results ------------------------------------------------------------------ */

/* Move the per-second window of copied bytes up to now. */
static uint64_t
window_advance(struct repair *r)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t sec = (uint64_t)ts.tv_sec;
	if (sec - r->window_sec >= RATE_WINDOW)
		memset(r->window, 0, sizeof(r->window));
	else
		for (uint64_t s = r->window_sec + 1; s <= sec; s++)
			r->window[s % RATE_WINDOW] = 0;
	r->window_sec = sec;
	return sec;
}

static void
account(struct repair *r, uint64_t bytes)
{
	uint64_t sec = window_advance(r);
	r->window[sec % RATE_WINDOW] += bytes;
	r->copies++;
	r->bytes += bytes;
}

static void
forget_active(struct repair *r, const struct task *t)
{
	for (struct task **pp = &r->active; *pp; pp = &(*pp)->next) {
		struct task *a = *pp;
		if (a->kind == t->kind && a->gen == t->gen &&
		    a->r.ino == t->r.ino && a->r.idx == t->r.idx &&
		    a->r.version == t->r.version && a->r.node == t->r.node) {
			*pp = a->next;
			free(a);
			r->n_active--;
			return;
		}
	}
}

/* A survey came back: seal with what most nodes hold (seal_choose); the
 * state machine does nothing if the fragment was sealed or rewritten
 * meanwhile.  No node answered: the next scan tries again. */
static void
finish_seal(struct repair *r, const struct task *t)
{
	struct wire_frag_seal fs = {.ino = t->r.ino, .idx = t->r.idx,
				    .version = t->r.version,
				    .epoch = t->epoch};
	uint64_t nodes[2 * CFS_GOAL_MAX];
	size_t k = seal_choose(t->answers, t->n_nodes, &fs.length, &fs.crc,
			       nodes);

	if (k == 0) {
		LOG_WARN("repair: seal of fragment %llu/%llu v%llu: none of "
			 "its %u replicas answered (%s); trying again",
			 (unsigned long long)t->r.ino,
			 (unsigned long long)t->r.idx,
			 (unsigned long long)t->r.version, t->n_nodes,
			 t->errmsg);
		return;
	}
	/* more than CFS_GOAL_MAX rows of one version do not occur (a
	 * version goes to at most the goal's nodes, plus repair copies);
	 * the unlisted ones would become bad and be copied again */
	if (k > CFS_GOAL_MAX)
		k = CFS_GOAL_MAX;
	memcpy(fs.nodes, nodes, k * sizeof(nodes[0]));
	fs.nodes_count = (uint32_t)k;
	if (k < t->n_nodes)
		LOG_WARN("repair: seal of fragment %llu/%llu v%llu: %zu of %u "
			 "replicas agree; the others become bad (last "
			 "failure: %s)",
			 (unsigned long long)t->r.ino,
			 (unsigned long long)t->r.idx,
			 (unsigned long long)t->r.version, k, t->n_nodes,
			 t->errmsg[0] ? t->errmsg : "a different crc");
	r->propose(r->data, WIRE_T_frag_seal, &fs);
}

static void
finish(struct repair *r, struct task *t)
{
	forget_active(r, t);
	if (t->gen != r->gen || !r->leading)
		return; /* from an earlier leadership: the log decides anew */
	if (t->kind == TASK_SEAL) {
		finish_seal(r, t);
	} else if (t->kind == TASK_COPY) {
		if (t->status != 0) {
			LOG_WARN("repair: copy of fragment %llu/%llu v%llu to "
				 "node %llu failed: %s",
				 (unsigned long long)t->r.ino,
				 (unsigned long long)t->r.idx,
				 (unsigned long long)t->r.version,
				 (unsigned long long)t->r.node, t->errmsg);
			return;
		}
		account(r, t->length);
		struct wire_replica_add a = {.r = t->r, .stamp = t->stamp};
		r->propose(r->data, WIRE_T_replica_add, &a);
	} else {
		if (t->status != 0 && t->status != CFS_ENOENT) {
			LOG_WARN("repair: deleting fragment %llu/%llu v%llu on "
				 "node %llu failed: %s",
				 (unsigned long long)t->r.ino,
				 (unsigned long long)t->r.idx,
				 (unsigned long long)t->r.version,
				 (unsigned long long)t->r.node, t->errmsg);
			return;
		}
		struct wire_replica_drop d = {.items_count = 1, .deleted = 1,
					      .stamps_count = 1};
		d.items[0] = t->r;
		d.stamps[0] = t->stamp;
		r->propose(r->data, WIRE_T_replica_drop, &d);
	}
}

static void
async_cb(uv_async_t *h)
{
	struct repair *r = h->data;

	pthread_mutex_lock(&r->lock);
	struct task *done = r->done;
	r->done = NULL;
	pthread_mutex_unlock(&r->lock);
	while (done != NULL) {
		struct task *next = done->next;
		finish(r, done);
		free(done);
		done = next;
	}
	/* Keep the workers busy: plan again as soon as half of them are
	 * free, rather than at the next once-a-second scan (at most every
	 * KICK_MS: a scan reads the whole fragment table). */
	uint64_t now = uv_now(h->loop);
	if (r->leading && r->n_active <= (unsigned)r->opt.inflight / 2 &&
	    now - r->scan_ms >= KICK_MS && r->dmap_of != NULL) {
		struct dmap *d = r->dmap_of(r->data);
		refill(r, now);
		if (d != NULL)
			scan_all(r, d, now);
	}
}

/* ---- lifecycle ------------------------------------------------------------------ */

int
repair_create(struct repair **out, uv_loop_t *loop,
	      const struct repair_options *opt, repair_propose_fn propose,
	      struct dmap *(*dmap_of)(void *data), void *data, char *errmsg)
{
	struct repair *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "repair");
	r->opt = *opt;
	snprintf(r->spread_label, sizeof(r->spread_label), "%s",
		 opt->spread_label ? opt->spread_label : "");
	r->opt.spread_label = r->spread_label;
	r->propose = propose;
	r->dmap_of = dmap_of;
	if (getrandom(&r->stamp_state, sizeof(r->stamp_state),
		      GRND_NONBLOCK) != (ssize_t)sizeof(r->stamp_state)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r->stamp_state = (uint64_t)ts.tv_nsec ^
				 ((uint64_t)ts.tv_sec << 20) ^
				 ((uint64_t)getpid() << 44);
	}
	r->data = data;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->zctx = zmq_ctx_new();
	if (r->zctx == NULL || uv_async_init(loop, &r->async, async_cb) != 0) {
		free(r);
		return cfs_fail(errmsg, CFS_ENOMEM, "repair: context");
	}
	r->async.data = r;
	r->n_threads = opt->inflight;
	r->threads = calloc((size_t)r->n_threads, sizeof(pthread_t));
	for (int i = 0; r->threads && i < r->n_threads; i++)
		if (pthread_create(&r->threads[i], NULL, worker_main, r) != 0)
			r->n_threads = i;
	*out = r;
	return 0;
}

static void
closed_cb(uv_handle_t *h)
{
	struct repair *r = h->data;
	free(r);
}

static void
free_list(struct task *t)
{
	while (t != NULL) {
		struct task *next = t->next;
		free(t);
		t = next;
	}
}

void
repair_destroy(struct repair **rp)
{
	struct repair *r = *rp;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	for (int i = 0; i < r->n_threads; i++)
		pthread_join(r->threads[i], NULL);
	free(r->threads);
	free_list(r->queue);
	free_list(r->done);
	free_list(r->active);
	free(r->nodes);
	free(r->live);
	zmq_ctx_term(r->zctx);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	uv_close((uv_handle_t *)&r->async, closed_cb);
	*rp = NULL;
}

void
repair_lead(struct repair *r, int leading, uint64_t now_ms)
{
	if (leading == r->leading)
		return;
	r->leading = leading;
	r->gen++;
	r->n_live = 0; /* every clock starts afresh */
	r->lead_ms = now_ms;
	r->tokens = 0;
	r->tokens_ms = now_ms;
	r->scan_ms = 0;
	r->scan_idle = 0;
	r->copies = r->bytes = 0;
	memset(r->window, 0, sizeof(r->window));
	/* Queued work of the old leadership is dropped; work in progress
	 * finishes and is ignored (finish() checks the generation). */
	pthread_mutex_lock(&r->lock);
	free_list(r->queue);
	r->queue = NULL;
	pthread_mutex_unlock(&r->lock);
	free_list(r->active);
	r->active = NULL;
	r->n_active = 0;
}

uint64_t
repair_scans(const struct repair *r)
{
	return r->scans;
}

void
repair_status(struct repair *r, struct dmap *d,
	      struct wire_node_list_reply *out, uint64_t now_ms)
{
	char errmsg[CFS_ERRMSG_SIZE];
	struct dmap_counts c;

	refresh_nodes(r, d);
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < r->n_nodes && i < WIRE_MAX_nodeinfo; i++) {
		const struct dmap_node *n = &r->nodes[i];
		struct wire_nodeinfo *o = &out->nodes[out->nodes_count++];
		struct live *l = live_get(r, n->id, now_ms);
		o->id = n->id;
		snprintf(o->uuid, sizeof(o->uuid), "%s", n->uuid);
		snprintf(o->addr, sizeof(o->addr), "%s", n->addr);
		snprintf(o->labels, sizeof(o->labels), "%s", n->labels);
		o->state = (uint8_t)n->state;
		o->draining = (uint8_t)n->draining;
		o->capacity = l && l->heard ? l->capacity : n->capacity;
		o->free = l && l->heard ? l->free : 0;
		o->replicas = n->replicas;
		o->silent_ms = l ? now_ms - l->last_ms : 0;
		o->load = l ? l->load : 0;
	}
	if (dmap_count(d, &c, errmsg) == 0) {
		out->fragments = c.fragments;
		out->under_goal = c.under_goal;
		out->missing = c.missing;
		out->garbage = c.garbage;
	} else {
		LOG_ERROR("status: the fragment counts are not known: %s",
			  errmsg);
	}
	out->repair_copies = r->copies;
	out->repair_bytes = r->bytes;
	uint64_t sum = 0;
	window_advance(r);
	for (int i = 0; i < RATE_WINDOW; i++)
		sum += r->window[i];
	out->repair_rate = sum / RATE_WINDOW;
	out->repair_active = r->n_active;
	out->degraded_writes = (uint8_t)r->opt.degraded_writes;
	out->rebalance_held = (uint8_t)!r->opt.rebalance;
}
