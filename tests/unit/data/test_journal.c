/* test_journal.c - the store's write-ahead journal: durable small files
 * written through it come back after a crash that lost them, deleted ones
 * do not, a torn record ends the replay, checkpoints reuse the room. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "tests/unit/data/store_fx.h"

#define JSIZE (16 * MIB)

/* What a child does to the store before it "crashes". */
typedef int crash_fn(struct store *s, void *arg);

/*
 * Run @fn on the store of @f's directory, journal on, in a child process
 * that then exits without closing anything: what a kill -9 or a power cut
 * leaves of the journal (the child's files are still in the page cache;
 * the caller removes the ones the "crash" is to lose).  @f's own store is
 * closed first and stays closed.
 */
static void
crash_after(struct fx *f, crash_fn *fn, void *arg)
{
	int status;
	pid_t pid;

	store_close(&f->s);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *s;
		char errmsg[CFS_ERRMSG_SIZE];
		if (store_open(f->dir, &s, errmsg) != 0 ||
		    store_set_journal(s, JSIZE, errmsg) != 0) {
			fprintf(stderr, "child: %s\n", errmsg);
			_exit(2);
		}
		_exit(fn(s, arg) == 0 ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Open @f's store again with the journal: the replay. */
static void
restart(struct fx *f)
{
	store_close(&f->s);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	assert_int_equal(store_set_journal(f->s, JSIZE, f->errmsg), 0);
}

static int
write_durable(struct store *s, struct store_key k, uint64_t base,
	      uint64_t off, const unsigned char *data, size_t len)
{
	struct store_writer *w;
	char errmsg[CFS_ERRMSG_SIZE];

	if (store_write_begin(s, &k, base, &w, errmsg) != 0 ||
	    store_write(w, off, data, len, errmsg) != 0 ||
	    store_write_commit(&w, 1, NULL, NULL, errmsg) != 0) {
		fprintf(stderr, "write: %s\n", errmsg);
		store_write_abort(&w);
		return -1;
	}
	return 0;
}

static void
gone(struct fx *f, struct store_key k)
{
	char path[PATH_MAX];

	replica_path(f, k, path);
	assert_int_equal(unlink(path), 0);
}

static void
absent(struct fx *f, struct store_key k)
{
	uint64_t len;
	uint32_t crc;

	assert_int_equal(store_stat(f->s, &k, &len, &crc, NULL, f->errmsg),
			 CFS_ENOENT);
}

static ino_t
inode_of(struct fx *f, struct store_key k)
{
	char path[PATH_MAX];
	struct stat st;

	replica_path(f, k, path);
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

#define W_LEN (300 * 1000)
#define P_OFF 70000
#define P_LEN 4096

struct data {
	unsigned char *w, *p, *n, *x;
};

static void
data_make(struct data *d)
{
	d->w = random_bytes(W_LEN, 1);
	d->p = random_bytes(P_LEN, 2);
	d->x = random_bytes(W_LEN, 3);
	d->n = malloc(W_LEN);
	assert_non_null(d->n);
	memcpy(d->n, d->w, W_LEN);
	memcpy(d->n + P_OFF, d->p, P_LEN);
}

static void
data_free(struct data *d)
{
	free(d->w);
	free(d->p);
	free(d->n);
	free(d->x);
}

/* A whole file (v1), a 4 KiB patch on it (v2: a delta), another whole
 * file (fragment 9). */
static int
three_files(struct store *s, void *arg)
{
	struct data *d = arg;
	uint64_t puts, cps;

	if (write_durable(s, key(5, 0, 1), 0, 0, d->w, W_LEN) != 0 ||
	    write_durable(s, key(5, 0, 2), 1, P_OFF, d->p, P_LEN) != 0 ||
	    write_durable(s, key(5, 9, 3), 0, 0, d->x, W_LEN) != 0)
		return -1;
	store_journal_stats(s, &puts, &cps);
	return puts == 3 ? 0 : -1;
}

/* Files whose own writes were lost come back from their images, a delta
 * included, and read right; a file that checks is left alone. */
static void
test_lost_files_come_back(void **state)
{
	struct fx *f = *state;
	struct data d;

	data_make(&d);
	crash_after(f, three_files, &d);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	ino_t kept = inode_of(f, key(5, 9, 3));
	gone(f, key(5, 0, 1));
	gone(f, key(5, 0, 2));
	restart(f);
	check_content(f, key(5, 0, 1), d.w, W_LEN);
	check_content(f, key(5, 0, 2), d.n, W_LEN);
	check_content(f, key(5, 9, 3), d.x, W_LEN);
	struct store_key n = key(5, 0, 2);
	assert_int_equal(store_verify(f->s, &n, f->errmsg), 0);
	assert_true(inode_of(f, key(5, 9, 3)) == kept);
	/* the replay made them durable and emptied the journal: losing
	 * them again now is not undone */
	gone(f, key(5, 0, 1));
	restart(f);
	absent(f, key(5, 0, 1));
	data_free(&d);
}

/* A file that a crash tore (its name there, its bytes not) is written
 * again too. */
static void
test_torn_file_is_rewritten(void **state)
{
	struct fx *f = *state;
	struct data d;
	char path[PATH_MAX];

	data_make(&d);
	crash_after(f, three_files, &d);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	replica_path(f, key(5, 9, 3), path);
	assert_int_equal(truncate(path, 4096 + 1000), 0);
	restart(f);
	check_content(f, key(5, 9, 3), d.x, W_LEN);
	data_free(&d);
}

static int
write_then_delete(struct store *s, void *arg)
{
	struct data *d = arg;
	char errmsg[CFS_ERRMSG_SIZE];
	struct store_key a = key(6, 0, 1);

	if (write_durable(s, a, 0, 0, d->w, W_LEN) != 0 ||
	    store_delete(s, &a, errmsg) != 0 ||
	    write_durable(s, key(6, 1, 2), 0, 0, d->x, W_LEN) != 0)
		return -1;
	return 0;
}

/* A file deleted after its record is not brought back. */
static void
test_deleted_files_stay_deleted(void **state)
{
	struct fx *f = *state;
	struct data d;

	data_make(&d);
	crash_after(f, write_then_delete, &d);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	gone(f, key(6, 1, 2));
	restart(f);
	absent(f, key(6, 0, 1));
	check_content(f, key(6, 1, 2), d.x, W_LEN);
	data_free(&d);
}

/* Where @needle (@n bytes) is in file @path; -1 if nowhere. */
static off_t
find_in_file(const char *path, const unsigned char *needle, size_t n)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	off_t at = -1;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	unsigned char *buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	unsigned char *p = memmem(buf, (size_t)st.st_size, needle, n);
	if (p != NULL)
		at = p - buf;
	free(buf);
	return at;
}

/* A record that does not check (a write torn by the crash) ends the
 * replay: what came before it is restored, it and what follows are not
 * (their writes were never answered). */
static void
test_torn_record_ends_replay(void **state)
{
	struct fx *f = *state;
	struct data d;
	char jpath[PATH_MAX];

	data_make(&d);
	crash_after(f, three_files, &d);
	snprintf(jpath, sizeof(jpath), "%s/journal.0", f->dir);
	/* the patch's bytes are in the second record */
	off_t at = find_in_file(jpath, d.p, 64);
	assert_true(at > 0);
	flip_byte(jpath, at + 10);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	gone(f, key(5, 0, 1));
	gone(f, key(5, 0, 2));
	gone(f, key(5, 9, 3));
	restart(f);
	check_content(f, key(5, 0, 1), d.w, W_LEN);
	absent(f, key(5, 0, 2));
	absent(f, key(5, 9, 3));
	data_free(&d);
}

/* A clean close checkpoints: nothing is replayed at the next open. */
static void
test_clean_close_leaves_nothing(void **state)
{
	struct fx *f = *state;
	unsigned char *a = random_bytes(W_LEN, 7);

	assert_int_equal(store_set_journal(f->s, JSIZE, f->errmsg), 0);
	assert_int_equal(write_durable(f->s, key(8, 0, 1), 0, 0, a, W_LEN), 0);
	store_close(&f->s);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	gone(f, key(8, 0, 1));
	restart(f);
	absent(f, key(8, 0, 1));
	free(a);
}

/* Journals of garbage (a disk that returned junk, a file cut short) are
 * no records: the store opens, writes the files anew and restores
 * nothing. */
static void
test_garbage_journal_files(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];
	unsigned char *junk = random_bytes(100000, 9);

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/journal.%d", f->dir, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, junk, i == 0 ? 100000 : 10),
				 i == 0 ? 100000 : 10);
		close(fd);
	}
	restart(f);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, JSIZE);
	free(junk);
}

