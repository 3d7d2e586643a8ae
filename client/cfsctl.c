/* cfsctl.c - the operator's and user's command line: cluster setup and namespace commands. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/cfsctl.h"
#include "client/cfsctl_json.h"
#include "client/cfsctl_mount.h"
#include "client/metaclient.h"
#include "common/error.h"
#include "common/log.h"

int cfsctl_json;

#define DEFAULT_CLUSTER "127.0.0.1:7000"

/* How this run waits for a cluster that does not answer: set once by
 * main(), process-wide like cfsctl_json. */
static struct {
	int quiet;             /* -q: no notice while waiting */
	int noticed;           /* the one notice of the run was printed */
	const char *defaulted; /* DEFAULT_CLUSTER when no cluster was named,
				  else NULL */
	int unreached;         /* a call to the default got no answer */
} waiting;

/* mc_options.on_wait: one line on stderr per run, however many calls
 * wait, so the user knows cfsctl is not hung and what it waits for. */
static void
wait_notice(void *arg, const char *what, int left_ms)
{
	(void)arg;
	if (waiting.noticed)
		return;
	waiting.noticed = 1;
	fprintf(stderr, "cfsctl: %s%s; retrying for %d s more (--timeout), "
		"Ctrl-C to stop\n",
		waiting.defaulted ? "no cluster named, trying the default: "
				  : "",
		what, (left_ms + 999) / 1000);
}

/* The waiting notice for @o, unless -q. */
static void
wait_options(struct mc_options *o)
{
	if (!waiting.quiet)
		o->on_wait = wait_notice;
}

/* Note a call to @servers that found no server or no leader, for the
 * hint main() prints when nobody named the cluster. */
static void
wait_outcome(const char *servers, int rv)
{
	if ((rv == CFS_ETIMEDOUT || rv == CFS_NOLEADER) &&
	    waiting.defaulted != NULL && servers != NULL &&
	    strcmp(servers, waiting.defaulted) == 0)
		waiting.unreached = 1;
}

void
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cfsctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'cfsctl --help'.\n");
	exit(2);
}

/* Split @path into its parent's inode and final name, resolving every
 * component but the last.  "/" has no parent: CFS_EINVAL. */
int
resolve_parent(struct mc *mc, const char *path, uint64_t *parent, char *name,
	       char *errmsg)
{
	char buf[CFS_PATH_MAX + 1];
	char *save = NULL, *comp, *next;
	uint64_t ino = CFSCTL_ROOT_INO;

	if (path[0] != '/')
		return cfs_fail(errmsg, CFS_EINVAL,
				"%s: paths inside CFS start with '/'", path);
	snprintf(buf, sizeof(buf), "%s", path);
	comp = strtok_r(buf, "/", &save);
	if (comp == NULL)
		return cfs_fail(errmsg, CFS_EINVAL, "%s: has no parent", path);
	while ((next = strtok_r(NULL, "/", &save)) != NULL) {
		struct wire_attr a;
		int rv = mc_lookup(mc, ino, comp, &a, errmsg);

		if (rv != 0) {
			cfs_errmsg_prefix(errmsg, "%s", path);
			return rv;
		}
		ino = a.ino;
		comp = next;
	}
	if (strlen(comp) > CFS_NAME_MAX)
		return cfs_fail(errmsg, CFS_ENAMETOOLONG, "%s", path);
	*parent = ino;
	snprintf(name, CFS_NAME_MAX + 1, "%s", comp);
	return 0;
}

int
resolve(struct mc *mc, const char *path, struct wire_attr *attr, char *errmsg)
{
	char name[CFS_NAME_MAX + 1];
	uint64_t parent;
	int rv;

	if (path[strspn(path, "/")] == '\0' && path[0] == '/')
		rv = mc_getattr(mc, CFSCTL_ROOT_INO, attr, errmsg);
	else {
		rv = resolve_parent(mc, path, &parent, name, errmsg);
		if (rv == 0)
			rv = mc_lookup(mc, parent, name, attr, errmsg);
	}
	if (rv != 0 && strncmp(errmsg, path, strlen(path)) != 0)
		cfs_errmsg_prefix(errmsg, "%s", path);
	return rv;
}

static char
type_char(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return 'd';
	case S_IFLNK: return 'l';
	case S_IFREG: return '-';
	case S_IFCHR: return 'c';
	case S_IFBLK: return 'b';
	case S_IFIFO: return 'p';
	case S_IFSOCK: return 's';
	default: return '?';
	}
}

static const char *
type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symlink";
	case S_IFREG: return "file";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	default: return "unknown";
	}
}

