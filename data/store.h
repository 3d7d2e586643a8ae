/* store.h - a data node's fragment store: one CRC-checked file per replica. */
#ifndef CFS_DATA_STORE_H
#define CFS_DATA_STORE_H

/*
 * Each replica of a fragment version is one plain file under the data
 * directory (docs/data-path.md "Writing a fragment"):
 *
 *   <dir>/frags/<HH>/<ino as 16 hex>.<idx>.<version>
 *
 * HH is crc32c(ino || idx, 12 bytes little-endian) & 0xff in two lowercase
 * hex digits, so every version of one fragment shares a directory.
 *
 * File layout, all integers little-endian:
 *   [0, 4096)       header: magic u32 "CFSF", format u16 = 2, header_size
 *                   u16 = 4096, block_size u32 = 65536, ino u64, idx u32,
 *                   version u64, length u64, data_crc u32 (crc32c of all
 *                   the data), stamp u64 (the incarnation, below),
 *                   header_crc u32 (crc32c of the 52 bytes before it); the
 *                   rest of the block is zero.  Format 1 files (no stamp:
 *                   header_crc at 44, over the 44 bytes before it) are
 *                   still read, as stamp 0; every write makes format 2.
 *   [4096, +length) the data.
 *   then            one crc32c u32 per 64 KiB block of data (the last block
 *                   may be short), then a crc32c u32 of that table.
 *
 * The stamp names one incarnation of a replica file: a key deleted and
 * written again on this node gets a new one, so a delete meant for the old
 * file cannot remove the new one (store_delete_stamp).  Client writes make
 * stamp 0; repair copies a random non-zero stamp chosen by the leader.
 *
 * A replica is written to a temp file beside its final name and renamed
 * into place by store_write_commit(); bad bytes on disk are reported as
 * CFS_CORRUPT, never asserted.
 *
 * Errors: every call returning int returns 0 or a CFS_* code and, on error,
 * fills @errmsg (caller-owned, CFS_ERRMSG_SIZE bytes, may be NULL) with a
 * message that starts with the replica's path.  ENOSPC from the disk is
 * CFS_ENOSPC, other I/O errors CFS_EIO, out of memory CFS_ENOMEM.
 *
 * Deltas (format 3): a version written from a base shares the blocks it
 * does not change with the whole file the base reads them from (the base
 * itself, or the base's own base if the base is a delta), so a delta's
 * chain is one deep.  Its file holds only its own blocks (a sparse file);
 * its header names that base and maps the blocks it holds; reads take the
 * other blocks from the base's file, checked against the delta's own CRC
 * table.  A file is never changed in place while it is a live version,
 * except by store_patch.
 * Deleting a version that deltas are built on hands its blocks to them
 * (docs/on-disk-format.md: the newest takes a whole file over, merging
 * its own blocks into it; others are rebased), so no delta loses its
 * base.
 *
 * The code: data/store.c (this API, the directory tree, writing and
 * deleting), data/replica.c (a replica file's format and reading it
 * through its bases), data/delta.c (hand-over, rebase, store_compact).
 *
 * Threads: any call may run concurrently with any other on a different
 * fragment (ino, idx), and reads of a fragment's versions concurrently
 * with anything.  Calls that write or delete any version of one fragment
 * must be serialised by the caller (writers
 * and store_delete*): deleting a version may rewrite another version.
 * A struct store_writer is used by one thread at a time.
 */

#include <stddef.h>
#include <stdint.h>

#define STORE_MAGIC 0x46534643u /* "CFSF" read as little-endian bytes */
#define STORE_FORMAT 2	 /* what is written */
#define STORE_FORMAT_V1 1 /* still read: no stamp */
#define STORE_FORMAT_DELTA 3 /* a delta: unchanged blocks in its base */
/* Most blocks a delta's header map can name ((4092 - 60) * 8). */
#define STORE_DELTA_MAX_BLOCKS 32256
#define STORE_HEADER_SIZE 4096
#define STORE_BLOCK_SIZE 65536
/* Largest data length accepted; guards offset arithmetic. */
#define STORE_MAX_LENGTH (1ull << 40)

struct store;
struct store_writer;

/* Names one replica file. version 0 is never a stored version. */
struct store_key {
	uint64_t ino;
	uint32_t idx;
	uint64_t version;
};

/* Open (creating it if needed, like mkdir -p) the store rooted at @dir
 * (borrowed; copied).  Deletes temp files left by a crash mid-write and logs
 * how many at INFO.  On success *@out is a new store that the caller frees
 * with store_close(); on failure *@out is untouched. */
int store_open(const char *dir, struct store **out, char *errmsg);

/* Open the store at @dir for store_read and store_stat only, changing
 * nothing on the disk (another process, the node's cfs-data, owns it):
 * a client on the node's machine reads replicas there itself
 * (client/localread.h).  CFS_ENOENT if @dir has no frags/ directory. */
int store_open_reader(const char *dir, struct store **out, char *errmsg);

/* Write bulk data with O_DIRECT where the filesystem takes it (@on, the
 * default), or everything through the page cache; for writers begun from
 * now on (data/store.c says why). */
