/* dmap_fx.c - the fixture and helpers the data map's unit tests share (test_dmap.c, test_dmap_inplace.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/unit/meta/dmap_fx.h"

struct wire_cred root = {.uid = 0, .gid = 0};
struct wire_cred alice = {.uid = 1000, .gid = 100};

int
run_ns(struct t *t, uint16_t type)
{
	t->env.now_ns += 1000;
	return ns_exec(t->ns, &t->env, type, &t->rq, &t->rt, &t->out,
		       t->errmsg);
}

int
run(struct t *t, uint16_t type)
{
	t->env.now_ns += 1000;
	return dmap_exec(t->d, &t->env, type, &t->rq, &t->rt, &t->out,
			 t->errmsg);
}

uint64_t
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

int
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

int
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
int
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
void
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

int
commit(struct t *t, uint64_t idx, uint64_t version, uint64_t len,
       unsigned n, uint64_t size)
{
	commit_prep(t, idx, version, len, n, size);
	return run(t, WIRE_T_frag_commit);
}

/* write fragment @idx on nodes 1..3 with @len bytes; returns its version */
uint64_t
write_frag(struct t *t, uint64_t idx, uint64_t len)
{
	assert_int_equal(open_frag(t, idx, 3), 0);
	uint64_t v = t->out.frag_opened.version;
	assert_int_equal(commit(t, idx, v, len, 3, idx * FSZ + len), 0);
	return v;
}

int64_t
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

int
locate(struct t *t, int for_write)
{
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.frag_locate.cred = alice;
	t->rq.frag_locate.ino = t->ino;
	t->rq.frag_locate.count = 8;
	t->rq.frag_locate.for_write = (uint8_t)for_write;
	return run(t, WIRE_T_frag_locate);
}
