/* fusefs_ns.c - cfs-fuse's namespace operations: lookup, getattr, setattr, readlink, mknod, mkdir, unlink, rmdir, symlink, rename, link, statfs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "client/acreate.h"
#include "client/clease.h"
#include "client/dcache.h"
#include "client/fusefs_int.h"
#include "client/ofile.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/proto.h"

/* what a file unlinked while open is renamed to (hide_if_open) until its
 * last close removes it */
#define HIDDEN_PREFIX ".cfs-fuse-hidden-"

/* ---- names ---------------------------------------------------------------- */

int
fusefs_name_ok(fuse_req_t req, const char *name)
{
	if (strlen(name) <= CFS_NAME_MAX)
		return 1;
	fuse_reply_err(req, ENAMETOOLONG);
	return 0;
}

/*
 * A directory's attributes are checked at every step of a path walk
 * (default_permissions): a read lease lets the kernel keep them.  Asked
 * for once when a directory is looked up without one (a mkdir gets it
 * with the mknod); not waited for, nor asked again soon after a recall
 * (another mount is changing the directory).  The attributes of the grant
 * replace those of the lookup: they are as new, and covered by it.
 */
static int
dir_lease(struct op *op, struct wire_attr *a)
{
	struct fusefs *fs = op->fs;
	char errmsg[CFS_ERRMSG_SIZE];
	struct wire_attr fresh_attr;
	int fresh = 0;

	if (fs->leases == NULL || !S_ISDIR(a->mode) ||
	    clease_valid(fs->leases, a->ino, CFS_LEASE_READ) > 0 ||
	    clease_recalled_lately(fs->leases, a->ino))
		return 0;
	if (clease_get(fs->leases, op->c->mc, a->ino, CFS_LEASE_READ, 0,
		       &fresh_attr, &fresh, errmsg) == 0 &&
	    fresh) {
		*a = fresh_attr;
		return 1;
	}
	return 0;
}

void
fusefs_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct wire_lookup rq = {.parent = parent};
	struct op op;
	int rv;

	if (!fusefs_name_ok(req, name))
		return;
	fusefs_op_begin(&op, req, "lookup");
	struct fusefs *fs = op.fs;
	struct wire_attr a;
	/* a name the kernel forgot (memory pressure, drop_caches) while the
	 * mount kept its lease on the inode: answered here */
	uint64_t gen = fusefs_gen(fs, 0); /* (the inode: unknown) */
	/* created ahead, not committed yet: as answered (attributes
	 * uncached: the kernel asks getattr, which waits for the commit) */
	if (fs->ac != NULL && acreate_pending(fs->ac, parent, name, &a)) {
		struct fuse_entry_param e;
		fusefs_entry_of(&op, &a, &e, 0);
		fuse_reply_entry(req, &e);
		fusefs_op_end(&op);
		return;
	}
	if (fs->leases != NULL && dcache_get(fs->names, parent, name, &a) &&
	    clease_valid(fs->leases, a.ino, CFS_LEASE_READ) > 0 &&
	    fusefs_size_settled(fs, &a, 0, gen)) {
		fusefs_reply_entry(&op, &a);
		fusefs_op_end(&op);
		return;
	}
	/* absent from a directory the mount made and holds a lease on:
	 * nobody else can have added it (docs/leases.md) */
	int64_t dir_ms;
	if (fs->leases != NULL && dcache_absent(fs->names, parent, name) &&
	    (dir_ms = clease_valid(fs->leases, parent, CFS_LEASE_READ)) > 0) {
		struct fuse_entry_param e;
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fusefs_names_cacheable(fs) ? (double)dir_ms / 1000.0
						      : 0;
		fuse_reply_entry(req, &e);
		fusefs_op_end(&op);
		return;
	}
	uint64_t stamp = dcache_stamp(fs->names);
	rq.cred = op.cred;
	snprintf(rq.name, sizeof(rq.name), "%s", name);
	/* The name is not pending (above), and creates only add names: the
	 * answer need not wait for the creates answered ahead (the negative
	 * lookup before each create, in a directory too large for the name
	 * cache to hold whole). */
	int idle = fs->ac == NULL || acreate_idle(fs->ac);
	fusefs_ungate(1);
	rv = fusefs_call_attr(&op, WIRE_T_lookup, &rq, &a);
	fusefs_ungate(0);
	if (rv == 0 && S_ISDIR(a.mode) &&
	    (!idle ||
	     (fs->ac != NULL && acreate_pending_in(fs->ac, a.ino)))) {
		/* a directory that may have had creates pending in it when
		 * the leader answered (committed since, or not yet): its
		 * times may have moved; asked again after them */
		stamp = dcache_stamp(fs->names);
		rv = fusefs_call_attr(&op, WIRE_T_lookup, &rq, &a);
	}
	if (rv == 0) {
		/* A lease granted now (dir_lease) made what was asked before
		 * it suspect (lease_granted): the stamp from before the lookup
		 * refuses it, the next lookup keeps it.  (A stamp taken after
		 * the grant would keep a name another mount may have moved
		 * before the grant, or attributes this mount changed since.) */
		(void)dir_lease(&op, &a);
		dcache_put(fs->names, stamp, parent, name, &a);
		dcache_attr_put(fs->names, stamp, &a);
		fusefs_reply_entry(&op, &a);
	}
	else
		fusefs_reply_fail(&op, rv, "'%s' in directory %llu", name,
				  (unsigned long long)parent);
	fusefs_op_end(&op);
}

