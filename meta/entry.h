/* entry.h - the Raft log entry of cfs-meta: a batch of commands plus the leader's decisions. */
#ifndef CFS_META_ENTRY_H
#define CFS_META_ENTRY_H

/*
 * Byte layout (docs/raft-log.md), all little-endian, every part a multiple
 * of 8 bytes (STACK.md: libraft 0.15 drops unpadded entries on restart):
 *
 *   0  u32 magic "CFSE"      16 i64 now_ns (leader's clock)
 *   4  u16 version (1)       24 records...
 *   6  u16 reserved
 *   8  u32 count
 *  12  u32 reserved
 *
 *   record: u32 len, u32 reserved, len bytes of one wire frame 0 (header +
 *           body, common/wire.h), zero padding to a multiple of 8.
 *
 * A record is a complete protocol message, so the state machine decodes it
 * with the same total decoder as the network front (wire_decode) and there
 * is one code path for a request whether it came from a socket or the log.
 * The header's client_id and sequence are the exactly-once key.
 */

#include <stddef.h>
#include <stdint.h>

#define ENTRY_MAGIC 0x45534643u /* "CFSE" */
#define ENTRY_VERSION 1
#define ENTRY_HEADER_SIZE 24
/* Upper bound of one entry; the leader cuts batches below it. */
#define ENTRY_MAX_SIZE (4u << 20)

struct entry_builder {
	uint8_t *buf; /* raft_malloc'd: ownership passes to raft_apply */
	size_t len, cap;
	uint32_t count;
};

/* Start an entry carrying the leader's clock. */
int entry_begin(struct entry_builder *b, int64_t now_ns);

/* Append one encoded frame (copied).  CFS_TOOBIG if the entry would pass
 * ENTRY_MAX_SIZE: the caller starts a new entry. */
int entry_add(struct entry_builder *b, const uint8_t *frame, size_t len);

/* Finish: patches the count; returns the buffer (raft_malloc'd, caller or
 * raft_apply owns it) and its padded length. */
void entry_finish(struct entry_builder *b, void **base, size_t *len);

/* Release an unfinished builder. */
void entry_discard(struct entry_builder *b);

struct entry_reader {
	const uint8_t *p, *end;
	uint32_t left; /* records not yet read */
	int64_t now_ns;
};

/* Validate the entry header.  Returns 0, or CFS_CORRUPT with errmsg (a bad
 * entry in a committed log is corruption, never a client error). */
int entry_open(struct entry_reader *r, const void *buf, size_t len,
	       char *errmsg);

/* Next record: 1 with *frame and *len set (borrowed from the entry), 0 at the
 * end, or -CFS_CORRUPT. */
int entry_next(struct entry_reader *r, const uint8_t **frame, size_t *len,
	       char *errmsg);

#endif /* CFS_META_ENTRY_H */
