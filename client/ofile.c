/* ofile.c - open files of a client: per-inode handle table, write-back buffers, read windows, hidden (unlinked-while-open) files. */
#include "client/ofile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define BUCKETS 1024         /* open-inode hash buckets */
#define FLUSH_LOCKS 64       /* write-outs, striped by inode */
#define FLUSH_BATCH 16       /* files written out per table walk */
#define WBUF_FIRST (64u << 10) /* a buffer's first allocation */
#define WBUF_KEEP (1u << 20) /* a written-out buffer bigger than this is freed */

/* The open files of one inode. */
struct open_ino {
	uint64_t ino;
	uint64_t gen; /* counts data changes through this client */
	struct ofile *files;
	struct ofile_hidden hidden; /* name[0] != 0: unlinked while open */
	struct open_ino *next;      /* hash chain */
};

struct ofile_table {
	struct ofile_options opt;
	/* guards table, nopen, hide_seq and the files' fields marked "under
	 * the table lock" */
	pthread_mutex_t lock;
	pthread_mutex_t append_lock; /* OFILE_APPEND writes, one at a time */
	pthread_mutex_t flush_locks[FLUSH_LOCKS];
	struct open_ino *table[BUCKETS];
	unsigned nopen;    /* inodes in the table */
	unsigned hide_seq; /* for hidden names */
};

/* ---- the table ---------------------------------------------------------- */

int
ofile_table_new(struct ofile_table **out, const struct ofile_options *opt)
{
	struct ofile_table *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (t == NULL)
		return CFS_ENOMEM;
	t->opt = *opt;
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->append_lock, NULL);
	for (unsigned i = 0; i < FLUSH_LOCKS; i++)
		pthread_mutex_init(&t->flush_locks[i], NULL);
	*out = t;
	return 0;
}

static void
file_free(struct ofile *f)
{
	pthread_mutex_destroy(&f->lock);
	free(f->buf);
	free(f->rbuf);
	free(f);
}

void
ofile_table_free(struct ofile_table **tp, ofile_hidden_fn gone, void *arg)
{
	struct ofile_table *t = *tp;

	if (t == NULL)
		return;
	for (unsigned i = 0; i < BUCKETS; i++) {
		while (t->table[i] != NULL) {
			struct open_ino *oi = t->table[i];
			t->table[i] = oi->next;
			if (oi->hidden.name[0] != '\0' && gone != NULL)
				gone(arg, &oi->hidden);
			while (oi->files != NULL) {
				struct ofile *f = oi->files;
				oi->files = f->next;
				file_free(f);
			}
			free(oi);
		}
	}
	for (unsigned i = 0; i < FLUSH_LOCKS; i++)
		pthread_mutex_destroy(&t->flush_locks[i]);
	pthread_mutex_destroy(&t->append_lock);
	pthread_mutex_destroy(&t->lock);
	free(t);
	*tp = NULL;
}

static struct open_ino **
table_find(struct ofile_table *t, uint64_t ino)
{
	struct open_ino **p = &t->table[ino % BUCKETS];

	while (*p != NULL && (*p)->ino != ino)
		p = &(*p)->next;
	return p;
}

int
ofile_open(struct ofile_table *t, uint64_t ino, size_t size,
	   struct ofile **out)
{
	struct ofile *f;
	struct open_ino **p;

	*out = NULL;
	if (size < sizeof(*f))
		size = sizeof(*f);
	if ((f = calloc(1, size)) == NULL)
		return CFS_ENOMEM;
	f->ino = ino;
	f->refs = 1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_lock(&t->lock);
	p = table_find(t, ino);
	if (*p == NULL) {
		if ((*p = calloc(1, sizeof(**p))) == NULL) {
			pthread_mutex_unlock(&t->lock);
			pthread_mutex_destroy(&f->lock);
			free(f);
			return CFS_ENOMEM;
		}
		(*p)->ino = ino;
		t->nopen++;
	}
	f->next = (*p)->files;
	(*p)->files = f;
	f->attached = 1;
	pthread_mutex_unlock(&t->lock);
	*out = f;
	return 0;
}

static void
unref_locked(struct ofile *f)
{
	if (--f->refs == 0)
		file_free(f);
}

