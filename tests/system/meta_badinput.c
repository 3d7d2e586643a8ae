/* meta_badinput.c - send malformed, oversized and hostile messages to a real cfs-meta; it must answer each with a clear error and keep serving. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "client/metaclient.h"
#include "common/error.h"
#include "common/wire.h"

/*
 * Usage: meta_badinput HOST:PORT
 * The server must be the leader of a formatted cluster.  Every case sends
 * one bad message on a raw DEALER socket and checks the error status the
 * server answers with; after all of them a well-formed session still works.
 * Exit 0 when every case behaved, 1 otherwise (each failure printed).
 */

static void *ctx;
static char endpoint[300];
static int failures;

static void *
dealer(void)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0, tmo = 3000;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	if (zmq_connect(s, endpoint) != 0) {
		fprintf(stderr, "connect %s: %s\n", endpoint,
			zmq_strerror(zmq_errno()));
		exit(1);
	}
	return s;
}

/* Send @n frames; wait for one reply; return its status, or -1 if none
 * came (the connection was dropped), -2 if the reply is undecodable. */
static int
exchange(void *s, const void *const *frames, const size_t *lens, int n,
	 char *message, size_t cap)
{
	for (int i = 0; i < n; i++)
		zmq_send(s, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0);
	zmq_msg_t m;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, s, 0) < 0) {
		zmq_msg_close(&m);
		return -1;
	}
	struct wire_header h;
	union wire_body *b = malloc(sizeof(*b));
	char errmsg[CFS_ERRMSG_SIZE];
	int rv = wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), &h, b,
			     errmsg);
	int status = rv == 0 ? h.status : -2;
	if (rv == 0 && h.type == WIRE_T_error)
		snprintf(message, cap, "%s", b->error.message);
	else
		snprintf(message, cap, "%s", rv ? errmsg : "");
	free(b);
	zmq_msg_close(&m);
	return status;
}

static void
expect(const char *what, void *s, const void *data, size_t len, int want)
{
	const void *frames[1] = {data};
	size_t lens[1] = {len};
	char message[300] = "";
	int got = exchange(s, frames, lens, 1, message, sizeof(message));
	if (got != want) {
		fprintf(stderr, "FAIL %s: status %d (%s), want %d (%s): %s\n",
			what, got, got >= 0 ? cfs_errname(got) : "none", want,
			want >= 0 ? cfs_errname(want) : "none", message);
		failures++;
	} else {
		printf("ok   %s -> %s: %s\n", what,
		       want >= 0 ? cfs_errname(want) : "dropped", message);
	}
}

static size_t
encode(uint16_t type, const void *body, uint8_t *buf, size_t cap)
{
	struct wire_header h = {.type = type, .request_id = 7};
	size_t len = 0;
	char errmsg[CFS_ERRMSG_SIZE];
	if (wire_encode_into(&h, body, buf, cap, &len, errmsg) != 0) {
		fprintf(stderr, "encode: %s\n", errmsg);
		exit(1);
	}
	return len;
}

