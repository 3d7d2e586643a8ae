/* test_store.c - fragment store: data, damage, crash leftovers, GC, ENOSPC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "data/store.h"
#include "data/store_int.h"
#include "tests/unit/data/store_fx.h"

/* Lengths 0, 1, 65535, 65536, 65537 and 4 MiB of random bytes read back
 * identical, and store_stat gives the length and crc32c of the data. */
static void
test_store_roundtrip_of_block_edge_lengths(void **state)
{
	struct fx *f = *state;
	const size_t lens[] = {0, 1, 65535, 65536, 65537, 4 * MIB};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct store_key k = key(0x1234 + i, (uint32_t)i, 7);
		unsigned char *data = random_bytes(lens[i], i);
		uint64_t length;
		uint32_t crc;

		put(f, k, data, lens[i]);
		check_content(f, k, data, lens[i]);
		assert_int_equal(store_stat(f->s, &k, &length, &crc, NULL, f->errmsg),
				 0);
		assert_int_equal(length, lens[i]);
		assert_int_equal(crc, crc32c(0, data, lens[i]));
		assert_int_equal(store_verify(f->s, &k, f->errmsg), 0);
		free(data);
	}
}

/* FS_IOC_GETFLAGS of directory @path into *@flags; 0, or -1 where the
 * filesystem keeps no such flags. */
static int
dir_flags(const char *path, int *flags)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY), rc;

	assert_true(fd >= 0);
	rc = ioctl(fd, FS_IOC_GETFLAGS, flags);
	close(fd);
	return rc;
}

/* The store marks frags/ a top of directory hierarchies (chattr +T) on
 * filesystems that keep the flag, so that ext4 spreads the hash
 * directories over block groups (docs/on-disk-format.md). */
static void
test_store_marks_frags_a_top_directory(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX], probe[PATH_MAX];
	int flags, pflags;

	snprintf(path, sizeof(path), "%s/frags", f->dir);
	snprintf(probe, sizeof(probe), "%s/probe", f->dir);
	assert_int_equal(mkdir(probe, 0755), 0);
	if (dir_flags(probe, &pflags) != 0) {
		skip(); /* no inode flags here (tmpfs, say) */
		return;
	}
	int fd = open(probe, O_RDONLY | O_DIRECTORY);
	pflags |= FS_TOPDIR_FL;
	int settable = ioctl(fd, FS_IOC_SETFLAGS, &pflags) == 0;
	close(fd);
	assert_int_equal(dir_flags(path, &flags), 0);
	if (settable)
		assert_true(flags & FS_TOPDIR_FL);
	/* a store opened again keeps it (and sets nothing else) */
	store_close(&f->s);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	int again;
	assert_int_equal(dir_flags(path, &again), 0);
	assert_int_equal(again, flags);
	assert_int_equal(rmdir(probe), 0);
}

/* The file is laid out as docs say: header fields at their offsets, data
 * at 4096, then one CRC per 64 KiB block and the table's own CRC. */
static void
test_store_file_layout_matches_format(void **state)
{
	struct fx *f = *state;
	struct store_key k = key(0xABCDEF0123456789ull, 3, 9);
	unsigned char *data = random_bytes(65537, 42), *file;
	char path[PATH_MAX], want[PATH_MAX];
	unsigned char ki[12] = {0x89, 0x67, 0x45, 0x23, 0x01, 0xEF,
				0xCD, 0xAB, 3,	  0,	0,    0};
	struct stat st;
	uint32_t v32;
	int fd;

	put(f, k, data, 65537);
	replica_path(f, k, path);
	snprintf(want, sizeof(want), "%s/frags/%02x/abcdef0123456789.3.9",
		 f->dir, crc32c(0, ki, 12) & 0xff);
	assert_string_equal(path, want);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4096 + 65537 + 3 * 4);
	file = malloc((size_t)st.st_size);
	assert_non_null(file);
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, file, (size_t)st.st_size), st.st_size);
	close(fd);
	assert_memory_equal(file, "CFSF", 4);
	assert_int_equal(file[4] | file[5] << 8, 2);
	assert_int_equal(file[6] | file[7] << 8, 4096);
	memcpy(&v32, file + 8, 4);
	assert_int_equal(v32, 65536);
	assert_memory_equal(file + 12, ki, 8);
	assert_memory_equal(file + 20, ki + 8, 4);
	assert_int_equal(file[24], 9);
	assert_int_equal(file[32] | file[33] << 8 | file[34] << 16, 65537);
	memcpy(&v32, file + 40, 4);
	assert_int_equal(v32, crc32c(0, data, 65537));
	for (int i = 44; i < 52; i++) /* stamp: 0 unless set */
		assert_int_equal(file[i], 0);
	memcpy(&v32, file + 52, 4);
	assert_int_equal(v32, crc32c(0, file, 52));
	for (int i = 56; i < 4096; i++)
		assert_int_equal(file[i], 0);
	assert_memory_equal(file + 4096, data, 65537);
	memcpy(&v32, file + 4096 + 65537, 4);
	assert_int_equal(v32, crc32c(0, data, 65536));
	memcpy(&v32, file + 4096 + 65537 + 4, 4);
	assert_int_equal(v32, crc32c(0, data + 65536, 1));
	memcpy(&v32, file + 4096 + 65537 + 8, 4);
	assert_int_equal(v32, crc32c(0, file + 4096 + 65537, 8));
	free(file);
	free(data);
}

