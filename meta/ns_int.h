/* ns_int.h - inside the namespace: what meta/ns.c shares with meta/ns_xattr.c; nothing else includes it. */
#ifndef CFS_META_NS_INT_H
#define CFS_META_NS_INT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"
#include "meta/ns.h"

#define ROOT_INO 1
#define COOKIE_FIRST 3 /* 1 and 2 are "." and ".." */
#define NLINK_MAX 65000
#define XATTR_TOTAL_MAX (1u << 20) /* all of one inode's xattrs */

/* The prepared statements (their SQL: ns_sql in meta/ns.c). */
enum {
	Q_INODE_GET,
	Q_INODE_PUT,
	Q_INODE_DEL,
	Q_DIR_TOUCH,
	Q_INO_NEXT,
	Q_INO_RESERVE,
	Q_DENTRY_GET,
	Q_DENTRY_PUT,
	Q_DENTRY_DEL,
	Q_DENTRY_SET_INO,
	Q_COOKIE_NEXT,
	Q_DIR_ANY,
	Q_READDIR,
	Q_XATTR_GET,
	Q_XATTR_PUT,
	Q_XATTR_DEL,
	Q_XATTR_LIST,
	Q_XATTR_DEL_ALL,
	Q_XATTR_TOTAL,
	Q_ORPHAN_PUT,
	Q_CONFIG_GET,
	Q_CONFIG_PUT,
	Q_COUNT_INODES,
	Q__COUNT
};

struct inode {
	uint64_t ino, generation;
	uint32_t mode, nlink, uid, gid;
	uint64_t size, rdev;
	int64_t atime, mtime, ctime;
	uint32_t goal;
	uint64_t parent;
	char target[CFS_PATH_MAX + 1];
};

struct ns {
	sqlite3 *db;
	sqlite3_stmt *q[Q__COUNT];
	int formatted; /* cached: only ever goes 0 -> 1 inside ns_format */
	uint8_t *scratch; /* reply blobs (xattr values and name lists) */
	size_t scratch_cap;
	struct inode a, b, c, d; /* operands, kept off the stack */
	struct inode walk;       /* is_ancestor's own: never an operand */
	ns_shrink_check_fn shrink_check; /* ns_set_shrink_check */
	void *shrink_arg;
};

/* Permission bits for ns_need (as in the inode's mode, shifted). */
#define MAY_R 4
#define MAY_W 2
#define MAY_X 1

/* Helpers of meta/ns.c: errors as CFS_* codes with errmsg saying why. */
int ns_db_error(struct ns *ns, char *errmsg, int which);
sqlite3_stmt *ns_q(struct ns *ns, int which); /* reset, bindings cleared */
int ns_run(struct ns *ns, int which, char *errmsg); /* step to DONE */
int ns_one_int(struct ns *ns, int which, int64_t *v);
int ns_inode_get(struct ns *ns, uint64_t ino, struct inode *n, char *errmsg);
int ns_inode_put(struct ns *ns, const struct inode *n, char *errmsg);
int ns_need(const struct inode *n, const struct wire_cred *c, int mask,
	    const char *what, char *errmsg);

/* The xattr operations (meta/ns_xattr.c), as ns_exec dispatches them. */
int ns_op_setxattr(struct ns *ns, const struct ns_env *env,
		   const struct wire_setxattr *rq, uint16_t *rt, char *errmsg);
int ns_op_getxattr(struct ns *ns, const struct wire_getxattr *rq,
		   uint16_t *rt, union wire_body *out, char *errmsg);
int ns_op_listxattr(struct ns *ns, const struct wire_listxattr *rq,
		    uint16_t *rt, union wire_body *out, char *errmsg);
int ns_op_removexattr(struct ns *ns, const struct ns_env *env,
		      const struct wire_removexattr *rq, uint16_t *rt,
		      char *errmsg);

#endif /* CFS_META_NS_INT_H */
