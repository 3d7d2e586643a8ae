/* test_service.c - the data node service on loopback: writes, chains, reads, copies, deletes, bad input. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw */
#endif
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "client/localread.h"
#include "client/nodeclient.h"
#include "common/crc32c.h"
#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "data/service.h"
#include "data/store.h"

/* ---- harness: real services on loopback, each with a temp store ---------- */

struct node {
	uint64_t id;
	char dir[64];
	char addr[256]; /* "127.0.0.1:PORT" */
	struct store *st;
	struct service *svc;
};

static int next_port;

/* What every node's node_where names as its uuid (with its own dir). */
#define NODE_UUID "0069356b-ee53-4e07-8610-e4de8f98ca7e"

/* Start a node with id @id; tries ports until one is free. */
static void
node_up(struct node *n, uint64_t id, int forward_timeout_ms)
{
	char err[CFS_ERRMSG_SIZE], listen[262];
	int rv = CFS_CONFIG;

	memset(n, 0, sizeof(*n));
	n->id = id;
	snprintf(n->dir, sizeof(n->dir), "/tmp/cfs-test-service-XXXXXX");
	assert_non_null(mkdtemp(n->dir));
	assert_int_equal(store_open(n->dir, &n->st, err), 0);
	if (next_port == 0)
		next_port = 20000 + (int)(getpid() % 20000);
	for (int tries = 0; rv == CFS_CONFIG && tries < 100; tries++) {
		int port = next_port++;
		snprintf(n->addr, sizeof(n->addr), "127.0.0.1:%d", port);
		snprintf(listen, sizeof(listen), "tcp://%s", n->addr);
		struct service_options o = {.listen = listen,
					    .workers = 4,
					    .forward_timeout_ms =
						    forward_timeout_ms,
					    .self_id = id,
					    .uuid = NODE_UUID,
					    .dir = n->dir};
		rv = service_start(&n->svc, n->st, &o, err);
	}
	assert_int_equal(rv, 0);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void
node_down(struct node *n)
{
	service_stop(&n->svc);
	assert_null(n->svc);
	store_close(&n->st);
	nftw(n->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct nc *
client(void)
{
	struct nc *nc = NULL;
	char err[CFS_ERRMSG_SIZE];

	assert_int_equal(nc_open(&nc, NULL, err), 0);
	return nc;
}

static uint8_t *
pattern(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n > 0 ? n : 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 31 + seed * 7 + (i >> 12)) & 0xff);
	return p;
}

/* A frag_write request with the given fields (freed by the caller). */
static struct wire_frag_write *
wreq(uint64_t ino, uint64_t idx, uint64_t version, uint64_t offset,
     uint64_t length)
{
	struct wire_frag_write *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->ino = ino;
	m->idx = idx;
	m->version = version;
	m->offset = offset;
	m->length = length;
	m->durable = 1;
	return m;
}

static void
chain_add(struct wire_frag_write *m, uint64_t id, const char *addr)
{
	m->chain[m->chain_count].id = id;
	snprintf(m->chain[m->chain_count].addr,
		 sizeof(m->chain[0].addr), "%s", addr);
	m->chain_count++;
}

/* Send @m + @data to @addr; returns the status, *out the frag_written. */
static int
do_write(struct nc *nc, const char *addr, const struct wire_frag_write *m,
	 const void *data, size_t n, struct wire_frag_written *out)
{
	char err[CFS_ERRMSG_SIZE];
	union wire_body *r = NULL;
	uint16_t type = 0;
	int rv = nc_call(nc, addr, WIRE_T_frag_write, m, data, n, 8000, &type,
			 &r, NULL, NULL, err);

	if (rv == 0) {
		assert_int_equal(type, WIRE_T_frag_written);
		*out = r->frag_written;
	}
	return rv;
}

/* Read the whole replica (up to @cap bytes) into a new buffer. */
static int
do_read(struct nc *nc, const char *addr, uint64_t ino, uint64_t idx,
	uint64_t version, uint64_t off, uint32_t len, uint8_t **buf,
	size_t *got, struct wire_frag_data *meta)
{
	struct wire_frag_read m = {.ino = ino, .idx = idx, .version = version,
				   .offset = off, .len = len};
	char err[CFS_ERRMSG_SIZE];
	union wire_body *r = NULL;
	const void *bulk = NULL;
	uint16_t type = 0;
	int rv = nc_call(nc, addr, WIRE_T_frag_read, &m, NULL, 0, 8000, &type,
			 &r, &bulk, got, err);

	if (rv != 0)
		return rv;
	assert_int_equal(type, WIRE_T_frag_data);
	*meta = r->frag_data;
	*buf = malloc(*got > 0 ? *got : 1);
	assert_non_null(*buf);
	if (*got > 0)
		memcpy(*buf, bulk, *got);
	return 0;
}

/* Assert that @addr holds exactly @want (n bytes) as replica ino/idx/v. */
static void
assert_replica(struct nc *nc, const char *addr, uint64_t ino, uint64_t idx,
	       uint64_t v, const uint8_t *want, size_t n)
{
	struct wire_frag_data meta;
	uint8_t *buf = NULL;
	size_t got = 0;

	assert_int_equal(do_read(nc, addr, ino, idx, v, 0, CFS_BULK_MAX, &buf,
				 &got, &meta),
			 0);
	assert_int_equal(got, n);
	assert_int_equal(meta.length, n);
	assert_int_equal(meta.crc, crc32c(0, want, n));
	assert_memory_equal(buf, want, n);
	free(buf);
}

/* ---- a fake next node: a ROUTER that answers frag_write as scripted ------ */

enum fake_mode { FAKE_WRONG_CRC, FAKE_ERROR, FAKE_SILENT };

struct fake {
	void *ctx, *sock;
	char addr[256];
	enum fake_mode mode;
	atomic_int stop, requests;
	pthread_t thread;
};

static void
fake_answer(struct fake *f, zmq_msg_t *ident, const uint8_t *buf, size_t len)
{
	struct wire_header h;
	union wire_body *b = calloc(1, sizeof(*b));
	union wire_body *r = calloc(1, sizeof(*r));
	char err[CFS_ERRMSG_SIZE];
	uint8_t *out = NULL;
	size_t outlen = 0;

	assert_int_equal(wire_decode(buf, len, &h, b, err), 0);
	h.flags = WIRE_F_REPLY;
	if (f->mode == FAKE_WRONG_CRC) {
		h.type = WIRE_T_frag_written;
		r->frag_written.length = b->frag_write.length;
		r->frag_written.crc = 0xdeadbeef;
	} else {
		h.type = WIRE_T_error;
		h.status = CFS_EIO;
		snprintf(r->error.message, sizeof(r->error.message),
			 "disk on fire");
	}
	assert_int_equal(wire_encode(&h, r, &out, &outlen, err), 0);
	zmq_send(f->sock, zmq_msg_data(ident), zmq_msg_size(ident),
		 ZMQ_SNDMORE);
	zmq_send(f->sock, out, outlen, 0);
	free(out);
	free(b);
	free(r);
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;

	while (!atomic_load(&f->stop)) {
		zmq_pollitem_t it = {f->sock, 0, ZMQ_POLLIN, 0};
		zmq_msg_t ident, frame, bulk;

		if (zmq_poll(&it, 1, 20) <= 0)
			continue;
		zmq_msg_init(&ident);
		zmq_msg_init(&frame);
		zmq_msg_init(&bulk);
		zmq_msg_recv(&ident, f->sock, 0);
		zmq_msg_recv(&frame, f->sock, 0);
		if (zmq_msg_more(&frame))
			zmq_msg_recv(&bulk, f->sock, 0);
		atomic_fetch_add(&f->requests, 1);
		if (f->mode != FAKE_SILENT)
			fake_answer(f, &ident, zmq_msg_data(&frame),
				    zmq_msg_size(&frame));
		zmq_msg_close(&ident);
		zmq_msg_close(&frame);
		zmq_msg_close(&bulk);
	}
	return NULL;
}

static struct fake *
fake_start(enum fake_mode mode)
{
	struct fake *f = calloc(1, sizeof(*f));
	char ep[262];
	size_t sz = sizeof(ep);
	int zero = 0;

	assert_non_null(f);
	f->mode = mode;
	f->ctx = zmq_ctx_new();
	f->sock = zmq_socket(f->ctx, ZMQ_ROUTER);
	zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof(zero));
	assert_int_equal(zmq_bind(f->sock, "tcp://127.0.0.1:*"), 0);
	zmq_getsockopt(f->sock, ZMQ_LAST_ENDPOINT, ep, &sz);
	snprintf(f->addr, sizeof(f->addr), "%s", ep + strlen("tcp://"));
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
	return f;
}

