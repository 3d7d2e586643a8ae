/* test_metaclient.c - the metadata client, and the senders of a mount's creates answered ahead (client/acreate.c), against scripted fake servers on loopback. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <zmq.h>

#include "client/acreate.h"
#include "client/metaclient.h"
#include "common/error.h"
#include "common/wire.h"

/*
 * A fake metadata server: a ROUTER socket on an ephemeral loopback port,
 * served by a thread that follows a small script.  It records every request
 * it sees, so tests can check what the client put on the wire.
 */
enum fake_role {
	FAKE_LEADER,    /* answers everything */
	FAKE_FOLLOWER,  /* answers NOTLEADER naming `leader` */
	FAKE_NOLEADER,  /* answers NOLEADER */
};

struct fake_rec {
	uint16_t type;
	uint64_t request_id, client_id, sequence;
};

struct fake {
	void *ctx, *sock;
	char addr[64];
	enum fake_role role;
	char leader[64];
	int drop_mknod;       /* swallow this many mknod requests */
	int stale_first;      /* precede each reply with a stale one */
	int nosession_first;  /* refuse the first mknod with NOSESSION */
	int old_leader;       /* refuse mknods with BADTYPE, as before it */
	atomic_int stop;
	pthread_t thread;
	pthread_mutex_t lock;
	struct fake_rec rec[256];
	int n_rec;
	uint64_t next_client;
};

static void
fake_send(struct fake *f, zmq_msg_t *ident, const struct wire_header *h,
	  const void *body)
{
	uint8_t *buf;
	size_t len;
	char err[CFS_ERRMSG_SIZE];
	zmq_msg_t id;

	assert_int_equal(wire_encode(h, body, &buf, &len, err), 0);

	/* Sending consumes a message: send a copy of the identity. */
	zmq_msg_init(&id);
	zmq_msg_copy(&id, ident);
	zmq_msg_send(&id, f->sock, ZMQ_SNDMORE);
	zmq_send(f->sock, buf, len, 0);
	free(buf);
}

static void
fake_reply_error(struct fake *f, zmq_msg_t *ident, struct wire_header *h,
		 int status, const char *msg, const char *leader)
{
	struct wire_error e;

	memset(&e, 0, sizeof(e));
	snprintf(e.message, sizeof(e.message), "%s", msg);
	snprintf(e.leader, sizeof(e.leader), "%s", leader ? leader : "");
	h->type = WIRE_T_error;
	h->status = status;
	fake_send(f, ident, h, &e);
}

