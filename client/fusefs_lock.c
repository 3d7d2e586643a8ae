/* fusefs_lock.c - cfs-fuse's lock requests: set at once, or left to one waiter thread that retries the blocking ones and answers them when granted or interrupted. */
#include "client/fusefs_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "client/locksess.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"

/*
 * A blocking lock (F_SETLKW, flock without LOCK_NB) may wait for minutes.
 * Waiting in the FUSE worker thread that got it would take that thread
 * from every other request of the mount: with libfuse's max_threads
 * waiters the mount stopped answering anything, stat and the unlock that
 * would free them included.  So a request that meets a conflict is
 * queued here and its worker returns; one thread per mount retries the
 * queued requests (each after LOCKSESS_WAIT_MIN_MS, doubling up to
 * LOCKSESS_WAIT_MAX_MS, as locksess_set's own wait) and answers each when
 * it is granted, fails, or its caller is interrupted (a signal: the
 * kernel's FUSE_INTERRUPT wakes the thread at once).
 */
struct lockwait {
	struct lockwait *next;
	fuse_req_t req;
	struct wire_lock_set rq;
	const char *what;
	int64_t due_ms, backoff_ms;
};

void
fusefs_lock_reply_fail(fuse_req_t req, const char *what, uint64_t ino, int rv,
		       const char *errmsg)
{
	if (rv == CFS_EAGAIN || rv == CFS_EINTR || rv == CFS_ENOENT)
		LOG_DEBUG("%s on inode %llu: %s", what,
			  (unsigned long long)ino, errmsg);
	else
		LOG_WARN("%s on inode %llu: %s", what,
			 (unsigned long long)ino, errmsg);
	fuse_reply_err(req, cfs_errno(rv));
}

void
fusefs_lockwait_init(struct fusefs *fs)
{

	pthread_mutex_init(&fs->waits.lock, NULL);
	cfs_cond_init_monotonic(&fs->waits.cond);
}

/* One more try of @w: 1 when it was answered, 0 to wait on. */
static int
try_once(struct fusefs *fs, struct lockwait *w)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	int rv;

	if (fuse_req_interrupted(w->req)) {
		fusefs_lock_reply_fail(w->req, w->what, w->rq.ino, CFS_EINTR,
				       "waiting for a lock: interrupted");
		return 1;
	}
	rv = locksess_set(fs->locks, &w->rq, 0, NULL, NULL, errmsg);
	if (rv == CFS_EAGAIN)
		return 0;
	if (rv != 0)
		fusefs_lock_reply_fail(w->req, w->what, w->rq.ino, rv, errmsg);
	else
		fuse_reply_err(w->req, 0);
	return 1;
}

static void *
waiter_main(void *arg)
{
	struct fusefs *fs = arg;
	struct lockwait *w, **pp;

	pthread_mutex_lock(&fs->waits.lock);
	while (!fs->waits.stop) {
		int64_t now = cfs_now_ms(), next = INT64_MAX;
		if (fs->waits.kick) { /* an interrupt: look at each now */
			fs->waits.kick = 0;
			for (w = fs->waits.head; w != NULL; w = w->next)
				w->due_ms = now;
		}
		for (pp = &fs->waits.head; *pp != NULL; pp = &(*pp)->next)
			if ((*pp)->due_ms <= now)
				break;
		if (*pp == NULL) {
			for (w = fs->waits.head; w != NULL; w = w->next)
				if (w->due_ms < next)
					next = w->due_ms;
			if (next == INT64_MAX) {
				pthread_cond_wait(&fs->waits.cond,
						  &fs->waits.lock);
			} else {
				struct timespec ts;
				cfs_deadline_ts(&ts, next - now);
				pthread_cond_timedwait(&fs->waits.cond,
						       &fs->waits.lock, &ts);
			}
			continue;
		}
		w = *pp;
		*pp = w->next;
		pthread_mutex_unlock(&fs->waits.lock);
		int done = try_once(fs, w);
		pthread_mutex_lock(&fs->waits.lock);
		if (done) {
			free(w);
			continue;
		}
		w->due_ms = cfs_now_ms() + w->backoff_ms;
		w->backoff_ms = w->backoff_ms * 2 > LOCKSESS_WAIT_MAX_MS
					? LOCKSESS_WAIT_MAX_MS
					: w->backoff_ms * 2;
		/* to the end: the others are tried first */
		for (pp = &fs->waits.head; *pp != NULL; pp = &(*pp)->next)
			;
		w->next = NULL;
		*pp = w;
	}
	/* unmounting: whoever still waits is told so */
	while ((w = fs->waits.head) != NULL) {
		fs->waits.head = w->next;
		pthread_mutex_unlock(&fs->waits.lock);
		fusefs_lock_reply_fail(w->req, w->what, w->rq.ino, CFS_EINTR,
				       "waiting for a lock: unmounting");
		free(w);
		pthread_mutex_lock(&fs->waits.lock);
	}
	pthread_mutex_unlock(&fs->waits.lock);
	return NULL;
}

