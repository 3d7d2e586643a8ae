/* fileio_int.h - inside file I/O: what client/fileio.c, client/fileread.c and client/inplace.c share (struct fio, the mount's table of open versions); nothing else includes it. */
#ifndef CFS_CLIENT_FILEIO_INT_H
#define CFS_CLIENT_FILEIO_INT_H

/*
 * client/fileio.h is the API; this header is what its three files share.
 *
 *   fileio.c   the fio, locating fragments, writing (chain writes with
 *              replacement, commits, versions opened ahead), parallel
 *              fragment writes
 *   fileread.c locations kept for cached reads, reading with fail-over
 *              (through the nodes or from local disks), read-ahead
 *   inplace.c  versions open for patching in place: patches sent to every
 *              node at once, the mount's seals, surveys after a failed
 *              patch (docs/data-path.md "Patching in place")
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "client/fileio.h"
#include "client/localread.h"
#include "common/wire.h" /* and the catalog, common/proto.h */

/* A whole chain of fsyncs of one fragment; longer than the nodes' own
 * forwarding timeouts (5 s per hop by default), so a dead node is named by
 * the node before it rather than blamed on the head. */
#define WRITE_TIMEOUT_MS 60000
#define READ_TIMEOUT_MS 10000
/* Read-ahead: pieces of at most PREFETCH_MAX bytes are asked for ahead of
 * a sequential reader, PREFETCH_DEPTH of them in flight (each on its own
 * node socket).  With one, a node's disk idled while the piece it had
 * just read crossed the network and the reader used it up; with two it
 * reads the next piece meanwhile; a third kept the 2-core dev cluster's
 * disk and cores busier still (docs/data-path.md). */
#define PREFETCH_MAX (4u << 20)
#define PREFETCH_DEPTH FIO_AHEAD_MAX
/* Fragments of one write in flight at once.  Each fragment's chain write
 * ends with fsyncs on its nodes; with one at a time the disks idle while
 * the next one is opened, sent and forwarded.  The extra ones go through
 * helper fios (their own node sockets) sharing this fio's mc, whose calls
 * are serialized: frag_open and frag_commit take turns, the chain writes
 * overlap. */
#define WRITE_PARALLEL 4
/* Windows of WIRE_MAX_fraginfo fragments kept for FIO_CACHED reads, per
 * fio: 4 x 64 fragments of 4 MiB cover 1 GiB of random reads; each costs
 * a struct wire_frag_map (about 80 KB, mostly node addresses). */
#define KEPT_WINDOWS 4
/* Versions opened ahead (struct fio_opens): slots, by fragment.  One kept
 * for longer than OPENS_MAX_AGE_MS is not used: its nodes were right when
 * its base committed, and placement may have moved on since (a copy moved
 * away, a node draining or gone); a write's own frag_open to commit spans
 * seconds too. */
#define OPENS_SLOTS 512
#define OPENS_MAX_AGE_MS 5000
/* Small writes only are patched in place: a large one is as cheap as a
 * new version, and each open version costs a seal (a Raft round) later. */
#define INPLACE_MAX (256u << 10)

/* A piece read ahead: which bytes of which committed version, asked of
 * which node on its slot's socket.  Its bytes are used only by a read that
 * found the same version committed (a version's bytes never change). */
struct prefetch {
	int active;
	uint64_t ino, idx, version, offset;
	uint32_t len, crc;
	uint64_t node;	   /* asked of */
	uint64_t fileoff; /* where offset is in the file */
	struct lread_job *job; /* read from the node's disk here, or NULL:
				* asked of the node on the slot's socket */
};

/* Kept locations: a window of fragments [first, first + count) of @ino
 * (0: the slot is free) as frag_locate answered. */
struct kept {
	struct wire_frag_map *map; /* allocated at first use */
	uint64_t ino, first;
	uint32_t count;
	uint64_t used; /* last hit or fill, for replacing the oldest */
};

struct fio {
	struct mc *mc;
	struct nc *nc;
	/* read-ahead requests, a socket per slot (NULL until first needed) */
	struct nc *pnc[PREFETCH_DEPTH];
	void *zctx;
	struct prefetch pf[PREFETCH_DEPTH];
	uint64_t next_ino, next_off; /* where a sequential read goes on */
	uint64_t fsz; /* fragment size, 0 until known */
	union wire_body *rep; /* metadata replies (large) */
	struct wire_frag_map *map;  /* the last frag_locate's answer */
	const struct wire_frag_map *cur; /* the map a read goes by */
	/* Locations kept for FIO_CACHED reads, a few windows (any inodes).
	 * The windows' maps, first, count and used are the fio's thread's;
	 * their ino, cgen, cmark and marked are under clock, since
	 * fio_forget may come from any thread. */
	struct kept kept[KEPT_WINDOWS];
	uint64_t kept_tick; /* for kept[].used */
	pthread_mutex_t clock;
	uint64_t cgen;  /* fio_forget calls so far */
	uint64_t cmark; /* cgen when the running FIO_CACHED read was allowed */
	int marked;     /* fio_cache_mark set cmark for the next such read */
	struct wire_frag_opened opened;
	struct fio_stats st;
	struct bcache *bc; /* the mount's data cache (borrowed), or NULL */
	struct lread *lr;  /* reads from local nodes' disks (borrowed), or
			    * NULL: every read through the node */
	struct fio_opens *opens; /* the mount's (borrowed), or NULL */
	/* helpers for parallel fragment writes, opened at the first write
	 * of several fragments (NULL: not yet, or could not be) */
	struct fio *helpers[WRITE_PARALLEL - 1];
	int helpers_failed;
	/* patches in place, a socket per node of the version (NULL until
	 * first needed) */
	struct nc *fan[CFS_GOAL_MAX];
};