/* Reads at block boundaries, across blocks and past the end return exactly
 * the bytes that exist. */
static void
test_store_partial_reads_at_boundaries_across_blocks_and_past_end(void **state)
{
	struct fx *f = *state;
	struct store_key k = key(5, 0, 1);
	const size_t len = 3 * 65536 + 100;
	unsigned char *data = random_bytes(len, 5), buf[200000];
	const struct {
		uint64_t off;
		size_t len, want;
	} cases[] = {
	    {0, 65536, 65536},	   /* exactly block 0 */
	    {65536, 65536, 65536}, /* exactly block 1 */
	    {65535, 2, 2},	   /* one byte each side of a boundary */
	    {100, 150000, 150000}, /* blocks 0..2 */
	    {65536 * 3, 100, 100}, /* the short last block */
	    {len - 10, 100, 10},   /* past the end: short */
	    {len, 100, 0},	   /* at the end: nothing */
	    {len + 5000, 100, 0},  /* beyond the end: nothing */
	    {1000, 0, 0},	   /* empty read */
	};

	put(f, k, data, len);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t got = 99;

		memset(buf, 0xEE, sizeof(buf));
		assert_int_equal(store_read(f->s, &k, cases[i].off, buf,
					    cases[i].len, &got, f->errmsg),
				 0);
		assert_int_equal(got, cases[i].want);
		if (got > 0)
			assert_memory_equal(buf, data + cases[i].off, got);
		assert_int_equal(buf[got], 0xEE);
	}
	free(data);
}

/* A flipped data byte fails reads of its block with CFS_CORRUPT naming
 * path and block; other blocks still read; verify reports it. */
static void
test_store_flipped_data_byte_corrupts_only_its_block(void **state)
{
	struct fx *f = *state;
	struct store_key k = key(20, 1, 3);
	unsigned char *data = random_bytes(3 * 65536, 20), buf[65536];
	char path[PATH_MAX];
	size_t got;

	put(f, k, data, 3 * 65536);
	replica_path(f, k, path);
	flip_byte(path, 4096 + 2 * 65536 + 1234);
	assert_int_equal(
	    store_read(f->s, &k, 2 * 65536 + 10, buf, 10, &got, f->errmsg),
	    CFS_CORRUPT);
	assert_int_equal(got, 0);
	assert_non_null(strstr(f->errmsg, path));
	assert_non_null(strstr(f->errmsg, "block 2"));
	assert_int_equal(
	    store_read(f->s, &k, 65536, buf, 65536, &got, f->errmsg), 0);
	assert_int_equal(got, 65536);
	assert_memory_equal(buf, data + 65536, 65536);
	assert_int_equal(store_verify(f->s, &k, f->errmsg), CFS_CORRUPT);
	assert_non_null(strstr(f->errmsg, "block 2"));
	free(data);
}

/* Damage outside the data is CFS_CORRUPT for every reader: a flipped
 * header byte, a flipped CRC table byte, a truncated file, a byte appended, a
 * wrong magic, a valid replica of another key under this name. */
