/* test_fsm.c - the state machine: entry format, exactly-once, idempotent replay, snapshots, refusing bad files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <raft.h>

#include "common/error.h"
#include "common/wire.h"
#include "meta/entry.h"
#include "meta/fsm.h"

#define CLIENT 0x200000001ull

/* The fsm learns its entry's index from raft_last_applied(); these tests
 * drive apply() directly and play that part with a bare struct raft. */
struct t {
	struct fsm *f;
	struct raft r;
	char path[64];
	/* the last reply the fsm handed out */
	uint16_t reply_type;
	int reply_status;
	unsigned replies;
	union wire_body *body;
	union wire_body *last; /* the last reply's body */
	char errmsg[CFS_ERRMSG_SIZE];
};

static void
on_reply(void *data, uint64_t client_id, uint64_t seq, const uint8_t *frame,
	 size_t len)
{
	struct t *t = data;
	struct wire_header h;
	union wire_body *b = malloc(sizeof(*b));
	assert_int_equal(wire_decode(frame, len, &h, b, t->errmsg), 0);
	t->reply_type = h.type;
	t->reply_status = h.status;
	t->replies++;
	free(t->last);
	t->last = b;
}

static int
setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	snprintf(t->path, sizeof(t->path), "/tmp/cfs-test-fsm-%d.db",
		 (int)getpid());
	unlink(t->path);
	assert_int_equal(fsm_open(&t->f, t->path, t->errmsg), 0);
	fsm_attach(t->f, &t->r);
	fsm_set_reply(t->f, on_reply, t);
	t->body = calloc(1, sizeof(*t->body));
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct t *t = *state;
	char p[80];
	fsm_close(&t->f);
	unlink(t->path);
	snprintf(p, sizeof(p), "%s-wal", t->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", t->path);
	unlink(p);
	free(t->body);
	free(t->last);
	free(t);
	return 0;
}

static void
add(struct entry_builder *b, uint16_t type, uint64_t client, uint64_t seq,
    const void *body)
{
	struct wire_header h = {.type = type, .client_id = client,
				.sequence = seq};
	uint8_t *frame;
	size_t len;
	char errmsg[CFS_ERRMSG_SIZE];
	assert_int_equal(wire_encode(&h, body, &frame, &len, errmsg), 0);
	assert_int_equal(entry_add(b, frame, len), 0);
	free(frame);
}

/* Apply @b as the entry at index last_applied + 1. */
static int
apply(struct t *t, struct entry_builder *b)
{
	struct raft_buffer buf;
	void *result;
	entry_finish(b, &buf.base, &buf.len);
	int rv = fsm_raft(t->f)->apply(fsm_raft(t->f), &buf, &result);
	raft_free(buf.base);
	if (rv == 0)
		t->r.last_applied++;
	return rv;
}

static void
format_and_open(struct t *t)
{
	struct entry_builder b;
	entry_begin(&b, 1000);
	memset(t->body, 0, sizeof(*t->body));
	t->body->format.fragment_size = 1 << 22;
	t->body->format.default_goal = 3;
	add(&b, WIRE_T_format, 0, 1, t->body);
	memset(t->body, 0, sizeof(*t->body));
	t->body->session_open.lease_ms = 5000;
	add(&b, WIRE_T_session_open, CLIENT, 0, t->body);
	assert_int_equal(apply(t, &b), 0);
	assert_int_equal(t->reply_type, WIRE_T_session_opened);
}

static int
create(struct t *t, uint64_t seq, const char *name)
{
	struct entry_builder b;
	entry_begin(&b, 2000 + (int64_t)seq);
	memset(t->body, 0, sizeof(*t->body));
	t->body->mknod.parent = 1;
	snprintf(t->body->mknod.name, sizeof(t->body->mknod.name), "%s", name);
	t->body->mknod.mode = S_IFREG | 0644;
	t->body->mknod.flags = CFS_MKNOD_EXCL;
	add(&b, WIRE_T_mknod, CLIENT, seq, t->body);
	assert_int_equal(apply(t, &b), 0);
	return t->reply_status;
}

/* ---- entries ---------------------------------------------------------------- */

/* Entries and records are padded to 8 bytes (STACK.md: libraft 0.15 drops
 * unpadded entries on restart) and read back exactly. */
