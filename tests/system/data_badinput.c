/* data_badinput.c - bad requests to a running cfs-data: each gets a clear error, none harms the node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "client/nodeclient.h"
#include "common/error.h"

static int failures;

static void
expect(const char *what, int got, int want, const char *errmsg)
{
	if (got == CFS_OK)
		errmsg = "";
	if (got == want) {
		printf("ok   %s: %s%s%s\n", what, cfs_errname(got),
		       errmsg[0] ? ": " : "", errmsg);
	} else {
		printf("FAIL %s: got %s (%s), want %s\n", what,
		       cfs_errname(got), errmsg, cfs_errname(want));
		failures++;
	}
}

/* Send raw frames and return the status of the reply (or -1 on no reply). */
static int
raw(void *ctx, const char *addr, const void *a, size_t alen, const void *b,
    size_t blen, char *errmsg)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	char ep[300];
	int zero = 0, rv = -1;

	snprintf(ep, sizeof(ep), "tcp://%s", addr);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_connect(s, ep);
	zmq_send(s, a, alen, b ? ZMQ_SNDMORE : 0);
	if (b)
		zmq_send(s, b, blen, 0);
	zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
	errmsg[0] = '\0';
	if (zmq_poll(&it, 1, 5000) == 1) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, 0) >= 0) {
			struct wire_header h;
			union wire_body *body = malloc(sizeof(*body));
			if (wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), &h,
					body, errmsg) == 0) {
				rv = h.status;
				if (h.type == WIRE_T_error)
					snprintf(errmsg, CFS_ERRMSG_SIZE, "%s",
						 body->error.message);
			}
			free(body);
		}
		zmq_msg_close(&m);
	} else {
		snprintf(errmsg, CFS_ERRMSG_SIZE, "no reply in 5 s");
	}
	zmq_close(s);
	return rv;
}

int
main(int argc, char **argv)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	struct nc *nc = NULL;
	void *ctx = zmq_ctx_new();
	int rv;

	if (argc != 2) {
		fprintf(stderr, "usage: data_badinput HOST:PORT\n");
		return 2;
	}
	const char *addr = argv[1];
	if (nc_open(&nc, ctx, errmsg) != 0)
		return 2;

	rv = raw(ctx, addr, "garbage!", 8, NULL, 0, errmsg);
	expect("8 bytes of garbage", rv, CFS_MALFORMED, errmsg);

	uint8_t frame[WIRE_HEADER_SIZE + 64];
	size_t len = 0;
	struct wire_header h = {.type = WIRE_T_frag_read, .request_id = 7};
	struct wire_frag_read rd = {.ino = 1, .idx = 0, .version = 1,
				    .len = 10};
	wire_encode_into(&h, &rd, frame, sizeof(frame), &len, errmsg);
	rv = raw(ctx, addr, frame, len - 3, NULL, 0, errmsg);
	expect("a truncated frag_read", rv, CFS_MALFORMED, errmsg);

	h.type = WIRE_T_lookup;
	struct wire_lookup lk;
	memset(&lk, 0, sizeof(lk));
	wire_encode_into(&h, &lk, frame, sizeof(frame), &len, errmsg);
	rv = raw(ctx, addr, frame, len, NULL, 0, errmsg);
	expect("a metadata request", rv, CFS_BADTYPE, errmsg);

	h.type = WIRE_T_frag_write;
	h.flags = WIRE_F_BULK;
	struct wire_frag_write *wr = calloc(1, sizeof(*wr));
	wr->ino = 5;
	wr->version = 1;
	wr->length = 4;
	uint8_t *big = malloc(64 << 10);
	wire_encode_into(&h, wr, big, 64 << 10, &len, errmsg);
	rv = raw(ctx, addr, big, len, NULL, 0, errmsg);
	expect("a write flagged with bulk data but without it", rv,
	       CFS_MALFORMED, errmsg);

	rv = nc_call(nc, addr, WIRE_T_frag_read, &rd, NULL, 0, 5000, NULL,
		     NULL, NULL, NULL, errmsg);
	expect("reading an unknown fragment", rv, CFS_ENOENT, errmsg);

	rd.len = CFS_BULK_MAX + 1;
	rv = nc_call(nc, addr, WIRE_T_frag_read, &rd, NULL, 0, 5000, NULL,
		     NULL, NULL, NULL, errmsg);
	expect("a read larger than a fragment can be", rv, CFS_EINVAL, errmsg);

	wr->offset = 2; /* 2 + 4 bytes of bulk > length 4 */
	rv = nc_call(nc, addr, WIRE_T_frag_write, wr, "abcd", 4, 5000, NULL,
		     NULL, NULL, NULL, errmsg);
	expect("a write past the replica's length", rv, CFS_EINVAL, errmsg);

	wr->offset = 0;
	wr->version = 0;
	rv = nc_call(nc, addr, WIRE_T_frag_write, wr, "abcd", 4, 5000, NULL,
		     NULL, NULL, NULL, errmsg);
	expect("a write of version 0", rv, CFS_EINVAL, errmsg);

	/* a well-formed write, then a read past its end: fewer bytes */
	wr->version = 1;
	uint16_t rt = 0;
	union wire_body *rep = NULL;
	const void *bulk = NULL;
	size_t blen = 99;
	rv = nc_call(nc, addr, WIRE_T_frag_write, wr, "abcd", 4, 5000, &rt,
		     &rep, NULL, NULL, errmsg);
	expect("a good write", rv, CFS_OK, errmsg);
	rd.ino = 5;
	rd.offset = 10;
	rd.len = 10;
	rv = nc_call(nc, addr, WIRE_T_frag_read, &rd, NULL, 0, 5000, &rt,
		     &rep, &bulk, &blen, errmsg);
	expect("a read past the end", rv, CFS_OK, errmsg);
	if (rv == 0 && blen != 0) {
		printf("FAIL a read past the end returned %zu bytes\n", blen);
		failures++;
	}
	struct wire_frag_delete del = {.ino = 5, .idx = 0, .version = 1};
	rv = nc_call(nc, addr, WIRE_T_frag_delete, &del, NULL, 0, 5000, NULL,
		     NULL, NULL, NULL, errmsg);
	expect("deleting it", rv, CFS_OK, errmsg);
	rv = nc_call(nc, addr, WIRE_T_frag_delete, &del, NULL, 0, 5000, NULL,
		     NULL, NULL, NULL, errmsg);
	expect("deleting it again (idempotent)", rv, CFS_OK, errmsg);

	free(big);
	free(wr);
	nc_close(&nc);
	zmq_ctx_term(ctx);
	return failures ? 1 : 0;
}
