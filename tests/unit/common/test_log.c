/* test_log.c - level filtering, line format, environment switches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"

static char *captured;
static size_t captured_len;
static FILE *capture;

static int
setup(void **state)
{
	capture = open_memstream(&captured, &captured_len);
	cfs_log_set_stream(capture);
	cfs_log_threshold = CFS_LOG_INFO;
	return 0;
}

static int
teardown(void **state)
{
	cfs_log_set_stream(NULL);
	fclose(capture);
	free(captured);
	captured = NULL;
	unsetenv("CFS_LOG");
	unsetenv("CFS_TRACE");
	return 0;
}

/* A line carries program, level, file:line and the message. */
static void
test_log_line_has_level_file_and_line(void **state)
{
	cfs_log_init("/usr/sbin/cfs-meta");
	LOG_INFO("became leader in term %d", 7);
	fflush(capture);
	assert_non_null(strstr(captured, "cfs-meta["));
	assert_non_null(strstr(captured, " INFO "));
	assert_non_null(strstr(captured, "test_log.c:"));
	assert_non_null(strstr(captured, "became leader in term 7\n"));
}

/* Messages above the threshold are not written at all. */
static void
test_log_threshold_filters(void **state)
{
	LOG_DEBUG("hidden %d", 1);
	fflush(capture);
	assert_int_equal(captured_len, 0);
	cfs_log_threshold = CFS_LOG_DEBUG;
	LOG_DEBUG("shown");
	fflush(capture);
	assert_non_null(strstr(captured, "DEBUG"));
}

static void
test_log_env_sets_level_and_trace(void **state)
{
	setenv("CFS_LOG", "warn", 1);
	cfs_log_init(NULL);
	assert_int_equal(cfs_log_threshold, CFS_LOG_WARN);
	setenv("CFS_TRACE", "1", 1);
	cfs_log_init(NULL);
	assert_int_equal(cfs_log_threshold, CFS_LOG_TRACE);
	assert_int_equal(cfs_log_level_parse("Debug"), CFS_LOG_DEBUG);
	assert_int_equal(cfs_log_level_parse("loud"), -1);
}

/* A bad CFS_LOG value is reported and the level stays. */
static void
test_log_env_rejects_unknown_level(void **state)
{
	setenv("CFS_LOG", "loud", 1);
	cfs_log_init(NULL);
	fflush(capture);
	assert_int_equal(cfs_log_threshold, CFS_LOG_INFO);
	assert_non_null(strstr(captured, "CFS_LOG=loud"));
}

/* A very long message is cut but still ends in a newline. */
static void
test_log_long_line_is_truncated_with_newline(void **state)
{
	char big[4000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	LOG_ERROR("%s", big);
	fflush(capture);
	assert_true(captured_len < 1100);
	assert_int_equal(captured[captured_len - 1], '\n');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_log_line_has_level_file_and_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_log_threshold_filters, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_log_env_sets_level_and_trace,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_log_env_rejects_unknown_level, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_log_long_line_is_truncated_with_newline, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
