/* redcheck.c - check a real cluster against the redundancy model, on the data nodes' disks. */

/*
 * redcheck --cluster ADDRS [--settled] [--wait SECS] NODEDIR...
 *
 * Reads the metadata leader's fragment map of every file (walking the
 * namespace from "/"), the data node registry, and every replica file in
 * the given data node directories, and judges that state with rm_check()
 * (tests/model/redmodel.h).  The replica files are read here from their
 * documented format (docs/on-disk-format.md), not through data/store.c:
 * the checker does not trust the code it checks.
 *
 * --settled  the cluster had time to repair: under-goal fragments and map
 *            entries without an intact copy on disk are failures.
 * --wait S   repeat the whole observation until it passes or S seconds
 *            went by (repair, scrub and garbage collection converge).
 * Exit: 0 all invariants hold, 1 a violation (the report says which),
 * 2 the cluster or a directory could not be read.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/metaclient.h"
#include "common/crc32c.h"
#include "common/error.h"
#include "common/proto.h"
#include "common/wire.h"
#include "tests/model/redmodel.h"

#define HEADER_SIZE 4096
#define BLOCK 65536
#define MAX_DIRS 32

/* Growable arrays of what was observed. */
struct obs {
	struct rm_node *nodes;
	size_t nnodes;
	struct rm_frag *frags;
	size_t nfrags, capfrags;
	struct rm_disk *disk;
	size_t ndisk, capdisk;
	uint64_t files;
};

static void *
grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	size_t c = *cap ? *cap * 2 : 256;
	void *q = realloc(p, c * size);
	if (q == NULL) {
		fprintf(stderr, "redcheck: out of memory\n");
		exit(2);
	}
	*cap = c;
	return q;
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* A delta's chain (format 3, docs/on-disk-format.md): the files its
 * blocks come from, nearest first; the last is a whole file. */
#define CHAIN_MAX 8
struct chain {
	int n;
	int fd[CHAIN_MAX];
	int whole[CHAIN_MAX];
	uint8_t map[CHAIN_MAX][HEADER_SIZE];
};

/* The header of file @fd is a checked header of (ino, idx, version) in
 * format 1, 2 or 3; its format, or 0. */
static int
header_ok(const uint8_t *h, uint64_t ino, uint64_t idx, uint64_t version)
{
	int format = h[4] | h[5] << 8;
	size_t crc_off = format == 1 ? 44 : format == 3 ? 4092 : 52;

	if (le32(h) != 0x46534643u || format < 1 || format > 3 ||
	    (h[6] | h[7] << 8) != HEADER_SIZE || le32(h + 8) != BLOCK ||
	    le32(h + crc_off) != crc32c(0, h, crc_off))
		return 0;
	if (le64(h + 12) != ino || le32(h + 20) != idx ||
	    le64(h + 24) != version)
		return 0;
	return format;
}

/* Open the bases of a delta of (ino, idx) on @base, in directory @dir. */
static int
open_chain(const char *dir, uint64_t ino, uint64_t idx, uint64_t base,
	   struct chain *c)
{
	uint8_t h[HEADER_SIZE];

	c->n = 0;
	while (c->n < CHAIN_MAX) {
		char path[4800];
		snprintf(path, sizeof(path), "%s/%016" PRIx64 ".%" PRIu64
			 ".%" PRIu64, dir, ino, idx, base);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			return -1;
		c->fd[c->n] = fd;
		c->whole[c->n] = 0;
		c->n++;
		if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
			return -1;
		int format = h[4] | h[5] << 8;
		if (format == 1 || format == 2) { /* the whole file: raw */
			c->whole[c->n - 1] = 1;
			return 0;
		}
		if (header_ok(h, ino, idx, base) != 3)
			return -1;
		memcpy(c->map[c->n - 1], h + 60, HEADER_SIZE - 64);
		base = le64(h + 52);
	}
	return -1;
}

/*
 * Read and check one replica file: header (magic, format 1, 2 or 3,
 * sizes, header CRC, the key matching the name), every data block against
 * the CRC table (a delta's blocks not in its map from its bases), the
 * table's own CRC, and the data CRC.  Fills *d; d->verified is 1 only if
 * everything checks out.
 */
