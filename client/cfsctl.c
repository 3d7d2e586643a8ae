/* cfsctl.c - the operator's and user's command line: cluster setup and namespace commands. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "client/metaclient.h"
#include "common/error.h"
#include "common/log.h"

#define CFSCTL_ROOT_INO 1

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
	"  cluster bootstrap    format a new filesystem (run once, after the\n"
	"                       metadata servers of a new cluster are up)\n"
	"  status               show which server leads and filesystem totals\n"
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
	"Exit status: 0 on success, 1 if a command failed, 2 on a usage error.\n"
	"Example:\n"
	"  CFS_META=10.0.0.1:7000,10.0.0.2:7000 cfsctl mkdir -p /home/alice\n";

static void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void
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
static int
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

static int
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

static int
cmd_status(struct mc *mc, char *errmsg)
{
	struct wire_statfs req;
	union wire_body *r = malloc(sizeof(*r));
	uint16_t rtype;
	char leader[CFS_ADDR_MAX + 8];
	int rv;

	if (r == NULL)
		return fprintf(stderr, "cfsctl: out of memory\n"), 1;
	memset(&req, 0, sizeof(req));
	rv = mc_call(mc, WIRE_T_statfs, &req, &rtype, r, 0, errmsg);
	mc_leader(mc, leader, sizeof(leader));
	if (rv != 0) {
		fprintf(stderr, "cfsctl: status: %s\n", errmsg);
		free(r);
		return 1;
	}
	printf("leader: %s\nsession: %llu\n", leader,
	       (unsigned long long)mc_client_id(mc));
	if (rtype == WIRE_T_statfs_reply)
		printf("files: %llu\nfiles free: %llu\nblocks: %llu\n"
		       "blocks free: %llu\nblock size: %u\n",
		       (unsigned long long)r->statfs_reply.files,
		       (unsigned long long)r->statfs_reply.ffree,
		       (unsigned long long)r->statfs_reply.blocks,
		       (unsigned long long)r->statfs_reply.bfree,
		       r->statfs_reply.bsize);
	free(r);
	return 0;
}

static int
cmd_bootstrap(const char *servers, int timeout_ms, char *errmsg)
{
#ifdef WIRE_HAVE_FORMAT
	/* placeholder: replaced when the admin format request exists */
#endif
	(void)servers;
	(void)timeout_ms;
	cfs_fail(errmsg, CFS_ENOSYS, "the format request is not in the "
				     "protocol catalog yet");
	fprintf(stderr, "cfsctl: cluster bootstrap: %s\n", errmsg);
	return 1;
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
			usage_error("%s: usage: cluster bootstrap", "cluster");
		return cmd_bootstrap(servers, opt.deadline_ms, errmsg);
	}
	if (strcmp(cmd, "status") && strcmp(cmd, "mkdir") &&
	    strcmp(cmd, "touch") && strcmp(cmd, "ls") &&
	    strcmp(cmd, "stat") && strcmp(cmd, "chmod") &&
	    strcmp(cmd, "rm") && strcmp(cmd, "mv"))
		usage_error("unknown command '%s'", cmd);

	rv = mc_open(&mc, servers, &opt, errmsg);
	if (rv != 0) {
		fprintf(stderr, "cfsctl: %s: %s\n", servers, errmsg);
		return 1;
	}
	if (strcmp(cmd, "status") == 0)
		rv = cmd_status(mc, errmsg);
	else if (strcmp(cmd, "mkdir") == 0)
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
	else
		rv = cmd_mv(mc, argc, argv, errmsg);
	mc_close(&mc);
	return rv;
}