static void
test_entry_length_is_padded_to_8(void **state)
{
	struct entry_builder b;
	struct entry_reader r;
	const uint8_t *frame;
	size_t len;
	char errmsg[CFS_ERRMSG_SIZE];
	static const size_t sizes[] = {0, 1, 7, 8, 9, 41, 1000};
	uint8_t data[1000];
	void *base;

	memset(data, 0xab, sizeof(data));
	entry_begin(&b, 42);
	for (unsigned i = 0; i < 7; i++)
		assert_int_equal(entry_add(&b, data, sizes[i]), 0);
	entry_finish(&b, &base, &len);
	assert_int_equal(len % 8, 0);
	assert_int_equal(entry_open(&r, base, len, errmsg), 0);
	assert_int_equal(r.now_ns, 42);
	for (unsigned i = 0; i < 7; i++) {
		assert_int_equal(entry_next(&r, &frame, &len, errmsg), 1);
		assert_int_equal(len, sizes[i]);
	}
	assert_int_equal(entry_next(&r, &frame, &len, errmsg), 0);
	raft_free(base);
}

/* Damaged entries are corruption, never a crash or an over-read. */
static void
test_corrupt_entries_are_refused(void **state)
{
	struct entry_builder b;
	struct entry_reader r;
	const uint8_t *frame;
	size_t len, n;
	char errmsg[CFS_ERRMSG_SIZE];
	uint8_t *p;
	void *base;

	entry_begin(&b, 1);
	assert_int_equal(entry_add(&b, (const uint8_t *)"abcdefghij", 10), 0);
	entry_finish(&b, &base, &n);
	p = base;
	assert_int_equal(entry_open(&r, p, 20, errmsg), CFS_CORRUPT); /* short */
	assert_int_equal(entry_open(&r, p, n - 1, errmsg), CFS_CORRUPT);
	p[0] ^= 1;
	assert_int_equal(entry_open(&r, p, n, errmsg), CFS_CORRUPT); /* magic */
	p[0] ^= 1;
	p[4] = 9;
	assert_int_equal(entry_open(&r, p, n, errmsg), CFS_CORRUPT); /* version */
	p[4] = ENTRY_VERSION;
	p[8] = 2; /* two records claimed, one present */
	assert_int_equal(entry_open(&r, p, n, errmsg), 0);
	assert_int_equal(entry_next(&r, &frame, &len, errmsg), 1);
	assert_int_equal(entry_next(&r, &frame, &len, errmsg), -CFS_CORRUPT);
	p[8] = 1;
	p[ENTRY_HEADER_SIZE] = 0xff; /* record length past the end */
	assert_int_equal(entry_open(&r, p, n, errmsg), 0);
	assert_int_equal(entry_next(&r, &frame, &len, errmsg), -CFS_CORRUPT);
	raft_free(base);
}

/* ---- exactly once --------------------------------------------------------------- */

/* A create whose entry reached the log twice (proposed by a deposed
 * leader, retried through the new one) is applied once; the retry gets
 * the first reply, not EEXIST. */
static void
test_retried_create_never_reports_eexist(void **state)
{
	struct t *t = *state;
	format_and_open(t);
	assert_int_equal(create(t, 1, "a"), 0);
	assert_int_equal(t->reply_type, WIRE_T_entry);
	unsigned before = t->replies;
	assert_int_equal(create(t, 1, "a"), 0);
	assert_int_equal(t->replies, before + 1);
	assert_int_equal(t->reply_type, WIRE_T_entry);
	/* a new sequence with the same name is a real EEXIST */
	assert_int_equal(create(t, 2, "a"), CFS_EEXIST);
	/* and its retry repeats the EEXIST rather than succeeding */
	assert_int_equal(create(t, 2, "a"), CFS_EEXIST);
}

/* Apply a mknods of @n items named @names (NULL: a parent that does not
 * exist) as sequence @seq; the reply in t->last. */
static void
create_batch(struct t *t, uint64_t seq, const char **names, unsigned n)
{
	struct entry_builder b;
	entry_begin(&b, 3000 + (int64_t)seq);
	memset(t->body, 0, sizeof(*t->body));
	t->body->mknods.items_count = n;
	for (unsigned i = 0; i < n; i++) {
		struct wire_mknod_item *it = &t->body->mknods.items[i];
		it->parent = names[i] != NULL ? 1 : 999;
		snprintf(it->name, sizeof(it->name), "%s",
			 names[i] != NULL ? names[i] : "x");
		it->mode = S_IFREG | 0640;
		it->flags = CFS_MKNOD_EXCL;
	}
	add(&b, WIRE_T_mknods, CLIENT, seq, t->body);
	assert_int_equal(apply(t, &b), 0);
}

/* A mknods applies each create on its own, in order: one failing (a name
 * taken, a parent missing) changes nothing and leaves the others made;
 * each has its result; a retry is answered as the first time. */
