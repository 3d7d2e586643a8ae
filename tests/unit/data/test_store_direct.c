/* test_store_direct.c - fragment store: O_DIRECT writes and reads, the
 * page cache, and random writes against a model with and without them. */
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
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "data/store.h"
#include "tests/unit/data/store_fx.h"

/* xorshift64: the property test's choices, reproducible from its seed. */
static uint64_t
next_rand(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

/* One random write or cut of a writer and of its model (@model, *@mlen
 * bytes, room for MODEL_MAX): page-aligned writes of 64 KiB and more (the
 * O_DIRECT path), unaligned large ones (a direct middle between buffered
 * ends), small ones, ones from a block's start, and truncations. */
#define MODEL_MAX (6 * MIB)
static void
random_change(struct fx *f, struct store_writer *w, unsigned char *model,
	      size_t *mlen, uint64_t *x)
{
	uint64_t kind = next_rand(x) % 6, off, len;

	switch (kind) {
	case 0: /* aligned, whole pages */
		off = next_rand(x) % (MODEL_MAX / 4096) * 4096;
		len = (16 + next_rand(x) % 512) * 4096;
		break;
	case 1: /* unaligned, large */
		off = next_rand(x) % MODEL_MAX;
		len = 1 + next_rand(x) % (3 * MIB / 2);
		break;
	case 2: /* small */
		off = next_rand(x) % MODEL_MAX;
		len = 1 + next_rand(x) % 5000;
		break;
	case 3: /* from a block's start, ending anywhere */
		off = next_rand(x) % (MODEL_MAX / 65536) * 65536;
		len = 1 + next_rand(x) % (300 * 1024);
		break;
	default: { /* cut or grow */
		size_t to = next_rand(x) % MODEL_MAX;
		assert_int_equal(store_truncate(w, to, f->errmsg), 0);
		if (to > *mlen)
			memset(model + *mlen, 0, to - *mlen);
		*mlen = to;
		return;
	}
	}
	if (off + len > MODEL_MAX)
		len = MODEL_MAX - off;
	if (len == 0)
		return;
	unsigned char *data = random_bytes(len, next_rand(x));
	assert_int_equal(store_write(w, off, data, len, f->errmsg), 0);
	if (off > *mlen)
		memset(model + *mlen, 0, off - *mlen);
	memcpy(model + off, data, len);
	if (off + len > *mlen)
		*mlen = off + len;
	free(data);
}

/* Random writes and cuts, with and without O_DIRECT, each version built
 * on the one before or from nothing: every committed version reads back
 * as the model, its CRC is the model's, and the scrub passes.  (Catches a
 * CRC noted for a block that changed after, and data lost between the
 * direct and the buffered parts of a write.) */
static void
test_store_random_writes_direct_and_buffered_match_a_model(void **state)
{
	struct fx *f = *state;
	unsigned char *model = malloc(MODEL_MAX), *prev = malloc(MODEL_MAX);
	size_t mlen = 0, plen = 0;
	uint64_t x = 0x5eed;

	assert_non_null(model);
	assert_non_null(prev);
	for (int direct = 1; direct >= 0; direct--) {
		store_set_direct(f->s, direct);
		for (uint64_t v = 1; v <= 24; v++) {
			struct store_key k = key(77, (uint32_t)direct, v);
			struct store_writer *w;
			uint64_t base = v > 1 && next_rand(&x) % 3 ? v - 1 : 0;
			uint64_t length;
			uint32_t crc;
			int n = 1 + (int)(next_rand(&x) % 8);

			assert_int_equal(store_write_begin(f->s, &k, base, &w,
							   f->errmsg),
					 0);
			mlen = base ? plen : 0;
			memcpy(model, prev, mlen);
			for (int i = 0; i < n; i++)
				random_change(f, w, model, &mlen, &x);
			assert_int_equal(store_write_commit(&w, v % 2, &crc,
							    &length, f->errmsg),
					 0);
			assert_int_equal(length, mlen);
			assert_int_equal(crc, crc32c(0, model, mlen));
			assert_int_equal(store_verify(f->s, &k, f->errmsg), 0);
			assert_int_equal(store_stat(f->s, &k, &length, &crc,
						    NULL, f->errmsg),
					 0);
			assert_int_equal(crc, crc32c(0, model, mlen));
			check_content(f, k, model, mlen);
			memcpy(prev, model, mlen);
			plen = mlen;
		}
	}
	free(model);
	free(prev);
}

/* Pages of replica @k's data area (past the header) in the page cache, in
 * percent. */
static int
cached_percent(struct fx *f, struct store_key k, size_t len)
{
	char path[PATH_MAX];
	size_t pages = (4096 + len + 4095) / 4096, in = 0;
	unsigned char *vec = malloc(pages);
	int fd;

	replica_path(f, k, path);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	void *p = mmap(NULL, 4096 + len, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	assert_non_null(vec);
	assert_int_equal(mincore(p, 4096 + len, vec), 0);
	for (size_t i = 1; i < pages; i++)
		in += vec[i] & 1;
	munmap(p, 4096 + len);
	close(fd);
	free(vec);
	return (int)(in * 100 / (pages - 1));
}

/* A 4 MiB write goes past the page cache with O_DIRECT and through it
 * without, and the seal reads nothing back (which would cache it).  On
 * ext4 and XFS only: tmpfs has nothing to go past, and some filesystems
 * take O_DIRECT but cache all the same (ZFS before 2.3, btrfs with
 * compression). */
static void
test_store_bulk_writes_go_past_the_page_cache(void **state)
{
	struct fx *f = *state;
	unsigned char *data = random_bytes(4 * MIB, 99);
	int cached[2];
	struct statfs sf;

	assert_int_equal(statfs(f->dir, &sf), 0);
	if (sf.f_type != 0xEF53 && sf.f_type != 0x58465342) { /* ext4, XFS */
		free(data);
		skip();
	}
	for (int direct = 0; direct <= 1; direct++) {
		struct store_key k = key(5, (uint32_t)direct, 1);
		struct store_writer *w;

		store_set_direct(f->s, direct);
		assert_int_equal(store_write_begin(f->s, &k, 0, &w, f->errmsg),
				 0);
		assert_int_equal(store_write(w, 0, data, 4 * MIB, f->errmsg),
				 0);
		assert_int_equal(store_write_commit(&w, 1, NULL, NULL,
						    f->errmsg),
				 0);
		cached[direct] = cached_percent(f, k, 4 * MIB);
		check_content(f, k, data, 4 * MIB);
	}
	assert_true(cached[0] > 90);
	assert_true(cached[1] < 5);
	free(data);
}

/* Reading whole blocks into an aligned buffer goes past the page cache
 * (O_DIRECT) unless the pages are cached already, and still checks every
 * block; into an unaligned buffer, or with direct_io off, it reads through
 * the cache.  The scrub's store_verify reads past it.  ext4 and XFS only,
 * as above. */
static void
test_store_bulk_reads_go_past_the_page_cache(void **state)
{
	struct fx *f = *state;
	unsigned char *data = random_bytes(4 * MIB, 98);
	unsigned char *buf = aligned_alloc(4096, 4 * MIB + 4096);
	struct store_key k = key(6, 0, 1);
	struct store_writer *w;
	char path[PATH_MAX];
	struct statfs sf;
	size_t got;
	int fd;

	assert_int_equal(statfs(f->dir, &sf), 0);
	if (sf.f_type != 0xEF53 && sf.f_type != 0x58465342) { /* ext4, XFS */
		free(data);
		free(buf);
		skip();
	}
	assert_non_null(buf);
	assert_int_equal(store_write_begin(f->s, &k, 0, &w, f->errmsg), 0);
	assert_int_equal(store_write(w, 0, data, 4 * MIB, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 1, NULL, NULL, f->errmsg), 0);
	replica_path(f, k, path);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	for (int round = 0; round < 3; round++) {
		/* 0: direct, aligned; 1: direct, unaligned; 2: buffered */
		store_set_direct(f->s, round < 2);
		assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED),
				 0);
		assert_true(cached_percent(f, k, 4 * MIB) < 5);
		assert_int_equal(store_read(f->s, &k, 0, buf + (round == 1),
					    4 * MIB, &got, f->errmsg),
				 0);
		assert_int_equal(got, 4 * MIB);
		assert_memory_equal(buf + (round == 1), data, 4 * MIB);
		if (round == 0)
			assert_true(cached_percent(f, k, 4 * MIB) < 5);
		else
			assert_true(cached_percent(f, k, 4 * MIB) > 90);
	}
	/* the scrub's check reads past it too */
	store_set_direct(f->s, 1);
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	assert_int_equal(store_verify(f->s, &k, f->errmsg), 0);
	assert_true(cached_percent(f, k, 4 * MIB) < 5);
	/* damage in block 40 shows through a direct read too */
	close(fd);
	flip_byte(path, 4096 + 40 * 65536 + 7);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(fdatasync(fd), 0);
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(fd);
	assert_int_equal(store_read(f->s, &k, 0, buf, 4 * MIB, &got, f->errmsg),
			 CFS_CORRUPT);
	assert_non_null(strstr(f->errmsg, "block 40"));
	assert_int_equal(store_verify(f->s, &k, f->errmsg), CFS_CORRUPT);
	assert_non_null(strstr(f->errmsg, "block 40"));
	free(data);
	free(buf);
}

