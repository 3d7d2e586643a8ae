/* difftest.c - the randomized differential test: the same operations on the reference model (fsmodel.h) and on a real filesystem (backend.h), every result compared (DESIGN.md §7). */

/*
 * difftest [--seed N] [--steps N] [--backend cfs|posix] [--cluster ADDRS]
 *          [--dir DIR] [--root /difftest] [--uids 0,1000] [--big FSZ]
 *          [--check-every N] [--log FILE] [--manifest FILE] [--verbose]
 *          [--shrink] [--tolerate-unavailable] [--keep] [--keep-going]
 *          [--avoid NAME,...]
 *
 * Reproducible: the operations depend only on the seed's PRNG and on the
 * MODEL's state (paths are picked from the model's tree), never on timing
 * or on the backend, so `--seed S --steps N` replays a run's first N steps
 * exactly.  (One exception, documented where it is made: the posix
 * backend skips links that Linux's fs.protected_hardlinks would refuse.)
 *
 * Each step runs on the real backend first, then on the model, and
 * compares return values and errno; stat attributes (inode numbers through
 * a model <-> real bijection learnt on the fly); read bytes; readlink
 * targets; xattr values and sorted lists; sorted directory listings with
 * each entry's attributes.  After each mutating step the involved paths are
 * stat'ed on both sides ("probe").  Every --check-every steps: fm_check()
 * and a full comparison of every directory listing and every file's bytes.
 *
 * Namespace: the model's "/" is a fresh directory on the backend; the
 * backend prefixes paths and absolute symlink targets (backend.h).  A ".."
 * above "/" would leave that directory, so an operation whose path climbs
 * above "/" in the model is never generated, nor one that would rmdir or
 * rename the root itself.
 *
 * Manifest (--manifest FILE): one line per regular file at the end,
 * "<real path>\t<size>\t<crc32>", crc32 as zlib's crc32() (reflected
 * polynomial 0xedb88320, initial and final xor ~0), 8 lowercase hex digits.
 *
 * --avoid NAME,...: known CFS differences, to look past them (see the AV_*
 * list): creat-dangling, exchange, symlink-4096, rename-slash,
 * rename-dir-over-dir.
 *
 * --keep-going: after a mismatch where both sides failed with different
 * errors (so neither changed), report it and go on; exit 1 at the end.
 *
 * Exit: 0 all equal, 1 a mismatch (or a model bug, or a setup failure),
 * 2 the backend was unavailable (ETIMEDOUT/EAGAIN/ESTALE) without
 * --tolerate-unavailable.
 *
 * Files: this one runs each step on both sides and compares them, checks,
 * shrinks and reports; diffgen.c generates the steps (the model's tree,
 * where a path leads); difftest.h is what the two share.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "difftest.h"
#include "fsmodel.h"

/* ---- PRNG: splitmix64 ------------------------------------------------------- */

uint64_t
sm64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
fill(uint8_t *buf, size_t n, uint64_t seed)
{
	uint64_t s = seed, v = 0;
	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0)
			v = sm64(&s);
		buf[i] = (uint8_t)(v >> (8 * (i % 8)));
	}
}

static uint32_t
crc32z(const uint8_t *p, size_t n)
{
	uint32_t c = ~0u;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

/* ---- operations ------------------------------------------------------------------ */

const struct kind_info kinds[OP_N] = {
	[OP_STAT] = { "stat", 7, 0 },       [OP_LSTAT] = { "lstat", 5, 0 },
	[OP_MKDIR] = { "mkdir", 8, 1 },     [OP_RMDIR] = { "rmdir", 4, 1 },
	[OP_UNLINK] = { "unlink", 5, 1 },   [OP_RENAME] = { "rename", 9, 1 },
	[OP_LINK] = { "link", 4, 1 },       [OP_SYMLINK] = { "symlink", 5, 1 },
	[OP_READLINK] = { "readlink", 3, 0 }, [OP_CHMOD] = { "chmod", 4, 1 },
	[OP_CHOWN] = { "chown", 3, 1 },     [OP_TRUNCATE] = { "truncate", 4, 1 },
	[OP_WRITE] = { "write", 12, 1 },    [OP_READ] = { "read", 8, 0 },
	[OP_READDIR] = { "readdir", 5, 0 }, [OP_SETXATTR] = { "setxattr", 4, 1 },
	[OP_GETXATTR] = { "getxattr", 3, 0 }, [OP_LISTXATTR] = { "listxattr", 2, 0 },
	[OP_REMOVEXATTR] = { "removexattr", 2, 1 },
};

/* What one side did. */
struct out {
	int64_t rc, rc2, rc3; /* main result; write: pwrite, close; read: pread */
	struct fm_attr a;
	uint8_t *buf;         /* read data, readlink target, xattr value/list */
	size_t n;
	struct ent *ents;     /* readdir */
	size_t nents;
};

struct ent {
	char *name;
	struct fm_attr a;
};

enum { ST_OK, ST_ERR, ST_MISMATCH, ST_SKIP };

/* --avoid's names, in the order of the AV_* bits (difftest.h). */
static const char *const avoid_names[] = { "creat-dangling", "exchange", "symlink-4096",
	"rename-slash", "rename-dir-over-dir" };

const struct fm_cred root_cred = { 0, 0, 0, { 0 } };

static void
cred_of(const struct dt *t, int cred, struct fm_cred *c)
{
	memset(c, 0, sizeof(*c));
	c->uid = c->gid = cred < 0 ? 0 : t->uids[cred];
}

static const char *
ename(int64_t rc, char *buf, size_t len)
{
	if (rc >= 0) {
		snprintf(buf, len, "%" PRId64, rc);
	} else {
		const char *n = strerrorname_np((int)-rc);
		snprintf(buf, len, "-%s (%s)", n ? n : "E?", strerror((int)-rc));
	}
	return buf;
}

static int
is_unavail(int64_t rc)
{
	return rc == -ETIMEDOUT || rc == -EAGAIN || rc == -ESTALE;
}

static void
why(struct dt *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, ap);
	va_end(ap);
}

