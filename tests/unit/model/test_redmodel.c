/* test_redmodel.c - the redundancy invariants judge states as docs/model.md says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/model/redmodel.h"

static const struct rm_node four[] = {
	{1, 1}, {2, 1}, {3, 1}, {4, 1},
};

/* One fragment (ino 7, idx 0, v3, 100 B, crc 0xabc, goal 3) on @n nodes. */
static struct rm_frag
frag(unsigned n, const uint64_t *nodes)
{
	struct rm_frag f = {.ino = 7, .idx = 0, .version = 3, .length = 100,
			    .crc = 0xabc, .goal = 3, .nmeta = n};
	for (unsigned i = 0; i < n; i++)
		f.meta_nodes[i] = nodes[i];
	return f;
}

static struct rm_disk
disk(uint64_t node, uint64_t version, uint32_t crc, int verified)
{
	return (struct rm_disk){.node = node, .ino = 7, .idx = 0,
				.version = version, .length = 100, .crc = crc,
				.verified = verified};
}

static int
judge(const struct rm_node *nodes, size_t nn, const struct rm_frag *f,
      size_t nf, const struct rm_disk *d, size_t nd, int settled,
      struct rm_report *r)
{
	struct rm_state s = {nodes, nn, f, nf, d, nd};
	return rm_check(&s, settled, r);
}

static void
healthy(void **state)
{
	(void)state;
	uint64_t at[] = {1, 2, 3};
	struct rm_frag f = frag(3, at);
	struct rm_disk d[] = {disk(3, 3, 0xabc, 1), disk(1, 3, 0xabc, 1),
			      disk(2, 3, 0xabc, 1)};
	struct rm_report r;
	assert_int_equal(judge(four, 4, &f, 1, d, 3, 1, &r), 0);
	assert_int_equal(r.replicas_ok, 3);
	assert_int_equal(r.under_goal + r.lost + r.meta_wrong + r.differ, 0);
}

static void
lost_is_always_a_failure(void **state)
{
	(void)state;
	uint64_t at[] = {1};
	struct rm_frag f = frag(1, at);
	struct rm_disk d[] = {disk(1, 3, 0xabc, 0)}; /* corrupt */
	struct rm_report r;
	assert_true(judge(four, 4, &f, 1, d, 1, 0, &r) > 0);
	assert_int_equal(r.lost, 1);
	assert_int_equal(r.corrupt, 1);
	assert_non_null(strstr(r.problems[0], "R1"));
}

static void
under_goal_fails_only_when_settled(void **state)
{
	(void)state;
	uint64_t at[] = {1, 2};
	struct rm_frag f = frag(2, at);
	struct rm_disk d[] = {disk(1, 3, 0xabc, 1), disk(2, 3, 0xabc, 1)};
	struct rm_report r;
	assert_int_equal(judge(four, 4, &f, 1, d, 2, 0, &r), 0);
	assert_int_equal(r.under_goal, 1);
	assert_int_equal(judge(four, 4, &f, 1, d, 2, 1, &r), 1);
	assert_non_null(strstr(r.problems[0], "R2"));
}

static void
goal_is_capped_by_live_nodes(void **state)
{
	(void)state;
	const struct rm_node two[] = {{1, 1}, {2, 1}, {3, 0}};
	uint64_t at[] = {1, 2};
	struct rm_frag f = frag(2, at);
	struct rm_disk d[] = {disk(1, 3, 0xabc, 1), disk(2, 3, 0xabc, 1),
			      disk(3, 3, 0xabc, 1)};
	struct rm_report r;
	assert_int_equal(judge(two, 3, &f, 1, d, 3, 1, &r), 0);
	assert_int_equal(r.replicas_ok, 2); /* node 3 is dead: not counted */
}

static void
copies_on_one_node_count_once(void **state)
{
	(void)state;
	uint64_t at[] = {1};
	struct rm_frag f = frag(1, at);
	struct rm_disk d[] = {disk(1, 3, 0xabc, 1), disk(1, 3, 0xabc, 1),
			      disk(1, 3, 0xabc, 1)};
	struct rm_report r;
	assert_int_equal(judge(four, 4, &f, 1, d, 3, 1, &r), 1);
	assert_int_equal(r.replicas_ok, 1);
	assert_int_equal(r.under_goal, 1);
}

