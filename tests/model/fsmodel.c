/* fsmodel.c - the reference model of a CFS namespace and its file contents (contract in fsmodel.h). */
#include "tests/model/fsmodel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * The state: a table of inodes by number.  A directory keeps its entries
 * sorted by name (bytewise) and the number of its parent; a regular file
 * its bytes; a symlink its target (NUL-terminated, size = length).
 * Error order follows Linux 6.x fs/namei.c, fs/xattr.c and fs/attr.c,
 * where the code says so; "CFS:" marks what cfs.h documents differently.
 */

/* get() returns NULL for a number no live inode has; the dereferences gcc
 * flags are of inodes a walk or an entry just named, which exist by the
 * invariants fm_check() verifies after every step. */
#pragma GCC diagnostic ignored "-Wnull-dereference"

#define ROOT_INO 1
#define MAX_SIZE (UINT64_C(1) << 62) /* CFS: EFBIG past 2^62 bytes */
#define R 4
#define W 2
#define X 1

struct dent {
	char *name;
	uint64_t ino;
};

struct xattr {
	char *name;
	uint8_t *val;
	size_t len;
};

struct inode {
	uint64_t ino;
	uint32_t mode, uid, gid, nlink;
	uint64_t parent;      /* directory: the directory naming it */
	struct dent *ents;    /* directory: sorted by name */
	size_t nents;
	uint8_t *data;        /* regular: bytes; symlink: target + NUL */
	uint64_t size;
	struct xattr *xa;     /* sorted by name */
	size_t nxa;
};

struct fm {
	struct inode **tab;   /* by inode number; NULL once freed */
	uint64_t next, cap;   /* next number to give; slots in tab */
	char err[512];
};

/* What the path up to its last component resolved to. */
enum { T_NORM, T_DOT, T_DOTDOT, T_ROOT };
struct walk {
	uint64_t dir;                 /* directory holding the last one */
	char name[FM_NAME_MAX + 1];   /* the last component, if T_NORM */
	size_t len;                   /* its length (may be > 255) */
	int type;
	int slash;                    /* a '/' follows it */
	uint64_t ino;                 /* what it names, not followed; 0 none */
};

static int
fail(struct fm *m, const char *what, const char *op, const char *cond,
     int line)
{
	snprintf(m->err, sizeof(m->err), "%s failed: %s %s at fsmodel.c:%d",
		 what, op, cond, line);
	return FM_EMODEL;
}

/* A postcondition of the calling operation. */
#define POST(cond)                                                          \
	do {                                                                \
		if (!(cond))                                                \
			return fail(m, "postcondition", __func__, #cond,    \
				    __LINE__);                              \
	} while (0)

/* ---- inodes and entries ------------------------------------------------ */

static struct inode *
get(const struct fm *m, uint64_t ino)
{
	return ino > 0 && ino < m->next ? m->tab[ino] : NULL;
}

static int
isdir(const struct inode *i)
{
	return S_ISDIR(i->mode);
}

static struct inode *
new_inode(struct fm *m, uint32_t mode, uint32_t uid, uint32_t gid)
{
	if (m->next >= m->cap) {
		uint64_t cap = m->cap ? 2 * m->cap : 64;
		struct inode **t = realloc(m->tab, cap * sizeof(*t));
		if (!t)
			return NULL;
		memset(t + m->cap, 0, (cap - m->cap) * sizeof(*t));
		m->tab = t;
		m->cap = cap;
	}
	struct inode *i = calloc(1, sizeof(*i));
	if (!i)
		return NULL;
	i->ino = m->next++;
	i->mode = mode;
	i->uid = uid;
	i->gid = gid;
	m->tab[i->ino] = i;
	return i;
}

static void
free_inode(struct fm *m, struct inode *i)
{
	for (size_t k = 0; k < i->nents; k++)
		free(i->ents[k].name);
	for (size_t k = 0; k < i->nxa; k++) {
		free(i->xa[k].name);
		free(i->xa[k].val);
	}
	m->tab[i->ino] = NULL;
	free(i->ents);
	free(i->xa);
	free(i->data);
	free(i);
}

/* Index of entry @name in directory @d, or -1. */
static long
dent_find(const struct inode *d, const char *name)
{
	for (size_t k = 0; k < d->nents; k++)
		if (strcmp(d->ents[k].name, name) == 0)
			return (long)k;
	return -1;
}

static uint64_t
child(const struct inode *d, const char *name)
{
	long k = dent_find(d, name);
	return k < 0 ? 0 : d->ents[k].ino;
}

/* Add entry @name -> @ino in bytewise order; 0 or -ENOMEM (no change). */
static int
dent_add(struct inode *d, const char *name, uint64_t ino)
{
	struct dent *e = realloc(d->ents, (d->nents + 1) * sizeof(*e));
	if (!e)
		return -ENOMEM;
	d->ents = e;
	char *s = strdup(name);
	if (!s)
		return -ENOMEM;
	size_t k = 0;
	while (k < d->nents && strcmp(e[k].name, name) < 0)
		k++;
	memmove(&e[k + 1], &e[k], (d->nents - k) * sizeof(*e));
	e[k].name = s;
	e[k].ino = ino;
	d->nents++;
	return 0;
}

static void
dent_del(struct inode *d, const char *name)
{
	long k = dent_find(d, name);
	if (k < 0)
		return;
	free(d->ents[k].name);
	memmove(&d->ents[k], &d->ents[k + 1],
		(d->nents - (size_t)k - 1) * sizeof(d->ents[0]));
	d->nents--;
}

/* One name of @i is gone: free it with its last (a directory at once). */
static void
drop(struct fm *m, struct inode *i)
{
	if (isdir(i) || --i->nlink == 0)
		free_inode(m, i);
}

/* Is @ino the directory @top or below it? */
static int
in_subtree(const struct fm *m, uint64_t ino, uint64_t top)
{
	for (const struct inode *i = get(m, ino); i; i = get(m, i->parent)) {
		if (i->ino == top)
			return 1;
		if (i->ino == ROOT_INO || !isdir(i))
			return 0;
	}
	return 0;
}

/* Resize regular file @i, zero-filling; 0, -EFBIG or -ENOMEM. */
static int
set_size(struct inode *i, uint64_t size)
{
	if (size > MAX_SIZE)
		return -EFBIG;
	if (size == 0) {
		free(i->data);
		i->data = NULL;
	} else if (size != i->size) {
		uint8_t *d = realloc(i->data, size);
		if (!d)
			return -ENOMEM;
		if (size > i->size)
			memset(d + i->size, 0, size - i->size);
		i->data = d;
	}
	i->size = size;
	return 0;
}

