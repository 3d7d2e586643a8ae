/* metaclient.h - client side of the metadata protocol: sessions, leader discovery, exactly-once retries. */
#ifndef CFS_CLIENT_METACLIENT_H
#define CFS_CLIENT_METACLIENT_H

/*
 * One `struct mc` is one client session with a metadata cluster
 * (DESIGN.md §2, docs/architecture.md "Flow of a metadata mutation").
 *
 *  - mc_open() opens a session (session_open -> client_id) unless asked not
 *    to; a background thread sends `keepalive` every third of the lease
 *    over its own socket, so a slow call never lets the session expire.
 *  - mc_call() gives every logical request one (client_id, sequence) pair
 *    and keeps it identical across all retries: the state machine applies
 *    a request at most once and answers a retry with the stored reply, so a
 *    request retried across a leader change is applied exactly once.
 *  - Each attempt has its own request_id; a reply with another request_id
 *    is stale and dropped.  ZeroMQ reconnects silently, so every wait is
 *    bounded (zmq_poll), a socket monitor reports a lost connection at once,
 *    and the socket is recreated whenever the call moves to another server,
 *    which also drops replies still queued from the old one.
 *  - NOTLEADER replies name the leader: the call goes there next.  Timeouts,
 *    lost connections and NOLEADER rotate through the known servers with
 *    exponential backoff until the call's deadline.
 *
 * Thread safety: all calls on one mc are safe from any thread; they are
 * serialized (one request in flight per session, which the exactly-once
 * rule requires).  For parallelism open one mc per thread.
 * No global state: each mc owns its ZeroMQ context unless given one to
 * share (mc_options.zmq_context).
 */

#include <stdint.h>

#include "common/wire.h"

struct mc;

struct mc_options {
	const char *client_name; /* shown in server logs; NULL = "cfs" */
	uint32_t lease_ms;       /* requested session lease; 0 = 10000 */
	int attempt_timeout_ms;  /* wait for one reply; 0 = 1000 */
	int deadline_ms;         /* default overall deadline; 0 = 15000 */
	int no_session;          /* 1: send requests with client_id 0 and no
				    sequence (cluster administration before a
				    session can exist) */
	uint32_t uid, gid;       /* credentials sent with namespace calls;
				    set use_cred to use them, else the
				    process's own are sent */
	int use_cred;
	uint64_t lease_owner;    /* the mount this session acts for
				    (docs/leases.md): the lease owner of
				    another mc of the mount; 0 = this
				    session's own first id */
	void *zmq_context;       /* borrowed ZeroMQ context to share among
				    many mc's of one process (one I/O thread
				    instead of one each); must outlive them.
				    NULL: the mc makes its own */
	/* Called at most once per call (mc_open's session_open included),
	 * on the calling thread, when the call has gone notice_ms without a
	 * usable answer and is still retrying: @what says what it waits for
	 * and the last reason ("no answer from tcp://h:p yet (tcp://h:p:
	 * connection refused)", "no metadata leader yet (...)"; borrowed for
	 * the call), @left_ms how much longer it will retry.  It must not
	 * call into the mc.  NULL: no notice (libraries stay silent). */
	void (*on_wait)(void *arg, const char *what, int left_ms);
	void *on_wait_arg;
	int notice_ms;           /* 0 = 2000 */
	/* Called at the start of every mc_call, on the calling thread,
	 * before anything is sent: it may wait (cfs-fuse holds every call
	 * of the mount back until the creates it answered before are
	 * committed: docs/leases.md).  NULL: none. */
	void (*before_call)(void *arg);
	void *before_call_arg;
};

/*
 * Connect to the cluster whose metadata servers listen at @servers, a
 * comma-separated list of "host:port" or "tcp://host:port" (borrowed; more
 * servers are learnt from NOTLEADER replies).  @opt may be NULL (defaults).
 * Opens the session unless opt->no_session, waiting up to the deadline for
 * a leader.  On success *out is a new mc: free it with mc_close().
 * Errors: CFS_EINVAL (bad address list), CFS_NOLEADER / CFS_ETIMEDOUT (no
 * server answered; errmsg names the addresses tried), CFS_ENOMEM, or the
 * status the leader refused the session with.
 */
int mc_open(struct mc **out, const char *servers, const struct mc_options *opt,
	    char *errmsg);

/* Make the call now waiting on @mc, and every later one, return
 * CFS_CANCELED at once (within 50 ms) instead of waiting out its reply or
 * deadline: another thread stopping one parked in a long call (the lease
 * watcher, at unmount).  Only mc_close is left to do; it still closes the
 * session.  Thread-safe. */
void mc_cancel(struct mc *mc);

/* Close the session (best effort, a short wait), stop the keepalive thread,
 * free everything and set *mc to NULL.  NULL-safe. */