/* snprintf for paths: truncation is expected and harmless (a truncated
 * path only fails), so gcc need not warn about it. */
void
pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* ---- formatting ------------------------------------------------------------------ */

static const char *
short_path(const char *p, char *buf, size_t len)
{
	size_t n = strlen(p);
	if (n <= 80)
		return p;
	snprintf(buf, len, "%.24s...%.24s(%zu bytes)", p, p + n - 24, n);
	return buf;
}

static const char *
oflags_str(unsigned f, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s%s", (f & O_ACCMODE) == O_RDONLY ? "O_RDONLY"
		 : (f & O_ACCMODE) == O_WRONLY ? "O_WRONLY" : "O_RDWR",
		 f & O_CREAT ? "|O_CREAT" : "", f & O_EXCL ? "|O_EXCL" : "",
		 f & O_TRUNC ? "|O_TRUNC" : "", f & O_APPEND ? "|O_APPEND" : "",
		 f & O_NOFOLLOW ? "|O_NOFOLLOW" : "");
	return buf;
}

static const char *
op_str(const struct dt *t, const struct op *o, char *buf, size_t len)
{
	char a[200], b[200], f[100], x[300];
	const char *p1 = o->p1 ? short_path(o->p1, a, sizeof(a)) : "";
	const char *p2 = o->p2 ? short_path(o->p2, b, sizeof(b)) : "";
	const char *xn = o->xname ? short_path(o->xname, x, sizeof(x)) : "";
	uint32_t uid = t->uids[o->cred];

	switch (o->kind) {
	case OP_MKDIR: case OP_CHMOD:
		snprintf(buf, len, "%s %s %#o", kinds[o->kind].name, p1, o->mode);
		break;
	case OP_RENAME:
		snprintf(buf, len, "rename %s -> %s flags=%u", p1, p2, o->flags);
		break;
	case OP_LINK:
		snprintf(buf, len, "link %s -> %s", p1, p2);
		break;
	case OP_SYMLINK:
		snprintf(buf, len, "symlink %s (target \"%s\")", p2, p1);
		break;
	case OP_READLINK:
		snprintf(buf, len, "readlink %s len=%zu", p1, o->len);
		break;
	case OP_CHOWN:
		snprintf(buf, len, "chown %s %d:%d", p1, (int)o->uid, (int)o->gid);
		break;
	case OP_TRUNCATE:
		snprintf(buf, len, "truncate %s %" PRId64, p1, o->size);
		break;
	case OP_WRITE:
		if (o->off == BE_APPEND)
			snprintf(buf, len, "write %s %s mode=%#o append len=%zu", p1,
				 oflags_str(o->flags, f, sizeof(f)), o->mode, o->len);
		else
			snprintf(buf, len, "write %s %s mode=%#o off=%" PRIu64 " len=%zu", p1,
				 oflags_str(o->flags, f, sizeof(f)), o->mode, o->off, o->len);
		break;
	case OP_READ:
		snprintf(buf, len, "read %s %s off=%" PRIu64 " len=%zu", p1,
			 oflags_str(o->flags, f, sizeof(f)), o->off, o->len);
		break;
	case OP_SETXATTR:
		snprintf(buf, len, "setxattr %s %s len=%zu flags=%u", p1, xn, o->len, o->flags);
		break;
	case OP_GETXATTR:
		snprintf(buf, len, "getxattr %s %s size=%zu", p1, xn, o->len);
		break;
	case OP_LISTXATTR:
		snprintf(buf, len, "listxattr %s size=%zu", p1, o->len);
		break;
	case OP_REMOVEXATTR:
		snprintf(buf, len, "removexattr %s %s", p1, xn);
		break;
	default:
		snprintf(buf, len, "%s %s", kinds[o->kind].name, p1);
	}
	size_t n = strlen(buf);
	snprintf(buf + n, len - n, " (uid %u)", uid);
	return buf;
}

/* ---- inode bijection ------------------------------------------------------------- */

/* 0 if model inode @mi and real inode @ri agree with the pairs seen so
 * far (learning the pair if @learn and both are new), else 1 and t->why. */
static int
ino_check(struct dt *t, uint64_t mi, uint64_t ri, int learn)
{
	for (size_t i = 0; i < t->nmap; i++) {
		if (t->map[i].m == mi && t->map[i].r == ri)
			return 0;
		if (t->map[i].m == mi || t->map[i].r == ri) {
			why(t, "inode bijection broken: model ino %" PRIu64 " / real ino %" PRIu64
			    ", but earlier model %" PRIu64 " was real %" PRIu64,
			    mi, ri, t->map[i].m, t->map[i].r);
			return 1;
		}
	}
	if (learn) {
		if (t->nmap == t->capmap) {
			t->capmap = t->capmap ? 2 * t->capmap : 64;
			t->map = realloc(t->map, t->capmap * sizeof(*t->map));
		}
		t->map[t->nmap++] = (struct inopair){ mi, ri };
	}
	return 0;
}

/* Forget the pairs of model inodes no longer in the tree (a real
 * filesystem may reuse the real number at once). */
static void
ino_purge(struct dt *t)
{
	size_t k = 0;
	for (size_t i = 0; i < t->nmap; i++) {
		int live = 0;
		for (size_t j = 0; j < t->ntree && !live; j++)
			live = t->tree[j].ino == t->map[i].m;
		if (live)
			t->map[k++] = t->map[i];
	}
	t->nmap = k;
}

static int
attr_cmp(struct dt *t, const char *what, const struct fm_attr *m, const struct fm_attr *r, int learn)
{
	if (m->mode != r->mode || m->uid != r->uid || m->gid != r->gid ||
	    m->nlink != r->nlink || (!S_ISDIR(m->mode) && m->size != r->size)) {
		why(t, "%s: model mode %#o uid %u gid %u nlink %u size %" PRIu64
		    " / real mode %#o uid %u gid %u nlink %u size %" PRIu64, what,
		    m->mode, m->uid, m->gid, m->nlink, m->size,
		    r->mode, r->uid, r->gid, r->nlink, r->size);
		return 1;
	}
	if (ino_check(t, m->ino, r->ino, learn)) {
		size_t n = strlen(t->why);
		snprintf(t->why + n, sizeof(t->why) - n, " (%s)", what);
		return 1;
	}
	return 0;
}

