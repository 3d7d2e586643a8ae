/* cfsctl_data.c - cfsctl's data commands: put, get, frags, node, and the data part of status. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/cfsctl.h"
#include "client/cfsctl_json.h"
#include "client/fileio.h"
#include "common/error.h"
#include "common/proto.h"

#define CHUNK (16u << 20) /* bytes per fio call of put/get */

static void
human(uint64_t v, char *buf, size_t cap)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB",
					   "PiB"};
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%llu B", (unsigned long long)v);
	else
		snprintf(buf, cap, "%.1f %s", d, unit[u]);
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Progress of put/get on stderr.  On a terminal, a bar redrawn in place
 * five times a second:
 *   [#########...........]  45%  12.3 MiB / 27.0 MiB  5.2 MiB/s  ETA 0:03
 * (without bar, percent and ETA when the size is unknown, as for stdin).
 * Otherwise (a log file, a pipe), a plain line every 10 s and at the end,
 * so a script's log shows the transfer without carriage returns.  -q: none.
 */
struct progress {
	int on, tty;
	uint64_t total, done;
	double start, last;
};

static void
progress_init(struct progress *p, int quiet, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->on = !quiet;
	p->tty = isatty(2);
	p->total = total;
	p->start = p->last = now_s();
}

static void
progress_show(struct progress *p, int final)
{
	char a[32], b[32], r[32], eta[32] = "", bar[32] = "";
	double t = now_s(), el = t - p->start;
	double rate = el > 0 ? (double)p->done / el : 0;

	if (!p->on || (!final && t - p->last < (p->tty ? 0.2 : 10)))
		return;
	p->last = t;
	human(p->done, a, sizeof(a));
	human((uint64_t)rate, r, sizeof(r));
	if (p->total > 0) {
		double frac = (double)p->done / (double)p->total;
		int full = (int)(frac * 20 + 0.5);
		if (frac > 1)
			frac = 1, full = 20;
		human(p->total, b, sizeof(b));
		bar[0] = '[';
		for (int i = 0; i < 20; i++)
			bar[1 + i] = i < full ? '#' : '.';
		bar[21] = ']';
		bar[22] = '\0';
		if (final) {
			snprintf(eta, sizeof(eta), "in %.1fs", el);
		} else if (rate > 0) {
			long s = (long)((double)(p->total - p->done) / rate);
			snprintf(eta, sizeof(eta), "ETA %ld:%02ld", s / 60,
				 s % 60);
		} else {
			snprintf(eta, sizeof(eta), "ETA -:--");
		}
		if (p->tty)
			fprintf(stderr, "\r%s %3.0f%%  %s / %s  %s/s  %s\033[K",
				bar, 100.0 * frac, a, b, r, eta);
		else
			fprintf(stderr, "%3.0f%%  %s / %s  %s/s  %s\n",
				100.0 * frac, a, b, r, eta);
	} else if (p->tty) {
		fprintf(stderr, "\r%s  %s/s%s\033[K", a, r,
			final ? "" : "  (size unknown)");
	} else {
		fprintf(stderr, "%s  %s/s\n", a, r);
	}
	if (final && p->tty)
		fputc('\n', stderr);
}

const char *
node_state_name(unsigned state, unsigned draining)
{
	if (draining && (state == CFS_NODE_ALIVE || state == CFS_NODE_FULL))
		return "draining";
	switch (state) {
	case CFS_NODE_ALIVE: return "alive";
	case CFS_NODE_FULL: return "full";
	case CFS_NODE_DEAD: return "DEAD";
	case CFS_NODE_REMOVED: return "removed";
	default: return "?";
	}
}

static int
node_list(const char *servers, int timeout_ms, union wire_body *r,
	  char *errmsg)
{
	struct wire_node_list req;
	uint16_t rt = 0;

	memset(&req, 0, sizeof(req));
	int rv = admin_call(servers, timeout_ms, WIRE_T_node_list, &req, &rt,
			    r, errmsg);
	if (rv == 0 && rt != WIRE_T_node_list_reply)
		rv = cfs_fail(errmsg, CFS_MALFORMED, "node_list answered with "
			      "%s", wire_type_name(rt));
	return rv;
}

static void
print_nodes(const struct wire_node_list_reply *l)
{
	printf("  %-4s %-22s %-9s %-10s %-10s %-8s %-7s %s\n", "ID", "ADDRESS",
	       "STATE", "FREE", "CAPACITY", "REPLICAS", "SILENT", "LABELS");
	for (uint32_t i = 0; i < l->nodes_count; i++) {
		const struct wire_nodeinfo *n = &l->nodes[i];
		char f[32], c[32], s[32];
		human(n->free, f, sizeof(f));
		human(n->capacity, c, sizeof(c));
		snprintf(s, sizeof(s), "%.1fs", (double)n->silent_ms / 1000);
		printf("  %-4llu %-22s %-9s %-10s %-10s %-8llu %-7s %s\n",
		       (unsigned long long)n->id, n->addr,
		       node_state_name(n->state, n->draining), f, c,
		       (unsigned long long)n->replicas, s,
		       n->labels[0] ? n->labels : "-");
	}
}

/* The data nodes as the "nodes" array member of the open object. */
static void
json_nodes(struct json *j, const struct wire_node_list_reply *l)
{
	json_array_begin(j, "nodes");
	for (uint32_t i = 0; i < l->nodes_count; i++) {
		const struct wire_nodeinfo *n = &l->nodes[i];
		json_object_begin(j, NULL);
		json_u64(j, "id", n->id);
		json_str(j, "uuid", n->uuid);
		json_str(j, "address", n->addr);
		json_str(j, "state", node_state_name(n->state, 0));
		json_bool(j, "draining", n->draining);
		json_u64(j, "capacity", n->capacity);
		json_u64(j, "free", n->free);
		json_u64(j, "replicas", n->replicas);
		json_u64(j, "silent_ms", n->silent_ms);
		json_u64(j, "load", n->load);
		json_str(j, "labels", n->labels);
		json_object_end(j);
	}
	json_array_end(j);
}

int
status_data(const char *leader, int timeout_ms, struct json *j, char *errmsg)
{
	union wire_body *r = malloc(sizeof(*r));
	int rv;

	if (r == NULL)
		return 1;
	if ((rv = node_list(leader, timeout_ms, r, errmsg)) != 0) {
		fprintf(stderr, "cfsctl: status: data nodes: %s\n", errmsg);
		free(r);
		return 1;
	}
	const struct wire_node_list_reply *l = &r->node_list_reply;
	rv = l->missing ? 1 : 0;
	if (j != NULL) {
		json_object_begin(j, "data");
		json_nodes(j, l);
		json_u64(j, "fragments", l->fragments);
		json_u64(j, "under_goal", l->under_goal);
		json_u64(j, "missing", l->missing);
		json_u64(j, "garbage_replicas", l->garbage);
		json_object_begin(j, "repair");
		json_u64(j, "active", l->repair_active);
		json_u64(j, "copies", l->repair_copies);
		json_u64(j, "bytes", l->repair_bytes);
		json_u64(j, "rate", l->repair_rate);
		json_bool(j, "rebalance", !l->rebalance_held);
		json_object_end(j);
		json_bool(j, "degraded_writes", l->degraded_writes);
		json_object_end(j);
		free(r);
		return rv;
	}
	char b[32], rate[32];
	human(l->repair_bytes, b, sizeof(b));
	human(l->repair_rate, rate, sizeof(rate));
	printf("\ndata nodes: %u\n", l->nodes_count);
	print_nodes(l);
	printf("\nfragments:     %llu\n"
	       "under goal:    %llu%s\n"
	       "missing:       %llu%s\n"
	       "to delete:     %llu replicas\n"
	       "repair:        %u tasks running (copies, moves, deletions), "
	       "%llu copies done (%s) since this leader started, %s/s now\n"
	       "rebalance:     %s\n"
	       "degraded writes: %s\n",
	       (unsigned long long)l->fragments,
	       (unsigned long long)l->under_goal,
	       l->under_goal ? " (being repaired)" : "",
	       (unsigned long long)l->missing,
	       l->missing ? " (NO LIVE COPY: bring their nodes back)" : "",
	       (unsigned long long)l->garbage, l->repair_active,
	       (unsigned long long)l->repair_copies, b, rate,
	       l->rebalance_held ? "held (the leader's rebalance = no)"
				 : "on (moves when nothing is under goal)",
	       l->degraded_writes ? "allowed (writes proceed with fewer "
				    "copies, counted under goal)"
				  : "refused (EAGAIN below goal)");
	free(r);
	return rv;
}

static uint64_t
node_id_arg(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v == 0)
		usage_error("'%s' is not a data node id", s);
	return v;
}