void mc_close(struct mc **mc);

/*
 * Send request @type with body @req (borrowed; a struct wire_<type>) and
 * wait for its reply, retrying as described above until @timeout_ms
 * (<= 0: the mc's default deadline).  Cases:
 *  1) the request succeeded: returns 0, *reply_type is the reply's type
 *     and *reply its decoded body;
 *  2) the server answered with an error: returns its status (CFS_ENOENT,
 *     ...) and errmsg holds the server's message;
 *  3) no leader could be reached before the deadline: CFS_NOLEADER (some
 *     server answered that there is none) or CFS_ETIMEDOUT, errmsg naming
 *     every address tried and the request's fate: "never reached a
 *     server" (no connection was ever made), "outcome unknown" (a request
 *     that may change state was sent and not answered: it may or may not
 *     have been applied) or "not done";
 *  4) the session expired (CFS_NOSESSION): if the request cannot have been
 *     applied, a new session is opened and the request sent again under
 *     it; otherwise CFS_NOSESSION is returned (outcome unknown);
 *  5) CFS_LEASE_BUSY (another mount's lease is in the way; nothing
 *     changed): sent again as a new request after 2 ms, doubling to
 *     100 ms, until the deadline; lease_get is not retried (its callers
 *     decide how long to wait).
 * @reply_type and @reply may be NULL.  `blob` fields of *reply borrow
 * from the mc, valid until the next call on it.
 */
int mc_call(struct mc *mc, uint16_t type, const void *req,
	    uint16_t *reply_type, union wire_body *reply, int timeout_ms,
	    char *errmsg);

/* The deadline of later calls made with timeout 0 (mc_options'
 * deadline_ms) becomes @deadline_ms (> 0); returns the one it replaces. */
int mc_set_deadline(struct mc *mc, int deadline_ms);

/* The session's client id (0 without a session). */
uint64_t mc_client_id(struct mc *mc);

/* The address the mc currently believes is the leader ("tcp://h:p"),
 * copied into @buf of @size bytes. */
void mc_leader(struct mc *mc, char *buf, size_t size);

/*
 * Until when (CLOCK_MONOTONIC milliseconds) the session is surely alive at
 * the leader: the send time of its last acknowledged keepalive (or of its
 * opening) plus 8/10 of its lease.  The leader expires a session only a
 * whole lease after it last heard from it, so leases held through this
 * session may be used until then (the rest is the clock-safety margin,
 * docs/leases.md).  0 without a session.  *opens (if not NULL) counts the
 * sessions opened so far: a change means the old one, and its leases, may
 * be gone.
 */
int64_t mc_alive_until(struct mc *mc, unsigned *opens);

/* The lease owner this mc's sessions name (0 before the first session). */
uint64_t mc_lease_owner(struct mc *mc);

/* The credentials this mc sends with namespace calls. */
void mc_cred(struct mc *mc, struct wire_cred *c);

/* ---- typed namespace calls ----------------------------------------------
 * Each fills the request's credentials, calls mc_call() with the default
 * deadline and checks the reply's type (CFS_MALFORMED if unexpected).
 * Out-parameters may be NULL when not needed. */

int mc_lookup(struct mc *mc, uint64_t parent, const char *name,
	      struct wire_attr *attr, char *errmsg);
int mc_getattr(struct mc *mc, uint64_t ino, struct wire_attr *attr,
	       char *errmsg);
/* Create a directory (mknod with S_IFDIR | @mode). */
int mc_mkdir(struct mc *mc, uint64_t parent, const char *name, uint32_t mode,
	     struct wire_attr *attr, char *errmsg);
/* Create a regular file, failing with CFS_EEXIST if @name exists. */
int mc_create(struct mc *mc, uint64_t parent, const char *name, uint32_t mode,
	      struct wire_attr *attr, char *errmsg);
int mc_unlink(struct mc *mc, uint64_t parent, const char *name, char *errmsg);
int mc_rmdir(struct mc *mc, uint64_t parent, const char *name, char *errmsg);
int mc_rename(struct mc *mc, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, uint32_t flags,
	      char *errmsg);
/* Set the permission bits of @ino (chmod). */
int mc_chmod(struct mc *mc, uint64_t ino, uint32_t mode,
	     struct wire_attr *attr, char *errmsg);
/* One page of directory @ino from @cookie (0 = start); @out is caller
 * memory (struct wire_dirents is large: allocate it).  @names_only: the
 * caller uses no file's size (a walk, a short listing): the leader does
 * not wait for the seal of a file another mount appends to in place. */
int mc_readdir(struct mc *mc, uint64_t ino, uint64_t cookie,
	       uint32_t max_entries, int names_only, struct wire_dirents *out,
	       char *errmsg);

#endif /* CFS_CLIENT_METACLIENT_H */