/* Many images through two small files: the writers wait for checkpoints
 * that free the room, and everything reads back. */
static void
test_checkpoints_reuse_room(void **state)
{
	struct fx *f = *state;
	enum { N = 40, LEN = 100 * 1000 };
	uint64_t puts, cps;

	assert_int_equal(store_set_journal(f->s, MIB, f->errmsg), 0);
	for (unsigned i = 0; i < N; i++) {
		unsigned char *b = random_bytes(LEN, 100 + i);
		assert_int_equal(
			write_durable(f->s, key(10, i, 1), 0, 0, b, LEN), 0);
		free(b);
	}
	store_journal_stats(f->s, &puts, &cps);
	assert_int_equal(puts, N);
	assert_true(cps >= 2);
	for (unsigned i = 0; i < N; i++) {
		unsigned char *b = random_bytes(LEN, 100 + i);
		check_content(f, key(10, i, 1), b, LEN);
		free(b);
	}
}

/* Images above the limit (a quarter of a file, at most 1 MiB) are not
 * journaled: such a file is fsync'd as without a journal. */
static void
test_big_files_are_fsynced(void **state)
{
	struct fx *f = *state;
	unsigned char *b = random_bytes(2 * MIB, 11);
	uint64_t puts, cps;

	assert_int_equal(store_set_journal(f->s, JSIZE, f->errmsg), 0);
	put(f, key(12, 0, 1), b, 2 * MIB);
	store_journal_stats(f->s, &puts, &cps);
	assert_int_equal(puts, 0);
	check_content(f, key(12, 0, 1), b, 2 * MIB);
	free(b);
}

