/* crc32c.h - CRC-32C (Castagnoli): checksums of fragment blocks and log records. */
#ifndef CFS_COMMON_CRC32C_H
#define CFS_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * CRC-32C as in RFC 3720 (iSCSI) and ext4/btrfs metadata: reflected
 * polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF.
 *
 * Incremental: start with crc = 0 and feed the previous result back in;
 *   crc32c(crc32c(0, a, n), b, m) == crc32c(0, a||b, n + m).
 * crc32c("123456789") == 0xE3069283.
 *
 * The SSE4.2 `crc32` instruction is used when the CPU has it (checked once,
 * thread-safely); otherwise a table-driven software path.  Both give
 * identical results (tests/unit/common/test_crc32c.c checks that).
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* The CRC of A||B from crc32c(0, A, .) = @crc1 and crc32c(0, B, @len2) =
 * @crc2, without the bytes (zlib's crc32_combine, for this polynomial):
 * lets a data node derive a replica's whole-data CRC from its block CRCs. */
uint32_t crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);

/* The CRC of a buffer whose @len bytes @old were replaced by @new, from
 * its CRC before (@crc) and the number of bytes after the change
 * (@after), without reading the rest: a data node patching 4 KiB of a
 * 64 KiB block reads the 4 KiB it replaces, not the block. */
uint32_t crc32c_patch(uint32_t crc, const void *old, const void *new,
		      size_t len, uint64_t after);

/* The software path alone, exported so tests can compare the two. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* True if crc32c() uses the CPU instruction on this machine. */
int crc32c_hw_available(void);

#endif /* CFS_COMMON_CRC32C_H */