void
json_attr(struct json *j, const struct wire_attr *a)
{
	char perm[8];

	snprintf(perm, sizeof(perm), "%04o", a->mode & 07777);
	json_u64(j, "ino", a->ino);
	json_u64(j, "generation", a->generation);
	json_str(j, "type", type_name(a->mode));
	json_str(j, "mode", perm);
	json_u64(j, "nlink", a->nlink);
	json_u64(j, "uid", a->uid);
	json_u64(j, "gid", a->gid);
	json_u64(j, "size", a->size);
	json_i64(j, "mtime_ns", a->mtime_ns);
	json_i64(j, "ctime_ns", a->ctime_ns);
	json_u64(j, "goal", a->goal);
}

static void
print_long(const char *name, const struct wire_attr *a)
{
	char perms[11];
	static const char rwx[] = "rwxrwxrwx";
	char when[32];
	time_t t = (time_t)(a->mtime_ns / 1000000000);
	struct tm tm;

	perms[0] = type_char(a->mode);
	for (int i = 0; i < 9; i++)
		perms[1 + i] = (a->mode & (0400u >> i)) ? rwx[i] : '-';
	perms[10] = '\0';
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	printf("%s %3u %5u %5u %10llu %s %8llu %s\n", perms, a->nlink, a->uid,
	       a->gid, (unsigned long long)a->size, when,
	       (unsigned long long)a->ino, name);
}

static int
cmd_mkdir(struct mc *mc, int argc, char **argv, char *errmsg)
{
	int parents = 0, status = 0, i = 0;

	if (argc > 0 && strcmp(argv[0], "-p") == 0)
		parents = 1, i = 1;
	if (i >= argc)
		usage_error("%s: missing PATH", "mkdir");
	for (; i < argc; i++) {
		char name[CFS_NAME_MAX + 1];
		uint64_t parent;
		int rv;

		if (parents) {
			/* Create each missing component in turn. */
			char part[CFS_PATH_MAX + 1];
			const char *p = argv[i];

			rv = 0;
			while (rv == 0 && (p = strchr(p + 1, '/')) != NULL) {
				snprintf(part, sizeof(part), "%.*s",
					 (int)(p - argv[i]), argv[i]);
				if (part[strlen(part) - 1] == '/')
					continue;
				rv = resolve_parent(mc, part, &parent, name,
						    errmsg);
				if (rv == 0)
					rv = mc_mkdir(mc, parent, name, 0755,
						      NULL, errmsg);
				if (rv == CFS_EEXIST)
					rv = 0;
			}
			if (rv == 0) {
				rv = resolve_parent(mc, argv[i], &parent, name,
						    errmsg);
				if (rv == 0)
					rv = mc_mkdir(mc, parent, name, 0755,
						      NULL, errmsg);
				if (rv == CFS_EEXIST)
					rv = 0;
			}
		} else {
			rv = resolve_parent(mc, argv[i], &parent, name, errmsg);
			if (rv == 0)
				rv = mc_mkdir(mc, parent, name, 0755, NULL,
					      errmsg);
		}
		if (rv != 0) {
			fprintf(stderr, "cfsctl: mkdir %s: %s\n", argv[i],
				errmsg);
			status = 1;
		}
	}
	return status;
}

static int
cmd_touch(struct mc *mc, int argc, char **argv, char *errmsg)
{
	int status = 0;

	if (argc == 0)
		usage_error("%s: missing PATH", "touch");
	for (int i = 0; i < argc; i++) {
		char name[CFS_NAME_MAX + 1];
		uint64_t parent;
		int rv = resolve_parent(mc, argv[i], &parent, name, errmsg);

		if (rv == 0)
			rv = mc_create(mc, parent, name, 0644, NULL, errmsg);
		if (rv == CFS_EEXIST)
			rv = 0;
		if (rv != 0) {
			fprintf(stderr, "cfsctl: touch %s: %s\n", argv[i],
				errmsg);
			status = 1;
		}
	}
	return status;
}

/* One entry of `ls`, as text (-l or not) or as JSON. */
static void
ls_entry(struct json *j, int longfmt, const char *name,
	 const struct wire_attr *a)
{
	if (j != NULL) {
		json_object_begin(j, NULL);
		json_str(j, "name", name);
		json_attr(j, a);
		json_object_end(j);
	} else if (longfmt) {
		print_long(name, a);
	} else {
		printf("%s\n", name);
	}
}

