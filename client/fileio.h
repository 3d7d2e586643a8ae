/* fileio.h - file data: fragments written down replica chains and committed, read from healthy replicas. */
#ifndef CFS_CLIENT_FILEIO_H
#define CFS_CLIENT_FILEIO_H

/*
 * The client's half of the data path (docs/data-path.md).
 *
 * Writing a range: for each fragment it touches, frag_open asks the leader
 * for a new version and its chain of nodes; the bytes go to the first node
 * in one frag_write, which writes and forwards them along the chain; when
 * every node holds them (and synced them, if @durable), frag_commit makes
 * the version the file's.  A node that fails is excluded and the fragment
 * written again as a new version on a replacement chain, so a write never
 * quietly ends with fewer copies than the leader could place.  A write
 * that covers only part of a fragment names the committed version as its
 * base: nodes holding it copy it and patch the range; a node that lacks it
 * makes the client resend the whole fragment.
 *
 * Reading: frag_locate gives each fragment's committed version and its
 * healthy replicas; a replica that fails (error, timeout, wrong checksum)
 * is reported to the leader (replica_bad) and the next one is tried.
 * Holes and bytes past a fragment's length read as zeros.
 *
 * A write of several fragments runs up to 4 of them at once, on helper
 * fios (threads of the call, their own node sockets, this fio's mc).
 *
 * Thread safety: one fio per thread (it owns node sockets); the mc may be
 * shared (its calls are serialized).  Only fio_forget may be called from
 * any thread, at any time.
 */

#include <stddef.h>
#include <stdint.h>

#include "client/metaclient.h"

struct fio;

struct fio_stats {
	uint64_t writes, reads;     /* fragment writes and reads done */
	uint64_t rewrites;          /* fragment writes repeated on a new chain */
	uint64_t bad_replicas;      /* replicas reported to the leader */
	uint64_t cached_reads;      /* fragment reads answered by the cache */
	uint64_t patches;           /* fragment writes patched in place */
};

/* @mc is borrowed and must outlive the fio; @zctx a ZeroMQ context to share
 * (borrowed) or NULL. */
int fio_open(struct fio **out, struct mc *mc, void *zctx, char *errmsg);
void fio_close(struct fio **f);

/* Write @len bytes of @buf at @offset of regular file @ino.  Returns 0 when
 * every fragment touched is committed (on as many nodes as the leader
 * could place, which is the goal unless degraded writes were needed), or a
 * CFS_* code with errmsg naming the fragment and node (then fragments of
 * the range other than the failed one may or may not be written).
 * @lease_epoch: the write lease the data was written under (0: none); if
 * the mount no longer holds it, the leader refuses with CFS_FENCED
 * (docs/leases.md "Fencing"). */
int fio_pwrite(struct fio *f, uint64_t ino, uint64_t offset, const void *buf,
	       size_t len, int durable, uint64_t lease_epoch, char *errmsg);

/* Read up to @len bytes at @offset; *got is less than @len only at the end
 * of the file. */
int fio_pread(struct fio *f, uint64_t ino, uint64_t offset, void *buf,
	      size_t len, size_t *got, char *errmsg);

/* fio_pread_ex flags. */
#define FIO_CACHED 1 /* kept locations may be used (below) */
/* What the read fetches from the nodes is not kept in the data cache
 * (fio_set_cache): a sequential reader's window, which the page cache
 * keeps for buffered readers, and which as a scan would push out what
 * random readers use.  (Keeping it also slowed a cold 1 GiB sequential
 * read from 375 to 220-270 MiB/s: the copies and page faults of filling
 * the cache are in the reader's path.)  What is cached still answers. */
#define FIO_NOKEEP 2
/* The read is the writer's, of what it is about to rewrite whole: it asks
 * for write permission, not read (a file may be writable by someone who
 * may not read it). */
#define FIO_FOR_WRITE 4
/* The caller reads @ino sequentially (a window after the one before):
 * read ahead past this read even if this fio's previous read was not the
 * one just before it (reads of one stream come on several fios, and out
 * of order). */