static void
fake_handle(struct fake *f, zmq_msg_t *ident, const uint8_t *buf, size_t len)
{
	union wire_body *req = malloc(sizeof(*req));
	struct wire_header h;
	char err[CFS_ERRMSG_SIZE];
	int drop = 0;

	assert_non_null(req);
	if (wire_decode(buf, len, &h, req, err) != 0) {
		free(req);
		return;
	}
	pthread_mutex_lock(&f->lock);
	if (f->n_rec < 256)
		f->rec[f->n_rec++] = (struct fake_rec){
			h.type, h.request_id, h.client_id, h.sequence};
	if (h.type == WIRE_T_mknod && f->drop_mknod > 0) {
		f->drop_mknod--;
		drop = 1;
	}
	pthread_mutex_unlock(&f->lock);
	h.flags = WIRE_F_REPLY;
	if (drop) {
	} else if (f->role == FAKE_FOLLOWER) {
		fake_reply_error(f, ident, &h, CFS_NOTLEADER, "not the leader",
				 f->leader);
	} else if (f->role == FAKE_NOLEADER) {
		fake_reply_error(f, ident, &h, CFS_NOLEADER, "election", NULL);
	} else if (h.type == WIRE_T_session_open) {
		struct wire_session_opened o = {
			.client_id = ++f->next_client, .lease_ms = 3000};
		h.type = WIRE_T_session_opened;
		fake_send(f, ident, &h, &o);
	} else if (h.type == WIRE_T_mknod && f->nosession_first) {
		f->nosession_first = 0;
		fake_reply_error(f, ident, &h, CFS_NOSESSION, "no session",
				 NULL);
	} else if (h.type == WIRE_T_mknod) {
		struct wire_entry e;

		memset(&e, 0, sizeof(e));
		/* (a number reserved for the create, as the leader would) */
		uint64_t ino = req->mknod.ino ? req->mknod.ino
					      : 1000 + h.sequence;
		e.attr.ino = ino;
		e.attr.mode = req->mknod.mode;
		if (f->stale_first) {
			struct wire_header s = h;
			s.request_id = h.request_id - 1;
			s.type = WIRE_T_entry;
			e.attr.ino = 1;
			fake_send(f, ident, &s, &e);
			e.attr.ino = ino;
		}
		h.type = WIRE_T_entry;
		fake_send(f, ident, &h, &e);
	} else if (h.type == WIRE_T_ino_reserve) {
		struct wire_ino_reserved r = {.first = 5000,
					      .count = req->ino_reserve.count};
		h.type = WIRE_T_ino_reserved;
		fake_send(f, ident, &h, &r);
	} else if (h.type == WIRE_T_mknods && f->old_leader) {
		fake_reply_error(f, ident, &h, CFS_BADTYPE,
				 "mknods (type 160) is not a request", NULL);
	} else if (h.type == WIRE_T_mknods) {
		struct wire_mknods_reply *r = calloc(1, sizeof(*r));
		assert_non_null(r);
		r->results_count = req->mknods.items_count;
		for (uint32_t i = 0; i < r->results_count; i++) {
			r->results[i].attr.ino = req->mknods.items[i].ino;
			r->results[i].attr.mode = req->mknods.items[i].mode;
			r->results[i].lease = CFS_LEASE_WRITE;
		}
		h.type = WIRE_T_mknods_reply;
		fake_send(f, ident, &h, r);
		free(r);
	} else if (h.type == WIRE_T_lookup) {
		fake_reply_error(f, ident, &h, CFS_ENOENT,
				 "lookup 1/nothing: no such file or directory",
				 NULL);
	} else {
		h.type = WIRE_T_ok;
		fake_send(f, ident, &h, &(struct wire_ok){0});
	}
	free(req);
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;

	while (!atomic_load(&f->stop)) {
		zmq_pollitem_t it = {f->sock, 0, ZMQ_POLLIN, 0};
		zmq_msg_t ident, frame;

		if (zmq_poll(&it, 1, 20) <= 0)
			continue;
		zmq_msg_init(&ident);
		zmq_msg_init(&frame);
		if (zmq_msg_recv(&ident, f->sock, 0) >= 0 &&
		    zmq_msg_more(&ident) &&
		    zmq_msg_recv(&frame, f->sock, 0) >= 0)
			fake_handle(f, &ident, zmq_msg_data(&frame),
				    zmq_msg_size(&frame));
		zmq_msg_close(&ident);
		zmq_msg_close(&frame);
	}
	return NULL;
}

static struct fake *
fake_start(enum fake_role role)
{
	struct fake *f = calloc(1, sizeof(*f));
	size_t sz;
	int zero = 0;

	assert_non_null(f);
	f->role = role;
	f->ctx = zmq_ctx_new();
	f->sock = zmq_socket(f->ctx, ZMQ_ROUTER);
	zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof(zero));
	assert_int_equal(zmq_bind(f->sock, "tcp://127.0.0.1:*"), 0);
	sz = sizeof(f->addr);
	zmq_getsockopt(f->sock, ZMQ_LAST_ENDPOINT, f->addr, &sz);
	pthread_mutex_init(&f->lock, NULL);
	f->next_client = 41;
	return f;
}

