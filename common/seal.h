/* seal.h - pure policy: which replicas of a fragment left open for patching in place a seal keeps. */
#ifndef CFS_COMMON_SEAL_H
#define CFS_COMMON_SEAL_H

/*
 * docs/data-path.md "The leader's seal": a version left open by a lease
 * that ended is surveyed (each node holding it answers its replica's
 * length and crc) and sealed with what the most nodes hold.  Any group
 * is safe: a patch is acknowledged only once every node has it, so the
 * nodes differ only in patches nobody was told were written.  The same
 * rule decides both seals that survey: the leader's (meta/repair.c) and
 * a mount's own after one of its patches failed (client/inplace.c
 * patch_survey), hence here in common/.  No I/O, no globals, no
 * allocation (STYLE.md practice 8): tests/unit/common/test_seal.c.
 */

#include <stddef.h>
#include <stdint.h>

/* One node's answer to the survey. */
struct seal_answer {
	uint64_t node;
	int ok; /* 0: it did not answer, or answered an error */
	uint64_t length;
	uint32_t crc;
};

/*
 * Group the answers of @a[0..@n) that are ok by (length, crc); the group
 * with the most nodes wins, a tie goes to the group holding the lowest
 * node id.  Its nodes go to @nodes (room for @n; in the order of @a), its
 * length and crc to *@length and *@crc; returns how many.  0 if no
 * answer is ok (then the outputs are not touched): nothing to seal with.
 */
size_t seal_choose(const struct seal_answer *a, size_t n, uint64_t *length,
		   uint32_t *crc, uint64_t *nodes);

#endif /* CFS_COMMON_SEAL_H */
