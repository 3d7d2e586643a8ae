/* beat.c - registration, heartbeats and the rate-limited scrub of a data node, in one thread. */
#include "data/beat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/metaclient.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "data/inventory.h"
#include "data/service.h"
#include "data/store.h"

#define BEAT_ATTEMPT_MS 1000   /* one request attempt (mc_options) */
#define BEAT_DEADLINE_MS 5000  /* one request, all retries (mc_options) */
#define BEAT_RETRY_MS 1000     /* register again after a failure */
#define BEAT_REMOVED_MS 60000  /* retry (and log) after EPERM */
#define MS 1000000ll           /* ns per ms */

struct beat {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC; signalled by beat_stop */
	int stopping;        /* under lock */

	/* Set by beat_start, read-only after. */
	char meta[1024];
	char uuid[37];
	char advertise[CFS_ADDR_MAX + 1];
	char labels[CFS_ADDR_MAX + 1];
	int64_t heartbeat_ns;
	uint64_t scrub_rate;
	int64_t scrub_rest_ms;
	struct store *st;
	struct service *svc;
	struct inventory *inv;

	/* The thread's own state from here on. */
	struct mc *mc;
	union wire_body *reply; /* 150 KB: not on the stack */
	uint64_t id;            /* registry id; 0 = (re)register first */
	int removed;            /* registration refused with EPERM */
	int64_t next_contact;   /* ns: next register or heartbeat */
	int in_contact;         /* the last request reached the leader */
	int ever_contact;
	int last_err;           /* the failure logged last; 0 = none */
	char leader[CFS_ADDR_MAX + 8];

	/* Scrub: the keys of the pass in progress. */
	int in_pass;
	struct store_keys list;
	size_t pos;
	int64_t scrub_next; /* ns: verify the next replica not before */
	uint64_t served_seen; /* service_served() at the last step */
	uint64_t pass_bytes, pass_corrupt;
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static int
stopping(struct beat *b)
{
	pthread_mutex_lock(&b->lock);
	int s = b->stopping;
	pthread_mutex_unlock(&b->lock);
	return s;
}

/* Wait until @deadline (monotonic ns) or beat_stop(), whichever is first. */
static void
wait_until(struct beat *b, int64_t deadline)
{
	struct timespec ts = {deadline / 1000000000ll, deadline % 1000000000ll};

	pthread_mutex_lock(&b->lock);
	while (!b->stopping && now_ns() < deadline)
		if (pthread_cond_timedwait(&b->cond, &b->lock, &ts) != 0)
			break;
	pthread_mutex_unlock(&b->lock);
}

/* Log a failed request once per change: the first failure after contact
 * says the leader was lost, later ones only when the error changes. */
static void
note_failure(struct beat *b, const char *what, int rv, const char *errmsg)
{
	if (b->in_contact)
		LOG_WARN("lost the metadata leader %s: %s: %s", b->leader,
			 what, errmsg);
	else if (rv != b->last_err)
		LOG_WARN("%s: %s (retrying)", what, errmsg);
	b->in_contact = 0;
	b->last_err = rv;
}

/* A request was answered: log a regained or changed leader. */
static void
note_contact(struct beat *b, int quiet)
{
	char leader[sizeof(b->leader)];

	mc_leader(b->mc, leader, sizeof(leader));
	if (!quiet && !b->in_contact && b->ever_contact)
		LOG_INFO("regained the metadata leader %s", leader);
	else if (!quiet && b->in_contact && strcmp(leader, b->leader) != 0)
		LOG_INFO("metadata leader is now %s", leader);
	memcpy(b->leader, leader, sizeof(leader));
	b->in_contact = 1;
	b->ever_contact = 1;
	b->last_err = 0;
}

static void
space(struct beat *b, uint64_t *capacity, uint64_t *free_bytes)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";

	*capacity = *free_bytes = 0;
	if (store_space(b->st, capacity, free_bytes, errmsg) != 0)
		LOG_DEBUG("free space: %s", errmsg);
}

/* Cases: 1) registered: the id goes to the service, heartbeats follow;
 * 2) EPERM, the node was removed: an ERROR now and every minute (each
 * retry), reads are still served; 3) any other failure: retried in a
 * second, logged once per change. */
