/* test_dmap.c - the data map: node registry, versions, commits, garbage from deletes and truncation, repair bookkeeping. */
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
#include "tests/unit/meta/dmap_fx.h"

/* The same uuid registering again keeps its id; a new one gets the next. */
static void
test_register_keeps_id_per_uuid(void **state)
{
	struct t *t = *state;
	assert_int_equal(reg(t, "00000000-0000-4000-8000-000000000002",
			     "10.0.0.9:7200"), 2);
	assert_int_equal(reg(t, "00000000-0000-4000-8000-000000000009",
			     "10.0.0.9:7201"), 5);
	memset(&t->rq, 0, sizeof(t->rq));
	snprintf(t->rq.node_register.uuid, 37, "short");
	assert_int_equal(run(t, WIRE_T_node_register), CFS_EINVAL);
}

/* A removed node cannot come back under its old identity. */
static void
test_removed_node_is_refused(void **state)
{
	struct t *t = *state;
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.node_state.id = 2;
	t->rq.node_state.state = CFS_NODE_REMOVED;
	assert_int_equal(run(t, WIRE_T_node_state), 0);
	memset(&t->rq, 0, sizeof(t->rq));
	snprintf(t->rq.node_register.uuid, 37,
		 "00000000-0000-4000-8000-000000000002");
	snprintf(t->rq.node_register.addr, 64, "x:1");
	assert_int_equal(run(t, WIRE_T_node_register), CFS_EPERM);
	assert_non_null(strstr(t->errmsg, "wipe"));
}

/* Versions grow; the chain names the placed nodes with their addresses;
 * the second open of a fragment has the committed one as its base. */
static void
test_open_commit_locate(void **state)
{
	struct t *t = *state;
	uint64_t v1 = write_frag(t, 0, 100);
	assert_int_equal(open_frag(t, 0, 2), 0);
	assert_true(t->out.frag_opened.version > v1);
	assert_int_equal(t->out.frag_opened.base_version, v1);
	assert_int_equal(t->out.frag_opened.base_length, 100);
	assert_int_equal(t->out.frag_opened.chain_count, 2);
	assert_string_equal(t->out.frag_opened.chain[1].addr,
			    "127.0.0.1:7202");

	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.frag_locate.cred = alice;
	t->rq.frag_locate.ino = t->ino;
	t->rq.frag_locate.count = 8;
	assert_int_equal(run(t, WIRE_T_frag_locate), 0);
	assert_int_equal(t->out.frag_map.frags_count, 1);
	assert_int_equal(t->out.frag_map.frags[0].version, v1);
	assert_int_equal(t->out.frag_map.frags[0].nodes_count, 3);
	assert_int_equal(t->out.frag_map.size, 100);
	assert_int_equal(t->out.frag_map.fragment_size, FSZ);
}

/* No placed node: the open is refused as unavailable. */
static void
test_open_without_nodes_is_unavailable(void **state)
{
	struct t *t = *state;
	assert_int_equal(open_frag(t, 0, 0), CFS_UNAVAILABLE);
}

/* A commit older than the committed version is stale; a node not opened
 * for the version cannot be named. */
static void
test_commit_refusals(void **state)
{
	struct t *t = *state;
	assert_int_equal(open_frag(t, 0, 3), 0);
	uint64_t v1 = t->out.frag_opened.version;
	assert_int_equal(open_frag(t, 0, 3), 0);
	uint64_t v2 = t->out.frag_opened.version;
	assert_int_equal(commit(t, 0, v2, 10, 3, 10), 0);
	assert_int_equal(commit(t, 0, v1, 10, 3, 10), CFS_ESTALE);
	assert_int_equal(open_frag(t, 1, 2), 0);
	uint64_t v3 = t->out.frag_opened.version;
	assert_int_equal(commit(t, 1, v3, 10, 3, FSZ + 10), CFS_EINVAL);
}

/* A commit that names the base it patched is refused when that is no
 * longer what is committed: another version committed meanwhile, or a
 * truncation shrank it (which keeps the version); committing it would
 * bring back what the other write replaced or the truncation cut. */