int
ofile_close(struct ofile_table *t, struct ofile *f, struct ofile_hidden *gone)
{
	int last_hidden = 0;

	pthread_mutex_lock(&t->lock);
	struct open_ino **p = table_find(t, f->ino), *oi = *p;
	if (oi != NULL && f->attached) {
		struct ofile **q = &oi->files;
		while (*q != NULL && *q != f)
			q = &(*q)->next;
		if (*q == f)
			*q = f->next;
		f->attached = 0;
		if (oi->files == NULL) {
			if (oi->hidden.name[0] != '\0' && gone != NULL) {
				*gone = oi->hidden;
				last_hidden = 1;
			}
			*p = oi->next;
			t->nopen--;
			free(oi);
		}
	}
	unref_locked(f);
	pthread_mutex_unlock(&t->lock);
	return last_hidden;
}

uint64_t
ofile_dirty_end(struct ofile_table *t, uint64_t ino)
{
	uint64_t end = 0;

	pthread_mutex_lock(&t->lock);
	struct open_ino *oi = *table_find(t, ino);
	for (struct ofile *f = oi ? oi->files : NULL; f; f = f->next)
		if (f->dirty_end > end)
			end = f->dirty_end;
	pthread_mutex_unlock(&t->lock);
	return end;
}

void
ofile_changed(struct ofile_table *t, uint64_t ino)
{
	pthread_mutex_lock(&t->lock);
	struct open_ino *oi = *table_find(t, ino);
	if (oi != NULL)
		oi->gen++;
	pthread_mutex_unlock(&t->lock);
}

static uint64_t
ino_gen(struct ofile_table *t, uint64_t ino)
{
	uint64_t gen = 0;

	pthread_mutex_lock(&t->lock);
	struct open_ino *oi = *table_find(t, ino);
	if (oi != NULL)
		gen = oi->gen;
	pthread_mutex_unlock(&t->lock);
	return gen;
}

/* Make f's dirty range known to the table (f->lock held): its end, and
 * that the inode's data changed (read windows taken before are stale). */
static void
publish(struct ofile_table *t, struct ofile *f)
{
	pthread_mutex_lock(&t->lock);
	f->dirty_end = f->len > 0 ? f->start + f->len : 0;
	struct open_ino *oi = *table_find(t, f->ino);
	if (oi != NULL)
		oi->gen++;
	pthread_mutex_unlock(&t->lock);
}

/* ---- write-out ------------------------------------------------------------ */

/* Data of @ino went out, or may have (a failed write-out may still have
 * committed some of it): its size and times may have changed. */
static void
written(struct ofile_table *t, uint64_t ino)
{
	if (t->opt.written != NULL)
		t->opt.written(t->opt.written_arg, ino);
}

/* The write lease @ino is written under now (ofile_options.lease_epoch). */
static uint64_t
epoch_now(struct ofile_table *t, uint64_t ino)
{
	return t->opt.lease_epoch != NULL
		       ? t->opt.lease_epoch(t->opt.lease_arg, ino)
		       : 0;
}

/* Write out @f's dirty range, durably (f->lock held).  The range is gone
 * afterwards whether or not that succeeded: a failure is the caller's to
 * report (or defer). */
static int
wb_flush(struct ofile_table *t, struct ofile *f, struct fio *fio,
	 char *errmsg)
{
	pthread_mutex_t *stripe = &t->flush_locks[f->ino % FLUSH_LOCKS];
	int rv;

	if (f->len == 0)
		return 0;
	pthread_mutex_lock(stripe);
	rv = fio_pwrite(fio, f->ino, f->start, f->buf, f->len, 1, f->epoch,
			errmsg);
	pthread_mutex_unlock(stripe);
	written(t, f->ino);
	if (rv != 0 && t->opt.log_writeouts)
		LOG_WARN("writing %zu bytes at offset %llu of inode %llu: %s",
			 f->len, (unsigned long long)f->start,
			 (unsigned long long)f->ino, errmsg);
	else if (rv != 0)
		cfs_errmsg_prefix(errmsg, "writing %zu bytes at %llu", f->len,
				  (unsigned long long)f->start);
	f->len = 0;
	if (f->cap > WBUF_KEEP) {
		free(f->buf);
		f->buf = NULL;
		f->cap = 0;
	}
	publish(t, f);
	return rv;
}

/* Keep a write-out failure in @f for its next write or sync. */
static void
defer_error(struct ofile *f, int rv, const char *msg)
{
	if (rv == 0 || f->error != 0)
		return;
	f->error = rv;
	snprintf(f->error_msg, sizeof(f->error_msg), "%s",
		 msg[0] ? msg : cfs_strerror(rv));
}