static void
test_store_damaged_header_table_size_or_magic_is_corrupt(void **state)
{
	struct fx *f = *state;
	unsigned char *data = random_bytes(100000, 21), buf[16];
	const char *what[] = {"header", "table", "truncate",
			      "magic",	"key",	 "append"};
	uint64_t length;
	uint32_t crc;
	size_t got;

	for (uint64_t i = 0; i < 6; i++) {
		struct store_key k = key(21, 0, i + 1);
		char path[PATH_MAX];

		put(f, k, data, 100000);
		replica_path(f, k, path);
		if (i == 0)
			flip_byte(path, 33); /* inside length */
		else if (i == 1)
			flip_byte(path, 4096 + 100000 + 2);
		else if (i == 2)
			assert_int_equal(truncate(path, 4096 + 90000), 0);
		else if (i == 3)
			flip_byte(path, 0);
		else if (i == 5)
			assert_int_equal(truncate(path, 4096 + 100000 + 13), 0);
		else {
			char other[PATH_MAX];
			struct store_key ko = key(21, 0, 99);

			put(f, ko, data, 100000);
			replica_path(f, ko, other);
			assert_int_equal(rename(other, path), 0);
		}
		print_message("damage: %s\n", what[i]);
		assert_int_equal(
		    store_read(f->s, &k, 0, buf, sizeof(buf), &got, f->errmsg),
		    CFS_CORRUPT);
		assert_non_null(strstr(f->errmsg, path));
		assert_int_equal(store_stat(f->s, &k, &length, &crc, NULL, f->errmsg),
				 CFS_CORRUPT);
		assert_int_equal(store_verify(f->s, &k, f->errmsg),
				 CFS_CORRUPT);
	}
	free(data);
}

struct seen {
	struct store_key keys[16];
	int n;
};

static int
collect(void *arg, const struct store_key *k)
{
	struct seen *s = arg;

	assert_true(s->n < 16);
	s->keys[s->n++] = *k;
	return 0;
}

static int
has(const struct seen *s, struct store_key k)
{
	for (int i = 0; i < s->n; i++)
		if (s->keys[i].ino == k.ino && s->keys[i].idx == k.idx &&
		    s->keys[i].version == k.version)
			return 1;
	return 0;
}

/* A temp file left by a crash mid-write is never listed, is removed by
 * store_open, and the committed replica beside it survives. */
static void
test_store_open_removes_leftover_temp_files(void **state)
{
	struct fx *f = *state;
	struct store_key k = key(30, 4, 2), tk = key(30, 4, 3);
	unsigned char *data = random_bytes(1000, 30);
	struct seen seen = {.n = 0};
	char path[PATH_MAX], tmp[PATH_MAX + 32];
	int fd;

	put(f, k, data, 1000);
	replica_path(f, tk, path);
	snprintf(tmp, sizeof(tmp), "%s.tmp.4242.7", path);
	fd = open(tmp, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, 1000), 1000);
	close(fd);
	assert_int_equal(store_list(f->s, collect, &seen, f->errmsg), 0);
	assert_int_equal(seen.n, 1);
	assert_true(has(&seen, k));

	store_close(&f->s);
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	assert_false(exists(tmp));
	assert_false(exists(path));
	check_content(f, k, data, 1000);
	free(data);
}

/* store_list names exactly the committed replicas: not writes in progress,
 * not aborted ones, not stray files. */
static void
test_store_list_lists_exactly_committed_replicas(void **state)
{
	struct fx *f = *state;
	struct store_key ks[3] = {key(40, 0, 1), key(40, 1, 1), key(41, 0, 5)};
	struct store_key open_k = key(42, 0, 1), aborted_k = key(43, 0, 1);
	struct store_writer *open_w, *aborted_w;
	struct seen seen = {.n = 0};
	char path[PATH_MAX], stray[PATH_MAX + 32];
	FILE *fp;

	for (int i = 0; i < 3; i++)
		put(f, ks[i], (const unsigned char *)"abc", 3);
	assert_int_equal(
	    store_write_begin(f->s, &open_k, 0, &open_w, f->errmsg), 0);
	assert_int_equal(store_write(open_w, 0, "x", 1, f->errmsg), 0);
	assert_int_equal(
	    store_write_begin(f->s, &aborted_k, 0, &aborted_w, f->errmsg), 0);
	store_write_abort(&aborted_w);
	assert_null(aborted_w);
	replica_path(f, ks[0], path);
	snprintf(stray, sizeof(stray), "%s.bak", path);
	fp = fopen(stray, "w");
	assert_non_null(fp);
	fclose(fp);

	assert_int_equal(store_list(f->s, collect, &seen, f->errmsg), 0);
	assert_int_equal(seen.n, 3);
	for (int i = 0; i < 3; i++)
		assert_true(has(&seen, ks[i]));
	store_write_abort(&open_w);
}

static int
stop_at_first(void *arg, const struct store_key *k)
{
	(*(int *)arg)++;
	return 1;
}

/* A list callback returning non-zero stops the walk. */
static void
test_store_list_stops_when_callback_says_so(void **state)
{
	struct fx *f = *state;
	int calls = 0;

	for (uint64_t v = 1; v <= 3; v++)
		put(f, key(v * 1000, 0, v), (const unsigned char *)"z", 1);
	assert_int_equal(store_list(f->s, stop_at_first, &calls, f->errmsg), 0);
	assert_int_equal(calls, 1);
}

