/* replfloor.c - the floor of a durable replicated 4 KiB write on this
 * machine, with none of CFS in the way: three processes each write the
 * request's 4 KiB into a file of their own and fdatasync it before they
 * answer, over ZeroMQ on loopback, as three data nodes' journals do.
 *
 *   replfloor DIR fan|chain SECONDS
 *
 * fan: the client sends to the three at once and waits for all (how
 * cfs-fuse sends a patch in place); chain: to the first, which forwards
 * to the next before it writes, and answers once the rest of the chain
 * did (how a version is written).  Prints writes per second and the mean
 * time of one.  README "Performance" quotes it.  The files (DIR/floor.N,
 * 64 MiB each, written whole first so that a flush writes no metadata)
 * are removed at the end. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define NODES 3
#define PORT0 19100
#define FILE_SIZE (64 << 20)
#define WRITE 4096

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

/* A file of FILE_SIZE bytes, every one written and flushed. */
static int
journal_file(const char *path)
{
	static char zero[1 << 20];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die(path);
	for (int i = 0; i < FILE_SIZE / (int)sizeof(zero); i++)
		if (write(fd, zero, sizeof(zero)) != (ssize_t)sizeof(zero))
			die(path);
	if (fsync(fd) != 0)
		die(path);
	return fd;
}

/* Node @i: answer each request once its bytes are on the disk (and, in a
 * chain, once the next node answered: it was asked first). */
static void
node(const char *dir, int i, int chain)
{
	void *ctx = zmq_ctx_new(), *up = zmq_socket(ctx, ZMQ_REP), *down = NULL;
	char ep[64], path[4096], buf[2 * WRITE];
	off_t off = 0;

	snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", PORT0 + i);
	if (zmq_bind(up, ep) != 0)
		die("zmq_bind");
	if (chain && i + 1 < NODES) {
		down = zmq_socket(ctx, ZMQ_REQ);
		snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", PORT0 + i + 1);
		zmq_connect(down, ep);
	}
	snprintf(path, sizeof(path), "%s/floor.%d", dir, i);
	int fd = journal_file(path);
	for (;;) {
		int n = zmq_recv(up, buf, sizeof(buf), 0);
		if (n < WRITE)
			break;
		if (down != NULL)
			zmq_send(down, buf, (size_t)n, 0);
		if (pwrite(fd, buf, WRITE, off) != WRITE || fdatasync(fd) != 0)
			die(path);
		off = (off + WRITE) % FILE_SIZE;
		if (down != NULL)
			zmq_recv(down, buf, sizeof(buf), 0);
		zmq_send(up, "ok", 2, 0);
	}
}

int
main(int argc, char **argv)
{
	pid_t kids[NODES];
	char buf[WRITE], reply[16], path[4096];
	void *ctx, *s[NODES];
	int chain, ns;
	long n = 0;

	if (argc != 4 || (strcmp(argv[2], "fan") && strcmp(argv[2], "chain"))) {
		fprintf(stderr, "usage: replfloor DIR fan|chain SECONDS\n");
		return 2;
	}
	chain = strcmp(argv[2], "chain") == 0;
	for (int i = 0; i < NODES; i++)
		if ((kids[i] = fork()) == 0) {
			node(argv[1], i, chain);
			_exit(0);
		}
	sleep(1); /* the nodes write their files and bind */
	ctx = zmq_ctx_new();
	ns = chain ? 1 : NODES;
	for (int i = 0; i < ns; i++) {
		char ep[64];
		s[i] = zmq_socket(ctx, ZMQ_REQ);
		snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", PORT0 + i);
		zmq_connect(s[i], ep);
	}
	memset(buf, 'x', sizeof(buf));
	double t0 = now(), end = t0 + atof(argv[3]);
	while (now() < end) {
		for (int i = 0; i < ns; i++)
			zmq_send(s[i], buf, sizeof(buf), 0);
		for (int i = 0; i < ns; i++)
			zmq_recv(s[i], reply, sizeof(reply), 0);
		n++;
	}
	double t = now() - t0;
	printf("%s: %ld writes in %.1f s: %.0f/s, %.0f us each\n", argv[2], n,
	       t, (double)n / t, t / (double)n * 1e6);
	for (int i = 0; i < NODES; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
		snprintf(path, sizeof(path), "%s/floor.%d", argv[1], i);
		unlink(path);
	}
	return 0;
}
