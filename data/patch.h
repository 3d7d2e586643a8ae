/* patch.h - inside the fragment store: patching a replica file in place (store_patch of data/store.h) and writing a patch again at a journal replay. */
#ifndef CFS_DATA_PATCH_H
#define CFS_DATA_PATCH_H

/*
 * Internal to the store.  data/patch.c defines store_patch() (its
 * contract is in data/store.h) and this replay callback; the record's
 * bytes are in docs/on-disk-format.md §4 ("patch").
 */

#include <stdint.h>

#include "data/journal.h"
#include "data/store.h"

/*
 * journal_replay_fn for patch records (@arg: the struct store; @base: the
 * stamp of the file the patch was written into): write the extents into
 * the file under @k's name again, and fdatasync it, if that file is
 * @file_size bytes and its header says that stamp.  Otherwise (no file,
 * another size, another incarnation: a repair copy that replaced it) the
 * patch is not its own, and is skipped with a log line.
 */
int patch_replay(void *arg, const struct store_key *k, uint64_t file_size,
		 uint64_t base, const struct journal_extent *ext,
		 uint32_t next, const uint8_t *data, char *errmsg);

#endif /* CFS_DATA_PATCH_H */