static void
fake_stop(struct fake *f)
{
	atomic_store(&f->stop, 1);
	pthread_join(f->thread, NULL);
	zmq_close(f->sock);
	zmq_ctx_term(f->ctx);
	free(f);
}

/* ---- raw exchanges, for input nodeclient would never send --------------- */

/* Send @nframes frames to @addr from a fresh DEALER; receive the reply's
 * frame 0 decoded into *h / *body.  Returns the number of reply frames. */
static int
raw_exchange(const char *addr, const void *f0, size_t l0, const void *f1,
	     size_t l1, int nframes, struct wire_header *h,
	     union wire_body *body)
{
	void *ctx = zmq_ctx_new();
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	char ep[262], err[CFS_ERRMSG_SIZE];
	int zero = 0, timeout = 5000, frames = 0;
	zmq_msg_t m;

	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	snprintf(ep, sizeof(ep), "tcp://%s", addr);
	assert_int_equal(zmq_connect(s, ep), 0);
	zmq_send(s, f0, l0, nframes > 1 ? ZMQ_SNDMORE : 0);
	if (nframes > 1)
		zmq_send(s, f1, l1, 0);
	zmq_msg_init(&m);
	assert_true(zmq_msg_recv(&m, s, 0) >= 0);
	frames = 1;
	assert_int_equal(wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), h,
				     body, err),
			 0);
	/* the replies here have no blob fields: nothing borrows from @m */
	while (zmq_msg_more(&m)) {
		zmq_msg_close(&m);
		zmq_msg_init(&m);
		zmq_msg_recv(&m, s, 0);
		frames++;
	}
	zmq_msg_close(&m);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return frames;
}

static char log_text[65536];

/* Capture log lines from here to log_capture_end(), into log_text. */
static FILE *
log_capture_begin(void)
{
	FILE *f = tmpfile();

	assert_non_null(f);
	cfs_log_set_stream(f);
	return f;
}

static void
log_capture_end(FILE *f)
{
	size_t n;

	cfs_log_set_stream(NULL);
	rewind(f);
	n = fread(log_text, 1, sizeof(log_text) - 1, f);
	log_text[n] = '\0';
	fclose(f);
}

/* ---- frag_write ------------------------------------------------------------ */

/* A write to one node stores the bytes; a read returns them, the length
 * and the CRC32C of the whole replica. */
static void
test_write_then_read_returns_bytes_length_and_crc(void **state)
{
	struct node a;
	struct nc *nc = client();
	uint8_t *data = pattern(100000, 1);
	struct wire_frag_write *m = wreq(12, 3, 7, 0, 100000);
	struct wire_frag_written out;

	node_up(&a, 1, 0);
	assert_int_equal(do_write(nc, a.addr, m, data, 100000, &out), 0);
	assert_int_equal(out.failed_node, 0);
	assert_int_equal(out.length, 100000);
	assert_int_equal(out.crc, crc32c(0, data, 100000));
	assert_replica(nc, a.addr, 12, 3, 7, data, 100000);
	free(m);
	free(data);
	nc_close(&nc);
	node_down(&a);
}

/* A patch starts from the base version cut to base_length, writes the
 * bulk at offset, then cuts or extends to length. */
static void
test_write_patches_base_cut_to_base_length_then_sized(void **state)
{
	struct node a;
	struct nc *nc = client();
	uint8_t *base = pattern(200000, 2), *patch = pattern(1000, 3);
	uint8_t *want = calloc(1, 250000);
	struct wire_frag_write *m = wreq(5, 0, 1, 0, 200000);
	struct wire_frag_written out;

	node_up(&a, 1, 0);
	assert_int_equal(do_write(nc, a.addr, m, base, 200000, &out), 0);
	/* v2: base cut to 150000, 1000 bytes at 140000, extended to 250000 */
	m->version = 2;
	m->base_version = 1;
	m->base_length = 150000;
	m->offset = 140000;
	m->length = 250000;
	assert_int_equal(do_write(nc, a.addr, m, patch, 1000, &out), 0);
	assert_int_equal(out.failed_node, 0);
	memcpy(want, base, 150000);
	memcpy(want + 140000, patch, 1000);
	assert_replica(nc, a.addr, 5, 0, 2, want, 250000);
	/* v3 from v2: base_length past length just cuts to length */
	m->version = 3;
	m->base_version = 2;
	m->base_length = 250000;
	m->offset = 0;
	m->length = 100;
	assert_int_equal(do_write(nc, a.addr, m, patch, 10, &out), 0);
	memcpy(want, patch, 10);
	assert_replica(nc, a.addr, 5, 0, 3, want, 100);
	free(m), free(base), free(patch), free(want);
	nc_close(&nc);
	node_down(&a);
}

/* A patch of a base this node does not hold fails locally with ENOENT,
 * naming this node (its id as set after registration). */
static void
test_write_with_missing_base_names_self_enoent(void **state)
{
	struct node a;
	struct nc *nc = client();
	struct wire_frag_write *m = wreq(5, 1, 4, 0, 10);
	struct wire_frag_written out;

	node_up(&a, 0, 0);
	service_set_id(a.svc, 41);
	m->base_version = 3;
	m->base_length = 10;
	assert_int_equal(do_write(nc, a.addr, m, "0123456789", 10, &out), 0);
	assert_int_equal(out.failed_node, 41);
	assert_int_equal(out.fail_status, CFS_ENOENT);
	assert_non_null(strstr(out.fail_message, "fragment 5/1 v4"));
	free(m);
	nc_close(&nc);
	node_down(&a);
}

