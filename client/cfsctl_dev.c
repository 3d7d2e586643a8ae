/* cfsctl_dev.c - `cfsctl dev up|down|status`: a whole local cluster (metadata servers, data nodes, a FUSE mount) in one command. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/cfsctl.h"
#include "common/error.h"
#include "common/log.h"
#include "common/proto.h"

#ifndef CFS_SBINDIR
#define CFS_SBINDIR "/usr/local/sbin"
#endif

#define DEV_WAIT_MS 20000 /* each wait of `dev up` */
#define DEV_STOP_MS 10000 /* SIGTERM to SIGKILL in `dev down` */
#define DEV_MAX_META 5
#define DEV_MAX_DATA 16
#define DEV_MAX_PROCS (DEV_MAX_META + DEV_MAX_DATA + 1)
#define DEV_DIR_MAX 3000 /* leaves room for "/meta1.log" in PATH_MAX */
#define DEV_TAIL 15	 /* log lines shown for a failed process */

/* One daemon of the dev cluster: "meta2", "data4" or "fuse". */
struct devproc {
	char name[16];
	pid_t pid; /* 0: not running */
	int ours;  /* a child of this cfsctl (waitpid works) */
};

struct dev {
	char dir[PATH_MAX]; /* absolute, symlinks resolved */
	char mnt[PATH_MAX]; /* absolute; "" = no mount */
	int metas, datas, port, goal;
	uint64_t fragment_size;
	char servers[DEV_MAX_META * 24]; /* the metadata client addresses */
	char bin_meta[PATH_MAX], bin_data[PATH_MAX], bin_fuse[PATH_MAX];
	struct devproc procs[DEV_MAX_PROCS];
	int nprocs;
	int mounted; /* this run mounted mnt */
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* @out = dir "/" (printf of @fmt): -1 if it does not fit. */
static int __attribute__((format(printf, 3, 4)))
dpath(char *out, const char *dir, const char *fmt, ...)
{
	char name[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(name))
		return -1;
	n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
	return n < 0 || n >= PATH_MAX ? -1 : 0;
}

static int
mkdir_p(const char *path, char *errmsg)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return cfs_fail(errmsg, CFS_ENAMETOOLONG, "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return cfs_fail_errno(errmsg, errno, "mkdir %s", buf);
		*p = c;
		if (c == '\0')
			break;
	}
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return cfs_fail(errmsg, CFS_ENOTDIR, "%s", path);
	return 0;
}

/* ---- finding the programs ------------------------------------------------ */

/* @name next to this cfsctl, else in $PATH, else in the installed sbin
 * directory (cfs-meta and cfs-data are system daemons: sbin is often
 * not in a user's PATH). */
static int
find_bin(const char *name, char *out, char *errmsg)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char where[PATH_MAX] = "";

	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			if (dpath(out, self[0] ? self : "/", "%s", name) == 0 &&
			    access(out, X_OK) == 0)
				return 0;
			if (snprintf(where, sizeof(where),
				     "next to %s/cfsctl, ",
				     self) >= (int)sizeof(where))
				where[0] = '\0';
		}
	}
	const char *path = getenv("PATH");
	char *copy = strdup(path != NULL ? path : "/usr/bin:/bin");
	char *save = NULL;
	for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d != NULL;
	     d = strtok_r(NULL, ":", &save)) {
		if (dpath(out, d, "%s", name) == 0 && access(out, X_OK) == 0) {
			free(copy);
			return 0;
		}
	}
	free(copy);
	if (dpath(out, CFS_SBINDIR, "%s", name) == 0 && access(out, X_OK) == 0)
		return 0;
	cfs_errmsg_set(errmsg,
		       "cannot find %s (looked %sin $PATH and in %s): build "
		       "CFS (make) or install it",
		       name, where, CFS_SBINDIR);
	return CFS_ENOENT;
}

/* ---- processes ----------------------------------------------------------- */

/* Read /proc/@pid/@name into @buf (NUL-terminated); its length, or -1. */
static ssize_t
read_proc(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Is @pid alive, not a zombie, and running a cfs-* program with an
 * argument inside @dir?  Guards every signal `dev down` sends: a pid file
 * may outlive its process and the pid be reused by anything. */
static int
pid_is_ours(pid_t pid, const char *dir)
{
	char buf[8192];
	size_t dlen = strlen(dir);
	ssize_t n;

	if (pid <= 1 || read_proc(pid, "stat", buf, sizeof(buf)) < 0)
		return 0;
	char *rp = strrchr(buf, ')');
	if (rp == NULL || rp[1] == '\0' || rp[2] == 'Z' || rp[2] == 'X')
		return 0;
	if ((n = read_proc(pid, "cmdline", buf, sizeof(buf))) < 0)
		return 0;
	const char *argv0 = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
	if (strncmp(argv0, "cfs-", 4) != 0)
		return 0;
	for (const char *a = buf + strlen(buf) + 1; a < buf + n;
	     a += strlen(a) + 1)
		if (strncmp(a, dir, dlen) == 0 &&
		    (a[dlen] == '/' || a[dlen] == '\0'))
			return 1;
	return 0;
}

static int
proc_alive(struct devproc *p, const char *dir)
{
	if (p->pid <= 0)
		return 0;
	if (p->ours) {
		int st;
		if (waitpid(p->pid, &st, WNOHANG) == 0)
			return 1;
		p->pid = 0; /* reaped (or not ours after all) */
		return 0;
	}
	return pid_is_ours(p->pid, dir);
}

static void
pidfile_path(const struct dev *d, const struct devproc *p, char *out)
{
	if (dpath(out, d->dir, "%s.pid", p->name) != 0)
		out[0] = '\0';
}

static void
log_path(const struct dev *d, const char *name, char *out)
{
	if (dpath(out, d->dir, "%s.log", name) != 0)
		out[0] = '\0';
}

/* The last @lines lines of @name's log, indented, on stderr. */
static void
show_log(const struct dev *d, const char *name, int lines)
{
	char path[PATH_MAX];
	static char buf[16384];
	FILE *f;

	log_path(d, name, path);
	if ((f = fopen(path, "r")) == NULL)
		return;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	long from =
	    size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1 : 0;
	fseek(f, from, SEEK_SET);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	char *start = buf + n;
	for (int k = 0; start > buf; start--)
		if (start[-1] == '\n' && ++k == lines)
			break;
	fprintf(stderr, "---- last lines of %s:\n", path);
	for (char *line = start, *nl; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL) {
			fprintf(stderr, "  %s\n", line);
			break;
		}
		fprintf(stderr, "  %.*s\n", (int)(nl - line), line);
	}
}