static void
attr_of(const struct inode *i, struct fm_attr *a)
{
	a->mode = i->mode;
	a->uid = i->uid;
	a->gid = i->gid;
	a->nlink = i->nlink;
	a->size = isdir(i) ? 0 : i->size;
	a->ino = i->ino;
}

/* ---- permissions --------------------------------------------------------- */

static int
in_group(const struct fm_cred *c, uint32_t gid)
{
	if (c->gid == gid)
		return 1;
	for (unsigned k = 0; k < c->ngroups && k < 8; k++)
		if (c->groups[k] == gid)
			return 1;
	return 0;
}

/* 0 if @c may @want (R|W|X) on @i, else -EACCES.  The first class that
 * matches decides, even if it grants less; root passes r and w always and
 * x on a directory or on a file with any x bit (generic_permission). */
static int
may(const struct fm_cred *c, const struct inode *i, unsigned want)
{
	if (c->uid == 0)
		return !(want & X) || isdir(i) || (i->mode & 0111) ? 0
								    : -EACCES;
	unsigned shift = c->uid == i->uid ? 6 : in_group(c, i->gid) ? 3 : 0;
	return ((i->mode >> shift) & want) == want ? 0 : -EACCES;
}

/* Linux may_delete(): removing @v from @d. */
static int
may_delete(const struct fm_cred *c, const struct inode *d,
	   const struct inode *v, int want_dir)
{
	int rc = may(c, d, W | X);
	if (rc)
		return rc;
	if ((d->mode & S_ISVTX) && c->uid != 0 && c->uid != v->uid &&
	    c->uid != d->uid)
		return -EPERM;
	if (want_dir && !isdir(v))
		return -ENOTDIR;
	if (!want_dir && isdir(v))
		return -EISDIR;
	return 0;
}

/* Linux setattr_should_drop_suidgid(): a non-root caller changing the
 * size of a regular file clears S_ISUID, and S_ISGID if group-executable
 * or the caller is not in the file's group (not done by fm_pwrite, which
 * has no caller). */
static void
kill_suid(const struct fm_cred *c, struct inode *i)
{
	if (c->uid == 0)
		return;
	if ((i->mode & S_ISGID) && ((i->mode & S_IXGRP) || !in_group(c, i->gid)))
		i->mode &= ~(uint32_t)S_ISGID;
	i->mode &= ~(uint32_t)S_ISUID;
}

/* ---- path resolution (cfs.h "Paths"; Linux link_path_walk) -------------- */

static int walk(struct fm *m, const struct fm_cred *c, uint64_t dir,
		const char *p, int *links, struct walk *w);

/* Fill w->ino from w->name: ENAMETOOLONG, else 0 (w->ino 0 if absent). */
static int
lookup_last(const struct fm *m, struct walk *w)
{
	const struct inode *d = get(m, w->dir);
	if (w->type == T_DOT || w->type == T_ROOT)
		w->ino = w->dir;
	else if (w->type == T_DOTDOT)
		w->ino = d->parent;
	else if (w->len > FM_NAME_MAX)
		return -ENAMETOOLONG;
	else
		w->ino = child(d, w->name);
	return 0;
}

/* Follow symlink @l found in directory @dir to the inode it names. */
static int
follow_link(struct fm *m, const struct fm_cred *c, uint64_t dir,
	    const struct inode *l, int *links, uint64_t *out);

/* The inode the last component names, following a final symlink if
 * @follow or a trailing '/' (which then requires a directory). */
static int
resolve_last(struct fm *m, const struct fm_cred *c, struct walk *w,
	     int follow, int *links, uint64_t *out)
{
	int rc = lookup_last(m, w);
	if (rc)
		return rc;
	if (!w->ino)
		return -ENOENT;
	const struct inode *i = get(m, w->ino);
	uint64_t ino = w->ino;
	if (S_ISLNK(i->mode) && (follow || w->slash)) {
		rc = follow_link(m, c, w->dir, i, links, &ino);
		if (rc)
			return rc;
		i = get(m, ino);
	}
	if (w->slash && !isdir(i))
		return -ENOTDIR;
	*out = ino;
	return 0;
}

static int
follow_link(struct fm *m, const struct fm_cred *c, uint64_t dir,
	    const struct inode *l, int *links, uint64_t *out)
{
	struct walk w;
	if (++*links > FM_SYMLOOP_MAX)
		return -ELOOP;
	int rc = walk(m, c, dir, (const char *)l->data, links, &w);
	return rc ? rc : resolve_last(m, c, &w, 1, links, out);
}

/* Resolve @p from @dir (or "/" if absolute) up to its last component:
 * EACCES (no x on a directory before a component), ENAMETOOLONG,
 * ENOENT, ENOTDIR, ELOOP for the components before the last. */
static int
walk(struct fm *m, const struct fm_cred *c, uint64_t dir, const char *p,
     int *links, struct walk *w)
{
	if (*p == '/')
		dir = ROOT_INO;
	for (;;) {
		while (*p == '/')
			p++;
		memset(w, 0, sizeof(*w));
		w->dir = dir;
		if (*p == '\0') { /* "/" itself */
			w->type = T_ROOT;
			return 0;
		}
		size_t len = strcspn(p, "/");
		const char *q = p + len;
		w->slash = *q == '/';
		while (*q == '/')
			q++;
		int rc = may(c, get(m, dir), X);
		if (rc)
			return rc;
		w->len = len;
		memcpy(w->name, p, len > FM_NAME_MAX ? FM_NAME_MAX : len);
		w->type = strcmp(w->name, ".") == 0    ? T_DOT
			  : strcmp(w->name, "..") == 0 ? T_DOTDOT
						       : T_NORM;
		if (*q == '\0')
			return 0;
		uint64_t ino;
		rc = resolve_last(m, c, w, 1, links, &ino);
		if (rc)
			return rc;
		if (!isdir(get(m, ino)))
			return -ENOTDIR;
		dir = ino;
		p = q;
	}
}

/* The checks every call makes first: EINVAL, ENAMETOOLONG. */
static int
check_path(const char *path)
{
	if (!path || path[0] != '/')
		return -EINVAL; /* CFS: relative (or empty) paths */
	return strnlen(path, FM_PATH_MAX) >= FM_PATH_MAX ? -ENAMETOOLONG : 0;
}

