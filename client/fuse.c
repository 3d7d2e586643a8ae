/* fuse.c - cfs-fuse: mount a CFS filesystem through FUSE (options, checks, daemon, session loop). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <syslog.h>
#include <unistd.h>

/* syslog.h's LOG_INFO and LOG_DEBUG levels are not used here: common/log.h
 * names its macros so */
#undef LOG_INFO
#undef LOG_DEBUG
#include "client/bcache.h"
#include "client/fusefs.h"
#include "common/config.h"
#include "common/error.h"
#include "common/log.h"

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static const char usage_text[] =
	"Usage: cfs-fuse [--meta ADDRS] [-o OPTIONS] [-f] [-d] MOUNTPOINT\n"
	"\n"
	"Mount the CFS filesystem served by the metadata cluster at ADDRS on\n"
	"MOUNTPOINT (an existing, unmounted directory).  Without -f the\n"
	"command returns once the filesystem is mounted, and a daemon serves\n"
	"it until `fusermount3 -u MOUNTPOINT` (or `umount`).\n"
	"\n"
	"CFS options (each also as -o NAME=VALUE, e.g. in /etc/fstab):\n"
	"  --meta ADDRS         metadata servers, comma-separated host:port\n"
	"                       (default: $CFS_CLUSTER, else $CFS_META,\n"
	"                       else 127.0.0.1:7000)\n"
	"  --sessions N         metadata sessions, each with its own data\n"
	"                       connections: up to N requests in flight\n"
	"                       (1..64, default 4; 1 with -s)\n"
	"  --timeout SECONDS    give up on a request to the metadata cluster\n"
	"                       (ETIMEDOUT to the application) after this\n"
	"                       long, e.g. while it has no leader (default 60)\n"
	"  --connect-timeout SECONDS\n"
	"                       give up mounting if no metadata leader\n"
	"                       answers within this long (default 10)\n"
	"  --max-leases N       cache at most N inodes: past that the least\n"
	"                       recently used leases are given up (default\n"
	"                       100000)\n"
	"  --name-cache N       keep up to N names (~190 bytes each) to answer\n"
	"                       lookups of leased inodes the kernel forgot\n"
	"                       (default 65536; 0: none)\n"
	"  --data-cache SIZE    keep up to SIZE bytes of file data read from\n"
	"                       the data nodes (suffixes K M G; 0: none;\n"
	"                       default 1/16 of the machine's memory, 64M to\n"
	"                       4G); 64 KiB blocks of committed versions, so\n"
	"                       it answers O_DIRECT reads and reads after the\n"
	"                       kernel dropped its page cache\n"
	"  --local-reads yes|no read replicas kept by a data node on this\n"
	"                       machine from its disk, not through the node\n"
	"                       (default yes; a node is local when its data\n"
	"                       directory, which it names, holds its uuid\n"
	"                       and this process can read it: as root, or\n"
	"                       with permissions that allow it); every\n"
	"                       byte is checked against the replica's CRCs\n"
	"                       as the node would, and any failure is read\n"
	"                       through the node instead (a read that hangs\n"
	"                       gives up after 10 s, as through a node)\n"
	"  --creates-ahead N    answer up to N creates of files in a directory\n"
	"                       this mount made before the metadata cluster\n"
	"                       committed them (sent behind, many per Raft\n"
	"                       round; an fsync of the file or directory\n"
	"                       waits for them, a close does not: see\n"
	"                       Behaviour); 0: every create waits (default\n"
	"                       256, at most 65536)\n"
	"  --log FILE           append log lines to FILE (default: stderr with\n"
	"                       -f, else syslog; once detached, its stderr\n"
	"                       too); CFS_LOG=debug for more\n"
	"  -h, --help           show this help\n"
	"  -V, --version        show the version\n"
	"\n"
	"Behaviour:\n"
	"  The mount uses default_permissions (the kernel checks modes); the\n"
	"  metadata servers check every request again with the caller's uid,\n"
	"  gid and groups, and own new files to the caller.  Other users see\n"
	"  the mount only with -o allow_other (root, or user_allow_other in\n"
	"  /etc/fuse.conf).  fsname and type: cfs#ADDRS, fuse.cfs (cfsctl\n"
	"  finds the cluster of a path inside the mount from it).\n"
	"  Attributes, xattr absence and file data are cached while the mount\n"
	"  holds a lease on the file (taken at open; another client's\n"
	"  conflicting change recalls it first), so a change that returned\n"
	"  on one client (a write: at close or fsync) is seen by every read\n"
	"  that starts later on any client.  Names of leased inodes are\n"
	"  cached by the kernel and, past its memory pressure, by the mount.\n"
	"  Writes are buffered per open file (one contiguous range of up to\n"
	"  16 MiB) and stored on every replica's disk at close, fsync or when\n"
	"  the range is full; an error of such a write is returned by the next\n"
	"  write, close or fsync.  fallocate is not supported (EOPNOTSUPP).\n"
	"  A directory made through this mount is its own until another\n"
	"  client looks into it: creates of files in it are answered at once\n"
	"  and committed behind (--creates-ahead); every later request of\n"
	"  the mount, and any other client's look into the directory, waits\n"
	"  for them first, so they are seen everywhere as if they had waited.\n"
	"  Until an fsync of the file or the directory returns, such a create\n"
	"  is lost if this mount dies (as buffered writes are), not if\n"
	"  metadata servers do.\n"
	"  A file removed while this mount has it open is renamed to\n"
	"  .cfs-fuse-hidden-* until its last close, so it stays usable.\n"
	"  flock(2) and fcntl(2) byte-range locks hold across every mount of\n"
	"  the cluster (docs/locks.md); a mount that dies loses its locks\n"
	"  when its session expires (10 s).  A process blocked on a lock\n"
	"  holds no worker thread: one thread per mount retries them all.\n"
	"\n"
	"Examples:\n"
	"  cfs-fuse --meta 10.0.0.1:7000,10.0.0.2:7000 /mnt/cfs\n"
	"  cfs-fuse -f -o meta=10.0.0.1:7000,allow_other /mnt/cfs\n"
	"  mount -t fuse.cfs 10.0.0.1:7000,10.0.0.2:7000 /mnt/cfs\n"
	"  (/etc/fstab: the source field, if it holds a ':', is ADDRS:\n"
	"  10.0.0.1:7000,10.0.0.2:7000 /mnt/cfs fuse.cfs allow_other 0 0)\n"
	"\n"
	"FUSE options:\n";