int
main(int argc, char **argv)
{
	static uint8_t buf[1 << 16];
	union wire_body *b = calloc(1, sizeof(*b));
	size_t len;

	if (argc != 2) {
		fprintf(stderr, "usage: meta_badinput HOST:PORT\n");
		return 2;
	}
	snprintf(endpoint, sizeof(endpoint), "tcp://%s", argv[1]);
	ctx = zmq_ctx_new();
	void *s = dealer();

	expect("empty frame", s, "", 0, CFS_MALFORMED);
	expect("random bytes", s, "\x01\x02\x03garbage-garbage-garbage", 24,
	       CFS_MALFORMED);

	len = encode(WIRE_T_status, b, buf, sizeof(buf));
	expect("truncated header", s, buf, 20, CFS_MALFORMED);

	memcpy(buf, "XFS1", 4);
	expect("wrong magic", s, buf, len, CFS_MALFORMED);

	len = encode(WIRE_T_status, b, buf, sizeof(buf));
	buf[4] = 9; /* version 9 */
	expect("protocol version 9", s, buf, len, CFS_BADVERSION);

	len = encode(WIRE_T_status, b, buf, sizeof(buf));
	buf[6] = 0xe7; /* type 999 */
	buf[7] = 0x03;
	expect("unknown message type 999", s, buf, len, CFS_BADTYPE);

	len = encode(WIRE_T_status_reply, b, buf, sizeof(buf));
	expect("a reply type sent as a request", s, buf, len, CFS_BADTYPE);

	memset(b, 0, sizeof(*b));
	b->session_expire.client_id = 1;
	len = encode(WIRE_T_session_expire, b, buf, sizeof(buf));
	expect("internal session_expire from outside", s, buf, len,
	       CFS_BADTYPE);

	memset(b, 0, sizeof(*b));
	len = encode(WIRE_T_lookup, b, buf, sizeof(buf));
	expect("lookup truncated mid-body", s, buf, len - 3, CFS_MALFORMED);

	memset(b, 0, sizeof(*b));
	b->lookup.parent = 1;
	snprintf(b->lookup.name, sizeof(b->lookup.name), "x");
	len = encode(WIRE_T_lookup, b, buf, sizeof(buf));
	expect("lookup without a session", s, buf, len, CFS_NOSESSION);

	/* a string length field larger than the limit */
	memset(b, 0, sizeof(*b));
	len = encode(WIRE_T_session_open, b, buf, sizeof(buf));
	buf[WIRE_HEADER_SIZE] = 0xff;
	buf[WIRE_HEADER_SIZE + 1] = 0xff;
	expect("string length over its limit", s, buf, len, CFS_MALFORMED);

	{ /* a second frame where none belongs */
		len = encode(WIRE_T_status, b, buf, sizeof(buf));
		const void *frames[2] = {buf, "bulk"};
		size_t lens[2] = {len, 4};
		char message[300];
		int got = exchange(s, frames, lens, 2, message,
				   sizeof(message));
		if (got != CFS_MALFORMED) {
			fprintf(stderr, "FAIL extra frame: status %d\n", got);
			failures++;
		} else {
			printf("ok   extra bulk frame -> MALFORMED: %s\n",
			       message);
		}
	}

	{ /* over ZMQ_MAXMSGSIZE: ZeroMQ drops this connection only */
		void *big = dealer();
		size_t n = (2u << 20);
		uint8_t *huge = calloc(1, n);
		const void *frames[1] = {huge};
		size_t lens[1] = {n};
		char message[300];
		int tmo = 1000;
		zmq_setsockopt(big, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
		int got = exchange(big, frames, lens, 1, message,
				   sizeof(message));
		if (got != -1) {
			fprintf(stderr, "FAIL 2 MiB frame: answered %d\n", got);
			failures++;
		} else {
			printf("ok   2 MiB frame -> connection dropped\n");
		}
		free(huge);
		zmq_close(big);
	}

	/* After all that, the server still serves a real session. */
	struct mc *mc = NULL;
	char errmsg[CFS_ERRMSG_SIZE];
	struct wire_attr attr;
	int rv = mc_open(&mc, argv[1], NULL, errmsg);
	if (rv == 0)
		rv = mc_getattr(mc, 1, &attr, errmsg);
	if (rv != 0) {
		fprintf(stderr, "FAIL server no longer serves: %s\n", errmsg);
		failures++;
	} else {
		printf("ok   a well-formed session still works (root mode "
		       "%o)\n",
		       attr.mode);
	}
	/* Names the namespace must refuse. */
	if (rv == 0) {
		rv = mc_create(mc, 1, "a/b", 0644, NULL, errmsg);
		if (rv != CFS_EINVAL) {
			fprintf(stderr, "FAIL name with '/': %d (%s)\n", rv,
				errmsg);
			failures++;
		} else {
			printf("ok   name with '/' -> EINVAL: %s\n", errmsg);
		}
		rv = mc_getattr(mc, 987654321, &attr, errmsg);
		if (rv != CFS_ENOENT) {
			fprintf(stderr, "FAIL unknown inode: %d (%s)\n", rv,
				errmsg);
			failures++;
		} else {
			printf("ok   unknown inode -> ENOENT: %s\n", errmsg);
		}
	}
	mc_close(&mc);
	zmq_close(s);
	zmq_ctx_term(ctx);
	free(b);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