void store_set_direct(struct store *s, int on);

/* Make durable commits of small replica files (up to 1 MiB, and a
 * quarter of @size) cost one flush of a write-ahead journal instead of an
 * fsync of the file and of its directory (data/journal.h): two files of
 * @size bytes each in the store's directory.  First replays what a crash
 * left in them (images of files whose own writes may not have reached the
 * disk are written again, fsync'd).  @size 0: replay, then no journal (its
 * files are removed).  Call before any writer begins.  CFS_EIO and the
 * like naming the file. */
int store_set_journal(struct store *s, uint64_t size, char *errmsg);
/* For tests: hold the journal's checkpoints (journal_hold_checkpoints). */
void store_journal_hold(struct store *s, int hold);
/* Images and patches journaled, and checkpoints made, since
 * store_set_journal. */
void store_journal_stats(struct store *s, uint64_t *puts,
			 uint64_t *checkpoints);
/* Free *@s and set it to NULL (NULL or *@s NULL: no-op).  Every writer of
 * the store must have been committed or aborted first. */
void store_close(struct store **s);

/* Begin writing replica @k (borrowed; copied).  If @base_version != 0 and
 * that replica of the same (ino, idx) exists, the new replica starts with
 * its data and length, so a caller can patch ranges of it; blocks the
 * caller leaves alone are shared with the base's whole file (the commit
 * makes a delta), blocks it writes in part are copied from the base
 * first, checked against the base's CRCs (CFS_CORRUPT).  If the base does
 * not exist the new replica starts empty.  On success *@out
 * is a new writer, owned by the caller until store_write_commit() or
 * store_write_abort() frees it; @s must outlive it.
 * CFS_EINVAL if @k->version is 0 or @base_version == @k->version. */
int store_write_begin(struct store *s, const struct store_key *k,
		      uint64_t base_version, struct store_writer **out,
		      char *errmsg);

/* Set the stamp that store_write_commit() writes into the header (0 until
 * set).  The caller still owns @w. */
void store_write_set_stamp(struct store_writer *w, uint64_t stamp);

/* Write @len bytes of @buf (borrowed) at data offset @off; the length grows
 * to at least @off + @len (a hole reads as zeros).  @len == 0 changes
 * nothing.  CFS_EINVAL past STORE_MAX_LENGTH.  On CFS_ENOSPC the temp file
 * is removed at once and the writer is dead: every later call but abort
 * fails.  The caller still owns @w. */
int store_write(struct store_writer *w, uint64_t off, const void *buf,
		size_t len, char *errmsg);

/* Set the data length to @length (cut, or extend with zeros).  The caller
 * still owns @w. */
int store_truncate(struct store_writer *w, uint64_t length, char *errmsg);

/* Finish the replica: the block CRCs (noted at write time for blocks one
 * call wrote whole, else read back from the temp file), the table and the
 * header written, fsync the file if @durable, rename it to
 * its final name, fsync the directory if @durable.  If a valid replica of
 * the key exists with the same length, data_crc and stamp it is kept and
 * the call succeeds (an idempotent retry); a different one is replaced.
 * Always frees *@w and sets it to NULL; on failure the temp file is gone.
 * On success *@out_crc is the data_crc and *@out_len the length (each may
 * be NULL).  CFS_CORRUPT if a block copied from the base version no longer
 * matches the base's CRC. */
int store_write_commit(struct store_writer **w, int durable, uint32_t *out_crc,
		       uint64_t *out_len, char *errmsg);

/* Discard the replica being written: unlink the temp file, free *@w, set it
 * to NULL (NULL or *@w NULL: no-op). */
void store_write_abort(struct store_writer **w);

/* Read data [@off, @off + @len) of replica @k into @buf (caller-owned, at
 * least @len bytes); *@got is how many bytes were read, less than @len only
 * at the end of the data (a read past the end is not an error).  Checks the
 * header, the CRC table and the CRC of every 64 KiB block touched.
 * CFS_ENOENT if there is no such replica, CFS_CORRUPT (errmsg names the path
 * and block) if a check fails. */
int store_read(struct store *s, const struct store_key *k, uint64_t off,
	       void *buf, size_t len, size_t *got, char *errmsg);
/* store_read that also gives the replica's length and data_crc, as the
 * header it read the bytes under says (either may be NULL). */
int store_read_stat(struct store *s, const struct store_key *k, uint64_t off,
		    void *buf, size_t len, size_t *got, uint64_t *length,
		    uint32_t *data_crc, char *errmsg);

/* Length, data_crc and stamp (0 for a format 1 file) of replica @k from
 * its checked header (and table); @stamp may be NULL.  CFS_ENOENT or
 * CFS_CORRUPT as for store_read. */
int store_stat(struct store *s, const struct store_key *k, uint64_t *length,
	       uint32_t *data_crc, uint64_t *stamp, char *errmsg);

/* Scrub: read replica @k in full and check every block CRC and the data_crc.
 * 0, CFS_CORRUPT or CFS_ENOENT (or CFS_EIO / CFS_ENOMEM). */