int
cmd_node(const char *servers, int timeout_ms, int argc, char **argv,
	 char *errmsg)
{
	union wire_body *r = malloc(sizeof(*r));
	int rv;

	int list = argc == 1 && strcmp(argv[0], "list") == 0;
	if (!list && (argc != 2 || (strcmp(argv[0], "drain") &&
				    strcmp(argv[0], "undrain") &&
				    strcmp(argv[0], "remove"))))
		usage_error("%s", "usage: node list | node drain|undrain|"
				  "remove ID");
	uint64_t id = list ? 0 : node_id_arg(argv[1]);
	if (r == NULL)
		return 1;
	if ((rv = node_list(servers, timeout_ms, r, errmsg)) != 0) {
		fprintf(stderr, "cfsctl: node: %s\n", errmsg);
		free(r);
		return 1;
	}
	if (list && cfsctl_json) {
		struct json j;
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_nodes(&j, &r->node_list_reply);
		json_object_end(&j);
		json_finish(&j);
		free(r);
		return 0;
	}
	if (list) {
		print_nodes(&r->node_list_reply);
		free(r);
		return 0;
	}
	const struct wire_nodeinfo *n = NULL;
	for (uint32_t i = 0; i < r->node_list_reply.nodes_count; i++)
		if (r->node_list_reply.nodes[i].id == id)
			n = &r->node_list_reply.nodes[i];
	if (n == NULL) {
		fprintf(stderr, "cfsctl: node %s: no data node %llu\n",
			argv[0], (unsigned long long)id);
		free(r);
		return 1;
	}
	struct wire_node_state ns = {.id = id, .state = n->state,
				     .draining = n->draining};
	if (strcmp(argv[0], "drain") == 0)
		ns.draining = 1;
	else if (strcmp(argv[0], "undrain") == 0)
		ns.draining = 0;
	else
		ns.state = CFS_NODE_REMOVED;
	rv = admin_call(servers, timeout_ms, WIRE_T_node_state, &ns, NULL, r,
			errmsg);
	if (rv != 0)
		fprintf(stderr, "cfsctl: node %s %llu: %s\n", argv[0],
			(unsigned long long)id, errmsg);
	else if (strcmp(argv[0], "remove") == 0)
		printf("node %llu removed: its replicas are forgotten and "
		       "re-created from the other copies (a fragment whose "
		       "only copies were there is lost: drain first); stop "
		       "it and wipe its directory\n",
		       (unsigned long long)id);
	else if (ns.draining)
		printf("node %llu draining: its replicas are being copied "
		       "elsewhere (watch `cfsctl status`), then remove it\n",
		       (unsigned long long)id);
	free(r);
	return rv ? 1 : 0;
}

