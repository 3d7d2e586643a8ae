/* test_placement.c - placement: eligibility, spread, weights, rebalance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "meta/placement.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NSEEDS 1000
#define MAXOUT 16

enum {
	ALIVE = PLACEMENT_ALIVE,
	FULL = PLACEMENT_FULL,
	DRAINING = PLACEMENT_DRAINING,
	DEAD = PLACEMENT_DEAD,
	REMOVED = PLACEMENT_REMOVED
};

/* An alive node with 1000 bytes of 1000 free unless a test says otherwise. */
#define NODE(id_, state_, free_, labels_)                                      \
	{                                                                      \
		.id = (id_), .state = (state_), .capacity = 1000,              \
		.free_bytes = (free_), .labels = (labels_)                     \
	}

static const struct placement_node *
node_by_id(const struct placement_node *nodes, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (nodes[i].id == id)
			return &nodes[i];
	fail_msg("chosen id %llu is not a node", (unsigned long long)id);
	abort(); /* fail_msg does not return; tell the compiler */
}

/* The choice has no repeated id and every id is an alive node with free
 * space that is not excluded. */
static void
check_valid(const struct placement_node *nodes, size_t n,
	    const uint64_t *exclude, size_t nexclude, const uint64_t *out,
	    size_t got)
{
	for (size_t i = 0; i < got; i++) {
		const struct placement_node *node =
		    node_by_id(nodes, n, out[i]);

		assert_int_equal(node->state, PLACEMENT_ALIVE);
		assert_true(node->free_bytes > 0);
		for (size_t j = 0; j < nexclude; j++)
			assert_true(out[i] != exclude[j]);
		for (size_t j = 0; j < i; j++)
			assert_true(out[i] != out[j]);
	}
}

/* How many of the chosen nodes have @value for "rack". */
static size_t
count_rack(const struct placement_node *nodes, size_t n, const uint64_t *out,
	   size_t got, const char *value)
{
	size_t count = 0;
	char buf[32];

	for (size_t i = 0; i < got; i++) {
		const struct placement_node *node =
		    node_by_id(nodes, n, out[i]);
		assert_non_null(node);
		if (node != NULL &&
		    placement_label(node->labels, "rack", buf, sizeof(buf)) &&
		    strcmp(buf, value) == 0)
			count++;
	}
	return count;
}

/* A mix of every state, an excluded node and a node with no free space. */
static const struct placement_node mixed[] = {
    NODE(1, ALIVE, 500, "rack=r1"),    NODE(2, FULL, 500, "rack=r2"),
    NODE(3, DRAINING, 500, "rack=r3"), NODE(4, DEAD, 500, "rack=r4"),
    NODE(5, REMOVED, 500, "rack=r5"),  NODE(6, ALIVE, 500, "rack=r6"),
    NODE(7, ALIVE, 0, "rack=r7"),      NODE(8, ALIVE, 500, "rack=r8"),
    NODE(9, ALIVE, 700, ""),
};
static const uint64_t mixed_exclude[] = {6};
#define MIXED_ELIGIBLE 3 /* 1, 8, 9 */

/* Whatever is asked for, only alive, non-full, non-excluded nodes come
 * back, each once, with or without a spread label. */
static void
test_placement_choose_never_picks_ineligible_nodes(void **state)
{
	static const char *const labels[] = {NULL, "", "rack", "zone"};
	uint64_t out[MAXOUT];

	for (size_t l = 0; l < ARRAY_LEN(labels); l++)
		for (size_t want = 1; want <= 5; want++)
			for (uint64_t seed = 0; seed < 200; seed++) {
				size_t got = placement_choose(
				    mixed, ARRAY_LEN(mixed), want,
				    mixed_exclude, 1, NULL, 0, labels[l], seed,
				    out);
				assert_int_equal(got, want < MIXED_ELIGIBLE
							  ? want
							  : MIXED_ELIGIBLE);
				check_valid(mixed, ARRAY_LEN(mixed),
					    mixed_exclude, 1, out, got);
			}
}

