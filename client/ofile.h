/* ofile.h - open files of a client: per-inode handle table, write-back buffers, read windows, hidden (unlinked-while-open) files. */
#ifndef CFS_CLIENT_OFILE_H
#define CFS_CLIENT_OFILE_H

/*
 * The open-file machinery that cfs-fuse (client/fusefs.c) and libcfs
 * (client/libcfs.c) share, so that what an open file does with its data
 * (docs/data-path.md) is written once, and hooks such as client leases
 * have one place to go.
 *
 * A table lists the open files (struct ofile) of each inode.  Each file
 * has:
 *  - a write-back buffer: one contiguous dirty range of up to
 *    opt.wbuf_max bytes, written out (durably, through fio_pwrite) when it
 *    is full, when a write does not touch it, before another file of the
 *    inode writes or anyone reads or truncates the inode, and on
 *    ofile_sync.  A write-out failure that no caller heard of is deferred:
 *    the file's next write or ofile_sync returns it, once;
 *  - a read window of opt.window bytes for a sequential reader, valid
 *    while the inode's change count (ofile_changed) stays.
 * The furthest dirty end of an inode (ofile_dirty_end) is what this client
 * adds to the size the metadata server reports.
 *
 * An inode unlinked while open can be renamed to a hidden name and
 * recorded (ofile_hide); ofile_close hands the name back at the inode's
 * last close, for the caller to remove (what NFS clients do).
 *
 * Threads: every call is safe from any thread, except the shutdown calls
 * ofile_flush_all and ofile_table_free (no other call may run).
 * Each call that does I/O takes the caller's fio (one per thread, see
 * fileio.h).  Internal lock order: the table's append lock, one file's
 * lock, a write-out stripe (one inode's write-outs at a time: two at once
 * would patch the same committed fragment version and the later commit
 * would drop the earlier one's bytes), the table lock.  Callbacks run
 * with a file's lock held and must not call back into this module for
 * the same file.
 *
 * Errors are CFS_* codes (0 = ok) with errmsg saying why.
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "client/fileio.h"
#include "common/error.h"
#include "common/wire.h"

#define OFILE_HIDDEN_NAME 64

struct ofile_table;

struct ofile_options {
	size_t wbuf_max;        /* the dirty range of one file, bytes */
	size_t window;          /* read window of a sequential reader */
	/* The largest read served through the window.  cfs-fuse replies
	 * straight from the window, so a read of a whole window costs
	 * nothing extra (window); libcfs copies out of it, and a read that
	 * large goes straight to the caller's buffer (window - 1). */
	size_t window_max_read;
	/* 1: a read at offset 0 counts as sequential when it is the file's
	 * first (libcfs: small reads of a file from its start are the common
	 * case).  0: the kernel reads ahead for cfs-fuse, and a window read
	 * at open would only cost a random reader a large read. */
	int window_at_zero;
	uint64_t file_max;      /* a write past this fails CFS_EFBIG; 0: no
				   limit here (the kernel's) */
	/* 1 (cfs-fuse): write-out failures and the write-outs of
	 * ofile_flush_all are logged, with the range and inode, and errmsg
	 * is left as fio said (errors reach the kernel only as an errno, so
	 * the log is where the range is told).  0 (libcfs, a library that
	 * reports through cfs_errmsg instead of logging for the
	 * application): errmsg is prefixed with the range. */
	int log_writeouts;
	/* Called (may be NULL) after each write-out of @ino's data
	 * (fio_pwrite, whether it succeeded or not: some fragments may be
	 * committed), with the file's lock held: its size and mtime may have
	 * changed.  The writing fio forgets its kept locations itself
	 * (fileio.h), other fio's do not: cfs-fuse's hook makes every fio of
	 * the mount forget them, and forgets the attributes it cached. */
	void (*written)(void *arg, uint64_t ino);
	void *written_arg;
	/* The epoch of the write lease the caller holds on @ino now, 0 if
	 * none (may be NULL: always 0).  Asked when a dirty range starts and
	 * when a write goes out at once; the range goes out naming it, so a
	 * range buffered under a lease that was lost meanwhile (an expired
	 * session) is refused by the leader (CFS_FENCED) instead of landing
	 * over what the next holder wrote (docs/leases.md "Fencing").  A
	 * write under another epoch than its range's first writes the range
	 * out before it is buffered.  Called with the file's lock held. */
	uint64_t (*lease_epoch)(void *arg, uint64_t ino);
	void *lease_arg;
};