/* store_delete_older removes the versions below keep_from of one fragment
 * and leaves newer versions and other fragments alone. */
static void
test_store_delete_older_keeps_newest(void **state)
{
	struct fx *f = *state;
	struct seen seen = {.n = 0};

	for (uint64_t v = 1; v <= 4; v++)
		put(f, key(50, 7, v), (const unsigned char *)"data", 4);
	put(f, key(50, 8, 1), (const unsigned char *)"other", 5);
	assert_int_equal(store_delete_older(f->s, 50, 7, 4, f->errmsg), 0);
	assert_int_equal(store_list(f->s, collect, &seen, f->errmsg), 0);
	assert_int_equal(seen.n, 2);
	assert_true(has(&seen, key(50, 7, 4)));
	assert_true(has(&seen, key(50, 8, 1)));
	/* Nothing left to delete is not an error. */
	assert_int_equal(store_delete_older(f->s, 50, 7, 4, f->errmsg), 0);
	assert_int_equal(store_delete_older(f->s, 99, 9, 4, f->errmsg), 0);
}

/* Committing the same bytes again under the same key succeeds and keeps
 * the file; different bytes replace it. */
static void
test_store_commit_of_identical_replica_is_idempotent(void **state)
{
	struct fx *f = *state;
	struct store_key k = key(60, 0, 2);
	unsigned char *a = random_bytes(70000, 60),
		      *b = random_bytes(70000, 61);
	char path[PATH_MAX];
	struct stat st1, st2;

	put(f, k, a, 70000);
	replica_path(f, k, path);
	assert_int_equal(stat(path, &st1), 0);
	put(f, k, a, 70000);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	check_content(f, k, a, 70000);
	put(f, k, b, 70000);
	check_content(f, k, b, 70000);
	free(a);
	free(b);
}

/* A replica that does not exist is CFS_ENOENT, with its path in errmsg,
 * for read, stat, verify and delete; a committed one deletes once. */
static void
test_store_missing_replica_is_enoent_with_message(void **state)
{
	struct fx *f = *state;
	struct store_key k = key(70, 1, 1);
	char path[PATH_MAX], buf[4];
	uint64_t length;
	uint32_t crc;
	size_t got;

	replica_path(f, k, path);
	f->errmsg[0] = '\0';
	assert_int_equal(store_read(f->s, &k, 0, buf, 4, &got, f->errmsg),
			 CFS_ENOENT);
	assert_non_null(strstr(f->errmsg, path));
	assert_non_null(strstr(f->errmsg, cfs_strerror(CFS_ENOENT)));
	assert_int_equal(store_stat(f->s, &k, &length, &crc, NULL, f->errmsg),
			 CFS_ENOENT);
	assert_int_equal(store_verify(f->s, &k, f->errmsg), CFS_ENOENT);
	assert_int_equal(store_delete(f->s, &k, f->errmsg), CFS_ENOENT);
	put(f, k, (const unsigned char *)"abcd", 4);
	assert_int_equal(store_delete(f->s, &k, f->errmsg), 0);
	assert_int_equal(store_delete(f->s, &k, f->errmsg), CFS_ENOENT);
}

/* Write @data as replica @k with @stamp (committed durably). */
static void
put_stamped(struct fx *f, struct store_key k, const unsigned char *data,
	    size_t len, uint64_t stamp)
{
	struct store_writer *w;

	assert_int_equal(store_write_begin(f->s, &k, 0, &w, f->errmsg), 0);
	store_write_set_stamp(w, stamp);
	assert_int_equal(store_write(w, 0, data, len, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 1, NULL, NULL, f->errmsg), 0);
}

/* The stamp goes into the header at 44 (covered by the header CRC at 52)
 * and store_stat reports it. */
static void
test_store_stamp_is_in_the_header_and_stat(void **state)
{
	struct fx *f = *state;
	struct store_key k = key(90, 0, 1);
	unsigned char file[4096];
	char path[PATH_MAX];
	uint64_t length, stamp = 0, v64;
	uint32_t crc, v32;
	int fd;

	put_stamped(f, k, (const unsigned char *)"abcdef", 6,
		    0x0123456789ABCDEFull);
	assert_int_equal(
	    store_stat(f->s, &k, &length, &crc, &stamp, f->errmsg), 0);
	assert_int_equal(length, 6);
	assert_true(stamp == 0x0123456789ABCDEFull);
	replica_path(f, k, path);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, file, 4096, 0), 4096);
	close(fd);
	memcpy(&v64, file + 44, 8);
	assert_true(v64 == 0x0123456789ABCDEFull);
	memcpy(&v32, file + 52, 4);
	assert_int_equal(v32, crc32c(0, file, 52));
	flip_byte(path, 47); /* inside the stamp */
	assert_int_equal(
	    store_stat(f->s, &k, &length, &crc, &stamp, f->errmsg),
	    CFS_CORRUPT);
}