static void
fake_run(struct fake *f)
{
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void
fake_stop(struct fake *f)
{
	atomic_store(&f->stop, 1);
	pthread_join(f->thread, NULL);
	zmq_close(f->sock);
	zmq_ctx_term(f->ctx);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Requests of @type recorded by @f, copied to @out (at most @max). */
static int
fake_records(struct fake *f, uint16_t type, struct fake_rec *out, int max)
{
	int n = 0;

	pthread_mutex_lock(&f->lock);
	for (int i = 0; i < f->n_rec && n < max; i++)
		if (f->rec[i].type == type)
			out[n++] = f->rec[i];
	pthread_mutex_unlock(&f->lock);
	return n;
}

static const struct mc_options fast = {
	.attempt_timeout_ms = 150, .deadline_ms = 3000, .lease_ms = 3000};

/* ---- tests ---------------------------------------------------------------- */

/* Opening against a follower first follows its redirect to the leader. */
static void
test_mc_open_follows_notleader_redirect(void **state)
{
	struct fake *leader = fake_start(FAKE_LEADER);
	struct fake *follower = fake_start(FAKE_FOLLOWER);
	char servers[160], err[CFS_ERRMSG_SIZE], where[300];
	struct mc *mc = NULL;

	snprintf(follower->leader, sizeof(follower->leader), "%s",
		 leader->addr + strlen("tcp://"));
	fake_run(leader);
	fake_run(follower);
	snprintf(servers, sizeof(servers), "%s", follower->addr);
	assert_int_equal(mc_open(&mc, servers, &fast, err), 0);
	assert_int_equal(mc_client_id(mc), 42);
	mc_leader(mc, where, sizeof(where));
	assert_string_equal(where, leader->addr);
	mc_close(&mc);
	assert_null(mc);
	fake_stop(follower);
	fake_stop(leader);
}

/* A request whose reply is lost is resent with the same client id and
 * sequence but a new request id: the server can deduplicate it. */
static void
test_mc_call_retry_keeps_client_id_and_sequence(void **state)
{
	struct fake *leader = fake_start(FAKE_LEADER);
	char err[CFS_ERRMSG_SIZE];
	struct wire_attr a;
	struct fake_rec r[8];
	struct mc *mc = NULL;

	leader->drop_mknod = 2;
	fake_run(leader);
	assert_int_equal(mc_open(&mc, leader->addr, &fast, err), 0);
	assert_int_equal(mc_create(mc, 1, "f", 0644, &a, err), 0);
	assert_int_equal(fake_records(leader, WIRE_T_mknod, r, 8), 3);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(r[i].client_id, r[0].client_id);
		assert_int_equal(r[i].sequence, r[0].sequence);
		assert_true(r[i].request_id != r[i - 1].request_id);
	}
	assert_int_equal(a.ino, 1000 + r[0].sequence);
	assert_int_equal(a.mode, S_IFREG | 0644);
	mc_close(&mc);
	fake_stop(leader);
}

/* Each logical request gets the next sequence number. */
static void
test_mc_call_advances_sequence_per_request(void **state)
{
	struct fake *leader = fake_start(FAKE_LEADER);
	char err[CFS_ERRMSG_SIZE];
	struct fake_rec r[8];
	struct mc *mc = NULL;

	fake_run(leader);
	assert_int_equal(mc_open(&mc, leader->addr, &fast, err), 0);
	assert_int_equal(mc_mkdir(mc, 1, "a", 0755, NULL, err), 0);
	assert_int_equal(mc_mkdir(mc, 1, "b", 0755, NULL, err), 0);
	assert_int_equal(fake_records(leader, WIRE_T_mknod, r, 8), 2);
	assert_int_equal(r[0].sequence, 1);
	assert_int_equal(r[1].sequence, 2);
	assert_int_equal(r[0].client_id, 42);
	mc_close(&mc);
	fake_stop(leader);
}

/* A reply carrying another request id is dropped, not taken as ours. */
static void
test_mc_call_drops_stale_reply(void **state)
{
	struct fake *leader = fake_start(FAKE_LEADER);
	char err[CFS_ERRMSG_SIZE];
	struct wire_attr a;
	struct mc *mc = NULL;

	leader->stale_first = 1;
	fake_run(leader);
	assert_int_equal(mc_open(&mc, leader->addr, &fast, err), 0);
	assert_int_equal(mc_create(mc, 1, "f", 0600, &a, err), 0);
	assert_int_equal(a.ino, 1001);
	mc_close(&mc);
	fake_stop(leader);
}

/* A server's error reaches the caller as its code and its message. */
static void
test_mc_call_returns_server_error_and_message(void **state)
{
	struct fake *leader = fake_start(FAKE_LEADER);
	char err[CFS_ERRMSG_SIZE];
	struct mc *mc = NULL;

	fake_run(leader);
	assert_int_equal(mc_open(&mc, leader->addr, &fast, err), 0);
	assert_int_equal(mc_lookup(mc, 1, "nothing", NULL, err), CFS_ENOENT);
	assert_string_equal(err, "lookup 1/nothing: no such file or directory");
	mc_close(&mc);
	fake_stop(leader);
}

/* With nobody listening, the call gives up at its deadline and names
 * every address it tried. */
static void
test_mc_call_times_out_naming_addresses(void **state)
{
	struct fake *a = fake_start(FAKE_LEADER); /* bound, never served */
	struct mc_options o = fast;
	char err[CFS_ERRMSG_SIZE], servers[160];
	struct mc *mc = NULL;

	o.no_session = 1;
	o.deadline_ms = 400;
	snprintf(servers, sizeof(servers), "%s,127.0.0.1:1", a->addr);
	assert_int_equal(mc_open(&mc, servers, &o, err), 0);
	assert_int_equal(mc_getattr(mc, 1, NULL, err), CFS_ETIMEDOUT);
	assert_non_null(strstr(err, a->addr));
	assert_non_null(strstr(err, "tcp://127.0.0.1:1"));
	/* a read that went unanswered is not "outcome unknown" */
	assert_non_null(strstr(err, "getattr (not done)"));
	mc_close(&mc);
	atomic_store(&a->stop, 1);
	zmq_close(a->sock);
	zmq_ctx_term(a->ctx);
	free(a);
}

/* A mutation sent and never answered may have been applied: the error
 * says its outcome is unknown. */
static void
test_mc_call_unanswered_mutation_outcome_unknown(void **state)
{
	struct fake *leader = fake_start(FAKE_LEADER);
	struct mc_options o = fast;
	char err[CFS_ERRMSG_SIZE];
	struct mc *mc = NULL;

	o.deadline_ms = 400;
	leader->drop_mknod = 1000;
	fake_run(leader);
	assert_int_equal(mc_open(&mc, leader->addr, &o, err), 0);
	assert_int_equal(mc_mkdir(mc, 1, "d", 0755, NULL, err),
			 CFS_ETIMEDOUT);
	assert_non_null(strstr(err, "mknod (outcome unknown)"));
	mc_close(&mc);
	fake_stop(leader);
}

struct canceler {
	struct mc *mc;
	int after_ms;
};

static void *
cancel_later(void *arg)
{
	struct canceler *c = arg;
	struct timespec ts = {0, (long)c->after_ms * 1000000L};

	nanosleep(&ts, NULL);
	mc_cancel(c->mc);
	return NULL;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A call parked waiting for an answer that never comes ends soon after
 * another thread cancels it, not at its deadline; so does every later
 * call; mc_close still closes the session. */
static void
test_mc_cancel_ends_a_waiting_call(void **state)
{
	struct fake *leader = fake_start(FAKE_LEADER);
	struct mc_options o = fast;
	char err[CFS_ERRMSG_SIZE];
	struct mc *mc = NULL;
	pthread_t t;

	o.attempt_timeout_ms = 5000;
	o.deadline_ms = 10000;
	leader->drop_mknod = 1000;
	fake_run(leader);
	assert_int_equal(mc_open(&mc, leader->addr, &o, err), 0);
	struct canceler c = {mc, 200};
	assert_int_equal(pthread_create(&t, NULL, cancel_later, &c), 0);
	int64_t t0 = now_ms();
	assert_int_equal(mc_mkdir(mc, 1, "d", 0755, NULL, err), CFS_CANCELED);
	int64_t took = now_ms() - t0;
	pthread_join(t, NULL);
	assert_true(took >= 150 && took < 1000);
	assert_non_null(strstr(err, "canceled"));
	assert_int_equal(mc_getattr(mc, 1, NULL, err), CFS_CANCELED);
	mc_close(&mc);
	struct fake_rec r[4];
	assert_int_equal(fake_records(leader, WIRE_T_session_close, r, 4), 1);
	fake_stop(leader);
}

/* mc_set_deadline bounds later calls made without a timeout of their
 * own, and gives back the deadline it replaced. */
static void
test_mc_set_deadline_bounds_later_calls(void **state)
{
	struct fake *leader = fake_start(FAKE_LEADER);
	struct mc_options o = fast;
	char err[CFS_ERRMSG_SIZE];
	struct mc *mc = NULL;

	o.deadline_ms = 10000;
	leader->drop_mknod = 1000;
	fake_run(leader);
	assert_int_equal(mc_open(&mc, leader->addr, &o, err), 0);
	assert_int_equal(mc_set_deadline(mc, 300), 10000);
	int64_t t0 = now_ms();
	assert_int_equal(mc_mkdir(mc, 1, "d", 0755, NULL, err),
			 CFS_ETIMEDOUT);
	int64_t took = now_ms() - t0;
	assert_true(took >= 250 && took < 2000);
	assert_int_equal(mc_set_deadline(mc, 10000), 300);
	assert_int_equal(mc_set_deadline(mc, 0), 10000); /* 0: unchanged */
	mc_close(&mc);
	fake_stop(leader);
}

/* Where every connection is refused, nothing was sent: the error says
 * the request never reached a server and why. */
static void
test_mc_open_refused_never_reached_a_server(void **state)
{
	struct mc_options o = fast;
	char err[CFS_ERRMSG_SIZE];
	struct mc *mc = NULL;

	o.deadline_ms = 300;
	assert_int_equal(mc_open(&mc, "127.0.0.1:1", &o, err), CFS_ETIMEDOUT);
	assert_null(mc);
	assert_non_null(strstr(err, "never reached a server"));
	assert_non_null(strstr(err, "tcp://127.0.0.1:1: connection refused"));
	assert_null(strstr(err, "outcome unknown"));
}

struct notices {
	int n;
	char what[CFS_ERRMSG_SIZE];
	int left_ms;
};

static void
notice_record(void *arg, const char *what, int left_ms)
{
	struct notices *w = arg;

	w->n++;
	snprintf(w->what, sizeof(w->what), "%s", what);
	w->left_ms = left_ms;
}

/* A call that keeps waiting tells on_wait once, after notice_ms, what it
 * waits for and how much longer it will try. */
static void
test_mc_open_notices_wait_once(void **state)
{
	struct mc_options o = fast;
	struct notices w = {0};
	char err[CFS_ERRMSG_SIZE];
	struct mc *mc = NULL;

	o.deadline_ms = 600;
	o.notice_ms = 100;
	o.on_wait = notice_record;
	o.on_wait_arg = &w;
	assert_int_equal(mc_open(&mc, "127.0.0.1:1", &o, err), CFS_ETIMEDOUT);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.what, "no answer from tcp://127.0.0.1:1 yet"));
	assert_non_null(strstr(w.what, "connection refused"));
	assert_true(w.left_ms > 0 && w.left_ms <= 500);
}