/* Asking for more than the eligible nodes gives all of them. */
static void
test_placement_choose_more_than_eligible_returns_all_eligible(void **state)
{
	uint64_t out[MAXOUT];
	size_t got =
	    placement_choose(mixed, ARRAY_LEN(mixed), 10, mixed_exclude, 1,
			     NULL, 0, "rack", 42, out);

	assert_int_equal(got, MIXED_ELIGIBLE);
	check_valid(mixed, ARRAY_LEN(mixed), mixed_exclude, 1, out, got);
	assert_int_equal(
	    count_rack(mixed, ARRAY_LEN(mixed), out, got, "r1") +
		count_rack(mixed, ARRAY_LEN(mixed), out, got, "r8"),
	    2);
}

/* want 0 and an empty node list both choose nothing and write nothing. */
static void
test_placement_choose_want_zero_or_no_nodes_returns_zero(void **state)
{
	uint64_t out[2] = {77, 77};

	assert_int_equal(placement_choose(mixed, ARRAY_LEN(mixed), 0, NULL, 0,
					  NULL, 0, "rack", 1, NULL),
			 0);
	assert_int_equal(placement_choose(mixed, ARRAY_LEN(mixed), 0, NULL, 0,
					  NULL, 0, "rack", 1, out),
			 0);
	assert_int_equal(
	    placement_choose(NULL, 0, 2, NULL, 0, NULL, 0, "rack", 1, out), 0);
	assert_int_equal(out[0], 77);
	assert_int_equal(out[1], 77);
}

/* Excluding every alive node leaves nothing to choose. */
static void
test_placement_choose_all_excluded_returns_zero(void **state)
{
	static const uint64_t all[] = {1, 6, 8, 9};
	uint64_t out[MAXOUT];

	assert_int_equal(placement_choose(mixed, ARRAY_LEN(mixed), 3, all,
					  ARRAY_LEN(all), NULL, 0, "rack", 5,
					  out),
			 0);
}

static const struct placement_node three_racks[] = {
    NODE(11, ALIVE, 1000, "zone=a,rack=r1"),
    NODE(12, ALIVE, 10, "zone=a,rack=r1"),
    NODE(21, ALIVE, 1000, "zone=a,rack=r2"),
    NODE(22, ALIVE, 1000, "zone=b,rack=r2"),
    NODE(31, ALIVE, 5, "rack=r3,zone=b"),
    NODE(32, ALIVE, 1000, "rack=r3,zone=b"),
};

/* 3 racks x 2 nodes, want 3: one node in each rack, for every seed. */
static void
test_placement_choose_three_racks_uses_three_racks(void **state)
{
	const size_t n = ARRAY_LEN(three_racks);
	uint64_t out[MAXOUT];

	for (uint64_t seed = 0; seed < NSEEDS; seed++) {
		size_t got = placement_choose(three_racks, n, 3, NULL, 0, NULL,
					      0, "rack", seed, out);
		assert_int_equal(got, 3);
		check_valid(three_racks, n, NULL, 0, out, got);
		assert_int_equal(count_rack(three_racks, n, out, got, "r1"), 1);
		assert_int_equal(count_rack(three_racks, n, out, got, "r2"), 1);
		assert_int_equal(count_rack(three_racks, n, out, got, "r3"), 1);
	}
}

/* An existing replica in r1 (excluded and counted as a used domain),
 * want 2 over 3 racks: one node in r2 and one in r3. */
static void
test_placement_choose_avoids_racks_of_existing_replicas(void **state)
{
	const size_t n = ARRAY_LEN(three_racks);
	static const uint64_t existing[] = {11};
	uint64_t out[MAXOUT];

	for (uint64_t seed = 0; seed < NSEEDS; seed++) {
		size_t got = placement_choose(three_racks, n, 2, existing, 1,
					      existing, 1, "rack", seed, out);
		assert_int_equal(got, 2);
		check_valid(three_racks, n, existing, 1, out, got);
		assert_int_equal(count_rack(three_racks, n, out, got, "r2"), 1);
		assert_int_equal(count_rack(three_racks, n, out, got, "r3"), 1);
	}
}

/* A replica on a dead node still marks its rack as used, and an id that is
 * not in the snapshot is ignored. */