/* ---- put / get ------------------------------------------------------------ */

/* Create @path, or empty it if it is an existing regular file. */
static int
create_or_truncate(struct mc *mc, const char *path, struct wire_attr *a,
		   char *errmsg)
{
	char name[CFS_NAME_MAX + 1];
	uint64_t parent;
	int rv = resolve_parent(mc, path, &parent, name, errmsg);

	if (rv != 0)
		return rv;
	rv = mc_create(mc, parent, name, 0644, a, errmsg);
	if (rv != CFS_EEXIST)
		return rv;
	if ((rv = mc_lookup(mc, parent, name, a, errmsg)) != 0)
		return rv;
	struct wire_setattr sa = {.ino = a->ino, .valid = CFS_SETATTR_SIZE};
	mc_cred(mc, &sa.cred);
	return mc_call(mc, WIRE_T_setattr, &sa, NULL, NULL, 0, errmsg);
}

static ssize_t
read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
cmd_put(struct mc *mc, int argc, char **argv, char *errmsg)
{
	struct progress p = {0};
	struct wire_attr a;
	struct fio *f = NULL;
	uint8_t *buf = NULL;
	int fd, rv, quiet = 0, at = 0;
	uint64_t start = 0;

	while (argc > 0 && argv[0][0] == '-' && argv[0][1] != '\0') {
		if (strcmp(argv[0], "-q") == 0) {
			quiet = 1;
		} else if (strcmp(argv[0], "-o") == 0 && argc > 1) {
			if (parse_size(argv[1], &start) != 0)
				usage_error("put: bad offset '%s'", argv[1]);
			at = 1;
			argc--;
			argv++;
		} else {
			usage_error("put: unknown option '%s'", argv[0]);
		}
		argc--;
		argv++;
	}
	if (argc != 2)
		usage_error("%s", "usage: put [-q] [-o OFFSET] LOCALFILE|- PATH");
	const char *src = argv[0], *dst = argv[1];
	fd = strcmp(src, "-") == 0 ? 0 : open(src, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "cfsctl: put: %s: %s\n", src, strerror(errno));
		return 1;
	}
	struct stat st;
	progress_init(&p, quiet, fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
					 ? (uint64_t)st.st_size
					 : 0);
	if (at)
		rv = resolve(mc, dst, &a, errmsg);
	else
		rv = create_or_truncate(mc, dst, &a, errmsg);
	if (rv != 0 ||
	    (rv = fio_open(&f, mc, NULL, errmsg)) != 0)
		goto out;
	if ((buf = malloc(CHUNK)) == NULL) {
		rv = cfs_fail(errmsg, CFS_ENOMEM, "buffer");
		goto out;
	}
	for (uint64_t off = start;;) {
		ssize_t n = read_full(fd, buf, CHUNK);
		if (n < 0) {
			rv = cfs_fail(errmsg, CFS_EIO, "reading %s: %s", src,
				      strerror(errno));
			break;
		}
		if (n == 0)
			break;
		/* durable: the data is on every replica's disk when put
		 * returns, like close() after fsync() */
		if ((rv = fio_pwrite(f, a.ino, off, buf, (size_t)n, 1, 0,
				     errmsg)) != 0)
			break;
		off += (uint64_t)n;
		p.done = off - start;
		progress_show(&p, 0);
	}
	if (rv == 0)
		progress_show(&p, 1);
	else if (p.on && p.tty)
		fputc('\n', stderr);
