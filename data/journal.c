/* journal.c - inside the fragment store: the write-ahead journal of small durable replica files (data/journal.h says why). */
#include "data/journal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/crc32c.h"
#include "common/error.h"
#include "common/log.h"
#include "data/replica.h"
#include "data/store_int.h"

/*
 * Record header (REC bytes, little-endian; docs/on-disk-format.md §4):
 *   0 magic u32 "CFSW", 4 kind u16, 6 zero u16, 8 epoch u64, 16 seq u64,
 *   24 ino u64, 32 idx u32, 36 nextents u32, 40 version u64,
 *   48 file_size u64, 56 payload_len u32, 60 crc u32: crc32c of bytes
 *   [0, 60) and then of the payload.
 * Payload of an image: base u64 (the version from_base extents come
 * from), nextents x {off u64, len u32, from_base u32}, then the bytes of
 * the extents not from_base.  A patch (bytes written into a file in
 * place, data/patch.c) has the same payload, with the file's stamp where
 * an image has its base and no extent from_base.  Every record starts at a multiple of REC.  A file starts with a
 * START record (seq 0) giving its epoch; its records follow with that
 * epoch and seq 1, 2, ...; reading stops at the first record that does
 * not check, so a record torn by a crash, and everything a reset left
 * from an earlier epoch, end the file.
 */
#define REC 64
/* records are written through to the end of a page of this size */
#define PAGE 4096
#define MAGIC 0x57534643u /* "CFSW" */
enum { K_START = 0, K_IMAGE = 1, K_FORGET = 2, K_PATCH = 3 };

struct jfile {
	int fd;
	char path[PATH_MAX];
	uint64_t size, used, epoch, seq; /* seq: the next record's */
	uint64_t written;  /* seq of the last record written */
	uint64_t flushed;  /* seq of the last record known on the disk */
	unsigned inflight; /* puts between their write and their flush */
	int clean;	   /* no record since its last reset */
	int64_t first_ms;  /* when its first record since then came */
};

struct journal {
	pthread_mutex_t mu; /* everything below but the files' bytes */
	/* Two conditions, so that a put wakes no one who has nothing to do
	 * (a broadcast on every put woke the checkpointer twice a patch):
	 * the checkpointer waits on ckpt_cv, puts waiting for room on
	 * room_cv. */
	pthread_cond_t ckpt_cv;
	pthread_cond_t room_cv;
	pthread_mutex_t flushmu; /* one fdatasync at a time (flush()) */
	struct jfile f[2];
	int active;
	uint64_t next_epoch;
	int syncfd;
	int stop, broken;
	int hold; /* journal_hold_checkpoints */
	int thread_started;
	pthread_t thread;
	uint64_t puts, checkpoints;
	char dir[PATH_MAX];
};

static uint64_t
align_rec(uint64_t n)
{
	return (n + REC - 1) / REC * REC;
}

static void
rec_encode(uint8_t *h, unsigned kind, uint64_t epoch, uint64_t seq,
	   const struct store_key *k, uint32_t next, uint64_t file_size,
	   uint32_t plen, uint32_t payload_crc)
{
	memset(h, 0, REC);
	put_le(h, MAGIC, 4);
	put_le(h + 4, kind, 2);
	put_le(h + 8, epoch, 8);
	put_le(h + 16, seq, 8);
	if (k != NULL) {
		put_le(h + 24, k->ino, 8);
		put_le(h + 32, k->idx, 4);
		put_le(h + 40, k->version, 8);
	}
	put_le(h + 36, next, 4);
	put_le(h + 48, file_size, 8);
	put_le(h + 56, plen, 4);
	put_le(h + 60,
	       crc32c_combine(crc32c(0, h, 60), payload_crc, plen), 4);
}

/* ---- reading the files back --------------------------------------------- */

struct entry {
	unsigned kind;
	struct store_key k;
	uint64_t file_size;
	uint32_t next;
	const uint8_t *payload;
	size_t order; /* position in the replay */
};

struct scan {
	struct entry *e;
	size_t n, cap;
};

/* A file's bytes and the epoch its START record gives (0: none). */
struct image_file {
	uint8_t *buf;
	size_t len;
	uint64_t epoch;
};

