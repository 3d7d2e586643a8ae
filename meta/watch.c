/* watch.c - lease_watch on the leader: a mount's wait for the recalls of its leases, answered at once or parked until one is noted (docs/leases.md). */
#include "meta/watch.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/wire.h"
#include "meta/front.h"
#include "meta/recall.h"

/* A lease_watch that finds no recall waits for one as long as it asks,
 * by default and at most (clients give each attempt longer:
 * docs/leases.md). */
#define WATCH_PARK_MS 1000
#define WATCH_PARK_MAX_MS 5000

/* A lease_watch waiting for recalls. */
struct watch {
	struct wire_header h;
	uint64_t holder;
	size_t ident_len;
	uint8_t ident[IDENT_MAX];
};

/* Answer @w with up to CFS_LEASE_RECALL_MAX of its holder's recalls (an
 * error instead when @status is not 0) and free it. */
static void
watch_answer(struct meta_server *s, struct watch *w, int status)
{
	struct wire_lease_recall *r = malloc(sizeof(*r));

	if (status != 0 || r == NULL) {
		front_send_error(s, w->ident, w->ident_len, &w->h,
				 status ? status : CFS_ENOMEM,
				 status ? "not the leader" : "out of memory");
	} else {
		r->inos_count = (uint32_t)recall_take(
			s->recalls, w->holder, r->inos, CFS_LEASE_RECALL_MAX);
		front_send_body(s, w->ident, w->ident_len, &w->h,
				WIRE_T_lease_recall, r);
	}
	free(r);
	free(w);
}

static void
watch_fail(void *watch, void *data)
{
	watch_answer(data, watch, CFS_NOTLEADER);
}

/* Applying found @holder's lease on @ino in the way of a request: on the
 * leader, note the recall and wake the holder's watch. */
void
watch_on_recall(void *data, uint64_t holder, uint64_t session, uint64_t ino)
{
	struct meta_server *s = data;

	(void)session;
	if (!s->leader || s->recalls == NULL)
		return;
	struct watch *w = recall_note(s->recalls, holder, ino);
	if (w != NULL)
		watch_answer(s, w, 0);
}

/* Leadership lost or server stopping: parked watches are told to go
 * elsewhere, the notes are forgotten (the refused requests are retried
 * and note them again). */
void
watch_reset(struct meta_server *s, int renew)
{
	recall_free(&s->recalls, watch_fail, s);
	if (renew)
		s->recalls = recall_new();
}

/* Parked watches whose time is up are answered empty. */
void
watch_tick(struct meta_server *s)
{
	struct watch *w;

	while (s->recalls != NULL &&
	       (w = recall_due(s->recalls, uv_now(&s->loop))) != NULL)
		watch_answer(s, w, 0);
}

/* lease_watch: the holder's recalls at once, or parked until one is
 * noted or its wait is over (then empty). */
void
watch_handle(struct meta_server *s, const uint8_t *ident, size_t ident_len,
	     const struct wire_header *h, const struct wire_lease_watch *m)
{
	struct watch *w;

	if (!s->confirmed || s->recalls == NULL) {
		front_send_error(s, ident, ident_len, h, CFS_NOLEADER,
				 "new leader not yet confirmed");
		return;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		front_send_error(s, ident, ident_len, h, CFS_ENOMEM,
				 "server out of memory");
		return;
	}
	w->h = *h;
	w->holder = m->holder;
	w->ident_len = ident_len > IDENT_MAX ? IDENT_MAX : ident_len;
	memcpy(w->ident, ident, w->ident_len);
	if (recall_pending(s->recalls, m->holder) > 0) {
		watch_answer(s, w, 0);
		return;
	}
	uint32_t park = m->wait_ms == 0 ? WATCH_PARK_MS
			: m->wait_ms > WATCH_PARK_MAX_MS ? WATCH_PARK_MAX_MS
							  : m->wait_ms;
	struct watch *old = recall_park(s->recalls, m->holder, w,
					uv_now(&s->loop) + park);
	if (old == w) {
		front_send_error(s, ident, ident_len, h, CFS_ENOMEM,
				 "server out of memory");
		free(w);
	} else if (old != NULL) {
		watch_answer(s, old, 0); /* replaced: answered empty */
	}
}
