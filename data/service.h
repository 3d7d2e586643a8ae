/* service.h - the data node's request service: frag_write/read/copy/delete over ZeroMQ. */
#ifndef CFS_DATA_SERVICE_H
#define CFS_DATA_SERVICE_H

/*
 * What a data node answers on its ROUTER socket (docs/data-path.md "Writing
 * a fragment", "Reading", "Repair"): the messages frag_write .. frag_delete
 * of common/proto.h, on top of the fragment store (data/store.h).
 *
 * Threads: `workers` worker threads share the ROUTER socket, leader and
 * followers: the one leading waits for a request, takes it, hands the
 * lead to the next idle worker and serves the request, answering on the
 * same socket (every call on it under one lock).  Each worker owns a
 * nodeclient (client/nodeclient.h) to forward writes down a chain and
 * pull copies.
 * A worker serves one request at a time, so a request waiting for the next
 * node of its chain holds one worker and nothing else.
 *
 * Concurrency on the store: the service serialises requests that touch the
 * same replica (and, for a patch, its base version), as data/store.h asks
 * of its callers; requests on other keys run in parallel.
 *
 * Every request gets one reply with the request's request_id and
 * WIRE_F_REPLY; a malformed request gets `error` CFS_MALFORMED (or the
 * decoder's code) and a warning naming the peer, and the node keeps serving.
 */

#include <stdint.h>

struct store;
struct store_key;
struct service;

struct service_options {
	const char *listen;     /* "tcp://0.0.0.0:7100"; "tcp://" optional;
				 * borrowed, used only by service_start */
	int workers;            /* worker threads; <= 0: 8 */
	int forward_timeout_ms; /* wait for the next node of a chain;
				 * <= 0: 10000 */
	uint64_t self_id;       /* this node's registry id, 0 before
				 * registration; see service_set_id() */
	/* what node_where answers (copied; NULL: ""): the node's uuid and
	 * its data directory as an absolute path, so that a client on this
	 * machine can read replicas from the disk (client/localread.h) */
	const char *uuid;
	const char *dir;
};

/*
 * Bind @o->listen and start the worker threads.  @st is borrowed
 * and must outlive the service (close it after service_stop()); @o is
 * borrowed for the call.  @errmsg: CFS_ERRMSG_SIZE bytes, caller-owned.
 * On success *@out is a running service that the caller stops and frees
 * with service_stop(); on failure (CFS_CONFIG: cannot bind; CFS_ENOMEM;
 * CFS_INTERNAL: cannot start a thread) nothing is left running and *@out
 * is untouched.
 */
int service_start(struct service **out, struct store *st,
		  const struct service_options *o, char *errmsg);

/* Set the node id that frag_written replies name as failed_node for a
 * local failure (atomic; any thread, while requests run). */
void service_set_id(struct service *s, uint64_t id);

/* Requests in progress now and store I/O errors (CFS_EIO) since start, for
 * node_heartbeat (atomic reads; any thread).  Either pointer may be NULL. */
void service_stats(struct service *s, uint32_t *load, uint32_t *io_errors);

/* Requests answered since start (atomic; any thread): the scrub slows
 * down while this moves. */
uint64_t service_served(struct service *s);

/* store_delete_stamp of @k under the claim of its fragment, as a
 * frag_delete is (for the beat thread: one caller at a time). */
int service_delete_stamp(struct service *s, const struct store_key *k,
			 uint64_t stamp, char *errmsg);

/* store_verify of @k (the scrub), and if that finds it CFS_CORRUPT,
 * again under the claim of its fragment: a patch in place that was
 * running meanwhile makes a sound replica look corrupt to a reader
 * (for the beat thread: one caller at a time, as service_delete_stamp). */
int service_verify(struct service *s, const struct store_key *k,
		   char *errmsg);

/* Stop every thread (requests in progress are cut short: a forward or pull
 * in flight fails, its reply is dropped), close the sockets, free *@s and
 * set it to NULL.  NULL or *@s NULL: no-op.  The store is not closed. */
void service_stop(struct service **s);

#endif /* CFS_DATA_SERVICE_H */
