/* test_raft.c - the real state machine under libraft's deterministic in-memory cluster (raft_fixture). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <raft.h>
#include <raft/fixture.h>

#include "common/error.h"
#include "common/wire.h"
#include "meta/entry.h"
#include "meta/fsm.h"

#define MAX_SERVERS 5
#define CLIENT 0x100000001ull

struct cluster {
	struct raft_fixture *f; /* calloc'd: 0.15 does not zero it */
	struct fsm *fsm[MAX_SERVERS];
	unsigned n;
	uint64_t seq;
	unsigned applied_cbs, failed_cbs;
};

static void
add_server(struct cluster *c)
{
	char errmsg[CFS_ERRMSG_SIZE];
	unsigned i = c->n++;
	assert_int_equal(fsm_open(&c->fsm[i], ":memory:", errmsg), 0);
	assert_int_equal(raft_fixture_grow(c->f, fsm_raft(c->fsm[i])), 0);
	fsm_attach(c->fsm[i], raft_fixture_get(c->f, i));
}

static int
setup3(void **state)
{
	struct cluster *c = calloc(1, sizeof(*c));
	struct raft_configuration conf;
	c->f = calloc(1, sizeof(*c->f));
	assert_int_equal(raft_fixture_initialize(c->f), 0);
	for (int i = 0; i < 3; i++)
		add_server(c);
	assert_int_equal(raft_fixture_configuration(c->f, 3, &conf), 0);
	assert_int_equal(raft_fixture_bootstrap(c->f, &conf), 0);
	raft_configuration_close(&conf);
	assert_int_equal(raft_fixture_start(c->f), 0);
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct cluster *c = *state;
	raft_fixture_close(c->f);
	for (unsigned i = 0; i < c->n; i++)
		fsm_close(&c->fsm[i]);
	free(c->f);
	free(c);
	return 0;
}

static void
apply_cb(struct raft_apply *req, int status, void *result)
{
	struct cluster *c = req->data;
	if (status == 0)
		c->applied_cbs++;
	else
		c->failed_cbs++;
	free(req);
}

/* Encode one command frame into @b. */
static void
add_frame(struct entry_builder *b, uint16_t type, uint64_t client,
	  uint64_t seq, const void *body)
{
	struct wire_header h = {.type = type, .client_id = client,
				.sequence = seq};
	uint8_t *frame;
	size_t len;
	char errmsg[CFS_ERRMSG_SIZE];
	assert_int_equal(wire_encode(&h, body, &frame, &len, errmsg), 0);
	assert_int_equal(entry_add(b, frame, len), 0);
	free(frame);
}

/* Propose one entry on server @i; returns raft_apply's status. */
static int
propose(struct cluster *c, unsigned i, struct entry_builder *b)
{
	struct raft_buffer buf;
	struct raft_apply *req = calloc(1, sizeof(*req));
	entry_finish(b, &buf.base, &buf.len);
	req->data = c;
	int rv = raft_apply(raft_fixture_get(c->f, i), req, &buf, 1, apply_cb);
	if (rv != 0) {
		raft_free(buf.base);
		free(req);
	}
	return rv;
}

/* An entry of @n creates named <prefix><k> in the root. */
static int
propose_creates(struct cluster *c, unsigned i, const char *prefix, int n)
{
	struct entry_builder b;
	union wire_body *body = calloc(1, sizeof(*body));
	entry_begin(&b, 1000 + (int64_t)c->seq);
	for (int k = 0; k < n; k++) {
		memset(body, 0, sizeof(*body));
		body->mknod.parent = 1;
		snprintf(body->mknod.name, sizeof(body->mknod.name), "%s%d",
			 prefix, k);
		body->mknod.mode = S_IFREG | 0644;
		add_frame(&b, WIRE_T_mknod, CLIENT, ++c->seq, body);
	}
	free(body);
	return propose(c, i, &b);
}

/* Format the filesystem and open the test's session. */
static void
format_and_open(struct cluster *c, unsigned leader)
{
	struct entry_builder b;
	union wire_body *body = calloc(1, sizeof(*body));
	entry_begin(&b, 1000);
	body->format.fragment_size = 1 << 22;
	body->format.default_goal = 3;
	add_frame(&b, WIRE_T_format, 0, 1, body);
	memset(body, 0, sizeof(*body));
	body->session_open.lease_ms = 10000;
	add_frame(&b, WIRE_T_session_open, CLIENT, 0, body);
	free(body);
	assert_int_equal(propose(c, leader, &b), 0);
}

