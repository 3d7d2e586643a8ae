/* fusefs_dir.c - cfs-fuse's directory listings (a page of entries per open directory) and extended attributes (absent ones remembered under leases). */
#include "client/fusefs_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/clease.h"
#include "client/dcache.h"
#include "common/clock.h"
#include "common/error.h"

/* An open directory: the last page of entries, to serve the kernel's
 * small readdir buffers without asking again. */
struct dirh {
	pthread_mutex_t lock;
	struct wire_dirents *page;
	uint64_t from; /* the cookie the page was read after */
	int valid;
	uint64_t gen;	/* fusefs_gen() before the page was asked for */
};

/* ---- directories -------------------------------------------------------------------- */

void
fusefs_ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *d = calloc(1, sizeof(*d));

	(void)ino;
	if (d == NULL || (d->page = malloc(sizeof(*d->page))) == NULL) {
		free(d);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&d->lock, NULL);
	fi->fh = (uint64_t)(uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0) {
		pthread_mutex_destroy(&d->lock);
		free(d->page);
		free(d);
	}
}

void
fusefs_ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;

	(void)ino;
	pthread_mutex_destroy(&d->lock);
	free(d->page);
	free(d);
	fuse_reply_err(req, 0);
}

void
fusefs_ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		   struct fuse_file_info *fi)
{
	/* Namespace changes are durable once the server answered (Raft),
	 * but for creates answered ahead of it (client/acreate.h). */
	(void)ino;
	(void)datasync;
	(void)fi;
	fusefs_creates_wait(fuse_req_userdata(req));
	fuse_reply_err(req, 0);
}

/* Where in d->page the entries after cookie @off start; -1 if the page
 * does not hold them. */
static int
page_index(const struct dirh *d, uint64_t off)
{
	if (!d->valid)
		return -1;
	if (off == d->from)
		return 0;
	for (uint32_t i = 0; i < d->page->entries_count; i++)
		if (d->page->entries[i].cookie == off)
			return (int)i + 1;
	return -1;
}

/*
 * readdir and readdirplus: the offset is the CFS cookie of the last entry
 * the kernel has (0 = from the start, "." and ".." are cookies 1 and 2).
 * Entries come from the handle's page when it holds them, else a new page
 * is asked for; the reply holds as many as fit in @size.
 */
