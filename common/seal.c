/* seal.c - pure policy: the replicas a seal keeps (see seal.h). */
#include "common/seal.h"

/* Cases, for each ok answer @i (the first of its group, so each group is
 * weighed once): 1) more nodes than the best so far: it is the best;
 * 2) as many: the best becomes the group whose lowest node id is lower;
 * 3) fewer: nothing.  Quadratic in @n, which is at most a few dozen. */
size_t
seal_choose(const struct seal_answer *a, size_t n, uint64_t *length,
	    uint32_t *crc, uint64_t *nodes)
{
	size_t best = n, best_size = 0;
	uint64_t best_low = 0;

	for (size_t i = 0; i < n; i++) {
		if (!a[i].ok)
			continue;
		size_t first = i, size = 0;
		uint64_t low = a[i].node;
		for (size_t j = 0; j < n; j++) {
			if (!a[j].ok || a[j].length != a[i].length ||
			    a[j].crc != a[i].crc)
				continue;
			if (j < first)
				first = j;
			if (a[j].node < low)
				low = a[j].node;
			size++;
		}
		if (first != i)
			continue;
		if (size > best_size || (size == best_size && low < best_low)) {
			best = i;
			best_size = size;
			best_low = low;
		}
	}
	if (best == n)
		return 0;
	size_t k = 0;
	for (size_t j = 0; j < n; j++)
		if (a[j].ok && a[j].length == a[best].length &&
		    a[j].crc == a[best].crc)
			nodes[k++] = a[j].node;
	*length = a[best].length;
	*crc = a[best].crc;
	return k;
}
