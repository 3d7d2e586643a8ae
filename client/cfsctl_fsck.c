/* cfsctl_fsck.c - commands that look at every fragment or every file of a tree: stat's replica view, fsck, goal set -r. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/cfsctl.h"
#include "client/cfsctl_json.h"
#include "common/error.h"
#include "common/proto.h"

/* ---- data nodes and fragments ------------------------------------------ */

int
nodes_fetch(struct mc *mc, union wire_body **out, char *errmsg)
{
	union wire_body *r = malloc(sizeof(*r));
	struct wire_node_list req;
	uint16_t rt = 0;
	int rv;

	if (r == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "node list");
	memset(&req, 0, sizeof(req));
	rv = mc_call(mc, WIRE_T_node_list, &req, &rt, r, 0, errmsg);
	if (rv == 0 && rt != WIRE_T_node_list_reply)
		rv = cfs_fail(errmsg, CFS_MALFORMED, "node_list answered with "
			      "%s", wire_type_name(rt));
	if (rv != 0) {
		cfs_errmsg_prefix(errmsg, "data nodes");
		free(r);
		return rv;
	}
	*out = r;
	return 0;
}

const struct wire_nodeinfo *
nodes_find(const union wire_body *nodes, uint64_t id)
{
	const struct wire_node_list_reply *l = &nodes->node_list_reply;

	for (uint32_t i = 0; i < l->nodes_count; i++)
		if (l->nodes[i].id == id)
			return &l->nodes[i];
	return NULL;
}

void
frag_health(const union wire_body *nodes, const struct wire_fraginfo *fi,
	    struct frag_health *h)
{
	h->live = fi->nodes_count;
	h->counting = 0;
	for (uint32_t j = 0; j < fi->nodes_count; j++) {
		const struct wire_nodeinfo *n = nodes_find(nodes, fi->nodes[j]);
		/* the map lists only readable replicas; a draining node's
		 * copy is read but does not count toward the goal */
		if (n == NULL || !n->draining)
			h->counting++;
	}
	h->missing = h->live == 0;
	h->under = !h->missing && h->counting < fi->goal;
}

int
frags_each(struct mc *mc, uint64_t ino, union wire_body *buf,
	   int (*fn)(void *arg, const struct wire_frag_map *m,
		     const struct wire_fraginfo *fi),
	   void *arg, char *errmsg)
{
	for (uint64_t first = 0;;) {
		struct wire_frag_locate rq = {.ino = ino, .first = first,
					      .count = WIRE_MAX_fraginfo};
		uint16_t rt = 0;
		int rv;

		mc_cred(mc, &rq.cred);
		rv = mc_call(mc, WIRE_T_frag_locate, &rq, &rt, buf, 0, errmsg);
		if (rv == 0 && rt != WIRE_T_frag_map)
			rv = cfs_fail(errmsg, CFS_MALFORMED, "frag_locate "
				      "answered with %s", wire_type_name(rt));
		if (rv != 0)
			return rv;
		const struct wire_frag_map *m = &buf->frag_map;
		for (uint32_t i = 0; i < m->frags_count; i++)
			if ((rv = fn(arg, m, &m->frags[i])) != 0)
				return rv;
		uint64_t end = m->fragment_size
				       ? (m->size + m->fragment_size - 1) /
						 m->fragment_size
				       : 0;
		first += WIRE_MAX_fraginfo;
		if (first >= end)
			return 0;
	}
}