/* Turn format 2 replica @path (stamp 0) into the format 1 file that older
 * code wrote: format 1, header_crc at 44 over 44 bytes, no stamp. */
static void
make_format1(const char *path)
{
	unsigned char h[4096];
	uint32_t crc;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, h, 4096, 0), 4096);
	h[4] = 1;
	h[5] = 0;
	memset(h + 44, 0, 4096 - 44);
	crc = crc32c(0, h, 44);
	memcpy(h + 44, &crc, 4); /* little-endian host */
	assert_int_equal(pwrite(fd, h, 4096, 0), 4096);
	close(fd);
}

/* A format 1 file is still read (stamp 0), verified, listed and deleted by
 * a stamp-0 delete; a format it does not know is CFS_CORRUPT. */
static void
test_store_format1_file_still_readable(void **state)
{
	struct fx *f = *state;
	struct store_key k = key(91, 2, 5);
	unsigned char *data = random_bytes(70000, 91);
	char path[PATH_MAX];
	uint64_t length, stamp = 77;
	uint32_t crc;
	struct seen seen = {.n = 0};

	put(f, k, data, 70000);
	replica_path(f, k, path);
	make_format1(path);
	check_content(f, k, data, 70000);
	assert_int_equal(
	    store_stat(f->s, &k, &length, &crc, &stamp, f->errmsg), 0);
	assert_int_equal(length, 70000);
	assert_int_equal(crc, crc32c(0, data, 70000));
	assert_true(stamp == 0);
	assert_int_equal(store_verify(f->s, &k, f->errmsg), 0);
	assert_int_equal(store_list(f->s, collect, &seen, f->errmsg), 0);
	assert_true(has(&seen, k));
	/* a delete of another incarnation keeps it, of stamp 0 removes it */
	assert_int_equal(store_delete_stamp(f->s, &k, 5, f->errmsg), 0);
	assert_true(exists(path));
	assert_int_equal(store_delete_stamp(f->s, &k, 0, f->errmsg), 0);
	assert_false(exists(path));
	/* format 3 is not known */
	put(f, k, data, 70000);
	flip_byte(path, 4); /* 2 ^ 0x40 */
	assert_int_equal(
	    store_stat(f->s, &k, &length, &crc, NULL, f->errmsg), CFS_CORRUPT);
	assert_non_null(strstr(f->errmsg, "format"));
	free(data);
}

/* The race store_delete_stamp closes: a delete of incarnation A that runs
 * after the key was written again as incarnation B keeps B; the delete of
 * B removes it; no replica is CFS_ENOENT; a header that does not check is
 * deleted whatever the stamp. */
static void
test_store_delete_with_the_wrong_stamp_keeps_it(void **state)
{
	struct fx *f = *state;
	struct store_key k = key(92, 1, 3);
	unsigned char *a = random_bytes(1000, 92);
	char path[PATH_MAX];
	uint64_t length, stamp = 0;
	uint32_t crc;

	replica_path(f, k, path);
	put_stamped(f, k, a, 1000, 0xA);
	assert_int_equal(store_delete_stamp(f->s, &k, 0xA, f->errmsg), 0);
	assert_false(exists(path));
	put_stamped(f, k, a, 1000, 0xB); /* repair copies it back */
	assert_int_equal(store_delete_stamp(f->s, &k, 0xA, f->errmsg), 0);
	assert_true(exists(path));
	assert_int_equal(store_delete_stamp(f->s, &k, 0, f->errmsg), 0);
	assert_true(exists(path));
	check_content(f, k, a, 1000);
	assert_int_equal(
	    store_stat(f->s, &k, &length, &crc, &stamp, f->errmsg), 0);
	assert_true(stamp == 0xB);
	assert_int_equal(store_delete_stamp(f->s, &k, 0xB, f->errmsg), 0);
	assert_false(exists(path));
	assert_int_equal(store_delete_stamp(f->s, &k, 0xB, f->errmsg),
			 CFS_ENOENT);
	put_stamped(f, k, a, 1000, 0xC);
	flip_byte(path, 30); /* inside the version: header crc fails */
	assert_int_equal(store_delete_stamp(f->s, &k, 0xA, f->errmsg), 0);
	assert_false(exists(path));
	free(a);
}

/* A commit of the same bytes under another stamp is not the idempotent
 * retry: the new incarnation replaces the old file. */
