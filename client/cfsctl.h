/* cfsctl.h - what the parts of cfsctl share: path resolution, administrative calls, usage errors. */
#ifndef CFS_CLIENT_CFSCTL_H
#define CFS_CLIENT_CFSCTL_H

#include <stdint.h>

#include "client/metaclient.h"

#define CFSCTL_ROOT_INO 1

/* Print "cfsctl: <message>" and the --help hint; exit 2. */
void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* Split an absolute CFS @path into its parent's inode and last name
 * (@name: CFS_NAME_MAX + 1 bytes). */
int resolve_parent(struct mc *mc, const char *path, uint64_t *parent,
		   char *name, char *errmsg);
/* The attributes of the inode at @path. */
int resolve(struct mc *mc, const char *path, struct wire_attr *attr,
	    char *errmsg);

/* One request without a session (client id 0) to @servers; with @keep the
 * mc stays open in *keep (blob fields of @reply borrow from it). */
int admin_call(const char *servers, int timeout_ms, uint16_t type,
	       const void *req, uint16_t *rtype, union wire_body *reply,
	       char *errmsg);
int admin_call_keep(const char *servers, int timeout_ms, uint16_t type,
		    const void *req, uint16_t *rtype, union wire_body *reply,
		    struct mc **keep, char *errmsg);

/* "4M", "512k", "1G" or bytes. */
int parse_size(const char *s, uint64_t *out);

/* ---- client/cfsctl_data.c ---- */

/* The data section of `status` (asked from the leader at @leader);
 * returns 1 if any fragment is missing or the listing failed. */
int status_data(const char *leader, int timeout_ms, char *errmsg);
/* `node list|drain|undrain|remove` */
int cmd_node(const char *servers, int timeout_ms, int argc, char **argv,
	     char *errmsg);
/* `put`, `get` and `frags` (where each fragment's replicas live) */
int cmd_put(struct mc *mc, int argc, char **argv, char *errmsg);
int cmd_get(struct mc *mc, int argc, char **argv, char *errmsg);
int cmd_frags(struct mc *mc, int argc, char **argv, char *errmsg);
int cmd_goal(struct mc *mc, int argc, char **argv, char *errmsg);

/* ---- client/cfsctl_dev.c ---- */

/* `dev up|down|status`: a whole cluster on this machine (@argv[0] is the
 * subcommand). */
int cmd_dev(int argc, char **argv, char *errmsg);

#endif /* CFS_CLIENT_CFSCTL_H */
