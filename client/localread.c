/* localread.c - reading replicas from the disk of a data node on this machine (client/localread.h says why and when). */
#include "client/localread.h"

#include <fcntl.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zmq.h>

#include "client/nodeclient.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "data/store.h"

/* Threads reading for lread_start: a sequential reader keeps up to
 * FIO_AHEAD_MAX pieces in flight per open file; a few readers' worth. */
#define LREAD_THREADS 4
/* How long a node may take to say where it is: it is asked by a reader
 * about to read from it anyway. */
#define ASK_TIMEOUT_MS 1000
/* A node that did not answer, or one whose local read timed out, is
 * asked again after this long. */
#define RECHECK_MS 60000
/* Nodes and data directories told apart; past that, the rest are read
 * through the network. */
#define NODES_MAX 256
#define DIRS_MAX 64
#define UUID_LEN 36
/* Buffers kept for the next jobs: the pages of a buffer used before cost
 * nothing to touch, where fresh ones (mapped anew by each malloc of
 * megabytes freed since) made checking their CRCs four times as slow on
 * the test VM. */
#define SPARE_MAX (2 * LREAD_THREADS)

struct lnode {
	uint64_t id;
	char addr[CFS_ADDR_MAX + 1];
	struct store *st; /* its replicas' store here; NULL: not local */
	int asking;	  /* a thread is asking it now */
	int64_t ask_after_ms;
};

struct lread_job {
	struct lread *l;
	struct lread_job *next; /* in the queue */
	struct store *s;
	uint64_t ino, version, off;
	uint32_t idx, crc;
	size_t n;
	uint8_t *buf;
	size_t cap; /* buf's size */
	int state; /* JOB_* */
	int abandoned;
	int rc;
	char errmsg[CFS_ERRMSG_SIZE];
};

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct lread {
	void *zctx;
	pthread_mutex_t lock; /* guards everything below but nc */
	pthread_cond_t work;  /* a job was queued, or stopping */
	pthread_cond_t done;  /* a job is done */
	pthread_cond_t asked; /* a node was asked where it is */
	struct lnode nodes[NODES_MAX];
	unsigned nnodes;
	/* every store opened, by directory, kept until lread_free: a job or
	 * a reader may still use one that a node no longer names */
	struct store *stores[DIRS_MAX];
	char *dirs[DIRS_MAX];
	unsigned nstores;
	struct lread_job *head, *tail;
	pthread_t threads[LREAD_THREADS];
	int nthreads;
	int stopping;
	uint64_t reads, failed;
	void *own_zctx; /* made by lread_new when given none */
	/* buffers of jobs done, for the next jobs (SPARE_MAX at most, each
	 * of spare_cap bytes) */
	uint8_t *spare[SPARE_MAX];
	unsigned nspare;
	size_t spare_cap;
};

int
lread_new(struct lread **out, void *zctx, char *errmsg)
{
	struct lread *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "local reads");
	if (zctx == NULL && (zctx = l->own_zctx = zmq_ctx_new()) == NULL) {
		free(l);
		return cfs_fail(errmsg, CFS_ENOMEM, "local reads: ZeroMQ "
				"context");
	}
	l->zctx = zctx;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->work, NULL);
	cfs_cond_init_monotonic(&l->done);
	pthread_cond_init(&l->asked, NULL);
	*out = l;
	return 0;
}

void
lread_free(struct lread **lp)
{
	struct lread *l = *lp;

	if (l == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = 1;
	pthread_cond_broadcast(&l->work);
	pthread_mutex_unlock(&l->lock);
	/* the threads finish the queue first: its jobs' owners may wait */
	for (int i = 0; i < l->nthreads; i++)
		pthread_join(l->threads[i], NULL);
	while (l->nspare > 0)
		free(l->spare[--l->nspare]);
	for (unsigned i = 0; i < l->nstores; i++) {
		store_close(&l->stores[i]);
		free(l->dirs[i]);
	}
	if (l->own_zctx != NULL)
		zmq_ctx_term(l->own_zctx);
	pthread_cond_destroy(&l->work);
	pthread_cond_destroy(&l->done);
	pthread_cond_destroy(&l->asked);
	pthread_mutex_destroy(&l->lock);
	free(l);
	*lp = NULL;
}

/* ---- which nodes are local ------------------------------------------------ */

/* Whether @dir/node.uuid holds @uuid (the file a node writes: 36
 * characters and a newline; upper case is read as the node reads it). */
static int
same_node(const char *dir, const char *uuid)
{
	char path[PATH_MAX], buf[UUID_LEN + 2];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/node.uuid", dir) >=
	    (int)sizeof(path))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < UUID_LEN || (n > UUID_LEN && buf[UUID_LEN] != '\n') ||
	    strlen(uuid) != UUID_LEN)
		return 0;
	return strncasecmp(buf, uuid, UUID_LEN) == 0;
}

