/* test_ofile.c - open files: write-back coalescing and its flush points, deferred failures, O_APPEND ends, read windows, fio flags and the write-out hook, hidden files. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/ofile.h"
#include "common/error.h"

/* ---- a fake data path: fio_pwrite and fio_pread on one in-memory file ---- */

#define IMAGE 8192
#define WBUF 256  /* the tests' write-back buffer */
#define WIN 1024  /* the tests' read window */

static uint8_t image[IMAGE];  /* the file as the data nodes have it */
static struct {
	uint64_t ino, off;
	size_t len;
} writes[32];
static unsigned nwrites, nreads;
static int last_read_flags; /* fio_pread_ex's flags, last call */
static uint64_t last_read_off; /* and its offset */
static unsigned nwritten;   /* calls of the written hook */
static uint64_t written_ino;
static int fail_next_write; /* a CFS code for the next fio_pwrite */
static uint64_t last_write_epoch; /* fio_pwrite's lease_epoch, last call */

int
fio_pwrite(struct fio *f, uint64_t ino, uint64_t offset, const void *buf,
	   size_t len, int durable, uint64_t lease_epoch, char *errmsg)
{
	(void)f;
	last_write_epoch = lease_epoch;
	assert_true(durable);
	if (fail_next_write != 0) {
		int rv = fail_next_write;
		fail_next_write = 0;
		return cfs_fail(errmsg, rv, "node 10.0.0.4:7001");
	}
	assert_true(offset + len <= IMAGE);
	assert_true(nwrites < 32);
	writes[nwrites].ino = ino;
	writes[nwrites].off = offset;
	writes[nwrites].len = len;
	nwrites++;
	memcpy(image + offset, buf, len);
	return 0;
}

int
fio_pread_ex(struct fio *f, uint64_t ino, uint64_t offset, void *buf,
	     size_t len, size_t *got, int flags, char *errmsg)
{
	(void)f;
	(void)ino;
	(void)errmsg;
	nreads++;
	last_read_flags = flags;
	last_read_off = offset;
	*got = 0;
	if (offset < IMAGE) {
		*got = IMAGE - offset < len ? IMAGE - offset : len;
		memcpy(buf, image + offset, *got);
	}
	return 0;
}

static void
written(void *arg, uint64_t ino)
{
	assert_ptr_equal(arg, &nwritten);
	nwritten++;
	written_ino = ino;
}

static uint64_t cur_epoch; /* the write lease "held" now */

static struct ofile_table *t;

/* A recall that begins while a write holds the epoch it read (below). */
static int recall_in_epoch;
static pthread_t recaller;

static void *
recall_run(void *arg)
{
	(void)arg;
	ofile_flush_ino_all(t, 7, NULL);
	return NULL;
}

static uint64_t
lease_epoch_of(void *arg, uint64_t ino)
{
	assert_ptr_equal(arg, &cur_epoch);
	(void)ino;
	if (recall_in_epoch) {
		recall_in_epoch = 0;
		assert_int_equal(pthread_create(&recaller, NULL, recall_run,
						NULL),
				 0);
		usleep(50000); /* the recall's flush looks at the files now */
	}
	return cur_epoch;
}

/* ---- fixture ------------------------------------------------------------- */
static char errmsg[CFS_ERRMSG_SIZE];
static uint8_t got_data[IMAGE];
static size_t got_len;

static int
setup(void **state)
{
	const struct ofile_options opt = {.wbuf_max = WBUF, .window = WIN,
					  .window_max_read = WIN - 1,
					  .window_at_zero = 1,
					  .file_max = IMAGE,
					  .written = written,
					  .written_arg = &nwritten,
					  .lease_epoch = lease_epoch_of,
					  .lease_arg = &cur_epoch};
	(void)state;
	memset(image, 0, sizeof(image));
	nwrites = nreads = nwritten = 0;
	last_read_flags = -1;
	fail_next_write = 0;
	cur_epoch = 0;
	recall_in_epoch = 0;
	last_write_epoch = UINT64_MAX;
	errmsg[0] = '\0';
	return ofile_table_new(&t, &opt);
}

static int
teardown(void **state)
{
	(void)state;
	ofile_table_free(&t, NULL, NULL);
	return 0;
}