/* A write down a chain of three nodes leaves the same replica on each. */
static void
test_write_down_chain_stores_every_replica(void **state)
{
	struct node a, b, c;
	struct nc *nc = client();
	uint8_t *data = pattern(3000000, 4);
	struct wire_frag_write *m = wreq(9, 2, 1, 0, 3000000);
	struct wire_frag_written out;

	node_up(&a, 1, 0);
	node_up(&b, 2, 0);
	node_up(&c, 3, 0);
	chain_add(m, b.id, b.addr);
	chain_add(m, c.id, c.addr);
	assert_int_equal(do_write(nc, a.addr, m, data, 3000000, &out), 0);
	assert_int_equal(out.failed_node, 0);
	assert_int_equal(out.crc, crc32c(0, data, 3000000));
	assert_replica(nc, a.addr, 9, 2, 1, data, 3000000);
	assert_replica(nc, b.addr, 9, 2, 1, data, 3000000);
	assert_replica(nc, c.addr, 9, 2, 1, data, 3000000);
	free(m), free(data);
	nc_close(&nc);
	node_down(&c);
	node_down(&b);
	node_down(&a);
}

/* Fencing (docs/leases.md): a node that saw write lease 12 of an inode
 * refuses a write under lease 11 of it (the writer lost its lease), naming
 * itself FENCED, and neither stores nor forwards it; newer and equal
 * epochs, writes under no lease and other inodes are taken.  Down a
 * chain, the node that saw the newer lease is the one named. */
static void
test_write_under_an_older_lease_is_fenced(void **state)
{
	struct node a, b;
	struct nc *nc = client();
	struct wire_frag_write *m = wreq(8, 0, 1, 0, 4);
	struct wire_frag_written out;
	uint8_t *buf = NULL;
	size_t got = 0;

	(void)state;
	node_up(&a, 1, 0);
	node_up(&b, 2, 0);
	m->lease_epoch = 12;
	assert_int_equal(do_write(nc, b.addr, m, "bbbb", 4, &out), 0);
	assert_int_equal(out.failed_node, 0);
	m->version = 2;
	m->lease_epoch = 11;
	assert_int_equal(do_write(nc, b.addr, m, "aaaa", 4, &out), 0);
	assert_int_equal(out.failed_node, b.id);
	assert_int_equal(out.fail_status, CFS_FENCED);
	assert_non_null(strstr(out.fail_message, "lease 12"));
	assert_int_equal(do_read(nc, b.addr, 8, 0, 2, 0, 4, &buf, &got, NULL),
			 CFS_ENOENT);
	/* a's first sight of the inode: taken there, fenced at b */
	m->version = 3;
	chain_add(m, b.id, b.addr);
	assert_int_equal(do_write(nc, a.addr, m, "aaaa", 4, &out), 0);
	assert_int_equal(out.failed_node, b.id);
	assert_int_equal(out.fail_status, CFS_FENCED);
	/* the newer holder, no lease, another inode: taken */
	m->chain_count = 0;
	m->version = 4;
	m->lease_epoch = 12;
	assert_int_equal(do_write(nc, b.addr, m, "cccc", 4, &out), 0);
	assert_int_equal(out.failed_node, 0);
	m->version = 5;
	m->lease_epoch = 0;
	assert_int_equal(do_write(nc, b.addr, m, "dddd", 4, &out), 0);
	assert_int_equal(out.failed_node, 0);
	m->ino = 9;
	m->lease_epoch = 3;
	assert_int_equal(do_write(nc, b.addr, m, "eeee", 4, &out), 0);
	assert_int_equal(out.failed_node, 0);
	/* a node without an id yet (restarted, not registered) that refuses
	 * names no node: the one before it names it by the chain's id */
	struct node c;
	node_up(&c, 0, 0);
	m->version = 6;
	m->lease_epoch = 4;
	assert_int_equal(do_write(nc, c.addr, m, "ffff", 4, &out), 0);
	m->version = 7;
	m->lease_epoch = 3;
	assert_int_equal(do_write(nc, c.addr, m, "gggg", 4, &out), 0);
	assert_int_equal(out.failed_node, 0);
	assert_int_equal(out.fail_status, CFS_FENCED);
	chain_add(m, 77, c.addr);
	m->version = 8;
	assert_int_equal(do_write(nc, a.addr, m, "hhhh", 4, &out), 0);
	assert_int_equal(out.failed_node, 77);
	assert_int_equal(out.fail_status, CFS_FENCED);
	free(m);
	nc_close(&nc);
	node_down(&c);
	node_down(&b);
	node_down(&a);
}

/* The next node not answering in time is the failed node; the local
 * replica is kept. */
static void
test_write_names_silent_next_node(void **state)
{
	struct node a;
	struct nc *nc = client();
	struct fake *f = fake_start(FAKE_SILENT);
	struct wire_frag_write *m = wreq(1, 0, 1, 0, 4);
	struct wire_frag_written out;

	node_up(&a, 1, 300);
	chain_add(m, 77, f->addr);
	assert_int_equal(do_write(nc, a.addr, m, "abcd", 4, &out), 0);
	assert_int_equal(out.failed_node, 77);
	assert_int_equal(out.fail_status, CFS_ETIMEDOUT);
	assert_int_equal(out.length, 4);
	assert_replica(nc, a.addr, 1, 0, 1, (const uint8_t *)"abcd", 4);
	free(m);
	nc_close(&nc);
	node_down(&a);
	fake_stop(f);
}

/* A failure further down the chain comes back as the far node reported
 * it, through every node before it. */
static void
test_write_passes_back_failure_from_further_down(void **state)
{
	struct node a, b;
	struct nc *nc = client();
	struct wire_frag_write *m = wreq(1, 1, 1, 0, 4);
	struct wire_frag_written out;

	node_up(&a, 1, 4000);
	node_up(&b, 2, 300);
	chain_add(m, b.id, b.addr);
	chain_add(m, 99, "127.0.0.1:1"); /* nobody listens there */
	assert_int_equal(do_write(nc, a.addr, m, "abcd", 4, &out), 0);
	assert_int_equal(out.failed_node, 99);
	assert_int_equal(out.fail_status, CFS_ECONNREFUSED);
	/* b forwards before it writes: with its successor unreachable it
	 * does not write at all (the writer picks a new chain anyway) */
	free(m);
	nc_close(&nc);
	node_down(&b);
	node_down(&a);
}

/* A next node whose replica has another CRC is failed as CORRUPT. */
static void
test_write_names_next_node_whose_replica_differs(void **state)
{
	struct node a;
	struct nc *nc = client();
	struct fake *f = fake_start(FAKE_WRONG_CRC);
	struct wire_frag_write *m = wreq(1, 2, 1, 0, 4);
	struct wire_frag_written out;

	node_up(&a, 1, 0);
	chain_add(m, 78, f->addr);
	assert_int_equal(do_write(nc, a.addr, m, "abcd", 4, &out), 0);
	assert_int_equal(out.failed_node, 78);
	assert_int_equal(out.fail_status, CFS_CORRUPT);
	assert_non_null(strstr(out.fail_message, "replica differs"));
	free(m);
	nc_close(&nc);
	node_down(&a);
	fake_stop(f);
}