static void
do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	   struct fuse_file_info *fi, int plus)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	uint64_t cookie = (uint64_t)off;
	size_t used = 0;
	char *buf;
	struct op op;
	int rv = 0, full = 0;

	if ((buf = malloc(size ? size : 1)) == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fusefs_op_begin(&op, req, plus ? "readdirplus" : "readdir");
	pthread_mutex_lock(&d->lock);
	if (cookie == 0)
		d->valid = 0; /* opendir or rewinddir: a fresh listing */
	while (!full) {
		int i = page_index(d, cookie);
		if (i < 0 || (i == (int)d->page->entries_count &&
			      !d->page->eof && i > 0)) {
			/* Names only: the listing does not wait for the
			 * seal of a file another mount appends to in place
			 * (the kernel reads ahead with readdirplus for a
			 * plain ls).  Its size in the page may be short, but
			 * this mount holds no lease on it (the other's write
			 * lease excludes it): the kernel keeps its
			 * attributes for no time and asks getattr, which
			 * waits, at its next use. */
			struct wire_readdir rq = {.cred = op.cred, .ino = ino,
						  .cookie = cookie,
						  .max_entries =
							  WIRE_MAX_dirent,
						  .names_only = 1};
			d->valid = 0;
			uint64_t gen = fusefs_gen(op.fs, 0);
			rv = fusefs_call(&op, WIRE_T_readdir, &rq,
					 WIRE_T_dirents);
			if (rv != 0)
				break;
			memcpy(d->page, &op.c->rep->dirents, sizeof(*d->page));
			d->from = cookie;
			d->valid = 1;
			d->gen = gen;
			i = 0;
		}
		if (i >= (int)d->page->entries_count)
			break; /* the end of the directory */
		for (; i < (int)d->page->entries_count; i++) {
			const struct wire_dirent *de = &d->page->entries[i];
			size_t n;
			if (plus) {
				struct fuse_entry_param e;
				/* A file this mount appends to or has
				 * buffered writes of, or any file once the
				 * mount wrote out or sealed anything since the
				 * page was read (a page serves many calls), up
				 * to the attributes' making: the page's size
				 * may miss data the mount's buffers and table
				 * no longer have, and the kernel would keep it
				 * (a stat one append short).  No attributes,
				 * as for "." and "..": a lookup gets them,
				 * settled. */
				int reg = S_ISREG(de->attr.mode);
				int dot = strcmp(de->name, ".") == 0 ||
					  strcmp(de->name, "..") == 0;
				int busy = reg && fusefs_size(op.fs,
							      de->attr.ino,
							      0) > 0;
				if (!busy && !dot) {
					fusefs_entry_of(&op, &de->attr, &e, 0);
					busy = reg &&
					       fusefs_gen(op.fs, 0) != d->gen;
				}
				if (busy || dot) {
					/* no lookup reference for these */
					memset(&e, 0, sizeof(e));
					e.attr.st_ino = (ino_t)de->attr.ino;
					e.attr.st_mode = (mode_t)de->attr.mode;
				}
				n = fuse_add_direntry_plus(req, buf + used,
							   size - used,
							   de->name, &e,
							   (off_t)de->cookie);
			} else {
				struct stat st;
				memset(&st, 0, sizeof(st));
				st.st_ino = (ino_t)de->attr.ino;
				st.st_mode = (mode_t)de->attr.mode;
				n = fuse_add_direntry(req, buf + used,
						      size - used, de->name,
						      &st, (off_t)de->cookie);
			}
			if (n > size - used) {
				full = 1;
				break;
			}
			used += n;
			cookie = de->cookie;
		}
		if (!full && d->page->eof)
			break;
	}
	pthread_mutex_unlock(&d->lock);
	if (rv != 0 && used == 0)
		fusefs_reply_fail(&op, rv, "directory %llu from cookie %llu",
				  (unsigned long long)ino,
				  (unsigned long long)cookie);
	else
		fuse_reply_buf(req, buf, used);
	fusefs_op_end(&op);
	free(buf);
}

void
fusefs_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 0);
}

void
fusefs_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 1);
}

/* ---- extended attributes -------------------------------------------------------- */

static struct xneg *
xneg_slot(struct fusefs *fs, uint64_t ino, const char *name)
{
	uint64_t h = 14695981039346656037ull ^ ino; /* FNV-1a */

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return &fs->xneg[h % XNEG_SLOTS];
}

/* The remembered answer for an absent @name of @ino, or 0. */
static int
xneg_get(struct fusefs *fs, uint64_t ino, const char *name)
{
	struct xneg *x = xneg_slot(fs, ino, name);
	int code = 0;

	pthread_mutex_lock(&fs->cache_lock);
	if (x->ino == ino && x->until_ms > cfs_now_ms() &&
	    strcmp(x->name, name) == 0)
		code = x->code;
	pthread_mutex_unlock(&fs->cache_lock);
	return code;
}

/* Remember that @name of @ino is absent (@code), or forget it (0). */
static void
xneg_set(struct fusefs *fs, uint64_t ino, const char *name, int code)
{
	struct xneg *x = xneg_slot(fs, ino, name);

	int64_t ms = code != 0 && fs->leases != NULL
			     ? clease_valid(fs->leases, ino, CFS_LEASE_READ)
			     : 0;

	if (strlen(name) >= XNEG_NAME || (code != 0 && ms <= 0))
		return;
	pthread_mutex_lock(&fs->cache_lock);
	if (code != 0) {
		x->ino = ino;
		x->code = code;
		x->until_ms = cfs_now_ms() + ms;
		snprintf(x->name, sizeof(x->name), "%s", name);
	} else if (x->ino == ino && strcmp(x->name, name) == 0) {
		x->ino = 0;
	}
	pthread_mutex_unlock(&fs->cache_lock);
}

/* Forget every absent xattr remembered for @ino. */
void
fusefs_xneg_forget(struct fusefs *fs, uint64_t ino)
{
	pthread_mutex_lock(&fs->cache_lock);
	for (unsigned i = 0; i < XNEG_SLOTS; i++)
		if (fs->xneg[i].ino == ino)
			fs->xneg[i].ino = 0;
	pthread_mutex_unlock(&fs->cache_lock);
}

