/* test_store_delta.c - fragment store: copies of a base, deltas, patches. */
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "data/store.h"
#include "data/store_int.h"
#include "tests/unit/data/store_fx.h"

/* A version begun from a base starts as its copy: patching 10 bytes in the
 * middle gives the base with the patch, and the base stays intact. */
static void
test_store_base_version_copy_then_patch_keeps_base(void **state)
{
	struct fx *f = *state;
	struct store_key k1 = key(9, 2, 1), k2 = key(9, 2, 2);
	const size_t len = 200000;
	unsigned char *v1 = random_bytes(len, 1), *v2 = malloc(len);
	struct store_writer *w;
	uint32_t crc;
	uint64_t length;

	put(f, k1, v1, len);
	memcpy(v2, v1, len);
	memcpy(v2 + 100000, "0123456789", 10);
	assert_int_equal(store_write_begin(f->s, &k2, 1, &w, f->errmsg), 0);
	assert_int_equal(store_write(w, 100000, "0123456789", 10, f->errmsg),
			 0);
	assert_int_equal(store_write_commit(&w, 1, &crc, &length, f->errmsg),
			 0);
	assert_int_equal(length, len);
	assert_int_equal(crc, crc32c(0, v2, len));
	check_content(f, k2, v2, len);
	check_content(f, k1, v1, len);
	assert_int_equal(store_verify(f->s, &k1, f->errmsg), 0);
	assert_int_equal(store_verify(f->s, &k2, f->errmsg), 0);
	free(v1);
	free(v2);
}

/* Cutting, extending, and writing past the end of a copy of a base give
 * the cut data, then zeros, then what was written. */
static void
test_store_truncate_and_sparse_write_on_a_base_copy(void **state)
{
	struct fx *f = *state;
	struct store_key k1 = key(10, 0, 1), k2 = key(10, 0, 2),
			 k3 = key(10, 0, 3), k4 = key(10, 0, 4);
	unsigned char *v1 = random_bytes(150000, 3), *want = calloc(1, 200001);
	struct store_writer *w;

	put(f, k1, v1, 150000);
	/* Cut inside block 1. */
	assert_int_equal(store_write_begin(f->s, &k2, 1, &w, f->errmsg), 0);
	assert_int_equal(store_truncate(w, 70000, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 0, NULL, NULL, f->errmsg), 0);
	check_content(f, k2, v1, 70000);
	/* Cut, then extend with zeros. */
	memcpy(want, v1, 70000);
	assert_int_equal(store_write_begin(f->s, &k3, 1, &w, f->errmsg), 0);
	assert_int_equal(store_truncate(w, 70000, f->errmsg), 0);
	assert_int_equal(store_truncate(w, 140000, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 0, NULL, NULL, f->errmsg), 0);
	check_content(f, k3, want, 140000);
	/* A write two blocks past the end leaves a hole of zeros that also
	 * fills the short last block of the base. */
	memset(want, 0, 200001);
	memcpy(want, v1, 150000);
	want[200000] = 'x';
	assert_int_equal(store_write_begin(f->s, &k4, 1, &w, f->errmsg), 0);
	assert_int_equal(store_write(w, 200000, "x", 1, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 0, NULL, NULL, f->errmsg), 0);
	check_content(f, k4, want, 200001);
	free(v1);
	free(want);
}

/* A base block that rots before a new version is committed is never
 * copied under a fresh CRC: a write into part of it fails CFS_CORRUPT; a
 * version that shares it (not written) reads CFS_CORRUPT there, as the
 * base does; overwriting it whole heals the new version. */
static void
test_store_commit_refuses_corrupt_block_copied_from_base(void **state)
{
	struct fx *f = *state;
	struct store_key k1 = key(11, 0, 1), k2 = key(11, 0, 2),
			 k3 = key(11, 0, 3);
	unsigned char *v1 = random_bytes(200000, 4), buf[16];
	struct store_writer *w;
	char path[PATH_MAX];
	size_t got;

	put(f, k1, v1, 200000);
	replica_path(f, k1, path);
	flip_byte(path, 4096 + 65536 + 7); /* block 1 */
	assert_int_equal(store_write_begin(f->s, &k2, 1, &w, f->errmsg), 0);
	assert_int_equal(store_write(w, 65536 + 10, "x", 1, f->errmsg),
			 CFS_CORRUPT);
	assert_non_null(strstr(f->errmsg, "block 1"));
	store_write_abort(&w);
	replica_path(f, k2, path);
	assert_false(exists(path));
	/* Shared, not copied: the new version fails where the base does. */
	assert_int_equal(store_write_begin(f->s, &k2, 1, &w, f->errmsg), 0);
	assert_int_equal(store_write(w, 10, "x", 1, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 0, NULL, NULL, f->errmsg), 0);
	assert_int_equal(store_read(f->s, &k2, 65536, buf, 16, &got,
				    f->errmsg),
			 CFS_CORRUPT);
	assert_non_null(strstr(f->errmsg, "block 1 (in the base)"));
	assert_int_equal(store_verify(f->s, &k2, f->errmsg), CFS_CORRUPT);
	/* Overwriting the rotten block heals the new version. */
	assert_int_equal(store_write_begin(f->s, &k3, 1, &w, f->errmsg), 0);
	assert_int_equal(store_write(w, 65536, v1 + 65536, 65536, f->errmsg),
			 0);
	assert_int_equal(store_write(w, 10, "x", 1, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 0, NULL, NULL, f->errmsg), 0);
	v1[10] = 'x';
	check_content(f, k3, v1, 200000);
	free(v1);
}

