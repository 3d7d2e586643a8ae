/* cfsctl.c - the operator's and user's command line: cluster setup and namespace commands. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "client/cfsctl.h"
#include "client/metaclient.h"
#include "common/error.h"
#include "common/log.h"

static const char usage_text[] =
	"Usage: cfsctl [OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Talk to a CFS metadata cluster.\n"
	"\n"
	"Options:\n"
	"  -s, --servers LIST   metadata servers, comma-separated host:port\n"
	"                       (default: $CFS_META, else 127.0.0.1:7000)\n"
	"  -t, --timeout MS     give up on a request after MS milliseconds\n"
	"                       (default 15000)\n"
	"  -h, --help           show this help\n"
	"\n"
	"Cluster commands:\n"
	"  cluster bootstrap [--fragment-size SIZE] [--goal N]\n"
	"                       format a new filesystem (run once, after the\n"
	"                       metadata servers of a new cluster are up;\n"
	"                       defaults come from the servers' config)\n"
	"  status               the leader, the filesystem, and every metadata\n"
	"                       server as it answers itself (exit 1 if there\n"
	"                       is no leader or a server does not answer)\n"
	"  member add ID RAFTHOST:PORT CLIENTHOST:PORT\n"
	"                       add a new metadata server as a spare; start it\n"
	"                       first with an empty --dir and no --init-cluster\n"
	"  member promote ID    make a server a voter (after it caught up)\n"
	"  member demote ID     make a voter a standby (replicates, no vote)\n"
	"  member remove ID     remove a server; then stop it and wipe its dir\n"
	"  leader transfer [ID] hand leadership to server ID (default: the\n"
	"                       most up-to-date voter), e.g. before maintenance\n"
	"  node list            the data nodes: state, free space, replicas\n"
	"  node drain ID        copy every replica off node ID (it stays\n"
	"                       readable meanwhile); `node undrain ID` stops\n"
	"  node remove ID       forget node ID; its replicas are re-created\n"
	"                       elsewhere (drain first to stay at goal)\n"
	"  debug dump [--summary] HOST:PORT\n"
	"                       one metadata server's whole state as text, with\n"
	"                       its length and CRC32C (--summary: only those);\n"
	"                       replicas at the same 'applied' are identical\n"
	"\n"
	"Namespace commands (paths are absolute inside CFS):\n"
	"  mkdir [-p] PATH...   create directories (-p: parents too, no error\n"
	"                       if they exist)\n"
	"  touch PATH...        create empty regular files\n"
	"  ls [-l] [PATH]       list a directory (default /); -l with attributes\n"
	"  stat PATH...         show attributes\n"
	"  chmod MODE PATH      change permission bits (octal MODE)\n"
	"  rm PATH...           remove files and empty directories\n"
	"  mv SRC DST           rename SRC to DST (DST is replaced if it exists)\n"
	"\n"
	"Data commands:\n"
	"  put [-q] [-o OFFSET] LOCAL|- PATH\n"
	"                       copy a local file (or stdin) into CFS,\n"
	"                       replacing PATH; returns once every fragment\n"
	"                       is on its goal of nodes' disks (-q: no\n"
	"                       progress line; -o: write into the existing\n"
	"                       PATH at OFFSET instead, keeping the rest)\n"
	"  get [-q] PATH LOCAL|-  copy a file out of CFS (or to stdout)\n"
	"  frags PATH           each fragment's version, length, CRC and the\n"
	"                       nodes holding it (exit 1 if one is under goal)\n"
	"  goal get PATH...     replicas per fragment of each PATH\n"
	"  goal set N PATH...   set it (1..16); new files inherit their\n"
	"                       directory's goal; existing fragments are\n"
	"                       copied up to or trimmed down to it\n"
	"\n"
	"Development commands (a whole cluster on this machine):\n"
	"  dev up --dir DIR [--mount MNT] [--meta N] [--data N] [--port BASE]\n"
	"         [--fragment-size SIZE] [--goal N]\n"
	"                       start N metadata servers (1, 3 or 5; default\n"
	"                       3) and N data nodes (1..16; default 4) on\n"
	"                       127.0.0.1, format the filesystem (default\n"
	"                       goal: 3, or the number of data nodes if\n"
	"                       fewer), mount it on MNT with cfs-fuse, and\n"
	"                       return once all are up, leaving them running\n"
	"                       in the background.  Ports: clients BASE+1..,\n"
	"                       Raft BASE+101.., data nodes BASE+201..\n"
	"                       (default BASE 7000).  DIR keeps each daemon's\n"
	"                       state, log (DIR/*.log) and pid file, and\n"
	"                       cluster.env (`. DIR/cluster.env` sets\n"
	"                       CFS_META).  The programs are taken from\n"
	"                       cfsctl's own directory, else from $PATH.\n"
	"                       Refused if DIR's cluster runs or a port is in\n"
	"                       use; on a failure, stops what it started and\n"
	"                       shows the failing log.  Run again on the same\n"
	"                       DIR to restart the cluster with its data\n"
	"  dev down --dir DIR [--wipe]\n"
	"                       unmount MNT and stop the processes DIR's pid\n"
	"                       files name (SIGTERM, SIGKILL after 10 s); the\n"
	"                       data is kept, or removed with --wipe\n"
	"  dev status --dir DIR which of DIR's processes run (exit 1 if one\n"
	"                       does not)\n"
	"\n"
	"Exit status: 0 on success, 1 if a command failed, 2 on a usage error.\n"
	"Examples:\n"
	"  CFS_META=10.0.0.1:7000,10.0.0.2:7000 cfsctl mkdir -p /home/alice\n"
	"  cfsctl dev up --dir /tmp/cfs --mount /tmp/cfs-mnt\n";

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

static int
cmd_ls(struct mc *mc, int argc, char **argv, char *errmsg)
{
	struct wire_dirents *d = malloc(sizeof(*d));
	const char *path = "/";
	int longfmt = 0, rv;
	struct wire_attr dir;
	uint64_t cookie = 0;

	if (d == NULL)
		return fprintf(stderr, "cfsctl: ls: out of memory\n"), 1;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-l") == 0)
			longfmt = 1;
		else
			path = argv[i];
	}
	rv = resolve(mc, path, &dir, errmsg);
	if (rv == 0 && (dir.mode & S_IFMT) != S_IFDIR) {
		if (longfmt)
			print_long(path, &dir);
		else
			printf("%s\n", path);
		free(d);
		return 0;
	}
	while (rv == 0) {
		rv = mc_readdir(mc, dir.ino, cookie, WIRE_MAX_dirent, d,
				errmsg);
		if (rv != 0)
			break;
		for (uint32_t i = 0; i < d->entries_count; i++) {
			if (longfmt)
				print_long(d->entries[i].name,
					   &d->entries[i].attr);
			else
				printf("%s\n", d->entries[i].name);
			cookie = d->entries[i].cookie;
		}
		if (d->eof || d->entries_count == 0)
			break;
	}
	free(d);
	if (rv != 0) {
		fprintf(stderr, "cfsctl: ls %s: %s\n", path, errmsg);
		return 1;
	}
	return 0;
}

static int
cmd_stat(struct mc *mc, int argc, char **argv, char *errmsg)
{
	int status = 0;

	if (argc == 0)
		usage_error("%s: missing PATH", "stat");
	for (int i = 0; i < argc; i++) {
		struct wire_attr a;

		if (resolve(mc, argv[i], &a, errmsg) != 0) {
			fprintf(stderr, "cfsctl: stat %s\n", errmsg);
			status = 1;
			continue;
		}
		printf("path: %s\nino: %llu\ngeneration: %llu\ntype: %c\n"
		       "mode: %04o\nnlink: %u\nuid: %u\ngid: %u\nsize: %llu\n"
		       "mtime_ns: %lld\nctime_ns: %lld\ngoal: %u\n",
		       argv[i], (unsigned long long)a.ino,
		       (unsigned long long)a.generation, type_char(a.mode),
		       a.mode & 07777, a.nlink, a.uid, a.gid,
		       (unsigned long long)a.size, (long long)a.mtime_ns,
		       (long long)a.ctime_ns, a.goal);
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
	int rv = mc_open(&mc, servers, &o, errmsg);

	if (rv != 0)
		return rv;
	rv = mc_call(mc, type, req, rtype, reply, timeout_ms, errmsg);
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

/* `status`: ask any server who leads, then ask the leader (the only one
 * whose view of replication is current) and every member directly, so a
 * dead or lagging server shows up as such rather than as the leader's
 * belief about it. */
