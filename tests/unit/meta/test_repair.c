/* test_repair.c - the leader's repair planner over a real data map: when it scans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <zmq.h>

#include "common/error.h"
#include "common/wire.h"
#include "meta/dmap.h"
#include "meta/lease.h"
#include "meta/ns.h"
#include "meta/repair.h"

#define FSZ (1u << 20)

/* A formatted namespace and data map in memory, four registered nodes
 * (ids 1..4) and one regular file; a repair planner leading over them. */
struct t {
	sqlite3 *db;
	struct ns *ns;
	struct dmap *d;
	struct leaset *l;
	struct ns_env env;
	union wire_body rq, out;
	uint16_t rt;
	char errmsg[CFS_ERRMSG_SIZE];
	uint64_t ino;
	uv_loop_t loop;
	struct repair *r;
	unsigned proposals;
	unsigned seals;                 /* frag_seal proposals */
	struct wire_frag_seal last_seal;
	uint64_t dead;                  /* the last node proposed dead */
	struct fake *fakes[3];          /* data nodes 1..3, when a test has them */
};

static int
run(struct t *t, uint16_t type, int (*exec)(void *, const struct ns_env *,
					    uint16_t, const union wire_body *,
					    uint16_t *, union wire_body *,
					    char *),
    void *obj)
{
	t->env.now_ns += 1000;
	return exec(obj, &t->env, type, &t->rq, &t->rt, &t->out, t->errmsg);
}

static int
ns_run(void *o, const struct ns_env *e, uint16_t ty, const union wire_body *rq,
       uint16_t *rt, union wire_body *out, char *errmsg)
{
	return ns_exec(o, e, ty, rq, rt, out, errmsg);
}

static int
dmap_run(void *o, const struct ns_env *e, uint16_t ty,
	 const union wire_body *rq, uint16_t *rt, union wire_body *out,
	 char *errmsg)
{
	return dmap_exec(o, e, ty, rq, rt, out, errmsg);
}

static int
propose(void *data, uint16_t type, const void *body)
{
	struct t *t = data;
	t->proposals++;
	if (type == WIRE_T_node_state &&
	    ((const struct wire_node_state *)body)->state == CFS_NODE_DEAD)
		t->dead = ((const struct wire_node_state *)body)->id;
	if (type == WIRE_T_frag_seal) {
		t->seals++;
		t->last_seal = *(const struct wire_frag_seal *)body;
	}
	return 0;
}

/* ---- fake data nodes: a ROUTER answering a seal's survey --------------- */

struct fake {
	void *ctx, *sock;
	char addr[256];
	uint32_t crc;   /* what its replica's crc is */
	atomic_ullong length; /* and its length (100 unless a test sets it) */
	atomic_int stop, requests;
	atomic_ullong fence; /* the last frag_read's fence_epoch */
	atomic_uint len;     /* and its len */
	pthread_t thread;
};

static void
fake_answer(struct fake *f, zmq_msg_t *ident, const uint8_t *buf, size_t len)
{
	struct wire_header h;
	union wire_body *b = calloc(1, sizeof(*b));
	union wire_body *r = calloc(1, sizeof(*r));
	char err[CFS_ERRMSG_SIZE];
	uint8_t *out = NULL;
	size_t outlen = 0;

	assert_int_equal(wire_decode(buf, len, &h, b, err), 0);
	assert_int_equal(h.type, WIRE_T_frag_read);
	atomic_store(&f->fence, b->frag_read.fence_epoch);
	atomic_store(&f->len, b->frag_read.len);
	h.flags = WIRE_F_REPLY;
	h.type = WIRE_T_frag_data;
	r->frag_data.length = atomic_load(&f->length);
	r->frag_data.crc = f->crc;
	assert_int_equal(wire_encode(&h, r, &out, &outlen, err), 0);
	zmq_send(f->sock, zmq_msg_data(ident), zmq_msg_size(ident),
		 ZMQ_SNDMORE);
	zmq_send(f->sock, out, outlen, 0);
	free(out);
	free(b);
	free(r);
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;

	while (!atomic_load(&f->stop)) {
		zmq_pollitem_t it = {f->sock, 0, ZMQ_POLLIN, 0};
		zmq_msg_t ident, frame;

		if (zmq_poll(&it, 1, 20) <= 0)
			continue;
		zmq_msg_init(&ident);
		zmq_msg_init(&frame);
		zmq_msg_recv(&ident, f->sock, 0);
		zmq_msg_recv(&frame, f->sock, 0);
		atomic_fetch_add(&f->requests, 1);
		fake_answer(f, &ident, zmq_msg_data(&frame),
			    zmq_msg_size(&frame));
		zmq_msg_close(&ident);
		zmq_msg_close(&frame);
	}
	return NULL;
}