/* A next node answering an error is failed with that error. */
static void
test_write_names_next_node_that_answers_error(void **state)
{
	struct node a;
	struct nc *nc = client();
	struct fake *f = fake_start(FAKE_ERROR);
	struct wire_frag_write *m = wreq(1, 3, 1, 0, 4);
	struct wire_frag_written out;

	node_up(&a, 1, 0);
	chain_add(m, 79, f->addr);
	assert_int_equal(do_write(nc, a.addr, m, "abcd", 4, &out), 0);
	assert_int_equal(out.failed_node, 79);
	assert_int_equal(out.fail_status, CFS_EIO);
	assert_non_null(strstr(out.fail_message, "disk on fire"));
	free(m);
	nc_close(&nc);
	node_down(&a);
	fake_stop(f);
}

/* Requests no replica could satisfy are refused with EINVAL, and nothing
 * is forwarded. */
static void
test_write_refuses_impossible_requests(void **state)
{
	struct node a;
	struct nc *nc = client();
	struct fake *f = fake_start(FAKE_ERROR);
	struct wire_frag_write *m = wreq(1, 0, 1, 8, 10);
	struct wire_frag_written out;

	node_up(&a, 1, 0);
	chain_add(m, 79, f->addr);
	/* bulk past length */
	assert_int_equal(do_write(nc, a.addr, m, "abcd", 4, &out), CFS_EINVAL);
	/* index over 32 bits, version 0, length over the bulk limit */
	m->offset = 0;
	m->idx = 1ull << 32;
	assert_int_equal(do_write(nc, a.addr, m, "abcd", 4, &out), CFS_EINVAL);
	m->idx = 0;
	m->version = 0;
	assert_int_equal(do_write(nc, a.addr, m, "abcd", 4, &out), CFS_EINVAL);
	m->version = 1;
	m->length = (uint64_t)CFS_BULK_MAX + 1;
	assert_int_equal(do_write(nc, a.addr, m, "abcd", 4, &out), CFS_EINVAL);
	/* offset near 2^64: no wrap-around */
	m->length = 10;
	m->offset = UINT64_MAX - 1;
	assert_int_equal(do_write(nc, a.addr, m, "abcd", 4, &out), CFS_EINVAL);
	assert_int_equal(atomic_load(&f->requests), 0);
	free(m);
	nc_close(&nc);
	node_down(&a);
	fake_stop(f);
}

/* ---- frag_read ------------------------------------------------------------- */

/* A read at the end has no bulk frame; a short read at the end is short;
 * a missing replica is ENOENT. */
static void
test_read_at_end_is_empty_and_missing_is_enoent(void **state)
{
	struct node a;
	struct nc *nc = client();
	struct wire_frag_write *m = wreq(2, 0, 1, 0, 10);
	struct wire_frag_written out;
	struct wire_frag_data meta;
	uint8_t *buf = NULL;
	size_t got = 99;

	node_up(&a, 1, 0);
	assert_int_equal(do_write(nc, a.addr, m, "0123456789", 10, &out), 0);
	assert_int_equal(do_read(nc, a.addr, 2, 0, 1, 10, 100, &buf, &got,
				 &meta),
			 0);
	assert_int_equal(got, 0);
	assert_int_equal(meta.length, 10);
	free(buf);
	assert_int_equal(do_read(nc, a.addr, 2, 0, 1, 6, 100, &buf, &got,
				 &meta),
			 0);
	assert_int_equal(got, 4);
	assert_memory_equal(buf, "6789", 4);
	free(buf);
	assert_int_equal(do_read(nc, a.addr, 2, 0, 2, 0, 100, &buf, &got,
				 &meta),
			 CFS_ENOENT);
	assert_int_equal(do_read(nc, a.addr, 2, 0, 1, 0, CFS_BULK_MAX + 1,
				 &buf, &got, &meta),
			 CFS_EINVAL);
	free(m);
	nc_close(&nc);
	node_down(&a);
}

/* ---- frag_copy ------------------------------------------------------------- */

static int
do_copy(struct nc *nc, const char *addr, uint64_t ino, uint64_t idx,
	uint64_t v, uint64_t length, uint32_t crc, uint64_t src_id,
	const char *src_addr, uint64_t stamp, char *err)
{
	struct wire_frag_copy m = {.ino = ino, .idx = idx, .version = v,
				   .length = length, .crc = crc,
				   .stamp = stamp};
	union wire_body *r = NULL;
	uint16_t type = 0;
	int rv;

	m.source.id = src_id;
	snprintf(m.source.addr, sizeof(m.source.addr), "%s", src_addr);
	rv = nc_call(nc, addr, WIRE_T_frag_copy, &m, NULL, 0, 20000, &type,
		     &r, NULL, NULL, err);
	if (rv == 0) {
		assert_int_equal(type, WIRE_T_frag_written);
		assert_int_equal(r->frag_written.length, length);
		assert_int_equal(r->frag_written.crc, crc);
	}
	return rv;
}

/* A copy pulls the replica from the source in 4 MiB pieces; asked again,
 * it succeeds without the source. */
static void
test_copy_pulls_replica_then_is_idempotent(void **state)
{
	struct node a, b;
	struct nc *nc = client();
	size_t n = 9u << 20; /* three pieces, the last one short */
	uint8_t *data = pattern(n, 5);
	struct wire_frag_write *m = wreq(3, 4, 5, 0, n);
	struct wire_frag_written out;
	char err[CFS_ERRMSG_SIZE];

	node_up(&a, 1, 0);
	node_up(&b, 2, 0);
	assert_int_equal(do_write(nc, a.addr, m, data, n, &out), 0);
	assert_int_equal(do_copy(nc, b.addr, 3, 4, 5, n, out.crc, a.id,
				 a.addr, 7, err),
			 0);
	assert_replica(nc, b.addr, 3, 4, 5, data, n);
	assert_int_equal(do_copy(nc, b.addr, 3, 4, 5, n, out.crc, 9,
				 "127.0.0.1:1", 7, err),
			 0);
	free(m), free(data);
	nc_close(&nc);
	node_down(&b);
	node_down(&a);
}

/* A copy whose source holds another replica than asked fails CORRUPT and
 * leaves nothing behind; a missing source replica is ENOENT. */
