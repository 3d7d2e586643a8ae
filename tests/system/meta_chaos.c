/* meta_chaos.c - clients that keep changing the namespace while servers die, then check that every acknowledged change happened exactly once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/metaclient.h"
#include "common/error.h"
#include "common/wire.h"

/*
 * Usage: meta_chaos SERVERS THREADS SECONDS
 *
 * Each thread has its own session and directory /chaos-<pid>/w<N> and
 * repeats, for i = 0, 1, ...:  create f<i> (exclusive), chmod it to a mode
 * derived from i, rename it to g<i>, and unlink every third g<i>.  Each
 * step's outcome is journaled:
 *  - acknowledged: the model of the directory changes accordingly;
 *  - failed with an error that a correct exactly-once server can never
 *    give here (EEXIST on the create, ENOENT on the chmod/rename/unlink of
 *    a file this thread made): a VIOLATION, reported at once;
 *  - outcome unknown (the call gave up: no leader for longer than its
 *    deadline): the file is marked uncertain and left alone.
 * After SECONDS, every directory is listed and compared with its model:
 * every acknowledged file is there under its final name with its final
 * mode, every acknowledged unlink is gone, nothing unknown is there, and an
 * uncertain file appears under at most one name (never half a rename).
 * Exit 0 if all of that holds; 1 with a report of each violation.
 */

enum fstate { F_NONE, F_CREATED, F_RENAMED, F_UNLINKED, F_UNCERTAIN };

struct file {
	enum fstate state;
	uint32_t mode;
};

struct worker {
	pthread_t thread;
	int idx;
	const char *servers;
	uint64_t dir;
	struct file *files;
	int n, cap;
	long acked, unknown, violations;
	char first_violation[512];
};

static uint64_t top_dir;
static volatile int stop_flag;
static double deadline;

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
ambiguous(int rv)
{
	return rv == CFS_ETIMEDOUT || rv == CFS_NOLEADER ||
	       rv == CFS_NOSESSION || rv == CFS_NOTLEADER ||
	       rv == CFS_SHUTDOWN || rv == CFS_EAGAIN;
}

static void
violation(struct worker *w, const char *what, int i, int rv,
	  const char *errmsg)
{
	w->violations++;
	if (w->violations == 1)
		snprintf(w->first_violation, sizeof(w->first_violation),
			 "worker %d: %s of file %d: %s (%s)", w->idx, what, i,
			 cfs_errname(rv), errmsg);
	fprintf(stderr, "VIOLATION worker %d: %s of file %d: %s (%s)\n",
		w->idx, what, i, cfs_errname(rv), errmsg);
}

/* One step: 0 acked, 1 unknown (file now uncertain), -1 violation. */
static int
step(struct worker *w, int i, int rv, const char *what, char *errmsg)
{
	if (rv == 0) {
		w->acked++;
		return 0;
	}
	if (ambiguous(rv)) {
		w->unknown++;
		w->files[i].state = F_UNCERTAIN;
		return 1;
	}
	violation(w, what, i, rv, errmsg);
	w->files[i].state = F_UNCERTAIN;
	return -1;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct mc_options o = {.client_name = "meta-chaos",
			       .attempt_timeout_ms = 200,
			       .deadline_ms = 20000};
	struct mc *mc = NULL;
	char errmsg[CFS_ERRMSG_SIZE], name[32], name2[32];
	struct wire_attr attr;

	if (mc_open(&mc, w->servers, &o, errmsg) != 0) {
		violation(w, "session open", -1, CFS_EIO, errmsg);
		return NULL;
	}
	snprintf(name, sizeof(name), "w%d", w->idx);
	if (mc_mkdir(mc, top_dir, name, 0755, &attr, errmsg) != 0) {
		violation(w, "mkdir", -1, CFS_EIO, errmsg);
		mc_close(&mc);
		return NULL;
	}
	w->dir = attr.ino;
	for (int i = 0; !stop_flag && now_s() < deadline; i++) {
		if (i == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 1024;
			w->files = realloc(w->files,
					   (size_t)w->cap * sizeof(*w->files));
		}
		w->n = i + 1;
		struct file *f = &w->files[i];
		f->state = F_NONE;
		snprintf(name, sizeof(name), "f%d", i);
		snprintf(name2, sizeof(name2), "g%d", i);

		int rv = mc_create(mc, w->dir, name, 0644, &attr, errmsg);
		if (rv == 0)
			f->state = F_CREATED, f->mode = 0644;
		if (step(w, i, rv, "create", errmsg) != 0)
			continue;
		uint32_t mode = 0600 | (uint32_t)(i % 8) << 3;
		rv = mc_chmod(mc, attr.ino, mode, NULL, errmsg);
		if (rv == 0)
			f->mode = mode;
		if (step(w, i, rv, "chmod", errmsg) != 0)
			continue;
		rv = mc_rename(mc, w->dir, name, w->dir, name2, 0, errmsg);
		if (rv == 0)
			f->state = F_RENAMED;
		if (step(w, i, rv, "rename", errmsg) != 0)
			continue;
		if (i % 3 == 0) {
			rv = mc_unlink(mc, w->dir, name2, errmsg);
			if (rv == 0)
				f->state = F_UNLINKED;
			step(w, i, rv, "unlink", errmsg);
		}
	}
	mc_close(&mc);
	return NULL;
}