/* ---- running a step on each side --------------------------------------------------- */

static int
ent_cb(void *arg, const char *name, const struct fm_attr *a)
{
	struct out *o = arg;
	o->ents = realloc(o->ents, (o->nents + 1) * sizeof(*o->ents));
	o->ents[o->nents].name = strdup(name);
	o->ents[o->nents++].a = *a;
	return 0;
}

static int
ent_cmp(const void *x, const void *y)
{
	return strcmp(((const struct ent *)x)->name, ((const struct ent *)y)->name);
}

static int
str_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* A NUL-separated list into bytewise order, in place. */
static void
sort_list(uint8_t *list, size_t n)
{
	char *names_[512], *copy = malloc(n + 1);
	size_t k = 0;
	memcpy(copy, list, n);
	for (size_t i = 0; i < n && k < 512; i += strlen(copy + i) + 1)
		names_[k++] = copy + i;
	qsort(names_, k, sizeof(*names_), str_cmp);
	size_t at = 0;
	for (size_t i = 0; i < k; i++) {
		size_t l = strlen(names_[i]) + 1;
		memcpy(list + at, names_[i], l);
		at += l;
	}
	free(copy);
}

static void
out_free(struct out *o)
{
	free(o->buf);
	for (size_t i = 0; i < o->nents; i++)
		free(o->ents[i].name);
	free(o->ents);
	memset(o, 0, sizeof(*o));
}

/* The model's side; sets *created for a write that made its file. */
static void
run_model(struct dt *t, const struct op *o, struct out *r, int *created)
{
	struct fm *m = t->m;
	struct fm_cred c;
	struct fm_attr a;

	cred_of(t, o->cred, &c);
	memset(r, 0, sizeof(*r));
	*created = 0;
	switch (o->kind) {
	case OP_STAT: case OP_LSTAT: r->rc = fm_stat(m, &c, o->p1, o->follow, &r->a); break;
	case OP_MKDIR: r->rc = fm_mkdir(m, &c, o->p1, o->mode); break;
	case OP_RMDIR: r->rc = fm_rmdir(m, &c, o->p1); break;
	case OP_UNLINK: r->rc = fm_unlink(m, &c, o->p1); break;
	case OP_RENAME: r->rc = fm_rename(m, &c, o->p1, o->p2, o->flags); break;
	case OP_LINK: r->rc = fm_link(m, &c, o->p1, o->p2); break;
	case OP_SYMLINK: r->rc = fm_symlink(m, &c, o->p1, o->p2); break;
	case OP_READLINK:
		r->buf = malloc(o->len + 1);
		r->rc = fm_readlink(m, &c, o->p1, (char *)r->buf, o->len);
		break;
	case OP_CHMOD: r->rc = fm_chmod(m, &c, o->p1, o->mode); break;
	case OP_CHOWN: r->rc = fm_chown(m, &c, o->p1, o->uid, o->gid); break;
	case OP_TRUNCATE: r->rc = fm_truncate(m, &c, o->p1, o->size); break;
	case OP_WRITE: {
		int pre = fm_stat(m, &root_cred, o->p1, !(o->flags & O_NOFOLLOW), &a);
		r->rc = fm_open(m, &c, o->p1, (int)o->flags, o->mode);
		if (r->rc < 0 || r->rc == FM_EMODEL)
			break;
		*created = pre == -ENOENT;
		/* CFS: a file created without write permission for its
		 * (non-root) creator cannot be written even through the
		 * open that created it (cfs.h, Credentials). */
		if (t->cfs_sem && *created && c.uid != 0 && !(o->mode & 0200)) {
			r->rc2 = -EACCES;
			break;
		}
		uint64_t off = o->off;
		if (off == BE_APPEND)
			off = fm_stat(m, &root_cred, o->p1, 1, &a) == 0 ? a.size : 0;
		fill(t->wbuf, o->len, o->dseed);
		int w = fm_pwrite(m, (uint64_t)r->rc, off, t->wbuf, o->len);
		r->rc2 = w < 0 || w == FM_EMODEL ? w : (int64_t)o->len;
		break;
	}
	case OP_READ:
		r->rc = fm_open(m, &c, o->p1, (int)o->flags, 0);
		if (r->rc < 0 || r->rc == FM_EMODEL)
			break;
		r->buf = malloc(o->len + 1);
		r->rc2 = fm_pread(m, (uint64_t)r->rc, o->off, r->buf, o->len);
		break;
	case OP_READDIR: r->rc = fm_readdir(m, &c, o->p1, ent_cb, r); break;
	case OP_SETXATTR:
		fill(t->wbuf, o->len, o->dseed);
		r->rc = fm_setxattr(m, &c, o->p1, o->xname, t->wbuf, o->len, (int)o->flags);
		break;
	case OP_GETXATTR:
		r->buf = malloc(o->len + 1);
		r->rc = fm_getxattr(m, &c, o->p1, o->xname, r->buf, o->len);
		break;
	case OP_LISTXATTR:
		r->buf = malloc(o->len + 1);
		r->rc = fm_listxattr(m, &c, o->p1, (char *)r->buf, o->len);
		break;
	case OP_REMOVEXATTR: r->rc = fm_removexattr(m, &c, o->p1, o->xname); break;
	}
}