static int
cmd_ls(struct mc *mc, int argc, char **argv, char *errmsg)
{
	struct wire_dirents *d = malloc(sizeof(*d));
	const char *path = NULL;
	int longfmt = 0, rv;
	struct wire_attr dir;
	uint64_t cookie = 0;
	struct json js, *j = NULL;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-l") == 0)
			longfmt = 1;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			usage_error("ls: unknown option '%s'", argv[i]);
		else if (path != NULL)
			usage_error("ls: one PATH at most (got '%s' too)",
				    argv[i]);
		else
			path = argv[i];
	}
	if (path == NULL)
		path = "/";
	if (d == NULL)
		return fprintf(stderr, "cfsctl: ls: out of memory\n"), 1;
	rv = resolve(mc, path, &dir, errmsg);
	if (rv == 0 && cfsctl_json) {
		j = &js;
		json_init(j, stdout);
		json_object_begin(j, NULL);
		json_str(j, "path", path);
		json_array_begin(j, "entries");
	}
	if (rv == 0 && (dir.mode & S_IFMT) != S_IFDIR) {
		ls_entry(j, longfmt, path, &dir);
		rv = 1; /* done */
	}
	while (rv == 0) {
		/* (sizes shown: -l, --json) */
		rv = mc_readdir(mc, dir.ino, cookie, WIRE_MAX_dirent,
				!longfmt && !cfsctl_json, d, errmsg);
		if (rv != 0)
			break;
		for (uint32_t i = 0; i < d->entries_count; i++) {
			ls_entry(j, longfmt, d->entries[i].name,
				 &d->entries[i].attr);
			cookie = d->entries[i].cookie;
		}
		if (d->eof || d->entries_count == 0)
			break;
	}
	if (rv == 1)
		rv = 0;
	if (j != NULL) {
		json_array_end(j);
		json_bool(j, "complete", rv == 0);
		json_object_end(j);
		json_finish(j);
	}
	free(d);
	if (rv != 0) {
		fprintf(stderr, "cfsctl: ls %s: %s\n", path, errmsg);
		return 1;
	}
	return 0;
}

/* `stat PATH...`: attributes, and for regular files every fragment with
 * its replicas (client/cfsctl_fsck.c). */
static int
cmd_stat(struct mc *mc, int argc, char **argv, char *errmsg)
{
	struct json js, *j = cfsctl_json ? &js : NULL;
	int status = 0;

	if (argc == 0)
		usage_error("%s: missing PATH", "stat");
	if (j != NULL) {
		json_init(j, stdout);
		json_array_begin(j, NULL);
	}
	for (int i = 0; i < argc; i++) {
		struct wire_attr a;
		int rv;

		if (resolve(mc, argv[i], &a, errmsg) != 0) {
			fprintf(stderr, "cfsctl: stat %s\n", errmsg);
			status = 1;
			continue;
		}
		if (j != NULL) {
			json_object_begin(j, NULL);
			json_str(j, "path", argv[i]);
			json_attr(j, &a);
		} else {
			if (i > 0)
				putchar('\n');
			printf("path: %s\nino: %llu\ngeneration: %llu\n"
			       "type: %c\nmode: %04o\nnlink: %u\nuid: %u\n"
			       "gid: %u\nsize: %llu\nmtime_ns: %lld\n"
			       "ctime_ns: %lld\ngoal: %u\n",
			       argv[i], (unsigned long long)a.ino,
			       (unsigned long long)a.generation,
			       type_char(a.mode), a.mode & 07777, a.nlink,
			       a.uid, a.gid, (unsigned long long)a.size,
			       (long long)a.mtime_ns, (long long)a.ctime_ns,
			       a.goal);
		}
		rv = 0;
		if ((a.mode & S_IFMT) == S_IFREG)
			rv = stat_fragments(mc, &a, j, errmsg);
		if (j != NULL)
			json_object_end(j);
		if (rv != 0) {
			fprintf(stderr, "cfsctl: stat %s: fragments: %s\n",
				argv[i], errmsg);
			status = 1;
		}
	}
	if (j != NULL) {
		json_array_end(j);
		json_finish(j);
	}
	return status;
}

static int
cmd_chmod(struct mc *mc, int argc, char **argv, char *errmsg)
{
	struct wire_attr a;
	char *end;
	unsigned long mode;

	if (argc != 2)
		usage_error("%s: usage: chmod MODE PATH", "chmod");
	mode = strtoul(argv[0], &end, 8);
	if (*end != '\0' || mode > 07777)
		usage_error("chmod: '%s' is not an octal mode", argv[0]);
	if (resolve(mc, argv[1], &a, errmsg) != 0 ||
	    mc_chmod(mc, a.ino, (uint32_t)mode, NULL, errmsg) != 0) {
		fprintf(stderr, "cfsctl: chmod %s: %s\n", argv[1], errmsg);
		return 1;
	}
	return 0;
}