static void
test_placement_choose_existing_replica_on_dead_node_counts(void **state)
{
	static const struct placement_node nodes[] = {
	    NODE(1, DEAD, 1000, "rack=r1"),
	    NODE(2, ALIVE, 1000, "rack=r1"),
	    NODE(3, ALIVE, 1000, "rack=r2"),
	    NODE(4, ALIVE, 1000, "rack=r3"),
	};
	static const uint64_t existing[] = {1, 99};
	uint64_t out[MAXOUT];

	for (uint64_t seed = 0; seed < NSEEDS; seed++) {
		size_t got =
		    placement_choose(nodes, ARRAY_LEN(nodes), 2, NULL, 0,
				     existing, 2, "rack", seed, out);
		assert_int_equal(got, 2);
		assert_int_equal(count_rack(nodes, 4, out, got, "r1"), 0);
	}
}

/* A node named in exclude_domains but not in exclude shares a domain with
 * itself even without a label, so an unused node is preferred to it. */
static void
test_placement_choose_existing_unlabelled_node_counts_itself(void **state)
{
	static const struct placement_node nodes[] = {
	    NODE(1, ALIVE, 1000, "rack=r1"),
	    NODE(2, ALIVE, 1000, ""),
	};
	static const uint64_t existing[] = {2};
	uint64_t out[MAXOUT];

	for (uint64_t seed = 0; seed < 100; seed++) {
		assert_int_equal(placement_choose(nodes, 2, 1, NULL, 0,
						  existing, 1, "rack", seed,
						  out),
				 1);
		assert_int_equal(out[0], 1);
	}
}

/* 2 racks, want 3: both racks are used and the third replica reuses one. */
static void
test_placement_choose_two_racks_want_three_reuses_one(void **state)
{
	static const struct placement_node nodes[] = {
	    NODE(1, ALIVE, 1000, "rack=r1"),
	    NODE(2, ALIVE, 1000, "rack=r1"),
	    NODE(3, ALIVE, 1000, "rack=r2"),
	    NODE(4, ALIVE, 1000, "rack=r2"),
	};
	uint64_t out[MAXOUT];

	for (uint64_t seed = 0; seed < NSEEDS; seed++) {
		size_t got = placement_choose(nodes, ARRAY_LEN(nodes), 3, NULL,
					      0, NULL, 0, "rack", seed, out);
		size_t r1 = count_rack(nodes, 4, out, got, "r1");
		size_t r2 = count_rack(nodes, 4, out, got, "r2");

		assert_int_equal(got, 3);
		check_valid(nodes, 4, NULL, 0, out, got);
		assert_true((r1 == 1 && r2 == 2) || (r1 == 2 && r2 == 1));
	}
}

/* Once every rack is used, the next replica goes to a rack used the
 * fewest times: r3 has one node, so 5 replicas are r1 x2, r2 x2, r3 x1. */
static void
test_placement_choose_reuses_least_used_rack_first(void **state)
{
	static const struct placement_node nodes[] = {
	    NODE(1, ALIVE, 1000, "rack=r1"), NODE(2, ALIVE, 1000, "rack=r1"),
	    NODE(3, ALIVE, 1000, "rack=r1"), NODE(4, ALIVE, 1000, "rack=r2"),
	    NODE(5, ALIVE, 1000, "rack=r2"), NODE(6, ALIVE, 1000, "rack=r2"),
	    NODE(7, ALIVE, 1000, "rack=r3"),
	};
	const size_t n = ARRAY_LEN(nodes);
	uint64_t out[MAXOUT];

	for (uint64_t seed = 0; seed < NSEEDS; seed++) {
		size_t got = placement_choose(nodes, n, 5, NULL, 0, NULL, 0,
					      "rack", seed, out);
		assert_int_equal(got, 5);
		assert_int_equal(count_rack(nodes, n, out, got, "r1"), 2);
		assert_int_equal(count_rack(nodes, n, out, got, "r2"), 2);
		assert_int_equal(count_rack(nodes, n, out, got, "r3"), 1);
	}
}

/* Nodes without the label, or with an empty value, are each their own
 * domain (two empty values do not share one): with two r1 nodes and four
 * such nodes, want 5 takes one r1 node and the four others. */