/* ---- deltas -------------------------------------------------------------- */

/* The format field of the file of replica @k. */
static unsigned
file_format(struct fx *f, struct store_key k)
{
	char path[PATH_MAX];
	unsigned char h[6];
	int fd;

	replica_path(f, k, path);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, h, 6, 0), 6);
	close(fd);
	return h[4] | h[5] << 8;
}

/* Bytes the file of replica @k occupies on disk. */
static long long
file_disk_bytes(struct fx *f, struct store_key k)
{
	char path[PATH_MAX];
	struct stat st;

	replica_path(f, k, path);
	assert_int_equal(stat(path, &st), 0);
	return (long long)st.st_blocks * 512;
}

/* Patch @n bytes of @data at @off as version @k from base version @base;
 * @model gets the same patch. */
static void
patch(struct fx *f, struct store_key k, uint64_t base, uint64_t off,
      const void *data, size_t n, unsigned char *model)
{
	struct store_writer *w;
	uint32_t crc;
	uint64_t len;

	assert_int_equal(store_write_begin(f->s, &k, base, &w, f->errmsg), 0);
	assert_int_equal(store_write(w, off, data, n, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 1, &crc, &len, f->errmsg), 0);
	memcpy(model + off, data, n);
	assert_int_equal(crc, crc32c(0, model, len));
}

/* A 4 KiB patch of a 4 MiB base is a delta: a sparse file holding the one
 * block it touched, reading as base + patch, verified by its own CRC
 * table, with the base left as it was. */
static void
test_store_patch_of_a_base_is_a_small_delta(void **state)
{
	struct fx *f = *state;
	const size_t len = 4u << 20;
	struct store_key k1 = key(70, 1, 1), k2 = key(70, 1, 2);
	unsigned char *v1 = random_bytes(len, 70), *v2 = malloc(len);
	unsigned char *p = random_bytes(4096, 71);

	put(f, k1, v1, len);
	memcpy(v2, v1, len);
	patch(f, k2, 1, (1u << 20) + 100, p, 4096, v2);
	assert_int_equal(file_format(f, k2), STORE_FORMAT_DELTA);
	assert_true(file_disk_bytes(f, k2) < 256 * 1024);
	check_content(f, k2, v2, len);
	check_content(f, k1, v1, len);
	assert_int_equal(store_verify(f->s, &k2, f->errmsg), 0);
	assert_int_equal(store_verify(f->s, &k1, f->errmsg), 0);
	/* A version from a delta is a delta of the same whole file, holding
	 * the delta's blocks and its own. */
	struct store_key k3 = key(70, 1, 3);
	patch(f, k3, 2, 5, "abc", 3, v2);
	assert_int_equal(file_format(f, k3), STORE_FORMAT_DELTA);
	assert_true(file_disk_bytes(f, k3) < 256 * 1024);
	check_content(f, k3, v2, len);
	/* Deleting the whole file: the newest (k3) takes it over, k2 is
	 * rebased on k3. */
	assert_int_equal(store_delete(f->s, &k1, f->errmsg), 0);
	assert_int_equal(file_format(f, k3), STORE_FORMAT);
	assert_int_equal(file_format(f, k2), STORE_FORMAT_DELTA);
	check_content(f, k3, v2, len);
	memcpy(v2 + 5, v1 + 5, 3);
	check_content(f, k2, v2, len);
	assert_int_equal(store_verify(f->s, &k2, f->errmsg), 0);
	free(v1);
	free(v2);
	free(p);
}

/* The hand-over of test_store_patch_of_a_base_is_a_small_delta, run while
 * a reader of k2 has its files open (store_test_opened): k2's old file
 * reads block 0 through k1's file, into which k3 writes its own block 0.
 * The reader reads again from k2's new file rather than report a sound
 * replica corrupt (a client or the scrub would have it marked bad). */
static struct fx *hand_over_fx;
static struct store_key hand_over_base;
static int hand_over_done;

static void
hand_over_now(const struct store_key *k)
{
	if (hand_over_done || k->version != 2)
		return;
	hand_over_done = 1;
	assert_int_equal(store_delete(hand_over_fx->s, &hand_over_base,
				      hand_over_fx->errmsg),
			 0);
}