/* The backend's side.  Returns 1 if a call was unavailable. */
static int
run_real(struct dt *t, const struct op *o, struct out *r)
{
	struct be *b = t->b;
	const struct be_ops *x = b->ops;
	int k = o->cred;

	memset(r, 0, sizeof(*r));
	switch (o->kind) {
	case OP_STAT: case OP_LSTAT: r->rc = x->stat(b, k, o->p1, o->follow, &r->a); break;
	case OP_MKDIR: r->rc = x->mkdir(b, k, o->p1, o->mode); break;
	case OP_RMDIR: r->rc = x->rmdir(b, k, o->p1); break;
	case OP_UNLINK: r->rc = x->unlink(b, k, o->p1); break;
	case OP_RENAME: r->rc = x->rename(b, k, o->p1, o->p2, o->flags); break;
	case OP_LINK: r->rc = x->link(b, k, o->p1, o->p2); break;
	case OP_SYMLINK: r->rc = x->symlink(b, k, o->p1, o->p2); break;
	case OP_READLINK:
		r->buf = malloc(o->len + 1);
		r->rc = x->readlink(b, k, o->p1, (char *)r->buf, o->len);
		break;
	case OP_CHMOD: r->rc = x->chmod(b, k, o->p1, o->mode); break;
	case OP_CHOWN: r->rc = x->chown(b, k, o->p1, o->uid, o->gid); break;
	case OP_TRUNCATE: r->rc = x->truncate(b, k, o->p1, o->size); break;
	case OP_WRITE:
		r->rc = x->open(b, k, o->p1, (int)o->flags, o->mode);
		if (r->rc < 0)
			break;
		fill(t->wbuf, o->len, o->dseed);
		r->rc2 = x->pwrite(b, r->rc, o->off, t->wbuf, o->len);
		r->rc3 = x->close(b, r->rc);
		break;
	case OP_READ:
		r->rc = x->open(b, k, o->p1, (int)o->flags, 0);
		if (r->rc < 0)
			break;
		r->buf = malloc(o->len + 1);
		r->rc2 = x->pread(b, r->rc, o->off, r->buf, o->len);
		r->rc3 = x->close(b, r->rc);
		break;
	case OP_READDIR: r->rc = x->readdir(b, k, o->p1, ent_cb, r); break;
	case OP_SETXATTR:
		fill(t->wbuf, o->len, o->dseed);
		r->rc = x->setxattr(b, k, o->p1, o->xname, t->wbuf, o->len, (int)o->flags);
		break;
	case OP_GETXATTR:
		r->buf = malloc(o->len + 1);
		r->rc = x->getxattr(b, k, o->p1, o->xname, r->buf, o->len);
		break;
	case OP_LISTXATTR:
		r->buf = malloc(o->len + 1);
		r->rc = x->listxattr(b, k, o->p1, (char *)r->buf, o->len);
		if (r->rc > 0 && o->len > 0)
			sort_list(r->buf, (size_t)r->rc);
		break;
	case OP_REMOVEXATTR: r->rc = x->removexattr(b, k, o->p1, o->xname); break;
	}
	return is_unavail(r->rc) || is_unavail(r->rc2) || is_unavail(r->rc3);
}

static int
model_broken(struct dt *t, int64_t rc)
{
	if (rc == FM_EMODEL && fm_error(t->m)[0] != '\0') {
		why(t, "MODEL BUG: %s", fm_error(t->m));
		return 1;
	}
	return 0;
}

/* Compare the two sides of one step: 0 equal, 1 not (t->why says how). */
static int
compare(struct dt *t, const struct op *o, const struct out *m, const struct out *r, int created)
{
	char e1[100], e2[100];

	if (model_broken(t, m->rc) || model_broken(t, m->rc2))
		return 1;
	/* open: any handle is a success */
	int64_t mrc = m->rc, rrc = r->rc;
	if (o->kind == OP_WRITE || o->kind == OP_READ) {
		mrc = mrc >= 0 ? 0 : mrc;
		rrc = rrc >= 0 ? 0 : rrc;
	}
	if (mrc != rrc) {
		why(t, "return value: model %s, real %s", ename(mrc, e1, sizeof(e1)),
		    ename(rrc, e2, sizeof(e2)));
		t->errors_only = mrc < 0 && rrc < 0;
		return 1;
	}
	if (mrc < 0)
		return 0;
	switch (o->kind) {
	case OP_STAT: case OP_LSTAT:
		return attr_cmp(t, o->p1, &m->a, &r->a, 1);
	case OP_READLINK: case OP_GETXATTR: case OP_LISTXATTR:
		if (o->len > 0 && mrc > 0 && memcmp(m->buf, r->buf, (size_t)mrc) != 0) {
			why(t, "same length %" PRId64 ", different bytes: model \"%.*s\" real \"%.*s\"",
			    mrc, (int)(mrc > 200 ? 200 : mrc), (const char *)m->buf,
			    (int)(mrc > 200 ? 200 : mrc), (const char *)r->buf);
			return 1;
		}
		return 0;
	case OP_WRITE:
		if (m->rc2 == -EACCES && created) { /* the CFS deviation above */
			if (r->rc2 != -EACCES && r->rc3 != -EACCES) {
				why(t, "created without write permission: cfs.h says the write "
				    "fails with EACCES; real pwrite %s, close %s",
				    ename(r->rc2, e1, sizeof(e1)), ename(r->rc3, e2, sizeof(e2)));
				return 1;
			}
			return 0;
		}
		if (m->rc2 != r->rc2 || r->rc3 != 0) {
			why(t, "write: model pwrite %s / real pwrite %s, close %s",
			    ename(m->rc2, e1, sizeof(e1)), ename(r->rc2, e2, sizeof(e2)),
			    ename(r->rc3, e2 + 50, 50));
			return 1;
		}
		return 0;
	case OP_READ:
		if (m->rc2 != r->rc2 || r->rc3 != 0) {
			why(t, "read: model pread %s / real pread %s, close %" PRId64,
			    ename(m->rc2, e1, sizeof(e1)), ename(r->rc2, e2, sizeof(e2)), r->rc3);
			return 1;
		}
		if (m->rc2 > 0 && memcmp(m->buf, r->buf, (size_t)m->rc2) != 0) {
			size_t i = 0;
			while (m->buf[i] == r->buf[i])
				i++;
			why(t, "read: %" PRId64 " bytes, first difference at file offset %" PRIu64
			    ": model %#x real %#x", m->rc2, o->off + i, m->buf[i], r->buf[i]);
			return 1;
		}
		return 0;
	case OP_READDIR:
		for (size_t i = 0; i < m->nents; i++) {
			if (strcmp(m->ents[i].name, r->ents[i].name) != 0) {
				why(t, "listing differs at entry %zu: model \"%s\" real \"%s\"", i,
				    m->ents[i].name, r->ents[i].name);
				return 1;
			}
			char p[NPATH];
			join(p, o->p1, m->ents[i].name);
			if (attr_cmp(t, p, &m->ents[i].a, &r->ents[i].a, 1))
				return 1;
		}
		return 0;
	default:
		return 0;
	}
}

