/* test_dcache.c - the name cache: hits, changes and removals forgetting what they make stale, answers that raced a change refused, bounds, complete directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client/dcache.h"

static struct wire_attr
attr_of(uint64_t ino, uint64_t size)
{
	struct wire_attr a;

	memset(&a, 0, sizeof(a));
	a.ino = ino;
	a.size = size;
	a.nlink = 1;
	a.mode = 0100644;
	return a;
}

static int
has(struct dcache *d, uint64_t parent, const char *name, uint64_t ino)
{
	struct wire_attr a;

	return dcache_get(d, parent, name, &a) && a.ino == ino;
}

static void
put_get(void **state)
{
	struct dcache *d;
	struct wire_attr a = attr_of(42, 7), got;

	(void)state;
	assert_int_equal(dcache_new(&d, 16), 0);
	assert_false(dcache_get(d, 1, "f", &got));
	dcache_put(d, dcache_stamp(d), 1, "f", &a);
	assert_true(dcache_get(d, 1, "f", &got));
	assert_int_equal(got.ino, 42);
	assert_int_equal(got.size, 7);
	/* another parent, another name: not the same entry */
	assert_false(dcache_get(d, 2, "f", &got));
	assert_false(dcache_get(d, 1, "g", &got));
	assert_false(dcache_get(d, 1, "ff", &got));
	/* a newer answer replaces the older */
	a.size = 9;
	dcache_put(d, dcache_stamp(d), 1, "f", &a);
	assert_true(dcache_get(d, 1, "f", &got));
	assert_int_equal(got.size, 9);
	dcache_free(&d);
	assert_null(d);
}

static void
changed_forgets_every_name_of_the_inode(void **state)
{
	struct dcache *d;
	struct wire_attr a = attr_of(42, 7), b = attr_of(43, 1);

	(void)state;
	assert_int_equal(dcache_new(&d, 64), 0);
	dcache_put(d, dcache_stamp(d), 1, "f", &a);
	dcache_put(d, dcache_stamp(d), 5, "hardlink", &a);
	dcache_put(d, dcache_stamp(d), 1, "other", &b);
	dcache_changed(d, 42);
	assert_false(has(d, 1, "f", 42));
	assert_false(has(d, 5, "hardlink", 42));
	assert_true(has(d, 1, "other", 43));
	/* asked for after the change: kept */
	dcache_put(d, dcache_stamp(d), 1, "f", &a);
	assert_true(has(d, 1, "f", 42));
	dcache_free(&d);
}

static void
an_answer_that_raced_a_change_is_refused(void **state)
{
	struct dcache *d;
	struct wire_attr a = attr_of(42, 7);
	struct dcache_stats st;

	(void)state;
	assert_int_equal(dcache_new(&d, 64), 0);
	/* a lookup asks, this mount unlinks the name, the answer comes */
	uint64_t s = dcache_stamp(d);
	dcache_put(d, dcache_stamp(d), 1, "f", &a);
	dcache_remove(d, 1, "f");
	dcache_put(d, s, 1, "f", &a);
	assert_false(has(d, 1, "f", 42));
	/* a getattr asks, a setattr of this mount changes the inode */
	s = dcache_stamp(d);
	dcache_changed(d, 42);
	dcache_put(d, s, 1, "g", &a);
	assert_false(has(d, 1, "g", 42));
	dcache_stats(d, &st);
	assert_int_equal(st.refused, 2);
	dcache_free(&d);
}

static void
remove_forgets_the_name_and_its_inode(void **state)
{
	struct dcache *d;
	struct wire_attr a = attr_of(42, 7), b = attr_of(43, 1);

	(void)state;
	assert_int_equal(dcache_new(&d, 64), 0);
	dcache_put(d, dcache_stamp(d), 1, "f", &a);
	dcache_put(d, dcache_stamp(d), 5, "hardlink", &a); /* nlink changes */
	dcache_put(d, dcache_stamp(d), 1, "other", &b);
	dcache_remove(d, 1, "f");
	assert_false(has(d, 1, "f", 42));
	assert_false(has(d, 5, "hardlink", 42));
	assert_true(has(d, 1, "other", 43));
	/* a name not cached: which inode it led to is not known, so what
	 * may be that inode under another name goes: files of several
	 * links, and attributes by inode; files of one link and
	 * directories stay (their one name is not the removed one) */
	struct wire_attr two = attr_of(44, 1), dir = attr_of(45, 0);
	two.nlink = 2;
	dir.mode = 040755;
	dir.nlink = 3;
	dcache_put(d, dcache_stamp(d), 1, "two", &two);
	dcache_put(d, dcache_stamp(d), 1, "dir", &dir);
	dcache_attr_put(d, dcache_stamp(d), &b);
	uint64_t s = dcache_stamp(d);
	dcache_remove(d, 1, "never-seen");
	struct wire_attr got;
	assert_true(has(d, 1, "other", 43));
	assert_true(has(d, 1, "dir", 45));
	assert_false(has(d, 1, "two", 44));
	assert_false(dcache_attr_get(d, 43, &got));
	dcache_put(d, s, 1, "two", &two); /* asked before: refused */
	assert_false(has(d, 1, "two", 44));
	dcache_put(d, dcache_stamp(d), 1, "two", &two);
	assert_true(has(d, 1, "two", 44));
	/* in a complete directory an uncached name was not there */
	dcache_dir_complete(d, 1);
	dcache_remove(d, 1, "never-there");
	assert_true(has(d, 1, "two", 44));
	dcache_free(&d);
}