static void
read_replica(const char *dir, const char *path, struct rm_disk *d)
{
	uint8_t h[HEADER_SIZE], map[HEADER_SIZE];
	uint8_t *buf = NULL, *table = NULL;
	struct chain *c = calloc(1, sizeof(*c));
	int fd = open(path, O_RDONLY), format = 0;

	d->verified = 0;
	if (c == NULL || fd < 0 ||
	    pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		goto out;
	format = header_ok(h, d->ino, d->idx, d->version);
	if (format == 0)
		goto out;
	d->length = le64(h + 32);
	d->crc = le32(h + 40);
	if (d->length > (1ull << 40))
		goto out;
	if (format == 3) {
		memcpy(map, h + 60, HEADER_SIZE - 64);
		if (open_chain(dir, d->ino, d->idx, le64(h + 52), c) != 0)
			goto out;
	}
	uint64_t nblocks = (d->length + BLOCK - 1) / BLOCK;
	size_t tlen = (size_t)nblocks * 4 + 4;
	if ((table = malloc(tlen)) == NULL || (buf = malloc(BLOCK)) == NULL)
		goto out;
	if (pread(fd, table, tlen, (off_t)(HEADER_SIZE + d->length)) !=
		    (ssize_t)tlen ||
	    le32(table + tlen - 4) != crc32c(0, table, tlen - 4))
		goto out;
	uint32_t all = 0;
	for (uint64_t b = 0; b < nblocks; b++) {
		size_t n = (size_t)(d->length - b * BLOCK < BLOCK
					    ? d->length - b * BLOCK
					    : BLOCK);
		int from = fd;
		if (format == 3 && !(map[b / 8] >> (b % 8) & 1)) {
			from = -1;
			for (int i = 0; i < c->n && from < 0; i++)
				if (c->whole[i] ||
				    (c->map[i][b / 8] >> (b % 8) & 1))
					from = c->fd[i];
		}
		if (from < 0 ||
		    pread(from, buf, n, (off_t)(HEADER_SIZE + b * BLOCK)) !=
			    (ssize_t)n ||
		    crc32c(0, buf, n) != le32(table + b * 4))
			goto out;
		all = crc32c(all, buf, n);
	}
	d->verified = all == d->crc;
out:
	free(buf);
	free(table);
	for (int i = 0; c != NULL && i < c->n; i++)
		close(c->fd[i]);
	free(c);
	if (fd >= 0)
		close(fd);
}

/* Every replica file under DIR/frags/HH/, named <ino hex16>.<idx>.<ver>. */
static int
scan_dir(const char *dir, uint64_t node, struct obs *o)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/frags", dir);
	DIR *top = opendir(path);
	if (top == NULL) {
		if (errno == ENOENT)
			return 0; /* a node that never stored anything */
		fprintf(stderr, "redcheck: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct dirent *hh;
	while ((hh = readdir(top)) != NULL) {
		if (hh->d_name[0] == '.')
			continue;
		char sub[4400];
		snprintf(sub, sizeof(sub), "%s/%s", path, hh->d_name);
		DIR *d = opendir(sub);
		if (d == NULL)
			continue;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			uint64_t ino, idx, ver;
			int used = 0;
			if (strstr(e->d_name, ".tmp.") != NULL ||
			    sscanf(e->d_name, "%16" SCNx64 ".%" SCNu64
				   ".%" SCNu64 "%n",
				   &ino, &idx, &ver, &used) != 3 ||
			    e->d_name[used] != '\0')
				continue;
			o->disk = grow(o->disk, &o->capdisk, o->ndisk,
				       sizeof(*o->disk));
			struct rm_disk *r = &o->disk[o->ndisk++];
			memset(r, 0, sizeof(*r));
			r->node = node;
			r->ino = ino;
			r->idx = idx;
			r->version = ver;
			char file[4700];
			snprintf(file, sizeof(file), "%s/%s", sub, e->d_name);
			read_replica(sub, file, r);
		}
		closedir(d);
	}
	closedir(top);
	return 0;
}

/* The committed fragments of inode @ino (the frag_locate pages). */
static int
file_frags(struct mc *mc, uint64_t ino, union wire_body *r, struct obs *o,
	   char *errmsg)
{
	for (uint64_t first = 0;;) {
		struct wire_frag_locate rq = {.ino = ino, .first = first,
					      .count = WIRE_MAX_fraginfo};
		uint16_t rt = 0;
		mc_cred(mc, &rq.cred);
		int rv = mc_call(mc, WIRE_T_frag_locate, &rq, &rt, r, 0,
				 errmsg);
		if (rv == CFS_ENOENT)
			return 0; /* removed while we walked */
		if (rv != 0)
			return rv;
		const struct wire_frag_map *m = &r->frag_map;
		for (uint32_t i = 0; i < m->frags_count; i++) {
			const struct wire_fraginfo *fi = &m->frags[i];
			o->frags = grow(o->frags, &o->capfrags, o->nfrags,
					sizeof(*o->frags));
			struct rm_frag *f = &o->frags[o->nfrags++];
			memset(f, 0, sizeof(*f));
			f->ino = ino;
			f->idx = fi->idx;
			f->version = fi->version;
			f->length = fi->length;
			f->crc = fi->crc;
			f->goal = fi->goal;
			for (uint32_t j = 0; j < fi->nodes_count && j < 16; j++)
				f->meta_nodes[f->nmeta++] = fi->nodes[j];
		}
		uint64_t end = m->fragment_size ? (m->size + m->fragment_size -
						   1) / m->fragment_size
						: 0;
		first += WIRE_MAX_fraginfo;
		if (first >= end)
			return 0;
	}
}

/* Walk the namespace below directory @ino; every regular file once. */
static int
walk(struct mc *mc, uint64_t ino, union wire_body *r, struct obs *o,
     uint64_t **seen, size_t *nseen, size_t *capseen, char *errmsg)
{
	struct wire_dirents *page = malloc(sizeof(*page));
	uint64_t cookie = 0;
	int rv = 0;

	if (page == NULL)
		return CFS_ENOMEM;
	for (;;) {
		rv = mc_readdir(mc, ino, cookie, 128, 0, page, errmsg);
		if (rv != 0)
			break;
		for (uint32_t i = 0; i < page->entries_count && rv == 0; i++) {
			const struct wire_dirent *e = &page->entries[i];
			cookie = e->cookie;
			if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
				continue;
			uint32_t type = e->attr.mode & S_IFMT;
			if (type == S_IFDIR) {
				rv = walk(mc, e->attr.ino, r, o, seen, nseen,
					  capseen, errmsg);
			} else if (type == S_IFREG) {
				int dup = 0;
				for (size_t k = 0; k < *nseen; k++)
					dup |= (*seen)[k] == e->attr.ino;
				if (dup)
					continue;
				*seen = grow(*seen, capseen, *nseen,
					     sizeof(**seen));
				(*seen)[(*nseen)++] = e->attr.ino;
				o->files++;
				rv = file_frags(mc, e->attr.ino, r, o, errmsg);
			}
		}
		if (rv != 0 || page->eof || page->entries_count == 0)
			break;
	}
	free(page);
	return rv;
}

/* The data nodes: their ids and states, and each directory's node id. */
static int
read_nodes(struct mc *admin, char **dirs, int ndirs, uint64_t *dir_node,
	   union wire_body *r, struct obs *o, char *errmsg)
{
	struct wire_node_list rq;
	uint16_t rt = 0;
	memset(&rq, 0, sizeof(rq));
	int rv = mc_call(admin, WIRE_T_node_list, &rq, &rt, r, 0, errmsg);
	if (rv != 0)
		return rv;
	const struct wire_node_list_reply *l = &r->node_list_reply;
	o->nodes = calloc(l->nodes_count + 1, sizeof(*o->nodes));
	if (o->nodes == NULL)
		return CFS_ENOMEM;
	o->nnodes = l->nodes_count;
	for (uint32_t i = 0; i < l->nodes_count; i++) {
		o->nodes[i].id = l->nodes[i].id;
		o->nodes[i].live = l->nodes[i].state == CFS_NODE_ALIVE ||
				   l->nodes[i].state == CFS_NODE_FULL;
	}
	for (int k = 0; k < ndirs; k++) {
		char path[4096], uuid[64] = "";
		snprintf(path, sizeof(path), "%s/node.uuid", dirs[k]);
		FILE *f = fopen(path, "r");
		if (f == NULL || fscanf(f, "%63s", uuid) != 1) {
			fprintf(stderr, "redcheck: %s: cannot read the node's "
					"identity\n", path);
			if (f)
				fclose(f);
			return CFS_EIO;
		}
		fclose(f);
		dir_node[k] = 0;
		for (uint32_t i = 0; i < l->nodes_count; i++)
			if (!strcmp(l->nodes[i].uuid, uuid))
				dir_node[k] = l->nodes[i].id;
		if (dir_node[k] == 0)
			fprintf(stderr, "redcheck: %s: node %s is not "
					"registered; its files are skipped\n",
				dirs[k], uuid);
	}
	return 0;
}

static void
obs_free(struct obs *o)
{
	free(o->nodes);
	free(o->frags);
	free(o->disk);
	memset(o, 0, sizeof(*o));
}

/* One whole observation and judgement; 0, 1 (violations) or 2 (error). */
static int
observe(const char *servers, char **dirs, int ndirs, int settled,
	int quiet, struct rm_report *rep)
{
	char errmsg[CFS_ERRMSG_SIZE];
	struct mc_options so = {.client_name = "redcheck", .use_cred = 1};
	struct mc_options ao = {.client_name = "redcheck", .no_session = 1};
	struct mc *mc = NULL, *admin = NULL;
	union wire_body *r = malloc(sizeof(*r));
	uint64_t dir_node[MAX_DIRS];
	uint64_t *seen = NULL;
	size_t nseen = 0, capseen = 0;
	struct obs o;
	int rv, out = 2;

	memset(&o, 0, sizeof(o));
	if (r == NULL)
		return 2;
	if ((rv = mc_open(&mc, servers, &so, errmsg)) != 0 ||
	    (rv = mc_open(&admin, servers, &ao, errmsg)) != 0 ||
	    (rv = read_nodes(admin, dirs, ndirs, dir_node, r, &o, errmsg)) !=
		    0 ||
	    (rv = walk(mc, 1, r, &o, &seen, &nseen, &capseen, errmsg)) != 0) {
		fprintf(stderr, "redcheck: %s: %s\n", servers, errmsg);
		goto done;
	}
	for (int k = 0; k < ndirs; k++)
		if (dir_node[k] != 0 && scan_dir(dirs[k], dir_node[k], &o) != 0)
			goto done;

	struct rm_state st = {o.nodes, o.nnodes, o.frags, o.nfrags, o.disk,
			      o.ndisk};
	int fails = rm_check(&st, settled, rep);
	if (fails < 0) {
		fprintf(stderr, "redcheck: out of memory\n");
		goto done;
	}
	if (!quiet) {
		size_t live = 0;
		for (size_t i = 0; i < o.nnodes; i++)
			live += o.nodes[i].live != 0;
		printf("redcheck: %" PRIu64 " files, %" PRIu64
		       " fragments, %zu replica files on %d disks, "
		       "%zu of %zu nodes live\n",
		       o.files, rep->fragments, o.ndisk, ndirs, live, o.nnodes);
		printf("redcheck: intact %" PRIu64 ", lost %" PRIu64
		       ", under goal %" PRIu64 ", map wrong %" PRIu64
		       ", differing %" PRIu64 "; stale %" PRIu64
		       ", uncommitted %" PRIu64 ", orphans %" PRIu64
		       ", corrupt %" PRIu64 "\n",
		       rep->replicas_ok, rep->lost, rep->under_goal,
		       rep->meta_wrong, rep->differ, rep->stale,
		       rep->uncommitted, rep->orphans, rep->corrupt);
		for (unsigned i = 0; i < rep->nproblems; i++)
			printf("redcheck:   %s\n", rep->problems[i]);
	}
	out = fails > 0;
done:
	obs_free(&o);
	free(seen);
	free(r);
	mc_close(&mc);
	mc_close(&admin);
	return out;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: redcheck --cluster ADDRS [--settled] [--wait SECS] "
		"NODEDIR...\n"
		"Checks the redundancy invariants of tests/model/redmodel.h "
		"on a real\ncluster: the metadata map against the replica "
		"files in each data node\ndirectory NODEDIR.  Exit 0 when "
		"they hold, 1 on a violation, 2 on an error.\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *servers = getenv("CFS_META");
	char *dirs[MAX_DIRS];
	int ndirs = 0, settled = 0;
	long wait_s = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--cluster") && i + 1 < argc)
			servers = argv[++i];
		else if (!strcmp(argv[i], "--settled"))
			settled = 1;
		else if (!strcmp(argv[i], "--wait") && i + 1 < argc)
			wait_s = strtol(argv[++i], NULL, 10);
		else if (argv[i][0] == '-' || ndirs == MAX_DIRS)
			usage();
		else
			dirs[ndirs++] = argv[i];
	}
	if (servers == NULL || ndirs == 0)
		usage();

	time_t deadline = time(NULL) + wait_s;
	struct rm_report rep;
	int rv;
	/* quiet while it converges; then the last observation in full */
	while ((rv = observe(servers, dirs, ndirs, settled, 1, &rep)) == 1 &&
	       time(NULL) < deadline)
		sleep(1);
	return observe(servers, dirs, ndirs, settled, 0, &rep);
}
