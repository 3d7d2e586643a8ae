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

#define FSZ (1u << 20)

/* A formatted namespace and its data map over one in-memory database,
 * four registered nodes (ids 1..4) and one regular file. */
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
};

static struct wire_cred root = {.uid = 0, .gid = 0};
static struct wire_cred alice = {.uid = 1000, .gid = 100};

static int
run_ns(struct t *t, uint16_t type)
{
	t->env.now_ns += 1000;
	return ns_exec(t->ns, &t->env, type, &t->rq, &t->rt, &t->out,
		       t->errmsg);
}

static int
run(struct t *t, uint16_t type)
{
	t->env.now_ns += 1000;
	return dmap_exec(t->d, &t->env, type, &t->rq, &t->rt, &t->out,
			 t->errmsg);
}

static uint64_t
reg(struct t *t, const char *uuid, const char *addr)
{
	memset(&t->rq, 0, sizeof(t->rq));
	snprintf(t->rq.node_register.uuid, 37, "%s", uuid);
	snprintf(t->rq.node_register.addr, 64, "%s", addr);
	t->rq.node_register.capacity = 1ull << 40;
	assert_int_equal(run(t, WIRE_T_node_register), 0);
	assert_int_equal(t->rt, WIRE_T_node_registered);
	return t->out.node_registered.id;
}

static int
setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	struct ns_format fmt = {.fragment_size = FSZ, .default_goal = 3};
	char uuid[40], addr[32];

	assert_int_equal(sqlite3_open(":memory:", &t->db), SQLITE_OK);
	assert_int_equal(ns_open(&t->ns, t->db, t->errmsg), 0);
	assert_int_equal(lease_open(&t->l, t->db, t->errmsg), 0);
	assert_int_equal(dmap_open(&t->d, t->db, t->ns, t->errmsg), 0);
	assert_int_equal(ns_format(t->ns, &t->env, &fmt, t->errmsg), 0);
	for (int i = 1; i <= 4; i++) {
		snprintf(uuid, sizeof(uuid),
			 "00000000-0000-4000-8000-00000000000%d", i);
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", 7200 + i);
		assert_int_equal(reg(t, uuid, addr), (uint64_t)i);
	}
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.mknod.cred = alice;
	t->rq.mknod.parent = 1;
	/* root's directory: alice may not create in it, so root does */
	t->rq.mknod.cred = root;
	snprintf(t->rq.mknod.name, sizeof(t->rq.mknod.name), "f");
	t->rq.mknod.mode = S_IFREG | 0666;
	assert_int_equal(run_ns(t, WIRE_T_mknod), 0);
	t->ino = t->out.entry.attr.ino;
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct t *t = *state;
	dmap_close(&t->d);
	lease_close(&t->l);
	ns_close(&t->ns);
	sqlite3_close(t->db);
	free(t);
	return 0;
}

/* frag_open with @n placed nodes 1..n; returns the status, version in
 * t->out. */
static int
open_frag(struct t *t, uint64_t idx, unsigned n)
{
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.frag_open.cred = alice;
	t->rq.frag_open.ino = t->ino;
	t->rq.frag_open.idx = idx;
	for (unsigned i = 0; i < n; i++)
		t->rq.frag_open.placed[i] = i + 1;
	t->rq.frag_open.placed_count = n;
	return run(t, WIRE_T_frag_open);
}

/* A frag_commit of @version on nodes 1..@n into t->rq, not run. */
static void
commit_prep(struct t *t, uint64_t idx, uint64_t version, uint64_t len,
	    unsigned n, uint64_t size)
{
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.frag_commit.cred = alice;
	t->rq.frag_commit.ino = t->ino;
	t->rq.frag_commit.idx = idx;
	t->rq.frag_commit.version = version;
	t->rq.frag_commit.length = len;
	t->rq.frag_commit.crc = 0xabcd;
	for (unsigned i = 0; i < n; i++)
		t->rq.frag_commit.nodes[i] = i + 1;
	t->rq.frag_commit.nodes_count = n;
	t->rq.frag_commit.size = size;
}

static int
commit(struct t *t, uint64_t idx, uint64_t version, uint64_t len,
       unsigned n, uint64_t size)
{
	commit_prep(t, idx, version, len, n, size);
	return run(t, WIRE_T_frag_commit);
}