/* ... and while servers answer that there is no leader, says that. */
static void
test_mc_open_notices_no_leader(void **state)
{
	struct fake *f = fake_start(FAKE_NOLEADER);
	struct mc_options o = fast;
	struct notices w = {0};
	char err[CFS_ERRMSG_SIZE];
	struct mc *mc = NULL;

	o.deadline_ms = 400;
	o.notice_ms = 100;
	o.on_wait = notice_record;
	o.on_wait_arg = &w;
	fake_run(f);
	assert_int_equal(mc_open(&mc, f->addr, &o, err), CFS_NOLEADER);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.what, "no metadata leader yet"));
	assert_non_null(strstr(err, "session_open (not done)"));
	fake_stop(f);
}

/* Servers that know of no leader make the call fail with NOLEADER. */
static void
test_mc_call_reports_noleader(void **state)
{
	struct fake *f = fake_start(FAKE_NOLEADER);
	struct mc_options o = fast;
	char err[CFS_ERRMSG_SIZE];
	struct mc *mc = NULL;

	o.deadline_ms = 300;
	fake_run(f);
	assert_int_equal(mc_open(&mc, f->addr, &o, err), CFS_NOLEADER);
	assert_null(mc);
	assert_non_null(strstr(err, f->addr));
	fake_stop(f);
}