struct conf {
	char *meta;
	char *log;
	unsigned sessions;
	unsigned max_leases;
	unsigned name_cache;
	unsigned creates_ahead;
	char *data_cache; /* a size, as given */
	char *local_reads; /* yes or no, as given */
	unsigned timeout_s;
	unsigned connect_s;
	char *nonopt[2];  /* [SOURCE] MOUNTPOINT, as given */
	int n_nonopt;
	int info;         /* -h or -V: no mount point needed */
};

#define CONF_OPT(t, f) {t, offsetof(struct conf, f), 1}
static const struct fuse_opt conf_opts[] = {
	CONF_OPT("--meta=%s", meta),
	CONF_OPT("--meta %s", meta),
	CONF_OPT("meta=%s", meta),
	CONF_OPT("--sessions=%u", sessions),
	CONF_OPT("--sessions %u", sessions),
	CONF_OPT("sessions=%u", sessions),
	CONF_OPT("--max-leases=%u", max_leases),
	CONF_OPT("--max-leases %u", max_leases),
	CONF_OPT("max_leases=%u", max_leases),
	CONF_OPT("--name-cache=%u", name_cache),
	CONF_OPT("--name-cache %u", name_cache),
	CONF_OPT("name_cache=%u", name_cache),
	CONF_OPT("--creates-ahead=%u", creates_ahead),
	CONF_OPT("--creates-ahead %u", creates_ahead),
	CONF_OPT("creates_ahead=%u", creates_ahead),
	CONF_OPT("--data-cache=%s", data_cache),
	CONF_OPT("--data-cache %s", data_cache),
	CONF_OPT("data_cache=%s", data_cache),
	CONF_OPT("--local-reads=%s", local_reads),
	CONF_OPT("--local-reads %s", local_reads),
	CONF_OPT("local_reads=%s", local_reads),
	CONF_OPT("--timeout=%u", timeout_s),
	CONF_OPT("--timeout %u", timeout_s),
	CONF_OPT("timeout=%u", timeout_s),
	CONF_OPT("--connect-timeout=%u", connect_s),
	CONF_OPT("--connect-timeout %u", connect_s),
	CONF_OPT("connect_timeout=%u", connect_s),
	CONF_OPT("--log=%s", log),
	CONF_OPT("--log %s", log),
	CONF_OPT("log=%s", log),
	FUSE_OPT_END,
};