static void
test_copy_of_other_replica_is_corrupt_and_leaves_nothing(void **state)
{
	struct node a, b;
	struct nc *nc = client();
	struct wire_frag_write *m = wreq(3, 5, 1, 0, 4);
	struct wire_frag_written out;
	struct wire_frag_data meta;
	char err[CFS_ERRMSG_SIZE];
	uint8_t *buf = NULL;
	size_t got;

	node_up(&a, 1, 0);
	node_up(&b, 2, 0);
	assert_int_equal(do_write(nc, a.addr, m, "abcd", 4, &out), 0);
	assert_int_equal(do_copy(nc, b.addr, 3, 5, 1, 4, out.crc ^ 1, a.id,
				 a.addr, 7, err),
			 CFS_CORRUPT);
	assert_non_null(strstr(err, "fragment 3/5 v1"));
	assert_int_equal(do_read(nc, b.addr, 3, 5, 1, 0, 10, &buf, &got,
				 &meta),
			 CFS_ENOENT);
	assert_int_equal(do_copy(nc, b.addr, 3, 5, 2, 4, out.crc, a.id,
				 a.addr, 7, err),
			 CFS_ENOENT);
	free(m);
	nc_close(&nc);
	node_down(&b);
	node_down(&a);
}

/* ---- frag_delete ----------------------------------------------------------- */

static int
do_delete(struct nc *nc, const char *addr, uint64_t ino, uint64_t idx,
	  uint64_t v, uint64_t stamp)
{
	struct wire_frag_delete m = {.ino = ino, .idx = idx, .version = v,
				     .stamp = stamp};
	char err[CFS_ERRMSG_SIZE];
	uint16_t type = 0;
	int rv = nc_call(nc, addr, WIRE_T_frag_delete, &m, NULL, 0, 5000,
			 &type, NULL, NULL, NULL, err);

	if (rv == 0)
		assert_int_equal(type, WIRE_T_ok);
	return rv;
}

/* Deleting removes the replica; deleting it again is still ok. */
static void
test_delete_removes_and_missing_is_ok(void **state)
{
	struct node a;
	struct nc *nc = client();
	struct wire_frag_write *m = wreq(4, 0, 1, 0, 4);
	struct wire_frag_written out;
	struct wire_frag_data meta;
	uint8_t *buf = NULL;
	size_t got;

	node_up(&a, 1, 0);
	assert_int_equal(do_write(nc, a.addr, m, "abcd", 4, &out), 0);
	assert_int_equal(do_delete(nc, a.addr, 4, 0, 1, 0), 0);
	assert_int_equal(do_read(nc, a.addr, 4, 0, 1, 0, 4, &buf, &got,
				 &meta),
			 CFS_ENOENT);
	assert_int_equal(do_delete(nc, a.addr, 4, 0, 1, 0), 0);
	free(m);
	nc_close(&nc);
	node_down(&a);
}

/* SPIN finding 1 (docs/model-spin.md): a frag_delete of one incarnation
 * that arrives after repair copied the same version back (a new stamp)
 * leaves the new copy; a copy of the same bytes under a new stamp is not
 * "already here" (it pulls again, so the source must answer); the delete
 * of the current incarnation removes it. */
static void
test_delete_with_an_old_stamp_after_a_new_copy_keeps_it(void **state)
{
	struct node a, b;
	struct nc *nc = client();
	struct wire_frag_write *m = wreq(6, 1, 2, 0, 5);
	struct wire_frag_written out;
	struct wire_frag_data meta;
	char err[CFS_ERRMSG_SIZE];
	uint8_t *buf = NULL;
	size_t got;

	node_up(&a, 1, 0);
	node_up(&b, 2, 0);
	assert_int_equal(do_write(nc, a.addr, m, "hello", 5, &out), 0);
	/* copy A, its delete, the copy back as B */
	assert_int_equal(do_copy(nc, b.addr, 6, 1, 2, 5, out.crc, a.id, a.addr,
				 0xA, err),
			 0);
	assert_int_equal(do_delete(nc, b.addr, 6, 1, 2, 0xA), 0);
	assert_int_equal(do_read(nc, b.addr, 6, 1, 2, 0, 5, &buf, &got,
				 &meta),
			 CFS_ENOENT);
	assert_int_equal(do_copy(nc, b.addr, 6, 1, 2, 5, out.crc, a.id, a.addr,
				 0xB, err),
			 0);
	/* the stale delete of A, resent or late, and one of a client's
	 * stamp-0 file: B stays */
	assert_int_equal(do_delete(nc, b.addr, 6, 1, 2, 0xA), 0);
	assert_int_equal(do_delete(nc, b.addr, 6, 1, 2, 0), 0);
	assert_replica(nc, b.addr, 6, 1, 2, (const uint8_t *)"hello", 5);
	/* the same bytes as incarnation C must be pulled: no source, fails */
	assert_int_not_equal(do_copy(nc, b.addr, 6, 1, 2, 5, out.crc, 9,
				     "127.0.0.1:1", 0xC, err),
			     0);
	assert_replica(nc, b.addr, 6, 1, 2, (const uint8_t *)"hello", 5);
	/* a retry of B is idempotent without the source */
	assert_int_equal(do_copy(nc, b.addr, 6, 1, 2, 5, out.crc, 9,
				 "127.0.0.1:1", 0xB, err),
			 0);
	assert_int_equal(do_delete(nc, b.addr, 6, 1, 2, 0xB), 0);
	assert_int_equal(do_read(nc, b.addr, 6, 1, 2, 0, 5, &buf, &got,
				 &meta),
			 CFS_ENOENT);
	/* the client's own file on a is stamp 0 */
	assert_int_equal(do_delete(nc, a.addr, 6, 1, 2, 0xB), 0);
	assert_replica(nc, a.addr, 6, 1, 2, (const uint8_t *)"hello", 5);
	assert_int_equal(do_delete(nc, a.addr, 6, 1, 2, 0), 0);
	assert_int_equal(do_read(nc, a.addr, 6, 1, 2, 0, 5, &buf, &got,
				 &meta),
			 CFS_ENOENT);
	free(m);
	nc_close(&nc);
	node_down(&b);
	node_down(&a);
}

/* ---- bad input --------------------------------------------------------------- */

/* Garbage is answered MALFORMED and logged naming the peer; a request
 * that is not a data node's is BADTYPE with its request id; a bulk flag
 * without a bulk frame is MALFORMED; the node keeps serving. */
static void
test_bad_requests_are_answered_and_node_keeps_serving(void **state)
{
	struct node a;
	struct nc *nc = client();
	union wire_body *body = calloc(1, sizeof(*body));
	struct wire_header h = {.type = WIRE_T_statfs, .request_id = 77}, rh;
	struct wire_frag_delete del = {.ino = 1, .version = 1};
	char err[CFS_ERRMSG_SIZE];
	uint8_t *frame = NULL;
	size_t len = 0;
	FILE *logf;

	node_up(&a, 1, 0);
	logf = log_capture_begin();
	raw_exchange(a.addr, "hello", 5, NULL, 0, 1, &rh, body);
	log_capture_end(logf);
	assert_int_equal(rh.type, WIRE_T_error);
	assert_int_equal(rh.status, CFS_MALFORMED);
	assert_true(rh.flags & WIRE_F_REPLY);
	assert_non_null(strstr(log_text, "peer 127.0.0.1"));

	assert_int_equal(wire_encode(&h, body, &frame, &len, err), 0);
	raw_exchange(a.addr, frame, len, NULL, 0, 1, &rh, body);
	assert_int_equal(rh.status, CFS_BADTYPE);
	assert_int_equal(rh.request_id, 77);
	free(frame);

	h.type = WIRE_T_frag_delete;
	h.flags = WIRE_F_BULK;
	assert_int_equal(wire_encode(&h, &del, &frame, &len, err), 0);
	raw_exchange(a.addr, frame, len, NULL, 0, 1, &rh, body);
	assert_int_equal(rh.status, CFS_MALFORMED);
	/* and a bulk frame on a request that takes none */
	raw_exchange(a.addr, frame, len, "x", 1, 2, &rh, body);
	assert_int_equal(rh.status, CFS_MALFORMED);
	free(frame);

	assert_int_equal(do_delete(nc, a.addr, 1, 0, 1, 0), 0);
	free(body);
	nc_close(&nc);
	node_down(&a);
}

