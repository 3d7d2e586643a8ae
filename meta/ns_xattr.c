/* ns_xattr.c - extended attributes of the namespace: Linux's namespaces and permission order, one inode's at most 1 MiB. */
#include "meta/ns_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"

/* ---- extended attributes ------------------------------------------------
 * Namespaces as on Linux: user.* follows the file's permissions (read to
 * get, write to set; regular files and directories only; on a sticky
 * directory only its owner sets them); trusted.* and security.* need root
 * to change, and trusted.* to read (others see ENODATA); system.* (ACLs)
 * and other namespaces are not supported (ENOTSUP, after the permission
 * check, as Linux orders them). */

static int
xattr_check(const struct inode *n, const struct wire_cred *c,
	    const char *name, int write, char *errmsg)
{
	/* Linux's xattr_permission(), in its order: the trusted and
	 * security rules, the user.* rules, then the file's permission;
	 * an unknown namespace is refused only after that. */
	if (name[0] == '\0')
		return cfs_fail(errmsg, CFS_EINVAL, "empty attribute name");
	if (strncmp(name, "trusted.", 8) == 0 ||
	    (write && strncmp(name, "security.", 9) == 0)) {
		if (c->uid != 0)
			return cfs_fail(errmsg, write ? CFS_EPERM : CFS_ENODATA,
					"'%s' needs root", name);
		return 0;
	}
	if (strncmp(name, "security.", 9) == 0)
		return 0;
	if (strncmp(name, "user.", 5) == 0) {
		if (!S_ISREG(n->mode) && !S_ISDIR(n->mode))
			return cfs_fail(errmsg, write ? CFS_EPERM : CFS_ENODATA,
					"user.* on a special file");
		if (write && S_ISDIR(n->mode) && (n->mode & S_ISVTX) &&
		    c->uid != 0 && c->uid != n->uid)
			return cfs_fail(errmsg, CFS_EPERM,
					"user.* of a sticky directory: owner "
					"only");
	}
	int rv = ns_need(n, c, write ? MAY_W : MAY_R, "xattr", errmsg);
	if (rv != 0 || strncmp(name, "user.", 5) == 0)
		return rv;
	return cfs_fail(errmsg, CFS_ENOTSUP, "xattr namespace of '%s'", name);
}

static int
scratch_fit(struct ns *ns, size_t n, char *errmsg)
{
	if (n <= ns->scratch_cap)
		return 0;
	uint8_t *p = realloc(ns->scratch, n);
	if (p == NULL)
		return cfs_fail(errmsg, CFS_INTERNAL, "out of memory");
	ns->scratch = p;
	ns->scratch_cap = n;
	return 0;
}

int
ns_op_setxattr(struct ns *ns, const struct ns_env *env,
	    const struct wire_setxattr *rq, uint16_t *rt, char *errmsg)
{
	struct inode *n = &ns->a;
	int64_t total = 0, present;
	int rv = ns_inode_get(ns, rq->ino, n, errmsg);

	if (rv != 0 ||
	    (rv = xattr_check(n, &rq->cred, rq->name, 1, errmsg)) != 0)
		return rv;
	sqlite3_stmt *s = ns_q(ns, Q_XATTR_GET);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)n->ino);
	sqlite3_bind_text(s, 2, rq->name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	present = rc == SQLITE_ROW;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ns_db_error(ns, errmsg, Q_XATTR_GET);
	if (rq->flags & CFS_XATTR_CREATE && present)
		return cfs_fail(errmsg, CFS_EEXIST, "xattr '%s'", rq->name);
	if (rq->flags & CFS_XATTR_REPLACE && !present)
		return cfs_fail(errmsg, CFS_ENODATA, "xattr '%s'", rq->name);
	s = ns_q(ns, Q_XATTR_TOTAL);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)n->ino);
	sqlite3_bind_text(s, 2, rq->name, -1, SQLITE_STATIC);
	if (ns_one_int(ns, Q_XATTR_TOTAL, &total) < 0)
		return ns_db_error(ns, errmsg, Q_XATTR_TOTAL);
	if ((uint64_t)total + strlen(rq->name) + 1 + rq->value_len >
	    XATTR_TOTAL_MAX)
		return cfs_fail(errmsg, CFS_ENOSPC,
				"xattrs of inode %llu would pass %u bytes",
				(unsigned long long)n->ino, XATTR_TOTAL_MAX);
	s = ns_q(ns, Q_XATTR_PUT);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)n->ino);
	sqlite3_bind_text(s, 2, rq->name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, rq->value_len ? (const void *)rq->value : "",
			  (int)rq->value_len, SQLITE_STATIC);
	if ((rv = ns_run(ns, Q_XATTR_PUT, errmsg)) != 0)
		return rv;
	n->ctime = env->now_ns;
	if ((rv = ns_inode_put(ns, n, errmsg)) != 0)
		return rv;
	*rt = WIRE_T_ok;
	return 0;
}