static int
read_file(const char *path, struct image_file *out, char *errmsg)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return errno == ENOENT ? 0
				       : cfs_fail_errno(errmsg, errno,
							"%s: open", path);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return cfs_fail_errno(errmsg, errno, "%s: stat", path);
	}
	out->len = (size_t)st.st_size;
	out->buf = malloc(out->len > 0 ? out->len : 1);
	if (out->buf == NULL) {
		close(fd);
		return cfs_fail(errmsg, CFS_ENOMEM, "%s: %zu bytes", path,
				out->len);
	}
	ssize_t n = pread_full(fd, out->buf, out->len, 0);
	int e = errno;
	close(fd);
	if (n < 0)
		return cfs_fail_errno(errmsg, e, "%s: read", path);
	out->len = (size_t)n;
	return 0;
}

/* Check the record at @off of @f: its kind, or -1 if it does not check
 * (then the file ends there). */
static int
rec_check(const struct image_file *f, uint64_t off, uint64_t epoch,
	  uint64_t seq)
{
	const uint8_t *h = f->buf + off;

	if (off + REC > f->len || get_le(h, 4) != MAGIC ||
	    get_le(h + 6, 2) != 0 || get_le(h + 8, 8) != epoch ||
	    get_le(h + 16, 8) != seq)
		return -1;
	uint64_t plen = get_le(h + 56, 4);
	unsigned kind = (unsigned)get_le(h + 4, 2);
	if (plen > f->len - off - REC || kind > K_PATCH ||
	    (kind == K_START) != (seq == 0))
		return -1;
	uint32_t crc = crc32c(crc32c(0, h, 60), h + REC, (size_t)plen);
	if (crc != (uint32_t)get_le(h + 60, 4))
		return -1;
	if (kind == K_IMAGE || kind == K_PATCH) {
		uint64_t next = get_le(h + 36, 4), sum = 0;
		if (plen < 8 || next > (plen - 8) / 16)
			return -1;
		uint64_t room = plen - 8 - 16 * next;
		for (uint64_t i = 0; i < next; i++) {
			const uint8_t *x = h + REC + 8 + 16 * i;
			uint64_t len = get_le(x + 8, 4);
			if (get_le(x + 12, 4) > (kind == K_IMAGE))
				return -1;
			if (get_le(x + 12, 4) == 1)
				continue;
			if (len > room - sum)
				return -1;
			sum += len;
		}
		if (sum != room)
			return -1;
	}
	return (int)kind;
}

static int
scan_add(struct scan *sc, const uint8_t *h)
{
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 256;
		struct entry *e = realloc(sc->e, cap * sizeof(*e));
		if (e == NULL)
			return -1;
		sc->e = e;
		sc->cap = cap;
	}
	struct entry *e = &sc->e[sc->n];
	e->kind = (unsigned)get_le(h + 4, 2);
	e->k.ino = get_le(h + 24, 8);
	e->k.idx = (uint32_t)get_le(h + 32, 4);
	e->k.version = get_le(h + 40, 8);
	e->next = (uint32_t)get_le(h + 36, 4);
	e->file_size = get_le(h + 48, 8);
	e->payload = h + REC;
	e->order = sc->n++;
	return 0;
}

/* The epoch of @f's START record; 0 if it has none that checks. */
static uint64_t
start_epoch(const struct image_file *f)
{
	if (f->buf == NULL || f->len < REC)
		return 0;
	uint64_t epoch = get_le(f->buf + 8, 8);
	return rec_check(f, 0, epoch, 0) == K_START ? epoch : 0;
}

/* The records of @f, after its START record, onto @sc. */
static int
scan_file(struct image_file *f, struct scan *sc)
{
	uint64_t off = 0, seq = 0;

	if ((f->epoch = start_epoch(f)) == 0)
		return 0;
	for (;;) {
		off += align_rec(REC + get_le(f->buf + off + 56, 4));
		seq++;
		int kind = rec_check(f, off, f->epoch, seq);
		if (kind < 0)
			return 0;
		if (scan_add(sc, f->buf + off) != 0)
			return -1;
	}
}