/* Take @f's deferred failure (f->lock held): its code, or 0. */
static int
take_error(struct ofile *f, char *errmsg)
{
	int rv = f->error;

	if (rv != 0)
		cfs_errmsg_set(errmsg, "an earlier write-out failed: %s",
			       f->error_msg);
	f->error = 0;
	return rv;
}

/* Write out @f's range under its lock (a write in progress publishes its
 * range first), and drop the reference the caller took under the table
 * lock.  A failure is deferred to @f (its next write, fsync or close
 * tells it) and also returned, with @errmsg (may be NULL). */
static int
flush_and_unref(struct ofile_table *t, struct ofile *f, struct fio *fio,
		char *errmsg)
{
	char msg[CFS_ERRMSG_SIZE] = "";
	int rv;

	pthread_mutex_lock(&f->lock);
	rv = wb_flush(t, f, fio, msg);
	defer_error(f, rv, msg);
	pthread_mutex_unlock(&f->lock);
	pthread_mutex_lock(&t->lock);
	unref_locked(f);
	pthread_mutex_unlock(&t->lock);
	if (rv != 0 && errmsg != NULL)
		snprintf(errmsg, CFS_ERRMSG_SIZE, "%s", msg);
	return rv;
}

/* ofile_flush_ino, returning the first failure (@errmsg may be NULL). */
static int
flush_ino(struct ofile_table *t, uint64_t ino, const struct ofile *except,
	  struct fio *fio, char *errmsg)
{
	struct ofile *list[FLUSH_BATCH];
	unsigned n;
	int first = 0;

	do {
		n = 0;
		pthread_mutex_lock(&t->lock);
		struct open_ino *oi = *table_find(t, ino);
		for (struct ofile *f = oi ? oi->files : NULL;
		     f && n < FLUSH_BATCH; f = f->next) {
			if (f->dirty_end == 0 || f == except)
				continue;
			f->refs++;
			list[n++] = f;
		}
		pthread_mutex_unlock(&t->lock);
		for (unsigned i = 0; i < n; i++) {
			int rv = flush_and_unref(t, list[i], fio,
						 first ? NULL : errmsg);
			if (first == 0)
				first = rv;
		}
	} while (n == FLUSH_BATCH); /* more than fit the list: another round */
	return first;
}

void
ofile_flush_ino(struct ofile_table *t, uint64_t ino,
		const struct ofile *except, struct fio *fio)
{
	flush_ino(t, ino, except, fio, NULL);
}

void
ofile_flush_ino_all(struct ofile_table *t, uint64_t ino, struct fio *fio)
{
	struct ofile **list = NULL;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&t->lock);
	struct open_ino *oi = *table_find(t, ino);
	for (struct ofile *f = oi ? oi->files : NULL; f; f = f->next)
		cap++;
	if (cap > 0 && (list = malloc(cap * sizeof(*list))) != NULL)
		for (struct ofile *f = oi->files; f; f = f->next) {
			f->refs++;
			list[n++] = f;
		}
	pthread_mutex_unlock(&t->lock);
	if (cap > 0 && list == NULL) { /* the dirty ones, at least */
		ofile_flush_ino(t, ino, NULL, fio);
		return;
	}
	for (size_t i = 0; i < n; i++)
		flush_and_unref(t, list[i], fio, NULL);
	free(list);
}

void
ofile_flush_all(struct ofile_table *t, struct fio *fio)
{
	char msg[CFS_ERRMSG_SIZE];

	for (unsigned i = 0; i < BUCKETS; i++) {
		for (struct open_ino *oi = t->table[i]; oi; oi = oi->next) {
			for (struct ofile *f = oi->files; f; f = f->next) {
				msg[0] = '\0';
				pthread_mutex_lock(&f->lock);
				if (f->len > 0 && wb_flush(t, f, fio, msg) == 0 &&
				    t->opt.log_writeouts)
					LOG_INFO("inode %llu: wrote out data "
						 "of a file still open",
						 (unsigned long long)f->ino);
				pthread_mutex_unlock(&f->lock);
			}
		}
	}
}