/* A request refused for an unknown session was never applied: the client
 * opens a new session and sends it again under it. */
static void
test_mc_call_reopens_session_after_nosession(void **state)
{
	struct fake *leader = fake_start(FAKE_LEADER);
	char err[CFS_ERRMSG_SIZE];
	struct fake_rec r[8];
	struct mc *mc = NULL;

	leader->nosession_first = 1;
	fake_run(leader);
	assert_int_equal(mc_open(&mc, leader->addr, &fast, err), 0);
	assert_int_equal(mc_create(mc, 1, "f", 0644, NULL, err), 0);
	assert_int_equal(mc_client_id(mc), 43);
	assert_int_equal(fake_records(leader, WIRE_T_mknod, r, 8), 2);
	assert_int_equal(r[0].client_id, 42);
	assert_int_equal(r[1].client_id, 43);
	assert_int_equal(r[1].sequence, 1);
	mc_close(&mc);
	fake_stop(leader);
}

/* ---- creates answered ahead (client/acreate.c) ----------------------------- */

struct ahead_seen {
	pthread_mutex_t lock;
	int done, failed;
	uint64_t inos[64];
	struct mc *named[16], *closing[16]; /* sessions done() named, and
					     * those closing() was told of */
	int nnamed, nclosing;
};

static void
ahead_done(void *data, struct mc *mc, const struct acreate_req *r, int rv,
	   const struct wire_entry *e, const char *errmsg)
{
	struct ahead_seen *a = data;

	(void)errmsg;
	pthread_mutex_lock(&a->lock);
	int known = 0;
	for (int i = 0; i < a->nnamed; i++)
		known |= a->named[i] == mc;
	if (!known && a->nnamed < 16)
		a->named[a->nnamed++] = mc;
	if (rv != 0 || e == NULL || e->attr.ino != r->attr.ino)
		a->failed++;
	else if (a->done < 64)
		a->inos[a->done] = e->attr.ino;
	a->done++;
	pthread_mutex_unlock(&a->lock);
}