/* A version opened ahead (fileio.c). */
struct opened_ahead;

struct opens_slot {
	struct opened_ahead *a; /* NULL: none */
	/* the last commit under a lease of a fragment that maps here */
	uint64_t ino, idx, when_ms;
};

struct open_patch; /* an entry of inplace.c */

struct fio_opens {
	pthread_mutex_t lock; /* guards all below */
	struct opens_slot slot[OPENS_SLOTS];
	struct fio_opens_stats st;
	/* versions open for patching in place (inplace.c), unordered */
	struct open_patch **patch;
	size_t npatch, cap_patch;
	uint64_t forgotten; /* entries dropped so far (fio_opens_gen) */
	/* ... by inode number modulo FORGOTTEN_SLOTS (fio_opens_gen) */
#define FORGOTTEN_SLOTS 64
	uint64_t forgotten_of[FORGOTTEN_SLOTS];
	pthread_cond_t patch_cond; /* an entry stopped being busy */
	/* whether the mount still holds write lease @epoch on @ino (NULL:
	 * assume so): a patch has no commit that the leader could refuse */
	int (*lease_ok)(void *arg, uint64_t ino, uint64_t epoch);
	void *lease_arg;
	/* told after each seal of a version of @ino (NULL: nobody): the
	 * sizes kept elsewhere (locations, names) predate it */
	void (*sealed)(void *arg, uint64_t ino);
	void *sealed_arg;
	/* whether another mount wanted @ino lately (NULL: never): then no
	 * version is opened for patching (fio_opens_set_contended) */
	int (*contended)(void *arg, uint64_t ino);
	void *contended_arg;
};

/* ---- fileio.c ------------------------------------------------------------ */

/* frag_locate [first, first + count) of @ino into f->map (and f->fsz);
 * @for_write: to rewrite them (write permission, not read). */
int fio_locate(struct fio *f, uint64_t ino, uint64_t first, uint32_t count,
	       int for_write, char *errmsg);

/* The fragment size, asked the first time with a writer's frag_locate
 * (write permission, not read); fio_fragment_size asks as a reader. */
int fio_fragment_size_for_write(struct fio *f, uint64_t ino, uint64_t *fsz,
				char *errmsg);

/* ---- inplace.c ----------------------------------------------------------- */

/* Whether the table has room for one more open version, sealing an idle
 * entry to make it when the table is full: 1 if there is room. */
int inplace_room(struct fio *f);

struct open_patch;

/* Before a commit that opens a version of (@ino, @idx) for patching
 * under lease @epoch: its entry, made now and busy.  Until inplace_add
 * fills it or inplace_unreserve drops it, another thread's write or seal
 * of the fragment waits for it, rather than find no entry and seal the
 * version under the patches this thread is about to send
 * (inplace_recover).  NULL if the fragment has an entry already or there
 * is no room: the commit must not open the version. */
struct open_patch *inplace_reserve(struct fio *f, uint64_t ino, uint64_t idx,
				   uint64_t epoch);

/* The commit of reserved @r opened @version with @length bytes and @crc
 * on the @n nodes of @chain (copied): the entry is ready for patches. */
void inplace_add(struct fio *f, struct open_patch *r, uint64_t version,
		 uint64_t length, uint32_t crc,
		 const struct wire_nodeaddr *chain, uint32_t n);

/* The commit of reserved @r did not open a version: the entry goes. */
void inplace_unreserve(struct fio *f, struct open_patch *r);

/* Patch [foff, foff + n) of fragment @idx in place if this mount holds
 * its version open under @epoch and the range is inside its length:
 * *done = 1 and the result.  Else *done = 0 and, unless it returns a
 * failure, the write goes on as a new version (an open version it cannot
 * patch is sealed first). */
int inplace_write(struct fio *f, uint64_t ino, uint64_t idx, uint64_t foff,
		  const void *data, size_t n, uint64_t epoch, int *done,
		  char *errmsg);

/* The first small write of a fragment under write lease @epoch: open its
 * committed version as it is (one Raft round) and patch it, *done = 1;
 * or *done = 0 and the write goes on as a new version. */
int inplace_open_committed(struct fio *f, uint64_t ino, uint64_t idx,
			   uint64_t foff, const void *data, size_t n,
			   uint64_t epoch, int *done, char *errmsg);

/* After a frag_open or commit refused EBUSY (this mount's lease @epoch
 * holds the fragment open, with no entry for it here): patch it through
 * another thread's entry (*done = 1), or locate, survey and seal it so
 * that the write goes on as a new version (*done = 0). */
int inplace_recover(struct fio *f, uint64_t ino, uint64_t idx, uint64_t foff,
		    const void *data, size_t n, uint64_t epoch, int *done,
		    char *errmsg);

/* The newest lease epoch of this mount's open versions of @ino (0: none,
 * or @t NULL): what its frag_locate names to be served them. */
uint64_t inplace_epoch_of(struct fio_opens *t, uint64_t ino);

/* Whether another mount wanted @ino lately (fio_opens_set_contended). */
int inplace_contended(struct fio_opens *t, uint64_t ino);

/* If this mount holds @fi's version open: *out is @fi with the crc its
 * nodes hold now, *gen its patches plus one (the data cache's key), and
 * 1.  Else 0 (also for @t NULL). */
int inplace_fix(struct fio_opens *t, uint64_t ino,
		const struct wire_fraginfo *fi, struct wire_fraginfo *out,
		uint32_t *gen);

#endif /* CFS_CLIENT_FILEIO_INT_H */