/* ---- concurrency, stats, stop ------------------------------------------------ */

struct writer_arg {
	const char *addr;
	unsigned seed;
	int rv;
	uint32_t crc;
};

static void *
writer_main(void *arg)
{
	struct writer_arg *wa = arg;
	struct nc *nc = NULL;
	char err[CFS_ERRMSG_SIZE];
	uint8_t *data = pattern(1u << 20, wa->seed);
	struct wire_frag_write *m = wreq(6, 0, 1, 0, 1u << 20);
	struct wire_frag_written out;

	nc_open(&nc, NULL, err);
	wa->rv = 0;
	for (int i = 0; i < 5 && wa->rv == 0; i++) {
		m->version = 1 + (uint64_t)i;
		wa->rv = do_write(nc, wa->addr, m, data, 1u << 20, &out);
		if (wa->rv == 0 && out.failed_node != 0)
			wa->rv = (int)out.fail_status;
	}
	wa->crc = crc32c(0, data, 1u << 20);
	free(m), free(data);
	nc_close(&nc);
	return NULL;
}

/* Writers racing on the same keys all succeed and each replica is one
 * writer's data, whole; afterwards no request is in progress. */
static void
test_concurrent_writes_of_same_keys_leave_whole_replicas(void **state)
{
	struct node a;
	struct nc *nc = client();
	struct writer_arg wa[6];
	pthread_t t[6];
	uint32_t load = 9, io = 9;

	node_up(&a, 1, 0);
	for (int i = 0; i < 6; i++) {
		wa[i] = (struct writer_arg){.addr = a.addr, .seed = 10 + i};
		pthread_create(&t[i], NULL, writer_main, &wa[i]);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(wa[i].rv, 0);
	}
	for (uint64_t v = 1; v <= 5; v++) {
		struct wire_frag_data meta;
		uint8_t *buf = NULL;
		size_t got = 0;
		int match = 0;
		assert_int_equal(do_read(nc, a.addr, 6, 0, v, 0, 1u << 20,
					 &buf, &got, &meta),
				 0);
		for (int i = 0; i < 6; i++)
			match |= meta.crc == wa[i].crc;
		assert_true(match);
		assert_int_equal(crc32c(0, buf, got), meta.crc);
		free(buf);
	}
	/* a worker counts its request done just after sending the reply */
	for (int i = 0; i < 100; i++) {
		service_stats(a.svc, &load, &io);
		if (load == 0)
			break;
		usleep(10000);
	}
	assert_int_equal(load, 0);
	assert_int_equal(io, 0);
	nc_close(&nc);
	node_down(&a);
}

struct stuck_arg {
	const char *addr;
	const char *next;
	int rv;
};

static void *
stuck_main(void *arg)
{
	struct stuck_arg *sa = arg;
	struct nc *nc = NULL;
	char err[CFS_ERRMSG_SIZE];
	struct wire_frag_write *m = wreq(7, 0, 1, 0, 4);

	nc_open(&nc, NULL, err);
	chain_add(m, 80, sa->next);
	sa->rv = nc_call(nc, sa->addr, WIRE_T_frag_write, m, "abcd", 4, 2000,
			 NULL, NULL, NULL, NULL, err);
	free(m);
	nc_close(&nc);
	return NULL;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A request waiting for its chain counts in the load, and stopping the
 * service does not wait for it. */
static void
test_stop_does_not_wait_for_forward_in_flight(void **state)
{
	struct node a;
	struct fake *f = fake_start(FAKE_SILENT);
	struct stuck_arg sa;
	pthread_t t;
	uint32_t load = 0;
	int64_t t0;

	node_up(&a, 1, 60000);
	sa = (struct stuck_arg){.addr = a.addr, .next = f->addr};
	pthread_create(&t, NULL, stuck_main, &sa);
	for (int i = 0; i < 200 && atomic_load(&f->requests) == 0; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&f->requests), 1);
	service_stats(a.svc, &load, NULL);
	assert_int_equal(load, 1);
	t0 = mono_ms();
	node_down(&a);
	assert_true(mono_ms() - t0 < 2000);
	pthread_join(t, NULL);
	assert_int_not_equal(sa.rv, 0); /* its reply is lost: timeout */
	fake_stop(f);
}

/* Binding an address in use is CFS_CONFIG and leaves nothing running. */
static void
test_start_on_address_in_use_is_config(void **state)
{
	struct node a;
	struct service *s = NULL;
	char err[CFS_ERRMSG_SIZE], listen[262];

	node_up(&a, 1, 0);
	snprintf(listen, sizeof(listen), "%s", a.addr); /* no tcp:// */
	struct service_options o = {.listen = listen};
	assert_int_equal(service_start(&s, a.st, &o, err), CFS_CONFIG);
	assert_null(s);
	assert_non_null(strstr(err, a.addr));
	node_down(&a);
}

/* ---- patching in place ------------------------------------------------------ */

/* The frag_write of a patch in place of version @v (@len bytes) of
 * (ino 30, idx 0): @n bytes at @off, under lease @epoch. */
static struct wire_frag_write *
inplace_req(uint64_t v, uint64_t len, uint64_t off, uint64_t epoch)
{
	struct wire_frag_write *m = wreq(30, 0, v, off, len);

	m->base_version = v;
	m->base_length = len;
	m->in_place = 1;
	m->lease_epoch = epoch;
	return m;
}

/* frag_read of length and crc only (len 0) of (30, 0, @v), fencing @fence. */
static int
survey(struct nc *nc, const char *addr, uint64_t v, uint64_t fence,
       struct wire_frag_data *meta, size_t *got)
{
	struct wire_frag_read m = {.ino = 30, .idx = 0, .version = v,
				   .fence_epoch = fence};
	char err[CFS_ERRMSG_SIZE];
	union wire_body *r = NULL;
	const void *bulk = NULL;
	uint16_t type = 0;
	int rv = nc_call(nc, addr, WIRE_T_frag_read, &m, NULL, 0, 8000, &type,
			 &r, &bulk, got, err);

	if (rv == 0) {
		assert_int_equal(type, WIRE_T_frag_data);
		*meta = r->frag_data;
	}
	return rv;
}

/* A patch in place changes the version's bytes on every node, sent to
 * each (as the client does) or down a chain, and answers the new crc. */