static int
key_cmp(const struct store_key *a, const struct store_key *b)
{
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	if (a->idx != b->idx)
		return a->idx < b->idx ? -1 : 1;
	if (a->version != b->version)
		return a->version < b->version ? -1 : 1;
	return 0;
}

static int
entry_cmp(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	int c = key_cmp(&a->k, &b->k);

	if (c != 0)
		return c;
	return a->order < b->order ? -1 : a->order > b->order;
}

static int
order_cmp(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;

	return a->order < b->order ? -1 : a->order > b->order;
}

/* Keep, of the records of one key @e[0 .. @n) (in journal order), what a
 * replay applies: its last image or forget, and every patch after it
 * (all its patches if it has neither), moved to the front of @e.  A
 * patch writes bytes into the file the records before it left, so those
 * after the last image are applied to what that image restores, in order;
 * a forget (the file deleted or replaced) cancels the patches before it.
 * How many are kept. */
static size_t
keep_of_key(struct entry *e, size_t n)
{
	size_t from = 0, keep = 0;

	for (size_t i = 0; i < n; i++)
		if (e[i].kind != K_PATCH)
			from = i;
	/* A delta's image followed by patches: the first patch made the
	 * file whole (delta_make_whole, fsync'd) before it patched it, so
	 * restoring the delta would undo that and the patches would land
	 * on a delta's body.  The patches alone go on the whole file. */
	if (from + 1 < n && e[from].kind == K_IMAGE &&
	    e[from + 1].kind == K_PATCH && get_le(e[from].payload, 8) != 0)
		from++;
	for (size_t i = from; i < n; i++)
		e[keep++] = e[i];
	return keep;
}

/* Replay the records of both files, oldest file first; images that a
 * later record of the same key (a tombstone or a newer image) supersedes
 * are skipped, and so are patches before them.  Sorting by key then order
 * groups each key's records in journal order. */
static int
replay(const char *dir, journal_replay_fn *fn, journal_replay_fn *patch_fn,
       void *arg, unsigned *count, uint64_t *max_epoch, char *errmsg)
{
	struct image_file f[2];
	struct scan sc = {0};
	char path[PATH_MAX];
	int rc = 0;

	*count = 0;
	*max_epoch = 0;
	memset(f, 0, sizeof(f));
	for (int i = 0; i < 2 && rc == 0; i++) {
		snprintf(path, sizeof(path), "%s/journal.%d", dir, i);
		rc = read_file(path, &f[i], errmsg);
	}
	if (rc != 0)
		goto out;
	/* the file reset earlier (the lower epoch) holds the older records */
	uint64_t e0 = start_epoch(&f[0]), e1 = start_epoch(&f[1]);
	int first = e1 != 0 && (e0 == 0 || e1 < e0);
	for (int n = 0; n < 2; n++) {
		struct image_file *x = &f[(first + n) % 2];
		if (x->buf != NULL && scan_file(x, &sc) != 0) {
			rc = cfs_fail(errmsg, CFS_ENOMEM, "%s: journal", dir);
			goto out;
		}
		if (x->epoch > *max_epoch)
			*max_epoch = x->epoch;
	}
	if (sc.n > 1) /* (qsort of no entries: a null pointer) */
		qsort(sc.e, sc.n, sizeof(*sc.e), entry_cmp);
	/* back in the order of the journal, only what each key needs */
	size_t keep = 0;
	for (size_t i = 0, j; i < sc.n; i = j) {
		for (j = i + 1; j < sc.n && key_cmp(&sc.e[i].k, &sc.e[j].k) == 0;
		     j++)
			;
		size_t k = keep_of_key(sc.e + i, j - i);
		memmove(sc.e + keep, sc.e + i, k * sizeof(*sc.e));
		keep += k;
	}
	if (keep > 1)
		qsort(sc.e, keep, sizeof(*sc.e), order_cmp);
	for (size_t i = 0; i < keep && rc == 0; i++) {
		const struct entry *e = &sc.e[i];
		if (e->kind != K_IMAGE && e->kind != K_PATCH)
			continue;
		struct journal_extent *ext = malloc(
			(e->next ? e->next : 1) * sizeof(*ext));
		if (ext == NULL) {
			rc = cfs_fail(errmsg, CFS_ENOMEM, "%s: journal", dir);
			break;
		}
		const uint8_t *tab = e->payload + 8;
		for (uint32_t x = 0; x < e->next; x++) {
			ext[x].off = get_le(tab + 16 * x, 8);
			ext[x].len = get_le(tab + 16 * x + 8, 4);
			ext[x].from_base = (uint32_t)get_le(tab + 16 * x + 12, 4);
		}
		rc = (e->kind == K_IMAGE ? fn : patch_fn)(
			arg, &e->k, e->file_size, get_le(e->payload, 8), ext,
			e->next, tab + 16 * (size_t)e->next, errmsg);
		free(ext);
		if (rc == 0)
			(*count)++;
	}
out:
	free(sc.e);
	free(f[0].buf);
	free(f[1].buf);
	return rc;
}