/* Start @argv (argv[0] the program's path) as a daemon of @name: its own
 * session, stdin from /dev/null, stdout and stderr appended to
 * DIR/@name.log, its pid in DIR/@name.pid. */
static int
spawn(struct dev *d, const char *name, const char *const argv[], char *errmsg)
{
	char logp[PATH_MAX], pidp[PATH_MAX], tmp[PATH_MAX];
	struct devproc *p = &d->procs[d->nprocs];
	int logfd, nullfd;
	pid_t pid;

	snprintf(p->name, sizeof(p->name), "%s", name);
	log_path(d, name, logp);
	pidfile_path(d, p, pidp);
	if (dpath(tmp, d->dir, "%s.pid.tmp", name) != 0)
		return cfs_fail(errmsg, CFS_ENAMETOOLONG, "%s", d->dir);
	logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		return cfs_fail_errno(errmsg, errno, "%s", logp);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0) {
		close(logfd);
		return cfs_fail_errno(errmsg, errno, "/dev/null");
	}
	char stamp[64];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	dprintf(logfd, "---- %s: started by cfsctl dev up\n", stamp);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(logfd);
		close(nullfd);
		return cfs_fail_errno(errmsg, errno, "fork");
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		setsid();
		dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		if (chdir("/") != 0) {
			/* "/" exists; every path given is absolute */
		}
		execv(argv[0], (char *const *)argv);
		dprintf(2, "cfsctl dev: cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	close(logfd);
	close(nullfd);
	p->pid = pid;
	p->ours = 1;
	d->nprocs++;
	FILE *f = fopen(tmp, "w");
	if (f == NULL || fprintf(f, "%d\n", (int)pid) < 0 || fclose(f) != 0 ||
	    rename(tmp, pidp) != 0)
		return cfs_fail_errno(errmsg, errno, "%s", pidp);
	return 0;
}

/* SIGTERM each process of @procs (only if still ours), wait up to
 * @wait_ms for all to exit, then SIGKILL the rest; remove their pid
 * files.  Returns how many were running. */
static int
stop_procs(struct dev *d, struct devproc **procs, int n, int wait_ms)
{
	char pidp[PATH_MAX];
	int running = 0;

	for (int i = 0; i < n; i++)
		if (proc_alive(procs[i], d->dir)) {
			kill(procs[i]->pid, SIGTERM);
			running++;
		}
	for (long long deadline = now_ms() + wait_ms;;) {
		int left = 0;
		for (int i = 0; i < n; i++)
			left += proc_alive(procs[i], d->dir);
		if (left == 0 || now_ms() >= deadline)
			break;
		sleep_ms(50);
	}
	for (int i = 0; i < n; i++)
		if (proc_alive(procs[i], d->dir)) {
			fprintf(stderr,
				"cfsctl: %s (pid %d) did not stop within %d "
				"s: killing it\n",
				procs[i]->name, (int)procs[i]->pid,
				wait_ms / 1000);
			kill(procs[i]->pid, SIGKILL);
		}
	for (long long deadline = now_ms() + 2000;;) {
		int left = 0;
		for (int i = 0; i < n; i++)
			left += proc_alive(procs[i], d->dir);
		if (left == 0 || now_ms() >= deadline)
			break;
		sleep_ms(50);
	}
	for (int i = 0; i < n; i++) {
		pidfile_path(d, procs[i], pidp);
		if (pidp[0] != '\0')
			unlink(pidp);
	}
	return running;
}

/* ---- the mount ----------------------------------------------------------- */

/* Is @path (absolute, resolved) a mount point in /proc/self/mountinfo? */
static int
is_mounted(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[2 * PATH_MAX], mp[PATH_MAX];
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		/* id parent major:minor root MOUNTPOINT ... */
		char *s = line;
		for (int field = 0; field < 4 && s != NULL; field++) {
			s = strchr(s, ' ');
			if (s != NULL)
				s++;
		}
		if (s == NULL)
			continue;
		size_t j = 0;
		for (; *s != ' ' && *s != '\0' && *s != '\n' &&
		       j < sizeof(mp) - 1;
		     s++) {
			if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
			    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
			    s[3] <= '7') {
				mp[j++] =
				    (char)(((s[1] - '0') << 6) |
					   ((s[2] - '0') << 3) | (s[3] - '0'));
				s += 3;
			} else {
				mp[j++] = *s;
			}
		}
		mp[j] = '\0';
		found = strcmp(mp, path) == 0;
	}
	fclose(f);
	return found;
}

/* Run @argv quietly (output to /dev/null); its exit status, -1 if it
 * could not run. */
