/* cfsctl.h - what the parts of cfsctl share: path resolution, administrative calls, usage errors. */
#ifndef CFS_CLIENT_CFSCTL_H
#define CFS_CLIENT_CFSCTL_H

#include <stdint.h>

#include "client/metaclient.h"

#define CFSCTL_ROOT_INO 1

struct json;

/* --json: the commands that support it write one JSON document on stdout
 * instead of text.  Set once by main() before any command runs; a
 * process-wide output mode of a one-shot command-line program, like
 * stdout itself, so it is not threaded through every call. */
extern int cfsctl_json;

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

/* A file's or directory's attributes as members of the open JSON object. */
void json_attr(struct json *j, const struct wire_attr *a);

/* ---- client/cfsctl_help.c ---- */

/* The whole manual (cfsctl --help) on stdout. */
void help_all(void);
/* `cfsctl COMMAND --help`: 0 after printing COMMAND's section, -1 if
 * there is no such command. */
int help_command(const char *cmd);

/* ---- client/cfsctl_leases.c ---- */

/* `leases`: every lease the cluster holds (text or --json). */
int cmd_leases(const char *servers, int timeout_ms, int argc, char **argv,
	       char *errmsg);

/* ---- client/cfsctl_data.c ---- */

/* The data section of `status` (asked from the leader at @leader);
 * returns 1 if any fragment is missing or the listing failed. */
int status_data(const char *leader, int timeout_ms, struct json *j,
		char *errmsg);
/* "alive", "full", "DEAD", "removed", "draining" */
const char *node_state_name(unsigned state, unsigned draining);
/* `node list|drain|undrain|remove` */
int cmd_node(const char *servers, int timeout_ms, int argc, char **argv,
	     char *errmsg);
/* `put`, `get` and `frags` (where each fragment's replicas live) */
int cmd_put(struct mc *mc, int argc, char **argv, char *errmsg);
int cmd_get(struct mc *mc, int argc, char **argv, char *errmsg);
int cmd_frags(struct mc *mc, int argc, char **argv, char *errmsg);
int cmd_goal(struct mc *mc, int argc, char **argv, char *errmsg);

/* ---- client/cfsctl_fsck.c ---- */

/* The data nodes as the leader knows them, through @mc: *out is a new
 * union wire_body holding a node_list_reply; the caller frees it. */
int nodes_fetch(struct mc *mc, union wire_body **out, char *errmsg);
/* Node @id in @nodes (from nodes_fetch; borrowed), or NULL. */
const struct wire_nodeinfo *nodes_find(const union wire_body *nodes,
				       uint64_t id);

/* One fragment's replicas against its goal.  The fragment map lists the
 * readable replicas (ok, on an alive or full node); those on draining
 * nodes are read but do not count toward the goal, as the leader's
 * repair counts them (meta/dmap.c dmap_holders()). */
struct frag_health {
	uint32_t live;     /* readable replicas */
	uint32_t counting; /* ... not on a draining node */
	int under;         /* counting < goal, and not missing */
	int missing;       /* no readable replica at all */
};
void frag_health(const union wire_body *nodes, const struct wire_fraginfo *fi,
		 struct frag_health *h);

/* Call @fn for every stored fragment of file @ino in index order (holes
 * have none), fetching the map a page at a time into @buf (caller memory;
 * the map and fragment passed to @fn borrow from it).  Stops at the first
 * non-zero return of @fn and returns it. */
int frags_each(struct mc *mc, uint64_t ino, union wire_body *buf,
	       int (*fn)(void *arg, const struct wire_frag_map *m,
			 const struct wire_fraginfo *fi),
	       void *arg, char *errmsg);
/* One fragment as a JSON object (an element of the open array). */
void json_fragment(struct json *j, const union wire_body *nodes,
		   const struct wire_frag_map *m,
		   const struct wire_fraginfo *fi);

/* stat's fragment section for regular file @a: each fragment, its
 * replicas with node address and state, and under-goal marks; as text on
 * stdout, or with @j as a "fragments" array member of the open object. */
int stat_fragments(struct mc *mc, const struct wire_attr *a, struct json *j,
		   char *errmsg);

/* Call @visit for @top (at CFS @path) and, if it is a directory, for every
 * entry below it, depth first, a directory before its contents; stops at
 * the first non-zero return (of @visit or of a readdir). */
int tree_walk(struct mc *mc, const char *path, const struct wire_attr *top,
	      int (*visit)(void *arg, const char *path,
			   const struct wire_attr *a, char *errmsg),
	      void *arg, char *errmsg);

/* `fsck [PATH]`: exit status 0 clean, 1 damaged, 2 could not check. */
int cmd_fsck(struct mc *mc, int argc, char **argv, char *errmsg);
/* `goal set -r`: set @goal on @top and every directory and regular file
 * below it, with progress on a terminal and a count at the end. */
int goal_set_tree(struct mc *mc, uint32_t goal, const char *path,
		  const struct wire_attr *top, char *errmsg);

/* ---- client/cfsctl_dev.c ---- */

/* `dev up|down|status`: a whole cluster on this machine (@argv[0] is the
 * subcommand). */
int cmd_dev(int argc, char **argv, char *errmsg);

#endif /* CFS_CLIENT_CFSCTL_H */
