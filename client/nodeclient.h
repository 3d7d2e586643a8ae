/* nodeclient.h - request/reply exchanges with data nodes: one socket per node, bounded waits. */
#ifndef CFS_CLIENT_NODECLIENT_H
#define CFS_CLIENT_NODECLIENT_H

/*
 * Who uses it: the client library (writes down a replica chain, reads),
 * data nodes (forwarding along a chain, pulling a copy from a source) and
 * the metadata leader's repair workers (copies and deletions).
 *
 * One `struct nc` keeps a DEALER socket per data node address it has
 * talked to.  Every exchange is one request (frame 0 + optional bulk frame)
 * and one reply, bounded by a timeout.  A timeout or a broken reply closes
 * that node's socket, so a late reply can never be taken for the answer to
 * a later request.
 *
 * Thread safety: none; an nc belongs to one thread at a time.  Several nc's
 * may share one ZeroMQ context (@zctx of nc_open).
 */

#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"

struct nc;

/* Open a connection cache.  @zctx: a ZeroMQ context to share (borrowed,
 * must outlive the nc), or NULL for a private one.  *out on success. */
int nc_open(struct nc **out, void *zctx, char *errmsg);

/* Close every socket, free, set *nc = NULL.  NULL-safe. */
void nc_close(struct nc **nc);

/*
 * Send request @type with body @req (borrowed) and @bulk_len bytes of
 * @bulk (borrowed; NULL when 0) to the data node at @addr ("host:port" or
 * "tcp://host:port"), and wait up to @timeout_ms for the reply.  Cases:
 *  1) a reply with status OK: returns 0; *reply_type and *reply (borrowed
 *     from the nc, valid until its next call) hold it; *rbulk / *rbulk_len
 *     the reply's bulk frame, if any (borrowed likewise; may be NULL);
 *  2) an error reply: returns its status, errmsg holds the node's message
 *     prefixed with @addr;
 *  3) no reply in time: CFS_ETIMEDOUT; a malformed reply: CFS_MALFORMED.
 * Any out-parameter may be NULL.
 */
int nc_call(struct nc *nc, const char *addr, uint16_t type, const void *req,
	    const void *bulk, size_t bulk_len, int timeout_ms,
	    uint16_t *reply_type, union wire_body **reply, const void **rbulk,
	    size_t *rbulk_len, char *errmsg);

/* nc_call in two halves, so that the caller can work while the node does:
 * nc_start sends (the bulk is copied; @bulk may be reused at once) and
 * returns; nc_finish waits for the reply, with nc_call's cases.  One
 * started request per nc at a time; another call on the nc in between
 * abandons it. */
int nc_start(struct nc *nc, const char *addr, uint16_t type, const void *req,
	     const void *bulk, size_t bulk_len, int timeout_ms, char *errmsg);
int nc_finish(struct nc *nc, uint16_t *reply_type, union wire_body **reply,
	      const void **rbulk, size_t *rbulk_len, char *errmsg);

/* Forget the socket to @addr (e.g. after the node was found dead). */
void nc_forget(struct nc *nc, const char *addr);

#endif /* CFS_CLIENT_NODECLIENT_H */
