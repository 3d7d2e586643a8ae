/* test_dmap_inplace.c - the data map's patching in place (meta/dmap_inplace.c): opens and seals under a write lease, open fragments kept from other writers, readers, truncation and repair, recalls, the leader's seal. */
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

/* An open fragment a copy short is repaired only once sealed: the scan
 * recalls its holder (a node dead, a node draining), and nobody while the
 * fragment keeps its goal or once its lease is gone (then the leader
 * seals it itself). */
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
	uint64_t v1 = write_open(t, 1, 3, 100, e);
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
	/* growing it, or cutting at its end, cuts nothing, but the open
	 * fragment is the last: appends may have moved the file's end past
	 * any size asked, and the seal would raise the size over it */
	t->rq.setattr.size = FSZ + 100; /* (its size: no change) */
	assert_int_equal(run_ns(t, WIRE_T_setattr), 0);
	t->rq.setattr.size = FSZ + 200;
	assert_int_equal(run_ns(t, WIRE_T_setattr), CFS_LEASE_BUSY);
	assert_non_null(strstr(t->errmsg, "last fragment"));
	/* sealed (longer), the size follows it, then changes */
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.frag_seal = (struct wire_frag_seal){
	    .ino = t->ino, .idx = 1, .version = v1,
	    .epoch = e, .length = 300, .crc = 1, .nodes = {1, 2, 3},
	    .nodes_count = 3};
	assert_int_equal(run(t, WIRE_T_frag_seal), 0);
	assert_int_equal(count(t, "SELECT size FROM inodes WHERE ino != 1"),
			 FSZ + 300);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.setattr.cred = alice;
	t->rq.setattr.ino = t->ino;
	t->rq.setattr.valid = CFS_SETATTR_SIZE;
	t->rq.setattr.size = FSZ + 400;
	assert_int_equal(run_ns(t, WIRE_T_setattr), 0);
	t->rq.setattr.size = FSZ;
	assert_int_equal(run_ns(t, WIRE_T_setattr), 0);
	assert_int_equal(count(t, "SELECT count(*) FROM fragments"), 1);
	assert_int_equal(count(t, "SELECT count(*) FROM fragments WHERE "
			       "patch_epoch != 0"), 0);
}

/* While the holder's lease lives, its own growing truncation of a file
 * whose last fragment it holds open is EBUSY (it seals first: cfs-fuse
 * does, and asks again). */
static void
test_truncate_grows_a_file_with_an_open_end(void **state)
{
	struct t *t = *state;
	uint64_t e = grant_write(t, 500);

	write_open(t, 0, 3, 100, e);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.setattr.cred = alice;
	t->rq.setattr.ino = t->ino;
	t->rq.setattr.valid = CFS_SETATTR_SIZE;
	t->rq.setattr.size = 5000;
	assert_int_equal(run_ns(t, WIRE_T_setattr), CFS_EBUSY);
	assert_non_null(strstr(t->errmsg, "seal it first"));
	/* a file that goes on past its open fragment: nothing in the way */
	write_frag(t, 3, 10);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.setattr.cred = alice;
	t->rq.setattr.ino = t->ino;
	t->rq.setattr.valid = CFS_SETATTR_SIZE;
	t->rq.setattr.size = 5 * FSZ;
	assert_int_equal(run_ns(t, WIRE_T_setattr), 0);
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

static int64_t
frag_col(struct t *t, const char *col, uint64_t idx)
{
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT %s FROM fragments WHERE ino = "
		 "%llu AND idx = %llu", col, (unsigned long long)t->ino,
		 (unsigned long long)idx);
	return count(t, sql);
}

/* Appends in place make an open version longer: the holder's seal and
 * the leader's take the longer length (fragments.length and stored),
 * raise the file's size to the fragment's new end (the leader's too:
 * the holder's fsync'd appends must not be lost with its seal), and
 * refuse a length past the fragment size or shorter than committed. */