/* write fragment @idx on nodes 1..3 with @len bytes; returns its version */
static uint64_t
write_frag(struct t *t, uint64_t idx, uint64_t len)
{
	assert_int_equal(open_frag(t, idx, 3), 0);
	uint64_t v = t->out.frag_opened.version;
	assert_int_equal(commit(t, idx, v, len, 3, idx * FSZ + len), 0);
	return v;
}

static int64_t
count(struct t *t, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v = -1;
	assert_int_equal(sqlite3_prepare_v2(t->db, sql, -1, &s, NULL),
			 SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

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

static int
locate(struct t *t, int for_write)
{
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.frag_locate.cred = alice;
	t->rq.frag_locate.ino = t->ino;
	t->rq.frag_locate.count = 8;
	t->rq.frag_locate.for_write = (uint8_t)for_write;
	return run(t, WIRE_T_frag_locate);
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

/* ---- patching in place (docs/data-path.md "Patching in place") -------- */

#define HOLDER 7 /* the session (and mount) holding the write lease */

/* A write lease on the file for session HOLDER, granted at Raft index
 * @index (its epoch). */
static uint64_t
grant_write(struct t *t, uint64_t index)
{
	struct lease_ctx c = {.client_id = HOLDER, .index = index};
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.lease_get.ino = t->ino;
	t->rq.lease_get.type = CFS_LEASE_WRITE;
	assert_int_equal(lease_exec(t->l, &c, WIRE_T_lease_get, &t->rq,
				    &t->rt, &t->out, t->errmsg),
			 0);
	assert_int_equal(t->out.lease_granted.epoch, index);
	return index;
}

/* The lease ends (its mount released it, or its session expired). */
static void
release(struct t *t)
{
	struct lease_ctx c = {.client_id = HOLDER};
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.lease_release.ino = t->ino;
	assert_int_equal(lease_exec(t->l, &c, WIRE_T_lease_release, &t->rq,
				    &t->rt, &t->out, t->errmsg),
			 0);
}

/* Fragment @idx written on nodes 1..@n, @len bytes, committed open for
 * patching in place under @epoch; returns its version. */
static uint64_t
write_open(struct t *t, uint64_t idx, unsigned n, uint64_t len,
	   uint64_t epoch)
{
	assert_int_equal(open_frag(t, idx, n), 0);
	uint64_t v = t->out.frag_opened.version;
	commit_prep(t, idx, v, len, n, idx * FSZ + len);
	t->rq.frag_commit.in_place = CFS_INPLACE_OPEN;
	t->rq.frag_commit.lease_epoch = epoch;
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
	return v;
}

static int64_t
patch_epoch(struct t *t, uint64_t idx)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT patch_epoch FROM fragments WHERE "
		 "ino = %llu AND idx = %llu", (unsigned long long)t->ino,
		 (unsigned long long)idx);
	return count(t, sql);
}

static int64_t
replica_state(struct t *t, uint64_t v, uint64_t node)
{
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT state FROM replicas WHERE ino = "
		 "%llu AND version = %llu AND node = %llu",
		 (unsigned long long)t->ino, (unsigned long long)v,
		 (unsigned long long)node);
	return count(t, sql);
}

/* A seal of fragment @idx, version @v, @len bytes, on nodes 1..@n, into
 * t->rq (not run). */
static void
seal_prep(struct t *t, uint64_t idx, uint64_t v, uint64_t len, unsigned n,
	  uint64_t epoch)
{
	commit_prep(t, idx, v, len, n, idx * FSZ + len);
	t->rq.frag_commit.in_place = CFS_INPLACE_SEAL;
	t->rq.frag_commit.lease_epoch = epoch;
	t->rq.frag_commit.crc = 0x5ea1;
}

/* An in-place open commits as usual and records the lease's epoch; it
 * needs a lease and no reopen. */