static void
ahead_closing(void *data, struct mc *mc)
{
	struct ahead_seen *a = data;

	pthread_mutex_lock(&a->lock);
	if (a->nclosing < 16)
		a->closing[a->nclosing++] = mc;
	pthread_mutex_unlock(&a->lock);
}

static const struct acreate_ops ahead_ops = {.done = ahead_done,
					     .closing = ahead_closing};

/* Queue @n creates through senders against @f; all of them must end,
 * committed with the numbers they were answered with. */
static void
creates_ahead(struct fake *f, int n)
{
	struct ahead_seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct acreate_options o = {.servers = f->addr,
				    .owner = 7,
				    .deadline_ms = 3000};
	char err[CFS_ERRMSG_SIZE];
	struct acreate *a = NULL;
	struct timespec ms = {0, 1000000};

	assert_int_equal(acreate_start(&a, &o, &ahead_ops, &seen, err), 0);
	for (int i = 0; i < n; i++) {
		struct acreate_req r;
		memset(&r, 0, sizeof(r));
		r.parent = 1;
		snprintf(r.name, sizeof(r.name), "f%d", i);
		r.lease_epoch = 9;
		r.attr.mode = S_IFREG | 0644;
		/* the first numbers come with the senders' first request */
		for (int t = 0; (r.attr.ino = acreate_ino(a)) == 0; t++) {
			assert_true(t < 3000);
			nanosleep(&ms, NULL);
		}
		acreate_queue(a, &r);
	}
	acreate_wait(a);
	struct acreate_stats st;
	acreate_stats(a, &st);
	assert_int_equal(st.committed, n);
	acreate_free(&a);
	assert_int_equal(seen.done, n);
	assert_int_equal(seen.failed, 0);
	for (int i = 0; i < n && i < 64; i++)
		assert_true(seen.inos[i] >= 5000 && seen.inos[i] < 5000 + 256);
	/* every session a grant came through was announced before it was
	 * closed (a mount's lease table stops looking at it) */
	assert_int_equal(seen.nclosing, 4);
	assert_true(seen.nnamed >= 1);
	for (int i = 0; i < seen.nnamed; i++) {
		int told = 0;
		for (int k = 0; k < seen.nclosing; k++)
			told |= seen.closing[k] == seen.named[i];
		assert_true(told);
	}
}

/* Creates queued while a request is in flight go in the next one: fewer
 * mknods than creates, and no mknod. */