/* Membership change callbacks record their status in req->data. */
static void
change_cb(struct raft_change *req, int status)
{
	*(int *)req->data = status;
}

static unsigned
elect(struct cluster *c)
{
	assert_true(raft_fixture_step_until_has_leader(c->f, 10000));
	return raft_fixture_leader_index(c->f);
}

/* Step until every live server applied what the leader applied. */
static void
settle(struct cluster *c)
{
	unsigned l = raft_fixture_leader_index(c->f);
	raft_index idx = raft_last_index(raft_fixture_get(c->f, l));
	for (unsigned i = 0; i < c->n; i++)
		if (raft_fixture_alive(c->f, i))
			assert_true(raft_fixture_step_until_applied(c->f, i, idx,
								    20000));
}

/* Every live server's state machine is byte for byte the same. */
static void
assert_replicas_equal(struct cluster *c)
{
	char *ref = NULL, errmsg[CFS_ERRMSG_SIZE];
	size_t ref_len = 0;
	for (unsigned i = 0; i < c->n; i++) {
		char *text;
		size_t len;
		if (!raft_fixture_alive(c->f, i))
			continue;
		fsm_flush(c->fsm[i], errmsg);
		assert_int_equal(fsm_dump(c->fsm[i], &text, &len, errmsg), 0);
		if (ref == NULL) {
			ref = text;
			ref_len = len;
			continue;
		}
		if (len != ref_len || memcmp(text, ref, len) != 0)
			fail_msg("server %u differs from the first live one", i);
		free(text);
	}
	free(ref);
}

/* True if server @i's namespace has @name in the root. */
static int
has_file(struct cluster *c, unsigned i, const char *name)
{
	char *text, errmsg[CFS_ERRMSG_SIZE], hex[600] = "";
	size_t len;
	for (size_t k = 0; name[k] && k < 250; k++)
		snprintf(hex + 2 * k, 3, "%02x", (unsigned char)name[k]);
	fsm_flush(c->fsm[i], errmsg);
	assert_int_equal(fsm_dump(c->fsm[i], &text, &len, errmsg), 0);
	char needle[700];
	snprintf(needle, sizeof(needle), "\n1|x'%s'|", hex);
	int found = strstr(text, needle) != NULL;
	free(text);
	return found;
}

/* Three servers elect a leader and apply the same entries identically. */
static void
test_cluster_applies_entries_identically(void **state)
{
	struct cluster *c = *state;
	unsigned l = elect(c);
	format_and_open(c, l);
	assert_int_equal(propose_creates(c, l, "f", 20), 0);
	settle(c);
	assert_int_equal(c->applied_cbs, 2);
	for (unsigned i = 0; i < 3; i++)
		assert_true(has_file(c, i, "f19"));
	assert_replicas_equal(c);
}

/* A leader cut off from the others is replaced; what it accepted alone
 * never commits, and after the partition heals all agree again. */
static void
test_partitioned_leader_is_replaced(void **state)
{
	struct cluster *c = *state;
	unsigned l = elect(c);
	format_and_open(c, l);
	settle(c);
	for (unsigned i = 0; i < 3; i++)
		if (i != l) {
			raft_fixture_saturate(c->f, l, i);
			raft_fixture_saturate(c->f, i, l);
		}
	assert_int_equal(propose_creates(c, l, "lost", 1), 0);
	assert_true(raft_fixture_step_until_has_no_leader(c->f, 10000) ||
		    raft_fixture_leader_index(c->f) != l);
	assert_true(raft_fixture_step_until_has_leader(c->f, 10000));
	unsigned nl = raft_fixture_leader_index(c->f);
	assert_int_not_equal(nl, l);
	assert_int_equal(propose_creates(c, nl, "kept", 3), 0);
	for (unsigned i = 0; i < 3; i++)
		if (i != l) {
			raft_fixture_desaturate(c->f, l, i);
			raft_fixture_desaturate(c->f, i, l);
		}
	raft_fixture_step_until_elapsed(c->f, 2000);
	settle(c);
	for (unsigned i = 0; i < 3; i++) {
		assert_true(has_file(c, i, "kept2"));
		assert_false(has_file(c, i, "lost0"));
	}
	assert_true(c->failed_cbs >= 1);
	assert_replicas_equal(c);
}