static void
test_commit_checks_its_base(void **state)
{
	struct t *t = *state;
	uint64_t v1 = write_frag(t, 0, 100);
	assert_int_equal(open_frag(t, 0, 3), 0);
	uint64_t v2 = t->out.frag_opened.version;
	assert_int_equal(t->out.frag_opened.base_version, v1);
	assert_int_equal(t->out.frag_opened.base_length, 100);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.setattr.cred = root;
	t->rq.setattr.ino = t->ino;
	t->rq.setattr.valid = CFS_SETATTR_SIZE;
	t->rq.setattr.size = 50;
	assert_int_equal(run_ns(t, WIRE_T_setattr), 0);
	assert_int_equal(count(t, "SELECT length FROM fragments"), 50);
	/* truncated below the patched base */
	commit_prep(t, 0, v2, 100, 3, 100);
	t->rq.frag_commit.base_version = v1;
	t->rq.frag_commit.base_length = 100;
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_ESTALE);
	assert_non_null(strstr(t->errmsg, "committed is"));
	/* the base as it is now */
	t->rq.frag_commit.base_length = 50;
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
	/* another version committed since v3 was opened on v2 */
	assert_int_equal(open_frag(t, 0, 3), 0);
	uint64_t v3 = t->out.frag_opened.version;
	uint64_t v4 = write_frag(t, 0, 100);
	assert_true(v4 > v3);
	assert_int_equal(open_frag(t, 0, 3), 0);
	uint64_t v5 = t->out.frag_opened.version;
	commit_prep(t, 0, v5, 100, 3, 100);
	t->rq.frag_commit.base_version = v2;
	t->rq.frag_commit.base_length = 100;
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_ESTALE);
	t->rq.frag_commit.base_version = v4;
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
}

/* base_named: a write that found no committed version (or replaced the
 * fragment whole) names that, 0 included: two writers without leases of
 * a new fragment, each with its own bytes, do not drop each other's. */
static void
test_commit_checks_a_named_empty_base(void **state)
{
	struct t *t = *state;

	assert_int_equal(open_frag(t, 1, 3), 0);
	uint64_t va = t->out.frag_opened.version;
	assert_int_equal(t->out.frag_opened.base_version, 0);
	assert_int_equal(open_frag(t, 1, 3), 0);
	uint64_t vb = t->out.frag_opened.version;
	assert_true(vb > va);
	/* a commits first; b, newer, names "nothing committed" */
	commit_prep(t, 1, va, 100, 3, FSZ + 100);
	t->rq.frag_commit.base_named = 1;
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
	commit_prep(t, 1, vb, 200, 3, FSZ + 200);
	t->rq.frag_commit.base_named = 1;
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_ESTALE);
	assert_non_null(strstr(t->errmsg, "committed is"));
	/* b writes again, over a's version, naming it */
	assert_int_equal(open_frag(t, 1, 3), 0);
	uint64_t vc = t->out.frag_opened.version;
	assert_int_equal(t->out.frag_opened.base_version, va);
	commit_prep(t, 1, vc, 200, 3, FSZ + 200);
	t->rq.frag_commit.base_named = 1;
	t->rq.frag_commit.base_version = va;
	t->rq.frag_commit.base_length = 100;
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
}

/* A commit may open the next version on the same nodes in the same step
 * (a writer's next patch then needs no frag_open): writing rows for a new
 * version, which a commit that names it, with no open of its own, makes
 * the committed one; or, left unused, a later commit makes garbage. */
static void
test_commit_reopens_the_next_version(void **state)
{
	struct t *t = *state;
	uint64_t v1 = write_frag(t, 0, 100);
	assert_int_equal(open_frag(t, 0, 3), 0);
	uint64_t v2 = t->out.frag_opened.version;
	commit_prep(t, 0, v2, 100, 3, 100);
	t->rq.frag_commit.base_version = v1;
	t->rq.frag_commit.base_length = 100;
	t->rq.frag_commit.reopen = 1;
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
	assert_int_equal(t->rt, WIRE_T_entry);
	uint64_t v3 = t->out.entry.reopened;
	assert_true(v3 > v2);
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM replicas WHERE "
		 "version = %llu AND state = 0", (unsigned long long)v3);
	assert_int_equal(count(t, sql), 3);
	/* used: committed without a frag_open */
	commit_prep(t, 0, v3, 120, 3, 120);
	t->rq.frag_commit.base_version = v2;
	t->rq.frag_commit.base_length = 100;
	t->rq.frag_commit.reopen = 1;
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
	uint64_t v4 = t->out.entry.reopened;
	assert_true(v4 > v3);
	assert_int_equal(count(t, "SELECT max(version) FROM fragments"),
			 (int64_t)v3);
	/* unused: the next commit of the fragment makes its rows garbage */
	uint64_t v5 = write_frag(t, 0, 10);
	assert_true(v5 > v4);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM garbage WHERE "
		 "version = %llu", (unsigned long long)v4);
	assert_int_equal(count(t, sql), 3);
	/* not asked: nothing opened */
	assert_int_equal(t->out.entry.reopened, 0);
	/* opened ahead on nodes 1..3, then node 2's copy of its base is
	 * found bad: a commit that says the nodes must hold the base is
	 * refused (frag_open would not have kept node 2) */
	assert_int_equal(open_frag(t, 0, 3), 0);
	uint64_t v6 = t->out.frag_opened.version;
	commit_prep(t, 0, v6, 10, 3, 10);
	t->rq.frag_commit.base_version = v5;
	t->rq.frag_commit.base_length = 10;
	t->rq.frag_commit.reopen = 1;
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
	uint64_t v7 = t->out.entry.reopened;
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.replica_bad.r = (struct wire_replica){
		.ino = t->ino, .idx = 0, .version = v6, .node = 2};
	assert_int_equal(run(t, WIRE_T_replica_bad), 0);
	commit_prep(t, 0, v7, 10, 3, 10);
	t->rq.frag_commit.base_version = v6;
	t->rq.frag_commit.base_length = 10;
	t->rq.frag_commit.base_held = 1;
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_ESTALE);
	assert_non_null(strstr(t->errmsg, "node 2 no longer holds"));
	t->rq.frag_commit.nodes_count = 2;
	t->rq.frag_commit.nodes[1] = 3; /* nodes 1 and 3 still do */
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
}

