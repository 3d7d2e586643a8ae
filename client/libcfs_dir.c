/* libcfs_dir.c - libcfs's extended attributes, goals and directory listings (cfs_opendir, cfs_readdir, cfs_closedir). */
#include "client/libcfs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "common/error.h"

struct cfs_dir {
	struct cfs *fs;
	uint64_t ino;
	struct wire_dirents *page;
	uint32_t next; /* index in page of the next entry to return */
};

/* ---- extended attributes ---------------------------------------------------------- */

static int
xattr_name_ok(const char *name, const char *what, const char *path)
{
	if (name == NULL)
		return lc_fail_now(CFS_EINVAL, "%s %s: NULL name", what, path);
	if (strlen(name) > CFS_XATTR_NAME_MAX)
		return lc_fail_now(CFS_ERANGE, "%s %s: name of %zu bytes", what,
				   path, strlen(name));
	return 0;
}

int
cfs_setxattr(struct cfs *fs, const char *path, const char *name,
	     const void *value, size_t size, int flags)
{
	struct wire_setxattr rq = {0};
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, "setxattr");
	if ((rv = xattr_name_ok(name, "setxattr", path)) != 0)
		return rv;
	if (size > CFS_XATTR_VALUE_MAX)
		return lc_fail_now(CFS_E2BIG, "setxattr %s '%s': %zu bytes",
				   path, name, size);
	if (value == NULL && size > 0)
		return lc_fail_now(CFS_EINVAL, "setxattr %s '%s': NULL value",
				   path, name);
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return lc_fail_now(CFS_EINVAL, "setxattr %s '%s': flags 0x%x",
				   path, name, (unsigned)flags);
	lc_op_begin(&op, fs);
	if ((rv = lc_walk(&op, path, WALK_FOLLOW, &w)) == 0) {
		rq.cred = fs->cred;
		rq.ino = w.attr.ino;
		snprintf(rq.name, sizeof(rq.name), "%s", name);
		rq.value = size ? value : (const uint8_t *)"";
		rq.value_len = (uint32_t)size;
		rq.flags = (uint32_t)flags;
		rv = lc_call(&op, WIRE_T_setxattr, &rq, WIRE_T_ok);
	}
	return lc_op_end(&op, rv, "setxattr %s '%s'", path, name);
}

/* getxattr (@name) and listxattr (@name NULL) of @path into @buf. */
static ssize_t
xattr_get(struct cfs *fs, const char *path, const char *name, void *buf,
	  size_t size)
{
	const char *what = name ? "getxattr" : "listxattr";
	struct walk w;
	struct op op;
	uint32_t len = 0;
	int rv;

	CHECK(fs, path, what);
	if (name != NULL && (rv = xattr_name_ok(name, what, path)) != 0)
		return rv;
	if (buf == NULL && size > 0)
		return lc_fail_now(CFS_EINVAL, "%s %s: NULL buffer", what,
				   path);
	lc_op_begin(&op, fs);
	if ((rv = lc_walk(&op, path, WALK_FOLLOW, &w)) == 0) {
		const uint8_t *v;
		if (name != NULL) {
			struct wire_getxattr rq = {.cred = fs->cred,
						   .ino = w.attr.ino};
			snprintf(rq.name, sizeof(rq.name), "%s", name);
			rv = lc_call(&op, WIRE_T_getxattr, &rq,
				     WIRE_T_xattr_value);
			v = op.c->rep->xattr_value.value;
			len = op.c->rep->xattr_value.value_len;
		} else {
			struct wire_listxattr rq = {.cred = fs->cred,
						    .ino = w.attr.ino};
			rv = lc_call(&op, WIRE_T_listxattr, &rq,
				     WIRE_T_xattr_names);
			v = op.c->rep->xattr_names.names;
			len = op.c->rep->xattr_names.names_len;
		}
		if (rv == 0 && size > 0 && len > size)
			rv = cfs_fail(op.errmsg, CFS_ERANGE,
				      "%u bytes for a buffer of %zu", len,
				      size);
		else if (rv == 0 && size > 0 && len > 0)
			memcpy(buf, v, len);
	}
	if (name != NULL)
		rv = lc_op_end(&op, rv, "%s %s '%s'", what, path, name);
	else
		rv = lc_op_end(&op, rv, "%s %s", what, path);
	return rv != 0 ? rv : (ssize_t)len;
}

ssize_t
cfs_getxattr(struct cfs *fs, const char *path, const char *name,
	     void *value, size_t size)
{
	if (name == NULL)
		return lc_fail_now(CFS_EINVAL, "getxattr %s: NULL name", path);
	return xattr_get(fs, path, name, value, size);
}

ssize_t
cfs_listxattr(struct cfs *fs, const char *path, char *list, size_t size)
{
	return xattr_get(fs, path, NULL, list, size);
}