/* A crashed follower that comes back catches up from the log. */
static void
test_crashed_follower_catches_up(void **state)
{
	struct cluster *c = *state;
	unsigned l = elect(c);
	format_and_open(c, l);
	settle(c);
	unsigned victim = (l + 1) % 3;
	raft_fixture_kill(c->f, victim);
	for (int k = 0; k < 5; k++) {
		char p[8];
		snprintf(p, sizeof(p), "k%d_", k);
		assert_int_equal(propose_creates(c, l, p, 4), 0);
	}
	raft_fixture_step_until_elapsed(c->f, 500);
	assert_false(has_file(c, victim, "k4_3"));
	raft_fixture_revive(c->f, victim);
	settle(c);
	assert_true(has_file(c, victim, "k4_3"));
	assert_replicas_equal(c);
}

/* A server that fell behind a compacted log receives a snapshot: the
 * serialized database of the leader, restored into its own. */
static void
test_lagging_server_installs_snapshot(void **state)
{
	struct cluster *c = *state;
	for (unsigned i = 0; i < 3; i++) {
		raft_set_snapshot_threshold(raft_fixture_get(c->f, i), 4);
		raft_set_snapshot_trailing(raft_fixture_get(c->f, i), 1);
	}
	unsigned l = elect(c);
	format_and_open(c, l);
	settle(c);
	unsigned victim = (l + 1) % 3;
	raft_fixture_kill(c->f, victim);
	for (int k = 0; k < 12; k++) {
		char p[8];
		snprintf(p, sizeof(p), "s%d_", k);
		assert_int_equal(propose_creates(c, l, p, 2), 0);
		raft_fixture_step_until_elapsed(c->f, 100);
	}
	settle(c);
	raft_fixture_revive(c->f, victim);
	settle(c);
	assert_true(has_file(c, victim, "s11_1"));
	assert_replicas_equal(c);
}

/* Membership: a new server joins, becomes a voter and converges; an old
 * one is removed and the rest carry on. */
static void
test_membership_change(void **state)
{
	struct cluster *c = *state;
	unsigned l = elect(c);
	format_and_open(c, l);
	assert_int_equal(propose_creates(c, l, "m", 5), 0);
	settle(c);
	add_server(c); /* grown servers are not started by the fixture */
	assert_int_equal(raft_start(raft_fixture_get(c->f, 3)), 0);
	struct raft *leader = raft_fixture_get(c->f, l);
	struct raft_change chg[3];
	int st[3] = {-1, -1, -1};
	for (int k = 0; k < 3; k++)
		chg[k].data = &st[k];
	assert_int_equal(raft_add(leader, &chg[0], 4, "4", change_cb), 0);
	raft_fixture_step_until_elapsed(c->f, 1000);
	assert_int_equal(st[0], 0);
	assert_int_equal(raft_assign(leader, &chg[1], 4, RAFT_VOTER, change_cb),
			 0);
	raft_fixture_step_until_elapsed(c->f, 3000);
	assert_int_equal(st[1], 0);
	settle(c);
	assert_true(has_file(c, 3, "m4"));
	assert_replicas_equal(c);
	unsigned gone = (l + 1) % 3;
	assert_int_equal(raft_remove(leader, &chg[2], gone + 1, change_cb), 0);
	raft_fixture_step_until_elapsed(c->f, 1000);
	assert_int_equal(st[2], 0);
	raft_fixture_kill(c->f, gone);
	assert_true(raft_fixture_step_until_has_leader(c->f, 10000));
	assert_int_equal(propose_creates(c, raft_fixture_leader_index(c->f),
					 "after", 2),
			 0);
	settle(c);
	assert_true(has_file(c, 3, "after1"));
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup3, teardown)
	const struct CMUnitTest tests[] = {
		T(test_cluster_applies_entries_identically),
		T(test_partitioned_leader_is_replaced),
		T(test_crashed_follower_catches_up),
		T(test_lagging_server_installs_snapshot),
		T(test_membership_change),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