/* Committing a new version makes the old version's replicas garbage, and
 * the nodes of the new one that were opened but not listed too. */
static void
test_commit_makes_old_versions_garbage(void **state)
{
	struct t *t = *state;
	write_frag(t, 0, 100);
	assert_int_equal(open_frag(t, 0, 4), 0);
	uint64_t v2 = t->out.frag_opened.version;
	assert_int_equal(commit(t, 0, v2, 100, 3, 100), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage"), 3 + 1);
	assert_int_equal(count(t, "SELECT count(*) FROM replicas"), 3);
}

/* Deleting a file turns all its replicas into garbage. */
static void
test_unlink_frees_every_replica(void **state)
{
	struct t *t = *state;
	write_frag(t, 0, FSZ);
	write_frag(t, 1, 10);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.unlink.cred = root;
	t->rq.unlink.parent = 1;
	snprintf(t->rq.unlink.name, sizeof(t->rq.unlink.name), "f");
	assert_int_equal(run_ns(t, WIRE_T_unlink), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM replicas"), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM fragments"), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage"), 6);
}

struct scan_out {
	int n;
	struct dmap_frag last;
};

static int
collect(void *arg, const struct dmap_frag *f)
{
	struct scan_out *o = arg;
	o->n++;
	o->last = *f;
	return 0;
}

/* Truncation: fragments past the end become garbage; the one cut keeps its
 * replicas with a shorter readable length. */
static void
test_truncate_frees_the_tail(void **state)
{
	struct t *t = *state;
	write_frag(t, 0, FSZ);
	write_frag(t, 1, FSZ);
	write_frag(t, 2, 5);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.setattr.cred = root;
	t->rq.setattr.ino = t->ino;
	t->rq.setattr.valid = CFS_SETATTR_SIZE;
	t->rq.setattr.size = FSZ + 7;
	assert_int_equal(run_ns(t, WIRE_T_setattr), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM fragments"), 2);
	assert_int_equal(count(t, "SELECT length FROM fragments WHERE idx = 1"),
			 7);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage"), 3);
	/* copies still move the whole replica file as stored: after the
	 * holder of fragment 1 dies, repair is asked for 1 MiB, not 7 bytes */
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.node_state.id = 1;
	t->rq.node_state.state = CFS_NODE_DEAD;
	assert_int_equal(run(t, WIRE_T_node_state), 0);
	struct scan_out o = {0};
	assert_int_equal(dmap_under_goal(t->d, 10, collect, &o, t->errmsg), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.last.length, FSZ);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.setattr.cred = root;
	t->rq.setattr.ino = t->ino;
	t->rq.setattr.valid = CFS_SETATTR_SIZE;
	/* growing changes nothing */
	t->rq.setattr.size = 10 * FSZ;
	assert_int_equal(run_ns(t, WIRE_T_setattr), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage"), 3);
}

/* A copy of a version that is no longer committed is garbage, not a
 * replica; a copy of the committed one counts. */
static void
test_replica_add_checks_the_version(void **state)
{
	struct t *t = *state;
	uint64_t v1 = write_frag(t, 0, 10);
	write_frag(t, 0, 10);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.replica_add.r = (struct wire_replica){
		.ino = t->ino, .idx = 0, .version = v1, .node = 4};
	assert_int_equal(run(t, WIRE_T_replica_add), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage WHERE node = 4"),
			 1);
	uint64_t v3 = write_frag(t, 0, 10);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.replica_add.r = (struct wire_replica){
		.ino = t->ino, .idx = 0, .version = v3, .node = 4};
	assert_int_equal(run(t, WIRE_T_replica_add), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM replicas WHERE node = 4"),
			 1);
}

/* replica_drop: dropping moves a replica to garbage (twice is harmless);
 * deleted=1 then clears the garbage row. */
static void
test_replica_drop_then_deleted(void **state)
{
	struct t *t = *state;
	uint64_t v = write_frag(t, 0, 10);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.replica_drop.items[0] = (struct wire_replica){
		.ino = t->ino, .idx = 0, .version = v, .node = 2};
	t->rq.replica_drop.items_count = 1;
	assert_int_equal(run(t, WIRE_T_replica_drop), 0);
	assert_int_equal(run(t, WIRE_T_replica_drop), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM replicas"), 2);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage"), 1);
	t->rq.replica_drop.deleted = 1;
	assert_int_equal(run(t, WIRE_T_replica_drop), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage"), 0);
}

/* replica_drop with keep_goal: the leader planned the drops from the rows
 * as they were; applied later, a drop that would leave fewer counted
 * copies than the goal is skipped.  Goal 3, copies on nodes 1-3, plus a
 * fourth on node 4 (a repair copy, or a rebalance move). */
static int
drop_goal(struct t *t, uint64_t v, uint64_t node, int keep_goal)
{
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.replica_drop.items[0] = (struct wire_replica){
		.ino = t->ino, .idx = 0, .version = v, .node = node};
	t->rq.replica_drop.items_count = 1;
	t->rq.replica_drop.keep_goal = (uint8_t)keep_goal;
	return run(t, WIRE_T_replica_drop);
}

static int64_t
rows_on(struct t *t, uint64_t node)
{
	char sql[128];
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM replicas WHERE node = %llu",
		 (unsigned long long)node);
	return count(t, sql);
}

/* A repair copy of fragment 0 v@v, incarnation @stamp, finished on
 * @node. */
static void
add_copy(struct t *t, uint64_t v, uint64_t node, uint64_t stamp)
{
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.replica_add.r = (struct wire_replica){
		.ino = t->ino, .idx = 0, .version = v, .node = node};
	t->rq.replica_add.stamp = stamp;
	assert_int_equal(run(t, WIRE_T_replica_add), 0);
}

static void
test_replica_drop_keeps_the_goal(void **state)
{
	struct t *t = *state;
	uint64_t v = write_frag(t, 0, 10);

	add_copy(t, v, 4, 0);
	/* two scans each planned one drop beyond the goal: the first goes,
	 * the second would leave 2 of 3 and stays */
	assert_int_equal(drop_goal(t, v, 1, 1), 0);
	assert_int_equal(rows_on(t, 1), 0);
	assert_int_equal(drop_goal(t, v, 2, 1), 0);
	assert_int_equal(rows_on(t, 2), 1);
	/* a copy planned to be kept went bad before the drop applied: the
	 * drop of a good one stays; the bad one, which does not count, goes
	 * only once the goal is met again */
	assert_int_equal(drop_goal(t, v, 2, 0), 0); /* as an older leader */
	assert_int_equal(rows_on(t, 2), 0);
	add_copy(t, v, 1, 0); /* 1, 3, 4 */
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.replica_bad.r = (struct wire_replica){
		.ino = t->ino, .idx = 0, .version = v, .node = 3};
	assert_int_equal(run(t, WIRE_T_replica_bad), 0);
	assert_int_equal(drop_goal(t, v, 4, 1), 0);
	assert_int_equal(rows_on(t, 4), 1);
	assert_int_equal(drop_goal(t, v, 3, 1), 0);
	assert_int_equal(rows_on(t, 3), 1);
	/* a node of a kept copy died: nothing of the fragment goes */
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.node_state.id = 1;
	t->rq.node_state.state = CFS_NODE_DEAD;
	assert_int_equal(run(t, WIRE_T_node_state), 0);
	assert_int_equal(drop_goal(t, v, 4, 1), 0);
	assert_int_equal(rows_on(t, 4), 1);
	/* node 2's (node 1's came back with the repair copy) */
	assert_int_equal(count(t, "SELECT count(*) FROM garbage"), 1);
}

/* A dead node's replicas stop counting: the fragment is under goal, with
 * the two live copies as sources; a bad replica likewise. */
static void
test_under_goal_after_death_and_corruption(void **state)
{
	struct t *t = *state;
	uint64_t v = write_frag(t, 0, 10);
	struct scan_out o = {0};
	assert_int_equal(dmap_under_goal(t->d, 10, collect, &o, t->errmsg), 0);
	assert_int_equal(o.n, 0);

	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.node_state.id = 1;
	t->rq.node_state.state = CFS_NODE_DEAD;
	assert_int_equal(run(t, WIRE_T_node_state), 0);
	assert_int_equal(dmap_under_goal(t->d, 10, collect, &o, t->errmsg), 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.last.live, 2);

	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.replica_bad.r = (struct wire_replica){
		.ino = t->ino, .idx = 0, .version = v, .node = 2};
	assert_int_equal(run(t, WIRE_T_replica_bad), 0);
	o.n = 0;
	assert_int_equal(dmap_under_goal(t->d, 10, collect, &o, t->errmsg), 0);
	assert_int_equal(o.last.live, 1);
	struct dmap_counts c;
	assert_int_equal(dmap_count(t->d, &c, t->errmsg), 0);
	assert_int_equal(c.under_goal, 1);
	assert_int_equal(c.missing, 0);
}

/* The under-goal scan takes the fragments it can repair first: those with
 * no readable copy left (every copy on dead nodes) come last, so that a
 * few hundred of them cannot fill every scan's window. */
static void
test_under_goal_repairable_first(void **state)
{
	struct t *t = *state;
	struct scan_out o = {0};

	write_frag(t, 0, 10); /* nodes 1-3 */
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.frag_open.cred = alice;
	t->rq.frag_open.ino = t->ino;
	t->rq.frag_open.idx = 1;
	t->rq.frag_open.placed[0] = 4;
	t->rq.frag_open.placed_count = 1;
	assert_int_equal(run(t, WIRE_T_frag_open), 0);
	uint64_t v = t->out.frag_opened.version;
	commit_prep(t, 1, v, 10, 0, FSZ + 10);
	t->rq.frag_commit.nodes[0] = 4;
	t->rq.frag_commit.nodes_count = 1;
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
	for (uint64_t id = 1; id <= 3; id++) {
		memset(&t->rq, 0, sizeof(t->rq));
		t->rq.node_state.id = id;
		t->rq.node_state.state = CFS_NODE_DEAD;
		assert_int_equal(run(t, WIRE_T_node_state), 0);
	}
	/* fragment 0: no live or readable copy; 1: one of three */
	assert_int_equal(dmap_under_goal(t->d, 1, collect, &o, t->errmsg), 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.last.idx, 1);
	assert_int_equal(o.last.live, 1);
	o.n = 0;
	assert_int_equal(dmap_under_goal(t->d, 10, collect, &o, t->errmsg), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.last.idx, 0);
}

/* Replicas opened for a write and never committed are found once old. */
static void
test_abandoned_writes(void **state)
{
	struct t *t = *state;
	struct wire_replica out[8];
	unsigned n = 0;
	assert_int_equal(open_frag(t, 0, 3), 0);
	int64_t opened = t->env.now_ns;
	assert_int_equal(dmap_abandoned(t->d, opened, 8, out, &n, t->errmsg),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(dmap_abandoned(t->d, opened + 1, 8, out, &n,
					t->errmsg), 0);
	assert_int_equal(n, 3);
	assert_int_equal(out[0].ino, t->ino);
	/* the write commits before the leader's drop is applied: the drop
	 * (if_writing) must leave the committed replicas alone */
	uint64_t v = out[0].version;
	assert_int_equal(commit(t, 0, v, 10, 3, 10), 0);
	memset(&t->rq, 0, sizeof(t->rq));
	memcpy(t->rq.replica_drop.items, out, 3 * sizeof(out[0]));
	t->rq.replica_drop.items_count = 3;
	t->rq.replica_drop.if_writing = 1;
	assert_int_equal(run(t, WIRE_T_replica_drop), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM replicas WHERE "
			       "state = 1"), 3);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage"), 0);
}

/* ---- incarnation stamps (docs/model-spin.md finding 1) ---- */

/* replica_drop of one item; @deleted as in the message; @stamp ~0: none */
static int
drop_one(struct t *t, uint64_t v, uint64_t node, int deleted,
	 uint64_t stamp)
{
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.replica_drop.items[0] = (struct wire_replica){
		.ino = t->ino, .idx = 0, .version = v, .node = node};
	t->rq.replica_drop.items_count = 1;
	t->rq.replica_drop.deleted = (uint8_t)deleted;
	if (stamp != ~0ull) {
		t->rq.replica_drop.stamps[0] = stamp;
		t->rq.replica_drop.stamps_count = 1;
	}
	return run(t, WIRE_T_replica_drop);
}

struct garbage_out {
	int n;
	struct wire_replica r[32];
	uint64_t stamp[32];
};

static int
collect_garbage(void *arg, const struct wire_replica *r, uint64_t stamp)
{
	struct garbage_out *o = arg;
	if (o->n < 32) {
		o->r[o->n] = *r;
		o->stamp[o->n++] = stamp;
	}
	return 0;
}

static int64_t
stamp_of(struct t *t, const char *table, uint64_t node)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT stamp FROM %s WHERE node = %llu",
		 table, (unsigned long long)node);
	return count(t, sql);
}