/*
 * An open file.  The caller may read ino; every other field is the
 * module's.  A caller that needs fields of its own embeds it as the FIRST
 * member of a larger struct whose size it passes to ofile_open, so that
 * the module frees the whole object at its last reference.
 */
struct ofile {
	uint64_t ino;
	pthread_mutex_t lock; /* guards buf..rvalid */
	uint8_t *buf;
	size_t cap, len; /* dirty bytes are [start, start + len) */
	uint64_t start;
	uint64_t epoch;  /* written under this write lease (0: none) */
	int error;       /* a deferred write-out failure, told once */
	char error_msg[CFS_ERRMSG_SIZE];
	uint8_t *rbuf;   /* read window [rstart, rstart + rlen) as read while */
	size_t rlen;     /* the inode's change count was rgen */
	uint64_t rstart, rgen, next_off;
	int rvalid;
	/* under the table lock: */
	uint64_t dirty_end; /* start + len while len > 0, else 0 */
	unsigned refs;
	int attached;       /* still listed under its inode */
	struct ofile *next;
};

/* What ofile_hide recorded and ofile_close hands back. */
struct ofile_hidden {
	uint64_t parent;
	struct wire_cred cred; /* of who unlinked it */
	char name[OFILE_HIDDEN_NAME];
};

/* Called for a write with OFILE_APPEND: the size of @ino as the metadata
 * server has it, into *size.  With the file's lock and the append lock
 * held. */
typedef int (*ofile_size_fn)(void *arg, uint64_t ino, uint64_t *size,
			     char *errmsg);

/* Called once by a successful ofile_read with the bytes read (@data
 * borrowed, valid only during the call; @n less than asked only at the
 * end of the file), with the file's lock held. */
typedef void (*ofile_deliver_fn)(void *arg, const uint8_t *data, size_t n);

/* Called by ofile_table_free for each hidden entry still recorded. */
typedef void (*ofile_hidden_fn)(void *arg, const struct ofile_hidden *h);

/* A new, empty table; @opt is copied.  CFS_ENOMEM. */
int ofile_table_new(struct ofile_table **out, const struct ofile_options *opt);

/* Free the table and every file still open (their buffers are lost:
 * ofile_flush_all first), calling @gone (may be NULL) with each hidden
 * entry.  Sets *t to NULL; NULL-safe.  No other call may run. */
void ofile_table_free(struct ofile_table **t, ofile_hidden_fn gone,
		      void *arg);

/* Write out what every open file holds (shutdown with files still open).
 * Failures are dropped (logged with opt.log_writeouts).  No other call
 * may run. */
void ofile_flush_all(struct ofile_table *t, struct fio *fio);

/* Open @ino: a new file of @size bytes (0: sizeof(struct ofile); else at
 * least that, zeroed past the struct ofile), listed under its inode.
 * *out is the caller's until ofile_close.  CFS_ENOMEM. */
int ofile_open(struct ofile_table *t, uint64_t ino, size_t size,
	       struct ofile **out);

/* Unlist @f and drop the opener's reference (the memory goes when no
 * write-out of another thread holds it any more); the caller wrote it out
 * first (ofile_sync).  Returns 1 with *gone filled (if not NULL) when that
 * was the inode's last file and it was hidden: the caller removes the
 * entry; else 0. */
int ofile_close(struct ofile_table *t, struct ofile *f,
		struct ofile_hidden *gone);

/* The end of the furthest dirty range of @ino in any file, 0 if none. */
uint64_t ofile_dirty_end(struct ofile_table *t, uint64_t ino);

/* Count a change of @ino's data through this client that did not go
 * through ofile_write (a truncation): read windows taken before are
 * stale. */
void ofile_changed(struct ofile_table *t, uint64_t ino);

/* Write out the dirty range of every file of @ino but @except (NULL:
 * all), before a truncation.  Failures stay with their files (deferred). */
void ofile_flush_ino(struct ofile_table *t, uint64_t ino,
		     const struct ofile *except, struct fio *fio);

