/* service.c - the data node's request service: a ROUTER front shared by worker threads, fragment handlers. */
#include "data/service.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "client/nodeclient.h"
#include "common/crc32c.h"
#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "data/store.h"

#define WORKERS_DEFAULT 8
/* inodes whose newest write-lease epoch a node keeps (16 bytes each) */
#define EPOCH_SLOTS 16384
/* A base delta holding more blocks than this is made whole before a new
 * version is built on it (store_compact). */
#ifndef COMPACT_BLOCKS
#define COMPACT_BLOCKS 2
#endif
#define FORWARD_TIMEOUT_DEFAULT_MS 10000
#define COPY_PIECE (4u << 20)   /* frag_copy pulls in pieces this big */
#define COPY_TIMEOUT_MS 10000   /* per piece */
#define PEER_SIZE 64
#define ENDPOINT_SIZE (CFS_ADDR_MAX + 16)

/* "fragment 12/3 v7" from any message with ino, idx and version fields. */
#define KEY_FMT "fragment %" PRIu64 "/%" PRIu64 " v%" PRIu64
#define KEY_ARGS(m) (m)->ino, (m)->idx, (m)->version

struct service;

/* One worker thread and what it owns.  `body` and `fwd` are large, so they
 * live here rather than on the thread's stack. */
struct worker {
	struct service *svc;
	struct nc *nc;  /* forwards and pulls; closed by service_stop */
	pthread_t thread;
	int running;
	struct store_key held[2]; /* keys claimed; version 0 = none */
	union wire_body body;     /* the request being served */
	struct wire_frag_write fwd; /* the request as sent down the chain */
};

struct service {
	struct store *st;
	void *zctx;
	void *front; /* ROUTER, the node's public address */
	/*
	 * The workers share the front, leader and followers: the one worker
	 * holding lead_lock waits for a request (polling the socket's ZMQ_FD
	 * and wake_fd), takes it and lets the next idle worker lead while it
	 * serves it; every call on the socket is made under front_lock.  A
	 * request reaches the worker that answers it straight from
	 * ZeroMQ's I/O thread, and the answer goes straight back: two thread
	 * hand-offs a request where a proxy thread in between made four,
	 * which on two busy cores was a fifth of a patch's time.
	 *
	 * ZMQ_FD only signals that the socket's mailbox got commands, and any
	 * call on the socket may consume that signal: a worker sending an
	 * answer while the leader waits checks ZMQ_EVENTS and writes
	 * wake_fd if a request is waiting (front_kick_locked).
	 */
	pthread_mutex_t front_lock;
	pthread_mutex_t lead_lock;
	int front_fd;	     /* the front's ZMQ_FD */
	int wake_fd;	     /* eventfd: a request is waiting, or stop */
	int leader_waiting;  /* under front_lock */
	int stopping;	     /* under front_lock */
	int forward_timeout_ms;
	_Atomic uint64_t self_id;
	char uuid[37];	/* node_where's answer */
	char dir[1024];
	atomic_uint load;
	atomic_uint_fast64_t served; /* requests answered since start */
	atomic_uint io_errors;
	int n_workers;
	struct worker *workers;
	/* Claims on fragments (data/store.h: whatever writes or deletes a
	 * version of one fragment must be serialised by the caller): a
	 * worker waits on `freed` until no other worker holds a fragment it
	 * needs, then takes them all at once. */
	pthread_mutex_t claim_lock;
	pthread_cond_t claim_freed;
	/* Fencing (docs/leases.md): the newest write-lease epoch this node
	 * saw in a frag_write of an inode, EPOCH_SLOTS inodes at most
	 * (direct-mapped by inode; a slot taken by another inode forgets the
	 * older one, whose stale writes are then stored: never committed,
	 * since the leader fences their frag_commit, and removed as garbage).
	 * Not kept across restarts, for the same reason. */
	pthread_mutex_t epoch_lock;
	struct {
		uint64_t ino, epoch;
	} epochs[EPOCH_SLOTS];
};

/* The frames of one request as received: [identity][frame 0][bulk?]. */
struct request {
	zmq_msg_t ident, frame, bulk;
	int have_bulk;
	int extra; /* more than three frames arrived (drained) */
	struct wire_header h;
	char peer[PEER_SIZE];
};

/* ---- small helpers ------------------------------------------------------- */

/* Count a store failure that is an I/O error, and pass the code on. */
static int
store_rc(struct service *s, int rc)
{
	if (rc == CFS_EIO)
		atomic_fetch_add(&s->io_errors, 1);
	return rc;
}

/* Claims are per fragment, whatever the version: writing or deleting one
 * version may merge another's file (data/store.h, deltas). */
static int
same_fragment(const struct store_key *a, const struct store_key *b)
{
	return a->ino == b->ino && a->idx == b->idx;
}

/* True if a worker other than @self holds @k's fragment. */
static int
claimed_by_other(struct service *s, const struct worker *self,
		 const struct store_key *k)
{
	/* n_workers + 1: the last slot is the beat thread's
	 * (service_delete_stamp) */
	for (int i = 0; i <= s->n_workers; i++) {
		const struct worker *o = &s->workers[i];
		if (o == self)
			continue;
		for (int j = 0; j < 2; j++)
			if (o->held[j].version != 0 &&
			    same_fragment(&o->held[j], k))
				return 1;
	}
	return 0;
}

/* Claim @a and, if not NULL, @b, waiting for other workers to release
 * them.  Both are taken together, so no worker ever holds one key while
 * waiting for another: claims cannot deadlock. */
static void
claim(struct worker *w, const struct store_key *a, const struct store_key *b)
{
	struct service *s = w->svc;

	pthread_mutex_lock(&s->claim_lock);
	while (claimed_by_other(s, w, a) ||
	       (b != NULL && claimed_by_other(s, w, b)))
		pthread_cond_wait(&s->claim_freed, &s->claim_lock);
	w->held[0] = *a;
	if (b != NULL)
		w->held[1] = *b;
	pthread_mutex_unlock(&s->claim_lock);
}

static void
unclaim(struct worker *w)
{
	struct service *s = w->svc;

	pthread_mutex_lock(&s->claim_lock);
	memset(w->held, 0, sizeof(w->held));
	pthread_cond_broadcast(&s->claim_freed);
	pthread_mutex_unlock(&s->claim_lock);
}

/* ---- the front ----------------------------------------------------------- */

/* After a call on the front, with front_lock held: wake the leader if it
 * waits and a request is waiting (the call may have consumed the signal
 * on ZMQ_FD that would have woken it). */