void
fusefs_ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct wire_getattr rq = {.ino = ino};
	struct op op;
	int rv;

	(void)fi;
	fusefs_op_begin(&op, req, "getattr");
	struct fusefs *fs = op.fs;
	struct wire_attr a;
	/* e.g. a directory after this mount's create in it: the kernel
	 * forgets its attributes after every change it makes */
	uint64_t gen = fusefs_gen(fs, ino);
	/* created ahead, not committed yet: only this mount knows the
	 * inode, and all it changes waits for the commit (the kernel asks
	 * right after the create: its attributes are not cached) */
	if (fs->ac != NULL && acreate_pending_ino(fs->ac, ino, &a)) {
		fusefs_reply_attr(&op, &a);
		fusefs_op_end(&op);
		return;
	}
	if (fs->leases != NULL && dcache_attr_get(fs->names, ino, &a) &&
	    clease_valid(fs->leases, ino, CFS_LEASE_READ) > 0 &&
	    fusefs_size_settled(fs, &a, ino, gen)) {
		fusefs_reply_attr(&op, &a);
		fusefs_op_end(&op);
		return;
	}
	uint64_t stamp = dcache_stamp(fs->names);
	rq.cred = op.cred;
	rv = fusefs_call_attr(&op, WIRE_T_getattr, &rq, &a);
	if (rv == 0) {
		(void)dir_lease(&op, &a); /* stamp: as in fs_lookup */
		dcache_attr_put(fs->names, stamp, &a);
		fusefs_reply_attr(&op, &a);
	} else
		fusefs_reply_fail(&op, rv, "inode %llu",
				  (unsigned long long)ino);
	fusefs_op_end(&op);
}

/*
 * setattr: mode, owner, size and times.  Cases:
 * 1) a size change first writes out every dirty range of the inode, so
 *    no buffered write lands past the new end afterwards;
 * 2) "now" times are the leader's clock (CFS_SETATTR_*_NOW), explicit
 *    ones are sent as given;
 * 3) a ctime-only change (FUSE_SET_ATTR_CTIME) still reaches the server,
 *    which moves ctime on every setattr.
 */
void
fusefs_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
	   struct fuse_file_info *fi)
{
	struct wire_setattr rq = {.ino = ino};
	struct op op;
	int rv;