static int
run_quiet(const char *const argv[])
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* fusermount3 -u, else umount -l (lazy: also when the mount is busy). */
static int
unmount(const char *mnt)
{
	const char *fm[] = {"fusermount3", "-u", mnt, NULL};
	const char *um[] = {"umount", "-l", mnt, NULL};

	if (!is_mounted(mnt))
		return 0;
	if (run_quiet(fm) == 0 && !is_mounted(mnt))
		return 0;
	if (run_quiet(um) == 0 && !is_mounted(mnt))
		return 0;
	return -1;
}

/* ---- DIR/dev.conf: what `dev up` made, for `dev down` and the next up ---- */

struct devconf {
	int metas, datas, port; /* 0: not recorded */
	char mnt[PATH_MAX];
};

static void
conf_read(const struct dev *d, struct devconf *c)
{
	char path[PATH_MAX], line[PATH_MAX + 16];
	FILE *f;

	memset(c, 0, sizeof(*c));
	if (dpath(path, d->dir, "dev.conf") != 0 ||
	    (f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "meta=", 5) == 0)
			c->metas = atoi(line + 5);
		else if (strncmp(line, "data=", 5) == 0)
			c->datas = atoi(line + 5);
		else if (strncmp(line, "port=", 5) == 0)
			c->port = atoi(line + 5);
		else if (strncmp(line, "mount=", 6) == 0)
			if (strlen(line + 6) < sizeof(c->mnt))
				memcpy(c->mnt, line + 6, strlen(line + 6) + 1);
	}
	fclose(f);
}

static int
write_file(const struct dev *d, const char *name, const char *text,
	   char *errmsg)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f;

	if (dpath(path, d->dir, "%s", name) != 0 ||
	    dpath(tmp, d->dir, "%s.tmp", name) != 0)
		return cfs_fail(errmsg, CFS_ENAMETOOLONG, "%s", d->dir);
	if ((f = fopen(tmp, "w")) == NULL || fputs(text, f) < 0 ||
	    fclose(f) != 0 || rename(tmp, path) != 0)
		return cfs_fail_errno(errmsg, errno, "%s", path);
	return 0;
}

static int
conf_write(const struct dev *d, char *errmsg)
{
	char text[PATH_MAX + 256];

	snprintf(text, sizeof(text),
		 "# written by cfsctl dev up; read by cfsctl dev down\n"
		 "meta=%d\ndata=%d\nport=%d\nmount=%s\n",
		 d->metas, d->datas, d->port, d->mnt);
	return write_file(d, "dev.conf", text, errmsg);
}

/* meta2 before meta10 */
static int
by_name(const void *a, const void *b)
{
	const char *x = ((const struct devproc *)a)->name;
	const char *y = ((const struct devproc *)b)->name;
	size_t lx = strlen(x), ly = strlen(y);

	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

/* The processes DIR's pid files name (meta*, data*, fuse), fuse first,
 * then data nodes, then metadata servers: the order to stop them in. */
static void
read_pidfiles(struct dev *d)
{
	static const char *const kinds[] = {"fuse", "data", "meta"};
	DIR *dh;

	d->nprocs = 0;
	for (int k = 0; k < 3; k++) {
		int from = d->nprocs;
		if ((dh = opendir(d->dir)) == NULL)
			return;
		struct dirent *e;
		while ((e = readdir(dh)) != NULL) {
			size_t len = strlen(e->d_name), kl = strlen(kinds[k]);
			if (len < kl + 4 || len > kl + 6 ||
			    strncmp(e->d_name, kinds[k], kl) != 0 ||
			    strcmp(e->d_name + len - 4, ".pid") != 0)
				continue;
			if (d->nprocs >= DEV_MAX_PROCS)
				break;
			struct devproc *p = &d->procs[d->nprocs];
			char path[PATH_MAX];
			snprintf(p->name, sizeof(p->name), "%.*s",
				 (int)(len - 4), e->d_name);
			p->pid = 0;
			p->ours = 0;
			FILE *f = dpath(path, d->dir, "%s", e->d_name) == 0
				      ? fopen(path, "r")
				      : NULL;
			int v = 0;
			if (f != NULL) {
				if (fscanf(f, "%d", &v) != 1)
					v = 0;
				fclose(f);
			}
			p->pid = v;
			d->nprocs++;
		}
		closedir(dh);
		qsort(d->procs + from, (size_t)(d->nprocs - from),
		      sizeof(d->procs[0]), by_name);
	}
}

/* ---- talking to the cluster ---------------------------------------------- */

/* @errmsg from a format (a sentence of its own, no code's text) and
 * @code. */
static int __attribute__((format(printf, 3, 4)))
set_err(char *errmsg, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, CFS_ERRMSG_SIZE, fmt, ap);
	va_end(ap);
	return code;
}

static int quiet_saved = -2;

/* The client library's retry warnings are expected while the cluster
 * comes up: keep them off the terminal. */
static void
quiet(int on)
{
	if (on && quiet_saved == -2) {
		quiet_saved = cfs_log_threshold;
		cfs_log_threshold = -1;
	} else if (!on && quiet_saved != -2) {
		cfs_log_threshold = quiet_saved;
		quiet_saved = -2;
	}
}

/* The first of procs[@from .. @from + @n) that is not running; -1 if all
 * run. */
static int
first_dead(struct dev *d, int from, int n)
{
	for (int i = from; i < from + n; i++)
		if (!proc_alive(&d->procs[i], d->dir))
			return i;
	return -1;
}