static struct ofile *
open_ino(uint64_t ino)
{
	struct ofile *f;

	assert_int_equal(ofile_open(t, ino, 0, &f), 0);
	return f;
}

/* @n bytes of value @v at @off */
static int
put(struct ofile *f, uint64_t off, size_t n, int v, unsigned flags)
{
	uint8_t buf[2 * WBUF];

	assert_true(n <= sizeof(buf));
	memset(buf, v, n);
	return ofile_write(t, f, NULL, &off, buf, n, flags, NULL, NULL,
			   errmsg);
}

static void
collect(void *arg, const uint8_t *data, size_t n)
{
	(void)arg;
	memcpy(got_data, data, n);
	got_len = n;
}

static int
get_flags(struct ofile *f, uint64_t off, size_t n, int flags)
{
	uint8_t tmp[IMAGE];
	size_t got;

	return ofile_read(t, f, NULL, off, n, flags, tmp, collect, NULL, &got,
			  errmsg);
}

static int
get(struct ofile *f, uint64_t off, size_t n)
{
	return get_flags(f, off, n, 0);
}

static void
expect_write(unsigned i, uint64_t off, size_t len)
{
	assert_true(i < nwrites);
	assert_int_equal(writes[i].off, off);
	assert_int_equal(writes[i].len, len);
}

/* ---- write-back ---------------------------------------------------------- */

/* Writes that touch or overlap the dirty range join it; nothing goes out
 * until the sync, which writes the whole range once. */
static void
test_ofile_touching_writes_coalesce_into_one_write_out(void **state)
{
	struct ofile *f = open_ino(7);

	(void)state;
	assert_int_equal(put(f, 0, 100, 'a', 0), 0);
	assert_int_equal(put(f, 100, 100, 'b', 0), 0);
	assert_int_equal(put(f, 50, 20, 'c', 0), 0);
	assert_int_equal(nwrites, 0);
	assert_int_equal(ofile_dirty_end(t, 7), 200);
	assert_int_equal(ofile_dirty_end(t, 8), 0);
	assert_int_equal(ofile_sync(t, f, NULL, errmsg), 0);
	assert_int_equal(nwrites, 1);
	expect_write(0, 0, 200);
	assert_int_equal(image[49], 'a');
	assert_int_equal(image[50], 'c');
	assert_int_equal(image[150], 'b');
	assert_int_equal(ofile_dirty_end(t, 7), 0);
	ofile_close(t, f, NULL);
}

/* A write that leaves a gap writes the range out first. */
static void
test_ofile_write_with_a_gap_writes_the_range_out_first(void **state)
{
	struct ofile *f = open_ino(7);

	(void)state;
	assert_int_equal(put(f, 0, 100, 'a', 0), 0);
	assert_int_equal(put(f, 101, 10, 'b', 0), 0);
	assert_int_equal(nwrites, 1);
	expect_write(0, 0, 100);
	assert_int_equal(ofile_dirty_end(t, 7), 111);
	ofile_close(t, f, NULL);
}

/* A range goes out naming the write lease it was started under (fencing:
 * the leader refuses it if that lease is gone); a write under another
 * lease writes the range out first, and a write too big to buffer names
 * the lease it is written under. */
static void
test_ofile_range_goes_out_under_the_lease_it_was_written_under(void **state)
{
	struct ofile *f = open_ino(7);

	(void)state;
	cur_epoch = 7;
	assert_int_equal(put(f, 0, 100, 'a', 0), 0);
	assert_int_equal(put(f, 100, 10, 'b', 0), 0); /* the same lease */
	assert_int_equal(nwrites, 0);
	cur_epoch = 9; /* lost, and granted again */
	assert_int_equal(put(f, 110, 10, 'c', 0), 0);
	assert_int_equal(nwrites, 1);
	expect_write(0, 0, 110);
	assert_int_equal(last_write_epoch, 7);
	cur_epoch = 0; /* lost: the range keeps its lease */
	assert_int_equal(ofile_sync(t, f, NULL, errmsg), 0);
	assert_int_equal(nwrites, 2);
	expect_write(1, 110, 10);
	assert_int_equal(last_write_epoch, 9);
	assert_int_equal(put(f, 0, 2 * WBUF, 'd', 0), 0); /* straight out */
	assert_int_equal(nwrites, 3);
	assert_int_equal(last_write_epoch, 0);
	ofile_close(t, f, NULL);
}