static void
test_write_in_place_patches_the_version_on_each_node(void **state)
{
	struct node a, b;
	struct nc *nc = client();
	const size_t len = 200000;
	uint8_t *want = pattern(len, 30), *p = pattern(3000, 31);
	struct wire_frag_write *m = wreq(30, 0, 4, 0, len);
	struct wire_frag_written out;

	(void)state;
	node_up(&a, 1, 0);
	node_up(&b, 2, 0);
	chain_add(m, b.id, b.addr);
	assert_int_equal(do_write(nc, a.addr, m, want, len, &out), 0);
	assert_int_equal(out.failed_node, 0);
	free(m);
	/* to each node, no chain */
	m = inplace_req(4, len, 65000, 5);
	memcpy(want + 65000, p, 1000);
	assert_int_equal(do_write(nc, a.addr, m, p, 1000, &out), 0);
	assert_int_equal(out.failed_node, 0);
	assert_int_equal(out.length, len);
	assert_int_equal(out.crc, crc32c(0, want, len));
	assert_int_equal(do_write(nc, b.addr, m, p, 1000, &out), 0);
	assert_int_equal(out.failed_node, 0);
	assert_int_equal(out.crc, crc32c(0, want, len));
	/* down a chain */
	m->offset = len - 3000;
	chain_add(m, b.id, b.addr);
	memcpy(want + len - 3000, p, 3000);
	assert_int_equal(do_write(nc, a.addr, m, p, 3000, &out), 0);
	assert_int_equal(out.failed_node, 0);
	assert_int_equal(out.crc, crc32c(0, want, len));
	assert_replica(nc, a.addr, 30, 0, 4, want, len);
	assert_replica(nc, b.addr, 30, 0, 4, want, len);
	free(m), free(want), free(p);
	nc_close(&nc);
	node_down(&b);
	node_down(&a);
}

/* A frag_write in place that is not one is an error reply (nothing
 * forwarded); a node without the version names itself ENOENT, one whose
 * replica has another length ESTALE, and an older lease is FENCED. */
static void
test_write_in_place_refusals(void **state)
{
	struct node a;
	struct nc *nc = client();
	struct fake *f = fake_start(FAKE_ERROR);
	struct wire_frag_write *m = wreq(30, 0, 4, 0, 100);
	struct wire_frag_written out;
	uint8_t *v = pattern(100, 32);

	(void)state;
	node_up(&a, 1, 0);
	assert_int_equal(do_write(nc, a.addr, m, v, 100, &out), 0);
	free(m);
	m = inplace_req(4, 100, 0, 7);
	chain_add(m, 79, f->addr);
	m->base_version = 3;
	assert_int_equal(do_write(nc, a.addr, m, "x", 1, &out), CFS_EINVAL);
	m->base_version = 4;
	m->base_length = 99;
	assert_int_equal(do_write(nc, a.addr, m, "x", 1, &out), CFS_EINVAL);
	m->base_length = 100;
	m->durable = 0;
	assert_int_equal(do_write(nc, a.addr, m, "x", 1, &out), CFS_EINVAL);
	m->durable = 1;
	m->offset = 99;
	assert_int_equal(do_write(nc, a.addr, m, "xy", 2, &out), CFS_EINVAL);
	m->offset = UINT64_MAX;
	assert_int_equal(do_write(nc, a.addr, m, "xy", 2, &out), CFS_EINVAL);
	m->offset = 0;
	m->in_place = 2;
	assert_int_equal(do_write(nc, a.addr, m, "x", 1, &out), CFS_EINVAL);
	m->in_place = 1;
	m->idx = 1ull << 32;
	assert_int_equal(do_write(nc, a.addr, m, "x", 1, &out), CFS_EINVAL);
	m->idx = 0;
	m->version = m->base_version = 0;
	assert_int_equal(do_write(nc, a.addr, m, "x", 1, &out), CFS_EINVAL);
	assert_int_equal(atomic_load(&f->requests), 0);
	m->chain_count = 0;
	/* no such version here; another length here */
	m->version = m->base_version = 5;
	assert_int_equal(do_write(nc, a.addr, m, "x", 1, &out), 0);
	assert_int_equal(out.failed_node, a.id);
	assert_int_equal(out.fail_status, CFS_ENOENT);
	m->version = m->base_version = 4;
	m->length = m->base_length = 50;
	assert_int_equal(do_write(nc, a.addr, m, "x", 1, &out), 0);
	assert_int_equal(out.failed_node, a.id);
	assert_int_equal(out.fail_status, CFS_ESTALE);
	/* lease 7 seen (above): 6 is fenced */
	m->length = m->base_length = 100;
	m->lease_epoch = 6;
	assert_int_equal(do_write(nc, a.addr, m, "x", 1, &out), 0);
	assert_int_equal(out.fail_status, CFS_FENCED);
	assert_replica(nc, a.addr, 30, 0, 4, v, 100);
	free(m), free(v);
	nc_close(&nc);
	node_down(&a);
	fake_stop(f);
}

/* A seal's survey (frag_read, len 0, fence_epoch) answers the replica's
 * length and crc without bytes, and from then on a patch under an older
 * lease is FENCED; one under the fence's is taken. */
static void
test_read_with_a_fence_answers_crc_and_fences_older_leases(void **state)
{
	struct node a;
	struct nc *nc = client();
	uint8_t *v = pattern(100, 33);
	struct wire_frag_write *m = wreq(30, 0, 4, 0, 100);
	struct wire_frag_written out;
	struct wire_frag_data meta;
	size_t got = 99;

	(void)state;
	node_up(&a, 1, 0);
	assert_int_equal(do_write(nc, a.addr, m, v, 100, &out), 0);
	free(m);
	m = inplace_req(4, 100, 10, 5);
	assert_int_equal(do_write(nc, a.addr, m, "abc", 3, &out), 0);
	assert_int_equal(out.failed_node, 0);
	memcpy(v + 10, "abc", 3);
	assert_int_equal(survey(nc, a.addr, 4, 6, &meta, &got), 0);
	assert_int_equal(got, 0);
	assert_int_equal(meta.length, 100);
	assert_int_equal(meta.crc, crc32c(0, v, 100));
	assert_int_equal(do_write(nc, a.addr, m, "def", 3, &out), 0);
	assert_int_equal(out.failed_node, a.id);
	assert_int_equal(out.fail_status, CFS_FENCED);
	m->lease_epoch = 6;
	assert_int_equal(do_write(nc, a.addr, m, "def", 3, &out), 0);
	assert_int_equal(out.failed_node, 0);
	memcpy(v + 10, "def", 3);
	assert_int_equal(out.crc, crc32c(0, v, 100));
	/* a lower fence lowers nothing; a missing version is ENOENT */
	assert_int_equal(survey(nc, a.addr, 4, 2, &meta, &got), 0);
	m->lease_epoch = 5;
	assert_int_equal(do_write(nc, a.addr, m, "ghi", 3, &out), 0);
	assert_int_equal(out.fail_status, CFS_FENCED);
	assert_int_equal(survey(nc, a.addr, 9, 7, &meta, &got), CFS_ENOENT);
	assert_replica(nc, a.addr, 30, 0, 4, v, 100);
	free(m), free(v);
	nc_close(&nc);
	node_down(&a);
}

