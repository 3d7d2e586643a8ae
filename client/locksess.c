/* locksess.c - the advisory-lock session of a client: flock and fcntl locks through one metadata session of their own. */
#include "client/locksess.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/proto.h"

struct locksess {
	char *servers;
	char *client_name;
	struct mc_options mo;
	int call_timeout_ms;
	pthread_mutex_t lock; /* guards mc, rep: one request at a time */
	struct mc *mc;        /* NULL until the first call */
	union wire_body *rep;
	int posix_used;       /* atomic */
};

int
locksess_new(struct locksess **out, const char *servers,
	     const struct mc_options *mo, int call_timeout_ms)
{
	struct locksess *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return CFS_ENOMEM;
	s->mo = *mo;
	s->call_timeout_ms = call_timeout_ms;
	s->servers = strdup(servers);
	s->client_name = mo->client_name ? strdup(mo->client_name) : NULL;
	s->mo.client_name = s->client_name;
	pthread_mutex_init(&s->lock, NULL);
	if (s->servers == NULL ||
	    (mo->client_name != NULL && s->client_name == NULL)) {
		locksess_close(&s);
		return CFS_ENOMEM;
	}
	*out = s;
	return 0;
}

void
locksess_close(struct locksess **sp)
{
	struct locksess *s = *sp;

	if (s == NULL)
		return;
	mc_close(&s->mc);
	free(s->rep);
	pthread_mutex_destroy(&s->lock);
	free(s->client_name);
	free(s->servers);
	free(s);
	*sp = NULL;
}

/* One lock request on the session, opened on first use.  A lock_info
 * reply is copied to *info when not NULL. */
static int
lock_call(struct locksess *s, uint16_t type, const void *rq,
	  struct wire_lock_info *info, char *errmsg)
{
	uint16_t rt = 0;
	int rv = 0;

	pthread_mutex_lock(&s->lock);
	if (s->mc == NULL) {
		if (s->rep == NULL &&
		    (s->rep = malloc(sizeof(*s->rep))) == NULL)
			rv = cfs_fail(errmsg, CFS_ENOMEM, "reply buffer");
		else if ((rv = mc_open(&s->mc, s->servers, &s->mo, errmsg)) !=
			 0)
			cfs_errmsg_prefix(errmsg, "lock session");
	}
	if (rv == 0)
		rv = mc_call(s->mc, type, rq, &rt, s->rep, s->call_timeout_ms,
			     errmsg);
	if (rv == 0) {
		uint16_t expect = type == WIRE_T_lock_get ? WIRE_T_lock_info
							  : WIRE_T_ok;
		if (rt != expect)
			rv = cfs_fail(errmsg, CFS_MALFORMED,
				      "%s answered with %s",
				      wire_type_name(type),
				      wire_type_name(rt) ? wire_type_name(rt)
							 : "?");
		else if (info != NULL)
			*info = s->rep->lock_info;
	}
	pthread_mutex_unlock(&s->lock);
	return rv;
}

int
locksess_set(struct locksess *s, const struct wire_lock_set *rq, int wait,
	     locksess_interrupted_fn interrupted, void *arg, char *errmsg)
{
	int64_t backoff = LOCKSESS_WAIT_MIN_MS;
	int rv;

	if (rq->kind == CFS_LOCK_POSIX)
		__atomic_store_n(&s->posix_used, 1, __ATOMIC_RELAXED);
	while ((rv = lock_call(s, WIRE_T_lock_set, rq, NULL, errmsg)) ==
		       CFS_EAGAIN &&
	       wait) {
		if (interrupted != NULL && interrupted(arg))
			return cfs_fail(errmsg, CFS_EINTR,
					"waiting for a lock: interrupted");
		cfs_sleep_ms(backoff);
		backoff = backoff * 2 > LOCKSESS_WAIT_MAX_MS
				  ? LOCKSESS_WAIT_MAX_MS
				  : backoff * 2;
	}
	return rv;
}

int
locksess_get(struct locksess *s, const struct wire_lock_get *rq,
	     struct flock *fl, char *errmsg)
{
	struct wire_lock_info info;
	int rv;

	if ((rv = lock_call(s, WIRE_T_lock_get, rq, &info, errmsg)) != 0)
		return rv;
	fl->l_type = info.type;
	if (info.type != F_UNLCK) {
		fl->l_whence = SEEK_SET;
		fl->l_start = (off_t)info.start;
		fl->l_len = info.end == CFS_LOCK_EOF
				    ? 0
				    : (off_t)(info.end - info.start + 1);
		fl->l_pid = (pid_t)info.pid;
	}
	return 0;
}

int
locksess_release(struct locksess *s, uint64_t ino, uint64_t owner, int kind,
		 char *errmsg)
{
	struct wire_lock_release rq = {.ino = ino, .owner = owner,
				       .kind = (uint8_t)kind};

	return lock_call(s, WIRE_T_lock_release, &rq, NULL, errmsg);
}

int
locksess_posix_used(struct locksess *s)
{
	return __atomic_load_n(&s->posix_used, __ATOMIC_RELAXED);
}