/* A recall's flush (ofile_flush_ino_all) that begins while a write holds
 * the lease's epoch, before the write has buffered anything, waits for the
 * write and sends its range out under that epoch: the release comes only
 * after, so the range is not fenced. */
static void
test_ofile_recall_flush_waits_for_a_write_in_progress(void **state)
{
	struct ofile *f = open_ino(7);

	(void)state;
	cur_epoch = 7;
	recall_in_epoch = 1;
	assert_int_equal(put(f, 0, 100, 'a', 0), 0);
	assert_int_equal(pthread_join(recaller, NULL), 0);
	assert_int_equal(nwrites, 1);
	expect_write(0, 0, 100);
	assert_int_equal(last_write_epoch, 7);
	assert_int_equal(ofile_dirty_end(t, 7), 0);
	ofile_close(t, f, NULL);
}

/* A range that would outgrow the buffer is written out first; a full
 * buffer goes out at once; a write bigger than the buffer goes straight
 * out. */
static void
test_ofile_buffer_limit_decides_the_write_outs(void **state)
{
	struct ofile *f = open_ino(7);

	(void)state;
	assert_int_equal(put(f, 0, 200, 'a', 0), 0);
	assert_int_equal(put(f, 200, 100, 'b', 0), 0); /* 300 > WBUF */
	assert_int_equal(nwrites, 1);
	expect_write(0, 0, 200);
	assert_int_equal(put(f, 300, WBUF - 100, 'c', 0), 0); /* full */
	assert_int_equal(nwrites, 2);
	expect_write(1, 200, WBUF);
	assert_int_equal(ofile_dirty_end(t, 7), 0);
	assert_int_equal(put(f, 1000, WBUF + 1, 'd', 0), 0);
	assert_int_equal(nwrites, 3);
	expect_write(2, 1000, WBUF + 1);
	assert_int_equal(ofile_dirty_end(t, 7), 0);
	ofile_close(t, f, NULL);
}

/* OFILE_SYNC writes the range out after the write. */
static void
test_ofile_sync_flag_writes_out_every_write(void **state)
{
	struct ofile *f = open_ino(7);

	(void)state;
	assert_int_equal(put(f, 0, 10, 'a', OFILE_SYNC), 0);
	assert_int_equal(put(f, 10, 10, 'b', OFILE_SYNC), 0);
	assert_int_equal(nwrites, 2);
	expect_write(1, 10, 10);
	ofile_close(t, f, NULL);
}

/* Only one file of an inode holds dirty data: another file's write, a
 * read, and ofile_flush_ino write it out first. */
static void
test_ofile_other_files_are_written_out_before_a_write_or_read(void **state)
{
	struct ofile *a = open_ino(7), *b = open_ino(7), *c = open_ino(9);

	(void)state;
	assert_int_equal(put(a, 0, 10, 'a', 0), 0);
	assert_int_equal(put(c, 0, 10, 'c', 0), 0); /* another inode */
	assert_int_equal(nwrites, 0);
	assert_int_equal(put(b, 5, 10, 'b', 0), 0);
	assert_int_equal(nwrites, 1);
	expect_write(0, 0, 10);
	assert_int_equal(get(a, 0, 20), 0);
	assert_int_equal(nwrites, 2);
	expect_write(1, 5, 10);
	assert_int_equal(got_data[4], 'a');
	assert_int_equal(got_data[5], 'b');
	ofile_flush_ino(t, 9, NULL, NULL);
	assert_int_equal(nwrites, 3);
	ofile_close(t, a, NULL);
	ofile_close(t, b, NULL);
	ofile_close(t, c, NULL);
}

/* A write-out failure nobody heard of is told once, by the file's next
 * write (or sync), with what the data path said. */