/* After a mutating step: lstat and stat each path on both sides (as root). */
static int
probe(struct dt *t, const struct op *o, int learn)
{
	const char *paths[2] = { o->kind == OP_SYMLINK ? o->p2 : o->p1,
				 o->kind == OP_SYMLINK ? NULL : o->p2 };
	for (int i = 0; i < 2; i++) {
		if (paths[i] == NULL || paths[i][0] != '/')
			continue;
		for (int follow = 0; follow < 2; follow++) {
			struct fm_attr ma, ra;
			int at_root;
			if (follow && escapes(t, paths[i], 1, &at_root))
				continue;
			char e1[100], e2[100];
			int mr = fm_stat(t->m, &root_cred, paths[i], follow, &ma);
			int rr = t->b->ops->stat(t->b, BE_ADMIN, paths[i], follow, &ra);
			if (model_broken(t, mr))
				return 1;
			if (mr != rr) {
				why(t, "afterwards, %s %s: model %s, real %s", follow ? "stat" : "lstat",
				    paths[i], ename(mr, e1, sizeof(e1)), ename(rr, e2, sizeof(e2)));
				return 1;
			}
			if (mr == 0 && attr_cmp(t, paths[i], &ma, &ra, learn))
				return 1;
		}
	}
	return 0;
}

/* ---- full comparison ------------------------------------------------------------- */

static int
read_real(struct dt *t, const char *path, uint8_t **data, size_t *n)
{
	struct be *b = t->b;
	int64_t h = b->ops->open(b, BE_ADMIN, path, O_RDONLY, 0);
	size_t cap = 1 << 16;
	if (h < 0)
		return (int)h;
	*data = malloc(cap);
	*n = 0;
	for (;;) {
		if (*n == cap)
			*data = realloc(*data, cap *= 2);
		ssize_t k = b->ops->pread(b, h, *n, *data + *n, cap - *n);
		if (k < 0) {
			b->ops->close(b, h);
			return (int)k;
		}
		if (k == 0)
			break;
		*n += (size_t)k;
	}
	return b->ops->close(b, h);
}

static int
file_cb(void *arg, const char *path, const struct fm_attr *a, const uint8_t *data)
{
	struct dt *t = arg;
	uint8_t *rd = NULL;
	size_t n = 0;
	char e[100];
	int rc = read_real(t, path, &rd, &n);
	if (rc != 0) {
		why(t, "full check: reading %s: %s", path, ename(rc, e, sizeof(e)));
	} else if (n != a->size) {
		why(t, "full check: %s: model %" PRIu64 " bytes, real %zu", path, a->size, n);
		rc = 1;
	} else if (n > 0 && memcmp(rd, data, n) != 0) {
		size_t i = 0;
		while (rd[i] == data[i])
			i++;
		why(t, "full check: %s: %zu bytes, first difference at offset %zu: model %#x real %#x",
		    path, n, i, data[i], rd[i]);
		rc = 1;
	}
	free(rd);
	return rc ? 1 : 0;
}

static int
full_check(struct dt *t)
{
	struct op o = { .kind = OP_READDIR };
	struct out m, r;
	char e[100];
	int rc = 0;

	t->nchecks++;
	t->real_msg[0] = '\0';
	if (fm_check(t->m) != 0) {
		why(t, "MODEL BUG: fm_check: %s", fm_error(t->m));
		return 1;
	}
	tree_build(t);
	for (size_t i = 0; i < t->ntree && rc == 0; i++) {
		if (!S_ISDIR(t->tree[i].mode))
			continue;
		o.p1 = t->tree[i].path;
		memset(&m, 0, sizeof(m));
		memset(&r, 0, sizeof(r));
		m.rc = fm_readdir(t->m, &root_cred, o.p1, ent_cb, &m);
		r.rc = t->b->ops->readdir(t->b, BE_ADMIN, o.p1, ent_cb, &r);
		if (m.rc != r.rc) {
			why(t, "full check: readdir %s: model %" PRId64 ", real %s", o.p1, m.rc,
			    ename(r.rc, e, sizeof(e)));
			rc = 1;
		} else {
			rc = compare(t, &o, &m, &r, 0);
		}
		out_free(&m);
		out_free(&r);
	}
	/* every directory's "..": a stale parent shows nowhere else */
	for (size_t i = 1; i < t->ntree && rc == 0; i++) {
		struct fm_attr ma, ra;
		char p[NPATH], e1[100], e2[100];
		if (!S_ISDIR(t->tree[i].mode))
			continue;
		pathf(p, sizeof(p), "%s/..", t->tree[i].path);
		int mr = fm_stat(t->m, &root_cred, p, 0, &ma);
		int rr = t->b->ops->stat(t->b, BE_ADMIN, p, 0, &ra);
		if (mr != rr) {
			why(t, "full check: stat %s: model %s, real %s", p, ename(mr, e1, sizeof(e1)),
			    ename(rr, e2, sizeof(e2)));
			rc = 1;
		} else if (mr == 0) {
			rc = attr_cmp(t, p, &ma, &ra, 0);
		}
	}
	if (rc == 0)
		rc = fm_walk_files(t->m, file_cb, t) != 0;
	return rc;
}

/* ---- unavailability: did the step happen? -------------------------------------------
 * A mutating step that failed with ETIMEDOUT/EAGAIN/ESTALE may or may
 * not have been applied.  Compare the real state of its paths (lstat,
 * stat, a regular file's bytes) with the model before the step: equal =
 * not applied.  Otherwise apply the step to the model and compare again:
 * equal = applied.  Otherwise a mismatch. */