/* Size 0 replays, then removes the files. */
static void
test_size_zero_removes(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];
	struct data d;

	data_make(&d);
	crash_after(f, three_files, &d);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	gone(f, key(5, 0, 2));
	assert_int_equal(store_set_journal(f->s, 0, f->errmsg), 0);
	check_content(f, key(5, 0, 2), d.n, W_LEN);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/journal.%d", f->dir, i);
		assert_int_equal(access(path, F_OK), -1);
	}
	data_free(&d);
}

/* Copy file @from to @to (their bytes now, as a crash may leave them). */
static void
copy_file(const char *from, const char *to)
{
	char cmd[2 * PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

struct takeover {
	struct fx *f;
	unsigned char *a, *p2, *p3;
};

#define T_LEN (2 * MIB) /* fsync'd: above the 1 MiB a journal takes */

/* v1 big (fsync'd), v2 a committed patch, v3 a newer one (both
 * journaled); v1 is deleted: v2 is rebased on v3, which takes v1's file
 * over.  The child saves v1's and v3's files as they were before. */
static int
takeover_child(struct store *s, void *arg)
{
	struct takeover *t = arg;
	char from[PATH_MAX], to[PATH_MAX], errmsg[CFS_ERRMSG_SIZE];
	struct store_key k1 = key(2, 0, 1);

	if (write_durable(s, key(2, 0, 1), 0, 0, t->a, T_LEN) != 0 ||
	    write_durable(s, key(2, 0, 2), 1, 0, t->p2, 4096) != 0 ||
	    write_durable(s, key(2, 0, 3), 1, 5 * 65536, t->p3, 4096) != 0)
		return -1;
	store_path(s, &k1, from, sizeof(from));
	snprintf(to, sizeof(to), "%s/v1.saved", t->f->dir);
	copy_file(from, to);
	if (store_delete(s, &k1, errmsg) != 0) {
		fprintf(stderr, "delete: %s\n", errmsg);
		return -1;
	}
	return 0;
}

/* A crash in the middle of that take-over: v1's file has v3's block
 * written into it, under v1's name still, and v3's own file never reached
 * the disk.  v2 was rebased on v3 (fsync'd), so the replay must not put
 * v2's older image back over it (that image shares blocks of v1 the merge
 * overwrote): v3 is restored, and v2 reads right through it.  (v3 is
 * synced before anything is rebased on it, so this exact state is the
 * worst a crash can leave.) */
static void
test_takeover_interrupted(void **state)
{
	struct fx *f = *state;
	struct takeover t = {f, random_bytes(T_LEN, 1), random_bytes(4096, 2),
			     random_bytes(4096, 3)};
	char saved[PATH_MAX], p1[PATH_MAX], p3[PATH_MAX];
	unsigned char *v2 = malloc(T_LEN), *v3 = malloc(T_LEN);

	crash_after(f, takeover_child, &t);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	snprintf(saved, sizeof(saved), "%s/v1.saved", f->dir);
	replica_path(f, key(2, 0, 1), p1);
	replica_path(f, key(2, 0, 3), p3);
	int fd = open(saved, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, t.p3, 4096, 4096 + 5 * 65536), 4096);
	close(fd);
	assert_int_equal(rename(saved, p1), 0);
	assert_int_equal(unlink(p3), 0);
	restart(f);
	memcpy(v2, t.a, T_LEN);
	memcpy(v2, t.p2, 4096);
	memcpy(v3, t.a, T_LEN);
	memcpy(v3 + 5 * 65536, t.p3, 4096);
	struct store_key k2 = key(2, 0, 2), k3 = key(2, 0, 3);
	assert_int_equal(store_verify(f->s, &k2, f->errmsg), 0);
	assert_int_equal(store_verify(f->s, &k3, f->errmsg), 0);
	check_content(f, k2, v2, T_LEN);
	check_content(f, k3, v3, T_LEN);
	free(v2);
	free(v3);
	free(t.a);
	free(t.p2);
	free(t.p3);
}

/* A repair copy (a stamped commit) is fsync'd, never journaled: its
 * rename must reach the disk with the removal of the incarnation it
 * replaces. */
static void
test_repair_copies_are_fsynced(void **state)
{
	struct fx *f = *state;
	unsigned char *b = random_bytes(W_LEN, 13);
	struct store_key k = key(14, 0, 1);
	struct store_writer *w;
	uint64_t puts, cps;

	assert_int_equal(store_set_journal(f->s, JSIZE, f->errmsg), 0);
	assert_int_equal(store_write_begin(f->s, &k, 0, &w, f->errmsg), 0);
	store_write_set_stamp(w, 0x2222);
	assert_int_equal(store_write(w, 0, b, W_LEN, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 1, NULL, NULL, f->errmsg), 0);
	store_journal_stats(f->s, &puts, &cps);
	assert_int_equal(puts, 0);
	/* a client's write of the same size is */
	put(f, key(14, 1, 2), b, W_LEN);
	store_journal_stats(f->s, &puts, &cps);
	assert_int_equal(puts, 1);
	free(b);
}

/* Records in both files (checkpoints held, the active file full): the
 * older file is replayed first, so a file deleted after the rotation
 * stays deleted, and one written after it comes back. */
enum { FILLERS = 12, FILL_LEN = 100 * 1000 };

static int
both_files(struct store *s, void *arg)
{
	struct data *d = arg;
	char errmsg[CFS_ERRMSG_SIZE];
	struct store_key a = key(20, 0, 1);

	/* the child's journal: 1 MiB files, so twelve 100 KB images fill
	 * the first */
	if (store_set_journal(s, MIB, errmsg) != 0)
		return -1;
	store_journal_hold(s, 1);
	if (write_durable(s, a, 0, 0, d->w, FILL_LEN) != 0)
		return -1;
	for (unsigned i = 0; i < FILLERS; i++)
		if (write_durable(s, key(21, i, 1), 0, 0, d->x, FILL_LEN) != 0)
			return -1;
	if (store_delete(s, &a, errmsg) != 0 ||
	    write_durable(s, key(20, 1, 2), 0, 0, d->p, P_LEN) != 0)
		return -1;
	return 0;
}

static void
test_records_in_both_files(void **state)
{
	struct fx *f = *state;
	struct data d;
	char path[PATH_MAX];

	data_make(&d);
	crash_after(f, both_files, &d);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	/* both files hold records: each has d.x's first bytes in one */
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/journal.%d", f->dir, i);
		assert_true(find_in_file(path, d.x, 64) > 0);
	}
	gone(f, key(20, 1, 2));
	for (unsigned i = 0; i < FILLERS; i++)
		gone(f, key(21, i, 1));
	store_close(&f->s);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	assert_int_equal(store_set_journal(f->s, MIB, f->errmsg), 0);
	absent(f, key(20, 0, 1));
	check_content(f, key(20, 1, 2), d.p, P_LEN);
	for (unsigned i = 0; i < FILLERS; i++)
		check_content(f, key(21, i, 1), d.x, FILL_LEN);
	data_free(&d);
}