static struct fake *
fake_start(uint32_t crc)
{
	struct fake *f = calloc(1, sizeof(*f));
	char ep[262];
	size_t sz = sizeof(ep);
	int zero = 0;

	assert_non_null(f);
	f->crc = crc;
	atomic_store(&f->length, 100);
	f->ctx = zmq_ctx_new();
	f->sock = zmq_socket(f->ctx, ZMQ_ROUTER);
	zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof(zero));
	assert_int_equal(zmq_bind(f->sock, "tcp://127.0.0.1:*"), 0);
	zmq_getsockopt(f->sock, ZMQ_LAST_ENDPOINT, ep, &sz);
	snprintf(f->addr, sizeof(f->addr), "%s", ep + strlen("tcp://"));
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
	return f;
}

static void
fake_stop(struct fake **fp)
{
	struct fake *f = *fp;
	if (f == NULL)
		return;
	atomic_store(&f->stop, 1);
	pthread_join(f->thread, NULL);
	zmq_close(f->sock);
	zmq_ctx_term(f->ctx);
	free(f);
	*fp = NULL;
}

static struct dmap *
dmap_of(void *data)
{
	return ((struct t *)data)->d;
}

/* Fragment @idx of the file committed on nodes @a, @b, @c. */
static void
write_on(struct t *t, uint64_t idx, uint64_t a, uint64_t b, uint64_t c)
{
	const struct wire_cred root = {0};
	uint64_t nodes[3] = {a, b, c};

	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.frag_open.cred = root;
	t->rq.frag_open.ino = t->ino;
	t->rq.frag_open.idx = idx;
	memcpy(t->rq.frag_open.placed, nodes, sizeof(nodes));
	t->rq.frag_open.placed_count = 3;
	assert_int_equal(run(t, WIRE_T_frag_open, dmap_run, t->d), 0);
	uint64_t v = t->out.frag_opened.version;
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.frag_commit.cred = root;
	t->rq.frag_commit.ino = t->ino;
	t->rq.frag_commit.idx = idx;
	t->rq.frag_commit.version = v;
	t->rq.frag_commit.length = 100;
	memcpy(t->rq.frag_commit.nodes, nodes, sizeof(nodes));
	t->rq.frag_commit.nodes_count = 3;
	t->rq.frag_commit.size = idx * FSZ + 100;
	assert_int_equal(run(t, WIRE_T_frag_commit, dmap_run, t->d), 0);
}

/* Fragment @idx committed on nodes 1..3 (100 bytes), open for patching
 * in place under write lease @epoch. */
static void
write_open_on(struct t *t, uint64_t idx, uint64_t epoch)
{
	const struct wire_cred root = {0};
	uint64_t nodes[3] = {1, 2, 3};

	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.frag_open.cred = root;
	t->rq.frag_open.ino = t->ino;
	t->rq.frag_open.idx = idx;
	memcpy(t->rq.frag_open.placed, nodes, sizeof(nodes));
	t->rq.frag_open.placed_count = 3;
	assert_int_equal(run(t, WIRE_T_frag_open, dmap_run, t->d), 0);
	uint64_t v = t->out.frag_opened.version;
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.frag_commit.cred = root;
	t->rq.frag_commit.ino = t->ino;
	t->rq.frag_commit.idx = idx;
	t->rq.frag_commit.version = v;
	t->rq.frag_commit.length = 100;
	memcpy(t->rq.frag_commit.nodes, nodes, sizeof(nodes));
	t->rq.frag_commit.nodes_count = 3;
	t->rq.frag_commit.size = idx * FSZ + 100;
	t->rq.frag_commit.in_place = CFS_INPLACE_OPEN;
	t->rq.frag_commit.lease_epoch = epoch;
	assert_int_equal(run(t, WIRE_T_frag_commit, dmap_run, t->d), 0);
}