#define FIO_SEQUENTIAL 8

/*
 * fio_pread with @flags.  Without FIO_CACHED it is fio_pread: every call
 * asks the leader where the committed versions are (frag_locate).  With
 * FIO_CACHED it may go by locations this fio kept from an earlier
 * FIO_CACHED call for @ino (windows of 64 fragments, with the file's
 * size), and keeps the ones it fetches.  The caller promises that
 * no write to @ino was committed, by anyone, since those were fetched:
 * e.g. it holds a lease that keeps writers out, and calls fio_forget()
 * whenever it cannot promise that any more (lease lost or given up, a
 * write through another fio).  This fio's own writes forget by
 * themselves.  Replicas may still have moved (repair, rebalance): a read
 * that fails on kept locations reports nothing and is made again once
 * with fresh ones.
 *
 * What a FIO_CACHED call fetches is kept only if no fio_forget (of any
 * inode) ran since the call began, or since fio_cache_mark() if that was
 * called before it: so a forget that races with a read never leaves that
 * read's locations behind.  Memory: at most 4 windows per fio (of any
 * inodes; the least recently used is replaced), each a struct
 * wire_frag_map of about 80 KB allocated at its first use: 320 KB per
 * fio, covering 1 GiB of a file of 4 MiB fragments.
 */
int fio_pread_ex(struct fio *f, uint64_t ino, uint64_t offset, void *buf,
		 size_t len, size_t *got, int flags, char *errmsg);

/*
 * Called on the fio's thread before deciding that its next read may pass
 * FIO_CACHED (before checking the lease): that read keeps what it fetches
 * only if no fio_forget ran since this mark.  Without it the read's start
 * is the mark, which leaves a gap between the caller's check and the read
 * where a forget (a lease given up) would go unnoticed.
 */
void fio_cache_mark(struct fio *f);

/* Drop the locations kept for @ino (0: for every inode), and keep none
 * that a read in progress on another thread fetched before this call.
 * Any thread. */
void fio_forget(struct fio *f, uint64_t ino);

/* A piece read ahead: bytes [off, off + len) of inode @ino. */
struct fio_piece {
	uint64_t ino, off, len;
};
#define FIO_AHEAD_MAX 3

/* The pieces @f reads ahead (in flight or arrived) into @out (room for
 * FIO_AHEAD_MAX); how many.  On @f's thread, or while no thread uses it
 * (for a caller that chooses among fios). */
int fio_ahead(const struct fio *f, struct fio_piece *out);

/* The filesystem's fragment size (asked once from the leader). */
int fio_fragment_size(struct fio *f, uint64_t ino, uint64_t *fsz,
		      char *errmsg);

void fio_get_stats(const struct fio *f, struct fio_stats *st);

struct bcache;
/* Reads of this fio go through @bc, the mount's data cache
 * (client/bcache.h; borrowed, must outlive the fio; NULL: none).  It
 * needs no forgetting: blocks are named by the version they hold. */
void fio_set_cache(struct fio *f, struct bcache *bc);

struct lread;
/* Replicas on a data node of this machine are read from its disk
 * (client/localread.h; borrowed, must outlive the fio; NULL: every read
 * through the node, the default). */
void fio_set_local(struct fio *f, struct lread *lr);

/* Versions opened ahead: a write under a write lease that patches a
 * fragment asks its commit to open the fragment's next version on the same
 * nodes, and the next write of that fragment under the same lease uses it
 * instead of a frag_open of its own: one Raft commit per small write, not
 * two (docs/data-path.md "Writing a fragment").  One table serves every
 * fio of a mount, whichever session writes; fios without one (NULL) open
 * every version themselves. */
struct fio_opens;
int fio_opens_new(struct fio_opens **out, char *errmsg);
void fio_opens_free(struct fio_opens **t);
/* @t is borrowed and must outlive the fio. */
void fio_set_opens(struct fio *f, struct fio_opens *t);
/* How the table asks whether the mount still holds write lease @epoch on
 * @ino before it patches in place under it (1 yes). */