/* Writers on several threads at once: every record is whole and in the
 * journal when its write returns. */
enum { THREADS = 4, PER_THREAD = 10, TW_LEN = 60 * 1000 };

struct tw {
	struct store *s;
	unsigned t;
	int rc;
};

static void *
tw_run(void *arg)
{
	struct tw *tw = arg;

	for (unsigned i = 0; i < PER_THREAD && tw->rc == 0; i++) {
		unsigned char *b = random_bytes(TW_LEN, 1000 + tw->t * 100 + i);
		tw->rc = write_durable(tw->s, key(30 + tw->t, i, 1), 0, 0, b,
				       TW_LEN);
		free(b);
	}
	return NULL;
}

static int
threads_child(struct store *s, void *arg)
{
	pthread_t th[THREADS];
	struct tw tw[THREADS];
	int rc = 0;

	(void)arg;
	store_journal_hold(s, 1);
	for (unsigned t = 0; t < THREADS; t++) {
		tw[t] = (struct tw){s, t, 0};
		if (pthread_create(&th[t], NULL, tw_run, &tw[t]) != 0)
			return -1;
	}
	for (unsigned t = 0; t < THREADS; t++) {
		pthread_join(th[t], NULL);
		rc |= tw[t].rc;
	}
	return rc;
}

