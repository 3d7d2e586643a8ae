/* inventory.c - a data node's inventory check: replica files the metadata has no record of are deleted. */
#include "data/inventory.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "client/metaclient.h"
#include "common/error.h"
#include "common/log.h"
#include "data/service.h"
#include "data/store.h"

#define MS 1000000ll           /* ns per ms */
#define RETRY_MS 60000         /* a batch the leader did not answer */
#define STEP_NS (200 * MS)     /* work per step, then heartbeats go first */
#define DELETE_PER_STEP 32
/* More unknown than this (and than half of what was asked about) in one
 * pass is not garbage but a node that lost its identity, or metadata
 * restored from an older backup: nothing is deleted. */
#define SUSPECT_MIN 16

struct doomed {
	struct store_key k;
	uint64_t stamp, length;
};

struct inventory {
	struct store *st;
	struct service *svc;
	int64_t interval_ns, grace_ns;
	int64_t due; /* monotonic ns; INT64_MAX: off */

	/* the pass in progress: listed keys, then the unknown ones */
	int phase; /* IDLE, ASK, DELETE */
	uint64_t node_id; /* the pass is this node's */
	struct store_keys list;
	size_t pos;
	struct doomed *doomed;
	size_t nd, capd, posd;
	uint64_t asked, deleted, deleted_bytes;

	/* one batch: the request, and per key its stamp and length */
	struct wire_node_inventory *rq;
	uint64_t stamps[WIRE_MAX_replica], lengths[WIRE_MAX_replica];
};

enum { IDLE, ASK, DELETE };

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

int
inventory_new(struct inventory **out, const struct inventory_options *o,
	      struct store *st, struct service *svc, char *errmsg)
{
	struct inventory *iv = calloc(1, sizeof(*iv));

	if (iv == NULL || (iv->rq = calloc(1, sizeof(*iv->rq))) == NULL) {
		free(iv);
		return cfs_fail(errmsg, CFS_ENOMEM, "inventory");
	}
	iv->st = st;
	iv->svc = svc;
	iv->interval_ns = o->interval_ms * MS;
	iv->grace_ns = o->grace_ms * MS;
	iv->due = o->interval_ms <= 0 ? INT64_MAX : now_ns() + iv->interval_ns;
	*out = iv;
	return 0;
}

/* The lists go between passes: a pass an hour is not worth their memory. */
static void
lists_free(struct inventory *iv)
{
	store_keys_free(&iv->list);
	free(iv->doomed);
	iv->doomed = NULL;
	iv->pos = 0;
	iv->nd = iv->capd = iv->posd = 0;
}

void
inventory_free(struct inventory **ivp)
{
	struct inventory *iv = ivp ? *ivp : NULL;

	if (iv == NULL)
		return;
	lists_free(iv);
	free(iv->rq);
	free(iv);
	*ivp = NULL;
}

int64_t
inventory_due(const struct inventory *iv)
{
	return iv->due;
}

static void
pass_end(struct inventory *iv, int64_t now)
{
	if (iv->deleted > 0)
		LOG_INFO("inventory: pass done: %zu replica files, %" PRIu64
			 " old enough to ask about, %" PRIu64
			 " deleted (%" PRIu64 " bytes) that the metadata has "
			 "no record of",
			 iv->list.n, iv->asked, iv->deleted, iv->deleted_bytes);
	else
		LOG_DEBUG("inventory: pass done: %zu replica files, %" PRIu64
			  " asked about, nothing deleted", iv->list.n, iv->asked);
	lists_free(iv);
	iv->phase = IDLE;
	iv->due = now + iv->interval_ns;
}

static void
pass_begin(struct inventory *iv, uint64_t node_id, int64_t now)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";

	lists_free(iv);
	iv->asked = iv->deleted = iv->deleted_bytes = 0;
	iv->node_id = node_id;
	if (store_list_keys(iv->st, &iv->list, errmsg) != 0) {
		LOG_WARN("inventory: cannot list the store: %s", errmsg);
		pass_end(iv, now);
		return;
	}
	if (iv->list.oom)
		LOG_WARN("inventory: out of memory listing the store; this "
			 "pass covers the first %zu replicas", iv->list.n);
	iv->phase = ASK;
	iv->due = now;
}