/* Options that are sizes, parsed as in the daemons' config files. */
struct sizes {
	uint64_t data_cache;
};
static const struct cfs_conf_key size_keys[] = {
	CFS_CONF_KEY(struct sizes, data_cache, CFS_CONF_SIZE, 0, INT64_MAX,
		     NULL, "file data cache"),
	CFS_CONF_END,
};

/* Take the non-option arguments out ([SOURCE] MOUNTPOINT: mount(8) and
 * /etc/fstab pass a source first); keep every option for libfuse. */
static int
conf_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct conf *c = data;

	(void)outargs;
	if (key == FUSE_OPT_KEY_NONOPT) {
		if (c->n_nonopt == 2) {
			fprintf(stderr, "cfs-fuse: too many arguments: '%s'\n",
				arg);
			return -1;
		}
		c->nonopt[c->n_nonopt++] = strdup(arg);
		return 0;
	}
	if (key == FUSE_OPT_KEY_OPT &&
	    (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0 ||
	     strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0))
		c->info = 1;
	return 1;
}

/* libfuse's own messages, in the same form as ours (libfuse may build
 * one line from several calls). */
static void
fuse_log_to_stderr(enum fuse_log_level level, const char *fmt, va_list ap)
{
	static int line_start = 1;
	char buf[1024];

	(void)level;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	const char *p = strncmp(buf, "fuse: ", 6) == 0 ? buf + 6 : buf;
	fprintf(stderr, "%s%s", line_start ? "cfs-fuse: " : "", p);
	line_start = buf[0] != '\0' && buf[strlen(buf) - 1] == '\n';
}

/* Log lines of a daemon without --log go to syslog. */
static ssize_t
syslog_write(void *cookie, const char *buf, size_t size)
{
	(void)cookie;
	syslog(LOG_NOTICE, "%.*s", (int)size, buf);
	return (ssize_t)size;
}

/* Is @path (absolute, resolved) a mount point already?  Reads
 * /proc/self/mountinfo; 0 if that cannot be read. */
static int
is_mounted(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char mp[PATH_MAX], dec[PATH_MAX];
		size_t j = 0;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		/* octal escapes: \040 for a space and so on */
		for (size_t i = 0; mp[i] && j + 1 < sizeof(dec); i++) {
			if (mp[i] == '\\' && mp[i + 1] >= '0' &&
			    mp[i + 1] <= '7' && mp[i + 2] && mp[i + 3]) {
				dec[j++] = (char)(((mp[i + 1] - '0') << 6) |
						  ((mp[i + 2] - '0') << 3) |
						  (mp[i + 3] - '0'));
				i += 3;
			} else {
				dec[j++] = mp[i];
			}
		}
		dec[j] = '\0';
		found = strcmp(dec, path) == 0;
	}
	fclose(f);
	return found;
}

/* Insert "-odefault_permissions,subtype=cfs,max_threads=64,fsname=cfs#META"
 * first.  64 worker threads, not libfuse's 10: requests that wait on the
 * metadata cluster (a recall, a leader change) each hold one. */