static void
test_concurrent_writers(void **state)
{
	struct fx *f = *state;

	crash_after(f, threads_child, NULL);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	for (unsigned t = 0; t < THREADS; t++)
		for (unsigned i = 0; i < PER_THREAD; i++)
			gone(f, key(30 + t, i, 1));
	restart(f);
	for (unsigned t = 0; t < THREADS; t++)
		for (unsigned i = 0; i < PER_THREAD; i++) {
			unsigned char *b =
				random_bytes(TW_LEN, 1000 + t * 100 + i);
			check_content(f, key(30 + t, i, 1), b, TW_LEN);
			free(b);
		}
}

static int
big_base_and_patch(struct store *s, void *arg)
{
	struct takeover *t = arg;

	if (write_durable(s, key(40, 0, 1), 0, 0, t->a, T_LEN) != 0 ||
	    write_durable(s, key(40, 0, 2), 1, 100, t->p2, 4096) != 0)
		return -1;
	uint64_t puts, cps;
	store_journal_stats(s, &puts, &cps);
	return puts == 1 ? 0 : -1; /* the patch only */
}

/* A patch's image holds only what differs from its base's whole file; if
 * both are lost (a disk that lost what was synced too), the patch cannot
 * be rebuilt: the store still opens, without it (a WARN; reads report it
 * missing and repair replaces it). */
static void
test_missing_base_is_skipped(void **state)
{
	struct fx *f = *state;
	struct takeover t = {f, random_bytes(T_LEN, 4), random_bytes(4096, 5),
			     NULL};

	crash_after(f, big_base_and_patch, &t);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	gone(f, key(40, 0, 1));
	gone(f, key(40, 0, 2));
	restart(f);
	absent(f, key(40, 0, 2));
	free(t.a);
	free(t.p2);
}

/* Little-endian @n bytes at @p. */
static uint64_t
le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The length of the journal record at @r, padding to 64 bytes included. */
static uint64_t
rec_len(const unsigned char *r)
{
	return (64 + le(r + 56, 4) + 63) / 64 * 64;
}

/* The bytes of journal file @path from the end of its last record to the
 * end of that record's 4 KiB page: 1 if all zero, 0 if not, 2 if no
 * record follows its START. */
static int
tail_page_zero(const char *path)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	unsigned char *b = malloc(JSIZE);
	assert_non_null(b);
	size_t len = fread(b, 1, JSIZE, fp);
	fclose(fp);
	uint64_t epoch = le(b + 8, 8), off = 0, seq = 0;
	int records = 0, ok = 1;
	for (;;) {
		uint64_t next = off + rec_len(b + off);
		if (next + 64 > len || memcmp(b + next, "CFSW", 4) != 0 ||
		    le(b + next + 8, 8) != epoch ||
		    le(b + next + 16, 8) != seq + 1)
			break;
		off = next;
		seq++;
		records++;
	}
	if (records == 0) {
		ok = 2;
	} else {
		uint64_t end = off + rec_len(b + off);
		uint64_t page = (end + 4095) / 4096 * 4096;
		for (uint64_t i = end; i < page && i < len; i++)
			ok = ok && b[i] == 0;
	}
	free(b);
	return ok;
}

static int
one_small_file(struct store *s, void *arg)
{
	struct data *d = arg;
	return write_durable(s, key(6, 0, 1), 0, 0, d->p, P_LEN);
}