static void
test_store_commit_with_another_stamp_replaces(void **state)
{
	struct fx *f = *state;
	struct store_key k = key(93, 0, 4);
	unsigned char *a = random_bytes(5000, 93);
	char path[PATH_MAX];
	struct stat st1, st2;
	uint64_t length, stamp = 0;
	uint32_t crc;

	replica_path(f, k, path);
	put_stamped(f, k, a, 5000, 0xA);
	assert_int_equal(stat(path, &st1), 0);
	put_stamped(f, k, a, 5000, 0xA);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	put_stamped(f, k, a, 5000, 0xB);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_not_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(
	    store_stat(f->s, &k, &length, &crc, &stamp, f->errmsg), 0);
	assert_true(stamp == 0xB);
	free(a);
}

/* Aborting a write leaves no file, and a base version that does not exist
 * starts the new replica empty. */
static void
test_store_abort_leaves_nothing_and_missing_base_starts_empty(void **state)
{
	struct fx *f = *state;
	struct store_key k = key(80, 0, 3);
	struct store_writer *w;
	struct seen seen = {.n = 0};
	uint64_t length;

	assert_int_equal(store_write_begin(f->s, &k, 0, &w, f->errmsg), 0);
	assert_int_equal(store_write(w, 0, "hello", 5, f->errmsg), 0);
	store_write_abort(&w);
	assert_null(w);
	store_write_abort(&w); /* NULL is a no-op */
	assert_int_equal(store_list(f->s, collect, &seen, f->errmsg), 0);
	assert_int_equal(seen.n, 0);
	assert_int_equal(store_write_begin(f->s, &k, 2, &w, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 1, NULL, &length, f->errmsg),
			 0);
	assert_int_equal(length, 0);
}

/* Version 0, a base equal to the version and writes past the maximum
 * length are CFS_EINVAL. */
static void
test_store_rejects_invalid_arguments(void **state)
{
	struct fx *f = *state;
	struct store_key k0 = key(90, 0, 0), k = key(90, 0, 4);
	struct store_writer *w = NULL;

	assert_int_equal(store_write_begin(f->s, &k0, 0, &w, f->errmsg),
			 CFS_EINVAL);
	assert_int_equal(store_write_begin(f->s, &k, 4, &w, f->errmsg),
			 CFS_EINVAL);
	assert_null(w);
	assert_int_equal(store_write_begin(f->s, &k, 0, &w, f->errmsg), 0);
	assert_int_equal(store_write(w, STORE_MAX_LENGTH, "x", 1, f->errmsg),
			 CFS_EINVAL);
	assert_int_equal(store_write(w, UINT64_MAX, "x", 1, f->errmsg),
			 CFS_EINVAL);
	assert_int_equal(store_truncate(w, STORE_MAX_LENGTH + 1, f->errmsg),
			 CFS_EINVAL);
	store_write_abort(&w);
}

/* store_space reports the filesystem's capacity and free bytes, and
 * store_dir the directory given to store_open. */
static void
test_store_space_and_dir(void **state)
{
	struct fx *f = *state;
	uint64_t cap = 0, avail = 0;

	assert_int_equal(store_space(f->s, &cap, &avail, f->errmsg), 0);
	assert_true(cap > 0);
	assert_true(avail <= cap);
	assert_string_equal(store_dir(f->s), f->dir);
}

/* store_open creates the store directory and its missing parents. */
static void
test_store_open_creates_missing_parent_directories(void **state)
{
	struct fx *f = *state;
	struct store *s2;
	struct store_key k = key(95, 0, 1);
	char dir[PATH_MAX], path[PATH_MAX], buf[4];
	struct store_writer *w;
	size_t got;

	snprintf(dir, sizeof(dir), "%s/a/b/c", f->dir);
	assert_int_equal(store_open(dir, &s2, f->errmsg), 0);
	assert_int_equal(store_write_begin(s2, &k, 0, &w, f->errmsg), 0);
	assert_int_equal(store_write(w, 0, "abcd", 4, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 1, NULL, NULL, f->errmsg), 0);
	assert_int_equal(store_read(s2, &k, 0, buf, 4, &got, f->errmsg), 0);
	assert_memory_equal(buf, "abcd", 4);
	store_path(s2, &k, path, sizeof(path));
	assert_true(strncmp(path, dir, strlen(dir)) == 0);
	store_close(&s2);
	assert_null(s2);
	store_close(&s2); /* NULL is a no-op */
}

/* Write @text to the /proc file @path; 0 on success. */
static int
write_proc(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		return -1;
	fputs(text, fp);
	return fclose(fp) != 0 ? -1 : 0;
}

/* In a child process: a private mount namespace (a user namespace too when
 * not root) with a 256 KiB tmpfs at @dir.  0 on success. */