static int
cmd_rm(struct mc *mc, int argc, char **argv, char *errmsg)
{
	int status = 0;

	if (argc == 0)
		usage_error("%s: missing PATH", "rm");
	for (int i = 0; i < argc; i++) {
		char name[CFS_NAME_MAX + 1];
		struct wire_attr a;
		uint64_t parent;
		int rv = resolve_parent(mc, argv[i], &parent, name, errmsg);

		if (rv == 0)
			rv = mc_lookup(mc, parent, name, &a, errmsg);
		if (rv == 0 && (a.mode & S_IFMT) == S_IFDIR)
			rv = mc_rmdir(mc, parent, name, errmsg);
		else if (rv == 0)
			rv = mc_unlink(mc, parent, name, errmsg);
		if (rv != 0) {
			fprintf(stderr, "cfsctl: rm %s: %s\n", argv[i], errmsg);
			status = 1;
		}
	}
	return status;
}

static int
cmd_mv(struct mc *mc, int argc, char **argv, char *errmsg)
{
	char name[CFS_NAME_MAX + 1], newname[CFS_NAME_MAX + 1];
	uint64_t parent, newparent;
	int rv;

	if (argc != 2)
		usage_error("%s: usage: mv SRC DST", "mv");
	rv = resolve_parent(mc, argv[0], &parent, name, errmsg);
	if (rv == 0)
		rv = resolve_parent(mc, argv[1], &newparent, newname, errmsg);
	if (rv == 0)
		rv = mc_rename(mc, parent, name, newparent, newname, 0, errmsg);
	if (rv != 0) {
		fprintf(stderr, "cfsctl: mv %s %s: %s\n", argv[0], argv[1],
			errmsg);
		return 1;
	}
	return 0;
}

/* One administrative round trip without a session (status, format,
 * membership), to @servers with a deadline. */
int
admin_call(const char *servers, int timeout_ms, uint16_t type,
	   const void *req, uint16_t *rtype, union wire_body *reply,
	   char *errmsg)
{
	return admin_call_keep(servers, timeout_ms, type, req, rtype, reply,
			       NULL, errmsg);
}

/* As admin_call; with @keep, the mc stays open in *keep because blob
 * fields of @reply borrow from it: the caller closes it after use. */
int
admin_call_keep(const char *servers, int timeout_ms, uint16_t type,
		const void *req, uint16_t *rtype, union wire_body *reply,
		struct mc **keep, char *errmsg)
{
	struct mc_options o = {.client_name = "cfsctl",
			       .no_session = 1,
			       .deadline_ms = timeout_ms,
			       .attempt_timeout_ms =
				       timeout_ms > 0 && timeout_ms < 1000
					       ? timeout_ms
					       : 0};
	struct mc *mc = NULL;
	int rv;

	wait_options(&o);
	rv = mc_open(&mc, servers, &o, errmsg);
	if (rv != 0)
		return rv;
	rv = mc_call(mc, type, req, rtype, reply, timeout_ms, errmsg);
	wait_outcome(servers, rv);
	if (keep != NULL)
		*keep = mc;
	else
		mc_close(&mc);
	return rv;
}

static const char *
role_name(unsigned role)
{
	switch (role) {
	case CFS_ROLE_VOTER: return "voter";
	case CFS_ROLE_STANDBY: return "standby";
	case CFS_ROLE_SPARE: return "spare";
	default: return "?";
	}
}

/* Ask every member of @st directly how it is (a dead or lagging server
 * shows up as such rather than as the leader's belief about it) and
 * print the table, or the "meta_servers" JSON array.  1 if one does not
 * answer. */
static int
member_rows(const struct wire_status_reply *st, struct json *j)
{
	union wire_body *m = malloc(sizeof(*m));
	struct wire_status req;
	int bad = 0;

	if (m == NULL)
		return 1;
	memset(&req, 0, sizeof(req));
	if (j != NULL)
		json_array_begin(j, "meta_servers");
	else
		printf("  %-4s %-8s %-22s %-22s %-12s %s\n", "ID", "ROLE",
		       "RAFT", "CLIENTS", "STATE", "APPLIED");
	for (unsigned i = 0; i < st->members_count; i++) {
		const struct wire_member *mb = &st->members[i];
		char state[32] = "unreachable";
		unsigned long long applied = 0;
		char e2[CFS_ERRMSG_SIZE];
		uint16_t t2 = 0;
		int up = admin_call(mb->client_addr, 1000, WIRE_T_status, &req,
				    &t2, m, e2) == 0 &&
			 t2 == WIRE_T_status_reply;
		if (up) {
			applied = m->status_reply.applied_index;
			snprintf(state, sizeof(state), "%s",
				 mb->id == st->leader_id ? "leader"
				 : m->status_reply.leader_id == st->leader_id
					 ? "follower"
					 : "disagrees");
		} else {
			bad = 1;
		}
		if (j != NULL) {
			json_object_begin(j, NULL);
			json_u64(j, "id", mb->id);
			json_str(j, "role", role_name(mb->role));
			json_str(j, "raft_address", mb->raft_addr);
			json_str(j, "client_address", mb->client_addr);
			json_str(j, "state", state);
			json_bool(j, "reachable", up);
			json_u64(j, "applied", applied);
			json_object_end(j);
		} else {
			printf("  %-4llu %-8s %-22s %-22s %-12s %llu\n",
			       (unsigned long long)mb->id, role_name(mb->role),
			       mb->raft_addr, mb->client_addr, state, applied);
		}
	}
	if (j != NULL)
		json_array_end(j);
	free(m);
	return bad;
}