static int
parent_of(struct fm *m, const struct fm_cred *c, const char *path,
	  int *links, struct walk *w)
{
	int rc = check_path(path);
	return rc ? rc : walk(m, c, ROOT_INO, path, links, w);
}

static int
lookup(struct fm *m, const struct fm_cred *c, const char *path, int follow,
       struct inode **out)
{
	struct walk w;
	int links = 0;
	uint64_t ino;
	int rc = parent_of(m, c, path, &links, &w);
	if (!rc)
		rc = resolve_last(m, c, &w, follow, &links, &ino);
	if (!rc)
		*out = get(m, ino);
	return rc;
}

/* Linux filename_create(): the parent of a new name, for mkdir (trailing
 * '/' allowed), symlink and link: walk errors; EEXIST ("/", ".", ".." or
 * taken); ENAMETOOLONG; ENOENT (a trailing '/' and not mkdir); EACCES
 * (no w+x on the parent). */
static int
create_at(struct fm *m, const struct fm_cred *c, const char *path,
	  int is_mkdir, struct walk *w)
{
	int links = 0;
	int rc = parent_of(m, c, path, &links, w);
	if (rc)
		return rc;
	if (w->type != T_NORM)
		return -EEXIST;
	if ((rc = lookup_last(m, w)))
		return rc;
	if (w->ino)
		return -EEXIST;
	if (w->slash && !is_mkdir)
		return -ENOENT;
	return may(c, get(m, w->dir), W | X);
}

/* A new inode named w->name in w->dir (all checked).  Owner @c; group the
 * directory's if it is setgid (and a directory inherits the bit). */
static int
create(struct fm *m, const struct fm_cred *c, const struct walk *w,
       uint32_t mode, struct inode **out)
{
	struct inode *d = get(m, w->dir);
	uint32_t gid = d->mode & S_ISGID ? d->gid : c->gid;
	if (S_ISDIR(mode) && (d->mode & S_ISGID))
		mode |= S_ISGID;
	struct inode *i = new_inode(m, mode, c->uid, gid);
	if (!i)
		return -ENOMEM;
	if (dent_add(d, w->name, i->ino)) {
		free_inode(m, i);
		return -ENOMEM;
	}
	i->nlink = isdir(i) ? 2 : 1;
	if (isdir(i)) {
		i->parent = d->ino;
		d->nlink++;
	}
	*out = i;
	return 0;
}

/* ---- the model ----------------------------------------------------------- */

struct fm *
fm_new(uint32_t root_mode, uint32_t uid, uint32_t gid)
{
	struct fm *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->next = ROOT_INO;
	struct inode *r = new_inode(m, S_IFDIR | (root_mode & 07777), uid, gid);
	if (!r) {
		free(m->tab);
		free(m);
		return NULL;
	}
	r->nlink = 2;
	r->parent = ROOT_INO;
	return m;
}

void
fm_free(struct fm **m)
{
	if (!m || !*m)
		return;
	for (uint64_t k = ROOT_INO; k < (*m)->next; k++)
		if ((*m)->tab[k])
			free_inode(*m, (*m)->tab[k]);
	free((*m)->tab);
	free(*m);
	*m = NULL;
}

const char *
fm_error(const struct fm *m)
{
	return m->err;
}

/* ---- namespace operations ------------------------------------------------ */

int
fm_stat(struct fm *m, const struct fm_cred *c, const char *path, int follow,
	struct fm_attr *out)
{
	/* pre: the path errors only (no permission on the object itself). */
	struct inode *i;
	int rc = lookup(m, c, path, follow, &i);
	if (rc)
		return rc;
	attr_of(i, out);
	/* post: */
	POST(!follow || !S_ISLNK(out->mode));
	POST(out->ino == i->ino && out->nlink >= 1);
	return 0;
}

int
fm_mkdir(struct fm *m, const struct fm_cred *c, const char *path,
	 uint32_t mode)
{
	/* pre: create_at(): walk errors, EEXIST, ENAMETOOLONG, EACCES. */
	struct walk w;
	struct inode *i;
	int rc = create_at(m, c, path, 1, &w);
	if (rc)
		return rc;
	uint32_t before = get(m, w.dir)->nlink;
	/* CFS: mode & 07777 as given (no umask; Linux would also drop
	 * S_ISUID/S_ISGID from the argument). */
	if ((rc = create(m, c, &w, S_IFDIR | (mode & 07777), &i)))
		return rc;
	/* post: a new empty directory, one more subdirectory in the parent. */
	POST(child(get(m, w.dir), w.name) == i->ino);
	POST(i->nlink == 2 && i->nents == 0 && i->parent == w.dir);
	POST(get(m, w.dir)->nlink == before + 1);
	return 0;
}

int
fm_rmdir(struct fm *m, const struct fm_cred *c, const char *path)
{
	/* pre: walk errors; EINVAL (last "."), ENOTEMPTY (last "..", as
	 * Linux), EBUSY ("/"); ENAMETOOLONG; ENOENT; EACCES (no w+x on the
	 * parent); EPERM (sticky parent, not the owner of either); ENOTDIR;
	 * ENOTEMPTY. */
	struct walk w;
	int links = 0;
	int rc = parent_of(m, c, path, &links, &w);
	if (rc)
		return rc;
	if (w.type != T_NORM)
		return w.type == T_DOT ? -EINVAL
		       : w.type == T_DOTDOT ? -ENOTEMPTY : -EBUSY;
	if ((rc = lookup_last(m, &w)))
		return rc;
	if (!w.ino)
		return -ENOENT;
	struct inode *d = get(m, w.dir), *v = get(m, w.ino);
	if ((rc = may_delete(c, d, v, 1)))
		return rc;
	if (v->nents)
		return -ENOTEMPTY;
	uint32_t before = d->nlink;
	dent_del(d, w.name);
	d->nlink--;
	free_inode(m, v);
	/* post: the name is gone, the parent has one subdirectory less. */
	POST(child(d, w.name) == 0 && get(m, w.ino) == NULL);
	POST(d->nlink == before - 1);
	return 0;
}