	(void)fi;
	fusefs_op_begin(&op, req, "setattr");
	rq.cred = op.cred;
	if (to_set & FUSE_SET_ATTR_MODE) {
		rq.valid |= CFS_SETATTR_MODE;
		rq.mode = (uint32_t)attr->st_mode & 07777;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		rq.valid |= CFS_SETATTR_UID;
		rq.uid = (uint32_t)attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		rq.valid |= CFS_SETATTR_GID;
		rq.gid = (uint32_t)attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		fusefs_write_lease_if_dirty(&op, ino);
		ofile_flush_ino(op.fs->files, ino, NULL, op.c->fio);
		rq.valid |= CFS_SETATTR_SIZE;
		rq.size = (uint64_t)attr->st_size;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		rq.valid |= CFS_SETATTR_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		rq.valid |= CFS_SETATTR_ATIME;
		rq.atime_ns = (int64_t)attr->st_atim.tv_sec * 1000000000 +
			      attr->st_atim.tv_nsec;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		rq.valid |= CFS_SETATTR_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		rq.valid |= CFS_SETATTR_MTIME;
		rq.mtime_ns = (int64_t)attr->st_mtim.tv_sec * 1000000000 +
			      attr->st_mtim.tv_nsec;
	}
	uint64_t gen = 0;
	struct wire_attr a;
	rv = fusefs_setattr_call(&op, &rq, &gen);
	if (rv == 0)
		a = op.c->rep->entry.attr;
	if (rq.valid & CFS_SETATTR_SIZE)
		fusefs_data_changed(op.fs, ino);
	else
		dcache_changed(op.fs->names, ino);
	/* a seal of this mount's since the call (a recall's, another
	 * thread's write's): the reply's size may miss appends that the
	 * table no longer has either */
	if (rv == 0 && !fusefs_size_settled(op.fs, &a, ino, gen)) {
		struct wire_getattr gq = {.cred = op.cred, .ino = ino};
		struct wire_attr ga;
		/* (failing, the setattr's own answer: it succeeded) */
		if (fusefs_call_attr(&op, WIRE_T_getattr, &gq, &ga) == 0)
			a = ga;
	}
	if (rv == 0)
		fusefs_reply_attr(&op, &a);
	else
		fusefs_reply_fail(&op, rv, "inode %llu (valid 0x%x)",
				  (unsigned long long)ino, rq.valid);
	fusefs_op_end(&op);
}

int
fusefs_setattr_call(struct op *op, const struct wire_setattr *rq,
		    uint64_t *gen)
{
	int size = (rq->valid & CFS_SETATTR_SIZE) != 0;
	int rv;

	if (size) /* a truncation may cut a version open for patching */
		fio_seal_ino(op->c->fio, rq->ino, NULL);
	if (gen != NULL)
		*gen = fusefs_gen(op->fs, rq->ino);
	rv = fusefs_call(op, WIRE_T_setattr, rq, WIRE_T_entry);
	if (rv == CFS_EBUSY && size) {
		/* another thread's write opened a fragment for patching in
		 * place since the seal above: seal it too, and again */
		fio_seal_ino(op->c->fio, rq->ino, NULL);
		if (gen != NULL)
			*gen = fusefs_gen(op->fs, rq->ino);
		rv = fusefs_call(op, WIRE_T_setattr, rq, WIRE_T_entry);
	}
	if (rv == 0 && size)
		fio_seal_ino(op->c->fio, rq->ino, NULL); /* what it cut away */
	return rv;
}

void
fusefs_ll_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct wire_readlink rq = {.ino = ino};
	struct op op;
	int rv;

	fusefs_op_begin(&op, req, "readlink");
	rq.cred = op.cred;
	rv = fusefs_call(&op, WIRE_T_readlink, &rq, WIRE_T_linktarget);
	if (rv == 0)
		fuse_reply_readlink(req, op.c->rep->linktarget.target);
	else
		fusefs_reply_fail(&op, rv, "inode %llu",
				  (unsigned long long)ino);
	fusefs_op_end(&op);
}

/* mknod with @flags (CFS_MKNOD_EXCL); on success the new entry's attributes
 * are copied to *a. */