static void
test_placement_choose_unlabelled_node_is_its_own_domain(void **state)
{
	static const struct placement_node nodes[] = {
	    NODE(1, ALIVE, 1000, "rack=r1"),
	    NODE(2, ALIVE, 1000, "rack=r1"),
	    NODE(3, ALIVE, 1000, ""),
	    NODE(4, ALIVE, 1000, "rack="),
	    NODE(5, ALIVE, 1000, NULL),
	    NODE(6, ALIVE, 1000, "zone=z,rack="),
	};
	const size_t n = ARRAY_LEN(nodes);
	uint64_t out[MAXOUT];

	for (uint64_t seed = 0; seed < NSEEDS; seed++) {
		size_t got = placement_choose(nodes, n, 5, NULL, 0, NULL, 0,
					      "rack", seed, out);
		assert_int_equal(got, 5);
		check_valid(nodes, n, NULL, 0, out, got);
		assert_int_equal(count_rack(nodes, n, out, got, "r1"), 1);
	}
}

/* Without a spread label (NULL or ""), racks do not matter: both r1 nodes
 * are chosen by some seed even with an unused r2 available. */
static void
test_placement_choose_without_spread_label_ignores_racks(void **state)
{
	static const struct placement_node nodes[] = {
	    NODE(1, ALIVE, 1000, "rack=r1"),
	    NODE(2, ALIVE, 1000, "rack=r1"),
	    NODE(3, ALIVE, 1000, "rack=r2"),
	};
	static const char *const labels[] = {NULL, ""};
	uint64_t out[MAXOUT];

	for (size_t l = 0; l < ARRAY_LEN(labels); l++) {
		int same_rack = 0;
		for (uint64_t seed = 0; seed < NSEEDS; seed++) {
			size_t got =
			    placement_choose(nodes, 3, 2, NULL, 0, NULL, 0,
					     labels[l], seed, out);
			assert_int_equal(got, 2);
			if (count_rack(nodes, 3, out, got, "r1") == 2)
				same_rack = 1;
		}
		assert_true(same_rack);
	}
}

/* A free 900, B free 100, want 1, 10000 seeds: A wins 85-95% of draws. */
static void
test_placement_choose_weights_by_free_space(void **state)
{
	static const struct placement_node nodes[] = {
	    NODE(1, ALIVE, 900, "rack=r1"),
	    NODE(2, ALIVE, 100, "rack=r2"),
	};
	unsigned a = 0;

	for (uint64_t seed = 0; seed < 10000; seed++) {
		uint64_t out[1];
		assert_int_equal(placement_choose(nodes, 2, 1, NULL, 0, NULL, 0,
						  "rack", seed, out),
				 1);
		a += out[0] == 1;
	}
	assert_in_range(a, 8500, 9500);
}

/* Weights near UINT64_MAX do not overflow the sum: both huge nodes are
 * picked by some seed and the tiny one rarely. */
static void
test_placement_choose_huge_free_space_does_not_overflow(void **state)
{
	static const struct placement_node nodes[] = {
	    {.id = 1,
	     .state = ALIVE,
	     .capacity = UINT64_MAX,
	     .free_bytes = UINT64_MAX,
	     .labels = ""},
	    {.id = 2,
	     .state = ALIVE,
	     .capacity = UINT64_MAX,
	     .free_bytes = UINT64_MAX - 1,
	     .labels = ""},
	    {.id = 3,
	     .state = ALIVE,
	     .capacity = UINT64_MAX,
	     .free_bytes = 1,
	     .labels = ""},
	};
	unsigned hits[4] = {0};

	for (uint64_t seed = 0; seed < NSEEDS; seed++) {
		uint64_t out[1];
		assert_int_equal(placement_choose(nodes, 3, 1, NULL, 0, NULL, 0,
						  NULL, seed, out),
				 1);
		hits[out[0]]++;
	}
	assert_in_range(hits[1], 400, 600);
	assert_in_range(hits[2], 400, 600);
	assert_int_equal(hits[3], 0);
}

/* A node with no free space is never chosen, even when it is the only
 * node of an unused rack or the only node at all. */
