/* metabench.c - metadata throughput and latency of a CFS cluster, driven through the protocol directly. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "client/metaclient.h"
#include "common/error.h"
#include "common/wire.h"

/*
 * Usage: metabench -s SERVERS [-c 1,4,16] [-n FILES] [-w WINDOW]
 *        metabench -s SERVERS --failover PIDDIR [-r ROUNDS]
 *
 * Throughput mode: for each client count C, C clients (each its own
 * session on its own socket) work in their own directory through the
 * phases create, stat, readdir, rename and unlink over FILES files each.
 * Each client keeps up to WINDOW requests in flight (1 = one at a time, as
 * a single-threaded program; more = as a FUSE mount serving many threads).
 * All clients are driven from one thread with zmq_poll, so the benchmark
 * itself costs little CPU on the machine it shares with the servers.
 * Prints ops/s and p50/p99 latency per phase.
 *
 * Failover mode: one client creates files in a loop through the metadata
 * client library (its real retry logic); the benchmark SIGKILLs the leader
 * (its pid read from PIDDIR/meta<ID>.pid) and reports the time from the
 * kill to the first acknowledged operation, ROUNDS times (the killed
 * server is restarted by the wrapper script between rounds).
 */

#define MAX_CLIENTS 256
#define BULK_NAMES 32

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						      noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "metabench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

struct client {
	void *sock;
	uint64_t client_id, seq, dir;
	uint64_t *inos;     /* per file */
	double *sent;       /* per request id (file index) */
	uint64_t next, done, inflight;
	uint64_t readdir_cookie;
	int readdir_eof;
};

static void *zctx;
static char leader[300];
static struct client clients[MAX_CLIENTS];
static int n_clients, window_size = 1, n_files = 2000;
static double *lat;
static size_t n_lat;
static union wire_body *body;

static void
send_req(struct client *c, uint16_t type, const void *req, uint64_t rid,
	 int sessioned)
{
	uint8_t buf[8192];
	size_t len;
	char errmsg[CFS_ERRMSG_SIZE];
	struct wire_header h = {.type = type, .request_id = rid};

	if (sessioned) {
		h.client_id = c->client_id;
		h.sequence = ++c->seq;
	}
	if (wire_encode_into(&h, req, buf, sizeof(buf), &len, errmsg) != 0)
		die("encode: %s", errmsg);
	if (zmq_send(c->sock, buf, len, 0) < 0)
		die("send: %s", zmq_strerror(zmq_errno()));
}

/* Receive one reply on @c: returns its request id, fills body. */
static uint64_t
recv_reply(struct client *c, struct wire_header *h)
{
	zmq_msg_t m;
	char errmsg[CFS_ERRMSG_SIZE];

	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, c->sock, 0) < 0)
		die("recv: %s", zmq_strerror(zmq_errno()));
	if (wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), h, body,
			errmsg) != 0)
		die("decode: %s", errmsg);
	zmq_msg_close(&m);
	if (h->status != 0) {
		char msg[600];
		snprintf(msg, sizeof(msg), "%s: %s",
			 cfs_strerror(h->status),
			 h->type == WIRE_T_error ? body->error.message : "");
		die("request failed: %s", msg);
	}
	return h->request_id;
}

/* One synchronous request (set-up steps). */
static void
call(struct client *c, uint16_t type, const void *req, int sessioned)
{
	struct wire_header h;
	send_req(c, type, req, 0, sessioned);
	recv_reply(c, &h);
}