/* The status as the leader sees it (asking any server who leads first:
 * only the leader's view of replication is current) into *r. */
static int
leader_status(const char *servers, int timeout_ms, union wire_body *r,
	      char *errmsg)
{
	struct wire_status req;
	uint16_t rtype = 0;
	int rv;

	memset(&req, 0, sizeof(req));
	rv = admin_call(servers, timeout_ms, WIRE_T_status, &req, &rtype, r,
			errmsg);
	if (rv == 0 && r->status_reply.leader_addr[0] != '\0')
		rv = admin_call(r->status_reply.leader_addr, timeout_ms,
				WIRE_T_status, &req, &rtype, r, errmsg);
	if (rv == 0 && rtype != WIRE_T_status_reply)
		rv = cfs_fail(errmsg, CFS_MALFORMED, "status answered with %s",
			      wire_type_name(rtype));
	return rv;
}

/* `status` (@list 0) and `meta list` (@list 1). */
static int
cmd_status(const char *servers, int timeout_ms, int list, char *errmsg)
{
	union wire_body *r = malloc(sizeof(*r));
	struct json js, *j = cfsctl_json ? &js : NULL;
	int bad;

	if (r == NULL)
		return fprintf(stderr, "cfsctl: out of memory\n"), 1;
	if (leader_status(servers, timeout_ms, r, errmsg) != 0) {
		fprintf(stderr, "cfsctl: %s: %s\n", list ? "meta list" :
			"status", errmsg);
		free(r);
		return 1;
	}
	struct wire_status_reply *st = &r->status_reply;
	bad = st->leader_id == 0;
	if (j != NULL) {
		json_init(j, stdout);
		json_object_begin(j, NULL);
		if (st->leader_id == 0) {
			json_null(j, "leader");
		} else {
			json_object_begin(j, "leader");
			json_u64(j, "id", st->leader_id);
			json_str(j, "address", st->leader_addr);
			json_u64(j, "term", st->term);
			json_object_end(j);
		}
	} else if (st->leader_id == 0) {
		printf("leader:        NONE (no quorum?)\n");
	} else {
		printf("leader:        server %llu at %s (term %llu)\n",
		       (unsigned long long)st->leader_id, st->leader_addr,
		       (unsigned long long)st->term);
	}
	if (list) {
		/* meta list: the servers only */
	} else if (j != NULL) {
		json_object_begin(j, "filesystem");
		json_bool(j, "formatted", st->formatted);
		json_u64(j, "fragment_size", st->fragment_size);
		json_u64(j, "default_goal", st->default_goal);
		json_u64(j, "inodes", st->inodes);
		json_object_end(j);
		json_u64(j, "sessions", st->sessions);
		json_u64(j, "commit_index", st->commit_index);
	} else {
		printf("filesystem:    %s", st->formatted ? "formatted" :
		       "NOT FORMATTED (run: cfsctl cluster bootstrap)");
		if (st->formatted)
			printf(", fragment size %llu, default goal %u",
			       (unsigned long long)st->fragment_size,
			       st->default_goal);
		printf("\ninodes:        %llu\nsessions:      %llu\n"
		       "commit index:  %llu\n",
		       (unsigned long long)st->inodes,
		       (unsigned long long)st->sessions,
		       (unsigned long long)st->commit_index);
		printf("\nmetadata servers:\n");
	}
	bad |= member_rows(st, j);
	if (!list && st->leader_id != 0) {
		char leader[CFS_ADDR_MAX + 1];
		snprintf(leader, sizeof(leader), "%s", st->leader_addr);
		bad |= status_data(leader, timeout_ms, j, errmsg);
	}
	if (j != NULL) {
		json_bool(j, "healthy", !bad);
		json_object_end(j);
		json_finish(j);
	}
	free(r);
	return bad ? 1 : 0;
}