int
cfs_removexattr(struct cfs *fs, const char *path, const char *name)
{
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, "removexattr");
	if ((rv = xattr_name_ok(name, "removexattr", path)) != 0)
		return rv;
	lc_op_begin(&op, fs);
	if ((rv = lc_walk(&op, path, WALK_FOLLOW, &w)) == 0) {
		struct wire_removexattr rq = {.cred = fs->cred,
					      .ino = w.attr.ino};
		snprintf(rq.name, sizeof(rq.name), "%s", name);
		rv = lc_call(&op, WIRE_T_removexattr, &rq, WIRE_T_ok);
	}
	return lc_op_end(&op, rv, "removexattr %s '%s'", path, name);
}

/* ---- goal ------------------------------------------------------------------------ */

int
cfs_getgoal(struct cfs *fs, const char *path, unsigned *goal)
{
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, "getgoal");
	if (goal == NULL)
		return lc_fail_now(CFS_EINVAL, "getgoal %s: NULL goal", path);
	lc_op_begin(&op, fs);
	if ((rv = lc_walk(&op, path, WALK_FOLLOW, &w)) == 0)
		*goal = w.attr.goal;
	return lc_op_end(&op, rv, "getgoal %s", path);
}

int
cfs_setgoal(struct cfs *fs, const char *path, unsigned goal)
{
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, "setgoal");
	lc_op_begin(&op, fs);
	if ((rv = lc_walk(&op, path, WALK_FOLLOW, &w)) == 0) {
		struct wire_setgoal rq = {.cred = fs->cred, .ino = w.attr.ino,
					  .goal = goal};
		rv = lc_call(&op, WIRE_T_setgoal, &rq, WIRE_T_entry);
	}
	return lc_op_end(&op, rv, "setgoal %s to %u", path, goal);
}

/* ---- directory listings --------------------------------------------------------- */

/* The page of entries after @cookie into d->page. */
static int
dir_page(struct op *op, struct cfs_dir *d, uint64_t cookie)
{
	struct wire_readdir rq = {.cred = op->fs->cred, .ino = d->ino,
				  .cookie = cookie,
				  .max_entries = WIRE_MAX_dirent};
	int rv = lc_call(op, WIRE_T_readdir, &rq, WIRE_T_dirents);

	if (rv == 0) {
		memcpy(d->page, &op->c->rep->dirents, sizeof(*d->page));
		d->next = 0;
	}
	return rv;
}

int
cfs_opendir(struct cfs *fs, const char *path, struct cfs_dir **out)
{
	struct cfs_dir *d;
	struct walk w;
	struct op op;
	int rv;

	CHECK(fs, path, "opendir");
	if (out == NULL)
		return lc_fail_now(CFS_EINVAL, "opendir %s: NULL result", path);
	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->page = malloc(sizeof(*d->page))) == NULL) {
		free(d);
		return lc_fail_now(CFS_ENOMEM, "opendir %s", path);
	}
	d->fs = fs;
	lc_op_begin(&op, fs);
	rv = lc_walk(&op, path, WALK_FOLLOW, &w);
	if (rv == 0 && !S_ISDIR(w.attr.mode))
		rv = lc_plain(&op, CFS_ENOTDIR);
	if (rv == 0) {
		d->ino = w.attr.ino;
		rv = dir_page(&op, d, 0);
	}
	if ((rv = lc_op_end(&op, rv, "opendir %s", path)) != 0) {
		cfs_closedir(&d);
		return rv;
	}
	*out = d;
	return 0;
}

int
cfs_readdir(struct cfs_dir *d, struct cfs_dirent *e)
{
	struct wire_dirents *pg;

	if (d == NULL || e == NULL)
		return lc_fail_now(CFS_EINVAL, "readdir: NULL argument");
	pg = d->page;
	if (d->next >= pg->entries_count) {
		struct op op;
		int rv;
		if (pg->eof || pg->entries_count == 0)
			return 0;
		uint64_t cookie = pg->entries[pg->entries_count - 1].cookie;
		lc_op_begin(&op, d->fs);
		/* on failure the page stays: a retry asks again */
		rv = dir_page(&op, d, cookie);
		if ((rv = lc_op_end(&op, rv,
				    "readdir of inode %llu after "
				    "cookie %llu",
				    (unsigned long long)d->ino,
				    (unsigned long long)cookie)) != 0)
			return rv;
		if (pg->entries_count == 0)
			return 0;
	}
	const struct wire_dirent *de = &pg->entries[d->next++];
	snprintf(e->name, sizeof(e->name), "%s", de->name);
	e->ino = de->attr.ino;
	lc_stat_of(d->fs, &de->attr, &e->st);
	return 1;
}

void
cfs_closedir(struct cfs_dir **dp)
{
	struct cfs_dir *d = dp ? *dp : NULL;

	if (d == NULL)
		return;
	free(d->page);
	free(d);
	*dp = NULL;
}
