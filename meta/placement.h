/* placement.h - pure policy: which data nodes get, serve and shed replicas. */
#ifndef CFS_META_PLACEMENT_H
#define CFS_META_PLACEMENT_H

/*
 * The leader decides placement and puts the decision into the Raft log
 * (STYLE.md practice 6), so these functions only need to be deterministic
 * for a given seed to make tests repeatable; replicas never re-run them.
 * They take a snapshot of the node registry (docs/data-path.md "Node
 * registry") and return a decision: no I/O, no globals, no allocation.
 *
 * Labels are "k1=v1,k2=v2" strings: items split on ',', key and value on
 * the first '='; no whitespace is trimmed, an item without '=' is ignored
 * and the first item with a matching key wins.
 */

#include <stddef.h>
#include <stdint.h>

/* Same numbers as the node states of the state machine. */
enum placement_state {
	PLACEMENT_ALIVE = 0,	/* placed on, read from */
	PLACEMENT_FULL = 1,	/* read from only */
	PLACEMENT_DRAINING = 2, /* read from only */
	PLACEMENT_DEAD = 3,	/* neither */
	PLACEMENT_REMOVED = 4,	/* neither */
};

struct placement_node {
	uint64_t id;	     /* non-zero, unique within one snapshot */
	int state;	     /* enum placement_state */
	uint64_t capacity;   /* bytes */
	uint64_t free_bytes; /* bytes, last reported */
	const char *labels;  /* "rack=r1,zone=z2", "" or NULL; borrowed */
};

/*
 * Choose up to @want nodes for new replicas of one fragment and write their
 * ids to @out[0..want) (caller's buffer, at least @want entries).  Returns
 * the number chosen: @want, or fewer when fewer nodes are eligible.
 *
 * A node is eligible when it is PLACEMENT_ALIVE, has free_bytes > 0, is not
 * in @exclude (ids already holding the fragment or known bad) and was not
 * chosen already.
 *
 * Spread: when @spread_label (e.g. "rack") is non-NULL and non-empty, each
 * pick is made among the eligible nodes whose value of that label is used
 * the fewest times so far, counting the nodes already chosen and the nodes
 * named in @exclude_domains (the existing replicas, whatever their state;
 * ids not in @nodes are ignored).  So a value not used yet is always
 * preferred, and a value is reused only when no unused one is eligible.
 * A node without the label, or with an empty value ("rack="), is its own
 * domain: it shares a value with no other node.
 *
 * Among those, the pick is random with probability proportional to
 * free_bytes, from a splitmix64 generator seeded with @seed: the same
 * arguments give the same answer.
 *
 * @nodes, @exclude and @exclude_domains are borrowed and may be NULL when
 * their count is 0; @out may be NULL when @want is 0.
 * Cost: O(n * want * (want + ndomains + nexclude)) label comparisons.
 */
size_t placement_choose(const struct placement_node *nodes, size_t n,
			size_t want, const uint64_t *exclude, size_t nexclude,
			const uint64_t *exclude_domains, size_t ndomains,
			const char *spread_label, uint64_t seed, uint64_t *out);

/*
 * Copy the value of label @key in @labels (NULL counts as "") into @buf,
 * truncated to @cap - 1 bytes and always NUL-terminated when @cap > 0.
 * Returns 1 if the key is present (its value may be empty), 0 if not
 * (then @buf = "").  An empty @key is never present.  @buf may be NULL
 * when @cap is 0, to test for presence only.
 */
int placement_label(const char *labels, const char *key, char *buf, size_t cap);

/*
 * 1 if nodes @a and @b (ids, and their labels as in placement_node) are in
 * one failure domain under @spread_label, as placement_choose counts them:
 * the same node, or the same non-empty value of the label.  A node without
 * the label, or with an empty value, and every node when @spread_label is
 * NULL or empty, is a domain of its own.
 */
int placement_same_domain(uint64_t a, const char *a_labels, uint64_t b,
			  const char *b_labels, const char *spread_label);

/*
 * Pick the replica to read or copy from: the first id of @candidates, in
 * the order given, that is not in @avoid and names a node of @nodes that is
 * ALIVE, FULL or DRAINING.  Returns 0 if none (dead, removed, unknown or
 * avoided).  All arrays are borrowed and may be NULL when their count is 0.
 */
uint64_t placement_source(const struct placement_node *nodes, size_t n,
			  const uint64_t *candidates, size_t ncand,
			  const uint64_t *avoid, size_t navoid);

/*
 * Rebalance: among the ALIVE nodes with a non-zero capacity, find the one
 * with the highest used fraction (1 - free/capacity, free above capacity
 * counting as empty) and the one with the lowest; ties go to the earlier
 * node in @nodes.  If the difference exceeds @threshold (e.g. 0.05), store
 * their ids in *@from and *@to and return 1; otherwise (also with fewer
 * than two such nodes) set both to 0 and return 0.
 */
int placement_rebalance_pair(const struct placement_node *nodes, size_t n,
			     double threshold, uint64_t *from, uint64_t *to);

#endif /* CFS_META_PLACEMENT_H */
