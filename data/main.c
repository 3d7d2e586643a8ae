/* main.c - the cfs-data command line: options, identity, start the store, service and heartbeats. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "data/beat.h"
#include "data/options.h"
#include "data/service.h"
#include "data/store.h"

#define MAX_SETS 256
#define UUID_LEN 36
/* DIR (at most 1023 bytes) + "/node.uuid" + ".tmp" */
#define ID_PATH_SIZE 1100

static const char usage_text[] =
	"Usage: cfs-data [OPTIONS]\n"
	"\n"
	"Run one data node of a CFS cluster.  A data node keeps replicas of\n"
	"file fragments in a local directory, serves them to clients, forwards\n"
	"writes down replication chains, and copies replicas for the metadata\n"
	"leader's repair.  It registers with the metadata cluster, heartbeats\n"
	"to its leader every second and scrubs its replicas in the background.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE        read settings from FILE (key = value; see\n"
	"                           --print-config for every key)\n"
	"  -s, --set KEY=VALUE      set one key; repeatable; wins over --config\n"
	"      --dir DIR            same as --set dir=DIR\n"
	"      --listen HOST:PORT   same as --set listen=HOST:PORT\n"
	"      --meta ADDRS         same as --set meta=ADDRS: the metadata\n"
	"                           servers' client addresses, comma-separated\n"
	"      --labels K=V,...     same as --set labels=K=V,... (e.g.\n"
	"                           rack=r1): placement spreads replicas over\n"
	"                           distinct values of the cluster's\n"
	"                           spread_label\n"
	"      --print-config       print every key with its default and range\n"
	"                           as a commented config file, and exit\n"
	"  -h, --help               show this help\n"
	"\n"
	"The address given to the metadata cluster is `advertise`, or `listen`\n"
	"when advertise is not set; it must be reachable by clients and other\n"
	"nodes, so 0.0.0.0 is refused there: listen on 0.0.0.0 and set\n"
	"advertise = HOST:PORT, or listen on a specific address.\n"
	"\n"
	"Files in DIR: frags/ (one CRC-checked file per replica) and node.uuid\n"
	"(the node's identity, made at the first start).  The metadata cluster\n"
	"knows the node by that uuid: a node restarted with the same DIR keeps\n"
	"its id and replicas, even on a new address.  A corrupt node.uuid\n"
	"stops the node from starting rather than have it join as a new node\n"
	"and orphan its replicas.\n"
	"\n"
	"A node removed by an operator (`cfsctl node remove`) is refused by the\n"
	"metadata cluster: it logs an error every minute and serves reads until\n"
	"stopped; wipe DIR to add the machine back as a new node.\n"
	"\n"
	"Environment: CFS_LOG=error|warn|info|debug|trace, CFS_TRACE=1.\n"
	"Signals: SIGTERM and SIGINT stop the node cleanly.\n"
	"\n"
	"Example (three data nodes on one machine, metadata at 7001-7003):\n"
	"  for i in 1 2 3; do cfs-data --dir /var/lib/cfs/data$i \\\n"
	"      --listen 127.0.0.1:720$i --labels rack=r$i \\\n"
	"      --meta 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 & done\n"
	"\n"
	"Exit status: 0 after a clean stop, 1 on a runtime failure, 2 on a\n"
	"usage or configuration error.\n";

/* The command line: --set and its aliases apply after the config file,
 * so they are remembered in order. */
struct cmdline {
	const char *config;
	const char *sets[MAX_SETS][2];
	unsigned n_sets;
	char setbuf[MAX_SETS][1100];
};

/* Remember one KEY=VALUE (split at the first '=').  2 on a usage error. */
static int
remember_set(struct cmdline *cl, const char *key, const char *value)
{
	if (cl->n_sets == MAX_SETS) {
		fprintf(stderr, "cfs-data: more than %d --set options\n",
			MAX_SETS);
		return 2;
	}
	if (key == NULL) {
		const char *eq = strchr(value, '=');
		char *buf = cl->setbuf[cl->n_sets];
		if (eq == NULL || eq == value) {
			fprintf(stderr,
				"cfs-data: --set wants KEY=VALUE, not '%s'\n",
				value);
			return 2;
		}
		snprintf(buf, sizeof(cl->setbuf[0]), "%s", value);
		buf[eq - value] = '\0';
		key = buf;
		value = buf + (eq - value) + 1;
	}
	cl->sets[cl->n_sets][0] = key;
	cl->sets[cl->n_sets][1] = value;
	cl->n_sets++;
	return 0;
}

/* Returns -1 to go on and run, or the exit status (0 after --help or
 * --print-config, 2 on a usage error). */