static void
do_register(struct beat *b, int64_t start)
{
	struct wire_node_register rq;
	char errmsg[CFS_ERRMSG_SIZE] = "";
	uint16_t rt = 0;
	int rv;

	memset(&rq, 0, sizeof(rq));
	memcpy(rq.uuid, b->uuid, sizeof(rq.uuid));
	memcpy(rq.addr, b->advertise, sizeof(rq.addr));
	memcpy(rq.labels, b->labels, sizeof(rq.labels));
	space(b, &rq.capacity, &rq.free);
	rv = mc_call(b->mc, WIRE_T_node_register, &rq, &rt, b->reply, 0,
		     errmsg);
	if (rv == 0 && rt != WIRE_T_node_registered)
		rv = cfs_fail(errmsg, CFS_MALFORMED,
			      "node_register answered with message type %u",
			      (unsigned)rt);
	if (rv == CFS_EPERM) {
		LOG_ERROR("the metadata cluster refuses this node (uuid %s): "
			  "%s; still serving reads, asking again in a minute",
			  b->uuid, errmsg);
		b->removed = 1;
		b->in_contact = 0;
		b->last_err = rv;
		b->next_contact = start + BEAT_REMOVED_MS * MS;
		return;
	}
	if (rv != 0) {
		note_failure(b, "cannot register with the metadata cluster",
			     rv, errmsg);
		b->next_contact = start + BEAT_RETRY_MS * MS;
		return;
	}
	b->removed = 0;
	b->id = b->reply->node_registered.id;
	if (b->svc != NULL)
		service_set_id(b->svc, b->id);
	note_contact(b, 1);
	LOG_INFO("registered as node %llu (uuid %s, address %s) with leader "
		 "%s", (unsigned long long)b->id, b->uuid, b->advertise,
		 b->leader);
	b->next_contact = start + b->heartbeat_ns;
}

/* Cases: 1) answered: contact noted; 2) ENOENT, the leader does not know
 * this node (a new cluster, or it forgot us): register again at once;
 * 3) any other failure: logged once per change, tried again next beat. */
static void
do_heartbeat(struct beat *b, int64_t start)
{
	struct wire_node_heartbeat rq;
	char errmsg[CFS_ERRMSG_SIZE] = "";
	int rv;

	memset(&rq, 0, sizeof(rq));
	rq.id = b->id;
	memcpy(rq.uuid, b->uuid, sizeof(rq.uuid));
	space(b, &rq.capacity, &rq.free);
	if (b->svc != NULL)
		service_stats(b->svc, &rq.load, &rq.io_errors);
	rv = mc_call(b->mc, WIRE_T_node_heartbeat, &rq, NULL, b->reply, 0,
		     errmsg);
	if (rv == CFS_ENOENT) {
		note_contact(b, 0);
		LOG_WARN("the metadata leader does not know node %llu (%s): "
			 "registering again",
			 (unsigned long long)b->id, errmsg);
		b->id = 0;
		b->next_contact = start;
		return;
	}
	if (rv != 0)
		note_failure(b, "heartbeat", rv, errmsg);
	else
		note_contact(b, 0);
	b->next_contact = start + b->heartbeat_ns;
}

/* A client without a session (client id 0): nothing is sent until the
 * first request, so this fails only on a bad address list or no memory. */
static int
open_client(struct beat *b, char *errmsg)
{
	struct mc_options mo = {
		.client_name = "cfs-data",
		.attempt_timeout_ms = BEAT_ATTEMPT_MS,
		.deadline_ms = BEAT_DEADLINE_MS,
		.no_session = 1,
	};

	return mc_open(&b->mc, b->meta, &mo, errmsg);
}

/* The next step of talking to the leader: make the client, register, or
 * send a heartbeat. */
static void
contact(struct beat *b)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	int64_t start = now_ns();
	int rv;

	if (b->mc == NULL && (rv = open_client(b, errmsg)) != 0) {
		note_failure(b, "metadata client", rv, errmsg);
		b->next_contact = start + BEAT_RETRY_MS * MS;
		return;
	}
	if (b->id == 0)
		do_register(b, start);
	else
		do_heartbeat(b, start);
}

/* Start a pass: the keys of every replica now in the store.  Replicas
 * written during the pass wait for the next one; replicas deleted during
 * it are skipped (ENOENT). */
static int
pass_begin(struct beat *b)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	int rv;

	b->pos = 0;
	b->pass_bytes = b->pass_corrupt = 0;
	rv = store_list_keys(b->st, &b->list, errmsg);
	if (rv != 0) {
		LOG_WARN("scrub: cannot list the store: %s", errmsg);
		return rv;
	}
	if (b->list.oom)
		LOG_WARN("scrub: out of memory listing the store; this pass "
			 "covers the first %zu replicas", b->list.n);
	LOG_DEBUG("scrub: pass over %zu replicas", b->list.n);
	b->in_pass = 1;
	return 0;
}