int
ofile_sync(struct ofile_table *t, struct ofile *f, struct fio *fio,
	   char *errmsg)
{
	char other[CFS_ERRMSG_SIZE] = "";
	int rv;

	/* fsync is of the inode: what another open file of it buffered goes
	 * out too, and its failure is told here as well as there (as Linux
	 * tells a writeback error to every open file) */
	int orv = flush_ino(t, f->ino, f, fio, other);
	pthread_mutex_lock(&f->lock);
	if ((rv = wb_flush(t, f, fio, errmsg)) == 0)
		rv = take_error(f, errmsg);
	f->error = 0; /* told now */
	pthread_mutex_unlock(&f->lock);
	if (rv == 0 && orv != 0) {
		snprintf(errmsg, CFS_ERRMSG_SIZE, "%s", other);
		rv = orv;
	}
	return rv;
}

/* ---- writes ---------------------------------------------------------------- */

/* Make room for @need bytes (at most @max) in f->buf. */
static int
wbuf_reserve(struct ofile *f, size_t need, size_t max)
{
	size_t cap = f->cap ? f->cap : WBUF_FIRST;
	uint8_t *p;

	if (need <= f->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > max)
		cap = max;
	if ((p = realloc(f->buf, cap)) == NULL)
		return CFS_ENOMEM;
	f->buf = p;
	f->cap = cap;
	return 0;
}

int
ofile_write(struct ofile_table *t, struct ofile *f, struct fio *fio,
	    uint64_t *off, const void *buf, size_t n, unsigned flags,
	    ofile_size_fn size_of, void *arg, char *errmsg)
{
	const size_t max = t->opt.wbuf_max;
	const uint64_t file_max = t->opt.file_max;
	int append = (flags & OFILE_APPEND) != 0, rv;
	uint64_t o = *off;

	if (append)
		pthread_mutex_lock(&t->append_lock);
	/* case 2: one file of an inode holds dirty data at a time */
	ofile_flush_ino(t, f->ino, f, fio);
	pthread_mutex_lock(&f->lock);
	if ((rv = take_error(f, errmsg)) != 0) /* case 1 */
		goto out;
	if (append) {
		uint64_t size, end;
		if ((rv = size_of(arg, f->ino, &size, errmsg)) != 0)
			goto out;
		end = ofile_dirty_end(t, f->ino);
		o = end > size ? end : size;
	}
	if (file_max != 0 && (o > file_max || n > file_max - o)) {
		rv = cfs_fail(errmsg, CFS_EFBIG, "past %llu bytes",
			      (unsigned long long)file_max);
		goto out;
	}
	uint64_t epoch = epoch_now(t, f->ino);
	if (f->len > 0 &&
	    (o < f->start || o > f->start + f->len || o + n - f->start > max ||
	     epoch != f->epoch) &&
	    (rv = wb_flush(t, f, fio, errmsg)) != 0)
		goto out;
	if (n > max) {
		pthread_mutex_t *stripe = &t->flush_locks[f->ino % FLUSH_LOCKS];
		pthread_mutex_lock(stripe);
		rv = fio_pwrite(fio, f->ino, o, buf, n, 1, epoch, errmsg);
		pthread_mutex_unlock(stripe);
		written(t, f->ino);
		ofile_changed(t, f->ino);
		goto out;
	}
	if (f->len == 0) {
		f->start = o;
		f->epoch = epoch;
	}
	if ((rv = wbuf_reserve(f, (size_t)(o - f->start) + n, max)) != 0) {
		cfs_fail(errmsg, rv, "write-back buffer of %zu bytes",
			 (size_t)(o - f->start) + n);
		goto out;
	}
	memcpy(f->buf + (o - f->start), buf, n);
	if (o - f->start + n > f->len)
		f->len = (size_t)(o - f->start) + n;
	publish(t, f);
	/* OFILE_LEASED: buffered only under a write lease, and the lease
	 * went since the caller checked it (being recalled, or its session
	 * no longer surely alive): out now, as without one */
	if (f->len >= max || (flags & OFILE_SYNC) ||
	    ((flags & OFILE_LEASED) && f->epoch == 0))
		rv = wb_flush(t, f, fio, errmsg);
out:
	pthread_mutex_unlock(&f->lock);
	if (append)
		pthread_mutex_unlock(&t->append_lock);
	*off = o;
	return rv;
}

/* ---- reads ------------------------------------------------------------------ */