/* Is replica @k's file older than the grace period (its mtime and ctime:
 * a rename or a copy's hand-over moves the ctime)?  Its stamp and length
 * into the batch slot @i.  0 if too young, gone, or not a file. */
static int
old_enough(struct inventory *iv, const struct store_key *k, unsigned i)
{
	char path[CFS_PATH_MAX], errmsg[CFS_ERRMSG_SIZE];
	struct timespec wall;
	struct stat sb;
	uint32_t crc;

	store_path(iv->st, k, path, sizeof(path));
	if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
		return 0;
	clock_gettime(CLOCK_REALTIME, &wall);
	struct timespec t = sb.st_mtim;
	if (sb.st_ctim.tv_sec > t.tv_sec ||
	    (sb.st_ctim.tv_sec == t.tv_sec && sb.st_ctim.tv_nsec > t.tv_nsec))
		t = sb.st_ctim;
	int64_t age = ((int64_t)wall.tv_sec - (int64_t)t.tv_sec) *
			      1000000000ll +
		      (wall.tv_nsec - t.tv_nsec);
	if (age < iv->grace_ns)
		return 0;
	/* a header that does not check: stamp 0, and store_delete_stamp
	 * deletes it should it still not check then */
	if (store_stat(iv->st, k, &iv->lengths[i], &crc, &iv->stamps[i],
		       errmsg) != 0) {
		iv->stamps[i] = 0;
		iv->lengths[i] = (uint64_t)sb.st_size;
	}
	return 1;
}

static int
doom(struct inventory *iv, const struct wire_replica *r, uint64_t stamp,
     uint64_t length)
{
	if (iv->nd == iv->capd) {
		size_t cap = iv->capd ? iv->capd * 2 : 256;
		struct doomed *d = realloc(iv->doomed, cap * sizeof(*d));
		if (d == NULL)
			return CFS_ENOMEM;
		iv->doomed = d;
		iv->capd = cap;
	}
	struct doomed *d = &iv->doomed[iv->nd++];
	d->k = (struct store_key){r->ino, (uint32_t)r->idx, r->version};
	d->stamp = stamp;
	d->length = length;
	return 0;
}

/* Newest version of a fragment first, as garbage collection deletes: an
 * older one deleted first would be merged into a newer one that goes
 * next. */
static int
doomed_order(const void *a, const void *b)
{
	const struct store_key *x = &((const struct doomed *)a)->k;
	const struct store_key *y = &((const struct doomed *)b)->k;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->version == y->version ? 0 : x->version > y->version ? -1 : 1;
}

/* Everything was asked about: delete what the leader does not know,
 * unless that is most of it. */
static void
ask_done(struct inventory *iv, int64_t now)
{
	if (iv->nd > SUSPECT_MIN && iv->nd * 2 > iv->asked) {
		LOG_ERROR("inventory: the metadata has no record on this node "
			  "(id %" PRIu64 ") of %zu of the %" PRIu64 " replica "
			  "files asked about: deleting none.  Was this node's "
			  "node.uuid replaced, or the metadata restored from "
			  "an older backup?  Files the cluster does not need "
			  "can be removed by hand, or the node emptied and "
			  "added again.", iv->node_id, iv->nd, iv->asked);
		pass_end(iv, now);
		return;
	}
	if (iv->nd > 0) /* (qsort of NULL is undefined, even of nothing) */
		qsort(iv->doomed, iv->nd, sizeof(*iv->doomed), doomed_order);
	iv->phase = DELETE;
	iv->due = now;
}

