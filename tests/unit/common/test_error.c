/* test_error.c - the error table, errno mapping and context messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"

/* Every code has a message, a name and maps to a non-zero errno. */
static void
test_error_table_is_complete(void **state)
{
	static const int codes[] = {
#define ROW(name, value, errnum, msg) CFS_##name,
		CFS_ERRORS(ROW)
#undef ROW
	};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		assert_true(cfs_error_known(codes[i]));
		assert_string_not_equal(cfs_strerror(codes[i]),
					"unknown error");
		if (codes[i] != CFS_OK)
			assert_int_not_equal(cfs_errno(codes[i]), 0);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(codes[i], codes[j]);
	}
}

/* Wire values are fixed forever: spot-check a few. */
static void
test_error_wire_values_are_stable(void **state)
{
	assert_int_equal(CFS_OK, 0);
	assert_int_equal(CFS_ENOENT, 2);
	assert_int_equal(CFS_ENOTEMPTY, 16);
	assert_int_equal(CFS_NOTLEADER, 100);
	assert_int_equal(CFS_MALFORMED, 102);
}

static void
test_error_errno_round_trips_for_posix_codes(void **state)
{
	assert_int_equal(cfs_errno(CFS_ENOENT), ENOENT);
	assert_int_equal(cfs_from_errno(ENOENT), CFS_ENOENT);
	assert_int_equal(cfs_from_errno(ENOTEMPTY), CFS_ENOTEMPTY);
	assert_int_equal(cfs_from_errno(EAGAIN), CFS_EAGAIN);
	assert_int_equal(cfs_from_errno(0), CFS_OK);
	assert_int_equal(cfs_from_errno(EDQUOT), CFS_ENOSPC);
	assert_int_equal(cfs_from_errno(99999), CFS_EIO);
	assert_int_equal(cfs_errno(12345), EIO);
	assert_string_equal(cfs_strerror(12345), "unknown error");
	assert_string_equal(cfs_errname(CFS_NOTLEADER), "NOTLEADER");
}

static void
test_error_fail_formats_and_returns_code(void **state)
{
	char errmsg[CFS_ERRMSG_SIZE];
	int rv = cfs_fail(errmsg, CFS_ENOENT, "inode %d", 42);

	assert_int_equal(rv, CFS_ENOENT);
	assert_string_equal(errmsg, "inode 42: no such file or directory");
	rv = cfs_fail_errno(errmsg, ENOSPC, "write %s", "/x");
	assert_int_equal(rv, CFS_ENOSPC);
	assert_string_equal(errmsg, "write /x: No space left on device");
	assert_int_equal(cfs_fail(NULL, CFS_EIO, "x"), CFS_EIO);
}

/* Each layer prefixes its context on the way up. */
static void
test_error_prefix_builds_a_chain(void **state)
{
	char errmsg[CFS_ERRMSG_SIZE];

	cfs_errmsg_set(errmsg, "connection refused");
	cfs_errmsg_prefix(errmsg, "replica %s", "10.0.0.4:7001");
	cfs_errmsg_prefix(errmsg, "fragment %d/%d", 12, 3);
	assert_string_equal(
	    errmsg, "fragment 12/3: replica 10.0.0.4:7001: connection refused");
	errmsg[0] = '\0';
	cfs_errmsg_prefix(errmsg, "alone");
	assert_string_equal(errmsg, "alone");
}

/* A prefix chain longer than the buffer is truncated, never overflows. */
static void
test_error_prefix_truncates_safely(void **state)
{
	char errmsg[CFS_ERRMSG_SIZE + 16];

	memset(errmsg, 'Z', sizeof(errmsg));
	cfs_errmsg_set(errmsg, "base");
	for (int i = 0; i < 100; i++)
		cfs_errmsg_prefix(errmsg, "layer-%d", i);
	assert_int_equal(strlen(errmsg), CFS_ERRMSG_SIZE - 1);
	assert_int_equal(errmsg[CFS_ERRMSG_SIZE], 'Z');
	cfs_errmsg_set(NULL, "x");
	cfs_errmsg_prefix(NULL, "x");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_error_table_is_complete),
	    cmocka_unit_test(test_error_wire_values_are_stable),
	    cmocka_unit_test(test_error_errno_round_trips_for_posix_codes),
	    cmocka_unit_test(test_error_fail_formats_and_returns_code),
	    cmocka_unit_test(test_error_prefix_builds_a_chain),
	    cmocka_unit_test(test_error_prefix_truncates_safely),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