int
parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
cmd_bootstrap(const char *servers, int timeout_ms, int argc, char **argv,
	      char *errmsg)
{
	struct wire_format req;
	uint16_t rtype = 0;
	union wire_body *r = malloc(sizeof(*r));
	int rv;

	if (r == NULL)
		return 1;
	memset(&req, 0, sizeof(req));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--fragment-size") == 0 && i + 1 < argc) {
			if (parse_size(argv[++i], &req.fragment_size) != 0)
				usage_error("cluster bootstrap: bad size '%s'",
					    argv[i]);
		} else if (strcmp(argv[i], "--goal") == 0 && i + 1 < argc) {
			req.default_goal = (uint32_t)atoi(argv[++i]);
		} else {
			usage_error("cluster bootstrap: unknown argument "
				    "'%s'",
				    argv[i]);
		}
	}
	rv = admin_call(servers, timeout_ms, WIRE_T_format, &req, &rtype, r,
			errmsg);
	free(r);
	if (rv == CFS_EEXIST) {
		printf("cfsctl: the filesystem is already formatted\n");
		return 0;
	}
	if (rv != 0) {
		fprintf(stderr, "cfsctl: cluster bootstrap: %s\n", errmsg);
		return 1;
	}
	printf("filesystem formatted\n");
	return 0;
}

static uint64_t
parse_id(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v == 0)
		usage_error("'%s' is not a server id (a positive integer)", s);
	return v;
}

/* `debug dump HOST:PORT`: that one server's whole state machine as text,
 * to compare replicas (they are identical at the same applied index). */
static int
cmd_dump(int argc, char **argv, int timeout_ms, char *errmsg)
{
	struct wire_dump req;
	uint16_t rtype = 0;
	union wire_body *r = malloc(sizeof(*r));
	int rv;

	int summary = argc == 3 && strcmp(argv[1], "--summary") == 0;
	if (summary) {
		argv[1] = argv[2];
		argc = 2;
	}
	if (argc != 2 || strcmp(argv[0], "dump") != 0)
		usage_error("%s", "usage: debug dump [--summary] HOST:PORT");
	if (r == NULL)
		return 1;
	memset(&req, 0, sizeof(req));
	struct mc *mc = NULL;
	rv = admin_call_keep(argv[1], timeout_ms, WIRE_T_dump, &req, &rtype, r,
			     &mc, errmsg);
	if (rv != 0 || rtype != WIRE_T_dump_reply) {
		fprintf(stderr, "cfsctl: debug dump %s: %s\n", argv[1],
			rv ? errmsg : "unexpected reply");
		mc_close(&mc);
		free(r);
		return 1;
	}
	struct wire_dump_reply *d = &r->dump_reply;
	printf("applied %llu, %llu bytes, crc32c %08x\n",
	       (unsigned long long)d->applied_index,
	       (unsigned long long)d->total_len, d->crc);
	if (!summary) {
		fwrite(d->text, 1, d->text_len, stdout);
		if (d->text_len < d->total_len)
			printf("... (%llu more bytes not shown)\n",
			       (unsigned long long)(d->total_len - d->text_len));
	}
	mc_close(&mc); /* d->text borrowed from it */
	free(r);
	return 0;
}

/* meta add|promote|demote|remove|transfer (and the older names member
 * ..., leader transfer); `meta list` is cmd_status's. */