/* The store of @dir, opened now if it is new (under l->lock); NULL if it
 * cannot be. */
static struct store *
store_of(struct lread *l, const char *dir, char *errmsg)
{
	for (unsigned i = 0; i < l->nstores; i++)
		if (strcmp(l->dirs[i], dir) == 0)
			return l->stores[i];
	if (l->nstores == DIRS_MAX) {
		cfs_fail(errmsg, CFS_ENOMEM, "more than %d data directories",
			 DIRS_MAX);
		return NULL;
	}
	struct store *s = NULL;
	char *d = strdup(dir);
	if (d == NULL || store_open_reader(dir, &s, errmsg) != 0) {
		if (d == NULL)
			cfs_fail(errmsg, CFS_ENOMEM, "%s", dir);
		free(d);
		return NULL;
	}
	l->stores[l->nstores] = s;
	l->dirs[l->nstores++] = d;
	return s;
}

/* What a node's answer to node_where says. */
enum where { WHERE_HERE, WHERE_ELSEWHERE, WHERE_UNKNOWN };

/* Ask node @node at @addr where it keeps its replicas: WHERE_HERE, into
 * @dir (PATH_MAX bytes); WHERE_ELSEWHERE (the node answered, and its
 * files are not readable here as its: until it moves); WHERE_UNKNOWN (no
 * answer, or no directory told); @errmsg why not.  On a socket of its
 * own, so that threads asking different nodes do not wait for each
 * other. */
static enum where
ask(struct lread *l, uint64_t node, const char *addr, char *dir,
    char *errmsg)
{
	struct wire_node_where rq = {.node = node};
	union wire_body *rep = NULL;
	struct nc *nc = NULL;
	uint16_t rt = 0;
	enum where local = WHERE_UNKNOWN;
	int rv;

	rv = nc_open(&nc, l->zctx, errmsg);
	if (rv == 0)
		rv = nc_call(nc, addr, WIRE_T_node_where, &rq, NULL, 0,
			     ASK_TIMEOUT_MS, &rt, &rep, NULL, NULL, errmsg);
	if (rv == 0 && rt != WIRE_T_node_here) {
		cfs_fail(errmsg, CFS_MALFORMED, "%s: answered %s", addr,
			 wire_type_name(rt));
	} else if (rv == 0 && rep->node_here.dir[0] != '/') {
		cfs_fail(errmsg, CFS_ENOENT, "%s: no data directory told",
			 addr);
	} else if (rv == 0 && !same_node(rep->node_here.dir,
					 rep->node_here.uuid)) {
		cfs_fail(errmsg, CFS_ENOENT,
			 "%s: its %s/node.uuid is not readable here or names "
			 "another node",
			 addr, rep->node_here.dir);
		local = WHERE_ELSEWHERE;
	} else if (rv == 0) {
		snprintf(dir, PATH_MAX, "%s", rep->node_here.dir);
		local = WHERE_HERE;
	}
	nc_close(&nc);
	return local;
}

/* The entry of node @node at @addr, made if new (under l->lock); NULL
 * if the table is full. */
static struct lnode *
node_entry(struct lread *l, uint64_t node, const char *addr)
{
	struct lnode *e;

	for (unsigned i = 0; i < l->nnodes; i++) {
		e = &l->nodes[i];
		if (e->id != node)
			continue;
		if (strcmp(e->addr, addr) != 0) { /* moved: ask again */
			snprintf(e->addr, sizeof(e->addr), "%s", addr);
			e->st = NULL;
			e->ask_after_ms = 0;
		}
		return e;
	}
	if (l->nnodes == NODES_MAX)
		return NULL;
	e = &l->nodes[l->nnodes++];
	memset(e, 0, sizeof(*e));
	e->id = node;
	snprintf(e->addr, sizeof(e->addr), "%s", addr);
	return e;
}

