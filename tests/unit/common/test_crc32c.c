/* test_crc32c.c - CRC-32C: published vectors, incremental use, hw == sw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/crc32c.h"

/* Both implementations, so every vector checks each path on its own. */
typedef uint32_t crc_fn(uint32_t, const void *, size_t);
static crc_fn *const paths[] = {crc32c, crc32c_sw};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

static void
check_vector(const void *buf, size_t len, uint32_t want)
{
	for (size_t i = 0; i < NPATHS; i++)
		assert_int_equal(paths[i](0, buf, len), want);
}

/* The check value of the CRC catalogue: "123456789" gives 0xE3069283. */
static void
test_crc32c_of_check_string_is_published_value(void **state)
{
	check_vector("123456789", 9, 0xE3069283u);
}

/* RFC 3720 B.4: 32 bytes of zeros give 0x8A9136AA. */
static void
test_crc32c_of_32_zero_bytes_matches_rfc3720(void **state)
{
	unsigned char buf[32];
	memset(buf, 0, sizeof(buf));
	check_vector(buf, sizeof(buf), 0x8A9136AAu);
}

/* RFC 3720 B.4: 32 bytes of 0xFF give 0x62A8AB43. */
static void
test_crc32c_of_32_ff_bytes_matches_rfc3720(void **state)
{
	unsigned char buf[32];
	memset(buf, 0xFF, sizeof(buf));
	check_vector(buf, sizeof(buf), 0x62A8AB43u);
}

/* RFC 3720 B.4: bytes 0..31 ascending give 0x46DD794E. */
static void
test_crc32c_of_ascending_bytes_matches_rfc3720(void **state)
{
	unsigned char buf[32];
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)i;
	check_vector(buf, sizeof(buf), 0x46DD794Eu);
}

/* RFC 3720 B.4: bytes 31..0 descending give 0x113FDB5C. */
static void
test_crc32c_of_descending_bytes_matches_rfc3720(void **state)
{
	unsigned char buf[32];
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)(31 - i);
	check_vector(buf, sizeof(buf), 0x113FDB5Cu);
}

/* No bytes leave the CRC unchanged: 0 from the start, any value later. */
static void
test_crc32c_of_empty_input_is_identity(void **state)
{
	for (size_t i = 0; i < NPATHS; i++) {
		assert_int_equal(paths[i](0, "", 0), 0);
		assert_int_equal(paths[i](0, NULL, 0), 0);
		assert_int_equal(paths[i](0xE3069283u, "x", 0), 0xE3069283u);
	}
}

/* Feeding a buffer in two pieces, split anywhere, equals one call. */
static void
test_crc32c_split_at_every_position_equals_one_shot(void **state)
{
	unsigned char buf[100];
	uint32_t want;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 37 + 11);
	want = crc32c_sw(0, buf, sizeof(buf));
	for (size_t i = 0; i < NPATHS; i++)
		for (size_t cut = 0; cut <= sizeof(buf); cut++) {
			uint32_t c = paths[i](0, buf, cut);
			c = paths[i](c, buf + cut, sizeof(buf) - cut);
			assert_int_equal(c, want);
		}
}

/* Byte-at-a-time feeding gives the same as one call (the table tail path
 * and the word path agree). */
static void
test_crc32c_byte_at_a_time_equals_one_shot(void **state)
{
	const char *s = "The quick brown fox jumps over the lazy dog";
	size_t len = strlen(s);

	for (size_t i = 0; i < NPATHS; i++) {
		uint32_t c = 0;
		for (size_t j = 0; j < len; j++)
			c = paths[i](c, s + j, 1);
		assert_int_equal(c, crc32c_sw(0, s, len));
	}
}

/* The instruction path and the table path agree on random data of every
 * length 1..4100 at every misalignment 0..7 (on machines without SSE4.2
 * crc32c() is the table path and this checks only the dispatch). */
static void
test_crc32c_hw_equals_sw_on_random_buffers(void **state)
{
	enum { MAXLEN = 4100 };
	unsigned char *buf = malloc(MAXLEN + 8);
	uint64_t x = 0x9E3779B97F4A7C15ull;

	assert_non_null(buf);
	for (size_t i = 0; i < MAXLEN + 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (unsigned char)x;
	}
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 1; len <= MAXLEN; len++)
			assert_int_equal(crc32c(0, buf + off, len),
					 crc32c_sw(0, buf + off, len));
	/* And when continuing from a non-zero CRC. */
	assert_int_equal(crc32c(0x12345678u, buf + 3, 777),
			 crc32c_sw(0x12345678u, buf + 3, 777));
	free(buf);
}

