/* test_bcache.c - the data cache: blocks named by version, pages, the end of a version, the bound and CLOCK replacement, many threads at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/bcache.h"

#define B BCACHE_BLOCK

static struct bcache_key
key(uint64_t ino, uint64_t idx, uint64_t version, uint32_t block)
{
	struct bcache_key k = {.ino = ino, .idx = idx, .version = version,
			       .crc = (uint32_t)(version * 7 + 1),
			       .block = block};
	return k;
}

/* A block whose bytes say which key they belong to. */
static void
fill(uint8_t *buf, const struct bcache_key *k, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(k->ino * 31 + k->idx * 17 + k->version * 13 +
				   k->block * 7 + i);
}

static int
holds(struct bcache *c, const struct bcache_key *k, uint32_t off, size_t n)
{
	static uint8_t want[B], got[B];

	fill(want, k, B);
	memset(got, 0xee, n);
	if (!bcache_get(c, k, off, got, n))
		return 0;
	assert_memory_equal(got, want + off, n);
	return 1;
}

static void
put_get_by_version(void **state)
{
	static uint8_t buf[B];
	struct bcache *c;
	struct bcache_key k = key(5, 2, 40, 3);
	struct bcache_stats st;

	(void)state;
	assert_int_equal(bcache_new(&c, 64ull << 20), 0);
	assert_non_null(c);
	assert_false(holds(c, &k, 0, 4096));
	fill(buf, &k, B);
	bcache_put(c, &k, 0, buf, B);
	assert_true(holds(c, &k, 0, 4096));
	assert_true(holds(c, &k, B - 4096, 4096));
	assert_true(holds(c, &k, 100, B - 100));
	/* the same block of another version, crc, fragment or file: no */
	struct bcache_key o = k;
	o.version = 41;
	assert_false(holds(c, &o, 0, 4096));
	o = k;
	o.crc++;
	assert_false(holds(c, &o, 0, 4096));
	o = k;
	o.idx = 1;
	assert_false(holds(c, &o, 0, 4096));
	o = k;
	o.ino = 6;
	assert_false(holds(c, &o, 0, 4096));
	o = k;
	o.block = 4;
	assert_false(holds(c, &o, 0, 4096));
	bcache_stats(c, &st);
	assert_int_equal(st.puts, 1);
	assert_int_equal(st.hits, 3);
	assert_int_equal(st.misses, 6);
	assert_int_equal(st.slots, 1024);
	bcache_free(&c);
	assert_null(c);
}

static void
pages_answer_only_what_they_hold(void **state)
{
	static uint8_t buf[B];
	struct bcache *c;
	struct bcache_key k = key(9, 0, 3, 0);
	const uint32_t P = BCACHE_PAGE;

	(void)state;
	assert_int_equal(bcache_new(&c, 64ull << 20), 0);
	fill(buf, &k, B);
	/* page 1 alone, as a 4 KiB read that missed keeps it */
	bcache_put(c, &k, P, buf + P, P);
	assert_true(holds(c, &k, P, P));
	assert_true(holds(c, &k, P + 100, 200));
	assert_false(holds(c, &k, 0, P));
	assert_false(holds(c, &k, P - 1, 2)); /* spans pages 0 and 1 */
	assert_false(holds(c, &k, P, P + 1));
	bcache_put(c, &k, 0, buf, P);
	assert_true(holds(c, &k, 0, 2 * P));
	/* not at a page boundary, nothing, or past the block: ignored */
	bcache_put(c, &k, 100, buf + 100, P);
	assert_false(holds(c, &k, 2 * P, 1));
	struct bcache_key k2 = key(9, 0, 3, 1);
	bcache_put(c, &k2, 0, buf, 0);
	bcache_put(c, &k2, B - P, buf, 2 * P);
	assert_false(holds(c, &k2, B - P, 1));
	bcache_free(&c);
}

/* Where the version's readable bytes end inside a page: that page is
 * kept, and nothing past the end is ever answered. */