int
fm_unlink(struct fm *m, const struct fm_cred *c, const char *path)
{
	/* pre: walk errors; EISDIR ("/", ".", ".."); ENAMETOOLONG; with a
	 * trailing '/': ENOENT, EISDIR or ENOTDIR; ENOENT; EACCES (no w+x
	 * on the parent); EPERM (sticky); EISDIR (a directory). */
	struct walk w;
	int links = 0;
	int rc = parent_of(m, c, path, &links, &w);
	if (rc)
		return rc;
	if (w.type != T_NORM)
		return -EISDIR;
	if ((rc = lookup_last(m, &w)))
		return rc;
	struct inode *d = get(m, w.dir), *v = get(m, w.ino);
	if (!v || w.slash)
		return !v ? -ENOENT : isdir(v) ? -EISDIR : -ENOTDIR;
	if ((rc = may_delete(c, d, v, 0)))
		return rc;
	uint32_t before = v->nlink;
	dent_del(d, w.name);
	drop(m, v);
	/* post: the name is gone; the inode lost a link, or is gone. */
	POST(child(d, w.name) == 0);
	POST(before == 1 ? get(m, w.ino) == NULL
			 : get(m, w.ino)->nlink == before - 1);
	return 0;
}

/*
 * rename(2) / renameat2(2), Linux do_renameat2() and vfs_rename():
 * 1) EINVAL (flags); walk errors of @from, then of @to;
 * 2) EBUSY (@from or @to is "/", "." or ".."; EEXIST for @to if NOREPLACE);
 * 3) ENAMETOOLONG, ENOENT (@from); ENAMETOOLONG (@to); EEXIST (NOREPLACE);
 *    ENOENT (EXCHANGE, no @to); ENOTDIR (a trailing '/' on a non-dir);
 * 4) EINVAL (@to's directory is @from or below it); ENOTEMPTY (EINVAL for
 *    EXCHANGE) (@to is an ancestor of @from);
 * 5) the same inode: success, no change;
 * 6) may_delete(@from): EACCES, EPERM (sticky); then may_create(@to's
 *    dir) EACCES, or may_delete(@to): EACCES, EPERM, ENOTDIR (dir over a
 *    non-dir), EISDIR (non-dir over a dir);
 * 7) EACCES: a directory moving to another parent needs w on itself (its
 *    ".." changes), for EXCHANGE both;
 * 8) ENOTEMPTY: over a non-empty directory (not for EXCHANGE).
 */
int
fm_rename(struct fm *m, const struct fm_cred *c, const char *from,
	  const char *to, unsigned flags)
{
	struct walk a, b;
	int links = 0, rc, xchg = flags == 2;
	if (flags > 2)
		return -EINVAL;
	if ((rc = parent_of(m, c, from, &links, &a)))
		return rc;
	links = 0;
	if ((rc = parent_of(m, c, to, &links, &b)))
		return rc;
	if (a.type != T_NORM)
		return -EBUSY;
	if (b.type != T_NORM)
		return flags == 1 ? -EEXIST : -EBUSY;
	if ((rc = lookup_last(m, &a)))
		return rc;
	if (!a.ino)
		return -ENOENT;
	if ((rc = lookup_last(m, &b)))
		return rc;
	if (flags == 1 && b.ino)
		return -EEXIST;
	struct inode *sd = get(m, a.dir), *td = get(m, b.dir);
	struct inode *s = get(m, a.ino), *t = get(m, b.ino);
	if (xchg && !t)
		return -ENOENT;
	if (xchg && !isdir(t) && b.slash)
		return -ENOTDIR;
	if (!isdir(s) && (a.slash || (!xchg && b.slash)))
		return -ENOTDIR;
	if (in_subtree(m, td->ino, s->ino))
		return -EINVAL;
	if (t && isdir(t) && in_subtree(m, sd->ino, t->ino))
		return xchg ? -EINVAL : -ENOTEMPTY;
	if (s == t)
		return 0;
	if ((rc = may_delete(c, sd, s, isdir(s))))
		return rc;
	rc = !t ? may(c, td, W | X)
		: may_delete(c, td, t, xchg ? isdir(t) : isdir(s));
	if (rc)
		return rc;
	if (sd != td && ((isdir(s) && may(c, s, W)) ||
			 (xchg && isdir(t) && may(c, t, W))))
		return -EACCES;
	if (!xchg && t && isdir(t) && t->nents)
		return -ENOTEMPTY;

	uint64_t sino = s->ino, tino = b.ino;
	if (xchg) {
		td->ents[dent_find(td, b.name)].ino = sino;
		sd->ents[dent_find(sd, a.name)].ino = tino;
		if (isdir(s))
			s->parent = td->ino;
		if (isdir(t))
			t->parent = sd->ino;
		if (isdir(s) != isdir(t)) {
			sd->nlink += isdir(s) ? -1 : 1;
			td->nlink += isdir(s) ? 1 : -1;
		}
		/* post: the two names swapped. */
		POST(child(td, b.name) == sino && child(sd, a.name) == tino);
		return 0;
	}
	if (t) {
		td->ents[dent_find(td, b.name)].ino = sino;
		if (isdir(t))
			td->nlink--;
		drop(m, t);
	} else if ((rc = dent_add(td, b.name, sino))) {
		return rc;
	}
	dent_del(sd, a.name);
	if (isdir(s)) {
		sd->nlink--;
		td->nlink++;
		s->parent = td->ino;
	}
	/* post: @to names the source, @from names nothing. */
	POST(child(td, b.name) == sino && child(sd, a.name) == 0);
	POST(!isdir(s) || s->parent == td->ino);
	return 0;
}

int
fm_link(struct fm *m, const struct fm_cred *c, const char *from,
	const char *to)
{
	/* pre: path errors of @from (not followed); create_at(@to): walk
	 * errors, EEXIST, ENAMETOOLONG, ENOENT (trailing '/'), EACCES; then
	 * EPERM (@from is a directory).  Linux's fs.protected_hardlinks is
	 * not modelled. */
	struct inode *s;
	struct walk w;
	int rc = lookup(m, c, from, 0, &s);
	if (rc)
		return rc;
	if ((rc = create_at(m, c, to, 0, &w)))
		return rc;
	if (isdir(s))
		return -EPERM;
	if ((rc = dent_add(get(m, w.dir), w.name, s->ino)))
		return rc;
	s->nlink++;
	/* post: a second name for the same inode. */
	POST(child(get(m, w.dir), w.name) == s->ino && s->nlink >= 2);
	return 0;
}