static void
test_seals_after_appends(void **state)
{
	struct t *t = *state;
	uint64_t e = grant_write(t, 500);
	uint64_t v0 = write_open(t, 0, 3, 100, e);

	seal_prep(t, 0, v0, FSZ + 1, 3, e);
	assert_int_equal(run(t, WIRE_T_frag_commit), CFS_EINVAL);
	assert_non_null(strstr(t->errmsg, "fragment size"));
	seal_prep(t, 0, v0, 4100, 3, e);
	assert_int_equal(run(t, WIRE_T_frag_commit), 0);
	assert_int_equal(t->out.entry.attr.size, 4100);
	assert_int_equal(frag_col(t, "length", 0), 4100);
	assert_int_equal(frag_col(t, "stored", 0), 4100);
	assert_int_equal(patch_epoch(t, 0), 0);

	/* the leader's, of fragment 1 after the holder's lease ended */
	uint64_t v1 = write_open(t, 1, 3, 200, e);
	release(t);
	memset(&t->rq, 0, sizeof(t->rq));
	struct wire_frag_seal *fs = &t->rq.frag_seal;
	*fs = (struct wire_frag_seal){.ino = t->ino, .idx = 1, .version = v1,
				      .epoch = e, .length = FSZ + 1,
				      .crc = 0xabc, .nodes = {1, 2, 3},
				      .nodes_count = 3};
	assert_int_equal(run(t, WIRE_T_frag_seal), CFS_EINVAL);
	fs->length = 199;
	assert_int_equal(run(t, WIRE_T_frag_seal), CFS_EINVAL);
	assert_int_equal(patch_epoch(t, 1), (int64_t)e);
	fs->length = 9000;
	assert_int_equal(run(t, WIRE_T_frag_seal), 0);
	assert_int_equal(patch_epoch(t, 1), 0);
	assert_int_equal(frag_col(t, "length", 1), 9000);
	assert_int_equal(frag_col(t, "stored", 1), 9000);
	assert_int_equal(frag_col(t, "crc", 1), 0xabc);
	assert_int_equal(count(t, "SELECT size FROM inodes WHERE ino != 1"),
			 FSZ + 9000);
}

/* dmap_size_refusal: a file whose last fragment is open tells its size
 * only to the lease's holder; anyone else waits (LEASE_BUSY, the holder
 * recalled when asked to), and after the lease ended everyone waits for
 * the leader's seal.  An open fragment before the file's end does not
 * hold the size back. */
static void
test_size_waits_for_the_seal_of_an_open_last_fragment(void **state)
{
	struct t *t = *state;
	uint64_t e = grant_write(t, 500);
	uint64_t v = write_open(t, 0, 3, 100, e);

	dmap_set_recall(t->d, on_recall, NULL);
	recalls = 0;
	assert_int_equal(dmap_size_refusal(t->d, t->ino, 100, HOLDER, 1,
					   t->errmsg),
			 0);
	assert_int_equal(dmap_size_refusal(t->d, t->ino, 100, HOLDER + 1, 0,
					   t->errmsg),
			 CFS_LEASE_BUSY);
	assert_int_equal(recalls, 0);
	assert_int_equal(dmap_size_refusal(t->d, t->ino, 100, HOLDER + 1, 1,
					   t->errmsg),
			 CFS_LEASE_BUSY);
	assert_non_null(strstr(t->errmsg, "recalled"));
	assert_int_equal(recalls, 1);
	assert_int_equal(recalled_holder, HOLDER);
	/* the file goes on past the open fragment: its size is known */
	assert_int_equal(dmap_size_refusal(t->d, t->ino, FSZ, HOLDER + 1, 1,
					   t->errmsg),
			 0);
	assert_int_equal(dmap_size_refusal(t->d, t->ino + 1, 100, HOLDER + 1,
					   1, t->errmsg),
			 0);
	release(t);
	assert_int_equal(dmap_size_refusal(t->d, t->ino, 100, HOLDER, 1,
					   t->errmsg),
			 CFS_LEASE_BUSY);
	assert_non_null(strstr(t->errmsg, "seal"));
	assert_int_equal(recalls, 1);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.frag_seal = (struct wire_frag_seal){
	    .ino = t->ino, .idx = 0, .version = v, .epoch = e,
	    .length = 5000, .crc = 1, .nodes = {1, 2, 3}, .nodes_count = 3};
	assert_int_equal(run(t, WIRE_T_frag_seal), 0);
	assert_int_equal(dmap_size_refusal(t->d, t->ino, 5000, HOLDER + 1, 1,
					   t->errmsg),
			 0);
	dmap_set_recall(t->d, NULL, NULL);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
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
		T(test_seals_after_appends),
		T(test_truncate_grows_a_file_with_an_open_end),
		T(test_size_waits_for_the_seal_of_an_open_last_fragment),
		T(test_open_migrates_a_database_without_patch_epoch),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