/* A replica whose blocks went to the disk with O_DIRECT (a 4 MiB write
 * of whole pages) patched in place through the page cache, in part of a
 * block and across blocks, reads back right both past the page cache and
 * through it, and verifies (the scrub reads from the disk). */
static void
test_store_patch_in_place_of_a_replica_written_direct(void **state)
{
	struct fx *f = *state;
	const size_t len = 4 * MIB;
	struct store_key k = key(96, 0, 2);
	unsigned char *v = random_bytes(len, 99), *p = random_bytes(200000, 9);
	struct store_writer *w;
	uint32_t crc;

	assert_int_equal(store_write_begin(f->s, &k, 0, &w, f->errmsg), 0);
	assert_int_equal(store_write(w, 0, v, len, f->errmsg), 0);
	assert_int_equal(store_write_commit(&w, 1, NULL, NULL, f->errmsg), 0);
	assert_int_equal(store_patch(f->s, &k, len, len, 4095, p, 3, &crc,
				     f->errmsg),
			 0);
	memcpy(v + 4095, p, 3);
	assert_int_equal(store_patch(f->s, &k, len, len, MIB - 7, p, 200000, &crc,
				     f->errmsg),
			 0);
	memcpy(v + MIB - 7, p, 200000);
	assert_int_equal(crc, crc32c(0, v, len));
	check_content(f, k, v, len);
	assert_int_equal(store_verify(f->s, &k, f->errmsg), 0);
	free(v);
	free(p);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_store_random_writes_direct_and_buffered_match_a_model),
	    T(test_store_bulk_writes_go_past_the_page_cache),
	    T(test_store_bulk_reads_go_past_the_page_cache),
	    T(test_store_patch_in_place_of_a_replica_written_direct),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
