/* test_lease.c - client leases: the conflict rules, the leases table (grants, recalls, releases, sessions, inodes) and the leader's recall book. */
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
#include "meta/lease.h"
#include "meta/recall.h"

#define R CFS_LEASE_READ
#define W CFS_LEASE_WRITE

/* ---- the rules ----------------------------------------------------------- */

/* Readers share; a writer excludes every other holder; a holder never
 * conflicts with itself; a mutation conflicts with any other holder. */
static void
test_lease_readers_share_writers_exclude(void **state)
{
	(void)state;
	struct lease_row r = {.ino = 5, .holder = 1, .type = R};
	struct lease_row w = {.ino = 5, .holder = 1, .type = W};
	assert_false(lease_conflicts(&r, 2, R));
	assert_true(lease_conflicts(&r, 2, W));
	assert_true(lease_conflicts(&w, 2, R));
	assert_true(lease_conflicts(&w, 2, W));
	assert_false(lease_conflicts(&w, 1, W));
	assert_true(lease_conflicts(&r, 2, 0));
	assert_false(lease_conflicts(&r, 1, 0));
}

/* Mutations name the inodes whose cached state they change. */
static void
test_lease_targets_of_mutations(void **state)
{
	(void)state;
	union wire_body b;
	uint64_t inos[4];
	memset(&b, 0, sizeof(b));
	b.setattr.ino = 7;
	assert_int_equal(lease_targets(WIRE_T_setattr, &b, inos), 1);
	assert_int_equal(inos[0], 7);
	b.frag_commit.ino = 8;
	assert_int_equal(lease_targets(WIRE_T_frag_commit, &b, inos), 1);
	assert_int_equal(inos[0], 8);
	memset(&b, 0, sizeof(b));
	b.rename.parent = 3;
	b.rename.newparent = 4;
	assert_int_equal(lease_targets(WIRE_T_rename, &b, inos), 2);
	b.rename.newparent = 3;
	assert_int_equal(lease_targets(WIRE_T_rename, &b, inos), 1);
	assert_int_equal(lease_targets(WIRE_T_getattr, &b, inos), 0);
	assert_int_equal(lease_targets(WIRE_T_lookup, &b, inos), 0);
}

/* ---- the table ----------------------------------------------------------- */

struct t {
	sqlite3 *db;
	struct leaset *l;
	union wire_body rq, out;
	uint16_t rt;
	char errmsg[CFS_ERRMSG_SIZE];
	uint64_t index;
	/* recalls told */
	uint64_t rholder[8], rino[8];
	unsigned nrecall;
};

static void
recall_cb(void *data, uint64_t holder, uint64_t session, uint64_t ino)
{
	struct t *t = data;
	(void)session;
	if (t->nrecall < 8) {
		t->rholder[t->nrecall] = holder;
		t->rino[t->nrecall] = ino;
	}
	t->nrecall++;
}