static void
read_across_a_hand_over(struct fx *f, uint64_t ino, int verify)
{
	const size_t len = 4u << 20;
	struct store_key k1 = key(ino, 1, 1), k2 = key(ino, 1, 2),
			 k3 = key(ino, 1, 3);
	unsigned char *v1 = random_bytes(len, ino), *v2 = malloc(len),
		      *v3 = malloc(len);
	unsigned char *p = random_bytes(4096, ino + 1);

	put(f, k1, v1, len);
	memcpy(v2, v1, len);
	patch(f, k2, 1, (1u << 20) + 100, p, 4096, v2);
	memcpy(v3, v2, len);
	patch(f, k3, 2, 5, "abc", 3, v3);
	hand_over_fx = f;
	hand_over_base = k1;
	hand_over_done = 0;
	store_test_opened = hand_over_now;
	if (verify)
		assert_int_equal(store_verify(f->s, &k2, f->errmsg), 0);
	else
		check_content(f, k2, v2, len);
	store_test_opened = NULL;
	assert_true(hand_over_done);
	assert_int_equal(file_format(f, k3), STORE_FORMAT);
	check_content(f, k2, v2, len);
	check_content(f, k3, v3, len);
	free(v1);
	free(v2);
	free(v3);
	free(p);
}

static void
test_store_read_across_a_hand_over(void **state)
{
	read_across_a_hand_over(*state, 90, 0);
	read_across_a_hand_over(*state, 92, 1);
}

/* A delete that cannot read a header in the fragment's directory (out of
 * file descriptors here; EIO alike) cannot tell whether that file is a
 * delta built on the one it deletes: it fails, and deletes nothing, rather
 * than pull the base from under a live delta. */
