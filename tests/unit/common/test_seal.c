/* test_seal.c - the leader's seal: which surveyed replicas it keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/seal.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define OK(node_, len_, crc_)                                                \
	{ .node = (node_), .ok = 1, .length = (len_), .crc = (crc_) }
#define FAILED(node_) { .node = (node_), .ok = 0 }

/* One survey and what the seal must keep: nodes in the order answered,
 * 0-terminated; want_n 0 means nothing to seal with. */
struct seal_case {
	const char *what;
	struct seal_answer a[8];
	size_t n;
	size_t want_n;
	uint64_t want_len;
	uint32_t want_crc;
	uint64_t want_nodes[8];
};

static const struct seal_case cases[] = {
	{"all agree", {OK(1, 100, 7), OK(2, 100, 7), OK(3, 100, 7)}, 3,
	 3, 100, 7, {1, 2, 3}},
	{"the larger group wins though its nodes are higher",
	 {OK(1, 100, 9), OK(2, 100, 7), OK(3, 100, 7)}, 3,
	 2, 100, 7, {2, 3}},
	{"a tie goes to the group of the lowest node id",
	 {OK(4, 100, 7), OK(2, 100, 9), OK(3, 100, 7), OK(1, 100, 9)}, 4,
	 2, 100, 9, {2, 1}},
	{"the lowest id decides a tie, not the first answer",
	 {OK(3, 100, 7), OK(1, 100, 9)}, 2, 1, 100, 9, {1}},
	{"failed nodes are in no group",
	 {FAILED(1), FAILED(2), OK(3, 100, 7)}, 3, 1, 100, 7, {3}},
	{"a failed node's leftover numbers do not make a group",
	 {{.node = 1, .ok = 0, .length = 100, .crc = 9},
	  {.node = 2, .ok = 0, .length = 100, .crc = 9},
	  OK(3, 100, 7)}, 3, 1, 100, 7, {3}},
	{"the same crc with another length is another group",
	 {OK(1, 100, 7), OK(2, 200, 7), OK(3, 200, 7)}, 3,
	 2, 200, 7, {2, 3}},
	{"nobody answered", {FAILED(1), FAILED(2)}, 2, 0, 0, 0, {0}},
	{"no nodes at all", {{0}}, 0, 0, 0, 0, {0}},
};

/* Table: groups by (length, crc), the most nodes win, ties to the group
 * holding the lowest id, failures nowhere, nothing when nobody answered. */
static void
test_seal_choose_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct seal_case *c = &cases[i];
		uint64_t nodes[8] = {0}, len = 12345;
		uint32_t crc = 678;
		size_t k = seal_choose(c->a, c->n, &len, &crc, nodes);
		if (k != c->want_n)
			fail_msg("%s: %zu nodes, want %zu", c->what, k,
				 c->want_n);
		if (k == 0) {
			/* the outputs are left alone */
			assert_int_equal(len, 12345);
			assert_int_equal(crc, 678);
			continue;
		}
		if (len != c->want_len || crc != c->want_crc)
			fail_msg("%s: (%llu, %u), want (%llu, %u)", c->what,
				 (unsigned long long)len, crc,
				 (unsigned long long)c->want_len, c->want_crc);
		for (size_t j = 0; j < k; j++)
			if (nodes[j] != c->want_nodes[j])
				fail_msg("%s: node %zu is %llu, want %llu",
					 c->what, j,
					 (unsigned long long)nodes[j],
					 (unsigned long long)c->want_nodes[j]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seal_choose_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