static void
front_kick_locked(struct service *s)
{
	int ev = 0;
	size_t sz = sizeof(ev);
	uint64_t one = 1;

	if (!s->leader_waiting)
		return;
	/* (a failed look wakes it too: a spurious wake costs one turn) */
	if (zmq_getsockopt(s->front, ZMQ_EVENTS, &ev, &sz) == 0 &&
	    !(ev & ZMQ_POLLIN))
		return;
	s->leader_waiting = 0;
	if (write(s->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		LOG_ERROR("data service: eventfd: %s", strerror(errno));
}

/* The leader's wait for the front: until ZMQ_FD or wake_fd is readable. */
static void
front_wait(struct service *s)
{
	struct pollfd p[2] = {{.fd = s->front_fd, .events = POLLIN},
			      {.fd = s->wake_fd, .events = POLLIN}};
	uint64_t n;

	if (poll(p, 2, -1) < 0 && errno != EINTR) {
		LOG_ERROR("data service: poll: %s", strerror(errno));
		return;
	}
	if ((p[1].revents & POLLIN) && read(s->wake_fd, &n, sizeof(n)) < 0 &&
	    errno != EAGAIN)
		LOG_ERROR("data service: eventfd: %s", strerror(errno));
}

/* ---- replies ------------------------------------------------------------- */

/* One frame of a reply on the front (front_lock held), again if a signal
 * interrupted it. */
static int
front_send(struct service *s, const void *buf, size_t len, int flags)
{
	int rv;

	while ((rv = zmq_send(s->front, buf, len, flags)) < 0 &&
	       zmq_errno() == EINTR)
		;
	return rv;
}

static int
front_send_msg(struct service *s, zmq_msg_t *msg)
{
	int rv;

	while ((rv = zmq_msg_send(msg, s->front, 0)) < 0 &&
	       zmq_errno() == EINTR)
		;
	return rv;
}

static void
free_bulk(void *data, void *hint)
{
	(void)hint;
	free(data);
}

/*
 * Send [identity][frame 0][bulk?] back to the requester: @type with @body,
 * status @status, the request's id.  @bulk, if not NULL, is sent (and so
 * emptied) by this call.  A reply that cannot be sent is dropped with a
 * debug line: the requester times out, as for a lost message.
 */
static void
send_reply(struct worker *w, struct request *rq, uint16_t type, int status,
	   const void *body, zmq_msg_t *bulk)
{
	struct wire_header h = rq->h;
	char errmsg[CFS_ERRMSG_SIZE];
	uint8_t *frame = NULL;
	size_t len = 0;

	h.type = type;
	h.status = status;
	h.flags = WIRE_F_REPLY | (bulk != NULL ? WIRE_F_BULK : 0);
	if (wire_encode(&h, body, &frame, &len, errmsg) != 0) {
		LOG_ERROR("internal: encoding %s for %s: %s",
			  wire_type_name(type), rq->peer, errmsg);
		return;
	}
	/* A ROUTER's send never blocks (it drops a message to a peer that
	 * is gone or over its high-water mark) and fails only at shutdown
	 * (or EINTR, retried), so a reply is never left half sent for the
	 * next one to follow. */
	struct service *s = w->svc;
	pthread_mutex_lock(&s->front_lock);
	if (front_send(s, zmq_msg_data(&rq->ident), zmq_msg_size(&rq->ident),
		       ZMQ_SNDMORE) < 0 ||
	    front_send(s, frame, len, bulk != NULL ? ZMQ_SNDMORE : 0) < 0 ||
	    (bulk != NULL && front_send_msg(s, bulk) < 0))
		LOG_DEBUG("reply to %s dropped: %s", rq->peer,
			  zmq_strerror(zmq_errno()));
	front_kick_locked(s);
	pthread_mutex_unlock(&s->front_lock);
	free(frame);
}

static void
send_error(struct worker *w, struct request *rq, int status,
	   const char *message)
{
	struct wire_error e;

	memset(&e, 0, sizeof(e));
	snprintf(e.message, sizeof(e.message), "%s", message);
	send_reply(w, rq, WIRE_T_error, status, &e, NULL);
}

/* ---- frag_write ---------------------------------------------------------- */

/* Reject a frag_write that no replica could satisfy.  The result is the
 * base cut to base_length, patched with the bulk at offset, then cut or
 * extended to length (docs/data-path.md "Writing a fragment"). */
static int
write_check(const struct wire_frag_write *m, size_t blen, char *errmsg)
{
	if (m->idx > UINT32_MAX)
		return cfs_fail(errmsg, CFS_EINVAL, "index %" PRIu64, m->idx);
	if (m->version == 0)
		return cfs_fail(errmsg, CFS_EINVAL, "version 0");
	if (m->base_version == m->version)
		return cfs_fail(errmsg, CFS_EINVAL,
				"base version %" PRIu64 " is the version",
				m->base_version);
	if (m->length > CFS_BULK_MAX)
		return cfs_fail(errmsg, CFS_EINVAL,
				"length %" PRIu64 " over %u", m->length,
				CFS_BULK_MAX);
	if (m->offset > m->length || blen > m->length - m->offset)
		return cfs_fail(errmsg, CFS_EINVAL,
				"%zu bytes at %" PRIu64 " past length %" PRIu64,
				blen, m->offset, m->length);
	return 0;
}

/*
 * Write this node's replica.  Claims the fragment, so that nothing deletes
 * or merges the base while the new version is built on it.  Cases:
 *  1) base_version != 0 and that replica is missing: CFS_ENOENT (the client
 *     then sends the whole fragment);
 *  2) a store failure: its code (CFS_ENOSPC, CFS_EIO, CFS_CORRUPT...);
 *  3) 0 with *@len and *@crc of the committed replica.
 * Cutting the base to min(base_length, length) first gives the same bytes
 * as cutting it to base_length, without ever growing it past length.
 */
static int
write_local(struct worker *w, const struct wire_frag_write *m,
	    const void *bulk, size_t blen, uint64_t *len, uint32_t *crc,
	    char *errmsg)
{
	struct service *s = w->svc;
	struct store_key k = {m->ino, (uint32_t)m->idx, m->version};
	struct store_key base = {m->ino, (uint32_t)m->idx, m->base_version};
	struct store_writer *wr = NULL;
	uint64_t blength;
	uint32_t bcrc;
	int rv = 0;

	claim(w, &k, NULL);
	if (m->base_version != 0) {
		rv = store_rc(s, store_stat(s->st, &base, &blength, &bcrc, NULL,
					    errmsg));
		if (rv != 0)
			cfs_errmsg_prefix(errmsg, "base v%" PRIu64,
					  m->base_version);
	}
	/* The base is the committed version (frag_open), so versions older
	 * than it are garbage: if it is a delta that has gathered blocks,
	 * let it take its base's file over now rather than copy its blocks
	 * into every later delta until garbage collection gets there.  If
	 * that fails, the new version is still written right. */
	if (rv == 0 && m->base_version != 0 &&
	    store_compact(s->st, &base, COMPACT_BLOCKS, errmsg) != 0)
		LOG_WARN(KEY_FMT ": base v%" PRIu64 " not compacted: %s",
			 KEY_ARGS(m), m->base_version, errmsg);
	if (rv == 0)
		rv = store_rc(s, store_write_begin(s->st, &k, m->base_version,
						   &wr, errmsg));
	if (rv == 0)
		rv = store_rc(s, store_truncate(wr, m->base_length < m->length
							    ? m->base_length
							    : m->length,
						errmsg));
	if (rv == 0)
		rv = store_rc(s, store_write(wr, m->offset, bulk, blen, errmsg));
	if (rv == 0)
		rv = store_rc(s, store_truncate(wr, m->length, errmsg));
	if (rv == 0)
		rv = store_rc(s, store_write_commit(&wr, m->durable, crc, len,
						    errmsg));
	store_write_abort(&wr);
	unclaim(w);
	return rv;
}

/* Reject a frag_write in place (docs/data-path.md "Patching in place")
 * that is not one: it names the version it patches as its base, that
 * version's length as its base length, and as its length the same or,
 * for an append, the end of the range (which starts at or before the
 * base length); and it is durable (it is answered without a Raft round,
 * so only on the disk). */
static int
inplace_check(const struct wire_frag_write *m, size_t blen, char *errmsg)
{
	if (m->in_place != 1)
		return cfs_fail(errmsg, CFS_EINVAL, "in_place %" PRIu8,
				m->in_place);
	if (m->idx > UINT32_MAX)
		return cfs_fail(errmsg, CFS_EINVAL, "index %" PRIu64, m->idx);
	if (m->version == 0 || m->base_version != m->version)
		return cfs_fail(errmsg, CFS_EINVAL,
				"in place: base version %" PRIu64
				" is not the version",
				m->base_version);
	if (!m->durable)
		return cfs_fail(errmsg, CFS_EINVAL, "in place: not durable");
	if (m->lease_epoch == 0) /* it could never be fenced */
		return cfs_fail(errmsg, CFS_EINVAL, "in place: no lease");
	if (m->length > CFS_BULK_MAX)
		return cfs_fail(errmsg, CFS_EINVAL,
				"length %" PRIu64 " over %u", m->length,
				CFS_BULK_MAX);
	if (m->length == m->base_length) {
		if (m->offset > m->length || blen > m->length - m->offset)
			return cfs_fail(errmsg, CFS_EINVAL,
					"%zu bytes at %" PRIu64
					" past length %" PRIu64,
					blen, m->offset, m->length);
	} else if (m->length < m->base_length ||
		   m->offset > m->base_length || blen == 0 ||
		   m->offset + blen != m->length) {
		return cfs_fail(errmsg, CFS_EINVAL,
				"in place: %zu bytes at %" PRIu64
				" do not make length %" PRIu64
				" of base length %" PRIu64,
				blen, m->offset, m->length, m->base_length);
	}
	return 0;
}

static int epoch_check(struct service *s, const struct wire_frag_write *m,
		       char *errmsg);

/* Patch this node's replica of the version in place, holding the fragment
 * like write_local: a write, copy or delete of it waits, and so does a
 * seal's survey (handle_read with a fence).  CFS_ENOENT without the
 * replica, CFS_ESTALE if its length is not the base length, else
 * store_patch's. */
static int
patch_local(struct worker *w, const struct wire_frag_write *m,
	    const void *bulk, size_t blen, uint64_t *len, uint32_t *crc,
	    char *errmsg)
{
	struct service *s = w->svc;
	struct store_key k = {m->ino, (uint32_t)m->idx, m->version};
	int rv;

	claim(w, &k, NULL);
	/* again, holding the fragment: a seal's survey may have fenced the
	 * lease while this patch waited for it */
	rv = epoch_check(s, m, errmsg);
	if (rv == 0)
		rv = store_rc(s, store_patch(s->st, &k, m->base_length,
					     m->length, m->offset, bulk, blen,
					     crc, errmsg));
	unclaim(w);
	if (rv == 0)
		*len = m->length;
	return rv;
}

static void
chain_failed(struct wire_frag_written *out, uint64_t node, int status,
	     const char *message)
{
	out->failed_node = node;
	out->fail_status = (uint32_t)status;
	snprintf(out->fail_message, sizeof(out->fail_message), "%s", message);
}

/* The slot of inode @ino in s->epochs. */
static size_t
epoch_slot(uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 32) % EPOCH_SLOTS;
}

/* A seal's survey (frag_read with fence_epoch): from now on writes to
 * inode @ino under a lease older than @epoch are FENCED. */
static void
epoch_raise(struct service *s, uint64_t ino, uint64_t epoch)
{
	pthread_mutex_lock(&s->epoch_lock);
	size_t i = epoch_slot(ino);
	if (s->epochs[i].ino != ino) {
		s->epochs[i].ino = ino;
		s->epochs[i].epoch = epoch;
	} else if (s->epochs[i].epoch < epoch) {
		s->epochs[i].epoch = epoch;
	}
	pthread_mutex_unlock(&s->epoch_lock);
}

/* A frag_write under write lease @m->lease_epoch: CFS_FENCED if this node
 * saw a newer one for the inode (the writer lost its lease, another mount
 * writes now, or a seal's survey fenced it); else noted.  Epoch 0 (no
 * lease) is not checked. */
static int
epoch_check(struct service *s, const struct wire_frag_write *m, char *errmsg)
{
	int rv = 0;

	if (m->lease_epoch == 0)
		return 0;
	pthread_mutex_lock(&s->epoch_lock);
	size_t i = epoch_slot(m->ino);
	if (s->epochs[i].ino != m->ino) {
		s->epochs[i].ino = m->ino;
		s->epochs[i].epoch = m->lease_epoch;
	} else if (m->lease_epoch < s->epochs[i].epoch) {
		rv = cfs_fail(errmsg, CFS_FENCED,
			      "written under write lease %" PRIu64
			      ", but this node saw lease %" PRIu64
			      " of inode %" PRIu64 " since",
			      m->lease_epoch, s->epochs[i].epoch, m->ino);
	} else {
		s->epochs[i].epoch = m->lease_epoch;
	}
	pthread_mutex_unlock(&s->epoch_lock);
	return rv;
}

/* Send the request on to the next node of the chain (the chain minus its
 * first element) before writing locally, so that the nodes of a chain
 * write and sync in parallel rather than one after the other.  Returns 1
 * if a reply is to be collected with forward_finish(); 0 with *out naming
 * the next node if it could not be reached. */
static int
forward_start(struct worker *w, const struct wire_frag_write *m,
	      const void *bulk, size_t blen, struct wire_frag_written *out)
{
	struct wire_frag_write *f = &w->fwd;
	const struct wire_nodeaddr *next = &m->chain[0];
	char errmsg[CFS_ERRMSG_SIZE];

	*f = *m;
	memmove(f->chain, f->chain + 1,
		(m->chain_count - 1) * sizeof(f->chain[0]));
	f->chain_count = m->chain_count - 1;
	/* Each hop waits longer than the one after it, so a dead node far
	 * down the chain is reported by its predecessor before anyone
	 * upstream gives up and blames its own successor instead. */
	int timeout = w->svc->forward_timeout_ms * (int)(f->chain_count + 1);
	int rv = nc_start(w->nc, next->addr, WIRE_T_frag_write, f, bulk, blen,
			  timeout, errmsg);
	if (rv == 0)
		return 1;
	cfs_errmsg_prefix(errmsg, "node %" PRIu64, next->id);
	chain_failed(out, next->id, rv, errmsg);
	LOG_WARN(KEY_FMT ": chain: %s", KEY_ARGS(m), out->fail_message);
	return 0;
}

/* Collect the next node's answer into *out, which holds this node's own
 * length and crc: a failure further down is passed back as reported; a
 * replica that differs from ours names the next node. */
static void
forward_finish(struct worker *w, const struct wire_frag_write *m,
	       struct wire_frag_written *out)
{
	const struct wire_nodeaddr *next = &m->chain[0];
	char errmsg[CFS_ERRMSG_SIZE];
	union wire_body *reply = NULL;
	uint16_t rtype = 0;
	int rv;

	rv = nc_finish(w->nc, &rtype, &reply, NULL, NULL, errmsg);
	if (rv == 0 && rtype != WIRE_T_frag_written)
		rv = cfs_fail(errmsg, CFS_MALFORMED, "%s: replied %s",
			      next->addr, wire_type_name(rtype));
	if (rv != 0) {
		cfs_errmsg_prefix(errmsg, "node %" PRIu64, next->id);
		chain_failed(out, next->id, rv, errmsg);
	} else if (reply->frag_written.failed_node != 0 ||
		   reply->frag_written.fail_status != 0) {
		/* failed_node 0 with a status: the next node failed itself
		 * before it had an id (restarted, not registered again) */
		const struct wire_frag_written *r = &reply->frag_written;
		chain_failed(out, r->failed_node ? r->failed_node : next->id,
			     r->fail_status ? (int)r->fail_status : CFS_EIO,
			     r->fail_message);
	} else if (reply->frag_written.length != out->length ||
		   reply->frag_written.crc != out->crc) {
		cfs_errmsg_set(errmsg,
			       "node %" PRIu64 " %s: replica differs: %" PRIu64
			       " bytes crc %08" PRIx32 ", here %" PRIu64
			       " bytes crc %08" PRIx32,
			       next->id, next->addr,
			       reply->frag_written.length,
			       reply->frag_written.crc, out->length, out->crc);
		chain_failed(out, next->id, CFS_CORRUPT, errmsg);
	}
	if (out->failed_node != 0 || out->fail_status != 0)
		LOG_WARN(KEY_FMT ": chain: %s", KEY_ARGS(m), out->fail_message);
}

/* frag_write: store locally, then forward; always answered frag_written
 * (status OK) once the request is valid, naming the first failed node. */
static void
handle_write(struct worker *w, struct request *rq,
	     const struct wire_frag_write *m)
{
	struct wire_frag_written out;
	char errmsg[CFS_ERRMSG_SIZE];
	const void *bulk = rq->have_bulk ? zmq_msg_data(&rq->bulk) : NULL;
	size_t blen = rq->have_bulk ? zmq_msg_size(&rq->bulk) : 0;
	int rv;

	LOG_DEBUG(KEY_FMT ": frag_write %zu bytes at %" PRIu64
		  ", length %" PRIu64 ", base v%" PRIu64 ", chain %" PRIu32
		  "%s from %s",
		  KEY_ARGS(m), blen, m->offset, m->length, m->base_version,
		  m->chain_count, m->in_place ? ", in place" : "", rq->peer);
	rv = m->in_place ? inplace_check(m, blen, errmsg)
			 : write_check(m, blen, errmsg);
	if (rv != 0) {
		cfs_errmsg_prefix(errmsg, KEY_FMT, KEY_ARGS(m));
		LOG_WARN("%s (from %s)", errmsg, rq->peer);
		send_error(w, rq, rv, errmsg);
		return;
	}
	memset(&out, 0, sizeof(out));
	if ((rv = epoch_check(w->svc, m, errmsg)) != 0) {
		/* a fenced writer's data goes nowhere: not stored here, not
		 * forwarded (DESIGN.md §4) */
		cfs_errmsg_prefix(errmsg, KEY_FMT, KEY_ARGS(m));
		LOG_WARN("%s (from %s)", errmsg, rq->peer);
		chain_failed(&out, atomic_load(&w->svc->self_id), rv, errmsg);
		send_reply(w, rq, WIRE_T_frag_written, CFS_OK, &out, NULL);
		return;
	}
	if (m->chain_count > 0 && !forward_start(w, m, bulk, blen, &out)) {
		/* the next node is unreachable: no point writing here */
		send_reply(w, rq, WIRE_T_frag_written, CFS_OK, &out, NULL);
		return;
	}
	rv = m->in_place
		     ? patch_local(w, m, bulk, blen, &out.length, &out.crc,
				   errmsg)
		     : write_local(w, m, bulk, blen, &out.length, &out.crc,
				   errmsg);
	if (rv != 0) {
		/* (a forwarded request's reply is abandoned: its replicas
		 * are never committed and become garbage) */
		cfs_errmsg_prefix(errmsg, KEY_FMT, KEY_ARGS(m));
		LOG_WARN("%s", errmsg);
		chain_failed(&out, atomic_load(&w->svc->self_id), rv, errmsg);
	} else if (m->chain_count > 0) {
		forward_finish(w, m, &out);
	}
	send_reply(w, rq, WIRE_T_frag_written, CFS_OK, &out, NULL);
}

/* ---- frag_read ----------------------------------------------------------- */

/* Read [offset, offset + len) of a replica into a new buffer, which
 * becomes *@bulk (empty when nothing was read: at or past the end). */
static int
read_local(struct service *s, const struct wire_frag_read *m,
	   struct wire_frag_data *out, zmq_msg_t *bulk, char *errmsg)
{
	struct store_key k = {m->ino, (uint32_t)m->idx, m->version};
	size_t want = m->len, got = 0;
	uint8_t *buf;
	int rv;

	rv = store_rc(s, store_stat(s->st, &k, &out->length, &out->crc, NULL,
				    errmsg));
	if (rv != 0)
		return rv;
	/* Clients may ask for a whole fragment; allocate what exists. */
	if (m->offset >= out->length)
		want = 0;
	else if (want > out->length - m->offset)
		want = (size_t)(out->length - m->offset);
	/* page-aligned, so that whole blocks are read straight into it
	 * (store_read: past the page cache) */
	buf = aligned_alloc(4096, want > 0 ? (want + 4095) / 4096 * 4096 : 4096);
	if (buf == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "%zu bytes", want);
	rv = store_rc(s, store_read(s->st, &k, m->offset, buf, want, &got,
				    errmsg));
	if (rv != 0 || got == 0) {
		free(buf);
		return rv;
	}
	/* ZeroMQ frees the buffer once the frame has left: no copy. */
	if (zmq_msg_init_data(bulk, buf, got, free_bulk, NULL) != 0) {
		free(buf);
		return cfs_fail(errmsg, CFS_ENOMEM, "bulk frame of %zu bytes",
				got);
	}
	return 0;
}

/*
 * Read under the claim of the fragment if @claimed (else without it):
 * a reader that finds a block, its CRC or the header disagreeing while a
 * patch in place (store_patch) rewrites them sees CFS_CORRUPT of a sound
 * replica; a CFS_CORRUPT without the claim is believed only when reading
 * again with it, when no patch runs.
 */
static int
read_checked(struct worker *w, const struct wire_frag_read *m, int claimed,
	     struct wire_frag_data *out, zmq_msg_t *bulk, char *errmsg)
{
	struct store_key k = {m->ino, (uint32_t)m->idx, m->version};
	int rv = read_local(w->svc, m, out, bulk, errmsg);

	if (rv != CFS_CORRUPT || claimed)
		return rv;
	claim(w, &k, NULL);
	zmq_msg_close(bulk);
	zmq_msg_init(bulk);
	memset(out, 0, sizeof(*out));
	rv = read_local(w->svc, m, out, bulk, errmsg);
	unclaim(w);
	return rv;
}

/* frag_read: frag_data {length, crc} of the whole replica + the bytes.
 * With fence_epoch (a seal's survey, docs/data-path.md "Patching in
 * place"): holding the fragment, so that a patch in progress finishes
 * first, writes to the inode under older leases are fenced from now on,
 * then the replica is read (len 0: its length and crc only, as without
 * a fence). */
static void
handle_read(struct worker *w, struct request *rq,
	    const struct wire_frag_read *m)
{
	struct wire_frag_data out;
	char errmsg[CFS_ERRMSG_SIZE];
	zmq_msg_t bulk;
	int rv = 0;

	LOG_DEBUG(KEY_FMT ": frag_read %" PRIu32 " bytes at %" PRIu64
		  ", fence %" PRIu64 " from %s",
		  KEY_ARGS(m), m->len, m->offset, m->fence_epoch, rq->peer);
	memset(&out, 0, sizeof(out));
	zmq_msg_init(&bulk);
	if (m->idx > UINT32_MAX) {
		rv = cfs_fail(errmsg, CFS_EINVAL, "index %" PRIu64, m->idx);
	} else if (m->len > CFS_BULK_MAX) {
		rv = cfs_fail(errmsg, CFS_EINVAL, "read of %" PRIu32
			      " bytes over %u", m->len, CFS_BULK_MAX);
	} else if (m->fence_epoch != 0) {
		struct store_key k = {m->ino, (uint32_t)m->idx, m->version};
		claim(w, &k, NULL);
		epoch_raise(w->svc, m->ino, m->fence_epoch);
		rv = read_checked(w, m, 1, &out, &bulk, errmsg);
		unclaim(w);
	} else {
		rv = read_checked(w, m, 0, &out, &bulk, errmsg);
	}
	if (rv != 0) {
		cfs_errmsg_prefix(errmsg, KEY_FMT, KEY_ARGS(m));
		LOG_WARN("%s (read from %s)", errmsg, rq->peer);
		send_error(w, rq, rv, errmsg);
	} else {
		send_reply(w, rq, WIRE_T_frag_data, CFS_OK, &out,
			   zmq_msg_size(&bulk) > 0 ? &bulk : NULL);
	}
	zmq_msg_close(&bulk);
}

/* ---- frag_copy ----------------------------------------------------------- */

/* Check one frag_data piece from the copy source against what the leader
 * asked for: same replica (length, crc), and the whole piece. */
static int
copy_check_piece(const struct wire_frag_copy *m, uint16_t rtype,
		 const union wire_body *reply, size_t got, uint32_t want,
		 char *errmsg)
{
	if (rtype != WIRE_T_frag_data)
		return cfs_fail(errmsg, CFS_MALFORMED, "source replied %s",
				wire_type_name(rtype));
	if (reply->frag_data.length != m->length ||
	    reply->frag_data.crc != m->crc)
		return cfs_fail(errmsg, CFS_CORRUPT,
				"source holds %" PRIu64 " bytes crc %08" PRIx32
				", wanted %" PRIu64 " bytes crc %08" PRIx32,
				reply->frag_data.length, reply->frag_data.crc,
				m->length, m->crc);
	if (got != want)
		return cfs_fail(errmsg, CFS_CORRUPT,
				"source sent %zu bytes of %" PRIu32, got, want);
	return 0;
}

/* Pull the replica piece by piece from the source into a new temp file,
 * checking the CRC of the data as it arrives; commit durably only if it is
 * the one asked for. */
static int
copy_pull(struct worker *w, const struct wire_frag_copy *m,
	  struct store_writer *wr, char *errmsg)
{
	struct service *s = w->svc;
	struct wire_frag_read rd = {.ino = m->ino, .idx = m->idx,
				    .version = m->version};
	uint32_t crc = 0;
	int rv = 0;

	for (uint64_t off = 0; rv == 0 && off < m->length;) {
		union wire_body *reply = NULL;
		const void *data = NULL;
		size_t got = 0;
		uint16_t rtype = 0;

		rd.offset = off;
		rd.len = (uint32_t)(m->length - off < COPY_PIECE
					    ? m->length - off
					    : COPY_PIECE);
		rv = nc_call(w->nc, m->source.addr, WIRE_T_frag_read, &rd,
			     NULL, 0, COPY_TIMEOUT_MS, &rtype, &reply, &data,
			     &got, errmsg);
		if (rv == 0)
			rv = copy_check_piece(m, rtype, reply, got, rd.len,
					      errmsg);
		if (rv != 0) {
			cfs_errmsg_prefix(errmsg, "source node %" PRIu64
					  " at %" PRIu64, m->source.id, off);
			break;
		}
		crc = crc32c(crc, data, got);
		rv = store_rc(s, store_write(wr, off, data, got, errmsg));
		off += got;
	}
	if (rv == 0 && crc != m->crc)
		rv = cfs_fail(errmsg, CFS_CORRUPT,
			      "pulled data has crc %08" PRIx32 ", wanted %08"
			      PRIx32, crc, m->crc);
	return rv;
}

/* Make this node hold the replica @m names, as incarnation @m->stamp,
 * pulling it unless that very incarnation is here already (a retried
 * copy).  The same bytes under another stamp are pulled again: the older
 * incarnation may have a frag_delete on its way.  The key stays claimed
 * for the whole pull. */
static int
copy_local(struct worker *w, const struct wire_frag_copy *m, char *errmsg)
{
	struct service *s = w->svc;
	struct store_key k = {m->ino, (uint32_t)m->idx, m->version};
	struct store_writer *wr = NULL;
	uint64_t len = 0;
	uint64_t stamp = 0;
	uint32_t crc = 0;
	int rv;

	claim(w, &k, NULL);
	rv = store_rc(s, store_stat(s->st, &k, &len, &crc, &stamp, errmsg));
	if (rv == 0 && len == m->length && crc == m->crc &&
	    stamp == m->stamp) {
		LOG_DEBUG(KEY_FMT ": already here", KEY_ARGS(m));
		goto out;
	}
	rv = store_rc(s, store_write_begin(s->st, &k, 0, &wr, errmsg));
	if (rv == 0)
		store_write_set_stamp(wr, m->stamp);
	if (rv == 0)
		rv = copy_pull(w, m, wr, errmsg);
	if (rv != 0) {
		store_write_abort(&wr);
		goto out;
	}
	rv = store_rc(s, store_write_commit(&wr, 1, &crc, &len, errmsg));
	if (rv == 0 && (len != m->length || crc != m->crc)) {
		/* The bytes pulled make the CRCs (store.c notes them as
		 * written), so this catches a store that put them in the
		 * wrong place, not a disk that lost them (the scrub does);
		 * do not leave a replica that is not the one asked. */
		store_delete_stamp(s->st, &k, m->stamp, NULL);
		rv = cfs_fail(errmsg, CFS_CORRUPT,
			      "stored %" PRIu64 " bytes crc %08" PRIx32,
			      len, crc);
	}
out:
	unclaim(w);
	return rv;
}

/* frag_copy: answered frag_written {length, crc} or an error. */
static void
handle_copy(struct worker *w, struct request *rq,
	    const struct wire_frag_copy *m)
{
	struct wire_frag_written out;
	char errmsg[CFS_ERRMSG_SIZE];
	int rv;

	LOG_DEBUG(KEY_FMT ": frag_copy %" PRIu64 " bytes from node %" PRIu64
		  " %s (asked by %s)",
		  KEY_ARGS(m), m->length, m->source.id, m->source.addr,
		  rq->peer);
	if (m->idx > UINT32_MAX)
		rv = cfs_fail(errmsg, CFS_EINVAL, "index %" PRIu64, m->idx);
	else if (m->version == 0)
		rv = cfs_fail(errmsg, CFS_EINVAL, "version 0");
	else if (m->length > CFS_BULK_MAX)
		rv = cfs_fail(errmsg, CFS_EINVAL, "length %" PRIu64 " over %u",
			      m->length, CFS_BULK_MAX);
	else
		rv = copy_local(w, m, errmsg);
	if (rv != 0) {
		cfs_errmsg_prefix(errmsg, KEY_FMT ": copy", KEY_ARGS(m));
		LOG_WARN("%s", errmsg);
		send_error(w, rq, rv, errmsg);
		return;
	}
	memset(&out, 0, sizeof(out));
	out.length = m->length;
	out.crc = m->crc;
	send_reply(w, rq, WIRE_T_frag_written, CFS_OK, &out, NULL);
}

/* ---- frag_delete --------------------------------------------------------- */

/* frag_delete: `ok`, also when the replica was not here, and when it is
 * another incarnation than `stamp` (kept: a copy made after the delete was
 * sent, data/store.h store_delete_stamp). */
static void
handle_delete(struct worker *w, struct request *rq,
	      const struct wire_frag_delete *m)
{
	struct store_key k = {m->ino, (uint32_t)m->idx, m->version};
	char errmsg[CFS_ERRMSG_SIZE];
	struct wire_ok ok;
	int rv;

	LOG_DEBUG(KEY_FMT ": frag_delete of stamp %016" PRIx64 " from %s",
		  KEY_ARGS(m), m->stamp, rq->peer);
	if (m->idx > UINT32_MAX) {
		rv = cfs_fail(errmsg, CFS_EINVAL, "index %" PRIu64, m->idx);
	} else {
		claim(w, &k, NULL);
		rv = store_rc(w->svc, store_delete_stamp(w->svc->st, &k,
							 m->stamp, errmsg));
		unclaim(w);
		if (rv == CFS_ENOENT)
			rv = 0;
	}
	if (rv != 0) {
		cfs_errmsg_prefix(errmsg, KEY_FMT ": delete", KEY_ARGS(m));
		LOG_WARN("%s", errmsg);
		send_error(w, rq, rv, errmsg);
		return;
	}
	memset(&ok, 0, sizeof(ok));
	send_reply(w, rq, WIRE_T_ok, CFS_OK, &ok, NULL);
}

/* ---- node_where ---------------------------------------------------------- */

/* node_where: the node's uuid and data directory.  A client that finds
 * DIR/node.uuid holding the same uuid reads this node's replicas from the
 * disk itself (client/localread.h); to any other it is only a name.  The
 * files are readable only as their permissions allow. */
static void
handle_where(struct worker *w, struct request *rq,
	     const struct wire_node_where *m)
{
	struct wire_node_here out;

	LOG_DEBUG("node_where (as node %" PRIu64 ") from %s", m->node,
		  rq->peer);
	memset(&out, 0, sizeof(out));
	memcpy(out.uuid, w->svc->uuid, sizeof(out.uuid));
	memcpy(out.dir, w->svc->dir, sizeof(out.dir));
	out.node = atomic_load(&w->svc->self_id);
	send_reply(w, rq, WIRE_T_node_here, CFS_OK, &out, NULL);
}

/* ---- dispatch ------------------------------------------------------------ */

/* A request the node cannot take: warn naming the peer, answer @status. */
static void
reject(struct worker *w, struct request *rq, int status, const char *why)
{
	LOG_WARN("peer %s: %s: %s", rq->peer, cfs_strerror(status), why);
	send_error(w, rq, status, why);
}

/* Decode frame 0 and run its handler; every path sends one reply. */
static void
serve(struct worker *w, struct request *rq)
{
	char errmsg[CFS_ERRMSG_SIZE];
	union wire_body *b = &w->body;
	int rv;

	rv = wire_decode(zmq_msg_data(&rq->frame), zmq_msg_size(&rq->frame),
			 &rq->h, b, errmsg);
	if (rv != 0) {
		/* Answer with the request id if at least the header is
		 * readable, so the sender's wait ends early. */
		char ignored[CFS_ERRMSG_SIZE];
		if (wire_header_decode(&rq->h, zmq_msg_data(&rq->frame),
				       zmq_msg_size(&rq->frame), ignored) != 0)
			memset(&rq->h, 0, sizeof(rq->h));
		reject(w, rq, rv, errmsg);
		return;
	}
	if (rq->h.flags & WIRE_F_REPLY) {
		reject(w, rq, CFS_MALFORMED, "a reply where a request belongs");
		return;
	}
	if (rq->extra) {
		reject(w, rq, CFS_MALFORMED, "more than two frames");
		return;
	}
	if (!(rq->h.flags & WIRE_F_BULK) != !rq->have_bulk) {
		reject(w, rq, CFS_MALFORMED,
		       "bulk flag and bulk frame disagree");
		return;
	}
	if (rq->have_bulk && rq->h.type != WIRE_T_frag_write) {
		reject(w, rq, CFS_MALFORMED, "bulk frame on a request that "
					     "takes none");
		return;
	}
	switch (rq->h.type) {
	case WIRE_T_frag_write:
		handle_write(w, rq, &b->frag_write);
		break;
	case WIRE_T_frag_read:
		handle_read(w, rq, &b->frag_read);
		break;
	case WIRE_T_frag_copy:
		handle_copy(w, rq, &b->frag_copy);
		break;
	case WIRE_T_frag_delete:
		handle_delete(w, rq, &b->frag_delete);
		break;
	case WIRE_T_node_where:
		handle_where(w, rq, &b->node_where);
		break;
	default:
		cfs_errmsg_set(errmsg, "%s is not a data node request",
			       wire_type_name(rq->h.type));
		reject(w, rq, CFS_BADTYPE, errmsg);
	}
}

static void
request_close(struct request *rq)
{
	zmq_msg_close(&rq->ident);
	zmq_msg_close(&rq->frame);
	zmq_msg_close(&rq->bulk);
}

/* Receive the remaining frames of a message after @last; return 1 if
 * there were any (they are dropped). */
static int
drain_frames(void *sock, zmq_msg_t *last)
{
	int more = zmq_msg_more(last), extra = 0;

	while (more) {
		zmq_msg_t junk;
		zmq_msg_init(&junk);
		more = zmq_msg_recv(&junk, sock, 0) >= 0 && zmq_msg_more(&junk);
		zmq_msg_close(&junk);
		extra = 1;
	}
	return extra;
}

/*
 * Take one request from the front if one is waiting, with front_lock
 * held: [identity][frame 0][bulk?].  0 with @rq filled (the caller closes
 * it with request_close), 1 for a message too short to answer (dropped),
 * 2 if none is waiting, -1 when the context is shutting down.
 */
static int
recv_front(struct service *s, struct request *rq)
{
	memset(rq, 0, sizeof(*rq));
	zmq_msg_init(&rq->ident);
	zmq_msg_init(&rq->frame);
	zmq_msg_init(&rq->bulk);
	if (zmq_msg_recv(&rq->ident, s->front, ZMQ_DONTWAIT) < 0) {
		int e = zmq_errno();
		request_close(rq);
		if (e == EAGAIN || e == EINTR)
			return 2;
		if (e == ETERM)
			return -1;
		LOG_ERROR("data service: recv: %s", zmq_strerror(e));
		return 1;
	}
	/* The rest of a message arrives with its first frame. */
	if (!zmq_msg_more(&rq->ident))
		goto dropped;
	if (zmq_msg_recv(&rq->frame, s->front, 0) < 0)
		goto failed;
	/* (the peer's address is on the frames the peer sent, not on the
	 * identity ROUTER made up) */
	const char *peer = zmq_msg_gets(&rq->frame, "Peer-Address");
	snprintf(rq->peer, sizeof(rq->peer), "%s", peer != NULL ? peer : "?");
	if (zmq_msg_more(&rq->frame)) {
		if (zmq_msg_recv(&rq->bulk, s->front, 0) < 0)
			goto failed;
		rq->have_bulk = 1;
		rq->extra = drain_frames(s->front, &rq->bulk);
	}
	return 0;
failed:;
	int e = zmq_errno(); /* (before the frames' free callbacks run) */
	request_close(rq);
	if (e == ETERM)
		return -1;
	LOG_ERROR("data service: recv: %s", zmq_strerror(e));
	return 1;
dropped:
	request_close(rq);
	return 1;
}

/*
 * Wait for the next request as the leader (s->front, above), or for
 * the lead.  0 with @rq filled, 1 for a message dropped, -1 at shutdown.
 */
static int
recv_request(struct worker *w, struct request *rq)
{
	struct service *s = w->svc;
	int rv;

	pthread_mutex_lock(&s->lead_lock);
	for (;;) {
		pthread_mutex_lock(&s->front_lock);
		s->leader_waiting = 0;
		rv = s->stopping ? -1 : recv_front(s, rq);
		/* set before the lock is let go: an answer sent from now on
		 * wakes this wait if it took the signal (front_kick_locked) */
		s->leader_waiting = rv == 2;
		pthread_mutex_unlock(&s->front_lock);
		if (rv != 2)
			break;
		front_wait(s);
	}
	pthread_mutex_unlock(&s->lead_lock);
	return rv;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct service *s = w->svc;
	struct request rq;
	int rv;

	while ((rv = recv_request(w, &rq)) >= 0) {
		if (rv > 0)
			continue;
		atomic_fetch_add(&s->load, 1);
		serve(w, &rq);
		atomic_fetch_sub(&s->load, 1);
		atomic_fetch_add(&s->served, 1);
		request_close(&rq);
	}
	return NULL;
}

/* ---- start and stop ------------------------------------------------------ */

/* The ROUTER front on @listen, its ZMQ_FD and the leader's eventfd. */
static int
open_sockets(struct service *s, const char *listen, char *errmsg)
{
	char endpoint[ENDPOINT_SIZE];
	int linger = 0;
	int64_t maxmsg = CFS_BULK_MAX;
	size_t sz = sizeof(s->front_fd);

	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0)
		return cfs_fail_errno(errmsg, errno, "eventfd");
	s->front = zmq_socket(s->zctx, ZMQ_ROUTER);
	if (s->front == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "zmq_socket: %s",
				zmq_strerror(zmq_errno()));
	zmq_setsockopt(s->front, ZMQ_LINGER, &linger, sizeof(linger));
	/* ZeroMQ drops a peer that sends a frame over this size. */
	zmq_setsockopt(s->front, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	snprintf(endpoint, sizeof(endpoint), "%s%s",
		 strncmp(listen, "tcp://", 6) ? "tcp://" : "", listen);
	if (zmq_bind(s->front, endpoint) != 0)
		return cfs_fail(errmsg, CFS_CONFIG, "listen %s: %s", endpoint,
				zmq_strerror(zmq_errno()));
	if (zmq_getsockopt(s->front, ZMQ_FD, &s->front_fd, &sz) != 0)
		return cfs_fail(errmsg, CFS_INTERNAL, "ZMQ_FD: %s",
				zmq_strerror(zmq_errno()));
	return 0;
}

static int
open_worker(struct service *s, struct worker *w, char *errmsg)
{
	w->svc = s;
	return nc_open(&w->nc, s->zctx, errmsg);
}

static int
start_threads(struct service *s, char *errmsg)
{
	int e;

	for (int i = 0; i < s->n_workers; i++) {
		struct worker *w = &s->workers[i];
		if ((e = pthread_create(&w->thread, NULL, worker_main, w)) != 0)
			return cfs_fail_errno(errmsg, e, "worker thread");
		w->running = 1;
	}
	return 0;
}

/* Stop what runs and free what exists, in any state service_start may
 * leave @s in.  `stopping` and wake_fd end the leader's wait (the others
 * see `stopping` when they lead), zmq_ctx_shutdown() makes every blocking
 * call of every thread return ETERM; the sockets are closed once the
 * threads are gone, then the context is terminated. */
static void
teardown(struct service *s)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->front_lock);
	s->stopping = 1;
	pthread_mutex_unlock(&s->front_lock);
	if (s->wake_fd >= 0 && write(s->wake_fd, &one, sizeof(one)) < 0)
		LOG_ERROR("data service: eventfd: %s", strerror(errno));
	if (s->zctx != NULL)
		zmq_ctx_shutdown(s->zctx);
	for (int i = 0; s->workers != NULL && i < s->n_workers; i++) {
		struct worker *w = &s->workers[i];
		if (w->running)
			pthread_join(w->thread, NULL);
		nc_close(&w->nc);
	}
	if (s->front != NULL)
		zmq_close(s->front);
	if (s->zctx != NULL)
		zmq_ctx_term(s->zctx);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	pthread_mutex_destroy(&s->lead_lock);
	pthread_mutex_destroy(&s->front_lock);
	pthread_cond_destroy(&s->claim_freed);
	pthread_mutex_destroy(&s->claim_lock);
	pthread_mutex_destroy(&s->epoch_lock);
	free(s->workers);
	free(s);
}

