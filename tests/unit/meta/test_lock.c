/* test_lock.c - advisory locks: conflicts, POSIX splitting and merging, flock upgrades, and the locks table (sessions, inodes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/wire.h"
#include "meta/lock.h"

#define EOF_ CFS_LOCK_EOF

/* A POSIX lock of holder (client 1, owner @o). */
static struct lock_range
px(uint64_t o, int type, int64_t start, int64_t end)
{
	return (struct lock_range){.client_id = 1, .owner = o,
				   .kind = CFS_LOCK_POSIX, .type = type,
				   .start = start, .end = end, .pid = 42};
}

static struct lock_range
fl(uint64_t client, uint64_t o, int type)
{
	return (struct lock_range){.client_id = client, .owner = o,
				   .kind = CFS_LOCK_FLOCK, .type = type,
				   .start = 0, .end = EOF_};
}

/* Apply @req to @mine (n of them) in place; returns the new count. */
static size_t
apply(struct lock_range *mine, size_t n, struct lock_range req)
{
	struct lock_range out[16];
	size_t k = lock_apply(mine, n, &req, out);
	assert_true(k <= n + 2);
	memcpy(mine, out, k * sizeof(*out));
	return k;
}

static void
expect(const struct lock_range *r, int type, int64_t start, int64_t end)
{
	assert_int_equal(r->type, type);
	assert_int_equal(r->start, start);
	assert_int_equal(r->end, end);
}

/* ---- the rules ----------------------------------------------------------- */

/* Two write locks of other holders conflict only where they overlap. */
static void
test_lock_write_locks_conflict_where_they_overlap(void **state)
{
	(void)state;
	struct lock_range a = px(1, CFS_F_WRLCK, 0, 99);
	struct lock_range b = px(2, CFS_F_WRLCK, 100, 199);
	assert_false(lock_conflicts(&a, &b));
	b.start = 99;
	assert_true(lock_conflicts(&a, &b));
}

/* Readers share; a reader and a writer do not. */
static void
test_lock_readers_share_writers_exclude(void **state)
{
	(void)state;
	struct lock_range a = px(1, CFS_F_RDLCK, 0, 10);
	struct lock_range b = px(2, CFS_F_RDLCK, 5, 15);
	assert_false(lock_conflicts(&a, &b));
	b.type = CFS_F_WRLCK;
	assert_true(lock_conflicts(&a, &b));
	assert_true(lock_conflicts(&b, &a));
}

/* The same holder never conflicts with itself; the same owner number in
 * another session is another holder. */
static void
test_lock_same_owner_never_conflicts(void **state)
{
	(void)state;
	struct lock_range a = px(1, CFS_F_WRLCK, 0, EOF_);
	struct lock_range b = px(1, CFS_F_WRLCK, 0, EOF_);
	assert_false(lock_conflicts(&a, &b));
	b.client_id = 2;
	assert_true(lock_conflicts(&a, &b));
}

/* flock and POSIX locks are independent (Linux). */
static void
test_lock_flock_and_posix_do_not_conflict(void **state)
{
	(void)state;
	struct lock_range a = fl(1, 7, CFS_F_WRLCK);
	struct lock_range b = px(2, CFS_F_WRLCK, 0, EOF_);
	assert_false(lock_conflicts(&a, &b));
	struct lock_range c = fl(2, 8, CFS_F_RDLCK);
	assert_true(lock_conflicts(&a, &c));
}

/* A lock to EOF conflicts with any range past its start. */
static void
test_lock_eof_range_covers_everything_after(void **state)
{
	(void)state;
	struct lock_range a = px(1, CFS_F_WRLCK, 1000, EOF_);
	struct lock_range b = px(2, CFS_F_RDLCK, EOF_ - 1, EOF_);
	assert_true(lock_conflicts(&a, &b));
	b.start = 0;
	b.end = 999;
	assert_false(lock_conflicts(&a, &b));
}

/* lock_find_conflict names the first lock in the way. */
static void
test_lock_find_conflict_returns_first(void **state)
{
	(void)state;
	struct lock_range held[3] = {px(1, CFS_F_RDLCK, 0, 9),
				     px(2, CFS_F_WRLCK, 10, 19),
				     px(3, CFS_F_WRLCK, 15, 30)};
	struct lock_range req = px(9, CFS_F_RDLCK, 0, 100);
	assert_int_equal(lock_find_conflict(held, 3, &req), 1);
	req.owner = 2;
	assert_int_equal(lock_find_conflict(held, 3, &req), 2);
	req.start = 31;
	assert_int_equal(lock_find_conflict(held, 3, &req), -1);
}

