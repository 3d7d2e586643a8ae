/* diffgen.c - difftest's steps: the model's tree, where a path leads, and a random step that stays inside the backend's root (difftest.h). */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "difftest.h"

/* ---- the model's tree ------------------------------------------------------------ */

struct walk {
	struct dt *t;
	const char *dir;
	int depth;
	char **names;
	struct fm_attr *attrs;
	size_t n;
};

static int
collect_cb(void *arg, const char *name, const struct fm_attr *a)
{
	struct walk *w = arg;
	w->names = realloc(w->names, (w->n + 1) * sizeof(*w->names));
	w->attrs = realloc(w->attrs, (w->n + 1) * sizeof(*w->attrs));
	w->names[w->n] = strdup(name);
	w->attrs[w->n++] = *a;
	return 0;
}

static void
tree_add(struct dt *t, const char *path, const struct fm_attr *a, int depth)
{
	t->tree = realloc(t->tree, (t->ntree + 1) * sizeof(*t->tree));
	t->tree[t->ntree++] = (struct node){ strdup(path), a->mode, a->ino, depth };
}

static void
tree_walk(struct dt *t, const char *dir, int depth)
{
	struct walk w = { t, dir, depth, NULL, NULL, 0 };
	char p[NPATH];

	fm_readdir(t->m, &root_cred, dir, collect_cb, &w);
	for (size_t i = 0; i < w.n; i++) {
		snprintf(p, sizeof(p), "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, w.names[i]);
		if (t->ntree < 4000)
			tree_add(t, p, &w.attrs[i], depth + 1);
		if (S_ISDIR(w.attrs[i].mode) && depth < 12)
			tree_walk(t, p, depth + 1);
		free(w.names[i]);
	}
	free(w.names);
	free(w.attrs);
}

void
tree_build(struct dt *t)
{
	struct fm_attr a;
	for (size_t i = 0; i < t->ntree; i++)
		free(t->tree[i].path);
	t->ntree = 0;
	fm_stat(t->m, &root_cred, "/", 1, &a);
	tree_add(t, "/", &a, 0);
	tree_walk(t, "/", 0);
}

/* ---- where a path leads ------------------------------------------------------------
 * A small resolver over the model's state (as root), only to keep the
 * generated paths inside the backend's root: returns 1 if a ".." would
 * climb above "/" (the real root has a parent, the model's has none).
 * Conservative: the last component is followed when @follow or a "/"
 * follows it.  *at_root: the path ends at "/". */
int
escapes(struct dt *t, const char *path, int follow, int *at_root)
{
	static char rest[3 * NPATH], cur[3 * NPATH], tmp[3 * NPATH];
	char comp[NPATH], tgt[NPATH];
	struct fm_attr a;
	int links = 0;

	*at_root = 0;
	if (path[0] != '/')
		return 0;
	snprintf(rest, sizeof(rest), "%s", path);
	cur[0] = '\0';
	for (;;) {
		char *r = rest;
		while (*r == '/')
			r++;
		if (*r == '\0')
			break;
		size_t n = strcspn(r, "/");
		if (n >= sizeof(comp))
			return 0;
		memcpy(comp, r, n);
		comp[n] = '\0';
		char *after = r + n;
		int slash = *after == '/';
		const char *q = after;
		while (*q == '/')
			q++;
		int last = *q == '\0';
		memmove(rest, after, strlen(after) + 1);
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			char *s = strrchr(cur, '/');
			if (s == NULL)
				return 1;
			*s = '\0';
			continue;
		}
		if (n > FM_NAME_MAX)
			return 0;
		pathf(tmp, sizeof(tmp), "%s/%s", cur, comp);
		if (fm_stat(t->m, &root_cred, tmp, 0, &a) != 0)
			return 0;
		if (S_ISLNK(a.mode) && (!last || follow || slash)) {
			if (++links > FM_SYMLOOP_MAX)
				return 0;
			ssize_t k = fm_readlink(t->m, &root_cred, tmp, tgt, sizeof(tgt) - 1);
			if (k <= 0)
				return 0;
			tgt[k] = '\0';
			if (tgt[0] == '/')
				cur[0] = '\0';
			pathf(tmp, sizeof(tmp), "%s/%s", tgt, rest);
			snprintf(rest, sizeof(rest), "%s", tmp);
			continue;
		}
		if (!S_ISDIR(a.mode) && !last)
			return 0;
		memcpy(cur, tmp, strlen(tmp) + 1); /* tmp is cur/comp */
	}
	*at_root = cur[0] == '\0';
	return 0;
}