static void
test_store_delete_fails_when_a_header_cannot_be_read(void **state)
{
	struct fx *f = *state;
	const size_t len = 300000;
	struct store_key k1 = key(94, 0, 1), k2 = key(94, 0, 2);
	unsigned char *v1 = random_bytes(len, 94), *v2 = malloc(len);
	char path[PATH_MAX];
	int status;

	put(f, k1, v1, len);
	memcpy(v2, v1, len);
	patch(f, k2, 1, 70000, "hello", 5, v2);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* every descriptor below the limit taken but one, which the
		 * directory listing takes: the header's open fails EMFILE */
		struct rlimit rl = {64, 64};
		int last = -1, fd, rc;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(3);
		while ((fd = dup(0)) >= 0)
			last = fd;
		if (last < 0)
			_exit(3);
		close(last);
		rc = store_delete(f->s, &k1, f->errmsg);
		_exit(rc != 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	replica_path(f, k1, path);
	assert_true(exists(path));
	check_content(f, k2, v2, len);
	/* with descriptors to spare it goes through */
	assert_int_equal(store_delete(f->s, &k1, f->errmsg), 0);
	check_content(f, k2, v2, len);
	free(v1);
	free(v2);
}

/* Deleting the base of a delta hands its file to the delta, which becomes
 * a whole replica under its own name; deleting a delta leaves its base. */
static void
test_store_delete_of_a_base_merges_its_delta(void **state)
{
	struct fx *f = *state;
	const size_t len = 300000;
	struct store_key k1 = key(71, 0, 1), k2 = key(71, 0, 2),
			 k3 = key(71, 0, 3);
	unsigned char *v1 = random_bytes(len, 72), *v2 = malloc(len),
		      *v3 = malloc(len);
	char path[PATH_MAX];

	put(f, k1, v1, len);
	memcpy(v2, v1, len);
	memcpy(v3, v1, len);
	patch(f, k2, 1, 70000, "hello", 5, v2);
	patch(f, k3, 1, 299990, "0123456789", 10, v3);
	/* deleting a delta: the base stays */
	assert_int_equal(store_delete_stamp(f->s, &k3, 0, f->errmsg), 0);
	check_content(f, k1, v1, len);
	check_content(f, k2, v2, len);
	/* deleting the base: the delta takes its file over */
	assert_int_equal(store_delete_stamp(f->s, &k1, 0, f->errmsg), 0);
	replica_path(f, k1, path);
	assert_false(exists(path));
	assert_int_equal(file_format(f, k2), STORE_FORMAT);
	check_content(f, k2, v2, len);
	assert_int_equal(store_verify(f->s, &k2, f->errmsg), 0);
	free(v1);
	free(v2);
	free(v3);
}

/* Two deltas on one base both survive its deletion; so does a delta whose
 * base's header was damaged (as by a crash in the middle of a merge). */
static void
test_store_delete_of_a_shared_or_damaged_base_keeps_deltas(void **state)
{
	struct fx *f = *state;
	const size_t len = 200000;
	struct store_key k1 = key(72, 3, 1), k2 = key(72, 3, 2),
			 k3 = key(72, 3, 3), k4 = key(72, 3, 4);
	unsigned char *v1 = random_bytes(len, 73), *v2 = malloc(len),
		      *v3 = malloc(len), *v4 = malloc(len);
	char path[PATH_MAX];

	put(f, k1, v1, len);
	memcpy(v2, v1, len);
	memcpy(v3, v1, len);
	patch(f, k2, 1, 0, "two", 3, v2);
	patch(f, k3, 1, 150000, "three", 5, v3);
	assert_int_equal(store_delete(f->s, &k1, f->errmsg), 0);
	check_content(f, k2, v2, len);
	check_content(f, k3, v3, len);
	assert_int_equal(store_verify(f->s, &k2, f->errmsg), 0);
	assert_int_equal(store_verify(f->s, &k3, f->errmsg), 0);
	/* k4 on k3, then k3's header damaged: deleting k3 still merges */
	memcpy(v4, v3, len);
	patch(f, k4, 3, 100, "four", 4, v4);
	assert_int_equal(file_format(f, k4), STORE_FORMAT_DELTA);
	replica_path(f, k3, path);
	flip_byte(path, 30);
	assert_int_equal(store_delete_stamp(f->s, &k3, 99, f->errmsg), 0);
	assert_false(exists(path));
	check_content(f, k4, v4, len);
	assert_int_equal(store_verify(f->s, &k4, f->errmsg), 0);
	check_content(f, k2, v2, len);
	assert_int_equal(store_verify(f->s, &k2, f->errmsg), 0);
	free(v1);
	free(v2);
	free(v3);
	free(v4);
}

/* A shorter delta takes the whole file over (the file is cut to its
 * length): another delta on the same file that still shares blocks past
 * that length takes them into its own file first, and the compaction of a
 * shorter base keeps a newer delta whole the same way. */
static void
test_store_shorter_delta_takes_over(void **state)
{
	struct fx *f = *state;
	const size_t len = 200 * 1024, cut = 150 * 1024;
	struct store_key k1 = key(73, 0, 1), k2 = key(73, 0, 2),
			 k3 = key(73, 0, 3);
	unsigned char *v1 = random_bytes(len, 74), *v2 = malloc(len),
		      *v3 = malloc(len);
	struct store_writer *w;

	put(f, k1, v1, len);
	memcpy(v2, v1, len);
	patch(f, k2, 1, 0, "two", 3, v2);
	/* v3: v1 cut to 150 KiB, then patched */
	memcpy(v3, v1, len);
	assert_int_equal(store_write_begin(f->s, &k3, 1, &w, f->errmsg), 0);
	assert_int_equal(store_truncate(w, cut, f->errmsg), 0);
	assert_int_equal(store_write(w, 0, "three", 5, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 1, NULL, NULL, f->errmsg), 0);
	memcpy(v3, "three", 5);
	assert_int_equal(file_format(f, k3), STORE_FORMAT_DELTA);
	/* k3 (newest) takes k1's file over; k2 keeps its last block */
	assert_int_equal(store_delete(f->s, &k1, f->errmsg), 0);
	assert_int_equal(file_format(f, k3), STORE_FORMAT);
	check_content(f, k3, v3, cut);
	check_content(f, k2, v2, len);
	assert_int_equal(store_verify(f->s, &k2, f->errmsg), 0);

	/* compaction: base k5 (a delta holding 3 blocks, cut short) of a
	 * newer k6 that shares a block past k5's length */
	struct store_key k4 = key(73, 1, 4), k5 = key(73, 1, 5),
			 k6 = key(73, 1, 6);
	unsigned char *v4 = random_bytes(len, 75), *v5 = malloc(len),
		      *v6 = malloc(len);
	put(f, k4, v4, len);
	memcpy(v6, v4, len);
	patch(f, k6, 4, 10, "six", 3, v6);
	memcpy(v5, v4, len);
	assert_int_equal(store_write_begin(f->s, &k5, 4, &w, f->errmsg), 0);
	assert_int_equal(store_truncate(w, cut, f->errmsg), 0);
	for (int b = 0; b < 3; b++)
		assert_int_equal(store_write(w, (uint64_t)b * 65536 + 7, "five",
					     4, f->errmsg),
				 0);
	assert_int_equal(store_write_commit(&w, 1, NULL, NULL, f->errmsg), 0);
	for (int b = 0; b < 3; b++)
		memcpy(v5 + b * 65536 + 7, "five", 4);
	assert_int_equal(store_compact(f->s, &k5, 2, f->errmsg), 0);
	assert_int_equal(file_format(f, k5), STORE_FORMAT);
	check_content(f, k5, v5, cut);
	check_content(f, k6, v6, len);
	assert_int_equal(store_verify(f->s, &k6, f->errmsg), 0);
	free(v1);
	free(v2);
	free(v3);
	free(v4);
	free(v5);
	free(v6);
}

/* Deleting versions oldest first, as garbage collection does, while new
 * ones are written: every version left reads right at every step, and a
 * delta whose base is a delta (after a hand-over) still reads. */
static void
test_store_versions_written_and_deleted_in_turn(void **state)
{
	struct fx *f = *state;
	const size_t len = 1u << 20;
	unsigned char *v[12];
	char path[PATH_MAX];

	v[1] = random_bytes(len, 74);
	put(f, key(73, 9, 1), v[1], len);
	for (uint64_t ver = 2; ver < 12; ver++) {
		v[ver] = malloc(len);
		memcpy(v[ver], v[ver - 1], len);
		unsigned char b = (unsigned char)ver;
		patch(f, key(73, 9, ver), ver - 1, (ver * 77777) % len, &b, 1,
		      v[ver]);
		if (ver >= 4) { /* keep the last three */
			assert_int_equal(store_delete_stamp(f->s,
							    &(struct store_key){
								73, 9, ver - 3},
							    0, f->errmsg),
					 0);
			replica_path(f, key(73, 9, ver - 3), path);
			assert_false(exists(path));
		}
		for (uint64_t o = ver >= 3 ? ver - 2 : 1; o <= ver; o++) {
			check_content(f, key(73, 9, o), v[o], len);
			assert_int_equal(
			    store_verify(f->s, &(struct store_key){73, 9, o},
					 f->errmsg),
			    0);
		}
	}
	assert_int_equal(store_delete_older(f->s, 73, 9, 11, f->errmsg), 0);
	check_content(f, key(73, 9, 11), v[11], len);
	for (int i = 1; i < 12; i++)
		free(v[i]);
}

/* Cuts and extensions of a version from a base: blocks cut in part, or
 * grown back after a cut, are not shared; the rest are. */
static void
test_store_delta_with_cut_and_growth(void **state)
{
	struct fx *f = *state;
	const size_t len = 5 * 65536 + 1000;
	struct store_key k1 = key(74, 0, 1), k2 = key(74, 0, 2),
			 k3 = key(74, 0, 3);
	unsigned char *v1 = random_bytes(len, 75), *want = calloc(1, 2 * len);
	struct store_writer *w;

	put(f, k1, v1, len);
	/* cut inside block 2, grow to 4 blocks, write one byte in block 4 */
	memcpy(want, v1, 2 * 65536 + 5);
	want[4 * 65536 + 3] = 'q';
	assert_int_equal(store_write_begin(f->s, &k2, 1, &w, f->errmsg), 0);
	assert_int_equal(store_truncate(w, 2 * 65536 + 5, f->errmsg), 0);
	assert_int_equal(store_truncate(w, 4 * 65536, f->errmsg), 0);
	assert_int_equal(store_write(w, 4 * 65536 + 3, "q", 1, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 1, NULL, NULL, f->errmsg), 0);
	assert_int_equal(file_format(f, k2), STORE_FORMAT_DELTA);
	check_content(f, k2, want, 4 * 65536 + 4);
	/* same length, short last block untouched: shared too */
	memcpy(want, v1, len);
	memcpy(want + 65536, "mid", 3);
	assert_int_equal(store_write_begin(f->s, &k3, 1, &w, f->errmsg), 0);
	assert_int_equal(store_write(w, 65536, "mid", 3, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 1, NULL, NULL, f->errmsg), 0);
	check_content(f, k3, want, len);
	assert_true(file_disk_bytes(f, k3) < 3 * 65536);
	assert_int_equal(store_delete(f->s, &k1, f->errmsg), 0);
	check_content(f, k3, want, len);
	memset(want, 0, 2 * len);
	memcpy(want, v1, 2 * 65536 + 5);
	want[4 * 65536 + 3] = 'q';
	check_content(f, k2, want, 4 * 65536 + 4);
	free(v1);
	free(want);
}

/* store_compact: the committed version, a delta that gathered blocks,
 * takes its base's file over; older deltas on that file are deleted, a
 * newer one (a write not committed) is rebased and still reads right; a
 * delta holding few blocks is left alone. */
static void
test_store_compact_makes_the_committed_delta_whole(void **state)
{
	struct fx *f = *state;
	const size_t len = 1u << 20;
	unsigned char *v1 = random_bytes(len, 76), *v[7];
	char path[PATH_MAX];

	put(f, key(75, 2, 1), v1, len);
	v[1] = v1;
	for (uint64_t ver = 2; ver <= 4; ver++) {
		v[ver] = malloc(len);
		memcpy(v[ver], v[ver - 1], len);
		unsigned char b = (unsigned char)ver;
		patch(f, key(75, 2, ver), ver - 1, ver * 100000, &b, 1, v[ver]);
	}
	v[6] = malloc(len); /* from v3, never committed */
	memcpy(v[6], v[3], len);
	patch(f, key(75, 2, 6), 3, 999, "six", 3, v[6]);
	/* v4 holds 3 blocks: not more than 3 */
	assert_int_equal(store_compact(f->s, &(struct store_key){75, 2, 4}, 3,
				       f->errmsg),
			 0);
	assert_int_equal(file_format(f, key(75, 2, 4)), STORE_FORMAT_DELTA);
	assert_int_equal(store_compact(f->s, &(struct store_key){75, 2, 4}, 2,
				       f->errmsg),
			 0);
	assert_int_equal(file_format(f, key(75, 2, 4)), STORE_FORMAT);
	for (uint64_t ver = 1; ver <= 3; ver++) {
		replica_path(f, key(75, 2, ver), path);
		assert_false(exists(path));
	}
	check_content(f, key(75, 2, 4), v[4], len);
	check_content(f, key(75, 2, 6), v[6], len);
	assert_int_equal(store_verify(f->s, &(struct store_key){75, 2, 6},
				      f->errmsg),
			 0);
	/* a whole file: nothing to do */
	assert_int_equal(store_compact(f->s, &(struct store_key){75, 2, 4}, 0,
				       f->errmsg),
			 0);
	check_content(f, key(75, 2, 4), v[4], len);
	for (int i = 1; i <= 4; i++)
		free(v[i]);
	free(v[6]);
}

/* ---- patching in place (store_patch) ------------------------------------ */

/* store_patch of @n bytes of @data at @off into replica @k of @len bytes,
 * and into @model: it answers the CRC of the model, which reads back and
 * verifies. */
static void
patch_in_place(struct fx *f, struct store_key k, size_t len, uint64_t off,
	       const void *data, size_t n, unsigned char *model)
{
	uint32_t crc = 0, scrc;
	uint64_t slen;

	assert_int_equal(store_patch(f->s, &k, len, len, off, data, n, &crc,
				     f->errmsg),
			 0);
	memcpy(model + off, data, n);
	assert_int_equal(crc, crc32c(0, model, len));
	assert_int_equal(store_stat(f->s, &k, &slen, &scrc, NULL, f->errmsg),
			 0);
	assert_int_equal(slen, len);
	assert_int_equal(scrc, crc);
	check_content(f, k, model, len);
	assert_int_equal(store_verify(f->s, &k, f->errmsg), 0);
}

/* A patch inside one block of a whole replica changes those bytes and the
 * CRCs, in the same file (no new version, no rename). */
static void
test_store_patch_in_place_of_a_whole_replica(void **state)
{
	struct fx *f = *state;
	const size_t len = 200000;
	struct store_key k = key(90, 1, 5);
	unsigned char *v = random_bytes(len, 90), *p = random_bytes(100, 91);
	char path[PATH_MAX];
	struct stat a, b;

	put(f, k, v, len);
	replica_path(f, k, path);
	assert_int_equal(stat(path, &a), 0);
	patch_in_place(f, k, len, 70000, p, 100, v);
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(file_format(f, k), STORE_FORMAT);
	free(v);
	free(p);
}

/* Patches across a block boundary, of one whole block, in the short last
 * block, of everything; one too big for a journal record is refused and
 * changes nothing (written around the journal, it would be undone by a
 * replay of the key's earlier records: the client writes a version). */
static void
test_store_patch_in_place_across_blocks_and_at_the_end(void **state)
{
	struct fx *f = *state;
	const size_t len = 3 * 65536 + 1000, big = 1200000;
	struct store_key k = key(91, 0, 3), kb = key(91, 1, 3);
	unsigned char *v = random_bytes(len, 92), *p = random_bytes(big, 93);
	unsigned char *vb = random_bytes(big, 94);

	put(f, k, v, len);
	patch_in_place(f, k, len, 65536 - 10, p, 20, v);
	patch_in_place(f, k, len, 2 * 65536, p + 1, 65536, v);
	patch_in_place(f, k, len, 3 * 65536 + 500, p + 2, 500, v);
	patch_in_place(f, k, len, len - 1, p + 3, 1, v);
	patch_in_place(f, k, len, 0, p + 4, len, v);
	put(f, kb, vb, big);
	uint32_t crc = 1;
	assert_int_equal(store_patch(f->s, &kb, big, big, 3, p + 5, big - 7, &crc,
				     f->errmsg),
			 CFS_EINVAL);
	assert_non_null(strstr(f->errmsg, "more than a journal record"));
	check_content(f, kb, vb, big);
	assert_int_equal(store_verify(f->s, &kb, f->errmsg), 0);
	free(v);
	free(vb);
	free(p);
}

/* A delta is made whole before it is patched: its base's file is taken
 * over (compaction), so the base is gone and the patched version reads on
 * its own.  A delta holding no block of its own is made whole too. */
static void
test_store_patch_in_place_of_a_delta_makes_it_whole(void **state)
{
	struct fx *f = *state;
	const size_t len = 4u << 20;
	struct store_key k1 = key(92, 1, 1), k2 = key(92, 1, 2);
	struct store_key k3 = key(92, 1, 3);
	unsigned char *v = random_bytes(len, 95), *p = random_bytes(5000, 96);
	struct store_writer *w;
	char path[PATH_MAX];

	put(f, k1, v, len);
	patch(f, k2, 1, 1000, p, 10, v);
	assert_int_equal(file_format(f, k2), STORE_FORMAT_DELTA);
	patch_in_place(f, k2, len, 2u << 20, p + 10, 5000 - 10, v);
	assert_int_equal(file_format(f, k2), STORE_FORMAT);
	replica_path(f, k1, path);
	assert_false(exists(path));
	assert_int_equal(store_delete(f->s, &k1, f->errmsg), CFS_ENOENT);
	check_content(f, k2, v, len);
	/* k3: a delta of k2 sharing every block */
	assert_int_equal(store_write_begin(f->s, &k3, 2, &w, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 1, NULL, NULL, f->errmsg), 0);
	assert_int_equal(file_format(f, k3), STORE_FORMAT_DELTA);
	patch_in_place(f, k3, len, 7, p, 3, v);
	assert_int_equal(file_format(f, k3), STORE_FORMAT);
	assert_int_equal(store_delete(f->s, &k2, f->errmsg), CFS_ENOENT);
	check_content(f, k3, v, len);
	free(v);
	free(p);
}

/* No replica: ENOENT; another length: ESTALE; past the end: EINVAL; none
 * changes the replica.  No bytes: the CRC as it is.  A block patched in
 * part is not read whole: one with a bad byte takes the patch and still
 * fails its check, the bad byte outside the patch or under it (not
 * laundered). */
static void
test_store_patch_in_place_refusals(void **state)
{
	struct fx *f = *state;
	const size_t len = 100000;
	struct store_key k = key(93, 2, 9);
	unsigned char *v = random_bytes(len, 97);
	char path[PATH_MAX];
	uint32_t crc = 0;

	assert_int_equal(store_patch(f->s, &k, len, len, 0, "x", 1, &crc, f->errmsg),
			 CFS_ENOENT);
	put(f, k, v, len);
	assert_int_equal(store_patch(f->s, &k, len + 1, len + 1, 0, "x", 1, &crc,
				     f->errmsg),
			 CFS_ESTALE);
	assert_non_null(strstr(f->errmsg, "patched as"));
	assert_int_equal(store_patch(f->s, &k, len, len, len - 1, "xy", 2, &crc,
				     f->errmsg),
			 CFS_EINVAL);
	assert_int_equal(store_patch(f->s, &k, len, len, len + 1, "", 0, &crc,
				     f->errmsg),
			 CFS_EINVAL);
	check_content(f, k, v, len);
	assert_int_equal(store_patch(f->s, &k, len, len, len, "", 0, &crc,
				     f->errmsg),
			 0);
	assert_int_equal(crc, crc32c(0, v, len));
	replica_path(f, k, path);
	flip_byte(path, STORE_HEADER_SIZE + 65536 + 5);
	unsigned char got[65536];
	size_t n;
	assert_int_equal(store_patch(f->s, &k, len, len, 65536, "x", 1, &crc,
				     f->errmsg),
			 0);
	assert_int_equal(store_read(f->s, &k, 65536, got, 100, &n,
				    f->errmsg),
			 CFS_CORRUPT);
	assert_int_equal(store_patch(f->s, &k, len, len, 65536 + 4, "yz", 2, &crc,
				     f->errmsg),
			 0);
	assert_int_equal(store_read(f->s, &k, 65536, got, 100, &n,
				    f->errmsg),
			 CFS_CORRUPT);
	/* block 0 is sound and still takes a patch */
	assert_int_equal(store_patch(f->s, &k, len, len, 10, "abc", 3, &crc,
				     f->errmsg),
			 0);
	memcpy(v + 10, "abc", 3);
	assert_int_equal(store_read(f->s, &k, 0, got, sizeof(got), &n,
				    f->errmsg),
			 0);
	assert_int_equal(n, sizeof(got));
	assert_memory_equal(got, v, sizeof(got));
	free(v);
}

/* Without a journal the patch is written and fdatasync'd, and reads back
 * the same. */
static void
test_store_patch_in_place_without_a_journal(void **state)
{
	struct fx *f = *state;
	const size_t len = 70000;
	struct store_key k = key(94, 0, 1);
	unsigned char *v = random_bytes(len, 98);
	uint64_t puts, cps;

	assert_int_equal(store_set_journal(f->s, 0, f->errmsg), 0);
	put(f, k, v, len);
	patch_in_place(f, k, len, 65530, "0123456789", 10, v);
	store_journal_stats(f->s, &puts, &cps);
	assert_int_equal(puts, 0);
	free(v);
}

/* store_patch appending @n bytes of @data at @off to replica @k of *@len
 * bytes (@off at or before its end, past it after), and to @model: the
 * replica grows to the range's end, answers the model's CRC, reads back
 * and verifies. */
static void
append_in_place(struct fx *f, struct store_key k, size_t *len, uint64_t off,
		const void *data, size_t n, unsigned char *model)
{
	uint32_t crc = 0, scrc;
	uint64_t slen;

	assert_int_equal(store_patch(f->s, &k, *len, off + n, off, data, n,
				     &crc, f->errmsg),
			 0);
	memcpy(model + off, data, n);
	*len = off + n;
	assert_int_equal(crc, crc32c(0, model, *len));
	assert_int_equal(store_stat(f->s, &k, &slen, &scrc, NULL, f->errmsg),
			 0);
	assert_int_equal(slen, *len);
	assert_int_equal(scrc, crc);
	check_content(f, k, model, *len);
	assert_int_equal(store_verify(f->s, &k, f->errmsg), 0);
}

/* Appends in place grow a replica in the same file: inside its short last
 * block, up to a block's end, from a block boundary, overlapping its last
 * bytes and across new blocks; a delta is made whole first; the journal
 * off, the same.  An append that leaves a hole, a range that does not end
 * at the new length, a shrink, a stale length: refused, nothing changed. */
static void
test_store_patch_appends_in_place(void **state)
{
	struct fx *f = *state;
	const size_t cap = 600000;
	size_t len = 100000;
	struct store_key k = key(95, 0, 4), k1 = key(95, 1, 1);
	struct store_key k2 = key(95, 1, 2), k3 = key(95, 2, 1);
	unsigned char *v = calloc(1, cap), *p = random_bytes(cap, 99);
	unsigned char *w = calloc(1, cap);
	char path[PATH_MAX];
	struct stat a, b;
	uint32_t crc = 0;

	assert_non_null(v);
	assert_non_null(w);
	memcpy(v, p + 7, len);
	put(f, k, v, len);
	replica_path(f, k, path);
	assert_int_equal(stat(path, &a), 0);
	append_in_place(f, k, &len, len, p, 10, v);
	append_in_place(f, k, &len, len, p + 10, 2 * 65536 - len, v);
	append_in_place(f, k, &len, len, p + 20, 1, v);
	append_in_place(f, k, &len, len - 5, p + 30, 70000, v);
	append_in_place(f, k, &len, 3, p + 40, len + 30000 - 3, v);
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);

	/* refusals */
	assert_int_equal(store_patch(f->s, &k, len, len + 11, len + 1, p, 10,
				     &crc, f->errmsg),
			 CFS_EINVAL);
	assert_int_equal(store_patch(f->s, &k, len, len + 20, len, p, 10,
				     &crc, f->errmsg),
			 CFS_EINVAL);
	assert_int_equal(store_patch(f->s, &k, len, len - 10, len - 10, p, 10,
				     &crc, f->errmsg),
			 CFS_EINVAL);
	assert_int_equal(store_patch(f->s, &k, len - 1, len + 9, len - 1, p,
				     10, &crc, f->errmsg),
			 CFS_ESTALE);
	check_content(f, k, v, len);
	assert_int_equal(store_verify(f->s, &k, f->errmsg), 0);

	/* a delta: made whole, then appended to */
	size_t dl = 200000;
	memcpy(w, p + 100, dl);
	put(f, k1, w, dl);
	patch(f, k2, 1, 1000, p + 200, 10, w);
	assert_int_equal(file_format(f, k2), STORE_FORMAT_DELTA);
	append_in_place(f, k2, &dl, dl - 100, p + 300, 5000, w);
	assert_int_equal(file_format(f, k2), STORE_FORMAT);

	/* without the journal */
	uint64_t puts0, puts1, cps;
	size_t nl = 65536;
	memcpy(w, p + 500, nl);
	assert_int_equal(store_set_journal(f->s, 0, f->errmsg), 0);
	put(f, k3, w, nl);
	store_journal_stats(f->s, &puts0, &cps);
	append_in_place(f, k3, &nl, nl, p + 600, 4096, w);
	store_journal_stats(f->s, &puts1, &cps);
	assert_int_equal(puts1, puts0);
	free(v);
	free(w);
	free(p);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_store_base_version_copy_then_patch_keeps_base),
	    T(test_store_truncate_and_sparse_write_on_a_base_copy),
	    T(test_store_commit_refuses_corrupt_block_copied_from_base),
	    T(test_store_patch_of_a_base_is_a_small_delta),
	    T(test_store_read_across_a_hand_over),
	    T(test_store_delete_fails_when_a_header_cannot_be_read),
	    T(test_store_delete_of_a_base_merges_its_delta),
	    T(test_store_shorter_delta_takes_over),
	    T(test_store_delete_of_a_shared_or_damaged_base_keeps_deltas),
	    T(test_store_versions_written_and_deleted_in_turn),
	    T(test_store_delta_with_cut_and_growth),
	    T(test_store_compact_makes_the_committed_delta_whole),
	    T(test_store_patch_in_place_of_a_whole_replica),
	    T(test_store_patch_in_place_across_blocks_and_at_the_end),
	    T(test_store_patch_in_place_of_a_delta_makes_it_whole),
	    T(test_store_patch_in_place_refusals),
	    T(test_store_patch_in_place_without_a_journal),
	    T(test_store_patch_appends_in_place),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