static void
test_inplace_open_records_the_lease(void **state)
{
	struct t *t = *state;
	uint64_t e = grant_write(t, 500);

	assert_int_equal(open_frag(t, 0, 3), 0);
	uint64_t v = t->out.frag_opened.version;
	commit_prep(t, 0, v, 100, 3, 100);
	t->rq.frag_commit.in_place = CFS_INPLACE_OPEN;
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_EINVAL);
	assert_non_null(strstr(t->errmsg, "write lease"));
	t->rq.frag_commit.lease_epoch = e;
	t->rq.frag_commit.reopen = 1;
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_EINVAL);
	t->rq.frag_commit.in_place = 4;
	t->rq.frag_commit.reopen = 0;
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_EINVAL);
	t->rq.frag_commit.in_place = CFS_INPLACE_OPEN;
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
	assert_int_equal(t->rt, WIRE_T_entry);
	assert_int_equal(t->out.entry.attr.size, 100);
	assert_int_equal(patch_epoch(t, 0), (int64_t)e);
	assert_int_equal(replica_state(t, v, 3), DMAP_OK);
	/* a plain commit leaves nothing open */
	write_frag(t, 1, 10);
	assert_int_equal(patch_epoch(t, 1), 0);
}

/* The holder's seal: refused unless the version is committed and open
 * under its lease with the committed length; then crc set, no longer
 * open, unlisted ok replicas bad, the file's times and size set. */
static void
test_inplace_seal(void **state)
{
	struct t *t = *state;
	uint64_t e = grant_write(t, 500);
	uint64_t v = write_open(t, 0, 3, 100, e);

	seal_prep(t, 0, v + 1, 100, 2, e);
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_ESTALE);
	seal_prep(t, 0, v, 100, 2, e + 1);
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_ESTALE);
	seal_prep(t, 0, v, 99, 2, e);
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_EINVAL);
	seal_prep(t, 0, v, 100, 2, e);
	t->rq.frag_commit.nodes[1] = 4; /* holds no replica of v */
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_EINVAL);
	seal_prep(t, 0, v, 100, 2, e);
	t->rq.frag_commit.size = 150;
	int64_t before = t->env.now_ns;
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
	assert_int_equal(t->rt, WIRE_T_entry);
	assert_int_equal(t->out.entry.attr.size, 150);
	assert_true(t->out.entry.attr.mtime_ns > before);
	assert_int_equal(patch_epoch(t, 0), 0);
	assert_int_equal(count(t, "SELECT crc FROM fragments"), 0x5ea1);
	assert_int_equal(replica_state(t, v, 1), DMAP_OK);
	assert_int_equal(replica_state(t, v, 2), DMAP_OK);
	assert_int_equal(replica_state(t, v, 3), DMAP_BAD);
	/* sealed: a second seal is stale, a new version is fine */
	seal_prep(t, 0, v, 100, 2, e);
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_ESTALE);
	write_frag(t, 0, 100);
}

/* While open, no new version: the holder is told to seal first, and
 * once its lease is gone everybody waits for the leader's seal. */
static void
test_open_fragment_takes_no_new_version(void **state)
{
	struct t *t = *state;
	uint64_t e = grant_write(t, 500);

	assert_int_equal(open_frag(t, 0, 3), 0);
	uint64_t ahead = t->out.frag_opened.version; /* opened before */
	uint64_t v = write_open(t, 0, 3, 100, e);
	assert_true(v > ahead);
	assert_int_equal(open_frag(t, 0, 3), CFS_EBUSY);
	assert_non_null(strstr(t->errmsg, "seal it first"));
	assert_int_equal(open_frag(t, 1, 3), 0); /* other fragments: as usual */
	uint64_t later = t->out.frag_opened.version;
	commit_prep(t, 0, ahead, 100, 3, 100);
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_EBUSY);
	/* an in-place open over an open version is no seal either */
	commit_prep(t, 0, later, 100, 3, 100);
	t->rq.frag_commit.idx = 0;
	t->rq.frag_commit.in_place = CFS_INPLACE_OPEN;
	t->rq.frag_commit.lease_epoch = e;
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_EBUSY);
	release(t);
	assert_int_equal(open_frag(t, 0, 3), CFS_LEASE_BUSY);
	assert_non_null(strstr(t->errmsg, "being sealed"));
	commit_prep(t, 0, ahead, 100, 3, 100);
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_LEASE_BUSY);
	assert_int_equal(patch_epoch(t, 0), (int64_t)e);
}

