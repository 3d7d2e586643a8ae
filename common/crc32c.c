/* crc32c.c - CRC-32C: the SSE4.2 instruction when present, else slicing-by-8. */
#include "common/crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

/* Reflected Castagnoli polynomial (RFC 3720 section 12.1). */
#define CRC32C_POLY 0x82F63B78u

/*
 * Slicing-by-8 tables: table[0] is the classic byte-at-a-time table;
 * table[k][b] is the CRC of byte b followed by k zero bytes, so eight
 * input bytes are folded with eight independent lookups per step.
 * Built once on first use; pthread_once makes that safe from any thread.
 */
static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_table_once = PTHREAD_ONCE_INIT;

static void
crc32c_table_build(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = b;
		for (int i = 0; i < 8; i++)
			c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1u)));
		crc32c_table[0][b] = c;
	}
	for (uint32_t b = 0; b < 256; b++)
		for (int k = 1; k < 8; k++) {
			uint32_t prev = crc32c_table[k - 1][b];
			crc32c_table[k][b] =
			    (prev >> 8) ^ crc32c_table[0][prev & 0xFFu];
		}
}

/*
 * crc32c_combine: appending len2 bytes B to A maps the CRC register by
 * multiplication with x^(8 * len2) modulo the polynomial (the init and
 * final xor cancel out), so crc(A||B) = crc(A) * x^(8 len2) mod P ^
 * crc(B).  Polynomials are reflected 32-bit words (bit 31 = x^0), as in
 * zlib 1.2.12's multmodp / x2nmodp.
 */
static uint32_t x2n_table[32]; /* x^(2^n) mod P */
static pthread_once_t x2n_once = PTHREAD_ONCE_INIT;

static uint32_t
multmodp(uint32_t a, uint32_t b)
{
	uint32_t m = 1u << 31, p = 0;

	for (;;) {
		if (a & m) {
			p ^= b;
			if ((a & (m - 1)) == 0)
				break;
		}
		m >>= 1;
		b = b & 1 ? (b >> 1) ^ CRC32C_POLY : b >> 1;
	}
	return p;
}

static void
x2n_build(void)
{
	uint32_t p = 1u << 30; /* x^1 */

	x2n_table[0] = p;
	for (int n = 1; n < 32; n++)
		x2n_table[n] = p = multmodp(p, p);
}

uint32_t
crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2)
{
	uint32_t p = 1u << 31; /* x^0 */
	unsigned k = 3;	       /* x^(8 len2) = x^(len2 * 2^3) */

	pthread_once(&x2n_once, x2n_build);
	for (uint64_t n = len2; n != 0; n >>= 1, k++)
		if (n & 1)
			p = multmodp(x2n_table[k & 31], p);
	return multmodp(p, crc1) ^ crc2;
}

/*
 * crc32c_patch: the CRC is affine in the bytes, crc(M) = L(M) ^ crc(0^n)
 * with L linear, so replacing @old by @new changes it by L of a message
 * that is (old ^ new) followed by @after zero bytes (zero bytes before
 * the change leave L's register at 0).  L(D) is the register run from 0
 * over D, which is crc32c() started at ~0 with its final xor undone;
 * the zero bytes after it multiply that by x^(8 after), which is what
 * crc32c_combine does to its first argument.
 */
uint32_t
crc32c_patch(uint32_t crc, const void *old, const void *new, size_t len,
	     uint64_t after)
{
	const unsigned char *a = old, *b = new;
	unsigned char d[1024];
	uint32_t reg = 0xFFFFFFFFu;

	for (size_t at = 0; at < len;) {
		size_t n = len - at < sizeof(d) ? len - at : sizeof(d);
		for (size_t i = 0; i < n; i++)
			d[i] = a[at + i] ^ b[at + i];
		reg = crc32c(reg, d, n);
		at += n;
	}
	return crc ^ crc32c_combine(~reg, 0, after);
}

/* Little-endian load of 8 bytes from any alignment. */
static uint64_t
load_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint32_t
crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	const uint32_t(*t)[256] = (const uint32_t(*)[256])crc32c_table;

	pthread_once(&crc32c_table_once, crc32c_table_build);
	crc = ~crc;
	while (len >= 8) {
		uint64_t w = load_le64(p) ^ crc;
		crc = t[7][w & 0xFF] ^ t[6][(w >> 8) & 0xFF] ^
		      t[5][(w >> 16) & 0xFF] ^ t[4][(w >> 24) & 0xFF] ^
		      t[3][(w >> 32) & 0xFF] ^ t[2][(w >> 40) & 0xFF] ^
		      t[1][(w >> 48) & 0xFF] ^ t[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
	return ~crc;
}

#if defined(__x86_64__)
/* Only called after __builtin_cpu_supports("sse4.2") said yes; the target
 * attribute lets the rest of the file build for baseline x86-64. */
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc;

	/* Bytes up to 8-byte alignment, so the word loads below do not
	 * straddle cache lines. */
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, sizeof(w));
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

static int crc32c_have_hw;
static pthread_once_t crc32c_hw_once = PTHREAD_ONCE_INIT;

static void
crc32c_hw_probe(void)
{
	__builtin_cpu_init();
	crc32c_have_hw = __builtin_cpu_supports("sse4.2") != 0;
}

int
crc32c_hw_available(void)
{
	pthread_once(&crc32c_hw_once, crc32c_hw_probe);
	return crc32c_have_hw;
}

uint32_t
crc32c(uint32_t crc, const void *buf, size_t len)
{
	if (crc32c_hw_available())
		return crc32c_hw(crc, buf, len);
	return crc32c_sw(crc, buf, len);
}
#else /* !__x86_64__ */
int
crc32c_hw_available(void)
{
	return 0;
}

uint32_t
crc32c(uint32_t crc, const void *buf, size_t len)
{
	return crc32c_sw(crc, buf, len);
}
#endif