static void
clear_forgets_everything(void **state)
{
	struct dcache *d;
	struct wire_attr a = attr_of(42, 7);

	(void)state;
	assert_int_equal(dcache_new(&d, 64), 0);
	uint64_t s = dcache_stamp(d);
	dcache_put(d, s, 1, "f", &a);
	dcache_clear(d);
	assert_false(has(d, 1, "f", 42));
	dcache_put(d, s, 1, "f", &a); /* asked before the clear */
	assert_false(has(d, 1, "f", 42));
	dcache_free(&d);
}

static void
long_names_and_a_zero_size_cache_keep_nothing(void **state)
{
	struct dcache *d;
	struct wire_attr a = attr_of(42, 7);
	char name[DCACHE_NAME_MAX + 2];

	(void)state;
	memset(name, 'n', sizeof(name));
	name[DCACHE_NAME_MAX + 1] = '\0';
	assert_int_equal(dcache_new(&d, 64), 0);
	dcache_put(d, dcache_stamp(d), 1, name, &a);
	assert_false(has(d, 1, name, 42));
	name[DCACHE_NAME_MAX] = '\0'; /* the longest kept */
	dcache_put(d, dcache_stamp(d), 1, name, &a);
	assert_true(has(d, 1, name, 42));
	dcache_free(&d);

	assert_int_equal(dcache_new(&d, 0), 0);
	dcache_put(d, dcache_stamp(d), 1, "f", &a);
	assert_false(has(d, 1, "f", 42));
	dcache_changed(d, 42);
	dcache_remove(d, 1, "f");
	dcache_clear(d);
	dcache_free(&d);
}

static void
bounded_and_least_recently_used_goes(void **state)
{
	struct dcache *d;
	struct dcache_stats st;
	char name[32];
	unsigned kept = 0;

	(void)state;
	assert_int_equal(dcache_new(&d, 100), 0); /* rounded up to 128 */
	dcache_stats(d, &st);
	assert_int_equal(st.slots, 128);
	for (unsigned i = 0; i < 1000; i++) {
		struct wire_attr a = attr_of(1000 + i, i);
		snprintf(name, sizeof(name), "file%u", i);
		dcache_put(d, dcache_stamp(d), 1, name, &a);
		/* file0 is used all the time: it must stay */
		assert_true(has(d, 1, "file0", 1000));
	}
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "file%u", i);
		kept += has(d, 1, name, 1000 + i);
	}
	assert_true(kept <= 128);
	assert_true(kept >= 64); /* the last ones put are mostly there */
	dcache_free(&d);
}

static void
complete_directories_answer_absent_names(void **state)
{
	struct dcache *d;
	struct wire_attr a = attr_of(42, 7), b = attr_of(43, 1);
	char name[DCACHE_NAME_MAX + 2];

	(void)state;
	assert_int_equal(dcache_new(&d, 64), 0);
	assert_false(dcache_absent(d, 7, "x")); /* not complete */
	dcache_dir_complete(d, 7);
	assert_true(dcache_absent(d, 7, "x"));
	assert_false(dcache_absent(d, 8, "x")); /* another directory */
	dcache_put(d, dcache_stamp(d), 7, "x", &a);
	assert_false(dcache_absent(d, 7, "x"));
	assert_true(dcache_absent(d, 7, "y"));
	/* a name too long to cache: not known */
	memset(name, 'n', sizeof(name));
	name[DCACHE_NAME_MAX + 1] = '\0';
	assert_false(dcache_absent(d, 7, name));
	/* removed: absent again, still complete */
	dcache_remove(d, 7, "x");
	assert_true(dcache_absent(d, 7, "x"));
	/* the caller added a name it could not put */
	dcache_dir_incomplete(d, 7);
	assert_false(dcache_absent(d, 7, "y"));

	/* a put refused (it raced a change): the name may exist, uncached */
	dcache_dir_complete(d, 7);
	uint64_t s = dcache_stamp(d);
	dcache_changed(d, 43);
	dcache_put(d, s, 7, "z", &b);
	assert_false(dcache_absent(d, 7, "y"));

	/* an entry gone stale and dropped: its name is still there */
	dcache_dir_complete(d, 7);
	dcache_put(d, dcache_stamp(d), 7, "z", &b);
	dcache_changed(d, 43);
	assert_false(dcache_absent(d, 7, "z")); /* the stale slot holds it */
	assert_false(has(d, 7, "z", 43));       /* drops it */
	assert_false(dcache_absent(d, 7, "z"));

	/* clear */
	dcache_dir_complete(d, 7);
	dcache_clear(d);
	assert_false(dcache_absent(d, 7, "y"));
	dcache_free(&d);
}