static int
wait_leader(struct dev *d, uint64_t *leader, char *errmsg)
{
	union wire_body *r = malloc(sizeof(*r));
	struct wire_status req;
	long long deadline = now_ms() + DEV_WAIT_MS;
	int rv = -1;

	if (r == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "status");
	memset(&req, 0, sizeof(req));
	quiet(1);
	while (!interrupted) {
		uint16_t rt = 0;
		int dead = first_dead(d, 0, d->metas);
		if (dead >= 0) {
			rv = set_err(errmsg, CFS_EIO, "%s exited",
				     d->procs[dead].name);
			break;
		}
		if (admin_call(d->servers, 500, WIRE_T_status, &req, &rt, r,
			       errmsg) == 0 &&
		    rt == WIRE_T_status_reply && r->status_reply.leader_id) {
			*leader = r->status_reply.leader_id;
			rv = 0;
			break;
		}
		if (now_ms() >= deadline) {
			rv = set_err(errmsg, CFS_ETIMEDOUT,
				     "no leader elected within %d s",
				     DEV_WAIT_MS / 1000);
			break;
		}
		sleep_ms(200);
	}
	quiet(0);
	free(r);
	if (interrupted && rv == -1)
		rv = set_err(errmsg, CFS_EINTR, "interrupted");
	return rv;
}

/* `cluster bootstrap`; *fresh = 0 if it was formatted before. */
static int
bootstrap_fs(struct dev *d, int *fresh, char *errmsg)
{
	union wire_body *r = malloc(sizeof(*r));
	struct wire_format req;
	long long deadline = now_ms() + DEV_WAIT_MS;
	int rv;

	if (r == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "format");
	memset(&req, 0, sizeof(req));
	req.fragment_size = d->fragment_size;
	req.default_goal = (uint32_t)d->goal;
	quiet(1);
	for (;;) {
		uint16_t rt = 0;
		rv = admin_call(d->servers, 5000, WIRE_T_format, &req, &rt, r,
				errmsg);
		if (rv == 0 || rv == CFS_EEXIST || interrupted ||
		    now_ms() >= deadline ||
		    (rv != CFS_NOLEADER && rv != CFS_NOTLEADER &&
		     rv != CFS_ETIMEDOUT && rv != CFS_EAGAIN))
			break;
		sleep_ms(200);
	}
	quiet(0);
	*fresh = rv == 0;
	if (rv == CFS_EEXIST)
		rv = 0;
	free(r);
	return rv;
}

/* Until every data node of this run (by address) is alive and has been
 * heard by the current leader (it reported its free space). */
static int
wait_nodes(struct dev *d, int first, char *errmsg)
{
	union wire_body *r = malloc(sizeof(*r));
	struct wire_node_list req;
	long long deadline = now_ms() + DEV_WAIT_MS;
	int rv = -1, up = 0;

	if (r == NULL)
		return cfs_fail(errmsg, CFS_ENOMEM, "node list");
	memset(&req, 0, sizeof(req));
	quiet(1);
	while (!interrupted) {
		uint16_t rt = 0;
		int dead = first_dead(d, first, d->datas);
		if (dead < 0)
			dead = first_dead(d, 0, d->metas);
		if (dead >= 0) {
			rv = set_err(errmsg, CFS_EIO, "%s exited",
				     d->procs[dead].name);
			break;
		}
		if (admin_call(d->servers, 1000, WIRE_T_node_list, &req, &rt, r,
			       errmsg) == 0 &&
		    rt == WIRE_T_node_list_reply) {
			const struct wire_node_list_reply *l =
			    &r->node_list_reply;
			up = 0;
			for (int i = 1; i <= d->datas; i++) {
				char addr[32];
				snprintf(addr, sizeof(addr), "127.0.0.1:%d",
					 d->port + 200 + i);
				for (uint32_t k = 0; k < l->nodes_count; k++) {
					const struct wire_nodeinfo *n =
					    &l->nodes[k];
					if (strcmp(n->addr, addr) == 0 &&
					    (n->state == CFS_NODE_FULL ||
					     (n->state == CFS_NODE_ALIVE &&
					      n->free > 0))) {
						up++;
						break;
					}
				}
			}
			if (up == d->datas) {
				rv = 0;
				break;
			}
		}
		if (now_ms() >= deadline) {
			rv = set_err(errmsg, CFS_ETIMEDOUT,
				     "only %d of %d data nodes registered "
				     "within %d s",
				     up, d->datas, DEV_WAIT_MS / 1000);
			break;
		}
		sleep_ms(250);
	}
	quiet(0);
	free(r);
	if (interrupted && rv == -1)
		rv = set_err(errmsg, CFS_EINTR, "interrupted");
	return rv;
}

/* ---- option parsing ------------------------------------------------------ */

/* "--name VALUE" or "--name=VALUE" at argv[*i]: the value, else NULL. */
static const char *
opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t len = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, len) != 0)
		return NULL;
	if (a[len] == '=')
		return a + len + 1;
	if (a[len] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		usage_error("dev: %s needs a value", name);
	return argv[++*i];
}

static int
opt_int(const char *name, const char *v, int lo, int hi)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);

	if (errno || end == v || *end != '\0' || n < lo || n > hi)
		usage_error("dev: %s: '%s' is not a number in %d..%d", name, v,
			    lo, hi);
	return (int)n;
}

static void
resolve_dir(const char *arg, char *out, const char *what)
{
	if (arg == NULL)
		usage_error("dev %s: missing --dir DIR", what);
	if (realpath(arg, out) == NULL) {
		/* not there yet: absolute, without resolving */
		char cwd[PATH_MAX];
		if (arg[0] == '/')
			snprintf(out, PATH_MAX, "%s", arg);
		else if (getcwd(cwd, sizeof(cwd)) == NULL ||
			 snprintf(out, PATH_MAX, "%s/%s", cwd, arg) >= PATH_MAX)
			usage_error("dev %s: --dir %s: cannot make it absolute",
				    what, arg);
	}
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	if (n > DEV_DIR_MAX)
		usage_error("dev %s: --dir is too long", what);
}

