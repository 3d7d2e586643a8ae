/* image.h - inside the fragment store: a replica file's image in the store's journal, made at a durable commit and written back at replay. */
#ifndef CFS_DATA_IMAGE_H
#define CFS_DATA_IMAGE_H

/*
 * Internal to the store.  An image is every byte a replica file holds, as
 * extents of the file: the header, the blocks in it and the CRC table; a
 * delta's blocks as what differs from its whole base file, the rest as
 * references to that file's bytes (docs/on-disk-format.md §4 says why a
 * replay never makes a wrong file from one).
 */

#include <stdint.h>

#include "data/journal.h"
#include "data/store.h"

/*
 * Make replica @k's file (@fd, open, at @path; @length bytes of data),
 * renamed into place and not synced, durable through journal @j: its
 * image as one record.  0 once the record is on the disk; otherwise (no
 * journal, an image too big for it, a journal that failed) the caller
 * fsyncs the file.
 */
int image_put(struct store *s, struct journal *j, const struct store_key *k,
	      int fd, const char *path, uint64_t length);

/*
 * journal_replay_fn (@arg: the struct store): write @k's image back
 * unless the file under its name checks in every byte it holds itself
 * (the same bytes, or those of a newer incarnation: a repair copy,
 * fsync'd).  An image that cannot be used (its base missing or short, a
 * rebuild that does not check) is logged and skipped: the node runs
 * without that replica.
 */
int image_restore(void *arg, const struct store_key *k, uint64_t file_size,
		  uint64_t base, const struct journal_extent *ext,
		  uint32_t next, const uint8_t *data, char *errmsg);

#endif /* CFS_DATA_IMAGE_H */