static void
test_placement_choose_never_picks_zero_free(void **state)
{
	static const struct placement_node nodes[] = {
	    NODE(1, ALIVE, 1000, "rack=r1"),
	    NODE(2, ALIVE, 1000, "rack=r1"),
	    NODE(3, ALIVE, 0, "rack=r2"),
	};
	uint64_t out[MAXOUT];

	for (uint64_t seed = 0; seed < NSEEDS; seed++) {
		size_t got = placement_choose(nodes, 3, 3, NULL, 0, NULL, 0,
					      "rack", seed, out);
		assert_int_equal(got, 2);
		for (size_t i = 0; i < got; i++)
			assert_true(out[i] != 3);
	}
	assert_int_equal(
	    placement_choose(&nodes[2], 1, 1, NULL, 0, NULL, 0, "rack", 1, out),
	    0);
}

/* The same seed gives the same choice; different seeds vary it. */
static void
test_placement_choose_is_deterministic_per_seed(void **state)
{
	const size_t n = ARRAY_LEN(three_racks);
	uint64_t a[3], b[3];
	int differs = 0;

	for (uint64_t seed = 0; seed < 100; seed++) {
		placement_choose(three_racks, n, 3, NULL, 0, NULL, 0, "rack",
				 seed, a);
		placement_choose(three_racks, n, 3, NULL, 0, NULL, 0, "rack",
				 seed, b);
		assert_memory_equal(a, b, sizeof(a));
		placement_choose(three_racks, n, 3, NULL, 0, NULL, 0, "rack",
				 seed + 1000, b);
		differs |= memcmp(a, b, sizeof(a)) != 0;
	}
	assert_true(differs);
}

/* More existing replicas than the resolver caches (32) still all count:
 * 40 replicas in racks r0..r39; of the two alive nodes one is in r35 (a
 * replica past the cache), so the other, in fresh rack r40, is chosen. */
static void
test_placement_choose_many_existing_replicas_all_count(void **state)
{
	enum { NOLD = 40, N = NOLD + 2 };
	struct placement_node nodes[N];
	char labels[N][16];
	uint64_t existing[NOLD], out[1];

	for (size_t i = 0; i < N; i++) {
		snprintf(labels[i], sizeof(labels[i]), "rack=r%zu",
			 i == NOLD ? (size_t)35 : i - (i > NOLD));
		nodes[i] =
		    (struct placement_node){.id = i + 1,
					    .state = i < NOLD ? DEAD : ALIVE,
					    .capacity = 1000,
					    .free_bytes = 1000,
					    .labels = labels[i]};
		if (i < NOLD)
			existing[i] = i + 1;
	}
	assert_string_equal(labels[N - 1], "rack=r40");
	for (uint64_t seed = 0; seed < 100; seed++) {
		assert_int_equal(placement_choose(nodes, N, 1, NULL, 0,
						  existing, NOLD, "rack", seed,
						  out),
				 1);
		assert_int_equal(out[0], N);
	}
}

/* Label lookup: key boundaries, position, empty values, absent keys. */
static void
test_placement_label_parses_table(void **state)
{
	static const struct {
		const char *labels, *key;
		int found;
		const char *value;
	} cases[] = {
	    {"", "rack", 0, ""},
	    {NULL, "rack", 0, ""},
	    {"rack=r1", "rack", 1, "r1"},
	    {"zone=z,rack=r2", "rack", 1, "r2"},
	    {"zone=z,rack=r2", "zone", 1, "z"},
	    {"rackx=1,rack=2", "rack", 1, "2"},
	    {"rack=1,rackx=2", "rackx", 1, "2"},
	    {"xrack=1", "rack", 0, ""},
	    {"rack=", "rack", 1, ""},
	    {"rack=,zone=z", "rack", 1, ""},
	    {"zone=z", "rack", 0, ""},
	    {"rack", "rack", 0, ""},
	    {"rack=a,rack=b", "rack", 1, "a"},
	    {"rack=a=b", "rack", 1, "a=b"},
	    {",,rack=r9,", "rack", 1, "r9"},
	    {"rack=r1", "", 0, ""},
	};
	char buf[32];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		memset(buf, 'X', sizeof(buf));
		assert_int_equal(placement_label(cases[i].labels, cases[i].key,
						 buf, sizeof(buf)),
				 cases[i].found);
		assert_string_equal(buf, cases[i].value);
	}
}