int
fm_symlink(struct fm *m, const struct fm_cred *c, const char *target,
	   const char *linkpath)
{
	/* pre: ENOENT (empty @target), ENAMETOOLONG (@target of 4096 bytes
	 * or more, as Linux's getname(); cfs.h says "1 to CFS_PATH_MAX");
	 * create_at(@linkpath). */
	struct walk w;
	struct inode *i;
	if (!target || !*target)
		return -ENOENT;
	size_t len = strnlen(target, FM_PATH_MAX);
	if (len >= FM_PATH_MAX)
		return -ENAMETOOLONG;
	int rc = create_at(m, c, linkpath, 0, &w);
	if (rc)
		return rc;
	char *t = malloc(len + 1);
	if (!t)
		return -ENOMEM;
	memcpy(t, target, len + 1);
	if ((rc = create(m, c, &w, S_IFLNK | 0777, &i))) {
		free(t);
		return rc;
	}
	i->data = (uint8_t *)t;
	i->size = len;
	/* post: */
	POST(child(get(m, w.dir), w.name) == i->ino && i->nlink == 1);
	return 0;
}

ssize_t
fm_readlink(struct fm *m, const struct fm_cred *c, const char *path,
	    char *buf, size_t len)
{
	/* pre: EINVAL (@len 0); path errors (not followed); EINVAL (not a
	 * symlink). */
	struct inode *i;
	if (len == 0)
		return -EINVAL;
	int rc = lookup(m, c, path, 0, &i);
	if (rc)
		return rc;
	if (!S_ISLNK(i->mode))
		return -EINVAL;
	size_t n = i->size < len ? i->size : len;
	memcpy(buf, i->data, n);
	/* post: */
	POST(n >= 1 && memcmp(buf, i->data, n) == 0);
	return (ssize_t)n;
}

int
fm_chmod(struct fm *m, const struct fm_cred *c, const char *path,
	 uint32_t mode)
{
	/* pre: path errors (followed); EPERM (not the owner, not root). */
	struct inode *i;
	int rc = lookup(m, c, path, 1, &i);
	if (rc)
		return rc;
	if (c->uid != 0 && c->uid != i->uid)
		return -EPERM;
	mode &= 07777;
	/* Linux setattr_prepare(): a non-root caller outside the file's
	 * group cannot set S_ISGID, on any type of file. */
	if (c->uid != 0 && !in_group(c, i->gid))
		mode &= ~(uint32_t)S_ISGID;
	i->mode = (i->mode & S_IFMT) | mode;
	/* post: */
	POST((i->mode & 07777) == mode);
	return 0;
}

int
fm_chown(struct fm *m, const struct fm_cred *c, const char *path,
	 uint32_t uid, uint32_t gid)
{
	/* pre: path errors (followed); EPERM: a non-root caller must own the
	 * file, may set uid only to itself, and gid only to the current one
	 * or one of its groups; EPERM also if the call would clear S_ISUID or
	 * S_ISGID of a file the caller does not own (Linux: mode change). */
	struct inode *i;
	const uint32_t none = (uint32_t)-1;
	int rc = lookup(m, c, path, 1, &i);
	if (rc)
		return rc;
	int root = c->uid == 0, owner = c->uid == i->uid;
	if (!root && uid != none && (!owner || uid != i->uid))
		return -EPERM;
	if (!root && gid != none &&
	    (!owner || (gid != i->gid && !in_group(c, gid))))
		return -EPERM;
	/* A regular file loses S_ISUID, and S_ISGID if group-executable,
	 * even for root (Linux chown_common() / setattr_should_drop_sgid()).
	 * CFS: a non-root chown clears both. */
	uint32_t kill = 0;
	if (S_ISREG(i->mode))
		kill = root && !(i->mode & S_IXGRP) ? S_ISUID
						      : S_ISUID | S_ISGID;
	if (!root && !owner && (i->mode & kill))
		return -EPERM;
	if (uid != none)
		i->uid = uid;
	if (gid != none)
		i->gid = gid;
	i->mode &= ~kill;
	/* post: */
	POST(uid == none || i->uid == uid);
	POST(gid == none || i->gid == gid);
	POST(!(i->mode & kill));
	return 0;
}

int
fm_truncate(struct fm *m, const struct fm_cred *c, const char *path,
	    int64_t size)
{
	/* pre: EINVAL (@size < 0, checked first as Linux); path errors
	 * (followed); EISDIR; EINVAL (not regular); EACCES (no w); EFBIG. */
	struct inode *i;
	if (size < 0)
		return -EINVAL;
	int rc = lookup(m, c, path, 1, &i);
	if (rc)
		return rc;
	if (isdir(i))
		return -EISDIR;
	if (!S_ISREG(i->mode))
		return -EINVAL;
	if ((rc = may(c, i, W)))
		return rc;
	uint64_t old = i->size;
	if ((rc = set_size(i, (uint64_t)size)))
		return rc;
	kill_suid(c, i);
	/* post: the size, and zeros past the old end. */
	POST(i->size == (uint64_t)size);
	POST(old >= i->size || i->data[i->size - 1] == 0);
	return 0;
}

/* ---- files --------------------------------------------------------------- */

/*
 * cfs_open(): 1) EINVAL (bad flags: not exactly one access mode, or a flag
 * cfs.h does not list; CFS: Linux ignores unknown flags); walk errors;
 * 2) without O_CREAT: resolve (followed unless O_NOFOLLOW); with O_CREAT,
 * for each last component (Linux open_last_lookups()): EISDIR (trailing
 * '/'), ENAMETOOLONG, EACCES (missing and no w+x on the directory: else
 * created), a symlink is followed unless O_EXCL/O_NOFOLLOW (so a dangling
 * one creates its target, as Linux; ELOOP after 40);
 * 3) EEXIST (O_CREAT|O_EXCL, not created here, dangling symlinks too);
 * EISDIR (a directory, with O_CREAT or write access asked); EACCES (a
 * directory without r; else EISDIR, CFS: Linux opens it); ELOOP (a
 * symlink with O_NOFOLLOW); EACCES (r and/or w as the access mode asks,
 * EACCES (O_CREAT on someone else's symlink in a sticky world-writable
 * directory, Linux may_create_in_sticky(); fs.protected_regular=0 assumed
 * for regular files); ELOOP (a symlink with O_NOFOLLOW); EACCES (r and/or
 * w as the access mode asks, w also for O_TRUNC, not for a file created
 * here); O_TRUNC empties the file, even O_RDONLY (Linux; cfs.h: "O_TRUNC
 * with write access"), and clears setuid/setgid as truncate does.
 */