static int
add_fsname(struct fuse_args *args, const char *meta)
{
	static const char head[] = "-odefault_permissions,subtype=cfs,"
				   "max_threads=64,fsname=cfs#";
	size_t n = strlen(meta), j = sizeof(head) - 1;
	char *o = malloc(sizeof(head) + 2 * n);
	int rv;

	if (o == NULL)
		return -1;
	memcpy(o, head, j);
	for (size_t i = 0; i < n; i++) {
		if (meta[i] == ',' || meta[i] == '\\')
			o[j++] = '\\';
		o[j++] = meta[i];
	}
	o[j] = '\0';
	rv = fuse_opt_insert_arg(args, 1, o);
	free(o);
	return rv;
}

/* The mount point must exist, be a directory and not be mounted on. */
static int
check_mountpoint(const char *arg)
{
	char real[PATH_MAX];
	struct stat st;

	if (stat(arg, &st) != 0) {
		int e = errno;
		fprintf(stderr, "cfs-fuse: mount point %s: %s%s\n", arg,
			strerror(e),
			e == ENOTCONN ? " (a FUSE mount whose daemon is gone: "
					"run fusermount3 -u on it)"
				      : "");
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "cfs-fuse: mount point %s: not a directory\n",
			arg);
		return -1;
	}
	if (realpath(arg, real) != NULL && is_mounted(real)) {
		fprintf(stderr,
			"cfs-fuse: mount point %s is busy: a filesystem is "
			"already mounted there (unmount it first)\n",
			arg);
		return -1;
	}
	return 0;
}

/* Tell the waiting parent how startup went (one byte: 0 = mounted). */
static void
tell_parent(int *fd, char status)
{
	if (*fd < 0)
		return;
	if (write(*fd, &status, 1) != 1) {
		/* the parent is gone: nothing to tell */
	}
	close(*fd);
	*fd = -1;
}

/*
 * Without -f: fork before anything starts a thread (ZeroMQ, the session
 * keepalives).  The parent waits until the child reports that the mount
 * is up or failed (the child printed why), so the command's exit status
 * tells the truth and no error goes unseen.
 */
static int
start_daemon(int *notify_fd)
{
	int p[2];
	pid_t pid;
	char status = 1;

	if (pipe(p) != 0) {
		perror("cfs-fuse: pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		perror("cfs-fuse: fork");
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		*notify_fd = p[1];
		return 0;
	}
	close(p[1]);
	ssize_t n;
	do
		n = read(p[0], &status, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		fprintf(stderr, "cfs-fuse: the daemon exited during startup\n");
		status = 1;
	}
	_exit(status == 0 ? 0 : 1);
}

/* Detach the mounted daemon from the terminal.  With --log, what is still
 * written to stderr (libfuse's own messages, a sanitizer's or the C
 * library's report of a crash) goes to the log file, not /dev/null: the
 * last words of a daemon that died are what its operator needs most. */
static void
detach(FILE *logf)
{
	int fd = open("/dev/null", O_RDWR);

	if (setsid() < 0) {
		/* already a session leader */
	}
	if (chdir("/") != 0) {
		/* "/" always exists */
	}
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(logf != NULL ? fileno(logf) : fd, 2);
		if (fd > 2)
			close(fd);
	}
}

