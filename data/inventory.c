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
#include "data/store.h"

#define MS 1000000ll          /* ns per ms */
#define RETRY_MS 60000        /* a batch the leader did not answer */
#define SCAN_PER_STEP 4096    /* files looked at (stat) per step at most */

struct inventory {
	struct store *st;
	int64_t interval_ns, grace_ns;
	int64_t due; /* monotonic ns; INT64_MAX: off */

	/* the pass in progress */
	int in_pass, list_oom;
	struct store_key *keys;
	size_t n, cap, pos;
	uint64_t asked, deleted, deleted_bytes;

	/* one batch: the request, and per key its stamp and length */
	struct wire_node_inventory *rq;
	uint64_t stamps[WIRE_MAX_replica], lengths[WIRE_MAX_replica];
};

int
inventory_new(struct inventory **out, const struct inventory_options *o,
	      struct store *st, char *errmsg)
{
	struct inventory *iv = calloc(1, sizeof(*iv));
	struct timespec ts;

	if (iv == NULL || (iv->rq = calloc(1, sizeof(*iv->rq))) == NULL) {
		free(iv);
		return cfs_fail(errmsg, CFS_ENOMEM, "inventory");
	}
	iv->st = st;
	iv->interval_ns = o->interval_ms * MS;
	iv->grace_ns = o->grace_ms * MS;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	iv->due = o->interval_ms <= 0 ? INT64_MAX
				      : (int64_t)ts.tv_sec * 1000000000ll +
						ts.tv_nsec + iv->interval_ns;
	*out = iv;
	return 0;
}

void
inventory_free(struct inventory **ivp)
{
	struct inventory *iv = ivp ? *ivp : NULL;

	if (iv == NULL)
		return;
	free(iv->keys);
	free(iv->rq);
	free(iv);
	*ivp = NULL;
}

int64_t
inventory_due(const struct inventory *iv)
{
	return iv->due;
}

static int
collect(void *arg, const struct store_key *k)
{
	struct inventory *iv = arg;

	if (iv->n == iv->cap) {
		size_t cap = iv->cap ? iv->cap * 2 : 1024;
		struct store_key *keys = realloc(iv->keys, cap * sizeof(*keys));
		if (keys == NULL) {
			iv->list_oom = 1;
			return 1;
		}
		iv->keys = keys;
		iv->cap = cap;
	}
	iv->keys[iv->n++] = *k;
	return 0;
}

static void
pass_begin(struct inventory *iv, int64_t now)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";

	iv->n = iv->pos = 0;
	iv->asked = iv->deleted = iv->deleted_bytes = 0;
	iv->list_oom = 0;
	if (store_list(iv->st, collect, iv, errmsg) != 0) {
		LOG_WARN("inventory: cannot list the store: %s", errmsg);
		iv->due = now + iv->interval_ns;
		return;
	}
	if (iv->list_oom)
		LOG_WARN("inventory: out of memory listing the store; this "
			 "pass covers the first %zu replicas", iv->n);
	iv->in_pass = 1;
	iv->due = now;
}

static void
pass_end(struct inventory *iv, int64_t now)
{
	if (iv->deleted > 0)
		LOG_INFO("inventory: pass done: %zu replica files, %" PRIu64
			 " old enough to ask about, %" PRIu64
			 " deleted (%" PRIu64 " bytes) that the metadata has "
			 "no record of",
			 iv->n, iv->asked, iv->deleted, iv->deleted_bytes);
	else
		LOG_DEBUG("inventory: pass done: %zu replica files, %" PRIu64
			  " asked about, all known", iv->n, iv->asked);
	iv->in_pass = 0;
	iv->due = now + iv->interval_ns;
}

/* Is replica @k's file older than the grace period (by mtime)?  Its
 * stamp and length into the batch slot @i.  0 if too young, gone, or not
 * a file. */
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
	int64_t age = ((int64_t)wall.tv_sec - (int64_t)sb.st_mtim.tv_sec) *
			      1000000000ll +
		      (wall.tv_nsec - sb.st_mtim.tv_nsec);
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

void
inventory_step(struct inventory *iv, struct mc *mc, uint64_t node_id,
	       union wire_body *reply, int64_t now)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	struct wire_node_inventory *rq = iv->rq;
	uint16_t rt = 0;
	size_t from = iv->pos;

	if (!iv->in_pass) {
		pass_begin(iv, now);
		return;
	}
	rq->id = node_id;
	rq->keys_count = 0;
	for (unsigned scanned = 0; iv->pos < iv->n &&
				   rq->keys_count < WIRE_MAX_replica &&
				   scanned < SCAN_PER_STEP;
	     scanned++) {
		const struct store_key *k = &iv->keys[iv->pos++];
		if (!old_enough(iv, k, rq->keys_count))
			continue;
		struct wire_replica *r = &rq->keys[rq->keys_count++];
		r->ino = k->ino;
		r->idx = k->idx;
		r->version = k->version;
		r->node = node_id;
	}
	if (rq->keys_count == 0) {
		if (iv->pos == iv->n)
			pass_end(iv, now);
		return;
	}
	int rv = mc_call(mc, WIRE_T_node_inventory, rq, &rt, reply, 0, errmsg);
	if (rv == 0 && rt != WIRE_T_node_inventory_reply)
		rv = cfs_fail(errmsg, CFS_MALFORMED, "answered with %s",
			      wire_type_name(rt) ? wire_type_name(rt) : "?");
	if (rv == CFS_EPERM || rv == CFS_ENOENT) {
		/* dead, removed or unknown to this leader: nothing deleted
		 * until it has us as a live node again */
		LOG_WARN("inventory: the metadata leader refused the check: "
			 "%s; next pass in %" PRId64 " s",
			 errmsg, (int64_t)(iv->interval_ns / 1000000000ll));
		iv->in_pass = 0;
		iv->due = now + iv->interval_ns;
		return;
	}
	if (rv != 0) {
		LOG_WARN("inventory: %s; asking again in %d s", errmsg,
			 RETRY_MS / 1000);
		iv->pos = from;
		iv->due = now + RETRY_MS * MS;
		return;
	}
	iv->asked += rq->keys_count;
	const struct wire_node_inventory_reply *a = &reply->node_inventory_reply;
	for (uint32_t j = 0; j < a->unknown_count; j++) {
		uint64_t i = a->unknown[j];
		if (i >= rq->keys_count) {
			LOG_WARN("inventory: the leader named key %" PRIu64
				 " of a batch of %" PRIu32 "; batch ignored",
				 i, rq->keys_count);
			break;
		}
		struct store_key k = {rq->keys[i].ino, (uint32_t)rq->keys[i].idx,
				      rq->keys[i].version};
		char path[CFS_PATH_MAX];
		store_path(iv->st, &k, path, sizeof(path));
		struct stat sb;
		rv = store_delete_stamp(iv->st, &k, iv->stamps[i], errmsg);
		/* kept: another incarnation took its place (store.c logs) */
		if (rv == 0 && stat(path, &sb) != 0) {
			LOG_INFO("inventory: deleted %s (%" PRIu64 " bytes): "
				 "the metadata has no record of it here",
				 path, iv->lengths[i]);
			iv->deleted++;
			iv->deleted_bytes += iv->lengths[i];
		} else if (rv != CFS_ENOENT) {
			LOG_WARN("inventory: %s", errmsg);
		}
	}
	iv->due = now; /* the next batch, after whatever else is due */
	if (iv->pos == iv->n)
		pass_end(iv, now);
}
