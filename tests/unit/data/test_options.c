/* test_options.c - cfs-data's settings table: sane defaults, and the shipped example config matches it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "data/options.h"

/* Every default is inside its bounds, and the heartbeat is short enough
 * for the metadata leader's default dead-node timeout (20 s). */
static void
test_defaults_are_in_bounds(void **state)
{
	struct data_options o;
	char errmsg[CFS_ERRMSG_SIZE] = "";
	assert_int_equal(cfs_conf_defaults(data_option_keys, &o, errmsg), 0);
	assert_true(o.heartbeat * 10 <= 20000);
	assert_true(o.workers >= 2);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = malloc(1 << 20);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* deploy/cfs-data.conf.example is exactly what --print-config writes. */
static void
test_shipped_example_matches_the_table(void **state)
{
	const char *srcdir = getenv("srcdir");
	char path[4096];
	size_t len, glen;
	snprintf(path, sizeof(path), "%s/deploy/cfs-data.conf.example",
		 srcdir ? srcdir : ".");
	char *shipped = slurp(path, &len);
	char *gen = NULL;
	FILE *mem = open_memstream(&gen, &glen);
	cfs_conf_write_example(data_option_keys, DATA_CONF_TITLE, mem);
	fclose(mem);
	if (len != glen || memcmp(shipped, gen, len) != 0)
		fail_msg("%s is out of date: regenerate it with "
			 "`cfs-data --print-config > %s`",
			 path, path);
	free(shipped);
	free(gen);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_in_bounds),
		cmocka_unit_test(test_shipped_example_matches_the_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