static void
test_ofile_deferred_failure_is_told_once(void **state)
{
	struct ofile *a = open_ino(7), *b = open_ino(7);

	(void)state;
	assert_int_equal(put(a, 0, 10, 'a', 0), 0);
	fail_next_write = CFS_EIO;
	assert_int_equal(put(b, 100, 10, 'b', 0), 0); /* a's goes out, fails */
	assert_int_equal(ofile_dirty_end(t, 7), 110);
	assert_int_equal(put(a, 10, 10, 'a', 0), CFS_EIO);
	assert_non_null(strstr(errmsg, "an earlier write-out failed"));
	assert_non_null(strstr(errmsg, "10.0.0.4:7001"));
	assert_int_equal(put(a, 10, 10, 'a', 0), 0);
	assert_int_equal(ofile_sync(t, a, NULL, errmsg), 0);
	assert_int_equal(put(b, 100, 10, 'b', 0), 0);
	fail_next_write = CFS_EIO;
	assert_int_equal(ofile_sync(t, b, NULL, errmsg), CFS_EIO);
	assert_non_null(strstr(errmsg, "writing 10 bytes at 100"));
	assert_int_equal(ofile_sync(t, b, NULL, errmsg), 0);
	ofile_close(t, a, NULL);
	ofile_close(t, b, NULL);
}

/* OFILE_LEASED keeps a write only while it is buffered under a write
 * lease: one whose lease went since its caller checked goes out before
 * the call returns (libcfs: a write that returned is seen by any read). */
static void
test_ofile_leased_writes_out_without_the_lease(void **state)
{
	struct ofile *f = open_ino(7);
	unsigned before = nwrites;

	(void)state;
	cur_epoch = 5;
	assert_int_equal(put(f, 0, 10, 'x', OFILE_LEASED), 0);
	assert_int_equal(nwrites, before);
	assert_int_equal(ofile_sync(t, f, NULL, errmsg), 0);
	assert_int_equal(last_write_epoch, 5);
	cur_epoch = 0; /* recalled after the caller's check */
	assert_int_equal(put(f, 0, 10, 'y', OFILE_LEASED), 0);
	assert_int_equal(nwrites, before + 2);
	assert_int_equal(ofile_dirty_end(t, 7), 0);
	assert_int_equal(image[3], 'y');
	ofile_close(t, f, NULL);
}

/* fsync through one open file writes out what another file of the inode
 * buffered (fsync is of the file, not of the descriptor), and a failure of
 * that write-out is told to both. */
static void
test_ofile_sync_writes_out_the_other_files(void **state)
{
	struct ofile *a = open_ino(7), *b = open_ino(7);
	unsigned before = nwrites;

	(void)state;
	assert_int_equal(put(b, 0, 10, 'b', 0), 0);
	assert_int_equal(nwrites, before);
	assert_int_equal(ofile_sync(t, a, NULL, errmsg), 0);
	assert_int_equal(nwrites, before + 1);
	assert_int_equal(image[5], 'b');
	assert_int_equal(ofile_dirty_end(t, 7), 0);
	assert_int_equal(put(b, 20, 10, 'c', 0), 0);
	fail_next_write = CFS_EIO;
	assert_int_equal(ofile_sync(t, a, NULL, errmsg), CFS_EIO);
	assert_non_null(strstr(errmsg, "10.0.0.4:7001"));
	assert_int_equal(ofile_sync(t, b, NULL, errmsg), CFS_EIO);
	assert_int_equal(ofile_sync(t, b, NULL, errmsg), 0);
	assert_int_equal(ofile_sync(t, a, NULL, errmsg), 0);
	ofile_close(t, a, NULL);
	ofile_close(t, b, NULL);
}

static int
size_is_1000(void *arg, uint64_t ino, uint64_t *size, char *msg)
{
	(void)arg;
	(void)ino;
	(void)msg;
	*size = 1000;
	return 0;
}

/* O_APPEND goes to the server's size, or past this client's dirty data;
 * past file_max a write is EFBIG. */
static void
test_ofile_append_goes_to_the_end_this_client_knows(void **state)
{
	struct ofile *f = open_ino(7), *g = open_ino(7);
	uint64_t off = 0;

	(void)state;
	assert_int_equal(ofile_write(t, f, NULL, &off, "xy", 2, OFILE_APPEND,
				     size_is_1000, NULL, errmsg),
			 0);
	assert_int_equal(off, 1000);
	off = 0;
	assert_int_equal(ofile_write(t, f, NULL, &off, "z", 1, OFILE_APPEND,
				     size_is_1000, NULL, errmsg),
			 0);
	assert_int_equal(off, 1002);
	assert_int_equal(put(g, IMAGE - 1, 2, 'e', 0), CFS_EFBIG);
	ofile_close(t, f, NULL);
	ofile_close(t, g, NULL);
}