int64_t
fm_open(struct fm *m, const struct fm_cred *c, const char *path, int flags,
	uint32_t mode)
{
	const int known = O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND |
			  O_NOFOLLOW | O_SYNC | O_DSYNC | O_CLOEXEC |
			  O_LARGEFILE | O_NOATIME;
	int acc = flags & O_ACCMODE, created = 0, links = 0, rc;
	struct walk w;
	uint64_t ino = 0;
	struct inode *i, *d;
	if (acc == O_ACCMODE || (flags & ~known))
		return -EINVAL;
	if ((rc = parent_of(m, c, path, &links, &w)))
		return rc;
	if (!(flags & O_CREAT)) {
		rc = resolve_last(m, c, &w, !(flags & O_NOFOLLOW), &links, &ino);
		if (rc)
			return rc;
	} else {
		for (;;) {
			if (w.slash && w.type == T_NORM)
				return -EISDIR;
			if ((rc = lookup_last(m, &w)))
				return rc;
			if (!w.ino) {
				if ((rc = may(c, get(m, w.dir), W | X)))
					return rc;
				/* CFS: mode & 07777, no umask. */
				rc = create(m, c, &w, S_IFREG | (mode & 07777),
					    &i);
				if (rc)
					return rc;
				ino = i->ino;
				created = 1;
				break;
			}
			i = get(m, w.ino);
			ino = w.ino;
			if (!S_ISLNK(i->mode) || (flags & (O_EXCL | O_NOFOLLOW)))
				break;
			if (++links > FM_SYMLOOP_MAX)
				return -ELOOP;
			if ((rc = walk(m, c, w.dir, (const char *)i->data,
				       &links, &w)))
				return rc;
		}
	}
	i = get(m, ino);
	if ((flags & O_CREAT) && (flags & O_EXCL) && !created)
		return -EEXIST;
	unsigned want = (acc == O_WRONLY ? 0 : R) | (acc == O_RDONLY ? 0 : W) |
			(flags & O_TRUNC ? W : 0);
	if (isdir(i) && ((flags & O_CREAT) || (want & W) || may(c, i, R)))
		return (flags & O_CREAT) || (want & W) ? -EISDIR : -EACCES;
	if (isdir(i))
		return -EISDIR; /* CFS: Linux opens it */
	d = get(m, w.dir);
	if ((flags & O_CREAT) && !created && !S_ISREG(i->mode) &&
	    (d->mode & (S_ISVTX | 0002)) == (S_ISVTX | 0002) &&
	    i->uid != d->uid && i->uid != c->uid)
		return -EACCES; /* may_create_in_sticky(), even for root */
	if (S_ISLNK(i->mode))
		return -ELOOP;
	if (!created) {
		if ((rc = may(c, i, want)))
			return rc;
		if ((flags & O_TRUNC) && (rc = set_size(i, 0)))
			return rc;
		if (flags & O_TRUNC)
			kill_suid(c, i);
	}
	/* post: a regular file, empty if created or truncated. */
	POST(S_ISREG(i->mode) && i->nlink >= 1);
	POST(!(created || (flags & O_TRUNC)) || i->size == 0);
	return (int64_t)ino;
}

int
fm_pwrite(struct fm *m, uint64_t ino, uint64_t off, const void *buf,
	  size_t n)
{
	/* pre: EBADF (not a regular file of the model); EINVAL (an offset
	 * that is negative as an off_t); EFBIG (past 2^62). */
	struct inode *i = get(m, ino);
	int rc;
	if (!i || !S_ISREG(i->mode))
		return -EBADF;
	if (off > INT64_MAX)
		return -EINVAL;
	if (off > MAX_SIZE || n > MAX_SIZE - off)
		return -EFBIG;
	if (n == 0)
		return 0;
	uint64_t old = i->size;
	if (off + n > i->size && (rc = set_size(i, off + n)))
		return rc;
	memcpy(i->data + off, buf, n);
	/* post: the bytes are there; the size grew to cover them. */
	POST(i->size == (old > off + n ? old : off + n));
	POST(memcmp(i->data + off, buf, n) == 0);
	return (int)n;
}

ssize_t
fm_pread(struct fm *m, uint64_t ino, uint64_t off, void *buf, size_t n)
{
	/* pre: EBADF (not a regular file of the model); EINVAL (an offset
	 * that is negative as an off_t). */
	struct inode *i = get(m, ino);
	if (!i || !S_ISREG(i->mode))
		return -EBADF;
	if (off > INT64_MAX)
		return -EINVAL;
	if (off >= i->size)
		return 0;
	size_t k = i->size - off < n ? (size_t)(i->size - off) : n;
	memcpy(buf, i->data + off, k);
	/* post: */
	POST(k <= n && off + k <= i->size);
	return (ssize_t)k;
}

/* ---- extended attributes (Linux fs/xattr.c xattr_permission()) ----------- */

enum { NS_USER, NS_TRUSTED, NS_SECURITY, NS_SYSTEM, NS_OTHER };
static const char *const ns_prefix[] = {"user.", "trusted.", "security.",
					"system."};

static int
xattr_ns(const char *name)
{
	for (int k = 0; k < NS_OTHER; k++)
		if (strncmp(name, ns_prefix[k], strlen(ns_prefix[k])) == 0)
			return k;
	return NS_OTHER;
}

/* EINVAL (flags), ERANGE (empty or > 255 bytes), E2BIG (value size) are
 * checked before the path; then this: may @c read (@write 0) or write
 * attribute @name of @i?  user.*: the file's r/w permission, only on
 * regular files and directories, a sticky directory's only by its owner;
 * trusted.*: root (else EPERM to write, ENODATA to read); security.*:
 * anyone reads, root writes (EPERM); then EOPNOTSUPP for another
 * namespace (after the permission check, as Linux) and EINVAL for a
 * bare prefix. */
static int
xattr_may(const struct fm_cred *c, const struct inode *i, const char *name,
	  int write)
{
	int ns = xattr_ns(name), rc = 0;
	if (ns == NS_TRUSTED && c->uid != 0)
		return write ? -EPERM : -ENODATA;
	if (ns == NS_USER) {
		if (!S_ISREG(i->mode) && !isdir(i))
			return write ? -EPERM : -ENODATA;
		if (write && isdir(i) && (i->mode & S_ISVTX) && c->uid != 0 &&
		    c->uid != i->uid)
			return -EPERM;
	}
	if (ns == NS_USER || ns == NS_OTHER)
		rc = may(c, i, write ? W : R);
	if (rc)
		return rc;
	if (ns == NS_SECURITY && write && c->uid != 0)
		return -EPERM;
	if (ns == NS_SYSTEM || ns == NS_OTHER)
		return -EOPNOTSUPP;
	return name[strlen(ns_prefix[ns])] ? 0 : -EINVAL;
}