static int
state_equal(struct dt *t, const struct op *o)
{
	if (probe(t, o, 0))
		return 0;
	const char *p = o->kind == OP_SYMLINK ? o->p2 : o->p1;
	struct fm_attr a;
	if (p[0] != '/' || fm_stat(t->m, &root_cred, p, 1, &a) != 0 || !S_ISREG(a.mode))
		return 1;
	uint8_t *md = malloc(a.size + 1), *rd = NULL;
	size_t n = 0;
	fm_open(t->m, &root_cred, p, O_RDONLY, 0);
	fm_pread(t->m, a.ino, 0, md, a.size);
	int eq = read_real(t, p, &rd, &n) == 0 && n == a.size && memcmp(md, rd, n) == 0;
	free(md);
	free(rd);
	return eq;
}

static int
resync(struct dt *t, const struct op *o, const struct out *r)
{
	char s[1024], e[100];
	struct out m;
	int created;

	t->nunavail++;
	fprintf(stderr, "difftest: UNAVAILABLE at step %ld: %s: %s (%s)\n", t->step,
		op_str(t, o, s, sizeof(s)),
		ename(is_unavail(r->rc) ? r->rc : is_unavail(r->rc2) ? r->rc2 : r->rc3, e, sizeof(e)),
		be_errmsg(t->b));
	if (!t->tolerate)
		return -1;
	if (!kinds[o->kind].mutates)
		return ST_SKIP;
	if (state_equal(t, o)) {
		fprintf(stderr, "difftest:   step %ld was not applied\n", t->step);
		return ST_SKIP;
	}
	run_model(t, o, &m, &created);
	out_free(&m);
	if (state_equal(t, o)) {
		fprintf(stderr, "difftest:   step %ld was applied\n", t->step);
		return ST_OK;
	}
	why(t, "after an unavailable call the real state is neither the model's before nor after the step");
	return ST_MISMATCH;
}

/* ---- one step ---------------------------------------------------------------------- */

static int
exec_op(struct dt *t, const struct op *o, char *res, size_t reslen)
{
	struct out m, r;
	char e1[100], e2[100];
	int created, st;

	t->why[0] = '\0';
	t->real_msg[0] = '\0';
	t->errors_only = 0;
	if (run_real(t, o, &r)) {
		st = resync(t, o, &r);
		snprintf(res, reslen, "unavailable%s", st < 0 ? "" : st == ST_SKIP ? " (not applied)"
			 : st == ST_OK ? " (applied)" : " (neither)");
		out_free(&r);
		if (st < 0) {
			why(t, "the backend was unavailable");
			return -1;
		}
		return st;
	}
	t->real_msg[0] = '\0';
	if (r.rc < 0 || r.rc2 < 0 || r.rc3 < 0)
		snprintf(t->real_msg, sizeof(t->real_msg), "%s", be_errmsg(t->b));
	run_model(t, o, &m, &created);
	if (o->kind == OP_READDIR && r.nents > 1)
		qsort(r.ents, r.nents, sizeof(*r.ents), ent_cmp);
	st = compare(t, o, &m, &r, created) ? ST_MISMATCH : m.rc < 0 ? ST_ERR : ST_OK;
	if (st != ST_MISMATCH && kinds[o->kind].mutates && probe(t, o, 1))
		st = ST_MISMATCH;
	if (o->kind == OP_WRITE || o->kind == OP_READ)
		snprintf(res, reslen, "model %s/%s real %s/%s", ename(m.rc < 0 ? m.rc : 0, e1, 50),
			 ename(m.rc2, e1 + 50, 50), ename(r.rc < 0 ? r.rc : 0, e2, 50),
			 ename(r.rc2, e2 + 50, 50));
	else
		snprintf(res, reslen, "model %s real %s", ename(m.rc, e1, sizeof(e1)),
			 ename(r.rc, e2, sizeof(e2)));
	if (st == ST_MISMATCH && t->why[0] == '\0')
		why(t, "results differ");
	out_free(&m);
	out_free(&r);
	return st;
}