/* A client's write makes stamp-0 replicas; replica_add stores the copy's
 * stamp; a drop, a commit of a newer version and an unlink carry it into
 * garbage, and the garbage scan returns it. */
static void
test_stamps_follow_replicas_into_garbage(void **state)
{
	struct t *t = *state;
	struct garbage_out g = {0};
	uint64_t v = write_frag(t, 0, 10);

	assert_int_equal(stamp_of(t, "replicas", 1), 0);
	add_copy(t, v, 4, 0x1111);
	assert_int_equal(stamp_of(t, "replicas", 4), 0x1111);
	assert_int_equal(drop_one(t, v, 4, 0, ~0ull), 0);
	assert_int_equal(stamp_of(t, "garbage", 4), 0x1111);
	assert_int_equal(dmap_garbage(t->d, 32, collect_garbage, &g, t->errmsg),
			 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0].node, 4);
	assert_true(g.stamp[0] == 0x1111);
	/* the delete's answer of another incarnation leaves the row */
	assert_int_equal(drop_one(t, v, 4, 1, 0x2222), 0);
	assert_int_equal(stamp_of(t, "garbage", 4), 0x1111);
	assert_int_equal(drop_one(t, v, 4, 1, 0x1111), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage"), 0);

	/* a commit of a newer version and an unlink carry stamps over */
	add_copy(t, v, 4, 0x3333);
	write_frag(t, 0, 10);
	assert_int_equal(stamp_of(t, "garbage", 4), 0x3333);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage WHERE "
			       "stamp = 0"), 3);
	uint64_t v3 = write_frag(t, 0, 10);
	add_copy(t, v3, 4, -5ll); /* all 64 bits survive */
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.unlink.cred = root;
	t->rq.unlink.parent = 1;
	snprintf(t->rq.unlink.name, sizeof(t->rq.unlink.name), "f");
	assert_int_equal(run_ns(t, WIRE_T_unlink), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage WHERE node = 4 "
			       "AND stamp = -5"), 1);
	g.n = 0;
	assert_int_equal(dmap_garbage(t->d, 32, collect_garbage, &g, t->errmsg),
			 0);
	int seen = 0;
	for (int i = 0; i < g.n; i++)
		if (g.r[i].node == 4 && g.r[i].version == v3) {
			assert_true(g.stamp[i] == (uint64_t)-5ll);
			seen = 1;
		}
	assert_true(seen);
}