static int
cmd_status(const char *servers, int timeout_ms, char *errmsg)
{
	union wire_body *r = malloc(sizeof(*r));
	union wire_body *m = malloc(sizeof(*m));
	struct wire_status req;
	uint16_t rtype = 0;
	int rv;

	if (r == NULL || m == NULL) {
		free(r);
		free(m);
		return fprintf(stderr, "cfsctl: out of memory\n"), 1;
	}
	memset(&req, 0, sizeof(req));
	rv = admin_call(servers, timeout_ms, WIRE_T_status, &req, &rtype, r,
			errmsg);
	if (rv == 0 && r->status_reply.leader_addr[0] != '\0')
		rv = admin_call(r->status_reply.leader_addr, timeout_ms,
				WIRE_T_status, &req, &rtype, r, errmsg);
	if (rv != 0 || rtype != WIRE_T_status_reply) {
		fprintf(stderr, "cfsctl: status: %s\n",
			rv ? errmsg : "unexpected reply");
		free(r);
		free(m);
		return 1;
	}
	struct wire_status_reply *st = &r->status_reply;
	if (st->leader_id == 0)
		printf("leader:        NONE (no quorum?)\n");
	else
		printf("leader:        server %llu at %s (term %llu)\n",
		       (unsigned long long)st->leader_id, st->leader_addr,
		       (unsigned long long)st->term);
	printf("filesystem:    %s", st->formatted ? "formatted" :
			"NOT FORMATTED (run: cfsctl cluster bootstrap)");
	if (st->formatted)
		printf(", fragment size %llu, default goal %u",
		       (unsigned long long)st->fragment_size, st->default_goal);
	printf("\ninodes:        %llu\nsessions:      %llu\n"
	       "commit index:  %llu\n",
	       (unsigned long long)st->inodes,
	       (unsigned long long)st->sessions,
	       (unsigned long long)st->commit_index);
	printf("\nmetadata servers:\n");
	printf("  %-4s %-8s %-22s %-22s %-12s %s\n", "ID", "ROLE", "RAFT",
	       "CLIENTS", "STATE", "APPLIED");
	int bad = st->leader_id == 0;
	for (unsigned i = 0; i < st->members_count; i++) {
		struct wire_member *mb = &st->members[i];
		char state[32] = "unreachable";
		unsigned long long applied = 0;
		char e2[CFS_ERRMSG_SIZE];
		uint16_t t2 = 0;
		if (admin_call(mb->client_addr, 1000, WIRE_T_status, &req, &t2,
			       m, e2) == 0 &&
		    t2 == WIRE_T_status_reply) {
			applied = m->status_reply.applied_index;
			snprintf(state, sizeof(state), "%s",
				 mb->id == st->leader_id ? "leader"
				 : m->status_reply.leader_id ==
						 st->leader_id
					 ? "follower"
					 : "disagrees");
		} else {
			bad = 1;
		}
		printf("  %-4llu %-8s %-22s %-22s %-12s %llu\n",
		       (unsigned long long)mb->id, role_name(mb->role),
		       mb->raft_addr, mb->client_addr, state, applied);
	}
	int led = st->leader_id != 0;
	char leader[CFS_ADDR_MAX + 1];
	snprintf(leader, sizeof(leader), "%s", st->leader_addr);
	free(r);
	free(m);
	if (led)
		bad |= status_data(leader, timeout_ms, errmsg);
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

/* member add|promote|demote|remove, leader transfer */
static int
cmd_member(const char *servers, int timeout_ms, const char *cmd, int argc,
	   char **argv, char *errmsg)
{
	union wire_body req;
	uint16_t type, rtype = 0;
	union wire_body *r = malloc(sizeof(*r));
	const char *what = argc > 0 ? argv[0] : "";
	int rv;

	if (r == NULL)
		return 1;
	memset(&req, 0, sizeof(req));
	if (strcmp(cmd, "leader") == 0) {
		if (argc < 1 || strcmp(argv[0], "transfer") != 0 || argc > 2)
			usage_error("%s", "usage: leader transfer [ID]");
		type = WIRE_T_transfer;
		req.transfer.id = argc == 2 ? parse_id(argv[1]) : 0;
	} else if (strcmp(what, "add") == 0 && argc == 4) {
		type = WIRE_T_member_add;
		req.member_add.id = parse_id(argv[1]);
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
		usage_error("%s", "usage: member add ID RAFTHOST:PORT "
				  "CLIENTHOST:PORT | member promote ID | "
				  "member demote ID | member remove ID");
	}
	rv = admin_call(servers, timeout_ms, type, &req, &rtype, r, errmsg);
	free(r);
	if (rv != 0) {
		fprintf(stderr, "cfsctl: %s %s: %s\n", cmd, what, errmsg);
		return 1;
	}
	printf("done\n");
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"servers", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *servers = getenv("CFS_META");
	struct mc_options opt = {.client_name = "cfsctl"};
	char errmsg[CFS_ERRMSG_SIZE] = "";
	struct mc *mc = NULL;
	const char *cmd;
	int c, rv;

	cfs_log_init("cfsctl");
	while ((c = getopt_long(argc, argv, "+s:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': servers = optarg; break;
		case 't': opt.deadline_ms = atoi(optarg); break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fputs("Try 'cfsctl --help'.\n", stderr); return 2;
		}
	}
	if (servers == NULL || servers[0] == '\0')
		servers = "127.0.0.1:7000";
	if (optind >= argc)
		usage_error("%s", "missing COMMAND");
	cmd = argv[optind++];
	argc -= optind;
	argv += optind;

	if (strcmp(cmd, "cluster") == 0) {
		if (argc < 1 || strcmp(argv[0], "bootstrap") != 0)
			usage_error("%s", "usage: cluster bootstrap "
					  "[--fragment-size SIZE] [--goal N]");
		return cmd_bootstrap(servers, opt.deadline_ms, argc, argv,
				     errmsg);
	}
	if (strcmp(cmd, "status") == 0)
		return cmd_status(servers, opt.deadline_ms, errmsg);
	if (strcmp(cmd, "debug") == 0)
		return cmd_dump(argc, argv, opt.deadline_ms, errmsg);
	if (strcmp(cmd, "member") == 0 || strcmp(cmd, "leader") == 0)
		return cmd_member(servers, opt.deadline_ms, cmd, argc, argv,
				  errmsg);
	if (strcmp(cmd, "node") == 0)
		return cmd_node(servers, opt.deadline_ms, argc, argv, errmsg);
	if (strcmp(cmd, "dev") == 0)
		return cmd_dev(argc, argv, errmsg);
	if (strcmp(cmd, "mkdir") && strcmp(cmd, "touch") &&
	    strcmp(cmd, "ls") && strcmp(cmd, "stat") &&
	    strcmp(cmd, "chmod") && strcmp(cmd, "rm") && strcmp(cmd, "mv") &&
	    strcmp(cmd, "put") && strcmp(cmd, "get") && strcmp(cmd, "frags") &&
	    strcmp(cmd, "goal"))
		usage_error("unknown command '%s'", cmd);

	rv = mc_open(&mc, servers, &opt, errmsg);
	if (rv != 0) {
		fprintf(stderr, "cfsctl: %s: %s\n", servers, errmsg);
		return 1;
	}
	if (strcmp(cmd, "mkdir") == 0)
		rv = cmd_mkdir(mc, argc, argv, errmsg);
	else if (strcmp(cmd, "touch") == 0)
		rv = cmd_touch(mc, argc, argv, errmsg);
	else if (strcmp(cmd, "ls") == 0)
		rv = cmd_ls(mc, argc, argv, errmsg);
	else if (strcmp(cmd, "stat") == 0)
		rv = cmd_stat(mc, argc, argv, errmsg);
	else if (strcmp(cmd, "chmod") == 0)
		rv = cmd_chmod(mc, argc, argv, errmsg);
	else if (strcmp(cmd, "rm") == 0)
		rv = cmd_rm(mc, argc, argv, errmsg);
	else if (strcmp(cmd, "put") == 0)
		rv = cmd_put(mc, argc, argv, errmsg);
	else if (strcmp(cmd, "get") == 0)
		rv = cmd_get(mc, argc, argv, errmsg);
	else if (strcmp(cmd, "frags") == 0)
		rv = cmd_frags(mc, argc, argv, errmsg);
	else if (strcmp(cmd, "goal") == 0)
		rv = cmd_goal(mc, argc, argv, errmsg);
	else
		rv = cmd_mv(mc, argc, argv, errmsg);
	mc_close(&mc);
	return rv;
}