/* ---- the files ------------------------------------------------------------ */

/* Write @jf's START record for @epoch, flushed: every record after it
 * of an older epoch ends the file.  No field of @jf changes (the caller
 * sets them with reset_fields, under the lock if the thread runs). */
static int
reset_io(struct jfile *jf, uint64_t epoch, char *errmsg)
{
	uint8_t h[REC];

	rec_encode(h, K_START, epoch, 0, NULL, 0, 0, 0, 0);
	if (pwrite_full(jf->fd, h, REC, 0) < 0 || fdatasync(jf->fd) < 0)
		return cfs_fail_errno(errmsg, errno, "%s: reset", jf->path);
	return 0;
}

static void
reset_fields(struct jfile *jf, uint64_t epoch)
{
	jf->epoch = epoch;
	jf->seq = 1;
	jf->written = jf->flushed = 0;
	jf->used = REC;
	jf->clean = 1;
}

/* Start @jf over at a new epoch (no thread running, or it is the
 * caller). */
static int
reset_file(struct journal *j, struct jfile *jf, char *errmsg)
{
	uint64_t epoch = j->next_epoch++;
	int rc = reset_io(jf, epoch, errmsg);

	if (rc == 0)
		reset_fields(jf, epoch);
	return rc;
}

/* A file of @size bytes, every one written (zeros), so that records only
 * ever overwrite: the flush of one is a data flush, no metadata. */