/* fuse_interrupt_func_t: a queued request's caller got a signal. */
static void
interrupted(fuse_req_t req, void *arg)
{
	struct fusefs *fs = arg;

	(void)req;
	pthread_mutex_lock(&fs->waits.lock);
	fs->waits.kick = 1;
	pthread_cond_broadcast(&fs->waits.cond);
	pthread_mutex_unlock(&fs->waits.lock);
}

/* Queue @rq for the waiter thread: 0, or -1 if there is no such thread
 * (it could not be started, or the mount is going). */
static int
enqueue(struct fusefs *fs, fuse_req_t req, const struct wire_lock_set *rq,
	const char *what)
{
	struct lockwait *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return -1;
	w->req = req;
	w->rq = *rq;
	w->what = what;
	w->backoff_ms = LOCKSESS_WAIT_MIN_MS;
	w->due_ms = cfs_now_ms() + w->backoff_ms;
	/* before @w is queued: once it is, the waiter thread may answer
	 * (and so free) @req at any time.  For a request interrupted
	 * already, libfuse calls interrupted() at once: it only kicks. */
	fuse_req_interrupt_func(req, interrupted, fs);
	pthread_mutex_lock(&fs->waits.lock);
	if (!fs->waits.started && !fs->waits.stop &&
	    pthread_create(&fs->waits.thread, NULL, waiter_main, fs) == 0)
		fs->waits.started = 1;
	if (!fs->waits.started || fs->waits.stop) {
		pthread_mutex_unlock(&fs->waits.lock);
		fuse_req_interrupt_func(req, NULL, NULL);
		free(w);
		return -1;
	}
	w->next = fs->waits.head;
	fs->waits.head = w;
	pthread_cond_broadcast(&fs->waits.cond);
	pthread_mutex_unlock(&fs->waits.lock);
	return 0; /* @req is the waiter thread's now */
}

/* locksess_interrupted_fn: @arg is the request. */
static int
req_interrupted(void *arg)
{
	return fuse_req_interrupted((fuse_req_t)arg);
}

void
fusefs_lock_set(fuse_req_t req, const struct wire_lock_set *rq, int wait,
		const char *what)
{
	struct fusefs *fs = fuse_req_userdata(req);
	char errmsg[CFS_ERRMSG_SIZE] = "";
	int rv = locksess_set(fs->locks, rq, 0, NULL, NULL, errmsg);

	if (rv == CFS_EAGAIN && wait && enqueue(fs, req, rq, what) == 0)
		return; /* answered by the waiter thread */
	if (rv == CFS_EAGAIN && wait) /* no waiter thread: wait here */
		rv = locksess_set(fs->locks, rq, 1, req_interrupted, req,
				  errmsg);
	if (rv != 0)
		fusefs_lock_reply_fail(req, what, rq->ino, rv, errmsg);
	else
		fuse_reply_err(req, 0);
}

void
fusefs_lockwait_stop(struct fusefs *fs)
{
	pthread_mutex_lock(&fs->waits.lock);
	fs->waits.stop = 1;
	pthread_cond_broadcast(&fs->waits.cond);
	int started = fs->waits.started;
	fs->waits.started = 0;
	pthread_mutex_unlock(&fs->waits.lock);
	if (started)
		pthread_join(fs->waits.thread, NULL);
}

void
fusefs_lockwait_free(struct fusefs *fs)
{
	fusefs_lockwait_stop(fs);
	pthread_cond_destroy(&fs->waits.cond);
	pthread_mutex_destroy(&fs->waits.lock);
}