static void
the_map_must_not_lie(void **state)
{
	(void)state;
	uint64_t at[] = {1, 2, 3, 4};
	struct rm_frag f = frag(4, at);
	struct rm_disk d[] = {disk(1, 3, 0xabc, 1), disk(2, 3, 0xabc, 1),
			      disk(3, 3, 0xabc, 1), disk(4, 3, 0xabc, 0)};
	struct rm_report r;
	assert_int_equal(judge(four, 4, &f, 1, d, 4, 0, &r), 0);
	assert_int_equal(r.meta_wrong, 1);
	assert_int_equal(judge(four, 4, &f, 1, d, 4, 1, &r), 1);
	assert_non_null(strstr(r.problems[0], "R3"));
	assert_non_null(strstr(r.problems[0], "node 4"));
}

static void
differing_replica_fails(void **state)
{
	(void)state;
	uint64_t at[] = {1, 2, 3};
	struct rm_frag f = frag(3, at);
	struct rm_disk d[] = {disk(1, 3, 0xabc, 1), disk(2, 3, 0xabc, 1),
			      disk(3, 3, 0xabc, 1), disk(4, 3, 0xdef, 1)};
	struct rm_report r;
	assert_int_equal(judge(four, 4, &f, 1, d, 4, 0, &r), 1);
	assert_int_equal(r.differ, 1);
	assert_non_null(strstr(r.problems[0], "R4"));
}

/* A truncation lowers the map's length and leaves the replicas alone. */
static void
truncated_fragment_is_intact(void **state)
{
	(void)state;
	uint64_t at[] = {1, 2, 3};
	struct rm_frag f = frag(3, at);
	f.length = 40;
	struct rm_disk d[] = {disk(1, 3, 0xabc, 1), disk(2, 3, 0xabc, 1),
			      disk(3, 3, 0xabc, 1)};
	struct rm_report r;
	assert_int_equal(judge(four, 4, &f, 1, d, 3, 1, &r), 0);
	f.length = 101; /* but never longer than what was written */
	assert_true(judge(four, 4, &f, 1, d, 3, 1, &r) > 0);
	assert_int_equal(r.lost, 1);
}

static void
other_versions_and_orphans_are_counted(void **state)
{
	(void)state;
	uint64_t at[] = {1, 2, 3};
	struct rm_frag f = frag(3, at);
	struct rm_disk d[] = {disk(1, 3, 0xabc, 1), disk(2, 3, 0xabc, 1),
			      disk(3, 3, 0xabc, 1), disk(1, 2, 0x111, 1),
			      disk(2, 4, 0x222, 1),
			      {.node = 3, .ino = 7, .idx = 9, .version = 1,
			       .verified = 1},
			      {.node = 4, .ino = 99, .idx = 0, .version = 1,
			       .verified = 1}};
	struct rm_report r;
	assert_int_equal(judge(four, 4, &f, 1, d, 7, 1, &r), 0);
	assert_int_equal(r.stale, 2); /* v2, and idx 9 cut by a truncate */
	assert_int_equal(r.uncommitted, 1);
	assert_int_equal(r.orphans, 1);
}

static void
empty_state_holds(void **state)
{
	(void)state;
	struct rm_report r;
	assert_int_equal(judge(NULL, 0, NULL, 0, NULL, 0, 1, &r), 0);
	assert_int_equal(r.fragments, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healthy),
		cmocka_unit_test(lost_is_always_a_failure),
		cmocka_unit_test(under_goal_fails_only_when_settled),
		cmocka_unit_test(goal_is_capped_by_live_nodes),
		cmocka_unit_test(copies_on_one_node_count_once),
		cmocka_unit_test(the_map_must_not_lie),
		cmocka_unit_test(differing_replica_fails),
		cmocka_unit_test(truncated_fragment_is_intact),
		cmocka_unit_test(other_versions_and_orphans_are_counted),
		cmocka_unit_test(empty_state_holds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