/* Linux's fs.protected_hardlinks: a non-owner may link only a regular
 * file it can read and write (the model follows POSIX, which has no such
 * rule, so the posix backend does not generate these links). */
static int
hardlink_protected(struct dt *t, const struct op *o)
{
	struct fm_attr a;
	uint32_t uid = t->uids[o->cred];
	if (!t->protected_hardlinks || uid == 0)
		return 0;
	if (fm_stat(t->m, &root_cred, o->p1, 0, &a) != 0 || a.uid == uid)
		return 0;
	if (!S_ISREG(a.mode))
		return 1;
	unsigned bits = a.uid == uid ? a.mode >> 6 : a.gid == uid ? a.mode >> 3 : a.mode;
	return (bits & 6) != 6;
}

/* May @o run without leaving the backend's root or removing it, and
 * without a known difference the user asked to avoid? */
int
op_safe(struct dt *t, const struct op *o)
{
	int root1 = 0, root2 = 0, dummy;
	struct fm_attr a;
	if (o->p1 && o->kind != OP_SYMLINK && escapes(t, o->p1, 1, &dummy))
		return 0;
	if (o->p2 && escapes(t, o->p2, 1, &dummy))
		return 0;
	if (o->p1 && o->kind != OP_SYMLINK)
		escapes(t, o->p1, 0, &root1);
	if (o->p2)
		escapes(t, o->p2, 0, &root2);
	if ((o->kind == OP_RMDIR || o->kind == OP_RENAME) && (root1 || root2))
		return 0;
	if (o->kind == OP_LINK && hardlink_protected(t, o))
		return 0;
	if (t->avoid & AV_CREAT_DANGLING && o->kind == OP_WRITE && (o->flags & O_CREAT) &&
	    !(o->flags & O_EXCL) && fm_stat(t->m, &root_cred, o->p1, 0, &a) == 0 &&
	    S_ISLNK(a.mode) && fm_stat(t->m, &root_cred, o->p1, 1, &a) == -ENOENT)
		return 0;
	if (o->kind == OP_RENAME && t->avoid & AV_EXCHANGE && o->flags == RENAME_EXCHANGE)
		return 0;
	if (o->kind == OP_SYMLINK && t->avoid & AV_SYMLINK_4096 && strlen(o->p1) == 4096)
		return 0;
	if (o->kind == OP_RENAME && t->avoid & AV_RENAME_SLASH && o->p2[strlen(o->p2) - 1] == '/')
		return 0;
	if (o->kind == OP_RENAME && t->avoid & AV_RENAME_DIR_OVER_DIR &&
	    fm_stat(t->m, &root_cred, o->p1, 0, &a) == 0 && S_ISDIR(a.mode) &&
	    fm_stat(t->m, &root_cred, o->p2, 0, &a) == 0 && S_ISDIR(a.mode))
		return 0;
	return 1;
}

/* ---- generating a step ------------------------------------------------------------ */

static const char *names[] = { "a", "b", "c", "d", "e", "f", "d1", "d2", "d3", "l1", "l2" };
#define NNAMES (sizeof(names) / sizeof(names[0]))
static char longname[300], longxname[300], longpath[NPATH], longtarget[5000];
static const char *xnames[] = { "user.a", "user.b", "user.c", "user.a_longer_name",
	"trusted.t", "security.s", "foo.bad", longxname };

void
gen_init(void)
{
	memset(longname, 'n', 256);
	memcpy(longxname, "user.", 5);
	memset(longxname + 5, 'x', 251);
	for (size_t i = 0; i + 2 < 4500; i += 2)
		memcpy(longpath + i, "/.", 2);
}

static uint64_t
rnd(struct dt *t, uint64_t n)
{
	return n ? sm64(&t->rng) % n : 0;
}