/* The SPIN finding in the map: the delete of incarnation A is answered
 * (garbage row gone), repair copies the version back as B, B is dropped
 * again; a late answer for A must not remove B's garbage row.  And a copy
 * back while A's row still waits removes that row (the copy replaced A's
 * file). */
static void
test_late_delete_answer_keeps_the_newer_garbage_row(void **state)
{
	struct t *t = *state;
	uint64_t v = write_frag(t, 0, 10);

	add_copy(t, v, 4, 0xA);
	assert_int_equal(drop_one(t, v, 4, 0, ~0ull), 0);
	assert_int_equal(drop_one(t, v, 4, 1, 0xA), 0);
	add_copy(t, v, 4, 0xB);
	assert_int_equal(drop_one(t, v, 4, 0, ~0ull), 0);
	assert_int_equal(drop_one(t, v, 4, 1, 0xA), 0);
	assert_int_equal(stamp_of(t, "garbage", 4), 0xB);
	/* copied back while B's row waits: the row goes, the replica is C */
	add_copy(t, v, 4, 0xC);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage"), 0);
	assert_int_equal(stamp_of(t, "replicas", 4), 0xC);
	/* a drop naming another incarnation does not drop C */
	assert_int_equal(drop_one(t, v, 4, 0, 0xB), 0);
	assert_int_equal(stamp_of(t, "replicas", 4), 0xC);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage"), 0);
	/* stamps must be none or one per item */
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.replica_drop.items_count = 2;
	t->rq.replica_drop.stamps_count = 1;
	assert_int_equal(run(t, WIRE_T_replica_drop), CFS_EINVAL);
}