void fio_opens_set_lease_check(struct fio_opens *t,
			       int (*ok)(void *arg, uint64_t ino,
					 uint64_t epoch),
			       void *arg);

/* Who is told when a version of @ino that the table held open is sealed
 * (by this mount, or found sealed by the leader): the file's size and
 * mtime are committed now, and sizes kept from before (without its
 * appends) are stale once the entry is gone. */
void fio_opens_set_sealed(struct fio_opens *t,
			  void (*sealed)(void *arg, uint64_t ino), void *arg);

/* Whether another mount wanted @ino lately (its access recalled this
 * mount's lease): a version opened for patching would hold its size back
 * from it (data-path.md "Where the file ends") and be recalled again at
 * its next stat, so writes then go on as versions, which commit the size
 * as they go.  NULL: never. */
void fio_opens_set_contended(struct fio_opens *t,
			     int (*contended)(void *arg, uint64_t ino),
			     void *arg);

struct fio_opens_stats {
	uint64_t kept;  /* versions a commit opened ahead */
	uint64_t used;  /* ... that a write then took */
	uint64_t stale; /* ... whose commit was refused (then written again) */
	uint64_t opened_in_place; /* versions committed open for patching */
	uint64_t patches; /* writes that patched one in place */
	uint64_t appends; /* ... of them that made it longer */
	uint64_t seals;   /* open versions sealed by this mount */
	uint64_t surveys; /* ... after a failed patch, by asking the nodes */
};
void fio_opens_stats(struct fio_opens *t, struct fio_opens_stats *st);

/* Where @ino's data ends in the versions the mount holds open for
 * patching in place (0: none): appends in place make a file longer
 * before any commit says so (their seal does), so the file's size as
 * this mount knows it is the most of this, the metadata server's size
 * and what is still buffered.  A size asked of the server is combined
 * with this with no entry dropped in between (fio_opens_gen): a seal
 * between the server's answer and a read after it would leave neither
 * knowing the appends (fusefs_call_attr). */
uint64_t fio_opens_end(struct fio_opens *t, uint64_t ino);

/* How many entries the table dropped so far (each seal drops one), of
 * inodes that share @ino's slot (0: of all): a size of @ino combined
 * with fio_opens_end() is right only if this did not change between
 * reading the size and the end.  Cheap: no scan. */
uint64_t fio_opens_gen(struct fio_opens *t, uint64_t ino);

/* Seal the versions of @ino (0: of every inode) that the mount holds open
 * for patching in place (docs/data-path.md "Patching in place"): before
 * its write lease goes, before a truncation, at unmount.  0, or the first
 * failure (@errmsg may be NULL; a version not sealed stays open until the
 * lease ends, and the leader seals it). */
int fio_seal_ino(struct fio *f, uint64_t ino, char *errmsg);

/* Seal the versions of @ino the mount holds open under a write lease it
 * no longer holds (its session lapsed, or a recall's seal failed): the
 * lease may still be alive on the leader (the seal commits) or over (the
 * seal is refused FENCED: the leader sealed it, and another mount may
 * have written the fragment since, even reopened the same version).
 * Either way the entry goes, and with it a length, crc and end that
 * reads and sizes would otherwise take over the server's.  Called before
 * a read or an attribute question of @ino; the common cases (no entry of
 * @ino, or entries of the lease held) cost one scan of the table.  How
 * many entries went. */
size_t fio_seal_lapsed(struct fio *f, uint64_t ino);

/* Tests only: called (if not NULL) when a write's commit opened the
 * committed version of fragment (@ino, @idx) for patching, before the
 * write patches it: a test stalls one thread there while another writes
 * the fragment (tests/system/inplace_race.c). */
extern void (*fio_test_opened_in_place)(uint64_t ino, uint64_t idx);

#endif /* CFS_CLIENT_FILEIO_H */