/* ---- read windows ---------------------------------------------------------- */

/* A sequential reader is served from one window read until it leaves the
 * window; a change through this client makes the window stale. */
static void
test_ofile_sequential_reads_are_served_from_the_window(void **state)
{
	struct ofile *f = open_ino(7);

	(void)state;
	memset(image, 'r', sizeof(image));
	assert_int_equal(get(f, 0, 100), 0);
	assert_int_equal(nreads, 1);
	assert_int_equal(get(f, 100, 100), 0);
	assert_int_equal(get(f, 200, WIN - 200), 0);
	assert_int_equal(nreads, 1);
	assert_int_equal(got_len, WIN - 200);
	assert_int_equal(get(f, WIN, 10), 0); /* a new window */
	assert_int_equal(nreads, 2);
	ofile_changed(t, 7);
	assert_int_equal(get(f, WIN + 10, 10), 0);
	assert_int_equal(nreads, 3);
	assert_int_equal(get(f, 5000, 10), 0); /* not sequential */
	assert_int_equal(nreads, 4);
	assert_int_equal(get(f, 5010, WIN), 0); /* too large for the window */
	assert_int_equal(nreads, 5);
	assert_int_equal(got_len, WIN);
	ofile_close(t, f, NULL);
}

/* A stream's requests come out of order (several kernel threads): one in
 * the window after a full window, while the previous read ended in one of
 * the two, fills that next window, aligned, though it is not where the
 * previous read ended; one further on, or after a read elsewhere, does
 * not. */
static void
test_ofile_read_in_the_next_window_fills_it(void **state)
{
	struct ofile *f = open_ino(7);

	(void)state;
	assert_int_equal(get(f, 0, 100), 0); /* window [0, WIN) */
	assert_int_equal(nreads, 1);
	assert_int_equal(get(f, WIN + WIN / 4, 100), 0); /* ahead of the end */
	assert_int_equal(nreads, 2);
	assert_int_equal(last_read_off, WIN); /* the aligned next window */
	assert_int_equal(last_read_flags, FIO_NOKEEP | FIO_SEQUENTIAL);
	assert_int_equal(get(f, WIN, WIN / 4), 0); /* the straggler: in it */
	assert_int_equal(nreads, 2);
	assert_int_equal(get(f, 3 * WIN + 10, 10), 0); /* two windows on */
	assert_int_equal(nreads, 3);
	assert_int_equal(last_read_off, 3 * WIN + 10);
	assert_int_equal(last_read_flags, 0);
	assert_int_equal(get(f, 2 * WIN + 10, 10), 0); /* after a read elsewhere */
	assert_int_equal(nreads, 4);
	assert_int_equal(last_read_off, 2 * WIN + 10);
	ofile_close(t, f, NULL);
}

/* The caller's fio flags reach the data reads, window fills and plain
 * reads alike; window fills also keep nothing in the data cache. */
static void
test_ofile_read_passes_its_fio_flags_down(void **state)
{
	struct ofile *f = open_ino(7);

	(void)state;
	assert_int_equal(get_flags(f, 0, 100, 1), 0); /* a window fill */
	assert_int_equal(last_read_flags,
			 FIO_CACHED | FIO_NOKEEP | FIO_SEQUENTIAL);
	assert_int_equal(get_flags(f, 100, 100, 0), 0); /* from the window */
	assert_int_equal(get_flags(f, 200, 100, 0), 0);
	assert_int_equal(last_read_flags,
			 FIO_CACHED | FIO_NOKEEP | FIO_SEQUENTIAL);
	assert_int_equal(get_flags(f, 300, WIN - 300, 0), 0);
	assert_int_equal(get_flags(f, WIN, 100, 0), 0); /* the next window */
	assert_int_equal(last_read_flags, FIO_NOKEEP | FIO_SEQUENTIAL);
	assert_int_equal(get_flags(f, 5000, 10, 0), 0); /* not sequential */
	assert_int_equal(last_read_flags, 0);
	assert_int_equal(get_flags(f, 3000, 10, 1), 0);
	assert_int_equal(last_read_flags, 1);
	ofile_close(t, f, NULL);
}