int
service_start(struct service **out, struct store *st,
	      const struct service_options *o, char *errmsg)
{
	struct service *s = calloc(1, sizeof(*s));
	int rv;

	if (s == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "data service");
	pthread_mutex_init(&s->claim_lock, NULL);
	pthread_cond_init(&s->claim_freed, NULL);
	pthread_mutex_init(&s->front_lock, NULL);
	pthread_mutex_init(&s->lead_lock, NULL);
	s->wake_fd = -1;
	pthread_mutex_init(&s->epoch_lock, NULL);
	s->st = st;
	s->n_workers = o->workers > 0 ? o->workers : WORKERS_DEFAULT;
	s->forward_timeout_ms = o->forward_timeout_ms > 0
					? o->forward_timeout_ms
					: FORWARD_TIMEOUT_DEFAULT_MS;
	atomic_init(&s->self_id, o->self_id);
	snprintf(s->uuid, sizeof(s->uuid), "%s", o->uuid ? o->uuid : "");
	snprintf(s->dir, sizeof(s->dir), "%s", o->dir ? o->dir : "");
	atomic_init(&s->load, 0);
	atomic_init(&s->served, 0);
	atomic_init(&s->io_errors, 0);
	s->workers = calloc((size_t)s->n_workers + 1, sizeof(*s->workers));
	s->zctx = zmq_ctx_new();
	if (s->workers == NULL || s->zctx == NULL) {
		rv = cfs_fail(errmsg, CFS_ENOMEM, "data service");
		goto err;
	}
	s->workers[s->n_workers].svc = s; /* the beat thread's claim slot */
	rv = open_sockets(s, o->listen != NULL ? o->listen : "", errmsg);
	for (int i = 0; rv == 0 && i < s->n_workers; i++)
		rv = open_worker(s, &s->workers[i], errmsg);
	if (rv == 0)
		rv = start_threads(s, errmsg);
	if (rv != 0)
		goto err;
	LOG_INFO("data service on %s: %d workers", o->listen ? o->listen : "?",
		 s->n_workers);
	*out = s;
	return 0;
err:
	teardown(s);
	return rv;
}