static void
print_help(void)
{
	fputs(usage_text, stdout);
	fflush(stdout);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

int
main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts fo;
	struct conf conf;
	struct fusefs *fs = NULL;
	struct fuse_session *se = NULL;
	char errmsg[CFS_ERRMSG_SIZE] = "";
	int notify = -1, rv = 1;
	FILE *logf = NULL;

	memset(&conf, 0, sizeof(conf));
	conf.name_cache = FUSEFS_NAME_CACHE; /* 0 given: none */
	conf.creates_ahead = FUSEFS_CREATES_AHEAD; /* 0 given: none */
	memset(&fo, 0, sizeof(fo));
	cfs_log_init("cfs-fuse");
	/* ZeroMQ's multi-MiB bulk frames: reuse freed ones (data/main.c) */
	mallopt(M_MMAP_THRESHOLD, 16 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	fuse_set_log_func(fuse_log_to_stderr);
	if (fuse_opt_parse(&args, &conf, conf_opts, conf_proc) != 0)
		goto usage;
	const char *mountpoint =
		conf.n_nonopt > 0 ? conf.nonopt[conf.n_nonopt - 1] : NULL;
	/* a SOURCE that looks like addresses names the metadata servers */
	if (conf.n_nonopt == 2 && conf.meta == NULL &&
	    strchr(conf.nonopt[0], ':') != NULL)
		conf.meta = strdup(conf.nonopt[0]);
	if (mountpoint != NULL && fuse_opt_add_arg(&args, mountpoint) != 0)
		goto out;
	if (conf.meta == NULL || conf.meta[0] == '\0') {
		/* the same order as cfsctl: CFS_CLUSTER, then CFS_META */
		const char *env = getenv("CFS_CLUSTER");
		if (env == NULL || *env == '\0')
			env = getenv("CFS_META");
		free(conf.meta);
		conf.meta = strdup(env && *env ? env : "127.0.0.1:7000");
	}
	/* ours first, so that the user's -o can override fsname/subtype, and
	 * before fuse_parse_cmdline, which adds a subtype if none is given;
	 * fsname "cfs#ADDRS" shows the cluster in /proc/self/mountinfo, where
	 * `cfsctl PATH...` finds it (its commas escaped for -o) */
	if (conf.meta == NULL || add_fsname(&args, conf.meta) != 0)
		goto out;
	/* before libfuse resolves it, for a clearer message */
	if (!conf.info && mountpoint != NULL &&
	    check_mountpoint(mountpoint) != 0)
		goto out;
	if (fuse_parse_cmdline(&args, &fo) != 0)
		goto usage; /* libfuse said what is wrong */
	if (fo.show_help) {
		print_help();
		rv = 0;
		goto out;
	}
	if (fo.show_version) {
		printf("cfs-fuse (CFS) %s\n", PACKAGE_VERSION);
		fflush(stdout);
		fuse_lowlevel_version();
		rv = 0;
		goto out;
	}
	if (fo.mountpoint == NULL) {
		fprintf(stderr, "cfs-fuse: no mount point given\n");
		goto usage;
	}
	if (conf.sessions == 0)
		conf.sessions = fo.singlethread ? 1 : 4;
	if (conf.sessions > FUSEFS_SESSIONS_MAX) {
		fprintf(stderr, "cfs-fuse: --sessions: at most %d\n",
			FUSEFS_SESSIONS_MAX);
		goto usage;
	}
	if (conf.creates_ahead > FUSEFS_CREATES_AHEAD_MAX) {
		fprintf(stderr, "cfs-fuse: --creates-ahead: at most %d\n",
			FUSEFS_CREATES_AHEAD_MAX);
		goto usage;
	}
	if (conf.log != NULL) {
		if ((logf = fopen(conf.log, "a")) == NULL) {
			fprintf(stderr, "cfs-fuse: --log %s: %s\n", conf.log,
				strerror(errno));
			goto out;
		}
		setvbuf(logf, NULL, _IOLBF, 0);
		cfs_log_set_stream(logf);
	}
	if (fo.debug && cfs_log_threshold < CFS_LOG_DEBUG)
		cfs_log_threshold = CFS_LOG_DEBUG;

	int no_local = 0;
	if (conf.local_reads != NULL) {
		if (strcmp(conf.local_reads, "no") == 0) {
			no_local = 1;
		} else if (strcmp(conf.local_reads, "yes") != 0) {
			fprintf(stderr, "cfs-fuse: --local-reads %s: yes or "
				"no\n", conf.local_reads);
			goto usage;
		}
	}
	struct sizes sz = {.data_cache = bcache_default_bytes()};
	if (conf.data_cache != NULL &&
	    cfs_conf_set(size_keys, &sz, "data_cache", conf.data_cache,
			 "--data-cache", errmsg) != 0) {
		fprintf(stderr, "cfs-fuse: %s\n", errmsg);
		goto usage;
	}
	struct fusefs_options o = {
		.meta = conf.meta,
		.sessions = conf.sessions,
		.max_leases = conf.max_leases,
		.name_cache = conf.name_cache,
		.creates_ahead = conf.creates_ahead,
		.data_cache = sz.data_cache,
		.no_local_reads = no_local,
		.open_timeout_ms = (int)(conf.connect_s ? conf.connect_s : 10) *
				   1000,
		.call_timeout_ms = (int)(conf.timeout_s ? conf.timeout_s : 60) *
				   1000,
	};
	if (fusefs_new(&fs, &o, errmsg) != 0) {
		fprintf(stderr, "cfs-fuse: %s\n", errmsg);
		goto out;
	}
	/* before connecting: an unknown -o option fails at once */
	se = fuse_session_new(&args, &fusefs_ops, sizeof(fusefs_ops), fs);
	if (se == NULL)
		goto out; /* libfuse printed why */
	fusefs_set_session(fs, se);
	if (!fo.foreground && start_daemon(&notify) != 0)
		goto out;
	if (fusefs_connect(fs, errmsg) != 0) {
		fprintf(stderr,
			"cfs-fuse: cannot reach the metadata cluster at %s: "
			"%s\n",
			conf.meta, errmsg);
		goto out;
	}
	if (fuse_set_signal_handlers(se) != 0) {
		fprintf(stderr, "cfs-fuse: cannot install signal handlers\n");
		goto out;
	}
	if (fuse_session_mount(se, fo.mountpoint) != 0) {
		fprintf(stderr, "cfs-fuse: cannot mount on %s\n",
			fo.mountpoint);
		fuse_remove_signal_handlers(se);
		goto out;
	}
	LOG_INFO("mounted %s on %s (%u sessions%s)", conf.meta, fo.mountpoint,
		 conf.sessions, fo.singlethread ? ", single-threaded" : "");
	if (!fo.foreground) {
		if (logf == NULL) {
			static const cookie_io_functions_t sysl = {
				.write = syslog_write};
			openlog("cfs-fuse", LOG_PID, LOG_DAEMON);
			FILE *s = fopencookie(NULL, "w", sysl);
			if (s != NULL) {
				setvbuf(s, NULL, _IOLBF, 0);
				cfs_log_set_stream(s);
			}
		}
		tell_parent(&notify, 0);
		detach(logf);
	}
	if (fo.singlethread) {
		rv = fuse_session_loop(se);
	} else {
		struct fuse_loop_config *lc = fuse_loop_cfg_create();
		if (lc == NULL) {
			LOG_ERROR("out of memory for the FUSE loop");
			rv = -1;
		} else {
			fuse_loop_cfg_set_clone_fd(lc, (unsigned)fo.clone_fd);
			/* UINT_MAX: -o max_idle_threads not given, which
			 * libfuse 3.14 would report as invalid */
			if (fo.max_idle_threads != UINT_MAX)
				fuse_loop_cfg_set_idle_threads(
					lc, fo.max_idle_threads);
			fuse_loop_cfg_set_max_threads(lc, fo.max_threads);
			rv = fuse_session_loop_mt(se, lc);
			fuse_loop_cfg_destroy(lc);
		}
	}
	LOG_INFO("unmounting %s%s", fo.mountpoint,
		 rv > 0 ? " (signal)" : rv < 0 ? " (error)" : "");
	fusefs_stop_waits(fs);
	fusefs_stop_creates(fs);
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	rv = rv < 0 ? 1 : 0;
	goto out;
usage:
	fprintf(stderr, "Try 'cfs-fuse --help'.\n");
	rv = 2;
out:
	tell_parent(&notify, 1);
	if (fs != NULL)
		fusefs_stop_creates(fs);
	if (se != NULL)
		fuse_session_destroy(se);
	fusefs_close(&fs);
	if (logf != NULL) {
		cfs_log_set_stream(NULL);
		fclose(logf);
	}
	fuse_opt_free_args(&args);
	free(fo.mountpoint);
	free(conf.meta);
	free(conf.log);
	free(conf.data_cache);
	free(conf.local_reads);
	free(conf.nonopt[0]);
	free(conf.nonopt[1]);
	return rv;
}
