/* splitmix.h - splitmix64: a small, fast pseudo-random generator (not for secrets). */
#ifndef CFS_COMMON_SPLITMIX_H
#define CFS_COMMON_SPLITMIX_H

#include <stdint.h>

/* The next value of the splitmix64 sequence of *@state (Steele, Lea and
 * Flood's SplittableRandom finaliser): every state gives a well mixed
 * value, so a state seeded from a clock or getrandom(2) is enough. */
static inline uint64_t
cfs_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

#endif /* CFS_COMMON_SPLITMIX_H */