void
service_set_id(struct service *s, uint64_t id)
{
	atomic_store(&s->self_id, id);
}

int
service_delete_stamp(struct service *s, const struct store_key *k,
		     uint64_t stamp, char *errmsg)
{
	struct worker *slot = &s->workers[s->n_workers];

	claim(slot, k, NULL);
	int rv = store_rc(s, store_delete_stamp(s->st, k, stamp, errmsg));
	unclaim(slot);
	return rv;
}

int
service_verify(struct service *s, const struct store_key *k, char *errmsg)
{
	struct worker *slot = &s->workers[s->n_workers];
	int rv = store_verify(s->st, k, errmsg);

	if (rv != CFS_CORRUPT)
		return store_rc(s, rv);
	/* (see read_checked: a patch in place may have been running) */
	claim(slot, k, NULL);
	rv = store_rc(s, store_verify(s->st, k, errmsg));
	unclaim(slot);
	return rv;
}

void
service_stats(struct service *s, uint32_t *load, uint32_t *io_errors)
{
	if (load != NULL)
		*load = atomic_load(&s->load);
	if (io_errors != NULL)
		*io_errors = atomic_load(&s->io_errors);
}

uint64_t
service_served(struct service *s)
{
	return atomic_load(&s->served);
}

void
service_stop(struct service **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	teardown(*sp);
	*sp = NULL;
}
