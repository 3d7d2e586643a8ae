/* test_repair.c - the leader's repair planner over a real data map: when it scans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

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
	(void)type;
	(void)body;
	t->proposals++;
	return 0;
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

static int
setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct ns_format fmt = {.fragment_size = FSZ, .default_goal = 3};
	struct repair_options opt = {.dead_after_ms = 20000,
				     .spread_label = "",
				     .rate = 1 << 20,
				     .inflight = 4};

	assert_int_equal(sqlite3_open(":memory:", &t->db), SQLITE_OK);
	assert_int_equal(ns_open(&t->ns, t->db, t->errmsg), 0);
	assert_int_equal(lease_open(&t->l, t->db, t->errmsg), 0);
	assert_int_equal(dmap_open(&t->d, t->db, t->ns, t->errmsg), 0);
	assert_int_equal(ns_format(t->ns, &t->env, &fmt, t->errmsg), 0);
	for (int i = 1; i <= 4; i++) {
		memset(&t->rq, 0, sizeof(t->rq));
		snprintf(t->rq.node_register.uuid, 37,
			 "00000000-0000-4000-8000-00000000000%d", i);
		snprintf(t->rq.node_register.addr, 64, "127.0.0.1:%d",
			 7200 + i);
		t->rq.node_register.capacity = 1ull << 40;
		assert_int_equal(run(t, WIRE_T_node_register, dmap_run, t->d),
				 0);
	}
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
	uv_loop_close(&t->loop);
	dmap_close(&t->d);
	lease_close(&t->l);
	ns_close(&t->ns);
	sqlite3_close(t->db);
	free(t);
	return 0;
}

/* Every node alive and heard from at @now_ms. */
static void
heartbeats(struct t *t, uint64_t now_ms)
{
	for (uint64_t id = 1; id <= 4; id++) {
		struct wire_node_heartbeat hb = {.id = id,
						 .capacity = 1ull << 40,
						 .free = 1ull << 39};
		snprintf(hb.uuid, sizeof(hb.uuid),
			 "00000000-0000-4000-8000-00000000000%d", (int)id);
		assert_int_equal(repair_heartbeat(t->r, t->d, &hb, now_ms,
						  t->errmsg),
				 0);
	}
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_idle_cluster_stops_scanning, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