static void
the_last_page_ends_where_the_version_does(void **state)
{
	static uint8_t buf[B];
	struct bcache *c;
	struct bcache_key k = key(9, 0, 4, 2);

	(void)state;
	assert_int_equal(bcache_new(&c, 64ull << 20), 0);
	fill(buf, &k, B);
	bcache_put(c, &k, 0, buf, 10000);
	assert_true(holds(c, &k, 0, 10000));
	assert_true(holds(c, &k, 9000, 1000));
	assert_false(holds(c, &k, 9000, 1001));
	assert_false(holds(c, &k, 0, B));
	/* a truncation cut the readable length to 5000 since: still no
	 * more than 5000 bytes are answered once a read said so */
	bcache_put(c, &k, 4096, buf + 4096, 5000 - 4096);
	assert_true(holds(c, &k, 0, 5000));
	assert_false(holds(c, &k, 0, 5001));
	bcache_free(&c);
}

static void
too_small_or_null_keeps_nothing(void **state)
{
	static uint8_t buf[B];
	struct bcache *c = (struct bcache *)1;
	struct bcache_key k = key(1, 1, 1, 1);
	struct bcache_stats st;

	(void)state;
	assert_int_equal(bcache_new(&c, 15 * (uint64_t)B), 0);
	assert_null(c);
	assert_false(bcache_has_room(c));
	bcache_put(c, &k, 0, buf, B);
	assert_false(bcache_get(c, &k, 0, buf, 1));
	bcache_stats(c, &st);
	assert_int_equal(st.slots, 0);
	bcache_free(&c);
	assert_true(bcache_default_bytes() >= (64ull << 20));
	assert_true(bcache_default_bytes() <= (4ull << 30));
}

/* 16 blocks of room (one per stripe): many more blocks put keep at most
 * that many, and a block read again and again outlives the others. */
static void
bounded_and_clock_keeps_what_is_read(void **state)
{
	static uint8_t buf[B];
	struct bcache *c;
	struct bcache_key hot = key(100, 0, 1, 0);
	struct bcache_stats st;
	int kept = 0;

	(void)state;
	assert_int_equal(bcache_new(&c, 64ull << 20), 0); /* 1024 slots */
	assert_true(bcache_has_room(c));
	fill(buf, &hot, B);
	bcache_put(c, &hot, 0, buf, B);
	for (uint32_t b = 1; b <= 20000; b++) {
		struct bcache_key k = key(100, 0, 1, b);
		fill(buf, &k, B);
		bcache_put(c, &k, 0, buf, B);
		assert_true(holds(c, &hot, 0, 16)); /* referenced: kept */
	}
	for (uint32_t b = 1; b <= 20000; b++) {
		struct bcache_key k = key(100, 0, 1, b);
		kept += holds(c, &k, 0, 16);
	}
	assert_false(bcache_has_room(c)); /* every slot was filled */
	assert_true(kept <= 1024 - 1);
	assert_true(kept >= 1024 / 2); /* the last ones put are there */
	assert_true(holds(c, &(struct bcache_key){.ino = 100, .idx = 0,
						  .version = 1, .crc = 8,
						  .block = 20000},
			  0, 16));
	bcache_stats(c, &st);
	assert_int_equal(st.puts, 20001);
	bcache_free(&c);
}

struct worker {
	struct bcache *c;
	int id, bad;
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	uint8_t *buf = malloc(B), *want = malloc(B);

	for (int i = 0; i < 20000; i++) {
		struct bcache_key k = key((uint64_t)(i % 3), 0,
					  (uint64_t)(i % 5 + 1),
					  (uint32_t)((i * 7919 + w->id) % 300));
		if (i % 3 == 0) {
			fill(buf, &k, B);
			bcache_put(w->c, &k, 0, buf, B);
		} else if (bcache_get(w->c, &k, 512, buf, 8192)) {
			fill(want, &k, B);
			w->bad += memcmp(buf, want + 512, 8192) != 0;
		}
	}
	free(buf);
	free(want);
	return NULL;
}

static void
threads_never_see_torn_or_foreign_blocks(void **state)
{
	struct bcache *c;
	pthread_t th[4];
	struct worker w[4];

	(void)state;
	assert_int_equal(bcache_new(&c, 8ull << 20), 0); /* 128 slots */
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){.c = c, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	bcache_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(put_get_by_version),
		cmocka_unit_test(pages_answer_only_what_they_hold),
		cmocka_unit_test(the_last_page_ends_where_the_version_does),
		cmocka_unit_test(too_small_or_null_keeps_nothing),
		cmocka_unit_test(bounded_and_clock_keeps_what_is_read),
		cmocka_unit_test(threads_never_see_torn_or_foreign_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