static int
parse_args(int argc, char **argv, struct cmdline *cl)
{
	enum { OPT_DIR = 256, OPT_LISTEN, OPT_META, OPT_LABELS, OPT_PRINT };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"set", required_argument, NULL, 's'},
		{"dir", required_argument, NULL, OPT_DIR},
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"meta", required_argument, NULL, OPT_META},
		{"labels", required_argument, NULL, OPT_LABELS},
		{"print-config", no_argument, NULL, OPT_PRINT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rv = 0;

	while (rv == 0 &&
	       (c = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': cl->config = optarg; break;
		case 's': rv = remember_set(cl, NULL, optarg); break;
		case OPT_DIR: rv = remember_set(cl, "dir", optarg); break;
		case OPT_LISTEN: rv = remember_set(cl, "listen", optarg); break;
		case OPT_META: rv = remember_set(cl, "meta", optarg); break;
		case OPT_LABELS: rv = remember_set(cl, "labels", optarg); break;
		case 'h': fputs(usage_text, stdout); return 0;
		case OPT_PRINT:
			cfs_conf_write_example(data_option_keys,
					       DATA_CONF_TITLE, stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'cfs-data --help'.\n");
			return 2;
		}
	}
	if (rv != 0)
		return rv;
	if (optind < argc) {
		fprintf(stderr,
			"cfs-data: unexpected argument '%s'\nTry 'cfs-data "
			"--help'.\n",
			argv[optind]);
		return 2;
	}
	return -1;
}

/* Defaults, then the config file, then the command line, then the
 * checks the table cannot make.  0 or 2 (the message is printed). */
static int
load_options(const struct cmdline *cl, struct data_options *opt)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";

	if (cfs_conf_defaults(data_option_keys, opt, errmsg) != 0 ||
	    (cl->config != NULL &&
	     cfs_conf_load(data_option_keys, opt, cl->config, errmsg) != 0))
		goto err;
	for (unsigned i = 0; i < cl->n_sets; i++)
		if (cfs_conf_set(data_option_keys, opt, cl->sets[i][0],
				 cl->sets[i][1], "command line", errmsg) != 0)
			goto err;
	if (data_options_check(opt, errmsg) != 0)
		goto err;
	return 0;
err:
	fprintf(stderr, "cfs-data: %s\n", errmsg);
	return 2;
}

/* ---- identity: DIR/node.uuid ---------------------------------------------
 * The registry knows a node by this uuid (docs/data-path.md "Node
 * registry"): losing it would make the node join as a new one and orphan
 * every replica it holds, so a damaged file is an error, never replaced. */

/* 8-4-4-4-12 hex digits. */
static int
uuid_valid(const char *s, size_t n)
{
	if (n != UUID_LEN)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = s[i];
		int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			  (c >= 'A' && c <= 'F');
		if (dash ? c != '-' : !hex)
			return 0;
	}
	return 1;
}

/* 0, CFS_ENOENT if there is no file, CFS_CORRUPT or an I/O error. */
static int
identity_read(const char *path, char *uuid, char *errmsg)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return CFS_ENOENT;
	if (fd < 0)
		return cfs_fail_errno(errmsg, errno, "%s", path);
	n = read(fd, buf, sizeof(buf));
	int e = errno;
	close(fd);
	if (n < 0)
		return cfs_fail_errno(errmsg, e, "%s", path);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (!uuid_valid(buf, (size_t)n))
		return cfs_fail(errmsg, CFS_CORRUPT,
				"%s is not a node uuid (36 characters, "
				"8-4-4-4-12 hex); refusing to start as a new "
				"node, which would orphan this node's "
				"replicas: restore the file, or wipe the "
				"directory to join as a new node",
				path);
	memcpy(uuid, buf, UUID_LEN);
	uuid[UUID_LEN] = '\0';
	return 0;
}

/* A random (version 4) uuid from /dev/urandom into @uuid (37 bytes). */
static int
uuid_make(char *uuid, char *errmsg)
{
	unsigned char r[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, r, sizeof(r));
	int e = errno;

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof(r))
		return cfs_fail_errno(errmsg, n < 0 ? e : EIO,
				      "/dev/urandom");
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* version 4 */
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(uuid, UUID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
		 r[10], r[11], r[12], r[13], r[14], r[15]);
	return 0;
}

/* fsync a directory so that a rename in it is durable. */
static int
fsync_dir(const char *dir, char *errmsg)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return cfs_fail_errno(errmsg, e, "fsync %s", dir);
	}
	close(fd);
	return 0;
}

/* Write @uuid to @path: a temp file, fsync, rename, fsync the directory,
 * so a crash leaves either no identity or a whole one. */
static int
identity_write(const char *dir, const char *path, const char *uuid,
	       char *errmsg)
{
	char tmp[ID_PATH_SIZE + 8], line[UUID_LEN + 2];
	int fd, len = snprintf(line, sizeof(line), "%s\n", uuid);

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return cfs_fail_errno(errmsg, errno, "%s", tmp);
	errno = 0; /* a short write sets none */
	if (write(fd, line, (size_t)len) != len || fsync(fd) != 0) {
		int e = errno ? errno : EIO;
		close(fd);
		unlink(tmp);
		return cfs_fail_errno(errmsg, e, "%s", tmp);
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return cfs_fail_errno(errmsg, e, "%s", path);
	}
	return fsync_dir(dir, errmsg);
}