/* frag_locate of fragments [@first, @first + @count) under lease @epoch */
static int
locate_range(struct t *t, uint64_t first, uint32_t count, uint64_t epoch)
{
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.frag_locate.cred = alice;
	t->rq.frag_locate.ino = t->ino;
	t->rq.frag_locate.first = first;
	t->rq.frag_locate.count = count;
	t->rq.frag_locate.lease_epoch = epoch;
	return run(t, WIRE_T_frag_locate);
}

static uint64_t recalled_holder, recalled_session, recalled_ino;
static unsigned recalls;

static void
on_recall(void *data, uint64_t holder, uint64_t session, uint64_t ino)
{
	(void)data;
	recalls++;
	recalled_holder = holder;
	recalled_session = session;
	recalled_ino = ino;
}

/* frag_locate serves an open version only to its lease; anyone else is
 * refused LEASE_BUSY with the holder recalled, then LEASE_BUSY with no
 * one to recall once the lease is gone, until it is sealed. */
static void
test_locate_open_fragment(void **state)
{
	struct t *t = *state;
	uint64_t e = grant_write(t, 500);

	write_frag(t, 0, 100);
	uint64_t v = write_open(t, 1, 3, 100, e);
	dmap_set_recall(t->d, on_recall, NULL);
	recalls = 0;
	assert_int_equal(locate(t, 0), CFS_LEASE_BUSY);
	assert_int_equal(recalls, 1);
	assert_int_equal(recalled_holder, HOLDER);
	assert_int_equal(recalled_session, HOLDER);
	assert_int_equal(recalled_ino, t->ino);
	/* a range without it is served */
	assert_int_equal(locate_range(t, 0, 1, 0), 0);
	/* the holder, naming its lease */
	assert_int_equal(locate_range(t, 0, 8, e), 0);
	assert_int_equal(t->out.frag_map.frags_count, 2);
	assert_int_equal(t->out.frag_map.frags[1].version, v);
	assert_int_equal(recalls, 1);
	release(t);
	assert_int_equal(locate(t, 0), CFS_LEASE_BUSY);
	assert_non_null(strstr(t->errmsg, "being sealed"));
	assert_int_equal(recalls, 1);
	dmap_set_recall(t->d, NULL, NULL);
	assert_int_equal(locate(t, 0), CFS_LEASE_BUSY);
}

/* An open fragment a copy short is repaired only once sealed: the scan
 * recalls its holder (a node dead, a node draining), and nobody while the
 * fragment keeps its goal or once its lease is gone (then the leader
 * seals it itself). */
/* The version committed already is opened for patching in place as it
 * is: named exactly (version, length, crc), whole, on good copies only;
 * nothing else changes. */
static void
test_open_committed(void **state)
{
	struct t *t = *state;
	uint64_t v = write_frag(t, 0, 100);
	uint64_t e = grant_write(t, 500);
	int64_t files = count(t, "SELECT count(*) FROM replicas");

	commit_prep(t, 0, v, 100, 3, 100);
	t->rq.frag_commit.in_place = CFS_INPLACE_OPEN_COMMITTED;
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_EINVAL); /* no lease */
	t->rq.frag_commit.lease_epoch = e;
	t->rq.frag_commit.crc = 0x1234; /* not the committed crc */
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_ESTALE);
	commit_prep(t, 0, v, 100, 3, 100);
	t->rq.frag_commit.in_place = CFS_INPLACE_OPEN_COMMITTED;
	t->rq.frag_commit.lease_epoch = e;
	t->rq.frag_commit.nodes[2] = 4; /* holds no copy */
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_ESTALE);
	assert_int_equal(patch_epoch(t, 0), 0);
	commit_prep(t, 0, v, 100, 3, 100);
	t->rq.frag_commit.in_place = CFS_INPLACE_OPEN_COMMITTED;
	t->rq.frag_commit.lease_epoch = e;
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
	assert_int_equal(patch_epoch(t, 0), (int64_t)e);
	assert_int_equal(count(t, "SELECT count(*) FROM replicas"), files);
	assert_int_equal(count(t, "SELECT version FROM fragments"), (int64_t)v);
	/* open already: the holder seals first */
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_EBUSY);
}