static int
cmd_member(const char *servers, int timeout_ms, const char *cmd, int argc,
	   char **argv, char *errmsg)
{
	union wire_body req;
	uint16_t type, rtype = 0;
	union wire_body *r;
	const char *what = argc > 0 ? argv[0] : "";
	int rv;

	memset(&req, 0, sizeof(req));
	if (strcmp(cmd, "leader") == 0 && strcmp(what, "transfer") != 0)
		usage_error("%s", "usage: leader transfer [ID] (or: meta "
				  "transfer [ID])");
	if (strcmp(what, "transfer") == 0 && argc <= 2) {
		type = WIRE_T_transfer;
		req.transfer.id = argc == 2 ? parse_id(argv[1]) : 0;
	} else if (strcmp(what, "add") == 0 && argc == 4) {
		type = WIRE_T_member_add;
		req.member_add.id = parse_id(argv[1]);
		if (strchr(argv[2], ':') == NULL)
			usage_error("%s add: '%s' is not a RAFTHOST:PORT", cmd,
				    argv[2]);
		if (strchr(argv[3], ':') == NULL)
			usage_error("%s add: '%s' is not a CLIENTHOST:PORT",
				    cmd, argv[3]);
		snprintf(req.member_add.raft_addr,
			 sizeof(req.member_add.raft_addr), "%s", argv[2]);
		snprintf(req.member_add.client_addr,
			 sizeof(req.member_add.client_addr), "%s", argv[3]);
	} else if ((strcmp(what, "promote") == 0 ||
		    strcmp(what, "demote") == 0) &&
		   argc == 2) {
		type = WIRE_T_member_assign;
		req.member_assign.id = parse_id(argv[1]);
		req.member_assign.role = strcmp(what, "promote") == 0
						 ? CFS_ROLE_VOTER
						 : CFS_ROLE_STANDBY;
	} else if (strcmp(what, "remove") == 0 && argc == 2) {
		type = WIRE_T_member_remove;
		req.member_remove.id = parse_id(argv[1]);
	} else {
		usage_error("usage: %s list | %s add ID RAFTHOST:PORT "
			    "CLIENTHOST:PORT | %s promote|demote|remove ID | "
			    "%s transfer [ID]",
			    cmd, cmd, cmd, cmd);
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		return 1;
	rv = admin_call(servers, timeout_ms, type, &req, &rtype, r, errmsg);
	free(r);
	if (rv != 0) {
		fprintf(stderr, "cfsctl: %s %s: %s\n", cmd, what, errmsg);
		return 1;
	}
	if (type == WIRE_T_member_add)
		printf("server %s added as a spare (not replicated to yet); "
		       "make it a voter, which first brings its log up to "
		       "date: cfsctl meta promote %s\n",
		       argv[1], argv[1]);
	else
		printf("done\n");
	return 0;
}

/* The commands that open a session and work on PATHs. */
static const struct {
	const char *name;
	int (*run)(struct mc *mc, int argc, char **argv, char *errmsg);
} ns_cmds[] = {
	{"mkdir", cmd_mkdir}, {"touch", cmd_touch}, {"ls", cmd_ls},
	{"stat", cmd_stat},   {"chmod", cmd_chmod}, {"rm", cmd_rm},
	{"mv", cmd_mv},       {"put", cmd_put},     {"get", cmd_get},
	{"frags", cmd_frags}, {"goal", cmd_goal},   {"fsck", cmd_fsck},
};

/* Is argv[@i] of command @cmd a PATH in CFS (rather than an option, a
 * mode, a goal, a local file)?  Mirrors each command's own parsing,
 * which then reports what is wrong with the rest. */
static int
is_path_arg(const char *cmd, int argc, char **argv, int i)
{
	const char *a = argv[i];
	int first = 0; /* the first non-option argument */

	if (strcmp(cmd, "put") == 0)
		return i == argc - 1 && argc >= 2;
	while (first < argc && argv[first][0] == '-' && argv[first][1] != '\0')
		first++;
	if (strcmp(cmd, "get") == 0)
		return i == first;
	if (strcmp(cmd, "chmod") == 0)
		return i == first + 1;
	if (strcmp(cmd, "goal") == 0) {
		/* goal get PATH... | goal set [-r] N PATH... */
		if (argc < 1 || i == 0)
			return 0;
		int p = 1;
		if (strcmp(argv[0], "set") == 0)
			p = argc > 1 && strcmp(argv[1], "-r") == 0 ? 3 : 2;
		return i >= p;
	}
	return !(a[0] == '-' && a[1] != '\0');
}

/*
 * PATH arguments that are local paths inside a cfs-fuse mount become CFS
 * paths, and the cluster becomes that mount's (docs/operations.md
 * "cfsctl").  Cases:
 *  1) inside a mount: argv[i] is replaced, *servers is the mount's;
 *  2) absolute and outside every mount: a CFS path, unchanged;
 *  3) relative and outside every mount: a usage error;
 *  4) paths in mounts of two different clusters: a usage error.
 * The replaced strings live until exit.
 */
static void
localize_paths(const char *cmd, int argc, char **argv, const char **servers)
{
	static char cluster[CFS_PATH_MAX];
	const char *from = NULL;

	for (int i = 0; i < argc; i++) {
		char found[CFS_PATH_MAX], cfspath[CFS_PATH_MAX + 1];
		char errmsg[CFS_ERRMSG_SIZE];

		if (!is_path_arg(cmd, argc, argv, i))
			continue;
		int rv = mount_find(argv[i], found, sizeof(found), cfspath,
				    sizeof(cfspath), errmsg);
		if (rv < 0)
			usage_error("%s %s", cmd, errmsg);
		if (rv == 0 && argv[i][0] != '/')
			usage_error("%s: '%s' is not inside a CFS mount (a CFS "
				    "path starts with '/')",
				    cmd, argv[i]);
		if (rv == 0)
			continue;
		if (from != NULL && strcmp(cluster, found) != 0)
			usage_error("%s: '%s' and '%s' are in mounts of "
				    "different clusters",
				    cmd, from, argv[i]);
		from = argv[i];
		memcpy(cluster, found, sizeof(cluster));
		argv[i] = strdup(cfspath);
		if (argv[i] == NULL)
			usage_error("%s", "out of memory");
	}
	if (from != NULL)
		*servers = cluster;
}

static int
parse_timeout(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v <= 0 || v > 86400000)
		usage_error("--timeout: '%s' is not a number of milliseconds "
			    "(1..86400000)",
			    s);
	return (int)v;
}