/* ---- dev up -------------------------------------------------------------- */

/* Stop whatever this run started, unmount what it mounted. */
static void
undo(struct dev *d)
{
	struct devproc *first[DEV_MAX_PROCS], *last[DEV_MAX_PROCS];
	int nfirst = 0, nlast = 0;

	if (d->mounted)
		unmount(d->mnt);
	for (int i = d->nprocs - 1; i >= 0; i--) {
		if (strncmp(d->procs[i].name, "meta", 4) == 0)
			last[nlast++] = &d->procs[i];
		else
			first[nfirst++] = &d->procs[i];
	}
	if (nfirst + nlast > 0) {
		stop_procs(d, first, nfirst, DEV_STOP_MS);
		stop_procs(d, last, nlast, DEV_STOP_MS);
		fprintf(stderr,
			"cfsctl: dev up: stopped what it had started (logs "
			"and data are kept in %s)\n",
			d->dir);
	}
}

/* A step failed: say why, show the failing process's log (procs[@from ..
 * @from + @n) were involved), undo; 1. */
static int
fail_up(struct dev *d, const char *what, const char *errmsg, int from, int n)
{
	printf("FAILED\n");
	fflush(stdout);
	fprintf(stderr, "cfsctl: dev up: %s: %s\n", what, errmsg);
	/* the log of the process that died, else of every one involved */
	int shown = 0;
	for (int i = from; i < from + n && i < d->nprocs; i++)
		if (d->procs[i].pid == 0) {
			show_log(d, d->procs[i].name, DEV_TAIL);
			shown = 1;
		}
	for (int i = from; !shown && i < from + n && i < d->nprocs; i++)
		show_log(d, d->procs[i].name, n > 3 ? 5 : DEV_TAIL);
	undo(d);
	return 1;
}

static void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
step(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("... ");
	fflush(stdout);
}

