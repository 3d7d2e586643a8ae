/* dmap_fx.h - the fixture and helpers the data map's unit tests share (test_dmap.c, test_dmap_inplace.c). */
#ifndef CFS_TESTS_DMAP_FX_H
#define CFS_TESTS_DMAP_FX_H

#include <sqlite3.h>
#include <stdint.h>

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

/* The credentials of root (uid 0) and of alice (uid 1000, gid 100). */
extern struct wire_cred root;
extern struct wire_cred alice;

/* Run t->rq as a namespace command (run_ns) or a data map command (run)
 * of type @type, the clock 1 us later; the status, reply in t->rt and
 * t->out. */
int run_ns(struct t *t, uint16_t type);
int run(struct t *t, uint16_t type);

/* Register the data node @uuid at @addr; returns its id. */
uint64_t reg(struct t *t, const char *uuid, const char *addr);

/* cmocka setup and teardown: *state is a struct t. */
int setup(void **state);
int teardown(void **state);

/* frag_open with @n placed nodes 1..n; returns the status, version in
 * t->out. */
int open_frag(struct t *t, uint64_t idx, unsigned n);

/* A frag_commit of @version on nodes 1..@n into t->rq, not run. */
void commit_prep(struct t *t, uint64_t idx, uint64_t version, uint64_t len,
		 unsigned n, uint64_t size);

/* The same, run; returns the status. */
int commit(struct t *t, uint64_t idx, uint64_t version, uint64_t len,
	   unsigned n, uint64_t size);

/* write fragment @idx on nodes 1..3 with @len bytes; returns its version */
uint64_t write_frag(struct t *t, uint64_t idx, uint64_t len);

/* The first column of the first row of @sql (-1 if it has none). */
int64_t count(struct t *t, const char *sql);

/* frag_locate of the file's first 8 fragments by alice, for reading or
 * (@for_write) for a write; returns the status. */
int locate(struct t *t, int for_write);

#endif /* CFS_TESTS_DMAP_FX_H */