struct store *
lread_store(struct lread *l, uint64_t node, const char *addr)
{
	char errmsg[CFS_ERRMSG_SIZE], dir[PATH_MAX];
	struct store *st;
	struct lnode *e;
	int64_t now = cfs_now_ms();

	pthread_mutex_lock(&l->lock);
	e = node_entry(l, node, addr);
	/* another reader is asking: its answer is this one's too */
	while (e != NULL && e->asking)
		pthread_cond_wait(&l->asked, &l->lock);
	if (e == NULL || now < e->ask_after_ms) {
		st = e != NULL ? e->st : NULL;
		pthread_mutex_unlock(&l->lock);
		return st;
	}
	e->asking = 1;
	pthread_mutex_unlock(&l->lock);

	enum where w = ask(l, node, addr, dir, errmsg);

	pthread_mutex_lock(&l->lock);
	st = w == WHERE_HERE ? store_of(l, dir, errmsg) : NULL;
	/* (the entry stays put: entries are only ever added) */
	if (st != NULL && e->st != st)
		LOG_INFO("data node %" PRIu64 " (%s) keeps its replicas in %s "
			 "on this machine: read from there, not through it",
			 node, addr, dir);
	else if (st == NULL && e->st != NULL)
		LOG_INFO("data node %" PRIu64 " (%s): read through it from now "
			 "on: %s",
			 node, addr, errmsg);
	else if (st == NULL)
		LOG_DEBUG("data node %" PRIu64 " (%s): not read from the "
			  "disk: %s",
			  node, addr, errmsg);
	e->st = st;
	/* a node found here, or elsewhere, stays so until it moves (a new
	 * address) or a local read times out; one that did not answer is
	 * asked again in a minute */
	e->ask_after_ms = st != NULL || w == WHERE_ELSEWHERE
				  ? INT64_MAX
				  : cfs_now_ms() + RECHECK_MS;
	e->asking = 0;
	pthread_cond_broadcast(&l->asked);
	pthread_mutex_unlock(&l->lock);
	return st;
}

void
lread_failed(struct lread *l, uint64_t node, int status, const char *errmsg)
{
	pthread_mutex_lock(&l->lock);
	l->failed++;
	for (unsigned i = 0; i < l->nnodes; i++) {
		struct lnode *e = &l->nodes[i];
		if (e->id != node)
			continue;
		if (status == CFS_ETIMEDOUT && e->st != NULL) {
			/* a disk that hangs: read through the node (whose
			 * reads time out and fail over) for a minute */
			e->st = NULL;
			e->ask_after_ms = cfs_now_ms() + RECHECK_MS;
		}
		LOG_INFO("data node %" PRIu64 " (%s): read through it: from "
			 "the disk, %s",
			 node, e->addr, errmsg);
		break;
	}
	pthread_mutex_unlock(&l->lock);
}

/* ---- reading -------------------------------------------------------------- */

int
lread_read(struct lread *l, struct store *s, uint64_t ino, uint32_t idx,
	   uint64_t version, uint64_t off, void *dst, size_t n, uint32_t crc,
	   char *errmsg)
{
	struct store_key k = {.ino = ino, .idx = idx, .version = version};
	char path[PATH_MAX];
	uint64_t length = 0;
	uint32_t have = 0;
	size_t got = 0;
	int rc;

	rc = store_read_stat(s, &k, off, dst, n, &got, &length, &have, errmsg);
	if (rc == 0 && (have != crc || got != n)) {
		store_path(s, &k, path, sizeof(path));
		rc = have != crc
			     ? cfs_fail(errmsg, CFS_CORRUPT,
					"%s: replica crc %08" PRIx32
					", committed %08" PRIx32,
					path, have, crc)
			     : cfs_fail(errmsg, CFS_CORRUPT,
					"%s: %zu bytes at %" PRIu64
					" where %zu were due (%" PRIu64
					" in all)",
					path, got, off, n, length);
	}
	if (rc == 0) {
		pthread_mutex_lock(&l->lock);
		l->reads++;
		pthread_mutex_unlock(&l->lock);
	}
	return rc;
}

/* Free @j, keeping its buffer for the next job (under l->lock). */
static void
job_free(struct lread_job *j)
{
	struct lread *l = j->l;

	if (j->cap == l->spare_cap && l->nspare < SPARE_MAX)
		l->spare[l->nspare++] = j->buf;
	else
		free(j->buf);
	free(j);
}

/* A buffer of at least @n bytes, page-aligned (under l->lock). */
static uint8_t *
buf_get(struct lread *l, size_t n, size_t *cap)
{
	if (n <= l->spare_cap && l->nspare > 0) {
		*cap = l->spare_cap;
		return l->spare[--l->nspare];
	}
	if (n > l->spare_cap) { /* the spare ones are too small */
		while (l->nspare > 0)
			free(l->spare[--l->nspare]);
		l->spare_cap = (n + 4095) / 4096 * 4096;
	}
	*cap = l->spare_cap;
	return aligned_alloc(4096, *cap);
}