static void
test_mknods_applies_each_create_alone(void **state)
{
	struct t *t = *state;
	const char *names[] = {"a", "taken", NULL, "c", "a"};
	format_and_open(t);
	assert_int_equal(create(t, 1, "taken"), 0);
	create_batch(t, 2, names, 5);
	assert_int_equal(t->reply_status, 0);
	assert_int_equal(t->reply_type, WIRE_T_mknods_reply);
	const struct wire_mknods_reply *r = &t->last->mknods_reply;
	assert_int_equal(r->results_count, 5);
	assert_int_equal(r->results[0].status, 0);
	assert_int_equal(r->results[1].status, CFS_EEXIST);
	assert_int_equal(r->results[2].status, CFS_ENOENT);
	assert_non_null(strstr(r->results[2].message, "999"));
	assert_int_equal(r->results[3].status, 0);
	assert_int_equal(r->results[4].status, CFS_EEXIST); /* made above */
	uint64_t ino_a = r->results[0].attr.ino, ino_c = r->results[3].attr.ino;
	assert_true(ino_a != 0 && ino_c != 0 && ino_a != ino_c);
	assert_int_equal(r->results[0].attr.mode, S_IFREG | 0640);
	/* the creates that succeeded are there, after the failures */
	assert_int_equal(create(t, 3, "a"), CFS_EEXIST);
	assert_int_equal(create(t, 4, "c"), CFS_EEXIST);
	assert_int_equal(create(t, 5, "x"), 0);
	/* the retry of sequence 2: the same results, nothing made again */
	create_batch(t, 2, names, 5);
	r = &t->last->mknods_reply;
	assert_int_equal(r->results_count, 5);
	assert_int_equal(r->results[0].status, 0);
	assert_int_equal(r->results[0].attr.ino, ino_a);
	assert_int_equal(r->results[3].attr.ino, ino_c);
	assert_int_equal(r->results[4].status, CFS_EEXIST);
}

/* Sequences further back than the window cannot be answered again and
 * are refused rather than executed twice. */
static void
test_sequence_outside_window_is_refused(void **state)
{
	struct t *t = *state;
	format_and_open(t);
	char name[16];
	for (uint64_t s = 1; s <= CFS_SESSION_WINDOW + 20; s++) {
		snprintf(name, sizeof(name), "f%llu", (unsigned long long)s);
		assert_int_equal(create(t, s, name), 0);
	}
	assert_int_equal(create(t, 1, "f1"), CFS_EINVAL);
	/* within the window: the stored reply */
	assert_int_equal(create(t, CFS_SESSION_WINDOW + 10, "f74"), 0);
}

/* Namespace commands need an open session; closing one forgets it. */
static void
test_unknown_session_is_nosession(void **state)
{
	struct t *t = *state;
	struct entry_builder b;
	format_and_open(t);
	entry_begin(&b, 5000);
	memset(t->body, 0, sizeof(*t->body));
	add(&b, WIRE_T_session_close, CLIENT, 0, t->body);
	assert_int_equal(apply(t, &b), 0);
	assert_int_equal(t->reply_status, 0);
	assert_int_equal(create(t, 1, "x"), CFS_NOSESSION);
	const uint8_t *frame;
	size_t len;
	assert_int_equal(fsm_session_check(t->f, CLIENT, 1, &frame, &len), 0);
}

/* ---- replay, persistence, snapshots ---------------------------------------------- */

/* An entry at or below the stored applied index is skipped: a restart
 * that replays the log over a database that holds it changes nothing. */
/* lock_set of session @client on inode @ino, whole file, write. */
static int
lock_all(struct t *t, uint64_t client, uint64_t seq, uint64_t ino)
{
	struct entry_builder b;
	entry_begin(&b, 3000 + (int64_t)seq);
	memset(t->body, 0, sizeof(*t->body));
	t->body->lock_set.ino = ino;
	t->body->lock_set.owner = 1;
	t->body->lock_set.kind = CFS_LOCK_POSIX;
	t->body->lock_set.type = CFS_F_WRLCK;
	t->body->lock_set.end = CFS_LOCK_EOF;
	add(&b, WIRE_T_lock_set, client, seq, t->body);
	assert_int_equal(apply(t, &b), 0);
	return t->reply_status;
}

/* Locks go through the log exactly once, and an expired session's locks
 * go with it in the same apply (docs/locks.md). */