int store_verify(struct store *s, const struct store_key *k, char *errmsg);

/* Delete replica @k.  CFS_ENOENT if it does not exist (callers that do
 * not care may ignore that code).  If deltas are built on it, its file
 * becomes one of theirs instead (see above). */
int store_delete(struct store *s, const struct store_key *k, char *errmsg);

/* Delete replica @k only if it is incarnation @stamp.  A replica with
 * another stamp is kept and the call returns 0: it is a newer copy that
 * took the place of the one the caller means, which is gone (see store.c).
 * A replica whose header does not check is deleted (its stamp cannot be
 * known, and it is not readable).  CFS_ENOENT if there is no replica. */
int store_delete_stamp(struct store *s, const struct store_key *k,
		       uint64_t stamp, char *errmsg);

/* Replica @k is its fragment's committed version, so every older version
 * of the fragment is garbage (the caller promises it: e.g. @k is the base
 * of a new write, which frag_open names as the committed version).  If @k
 * is a delta holding more than @min_blocks blocks, make it whole: it takes
 * its base's file over (the base is older), older deltas on that file are
 * deleted and newer ones rebased on @k.  Keeps a run of patches to one
 * fragment from carrying ever more blocks while garbage collection lags.
 * @min_blocks 0: any delta, even one holding no block of its own.
 * 0 if there is nothing to do. */
int store_compact(struct store *s, const struct store_key *k,
		  unsigned min_blocks, char *errmsg);

/*
 * Patch replica @k in place (docs/data-path.md "Patching in place"):
 * write @n bytes of @buf (borrowed) at data offset @off, and update the
 * CRCs of the blocks they touch, the table and the header's data_crc;
 * with @new_length more than @length, the replica grows to it (an append:
 * the range ends there and starts at or before its old end; the CRC
 * table moves past the new end).  *@out_crc is the new data_crc.  Cases:
 *  1) no replica @k: CFS_ENOENT;
 *  2) its length is not @length: CFS_ESTALE (the caller patches another
 *     state of it than this node holds);
 *  3) @new_length is @length and @off + @n past it, or it is more and
 *     the range is not an append to it, or it is less: CFS_EINVAL;
 *  4) a block the range touches in part does not check: CFS_CORRUPT
 *     (a patch never launders a bad block into fresh CRCs);
 *  5) otherwise 0, durable: with a journal, one record of the changed
 *     bytes flushed before they go into the file (unsynced; a checkpoint
 *     or a replay puts them on the disk); without, the file fdatasync'd.
 * A delta is first made a whole file (store_compact), so @k must be its
 * fragment's committed version, as for store_compact.  @n 0 changes
 * nothing and answers the data_crc.  This is the one write of a live
 * version in place: a reader of @k at the same time may see the block
 * being patched fail its CRC (the service claims the fragment around
 * both; data/service.c).  Callers serialise it with every other write of
 * the fragment, as store_write_begin.  Code: data/patch.c.
 */
int store_patch(struct store *s, const struct store_key *k, uint64_t length,
		uint64_t new_length, uint64_t off, const void *buf, size_t n,
		uint32_t *out_crc, char *errmsg);

/* Delete every committed replica of (@ino, @idx) whose version is below
 * @keep_from (GC of stale versions).  Deleting none is not an error. */
int store_delete_older(struct store *s, uint64_t ino, uint32_t idx,
		       uint64_t keep_from, char *errmsg);

/* Call @cb(@arg, key) for every committed replica (the key is borrowed for
 * the call).  Files whose name does not parse, or that sit in the wrong HH
 * directory, are logged at WARN and skipped; temp files of writes in
 * progress are skipped silently.  Stops early, returning 0, when @cb returns
 * non-zero.  No order is promised. */
int store_list(struct store *s, int (*cb)(void *arg, const struct store_key *k),
	       void *arg, char *errmsg);

/* The keys of every replica, as store_list finds them, in a list that
 * grows (store_list_keys): the scrub's and the inventory's passes. */
struct store_keys {
	struct store_key *keys;
	size_t n, cap;
	int oom; /* the listing stopped short: out of memory */
};

/* Every replica's key into @l (emptied first; its room is kept).  Out of
 * memory stops the listing with the keys so far and @l->oom set.  0, or
 * store_list's failure. */
int store_list_keys(struct store *s, struct store_keys *l, char *errmsg);

/* Free @l's keys and empty it. */
void store_keys_free(struct store_keys *l);

/* Capacity and free bytes (f_blocks * f_frsize, f_bavail * f_frsize) of the
 * filesystem that holds the store. */
int store_space(struct store *s, uint64_t *capacity, uint64_t *free_bytes,
		char *errmsg);

/* The store's directory, as given to store_open (owned by @s). */
const char *store_dir(const struct store *s);

/* Write the path of replica @k into @buf (caller-owned, @cap bytes;
 * truncated if too small, always terminated when @cap > 0). */
void store_path(const struct store *s, const struct store_key *k, char *buf,
		size_t cap);

#endif /* CFS_DATA_STORE_H */