/* A record is written with zeros through the end of its page (so that the
 * kernel need not read an uncached page before the write), over what an
 * earlier epoch left there; the replay stops at them. */
static void
test_records_end_their_page_with_zeros(void **state)
{
	struct fx *f = *state;
	struct data d;
	char j0[PATH_MAX];

	data_make(&d);
	crash_after(f, three_files, &d); /* big records in journal.0 */
	restart(f);                      /* replayed, both files reset */
	crash_after(f, one_small_file, &d); /* journal.0 again, from 0 */
	snprintf(j0, sizeof(j0), "%s/journal.0", f->dir);
	assert_int_equal(tail_page_zero(j0), 1);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	gone(f, key(6, 0, 1));
	restart(f);
	check_content(f, key(6, 0, 1), d.p, P_LEN);
	check_content(f, key(5, 0, 1), d.w, W_LEN);
	data_free(&d);
}

/* A take-over that failed half way (the file could not grow: EFBIG here,
 * ENOSPC or EIO in production) leaves the new owner's block written into
 * the whole file's pages, not its committed bytes.  A patch built on the
 * owner next must not be journaled as references to those bytes: they
 * are not what the disk, or a replay of that file's own record, gives
 * back. */
#define D_LEN (W_LEN + 2 * 65536)

static int
failed_takeover_child(struct store *s, void *arg)
{
	struct data *d = arg;
	char errmsg[CFS_ERRMSG_SIZE], path[PATH_MAX];
	struct store_key k1 = key(50, 0, 1), k2 = key(50, 0, 2);
	struct store_writer *w;
	struct rlimit rl, old;
	struct stat st;
	int rc;

	if (write_durable(s, k1, 0, 0, d->w, W_LEN) != 0)
		return -1;
	/* v2: 4 KiB in block 0, and the file grown past v1's end */
	if (store_write_begin(s, &k2, 1, &w, errmsg) != 0 ||
	    store_write(w, 100, d->p, P_LEN, errmsg) != 0 ||
	    store_truncate(w, D_LEN, errmsg) != 0 ||
	    store_write_commit(&w, 1, NULL, NULL, errmsg) != 0)
		return -1;
	/* v1 deleted: v2 takes its file over, and growing it fails */
	store_path(s, &k1, path, sizeof(path));
	if (stat(path, &st) != 0)
		return -1;
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	rl = old;
	rl.rlim_cur = (rlim_t)st.st_size;
	setrlimit(RLIMIT_FSIZE, &rl);
	rc = store_delete(s, &k1, errmsg);
	setrlimit(RLIMIT_FSIZE, &old);
	if (rc == 0)
		return -1;
	/* v3: a patch of v2 in block 3, durable, through the journal */
	return write_durable(s, key(50, 0, 3), 2, 3 * 65536 + 10, d->n,
			     P_LEN);
}

static void
test_failed_takeover_base(void **state)
{
	struct fx *f = *state;
	struct data d;
	char p1[PATH_MAX];
	unsigned char *v3 = calloc(1, D_LEN);

	data_make(&d);
	crash_after(f, failed_takeover_child, &d);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	/* the power cut: the page of v1 that the failed take-over dirtied
	 * never reached the disk, nor did v3's file */
	replica_path(f, key(50, 0, 1), p1);
	int fd = open(p1, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, d.w, 65536, 4096), 65536);
	close(fd);
	gone(f, key(50, 0, 3));
	restart(f);
	memcpy(v3, d.w, W_LEN);
	memcpy(v3 + 100, d.p, P_LEN);
	memcpy(v3 + 3 * 65536 + 10, d.n, P_LEN);
	struct store_key k3 = key(50, 0, 3);
	assert_int_equal(store_verify(f->s, &k3, f->errmsg), 0);
	check_content(f, k3, v3, D_LEN);
	free(v3);
	data_free(&d);
}

/* ---- patches in place (store_patch) --------------------------------------- */

struct patch_crash {
	struct data *d;
	int lose_write;	    /* the patch's own write never reached the disk */
	uint64_t copy_stamp; /* then a repair copy replaced the file */
};

/* v1 of (6, 0) written (journaled), then patched in place at P_OFF (one
 * more record); what else @arg says. */