static int
create_file(const char *path, uint64_t size, char *errmsg)
{
	char tmp[PATH_MAX + 8];
	static const uint8_t zero[1 << 16];
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return cfs_fail_errno(errmsg, errno, "%s: create", tmp);
	for (uint64_t off = 0; rc == 0 && off < size; off += sizeof(zero)) {
		size_t n = size - off < sizeof(zero) ? (size_t)(size - off)
						     : sizeof(zero);
		if (pwrite_full(fd, zero, n, off) < 0)
			rc = cfs_fail_errno(errmsg, errno, "%s: write", tmp);
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = cfs_fail_errno(errmsg, errno, "%s: fsync", tmp);
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = cfs_fail_errno(errmsg, errno, "%s: rename", path);
	if (rc != 0)
		unlink(tmp);
	return rc;
}

/* ---- checkpoints ------------------------------------------------------------ */

static void *
checkpointer(void *arg)
{
	struct journal *j = arg;
	char errmsg[CFS_ERRMSG_SIZE];

	pthread_mutex_lock(&j->mu);
	while (!j->stop) {
		struct jfile *a = &j->f[j->active], *o = &j->f[!j->active];
		int64_t now = cfs_now_ms();
		if (j->broken) {
			/* puts fsync their files; nothing to do but stop */
			pthread_cond_wait(&j->ckpt_cv, &j->mu);
			continue;
		}
		if (o->clean && !a->clean &&
		    (a->used > a->size / 2 ||
		     now - a->first_ms >= JOURNAL_CHECKPOINT_MS)) {
			j->active = !j->active;
			continue;
		}
		if (o->clean) {
			struct timespec ts;
			int64_t wait = a->clean ? JOURNAL_CHECKPOINT_MS
						: a->first_ms +
							  JOURNAL_CHECKPOINT_MS -
							  now;
			cfs_deadline_ts(&ts, wait);
			pthread_cond_timedwait(&j->ckpt_cv, &j->mu, &ts);
			continue;
		}
		if (o->inflight > 0 || j->hold) {
			pthread_cond_wait(&j->ckpt_cv, &j->mu);
			continue;
		}
		/* @o is not active and no put is between its write and its
		 * flush on it, so none touches it until it is clean again:
		 * sync the filesystem (every file renamed before its record
		 * was written is then on the disk), then start it over. */
		uint64_t epoch = j->next_epoch++;
		pthread_mutex_unlock(&j->mu);
		int rc = syncfs(j->syncfd) < 0
				 ? cfs_fail_errno(errmsg, errno, "%s: syncfs",
						  j->dir)
				 : reset_io(o, epoch, errmsg);
		pthread_mutex_lock(&j->mu);
		if (rc != 0) {
			LOG_ERROR("journal %s: checkpoint failed: %s; durable "
				  "writes fsync their files from now on",
				  j->dir, errmsg);
			j->broken = 1;
		} else {
			reset_fields(o, epoch);
			j->checkpoints++;
		}
		pthread_cond_broadcast(&j->room_cv);
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* ---- the API ---------------------------------------------------------------- */

int
journal_open(struct journal **out, const char *dir, uint64_t size,
	     int syncfd, journal_replay_fn *fn, journal_replay_fn *patch_fn,
	     void *arg, unsigned *replayed, char *errmsg)
{
	struct journal *j;
	uint64_t max_epoch;
	int rc;

	*out = NULL;
	if (strlen(dir) > PATH_MAX - 32)
		return cfs_fail(errmsg, CFS_EINVAL, "%.64s: name too long",
				dir);
	rc = replay(dir, fn, patch_fn, arg, replayed, &max_epoch, errmsg);
	if (rc != 0)
		return rc;
	/* What the replay found on disk, and what it restored, is durable
	 * before the records go (after a kill -9 a file may still be only
	 * in the page cache). */
	if (*replayed > 0 && syncfs(syncfd) < 0)
		return cfs_fail_errno(errmsg, errno, "%s: syncfs", dir);
	if (size == 0) {
		char path[PATH_MAX];
		for (int i = 0; i < 2; i++) {
			snprintf(path, sizeof(path), "%s/journal.%d", dir, i);
			if (unlink(path) < 0 && errno != ENOENT)
				return cfs_fail_errno(errmsg, errno,
						      "%s: unlink", path);
		}
		return store_sync_path(dir, 0, errmsg);
	}
	size -= size % 4096;
	if (size < JOURNAL_MIN_SIZE)
		size = JOURNAL_MIN_SIZE;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "%s: journal", dir);
	pthread_mutex_init(&j->mu, NULL);
	pthread_mutex_init(&j->flushmu, NULL);
	cfs_cond_init_monotonic(&j->ckpt_cv);
	pthread_cond_init(&j->room_cv, NULL);
	snprintf(j->dir, sizeof(j->dir), "%s", dir);
	j->syncfd = syncfd;
	j->next_epoch = max_epoch + 1;
	j->f[0].fd = j->f[1].fd = -1;
	int created = 0;
	for (int i = 0; i < 2 && rc == 0; i++) {
		struct jfile *jf = &j->f[i];
		struct stat st;
		uint8_t h[REC];
		snprintf(jf->path, sizeof(jf->path), "%s/journal.%d", dir, i);
		jf->size = size;
		/* a START record that does not check may leave records of
		 * an old epoch behind it: such a file is written anew */
		int keep = stat(jf->path, &st) == 0 &&
			   (uint64_t)st.st_size == size;
		if (keep) {
			int fd = open(jf->path, O_RDONLY | O_CLOEXEC);
			struct image_file f = {.buf = h, .len = REC};
			keep = fd >= 0 && pread_full(fd, h, REC, 0) == REC &&
			       start_epoch(&f) != 0;
			if (fd >= 0)
				close(fd);
		}
		if (!keep) {
			rc = create_file(jf->path, size, errmsg);
			created = 1;
		}
		if (rc == 0) {
			jf->fd = open(jf->path, O_RDWR | O_CLOEXEC);
			if (jf->fd < 0)
				rc = cfs_fail_errno(errmsg, errno, "%s: open",
						    jf->path);
		}
		if (rc == 0)
			rc = reset_file(j, jf, errmsg);
	}
	if (rc == 0 && created)
		rc = store_sync_path(dir, 0, errmsg);
	if (rc == 0) {
		if (pthread_create(&j->thread, NULL, checkpointer, j) != 0)
			rc = cfs_fail(errmsg, CFS_ENOMEM, "%s: thread", dir);
		else
			j->thread_started = 1;
	}
	if (rc != 0) {
		journal_close(&j);
		return rc;
	}
	*out = j;
	return 0;
}

void
journal_close(struct journal **jp)
{
	struct journal *j = jp != NULL ? *jp : NULL;
	char errmsg[CFS_ERRMSG_SIZE];

	if (j == NULL)
		return;
	*jp = NULL;
	if (j->thread_started) {
		pthread_mutex_lock(&j->mu);
		j->stop = 1;
		pthread_cond_signal(&j->ckpt_cv);
		pthread_cond_broadcast(&j->room_cv);
		pthread_mutex_unlock(&j->mu);
		pthread_join(j->thread, NULL);
		/* a clean stop leaves nothing to replay */
		if (!j->broken && (!j->f[0].clean || !j->f[1].clean)) {
			int rc = syncfs(j->syncfd) < 0
					 ? cfs_fail_errno(errmsg, errno,
							  "%s: syncfs", j->dir)
					 : 0;
			for (int i = 0; i < 2 && rc == 0; i++)
				if (!j->f[i].clean)
					rc = reset_file(j, &j->f[i], errmsg);
			if (rc != 0)
				LOG_WARN("journal %s: %s (replayed at the "
					 "next start)",
					 j->dir, errmsg);
		}
	}
	for (int i = 0; i < 2; i++)
		if (j->f[i].fd >= 0)
			close(j->f[i].fd);
	pthread_cond_destroy(&j->ckpt_cv);
	pthread_cond_destroy(&j->room_cv);
	pthread_mutex_destroy(&j->flushmu);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

uint64_t
journal_max_image(const struct journal *j)
{
	/* a quarter of a file: room for several before a rotation */
	uint64_t m = j->f[0].size / 4;
	return m < (1u << 20) ? m : (1u << 20);
}

/* Mark the journal broken (with the lock held): puts waiting for room
 * fail, and the checkpointer stops checkpointing. */
static void
broken_locked(struct journal *j)
{
	j->broken = 1;
	pthread_cond_broadcast(&j->room_cv);
	pthread_cond_signal(&j->ckpt_cv);
}

/* A put is done with @jf: the checkpointer waits for the last one out of
 * a file that is no longer active.  With the lock held. */
static void
put_done_locked(struct journal *j, struct jfile *jf)
{
	if (--jf->inflight == 0 && jf != &j->f[j->active])
		pthread_cond_signal(&j->ckpt_cv);
}

/* Room for a record of @reclen bytes in the active file, switching to the
 * other if it is clean; waits for a checkpoint otherwise.  With the lock
 * held.  NULL if the journal is broken. */
static struct jfile *
room(struct journal *j, uint64_t reclen)
{
	for (;;) {
		struct jfile *a = &j->f[j->active];
		if (j->broken || j->stop)
			return NULL;
		if (a->used + reclen <= a->size)
			return a;
		if (j->f[!j->active].clean) {
			/* the full one is now the checkpointer's to sync */
			j->active = !j->active;
			pthread_cond_signal(&j->ckpt_cv);
			continue;
		}
		pthread_cond_wait(&j->room_cv, &j->mu);
	}
}

/*
 * Return once record @seq of @jf is on the disk.  One fdatasync at a time,
 * each covering every record written before it began, so a put whose
 * record an earlier flush covered does not flush again (group commit).
 * Linux reports a failed writeback to one fdatasync of the file only: the
 * one that sees it marks the journal broken before any other flush runs,
 * and every put not yet covered then fails too (its caller fsyncs its
 * file instead).  Called without the lock, with jf->inflight counting
 * this put (so no checkpoint resets @jf meanwhile).
 */
static int
flush_to(struct journal *j, struct jfile *jf, uint64_t seq, char *errmsg)
{
	int rc = 0;

	pthread_mutex_lock(&j->flushmu);
	pthread_mutex_lock(&j->mu);
	int done = jf->flushed >= seq, broken = j->broken;
	uint64_t upto = jf->written;
	pthread_mutex_unlock(&j->mu);
	if (done) {
		/* an earlier flush covered it */
	} else if (broken) {
		rc = cfs_fail(errmsg, CFS_EIO, "%s: journal not in use",
			      jf->path);
	} else if (fdatasync(jf->fd) < 0) {
		rc = cfs_fail_errno(errmsg, errno, "%s: flush", jf->path);
		LOG_ERROR("journal %s; durable writes fsync their files from "
			  "now on",
			  errmsg);
		pthread_mutex_lock(&j->mu);
		broken_locked(j);
		pthread_mutex_unlock(&j->mu);
	} else {
		pthread_mutex_lock(&j->mu);
		if (jf->flushed < upto)
			jf->flushed = upto;
		pthread_mutex_unlock(&j->mu);
	}
	pthread_mutex_unlock(&j->flushmu);
	return rc;
}

/* Write one record at the end of the active file; with @flush, return
 * once it is on the disk.  With @pin, the file it went to stays counted
 * in flight (no checkpoint resets it) until journal_unpin(*@pin), also
 * on failure unless *@pin is -1. */
static int
append(struct journal *j, unsigned kind, const struct store_key *k,
       uint64_t file_size, uint64_t base, const struct journal_extent *ext,
       uint32_t next, const void *data, uint64_t dlen, int flush, int *pin,
       char *errmsg)
{
	uint8_t h[REC], *tab = NULL;
	static const uint8_t pad[REC + PAGE];
	size_t tlen = kind != K_FORGET ? 8 + 16 * (size_t)next : 0;
	uint64_t plen = tlen + dlen, reclen = align_rec(REC + plen);
	uint32_t pcrc;
	int rc = 0;

	if (tlen > 0 && (tab = malloc(tlen)) == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "%s: journal", j->dir);
	if (tlen > 0)
		put_le(tab, base, 8);
	for (uint32_t i = 0; i < next; i++) {
		put_le(tab + 8 + 16 * i, ext[i].off, 8);
		put_le(tab + 8 + 16 * i + 8, ext[i].len, 4);
		put_le(tab + 8 + 16 * i + 12, ext[i].from_base != 0, 4);
	}
	pcrc = crc32c(crc32c(0, tab, tlen), data, (size_t)dlen);
	struct iovec iov[4] = {
		{h, REC},
		{tab, tlen},
		{(void *)data, (size_t)dlen},
		{(void *)pad, (size_t)(reclen - REC - plen)},
	};

	pthread_mutex_lock(&j->mu);
	if (kind == K_FORGET && j->f[0].clean && j->f[1].clean) {
		/* no image since the last checkpoint: nothing to cancel */
		pthread_mutex_unlock(&j->mu);
		free(tab);
		return 0;
	}
	struct jfile *jf = room(j, reclen);
	if (jf == NULL) {
		pthread_mutex_unlock(&j->mu);
		free(tab);
		return cfs_fail(errmsg, CFS_EIO, "%s: journal not in use",
				j->dir);
	}
	rec_encode(h, kind, jf->epoch, jf->seq, k, next, file_size,
		   (uint32_t)plen, pcrc);
	/* Written in order under the lock: a flush then covers every
	 * record before this one, and a crash can only tear records that
	 * no one was told are durable, at the end. */
	uint64_t off = jf->used;
	/* Zeros to the end of the page the record ends in: the write then
	 * covers its last page whole, and the kernel need not read it from
	 * the disk first when it is not cached (a journal after a drop of
	 * the page cache: one disk read before every durable write).  The
	 * next record starts inside them; a replay stops at them. */
	uint64_t end = (off + reclen + PAGE - 1) / PAGE * PAGE;
	uint64_t wlen = (end < jf->size ? end : jf->size) - off;
	if (wlen < reclen)
		wlen = reclen;
	iov[3].iov_len += (size_t)(wlen - reclen);
	ssize_t n = pwritev(jf->fd, iov, 4, (off_t)off);
	if (n != (ssize_t)wlen) {
		rc = cfs_fail_errno(errmsg, n < 0 ? errno : EIO,
				    "%s: write at %" PRIu64, jf->path, off);
		LOG_ERROR("journal %s; durable writes fsync their files from "
			  "now on",
			  errmsg);
		broken_locked(j);
		pthread_mutex_unlock(&j->mu);
		free(tab);
		return rc;
	}
	uint64_t seq = jf->seq++;
	int half = jf->used <= jf->size / 2 && jf->used + reclen > jf->size / 2;
	jf->used += reclen;
	jf->written = seq;
	/* the checkpointer's deadlines start from a file's first record,
	 * and it switches files at half full */
	if (jf->clean) {
		jf->clean = 0;
		jf->first_ms = cfs_now_ms();
		pthread_cond_signal(&j->ckpt_cv);
	} else if (half) {
		pthread_cond_signal(&j->ckpt_cv);
	}
	jf->inflight++;
	pthread_mutex_unlock(&j->mu);
	free(tab);

	if (flush)
		rc = flush_to(j, jf, seq, errmsg);
	pthread_mutex_lock(&j->mu);
	if (pin != NULL)
		*pin = (int)(jf - j->f);
	else
		put_done_locked(j, jf);
	if (rc == 0 && kind != K_FORGET)
		j->puts++;
	pthread_mutex_unlock(&j->mu);
	return rc;
}

int
journal_put(struct journal *j, const struct store_key *k, uint64_t file_size,
	    uint64_t base, const struct journal_extent *ext, uint32_t next,
	    const void *data, char *errmsg)
{
	uint64_t dlen = 0;

	for (uint32_t i = 0; i < next; i++) {
		if (ext[i].len > UINT32_MAX)
			return cfs_fail(errmsg, CFS_E2BIG,
					"%s: extent of %" PRIu64 " bytes",
					j->dir, ext[i].len);
		if (!ext[i].from_base)
			dlen += ext[i].len;
	}
	if (dlen > journal_max_image(j))
		return cfs_fail(errmsg, CFS_E2BIG,
				"%s: image of %" PRIu64 " bytes", j->dir, dlen);
	return append(j, K_IMAGE, k, file_size, base, ext, next, data, dlen, 1,
		      NULL, errmsg);
}

int
journal_patch(struct journal *j, const struct store_key *k,
	      uint64_t file_size, uint64_t stamp,
	      const struct journal_extent *ext, uint32_t next,
	      const void *data, int *pin, char *errmsg)
{
	uint64_t dlen = 0;

	*pin = -1;
	for (uint32_t i = 0; i < next; i++) {
		assert(!ext[i].from_base);
		if (ext[i].len > UINT32_MAX)
			return cfs_fail(errmsg, CFS_E2BIG,
					"%s: extent of %" PRIu64 " bytes",
					j->dir, ext[i].len);
		dlen += ext[i].len;
	}
	if (dlen > journal_max_image(j))
		return cfs_fail(errmsg, CFS_E2BIG,
				"%s: patch of %" PRIu64 " bytes", j->dir, dlen);
	return append(j, K_PATCH, k, file_size, stamp, ext, next, data, dlen,
		      1, pin, errmsg);
}

void
journal_unpin(struct journal *j, int pin)
{
	if (pin < 0)
		return;
	pthread_mutex_lock(&j->mu);
	put_done_locked(j, &j->f[pin]);
	pthread_mutex_unlock(&j->mu);
}

void
journal_forget(struct journal *j, const struct store_key *k)
{
	char errmsg[CFS_ERRMSG_SIZE];

	if (j != NULL)
		(void)append(j, K_FORGET, k, 0, 0, NULL, 0, "", 0, 0, NULL,
			     errmsg);
}

void
journal_hold_checkpoints(struct journal *j, int hold)
{
	pthread_mutex_lock(&j->mu);
	j->hold = hold;
	pthread_cond_signal(&j->ckpt_cv);
	pthread_mutex_unlock(&j->mu);
}

void
journal_stats(struct journal *j, uint64_t *puts, uint64_t *checkpoints)
{
	pthread_mutex_lock(&j->mu);
	*puts = j->puts;
	*checkpoints = j->checkpoints;
	pthread_mutex_unlock(&j->mu);
}