void
json_fragment(struct json *j, const union wire_body *nodes,
	      const struct wire_frag_map *m, const struct wire_fraginfo *fi)
{
	struct frag_health h;

	frag_health(nodes, fi, &h);
	json_object_begin(j, NULL);
	json_u64(j, "index", fi->idx);
	json_u64(j, "version", fi->version);
	json_u64(j, "length", fi->length);
	json_u64(j, "crc32c", fi->crc);
	json_u64(j, "goal", fi->goal);
	json_u64(j, "counting", h.counting);
	json_bool(j, "under_goal", h.under);
	json_bool(j, "missing", h.missing);
	json_array_begin(j, "replicas");
	for (uint32_t k = 0; k < fi->nodes_count; k++) {
		const struct wire_nodeinfo *n = nodes_find(nodes, fi->nodes[k]);
		const char *addr = NULL;
		for (uint32_t x = 0; x < m->nodes_count; x++)
			if (m->nodes[x].id == fi->nodes[k])
				addr = m->nodes[x].addr;
		json_object_begin(j, NULL);
		json_u64(j, "node", fi->nodes[k]);
		json_str(j, "address", addr ? addr : n ? n->addr : NULL);
		json_str(j, "state", n ? node_state_name(n->state, n->draining)
				       : "unknown");
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
}

/* ---- stat: the replicas of every fragment --------------------------------- */

struct stat_ctx {
	const union wire_body *nodes;
	struct json *j;
	uint64_t count, under, missing;
};

static int
stat_one(void *arg, const struct wire_frag_map *m,
	 const struct wire_fraginfo *fi)
{
	struct stat_ctx *c = arg;
	struct frag_health h;

	c->count++;
	if (c->j != NULL) {
		json_fragment(c->j, c->nodes, m, fi);
		return 0;
	}
	frag_health(c->nodes, fi, &h);
	c->under += (uint64_t)h.under;
	c->missing += (uint64_t)h.missing;
	printf("fragment %llu: version %llu, length %llu, %u of goal %u "
	       "replicas%s\n",
	       (unsigned long long)fi->idx, (unsigned long long)fi->version,
	       (unsigned long long)fi->length, h.counting, fi->goal,
	       h.missing ? "  MISSING (no live replica)"
	       : h.under ? "  UNDER GOAL"
			 : "");
	for (uint32_t k = 0; k < fi->nodes_count; k++) {
		const struct wire_nodeinfo *n = nodes_find(c->nodes,
							   fi->nodes[k]);
		const char *addr = n ? n->addr : "?";
		for (uint32_t x = 0; x < m->nodes_count; x++)
			if (m->nodes[x].id == fi->nodes[k])
				addr = m->nodes[x].addr;
		printf("  node %-4llu %-22s %s\n",
		       (unsigned long long)fi->nodes[k], addr,
		       n ? node_state_name(n->state, n->draining) : "unknown");
	}
	return 0;
}

int
stat_fragments(struct mc *mc, const struct wire_attr *a, struct json *j,
	       char *errmsg)
{
	union wire_body *buf = malloc(sizeof(*buf)), *nodes = NULL;
	struct stat_ctx c = {.j = j};
	int rv;

	if (buf == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "fragment map");
	if ((rv = nodes_fetch(mc, &nodes, errmsg)) == 0) {
		c.nodes = nodes;
		if (j != NULL)
			json_array_begin(j, "fragments");
		rv = frags_each(mc, a->ino, buf, stat_one, &c, errmsg);
		if (j != NULL)
			json_array_end(j);
		else if (rv == 0 && c.count == 0)
			printf("fragments: none (empty or all holes)\n");
	}
	free(nodes);
	free(buf);
	return rv;
}

/* ---- walking a tree ------------------------------------------------------ */

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Visit every entry below directory @dir (at @path), depth first, each
 * directory before its contents.  Entries that vanish meanwhile are
 * skipped by the readdir itself; a failing readdir stops the walk. */
static int
walk_dir(struct mc *mc, const char *path, uint64_t dir,
	 int (*visit)(void *arg, const char *path, const struct wire_attr *a,
		      char *errmsg),
	 void *arg, char *errmsg)
{
	struct wire_dirents *d = malloc(sizeof(*d));
	uint64_t cookie = 0;
	int rv = 0;

	if (d == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "%s", path);
	for (;;) {
		/* (names only: a file's size comes from its fragment map) */
		rv = mc_readdir(mc, dir, cookie, WIRE_MAX_dirent, 1, d,
				errmsg);
		if (rv != 0) {
			cfs_errmsg_prefix(errmsg, "%s", path);
			break;
		}
		for (uint32_t i = 0; i < d->entries_count && rv == 0; i++) {
			const struct wire_dirent *e = &d->entries[i];
			char *child;
			cookie = e->cookie;
			if (strcmp(e->name, ".") == 0 ||
			    strcmp(e->name, "..") == 0)
				continue;
			if (asprintf(&child, "%s%s%s", path,
				     strcmp(path, "/") ? "/" : "",
				     e->name) < 0)
				return free(d), cfs_fail(errmsg, CFS_ENOMEM,
							 "%s", path);
			rv = visit(arg, child, &e->attr, errmsg);
			if (rv == 0 && (e->attr.mode & S_IFMT) == S_IFDIR)
				rv = walk_dir(mc, child, e->attr.ino, visit,
					      arg, errmsg);
			free(child);
		}
		if (rv != 0 || d->eof || d->entries_count == 0)
			break;
	}
	free(d);
	return rv;
}

int
tree_walk(struct mc *mc, const char *path, const struct wire_attr *top,
	  int (*visit)(void *arg, const char *path, const struct wire_attr *a,
		       char *errmsg),
	  void *arg, char *errmsg)
{
	int rv = visit(arg, path, top, errmsg);

	if (rv == 0 && (top->mode & S_IFMT) == S_IFDIR)
		rv = walk_dir(mc, path, top->ino, visit, arg, errmsg);
	return rv;
}

/* ---- fsck ---------------------------------------------------------------- */

struct fsck {
	struct mc *mc;
	union wire_body *nodes, *buf;
	struct json *j;
	int tty;
	double last;
	const char *path; /* of the file being checked */
	uint64_t files, dirs, frags, under, missing, bad_files;
	int file_bad;
};

static void
fsck_progress(struct fsck *f, int final)
{
	double t = now_s();

	if (!f->tty || (!final && t - f->last < 0.2))
		return;
	f->last = t;
	fprintf(stderr, "\rfsck: %llu directories, %llu files, %llu "
		"fragments checked%s",
		(unsigned long long)f->dirs, (unsigned long long)f->files,
		(unsigned long long)f->frags, final ? "\r\033[K" : "");
}

static int
fsck_frag(void *arg, const struct wire_frag_map *m,
	  const struct wire_fraginfo *fi)
{
	struct fsck *f = arg;
	struct frag_health h;

	(void)m;
	f->frags++;
	frag_health(f->nodes, fi, &h);
	if (!h.under && !h.missing)
		return 0;
	f->under += (uint64_t)h.under;
	f->missing += (uint64_t)h.missing;
	f->file_bad = 1;
	if (f->j != NULL) {
		json_object_begin(f->j, NULL);
		json_str(f->j, "path", f->path);
		json_str(f->j, "problem", h.missing ? "missing" : "under_goal");
		json_u64(f->j, "index", fi->idx);
		json_u64(f->j, "version", fi->version);
		json_u64(f->j, "replicas", h.counting);
		json_u64(f->j, "goal", fi->goal);
		json_object_end(f->j);
	} else {
		if (f->tty)
			fputs("\r\033[K", stderr);
		if (h.missing)
			printf("%s: fragment %llu (version %llu): MISSING, no "
			       "live replica\n", f->path,
			       (unsigned long long)fi->idx,
			       (unsigned long long)fi->version);
		else
			printf("%s: fragment %llu (version %llu): under goal, "
			       "%u of %u replicas\n", f->path,
			       (unsigned long long)fi->idx,
			       (unsigned long long)fi->version, h.counting,
			       fi->goal);
	}
	return 0;
}

static int
fsck_visit(void *arg, const char *path, const struct wire_attr *a,
	   char *errmsg)
{
	struct fsck *f = arg;
	int rv;

	if ((a->mode & S_IFMT) == S_IFDIR)
		f->dirs++;
	if ((a->mode & S_IFMT) != S_IFREG)
		return 0;
	f->files++;
	f->path = path;
	f->file_bad = 0;
	rv = frags_each(f->mc, a->ino, f->buf, fsck_frag, f, errmsg);
	if (rv == CFS_ENOENT) /* removed since the listing */
		rv = 0;
	else if (rv != 0)
		cfs_errmsg_prefix(errmsg, "%s", path);
	f->bad_files += (uint64_t)f->file_bad;
	fsck_progress(f, 0);
	return rv;
}

/* `fsck [PATH]`: 0 all at goal, 1 some fragment under goal or missing,
 * 2 the check itself failed (no such PATH, cluster unreachable). */
int
cmd_fsck(struct mc *mc, int argc, char **argv, char *errmsg)
{
	struct fsck f = {.mc = mc};
	struct json j;
	struct wire_attr a;
	const char *path = "/";
	int rv;

	if (argc > 1)
		usage_error("fsck: one PATH at most (got '%s' too)", argv[1]);
	if (argc == 1) {
		if (argv[0][0] == '-')
			usage_error("fsck: unknown option '%s'", argv[0]);
		path = argv[0];
	}
	if ((rv = resolve(mc, path, &a, errmsg)) != 0) {
		fprintf(stderr, "cfsctl: fsck: %s\n", errmsg);
		return 2;
	}
	if ((f.buf = malloc(sizeof(*f.buf))) == NULL) {
		fprintf(stderr, "cfsctl: fsck: out of memory\n");
		return 2;
	}
	if ((rv = nodes_fetch(mc, &f.nodes, errmsg)) != 0) {
		fprintf(stderr, "cfsctl: fsck: %s\n", errmsg);
		free(f.buf);
		return 2;
	}
	f.tty = isatty(2);
	if (cfsctl_json) {
		f.j = &j;
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_str(&j, "path", path);
		json_array_begin(&j, "problems");
	}
	rv = tree_walk(mc, path, &a, fsck_visit, &f, errmsg);
	fsck_progress(&f, 1);
	if (f.j != NULL) {
		json_array_end(&j);
		json_u64(&j, "directories", f.dirs);
		json_u64(&j, "files", f.files);
		json_u64(&j, "fragments", f.frags);
		json_u64(&j, "under_goal", f.under);
		json_u64(&j, "missing", f.missing);
		json_u64(&j, "damaged_files", f.bad_files);
		json_bool(&j, "complete", rv == 0);
		if (rv != 0)
			json_str(&j, "error", errmsg);
		json_object_end(&j);
		json_finish(&j);
	} else {
		printf("fsck: %llu files, %llu fragments, %llu under goal, "
		       "%llu missing\n",
		       (unsigned long long)f.files, (unsigned long long)f.frags,
		       (unsigned long long)f.under,
		       (unsigned long long)f.missing);
	}
	free(f.nodes);
	free(f.buf);
	if (rv != 0) {
		fprintf(stderr, "cfsctl: fsck: %s (check incomplete)\n",
			errmsg);
		return 2;
	}
	return f.under || f.missing ? 1 : 0;
}

/* ---- goal set -r --------------------------------------------------------- */

struct goal_walk {
	struct mc *mc;
	uint32_t goal;
	int tty;
	double last;
	uint64_t files, dirs, failed;
};

static int
goal_visit(void *arg, const char *path, const struct wire_attr *a,
	   char *errmsg)
{
	struct goal_walk *g = arg;
	uint32_t type = a->mode & S_IFMT;
	double t;

	if (type != S_IFDIR && type != S_IFREG)
		return 0; /* symlinks and special files have no data */
	struct wire_setgoal rq = {.ino = a->ino, .goal = g->goal};
	mc_cred(g->mc, &rq.cred);
	int rv = mc_call(g->mc, WIRE_T_setgoal, &rq, NULL, NULL, 0, errmsg);
	if (rv == CFS_ENOENT)
		return 0; /* removed since the listing */
	if (rv == CFS_EPERM || rv == CFS_EACCES) {
		/* not ours: say so and go on with the rest */
		if (g->tty)
			fputs("\r\033[K", stderr);
		fprintf(stderr, "cfsctl: goal set %s: %s\n", path, errmsg);
		g->failed++;
		return 0;
	}
	if (rv != 0) {
		cfs_errmsg_prefix(errmsg, "%s", path);
		return rv;
	}
	if (type == S_IFDIR)
		g->dirs++;
	else
		g->files++;
	t = now_s();
	if (g->tty && t - g->last >= 0.2) {
		g->last = t;
		fprintf(stderr, "\rgoal %u: %llu directories, %llu files",
			g->goal, (unsigned long long)g->dirs,
			(unsigned long long)g->files);
	}
	return 0;
}

int
goal_set_tree(struct mc *mc, uint32_t goal, const char *path,
	      const struct wire_attr *top, char *errmsg)
{
	struct goal_walk g = {.mc = mc, .goal = goal, .tty = isatty(2)};
	int rv = tree_walk(mc, path, top, goal_visit, &g, errmsg);

	if (g.tty)
		fputs("\r\033[K", stderr);
	printf("%s: goal %u set on %llu directories and %llu files%s\n", path,
	       goal, (unsigned long long)g.dirs, (unsigned long long)g.files,
	       rv ? " before the error" : "");
	if (rv == 0 && g.failed > 0)
		rv = cfs_fail(errmsg, CFS_EPERM, "%s: %llu entries refused",
			      path, (unsigned long long)g.failed);
	return rv;
}