/* ofile_flush_ino for a recall of @ino's write lease: every file's lock is
 * taken, also of files with nothing dirty yet, so that a write which read
 * the lease's epoch (ofile_options.lease_epoch) before the recall began
 * has buffered its range and the range goes out while the lease is still
 * held (else it would be fenced after the release). */
void ofile_flush_ino_all(struct ofile_table *t, uint64_t ino,
			 struct fio *fio);

/* Write out the dirty ranges of every file of @f's inode, @f's last, and
 * take @f's deferred failure: what fsync, flush and close report (another
 * file's write-out failure too, which that file also keeps to tell).
 * @f's deferred failure is cleared either way. */
int ofile_sync(struct ofile_table *t, struct ofile *f, struct fio *fio,
	       char *errmsg);

enum {
	OFILE_APPEND = 1, /* write at the end as this client knows it: the
			     server's size (@size_of) or the furthest dirty
			     end; O_APPEND writes of the table go one at a
			     time, each claiming its range before the next
			     looks */
	OFILE_SYNC = 2,   /* write the range out after this write (O_SYNC) */
	OFILE_LEASED = 4, /* keep the range only while it is buffered under
			     a write lease (ofile_options.lease_epoch not 0):
			     otherwise write it out after this write, so that
			     a write without the lease is seen when it
			     returns */
};

/*
 * A write of @n bytes at *off (with OFILE_APPEND: at the end; *off is set
 * to where it went):
 * 1) fails with an earlier deferred failure of @f, if any;
 * 2) first writes out other files' dirty data of the inode, so write-outs
 *    land in the order the writes came;
 * 3) fails CFS_EFBIG past opt.file_max;
 * 4) joins @f's dirty range when it overlaps or touches it and the range
 *    stays within opt.wbuf_max; otherwise the range is written out first
 *    (its failure fails this write);
 * 5) a write bigger than opt.wbuf_max goes out at once; the range goes out
 *    when it is full, and after the write with OFILE_SYNC.
 * @size_of is needed only with OFILE_APPEND.
 */
int ofile_write(struct ofile_table *t, struct ofile *f, struct fio *fio,
		uint64_t *off, const void *buf, size_t n, unsigned flags,
		ofile_size_fn size_of, void *arg, char *errmsg);

/* ofile_read flag, beside fio's: the caller holds no read lease, so a
 * window an earlier call kept may be stale (another client wrote since):
 * the range is read from the data nodes (case 3), and the window is
 * dropped. */
#define OFILE_FRESH 0x100

/*
 * A read of up to @n bytes at @off, whose data reads pass @fio_flags to
 * fio_pread_ex (FIO_CACHED: the caller promises what fileio.h asks for
 * kept locations; OFILE_FRESH, above, is ofile's): first every dirty range
 * of the inode is written out, then:
 * 1) the window holds the range (or holds up to the end of the file);
 * 2) a sequential read (at the end of @f's previous one, or in the
 *    window after a full one) within opt.window_max_read fills a new
 *    window, aligned when that still covers the range (one fragment
 *    read), and is served from it; fio reads the windows after it ahead
 *    (FIO_SEQUENTIAL);
 * 3) anything else is read into @tmp (@n bytes, the caller's).
 * On success @deliver gets the bytes, *got their count.
 */
int ofile_read(struct ofile_table *t, struct ofile *f, struct fio *fio,
	       uint64_t off, size_t n, int fio_flags, uint8_t *tmp,
	       ofile_deliver_fn deliver, void *arg, size_t *got,
	       char *errmsg);

/* Is any file open?  (A cheap test before ofile_hide_name.) */
int ofile_any_open(struct ofile_table *t);

/* A fresh hidden name for @ino, "<prefix><ino in hex>-<n>", into @name
 * (OFILE_HIDDEN_NAME bytes), if @ino is open and not hidden yet: 1; else 0
 * (unlink it as usual). */
int ofile_hide_name(struct ofile_table *t, uint64_t ino, const char *prefix,
		    char *name);

/* Record that @ino, renamed to @h->name, is to be removed at its last
 * close: 1 if recorded; 0 if @ino was closed or hidden meanwhile (the
 * caller removes the entry now). */
int ofile_hide(struct ofile_table *t, uint64_t ino,
	       const struct ofile_hidden *h);

#endif /* CFS_CLIENT_OFILE_H */