static void
client_open(struct client *c, int idx)
{
	int zero = 0, hwm = 100000;
	char ep[320];
	snprintf(ep, sizeof(ep), "tcp://%s", leader);
	c->sock = zmq_socket(zctx, ZMQ_DEALER);
	zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(c->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(c->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (zmq_connect(c->sock, ep) != 0)
		die("connect %s failed", ep);
	struct wire_session_open so;
	memset(&so, 0, sizeof(so));
	snprintf(so.client_name, sizeof(so.client_name), "metabench-%d", idx);
	so.lease_ms = 60000;
	call(c, WIRE_T_session_open, &so, 0);
	c->client_id = body->session_opened.client_id;
	c->seq = 0;
	struct wire_mknod mk;
	memset(&mk, 0, sizeof(mk));
	mk.parent = 1;
	snprintf(mk.name, sizeof(mk.name), "bench.%d.%d.%d", (int)getpid(),
		 n_clients, idx);
	mk.mode = S_IFDIR | 0755;
	mk.flags = CFS_MKNOD_EXCL;
	call(c, WIRE_T_mknod, &mk, 1);
	c->dir = body->entry.attr.ino;
	c->inos = calloc((size_t)n_files, sizeof(*c->inos));
	c->sent = calloc((size_t)n_files + 1, sizeof(*c->sent));
}

static void
client_close(struct client *c)
{
	struct wire_session_close sc;
	call(c, WIRE_T_session_close, &sc, 1);
	zmq_close(c->sock);
	free(c->inos);
	free(c->sent);
}

enum phase { P_CREATE, P_STAT, P_READDIR, P_RENAME, P_UNLINK, P__N };
static const char *const phase_name[P__N] = {"create", "stat", "readdir",
					       "rename", "unlink"};

/* Issue the request for file @i of @c in @p. */
static void
issue(struct client *c, enum phase p, uint64_t i)
{
	union wire_body *rq = calloc(1, sizeof(*rq)); /* large union */
	uint16_t type = 0;

	switch (p) {
	case P_CREATE:
		type = WIRE_T_mknod;
		rq->mknod.parent = c->dir;
		snprintf(rq->mknod.name, sizeof(rq->mknod.name), "f%llu",
			 (unsigned long long)i);
		rq->mknod.mode = S_IFREG | 0644;
		rq->mknod.flags = CFS_MKNOD_EXCL;
		break;
	case P_STAT:
		type = WIRE_T_getattr;
		rq->getattr.ino = c->inos[i];
		break;
	case P_READDIR:
		type = WIRE_T_readdir;
		rq->readdir.ino = c->dir;
		rq->readdir.cookie = c->readdir_cookie;
		rq->readdir.max_entries = 128;
		break;
	case P_RENAME:
		type = WIRE_T_rename;
		rq->rename.parent = rq->rename.newparent = c->dir;
		snprintf(rq->rename.name, sizeof(rq->rename.name), "f%llu",
			 (unsigned long long)i);
		snprintf(rq->rename.newname, sizeof(rq->rename.newname),
			 "g%llu", (unsigned long long)i);
		break;
	default:
		type = WIRE_T_unlink;
		rq->unlink.parent = c->dir;
		snprintf(rq->unlink.name, sizeof(rq->unlink.name), "g%llu",
			 (unsigned long long)i);
		break;
	}
	c->sent[i] = now_s();
	send_req(c, type, rq, i, 1);
	free(rq);
	c->inflight++;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Run one phase over all clients; print a line. */
static void
run_phase(enum phase p)
{
	zmq_pollitem_t items[MAX_CLIENTS];
	uint64_t total = 0, per = (uint64_t)n_files;
	int window = p == P_READDIR ? 1 : window_size;

	n_lat = 0;
	for (int k = 0; k < n_clients; k++) {
		struct client *c = &clients[k];
		c->next = c->done = c->inflight = 0;
		c->readdir_cookie = 0;
		c->readdir_eof = 0;
		items[k] = (zmq_pollitem_t){.socket = c->sock,
					     .events = ZMQ_POLLIN};
	}
	double t0 = now_s();
	for (int k = 0; k < n_clients; k++)
		while (clients[k].inflight < (uint64_t)window &&
		       clients[k].next < per)
			issue(&clients[k], p, clients[k].next++);
	int active = n_clients;
	while (active > 0) {
		if (zmq_poll(items, n_clients, 10000) <= 0)
			die("%s", "no reply for 10 s");
		for (int k = 0; k < n_clients; k++) {
			struct client *c = &clients[k];
			if (!(items[k].revents & ZMQ_POLLIN))
				continue;
			for (;;) {
				int ev = 0;
				size_t sz = sizeof(ev);
				zmq_getsockopt(c->sock, ZMQ_EVENTS, &ev, &sz);
				if (!(ev & ZMQ_POLLIN))
					break;
				struct wire_header h;
				uint64_t i = recv_reply(c, &h);
				lat[n_lat++] = now_s() - c->sent[i];
				c->inflight--;
				total++;
				if (p == P_CREATE)
					c->inos[i] = body->entry.attr.ino;
				if (p == P_READDIR) {
					uint32_t n = body->dirents.entries_count;
					if (n)
						c->readdir_cookie =
							body->dirents
								.entries[n - 1]
								.cookie;
					if (body->dirents.eof) {
						c->readdir_eof = 1;
						c->next = per;
					}
				}
				c->done++;
				if (c->next < per &&
				    (p != P_READDIR || !c->readdir_eof))
					issue(c, p, c->next++);
				if (c->inflight == 0 && c->next >= per)
					active--;
			}
		}
	}
	double dt = now_s() - t0;
	qsort(lat, n_lat, sizeof(*lat), cmp_double);
	printf("| %-7s | %3d | %3d | %9.0f | %8.3f | %8.3f |\n",
	       phase_name[p], n_clients, window, (double)total / dt,
	       lat[n_lat / 2] * 1e3, lat[(n_lat * 99) / 100] * 1e3);
	fflush(stdout);
}

/* Ask any server who leads (status answers from everyone). */
static void
find_leader(const char *servers)
{
	struct mc_options o = {.no_session = 1, .deadline_ms = 10000};
	struct mc *mc;
	char errmsg[CFS_ERRMSG_SIZE];
	uint16_t rt;
	struct wire_status st;

	if (mc_open(&mc, servers, &o, errmsg) != 0)
		die("%s", errmsg);
	for (int tries = 0; tries < 100; tries++) {
		memset(&st, 0, sizeof(st));
		if (mc_call(mc, WIRE_T_status, &st, &rt, body, 0, errmsg) ==
			    0 &&
		    body->status_reply.leader_addr[0]) {
			snprintf(leader, sizeof(leader), "%s",
				 body->status_reply.leader_addr);
			mc_close(&mc);
			return;
		}
		usleep(100000);
	}
	die("no leader: %s", errmsg);
}

static int
failover(const char *servers, const char *piddir, int rounds)
{
	char errmsg[CFS_ERRMSG_SIZE];
	struct mc_options o = {.client_name = "metabench-failover",
			       .attempt_timeout_ms = 50,
			       .deadline_ms = 30000};
	struct mc *mc;
	struct wire_attr attr;
	int bad = 0;

	if (mc_open(&mc, servers, &o, errmsg) != 0)
		die("%s", errmsg);
	if (mc_mkdir(mc, 1, "failover", 0755, &attr, errmsg) != 0 &&
	    mc_lookup(mc, 1, "failover", &attr, errmsg) != 0)
		die("%s", errmsg);
	uint64_t dir = attr.ino;
	for (int r = 0; r < rounds; r++) {
		find_leader(servers);
		/* the leader's id from status, its pid from the pid file */
		struct mc_options so = {.no_session = 1};
		struct mc *sm;
		uint16_t rt;
		struct wire_status st;
		memset(&st, 0, sizeof(st));
		if (mc_open(&sm, leader, &so, errmsg) != 0 ||
		    mc_call(sm, WIRE_T_status, &st, &rt, body, 0, errmsg) != 0)
			die("%s", errmsg);
		mc_close(&sm);
		char path[600];
		snprintf(path, sizeof(path), "%s/meta%llu.pid", piddir,
			 (unsigned long long)body->status_reply.leader_id);
		FILE *f = fopen(path, "r");
		int pid = 0;
		if (f == NULL || fscanf(f, "%d", &pid) != 1)
			die("cannot read %s", path);
		fclose(f);
		char name[64];
		for (int i = 0; i < 50; i++) { /* steady state first */
			snprintf(name, sizeof(name), "r%d-pre%d", r, i);
			if (mc_create(mc, dir, name, 0644, NULL, errmsg) != 0)
				die("%s", errmsg);
		}
		double t0 = now_s();
		kill(pid, SIGKILL);
		snprintf(name, sizeof(name), "r%d-after", r);
		int rv = mc_create(mc, dir, name, 0644, NULL, errmsg);
		double dt = now_s() - t0;
		if (rv != 0) {
			printf("failover %d: FAILED: %s\n", r + 1, errmsg);
			bad = 1;
		} else {
			printf("failover %d: leader %llu (pid %d) killed, first "
			       "acknowledged create after %.0f ms\n",
			       r + 1,
			       (unsigned long long)body->status_reply.leader_id,
			       pid, dt * 1e3);
		}
		fflush(stdout);
		/* the wrapper restarts the killed server: wait for it */
		snprintf(path, sizeof(path), "%s/restart-%d", piddir, r);
		FILE *rf = fopen(path, "w");
		if (rf)
			fclose(rf);
		for (int i = 0; i < 100 && access(path, F_OK) == 0; i++)
			usleep(100000);
	}
	mc_close(&mc);
	return bad;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"servers", required_argument, NULL, 's'},
		{"clients", required_argument, NULL, 'c'},
		{"files", required_argument, NULL, 'n'},
		{"window", required_argument, NULL, 'w'},
		{"failover", required_argument, NULL, 'f'},
		{"rounds", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	const char *servers = NULL, *counts = "1,4,16", *piddir = NULL;
	int c, rounds = 3;

	while ((c = getopt_long(argc, argv, "s:c:n:w:f:r:", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 's': servers = optarg; break;
		case 'c': counts = optarg; break;
		case 'n': n_files = atoi(optarg); break;
		case 'w': window_size = atoi(optarg); break;
		case 'f': piddir = optarg; break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: metabench -s SERVERS [-c 1,4,16] "
					"[-n FILES] [-w WINDOW] | --failover "
					"PIDDIR [-r ROUNDS]\n");
			return 2;
		}
	}
	if (servers == NULL || n_files < 1 || window_size < 1 ||
	    window_size > CFS_SESSION_WINDOW) {
		fprintf(stderr, "metabench: need -s SERVERS, -n >= 1 and -w "
				"1..%d\n",
			CFS_SESSION_WINDOW);
		return 2;
	}
	body = malloc(sizeof(*body));
	if (piddir != NULL)
		return failover(servers, piddir, rounds);

	zctx = zmq_ctx_new();
	find_leader(servers);
	printf("| phase   | clients | in flight each | ops/s | p50 ms | p99 ms |\n");
	printf("|---|---|---|---|---|---|\n");
	for (const char *p = counts; *p;) {
		n_clients = atoi(p);
		if (n_clients < 1 || n_clients > MAX_CLIENTS)
			die("bad client count in '%s'", counts);
		lat = calloc((size_t)n_clients * (size_t)n_files, sizeof(*lat));
		for (int k = 0; k < n_clients; k++)
			client_open(&clients[k], k);
		for (int ph = 0; ph < P__N; ph++)
			run_phase((enum phase)ph);
		for (int k = 0; k < n_clients; k++)
			client_close(&clients[k]);
		free(lat);
		p = strchr(p, ',');
		if (p == NULL)
			break;
		p++;
	}
	zmq_ctx_term(zctx);
	return 0;
}