static int
setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	char sql[256];

	assert_int_equal(sqlite3_open(":memory:", &t->db), SQLITE_OK);
	/* the columns of `inodes` and `dentries` the trigger and checks use:
	 * 1 is a directory holding 5 ("a") and 6 ("b"), both files */
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE inodes (ino INTEGER PRIMARY KEY, mode INTEGER);"
		 "INSERT INTO inodes VALUES (1, %d), (5, %d), (6, %d);"
		 "CREATE TABLE dentries (parent INTEGER, name TEXT, ino "
		 "INTEGER);"
		 "INSERT INTO dentries VALUES (1, 'a', 5), (1, 'b', 6);",
		 S_IFDIR | 0755, S_IFREG | 0644, S_IFREG | 0644);
	assert_int_equal(sqlite3_exec(t->db, sql, NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(lease_open(&t->l, t->db, t->errmsg), 0);
	t->index = 100;
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct t *t = *state;
	lease_close(&t->l);
	assert_null(t->l);
	sqlite3_close(t->db);
	free(t);
	return 0;
}

static struct lease_ctx
ctx(struct t *t, uint64_t client)
{
	return (struct lease_ctx){.client_id = client,
				  .index = ++t->index,
				  .recall = recall_cb,
				  .recall_data = t};
}

/* lease_get by session @client; returns the status. */
static int
get(struct t *t, uint64_t client, uint64_t ino, int type)
{
	struct lease_ctx c = ctx(t, client);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.lease_get = (struct wire_lease_get){.ino = ino,
						  .type = (uint8_t)type};
	return lease_exec(t->l, &c, WIRE_T_lease_get, &t->rq, &t->rt,
			  &t->out, t->errmsg);
}

static int
release(struct t *t, uint64_t client, uint64_t ino, uint64_t epoch)
{
	struct lease_ctx c = ctx(t, client);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.lease_release =
		(struct wire_lease_release){.ino = ino, .epoch = epoch};
	return lease_exec(t->l, &c, WIRE_T_lease_release, &t->rq, &t->rt,
			  &t->out, t->errmsg);
}

static int
check(struct t *t, uint64_t client, uint16_t type, union wire_body *b)
{
	struct lease_ctx c = ctx(t, client);
	return lease_check(t->l, &c, type, b, t->errmsg);
}

static int
setattr_check(struct t *t, uint64_t client, uint64_t ino)
{
	union wire_body b;
	memset(&b, 0, sizeof(b));
	b.setattr.ino = ino;
	return check(t, client, WIRE_T_setattr, &b);
}

static int64_t
rows(struct t *t)
{
	sqlite3_stmt *s;
	int64_t n = -1;
	sqlite3_prepare_v2(t->db, "SELECT count(*) FROM leases", -1, &s, NULL);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* A grant carries the entry's index as its epoch; asking again for the
 * same or a weaker type answers the same grant. */
static void
test_lease_grant_has_epoch_of_its_entry(void **state)
{
	struct t *t = *state;
	assert_int_equal(get(t, 1, 5, R), 0);
	assert_int_equal(t->rt, WIRE_T_lease_granted);
	assert_int_equal(t->out.lease_granted.type, R);
	uint64_t e = t->out.lease_granted.epoch;
	assert_int_equal(e, t->index);
	assert_int_equal(get(t, 1, 5, R), 0);
	assert_int_equal(t->out.lease_granted.epoch, e);
	assert_int_equal(get(t, 1, 5, W), 0); /* upgrade: a new epoch */
	assert_int_equal(t->out.lease_granted.type, W);
	assert_int_equal(t->out.lease_granted.epoch, t->index);
	assert_int_equal(get(t, 1, 5, R), 0); /* W covers R */
	assert_int_equal(t->out.lease_granted.type, W);
	assert_int_equal(rows(t), 1);
}

/* Two readers share; a writer is refused with LEASE_BUSY, nothing
 * changes, and every reader in the way is recalled. */
static void
test_lease_conflict_is_busy_and_recalls(void **state)
{
	struct t *t = *state;
	assert_int_equal(get(t, 1, 5, R), 0);
	assert_int_equal(get(t, 2, 5, R), 0);
	assert_int_equal(t->nrecall, 0);
	assert_int_equal(get(t, 3, 5, W), CFS_LEASE_BUSY);
	assert_int_equal(t->nrecall, 2);
	assert_int_equal(t->rholder[0], 1);
	assert_int_equal(t->rholder[1], 2);
	assert_int_equal(t->rino[0], 5);
	assert_int_equal(rows(t), 2);
	/* a writer keeps readers out too */
	assert_int_equal(get(t, 4, 6, W), 0);
	assert_int_equal(get(t, 1, 6, R), CFS_LEASE_BUSY);
	assert_int_equal(t->rholder[2], 4);
}

/* A release names its epoch: a stale one (an older grant) drops nothing;
 * epoch 0 drops whatever the holder has. */
static void
test_lease_release_with_old_epoch_keeps_newer_grant(void **state)
{
	struct t *t = *state;
	assert_int_equal(get(t, 1, 5, R), 0);
	uint64_t old = t->out.lease_granted.epoch;
	assert_int_equal(get(t, 1, 5, W), 0);
	uint64_t cur = t->out.lease_granted.epoch;
	assert_true(cur > old);
	assert_int_equal(release(t, 1, 5, old), 0);
	assert_int_equal(rows(t), 1);
	assert_int_equal(release(t, 1, 5, cur), 0);
	assert_int_equal(rows(t), 0);
	assert_int_equal(get(t, 1, 5, R), 0);
	assert_int_equal(release(t, 1, 5, 0), 0);
	assert_int_equal(rows(t), 0);
	assert_int_equal(release(t, 1, 5, 0), 0); /* nothing: still ok */
	assert_int_equal(get(t, 2, 5, W), 0);
}

/* Sessions of one mount name one owner: the mount's leases never stand in
 * its own way, whichever session asks; other mounts are refused. */
static void
test_lease_sessions_of_one_owner_share_leases(void **state)
{
	struct t *t = *state;
	assert_int_equal(lease_session_opened(t->l, 11, 10, t->errmsg), 0);
	assert_int_equal(lease_session_opened(t->l, 12, 10, t->errmsg), 0);
	assert_int_equal(get(t, 11, 5, W), 0);
	assert_int_equal(get(t, 12, 5, W), 0);
	assert_int_equal(setattr_check(t, 12, 5), 0);
	assert_int_equal(setattr_check(t, 10, 5), 0); /* the owner itself */
	assert_int_equal(setattr_check(t, 20, 5), CFS_LEASE_BUSY);
	assert_int_equal(t->rholder[0], 10);
	assert_int_equal(rows(t), 1);
}

/* A closed or expired session's leases go (others stay), and with them
 * its owner row. */
static void
test_lease_session_death_frees_its_leases(void **state)
{
	struct t *t = *state;
	assert_int_equal(lease_session_opened(t->l, 11, 10, t->errmsg), 0);
	assert_int_equal(get(t, 11, 5, W), 0);
	assert_int_equal(get(t, 2, 6, W), 0);
	assert_int_equal(get(t, 3, 5, R), CFS_LEASE_BUSY);
	assert_int_equal(lease_drop_session(t->l, 11, t->errmsg), 0);
	assert_int_equal(rows(t), 1);
	assert_int_equal(get(t, 3, 5, R), 0);
	/* session 11 is now its own owner again */
	assert_int_equal(get(t, 11, 6, R), CFS_LEASE_BUSY);
	assert_int_equal(t->rholder[t->nrecall - 1], 2);
}

/* Deleting an inode drops its leases; leasing a missing inode is ENOENT;
 * write leases are for files only; bad types are EINVAL. */
static void
test_lease_inode_delete_drops_leases(void **state)
{
	struct t *t = *state;
	assert_int_equal(get(t, 1, 5, W), 0);
	assert_int_equal(get(t, 1, 6, W), 0);
	assert_int_equal(sqlite3_exec(t->db, "DELETE FROM inodes WHERE ino = 5",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(rows(t), 1);
	assert_int_equal(get(t, 1, 5, R), CFS_ENOENT);
	assert_int_equal(get(t, 1, 1, W), CFS_EINVAL);
	assert_int_equal(get(t, 1, 1, R), 0); /* a directory: read only */
	assert_int_equal(get(t, 1, 6, 3), CFS_EINVAL);
}

/* Changes to a directory's entries wait for other mounts' leases on the
 * directory, and an unlink or rename also for those on its victims. */
static void
test_lease_check_covers_directories_and_victims(void **state)
{
	struct t *t = *state;
	union wire_body b;

	memset(&b, 0, sizeof(b));
	b.mknod.parent = 1;
	snprintf(b.mknod.name, sizeof(b.mknod.name), "c");
	assert_int_equal(check(t, 2, WIRE_T_mknod, &b), 0);
	assert_int_equal(get(t, 1, 1, R), 0);
	assert_int_equal(check(t, 1, WIRE_T_mknod, &b), 0); /* its own */
	assert_int_equal(check(t, 2, WIRE_T_mknod, &b), CFS_LEASE_BUSY);
	assert_int_equal(release(t, 1, 1, 0), 0);
	/* the victim of an unlink */
	assert_int_equal(get(t, 3, 6, R), 0);
	memset(&b, 0, sizeof(b));
	b.unlink.parent = 1;
	snprintf(b.unlink.name, sizeof(b.unlink.name), "a");
	assert_int_equal(check(t, 2, WIRE_T_unlink, &b), 0);
	snprintf(b.unlink.name, sizeof(b.unlink.name), "b");
	t->nrecall = 0;
	assert_int_equal(check(t, 2, WIRE_T_unlink, &b), CFS_LEASE_BUSY);
	assert_int_equal(t->nrecall, 1);
	assert_int_equal(t->rino[0], 6);
	/* the replaced target of a rename */
	memset(&b, 0, sizeof(b));
	b.rename.parent = 1;
	b.rename.newparent = 1;
	snprintf(b.rename.name, sizeof(b.rename.name), "a");
	snprintf(b.rename.newname, sizeof(b.rename.newname), "b");
	assert_int_equal(check(t, 2, WIRE_T_rename, &b), CFS_LEASE_BUSY);
	assert_int_equal(check(t, 3, WIRE_T_rename, &b), 0);
}

/* Fencing (DESIGN.md §4): a frag_open or frag_commit naming a write lease
 * passes only while its holder still holds that grant.  Once the session
 * that got it expired, or the grant was released or replaced, it is
 * FENCED, and before any conflict check: the new holder is not recalled
 * for it.  Epoch 0 (no lease) is checked for conflicts only, as before. */
static void
test_lease_write_under_lost_lease_is_fenced(void **state)
{
	struct t *t = *state;
	union wire_body open, commit;

	assert_int_equal(lease_session_opened(t->l, 11, 10, t->errmsg), 0);
	assert_int_equal(get(t, 11, 5, W), 0);
	uint64_t e = t->out.lease_granted.epoch;
	memset(&open, 0, sizeof(open));
	open.frag_open.ino = 5;
	open.frag_open.lease_epoch = e;
	memset(&commit, 0, sizeof(commit));
	commit.frag_commit.ino = 5;
	commit.frag_commit.lease_epoch = e;
	/* held: any session of the owner may write under it */
	assert_int_equal(check(t, 11, WIRE_T_frag_open, &open), 0);
	assert_int_equal(check(t, 10, WIRE_T_frag_commit, &commit), 0);
	/* another grant's epoch, or another holder's, is not this one */
	open.frag_open.lease_epoch = e + 1;
	assert_int_equal(check(t, 11, WIRE_T_frag_open, &open), CFS_FENCED);
	assert_non_null(strstr(t->errmsg, "inode 5"));
	open.frag_open.lease_epoch = e;
	assert_int_equal(check(t, 2, WIRE_T_frag_open, &open), CFS_FENCED);
	/* the session expires; another mount takes the file over */
	assert_int_equal(lease_drop_session(t->l, 11, t->errmsg), 0);
	assert_int_equal(get(t, 2, 5, W), 0);
	t->nrecall = 0;
	assert_int_equal(check(t, 10, WIRE_T_frag_open, &open), CFS_FENCED);
	assert_int_equal(check(t, 10, WIRE_T_frag_commit, &commit),
			 CFS_FENCED);
	assert_int_equal(t->nrecall, 0);
	/* without a lease: the new holder is in the way, and recalled */
	commit.frag_commit.lease_epoch = 0;
	assert_int_equal(check(t, 10, WIRE_T_frag_commit, &commit),
			 CFS_LEASE_BUSY);
	assert_int_equal(t->nrecall, 1);
	/* released, then written under the released grant: fenced too */
	uint64_t e2 = t->out.lease_granted.epoch;
	assert_int_equal(release(t, 2, 5, e2), 0);
	commit.frag_commit.lease_epoch = e2;
	assert_int_equal(check(t, 2, WIRE_T_frag_commit, &commit),
			 CFS_FENCED);
	commit.frag_commit.lease_epoch = 0;
	assert_int_equal(check(t, 2, WIRE_T_frag_commit, &commit), 0);
}

/* mknod with CFS_MKNOD_LEASE grants the creator a write lease, unless
 * another mount holds one on the (existing) file; a new directory comes
 * with a read lease. */
static void
test_lease_create_grants_write_lease(void **state)
{
	struct t *t = *state;
	union wire_body rq, out;
	struct lease_ctx c = ctx(t, 1);

	memset(&rq, 0, sizeof(rq));
	memset(&out, 0, sizeof(out));
	rq.mknod.parent = 1;
	rq.mknod.flags = CFS_MKNOD_LEASE;
	out.entry.attr.ino = 5;
	out.entry.attr.mode = S_IFREG | 0644;
	assert_int_equal(lease_after(t->l, &c, WIRE_T_mknod, &rq, &out,
				     t->errmsg),
			 0);
	assert_int_equal(out.entry.lease, W);
	assert_int_equal(out.entry.lease_epoch, c.index);
	assert_int_equal(rows(t), 1);
	/* the same mount's create of it again (no O_EXCL): the grant it
	 * holds, whose epoch its buffered data may be written under */
	uint64_t first = c.index;
	memset(&out.entry, 0, sizeof(out.entry));
	out.entry.attr.ino = 5;
	out.entry.attr.mode = S_IFREG | 0644;
	c = ctx(t, 1);
	assert_int_equal(lease_after(t->l, &c, WIRE_T_mknod, &rq, &out,
				     t->errmsg),
			 0);
	assert_int_equal(out.entry.lease, W);
	assert_int_equal(out.entry.lease_epoch, first);
	assert_true(c.index != first);
	assert_int_equal(rows(t), 1);
	/* another mount's create of the same (now existing) file */
	memset(&out.entry, 0, sizeof(out.entry));
	out.entry.attr.ino = 5;
	out.entry.attr.mode = S_IFREG | 0644;
	c = ctx(t, 2);
	assert_int_equal(lease_after(t->l, &c, WIRE_T_mknod, &rq, &out,
				     t->errmsg),
			 0);
	assert_int_equal(out.entry.lease, 0);
	/* a directory: a read lease, beside other mounts' read leases */
	assert_int_equal(get(t, 3, 1, R), 0);
	memset(&out.entry, 0, sizeof(out.entry));
	out.entry.attr.ino = 1;
	out.entry.attr.mode = S_IFDIR | 0755;
	c = ctx(t, 2);
	assert_int_equal(lease_after(t->l, &c, WIRE_T_mknod, &rq, &out,
				     t->errmsg),
			 0);
	assert_int_equal(out.entry.lease, R);
	assert_int_equal(rows(t), 3);
	/* without the flag: nothing */
	rq.mknod.flags = 0;
	memset(&out.entry, 0, sizeof(out.entry));
	out.entry.attr.ino = 6;
	out.entry.attr.mode = S_IFREG | 0644;
	assert_int_equal(lease_after(t->l, &c, WIRE_T_mknod, &rq, &out,
				     t->errmsg),
			 0);
	assert_int_equal(out.entry.lease, 0);
	assert_int_equal(rows(t), 3);
}

/* mkdir with CFS_MKNOD_DIRWRITE: a write lease on the new directory, for
 * its creator's mount; @client's session; returns the epoch. */
static uint64_t
mkdir_dirwrite(struct t *t, uint64_t client, uint64_t dir)
{
	union wire_body rq, out;
	struct lease_ctx c = ctx(t, client);

	memset(&rq, 0, sizeof(rq));
	memset(&out, 0, sizeof(out));
	rq.mknod.parent = 1;
	rq.mknod.flags = CFS_MKNOD_LEASE | CFS_MKNOD_DIRWRITE;
	out.entry.attr.ino = dir;
	out.entry.attr.mode = S_IFDIR | 0755;
	assert_int_equal(lease_after(t->l, &c, WIRE_T_mknod, &rq, &out,
				     t->errmsg),
			 0);
	assert_int_equal(out.entry.lease, W);
	return out.entry.lease_epoch;
}

/* ino_reserve of @count numbers from @first for session @client. */
static void
reserve(struct t *t, uint64_t client, uint64_t first, uint32_t count)
{
	struct lease_ctx c = ctx(t, client);
	memset(&t->rq, 0, sizeof(t->rq));
	memset(&t->out, 0, sizeof(t->out));
	t->rq.ino_reserve.count = count;
	t->out.ino_reserved.first = first; /* (ns_ino_reserve's part) */
	t->out.ino_reserved.count = count;
	assert_int_equal(lease_exec(t->l, &c, WIRE_T_ino_reserve, &t->rq,
				    &t->rt, &t->out, t->errmsg),
			 0);
	assert_int_equal(t->rt, WIRE_T_ino_reserved);
}

/* A create answered ahead (docs/leases.md): its mknod names a number
 * reserved for the mount, and the mount's write lease on the directory;
 * anything else is FENCED, and recalls nobody. */
static void
test_lease_create_ahead_needs_its_reservation_and_lease(void **state)
{
	struct t *t = *state;
	union wire_body rq, out;

	assert_int_equal(lease_session_opened(t->l, 11, 10, t->errmsg), 0);
	uint64_t e = mkdir_dirwrite(t, 10, 1);
	reserve(t, 11, 100, 4);
	memset(&rq, 0, sizeof(rq));
	rq.mknod.parent = 1;
	rq.mknod.flags = CFS_MKNOD_EXCL | CFS_MKNOD_LEASE;
	rq.mknod.ino = 101;
	rq.mknod.lease_epoch = e;
	/* any session of the owner */
	assert_int_equal(check(t, 10, WIRE_T_mknod, &rq), 0);
	assert_int_equal(check(t, 11, WIRE_T_mknod, &rq), 0);
	/* another mount: neither the number nor the lease is its */
	t->nrecall = 0;
	assert_int_equal(check(t, 2, WIRE_T_mknod, &rq), CFS_FENCED);
	assert_non_null(strstr(t->errmsg, "inode 101"));
	assert_int_equal(t->nrecall, 0);
	/* a number without a directory lease */
	rq.mknod.lease_epoch = 0;
	assert_int_equal(check(t, 10, WIRE_T_mknod, &rq), CFS_EINVAL);
	rq.mknod.lease_epoch = e;
	/* a number never reserved; another grant's epoch */
	rq.mknod.ino = 200;
	assert_int_equal(check(t, 10, WIRE_T_mknod, &rq), CFS_FENCED);
	rq.mknod.ino = 101;
	rq.mknod.lease_epoch = e + 1;
	assert_int_equal(check(t, 10, WIRE_T_mknod, &rq), CFS_FENCED);
	rq.mknod.lease_epoch = e;
	/* used once: no longer reserved */
	struct lease_ctx c = ctx(t, 11);
	memset(&out, 0, sizeof(out));
	out.entry.attr.ino = 101;
	out.entry.attr.mode = S_IFREG | 0644;
	assert_int_equal(lease_after(t->l, &c, WIRE_T_mknod, &rq, &out,
				     t->errmsg),
			 0);
	assert_int_equal(out.entry.lease, W);
	assert_int_equal(check(t, 10, WIRE_T_mknod, &rq), CFS_FENCED);
	/* the reserving session ends: its numbers go with it */
	rq.mknod.ino = 102;
	assert_int_equal(check(t, 10, WIRE_T_mknod, &rq), 0);
	assert_int_equal(lease_drop_session(t->l, 11, t->errmsg), 0);
	assert_int_equal(check(t, 10, WIRE_T_mknod, &rq), CFS_FENCED);
	/* and the directory lease with the session that got it */
	reserve(t, 10, 300, 1);
	rq.mknod.ino = 300;
	assert_int_equal(check(t, 10, WIRE_T_mknod, &rq), 0);
	assert_int_equal(lease_drop_session(t->l, 10, t->errmsg), 0);
	assert_int_equal(lease_session_opened(t->l, 12, 10, t->errmsg), 0);
	reserve(t, 12, 301, 1);
	rq.mknod.ino = 301;
	assert_int_equal(check(t, 12, WIRE_T_mknod, &rq), CFS_FENCED);
	assert_non_null(strstr(t->errmsg, "no longer holds"));
}

/* Another mount's look into a directory under a write lease (lookup in
 * it, getattr, readdir) is refused busy and recalls the holder; the
 * holder's own are not, nor anyone's of a file under a write lease. */
static void
test_lease_directory_write_lease_holds_off_readers(void **state)
{
	struct t *t = *state;
	union wire_body rq;
	struct lease_ctx c;

	(void)mkdir_dirwrite(t, 10, 1);
	memset(&rq, 0, sizeof(rq));
	rq.lookup.parent = 1;
	c = ctx(t, 2);
	t->nrecall = 0;
	assert_int_equal(lease_read_check(t->l, &c, WIRE_T_lookup, &rq,
					  t->errmsg),
			 CFS_LEASE_BUSY);
	assert_int_equal(t->nrecall, 1);
	assert_int_equal(t->rholder[0], 10);
	assert_int_equal(t->rino[0], 1);
	memset(&rq, 0, sizeof(rq));
	rq.getattr.ino = 1;
	assert_int_equal(lease_read_check(t->l, &c, WIRE_T_getattr, &rq,
					  t->errmsg),
			 CFS_LEASE_BUSY);
	memset(&rq, 0, sizeof(rq));
	rq.readdir.ino = 1;
	assert_int_equal(lease_read_check(t->l, &c, WIRE_T_readdir, &rq,
					  t->errmsg),
			 CFS_LEASE_BUSY);
	/* the holder itself */
	c = ctx(t, 10);
	assert_int_equal(lease_read_check(t->l, &c, WIRE_T_readdir, &rq,
					  t->errmsg),
			 0);
	/* a file under another's write lease: getattr as before */
	assert_int_equal(get(t, 10, 5, W), 0);
	memset(&rq, 0, sizeof(rq));
	rq.getattr.ino = 5;
	c = ctx(t, 2);
	assert_int_equal(lease_read_check(t->l, &c, WIRE_T_getattr, &rq,
					  t->errmsg),
			 0);
	/* released: the directory is anyone's to read */
	assert_int_equal(release(t, 10, 1, 0), 0);
	memset(&rq, 0, sizeof(rq));
	rq.lookup.parent = 1;
	assert_int_equal(lease_read_check(t->l, &c, WIRE_T_lookup, &rq,
					  t->errmsg),
			 0);
}

/* lease_list pages through every lease in (ino, holder) order. */
static void
test_lease_list_pages_in_order(void **state)
{
	struct t *t = *state;
	assert_int_equal(get(t, 2, 6, R), 0);
	assert_int_equal(get(t, 1, 6, R), 0);
	assert_int_equal(get(t, 3, 5, W), 0);
	struct lease_ctx c = ctx(t, 0);
	memset(&t->rq, 0, sizeof(t->rq));
	assert_int_equal(lease_exec(t->l, &c, WIRE_T_lease_list, &t->rq,
				    &t->rt, &t->out, t->errmsg),
			 0);
	struct wire_lease_list_reply *r = &t->out.lease_list_reply;
	assert_int_equal(r->leases_count, 3);
	assert_int_equal(r->eof, 1);
	assert_int_equal(r->leases[0].ino, 5);
	assert_int_equal(r->leases[0].type, W);
	assert_int_equal(r->leases[1].holder, 1);
	assert_int_equal(r->leases[2].holder, 2);
	t->rq.lease_list.after_ino = 6;
	t->rq.lease_list.after_holder = 1;
	assert_int_equal(lease_exec(t->l, &c, WIRE_T_lease_list, &t->rq,
				    &t->rt, &t->out, t->errmsg),
			 0);
	assert_int_equal(r->leases_count, 1);
	assert_int_equal(r->leases[0].holder, 2);
}

static void
test_lease_mutations_are_get_and_release(void **state)
{
	(void)state;
	assert_true(lease_handles(WIRE_T_lease_list));
	assert_false(lease_is_mutation(WIRE_T_lease_list));
	assert_true(lease_is_mutation(WIRE_T_lease_get));
	assert_true(lease_is_mutation(WIRE_T_lease_release));
	assert_true(lease_is_mutation(WIRE_T_ino_reserve));
	assert_false(lease_handles(WIRE_T_lease_watch));
	assert_false(lease_handles(WIRE_T_getattr));
}

/* ---- the recall book ----------------------------------------------------- */

/* Notes are kept once per inode, taken oldest first, and a note wakes the
 * holder's parked watch. */
static void
test_recall_note_wakes_parked_watch(void **state)
{
	(void)state;
	struct recall_book *b = recall_new();
	int w1, w2;
	uint64_t inos[4];

	assert_null(recall_park(b, 7, &w1, 1000));
	assert_ptr_equal(recall_park(b, 7, &w2, 1000), &w1); /* replaced */
	assert_ptr_equal(recall_note(b, 7, 50), &w2);
	assert_null(recall_note(b, 7, 50));
	assert_null(recall_note(b, 7, 51));
	assert_null(recall_note(b, 8, 52));
	assert_int_equal(recall_pending(b, 7), 2);
	assert_int_equal(recall_take(b, 7, inos, 1), 1);
	assert_int_equal(inos[0], 50);
	assert_int_equal(recall_take(b, 7, inos, 4), 1);
	assert_int_equal(inos[0], 51);
	assert_int_equal(recall_take(b, 7, inos, 4), 0);
	assert_int_equal(recall_count(b), 1); /* holder 8 */
	recall_free(&b, NULL, NULL);
	assert_null(b);
}

/* A take for a holder that has only a watch parked, no notes yet (the
 * watch's own lease_watch, answered on time): nothing, and the watch
 * stays.  (Its memcpy from no notes at all was undefined behaviour:
 * UBSan stopped a metadata server there.) */
static void
test_recall_take_with_only_a_watch_parked(void **state)
{
	(void)state;
	struct recall_book *b = recall_new();
	int w;
	uint64_t inos[4];

	assert_null(recall_park(b, 9, &w, 1000));
	assert_int_equal(recall_take(b, 9, inos, 4), 0);
	assert_int_equal(recall_count(b), 1);
	assert_ptr_equal(recall_note(b, 9, 60), &w);
	assert_int_equal(recall_take(b, 9, inos, 4), 1);
	assert_int_equal(inos[0], 60);
	assert_int_equal(recall_count(b), 0);
	recall_free(&b, NULL, NULL);
}

static void
count_watch(void *watch, void *data)
{
	(void)watch;
	(*(int *)data)++;
}

/* A parked watch comes back once its time is up; freeing the book hands
 * back the rest. */
static void
test_recall_watch_times_out(void **state)
{
	(void)state;
	struct recall_book *b = recall_new();
	int w1, w2, n = 0;

	recall_park(b, 1, &w1, 100);
	recall_park(b, 2, &w2, 200);
	assert_null(recall_due(b, 99));
	assert_ptr_equal(recall_due(b, 150), &w1);
	assert_null(recall_due(b, 150));
	assert_int_equal(recall_count(b), 1);
	recall_free(&b, count_watch, &n);
	assert_int_equal(n, 1);
}

#define T(name) cmocka_unit_test(name)
#define TT(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_lease_readers_share_writers_exclude),
		T(test_recall_take_with_only_a_watch_parked),
		T(test_lease_targets_of_mutations),
		TT(test_lease_grant_has_epoch_of_its_entry),
		TT(test_lease_conflict_is_busy_and_recalls),
		TT(test_lease_release_with_old_epoch_keeps_newer_grant),
		TT(test_lease_sessions_of_one_owner_share_leases),
		TT(test_lease_session_death_frees_its_leases),
		TT(test_lease_inode_delete_drops_leases),
		TT(test_lease_check_covers_directories_and_victims),
		TT(test_lease_write_under_lost_lease_is_fenced),
		TT(test_lease_create_grants_write_lease),
		TT(test_lease_create_ahead_needs_its_reservation_and_lease),
		TT(test_lease_directory_write_lease_holds_off_readers),
		TT(test_lease_list_pages_in_order),
		T(test_lease_mutations_are_get_and_release),
		T(test_recall_note_wakes_parked_watch),
		T(test_recall_watch_times_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