/* Unlocking the middle of a range leaves its two ends. */
static void
test_lock_unlock_middle_splits(void **state)
{
	(void)state;
	struct lock_range m[16] = {px(1, CFS_F_WRLCK, 0, 99)};
	size_t n = apply(m, 1, px(1, CFS_F_UNLCK, 40, 59));
	assert_int_equal(n, 2);
	expect(&m[0], CFS_F_WRLCK, 0, 39);
	expect(&m[1], CFS_F_WRLCK, 60, 99);
}

/* A read lock in the middle of a write lock: three pieces. */
static void
test_lock_other_type_in_middle_splits_in_three(void **state)
{
	(void)state;
	struct lock_range m[16] = {px(1, CFS_F_WRLCK, 0, EOF_)};
	size_t n = apply(m, 1, px(1, CFS_F_RDLCK, 10, 19));
	assert_int_equal(n, 3);
	expect(&m[0], CFS_F_WRLCK, 0, 9);
	expect(&m[1], CFS_F_RDLCK, 10, 19);
	expect(&m[2], CFS_F_WRLCK, 20, EOF_);
}

/* Overlapping and adjacent locks of one type merge into one. */
static void
test_lock_same_type_overlapping_and_adjacent_merge(void **state)
{
	(void)state;
	struct lock_range m[16] = {px(1, CFS_F_RDLCK, 0, 9),
				   px(1, CFS_F_RDLCK, 20, 29)};
	size_t n = apply(m, 2, px(1, CFS_F_RDLCK, 10, 19));
	assert_int_equal(n, 1);
	expect(&m[0], CFS_F_RDLCK, 0, 29);
	n = apply(m, n, px(1, CFS_F_RDLCK, 25, 40));
	assert_int_equal(n, 1);
	expect(&m[0], CFS_F_RDLCK, 0, 40);
}

/* Locks of the other type are cut, never merged. */
static void
test_lock_other_type_neighbours_stay_apart(void **state)
{
	(void)state;
	struct lock_range m[16] = {px(1, CFS_F_RDLCK, 0, 9)};
	size_t n = apply(m, 1, px(1, CFS_F_WRLCK, 5, 14));
	assert_int_equal(n, 2);
	expect(&m[0], CFS_F_RDLCK, 0, 4);
	expect(&m[1], CFS_F_WRLCK, 5, 14);
}

/* Upgrading a whole range replaces it in place. */
static void
test_lock_posix_upgrade_in_place(void **state)
{
	(void)state;
	struct lock_range m[16] = {px(1, CFS_F_RDLCK, 0, 9),
				   px(1, CFS_F_RDLCK, 20, 29)};
	size_t n = apply(m, 2, px(1, CFS_F_WRLCK, 0, 29));
	assert_int_equal(n, 1);
	expect(&m[0], CFS_F_WRLCK, 0, 29);
}

/* Unlocking to EOF drops everything from its start. */
static void
test_lock_unlock_to_eof(void **state)
{
	(void)state;
	struct lock_range m[16] = {px(1, CFS_F_WRLCK, 0, 9),
				   px(1, CFS_F_RDLCK, 100, EOF_)};
	size_t n = apply(m, 2, px(1, CFS_F_UNLCK, 5, EOF_));
	assert_int_equal(n, 1);
	expect(&m[0], CFS_F_WRLCK, 0, 4);
	n = apply(m, n, px(1, CFS_F_UNLCK, 0, EOF_));
	assert_int_equal(n, 0);
}

/* A lock to EOF merges with an adjacent one without overflowing. */
static void
test_lock_eof_merge_does_not_overflow(void **state)
{
	(void)state;
	struct lock_range m[16] = {px(1, CFS_F_WRLCK, 100, EOF_)};
	size_t n = apply(m, 1, px(1, CFS_F_WRLCK, 0, 99));
	assert_int_equal(n, 1);
	expect(&m[0], CFS_F_WRLCK, 0, EOF_);
	n = apply(m, n, px(1, CFS_F_WRLCK, EOF_, EOF_));
	assert_int_equal(n, 1);
	expect(&m[0], CFS_F_WRLCK, 0, EOF_);
}