static void
test_session_expiry_drops_its_locks(void **state)
{
	struct t *t = *state;
	struct entry_builder b;
	const uint64_t other = CLIENT + 1;

	format_and_open(t);
	entry_begin(&b, 1500);
	memset(t->body, 0, sizeof(*t->body));
	t->body->session_open.lease_ms = 5000;
	add(&b, WIRE_T_session_open, other, 0, t->body);
	assert_int_equal(apply(t, &b), 0);
	assert_int_equal(create(t, 1, "f"), CFS_OK);
	assert_int_equal(lock_all(t, CLIENT, 2, 2), CFS_OK);
	assert_int_equal(t->reply_type, WIRE_T_ok);
	assert_int_equal(lock_all(t, other, 1, 2), CFS_EAGAIN);
	/* a retry of the granted request is answered from its stored reply */
	assert_int_equal(lock_all(t, CLIENT, 2, 2), CFS_OK);
	entry_begin(&b, 4000);
	memset(t->body, 0, sizeof(*t->body));
	t->body->session_expire.client_id = CLIENT;
	add(&b, WIRE_T_session_expire, 0, 0, t->body);
	assert_int_equal(apply(t, &b), 0);
	assert_int_equal(lock_all(t, other, 2, 2), CFS_OK);
}

static void
test_apply_replayed_entry_is_skipped(void **state)
{
	struct t *t = *state;
	format_and_open(t);
	assert_int_equal(create(t, 1, "a"), 0);
	uint64_t applied = fsm_applied(t->f);
	assert_int_equal(applied, t->r.last_applied);
	char *before, *after;
	size_t lb, la;
	assert_int_equal(fsm_dump(t->f, &before, &lb, t->errmsg), 0);
	t->r.last_applied -= 1; /* raft replays the last entry */
	unsigned replies = t->replies;
	assert_int_equal(create(t, 7, "b"), 0);
	assert_int_equal(t->replies, replies); /* not even executed */
	assert_int_equal(fsm_dump(t->f, &after, &la, t->errmsg), 0);
	assert_int_equal(lb, la);
	assert_memory_equal(before, after, la);
	free(before);
	free(after);
}

/* The applied index and the data survive closing and reopening. */
static void
test_applied_index_persists(void **state)
{
	struct t *t = *state;
	format_and_open(t);
	assert_int_equal(create(t, 1, "a"), 0);
	uint64_t applied = fsm_applied(t->f);
	fsm_close(&t->f);
	assert_int_equal(fsm_open(&t->f, t->path, t->errmsg), 0);
	assert_int_equal(fsm_applied(t->f), applied);
}

/* A snapshot restored into an empty state machine reproduces it exactly;
 * an older snapshot does not roll a newer database back. */
static void
test_snapshot_restores_identical_state(void **state)
{
	struct t *t = *state;
	struct raft_buffer *bufs;
	unsigned n;
	struct fsm *g;
	format_and_open(t);
	assert_int_equal(create(t, 1, "a"), 0);
	assert_int_equal(fsm_raft(t->f)->snapshot(fsm_raft(t->f), &bufs, &n), 0);
	assert_int_equal(n, 1);
	struct raft_buffer copy = {.len = bufs[0].len};
	copy.base = raft_malloc(copy.len);
	memcpy(copy.base, bufs[0].base, copy.len);
	struct raft_buffer older = {.len = copy.len};
	older.base = raft_malloc(copy.len);
	memcpy(older.base, copy.base, copy.len);
	fsm_raft(t->f)->snapshot_finalize(fsm_raft(t->f), &bufs, &n);

	assert_int_equal(fsm_open(&g, ":memory:", t->errmsg), 0);
	assert_int_equal(fsm_raft(g)->restore(fsm_raft(g), &copy), 0);
	char *a, *b;
	size_t la, lb;
	assert_int_equal(fsm_dump(t->f, &a, &la, t->errmsg), 0);
	assert_int_equal(fsm_dump(g, &b, &lb, t->errmsg), 0);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	fsm_close(&g);

	assert_int_equal(create(t, 2, "b"), 0);
	uint64_t applied = fsm_applied(t->f);
	assert_int_equal(fsm_raft(t->f)->restore(fsm_raft(t->f), &older), 0);
	assert_int_equal(fsm_applied(t->f), applied);
}

/* A buffer that is not a database image is refused by restore. */
static void
test_corrupt_snapshot_is_refused(void **state)
{
	struct t *t = *state;
	struct raft_buffer buf = {.len = 4096};
	buf.base = raft_malloc(buf.len);
	memset(buf.base, 'x', buf.len);
	assert_int_not_equal(fsm_raft(t->f)->restore(fsm_raft(t->f), &buf), 0);
}