int
fusefs_mknod(struct op *op, fuse_ino_t parent, const char *name, uint32_t mode,
	     uint64_t rdev, uint32_t flags, struct wire_attr *a)
{
	struct wire_mknod rq = {.cred = op->cred, .parent = parent,
				.mode = mode, .rdev = rdev, .flags = flags};
	int rv;

	snprintf(rq.name, sizeof(rq.name), "%s", name);
	if ((S_ISREG(mode) || S_ISDIR(mode)) && op->fs->leases != NULL)
		rq.flags |= CFS_MKNOD_LEASE;
	/* a directory of its own: creates in it are answered ahead */
	if (S_ISDIR(mode) && op->fs->ac != NULL)
		rq.flags |= CFS_MKNOD_DIRWRITE;
	struct wire_attr pa;
	uint64_t since = dcache_stamp(op->fs->names);
	uint64_t mark = op->fs->leases ? clease_mark(op->fs->leases) : 0;
	int pa_known = dcache_attr_get(op->fs->names, parent, &pa);
	rv = fusefs_call(op, WIRE_T_mknod, &rq, WIRE_T_entry);
	if (rv == 0 && pa_known && (rq.flags & CFS_MKNOD_EXCL)) {
		/* made (not found: without EXCL an existing file answers and
		 * the parent stays as it was): the parent's times become the
		 * new inode's ctime, a new directory adds a link to it
		 * (docs/wire-format.md, mknod) */
		pa.mtime_ns = pa.ctime_ns = op->c->rep->entry.attr.ctime_ns;
		if (S_ISDIR(op->c->rep->entry.attr.mode))
			pa.nlink++;
		dcache_changed_to(op->fs->names, since, &pa);
	} else {
		dcache_changed(op->fs->names, parent); /* mtime, nlink */
	}
	if (rv == 0) {
		*a = op->c->rep->entry.attr;
		if (op->c->rep->entry.lease != 0) {
			clease_granted(op->fs->leases, op->c->mc, a->ino,
				       op->c->rep->entry.lease,
				       op->c->rep->entry.lease_epoch, mark);
			/* A new inode's attributes came with the grant: as
			 * new as it, and the kernel does not know the inode
			 * yet, so nothing of this mount changed it since.  An
			 * existing file (no EXCL) may have been changed by
			 * another request meanwhile: the stamp from before. */
			uint64_t at = (flags & CFS_MKNOD_EXCL)
					      ? dcache_stamp(op->fs->names)
					      : since;
			dcache_put(op->fs->names, at, parent, name, a);
			dcache_attr_put(op->fs->names, at, a);
			/* new, so empty, and leased: every name it will have
			 * is one this mount adds or is told of by a recall */
			if (S_ISDIR(a->mode) && (flags & CFS_MKNOD_EXCL))
				dcache_dir_complete(op->fs->names, a->ino);
		} else {
			dcache_dir_incomplete(op->fs->names, parent);
		}
	} else if (!fusefs_ordinary(rv)) { /* made, or may have been */
		dcache_dir_incomplete(op->fs->names, parent);
	}
	return rv;
}

void
fusefs_ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	 dev_t rdev)
{
	struct wire_attr a;
	struct op op;
	int rv;

	if (!fusefs_name_ok(req, name))
		return;
	fusefs_op_begin(&op, req, "mknod");
	rv = fusefs_mknod(&op, parent, name, (uint32_t)mode, (uint64_t)rdev,
			  CFS_MKNOD_EXCL, &a);
	if (rv == 0)
		fusefs_reply_entry(&op, &a);
	else
		fusefs_reply_fail(&op, rv, "'%s' in directory %llu (mode 0%o)",
				  name, (unsigned long long)parent,
				  (unsigned)mode);
	fusefs_op_end(&op);
}

void
fusefs_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct wire_attr a;
	struct op op;
	int rv;

	if (!fusefs_name_ok(req, name))
		return;
	fusefs_op_begin(&op, req, "mkdir");
	rv = fusefs_mknod(&op, parent, name, S_IFDIR | ((uint32_t)mode & 07777),
			  0, CFS_MKNOD_EXCL, &a);
	if (rv == 0)
		fusefs_reply_entry(&op, &a);
	else
		fusefs_reply_fail(&op, rv, "'%s' in directory %llu", name,
				  (unsigned long long)parent);
	fusefs_op_end(&op);
}

/* unlink @name in @parent; the parent's cached attributes go (its times
 * change).  The caller forgets the name itself (dcache_remove) if it may
 * be cached: hidden names never are. */
int
fusefs_unlink_call(struct op *op, uint64_t parent, const char *name,
		   const struct wire_cred *cred)
{
	struct wire_unlink rq = {.cred = *cred, .parent = parent};

	snprintf(rq.name, sizeof(rq.name), "%s", name);
	int rv = fusefs_call(op, WIRE_T_unlink, &rq, WIRE_T_ok);
	dcache_changed(op->fs->names, parent);
	return rv;
}

/*
 * unlink of a file this client still has open, as its last link: the
 * metadata server would delete the inode and the open handles would fail.
 * Rename it to a hidden name instead and remove that at the last release
 * (what NFS clients do).  Returns 1 if it did, 0 to unlink as usual.
 */