static int
patched_file(struct store *s, void *arg)
{
	struct patch_crash *c = arg;
	struct store_key k = key(6, 0, 1);
	char path[PATH_MAX], errmsg[CFS_ERRMSG_SIZE];
	unsigned char *old = malloc(2 * W_LEN);
	uint64_t puts, cps;
	uint32_t crc;
	struct stat st;
	int fd, rc = -1;

	store_journal_hold(s, 1);
	store_path(s, &k, path, sizeof(path));
	if (old == NULL || write_durable(s, k, 0, 0, c->d->w, W_LEN) != 0 ||
	    (fd = open(path, O_RDWR)) < 0)
		goto out;
	if (fstat(fd, &st) != 0 || st.st_size > 2 * W_LEN ||
	    pread(fd, old, (size_t)st.st_size, 0) != st.st_size ||
	    store_patch(s, &k, W_LEN, W_LEN, P_OFF, c->d->p, P_LEN, &crc, errmsg) !=
		    0 ||
	    crc != crc32c(0, c->d->n, W_LEN) ||
	    (c->lose_write &&
	     pwrite(fd, old, (size_t)st.st_size, 0) != st.st_size)) {
		fprintf(stderr, "patch: %s\n", errmsg);
		close(fd);
		goto out;
	}
	close(fd);
	store_journal_stats(s, &puts, &cps);
	if (puts != 2)
		goto out;
	if (c->copy_stamp != 0) {
		struct store_writer *w;
		if (store_write_begin(s, &k, 0, &w, errmsg) != 0)
			goto out;
		store_write_set_stamp(w, c->copy_stamp);
		if (store_write(w, 0, c->d->x, W_LEN, errmsg) != 0 ||
		    store_write_commit(&w, 1, NULL, NULL, errmsg) != 0) {
			store_write_abort(&w);
			goto out;
		}
	}
	rc = 0;
out:
	free(old);
	return rc;
}

/* Replica (6, 0, 1) holds @want, with its crc, and verifies. */
static void
holds(struct fx *f, const unsigned char *want)
{
	struct store_key k = key(6, 0, 1);
	uint64_t len;
	uint32_t crc;

	check_content(f, k, want, W_LEN);
	assert_int_equal(store_stat(f->s, &k, &len, &crc, NULL, f->errmsg), 0);
	assert_int_equal(crc, crc32c(0, want, W_LEN));
	assert_int_equal(store_verify(f->s, &k, f->errmsg), 0);
}

/* A patch whose write into the file was lost (the file holds the bytes
 * from before it, which check) is written again by the replay. */
static void
test_patch_with_a_lost_file_write_is_replayed(void **state)
{
	struct fx *f = *state;
	struct data d;
	struct patch_crash c = {&d, 1, 0};

	data_make(&d);
	crash_after(f, patched_file, &c);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	holds(f, d.w); /* what the crash left: the old replica */
	restart(f);
	holds(f, d.n);
	restart(f); /* replayed once, the journal is empty: still there */
	holds(f, d.n);
	data_free(&d);
}

/* A patched file lost whole comes back from its image, then the patch. */
static void
test_patch_is_replayed_after_its_files_image(void **state)
{
	struct fx *f = *state;
	struct data d;
	struct patch_crash c = {&d, 0, 0};

	data_make(&d);
	crash_after(f, patched_file, &c);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	gone(f, key(6, 0, 1));
	restart(f);
	holds(f, d.n);
	data_free(&d);
}

/* A repair copy (another stamp) that replaced the patched file is not
 * patched by the replay: the patch was the other incarnation's. */
static void
test_patch_of_another_incarnation_is_not_replayed(void **state)
{
	struct fx *f = *state;
	struct data d;
	struct patch_crash c = {&d, 0, 7};
	uint64_t len, stamp;
	uint32_t crc;
	struct store_key k = key(6, 0, 1);

	data_make(&d);
	crash_after(f, patched_file, &c);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	restart(f);
	holds(f, d.x);
	assert_int_equal(store_stat(f->s, &k, &len, &crc, &stamp, f->errmsg), 0);
	assert_int_equal(stamp, 7);
	data_free(&d);
}

/* ---- appends in place ----------------------------------------------------- */

#define A_N 3
/* Appends to v1 of (7, 0) (W_LEN bytes): inside the last block, across
 * two block boundaries from before the end, then 4 KiB at the end. */
static const uint64_t a_off[A_N] = {W_LEN, W_LEN + 1000 - 10, W_LEN + 70990};
static const size_t a_len[A_N] = {1000, 70000, 4096};

struct append_crash {
	struct data *d;
	int keep; /* appends whose writes into the file reached the disk */
};

/* The bytes of (7, 0, 1) after @n appends into @out (W_LEN + 80000
 * bytes); its length. */
