/* store_int.h - inside the fragment store: what data/store.c shares with store_write.c, delta.c, image.c and journal.c (the store itself, names, the directory walk, temp files, fsync); nothing else includes it. */
#ifndef CFS_DATA_STORE_INT_H
#define CFS_DATA_STORE_INT_H

/*
 * The store is data/store.c (the API of data/store.h: files, reading, the
 * directory tree, deleting), data/store_write.c (writing and committing a
 * replica), data/replica.c (one replica file's format and
 * reading it), data/delta.c (deltas and their bases) and data/image.c (a
 * replica file's image in the journal).  Errors as in data/store.h.
 * Everything here may run on any thread.
 */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "data/store.h"

/* What a buffer read or written with O_DIRECT is aligned to. */
#define DIRECT_ALIGN 4096

struct store {
	char *dir;
	atomic_uint_fast64_t tmp_counter;
	atomic_int direct; /* store_set_direct */
	struct journal *journal; /* store_set_journal; NULL: none */
	int dirfd;		 /* @dir, for the journal's syncfs */
};

/* The filesystem refuses O_DIRECT (@what: open, or a write): every
 * reader and writer from now on goes through the page cache. */
void store_direct_refused(struct store *s, const char *what);

/* What a temp file's name carries after the final name (and what marks
 * it as no replica). */
#define TMP_MARK ".tmp."

/* The HH directory of fragment (@ino, @idx): crc32c of them & 0xff. */
unsigned store_frag_hash(uint64_t ino, uint32_t idx);

/* The key named by a replica file name; -1 unless @name is exactly the
 * canonical name (no signs, spaces, upper case or leading zeros). */
int store_parse_name(const char *name, struct store_key *k);

/* A fresh temp file name for final name @path into @buf (@cap bytes):
 * @path, TMP_MARK, pid.counter; unique within the store and the process. */
void store_tmp_path(struct store *s, const char *path, char *buf, size_t cap);

/* fsync @path, or the directory that holds it when @parent. */
int store_sync_path(const char *path, int parent, char *errmsg);

/* mkdir @path unless it exists.  A new directory's entry is fsync'd in its
 * parent, or a durable replica inside it could vanish in a crash. */
int store_make_dir(const char *path, char *errmsg);

/* @k's file was deleted or renamed to another key's name: the journal
 * must not bring it back (journal_forget). */
void store_forget(struct store *s, const struct store_key *k);

/* The store's journal (store_set_journal); NULL: none. */
struct journal *store_journal(struct store *s);

/* Tests only: called by store_read and store_verify between opening a
 * replica and reading it (NULL: nothing), to change files under them. */
extern void (*store_test_opened)(const struct store_key *k);

/* Called for each entry of a frags/HH directory; non-zero stops the walk. */
typedef int store_walk_fn(void *arg, const char *dir, unsigned hh,
			  const char *name);

/* Call @fn for every entry but "." and ".." of frags/@hh (none if it does
 * not exist).  1 if @fn stopped the walk, 0 if not, or an error. */
int store_walk_dir(struct store *s, unsigned hh, store_walk_fn *fn, void *arg,
		   char *errmsg);

#endif /* CFS_DATA_STORE_INT_H */