static void
an_evicted_name_makes_its_directory_incomplete(void **state)
{
	struct dcache *d;
	char name[32];

	(void)state;
	assert_int_equal(dcache_new(&d, 16), 0);
	dcache_dir_complete(d, 7);
	for (unsigned i = 0; i < 16; i++) {
		struct wire_attr a = attr_of(100 + i, 0);
		snprintf(name, sizeof(name), "f%u", i);
		dcache_put(d, dcache_stamp(d), 7, name, &a);
	}
	/* 16 names in 16 slots: unless all sets were hit evenly, some went */
	unsigned kept = 0;
	for (unsigned i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		kept += has(d, 7, name, 100 + i);
	}
	if (kept < 16) /* one was evicted: f-something may exist, uncached */
		assert_false(dcache_absent(d, 7, "nothere"));
	/* more names than slots: surely evicted */
	for (unsigned i = 16; i < 64; i++) {
		struct wire_attr a = attr_of(100 + i, 0);
		snprintf(name, sizeof(name), "f%u", i);
		dcache_put(d, dcache_stamp(d), 7, name, &a);
	}
	assert_false(dcache_absent(d, 7, "nothere"));
	dcache_free(&d);
}

static void
attributes_by_inode(void **state)
{
	struct dcache *d;
	struct wire_attr a = attr_of(42, 7), got, dir = attr_of(9, 0);

	(void)state;
	assert_int_equal(dcache_new(&d, 64), 0);
	assert_false(dcache_attr_get(d, 42, &got));
	uint64_t s = dcache_stamp(d);
	dcache_attr_put(d, s, &a);
	assert_true(dcache_attr_get(d, 42, &got));
	assert_int_equal(got.size, 7);
	assert_false(dcache_attr_get(d, 43, &got));
	dcache_changed(d, 42);
	assert_false(dcache_attr_get(d, 42, &got));
	dcache_attr_put(d, s, &a); /* asked before the change */
	assert_false(dcache_attr_get(d, 42, &got));

	/* this mount's own change of a directory, told by the reply */
	dcache_attr_put(d, dcache_stamp(d), &dir);
	uint64_t since = dcache_stamp(d);
	dir.mtime_ns = 1000;
	dcache_changed_to(d, since, &dir);
	assert_true(dcache_attr_get(d, 9, &got));
	assert_int_equal(got.mtime_ns, 1000);
	/* two changes at once: the second cannot tell the first's effect */
	since = dcache_stamp(d);
	dir.mtime_ns = 2000;
	dcache_changed_to(d, since, &dir); /* the first, kept */
	dir.mtime_ns = 3000;
	dcache_changed_to(d, since, &dir); /* asked before the first ended */
	assert_false(dcache_attr_get(d, 9, &got));
	dcache_clear(d);
	dcache_changed_to(d, since, &dir);
	assert_false(dcache_attr_get(d, 9, &got));
	dcache_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(put_get),
		cmocka_unit_test(changed_forgets_every_name_of_the_inode),
		cmocka_unit_test(an_answer_that_raced_a_change_is_refused),
		cmocka_unit_test(remove_forgets_the_name_and_its_inode),
		cmocka_unit_test(clear_forgets_everything),
		cmocka_unit_test(long_names_and_a_zero_size_cache_keep_nothing),
		cmocka_unit_test(bounded_and_least_recently_used_goes),
		cmocka_unit_test(complete_directories_answer_absent_names),
		cmocka_unit_test(an_evicted_name_makes_its_directory_incomplete),
		cmocka_unit_test(attributes_by_inode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