static int
mount_small_fs(const char *dir)
{
	char uid_map[64], gid_map[64];

	if (geteuid() != 0) {
		snprintf(uid_map, sizeof(uid_map), "0 %u 1",
			 (unsigned)geteuid());
		snprintf(gid_map, sizeof(gid_map), "0 %u 1",
			 (unsigned)getegid());
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 ||
		    write_proc("/proc/self/setgroups", "deny") < 0 ||
		    write_proc("/proc/self/uid_map", uid_map) < 0 ||
		    write_proc("/proc/self/gid_map", gid_map) < 0)
			return -1;
	} else if (unshare(CLONE_NEWNS) < 0) {
		return -1;
	}
	/* Keep the tmpfs out of the parent's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	return mount("cfs-test", dir, "tmpfs", 0, "size=256k");
}

/* Run @child(dir) in a child process on a 256 KiB tmpfs mounted at a new
 * directory of the fixture, in a private mount namespace: the test
 * passes if it returns 0 (the number of its failing step otherwise),
 * and is skipped where the machine allows no such namespace. */
static void
run_in_small_fs(struct fx *f, int (*child)(const char *dir))
{
	char dir[PATH_MAX];
	int status;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/small", f->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(mount_small_fs(dir) != 0 ? 77 : child(dir));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Number of temp files in the directory of replica @k. */
static int
count_temps(struct store *s, struct store_key k)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	store_path(s, &k, dir, sizeof(dir));
	*strrchr(dir, '/') = '\0';
	d = opendir(dir);
	while (d != NULL && (de = readdir(d)) != NULL)
		n += strstr(de->d_name, ".tmp.") != NULL;
	if (d != NULL)
		closedir(d);
	return n;
}

/* The ENOSPC case, run in the child (no cmocka asserts there): the failing
 * write is CFS_ENOSPC naming the temp file, which is gone at once; the dead
 * writer refuses further calls; a replica that fits commits afterwards.
 * Returns the number of the failing step, 0 if none. */
static int
enospc_child(const char *dir)
{
	static unsigned char big[512 * 1024];
	char errmsg[CFS_ERRMSG_SIZE] = "";
	struct store_key k = key(1, 0, 1);
	struct store_writer *w;
	struct store *s = NULL;
	int step = 0;

	if (store_open(dir, &s, errmsg) != 0)
		step = 1;
	else if (store_write_begin(s, &k, 0, &w, errmsg) != 0)
		step = 2;
	else if (store_write(w, 0, big, sizeof(big), errmsg) != CFS_ENOSPC ||
		 strstr(errmsg, ".tmp.") == NULL || count_temps(s, k) != 0)
		step = 3;
	else if (store_write(w, 0, "x", 1, errmsg) == 0 ||
		 store_write_commit(&w, 1, NULL, NULL, errmsg) == 0 || w)
		step = 4;
	else if (store_write_begin(s, &k, 0, &w, errmsg) != 0 ||
		 store_write(w, 0, big, 100000, errmsg) != 0 ||
		 store_write_commit(&w, 1, NULL, NULL, errmsg) != 0)
		step = 5;
	if (step != 0)
		fprintf(stderr, "enospc step %d: %s\n", step, errmsg);
	store_close(&s);
	return step;
}

/* A disk that fills up mid-write gives CFS_ENOSPC and frees the temp file
 * (on a small tmpfs in a private mount namespace; skipped where the
 * machine allows no such namespace). */
static void
test_store_enospc_fails_write_and_removes_temp(void **state)
{
	run_in_small_fs(*state, enospc_child);
}

/* The append case, in the child: an append in place (store_patch growing
 * the replica) that the disk has no room for is CFS_ENOSPC and leaves the
 * replica as it was, whole and checking (written half way, its header
 * would say the new length over a table not yet moved); a smaller one
 * then fits.  Returns the number of the failing step, 0 if none. */