static const char *
plural(int n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static int
port_free(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, ok;

	if (s < 0)
		return 1; /* cannot tell: let the server say */
	/* like the servers: a connection in TIME_WAIT does not count */
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ok = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

/* Start the daemons of @d in order, waiting for each step; on a failure,
 * stop what was started and return 1. */
static int
start_all(struct dev *d, char *errmsg)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	/* metadata servers */
	char spec[DEV_MAX_META * 48] = "";
	for (int i = 1; i <= d->metas; i++) {
		size_t l = strlen(spec), s = strlen(d->servers);
		snprintf(spec + l, sizeof(spec) - l,
			 "%s%d=127.0.0.1:%d/127.0.0.1:%d", i > 1 ? "," : "", i,
			 d->port + 100 + i, d->port + i);
		snprintf(d->servers + s, sizeof(d->servers) - s,
			 "%s127.0.0.1:%d", i > 1 ? "," : "", d->port + i);
	}
	step("starting %d metadata %s", d->metas,
	     plural(d->metas, "server", "servers"));
	for (int i = 1; i <= d->metas; i++) {
		char id[16], mdir[PATH_MAX], raft[32], listen[32], name[16];
		snprintf(id, sizeof(id), "%d", i);
		snprintf(name, sizeof(name), "meta%d", i);
		dpath(mdir, d->dir, "meta%d", i);
		snprintf(raft, sizeof(raft), "127.0.0.1:%d", d->port + 100 + i);
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", d->port + i);
		const char *av[] = {
		    d->bin_meta, "--id",	   id,	 "--dir",
		    mdir,	 "--raft",	   raft, "--listen",
		    listen,	 "--init-cluster", spec, NULL};
		if (spawn(d, name, av, errmsg) != 0)
			return fail_up(d, "starting the metadata servers",
				       errmsg, 0, d->nprocs);
	}
	uint64_t leader = 0;
	if (wait_leader(d, &leader, errmsg) != 0)
		return fail_up(d, "waiting for a metadata leader", errmsg, 0,
			       d->metas);
	printf("ok (leader: server %llu)\n", (unsigned long long)leader);

	/* the filesystem */
	int fresh = 0;
	step("formatting the filesystem");
	if (bootstrap_fs(d, &fresh, errmsg) != 0)
		return fail_up(d, "cluster bootstrap", errmsg, 0, d->metas);
	printf("%s\n", fresh ? "ok" : "ok (already formatted: data kept)");

	/* data nodes */
	step("starting %d data %s", d->datas,
	     plural(d->datas, "node", "nodes"));
	int first = d->nprocs;
	for (int i = 1; i <= d->datas; i++) {
		char ddir[PATH_MAX], listen[32], labels[32], name[16];
		snprintf(name, sizeof(name), "data%d", i);
		dpath(ddir, d->dir, "data%d", i);
		snprintf(listen, sizeof(listen), "127.0.0.1:%d",
			 d->port + 200 + i);
		snprintf(labels, sizeof(labels), "rack=r%d", i);
		const char *av[] = {
		    d->bin_data, "--dir",    ddir,	 "--listen", listen,
		    "--meta",	 d->servers, "--labels", labels,     NULL};
		if (spawn(d, name, av, errmsg) != 0)
			return fail_up(d, "starting the data nodes", errmsg,
				       first, d->nprocs - first);
	}
	if (wait_nodes(d, first, errmsg) != 0)
		return fail_up(d, "waiting for the data nodes to register",
			       errmsg, first, d->datas);
	printf("ok\n");

	/* the mount */
	if (d->mnt[0] != '\0') {
		char logp[PATH_MAX];
		step("mounting on %s", d->mnt);
		log_path(d, "fuse", logp);
		const char *av[] = {d->bin_fuse, "-f", "--meta", d->servers,
				    "--log",	 logp, d->mnt,	 NULL};
		int fuse = d->nprocs;
		if (spawn(d, "fuse", av, errmsg) != 0)
			return fail_up(d, "mounting", errmsg, fuse, 1);
		d->mounted = 1;
		for (long long deadline = now_ms() + DEV_WAIT_MS;
		     !is_mounted(d->mnt);) {
			if (!proc_alive(&d->procs[fuse], d->dir))
				return fail_up(d, "mounting", "cfs-fuse exited",
					       fuse, 1);
			if (interrupted)
				return fail_up(d, "mounting", "interrupted",
					       fuse, 1);
			if (now_ms() >= deadline) {
				cfs_errmsg_set(errmsg,
					       "%s is not mounted after %d s",
					       d->mnt, DEV_WAIT_MS / 1000);
				return fail_up(d, "mounting", errmsg, fuse, 1);
			}
			sleep_ms(100);
		}
		printf("ok\n");
	}
	return 0;
}

/* DIR/cluster.env and how to use the cluster. */
static void
print_up(const struct dev *d, char *errmsg)
{
	char env[2 * sizeof(d->servers) + 64];
	/* CFS_CLUSTER for cfsctl, CFS_META for cfs-fuse and older cfsctl */
	snprintf(env, sizeof(env), "export CFS_CLUSTER=%s\nexport CFS_META=%s\n",
		 d->servers, d->servers);
	if (write_file(d, "cluster.env", env, errmsg) != 0)
		fprintf(stderr, "cfsctl: dev up: %s\n", errmsg);

	printf("cluster up: %d metadata %s, %d data %s", d->metas,
	       plural(d->metas, "server", "servers"), d->datas,
	       plural(d->datas, "node", "nodes"));
	if (d->mnt[0] != '\0')
		printf(", mounted at %s", d->mnt);
	printf("\n%s", env);
	if (d->mnt[0] != '\0')
		printf("try:  cfsctl status; cp FILE %s/; cfsctl frags /FILE\n",
		       d->mnt);
	else
		printf("try:  cfsctl status; cfsctl put FILE /FILE; cfsctl "
		       "frags /FILE\n");
	printf("stop: cfsctl dev down --dir %s\n", d->dir);
}

/* The @i-th port of the cluster: metadata clients BASE+1.., Raft
 * BASE+101.., data nodes BASE+201.. */
static int
nth_port(const struct dev *d, int i)
{
	if (i < d->metas)
		return d->port + 1 + i;
	if (i < 2 * d->metas)
		return d->port + 101 + i - d->metas;
	return d->port + 201 + i - 2 * d->metas;
}

/* Refuse a DIR that runs, a port in use, a missing program, a mount
 * point in use; create DIR and the mount point; record dev.conf. */
static int
prepare(struct dev *d, const char *mnt, char *errmsg)
{
	char real[PATH_MAX];

	/* already running? */
	read_pidfiles(d);
	char running[256] = "";
	for (int i = 0; i < d->nprocs; i++) {
		if (!pid_is_ours(d->procs[i].pid, d->dir)) {
			char p[PATH_MAX];
			pidfile_path(d, &d->procs[i], p);
			unlink(p); /* stale */
			continue;
		}
		size_t l = strlen(running);
		snprintf(running + l, sizeof(running) - l, "%s%s pid %d",
			 l ? ", " : "", d->procs[i].name, (int)d->procs[i].pid);
	}
	d->nprocs = 0;
	if (running[0] != '\0') {
		fprintf(stderr,
			"cfsctl: dev up: %s already runs a dev cluster (%s)\n"
			"Stop it first: cfsctl dev down --dir %s\n",
			d->dir, running, d->dir);
		return 1;
	}
	/* the programs */
	if (find_bin("cfs-meta", d->bin_meta, errmsg) != 0 ||
	    find_bin("cfs-data", d->bin_data, errmsg) != 0 ||
	    (mnt != NULL && find_bin("cfs-fuse", d->bin_fuse, errmsg) != 0)) {
		fprintf(stderr, "cfsctl: dev up: %s\n", errmsg);
		return 1;
	}
	/* the ports */
	for (int i = 0; i < 2 * d->metas + d->datas; i++) {
		int p = nth_port(d, i);
		if (!port_free(p)) {
			fprintf(stderr,
				"cfsctl: dev up: port %d on 127.0.0.1 is in "
				"use\n(the cluster needs ports %d-%d, %d-%d "
				"and %d-%d: pick another --port BASE, or stop "
				"what uses it)\n",
				p, d->port + 1, d->port + d->metas,
				d->port + 101, d->port + 100 + d->metas,
				d->port + 201, d->port + 200 + d->datas);
			return 1;
		}
	}
	/* the directories */
	if (mkdir_p(d->dir, errmsg) != 0) {
		fprintf(stderr, "cfsctl: dev up: %s\n", errmsg);
		return 1;
	}
	if (realpath(d->dir, real) != NULL && strlen(real) <= DEV_DIR_MAX)
		memcpy(d->dir, real, strlen(real) + 1);
	if (mnt != NULL) {
		if (mkdir_p(mnt, errmsg) != 0 ||
		    realpath(mnt, d->mnt) == NULL) {
			if (errmsg[0] == '\0')
				snprintf(errmsg, CFS_ERRMSG_SIZE, "%s: %s", mnt,
					 strerror(errno));
			fprintf(stderr, "cfsctl: dev up: --mount %s\n", errmsg);
			return 1;
		}
		if (is_mounted(d->mnt)) {
			fprintf(stderr,
				"cfsctl: dev up: %s is already a mount point "
				"(unmount it first: fusermount3 -u %s)\n",
				d->mnt, d->mnt);
			return 1;
		}
	}
	if (conf_write(d, errmsg) != 0) {
		fprintf(stderr, "cfsctl: dev up: %s\n", errmsg);
		return 1;
	}
	return 0;
}

static int
dev_up(int argc, char **argv, char *errmsg)
{
	struct dev *d = calloc(1, sizeof(*d));
	const char *dir = NULL, *mnt = NULL;
	int metas = 0, datas = 4, port = 0, goal = 0;
	uint64_t fsize = 0;
	struct devconf c;

	if (d == NULL)
		return fprintf(stderr, "cfsctl: out of memory\n"), 1;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--dir")) != NULL)
			dir = v;
		else if ((v = opt_value(argc, argv, &i, "--mount")) != NULL)
			mnt = v;
		else if ((v = opt_value(argc, argv, &i, "--meta")) != NULL)
			metas = opt_int("--meta", v, 1, DEV_MAX_META);
		else if ((v = opt_value(argc, argv, &i, "--data")) != NULL)
			datas = opt_int("--data", v, 1, DEV_MAX_DATA);
		else if ((v = opt_value(argc, argv, &i, "--port")) != NULL)
			port = opt_int("--port", v, 1024,
				       65535 - 200 - DEV_MAX_DATA);
		else if ((v = opt_value(argc, argv, &i, "--goal")) != NULL)
			goal = opt_int("--goal", v, 1, CFS_GOAL_MAX);
		else if ((v = opt_value(argc, argv, &i, "--fragment-size")) !=
			 NULL) {
			if (parse_size(v, &fsize) != 0 || fsize == 0)
				usage_error("dev up: --fragment-size: bad size "
					    "'%s'",
					    v);
		} else
			usage_error("dev up: unknown argument '%s'", argv[i]);
	}
	if (metas != 0 && metas != 1 && metas != 3 && metas != 5)
		usage_error("dev up: --meta must be 1, 3 or 5 (a Raft "
			    "majority), not %d",
			    metas);
	if (goal > datas)
		usage_error("dev up: --goal %d needs at least %d data nodes "
			    "(--data)",
			    goal, goal);
	resolve_dir(dir, d->dir, "up");
	conf_read(d, &c);
	/* the metadata servers' state holds their addresses: a DIR made
	 * before keeps its --meta and --port */
	if (c.metas > 0 && metas != 0 && metas != c.metas)
		usage_error("dev up: %s holds a cluster of %d metadata "
			    "servers: drop --meta, or wipe it first (cfsctl "
			    "dev down --wipe --dir %s)",
			    d->dir, c.metas, d->dir);
	if (c.port > 0 && port != 0 && port != c.port)
		usage_error("dev up: %s holds a cluster on ports from %d: "
			    "drop --port, or wipe it first (cfsctl dev down "
			    "--wipe --dir %s)",
			    d->dir, c.port, d->dir);
	d->metas = metas ? metas : c.metas ? c.metas : 3;
	d->port = port ? port : c.port ? c.port : 7000;
	d->datas = datas;
	d->goal = goal ? goal : datas < 3 ? datas : 3;
	d->fragment_size = fsize;

	if (prepare(d, mnt, errmsg) != 0) {
		free(d);
		return 1;
	}
	int rv = start_all(d, errmsg);
	if (rv == 0)
		print_up(d, errmsg);
	free(d);
	return rv;
}