static int
chance(struct dt *t, int pct)
{
	return (int)rnd(t, 100) < pct;
}

enum pref { ANY, DIR_, REG, LNK };

static int
node_is(const struct node *n, enum pref p)
{
	return p == ANY || (p == DIR_ && S_ISDIR(n->mode)) ||
	       (p == REG && S_ISREG(n->mode)) || (p == LNK && S_ISLNK(n->mode));
}

static const struct node *
pick_node(struct dt *t, enum pref p)
{
	size_t k = 0;
	for (size_t i = 0; i < t->ntree; i++)
		k += node_is(&t->tree[i], p);
	if (k == 0)
		return &t->tree[rnd(t, t->ntree)];
	k = rnd(t, k);
	for (size_t i = 0; i < t->ntree; i++)
		if (node_is(&t->tree[i], p) && k-- == 0)
			return &t->tree[i];
	return &t->tree[0];
}

void
join(char *buf, const char *dir, const char *name)
{
	snprintf(buf, NPATH, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
}

static char *
new_path(struct dt *t)
{
	char p[NPATH];
	const struct node *d;
	for (int i = 0;; i++) {
		d = pick_node(t, DIR_);
		if (S_ISDIR(d->mode) && d->depth <= 3)
			break;
		if (i > 8) {
			d = &t->tree[0];
			break;
		}
	}
	join(p, d->path, names[rnd(t, NNAMES)]);
	return strdup(p);
}

/* ~10%: a path that is odd on purpose. */
static char *
junk(struct dt *t, char *p)
{
	char q[NPATH], dir[NPATH];
	const char *base = strrchr(p, '/') + 1;
	snprintf(dir, sizeof(dir), "%.*s", (int)(base - 1 - p), p);
	switch (rnd(t, 10)) {
	case 0: snprintf(q, sizeof(q), "%s/..", p); break;
	case 1: pathf(q, sizeof(q), "%s/./%s", dir, base); break;
	case 2: snprintf(q, sizeof(q), "%s/", p); break;
	case 3: pathf(q, sizeof(q), "%s/%s", dir, longname); break;
	case 4: snprintf(q, sizeof(q), "/nx/%s", base); break;
	case 5: {
		const struct node *l = pick_node(t, LNK);
		snprintf(q, sizeof(q), "%s/%s", l->path, names[rnd(t, NNAMES)]);
		break;
	}
	case 6: /* relative: cfs.h says EINVAL, Linux has no such error; one
		 * path only, since which of two paths is checked first is not
		 * specified */
		if (t->cfs_sem && t->relative_ok) {
			snprintf(q, sizeof(q), "%s", p[1] ? p + 1 : "a");
			break;
		}
		/* fall through */
	case 7: snprintf(q, sizeof(q), "%s%s", longpath, p); break;
	case 8: pathf(q, sizeof(q), "%s//%s", dir, base); break;
	default: pathf(q, sizeof(q), "%s/%s/../%s", dir, names[rnd(t, NNAMES)], base);
	}
	free(p);
	return strdup(q);
}

static char *
pick_path(struct dt *t, enum pref p)
{
	char *s;
	int r = (int)rnd(t, 100);
	if (r < 60)
		s = strdup(pick_node(t, p)->path);
	else
		s = new_path(t);
	if (r >= 90)
		s = junk(t, s);
	return s;
}

static char *
pick_target(struct dt *t, const char *linkpath)
{
	char q[NPATH];
	const char *base = strrchr(linkpath, '/') + 1;
	switch (rnd(t, 12)) {
	case 0: case 1: case 2:
		return strdup(pick_node(t, ANY)->path);
	case 3: case 4:
		return strdup(names[rnd(t, NNAMES)]);
	case 5:
		snprintf(q, sizeof(q), "../%s", names[rnd(t, NNAMES)]);
		return strdup(q);
	case 6:
		snprintf(q, sizeof(q), "d%d/%s", 1 + (int)rnd(t, 3), names[rnd(t, NNAMES)]);
		return strdup(q);
	case 7:
		return strdup(rnd(t, 2) ? "/nx/y" : "zz");
	case 8: /* loops: itself, or the other of l1/l2 */
		return strdup(rnd(t, 2) ? base : (strcmp(base, "l1") == 0 ? "l2" : "l1"));
	case 9:
		return strdup(rnd(t, 2) ? "/" : "./a");
	case 10:
		return strdup(rnd(t, 4) == 0 ? "" : "..");
	default: {
		/* long relative targets: 4095 bytes is the longest Linux takes */
		static const size_t lens[] = { 300, 4095, 4096, 4500 };
		size_t n = lens[rnd(t, 4)];
		memset(longtarget, 'x', n);
		for (size_t i = 50; i < n; i += 51)
			longtarget[i] = '/';
		longtarget[n] = '\0';
		return strdup(longtarget);
	}
	}
}

static uint64_t
model_size(struct dt *t, const char *path)
{
	struct fm_attr a;
	if (fm_stat(t->m, &root_cred, path, 1, &a) == 0 && S_ISREG(a.mode))
		return a.size;
	return 0;
}

static size_t
io_len(struct dt *t)
{
	int r = (int)rnd(t, 100);
	return r < 50 ? 1 + rnd(t, 512) : r < 80 ? 1 + rnd(t, 16384) : 1 + rnd(t, MAXW);
}

static int
pick_kind(struct dt *t)
{
	int total = 0;
	for (int k = 0; k < OP_N; k++)
		total += kinds[k].weight;
	int r = (int)rnd(t, (uint64_t)total);
	for (int k = 0; k < OP_N; k++) {
		if (r < kinds[k].weight)
			return k;
		r -= kinds[k].weight;
	}
	return OP_STAT;
}

void
gen_op(struct dt *t, struct op *o)
{
	struct fm_attr a;
	uint64_t size;

	memset(o, 0, sizeof(*o));
	o->kind = pick_kind(t);
	t->relative_ok = o->kind != OP_RENAME && o->kind != OP_LINK && o->kind != OP_SYMLINK;
	o->cred = (int)rnd(t, t->nuids);
	switch (o->kind) {
	case OP_STAT: case OP_LSTAT:
		o->p1 = pick_path(t, ANY);
		o->follow = o->kind == OP_STAT;
		break;
	case OP_MKDIR:
		o->p1 = chance(t, 80) ? new_path(t) : pick_path(t, ANY);
		o->mode = chance(t, 80) ? (const uint32_t[]){ 0777, 0777, 0777, 0755, 0700 }[rnd(t, 5)]
					: (uint32_t)rnd(t, 01000);
		if (chance(t, 10))
			o->mode |= S_ISVTX;
		break;
	case OP_RMDIR:
		o->p1 = pick_path(t, DIR_);
		break;
	case OP_UNLINK:
		o->p1 = pick_path(t, chance(t, 70) ? REG : ANY);
		break;
	case OP_RENAME:
		o->p1 = pick_path(t, ANY);
		o->p2 = chance(t, 50) ? new_path(t) : pick_path(t, ANY);
		o->flags = chance(t, 70) ? 0 : chance(t, 50) ? RENAME_NOREPLACE : RENAME_EXCHANGE;
		break;
	case OP_LINK:
		o->p1 = pick_path(t, chance(t, 70) ? REG : ANY);
		o->p2 = new_path(t);
		if (chance(t, 10))
			o->p2 = junk(t, o->p2);
		break;
	case OP_SYMLINK:
		o->p2 = chance(t, 85) ? new_path(t) : pick_path(t, ANY);
		o->p1 = pick_target(t, o->p2);
		break;
	case OP_READLINK:
		o->p1 = pick_path(t, LNK);
		o->len = chance(t, 10) ? rnd(t, 4) : 4096;
		break;
	case OP_CHMOD:
		o->p1 = pick_path(t, ANY);
		o->mode = chance(t, 60) ? (const uint32_t[]){ 0777, 0777, 0666, 0755, 0644, 0700, 0600 }[rnd(t, 7)]
					: (uint32_t)rnd(t, 01000);
		if (fm_stat(t->m, &root_cred, o->p1, 1, &a) == 0 && S_ISDIR(a.mode) && chance(t, 25))
			o->mode |= chance(t, 50) ? S_ISVTX : S_ISGID;
		break;
	case OP_CHOWN:
		o->p1 = pick_path(t, ANY);
		o->uid = chance(t, 30) ? (uint32_t)-1 : t->uids[rnd(t, t->nuids)];
		o->gid = chance(t, 30) ? (uint32_t)-1 : t->uids[rnd(t, t->nuids)];
		break;
	case OP_TRUNCATE: {
		o->p1 = pick_path(t, REG);
		size = model_size(t, o->p1);
		int r = (int)rnd(t, 100);
		o->size = r < 25 ? 0 : r < 55 ? (int64_t)rnd(t, size + 1)
			: r < 90 ? (int64_t)(size + rnd(t, 100000)) : r < 95 ? (int64_t)size : -1;
		break;
	}
	case OP_WRITE: {
		o->p1 = chance(t, 65) ? pick_path(t, REG) : new_path(t);
		o->flags = chance(t, 50) ? O_WRONLY : O_RDWR;
		if (chance(t, 70))
			o->flags |= O_CREAT;
		if (chance(t, 12))
			o->flags |= O_EXCL;
		if (chance(t, 15))
			o->flags |= O_TRUNC;
		if (chance(t, 15))
			o->flags |= O_APPEND;
		if (chance(t, 5))
			o->flags |= O_NOFOLLOW;
		o->mode = (uint32_t)rnd(t, 01000) | (chance(t, 85) ? 0600 : 0) | (chance(t, 50) ? 0666 : 0);
		o->len = io_len(t);
		o->dseed = sm64(&t->rng);
		size = (o->flags & O_TRUNC) ? 0 : model_size(t, o->p1);
		int r = (int)rnd(t, 100);
		if (o->flags & O_APPEND)
			o->off = BE_APPEND;
		else if (t->big && r < 15)
			o->off = (1 + rnd(t, 3)) * t->big - o->len / 2 - rnd(t, 2);
		else if (r < 50)
			o->off = size;
		else if (r < 75)
			o->off = rnd(t, size + 1);
		else if (r < 90)
			o->off = size + rnd(t, 65536);
		else
			o->off = 0;
		break;
	}
	case OP_READ:
		o->p1 = pick_path(t, REG);
		o->flags = O_RDONLY | (chance(t, 5) ? O_NOFOLLOW : 0);
		size = model_size(t, o->p1);
		o->off = chance(t, 30) ? 0 : rnd(t, size + 100);
		o->len = chance(t, 40) ? (size_t)size + 10 : io_len(t);
		if (o->len > MAXW)
			o->len = MAXW;
		break;
	case OP_READDIR:
		o->p1 = pick_path(t, DIR_);
		break;
	case OP_SETXATTR:
		o->p1 = pick_path(t, chance(t, 50) ? REG : ANY);
		o->xname = xnames[chance(t, 80) ? rnd(t, 4) : 4 + rnd(t, 4)];
		o->len = rnd(t, 301);
		o->dseed = sm64(&t->rng);
		o->flags = chance(t, 70) ? 0 : chance(t, 50) ? XATTR_CREATE : XATTR_REPLACE;
		break;
	case OP_GETXATTR:
		o->p1 = pick_path(t, chance(t, 50) ? REG : ANY);
		o->xname = xnames[chance(t, 80) ? rnd(t, 4) : 4 + rnd(t, 4)];
		o->len = chance(t, 20) ? 0 : chance(t, 75) ? 65536 : rnd(t, 8);
		break;
	case OP_LISTXATTR:
		o->p1 = pick_path(t, ANY);
		o->len = chance(t, 20) ? 0 : chance(t, 80) ? 65536 : rnd(t, 10);
		break;
	case OP_REMOVEXATTR:
		o->p1 = pick_path(t, chance(t, 50) ? REG : ANY);
		o->xname = xnames[chance(t, 80) ? rnd(t, 4) : 4 + rnd(t, 4)];
		break;
	}
}

void
op_free(struct op *o)
{
	free(o->p1);
	free(o->p2);
	o->p1 = o->p2 = NULL;
}