/* Everything but the closing hint of main(). */
static int
run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"cluster", required_argument, NULL, 'c'},
		{"servers", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"quiet", no_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *servers = NULL;
	struct mc_options opt = {.client_name = "cfsctl"};
	char errmsg[CFS_ERRMSG_SIZE] = "";
	struct mc *mc = NULL;
	const char *cmd;
	int c, rv;

	cfs_log_init("cfsctl");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:c:s:t:qjh", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'c':
		case 's': servers = optarg; break;
		case 't': opt.deadline_ms = parse_timeout(optarg); break;
		case 'q': waiting.quiet = 1; break;
		case 'j': cfsctl_json = 1; break;
		case 'h': help_all(); return 0;
		case ':':
			usage_error("option '%s' needs an argument",
				    argv[optind - 1]);
		default:
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	/* precedence: option, CFS_CLUSTER, CFS_META, default */
	if (servers == NULL || servers[0] == '\0')
		servers = getenv("CFS_CLUSTER");
	if (servers == NULL || servers[0] == '\0')
		servers = getenv("CFS_META");
	if (servers == NULL || servers[0] == '\0')
		servers = waiting.defaulted = DEFAULT_CLUSTER;
	if (optind >= argc)
		usage_error("%s", "missing COMMAND");
	cmd = argv[optind++];
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "help") == 0) {
		if (argc == 0)
			return help_all(), 0;
		cmd = argv[0];
		if (help_command(cmd) != 0)
			usage_error("help: unknown command '%s'", cmd);
		return 0;
	}
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			if (help_command(cmd) != 0)
				usage_error("unknown command '%s'", cmd);
			return 0;
		}
	}

	if (strcmp(cmd, "cluster") == 0) {
		if (argc < 1 || strcmp(argv[0], "bootstrap") != 0)
			usage_error("%s", "usage: cluster bootstrap "
					  "[--fragment-size SIZE] [--goal N]");
		return cmd_bootstrap(servers, opt.deadline_ms, argc, argv,
				     errmsg);
	}
	if (strcmp(cmd, "status") == 0) {
		if (argc > 0)
			usage_error("status: unexpected argument '%s'",
				    argv[0]);
		return cmd_status(servers, opt.deadline_ms, 0, errmsg);
	}
	if (strcmp(cmd, "debug") == 0)
		return cmd_dump(argc, argv, opt.deadline_ms, errmsg);
	if ((strcmp(cmd, "meta") == 0 || strcmp(cmd, "member") == 0) &&
	    argc >= 1 && strcmp(argv[0], "list") == 0) {
		if (argc > 1)
			usage_error("%s list: unexpected argument '%s'", cmd,
				    argv[1]);
		return cmd_status(servers, opt.deadline_ms, 1, errmsg);
	}
	if (strcmp(cmd, "meta") == 0 || strcmp(cmd, "member") == 0 ||
	    strcmp(cmd, "leader") == 0)
		return cmd_member(servers, opt.deadline_ms, cmd, argc, argv,
				  errmsg);
	if (strcmp(cmd, "node") == 0)
		return cmd_node(servers, opt.deadline_ms, argc, argv, errmsg);
	if (strcmp(cmd, "leases") == 0)
		return cmd_leases(servers, opt.deadline_ms, argc, argv, errmsg);
	if (strcmp(cmd, "dev") == 0) {
		waiting.quiet = 1; /* its waits say what they wait for */
		return cmd_dev(argc, argv, errmsg);
	}

	size_t k = 0, n = sizeof(ns_cmds) / sizeof(ns_cmds[0]);
	while (k < n && strcmp(cmd, ns_cmds[k].name) != 0)
		k++;
	if (k == n)
		usage_error("unknown command '%s'", cmd);
	localize_paths(cmd, argc, argv, &servers);
	if (servers != waiting.defaulted)
		waiting.defaulted = NULL; /* a path named a mount's cluster */
	wait_options(&opt);
	rv = mc_open(&mc, servers, &opt, errmsg);
	wait_outcome(servers, rv);
	if (rv != 0) {
		fprintf(stderr, "cfsctl: %s: %s\n", servers, errmsg);
		return strcmp(cmd, "fsck") == 0 ? 2 : 1;
	}
	rv = ns_cmds[k].run(mc, argc, argv, errmsg);
	mc_close(&mc);
	return rv;
}

int
main(int argc, char **argv)
{
	int rv = run(argc, argv);

	if (rv != 0 && waiting.unreached)
		fprintf(stderr,
			"cfsctl: no cluster named: tried the default %s; use "
			"--cluster ADDRS, CFS_CLUSTER, or a path inside a cfs "
			"mount\n",
			DEFAULT_CLUSTER);
	return rv;
}