static int
enospc_append_child(const char *dir)
{
	static unsigned char big[200000], v[101000];
	char errmsg[CFS_ERRMSG_SIZE] = "";
	struct store_key k = key(2, 0, 1);
	struct store_writer *w;
	struct store *s = NULL;
	uint32_t crc = 0;
	uint64_t len = 0;
	size_t got = 0;
	int step = 0;

	for (size_t i = 0; i < sizeof(v); i++)
		v[i] = (unsigned char)(i * 7);
	if (store_open(dir, &s, errmsg) != 0)
		step = 1;
	else if (store_write_begin(s, &k, 0, &w, errmsg) != 0 ||
		 store_write(w, 0, v, 100000, errmsg) != 0 ||
		 store_write_commit(&w, 1, NULL, NULL, errmsg) != 0)
		step = 2;
	else if (store_patch(s, &k, 100000, 300000, 100000, big, sizeof(big),
			     &crc, errmsg) != CFS_ENOSPC)
		step = 3;
	else if (store_verify(s, &k, errmsg) != 0 ||
		 store_stat(s, &k, &len, &crc, NULL, errmsg) != 0 ||
		 len != 100000 || crc != crc32c(0, v, 100000))
		step = 4;
	else if (store_patch(s, &k, 100000, 101000, 100000, v + 100000, 1000,
			     &crc, errmsg) != 0 ||
		 crc != crc32c(0, v, 101000) ||
		 store_read(s, &k, 0, big, sizeof(big), &got, errmsg) != 0 ||
		 got != 101000 || memcmp(big, v, 101000) != 0 ||
		 store_verify(s, &k, errmsg) != 0)
		step = 5;
	if (step != 0)
		fprintf(stderr, "enospc append step %d: %s\n", step, errmsg);
	store_close(&s);
	return step;
}

/* A disk too full for an append in place refuses it and keeps the
 * replica whole (tmpfs in a private mount namespace, as above). */
static void
test_store_enospc_refuses_an_append_in_place(void **state)
{
	run_in_small_fs(*state, enospc_append_child);
}

struct worker {
	struct store *s;
	uint64_t ino;
	int rc;
};

static void *
worker_run(void *arg)
{
	struct worker *wk = arg;
	unsigned char *data = random_bytes(300000, wk->ino), *buf;
	char errmsg[CFS_ERRMSG_SIZE];

	buf = malloc(300000);
	for (uint64_t v = 1; v <= 5 && wk->rc == 0; v++) {
		struct store_key k = key(wk->ino, 0, v);
		struct store_writer *w;
		size_t got;

		data[v] = (unsigned char)v;
		wk->rc = store_write_begin(wk->s, &k, v - 1, &w, errmsg);
		if (wk->rc == 0 && v == 1)
			wk->rc = store_write(w, 0, data, 300000, errmsg);
		else if (wk->rc == 0)
			wk->rc = store_write(w, v, data + v, 1, errmsg);
		if (wk->rc == 0)
			wk->rc = store_write_commit(&w, 0, NULL, NULL, errmsg);
		else
			store_write_abort(&w);
		if (wk->rc == 0)
			wk->rc =
			    store_read(wk->s, &k, 0, buf, 300000, &got, errmsg);
		if (wk->rc == 0 && (got != 300000 || memcmp(buf, data, got)))
			wk->rc = -1;
		if (wk->rc == 0)
			wk->rc =
			    store_delete_older(wk->s, wk->ino, 0, v, errmsg);
	}
	free(buf);
	free(data);
	return NULL;
}

/* Several threads writing, reading and collecting their own fragments at
 * once all succeed (thread-safety for different keys). */
static void
test_store_threads_on_different_keys(void **state)
{
	struct fx *f = *state;
	struct worker wk[4];
	pthread_t th[4];

	for (int i = 0; i < 4; i++) {
		wk[i] = (struct worker){f->s, 1000 + (uint64_t)i, 0};
		assert_int_equal(
		    pthread_create(&th[i], NULL, worker_run, &wk[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(wk[i].rc, 0);
	}
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_store_roundtrip_of_block_edge_lengths),
	    T(test_store_marks_frags_a_top_directory),
	    T(test_store_file_layout_matches_format),
	    T(test_store_partial_reads_at_boundaries_across_blocks_and_past_end),
	    T(test_store_flipped_data_byte_corrupts_only_its_block),
	    T(test_store_damaged_header_table_size_or_magic_is_corrupt),
	    T(test_store_open_removes_leftover_temp_files),
	    T(test_store_list_lists_exactly_committed_replicas),
	    T(test_store_list_stops_when_callback_says_so),
	    T(test_store_delete_older_keeps_newest),
	    T(test_store_commit_of_identical_replica_is_idempotent),
	    T(test_store_missing_replica_is_enoent_with_message),
	    T(test_store_stamp_is_in_the_header_and_stat),
	    T(test_store_format1_file_still_readable),
	    T(test_store_delete_with_the_wrong_stamp_keeps_it),
	    T(test_store_commit_with_another_stamp_replaces),
	    T(test_store_abort_leaves_nothing_and_missing_base_starts_empty),
	    T(test_store_rejects_invalid_arguments),
	    T(test_store_space_and_dir),
	    T(test_store_open_creates_missing_parent_directories),
	    T(test_store_enospc_fails_write_and_removes_temp),
	    T(test_store_enospc_refuses_an_append_in_place),
	    T(test_store_threads_on_different_keys),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
