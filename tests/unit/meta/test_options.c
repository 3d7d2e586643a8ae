/* test_options.c - cfs-meta's settings table: sane defaults, and the shipped example config matches it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "meta/options.h"

/* Every default is inside its own bounds (cfs_conf_defaults checks). */
static void
test_defaults_are_in_bounds(void **state)
{
	struct meta_options o;
	char errmsg[CFS_ERRMSG_SIZE] = "";
	assert_int_equal(cfs_conf_defaults(meta_option_keys, &o, errmsg), 0);
	assert_true(o.heartbeat_timeout * 2 <= o.election_timeout);
	assert_true(o.pre_vote);
	assert_int_equal(o.default_goal, 3);
}

/* Read a whole file into memory. */
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

/* deploy/cfs-meta.conf.example is exactly what --print-config writes, so
 * it documents every key with the current defaults and ranges. */
static void
test_shipped_example_matches_the_table(void **state)
{
	const char *srcdir = getenv("srcdir");
	char path[4096];
	size_t len, glen;
	snprintf(path, sizeof(path), "%s/deploy/cfs-meta.conf.example",
		 srcdir ? srcdir : ".");
	char *shipped = slurp(path, &len);

	char *gen = NULL;
	FILE *mem = open_memstream(&gen, &glen);
	cfs_conf_write_example(meta_option_keys, "cfs-meta configuration",
			       mem);
	fclose(mem);
	if (len != glen || memcmp(shipped, gen, len) != 0)
		fail_msg("%s is out of date: regenerate it with "
			 "`cfs-meta --print-config > %s`",
			 path, path);
	free(shipped);
	free(gen);
}

/* Uncommenting every key of the example gives back the defaults: the
 * example is a valid config file. */
static void
test_uncommented_example_parses_to_defaults(void **state)
{
	struct meta_options def, got;
	char errmsg[CFS_ERRMSG_SIZE] = "";
	char *gen = NULL;
	size_t glen;
	FILE *mem = open_memstream(&gen, &glen);
	cfs_conf_write_example(meta_option_keys, "cfs-meta configuration",
			       mem);
	fclose(mem);
	/* "#key = value" lines become "key = value" */
	char *text = malloc(glen + 1), *w = text;
	for (char *line = gen; *line;) {
		char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) + 1 : strlen(line);
		int is_key = line[0] == '#' && line[1] != ' ' && line[1] != '#' &&
			     line[1] != '\n' && memchr(line, '=', n) != NULL;
		memcpy(w, line + is_key, n - is_key);
		w += n - is_key;
		line += n;
	}
	*w = '\0';
	memset(&def, 0, sizeof(def)); /* padding compares equal */
	memset(&got, 0, sizeof(got));
	assert_int_equal(cfs_conf_defaults(meta_option_keys, &def, errmsg), 0);
	assert_int_equal(cfs_conf_defaults(meta_option_keys, &got, errmsg), 0);
	int rv = cfs_conf_parse(meta_option_keys, &got, text, strlen(text),
				"example", errmsg);
	if (rv != 0)
		fail_msg("example does not parse: %s", errmsg);
	assert_memory_equal(&def, &got, sizeof(def));
	free(text);
	free(gen);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_in_bounds),
		cmocka_unit_test(test_shipped_example_matches_the_table),
		cmocka_unit_test(test_uncommented_example_parses_to_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