static void *
job_thread(void *arg)
{
	struct lread *l = arg;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		while (l->head == NULL && !l->stopping)
			pthread_cond_wait(&l->work, &l->lock);
		struct lread_job *j = l->head;
		if (j == NULL)
			break; /* stopping, nothing queued */
		l->head = j->next;
		if (l->head == NULL)
			l->tail = NULL;
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&l->lock);
		int rc = lread_read(l, j->s, j->ino, j->idx, j->version,
				    j->off, j->buf, j->n, j->crc, j->errmsg);
		pthread_mutex_lock(&l->lock);
		j->rc = rc;
		j->state = JOB_DONE;
		if (j->abandoned)
			job_free(j);
		else
			pthread_cond_broadcast(&l->done);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

struct lread_job *
lread_start(struct lread *l, struct store *s, uint64_t ino, uint32_t idx,
	    uint64_t version, uint64_t off, size_t n, uint32_t crc)
{
	struct lread_job *j = calloc(1, sizeof(*j));
	size_t cap = 0;
	uint8_t *buf;

	if (j == NULL)
		return NULL;
	pthread_mutex_lock(&l->lock);
	/* page-aligned, so that whole blocks are read straight into it
	 * past the page cache (data/store.c read_run) */
	buf = buf_get(l, n > 0 ? n : 1, &cap);
	if (buf == NULL) {
		pthread_mutex_unlock(&l->lock);
		free(j);
		return NULL;
	}
	*j = (struct lread_job){.l = l, .s = s, .ino = ino, .idx = idx,
				.version = version, .off = off, .n = n,
				.crc = crc, .buf = buf, .cap = cap};
	while (l->nthreads < LREAD_THREADS && !l->stopping &&
	       pthread_create(&l->threads[l->nthreads], NULL, job_thread,
			      l) == 0)
		l->nthreads++;
	if (l->nthreads == 0 || l->stopping) {
		job_free(j);
		pthread_mutex_unlock(&l->lock);
		return NULL;
	}
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	pthread_cond_signal(&l->work);
	pthread_mutex_unlock(&l->lock);
	return j;
}

int
lread_finish(struct lread_job *j, int timeout_ms, const uint8_t **data,
	     char *errmsg)
{
	struct lread *l = j->l;
	struct timespec until;
	int timed_out = 0;

	cfs_deadline_ts(&until, timeout_ms);
	pthread_mutex_lock(&l->lock);
	while (j->state != JOB_DONE && !timed_out)
		timed_out = pthread_cond_timedwait(&l->done, &l->lock,
						   &until) == ETIMEDOUT;
	timed_out = j->state != JOB_DONE;
	pthread_mutex_unlock(&l->lock);
	if (timed_out)
		return cfs_fail(errmsg, CFS_ETIMEDOUT,
				"reading %016" PRIx64 ".%" PRIu32 " v%" PRIu64
				" from the disk: no answer in %d ms",
				j->ino, j->idx, j->version, timeout_ms);
	if (j->rc != 0) {
		cfs_errmsg_set(errmsg, "%s", j->errmsg);
		return j->rc;
	}
	*data = j->buf;
	return 0;
}

void
lread_done(struct lread_job *j)
{
	if (j == NULL)
		return;
	struct lread *l = j->l;

	pthread_mutex_lock(&l->lock);
	if (j->state == JOB_QUEUED) { /* take it out of the queue */
		struct lread_job **p = &l->head, *prev = NULL;
		while (*p != j) {
			prev = *p;
			p = &(*p)->next;
		}
		*p = j->next;
		if (l->tail == j)
			l->tail = prev;
		job_free(j);
	} else if (j->state == JOB_RUNNING) {
		j->abandoned = 1; /* its thread frees it */
	} else {
		job_free(j);
	}
	pthread_mutex_unlock(&l->lock);
}

void
lread_stats(struct lread *l, uint64_t *reads, uint64_t *failed,
	    unsigned *local_nodes)
{
	unsigned n = 0;

	pthread_mutex_lock(&l->lock);
	*reads = l->reads;
	*failed = l->failed;
	for (unsigned i = 0; i < l->nnodes; i++)
		n += l->nodes[i].st != NULL;
	*local_nodes = n;
	pthread_mutex_unlock(&l->lock);
}