/* ---- dev down ------------------------------------------------------------ */

/* Remove one path under DIR, depth first, not following symlinks. */
static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	int rv = flag == FTW_DP ? rmdir(path) : unlink(path);

	if (rv != 0 && errno != ENOENT)
		fprintf(stderr, "cfsctl: dev down: removing %s: %s\n", path,
			strerror(errno));
	return 0;
}

/* What `dev up` made in DIR (and nothing else), then DIR if empty. */
static void
wipe(struct dev *d)
{
	DIR *dh = opendir(d->dir);
	struct dirent *e;
	char path[PATH_MAX];

	if (dh == NULL)
		return;
	while ((e = readdir(dh)) != NULL) {
		const char *n = e->d_name;
		size_t len = strlen(n);
		int num = 0;
		if (strncmp(n, "meta", 4) == 0 || strncmp(n, "data", 4) == 0)
			num = len > 4 && strspn(n + 4, "0123456789") > 0;
		int ours = num || strcmp(n, "fuse.log") == 0 ||
			   strcmp(n, "cluster.env") == 0 ||
			   strcmp(n, "dev.conf") == 0;
		if (!ours || dpath(path, d->dir, "%s", n) != 0)
			continue;
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	closedir(dh);
	if (rmdir(d->dir) == 0)
		printf("removed %s\n", d->dir);
	else
		printf("wiped the cluster's data in %s\n", d->dir);
}

static int
dev_down(int argc, char **argv)
{
	struct dev *d = calloc(1, sizeof(*d));
	const char *dir = NULL;
	int do_wipe = 0;
	struct devconf c;
	struct stat st;

	if (d == NULL)
		return fprintf(stderr, "cfsctl: out of memory\n"), 1;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--dir")) != NULL)
			dir = v;
		else if (strcmp(argv[i], "--wipe") == 0)
			do_wipe = 1;
		else
			usage_error("dev down: unknown argument '%s'", argv[i]);
	}
	resolve_dir(dir, d->dir, "down");
	if (stat(d->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		printf("nothing to stop: %s does not exist\n", d->dir);
		free(d);
		return 0;
	}
	conf_read(d, &c);
	memcpy(d->mnt, c.mnt, sizeof(d->mnt));
	char pidp[PATH_MAX];
	if (do_wipe &&
	    (dpath(pidp, d->dir, "dev.conf") != 0 || access(pidp, F_OK) != 0)) {
		fprintf(stderr,
			"cfsctl: dev down: %s has no dev.conf: it is not a "
			"directory of cfsctl dev up; not wiping it\n",
			d->dir);
		free(d);
		return 1;
	}

	int unmounted = 0, failed = 0;
	if (d->mnt[0] != '\0' && is_mounted(d->mnt)) {
		printf("unmounting %s... ", d->mnt);
		fflush(stdout);
		if (unmount(d->mnt) == 0) {
			printf("ok\n");
			unmounted = 1;
		} else {
			printf("FAILED\n");
			fprintf(stderr,
				"cfsctl: dev down: cannot unmount %s (try: "
				"fusermount3 -u %s)\n",
				d->mnt, d->mnt);
			failed = 1;
		}
	}

	read_pidfiles(d);
	struct devproc *first[DEV_MAX_PROCS], *last[DEV_MAX_PROCS];
	int nfirst = 0, nlast = 0, fuses = 0, datas = 0, metas = 0;
	for (int i = 0; i < d->nprocs; i++) {
		struct devproc *pr = &d->procs[i];
		if (!pid_is_ours(pr->pid, d->dir)) {
			pidfile_path(d, pr, pidp); /* stale: gone, or reused */
			unlink(pidp);
			continue;
		}
		if (strncmp(pr->name, "meta", 4) == 0) {
			last[nlast++] = pr;
			metas++;
		} else {
			first[nfirst++] = pr;
			if (strncmp(pr->name, "fuse", 4) == 0)
				fuses++;
			else
				datas++;
		}
	}
	if (nfirst + nlast > 0) {
		printf("stopping");
		if (fuses)
			printf(" the FUSE daemon%s", datas || metas ? "," : "");
		if (datas)
			printf(" %d data %s%s", datas,
			       plural(datas, "node", "nodes"),
			       metas ? "," : "");
		if (metas)
			printf(" %d metadata %s", metas,
			       plural(metas, "server", "servers"));
		printf("... ");
		fflush(stdout);
		/* data nodes and the mount first, while the metadata
		 * servers still answer them */
		stop_procs(d, first, nfirst, DEV_STOP_MS);
		stop_procs(d, last, nlast, DEV_STOP_MS);
		int left = 0;
		for (int i = 0; i < d->nprocs; i++)
			left += pid_is_ours(d->procs[i].pid, d->dir);
		if (left) {
			printf("FAILED\n");
			fprintf(stderr,
				"cfsctl: dev down: %d %s still running\n", left,
				plural(left, "process is",
				       "processes "
				       "are"));
			failed = 1;
		} else {
			printf("ok\n");
		}
	} else if (!unmounted) {
		printf("nothing was running in %s\n", d->dir);
	}
	if (do_wipe && !failed)
		wipe(d);
	else if (!failed && nfirst + nlast > 0)
		printf("data kept in %s (start again: cfsctl dev up --dir "
		       "%s; remove: cfsctl dev down --wipe --dir %s)\n",
		       d->dir, d->dir, d->dir);
	free(d);
	return failed;
}

/* ---- dev status ---------------------------------------------------------- */

static int
dev_status(int argc, char **argv)
{
	struct dev *d = calloc(1, sizeof(*d));
	const char *dir = NULL;
	struct devconf c;
	int running = 0;

	if (d == NULL)
		return fprintf(stderr, "cfsctl: out of memory\n"), 1;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--dir")) != NULL)
			dir = v;
		else
			usage_error("dev status: unknown argument '%s'",
				    argv[i]);
	}
	resolve_dir(dir, d->dir, "status");
	conf_read(d, &c);
	memcpy(d->mnt, c.mnt, sizeof(d->mnt));
	read_pidfiles(d);
	for (int i = 0; i < d->nprocs; i++) {
		int up = pid_is_ours(d->procs[i].pid, d->dir);
		printf("%-7s pid %-8d %s\n", d->procs[i].name,
		       (int)d->procs[i].pid, up ? "running" : "NOT RUNNING");
		running += up;
	}
	if (d->mnt[0] != '\0')
		printf("mount   %s %s\n", d->mnt,
		       is_mounted(d->mnt) ? "mounted" : "NOT MOUNTED");
	if (d->nprocs == 0)
		printf("nothing is running in %s\n", d->dir);
	else if (c.metas > 0 && c.port > 0) {
		for (int v = 0; v < 2; v++) {
			printf("export %s=", v ? "CFS_META" : "CFS_CLUSTER");
			for (int i = 1; i <= c.metas; i++)
				printf("%s127.0.0.1:%d", i > 1 ? "," : "",
				       c.port + i);
			printf("\n");
		}
	}
	int ok = d->nprocs > 0 && running == d->nprocs &&
		 (d->mnt[0] == '\0' || is_mounted(d->mnt));
	free(d);
	return ok ? 0 : 1;
}

int
cmd_dev(int argc, char **argv, char *errmsg)
{
	if (argc < 1)
		usage_error("%s", "usage: dev up|down|status --dir DIR ...");
	if (strcmp(argv[0], "up") == 0)
		return dev_up(argc, argv, errmsg);
	if (strcmp(argv[0], "down") == 0)
		return dev_down(argc, argv);
	if (strcmp(argv[0], "status") == 0)
		return dev_status(argc, argv);
	usage_error("dev: unknown subcommand '%s' (up, down or status)",
		    argv[0]);
}