/* Tell the leader that replica @k here is corrupt (replica_bad); it stops
 * reading it and schedules a new copy.  A report that does not get through
 * is made again by the next pass. */
static void
report_bad(struct beat *b, const struct store_key *k, const char *why)
{
	struct wire_replica_bad rq;
	char errmsg[CFS_ERRMSG_SIZE] = "";
	int rv;

	LOG_WARN("scrub: corrupt replica %llu/%u version %llu: %s",
		 (unsigned long long)k->ino, k->idx,
		 (unsigned long long)k->version, why);
	memset(&rq, 0, sizeof(rq));
	rq.r.ino = k->ino;
	rq.r.idx = k->idx;
	rq.r.version = k->version;
	rq.r.node = b->id;
	rq.reason = CFS_CORRUPT;
	rv = mc_call(b->mc, WIRE_T_replica_bad, &rq, NULL, b->reply, 0,
		     errmsg);
	if (rv != 0) {
		char path[CFS_PATH_MAX];
		store_path(b->st, k, path, sizeof(path));
		LOG_WARN("scrub: cannot report %s to the metadata leader: %s "
			 "(the next pass will)", path, errmsg);
	}
}

/* End a pass: rest scrub_interval, counted from when its last replica may
 * be read by the rate, before the next. */
static void
pass_end(struct beat *b, int64_t now)
{
	int64_t rest = now + b->scrub_rest_ms * MS;

	if (b->pass_corrupt > 0)
		LOG_INFO("scrub: pass done: %zu replicas, %llu bytes, %llu "
			 "corrupt", b->list.n,
			 (unsigned long long)b->pass_bytes,
			 (unsigned long long)b->pass_corrupt);
	else
		LOG_DEBUG("scrub: pass done: %zu replicas, %llu bytes, all "
			  "good", b->list.n,
			  (unsigned long long)b->pass_bytes);
	b->in_pass = 0;
	b->list.n = b->pos = 0;
	if (b->scrub_next < rest)
		b->scrub_next = rest;
}

/* While the node serves requests (clients' reads and writes, repair
 * copies), the scrub goes this many times slower than scrub_rate: the
 * disk is theirs first, and a node that is never idle still gets
 * scrubbed. */
#define SCRUB_BUSY_SLOWDOWN 16

/* Verify the next replica of the pass, then move scrub_next forward by
 * the time its bytes (data and header) take at scrub_rate (or
 * SCRUB_BUSY_SLOWDOWN times that if the service answered requests since
 * the last step or is serving one now; a day at most), so that the bytes
 * read per second stay within the rate. */
static void
scrub_step(struct beat *b, int64_t now)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	uint64_t len = 0;
	uint32_t crc;
	int rv;

	if (!b->in_pass && pass_begin(b) != 0) {
		b->scrub_next = now + b->scrub_rest_ms * MS;
		return;
	}
	if (b->pos == b->list.n) {
		pass_end(b, now);
		return;
	}
	const struct store_key *k = &b->list.keys[b->pos++];
	rv = store_stat(b->st, k, &len, &crc, NULL, errmsg);
	/* (a header read while a patch rewrote it may not check: verified
	 * again by the service, holding the fragment) */
	if (rv == 0 || rv == CFS_CORRUPT)
		rv = b->svc != NULL ? service_verify(b->svc, k, errmsg)
				    : store_verify(b->st, k, errmsg);
	if (rv == CFS_CORRUPT) {
		b->pass_corrupt++;
		report_bad(b, k, errmsg);
	} else if (rv != 0 && rv != CFS_ENOENT) {
		LOG_WARN("scrub: %s", errmsg);
	}
	len += STORE_HEADER_SIZE;
	b->pass_bytes += len;
	if (b->scrub_next < now)
		b->scrub_next = now;
	uint64_t served = 0;
	uint32_t load = 0;
	if (b->svc != NULL) {
		served = service_served(b->svc);
		service_stats(b->svc, &load, NULL);
	}
	double slow = served != b->served_seen || load > 0 ? SCRUB_BUSY_SLOWDOWN
							     : 1;
	b->served_seen = served;
	double wait = (double)len * 1e9 * slow / (double)b->scrub_rate;
	b->scrub_next += wait < 86400e9 ? (int64_t)wait : (int64_t)86400e9;
	if (b->pos == b->list.n)
		pass_end(b, b->scrub_next);
}