/* Every write-out calls the written hook with its inode, a failed one
 * too (some fragments may be committed), and a write too large for the
 * buffer; buffered writes do not. */
static void
test_ofile_every_write_out_calls_the_written_hook(void **state)
{
	struct ofile *f = open_ino(7);
	uint8_t big[WBUF + 1];
	uint64_t off = 0;

	(void)state;
	assert_int_equal(put(f, 0, 10, 'a', 0), 0);
	assert_int_equal(nwritten, 0);
	assert_int_equal(ofile_sync(t, f, NULL, errmsg), 0);
	assert_int_equal(nwritten, 1);
	assert_int_equal(written_ino, 7);
	assert_int_equal(put(f, 0, 10, 'b', 0), 0);
	fail_next_write = CFS_EIO;
	assert_int_equal(ofile_sync(t, f, NULL, errmsg), CFS_EIO);
	assert_int_equal(nwritten, 2);
	memset(big, 'c', sizeof(big));
	assert_int_equal(ofile_write(t, f, NULL, &off, big, sizeof(big), 0,
				     NULL, NULL, errmsg),
			 0);
	assert_int_equal(nwritten, 3);
	ofile_close(t, f, NULL);
}

/* ---- hidden files ------------------------------------------------------------ */

static unsigned hidden_left;

static void
count_hidden(void *arg, const struct ofile_hidden *h)
{
	(void)arg;
	assert_string_equal(h->name + strlen(h->name) - 2, "-2");
	hidden_left++;
}

/* A hidden inode's entry comes back at its last close, or at the end. */
static void
test_ofile_hidden_entry_comes_back_at_the_last_close(void **state)
{
	struct ofile *a = open_ino(7), *b = open_ino(7), *c = open_ino(9);
	struct ofile_hidden h = {.parent = 1}, gone;

	(void)state;
	assert_true(ofile_any_open(t));
	assert_false(ofile_hide_name(t, 8, ".h-", h.name)); /* not open */
	assert_true(ofile_hide_name(t, 7, ".h-", h.name));
	assert_string_equal(h.name, ".h-7-2");
	assert_true(ofile_hide(t, 7, &h));
	assert_false(ofile_hide_name(t, 7, ".h-", h.name)); /* hidden */
	assert_false(ofile_hide(t, 7, &h));
	assert_int_equal(ofile_close(t, a, &gone), 0);
	assert_int_equal(ofile_close(t, b, &gone), 1);
	assert_string_equal(gone.name, ".h-7-2");
	assert_int_equal(gone.parent, 1);
	/* one left open and hidden at the end */
	assert_true(ofile_hide_name(t, 9, ".h-", h.name));
	snprintf(h.name, sizeof(h.name), "x-2");
	assert_true(ofile_hide(t, 9, &h));
	(void)c;
	hidden_left = 0;
	ofile_table_free(&t, count_hidden, NULL);
	assert_int_equal(hidden_left, 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ofile_touching_writes_coalesce_into_one_write_out),
		T(test_ofile_write_with_a_gap_writes_the_range_out_first),
		T(test_ofile_buffer_limit_decides_the_write_outs),
		T(test_ofile_range_goes_out_under_the_lease_it_was_written_under),
		T(test_ofile_recall_flush_waits_for_a_write_in_progress),
		T(test_ofile_sync_flag_writes_out_every_write),
		T(test_ofile_sync_writes_out_the_other_files),
		T(test_ofile_leased_writes_out_without_the_lease),
		T(test_ofile_other_files_are_written_out_before_a_write_or_read),
		T(test_ofile_deferred_failure_is_told_once),
		T(test_ofile_append_goes_to_the_end_this_client_knows),
		T(test_ofile_sequential_reads_are_served_from_the_window),
		T(test_ofile_read_passes_its_fio_flags_down),
		T(test_ofile_read_in_the_next_window_fills_it),
		T(test_ofile_every_write_out_calls_the_written_hook),
		T(test_ofile_hidden_entry_comes_back_at_the_last_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
