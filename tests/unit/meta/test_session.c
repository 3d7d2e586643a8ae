/* test_session.c - the leader's session clock: resync, touch, expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "meta/session.h"

struct expired {
	uint64_t ids[16];
	uint64_t silent[16];
	int n;
	int refuse; /* make the callback fail */
};

static int
collect(void *data, uint64_t client_id, uint64_t silent_ms)
{
	struct expired *e = data;
	if (e->refuse)
		return -1;
	e->ids[e->n] = client_id;
	e->silent[e->n++] = silent_ms;
	return 0;
}

static void
resync(struct session_clock *c, const uint64_t *ids, int n, uint32_t lease,
       uint64_t now)
{
	session_clock_resync_begin(c);
	for (int i = 0; i < n; i++)
		assert_int_equal(session_clock_resync_one(c, ids[i], lease, now),
				 0);
	session_clock_resync_end(c);
}

/* A session is unknown until a resync brings it from the state machine. */
static void
test_touch_of_unknown_session_reports_unknown(void **state)
{
	struct session_clock c;
	session_clock_init(&c);
	assert_int_equal(session_clock_touch(&c, 42, 100), 0);
	resync(&c, (uint64_t[]){42}, 1, 1000, 100);
	assert_int_equal(session_clock_touch(&c, 42, 150), 1);
	session_clock_clear(&c);
}

/* Silence longer than the lease expires a session, exactly once. */
static void
test_silent_session_expires_once(void **state)
{
	struct session_clock c;
	struct expired e = {0};
	session_clock_init(&c);
	resync(&c, (uint64_t[]){7, 8}, 2, 1000, 0);
	session_clock_touch(&c, 8, 900);
	session_clock_expire(&c, 1000, collect, &e);
	assert_int_equal(e.n, 0); /* exactly the lease: not yet */
	session_clock_expire(&c, 1001, collect, &e);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.ids[0], 7);
	assert_int_equal(e.silent[0], 1001);
	session_clock_expire(&c, 5000, collect, &e);
	assert_int_equal(e.n, 2); /* 8 now, 7 not again */
	assert_int_equal(e.ids[1], 8);
	session_clock_clear(&c);
}

/* A new leader starts every clock afresh: a session never expires earlier
 * because the leader changed. */
static void
test_resync_starts_clock_at_resync_time(void **state)
{
	struct session_clock c;
	struct expired e = {0};
	session_clock_init(&c);
	resync(&c, (uint64_t[]){1}, 1, 1000, 50000);
	session_clock_expire(&c, 50999, collect, &e);
	assert_int_equal(e.n, 0);
	session_clock_clear(&c);
}

/* Resync forgets sessions the state machine closed and keeps the clock of
 * the others. */
static void
test_resync_drops_closed_sessions_and_keeps_clocks(void **state)
{
	struct session_clock c;
	struct expired e = {0};
	session_clock_init(&c);
	resync(&c, (uint64_t[]){1, 2}, 2, 1000, 0);
	resync(&c, (uint64_t[]){2}, 1, 1000, 900);
	assert_int_equal(c.count, 1);
	assert_int_equal(session_clock_touch(&c, 1, 950), 0);
	session_clock_expire(&c, 1001, collect, &e);
	assert_int_equal(e.n, 1); /* 2's clock still started at 0 */
	assert_int_equal(e.ids[0], 2);
	session_clock_clear(&c);
}

/* A failed expiry proposal is retried on the next sweep. */
static void
test_failed_expiry_is_reported_again(void **state)
{
	struct session_clock c;
	struct expired e = {.refuse = 1};
	session_clock_init(&c);
	resync(&c, (uint64_t[]){3}, 1, 10, 0);
	session_clock_expire(&c, 100, collect, &e);
	e.refuse = 0;
	session_clock_expire(&c, 101, collect, &e);
	assert_int_equal(e.n, 1);
	session_clock_clear(&c);
}

/* Contact after a report (the expiry is proposed: the state machine will
 * drop the session) is refused, so that the client does not trust its
 * leases for another lease period; the expiry is not proposed twice. */
static void
test_touch_after_report_is_refused(void **state)
{
	struct session_clock c;
	struct expired e = {0};
	session_clock_init(&c);
	resync(&c, (uint64_t[]){5}, 1, 10, 0);
	assert_int_equal(session_clock_touch(&c, 5, 5), 1);
	session_clock_expire(&c, 20, collect, &e);
	assert_int_equal(e.n, 1);
	assert_int_equal(session_clock_touch(&c, 5, 25), 0);
	session_clock_expire(&c, 36, collect, &e);
	assert_int_equal(e.n, 1);
	session_clock_clear(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_touch_of_unknown_session_reports_unknown),
		cmocka_unit_test(test_silent_session_expires_once),
		cmocka_unit_test(test_resync_starts_clock_at_resync_time),
		cmocka_unit_test(
			test_resync_drops_closed_sessions_and_keeps_clocks),
		cmocka_unit_test(test_failed_expiry_is_reported_again),
		cmocka_unit_test(test_touch_after_report_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
