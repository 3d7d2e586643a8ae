/* front.h - cfs-meta's client front: the ZeroMQ ROUTER socket, requests decoded and dispatched, replies sent, the requests in flight. */
#ifndef CFS_META_FRONT_H
#define CFS_META_FRONT_H

/*
 * Part of the server (meta/server_int.h): everything here runs on the
 * server's loop thread.  @ident is the ZeroMQ routing identity of the
 * client a reply goes to (borrowed; ident_len 0: an internal request,
 * nobody to answer, and sending is a no-op).  Replies are sent with
 * ZMQ_DONTWAIT: a client that stopped reading never blocks the server.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"
#include "meta/server_int.h"

/* Create the ROUTER socket and bind it to opt.listen; s->zfd is its
 * ZMQ_FD for the loop's poll handle.  CFS_CONFIG (cannot bind) or another
 * CFS code with errmsg; meta_server_free() closes what was made. */
int front_setup(struct meta_server *s, char *errmsg);

/* Read and handle every message ZeroMQ has for us (ZMQ_FD is
 * edge-triggered: call it from the poll callback and every loop turn). */
void front_drain(struct meta_server *s);

/* ---- replies ------------------------------------------------------------ */

/* Send @frame (a reply produced elsewhere, borrowed) with its request id
 * replaced by @request_id (this attempt's). */
void front_send_reply_frame(struct meta_server *s, const uint8_t *ident,
			    size_t ident_len, uint64_t request_id,
			    const uint8_t *frame, size_t len);

/* Answer @req with error @status and @message (may be NULL).  NOTLEADER
 * carries the leader's client address, or becomes NOLEADER when none is
 * known. */
void front_send_error(struct meta_server *s, const uint8_t *ident,
		      size_t ident_len, const struct wire_header *req,
		      int status, const char *message);

/* Answer @req with a reply of @type and @body (borrowed). */
void front_send_body(struct meta_server *s, const uint8_t *ident,
		     size_t ident_len, const struct wire_header *req,
		     uint16_t type, const void *body);

/* Answer @p with an error unless it is answered already; marks it
 * answered. */
void front_answer_error(struct meta_server *s, struct pending *p, int status,
			const char *message);

/* ---- requests in flight -------------------------------------------------- */

/* A new request for the log or a read, from @h and @body (borrowed; encoded
 * into p->frame), counted in s->inflight; not hashed or queued.  NULL when
 * out of memory.  Freed with pending_free(). */
struct pending *pending_new(struct meta_server *s, const uint8_t *ident,
			    size_t ident_len, const struct wire_header *h,
			    const void *body);

/* The hashed request (@client_id, @seq), or NULL. */
struct pending *pending_find(struct meta_server *s, uint64_t client_id,
			     uint64_t seq);

/* Take @p out of the hash (a no-op if it is not in it). */
void pending_unhash(struct meta_server *s, struct pending *p);

/* Unhash and free @p (not on any list any more). */
void pending_free(struct meta_server *s, struct pending *p);

/* Answer every request of @l with @status and @m, free them, empty @l. */
void front_fail_queue(struct meta_server *s, struct plist *l, int status,
		      const char *m);

/* Queue a command of the leader's own (client id 0, a fresh tag as its
 * sequence; @body borrowed) for the next entry.  CFS_ENOMEM or 0. */
int front_enqueue_internal(struct meta_server *s, uint16_t type,
			   const void *body);

#endif /* CFS_META_FRONT_H */