out:
	if (rv != 0)
		fprintf(stderr, "cfsctl: put %s: %s\n", dst, errmsg);
	fio_close(&f);
	free(buf);
	if (fd != 0)
		close(fd);
	return rv ? 1 : 0;
}

static int
write_full(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
cmd_get(struct mc *mc, int argc, char **argv, char *errmsg)
{
	int quiet = argc > 0 && strcmp(argv[0], "-q") == 0;
	struct progress p = {0};
	struct wire_attr a;
	struct fio *f = NULL;
	uint8_t *buf = NULL;
	int fd = -1, rv;

	if (argc - quiet != 2)
		usage_error("%s", "usage: get [-q] PATH LOCALFILE|-");
	const char *src = argv[quiet], *dst = argv[quiet + 1];
	if ((rv = resolve(mc, src, &a, errmsg)) != 0 ||
	    (rv = fio_open(&f, mc, NULL, errmsg)) != 0)
		goto out;
	if ((buf = malloc(CHUNK)) == NULL) {
		rv = cfs_fail(errmsg, CFS_ENOMEM, "buffer");
		goto out;
	}
	fd = strcmp(dst, "-") == 0 ? 1
				   : open(dst, O_WRONLY | O_CREAT | O_TRUNC,
					  0644);
	if (fd < 0) {
		rv = cfs_fail(errmsg, CFS_EIO, "%s: %s", dst, strerror(errno));
		goto out;
	}
	/* not into the data on a terminal's stdout */
	progress_init(&p, quiet || (fd == 1 && isatty(1)), a.size);
	for (uint64_t off = 0;;) {
		size_t got = 0;
		if ((rv = fio_pread(f, a.ino, off, buf, CHUNK, &got,
				    errmsg)) != 0 || got == 0)
			break;
		if (write_full(fd, buf, got) != 0) {
			rv = cfs_fail(errmsg, CFS_EIO, "writing %s: %s", dst,
				      strerror(errno));
			break;
		}
		off += got;
		p.done = off;
		progress_show(&p, 0);
	}
	if (rv == 0)
		progress_show(&p, 1);
	else if (p.on && p.tty)
		fputc('\n', stderr);
out:
	if (rv != 0)
		fprintf(stderr, "cfsctl: get %s: %s\n", src, errmsg);
	if (fd > 1 && close(fd) != 0 && rv == 0) {
		fprintf(stderr, "cfsctl: get: %s: %s\n", dst, strerror(errno));
		rv = CFS_EIO;
	}
	fio_close(&f);
	free(buf);
	return rv ? 1 : 0;
}

struct frags_json_ctx {
	struct json *j;
	const union wire_body *nodes;
	int under;
};

static int
frag_json_one(void *arg, const struct wire_frag_map *m,
	      const struct wire_fraginfo *fi)
{
	struct frags_json_ctx *c = arg;
	struct frag_health h;

	frag_health(c->nodes, fi, &h);
	c->under |= h.under || h.missing;
	json_fragment(c->j, c->nodes, m, fi);
	return 0;
}

/* `frags --json`: as the text, with each replica's node state. */
static int
frags_json(struct mc *mc, const char *path, const struct wire_attr *a,
	   union wire_body *buf, char *errmsg)
{
	union wire_body *nodes = NULL;
	struct json j;
	int rv = nodes_fetch(mc, &nodes, errmsg);

	if (rv != 0) {
		fprintf(stderr, "cfsctl: frags %s: %s\n", path, errmsg);
		return 1;
	}
	struct frags_json_ctx c = {.j = &j, .nodes = nodes};
	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_str(&j, "path", path);
	json_u64(&j, "ino", a->ino);
	json_u64(&j, "size", a->size);
	json_u64(&j, "goal", a->goal);
	json_array_begin(&j, "fragments");
	rv = frags_each(mc, a->ino, buf, frag_json_one, &c, errmsg);
	json_array_end(&j);
	json_bool(&j, "complete", rv == 0);
	json_object_end(&j);
	json_finish(&j);
	free(nodes);
	if (rv != 0)
		fprintf(stderr, "cfsctl: frags %s: %s\n", path, errmsg);
	return rv || c.under ? 1 : 0;
}

/* `frags PATH`: every fragment's committed version and where it lives. */
int
cmd_frags(struct mc *mc, int argc, char **argv, char *errmsg)
{
	union wire_body *r = malloc(sizeof(*r));
	struct wire_attr a;
	int rv, under = 0;

	if (argc != 1)
		usage_error("%s", "usage: frags PATH");
	if (r == NULL)
		return 1;
	if ((rv = resolve(mc, argv[0], &a, errmsg)) != 0) {
		fprintf(stderr, "cfsctl: frags %s\n", errmsg);
		free(r);
		return 1;
	}
	if (cfsctl_json) {
		rv = frags_json(mc, argv[0], &a, r, errmsg);
		free(r);
		return rv;
	}
	printf("%s: inode %llu, size %llu, goal %u\n", argv[0],
	       (unsigned long long)a.ino, (unsigned long long)a.size, a.goal);
	printf("  %-6s %-8s %-9s %-8s %s\n", "INDEX", "VERSION", "LENGTH",
	       "CRC", "REPLICAS");
	for (uint64_t first = 0;;) {
		struct wire_frag_locate rq = {.ino = a.ino, .first = first,
					      .count = WIRE_MAX_fraginfo};
		uint16_t rt = 0;
		mc_cred(mc, &rq.cred);
		rv = mc_call(mc, WIRE_T_frag_locate, &rq, &rt, r, 0, errmsg);
		if (rv != 0 || rt != WIRE_T_frag_map)
			break;
		const struct wire_frag_map *m = &r->frag_map;
		for (uint32_t i = 0; i < m->frags_count; i++) {
			const struct wire_fraginfo *fi = &m->frags[i];
			printf("  %-6llu %-8llu %-9llu %08x ",
			       (unsigned long long)fi->idx,
			       (unsigned long long)fi->version,
			       (unsigned long long)fi->length, fi->crc);
			for (uint32_t j = 0; j < fi->nodes_count; j++) {
				const char *addr = "?";
				for (uint32_t k = 0; k < m->nodes_count; k++)
					if (m->nodes[k].id == fi->nodes[j])
						addr = m->nodes[k].addr;
				printf("%s%llu@%s", j ? " " : "",
				       (unsigned long long)fi->nodes[j], addr);
			}
			if (fi->nodes_count < fi->goal) {
				printf("  UNDER GOAL (%u of %u)",
				       fi->nodes_count, fi->goal);
				under = 1;
			}
			putchar('\n');
		}
		uint64_t end = m->fragment_size
				       ? (m->size + m->fragment_size - 1) /
						 m->fragment_size
				       : 0;
		first += WIRE_MAX_fraginfo;
		if (first >= end)
			break;
	}
	if (rv != 0)
		fprintf(stderr, "cfsctl: frags %s: %s\n", argv[0], errmsg);
	free(r);
	return rv || under ? 1 : 0;
}

/* `goal get PATH...` / `goal set [-r] N PATH...`: a file's or directory's
 * goal (new files take their directory's; existing fragments are repaired
 * up to a raised goal, and trimmed down to a lowered one); -r: the whole
 * subtree. */
int
cmd_goal(struct mc *mc, int argc, char **argv, char *errmsg)
{
	int status = 0, set, recursive = 0, i = 1;
	unsigned long goal = 0;
	struct json j;

	if (argc < 1 || (strcmp(argv[0], "get") && strcmp(argv[0], "set")))
		usage_error("%s", "usage: goal get PATH... | goal set [-r] N "
				  "PATH...");
	set = strcmp(argv[0], "set") == 0;
	if (set) {
		char *end;
		if (i < argc && strcmp(argv[i], "-r") == 0)
			recursive = 1, i++;
		if (i >= argc)
			usage_error("%s", "goal set: missing N");
		goal = strtoul(argv[i], &end, 10);
		if (*end || end == argv[i] || goal < 1 || goal > CFS_GOAL_MAX)
			usage_error("goal set: N must be 1..%d, not '%s'",
				    CFS_GOAL_MAX, argv[i]);
		i++;
	}
	if (i >= argc)
		usage_error("goal %s: missing PATH", argv[0]);
	if (!set && cfsctl_json) {
		json_init(&j, stdout);
		json_array_begin(&j, NULL);
	}
	for (; i < argc; i++) {
		struct wire_attr a;
		int rv = resolve(mc, argv[i], &a, errmsg);
		if (rv == 0 && recursive) {
			rv = goal_set_tree(mc, (uint32_t)goal, argv[i], &a,
					   errmsg);
			if (rv != 0) {
				fprintf(stderr, "cfsctl: goal set -r %s\n",
					errmsg);
				status = 1;
			}
			continue;
		}
		if (rv == 0 && set) {
			struct wire_setgoal rq = {.ino = a.ino,
						  .goal = (uint32_t)goal};
			mc_cred(mc, &rq.cred);
			rv = mc_call(mc, WIRE_T_setgoal, &rq, NULL, NULL, 0,
				     errmsg);
			a.goal = (uint32_t)goal;
		}
		if (rv != 0) {
			fprintf(stderr, "cfsctl: goal %s\n", errmsg);
			status = 1;
			continue;
		}
		if (!set && cfsctl_json) {
			json_object_begin(&j, NULL);
			json_str(&j, "path", argv[i]);
			json_u64(&j, "ino", a.ino);
			json_u64(&j, "goal", a.goal);
			json_object_end(&j);
		} else {
			printf("%s: %u\n", argv[i], a.goal);
		}
	}
	if (!set && cfsctl_json) {
		json_array_end(&j);
		json_finish(&j);
	}
	return status;
}
