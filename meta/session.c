/* session.c - the leader's keepalive clock for client sessions (see session.h). */
#include "meta/session.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

struct session_entry {
	struct session_entry *next;
	uint64_t client_id;
	uint32_t lease_ms;
	uint64_t last_seen;
	unsigned generation;
	int reported;
};

static struct session_entry **
slot(struct session_clock *c, uint64_t client_id)
{
	struct session_entry **p =
		&c->tab[(client_id * 0x9E3779B97F4A7C15ull >> 40) &
			(SESSION_BUCKETS - 1)];
	while (*p && (*p)->client_id != client_id)
		p = &(*p)->next;
	return p;
}

void
session_clock_init(struct session_clock *c)
{
	memset(c, 0, sizeof(*c));
}

void
session_clock_clear(struct session_clock *c)
{
	for (unsigned b = 0; b < SESSION_BUCKETS; b++)
		while (c->tab[b]) {
			struct session_entry *e = c->tab[b];
			c->tab[b] = e->next;
			free(e);
		}
	c->count = 0;
}

int
session_clock_touch(struct session_clock *c, uint64_t client_id, uint64_t now)
{
	struct session_entry *e = *slot(c, client_id);
	/* Reported: its expiry is proposed, and the state machine will drop
	 * it with its leases and locks; a keepalive answered now would have
	 * the client trust its leases for another lease period. */
	if (e == NULL || e->reported)
		return 0;
	if (now > e->last_seen)
		e->last_seen = now;
	return 1;
}

void
session_clock_resync_begin(struct session_clock *c)
{
	c->generation++;
}

int
session_clock_resync_one(struct session_clock *c, uint64_t client_id,
			 uint32_t lease_ms, uint64_t now)
{
	struct session_entry **p = slot(c, client_id);
	if (*p == NULL) {
		struct session_entry *e = calloc(1, sizeof(*e));
		if (e == NULL)
			return CFS_ENOMEM;
		e->client_id = client_id;
		e->last_seen = now;
		*p = e;
		c->count++;
	}
	(*p)->lease_ms = lease_ms;
	(*p)->generation = c->generation;
	return 0;
}

void
session_clock_resync_end(struct session_clock *c)
{
	for (unsigned b = 0; b < SESSION_BUCKETS; b++)
		for (struct session_entry **p = &c->tab[b]; *p;) {
			if ((*p)->generation != c->generation) {
				struct session_entry *e = *p;
				*p = e->next;
				free(e);
				c->count--;
			} else {
				p = &(*p)->next;
			}
		}
}

void
session_clock_expire(struct session_clock *c, uint64_t now,
		     int (*fn)(void *data, uint64_t client_id,
			       uint64_t silent_ms),
		     void *data)
{
	for (unsigned b = 0; b < SESSION_BUCKETS; b++)
		for (struct session_entry *e = c->tab[b]; e; e = e->next) {
			if (e->reported || now < e->last_seen ||
			    now - e->last_seen <= e->lease_ms)
				continue;
			if (fn(data, e->client_id, now - e->last_seen) == 0)
				e->reported = 1;
		}
}