int
ns_op_getxattr(struct ns *ns, const struct wire_getxattr *rq, uint16_t *rt,
	    union wire_body *out, char *errmsg)
{
	struct inode *n = &ns->a;
	int rv = ns_inode_get(ns, rq->ino, n, errmsg);

	if (rv != 0 ||
	    (rv = xattr_check(n, &rq->cred, rq->name, 0, errmsg)) != 0)
		return rv;
	sqlite3_stmt *s = ns_q(ns, Q_XATTR_GET);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)n->ino);
	sqlite3_bind_text(s, 2, rq->name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			return ns_db_error(ns, errmsg, Q_XATTR_GET);
		return cfs_fail(errmsg, CFS_ENODATA, "xattr '%s'", rq->name);
	}
	size_t len = (size_t)sqlite3_column_bytes(s, 0);
	if ((rv = scratch_fit(ns, len + 1, errmsg)) != 0) {
		sqlite3_reset(s);
		return rv;
	}
	if (len)
		memcpy(ns->scratch, sqlite3_column_blob(s, 0), len);
	sqlite3_reset(s);
	out->xattr_value.value = ns->scratch;
	out->xattr_value.value_len = (uint32_t)len;
	*rt = WIRE_T_xattr_value;
	return 0;
}

int
ns_op_listxattr(struct ns *ns, const struct wire_listxattr *rq, uint16_t *rt,
	     union wire_body *out, char *errmsg)
{
	struct inode *n = &ns->a;
	size_t len = 0;
	int rc, rv = ns_inode_get(ns, rq->ino, n, errmsg);

	if (rv != 0)
		return rv;
	sqlite3_stmt *s = ns_q(ns, Q_XATTR_LIST);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)n->ino);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		/* list only what the caller could read */
		if (strncmp(name, "trusted.", 8) == 0 && rq->cred.uid != 0)
			continue;
		size_t k = strlen(name) + 1;
		if (len + k > CFS_XATTR_VALUE_MAX) {
			sqlite3_reset(s);
			return cfs_fail(errmsg, CFS_E2BIG,
					"xattr names of inode %llu",
					(unsigned long long)n->ino);
		}
		if ((rv = scratch_fit(ns, len + k, errmsg)) != 0) {
			sqlite3_reset(s);
			return rv;
		}
		memcpy(ns->scratch + len, name, k);
		len += k;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return ns_db_error(ns, errmsg, Q_XATTR_LIST);
	out->xattr_names.names = len ? ns->scratch : (const uint8_t *)"";
	out->xattr_names.names_len = (uint32_t)len;
	*rt = WIRE_T_xattr_names;
	return 0;
}

int
ns_op_removexattr(struct ns *ns, const struct ns_env *env,
	       const struct wire_removexattr *rq, uint16_t *rt, char *errmsg)
{
	struct inode *n = &ns->a;
	int rv = ns_inode_get(ns, rq->ino, n, errmsg);

	if (rv != 0 ||
	    (rv = xattr_check(n, &rq->cred, rq->name, 1, errmsg)) != 0)
		return rv;
	sqlite3_stmt *s = ns_q(ns, Q_XATTR_DEL);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)n->ino);
	sqlite3_bind_text(s, 2, rq->name, -1, SQLITE_STATIC);
	if ((rv = ns_run(ns, Q_XATTR_DEL, errmsg)) != 0)
		return rv;
	if (sqlite3_changes(ns->db) == 0)
		return cfs_fail(errmsg, CFS_ENODATA, "xattr '%s'", rq->name);
	n->ctime = env->now_ns;
	if ((rv = ns_inode_put(ns, n, errmsg)) != 0)
		return rv;
	*rt = WIRE_T_ok;
	return 0;
}