/* ---- the run ----------------------------------------------------------------------- */

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
repro(const struct dt *t, long steps, char *buf, size_t len)
{
	size_t n = 0;
	n += (size_t)snprintf(buf + n, len - n, "difftest --seed %" PRIu64 " --steps %ld --backend %s",
			      t->seed, steps, t->backend);
	if (strcmp(t->backend, "posix") == 0)
		n += (size_t)snprintf(buf + n, len - n, " --dir %s", t->dir);
	else
		n += (size_t)snprintf(buf + n, len - n, " --cluster %s --root %s", t->cluster, t->root);
	n += (size_t)snprintf(buf + n, len - n, " --uids ");
	for (unsigned i = 0; i < t->nuids; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%u", i ? "," : "", t->uids[i]);
	if (t->big)
		n += (size_t)snprintf(buf + n, len - n, " --big %" PRIu64, t->big);
	if (t->check_every != 100)
		n += (size_t)snprintf(buf + n, len - n, " --check-every %ld", t->check_every);
	if (t->avoid_arg != NULL)
		snprintf(buf + n, len - n, " --avoid %s", t->avoid_arg);
}

static int
fresh(struct dt *t, const char *name)
{
	char err[512];
	fm_free(&t->m);
	t->m = fm_new(0777, 0, 0);
	t->nmap = 0;
	if (be_reset(t->b, name, err, sizeof(err)) != 0) {
		fprintf(stderr, "difftest: %s\n", err);
		return -1;
	}
	return 0;
}

/* Replay ops[idx[0..n)] into a fresh root: 1 if it fails as the run did,
 * at its last step (the failing one, always kept) or, for a failure found
 * by a full check, at the full check after it.  Another step's mismatch
 * is another failure (0), but for two different errors (they change
 * nothing). */
static int
replay(struct dt *t, const size_t *idx, size_t n, int at_check)
{
	char res[256], name[64];
	snprintf(name, sizeof(name), "s%" PRIu64 "-p%d-shrink", t->seed, (int)getpid());
	if (fresh(t, name) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct op *o = &t->ops[idx[i]];
		tree_build(t);
		ino_purge(t);
		if (!op_safe(t, o))
			continue;
		if (exec_op(t, o, res, sizeof(res)) == ST_MISMATCH) {
			if (i == n - 1)
				return 1;
			if (!t->errors_only)
				return 0;
		}
	}
	return at_check && full_check(t) != 0;
}

/* Delta debugging (ddmin) over the recorded steps before the failing
 * one, within a time budget. */
static void
shrink(struct dt *t, int at_check, double budget)
{
	size_t n = t->nops - 1, *cur = malloc(t->nops * sizeof(size_t));
	size_t *cand = malloc(t->nops * sizeof(size_t)), parts = 2;
	double end = now() + budget;
	long runs = 0;
	char s[1024];

	for (size_t i = 0; i < n; i++)
		cur[i] = i;
	t->quiet = 1;
	while (n >= 2 && now() < end) {
		size_t chunk = (n + parts - 1) / parts;
		int reduced = 0;
		for (size_t p = 0; p < parts && now() < end; p++) {
			size_t k = 0;
			for (size_t i = 0; i < n; i++)
				if (i / chunk != p)
					cand[k++] = cur[i];
			if (k == n || k == 0)
				continue;
			cand[k] = t->nops - 1;
			runs++;
			if (replay(t, cand, k + 1, at_check)) {
				memcpy(cur, cand, k * sizeof(size_t));
				n = k;
				parts = parts > 2 ? parts - 1 : 2;
				reduced = 1;
				break;
			}
		}
		if (!reduced) {
			if (parts >= n)
				break;
			parts = parts * 2 < n ? parts * 2 : n;
		}
	}
	t->quiet = 0;
	cur[n++] = t->nops - 1;
	int still = replay(t, cur, n, at_check);
	fprintf(stderr, "shortest failing sequence found (%zu of %zu steps, %ld replays%s):\n",
		n, t->nops, runs, still ? "" : "; it no longer fails alone");
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  step %zu: %s\n", cur[i] + 1, op_str(t, &t->ops[cur[i]], s, sizeof(s)));
	if (still)
		fprintf(stderr, "  -> %s%s\n", at_check ? "full check: " : "", t->why);
	free(cur);
	free(cand);
}

static void
report(struct dt *t, const char *kind, const struct op *o, const char *res)
{
	char s[1024], r[2048];
	fprintf(stderr, "difftest: %s at step %ld (seed %" PRIu64 ")\n", kind, t->step, t->seed);
	if (o != NULL) {
		fprintf(stderr, "  op:     %s\n", op_str(t, o, s, sizeof(s)));
		fprintf(stderr, "  result: %s\n", res);
	} else {
		fprintf(stderr, "  op:     (full check after the step)\n");
	}
	fprintf(stderr, "  what:   %s\n", t->why);
	if (t->real_msg[0] != '\0')
		fprintf(stderr, "  real said: %s\n", t->real_msg);
	repro(t, t->step, r, sizeof(r));
	fprintf(stderr, "the failing prefix: %s reproduces it\n", r);
	fprintf(stderr, "last %d steps:\n", RING);
	for (long i = t->step - RING + 1; i <= t->step; i++)
		if (i >= 1)
			fprintf(stderr, "  %s\n", t->ring[i % RING]);
}

struct manifest {
	struct dt *t;
	FILE *f;
};

static int
manifest_cb(void *arg, const char *path, const struct fm_attr *a, const uint8_t *data)
{
	struct manifest *mf = arg;
	char rp[NPATH];
	fprintf(mf->f, "%s\t%" PRIu64 "\t%08x\n", be_realpath(mf->t->b, path, rp, sizeof(rp)),
		a->size, crc32z(data, data ? a->size : 0));
	return 0;
}

static int
write_manifest(struct dt *t)
{
	struct manifest mf = { t, t->manifest_f };
	fm_walk_files(t->m, manifest_cb, &mf);
	return fclose(mf.f) == 0 ? 0 : -1;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: difftest [--seed N] [--steps N] [--backend cfs|posix] [--cluster ADDRS]\n"
		"                [--dir DIR] [--root /difftest] [--uids 0,1000] [--big FSZ]\n"
		"                [--check-every N] [--log FILE] [--manifest FILE] [--verbose]\n"
		"                [--shrink] [--tolerate-unavailable] [--keep] [--keep-going]\n"
		"                [--avoid creat-dangling,exchange,symlink-4096,rename-slash,\n"
		"                 rename-dir-over-dir]\n");
	exit(1);
}

static void
parse(struct dt *t, int argc, char **argv)
{
	t->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	t->steps = 2000;
	t->check_every = 100;
	t->backend = "posix";
	t->cluster = getenv("CFS_META") ? getenv("CFS_META") : "127.0.0.1:7000";
	t->dir = "/tmp";
	t->root = "/difftest";
	t->uids[0] = 0;
	t->uids[1] = 1000;
	t->nuids = 2;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && (v != NULL || (usage(), 0)) && ++i)
		if (ARG("--seed"))
			t->seed = strtoull(v, NULL, 0);
		else if (ARG("--steps"))
			t->steps = strtol(v, NULL, 0);
		else if (ARG("--backend"))
			t->backend = v;
		else if (ARG("--cluster"))
			t->cluster = v;
		else if (ARG("--dir"))
			t->dir = v;
		else if (ARG("--root"))
			t->root = v;
		else if (ARG("--log"))
			t->logpath = v;
		else if (ARG("--manifest"))
			t->manifest = v;
		else if (ARG("--big"))
			t->big = strtoull(v, NULL, 0);
		else if (ARG("--check-every"))
			t->check_every = strtol(v, NULL, 0);
		else if (ARG("--uids")) {
			char *s = strdup(v), *save = NULL;
			t->nuids = 0;
			for (char *p = strtok_r(s, ",", &save); p && t->nuids < 16; p = strtok_r(NULL, ",", &save))
				t->uids[t->nuids++] = (uint32_t)strtoul(p, NULL, 0);
			free(s);
		} else if (strcmp(a, "--verbose") == 0)
			t->verbose = 1;
		else if (strcmp(a, "--shrink") == 0)
			t->shrink = 1;
		else if (strcmp(a, "--tolerate-unavailable") == 0)
			t->tolerate = 1;
		else if (ARG("--avoid")) {
			t->avoid_arg = v;
			for (unsigned k = 0; k < sizeof(avoid_names) / sizeof(avoid_names[0]); k++)
				if (strstr(v, avoid_names[k]))
					t->avoid |= 1u << k;
		} else if (strcmp(a, "--keep-going") == 0)
			t->keep_going = 1;
		else if (strcmp(a, "--keep") == 0)
			t->keep = 1;
		else
			usage();