static size_t
appended(const struct data *d, int n, unsigned char *out)
{
	size_t len = W_LEN;

	memcpy(out, d->w, W_LEN);
	for (int i = 0; i < n; i++) {
		memcpy(out + a_off[i], d->x + 1000 * i, a_len[i]);
		len = a_off[i] + a_len[i];
	}
	return len;
}

/* v1 of (7, 0) written, then the appends (a record each); the file then
 * put back as it was after c->keep of them, as if the writes of the
 * others into it never reached the disk. */
static int
appended_file(struct store *s, void *arg)
{
	struct append_crash *c = arg;
	struct store_key k = key(7, 0, 1);
	char path[PATH_MAX], errmsg[CFS_ERRMSG_SIZE] = "";
	unsigned char *keep = NULL, *model = malloc(W_LEN + 80000);
	ssize_t keep_size = -1;
	size_t len = W_LEN;
	uint32_t crc;
	struct stat st;
	int fd = -1, rc = -1;

	store_journal_hold(s, 1);
	store_path(s, &k, path, sizeof(path));
	if (model == NULL || write_durable(s, k, 0, 0, c->d->w, W_LEN) != 0)
		goto out;
	for (int i = 0; i <= A_N; i++) {
		if (i == c->keep) { /* the file as it is now */
			if ((fd = open(path, O_RDWR)) < 0 ||
			    fstat(fd, &st) != 0 ||
			    (keep = malloc((size_t)st.st_size)) == NULL ||
			    pread(fd, keep, (size_t)st.st_size, 0) !=
				    st.st_size)
				goto out;
			keep_size = st.st_size;
		}
		if (i == A_N)
			break;
		size_t want = appended(c->d, i + 1, model);
		if (store_patch(s, &k, len, a_off[i] + a_len[i], a_off[i],
				c->d->x + 1000 * i, a_len[i], &crc,
				errmsg) != 0 ||
		    crc != crc32c(0, model, want)) {
			fprintf(stderr, "append %d: %s\n", i, errmsg);
			goto out;
		}
		len = want;
	}
	if (ftruncate(fd, keep_size) != 0 ||
	    pwrite(fd, keep, (size_t)keep_size, 0) != keep_size)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(keep);
	free(model);
	return rc;
}

/* After a crash the appends' records are replayed in order over whatever
 * state of the file the disk held, leaving the last one's bytes and
 * length, verified.  keep 0: the file as first written (each record is
 * newer and makes it longer); 2: as after two appends (the first two
 * records are older than its size); 3: every write reached it. */
static void
appends_replayed(void **state, int keep)
{
	struct fx *f = *state;
	struct data d;
	struct append_crash c = {&d, keep};
	struct store_key k = key(7, 0, 1);
	unsigned char *want = malloc(W_LEN + 80000);
	uint64_t len;
	uint32_t crc;

	assert_non_null(want);
	data_make(&d);
	crash_after(f, appended_file, &c);
	restart(f);
	size_t wl = appended(&d, A_N, want);
	assert_int_equal(store_stat(f->s, &k, &len, &crc, NULL, f->errmsg), 0);
	assert_int_equal(len, wl);
	assert_int_equal(crc, crc32c(0, want, wl));
	check_content(f, k, want, wl);
	assert_int_equal(store_verify(f->s, &k, f->errmsg), 0);
	free(want);
	data_free(&d);
}

static void
test_appends_replayed_over_the_first_state(void **state)
{
	appends_replayed(state, 0);
}

static void
test_appends_replayed_over_a_later_state(void **state)
{
	appends_replayed(state, 2);
}

static void
test_appends_replayed_over_the_last_state(void **state)
{
	appends_replayed(state, A_N);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lost_files_come_back,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_file_is_rewritten,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_files_stay_deleted,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_record_ends_replay,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_records_end_their_page_with_zeros, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_clean_close_leaves_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_journal_files,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoints_reuse_room,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_files_are_fsynced,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_zero_removes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_takeover_interrupted,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_repair_copies_are_fsynced,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_records_in_both_files,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_base_is_skipped,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_takeover_base,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_patch_with_a_lost_file_write_is_replayed, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_patch_is_replayed_after_its_files_image, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_patch_of_another_incarnation_is_not_replayed,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_appends_replayed_over_the_first_state, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_appends_replayed_over_a_later_state, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_appends_replayed_over_the_last_state, setup,
			teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