void
fusefs_ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		   const char *value, size_t size, int flags)
{
	struct wire_setxattr rq = {.ino = ino};
	struct op op;
	int rv;

	if (strlen(name) > CFS_XATTR_NAME_MAX) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	if (size > CFS_XATTR_VALUE_MAX) {
		fuse_reply_err(req, E2BIG);
		return;
	}
	fusefs_op_begin(&op, req, "setxattr");
	rq.cred = op.cred;
	snprintf(rq.name, sizeof(rq.name), "%s", name);
	rq.value = (const uint8_t *)value;
	rq.value_len = (uint32_t)size;
	rq.flags = (uint32_t)flags & (CFS_XATTR_CREATE | CFS_XATTR_REPLACE);
	xneg_set(op.fs, ino, name, 0);
	rv = fusefs_call(&op, WIRE_T_setxattr, &rq, WIRE_T_ok);
	dcache_changed(op.fs->names, ino); /* ctime */
	if (rv == 0)
		fuse_reply_err(req, 0);
	else
		fusefs_reply_fail(&op, rv, "'%s' of inode %llu", name,
				  (unsigned long long)ino);
	fusefs_op_end(&op);
}

/* The getxattr/listxattr answer: the length when @size is 0, ERANGE when
 * the value does not fit, else the value. */
static void
reply_xattr_blob(struct op *op, const uint8_t *v, uint32_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(op->req, len);
	else if (len > size)
		fuse_reply_err(op->req, ERANGE);
	else
		fuse_reply_buf(op->req, (const char *)v, len);
}

void
fusefs_ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		   size_t size)
{
	struct wire_getxattr rq = {.ino = ino};
	struct op op;
	int rv;

	if (strlen(name) > CFS_XATTR_NAME_MAX) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	fusefs_op_begin(&op, req, "getxattr");
	if ((rv = xneg_get(op.fs, ino, name)) != 0) {
		fuse_reply_err(req, cfs_errno(rv));
		fusefs_op_end(&op);
		return;
	}
	rq.cred = op.cred;
	snprintf(rq.name, sizeof(rq.name), "%s", name);
	rv = fusefs_call(&op, WIRE_T_getxattr, &rq, WIRE_T_xattr_value);
	if (rv == CFS_ENODATA || rv == CFS_ENOTSUP)
		xneg_set(op.fs, ino, name, rv);
	if (rv == 0)
		reply_xattr_blob(&op, op.c->rep->xattr_value.value,
				 op.c->rep->xattr_value.value_len, size);
	else
		fusefs_reply_fail(&op, rv, "'%s' of inode %llu", name,
				  (unsigned long long)ino);
	fusefs_op_end(&op);
}

void
fusefs_ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct wire_listxattr rq = {.ino = ino};
	struct op op;
	int rv;

	fusefs_op_begin(&op, req, "listxattr");
	rq.cred = op.cred;
	rv = fusefs_call(&op, WIRE_T_listxattr, &rq, WIRE_T_xattr_names);
	if (rv == 0)
		reply_xattr_blob(&op, op.c->rep->xattr_names.names,
				 op.c->rep->xattr_names.names_len, size);
	else
		fusefs_reply_fail(&op, rv, "inode %llu",
				  (unsigned long long)ino);
	fusefs_op_end(&op);
}

void
fusefs_ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct wire_removexattr rq = {.ino = ino};
	struct op op;
	int rv;

	if (strlen(name) > CFS_XATTR_NAME_MAX) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	fusefs_op_begin(&op, req, "removexattr");
	rq.cred = op.cred;
	snprintf(rq.name, sizeof(rq.name), "%s", name);
	rv = fusefs_call(&op, WIRE_T_removexattr, &rq, WIRE_T_ok);
	dcache_changed(op.fs->names, ino); /* ctime */
	if (rv == 0)
		xneg_set(op.fs, ino, name, CFS_ENODATA);
	if (rv == 0)
		fuse_reply_err(req, 0);
	else
		fusefs_reply_fail(&op, rv, "'%s' of inode %llu", name,
				  (unsigned long long)ino);
	fusefs_op_end(&op);
}