static long
xattr_find(const struct inode *i, const char *name)
{
	for (size_t k = 0; k < i->nxa; k++)
		if (strcmp(i->xa[k].name, name) == 0)
			return (long)k;
	return -1;
}

static int
xattr_name_ok(const char *name)
{
	size_t n = name ? strnlen(name, FM_NAME_MAX + 1) : 0;
	return n >= 1 && n <= FM_NAME_MAX ? 0 : -ERANGE;
}

int
fm_setxattr(struct fm *m, const struct fm_cred *c, const char *path,
	    const char *name, const void *value, size_t size, int flags)
{
	/* pre: EINVAL (flags), ERANGE (name), E2BIG (size); path errors
	 * (followed); xattr_may(); EEXIST (XATTR_CREATE, present); ENODATA
	 * (XATTR_REPLACE, absent).  ENOSPC is not modelled. */
	struct inode *i;
	int rc;
	if (flags & ~3)
		return -EINVAL;
	if ((rc = xattr_name_ok(name)))
		return rc;
	if (size > FM_XATTR_SIZE_MAX)
		return -E2BIG;
	if ((rc = lookup(m, c, path, 1, &i)) || (rc = xattr_may(c, i, name, 1)))
		return rc;
	long k = xattr_find(i, name);
	if ((flags & 1) && k >= 0)
		return -EEXIST;
	if ((flags & 2) && k < 0)
		return -ENODATA;
	uint8_t *v = malloc(size ? size : 1);
	if (!v)
		return -ENOMEM;
	if (size)
		memcpy(v, value, size);
	if (k < 0) {
		struct xattr *xa = realloc(i->xa, (i->nxa + 1) * sizeof(*xa));
		char *s = xa ? strdup(name) : NULL;
		if (xa)
			i->xa = xa;
		if (!s) {
			free(v);
			return -ENOMEM;
		}
		size_t j = 0;
		while (j < i->nxa && strcmp(xa[j].name, name) < 0)
			j++;
		memmove(&xa[j + 1], &xa[j], (i->nxa - j) * sizeof(*xa));
		xa[j] = (struct xattr){.name = s};
		i->nxa++;
		k = (long)j;
	}
	free(i->xa[k].val);
	i->xa[k].val = v;
	i->xa[k].len = size;
	/* post: */
	k = xattr_find(i, name);
	POST(k >= 0 && i->xa[k].len == size);
	POST(size == 0 || memcmp(i->xa[k].val, value, size) == 0);
	return 0;
}

ssize_t
fm_getxattr(struct fm *m, const struct fm_cred *c, const char *path,
	    const char *name, void *value, size_t size)
{
	/* pre: ERANGE (name); path errors (followed); xattr_may(); ENODATA
	 * (absent); ERANGE (@size not 0 and too small). */
	struct inode *i;
	int rc;
	if ((rc = xattr_name_ok(name)))
		return rc;
	if ((rc = lookup(m, c, path, 1, &i)) || (rc = xattr_may(c, i, name, 0)))
		return rc;
	long k = xattr_find(i, name);
	if (k < 0)
		return -ENODATA;
	const struct xattr *x = &i->xa[k];
	if (size == 0)
		return (ssize_t)x->len;
	if (size < x->len)
		return -ERANGE;
	if (x->len)
		memcpy(value, x->val, x->len);
	/* post: */
	POST(x->len <= FM_XATTR_SIZE_MAX);
	return (ssize_t)x->len;
}

ssize_t
fm_listxattr(struct fm *m, const struct fm_cred *c, const char *path,
	     char *list, size_t size)
{
	/* pre: path errors (followed); ERANGE (@size not 0 and too small).
	 * No permission is needed (Linux vfs_listxattr() checks none);
	 * trusted.* is listed for root only. */
	struct inode *i;
	size_t len = 0;
	int rc = lookup(m, c, path, 1, &i);
	if (rc)
		return rc;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < i->nxa; k++) {
			const char *n = i->xa[k].name;
			if (xattr_ns(n) == NS_TRUSTED && c->uid != 0)
				continue;
			size_t l = strlen(n) + 1;
			if (pass == 1)
				memcpy(list + len, n, l);
			len += l;
		}
		if (pass == 1 || size == 0)
			break;
		if (size < len)
			return -ERANGE;
		len = 0;
	}
	/* post: NUL-terminated names. */
	POST(size == 0 || len == 0 || list[len - 1] == '\0');
	return (ssize_t)len;
}

int
fm_removexattr(struct fm *m, const struct fm_cred *c, const char *path,
	       const char *name)
{
	/* pre: ERANGE (name); path errors (followed); xattr_may(); ENODATA. */
	struct inode *i;
	int rc;
	if ((rc = xattr_name_ok(name)))
		return rc;
	if ((rc = lookup(m, c, path, 1, &i)) || (rc = xattr_may(c, i, name, 1)))
		return rc;
	long k = xattr_find(i, name);
	if (k < 0)
		return -ENODATA;
	free(i->xa[k].name);
	free(i->xa[k].val);
	memmove(&i->xa[k], &i->xa[k + 1],
		(i->nxa - (size_t)k - 1) * sizeof(i->xa[0]));
	i->nxa--;
	/* post: */
	POST(xattr_find(i, name) < 0);
	return 0;
}

/* ---- listings ------------------------------------------------------------ */

int
fm_readdir(struct fm *m, const struct fm_cred *c, const char *path,
	   int (*cb)(void *arg, const char *name, const struct fm_attr *a),
	   void *arg)
{
	/* pre: path errors (followed); ENOTDIR; EACCES (no r). */
	struct inode *d;
	struct fm_attr a;
	int rc = lookup(m, c, path, 1, &d);
	if (rc)
		return rc;
	if (!isdir(d))
		return -ENOTDIR;
	if ((rc = may(c, d, R)))
		return rc;
	for (size_t k = 0; k < d->nents; k++) {
		/* post: sorted, each entry names an inode. */
		POST(k == 0 || strcmp(d->ents[k - 1].name, d->ents[k].name) < 0);
		POST(get(m, d->ents[k].ino) != NULL);
		attr_of(get(m, d->ents[k].ino), &a);
		if ((rc = cb(arg, d->ents[k].name, &a)))
			return rc;
	}
	return (int)d->nents;
}

