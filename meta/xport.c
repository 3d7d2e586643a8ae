/* xport.c - raft_uv's TCP transport behind "raft/client" addresses (see xport.h). */
#include "meta/xport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTAINER_OF(p, type, member)                                        \
	((type *)(void *)((char *)(p)-offsetof(type, member)))

/* The Raft part of "raft/client". */
void
addr_raft_part(const char *address, char *out, size_t cap)
{
	const char *slash = strchr(address, '/');
	size_t n = slash ? (size_t)(slash - address) : strlen(address);

	if (n >= cap)
		n = cap - 1;
	memcpy(out, address, n);
	out[n] = '\0';
}

/* The client part of "raft/client" ("" if absent). */
const char *
addr_client_part(const char *address)
{
	const char *slash = address ? strchr(address, '/') : NULL;
	return slash ? slash + 1 : "";
}

static int
xport_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
	struct xport *x = t->impl;
	int rv = x->tcp.init(&x->tcp, id, address);
	if (rv != 0)
		memcpy(t->errmsg, x->tcp.errmsg, sizeof(t->errmsg));
	return rv;
}

static void
nodelay(struct uv_stream_s *stream)
{
	if (stream != NULL && stream->type == UV_TCP)
		uv_tcp_nodelay((uv_tcp_t *)stream, 1);
}

static void
xport_accept(struct raft_uv_transport *tcp, raft_id id, const char *address,
	     struct uv_stream_s *stream)
{
	struct xport *x = CONTAINER_OF(tcp, struct xport, tcp);
	nodelay(stream);
	x->accept_cb(&x->outer, id, address, stream);
}

/* A connect request of ours wrapping raft's, so the new stream gets
 * TCP_NODELAY before raft sees it. */
struct xconnect {
	struct raft_uv_connect req; /* what the TCP transport holds */
	struct raft_uv_connect *orig;
};

static void
xport_connected(struct raft_uv_connect *req, struct uv_stream_s *stream,
		int status)
{
	struct xconnect *xc = CONTAINER_OF(req, struct xconnect, req);
	struct raft_uv_connect *orig = xc->orig;

	free(xc);
	if (status == 0)
		nodelay(stream);
	orig->cb(orig, stream, status);
}

static int
xport_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct xport *x = t->impl;
	x->accept_cb = cb;
	x->tcp.data = t->data;
	int rv = x->tcp.listen(&x->tcp, xport_accept);
	if (rv != 0)
		memcpy(t->errmsg, x->tcp.errmsg, sizeof(t->errmsg));
	return rv;
}

static int
xport_connect(struct raft_uv_transport *t, struct raft_uv_connect *req,
	      raft_id id, const char *address, raft_uv_connect_cb cb)
{
	struct xport *x = t->impl;
	char part[256];
	unsigned i;

	addr_raft_part(address, part, sizeof(part));
	for (i = 0; i < x->n_addrs; i++)
		if (x->addrs[i].id == id && strcmp(x->addrs[i].addr, part) == 0)
			break;
	if (i == x->n_addrs) {
		if (x->n_addrs < XPORT_ADDRS)
			x->n_addrs++;
		else
			i = (unsigned)(id % XPORT_ADDRS); /* reuse a slot */
		x->addrs[i].id = id;
		snprintf(x->addrs[i].addr, sizeof(x->addrs[i].addr), "%s",
			 part);
	}
	x->tcp.data = t->data;
	struct xconnect *xc = malloc(sizeof(*xc));
	if (xc == NULL)
		return RAFT_NOMEM;
	xc->orig = req;
	xc->req.data = req->data;
	req->cb = cb;
	int rv = x->tcp.connect(&x->tcp, &xc->req, id, x->addrs[i].addr,
				xport_connected);
	if (rv != 0) {
		free(xc);
		memcpy(t->errmsg, x->tcp.errmsg, sizeof(t->errmsg));
	}
	return rv;
}

static void
xport_closed(struct raft_uv_transport *tcp)
{
	struct xport *x = CONTAINER_OF(tcp, struct xport, tcp);
	if (x->close_cb)
		x->close_cb(&x->outer);
}

static void
xport_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	struct xport *x = t->impl;
	x->close_cb = cb;
	x->tcp.close(&x->tcp, xport_closed);
}

int
xport_setup(struct xport *x, uv_loop_t *loop, const char *bind)
{
	memset(x, 0, sizeof(*x));
	int rv = raft_uv_tcp_init(&x->tcp, loop);
	if (rv != 0)
		return rv;
	rv = raft_uv_tcp_set_bind_address(&x->tcp, bind);
	if (rv != 0) {
		raft_uv_tcp_close(&x->tcp);
		return rv;
	}
	x->outer.impl = x;
	x->outer.init = xport_init;
	x->outer.listen = xport_listen;
	x->outer.connect = xport_connect;
	x->outer.close = xport_close;
	return 0;
}