/* flock: one lock per open file, upgraded and downgraded in place. */
static void
test_lock_flock_upgrade_downgrade_in_place(void **state)
{
	(void)state;
	struct lock_range m[16] = {{0}};
	size_t n = apply(m, 0, fl(1, 7, CFS_F_RDLCK));
	assert_int_equal(n, 1);
	n = apply(m, n, fl(1, 7, CFS_F_WRLCK));
	assert_int_equal(n, 1);
	expect(&m[0], CFS_F_WRLCK, 0, EOF_);
	n = apply(m, n, fl(1, 7, CFS_F_RDLCK));
	assert_int_equal(n, 1);
	expect(&m[0], CFS_F_RDLCK, 0, EOF_);
	n = apply(m, n, fl(1, 7, CFS_F_UNLCK));
	assert_int_equal(n, 0);
}

/* ---- the table ----------------------------------------------------------- */

struct t {
	sqlite3 *db;
	struct lockt *l;
	union wire_body rq, out;
	uint16_t rt;
	char errmsg[CFS_ERRMSG_SIZE];
};

static int
setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_int_equal(sqlite3_open(":memory:", &t->db), SQLITE_OK);
	/* the one column of `inodes` the trigger and the checks use */
	assert_int_equal(sqlite3_exec(t->db,
				      "CREATE TABLE inodes (ino INTEGER "
				      "PRIMARY KEY); INSERT INTO inodes "
				      "VALUES (5), (6);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(lock_open(&t->l, t->db, t->errmsg), 0);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct t *t = *state;
	lock_close(&t->l);
	assert_null(t->l);
	sqlite3_close(t->db);
	free(t);
	return 0;
}

static int
set(struct t *t, uint64_t client, uint64_t ino, uint64_t owner, int kind,
    int type, int64_t start, int64_t end)
{
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.lock_set = (struct wire_lock_set){
		.ino = ino, .owner = owner, .kind = (uint8_t)kind,
		.type = (uint8_t)type, .start = start, .end = end,
		.pid = (uint32_t)(100 + client)};
	return lock_exec(t->l, client, WIRE_T_lock_set, &t->rq, &t->rt,
			 &t->out, t->errmsg);
}

/* lock_get as session @client, owner @owner: the type in the way. */
static int
get(struct t *t, uint64_t client, uint64_t ino, uint64_t owner, int kind,
    int type, int64_t start, int64_t end)
{
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.lock_get = (struct wire_lock_get){
		.ino = ino, .owner = owner, .kind = (uint8_t)kind,
		.type = (uint8_t)type, .start = start, .end = end};
	assert_int_equal(lock_exec(t->l, client, WIRE_T_lock_get, &t->rq,
				   &t->rt, &t->out, t->errmsg),
			 0);
	assert_int_equal(t->rt, WIRE_T_lock_info);
	return t->out.lock_info.type;
}

static int64_t
rows(struct t *t)
{
	sqlite3_stmt *s;
	int64_t n = -1;
	sqlite3_prepare_v2(t->db, "SELECT count(*) FROM locks", -1, &s, NULL);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* Another session's overlapping write lock is refused with EAGAIN and
 * nothing changes; a disjoint one is granted. */
static void
test_lock_table_conflict_is_eagain_without_change(void **state)
{
	struct t *t = *state;
	assert_int_equal(set(t, 1, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 0, 99), 0);
	assert_int_equal(t->rt, WIRE_T_ok);
	assert_int_equal(set(t, 2, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 50, 60),
			 CFS_EAGAIN);
	assert_non_null(strstr(t->errmsg, "write-locked"));
	assert_int_equal(rows(t), 1);
	assert_int_equal(set(t, 2, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 100, 199),
			 0);
	assert_int_equal(rows(t), 2);
	/* another inode is another file */
	assert_int_equal(set(t, 2, 6, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 0, 99), 0);
}

/* lock_get reports the holder's range, type, pid and session, and nothing
 * for the holder itself. */
static void
test_lock_table_get_reports_holder(void **state)
{
	struct t *t = *state;
	assert_int_equal(set(t, 1, 5, 3, CFS_LOCK_POSIX, CFS_F_RDLCK, 10, 19), 0);
	assert_int_equal(get(t, 2, 5, 3, CFS_LOCK_POSIX, CFS_F_WRLCK, 0, EOF_),
			 CFS_F_RDLCK);
	assert_int_equal(t->out.lock_info.start, 10);
	assert_int_equal(t->out.lock_info.end, 19);
	assert_int_equal(t->out.lock_info.pid, 101);
	assert_int_equal(t->out.lock_info.client_id, 1);
	assert_int_equal(get(t, 2, 5, 3, CFS_LOCK_POSIX, CFS_F_RDLCK, 0, EOF_),
			 CFS_F_UNLCK);
	assert_int_equal(get(t, 1, 5, 3, CFS_LOCK_POSIX, CFS_F_WRLCK, 0, EOF_),
			 CFS_F_UNLCK);
	assert_int_equal(get(t, 2, 5, 3, CFS_LOCK_FLOCK, CFS_F_WRLCK, 0, 0),
			 CFS_F_UNLCK);
}

/* Unlocking the middle through the table splits the stored row. */
static void
test_lock_table_unlock_middle_splits(void **state)
{
	struct t *t = *state;
	assert_int_equal(set(t, 1, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 0, 99), 0);
	assert_int_equal(set(t, 1, 5, 1, CFS_LOCK_POSIX, CFS_F_UNLCK, 40, 59), 0);
	assert_int_equal(rows(t), 2);
	assert_int_equal(set(t, 2, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 40, 59), 0);
	assert_int_equal(set(t, 2, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 39, 40),
			 CFS_EAGAIN);
}

/* flock: shared + shared, exclusive excluded; an upgrade that conflicts
 * fails and keeps the shared lock. */
static void
test_lock_table_flock_shared_and_exclusive(void **state)
{
	struct t *t = *state;
	assert_int_equal(set(t, 1, 5, 10, CFS_LOCK_FLOCK, CFS_F_RDLCK, 0, 0), 0);
	assert_int_equal(set(t, 2, 5, 10, CFS_LOCK_FLOCK, CFS_F_RDLCK, 0, 0), 0);
	assert_int_equal(set(t, 2, 5, 10, CFS_LOCK_FLOCK, CFS_F_WRLCK, 0, 0),
			 CFS_EAGAIN);
	assert_int_equal(rows(t), 2);
	assert_int_equal(set(t, 1, 5, 10, CFS_LOCK_FLOCK, CFS_F_UNLCK, 0, 0), 0);
	assert_int_equal(set(t, 2, 5, 10, CFS_LOCK_FLOCK, CFS_F_WRLCK, 0, 0), 0);
	assert_int_equal(rows(t), 1);
	/* another open file of the same session is another holder */
	assert_int_equal(set(t, 2, 5, 11, CFS_LOCK_FLOCK, CFS_F_RDLCK, 0, 0),
			 CFS_EAGAIN);
}

/* lock_release drops one holder's locks of one kind on one inode. */
static void
test_lock_table_release_drops_holder_kind(void **state)
{
	struct t *t = *state;
	assert_int_equal(set(t, 1, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 0, 9), 0);
	assert_int_equal(set(t, 1, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 20, 29), 0);
	assert_int_equal(set(t, 1, 5, 1, CFS_LOCK_FLOCK, CFS_F_WRLCK, 0, 0), 0);
	assert_int_equal(set(t, 1, 6, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 0, 9), 0);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.lock_release = (struct wire_lock_release){
		.ino = 5, .owner = 1, .kind = CFS_LOCK_POSIX};
	assert_int_equal(lock_exec(t->l, 1, WIRE_T_lock_release, &t->rq,
				   &t->rt, &t->out, t->errmsg),
			 0);
	assert_int_equal(rows(t), 2);
	/* a file removed meanwhile: release still succeeds */
	t->rq.lock_release.ino = 999;
	assert_int_equal(lock_exec(t->l, 1, WIRE_T_lock_release, &t->rq,
				   &t->rt, &t->out, t->errmsg),
			 0);
}

/* A closed or expired session's locks go; others stay. */
static void
test_lock_table_session_drop_frees_its_locks(void **state)
{
	struct t *t = *state;
	assert_int_equal(set(t, 1, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 0, EOF_), 0);
	assert_int_equal(set(t, 1, 6, 1, CFS_LOCK_FLOCK, CFS_F_WRLCK, 0, 0), 0);
	assert_int_equal(set(t, 2, 6, 1, CFS_LOCK_POSIX, CFS_F_RDLCK, 0, 0), 0);
	assert_int_equal(set(t, 2, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 0, 0),
			 CFS_EAGAIN);
	assert_int_equal(lock_drop_session(t->l, 1, t->errmsg), 0);
	assert_int_equal(rows(t), 1);
	assert_int_equal(set(t, 2, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 0, 0), 0);
}

/* Deleting an inode (its last unlink) drops its locks. */
static void
test_lock_table_inode_delete_drops_locks(void **state)
{
	struct t *t = *state;
	assert_int_equal(set(t, 1, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 0, 9), 0);
	assert_int_equal(set(t, 1, 6, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 0, 9), 0);
	assert_int_equal(sqlite3_exec(t->db, "DELETE FROM inodes WHERE ino = 5",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(rows(t), 1);
	assert_int_equal(set(t, 1, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 0, 9),
			 CFS_ENOENT);
}

/* Bad kinds, types and ranges are EINVAL; an unlock is not a lock_get. */
static void
test_lock_table_rejects_bad_requests(void **state)
{
	struct t *t = *state;
	assert_int_equal(set(t, 1, 5, 1, 7, CFS_F_WRLCK, 0, 9), CFS_EINVAL);
	assert_int_equal(set(t, 1, 5, 1, CFS_LOCK_POSIX, 9, 0, 9), CFS_EINVAL);
	assert_int_equal(set(t, 1, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, 10, 9),
			 CFS_EINVAL);
	assert_int_equal(set(t, 1, 5, 1, CFS_LOCK_POSIX, CFS_F_WRLCK, -1, 9),
			 CFS_EINVAL);
	memset(&t->rq, 0, sizeof(t->rq));
	t->rq.lock_get = (struct wire_lock_get){
		.ino = 5, .kind = CFS_LOCK_POSIX, .type = CFS_F_UNLCK, .end = 9};
	assert_int_equal(lock_exec(t->l, 1, WIRE_T_lock_get, &t->rq, &t->rt,
				   &t->out, t->errmsg),
			 CFS_EINVAL);
	assert_int_equal(rows(t), 0);
}

/* Only lock_get is served without the log. */
static void
test_lock_mutations_are_set_and_release(void **state)
{
	(void)state;
	assert_true(lock_handles(WIRE_T_lock_get));
	assert_false(lock_is_mutation(WIRE_T_lock_get));
	assert_true(lock_is_mutation(WIRE_T_lock_set));
	assert_true(lock_is_mutation(WIRE_T_lock_release));
	assert_false(lock_handles(WIRE_T_getattr));
}

#define T(name) cmocka_unit_test(name)
#define TT(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_lock_write_locks_conflict_where_they_overlap),
		T(test_lock_readers_share_writers_exclude),
		T(test_lock_same_owner_never_conflicts),
		T(test_lock_flock_and_posix_do_not_conflict),
		T(test_lock_eof_range_covers_everything_after),
		T(test_lock_find_conflict_returns_first),
		T(test_lock_unlock_middle_splits),
		T(test_lock_other_type_in_middle_splits_in_three),
		T(test_lock_same_type_overlapping_and_adjacent_merge),
		T(test_lock_other_type_neighbours_stay_apart),
		T(test_lock_posix_upgrade_in_place),
		T(test_lock_unlock_to_eof),
		T(test_lock_eof_merge_does_not_overflow),
		T(test_lock_flock_upgrade_downgrade_in_place),
		TT(test_lock_table_conflict_is_eagain_without_change),
		TT(test_lock_table_get_reports_holder),
		TT(test_lock_table_unlock_middle_splits),
		TT(test_lock_table_flock_shared_and_exclusive),
		TT(test_lock_table_release_drops_holder_kind),
		TT(test_lock_table_session_drop_frees_its_locks),
		TT(test_lock_table_inode_delete_drops_locks),
		TT(test_lock_table_rejects_bad_requests),
		T(test_lock_mutations_are_set_and_release),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