/* The runtime probe reports what the CPU has: on x86-64 exactly its
 * SSE4.2 flag, elsewhere never. */
static void
test_crc32c_hw_probe_matches_cpu(void **state)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	assert_int_equal(crc32c_hw_available(),
			 __builtin_cpu_supports("sse4.2") != 0);
#else
	assert_int_equal(crc32c_hw_available(), 0);
#endif
}

/* Combining the CRCs of two pieces gives the CRC of their concatenation,
 * for every split of a buffer, empty pieces and 64 KiB pieces included. */
static void
test_crc32c_combine_equals_crc_of_concatenation(void **state)
{
	static unsigned char buf[3 * 65536 + 7];
	uint32_t x = 12345;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(x >> 16);
	}
	uint32_t all = crc32c(0, buf, sizeof(buf));
	for (size_t cut = 0; cut <= sizeof(buf); cut += cut < 300 ? 1 : 4093) {
		uint32_t a = crc32c(0, buf, cut);
		uint32_t b = crc32c(0, buf + cut, sizeof(buf) - cut);
		assert_int_equal(crc32c_combine(a, b, sizeof(buf) - cut), all);
	}
	/* block by block, as a data node builds a replica's data crc */
	uint32_t c = 0;
	for (size_t off = 0; off < sizeof(buf); off += 65536) {
		size_t n = sizeof(buf) - off < 65536 ? sizeof(buf) - off : 65536;
		c = crc32c_combine(c, crc32c(0, buf + off, n), n);
	}
	assert_int_equal(c, all);
}

/* Patching a range of a buffer: the CRC from the old CRC and the old
 * and new bytes of the range equals the CRC of the patched buffer, for
 * ranges at the start, the end, inside, empty, longer than the helper's
 * chunk, and the whole buffer. */
static void
test_crc32c_patch_equals_crc_of_patched_buffer(void **state)
{
	enum { LEN = 65536 };
	static unsigned char buf[LEN], neu[LEN];
	static const size_t ranges[][2] = {
	    {0, 1},	    {0, 4096},	  {LEN - 1, 1}, {LEN - 4096, 4096},
	    {12288, 4096}, {5, 3000},	  {100, 0},	{0, LEN},
	    {1000, 1025},  {70, 20000}, {LEN / 2, 7},
	};
	uint32_t x = 777;

	(void)state;
	for (size_t i = 0; i < LEN; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(x >> 16);
		x = x * 1103515245u + 12345u;
		neu[i] = (unsigned char)(x >> 16);
	}
	for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
		size_t off = ranges[r][0], n = ranges[r][1];
		static unsigned char after[LEN];
		memcpy(after, buf, LEN);
		memcpy(after + off, neu + off, n);
		uint32_t got = crc32c_patch(crc32c(0, buf, LEN), buf + off,
					    neu + off, n, LEN - off - n);
		assert_int_equal(got, crc32c(0, after, LEN));
	}
	/* a patch of a buffer shorter than the range before it: a block
	 * at the end of a fragment */
	uint32_t got = crc32c_patch(crc32c(0, buf, 10), buf + 2, neu, 3, 5);
	unsigned char small[10];
	memcpy(small, buf, 10);
	memcpy(small + 2, neu, 3);
	assert_int_equal(got, crc32c(0, small, 10));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32c_of_check_string_is_published_value),
	    cmocka_unit_test(test_crc32c_of_32_zero_bytes_matches_rfc3720),
	    cmocka_unit_test(test_crc32c_of_32_ff_bytes_matches_rfc3720),
	    cmocka_unit_test(test_crc32c_of_ascending_bytes_matches_rfc3720),
	    cmocka_unit_test(test_crc32c_of_descending_bytes_matches_rfc3720),
	    cmocka_unit_test(test_crc32c_of_empty_input_is_identity),
	    cmocka_unit_test(
		test_crc32c_split_at_every_position_equals_one_shot),
	    cmocka_unit_test(test_crc32c_byte_at_a_time_equals_one_shot),
	    cmocka_unit_test(test_crc32c_combine_equals_crc_of_concatenation),
	    cmocka_unit_test(test_crc32c_patch_equals_crc_of_patched_buffer),
	    cmocka_unit_test(test_crc32c_hw_equals_sw_on_random_buffers),
	    cmocka_unit_test(test_crc32c_hw_probe_matches_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