/* Depth first from @d whose path is @path[0..len): each regular file
 * once (@seen by inode number). */
static int
walk_files(struct fm *m, const struct inode *d, char *path, size_t len,
	   uint8_t *seen,
	   int (*cb)(void *, const char *, const struct fm_attr *,
		     const uint8_t *),
	   void *arg)
{
	struct fm_attr a;
	int rc;
	for (size_t k = 0; k < d->nents; k++) {
		const struct inode *i = get(m, d->ents[k].ino);
		size_t l = strlen(d->ents[k].name);
		if (!i || len + 1 + l >= FM_PATH_MAX || seen[i->ino])
			continue;
		path[len] = '/';
		memcpy(path + len + 1, d->ents[k].name, l + 1);
		seen[i->ino] = 1;
		if (S_ISREG(i->mode)) {
			attr_of(i, &a);
			rc = cb(arg, path, &a, i->data);
		} else {
			rc = isdir(i) ? walk_files(m, i, path, len + 1 + l,
						   seen, cb, arg)
				      : 0;
		}
		if (rc)
			return rc;
	}
	return 0;
}

int
fm_walk_files(struct fm *m,
	      int (*cb)(void *arg, const char *path, const struct fm_attr *a,
			const uint8_t *data),
	      void *arg)
{
	char path[FM_PATH_MAX];
	uint8_t *seen = calloc(m->next, 1);
	if (!seen)
		return -ENOMEM;
	int rc = walk_files(m, get(m, ROOT_INO), path, 0, seen, cb, arg);
	free(seen);
	return rc;
}

/* ---- invariants ---------------------------------------------------------- */

#define CHECK(cond, ino)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			snprintf(m->err, sizeof(m->err),                    \
				 "invariant failed: %s (ino %llu) at "      \
				 "fsmodel.c:%d",                            \
				 #cond, (unsigned long long)(ino), __LINE__); \
			rc = FM_EMODEL;                                     \
			goto out;                                           \
		}                                                           \
	} while (0)

static int
name_ok(const char *n)
{
	size_t l = strlen(n);
	return l >= 1 && l <= FM_NAME_MAX && !strchr(n, '/') &&
	       strcmp(n, ".") != 0 && strcmp(n, "..") != 0;
}

int
fm_check(struct fm *m)
{
	/* refs[i]: entries naming i; subdirs[i]: its entries naming dirs;
	 * the directories are visited once each from "/", in a stack. */
	uint64_t n = m->next, top = 0;
	uint32_t *refs = calloc(n, sizeof(*refs));
	uint32_t *subdirs = calloc(n, sizeof(*subdirs));
	uint64_t *stack = calloc(n, sizeof(*stack));
	uint8_t *seen = calloc(n, 1);
	int rc = 0;
	if (!refs || !subdirs || !stack || !seen) {
		rc = -ENOMEM;
		goto out;
	}
	const struct inode *r = get(m, ROOT_INO);
	CHECK(r && isdir(r) && r->parent == ROOT_INO, ROOT_INO);
	stack[top++] = ROOT_INO;
	seen[ROOT_INO] = 1;
	while (top > 0) {
		const struct inode *d = get(m, stack[--top]);
		for (size_t k = 0; k < d->nents; k++) {
			const struct dent *e = &d->ents[k];
			const struct inode *i = get(m, e->ino);
			CHECK(name_ok(e->name), d->ino);
			CHECK(k == 0 || strcmp(d->ents[k - 1].name, e->name) < 0,
			      d->ino);
			CHECK(i != NULL, d->ino);
			refs[i->ino]++;
			if (!isdir(i))
				continue;
			subdirs[d->ino]++;
			CHECK(i->parent == d->ino, i->ino);
			CHECK(!seen[i->ino], i->ino); /* a second name or a cycle */
			seen[i->ino] = 1;
			stack[top++] = i->ino;
		}
	}
	for (uint64_t k = ROOT_INO; k < n; k++) {
		const struct inode *i = m->tab[k];
		if (!i)
			continue;
		CHECK(i->ino == k, k);
		CHECK(refs[k] > 0 || k == ROOT_INO, k); /* reachable */
		CHECK(S_ISREG(i->mode) || isdir(i) || S_ISLNK(i->mode), k);
		if (isdir(i)) {
			CHECK(refs[k] == (k == ROOT_INO ? 0u : 1u), k);
			CHECK(i->nlink == 2 + subdirs[k], k);
			CHECK(i->size == 0 && i->data == NULL, k);
		} else {
			CHECK(i->nlink == refs[k], k);
			CHECK(i->nents == 0, k);
			CHECK((i->size == 0) == (i->data == NULL), k);
		}
		if (S_ISLNK(i->mode))
			CHECK(i->size >= 1 && i->size < FM_PATH_MAX &&
			      strlen((const char *)i->data) == i->size, k);
		for (size_t j = 0; j < i->nxa; j++) {
			CHECK(xattr_ns(i->xa[j].name) < NS_SYSTEM, k);
			CHECK(i->xa[j].len <= FM_XATTR_SIZE_MAX, k);
			CHECK(j == 0 || strcmp(i->xa[j - 1].name,
					       i->xa[j].name) < 0, k);
		}
	}
out:
	free(refs);
	free(subdirs);
	free(stack);
	free(seen);
	return rc;
}

void
fm__corrupt_for_test(struct fm *m, int what)
{
	struct inode *r = get(m, ROOT_INO);
	struct inode *f = get(m, child(r, "f")), *d = get(m, child(r, "d"));
	struct inode *e = d ? get(m, child(d, "e")) : NULL;
	if (!f || !d || !e)
		return;
	switch (what) {
	case 0:
		f->nlink++;
		break;
	case 1:
		d->ents[dent_find(d, "e")].ino = m->next + 7;
		break;
	case 2:
		(void)dent_add(e, "up", d->ino);
		break;
	case 3:
		d->nlink = 2;
		break;
	case 4:
		free(f->data);
		f->data = NULL;
		f->size = 10;
		break;
	case 5:
		(void)dent_add(d, "..", f->ino);
		f->nlink++;
		break;
	case 6:
		e->parent = ROOT_INO;
		break;
	}
}