static int
hide_if_open(struct op *op, uint64_t parent, const char *name)
{
	struct fusefs *fs = op->fs;
	struct wire_lookup lq = {.cred = op->cred, .parent = parent};
	struct wire_rename rq = {.cred = op->cred, .parent = parent,
				 .newparent = parent,
				 .flags = CFS_RENAME_NOREPLACE};
	struct ofile_hidden hid = {.parent = parent, .cred = op->cred};
	struct wire_attr a;

	if (!ofile_any_open(fs->files))
		return 0;
	snprintf(lq.name, sizeof(lq.name), "%s", name);
	if (fusefs_call(op, WIRE_T_lookup, &lq, WIRE_T_entry) != 0)
		return 0; /* the unlink will say why */
	a = op->c->rep->entry.attr;
	if (!S_ISREG(a.mode) || a.nlink != 1)
		return 0;
	if (!ofile_hide_name(fs->files, a.ino, HIDDEN_PREFIX, hid.name))
		return 0;
	snprintf(rq.name, sizeof(rq.name), "%s", name);
	snprintf(rq.newname, sizeof(rq.newname), "%s", hid.name);
	int rv = fusefs_call(op, WIRE_T_rename, &rq, WIRE_T_ok);
	dcache_remove(fs->names, parent, name);
	dcache_changed(fs->names, a.ino);
	dcache_changed(fs->names, parent);
	dcache_dir_incomplete(fs->names, parent); /* the hidden name */
	if (rv != 0)
		return 0;
	if (!ofile_hide(fs->files, a.ino, &hid) &&
	    fusefs_unlink_call(op, parent, hid.name, &op->cred) != 0)
		LOG_WARN("removing '%s' in directory %llu: %s", hid.name,
			 (unsigned long long)parent, op->errmsg);
	return 1;
}

static void
remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name, int dir)
{
	struct op op;
	int rv = 0;

	if (!fusefs_name_ok(req, name))
		return;
	fusefs_op_begin(&op, req, dir ? "rmdir" : "unlink");
	/* the parent's attributes before, to work out the new ones from the
	 * reply (as fusefs_mknod does): the kernel asks for them again
	 * before the next path walk through the parent */
	struct wire_attr pa;
	uint64_t since = dcache_stamp(op.fs->names);
	int pa_known = dcache_attr_get(op.fs->names, parent, &pa);
	uint64_t when = 0;
	if (dir) {
		struct wire_rmdir rq = {.cred = op.cred, .parent = parent};
		snprintf(rq.name, sizeof(rq.name), "%s", name);
		rv = fusefs_call(&op, WIRE_T_rmdir, &rq, WIRE_T_ok);
		if (rv == 0)
			when = op.c->rep->ok.time_ns;
	} else if (!hide_if_open(&op, parent, name)) {
		struct wire_unlink rq = {.cred = op.cred, .parent = parent};
		snprintf(rq.name, sizeof(rq.name), "%s", name);
		rv = fusefs_call(&op, WIRE_T_unlink, &rq, WIRE_T_ok);
		if (rv == 0)
			when = op.c->rep->ok.time_ns;
	}
	if (rv == 0 || !fusefs_ordinary(rv)) /* done, or may have been */
		dcache_remove(op.fs->names, parent, name);
	if (rv == 0 && pa_known && when != 0) {
		/* its mtime and ctime are the change's time, an rmdir takes
		 * a link (docs/wire-format.md, ok); kept only if nothing
		 * else changed the parent meanwhile */
		pa.mtime_ns = pa.ctime_ns = (int64_t)when;
		if (dir)
			pa.nlink--;
		dcache_changed_to(op.fs->names, since, &pa);
	} else if (rv == 0 || !fusefs_ordinary(rv)) {
		dcache_changed(op.fs->names, parent); /* times, links */
	}
	if (rv != 0 && !fusefs_ordinary(rv)) /* the name may be there still */
		dcache_dir_incomplete(op.fs->names, parent);
	if (rv == 0)
		fuse_reply_err(req, 0);
	else
		fusefs_reply_fail(&op, rv, "'%s' in directory %llu", name,
				  (unsigned long long)parent);
	fusefs_op_end(&op);
}

void
fusefs_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, 0);
}

void
fusefs_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, 1);
}