/* A value longer than the buffer is cut and still terminated; cap 0 only
 * reports presence. */
static void
test_placement_label_truncates_to_buffer(void **state)
{
	char buf[4];

	assert_int_equal(placement_label("rack=abcdef", "rack", buf, 4), 1);
	assert_string_equal(buf, "abc");
	assert_int_equal(placement_label("rack=abcdef", "rack", buf, 1), 1);
	assert_string_equal(buf, "");
	assert_int_equal(placement_label("rack=abcdef", "rack", NULL, 0), 1);
	assert_int_equal(placement_label("zone=abcdef", "rack", NULL, 0), 0);
}

/* Source choice: first readable candidate not avoided, in given order. */
static void
test_placement_source_picks_first_readable(void **state)
{
	static const struct placement_node nodes[] = {
	    NODE(1, ALIVE, 500, ""),	NODE(2, FULL, 0, ""),
	    NODE(3, DRAINING, 500, ""), NODE(4, DEAD, 500, ""),
	    NODE(5, REMOVED, 500, ""),
	};
	static const struct {
		uint64_t cand[4];
		size_t ncand;
		uint64_t avoid[2];
		size_t navoid;
		uint64_t want;
	} cases[] = {
	    {{1, 2, 3}, 3, {0}, 0, 1},
	    {{2, 1}, 2, {0}, 0, 2},    /* full is readable */
	    {{3, 1}, 2, {0}, 0, 3},    /* draining is readable */
	    {{4, 5, 1}, 3, {0}, 0, 1}, /* dead, removed skipped */
	    {{99, 3}, 2, {0}, 0, 3},   /* unknown skipped */
	    {{1, 2, 3}, 3, {1, 2}, 2, 3},
	    {{1}, 1, {1}, 1, 0},
	    {{4, 5, 99}, 3, {0}, 0, 0},
	    {{0, 1}, 2, {0}, 0, 1}, /* id 0 is never a node */
	    {{0}, 0, {0}, 0, 0},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		assert_int_equal(placement_source(nodes, ARRAY_LEN(nodes),
						  cases[i].cand, cases[i].ncand,
						  cases[i].avoid,
						  cases[i].navoid),
				 cases[i].want);
	assert_int_equal(placement_source(NULL, 0, cases[0].cand, 3, NULL, 0),
			 0);
}

/* Rebalance: fullest and emptiest alive nodes, only past the threshold. */
static void
test_placement_rebalance_pair_table(void **state)
{
	/* capacity 1000; used fraction = 1 - free/1000. */
	static const struct placement_node spread[] = {
	    NODE(1, ALIVE, 500, ""),	/* 0.50 */
	    NODE(2, ALIVE, 100, ""),	/* 0.90 fullest alive */
	    NODE(3, ALIVE, 800, ""),	/* 0.20 emptiest alive */
	    NODE(4, FULL, 0, ""),	/* 1.00 not alive */
	    NODE(5, DEAD, 1000, ""),	/* 0.00 not alive */
	    NODE(6, DRAINING, 990, ""), /* not alive */
	    {.id = 7,
	     .state = ALIVE,
	     .capacity = 0,
	     .free_bytes = 0,
	     .labels = ""}, /* no capacity: skipped */
	};
	static const struct placement_node close[] = {
	    NODE(1, ALIVE, 500, ""), NODE(2, ALIVE, 480, ""),
	    NODE(3, ALIVE, 510, ""), /* 0.49 .. 0.52 */
	};
	static const struct placement_node overfull_free[] = {
	    {.id = 1,
	     .state = ALIVE,
	     .capacity = 100,
	     .free_bytes = 200,
	     .labels = ""}, /* counts as empty */
	    NODE(2, ALIVE, 400, ""),
	};
	static const struct placement_node ties[] = {
	    NODE(1, ALIVE, 100, ""),
	    NODE(2, ALIVE, 100, ""),
	    NODE(3, ALIVE, 900, ""),
	    NODE(4, ALIVE, 900, ""),
	};
	static const struct {
		const struct placement_node *nodes;
		size_t n;
		double threshold;
		int ret;
		uint64_t from, to;
	} cases[] = {
	    {spread, ARRAY_LEN(spread), 0.05, 1, 2, 3},
	    {spread, ARRAY_LEN(spread), 0.69, 1, 2, 3},
	    {spread, ARRAY_LEN(spread), 0.75, 0, 0, 0},
	    {close, ARRAY_LEN(close), 0.05, 0, 0, 0},
	    {close, ARRAY_LEN(close), 0.01, 1, 2, 3},
	    {overfull_free, ARRAY_LEN(overfull_free), 0.05, 1, 2, 1},
	    {ties, ARRAY_LEN(ties), 0.05, 1, 1, 3},
	    {spread, 1, 0.0, 0, 0, 0},	   /* one node */
	    {&spread[3], 4, 0.0, 0, 0, 0}, /* no two alive */
	    {NULL, 0, 0.05, 0, 0, 0},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		uint64_t from = 77, to = 77;
		assert_int_equal(
		    placement_rebalance_pair(cases[i].nodes, cases[i].n,
					     cases[i].threshold, &from, &to),
		    cases[i].ret);
		assert_int_equal(from, cases[i].from);
		assert_int_equal(to, cases[i].to);
	}
}

/* placement_same_domain: what placement_choose counts as one domain. */
static void
test_placement_same_domain(void **state)
{
	(void)state;
	assert_int_equal(placement_same_domain(1, "rack=a", 2, "rack=a",
					       "rack"),
			 1);
	assert_int_equal(placement_same_domain(1, "rack=a", 2, "rack=b",
					       "rack"),
			 0);
	/* a node is always its own domain */
	assert_int_equal(placement_same_domain(3, NULL, 3, "rack=b", "rack"),
			 1);
	/* no value, an empty one, or no spread label: a domain of its own */
	assert_int_equal(placement_same_domain(1, "zone=z", 2, "zone=z",
					       "rack"),
			 0);
	assert_int_equal(placement_same_domain(1, "rack=", 2, "rack=",
					       "rack"),
			 0);
	assert_int_equal(placement_same_domain(1, "rack=a", 2, "rack=a", ""),
			 0);
	assert_int_equal(placement_same_domain(1, "rack=a", 2, "rack=a",
					       NULL),
			 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_placement_choose_never_picks_ineligible_nodes),
	    cmocka_unit_test(
		test_placement_choose_more_than_eligible_returns_all_eligible),
	    cmocka_unit_test(
		test_placement_choose_want_zero_or_no_nodes_returns_zero),
	    cmocka_unit_test(test_placement_choose_all_excluded_returns_zero),
	    cmocka_unit_test(
		test_placement_choose_three_racks_uses_three_racks),
	    cmocka_unit_test(
		test_placement_choose_avoids_racks_of_existing_replicas),
	    cmocka_unit_test(
		test_placement_choose_existing_replica_on_dead_node_counts),
	    cmocka_unit_test(
		test_placement_choose_existing_unlabelled_node_counts_itself),
	    cmocka_unit_test(
		test_placement_choose_two_racks_want_three_reuses_one),
	    cmocka_unit_test(
		test_placement_choose_reuses_least_used_rack_first),
	    cmocka_unit_test(
		test_placement_choose_unlabelled_node_is_its_own_domain),
	    cmocka_unit_test(
		test_placement_choose_without_spread_label_ignores_racks),
	    cmocka_unit_test(test_placement_choose_weights_by_free_space),
	    cmocka_unit_test(
		test_placement_choose_huge_free_space_does_not_overflow),
	    cmocka_unit_test(test_placement_choose_never_picks_zero_free),
	    cmocka_unit_test(test_placement_choose_is_deterministic_per_seed),
	    cmocka_unit_test(
		test_placement_choose_many_existing_replicas_all_count),
	    cmocka_unit_test(test_placement_label_parses_table),
	    cmocka_unit_test(test_placement_label_truncates_to_buffer),
	    cmocka_unit_test(test_placement_source_picks_first_readable),
	    cmocka_unit_test(test_placement_rebalance_pair_table),
	    cmocka_unit_test(test_placement_same_domain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
