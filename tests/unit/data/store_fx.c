/* store_fx.c - the fixture and helpers the fragment store's unit tests
 * share (test_store.c, test_store_delta.c, test_store_direct.c,
 * test_journal.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "tests/unit/data/store_fx.h"


int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/cfs_test_store_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(f->dir, &f->s, f->errmsg), 0);
	/* as cfs-data runs it: durable commits of small files through the
	 * journal (the smallest, to keep each test's set-up cheap) */
	assert_int_equal(store_set_journal(f->s, MIB, f->errmsg), 0);
	*state = f;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(&f->s);
	assert_null(f->s);
	assert_int_equal(nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

struct store_key
key(uint64_t ino, uint32_t idx, uint64_t version)
{
	struct store_key k = {ino, idx, version};
	return k;
}

unsigned char *
random_bytes(size_t n, uint64_t seed)
{
	unsigned char *p = malloc(n ? n : 1);
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = (unsigned char)x;
	}
	return p;
}

/* Write @data as replica @k in uneven pieces and commit it durably. */
void
put(struct fx *f, struct store_key k, const unsigned char *data, size_t len)
{
	struct store_writer *w;
	uint32_t crc;
	uint64_t got_len;

	assert_int_equal(store_write_begin(f->s, &k, 0, &w, f->errmsg), 0);
	for (size_t off = 0; off < len; off += 100003) {
		size_t n = len - off < 100003 ? len - off : 100003;
		assert_int_equal(store_write(w, off, data + off, n, f->errmsg),
				 0);
	}
	assert_int_equal(store_write_commit(&w, 1, &crc, &got_len, f->errmsg),
			 0);
	assert_null(w);
	assert_int_equal(got_len, len);
	assert_int_equal(crc, crc32c(0, data, len));
}

/* Read all of replica @k and compare with @data: into a page-aligned
 * buffer (whole blocks are read in runs, past the page cache unless they
 * are in it) and into one that is not (block by block). */
void
check_content(struct fx *f, struct store_key k, const unsigned char *data,
	      size_t len)
{
	size_t cap = (len + 10 + 4096) / 4096 * 4096;
	unsigned char *buf = aligned_alloc(4096, cap);

	assert_non_null(buf);
	for (size_t skew = 0; skew <= 1; skew++) {
		size_t got = 12345;
		assert_int_equal(store_read(f->s, &k, 0, buf + skew, len + 10,
					    &got, f->errmsg),
				 0);
		assert_int_equal(got, len);
		assert_memory_equal(buf + skew, data, len);
	}
	free(buf);
}

void
replica_path(struct fx *f, struct store_key k, char *buf)
{
	store_path(f->s, &k, buf, PATH_MAX);
}

void
flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	unsigned char c;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

int
exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}
