/* journal.h - inside the fragment store: the write-ahead journal that makes small durable writes cost one flush. */
#ifndef CFS_DATA_JOURNAL_H
#define CFS_DATA_JOURNAL_H

/*
 * Why.  A durable write of a new replica file used to cost an fsync of
 * the file and one of its directory: on ext4 two journal commits, each a
 * disk flush, for a 4 KiB patch (1.7 ms of the 4.9 ms a node spent on
 * one, measured under fio's fsync'd random writes).  With the journal a
 * small replica file is renamed into place without any fsync, and its
 * whole image (every byte the file holds: header, blocks, CRC table) is
 * appended to a preallocated journal file and flushed with one
 * fdatasync, which on a file that never changes size or allocation is
 * one disk flush and no filesystem journal commit.  After a crash the
 * images of the files whose own writes may not have reached the disk are
 * written again (store_set_journal).  A background thread makes the
 * journal's records unneeded by syncfs(2) of the store's filesystem (a
 * checkpoint), and then reuses their room.
 *
 * Two files, DIR/journal.0 and DIR/journal.1, of the same fixed size and
 * written in full at creation (zeros), so that a record never allocates.
 * Records are appended to the active one; when it is half full, or holds
 * records older than JOURNAL_CHECKPOINT_MS, the other (checkpointed,
 * empty) becomes active and the thread checkpoints the first.  A writer
 * waits only if both are full.  Byte format: docs/on-disk-format.md §4.
 *
 * A record is the image of one replica file, or a tombstone saying that
 * a key's file was deleted or renamed away (so that a replay does not
 * bring back what was deleted after its record), or a patch: bytes
 * written into a replica file in place (docs/data-path.md "Patching in
 * place"), written again at a replay.  Replaying is
 * idempotent: an image is written only where the file under its name
 * does not check, and a file's image never depends on another file's
 * bytes, except that a delta reads its shared blocks from its base,
 * which nothing writes while it is live (docs/on-disk-format.md §3).
 *
 * Threads: every call but journal_close may run on any thread at once.
 */

#include <stddef.h>
#include <stdint.h>

#include "data/store.h"

/* A checkpoint is due when the active file holds records this old. */
#define JOURNAL_CHECKPOINT_MS 5000
/* Smallest file size accepted (each of the two files). */
#define JOURNAL_MIN_SIZE (1u << 20)

struct journal;

/* One extent of a replica file's image: @len bytes at file offset @off,
 * given in the record, or (@from_base) the same bytes as at the same
 * offset of the file of the record's base version: a delta's whole file,
 * whose blocks outside what the delta changed stay as they are while the
 * delta lives (docs/on-disk-format.md §4), so a 4 KiB patch is journaled
 * as about 4 KiB, not as the 64 KiB blocks its file holds. */
struct journal_extent {
	uint64_t off, len;
	uint32_t from_base;
};

/* Called by journal_replay for each image to restore, oldest first:
 * @data holds the bytes of the extents not @from_base, one after the
 * other; @base is the version those come from.  Non-zero stops the
 * replay with that code (and @errmsg filled). */
typedef int journal_replay_fn(void *arg, const struct store_key *k,
			      uint64_t file_size, uint64_t base,
			      const struct journal_extent *ext, uint32_t next,
			      const uint8_t *data, char *errmsg);

/*
 * Replay the journal files in @dir, if any, through @fn: the images that
 * no later tombstone cancels, in the order they were appended; and
 * through @patch_fn (the same arguments, with the file's stamp as @base)
 * each patch (journal_patch) that no later image or tombstone of its key
 * cancels, in that order too, after the image it patches.  Then open
 * the journal with files of @size bytes each (rounded down to 4 KiB;
 * JOURNAL_MIN_SIZE at least), creating or resizing them, every record
 * gone; @syncfd (borrowed, must stay open) is a descriptor on the
 * filesystem that checkpoints syncfs(2).  @size 0: replay, delete the
 * files, and *@out is NULL (no journal).  *@replayed: images passed to
 * @fn.  CFS_EIO/CFS_ENOSPC/CFS_ENOMEM naming the file.
 */
int journal_open(struct journal **out, const char *dir, uint64_t size,
		 int syncfd, journal_replay_fn *fn, journal_replay_fn *patch_fn,
		 void *arg, unsigned *replayed, char *errmsg);

/* Checkpoint what is in the journal, stop its thread, close the files and
 * free *@j (NULL-safe; sets *@j to NULL). */
void journal_close(struct journal **j);

/* Largest image (sum of the extents' lengths) journal_put takes. */
uint64_t journal_max_image(const struct journal *j);

/*
 * Append the image of @k's file (@file_size bytes; @next extents, the
 * bytes of those not from @base one after the other in @data) and return
 * once it is on the disk.
 * The file must be under its final name already (a checkpoint that starts
 * after this call returns syncs it).  CFS_E2BIG if the image is larger
 * than journal_max_image(); CFS_EIO if the journal cannot be written or
 * flushed (the caller then syncs the file itself).
 */
int journal_put(struct journal *j, const struct store_key *k,
		uint64_t file_size, uint64_t base,
		const struct journal_extent *ext, uint32_t next,
		const void *data, char *errmsg);

/*
 * Append a patch of @k's file (@file_size bytes, incarnation @stamp):
 * @next extents, none from_base, whose bytes are in @data one after the
 * other, that the caller is about to write into the file in place; return
 * once it is on the disk.  The reverse of journal_put's order: the file's
 * own write comes after, so the record must outlive it until it reaches
 * the disk.  So *@pin is set to the journal file the record went to (or
 * -1 if none), and no checkpoint resets that file until the caller, its
 * writes done, calls journal_unpin(@j, *@pin) (always, on failure too).
 * A replay writes the extents again into the file under @k's name if it
 * is @file_size bytes and says @stamp (else it is another incarnation).
 * CFS_E2BIG past journal_max_image(); CFS_EIO if the journal cannot be
 * written or flushed (the caller then syncs the file itself).
 */
int journal_patch(struct journal *j, const struct store_key *k,
		  uint64_t file_size, uint64_t stamp,
		  const struct journal_extent *ext, uint32_t next,
		  const void *data, int *pin, char *errmsg);

/* The writes a journal_patch record stands for are done: its journal file
 * may be checkpointed.  @pin -1: nothing. */
void journal_unpin(struct journal *j, int pin);

/* @k's file was deleted or renamed to another name: a replay must not
 * write an earlier image of it back.  Not flushed (a crash before the next
 * flush brings such a file back; the inventory deletes it). */
void journal_forget(struct journal *j, const struct store_key *k);

/* For tests: while @hold, no checkpoint starts (the active file still
 * changes when full or half full, as long as the other one is clean), so
 * records stay in both files for a crash to leave behind. */
void journal_hold_checkpoints(struct journal *j, int hold);

/* Statistics since open: images and patches appended, checkpoints made. */
void journal_stats(struct journal *j, uint64_t *puts, uint64_t *checkpoints);

#endif /* CFS_DATA_JOURNAL_H */