/* Read DIR/node.uuid, or make it at the first start (*@created = 1). */
static int
identity_load(const char *dir, char *uuid, int *created, char *errmsg)
{
	char path[ID_PATH_SIZE];
	int rv;

	snprintf(path, sizeof(path), "%s/node.uuid", dir);
	*created = 0;
	rv = identity_read(path, uuid, errmsg);
	if (rv != CFS_ENOENT)
		return rv;
	if ((rv = uuid_make(uuid, errmsg)) != 0 ||
	    (rv = identity_write(dir, path, uuid, errmsg)) != 0)
		return rv;
	*created = 1;
	return 0;
}

/* ---- running ------------------------------------------------------------ */

/* "1.5 TiB" */
static void
fmt_size(char *buf, size_t cap, uint64_t bytes)
{
	static const char units[][4] = {"B", "KiB", "MiB", "GiB", "TiB",
					"PiB"};
	double v = (double)bytes;
	unsigned u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]))
		v /= 1024, u++;
	snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void
log_started(const struct data_options *opt, const char *uuid, int created,
	    struct store *st)
{
	char errmsg[CFS_ERRMSG_SIZE] = "", cap[32] = "?", fr[32] = "?";
	uint64_t capacity, free_bytes;

	if (store_space(st, &capacity, &free_bytes, errmsg) == 0) {
		fmt_size(cap, sizeof(cap), capacity);
		fmt_size(fr, sizeof(fr), free_bytes);
	} else {
		LOG_WARN("%s", errmsg);
	}
	LOG_INFO("started: uuid %s%s, listen %s, advertise %s, dir %s, "
		 "capacity %s, free %s",
		 uuid, created ? " (new node)" : "", opt->listen,
		 opt->advertise, opt->dir, cap, fr);
}

/* Start the service and the heartbeats, wait for SIGTERM or SIGINT, stop.
 * The beat borrows the service, so it stops first. */
static int
serve(const struct data_options *opt, struct store *st, const char *uuid,
      int created, const sigset_t *sigs, char *errmsg)
{
	char absdir[PATH_MAX] = "";

	/* node_where answers it (a client on this machine reads replicas
	 * there); one longer than the answer takes is not told */
	if (realpath(opt->dir, absdir) == NULL || strlen(absdir) > 1023)
		absdir[0] = '\0';
	struct service_options so = {
		.listen = opt->listen,
		.workers = (int)opt->workers,
		.forward_timeout_ms = (int)opt->forward_timeout,
		.uuid = uuid,
		.dir = absdir,
	};
	struct beat_options bo = {
		.meta = opt->meta,
		.uuid = uuid,
		.advertise = opt->advertise,
		.labels = opt->labels,
		.heartbeat_ms = (int)opt->heartbeat,
		.scrub_rate = opt->scrub_rate,
		.scrub_interval_ms = opt->scrub_interval,
		.inventory_interval_ms = opt->inventory_interval,
		.inventory_grace_ms = opt->inventory_grace,
	};
	struct service *svc = NULL;
	struct beat *b = NULL;
	int rv, sig = 0;

	if ((rv = service_start(&svc, st, &so, errmsg)) != 0)
		return rv;
	if ((rv = beat_start(&b, &bo, st, svc, errmsg)) != 0) {
		service_stop(&svc);
		return rv;
	}
	log_started(opt, uuid, created, st);
	while (sigwait(sigs, &sig) != 0)
		;
	LOG_INFO("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	beat_stop(&b);
	service_stop(&svc);
	return 0;
}

/* The exit status: 0 after a clean stop, 1 on a runtime failure, 2 on a
 * configuration error (CFS_CONFIG: e.g. the listen address is taken). */
static int
run(const struct data_options *opt)
{
	char errmsg[CFS_ERRMSG_SIZE] = "";
	char uuid[UUID_LEN + 1];
	struct store *st = NULL;
	sigset_t sigs;
	int rv, created = 0;

	/* Blocked before any thread starts, so every thread inherits the
	 * mask and the signals wait for sigwait() in serve(). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	rv = store_open(opt->dir, &st, errmsg);
	if (rv == 0) {
		store_set_direct(st, opt->direct_io);
		/* before anything is served: a replay restores files */
		rv = store_set_journal(st, opt->journal_size, errmsg);
		if (rv == 0)
			rv = identity_load(opt->dir, uuid, &created, errmsg);
		if (rv == 0)
			rv = serve(opt, st, uuid, created, &sigs, errmsg);
		store_close(&st);
	}
	if (rv != 0) {
		LOG_ERROR("cannot start: %s", errmsg);
		return rv == CFS_CONFIG ? 2 : 1;
	}
	LOG_INFO("stopped");
	return 0;
}

int
main(int argc, char **argv)
{
	static struct cmdline cl;
	static struct data_options opt;
	int rv;

	cfs_log_init("cfs-data");
	/* A peer that goes away mid-reply must not kill the node. */
	signal(SIGPIPE, SIG_IGN);
	/* Keep freed read and write buffers (up to a few MiB each) for the
	 * next request instead of mapping fresh zeroed pages every time. */
	mallopt(M_MMAP_THRESHOLD, 16 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	rv = parse_args(argc, argv, &cl);
	if (rv >= 0)
		return rv;
	if (load_options(&cl, &opt) != 0)
		return 2;
	return run(&opt);
}