#undef ARG
	}
	if (t->nuids == 0 || t->steps < 0 || t->check_every <= 0 ||
	    (strcmp(t->backend, "posix") != 0 && strcmp(t->backend, "cfs") != 0))
		usage();
}

int
main(int argc, char **argv)
{
	struct dt t0 = { 0 }, *t = &t0;
	char err[512], name[64], s[1024], res[256];
	long nskipped = 0;

	parse(t, argc, argv);
	printf("difftest: seed %" PRIu64 "\n", t->seed);
	fflush(stdout);
	t->rng = t->seed;
	gen_init();
	t->wbuf = malloc(MAXW);
	if (strcmp(t->backend, "posix") == 0) {
		t->b = be_posix_new(t->dir, t->uids, t->nuids, err, sizeof(err));
		FILE *f = fopen("/proc/sys/fs/protected_hardlinks", "r");
		if (f != NULL) {
			t->protected_hardlinks = fgetc(f) == '1';
			fclose(f);
		}
	} else {
		t->b = be_cfs_new(t->cluster, t->root, t->uids, t->nuids, err, sizeof(err));
		t->cfs_sem = 1;
	}
	if (t->b == NULL) {
		fprintf(stderr, "difftest: %s\n", err);
		return 1;
	}
	if (t->logpath != NULL && (t->log = fopen(t->logpath, "w")) == NULL) {
		fprintf(stderr, "difftest: --log %s: %s\n", t->logpath, strerror(errno));
		return 1;
	}
	if (t->manifest != NULL && (t->manifest_f = fopen(t->manifest, "w")) == NULL) {
		fprintf(stderr, "difftest: --manifest %s: %s\n", t->manifest, strerror(errno));
		return 1;
	}
	snprintf(name, sizeof(name), "s%" PRIu64 "-p%d", t->seed, (int)getpid());
	if (fresh(t, name) != 0)
		return 1;
	if (t->verbose)
		fprintf(stderr, "difftest: %s backend, root %s\n", t->b->ops->name, t->b->shown);

	double t0s = now();
	for (t->step = 1; t->step <= t->steps; t->step++) {
		struct op o;
		tree_build(t);
		ino_purge(t);
		for (int tries = 0;; tries++) {
			gen_op(t, &o);
			if (op_safe(t, &o))
				break;
			op_free(&o);
			nskipped++;
		}
		if (t->nops == t->capops) {
			t->capops = t->capops ? 2 * t->capops : 1024;
			t->ops = realloc(t->ops, t->capops * sizeof(*t->ops));
		}
		t->ops[t->nops++] = o;
		int st = exec_op(t, &o, res, sizeof(res));
		snprintf(t->ring[t->step % RING], sizeof(t->ring[0]), "%ld: %s -> %s", t->step,
			 op_str(t, &o, s, sizeof(s)), res);
		if (t->log)
			fprintf(t->log, "%s\n", t->ring[t->step % RING]);
		if (t->verbose)
			fprintf(stderr, "%s\n", t->ring[t->step % RING]);
		if (st < 0) {
			report(t, "UNAVAILABLE", &o, res);
			return 2;
		}
		if (st == ST_MISMATCH && t->keep_going && t->errors_only) {
			/* both failed, nothing changed: the states still agree */
			t->nmis++;
			report(t, "MISMATCH", &o, res);
			fprintf(stderr, "difftest: (--keep-going: both failed, going on)\n");
			st = ST_ERR;
		}
		if (st == ST_MISMATCH) {
			t->nmis++;
			report(t, strncmp(t->why, "MODEL BUG", 9) == 0 ? "MODEL BUG" : "MISMATCH", &o, res);
			if (t->shrink)
				shrink(t, 0, 120);
			if (t->log)
				fclose(t->log);
			return 1;
		}
		if (st == ST_OK)
			t->nok++;
		else if (st == ST_ERR)
			t->nerr++;
		if (t->step % t->check_every == 0 || t->step == t->steps) {
			if (full_check(t) != 0) {
				t->nmis++;
				report(t, strncmp(t->why, "MODEL BUG", 9) == 0 ? "MODEL BUG" : "MISMATCH",
				       NULL, "");
				if (t->shrink)
					shrink(t, 1, 120);
				return 1;
			}
		}
	}
	t->step--;
	double el = now() - t0s;
	if (t->manifest != NULL && write_manifest(t) != 0)
		return 1;
	printf("difftest: seed %" PRIu64 ", %ld steps, %ld ok, %ld expected errors, %ld mismatches, "
	       "%ld unavailable, %ld full checks, %.1f s\n", t->seed, t->step, t->nok, t->nerr,
	       t->nmis, t->nunavail, t->nchecks, el);
	if (t->verbose)
		fprintf(stderr, "difftest: %ld generated steps were dropped (outside the root)\n",
			nskipped);
	if (t->log)
		fclose(t->log);
	if (!t->keep && t->manifest == NULL)
		be_remove(t->b);
	for (size_t i = 0; i < t->nops; i++)
		op_free(&t->ops[i]);
	free(t->ops);
	for (size_t i = 0; i < t->ntree; i++)
		free(t->tree[i].path);
	free(t->tree);
	free(t->map);
	free(t->wbuf);
	fm_free(&t->m);
	be_free(&t->b);
	return t0.nmis > 0; /* --keep-going */
}
