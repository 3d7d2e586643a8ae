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

/* Both ends of socket @fd; 0 on success. */
static int
ends(int fd, struct sockaddr_storage *local, struct sockaddr_storage *peer)
{
	socklen_t ll = sizeof(*local), pl = sizeof(*peer);
	memset(local, 0, sizeof(*local));
	memset(peer, 0, sizeof(*peer));
	return getsockname(fd, (struct sockaddr *)local, &ll) != 0 ||
	       getpeername(fd, (struct sockaddr *)peer, &pl) != 0;
}

/* A new Raft connection: remember it, and cut it at once if isolated
 * (raft_uv then sees its reads and writes fail and retries later). */
static void
track(struct xport *x, struct uv_stream_s *stream)
{
	uv_os_fd_t fd;
	if (stream == NULL || uv_fileno((uv_handle_t *)stream, &fd) != 0)
		return;
	unsigned i = x->next_conn++ % XPORT_CONNS;
	x->conns[i].fd = -1;
	if (ends(fd, &x->conns[i].local, &x->conns[i].peer) == 0)
		x->conns[i].fd = fd;
	if (x->isolated)
		shutdown(fd, SHUT_RDWR);
}

void
xport_isolate(struct xport *x, int on)
{
	x->isolated = on;
	if (!on)
		return;
	for (unsigned i = 0; i < XPORT_CONNS; i++) {
		struct sockaddr_storage l, p;
		int fd = x->conns[i].fd;
		/* the fd may have been closed and reused: shut it down only
		 * if both of its ends are still the ones recorded */
		if (fd >= 0 && ends(fd, &l, &p) == 0 &&
		    memcmp(&l, &x->conns[i].local, sizeof(l)) == 0 &&
		    memcmp(&p, &x->conns[i].peer, sizeof(p)) == 0)
			shutdown(fd, SHUT_RDWR);
		x->conns[i].fd = -1;
	}
}

static void
xport_accept(struct raft_uv_transport *tcp, raft_id id, const char *address,
	     struct uv_stream_s *stream)
{
	struct xport *x = CONTAINER_OF(tcp, struct xport, tcp);
	nodelay(stream);
	track(x, stream);
	x->accept_cb(&x->outer, id, address, stream);
}

/* A connect request of ours wrapping raft's, so the new stream gets
 * TCP_NODELAY before raft sees it. */
struct xconnect {
	struct raft_uv_connect req; /* what the TCP transport holds */
	struct raft_uv_connect *orig;
	struct xport *x;
};

static void
xport_connected(struct raft_uv_connect *req, struct uv_stream_s *stream,
		int status)
{
	struct xconnect *xc = CONTAINER_OF(req, struct xconnect, req);
	struct raft_uv_connect *orig = xc->orig;
	struct xport *x = xc->x;

	free(xc);
	if (status == 0) {
		nodelay(stream);
		track(x, stream);
	}
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
	xc->x = x;
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
	for (unsigned i = 0; i < XPORT_CONNS; i++)
		x->conns[i].fd = -1;
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