/* A database written before the stamps: dmap_open adds the columns (old
 * rows are stamp 0, as their files are) and replaces the old triggers,
 * whose positional INSERT into garbage would fail on five columns. */
static void
test_open_migrates_a_database_without_stamps(void **state)
{
	struct t *t = *state;
	static const char old[] =
		"DROP TRIGGER dmap_inode_gone;"
		"DROP TRIGGER dmap_inode_shrink;"
		"DROP TABLE replicas;"
		"DROP TABLE garbage;"
		"CREATE TABLE replicas (ino INTEGER NOT NULL, idx INTEGER NOT "
		"NULL, version INTEGER NOT NULL, node INTEGER NOT NULL, state "
		"INTEGER NOT NULL, since INTEGER NOT NULL, PRIMARY KEY (ino, "
		"idx, version, node)) WITHOUT ROWID;"
		"CREATE INDEX replicas_by_node ON replicas (node);"
		"CREATE TABLE garbage (node INTEGER NOT NULL, ino INTEGER NOT "
		"NULL, idx INTEGER NOT NULL, version INTEGER NOT NULL, PRIMARY "
		"KEY (node, ino, idx, version)) WITHOUT ROWID;"
		"CREATE TRIGGER dmap_inode_gone AFTER DELETE ON inodes BEGIN"
		"  INSERT OR IGNORE INTO garbage SELECT node, ino, idx, version"
		"    FROM replicas WHERE ino = OLD.ino;"
		"  DELETE FROM replicas WHERE ino = OLD.ino;"
		"END;"
		"INSERT INTO garbage VALUES (3, 999, 0, 1);";

	dmap_close(&t->d);
	assert_int_equal(sqlite3_exec(t->db, old, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(dmap_open(&t->d, t->db, t->ns, t->errmsg), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage WHERE "
			       "stamp = 0"), 1);
	uint64_t v = write_frag(t, 0, 10);
	add_copy(t, v, 4, 0x77);
	assert_int_equal(stamp_of(t, "replicas", 4), 0x77);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.unlink.cred = root;
	t->rq.unlink.parent = 1;
	snprintf(t->rq.unlink.name, sizeof(t->rq.unlink.name), "f");
	assert_int_equal(run_ns(t, WIRE_T_unlink), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage"), 1 + 4);
	assert_int_equal(stamp_of(t, "garbage", 4), 0x77);
	/* opening again changes nothing */
	dmap_close(&t->d);
	assert_int_equal(dmap_open(&t->d, t->db, t->ns, t->errmsg), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM garbage"), 1 + 4);
}

/* Data commands on a directory or by someone without write permission
 * fail like the namespace would. */
static void
test_permissions(void **state)
{
	struct t *t = *state;
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.frag_open.cred = alice;
	t->rq.frag_open.ino = 1;
	t->rq.frag_open.placed[0] = 1;
	t->rq.frag_open.placed_count = 1;
	assert_int_equal(run(t, WIRE_T_frag_open), CFS_EISDIR);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.setattr.cred = root;
	t->rq.setattr.ino = t->ino;
	t->rq.setattr.valid = CFS_SETATTR_MODE;
	t->rq.setattr.mode = 0644;
	assert_int_equal(run_ns(t, WIRE_T_setattr), 0);
	assert_int_equal(open_frag(t, 0, 1), CFS_EACCES);
}

static void
chmod_f(struct t *t, uint32_t mode)
{
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.setattr.cred = root;
	t->rq.setattr.ino = t->ino;
	t->rq.setattr.valid = CFS_SETATTR_MODE;
	t->rq.setattr.mode = mode;
	assert_int_equal(run_ns(t, WIRE_T_setattr), 0);
}

/* frag_locate asks for read permission, or for write permission when the
 * writer reads what it rewrites whole: a file someone may write but not
 * read (0602) is located for their writes and not for their reads. */
static void
test_locate_for_write_needs_write_permission(void **state)
{
	struct t *t = *state;
	uint64_t v = write_frag(t, 0, 100);

	chmod_f(t, 0602);
	assert_int_equal(locate(t, 0), CFS_EACCES);
	assert_int_equal(locate(t, 1), 0);
	assert_int_equal(t->out.frag_map.frags_count, 1);
	assert_int_equal(t->out.frag_map.frags[0].version, v);
	chmod_f(t, 0604);
	assert_int_equal(locate(t, 0), 0);
	assert_int_equal(locate(t, 1), CFS_EACCES);
}

/* One key of an inventory check by node @node. */
static void
inv_key(struct wire_node_inventory *rq, uint64_t ino, uint64_t idx,
	uint64_t version, uint64_t node)
{
	rq->keys[rq->keys_count++] = (struct wire_replica){
		.ino = ino, .idx = idx, .version = version, .node = node};
}

/* The inventory check knows a node's replicas in every state (writing
 * too) and its garbage, and nothing else: not another node's replica, not
 * a version nobody wrote, not a deleted file's.  A dead, removed or unknown
 * node, or a uuid not the node's, is refused (its files would all look
 * unknown). */
static void
test_inventory_names_only_what_has_no_row_on_the_node(void **state)
{
	struct t *t = *state;
	struct wire_node_inventory *rq = calloc(1, sizeof(*rq));
	struct wire_node_inventory_reply *a = calloc(1, sizeof(*a));
	uint64_t v1 = write_frag(t, 0, 100);     /* nodes 1..3 */
	assert_int_equal(open_frag(t, 0, 4), 0); /* writing on 1..4 */
	uint64_t v2 = t->out.frag_opened.version;
	uint64_t v0 = write_frag(t, 1, 10);

	rq->id = 4;
	snprintf(rq->uuid, sizeof(rq->uuid),
		 "00000000-0000-4000-8000-000000000004");
	inv_key(rq, t->ino, 0, v2, 4);      /* 0: writing here */
	inv_key(rq, t->ino, 0, v1, 4);      /* 1: on nodes 1..3 only */
	inv_key(rq, t->ino, 0, v2 + 50, 4); /* 2: no such version */
	inv_key(rq, t->ino, 1, v0, 4);      /* 3: another node's */
	inv_key(rq, t->ino + 99, 0, v1, 4); /* 4: no such file */
	assert_int_equal(dmap_inventory(t->d, rq, a, t->errmsg), 0);
	assert_int_equal(a->unknown_count, 4);
	assert_int_equal(a->unknown[0], 1);
	assert_int_equal(a->unknown[3], 4);

	/* node 1 after v2's commit: v1 is garbage there, v2 a replica */
	assert_int_equal(commit(t, 0, v2, 100, 3, 100), 0);
	rq->id = 1;
	rq->uuid[35] = '1';
	rq->keys_count = 0;
	inv_key(rq, t->ino, 0, v1, 1);
	inv_key(rq, t->ino, 0, v2, 1);
	inv_key(rq, t->ino, 1, v0, 1);
	assert_int_equal(dmap_inventory(t->d, rq, a, t->errmsg), 0);
	assert_int_equal(a->unknown_count, 0);
	/* node 4 was opened for v2 but not in the commit: garbage, known */
	rq->id = 4;
	assert_int_equal(dmap_inventory(t->d, rq, a, t->errmsg), CFS_ENOENT);
	assert_non_null(strstr(t->errmsg, "uuid")); /* node 1's uuid */
	rq->uuid[35] = '4';
	rq->keys_count = 0;
	inv_key(rq, t->ino, 0, v2, 4);
	assert_int_equal(dmap_inventory(t->d, rq, a, t->errmsg), 0);
	assert_int_equal(a->unknown_count, 0);

	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.node_state.id = 4;
	t->rq.node_state.state = CFS_NODE_DEAD;
	assert_int_equal(run(t, WIRE_T_node_state), 0);
	assert_int_equal(dmap_inventory(t->d, rq, a, t->errmsg), CFS_EPERM);
	assert_non_null(strstr(t->errmsg, "dead"));
	rq->id = 77;
	assert_int_equal(dmap_inventory(t->d, rq, a, t->errmsg), CFS_ENOENT);
	free(rq);
	free(a);
}

static int
interrupt_every_step(void *arg)
{
	(void)arg;
	return 1;
}

/* A failing database (here every statement interrupted) is an error the
 * caller sees, never "no such file", "no holders" or "not garbage". */
static void
test_database_errors_are_not_answers(void **state)
{
	struct t *t = *state;
	uint64_t held[CFS_GOAL_MAX];
	uint32_t goal = 7;
	size_t n = 7;

	uint64_t v = write_frag(t, 0, 100);
	assert_int_equal(dmap_live_holders(t->d, t->ino, 0, held, CFS_GOAL_MAX,
					   &n, t->errmsg),
			 0);
	assert_int_equal(n, 3);
	assert_int_equal(dmap_goal(t->d, t->ino, &goal, t->errmsg), 0);
	assert_int_equal(goal, 3);
	sqlite3_progress_handler(t->db, 1, interrupt_every_step, NULL);
	assert_int_not_equal(dmap_goal(t->d, t->ino, &goal, t->errmsg), 0);
	assert_non_null(strstr(t->errmsg, "data map"));
	assert_int_not_equal(dmap_live_holders(t->d, t->ino, 0, held,
					       CFS_GOAL_MAX, &n, t->errmsg),
			     0);
	assert_int_equal(n, 0);
	assert_int_equal(dmap_is_garbage(t->d, t->ino, 0, v, 1), 1);
	sqlite3_progress_handler(t->db, 0, NULL, NULL);
	assert_int_equal(dmap_is_garbage(t->d, t->ino, 0, v, 1), 0);
	assert_int_equal(dmap_goal(t->d, t->ino + 1000, &goal, t->errmsg), 0);
	assert_int_equal(goal, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_register_keeps_id_per_uuid),
		T(test_removed_node_is_refused),
		T(test_open_commit_locate),
		T(test_open_without_nodes_is_unavailable),
		T(test_commit_refusals),
		T(test_commit_checks_its_base),
		T(test_commit_checks_a_named_empty_base),
		T(test_commit_reopens_the_next_version),
		T(test_commit_makes_old_versions_garbage),
		T(test_unlink_frees_every_replica),
		T(test_truncate_frees_the_tail),
		T(test_replica_add_checks_the_version),
		T(test_replica_drop_then_deleted),
		T(test_replica_drop_keeps_the_goal),
		T(test_under_goal_after_death_and_corruption),
		T(test_under_goal_repairable_first),
		T(test_permissions),
		T(test_locate_for_write_needs_write_permission),
		T(test_abandoned_writes),
		T(test_stamps_follow_replicas_into_garbage),
		T(test_late_delete_answer_keeps_the_newer_garbage_row),
		T(test_open_migrates_a_database_without_stamps),
		T(test_inventory_names_only_what_has_no_row_on_the_node),
		T(test_database_errors_are_not_answers),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