/* List one directory and compare it with the worker's model. */
static void
verify(struct mc *mc, struct worker *w)
{
	struct wire_dirents *d = malloc(sizeof(*d));
	char errmsg[CFS_ERRMSG_SIZE];
	uint64_t cookie = 0;
	/* seen[i]: bit 1 = f<i> present, bit 2 = g<i> present */
	unsigned char *seen = calloc((size_t)w->n + 1, 1);
	uint32_t *mode = calloc((size_t)w->n + 1, sizeof(*mode));

	for (;;) {
		int rv = mc_readdir(mc, w->dir, cookie, 128, 0, d, errmsg);
		if (rv != 0) {
			violation(w, "final readdir", -1, rv, errmsg);
			break;
		}
		for (uint32_t k = 0; k < d->entries_count; k++) {
			const char *nm = d->entries[k].name;
			cookie = d->entries[k].cookie;
			if (!strcmp(nm, ".") || !strcmp(nm, ".."))
				continue;
			int i = atoi(nm + 1);
			if ((nm[0] != 'f' && nm[0] != 'g') || i < 0 ||
			    i >= w->n) {
				violation(w, "unexpected entry", i, CFS_EEXIST,
					  nm);
				continue;
			}
			seen[i] |= nm[0] == 'f' ? 1 : 2;
			mode[i] = d->entries[k].attr.mode & 07777;
		}
		if (d->eof || d->entries_count == 0)
			break;
	}
	for (int i = 0; i < w->n; i++) {
		struct file *f = &w->files[i];
		char what[64];
		int ok;
		switch (f->state) {
		case F_NONE: ok = seen[i] == 0; break;
		case F_CREATED: ok = seen[i] == 1 && mode[i] == f->mode; break;
		case F_RENAMED: ok = seen[i] == 2 && mode[i] == f->mode; break;
		case F_UNLINKED: ok = seen[i] == 0; break;
		default: ok = seen[i] != 3; break; /* never both names */
		}
		if (!ok) {
			snprintf(what, sizeof(what),
				 "final state (model %d, seen %d, mode %o/%o)",
				 f->state, seen[i], mode[i], f->mode);
			violation(w, what, i, CFS_EIO, "mismatch");
		}
	}
	free(seen);
	free(mode);
	free(d);
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: meta_chaos SERVERS THREADS SECONDS\n");
		return 2;
	}
	const char *servers = argv[1];
	int n = atoi(argv[2]);
	double secs = atof(argv[3]);
	struct worker *ws = calloc((size_t)n, sizeof(*ws));
	struct mc_options o = {.client_name = "meta-chaos-check",
			       .deadline_ms = 30000};
	struct mc *mc;
	char errmsg[CFS_ERRMSG_SIZE], name[64];
	struct wire_attr attr;

	if (mc_open(&mc, servers, &o, errmsg) != 0) {
		fprintf(stderr, "meta_chaos: %s\n", errmsg);
		return 1;
	}
	snprintf(name, sizeof(name), "chaos-%d", (int)getpid());
	if (mc_mkdir(mc, 1, name, 0755, &attr, errmsg) != 0) {
		fprintf(stderr, "meta_chaos: mkdir /%s: %s\n", name, errmsg);
		return 1;
	}
	top_dir = attr.ino;
	deadline = now_s() + secs;
	for (int i = 0; i < n; i++) {
		ws[i].idx = i;
		ws[i].servers = servers;
		pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);
	}
	long acked = 0, unknown = 0, violations = 0, files = 0;
	for (int i = 0; i < n; i++)
		pthread_join(ws[i].thread, NULL);
	for (int i = 0; i < n; i++) {
		if (ws[i].dir != 0)
			verify(mc, &ws[i]);
		acked += ws[i].acked;
		unknown += ws[i].unknown;
		violations += ws[i].violations;
		files += ws[i].n;
	}
	mc_close(&mc);
	printf("meta_chaos: %d clients, %ld files, %ld acknowledged "
	       "operations, %ld with unknown outcome, %ld violations\n",
	       n, files, acked, unknown, violations);
	for (int i = 0; i < n; i++)
		if (ws[i].violations)
			printf("  first: %s\n", ws[i].first_violation);
	for (int i = 0; i < n; i++)
		free(ws[i].files);
	free(ws);
	return violations ? 1 : 0;
}