/* The committed version of fragment 0 of the file. */
static uint64_t
last_version(struct t *t)
{
	sqlite3_stmt *s;
	uint64_t v = 0;
	assert_int_equal(sqlite3_prepare_v2(t->db, "SELECT version FROM "
					    "fragments WHERE idx = 0", -1, &s,
					    NULL),
			 SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Data node @i (1..4) registers (again), at t->env's time. */
static void
register_node(struct t *t, unsigned i)
{
	memset(&t->rq, 0, sizeof(t->rq));
	snprintf(t->rq.node_register.uuid, 37,
		 "00000000-0000-4000-8000-00000000000%u", i % 10);
	snprintf(t->rq.node_register.addr, 64, "127.0.0.1:%u", 7200 + i);
	t->rq.node_register.capacity = 1ull << 40;
	assert_int_equal(run(t, WIRE_T_node_register, dmap_run, t->d), 0);
}

static int
setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct ns_format fmt = {.fragment_size = FSZ, .default_goal = 3};
	struct repair_options opt = {.dead_after_ms = 20000,
				     .spread_label = "",
				     .rate = 1 << 20,
				     .inflight = 4,
				     .rebalance = 1};

	assert_int_equal(sqlite3_open(":memory:", &t->db), SQLITE_OK);
	assert_int_equal(ns_open(&t->ns, t->db, t->errmsg), 0);
	assert_int_equal(lease_open(&t->l, t->db, t->errmsg), 0);
	assert_int_equal(dmap_open(&t->d, t->db, t->ns, t->errmsg), 0);
	assert_int_equal(ns_format(t->ns, &t->env, &fmt, t->errmsg), 0);
	for (unsigned i = 1; i <= 4; i++)
		register_node(t, i);
	memset(&t->rq, 0, sizeof(t->rq));
	snprintf(t->rq.mknod.name, sizeof(t->rq.mknod.name), "f");
	t->rq.mknod.parent = 1;
	t->rq.mknod.mode = S_IFREG | 0666;
	assert_int_equal(run(t, WIRE_T_mknod, ns_run, t->ns), 0);
	t->ino = t->out.entry.attr.ino;
	assert_int_equal(uv_loop_init(&t->loop), 0);
	assert_int_equal(repair_create(&t->r, &t->loop, &opt, propose,
				       dmap_of, t, t->errmsg),
			 0);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct t *t = *state;
	repair_destroy(&t->r);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	for (int i = 0; i < 3; i++)
		fake_stop(&t->fakes[i]);
	uv_loop_close(&t->loop);
	dmap_close(&t->d);
	lease_close(&t->l);
	ns_close(&t->ns);
	sqlite3_close(t->db);
	free(t);
	return 0;
}


/* Heartbeats of every node but @except (0: none) at @now_ms. */
static void
heartbeats_but(struct t *t, uint64_t except, uint64_t now_ms)
{
	for (uint64_t id = 1; id <= 4; id++) {
		struct wire_node_heartbeat hb = {.id = id,
						 .capacity = 1ull << 40,
						 .free = 1ull << 39};
		if (id == except)
			continue;
		snprintf(hb.uuid, sizeof(hb.uuid),
			 "00000000-0000-4000-8000-00000000000%d", (int)id);
		assert_int_equal(repair_heartbeat(t->r, t->d, &hb, now_ms,
						  t->errmsg),
				 0);
	}
}

/* Every node alive and heard from at @now_ms. */
static void
heartbeats(struct t *t, uint64_t now_ms)
{
	heartbeats_but(t, 0, now_ms);
}

/*
 * A node restarted and registered again before it was found dead gets a
 * fresh clock: silent 21 s since its last heartbeat but registered 2.5 s
 * ago, it is not dead (dead_after 20 s); 20.5 s after the registration
 * with no heartbeat, it is.  The leader used to count from the heartbeat
 * before the restart and declare the node dead between its registration
 * and its first heartbeat.
 */
static void
test_registering_again_restarts_the_clock(void **state)
{
	struct t *t = *state;

	repair_lead(t->r, 1, 1000);
	heartbeats(t, 1000);
	repair_tick(t->r, t->d, 7, 1000);
	heartbeats_but(t, 2, 15000);
	heartbeats_but(t, 2, 19000);
	/* node 2 restarts at 19.5 s */
	t->env.now_ns = 19500ll * 1000000;
	register_node(t, 2);
	repair_tick(t->r, t->d, 8, 19500);
	heartbeats_but(t, 2, 21000);
	repair_tick(t->r, t->d, 8, 22000);
	assert_int_equal(t->dead, 0);
	heartbeats_but(t, 2, 38000);
	repair_tick(t->r, t->d, 8, 40000);
	assert_int_equal(t->dead, 2);
}

/*
 * ... but a node_state that changes nothing (a drain repeated, "alive"
 * said again: node_state needs no session, a retry applies twice) is no
 * registration: it keeps the node's `since`, and the silent node is
 * dead on time.
 */
static void
test_a_node_state_that_changes_nothing_keeps_the_clock(void **state)
{
	struct t *t = *state;

	repair_lead(t->r, 1, 1000);
	heartbeats(t, 1000);
	repair_tick(t->r, t->d, 7, 1000);
	heartbeats_but(t, 2, 15000);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.node_state.id = 2;
	t->rq.node_state.state = CFS_NODE_ALIVE;
	t->env.now_ns = 15000ll * 1000000;
	assert_int_equal(run(t, WIRE_T_node_state, dmap_run, t->d), 0);
	repair_tick(t->r, t->d, 8, 15500);
	heartbeats_but(t, 2, 21000);
	repair_tick(t->r, t->d, 8, 22000);
	assert_int_equal(t->dead, 2);
}

/*
 * Every fragment at its goal and the nodes a replica apart (node 1 holds
 * 3, the others 2: within the rebalance's hysteresis): nothing to do, so
 * after one scan the planner waits for the log to change rather than
 * reading the whole data map every second.  It used to scan every second
 * whenever the nodes were not exactly balanced.
 */
static void
test_idle_cluster_stops_scanning(void **state)
{
	struct t *t = *state;

	write_on(t, 0, 1, 2, 3);
	write_on(t, 1, 1, 3, 4);
	write_on(t, 2, 1, 2, 4);
	repair_lead(t->r, 1, 1000);
	heartbeats(t, 1000);
	repair_tick(t->r, t->d, 7, 2000);
	assert_int_equal(repair_scans(t->r), 1);
	for (uint64_t now = 3000; now <= 6000; now += 1000) {
		heartbeats(t, now);
		repair_tick(t->r, t->d, 7, now);
	}
	assert_int_equal(repair_scans(t->r), 1);
	assert_int_equal(t->proposals, 0);
	/* something applied: the next tick looks again */
	repair_tick(t->r, t->d, 8, 7000);
	assert_int_equal(repair_scans(t->r), 2);
}

/* Nodes 1..3 re-registered at fake data nodes whose replicas have crc
 * @c1, @c2, @c3. */
static void
fake_nodes(struct t *t, uint32_t c1, uint32_t c2, uint32_t c3)
{
	uint32_t crc[3] = {c1, c2, c3};
	for (int i = 0; i < 3; i++) {
		t->fakes[i] = fake_start(crc[i]);
		memset(&t->rq, 0, sizeof(t->rq));
		snprintf(t->rq.node_register.uuid, 37,
			 "00000000-0000-4000-8000-00000000000%d", i + 1);
		snprintf(t->rq.node_register.addr,
			 sizeof(t->rq.node_register.addr), "%s",
			 t->fakes[i]->addr);
		t->rq.node_register.capacity = 1ull << 40;
		assert_int_equal(run(t, WIRE_T_node_register, dmap_run, t->d),
				 0);
	}
}

/* Run the loop until a frag_seal is proposed (finished surveys arrive
 * through the repair's async handle), at most about @ms. */
static void
wait_for_seal(struct t *t, int ms)
{
	for (int i = 0; i < ms / 10 && t->seals == 0; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		uv_run(&t->loop, UV_RUN_NOWAIT);
		nanosleep(&ts, NULL);
	}
}

/*
 * A fragment left open for patching in place: while its write lease
 * lives the leader leaves it to the holder; once the lease is gone a
 * scan surveys the nodes holding it, fenced one above the lease, and
 * proposes frag_seal with the group most of them agree on (node 3,
 * holding an unacknowledged patch, is left out and will become bad).
 */
static void
test_open_fragment_without_lease_is_sealed(void **state)
{
	struct t *t = *state;
	struct lease_ctx c = {.client_id = 7, .index = 900};

	fake_nodes(t, 0xAAAA, 0xAAAA, 0xBBBB);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.lease_get.ino = t->ino;
	t->rq.lease_get.type = CFS_LEASE_WRITE;
	assert_int_equal(lease_exec(t->l, &c, WIRE_T_lease_get, &t->rq,
				    &t->rt, &t->out, t->errmsg),
			 0);
	write_open_on(t, 0, 900);
	uint64_t v = last_version(t);
	repair_lead(t->r, 1, 1000);
	heartbeats(t, 1000);
	repair_tick(t->r, t->d, 7, 2000);
	wait_for_seal(t, 300);
	assert_int_equal(t->seals, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(atomic_load(&t->fakes[i]->requests), 0);

	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.lease_release.ino = t->ino;
	assert_int_equal(lease_exec(t->l, &c, WIRE_T_lease_release, &t->rq,
				    &t->rt, &t->out, t->errmsg),
			 0);
	heartbeats(t, 3000);
	repair_tick(t->r, t->d, 8, 3000);
	wait_for_seal(t, 5000);
	assert_int_equal(t->seals, 1);
	const struct wire_frag_seal *fs = &t->last_seal;
	assert_int_equal(fs->ino, t->ino);
	assert_int_equal(fs->idx, 0);
	assert_int_equal(fs->version, v);
	assert_int_equal(fs->epoch, 900);
	assert_int_equal(fs->length, 100);
	assert_int_equal(fs->crc, 0xAAAA);
	assert_int_equal(fs->nodes_count, 2);
	assert_int_equal(fs->nodes[0], 1);
	assert_int_equal(fs->nodes[1], 2);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(atomic_load(&t->fakes[i]->fence), 901);
		assert_int_equal(atomic_load(&t->fakes[i]->len), 0);
	}
}

/* Appends in place made the open version longer on the nodes: the
 * survey takes what most hold, longer than committed (4,196 bytes on
 * nodes 1 and 2); a node holding fewer bytes than committed (50) holds
 * no state the version was in, and is left out. */
static void
test_appended_fragment_is_sealed_with_its_new_length(void **state)
{
	struct t *t = *state;
	struct lease_ctx c = {.client_id = 7, .index = 900};

	fake_nodes(t, 0xAAAA, 0xAAAA, 0xAAAA);
	atomic_store(&t->fakes[0]->length, 4196);
	atomic_store(&t->fakes[1]->length, 4196);
	atomic_store(&t->fakes[2]->length, 50);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.lease_get.ino = t->ino;
	t->rq.lease_get.type = CFS_LEASE_WRITE;
	assert_int_equal(lease_exec(t->l, &c, WIRE_T_lease_get, &t->rq,
				    &t->rt, &t->out, t->errmsg),
			 0);
	write_open_on(t, 0, 900);
	uint64_t v = last_version(t);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.lease_release.ino = t->ino;
	assert_int_equal(lease_exec(t->l, &c, WIRE_T_lease_release, &t->rq,
				    &t->rt, &t->out, t->errmsg),
			 0);
	repair_lead(t->r, 1, 1000);
	heartbeats(t, 1000);
	repair_tick(t->r, t->d, 7, 2000);
	wait_for_seal(t, 5000);
	assert_int_equal(t->seals, 1);
	const struct wire_frag_seal *fs = &t->last_seal;
	assert_int_equal(fs->version, v);
	assert_int_equal(fs->length, 4196);
	assert_int_equal(fs->crc, 0xAAAA);
	assert_int_equal(fs->nodes_count, 2);
	assert_int_equal(fs->nodes[0], 1);
	assert_int_equal(fs->nodes[1], 2);
}

/* An open fragment whose lease ended but that has no ok replica left has
 * nobody to survey: it does not keep the planner scanning every second. */
static void
test_unsealable_fragment_leaves_the_planner_idle(void **state)
{
	struct t *t = *state;
	struct lease_ctx c = {.client_id = 7, .index = 900};

	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.lease_get.ino = t->ino;
	t->rq.lease_get.type = CFS_LEASE_WRITE;
	assert_int_equal(lease_exec(t->l, &c, WIRE_T_lease_get, &t->rq,
				    &t->rt, &t->out, t->errmsg),
			 0);
	write_open_on(t, 0, 900);
	uint64_t v = last_version(t);
	for (uint64_t node = 1; node <= 3; node++) {
		memset(&t->rq, 0, sizeof(t->rq));
		t->rq.replica_bad.r = (struct wire_replica){
			.ino = t->ino, .idx = 0, .version = v, .node = node};
		assert_int_equal(run(t, WIRE_T_replica_bad, dmap_run, t->d),
				 0);
	}
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.lease_release.ino = t->ino;
	assert_int_equal(lease_exec(t->l, &c, WIRE_T_lease_release, &t->rq,
				    &t->rt, &t->out, t->errmsg),
			 0);
	repair_lead(t->r, 1, 1000);
	heartbeats(t, 1000);
	repair_tick(t->r, t->d, 7, 2000);
	heartbeats(t, 3000);
	repair_tick(t->r, t->d, 7, 3000);
	assert_int_equal(repair_scans(t->r), 1);
	assert_int_equal(t->seals, 0);
}

/* Node @id registered again with @labels. */
static void
label_node(struct t *t, int id, const char *labels)
{
	memset(&t->rq, 0, sizeof(t->rq));
	snprintf(t->rq.node_register.uuid, 37,
		 "00000000-0000-4000-8000-00000000000%d", id);
	snprintf(t->rq.node_register.addr, 64, "127.0.0.1:%d", 7200 + id);
	snprintf(t->rq.node_register.labels,
		 sizeof(t->rq.node_register.labels), "%s", labels);
	t->rq.node_register.capacity = 1ull << 40;
	assert_int_equal(run(t, WIRE_T_node_register, dmap_run, t->d), 0);
}

/* Copies and deletes the repair runs now. */
static uint32_t
active(struct t *t, uint64_t now_ms)
{
	struct wire_node_list_reply *out = calloc(1, sizeof(*out));
	assert_non_null(out);
	repair_status(t->r, t->d, out, now_ms);
	uint32_t n = out->repair_active;
	free(out);
	return n;
}

/* A new repair loop for @t, with spread_label @label and rebalance. */
static void
repair_restart(struct t *t, const char *label, int rebalance)
{
	struct repair_options opt = {.dead_after_ms = 20000,
				     .spread_label = label,
				     .rate = 1 << 20,
				     .inflight = 4,
				     .rebalance = rebalance};

	repair_destroy(&t->r);
	assert_int_equal(repair_create(&t->r, &t->loop, &opt, propose, dmap_of,
				       t, t->errmsg),
			 0);
}

/*
 * Rebalancing keeps copies in separate domains of the spread label as
 * placement counts them: twelve fragments on nodes 1-3, node 4 empty, so
 * replicas move from node 1 to 4 - unless node 4 is in a rack another
 * copy is in (3's, "rack=a").  An empty value ("rack=", nodes 2 and 4)
 * is no domain: a move next to node 2 is allowed.  It used to count as
 * one, and nothing moved.
 */
static void
test_rebalance_keeps_the_spread(void **state)
{
	struct t *t = *state;

	repair_restart(t, "rack", 1);
	label_node(t, 1, "rack=b");
	label_node(t, 2, "rack=");
	label_node(t, 3, "rack=a");
	label_node(t, 4, "rack=a");
	for (uint64_t idx = 0; idx < 12; idx++)
		write_on(t, idx, 1, 2, 3);
	repair_lead(t->r, 1, 1000);
	heartbeats(t, 1000);
	repair_tick(t->r, t->d, 7, 2000);
	assert_int_equal(repair_scans(t->r), 1);
	assert_int_equal(active(t, 2000), 0);
	label_node(t, 4, "rack=");
	heartbeats(t, 3000);
	repair_tick(t->r, t->d, 8, 3000);
	assert_int_equal(repair_scans(t->r), 2);
	assert_true(active(t, 3000) > 0);
}

/* 12 fragments on nodes 1-3, none on node 4: rebalancing moves some onto
 * node 4 in the first scan, unless `rebalance = no`. */
static unsigned
moves_onto_an_empty_node(struct t *t, int rebalance)
{
	repair_restart(t, "", rebalance);
	for (uint64_t idx = 0; idx < 12; idx++)
		write_on(t, idx, 1, 2, 3);
	repair_lead(t->r, 1, 1000);
	heartbeats(t, 1000);
	repair_tick(t->r, t->d, 7, 2000);
	assert_int_equal(repair_scans(t->r), 1);
	return active(t, 2000);
}

static void
test_rebalance_moves_onto_an_empty_node(void **state)
{
	assert_true(moves_onto_an_empty_node(*state, 1) > 0);
}

static void
test_rebalance_no_holds_every_move(void **state)
{
	struct t *t = *state;
	/* 256 node records: not on the stack */
	struct wire_node_list_reply *out = calloc(1, sizeof(*out));

	assert_non_null(out);
	assert_int_equal(moves_onto_an_empty_node(t, 0), 0);
	repair_status(t->r, t->d, out, 2000);
	assert_int_equal(out->rebalance_held, 1);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_idle_cluster_stops_scanning, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_open_fragment_without_lease_is_sealed, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_appended_fragment_is_sealed_with_its_new_length,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_unsealable_fragment_leaves_the_planner_idle, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_rebalance_keeps_the_spread, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_rebalance_moves_onto_an_empty_node, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_rebalance_no_holds_every_move, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_registering_again_restarts_the_clock, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_node_state_that_changes_nothing_keeps_the_clock,
			setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