static void
ask_step(struct inventory *iv, struct mc *mc, const char *uuid,
	 union wire_body *reply, int64_t start)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	struct wire_node_inventory *rq = iv->rq;
	uint16_t rt = 0;
	size_t from = iv->pos;

	rq->id = iv->node_id;
	snprintf(rq->uuid, sizeof(rq->uuid), "%s", uuid);
	rq->keys_count = 0;
	while (iv->pos < iv->list.n && rq->keys_count < WIRE_MAX_replica &&
	       now_ns() - start < STEP_NS) {
		const struct store_key *k = &iv->list.keys[iv->pos++];
		if (!old_enough(iv, k, rq->keys_count))
			continue;
		struct wire_replica *r = &rq->keys[rq->keys_count++];
		r->ino = k->ino;
		r->idx = k->idx;
		r->version = k->version;
		r->node = iv->node_id;
	}
	if (rq->keys_count > 0) {
		int rv = mc_call(mc, WIRE_T_node_inventory, rq, &rt, reply, 0,
				 errmsg);
		if (rv == 0 && rt != WIRE_T_node_inventory_reply)
			rv = cfs_fail(errmsg, CFS_MALFORMED,
				      "answered with %s",
				      wire_type_name(rt) ? wire_type_name(rt)
							 : "?");
		const struct wire_node_inventory_reply *a =
			&reply->node_inventory_reply;
		for (uint32_t j = 0; rv == 0 && j < a->unknown_count; j++)
			if (a->unknown[j] >= rq->keys_count)
				rv = cfs_fail(errmsg, CFS_MALFORMED,
					      "unknown key %" PRIu64
					      " of a batch of %" PRIu32,
					      a->unknown[j], rq->keys_count);
		if (rv == CFS_EPERM || rv == CFS_ENOENT || rv == CFS_BADTYPE ||
		    rv == CFS_MALFORMED) {
			/* dead, removed, unknown to this leader, or a leader
			 * that does not know the check (an upgrade under
			 * way): nothing deleted this pass */
			LOG_WARN("inventory: the metadata leader refused the "
				 "check: %s; next pass in %" PRId64 " s",
				 errmsg,
				 (int64_t)(iv->interval_ns / 1000000000ll));
			pass_end(iv, now_ns());
			return;
		}
		if (rv != 0) {
			LOG_WARN("inventory: %s; asking again in %d s",
				 errmsg, RETRY_MS / 1000);
			iv->pos = from;
			iv->due = now_ns() + RETRY_MS * MS;
			return;
		}
		iv->asked += rq->keys_count;
		for (uint32_t j = 0; j < a->unknown_count; j++) {
			uint64_t i = a->unknown[j];
			if (doom(iv, &rq->keys[i], iv->stamps[i],
				 iv->lengths[i]) != 0) {
				LOG_WARN("inventory: out of memory; next pass "
					 "in %" PRId64 " s",
					 (int64_t)(iv->interval_ns /
						   1000000000ll));
				pass_end(iv, now_ns());
				return;
			}
		}
	}
	iv->due = now_ns(); /* the next batch, after whatever else is due */
	if (iv->pos == iv->list.n)
		ask_done(iv, iv->due);
}

static void
delete_step(struct inventory *iv, int64_t start)
{
	for (int done = 0; iv->posd < iv->nd && done < DELETE_PER_STEP &&
			   now_ns() - start < STEP_NS;
	     done++) {
		const struct doomed *d = &iv->doomed[iv->posd++];
		char path[CFS_PATH_MAX], errmsg[CFS_ERRMSG_SIZE] = "";
		struct stat sb;
		int rv;

		store_path(iv->st, &d->k, path, sizeof(path));
		rv = iv->svc != NULL
			     ? service_delete_stamp(iv->svc, &d->k, d->stamp,
						    errmsg)
			     : store_delete_stamp(iv->st, &d->k, d->stamp,
						  errmsg);
		if (rv == 0 && stat(path, &sb) != 0) {
			LOG_INFO("inventory: deleted %s (%" PRIu64 " bytes): "
				 "the metadata has no record of it here",
				 path, d->length);
			iv->deleted++;
			iv->deleted_bytes += d->length;
		} else if (rv != 0 && rv != CFS_ENOENT) {
			LOG_WARN("inventory: %s", errmsg);
		}
		/* rv 0 and still there: another incarnation took its place
		 * (store_delete_stamp logs it) */
	}
	iv->due = now_ns();
	if (iv->posd == iv->nd)
		pass_end(iv, iv->due);
}

void
inventory_step(struct inventory *iv, struct mc *mc, uint64_t node_id,
	       const char *uuid, union wire_body *reply, int64_t now)
{
	if (iv->phase != IDLE && node_id != iv->node_id) {
		/* registered again under another id: what was asked about
		 * was another node's answer */
		LOG_WARN("inventory: node id changed from %" PRIu64
			 " to %" PRIu64 "; pass abandoned", iv->node_id,
			 node_id);
		pass_end(iv, now);
		return;
	}
	switch (iv->phase) {
	case IDLE:
		pass_begin(iv, node_id, now);
		break;
	case ASK:
		ask_step(iv, mc, uuid, reply, now);
		break;
	default:
		delete_step(iv, now);
		break;
	}
}