/* A fragment cut by a truncation (its copies longer than its length) is
 * not opened as it is: a patch would name the wrong length. */
static void
test_open_committed_refuses_a_cut_fragment(void **state)
{
	struct t *t = *state;
	uint64_t v = write_frag(t, 0, 100);
	uint64_t e = grant_write(t, 500);

	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.setattr.cred = alice;
	t->rq.setattr.ino = t->ino;
	t->rq.setattr.valid = CFS_SETATTR_SIZE;
	t->rq.setattr.size = 60;
	assert_int_equal(run_ns(t, WIRE_T_setattr), 0);
	commit_prep(t, 0, v, 60, 3, 60);
	t->rq.frag_commit.in_place = CFS_INPLACE_OPEN_COMMITTED;
	t->rq.frag_commit.lease_epoch = e;
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_ESTALE);
	assert_int_equal(patch_epoch(t, 0), 0);
}

static void
test_recall_needy_open_fragment(void **state)
{
	struct t *t = *state;
	uint64_t e = grant_write(t, 500);
	unsigned n = 99;

	write_open(t, 0, 3, 100, e);
	dmap_set_recall(t->d, on_recall, NULL);
	recalls = 0;
	assert_int_equal(dmap_recall_needy(t->d, 16, &n, t->errmsg), 0);
	assert_int_equal(n, 0);
	assert_int_equal(recalls, 0);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.node_state.id = 2;
	t->rq.node_state.state = CFS_NODE_DEAD;
	assert_int_equal(run(t, WIRE_T_node_state), 0);
	assert_int_equal(dmap_recall_needy(t->d, 16, &n, t->errmsg), 0);
	assert_int_equal(n, 1);
	assert_int_equal(recalls, 1);
	assert_int_equal(recalled_holder, HOLDER);
	assert_int_equal(recalled_ino, t->ino);
	/* alive again, but draining */
	t->rq.node_state.state = CFS_NODE_ALIVE;
	t->rq.node_state.draining = 1;
	assert_int_equal(run(t, WIRE_T_node_state), 0);
	assert_int_equal(dmap_recall_needy(t->d, 16, &n, t->errmsg), 0);
	assert_int_equal(n, 1);
	release(t);
	assert_int_equal(dmap_recall_needy(t->d, 16, &n, t->errmsg), 0);
	assert_int_equal(n, 0);
	assert_int_equal(recalls, 2);
	dmap_set_recall(t->d, NULL, NULL);
}


/* A truncation that cuts an open fragment is refused; one that drops it
 * whole drops it. */