/* Scrub only as a registered node: a report names our id. */
static int
scrub_active(const struct beat *b)
{
	return b->scrub_rate > 0 && b->id != 0 && !b->removed;
}

/* Inventory checks, as a registered node the leader answered lately. */
static int
inventory_active(const struct beat *b)
{
	return b->id != 0 && !b->removed && b->in_contact;
}

static void *
beat_main(void *arg)
{
	struct beat *b = arg;

	while (!stopping(b)) {
		int64_t now = now_ns();
		if (now >= b->next_contact) {
			contact(b);
			continue;
		}
		if (scrub_active(b) && now >= b->scrub_next) {
			scrub_step(b, now);
			continue;
		}
		if (inventory_active(b) && now >= inventory_due(b->inv)) {
			inventory_step(b->inv, b->mc, b->id, b->uuid, b->reply,
				       now);
			continue;
		}
		int64_t wake = b->next_contact;
		if (scrub_active(b) && b->scrub_next < wake)
			wake = b->scrub_next;
		if (inventory_active(b) && inventory_due(b->inv) < wake)
			wake = inventory_due(b->inv);
		wait_until(b, wake);
	}
	return NULL;
}

/* Copy @src into @dst of @cap bytes, or fail naming @what. */
static int
copy_opt(char *dst, size_t cap, const char *src, const char *what,
	 char *errmsg)
{
	if (src == NULL)
		src = "";
	if (strlen(src) >= cap)
		return cfs_fail(errmsg, CFS_CONFIG,
				"%s: longer than %zu bytes", what, cap - 1);
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static void
beat_free(struct beat *b)
{
	mc_close(&b->mc);
	inventory_free(&b->inv);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	store_keys_free(&b->list);
	free(b->reply);
	free(b);
}

/* The client is made here, not in the thread, so that a bad address list
 * is a configuration error at startup (no_session: nothing is sent yet). */
static int
beat_init(struct beat *b, const struct beat_options *o, char *errmsg)
{
	int rv;

	if ((rv = copy_opt(b->meta, sizeof(b->meta), o->meta, "meta",
			   errmsg)) != 0 ||
	    (rv = copy_opt(b->uuid, sizeof(b->uuid), o->uuid, "uuid",
			   errmsg)) != 0 ||
	    (rv = copy_opt(b->advertise, sizeof(b->advertise), o->advertise,
			   "advertise", errmsg)) != 0 ||
	    (rv = copy_opt(b->labels, sizeof(b->labels), o->labels, "labels",
			   errmsg)) != 0)
		return rv;
	b->heartbeat_ns = (o->heartbeat_ms > 0 ? o->heartbeat_ms : 1000) * MS;
	b->scrub_rate = o->scrub_rate;
	b->scrub_rest_ms = o->scrub_interval_ms > 0 ? o->scrub_interval_ms
						    : 60000;
	b->reply = malloc(sizeof(*b->reply));
	if (b->reply == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "heartbeat");
	struct inventory_options io = {.interval_ms = o->inventory_interval_ms,
				       .grace_ms = o->inventory_grace_ms};
	if ((rv = inventory_new(&b->inv, &io, b->st, b->svc, errmsg)) != 0)
		return rv;
	rv = open_client(b, errmsg);
	if (rv == CFS_EINVAL) {
		cfs_errmsg_prefix(errmsg, "meta");
		return CFS_CONFIG;
	}
	/* any other failure: the thread tries again, and logs it */
	return 0;
}

int
beat_start(struct beat **out, const struct beat_options *o,
	   struct store *st, struct service *svc, char *errmsg)
{
	struct beat *b = calloc(1, sizeof(*b));
	int rv;

	if (b == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "heartbeat");
	pthread_mutex_init(&b->lock, NULL);
	cfs_cond_init_monotonic(&b->cond);
	b->st = st;
	b->svc = svc;
	rv = beat_init(b, o, errmsg);
	if (rv != 0)
		goto err_after_alloc;
	rv = pthread_create(&b->thread, NULL, beat_main, b);
	if (rv != 0) {
		cfs_fail_errno(errmsg, rv, "heartbeat thread");
		rv = CFS_INTERNAL;
		goto err_after_alloc;
	}
	*out = b;
	return 0;

err_after_alloc:
	beat_free(b);
	return rv;
}

void
beat_stop(struct beat **bp)
{
	struct beat *b = bp ? *bp : NULL;

	if (b == NULL)
		return;
	pthread_mutex_lock(&b->lock);
	b->stopping = 1;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	beat_free(b);
	*bp = NULL;
}