/* ---- node_where, and a client reading local replicas (localread) ------- */

static void
write_uuid(const struct node *n, const char *text)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/node.uuid", n->dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
}

/* A node whose DIR/node.uuid is its own is read from the disk: the
 * bytes, checked; a committed crc the replica does not have, a missing
 * version, a range past its end are errors (the caller reads through
 * the node); read-ahead jobs give the same bytes, and one let go before
 * it ran or finished frees everything (ASan). */
static void
test_where_lets_a_local_client_read_the_disk(void **state)
{
	char err[CFS_ERRMSG_SIZE];
	struct node a;
	struct nc *nc = client();
	struct lread *l = NULL;
	uint8_t *data = pattern(300000, 5), *buf = malloc(300000);
	struct wire_frag_write *m = wreq(21, 2, 9, 0, 300000);
	struct wire_frag_written out;
	const uint8_t *got = NULL;
	union wire_body *rep = NULL;
	struct wire_node_where q = {.node = 1};
	uint16_t rt = 0;
	uint64_t reads, failed;
	unsigned nodes;

	node_up(&a, 1, 0);
	assert_int_equal(do_write(nc, a.addr, m, data, 300000, &out), 0);
	assert_int_equal(nc_call(nc, a.addr, WIRE_T_node_where, &q, NULL, 0,
				 2000, &rt, &rep, NULL, NULL, err),
			 0);
	assert_int_equal(rt, WIRE_T_node_here);
	assert_string_equal(rep->node_here.uuid, NODE_UUID);
	assert_string_equal(rep->node_here.dir, a.dir);
	assert_int_equal(rep->node_here.node, 1);

	write_uuid(&a, NODE_UUID "\n");
	assert_int_equal(lread_new(&l, NULL, err), 0);
	struct store *st = lread_store(l, 1, a.addr);
	assert_non_null(st);
	assert_ptr_equal(lread_store(l, 1, a.addr), st); /* asked once */
	memset(buf, 0, 300000);
	assert_int_equal(lread_read(l, st, 21, 2, 9, 70000, buf, 200000,
				    out.crc, err),
			 0);
	assert_memory_equal(buf, data + 70000, 200000);
	assert_int_equal(lread_read(l, st, 21, 2, 9, 0, buf, 1000,
				    out.crc ^ 1, err),
			 CFS_CORRUPT);
	assert_non_null(strstr(err, "committed"));
	assert_int_equal(lread_read(l, st, 21, 2, 8, 0, buf, 1000, out.crc,
				    err),
			 CFS_ENOENT);
	assert_int_equal(lread_read(l, st, 21, 2, 9, 299000, buf, 2000,
				    out.crc, err),
			 CFS_CORRUPT); /* 1000 bytes where 2000 were due */

	struct lread_job *j = lread_start(l, st, 21, 2, 9, 65536, 131072,
					  out.crc);
	assert_non_null(j);
	assert_int_equal(lread_finish(j, 10000, &got, err), 0);
	assert_memory_equal(got, data + 65536, 131072);
	lread_done(j);
	for (int i = 0; i < 16; i++) /* queued, running or done: let go */
		lread_done(lread_start(l, st, 21, 2, 9, 0, 300000, out.crc));

	/* a failed local read is counted; one that timed out (a disk that
	 * hangs) turns the node's local reads off, for a minute */
	lread_failed(l, 1, CFS_CORRUPT, "test");
	assert_ptr_equal(lread_store(l, 1, a.addr), st);
	lread_failed(l, 1, CFS_ETIMEDOUT, "test");
	assert_null(lread_store(l, 1, a.addr));
	lread_stats(l, &reads, &failed, &nodes);
	assert_true(reads >= 2);
	assert_int_equal(failed, 2);
	assert_int_equal(nodes, 0);
	lread_free(&l);
	assert_null(l);
	free(m);
	free(buf);
	free(data);
	nc_close(&nc);
	node_down(&a);
}

/* A node whose directory holds another node's uuid, or none, is not
 * local: it is read through (lread_store NULL). */
static void
test_where_of_a_node_elsewhere_is_read_through(void **state)
{
	char err[CFS_ERRMSG_SIZE];
	struct node a, b;
	struct lread *l = NULL;

	node_up(&a, 1, 0);
	node_up(&b, 2, 0);
	write_uuid(&a, "1069356b-ee53-4e07-8610-e4de8f98ca7e\n");
	assert_int_equal(lread_new(&l, NULL, err), 0);
	assert_null(lread_store(l, 1, a.addr)); /* another node's uuid */
	assert_null(lread_store(l, 2, b.addr)); /* no node.uuid */
	write_uuid(&b, NODE_UUID "\n");
	assert_null(lread_store(l, 2, b.addr)); /* the answer stands */
	assert_null(lread_store(l, 3, "127.0.0.1:1")); /* nobody there */
	lread_free(&l);
	node_down(&a);
	node_down(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_then_read_returns_bytes_length_and_crc),
		cmocka_unit_test(test_write_patches_base_cut_to_base_length_then_sized),
		cmocka_unit_test(test_write_with_missing_base_names_self_enoent),
		cmocka_unit_test(test_write_down_chain_stores_every_replica),
		cmocka_unit_test(test_write_under_an_older_lease_is_fenced),
		cmocka_unit_test(test_write_names_silent_next_node),
		cmocka_unit_test(test_write_passes_back_failure_from_further_down),
		cmocka_unit_test(test_write_names_next_node_whose_replica_differs),
		cmocka_unit_test(test_write_names_next_node_that_answers_error),
		cmocka_unit_test(test_write_refuses_impossible_requests),
		cmocka_unit_test(test_read_at_end_is_empty_and_missing_is_enoent),
		cmocka_unit_test(test_copy_pulls_replica_then_is_idempotent),
		cmocka_unit_test(test_copy_of_other_replica_is_corrupt_and_leaves_nothing),
		cmocka_unit_test(test_delete_removes_and_missing_is_ok),
		cmocka_unit_test(test_delete_with_an_old_stamp_after_a_new_copy_keeps_it),
		cmocka_unit_test(test_bad_requests_are_answered_and_node_keeps_serving),
		cmocka_unit_test(test_concurrent_writes_of_same_keys_leave_whole_replicas),
		cmocka_unit_test(test_stop_does_not_wait_for_forward_in_flight),
		cmocka_unit_test(test_start_on_address_in_use_is_config),
		cmocka_unit_test(test_write_in_place_patches_the_version_on_each_node),
		cmocka_unit_test(test_write_in_place_refusals),
		cmocka_unit_test(test_read_with_a_fence_answers_crc_and_fences_older_leases),
		cmocka_unit_test(test_where_lets_a_local_client_read_the_disk),
		cmocka_unit_test(test_where_of_a_node_elsewhere_is_read_through),
	};

	cfs_log_init("test_service");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