static void
test_acreate_sends_creates_together(void **state)
{
	struct fake *leader = fake_start(FAKE_LEADER);
	struct fake_rec r[64];

	(void)state;
	fake_run(leader);
	creates_ahead(leader, 40);
	int batches = fake_records(leader, WIRE_T_mknods, r, 64);
	assert_true(batches >= 1 && batches < 40);
	assert_int_equal(fake_records(leader, WIRE_T_mknod, r, 64), 0);
	fake_stop(leader);
}

/* A leader that does not know mknods (BADTYPE) gets each create as a
 * mknod, the refused batch's too, and no mknods once one was refused
 * (the senders that sent one before that answer: at most all four). */
static void
test_acreate_falls_back_to_mknod(void **state)
{
	struct fake *leader = fake_start(FAKE_LEADER);
	struct fake_rec r[64];

	(void)state;
	leader->old_leader = 1;
	fake_run(leader);
	creates_ahead(leader, 12);
	int refused = fake_records(leader, WIRE_T_mknods, r, 64);
	assert_true(refused >= 1 && refused <= 4);
	assert_int_equal(fake_records(leader, WIRE_T_mknod, r, 64), 12);
	fake_stop(leader);
}

/* The keepalive thread renews the session without any call. */
static void
test_mc_keepalive_sent_while_idle(void **state)
{
	struct fake *leader = fake_start(FAKE_LEADER);
	struct mc_options o = fast;
	char err[CFS_ERRMSG_SIZE];
	struct fake_rec r[8];
	struct mc *mc = NULL;
	struct timespec ts = {0, 250 * 1000000};

	o.lease_ms = 3000; /* the fake grants 3000: one keepalive per 1 s */
	fake_run(leader);
	assert_int_equal(mc_open(&mc, leader->addr, &o, err), 0);
	nanosleep(&ts, NULL);
	assert_int_equal(fake_records(leader, WIRE_T_keepalive, r, 8), 0);
	ts.tv_sec = 1;
	ts.tv_nsec = 0;
	nanosleep(&ts, NULL);
	assert_true(fake_records(leader, WIRE_T_keepalive, r, 8) >= 1);
	assert_int_equal(r[0].client_id, 42);
	assert_int_equal(r[0].sequence, 0);
	mc_close(&mc);
	fake_stop(leader);
}

/* Malformed server lists are refused before any connection. */
static void
test_mc_open_rejects_bad_address(void **state)
{
	char err[CFS_ERRMSG_SIZE];
	struct mc *mc = NULL;

	assert_int_equal(mc_open(&mc, "localhost", &fast, err), CFS_EINVAL);
	assert_non_null(strstr(err, "localhost"));
	assert_int_equal(mc_open(&mc, "", &fast, err), CFS_EINVAL);
	assert_null(mc);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mc_open_follows_notleader_redirect),
		cmocka_unit_test(test_mc_call_retry_keeps_client_id_and_sequence),
		cmocka_unit_test(test_mc_call_advances_sequence_per_request),
		cmocka_unit_test(test_mc_call_drops_stale_reply),
		cmocka_unit_test(test_mc_call_returns_server_error_and_message),
		cmocka_unit_test(test_mc_call_times_out_naming_addresses),
		cmocka_unit_test(test_mc_call_reports_noleader),
		cmocka_unit_test(test_mc_call_unanswered_mutation_outcome_unknown),
		cmocka_unit_test(test_mc_cancel_ends_a_waiting_call),
		cmocka_unit_test(test_mc_set_deadline_bounds_later_calls),
		cmocka_unit_test(test_mc_open_refused_never_reached_a_server),
		cmocka_unit_test(test_mc_open_notices_wait_once),
		cmocka_unit_test(test_mc_open_notices_no_leader),
		cmocka_unit_test(test_mc_call_reopens_session_after_nosession),
		cmocka_unit_test(test_acreate_sends_creates_together),
		cmocka_unit_test(test_acreate_falls_back_to_mknod),
		cmocka_unit_test(test_mc_keepalive_sent_while_idle),
		cmocka_unit_test(test_mc_open_rejects_bad_address),
	};

	if (argc > 1) /* run only the tests matching a pattern */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