void
fusefs_ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
	   const char *name)
{
	struct wire_symlink rq = {.parent = parent};
	struct op op;
	int rv;

	if (!fusefs_name_ok(req, name))
		return;
	if (strlen(link) > CFS_PATH_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	fusefs_op_begin(&op, req, "symlink");
	rq.cred = op.cred;
	snprintf(rq.name, sizeof(rq.name), "%s", name);
	snprintf(rq.target, sizeof(rq.target), "%s", link);
	rv = fusefs_call(&op, WIRE_T_symlink, &rq, WIRE_T_entry);
	dcache_changed(op.fs->names, parent);
	dcache_dir_incomplete(op.fs->names, parent); /* a name not put */
	if (rv == 0)
		fusefs_reply_entry(&op, &op.c->rep->entry.attr);
	else
		fusefs_reply_fail(&op, rv, "'%s' in directory %llu", name,
				  (unsigned long long)parent);
	fusefs_op_end(&op);
}

void
fusefs_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	  fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct wire_rename rq = {.parent = parent, .newparent = newparent};
	struct op op;
	int rv;

	if (!fusefs_name_ok(req, name) || !fusefs_name_ok(req, newname))
		return;
	/* RENAME_WHITEOUT (overlayfs) has no CFS meaning */
	if (flags & ~(unsigned)(CFS_RENAME_NOREPLACE | CFS_RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fusefs_op_begin(&op, req, "rename");
	rq.cred = op.cred;
	rq.flags = flags;
	snprintf(rq.name, sizeof(rq.name), "%s", name);
	snprintf(rq.newname, sizeof(rq.newname), "%s", newname);
	rv = fusefs_call(&op, WIRE_T_rename, &rq, WIRE_T_ok);
	if (rv == 0 || !fusefs_ordinary(rv)) { /* done, or may have been */
		dcache_remove(op.fs->names, parent, name); /* and its ctime */
		dcache_remove(op.fs->names, newparent, newname);
		dcache_changed(op.fs->names, parent);
		dcache_changed(op.fs->names, newparent);
		dcache_dir_incomplete(op.fs->names, newparent);
		/* exchanged, or not done: the old name may be there */
		if ((flags & CFS_RENAME_EXCHANGE) || rv != 0)
			dcache_dir_incomplete(op.fs->names, parent);
	}
	if (rv == 0)
		fuse_reply_err(req, 0);
	else
		fusefs_reply_fail(&op, rv,
				  "'%s' in directory %llu to '%s' in %llu",
				  name, (unsigned long long)parent, newname,
				  (unsigned long long)newparent);
	fusefs_op_end(&op);
}

void
fusefs_ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	const char *newname)
{
	struct wire_link rq = {.ino = ino, .newparent = newparent};
	struct op op;
	int rv;

	if (!fusefs_name_ok(req, newname))
		return;
	fusefs_op_begin(&op, req, "link");
	rq.cred = op.cred;
	snprintf(rq.newname, sizeof(rq.newname), "%s", newname);
	rv = fusefs_call(&op, WIRE_T_link, &rq, WIRE_T_entry);
	dcache_changed(op.fs->names, ino); /* nlink */
	dcache_changed(op.fs->names, newparent);
	dcache_dir_incomplete(op.fs->names, newparent); /* a name not put */
	if (rv == 0)
		fusefs_reply_entry(&op, &op.c->rep->entry.attr);
	else
		fusefs_reply_fail(&op, rv,
				  "inode %llu as '%s' in directory %llu",
				  (unsigned long long)ino, newname,
				  (unsigned long long)newparent);
	fusefs_op_end(&op);
}

void
fusefs_ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct wire_statfs rq;
	struct statvfs sv;
	struct op op;
	int rv;

	(void)ino;
	memset(&rq, 0, sizeof(rq));
	fusefs_op_begin(&op, req, "statfs");
	rv = fusefs_call(&op, WIRE_T_statfs, &rq, WIRE_T_statfs_reply);
	if (rv == 0) {
		const struct wire_statfs_reply *r = &op.c->rep->statfs_reply;
		memset(&sv, 0, sizeof(sv));
		sv.f_bsize = r->bsize ? r->bsize : 4096;
		sv.f_frsize = sv.f_bsize;
		sv.f_blocks = (fsblkcnt_t)r->blocks;
		sv.f_bfree = (fsblkcnt_t)r->bfree;
		sv.f_bavail = (fsblkcnt_t)r->bavail;
		sv.f_files = (fsfilcnt_t)r->files;
		sv.f_ffree = (fsfilcnt_t)r->ffree;
		sv.f_favail = (fsfilcnt_t)r->ffree;
		sv.f_namemax = r->namemax ? r->namemax : CFS_NAME_MAX;
		fuse_reply_statfs(req, &sv);
	} else {
		fusefs_reply_fail(&op, rv, "%s", "of the filesystem");
	}
	fusefs_op_end(&op);
}