/* ofile_read's cases (f->lock held); *out borrows f->rbuf or @tmp. */
static int
read_at(struct ofile_table *t, struct ofile *f, struct fio *fio, uint64_t o,
	size_t n, int fio_flags, uint8_t *tmp, const uint8_t **out,
	size_t *got, char *errmsg)
{
	const size_t win = t->opt.window;
	uint64_t gen = ino_gen(t, f->ino);
	size_t have = 0;
	int rv;

	/* case 1 */
	if (f->rvalid && f->rgen == gen && o >= f->rstart &&
	    o < f->rstart + f->rlen &&
	    (o + n <= f->rstart + f->rlen || f->rlen < win)) {
		size_t at = (size_t)(o - f->rstart);
		*out = f->rbuf + at;
		*got = f->rlen - at < n ? f->rlen - at : n;
		return 0;
	}
	/* case 2: at the end of the previous read, or in the window after
	 * a full one while the previous read ended in either (the kernel's
	 * requests of one stream come on several threads, and out of order:
	 * one for the next window may come first) */
	int after = f->rvalid && f->rgen == gen && f->rlen == win &&
		    o >= f->rstart + win && o < f->rstart + 2 * win &&
		    f->next_off >= f->rstart &&
		    f->next_off <= f->rstart + 2 * win;
	int at_end = o == f->next_off && (o != 0 || t->opt.window_at_zero);
	if ((after || at_end) && n <= t->opt.window_max_read) {
		uint64_t ws = after ? f->rstart + win : o - o % win;
		if (o + n > ws + win)
			ws = o;
		if (f->rbuf == NULL && (f->rbuf = malloc(win)) == NULL)
			return cfs_fail(errmsg, CFS_ENOMEM, "read window");
		f->rvalid = 0;
		rv = fio_pread_ex(fio, f->ino, ws, f->rbuf, win, &have,
				  fio_flags | FIO_NOKEEP | FIO_SEQUENTIAL,
				  errmsg);
		if (rv != 0)
			return rv;
		f->rstart = ws;
		f->rlen = have;
		f->rgen = gen;
		f->rvalid = 1;
		size_t at = (size_t)(o - ws);
		*out = f->rbuf + at;
		*got = have > at ? (have - at < n ? have - at : n) : 0;
		return 0;
	}
	/* case 3 */
	rv = fio_pread_ex(fio, f->ino, o, tmp, n, &have, fio_flags, errmsg);
	*out = tmp;
	*got = have;
	return rv;
}

int
ofile_read(struct ofile_table *t, struct ofile *f, struct fio *fio,
	   uint64_t off, size_t n, int fio_flags, uint8_t *tmp,
	   ofile_deliver_fn deliver, void *arg, size_t *got, char *errmsg)
{
	const uint8_t *data = NULL;
	size_t cnt = 0;
	int rv;

	*got = 0;
	if (ofile_dirty_end(t, f->ino) != 0)
		ofile_flush_ino(t, f->ino, NULL, fio);
	pthread_mutex_lock(&f->lock);
	if (fio_flags & OFILE_FRESH) {
		f->rvalid = 0;
		rv = fio_pread_ex(fio, f->ino, off, tmp, n, &cnt,
				  fio_flags & ~OFILE_FRESH, errmsg);
		data = tmp;
	} else {
		rv = read_at(t, f, fio, off, n, fio_flags, tmp, &data, &cnt,
			     errmsg);
	}
	if (rv == 0) {
		f->next_off = off + cnt;
		*got = cnt;
		deliver(arg, data, cnt);
	}
	pthread_mutex_unlock(&f->lock);
	return rv;
}

/* ---- hidden files ------------------------------------------------------------ */

int
ofile_any_open(struct ofile_table *t)
{
	int open;

	pthread_mutex_lock(&t->lock);
	open = t->nopen > 0;
	pthread_mutex_unlock(&t->lock);
	return open;
}

int
ofile_hide_name(struct ofile_table *t, uint64_t ino, const char *prefix,
		char *name)
{
	int open;

	pthread_mutex_lock(&t->lock);
	struct open_ino *oi = *table_find(t, ino);
	open = oi != NULL && oi->hidden.name[0] == '\0';
	snprintf(name, OFILE_HIDDEN_NAME, "%s%llx-%u", prefix,
		 (unsigned long long)ino, ++t->hide_seq);
	pthread_mutex_unlock(&t->lock);
	return open;
}

int
ofile_hide(struct ofile_table *t, uint64_t ino, const struct ofile_hidden *h)
{
	int still;

	pthread_mutex_lock(&t->lock);
	struct open_ino *oi = *table_find(t, ino);
	still = oi != NULL && oi->hidden.name[0] == '\0';
	if (still)
		oi->hidden = *h;
	pthread_mutex_unlock(&t->lock);
	return still;
}