/* An undecodable record in a committed entry stops the state machine:
 * applying around it would diverge from the other replicas. */
static void
test_corrupt_entry_stops_the_state_machine(void **state)
{
	struct t *t = *state;
	struct entry_builder b;
	const char *why;
	format_and_open(t);
	entry_begin(&b, 1);
	assert_int_equal(entry_add(&b, (const uint8_t *)"not a frame", 11), 0);
	assert_int_not_equal(apply(t, &b), 0);
	assert_true(fsm_failed(t->f, &why));
	assert_non_null(strstr(why, "undecodable"));
}

static long long
wal_size(struct t *t)
{
	char p[80];
	struct stat st;
	snprintf(p, sizeof(p), "%s-wal", t->path);
	return stat(p, &st) == 0 ? (long long)st.st_size : 0;
}

/* The batch transaction stays open across loop turns until it is 50 ms
 * old: fsm_flush_due() before that writes nothing to the WAL. */
static void
test_flush_due_waits_for_the_batch_to_age(void **state)
{
	struct t *t = *state;
	format_and_open(t);
	assert_int_equal(fsm_flush(t->f, t->errmsg), 0);
	long long before = wal_size(t);
	assert_int_equal(create(t, 1, "a"), 0);
	assert_int_equal(fsm_flush_due(t->f, t->errmsg), 0);
	assert_int_equal(wal_size(t), before);
	usleep(60 * 1000);
	assert_int_equal(fsm_flush_due(t->f, t->errmsg), 0);
	assert_true(wal_size(t) > before);
}

/* The WAL is checkpointed into the database once it holds 2048 frames,
 * so it stays near 8 MiB however many commits there are (without it,
 * 12,000 one-create commits left a WAL of about 240 MB); what was written
 * survives a reopen. */
static void
test_wal_stays_bounded(void **state)
{
	struct t *t = *state;
	char name[32];
	format_and_open(t);
	for (int i = 1; i <= 12000; i++) {
		snprintf(name, sizeof(name), "f%05d", i);
		assert_int_equal(create(t, (uint64_t)i, name), 0);
		assert_int_equal(fsm_flush(t->f, t->errmsg), 0);
	}
	long long wal = wal_size(t);
	assert_true(wal > 0);
	assert_true(wal < 17LL * 1024 * 1024);
	uint64_t applied = fsm_applied(t->f);
	fsm_close(&t->f);
	assert_int_equal(fsm_open(&t->f, t->path, t->errmsg), 0);
	fsm_attach(t->f, &t->r);
	fsm_set_reply(t->f, on_reply, t);
	assert_int_equal(fsm_applied(t->f), applied);
	assert_int_equal(create(t, 12001, "f00001"), CFS_EEXIST);
}

/* Files that are not our database are refused, never emptied. */
static void
test_foreign_files_are_refused(void **state)
{
	struct fsm *f = NULL;
	char errmsg[CFS_ERRMSG_SIZE];
	char path[64];
	snprintf(path, sizeof(path), "/tmp/cfs-test-foreign-%d", (int)getpid());
	FILE *fp = fopen(path, "w");
	for (int i = 0; i < 100; i++)
		fputs("this is not a database, it is a text file\n", fp);
	fclose(fp);
	assert_int_equal(fsm_open(&f, path, errmsg), CFS_CORRUPT);
	unlink(path);
	sqlite3 *db;
	sqlite3_open(path, &db);
	sqlite3_exec(db, "CREATE TABLE mine (x); INSERT INTO mine VALUES (1)",
		     NULL, NULL, NULL);
	sqlite3_close(db);
	assert_int_equal(fsm_open(&f, path, errmsg), CFS_CORRUPT);
	assert_non_null(strstr(errmsg, "not a CFS metadata database"));
	unlink(path);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_length_is_padded_to_8),
		cmocka_unit_test(test_corrupt_entries_are_refused),
		T(test_retried_create_never_reports_eexist),
		T(test_sequence_outside_window_is_refused),
		T(test_mknods_applies_each_create_alone),
		T(test_unknown_session_is_nosession),
		T(test_session_expiry_drops_its_locks),
		T(test_apply_replayed_entry_is_skipped),
		T(test_applied_index_persists),
		T(test_snapshot_restores_identical_state),
		T(test_corrupt_snapshot_is_refused),
		T(test_corrupt_entry_stops_the_state_machine),
		T(test_flush_due_waits_for_the_batch_to_age),
		T(test_wal_stays_bounded),
		cmocka_unit_test(test_foreign_files_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