static void
test_truncate_open_fragment(void **state)
{
	struct t *t = *state;
	uint64_t e = grant_write(t, 500);

	write_frag(t, 0, FSZ);
	write_open(t, 1, 3, 100, e);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.setattr.cred = alice;
	t->rq.setattr.ino = t->ino;
	t->rq.setattr.valid = CFS_SETATTR_SIZE;
	t->rq.setattr.size = FSZ + 50;
	assert_int_equal(run_ns(t, WIRE_T_setattr), CFS_EBUSY);
	assert_non_null(strstr(t->errmsg, "fragment 1"));
	/* the lease gone, the leader's seal is awaited: retried */
	release(t);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.setattr.cred = alice;
	t->rq.setattr.ino = t->ino;
	t->rq.setattr.valid = CFS_SETATTR_SIZE;
	t->rq.setattr.size = FSZ + 50;
	assert_int_equal(run_ns(t, WIRE_T_setattr), CFS_LEASE_BUSY);
	assert_non_null(strstr(t->errmsg, "being sealed"));
	/* growing it, or cutting at its end, cuts nothing */
	t->rq.setattr.size = FSZ + 100;
	assert_int_equal(run_ns(t, WIRE_T_setattr), 0);
	t->rq.setattr.size = FSZ + 200;
	assert_int_equal(run_ns(t, WIRE_T_setattr), 0);
	t->rq.setattr.size = FSZ;
	assert_int_equal(run_ns(t, WIRE_T_setattr), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM fragments"), 1);
	assert_int_equal(count(t, "SELECT count(*) FROM fragments WHERE "
			       "patch_epoch != 0"), 0);
}

static int
count_cb(void *arg, const struct dmap_frag *f)
{
	(void)f;
	(*(unsigned *)arg)++;
	return 0;
}

/* Repair copies, drops and moves leave an open fragment alone; it still
 * counts under goal. */
static void
test_repair_queries_skip_open_fragments(void **state)
{
	struct t *t = *state;
	uint64_t e = grant_write(t, 500);
	unsigned under = 0, over = 0, movable = 0;
	struct dmap_counts c;

	uint64_t v0 = write_open(t, 0, 2, 100, e); /* under its goal of 3 */
	uint64_t v1 = write_open(t, 1, 4, 100, e); /* over it */
	write_open(t, 2, 3, 100, e);		   /* movable from 1 to 4 */
	assert_int_equal(dmap_under_goal(t->d, 16, count_cb, &under,
					 t->errmsg), 0);
	assert_int_equal(dmap_over_goal(t->d, 16, count_cb, &over, t->errmsg),
			 0);
	assert_int_equal(dmap_movable(t->d, 1, 4, 16, count_cb, &movable,
				      t->errmsg), 0);
	assert_int_equal(under + over + movable, 0);
	assert_int_equal(dmap_count(t->d, &c, t->errmsg), 0);
	assert_int_equal(c.under_goal, 1);
	/* sealed, they are repair's again */
	seal_prep(t, 0, v0, 100, 2, e);
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
	seal_prep(t, 1, v1, 100, 4, e);
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
	assert_int_equal(dmap_under_goal(t->d, 16, count_cb, &under,
					 t->errmsg), 0);
	assert_int_equal(dmap_over_goal(t->d, 16, count_cb, &over, t->errmsg),
			 0);
	assert_int_equal(under, 1);
	assert_int_equal(over, 1);
}

struct unsealed {
	unsigned n;
	struct dmap_open_frag f;
};

static int
unsealed_cb(void *arg, const struct dmap_open_frag *f)
{
	struct unsealed *u = arg;
	u->n++;
	u->f = *f;
	return 0;
}

/* dmap_unsealed lists the open fragments whose lease ended, with the
 * nodes (and addresses) of their ok replicas. */
static void
test_unsealed_lists_open_fragments_without_lease(void **state)
{
	struct t *t = *state;
	uint64_t e = grant_write(t, 500);
	struct unsealed u = {0};

	write_frag(t, 0, 100);
	uint64_t v = write_open(t, 1, 3, 100, e);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.replica_bad.r = (struct wire_replica){
		.ino = t->ino, .idx = 1, .version = v, .node = 2};
	assert_int_equal(run(t, WIRE_T_replica_bad), 0);
	assert_int_equal(dmap_unsealed(t->d, 16, unsealed_cb, &u, t->errmsg),
			 0);
	assert_int_equal(u.n, 0); /* its lease lives: the holder seals */
	release(t);
	assert_int_equal(dmap_unsealed(t->d, 16, unsealed_cb, &u, t->errmsg),
			 0);
	assert_int_equal(u.n, 1);
	assert_int_equal(u.f.ino, t->ino);
	assert_int_equal(u.f.idx, 1);
	assert_int_equal(u.f.version, v);
	assert_int_equal(u.f.epoch, e);
	assert_int_equal(u.f.length, 100);
	assert_int_equal(u.f.n, 2);
	assert_int_equal(u.f.nodes[0].id, 1);
	assert_string_equal(u.f.nodes[0].addr, "127.0.0.1:7201");
	assert_int_equal(u.f.nodes[1].id, 3);
	assert_string_equal(u.f.nodes[1].addr, "127.0.0.1:7203");
	/* a new lease of the same mount is another epoch: still unsealed */
	grant_write(t, 600);
	u.n = 0;
	assert_int_equal(dmap_unsealed(t->d, 16, unsealed_cb, &u, t->errmsg),
			 0);
	assert_int_equal(u.n, 1);
}

/* The leader's frag_seal: a no-op unless the version is still open under
 * its epoch; otherwise as a holder's seal, but the size stays. */
static void
test_frag_seal_by_the_leader(void **state)
{
	struct t *t = *state;
	uint64_t e = grant_write(t, 500);
	uint64_t v = write_open(t, 0, 3, 100, e);

	release(t);
	assert_true(dmap_is_mutation(WIRE_T_frag_seal));
	assert_false(dmap_needs_session(WIRE_T_frag_seal));
	memset(&t->rq, 0, sizeof(t->rq));
	struct wire_frag_seal *fs = &t->rq.frag_seal;
	*fs = (struct wire_frag_seal){.ino = t->ino, .idx = 0, .version = v,
				      .epoch = e + 1, .length = 100,
				      .crc = 0xbeef, .nodes = {3, 1},
				      .nodes_count = 2};
	assert_int_equal(run(t, WIRE_T_frag_seal), 0); /* another epoch */
	assert_int_equal(t->rt, WIRE_T_ok);
	assert_int_equal(patch_epoch(t, 0), (int64_t)e);
	fs->epoch = e;
	fs->version = v + 1;
	assert_int_equal(run(t, WIRE_T_frag_seal), 0); /* another version */
	assert_int_equal(patch_epoch(t, 0), (int64_t)e);
	fs->version = v;
	fs->length = 50;
	assert_int_equal(run(t, WIRE_T_frag_seal), CFS_EINVAL);
	fs->length = 100;
	fs->nodes[1] = 4;
	assert_int_equal(run(t, WIRE_T_frag_seal), CFS_EINVAL);
	fs->nodes[1] = 1;
	assert_int_equal(run(t, WIRE_T_frag_seal), 0);
	assert_int_equal(patch_epoch(t, 0), 0);
	assert_int_equal(count(t, "SELECT crc FROM fragments"), 0xbeef);
	assert_int_equal(replica_state(t, v, 1), DMAP_OK);
	assert_int_equal(replica_state(t, v, 2), DMAP_BAD);
	assert_int_equal(replica_state(t, v, 3), DMAP_OK);
	assert_int_equal(count(t, "SELECT size FROM inodes WHERE ino != 1"),
			 100);
	/* proposed twice: the second changes nothing */
	fs->crc = 1;
	assert_int_equal(run(t, WIRE_T_frag_seal), 0);
	assert_int_equal(count(t, "SELECT crc FROM fragments"), 0xbeef);
	assert_int_equal(open_frag(t, 0, 3), 0);
}

/* A database from before patching in place: dmap_open adds the column,
 * old fragments are not open. */
static void
test_open_migrates_a_database_without_patch_epoch(void **state)
{
	struct t *t = *state;
	static const char old[] =
		"DROP TABLE fragments;"
		"CREATE TABLE fragments (ino INTEGER NOT NULL, idx INTEGER NOT "
		"NULL, version INTEGER NOT NULL, length INTEGER NOT NULL, crc "
		"INTEGER NOT NULL, stored INTEGER NOT NULL, PRIMARY KEY (ino, "
		"idx)) WITHOUT ROWID;"
		"INSERT INTO fragments VALUES (999, 0, 1, 10, 5, 10);";

	dmap_close(&t->d);
	assert_int_equal(sqlite3_exec(t->db, old, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(dmap_open(&t->d, t->db, t->ns, t->errmsg), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM fragments WHERE "
			       "patch_epoch = 0"), 1);
	uint64_t e = grant_write(t, 500);
	write_open(t, 0, 3, 100, e);
	assert_int_equal(patch_epoch(t, 0), (int64_t)e);
	dmap_close(&t->d);
	assert_int_equal(dmap_open(&t->d, t->db, t->ns, t->errmsg), 0);
	assert_int_equal(patch_epoch(t, 0), (int64_t)e);
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
		T(test_inplace_open_records_the_lease),
		T(test_inplace_seal),
		T(test_open_fragment_takes_no_new_version),
		T(test_locate_open_fragment),
		T(test_recall_needy_open_fragment),
		T(test_open_committed),
		T(test_open_committed_refuses_a_cut_fragment),
		T(test_truncate_open_fragment),
		T(test_repair_queries_skip_open_fragments),
		T(test_unsealed_lists_open_fragments_without_lease),
		T(test_frag_seal_by_the_leader),
		T(test_open_migrates_a_database_without_patch_epoch),
		T(test_database_errors_are_not_answers),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
